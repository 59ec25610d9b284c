//! Script vetting at configuration load (keepalived/core/notify.c `check_script_secure`,
//! `check_security`; vrrp.c `check_vrrp_script_security`; main.c for startup/shutdown).
//!
//! Each configured command is resolved (user, PATH search, real path) and, when it would run
//! with root privileges, every component of its path is checked. The result is the set of
//! scripts kad may run, keepalived's log lines, and the `-t` diagnostics.
//!
//! One deliberate difference from keepalived 2.4: a directory component of the *configured*
//! path that is a root-owned symlink (`/bin -> usr/bin`) is accepted, as keepalived 2.2.7
//! (which checked only the resolved path) accepted it; 2.4 rejects it as "Wrong file type",
//! which silently disables `/bin/...` scripts on every usr-merged system. The symlink's
//! owner and its parent directories are still checked, and so is the whole real path.

use super::exec::{Script, ScriptKind, ScriptUser, UserError, SHELL};
use crate::config::diag::{Diagnostic, ErrClass};
use crate::config::model::{Config, FifoSpec, GlobalDefs, Notifies, ScriptCommand, Span};
use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsString;
use std::fs::{self, Metadata};
use std::io::Read;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::sync::Arc;

/// The user keepalived runs scripts as when `script_user` is not given, if it exists.
pub const DEFAULT_SCRIPT_USER: &str = "keepalived_script";

/// keepalived's SC_* flags for one script (or, merged, for the whole configuration).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Findings {
    /// The file exists and was examined (SC_ISSCRIPT): what makes script security matter.
    pub is_script: bool,
    /// Executable by the script's uid:gid.
    pub executable: bool,
    /// A `</path` readability check (SC_SYSTEM).
    pub read_check: bool,
    /// Writable or owned by someone other than root (SC_INSECURE).
    pub insecure: bool,
    /// Must not run (SC_INHIBIT).
    pub inhibit: bool,
    pub not_found: bool,
}

impl Findings {
    fn merge(&mut self, other: Findings) {
        self.is_script |= other.is_script;
        self.executable |= other.executable;
        self.read_check |= other.read_check;
        self.insecure |= other.insecure;
        self.inhibit |= other.inhibit;
        self.not_found |= other.not_found;
    }

    fn not_found() -> Findings {
        Findings {
            not_found: true,
            ..Findings::default()
        }
    }
}

/// The outcome of vetting one command.
#[derive(Debug, Clone)]
pub struct Vetted {
    /// `None` when the command cannot be run at all; whether a resolved but insecure or
    /// non-executable script may run depends on its role (see [`vet_config`]).
    pub script: Option<Script>,
    pub findings: Findings,
    /// keepalived's log lines for this command, in order.
    pub log: Vec<String>,
}

