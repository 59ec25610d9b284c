//! rtnetlink requests: links, addresses, routes and rules, over one connection.
//!
//! Messages are built here from the config model and sent with exactly the flags
//! keepalived uses (e.g. a route "add" is a prepend unless the entry says `add`), so the
//! kernel state is the one keepalived would have produced. Adds and deletes are
//! idempotent: finding the kernel already in the wanted state is [`Change::Unchanged`].

mod addr;
mod batch;
mod link;
mod route;
mod rule;

pub use addr::AddressInfo;
pub use batch::Device;
pub(crate) use link::check_ifname;
pub use link::{Link, MacvlanMode, MacvlanSpec, IFNAME_MAX};
pub use route::{NexthopInfo, RouteInfo};
pub(crate) use rule::describe as describe_rule;
pub use rule::RuleInfo;

use super::error::{Change, NetError, Result};
use crate::config::model::Family;
use futures::StreamExt;
use rtnetlink::packet_core::{
    NetlinkMessage, NetlinkPayload, NLM_F_ACK, NLM_F_DUMP, NLM_F_DUMP_INTR, NLM_F_REQUEST,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};
use rtnetlink::sys::AsyncSocket;
use std::os::fd::AsRawFd;

/// Marks kad-owned routes, rules and addresses.
pub use crate::config::model::RTPROT_KEEPALIVED;

/// Receive buffer asked for on our netlink sockets (SO_RCVBUFFORCE, we are root).
pub(crate) const NETLINK_RCVBUF: usize = 8 * 1024 * 1024;

/// The kernel's answer to one request, before it is given an operation name.
#[derive(Debug)]
enum Refusal {
    /// errno (positive) and the kernel's extended-ack message.
    Errno(i32, Option<String>),
    Closed,
}

impl Refusal {
    fn into_error(self, op: impl FnOnce() -> String) -> NetError {
        match self {
            Refusal::Errno(errno, detail) => NetError::kernel(op(), errno, detail.as_deref()),
            Refusal::Closed => NetError::Closed,
        }
    }
}

/// A cloneable handle on one rtnetlink connection; the connection lives until the last
/// clone is dropped.
#[derive(Clone, Debug)]
pub struct Netlink {
    handle: rtnetlink::Handle,
    batcher: batch::Batcher,
}

impl Netlink {
    /// Opens the connection in the calling thread's network namespace and spawns its
    /// driver on the current tokio runtime.
    pub fn connect() -> Result<Netlink> {
        require_runtime()?;
        let (mut connection, handle, _) =
            rtnetlink::new_connection().map_err(|e| NetError::io("open rtnetlink socket", e))?;
        let socket = connection.socket_mut().socket_mut();
        force_rcvbuf(socket.as_raw_fd(), NETLINK_RCVBUF);
        // Only the errno is used from a NACK; without the echoed request the ACKs of a
        // pipelined batch stay small.
        let _ = socket.set_cap_ack(true);
        // The kernel's own words on a refusal ("Invalid scope", "Nexthop has invalid
        // gateway"...) are worth more in a log than the bare errno.
        let _ = socket.set_ext_ack(true);
        // ACKs and dump ends are what tell a finished request from a lost connection.
        connection.set_forward_ack(true);
        connection.set_forward_done(true);
        tokio::spawn(connection);
        let batcher = batch::Batcher::start()?;
        Ok(Netlink { handle, batcher })
    }

    /// The netlink port of the socket that batched address adds and deletes go out on.
    pub fn batch_port(&self) -> u32 {
        self.batcher.port()
    }

    /// How many rounds of batched address requests have gone out (each is one or more
    /// datagrams sent back to back).
    pub fn address_rounds(&self) -> u64 {
        self.batcher.rounds()
    }

    /// Notified after batched adds put at least one address in place: with
    /// [`Monitor::open_for`](crate::net::monitor::Monitor::open_for) the kernel's own
    /// notifications of IPv4 ones are not delivered.
    pub fn addresses_added(&self) -> std::sync::Arc<tokio::sync::Notify> {
        self.batcher.added()
    }

