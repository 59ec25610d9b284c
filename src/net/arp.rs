//! Gratuitous ARP and unsolicited Neighbour Advertisements, byte for byte as keepalived
//! sends them (vrrp_arp.c, vrrp_ndisc.c), over one send-only AF_PACKET socket, and a
//! pacer that sends the bursts (repeat × all addresses, keepalived's order) with
//! `vrrp_garp_interval` / `vrrp_gna_interval` spacing per base interface.
//!
//! Frames:
//! - ARP: Ethernet broadcast from the interface (or VMAC) MAC; an ARP *request* with
//!   sha = that MAC, spa = tpa = VIP, tha = ff:ff:ff:ff:ff:ff.
//! - NA: to ff02::1 (33:33:00:00:00:01) *from the VIP itself*, hop limit 255, Override
//!   set, Router set when IPv6 forwarding is on for the base interface, with the
//!   target link-layer address option.
//!
//! Interfaces flagged IFF_NOARP get nothing; that check is the caller's (it has the
//! link facts).

use super::error::{NetError, Result};
use super::sysctl::{self, SysctlKey};
use pnet_base::MacAddr;
use pnet_packet::arp::{ArpHardwareTypes, ArpOperations, MutableArpPacket};
use pnet_packet::ethernet::{EtherTypes, MutableEthernetPacket};
use pnet_packet::icmpv6::ndp::{
    MutableNeighborAdvertPacket, NdpOption, NdpOptionTypes, NeighborAdvertFlags,
};
use pnet_packet::icmpv6::{self, Icmpv6Code, Icmpv6Packet, Icmpv6Types};
use pnet_packet::ip::IpNextHeaderProtocols;
use pnet_packet::ipv6::MutableIpv6Packet;
use socket2::{Domain, SockAddr, SockAddrStorage, Socket, Type};
use std::collections::{HashMap, VecDeque};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::mpsc;
use tokio::time::Instant;

pub const GARP_FRAME_LEN: usize = 42;
pub const NA_FRAME_LEN: usize = 86;
const ETH_HEADER_LEN: usize = 14;
const IPV6_HEADER_LEN: usize = 40;
/// NA body (24) + target link-layer address option (8).
const NA_LEN: usize = 32;
const ALL_NODES: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 1);
const ALL_NODES_MAC: [u8; 6] = [0x33, 0x33, 0, 0, 0, 1];
const BROADCAST_MAC: [u8; 6] = [0xff; 6];
/// keepalived re-reads the forwarding sysctl for the NA Router flag at most this often.
const ROUTER_FLAG_RECHECK: Duration = Duration::from_secs(5);

fn frame_error(what: &str) -> NetError {
    NetError::Invalid(format!("cannot lay out {what}: buffer too small"))
}

/// The gratuitous ARP keepalived sends for `vip` from `mac`.
pub fn garp_frame(mac: [u8; 6], vip: Ipv4Addr) -> Result<[u8; GARP_FRAME_LEN]> {
    let mut frame = [0u8; GARP_FRAME_LEN];
    let mut eth = MutableEthernetPacket::new(&mut frame).ok_or_else(|| frame_error("GARP"))?;
    eth.set_destination(MacAddr::from(BROADCAST_MAC));
    eth.set_source(MacAddr::from(mac));
    eth.set_ethertype(EtherTypes::Arp);
    let mut arp =
        MutableArpPacket::new(&mut frame[ETH_HEADER_LEN..]).ok_or_else(|| frame_error("GARP"))?;
    arp.set_hardware_type(ArpHardwareTypes::Ethernet);
    arp.set_protocol_type(EtherTypes::Ipv4);
    arp.set_hw_addr_len(6);
    arp.set_proto_addr_len(4);
    arp.set_operation(ArpOperations::Request);
    arp.set_sender_hw_addr(MacAddr::from(mac));
    arp.set_sender_proto_addr(vip);
    arp.set_target_hw_addr(MacAddr::from(BROADCAST_MAC));
    arp.set_target_proto_addr(vip);
    Ok(frame)
}

