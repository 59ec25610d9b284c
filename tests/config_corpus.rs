//! `kad -t` against the keepalived.conf corpus in tests/configs: every top-level config's
//! exit code and diagnostics must match its `.expect` file (format: tests/configs/README.md).

mod common;

use common::corpus::{excerpt, load_corpus, par_map, text_mismatches, Case, Daemon, Locations, MAX_HANGS};
use common::netns::Netns;
use std::collections::BTreeSet;
use std::sync::atomic::{AtomicUsize, Ordering};

#[test]
fn corpus_is_complete_and_well_formed() {
    let cases = load_corpus().unwrap_or_else(|problems| panic!("corpus problems:\n{problems}"));
    assert!(cases.len() >= 70, "only {} configs in the corpus", cases.len());

    // Every `-t` outcome keepalived has is represented: clean, the immediate exit on a
    // missing keyword argument, cannot run, errors, and script security.
    let exits: BTreeSet<i32> = cases.iter().map(|c| c.expect.keepalived_exit).collect();
    assert_eq!(exits, BTreeSet::from([0, 2, 4, 5, 6]), "keepalived exit codes covered by the corpus");

    let named = |name: &str| cases.iter().find(|c| c.name == name).unwrap_or_else(|| panic!("{name}.conf is missing"));
    assert_eq!(named("flagship").expect.exit, 0);
    assert_eq!(named("flagship-fw2").expect.exit, 0);
    let extension = named("flagship-backup-routes");
    assert!(
        extension.expect.differs.is_some() && extension.expect.exit == 0,
        "backup_routes is a kad extension kad accepts"
    );
}

#[test]
fn kad_config_test_meets_corpus_expectations() {
    if !common::root_or_skip("kad_config_test_meets_corpus_expectations") {
        return;
    }
    let cases = load_corpus().unwrap_or_else(|problems| panic!("corpus problems:\n{problems}"));
    let ns = Netns::for_corpus().expect("create the corpus namespace");
    let hangs = AtomicUsize::new(0);
    let failures: Vec<String> = par_map(&cases, 4, |case| check_kad(&ns, case, &hangs)).into_iter().flatten().collect();
    assert!(
        failures.is_empty(),
        "{} of {} corpus configs do not meet their expectations:\n{}",
        failures.len(),
        cases.len(),
        failures.join("")
    );
}

/// A report for `case` if kad misses any of its expectations.
fn check_kad(ns: &Netns, case: &Case, hangs: &AtomicUsize) -> Option<String> {
    if hangs.load(Ordering::Relaxed) >= MAX_HANGS {
        return Some(format!("  {}: not run, kad already hung {MAX_HANGS} times\n", case.name));
    }
    let out = match Daemon::Kad.config_test(ns, &case.conf, &[], &case.expect.env) {
        Ok(out) => out,
        Err(e) => return Some(format!("  {}: cannot run kad: {e}\n", case.name)),
    };
    if out.timed_out() {
        hangs.fetch_add(1, Ordering::Relaxed);
    }
    let mut problems = Vec::new();
    if out.code() != Some(case.expect.exit) {
        problems.push(format!("{}, expected exit {}", out.describe_status(), case.expect.exit));
    }
    problems.extend(text_mismatches(&case.expect, &out.stderr, Locations::Kad));
    (!problems.is_empty()).then(|| format!("  {}: {}\n{}", case.name, problems.join("; "), excerpt(&out.stderr)))
}

fn corpus_load_options() -> kad::config::LoadOptions {
    let names = ["eth0", "eth1", "eth2", "eth3", "eth4", "eth5", "lo"].iter().map(|s| s.to_string()).collect();
    kad::config::LoadOptions {
        config_id: Some("kadtest".into()),
        interfaces: kad::config::InterfaceCheck::Fake(names),
        ..Default::default()
    }
}

/// `-d` prints the resolved configuration in keepalived.conf syntax; reading that text
/// back must give the same model, for every valid corpus file.
#[test]
fn dump_of_every_valid_corpus_config_reads_back_to_the_same_model() {
    let cases = load_corpus().unwrap_or_else(|problems| panic!("corpus problems:\n{problems}"));
    for case in &cases {
        for (k, v) in &case.expect.env {
            std::env::set_var(k, v);
        }
    }
    let opts = corpus_load_options();
    let mut checked = 0;
    let mut failures = Vec::new();
    for case in cases.iter().filter(|c| c.expect.exit == 0) {
        let first = kad::config::load(&case.conf, &opts);
        let Some(config) = first.config else { continue };
        let text = kad::config::dump(&config);
        let again = kad::config::load_str(&text, "dump.conf", &opts);
        match again.config {
            Some(c) if kad::config::same_config(&config, &c) => checked += 1,
            Some(_) => failures.push(format!("{}: the dump reads back to a different model", case.name)),
            None => failures.push(format!(
                "{}: the dump does not read back: {:?}",
                case.name,
                again.diags.list.iter().map(|d| d.message.clone()).collect::<Vec<_>>()
            )),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert!(checked >= 50, "only {checked} valid corpus configs were round-tripped");
}

/// `kad -t -d` prints exactly what the library's dump gives.
#[test]
fn config_test_with_dump_prints_the_resolved_configuration() {
    if !common::root_or_skip("config_test_with_dump") {
        return;
    }
    let ns = Netns::for_corpus().expect("create the corpus namespace");
    let conf = common::corpus::corpus_dir().join("flagship.conf");
    let out = ns
        .run(env!("CARGO_BIN_EXE_kad"), ["-t", "-d", "-i", "kadtest", "-f", conf.to_str().unwrap()], std::time::Duration::from_secs(20))
        .expect("run kad -t -d");
    let expected = kad::config::dump(&kad::config::load(&conf, &corpus_load_options()).config.expect("flagship loads"));
    assert_eq!(out.stdout, expected);
}
