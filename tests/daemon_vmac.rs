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

fn config6(state: &str, priority: u32) -> String {
    format!(
        "global_defs {{\n router_id r{priority}\n}}\n\
         vrrp_instance VI_6 {{\n interface eth0\n state {state}\n virtual_router_id 61\n priority {priority}\n advert_int 1\n \
         use_vmac\n virtual_ipaddress {{\n  {VIP6}/64\n }}\n}}\n"
    )
}

const VIP6: &str = "2001:db8::1";
const VMAC6: &str = "00:00:5e:00:02:3d";
const VMAC6_DEV: &str = "vrrp.61";

fn link_local(lab: &Lab, host: &str, ifname: &str) -> String {
    let out = lab.ip(host, &["-6", "-o", "addr", "show", "dev", ifname, "scope", "link"]);
    out.split_whitespace().skip_while(|w| *w != "inet6").nth(1).and_then(|a| a.split('/').next()).unwrap_or_default().to_string()
}

/// An IPv6 VMAC carries the parent's link-local (as keepalived does), so each router
/// keeps its own advert source: the link-local of the virtual MAC would be the same on
/// every router of the VRID.
#[test]
fn an_ipv6_vmac_advertises_from_the_parents_link_local() {
    if !common::root_or_skip("vmac") {
        return;
    }
    let mut lab = lab();
    for h in ["r1", "r2", "c1"] {
        let a = match h {
            "r1" => "2001:db8::11/64",
            "r2" => "2001:db8::12/64",
            _ => "2001:db8::50/64",
        };
        lab.ip(h, &["addr", "add", a, "dev", "eth0", "nodad"]);
    }
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config6("MASTER", 150), &[]);
    let r2 = lab.start("r2", Impl::Kad, "r2", &config6("BACKUP", 100), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || holders(&lab, &ROUTERS, VMAC6_DEV, VIP6) == ["r1"]),
        "VIP not on r1's VMAC alone: {:?}\n{}",
        holders(&lab, &ROUTERS, VMAC6_DEV, VIP6),
        logs(&r1, &r2)
    );
    let (r1_ll, r2_ll) = (link_local(&lab, "r1", "eth0"), link_local(&lab, "r2", "eth0"));
    assert_eq!(link_local(&lab, "r1", VMAC6_DEV), r1_ll);
    assert_eq!(link_local(&lab, "r2", VMAC6_DEV), r2_ll);
    let cap = Capture::start(&lab, "c1", "eth0", "ip6 proto 112");
    assert!(wait_until(Duration::from_secs(4), || cap.text().lines().filter(|l| l.contains("VRRPv3")).count() >= 2));
    let lines = cap.stop();
    let adverts: Vec<&String> = lines.iter().filter(|l| l.contains("VRRPv3")).collect();
    assert!(
        adverts.iter().all(|l| l.contains(&format!("{VMAC6} > 33:33:00:00:00:12")) && l.contains(&format!("{r1_ll} > ff02::12"))),
        "{adverts:?}"
    );
    assert!(
        wait_until(Duration::from_secs(3), || lab.exec("c1", "ping", &["-6", "-c1", "-W1", VIP6]).status.success()),
        "client cannot reach the VIP"
    );
    assert_eq!(neigh_mac(&lab, "c1", VIP6, "eth0"), VMAC6);

    r1.kill9();
    lab.ip("r1", &["link", "set", "eth0", "down"]);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r2", VMAC6_DEV, VIP6)), "r2 did not take over\n{}", r2.log_text());
    assert!(
        wait_until(Duration::from_secs(3), || lab.exec("c1", "ping", &["-6", "-c1", "-W1", VIP6]).status.success()),
        "client cannot reach the VIP on r2"
    );
    assert_eq!(neigh_mac(&lab, "c1", VIP6, "eth0"), VMAC6);
}
