//! daemon::track: vrrp_script rise/fall/timeout and track_file values via inotify, as a
//! stream of TrackerUpdates.

mod notify_support;

use kad::config::model::{Config, GlobalDefs, Notifies, TrackFileDef, VrrpScript};
use kad::daemon::track::file::init_track_file;
use kad::daemon::track::{TrackerStatus, TrackerUpdate, Trackers};
use kad::notify::security::vet_config;
use notify_support::*;
use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::Duration;
use tokio::sync::mpsc::Receiver;

const LIMIT: Duration = Duration::from_secs(20);

async fn next(rx: &mut Receiver<TrackerUpdate>) -> TrackerUpdate {
    tokio::time::timeout(LIMIT, rx.recv())
        .await
        .expect("no tracker update in time")
        .expect("trackers gone")
}

fn update(name: &str, status: TrackerStatus) -> TrackerUpdate {
    TrackerUpdate {
        name: name.to_string(),
        status,
    }
}

fn script_def(name: &str, argv: &[&str], interval_ms: u64) -> VrrpScript {
    VrrpScript {
        interval: Duration::from_millis(interval_ms),
        ..vrrp_script(name, command(argv, None, None))
    }
}

fn config(
    scripts: Vec<VrrpScript>,
    files: Vec<TrackFileDef>,
    tracked_scripts: &[&str],
    tracked_files: &[&str],
) -> Config {
    let mut config = Config::default();
    config.global.script_user = Some(("root".into(), None));
    config.scripts = scripts;
    config.track_files = files;
    config
        .instances
        .push(instance("V1", tracked_scripts, tracked_files, Notifies::default()));
    config
}

fn file_def(name: &str, path: &Path) -> TrackFileDef {
    TrackFileDef {
        name: name.to_string(),
        span: Default::default(),
        file: path.to_string_lossy().into_owned(),
        weight: 1,
        weight_reverse: false,
        init_file: None,
    }
}

fn start(config: &Config) -> (Trackers, Receiver<TrackerUpdate>) {
    Trackers::start(config, &vet_config(config))
}

