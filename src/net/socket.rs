//! Raw IPPROTO_VRRP sockets, one per (interface, family), shared by every instance on it
//! (the caller demultiplexes by VRID).
//!
//! IPv4 sends use IP_HDRINCL: the caller passes the complete datagram, IP header included,
//! so TOS 0xC0, TTL 255, the IP id sequence and the source are byte-for-byte what the
//! codec built (keepalived sends exact headers). Received IPv4 datagrams also include the
//! IP header. IPv6 sends and receives the VRRP message alone; the kernel fills the
//! checksum (IPV6_CHECKSUM, offset 6), hop limit is 255 and the traffic class 0xC0.

use super::error::{NetError, Result};
use super::netlink::{AddressInfo, Netlink};
use crate::config::model::Family;
use nix::sys::socket::{
    recvmsg, sendmsg, setsockopt, sockopt, ControlMessage, ControlMessageOwned, MsgFlags,
    SockaddrIn6, SockaddrStorage,
};
use socket2::{Domain, InterfaceIndexOrAddress, Protocol, SockAddr, Socket, Type};
use std::io::{IoSlice, IoSliceMut};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, SocketAddrV4, SocketAddrV6};
use std::os::fd::AsRawFd;
use std::sync::atomic::{AtomicU32, Ordering};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;

pub const IPPROTO_VRRP: i32 = 112;
pub const IPPROTO_AH: i32 = 51;
pub const VRRP_GROUP_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
pub const VRRP_GROUP_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);
/// IPTOS_PREC_INTERNETCONTROL.
const TRAFFIC_CLASS: u32 = 0xc0;
/// Where the VRRP checksum sits in the message, for the kernel to fill (IPv6).
const VRRP_CHECKSUM_OFFSET: libc::c_int = 6;

/// The interface a socket belongs to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Interface {
    pub name: String,
    pub index: u32,
}

/// How to open a socket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SocketOptions {
    pub family: Family,
    /// SO_BINDTODEVICE target and where groups are joined; `None` only for unicast
    /// instances without an interface.
    pub interface: Option<Interface>,
    /// Multicast groups to join (224.0.0.18 / ff02::12, or `vrrp_mcast_group4/6`).
    pub groups: Vec<IpAddr>,
    /// Address to bind. IPv6 multicast needs the interface link-local here (RFC 5798
    /// requires it as source, and binding is what makes the kernel use it).
    pub source: Option<IpAddr>,
    /// IP_FREEBIND, so a unicast source can be bound before it exists.
    pub freebind: bool,
    /// Hop limit of IPv6 unicast adverts (`unicast_ttl`); `None` leaves the kernel's
    /// default (`hop_limit` sysctl, usually 64), as keepalived does without `unicast_ttl`.
    /// Multicast is always 255. IPv4 carries its TTL in the caller's header.
    pub unicast_hops: Option<u8>,
    /// IPv4 `auth_type AH`: adverts travel as IP protocol 51 (AH, then VRRP), which a
    /// VRRP-protocol raw socket never receives, so the socket is opened for AH instead.
    pub ah: bool,
}

impl SocketOptions {
    /// Multicast on `interface` with the standard VRRP group of `family`.
    pub fn multicast(
        family: Family,
        interface: Interface,
        source: Option<IpAddr>,
    ) -> SocketOptions {
        let group = match family {
            Family::Inet => IpAddr::V4(VRRP_GROUP_V4),
            Family::Inet6 => IpAddr::V6(VRRP_GROUP_V6),
        };
        SocketOptions {
            family,
            interface: Some(interface),
            groups: vec![group],
            source,
            freebind: false,
            unicast_hops: None,
            ah: false,
        }
    }
}

/// One received datagram; the bytes are in the caller's buffer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Received {
    /// Bytes stored: the whole IPv4 datagram, or the IPv6 payload (VRRP message).
    pub len: usize,
    /// The datagram did not fit in the buffer.
    pub truncated: bool,
    pub src: IpAddr,
    /// Destination address of the IP header.
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl: u8,
    /// Interface it arrived on.
    pub ifindex: u32,
}

