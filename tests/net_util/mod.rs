//! Network-namespace labs for the net integration tests: unique names per run (pid and a
//! counter), removed on drop (also when the test panics), bounded polling helpers.

#![allow(dead_code)] // each test binary uses a different subset

use std::future::Future;
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// Runs `ip ARGS`, panicking with its stderr on failure.
pub fn ip(args: &[&str]) -> String {
    run("ip", args)
}

pub fn run(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("{program}: {e}"));
    assert!(
        out.status.success(),
        "{program} {} failed: {}",
        args.join(" "),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// Runs a command, returning whether it succeeded (for expected failures).
pub fn try_run(program: &str, args: &[&str]) -> bool {
    Command::new(program)
        .args(args)
        .output()
        .map(|o| o.status.success())
        .unwrap_or(false)
}

/// One network namespace, deleted on drop.
pub struct Netns {
    pub name: String,
}

impl Netns {
    pub fn new(tag: &str) -> Netns {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let name = format!("kadnet-{}-{n}-{tag}", std::process::id());
        ip(&["netns", "add", &name]);
        let ns = Netns { name };
        ns.ip(&["link", "set", "lo", "up"]);
        ns
    }

    /// `ip -n NAME ARGS`.
    pub fn ip(&self, args: &[&str]) -> String {
        let mut full = vec!["-n", self.name.as_str()];
        full.extend_from_slice(args);
        ip(&full)
    }

    pub fn ip_json(&self, args: &[&str]) -> serde_json::Value {
        let mut full = vec!["-j"];
        full.extend_from_slice(args);
        serde_json::from_str(&self.ip(&full)).expect("ip -j output is JSON")
    }

    /// `ip netns exec NAME PROGRAM ARGS`.
    pub fn exec(&self, program: &str, args: &[&str]) -> String {
        let mut full = vec!["netns", "exec", self.name.as_str(), program];
        full.extend_from_slice(args);
        ip(&full)
    }

    pub fn sysctl_write(&self, key: &str, value: &str) {
        self.exec("sysctl", &["-q", "-w", &format!("{key}={value}")]);
    }

    pub fn sysctl_read(&self, key: &str) -> String {
        self.exec("sysctl", &["-n", key]).trim().to_string()
    }

    /// Runs an async body on a fresh thread inside this namespace (kad's own netns entry)
    /// and returns its result; a panic in the body fails the calling test.
    pub fn run<F, Fut, T>(&self, body: F) -> T
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        match kad::net::netns::spawn(&self.name, body).join() {
            Ok(result) => result.expect("enter namespace"),
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }

    /// Starts the body in the namespace without waiting.
    pub fn spawn<F, Fut, T>(&self, body: F) -> std::thread::JoinHandle<kad::net::Result<T>>
    where
        F: FnOnce() -> Fut + Send + 'static,
        Fut: Future<Output = T>,
        T: Send + 'static,
    {
        kad::net::netns::spawn(&self.name, body)
    }
}

impl Drop for Netns {
    fn drop(&mut self) {
        let _ = Command::new("ip")
            .args(["netns", "del", &self.name])
            .output();
    }
}

/// Two namespaces joined by a veth pair (`va` in `a`, `vb` in `b`), both up, IPv6 DAD
/// off so addresses are usable at once, 192.0.2.1/24 and .2/24 on them.
pub struct Pair {
    pub a: Netns,
    pub b: Netns,
}

impl Pair {
    pub fn new(tag: &str) -> Pair {
        let a = Netns::new(&format!("{tag}a"));
        let b = Netns::new(&format!("{tag}b"));
        ip(&[
            "link", "add", "va", "netns", &a.name, "type", "veth", "peer", "name", "vb", "netns",
            &b.name,
        ]);
        for (ns, dev, addr) in [(&a, "va", "192.0.2.1/24"), (&b, "vb", "192.0.2.2/24")] {
            ns.sysctl_write(&format!("net.ipv6.conf.{dev}.accept_dad"), "0");
            ns.ip(&["addr", "add", addr, "dev", dev]);
            ns.ip(&["link", "set", dev, "up"]);
        }
        Pair { a, b }
    }
}

/// Polls `check` until it returns `Some`, for at most `limit`; panics with `what` otherwise.
pub fn wait_for<T>(what: &str, limit: Duration, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Async counterpart of [`wait_for`].
pub async fn wait_for_async<T, Fut>(
    what: &str,
    limit: Duration,
    mut check: impl FnMut() -> Fut,
) -> T
where
    Fut: Future<Output = Option<T>>,
{
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = check().await {
            return v;
        }
        assert!(
            Instant::now() < deadline,
            "timed out after {limit:?} waiting for {what}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

pub const LIMIT: Duration = Duration::from_secs(10);

/// Model entries with keepalived's defaults, for tests to adjust.
pub mod entries {
    use kad::config::model::*;
    use std::net::IpAddr;

    pub fn prefix(s: &str) -> Prefix {
        match s.split_once('/') {
            Some((a, l)) => Prefix {
                addr: a.parse().unwrap(),
                len: l.parse().unwrap(),
            },
            None => Prefix::host(s.parse().unwrap()),
        }
    }

    pub fn address(p: &str) -> AddressEntry {
        AddressEntry::new(prefix(p))
    }

    pub fn route(dest: &str) -> RouteEntry {
        RouteEntry::new(prefix(dest))
    }

    pub fn via(r: RouteEntry, gw: &str) -> RouteEntry {
        RouteEntry {
            via: Some(gw.parse::<IpAddr>().unwrap()),
            ..r
        }
    }

    pub fn rule(family: Family, action: RuleAction) -> RuleEntry {
        RuleEntry::new(family, action)
    }
}

/// A frame seen on the wire, with the kernel's receive timestamp.
pub struct Frame {
    pub at: Duration,
    pub bytes: Vec<u8>,
}

/// A raw AF_PACKET listener on one interface of a namespace, for byte-checking frames
/// on the wire. Opened before `start` returns, so nothing sent afterwards is missed.
pub struct Capture {
    thread: std::thread::JoinHandle<Vec<Frame>>,
}

impl Capture {
    /// Collects up to `count` frames for which `keep` is true, for at most `limit`.
    pub fn start(
        ns: &Netns,
        ifname: &str,
        count: usize,
        limit: Duration,
        keep: fn(&[u8]) -> bool,
    ) -> Capture {
        use nix::sys::socket::{recvmsg, setsockopt, sockopt, ControlMessageOwned, MsgFlags};
        use std::os::fd::AsRawFd;
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (ns, ifname) = (ns.name.clone(), ifname.to_string());
        let thread = std::thread::spawn(move || {
            kad::net::netns::enter(&ns).expect("enter namespace");
            let socket = packet_socket(&ifname);
            setsockopt(&socket, sockopt::ReceiveTimestampns, &true).expect("SO_TIMESTAMPNS");
            ready_tx.send(()).expect("signal ready");
            let deadline = Instant::now() + limit;
            let mut frames = Vec::new();
            let mut buf = vec![0u8; 4096];
            while frames.len() < count && Instant::now() < deadline {
                let mut iov = [std::io::IoSliceMut::new(&mut buf)];
                let mut cmsg = nix::cmsg_space!(nix::sys::time::TimeSpec);
                let Ok(msg) = recvmsg::<()>(
                    socket.as_raw_fd(),
                    &mut iov,
                    Some(&mut cmsg),
                    MsgFlags::empty(),
                ) else {
                    continue;
                };
                let n = msg.bytes;
                let mut at = Duration::ZERO;
                for c in msg.cmsgs().expect("cmsgs") {
                    if let ControlMessageOwned::ScmTimestampns(ts) = c {
                        at = Duration::new(ts.tv_sec() as u64, ts.tv_nsec() as u32);
                    }
                }
                if keep(&buf[..n]) {
                    frames.push(Frame {
                        at,
                        bytes: buf[..n].to_vec(),
                    });
                }
            }
            frames
        });
        ready_rx.recv_timeout(LIMIT).expect("capture socket ready");
        Capture { thread }
    }

    pub fn wait(self) -> Vec<Frame> {
        match self.thread.join() {
            Ok(frames) => frames,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

fn packet_socket(ifname: &str) -> socket2::Socket {
    use socket2::{Domain, Protocol, SockAddr, SockAddrStorage, Socket, Type};
    let all = (libc::ETH_P_ALL as u16).to_be();
    let socket = Socket::new(
        Domain::PACKET,
        Type::RAW,
        Some(Protocol::from(i32::from(all))),
    )
    .expect("AF_PACKET socket");
    let name = std::ffi::CString::new(ifname).unwrap();
    // SAFETY: name is a valid C string.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    assert_ne!(index, 0, "no interface {ifname}");
    let mut storage = SockAddrStorage::zeroed();
    // SAFETY: sockaddr_ll fits in sockaddr_storage.
    let sll: &mut libc::sockaddr_ll = unsafe { storage.view_as() };
    sll.sll_family = libc::AF_PACKET as u16;
    sll.sll_protocol = all;
    sll.sll_ifindex = index as i32;
    // SAFETY: the storage holds an initialised sockaddr_ll of that length.
    let address =
        unsafe { SockAddr::new(storage, std::mem::size_of::<libc::sockaddr_ll>() as u32) };
    socket.bind(&address).expect("bind AF_PACKET socket");
    socket
        .set_read_timeout(Some(Duration::from_millis(50)))
        .unwrap();
    socket
}

/// Hex dump for assertion messages.
pub fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join("")
}

pub fn unhex(s: &str) -> Vec<u8> {
    let s: String = s.chars().filter(|c| !c.is_whitespace()).collect();
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(&s[i..i + 2], 16).unwrap())
        .collect()
}
