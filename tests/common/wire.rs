//! Watching a lab from the outside: VRRP adverts as they appear on a segment, address
//! changes as netlink reports them, continuous pings, and the daemon's log.

use super::lab::{wait_until, Daemon, Lab};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, Socket, Type};
use std::io::{BufRead, BufReader};
use std::mem::MaybeUninit;
use std::net::Ipv4Addr;
use std::os::fd::AsRawFd;
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// One VRRP advertisement seen on the wire.
#[derive(Debug, Clone)]
pub struct Seen {
    pub at: Instant,
    pub src: Ipv4Addr,
    pub vrid: u8,
    pub priority: u8,
}

/// Runs `body` on a new thread that has entered network namespace `ns`.
fn in_netns<T: Send + 'static>(ns: &str, body: impl FnOnce() -> T + Send + 'static) -> JoinHandle<T> {
    let path = format!("/run/netns/{ns}");
    std::thread::spawn(move || {
        let f = std::fs::File::open(&path).unwrap_or_else(|e| panic!("open {path}: {e}"));
        // SAFETY: setns on an open namespace fd; it only changes this thread's namespace.
        let rc = unsafe { libc::setns(f.as_raw_fd(), libc::CLONE_NEWNET) };
        assert_eq!(rc, 0, "setns {path}: {}", std::io::Error::last_os_error());
        body()
    })
}

/// Every IPv4 VRRP advert (multicast to 224.0.0.18, or unicast to the host) arriving on
/// one interface of one host, timestamped on arrival.
pub struct Capture {
    stop: Arc<AtomicBool>,
    seen: Arc<Mutex<Vec<Seen>>>,
    thread: Option<JoinHandle<()>>,
}

impl Capture {
    /// Starts listening; returns once the socket has joined the VRRP group.
    pub fn start(lab: &Lab, host: &str, ifname: &str) -> Capture {
        let stop = Arc::new(AtomicBool::new(false));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let (stop2, seen2, ifname) = (stop.clone(), seen.clone(), ifname.to_string());
        let thread = in_netns(&lab.ns(host), move || {
            let sock = Socket::new(Domain::IPV4, Type::RAW, Some(Protocol::from(112))).expect("raw VRRP socket");
            let cname = std::ffi::CString::new(ifname.clone()).expect("ifname");
            // SAFETY: if_nametoindex reads a NUL-terminated string.
            let index = unsafe { libc::if_nametoindex(cname.as_ptr()) };
            assert_ne!(index, 0, "no interface {ifname}");
            sock.join_multicast_v4_n(&Ipv4Addr::new(224, 0, 0, 18), &InterfaceIndexOrAddress::Index(index))
                .expect("join 224.0.0.18");
            sock.bind_device(Some(ifname.as_bytes())).expect("bind to device");
            sock.set_read_timeout(Some(Duration::from_millis(50))).expect("timeout");
            let _ = ready_tx.send(());
            let mut buf = [MaybeUninit::<u8>::uninit(); 2048];
            while !stop2.load(Ordering::Relaxed) {
                let Ok(n) = sock.recv(&mut buf) else { continue };
                // SAFETY: recv initialised the first n bytes.
                let bytes: Vec<u8> = buf[..n].iter().map(|b| unsafe { b.assume_init() }).collect();
                let ihl = usize::from(bytes.first().copied().unwrap_or(0) & 0x0f) * 4;
                if bytes.len() < ihl + 8 || ihl < 20 {
                    continue;
                }
                let src = Ipv4Addr::new(bytes[12], bytes[13], bytes[14], bytes[15]);
                let seen = Seen { at: Instant::now(), src, vrid: bytes[ihl + 1], priority: bytes[ihl + 2] };
                seen2.lock().unwrap().push(seen);
            }
        });
        ready_rx.recv_timeout(Duration::from_secs(10)).expect("capture did not start");
        Capture { stop, seen, thread: Some(thread) }
    }

    pub fn all(&self) -> Vec<Seen> {
        self.seen.lock().unwrap().clone()
    }