/// The unsolicited NA keepalived sends for `vip` from `mac`.
pub fn na_frame(mac: [u8; 6], vip: Ipv6Addr, router: bool) -> Result<[u8; NA_FRAME_LEN]> {
    let mut frame = [0u8; NA_FRAME_LEN];
    let mut eth = MutableEthernetPacket::new(&mut frame).ok_or_else(|| frame_error("NA"))?;
    eth.set_destination(MacAddr::from(ALL_NODES_MAC));
    eth.set_source(MacAddr::from(mac));
    eth.set_ethertype(EtherTypes::Ipv6);
    let mut ip6 =
        MutableIpv6Packet::new(&mut frame[ETH_HEADER_LEN..]).ok_or_else(|| frame_error("NA"))?;
    ip6.set_version(6);
    ip6.set_payload_length(NA_LEN as u16);
    ip6.set_next_header(IpNextHeaderProtocols::Icmpv6);
    ip6.set_hop_limit(255);
    ip6.set_source(vip);
    ip6.set_destination(ALL_NODES);
    let body = &mut frame[ETH_HEADER_LEN + IPV6_HEADER_LEN..];
    let mut na = MutableNeighborAdvertPacket::new(body).ok_or_else(|| frame_error("NA"))?;
    na.set_icmpv6_type(Icmpv6Types::NeighborAdvert);
    na.set_icmpv6_code(Icmpv6Code(0));
    let mut flags = NeighborAdvertFlags::Override;
    if router {
        flags |= NeighborAdvertFlags::Router;
    }
    na.set_flags(flags);
    na.set_target_addr(vip);
    na.set_options(&[NdpOption {
        option_type: NdpOptionTypes::TargetLLAddr,
        length: 1,
        data: mac.to_vec(),
    }]);
    let checksum = {
        let icmp = Icmpv6Packet::new(&frame[ETH_HEADER_LEN + IPV6_HEADER_LEN..])
            .ok_or_else(|| frame_error("NA"))?;
        icmpv6::checksum(&icmp, &vip, &ALL_NODES)
    };
    frame[ETH_HEADER_LEN + IPV6_HEADER_LEN + 2..ETH_HEADER_LEN + IPV6_HEADER_LEN + 4]
        .copy_from_slice(&checksum.to_be_bytes());
    Ok(frame)
}

/// A send-only AF_PACKET socket (protocol 0: the kernel delivers nothing to it).
pub struct FrameSender {
    fd: AsyncFd<Socket>,
}

impl FrameSender {
    pub fn open() -> Result<FrameSender> {
        tokio::runtime::Handle::try_current().map_err(|_| {
            NetError::Invalid("the ARP/NA sender needs to run inside a tokio runtime".into())
        })?;
        let socket = Socket::new(Domain::PACKET, Type::RAW, None)
            .map_err(|e| NetError::io("open AF_PACKET socket", e))?;
        socket
            .set_nonblocking(true)
            .map_err(|e| NetError::io("AF_PACKET socket non-blocking", e))?;
        // SAFETY: the AsyncFd owns the socket, so the fd stays valid and unchanged.
        let fd = unsafe { AsyncFd::register_with_interest(socket, Interest::WRITABLE) }
            .map_err(|e| NetError::io("register AF_PACKET socket", e.into_parts().1))?;
        Ok(FrameSender { fd })
    }

    /// Sends one complete Ethernet frame out of `ifindex`.
    pub async fn send(&self, ifindex: u32, frame: &[u8]) -> Result<()> {
        if frame.len() < ETH_HEADER_LEN {
            return Err(NetError::Invalid(
                "frame shorter than an Ethernet header".into(),
            ));
        }
        let mut storage = SockAddrStorage::zeroed();
        // SAFETY: sockaddr_ll fits in sockaddr_storage, which is zero-initialised.
        let sll: &mut libc::sockaddr_ll = unsafe { storage.view_as() };
        sll.sll_family = libc::AF_PACKET as u16;
        sll.sll_protocol = u16::from_ne_bytes([frame[12], frame[13]]);
        sll.sll_ifindex = ifindex as i32;
        sll.sll_halen = 6;
        sll.sll_addr[..6].copy_from_slice(&frame[..6]);
        // SAFETY: the storage holds an initialised sockaddr_ll of this length.
        let address = unsafe {
            SockAddr::new(
                storage,
                std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
            )
        };
        let sent = self
            .fd
            .async_io(Interest::WRITABLE, |socket| socket.send_to(frame, &address))
            .await
            .map_err(|e| NetError::io(format!("send frame on interface index {ifindex}"), e))?;
        if sent != frame.len() {
            return Err(NetError::io(
                format!("send frame on interface index {ifindex}"),
                std::io::Error::other("short send"),
            ));
        }
        Ok(())
    }
}

