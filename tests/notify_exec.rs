//! notify::exec: scripts start as keepalived starts them (no shell, the script's ids, own
//! process group, cleaned environment, parent-death signal) and are always reaped.

mod notify_support;

use kad::notify::exec::{spawn, ScriptExit, ScriptKind};
use nix::sys::signal::Signal;
use notify_support::*;
use std::fs;
use std::time::Duration;

const LIMIT: Duration = Duration::from_secs(10);

#[tokio::test(flavor = "multi_thread")]
async fn runs_without_shell_with_configured_words_and_extra_args() {
    let dir = TempDir::new("kadx");
    let out = dir.shared_dir("out");
    let log = out.join("argv");
    let script = write_script(
        &dir.path,
        "args.sh",
        &format!("for a in \"$@\"; do echo \"[$a]\"; done > {}", log.display()),
        0o755,
    );
    // Words with blanks, quotes and shell metacharacters reach the script untouched.
    let s = runnable(&[script.to_str().unwrap(), "a b", "$HOME", "'q'", ";echo x"], None);
    assert_eq!(s.kind, ScriptKind::Exec);
    let mut running = spawn(&s, &["INSTANCE".into(), "VI_1".into()]).unwrap();
    assert_eq!(running.wait().await, ScriptExit::Code(0));
    assert_eq!(
        read_lines(&log),
        ["[a b]", "[$HOME]", "['q']", "[;echo x]", "[INSTANCE]", "[VI_1]"]
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn runs_as_the_configured_user_with_groups_cleared_or_set() {
    let dir = TempDir::new("kadx");
    let out = dir.shared_dir("out");
    let (uid, gid) = nobody();
    let body = format!("echo \"$(id -u) $(id -g) $(id -G)\" > {}/$1", out.display());
    let script = write_script(&dir.path, "id.sh", &body, 0o755);
    let path = script.to_str().unwrap();

    let as_nobody = runnable(&[path, "nobody"], Some("nobody"));
    spawn(&as_nobody, &[]).unwrap().wait().await;
    assert_eq!(read_lines(&out.join("nobody")), [format!("{uid} {gid} {gid}")]);

    let as_root = runnable(&[path, "root"], None);
    spawn(&as_root, &[]).unwrap().wait().await;
    // Root's supplementary groups are cleared, as keepalived does.
    assert_eq!(read_lines(&out.join("root")), ["0 0 0"]);

    // `root :daemon`: gid from the group given, supplementary groups from the user.
    let cmd = command(&[path, "rootgroups"], Some("root"), Some(":daemon"));
    let user = kad::notify::exec::ScriptUser::resolve("root", cmd.group.as_deref(), false).unwrap();
    let daemon_gid = nix::unistd::Group::from_name("daemon").unwrap().unwrap().gid.as_raw();
    assert_eq!(user.gid.as_raw(), daemon_gid);
    let expected_groups: Vec<u32> = nix::unistd::getgrouplist(c"root", 0.into())
        .unwrap()
        .iter()
        .map(|g| g.as_raw())
        .collect();
    assert_eq!(
        user.supplementary.iter().map(|g| g.as_raw()).collect::<Vec<_>>(),
        expected_groups
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn own_process_group_and_cleaned_environment() {
    let dir = TempDir::new("kadx");
    let out = dir.join("env");
    let body = format!(
        "cut -d' ' -f5 /proc/$$/stat > {o}; echo $$ >> {o}; echo \"LDP=${{LD_PRELOAD+set}} LLP=${{LD_LIBRARY_PATH+set}} KEEP=$KAD_TEST_KEEP\" >> {o}",
        o = out.display()
    );
    let script = write_script(&dir.path, "env.sh", &body, 0o755);
    let s = runnable(&[script.to_str().unwrap()], None);
    // Scripts inherit the test process environment. An empty LD_PRELOAD and a missing
    // library directory change nothing for other processes this binary starts.
    std::env::set_var("LD_PRELOAD", "");
    std::env::set_var("LD_LIBRARY_PATH", "/nonexistent");
    std::env::set_var("KAD_TEST_KEEP", "kept");
    let mut running = spawn(&s, &[]).unwrap();
    let pid = running.pid().as_raw();
    assert_eq!(running.wait().await, ScriptExit::Code(0));
    let lines = read_lines(&out);
    assert_eq!(lines[0], pid.to_string(), "script is its own process group leader");
    assert_eq!(lines[1], pid.to_string());
    assert_eq!(lines[2], "LDP= LLP= KEEP=kept");
}

#[tokio::test(flavor = "multi_thread")]
async fn file_without_shebang_runs_through_sh() {
    let dir = TempDir::new("kadx");
    let out = dir.join("ran");
    let path = dir.join("noshebang");
    fs::write(&path, format!("echo \"$0 $1\" > {}\n", out.display())).unwrap();
    fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let s = runnable(&[path.to_str().unwrap(), "arg"], None);
    assert_eq!(s.kind, ScriptKind::Shell);
    assert_eq!(spawn(&s, &[]).unwrap().wait().await, ScriptExit::Code(0));
    assert_eq!(read_lines(&out), [format!("{} arg", path.display())]);
}

#[tokio::test(flavor = "multi_thread")]
async fn read_check_tests_readability_as_the_script_user() {
    let dir = TempDir::new("kadx");
    let readable = dir.join("readable");
    fs::write(&readable, "x").unwrap();
    let secret = dir.join("secret");
    fs::write(&secret, "x").unwrap();
    fs::set_permissions(&secret, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();

    let check = |target: &std::path::Path, user: Option<&str>| {
        let arg = format!("<{}", target.display());
        runnable(&[arg.as_str()], user)
    };
    let ok = check(&readable, Some("nobody"));
    assert!(matches!(ok.kind, ScriptKind::ReadCheck(_)));
    assert_eq!(spawn(&ok, &[]).unwrap().wait().await, ScriptExit::Code(0));
    assert_eq!(
        spawn(&check(&secret, None), &[]).unwrap().wait().await,
        ScriptExit::Code(0)
    );
    // dash's status for a failed redirection, which keepalived passes on.
    assert_eq!(
        spawn(&check(&secret, Some("nobody")), &[]).unwrap().wait().await,
        ScriptExit::Code(2)
    );
    assert_eq!(
        spawn(&check(&dir.join("missing"), None), &[]).unwrap().wait().await,
        ScriptExit::Code(2)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn terminate_kills_the_whole_process_group() {
    let dir = TempDir::new("kadx");
    let pids = dir.join("pids");
    // The script starts a daemon-like child and then hangs, ignoring SIGTERM.
    let body = format!(
        "trap '' TERM\nsleep 1000 &\necho $! > {p}\necho $$ >> {p}\nwhile :; do sleep 1; done",
        p = pids.display()
    );
    let script = write_script(&dir.path, "forks.sh", &body, 0o755);
    let s = runnable(&[script.to_str().unwrap()], None);
    let mut running = spawn(&s, &[]).unwrap();
    assert!(eventually(LIMIT, || read_lines(&pids).len() == 2).await);
    let children: Vec<i32> = read_lines(&pids).iter().map(|l| l.parse().unwrap()).collect();
    let exit = running.terminate(Duration::from_millis(300)).await;
    assert_eq!(
        exit,
        ScriptExit::Signal(libc::SIGKILL),
        "SIGTERM is ignored, so SIGKILL after the grace"
    );
    assert!(
        eventually(LIMIT, || children.iter().all(|p| !alive(*p))).await,
        "group members left: {children:?}"
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn crashing_script_reports_its_signal() {
    let dir = TempDir::new("kadx");
    let script = write_script(&dir.path, "crash.sh", "kill -SEGV $$", 0o755);
    let s = runnable(&[script.to_str().unwrap()], None);
    assert_eq!(spawn(&s, &[]).unwrap().wait().await, ScriptExit::Signal(libc::SIGSEGV));
    let failing = write_script(&dir.path, "fail.sh", "exit 3", 0o755);
    assert_eq!(
        spawn(&runnable(&[failing.to_str().unwrap()], None), &[])
            .unwrap()
            .wait()
            .await,
        ScriptExit::Code(3)
    );
}

#[tokio::test(flavor = "multi_thread")]
async fn script_removed_after_vetting_fails_to_start() {
    let dir = TempDir::new("kadx");
    let script = write_script(&dir.path, "gone.sh", "exit 0", 0o755);
    let s = runnable(&[script.to_str().unwrap()], None);
    fs::remove_file(&script).unwrap();
    assert!(spawn(&s, &[]).is_err());
}

#[tokio::test(flavor = "multi_thread")]
async fn signal_group_reaches_a_running_script() {
    let dir = TempDir::new("kadx");
    let script = write_script(&dir.path, "sleep.sh", "exec sleep 1000", 0o755);
    let mut running = spawn(&runnable(&[script.to_str().unwrap()], None), &[]).unwrap();
    assert_eq!(running.try_exit(), None);
    running.signal_group(Signal::SIGUSR1);
    assert_eq!(running.wait().await, ScriptExit::Signal(libc::SIGUSR1));
}

/// The script must die with kad. Runs itself again as a child "kad" that starts a
/// script and exits at once; the script has to disappear.
#[test]
fn script_is_terminated_when_kad_dies() {
    const ROLE: &str = "KAD_TEST_PDEATHSIG_PIDFILE";
    if let Ok(pidfile) = std::env::var(ROLE) {
        let rt = tokio::runtime::Builder::new_multi_thread()
            .enable_all()
            .build()
            .unwrap();
        rt.block_on(async {
            let dir = std::path::Path::new(&pidfile).parent().unwrap().to_path_buf();
            let body = format!("echo $$ > {pidfile}.tmp; mv {pidfile}.tmp {pidfile}; exec sleep 1000");
            let script = write_script(&dir, "orphan.sh", &body, 0o755);
            let _running = spawn(&runnable(&[script.to_str().unwrap()], None), &[]).unwrap();
            assert!(eventually(LIMIT, || std::path::Path::new(&pidfile).exists()).await);
        });
        std::process::exit(0);
    }
    let dir = TempDir::new("kadx");
    let pidfile = dir.join("pid");
    let status = std::process::Command::new(std::env::current_exe().unwrap())
        .args(["--exact", "script_is_terminated_when_kad_dies", "--nocapture"])
        .env(ROLE, &pidfile)
        .status()
        .unwrap();
    assert!(status.success());
    let pid: i32 = fs::read_to_string(&pidfile).unwrap().trim().parse().unwrap();
    assert!(wait_until(LIMIT, || !alive(pid)), "script {pid} outlived its parent");
}