    /// The adverts of `vrid` sent by `src`.
    pub fn from(&self, src: &str, vrid: u8) -> Vec<Seen> {
        let src: Ipv4Addr = src.parse().expect("IPv4 source");
        self.all().into_iter().filter(|s| s.src == src && s.vrid == vrid).collect()
    }

    /// Waits for an advert of `vrid` from `src` that arrived after `after` and carries
    /// `priority`.
    pub fn wait_priority(&self, src: &str, vrid: u8, priority: u8, after: Instant, timeout: Duration) -> bool {
        wait_until(timeout, || self.from(src, vrid).iter().any(|s| s.at > after && s.priority == priority))
    }

    /// The priorities `src` advertised for `vrid` since `after`, consecutive repeats
    /// collapsed.
    pub fn priorities(&self, src: &str, vrid: u8, after: Instant) -> Vec<u8> {
        let mut out: Vec<u8> = Vec::new();
        for s in self.from(src, vrid).into_iter().filter(|s| s.at > after) {
            if out.last() != Some(&s.priority) {
                out.push(s.priority);
            }
        }
        out
    }
}

/// The largest gap between consecutive adverts in `seen`, and their count.
pub fn largest_gap(seen: &[Seen]) -> (Duration, usize) {
    let gap = seen.windows(2).map(|w| w[1].at.duration_since(w[0].at)).max().unwrap_or_default();
    (gap, seen.len())
}

impl Drop for Capture {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// A child process whose output lines are collected with their arrival time; killed on
/// drop.
pub struct Watcher {
    child: Child,
    lines: Arc<Mutex<Vec<(Instant, String)>>>,
}

impl Watcher {
    fn spawn(mut cmd: Command) -> Watcher {
        let mut child = cmd.stdout(Stdio::piped()).stderr(Stdio::null()).stdin(Stdio::null()).spawn().expect("spawn watcher");
        let stdout = child.stdout.take().expect("stdout");
        let lines = Arc::new(Mutex::new(Vec::new()));
        let sink = lines.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                sink.lock().unwrap().push((Instant::now(), line));
            }
        });
        Watcher { child, lines }
    }

    /// `ip monitor address` in `host`: every address added or deleted there.
    pub fn addresses(lab: &Lab, host: &str) -> Watcher {
        Watcher::monitor(lab, host, "address")
    }

    /// `ip monitor route` in `host`.
    pub fn routes(lab: &Lab, host: &str) -> Watcher {
        Watcher::monitor(lab, host, "route")
    }

    fn monitor(lab: &Lab, host: &str, what: &str) -> Watcher {
        let mut cmd = Command::new("ip");
        cmd.args(["-n", &lab.ns(host), "monitor", what]);
        let w = Watcher::spawn(cmd);
        // ip monitor subscribes right after starting; give it that instant.
        std::thread::sleep(Duration::from_millis(200));
        w
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().iter().map(|(_, l)| l.clone()).collect()
    }

    /// Lines reporting the deletion of `addr` (as `ADDR/` in `ip monitor` output).
    pub fn deletions(&self, addr: &str) -> Vec<String> {
        let needle = format!(" {addr}/");
        self.lines().into_iter().filter(|l| l.starts_with("Deleted") && l.contains(&needle)).collect()
    }

    /// How many `ip monitor route` lines report the route to `dest` (as `ip` prints it)
    /// deleted.
    pub fn route_deletions(&self, dest: &str) -> usize {
        self.lines().iter().filter(|l| l.starts_with(&format!("Deleted {dest} "))).count()
    }
}

impl Drop for Watcher {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// `ping` from `host` to `target`: `count` echo requests every `interval`, replies
/// awaited up to `deadline`; `finish` gives (transmitted, received).
pub struct Pinger {
    child: Option<Child>,
}

impl Pinger {
    pub fn start(lab: &Lab, host: &str, target: &str, interval: Duration, count: u32, deadline: Duration) -> Pinger {
        let child = Command::new("ip")
            .args(["netns", "exec", &lab.ns(host), "ping", "-q", "-n"])
            .args(["-i", &format!("{:.3}", interval.as_secs_f64())])
            .args(["-c", &count.to_string()])
            .args(["-w", &deadline.as_secs().to_string(), target])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn ping");
        Pinger { child: Some(child) }
    }

