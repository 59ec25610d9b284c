//! The man pages and the installer: the pages render without a single groff or man
//! warning and fit 80 columns, kad(8) documents every option `kad --help` prints,
//! keepalived.conf(5) documents every kad extension, and packaging/install.sh stages the
//! expected files under DESTDIR (with the host's system directories made read-only, so a
//! stray absolute path fails the test) and its uninstall restores what it replaced.

mod common;

use common::netns::{run_with_timeout, RunOutput};
use common::tmp::TempDir;
use std::collections::{BTreeMap, BTreeSet};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

const KAD_8: &str = "man/kad.8";
const KEEPALIVED_CONF_5: &str = "man/keepalived.conf.5";
const PAGES: [&str; 2] = [KAD_8, KEEPALIVED_CONF_5];

/// The extensions the model documents as kad's own; the keyword tables of the parser add
/// theirs (`Kw::ext("…")`), so a new extension cannot go undocumented.
const MODEL_EXTENSIONS: [&str; 6] = [
    "backup_routes",
    "backup_rules",
    "smtp_tls",
    "smtp_auth_file",
    "status_socket",
    "prometheus_listen",
];

/// Long options kad(8) may name that `kad --help` does not print: the installer's, and
/// the `kad status` subcommand's.
const OPTIONS_OUTSIDE_HELP: [&str; 2] = ["--as-keepalived", "--socket"];

const COMMAND_TIMEOUT: Duration = Duration::from_secs(60);

fn repo() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
}

fn run(cmd: Command) -> RunOutput {
    let shown = format!("{cmd:?}");
    let out = run_with_timeout(cmd, COMMAND_TIMEOUT).unwrap_or_else(|e| panic!("{shown}: {e}"));
    assert!(!out.timed_out(), "{shown} did not finish within {COMMAND_TIMEOUT:?}");
    out
}

fn man(page: &str, extra: &[&str]) -> RunOutput {
    let mut cmd = Command::new("man");
    cmd.args(extra).arg("-l").arg(repo().join(page));
    cmd.env("MANWIDTH", "80")
        .env("LC_ALL", "C.UTF-8")
        .env_remove("MANPAGER")
        .env_remove("PAGER");
    run(cmd)
}

/// The page as a reader sees it, without hyphenation, so option names stay whole.
fn rendered(page: &str) -> String {
    let out = man(page, &["--nh", "--nj"]);
    assert!(
        out.success(),
        "man -l {page}: {}\n{}",
        out.describe_status(),
        out.stderr
    );
    out.stdout
}

#[test]
fn pages_render_without_any_warning_and_fit_80_columns() {
    for page in PAGES {
        let mut groff = Command::new("groff");
        groff.args(["-man", "-Tutf8", "-ww", "-z"]).arg(repo().join(page));
        let out = run(groff);
        assert!(out.success(), "groff {page}: {}", out.describe_status());
        assert_eq!(out.stderr, "", "groff warns about {page}");

        let out = man(page, &["--warnings"]);
        assert!(out.success(), "man {page}: {}", out.describe_status());
        assert_eq!(out.stderr, "", "man warns about {page}");
        let lines: Vec<&str> = out.stdout.lines().collect();
        assert!(lines.len() > 200, "{page} renders to only {} lines", lines.len());
        for line in lines {
            assert!(line.chars().count() <= 80, "{page}: wider than 80 columns: {line:?}");
        }
    }
}

/// `--name` words of a text, without what follows `=` or `[`.
fn long_options(text: &str) -> BTreeSet<String> {
    let mut found = BTreeSet::new();
    for word in text.split(|c: char| c.is_whitespace() || matches!(c, ',' | '(' | ')' | '[' | ']' | '=' | '<' | '>')) {
        if let Some(name) = word.strip_prefix("--") {
            let name: String = name
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'))
                .collect();
            if name.starts_with(|c: char| c.is_ascii_lowercase()) {
                found.insert(format!("--{name}"));
            }
        }
    }
    found
}

/// `-x,` at the start of a help line: the short options.
fn short_options(help: &str) -> BTreeSet<String> {
    help.lines()
        .filter_map(|line| {
            let word = line.split_whitespace().next()?;
            let opt = word.strip_suffix(',')?;
            (opt.len() == 2 && opt.starts_with('-') && opt[1..].chars().all(|c| c.is_ascii_alphanumeric()))
                .then(|| opt.to_string())
        })
        .collect()
}

