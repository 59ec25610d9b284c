//! Address, route and rule entry grammars (keepalived-reference §2.5–§2.7).

use super::support::*;
use crate::config::diag::ErrClass;
use crate::config::model::*;
use std::net::{IpAddr, Ipv4Addr};

fn vips(lines: &str) -> crate::config::Loaded {
    load(&instance(&format!(" virtual_ipaddress_excluded {{\n{lines}\n }}")))
}

fn evip(l: &crate::config::Loaded) -> Vec<AddressEntry> {
    l.config.as_ref().map(|c| c.instances[0].excluded_vips.clone()).unwrap_or_default()
}

fn routes(lines: &str) -> crate::config::Loaded {
    load(&instance(&format!(" virtual_routes {{\n{lines}\n }}")))
}

fn route_list(l: &crate::config::Loaded) -> Vec<RouteEntry> {
    l.config.as_ref().map(|c| c.instances[0].virtual_routes.clone()).unwrap_or_default()
}

fn rules(lines: &str) -> crate::config::Loaded {
    load(&instance(&format!(" virtual_rules {{\n{lines}\n }}")))
}

fn rule_list(l: &crate::config::Loaded) -> Vec<RuleEntry> {
    l.config.as_ref().map(|c| c.instances[0].virtual_rules.clone()).unwrap_or_default()
}

#[test]
fn address_defaults_to_host_prefix() {
    let a = &evip(&vips("  192.0.2.9"))[0];
    assert_eq!(a.prefix, Prefix { addr: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 9)), len: 32 });
    assert_eq!(a.dev, None);
}

#[test]
fn address_options_are_read() {
    let l = vips("  192.0.2.9/24 dev eth1 scope link brd + label eth1:vip home no_track noprefixroute autojoin mngtmpaddr use_vmac");
    let a = &evip(&l)[0];
    assert_eq!(a.dev.as_deref(), Some("eth1"));
    assert_eq!(a.scope, 253);
    assert_eq!(a.broadcast, Some(Broadcast::Plus));
    assert_eq!(a.label.as_deref(), Some("eth1:vip"));
    assert!(a.home && a.no_track && a.noprefixroute && a.autojoin && a.mngtmpaddr && a.use_vmac);
}

#[test]
fn broadcast_plus_needs_a_short_prefix() {
    let l = vips("  192.0.2.9 brd +");
    assert!(has(&l, "Address prefix length 32 too long for broadcast"));
    assert_eq!(evip(&l)[0].broadcast, None);
}

#[test]
fn unknown_address_word_is_ignored_with_an_error() {
    let l = vips("  192.0.2.9 frob");
    assert!(has(&l, "Unknown configuration entry 'frob' for ip address - ignoring"));
    assert_eq!(evip(&l).len(), 1);
}

#[test]
fn address_keyword_without_value_drops_the_entry() {
    let l = vips("  192.0.2.9 label");
    assert!(has(&l, "No label parameter specified for 192.0.2.9"));
    assert!(evip(&l).is_empty());
}

#[test]
fn ipv6_address_defaults_nodad_and_deprecates_host_routes() {
    let l = vips("  2001:db8::1\n  2001:db8::2/64\n  2001:db8::3 -nodad preferred_lft forever\n  2001:db8::4 scope link label x");
    let a = evip(&l);
    assert!(a[0].nodad);
    assert_eq!(a[0].preferred_lft, Some(0));
    assert_eq!(a[1].preferred_lft, None);
    assert!(!a[2].nodad);
    assert_eq!(a[2].preferred_lft, None);
    assert!(has(&l, "Cannot specify scope for IPv6 addresses (2001:db8::4) - ignoring scope"));
    assert!(has(&l, "Cannot specify label for IPv6 addresses (2001:db8::4) - ignoring label"));
}

#[test]
fn ipv6_broadcast_drops_the_address() {
    let l = vips("  2001:db8::1 brd +");
    assert!(has(&l, "!!?? WTF... skipping VIP..."));
    assert!(evip(&l).is_empty());
}