    /// Waits for ping to end and returns (transmitted, received, full output).
    pub fn finish(mut self) -> (u32, u32, String) {
        let child = self.child.take().expect("ping running");
        let out = child.wait_with_output().expect("ping output");
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        // "900 packets transmitted, 900 received, 0% packet loss, time 14884ms"
        let summary = text.lines().find(|l| l.contains("transmitted")).unwrap_or_default();
        let number_before = |word: &str| -> u32 {
            summary
                .split(',')
                .find(|part| part.contains(word))
                .and_then(|part| part.split_whitespace().next())
                .and_then(|n| n.parse().ok())
                .unwrap_or(0)
        };
        (number_before("transmitted"), number_before("received"), text)
    }
}

impl Drop for Pinger {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }
}

/// The daemon's log lines containing `needle`.
pub fn log_matches(d: &Daemon, needle: &str) -> Vec<String> {
    d.log_text().lines().filter(|l| l.contains(needle)).map(str::to_string).collect()
}

/// Waits until the daemon's log holds at least `n` lines containing `needle`.
pub fn wait_log(d: &Daemon, needle: &str, n: usize, timeout: Duration) -> bool {
    wait_until(timeout, || log_matches(d, needle).len() >= n)
}

/// Waits for the log line, panicking with the log if it does not come.
pub fn expect_log(d: &Daemon, needle: &str, timeout: Duration) {
    assert!(wait_log(d, needle, 1, timeout), "no log line {needle:?} within {timeout:?}:\n{}", d.log_text());
}


/// Reads a notify FIFO that the test created (mode 0644, root's, as keepalived accepts),
/// collecting its lines until dropped.
pub struct FifoReader {
    stop: Arc<AtomicBool>,
    lines: Arc<Mutex<Vec<String>>>,
    thread: Option<JoinHandle<()>>,
}

impl FifoReader {
    pub fn create(path: &std::path::Path) -> FifoReader {
        let c = std::ffi::CString::new(path.to_string_lossy().as_bytes()).expect("path");
        // SAFETY: mkfifo on a NUL-terminated path.
        assert_eq!(unsafe { libc::mkfifo(c.as_ptr(), 0o644) }, 0, "mkfifo {}", path.display());
        // Non-blocking, so that opening needs no writer yet and the thread can stop.
        // SAFETY: open on a NUL-terminated path.
        let fd = unsafe { libc::open(c.as_ptr(), libc::O_RDONLY | libc::O_NONBLOCK) };
        assert!(fd >= 0, "open {}", path.display());
        // SAFETY: fd was just opened and is owned by the File from here on.
        let mut file = unsafe { <std::fs::File as std::os::fd::FromRawFd>::from_raw_fd(fd) };
        let stop = Arc::new(AtomicBool::new(false));
        let lines = Arc::new(Mutex::new(Vec::new()));
        let (stop2, sink) = (stop.clone(), lines.clone());
        let thread = std::thread::spawn(move || {
            use std::io::Read;
            let mut pending = Vec::new();
            let mut buf = [0u8; 4096];
            loop {
                match file.read(&mut buf) {
                    Ok(n) if n > 0 => {
                        pending.extend_from_slice(&buf[..n]);
                        while let Some(pos) = pending.iter().position(|&b| b == b'\n') {
                            let line: Vec<u8> = pending.drain(..=pos).collect();
                            sink.lock().unwrap().push(String::from_utf8_lossy(&line[..pos]).into_owned());
                        }
                        continue;
                    }
                    _ => {
                        if stop2.load(Ordering::Relaxed) {
                            return;
                        }
                        std::thread::sleep(Duration::from_millis(5));
                    }
                }
            }
        });
        FifoReader { stop, lines, thread: Some(thread) }
    }

    pub fn lines(&self) -> Vec<String> {
        self.lines.lock().unwrap().clone()
    }

    pub fn wait_line(&self, line: &str, timeout: Duration) -> bool {
        wait_until(timeout, || self.lines().iter().any(|l| l == line))
    }
}

impl Drop for FifoReader {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}
