//! Kernel change notifications (links, addresses, routes, rules) as typed events, from
//! one multicast rtnetlink subscription.
//!
//! The kernel drops notifications when the socket buffer is full; that is reported as
//! [`NetEvent::Overrun`], after which the consumer must re-read state with the
//! [`Netlink`](super::netlink::Netlink) listings (reconcile, don't assume).

use super::error::{NetError, Result};
use super::netlink::{force_rcvbuf, AddressInfo, Link, Netlink, RouteInfo, RuleInfo, NETLINK_RCVBUF};
use futures::channel::mpsc::UnboundedReceiver;
use futures::StreamExt;
use rtnetlink::packet_core::{NetlinkMessage, NetlinkPayload};
use rtnetlink::packet_route::link::LinkAttribute;
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::sys::{AsyncSocket, SocketAddr};
use rtnetlink::MulticastGroup;
use std::os::fd::AsRawFd;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum NetEvent {
    /// A link appeared or changed (flags, name, MAC...): RTM_NEWLINK.
    LinkChanged(Link),
    LinkDeleted {
        index: u32,
        name: String,
    },
    AddressAdded(AddressInfo),
    AddressRemoved(AddressInfo),
    RouteAdded(RouteInfo),
    RouteRemoved(RouteInfo),
    RuleAdded(RuleInfo),
    RuleRemoved(RuleInfo),
    /// Notifications were lost: re-read the state that matters.
    Overrun,
}

const GROUPS: [MulticastGroup; 7] = [
    MulticastGroup::Link,
    MulticastGroup::Ipv4Ifaddr,
    MulticastGroup::Ipv6Ifaddr,
    MulticastGroup::Ipv4Route,
    MulticastGroup::Ipv6Route,
    MulticastGroup::Ipv4Rule,
    MulticastGroup::Ipv6Rule,
];

/// A subscription to the kernel's link, address, route and rule notifications in the
/// calling thread's network namespace.
pub struct Monitor {
    messages: UnboundedReceiver<(NetlinkMessage<RouteNetlinkMessage>, SocketAddr)>,
    connection: tokio::task::JoinHandle<()>,
}

impl Monitor {
    /// Subscribes with an 8 MiB receive buffer; must be called inside a tokio runtime.
    /// Events that happen after this returns are delivered.
    pub fn open() -> Result<Monitor> {
        Self::with_receive_buffer(NETLINK_RCVBUF)
    }

    /// Subscribes with a receive buffer of `bytes` (keepalived's
    /// `vrrp_netlink_monitor_rcv_bufs`): a burst of changes larger than that is reported
    /// as [`NetEvent::Overrun`].
    pub fn with_receive_buffer(bytes: usize) -> Result<Monitor> {
        Self::subscribe(bytes, false, None)
    }

    /// Like [`Monitor::open`], without [`NetEvent::RouteAdded`] and
    /// [`NetEvent::RuleAdded`]: the kernel drops them before they are queued. Every VIP
    /// added brings a local route with it, and queueing those (10000 in a takeover) on a
    /// socket the busy daemon does not read at the time slowed the kernel's address
    /// adds threefold.
    pub fn open_without_additions_of_routes_and_rules() -> Result<Monitor> {
        Self::subscribe(NETLINK_RCVBUF, true, None)
    }

    /// Like [`Monitor::open_without_additions_of_routes_and_rules`], and without the
    /// [`NetEvent::AddressAdded`] of IPv4 addresses added by `netlink`'s batched adds
    /// ([`Netlink::addresses_added`] tells of those): a takeover's thousands of them
    /// would otherwise be queued and parsed one by one while the rest go in. IPv6
    /// notifications do not name the requester and still come.
    pub fn open_for(netlink: &Netlink) -> Result<Monitor> {
        Self::subscribe(NETLINK_RCVBUF, true, Some(netlink.batch_port()))
    }

    fn subscribe(bytes: usize, drop_route_and_rule_additions: bool, own_port: Option<u32>) -> Result<Monitor> {
        tokio::runtime::Handle::try_current().map_err(|_| {
            NetError::Invalid("the netlink monitor needs to run inside a tokio runtime".into())
        })?;
        let (mut connection, _handle, messages) = rtnetlink::new_multicast_connection(&GROUPS)
            .map_err(|e| NetError::io("subscribe to rtnetlink notifications", e))?;
        let fd = connection.socket_mut().socket_mut().as_raw_fd();
        force_rcvbuf(fd, bytes);
        if drop_route_and_rule_additions {
            let own_additions = own_port.map(|port| (RTM_NEWADDR, port));
            attach_filter(fd, &drop_filter(&[RTM_NEWROUTE, RTM_NEWRULE], own_additions))
                .map_err(|e| NetError::io("filter rtnetlink notifications", e))?;
        }
        let connection = tokio::spawn(connection);
        Ok(Monitor {
            messages,
            connection,
        })
    }

    /// The next event; `None` once the subscription has ended.
    pub async fn next(&mut self) -> Option<NetEvent> {
        loop {
            let (message, _) = self.messages.next().await?;
            if let Some(event) = event_of(message.payload) {
                return Some(event);
            }
        }
    }
}

