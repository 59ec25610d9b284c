//! What kad adds to the kernel goes away again: after SIGTERM the box is as before
//! (addresses, routes of every table, rules, links, sysctls); after SIGKILL a restarted
//! kad removes the stale VIPs, routes, rules and VMACs of the dead run.

mod common;

use common::e2e::{link_exists, link_is_up, snapshot, snapshot_diff};
use common::lab::{wait_until, Impl, Lab};
use std::time::Duration;

const VRRP_ONLY: &str = "VI_1";

/// Everything kad can put in the kernel: VIPs with and without `dev`, an excluded IPv6
/// VIP, the instance VMAC, a per-VIP VMAC on eth4, virtual routes (main table and table
/// 100), a virtual rule, and static address, route and rule. With `second`, a second
/// instance with its own VMAC (VRID 52).
fn config(priority: u32, second: bool) -> String {
    let mut c = format!(
        "global_defs {{\n router_id r{priority}\n}}\n\
         static_ipaddress {{\n 192.0.2.99/32 dev eth0\n}}\n\
         static_routes {{\n 203.0.113.128/25 via 192.0.2.254 dev eth0\n}}\n\
         static_rules {{\n from 192.0.2.99 table 101 priority 1001\n}}\n\
         vrrp_instance {VRRP_ONLY} {{\n interface eth0\n state BACKUP\n virtual_router_id 51\n priority {priority}\n advert_int 1\n use_vmac\n \
         virtual_ipaddress {{\n  192.0.2.1/24\n  203.0.113.10/24 dev eth4 use_vmac\n }}\n \
         virtual_ipaddress_excluded {{\n  2001:db8::1/64 dev eth0\n }}\n \
         virtual_routes {{\n  198.51.100.0/24 via 192.0.2.254 dev eth0\n  default via 192.0.2.254 dev eth0 table 100\n }}\n \
         virtual_rules {{\n  from 192.0.2.1 table 100 priority 1000\n }}\n}}\n"
    );
    if second {
        c.push_str(
            "vrrp_instance VI_2 {\n interface eth0\n state BACKUP\n virtual_router_id 52\n priority 100\n advert_int 1\n use_vmac\n \
             virtual_ipaddress {\n  192.0.2.2/24\n }\n}\n",
        );
    }
    c
}

fn lab(hosts: &[&str]) -> Lab {
    let mut lab = Lab::new("clean");
    for (i, h) in hosts.iter().enumerate() {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", &format!("192.0.2.{}/24", 11 + i), "dev", "eth0"]);
        lab.connect(h, "eth4", "wan");
        // A strict reverse-path filter, so kad's rp_filter relaxing and restoring runs.
        lab.sh(h, "echo 1 > /proc/sys/net/ipv4/conf/all/rp_filter; echo 1 > /proc/sys/net/ipv4/conf/eth0/rp_filter");
    }
    lab
}

fn has_route(lab: &Lab, host: &str, args: &[&str]) -> bool {
    let mut full = vec!["route", "show"];
    full.extend_from_slice(args);
    !lab.ip(host, &full).trim().is_empty()
}

fn has_rule(lab: &Lab, host: &str, pref: &str) -> bool {
    lab.ip(host, &["rule", "show"]).lines().any(|l| l.starts_with(&format!("{pref}:")))
}

/// Whether every object of the config is in place on a master.
fn all_in_place(lab: &Lab, host: &str) -> bool {
    lab.has_addr(host, "vrrp.51", "192.0.2.1")
        && lab.has_addr(host, "vrrp1.51", "203.0.113.10")
        && lab.has_addr(host, "eth0", "2001:db8::1")
        && lab.has_addr(host, "eth0", "192.0.2.99")
        && has_route(lab, host, &["198.51.100.0/24"])
        && has_route(lab, host, &["default", "table", "100"])
        && has_route(lab, host, &["203.0.113.128/25"])
        && has_rule(lab, host, "1000")
        && has_rule(lab, host, "1001")
}

#[test]
fn sigterm_leaves_the_box_as_it_was() {
    if !common::root_or_skip("cleanup") {
        return;
    }
    let mut lab = lab(&["r1"]);
    let before = snapshot(&lab, "r1");
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config(150, true), &[]);
    assert!(wait_until(Duration::from_secs(8), || all_in_place(&lab, "r1")), "not everything was installed\n{}", r1.log_text());
    assert!(link_exists(&lab, "r1", "vrrp.52"));
    let during = snapshot(&lab, "r1");
    assert!(during != before, "kad changed nothing: the comparison would prove nothing");
    assert!(
        during.iter().any(|l| l.contains("rp_filter=0") && l.contains("/all/")),
        "all.rp_filter was not relaxed:\n{}",
        snapshot_diff(&before, &during)
    );

    r1.signal(libc::SIGTERM);
    assert_eq!(r1.wait_exit(Duration::from_secs(5)), Some(0), "{}", r1.log_text());
    let after = snapshot(&lab, "r1");
    assert!(before == after, "left behind by kad:\n{}\nlog:\n{}", snapshot_diff(&before, &after), r1.log_text());
}

#[test]
fn a_restart_after_sigkill_removes_what_the_dead_run_left() {
    if !common::root_or_skip("cleanup") {
        return;
    }
    let mut lab = lab(&["r1", "r2"]);
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config(150, true), &[]);
    assert!(wait_until(Duration::from_secs(8), || all_in_place(&lab, "r1")), "{}", r1.log_text());
    r1.kill9();
    assert!(all_in_place(&lab, "r1"), "SIGKILL should leave everything in place");

    // A higher-priority peer is master now; r1 comes back without VI_2.
    let r2 = lab.start("r2", Impl::Kad, "r2", &config(200, false), &[]);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r2", "vrrp.51", "192.0.2.1")), "{}", r2.log_text());
    let r1 = lab.start("r1", Impl::Kad, "r1b", &config(150, false), &[]);
    let clean = || {
        !lab.has_addr("r1", "vrrp.51", "192.0.2.1")
            && !lab.has_addr("r1", "vrrp1.51", "203.0.113.10")
            && !lab.has_addr("r1", "eth0", "2001:db8::1")
            && !has_route(&lab, "r1", &["198.51.100.0/24"])
            && !has_route(&lab, "r1", &["default", "table", "100"])
            && !has_rule(&lab, "r1", "1000")
            && !link_exists(&lab, "r1", "vrrp.52")
    };
    assert!(wait_until(Duration::from_secs(5), clean), "stale objects kept:\n{}\n{}", lab.ip("r1", &["-o", "addr"]), r1.log_text());
    // The per-VIP VMAC stays, down, for when r1 is master again.
    assert!(!link_is_up(&lab, "r1", "vrrp1.51"), "the backup's per-VIP VMAC is up");
    assert!(r1.log_text().contains("Entering BACKUP STATE"), "{}", r1.log_text());
    // Statics belong to every state: still there.
    assert!(lab.has_addr("r1", "eth0", "192.0.2.99") && has_rule(&lab, "r1", "1001"));
}
