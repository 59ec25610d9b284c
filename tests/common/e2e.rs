//! Helpers for the daemon end-to-end tests: link facts, neighbour entries, packet
//! captures with tcpdump, and kernel state snapshots.

use super::lab::{wait_until, Lab};
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// The MAC address of `ifname` in `host`.
pub fn mac_of(lab: &Lab, host: &str, ifname: &str) -> String {
    let out = lab.ip(host, &["-o", "link", "show", ifname]);
    word_after(&out, "link/ether")
}

/// The link-layer address `host` has for `addr` on `ifname` (empty if none).
pub fn neigh_mac(lab: &Lab, host: &str, addr: &str, ifname: &str) -> String {
    let out = lab.ip(host, &["neigh", "show", addr, "dev", ifname]);
    word_after(&out, "lladdr")
}

fn word_after(text: &str, key: &str) -> String {
    text.split_whitespace().skip_while(|w| *w != key).nth(1).unwrap_or_default().to_string()
}

/// Which of `hosts` have `addr` on `ifname`.
pub fn holders(lab: &Lab, hosts: &[&str], ifname: &str, addr: &str) -> Vec<String> {
    hosts.iter().filter(|h| lab.has_addr(h, ifname, addr)).map(|h| h.to_string()).collect()
}

/// Whether `ifname` exists in `host`.
pub fn link_exists(lab: &Lab, host: &str, ifname: &str) -> bool {
    lab.exec(host, "ip", &["link", "show", ifname]).status.success()
}

/// Whether `ifname` in `host` is administratively up.
pub fn link_is_up(lab: &Lab, host: &str, ifname: &str) -> bool {
    let out = lab.exec(host, "ip", &["-o", "link", "show", ifname]);
    let text = String::from_utf8_lossy(&out.stdout);
    text.split_once('<').and_then(|(_, rest)| rest.split_once('>')).is_some_and(|(flags, _)| flags.split(',').any(|f| f == "UP"))
}

/// The name, in the switch namespace, of the bridge port that `host`'s `ifname` plugs
/// into (the veth peer), so a capture there sees exactly what the host puts on the wire.
pub fn switch_port(lab: &Lab, host: &str, ifname: &str) -> String {
    let out = lab.ip(host, &["-o", "link", "show", ifname]);
    let peer_index = out
        .split_whitespace()
        .nth(1)
        .and_then(|w| w.trim_end_matches(':').split_once("@if"))
        .map(|(_, idx)| idx.to_string())
        .unwrap_or_else(|| panic!("{ifname} in {host} is not a veth: {out}"));
    let sw = Command::new("ip").args(["-n", &lab.ns("sw"), "-o", "link", "show"]).output().expect("ip link in switch");
    let text = String::from_utf8_lossy(&sw.stdout);
    for line in text.lines() {
        let mut words = line.split_whitespace();
        if words.next() == Some(&format!("{peer_index}:")) {
            if let Some(name) = words.next() {
                return name.trim_end_matches(':').split('@').next().unwrap_or_default().to_string();
            }
        }
    }
    panic!("no switch port with index {peer_index}");
}

/// A running tcpdump (`-tt -n -e -l --immediate-mode`); stopped and collected by
/// [`Capture::stop`], killed on drop.
pub struct Capture {
    child: Option<Child>,
    out: PathBuf,
    err: PathBuf,
}

static CAPTURES: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

