//! Two kad routers and a client on one segment, in network namespaces.

mod common;

use common::lab::{wait_until, Impl, Lab};
use std::time::Duration;

fn config(state: &str, priority: u32, extra: &str) -> String {
    format!(
        "global_defs {{\n router_id r{priority}\n}}\nvrrp_instance VI_1 {{\n interface eth0\n state {state}\n virtual_router_id 51\n priority {priority}\n advert_int 1\n{extra}\n virtual_ipaddress {{\n  192.0.2.1/24\n }}\n}}\n"
    )
}

fn lab() -> Lab {
    let mut lab = Lab::new("pair");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24"), ("c1", "192.0.2.50/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    lab
}

fn mac_of(lab: &Lab, host: &str) -> String {
    let out = lab.ip(host, &["-o", "link", "show", "eth0"]);
    out.split_whitespace().skip_while(|w| *w != "link/ether").nth(1).unwrap_or_default().to_string()
}

fn neigh_mac(lab: &Lab, host: &str, addr: &str) -> String {
    let out = lab.ip(host, &["neigh", "show", addr, "dev", "eth0"]);
    out.split_whitespace().skip_while(|w| *w != "lladdr").nth(1).unwrap_or_default().to_string()
}

#[test]
fn configured_master_wins_and_the_backup_takes_over_when_it_is_killed() {
    if !common::root_or_skip("daemon pair") {
        return;
    }
    let mut lab = lab();
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150, ""), &[]);
    let _r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, ""), &[]);
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r1", "eth0", "192.0.2.1")),
        "r1 never became master:\n{}",
        r1.log_text()
    );
    assert!(!lab.has_addr("r2", "eth0", "192.0.2.1"), "VIP on both routers");
    // The client learns the VIP at r1's MAC.
    assert!(lab.exec("c1", "ping", &["-c1", "-W1", "192.0.2.1"]).status.success());
    assert_eq!(neigh_mac(&lab, "c1", "192.0.2.1"), mac_of(&lab, "r1"));

    r1.kill9();
    assert!(
        wait_until(Duration::from_secs(5), || lab.has_addr("r2", "eth0", "192.0.2.1")),
        "r2 did not take over"
    );
    // The new master's gratuitous ARP moves the client's neighbour entry.
    assert!(
        wait_until(Duration::from_secs(2), || neigh_mac(&lab, "c1", "192.0.2.1") == mac_of(&lab, "r2")),
        "client still has {} for the VIP",
        neigh_mac(&lab, "c1", "192.0.2.1")
    );
}

#[test]
fn sigterm_on_the_master_hands_over_within_skew_time_and_leaves_nothing_behind() {
    if !common::root_or_skip("daemon pair") {
        return;
    }
    let mut lab = lab();
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150, ""), &[]);
    let _r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, ""), &[]);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r1", "eth0", "192.0.2.1")));
    r1.signal(libc::SIGTERM);
    let start = std::time::Instant::now();
    assert!(wait_until(Duration::from_secs(3), || lab.has_addr("r2", "eth0", "192.0.2.1")));
    // Priority 0 makes the backup wait Skew_Time ((256-100)/256 s = 609 ms), not 3 s.
    assert!(start.elapsed() < Duration::from_millis(1500), "takeover took {:?}", start.elapsed());
    assert_eq!(r1.wait_exit(Duration::from_secs(3)), Some(0), "kad did not exit cleanly");
    assert!(!lab.has_addr("r1", "eth0", "192.0.2.1"), "VIP left behind after SIGTERM");
    assert!(!r1.pid_file.exists(), "pid file left behind");
}

#[test]
fn a_returning_higher_priority_router_preempts_unless_nopreempt() {
    if !common::root_or_skip("daemon pair") {
        return;
    }
    for (nopreempt, expect_r1) in [(false, true), (true, false)] {
        let mut lab = lab();
        let extra = if nopreempt { " nopreempt" } else { "" };
        let state = if nopreempt { "BACKUP" } else { "MASTER" };
        let _r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, extra), &[]);
        assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r2", "eth0", "192.0.2.1")));
        let _r1 = lab.start("r1", Impl::Kad, "r1", &config(state, 150, extra), &[]);
        let r1_took = wait_until(Duration::from_secs(6), || lab.has_addr("r1", "eth0", "192.0.2.1"));
        assert_eq!(r1_took, expect_r1, "nopreempt={nopreempt}");
        assert_ne!(lab.has_addr("r1", "eth0", "192.0.2.1"), lab.has_addr("r2", "eth0", "192.0.2.1"));
    }
}

#[test]
fn a_stale_vip_from_a_killed_run_is_removed_at_start() {
    if !common::root_or_skip("daemon pair") {
        return;
    }
    let mut lab = lab();
    let _r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150, ""), &[]);
    // r2 starts with the VIP already on its interface, as after a crash.
    lab.ip("r2", &["addr", "add", "192.0.2.1/24", "dev", "eth0"]);
    let r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, ""), &[]);
    assert!(
        wait_until(Duration::from_secs(3), || !lab.has_addr("r2", "eth0", "192.0.2.1")),
        "stale VIP kept:\n{}",
        r2.log_text()
    );
}
