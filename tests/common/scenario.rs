//! The reference scenario (docs/scenario.md) as namespaces: a LAN client, two firewalls
//! with an inside interface (eth0, own address) and two outside interfaces without
//! addresses (eth4, eth5), an ISP router on the eth4 segment, and an "internet" host
//! behind the ISP.
//!
//! All three IPv4 documentation ranges are taken by the scenario, so the internet host
//! lives in the upper half of 198.51.100.0/24 and the eth5 VIPs become /25 instead of /24
//! (the only change to the flagship config besides the routes): otherwise the firewalls'
//! connected eth5 route would swallow the internet host's address.

use super::lab::{wait_until, Daemon, Impl, Lab};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

pub const VIP_INSIDE: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 1);
pub const VIP_PUBLIC: &str = "203.0.113.10";
pub const ISP_GATEWAY: Ipv4Addr = Ipv4Addr::new(203, 0, 113, 254);
pub const INTERNET_HOST: &str = "198.51.100.200";
pub const CLIENT: &str = "client";
pub const FIREWALLS: [&str; 2] = ["fw1", "fw2"];
/// 3 × advert_int + skew of the lower priority (100): what a backup waits at most.
pub const MASTER_DOWN_INTERVAL: Duration = Duration::from_millis(3000 + 156 * 1000 / 256);

const FLAGSHIP_FW1: &str = include_str!("../configs/flagship-backup-routes.conf");
const FLAGSHIP_FW2: &str = include_str!("../configs/flagship-fw2-backup-routes.conf");
const FLAGSHIP_FW1_SCRIPTS: &str = include_str!("../configs/flagship.conf");
const FLAGSHIP_FW2_SCRIPTS: &str = include_str!("../configs/flagship-fw2.conf");

/// The eth5 VIPs as /25, see the module comment.
fn narrow_eth5(config: &str) -> String {
    let out = config.replace("/24 dev eth5", "/25 dev eth5");
    assert_eq!(
        out.matches("/25 dev eth5").count(),
        2,
        "the flagship config changed: no eth5 VIPs to narrow"
    );
    out
}

/// The flagship config with kad's routes instead of notify scripts.
pub fn kad_config(fw: &str) -> String {
    let text = narrow_eth5(if fw == "fw1" { FLAGSHIP_FW1 } else { FLAGSHIP_FW2 });
    assert!(
        !text.contains("notify_"),
        "the kad scenario config must not need notify scripts"
    );
    text
}

/// The operator's original flagship config for keepalived, its notify scripts taken
/// from compat/scenario/ and copied into `dir`.
pub fn keepalived_config(fw: &str, dir: &Path) -> String {
    let scripts = Path::new(env!("CARGO_MANIFEST_DIR")).join("compat/scenario");
    let mut text = narrow_eth5(if fw == "fw1" {
        FLAGSHIP_FW1_SCRIPTS
    } else {
        FLAGSHIP_FW2_SCRIPTS
    });
    for name in ["master_active", "backup_active"] {
        let to: PathBuf = dir.join(name);
        std::fs::copy(scripts.join(name), &to).expect("copy notify script");
        std::fs::set_permissions(&to, std::os::unix::fs::PermissionsExt::from_mode(0o755))
            .expect("chmod notify script");
        let from = format!("/etc/keepalived/{name}");
        assert!(text.contains(&from), "flagship config lost its {name} notify");
        text = text.replace(&from, &to.display().to_string());
    }
    text
}

pub struct Scenario {
    pub lab: Lab,
}

impl Scenario {
    pub fn build(tag: &str) -> Scenario {
        let mut lab = Lab::new(tag);
        for host in ["client", "fw1", "fw2", "isp", "inet"] {
            lab.add_host(host);
        }
        for host in ["fw1", "fw2", "isp"] {
            lab.sh(host, "sysctl -qw net.ipv4.ip_forward=1");
        }
        lab.connect("client", "eth0", "lan");
        lab.ip("client", &["addr", "add", "192.0.2.50/24", "dev", "eth0"]);
        lab.ip("client", &["route", "add", "default", "via", "192.0.2.1"]);
        for (fw, addr) in [("fw1", "192.0.2.11/24"), ("fw2", "192.0.2.12/24")] {
            lab.connect(fw, "eth0", "lan");
            lab.connect(fw, "eth4", "wan4");
            lab.connect(fw, "eth5", "wan5");
            lab.ip(fw, &["addr", "add", addr, "dev", "eth0"]);
        }
        lab.connect("isp", "eth4", "wan4");
        lab.connect("isp", "eth1", "transit");
        lab.ip("isp", &["addr", "add", "203.0.113.254/24", "dev", "eth4"]);
        lab.ip("isp", &["addr", "add", "198.51.100.129/25", "dev", "eth1"]);
        lab.ip("isp", &["route", "add", "192.0.2.0/24", "via", VIP_PUBLIC]);
        lab.connect("inet", "eth0", "transit");
        lab.ip("inet", &["addr", "add", "198.51.100.200/25", "dev", "eth0"]);
        lab.ip("inet", &["route", "add", "default", "via", "198.51.100.129"]);
        Scenario { lab }
    }

