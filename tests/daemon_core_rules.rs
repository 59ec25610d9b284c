//! Protocol rules that only show over time, checked on real daemons in network
//! namespaces: `garp_extra_if` and `timer_expired_backup`.

mod common;

use common::capture::{Capture, Frame};
use common::lab::{wait_until, Daemon, Impl, Lab};
use std::net::Ipv4Addr;
use std::time::Duration;

const LAN_VIP: &str = "192.0.2.1";
const WAN_VIP: &str = "203.0.113.10";
/// The per-VIP VMAC of VRID 51.
const VMAC: [u8; 6] = [0x00, 0x00, 0x5e, 0x00, 0x01, 0x33];

fn announcements(frames: &[Frame], addr: &str) -> Vec<Frame> {
    let addr: Ipv4Addr = addr.parse().unwrap();
    frames.iter().filter(|f| f.arp_sender() == Some(addr)).cloned().collect()
}

/// One router: VRRP on eth0, the public VIP on a per-VIP VMAC over eth4. One GARP on
/// becoming MASTER and no second burst, so every later one is a periodic extra.
#[test]
fn garp_extra_if_refreshes_the_vmac_of_another_interface_every_interval() {
    if !common::root_or_skip("garp_extra_if") {
        return;
    }
    let mut lab = Lab::new("gxi");
    lab.add_host("r1");
    lab.connect("r1", "eth0", "lan");
    lab.ip("r1", &["addr", "add", "192.0.2.11/24", "dev", "eth0"]);
    lab.connect("r1", "eth4", "wan");
    let lan = Capture::start(&lab, "r1", "eth0", "lan");
    let wan = Capture::start(&lab, "r1", "eth4", "wan");
    let config = format!(
        "vrrp_instance VI_1 {{\n interface eth0\n state MASTER\n virtual_router_id 51\n priority 150\n advert_int 1\n\
         garp_master_delay 0\n garp_master_repeat 1\n garp_extra_if 1\n\
         virtual_ipaddress {{\n  {LAN_VIP}/24 dev eth0\n  {WAN_VIP}/24 dev eth4 use_vmac\n }}\n}}\n"
    );
    let r1 = lab.start("r1", Impl::Kad, "r1", &config, &[]);
    assert!(
        wait_until(Duration::from_secs(8), || announcements(&wan.frames(), WAN_VIP).len() >= 4),
        "fewer than 4 GARPs for {WAN_VIP}: {:?}\n{}",
        announcements(&wan.frames(), WAN_VIP),
        r1.log_text()
    );
    let wan_garps = announcements(&wan.frames(), WAN_VIP);
    assert!(wan_garps.iter().all(|f| f.src_mac == VMAC), "not from the VMAC: {wan_garps:?}");
    let gaps: Vec<f64> = wan_garps.windows(2).map(|w| w[1].time - w[0].time).collect();
    assert!(gaps.iter().all(|g| *g > 0.5), "periodic GARPs closer than the interval: {gaps:?}");
    // The advert interface is kept fresh by the adverts: only the MASTER burst there.
    assert_eq!(announcements(&lan.frames(), LAN_VIP).len(), 1, "{}", r1.log_text());
}

fn pair_config(priority: u32, extra: &str) -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n state BACKUP\n nopreempt\n{extra} virtual_router_id 51\n priority {priority}\n advert_int 1\n\
         virtual_ipaddress {{\n  {LAN_VIP}/24\n }}\n}}\n"
    )
}

/// r1 (priority 150, nopreempt) is MASTER and r2 (100) BACKUP; r1 is stopped until r2
/// has taken over, then continued. Returns the lab and both daemons.
fn master_sleeps_through_a_takeover(tag: &str, r1_extra: &str) -> (Lab, Daemon, Daemon) {
    let mut lab = Lab::new(tag);
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    let r1 = lab.start("r1", Impl::Kad, "r1", &pair_config(150, r1_extra), &[]);
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r1", "eth0", LAN_VIP)),
        "r1 never became MASTER\n{}",
        r1.log_text()
    );
    let r2 = lab.start("r2", Impl::Kad, "r2", &pair_config(100, ""), &[]);
    assert!(
        wait_until(Duration::from_secs(5), || r2.log_text().contains("Entering BACKUP STATE")),
        "r2 not BACKUP\n{}",
        r2.log_text()
    );
    r1.signal(libc::SIGSTOP);
    let took_over = wait_until(Duration::from_secs(8), || lab.has_addr("r2", "eth0", LAN_VIP));
    r1.signal(libc::SIGCONT);
    assert!(took_over, "r2 did not take over from the stopped r1\n{}", r2.log_text());
    (lab, r1, r2)
}

#[test]
fn timer_expired_backup_makes_an_overslept_master_leave_the_new_master_alone() {
    if !common::root_or_skip("timer_expired_backup") {
        return;
    }
    let (lab, r1, r2) = master_sleeps_through_a_takeover("teb", " timer_expired_backup\n");
    assert!(
        wait_until(Duration::from_secs(3), || r1.log_text().contains("VRRP thread timer expired")),
        "r1 did not notice it overslept\n{}",
        r1.log_text()
    );
    assert!(
        wait_until(Duration::from_secs(3), || !lab.has_addr("r1", "eth0", LAN_VIP)),
        "r1 kept the VIP\n{}",
        r1.log_text()
    );
    // Several advert intervals: r2 stays MASTER, r1 stays BACKUP.
    std::thread::sleep(Duration::from_secs(4));
    assert!(lab.has_addr("r2", "eth0", LAN_VIP), "r2 lost the VIP\n{}\n{}", r1.log_text(), r2.log_text());
    assert!(!lab.has_addr("r1", "eth0", LAN_VIP), "r1 took the VIP back\n{}", r1.log_text());
}

/// The same without the option: the overslept MASTER answers the new MASTER's
/// lower-priority adverts and wins the election back, nopreempt notwithstanding.
#[test]
fn without_timer_expired_backup_an_overslept_master_takes_over_again() {
    if !common::root_or_skip("timer_expired_backup") {
        return;
    }
    let (lab, r1, r2) = master_sleeps_through_a_takeover("tnb", "");
    assert!(
        wait_until(Duration::from_secs(5), || !lab.has_addr("r2", "eth0", LAN_VIP)),
        "r2 kept the VIP\n{}",
        r2.log_text()
    );
    assert!(lab.has_addr("r1", "eth0", LAN_VIP), "{}", r1.log_text());
    assert!(!r1.log_text().contains("VRRP thread timer expired"));
}