impl Vetted {
    /// A command that cannot be run: keepalived's SC_NOTFOUND.
    fn unusable(log: Vec<String>) -> Vetted {
        Vetted {
            script: None,
            findings: Findings::not_found(),
            log,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
enum DefaultUserFailure {
    /// `script_user` names a user or group that does not exist.
    ScriptUserInvalid,
    /// Script security is on, no `script_user`, and no `keepalived_script` user.
    KeepalivedScriptMissing,
}

/// Global settings that decide how commands are resolved and checked.
#[derive(Debug, Clone)]
pub struct ScriptEnv {
    pub script_security: bool,
    pub use_symlink_paths: bool,
    pub set_supplementary_groups: bool,
    default_user: Result<ScriptUser, DefaultUserFailure>,
    search_path: OsString,
}

impl ScriptEnv {
    /// Resolve the default script user (`script_user`, else `keepalived_script`, else kad's
    /// own uid unless script security is on). Returns the diagnostic keepalived reports
    /// for an unusable `script_user`.
    pub fn new(global: &GlobalDefs) -> (ScriptEnv, Vec<Diagnostic>) {
        let mut diagnostics = Vec::new();
        let default_user = match &global.script_user {
            Some((user, group)) => ScriptUser::resolve(user, group.as_deref(), global.set_supplementary_groups)
                .map_err(|e| {
                    tracing::info!("{e}");
                    diagnostics.push(Diagnostic::new(
                        ErrClass::GeneralError,
                        None,
                        "Error setting global script uid/gid",
                    ));
                    DefaultUserFailure::ScriptUserInvalid
                }),
            None => match ScriptUser::resolve(DEFAULT_SCRIPT_USER, None, global.set_supplementary_groups) {
                Ok(user) => Ok(user),
                Err(_) if global.enable_script_security => Err(DefaultUserFailure::KeepalivedScriptMissing),
                Err(_) => Ok(ScriptUser::current()),
            },
        };
        let search_path = std::env::var_os("PATH").unwrap_or_else(|| OsString::from("/bin:/usr/bin"));
        let env = ScriptEnv {
            script_security: global.enable_script_security,
            use_symlink_paths: global.use_symlink_paths,
            set_supplementary_groups: global.set_supplementary_groups,
            default_user,
            search_path,
        };
        (env, diagnostics)
    }

    /// The user a script without its own `user` runs as, if there is one.
    pub fn default_user(&self) -> Option<&ScriptUser> {
        self.default_user.as_ref().ok()
    }

    fn resolve_explicit(&self, user: &str, group: Option<&str>, supplementary: bool) -> Result<ScriptUser, UserError> {
        ScriptUser::resolve(user, group, supplementary || self.set_supplementary_groups)
    }
}

/// Resolve and check one command for `user` (keepalived's `check_script_secure`).
pub fn vet_command(cmd: &ScriptCommand, user: ScriptUser, env: &ScriptEnv) -> Vetted {
    let mut log = Vec::new();
    let Some(arg0) = cmd.argv.first().filter(|a| !a.is_empty()) else {
        log.push(format!("Unable to parse script '{}' - ignoring", cmd.raw));
        return Vetted::unusable(log);
    };
    let command = cmd_str(&cmd.argv);

    if let Some(target) = read_check_target(arg0) {
        let script = Script {
            command,
            program: PathBuf::from(SHELL),
            argv: cmd.argv.clone(),
            user,
            kind: ScriptKind::ReadCheck(target),
        };
        return Vetted {
            script: Some(script),
            findings: Findings {
                read_check: true,
                ..Findings::default()
            },
            log,
        };
    }

    let mut argv = cmd.argv.clone();
    if !arg0.contains('/') {
        match find_in_path(arg0, &user, &env.search_path) {
            Ok(found) => {
                log.push(format!(
                    "WARNING - script `{arg0}` resolved by path search to `{}`. Please specify full path.",
                    found.display()
                ));
                argv[0] = found.to_string_lossy().into_owned();
            }
            Err(PathSearchError::Denied) => {
                log.push(format!("Permissions failure for script {arg0} in path - disabling"));
                return Vetted::unusable(log);
            }
            Err(PathSearchError::NotFound) => {
                log.push(format!("Cannot find script {arg0} in path - disabling"));
                return Vetted::unusable(log);
            }
        }
    }

    let real = match fs::canonicalize(&argv[0]) {
        Ok(real) if user_may_traverse(Path::new(&argv[0]), &user) && user_may_traverse(&real, &user) => real,
        Ok(_) => {
            log.push(format!(
                "Script {} cannot be accessed - {}",
                argv[0],
                nix::errno::Errno::EACCES.desc()
            ));
            return Vetted::unusable(log);
        }
        Err(e) => {
            log.push(format!("Script {} cannot be accessed - {}", argv[0], errno_text(&e)));
            return Vetted::unusable(log);
        }
    };
    let meta = match fs::metadata(&real) {
        Ok(meta) => meta,
        Err(_) => {
            log.push(format!("Unable to access script `{}` - disabling", argv[0]));
            return Vetted::unusable(log);
        }
    };

    argv[0] = clean_path(&argv[0]);
    let configured = argv[0].clone();
    let program = if env.use_symlink_paths {
        PathBuf::from(&configured)
    } else {
        real.clone()
    };

    let mut findings = Findings {
        is_script: true,
        ..Findings::default()
    };
    let mut needs_protection = false;
    if is_executable(&meta, &user) {
        findings.executable = true;
        needs_protection = user.uid.is_root() || user.gid.as_raw() == 0 || runs_privileged(&meta);
    } else {
        log.push(format!(
            "WARNING - script '{configured}' is not executable for uid:gid {}:{} - disabling.",
            user.uid, user.gid
        ));
    }

    let kind = if findings.executable && !starts_like_executable(&real) {
        log.push(format!("Please add a #! shebang to script {configured}"));
        ScriptKind::Shell
    } else {
        ScriptKind::Exec
    };

    if needs_protection {
        findings.merge(check_path_security(&configured, env.script_security, &mut log));
        let real_str = real.to_string_lossy();
        if real_str != configured {
            findings.merge(check_path_security(&real_str, env.script_security, &mut log));
        }
    }

    Vetted {
        script: Some(Script {
            command,
            program,
            argv,
            user,
            kind,
        }),
        findings,
        log,
    }
}

/// keepalived's `cmd_str`: each word in single quotes, except a leading `<`/`>` word.
pub fn cmd_str(argv: &[String]) -> String {
    argv.iter()
        .enumerate()
        .map(|(i, a)| {
            if i == 0 && (a.starts_with('<') || a.starts_with('>')) {
                a.clone()
            } else {
                format!("'{a}'")
            }
        })
        .collect::<Vec<_>>()
        .join(" ")
}

/// `</path` (spaces allowed after `<`) names a file to test for readability.
fn read_check_target(arg0: &str) -> Option<PathBuf> {
    let rest = arg0.strip_prefix('<')?.trim_start_matches([' ', '\t']);
    rest.starts_with('/').then(|| PathBuf::from(rest))
}

enum PathSearchError {
    /// A file was found but the script user may not execute it.
    Denied,
    NotFound,
}

/// glibc's execvp search, as keepalived's `find_path` does it for the script's uid:gid.
fn find_in_path(file: &str, user: &ScriptUser, search_path: &OsString) -> Result<PathBuf, PathSearchError> {
    let mut denied = false;
    for dir in search_path.as_bytes().split(|b| *b == b':') {
        let dir = Path::new(std::ffi::OsStr::from_bytes(dir));
        let candidate = if dir.as_os_str().is_empty() {
            PathBuf::from(file)
        } else {
            dir.join(file)
        };
        if let Ok(meta) = fs::metadata(&candidate) {
            if meta.is_file() && is_executable(&meta, user) && user_may_traverse(&candidate, user) {
                return Ok(candidate);
            }
            denied = true;
        }
    }
    Err(if denied {
        PathSearchError::Denied
    } else {
        PathSearchError::NotFound
    })
}

/// keepalived's `is_executable`: root needs any x bit; others need the bit of the one class
/// (owner, else group, else other) they fall into.
fn is_executable(meta: &Metadata, user: &ScriptUser) -> bool {
    let mode = meta.mode();
    let uid = user.uid.as_raw();
    let gid = user.gid.as_raw();
    (uid == 0 && mode & 0o111 != 0)
        || (uid == meta.uid() && mode & 0o100 != 0)
        || (uid != meta.uid() && ((gid == meta.gid() && mode & 0o010 != 0) || (gid != meta.gid() && mode & 0o001 != 0)))
}

/// keepalived resolves the path with the script's effective ids; kad cannot switch ids in a
/// threaded process, so it checks search permission on every directory on the way instead.
fn user_may_traverse(path: &Path, user: &ScriptUser) -> bool {
    if user.uid.is_root() {
        return true;
    }
    path.ancestors()
        .skip(1)
        .filter(|a| !a.as_os_str().is_empty())
        .all(|dir| match fs::metadata(dir) {
            Ok(meta) => {
                let mode = meta.mode();
                if meta.uid() == user.uid.as_raw() {
                    mode & 0o100 != 0
                } else if meta.gid() == user.gid.as_raw() || user.supplementary.iter().any(|g| g.as_raw() == meta.gid())
                {
                    mode & 0o010 != 0
                } else {
                    mode & 0o001 != 0
                }
            }
            Err(_) => false,
        })
}

/// A setuid-root or setgid-root file runs privileged whoever starts it.
fn runs_privileged(meta: &Metadata) -> bool {
    let mode = meta.mode();
    (meta.uid() == 0 && mode & 0o100 != 0 && mode & 0o4000 != 0)
        || (meta.gid() == 0 && mode & 0o010 != 0 && mode & 0o2000 != 0)
}

/// What libmagic calls " executable" or " shared object": an ELF file or a `#!` script.
fn starts_like_executable(path: &Path) -> bool {
    let mut head = [0u8; 4];
    let Ok(mut file) = fs::File::open(path) else {
        // Unreadable here means unreadable for exec too: let exec report it.
        return true;
    };
    let mut len = 0;
    while len < head.len() {
        match file.read(&mut head[len..]) {
            Ok(0) => break,
            Ok(n) => len += n,
            Err(_) => return true,
        }
    }
    head[..len].starts_with(b"#!") || head[..len].starts_with(b"\x7fELF")
}

/// keepalived's `clean_path`: drop `.` and empty components and fold `..` lexically.
fn clean_path(path: &str) -> String {
    let absolute = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|p| *p != "..") => {
                parts.pop();
            }
            ".." if absolute => {}
            other => parts.push(other),
        }
    }
    let joined = parts.join("/");
    if absolute {
        format!("/{joined}")
    } else {
        joined
    }
}

