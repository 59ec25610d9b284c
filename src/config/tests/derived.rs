//! Defaults keepalived derives after reading (vrrp.c vrrp_complete_instance).

use super::support::*;
use crate::config::model::*;
use std::net::IpAddr;
use std::time::Duration;

fn one(body: &str) -> VrrpInstance {
    config(&instance(body)).instances.remove(0)
}

#[test]
fn state_master_without_priority_gives_priority_255() {
    let i = one(" state MASTER");
    assert_eq!(i.priority, 255);
    assert_eq!(i.initial_state, InitialState::Master);
}

#[test]
fn default_priority_is_100_and_state_backup() {
    let i = one("");
    assert_eq!(i.priority, 100);
    assert_eq!(i.initial_state, InitialState::Backup);
}

#[test]
fn priority_255_without_state_starts_master() {
    assert_eq!(one(" priority 255").initial_state, InitialState::Master);
}

#[test]
fn family_comes_from_the_first_vip_and_ipv6_forces_version_3() {
    let c = config("vrrp_instance V6 {\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {\n  fe80::9/64\n }\n}\n");
    let i = &c.instances[0];
    assert_eq!(i.family, Family::Inet6);
    assert_eq!(i.version, 3);
    assert_eq!(i.mcast_dst_ip, Some("ff02::12".parse::<IpAddr>().unwrap()));
}

#[test]
fn a_vip_of_the_other_family_is_refused() {
    let l = load(&instance(" virtual_ipaddress {\n  2001:db8::1\n }"));
    assert!(has(&l, "(VI): address family must match VRRP instance [2001:db8::1] - ignoring"));
    assert_eq!(l.config.unwrap().instances[0].vips.len(), 1);
}

#[test]
fn version_comes_from_global_vrrp_version() {
    let c = config(&format!("global_defs {{\n vrrp_version 3\n}}\n{}", instance("")));
    assert_eq!(c.instances[0].version, 3);
}

#[test]
fn v2_advert_int_is_rounded_to_whole_seconds() {
    let l = load(&instance(" advert_int 1.5"));
    assert!(has(&l, "VRRPv2 advertisement interval 1.500000s must be an integer. rounding"));
    assert_eq!(l.config.unwrap().instances[0].advert_int, Duration::from_secs(2));
}

#[test]
fn v3_advert_int_is_rounded_to_centiseconds() {
    let l = load(&instance(" version 3\n advert_int 0.055"));
    assert!(has(&l, "must be in units of 10ms - rounding"));
    assert_eq!(l.config.unwrap().instances[0].advert_int, Duration::from_millis(60));
    assert_eq!(one(" version 3\n advert_int 0.05").advert_int, Duration::from_millis(50));
}

#[test]
fn advert_int_below_10ms_is_refused() {
    let l = load(&instance(" advert_int 0.001"));
    assert!(has(&l, "Advert interval (0.001) not valid! Must be > 0 - ignoring"));
    assert_eq!(l.config.unwrap().instances[0].advert_int, Duration::from_secs(1));
}

#[test]
fn too_many_vips_for_one_packet_move_to_excluded() {
    let vips: String = (1..=100).map(|i| format!("  2001:db8::{i:x}\n")).collect();
    let text = format!(
        "vrrp_instance V6 {{\n interface eth0\n virtual_router_id 9\n virtual_ipaddress {{\n  fe80::1\n{vips} }}\n}}\n"
    );
    let l = load(&text);
    assert!(has(&l, "(V6) Number of VIPs (101) exceeds maximum/space available in packet (max 89 addresses) - excess moved to eVIPs"));
    let i = &l.config.unwrap().instances[0];
    assert_eq!(i.vips.len(), 89);
    assert_eq!(i.excluded_vips.len(), 12);
}

#[test]
fn garp_settings_inherit_global_values_and_lower_prio_defaults_to_master_values() {
    let c = config(&format!(
        "global_defs {{\n vrrp_garp_master_delay 2\n vrrp_garp_master_repeat 3\n vrrp_garp_master_refresh 60\n}}\n{}",
        instance("")
    ));
    let g = &c.instances[0].garp;
    assert_eq!((g.master_delay, g.master_repeat, g.master_refresh), (Duration::from_secs(2), 3, Duration::from_secs(60)));
    assert_eq!((g.lower_prio_delay, g.lower_prio_repeat), (Duration::from_secs(2), 3));
}

