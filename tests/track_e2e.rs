//! Trackers end to end: track_interface, vrrp_script, track_file and sync-group tracking
//! move the priority that r1 advertises (read on the wire) and make r2 take over, as in
//! keepalived.

mod common;

use common::lab::{wait_until, Daemon, Impl, Lab};
use common::wire::{expect_log, log_matches, Capture, FifoReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const R1: &str = "192.0.2.11";
/// One takeover on a loaded machine: master down (~3.6 s) with a generous margin.
const TAKEOVER: Duration = Duration::from_secs(12);

fn lab(extra_links: &[&str]) -> Lab {
    let mut lab = Lab::new("trk");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24"), ("c1", "192.0.2.50/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    for (n, link) in extra_links.iter().enumerate() {
        lab.connect("r1", link, &format!("up{n}"));
    }
    lab
}

fn instance(name: &str, vrid: u8, priority: u8, body: &str) -> String {
    format!(
        "vrrp_instance {name} {{\n    interface eth0\n    state BACKUP\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n{body}    virtual_ipaddress {{\n        192.0.2.{vrid}/24\n    }}\n}}\n"
    )
}

fn config(router_id: &str, blocks: &str) -> String {
    format!("global_defs {{\n    router_id {router_id}\n}}\n{blocks}")
}

/// r2: a plain BACKUP at `priority` for each VRID.
fn start_r2(lab: &mut Lab, vrids: &[u8], priority: u8) -> Daemon {
    let blocks: String = vrids.iter().map(|v| instance(&format!("VI_{v}"), *v, priority, "")).collect();
    lab.start("r2", Impl::Kad, "r2", &config("r2", &blocks), &[])
}

fn vip(vrid: u8) -> String {
    format!("192.0.2.{vrid}")
}

fn master(lab: &Lab, host: &str, vrid: u8) -> bool {
    lab.has_addr(host, "eth0", &vip(vrid))
}

fn expect_master(lab: &Lab, host: &str, vrid: u8, logs: &[&Daemon], what: &str) {
    let ok = wait_until(TAKEOVER, || master(lab, host, vrid) && !master(lab, other(host), vrid));
    let text: String = logs.iter().map(|d| format!("--- {}\n{}", d.host, d.log_text())).collect();
    assert!(ok, "{what}: {host} is not the only master of VRID {vrid}\n{text}");
}

fn other(host: &str) -> &'static str {
    if host == "r1" {
        "r2"
    } else {
        "r1"
    }
}

/// Waits for r1 to advertise `priority` for `vrid` (after `since`).
fn expect_priority(capture: &Capture, vrid: u8, priority: u8, since: Instant, r1: &Daemon) {
    assert!(
        capture.wait_priority(R1, vrid, priority, since, TAKEOVER),
        "r1 never advertised priority {priority} for VRID {vrid}; seen {:?}\n{}",
        capture.priorities(R1, vrid, since),
        r1.log_text()
    );
}

