//! Names for routing numbers (tables, scopes, protocols, realms, dsfield, groups) as
//! keepalived resolves them: a number in any base, else a name from /etc/iproute2/*, else
//! keepalived's built-in defaults.

use super::values::parse_number_any_base;
use crate::config::model::RouteType;
use std::collections::HashMap;
use std::sync::OnceLock;

const IPROUTE2_DIR: &str = "/etc/iproute2/";

#[derive(Clone, Copy)]
pub(crate) enum Table {
    Tables,
    Dsfield,
    Realms,
    Protos,
    Scopes,
    Groups,
}

impl Table {
    fn file(self) -> &'static str {
        match self {
            Table::Tables => "rt_tables",
            Table::Dsfield => "rt_dsfield",
            Table::Realms => "rt_realms",
            Table::Protos => "rt_protos",
            Table::Scopes => "rt_scopes",
            Table::Groups => "group",
        }
    }

    fn max(self) -> u64 {
        match self {
            Table::Tables => u64::from(u32::MAX),
            Table::Groups => i32::MAX as u64,
            _ => 255,
        }
    }

    fn defaults(self) -> &'static [(u32, &'static str)] {
        match self {
            Table::Tables => &[(253, "default"), (254, "main"), (255, "local")],
            Table::Scopes => &[(0, "global"), (255, "nowhere"), (254, "host"), (253, "link"), (200, "site")],
            Table::Protos => &[
                (0, "none"),
                (1, "redirect"),
                (2, "kernel"),
                (3, "boot"),
                (4, "static"),
                (8, "gated"),
                (9, "ra"),
                (10, "mrt"),
                (11, "zebra"),
                (12, "bird"),
                (42, "babel"),
                (13, "dnrouted"),
                (14, "xorp"),
                (15, "ntk"),
                (16, "dhcp"),
            ],
            _ => &[],
        }
    }
}

type Names = HashMap<String, u32>;

fn load(table: Table) -> Names {
    let mut names = Names::new();
    if let Ok(text) = std::fs::read_to_string(format!("{IPROUTE2_DIR}{}", table.file())) {
        for line in text.lines() {
            let line = line.split('#').next().unwrap_or("");
            let mut words = line.split_whitespace();
            let (Some(num), Some(name), None) = (words.next(), words.next(), words.next()) else {
                continue;
            };
            match parse_number_any_base(num) {
                Some(id) if id <= table.max() => {
                    names.entry(name.to_string()).or_insert(id as u32);
                }
                _ => {}
            }
        }
    }
    for (id, name) in table.defaults() {
        if !names.values().any(|v| v == id) {
            names.entry((*name).to_string()).or_insert(*id);
        }
    }
    names
}

fn names(table: Table) -> &'static Names {
    static CACHE: [OnceLock<Names>; 6] =
        [OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new(), OnceLock::new()];
    CACHE[table as usize].get_or_init(|| load(table))
}

/// A number (any base) within the table's range, or a known name.
pub(crate) fn lookup(table: Table, s: &str) -> Option<u32> {
    if let Some(v) = parse_number_any_base(s) {
        return (v <= table.max()).then_some(v as u32);
    }
    names(table).get(s).copied()
}

/// Route types by `ip route` name (`brd` is an alias of broadcast), or a number.
pub(crate) fn route_type(s: &str) -> Option<RouteType> {
    Some(match s {
        "local" => RouteType::Local,
        "nat" => RouteType::Nat,
        "broadcast" | "brd" => RouteType::Broadcast,
        "anycast" => RouteType::Anycast,
        "multicast" => RouteType::Multicast,
        "prohibit" => RouteType::Prohibit,
        "unreachable" => RouteType::Unreachable,
        "blackhole" => RouteType::Blackhole,
        "xresolve" => RouteType::Xresolve,
        "unicast" => RouteType::Unicast,
        "throw" => RouteType::Throw,
        _ => return route_type_from_number(s),
    })
}

fn route_type_from_number(s: &str) -> Option<RouteType> {
    let n = parse_number_any_base(s)?;
    Some(match n {
        1 => RouteType::Unicast,
        2 => RouteType::Local,
        3 => RouteType::Broadcast,
        4 => RouteType::Anycast,
        5 => RouteType::Multicast,
        6 => RouteType::Blackhole,
        7 => RouteType::Unreachable,
        8 => RouteType::Prohibit,
        9 => RouteType::Throw,
        10 => RouteType::Nat,
        11 => RouteType::Xresolve,
        _ => return None,
    })
}

/// `realms FROM/TO` or `realms TO`.
pub(crate) fn realms(s: &str) -> Option<u32> {
    match s.split_once('/') {
        Some((from, to)) => Some((lookup(Table::Realms, from)? << 16) | lookup(Table::Realms, to)?),
        None => lookup(Table::Realms, s),
    }
}

/// IP protocol numbers by name for `ipproto` (the common ones; numbers always work).
pub(crate) fn ip_proto(s: &str) -> Option<u8> {
    if let Some(n) = parse_number_any_base(s) {
        return u8::try_from(n).ok();
    }
    Some(match s {
        "icmp" => 1,
        "igmp" => 2,
        "tcp" => 6,
        "udp" => 17,
        "ipv6" => 41,
        "gre" => 47,
        "esp" => 50,
        "ah" => 51,
        "ipv6-icmp" | "icmpv6" => 58,
        "vrrp" => 112,
        "sctp" => 132,
        "udplite" => 136,
        _ => return None,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn built_in_names_resolve_even_without_iproute2_files() {
        assert_eq!(lookup(Table::Tables, "main"), Some(254));
        assert_eq!(lookup(Table::Scopes, "link"), Some(253));
        assert_eq!(lookup(Table::Protos, "static"), Some(4));
        assert_eq!(lookup(Table::Tables, "100"), Some(100));
        assert_eq!(lookup(Table::Scopes, "0x10"), Some(16));
        assert_eq!(lookup(Table::Scopes, "300"), None);
        assert_eq!(lookup(Table::Tables, "no-such-table"), None);
    }

    #[test]
    fn route_types_by_name_and_number() {
        assert_eq!(route_type("blackhole"), Some(RouteType::Blackhole));
        assert_eq!(route_type("brd"), Some(RouteType::Broadcast));
        assert_eq!(route_type("6"), Some(RouteType::Blackhole));
        assert_eq!(route_type("10.0.0.0/8"), None);
    }

    #[test]
    fn realms_pair_is_packed() {
        assert_eq!(realms("1/2"), Some((1 << 16) | 2));
        assert_eq!(realms("5"), Some(5));
    }
}
