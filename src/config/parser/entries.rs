//! The entry grammars of virtual_ipaddress / static_ipaddress (§2.5), virtual_routes /
//! static_routes / backup_routes (§2.6) and virtual_rules / static_rules / backup_rules
//! (§2.7), reproducing keepalived's vrrp_ipaddress.c alloc_ipaddress, vrrp_iproute.c
//! alloc_route and vrrp_iprule.c alloc_rule: the same keywords, the same order of
//! checks, the same fate for a bad entry (dropped, or kept with the bad part ignored).

use super::rttables::{self, Table};
use super::values::{self, parse_ip, parse_ipaddress, parse_route_dest, RouteDest, ValueError};
use super::{Entry, Parser};
use crate::config::diag::ErrClass;
use crate::config::model::*;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

const IFNAMSIZ: usize = 16;

fn report_values(p: &mut Parser<'_>, e: Entry<'_>, i: usize, errors: Vec<ValueError>) {
    for err in errors {
        p.entry_error(err.class, e, i, err.message);
    }
}

// ----- addresses ----------------------------------------------------------------------------

pub(crate) fn parse_address<'a>(p: &mut Parser<'a>, e: Entry<'a>, static_addr: bool) -> Option<AddressEntry> {
    let first = e.text(0).unwrap_or_default();
    let mut errors = Vec::new();
    let prefix = parse_ipaddress(first, true, &mut errors);
    report_values(p, e, 0, errors);
    let prefix = prefix?;
    let is6 = prefix.is_ipv6();
    let mut a = AddressEntry { span: e.span(0), ..AddressEntry::new(prefix) };
    let mut brd_mode: Option<Broadcast> = None;
    let mut have_broadcast = false;
    let mut preferred_lft_set = false;
    let mut i = 1;
    while i < e.len() {
        let kw = e.text(i).unwrap_or_default();
        let takes_param = matches!(kw, "dev" | "scope" | "broadcast" | "brd" | "label" | "peer" | "preferred_lft")
            || (static_addr && kw == "track_group");
        if takes_param && e.len() < i + 2 {
            p.entry_error(ErrClass::GeneralError, e, i, format!("No {kw} parameter specified for {first}"));
            return None;
        }
        let param = e.text(i + 1).unwrap_or_default();
        match kw {
            "dev" => {
                i += 1;
                if a.dev.is_some() {
                    p.entry_error(
                        ErrClass::GeneralError,
                        e,
                        i,
                        format!("Cannot specify ipaddress device more than once for {first}"),
                    );
                    return None;
                }
                if p.interface(param).is_none() {
                    p.entry_error(
                        ErrClass::GeneralError,
                        e,
                        i,
                        format!("WARNING - interface {param} for ip address {first} doesn't exist"),
                    );
                    return None;
                }
                a.dev = Some(p.shared_device_name(param));
            }
            "scope" => {
                i += 1;
                match rttables::lookup(Table::Scopes, param) {
                    Some(s) => a.scope = s as u8,
                    None => p.entry_error(
                        ErrClass::GeneralError,
                        e,
                        i,
                        format!("Invalid scope '{param}' specified for {first} - ignoring"),
                    ),
                }
            }
            "broadcast" | "brd" => {
                if is6 {
                    p.entry_error(
                        ErrClass::GeneralError,
                        e,
                        i,
                        format!(
                            "VRRP is trying to assign a broadcast {kw} to the IPv6 address {first} !!?? WTF... skipping VIP..."
                        ),
                    );
                    return None;
                }
                i += 1;
                have_broadcast = true;
                brd_mode = match param {
                    "-" => Some(Broadcast::Minus),
                    "+" => Some(Broadcast::Plus),
                    _ => match param.parse::<Ipv4Addr>() {
                        Ok(b) => Some(Broadcast::Addr(b)),
                        Err(_) => {
                            p.entry_error(
                                ErrClass::GeneralError,
                                e,
                                i,
                                format!("VRRP is trying to assign invalid broadcast {param}. skipping VIP..."),
                            );
                            return None;
                        }
                    },
                };
            }
            "label" => {
                i += 1;
                if param.len() >= IFNAMSIZ {
                    p.entry_error(
                        ErrClass::GeneralError,
                        e,
                        i,
                        format!("Address label {param} is longer than maximum length 15 - removing address"),
                    );
                    return None;
                }
                a.label = Some(param.to_string());
            }
            "peer" => {
                i += 1;
                if a.peer.is_some() {
                    p.entry_error(
                        ErrClass::GeneralError,
                        e,
                        i,
                        format!("Peer {param} - another peer has already been specified"),
                    );
                } else {
                    let mut errs = Vec::new();
                    match parse_ipaddress(param, false, &mut errs) {
                        None => {
                            report_values(p, e, i, errs);
                            p.entry_error(ErrClass::GeneralError, e, i, format!("Invalid peer address {param}"));
                        }
                        Some(peer) if peer.is_ipv6() != is6 => {
                            p.entry_error(
                                ErrClass::GeneralError,
                                e,
                                i,
                                format!("Peer address {param} does not match address family"),
                            );
                        }
                        Some(peer) => {
                            if a.prefix.len != if is6 { 128 } else { 32 } {
                                p.entry_error(
                                    ErrClass::GeneralError,
                                    e,
                                    i,
                                    "Cannot specify address prefix when specifying peer address - ignoring".into(),
                                );
                            }
                            a.prefix.len = peer.len;
                            a.peer = Some(peer);
                        }
                    }
                }
            }
            "home" => a.home = true,
            "-nodad" => a.nodad = false,
            "mngtmpaddr" => a.mngtmpaddr = true,
            "noprefixroute" => a.noprefixroute = true,
            "autojoin" => a.autojoin = true,
            "no_track" => a.no_track = true,
            "preferred_lft" => {
                i += 1;
                if param == "forever" {
                    a.preferred_lft = None;
                    preferred_lft_set = true;
                } else {
                    match values::read_unsigned(param, 0, u32::MAX) {
                        Ok(v) => {
                            a.preferred_lft = Some(v);
                            preferred_lft_set = true;
                        }
                        Err(err) => {
                            p.entry_error(err.class, e, i, err.message);
                            p.entry_error(ErrClass::GeneralError, e, i, format!("preferred_lft {param} is invalid"));
                        }
                    }
                }
            }
            "track_group" if static_addr => {
                i += 1;
                if !track_group_option(p, e, i, param, &mut a.track_group) {
                    break;
                }
            }
            "use_vmac" if !static_addr => a.use_vmac = true,
            _ => {
                let msg = format!("Unknown configuration entry '{kw}' for ip address - ignoring");
                suggest(p, e, i, msg, kw, ADDRESS_WORDS);
            }
        }
        i += 1;
    }

    if have_broadcast && a.peer.is_some() {
        p.entry_error(
            ErrClass::GeneralError,
            e,
            0,
            "Cannot specify broadcast and peer addresses - ignoring broadcast address".into(),
        );
    } else if matches!(brd_mode, Some(Broadcast::Plus | Broadcast::Minus)) && a.prefix.len > 30 {
        let len = a.prefix.len;
        p.entry_error(ErrClass::GeneralError, e, 0, format!("Address prefix length {len} too long for broadcast"));
    } else {
        a.broadcast = brd_mode;
    }

    if static_addr && a.dev.is_none() {
        let default_if = p.raw.global.default_interface.clone();
        if p.interface(&default_if).is_none() {
            p.entry_error(
                ErrClass::Fatal,
                e,
                0,
                format!("Static address {first} requires either an interface or default interface must exist"),
            );
            return None;
        }
        a.dev = Some(p.shared_device_name(&default_if));
    }

    if is6 {
        if a.scope != 0 {
            p.entry_error(
                ErrClass::GeneralError,
                e,
                0,
                format!("Cannot specify scope for IPv6 addresses ({first}) - ignoring scope"),
            );
            a.scope = 0;
        }
        if a.label.is_some() {
            p.entry_error(
                ErrClass::GeneralError,
                e,
                0,
                format!("Cannot specify label for IPv6 addresses ({first}) - ignoring label"),
            );
            a.label = None;
        }
        if !preferred_lft_set && a.prefix.len == 128 {
            // keepalived's old default: a /128 VIP is deprecated (never a source).
            a.preferred_lft = Some(0);
        }
    }

    if a.track_group.is_some() && a.dev.is_none() {
        p.entry_error(
            ErrClass::GeneralError,
            e,
            0,
            "Static route cannot have track_group if interface not specified".into(),
        );
        a.track_group = None;
    }
    Some(a)
}

