//! The keepalived.conf corpus in tests/configs: loading the `.expect` files, running a
//! daemon's `-t` on a config, and checking its diagnostics (format: tests/configs/README.md).

use super::netns::{run_with_timeout, Netns, RunOutput};
use super::tmp::TempDir;
use std::collections::BTreeSet;
use std::io;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// Passed with `-i` to both daemons, so `@id` lines do not depend on the host name.
pub const CONFIG_ID: &str = "kadtest";

/// Debian's keepalived, the reference peer.
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// A `-t` run that takes longer than this counts as a hang.
pub const RUN_TIMEOUT: Duration = Duration::from_secs(20);

/// After this many hangs the remaining configs are not run, which keeps a daemon that
/// hangs on everything from holding the suite for an hour.
pub const MAX_HANGS: usize = 3;

/// The expectations for one config (its `.expect` file).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Expectation {
    pub keepalived_exit: i32,
    pub exit: i32,
    pub differs: Option<String>,
    pub contains: Vec<String>,
    pub not_contains: Vec<String>,
    pub env: Vec<(String, String)>,
}

impl Expectation {
    pub fn parse(text: &str) -> Result<Expectation, String> {
        let mut keepalived_exit = None;
        let mut exit = None;
        let mut expect = Expectation::default();
        for (index, line) in text.lines().enumerate() {
            let at = |msg: String| format!("line {}: {msg}", index + 1);
            let line = line.trim_end();
            if line.trim_start().is_empty() || line.trim_start().starts_with('#') {
                continue;
            }
            let (key, value) = line.split_once(':').ok_or_else(|| at("expected `key: value`".into()))?;
            let value = value.trim_start();
            if value.is_empty() {
                return Err(at(format!("`{key}` has no value")));
            }
            match key {
                "keepalived_exit" => set_once(&mut keepalived_exit, parse_code(value).map_err(at)?).map_err(at)?,
                "exit" => set_once(&mut exit, parse_code(value).map_err(at)?).map_err(at)?,
                "differs" => set_once(&mut expect.differs, value.to_string()).map_err(at)?,
                "contains" => expect.contains.push(value.to_string()),
                "not_contains" => expect.not_contains.push(value.to_string()),
                "env" => {
                    let (name, val) =
                        value.split_once('=').ok_or_else(|| at(format!("env `{value}` is not NAME=VALUE")))?;
                    expect.env.push((name.to_string(), val.to_string()));
                }
                other => return Err(at(format!("unknown key `{other}`"))),
            }
        }
        expect.keepalived_exit = keepalived_exit.ok_or("no keepalived_exit: line")?;
        expect.exit = exit.ok_or("no exit: line")?;
        if expect.differs.is_none() && expect.exit != expect.keepalived_exit {
            return Err(format!(
                "exit: {} differs from keepalived_exit: {} without a differs: reason",
                expect.exit, expect.keepalived_exit
            ));
        }
        Ok(expect)
    }
}

fn set_once<T>(slot: &mut Option<T>, value: T) -> Result<(), String> {
    if slot.is_some() {
        return Err("given twice".into());
    }
    *slot = Some(value);
    Ok(())
}

fn parse_code(value: &str) -> Result<i32, String> {
    value.parse().map_err(|_| format!("`{value}` is not an exit code"))
}

/// One corpus config and its expectations.
#[derive(Debug, Clone)]
pub struct Case {
    /// File name without `.conf`.
    pub name: String,
    pub conf: PathBuf,
    pub expect: Expectation,
}

pub fn corpus_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests").join("configs")
}

