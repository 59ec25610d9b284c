//! `-d` output re-reads to an equal model.

use super::support::*;
use crate::config::{dump, same_config};

fn round_trip(text: &str) {
    let first = config(text);
    let dumped = dump(&first);
    let l = load(&dumped);
    let Some(second) = l.config.clone() else {
        panic!("dump does not load:\n{dumped}\n{:#?}", messages(&l));
    };
    if !same_config(&first, &second) {
        let a = serde_json::to_string_pretty(&first).unwrap();
        let b = serde_json::to_string_pretty(&second).unwrap();
        let diff: Vec<_> = a.lines().zip(b.lines()).filter(|(x, y)| x != y).take(10).collect();
        panic!("round trip differs:\n{dumped}\nfirst differences: {diff:#?}");
    }
    // The dump of the dump is the same text.
    assert_eq!(dump(&second), dumped);
}

pub const RICH_GLOBAL: &str = r#"
global_defs {
    router_id "fw 1"
    notification_email {
        ops@example.net
        "Ops Team <team@example.net>"
    }
    notification_email_from fw1@example.net
    smtp_server 192.0.2.25 2525
    smtp_helo_name fw1.example.net
    smtp_connect_timeout 60
    smtp_alert_vrrp true
    no_email_faults
    smtp_tls starttls
    smtp_auth_file /etc/kad/smtp-auth
    vrrp_version 3
    vrrp_mcast_group4 224.0.0.19
    vrrp_min_garp
    vrrp_garp_master_delay 2
    vrrp_garp_lower_prio_repeat 2
    vrrp_garp_interval 0.001
    vrrp_gna_interval 0.0005
    vrrp_garp_extra_if all 30
    vrrp_down_timer_adverts 4
    vrrp_higher_prio_send_advert
    vrrp_startup_delay 5.5
    log_unknown_vrids
    vmac_prefix kv
    vrrp_notify_fifo /run/kad.fifo
    vrrp_notify_fifo_script "/usr/bin/logger -t 'kad fifo'"
    vrrp_notify_priority_changes true
    umask 0077
    reload_check_config /tmp/check.log
    json_version 2
    vrrp_backup_on_owned_deletion
    status_socket /run/kad.sock
    prometheus_listen 127.0.0.1:9650
    random_seed 42
}
"#;

const RICH: &str = r#"
track_file tf1 {
    file "/var/run/tf1 state"
    weight -5 reverse
    init_file 3 overwrite
}
vrrp_script chk_up {
    script "/usr/bin/test -e '/run/a b' \x41"
    interval 2.5
    timeout 1
    weight -20
    rise 2
    fall 3
    init_fail
}
track_group TG {
    group {
        VI_6
    }
}
static_ipaddress {
    192.0.2.200/24 dev eth1 scope link label eth1:st
    2001:db8:5::1/64 dev eth2 track_group TG
}
static_routes {
    198.51.100.0/24 via 192.0.2.254 dev eth1 table 100 metric 5 no_track
    blackhole 203.0.113.128/25
}
static_rules {
    from 192.0.2.0/24 table 100 priority 1000
}
garp_group {
    garp_interval 0.01
    interfaces {
        eth1
        eth2
    }
}
interface_up_down_delays {
    eth1 1.5 0.25
}
vrrp_instance VI_INT {
    interface eth0
    state MASTER
    virtual_router_id 151
    priority 101
    advert_int 1
    version 2
    smtp_alert
    authentication {
        auth_type PASS
        auth_pass secret12
    }
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
        203.0.113.10/24 dev eth4 brd + label eth4:vip
        198.51.100.10/24 dev eth5 use_vmac
        198.51.100.11 dev eth5 peer 198.51.100.12 no_track
    }
    virtual_ipaddress_excluded {
        2001:db8::10/64 dev eth1 -nodad preferred_lft 100
        2001:db8::11 dev eth1
        2001:db8::12 dev eth1 preferred_lft forever
    }
    virtual_routes {
        0.0.0.0/0 via 203.0.113.254 dev eth4
        198.51.100.64/26 src 198.51.100.10 dev eth5 table 10 metric 7 scope link protocol static no_track mtu lock 1400 rtt 300ms rttvar 2s advmss 1360 window 64 cwnd lock 10 initcwnd 10 quickack 1 congctl lock cubic features ecn realms 1/2 append
        2001:db8:1::/48 dev eth1 pref high expires 60 from 2001:db8:2::/64
        192.0.2.128/25 nexthop via 192.0.2.2 dev eth0 weight 2 nexthop via 192.0.2.3 dev eth0 onlink
        unreachable 10.255.0.0/16
    }
    virtual_rules {
        from 192.0.2.0/24 to 198.51.100.0/24 table 10 priority 100 fwmark 0x10/0xff iif eth0
        not to 203.0.113.0/24 priority 200 sport 1000-2000 dport 80 ipproto 6 uidrange 100-200 goto 300
        priority 400 blackhole no_track protocol 4 inet6
        priority 500 suppress_prefixlength 0 table main
    }
    backup_routes {
        0.0.0.0/0 via 192.0.2.1 dev eth0
    }
    backup_rules {
        priority 600 table 20
    }
    track_interface {
        eth1 weight -10
        eth2 weight 20 reverse
    }
    track_script {
        chk_up weight -30 reverse
    }
    track_file {
        tf1 weight 7 noreverse
    }
    notify_master "/etc/keepalived/master active" root
    notify_backup /etc/keepalived/backup_active
    notify "/usr/local/bin/notify 'quoted word' \\$HOME"
    notify_deleted
    garp_master_refresh 60
    garp_master_refresh_repeat 2
    garp_lower_prio_delay 3
    lower_prio_no_advert true
    preempt_delay 0
}
vrrp_instance VI_6 {
    interface eth1
    virtual_router_id 6
    priority 120
    advert_int 0.05
    use_vmac
    vmac_xmit_base
    nopreempt
    preempt_delay 2.5
    mcast_src_ip fe80::1
    virtual_ipaddress {
        fe80::6/64
        2001:db8:6::1/64
    }
    garp_extra_if 10
    timer_expired_backup 200
    notify_priority_changes false
}
vrrp_instance VI_U {
    interface eth2
    virtual_router_id 77
    unicast_src_ip 192.0.2.70
    unicast_peer {
        192.0.2.71 min_ttl 250 max_ttl 255
        192.0.2.72
    }
    unicast_ttl 64
    track_src_ip
    check_unicast_src
    no_accept
    strict_mode off
    virtual_ipaddress {
        192.0.2.77
    }
}
vrrp_instance VI_S {
    interface eth2
    virtual_router_id 78
    strict_mode
    state MASTER
    version 3
    virtual_ipaddress {
        192.0.2.78
    }
}
vrrp_sync_group G1 {
    group {
        VI_INT
        VI_U
    }
    track_interface {
        eth5
    }
    notify "/usr/bin/logger group"
    smtp_alert false
    notify_priority_changes true
}
"#;