// ----- routes -------------------------------------------------------------------------------

struct RouteState {
    family: Option<Family>,
    dest: Option<RouteDest>,
    dest_text: String,
    protocol: Option<u8>,
}

/// Resolve the family of a parsed piece against what the route already has.
fn merge_family(current: &mut Option<Family>, new: Family) -> bool {
    match current {
        Some(f) if *f != new => false,
        _ => {
            *current = Some(new);
            true
        }
    }
}

/// `inet` / `inet6` in a route or rule: an error when it contradicts the family already
/// seen. keepalived (2.2.7 and 2.4) also steps over the word after it, so its own man page
/// example `inet6 default via …` loses its destination; kad reads the next word normally.
fn family_keyword(family: &mut Option<Family>, kw: &str, what: &str) -> Result<(), String> {
    let (fam, other) = if kw == "inet6" { (Family::Inet6, 4) } else { (Family::Inet, 6) };
    if merge_family(family, fam) {
        Ok(())
    } else {
        Err(format!("{kw} specified for IPv{other} {what}"))
    }
}

pub(crate) fn parse_route<'a>(p: &mut Parser<'a>, e: Entry<'a>, allow_track_group: bool) -> Option<RouteEntry> {
    let mut r = RouteEntry { span: e.span(0), ..RouteEntry::new(any_prefix(Family::Inet)) };
    let mut st = RouteState { family: None, dest: None, dest_text: String::new(), protocol: None };
    let mut i = 0;
    let mut do_nexthop = false;

    macro_rules! word {
        ($idx:expr) => {
            match p.word(e, $idx) {
                Some(w) => w,
                None => return None,
            }
        };
    }
    macro_rules! fail {
        ($idx:expr, $($msg:tt)*) => {{
            p.entry_error(ErrClass::GeneralError, e, $idx, format!($($msg)*));
            return None;
        }};
    }
    macro_rules! num {
        ($idx:expr, $max:expr, $($msg:tt)*) => {{
            let w = word!($idx);
            match values::read_unsigned(w, 0, $max) {
                Ok(v) => v,
                Err(err) => {
                    p.entry_error(err.class, e, $idx, err.message);
                    fail!($idx, $($msg)*, w)
                }
            }
        }};
    }

    while i < e.len() {
        let kw = e.text(i).unwrap_or_default();
        match kw {
            "inet6" | "inet" => {
                if let Err(message) = family_keyword(&mut st.family, kw, "route") {
                    fail!(i, "{message}");
                }
            }
            "src" => {
                i += 1;
                let w = word!(i);
                let Some(addr) = parse_ip(w) else { fail!(i, "invalid route src address {w}") };
                if !merge_family(&mut st.family, Family::of(&addr)) {
                    fail!(i, "Cannot mix IPv4 and IPv6 addresses for route");
                }
                r.src = Some(addr);
            }
            "as" => {
                i += 1;
                if word!(i) == "to" {
                    i += 1;
                }
                p.entry_error(ErrClass::GeneralError, e, i, "\"as to\" for MPLS only - ignoring".into());
            }
            "via" | "gw" => {
                if kw == "gw" {
                    p.entry_error(
                        ErrClass::GeneralError,
                        e,
                        i,
                        "\"gw\" for routes is deprecated. Please use \"via\"".into(),
                    );
                }
                i += 1;
                let mut w = word!(i);
                let mut fam = st.family;
                if w == "inet" || w == "inet6" {
                    fam = Some(if w == "inet6" { Family::Inet6 } else { Family::Inet });
                    i += 1;
                    w = word!(i);
                }
                if let Some(f) = fam {
                    if !merge_family(&mut st.family, f) {
                        fail!(i, "Cannot mix IPv4 and IPv6 addresses for route");
                    }
                }
                let Some(addr) = parse_ip(w) else { fail!(i, "invalid route via address {w}") };
                if !merge_family(&mut st.family, Family::of(&addr)) {
                    fail!(i, "Cannot mix IPv4 and IPv6 addresses for route");
                }
                r.via = Some(addr);
            }
            "from" => {
                i += 1;
                let w = word!(i);
                let mut errs = Vec::new();
                let parsed = parse_route_dest(w, &mut errs);
                report_values(p, e, i, errs);
                match parsed {
                    None => fail!(i, "invalid route from address {w}"),
                    Some(RouteDest::AnyFamilyDefault) => {
                        fail!(i, "route from address only supported with IPv6 ({w})")
                    }
                    Some(RouteDest::Prefix(pfx)) if !pfx.is_ipv6() => {
                        fail!(i, "route from address only supported with IPv6 ({w})")
                    }
                    Some(RouteDest::Prefix(pfx)) => {
                        if !merge_family(&mut st.family, Family::Inet6) {
                            fail!(i, "Cannot mix IPv4 and IPv6 addresses for route");
                        }
                        r.from = Some(pfx);
                    }
                }
            }
            "tos" | "dsfield" => {
                i += 1;
                let w = word!(i);
                match rttables::lookup(Table::Dsfield, w) {
                    Some(v) => r.tos = Some(v as u8),
                    None => fail!(i, "TOS value {w} is invalid"),
                }
            }
            "table" => {
                i += 1;
                let w = word!(i);
                match rttables::lookup(Table::Tables, w) {
                    Some(t) => r.table = t,
                    None => fail!(i, "Routing table {w} not found for route"),
                }
            }
            "protocol" => {
                i += 1;
                let w = word!(i);
                match rttables::lookup(Table::Protos, w) {
                    Some(v) => st.protocol = Some(v as u8),
                    None => fail!(i, "Protocol {w} not found or invalid for route"),
                }
            }
            "scope" => {
                i += 1;
                let w = word!(i);
                match rttables::lookup(Table::Scopes, w) {
                    Some(v) => r.scope = Some(v as u8),
                    None => fail!(i, "Scope {w} not found or invalid for route"),
                }
            }
            "metric" | "priority" | "preference" => {
                i += 1;
                r.metric = Some(num!(i, u32::MAX, "Invalid metric {} specified for route"));
            }
            "dev" | "oif" => {
                i += 1;
                let w = word!(i);
                if p.interface(w).is_none() {
                    fail!(i, "WARNING - interface {w} for VROUTE nexthop doesn't exist");
                }
                r.dev = Some(w.to_string());
            }
            "onlink" => r.onlink = true,
            "encap" => {
                p.note(e.line, "route encapsulation (encap) is not implemented by kad; route ignored".into());
                return None;
            }
            "expires" => {
                i += 1;
                if st.family == Some(Family::Inet) {
                    fail!(i, "expires is only valid for IPv6");
                }
                st.family = Some(Family::Inet6);
                r.expires = Some(num!(i, u32::MAX, "Invalid expires time {} specified for route"));
            }
            "mtu" | "advmss" | "reordering" | "cwnd" | "ssthresh" => {
                i += 1;
                let mut lock = false;
                if word!(i) == "lock" {
                    lock = true;
                    i += 1;
                }
                let bit = match kw {
                    "mtu" => 2,
                    "advmss" => 8,
                    "reordering" => 9,
                    "cwnd" => 7,
                    _ => 6,
                };
                let v = match kw {
                    "mtu" => num!(i, u32::MAX, "Invalid MTU {} specified for route"),
                    "advmss" => num!(i, u32::MAX, "Invalid advmss {} specified for route"),
                    "reordering" => num!(i, u32::MAX, "Invalid reordering value {} specified for route"),
                    "cwnd" => num!(i, u32::MAX, "Invalid cwnd value {} specified for route"),
                    _ => num!(i, u32::MAX, "Invalid ssthresh value {} specified for route"),
                };
                let m = &mut r.metrics;
                match kw {
                    "mtu" => m.mtu = Some((v, lock)),
                    "advmss" => m.advmss = Some(v),
                    "reordering" => m.reordering = Some(v),
                    "cwnd" => m.cwnd = Some(v),
                    _ => m.ssthresh = Some(v),
                }
                if lock && kw != "mtu" {
                    m.locks |= 1 << bit;
                }
            }
            "hoplimit" => {
                i += 1;
                r.metrics.hoplimit = Some(num!(i, 255, "Invalid hoplimit {} specified for route"));
            }
            "rtt" | "rttvar" | "rto_min" => {
                i += 1;
                let mut lock = false;
                if word!(i) == "lock" {
                    lock = true;
                    i += 1;
                }
                let w = word!(i);
                let (mult, bit) = match kw {
                    "rtt" => (8, 4),
                    "rttvar" => (4, 5),
                    _ => (1, 13),
                };
                let Some(v) = rtt_time(p, e, i, w, mult) else {
                    if kw == "rto_min" {
                        fail!(i, "Invalid rto_min value {w} specified for route");
                    }
                    fail!(i, "Invalid {kw} {w} for route");
                };
                match kw {
                    "rtt" => r.metrics.rtt = Some(v),
                    "rttvar" => r.metrics.rttvar = Some(v),
                    _ => r.metrics.rto_min = Some(v),
                }
                if lock {
                    r.metrics.locks |= 1 << bit;
                }
            }
            "window" => {
                i += 1;
                r.metrics.window = Some(num!(i, u32::MAX, "Invalid window value {} specified for route"));
            }
            "realms" => {
                i += 1;
                let w = word!(i);
                let Some(v) = rttables::realms(w) else { fail!(i, "Invalid realms {w} for route") };
                if st.family == Some(Family::Inet6) {
                    fail!(i, "realms are only valid for IPv4");
                }
                st.family = Some(Family::Inet);
                r.realms = Some(v);
            }
            "initcwnd" => {
                i += 1;
                r.metrics.initcwnd = Some(num!(i, u32::MAX, "Invalid initcwnd value {} specified for route"));
            }
            "initrwnd" => {
                i += 1;
                r.metrics.initrwnd = Some(num!(i, u32::MAX, "Invalid initrwnd value {} specified for route"));
            }
            "features" => {
                i += 1;
                let w = word!(i);
                if w == "ecn" {
                    r.metrics.features_ecn = true;
                } else {
                    p.entry_error(ErrClass::GeneralError, e, i, format!("feature {w} not supported"));
                }
            }
            "quickack" => {
                i += 1;
                r.metrics.quickack = Some(num!(i, 1, "Invalid quickack value {} specified for route"));
            }
            "congctl" => {
                i += 1;
                let mut lock = false;
                if word!(i) == "lock" {
                    lock = true;
                    i += 1;
                }
                r.metrics.congctl = Some((word!(i).to_string(), lock));
            }
            "pref" => {
                i += 1;
                if st.family == Some(Family::Inet) {
                    fail!(i, "pref is only valid for IPv6");
                }
                st.family = Some(Family::Inet6);
                let w = word!(i);
                r.pref = Some(match w {
                    "low" => 3,
                    "medium" => 0,
                    "high" => 1,
                    _ => num!(i, 255, "Invalid pref value {} specified for route") as u8,
                });
            }
            "ttl-propagate" => {
                i += 1;
                match word!(i) {
                    "enabled" => r.ttl_propagate = Some(true),
                    "disabled" => r.ttl_propagate = Some(false),
                    other => {
                        p.entry_error(ErrClass::GeneralError, e, i, format!("ttl-propagate value {other} not recognised"));
                        r.ttl_propagate = Some(false);
                    }
                }
            }
            "fastopen_no_cookie" => {
                i += 1;
                r.metrics.fastopen_no_cookie = Some(num!(i, 1, "Invalid fastopen_no_cookie value {} specified for route"));
            }
            "add" => r.mode = RouteMode::Add,
            "prepend" => r.mode = RouteMode::Prepend,
            "append" => r.mode = RouteMode::Append,
            "or" => {
                p.entry_error(
                    ErrClass::GeneralError,
                    e,
                    i,
                    "\"or\" for routes is deprecated. Please use \"nexthop\"".into(),
                );
                if !r.nexthops.is_empty() {
                    p.entry_error(
                        ErrClass::GeneralError,
                        e,
                        i,
                        "\"or\" route already specified - ignoring subsequent".into(),
                    );
                    i += 2;
                    continue;
                }
                r.nexthops.push(Nexthop { via: r.via.take(), dev: None, weight: None, onlink: false });
                i += 1;
                let w = word!(i);
                let Some(addr) = parse_ip(w) else { fail!(i, "Invalid \"or\" address {w}") };
                r.nexthops.push(Nexthop { via: Some(addr), dev: None, weight: None, onlink: false });
            }
            "nexthop" => {
                if !r.nexthops.is_empty() {
                    p.entry_error(ErrClass::GeneralError, e, i, "Cannot specify nexthops with \"or\" route".into());
                } else {
                    do_nexthop = true;
                }
                break;
            }
            "no_track" => r.no_track = true,
            "track_group" if allow_track_group => {
                i += 1;
                let w = word!(i);
                if !track_group_option(p, e, i, w, &mut r.track_group) {
                    break;
                }
            }
            "vrf" => {
                p.note(e.line, "routes in a VRF (vrf NAME) are not implemented by kad; route ignored".into());
                return None;
            }
            _ => {
                let mut w = kw;
                if w == "to" {
                    i += 1;
                    w = word!(i);
                }
                if let Some(t) = rttables::route_type(w) {
                    r.rtype = t;
                    i += 1;
                    w = word!(i);
                }
                let mut errs = Vec::new();
                let dest = parse_route_dest(w, &mut errs);
                report_values(p, e, i, errs);
                let Some(dest) = dest else {
                    suggest(p, e, i, format!("unknown route keyword {w}"), w, ROUTE_WORDS);
                    return None;
                };
                if let RouteDest::Prefix(pfx) = &dest {
                    let fam = Family::of(&pfx.addr);
                    if !merge_family(&mut st.family, fam) {
                        fail!(i, "Cannot mix IPv4 and IPv6 addresses for route ({w})");
                    }
                }
                st.dest = Some(dest);
                st.dest_text = w.to_string();
            }
        }
        i += 1;
    }

    if do_nexthop {
        parse_nexthops(p, e, i, &mut r, &mut st)?;
    } else if i < e.len() {
        let w = e.text(i).unwrap_or_default();
        fail!(i, "Route has trailing nonsense - {w}");
    }

    let Some(dest) = st.dest.take() else { fail!(0, "Route must have a destination") };

    r.protocol = entry_protocol(p, e, "Route", r.no_track, st.protocol, RTPROT_KEEPALIVED);
    if !r.no_track && r.dev.is_none() {
        let d = st.dest_text.clone();
        p.entry_error(
            ErrClass::GeneralError,
            e,
            0,
            format!("Warning - cannot track route {d} with no interface specified, not tracking"),
        );
        r.no_track = true;
    }

    if r.track_group.is_some() && r.dev.is_none() {
        p.entry_error(ErrClass::GeneralError, e, 0, "Static route cannot have track group if no oif specified".into());
        r.track_group = None;
    }

    r.family = st.family.unwrap_or(Family::Inet);
    r.dest = match dest {
        RouteDest::Prefix(pfx) => pfx,
        RouteDest::AnyFamilyDefault => any_prefix(r.family),
    };
    Some(r)
}

