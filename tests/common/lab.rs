//! A network lab for end-to-end tests: hosts (network namespaces) wired to switches
//! (bridges in a switch namespace), kad or keepalived daemons started in them, and
//! bounded polling. Everything is named uniquely per run and removed on drop, also when
//! a test panics.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

pub const KAD: &str = env!("CARGO_BIN_EXE_kad");
pub const KEEPALIVED: &str = "/usr/sbin/keepalived";

pub struct Lab {
    pub prefix: String,
    pub dir: PathBuf,
    hosts: Vec<String>,
    switch_ns: Option<String>,
    /// (host, ifname, segment, switch port) for every connection.
    ports: Vec<(String, String, String, String)>,
}

/// Which daemon to run.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Impl {
    Kad,
    Keepalived,
}

pub struct Daemon {
    pub host: String,
    pub which: Impl,
    pub log: PathBuf,
    pub conf: PathBuf,
    pub pid_file: PathBuf,
    child: Option<Child>,
}

fn run(cmd: &mut Command) -> Output {
    match cmd.output() {
        Ok(o) => o,
        Err(e) => panic!("cannot run {cmd:?}: {e}"),
    }
}

fn must(cmd: &mut Command) -> String {
    let o = run(cmd);
    assert!(o.status.success(), "{cmd:?} failed: {}", String::from_utf8_lossy(&o.stderr));
    String::from_utf8_lossy(&o.stdout).into_owned()
}

/// Poll `cond` every 5 ms until it holds or `timeout` passes; returns whether it held.
pub fn wait_until(timeout: Duration, mut cond: impl FnMut() -> bool) -> bool {
    let end = Instant::now() + timeout;
    loop {
        if cond() {
            return true;
        }
        if Instant::now() >= end {
            return false;
        }
        std::thread::sleep(Duration::from_millis(5));
    }
}

impl Lab {
    pub fn new(tag: &str) -> Lab {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let prefix = format!("kl{}{}{}", tag.chars().take(4).collect::<String>(), std::process::id() % 100000, n);
        let dir = std::env::temp_dir().join(format!("{prefix}-lab"));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("lab dir");
        Lab { prefix, dir, hosts: Vec::new(), switch_ns: None, ports: Vec::new() }
    }

    pub fn ns(&self, host: &str) -> String {
        format!("{}-{host}", self.prefix)
    }

    pub fn add_host(&mut self, host: &str) -> String {
        let ns = self.ns(host);
        must(Command::new("ip").args(["netns", "add", &ns]));
        self.hosts.push(ns.clone());
        self.ip(host, &["link", "set", "lo", "up"]);
        ns
    }

    fn switch(&mut self) -> String {
        if let Some(s) = &self.switch_ns {
            return s.clone();
        }
        let ns = self.ns("sw");
        must(Command::new("ip").args(["netns", "add", &ns]));
        self.switch_ns = Some(ns.clone());
        ns
    }

    /// Connect `host`'s new interface `ifname` to segment `segment` (a bridge).
    pub fn connect(&mut self, host: &str, ifname: &str, segment: &str) {
        let sw = self.switch();
        if run(Command::new("ip").args(["-n", &sw, "link", "show", segment])).status.code() != Some(0) {
            must(Command::new("ip").args(["-n", &sw, "link", "add", segment, "type", "bridge"]));
            // No STP delay and no multicast snooping: frames flow at once.
            must(Command::new("ip").args(["-n", &sw, "link", "set", segment, "type", "bridge", "forward_delay", "0", "mcast_snooping", "0"]));
            must(Command::new("ip").args(["-n", &sw, "link", "set", segment, "up"]));
        }
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let port = format!("p{n}");
        let host_ns = self.ns(host);
        must(Command::new("ip").args(["link", "add", ifname, "netns", &host_ns, "type", "veth", "peer", "name", &port, "netns", &sw]));
        must(Command::new("ip").args(["-n", &sw, "link", "set", &port, "master", segment, "up"]));
        self.ip(host, &["link", "set", ifname, "up"]);
        self.ports.push((host.to_string(), ifname.to_string(), segment.to_string(), port));
    }

    /// The switch namespace, once a host is connected.
    pub fn switch_namespace(&self) -> Option<&str> {
        self.switch_ns.as_deref()
    }

    /// The switch port (in [`Lab::switch_namespace`]) that `host`'s `ifname` plugs into.
    pub fn port(&self, host: &str, ifname: &str) -> Option<&str> {
        self.ports.iter().find(|(h, i, _, _)| h == host && i == ifname).map(|(_, _, _, p)| p.as_str())
    }

    /// Unplug `host`'s `ifname` from its segment: the host keeps carrier (its link stays
    /// up) but its frames reach nobody, as when a switch drops a port from its VLAN.
    pub fn cut(&self, host: &str, ifname: &str) {
        let (sw, port, _) = self.port_of(host, ifname);
        must(Command::new("ip").args(["-n", &sw, "link", "set", &port, "nomaster"]));
    }

    /// Plug a [`Lab::cut`] interface back into its segment.
    pub fn heal(&self, host: &str, ifname: &str) {
        let (sw, port, segment) = self.port_of(host, ifname);
        must(Command::new("ip").args(["-n", &sw, "link", "set", &port, "master", &segment]));
    }

    fn port_of(&self, host: &str, ifname: &str) -> (String, String, String) {
        let sw = self.switch_ns.clone().expect("no switch yet");
        match self.ports.iter().find(|(h, i, _, _)| h == host && i == ifname) {
            Some((_, _, segment, port)) => (sw, port.clone(), segment.clone()),
            None => panic!("{host} has no {ifname} on a segment"),
        }
    }

