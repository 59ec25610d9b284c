//! `notify_fifo` / `vrrp_notify_fifo` (keepalived/core/notify.c `fifo_open`, `fifo_close`;
//! vrrp/vrrp_notify.c `notify_fifo`): one line per event, written without ever blocking.
//!
//! kad holds the FIFO open read-write, so opening never waits for a reader and a reader that
//! comes and goes never makes writes fail with EPIPE. When the pipe is full because nobody
//! reads, the write fails with EAGAIN and the line is dropped, as in keepalived.

use super::exec::{self, Running, Script, ScriptUser};
use super::security::FifoPlan;
use nix::errno::Errno;
use nix::fcntl::{open, OFlag};
use nix::sys::signal::Signal;
use nix::sys::stat::{fstat, Mode, SFlag};
use nix::unistd::{fchown, getegid, geteuid, mkfifo};
use std::fmt;
use std::os::fd::OwnedFd;
use std::path::PathBuf;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Mutex;
use std::time::Duration;

/// The event word of a FIFO line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FifoEvent {
    Master,
    Backup,
    Fault,
    Stop,
    Deleted,
    MasterRxLowerPri,
    MasterPriority,
    BackupPriority,
}

impl fmt::Display for FifoEvent {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            FifoEvent::Master => "MASTER",
            FifoEvent::Backup => "BACKUP",
            FifoEvent::Fault => "FAULT",
            FifoEvent::Stop => "STOP",
            FifoEvent::Deleted => "DELETED",
            FifoEvent::MasterRxLowerPri => "MASTER_RX_LOWER_PRI",
            FifoEvent::MasterPriority => "MASTER_PRIORITY",
            FifoEvent::BackupPriority => "BACKUP_PRIORITY",
        })
    }
}

/// `INSTANCE "name" STATE prio\n`
pub fn instance_line(name: &str, event: FifoEvent, priority: u8) -> String {
    format!("INSTANCE \"{name}\" {event} {priority}\n")
}

/// `GROUP "name" STATE 0\n`: groups have no priority.
pub fn group_line(name: &str, event: FifoEvent) -> String {
    format!("GROUP \"{name}\" {event} 0\n")
}

/// Why a FIFO is not used (keepalived's log lines).
#[derive(Debug, thiserror::Error)]
pub enum FifoError {
    #[error("Unable to create {label}notify fifo {}", path.display())]
    Create {
        label: &'static str,
        path: PathBuf,
        errno: Errno,
    },
    #[error("Unable to open {label}notify fifo {} - errno {}", path.display(), *errno as i32)]
    Open {
        label: &'static str,
        path: PathBuf,
        errno: Errno,
    },
    #[error("{label}notify fifo {} is not a fifo we own - not using", path.display())]
    NotOurs { label: &'static str, path: PathBuf },
}

/// One open notify FIFO, with its reader script if one is configured.
#[derive(Debug)]
pub struct NotifyFifo {
    label: &'static str,
    path: PathBuf,
    fd: OwnedFd,
    /// Only a FIFO kad created is removed again.
    created: bool,
    script: Option<Running>,
    owner: ScriptUser,
    script_command: Option<Script>,
    /// Lines are being dropped because the pipe is full.
    dropping: AtomicBool,
}

impl NotifyFifo {
    /// Create the FIFO if needed (mode 0644 before umask, owned by the plan's user), refuse
    /// anything that is not a FIFO owned by kad or that user, then start the FIFO script
    /// with the path as its last argument. Needs a tokio runtime for the script.
    pub fn open(plan: &FifoPlan) -> Result<NotifyFifo, FifoError> {
        let label = plan.label;
        let path = plan.path.clone();
        let created = match mkfifo(&path, Mode::from_bits_truncate(0o644)) {
            Ok(()) => true,
            Err(Errno::EEXIST) => false,
            Err(errno) => return Err(FifoError::Create { label, path, errno }),
        };
        let flags = OFlag::O_RDWR | OFlag::O_CLOEXEC | OFlag::O_NONBLOCK | OFlag::O_NOFOLLOW;
        let fd = match open(&path, flags, Mode::empty()) {
            Ok(fd) => fd,
            Err(errno) => {
                if created {
                    let _ = std::fs::remove_file(&path);
                }
                return Err(FifoError::Open { label, path, errno });
            }
        };
        let (our_uid, our_gid) = (geteuid(), getegid());
        let ours = fstat(&fd).is_ok_and(|st| {
            SFlag::from_bits_truncate(st.st_mode & SFlag::S_IFMT.bits()) == SFlag::S_IFIFO
                && (st.st_uid == our_uid.as_raw() || st.st_uid == plan.owner.uid.as_raw())
        });
        if !ours {
            return Err(FifoError::NotOurs { label, path });
        }
        if created && (plan.owner.uid != our_uid || plan.owner.gid != our_gid) {
            let uid = (plan.owner.uid != our_uid).then_some(plan.owner.uid);
            let gid = (plan.owner.gid != our_gid).then_some(plan.owner.gid);
            if fchown(&fd, uid, gid).is_err() {
                tracing::info!("Failed to set uid:gid for fifo {}", path.display());
            }
        }
        let script =
            plan.script.as_ref().and_then(
                |script| match exec::spawn(script, &[path.to_string_lossy().into_owned()]) {
                    Ok(running) => {
                        let mut watcher = running.clone();
                        tokio::spawn(async move {
                            watcher.wait().await;
                            tracing::info!("{label}notify fifo script terminated");
                        });
                        Some(running)
                    }
                    Err(e) => {
                        tracing::warn!("Unable to start {label}notify fifo script {}: {e}", script.command);
                        None
                    }
                },
            );
        Ok(NotifyFifo {
            label,
            path,
            fd,
            created,
            script,
            owner: plan.owner.clone(),
            script_command: plan.script.as_deref().cloned(),
            dropping: AtomicBool::new(false),
        })
    }

