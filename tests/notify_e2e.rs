//! Notify scripts and the notify FIFO, end to end: a router in a network namespace goes
//! BACKUP → MASTER → FAULT → BACKUP → STOP, and every script run (argv, uid:gid, order)
//! and FIFO line is compared with what keepalived does.

mod common;

use common::lab::{wait_until, Daemon, Impl, Lab};
use common::wire::{expect_log, largest_gap, log_matches, Capture, FifoReader};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const VIP: &str = "192.0.2.1";
/// Bounds for one VRRP transition on a loaded machine (master down is ~3.6 s).
const TRANSITION: Duration = Duration::from_secs(12);

fn lab() -> Lab {
    let mut lab = Lab::new("ntf");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24"), ("c1", "192.0.2.50/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    lab.connect("r1", "eth1", "up1");
    lab
}

/// A directory scripts running as nobody can write to.
fn shared_dir(lab: &Lab, name: &str) -> PathBuf {
    let d = lab.dir.join(name);
    std::fs::create_dir_all(&d).unwrap();
    std::fs::set_permissions(&d, std::fs::Permissions::from_mode(0o777)).unwrap();
    d
}

/// A script that appends `uid:gid [arg1] [arg2]...` to `out` in one write.
fn recorder(lab: &Lab, name: &str, out: &Path, body_before: &str) -> PathBuf {
    let path = lab.dir.join(name);
    let text = format!(
        "#!/bin/sh\n{body_before}\nline=\"$(id -u):$(id -g)\"\nfor a in \"$@\"; do line=\"$line [$a]\"; done\necho \"$line\" >> {}\n",
        out.display()
    );
    std::fs::write(&path, text).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
    path
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// The lines of `all` whose first bracketed argument is `[subject]`.
fn of(all: &[String], subject: &str) -> Vec<String> {
    let tag = format!(" [{subject}]");
    all.iter().filter(|l| l.contains(&tag)).cloned().collect()
}

fn instance(name: &str, vrid: u8, priority: u8, track_eth1: bool, scripts: &str) -> String {
    let track = if track_eth1 { "    track_interface {\n        eth1\n    }\n" } else { "" };
    format!(
        "vrrp_instance {name} {{\n    interface eth0\n    state BACKUP\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n{track}{scripts}    virtual_ipaddress {{\n        192.0.2.{vrid}/24\n    }}\n}}\n"
    )
}

/// r1's configuration: VI_1 alone, and VI_2 + VI_3 in sync group G1; VI_1 and VI_3 track
/// eth1, so taking eth1 down faults VI_1 and the whole group.
fn r1_config(rec: &Path, fifo: &Path) -> String {
    let r = rec.display();
    let vi1 = format!(
        "    notify_master \"{r} VI_1 master 'a b' \\x41\" nobody\n    notify_backup \"{r} VI_1 backup\"\n    notify_fault \"{r} VI_1 fault\" nobody daemon\n    notify_stop \"{r} VI_1 stop\"\n    notify \"{r} VI_1 generic\"\n"
    );
    let member = |n: &str| format!("    notify_master \"{r} {n} master\"\n    notify \"{r} {n} generic\"\n");
    format!(
        "global_defs {{\n    router_id r1\n    vrrp_notify_fifo {}\n}}\nvrrp_sync_group G1 {{\n    group {{\n        VI_2\n        VI_3\n    }}\n    notify_master \"{r} G1 master\"\n    notify_backup \"{r} G1 backup\"\n    notify_fault \"{r} G1 fault\"\n    notify_stop \"{r} G1 stop\"\n    notify \"{r} G1 generic\"\n}}\n{}{}{}",
        fifo.display(),
        instance("VI_1", 51, 100, true, &vi1),
        instance("VI_2", 52, 100, false, &member("VI_2")),
        instance("VI_3", 53, 100, true, &member("VI_3")),
    )
}

fn r2_config() -> String {
    format!(
        "global_defs {{\n    router_id r2\n}}\n{}{}{}",
        instance("VI_1", 51, 200, false, ""),
        instance("VI_2", 52, 200, false, ""),
        instance("VI_3", 53, 200, false, "")
    )
}

struct Observed {
    calls: Vec<String>,
    fifo: Vec<String>,
}

/// Drives r1 (running `which`) through BACKUP → MASTER → FAULT → BACKUP → STOP and
/// returns the script calls and FIFO lines it produced.
fn run_transitions(which: Impl) -> Observed {
    let mut lab = lab();
    let out_dir = shared_dir(&lab, "out");
    let calls = out_dir.join("calls");
    std::fs::write(&calls, "").unwrap();
    std::fs::set_permissions(&calls, std::fs::Permissions::from_mode(0o666)).unwrap();
    let rec = recorder(&lab, "rec.sh", &calls, "");
    let fifo_path = lab.dir.join("fifo");
    let fifo = FifoReader::create(&fifo_path);
    let mut r1 = lab.start("r1", which, "r1", &r1_config(&rec, &fifo_path), &[]);
    let wait_fifo = |r1: &Daemon, line: &str| {
        assert!(fifo.wait_line(line, TRANSITION), "no FIFO line {line:?}; got {:?}\n{}", fifo.lines(), r1.log_text());
    };
    for name in ["VI_1", "VI_2", "VI_3"] {
        wait_fifo(&r1, &format!("INSTANCE \"{name}\" MASTER 100"));
    }
    wait_fifo(&r1, "GROUP \"G1\" MASTER 0");

    lab.ip("r1", &["link", "set", "eth1", "down"]);
    wait_fifo(&r1, "INSTANCE \"VI_1\" FAULT 100");
    wait_fifo(&r1, "GROUP \"G1\" FAULT 0");

    // A higher-priority master appears while r1 is in FAULT, so r1 comes back as BACKUP.
    let _r2 = lab.start("r2", Impl::Kad, "r2", &r2_config(), &[]);
    assert!(wait_until(TRANSITION, || lab.has_addr("r2", "eth0", "192.0.2.53")), "r2 did not become master");
    lab.ip("r1", &["link", "set", "eth1", "up"]);
    wait_fifo(&r1, "GROUP \"G1\" BACKUP 0");
    let backups = |f: &FifoReader| f.lines().iter().filter(|l| l.as_str() == "INSTANCE \"VI_1\" BACKUP 100").count();
    assert!(wait_until(TRANSITION, || backups(&fifo) >= 2), "VI_1 not back to BACKUP: {:?}", fifo.lines());

    r1.signal(libc::SIGTERM);
    assert!(r1.wait_exit(Duration::from_secs(10)).is_some(), "r1 did not stop:\n{}", r1.log_text());
    wait_fifo(&r1, "GROUP \"G1\" STOP 0");
    // The STOP scripts run at shutdown, reaped with a bounded wait.
    assert!(
        wait_until(Duration::from_secs(5), || of(&lines(&calls), "G1").iter().any(|l| l.contains("[STOP]"))),
        "no group STOP call: {:?}\n{}",
        lines(&calls),
        r1.log_text()
    );
    Observed { calls: lines(&calls), fifo: fifo.lines() }
}

fn strings(v: &[&str]) -> Vec<String> {
    v.iter().map(|s| s.to_string()).collect()
}

/// keepalived 2.2.7's FIFO lines for this scenario (observed, and re-checked by
/// `keepalived_produces_the_same_lines`).
const EXPECTED_FIFO: [&str; 20] = [
    "GROUP \"G1\" BACKUP 0",
    "INSTANCE \"VI_1\" BACKUP 100",
    "INSTANCE \"VI_2\" BACKUP 100",
    "INSTANCE \"VI_3\" BACKUP 100",
    "INSTANCE \"VI_1\" MASTER 100",
    "INSTANCE \"VI_3\" MASTER 100",
    "INSTANCE \"VI_2\" MASTER 100",
    "GROUP \"G1\" MASTER 0",
    "INSTANCE \"VI_1\" FAULT 100",
    "INSTANCE \"VI_3\" FAULT 100",
    "INSTANCE \"VI_2\" FAULT 100",
    "GROUP \"G1\" FAULT 0",
    "INSTANCE \"VI_1\" BACKUP 100",
    "INSTANCE \"VI_3\" BACKUP 100",
    "INSTANCE \"VI_2\" BACKUP 100",
    "GROUP \"G1\" BACKUP 0",
    "INSTANCE \"VI_1\" STOP 100",
    "INSTANCE \"VI_2\" STOP 100",
    "INSTANCE \"VI_3\" STOP 100",
    "GROUP \"G1\" STOP 0",
];

/// Every script run per subject, in transition order: what keepalived runs (as a set),
/// in the order kad guarantees.
fn expected_calls(subject: &str) -> Vec<String> {
    let generic =
        |kind: &str, state: &str, prio: &str| format!("0:0 [{subject}] [generic] [{kind}] [{subject}] [{state}] [{prio}]");
    let plain = |word: &str| format!("0:0 [{subject}] [{word}]");
    match subject {
        "VI_1" => vec![
            plain("backup"),
            generic("INSTANCE", "BACKUP", "100"),
            "65534:65534 [VI_1] [master] [a b] [A]".to_string(),
            generic("INSTANCE", "MASTER", "100"),
            "65534:1 [VI_1] [fault]".to_string(),
            generic("INSTANCE", "FAULT", "100"),
            plain("backup"),
            generic("INSTANCE", "BACKUP", "100"),
            plain("stop"),
            generic("INSTANCE", "STOP", "100"),
        ],
        "G1" => ["backup", "master", "fault", "backup", "stop"]
            .iter()
            .flat_map(|w| [plain(w), generic("GROUP", &w.to_uppercase(), "0")])
            .collect(),
        _ => vec![
            generic("INSTANCE", "BACKUP", "100"),
            plain("master"),
            generic("INSTANCE", "MASTER", "100"),
            generic("INSTANCE", "FAULT", "100"),
            generic("INSTANCE", "BACKUP", "100"),
            generic("INSTANCE", "STOP", "100"),
        ],
    }
}

const SUBJECTS: [&str; 4] = ["VI_1", "VI_2", "VI_3", "G1"];

#[test]
fn every_script_and_fifo_line_in_order_across_master_fault_backup_stop() {
    if !common::root_or_skip("notify e2e") {
        return;
    }
    let got = run_transitions(Impl::Kad);
    assert_eq!(got.fifo, strings(&EXPECTED_FIFO));
    for subject in SUBJECTS {
        assert_eq!(of(&got.calls, subject), expected_calls(subject), "{subject}; all calls: {:#?}", got.calls);
    }
    let total: usize = SUBJECTS.iter().map(|s| expected_calls(s).len()).sum();
    assert_eq!(got.calls.len(), total, "{:#?}", got.calls);
}

/// The expectations above are keepalived's behaviour: the same FIFO lines, and the same
/// script runs, though not in order.
#[test]
fn keepalived_produces_the_same_lines() {
    if !common::root_or_skip("notify e2e") {
        return;
    }
    let got = run_transitions(Impl::Keepalived);
    assert_eq!(got.fifo, strings(&EXPECTED_FIFO));
    for subject in SUBJECTS {
        let mut calls = of(&got.calls, subject);
        let mut expected = expected_calls(subject);
        calls.sort();
        expected.sort();
        assert_eq!(calls, expected, "{subject}");
    }
}

fn pair_config(router_id: &str, state: &str, priority: u8, extra: &str) -> String {
    format!(
        "global_defs {{\n    router_id {router_id}\n}}\nvrrp_instance VI_1 {{\n    interface eth0\n    state {state}\n    virtual_router_id 51\n    priority {priority}\n    advert_int 1\n{extra}    virtual_ipaddress {{\n        {VIP}/24\n    }}\n}}\n"
    )
}

/// keepalived runs notify scripts concurrently and never waits, so a slow notify_master
/// can finish after the notify_fault that followed it. kad runs them in order, and
/// neither the adverts nor the next transition wait for the script.
#[test]
fn a_slow_notify_script_delays_neither_adverts_nor_the_next_transition() {
    if !common::root_or_skip("notify e2e") {
        return;
    }
    let mut lab = lab();
    let out_dir = shared_dir(&lab, "out");
    let calls = out_dir.join("calls");
    let slow = recorder(&lab, "slow.sh", &calls, &format!("echo start >> {}\nsleep 5", calls.display()));
    let rec = recorder(&lab, "rec.sh", &calls, "");
    let extra = format!(
        "    track_interface {{\n        eth1\n    }}\n    notify_master \"{} master\"\n    notify_fault \"{} fault\"\n",
        slow.display(),
        rec.display()
    );
    let capture = Capture::start(&lab, "c1", "eth0");
    let r1 = lab.start("r1", Impl::Kad, "r1", &pair_config("r1", "MASTER", 150, &extra), &[]);
    assert!(
        wait_until(TRANSITION, || lines(&calls).contains(&"start".to_string())),
        "notify_master never started:\n{}",
        r1.log_text()
    );
    let script_started = Instant::now();
    assert!(lab.has_addr("r1", "eth0", VIP));
    // Long enough for two adverts while the script sleeps.
    std::thread::sleep(Duration::from_millis(2500));
    lab.ip("r1", &["link", "set", "eth1", "down"]);
    let fault_at = Instant::now();
    assert!(
        wait_until(Duration::from_secs(2), || !lab.has_addr("r1", "eth0", VIP)),
        "the VIP stayed while notify_master ran:\n{}",
        r1.log_text()
    );
    let vip_gone = fault_at.elapsed();
    assert_eq!(lines(&calls), strings(&["start"]), "notify_master ended before FAULT was handled");
    let during: Vec<_> =
        capture.from("192.0.2.11", 51).into_iter().filter(|s| s.at >= script_started && s.at <= fault_at).collect();
    let (gap, count) = largest_gap(&during);
    eprintln!("adverts while the script slept: {count}, largest gap {gap:?}; VIP removed {vip_gone:?} after FAULT");
    assert!(count >= 2 && gap < Duration::from_millis(1600), "adverts stalled: {count} adverts, gap {gap:?}");
    // notify_fault runs once notify_master has finished.
    assert!(
        wait_until(Duration::from_secs(10), || lines(&calls).len() == 3),
        "scripts: {:?}\n{}",
        lines(&calls),
        r1.log_text()
    );
    assert_eq!(lines(&calls), strings(&["start", "0:0 [master]", "0:0 [fault]"]));
}

/// With enable_script_security an insecure script is disabled at load with keepalived's
/// message and never run; the secure ones still run.
#[test]
fn an_insecure_script_is_never_run_with_script_security() {
    if !common::root_or_skip("notify e2e") {
        return;
    }
    let mut lab = lab();
    let out_dir = shared_dir(&lab, "out");
    let calls = out_dir.join("calls");
    let rec = recorder(&lab, "rec.sh", &calls, "");
    // Anyone may write to this directory (no sticky bit), so anyone could replace the
    // script root would run.
    shared_dir(&lab, "open");
    let unsafe_script = recorder(&lab, "open/unsafe.sh", &calls, "");
    let r = rec.display();
    let extra = format!(
        "    notify_master \"{r} master\"\n    notify \"{} insecure\"\n    notify_stop \"{r} stop\"\n",
        unsafe_script.display()
    );
    let config = pair_config("r1", "MASTER", 150, &extra)
        .replace("    router_id r1\n", "    router_id r1\n    enable_script_security\n    script_user root\n");
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config, &[]);
    expect_log(&r1, &format!("Unsafe permissions found for script '{}' - disabling.", unsafe_script.display()), TRANSITION);
    assert!(wait_until(TRANSITION, || lines(&calls).contains(&"0:0 [master]".to_string())), "{}", r1.log_text());
    assert!(lab.has_addr("r1", "eth0", VIP));
    // The scripts of one instance run in order: had the generic notify run after
    // notify_master, it would be recorded before notify_stop.
    r1.signal(libc::SIGTERM);
    assert!(r1.wait_exit(Duration::from_secs(10)).is_some());
    assert!(wait_until(Duration::from_secs(5), || lines(&calls).len() >= 2), "{}", r1.log_text());
    assert_eq!(lines(&calls), strings(&["0:0 [master]", "0:0 [stop]"]), "{}", r1.log_text());
    assert!(log_matches(&r1, "SECURITY VIOLATION").is_empty());
}