fn any_prefix(family: Family) -> Prefix {
    match family {
        Family::Inet => Prefix { addr: IpAddr::V4(Ipv4Addr::UNSPECIFIED), len: 0 },
        Family::Inet6 => Prefix { addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED), len: 0 },
    }
}

/// keepalived's get_time_rtt: a raw number in kernel units, or `Ns`/`Nms` scaled by
/// `mult` (units of 1/(mult·1000) s), clamped to [0.2 s, 120 s].
fn rtt_time(p: &mut Parser<'_>, e: Entry<'_>, i: usize, s: &str, mult: u64) -> Option<u32> {
    const RTT_MIN_MS: u64 = 200;
    const RTT_MAX_MS: u64 = 120_000;
    let s = s.trim_start();
    let lower = s.to_ascii_lowercase();
    let (number, shift, raw) = if let Some(pos) = lower.find('s') {
        let unit = &lower[pos..];
        if !matches!(unit, "s" | "sec" | "secs") {
            return None;
        }
        if pos > 0 && lower.as_bytes()[pos - 1] == b'm' {
            (&s[..pos - 1], 0, false)
        } else {
            (&s[..pos], 3, false)
        }
    } else {
        (s, 0, true)
    };
    if number.is_empty() || number.contains(['e', 'E']) {
        return None;
    }
    let d = values::read_decimal(number, 0, RTT_MAX_MS * mult, shift);
    report_values(p, e, i, d.errors);
    let mut v = d.value?;
    if !raw {
        v *= mult;
    }
    v = v.clamp(RTT_MIN_MS * mult, RTT_MAX_MS * mult);
    Some(v as u32)
}