    /// Run `ip ARGS` in `host`; panics on failure.
    pub fn ip(&self, host: &str, args: &[&str]) -> String {
        must(Command::new("ip").arg("-n").arg(self.ns(host)).args(args))
    }

    /// Run a command inside `host` and return its output (never panics on exit status).
    pub fn exec(&self, host: &str, program: &str, args: &[&str]) -> Output {
        run(Command::new("ip").args(["netns", "exec", &self.ns(host), program]).args(args))
    }

    pub fn sh(&self, host: &str, script: &str) -> Output {
        self.exec(host, "sh", &["-c", script])
    }

    /// Whether `addr` (no prefix) is configured on `ifname` in `host`.
    pub fn has_addr(&self, host: &str, ifname: &str, addr: &str) -> bool {
        let out = run(Command::new("ip").arg("-n").arg(self.ns(host)).args(["-o", "addr", "show", "dev", ifname]));
        let text = String::from_utf8_lossy(&out.stdout);
        text.split_whitespace().any(|w| w.split('/').next() == Some(addr))
    }

    /// Write a file into the lab directory and return its path.
    pub fn file(&self, name: &str, content: &str) -> PathBuf {
        let p = self.dir.join(name);
        std::fs::write(&p, content).expect("write lab file");
        p
    }

    /// Start a daemon in `host` with `config` (name unique within the lab).
    pub fn start(&mut self, host: &str, which: Impl, name: &str, config: &str, extra: &[&str]) -> Daemon {
        let conf = self.file(&format!("{name}.conf"), config);
        let log = self.dir.join(format!("{name}.log"));
        let pid_file = self.dir.join(format!("{name}.pid"));
        let mut cmd = Command::new("ip");
        cmd.args(["netns", "exec", &self.ns(host)]);
        match which {
            Impl::Kad => cmd.arg(KAD),
            Impl::Keepalived => cmd.arg(KEEPALIVED),
        };
        let p = |s: &str| self.dir.join(format!("{name}.{s}")).display().to_string();
        cmd.args(["-n", "-l", "-G", "-D", "-f"]).arg(&conf);
        cmd.arg("-p").arg(&pid_file).args(["-r", &p("vpid"), "-c", &p("cpid"), "-b", &p("bpid")]);
        cmd.args(extra);
        let logf = std::fs::File::create(&log).expect("log file");
        let logf2 = logf.try_clone().expect("log clone");
        cmd.stdout(Stdio::from(logf)).stderr(Stdio::from(logf2)).stdin(Stdio::null());
        let child = cmd.spawn().expect("spawn daemon");
        Daemon { host: host.to_string(), which, log, conf, pid_file, child: Some(child) }
    }
}

impl Daemon {
    /// The daemon's own pid (from its pid file: `ip netns exec` execs, but keepalived
    /// forks children).
    pub fn pid(&self) -> Option<i32> {
        std::fs::read_to_string(&self.pid_file).ok()?.trim().parse().ok()
    }

    pub fn wait_started(&self, timeout: Duration) -> bool {
        wait_until(timeout, || self.pid().is_some())
    }

    pub fn signal(&self, sig: i32) {
        if let Some(pid) = self.pid() {
            // SAFETY: plain kill(2).
            unsafe { libc::kill(pid, sig) };
        } else if let Some(c) = &self.child {
            // SAFETY: plain kill(2) on our own child.
            unsafe { libc::kill(c.id() as i32, sig) };
        }
    }

    /// SIGKILL the daemon and (for keepalived) its children.
    pub fn kill9(&mut self) {
        if self.which == Impl::Keepalived {
            if let Some(pid) = self.pid() {
                let _ = Command::new("pkill").args(["-KILL", "-P", &pid.to_string()]).status();
            }
        }
        self.signal(libc::SIGKILL);
        self.wait_exit(Duration::from_secs(5));
    }

    /// Wait for the process to end; returns its exit code if it ended in time.
    pub fn wait_exit(&mut self, timeout: Duration) -> Option<i32> {
        let child = self.child.as_mut()?;
        let end = Instant::now() + timeout;
        loop {
            if let Ok(Some(status)) = child.try_wait() {
                self.child = None;
                return Some(status.code().unwrap_or(-1));
            }
            if Instant::now() >= end {
                return None;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    pub fn log_path(&self) -> &Path {
        &self.log
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            if self.which == Impl::Keepalived {
                if let Ok(s) = std::fs::read_to_string(&self.pid_file) {
                    let _ = Command::new("pkill").args(["-KILL", "-P", s.trim()]).status();
                }
            }
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        // Only what is still inside the lab's namespaces is killed: the pid of a daemon
        // that has exited may already belong to an unrelated process.
        for ns in self.hosts.iter().chain(self.switch_ns.iter()) {
            // Processes left inside would keep the namespace's interfaces alive.
            let _ = Command::new("ip").args(["netns", "pids", ns]).output().map(|o| {
                for pid in String::from_utf8_lossy(&o.stdout).split_whitespace() {
                    if let Ok(p) = pid.parse::<i32>() {
                        // SAFETY: plain kill(2).
                        unsafe { libc::kill(p, libc::SIGKILL) };
                    }
                }
            });
            let _ = Command::new("ip").args(["netns", "del", ns]).status();
        }
        if std::env::var_os("KAD_KEEP_LAB").is_none() {
            let _ = std::fs::remove_dir_all(&self.dir);
        }
    }
}
