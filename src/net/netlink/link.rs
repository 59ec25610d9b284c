//! Links: lookup by name or index, the facts VRRP needs, up/down, macvlan create/update.

use super::{Netlink, Refusal};
use crate::net::error::{Change, NetError, Result};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::link::{
    AfSpecInet6, AfSpecUnspec, In6AddrGenMode, InfoData, InfoKind, InfoMacVlan, LinkAttribute,
    LinkFlags, LinkInfo, LinkMessage, MacVlanMode,
};
use rtnetlink::packet_route::{AddressFamily, RouteNetlinkMessage};

/// Longest interface name the kernel accepts (IFNAMSIZ - 1).
pub const IFNAME_MAX: usize = 15;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MacvlanMode {
    Private,
    Vepa,
    Bridge,
    Passthru,
    Source,
    Other(u32),
}

impl From<MacVlanMode> for MacvlanMode {
    fn from(mode: MacVlanMode) -> Self {
        match mode {
            MacVlanMode::Private => MacvlanMode::Private,
            MacVlanMode::Vepa => MacvlanMode::Vepa,
            MacVlanMode::Bridge => MacvlanMode::Bridge,
            MacVlanMode::Passthrough => MacvlanMode::Passthru,
            MacVlanMode::Source => MacvlanMode::Source,
            other => MacvlanMode::Other(u32::from(other)),
        }
    }
}

impl From<MacvlanMode> for MacVlanMode {
    fn from(mode: MacvlanMode) -> Self {
        match mode {
            MacvlanMode::Private => MacVlanMode::Private,
            MacvlanMode::Vepa => MacVlanMode::Vepa,
            MacvlanMode::Bridge => MacVlanMode::Bridge,
            MacvlanMode::Passthru => MacVlanMode::Passthrough,
            MacvlanMode::Source => MacVlanMode::Source,
            MacvlanMode::Other(v) => MacVlanMode::from(v),
        }
    }
}

/// What VRRP needs to know about an interface.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Link {
    pub index: u32,
    pub name: String,
    /// IFF_UP: administratively up.
    pub up: bool,
    /// IFF_RUNNING: operationally up (keepalived requires UP and RUNNING).
    pub running: bool,
    /// IFF_LOWER_UP: carrier.
    pub lower_up: bool,
    pub noarp: bool,
    /// Hardware address as reported (6 bytes on Ethernet, empty on loopback-like links).
    pub hw_addr: Vec<u8>,
    /// ARPHRD_* type.
    pub link_layer_type: u16,
    pub mtu: u32,
    pub group: u32,
    /// IFLA_INFO_KIND: "veth", "macvlan", "bridge", ...; `None` for physical devices.
    pub kind: Option<String>,
    /// Index of the enslaving device (bridge, bond, VRF).
    pub master: Option<u32>,
    /// IFLA_LINK: the parent of a macvlan/vlan (or a veth's peer index).
    pub parent: Option<u32>,
    pub macvlan_mode: Option<MacvlanMode>,
}

impl Link {
    /// keepalived's notion of "interface up": IFF_UP and IFF_RUNNING.
    pub fn is_oper_up(&self) -> bool {
        self.up && self.running
    }

    pub fn mac(&self) -> Option<[u8; 6]> {
        <[u8; 6]>::try_from(self.hw_addr.as_slice()).ok()
    }

    pub(crate) fn from_message(message: &LinkMessage) -> Link {
        let flags = message.header.flags;
        let mut link = Link {
            index: message.header.index,
            name: String::new(),
            up: flags.contains(LinkFlags::Up),
            running: flags.contains(LinkFlags::Running),
            lower_up: flags.contains(LinkFlags::LowerUp),
            noarp: flags.contains(LinkFlags::Noarp),
            hw_addr: Vec::new(),
            link_layer_type: u16::from(message.header.link_layer_type),
            mtu: 0,
            group: 0,
            kind: None,
            master: None,
            parent: None,
            macvlan_mode: None,
        };
        for attribute in &message.attributes {
            match attribute {
                LinkAttribute::IfName(name) => link.name = name.clone(),
                LinkAttribute::Address(addr) => link.hw_addr = addr.clone(),
                LinkAttribute::Mtu(mtu) => link.mtu = *mtu,
                LinkAttribute::Group(group) => link.group = *group,
                LinkAttribute::Controller(master) => link.master = Some(*master),
                LinkAttribute::Link(parent) => link.parent = Some(*parent),
                LinkAttribute::LinkInfo(infos) => {
                    for info in infos {
                        match info {
                            LinkInfo::Kind(kind) => link.kind = Some(kind.to_string()),
                            LinkInfo::Data(InfoData::MacVlan(data)) => {
                                for item in data {
                                    if let InfoMacVlan::Mode(mode) = item {
                                        link.macvlan_mode = Some(MacvlanMode::from(*mode));
                                    }
                                }
                            }
                            _ => {}
                        }
                    }
                }
                _ => {}
            }
        }
        link
    }
}