fn parse_nexthops<'a>(p: &mut Parser<'a>, e: Entry<'a>, mut i: usize, r: &mut RouteEntry, st: &mut RouteState) -> Option<()> {
    while i < e.len() && e.text(i) == Some("nexthop") {
        i += 1;
        let mut nh = Nexthop { via: None, dev: None, weight: None, onlink: false };
        let mut ok = true;
        while i < e.len() && ok {
            let kw = e.text(i).unwrap_or_default();
            match kw {
                "via" => {
                    i += 1;
                    let mut w = p.word(e, i)?;
                    let mut fam = None;
                    if w == "inet" || w == "inet6" {
                        fam = Some(if w == "inet6" { Family::Inet6 } else { Family::Inet });
                        i += 1;
                        w = p.word(e, i)?;
                    }
                    if let Some(f) = fam {
                        if !merge_family(&mut st.family, f) {
                            p.entry_error(ErrClass::GeneralError, e, i, "IPv4/6 mismatch for nexthop".into());
                            ok = false;
                            continue;
                        }
                    }
                    match parse_ip(w) {
                        None => {
                            p.entry_error(ErrClass::GeneralError, e, i, format!("invalid nexthop address {w}"));
                            ok = false;
                            continue;
                        }
                        Some(addr) => {
                            if !merge_family(&mut st.family, Family::of(&addr)) {
                                p.entry_error(ErrClass::GeneralError, e, i, "Address family mismatch for next hop".into());
                                ok = false;
                                continue;
                            }
                            nh.via = Some(addr);
                        }
                    }
                }
                "dev" => {
                    i += 1;
                    let w = p.word(e, i)?;
                    if p.interface(w).is_none() {
                        p.entry_error(
                            ErrClass::GeneralError,
                            e,
                            i,
                            format!("WARNING - interface {w} for VROUTE nexthop doesn't exist"),
                        );
                        ok = false;
                        continue;
                    }
                    nh.dev = Some(w.to_string());
                }
                "weight" => {
                    i += 1;
                    let w = p.word(e, i)?;
                    match values::read_unsigned(w, 0, 256) {
                        Ok(0) => {
                            p.entry_error(ErrClass::GeneralError, e, i, "Invalid weight 0 specified for route".into());
                            ok = false;
                            continue;
                        }
                        Ok(v) => nh.weight = Some(v as u16),
                        Err(err) => {
                            p.entry_error(err.class, e, i, err.message);
                            p.entry_error(ErrClass::GeneralError, e, i, format!("Invalid weight {w} specified for route"));
                            ok = false;
                            continue;
                        }
                    }
                }
                "onlink" => nh.onlink = true,
                "encap" | "realms" => {
                    p.note(e.line, format!("per-nexthop {kw} is not implemented by kad; nexthop ignored"));
                    ok = false;
                    continue;
                }
                "as" => {
                    i += 1;
                    if p.word(e, i)? == "to" {
                        i += 1;
                    }
                    p.entry_error(ErrClass::GeneralError, e, i, "'as [to]' (nat) not supported".into());
                    ok = false;
                    continue;
                }
                _ => break,
            }
            i += 1;
        }
        if !ok {
            return Some(());
        }
        r.nexthops.push(nh);
    }
    if i < e.len() {
        let w = e.text(i).unwrap_or_default();
        p.entry_error(ErrClass::GeneralError, e, i, format!("Route has trailing nonsense after nexthops - {w}"));
    }
    Some(())
}

