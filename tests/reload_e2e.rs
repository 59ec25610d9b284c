//! Reload on SIGHUP, end to end (keepalived §3.5): a matched MASTER stays MASTER and
//! never drops an address it keeps, the diff is applied exactly, a broken configuration
//! is refused, instances are matched by what identifies them on the wire rather than by
//! name, and trackers, notify queues and FIFOs carry on.

mod common;

use common::lab::{wait_until, Daemon, Impl, Lab};
use common::wire::{expect_log, log_matches, Capture, FifoReader, Pinger, Watcher};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

const R1: &str = "192.0.2.11";
/// One takeover on a loaded machine (master down is ~3.6 s).
const TAKEOVER: Duration = Duration::from_secs(12);

fn lab() -> Lab {
    let mut lab = Lab::new("rld");
    for (h, a) in [("r1", "192.0.2.11/24"), ("r2", "192.0.2.12/24"), ("c1", "192.0.2.50/24")] {
        lab.add_host(h);
        lab.connect(h, "eth0", "lan");
        lab.ip(h, &["addr", "add", a, "dev", "eth0"]);
    }
    lab
}

/// An instance on eth0; `body` goes before its VIP list.
fn instance(name: &str, vrid: u8, priority: u8, body: &str, vips: &[&str]) -> String {
    let vips: String = vips.iter().map(|v| format!("        {v}/24\n")).collect();
    format!(
        "vrrp_instance {name} {{\n    interface eth0\n    state BACKUP\n    virtual_router_id {vrid}\n    priority {priority}\n    advert_int 1\n{body}    virtual_ipaddress {{\n{vips}    }}\n}}\n"
    )
}

fn config(router_id: &str, global: &str, blocks: &str) -> String {
    format!("global_defs {{\n    router_id {router_id}\n{global}}}\n{blocks}")
}

fn reload(d: &Daemon, config: &str) {
    let done = log_matches(d, "Reload finished").len() + log_matches(d, "reload refused").len()
        + log_matches(d, "New config failed validation").len();
    std::fs::write(&d.conf, config).unwrap();
    d.signal(libc::SIGHUP);
    let handled = || {
        log_matches(d, "Reload finished").len() + log_matches(d, "reload refused").len()
            + log_matches(d, "New config failed validation").len()
    };
    assert!(wait_until(Duration::from_secs(10), || handled() > done), "reload not handled:\n{}", d.log_text());
}

fn transitions(d: &Daemon) -> usize {
    log_matches(d, "Entering").len()
}

fn r2_for(vrids: &[u8]) -> String {
    let blocks: String = vrids.iter().map(|v| instance(&format!("VI_{v}"), *v, 100, "", &[&format!("192.0.2.{v}")])).collect();
    config("r2", "", &blocks)
}

/// 100 SIGHUPs, 50-100 ms apart, on the master while a client pings the VIP every 10 ms:
/// no reply lost, no state change on either router, the VIP never deleted.
#[test]
fn a_hundred_sighups_lose_no_ping_and_never_remove_the_vip() {
    if !common::root_or_skip("reload e2e") {
        return;
    }
    let mut lab = lab();
    let r1_config = config("r1", "", &instance("VI_1", 1, 150, "", &["192.0.2.1"]));
    let r1 = lab.start("r1", Impl::Kad, "r1", &r1_config, &[]);
    let r2 = lab.start("r2", Impl::Kad, "r2", &r2_for(&[1]), &[]);
    assert!(wait_until(TAKEOVER, || lab.has_addr("r1", "eth0", "192.0.2.1")), "{}", r1.log_text());
    assert!(wait_until(TAKEOVER, || log_matches(&r2, "Entering BACKUP").len() == 1));
    let (r1_before, r2_before) = (transitions(&r1), transitions(&r2));
    let addresses = Watcher::addresses(&lab, "r1");
    let pinger = Pinger::start(&lab, "c1", "192.0.2.1", Duration::from_millis(10), 900, Duration::from_secs(40));
    for i in 0..100u64 {
        r1.signal(libc::SIGHUP);
        std::thread::sleep(Duration::from_millis(50 + (i * 37) % 51));
        assert!(lab.has_addr("r1", "eth0", "192.0.2.1"), "VIP absent after SIGHUP {i}:\n{}", r1.log_text());
    }
    let (sent, received, text) = pinger.finish();
    let reloads = log_matches(&r1, "Reload finished").len();
    eprintln!("{reloads} reloads carried out for 100 SIGHUPs; ping {received}/{sent}");
    assert_eq!((sent, received), (900, 900), "ping lost replies: {text}");
    assert_eq!(addresses.deletions("192.0.2.1"), Vec::<String>::new(), "the VIP was deleted");
    assert!(reloads >= 1 && log_matches(&r1, "reload refused").is_empty(), "{}", r1.log_text());
    assert_eq!(transitions(&r1), r1_before, "r1 changed state:\n{}", r1.log_text());
    assert_eq!(transitions(&r2), r2_before, "r2 changed state:\n{}", r2.log_text());
}