    /// Sends one request and waits for its ACK. A response stream that ends without
    /// one means the connection went away, not success.
    async fn ack(&self, message: RouteNetlinkMessage, flags: u16) -> Result<(), Refusal> {
        let mut request = NetlinkMessage::from(message);
        request.header.flags = NLM_F_REQUEST | NLM_F_ACK | flags;
        let mut handle = self.handle.clone();
        let mut responses = handle.request(request).map_err(|_| Refusal::Closed)?;
        while let Some(response) = responses.next().await {
            if let NetlinkPayload::Error(e) = response.payload {
                return match e.code {
                    None => Ok(()),
                    Some(code) => {
                        let detail = extack_message(response.header.flags, &e.header);
                        Err(Refusal::Errno(-code.get(), detail))
                    }
                };
            }
        }
        Err(Refusal::Closed)
    }

    /// Sends a change request; `unchanged` lists the errnos meaning "already so".
    async fn change(
        &self,
        message: RouteNetlinkMessage,
        flags: u16,
        unchanged: &[i32],
        op: impl FnOnce() -> String,
    ) -> Result<Change> {
        match self.ack(message, flags).await {
            Ok(()) => Ok(Change::Applied),
            Err(Refusal::Errno(errno, _)) if unchanged.contains(&errno) => Ok(Change::Unchanged),
            Err(refusal) => Err(refusal.into_error(op)),
        }
    }

    /// A request answered by a single object (e.g. RTM_GETLINK by name).
    async fn get_one(&self, message: RouteNetlinkMessage) -> Result<RouteNetlinkMessage, Refusal> {
        let mut request = NetlinkMessage::from(message);
        request.header.flags = NLM_F_REQUEST;
        let mut handle = self.handle.clone();
        let mut responses = handle.request(request).map_err(|_| Refusal::Closed)?;
        while let Some(response) = responses.next().await {
            match response.payload {
                NetlinkPayload::InnerMessage(inner) => return Ok(inner),
                NetlinkPayload::Error(e) => {
                    if let Some(code) = e.code {
                        let detail = extack_message(response.header.flags, &e.header);
                        return Err(Refusal::Errno(-code.get(), detail));
                    }
                }
                _ => {}
            }
        }
        Err(Refusal::Closed)
    }

    /// A dump, retried when the kernel flags it as interrupted by a concurrent change
    /// (its content may then be incomplete).
    async fn dump(
        &self,
        message: RouteNetlinkMessage,
        what: &str,
    ) -> Result<Vec<RouteNetlinkMessage>> {
        const ATTEMPTS: usize = 5;
        for _ in 0..ATTEMPTS {
            let mut request = NetlinkMessage::from(message.clone());
            request.header.flags = NLM_F_REQUEST | NLM_F_DUMP;
            let mut handle = self.handle.clone();
            let mut responses = handle.request(request).map_err(|_| NetError::Closed)?;
            let mut items = Vec::new();
            let mut interrupted = false;
            let mut complete = false;
            while let Some(response) = responses.next().await {
                interrupted |= response.header.flags & NLM_F_DUMP_INTR != 0;
                match response.payload {
                    NetlinkPayload::InnerMessage(inner) => items.push(inner),
                    NetlinkPayload::Done(_) => complete = true,
                    NetlinkPayload::Error(e) => {
                        if let Some(code) = e.code {
                            let detail = extack_message(response.header.flags, &e.header);
                            let op = format!("dump {what}");
                            return Err(NetError::kernel(op, -code.get(), detail.as_deref()));
                        }
                    }
                    _ => {}
                }
            }
            if !complete {
                return Err(NetError::Closed);
            }
            if !interrupted {
                return Ok(items);
            }
        }
        Err(NetError::NotReady(format!(
            "dump {what}: interrupted {ATTEMPTS} times by concurrent changes"
        )))
    }
}

const NLM_F_CAPPED: u16 = 0x100;
const NLM_F_ACK_TLVS: u16 = 0x200;
const NLMSGERR_ATTR_MSG: u16 = 1;
const NLMSG_HEADER_LEN: usize = 16;

