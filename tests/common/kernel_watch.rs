//! Watches one namespace's IPv4 default route and one address from a thread that lives
//! inside the namespace, through raw rtnetlink (independent of kad's own netlink code).
//!
//! Two sockets: one dumps the main table and the addresses every `period`, which catches
//! routes the kernel flushes without telling anyone (a device losing its last address);
//! the other is subscribed to route notifications and records every RTM_DELROUTE of a
//! default route, which catches a delete-then-add that a poll could fall between.

use std::fs::File;
use std::io;
use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

const NLMSG_ERROR: u16 = 2;
const NLMSG_DONE: u16 = 3;
const RTM_NEWADDR: u16 = 20;
const RTM_GETADDR: u16 = 22;
const RTM_NEWROUTE: u16 = 24;
const RTM_DELROUTE: u16 = 25;
const RTM_GETROUTE: u16 = 26;
const NLM_F_REQUEST: u16 = 1;
const NLM_F_DUMP: u16 = 0x300;
const RTA_OIF: u16 = 4;
const RTA_GATEWAY: u16 = 5;
const RTA_TABLE: u16 = 15;
const IFA_LOCAL: u16 = 2;
const RT_TABLE_MAIN: u32 = 254;
const RTN_UNICAST: u8 = 1;
/// RTNLGRP_IPV4_ROUTE is group 7: bit 6 of the legacy group mask.
const GROUP_IPV4_ROUTE: u32 = 1 << 6;

/// One IPv4 default route of the main table.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub struct DefaultRoute {
    pub gateway: Option<Ipv4Addr>,
    pub oif: u32,
    pub protocol: u8,
}

/// What the namespace looked like from `at` until the next sample.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Sample {
    pub at: Instant,
    pub defaults: Vec<DefaultRoute>,
    /// Whether the watched address (the VIP that marks the MASTER) was configured.
    pub marker: bool,
}

impl Sample {
    pub fn gateways(&self) -> Vec<Ipv4Addr> {
        self.defaults.iter().filter_map(|d| d.gateway).collect()
    }
}

/// Everything seen: the samples where something changed, the notified deletions of a
/// default route, and how many polls ran (to show the poll really was tight).
#[derive(Debug, Clone, Default)]
pub struct Timeline {
    pub samples: Vec<Sample>,
    pub default_deletions: Vec<Instant>,
    pub polls: u64,
    pub longest_poll_gap: Duration,
}

impl Timeline {
    /// Spans in which there was no default route, clipped to [from, to).
    pub fn absences(&self, from: Instant, to: Instant) -> Vec<(Instant, Instant)> {
        let mut out = Vec::new();
        for (i, s) in self.samples.iter().enumerate() {
            if !s.defaults.is_empty() {
                continue;
            }
            let end = self.samples.get(i + 1).map_or(to, |n| n.at);
            let (a, b) = (s.at.max(from), end.min(to));
            if a < b {
                out.push((a, b));
            }
        }
        out
    }

    /// The first moment at or after `from` when the default route went through
    /// `gateway` (and nothing else).
    pub fn first_only(&self, gateway: Ipv4Addr, from: Instant) -> Option<Instant> {
        let only = |s: &Sample| s.gateways() == [gateway] && s.defaults.len() == 1;
        if self.samples.iter().rev().find(|s| s.at <= from).is_some_and(only) {
            return Some(from);
        }
        self.samples.iter().find(|s| s.at > from && only(s)).map(|s| s.at)
    }

    /// The first moment at or after `from` when the marker address was `present`.
    pub fn marker_change(&self, present: bool, from: Instant) -> Option<Instant> {
        self.samples
            .iter()
            .find(|s| s.at >= from && s.marker == present)
            .map(|s| s.at)
    }

    /// When a default route first existed.
    pub fn first_default(&self) -> Option<Instant> {
        self.samples.iter().find(|s| !s.defaults.is_empty()).map(|s| s.at)
    }