/// A reload that drops one VIP and one virtual route and adds others: exactly that is
/// done, and what is kept is never touched.
#[test]
fn a_reload_applies_exactly_the_address_and_route_diff() {
    if !common::root_or_skip("reload e2e") {
        return;
    }
    let mut lab = lab();
    let routes = |dests: &[&str]| -> String {
        let list: String = dests.iter().map(|d| format!("        {d} via 192.0.2.254\n")).collect();
        format!("    virtual_routes {{\n{list}    }}\n")
    };
    let before = config(
        "r1",
        "",
        &instance("VI_1", 1, 150, &routes(&["198.51.100.0/24", "203.0.113.0/25"]), &["192.0.2.1", "192.0.2.2"]),
    );
    let after = config(
        "r1",
        "",
        &instance("VI_1", 1, 150, &routes(&["198.51.100.0/24", "203.0.113.128/25"]), &["192.0.2.1", "192.0.2.3"]),
    );
    let r1 = lab.start("r1", Impl::Kad, "r1", &before, &[]);
    assert!(wait_until(TAKEOVER, || lab.has_addr("r1", "eth0", "192.0.2.2")), "{}", r1.log_text());
    let has_route = |dest: &str| lab.ip("r1", &["route", "show", dest]).contains("via 192.0.2.254");
    assert!(wait_until(Duration::from_secs(5), || has_route("203.0.113.0/25")), "{}", r1.log_text());
    let addresses = Watcher::addresses(&lab, "r1");
    let route_log = Watcher::routes(&lab, "r1");
    let transitions_before = transitions(&r1);
    reload(&r1, &after);
    assert!(wait_until(Duration::from_secs(5), || lab.has_addr("r1", "eth0", "192.0.2.3")), "{}", r1.log_text());
    assert!(wait_until(Duration::from_secs(5), || !lab.has_addr("r1", "eth0", "192.0.2.2")), "{}", r1.log_text());
    assert!(wait_until(Duration::from_secs(5), || has_route("203.0.113.128/25")), "{}", r1.log_text());
    assert!(wait_until(Duration::from_secs(5), || !has_route("203.0.113.0/25")), "{}", r1.log_text());
    // Announced: the client reaches the new VIP at once.
    assert!(lab.exec("c1", "ping", &["-c1", "-W2", "192.0.2.3"]).status.success());
    assert!(lab.has_addr("r1", "eth0", "192.0.2.1") && has_route("198.51.100.0/24"));
    assert_eq!(addresses.deletions("192.0.2.1"), Vec::<String>::new(), "kept VIP deleted");
    assert_eq!(addresses.deletions("192.0.2.2").len(), 1);
    assert_eq!(route_log.route_deletions("198.51.100.0/24"), 0, "kept route deleted: {:?}", route_log.lines());
    assert_eq!(route_log.route_deletions("203.0.113.0/25"), 1, "{:?}", route_log.lines());
    assert_eq!(transitions(&r1), transitions_before, "{}", r1.log_text());
}

