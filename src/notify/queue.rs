//! Ordered notify delivery. keepalived starts notify scripts concurrently and never waits
//! for them, so `notify_backup` can run after the `notify_master` that followed it
//! (issues #996, #2158). kad keeps keepalived's argv conventions (vrrp/vrrp_notify.c) but
//! runs the scripts of one instance (or sync group) one after the other: the next starts
//! when the previous one has exited or has been killed at its timeout. Different instances
//! do not wait for each other, and the protocol loop never waits at all.

use super::exec::{self, Script, ScriptExit};
use super::fifo::{group_line, instance_line, FifoEvent, FifoSet};
use super::security::NotifyScripts;
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

/// Limits for notify scripts, which keepalived lets run for ever.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct QueueSettings {
    /// A script still running after this is killed, so that its successors can run.
    pub script_timeout: Duration,
    /// Time between SIGTERM and SIGKILL to the script's process group.
    pub kill_grace: Duration,
}

impl Default for QueueSettings {
    fn default() -> Self {
        // The grace matches keepalived's TERM→KILL step for vrrp_scripts.
        QueueSettings {
            script_timeout: Duration::from_secs(30),
            kill_grace: Duration::from_secs(2),
        }
    }
}

/// One script run: a vetted script and the words appended to its configured argv.
#[derive(Debug, Clone)]
pub struct Invocation {
    pub script: Arc<Script>,
    pub extra_args: Vec<String>,
}

/// A FIFO-ordered script runner with its own task.
#[derive(Debug)]
pub struct NotifyQueue {
    tx: mpsc::UnboundedSender<Invocation>,
    deadline: watch::Sender<Option<Instant>>,
    worker: JoinHandle<()>,
}

impl NotifyQueue {
    /// Start the queue's task; `label` names it in log lines. Needs a tokio runtime.
    pub fn spawn(label: impl Into<String>, settings: QueueSettings) -> NotifyQueue {
        let (tx, rx) = mpsc::unbounded_channel();
        let (deadline, deadline_rx) = watch::channel(None);
        let worker = tokio::spawn(run_queue(label.into(), settings, rx, deadline_rx));
        NotifyQueue { tx, deadline, worker }
    }

    /// Queue a run; returns at once.
    pub fn submit(&self, invocation: Invocation) {
        if self.tx.send(invocation).is_err() {
            tracing::warn!("notify queue has stopped; script not run");
        }
    }

    /// Run what is queued until `deadline`, then kill the script still running (SIGTERM,
    /// SIGKILL after the grace) and drop the rest. Returns once the last script is reaped.
    pub async fn shutdown(self, deadline: Instant) {
        let NotifyQueue {
            tx,
            deadline: deadline_tx,
            worker,
        } = self;
        drop(tx);
        let _ = deadline_tx.send(Some(deadline));
        if let Err(e) = worker.await {
            tracing::warn!("notify queue task failed: {e}");
        }
    }
}

async fn run_queue(
    label: String,
    settings: QueueSettings,
    mut rx: mpsc::UnboundedReceiver<Invocation>,
    mut deadline_rx: watch::Receiver<Option<Instant>>,
) {
    while let Some(job) = rx.recv().await {
        let shutdown_deadline = *deadline_rx.borrow();
        if shutdown_deadline.is_some_and(|d| Instant::now() >= d) {
            tracing::info!("({label}) shutting down: notify script {} not run", job.script.command);
            continue;
        }
        let mut running = match exec::spawn(&job.script, &job.extra_args) {
            Ok(running) => running,
            Err(e) => {
                tracing::warn!(
                    "({label}) Error exec-ing command '{}': {e}",
                    job.script.program.display()
                );
                continue;
            }
        };
        let timeout_at = Instant::now() + settings.script_timeout;
        let mut deadline_open = true;
        loop {
            let shutdown_deadline = *deadline_rx.borrow_and_update();
            let stop_at = shutdown_deadline.map_or(timeout_at, |d| d.min(timeout_at));
            tokio::select! {
                exit = running.wait() => {
                    log_exit(&label, &job.script, exit);
                    break;
                }
                () = tokio::time::sleep_until(stop_at) => {
                    if stop_at == timeout_at {
                        tracing::warn!("({label}) notify script {} timed out after {:?} - killing",
                            job.script.command, settings.script_timeout);
                    } else {
                        tracing::info!("({label}) shutting down: killing notify script {}", job.script.command);
                    }
                    running.terminate(settings.kill_grace).await;
                    break;
                }
                changed = deadline_rx.changed(), if deadline_open => {
                    // A dropped queue just drains without a shutdown deadline.
                    deadline_open = changed.is_ok();
                }
            }
        }
    }
}

