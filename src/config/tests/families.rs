//! Keyword families: global_defs, vrrp_script, track_file, sync groups, static blocks,
//! garp_group, linkbeat and up/down delays.

use super::support::*;
use crate::config::diag::ErrClass;
use crate::config::model::*;
use std::time::Duration;

fn global(body: &str) -> crate::config::Loaded {
    load(&format!("global_defs {{\n{body}\n}}\n{}", instance("")))
}

fn g(body: &str) -> GlobalDefs {
    global(body).config.expect("loads").global
}

#[test]
fn global_mail_settings() {
    let gd = g(" router_id fw1\n notification_email {\n  a@example.net b@example.net\n }\n notification_email_from fw@example.net\n smtp_server mail.example.net 587\n smtp_helo_name fw1.example.net\n smtp_connect_timeout 5\n smtp_alert\n no_email_faults");
    assert_eq!(gd.router_id.as_deref(), Some("fw1"));
    assert_eq!(gd.notification_email, vec!["a@example.net", "b@example.net"]);
    assert_eq!(gd.smtp_server, Some(SmtpServer { host: "mail.example.net".into(), port: 587 }));
    assert_eq!(gd.smtp_connect_timeout, Duration::from_secs(5));
    assert_eq!(gd.smtp_alert, Some(true));
    assert!(gd.no_email_faults);
}

#[test]
fn smtp_connect_timeout_zero_becomes_one() {
    let l = global(" smtp_connect_timeout 0");
    assert!(has(&l, "smtp_conect_timeout must be greater than 0, setting to 1"));
    assert_eq!(l.config.unwrap().global.smtp_connect_timeout, Duration::from_secs(1));
}

#[test]
fn empty_notification_email_block_is_reported() {
    assert!(has(&global(" notification_email {\n }"), "Warning - empty notification_email block"));
}

#[test]
fn kad_mail_extensions() {
    let gd = g(" smtp_tls implicit\n smtp_auth_file /etc/kad/auth");
    assert_eq!(gd.smtp_tls, SmtpTls::Implicit);
    assert_eq!(gd.smtp_auth_file.as_deref(), Some("/etc/kad/auth"));
    let l = global(" smtp_tls sometimes");
    assert!(has(&l, "Invalid smtp_tls mode 'sometimes'"));
}

#[test]
fn status_endpoints_are_kad_extensions() {
    let gd = g(" status_socket /run/kad.sock\n prometheus_listen [::1]:9650");
    assert_eq!(gd.status_socket.as_deref(), Some("/run/kad.sock"));
    assert_eq!(gd.prometheus_listen.as_deref(), Some("[::1]:9650"));
    assert!(has(&global(" prometheus_listen localhost"), "Invalid prometheus_listen address 'localhost'"));
}

#[test]
fn vrrp_version_must_be_2_or_3() {
    let l = global(" vrrp_version 4");
    assert!(has(&l, "VRRP Error: Version must be either 2 or 3"));
    assert_eq!(l.config.unwrap().global.vrrp_version, 2);
}

#[test]
fn multicast_groups_are_checked() {
    assert!(has(&global(" vrrp_mcast_group4 192.0.2.1"), "vrrp_mcast_group4 [192.0.2.1] is not multicast. Skipping"));
    assert!(has(&global(" vrrp_mcast_group4 ff02::1"), "vrrp_mcast_group4 [ff02::1] is not IPv4. Skipping"));
    let l = global(" vrrp_mcast_group6 ff05::12");
    assert_eq!(class_of(&l, "should be link-local multicast"), Some(ErrClass::Warning));
}

#[test]
fn global_garp_and_advert_settings() {
    let gd = g(" vrrp_garp_master_repeat 0\n vrrp_garp_interval 0.002\n vrrp_gna_interval 1.5\n vrrp_garp_extra_if all 20\n vrrp_lower_prio_no_advert\n vrrp_higher_prio_send_advert false\n vrrp_down_timer_adverts 5");
    assert_eq!(gd.vrrp_garp_master_repeat, 1);
    assert_eq!(gd.vrrp_garp_interval, Duration::from_millis(2));
    assert_eq!(gd.vrrp_gna_interval, Duration::from_millis(1500));
    assert_eq!(gd.vrrp_garp_extra_if, Some(GarpExtraIf { all: true, interval: Duration::from_secs(20) }));
    assert!(gd.vrrp_lower_prio_no_advert);
    assert!(!gd.vrrp_higher_prio_send_advert);
    assert_eq!(gd.vrrp_down_timer_adverts, 5);
}