/// A macvlan to create: everything keepalived sets on a VMAC at creation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MacvlanSpec {
    pub name: String,
    pub parent: u32,
    pub mac: [u8; 6],
    pub mode: MacvlanMode,
    pub group: Option<u32>,
    /// VRF the parent is enslaved to, so the VMAC lands in the same one.
    pub master: Option<u32>,
}

pub(crate) fn check_ifname(name: &str) -> Result<()> {
    if name.is_empty()
        || name.len() > IFNAME_MAX
        || name.contains(['/', ' ', '\0'])
        || name == "."
        || name == ".."
    {
        return Err(NetError::Invalid(format!(
            "invalid interface name '{name}' (1 to {IFNAME_MAX} bytes, no '/' or spaces)"
        )));
    }
    Ok(())
}

impl Netlink {
    pub async fn link_by_name(&self, name: &str) -> Result<Link> {
        if check_ifname(name).is_err() {
            return Err(NetError::NoSuchInterface(name.to_string()));
        }
        let mut message = LinkMessage::default();
        message
            .attributes
            .push(LinkAttribute::IfName(name.to_string()));
        match self.get_one(RouteNetlinkMessage::GetLink(message)).await {
            Ok(RouteNetlinkMessage::NewLink(found)) => Ok(Link::from_message(&found)),
            Ok(_) | Err(Refusal::Errno(libc::ENODEV, _)) => {
                Err(NetError::NoSuchInterface(name.to_string()))
            }
            Err(refusal) => Err(refusal.into_error(|| format!("look up interface {name}"))),
        }
    }