impl Drop for Monitor {
    fn drop(&mut self) {
        self.connection.abort();
    }
}

const RTM_NEWADDR: u16 = 20;
const RTM_NEWROUTE: u16 = 24;
const RTM_NEWRULE: u16 = 32;

/// A socket filter program dropping notifications of the given message types, and of
/// `from.0` when sent on behalf of netlink port `from.1` (a notification is one message,
/// its header at the start of the packet).
fn drop_filter(types: &[u16], from: Option<(u16, u32)>) -> Vec<libc::sock_filter> {
    const LOAD_HALF_ABSOLUTE: u16 = 0x28;
    const LOAD_WORD_ABSOLUTE: u16 = 0x20;
    const JUMP_IF_EQUAL: u16 = 0x15;
    const RETURN: u16 = 0x06;
    const NLMSG_TYPE_OFFSET: u32 = 4;
    const NLMSG_PID_OFFSET: u32 = 12;
    // Loads are big-endian; the header is in host order.
    let half = |v: u16| u32::from(u16::from_be_bytes(v.to_ne_bytes()));
    let word = |v: u32| u32::from_be_bytes(v.to_ne_bytes());
    let accept = 1 + types.len() + if from.is_some() { 3 } else { 0 };
    let reject = accept + 1;
    // Jump offsets count from the instruction after the jump; programs here are tiny.
    let offset = |at: usize, to: usize| u8::try_from(to - at - 1).unwrap_or(u8::MAX);
    let insn = |code, jt, jf, k| libc::sock_filter { code, jt, jf, k };
    let mut program = vec![insn(LOAD_HALF_ABSOLUTE, 0, 0, NLMSG_TYPE_OFFSET)];
    for t in types {
        let at = program.len();
        program.push(insn(JUMP_IF_EQUAL, offset(at, reject), 0, half(*t)));
    }
    if let Some((kind, port)) = from {
        let at = program.len();
        program.push(insn(JUMP_IF_EQUAL, 0, offset(at, accept), half(kind)));
        program.push(insn(LOAD_WORD_ABSOLUTE, 0, 0, NLMSG_PID_OFFSET));
        let at = program.len();
        program.push(insn(JUMP_IF_EQUAL, offset(at, reject), offset(at, accept), word(port)));
    }
    program.push(insn(RETURN, 0, 0, u32::MAX));
    program.push(insn(RETURN, 0, 0, 0));
    program
}

fn attach_filter(fd: std::os::fd::RawFd, program: &[libc::sock_filter]) -> std::io::Result<()> {
    let mut program = program.to_vec();
    let fprog = libc::sock_fprog {
        len: u16::try_from(program.len()).map_err(|_| std::io::Error::from(std::io::ErrorKind::InvalidInput))?,
        filter: program.as_mut_ptr(),
    };
    // SAFETY: fd is an open socket; the kernel copies the program during the call, while
    // `program` is alive.
    let rc = unsafe {
        libc::setsockopt(
            fd,
            libc::SOL_SOCKET,
            libc::SO_ATTACH_FILTER,
            &fprog as *const libc::sock_fprog as *const libc::c_void,
            std::mem::size_of::<libc::sock_fprog>() as libc::socklen_t,
        )
    };
    if rc == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn event_of(payload: NetlinkPayload<RouteNetlinkMessage>) -> Option<NetEvent> {
    let message = match payload {
        NetlinkPayload::InnerMessage(message) => message,
        NetlinkPayload::Overrun(_) => return Some(NetEvent::Overrun),
        _ => return None,
    };
    match message {
        // AF_BRIDGE copies describe bridge ports, not the link itself.
        RouteNetlinkMessage::NewLink(m) if m.header.interface_family != AddressFamily::Bridge => {
            Some(NetEvent::LinkChanged(Link::from_message(&m)))
        }
        RouteNetlinkMessage::DelLink(m) if m.header.interface_family != AddressFamily::Bridge => {
            let name = m
                .attributes
                .iter()
                .find_map(|a| {
                    if let LinkAttribute::IfName(n) = a {
                        Some(n.clone())
                    } else {
                        None
                    }
                })
                .unwrap_or_default();
            Some(NetEvent::LinkDeleted {
                index: m.header.index,
                name,
            })
        }
        RouteNetlinkMessage::NewAddress(m) => {
            AddressInfo::from_message(&m).map(NetEvent::AddressAdded)
        }
        RouteNetlinkMessage::DelAddress(m) => {
            AddressInfo::from_message(&m).map(NetEvent::AddressRemoved)
        }
        RouteNetlinkMessage::NewRoute(m) => RouteInfo::from_message(&m).map(NetEvent::RouteAdded),
        RouteNetlinkMessage::DelRoute(m) => RouteInfo::from_message(&m).map(NetEvent::RouteRemoved),
        RouteNetlinkMessage::NewRule(m) => RuleInfo::from_message(&m).map(NetEvent::RuleAdded),
        RouteNetlinkMessage::DelRule(m) => RuleInfo::from_message(&m).map(NetEvent::RuleRemoved),
        _ => None,
    }
}