    pub fn describe(&self, origin: Instant) -> String {
        let mut s = String::new();
        for sample in &self.samples {
            s.push_str(&format!(
                "  +{:>8.1} ms marker={} defaults={:?}\n",
                sample.at.saturating_duration_since(origin).as_secs_f64() * 1000.0,
                sample.marker,
                sample.gateways()
            ));
        }
        for d in &self.default_deletions {
            s.push_str(&format!(
                "  +{:>8.1} ms RTM_DELROUTE default\n",
                d.saturating_duration_since(origin).as_secs_f64() * 1000.0
            ));
        }
        s.push_str(&format!(
            "  {} polls, longest gap between polls {:?}\n",
            self.polls, self.longest_poll_gap
        ));
        s
    }
}

/// A running watcher; `stop` returns what it saw.
pub struct Watch {
    stop: Arc<AtomicBool>,
    handle: Option<JoinHandle<io::Result<Timeline>>>,
}

impl Watch {
    /// Watch namespace `netns` (a name under /run/netns) every `period`; `marker` is the
    /// address whose presence is recorded with each sample.
    pub fn start(netns: &str, marker: Ipv4Addr, period: Duration) -> io::Result<Watch> {
        let ns_file = File::open(format!("/run/netns/{netns}"))?;
        let stop = Arc::new(AtomicBool::new(false));
        let flag = stop.clone();
        let (ready_tx, ready_rx) = std::sync::mpsc::channel();
        let handle = std::thread::spawn(move || -> io::Result<Timeline> {
            let sockets = enter_and_open(&ns_file);
            let (dump, events) = match sockets {
                Ok(s) => {
                    let _ = ready_tx.send(Ok(()));
                    s
                }
                Err(e) => {
                    let _ = ready_tx.send(Err(io::Error::new(e.kind(), e.to_string())));
                    return Err(e);
                }
            };
            watch_loop(&dump, &events, marker, period, &flag)
        });
        match ready_rx.recv_timeout(Duration::from_secs(10)) {
            Ok(Ok(())) => Ok(Watch {
                stop,
                handle: Some(handle),
            }),
            Ok(Err(e)) => Err(e),
            Err(_) => Err(io::Error::new(io::ErrorKind::TimedOut, "watcher did not start")),
        }
    }

    pub fn stop(mut self) -> io::Result<Timeline> {
        self.stop.store(true, Ordering::SeqCst);
        match self.handle.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            Some(Err(_)) => Err(io::Error::other("watcher thread panicked")),
            None => Err(io::Error::other("watcher already stopped")),
        }
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(h) = self.handle.take() {
            let _ = h.join();
        }
    }
}

fn enter_and_open(ns_file: &File) -> io::Result<(OwnedFd, OwnedFd)> {
    // SAFETY: setns on a valid namespace fd; it only moves this thread.
    if unsafe { libc::setns(ns_file.as_raw_fd(), libc::CLONE_NEWNET) } != 0 {
        return Err(io::Error::last_os_error());
    }
    let dump = netlink_socket(0)?;
    let events = netlink_socket(GROUP_IPV4_ROUTE)?;
    Ok((dump, events))
}

fn netlink_socket(groups: u32) -> io::Result<OwnedFd> {
    // SAFETY: plain socket(2); the fd is owned right away.
    let fd = unsafe {
        libc::socket(
            libc::AF_NETLINK,
            libc::SOCK_RAW | libc::SOCK_CLOEXEC,
            libc::NETLINK_ROUTE,
        )
    };
    if fd < 0 {
        return Err(io::Error::last_os_error());
    }
    // SAFETY: fd is a fresh, valid descriptor nobody else owns.
    let owned = unsafe { OwnedFd::from_raw_fd(fd) };
    // SAFETY: sockaddr_nl is plain data; zeroed is a valid value.
    let mut addr: libc::sockaddr_nl = unsafe { std::mem::zeroed() };
    addr.nl_family = libc::AF_NETLINK as u16;
    addr.nl_groups = groups;
    // SAFETY: addr is a valid sockaddr_nl of the given size.
    let rc = unsafe {
        libc::bind(
            fd,
            &addr as *const libc::sockaddr_nl as *const libc::sockaddr,
            std::mem::size_of::<libc::sockaddr_nl>() as u32,
        )
    };
    if rc != 0 {
        return Err(io::Error::last_os_error());
    }
    if groups != 0 {
        let big: libc::c_int = 4 << 20;
        // SAFETY: setsockopt with a valid int option.
        unsafe {
            libc::setsockopt(
                fd,
                libc::SOL_SOCKET,
                libc::SO_RCVBUF,
                &big as *const _ as *const libc::c_void,
                4,
            );
        }
    }
    Ok(owned)
}