/// Whether `word` occurs in `text` as a whole word (not as part of a longer option).
fn mentions(text: &str, word: &str) -> bool {
    let part_of_name = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_');
    text.match_indices(word).any(|(at, _)| {
        let before = text[..at].chars().next_back();
        let after = text[at + word.len()..].chars().next();
        !before.is_some_and(part_of_name) && !after.is_some_and(part_of_name)
    })
}

#[test]
fn kad_8_documents_every_option_that_kad_help_prints_and_no_other() {
    let mut help = Command::new(env!("CARGO_BIN_EXE_kad"));
    help.arg("--help");
    let out = run(help);
    assert!(out.success(), "kad --help: {}", out.describe_status());
    let help = format!("{}{}", out.stdout, out.stderr);
    let longs = long_options(&help);
    let shorts = short_options(&help);
    assert!(
        longs.len() >= 30 && shorts.len() >= 25,
        "too few options read from the help:\n{help}"
    );

    let page = rendered(KAD_8);
    let undocumented: Vec<&String> = longs
        .iter()
        .chain(shorts.iter())
        .filter(|opt| !mentions(&page, opt))
        .collect();
    assert!(undocumented.is_empty(), "kad(8) does not mention {undocumented:?}");

    let unknown: Vec<String> = long_options(&page)
        .into_iter()
        .filter(|opt| !longs.contains(opt) && !OPTIONS_OUTSIDE_HELP.contains(&opt.as_str()))
        .collect();
    assert!(
        unknown.is_empty(),
        "kad(8) documents options kad does not have: {unknown:?}"
    );
}

/// Every `Kw::ext("name"` in the configuration reader's sources.
fn extensions_in_sources(dir: &Path, found: &mut BTreeSet<String>) {
    let Ok(entries) = std::fs::read_dir(dir) else { return };
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            extensions_in_sources(&path, found);
        } else if path.extension().is_some_and(|e| e == "rs") {
            let text = std::fs::read_to_string(&path).unwrap();
            for (at, _) in text.match_indices("Kw::ext(\"") {
                let rest = &text[at + "Kw::ext(\"".len()..];
                if let Some(end) = rest.find('"') {
                    found.insert(rest[..end].to_string());
                }
            }
        }
    }
}

/// The lines of a section: from its heading (a line equal to `heading`) to the next
/// heading (a line starting in column 0).
fn section<'a>(page: &'a str, heading: &str) -> Vec<&'a str> {
    let mut lines = page.lines().skip_while(|l| *l != heading);
    assert!(lines.next().is_some(), "no section {heading}");
    lines.take_while(|l| l.is_empty() || l.starts_with(' ')).collect()
}

#[test]
fn keepalived_conf_5_documents_every_kad_extension_in_its_section() {
    let mut extensions: BTreeSet<String> = MODEL_EXTENSIONS.iter().map(|s| s.to_string()).collect();
    extensions_in_sources(&repo().join("src/config"), &mut extensions);

    let page = rendered(KEEPALIVED_CONF_5);
    let listed = section(&page, "KAD EXTENSIONS").join("\n");
    let missing: Vec<&String> = extensions.iter().filter(|e| !mentions(&listed, e)).collect();
    assert!(
        missing.is_empty(),
        "KAD EXTENSIONS in keepalived.conf(5) lacks {missing:?}"
    );

    let backup = section(&page, "BACKUP ROUTES AND RULES").join("\n");
    for word in ["backup_routes", "backup_rules", "virtual_routes", "--keepalived-compat"] {
        assert!(
            mentions(&backup, word),
            "BACKUP ROUTES AND RULES does not mention {word}"
        );
    }

    let kad8 = rendered(KAD_8);
    let compat = section(&kad8, "OPTIONS").join("\n");
    let missing: Vec<&String> = extensions.iter().filter(|e| !mentions(&compat, e)).collect();
    assert!(
        missing.is_empty(),
        "kad(8) --keepalived-compat does not list {missing:?}"
    );
}

// ----- the installer --------------------------------------------------------------------

/// What is at a path, as far as an install is concerned.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Entry {
    File { bytes: Vec<u8>, mode: u32 },
    Link(PathBuf),
}

/// Every file and symlink under `root` (directories are not compared: the uninstall
/// leaves the ones the install created).
fn snapshot(root: &Path) -> BTreeMap<String, Entry> {
    fn walk(root: &Path, dir: &Path, out: &mut BTreeMap<String, Entry>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let meta = std::fs::symlink_metadata(&path).unwrap();
            let rel = path.strip_prefix(root).unwrap().to_string_lossy().into_owned();
            if meta.file_type().is_symlink() {
                out.insert(rel, Entry::Link(std::fs::read_link(&path).unwrap()));
            } else if meta.is_dir() {
                walk(root, &path, out);
            } else {
                let mode = meta.permissions().mode() & 0o7777;
                out.insert(
                    rel,
                    Entry::File {
                        bytes: std::fs::read(&path).unwrap(),
                        mode,
                    },
                );
            }
        }
    }
    let mut out = BTreeMap::new();
    walk(root, root, &mut out);
    out
}

