//! Network namespaces for integration tests, and running commands with a time limit.
//!
//! A [`Netns`] is named `kadt-<pid>-<counter>` so that parallel tests and parallel test
//! binaries never collide, holds veth interfaces with the names the configs use, and is
//! deleted (with its peer namespace and every interface in them) when dropped, also when
//! the test panics.
//!
//! ```ignore
//! let ns = Netns::with_interfaces(&CORPUS_INTERFACES, Peers::SecondNamespace)?;
//! let out = ns.run("ip", ["-br", "link"], Duration::from_secs(10))?;
//! ```

use super::tmp::TempDir;
use std::ffi::OsStr;
use std::fs::File;
use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Command, ExitStatus, Stdio};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

/// The interfaces the config corpus (and the scenario) name.
pub const CORPUS_INTERFACES: [&str; 5] = ["eth0", "eth1", "eth2", "eth4", "eth5"];

/// Time allowed for each `ip` command that builds or removes a namespace.
const SETUP_TIMEOUT: Duration = Duration::from_secs(20);

static NEXT_ID: AtomicUsize = AtomicUsize::new(0);

/// Where the other end of each veth pair lives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Peers {
    /// In a namespace of its own (`<name>-p`), under the same interface name: the test
    /// namespace then holds exactly the named interfaces plus `lo`, and traffic sent on
    /// `eth0` arrives on the peer namespace's `eth0`.
    SecondNamespace,
    /// In the test namespace itself, named `<ifname>-p`.
    SameNamespace,
}

/// A network namespace removed on drop.
#[derive(Debug)]
pub struct Netns {
    name: String,
    peer_ns: Option<String>,
}

impl Netns {
    /// A namespace with `lo` up and one veth pair per name in `interfaces`, all up.
    pub fn with_interfaces(interfaces: &[&str], peers: Peers) -> io::Result<Netns> {
        let name = format!("kadt-{}-{}", std::process::id(), NEXT_ID.fetch_add(1, Ordering::Relaxed));
        let peer_ns = (peers == Peers::SecondNamespace).then(|| format!("{name}-p"));
        // The guard exists before anything is created, so a failure half-way removes
        // whatever was made.
        let ns = Netns { name, peer_ns };
        add_namespace(&ns.name)?;
        if let Some(peer_ns) = &ns.peer_ns {
            add_namespace(peer_ns)?;
        }
        ip(["-n", &ns.name, "link", "set", "lo", "up"])?;
        for ifname in interfaces {
            match &ns.peer_ns {
                Some(peer_ns) => {
                    ip([
                        "link", "add", "name", ifname, "netns", &ns.name, "type", "veth", "peer", "name", ifname,
                        "netns", peer_ns,
                    ])?;
                    ip(["-n", peer_ns, "link", "set", ifname, "up"])?;
                }
                None => {
                    let peer = format!("{ifname}-p");
                    ip(["-n", &ns.name, "link", "add", "name", ifname, "type", "veth", "peer", "name", &peer])?;
                    ip(["-n", &ns.name, "link", "set", &peer, "up"])?;
                }
            }
            ip(["-n", &ns.name, "link", "set", ifname, "up"])?;
        }
        Ok(ns)
    }

