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
    format!(
        "{prefix}-{}-{}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    )
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
    assert!(
        vetted.findings.executable || vetted.findings.read_check,
        "not runnable: {:?}",
        vetted.log
    );
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
    fs::read_to_string(path)
        .map(|s| s.lines().map(str::to_string).collect())
        .unwrap_or_default()
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

// ---------------------------------------------------------------------------------------
// Hand-built configurations (the parser is another module's).
// ---------------------------------------------------------------------------------------

use kad::config::model::{Config, GarpSettings, Notifies, TrackRef, VrrpInstance, VrrpScript};

pub fn track_ref(name: &str) -> TrackRef {
    TrackRef {
        name: name.to_string(),
        weight: None,
        reverse: None,
    }
}

/// An instance with only the fields the notify and tracker code read set meaningfully.
pub fn instance(name: &str, track_scripts: &[&str], track_files: &[&str], notify: Notifies) -> VrrpInstance {
    let base = VrrpInstance::new(name.to_string(), &GlobalDefs::default());
    VrrpInstance {
        interface: Some("eth0".into()),
        vrid: 51,
        priority: 100,
        advert_int: Duration::from_secs(1),
        version: 2,
        track_scripts: track_scripts.iter().map(|n| track_ref(n)).collect(),
        track_files: track_files.iter().map(|n| track_ref(n)).collect(),
        garp: GarpSettings {
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            ..base.garp.clone()
        },
        notify,
        ..base
    }
}

pub fn vrrp_script(name: &str, cmd: ScriptCommand) -> VrrpScript {
    VrrpScript {
        name: name.to_string(),
        span: Default::default(),
        script: cmd,
        interval: Duration::from_secs(1),
        timeout: None,
        weight: 0,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        init_fail: false,
    }
}

/// One instance tracking one vrrp_script `chk` running `argv`.
pub fn config_with_track_script(
    argv: &[&str],
    user: Option<&str>,
    script_security: bool,
    script_user: Option<&str>,
) -> Config {
    let mut config = Config::default();
    config.global.enable_script_security = script_security;
    config.global.script_user = script_user.map(|u| (u.to_string(), None));
    config.scripts.push(vrrp_script("chk", command(argv, user, None)));
    config
        .instances
        .push(instance("V1", &["chk"], &[], Notifies::default()));
    config
}

/// A network namespace with one veth, deleted on drop (also on panic).
pub struct Netns {
    pub name: String,
    pub ifname: String,
}

impl Netns {
    pub fn new() -> Netns {
        let name = unique("kadnt");
        let n = COUNTER.fetch_add(1, Ordering::Relaxed) % 1000;
        let ifname = format!("kv{}x{n}", std::process::id());
        run_ok("ip", &["netns", "add", &name]);
        let ns = Netns { name, ifname };
        let peer = format!("{}p", ns.ifname);
        run_ok(
            "ip",
            &[
                "-n", &ns.name, "link", "add", &ns.ifname, "type", "veth", "peer", "name", &peer,
            ],
        );
        ns
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = std::process::Command::new("ip")
            .args(["netns", "del", &self.name])
            .status();
    }
}

fn run_ok(cmd: &str, args: &[&str]) {
    let status = std::process::Command::new(cmd).args(args).status().unwrap();
    assert!(status.success(), "{cmd} {args:?} failed");
}

/// Run a command for at most `limit`; kill it (by its pid) if it overruns.
pub fn output_within(mut cmd: std::process::Command, limit: Duration) -> std::process::Output {
    use std::process::Stdio;
    let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::piped()).spawn().unwrap();
    let end = Instant::now() + limit;
    while child.try_wait().unwrap().is_none() {
        if Instant::now() >= end {
            let _ = child.kill();
            panic!("{cmd:?} did not finish within {limit:?}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.wait_with_output().unwrap()
}

/// `keepalived -t` (the reference peer) on `conf_text`, inside `ns`: (exit code, stderr lines).
pub fn keepalived_config_test(ns: &Netns, dir: &TempDir, conf_text: &str) -> (i32, Vec<String>) {
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let conf = dir.join(&format!("keepalived-{n}.conf"));
    fs::write(&conf, conf_text).unwrap();
    let pid = |k: &str| dir.join(&format!("{k}-{n}.pid")).to_string_lossy().into_owned();
    let mut cmd = std::process::Command::new("ip");
    cmd.args(["netns", "exec", &ns.name, "keepalived", "-t", "-f"])
        .arg(&conf)
        .args([
            "-l",
            "-G",
            "-n",
            "-p",
            &pid("main"),
            "-r",
            &pid("vrrp"),
            "-c",
            &pid("check"),
            "-b",
            &pid("bfd"),
        ]);
    let out = output_within(cmd, Duration::from_secs(30));
    let stderr = String::from_utf8_lossy(&out.stderr)
        .lines()
        .map(str::to_string)
        .collect();
    (out.status.code().unwrap_or(-1), stderr)
}