    /// Whether this FIFO is what `plan` asks for, so that a reload can keep it (and its
    /// reader script) rather than close and reopen it as keepalived does.
    fn matches(&self, plan: &FifoPlan) -> bool {
        self.label == plan.label
            && self.path == plan.path
            && self.owner == plan.owner
            && self.script_command == plan.script.as_deref().cloned()
    }

    /// Write one line without blocking; a full pipe drops it. Returns whether it was written.
    /// keepalived drops lines silently; kad says once that a reader has stopped reading,
    /// and again when lines get through.
    pub fn write_line(&self, line: &str) -> bool {
        loop {
            match nix::unistd::write(&self.fd, line.as_bytes()) {
                Ok(_) => {
                    if self.dropping.swap(false, Ordering::Relaxed) {
                        tracing::info!("{}notify fifo {} is being read again", self.label, self.path.display());
                    }
                    return true;
                }
                Err(Errno::EINTR) => continue,
                Err(Errno::EAGAIN) => {
                    if !self.dropping.swap(true, Ordering::Relaxed) {
                        tracing::warn!(
                            "{}notify fifo {} is full (its reader is not reading) - dropping lines",
                            self.label,
                            self.path.display()
                        );
                    }
                    return false;
                }
                Err(e) => {
                    tracing::debug!("write to {}notify fifo {} failed: {e}", self.label, self.path.display());
                    return false;
                }
            }
        }
    }

    /// Remove the FIFO (if kad made it) before closing it, so a reader that reopens in a
    /// loop cannot get hold of it again; then stop the FIFO script (SIGTERM, SIGKILL after
    /// `grace`).
    pub async fn close(mut self, grace: Duration) {
        self.unlink_if_created();
        if let Some(mut script) = self.script.take() {
            script.terminate(grace).await;
        }
    }

    fn unlink_if_created(&mut self) {
        if std::mem::take(&mut self.created) {
            if let Err(e) = std::fs::remove_file(&self.path) {
                tracing::info!(
                    "Unable to remove {}notify fifo {}: {e}",
                    self.label,
                    self.path.display()
                );
            }
        }
    }
}

impl Drop for NotifyFifo {
    /// A FIFO that is dropped without `close` still disappears and its script is told to go.
    fn drop(&mut self) {
        self.unlink_if_created();
        if let Some(script) = self.script.take() {
            script.signal_group(Signal::SIGTERM);
        }
    }
}

/// `notify_fifo` and `vrrp_notify_fifo`: every line goes to both. Shared (in an `Arc`)
/// by every notifier; the daemon reconfigures it on reload and closes it on stop.
#[derive(Debug, Default)]
pub struct FifoSet {
    fifos: Mutex<Vec<NotifyFifo>>,
}

impl FifoSet {
    /// Open each planned FIFO; one that cannot be used is logged and left out.
    pub fn open<'a>(plans: impl IntoIterator<Item = &'a FifoPlan>) -> FifoSet {
        let fifos = plans
            .into_iter()
            .filter_map(|plan| match NotifyFifo::open(plan) {
                Ok(fifo) => Some(fifo),
                Err(e) => {
                    tracing::info!("{e}");
                    None
                }
            })
            .collect();
        FifoSet {
            fifos: Mutex::new(fifos),
        }
    }

    /// A reload: FIFOs the new configuration still names exactly as before stay open
    /// with their reader script, so no line is lost; the others are closed (in the
    /// background, since a reader script gets a grace period) and the new ones opened.
    pub fn reconfigure<'a>(&self, plans: impl IntoIterator<Item = &'a FifoPlan>, grace: Duration) {
        let plans: Vec<&FifoPlan> = plans.into_iter().collect();
        let mut fifos = self.lock();
        let (kept, gone): (Vec<NotifyFifo>, Vec<NotifyFifo>) =
            std::mem::take(&mut *fifos).into_iter().partition(|f| plans.iter().any(|p| f.matches(p)));
        for mut fifo in gone {
            // Now, so that a new FIFO at the same path is not unlinked afterwards.
            fifo.unlink_if_created();
            tokio::spawn(fifo.close(grace));
        }
        *fifos = kept;
        for plan in plans {
            if fifos.iter().any(|f| f.matches(plan)) {
                continue;
            }
            match NotifyFifo::open(plan) {
                Ok(fifo) => fifos.push(fifo),
                Err(e) => tracing::info!("{e}"),
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.lock().is_empty()
    }

    pub fn write_line(&self, line: &str) {
        for fifo in self.lock().iter() {
            fifo.write_line(line);
        }
    }

    /// Close every FIFO (at stop); later lines are dropped.
    pub async fn close(&self, grace: Duration) {
        let fifos = std::mem::take(&mut *self.lock());
        futures::future::join_all(fifos.into_iter().map(|fifo| fifo.close(grace))).await;
    }

    /// A panic while holding the lock cannot leave the list inconsistent: use it anyway.
    fn lock(&self) -> std::sync::MutexGuard<'_, Vec<NotifyFifo>> {
        self.fifos.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
