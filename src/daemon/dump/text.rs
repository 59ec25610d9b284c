//! keepalived's one-line renderings of addresses, routes and rules, shared by
//! the data file and the JSON dump (keepalived uses the same strings in both).
//!
//! Field order and spelling follow keepalived 2.2.7's `format_ipaddress`,
//! `format_iproute` and `format_iprule`, so scripts that grep those lines
//! keep working.

use std::fmt::Write as _;
use std::net::{IpAddr, Ipv4Addr};

use crate::config::model::{
    AddressEntry, Broadcast, Family, Prefix, RouteEntry, RouteMode, RouteType, RuleAction,
    RuleEntry,
};

/// An address as keepalived's `ipaddresstos` writes it: the prefix length only when it
/// is not a host prefix.
pub(crate) fn prefix_str(p: &Prefix) -> String {
    let host_len = if p.addr.is_ipv4() { 32 } else { 128 };
    if p.len == host_len {
        p.addr.to_string()
    } else {
        format!("{}/{}", p.addr, p.len)
    }
}

/// Names from iproute2's rt_scopes; other values print as numbers.
pub(crate) fn scope_name(scope: u8) -> String {
    match scope {
        0 => "global".into(),
        200 => "site".into(),
        253 => "link".into(),
        254 => "host".into(),
        255 => "nowhere".into(),
        n => n.to_string(),
    }
}

/// The broadcast address keepalived computes for `brd +` / `brd -` (only for prefixes
/// of 30 bits or fewer, from the peer address when there is one).
fn broadcast(entry: &AddressEntry) -> Option<Ipv4Addr> {
    let IpAddr::V4(own) = entry.prefix.addr else {
        return None;
    };
    let computed = |set_host_bits: bool| {
        if entry.prefix.len > 30 {
            return None;
        }
        let base = match entry.peer.map(|p| p.addr) {
            Some(IpAddr::V4(peer)) => peer,
            _ => own,
        };
        let host_mask = u32::MAX
            .checked_shr(u32::from(entry.prefix.len))
            .unwrap_or(0);
        let bits = u32::from(base);
        Some(Ipv4Addr::from(if set_host_bits {
            bits | host_mask
        } else {
            bits & !host_mask
        }))
    };
    let brd = match entry.broadcast? {
        Broadcast::Addr(a) => Some(a),
        Broadcast::Plus => computed(true),
        Broadcast::Minus => computed(false),
    }?;
    (!brd.is_unspecified()).then_some(brd)
}

/// Where an address lives as keepalived names it: the device, and `@base` when the
/// device is a VMAC on top of another interface.
pub(crate) struct Placement<'a> {
    pub dev: &'a str,
    pub base: Option<&'a str>,
}

/// keepalived's `format_ipaddress`; `set` says whether the address is installed.
pub(crate) fn address(entry: &AddressEntry, at: &Placement<'_>, set: bool) -> String {
    let mut s = prefix_str(&entry.prefix);
    if let Some(brd) = broadcast(entry) {
        let _ = write!(s, " brd {brd}");
    }
    let _ = write!(s, " dev {}", at.dev);
    if let Some(base) = at.base {
        let _ = write!(s, "@{base}");
    }
    if entry.use_vmac {
        s.push_str(" use_vmac");
    }
    let _ = write!(s, " scope {}", scope_name(entry.scope));
    if let Some(label) = &entry.label {
        let _ = write!(s, " label {label}");
    }
    if let Some(peer) = &entry.peer {
        let _ = write!(s, " peer {}/{}", peer.addr, peer.len);
    }
    if entry.home {
        s.push_str(" home");
    }
    let v6 = entry.prefix.is_ipv6();
    if v6 && !entry.nodad {
        s.push_str(" -nodad");
    }
    for (on, word) in [
        (entry.mngtmpaddr, " mngtmpaddr"),
        (entry.noprefixroute, " noprefixroute"),
        (entry.autojoin, " autojoin"),
        (entry.no_track, " no_track"),
    ] {
        if on {
            s.push_str(word);
        }
    }
    if let Some(group) = &entry.track_group {
        let _ = write!(s, " track_group {group}");
    }
    if v6 {
        match entry.preferred_lft {
            None => s.push_str(" preferred_lft forever"),
            Some(0) => s.push_str(" deprecated"),
            Some(lft) => {
                let _ = write!(s, " preferred_lft {lft}");
            }
        }
    }
    if set {
        s.push_str(" set");
    }
    s
}

