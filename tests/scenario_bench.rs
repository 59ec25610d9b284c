//! Benchmark (run by compat/bench-routes.sh, ignored in normal test runs): the reference
//! scenario with kad's virtual_routes/backup_routes against keepalived 2.2.7 with the
//! operator's notify scripts, in the same run. For each failover it prints how long after
//! the state change (the inside VIP appearing or going, as the kernel shows it) each box's
//! default route switched, how long a box was without any default route, and the LAN
//! client's outage (the longest silence of a ping every 10 ms to the internet host).
//! Figures are printed, not asserted.

mod common;

use common::kernel_watch::{Timeline, Watch};
use common::lab::{Daemon, Impl};
use common::scenario::{Scenario, CLIENT, INTERNET_HOST, ISP_GATEWAY, MASTER_DOWN_INTERVAL, VIP_INSIDE};
use std::collections::BTreeMap;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

const POLL: Duration = Duration::from_millis(1);
/// How long each failover is given to finish before the next step.
fn settle() -> Duration {
    MASTER_DOWN_INTERVAL + Duration::from_secs(2)
}

struct Mark {
    at: Instant,
    wall: f64,
}

fn mark() -> Mark {
    Mark {
        at: Instant::now(),
        wall: SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0.0, |d| d.as_secs_f64()),
    }
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

/// Signed milliseconds from `a` to `b`.
fn signed_ms(a: Instant, b: Instant) -> f64 {
    if b >= a {
        ms(b - a)
    } else {
        -ms(a - b)
    }
}

/// `ping -D` every 10 ms from the client; the reply times (wall clock) once stopped.
struct Pinger {
    child: Child,
    out: std::path::PathBuf,
}

impl Pinger {
    fn start(sc: &Scenario) -> Pinger {
        let out = sc.lab.dir.join("ping.out");
        let file = std::fs::File::create(&out).expect("ping output");
        let child = Command::new("ip")
            .args([
                "netns",
                "exec",
                &sc.lab.ns(CLIENT),
                "ping",
                "-D",
                "-n",
                "-i",
                "0.01",
                INTERNET_HOST,
            ])
            .stdout(Stdio::from(file))
            .stderr(Stdio::null())
            .spawn()
            .expect("ping");
        Pinger { child, out }
    }

    fn stop(mut self) -> Vec<f64> {
        // SAFETY: plain kill(2) on our own child.
        unsafe { libc::kill(self.child.id() as i32, libc::SIGINT) };
        let _ = self.child.wait();
        let text = std::fs::read_to_string(&self.out).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains("bytes from"))
            .filter_map(|l| l.strip_prefix('[')?.split(']').next()?.parse().ok())
            .collect()
    }
}

/// The longest silence between replies in [from, to] (wall clock seconds), in ms.
fn outage(replies: &[f64], from: f64, to: f64) -> f64 {
    let inside: Vec<f64> = replies
        .iter()
        .copied()
        .filter(|t| *t >= from - 0.05 && *t <= to)
        .collect();
    inside.windows(2).map(|w| (w[1] - w[0]) * 1000.0).fold(0.0, f64::max)
}

fn without_route(t: &Timeline, from: Instant, to: Instant) -> f64 {
    t.absences(from, to)
        .iter()
        .map(|(a, b)| ms(*b - *a))
        .fold(0.0, |x, y| x + y)
}

/// Results of one run, by row label.
type Figures = BTreeMap<&'static str, Option<f64>>;

fn start(sc: &mut Scenario, which: Impl, fw: &str, run: &str) -> Daemon {
    sc.start(fw, which, run)
}