// ----- rules --------------------------------------------------------------------------------

pub(crate) fn parse_rule<'a>(p: &mut Parser<'a>, e: Entry<'a>, allow_track_group: bool) -> Option<RuleEntry> {
    let mut r = RuleEntry { span: e.span(0), ..RuleEntry::new(Family::Inet, RuleAction::Nop) };
    let mut family: Option<Family> = None;
    let mut action: Option<RuleAction> = None;
    let mut from_any = false;
    let mut to_any = false;
    let mut table_option = false;
    let mut protocol: Option<u8> = None;
    let mut i = 0;

    macro_rules! word {
        ($idx:expr) => {
            match p.word(e, $idx) {
                Some(w) => w,
                None => return None,
            }
        };
    }
    macro_rules! fail {
        ($idx:expr, $($msg:tt)*) => {{
            p.entry_error(ErrClass::GeneralError, e, $idx, format!($($msg)*));
            return None;
        }};
    }
    macro_rules! one_action {
        ($idx:expr, $a:expr, $msg:expr) => {{
            if action.is_some() {
                fail!($idx, "{}", $msg);
            }
            action = Some($a);
        }};
    }

    while i < e.len() {
        let kw = e.text(i).unwrap_or_default();
        match kw {
            "inet6" | "inet" => {
                if let Err(message) = family_keyword(&mut family, kw, "rule") {
                    fail!(i, "{message}");
                }
            }
            "from" | "to" => {
                i += 1;
                let w = word!(i);
                let mut errs = Vec::new();
                let parsed = parse_route_dest(w, &mut errs);
                report_values(p, e, i, errs);
                match parsed {
                    None => fail!(i, "Invalid rule {kw} address {w}"),
                    Some(RouteDest::AnyFamilyDefault) => {
                        if kw == "from" {
                            from_any = true;
                            r.from = None;
                        } else {
                            to_any = true;
                            r.to = None;
                        }
                    }
                    Some(RouteDest::Prefix(pfx)) => {
                        if !merge_family(&mut family, Family::of(&pfx.addr)) {
                            fail!(i, "rule specification has mixed IPv4 and IPv6");
                        }
                        if kw == "from" {
                            from_any = false;
                            r.from = Some(pfx);
                        } else {
                            to_any = false;
                            r.to = Some(pfx);
                        }
                    }
                }
            }
            "table" | "lookup" => {
                i += 1;
                let w = word!(i);
                let Some(t) = rttables::lookup(Table::Tables, w) else { fail!(i, "Routing table {w} not found for rule") };
                if t == 0 {
                    fail!(i, "Table 0 is not valid");
                }
                one_action!(
                    i,
                    RuleAction::Table(t),
                    "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable for rule"
                );
            }
            "not" => r.invert = true,
            "preference" | "order" | "priority" => {
                i += 1;
                let w = word!(i);
                match values::parse_number_any_base(w).filter(|v| *v <= u64::from(u32::MAX)) {
                    Some(v) => r.priority = Some(v as u32),
                    None => fail!(i, "Invalid rule preference {kw} specified"),
                }
            }
            "tos" | "dsfield" => {
                i += 1;
                let w = word!(i);
                match rttables::lookup(Table::Dsfield, w) {
                    Some(v) => r.tos = Some(v as u8),
                    None => fail!(i, "TOS value {w} is invalid"),
                }
            }
            "fwmark" => {
                i += 1;
                let w = word!(i);
                match parse_fwmark(w) {
                    Some(m) => r.fwmark = Some(m),
                    None => fail!(i, "Invalid rule fwmark {w} specified"),
                }
            }
            "realms" => {
                i += 1;
                let w = word!(i);
                let Some(v) = rttables::realms(w) else { fail!(i, "invalid realms {w} for rule") };
                r.realms = Some(v);
                table_option = true;
                if !merge_family(&mut family, Family::Inet) {
                    fail!(i, "realms is only valid for IPv4");
                }
            }
            "suppress_prefixlength" | "sup_pl" => {
                i += 1;
                let w = word!(i);
                match values::read_unsigned(w, 0, i32::MAX as u32) {
                    Ok(v) => r.suppress_prefixlength = Some(v),
                    Err(err) => {
                        p.entry_error(err.class, e, i, err.message);
                        fail!(i, "Invalid suppress_prefixlength {kw} specified");
                    }
                }
                table_option = true;
            }
            "suppress_ifgroup" | "sup_group" => {
                i += 1;
                let w = word!(i);
                match rttables::lookup(Table::Groups, w) {
                    Some(g) => r.suppress_ifgroup = Some(g),
                    None => fail!(i, "suppress_group {w} is invalid"),
                }
                table_option = true;
            }
            "dev" | "iif" | "oif" => {
                i += 1;
                let w = word!(i);
                if p.interface(w).is_none() {
                    fail!(i, "WARNING - interface {w} for rule doesn't exist");
                }
                if kw == "oif" {
                    r.oif = Some(w.to_string());
                } else {
                    r.iif = Some(w.to_string());
                }
            }
            "tunnel-id" => {
                i += 1;
                let w = word!(i);
                match values::read_u64(w, 0, u64::MAX) {
                    Ok(v) => r.tunnel_id = Some(v),
                    Err(err) => {
                        p.entry_error(err.class, e, i, err.message);
                        fail!(i, "Invalid tunnel-id {kw} specified");
                    }
                }
            }
            "uidrange" => {
                i += 1;
                let w = word!(i);
                match values::parse_range_u32(w) {
                    Some(range) => r.uidrange = Some(range),
                    None => fail!(i, "Invalid uidrange {kw} specified"),
                }
            }
            "l3mdev" => {
                if action.is_some() {
                    fail!(i, "Cannot specify l3mdev with other action");
                }
                action = Some(RuleAction::L3mdev);
            }
            "protocol" => {
                i += 1;
                let w = word!(i);
                match values::read_unsigned(w, 0, 255) {
                    Ok(v) => protocol = Some(v as u8),
                    Err(err) => {
                        p.entry_error(err.class, e, i, err.message);
                        p.entry_error(ErrClass::GeneralError, e, i, format!("Invalid protocol {w}"));
                    }
                }
            }
            "ipproto" => {
                i += 1;
                let w = word!(i);
                match rttables::ip_proto(w) {
                    Some(v) => r.ipproto = Some(v),
                    None => p.entry_error(ErrClass::GeneralError, e, i, format!("Invalid ipproto {w}")),
                }
            }
            "sport" | "dport" => {
                i += 1;
                let w = word!(i);
                match values::parse_port_range(w) {
                    Some(range) if kw == "sport" => r.sport = Some(range),
                    Some(range) => r.dport = Some(range),
                    None => p.entry_error(ErrClass::GeneralError, e, i, format!("invalid {kw} range {w}")),
                }
            }
            "no_track" => r.no_track = true,
            "track_group" if allow_track_group => {
                i += 1;
                let w = word!(i);
                if !track_group_option(p, e, i, w, &mut r.track_group) {
                    break;
                }
            }
            _ => {
                let mut w = kw;
                if w == "type" {
                    i += 1;
                    w = word!(i);
                }
                let a = match w {
                    "goto" => {
                        i += 1;
                        let t = word!(i);
                        match values::read_unsigned(t, 0, u32::MAX) {
                            Ok(v) => RuleAction::Goto(v),
                            Err(err) => {
                                p.entry_error(err.class, e, i, err.message);
                                fail!(i, "Invalid target {w} specified");
                            }
                        }
                    }
                    "nop" => RuleAction::Nop,
                    _ => match rttables::route_type(w) {
                        Some(RouteType::Blackhole) => RuleAction::Blackhole,
                        Some(RouteType::Unreachable) => RuleAction::Unreachable,
                        Some(RouteType::Prohibit) => RuleAction::Prohibit,
                        Some(_) => fail!(i, "Invalid rule action {w}"),
                        None => {
                            suggest(p, e, i, format!("Unknown rule option {w}"), w, RULE_WORDS);
                            return None;
                        }
                    },
                };
                one_action!(
                    i,
                    a,
                    "Cannot specify more than one of table/nop/goto/blackhole/prohibit/unreachable/l3mdev for rule"
                );
            }
        }
        i += 1;
    }

    let Some(action) = action else { fail!(0, "No action specified for rule - ignoring") };
    if let RuleAction::Goto(target) = action {
        match r.priority {
            Some(pref) if pref >= target => fail!(0, "Invalid rule - preference {pref} >= goto target {target}"),
            Some(_) => {}
            None => fail!(0, "Invalid rule - goto target {target} specified without preference"),
        }
    }
    if table_option && !matches!(action, RuleAction::Table(_) | RuleAction::L3mdev) {
        fail!(0, "suppressor/realm specified for non table action - skipping");
    }
    r.action = action;
    r.protocol = entry_protocol(p, e, "Rule", r.no_track, protocol, 0);
    if r.track_group.is_some() && r.iif.is_none() {
        p.entry_error(
            ErrClass::GeneralError,
            e,
            0,
            "Static rule cannot have track_group if dev/iif not specified".into(),
        );
        r.track_group = None;
    }
    r.family = family.unwrap_or(Family::Inet);
    if from_any {
        r.from = Some(any_prefix(r.family));
    }
    if to_any {
        r.to = Some(any_prefix(r.family));
    }
    if r.priority.is_none() {
        let next = match r.family {
            Family::Inet => &mut p.next_rule_priority_v4,
            Family::Inet6 => &mut p.next_rule_priority_v6,
        };
        let prio = *next;
        *next = next.saturating_sub(1);
        r.priority = Some(prio);
        p.entry_error(
            ErrClass::GeneralError,
            e,
            0,
            format!("Rule has no preference specified - setting to {prio}. This is probably not what you want."),
        );
    }
    Some(r)
}