fn realms(s: &mut String, realms: u32) {
    if realms & 0xFFFF_0000 != 0 {
        let _ = write!(s, " realms {}/{}", realms >> 16, realms & 0xFFFF);
    } else {
        let _ = write!(s, " realm {}", realms & 0xFFFF);
    }
}

/// A kernel time metric: `units_per_ms` kernel units make one millisecond.
fn time_metric(s: &mut String, name: &str, value: u32, units_per_ms: u32) {
    let ms = f64::from(value) / f64::from(units_per_ms);
    if ms >= 1000.0 {
        let _ = write!(s, " {name} {}s", format_g(ms / 1000.0));
    } else {
        let _ = write!(s, " {name} {}ms", format_g(ms));
    }
}

fn family_word(addr: &IpAddr) -> &'static str {
    if addr.is_ipv4() {
        "inet"
    } else {
        "inet6"
    }
}

/// keepalived's `format_iproute`.
pub(crate) fn route(r: &RouteEntry) -> String {
    let mut s = String::from(match r.mode {
        RouteMode::Add => "add ",
        RouteMode::Append => "append ",
        RouteMode::Prepend => "prepend ",
    });
    if r.rtype != RouteType::Unicast {
        let _ = write!(s, "{} ", r.rtype.name());
    }
    s.push_str(&prefix_str(&r.dest));
    if let Some(from) = &r.from {
        let _ = write!(s, " from {}", prefix_str(from));
    }
    if let Some(src) = r.src {
        let _ = write!(s, " src {src}");
    }
    if let Some(tos) = r.tos {
        let _ = write!(s, " tos {tos}");
    }
    if let Some(via) = r.via {
        let _ = write!(s, " via {} {via}", family_word(&via));
    }
    if let Some(dev) = &r.dev {
        let _ = write!(s, " dev {dev}");
    }
    if r.table != 254 {
        let _ = write!(s, " table {}", r.table);
    }
    if r.protocol != 0 {
        let _ = write!(s, " proto {}", r.protocol);
    }
    if let Some(scope) = r.scope {
        let _ = write!(s, " scope {scope}");
    }
    if let Some(metric) = r.metric {
        let _ = write!(s, " metric {metric}");
    }
    if r.family == Family::Inet && r.onlink {
        s.push_str(" onlink");
    }
    if let Some(v) = r.realms.filter(|v| *v != 0) {
        realms(&mut s, v);
    }
    if let Some(expires) = r.expires {
        let _ = write!(s, " expires {expires}sec");
    }
    let m = &r.metrics;
    if let Some((algo, lock)) = &m.congctl {
        let _ = write!(s, " congctl {}{algo}", if *lock { "lock " } else { "" });
    }
    if let Some(v) = m.rtt {
        time_metric(&mut s, "rtt", v, 8);
    }
    if let Some(v) = m.rttvar {
        time_metric(&mut s, "rttvar", v, 4);
    }
    if let Some(v) = m.rto_min {
        time_metric(&mut s, "rto_min", v, 1);
    }
    if m.features_ecn {
        s.push_str(" features ecn");
    }
    if let Some((mtu, lock)) = m.mtu {
        let _ = write!(s, " mtu {}{mtu}", if lock { "lock " } else { "" });
    }
    for (name, value) in [
        ("window", m.window),
        ("ssthresh", m.ssthresh),
        ("cwnd", m.cwnd),
        ("advmss", m.advmss),
        ("reordering", m.reordering),
        ("hoplimit", m.hoplimit),
        ("initcwnd", m.initcwnd),
        ("initrwnd", m.initrwnd),
        ("quickack", m.quickack),
    ] {
        if let Some(v) = value {
            let _ = write!(s, " {name} {v}");
        }
    }
    if let Some(pref) = r.pref {
        let name = match pref {
            3 => "low",
            0 => "medium",
            1 => "high",
            _ => "unknown",
        };
        let _ = write!(s, " pref {name}");
    }
    if let Some(v) = m.fastopen_no_cookie {
        let _ = write!(s, " fastopen_no_cookie {v}");
    }
    for nh in &r.nexthops {
        s.push_str(" nexthop");
        if let Some(via) = nh.via {
            let _ = write!(s, " via {} {via}", family_word(&via));
        }
        if let Some(dev) = &nh.dev {
            let _ = write!(s, " dev {dev}");
        }
        if let Some(weight) = nh.weight {
            let _ = write!(s, " weight {weight}");
        }
        if nh.onlink {
            s.push_str(" onlink");
        }
    }
    if r.no_track {
        s.push_str(" no_track");
    }
    if let Some(group) = &r.track_group {
        let _ = write!(s, " track_group {group}");
    }
    s
}