/// A configuration that cannot be used is refused with a log line; the running one
/// carries on (adverts, VIP) and a later good reload still works.
#[test]
fn a_broken_config_is_refused_and_the_old_one_keeps_running() {
    if !common::root_or_skip("reload e2e") {
        return;
    }
    let mut lab = lab();
    let capture = Capture::start(&lab, "c1", "eth0");
    let good = config("r1", "", &instance("VI_1", 1, 150, "", &["192.0.2.1"]));
    let r1 = lab.start("r1", Impl::Kad, "r1", &good, &[]);
    assert!(wait_until(TAKEOVER, || lab.has_addr("r1", "eth0", "192.0.2.1")), "{}", r1.log_text());
    let transitions_before = transitions(&r1);
    // No virtual_router_id: the only instance is unusable.
    let broken = good.replace("    virtual_router_id 1\n", "");
    reload(&r1, &broken);
    expect_log(&r1, "reload refused", Duration::from_secs(5));
    let t = Instant::now();
    assert!(
        wait_until(Duration::from_secs(4), || capture.from(R1, 1).iter().filter(|s| s.at > t && s.priority == 150).count() >= 2),
        "adverts stopped after the refused reload"
    );
    assert!(lab.has_addr("r1", "eth0", "192.0.2.1"));
    // An unreadable file is refused too.
    std::fs::remove_file(&r1.conf).unwrap();
    r1.signal(libc::SIGHUP);
    assert!(wait_until(Duration::from_secs(5), || log_matches(&r1, "reload refused").len() == 2), "{}", r1.log_text());
    assert!(lab.has_addr("r1", "eth0", "192.0.2.1"));
    reload(&r1, &config("r1", "", &instance("VI_1", 1, 150, "", &["192.0.2.1", "192.0.2.2"])));
    assert!(wait_until(Duration::from_secs(5), || lab.has_addr("r1", "eth0", "192.0.2.2")), "{}", r1.log_text());
    assert_eq!(transitions(&r1), transitions_before, "{}", r1.log_text());
}

fn shared_file(lab: &Lab, name: &str) -> PathBuf {
    let p = lab.dir.join(name);
    std::fs::write(&p, "").unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o666)).unwrap();
    p
}

fn recorder(lab: &Lab, out: &Path) -> PathBuf {
    let p = lab.dir.join("rec.sh");
    std::fs::write(&p, format!("#!/bin/sh\necho \"$*\" >> {}\n", out.display())).unwrap();
    std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).unwrap();
    p
}

fn lines(path: &Path) -> Vec<String> {
    std::fs::read_to_string(path).unwrap_or_default().lines().map(str::to_string).collect()
}

