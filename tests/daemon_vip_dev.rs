//! VIPs on a second interface that has no address of its own (the scenario's eth4),
//! with and without a VMAC on it, behind an upstream "ISP" namespace.
//!
//! Topology: r1 and r2 run VRRP on eth0 (segment "lan", addresses 192.0.2.11/12) and
//! carry the public VIP on eth4 (segment "wan", no address). The ISP router sits on
//! "wan" with 203.0.113.254/24.

mod common;

use common::e2e::{holders, link_exists, link_is_up, mac_of, neigh_mac, switch_port, AddrMonitor, Capture};
use common::lab::{wait_until, Daemon, Impl, Lab};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const LAN_VIP: &str = "192.0.2.1";
const WAN_VIP: &str = "203.0.113.10";
const VMAC: &str = "00:00:5e:00:01:33";
const VMAC_DEV: &str = "vrrp.51";
const ROUTERS: [&str; 2] = ["r1", "r2"];

/// How the public VIP is written in the configuration.
#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Public {
    Plain,
    PerVipVmac,
    UseVmacAddr,
}

fn config(state: &str, priority: u32, public: Public) -> String {
    let (vip_extra, inst_extra) = match public {
        Public::Plain => ("", ""),
        Public::PerVipVmac => (" use_vmac", ""),
        Public::UseVmacAddr => ("", " use_vmac_addr\n"),
    };
    format!(
        "global_defs {{\n router_id r{priority}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n state {state}\n virtual_router_id 51\n priority {priority}\n advert_int 1\n{inst_extra}\
          virtual_ipaddress {{\n  {LAN_VIP}/24 dev eth0\n  {WAN_VIP}/24 dev eth4{vip_extra}\n }}\n}}\n"
    )
}

fn lab() -> Lab {
    let mut lab = Lab::new("vdev");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
        lab.connect(h, "eth4", "wan");
    }
    lab.add_host("isp");
    lab.connect("isp", "eth0", "wan");
    lab.ip("isp", &["addr", "add", "203.0.113.254/24", "dev", "eth0"]);
    lab
}

/// Makes the ISP ignore gratuitous ARP for the VIP, as the scenario's upstream router
/// does (Linux would otherwise update an existing entry from it).
fn isp_drops_gratuitous_arp(lab: &Lab) {
    let rules = format!(
        "table arp kadtest {{\n chain input {{\n  type filter hook input priority 0;\n  \
         arp saddr ip {WAN_VIP} arp daddr ip {WAN_VIP} counter drop\n }}\n}}\n"
    );
    let file = lab.file("isp.nft", &rules);
    let out = lab.exec("isp", "nft", &["-f", &file.display().to_string()]);
    assert!(out.status.success(), "nft: {}", String::from_utf8_lossy(&out.stderr));
}

/// Gratuitous ARPs the ISP dropped so far.
fn isp_dropped(lab: &Lab) -> u64 {
    let out = lab.exec("isp", "nft", &["list", "table", "arp", "kadtest"]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_whitespace().skip_while(|w| *w != "packets").nth(1).and_then(|n| n.parse().ok()).unwrap_or(0)
}


/// `ping -D -i 0.01` from the ISP to the public VIP, one echo every 10 ms.
struct Pinger {
    child: Child,
    out: PathBuf,
}

impl Pinger {
    fn start(lab: &Lab) -> Pinger {
        let out = lab.dir.join("ping.txt");
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.ns("isp"), "ping", "-D", "-n", "-i", "0.01", "-W", "1", WAN_VIP])
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("ping output"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ping");
        Pinger { child, out }
    }

    /// Times (wall clock) of the echo replies received so far.
    fn replies(&self) -> Vec<f64> {
        std::fs::read_to_string(&self.out)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.contains("bytes from"))
            .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
            .collect()
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The box r1 dies: its daemon is killed and its links go down, so nothing it left in
/// the kernel answers any more.
fn r1_box_dies(lab: &Lab, r1: &mut Daemon) {
    r1.kill9();
    lab.ip("r1", &["link", "set", "eth4", "down"]);
    lab.ip("r1", &["link", "set", "eth0", "down"]);
}

/// Waits until r2 holds the public VIP on `dev`; returns the wall-clock time the
/// kernel added it.
fn wait_takeover(lab: &Lab, dev: &str, monitor: &AddrMonitor) -> f64 {
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r2", dev, WAN_VIP)), "r2 never took the public VIP on {dev}");
    let mut at = None;
    let seen = wait_until(Duration::from_secs(2), || {
        at = monitor.added_at(WAN_VIP);
        at.is_some()
    });
    assert!(seen, "the address monitor missed the VIP's arrival");
    at.unwrap_or_default()
}

#[test]
fn vips_on_an_address_less_device_follow_the_master_and_go_on_sigterm() {
    if !common::root_or_skip("vip dev") {
        return;
    }
    let mut lab = lab();
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150, Public::Plain), &[]);
    let mut r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, Public::Plain), &[]);
    assert!(
        wait_until(Duration::from_secs(8), || holders(&lab, &ROUTERS, "eth4", WAN_VIP) == ["r1"]
            && holders(&lab, &ROUTERS, "eth0", LAN_VIP) == ["r1"]),
        "r1 did not become the only master\n{}\n{}",
        r1.log_text(),
        r2.log_text()
    );
    // eth4 has no address of its own: the VIP is the only one.
    let v4: Vec<String> = lab.ip("r1", &["-4", "-o", "addr", "show", "dev", "eth4"]).lines().map(str::to_string).collect();
    assert_eq!(v4.len(), 1, "{v4:?}");
    assert!(lab.exec("isp", "ping", &["-c1", "-W1", WAN_VIP]).status.success(), "ISP cannot reach the VIP on r1");
    assert_eq!(neigh_mac(&lab, "isp", WAN_VIP, "eth0"), mac_of(&lab, "r1", "eth4"));

    r1.kill9();
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r2", "eth4", WAN_VIP) && lab.has_addr("r2", "eth0", LAN_VIP)),
        "r2 did not take over\n{}",
        r2.log_text()
    );
    // The gratuitous ARP r2 sends on eth4 moves the ISP's entry.
    let r2_mac = mac_of(&lab, "r2", "eth4");
    assert!(
        wait_until(Duration::from_secs(3), || neigh_mac(&lab, "isp", WAN_VIP, "eth0") == r2_mac),
        "ISP still has {} for the VIP, r2's eth4 is {r2_mac}",
        neigh_mac(&lab, "isp", WAN_VIP, "eth0")
    );

    r2.signal(libc::SIGTERM);
    assert_eq!(r2.wait_exit(Duration::from_secs(5)), Some(0), "kad did not exit cleanly:\n{}", r2.log_text());
    assert!(!lab.has_addr("r2", "eth4", WAN_VIP), "public VIP left on r2 after SIGTERM");
    assert!(!lab.has_addr("r2", "eth0", LAN_VIP), "LAN VIP left on r2 after SIGTERM");
}

