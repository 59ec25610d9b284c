//! Trackers that feed the protocol core: `vrrp_script` results and `track_file` values,
//! delivered as a stream of [`TrackerUpdate`]s. Interface tracking comes from netlink and
//! lives elsewhere. Only trackers that an instance or sync group tracks are run (keepalived
//! drops the others, with "Warning - script NAME is not used").

pub mod file;
pub mod script;

use crate::config::model::Config;
use crate::notify::security::VettedConfig;
use std::collections::BTreeSet;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinSet;

/// keepalived's pause between SIGTERM and SIGKILL for a `vrrp_script` that timed out.
pub const SCRIPT_KILL_GRACE: Duration = Duration::from_secs(2);

/// How many updates may wait for the core before trackers pause.
const UPDATE_BACKLOG: usize = 64;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TrackerStatus {
    /// A `vrrp_script` became OK (its first success, or `rise` successes after failing).
    /// Before its first report a script is pending, or failed if it has `init_fail`.
    ScriptOk,
    /// A `vrrp_script` failed (its first failure, or `fall` failures after being OK).
    ScriptFailed,
    /// A `track_file`'s value: first its value at start, then each change.
    FileValue(i64),
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TrackerUpdate {
    /// The `vrrp_script` or `track_file` name.
    pub name: String,
    pub status: TrackerStatus,
}

/// The names of the `vrrp_script`s and `track_file`s something tracks.
pub fn tracked_names(config: &Config) -> (BTreeSet<String>, BTreeSet<String>) {
    let mut scripts = BTreeSet::new();
    let mut files = BTreeSet::new();
    let refs = config
        .instances
        .iter()
        .map(|i| (&i.track_scripts, &i.track_files))
        .chain(config.sync_groups.iter().map(|g| (&g.track_scripts, &g.track_files)));
    for (track_scripts, track_files) in refs {
        scripts.extend(track_scripts.iter().map(|t| t.name.clone()));
        files.extend(track_files.iter().map(|t| t.name.clone()));
    }
    (scripts, files)
}

/// Resolves once the stop flag is raised or its sender is gone.
async fn stopped(stop: &mut watch::Receiver<bool>) {
    let _ = stop.wait_for(|s| *s).await;
}

/// The running trackers. Dropping this stops them too, but without waiting for the
/// scripts being killed; prefer [`Trackers::stop`].
#[derive(Debug)]
pub struct Trackers {
    stop: watch::Sender<bool>,
    tasks: JoinSet<()>,
}

impl Trackers {
    /// Start every tracked `vrrp_script` that passed vetting and every tracked
    /// `track_file`. Needs a tokio runtime.
    pub fn start(config: &Config, vetted: &VettedConfig) -> (Trackers, mpsc::Receiver<TrackerUpdate>) {
        let (tx, rx) = mpsc::channel(UPDATE_BACKLOG);
        let (stop, stop_rx) = watch::channel(false);
        let mut tasks = JoinSet::new();
        let (tracked_scripts, tracked_files) = tracked_names(config);

        for def in &config.scripts {
            if !tracked_scripts.contains(&def.name) {
                tracing::info!("Warning - script {} is not used", def.name);
                continue;
            }
            // A script that failed vetting was reported then; keepalived stops tracking it.
            if let Some(script) = vetted.vrrp_scripts.get(&def.name) {
                tasks.spawn(script::run(
                    def.clone(),
                    script.clone(),
                    SCRIPT_KILL_GRACE,
                    tx.clone(),
                    stop_rx.clone(),
                ));
            }
        }

        let files = config
            .track_files
            .iter()
            .filter(|f| tracked_files.contains(&f.name))
            .cloned()
            .collect();
        if let Some((inotify, watched)) = file::prepare(files) {
            tasks.spawn(file::run(inotify, watched, tx, stop_rx));
        }
        (Trackers { stop, tasks }, rx)
    }

    /// Stop all trackers, killing scripts that are running, and wait for them.
    pub async fn stop(mut self) {
        let _ = self.stop.send(true);
        while let Some(result) = self.tasks.join_next().await {
            if let Err(e) = result {
                tracing::warn!("tracker task failed: {e}");
            }
        }
    }
}