fn watch_loop(
    dump: &OwnedFd,
    events: &OwnedFd,
    marker: Ipv4Addr,
    period: Duration,
    stop: &AtomicBool,
) -> io::Result<Timeline> {
    let mut timeline = Timeline::default();
    let mut seq = 1u32;
    let mut last_poll: Option<Instant> = None;
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let stopping = stop.load(Ordering::SeqCst);
        drain_events(events, &mut buf, &mut timeline)?;
        let at = Instant::now();
        let defaults = dump_defaults(dump, &mut seq, &mut buf)?;
        let has_marker = dump_has_address(dump, &mut seq, &mut buf, marker)?;
        if let Some(prev) = last_poll {
            timeline.longest_poll_gap = timeline.longest_poll_gap.max(at - prev);
        }
        last_poll = Some(at);
        timeline.polls += 1;
        let changed = timeline
            .samples
            .last()
            .is_none_or(|s| s.defaults != defaults || s.marker != has_marker);
        if changed {
            timeline.samples.push(Sample {
                at,
                defaults,
                marker: has_marker,
            });
        }
        if stopping {
            return Ok(timeline);
        }
        std::thread::sleep(period);
    }
}

fn send_dump(fd: &OwnedFd, kind: u16, seq: u32, body: &[u8]) -> io::Result<()> {
    let len = 16 + body.len();
    let mut msg = Vec::with_capacity(len);
    msg.extend_from_slice(&(len as u32).to_ne_bytes());
    msg.extend_from_slice(&kind.to_ne_bytes());
    msg.extend_from_slice(&(NLM_F_REQUEST | NLM_F_DUMP).to_ne_bytes());
    msg.extend_from_slice(&seq.to_ne_bytes());
    msg.extend_from_slice(&0u32.to_ne_bytes());
    msg.extend_from_slice(body);
    // SAFETY: msg is a valid buffer of msg.len() bytes.
    let sent = unsafe { libc::send(fd.as_raw_fd(), msg.as_ptr() as *const libc::c_void, msg.len(), 0) };
    if sent < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}