/// Matched by VRID, family, interface (not name): a renamed instance keeps running with
/// no transition; a removed MASTER releases with priority 0 and notifies DELETED (or
/// FAULT without notify_deleted) and its VMAC goes; a new instance, here on an interface
/// no instance used before, starts as at boot.
#[test]
fn renamed_removed_and_new_instances() {
    if !common::root_or_skip("reload e2e") {
        return;
    }
    let mut lab = lab();
    lab.connect("r1", "eth1", "lan2");
    lab.connect("c1", "eth1", "lan2");
    lab.ip("r1", &["addr", "add", "198.51.100.11/24", "dev", "eth1"]);
    let capture = Capture::start(&lab, "c1", "eth0");
    let capture2 = Capture::start(&lab, "c1", "eth1");
    let calls = shared_file(&lab, "calls");
    let rec = recorder(&lab, &calls);
    let fifo_path = lab.dir.join("fifo");
    let fifo = FifoReader::create(&fifo_path);
    let r = rec.display();
    let notify = |name: &str| format!("    notify \"{r} {name}\"\n");
    let before = config(
        "r1",
        &format!("    vrrp_notify_fifo {}\n", fifo_path.display()),
        &[
            instance("VI_1", 1, 150, &notify("VI_1"), &["192.0.2.1"]),
            instance("VI_2", 2, 150, &format!("{}    notify_deleted \"{r} VI_2 deleted\"\n", notify("VI_2")), &["192.0.2.2"]),
            instance("VI_4", 4, 150, &format!("{}    use_vmac\n", notify("VI_4")), &["192.0.2.4"]),
        ]
        .concat(),
    );
    let r1 = lab.start("r1", Impl::Kad, "r1", &before, &[]);
    let r2 = lab.start("r2", Impl::Kad, "r2", &r2_for(&[1, 2, 4]), &[]);
    for fifo_line in ["INSTANCE \"VI_1\" MASTER 150", "INSTANCE \"VI_2\" MASTER 150", "INSTANCE \"VI_4\" MASTER 150"] {
        assert!(fifo.wait_line(fifo_line, TAKEOVER), "{fifo_line}: {:?}\n{}", fifo.lines(), r1.log_text());
    }
    assert!(wait_until(Duration::from_secs(5), || lab.ip("r1", &["link", "show"]).contains("vrrp.4@eth0")));
    // The VMAC is up before its instance starts: no FAULT on the way.
    assert!(!fifo.lines().iter().any(|l| l.contains("FAULT")), "{:?}", fifo.lines());
    let addresses = Watcher::addresses(&lab, "r1");
    let fifo_before = fifo.lines().len();
    let calls_before = lines(&calls).len();
    let vi3 = instance("VI_3", 3, 150, &notify("VI_3"), &["198.51.100.3"]).replace("interface eth0", "interface eth1");
    let after = config(
        "r1",
        &format!("    vrrp_notify_fifo {}\n", fifo_path.display()),
        &[instance("VI_ONE", 1, 150, &notify("VI_ONE"), &["192.0.2.1"]), vi3].concat(),
    );
    let released_at = Instant::now();
    reload(&r1, &after);

    // Removed: priority 0 on the wire, addresses gone, r2 takes over in skew time.
    for vrid in [2u8, 4] {
        assert!(capture.wait_priority(R1, vrid, 0, released_at, Duration::from_secs(3)), "no priority 0 for VRID {vrid}");
        assert!(
            wait_until(Duration::from_secs(4), || lab.has_addr("r2", "eth0", &format!("192.0.2.{vrid}"))),
            "r2 did not take VRID {vrid} over:\n{}",
            r2.log_text()
        );
        assert!(!lab.has_addr("r1", "eth0", &format!("192.0.2.{vrid}")));
    }
    assert!(wait_until(Duration::from_secs(5), || !lab.ip("r1", &["link", "show"]).contains("vrrp.4")), "VMAC left behind");
    for line in ["INSTANCE \"VI_2\" DELETED 150", "INSTANCE \"VI_4\" FAULT 150"] {
        assert!(fifo.wait_line(line, Duration::from_secs(5)), "{line}: {:?}", fifo.lines());
    }
    // New, on eth1: BACKUP then MASTER, as at boot.
    assert!(fifo.wait_line("INSTANCE \"VI_3\" MASTER 150", TAKEOVER), "{:?}\n{}", fifo.lines(), r1.log_text());
    assert!(capture2.from("198.51.100.11", 3).iter().any(|s| s.priority == 150), "no adverts on eth1");
    let mut new_fifo = fifo.lines()[fifo_before..].to_vec();
    new_fifo.sort();
    let mut expected = vec![
        "INSTANCE \"VI_2\" DELETED 150".to_string(),
        "INSTANCE \"VI_4\" FAULT 150".to_string(),
        "INSTANCE \"VI_3\" BACKUP 150".to_string(),
        "INSTANCE \"VI_3\" MASTER 150".to_string(),
    ];
    expected.sort();
    assert_eq!(new_fifo, expected, "nothing about the renamed instance");
    let expected_calls = [
        "VI_2 deleted",
        "VI_2 INSTANCE VI_2 DELETED 150",
        "VI_4 INSTANCE VI_4 FAULT 150",
        "VI_3 INSTANCE VI_3 BACKUP 150",
        "VI_3 INSTANCE VI_3 MASTER 150",
    ];
    assert!(wait_until(Duration::from_secs(5), || lines(&calls).len() == calls_before + expected_calls.len()), "{:?}", lines(&calls));
    let mut new_calls = lines(&calls)[calls_before..].to_vec();
    new_calls.sort();
    let mut expected_calls: Vec<String> = expected_calls.iter().map(|s| s.to_string()).collect();
    expected_calls.sort();
    assert_eq!(new_calls, expected_calls);
    // Renamed: never released.
    assert_eq!(addresses.deletions("192.0.2.1"), Vec::<String>::new());
    assert!(lab.has_addr("r1", "eth0", "192.0.2.1"));
    assert!(log_matches(&r1, "(VI_ONE) Entering").is_empty(), "{}", r1.log_text());
    // The renamed instance reports under its new name from now on.
    r1.signal(libc::SIGTERM);
    assert!(fifo.wait_line("INSTANCE \"VI_ONE\" STOP 150", Duration::from_secs(5)), "{:?}", fifo.lines());
}

