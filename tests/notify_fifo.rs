//! notify::fifo: keepalived's line format, never blocking, refusing what is not our FIFO,
//! the FIFO script with the path as last argument, cleanup of what kad created.

mod notify_support;

use kad::notify::exec::ScriptUser;
use kad::notify::fifo::{FifoError, FifoSet, NotifyFifo};
use kad::notify::queue::{shutdown_all, Notifier, NotifyState, QueueSettings};
use kad::notify::security::{FifoPlan, NotifyScripts};
use nix::sys::stat::Mode;
use notify_support::*;
use std::io::{BufRead, BufReader};
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};
use std::sync::mpsc;
use std::sync::Arc;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(10);

fn plan(path: &Path, owner: ScriptUser) -> FifoPlan {
    FifoPlan {
        label: "vrrp_",
        path: path.to_path_buf(),
        owner,
        script: None,
    }
}

fn root() -> ScriptUser {
    ScriptUser::current()
}

/// Read `count` lines from the FIFO in a thread; the receiver gets them.
fn reader(path: PathBuf, count: usize) -> mpsc::Receiver<Vec<String>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let file = std::fs::File::open(path).unwrap();
        let lines: Vec<String> = BufReader::new(file).lines().take(count).map(Result::unwrap).collect();
        let _ = tx.send(lines);
    });
    rx
}

#[tokio::test(flavor = "multi_thread")]
async fn notifier_lines_reach_both_fifos_in_order() {
    let dir = TempDir::new("kadf");
    let (a, b) = (dir.join("notify.fifo"), dir.join("vrrp.fifo"));
    let fifos = Arc::new(FifoSet::open([
        &plan(&a, root()),
        &FifoPlan {
            label: "",
            ..plan(&b, root())
        },
    ]));
    assert!(!fifos.is_empty());
    let (ra, rb) = (reader(a.clone(), 8), reader(b.clone(), 8));

    let instance = Notifier::instance(
        "VI_1",
        NotifyScripts::default(),
        fifos.clone(),
        QueueSettings::default(),
    );
    let group = Notifier::group("G1", NotifyScripts::default(), fifos.clone(), QueueSettings::default());
    group.state_changed(NotifyState::Backup, 0);
    instance.state_changed(NotifyState::Backup, 100);
    instance.state_changed(NotifyState::Master, 100);
    group.state_changed(NotifyState::Master, 0);
    instance.master_rx_lower_pri(100);
    instance.priority_changed(true, 90);
    instance.priority_changed(false, 80);
    instance.state_changed(NotifyState::Deleted, 80);
    shutdown_all([instance, group], LIMIT).await;

    let expected = [
        "GROUP \"G1\" BACKUP 0",
        "INSTANCE \"VI_1\" BACKUP 100",
        "INSTANCE \"VI_1\" MASTER 100",
        "GROUP \"G1\" MASTER 0",
        "INSTANCE \"VI_1\" MASTER_RX_LOWER_PRI 100",
        "INSTANCE \"VI_1\" MASTER_PRIORITY 90",
        "INSTANCE \"VI_1\" BACKUP_PRIORITY 80",
        "INSTANCE \"VI_1\" FAULT 80",
    ];
    assert_eq!(ra.recv_timeout(LIMIT).unwrap(), expected);
    assert_eq!(rb.recv_timeout(LIMIT).unwrap(), expected);
    fifos.close(Duration::from_secs(1)).await;
    assert!(!a.exists() && !b.exists(), "FIFOs kad created are removed");
}

#[test]
fn a_reader_that_never_reads_never_blocks_kad() {
    let dir = TempDir::new("kadf");
    let path = dir.join("stalled.fifo");
    let (tx, rx) = mpsc::channel();
    let fifo_path = path.clone();
    // In a thread, so that a blocking write would fail the test instead of hanging it.
    std::thread::spawn(move || {
        let fifo = NotifyFifo::open(&plan(&fifo_path, root())).unwrap();
        // Nobody ever reads: far more than a pipe holds.
        let line = kad::notify::fifo::instance_line("VI_STALLED", kad::notify::fifo::FifoEvent::Master, 100);
        let written = (0..20_000).filter(|_| fifo.write_line(&line)).count();
        let _ = tx.send(written);
    });
    let written = rx.recv_timeout(LIMIT).expect("writes blocked");
    assert!(
        written > 0 && written < 20_000,
        "{written} lines written: the pipe must fill and drop the rest"
    );
}

#[test]
fn refuses_a_path_that_is_not_a_fifo() {
    let dir = TempDir::new("kadf");
    let path = dir.join("regular");
    std::fs::write(&path, "precious").unwrap();
    let err = NotifyFifo::open(&plan(&path, root())).unwrap_err();
    assert!(matches!(err, FifoError::NotOurs { .. }), "{err}");
    assert_eq!(
        err.to_string(),
        format!("vrrp_notify fifo {} is not a fifo we own - not using", path.display())
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap(), "precious");

    let link = dir.join("link");
    std::os::unix::fs::symlink(&path, &link).unwrap();
    assert!(
        matches!(NotifyFifo::open(&plan(&link, root())), Err(FifoError::Open { .. })),
        "symlinks are not followed"
    );

    let err = NotifyFifo::open(&plan(&dir.join("no/such/dir/f"), root())).unwrap_err();
    assert!(matches!(err, FifoError::Create { .. }), "{err}");
}

