//! Unicast peers (unicast_src_ip + unicast_peer) instead of multicast: adverts go to the
//! peer's address and MAC, none to 224.0.0.18, and the VIP fails over both ways.

mod common;

use common::e2e::{holders, mac_of, Capture};
use common::lab::{wait_until, Daemon, Impl, Lab};
use std::time::Duration;

const VIP: &str = "192.0.2.1";
const ROUTERS: [&str; 2] = ["r1", "r2"];

fn config(state: &str, priority: u32, me: &str, peer: &str) -> String {
    format!(
        "global_defs {{\n router_id r{priority}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n state {state}\n virtual_router_id 51\n priority {priority}\n advert_int 1\n \
         unicast_src_ip {me}\n unicast_peer {{\n  {peer}\n }}\n virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n"
    )
}

fn r1_config() -> String {
    config("MASTER", 150, "192.0.2.11", "192.0.2.12")
}

fn lab() -> Lab {
    let mut lab = Lab::new("ucast");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24"), ("c1", "192.0.2.50/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    lab
}

/// VRRP lines of a capture sent from `src` to `dst`.
fn adverts<'a>(lines: &'a [String], src: &str, dst: &str) -> Vec<&'a String> {
    let pattern = format!("{src} > {dst}: VRRPv2");
    lines.iter().filter(|l| l.contains(&pattern)).collect()
}

fn logs(r1: &Daemon, r2: &Daemon) -> String {
    format!("--- r1 ---\n{}\n--- r2 ---\n{}", r1.log_text(), r2.log_text())
}

#[test]
fn unicast_peers_fail_over_both_ways_without_multicast() {
    if !common::root_or_skip("unicast") {
        return;
    }
    let mut lab = lab();
    // Multicast reaches the client (unicast too, while the bridge floods unknown MACs).
    let client = Capture::start(&lab, "c1", "eth0", "vrrp and ip multicast");
    let at_r2 = Capture::start(&lab, "r2", "eth0", "vrrp");
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &r1_config(), &[]);
    let r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, "192.0.2.12", "192.0.2.11"), &[]);
    assert!(
        wait_until(Duration::from_secs(8), || holders(&lab, &ROUTERS, "eth0", VIP) == ["r1"]),
        "r1 did not become the only master\n{}",
        logs(&r1, &r2)
    );
    let r2_mac = mac_of(&lab, "r2", "eth0");
    assert!(wait_until(Duration::from_secs(4), || {
        let lines: Vec<String> = at_r2.text().lines().map(str::to_string).collect();
        adverts(&lines, "192.0.2.11", "192.0.2.12").len() >= 2
    }));
    let lines = at_r2.stop();
    let to_r2 = adverts(&lines, "192.0.2.11", "192.0.2.12");
    assert!(to_r2.iter().all(|l| l.contains(&format!("> {r2_mac}")) && l.contains("prio 150")), "{to_r2:?}");

    // r1's box dies: r2 takes over and advertises to r1's address.
    r1.kill9();
    lab.ip("r1", &["link", "set", "eth0", "down"]);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r2", "eth0", VIP)), "r2 did not take over\n{}", logs(&r1, &r2));

    // r1 comes back: it hears r2's unicast adverts, preempts, and r2 steps down.
    lab.ip("r1", &["link", "set", "eth0", "up"]);
    let at_r1 = Capture::start(&lab, "r1", "eth0", "vrrp");
    let r1_again = lab.start("r1", Impl::Kad, "r1b", &r1_config(), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || holders(&lab, &ROUTERS, "eth0", VIP) == ["r1"]),
        "r1 did not take the VIP back\n{}",
        logs(&r1_again, &r2)
    );
    let lines = at_r1.stop();
    let r1_mac = mac_of(&lab, "r1", "eth0");
    let from_r2 = adverts(&lines, "192.0.2.12", "192.0.2.11");
    assert!(!from_r2.is_empty(), "r1 never received r2's unicast adverts:\n{}", lines.join("\n"));
    assert!(from_r2.iter().all(|l| l.contains(&format!("> {r1_mac}"))), "{from_r2:?}");
    assert!(r2.log_text().contains("Entering BACKUP STATE"), "{}", r2.log_text());

    let multicast = client.stop();
    assert!(multicast.is_empty(), "multicast VRRP seen by the client:\n{}", multicast.join("\n"));
}