fn script(lab: &Lab, name: &str, body: &str, mode: u32) -> PathBuf {
    let path = lab.dir.join(name);
    std::fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    std::fs::set_permissions(&path, std::fs::Permissions::from_mode(mode)).unwrap();
    path
}

/// Zombie children of `pid`.
fn zombies_of(pid: i32) -> Vec<String> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else { continue };
        // pid (comm) state ppid ...: comm may hold spaces, so split after the last ')'.
        let Some(rest) = stat.rsplit_once(')').map(|(_, r)| r.to_string()) else { continue };
        let fields: Vec<&str> = rest.split_whitespace().collect();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&pid.to_string().as_str()) {
            found.push(stat);
        }
    }
    found
}

/// Fill the FIFO's pipe so that every later write finds it full.
fn fill_fifo(path: &Path) -> std::fs::File {
    use std::io::Write;
    use std::os::unix::fs::OpenOptionsExt;
    let mut f = std::fs::OpenOptions::new().write(true).custom_flags(libc::O_NONBLOCK).open(path).unwrap();
    let chunk = [b'x'; 4096];
    while f.write(&chunk).is_ok() {}
    f
}

/// A missing, a non-executable and a crashing notify script, a script that leaves a
/// daemon behind, and a FIFO whose reader never reads: each is reported, none stops VRRP
/// or the scripts that follow.
#[test]
fn broken_scripts_and_a_stuck_fifo_reader_are_reported_and_contained() {
    if !common::root_or_skip("notify e2e") {
        return;
    }
    let mut lab = lab();
    let out_dir = shared_dir(&lab, "out");
    let calls = out_dir.join("calls");
    let rec = recorder(&lab, "rec.sh", &calls, "");
    let noexec = script(&lab, "noexec.sh", "exit 0", 0o644);
    let crash = script(&lab, "crash.sh", "kill -SEGV $$", 0o755);
    let pidfile = lab.dir.join("daemon.pid");
    let forker = recorder(
        &lab,
        "forker.sh",
        &calls,
        &format!("setsid sh -c 'echo $$ > {}; exec sleep 600' </dev/null >/dev/null 2>&1 &", pidfile.display()),
    );
    let sleeper = script(&lab, "noread.sh", "exec sleep 600", 0o755);
    let fifo = lab.dir.join("fifo");
    let extra = format!(
        "    track_interface {{\n        eth1\n    }}\n    notify_backup /nonexistent/missing.sh\n    notify_master {}\n    notify_fault {}\n    notify {}\n    notify_stop \"{} stop\"\n",
        noexec.display(),
        crash.display(),
        forker.display(),
        rec.display()
    );
    let config = pair_config("r1", "BACKUP", 100, &extra).replace(
        "    router_id r1\n",
        &format!("    router_id r1\n    vrrp_notify_fifo {}\n    vrrp_notify_fifo_script {}\n", fifo.display(), sleeper.display()),
    );
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config, &[]);
    expect_log(&r1, "Script /nonexistent/missing.sh cannot be accessed - No such file or directory", TRANSITION);
    expect_log(&r1, &format!("WARNING - script '{}' is not executable for uid:gid 0:0 - disabling.", noexec.display()), TRANSITION);
    assert!(wait_until(TRANSITION, || fifo.exists()), "no FIFO:\n{}", r1.log_text());
    let _filled = fill_fifo(&fifo);
    assert!(wait_until(TRANSITION, || lab.has_addr("r1", "eth0", VIP)), "no MASTER:\n{}", r1.log_text());
    expect_log(&r1, &format!("notify fifo {} is full", fifo.display()), TRANSITION);

    lab.ip("r1", &["link", "set", "eth1", "down"]);
    assert!(wait_until(TRANSITION, || !lab.has_addr("r1", "eth0", VIP)), "no FAULT:\n{}", r1.log_text());
    expect_log(&r1, &format!("notify script '{}' ended due to signal 11", crash.display()), TRANSITION);
    lab.ip("r1", &["link", "set", "eth1", "up"]);
    assert!(wait_until(TRANSITION, || lab.has_addr("r1", "eth0", VIP)), "no MASTER again:\n{}", r1.log_text());

    let generic = |state: &str| format!("0:0 [INSTANCE] [VI_1] [{state}] [100]");
    let expected: Vec<String> = ["BACKUP", "MASTER", "FAULT", "BACKUP", "MASTER"].iter().map(|s| generic(s)).collect();
    assert!(wait_until(TRANSITION, || lines(&calls) == expected), "calls: {:?}\n{}", lines(&calls), r1.log_text());
    let pid = r1.pid().expect("kad pid");
    // A script that just exited is a zombie until the reaper task runs: only a zombie that
    // stays is a leak.
    assert!(
        wait_until(Duration::from_secs(2), || zombies_of(pid).is_empty()),
        "zombies: {:?}",
        zombies_of(pid)
    );
    let daemon: i32 = std::fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(Path::new(&format!("/proc/{daemon}")).exists(), "the script's daemon is gone");

    r1.signal(libc::SIGTERM);
    assert_eq!(r1.wait_exit(Duration::from_secs(10)), Some(0), "{}", r1.log_text());
    let mut expected = expected;
    expected.extend(["0:0 [stop]".to_string(), generic("STOP")]);
    assert!(wait_until(Duration::from_secs(5), || lines(&calls) == expected), "{:?}", lines(&calls));
    // SAFETY: plain kill(2) of the daemon the test's script started.
    unsafe { libc::kill(daemon, libc::SIGKILL) };
}