/// keepalived's `check_security`: lstat every component, from `/` to the file.
fn check_path_security(path: &str, script_security: bool, log: &mut Vec<String>) -> Findings {
    let mut components: Vec<(&str, bool)> = path
        .match_indices('/')
        .map(|(i, _)| (&path[..i.max(1)], false))
        .collect();
    components.push((path, true));

    for (component, last) in components {
        let meta = match fs::symlink_metadata(component) {
            Ok(meta) => meta,
            Err(e) => {
                let errno = e.raw_os_error().unwrap_or(0);
                if [libc::EACCES, libc::ELOOP, libc::ENOENT, libc::ENOTDIR].contains(&errno) {
                    log.push(format!(
                        "check_script_secure could not find script '{path}' - disabling"
                    ));
                } else {
                    log.push(format!(
                        "check_script_secure('{path}') returned errno {errno} - {} - disabling",
                        errno_text(&e)
                    ));
                }
                return Findings::not_found();
            }
        };
        let file_type = meta.file_type();
        let right_type = if last {
            file_type.is_file() || file_type.is_symlink()
        } else {
            file_type.is_dir() || (file_type.is_symlink() && fs::metadata(component).is_ok_and(|m| m.is_dir()))
        };
        if !right_type {
            log.push(format!("Wrong file type found in script path '{path}'."));
            return Findings {
                inhibit: true,
                ..Findings::default()
            };
        }
        let mode = meta.permissions().mode();
        let write_checked = (file_type.is_dir() && mode & 0o1000 == 0) || file_type.is_file();
        let writable_by_others = (meta.gid() != 0 && mode & 0o020 != 0) || mode & 0o002 != 0;
        if meta.uid() != 0 || (write_checked && writable_by_others) {
            log.push(format!(
                "Unsafe permissions found for script '{path}'{}.",
                if script_security { " - disabling" } else { "" }
            ));
            return Findings {
                insecure: true,
                inhibit: script_security,
                ..Findings::default()
            };
        }
    }
    Findings::default()
}