/// keepalived's `format_iprule`.
pub(crate) fn rule(r: &RuleEntry) -> String {
    let mut s = String::new();
    if r.from.is_none() && r.to.is_none() && r.family == Family::Inet6 {
        s.push_str("inet6 ");
    }
    if r.invert {
        s.push_str("not ");
    }
    match &r.from {
        Some(from) => {
            let _ = write!(s, "from {}", prefix_str(from));
        }
        None => s.push_str("from all"),
    }
    if let Some(to) = &r.to {
        let _ = write!(s, " to {}", prefix_str(to));
    }
    if let Some(priority) = r.priority {
        let _ = write!(s, " priority {priority}");
    }
    let _ = write!(s, " tos {:#x}", r.tos.unwrap_or(0));
    if let Some((mark, mask)) = r.fwmark {
        let _ = write!(s, " fwmark {mark:#x}");
        if let Some(mask) = mask.filter(|m| *m != u32::MAX) {
            let _ = write!(s, "/{mask:#x}");
        }
    }
    if let Some(iif) = &r.iif {
        let _ = write!(s, " iif {iif}");
    }
    if let Some(oif) = &r.oif {
        let _ = write!(s, " oif {oif}");
    }
    if let Some(v) = r.suppress_prefixlength {
        let _ = write!(s, " suppress_prefixlen {v}");
    }
    if let Some(v) = r.suppress_ifgroup {
        let _ = write!(s, " suppress_ifgroup {v}");
    }
    if let Some(v) = r.tunnel_id.filter(|v| *v != 0) {
        let _ = write!(s, " tunnel-id {v}");
    }
    if let Some((start, end)) = r.uidrange {
        let _ = write!(s, " uidrange {start}-{end}");
    }
    if r.action == RuleAction::L3mdev {
        s.push_str(" l3mdev");
    }
    if r.protocol != 0 {
        let _ = write!(s, " protocol {}", r.protocol);
    }
    if let Some(v) = r.ipproto {
        let _ = write!(s, " ipproto {v}");
    }
    if let Some((start, end)) = r.sport {
        let _ = write!(s, " sport {start}-{end}");
    }
    if let Some((start, end)) = r.dport {
        let _ = write!(s, " dport {start}-{end}");
    }
    if let Some(v) = r.realms.filter(|v| *v != 0) {
        let _ = write!(s, " realms {}/{}", v >> 16, v & 0xFFFF);
    }
    match r.action {
        RuleAction::Table(t) => {
            let _ = write!(s, " lookup {t}");
        }
        // keepalived turns l3mdev into a table lookup with no table
        RuleAction::L3mdev => s.push_str(" lookup 0"),
        RuleAction::Goto(t) => {
            let _ = write!(s, " goto {t}");
        }
        RuleAction::Nop => s.push_str(" nop"),
        RuleAction::Blackhole => s.push_str(" type blackhole"),
        RuleAction::Unreachable => s.push_str(" type unreachable"),
        RuleAction::Prohibit => s.push_str(" type prohibit"),
    }
    if r.no_track {
        s.push_str(" no_track");
    }
    if let Some(group) = &r.track_group {
        let _ = write!(s, " track_group {group}");
    }
    s
}

