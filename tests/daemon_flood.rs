//! Hostile input: a rogue host floods the segment with 10,000 packets per second of
//! fuzzed bytes, higher-priority adverts with a wrong TTL, a wrong VRID, a wrong password
//! or a bad checksum, and lower-priority adverts. A kad master and backup must not
//! change state, the master's adverts must keep their interval, and the drops must be
//! counted and logged.

mod common;

use common::e2e::{holders, line_time, Capture};
use common::lab::{wait_until, Daemon, Impl, Lab};
use std::time::Duration;

const VIP: &str = "192.0.2.1";
const ROUTERS: [&str; 2] = ["r1", "r2"];
const FLOOD_SECS: u32 = 6;
const RATE: u32 = 10_000;

fn config(state: &str, priority: u32) -> String {
    format!(
        "global_defs {{\n router_id r{priority}\n}}\n\
         vrrp_instance VI_1 {{\n interface eth0\n state {state}\n virtual_router_id 51\n priority {priority}\n advert_int 1\n \
         lower_prio_no_advert\n authentication {{\n  auth_type PASS\n  auth_pass secret\n }}\n \
         virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n"
    )
}

/// The rogue sender: raw IPv4 with our own headers, paced in bursts every 10 ms.
const SENDER: &str = r#"
import os, random, socket, struct, sys, time

rate, secs = int(sys.argv[1]), float(sys.argv[2])
SRC, GROUP = "192.0.2.66", "224.0.0.18"
s = socket.socket(socket.AF_INET, socket.SOCK_RAW, socket.IPPROTO_RAW)
s.setsockopt(socket.SOL_SOCKET, socket.SO_BINDTODEVICE, b"eth0")

def csum(b):
    if len(b) % 2:
        b += b"\0"
    t = sum(struct.unpack("!%dH" % (len(b) // 2), b))
    t = (t >> 16) + (t & 0xFFFF)
    t += t >> 16
    return ~t & 0xFFFF

def ip(payload, ttl=255, src=SRC):
    return struct.pack("!BBHHHBBH4s4s", 0x45, 0xC0, 20 + len(payload), 0, 0, ttl, 112, 0,
                       socket.inet_aton(src), socket.inet_aton(GROUP)) + payload

def vrrp(vrid=51, prio=200, password=b"secret", good_sum=True):
    body = struct.pack("!BBBBBBH", 0x21, vrid, prio, 1, 1, 1, 0) + socket.inet_aton("192.0.2.1") + password.ljust(8, b"\0")[:8]
    c = csum(body)
    if not good_sum:
        c ^= 0x5A5A
    return body[:6] + struct.pack("!H", c) + body[8:]

kinds = [
    lambda: ip(os.urandom(random.randint(0, 80))),       # fuzzed bytes
    lambda: ip(vrrp(), ttl=64),                          # higher priority, wrong TTL
    lambda: ip(vrrp(vrid=52)),                           # wrong VRID
    lambda: ip(vrrp(password=b"wrong")),                 # higher priority, wrong password
    lambda: ip(vrrp(good_sum=False)),                    # higher priority, bad checksum
    lambda: ip(vrrp(prio=50)),                           # lower priority, rogue source
]
sent, n, burst = 0, 0, max(1, rate // 100)
start = time.monotonic()
while time.monotonic() - start < secs:
    for _ in range(burst):
        s.sendto(kinds[n % len(kinds)](), (GROUP, 0))
        n += 1
    sent += burst
    next_burst = start + sent / rate
    delay = next_burst - time.monotonic()
    if delay > 0:
        time.sleep(delay)
print(sent, time.monotonic() - start)
"#;

fn lab() -> Lab {
    let mut lab = Lab::new("flood");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24"), ("c1", "192.0.2.50/24"), ("x1", "192.0.2.66/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    lab
}

fn alive(d: &Daemon) -> bool {
    // SAFETY: signal 0 only checks that the process exists.
    d.pid().is_some_and(|pid| unsafe { libc::kill(pid, 0) } == 0)
}

#[test]
fn a_flood_of_hostile_adverts_changes_nothing() {
    if !common::root_or_skip("flood") {
        return;
    }
    let mut lab = lab();
    let r1 = lab.start("r1", Impl::Kad, "r1", &config("MASTER", 150), &[]);
    let r2 = lab.start("r2", Impl::Kad, "r2", &config("BACKUP", 100), &[]);
    assert!(wait_until(Duration::from_secs(8), || holders(&lab, &ROUTERS, "eth0", VIP) == ["r1"]), "{}", r1.log_text());
    assert!(wait_until(Duration::from_secs(3), || r2.log_text().contains("Entering BACKUP STATE")));
    let (r1_before, r2_before) = (r1.log_text().len(), r2.log_text().len());

    let adverts = Capture::start(&lab, "c1", "eth0", "vrrp and src host 192.0.2.11");
    let script = lab.file("flood.py", SENDER);
    let out = lab.exec("x1", "python3", &[&script.display().to_string(), &RATE.to_string(), &FLOOD_SECS.to_string()]);
    assert!(out.status.success(), "sender failed: {}", String::from_utf8_lossy(&out.stderr));
    let report = String::from_utf8_lossy(&out.stdout).to_string();
    let mut fields = report.split_whitespace();
    let sent: f64 = fields.next().and_then(|n| n.parse().ok()).unwrap_or(0.0);
    let secs: f64 = fields.next().and_then(|n| n.parse().ok()).unwrap_or(f64::MAX);
    let rate = sent / secs;
    eprintln!("flood: {sent} packets in {secs:.2} s ({rate:.0}/s)");
    assert!(rate > 0.8 * RATE as f64, "the sender only reached {rate:.0} packets/s");
    let lines = adverts.stop();

    // The master's adverts kept their 1 s interval (±20%) through the flood.
    let times: Vec<f64> = lines.iter().filter(|l| l.contains("VRRPv2") && l.contains("prio 150")).filter_map(|l| line_time(l)).collect();
    assert!(times.len() >= FLOOD_SECS as usize - 1, "only {} adverts during the flood:\n{}", times.len(), lines.join("\n"));
    let intervals: Vec<f64> = times.windows(2).map(|w| w[1] - w[0]).collect();
    eprintln!("advert intervals during the flood: {intervals:.3?}");
    assert!(intervals.iter().all(|i| (0.8..=1.2).contains(i)), "advert intervals {intervals:.3?}");

    // Nobody changed state; both daemons still run.
    assert!(alive(&r1) && alive(&r2), "a daemon died\n{}\n{}", r1.log_text(), r2.log_text());
    assert_eq!(holders(&lab, &ROUTERS, "eth0", VIP), ["r1"]);
    let r1_during = r1.log_text()[r1_before..].to_string();
    let r2_during = r2.log_text()[r2_before..].to_string();
    assert!(!r1_during.contains("Entering") && !r2_during.contains("Entering"), "state changed:\n{r1_during}\n{r2_during}");

    // The drops are logged (and counted: the counters behind these lines).
    for (what, line) in [
        ("wrong TTL", "invalid TTL/HL from 192.0.2.66"),
        ("wrong password", "received an invalid passwd from 192.0.2.66"),
        ("lower priority", "from 192.0.2.66 with lower priority 50"),
    ] {
        assert!(r1_during.contains(line), "master did not report the {what} adverts:\n{}", &r1_during[..r1_during.len().min(4000)]);
    }
    assert!(r2_during.contains("invalid TTL/HL from 192.0.2.66"), "backup did not report the wrong TTL");
}
