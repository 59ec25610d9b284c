//! Address adds and deletes from every instance, packed many to a datagram on a socket
//! of our own.
//!
//! The kernel handles every message of a datagram within the one sendmsg call, so a
//! takeover's thousands of VIPs cost a few dozen system calls instead of two per
//! address. Requests from all executors form a round, gathered while they keep arriving;
//! those arriving during a round wait for the next. Only the last message of a datagram
//! asks for an ACK: a refusal is reported with the request's sequence number whatever the
//! flag, so each address still gets its own answer, and the last ACK says every earlier
//! answer has been read.

use super::addr::{add_message, del_message, describe};
use super::{extack_message, force_rcvbuf};
use crate::config::model::AddressEntry;
use crate::net::error::{Change, NetError, Result};
use futures::channel::{mpsc, oneshot};
use futures::StreamExt;
use rtnetlink::packet_core::{
    NetlinkMessage, NLM_F_ACK, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REQUEST,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use rtnetlink::sys::{protocols::NETLINK_ROUTE, Socket};
use std::collections::HashMap;
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::Notify;

/// Messages per datagram: bounds the refusals queued at once on our socket. After each
/// datagram of adds the kernel's address-lifetime worker preempts us, and it walks every
/// address: at 256 a datagram those 39 pauses took about 9 ms of a 10000-VIP takeover.
/// First VIP to all took a median 56 ms at 1024 against 65 ms at 256 (8 interleaved runs
/// of each with compat/bench-scale.sh).
const MESSAGES_PER_DATAGRAM: usize = 1024;
/// An IPv6 add costs the kernel far more than an IPv4 one (about 100 µs each for 1000 on
/// one interface, against 6 µs for a takeover's IPv4 VIPs): counted as this many
/// messages, a datagram of them (256, some 25 ms of the kernel's work on the loop's
/// thread) blocks the loop no longer than before datagrams grew to 1024.
const IPV6_MESSAGE_COST: usize = 4;
/// The kernel works on a datagram (about 6 ms for 1024 adds) on the loop's thread:
/// other tasks get a turn after this long. Longer turns finish a takeover's VIPs
/// sooner; shorter ones delay its adverts less. 100 ms holds a 10000-VIP takeover in
/// one turn on a busy machine (first to last VIP 80 ms against 96 ms with 50 ms turns)
/// and stays well under the master-down interval (three adverts and the skew) of an
/// advert_int of 0.1 s, so that a peer does not take over while the adds go in.
const TURN: Duration = Duration::from_millis(100);
/// How long a round may wait for more requests while they keep arriving.
const GATHER_LIMIT: Duration = Duration::from_millis(20);
/// Well under the socket's default send buffer, which bounds one datagram.
const BYTES_PER_DATAGRAM: usize = 64 * 1024;
/// The kernel answers within the sendmsg call; this only bounds a kernel that did not.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(2);
/// Room for every refusal of a full datagram (capped error messages with extack text).
const RECEIVE_BUFFER: usize = 4 * 1024 * 1024;

const NLMSG_ERROR: u16 = 2;
const HEADER_LEN: usize = 16;

/// The device an address goes on, by index, or by name resolved when the datagram is
/// built (so a renamed or re-created device is looked up afresh).
#[derive(Debug, Clone)]
pub enum Device {
    Index(u32),
    Name(Arc<str>),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Op {
    Add,
    Delete,
}

struct Job {
    op: Op,
    items: Vec<(Device, AddressEntry)>,
    reply: oneshot::Sender<Vec<Result<Change>>>,
}

/// Handle shared by every clone of a [`super::Netlink`]; the worker ends with the last.
#[derive(Debug, Clone)]
pub(super) struct Batcher {
    jobs: mpsc::UnboundedSender<Job>,
    /// The socket's netlink port: the kernel's notifications of changes it asked for
    /// carry it.
    port: u32,
    /// Woken after a round that added addresses, for a listener that does not read the
    /// kernel's own notifications of them.
    added: Arc<Notify>,
    /// Rounds sent so far: a takeover's requests should make one.
    rounds: Arc<AtomicU64>,
}

impl Batcher {
    pub(super) fn start() -> Result<Batcher> {
        let (socket, port) = BatchSocket::open()?;
        let (jobs, rx) = mpsc::unbounded();
        let added = Arc::new(Notify::new());
        let rounds = Arc::new(AtomicU64::new(0));
        tokio::spawn(socket.serve(rx, added.clone(), rounds.clone()));
        Ok(Batcher { jobs, port, added, rounds })
    }

    pub(super) fn rounds(&self) -> u64 {
        self.rounds.load(Ordering::Relaxed)
    }

    pub(super) fn port(&self) -> u32 {
        self.port
    }

    pub(super) fn added(&self) -> Arc<Notify> {
        self.added.clone()
    }

    async fn submit(&self, op: Op, items: Vec<(Device, AddressEntry)>) -> Vec<Result<Change>> {
        let count = items.len();
        let (reply, answer) = oneshot::channel();
        if self.jobs.unbounded_send(Job { op, items, reply }).is_err() {
            return (0..count).map(|_| Err(NetError::Closed)).collect();
        }
        answer.await.unwrap_or_else(|_| (0..count).map(|_| Err(NetError::Closed)).collect())
    }

    pub(super) async fn add(&self, items: Vec<(Device, AddressEntry)>) -> Vec<Result<Change>> {
        self.submit(Op::Add, items).await
    }

    pub(super) async fn delete(&self, items: Vec<(Device, AddressEntry)>) -> Vec<Result<Change>> {
        self.submit(Op::Delete, items).await
    }
}

/// Where one message's answer goes.
#[derive(Clone, Copy)]
struct Slot {
    job: usize,
    item: usize,
}

struct Pending {
    slot: Slot,
    op: Op,
    index: u32,
    /// Where the message's bytes are in the round's wire buffer.
    start: usize,
    len: usize,
    /// In messages of [`MESSAGES_PER_DATAGRAM`].
    cost: usize,
}

struct Round {
    jobs: Vec<Job>,
    results: Vec<Vec<Option<Result<Change>>>>,
}

impl Round {
    fn new(jobs: Vec<Job>) -> Round {
        let results = jobs.iter().map(|j| j.items.iter().map(|_| None).collect()).collect();
        Round { jobs, results }
    }

    /// The operation as the single-request calls name it in errors.
    fn describe(&self, pending: &Pending) -> String {
        let entry = &self.jobs[pending.slot.job].items[pending.slot.item].1;
        match pending.op {
            Op::Add => format!("add address {}", describe(pending.index, entry)),
            Op::Delete => format!("delete address {}", describe(pending.index, entry)),
        }
    }

    fn settle(&mut self, slot: Slot, result: Result<Change>) {
        self.results[slot.job][slot.item] = Some(result);
    }

    fn added_any(&self) -> bool {
        self.jobs.iter().zip(&self.results).any(|(job, results)| {
            job.op == Op::Add && results.iter().any(|r| matches!(r, Some(Ok(Change::Applied))))
        })
    }

    /// Answers every job once the whole round is in: an executor that has its answer
    /// goes on to announce its addresses, and thousands of gratuitous ARPs would
    /// otherwise compete with the rest of a takeover's addresses.
    fn answer(self) {
        for (job, results) in self.jobs.into_iter().zip(self.results) {
            let _ = job.reply.send(results.into_iter().map(|r| r.unwrap_or(Ok(Change::Applied))).collect());
        }
    }
}

struct BatchSocket {
    fd: AsyncFd<Socket>,
    seq: u32,
}

impl BatchSocket {
    fn open() -> Result<(BatchSocket, u32)> {
        let io = |op: &str, e| NetError::io(op, e);
        let mut socket = Socket::new(NETLINK_ROUTE).map_err(|e| io("open rtnetlink socket", e))?;
        let port = socket.bind_auto().map_err(|e| io("bind rtnetlink socket", e))?.port_number();
        socket.set_non_blocking(true).map_err(|e| io("set rtnetlink socket non-blocking", e))?;
        force_rcvbuf(socket.as_raw_fd(), RECEIVE_BUFFER);
        let _ = socket.set_cap_ack(true);
        let _ = socket.set_ext_ack(true);
        // SAFETY: the socket is owned by the AsyncFd from here on, so the fd stays open
        // for as long as it is registered.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE | Interest::WRITABLE) }
            .map_err(|e| io("register rtnetlink socket", e.into_parts().1))?;
        Ok((BatchSocket { fd, seq: 0 }, port))
    }

    async fn serve(mut self, mut jobs: mpsc::UnboundedReceiver<Job>, added: Arc<Notify>, rounds: Arc<AtomicU64>) {
        while let Some(first) = jobs.next().await {
            // Executors woken by the same event (a takeover wakes them all) queue their
            // requests right after this one, but the scheduler runs only some dozens of
            // tasks between two turns of this one: take turns until one brings nothing
            // new, so that a takeover's addresses go in as one uninterrupted round
            // instead of rounds of a hundred instances between other tasks' work.
            let mut batch = vec![first];
            let gathering = Instant::now();
            loop {
                tokio::task::yield_now().await;
                let before = batch.len();
                while let Ok(job) = jobs.try_recv() {
                    batch.push(job);
                }
                if batch.len() == before || gathering.elapsed() >= GATHER_LIMIT {
                    break;
                }
            }
            rounds.fetch_add(1, Ordering::Relaxed);
            self.run(Round::new(batch), &added).await;
        }
    }

    async fn run(&mut self, mut round: Round, added: &Notify) {
        let mut ifindex: HashMap<Arc<str>, Option<u32>> = HashMap::new();
        let mut pending: Vec<Pending> = Vec::new();
        // Every message is encoded before the first is sent: the datagrams then follow
        // one another with nothing but their answers read in between, and each one is a
        // slice of this buffer, sent as it is.
        let mut wire: Vec<u8> = Vec::new();
        for job_index in 0..round.jobs.len() {
            for item_index in 0..round.jobs[job_index].items.len() {
                let slot = Slot { job: job_index, item: item_index };
                let op = round.jobs[job_index].op;
                let (device, entry) = &round.jobs[job_index].items[item_index];
                let resolved = match device {
                    Device::Index(i) => Ok(*i),
                    Device::Name(name) => {
                        ifindex.entry(name.clone()).or_insert_with(|| self.ifindex(name)).ok_or_else(|| name.clone())
                    }
                };
                let index = match resolved {
                    Ok(index) => index,
                    Err(name) => {
                        let result = match op {
                            Op::Add => Err(NetError::NoSuchInterface(name.to_string())),
                            Op::Delete => Ok(Change::Unchanged),
                        };
                        round.settle(slot, result);
                        continue;
                    }
                };
                match request(op, index, entry) {
                    Ok(mut message) => {
                        message.finalize();
                        let start = wire.len();
                        let len = message.buffer_len();
                        wire.resize(start + len, 0);
                        message.serialize(&mut wire[start..]);
                        let cost = if entry.prefix.addr.is_ipv6() { IPV6_MESSAGE_COST } else { 1 };
                        pending.push(Pending { slot, op, index, start, len, cost });
                    }
                    Err(e) => round.settle(slot, Err(e)),
                }
            }
        }
        let mut turn_start = Instant::now();
        let mut rest = pending.as_slice();
        while !rest.is_empty() {
            let (datagram, tail) = rest.split_at(datagram_len(rest));
            self.exchange(&mut round, datagram, &mut wire).await;
            rest = tail;
            if !rest.is_empty() && turn_start.elapsed() >= TURN {
                tokio::task::yield_now().await;
                turn_start = Instant::now();
            }
        }
        if round.added_any() {
            added.notify_one();
        }
        round.answer();
    }

    /// Index of a device by name, on this socket's namespace; `None` if there is none.
    fn ifindex(&self, name: &str) -> Option<u32> {
        let bytes = name.as_bytes();
        // SAFETY: ifreq is plain old data; all zeroes is a valid value.
        let mut request: libc::ifreq = unsafe { std::mem::zeroed() };
        if bytes.is_empty() || bytes.len() >= request.ifr_name.len() || bytes.contains(&0) {
            return None;
        }
        for (dst, src) in request.ifr_name.iter_mut().zip(bytes) {
            *dst = *src as libc::c_char;
        }
        // SAFETY: the fd is an open socket; SIOCGIFINDEX reads the name and writes the
        // index into the request, which lives across the call.
        let rc = unsafe { libc::ioctl(self.fd.get_ref().as_raw_fd(), libc::SIOCGIFINDEX, &mut request) };
        if rc != 0 {
            return None;
        }
        // SAFETY: after a successful SIOCGIFINDEX the union holds the index.
        u32::try_from(unsafe { request.ifr_ifru.ifru_ifindex }).ok()
    }

    /// Sends one datagram and collects an answer for each of its messages.
    async fn exchange(&mut self, round: &mut Round, datagram: &[Pending], wire: &mut [u8]) {
        let first_seq = self.seq.wrapping_add(1);
        let last = datagram.len() - 1;
        for (i, pending) in datagram.iter().enumerate() {
            self.seq = self.seq.wrapping_add(1);
            let header = &mut wire[pending.start..pending.start + HEADER_LEN];
            header[8..12].copy_from_slice(&self.seq.to_ne_bytes());
            if i == last {
                let flags = u16::from_ne_bytes([header[6], header[7]]) | NLM_F_ACK;
                header[6..8].copy_from_slice(&flags.to_ne_bytes());
            }
        }
        let bytes = &wire[datagram[0].start..datagram[last].start + datagram[last].len];
        let slot_of = |seq: u32| -> Option<usize> {
            let offset = seq.wrapping_sub(first_seq) as usize;
            (offset <= last).then_some(offset)
        };
        let outcome = tokio::time::timeout(ANSWER_TIMEOUT, async {
            self.send(bytes).await?;
            let mut finished = false;
            let mut answer = vec![0u8; 64 * 1024];
            while !finished {
                let len = self.receive(&mut answer).await?;
                for (seq, errno, detail) in errors_in(&answer[..len]) {
                    let Some(offset) = slot_of(seq) else { continue };
                    finished |= offset == last;
                    let pending = &datagram[offset];
                    let result = match errno {
                        0 => Ok(Change::Applied),
                        errno => refusal(round, pending, errno, detail.as_deref()),
                    };
                    round.settle(pending.slot, result);
                }
            }
            Ok::<(), std::io::Error>(())
        })
        .await;
        let failure = match outcome {
            Ok(Ok(())) => None,
            Ok(Err(e)) => Some(e),
            Err(_) => Some(std::io::Error::from(std::io::ErrorKind::TimedOut)),
        };
        for pending in datagram.iter() {
            let slot = pending.slot;
            if round.results[slot.job][slot.item].is_none() {
                let result = match &failure {
                    None => Ok(Change::Applied),
                    Some(e) => Err(NetError::io(round.describe(pending), std::io::Error::new(e.kind(), e.to_string()))),
                };
                round.settle(slot, result);
            }
        }
    }

    async fn send(&self, bytes: &[u8]) -> std::io::Result<()> {
        loop {
            let mut guard = self.fd.writable().await?;
            match guard.try_io(|fd| fd.get_ref().send(bytes, 0)) {
                Ok(result) => return result.map(|_| ()),
                Err(_would_block) => continue,
            }
        }
    }

    async fn receive(&self, answer: &mut Vec<u8>) -> std::io::Result<usize> {
        loop {
            let mut guard = self.fd.readable().await?;
            answer.clear();
            match guard.try_io(|fd| fd.get_ref().recv(answer, 0)) {
                Ok(result) => return result.map(|n| n.min(answer.len())),
                Err(_would_block) => continue,
            }
        }
    }
}

/// How many of `pending`'s first messages go in one datagram: at least one, at most
/// [`MESSAGES_PER_DATAGRAM`] counting costs, and within [`BYTES_PER_DATAGRAM`].
fn datagram_len(pending: &[Pending]) -> usize {
    let mut count = 0;
    let mut bytes = 0;
    let mut cost = 0;
    for message in pending {
        if count > 0 && (bytes + message.len > BYTES_PER_DATAGRAM || cost + message.cost > MESSAGES_PER_DATAGRAM) {
            break;
        }
        bytes += message.len;
        cost += message.cost;
        count += 1;
    }
    count
}

fn request(op: Op, index: u32, entry: &AddressEntry) -> Result<NetlinkMessage<RouteNetlinkMessage>> {
    let (payload, flags) = match op {
        Op::Add => (RouteNetlinkMessage::NewAddress(add_message(index, entry)?), NLM_F_CREATE | NLM_F_EXCL),
        Op::Delete => (RouteNetlinkMessage::DelAddress(del_message(index, entry)?), 0),
    };
    let mut message = NetlinkMessage::from(payload);
    message.header.flags = NLM_F_REQUEST | flags;
    Ok(message)
}


/// An add finding the address there, or a delete not finding it, is what was wanted.
fn refusal(round: &Round, pending: &Pending, errno: i32, detail: Option<&str>) -> Result<Change> {
    let unchanged: &[i32] = match pending.op {
        Op::Add => &[libc::EEXIST],
        Op::Delete => &[libc::EADDRNOTAVAIL, libc::ENODEV],
    };
    if unchanged.contains(&errno) {
        Ok(Change::Unchanged)
    } else {
        Err(NetError::kernel(round.describe(pending), errno, detail))
    }
}

/// (sequence number, positive errno or 0 for an ACK, extended-ack text) of every error
/// message in a datagram; anything else is skipped.
fn errors_in(datagram: &[u8]) -> Vec<(u32, i32, Option<String>)> {
    let mut found = Vec::new();
    let mut rest = datagram;
    while rest.len() >= HEADER_LEN {
        let len = u32::from_ne_bytes([rest[0], rest[1], rest[2], rest[3]]) as usize;
        if len < HEADER_LEN || len > rest.len() {
            break;
        }
        let kind = u16::from_ne_bytes([rest[4], rest[5]]);
        let flags = u16::from_ne_bytes([rest[6], rest[7]]);
        let seq = u32::from_ne_bytes([rest[8], rest[9], rest[10], rest[11]]);
        if kind == NLMSG_ERROR && len >= HEADER_LEN + 4 {
            let code = i32::from_ne_bytes([rest[16], rest[17], rest[18], rest[19]]);
            let detail = if code == 0 { None } else { extack_message(flags, &rest[HEADER_LEN + 4..len]) };
            found.push((seq, code.saturating_neg(), detail));
        }
        rest = rest.get(len.div_ceil(4) * 4..).unwrap_or(&[]);
    }
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn error_message(seq: u32, code: i32, flags: u16) -> Vec<u8> {
        let mut m = Vec::new();
        m.extend_from_slice(&36u32.to_ne_bytes());
        m.extend_from_slice(&NLMSG_ERROR.to_ne_bytes());
        m.extend_from_slice(&flags.to_ne_bytes());
        m.extend_from_slice(&seq.to_ne_bytes());
        m.extend_from_slice(&0u32.to_ne_bytes());
        m.extend_from_slice(&code.to_ne_bytes());
        m.extend_from_slice(&[0u8; 16]);
        m
    }

    fn pending(len: usize, cost: usize) -> Pending {
        Pending { slot: Slot { job: 0, item: 0 }, op: Op::Add, index: 1, start: 0, len, cost }
    }

    #[test]
    fn datagrams_are_bounded_by_message_cost_and_bytes() {
        let ipv4: Vec<_> = (0..3000).map(|_| pending(48, 1)).collect();
        assert_eq!(datagram_len(&ipv4), MESSAGES_PER_DATAGRAM);
        let ipv6: Vec<_> = (0..3000).map(|_| pending(60, IPV6_MESSAGE_COST)).collect();
        assert_eq!(datagram_len(&ipv6), MESSAGES_PER_DATAGRAM / IPV6_MESSAGE_COST);
        let mut mixed: Vec<_> = (0..1000).map(|_| pending(48, 1)).collect();
        mixed.extend((0..100).map(|_| pending(60, IPV6_MESSAGE_COST)));
        assert_eq!(datagram_len(&mixed), 1000 + 24 / IPV6_MESSAGE_COST);
        let large: Vec<_> = (0..100).map(|_| pending(1000, 1)).collect();
        assert_eq!(datagram_len(&large), BYTES_PER_DATAGRAM / 1000);
        // A message is sent even if alone it exceeds the bounds.
        assert_eq!(datagram_len(&[pending(BYTES_PER_DATAGRAM + 1, MESSAGES_PER_DATAGRAM + 1)]), 1);
        assert_eq!(datagram_len(&[]), 0);
    }

    #[test]
    fn errors_are_read_with_their_sequence_numbers() {
        let mut datagram = error_message(7, -libc::EEXIST, 0x100);
        datagram.extend(error_message(8, 0, 0x100));
        let found = errors_in(&datagram);
        assert_eq!(found, vec![(7, libc::EEXIST, None), (8, 0, None)]);
    }

    #[test]
    fn a_truncated_datagram_yields_what_is_complete() {
        let mut datagram = error_message(3, -libc::EINVAL, 0);
        datagram.extend(&error_message(4, 0, 0)[..20]);
        assert_eq!(errors_in(&datagram), vec![(3, libc::EINVAL, None)]);
        assert!(errors_in(&[0u8; 10]).is_empty());
    }
}
