//! Trackers that feed the protocol core: `vrrp_script` results and `track_file` values,
//! delivered as a stream of [`TrackerUpdate`]s. Interface tracking comes from netlink and
//! lives elsewhere. Only trackers that an instance or sync group tracks are run (keepalived
//! drops the others, with "Warning - script NAME is not used").

pub mod file;
pub mod script;

use crate::config::model::{Config, TrackFileDef};
use crate::notify::exec::Script;
use crate::notify::security::VettedConfig;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::task::JoinHandle;

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

/// What makes a `vrrp_script` runner the same across a reload: everything that changes
/// how or when it runs (the weight is the core's business).
#[derive(Debug, Clone, PartialEq)]
struct ScriptKey {
    script: Arc<Script>,
    interval: Duration,
    timeout: Option<Duration>,
    rise: u32,
    fall: u32,
    init_fail: bool,
}

/// One running tracker task and its stop flag.
#[derive(Debug)]
struct Runner<K> {
    key: K,
    stop: watch::Sender<bool>,
    task: JoinHandle<()>,
}

impl<K> Runner<K> {
    fn spawn<F>(key: K, body: impl FnOnce(watch::Receiver<bool>) -> F) -> Runner<K>
    where
        F: std::future::Future<Output = ()> + Send + 'static,
    {
        let (stop, stop_rx) = watch::channel(false);
        Runner { key, stop, task: tokio::spawn(body(stop_rx)) }
    }

    /// The task kills a script it is running and ends by itself.
    fn signal_stop(&self) {
        let _ = self.stop.send(true);
    }
}

/// The running trackers. Dropping this stops them too, but without waiting for the
/// scripts being killed; prefer [`Trackers::stop`].
#[derive(Debug)]
pub struct Trackers {
    tx: mpsc::Sender<TrackerUpdate>,
    scripts: BTreeMap<String, Runner<ScriptKey>>,
    /// The watched track files, by name and path.
    files: Option<Runner<Vec<(String, String)>>>,
}

impl Trackers {
    /// Start every tracked `vrrp_script` that passed vetting and every tracked
    /// `track_file`. Needs a tokio runtime.
    pub fn start(config: &Config, vetted: &VettedConfig) -> (Trackers, mpsc::Receiver<TrackerUpdate>) {
        let (tx, rx) = mpsc::channel(UPDATE_BACKLOG);
        let mut trackers = Trackers { tx, scripts: BTreeMap::new(), files: None };
        trackers.reconfigure(config, vetted);
        (trackers, rx)
    }

    /// A reload: trackers that the new configuration defines as before keep running, so
    /// their rise/fall counts and schedules carry on (keepalived keeps a script's state
    /// too); the others stop and the new ones start. Updates keep coming on the same
    /// receiver.
    pub fn reconfigure(&mut self, config: &Config, vetted: &VettedConfig) {
        let (tracked_scripts, tracked_files) = tracked_names(config);
        let mut wanted = BTreeMap::new();
        for def in &config.scripts {
            if !tracked_scripts.contains(&def.name) {
                tracing::info!("Warning - script {} is not used", def.name);
                continue;
            }
            // A script that failed vetting was reported then; keepalived stops tracking it.
            if let Some(script) = vetted.vrrp_scripts.get(&def.name) {
                wanted.insert(def.name.clone(), (def.clone(), script.clone()));
            }
        }
        let mut running = std::mem::take(&mut self.scripts);
        for (name, (def, script)) in wanted {
            let key = ScriptKey {
                script: script.clone(),
                interval: def.interval,
                timeout: def.timeout,
                rise: def.rise,
                fall: def.fall,
                init_fail: def.init_fail,
            };
            let runner = match running.remove(&name) {
                Some(runner) if runner.key == key => runner,
                previous => {
                    if let Some(old) = previous {
                        old.signal_stop();
                    }
                    let tx = self.tx.clone();
                    Runner::spawn(key, |stop| script::run(def, script, SCRIPT_KILL_GRACE, tx, stop))
                }
            };
            self.scripts.insert(name, runner);
        }
        for gone in running.values() {
            gone.signal_stop();
        }

        let files: Vec<TrackFileDef> =
            config.track_files.iter().filter(|f| tracked_files.contains(&f.name)).cloned().collect();
        let key: Vec<(String, String)> = files.iter().map(|f| (f.name.clone(), f.file.clone())).collect();
        if self.files.as_ref().is_some_and(|r| r.key == key) {
            return;
        }
        if let Some(old) = self.files.take() {
            old.signal_stop();
        }
        if let Some((inotify, watched)) = file::prepare(files) {
            let tx = self.tx.clone();
            self.files = Some(Runner::spawn(key, |stop| file::run(inotify, watched, tx, stop)));
        }
    }

    /// Stop all trackers, killing scripts that are running, and wait for them.
    pub async fn stop(self) {
        let runners: Vec<(watch::Sender<bool>, JoinHandle<()>)> = self
            .scripts
            .into_values()
            .map(|r| (r.stop, r.task))
            .chain(self.files.map(|r| (r.stop, r.task)))
            .collect();
        for (stop, _) in &runners {
            let _ = stop.send(true);
        }
        for (_, task) in runners {
            if let Err(e) = task.await {
                tracing::warn!("tracker task failed: {e}");
            }
        }
    }
}