#[test]
fn rich_config_round_trips() {
    round_trip(&format!("{RICH_GLOBAL}{RICH}"));
}

#[test]
fn flagship_round_trips() {
    round_trip(super::smoke::FLAGSHIP);
}

#[test]
fn minimal_instance_round_trips() {
    round_trip(&instance(""));
}

#[test]
fn strict_global_round_trips() {
    round_trip(&format!("global_defs {{\n vrrp_strict\n vrrp_min_garp false\n}}\n{}", instance(" priority 255")));
}

mod generated {
    use super::*;
    use proptest::prelude::*;

    fn addr4() -> impl Strategy<Value = String> {
        (1u8..=254, 1u8..=254).prop_map(|(a, b)| format!("192.0.2.{a}/24 dev eth{}", b % 3))
    }

    fn instance_text() -> impl Strategy<Value = (String, bool)> {
        (
            1u8..=255,
            prop::option::of(1u8..=255),
            prop::option::of(prop::bool::ANY),
            prop::collection::vec(addr4(), 0..4),
            prop::bool::ANY,
            prop::option::of(1u32..=400),
            prop::bool::ANY,
            prop::bool::ANY,
            prop::option::of(0u32..=9),
        )
            .prop_map(|(vrid, prio, master, vips, v3, adv_cs, nopreempt, strict, dta)| {
                let mut s = format!(" interface eth0\n virtual_router_id {vrid}\n");
                if v3 {
                    s.push_str(" version 3\n");
                }
                if let Some(p) = prio {
                    s.push_str(&format!(" priority {p}\n"));
                }
                match master {
                    Some(true) => s.push_str(" state MASTER\n"),
                    Some(false) => s.push_str(" state BACKUP\n"),
                    None => {}
                }
                if let Some(cs) = adv_cs {
                    s.push_str(&format!(" advert_int {}.{:02}\n", cs / 100, cs % 100));
                }
                if nopreempt {
                    s.push_str(" nopreempt\n preempt_delay 3\n");
                }
                if strict {
                    s.push_str(" strict_mode\n");
                }
                if let Some(d) = dta {
                    s.push_str(&format!(" down_timer_adverts {}\n", d + 1));
                }
                s.push_str(" virtual_ipaddress {\n");
                for v in &vips {
                    s.push_str(&format!("  {v}\n"));
                }
                s.push_str(" }\n");
                (format!("vrrp_instance G {{\n{s}}}\n"), !vips.is_empty())
            })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        #[test]
        fn generated_instances_round_trip((text, _) in instance_text()) {
            let l = load(&text);
            if let Some(first) = l.config {
                let again = load(&dump(&first));
                let second = again.config.expect("dump loads");
                prop_assert!(same_config(&first, &second), "{}", dump(&first));
            }
        }
    }
}

#[test]
fn a_linkbeat_method_with_spaces_round_trips_quoted() {
    round_trip("linkbeat_interfaces {\n  eth0 \"/bin/echo 'a b'\"\n}\nvrrp_instance VI {\n interface eth0\n virtual_router_id 1\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n");
}

/// Found by the `config` fuzz target: a track group that validation removes (no usable
/// instance) was still named by the static entries, so the dump named a group it did not
/// write and read back without the reference.
#[test]
fn references_to_a_removed_track_group_are_dropped() {
    let usable = "  group {\n    VI\n  }\n";
    for group in ["", "  group {\n    VI_NONE\n  }\n", usable] {
        let text = format!(
            "track_group TG {{\n{group}}}\nstatic_ipaddress {{\n  192.0.2.210/24 dev eth1 track_group TG\n}}\n\
             static_routes {{\n  198.51.100.0/24 via 192.0.2.254 dev eth1 track_group TG\n}}\n\
             static_rules {{\n  from 192.0.2.0/24 iif eth1 table 100 track_group TG\n}}\n{}",
            instance("")
        );
        let c = config(&text);
        let expected = (group == usable).then(|| "TG".to_string());
        assert_eq!(c.track_groups.len(), usize::from(expected.is_some()));
        assert_eq!(c.static_addresses[0].track_group, expected);
        assert_eq!(c.static_routes[0].track_group, expected);
        assert_eq!(c.static_rules[0].track_group, expected);
        round_trip(&text);
    }
}
