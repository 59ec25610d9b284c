//! kad paired with Debian's keepalived 2.2.7 on one segment, VRRPv2 and VRRPv3 (IPv4),
//! each daemon in both roles, also with use_vmac: exactly one master, and the VIP moves
//! both ways on SIGTERM and on SIGKILL.

mod common;

use common::e2e::{holders, mac_of, neigh_mac};
use common::lab::{wait_until, Daemon, Impl, Lab};
use std::time::{Duration, Instant};

const VIP: &str = "192.0.2.1";
const ROUTERS: [&str; 2] = ["r1", "r2"];

/// How the pair runs: VRRP version, and whether the VIP sits on the instance VMAC.
#[derive(Clone, Copy)]
struct Setup {
    version: u8,
    vmac: bool,
}

impl Setup {
    /// The device that carries the VIP.
    fn dev(self) -> &'static str {
        if self.vmac {
            "vrrp.51"
        } else {
            "eth0"
        }
    }
}

fn config(setup: Setup, state: &str, priority: u32) -> String {
    let version = setup.version;
    let vmac = if setup.vmac { " use_vmac\n" } else { "" };
    format!(
        "global_defs {{\n router_id r{priority}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n state {state}\n version {version}\n virtual_router_id 51\n \
         priority {priority}\n advert_int 1\n{vmac} virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n"
    )
}

fn lab() -> Lab {
    let mut lab = Lab::new("iop");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24"), ("c1", "192.0.2.50/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    lab
}

fn name(which: Impl) -> &'static str {
    match which {
        Impl::Kad => "kad",
        Impl::Keepalived => "keepalived",
    }
}

struct Pair {
    lab: Lab,
    setup: Setup,
    master_impl: Impl,
    master: Daemon,
    backup: Daemon,
    starts: u32,
}

impl Pair {
    fn logs(&self) -> String {
        format!(
            "--- r1 ({}) ---\n{}\n--- r2 ({}) ---\n{}",
            name(self.master.which),
            self.master.log_text(),
            name(self.backup.which),
            self.backup.log_text()
        )
    }

    /// Waits until `host` alone holds the VIP and the client reaches it at `host`'s MAC
    /// (the VMAC's, with use_vmac).
    fn expect_sole_master(&self, host: &str, within: Duration, what: &str) {
        let dev = self.setup.dev();
        let ok = wait_until(within, || holders(&self.lab, &ROUTERS, dev, VIP) == [host]);
        assert!(ok, "{what}: VIP on {:?}, expected only {host}\n{}", holders(&self.lab, &ROUTERS, dev, VIP), self.logs());
        let mac = mac_of(&self.lab, host, dev);
        // keepalived 2.2.7 leaves arp_announce alone: its replies leave through the
        // parent, whose ARP requests name the VIP, so clients re-learn the parent's MAC.
        let parent_mac = mac_of(&self.lab, host, "eth0");
        let keepalived_vmac = self.setup.vmac && self.impl_on(host) == Impl::Keepalived;
        let reached = wait_until(Duration::from_secs(3), || {
            let learned = neigh_mac(&self.lab, "c1", VIP, "eth0");
            self.lab.exec("c1", "ping", &["-c1", "-W1", VIP]).status.success()
                && (learned == mac || (keepalived_vmac && learned == parent_mac))
        });
        assert!(reached, "{what}: client has {} for the VIP, {host} is {mac}", neigh_mac(&self.lab, "c1", VIP, "eth0"));
    }

    fn impl_on(&self, host: &str) -> Impl {
        if host == "r1" {
            self.master_impl
        } else {
            self.backup.which
        }
    }

    /// Restarts the master daemon on r1 (a fresh log each time).
    fn restart_master(&mut self) {
        self.starts += 1;
        let cfg = config(self.setup, "MASTER", 150);
        let label = format!("r1-{}", self.starts);
        self.master = self.lab.start("r1", self.master_impl, &label, &cfg, &[]);
    }
}

fn exercise(setup: Setup, master_impl: Impl, backup_impl: Impl) {
    let mut lab = lab();
    let master = lab.start("r1", master_impl, "r1", &config(setup, "MASTER", 150), &[]);
    let backup = lab.start("r2", backup_impl, "r2", &config(setup, "BACKUP", 100), &[]);
    let mut p = Pair { lab, setup, master_impl, master, backup, starts: 0 };
    let vmac = if setup.vmac { " with VMAC" } else { "" };
    let what = format!("v{}{vmac} {} master, {} backup", setup.version, name(master_impl), name(backup_impl));
    let dev = setup.dev();

    p.expect_sole_master("r1", Duration::from_secs(8), &format!("{what}: start"));
    // Several advert intervals with both running: still one master.
    let stable = !wait_until(Duration::from_millis(2500), || holders(&p.lab, &ROUTERS, dev, VIP) != ["r1"]);
    assert!(stable, "{what}: more than one master or none\n{}", p.logs());

    // SIGTERM: priority 0 lets the backup take over after its skew time.
    p.master.signal(libc::SIGTERM);
    let t = Instant::now();
    p.expect_sole_master("r2", Duration::from_secs(3), &format!("{what}: after SIGTERM"));
    assert!(t.elapsed() < Duration::from_millis(2500), "{what}: SIGTERM takeover took {:?}", t.elapsed());
    assert!(p.master.wait_exit(Duration::from_secs(5)).is_some(), "{what}: master did not exit on SIGTERM");

    // The higher priority comes back and preempts.
    p.restart_master();
    p.expect_sole_master("r1", Duration::from_secs(8), &format!("{what}: preempt after SIGTERM"));

    // SIGKILL: the backup takes over after Master_Down_Interval (about 3.6 s). The dead
    // master's kernel keeps the VIP (nothing removed it), so only r2 is checked here.
    p.master.kill9();
    let t = Instant::now();
    let took = wait_until(Duration::from_secs(8), || p.lab.has_addr("r2", dev, VIP));
    assert!(took, "{what}: backup did not take over after SIGKILL\n{}", p.logs());
    assert!(t.elapsed() > Duration::from_secs(2), "{what}: backup took over too early ({:?})", t.elapsed());

    // The restarted master removes the stale VIP, then preempts.
    p.restart_master();
    p.expect_sole_master("r1", Duration::from_secs(10), &format!("{what}: preempt after SIGKILL"));
}

#[test]
fn v2_kad_master_keepalived_backup() {
    if common::root_or_skip("interop") {
        exercise(Setup { version: 2, vmac: false }, Impl::Kad, Impl::Keepalived);
    }
}

#[test]
fn v2_keepalived_master_kad_backup() {
    if common::root_or_skip("interop") {
        exercise(Setup { version: 2, vmac: false }, Impl::Keepalived, Impl::Kad);
    }
}

#[test]
fn v3_kad_master_keepalived_backup() {
    if common::root_or_skip("interop") {
        exercise(Setup { version: 3, vmac: false }, Impl::Kad, Impl::Keepalived);
    }
}

#[test]
fn v3_keepalived_master_kad_backup() {
    if common::root_or_skip("interop") {
        exercise(Setup { version: 3, vmac: false }, Impl::Keepalived, Impl::Kad);
    }
}

#[test]
fn vmac_kad_master_keepalived_backup() {
    if common::root_or_skip("interop") {
        exercise(Setup { version: 2, vmac: true }, Impl::Kad, Impl::Keepalived);
    }
}

#[test]
fn vmac_keepalived_master_kad_backup() {
    if common::root_or_skip("interop") {
        exercise(Setup { version: 2, vmac: true }, Impl::Keepalived, Impl::Kad);
    }
}
