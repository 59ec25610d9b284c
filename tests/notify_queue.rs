//! notify::queue: keepalived's argv for every script, run in order per instance, never
//! blocking the caller, with hung scripts killed at their timeout.

mod notify_support;

use kad::notify::fifo::FifoSet;
use kad::notify::queue::{shutdown_all, Invocation, Notifier, NotifyQueue, NotifyState, QueueSettings};
use kad::notify::security::NotifyScripts;
use notify_support::*;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(20);

/// A script that appends `<tag> <uid> <gid> <args...>` to `log`.
fn recorder(dir: &TempDir, log: &Path, name: &str) -> String {
    let body = format!("echo \"$(id -u) $(id -g) $*\" >> {}", log.display());
    write_script(&dir.path, name, &body, 0o755)
        .to_string_lossy()
        .into_owned()
}

fn no_fifos() -> Arc<FifoSet> {
    Arc::new(FifoSet::default())
}

#[tokio::test(flavor = "multi_thread")]
async fn transitions_run_keepalived_argv_in_order() {
    let dir = TempDir::new("kadq");
    let out = dir.shared_dir("out");
    let log = out.join("log");
    // Appended to by root and by nobody.
    std::fs::write(&log, "").unwrap();
    std::fs::set_permissions(&log, std::os::unix::fs::PermissionsExt::from_mode(0o666)).unwrap();
    let rec = recorder(&dir, &log, "rec.sh");
    let (uid, gid) = nobody();

    let scripts = NotifyScripts {
        master: Some(runnable(&[&rec, "master-only"], Some("nobody"))),
        backup: Some(runnable(&[&rec, "backup", "two words"], None)),
        fault: Some(runnable(&[&rec, "fault"], None)),
        stop: Some(runnable(&[&rec, "stop"], Some("nobody"))),
        generic: Some(runnable(&[&rec, "extra1"], None)),
        ..NotifyScripts::default()
    };
    let notifier = Notifier::instance("VI_1", scripts, no_fifos(), QueueSettings::default());
    notifier.state_changed(NotifyState::Backup, 100);
    notifier.state_changed(NotifyState::Master, 100);
    notifier.state_changed(NotifyState::Fault, 90);
    notifier.state_changed(NotifyState::Backup, 100);
    notifier.state_changed(NotifyState::Stop, 100);
    shutdown_all([notifier], LIMIT).await;

    let n = format!("{uid} {gid}");
    let expected = [
        "0 0 backup two words".to_string(),
        "0 0 extra1 INSTANCE VI_1 BACKUP 100".into(),
        format!("{n} master-only"),
        "0 0 extra1 INSTANCE VI_1 MASTER 100".into(),
        "0 0 fault".into(),
        "0 0 extra1 INSTANCE VI_1 FAULT 90".into(),
        "0 0 backup two words".into(),
        "0 0 extra1 INSTANCE VI_1 BACKUP 100".into(),
        format!("{n} stop"),
        "0 0 extra1 INSTANCE VI_1 STOP 100".into(),
    ];
    assert_eq!(read_lines(&log), expected);
}

