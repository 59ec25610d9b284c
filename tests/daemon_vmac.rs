//! use_vmac on the instance: the VIP lives on a macvlan carrying 00:00:5e:00:01:VRID,
//! adverts leave from that MAC, clients keep one MAC across failover, and SIGTERM takes
//! the VMAC and its sysctls away again.

mod common;

use common::e2e::{holders, link_exists, mac_of, neigh_mac, snapshot, snapshot_diff, Capture};
use common::lab::{wait_until, Daemon, Impl, Lab};
use std::time::Duration;

const VIP: &str = "192.0.2.1";
const VMAC: &str = "00:00:5e:00:01:33";
const VMAC_DEV: &str = "vrrp.51";
const ROUTERS: [&str; 2] = ["r1", "r2"];

fn config(state: &str, priority: u32) -> String {
    format!(
        "global_defs {{\n router_id r{priority}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n state {state}\n virtual_router_id 51\n priority {priority}\n advert_int 1\n \
         use_vmac\n virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n"
    )
}

fn lab() -> Lab {
    let mut lab = Lab::new("vmac");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24"), ("c1", "192.0.2.50/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    lab
}

/// Source MACs of the VRRP frames in a client capture.
fn advert_sources(lines: &[String]) -> Vec<String> {
    lines.iter().filter(|l| l.contains("VRRP")).filter_map(|l| l.split_whitespace().nth(1).map(str::to_string)).collect()
}

fn logs(r1: &Daemon, r2: &Daemon) -> String {
    format!("--- r1 ---\n{}\n--- r2 ---\n{}", r1.log_text(), r2.log_text())
}

#[test]
fn the_vip_is_reached_through_the_virtual_mac_before_and_after_failover() {
    if !common::root_or_skip("vmac") {
        return;
    }
    let mut lab = lab();
    let r2_before = snapshot(&lab, "r2");
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150), &[]);
    let mut r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100), &[]);
    assert!(
        wait_until(Duration::from_secs(8), || holders(&lab, &ROUTERS, VMAC_DEV, VIP) == ["r1"]),
        "VIP not on r1's VMAC alone\n{}",
        logs(&r1, &r2)
    );
    assert!(link_exists(&lab, "r2", VMAC_DEV), "the backup has no VMAC");
    // Creating the VMAC (down, then up) is no interface failure.
    assert!(!r1.log_text().contains("FAULT"), "r1 went through FAULT at start:\n{}", r1.log_text());
    assert_eq!(mac_of(&lab, "r1", VMAC_DEV), VMAC);
    assert!(!lab.has_addr("r1", "eth0", VIP), "VIP on the parent instead of the VMAC");

    // Adverts on the wire come from the virtual MAC.
    let cap = Capture::start(&lab, "c1", "eth0", "vrrp or arp");
    assert!(lab.exec("c1", "ping", &["-c1", "-W1", VIP]).status.success(), "client cannot reach the VIP");
    assert_eq!(neigh_mac(&lab, "c1", VIP, "eth0"), VMAC);
    assert!(wait_until(Duration::from_secs(4), || advert_sources(&cap.text().lines().map(str::to_string).collect::<Vec<_>>()).len() >= 2));
    let sources = advert_sources(&cap.stop());
    assert!(sources.iter().all(|m| m == VMAC), "adverts from {sources:?}, expected {VMAC}");

    // The master box dies; the backup takes over with the same MAC.
    r1.kill9();
    lab.ip("r1", &["link", "set", "eth0", "down"]);
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r2", VMAC_DEV, VIP)),
        "r2 did not take over\n{}",
        r2.log_text()
    );
    let cap = Capture::start(&lab, "c1", "eth0", "vrrp");
    assert!(
        wait_until(Duration::from_secs(3), || lab.exec("c1", "ping", &["-c1", "-W1", VIP]).status.success()),
        "client cannot reach the VIP on r2"
    );
    assert_eq!(neigh_mac(&lab, "c1", VIP, "eth0"), VMAC, "the client's entry changed MAC");
    assert!(wait_until(Duration::from_secs(4), || advert_sources(&cap.text().lines().map(str::to_string).collect::<Vec<_>>()).len() >= 2));
    let sources = advert_sources(&cap.stop());
    assert!(sources.iter().all(|m| m == VMAC), "r2's adverts from {sources:?}, expected {VMAC}");

    // SIGTERM: VMAC gone, every sysctl as before.
    r2.signal(libc::SIGTERM);
    assert_eq!(r2.wait_exit(Duration::from_secs(5)), Some(0), "{}", r2.log_text());
    assert!(!link_exists(&lab, "r2", VMAC_DEV), "VMAC left behind");
    let r2_after = snapshot(&lab, "r2");
    assert!(r2_before == r2_after, "r2 changed by kad:\n{}", snapshot_diff(&r2_before, &r2_after));
}