fn errno_text(e: &std::io::Error) -> String {
    match e.raw_os_error() {
        Some(errno) => nix::errno::Errno::from_raw(errno).desc().to_string(),
        None => e.to_string(),
    }
}

// ---------------------------------------------------------------------------------------
// The whole configuration
// ---------------------------------------------------------------------------------------

/// The notify scripts of one instance or sync group that may run.
#[derive(Debug, Clone, Default)]
pub struct NotifyScripts {
    pub master: Option<Arc<Script>>,
    pub backup: Option<Arc<Script>>,
    pub fault: Option<Arc<Script>>,
    pub stop: Option<Arc<Script>>,
    pub deleted: Option<Arc<Script>>,
    /// `notify`: gets `INSTANCE|GROUP <name> <STATE> <prio>` appended.
    pub generic: Option<Arc<Script>>,
    pub master_rx_lower_pri: Option<Arc<Script>>,
    /// `notify_deleted` was given (with or without a script): DELETED is reported as
    /// DELETED, not as keepalived's legacy FAULT.
    pub notify_deleted: bool,
}

impl NotifyScripts {
    /// Nothing to run and nothing that changes what is reported.
    pub fn is_empty(&self) -> bool {
        let NotifyScripts { master, backup, fault, stop, deleted, generic, master_rx_lower_pri, notify_deleted } = self;
        [master, backup, fault, stop, deleted, generic, master_rx_lower_pri].iter().all(|s| s.is_none()) && !notify_deleted
    }
}