/// `track_group NAME` of a static entry; `false` for a second one, which ends the
/// entry's options as in keepalived.
fn track_group_option(
    p: &mut Parser<'_>,
    e: Entry<'_>,
    i: usize,
    name: &str,
    track_group: &mut Option<String>,
) -> bool {
    if track_group.is_some() {
        p.entry_error(ErrClass::GeneralError, e, i, format!("track_group {name} is a duplicate"));
        return false;
    }
    if p.raw.track_groups.iter().any(|(g, _)| g.name == name) {
        *track_group = Some(name.to_string());
    } else {
        p.entry_error(ErrClass::GeneralError, e, i, format!("track_group {name} not found"));
    }
    true
}

/// The protocol of a route or rule: keepalived tracks only its own, so a tracked entry
/// gets RTPROT_KEEPALIVED whatever was given (with an error if something else was), an
/// untracked one what was given or else `untracked_default`.
fn entry_protocol(
    p: &mut Parser<'_>,
    e: Entry<'_>,
    what: &str,
    no_track: bool,
    given: Option<u8>,
    untracked_default: u8,
) -> u8 {
    if no_track {
        return given.unwrap_or(untracked_default);
    }
    if given.is_some_and(|g| g != RTPROT_KEEPALIVED) {
        p.entry_error(
            ErrClass::GeneralError,
            e,
            0,
            format!(
                "{what} cannot be tracked if protocol is not RTPROT_KEEPALIVED({RTPROT_KEEPALIVED}), resetting protocol"
            ),
        );
    }
    RTPROT_KEEPALIVED
}

