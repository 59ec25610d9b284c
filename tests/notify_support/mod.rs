//! Shared helpers for the notify/tracker integration tests: private temp directories,
//! script files, vetting with the default environment, bounded polling.
#![allow(dead_code)] // each test binary uses its own subset

use kad::config::model::{GlobalDefs, ScriptCommand};
use kad::notify::exec::{Script, ScriptUser};
use kad::notify::security::{vet_command, ScriptEnv};
use std::fs;
use std::os::unix::fs::{chown, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A name unique to this run and call: `<prefix>-<pid>-<n>`.
pub fn unique(prefix: &str) -> String {
    format!("{prefix}-{}-{}", std::process::id(), COUNTER.fetch_add(1, Ordering::Relaxed))
}

/// A root-owned 0755 directory under /tmp, removed on drop (also on panic).
pub struct TempDir {
    pub path: PathBuf,
}

impl TempDir {
    pub fn new(prefix: &str) -> TempDir {
        let path = PathBuf::from("/tmp").join(unique(prefix));
        fs::create_dir(&path).unwrap();
        fs::set_permissions(&path, fs::Permissions::from_mode(0o755)).unwrap();
        TempDir { path }
    }

    pub fn join(&self, name: &str) -> PathBuf {
        self.path.join(name)
    }

    /// A subdirectory anyone can write to (for script output when scripts run as nobody).
    pub fn shared_dir(&self, name: &str) -> PathBuf {
        let dir = self.join(name);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(0o777)).unwrap();
        dir
    }

    pub fn subdir(&self, name: &str, mode: u32, owner: Option<u32>) -> PathBuf {
        let dir = self.join(name);
        fs::create_dir(&dir).unwrap();
        fs::set_permissions(&dir, fs::Permissions::from_mode(mode)).unwrap();
        if let Some(uid) = owner {
            chown(&dir, Some(uid), None).unwrap();
        }
        dir
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = fs::remove_dir_all(&self.path);
    }
}

/// Write an executable script (`#!/bin/sh` prepended) with the given mode.
pub fn write_script(dir: &Path, name: &str, body: &str, mode: u32) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("#!/bin/sh\n{body}\n")).unwrap();
    fs::set_permissions(&path, fs::Permissions::from_mode(mode)).unwrap();
    path
}

pub fn command(argv: &[&str], user: Option<&str>, group: Option<&str>) -> ScriptCommand {
    ScriptCommand {
        raw: argv.join(" "),
        argv: argv.iter().map(|s| s.to_string()).collect(),
        user: user.map(str::to_string),
        group: group.map(str::to_string),
        ..ScriptCommand::default()
    }
}

/// Vet `argv` as a script that must be runnable (panics with keepalived's log otherwise).
pub fn runnable(argv: &[&str], user: Option<&str>) -> Arc<Script> {
    let (env, _) = ScriptEnv::new(&GlobalDefs::default());
    let cmd = command(argv, user, None);
    let user = match &cmd.user {
        Some(u) => ScriptUser::resolve(u, None, false).unwrap(),
        None => env.default_user().unwrap().clone(),
    };
    let vetted = vet_command(&cmd, user, &env);
    assert!(vetted.findings.executable || vetted.findings.read_check, "not runnable: {:?}", vetted.log);
    Arc::new(vetted.script.unwrap())
}

/// Poll `cond` every 20 ms for at most `limit`; returns whether it became true.
pub fn wait_until(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The async form of [`wait_until`], for tests running inside tokio.
pub async fn eventually(limit: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = tokio::time::Instant::now() + limit;
    loop {
        if cond() {
            return true;
        }
        if tokio::time::Instant::now() >= end {
            return false;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub fn read_lines(path: &Path) -> Vec<String> {
    fs::read_to_string(path).map(|s| s.lines().map(str::to_string).collect()).unwrap_or_default()
}

/// True while a process with this pid exists (and is not a zombie).
pub fn alive(pid: i32) -> bool {
    match fs::read_to_string(format!("/proc/{pid}/stat")) {
        Ok(stat) => stat.rsplit(')').next().and_then(|rest| rest.split_whitespace().next()) != Some("Z"),
        Err(_) => false,
    }
}

pub fn nobody() -> (u32, u32) {
    let user = nix::unistd::User::from_name("nobody").unwrap().unwrap();
    (user.uid.as_raw(), user.gid.as_raw())
}