#[test]
fn vrrp_min_garp_only_changes_values_left_at_default() {
    let c = config(&format!("global_defs {{\n vrrp_garp_master_repeat 4\n vrrp_min_garp\n}}\n{}", instance("")));
    let g = &c.instances[0].garp;
    assert_eq!(g.master_repeat, 4);
    assert_eq!(g.master_delay, Duration::ZERO);
    assert_eq!(g.master_refresh_repeat, 0);
}

#[test]
fn accept_defaults_on_unless_strict() {
    assert!(one("").accept);
    assert!(!one(" strict_mode\n version 3").accept);
    assert!(one(" strict_mode\n version 3\n priority 255").accept);
    assert!(!one(" no_accept").accept);
}

#[test]
fn nopreempt_is_cleared_for_the_address_owner() {
    let l = load(&instance(" priority 255\n nopreempt"));
    assert!(has(&l, "(VI) nopreempt is incompatible with priority 255. resetting nopreempt"));
    assert!(!l.config.unwrap().instances[0].nopreempt);
}

#[test]
fn nopreempt_and_preempt_delay_are_cleared_for_initial_master() {
    let l = load(&instance(" state MASTER\n priority 200\n nopreempt\n preempt_delay 4"));
    assert!(has(&l, "(VI) Warning - nopreempt will not work with initial state MASTER - clearing"));
    assert!(has(&l, "(VI) Warning - preempt delay will not work with initial state MASTER - clearing"));
    let i = &l.config.unwrap().instances[0];
    assert!(!i.nopreempt);
    assert_eq!(i.preempt_delay, Duration::ZERO);
}

#[test]
fn preempt_delay_is_cleared_by_nopreempt() {
    let l = load(&instance(" nopreempt\n preempt_delay 4"));
    assert!(has(&l, "(VI) preempt_delay is incompatible with nopreempt mode - resetting"));
}

#[test]
fn timer_expired_backup_needs_nopreempt() {
    let l = load(&instance(" timer_expired_backup 200"));
    assert!(has(&l, "(VI) expired_timer_backup requires nopreempt - resetting"));
    assert_eq!(l.config.unwrap().instances[0].timer_expired_backup, None);
    let l = load(&instance(" nopreempt\n timer_expired_backup"));
    assert!(!has(&l, "requires nopreempt"));
    assert_eq!(l.config.unwrap().instances[0].timer_expired_backup, Some(254));
}

#[test]
fn weighted_trackers_are_dropped_for_the_address_owner() {
    let text = format!(
        "vrrp_script chk {{\n script /bin/true\n weight 10\n}}\ntrack_file tf {{\n file /tmp/x\n}}\n{}",
        instance(" priority 255\n track_interface {\n  eth1 weight 5\n  eth2\n }\n track_script {\n  chk\n }\n track_file {\n  tf\n }")
    );
    let l = load(&text);
    assert!(has(&l, "(VI) ignoring eth1 tracked interface due to address owner"));
    assert!(has(&l, "(VI) ignoring tracked script chk with weights due to address_owner"));
    assert!(has(&l, "(VI) ignoring weight from tracked file tf due to address_owner. specify weight 0"));
    let i = &l.config.unwrap().instances[0];
    assert_eq!(i.track_interfaces.iter().map(|t| t.name.as_str()).collect::<Vec<_>>(), vec!["eth2"]);
    assert!(i.track_scripts.is_empty());
    assert_eq!(i.track_files[0].weight, Some(0));
}

#[test]
fn sync_group_members_know_their_group_and_weights_are_zeroed() {
    let text = format!(
        "{}vrrp_instance VJ {{\n interface eth1\n virtual_router_id 52\n track_interface {{\n  eth2 weight 10\n }}\n virtual_ipaddress {{\n  192.0.2.2\n }}\n}}\nvrrp_sync_group G {{\n group {{\n  VI\n  VJ\n }}\n}}\n",
        instance("")
    );
    let l = load(&text);
    assert!(has(&l, "(VJ) ignoring eth2 tracked interface weight due to SYNC group"));
    let c = l.config.unwrap();
    assert!(c.instances.iter().all(|i| i.sync_group.as_deref() == Some("G")));
    assert_eq!(c.instances[1].track_interfaces[0].weight, 0);
    assert_eq!(c.sync_groups[0].members, vec!["VI", "VJ"]);
}