#[test]
fn refuses_a_fifo_owned_by_someone_else() {
    let dir = TempDir::new("kadf");
    let path = dir.join("foreign.fifo");
    nix::unistd::mkfifo(&path, Mode::from_bits_truncate(0o644)).unwrap();
    let (uid, _) = nobody();
    std::os::unix::fs::chown(&path, Some(uid), None).unwrap();
    assert!(matches!(
        NotifyFifo::open(&plan(&path, root())),
        Err(FifoError::NotOurs { .. })
    ));
    // Owned by the configured FIFO user: accepted, and not removed since kad did not make it.
    let owner = ScriptUser::resolve("nobody", None, false).unwrap();
    let fifo = NotifyFifo::open(&plan(&path, owner)).unwrap();
    drop(fifo);
    assert!(path.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn created_fifo_belongs_to_the_fifo_user() {
    let dir = TempDir::new("kadf");
    let path = dir.join("owned.fifo");
    let owner = ScriptUser::resolve("nobody", None, false).unwrap();
    let set = FifoSet::open([&plan(&path, owner.clone())]);
    let meta = std::fs::symlink_metadata(&path).unwrap();
    assert!(meta.file_type().is_fifo());
    assert_eq!((meta.uid(), meta.gid()), (owner.uid.as_raw(), owner.gid.as_raw()));
    set.close(Duration::from_secs(1)).await;
    assert!(!path.exists());
}

#[tokio::test(flavor = "multi_thread")]
async fn fifo_script_gets_the_path_last_and_is_terminated_on_close() {
    let dir = TempDir::new("kadf");
    let out = dir.shared_dir("out");
    let path = dir.join("scripted.fifo");
    let body = format!(
        "echo $$ > {o}/pid\necho \"$@\" > {o}/args\nwhile read line; do echo \"$line\" >> {o}/lines; done < \"$2\"",
        o = out.display()
    );
    let script = write_script(&dir.path, "reader.sh", &body, 0o755);
    let plan = FifoPlan {
        script: Some(runnable(&[script.to_str().unwrap(), "--opt"], None)),
        ..plan(&path, root())
    };
    let set = FifoSet::open([&plan]);
    set.write_line("INSTANCE \"X\" MASTER 100\n");
    assert!(
        eventually(LIMIT, || read_lines(&out.join("lines"))
            == ["INSTANCE \"X\" MASTER 100"])
        .await
    );
    assert_eq!(read_lines(&out.join("args")), [format!("--opt {}", path.display())]);
    let pid: i32 = read_lines(&out.join("pid"))[0].parse().unwrap();
    assert!(alive(pid));
    set.close(Duration::from_secs(1)).await;
    assert!(!alive(pid), "FIFO script still running after close");
}

#[tokio::test(flavor = "multi_thread")]
async fn configured_fifos_are_planned_from_the_config() {
    use kad::config::model::{Config, FifoSpec, Notifies};
    use kad::notify::security::vet_config;
    let dir = TempDir::new("kadf");
    let out = dir.shared_dir("out");
    let script = write_script(
        &dir.path,
        "args.sh",
        &format!("echo \"$@\" > {}/args", out.display()),
        0o755,
    );
    let fifo = |name: &str, user: Option<&str>, script: Option<&Path>| FifoSpec {
        path: dir.join(name).to_string_lossy().into_owned(),
        user: user.map(str::to_string),
        group: None,
        script: script.map(|s| command(&[s.to_str().unwrap(), "x"], None, None)),
    };
    let mut config = Config::default();
    config.global.script_user = Some(("root".into(), None));
    config.global.notify_fifo = Some(fifo("global.fifo", Some("nobody"), None));
    config.global.vrrp_notify_fifo = Some(fifo("vrrp.fifo", None, Some(&script)));
    config.instances.push(instance("V1", &[], &[], Notifies::default()));

    let vetted = vet_config(&config);
    let set = FifoSet::open(vetted.fifo_plans());
    let global = std::fs::symlink_metadata(dir.join("global.fifo")).unwrap();
    assert_eq!(global.uid(), nobody().0);
    assert!(std::fs::symlink_metadata(dir.join("vrrp.fifo"))
        .unwrap()
        .file_type()
        .is_fifo());
    assert!(
        eventually(LIMIT, || read_lines(&out.join("args"))
            == [format!("x {}", dir.join("vrrp.fifo").display())])
        .await
    );
    set.close(Duration::from_secs(1)).await;

    // An unknown FIFO user leaves that FIFO out, as keepalived does.
    config.global.notify_fifo = Some(fifo("bad.fifo", Some("no-such-user-kad"), None));
    let vetted = vet_config(&config);
    assert!(vetted.notify_fifo.is_none());
    assert!(vetted.log.iter().any(|l| l
        == &format!(
            "Invalid user/group for  fifo {} - ignoring",
            dir.join("bad.fifo").display()
        )));
}
