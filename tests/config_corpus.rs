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
