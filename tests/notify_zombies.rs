//! No zombies: every child kad starts is reaped, even when the caller forgets its handle.
//! Alone in its binary, so that no other test's children are counted.

mod notify_support;

use kad::config::model::{Notifies, VrrpScript};
use kad::daemon::track::Trackers;
use kad::notify::exec::spawn;
use kad::notify::fifo::FifoSet;
use kad::notify::queue::{shutdown_all, Notifier, NotifyState, QueueSettings};
use kad::notify::security::{vet_config, FifoPlan, NotifyScripts};
use notify_support::*;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

/// Pids of our children that have exited but were not reaped.
fn zombie_children() -> Vec<i32> {
    let me = std::process::id().to_string();
    let mut zombies = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<i32>() else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(entry.path().join("stat")) else {
            continue;
        };
        let fields: Vec<&str> = stat
            .rsplit_once(')')
            .map(|(_, rest)| rest.split_whitespace().collect())
            .unwrap_or_default();
        if fields.first() == Some(&"Z") && fields.get(1) == Some(&me.as_str()) {
            zombies.push(pid);
        }
    }
    zombies
}

#[tokio::test(flavor = "multi_thread")]
async fn every_child_is_reaped() {
    // The detector itself: an unreaped std child shows up, then goes once waited for.
    let mut unreaped = std::process::Command::new("/bin/true").spawn().unwrap();
    let pid = unreaped.id() as i32;
    assert!(eventually(LIMIT, || zombie_children().contains(&pid)).await);
    unreaped.wait().unwrap();
    assert!(!zombie_children().contains(&pid));

    let dir = TempDir::new("kadz");
    let out = dir.join("ran");
    let rec = write_script(&dir.path, "rec.sh", &format!("echo x >> {}", out.display()), 0o755);
    let rec = rec.to_str().unwrap();
    let crash = write_script(&dir.path, "crash.sh", "kill -KILL $$", 0o755);

    // Handles dropped at once.
    for _ in 0..20 {
        drop(spawn(&runnable(&[rec], None), &[]).unwrap());
        drop(spawn(&runnable(&[crash.to_str().unwrap()], None), &[]).unwrap());
    }

    // The notify queue, including a script killed at its timeout.
    let hang = write_script(&dir.path, "hang.sh", "exec sleep 1000", 0o755);
    let scripts = NotifyScripts {
        master: Some(runnable(&[rec], None)),
        backup: Some(runnable(&[hang.to_str().unwrap()], None)),
        generic: Some(runnable(&[rec], None)),
        ..NotifyScripts::default()
    };
    let settings = QueueSettings {
        script_timeout: Duration::from_millis(200),
        kill_grace: Duration::from_millis(200),
    };
    let notifier = Notifier::instance("VI_Z", scripts, Arc::new(FifoSet::default()), settings);
    for state in [NotifyState::Master, NotifyState::Backup, NotifyState::Master] {
        notifier.state_changed(state, 100);
    }
    shutdown_all([notifier], LIMIT).await;

    // Trackers, with a timed-out script, and a FIFO script.
    let mut config = kad::config::model::Config::default();
    config.global.script_user = Some(("root".into(), None));
    config.scripts.push(VrrpScript {
        interval: Duration::from_millis(50),
        ..vrrp_script("fast", command(&[rec], None, None))
    });
    config.scripts.push(VrrpScript {
        interval: Duration::from_millis(100),
        timeout: Some(Duration::from_millis(50)),
        ..vrrp_script("slow", command(&[hang.to_str().unwrap()], None, None))
    });
    config
        .instances
        .push(instance("VI_Z", &["fast", "slow"], &[], Notifies::default()));
    let (trackers, mut rx) = Trackers::start(&config, &vet_config(&config));
    for _ in 0..2 {
        tokio::time::timeout(LIMIT, rx.recv()).await.unwrap().unwrap();
    }
    let fifo_plan = FifoPlan {
        label: "",
        path: dir.join("z.fifo"),
        owner: kad::notify::exec::ScriptUser::current(),
        script: Some(runnable(&[hang.to_str().unwrap()], None)),
    };
    let fifos = FifoSet::open([&fifo_plan]);
    fifos.close(Duration::from_millis(200)).await;
    trackers.stop().await;

    // 20 dropped runs, 5 queued runs (MASTER, BACKUP's generic, MASTER again, each with
    // its generic), and at least one of the fast tracker.
    assert!(
        eventually(LIMIT, || read_lines(&out).len() >= 26).await,
        "only {} runs",
        read_lines(&out).len()
    );
    assert!(
        eventually(LIMIT, || zombie_children().is_empty()).await,
        "zombies: {:?}",
        zombie_children()
    );
}