#[test]
fn deprecated_vmac_garp_intvl_is_reported() {
    let l = global(" vrrp_vmac_garp_intvl 10");
    assert_eq!(class_of(&l, "Keyword \"vrrp_vmac_garp_intvl\" is deprecated"), Some(ErrClass::Deprecated));
}

#[test]
fn notify_fifos_and_their_scripts() {
    let gd = g(" notify_fifo /run/k.fifo\n vrrp_notify_fifo /run/v.fifo root\n vrrp_notify_fifo_script \"/usr/bin/logger -t 'a b'\"");
    assert_eq!(gd.notify_fifo.as_ref().unwrap().path, "/run/k.fifo");
    let v = gd.vrrp_notify_fifo.unwrap();
    assert_eq!(v.user.as_deref(), Some("root"));
    assert_eq!(v.script.unwrap().argv, vec!["/usr/bin/logger", "-t", "a b"]);
    assert!(has(&global(" notify_fifo"), "No notify_fifo name specified"));
}

#[test]
fn script_user_must_exist() {
    assert_eq!(g(" script_user root").script_user, Some(("root".into(), None)));
    assert!(has(&global(" script_user no-such-user-kad"), "Error setting global script uid/gid"));
}

#[test]
fn umask_numeric_and_symbolic() {
    assert_eq!(g(" umask 0027").umask, Some(0o027));
    assert_eq!(g(" umask IRUSR|IWUSR|IXGRP").umask, Some(0o610));
    assert!(has(&global(" umask IRUSR IWUSR"), "Invalid umask syntax IWUSR"));
    assert!(has(&global(" umask 0999"), "invalid umask value 0999"));
}

#[test]
fn ignored_global_keywords_do_not_raise_the_exit_code() {
    let l = global(" nftables\n enable_snmp_vrrp\n lvs_flush\n vrrp_priority -5\n process_names");
    assert_eq!(exit(&l), 0, "{:?}", messages(&l));
    assert!(has(&l, "has no effect in kad"));
}

#[test]
fn vrrp_iptables_is_an_error_in_an_nftables_build() {
    assert!(has(&global(" vrrp_iptables"), "iptables not supported, using nftables instead."));
}

#[test]
fn vrrp_script_settings() {
    let c = config(&format!(
        "vrrp_script chk {{\n script \"/usr/bin/test -f '/tmp/a b'\"\n interval 3\n timeout 2\n weight -10 reverse\n rise 2\n fall 4\n user root\n init_fail\n}}\n{}",
        instance(" track_script {\n  chk\n }")
    ));
    let s = &c.scripts[0];
    assert_eq!(s.script.argv, vec!["/usr/bin/test", "-f", "/tmp/a b"]);
    assert_eq!((s.interval, s.timeout), (Duration::from_secs(3), Some(Duration::from_secs(2))));
    assert_eq!((s.weight, s.weight_reverse, s.rise, s.fall, s.init_fail), (-10, true, 2, 4, true));
    assert_eq!(s.script.user.as_deref(), Some("root"));
    assert_eq!(c.instances[0].track_scripts[0], TrackRef { name: "chk".into(), weight: Some(-10), reverse: Some(true) });
}

#[test]
fn vrrp_script_without_script_is_removed() {
    let l = load(&format!("vrrp_script chk {{\n interval 3\n}}\n{}", instance("")));
    assert!(has(&l, "No script set for vrrp_script chk - removing"));
    assert!(l.config.unwrap().scripts.is_empty());
}

#[test]
fn vrrp_script_interval_zero_becomes_one() {
    let l = load(&format!("vrrp_script chk {{\n script /bin/true\n interval 0\n}}\n{}", instance("")));
    assert!(has(&l, "(chk): vrrp script interval must be greater than 0, setting to 1"));
}

#[test]
fn track_script_weight_overrides_the_script_weight() {
    let c = config(&format!(
        "vrrp_script chk {{\n script /bin/true\n weight 10\n}}\n{}",
        instance(" track_script {\n  chk weight -5 noreverse\n }")
    ));
    assert_eq!(c.instances[0].track_scripts[0].weight, Some(-5));
}

#[test]
fn track_file_definition_and_use() {
    let c = config(&format!(
        "track_file tf {{\n file /run/tf\n weight -3 reverse\n init_file 5 overwrite\n}}\n{}",
        instance(" track_file {\n  tf\n }")
    ));
    let t = &c.track_files[0];
    assert_eq!((t.file.as_str(), t.weight, t.weight_reverse, t.init_file), ("/run/tf", -3, true, Some((5, true))));
    assert_eq!(c.instances[0].track_files[0], TrackRef { name: "tf".into(), weight: Some(-3), reverse: Some(true) });
    let l = load(&format!("track_file tf {{\n weight 2\n}}\n{}", instance("")));
    assert!(has(&l, "No file set for track_file tf - ignoring"));
}

