//! Parity with the real keepalived (`keepalived -t`): for inputs where keepalived 2.2.7
//! and 2.4 agree, every read-time message keepalived prints must also come from kad's
//! lexer, on the same line and with the same text.

use super::tests_support::TempDir;
use super::*;
use crate::config::diag::Diagnostics;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const KEEPALIVED: &str = "/usr/sbin/keepalived";

/// Messages the reading stage produces (the parser's own are out of scope here).
const READ_TIME_MESSAGES: &[&str] = &[
    "Unterminated quote",
    "Unmatched quote",
    "Extra '}' found",
    "There are ",
    "Config files missing",
    "No config files matched",
    "Some config files missing",
    "Configuration file '",
    "Invalid ~SEQ",
    "Invalid ~LST",
    "~SEQx",
    "~LST specification",
    "Definition ",
];

/// `(file: Line N) message` / `(Line N) message` / `message` → (N, message).
fn split_prefix(line: &str) -> (Option<u32>, String) {
    if let Some(rest) = line.strip_prefix('(') {
        if let Some(close) = rest.find(") ") {
            let n = rest[..close].rsplit("Line ").next().and_then(|n| n.trim().parse().ok());
            return (n, rest[close + 2..].to_string());
        }
    }
    (None, line.to_string())
}

/// Run `keepalived -t` on `main` and return its read-time messages, deduplicated
/// (keepalived reads the file once per process and repeats them).
fn keepalived_messages(dir: &TempDir, main: &str) -> Vec<(Option<u32>, String)> {
    let pid = |n: &str| dir.0.join(n).display().to_string();
    let mut child = Command::new(KEEPALIVED)
        .args(["-t", "-l", "-G", "-n", "-i", "host1", "-f"])
        .arg(dir.0.join(main))
        .args(["-p", &pid("p1"), "-r", &pid("p2"), "-c", &pid("p3"), "-b", &pid("p4")])
        .current_dir(&dir.0)
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .expect("keepalived runs");
    let deadline = Instant::now() + Duration::from_secs(30);
    while child.try_wait().expect("wait").is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("keepalived -t did not finish within 30 s");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let out = child.wait_with_output().expect("output");
    let mut seen = Vec::new();
    for line in String::from_utf8_lossy(&out.stderr).lines() {
        let (n, msg) = split_prefix(line);
        if READ_TIME_MESSAGES.iter().any(|p| msg.starts_with(p)) && !seen.contains(&(n, msg.clone())) {
            seen.push((n, msg));
        }
    }
    seen
}

fn keepalived_available() -> bool {
    if std::path::Path::new(KEEPALIVED).exists() {
        return true;
    }
    assert!(
        std::env::var_os("KAD_TEST_REQUIRE_ROOT").is_none(),
        "keepalived must be installed for the parity tests (scripts/test.sh installs it)"
    );
    eprintln!("keepalived not installed: parity not checked");
    false
}

fn assert_parity(dir: &TempDir, main: &str) {
    let expected = keepalived_messages(dir, main);
    assert!(!expected.is_empty(), "the case should make keepalived complain");
    let mut d = Diagnostics::default();
    read_config_detailed(&dir.0.join(main), &LexOptions { config_id: Some("host1".into()), all_config: false }, &mut d);
    let prefix = format!("{}/", dir.0.display());
    let ours: Vec<(Option<u32>, String)> =
        d.list.iter().map(|x| (x.span.as_ref().map(|s| s.line), x.message.replace(&prefix, ""))).collect();
    for (line, msg) in &expected {
        let found = ours.iter().any(|(l, m)| m.starts_with(msg.as_str()) && (line.is_none() || l == line));
        assert!(found, "keepalived said {msg:?} at line {line:?}; kad said:\n{ours:#?}");
    }
}

#[test]
fn quotes_braces_and_definitions_match_keepalived() {
    if !keepalived_available() {
        return;
    }
    let dir = TempDir::new("parity-lex");
    dir.write(
        "main.conf",
        "global_defs {\n  router_id \"abc\n}\n}\n$X=1\n\"${_HASH}probe2\nprobe4 a \\${_HASH} b \"\n\
         vrrp_instance V {\n  priority 1\n",
    );
    assert_parity(&dir, "main.conf");
}

#[test]
fn sequence_errors_match_keepalived() {
    if !keepalived_available() {
        return;
    }
    let dir = TempDir::new("parity-seq");
    dir.write("main.conf", "~SEQ(i,1,0,3) x\n~SEQ(i) x\n~SEQx(i,-3) x\n~LST({a,b},{1,2,3}) p\n");
    assert_parity(&dir, "main.conf");
}

#[test]
fn include_checks_match_keepalived() {
    if !keepalived_available() {
        return;
    }
    let dir = TempDir::new("parity-inc");
    dir.write("inc/a.conf", "probe_a\n");
    dir.write("inc/sub/s.conf", "probe_s\n");
    dir.write("inc/other/t.conf", "probe_t\n");
    let exe = dir.write("inc/x.conf", "probe_x\n");
    std::fs::set_permissions(&exe, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    for kind in ["include", "includew"] {
        let main = format!("{kind}.conf");
        dir.write(
            &main,
            &format!(
                "{kind} inc/missing.conf\n{kind} inc/*.nomatch\n{kind} inc/{{a,zz}}.conf\n{kind} inc/sub\n\
                 {kind} inc/x.conf\n{kind} inc/nodir/*.conf\n{kind} inc/*/s.conf\n"
            ),
        );
        assert_parity(&dir, &main);
    }
}
