//! Arbitrary input never panics the reader, and always finishes.

use super::support::*;
use crate::config::dump;
use proptest::prelude::*;

const WORDS: &[&str] = &[
    "{", "}", "vrrp_instance", "VI", "global_defs", "vrrp_sync_group", "group", "vrrp_script", "script", "track_file",
    "file", "static_ipaddress", "static_routes", "static_rules", "virtual_ipaddress", "virtual_ipaddress_excluded",
    "virtual_routes", "virtual_rules", "backup_routes", "unicast_peer", "track_interface", "track_script",
    "authentication", "auth_type", "auth_pass", "PASS", "AH", "interface", "eth0", "eth1", "nosuch", "state", "MASTER",
    "BACKUP", "priority", "virtual_router_id", "advert_int", "version", "use_vmac", "dev", "via", "nexthop", "weight",
    "reverse", "table", "from", "to", "inet6", "inet", "blackhole", "goto", "no_track", "track_group", "notify",
    "notify_master", "\"/bin/echo 'a b'\"", "'", "\\", "255", "0", "-1", "1.5", "300", "0x10", "192.0.2.1",
    "192.0.2.0/24", "2001:db8::1", "fe80::1/64", "default", "brd", "+", "peer", "label", "preferred_lft", "forever",
    "weight", "-254", "rise", "fall", "interval", "timeout", "garp_group", "interfaces", "linkbeat_interfaces",
    "interface_up_down_delays", "virtual_server", "strict_mode", "vrrp_strict", "nopreempt", "preempt_delay",
    "unicast_src_ip", "mcast_dst_ip", "224.0.0.18", "vrrp_garp_extra_if", "all", "umask", "IRUSR|IWUSR", "random",
];

fn soup() -> impl Strategy<Value = String> {
    let word = prop::sample::select(WORDS.to_vec()).prop_map(str::to_string);
    let line = prop::collection::vec(word, 1..6).prop_map(|w| w.join(" "));
    prop::collection::vec(line, 0..40).prop_map(|l| l.join("\n"))
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn token_soup_never_panics(text in soup()) {
        let l = load(&text);
        if let Some(c) = &l.config {
            // Whatever loads dumps to text that loads to the same model.
            let text = dump(c);
            let again = load(&text);
            prop_assert!(again.config.as_ref().is_some_and(|c2| crate::config::same_config(c, c2)), "{}", text);
        }
    }

    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,400}") {
        let _ = load(&text);
    }
}

const VALUE_KEYWORDS: &[&str] = &[
    "priority", "advert_int", "preempt_delay", "virtual_router_id", "unicast_ttl", "version", "down_timer_adverts",
    "garp_master_delay", "garp_master_repeat", "garp_lower_prio_delay", "garp_extra_if", "timer_expired_backup",
    "use_vmac", "mcast_src_ip", "mcast_dst_ip", "state", "interface", "notify", "kernel_rx_buf_size", "debug",
];

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]
    #[test]
    fn any_value_for_an_instance_keyword_never_panics(
        kw in prop::sample::select(VALUE_KEYWORDS.to_vec()),
        value in "[^\\s{}\"#!]{1,12}",
    ) {
        let _ = load(&instance(&format!(" {kw} {value}")));
        let _ = load(&instance(&format!(" virtual_routes {{\n  192.0.2.0/24 {kw} {value} dev eth0\n }}")));
        let _ = load(&instance(&format!(" virtual_ipaddress_excluded {{\n  {value}/{value} brd {value}\n }}")));
    }
}

/// Found by token_soup_never_panics: an unknown linkbeat method was kept and dumped as a
/// trailing `\`, which reads back as a line continuation.
#[test]
fn an_unknown_linkbeat_method_is_not_kept() {
    let l = load("linkbeat_interfaces\neth0 \\ {");
    let c = l.config.expect("loads with an error reported");
    assert_eq!(c.linkbeat_interfaces.len(), 1);
    assert_eq!(c.linkbeat_interfaces[0].method, None);
    let again = load(&dump(&c));
    assert!(again.config.as_ref().is_some_and(|c2| crate::config::same_config(&c, c2)), "{}", dump(&c));
}