#[tokio::test(flavor = "multi_thread")]
async fn groups_report_priority_zero_and_have_no_deleted_state() {
    let dir = TempDir::new("kadq");
    let log = dir.join("log");
    let rec = recorder(&dir, &log, "rec.sh");
    let scripts = NotifyScripts {
        master: Some(runnable(&[&rec, "group-master"], None)),
        generic: Some(runnable(&[&rec], None)),
        ..NotifyScripts::default()
    };
    let notifier = Notifier::group("G1", scripts, no_fifos(), QueueSettings::default());
    notifier.state_changed(NotifyState::Master, 250);
    notifier.state_changed(NotifyState::Deleted, 250);
    notifier.state_changed(NotifyState::Stop, 250);
    shutdown_all([notifier], LIMIT).await;
    assert_eq!(
        read_lines(&log),
        ["0 0 group-master", "0 0 GROUP G1 MASTER 0", "0 0 GROUP G1 STOP 0"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn deleted_is_reported_as_fault_unless_notify_deleted() {
    let dir = TempDir::new("kadq");
    let log = dir.join("log");
    let rec = recorder(&dir, &log, "rec.sh");
    let scripts = |notify_deleted: bool| NotifyScripts {
        fault: Some(runnable(&[&rec, "fault"], None)),
        deleted: notify_deleted.then(|| runnable(&[&rec, "deleted"], None)),
        generic: Some(runnable(&[&rec], None)),
        notify_deleted,
        ..NotifyScripts::default()
    };
    let legacy = Notifier::instance("OLD", scripts(false), no_fifos(), QueueSettings::default());
    legacy.state_changed(NotifyState::Deleted, 100);
    shutdown_all([legacy], LIMIT).await;
    let modern = Notifier::instance("NEW", scripts(true), no_fifos(), QueueSettings::default());
    modern.state_changed(NotifyState::Deleted, 100);
    shutdown_all([modern], LIMIT).await;
    assert_eq!(
        read_lines(&log),
        [
            "0 0 fault",
            "0 0 INSTANCE OLD FAULT 100",
            "0 0 deleted",
            "0 0 INSTANCE NEW DELETED 100"
        ]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn slow_script_does_not_delay_submit_and_successors_keep_order() {
    let dir = TempDir::new("kadq");
    let log = dir.join("log");
    let slow = write_script(
        &dir.path,
        "slow.sh",
        &format!(
            "echo slow-start >> {l}; sleep 5; echo slow-end >> {l}",
            l = log.display()
        ),
        0o755,
    );
    let rec = recorder(&dir, &log, "rec.sh");
    let scripts = NotifyScripts {
        backup: Some(runnable(&[slow.to_str().unwrap()], None)),
        master: Some(runnable(&[&rec, "master"], None)),
        ..NotifyScripts::default()
    };
    let notifier = Notifier::instance("VI_SLOW", scripts, no_fifos(), QueueSettings::default());
    notifier.state_changed(NotifyState::Backup, 100);
    notifier.state_changed(NotifyState::Master, 100);
    // Both submits returned while the slow script cannot have finished yet.
    assert!(!read_lines(&log).contains(&"slow-end".to_string()));
    assert!(eventually(LIMIT, || read_lines(&log).len() == 3).await);
    assert_eq!(read_lines(&log), ["slow-start", "slow-end", "0 0 master"]);
    shutdown_all([notifier], LIMIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn instances_do_not_wait_for_each_other() {
    let dir = TempDir::new("kadq");
    let log = dir.join("log");
    let slow = write_script(
        &dir.path,
        "slow.sh",
        &format!("echo a-start >> {l}; sleep 3; echo a-end >> {l}", l = log.display()),
        0o755,
    );
    let quick = write_script(&dir.path, "quick.sh", &format!("echo b >> {}", log.display()), 0o755);
    let a = Notifier::instance(
        "A",
        NotifyScripts {
            master: Some(runnable(&[slow.to_str().unwrap()], None)),
            ..NotifyScripts::default()
        },
        no_fifos(),
        QueueSettings::default(),
    );
    let b = Notifier::instance(
        "B",
        NotifyScripts {
            master: Some(runnable(&[quick.to_str().unwrap()], None)),
            ..NotifyScripts::default()
        },
        no_fifos(),
        QueueSettings::default(),
    );
    a.state_changed(NotifyState::Master, 100);
    assert!(eventually(LIMIT, || read_lines(&log).contains(&"a-start".to_string())).await);
    b.state_changed(NotifyState::Master, 100);
    assert!(eventually(LIMIT, || read_lines(&log).contains(&"b".to_string())).await);
    assert!(
        !read_lines(&log).contains(&"a-end".to_string()),
        "B waited for A: {:?}",
        read_lines(&log)
    );
    shutdown_all([a, b], LIMIT).await;
    assert_eq!(read_lines(&log), ["a-start", "b", "a-end"]);
}

#[tokio::test(flavor = "multi_thread")]
async fn hung_script_is_killed_at_its_timeout_and_the_next_runs() {
    let dir = TempDir::new("kadq");
    let log = dir.join("log");
    let pids = dir.join("pids");
    let hung = write_script(
        &dir.path,
        "hung.sh",
        &format!(
            "trap '' TERM\nsleep 1000 &\necho $! $$ > {}\nwhile :; do sleep 1; done",
            pids.display()
        ),
        0o755,
    );
    let rec = recorder(&dir, &log, "rec.sh");
    let settings = QueueSettings {
        script_timeout: Duration::from_millis(500),
        kill_grace: Duration::from_millis(300),
    };
    let queue = NotifyQueue::spawn("hung", settings);
    queue.submit(Invocation {
        script: runnable(&[hung.to_str().unwrap()], None),
        extra_args: vec![],
    });
    queue.submit(Invocation {
        script: runnable(&[&rec, "after"], None),
        extra_args: vec![],
    });
    assert!(eventually(LIMIT, || read_lines(&log) == ["0 0 after"]).await);
    let hung_pids: Vec<i32> = read_lines(&pids)[0].split(' ').map(|p| p.parse().unwrap()).collect();
    assert!(
        eventually(LIMIT, || hung_pids.iter().all(|p| !alive(*p))).await,
        "left running: {hung_pids:?}"
    );
    queue.shutdown(tokio::time::Instant::now() + LIMIT).await;
}

#[tokio::test(flavor = "multi_thread")]
async fn shutdown_is_bounded_and_kills_what_still_runs() {
    let dir = TempDir::new("kadq");
    let log = dir.join("log");
    let pidfile = dir.join("pid");
    let stuck = write_script(
        &dir.path,
        "stuck.sh",
        &format!("echo $$ > {}; exec sleep 1000", pidfile.display()),
        0o755,
    );
    let rec = recorder(&dir, &log, "rec.sh");
    let queue = NotifyQueue::spawn("stop", QueueSettings::default());
    queue.submit(Invocation {
        script: runnable(&[stuck.to_str().unwrap()], None),
        extra_args: vec![],
    });
    queue.submit(Invocation {
        script: runnable(&[&rec, "never"], None),
        extra_args: vec![],
    });
    assert!(eventually(LIMIT, || pidfile.exists() && !read_lines(&pidfile).is_empty()).await);
    let pid: i32 = read_lines(&pidfile)[0].parse().unwrap();
    // Far below the 30 s script timeout: the shutdown deadline is what ends the script.
    tokio::time::timeout(
        LIMIT,
        queue.shutdown(tokio::time::Instant::now() + Duration::from_millis(500)),
    )
    .await
    .expect("shutdown did not finish");
    assert!(!alive(pid));
    assert!(read_lines(&log).is_empty(), "a script queued behind the deadline ran");
}

#[tokio::test(flavor = "multi_thread")]
async fn missing_script_is_skipped_and_the_queue_goes_on() {
    let dir = TempDir::new("kadq");
    let log = dir.join("log");
    let doomed = write_script(&dir.path, "doomed.sh", "exit 0", 0o755);
    let rec = recorder(&dir, &log, "rec.sh");
    let doomed_script = runnable(&[doomed.to_str().unwrap()], None);
    std::fs::remove_file(&doomed).unwrap();
    let queue = NotifyQueue::spawn("missing", QueueSettings::default());
    queue.submit(Invocation {
        script: doomed_script,
        extra_args: vec![],
    });
    queue.submit(Invocation {
        script: runnable(&[&rec, "next"], None),
        extra_args: vec![],
    });
    queue.shutdown(tokio::time::Instant::now() + LIMIT).await;
    assert_eq!(read_lines(&log), ["0 0 next"]);
}