/// Calls `each(type, payload)` for every message of the dump with sequence `seq`.
fn read_dump(fd: &OwnedFd, seq: u32, buf: &mut [u8], mut each: impl FnMut(u16, &[u8])) -> io::Result<()> {
    loop {
        // SAFETY: buf is a valid writable buffer.
        let n = unsafe { libc::recv(fd.as_raw_fd(), buf.as_mut_ptr() as *mut libc::c_void, buf.len(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            if e.kind() == io::ErrorKind::Interrupted {
                continue;
            }
            return Err(e);
        }
        let mut done = false;
        for (kind, msg_seq, payload) in messages(&buf[..n as usize]) {
            if msg_seq != seq {
                continue;
            }
            match kind {
                NLMSG_DONE => done = true,
                NLMSG_ERROR => {
                    let code = payload
                        .get(..4)
                        .map_or(0, |b| i32::from_ne_bytes([b[0], b[1], b[2], b[3]]));
                    if code != 0 {
                        return Err(io::Error::from_raw_os_error(-code));
                    }
                }
                _ => each(kind, payload),
            }
        }
        if done {
            return Ok(());
        }
    }
}

fn messages(bytes: &[u8]) -> Vec<(u16, u32, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 16 <= bytes.len() {
        let h = &bytes[at..];
        let len = u32::from_ne_bytes([h[0], h[1], h[2], h[3]]) as usize;
        if len < 16 || at + len > bytes.len() {
            break;
        }
        let kind = u16::from_ne_bytes([h[4], h[5]]);
        let seq = u32::from_ne_bytes([h[8], h[9], h[10], h[11]]);
        out.push((kind, seq, &bytes[at + 16..at + len]));
        at += (len + 3) & !3;
    }
    out
}

fn attributes(bytes: &[u8]) -> Vec<(u16, &[u8])> {
    let mut out = Vec::new();
    let mut at = 0;
    while at + 4 <= bytes.len() {
        let len = u16::from_ne_bytes([bytes[at], bytes[at + 1]]) as usize;
        let kind = u16::from_ne_bytes([bytes[at + 2], bytes[at + 3]]) & 0x3fff;
        if len < 4 || at + len > bytes.len() {
            break;
        }
        out.push((kind, &bytes[at + 4..at + len]));
        at += (len + 3) & !3;
    }
    out
}

fn u32_of(b: &[u8]) -> Option<u32> {
    Some(u32::from_ne_bytes(b.get(..4)?.try_into().ok()?))
}

fn ipv4_of(b: &[u8]) -> Option<Ipv4Addr> {
    let o: [u8; 4] = b.get(..4)?.try_into().ok()?;
    Some(Ipv4Addr::from(o))
}

/// A main-table IPv4 unicast default route in an rtmsg payload.
fn default_route(payload: &[u8]) -> Option<DefaultRoute> {
    let rtm = payload.get(..12)?;
    let (family, dst_len, header_table, protocol, rtype) = (rtm[0], rtm[1], rtm[4], rtm[5], rtm[7]);
    if i32::from(family) != libc::AF_INET || dst_len != 0 || rtype != RTN_UNICAST {
        return None;
    }
    let mut table = u32::from(header_table);
    let mut route = DefaultRoute {
        gateway: None,
        oif: 0,
        protocol,
    };
    for (kind, value) in attributes(&payload[12..]) {
        match kind {
            RTA_TABLE => table = u32_of(value)?,
            RTA_GATEWAY => route.gateway = ipv4_of(value),
            RTA_OIF => route.oif = u32_of(value)?,
            _ => {}
        }
    }
    (table == RT_TABLE_MAIN).then_some(route)
}

fn dump_defaults(fd: &OwnedFd, seq: &mut u32, buf: &mut [u8]) -> io::Result<Vec<DefaultRoute>> {
    *seq += 1;
    let mut rtmsg = [0u8; 12];
    rtmsg[0] = libc::AF_INET as u8;
    send_dump(fd, RTM_GETROUTE, *seq, &rtmsg)?;
    let mut out = Vec::new();
    read_dump(fd, *seq, buf, |kind, payload| {
        if kind == RTM_NEWROUTE {
            out.extend(default_route(payload));
        }
    })?;
    out.sort();
    Ok(out)
}

fn dump_has_address(fd: &OwnedFd, seq: &mut u32, buf: &mut [u8], wanted: Ipv4Addr) -> io::Result<bool> {
    *seq += 1;
    let mut ifaddrmsg = [0u8; 8];
    ifaddrmsg[0] = libc::AF_INET as u8;
    send_dump(fd, RTM_GETADDR, *seq, &ifaddrmsg)?;
    let mut found = false;
    read_dump(fd, *seq, buf, |kind, payload| {
        if kind == RTM_NEWADDR && payload.len() >= 8 {
            found |= attributes(&payload[8..])
                .iter()
                .any(|(k, v)| *k == IFA_LOCAL && ipv4_of(v) == Some(wanted));
        }
    })?;
    Ok(found)
}

fn drain_events(fd: &OwnedFd, buf: &mut [u8], timeline: &mut Timeline) -> io::Result<()> {
    loop {
        // SAFETY: buf is a valid writable buffer; MSG_DONTWAIT keeps the loop polling.
        let n = unsafe {
            libc::recv(
                fd.as_raw_fd(),
                buf.as_mut_ptr() as *mut libc::c_void,
                buf.len(),
                libc::MSG_DONTWAIT,
            )
        };
        if n < 0 {
            let e = io::Error::last_os_error();
            return match e.kind() {
                io::ErrorKind::WouldBlock => Ok(()),
                io::ErrorKind::Interrupted => continue,
                // ENOBUFS: notifications were lost, so a deletion may be unseen.
                _ => Err(io::Error::new(e.kind(), format!("route notifications: {e}"))),
            };
        }
        let at = Instant::now();
        for (kind, _, payload) in messages(&buf[..n as usize]) {
            if kind == RTM_DELROUTE && default_route(payload).is_some() {
                timeline.default_deletions.push(at);
            }
        }
    }
}
