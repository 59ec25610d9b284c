//! `-t` parity on the sample configs Debian's keepalived package ships
//! (/usr/share/doc/keepalived/samples/keepalived.conf.*, gzipped ones decompressed first).
//!
//! Both daemons check every sample, at the same time, in a namespace that has every
//! interface the samples name, each bounded in time. Their exit codes must be equal, except
//! where [`DIFFERENCES`] records why kad deliberately answers otherwise; there keepalived
//! must still give the recorded code, so a changed keepalived is noticed. keepalived must be
//! installed: this test fails, never skips, without it.

mod common;

use common::corpus::{excerpt, par_map, require_keepalived, KEEPALIVED, RUN_TIMEOUT};
use common::netns::{run_with_timeout, Netns, Peers, RunOutput};
use common::tmp::TempDir;
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;

const SAMPLES_DIR: &str = "/usr/share/doc/keepalived/samples";
const KAD: &str = env!("CARGO_BIN_EXE_kad");
/// Passed with `-i` unless a run names its own, so `@id` lines do not depend on the host name.
const NEUTRAL_ID: &str = "kadtest";

/// Runs beyond the plain one: conditional_conf says to run it with `-i high` or `-i low`.
const EXTRA_RUNS: &[(&str, &[&str])] =
    &[("keepalived.conf.conditional_conf", &["-i", "high"]), ("keepalived.conf.conditional_conf", &["-i", "low"])];

/// A run whose exit codes differ on purpose.
struct Difference {
    /// The run's label: the sample's file name, then any arguments of an [`EXTRA_RUNS`] run.
    run: &'static str,
    keepalived_exit: i32,
    kad_exit: i32,
    reason: &'static str,
}

const NET_NAMESPACE_REASON: &str = "keepalived -t enters the config's net_namespace before checking anything, and \
     when that namespace does not exist it exits 0 without checking the config or saying a word; kad ignores \
     net_namespace (it runs in the namespace it is started in) and reports the missing track script file. With \
     the namespace present both return 5 (see the run with the namespace rewritten)";

const DIFFERENCES: &[Difference] = &[
    Difference {
        run: "keepalived.conf.fwmark",
        keepalived_exit: 5,
        kad_exit: 0,
        reason: "keepalived's checker warns that `protocol` is ignored in an fwmark virtual_server (LVS); kad \
                 implements only keepalived's VRRP side and skips virtual_server sections with a note, as on \
                 every other LVS sample",
    },
    Difference {
        run: "keepalived.conf.conditional_conf -i high",
        keepalived_exit: 0,
        kad_exit: 5,
        reason: NET_NAMESPACE_REASON,
    },
    Difference {
        run: "keepalived.conf.conditional_conf -i low",
        keepalived_exit: 0,
        kad_exit: 5,
        reason: NET_NAMESPACE_REASON,
    },
];

struct Run {
    /// Shown in reports and matched by [`Difference::run`].
    label: String,
    conf: PathBuf,
    args: Vec<String>,
}

/// Every `keepalived.conf.*` sample in `dir`, decompressed into `scratch` where gzipped;
/// sorted by name.
fn samples(dir: &Path, scratch: &Path) -> Vec<(String, PathBuf)> {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| {
        panic!(
            "{}: {e}: Debian's keepalived package ships the samples there (a dpkg path-exclude of \
             /usr/share/doc/* drops them: remove it and reinstall keepalived)",
            dir.display()
        )
    });
    let mut found = Vec::new();
    for entry in entries {
        let path = entry.expect("read the samples directory").path();
        let Some(file) = path.file_name().and_then(|n| n.to_str()).map(str::to_string) else { continue };
        if !file.starts_with("keepalived.conf.") {
            continue;
        }
        match file.strip_suffix(".gz") {
            Some(name) => {
                let out = Command::new("gzip").arg("-dc").arg(&path).output().expect("run gzip");
                assert!(out.status.success(), "gzip -dc {}: {}", path.display(), String::from_utf8_lossy(&out.stderr));
                let target = scratch.join(name);
                std::fs::write(&target, out.stdout).expect("write a decompressed sample");
                found.push((name.to_string(), target));
            }
            None => found.push((file, path)),
        }
    }
    found.sort();
    found
}

