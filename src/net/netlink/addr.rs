//! Addresses: `AddressEntry` → RTM_NEWADDR/RTM_DELADDR as keepalived builds them
//! (vrrp_ipaddress.c `netlink_ipaddress`), listing, and a pipelined batch add.

use super::{address_family, family_of, Device, Netlink, RTPROT_KEEPALIVED};
use crate::config::model::{AddressEntry, Broadcast, Family};
use crate::net::error::{Change, NetError, Result};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::address::{
    AddressAttribute, AddressFlags, AddressMessage, AddressProtocol, AddressScope, CacheInfo,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use std::net::{IpAddr, Ipv4Addr};

/// ifa_valid / ifa_prefered meaning "forever".
const INFINITY_LIFE_TIME: u32 = u32::MAX;

/// Longest IPv4 address label (IFNAMSIZ - 1).
const LABEL_MAX: usize = 15;

/// An address as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AddressInfo {
    pub index: u32,
    pub family: Family,
    /// The interface's own address (IFA_LOCAL, or IFA_ADDRESS on IPv6 without peer).
    pub local: IpAddr,
    /// The far end of a point-to-point address (IFA_ADDRESS when it differs from local).
    pub peer: Option<IpAddr>,
    pub prefix_len: u8,
    pub scope: u8,
    /// IFA_F_* flags (IFA_FLAGS when present, else the header's 8 bits).
    pub flags: u32,
    pub label: Option<String>,
    pub broadcast: Option<Ipv4Addr>,
    pub preferred_lft: Option<u32>,
    pub valid_lft: Option<u32>,
    /// IFA_PROTO (Linux 5.18+): who added the address; kad marks its own with
    /// [`RTPROT_KEEPALIVED`](super::RTPROT_KEEPALIVED) like keepalived 2.4 does.
    pub protocol: u8,
}

impl AddressInfo {
    fn has(&self, flag: AddressFlags) -> bool {
        AddressFlags::from_bits_retain(self.flags).contains(flag)
    }
    /// DAD has not finished: the address cannot be bound or used as a source yet.
    pub fn is_tentative(&self) -> bool {
        self.has(AddressFlags::Tentative)
    }
    pub fn is_dad_failed(&self) -> bool {
        self.has(AddressFlags::Dadfailed)
    }
    pub fn is_secondary(&self) -> bool {
        self.has(AddressFlags::Secondary)
    }
    pub fn is_deprecated(&self) -> bool {
        self.has(AddressFlags::Deprecated)
    }
    pub fn is_link_local(&self) -> bool {
        match self.local {
            IpAddr::V6(v6) => v6.segments()[0] & 0xffc0 == 0xfe80,
            IpAddr::V4(v4) => v4.is_link_local(),
        }
    }

    /// Whether this kernel address is the one `entry` installs on `index`.
    pub fn matches(&self, index: u32, entry: &AddressEntry) -> bool {
        let prefix_len = entry.peer.map_or(entry.prefix.len, |p| p.len);
        self.index == index && self.local == entry.prefix.addr && self.prefix_len == prefix_len
    }

    pub(crate) fn from_message(message: &AddressMessage) -> Option<AddressInfo> {
        let family = family_of(message.header.family)?;
        let mut local = None;
        let mut address = None;
        let mut info = AddressInfo {
            index: message.header.index,
            family,
            local: IpAddr::V4(Ipv4Addr::UNSPECIFIED),
            peer: None,
            prefix_len: message.header.prefix_len,
            scope: u8::from(message.header.scope),
            flags: u32::from(message.header.flags.bits()),
            label: None,
            broadcast: None,
            preferred_lft: None,
            valid_lft: None,
            protocol: 0,
        };
        for attribute in &message.attributes {
            match attribute {
                AddressAttribute::Local(a) => local = Some(*a),
                AddressAttribute::Address(a) => address = Some(*a),
                AddressAttribute::Label(l) => info.label = Some(l.clone()),
                AddressAttribute::Broadcast(b) => info.broadcast = Some(*b),
                AddressAttribute::Flags(f) => info.flags = f.bits(),
                AddressAttribute::CacheInfo(c) => {
                    info.preferred_lft = Some(c.ifa_preferred);
                    info.valid_lft = Some(c.ifa_valid);
                }
                AddressAttribute::Protocol(p) => info.protocol = u8::from(*p),
                _ => {}
            }
        }
        info.local = local.or(address)?;
        info.peer = address.filter(|a| *a != info.local);
        Some(info)
    }
}

