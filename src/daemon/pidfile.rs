//! pid files with an exclusive lock, so a second kad started on the same pid file refuses
//! to run instead of fighting the first one for the VIPs.
//!
//! keepalived writes the parent pid to `-p` and the VRRP child's to `-r`. kad is a single
//! process: both files hold its pid, so scripts that signal either keep working.

use nix::fcntl::{Flock, FlockArg};
use std::fs::{File, OpenOptions};
use std::io::{Read, Seek, SeekFrom, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum PidFileError {
    #[error("cannot open pid file {path}: {source}")]
    Open { path: PathBuf, source: std::io::Error },
    #[error("daemon is already running (pid file {path} is locked by pid {pid})")]
    AlreadyRunning { path: PathBuf, pid: String },
    #[error("cannot write pid file {path}: {source}")]
    Write { path: PathBuf, source: std::io::Error },
}

/// A held pid file; removed when dropped.
#[derive(Debug)]
pub struct PidFile {
    path: PathBuf,
    _lock: Flock<File>,
}

impl PidFile {
    pub fn create(path: &Path) -> Result<PidFile, PidFileError> {
        if let Some(dir) = path.parent() {
            let _ = std::fs::create_dir_all(dir);
        }
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .mode(0o644)
            .open(path)
            .map_err(|source| PidFileError::Open { path: path.to_path_buf(), source })?;
        let mut lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            Ok(l) => l,
            Err((mut f, _)) => {
                let mut pid = String::new();
                let _ = f.read_to_string(&mut pid);
                return Err(PidFileError::AlreadyRunning { path: path.to_path_buf(), pid: pid.trim().to_string() });
            }
        };
        let write = |f: &mut File| -> std::io::Result<()> {
            f.set_len(0)?;
            f.seek(SeekFrom::Start(0))?;
            writeln!(f, "{}", std::process::id())?;
            f.sync_data()
        };
        write(&mut lock).map_err(|source| PidFileError::Write { path: path.to_path_buf(), source })?;
        Ok(PidFile { path: path.to_path_buf(), _lock: lock })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for PidFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn temp_path(tag: &str) -> PathBuf {
        std::env::temp_dir().join(format!("kad-pidfile-{tag}-{}", std::process::id()))
    }

    #[test]
    fn a_second_daemon_on_the_same_pid_file_is_refused() {
        let p = temp_path("second");
        let first = PidFile::create(&p).unwrap();
        let content = std::fs::read_to_string(&p).unwrap();
        assert_eq!(content.trim(), std::process::id().to_string());
        match PidFile::create(&p) {
            Err(PidFileError::AlreadyRunning { pid, .. }) => assert_eq!(pid, std::process::id().to_string()),
            other => panic!("expected AlreadyRunning, got {other:?}"),
        }
        drop(first);
        assert!(!p.exists(), "pid file is removed on exit");
        let again = PidFile::create(&p).unwrap();
        drop(again);
    }

    #[test]
    fn a_stale_unlocked_pid_file_is_taken_over() {
        let p = temp_path("stale");
        std::fs::write(&p, "999999\n").unwrap();
        let pf = PidFile::create(&p).unwrap();
        assert_eq!(std::fs::read_to_string(&p).unwrap().trim(), std::process::id().to_string());
        drop(pf);
    }
}