#[test]
fn peer_address_sets_the_prefix() {
    let a = &evip(&vips("  192.0.2.9 peer 192.0.2.10"))[0];
    assert_eq!(a.peer.map(|p| p.addr), Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 10))));
}

#[test]
fn static_address_without_dev_uses_default_interface() {
    let c = config("global_defs {\n default_interface eth2\n}\nstatic_ipaddress {\n 192.0.2.9/24\n}\n");
    assert_eq!(c.static_addresses[0].dev.as_deref(), Some("eth2"));
    let l = load("global_defs {\n default_interface nosuch\n}\nstatic_ipaddress {\n 192.0.2.9/24\n}\n");
    assert_eq!(class_of(&l, "requires either an interface or default interface must exist"), Some(ErrClass::Fatal));
}

#[test]
fn tracked_route_gets_protocol_18_and_needs_an_interface() {
    let l = routes("  198.51.100.0/24 via 192.0.2.254 dev eth0\n  203.0.113.0/24 via 192.0.2.254");
    let r = route_list(&l);
    assert_eq!(r[0].protocol, 18);
    assert!(!r[0].no_track);
    assert!(has(&l, "Warning - cannot track route 203.0.113.0/24 with no interface specified, not tracking"));
    assert!(r[1].no_track);
}

#[test]
fn route_protocol_is_forced_unless_untracked() {
    let l = routes("  198.51.100.0/24 dev eth0 protocol static\n  198.51.100.0/25 dev eth0 protocol static no_track");
    assert!(has(&l, "Route cannot be tracked if protocol is not RTPROT_KEEPALIVED(18), resetting protocol"));
    let r = route_list(&l);
    assert_eq!((r[0].protocol, r[1].protocol), (18, 4));
}

#[test]
fn route_types_and_default_destinations() {
    let l = routes("  blackhole 198.51.100.0/24 no_track\n  default via 192.0.2.1 dev eth0\n  to unreachable 10.0.0.0/8 no_track");
    let r = route_list(&l);
    assert_eq!(r[0].rtype, RouteType::Blackhole);
    assert_eq!(r[1].dest, Prefix { addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED), len: 0 });
    assert_eq!(r[2].rtype, RouteType::Unreachable);
}

#[test]
fn route_or_becomes_two_nexthops_with_a_deprecation_error() {
    let l = routes("  198.51.100.0/24 via 192.0.2.1 or 192.0.2.2 dev eth0");
    assert!(has(&l, "\"or\" for routes is deprecated. Please use \"nexthop\""));
    let r = &route_list(&l)[0];
    assert_eq!(r.via, None);
    assert_eq!(r.nexthops.len(), 2);
}

#[test]
fn route_nexthops_with_weights() {
    let r = &route_list(&routes("  198.51.100.0/24 dev eth0 nexthop via 192.0.2.1 weight 3 nexthop via 192.0.2.2 dev eth1 onlink"))[0];
    assert_eq!(r.nexthops[0].weight, Some(3));
    assert_eq!(r.nexthops[1].dev.as_deref(), Some("eth1"));
    assert!(r.nexthops[1].onlink);
}

#[test]
fn route_metrics_and_timers() {
    let r = &route_list(&routes("  198.51.100.0/24 dev eth0 mtu lock 1400 rtt 2s rttvar 300ms rto_min lock 1s hoplimit 9 quickack 1"))[0];
    assert_eq!(r.metrics.mtu, Some((1400, true)));
    assert_eq!(r.metrics.rtt, Some(16000));
    assert_eq!(r.metrics.rttvar, Some(1200));
    assert_eq!(r.metrics.rto_min, Some(1000));
    assert_eq!(r.metrics.locks, 1 << 13);
    assert_eq!(r.metrics.hoplimit, Some(9));
}

#[test]
fn route_trailing_nonsense_drops_the_route() {
    let l = routes("  198.51.100.0/24 dev eth0 zzz");
    assert!(has(&l, "unknown route keyword zzz"));
    assert!(route_list(&l).is_empty());
    let l = routes("  dev eth0");
    assert!(has(&l, "Route must have a destination"));
}

