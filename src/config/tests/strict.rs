//! Strict mode (keepalived-reference §2.10).

use super::support::*;
use crate::config::model::*;
use std::time::Duration;

fn strict(body: &str) -> crate::config::Loaded {
    load(&format!("global_defs {{\n vrrp_strict\n}}\n{}", instance(body)))
}

#[test]
fn strict_mode_keyword_and_global_agree() {
    let c = strict("").config.unwrap();
    assert!(c.instances[0].strict);
    let c = config(&instance(" strict_mode"));
    assert!(c.instances[0].strict);
    let c = strict(" strict_mode false").config.unwrap();
    assert!(!c.instances[0].strict);
}

#[test]
fn state_master_must_match_address_owner() {
    let l = strict(" state MASTER\n priority 100");
    assert!(has(&l, "(VI) State MASTER must match being address owner"));
    assert_eq!(l.config.unwrap().instances[0].initial_state, InitialState::Backup);
}

#[test]
fn authentication_is_removed() {
    let l = strict(" authentication {\n  auth_type PASS\n  auth_pass x\n }");
    assert!(has(&l, "(VI) Strict mode does not support authentication. Ignoring."));
    assert!(l.config.unwrap().instances[0].auth.is_none());
}

#[test]
fn preempt_delay_and_down_timer_adverts_are_reset() {
    let l = strict(" preempt_delay 3\n down_timer_adverts 5");
    assert!(has(&l, "(VI) preempt_delay is incompatible with strict mode - resetting"));
    assert!(has(&l, "(VI) down_timer_adverts is incompatible with strict mode - resetting"));
    let i = &l.config.unwrap().instances[0];
    assert_eq!(i.preempt_delay, Duration::ZERO);
    assert_eq!(i.down_timer_adverts, 3);
}

#[test]
fn v2_accept_is_cleared_for_non_owners() {
    let l = strict(" accept");
    assert!(has(&l, "(VI) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"));
    assert!(!l.config.unwrap().instances[0].accept);
}

#[test]
fn garp_lower_prio_and_advert_behaviour_are_forced() {
    let l = strict(" garp_lower_prio_repeat 2\n garp_lower_prio_delay 1\n lower_prio_no_advert false\n higher_prio_send_advert true");
    for m in [
        "(VI) Strict mode requires no repeat garps. resetting",
        "(VI) Strict mode requires no repeat garp delay. resetting",
        "(VI) Strict mode requires no lower priority advert. resetting",
        "(VI) strict mode requires higher_prio_send_advert to be clear. resetting",
    ] {
        assert!(has(&l, m), "{m}");
    }
    let i = &l.config.unwrap().instances[0];
    assert_eq!((i.garp.lower_prio_repeat, i.garp.lower_prio_delay), (0, Duration::ZERO));
    assert!(i.lower_prio_no_advert);
    assert!(!i.higher_prio_send_advert);
    let i = &strict("").config.unwrap().instances[0];
    assert!(i.lower_prio_no_advert);
    assert_eq!(i.garp.lower_prio_repeat, 0);
}

#[test]
fn no_vip_is_an_error_and_no_virtual_ipaddress_is_refused() {
    let l = load("global_defs {\n vrrp_strict\n}\nvrrp_instance VI {\n interface eth0\n virtual_router_id 5\n no_virtual_ipaddress\n}\n");
    assert!(has(&l, "(VI) no_virtual_ipaddress and strict mode incompatible, clearing no_virtual_ipaddress"));
    assert!(has(&l, "(VI) No VIP specified; at least one is required"));
    assert!(l.config.is_none());
}

#[test]
fn unicast_is_refused_on_a_multicast_interface() {
    let l = strict(" unicast_peer {\n  192.0.2.9\n }");
    assert!(has(&l, "(VI) Unicast peers are not supported in strict mode"));
    assert!(l.config.is_none());
}

#[test]
fn vmac_mac_and_xmit_base_are_cleared() {
    let l = strict(" use_vmac 02:00:00:00:00:09\n vmac_xmit_base");
    assert!(has(&l, "(VI): cannot specify MAC address with strict mode - clearing"));
    assert!(has(&l, "(VI) xmit_base is incompatible with strict mode - resetting"));
    let v = l.config.unwrap().instances.remove(0).use_vmac.unwrap();
    assert_eq!(v.mac, None);
    assert!(!v.xmit_base);
}

#[test]
fn ipv6_with_version_2_is_switched_to_3() {
    let l = load("global_defs {\n vrrp_strict\n}\nvrrp_instance V6 {\n interface eth0\n virtual_router_id 9\n version 2\n virtual_ipaddress {\n  fe80::1\n }\n}\n");
    assert!(has(&l, "(V6) cannot use IPv6 with VRRP version 2; setting version 3"));
    assert_eq!(l.config.unwrap().instances[0].version, 3);
}

#[test]
fn owner_ignores_adverts_in_strict_mode() {
    assert!(strict(" priority 255").config.unwrap().instances[0].owner_ignore_adverts);
    assert!(!config(&instance(" priority 255")).instances[0].owner_ignore_adverts);
}
