//! An IPv6 instance (VRRPv3): adverts from the link-local to ff02::12, the VIP moves on
//! failover, the new master's unsolicited neighbour advertisement moves the client's
//! entry, and SIGTERM removes the VIP.

mod common;

use common::e2e::{holders, mac_of, neigh_mac, Capture};
use common::lab::{wait_until, Impl, Lab};
use std::time::Duration;

const VIP: &str = "2001:db8::1";
const ROUTERS: [&str; 2] = ["r1", "r2"];

fn config(state: &str, priority: u32) -> String {
    format!(
        "global_defs {{\n router_id r{priority}\n}}\n\
         vrrp_instance VI_6 {{\n interface eth0\n state {state}\n virtual_router_id 61\n priority {priority}\n advert_int 1\n \
         virtual_ipaddress {{\n  {VIP}/64\n }}\n}}\n"
    )
}

fn lab() -> Lab {
    let mut lab = Lab::new("ip6");
    for (h, a) in [("r1", "2001:db8::11/64"), ("r2", "2001:db8::12/64"), ("c1", "2001:db8::50/64")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0", "nodad"]);
    }
    lab
}

fn link_local(lab: &Lab, host: &str) -> String {
    let out = lab.ip(host, &["-6", "-o", "addr", "show", "dev", "eth0", "scope", "link"]);
    out.split_whitespace().skip_while(|w| *w != "inet6").nth(1).and_then(|a| a.split('/').next()).unwrap_or_default().to_string()
}

#[test]
fn an_ipv6_vip_moves_and_the_client_follows_the_unsolicited_na() {
    if !common::root_or_skip("ipv6") {
        return;
    }
    let mut lab = lab();
    let adverts = Capture::start(&lab, "c1", "eth0", "ip6 proto 112");
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150), &[]);
    let mut r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100), &[]);
    assert!(
        wait_until(Duration::from_secs(10), || holders(&lab, &ROUTERS, "eth0", VIP) == ["r1"]),
        "r1 did not become the only master\n{}\n{}",
        r1.log_text(),
        r2.log_text()
    );
    // Adverts: VRRPv3 from r1's link-local to ff02::12.
    let r1_ll = link_local(&lab, "r1");
    let from_r1 = format!("{r1_ll} > ff02::12");
    assert!(wait_until(Duration::from_secs(4), || adverts.text().lines().filter(|l| l.contains(&from_r1)).count() >= 2));
    let lines = adverts.stop();
    let r1_adverts: Vec<&String> = lines.iter().filter(|l| l.contains(&from_r1)).collect();
    assert!(r1_adverts.iter().all(|l| l.contains("VRRPv3") && l.contains("vrid 61") && l.contains("prio 150")), "{r1_adverts:?}");

    assert!(
        wait_until(Duration::from_secs(3), || lab.exec("c1", "ping", &["-6", "-c1", "-W1", VIP]).status.success()),
        "client cannot reach the VIP on r1"
    );
    assert_eq!(neigh_mac(&lab, "c1", VIP, "eth0"), mac_of(&lab, "r1", "eth0"));

    // The master box dies. No client traffic follows: only r2's unsolicited NA can
    // change the client's entry.
    let nas = Capture::start(&lab, "c1", "eth0", "icmp6 and ip6[40] == 136");
    r1.kill9();
    lab.ip("r1", &["link", "set", "eth0", "down"]);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r2", "eth0", VIP)), "r2 did not take over\n{}", r2.log_text());
    let r2_mac = mac_of(&lab, "r2", "eth0");
    assert!(
        wait_until(Duration::from_secs(3), || neigh_mac(&lab, "c1", VIP, "eth0") == r2_mac),
        "client still has {} for the VIP, r2 is {r2_mac}",
        neigh_mac(&lab, "c1", VIP, "eth0")
    );
    let lines = nas.stop();
    let unsolicited: Vec<&String> =
        lines.iter().filter(|l| l.starts_with(|c: char| c.is_ascii_digit()) && l.contains(&r2_mac) && l.contains(&format!("tgt is {VIP}"))).collect();
    assert!(!unsolicited.is_empty(), "no neighbour advertisement for the VIP from r2:\n{}", lines.join("\n"));
    assert!(lab.exec("c1", "ping", &["-6", "-c1", "-W1", VIP]).status.success(), "client cannot reach the VIP on r2");

    r2.signal(libc::SIGTERM);
    assert_eq!(r2.wait_exit(Duration::from_secs(5)), Some(0), "{}", r2.log_text());
    assert!(!lab.has_addr("r2", "eth0", VIP), "VIP left on r2 after SIGTERM");
}