/// C's `%g`: six significant digits, trailing zeros removed, exponent form outside
/// 1e-4..1e6.
pub(crate) fn format_g(value: f64) -> String {
    if value == 0.0 || !value.is_finite() {
        return if value.is_finite() {
            "0".into()
        } else {
            value.to_string()
        };
    }
    let exponent = format!("{value:.5e}");
    let (mantissa, exp) = exponent.split_once('e').unwrap_or((&exponent, "0"));
    let exp: i32 = exp.parse().unwrap_or(0);
    if (-4..6).contains(&exp) {
        let decimals = usize::try_from(5 - exp).unwrap_or(0);
        strip_zeros(format!("{value:.decimals$}"))
    } else {
        let mantissa = strip_zeros(mantissa.to_string());
        let sign = if exp < 0 { '-' } else { '+' };
        format!("{mantissa}e{sign}{:02}", exp.abs())
    }
}

fn strip_zeros(s: String) -> String {
    if s.contains('.') {
        s.trim_end_matches('0').trim_end_matches('.').to_string()
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Nexthop;

    fn entry(prefix: &str) -> AddressEntry {
        let (addr, len) = prefix.split_once('/').unwrap();
        AddressEntry::new(Prefix {
            addr: addr.parse().unwrap(),
            len: len.parse().unwrap(),
        })
    }

    const ON_VA: Placement<'static> = Placement {
        dev: "vA",
        base: None,
    };

    #[test]
    fn addresses_read_like_keepalived_2_2_7() {
        // lines observed in keepalived.data from keepalived 2.2.7
        assert_eq!(
            address(&entry("192.0.2.100/24"), &ON_VA, true),
            "192.0.2.100/24 dev vA scope global set"
        );
        let mut labelled = entry("203.0.113.10/24");
        labelled.label = Some("vA:1".into());
        assert_eq!(
            address(&labelled, &ON_VA, false),
            "203.0.113.10/24 dev vA scope global label vA:1"
        );
        assert_eq!(
            address(&entry("198.51.100.10/32"), &ON_VA, true),
            "198.51.100.10 dev vA scope global set"
        );
        assert_eq!(
            address(&entry("2001:db8::100/64"), &ON_VA, true),
            "2001:db8::100/64 dev vA scope global preferred_lft forever set"
        );
        let mut brd = entry("192.0.2.150/24");
        brd.broadcast = Some(Broadcast::Addr(Ipv4Addr::new(192, 0, 2, 255)));
        assert_eq!(
            address(&brd, &ON_VA, true),
            "192.0.2.150/24 brd 192.0.2.255 dev vA scope global set"
        );
        let vmac = Placement {
            dev: "vr.62",
            base: Some("vA"),
        };
        assert_eq!(
            address(&entry("192.0.2.160/24"), &vmac, true),
            "192.0.2.160/24 dev vr.62@vA scope global set"
        );
    }

    #[test]
    fn computed_broadcasts_and_ipv6_flags() {
        let mut plus = entry("192.0.2.9/24");
        plus.broadcast = Some(Broadcast::Plus);
        assert!(address(&plus, &ON_VA, false).contains(" brd 192.0.2.255 "));
        let mut minus = entry("192.0.2.9/24");
        minus.broadcast = Some(Broadcast::Minus);
        assert!(address(&minus, &ON_VA, false).contains(" brd 192.0.2.0 "));
        let mut too_long = entry("192.0.2.9/31");
        too_long.broadcast = Some(Broadcast::Plus);
        assert!(!address(&too_long, &ON_VA, false).contains("brd"));

        let mut v6 = entry("2001:db8::1/128");
        v6.preferred_lft = Some(0);
        v6.nodad = false;
        v6.scope = 253;
        assert_eq!(
            address(&v6, &ON_VA, false),
            "2001:db8::1 dev vA scope link -nodad deprecated"
        );
    }

    fn route_entry(dest: &str) -> RouteEntry {
        let (addr, len) = dest.split_once('/').unwrap();
        RouteEntry::new(Prefix {
            addr: addr.parse().unwrap(),
            len: len.parse().unwrap(),
        })
    }

    #[test]
    fn routes_read_like_keepalived_2_2_7() {
        let mut r = route_entry("203.0.113.0/25");
        r.via = Some("192.0.2.254".parse().unwrap());
        r.dev = Some("vA".into());
        assert_eq!(
            route(&r),
            "prepend 203.0.113.0/25 via inet 192.0.2.254 dev vA proto 18"
        );
        let mut d = route_entry("0.0.0.0/0");
        d.via = Some("192.0.2.1".parse().unwrap());
        d.table = 100;
        d.metric = Some(5);
        d.no_track = true;
        assert_eq!(
            route(&d),
            "prepend 0.0.0.0/0 via inet 192.0.2.1 table 100 proto 18 metric 5 no_track"
        );
        let mut b = route_entry("203.0.113.128/25");
        b.rtype = RouteType::Blackhole;
        b.mode = RouteMode::Add;
        b.no_track = true;
        assert_eq!(
            route(&b),
            "add blackhole 203.0.113.128/25 proto 18 no_track"
        );
        let mut l = route_entry("192.0.2.128/25");
        l.dev = Some("vA".into());
        l.scope = Some(253);
        assert_eq!(
            route(&l),
            "prepend 192.0.2.128/25 dev vA proto 18 scope 253"
        );
    }

    #[test]
    fn route_metrics_and_nexthops_use_keepalived_units() {
        let mut r = route_entry("198.51.100.0/24");
        r.metrics.rtt = Some(8 * 300);
        r.metrics.rttvar = Some(4 * 2500);
        r.metrics.mtu = Some((1400, true));
        r.realms = Some(0x0002_0003);
        r.nexthops = vec![
            Nexthop {
                via: Some("192.0.2.1".parse().unwrap()),
                dev: Some("vA".into()),
                weight: Some(2),
                onlink: false,
            },
            Nexthop {
                via: Some("2001:db8::1".parse().unwrap()),
                dev: None,
                weight: None,
                onlink: true,
            },
        ];
        assert_eq!(
            route(&r),
            "prepend 198.51.100.0/24 proto 18 realms 2/3 rtt 300ms rttvar 2.5s mtu lock 1400 \
             nexthop via inet 192.0.2.1 dev vA weight 2 nexthop via inet6 2001:db8::1 onlink"
        );
    }

    fn rule_entry() -> RuleEntry {
        RuleEntry::new(Family::Inet, RuleAction::Table(100))
    }

    #[test]
    fn rules_read_like_keepalived_2_2_7() {
        let mut r = rule_entry();
        r.from = Some(Prefix::host("192.0.2.100".parse().unwrap()));
        r.priority = Some(16384);
        assert_eq!(
            rule(&r),
            "from 192.0.2.100 priority 16384 tos 0x0 protocol 18 lookup 100"
        );
        let mut t = rule_entry();
        t.to = Some(Prefix {
            addr: "198.51.100.0".parse().unwrap(),
            len: 24,
        });
        t.priority = Some(200);
        assert_eq!(
            rule(&t),
            "from all to 198.51.100.0/24 priority 200 tos 0x0 protocol 18 lookup 100"
        );
        let mut v6 = rule_entry();
        v6.family = Family::Inet6;
        v6.invert = true;
        v6.fwmark = Some((0x10, Some(0xff)));
        v6.action = RuleAction::Blackhole;
        assert_eq!(
            rule(&v6),
            "inet6 not from all tos 0x0 fwmark 0x10/0xff protocol 18 type blackhole"
        );
    }

    #[test]
    fn format_g_matches_c() {
        for (value, expected) in [
            (5.0, "5"),
            (0.5, "0.5"),
            (1.0, "1"),
            (0.01, "0.01"),
            (40.95, "40.95"),
            (0.001, "0.001"),
            (1234567.0, "1.23457e+06"),
            (0.00001, "1e-05"),
            (123456.0, "123456"),
            (2.0 / 3.0, "0.666667"),
            (0.0, "0"),
        ] {
            assert_eq!(format_g(value), expected, "{value}");
        }
    }
}
