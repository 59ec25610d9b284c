//! The shared test helpers in tests/common: namespaces are built as promised and always
//! removed, and commands are bounded in time together with everything they fork.

mod common;

use common::netns::{run_with_timeout, Netns, Peers, CORPUS_INTERFACES};
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

const TIMEOUT: Duration = Duration::from_secs(10);

fn namespace_exists(name: &str) -> bool {
    Path::new("/run/netns").join(name).exists()
}

/// Interface names in the namespace, from `ip -o link`.
fn links(ns: &Netns) -> Vec<String> {
    let out = ns.run("ip", ["-o", "link", "show", "up"], TIMEOUT).unwrap();
    assert!(out.success(), "ip link: {}", out.stderr);
    let mut names: Vec<String> = out
        .stdout
        .lines()
        .filter_map(|l| l.split(": ").nth(1))
        .map(|name| name.split('@').next().unwrap_or(name).to_string())
        .collect();
    names.sort();
    names
}

#[test]
fn corpus_namespace_has_exactly_the_interfaces_and_is_removed_on_drop() {
    if !common::root_or_skip("corpus_namespace_has_exactly_the_interfaces_and_is_removed_on_drop") {
        return;
    }
    let ns = Netns::for_corpus().unwrap();
    let (name, peer) = (ns.name().to_string(), ns.peer_namespace().unwrap().to_string());
    assert!(name.starts_with(&format!("kadt-{}-", std::process::id())));
    let mut expected: Vec<String> = CORPUS_INTERFACES.iter().map(|s| s.to_string()).collect();
    expected.push("lo".into());
    expected.sort();
    assert_eq!(links(&ns), expected);

    let peer_links = ns.peer_command("ip").unwrap().args(["-o", "link", "show", "up"]).output().unwrap();
    let peer_links = String::from_utf8_lossy(&peer_links.stdout);
    for ifname in CORPUS_INTERFACES {
        assert!(peer_links.contains(&format!(": {ifname}@")), "peer end {ifname} missing:\n{peer_links}");
    }

    drop(ns);
    assert!(!namespace_exists(&name) && !namespace_exists(&peer));
}

#[test]
fn same_namespace_peers_sit_beside_their_interfaces() {
    if !common::root_or_skip("same_namespace_peers_sit_beside_their_interfaces") {
        return;
    }
    let ns = Netns::with_interfaces(&["eth0", "eth4"], Peers::SameNamespace).unwrap();
    assert_eq!(ns.peer_namespace(), None);
    assert_eq!(links(&ns), ["eth0", "eth0-p", "eth4", "eth4-p", "lo"]);
}

#[test]
fn namespace_is_removed_when_the_test_panics() {
    if !common::root_or_skip("namespace_is_removed_when_the_test_panics") {
        return;
    }
    let mut name = String::new();
    let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        let ns = Netns::with_interfaces(&["eth0"], Peers::SecondNamespace).unwrap();
        name = ns.name().to_string();
        panic!("test failure inside the namespace");
    }));
    assert!(result.is_err());
    assert!(!name.is_empty() && !namespace_exists(&name) && !namespace_exists(&format!("{name}-p")));
}

#[test]
fn a_hanging_command_is_killed_with_what_it_forked() {
    let mut cmd = Command::new("sh");
    // The background sleep would keep running (and keep stdout open) if only sh were killed.
    cmd.args(["-c", "sleep 300 & echo $!; wait"]);
    let out = run_with_timeout(cmd, Duration::from_millis(300)).unwrap();
    assert!(out.timed_out());
    assert_eq!(out.code(), None);
    let pid: u32 = out.stdout.trim().parse().unwrap();
    // Killed processes are reaped by init asynchronously: poll, bounded.
    let deadline = Instant::now() + TIMEOUT;
    loop {
        let state = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok();
        let gone = state
            .as_deref()
            .is_none_or(|s| s.rsplit(')').next().is_some_and(|rest| rest.trim_start().starts_with('Z')));
        if gone {
            break;
        }
        assert!(Instant::now() < deadline, "forked sleep {pid} survived the timeout kill");
        std::thread::sleep(Duration::from_millis(10));
    }
}

#[test]
fn a_finished_command_reports_its_exit_code_and_output() {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", "echo out; echo err >&2; exit 5"]);
    let out = run_with_timeout(cmd, TIMEOUT).unwrap();
    assert_eq!(out.code(), Some(5));
    assert!(!out.timed_out());
    assert_eq!(out.stdout, "out\n");
    assert_eq!(out.stderr, "err\n");
}