/// keepalived ignores how notify scripts end; kad says so when one fails, since a notify
/// script that crashes is otherwise invisible.
fn log_exit(label: &str, script: &Script, exit: ScriptExit) {
    match exit {
        ScriptExit::Code(0) => tracing::debug!("({label}) notify script {} finished", script.command),
        ScriptExit::Code(_) => tracing::info!("({label}) notify script {} {exit}", script.command),
        ScriptExit::Signal(_) | ScriptExit::Lost => {
            tracing::warn!("({label}) notify script {} ended {exit}", script.command)
        }
    }
}

/// An instance's or sync group's state, as notify scripts and FIFOs name it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NotifyState {
    Master,
    Backup,
    Fault,
    Stop,
    /// The instance disappeared at a reload.
    Deleted,
}

impl NotifyState {
    pub fn as_str(self) -> &'static str {
        match self {
            NotifyState::Master => "MASTER",
            NotifyState::Backup => "BACKUP",
            NotifyState::Fault => "FAULT",
            NotifyState::Stop => "STOP",
            NotifyState::Deleted => "DELETED",
        }
    }

    fn fifo_event(self) -> FifoEvent {
        match self {
            NotifyState::Master => FifoEvent::Master,
            NotifyState::Backup => FifoEvent::Backup,
            NotifyState::Fault => FifoEvent::Fault,
            NotifyState::Stop => FifoEvent::Stop,
            NotifyState::Deleted => FifoEvent::Deleted,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Subject {
    Instance,
    Group,
}

static NO_SCRIPTS: std::sync::LazyLock<Arc<NotifyScripts>> =
    std::sync::LazyLock::new(|| Arc::new(NotifyScripts::default()));

fn shared_scripts(scripts: NotifyScripts) -> Arc<NotifyScripts> {
    if scripts.is_empty() {
        Arc::clone(&NO_SCRIPTS)
    } else {
        Arc::new(scripts)
    }
}

/// Everything one instance or sync group announces: scripts (ordered) and FIFO lines.
#[derive(Debug)]
pub struct Notifier {
    subject: Subject,
    name: Arc<str>,
    /// Shared by every notifier without scripts (most of a thousand instances).
    scripts: Arc<NotifyScripts>,
    fifos: Arc<FifoSet>,
    /// Only a notifier with scripts has a queue (and its task): a thousand instances
    /// without scripts cost no tasks.
    queue: Option<NotifyQueue>,
}

impl Notifier {
    /// Both constructors start the notifier's queue task if it has scripts: they need a
    /// tokio runtime.
    pub fn instance(name: impl Into<Arc<str>>, scripts: NotifyScripts, fifos: Arc<FifoSet>, settings: QueueSettings) -> Notifier {
        Notifier::new(Subject::Instance, name.into(), scripts, fifos, settings)
    }

    pub fn group(name: &str, scripts: NotifyScripts, fifos: Arc<FifoSet>, settings: QueueSettings) -> Notifier {
        Notifier::new(Subject::Group, name.into(), scripts, fifos, settings)
    }

    fn new(
        subject: Subject,
        name: Arc<str>,
        scripts: NotifyScripts,
        fifos: Arc<FifoSet>,
        settings: QueueSettings,
    ) -> Notifier {
        let has_scripts = [
            &scripts.master,
            &scripts.backup,
            &scripts.fault,
            &scripts.stop,
            &scripts.deleted,
            &scripts.generic,
            &scripts.master_rx_lower_pri,
        ]
        .iter()
        .any(|s| s.is_some());
        Notifier {
            subject,
            queue: has_scripts.then(|| NotifyQueue::spawn(&*name, settings)),
            name,
            scripts: shared_scripts(scripts),
            fifos,
        }
    }

    fn submit(&self, invocation: Invocation) {
        if let Some(queue) = &self.queue {
            queue.submit(invocation);
        }
    }

    /// A transition into `state` (keepalived's `send_instance_notifies` /
    /// `send_group_notifies`): the state's own script, then `notify` with
    /// `INSTANCE|GROUP <name> <STATE> <prio>`, then the FIFO line. `priority` is the
    /// effective priority; groups always report 0. Suppressing the notifies of a sync-group
    /// member already in the group's state is the caller's job.
    pub fn state_changed(&self, state: NotifyState, priority: u8) {
        let state = match state {
            NotifyState::Deleted if self.subject == Subject::Group => return,
            NotifyState::Deleted if !self.scripts.notify_deleted => NotifyState::Fault,
            other => other,
        };
        let priority = if self.subject == Subject::Group { 0 } else { priority };
        let specific = match state {
            NotifyState::Master => &self.scripts.master,
            NotifyState::Backup => &self.scripts.backup,
            NotifyState::Fault => &self.scripts.fault,
            NotifyState::Stop => &self.scripts.stop,
            NotifyState::Deleted => &self.scripts.deleted,
        };
        if let Some(script) = specific {
            self.submit(Invocation {
                script: script.clone(),
                extra_args: Vec::new(),
            });
        }
        if let Some(script) = &self.scripts.generic {
            let kind = match self.subject {
                Subject::Instance => "INSTANCE",
                Subject::Group => "GROUP",
            };
            let extra_args = vec![
                kind.to_string(),
                self.name.to_string(),
                state.as_str().to_string(),
                priority.to_string(),
            ];
            self.submit(Invocation {
                script: script.clone(),
                extra_args,
            });
        }
        self.write_fifo(state.fifo_event(), priority);
    }

    /// A reload matched this instance or group to the new configuration: later
    /// notifications use its name and scripts, and still queue behind the ones pending,
    /// so a reload never reorders them.
    pub fn reconfigure(&mut self, name: &str, scripts: NotifyScripts) {
        self.name = name.into();
        self.scripts = shared_scripts(scripts);
    }

    /// `fifo_write_vrrp_states_on_reload`: the current state, to the FIFOs only.
    pub fn fifo_state(&self, state: NotifyState, priority: u8) {
        let priority = if self.subject == Subject::Group { 0 } else { priority };
        self.write_fifo(state.fifo_event(), priority);
    }

    /// A MASTER received an advert with a lower priority (`notify_master_rx_lower_pri`).
    pub fn master_rx_lower_pri(&self, priority: u8) {
        if let Some(script) = &self.scripts.master_rx_lower_pri {
            self.submit(Invocation {
                script: script.clone(),
                extra_args: Vec::new(),
            });
        }
        self.write_fifo(FifoEvent::MasterRxLowerPri, priority);
    }

    /// The effective priority changed (`vrrp_notify_priority_changes`): FIFO only.
    pub fn priority_changed(&self, is_master: bool, priority: u8) {
        let event = if is_master {
            FifoEvent::MasterPriority
        } else {
            FifoEvent::BackupPriority
        };
        self.write_fifo(event, priority);
    }

    fn write_fifo(&self, event: FifoEvent, priority: u8) {
        let line = match self.subject {
            Subject::Instance => instance_line(&self.name, event, priority),
            Subject::Group => group_line(&self.name, event),
        };
        self.fifos.write_line(&line);
    }

    /// See [`NotifyQueue::shutdown`]: called after the STOP notifies. keepalived waits 1 s
    /// for `notify_stop` before killing it; the deadline is the caller's choice.
    pub async fn shutdown(self, deadline: Instant) {
        if let Some(queue) = self.queue {
            queue.shutdown(deadline).await;
        }
    }
}

/// Shut every notifier down, all bounded by the same `timeout`.
pub async fn shutdown_all(notifiers: impl IntoIterator<Item = Notifier>, timeout: Duration) {
    let deadline = Instant::now() + timeout;
    futures::future::join_all(notifiers.into_iter().map(|n| n.shutdown(deadline))).await;
}