/// A notify FIFO ready to be opened (`notify::fifo`).
#[derive(Debug, Clone)]
pub struct FifoPlan {
    /// keepalived's message prefix: "" for `notify_fifo`, "vrrp_" for `vrrp_notify_fifo`.
    pub label: &'static str,
    pub path: PathBuf,
    /// The FIFO's owner when kad creates it, and the other owner it accepts.
    pub owner: ScriptUser,
    /// `*_notify_fifo_script`, started with the FIFO path appended.
    pub script: Option<Arc<Script>>,
}

/// Everything script-related that the configuration allows kad to run.
#[derive(Debug, Clone, Default)]
pub struct VettedConfig {
    /// What `-t` prints (keepalived's `report_config_error`s).
    pub diagnostics: Vec<Diagnostic>,
    /// keepalived's `log_message`s: logged by the daemon, silent under `-t`.
    pub log: Vec<String>,
    pub instances: BTreeMap<String, NotifyScripts>,
    pub sync_groups: BTreeMap<String, NotifyScripts>,
    /// The `vrrp_script`s that may run; a tracked name missing here was disabled, and
    /// keepalived then drops it from the instances that track it.
    pub vrrp_scripts: BTreeMap<String, Arc<Script>>,
    /// `vrrp_script`s whose user could not be resolved: keepalived drops these while
    /// parsing, so `track_script` references to them are "not found" for the validator.
    pub dropped_vrrp_scripts: BTreeSet<String>,
    pub notify_fifo: Option<FifoPlan>,
    pub vrrp_notify_fifo: Option<FifoPlan>,
    pub startup_script: Option<Arc<Script>>,
    pub shutdown_script: Option<Arc<Script>>,
}

impl VettedConfig {
    pub fn fifo_plans(&self) -> impl Iterator<Item = &FifoPlan> {
        self.notify_fifo.iter().chain(self.vrrp_notify_fifo.iter())
    }
}

/// The `-t` diagnostics for the configuration's scripts.
pub fn config_test_diagnostics(config: &Config) -> Vec<Diagnostic> {
    vet_config(config).diagnostics
}

/// Vet every script of the configuration, as keepalived does between parsing and starting.
pub fn vet_config(config: &Config) -> VettedConfig {
    super::accounts::remembering(|| vet_config_uncached(config))
}

fn vet_config_uncached(config: &Config) -> VettedConfig {
    let (env, diagnostics) = ScriptEnv::new(&config.global);
    let mut vetting = Vetting {
        env,
        out: VettedConfig {
            diagnostics,
            ..VettedConfig::default()
        },
        default_user_reported: false,
    };
    vetting.run(config);
    vetting.out
}