/// Shareable between a receiving task and senders (every method takes `&self`).
pub struct VrrpSocket {
    fd: AsyncFd<Socket>,
    options: SocketOptions,
    /// The interface's current index (it changes when the interface is re-created).
    index: AtomicU32,
}

fn io_err(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> NetError {
    let op = op.into();
    move |e| NetError::io(op, e)
}

fn nix_err(op: impl Into<String>) -> impl FnOnce(nix::errno::Errno) -> NetError {
    let op = op.into();
    move |e| NetError::io(op, std::io::Error::from(e))
}

fn setsockopt_int(
    socket: &Socket,
    level: libc::c_int,
    name: libc::c_int,
    value: libc::c_int,
) -> std::io::Result<()> {
    let ptr = &value as *const libc::c_int as *const libc::c_void;
    let len = std::mem::size_of::<libc::c_int>() as libc::socklen_t;
    // SAFETY: the socket is open for the duration of the call; value is a live c_int.
    let rc = unsafe { libc::setsockopt(socket.as_raw_fd(), level, name, ptr, len) };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

/// IP_MULTICAST_IF by index (socket2 only sets it by address).
fn set_multicast_if_v4_index(socket: &Socket, index: u32) -> std::io::Result<()> {
    let request = libc::ip_mreqn {
        imr_multiaddr: libc::in_addr { s_addr: 0 },
        imr_address: libc::in_addr { s_addr: 0 },
        imr_ifindex: index as libc::c_int,
    };
    let ptr = &request as *const libc::ip_mreqn as *const libc::c_void;
    let len = std::mem::size_of::<libc::ip_mreqn>() as libc::socklen_t;
    // SAFETY: as above; ip_mreqn is the documented argument of IP_MULTICAST_IF.
    let rc = unsafe {
        libc::setsockopt(
            socket.as_raw_fd(),
            libc::IPPROTO_IP,
            libc::IP_MULTICAST_IF,
            ptr,
            len,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn scope_for(dst: &Ipv6Addr, index: Option<u32>) -> u32 {
    let link_scoped = dst.segments()[0] & 0xffc0 == 0xfe80
        || (dst.is_multicast() && dst.segments()[0] & 0x000f <= 2);
    if link_scoped {
        index.unwrap_or(0)
    } else {
        0
    }
}

impl VrrpSocket {
    /// Opens and configures the socket; must run inside a tokio runtime. For IPv6, a
    /// link-local source still doing DAD gives [`NetError::NotReady`]: retry after the
    /// address event that clears the tentative flag.
    pub fn open(options: SocketOptions) -> Result<VrrpSocket> {
        tokio::runtime::Handle::try_current().map_err(|_| {
            NetError::Invalid("VRRP sockets need to run inside a tokio runtime".into())
        })?;
        let what = match &options.interface {
            Some(i) => format!("VRRP {:?} socket on {}", options.family, i.name),
            None => format!("VRRP {:?} socket", options.family),
        };
        if options
            .groups
            .iter()
            .any(|g| Family::of(g) != options.family || !g.is_multicast())
        {
            return Err(NetError::Invalid(format!(
                "{what}: groups must be multicast addresses of the socket family"
            )));
        }
        if !options.groups.is_empty() && options.interface.is_none() {
            return Err(NetError::Invalid(format!(
                "{what}: joining a group needs an interface"
            )));
        }
        let domain = match options.family {
            Family::Inet => Domain::IPV4,
            Family::Inet6 => Domain::IPV6,
        };
        let protocol = if options.ah { IPPROTO_AH } else { IPPROTO_VRRP };
        let socket = Socket::new(domain, Type::RAW, Some(Protocol::from(protocol)))
            .map_err(io_err(format!("open {what}")))?;
        socket
            .set_nonblocking(true)
            .map_err(io_err(format!("{what}: non-blocking")))?;
        if let Some(interface) = &options.interface {
            socket
                .bind_device(Some(interface.name.as_bytes()))
                .map_err(io_err(format!("{what}: SO_BINDTODEVICE")))?;
        }
        match options.family {
            Family::Inet => Self::configure_v4(&socket, &options, &what)?,
            Family::Inet6 => Self::configure_v6(&socket, &options, &what)?,
        }
        if let Some(source) = options.source {
            if Family::of(&source) != options.family {
                return Err(NetError::Invalid(format!(
                    "{what}: source {source} is of the other family"
                )));
            }
            let scope = match source {
                IpAddr::V6(v6) => scope_for(&v6, options.interface.as_ref().map(|i| i.index)),
                IpAddr::V4(_) => 0,
            };
            let address = match source {
                IpAddr::V4(v4) => SocketAddr::V4(SocketAddrV4::new(v4, 0)),
                IpAddr::V6(v6) => SocketAddr::V6(SocketAddrV6::new(v6, 0, 0, scope)),
            };
            if let Err(e) = socket.bind(&SockAddr::from(address)) {
                return Err(if e.raw_os_error() == Some(libc::EADDRNOTAVAIL) {
                    NetError::NotReady(format!(
                        "{what}: source {source} is not usable yet (tentative or missing)"
                    ))
                } else {
                    NetError::io(format!("{what}: bind {source}"), e)
                });
            }
        }
        let index = options.interface.as_ref().map_or(0, |i| i.index);
        let vrrp = VrrpSocket {
            fd: register(socket, &what)?,
            options,
            index: AtomicU32::new(index),
        };
        vrrp.join_groups(index)?;
        Ok(vrrp)
    }

    fn configure_v4(socket: &Socket, options: &SocketOptions, what: &str) -> Result<()> {
        socket
            .set_header_included_v4(true)
            .map_err(io_err(format!("{what}: IP_HDRINCL")))?;
        socket
            .set_multicast_all_v4(false)
            .map_err(io_err(format!("{what}: IP_MULTICAST_ALL")))?;
        socket
            .set_multicast_loop_v4(false)
            .map_err(io_err(format!("{what}: IP_MULTICAST_LOOP")))?;
        setsockopt(socket, sockopt::Ipv4PacketInfo, &true)
            .map_err(nix_err(format!("{what}: IP_PKTINFO")))?;
        setsockopt(socket, sockopt::Ipv4RecvTtl, &true)
            .map_err(nix_err(format!("{what}: IP_RECVTTL")))?;
        if options.freebind {
            socket
                .set_freebind_v4(true)
                .map_err(io_err(format!("{what}: IP_FREEBIND")))?;
        }
        if let Some(interface) = &options.interface {
            set_multicast_if_v4_index(socket, interface.index)
                .map_err(io_err(format!("{what}: IP_MULTICAST_IF")))?;
        }
        Ok(())
    }

    fn configure_v6(socket: &Socket, options: &SocketOptions, what: &str) -> Result<()> {
        setsockopt_int(
            socket,
            libc::IPPROTO_IPV6,
            libc::IPV6_CHECKSUM,
            VRRP_CHECKSUM_OFFSET,
        )
        .map_err(io_err(format!("{what}: IPV6_CHECKSUM")))?;
        socket
            .set_multicast_all_v6(false)
            .map_err(io_err(format!("{what}: IPV6_MULTICAST_ALL")))?;
        socket
            .set_multicast_loop_v6(false)
            .map_err(io_err(format!("{what}: IPV6_MULTICAST_LOOP")))?;
        socket
            .set_multicast_hops_v6(255)
            .map_err(io_err(format!("{what}: IPV6_MULTICAST_HOPS")))?;
        if let Some(hops) = options.unicast_hops {
            socket
                .set_unicast_hops_v6(u32::from(hops))
                .map_err(io_err(format!("{what}: IPV6_UNICAST_HOPS")))?;
        }
        socket
            .set_tclass_v6(TRAFFIC_CLASS)
            .map_err(io_err(format!("{what}: IPV6_TCLASS")))?;
        setsockopt(socket, sockopt::Ipv6RecvPacketInfo, &true)
            .map_err(nix_err(format!("{what}: IPV6_RECVPKTINFO")))?;
        setsockopt(socket, sockopt::Ipv6RecvHopLimit, &true)
            .map_err(nix_err(format!("{what}: IPV6_RECVHOPLIMIT")))?;
        if options.freebind {
            socket
                .set_freebind_v6(true)
                .map_err(io_err(format!("{what}: IPV6_FREEBIND")))?;
        }
        if let Some(interface) = &options.interface {
            socket
                .set_multicast_if_v6(interface.index)
                .map_err(io_err(format!("{what}: IPV6_MULTICAST_IF")))?;
        }
        Ok(())
    }

    fn join_groups(&self, index: u32) -> Result<()> {
        let Some(interface) = &self.options.interface else {
            return Ok(());
        };
        let socket = self.fd.get_ref();
        for group in &self.options.groups {
            let joined = match group {
                IpAddr::V4(g) => {
                    socket.join_multicast_v4_n(g, &InterfaceIndexOrAddress::Index(index))
                }
                IpAddr::V6(g) => socket.join_multicast_v6(g, index),
            };
            match joined {
                Ok(()) => {}
                // Still a member (the membership survived): nothing to redo.
                Err(e) if e.raw_os_error() == Some(libc::EADDRINUSE) => {}
                Err(e) => {
                    return Err(NetError::io(
                        format!("join {group} on {}", interface.name),
                        e,
                    ))
                }
            }
        }
        Ok(())
    }

    /// Restores the binding and the group memberships after the interface was reset or
    /// re-created (keepalived issue 1847: adverts stop arriving after a driver restart).
    /// `index` is the interface's current index, which changes when it is re-created.
    pub fn rejoin(&self, index: u32) -> Result<()> {
        let Some(interface) = &self.options.interface else {
            return Ok(());
        };
        let old = self.index.load(Ordering::Relaxed);
        let socket = self.fd.get_ref();
        for group in &self.options.groups {
            // Leaving fails when the membership died with the old device; that is fine.
            let _ = match group {
                IpAddr::V4(g) => {
                    socket.leave_multicast_v4_n(g, &InterfaceIndexOrAddress::Index(old))
                }
                IpAddr::V6(g) => socket.leave_multicast_v6(g, old),
            };
        }
        let what = format!("rejoin VRRP groups on {}", interface.name);
        socket
            .bind_device(Some(interface.name.as_bytes()))
            .map_err(io_err(format!("{what}: SO_BINDTODEVICE")))?;
        match self.options.family {
            Family::Inet => set_multicast_if_v4_index(socket, index),
            Family::Inet6 => socket.set_multicast_if_v6(index),
        }
        .map_err(io_err(format!("{what}: multicast interface")))?;
        self.index.store(index, Ordering::Relaxed);
        self.join_groups(index)
    }

    /// The options it was opened with (the interface index there is the original one).
    pub fn options(&self) -> &SocketOptions {
        &self.options
    }

    /// Waits for the next datagram and stores it in `buf` (give it at least the MTU).
    pub async fn recv(&self, buf: &mut [u8]) -> Result<Received> {
        let family = self.options.family;
        self.fd
            .async_io(Interest::READABLE, |socket| {
                receive(socket.as_raw_fd(), family, buf).map_err(std::io::Error::from)
            })
            .await
            .map_err(io_err("receive VRRP datagram"))
    }

    /// Waits for the next datagram and returns a copy of it. The datagram is read into
    /// a buffer shared by every socket of the thread (room for the largest IP datagram),
    /// so that many sockets do not each hold 64 KiB.
    pub async fn recv_owned(&self) -> Result<(Vec<u8>, Received)> {
        thread_local! {
            static SCRATCH: std::cell::RefCell<Vec<u8>> = const { std::cell::RefCell::new(Vec::new()) };
        }
        let family = self.options.family;
        self.fd
            .async_io(Interest::READABLE, |socket| {
                SCRATCH.with_borrow_mut(|buf| {
                    if buf.is_empty() {
                        // Zeroed by the allocator (fresh pages for a block this size), not
                        // written here: only the pages datagrams reach become resident.
                        *buf = vec![0u8; usize::from(u16::MAX) + 1];
                    }
                    let meta = receive(socket.as_raw_fd(), family, buf).map_err(std::io::Error::from)?;
                    Ok((buf[..meta.len].to_vec(), meta))
                })
            })
            .await
            .map_err(io_err("receive VRRP datagram"))
    }

    /// Sends one datagram to `dst`: the complete IPv4 datagram (header included), or the
    /// IPv6 VRRP message with a zero checksum field.
    pub async fn send(&self, bytes: &[u8], dst: IpAddr) -> Result<()> {
        self.send_inner(bytes, dst, None).await
    }

    /// IPv6 only: sends with an explicit source (IPV6_PKTINFO), e.g. a unicast source
    /// that differs from the socket's bound address.
    pub async fn send_from(&self, bytes: &[u8], dst: Ipv6Addr, source: Ipv6Addr) -> Result<()> {
        if self.options.family != Family::Inet6 {
            return Err(NetError::Invalid("send_from is for IPv6 sockets".into()));
        }
        self.send_inner(bytes, IpAddr::V6(dst), Some(source)).await
    }

    async fn send_inner(&self, bytes: &[u8], dst: IpAddr, source: Option<Ipv6Addr>) -> Result<()> {
        if Family::of(&dst) != self.options.family {
            return Err(NetError::Invalid(format!(
                "cannot send to {dst} on a {:?} socket",
                self.options.family
            )));
        }
        let index = self
            .options
            .interface
            .as_ref()
            .map(|_| self.index.load(Ordering::Relaxed));
        let address: SockaddrStorage = match dst {
            IpAddr::V4(v4) => SockaddrStorage::from(SocketAddrV4::new(v4, 0)),
            IpAddr::V6(v6) => {
                SockaddrStorage::from(SocketAddrV6::new(v6, 0, 0, scope_for(&v6, index)))
            }
        };
        let pktinfo = source.map(|s| libc::in6_pktinfo {
            ipi6_addr: libc::in6_addr {
                s6_addr: s.octets(),
            },
            ipi6_ifindex: index.unwrap_or(0),
        });
        let sent = self
            .fd
            .async_io(Interest::WRITABLE, |socket| {
                let iov = [IoSlice::new(bytes)];
                let cmsgs: Vec<ControlMessage> =
                    pktinfo.iter().map(ControlMessage::Ipv6PacketInfo).collect();
                sendmsg(
                    socket.as_raw_fd(),
                    &iov,
                    &cmsgs,
                    MsgFlags::empty(),
                    Some(&address),
                )
                .map_err(std::io::Error::from)
            })
            .await
            .map_err(io_err(format!("send VRRP datagram to {dst}")))?;
        if sent != bytes.len() {
            return Err(NetError::io(
                format!("send VRRP datagram to {dst}"),
                std::io::Error::other("short send"),
            ));
        }
        Ok(())
    }
}

fn register(socket: Socket, what: &str) -> Result<AsyncFd<Socket>> {
    // SAFETY: the AsyncFd takes ownership of the socket, so its fd stays open and
    // unchanged for the AsyncFd's whole life.
    unsafe { AsyncFd::register_with_interest(socket, Interest::READABLE | Interest::WRITABLE) }
        .map_err(|e| {
            NetError::io(
                format!("{what}: register with the runtime"),
                e.into_parts().1,
            )
        })
}

fn receive(fd: std::os::fd::RawFd, family: Family, buf: &mut [u8]) -> nix::Result<Received> {
    let mut iov = [IoSliceMut::new(buf)];
    let mut cmsg = nix::cmsg_space!(libc::in6_pktinfo, libc::c_int, libc::in_pktinfo);
    let msg = recvmsg::<SockaddrStorage>(fd, &mut iov, Some(&mut cmsg), MsgFlags::empty())?;
    let mut received = Received {
        len: msg.bytes,
        truncated: msg.flags.contains(MsgFlags::MSG_TRUNC),
        src: match family {
            Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        },
        dst: match family {
            Family::Inet => IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            Family::Inet6 => IpAddr::V6(Ipv6Addr::UNSPECIFIED),
        },
        ttl: 0,
        ifindex: 0,
    };
    if let Some(address) = msg.address {
        if let Some(v4) = address.as_sockaddr_in() {
            received.src = IpAddr::V4(v4.ip());
        } else if let Some(v6) = address.as_sockaddr_in6() {
            received.src = IpAddr::V6(SockaddrIn6::ip(v6));
        }
    }
    for control in msg.cmsgs()? {
        match control {
            ControlMessageOwned::Ipv4PacketInfo(info) => {
                received.dst = IpAddr::V4(Ipv4Addr::from(u32::from_be(info.ipi_addr.s_addr)));
                received.ifindex = info.ipi_ifindex as u32;
            }
            ControlMessageOwned::Ipv6PacketInfo(info) => {
                received.dst = IpAddr::V6(Ipv6Addr::from(info.ipi6_addr.s6_addr));
                received.ifindex = info.ipi6_ifindex;
            }
            ControlMessageOwned::Ipv4Ttl(ttl) => received.ttl = ttl as u8,
            ControlMessageOwned::Ipv6HopLimit(hops) => received.ttl = hops as u8,
            _ => {}
        }
    }
    Ok(received)
}

/// The IPv4 source keepalived uses: `mcast_src_ip`/`unicast_src_ip` when configured,
/// else the interface's primary (first non-secondary) address.
pub async fn ipv4_source(
    netlink: &Netlink,
    index: u32,
    configured: Option<Ipv4Addr>,
) -> Result<Ipv4Addr> {
    if let Some(configured) = configured {
        return Ok(configured);
    }
    let addresses = netlink.addresses(Some(Family::Inet), Some(index)).await?;
    primary_ipv4(&addresses, index)
}

/// The primary (first non-secondary) IPv4 address of interface `index` in a listing of
/// any interfaces' addresses, so that one dump serves many instances.
pub fn primary_ipv4(addresses: &[AddressInfo], index: u32) -> Result<Ipv4Addr> {
    addresses
        .iter()
        .filter(|a| a.index == index && !a.is_secondary())
        .find_map(|a| match a.local {
            IpAddr::V4(v4) => Some(v4),
            IpAddr::V6(_) => None,
        })
        .ok_or_else(|| NetError::NotReady(format!("no IPv4 address on interface index {index}")))
}

/// The interface's IPv6 link-local (the RFC 5798 advert source); `NotReady` while it is
/// missing or still tentative.
pub async fn ipv6_link_local(netlink: &Netlink, index: u32) -> Result<Ipv6Addr> {
    let addresses = netlink.addresses(Some(Family::Inet6), Some(index)).await?;
    usable_link_local(&addresses, index)
}

/// [`ipv6_link_local`] on a listing of any interfaces' addresses.
pub fn usable_link_local(addresses: &[AddressInfo], index: u32) -> Result<Ipv6Addr> {
    let mut tentative = None;
    for address in addresses
        .iter()
        .filter(|a| a.index == index && a.is_link_local() && !a.is_dad_failed())
    {
        if let IpAddr::V6(v6) = address.local {
            if !address.is_tentative() {
                return Ok(v6);
            }
            tentative = Some(v6);
        }
    }
    Err(NetError::NotReady(match tentative {
        Some(ll) => format!("link-local {ll} on interface index {index} is still tentative"),
        None => format!("no IPv6 link-local address on interface index {index}"),
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn link_scoped_destinations_get_the_interface_as_scope() {
        assert_eq!(scope_for(&VRRP_GROUP_V6, Some(4)), 4);
        assert_eq!(scope_for(&"fe80::1".parse().unwrap(), Some(4)), 4);
        assert_eq!(scope_for(&"2001:db8::1".parse().unwrap(), Some(4)), 0);
        assert_eq!(scope_for(&"ff05::12".parse().unwrap(), Some(4)), 0);
        assert_eq!(scope_for(&"ff02::12".parse().unwrap(), None), 0);
    }
}