    pub fn start(&mut self, fw: &str, which: Impl, run: &str) -> Daemon {
        let config = match which {
            Impl::Kad => kad_config(fw),
            Impl::Keepalived => keepalived_config(fw, &self.lab.dir),
        };
        let d = self.lab.start(fw, which, &format!("{fw}-{run}"), &config, &[]);
        assert!(
            d.wait_started(Duration::from_secs(10)),
            "{fw} did not start:\n{}",
            d.log_text()
        );
        d
    }

    /// A box losing power: its links go dark (and the kernel flushes routes through
    /// them), after the daemon is SIGKILLed so it cannot react.
    pub fn power_off(&self, fw: &str, daemon: &mut Daemon) {
        daemon.kill9();
        for ifname in ["eth0", "eth4", "eth5"] {
            self.lab.ip(fw, &["link", "set", ifname, "down"]);
        }
    }

    pub fn power_on(&self, fw: &str) {
        for ifname in ["eth0", "eth4", "eth5"] {
            self.lab.ip(fw, &["link", "set", ifname, "up"]);
        }
    }

    /// The gateways of the IPv4 default routes in `host`'s main table.
    pub fn default_gateways(&self, host: &str) -> Vec<String> {
        let out = self
            .lab
            .exec(host, "ip", &["-4", "route", "show", "default", "table", "main"]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .filter_map(|l| {
                l.split_whitespace()
                    .skip_while(|w| *w != "via")
                    .nth(1)
                    .map(str::to_string)
            })
            .collect()
    }

    pub fn is_master(&self, fw: &str) -> bool {
        self.lab.has_addr(fw, "eth0", "192.0.2.1")
    }

    pub fn ping_once(&self, host: &str, dst: &str) -> bool {
        self.lab.exec(host, "ping", &["-c1", "-W1", "-n", dst]).status.success()
    }

    /// Ping until one answer comes or `deadline` passes.
    pub fn reaches_by(&self, host: &str, dst: &str, deadline: Instant) -> bool {
        loop {
            if self.ping_once(host, dst) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
        }
    }

    pub fn mac(&self, host: &str, ifname: &str) -> String {
        let out = self.lab.ip(host, &["-o", "link", "show", ifname]);
        out.split_whitespace()
            .skip_while(|w| *w != "link/ether")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    pub fn neighbour_mac(&self, host: &str, ifname: &str, addr: &str) -> String {
        let out = self.lab.ip(host, &["neigh", "show", addr, "dev", ifname]);
        out.split_whitespace()
            .skip_while(|w| *w != "lladdr")
            .nth(1)
            .unwrap_or_default()
            .to_string()
    }

    /// Wait until `master` holds the VIPs with the ISP default route and `standby` (if
    /// running) has none of them and the route through the master; then both the LAN
    /// client and the standby reach the internet host, through the master. Returns the
    /// problems found by `deadline` (empty: all good).
    pub fn check_roles(&self, master: &str, standby: Option<&str>, deadline: Instant) -> Vec<String> {
        let mut problems = Vec::new();
        let isp = ISP_GATEWAY.to_string();
        let lan = VIP_INSIDE.to_string();
        let settled = wait_until(deadline.saturating_duration_since(Instant::now()), || {
            self.is_master(master)
                && self.lab.has_addr(master, "eth4", VIP_PUBLIC)
                && self.default_gateways(master) == [isp.clone()]
                && standby.is_none_or(|s| !self.is_master(s) && self.default_gateways(s) == [lan.clone()])
        });
        if !settled {
            problems.push(format!(
                "roles not settled: {master} master={} routes={:?}; standby {:?} routes={:?}",
                self.is_master(master),
                self.default_gateways(master),
                standby,
                standby.map(|s| (self.is_master(s), self.default_gateways(s)))
            ));
        }
        if !self.reaches_by(CLIENT, INTERNET_HOST, deadline) {
            problems.push("the LAN client does not reach the internet host".into());
        } else {
            let via = self.neighbour_mac(CLIENT, "eth0", "192.0.2.1");
            if via != self.mac(master, "eth0") {
                problems.push(format!("the client sends to {via}, not to {master}'s eth0"));
            }
            let back = self.neighbour_mac("isp", "eth4", VIP_PUBLIC);
            if back != self.mac(master, "eth4") {
                problems.push(format!("the ISP sends {VIP_PUBLIC} to {back}, not to {master}'s eth4"));
            }
        }
        if let Some(s) = standby {
            if !self.reaches_by(s, INTERNET_HOST, deadline) {
                problems.push(format!("the standby {s} does not reach the internet host"));
            }
        }
        problems
    }
}