/// The figure the VMAC improves on: without it, an ISP that ignores gratuitous ARP
/// keeps sending to the dead box (33–45 s measured, see vmac-vip-devices.md); here it is
/// enough to see the old MAC still in use 2 s after the takeover.
#[test]
fn without_a_vmac_an_isp_ignoring_gratuitous_arp_keeps_the_old_mac() {
    if !common::root_or_skip("vip dev") {
        return;
    }
    let mut lab = lab();
    isp_drops_gratuitous_arp(&lab);
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150, Public::Plain), &[]);
    let _r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, Public::Plain), &[]);
    assert!(wait_until(Duration::from_secs(8), || holders(&lab, &ROUTERS, "eth4", WAN_VIP) == ["r1"]));
    let r1_mac = mac_of(&lab, "r1", "eth4");
    assert!(
        wait_until(Duration::from_secs(3), || lab.exec("isp", "ping", &["-c1", "-W1", WAN_VIP]).status.success()),
        "ISP cannot reach the VIP on r1"
    );
    assert_eq!(neigh_mac(&lab, "isp", WAN_VIP, "eth0"), r1_mac);
    let pinger = Pinger::start(&lab);
    let dropped_before = isp_dropped(&lab);

    let monitor = AddrMonitor::start(&lab, "r2");
    r1_box_dies(&lab, &mut r1);
    let takeover = wait_takeover(&lab, "eth4", &monitor);
    // r2's gratuitous ARPs reach the ISP and are dropped there.
    assert!(wait_until(Duration::from_secs(2), || isp_dropped(&lab) > dropped_before), "no gratuitous ARP reached the ISP");
    std::thread::sleep(Duration::from_secs(2));
    let after: Vec<f64> = pinger.replies().into_iter().filter(|t| *t > takeover).collect();
    let entry = neigh_mac(&lab, "isp", WAN_VIP, "eth0");
    eprintln!("without VMAC: {} replies in the 2 s after takeover, ISP entry {entry} (r1 {r1_mac})", after.len());
    assert_eq!(entry, r1_mac, "the ISP learned a new MAC despite dropping gratuitous ARP");
    assert!(after.is_empty(), "traffic resumed without a VMAC: {after:?}");
}

