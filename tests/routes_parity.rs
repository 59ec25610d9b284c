//! Route and rule parity with keepalived 2.2.7: one configuration using the main forms of
//! the route and rule grammar (types, tables, metrics, scope, src, gateways, onlink,
//! multipath, IPv6 with `from`, route metrics, rule selectors and actions, statics) runs
//! under kad and under keepalived in two identical namespaces; the kernel objects each
//! one leaves — as `ip -j route` / `ip -j rule` / `ip -j addr` show them — must be the
//! same while MASTER, and nothing may be left after SIGTERM.
//!
//! Forms that keepalived 2.2.7 cannot read (`inet6` before a route, single-port `dport`)
//! or installs wrongly (a `local` route with scope universe, which the kernel refuses) are
//! left out here and covered by tests/routes_lifecycle.rs.

mod common;

use common::lab::{wait_until, Daemon, Impl, Lab};
use serde_json::Value;
use std::time::Duration;

const CONFIG: &str = r#"
global_defs {
    router_id parity
}

static_ipaddress {
    198.51.100.200/32 dev eth1
}
static_routes {
    198.51.100.208/28 via 192.0.2.254 dev eth0
    2001:db8:5::/64 via 2001:db8::fc dev eth0
}
static_rules {
    from 198.51.100.200 table 102 priority 200
}

vrrp_instance VI_R {
    interface eth0
    state MASTER
    virtual_router_id 61
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
        203.0.113.10/24 dev eth1
    }
    virtual_ipaddress_excluded {
        2001:db8::1/64 dev eth0
    }
    virtual_routes {
        192.0.2.128/26 via 192.0.2.254 dev eth0 table 100 metric 5
        blackhole 198.51.100.0/28
        unreachable 198.51.100.16/28 table 101
        prohibit 198.51.100.32/28 metric 7
        throw 198.51.100.48/28 table 100
        203.0.113.128/25 src 203.0.113.10 dev eth1 scope link
        198.51.100.64/28 via 203.0.113.254 dev eth1 onlink
        198.51.100.80/28 nexthop via 192.0.2.253 dev eth0 weight 2 nexthop via 203.0.113.253 dev eth1
        198.51.100.112/28 via 192.0.2.252 dev eth0 mtu lock 1400 advmss 1360 initcwnd 10
        198.51.100.144/28 via 192.0.2.252 dev eth0 protocol boot no_track
        default via 203.0.113.254 dev eth1 table 103 tos 0x10
        2001:db8:1::/64 via 2001:db8::fe dev eth0 metric 10
        2001:db8:2::/64 via 2001:db8::fd dev eth0 table 100
        2001:db8:3::/64 from 2001:db8:4::/64 via 2001:db8::fd dev eth0
        2001:db8:6::/64 via inet6 2001:db8::fe dev eth0 metric 20
        198.51.100.160/28 via 192.0.2.252 dev eth0 realms 3/4
    }
    virtual_rules {
        from 192.0.2.0/24 table 100 priority 100
        to 198.51.100.0/24 lookup 101 priority 101
        fwmark 0x10/0xff table 100 priority 102
        from 203.0.113.0/24 iif eth1 priority 103 blackhole
        from 2001:db8::/48 table 100 priority 104
        priority 105 goto 107
        iif eth0 ipproto tcp dport 80-80 table 101 priority 106
        priority 107 nop
        uidrange 1000-2000 table 100 priority 108
        not from 192.0.2.128/25 oif eth1 table 103 priority 109 tos 0x10
        sport 1000-2000 ipproto udp prohibit priority 110
        to 198.51.100.128/25 suppress_prefixlength 0 table main priority 111
        from 198.51.100.192/28 unreachable priority 112
        to 198.51.100.208/28 realms 5 table 100 priority 113
        tunnel-id 7 table 100 priority 114
    }
}
"#;

/// Non-kernel routes the configuration makes: 13 IPv4 and 5 IPv6.
const ROUTES: usize = 18;
/// Rules it makes, besides the kernel's default ones (3 IPv4, 2 IPv6).
const RULES: usize = 16;
const DEFAULT_RULES: usize = 5;

fn set_up(lab: &mut Lab, host: &str) {
    lab.add_host(host);
    lab.connect(host, "eth0", &format!("lan{host}"));
    lab.connect(host, "eth1", &format!("wan{host}"));
    lab.ip(host, &["addr", "add", "192.0.2.11/24", "dev", "eth0"]);
    lab.ip(host, &["addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad"]);
}