fn run_once(which: Impl) -> Figures {
    let mut sc = Scenario::build(match which {
        Impl::Kad => "bkad",
        Impl::Keepalived => "bka",
    });
    let w1 = Watch::start(&sc.lab.ns("fw1"), VIP_INSIDE, POLL).expect("watch fw1");
    let w2 = Watch::start(&sc.lab.ns("fw2"), VIP_INSIDE, POLL).expect("watch fw2");
    let mut fw1 = start(&mut sc, which, "fw1", "a");
    let _fw2 = start(&mut sc, which, "fw2", "a");
    let problems = sc.check_roles("fw1", Some("fw2"), Instant::now() + settle() + Duration::from_secs(3));
    assert!(problems.is_empty(), "{which:?} at start: {problems:?}");
    let pinger = Pinger::start(&sc);
    std::thread::sleep(Duration::from_millis(500));

    let died = mark();
    sc.power_off("fw1", &mut fw1);
    let problems = sc.check_roles("fw2", None, died.at + settle());
    assert!(problems.is_empty(), "{which:?} after fw1 died: {problems:?}");
    std::thread::sleep((died.at + settle()).saturating_duration_since(Instant::now()));

    let back = mark();
    sc.power_on("fw1");
    let fw1b = start(&mut sc, which, "fw1", "b");
    let problems = sc.check_roles("fw1", Some("fw2"), back.at + settle());
    assert!(problems.is_empty(), "{which:?} after fw1 came back: {problems:?}");
    std::thread::sleep((back.at + settle()).saturating_duration_since(Instant::now()));

    let term = mark();
    fw1b.signal(libc::SIGTERM);
    let problems = sc.check_roles("fw2", None, term.at + settle());
    assert!(problems.is_empty(), "{which:?} after SIGTERM on fw1: {problems:?}");
    std::thread::sleep((term.at + settle()).saturating_duration_since(Instant::now()));
    let end = mark();

    let replies = pinger.stop();
    let t1 = w1.stop().expect("fw1 watcher");
    let t2 = w2.stop().expect("fw2 watcher");
    let mut f = Figures::new();
    let entering = |t: &Timeline, from: Instant| -> Option<f64> {
        let vip = t.marker_change(true, from)?;
        Some(signed_ms(vip, t.first_only(ISP_GATEWAY, vip)?))
    };
    let leaving = |t: &Timeline, from: Instant| -> Option<f64> {
        let gone = t.marker_change(false, from)?;
        // The route through the other firewall may come before the VIP goes (kad) or after.
        let before = t
            .samples
            .iter()
            .rev()
            .find(|s| s.at <= gone && s.at >= from)
            .filter(|s| s.gateways() == [VIP_INSIDE]);
        let at = before.map(|s| s.at).or_else(|| t.first_only(VIP_INSIDE, gone))?;
        Some(signed_ms(gone, at))
    };
    f.insert("A fw1 dies    | fw2 VIP up -> ISP route (ms)", entering(&t2, died.at));
    f.insert(
        "A fw1 dies    | fw2 without default route (ms)",
        Some(without_route(&t2, died.at, back.at)),
    );
    f.insert(
        "A fw1 dies    | client outage (ms)",
        Some(outage(&replies, died.wall, back.wall)),
    );
    f.insert("B fw1 returns | fw1 VIP up -> ISP route (ms)", entering(&t1, back.at));
    f.insert(
        "B fw1 returns | fw2 VIP down -> route via fw1 (ms)",
        leaving(&t2, back.at),
    );
    f.insert(
        "B fw1 returns | fw2 without default route (ms)",
        Some(without_route(&t2, back.at, term.at)),
    );
    f.insert(
        "B fw1 returns | client outage (ms)",
        Some(outage(&replies, back.wall, term.wall)),
    );
    f.insert("C fw1 SIGTERM | fw2 VIP up -> ISP route (ms)", entering(&t2, term.at));
    f.insert(
        "C fw1 SIGTERM | fw2 without default route (ms)",
        Some(without_route(&t2, term.at, end.at)),
    );
    f.insert(
        "C fw1 SIGTERM | client outage (ms)",
        Some(outage(&replies, term.wall, end.wall)),
    );
    f.insert(
        "  all         | default route deletions seen on fw2",
        Some(t2.default_deletions.len() as f64),
    );
    f
}

#[test]
#[ignore = "benchmark: run by compat/bench-routes.sh"]
fn failover_route_switch_and_client_outage_kad_vs_keepalived_with_notify_scripts() {
    if !common::root_or_skip("scenario benchmark") {
        return;
    }
    let rounds: usize = std::env::var("KAD_BENCH_ROUNDS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    let mut results: BTreeMap<&'static str, (Vec<String>, Vec<String>)> = BTreeMap::new();
    for round in 0..rounds {
        // Interleaved, so that load from other work on the machine hits both alike.
        for which in [Impl::Kad, Impl::Keepalived] {
            let figures = run_once(which);
            eprintln!("round {} {which:?}: {figures:?}", round + 1);
            for (row, v) in figures {
                let cell = v.map_or("-".to_string(), |v| format!("{v:.1}"));
                let entry = results.entry(row).or_default();
                match which {
                    Impl::Kad => entry.0.push(cell),
                    Impl::Keepalived => entry.1.push(cell),
                }
            }
        }
    }
    println!("\nScenario failover, {rounds} round(s) each (values per round):");
    println!("{:<55} {:<28} keepalived 2.2.7 + notify scripts", "", "kad");
    for (row, (kad, ka)) in &results {
        println!("{row:<55} {:<28} {}", kad.join(" "), ka.join(" "));
    }
}