#[test]
fn route_mixing_families_is_refused() {
    let l = routes("  198.51.100.0/24 via 2001:db8::1 dev eth0");
    assert!(has(&l, "Cannot mix IPv4 and IPv6 addresses for route"));
    assert!(route_list(&l).is_empty());
}

#[test]
fn a_leading_inet6_does_not_swallow_the_destination() {
    let r = route_list(&routes("  inet6 default dev eth0"));
    assert_eq!(r[0].family, Family::Inet6);
    assert_eq!(r[0].dest.len, 0);
    let r = route_list(&routes("  default dev eth0 inet6"));
    assert_eq!(r[0].family, Family::Inet6);
    assert!(r[0].dest.addr.is_ipv6());
}

#[test]
fn rule_actions() {
    let l = rules("  from 192.0.2.0/24 table 100 priority 10\n  priority 20 goto 30\n  priority 40 nop\n  priority 50 blackhole\n  priority 60 type unreachable\n  priority 70 prohibit\n  priority 80 l3mdev");
    let r = rule_list(&l);
    let actions: Vec<RuleAction> = r.iter().map(|r| r.action).collect();
    assert_eq!(
        actions,
        vec![
            RuleAction::Table(100),
            RuleAction::Goto(30),
            RuleAction::Nop,
            RuleAction::Blackhole,
            RuleAction::Unreachable,
            RuleAction::Prohibit,
            RuleAction::L3mdev
        ]
    );
    assert!(r.iter().all(|r| r.protocol == 18));
}

#[test]
fn rule_without_action_is_dropped() {
    let l = rules("  from 192.0.2.0/24 priority 10");
    assert!(has(&l, "No action specified for rule - ignoring"));
    assert!(rule_list(&l).is_empty());
}

#[test]
fn rule_without_priority_gets_a_decreasing_one() {
    let l = rules("  from 192.0.2.0/24 table 100\n  from 192.0.2.0/25 table 100");
    assert!(has(&l, "Rule has no preference specified - setting to 16384. This is probably not what you want."));
    let r = rule_list(&l);
    assert_eq!((r[0].priority, r[1].priority), (Some(16384), Some(16383)));
}

#[test]
fn rule_goto_needs_a_lower_preference() {
    let l = rules("  priority 50 goto 40");
    assert!(has(&l, "Invalid rule - preference 50 >= goto target 40"));
}

#[test]
fn rule_selectors() {
    let r = &rule_list(&rules("  not from 192.0.2.0/24 to all fwmark 0x10/0xff iif eth0 oif eth1 uidrange 10-20 sport 80 dport 1000-2000 ipproto tcp tos 0x10 tunnel-id 7 priority 5 table main"))[0];
    assert!(r.invert);
    assert_eq!(r.to, Some(Prefix { addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED), len: 0 }));
    assert_eq!(r.fwmark, Some((16, Some(255))));
    assert_eq!((r.iif.as_deref(), r.oif.as_deref()), (Some("eth0"), Some("eth1")));
    assert_eq!(r.uidrange, Some((10, 20)));
    assert_eq!((r.sport, r.dport), (Some((80, 80)), Some((1000, 2000))));
    assert_eq!(r.ipproto, Some(6));
    assert_eq!(r.tos, Some(16));
    assert_eq!(r.tunnel_id, Some(7));
    assert_eq!(r.action, RuleAction::Table(254));
}

#[test]
fn unknown_rule_option_suggests_a_keyword() {
    let l = rules("  prioity 5 table 100");
    let d = l.diags.list.iter().find(|d| d.message.contains("Unknown rule option prioity")).unwrap();
    assert_eq!(d.did_you_mean.as_deref(), Some("priority"));
}

#[test]
fn misspelt_entry_words_get_a_suggestion() {
    let l = vips("  192.0.2.9 lable x");
    let d = l.diags.list.iter().find(|d| d.message.contains("'lable'")).unwrap();
    assert_eq!(d.did_you_mean.as_deref(), Some("label"));
    let l = routes("  198.51.100.0/24 dev eth0 metirc 5");
    let d = l.diags.list.iter().find(|d| d.message.contains("unknown route keyword metirc")).unwrap();
    assert_eq!(d.did_you_mean.as_deref(), Some("metric"));
}