/// A GeneralError at word `i` with a did-you-mean over `words`.
fn suggest(p: &mut Parser<'_>, e: Entry<'_>, i: usize, message: String, word: &str, words: &[&str]) {
    let mut d = p.diag_at(ErrClass::GeneralError, e.line, None, message);
    d.span = Some(e.span(i));
    d.width = word.chars().count().max(1);
    d.did_you_mean = crate::config::diag::did_you_mean(word, words.iter().copied());
    p.diags.push(d);
}

const ADDRESS_WORDS: &[&str] = &[
    "dev", "scope", "broadcast", "brd", "label", "peer", "home", "-nodad", "mngtmpaddr", "noprefixroute", "autojoin",
    "no_track", "preferred_lft", "use_vmac", "track_group",
];

const ROUTE_WORDS: &[&str] = &[
    "inet", "inet6", "src", "as", "via", "gw", "from", "tos", "dsfield", "table", "protocol", "scope", "metric",
    "priority", "preference", "dev", "oif", "onlink", "encap", "expires", "mtu", "hoplimit", "advmss", "rtt", "rttvar",
    "reordering", "window", "cwnd", "ssthresh", "realms", "rto_min", "initcwnd", "initrwnd", "features", "quickack",
    "congctl", "pref", "ttl-propagate", "fastopen_no_cookie", "add", "prepend", "append", "or", "nexthop", "no_track",
    "track_group", "vrf", "to", "unicast", "local", "broadcast", "anycast", "multicast", "blackhole", "unreachable",
    "prohibit", "throw", "nat", "xresolve",
];

const RULE_WORDS: &[&str] = &[
    "from", "to", "table", "lookup", "not", "preference", "order", "priority", "tos", "dsfield", "fwmark", "realms",
    "suppress_prefixlength", "sup_pl", "suppress_ifgroup", "sup_group", "dev", "iif", "oif", "tunnel-id", "uidrange",
    "l3mdev", "protocol", "ipproto", "sport", "dport", "no_track", "track_group", "type", "goto", "nop", "blackhole",
    "unreachable", "prohibit",
];

/// `MARK[/MASK]`, each any base.
fn parse_fwmark(s: &str) -> Option<(u32, Option<u32>)> {
    if s.trim_start().starts_with('-') {
        return None;
    }
    let (mark, rest) = values::strtoul0(s)?;
    let mark = u32::try_from(mark).ok()?;
    if rest.is_empty() {
        return Some((mark, None));
    }
    let mask_str = rest.strip_prefix('/')?;
    if mask_str.starts_with(|c: char| c.is_whitespace() || c == '-') {
        return None;
    }
    let (mask, rest) = values::strtoul0(mask_str)?;
    if !rest.is_empty() {
        return None;
    }
    Some((mark, Some(u32::try_from(mask).ok()?)))
}