/// The NLMSGERR_ATTR_MSG text of an error message. `payload` is what follows the error
/// code: the echoed request (only its header when NLM_F_CAPPED), then the TLVs.
fn extack_message(flags: u16, payload: &[u8]) -> Option<String> {
    if flags & NLM_F_ACK_TLVS == 0 {
        return None;
    }
    let echoed = if flags & NLM_F_CAPPED != 0 {
        NLMSG_HEADER_LEN
    } else {
        u32::from_ne_bytes(payload.get(..4)?.try_into().ok()?) as usize
    };
    let mut tlvs = payload.get(echoed..)?;
    while tlvs.len() >= 4 {
        let len = usize::from(u16::from_ne_bytes([tlvs[0], tlvs[1]]));
        let kind = u16::from_ne_bytes([tlvs[2], tlvs[3]]) & 0x3fff;
        let value = tlvs.get(4..len)?;
        if kind == NLMSGERR_ATTR_MSG {
            let text = value.split(|b| *b == 0).next()?;
            return Some(String::from_utf8_lossy(text).into_owned()).filter(|t| !t.is_empty());
        }
        tlvs = tlvs.get(len.div_ceil(4) * 4..)?;
    }
    None
}

fn require_runtime() -> Result<()> {
    tokio::runtime::Handle::try_current()
        .map(|_| ())
        .map_err(|_| NetError::Invalid("netlink needs to run inside a tokio runtime".into()))
}

/// Best effort: a small buffer only costs resyncs (monitor) or nothing (requests are
/// windowed), so a refusal is not an error.
pub(crate) fn force_rcvbuf(fd: std::os::fd::RawFd, bytes: usize) {
    let size = i32::try_from(bytes).unwrap_or(i32::MAX);
    let len = std::mem::size_of::<i32>() as libc::socklen_t;
    let ptr = &size as *const i32 as *const libc::c_void;
    // SAFETY: fd is an open socket owned by the caller; the option value is a live i32.
    unsafe {
        if libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUFFORCE, ptr, len) != 0 {
            libc::setsockopt(fd, libc::SOL_SOCKET, libc::SO_RCVBUF, ptr, len);
        }
    }
}

pub(crate) fn address_family(family: Family) -> AddressFamily {
    match family {
        Family::Inet => AddressFamily::Inet,
        Family::Inet6 => AddressFamily::Inet6,
    }
}

pub(crate) fn family_of(family: AddressFamily) -> Option<Family> {
    match family {
        AddressFamily::Inet => Some(Family::Inet),
        AddressFamily::Inet6 => Some(Family::Inet6),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tlv(kind: u16, value: &[u8]) -> Vec<u8> {
        let mut out = Vec::new();
        out.extend_from_slice(&((4 + value.len()) as u16).to_ne_bytes());
        out.extend_from_slice(&kind.to_ne_bytes());
        out.extend_from_slice(value);
        while out.len() % 4 != 0 {
            out.push(0);
        }
        out
    }

    #[test]
    fn extended_ack_text_is_found_after_the_echoed_request() {
        let mut capped = vec![0u8; NLMSG_HEADER_LEN];
        capped.extend(tlv(3, &7u32.to_ne_bytes())); // NLMSGERR_ATTR_OFFS, skipped
        capped.extend(tlv(NLMSGERR_ATTR_MSG, b"Invalid scope\0"));
        let flags = NLM_F_CAPPED | NLM_F_ACK_TLVS;
        assert_eq!(
            extack_message(flags, &capped).as_deref(),
            Some("Invalid scope")
        );

        let mut full = 24u32.to_ne_bytes().to_vec();
        full.resize(24, 0);
        full.extend(tlv(NLMSGERR_ATTR_MSG, b"Nexthop has invalid gateway\0"));
        let text = extack_message(NLM_F_ACK_TLVS, &full);
        assert_eq!(text.as_deref(), Some("Nexthop has invalid gateway"));

        assert_eq!(
            extack_message(NLM_F_CAPPED, &capped),
            None,
            "no TLVs flagged"
        );
        assert_eq!(extack_message(flags, &capped[..10]), None, "truncated");
    }
}
