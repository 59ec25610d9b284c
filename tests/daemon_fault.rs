//! Link loss on the master: FAULT (with its log line), the backup takes over; the link
//! comes back: BACKUP, then MASTER again if it preempts. Without preemption it must stay
//! BACKUP, which it only does if it hears the master again (multicast after the flap).

mod common;

use common::e2e::{holders, switch_port};
use common::lab::{wait_until, Daemon, Impl, Lab};
use std::process::Command;
use std::time::Duration;

const VIP: &str = "192.0.2.1";
const ROUTERS: [&str; 2] = ["r1", "r2"];

fn config(state: &str, priority: u32, extra: &str) -> String {
    format!(
        "global_defs {{\n router_id r{priority}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n state {state}\n virtual_router_id 51\n priority {priority}\n advert_int 1\n\
         {extra}\n virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n"
    )
}

fn lab() -> Lab {
    let mut lab = Lab::new("fault");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    lab
}

fn logs(r1: &Daemon, r2: &Daemon) -> String {
    format!("--- r1 ---\n{}\n--- r2 ---\n{}", r1.log_text(), r2.log_text())
}

fn count(d: &Daemon, line: &str) -> usize {
    d.log_text().matches(line).count()
}

fn switch_link(lab: &Lab, port: &str, state: &str) {
    let ok = Command::new("ip").args(["-n", &lab.ns("sw"), "link", "set", port, state]).status().map(|s| s.success());
    assert_eq!(ok.ok(), Some(true), "cannot set switch port {port} {state}");
}

#[test]
fn link_down_on_the_master_means_fault_and_takeover_and_link_up_preempts_back() {
    if !common::root_or_skip("fault") {
        return;
    }
    let mut lab = lab();
    let r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150, ""), &[]);
    let r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, ""), &[]);
    assert!(wait_until(Duration::from_secs(8), || holders(&lab, &ROUTERS, "eth0", VIP) == ["r1"]), "{}", logs(&r1, &r2));
    let masters = count(&r1, "Entering MASTER STATE");

    lab.ip("r1", &["link", "set", "eth0", "down"]);
    assert!(
        wait_until(Duration::from_secs(3), || r1.log_text().contains("(VI_1) Entering FAULT STATE")),
        "no FAULT on link down\n{}",
        r1.log_text()
    );
    assert!(wait_until(Duration::from_secs(2), || !lab.has_addr("r1", "eth0", VIP)), "FAULT kept the VIP");
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r2", "eth0", VIP)), "r2 did not take over\n{}", logs(&r1, &r2));

    lab.ip("r1", &["link", "set", "eth0", "up"]);
    assert!(
        wait_until(Duration::from_secs(10), || holders(&lab, &ROUTERS, "eth0", VIP) == ["r1"]),
        "r1 did not preempt after link up\n{}",
        logs(&r1, &r2)
    );
    let text = r1.log_text();
    let after_fault = &text[text.rfind("Entering FAULT STATE").unwrap_or(0)..];
    assert!(after_fault.contains("Entering BACKUP STATE"), "r1 did not recover through BACKUP:\n{text}");
    assert_eq!(count(&r1, "Entering MASTER STATE"), masters + 1, "{text}");
}

#[test]
fn after_carrier_loss_a_nopreempt_router_stays_backup_hearing_the_new_master() {
    if !common::root_or_skip("fault") {
        return;
    }
    let mut lab = lab();
    let r1 = lab.start("r1", Impl::Kad, "r1", &config("BACKUP", 150, " nopreempt"), &[]);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r1", "eth0", VIP)), "{}", r1.log_text());
    let r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, " nopreempt"), &[]);
    assert!(wait_until(Duration::from_secs(3), || r2.log_text().contains("Entering BACKUP STATE")));

    // The cable is pulled on the switch side: carrier loss, not an admin change.
    let port = switch_port(&lab, "r1", "eth0");
    switch_link(&lab, &port, "down");
    assert!(
        wait_until(Duration::from_secs(3), || r1.log_text().contains("(VI_1) Entering FAULT STATE")),
        "no FAULT on carrier loss\n{}",
        r1.log_text()
    );
    assert!(wait_until(Duration::from_secs(8), || holders(&lab, &ROUTERS, "eth0", VIP) == ["r2"]), "{}", logs(&r1, &r2));

    let text_len = r1.log_text().len();
    switch_link(&lab, &port, "up");
    assert!(
        wait_until(Duration::from_secs(3), || r1.log_text()[text_len..].contains("Entering BACKUP STATE")),
        "r1 did not leave FAULT\n{}",
        r1.log_text()
    );
    // Longer than Master_Down_Interval (3.4 s here): only r2's adverts keep r1 BACKUP.
    let stayed = !wait_until(Duration::from_secs(6), || lab.has_addr("r1", "eth0", VIP));
    assert!(stayed, "r1 became master again: it does not hear r2 after the flap\n{}", logs(&r1, &r2));
    assert_eq!(holders(&lab, &ROUTERS, "eth0", VIP), ["r2"]);
}

/// A driver restart deletes and re-creates the device (new index, memberships gone):
/// kad must open its socket again and join the group (keepalived issue 1847 left nodes
/// stuck).
#[test]
fn a_recreated_interface_is_joined_again() {
    if !common::root_or_skip("fault") {
        return;
    }
    let mut lab = lab();
    let r1 = lab.start("r1", Impl::Kad, "r1", &config("BACKUP", 150, " nopreempt"), &[]);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r1", "eth0", VIP)), "{}", r1.log_text());
    let r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, " nopreempt"), &[]);
    assert!(wait_until(Duration::from_secs(3), || r2.log_text().contains("Entering BACKUP STATE")));

    lab.ip("r1", &["link", "del", "eth0"]);
    assert!(
        wait_until(Duration::from_secs(3), || r1.log_text().contains("(VI_1) Entering FAULT STATE")),
        "no FAULT when the interface vanished\n{}",
        r1.log_text()
    );
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r2", "eth0", VIP)), "{}", logs(&r1, &r2));

    let text_len = r1.log_text().len();
    lab.connect("r1", "eth0", "lan");
    lab.ip("r1", &["addr", "add", "192.0.2.11/24", "dev", "eth0"]);
    assert!(
        wait_until(Duration::from_secs(3), || r1.log_text()[text_len..].contains("Entering BACKUP STATE")),
        "r1 did not leave FAULT\n{}",
        r1.log_text()
    );
    let stayed = !wait_until(Duration::from_secs(6), || lab.has_addr("r1", "eth0", VIP));
    assert!(stayed, "r1 became master: it does not hear r2 on the new device\n{}", logs(&r1, &r2));
}