#[test]
fn sync_group_with_an_owner_and_a_backup_starts_all_backup() {
    let text = format!(
        "{}vrrp_instance VJ {{\n interface eth1\n state MASTER\n virtual_router_id 52\n virtual_ipaddress {{\n  192.0.2.2\n }}\n}}\nvrrp_sync_group G {{\n group {{\n  VI\n  VJ\n }}\n}}\n",
        instance(" state BACKUP")
    );
    let c = config(&text);
    assert!(c.instances.iter().all(|i| i.initial_state == InitialState::Backup));
}

#[test]
fn vmac_name_is_derived_from_vrid() {
    let i = one(" use_vmac");
    let v = i.use_vmac.unwrap();
    assert_eq!(v.ifname, "vrrp.51");
    assert!(!v.name_given);
    let c = config(&format!("global_defs {{\n vmac_prefix kv\n}}\n{}", instance(" use_vmac")));
    assert_eq!(c.instances[0].use_vmac.as_ref().unwrap().ifname, "kv.51");
}

#[test]
fn a_derived_vmac_name_avoids_the_names_of_earlier_instances() {
    let text = ["eth0", "eth1", "eth2"]
        .iter()
        .enumerate()
        .map(|(n, ifname)| instance(" use_vmac").replace("VI", &format!("V{n}")).replace("eth0", ifname))
        .collect::<String>();
    let names: Vec<String> = config(&text).instances.iter().map(|i| i.use_vmac.as_ref().unwrap().ifname.clone()).collect();
    assert_eq!(names, ["vrrp.51", "vrrp1.51", "vrrp2.51"]);
}

#[test]
fn vmac_with_five_octets_appends_the_vrid() {
    let v = one(" use_vmac 02:00:00:00:07").use_vmac.unwrap();
    assert_eq!(v.mac, Some([2, 0, 0, 0, 7, 51]));
}

#[test]
fn vmac_rejects_rfc_and_multicast_addresses() {
    let l = load(&instance(" use_vmac 00:00:5e:00:01:33"));
    assert!(has(&l, "VMAC MAC address not allowed to be RFC5798 address (00:00:5e:00:01:33) - ignoring"));
    let l = load(&instance(" use_vmac 01:00:5e:00:01:33"));
    assert!(has(&l, "VMAC MAC address is multicast 01:00:5e:00:01:33 - ignoring"));
}

#[test]
fn smtp_alert_resolves_through_the_globals() {
    assert_eq!(one("").smtp_alert, Some(false));
    let c = config(&format!("global_defs {{\n smtp_alert\n}}\n{}", instance("")));
    assert_eq!(c.instances[0].smtp_alert, Some(true));
    let c = config(&format!("global_defs {{\n smtp_alert\n smtp_alert_vrrp false\n}}\n{}", instance("")));
    assert_eq!(c.instances[0].smtp_alert, Some(false));
    let c = config(&format!("global_defs {{\n smtp_alert_vrrp false\n}}\n{}", instance(" smtp_alert")));
    assert_eq!(c.instances[0].smtp_alert, Some(true));
}

#[test]
fn missing_virtual_router_id_stops_the_vrrp_side() {
    let l = load("vrrp_instance VI {\n interface eth0\n virtual_ipaddress {\n 192.0.2.1\n }\n}\n");
    assert!(has(&l, "(VI) the virtual router id must be set"));
    assert!(l.config.is_none());
    assert_eq!(exit(&l), 5);
}

