//! Starting a vetted script the way keepalived does (lib/notify.c `system_call_script`):
//! fork + exec with no shell, the script's own uid/gid/groups, its own process group (so a
//! timeout can kill everything it started), SIGTERM when kad dies, `IFS`/`LD_PRELOAD`/
//! `LD_LIBRARY_PATH` removed, stdio on /dev/null, every signal back at its default.
//!
//! Every child is owned by a reaper task from the moment it is spawned, so it is reaped even
//! when the caller drops its [`Running`] handle: kad never leaves zombies behind.

use nix::sys::signal::{killpg, Signal};
use super::accounts;
use nix::unistd::{getegid, geteuid, Gid, Pid, Uid};
use std::ffi::CString;
use std::fmt;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::process::ExitStatusExt;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use tokio::sync::watch;

/// The interpreter for files that are neither ELF binaries nor `#!` scripts, as keepalived
/// hands them to `system()`.
pub const SHELL: &str = "/bin/sh";

/// Who a script runs as, resolved in the parent (NSS lookups are not async-signal-safe).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScriptUser {
    pub uid: Uid,
    pub gid: Gid,
    /// The supplementary groups to install; empty clears them (keepalived's default).
    pub supplementary: Vec<Gid>,
}

impl ScriptUser {
    /// kad's own effective identity: keepalived's fallback when no script user exists.
    pub fn current() -> ScriptUser {
        ScriptUser {
            uid: geteuid(),
            gid: getegid(),
            supplementary: Vec::new(),
        }
    }

    /// keepalived's `set_uid_gid`: `user [[:]group]`. A group word starting with `:` (or the
    /// global `set_supplementary_groups`) installs the user's supplementary groups, taken
    /// from the user's own primary group, not from the group given.
    pub fn resolve(user: &str, group: Option<&str>, set_supplementary: bool) -> Result<ScriptUser, UserError> {
        let mut set_supplementary = set_supplementary;
        let group = match group {
            Some(g) if g.starts_with(':') => {
                set_supplementary = true;
                Some(&g[1..]).filter(|g| !g.is_empty())
            }
            other => other,
        };
        let pw = accounts::user(user)
            .map_err(|_| UserError::UserLookup(user.to_string()))?
            .ok_or_else(|| UserError::NoSuchUser(user.to_string()))?;
        let gid = match group {
            Some(g) => accounts::group(g)
                .map_err(|_| UserError::GroupLookup(g.to_string()))?
                .ok_or_else(|| UserError::NoSuchGroup(g.to_string()))?,
            None => pw.gid,
        };
        let supplementary = if set_supplementary {
            accounts::group_list(user, pw.gid).unwrap_or_else(|| {
                tracing::info!("get supplementary groups for {user} returned -1");
                Vec::new()
            })
        } else {
            Vec::new()
        };
        Ok(ScriptUser {
            uid: pw.uid,
            gid,
            supplementary,
        })
    }
}

impl fmt::Display for ScriptUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.uid, self.gid)
    }
}

/// keepalived's messages for a user/group that cannot be used.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UserError {
    #[error("Unable to resolve script username '{0}' - ignoring")]
    UserLookup(String),
    #[error("Script user '{0}' does not exist")]
    NoSuchUser(String),
    #[error("Unable to resolve script group name '{0}' - ignoring")]
    GroupLookup(String),
    #[error("Script group '{0}' does not exist")]
    NoSuchGroup(String),
}

/// How a vetted script is started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScriptKind {
    /// execve of `program`.
    Exec,
    /// A text file without `#!`: run by [`SHELL`], as keepalived does via `system()` when
    /// libmagic does not call the file executable.
    Shell,
    /// `</path`: succeeds when the script user can open the file for reading; nothing is
    /// executed (keepalived gives these to the shell as a redirection).
    ReadCheck(PathBuf),
}

