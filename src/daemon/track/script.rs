//! `vrrp_script` runner (keepalived/vrrp/vrrp_scheduler.c `vrrp_script_thread`,
//! `vrrp_script_child_thread`): run every `interval`, kill at `timeout`, count rise/fall,
//! report OK/FAILED transitions. What a transition does to priorities is the core's job.

use super::{TrackerStatus, TrackerUpdate};
use crate::config::model::VrrpScript;
use crate::notify::exec::{self, Script, ScriptExit};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::{mpsc, watch};
use tokio::time::Instant;

/// keepalived's `result` counter. It runs from 0 to rise+fall-1; the script is OK from
/// `rise` upwards. Starting at rise-1 makes one success enough, and the first result is
/// always reported; `init_fail` starts at 0 (failed) and reports only a recovery.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RiseFall {
    rise: u32,
    fall: u32,
    result: u32,
    /// No result yet and not `init_fail`: the first failure is reported too.
    first: bool,
}

impl RiseFall {
    pub fn new(rise: u32, fall: u32, init_fail: bool) -> RiseFall {
        let (rise, fall) = (rise.max(1), fall.max(1));
        RiseFall {
            rise,
            fall,
            result: if init_fail { 0 } else { rise - 1 },
            first: !init_fail,
        }
    }

    /// Count one run; `Some(ok)` when the script's state changes.
    pub fn record(&mut self, success: bool) -> Option<bool> {
        let top = self.rise + self.fall - 1;
        let first = std::mem::replace(&mut self.first, false);
        if success {
            if self.result < self.rise - 1 {
                self.result += 1;
                None
            } else if self.result != top {
                let became_ok = self.result < self.rise;
                self.result = top;
                became_ok.then_some(true)
            } else {
                None
            }
        } else if self.result > self.rise {
            self.result -= 1;
            None
        } else {
            let report = self.result == self.rise || first;
            self.result = 0;
            report.then_some(false)
        }
    }
}

/// How one run ended, in keepalived's terms.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum RunOutcome {
    Exited(i32),
    Signalled(i32),
    TimedOut,
    NotStarted,
}

/// Run `def` until `stop` turns true; a run in progress is then killed.
pub(super) async fn run(
    def: VrrpScript,
    script: Arc<Script>,
    kill_grace: Duration,
    tx: mpsc::Sender<TrackerUpdate>,
    mut stop: watch::Receiver<bool>,
) {
    let interval = if def.interval.is_zero() {
        Duration::from_secs(1)
    } else {
        def.interval
    };
    let timeout = def.timeout.filter(|t| !t.is_zero()).unwrap_or(interval);
    let mut counter = RiseFall::new(def.rise, def.fall, def.init_fail);
    let mut last_status = 0;
    let mut next_run = Instant::now();
    loop {
        tokio::select! {
            () = tokio::time::sleep_until(next_run) => {}
            () = super::stopped(&mut stop) => return,
        }
        let Some(outcome) = run_once(&script, timeout, kill_grace, &mut stop).await else {
            return;
        };
        let (success, kind, reason) = match outcome {
            RunOutcome::Exited(status) => {
                if status != last_status {
                    tracing::info!("Script `{}` now returning {status}", def.name);
                }
                last_status = status;
                if status == 0 {
                    (true, "succeeded", None)
                } else {
                    (false, "failed", Some(format!("exited with status {status}")))
                }
            }
            RunOutcome::Signalled(sig) => (false, "failed", Some(format!("due to signal {sig}"))),
            RunOutcome::TimedOut => (false, "timed_out", None),
            RunOutcome::NotStarted => (false, "failed", Some("could not be started".to_string())),
        };
        if let Some(ok) = counter.record(success) {
            match reason {
                Some(reason) if !ok => tracing::info!("VRRP_Script({}) {kind} ({reason})", def.name),
                _ => tracing::info!("VRRP_Script({}) {kind}", def.name),
            }
            let status = if ok {
                TrackerStatus::ScriptOk
            } else {
                TrackerStatus::ScriptFailed
            };
            if tx
                .send(TrackerUpdate {
                    name: def.name.clone(),
                    status,
                })
                .await
                .is_err()
            {
                return;
            }
        }
        next_run += interval;
        let now = Instant::now();
        if next_run <= now {
            // keepalived does not start a run while the previous one is still going.
            tracing::info!(
                "Track script {} is already running, expect idle - skipping run",
                def.name
            );
            let behind = (now - next_run).as_nanos() / interval.as_nanos().max(1) + 1;
            next_run += interval * u32::try_from(behind).unwrap_or(u32::MAX);
        }
    }
}