fn check_entry(entry: &AddressEntry) -> Result<()> {
    let family = Family::of(&entry.prefix.addr);
    let max_len = if family == Family::Inet { 32 } else { 128 };
    if entry.prefix.len > max_len {
        return Err(NetError::Invalid(format!(
            "address {}: prefix length too long",
            entry.prefix
        )));
    }
    if let Some(peer) = entry.peer {
        if Family::of(&peer.addr) != family || peer.len > max_len {
            return Err(NetError::Invalid(format!(
                "address {}: bad peer {peer}",
                entry.prefix
            )));
        }
    }
    if let Some(label) = &entry.label {
        if family == Family::Inet && (label.is_empty() || label.len() > LABEL_MAX) {
            return Err(NetError::Invalid(format!(
                "address {}: label '{label}' must be 1 to {LABEL_MAX} characters",
                entry.prefix
            )));
        }
    }
    Ok(())
}

fn broadcast_of(entry: &AddressEntry) -> Option<Ipv4Addr> {
    let IpAddr::V4(base) = entry.peer.map_or(entry.prefix.addr, |p| p.addr) else {
        return None;
    };
    let len = entry.peer.map_or(entry.prefix.len, |p| p.len);
    let host_mask = u32::MAX.checked_shr(u32::from(len)).unwrap_or(0);
    match entry.broadcast? {
        Broadcast::Addr(addr) => Some(addr),
        // keepalived only computes +/- for prefixes up to /30.
        Broadcast::Plus if len <= 30 => Some(Ipv4Addr::from(u32::from(base) | host_mask)),
        Broadcast::Minus if len <= 30 => Some(Ipv4Addr::from(u32::from(base) & !host_mask)),
        _ => None,
    }
}

pub(crate) fn add_message(index: u32, entry: &AddressEntry) -> Result<AddressMessage> {
    check_entry(entry)?;
    let family = Family::of(&entry.prefix.addr);
    let mut message = AddressMessage::default();
    message.header.family = address_family(family);
    message.header.prefix_len = entry.peer.map_or(entry.prefix.len, |p| p.len);
    message.header.scope = AddressScope::from(entry.scope);
    message.header.index = index;
    let attrs = &mut message.attributes;
    attrs.push(AddressAttribute::Local(entry.prefix.addr));
    let mut flags = AddressFlags::empty();
    match family {
        Family::Inet => {
            if let Some(brd) = broadcast_of(entry) {
                attrs.push(AddressAttribute::Broadcast(brd));
            }
            if let Some(label) = &entry.label {
                attrs.push(AddressAttribute::Label(label.clone()));
            }
        }
        Family::Inet6 => {
            if let Some(preferred) = entry.preferred_lft {
                let mut lifetimes = CacheInfo::default();
                lifetimes.ifa_preferred = preferred;
                lifetimes.ifa_valid = INFINITY_LIFE_TIME;
                attrs.push(AddressAttribute::CacheInfo(lifetimes));
            }
            if entry.nodad {
                flags |= AddressFlags::Nodad;
            }
        }
    }
    if entry.home {
        flags |= AddressFlags::Homeaddress;
    }
    if entry.mngtmpaddr {
        flags |= AddressFlags::Managetempaddr;
    }
    if entry.noprefixroute {
        flags |= AddressFlags::Noprefixroute;
    }
    if entry.autojoin {
        flags |= AddressFlags::Mcautojoin;
    }
    if !flags.is_empty() {
        attrs.push(AddressAttribute::Flags(flags));
    }
    if let Some(peer) = entry.peer {
        attrs.push(AddressAttribute::Address(peer.addr));
    } else if family == Family::Inet {
        attrs.push(AddressAttribute::Address(entry.prefix.addr));
    }
    // Kernels before 5.18 ignore the attribute.
    attrs.push(AddressAttribute::Protocol(AddressProtocol::from(
        RTPROT_KEEPALIVED,
    )));
    Ok(message)
}