fn write(root: &Path, rel: &str, bytes: &[u8]) {
    let path = root.join(rel);
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    std::fs::write(path, bytes).unwrap();
}

fn gunzip(bytes: &[u8], scratch: &Path) -> Vec<u8> {
    let gz = scratch.join("page.gz");
    std::fs::write(&gz, bytes).unwrap();
    let mut cmd = Command::new("gzip");
    cmd.arg("-dc").arg(&gz);
    let out = run(cmd);
    assert!(out.success(), "gzip -dc: {}", out.describe_status());
    out.stdout.into_bytes()
}

/// Runs install.sh in a mount namespace where the host's system directories are
/// read-only and only `destdir` (and the scratch directory) can be written, with a
/// `systemctl` first in PATH that records being called.
struct Installer {
    destdir: PathBuf,
    scratch: PathBuf,
}

/// Makes the system directories read-only, then `$1` (DESTDIR) and `$2` (scratch)
/// writable again in case they live below one of them, then runs the rest.
const READ_ONLY_HOST: &str = r#"set -e
for d in /usr /etc /var /opt /srv /boot /root /home; do
    if [ -d "$d" ] && [ ! -L "$d" ]; then
        mount --bind "$d" "$d"
        mount -o remount,bind,ro "$d"
    fi
done
for d in "$1" "$2"; do
    mount --bind "$d" "$d"
    mount -o remount,bind,rw "$d"
done
shift 2
exec "$@"
"#;

impl Installer {
    fn run(&self, args: &[&str]) -> RunOutput {
        let fake_bin = self.scratch.join("bin");
        std::fs::create_dir_all(&fake_bin).unwrap();
        let systemctl = fake_bin.join("systemctl");
        let marker = self.scratch.join("systemctl-called");
        std::fs::write(&systemctl, format!("#!/bin/sh\necho \"$@\" >>'{}'\n", marker.display())).unwrap();
        std::fs::set_permissions(&systemctl, std::fs::Permissions::from_mode(0o755)).unwrap();

        let mut cmd = Command::new("unshare");
        // SAFETY: geteuid has no preconditions.
        if unsafe { libc::geteuid() } != 0 {
            cmd.arg("--map-root-user");
        }
        cmd.args(["--mount", "--propagation", "private", "sh", "-c", READ_ONLY_HOST, "sh"]);
        cmd.arg(&self.destdir).arg(&self.scratch);
        cmd.arg("sh")
            .arg(repo().join("packaging/install.sh"))
            .arg("--destdir")
            .arg(&self.destdir);
        cmd.args(args);
        let path = format!("{}:{}", fake_bin.display(), std::env::var("PATH").unwrap_or_default());
        cmd.env("PATH", path).env("TMPDIR", &self.scratch).env_remove("DESTDIR");
        let out = run(cmd);
        assert!(
            out.success(),
            "install.sh {args:?}: {}\n{}\n{}",
            out.describe_status(),
            out.stdout,
            out.stderr
        );
        assert!(!marker.exists(), "install.sh called systemctl although DESTDIR was set");
        out
    }
}

fn installer(tmp: &TempDir) -> Installer {
    let destdir = tmp.path().join("root");
    let scratch = tmp.path().join("scratch");
    std::fs::create_dir_all(&destdir).unwrap();
    std::fs::create_dir_all(&scratch).unwrap();
    Installer { destdir, scratch }
}

fn file(bytes: impl Into<Vec<u8>>, mode: u32) -> Entry {
    Entry::File {
        bytes: bytes.into(),
        mode,
    }
}

fn link(target: &str) -> Entry {
    Entry::Link(PathBuf::from(target))
}

/// Checks the installed man pages by content, then replaces them with the raw page so
/// the whole tree can be compared with one expected map.
fn unzip_pages(tree: &mut BTreeMap<String, Entry>, scratch: &Path) {
    for (rel, page) in [
        ("usr/share/man/man8/kad.8.gz", KAD_8),
        ("usr/share/man/man5/keepalived.conf.5.gz", KEEPALIVED_CONF_5),
    ] {
        let Some(Entry::File { bytes, mode }) = tree.get(rel).cloned() else {
            panic!("{rel} is not installed as a file: {:?}", tree.get(rel));
        };
        let source = std::fs::read(repo().join(page)).unwrap();
        tree.insert(rel.to_string(), file(gunzip(&bytes, scratch), mode));
        assert_eq!(tree[rel], file(source, 0o644), "{rel}");
    }
}