/// With reload_check_config the new configuration must pass `-t`: one with an error is
/// refused and the report written to the named file; without it the same configuration
/// is applied, as keepalived does.
#[test]
fn reload_check_config_refuses_a_config_with_errors() {
    if !common::root_or_skip("reload e2e") {
        return;
    }
    let mut lab = lab();
    let check_log = lab.dir.join("check.log");
    let with_error = |vips: &[&str], global: &str| {
        config("r1", global, &instance("VI_1", 1, 150, "    no_such_keyword 1\n", vips))
    };
    let r1 = lab.start("r1", Impl::Kad, "r1", &config("r1", "", &instance("VI_1", 1, 150, "", &["192.0.2.1"])), &[]);
    assert!(wait_until(TAKEOVER, || lab.has_addr("r1", "eth0", "192.0.2.1")), "{}", r1.log_text());
    // Without the check an error that keepalived can run with is applied.
    reload(&r1, &with_error(&["192.0.2.1", "192.0.2.2"], ""));
    assert!(wait_until(Duration::from_secs(5), || lab.has_addr("r1", "eth0", "192.0.2.2")), "{}", r1.log_text());
    let check = format!("    reload_check_config {}\n", check_log.display());
    reload(&r1, &config("r1", &check, &instance("VI_1", 1, 150, "", &["192.0.2.1"])));
    assert!(wait_until(Duration::from_secs(5), || !lab.has_addr("r1", "eth0", "192.0.2.2")), "{}", r1.log_text());
    reload(&r1, &with_error(&["192.0.2.1", "192.0.2.3"], &check));
    expect_log(&r1, &format!("New config failed validation, see {} for details", check_log.display()), Duration::from_secs(5));
    let report = std::fs::read_to_string(&check_log).unwrap_or_default();
    assert!(report.contains("no_such_keyword"), "check log: {report:?}");
    assert!(!lab.has_addr("r1", "eth0", "192.0.2.3"), "refused configuration applied");
    assert!(lab.has_addr("r1", "eth0", "192.0.2.1"));
}