fn write_script(lab: &Lab, name: &str, body: &str) -> PathBuf {
    let path = lab.dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

/// A file rewritten by rename, as inotify-watching tools expect.
fn set_file(path: &Path, content: &str) {
    let tmp = path.with_extension("tmp");
    std::fs::write(&tmp, content).unwrap();
    std::fs::rename(&tmp, path).unwrap();
}

#[test]
fn track_interface_weights_reverse_and_fault() {
    if !common::root_or_skip("track e2e") {
        return;
    }
    let mut lab = lab(&["eth1", "eth2", "eth3"]);
    let capture = Capture::start(&lab, "c1", "eth0");
    // All up: 150 + 0 (eth1, weight -60 applies when down) - 10 (eth2, reversed +10
    // applies negatively when up) = 140; eth3 has weight 0: down means FAULT.
    let body = "    track_interface {\n        eth1 weight -60\n        eth2 weight 10 reverse\n        eth3\n    }\n";
    let r1 = lab.start("r1", Impl::Kad, "r1", &config("r1", &instance("VI_1", 51, 150, body)), &[]);
    let r2 = start_r2(&mut lab, &[51], 120);
    let logs = [&r1, &r2];
    expect_master(&lab, "r1", 51, &logs, "start");
    expect_priority(&capture, 51, 140, Instant::now() - TAKEOVER, &r1);

    let t = Instant::now();
    lab.ip("r1", &["link", "set", "eth2", "down"]);
    expect_priority(&capture, 51, 150, t, &r1);

    let t = Instant::now();
    lab.ip("r1", &["link", "set", "eth1", "down"]);
    expect_priority(&capture, 51, 90, t, &r1);
    expect_master(&lab, "r2", 51, &logs, "r1 at 90 below r2's 120");

    lab.ip("r1", &["link", "set", "eth1", "up"]);
    expect_master(&lab, "r1", 51, &logs, "r1 back at 150 preempts");
    let t = Instant::now();
    expect_priority(&capture, 51, 150, t, &r1);

    lab.ip("r1", &["link", "set", "eth3", "down"]);
    expect_log(&r1, "(VI_1) Entering FAULT STATE", TAKEOVER);
    expect_master(&lab, "r2", 51, &logs, "r1 in FAULT");
    // In FAULT r1 is silent.
    let t = Instant::now();
    assert!(!wait_until(Duration::from_secs(3), || capture.from(R1, 51).iter().any(|s| s.at > t)), "r1 advertised in FAULT");

    lab.ip("r1", &["link", "set", "eth3", "up"]);
    expect_master(&lab, "r1", 51, &logs, "r1 out of FAULT preempts");
}

/// A script that exits with the first character of `NAME.seq` and drops it (the last
/// character stays), recording each result in `NAME.runs`.
fn sequence_script(lab: &Lab, name: &str, sequence: &str) -> (PathBuf, PathBuf) {
    let seq = lab.dir.join(format!("{name}.seq"));
    let runs = lab.dir.join(format!("{name}.runs"));
    std::fs::write(&seq, sequence).unwrap();
    let body = format!(
        "f={}\ns=$(cat $f)\nc=${{s%\"${{s#?}}\"}}\nrest=${{s#?}}\nif [ -n \"$rest\" ]; then printf %s \"$rest\" > $f.tmp; mv $f.tmp $f; fi\necho \"$c\" >> {}\nexit $c",
        seq.display(),
        runs.display()
    );
    (write_script(lab, &format!("{name}.sh"), &body), runs)
}

fn run_count(runs: &Path) -> usize {
    std::fs::read_to_string(runs).unwrap_or_default().lines().count()
}

/// Waits for the `n`th log line containing `needle` and returns how many runs the
/// script had made by then.
fn runs_at_log(r1: &Daemon, needle: &str, n: usize, runs: &Path) -> usize {
    let mut at = 0;
    assert!(
        wait_until(Duration::from_secs(30), || {
            at = run_count(runs);
            log_matches(r1, needle).len() >= n
        }),
        "no {needle:?} #{n}:\n{}",
        r1.log_text()
    );
    at
}

/// rise 3 / fall 2: alternating results never change the script's state; two failures
/// in a row fail it, three successes in a row bring it back, and the priority on the wire
/// follows (weight -40).
#[test]
fn vrrp_script_rise_and_fall_are_counted() {
    if !common::root_or_skip("track e2e") {
        return;
    }
    let mut lab = lab(&[]);
    let capture = Capture::start(&lab, "c1", "eth0");
    // Runs 1-12 succeed while r1 becomes master; runs 13-21 alternate and run 22 is the
    // second failure in a row; runs 23-28 alternate back and run 29 is the third
    // success in a row.
    let sequence = format!("{}{}{}", "0".repeat(12), "1010101011", "0101000");
    let (script, runs) = sequence_script(&lab, "chk", &sequence);
    let blocks = format!(
        "vrrp_script chk {{\n    script {}\n    interval 0.4\n    rise 3\n    fall 2\n    weight -40\n}}\n{}",
        script.display(),
        instance("VI_1", 51, 100, "    track_script {\n        chk\n    }\n")
    );
    let fifo_path = lab.dir.join("fifo");
    let fifo = FifoReader::create(&fifo_path);
    let global = format!(
        "global_defs {{\n    router_id r1\n    vrrp_notify_fifo {}\n    vrrp_notify_priority_changes true\n}}\n",
        fifo_path.display()
    );
    let r1 = lab.start("r1", Impl::Kad, "r1", &format!("{global}{blocks}"), &[]);
    assert_eq!(runs_at_log(&r1, "VRRP_Script(chk) succeeded", 1, &runs), 1);
    assert!(wait_until(TAKEOVER, || master(&lab, "r1", 51)), "{}", r1.log_text());
    let failed_at = runs_at_log(&r1, "VRRP_Script(chk) failed", 1, &runs);
    assert_eq!(failed_at, 22, "{}", r1.log_text());
    let ok_at = runs_at_log(&r1, "VRRP_Script(chk) succeeded", 2, &runs);
    assert_eq!(ok_at, 29, "{}", r1.log_text());
    assert_eq!(log_matches(&r1, "VRRP_Script(chk) ").len(), 3, "{}", r1.log_text());
    let start = Instant::now() - Duration::from_secs(60);
    assert!(
        wait_until(Duration::from_secs(3), || capture.priorities(R1, 51, start) == [100, 60, 100]),
        "advertised {:?}\n{}",
        capture.priorities(R1, 51, start),
        r1.log_text()
    );
    // vrrp_notify_priority_changes: each change, in order, on the FIFO.
    let expected = [
        "INSTANCE \"VI_1\" BACKUP 100",
        "INSTANCE \"VI_1\" MASTER 100",
        "INSTANCE \"VI_1\" MASTER_PRIORITY 60",
        "INSTANCE \"VI_1\" MASTER_PRIORITY 100",
    ];
    assert_eq!(fifo.lines(), expected);
}

/// Weights in both directions move the priority and cause takeovers; init_fail with
/// weight 0 holds the instance in FAULT until the first success; a script that ignores
/// SIGTERM is killed at its timeout and counts as failed.
#[test]
fn vrrp_script_weights_init_fail_and_a_hung_script() {
    if !common::root_or_skip("track e2e") {
        return;
    }
    let mut lab = lab(&[]);
    let d = lab.dir.clone();
    let capture = Capture::start(&lab, "c1", "eth0");
    std::fs::write(d.join("up.rc"), "0").unwrap();
    let up = write_script(&lab, "up.sh", &format!("exit $(cat {})", d.join("up.rc").display()));
    let gate = write_script(&lab, "gate.sh", &format!("[ -e {} ]", d.join("gate.ok").display()));
    let hang = write_script(
        &lab,
        "hang.sh",
        &format!(
            "echo $$ > {pid}\nif [ -e {flag} ]; then\n  trap '' TERM\n  sleep 100 &\n  echo $! > {child}\n  wait\nfi",
            pid = d.join("hang.pid").display(),
            flag = d.join("hang.flag").display(),
            child = d.join("hang.child").display()
        ),
    );
    let blocks = format!(
        "vrrp_script up {{\n    script {}\n    interval 0.5\n    weight 30\n}}\nvrrp_script gate {{\n    script {}\n    interval 0.5\n    init_fail\n}}\nvrrp_script hang {{\n    script {}\n    interval 1\n    timeout 1\n    weight -50\n}}\n{}",
        up.display(),
        gate.display(),
        hang.display(),
        instance("VI_1", 51, 100, "    track_script {\n        up\n        gate\n        hang\n    }\n")
    );
    let r1 = lab.start("r1", Impl::Kad, "r1", &config("r1", &blocks), &[]);
    let r2 = start_r2(&mut lab, &[51], 120);
    let logs = [&r1, &r2];
    expect_master(&lab, "r2", 51, &logs, "r1 held in FAULT by init_fail");
    expect_log(&r1, "(VI_1) Entering FAULT STATE", TAKEOVER);
    assert!(capture.from(R1, 51).is_empty(), "r1 advertised while in FAULT");

    std::fs::write(d.join("gate.ok"), "").unwrap();
    expect_master(&lab, "r1", 51, &logs, "gate open: r1 at 130 preempts r2");
    expect_priority(&capture, 51, 130, Instant::now() - TAKEOVER, &r1);

    let t = Instant::now();
    std::fs::write(d.join("up.rc"), "1").unwrap();
    expect_priority(&capture, 51, 100, t, &r1);
    expect_master(&lab, "r2", 51, &logs, "up failed: r1 at 100");
    std::fs::write(d.join("up.rc"), "0").unwrap();
    expect_master(&lab, "r1", 51, &logs, "up back: r1 at 130");

    let t = Instant::now();
    std::fs::write(d.join("hang.flag"), "").unwrap();
    expect_log(&r1, "VRRP_Script(hang) timed_out", TAKEOVER);
    expect_priority(&capture, 51, 80, t, &r1);
    let pid = std::fs::read_to_string(d.join("hang.pid")).unwrap().trim().to_string();
    let child = std::fs::read_to_string(d.join("hang.child")).unwrap().trim().to_string();
    // SIGTERM was ignored: SIGKILL to the whole process group, and both are reaped.
    for p in [&pid, &child] {
        assert!(wait_until(Duration::from_secs(5), || !Path::new(&format!("/proc/{p}")).exists()), "pid {p} survived");
    }
    expect_master(&lab, "r2", 51, &logs, "hang timed out: r1 at 80");
}

/// track_file: the value times the weight, re-read on every write (inotify); text
/// without a number reads as 0 and is reported; a result of -254 or less is FAULT;
/// init_file creates a missing file with its value.
#[test]
fn track_file_values_and_init_file() {
    if !common::root_or_skip("track e2e") {
        return;
    }
    let mut lab = lab(&[]);
    let capture = Capture::start(&lab, "c1", "eth0");
    let tf = lab.dir.join("tf");
    let init = lab.dir.join("init");
    std::fs::write(&tf, "5\n").unwrap();
    let blocks = format!(
        "track_file tf {{\n    file {}\n    weight 10\n}}\ntrack_file init {{\n    file {}\n    weight 1\n    init_file 3\n}}\n{}",
        tf.display(),
        init.display(),
        instance("VI_1", 51, 100, "    track_file {\n        tf\n        init\n    }\n")
    );
    let r1 = lab.start("r1", Impl::Kad, "r1", &config("r1", &blocks), &[]);
    let r2 = start_r2(&mut lab, &[51], 120);
    let logs = [&r1, &r2];
    // 100 + 5 * 10 + 3 (init_file) = 153.
    expect_master(&lab, "r1", 51, &logs, "start");
    expect_priority(&capture, 51, 153, Instant::now() - TAKEOVER, &r1);
    assert_eq!(std::fs::read_to_string(&init).unwrap().trim(), "3");

    let t = Instant::now();
    set_file(&tf, "-3\n");
    expect_priority(&capture, 51, 73, t, &r1);
    expect_master(&lab, "r2", 51, &logs, "file at -3");
    set_file(&tf, "4\n");
    expect_master(&lab, "r1", 51, &logs, "file at 4");
    let t = Instant::now();
    expect_priority(&capture, 51, 143, t, &r1);

    let t = Instant::now();
    set_file(&tf, "garbage\n");
    expect_log(&r1, &format!("track file {} holds no number - reading it as 0", tf.display()), TAKEOVER);
    expect_priority(&capture, 51, 103, t, &r1);
    expect_master(&lab, "r2", 51, &logs, "garbage reads as 0");

    set_file(&tf, "-30\n");
    expect_log(&r1, "(VI_1) Entering FAULT STATE", TAKEOVER);
    set_file(&tf, "10\n");
    expect_master(&lab, "r1", 51, &logs, "out of FAULT at 203");
    let t = Instant::now();
    expect_priority(&capture, 51, 203, t, &r1);
}

/// Trackers on a sync group apply to every member: a weight-0 interface faults the whole
/// group, and with sync_group_tracking_weight a weighted script moves every member.
#[test]
fn sync_group_tracking_moves_every_member() {
    if !common::root_or_skip("track e2e") {
        return;
    }
    let mut lab = lab(&["eth1"]);
    let capture = Capture::start(&lab, "c1", "eth0");
    let rc = lab.dir.join("s.rc");
    std::fs::write(&rc, "0").unwrap();
    let s = write_script(&lab, "s.sh", &format!("exit $(cat {})", rc.display()));
    let blocks = format!(
        "vrrp_script s {{\n    script {}\n    interval 0.5\n}}\nvrrp_sync_group G1 {{\n    group {{\n        VI_51\n        VI_52\n    }}\n    track_interface {{\n        eth1\n    }}\n    track_script {{\n        s weight -100\n    }}\n    sync_group_tracking_weight\n}}\n{}{}",
        s.display(),
        instance("VI_51", 51, 150, ""),
        instance("VI_52", 52, 150, "")
    );
    let r1 = lab.start("r1", Impl::Kad, "r1", &config("r1", &blocks), &[]);
    let r2 = start_r2(&mut lab, &[51, 52], 120);
    let logs = [&r1, &r2];
    for vrid in [51, 52] {
        expect_master(&lab, "r1", vrid, &logs, "start");
    }
    let t = Instant::now();
    std::fs::write(&rc, "1").unwrap();
    for vrid in [51, 52] {
        expect_priority(&capture, vrid, 50, t, &r1);
        expect_master(&lab, "r2", vrid, &logs, "group script failed");
    }
    std::fs::write(&rc, "0").unwrap();
    for vrid in [51, 52] {
        expect_master(&lab, "r1", vrid, &logs, "group script OK again");
    }
    lab.ip("r1", &["link", "set", "eth1", "down"]);
    for vrid in [51, 52] {
        expect_log(&r1, &format!("(VI_{vrid}) Entering FAULT STATE"), TAKEOVER);
        expect_master(&lab, "r2", vrid, &logs, "group interface down");
    }
}