fn page(path: &str) -> Vec<u8> {
    std::fs::read(repo().join(path)).unwrap()
}

#[test]
fn install_as_keepalived_stages_everything_under_destdir_and_uninstall_restores_keepalived() {
    if !common::root_or_skip("install_as_keepalived") {
        return;
    }
    let tmp = TempDir::new("install-as-keepalived").unwrap();
    let inst = installer(&tmp);
    // A host with Debian's keepalived: its binary, its man page, its options file.
    let keepalived_binary = b"\x7fELF keepalived 2.2.7".to_vec();
    let keepalived_page = b"keepalived's own page".to_vec();
    let options = b"DAEMON_ARGS=\"-D\"\n".to_vec();
    write(&inst.destdir, "usr/sbin/keepalived", &keepalived_binary);
    write(
        &inst.destdir,
        "usr/share/man/man5/keepalived.conf.5.gz",
        &keepalived_page,
    );
    write(&inst.destdir, "etc/default/keepalived", &options);
    let before = snapshot(&inst.destdir);

    inst.run(&["--binary", env!("CARGO_BIN_EXE_kad"), "--as-keepalived"]);

    let mut tree = snapshot(&inst.destdir);
    assert!(
        tree.remove("var/lib/kad/install-manifest").is_some(),
        "no install manifest"
    );
    unzip_pages(&mut tree, &inst.scratch);
    let expected: BTreeMap<String, Entry> = [
        (
            "usr/sbin/kad",
            file(std::fs::read(env!("CARGO_BIN_EXE_kad")).unwrap(), 0o755),
        ),
        ("usr/sbin/keepalived", link("kad")),
        ("usr/sbin/keepalived.kad-orig", file(keepalived_binary, 0o644)),
        ("usr/share/man/man8/kad.8.gz", file(page(KAD_8), 0o644)),
        ("usr/share/man/man8/keepalived.8.gz", link("kad.8.gz")),
        (
            "usr/share/man/man5/keepalived.conf.5.gz",
            file(page(KEEPALIVED_CONF_5), 0o644),
        ),
        (
            "usr/share/man/man5/keepalived.conf.5.gz.kad-orig",
            file(keepalived_page, 0o644),
        ),
        (
            "lib/systemd/system/kad.service",
            file(page("packaging/kad.service"), 0o644),
        ),
        (
            "etc/systemd/system/keepalived.service",
            link("/lib/systemd/system/kad.service"),
        ),
        ("etc/default/keepalived", file(options, 0o644)),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v))
    .collect();
    assert_eq!(tree.keys().collect::<Vec<_>>(), expected.keys().collect::<Vec<_>>());
    assert_eq!(tree, expected);

    inst.run(&["--uninstall"]);
    assert_eq!(
        snapshot(&inst.destdir),
        before,
        "uninstall did not restore the keepalived files"
    );
}

#[test]
fn plain_install_adds_the_options_file_and_uninstall_leaves_nothing() {
    if !common::root_or_skip("plain_install") {
        return;
    }
    let tmp = TempDir::new("install-plain").unwrap();
    let inst = installer(&tmp);

    inst.run(&["--binary", env!("CARGO_BIN_EXE_kad")]);
    // Installing again replaces the first install rather than backing it up.
    inst.run(&["--binary", env!("CARGO_BIN_EXE_kad")]);

    let mut tree = snapshot(&inst.destdir);
    assert!(
        tree.remove("var/lib/kad/install-manifest").is_some(),
        "no install manifest"
    );
    unzip_pages(&mut tree, &inst.scratch);
    let names: Vec<&str> = tree.keys().map(String::as_str).collect();
    assert_eq!(
        names,
        [
            "etc/default/keepalived",
            "lib/systemd/system/kad.service",
            "usr/sbin/kad",
            "usr/share/man/man5/keepalived.conf.5.gz",
            "usr/share/man/man8/kad.8.gz",
        ]
    );
    assert_eq!(
        tree["etc/default/keepalived"],
        file(page("packaging/default-keepalived"), 0o644)
    );

    inst.run(&["--uninstall"]);
    assert_eq!(snapshot(&inst.destdir), BTreeMap::new(), "uninstall left files behind");
}