/// One run with keepalived's timeout handling: SIGTERM to the group at `timeout`, SIGKILL
/// after `kill_grace`. `None` if `stop` was raised meanwhile (the run is killed).
async fn run_once(
    script: &Script,
    timeout: Duration,
    kill_grace: Duration,
    stop: &mut watch::Receiver<bool>,
) -> Option<RunOutcome> {
    let mut running = match exec::spawn(script, &[]) {
        Ok(running) => running,
        Err(e) => {
            tracing::warn!("Error exec-ing command '{}': {e}", script.program.display());
            return Some(RunOutcome::NotStarted);
        }
    };
    let exit = tokio::select! {
        exit = running.wait() => exit,
        () = tokio::time::sleep(timeout) => {
            let exit = running.terminate(kill_grace).await;
            // A script that catches SIGTERM and exits is judged by its exit status.
            return Some(match exit {
                ScriptExit::Signal(sig) if sig == libc::SIGTERM || sig == libc::SIGKILL => RunOutcome::TimedOut,
                other => outcome_of(other),
            });
        }
        () = super::stopped(stop) => {
            running.terminate(kill_grace).await;
            return None;
        }
    };
    Some(outcome_of(exit))
}

fn outcome_of(exit: ScriptExit) -> RunOutcome {
    match exit {
        ScriptExit::Code(code) => RunOutcome::Exited(code),
        ScriptExit::Signal(sig) => RunOutcome::Signalled(sig),
        ScriptExit::Lost => RunOutcome::NotStarted,
    }
}

#[cfg(test)]
mod tests {
    use super::RiseFall;

    fn run(counter: &mut RiseFall, results: &[bool]) -> Vec<Option<bool>> {
        results.iter().map(|r| counter.record(*r)).collect()
    }

    #[test]
    fn first_result_is_reported_either_way() {
        assert_eq!(run(&mut RiseFall::new(3, 3, false), &[true]), [Some(true)]);
        assert_eq!(run(&mut RiseFall::new(3, 3, false), &[false]), [Some(false)]);
    }

    #[test]
    fn rise_successes_needed_after_a_failure() {
        let mut c = RiseFall::new(2, 1, false);
        assert_eq!(
            run(&mut c, &[false, true, true, true]),
            [Some(false), None, Some(true), None]
        );
    }

    #[test]
    fn fall_failures_needed_after_success() {
        let mut c = RiseFall::new(1, 3, false);
        assert_eq!(
            run(&mut c, &[true, false, false, false, false]),
            [Some(true), None, None, Some(false), None]
        );
        // A success in between restores the full margin.
        let mut c = RiseFall::new(1, 2, false);
        assert_eq!(
            run(&mut c, &[true, false, true, false, false]),
            [Some(true), None, None, None, Some(false)]
        );
    }

    #[test]
    fn init_fail_reports_only_recovery() {
        let mut c = RiseFall::new(2, 2, true);
        assert_eq!(
            run(&mut c, &[false, false, true, true, true]),
            [None, None, None, Some(true), None]
        );
    }

    #[test]
    fn zero_rise_or_fall_behaves_as_one() {
        let mut c = RiseFall::new(0, 0, false);
        assert_eq!(run(&mut c, &[true, false, true]), [Some(true), Some(false), Some(true)]);
    }
}