#[test]
fn no_vip_is_sensible_for_v2_and_required_for_v3() {
    let l = load("vrrp_instance VI {\n interface eth0\n virtual_router_id 5\n}\n");
    assert!(has(&l, "(VI) No VIP specified; at least one is sensible"));
    assert!(l.config.is_some());
    let l = load("vrrp_instance VI {\n interface eth0\n virtual_router_id 5\n version 3\n}\n");
    assert!(has(&l, "(VI) No VIP specified; at least one is required"));
    assert!(l.config.is_none());
    let l = load("vrrp_instance VI {\n interface eth0\n virtual_router_id 5\n version 3\n no_virtual_ipaddress\n}\n");
    assert_eq!(exit(&l), 0);
}

#[test]
fn unicast_keyword_without_peers_is_deprecated_and_falls_back_to_multicast() {
    let l = load(&instance(" unicast_src_ip 192.0.2.10"));
    assert_eq!(
        class_of(&l, "A unicast keyword has been specified without any unicast peers"),
        Some(crate::config::diag::ErrClass::Deprecated)
    );
    assert!(l.config.unwrap().instances[0].mcast_dst_ip.is_some());
}

#[test]
fn unicast_fault_no_peer_puts_the_instance_in_fault() {
    let i = one(" unicast_fault_no_peer");
    assert_eq!(i.config_faults.len(), 1);
}

#[test]
fn unicast_without_interface_needs_a_source_address() {
    let l = load("vrrp_instance U {\n virtual_router_id 5\n unicast_peer {\n  192.0.2.6\n }\n virtual_ipaddress {\n  192.0.2.1\n }\n}\n");
    assert!(has(&l, "(U): Unicast instances must have unicast_src_ip or interface"));
    assert!(l.config.is_none());
    let c = config("vrrp_instance U {\n virtual_router_id 5\n unicast_src_ip 192.0.2.5\n unicast_peer {\n  192.0.2.6\n }\n virtual_ipaddress {\n  192.0.2.1 dev eth0\n }\n}\n");
    assert_eq!(c.instances[0].mcast_dst_ip, None);
}

#[test]
fn duplicate_vrid_on_one_interface_stops_the_vrrp_side() {
    let text = format!("{}{}", instance(""), instance("").replace("VI", "VJ"));
    let l = load(&text);
    assert!(has(&l, "VI and VJ both use VRID 51 with IPv4 on interface eth0"));
    assert!(l.config.is_none());
}

#[test]
fn every_conflicting_vrid_pair_is_reported_in_instance_order() {
    let text = [("A", "51"), ("B", "52"), ("C", "51"), ("D", "51"), ("E", "52")]
        .iter()
        .map(|(name, vrid)| instance("").replace("VI", name).replace("51", vrid))
        .collect::<String>();
    let l = load(&text);
    let conflicts: Vec<String> = messages(&l).into_iter().filter(|m| m.contains("both use VRID")).collect();
    assert_eq!(
        conflicts,
        [
            "A and C both use VRID 51 with IPv4 on interface eth0",
            "A and D both use VRID 51 with IPv4 on interface eth0",
            "B and E both use VRID 52 with IPv4 on interface eth0",
            "C and D both use VRID 51 with IPv4 on interface eth0",
        ]
    );
    assert!(l.config.is_none());
}

#[test]
fn security_violation_when_an_existing_script_runs_without_script_security() {
    let l = load(&instance(" notify_master /bin/true"));
    assert_eq!(class_of(&l, "SECURITY VIOLATION - scripts are being executed but script_security not enabled."), Some(crate::config::diag::ErrClass::SecurityError));
    assert_eq!(exit(&l), 6);
    let l = load(&instance(" notify_master /nonexistent/script"));
    assert_eq!(exit(&l), 0);
}

#[test]
fn script_security_hook_replaces_the_default_check() {
    fn hook(c: &mut Config) -> Vec<crate::config::diag::Diagnostic> {
        c.instances[0].notify.master = None;
        vec![crate::config::diag::Diagnostic::new(crate::config::diag::ErrClass::Warning, None, "hooked")]
    }
    let mut o = opts();
    o.script_security = Some(hook);
    let l = crate::config::load_str(&instance(" notify_master /bin/true"), "t.conf", &o);
    assert!(has(&l, "hooked"));
    assert!(!has(&l, "SECURITY VIOLATION"));
    assert!(l.config.unwrap().instances[0].notify.master.is_none());
}