pub(crate) fn del_message(index: u32, entry: &AddressEntry) -> Result<AddressMessage> {
    check_entry(entry)?;
    let family = Family::of(&entry.prefix.addr);
    let mut message = AddressMessage::default();
    message.header.family = address_family(family);
    message.header.prefix_len = entry.peer.map_or(entry.prefix.len, |p| p.len);
    message.header.index = index;
    message
        .attributes
        .push(AddressAttribute::Local(entry.prefix.addr));
    // The kernel matches IFA_ADDRESS against the address's subnet (the peer's, for a
    // point-to-point address), so send the peer when there is one.
    let address = entry.peer.map_or(entry.prefix.addr, |p| p.addr);
    if family == Family::Inet || entry.peer.is_some() {
        message.attributes.push(AddressAttribute::Address(address));
    }
    Ok(message)
}

pub(super) fn describe(index: u32, entry: &AddressEntry) -> String {
    format!("{} on interface index {index}", entry.prefix)
}

impl Netlink {
    /// `ip addr add` for one entry on `index`; already present is `Unchanged`.
    pub async fn add_address(&self, index: u32, entry: &AddressEntry) -> Result<Change> {
        let message = add_message(index, entry)?;
        self.change(
            RouteNetlinkMessage::NewAddress(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &[libc::EEXIST],
            || format!("add address {}", describe(index, entry)),
        )
        .await
    }

    /// `ip addr del`; an absent address (or interface) is `Unchanged`.
    pub async fn delete_address(&self, index: u32, entry: &AddressEntry) -> Result<Change> {
        let message = del_message(index, entry)?;
        self.change(
            RouteNetlinkMessage::DelAddress(message),
            0,
            &[libc::EADDRNOTAVAIL, libc::ENODEV],
            || format!("delete address {}", describe(index, entry)),
        )
        .await
    }

    /// Deletes an address found by [`Netlink::addresses`] (stale cleanup).
    pub async fn delete_address_info(&self, info: &AddressInfo) -> Result<Change> {
        let mut message = AddressMessage::default();
        message.header.family = address_family(info.family);
        message.header.prefix_len = info.prefix_len;
        message.header.index = info.index;
        message.attributes.push(AddressAttribute::Local(info.local));
        if let Some(peer) = info.peer {
            message.attributes.push(AddressAttribute::Address(peer));
        }
        self.change(
            RouteNetlinkMessage::DelAddress(message),
            0,
            &[libc::EADDRNOTAVAIL, libc::ENODEV],
            || {
                format!(
                    "delete address {}/{} on interface index {}",
                    info.local, info.prefix_len, info.index
                )
            },
        )
        .await
    }

    /// Adds many addresses, packed with other callers' into few datagrams; one result
    /// per item, in input order. A device named but absent is
    /// [`NetError::NoSuchInterface`].
    pub async fn add_addresses(&self, items: Vec<(Device, AddressEntry)>) -> Vec<Result<Change>> {
        self.batcher.add(items).await
    }

    /// The batch counterpart of [`Netlink::delete_address`]; an absent device is
    /// `Unchanged`.
    pub async fn delete_addresses(&self, items: Vec<(Device, AddressEntry)>) -> Vec<Result<Change>> {
        self.batcher.delete(items).await
    }

    /// Addresses of one family (or both), optionally of one interface. Those with
    /// `protocol == RTPROT_KEEPALIVED` were added by kad or keepalived ≥ 2.4.
    pub async fn addresses(
        &self,
        family: Option<Family>,
        index: Option<u32>,
    ) -> Result<Vec<AddressInfo>> {
        let mut query = AddressMessage::default();
        if let Some(family) = family {
            query.header.family = address_family(family);
        }
        let replies = self
            .dump(RouteNetlinkMessage::GetAddress(query), "addresses")
            .await?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewAddress(a) => AddressInfo::from_message(a),
                _ => None,
            })
            .filter(|a| family.is_none_or(|f| a.family == f))
            .filter(|a| index.is_none_or(|i| a.index == i))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Prefix;