/// Every top-level `*.conf` with its parsed `.expect`, sorted by name. The error lists
/// every problem found (missing or malformed `.expect`, `.expect` without `.conf`).
pub fn load_corpus() -> Result<Vec<Case>, String> {
    let dir = corpus_dir();
    let entries = std::fs::read_dir(&dir).map_err(|e| format!("{}: {e}", dir.display()))?;
    let mut confs = BTreeSet::new();
    let mut expects = BTreeSet::new();
    for entry in entries {
        let path = entry.map_err(|e| format!("{}: {e}", dir.display()))?.path();
        let (Some(stem), Some(ext)) = (path.file_stem(), path.extension()) else { continue };
        let stem = stem.to_string_lossy().into_owned();
        match ext.to_str() {
            Some("conf") if path.is_file() => {
                confs.insert(stem);
            }
            Some("expect") => {
                expects.insert(stem);
            }
            _ => {}
        }
    }
    let mut problems = Vec::new();
    for orphan in expects.difference(&confs) {
        problems.push(format!("{orphan}.expect has no {orphan}.conf"));
    }
    let mut cases = Vec::new();
    for name in &confs {
        let expect_path = dir.join(format!("{name}.expect"));
        match std::fs::read_to_string(&expect_path) {
            Err(e) => problems.push(format!("{}: {e}", expect_path.display())),
            Ok(text) => match Expectation::parse(&text) {
                Err(e) => problems.push(format!("{name}.expect: {e}")),
                Ok(expect) => cases.push(Case { name: name.clone(), conf: dir.join(format!("{name}.conf")), expect }),
            },
        }
    }
    if problems.is_empty() {
        Ok(cases)
    } else {
        Err(problems.join("\n"))
    }
}

/// The two programs the corpus is run against.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Daemon {
    Kad,
    Keepalived,
}

impl Daemon {
    pub fn program(self) -> &'static str {
        match self {
            Daemon::Kad => env!("CARGO_BIN_EXE_kad"),
            Daemon::Keepalived => KEEPALIVED,
        }
    }

    /// `-t -f CONF -i kadtest` (plus `extra_args`) inside `ns`, from `/` so that relative
    /// includes must be resolved against the including file, bounded by [`RUN_TIMEOUT`].
    pub fn config_test(
        self,
        ns: &Netns,
        conf: &Path,
        extra_args: &[&str],
        env: &[(String, String)],
    ) -> io::Result<RunOutput> {
        let mut cmd = ns.command(self.program());
        cmd.current_dir("/")
            .envs(env.iter().map(|(k, v)| (k, v)))
            .args(extra_args)
            .arg("-t")
            .arg("-f")
            .arg(conf)
            .args(["-i", CONFIG_ID]);
        // keepalived checks and writes pid files; private ones keep parallel runs apart.
        let _pid_dir = match self {
            Daemon::Kad => None,
            Daemon::Keepalived => {
                let dir = TempDir::new("ka-pids")?;
                for (flag, file) in [("-p", "ka.pid"), ("-r", "vrrp.pid"), ("-c", "check.pid"), ("-b", "bfd.pid")] {
                    cmd.arg(flag).arg(dir.path().join(file));
                }
                Some(dir)
            }
        };
        run_with_timeout(cmd, RUN_TIMEOUT)
    }
}

/// Requires the reference keepalived: parity must fail, not skip, without it.
pub fn require_keepalived() {
    assert!(
        Path::new(KEEPALIVED).is_file(),
        "{KEEPALIVED} is missing: the parity tests need Debian's keepalived (apt-get install keepalived; \
         scripts/test.sh installs it)"
    );
}

/// How a daemon writes a location: kad `FILE:LINE:COL:`, keepalived `(FILE: Line LINE)`
/// or, from its parent process, `(Line LINE)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Locations {
    Kad,
    Keepalived,
}

/// Each `contains:` missing from `stderr` and each `not_contains:` present in it.
/// A text of the form `FILE:LINE:` is a location check.
pub fn text_mismatches(expect: &Expectation, stderr: &str, style: Locations) -> Vec<String> {
    let mut found = Vec::new();
    for text in &expect.contains {
        if !has_text(stderr, text, style) {
            found.push(format!("stderr lacks `{text}`"));
        }
    }
    for text in &expect.not_contains {
        if has_text(stderr, text, style) {
            found.push(format!("stderr contains `{text}`"));
        }
    }
    found
}

fn has_text(stderr: &str, text: &str, style: Locations) -> bool {
    match (style, location_check(text)) {
        (Locations::Keepalived, Some((file, line))) => {
            stderr.contains(&format!("{file}: Line {line})")) || stderr.contains(&format!("(Line {line})"))
        }
        _ => stderr.contains(text),
    }
}

