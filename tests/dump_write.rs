//! `write_atomically`: modes from the umask, replacement instead of truncation, no
//! leftovers, symlinks not followed.

use std::fs;
use std::os::unix::fs::{symlink, MetadataExt, PermissionsExt};
use std::path::PathBuf;
use std::sync::atomic::{AtomicU32, Ordering};

use kad::daemon::dump::{write_atomically, DEFAULT_UMASK};

/// A directory unique to this run, removed on drop (also on panic).
struct TempDir(PathBuf);

impl TempDir {
    fn new() -> TempDir {
        static COUNTER: AtomicU32 = AtomicU32::new(0);
        let dir = std::env::temp_dir().join(format!(
            "kad-dump-write-{}-{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed)
        ));
        fs::create_dir_all(&dir).unwrap();
        TempDir(dir)
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.0);
    }
}

fn mode(path: &std::path::Path) -> u32 {
    fs::metadata(path).unwrap().permissions().mode() & 0o777
}

fn entries(dir: &std::path::Path) -> Vec<String> {
    let mut names: Vec<String> = fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    names.sort();
    names
}

#[test]
fn keepalived_s_default_umask_gives_0600() {
    let dir = TempDir::new();
    let path = dir.0.join("keepalived.data");
    write_atomically(&path, "------< Global definitions >------\n", DEFAULT_UMASK).unwrap();
    assert_eq!(mode(&path), 0o600);
    assert_eq!(
        fs::read_to_string(&path).unwrap(),
        "------< Global definitions >------\n"
    );
    assert_eq!(entries(&dir.0), ["keepalived.data"]);
}

#[test]
fn a_configured_umask_is_applied_whatever_the_process_umask() {
    let dir = TempDir::new();
    let path = dir.0.join("keepalived.json");
    write_atomically(&path, "[]\n", 0o022).unwrap();
    assert_eq!(mode(&path), 0o644);
    write_atomically(&path, "[]\n", 0o077).unwrap();
    assert_eq!(mode(&path), 0o600);
}

#[test]
fn rewriting_replaces_the_file_instead_of_truncating_it() {
    let dir = TempDir::new();
    let path = dir.0.join("keepalived.stats");
    write_atomically(&path, "a much longer first version\n", DEFAULT_UMASK).unwrap();
    let first_inode = fs::metadata(&path).unwrap().ino();
    // a reader holding the old file keeps reading the old contents
    let held = fs::File::open(&path).unwrap();
    write_atomically(&path, "short\n", DEFAULT_UMASK).unwrap();
    assert_eq!(fs::read_to_string(&path).unwrap(), "short\n");
    assert_ne!(fs::metadata(&path).unwrap().ino(), first_inode);
    let old = std::io::read_to_string(held).unwrap();
    assert_eq!(old, "a much longer first version\n");
    assert_eq!(entries(&dir.0), ["keepalived.stats"]);
}

#[test]
fn a_symlink_at_the_dump_path_is_replaced_not_followed() {
    let dir = TempDir::new();
    let victim = dir.0.join("victim");
    fs::write(&victim, "precious\n").unwrap();
    let path = dir.0.join("keepalived.data");
    symlink(&victim, &path).unwrap();
    write_atomically(&path, "dump\n", DEFAULT_UMASK).unwrap();
    assert_eq!(fs::read_to_string(&victim).unwrap(), "precious\n");
    assert!(!fs::symlink_metadata(&path)
        .unwrap()
        .file_type()
        .is_symlink());
    assert_eq!(fs::read_to_string(&path).unwrap(), "dump\n");
}

#[test]
fn a_missing_directory_is_an_error_and_leaves_nothing() {
    let dir = TempDir::new();
    let path = dir.0.join("no-such-dir").join("keepalived.data");
    let err = write_atomically(&path, "x", DEFAULT_UMASK).unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::NotFound);
    assert!(entries(&dir.0).is_empty());
}

#[test]
fn a_failed_rename_removes_the_temporary_file() {
    let dir = TempDir::new();
    // renaming a file over a non-empty directory fails
    let path = dir.0.join("keepalived.data");
    fs::create_dir(&path).unwrap();
    fs::write(path.join("inside"), "").unwrap();
    assert!(write_atomically(&path, "x", DEFAULT_UMASK).is_err());
    assert_eq!(entries(&dir.0), ["keepalived.data"]);
}