    /// eth0 eth1 eth2 eth4 eth5, peers in a second namespace.
    pub fn for_corpus() -> io::Result<Netns> {
        Netns::with_interfaces(&CORPUS_INTERFACES, Peers::SecondNamespace)
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The namespace holding the peer ends, with [`Peers::SecondNamespace`].
    pub fn peer_namespace(&self) -> Option<&str> {
        self.peer_ns.as_deref()
    }

    /// `program` to be run inside the namespace (add arguments, cwd, env as usual).
    pub fn command(&self, program: impl AsRef<OsStr>) -> Command {
        netns_command(&self.name, program)
    }

    /// `program` to be run inside the peer namespace.
    pub fn peer_command(&self, program: impl AsRef<OsStr>) -> Option<Command> {
        self.peer_ns.as_deref().map(|peer_ns| netns_command(peer_ns, program))
    }

    /// Runs `program args` inside the namespace, killed after `timeout`.
    pub fn run<I, S>(&self, program: impl AsRef<OsStr>, args: I, timeout: Duration) -> io::Result<RunOutput>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<OsStr>,
    {
        let mut cmd = self.command(program);
        cmd.args(args);
        run_with_timeout(cmd, timeout)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        // Deleting a namespace destroys the veth pairs in it, and with them their peers.
        for ns in std::iter::once(&self.name).chain(self.peer_ns.as_ref()) {
            if let Err(e) = ip(["netns", "delete", ns]) {
                eprintln!("cannot delete network namespace {ns}: {e}");
            }
        }
    }
}

fn netns_command(ns: &str, program: impl AsRef<OsStr>) -> Command {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", ns]).arg(program);
    cmd
}

fn add_namespace(name: &str) -> io::Result<()> {
    // A namespace of this name can only be left over from a dead process that had our
    // pid: remove it rather than fail.
    if std::path::Path::new("/run/netns").join(name).exists() {
        ip(["netns", "delete", name])?;
    }
    ip(["netns", "add", name])
}

fn ip<const N: usize>(args: [&str; N]) -> io::Result<()> {
    let mut cmd = Command::new("ip");
    cmd.args(args);
    let out = run_with_timeout(cmd, SETUP_TIMEOUT)?;
    if out.success() {
        Ok(())
    } else {
        Err(io::Error::other(format!("ip {}: {}: {}", args.join(" "), out.describe_status(), out.stderr.trim())))
    }
}

/// What a command printed and how it ended.
#[derive(Debug, Clone)]
pub struct RunOutput {
    /// `None` if the command was killed for running out of time.
    pub status: Option<ExitStatus>,
    pub stdout: String,
    pub stderr: String,
}

impl RunOutput {
    pub fn timed_out(&self) -> bool {
        self.status.is_none()
    }

    /// The exit code; `None` when timed out or killed by a signal.
    pub fn code(&self) -> Option<i32> {
        self.status.and_then(|s| s.code())
    }

    pub fn success(&self) -> bool {
        self.status.is_some_and(|s| s.success())
    }

    pub fn describe_status(&self) -> String {
        match self.status {
            None => "timed out".to_string(),
            Some(s) => match s.code() {
                Some(code) => format!("exit {code}"),
                None => format!("{s}"),
            },
        }
    }
}

/// Runs `cmd` with stdin closed, capturing stdout and stderr, in a process group of its
/// own. After `timeout` the whole group is killed; it is also killed when the command
/// exits, so nothing it forked outlives the call.
pub fn run_with_timeout(mut cmd: Command, timeout: Duration) -> io::Result<RunOutput> {
    // Files rather than pipes: a forked grandchild holding a pipe open cannot block us.
    let dir = TempDir::new("run")?;
    let stdout_path = dir.path().join("stdout");
    let stderr_path = dir.path().join("stderr");
    cmd.stdin(Stdio::null()).stdout(File::create(&stdout_path)?).stderr(File::create(&stderr_path)?).process_group(0);
    let mut child = cmd.spawn()?;
    let pid = libc::pid_t::try_from(child.id()).map_err(io::Error::other)?;
    let deadline = Instant::now() + timeout;
    let waited = loop {
        match has_exited(pid) {
            Ok(true) => break Ok(false),
            Ok(false) if Instant::now() >= deadline => break Ok(true),
            Ok(false) => std::thread::sleep(Duration::from_millis(5)),
            Err(e) => break Err(e),
        }
    };
    // The leader is not reaped yet, so the group id is still ours and cannot name an
    // unrelated process group.
    // SAFETY: kill(2) has no memory-safety preconditions.
    unsafe { libc::kill(-pid, libc::SIGKILL) };
    let status = child.wait()?;
    let timed_out = waited?;
    Ok(RunOutput {
        status: (!timed_out).then_some(status),
        stdout: String::from_utf8_lossy(&std::fs::read(&stdout_path)?).into_owned(),
        stderr: String::from_utf8_lossy(&std::fs::read(&stderr_path)?).into_owned(),
    })
}

/// True once `pid` has exited, without reaping it (WNOWAIT).
fn has_exited(pid: libc::pid_t) -> io::Result<bool> {
    let id = libc::id_t::try_from(pid).map_err(io::Error::other)?;
    // SAFETY: siginfo_t is plain data for which all-zero is a valid value; waitid only
    // writes into it.
    let mut info: libc::siginfo_t = unsafe { std::mem::zeroed() };
    // SAFETY: `info` is a valid, writable siginfo_t.
    let rc = unsafe { libc::waitid(libc::P_PID, id, &mut info, libc::WEXITED | libc::WNOHANG | libc::WNOWAIT) };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: waitid succeeded, so si_pid is either 0 (still running) or the child's pid.
    Ok(unsafe { info.si_pid() } != 0)
}