fn location_check(text: &str) -> Option<(&str, &str)> {
    let (file, line) = text.strip_suffix(':')?.rsplit_once(':')?;
    (!file.is_empty() && !line.is_empty() && line.bytes().all(|b| b.is_ascii_digit())).then_some((file, line))
}

/// The first lines of a daemon's stderr, indented, for failure reports.
pub fn excerpt(stderr: &str) -> String {
    const MAX_LINES: usize = 6;
    let lines: Vec<&str> = stderr.lines().collect();
    let mut out: String = lines.iter().take(MAX_LINES).map(|l| format!("        | {l}\n")).collect();
    if lines.len() > MAX_LINES {
        out.push_str(&format!("        | ... ({} more lines)\n", lines.len() - MAX_LINES));
    }
    out
}

/// Applies `f` to every item on `workers` threads; results keep the input order.
pub fn par_map<T: Sync, R: Send>(items: &[T], workers: usize, f: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let next = AtomicUsize::new(0);
    let results: Mutex<Vec<Option<R>>> = Mutex::new(items.iter().map(|_| None).collect());
    std::thread::scope(|scope| {
        for _ in 0..workers.max(1) {
            scope.spawn(|| loop {
                let index = next.fetch_add(1, Ordering::Relaxed);
                let Some(item) = items.get(index) else { break };
                let result = f(item);
                results.lock().unwrap_or_else(|poisoned| poisoned.into_inner())[index] = Some(result);
            });
        }
    });
    results
        .into_inner()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
        .into_iter()
        .map(|r| r.expect("every index is filled by a worker"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_every_key_and_skips_comments() {
        let e = Expectation::parse(
            "# measured\nkeepalived_exit: 5\nexit: 0\ndiffers: kad extension\ncontains: Unknown keyword 'a b'\n\
             not_contains: x:y\nenv: A=b=c\n",
        )
        .unwrap();
        assert_eq!(e.keepalived_exit, 5);
        assert_eq!(e.exit, 0);
        assert_eq!(e.differs.as_deref(), Some("kad extension"));
        assert_eq!(e.contains, ["Unknown keyword 'a b'"]);
        assert_eq!(e.not_contains, ["x:y"]);
        assert_eq!(e.env, [("A".to_string(), "b=c".to_string())]);
    }

    #[test]
    fn rejects_an_undeclared_difference_and_unknown_keys() {
        assert!(Expectation::parse("keepalived_exit: 5\nexit: 0\n").unwrap_err().contains("differs"));
        assert!(Expectation::parse("keepalived_exit: 5\nexit: 5\nexpect: 1\n").unwrap_err().contains("unknown key"));
        assert!(Expectation::parse("exit: 5\n").unwrap_err().contains("keepalived_exit"));
        assert!(Expectation::parse("keepalived_exit: 5\nexit: 5\nexit: 5\n").unwrap_err().contains("twice"));
    }

    #[test]
    fn location_checks_follow_each_daemons_format() {
        let e = Expectation { contains: vec!["bad.conf:3:".into()], ..Expectation::default() };
        assert!(text_mismatches(&e, "/x/inc/bad.conf:3:5: error: Unknown keyword 'a'", Locations::Kad).is_empty());
        assert!(text_mismatches(&e, "(/x/inc/bad.conf: Line 3) Unknown keyword 'a'", Locations::Keepalived).is_empty());
        assert!(text_mismatches(&e, "(Line 3) Unknown keyword 'a'", Locations::Keepalived).is_empty());
        assert_eq!(
            text_mismatches(&e, "(/x/inc/bad.conf: Line 4) Unknown keyword 'a'", Locations::Keepalived).len(),
            1
        );
        assert_eq!(text_mismatches(&e, "/x/inc/bad.conf:4:3: error", Locations::Kad).len(), 1);
    }

    #[test]
    fn par_map_keeps_order() {
        let items: Vec<u32> = (0..50).collect();
        assert_eq!(par_map(&items, 4, |i| i * 2), items.iter().map(|i| i * 2).collect::<Vec<_>>());
    }
}
