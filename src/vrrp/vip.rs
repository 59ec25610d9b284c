//! The runtime form of a VIP (or excluded VIP): 48 bytes instead of the configuration's
//! 152-byte [`AddressEntry`], because a router holds tens of thousands of them for its
//! whole life. The source position is left behind (diagnostics are over once the
//! configuration is accepted) and the attributes VIPs rarely have share one box.

use crate::config::model::{AddressEntry, Broadcast, Prefix};
use serde::{Deserialize, Serialize};
use std::sync::Arc;

const HOME: u8 = 1;
const NODAD: u8 = 1 << 1;
const MNGTMPADDR: u8 = 1 << 2;
const NOPREFIXROUTE: u8 = 1 << 3;
const AUTOJOIN: u8 = 1 << 4;
const NO_TRACK: u8 = 1 << 5;
const USE_VMAC: u8 = 1 << 6;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(from = "AddressEntry", into = "AddressEntry")]
pub struct Vip {
    pub prefix: Prefix,
    /// rtnetlink scope number (0 = universe/global).
    pub scope: u8,
    flags: u8,
    /// `dev IF`; `None` means the instance interface (or its VMAC).
    pub dev: Option<Arc<str>>,
    rare: Option<Box<RareAttributes>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
struct RareAttributes {
    broadcast: Option<Broadcast>,
    label: Option<String>,
    peer: Option<Prefix>,
    preferred_lft: Option<u32>,
    track_group: Option<String>,
}

impl Vip {
    pub fn home(&self) -> bool {
        self.flags & HOME != 0
    }

    pub fn no_track(&self) -> bool {
        self.flags & NO_TRACK != 0
    }

    /// Per-VIP VMAC on its device.
    pub fn use_vmac(&self) -> bool {
        self.flags & USE_VMAC != 0
    }

    /// The configuration's form, for the netlink requests and dumps that read every
    /// attribute (the source position is not kept).
    pub fn to_entry(&self) -> AddressEntry {
        let flag = |bit: u8| self.flags & bit != 0;
        let mut entry = AddressEntry {
            dev: self.dev.clone(),
            scope: self.scope,
            home: flag(HOME),
            nodad: flag(NODAD),
            mngtmpaddr: flag(MNGTMPADDR),
            noprefixroute: flag(NOPREFIXROUTE),
            autojoin: flag(AUTOJOIN),
            no_track: flag(NO_TRACK),
            use_vmac: flag(USE_VMAC),
            ..AddressEntry::new(self.prefix)
        };
        if let Some(rare) = &self.rare {
            entry.broadcast = rare.broadcast;
            entry.label = rare.label.clone();
            entry.peer = rare.peer;
            entry.preferred_lft = rare.preferred_lft;
            entry.track_group = rare.track_group.clone();
        }
        entry
    }
}

impl From<&AddressEntry> for Vip {
    fn from(a: &AddressEntry) -> Vip {
        let flags = [
            (a.home, HOME),
            (a.nodad, NODAD),
            (a.mngtmpaddr, MNGTMPADDR),
            (a.noprefixroute, NOPREFIXROUTE),
            (a.autojoin, AUTOJOIN),
            (a.no_track, NO_TRACK),
            (a.use_vmac, USE_VMAC),
        ]
        .into_iter()
        .filter(|(set, _)| *set)
        .fold(0, |acc, (_, bit)| acc | bit);
        let rare = RareAttributes {
            broadcast: a.broadcast,
            label: a.label.clone(),
            peer: a.peer,
            preferred_lft: a.preferred_lft,
            track_group: a.track_group.clone(),
        };
        let has_rare = rare.broadcast.is_some()
            || rare.label.is_some()
            || rare.peer.is_some()
            || rare.preferred_lft.is_some()
            || rare.track_group.is_some();
        Vip { prefix: a.prefix, scope: a.scope, flags, dev: a.dev.clone(), rare: has_rare.then(|| Box::new(rare)) }
    }
}

impl From<AddressEntry> for Vip {
    fn from(a: AddressEntry) -> Vip {
        Vip::from(&a)
    }
}

impl From<Vip> for AddressEntry {
    fn from(v: Vip) -> AddressEntry {
        v.to_entry()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::model::Span;

    fn prefix(text: &str) -> Prefix {
        let (addr, len) = text.split_once('/').unwrap();
        Prefix { addr: addr.parse().unwrap(), len: len.parse().unwrap() }
    }

    #[test]
    fn a_vip_is_at_most_48_bytes() {
        assert!(std::mem::size_of::<Vip>() <= 48, "{}", std::mem::size_of::<Vip>());
    }

    #[test]
    fn every_attribute_survives_the_round_trip() {
        let plain = AddressEntry::new(prefix("192.0.2.1/24"));
        let everything = AddressEntry {
            dev: Some("eth1".into()),
            scope: 253,
            broadcast: Some(Broadcast::Addr("192.0.2.255".parse().unwrap())),
            label: Some("eth1:vip".into()),
            peer: Some(prefix("198.51.100.1/32")),
            home: true,
            nodad: false,
            mngtmpaddr: true,
            noprefixroute: true,
            autojoin: true,
            no_track: true,
            preferred_lft: Some(0),
            use_vmac: true,
            track_group: Some("g1".into()),
            ..AddressEntry::new(prefix("2001:db8::1/64"))
        };
        for (name, entry) in [("plain", plain), ("everything", everything)] {
            let vip = Vip::from(&entry);
            assert_eq!(vip.to_entry(), entry, "{name}");
            assert_eq!(vip.no_track(), entry.no_track, "{name}");
            assert_eq!(vip.use_vmac(), entry.use_vmac, "{name}");
            assert_eq!(vip.home(), entry.home, "{name}");
        }
        let flag_only = AddressEntry { nodad: false, ..AddressEntry::new(prefix("2001:db8::2/64")) };
        assert_eq!(Vip::from(&flag_only).to_entry(), flag_only);
    }

    #[test]
    fn the_source_position_is_not_kept() {
        let entry = AddressEntry {
            span: Span { file: "/etc/keepalived/keepalived.conf".into(), line: 7, col: 3 },
            ..AddressEntry::new(prefix("192.0.2.1/24"))
        };
        assert_eq!(Vip::from(&entry).to_entry().span, Span::default());
    }

    #[test]
    fn serialises_as_the_configuration_entry() {
        let entry = AddressEntry { label: Some("eth0:1".into()), ..AddressEntry::new(prefix("192.0.2.1/24")) };
        let vip = Vip::from(&entry);
        let json = serde_json::to_string(&vip).unwrap();
        assert_eq!(json, serde_json::to_string(&entry).unwrap());
        assert_eq!(serde_json::from_str::<Vip>(&json).unwrap(), vip);
    }
}