/// The interface names a config uses: after `interface`, `dev` and
/// `lvs_sync_daemon_interface`, and the entries of `track_interface` blocks.
fn interface_names(text: &str) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    let mut in_track_block = false;
    for line in text.lines() {
        let line = line.split(['#', '!']).next().unwrap_or_default();
        let words: Vec<&str> = line.split_whitespace().filter(|w| *w != "{").collect();
        if in_track_block {
            if words.first() == Some(&"}") {
                in_track_block = false;
            } else if let Some(name) = words.first() {
                names.insert(name.to_string());
            }
            continue;
        }
        for pair in words.windows(2) {
            if matches!(pair[0], "interface" | "dev" | "lvs_sync_daemon_interface") {
                names.insert(pair[1].to_string());
            }
        }
        if words.first() == Some(&"track_interface") {
            in_track_block = !line.contains('}');
        }
    }
    names.retain(|n| n.len() <= 15 && n.bytes().all(|b| b.is_ascii_alphanumeric() || b"._-".contains(&b)));
    names
}

fn run_one(ns: &Netns, program: &str, run: &Run) -> std::io::Result<RunOutput> {
    let mut cmd = ns.command(program);
    cmd.current_dir("/").args(&run.args).arg("-t").arg("-f").arg(&run.conf);
    let _pid_dir = if program == KEEPALIVED {
        // keepalived checks and writes pid files; private ones keep parallel runs apart.
        let dir = TempDir::new("ka-pids")?;
        for (flag, file) in [("-p", "ka.pid"), ("-r", "vrrp.pid"), ("-c", "check.pid"), ("-b", "bfd.pid")] {
            cmd.arg(flag).arg(dir.path().join(file));
        }
        Some(dir)
    } else {
        None
    };
    run_with_timeout(cmd, RUN_TIMEOUT)
}

#[test]
fn the_interface_reader_finds_names_in_every_position() {
    let text = "vrrp_instance A {\n interface eth0.1 # vlan\n track_interface {\n  eth3\n  eth2 weight 20\n }\n \
                virtual_ipaddress {\n  192.0.2.1 dev eth1\n }\n lvs_sync_daemon_interface eth4\n}\n\
                ! interface not_me\ntrack_interface { eth5 }\n";
    let names: Vec<String> = interface_names(text).into_iter().collect();
    assert_eq!(names, ["eth0.1", "eth1", "eth2", "eth3", "eth4"]);
}

#[test]
fn gzipped_samples_are_decompressed_and_other_files_skipped() {
    let dir = TempDir::new("samples-in").expect("temporary directory");
    let scratch = TempDir::new("samples-out").expect("temporary directory");
    std::fs::write(dir.path().join("keepalived.conf.plain"), "global_defs {\n}\n").unwrap();
    std::fs::write(dir.path().join("keepalived.conf.packed"), "vrrp_instance VI_1 {\n}\n").unwrap();
    std::fs::write(dir.path().join("sample_notify_fifo.sh"), "#!/bin/sh\n").unwrap();
    let gzip = Command::new("gzip").arg(dir.path().join("keepalived.conf.packed")).status().expect("run gzip");
    assert!(gzip.success());
    let found = samples(dir.path(), scratch.path());
    let names: Vec<&str> = found.iter().map(|(name, _)| name.as_str()).collect();
    assert_eq!(names, ["keepalived.conf.packed", "keepalived.conf.plain"]);
    assert_eq!(found[0].1, scratch.path().join("keepalived.conf.packed"));
    assert_eq!(std::fs::read_to_string(&found[0].1).unwrap(), "vrrp_instance VI_1 {\n}\n");
    assert_eq!(found[1].1, dir.path().join("keepalived.conf.plain"));
}