/// One address to announce.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AnnounceTarget {
    /// Interface the address sits on (a VMAC, when it has one): frames leave from here.
    pub ifindex: u32,
    /// That interface's MAC (the VMAC's virtual MAC).
    pub mac: [u8; 6],
    /// The underlying interface: pacing and the NA Router flag are per base interface.
    pub base_ifindex: u32,
    pub base_ifname: Arc<str>,
    pub address: IpAddr,
}

/// A burst: `repeat` rounds over `targets` in order (keepalived passes the VIPs, then
/// the excluded VIPs), on behalf of `owner` (an instance), which can cancel what is
/// still queued when it leaves MASTER.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Burst {
    pub owner: u64,
    pub targets: Vec<AnnounceTarget>,
    pub repeat: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spacing {
    /// `vrrp_garp_interval`: minimum time between two GARPs on one base interface.
    pub garp: Duration,
    /// `vrrp_gna_interval`: the same for NAs.
    pub gna: Duration,
}

enum Command {
    Burst(Burst),
    Cancel(u64),
    Flush(tokio::sync::oneshot::Sender<()>),
}

/// Queues bursts and sends them from a background task; the caller never waits.
pub struct Announcer {
    commands: mpsc::UnboundedSender<Command>,
    task: tokio::task::JoinHandle<()>,
}

impl Announcer {
    /// Opens the socket and starts the pacing task on the current runtime.
    pub fn start(spacing: Spacing) -> Result<Announcer> {
        let sender = FrameSender::open()?;
        let (commands, inbox) = mpsc::unbounded_channel();
        let task = tokio::spawn(Pacer::new(sender, spacing).run(inbox));
        Ok(Announcer { commands, task })
    }

    pub fn announce(&self, burst: Burst) {
        // The task only ends when the Announcer is dropped, so the send cannot fail here.
        let _ = self.commands.send(Command::Burst(burst));
    }

    /// Drops every frame of `owner` not sent yet (keepalived stops announcing for an
    /// instance that is no longer MASTER).
    pub fn cancel(&self, owner: u64) {
        let _ = self.commands.send(Command::Cancel(owner));
    }

    /// Resolves once everything announced so far has been sent (or cancelled), e.g. to
    /// let the last GARPs out before shutting down.
    pub async fn flush(&self) {
        let (done, wait) = tokio::sync::oneshot::channel();
        if self.commands.send(Command::Flush(done)).is_ok() {
            let _ = wait.await;
        }
    }
}

