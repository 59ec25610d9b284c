//! Starting kad the way keepalived is started in production: the exact command line
//! with all four pid files, and daemonizing without -n.

mod common;

use common::lab::{wait_until, Impl, Lab, KAD};
use std::process::{Command, Stdio};
use std::time::Duration;

const VIP: &str = "192.0.2.1";

fn config() -> String {
    format!(
        "vrrp_instance VI_1 {{\n interface eth0\n state MASTER\n virtual_router_id 51\n priority 150\n advert_int 1\n \
         virtual_ipaddress {{\n  {VIP}/24\n }}\n}}\n"
    )
}

fn lab() -> Lab {
    let mut lab = Lab::new("cmd");
    lab.add_host("r1");
    lab.connect("r1", "eth0", "lan");
    lab.ip("r1", &["addr", "add", "192.0.2.11/24", "dev", "eth0"]);
    lab
}

fn read_pid(path: &std::path::Path) -> Option<i32> {
    std::fs::read_to_string(path).ok()?.trim().parse().ok()
}

/// Running and not a zombie.
fn alive(pid: i32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .ok()
        .and_then(|s| s.rsplit_once(')').and_then(|(_, rest)| rest.trim_start().chars().next()))
        .is_some_and(|state| state != 'Z' && state != 'X')
}

#[test]
fn the_production_command_line_starts_kad() {
    if !common::root_or_skip("cmdline") {
        return;
    }
    let mut lab = lab();
    // Lab::start uses exactly `-n -l -G -D -f FILE -p P1 -r P2 -c P3 -b P4`.
    let mut r1 = lab.start("r1", Impl::Kad, "r1", &config(), &[]);
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r1", "eth0", VIP)), "{}", r1.log_text());
    let main_pid = read_pid(&r1.pid_file).expect("-p pid file");
    let vrrp_pid = read_pid(&lab.dir.join("r1.vpid")).expect("-r pid file");
    assert_eq!(main_pid, vrrp_pid, "kad is one process: both pid files name it");
    assert!(alive(main_pid));
    assert!(!lab.dir.join("r1.cpid").exists() && !lab.dir.join("r1.bpid").exists(), "checker/bfd pid files written");
    let log = r1.log_text();
    assert!(log.contains("-c/--checkers_pid") && log.contains("-b/--bfd_pid"), "-c/-b not reported:\n{log}");

    r1.signal(libc::SIGTERM);
    assert_eq!(r1.wait_exit(Duration::from_secs(5)), Some(0), "{}", r1.log_text());
    assert!(!r1.pid_file.exists() && !lab.dir.join("r1.vpid").exists(), "pid files left behind");
    assert!(!lab.has_addr("r1", "eth0", VIP));
}

#[test]
fn without_dash_n_kad_daemonizes_and_locks_its_pid_file() {
    if !common::root_or_skip("cmdline") {
        return;
    }
    let lab = lab();
    let conf = lab.file("r1.conf", &config());
    let pid_file = lab.dir.join("r1.pid");
    let vpid_file = lab.dir.join("r1.vpid");
    let args = |extra: &[&str]| -> Vec<String> {
        let mut a: Vec<String> = vec!["netns".into(), "exec".into(), lab.ns("r1"), KAD.into()];
        a.extend(extra.iter().map(|s| s.to_string()));
        a.extend(["-l", "-D", "-G", "-f"].map(String::from));
        a.push(conf.display().to_string());
        a.extend(["-p".to_string(), pid_file.display().to_string(), "-r".to_string(), vpid_file.display().to_string()]);
        a
    };
    let mut parent = Command::new("ip").args(args(&[])).stdin(Stdio::null()).stdout(Stdio::null()).stderr(Stdio::null()).spawn().expect("spawn kad");
    let mut status = None;
    assert!(wait_until(Duration::from_secs(10), || {
        status = parent.try_wait().ok().flatten();
        status.is_some()
    }));
    assert_eq!(status.and_then(|s| s.code()), Some(0), "the foreground process did not return 0");
    assert!(wait_until(Duration::from_secs(5), || read_pid(&pid_file).is_some()), "no pid file");
    let pid = read_pid(&pid_file).expect("pid");
    assert_ne!(pid as u32, parent.id(), "the pid file names the parent, not the daemon");
    assert!(alive(pid), "the daemon is not running");
    let ns = Command::new("ip").args(["netns", "identify", &pid.to_string()]).output().expect("ip netns identify");
    assert_eq!(String::from_utf8_lossy(&ns.stdout).trim(), lab.ns("r1"));
    assert!(wait_until(Duration::from_secs(8), || lab.has_addr("r1", "eth0", VIP)), "the daemon does not run VRRP");

    // A second kad on the same pid files refuses to start; the first keeps running.
    let second = Command::new("ip").args(args(&["-n"])).stdin(Stdio::null()).output().expect("second kad");
    assert_ne!(second.status.code(), Some(0), "a second kad started on a locked pid file");
    assert_eq!(read_pid(&pid_file), Some(pid));
    assert!(alive(pid));

    // SAFETY: plain kill(2).
    unsafe { libc::kill(pid, libc::SIGTERM) };
    assert!(wait_until(Duration::from_secs(5), || !alive(pid)), "the daemon did not stop on SIGTERM");
    assert!(!lab.has_addr("r1", "eth0", VIP), "VIP left behind");
    assert!(!pid_file.exists(), "pid file left behind");
}