impl Capture {
    /// Capture on `ifname` in `host` (`host` "sw" is the switch namespace).
    pub fn start(lab: &Lab, host: &str, ifname: &str, filter: &str) -> Capture {
        let n = CAPTURES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let out = lab.dir.join(format!("cap{n}-{host}-{ifname}.txt"));
        let err = lab.dir.join(format!("cap{n}-{host}-{ifname}.err"));
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.ns(host), "tcpdump", "-tt", "-n", "-e", "-l", "--immediate-mode", "-i", ifname])
            .args(filter.split_whitespace())
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("capture file"))
            .stderr(std::fs::File::create(&err).expect("capture err file"))
            .spawn()
            .expect("spawn tcpdump");
        let cap = Capture { child: Some(child), out, err };
        assert!(
            wait_until(Duration::from_secs(5), || std::fs::read_to_string(&cap.err).unwrap_or_default().contains("listening on")),
            "tcpdump did not start: {}",
            std::fs::read_to_string(&cap.err).unwrap_or_default()
        );
        cap
    }

    /// What was captured so far (tcpdump flushes every line).
    pub fn text(&self) -> String {
        std::fs::read_to_string(&self.out).unwrap_or_default()
    }

    /// Stop tcpdump and return the captured lines.
    pub fn stop(mut self) -> Vec<String> {
        if let Some(mut c) = self.child.take() {
            // SAFETY: plain kill(2) on our own child; tcpdump flushes on SIGTERM.
            unsafe { libc::kill(c.id() as i32, libc::SIGTERM) };
            let ended = wait_until(Duration::from_secs(3), || matches!(c.try_wait(), Ok(Some(_))));
            if !ended {
                let _ = c.kill();
            }
            let _ = c.wait();
        }
        // tcpdump ends its output with an empty line when stopped.
        self.text().lines().filter(|l| !l.trim().is_empty()).map(str::to_string).collect()
    }
}

impl Drop for Capture {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The leading `-tt` timestamp of a tcpdump line, in seconds since the epoch.
pub fn line_time(line: &str) -> Option<f64> {
    line.split_whitespace().next()?.parse().ok()
}

/// Wall-clock seconds since the epoch (the clock tcpdump and `ping -D` print).
pub fn wall_now() -> f64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map(|d| d.as_secs_f64()).unwrap_or(0.0)
}

/// The kernel state a daemon may change in `host`: addresses, routes of every table,
/// rules, links, and the /proc/sys/net values kad touches. Volatile parts (link
/// statistics, address lifetimes, operational state) are left out.
pub fn snapshot(lab: &Lab, host: &str) -> Vec<String> {
    let mut lines = Vec::new();
    let run = |args: &[&str]| -> String { String::from_utf8_lossy(&lab.exec(host, "ip", args).stdout).into_owned() };
    // IPv6 link-locals of fresh links are still in DAD: wait for a settled state.
    wait_until(Duration::from_secs(5), || !run(&["-o", "addr", "show"]).contains("tentative"));
    for line in run(&["-o", "addr", "show"]).lines() {
        // "valid_lft forever preferred_lft forever" is on its own continuation line.
        let l = line.split("\\").next().unwrap_or(line).trim().to_string();
        lines.push(format!("addr: {l}"));
    }
    for line in run(&["route", "show", "table", "all"]).lines() {
        // Expiry counters of IPv6 multicast/link-local cache entries change with time.
        if !line.contains("expires") {
            lines.push(format!("route: {line}"));
        }
    }
    for line in run(&["-4", "rule", "show"]).lines().chain(run(&["-6", "rule", "show"]).lines()) {
        lines.push(format!("rule: {line}"));
    }
    for line in run(&["-o", "link", "show"]).lines() {
        let mut l = line.to_string();
        // Operational state follows the peer and carrier, not the daemon.
        for volatile in [" state UP", " state DOWN", " state UNKNOWN", " state LOWERLAYERDOWN", ",LOWER_UP", "NO-CARRIER,"] {
            l = l.replace(volatile, "");
        }
        lines.push(format!("link: {l}"));
    }
    let script = "for f in /proc/sys/net/ipv4/conf/*/arp_ignore /proc/sys/net/ipv4/conf/*/arp_filter \
                  /proc/sys/net/ipv4/conf/*/arp_announce /proc/sys/net/ipv4/conf/*/accept_local \
                  /proc/sys/net/ipv4/conf/*/rp_filter /proc/sys/net/ipv4/conf/*/promote_secondaries \
                  /proc/sys/net/ipv6/conf/*/disable_ipv6; do echo \"$f=$(cat $f)\"; done";
    for line in String::from_utf8_lossy(&lab.sh(host, script).stdout).lines() {
        lines.push(format!("sysctl: {line}"));
    }
    lines.sort();
    lines
}

/// Lines of `after` not in `before` and the reverse, for an assertion message.
pub fn snapshot_diff(before: &[String], after: &[String]) -> String {
    let mut s = String::new();
    for l in after.iter().filter(|l| !before.contains(l)) {
        s.push_str(&format!("+ {l}\n"));
    }
    for l in before.iter().filter(|l| !after.contains(l)) {
        s.push_str(&format!("- {l}\n"));
    }
    s
}