/// A script that passed vetting (see `notify::security`): everything needed to start it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Script {
    /// The command as keepalived prints it in messages (`'/path' 'arg'`).
    pub command: String,
    /// The file handed to execve: the real path unless `use_symlink_paths`.
    pub program: PathBuf,
    /// argv as configured (argv[0] with `.`/`..`/`//` removed, or the PATH search result).
    pub argv: Vec<String>,
    pub user: ScriptUser,
    pub kind: ScriptKind,
}

/// How a script ended.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ScriptExit {
    Code(i32),
    Signal(i32),
    /// The exit status could not be collected.
    Lost,
}

impl ScriptExit {
    pub fn success(self) -> bool {
        self == ScriptExit::Code(0)
    }
}

impl fmt::Display for ScriptExit {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ScriptExit::Code(c) => write!(f, "exited with status {c}"),
            ScriptExit::Signal(s) => write!(f, "due to signal {s}"),
            ScriptExit::Lost => f.write_str("lost"),
        }
    }
}

/// A started script. Dropping the handle does not stop or orphan the child: the reaper task
/// still collects it. Clones watch the same child.
#[derive(Debug, Clone)]
pub struct Running {
    pid: Pid,
    exit: watch::Receiver<Option<ScriptExit>>,
}

/// Exit code of a `</path` check that could not open the file: what dash (Debian's
/// /bin/sh, which keepalived's `system()` uses) returns for a failed redirection.
const READ_CHECK_FAILED: i32 = 2;

/// Start `script` with `extra_args` appended to its configured argv. Must be called from
/// a tokio runtime worker (not from `spawn_blocking`: PDEATHSIG follows the forking thread).
pub fn spawn(script: &Script, extra_args: &[String]) -> io::Result<Running> {
    let mut cmd = match &script.kind {
        ScriptKind::Exec => {
            let mut cmd = tokio::process::Command::new(&script.program);
            if let Some(arg0) = script.argv.first() {
                cmd.arg0(arg0);
            }
            cmd.args(script.argv.iter().skip(1));
            cmd
        }
        ScriptKind::Shell => {
            let mut cmd = tokio::process::Command::new(SHELL);
            cmd.arg(&script.program).args(script.argv.iter().skip(1));
            cmd
        }
        // The child exits from pre_exec, so the program is never executed.
        ScriptKind::ReadCheck(_) => tokio::process::Command::new(SHELL),
    };
    cmd.args(extra_args)
        .env_remove("IFS")
        .env_remove("LD_PRELOAD")
        .env_remove("LD_LIBRARY_PATH")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .kill_on_drop(false);

    let creds = ChildCredentials::new(&script.user);
    let read_check = match &script.kind {
        ScriptKind::ReadCheck(path) => Some(
            CString::new(path.as_os_str().as_bytes())
                .map_err(|_| io::Error::new(io::ErrorKind::InvalidInput, "path contains a NUL byte"))?,
        ),
        _ => None,
    };
    let parent = nix::unistd::getpid();
    let sigrtmax = libc::SIGRTMAX();
    // SAFETY: the closure runs in the forked child before exec and only makes
    // async-signal-safe system calls on data prepared above; it allocates nothing.
    unsafe {
        cmd.pre_exec(move || {
            creds.apply()?;
            reset_signals(sigrtmax);
            libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGTERM as libc::c_ulong, 0, 0, 0);
            if libc::getppid() != parent.as_raw() {
                // kad died before PDEATHSIG was armed: the script must not outlive it.
                libc::_exit(0);
            }
            if let Some(path) = &read_check {
                let fd = libc::open(path.as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
                libc::_exit(if fd >= 0 { 0 } else { READ_CHECK_FAILED });
            }
            Ok(())
        });
    }

    let mut child = cmd.spawn()?;
    let pid = child
        .id()
        .and_then(|id| i32::try_from(id).ok())
        .map(Pid::from_raw)
        .ok_or_else(|| io::Error::other("spawned child has no pid"))?;
    let (tx, rx) = watch::channel(None);
    tokio::spawn(async move {
        let exit = match child.wait().await {
            Ok(status) => match (status.code(), status.signal()) {
                (Some(code), _) => ScriptExit::Code(code),
                (None, Some(sig)) => ScriptExit::Signal(sig),
                (None, None) => ScriptExit::Lost,
            },
            Err(e) => {
                tracing::warn!("waiting for script pid {pid} failed: {e}");
                ScriptExit::Lost
            }
        };
        let _ = tx.send(Some(exit));
    });
    Ok(Running { pid, exit: rx })
}

