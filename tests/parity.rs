//! `-t` parity between kad and Debian's keepalived 2.2.7 on the config corpus.
//!
//! Both daemons run on every corpus config in a namespace that has the configs'
//! interfaces, at the same time, each bounded in time (a hang is a failure). Their exit
//! codes must be equal, except for configs marked `differs:`, where keepalived must still
//! return what was recorded and kad what `exit:` says. keepalived must be installed: these
//! tests fail, never skip, without it.

mod common;

use common::corpus::{
    excerpt, load_corpus, par_map, require_keepalived, text_mismatches, Case, Daemon, Expectation, Locations, MAX_HANGS,
};
use common::netns::{Netns, RunOutput};
use common::tmp::TempDir;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The harness itself, against keepalived alone: keepalived must still produce every
/// recorded exit code and, on configs where kad is meant to behave the same, every
/// recorded diagnostic. This is what makes the corpus trustworthy before kad is judged.
#[test]
fn keepalived_matches_the_recorded_corpus() {
    require_keepalived();
    if !common::root_or_skip("keepalived_matches_the_recorded_corpus") {
        return;
    }
    let cases = load_corpus().unwrap_or_else(|problems| panic!("corpus problems:\n{problems}"));
    let ns = Netns::for_corpus().expect("create the parity namespace");
    let hangs = AtomicUsize::new(0);
    let failures: Vec<String> = par_map(&cases, 4, |case| {
        if hangs.load(Ordering::Relaxed) >= MAX_HANGS {
            return Some(format!("  {}: not run, keepalived already hung {MAX_HANGS} times\n", case.name));
        }
        let out = match Daemon::Keepalived.config_test(&ns, &case.conf, &[], &case.expect.env) {
            Ok(out) => out,
            Err(e) => return Some(format!("  {}: cannot run keepalived: {e}\n", case.name)),
        };
        if out.timed_out() {
            hangs.fetch_add(1, Ordering::Relaxed);
        }
        let mut problems = Vec::new();
        if out.code() != Some(case.expect.keepalived_exit) {
            problems.push(format!(
                "{}, recorded keepalived_exit {}",
                out.describe_status(),
                case.expect.keepalived_exit
            ));
        }
        if case.expect.differs.is_none() {
            problems.extend(text_mismatches(&case.expect, &out.stderr, Locations::Keepalived));
        }
        (!problems.is_empty()).then(|| format!("  {}: {}\n{}", case.name, problems.join("; "), excerpt(&out.stderr)))
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failures.is_empty(),
        "keepalived no longer matches {} of {} recorded corpus configs (re-run compat/measure-corpus.sh?):\n{}",
        failures.len(),
        cases.len(),
        failures.join("")
    );
}

#[test]
fn kad_and_keepalived_agree_on_the_corpus() {
    require_keepalived();
    if !common::root_or_skip("kad_and_keepalived_agree_on_the_corpus") {
        return;
    }
    let cases = load_corpus().unwrap_or_else(|problems| panic!("corpus problems:\n{problems}"));
    let ns = Netns::for_corpus().expect("create the parity namespace");
    let hangs = AtomicUsize::new(0);
    let failures: Vec<String> = par_map(&cases, 2, |case| {
        if hangs.load(Ordering::Relaxed) >= MAX_HANGS {
            return Some(format!("  {}: not run, already {MAX_HANGS} hangs\n", case.name));
        }
        let (keepalived, kad) = run_both(&ns, &case.conf, &[], &case.expect.env);
        if [&keepalived, &kad].iter().any(|out| out.as_ref().is_ok_and(RunOutput::timed_out)) {
            hangs.fetch_add(1, Ordering::Relaxed);
        }
        compare(case, &keepalived, &kad)
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failures.is_empty(),
        "kad and keepalived disagree on {} of {} corpus configs:\n{}",
        failures.len(),
        cases.len(),
        failures.join("")
    );
}

/// Command-line cases outside the corpus.
#[test]
fn kad_and_keepalived_agree_on_a_missing_config_file() {
    require_keepalived();
    if !common::root_or_skip("kad_and_keepalived_agree_on_a_missing_config_file") {
        return;
    }
    let ns = Netns::for_corpus().expect("create the parity namespace");
    let dir = TempDir::new("missing-conf").expect("temporary directory");
    let missing = dir.path().join("no-such-keepalived.conf");
    let cli_cases = [
        (
            "-f nonexistent",
            Vec::new(),
            Expectation {
                keepalived_exit: 0,
                exit: 4,
                differs: Some(
                    "keepalived -t passes a missing config file (exit 0); kad reports that it cannot run \
                     (exit 4), as documented in its man page"
                        .into(),
                ),
                contains: vec!["no-such-keepalived.conf".into()],
                ..Expectation::default()
            },
        ),
        (
            "-e -f nonexistent",
            vec!["-e"],
            Expectation {
                keepalived_exit: 4,
                exit: 4,
                contains: vec!["Config files missing".into()],
                ..Expectation::default()
            },
        ),
    ];
    let failures: Vec<String> = cli_cases
        .iter()
        .filter_map(|(name, args, expect)| {
            let (keepalived, kad) = run_both(&ns, &missing, args, &[]);
            let case = Case { name: name.to_string(), conf: missing.clone(), expect: expect.clone() };
            let mut report = compare(&case, &keepalived, &kad);
            if let Ok(kad) = &kad {
                let texts = text_mismatches(expect, &kad.stderr, Locations::Kad);
                if !texts.is_empty() {
                    report
                        .get_or_insert_with(|| format!("  {name}:\n"))
                        .push_str(&format!("    kad {}\n", texts.join("; ")));
                }
            }
            report
        })
        .collect();
    assert!(failures.is_empty(), "command-line parity failures:\n{}", failures.join(""));
}

/// keepalived and kad on the same config, at the same time.
fn run_both(
    ns: &Netns,
    conf: &Path,
    args: &[&str],
    env: &[(String, String)],
) -> (std::io::Result<RunOutput>, std::io::Result<RunOutput>) {
    std::thread::scope(|scope| {
        let keepalived = scope.spawn(|| Daemon::Keepalived.config_test(ns, conf, args, env));
        let kad = Daemon::Kad.config_test(ns, conf, args, env);
        let keepalived = keepalived.join().unwrap_or_else(|_| Err(std::io::Error::other("keepalived runner panicked")));
        (keepalived, kad)
    })
}

/// A report if the pair of results breaks the case's parity rule.
fn compare(case: &Case, keepalived: &std::io::Result<RunOutput>, kad: &std::io::Result<RunOutput>) -> Option<String> {
    let (keepalived, kad) = match (keepalived, kad) {
        (Ok(keepalived), Ok(kad)) => (keepalived, kad),
        (Err(e), _) => return Some(format!("  {}: cannot run keepalived: {e}\n", case.name)),
        (_, Err(e)) => return Some(format!("  {}: cannot run kad: {e}\n", case.name)),
    };
    let expect = &case.expect;
    let mut problems = Vec::new();
    if keepalived.code() != Some(expect.keepalived_exit) {
        problems.push(format!("keepalived {} but recorded {}", keepalived.describe_status(), expect.keepalived_exit));
    }
    match &expect.differs {
        None if kad.code() != keepalived.code() => {
            problems.push(format!("kad {} but keepalived {}", kad.describe_status(), keepalived.describe_status()));
        }
        Some(reason) if kad.code() != Some(expect.exit) => {
            problems.push(format!("kad {} but must return {} ({reason})", kad.describe_status(), expect.exit));
        }
        _ => {}
    }
    (!problems.is_empty()).then(|| {
        format!(
            "  {}: {}\n      keepalived:\n{}      kad:\n{}",
            case.name,
            problems.join("; "),
            excerpt(&keepalived.stderr),
            excerpt(&kad.stderr)
        )
    })
}