#[test]
fn track_interface_weight_254_is_clamped() {
    let l = load(&instance(" track_interface {\n  eth1 weight 254\n  eth1\n }"));
    assert!(has(&l, "(VI) weight for eth1 cannot be +/-254. Setting to +/-253"));
    assert!(has(&l, "(VI) duplicate track_interface eth1 - ignoring"));
    assert_eq!(l.config.unwrap().instances[0].track_interfaces[0].weight, 253);
}

#[test]
fn sync_group_checks() {
    let l = load(&format!("{}vrrp_sync_group G {{\n group {{\n  VI\n  NOPE\n }}\n}}\n", instance("")));
    assert!(has(&l, "Virtual router NOPE specified in sync group G doesn't exist - ignoring"));
    assert!(has(&l, "Sync group G has only 1 virtual router(s) - this probably isn't what you want"));
    let l = load(&format!("{}vrrp_sync_group G {{\n smtp_alert\n}}\n", instance("")));
    assert!(has(&l, "Sync group G has no virtual router(s). removing"));
    assert!(l.config.unwrap().sync_groups.is_empty());
}

#[test]
fn sync_group_notify_priority_changes_reaches_members() {
    let text = format!(
        "{}vrrp_instance VJ {{\n interface eth1\n virtual_router_id 52\n virtual_ipaddress {{\n  192.0.2.2\n }}\n}}\nvrrp_sync_group G {{\n group {{\n  VI\n  VJ\n }}\n notify_priority_changes\n}}\n",
        instance("")
    );
    assert!(config(&text).instances.iter().all(|i| i.notify_priority_changes == Some(true)));
}

#[test]
fn static_blocks_with_a_track_group() {
    let text = format!(
        "track_group TG {{\n group {{\n  VI\n }}\n}}\nstatic_ipaddress {{\n 192.0.2.100/24 dev eth1 track_group TG\n}}\nstatic_routes {{\n 198.51.100.0/24 via 192.0.2.1 dev eth1 track_group TG\n}}\nstatic_rules {{\n iif eth1 priority 100 table 100 track_group TG\n}}\n{}",
        instance("")
    );
    let c = config(&text);
    assert_eq!(c.static_addresses[0].track_group.as_deref(), Some("TG"));
    assert_eq!(c.static_routes[0].track_group.as_deref(), Some("TG"));
    assert_eq!(c.static_rules[0].track_group.as_deref(), Some("TG"));
    assert_eq!(c.track_groups[0].members, vec!["VI"]);
    let l = load(&format!("static_ipaddress {{\n 192.0.2.100/24 dev eth1 track_group NOPE\n}}\n{}", instance("")));
    assert!(has(&l, "track_group NOPE not found"));
}

#[test]
fn garp_group_needs_a_delay() {
    let c = config(&format!("garp_group {{\n gna_interval 0.5\n interfaces {{\n  eth1 eth2\n }}\n}}\n{}", instance("")));
    assert_eq!(c.garp_groups[0].interfaces, vec!["eth1", "eth2"]);
    assert_eq!(c.garp_groups[0].gna_interval, Some(Duration::from_millis(500)));
    let l = load(&format!("garp_group {{\n interface eth1\n}}\n{}", instance("")));
    assert!(has(&l, "garp group 1 does not have any delay set - removing"));
}

#[test]
fn linkbeat_and_up_down_delays() {
    let c = config(&format!(
        "linkbeat_interfaces {{\n eth1 ETHTOOL\n eth2\n}}\ninterface_up_down_delays {{\n eth1 2 0.5\n eth2 1\n}}\n{}",
        instance("")
    ));
    assert_eq!(c.linkbeat_interfaces[0].method.as_deref(), Some("ETHTOOL"));
    assert_eq!(c.interface_delays[0].down, Duration::from_secs(2));
    assert_eq!(c.interface_delays[0].up, Duration::from_millis(500));
    assert_eq!(c.interface_delays[1].up, Duration::ZERO);
    let l = load(&format!("interface_up_down_delays {{\n nosuch 1\n}}\n{}", instance("")));
    assert_eq!(class_of(&l, "unknown interface nosuch specified for up/down delay"), Some(ErrClass::Fatal));
    assert_eq!(exit(&l), 4);
}