#[tokio::test(flavor = "multi_thread")]
async fn rise_and_fall_transitions_are_reported() {
    let dir = TempDir::new("kadt");
    let ctl = dir.join("ctl");
    fs::write(&ctl, "0").unwrap();
    let script = write_script(&dir.path, "chk.sh", &format!("exit $(cat {})", ctl.display()), 0o755);
    let def = VrrpScript {
        rise: 2,
        fall: 2,
        ..script_def("chk", &[script.to_str().unwrap()], 50)
    };
    let config = config(vec![def], vec![], &["chk"], &[]);
    let (trackers, mut rx) = start(&config);

    assert_eq!(
        next(&mut rx).await,
        update("chk", TrackerStatus::ScriptOk),
        "one success is enough at start"
    );
    fs::write(&ctl, "1").unwrap();
    assert_eq!(next(&mut rx).await, update("chk", TrackerStatus::ScriptFailed));
    fs::write(&ctl, "0").unwrap();
    assert_eq!(next(&mut rx).await, update("chk", TrackerStatus::ScriptOk));
    trackers.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn init_fail_starts_failed_and_reports_recovery() {
    let dir = TempDir::new("kadt");
    let script = write_script(&dir.path, "ok.sh", "exit 0", 0o755);
    let def = VrrpScript {
        init_fail: true,
        rise: 2,
        ..script_def("chk", &[script.to_str().unwrap()], 50)
    };
    let (trackers, mut rx) = start(&config(vec![def], vec![], &["chk"], &[]));
    assert_eq!(next(&mut rx).await, update("chk", TrackerStatus::ScriptOk));
    trackers.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn timed_out_script_fails_and_its_process_group_is_killed() {
    let dir = TempDir::new("kadt");
    let pids = dir.join("pids");
    let body = format!("sleep 1000 &\necho $! $$ >> {}\nwait", pids.display());
    let script = write_script(&dir.path, "hang.sh", &body, 0o755);
    let def = VrrpScript {
        timeout: Some(Duration::from_millis(200)),
        ..script_def("hang", &[script.to_str().unwrap()], 400)
    };
    let (trackers, mut rx) = start(&config(vec![def], vec![], &["hang"], &[]));
    assert_eq!(next(&mut rx).await, update("hang", TrackerStatus::ScriptFailed));
    let first_run: Vec<i32> = read_lines(&pids)[0].split(' ').map(|p| p.parse().unwrap()).collect();
    assert!(
        eventually(LIMIT, || first_run.iter().all(|p| !alive(*p))).await,
        "left running: {first_run:?}"
    );
    trackers.stop().await;
}

#[tokio::test(flavor = "multi_thread")]
async fn only_tracked_and_vetted_scripts_run() {
    let dir = TempDir::new("kadt");
    let out = dir.join("out");
    let used = write_script(&dir.path, "used.sh", &format!("echo used >> {}", out.display()), 0o755);
    let unused = write_script(
        &dir.path,
        "unused.sh",
        &format!("echo unused >> {}", out.display()),
        0o755,
    );
    let ww = dir.subdir("ww", 0o777, None);
    let insecure = write_script(
        &ww,
        "insecure.sh",
        &format!("echo insecure >> {}", out.display()),
        0o755,
    );
    let mut config = config(
        vec![
            script_def("used", &[used.to_str().unwrap()], 50),
            script_def("unused", &[unused.to_str().unwrap()], 50),
            script_def("insecure", &[insecure.to_str().unwrap()], 50),
        ],
        vec![],
        &["used", "insecure"],
        &[],
    );
    config.global.enable_script_security = true;
    let (trackers, mut rx) = start(&config);
    assert_eq!(next(&mut rx).await, update("used", TrackerStatus::ScriptOk));
    assert!(eventually(LIMIT, || read_lines(&out).len() >= 3).await);
    trackers.stop().await;
    assert!(read_lines(&out).iter().all(|l| l == "used"), "{:?}", read_lines(&out));
}

#[tokio::test(flavor = "multi_thread")]
async fn stop_kills_a_running_script() {
    let dir = TempDir::new("kadt");
    let pidfile = dir.join("pid");
    let script = write_script(
        &dir.path,
        "long.sh",
        &format!("echo $$ > {}; exec sleep 1000", pidfile.display()),
        0o755,
    );
    let def = VrrpScript {
        timeout: Some(Duration::from_secs(100)),
        ..script_def("long", &[script.to_str().unwrap()], 1000)
    };
    let (trackers, _rx) = start(&config(vec![def], vec![], &["long"], &[]));
    assert!(eventually(LIMIT, || !read_lines(&pidfile).is_empty()).await);
    let pid: i32 = read_lines(&pidfile)[0].parse().unwrap();
    tokio::time::timeout(LIMIT, trackers.stop()).await.expect("stop hung");
    assert!(!alive(pid));
}

#[tokio::test(flavor = "multi_thread")]
async fn track_file_values_follow_inotify() {
    let dir = TempDir::new("kadt");
    let path = dir.join("weight");
    fs::write(&path, "5\n").unwrap();
    let absent = dir.join("later");
    let config = config(
        vec![],
        vec![
            file_def("tf", &path),
            file_def("later", &absent),
            file_def("nodir", &dir.join("no/such/dir/f")),
            file_def("untracked", &path),
        ],
        &[],
        &["tf", "later", "nodir"],
    );
    let (trackers, mut rx) = start(&config);
    // Current values first: a missing file counts as 0; an unusable directory is dropped.
    assert_eq!(next(&mut rx).await, update("tf", TrackerStatus::FileValue(5)));
    assert_eq!(next(&mut rx).await, update("later", TrackerStatus::FileValue(0)));

    fs::write(&path, "7").unwrap();
    assert_eq!(next(&mut rx).await, update("tf", TrackerStatus::FileValue(7)));
    let tmp = dir.join("weight.tmp");
    fs::write(&tmp, "0x10").unwrap();
    fs::rename(&tmp, &path).unwrap();
    assert_eq!(next(&mut rx).await, update("tf", TrackerStatus::FileValue(16)));
    fs::remove_file(&path).unwrap();
    assert_eq!(next(&mut rx).await, update("tf", TrackerStatus::FileValue(0)));
    fs::write(&path, "-3").unwrap();
    assert_eq!(next(&mut rx).await, update("tf", TrackerStatus::FileValue(-3)));
    // A number out of range is ignored: -3 stays. Events come in order, so once `later`
    // is reported the bad number has been read without an update for `tf`.
    fs::write(&path, "99999999999").unwrap();
    fs::write(&absent, "12").unwrap();
    assert_eq!(next(&mut rx).await, update("later", TrackerStatus::FileValue(12)));
    // Garbage reads as 0.
    fs::write(&path, "garbage").unwrap();
    assert_eq!(next(&mut rx).await, update("tf", TrackerStatus::FileValue(0)));
    fs::write(&path, "4").unwrap();
    assert_eq!(next(&mut rx).await, update("tf", TrackerStatus::FileValue(4)));
    trackers.stop().await;
}

#[test]
fn init_file_creates_or_overwrites_as_configured() {
    let dir = TempDir::new("kadt");
    let path = dir.join("init");
    let global = GlobalDefs::default();
    let def = |init| TrackFileDef {
        init_file: Some(init),
        ..file_def("tf", &path)
    };

    assert!(init_track_file(&def((3, false)), &global, false, true).is_none());
    assert!(!path.exists(), "-t writes nothing");
    assert!(init_track_file(&def((3, false)), &global, false, false).is_none());
    assert_eq!(fs::read_to_string(&path).unwrap(), "3\n");
    assert_eq!(
        fs::metadata(&path).unwrap().permissions().mode() & 0o777,
        0o600,
        "keepalived's default umask"
    );
    assert!(init_track_file(&def((4, false)), &global, false, false).is_none());
    assert_eq!(fs::read_to_string(&path).unwrap(), "3\n", "an existing file is kept");
    assert!(init_track_file(&def((5, true)), &global, true, false).is_none());
    assert_eq!(fs::read_to_string(&path).unwrap(), "3\n", "not overwritten on reload");
    assert!(init_track_file(&def((5, true)), &global, false, false).is_none());
    assert_eq!(fs::read_to_string(&path).unwrap(), "5\n");

    let not_regular = TrackFileDef {
        init_file: Some((1, true)),
        ..file_def("dir", &dir.path)
    };
    let diag = init_track_file(&not_regular, &global, false, true).unwrap();
    assert_eq!(
        diag.message,
        "Cannot initialise track file dir - it is not a regular file"
    );
    let unwritable = TrackFileDef {
        init_file: Some((1, false)),
        ..file_def("nodir", &dir.join("no/such/f"))
    };
    assert_eq!(
        init_track_file(&unwritable, &global, false, false).unwrap().message,
        "Unable to initialise track file nodir"
    );
}
