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

/// `ip -ts monitor address` in a host, so the moment an address appeared is known to the
/// microsecond (polling `ip addr` from the test is only as precise as the machine is idle).
pub struct AddrMonitor {
    child: Child,
    out: PathBuf,
}

impl AddrMonitor {
    pub fn start(lab: &Lab, host: &str) -> AddrMonitor {
        let n = CAPTURES.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let out = lab.dir.join(format!("addrmon{n}-{host}.txt"));
        let child = Command::new("ip")
            .args(["-n", &lab.ns(host), "-ts", "monitor", "address"])
            // UTC, so the timestamps convert to epoch seconds without a time zone table.
            .env("TZ", "UTC")
            .stdin(Stdio::null())
            .stdout(std::fs::File::create(&out).expect("monitor file"))
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn ip monitor");
        AddrMonitor { child, out }
    }

    /// Wall-clock time at which `addr` was first added (on any device).
    pub fn added_at(&self, addr: &str) -> Option<f64> {
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        let needle = format!(" {addr}/");
        text.lines().filter(|l| l.starts_with('[') && l.contains(&needle)).find_map(|l| parse_utc_stamp(l.get(1..27)?))
    }
}

impl Drop for AddrMonitor {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `2026-11-27T14:09:55.591399` (UTC) as seconds since the epoch.
fn parse_utc_stamp(s: &str) -> Option<f64> {
    let (date, time) = s.split_once('T')?;
    let mut d = date.split('-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let mut t = time.split(':');
    let (h, min) = (t.next()?.parse::<i64>().ok()?, t.next()?.parse::<i64>().ok()?);
    let sec: f64 = t.next()?.parse().ok()?;
    // Days from the civil date (Howard Hinnant's algorithm).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    Some((days * 86400 + h * 3600 + min * 60) as f64 + sec)
}

#[cfg(test)]
mod tests {
    #[test]
    fn utc_stamps_convert_to_epoch_seconds() {
        assert_eq!(super::parse_utc_stamp("1970-01-01T00:00:00.000000"), Some(0.0));
        assert_eq!(super::parse_utc_stamp("2000-03-01T00:00:01.500000"), Some(951868801.5));
        assert_eq!(super::parse_utc_stamp("2024-02-29T23:59:59.000000"), Some(1709251199.0));
    }
}