/// What a failed command means for its role: keepalived treats them differently.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Role<'a> {
    /// notify_* and fifo scripts: need an executable file.
    Notify(&'a str),
    /// vrrp_script NAME: a `</path` check is fine; disabling is reported to `-t`.
    Track(&'a str),
    /// startup_script / shutdown_script: a `</path` check is fine.
    StartStop(&'a str),
}

struct Vetting {
    env: ScriptEnv,
    out: VettedConfig,
    default_user_reported: bool,
}

impl Vetting {
    fn run(&mut self, config: &Config) {
        let global = &config.global;
        let mut start_stop = Findings::default();
        self.out.startup_script = global
            .startup_script
            .as_ref()
            .and_then(|cmd| self.vet(cmd, Role::StartStop("startup"), &mut start_stop));
        self.out.shutdown_script = global
            .shutdown_script
            .as_ref()
            .and_then(|cmd| self.vet(cmd, Role::StartStop("shutdown"), &mut start_stop));
        if !self.env.script_security && start_stop.is_script {
            self.report_violation("start/shutdown scripts", start_stop.insecure);
        }

        // keepalived's vrrp process skips all of this when there is no instance.
        if config.instances.is_empty() {
            return;
        }
        let mut findings = Findings::default();
        self.out.notify_fifo = global
            .notify_fifo
            .as_ref()
            .and_then(|spec| self.fifo_plan(spec, "", &mut findings));
        self.out.vrrp_notify_fifo = global
            .vrrp_notify_fifo
            .as_ref()
            .and_then(|spec| self.fifo_plan(spec, "vrrp_", &mut findings));
        for vscript in &config.scripts {
            let Some(user) = self.script_user(&vscript.script, Role::Track(&vscript.name)) else {
                self.out.dropped_vrrp_scripts.insert(vscript.name.clone());
                continue;
            };
            if let Some(script) = self.vet_as(&vscript.script, user, Role::Track(&vscript.name), &mut findings) {
                self.out.vrrp_scripts.insert(vscript.name.clone(), script);
            }
        }
        // Only instances with scripts are kept: a name missing here runs none (the daemon
        // keeps this for its life, and most of a thousand instances have no script). Every
        // sync group has its entry: the daemon gives each a notifier (FIFO lines) from it.
        for instance in &config.instances {
            let scripts = self.notifies(&instance.notify, &mut findings);
            if !scripts.is_empty() {
                self.out.instances.insert(instance.name.clone(), scripts);
            }
        }
        for group in &config.sync_groups {
            let scripts = self.notifies(&group.notify, &mut findings);
            self.out.sync_groups.insert(group.name.clone(), scripts);
        }
        if !self.env.script_security && findings.is_script {
            self.report_violation("scripts", findings.insecure);
        }
    }

    fn report_violation(&mut self, what: &str, insecure: bool) {
        self.out.diagnostics.push(Diagnostic::new(
            ErrClass::SecurityError,
            None,
            format!(
                "SECURITY VIOLATION - {what} are being executed but script_security not enabled.{}",
                if insecure { " There are insecure scripts." } else { "" }
            ),
        ));
    }

    fn notifies(&mut self, notifies: &Notifies, findings: &mut Findings) -> NotifyScripts {
        let mut vet =
            |cmd: &Option<Box<ScriptCommand>>| cmd.as_deref().and_then(|c| self.vet(c, Role::Notify("notify"), findings));
        NotifyScripts {
            master: vet(&notifies.master),
            backup: vet(&notifies.backup),
            fault: vet(&notifies.fault),
            stop: vet(&notifies.stop),
            deleted: vet(&notifies.deleted),
            generic: vet(&notifies.generic),
            master_rx_lower_pri: vet(&notifies.master_rx_lower_pri),
            notify_deleted: notifies.deleted_configured || notifies.deleted.is_some(),
        }
    }

    fn fifo_plan(&mut self, spec: &FifoSpec, label: &'static str, findings: &mut Findings) -> Option<FifoPlan> {
        let owner = match &spec.user {
            Some(user) => match self.env.resolve_explicit(user, spec.group.as_deref(), false) {
                Ok(owner) => owner,
                Err(e) => {
                    self.out.log.push(e.to_string());
                    self.out
                        .log
                        .push(format!("Invalid user/group for {label} fifo {} - ignoring", spec.path));
                    return None;
                }
            },
            None => match self.default_user(&Span::default()) {
                Some(owner) => owner,
                None => {
                    self.out.log.push(format!(
                        "Failed to set default user for {label} fifo {} - ignoring",
                        spec.path
                    ));
                    return None;
                }
            },
        };
        let script_type = if label.is_empty() {
            "notify_fifo"
        } else {
            "vrrp_notify_fifo"
        };
        let script = spec
            .script
            .as_ref()
            .and_then(|cmd| self.vet(cmd, Role::Notify(script_type), findings));
        Some(FifoPlan {
            label,
            path: PathBuf::from(&spec.path),
            owner,
            script,
        })
    }

    /// keepalived's `get_default_script_user`, with its one-time report.
    fn default_user(&mut self, span: &Span) -> Option<ScriptUser> {
        match &self.env.default_user {
            Ok(user) => Some(user.clone()),
            Err(DefaultUserFailure::KeepalivedScriptMissing) => {
                if !self.default_user_reported {
                    self.default_user_reported = true;
                    let span = (span != &Span::default()).then(|| span.clone());
                    self.out.diagnostics.push(Diagnostic::new(
                        ErrClass::GeneralError,
                        span,
                        format!("Unable to set default user {DEFAULT_SCRIPT_USER} for script"),
                    ));
                }
                None
            }
            Err(DefaultUserFailure::ScriptUserInvalid) => None,
        }
    }

    fn script_user(&mut self, cmd: &ScriptCommand, role: Role<'_>) -> Option<ScriptUser> {
        let arg0 = cmd.argv.first().cloned().unwrap_or_default();
        match &cmd.user {
            Some(user) => match self
                .env
                .resolve_explicit(user, cmd.group.as_deref(), cmd.set_supplementary_groups)
            {
                Ok(user) => Some(user),
                Err(e) => {
                    self.out.log.push(e.to_string());
                    match role {
                        Role::Track(_) => self.out.diagnostics.push(Diagnostic::new(
                            ErrClass::GeneralError,
                            Some(cmd.span.clone()),
                            format!("Unable to set uid/gid for script {}", cmd_str(&cmd.argv)),
                        )),
                        Role::Notify(kind) | Role::StartStop(kind) => self
                            .out
                            .log
                            .push(format!("Invalid user/group for {kind} script {arg0} - ignoring")),
                    }
                    None
                }
            },
            None => {
                let user = self.default_user(&cmd.span);
                if user.is_none() {
                    match role {
                        Role::Track(name) => self.out.diagnostics.push(Diagnostic::new(
                            ErrClass::GeneralError,
                            Some(cmd.span.clone()),
                            format!("Unable to set default user for vrrp script {name} - removing"),
                        )),
                        Role::Notify(kind) | Role::StartStop(kind) => self.out.log.push(format!(
                            "Failed to set default user for {kind} script {arg0} - ignoring"
                        )),
                    }
                }
                user
            }
        }
    }

    /// Vet one command for its role; `None` if it must not run.
    fn vet(&mut self, cmd: &ScriptCommand, role: Role<'_>, findings: &mut Findings) -> Option<Arc<Script>> {
        let user = self.script_user(cmd, role)?;
        self.vet_as(cmd, user, role, findings)
    }

    fn vet_as(
        &mut self,
        cmd: &ScriptCommand,
        user: ScriptUser,
        role: Role<'_>,
        findings: &mut Findings,
    ) -> Option<Arc<Script>> {
        let vetted = vet_command(cmd, user, &self.env);
        self.out.log.extend(vetted.log);
        let f = vetted.findings;
        findings.merge(f);
        let usable = match role {
            Role::Notify(_) => !f.inhibit && !f.not_found && f.executable,
            Role::StartStop(_) => !f.inhibit && !f.not_found && (f.executable || f.read_check),
            Role::Track(name) => {
                let message = if f.inhibit {
                    Some(format!("Disabling track script {name} due to insecure"))
                } else if f.not_found {
                    Some(format!("Disabling track script {name} since not found/accessible"))
                } else {
                    None
                };
                if let Some(message) = message {
                    self.out
                        .diagnostics
                        .push(Diagnostic::new(ErrClass::GeneralError, None, message));
                }
                !f.inhibit && !f.not_found && (f.executable || f.read_check)
            }
        };
        vetted.script.filter(|_| usable).map(Arc::new)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_folds_dots_like_keepalived() {
        assert_eq!(clean_path("/etc/./keepalived//x.sh"), "/etc/keepalived/x.sh");
        assert_eq!(clean_path("/etc/keepalived/../x.sh"), "/etc/x.sh");
        assert_eq!(clean_path("/../x.sh"), "/x.sh");
        assert_eq!(clean_path("../a/x.sh"), "../a/x.sh");
        assert_eq!(clean_path("a/../../x.sh"), "../x.sh");
    }

    #[test]
    fn cmd_str_quotes_all_but_a_redirection() {
        let argv = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(cmd_str(&argv(&["/bin/echo", "a b"])), "'/bin/echo' 'a b'");
        assert_eq!(cmd_str(&argv(&["</tmp/x", "y"])), "</tmp/x 'y'");
    }

    #[test]
    fn read_check_allows_blanks_after_the_redirection() {
        assert_eq!(read_check_target("< \t/tmp/x"), Some(PathBuf::from("/tmp/x")));
        assert_eq!(read_check_target("<relative"), None);
        assert_eq!(read_check_target("/bin/true"), None);
    }
}