    fn entry(addr: &str, len: u8) -> AddressEntry {
        AddressEntry::new(Prefix {
            addr: addr.parse().unwrap(),
            len,
        })
    }

    fn attr(
        m: &AddressMessage,
        pick: impl Fn(&AddressAttribute) -> bool,
    ) -> Vec<&AddressAttribute> {
        m.attributes.iter().filter(|a| pick(a)).collect()
    }

    #[test]
    fn broadcast_plus_and_minus() {
        let mut e = entry("192.0.2.10", 24);
        e.broadcast = Some(Broadcast::Plus);
        assert_eq!(broadcast_of(&e), Some("192.0.2.255".parse().unwrap()));
        e.broadcast = Some(Broadcast::Minus);
        assert_eq!(broadcast_of(&e), Some("192.0.2.0".parse().unwrap()));
        e.prefix.len = 31;
        assert_eq!(broadcast_of(&e), None);
        e.broadcast = Some(Broadcast::Addr("192.0.2.7".parse().unwrap()));
        assert_eq!(broadcast_of(&e), Some("192.0.2.7".parse().unwrap()));
        e.prefix.len = 0;
        e.broadcast = Some(Broadcast::Plus);
        assert_eq!(broadcast_of(&e), Some("255.255.255.255".parse().unwrap()));
    }

    #[test]
    fn ipv4_nodad_is_not_sent_and_label_is() {
        let mut e = entry("192.0.2.10", 32);
        e.nodad = true;
        e.label = Some("eth0:vip".into());
        let m = add_message(3, &e).unwrap();
        assert!(attr(&m, |a| matches!(a, AddressAttribute::Flags(_))).is_empty());
        assert_eq!(
            attr(
                &m,
                |a| matches!(a, AddressAttribute::Label(l) if l == "eth0:vip")
            )
            .len(),
            1
        );
        assert_eq!(m.header.index, 3);
    }

    #[test]
    fn ipv6_flags_and_lifetime() {
        let mut e = entry("2001:db8::10", 128);
        e.preferred_lft = Some(0);
        e.noprefixroute = true;
        let m = add_message(3, &e).unwrap();
        let flags: Vec<_> = m
            .attributes
            .iter()
            .filter_map(|a| {
                if let AddressAttribute::Flags(f) = a {
                    Some(*f)
                } else {
                    None
                }
            })
            .collect();
        assert_eq!(
            flags,
            vec![AddressFlags::Nodad | AddressFlags::Noprefixroute]
        );
        assert!(m.attributes.iter().any(|a| matches!(a,
            AddressAttribute::CacheInfo(c) if c.ifa_preferred == 0 && c.ifa_valid == u32::MAX)));
    }

    #[test]
    fn peer_sets_prefix_and_address() {
        let mut e = entry("192.0.2.1", 32);
        e.peer = Some(Prefix {
            addr: "192.0.2.2".parse().unwrap(),
            len: 30,
        });
        let m = add_message(1, &e).unwrap();
        assert_eq!(m.header.prefix_len, 30);
        assert!(m
            .attributes
            .contains(&AddressAttribute::Address("192.0.2.2".parse().unwrap())));
        assert!(m
            .attributes
            .contains(&AddressAttribute::Local("192.0.2.1".parse().unwrap())));
        let d = del_message(1, &e).unwrap();
        assert!(d
            .attributes
            .contains(&AddressAttribute::Address("192.0.2.2".parse().unwrap())));
    }

    #[test]
    fn invalid_entries_are_typed_errors() {
        let mut e = entry("192.0.2.1", 33);
        assert!(matches!(add_message(1, &e), Err(NetError::Invalid(_))));
        e.prefix.len = 32;
        e.label = Some("a-very-long-label-x".into());
        assert!(matches!(add_message(1, &e), Err(NetError::Invalid(_))));
        e.label = None;
        e.peer = Some(Prefix {
            addr: "2001:db8::1".parse().unwrap(),
            len: 128,
        });
        assert!(matches!(add_message(1, &e), Err(NetError::Invalid(_))));
    }
}