    pub async fn link_by_index(&self, index: u32) -> Result<Link> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        match self.get_one(RouteNetlinkMessage::GetLink(message)).await {
            Ok(RouteNetlinkMessage::NewLink(found)) => Ok(Link::from_message(&found)),
            Ok(_) | Err(Refusal::Errno(libc::ENODEV, _)) => Err(NetError::NoSuchIfindex(index)),
            Err(refusal) => Err(refusal.into_error(|| format!("look up interface index {index}"))),
        }
    }

    pub async fn ifindex(&self, name: &str) -> Result<u32> {
        Ok(self.link_by_name(name).await?.index)
    }

    pub async fn links(&self) -> Result<Vec<Link>> {
        let replies = self
            .dump(
                RouteNetlinkMessage::GetLink(LinkMessage::default()),
                "links",
            )
            .await?;
        Ok(replies
            .iter()
            .filter_map(|m| match m {
                RouteNetlinkMessage::NewLink(link) => Some(Link::from_message(link)),
                _ => None,
            })
            .collect())
    }

    /// `ip link set INDEX up|down`.
    pub async fn set_link_up(&self, index: u32, up: bool) -> Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message.header.change_mask = LinkFlags::Up;
        if up {
            message.header.flags = LinkFlags::Up;
        }
        self.ack(RouteNetlinkMessage::SetLink(message), 0)
            .await
            .map_err(|r| {
                r.into_error(|| {
                    format!(
                        "set interface index {index} {}",
                        if up { "up" } else { "down" }
                    )
                })
            })
    }

    /// Deletes a link; an already missing one is `Unchanged`.
    pub async fn delete_link(&self, index: u32) -> Result<Change> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        self.change(
            RouteNetlinkMessage::DelLink(message),
            0,
            &[libc::ENODEV],
            || format!("delete interface index {index}"),
        )
        .await
    }

    /// Creates a macvlan (RTM_NEWLINK with NLM_F_CREATE|NLM_F_EXCL); returns its index.
    pub async fn create_macvlan(&self, spec: &MacvlanSpec) -> Result<u32> {
        check_ifname(&spec.name)?;
        let mut message = LinkMessage::default();
        message.header.interface_family = AddressFamily::Unspec;
        message
            .attributes
            .push(LinkAttribute::IfName(spec.name.clone()));
        message.attributes.push(LinkAttribute::Link(spec.parent));
        message
            .attributes
            .push(LinkAttribute::Address(spec.mac.to_vec()));
        if let Some(group) = spec.group {
            message.attributes.push(LinkAttribute::Group(group));
        }
        if let Some(master) = spec.master {
            message.attributes.push(LinkAttribute::Controller(master));
        }
        message.attributes.push(macvlan_info(spec.mode));
        self.ack(
            RouteNetlinkMessage::NewLink(message),
            NLM_F_CREATE | NLM_F_EXCL,
        )
        .await
        .map_err(|r| r.into_error(|| format!("create macvlan {}", spec.name)))?;
        Ok(self.link_by_name(&spec.name).await?.index)
    }

    /// Rewrites the MAC and mode of an existing macvlan (keepalived's "update old VMAC").
    pub async fn update_macvlan(&self, index: u32, mac: [u8; 6], mode: MacvlanMode) -> Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message
            .attributes
            .push(LinkAttribute::Address(mac.to_vec()));
        message.attributes.push(macvlan_info(mode));
        self.ack(RouteNetlinkMessage::NewLink(message), 0)
            .await
            .map_err(|r| r.into_error(|| format!("update macvlan index {index}")))
    }

    /// IFLA_INET6_ADDR_GEN_MODE = none: no automatic link-local (RFC 5798 §7.4, and a
    /// standby VMAC must not send DAD/MLD from the virtual MAC).
    pub async fn set_addr_gen_mode_none(&self, index: u32) -> Result<()> {
        let mut message = LinkMessage::default();
        message.header.index = index;
        message
            .attributes
            .push(LinkAttribute::AfSpecUnspec(vec![AfSpecUnspec::Inet6(
                vec![AfSpecInet6::AddrGenMode(In6AddrGenMode::None)],
            )]));
        self.ack(RouteNetlinkMessage::SetLink(message), 0)
            .await
            .map_err(|r| {
                r.into_error(|| format!("set addrgenmode none on interface index {index}"))
            })
    }
}

fn macvlan_info(mode: MacvlanMode) -> LinkAttribute {
    LinkAttribute::LinkInfo(vec![
        LinkInfo::Kind(InfoKind::MacVlan),
        LinkInfo::Data(InfoData::MacVlan(vec![InfoMacVlan::Mode(
            MacVlanMode::from(mode),
        )])),
    ])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ifname_rules() {
        assert!(check_ifname("vrrp.51").is_ok());
        assert!(check_ifname("abcdefghijklmno").is_ok());
        assert!(check_ifname("abcdefghijklmnop").is_err());
        assert!(check_ifname("").is_err());
        assert!(check_ifname("a/b").is_err());
        assert!(check_ifname("a b").is_err());
    }

    #[test]
    fn link_facts_from_message() {
        let mut m = LinkMessage::default();
        m.header.index = 7;
        m.header.flags = LinkFlags::Up | LinkFlags::Running;
        m.attributes.push(LinkAttribute::IfName("vrrp.51".into()));
        m.attributes
            .push(LinkAttribute::Address(vec![0, 0, 0x5e, 0, 1, 51]));
        m.attributes.push(LinkAttribute::Group(4));
        m.attributes.push(LinkAttribute::Link(3));
        m.attributes.push(macvlan_info(MacvlanMode::Private));
        let link = Link::from_message(&m);
        assert_eq!(link.index, 7);
        assert!(link.is_oper_up());
        assert!(!link.lower_up);
        assert_eq!(link.mac(), Some([0, 0, 0x5e, 0, 1, 51]));
        assert_eq!(link.group, 4);
        assert_eq!(link.parent, Some(3));
        assert_eq!(link.kind.as_deref(), Some("macvlan"));
        assert_eq!(link.macvlan_mode, Some(MacvlanMode::Private));
    }
}