fn json(lab: &Lab, host: &str, args: &[&str]) -> Vec<Value> {
    let out = lab.ip(host, &[&["-j"], args].concat());
    match serde_json::from_str::<Value>(&out) {
        Ok(Value::Array(items)) => items,
        Ok(other) => panic!("ip {args:?}: not a JSON array: {other}"),
        Err(e) => panic!("ip {args:?}: {e}: {out}"),
    }
}

/// The kernel objects that either daemon could have made, one line each, sorted.
fn snapshot(lab: &Lab, host: &str) -> Vec<String> {
    let mut lines = Vec::new();
    for family in ["-4", "-6"] {
        for r in json(lab, host, &[family, "route", "show", "table", "all"]) {
            if r.get("protocol").and_then(Value::as_str) != Some("kernel") {
                lines.push(format!("route {r}"));
            }
        }
        for r in json(lab, host, &[family, "rule", "show"]) {
            lines.push(format!("rule {r}"));
        }
    }
    for link in json(lab, host, &["addr", "show"]) {
        let ifname = link.get("ifname").and_then(Value::as_str).unwrap_or("?").to_string();
        for a in link.get("addr_info").and_then(Value::as_array).into_iter().flatten() {
            if a.get("scope").and_then(Value::as_str) == Some("global") {
                let local = a.get("local").and_then(Value::as_str).unwrap_or("?");
                let len = a.get("prefixlen").and_then(Value::as_u64).unwrap_or(0);
                lines.push(format!("addr {ifname} {local}/{len}"));
            }
        }
    }
    lines.sort();
    lines
}

fn count(lines: &[String], kind: &str) -> usize {
    lines.iter().filter(|l| l.starts_with(kind)).count()
}

fn difference(a: &[String], b: &[String]) -> String {
    let only_a: Vec<&String> = a.iter().filter(|l| !b.contains(l)).collect();
    let only_b: Vec<&String> = b.iter().filter(|l| !a.contains(l)).collect();
    format!("only kad:\n  {}\nonly keepalived:\n  {}", fmt(&only_a), fmt(&only_b))
}

fn fmt(lines: &[&String]) -> String {
    lines.iter().map(|s| s.as_str()).collect::<Vec<_>>().join("\n  ")
}

fn stop(d: &mut Daemon) {
    d.signal(libc::SIGTERM);
    assert!(
        d.wait_exit(Duration::from_secs(10)).is_some(),
        "{:?} did not stop:\n{}",
        d.which,
        d.log_text()
    );
}

#[test]
fn kernel_routes_rules_and_addresses_match_keepalived_and_all_go_at_stop() {
    if !common::root_or_skip("route parity") {
        return;
    }
    common::corpus::require_keepalived();
    let mut lab = Lab::new("rpar");
    set_up(&mut lab, "kad");
    set_up(&mut lab, "ka");
    let before = snapshot(&lab, "kad");
    let mut kad = lab.start("kad", Impl::Kad, "kad", CONFIG, &[]);
    let mut ka = lab.start("ka", Impl::Keepalived, "ka", CONFIG, &[]);
    let complete = |host: &str| {
        let s = snapshot(&lab, host);
        count(&s, "route") == ROUTES && count(&s, "rule") == RULES + DEFAULT_RULES
    };
    let kad_done = wait_until(Duration::from_secs(15), || complete("kad"));
    let ka_done = wait_until(Duration::from_secs(15), || complete("ka"));
    let (with_kad, with_ka) = (snapshot(&lab, "kad"), snapshot(&lab, "ka"));
    assert!(
        ka_done,
        "keepalived did not install everything: {with_ka:#?}\n{}",
        ka.log_text()
    );
    assert!(
        kad_done,
        "kad did not install everything: {with_kad:#?}\n{}",
        kad.log_text()
    );
    assert!(
        with_kad == with_ka,
        "kad and keepalived leave different kernel state:\n{}\n{}",
        difference(&with_kad, &with_ka),
        kad.log_text()
    );
    assert!(
        with_kad
            .iter()
            .any(|l| l.contains("198.51.100.144/28") && !l.contains("keepalived")),
        "the no_track route should keep its own protocol (boot, which ip does not print)"
    );

    stop(&mut kad);
    stop(&mut ka);
    let (after_kad, after_ka) = (snapshot(&lab, "kad"), snapshot(&lab, "ka"));
    assert_eq!(
        after_kad,
        before,
        "kad left objects behind:\n{}",
        difference(&after_kad, &before)
    );
    assert_eq!(
        after_ka, before,
        "keepalived left objects behind (the comparison is void)"
    );
}