/// With a VMAC on eth4 the MAC never changes: traffic from the ISP resumes within
/// 100 ms of the takeover, and the standby's VMAC is silent while BACKUP.
fn vmac_keeps_the_isp_working(public: Public) {
    let mut lab = lab();
    isp_drops_gratuitous_arp(&lab);
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150, public), &[]);
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r1", VMAC_DEV, WAN_VIP)),
        "r1 never put the VIP on its VMAC\n{}",
        r1.log_text()
    );
    assert!(link_is_up(&lab, "r1", VMAC_DEV));
    assert_eq!(mac_of(&lab, "r1", VMAC_DEV), VMAC);
    assert!(!lab.has_addr("r1", "eth4", WAN_VIP), "VIP on the parent instead of the VMAC");

    // From the start of r2's daemon to its takeover, nothing may leave r2 with the VMAC
    // as source: the switch would move the MAC to the standby.
    let r2_port = switch_port(&lab, "r2", "eth4");
    let silent = Capture::start(&lab, "sw", &r2_port, &format!("ether src {VMAC}"));
    let r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, public), &[]);
    assert!(wait_until(Duration::from_secs(5), || link_exists(&lab, "r2", VMAC_DEV)), "r2 has no VMAC\n{}", r2.log_text());
    assert!(
        wait_until(Duration::from_secs(3), || r2.log_text().contains("Entering BACKUP STATE")),
        "r2 not BACKUP\n{}",
        r2.log_text()
    );
    assert!(!link_is_up(&lab, "r2", VMAC_DEV), "the standby's VMAC is up");
    assert!(
        wait_until(Duration::from_secs(3), || lab.exec("isp", "ping", &["-c1", "-W1", WAN_VIP]).status.success()),
        "ISP cannot reach the VIP through r1's VMAC"
    );
    assert_eq!(neigh_mac(&lab, "isp", WAN_VIP, "eth0"), VMAC);
    // Advert intervals pass with r2 as BACKUP.
    std::thread::sleep(Duration::from_millis(2500));
    let frames = silent.stop();
    assert!(frames.is_empty(), "the standby sent frames from the VMAC: {frames:?}");

    let pinger = Pinger::start(&lab);
    assert!(wait_until(Duration::from_secs(2), || !pinger.replies().is_empty()), "no replies before the failover");
    let monitor = AddrMonitor::start(&lab, "r2");
    r1_box_dies(&lab, &mut r1);
    let takeover = wait_takeover(&lab, VMAC_DEV, &monitor);
    assert!(
        wait_until(Duration::from_secs(2), || pinger.replies().iter().any(|t| *t > takeover)),
        "traffic from the ISP did not resume\n{}",
        r2.log_text()
    );
    let first = pinger.replies().into_iter().find(|t| *t > takeover).unwrap_or(f64::MAX);
    let delay_ms = (first - takeover) * 1000.0;
    eprintln!("{public:?}: ISP traffic resumed {delay_ms:.1} ms after the takeover");
    assert!(delay_ms < 100.0, "{public:?}: traffic resumed {delay_ms:.1} ms after the takeover");
    assert_eq!(neigh_mac(&lab, "isp", WAN_VIP, "eth0"), VMAC, "the ISP's entry changed");
    assert!(isp_dropped(&lab) > 0, "the ISP dropped no gratuitous ARP: the test proves nothing");
    assert!(!lab.has_addr("r2", "eth4", WAN_VIP), "VIP on r2's parent device");
}

#[test]
fn a_per_vip_vmac_keeps_an_isp_that_ignores_gratuitous_arp_working() {
    if common::root_or_skip("vip dev") {
        vmac_keeps_the_isp_working(Public::PerVipVmac);
    }
}

#[test]
fn use_vmac_addr_keeps_an_isp_that_ignores_gratuitous_arp_working() {
    if common::root_or_skip("vip dev") {
        vmac_keeps_the_isp_working(Public::UseVmacAddr);
    }
}

/// A standby that was MASTER and went back to BACKUP takes its VMAC down again and
/// falls silent; SIGTERM on the master removes the VMAC.
#[test]
fn a_per_vip_vmac_goes_quiet_when_its_router_steps_down() {
    if !common::root_or_skip("vip dev") {
        return;
    }
    let mut lab = lab();
    let r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100, Public::PerVipVmac), &[]);
    assert!(
        wait_until(Duration::from_secs(8), || lab.has_addr("r2", VMAC_DEV, WAN_VIP)),
        "r2 alone did not become master\n{}",
        r2.log_text()
    );
    assert!(link_is_up(&lab, "r2", VMAC_DEV));
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150, Public::PerVipVmac), &[]);
    assert!(
        wait_until(Duration::from_secs(8), || holders(&lab, &ROUTERS, VMAC_DEV, WAN_VIP) == ["r1"]),
        "r1 did not preempt\n{}",
        r1.log_text()
    );
    assert!(wait_until(Duration::from_secs(2), || !link_is_up(&lab, "r2", VMAC_DEV)), "r2's VMAC stayed up after stepping down");
    let r2_port = switch_port(&lab, "r2", "eth4");
    let silent = Capture::start(&lab, "sw", &r2_port, &format!("ether src {VMAC}"));
    // Traffic to the VIP meanwhile: r1 answers, r2 must not.
    for _ in 0..3 {
        assert!(lab.exec("isp", "ping", &["-c1", "-W1", WAN_VIP]).status.success());
    }
    std::thread::sleep(Duration::from_millis(2500));
    let frames = silent.stop();
    assert!(frames.is_empty(), "r2 sent frames from the VMAC as BACKUP: {frames:?}");

    r1.signal(libc::SIGTERM);
    assert_eq!(r1.wait_exit(Duration::from_secs(5)), Some(0), "{}", r1.log_text());
    assert!(!link_exists(&lab, "r1", VMAC_DEV), "VMAC left behind on r1 after SIGTERM");
}