impl Running {
    pub fn pid(&self) -> Pid {
        self.pid
    }

    /// The exit status if the script has already ended.
    pub fn try_exit(&self) -> Option<ScriptExit> {
        *self.exit.borrow()
    }

    pub async fn wait(&mut self) -> ScriptExit {
        match self.exit.wait_for(Option::is_some).await {
            Ok(exit) => exit.unwrap_or(ScriptExit::Lost),
            // The reaper went away with the runtime.
            Err(_) => ScriptExit::Lost,
        }
    }

    /// Signal the script's whole process group (it is the group leader).
    pub fn signal_group(&self, signal: Signal) {
        if let Err(e) = killpg(self.pid, signal) {
            if e != nix::errno::Errno::ESRCH {
                tracing::info!("kill -{} of process group {} failed: {e}", signal as i32, self.pid);
            }
        }
    }

    /// SIGTERM to the group, SIGKILL after `grace` if the script is still there, and
    /// SIGKILL to whatever the script left behind in its group once it has gone.
    pub async fn terminate(&mut self, grace: Duration) -> ScriptExit {
        if let Some(exit) = self.try_exit() {
            return exit;
        }
        self.signal_group(Signal::SIGTERM);
        let exit = match tokio::time::timeout(grace, self.wait()).await {
            Ok(exit) => exit,
            Err(_) => {
                self.signal_group(Signal::SIGKILL);
                self.wait().await
            }
        };
        self.signal_group(Signal::SIGKILL);
        exit
    }
}

/// Credentials copied into the pre_exec closure, so the child only issues system calls.
struct ChildCredentials {
    uid: libc::uid_t,
    gid: libc::gid_t,
    groups: Vec<libc::gid_t>,
    change_uid: bool,
    change_gid: bool,
    /// Only root may call setgroups; an unprivileged kad runs scripts as itself.
    set_groups: bool,
}

impl ChildCredentials {
    fn new(user: &ScriptUser) -> ChildCredentials {
        let (our_uid, our_gid) = (geteuid(), getegid());
        ChildCredentials {
            uid: user.uid.as_raw(),
            gid: user.gid.as_raw(),
            groups: user.supplementary.iter().map(|g| g.as_raw()).collect(),
            change_uid: user.uid != our_uid,
            change_gid: user.gid != our_gid,
            set_groups: our_uid.is_root(),
        }
    }

    /// Group first: once the uid is dropped the process may no longer change its groups.
    fn apply(&self) -> io::Result<()> {
        // SAFETY: plain system calls on owned data.
        unsafe {
            if self.change_gid && libc::setgid(self.gid) != 0 {
                return Err(io::Error::last_os_error());
            }
            if self.set_groups && libc::setgroups(self.groups.len(), self.groups.as_ptr()) != 0 {
                return Err(io::Error::last_os_error());
            }
            if self.change_uid && libc::setuid(self.uid) != 0 {
                return Err(io::Error::last_os_error());
            }
        }
        Ok(())
    }
}

/// keepalived's `signal_handler_script`: the script starts with default dispositions (an
/// inherited SIG_IGN would otherwise survive exec).
fn reset_signals(sigrtmax: libc::c_int) {
    // SAFETY: sigaction-based signal() is async-signal-safe; invalid numbers just fail.
    unsafe {
        for sig in 1..=sigrtmax {
            if sig != libc::SIGKILL && sig != libc::SIGSTOP {
                libc::signal(sig, libc::SIG_DFL);
            }
        }
    }
}