/// Trackers keep running through a reload and keep feeding the instance, and with
/// fifo_write_vrrp_states_on_reload the states are written to the FIFO again.
#[test]
fn trackers_and_the_fifo_carry_on_after_a_reload() {
    if !common::root_or_skip("reload e2e") {
        return;
    }
    let mut lab = lab();
    let capture = Capture::start(&lab, "c1", "eth0");
    let rc = lab.dir.join("chk.rc");
    std::fs::write(&rc, "0").unwrap();
    let runs = lab.dir.join("chk.runs");
    let chk = lab.dir.join("chk.sh");
    std::fs::write(&chk, format!("#!/bin/sh\necho run >> {}\nexit $(cat {})\n", runs.display(), rc.display())).unwrap();
    std::fs::set_permissions(&chk, std::fs::Permissions::from_mode(0o755)).unwrap();
    let fifo_path = lab.dir.join("fifo");
    let fifo = FifoReader::create(&fifo_path);
    let text = |states_on_reload: bool| {
        let global = format!(
            "    vrrp_notify_fifo {}\n{}",
            fifo_path.display(),
            if states_on_reload { "    fifo_write_vrrp_states_on_reload\n" } else { "" }
        );
        let blocks = format!(
            "vrrp_script chk {{\n    script {}\n    interval 2\n    weight -50\n}}\n{}",
            chk.display(),
            instance("VI_1", 1, 150, "    track_script {\n        chk\n    }\n", &["192.0.2.1"])
        );
        config("r1", &global, &blocks)
    };
    let r1 = lab.start("r1", Impl::Kad, "r1", &text(false), &[]);
    assert!(fifo.wait_line("INSTANCE \"VI_1\" MASTER 150", TAKEOVER), "{:?}\n{}", fifo.lines(), r1.log_text());
    reload(&r1, &text(false));
    reload(&r1, &text(true));
    assert!(
        wait_until(Duration::from_secs(3), || fifo.lines().iter().filter(|l| *l == "INSTANCE \"VI_1\" MASTER 150").count() == 2),
        "states not written on reload: {:?}",
        fifo.lines()
    );
    assert_eq!(fifo.lines().len(), 3, "only the second reload writes states: {:?}", fifo.lines());
    // The script's runner carries on through reloads: no extra runs, no reset counts.
    let before = lines(&runs).len();
    for _ in 0..10 {
        reload(&r1, &text(true));
    }
    assert!(lines(&runs).len() <= before + 1, "reloads restarted the script: {} runs after {before}", lines(&runs).len());
    let t = Instant::now();
    std::fs::write(&rc, "1").unwrap();
    assert!(
        capture.wait_priority(R1, 1, 100, t, Duration::from_secs(10)),
        "script result after the reload ignored: {:?}\n{}",
        capture.priorities(R1, 1, t),
        r1.log_text()
    );
}

/// A reload keeps a notify FIFO the new configuration names as before, with its reader
/// script running (keepalived closes and reopens it, killing the reader); a FIFO that
/// changes is closed, its reader stopped, and the new one opened with a new reader.
#[test]
fn a_reload_keeps_an_unchanged_fifo_and_replaces_a_changed_one() {
    if !common::root_or_skip("reload e2e") {
        return;
    }
    let mut lab = lab();
    let d = lab.dir.clone();
    let readers = d.join("readers");
    let reader = d.join("reader.sh");
    std::fs::write(
        &reader,
        format!("#!/bin/sh\necho \"$$ $1\" >> {}\nexec cat \"$1\" >> \"$1.lines\"\n", readers.display()),
    )
    .unwrap();
    std::fs::set_permissions(&reader, std::fs::Permissions::from_mode(0o755)).unwrap();
    let text = |fifo: &str| {
        let global = format!(
            "    vrrp_notify_fifo {}\n    vrrp_notify_fifo_script {}\n    fifo_write_vrrp_states_on_reload\n",
            d.join(fifo).display(),
            reader.display()
        );
        config("r1", &global, &instance("VI_1", 1, 150, "", &["192.0.2.1"]))
    };
    let master_lines = |fifo: &str| lines(&d.join(format!("{fifo}.lines"))).iter().filter(|l| *l == "INSTANCE \"VI_1\" MASTER 150").count();
    let r1 = lab.start("r1", Impl::Kad, "r1", &text("a"), &[]);
    assert!(wait_until(TAKEOVER, || master_lines("a") == 1), "{:?}\n{}", lines(&d.join("a.lines")), r1.log_text());
    reload(&r1, &text("a"));
    assert!(wait_until(Duration::from_secs(5), || master_lines("a") == 2), "{:?}", lines(&d.join("a.lines")));
    assert_eq!(lines(&readers).len(), 1, "the reader was restarted: {:?}", lines(&readers));
    let first: i32 = lines(&readers)[0].split_whitespace().next().unwrap().parse().unwrap();
    assert!(Path::new(&format!("/proc/{first}")).exists());

    reload(&r1, &text("b"));
    assert!(wait_until(Duration::from_secs(5), || master_lines("b") == 1), "{:?}\n{}", lines(&d.join("b.lines")), r1.log_text());
    assert_eq!(lines(&readers).len(), 2);
    assert!(lines(&readers)[1].ends_with("/b"), "{:?}", lines(&readers));
    assert!(wait_until(Duration::from_secs(5), || !Path::new(&format!("/proc/{first}")).exists()), "old reader still running");
    assert!(!d.join("a").exists(), "the FIFO kad created stays");
}