impl Drop for Announcer {
    fn drop(&mut self) {
        self.task.abort();
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Kind {
    Arp,
    Na,
}

impl Kind {
    fn of(address: &IpAddr) -> Kind {
        if address.is_ipv4() {
            Kind::Arp
        } else {
            Kind::Na
        }
    }
}

struct Pending {
    owner: u64,
    /// Shared by the burst's repeats: a takeover of 10000 VIPs queues 50000 frames.
    target: Arc<AnnounceTarget>,
}

/// The frames waiting on one base interface, with how many of each kind there are, so
/// that a wake-up looks at interfaces, not at every queued frame.
#[derive(Default)]
struct BaseQueue {
    frames: VecDeque<Pending>,
    garps: usize,
    nas: usize,
}

impl BaseQueue {
    fn holds(&self, kind: Kind) -> bool {
        match kind {
            Kind::Arp => self.garps > 0,
            Kind::Na => self.nas > 0,
        }
    }

    fn push(&mut self, pending: Pending) {
        match Kind::of(&pending.target.address) {
            Kind::Arp => self.garps += 1,
            Kind::Na => self.nas += 1,
        }
        self.frames.push_back(pending);
    }

    fn remove(&mut self, index: usize) -> Option<Pending> {
        let pending = self.frames.remove(index)?;
        match Kind::of(&pending.target.address) {
            Kind::Arp => self.garps -= 1,
            Kind::Na => self.nas -= 1,
        }
        Some(pending)
    }

    fn cancel(&mut self, owner: u64) {
        self.frames.retain(|p| p.owner != owner);
        self.garps = self
            .frames
            .iter()
            .filter(|p| Kind::of(&p.target.address) == Kind::Arp)
            .count();
        self.nas = self.frames.len() - self.garps;
    }
}

struct Pacer {
    sender: FrameSender,
    spacing: Spacing,
    /// One queue per base interface, in keepalived's order; GARPs and NAs are paced
    /// independently but keep their relative order when both are due.
    queues: HashMap<u32, BaseQueue>,
    /// Earliest time the next frame of a kind may leave a base interface.
    next_slot: HashMap<(u32, Kind), Instant>,
    router_flag: HashMap<String, (Instant, bool)>,
    flush_waiters: Vec<tokio::sync::oneshot::Sender<()>>,
}

impl Pacer {
    fn new(sender: FrameSender, spacing: Spacing) -> Pacer {
        Pacer {
            sender,
            spacing,
            queues: HashMap::new(),
            next_slot: HashMap::new(),
            router_flag: HashMap::new(),
            flush_waiters: Vec::new(),
        }
    }

    fn interval(&self, kind: Kind) -> Duration {
        match kind {
            Kind::Arp => self.spacing.garp,
            Kind::Na => self.spacing.gna,
        }
    }

    fn is_due(&self, base: u32, kind: Kind, now: Instant) -> bool {
        self.next_slot
            .get(&(base, kind))
            .is_none_or(|slot| *slot <= now)
    }

    /// When the earliest queued frame may leave (`None`: nothing queued).
    fn next_wake(&self) -> Option<Instant> {
        self.queues
            .iter()
            .flat_map(|(base, queue)| {
                [Kind::Arp, Kind::Na]
                    .into_iter()
                    .filter(|kind| queue.holds(*kind))
                    .map(move |kind| (*base, kind))
            })
            .filter_map(|key| self.next_slot.get(&key).copied())
            .min()
    }

    async fn run(mut self, mut inbox: mpsc::UnboundedReceiver<Command>) {
        loop {
            self.send_due().await;
            if self.queues.is_empty() {
                for waiter in self.flush_waiters.drain(..) {
                    let _ = waiter.send(());
                }
            }
            let command = match self.next_wake() {
                Some(at) => tokio::select! {
                    command = inbox.recv() => command,
                    _ = tokio::time::sleep_until(at) => continue,
                },
                None => inbox.recv().await,
            };
            match command {
                Some(Command::Burst(burst)) => self.enqueue(burst),
                Some(Command::Cancel(owner)) => {
                    for queue in self.queues.values_mut() {
                        queue.cancel(owner);
                    }
                }
                Some(Command::Flush(waiter)) => self.flush_waiters.push(waiter),
                None => return,
            }
        }
    }

    fn enqueue(&mut self, burst: Burst) {
        let targets: Vec<Arc<AnnounceTarget>> = burst.targets.into_iter().map(Arc::new).collect();
        for _ in 0..burst.repeat {
            for target in &targets {
                self.queues
                    .entry(target.base_ifindex)
                    .or_default()
                    .push(Pending {
                        owner: burst.owner,
                        target: target.clone(),
                    });
            }
        }
    }

    async fn send_due(&mut self) {
        let bases: Vec<u32> = self.queues.keys().copied().collect();
        for base in bases {
            // The first frame whose kind may leave now; frames of a kind that must wait
            // are skipped, and a kind that must wait stops the scan when nothing else is
            // queued (a 10000-VIP burst is not walked once per paced frame).
            while let Some((index, kind)) = self.queues.get(&base).and_then(|q| {
                let now = Instant::now();
                let arp = q.holds(Kind::Arp) && self.is_due(base, Kind::Arp, now);
                let na = q.holds(Kind::Na) && self.is_due(base, Kind::Na, now);
                if !arp && !na {
                    return None;
                }
                q.frames.iter().enumerate().find_map(|(i, p)| {
                    let kind = Kind::of(&p.target.address);
                    let due = match kind {
                        Kind::Arp => arp,
                        Kind::Na => na,
                    };
                    due.then_some((i, kind))
                })
            }) {
                let Some(pending) = self.queues.get_mut(&base).and_then(|q| q.remove(index)) else {
                    break;
                };
                self.send_one(&pending.target).await;
                let interval = self.interval(kind);
                if !interval.is_zero() {
                    self.next_slot
                        .insert((base, kind), Instant::now() + interval);
                }
            }
        }
        self.queues.retain(|_, q| !q.frames.is_empty());
    }

    fn is_router(&mut self, ifname: &str) -> bool {
        let now = Instant::now();
        if let Some((checked, router)) = self.router_flag.get(ifname) {
            if now.duration_since(*checked) < ROUTER_FLAG_RECHECK {
                return *router;
            }
        }
        let router = SysctlKey::ipv6_conf(ifname, "forwarding")
            .and_then(|key| sysctl::read(&key))
            .is_ok_and(|value| value != "0");
        self.router_flag.insert(ifname.to_string(), (now, router));
        router
    }

    async fn send_one(&mut self, target: &AnnounceTarget) {
        let frame = match target.address {
            IpAddr::V4(vip) => garp_frame(target.mac, vip).map(|f| f.to_vec()),
            IpAddr::V6(vip) => {
                let router = self.is_router(&target.base_ifname);
                na_frame(target.mac, vip, router).map(|f| f.to_vec())
            }
        };
        let result = match frame {
            Ok(frame) => self.sender.send(target.ifindex, &frame).await,
            Err(e) => Err(e),
        };
        if let Err(e) = result {
            tracing::warn!(
                "announcing {} on interface index {}: {e}",
                target.address,
                target.ifindex
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    #[test]
    fn garp_matches_keepalived_capture() {
        // shared/pcaps/vrrpv2-takeover-arp.txt, frame 2 (keepalived 2.2.7).
        let golden = "ffffffffffff020000000011080600010800060400010200000000\
                      11c0000201ffffffffffffc0000201";
        let frame = garp_frame([2, 0, 0, 0, 0, 0x11], "192.0.2.1".parse().unwrap()).unwrap();
        assert_eq!(hex(&frame), golden.replace(' ', ""));
    }

    #[test]
    fn na_matches_keepalived_capture() {
        // keepalived 2.2.7, IPv6 VIP 2001:db8::1 on a forwarding interface with MAC
        // 02:00:00:00:00:11, captured with tcpdump on the peer.
        let golden = "33330000000102000000001186dd6000000000203aff20010db8000000000000000000000001\
                      ff0200000000000000000000000000018800791aa000000020010db8000000000000000000000001\
                      0201020000000011";
        let frame = na_frame([2, 0, 0, 0, 0, 0x11], "2001:db8::1".parse().unwrap(), true).unwrap();
        assert_eq!(hex(&frame), golden.replace(' ', ""));
    }

    #[test]
    fn na_layout_and_checksum() {
        let mac = [0, 0, 0x5e, 0, 2, 51];
        let vip: Ipv6Addr = "2001:db8::1".parse().unwrap();
        let frame = na_frame(mac, vip, true).unwrap();
        assert_eq!(hex(&frame[..14]), "33330000000100005e00023386dd");
        // version 6, class 0, flow 0; payload 32; ICMPv6; hop limit 255
        assert_eq!(hex(&frame[14..22]), "6000000000203aff");
        assert_eq!(frame[22..38], vip.octets());
        assert_eq!(frame[38..54], ALL_NODES.octets());
        assert_eq!(frame[54], 136);
        assert_eq!(frame[58], 0xa0, "Router|Override");
        assert_eq!(frame[62..78], vip.octets());
        assert_eq!(hex(&frame[78..]), "020100005e000233");
        // The checksum verifies: the one's complement sum over pseudo-header and body is 0xffff.
        let mut data = Vec::new();
        data.extend_from_slice(&vip.octets());
        data.extend_from_slice(&ALL_NODES.octets());
        data.extend_from_slice(&32u32.to_be_bytes());
        data.extend_from_slice(&[0, 0, 0, 58]);
        data.extend_from_slice(&frame[54..]);
        let mut sum: u32 = data
            .chunks(2)
            .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
            .sum();
        while sum > 0xffff {
            sum = (sum & 0xffff) + (sum >> 16);
        }
        assert_eq!(sum, 0xffff);
        assert_eq!(
            na_frame(mac, vip, false).unwrap()[58],
            0x20,
            "Override only"
        );
    }
}
