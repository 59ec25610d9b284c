//! Kernel change notifications (links, addresses, routes, rules) as typed events, from
//! one multicast rtnetlink subscription.
//!
//! The kernel drops notifications when the socket buffer is full; that is reported as
//! [`NetEvent::Overrun`], after which the consumer must re-read state with the
//! [`Netlink`](super::netlink::Netlink) listings (reconcile, don't assume).

use super::error::{NetError, Result};
use super::netlink::{force_rcvbuf, AddressInfo, Link, RouteInfo, RuleInfo, NETLINK_RCVBUF};
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
        tokio::runtime::Handle::try_current().map_err(|_| {
            NetError::Invalid("the netlink monitor needs to run inside a tokio runtime".into())
        })?;
        let (mut connection, _handle, messages) = rtnetlink::new_multicast_connection(&GROUPS)
            .map_err(|e| NetError::io("subscribe to rtnetlink notifications", e))?;
        force_rcvbuf(connection.socket_mut().socket_mut().as_raw_fd(), bytes);
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