#[test]
fn kad_and_keepalived_agree_on_debians_sample_configs() {
    require_keepalived();
    if !common::root_or_skip("kad_and_keepalived_agree_on_debians_sample_configs") {
        return;
    }
    let scratch = TempDir::new("samples").expect("scratch directory");
    let samples = samples(Path::new(SAMPLES_DIR), scratch.path());
    assert!(!samples.is_empty(), "no keepalived.conf.* in {SAMPLES_DIR}");

    let mut interfaces = BTreeSet::new();
    for (_, path) in &samples {
        let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
        interfaces.extend(interface_names(&text));
    }
    let interface_refs: Vec<&str> = interfaces.iter().map(String::as_str).collect();
    let ns = Netns::with_interfaces(&interface_refs, Peers::SecondNamespace).expect("create the samples namespace");

    let mut runs: Vec<Run> = samples
        .iter()
        .map(|(name, path)| Run { label: name.clone(), conf: path.clone(), args: vec!["-i".into(), NEUTRAL_ID.into()] })
        .collect();
    for (sample, args) in EXTRA_RUNS {
        let Some((_, path)) = samples.iter().find(|(name, _)| name == sample) else {
            panic!("EXTRA_RUNS names {sample}, which is not shipped")
        };
        runs.push(Run {
            label: format!("{sample} {}", args.join(" ")),
            conf: path.clone(),
            args: args.iter().map(|a| a.to_string()).collect(),
        });
        // The same run once the net_namespace it names exists (it is this test's namespace).
        let text = std::fs::read_to_string(path).expect("read the sample");
        let id = args.last().copied().unwrap_or_default();
        let rewritten = text.replace(&format!("net_namespace {id}"), &format!("net_namespace {}", ns.name()));
        assert_ne!(rewritten, text, "{sample} no longer names a net_namespace for -i {id}");
        let conf = scratch.path().join(format!("{sample}.netns-{id}"));
        std::fs::write(&conf, rewritten).expect("write the rewritten sample");
        runs.push(Run {
            label: format!("{sample} {} (net_namespace present)", args.join(" ")),
            conf,
            args: args.iter().map(|a| a.to_string()).collect(),
        });
    }

    for d in DIFFERENCES {
        assert!(runs.iter().any(|r| r.label == d.run), "DIFFERENCES names the run {}, which does not exist", d.run);
    }

    let failures: Vec<String> = par_map(&runs, 2, |run| {
        let (keepalived, kad) = std::thread::scope(|scope| {
            let keepalived = scope.spawn(|| run_one(&ns, KEEPALIVED, run));
            let kad = run_one(&ns, KAD, run);
            (keepalived.join().expect("keepalived runner"), kad)
        });
        let (keepalived, kad) = match (keepalived, kad) {
            (Ok(keepalived), Ok(kad)) => (keepalived, kad),
            (Err(e), _) | (_, Err(e)) => return Some(format!("  {}: cannot run: {e}\n", run.label)),
        };
        let difference = DIFFERENCES.iter().find(|d| d.run == run.label);
        let problem = match difference {
            None if kad.code() == keepalived.code() && !kad.timed_out() => return None,
            None => format!("kad {} but keepalived {}", kad.describe_status(), keepalived.describe_status()),
            Some(d) if keepalived.code() == Some(d.keepalived_exit) && kad.code() == Some(d.kad_exit) => return None,
            Some(d) => format!(
                "recorded difference no longer holds: keepalived {} (recorded {}), kad {} (recorded {}): {}",
                keepalived.describe_status(),
                d.keepalived_exit,
                kad.describe_status(),
                d.kad_exit,
                d.reason
            ),
        };
        Some(format!(
            "  {}: {problem}\n      keepalived:\n{}      kad:\n{}",
            run.label,
            excerpt(&format!("{}{}", keepalived.stdout, keepalived.stderr)),
            excerpt(&format!("{}{}", kad.stdout, kad.stderr))
        ))
    })
    .into_iter()
    .flatten()
    .collect();
    assert!(
        failures.is_empty(),
        "kad and keepalived disagree on {} of {} sample runs (interfaces created: {}):\n{}",
        failures.len(),
        runs.len(),
        interface_refs.join(" "),
        failures.join("")
    );
}
