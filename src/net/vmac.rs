//! VMAC interfaces: a private-mode macvlan carrying the VRRP virtual MAC
//! (00:00:5e:00:01:VRID, or :02: for IPv6), as keepalived makes them (vrrp_vmac.c,
//! vrrp_if_config.c), plus what vmac-vip-devices.md measured:
//! - the VMAC's link group is copied from the parent, so group-based rules still match;
//! - a VMAC that must stay silent (standby, or IPv4 only) gets IPv6 disabled and
//!   addrgenmode none: an IPv6-enabled VMAC sends MLD/DAD/RS from the virtual MAC and
//!   moves it on the switch;
//! - `up` is the caller's choice: a VMAC on a device without VRRP is up only while MASTER;
//! - stale VMACs of a dead kad are found by name pattern and MAC and deleted at start.
//!
//! Sysctls changed here are remembered in a [`SysctlLedger`] and restored on removal
//! (the parent's, when its last VMAC goes) or by [`Vmacs::restore_all`] at exit.

use super::error::{NetError, Result};
use super::netlink::{Link, MacvlanMode, MacvlanSpec, Netlink};
use super::sysctl::{SysctlKey, SysctlLedger};
use crate::config::model::Family;
use std::net::Ipv6Addr;

/// 00:00:5e:00:01:00, the VRRP IPv4 virtual MAC base (RFC 5798 §7.3).
const VMAC_PREFIX: [u8; 4] = [0x00, 0x00, 0x5e, 0x00];

/// The RFC virtual MAC of `vrid` for `family`.
pub fn default_mac(family: Family, vrid: u8) -> [u8; 6] {
    let kind = match family {
        Family::Inet => 0x01,
        Family::Inet6 => 0x02,
    };
    [
        VMAC_PREFIX[0],
        VMAC_PREFIX[1],
        VMAC_PREFIX[2],
        VMAC_PREFIX[3],
        kind,
        vrid,
    ]
}

fn is_vrrp_mac(mac: &[u8]) -> bool {
    mac.len() == 6 && mac[..4] == VMAC_PREFIX && (mac[4] == 0x01 || mac[4] == 0x02)
}

/// `<prefix>.<vrid>` (keepalived's default prefix is `vrrp`), checked against IFNAMSIZ.
pub fn default_name(prefix: Option<&str>, vrid: u8) -> Result<String> {
    let name = format!("{}.{vrid}", prefix.unwrap_or("vrrp"));
    crate::net::netlink::check_ifname(&name)?;
    Ok(name)
}

/// The EUI-64 link-local of a MAC (keepalived's fallback VMAC link-local is the one of
/// the parent's MAC, so adverts keep the parent's usual source).
pub fn eui64_link_local(mac: [u8; 6]) -> Ipv6Addr {
    Ipv6Addr::from([
        0xfe,
        0x80,
        0,
        0,
        0,
        0,
        0,
        0,
        mac[0] ^ 0x02,
        mac[1],
        mac[2],
        0xff,
        0xfe,
        mac[3],
        mac[4],
        mac[5],
    ])
}

/// What a VMAC should look like.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VmacSpec {
    pub name: String,
    /// The configured interface it sits on.
    pub parent: String,
    pub mac: [u8; 6],
    /// `None`: copy the parent's group.
    pub group: Option<u32>,
    /// The instance family; IPv4 VMACs get keepalived's ARP and rp_filter settings.
    pub family: Family,
    /// Keep IPv6 enabled on the VMAC (IPv6 instance or IPv6 addresses on it); otherwise
    /// it is disabled so the VMAC cannot send MLD/DAD/RS from the virtual MAC.
    pub ipv6: bool,
    /// Also arp_announce=2 on the VMAC and parent: for a VMAC that only carries VIPs on
    /// a device without VRRP (vmac-vip-devices.md pitfall 2).
    pub strict_arp: bool,
}

/// A VMAC as set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Vmac {
    pub name: String,
    pub index: u32,
    pub mac: [u8; 6],
    pub parent_name: String,
    pub parent_index: u32,
    /// Created now (as opposed to found from an earlier run and reused).
    pub created: bool,
    held: Vec<SysctlKey>,
}

/// Creates, reuses, brings up/down and deletes VMACs; owns the sysctl ledger.
pub struct Vmacs {
    netlink: Netlink,
    ledger: SysctlLedger,
    /// rp_filter values relaxed so that IPv4 VMACs can run with rp_filter 0.
    relaxed_rp_filter: Vec<SysctlKey>,
}

impl Vmacs {
    pub fn new(netlink: Netlink) -> Vmacs {
        Self::with_ledger(netlink, SysctlLedger::new())
    }

    pub fn with_ledger(netlink: Netlink, ledger: SysctlLedger) -> Vmacs {
        Vmacs {
            netlink,
            ledger,
            relaxed_rp_filter: Vec::new(),
        }
    }

    pub fn ledger(&self) -> &SysctlLedger {
        &self.ledger
    }

    /// Makes the VMAC exist as specified (create, reuse, or fix an old one), with its
    /// sysctls, left down unless `up`.
    pub async fn ensure(&mut self, spec: &VmacSpec, up: bool) -> Result<Vmac> {
        crate::net::netlink::check_ifname(&spec.name)?;
        let parent = self.netlink.link_by_name(&spec.parent).await?;
        let existing = match self.netlink.link_by_name(&spec.name).await {
            Ok(link) => Some(link),
            Err(NetError::NoSuchInterface(_)) => None,
            Err(e) => return Err(e),
        };
        let (index, created) = match existing {
            Some(link) if link.kind.as_deref() != Some("macvlan") => {
                return Err(NetError::Invalid(format!(
                    "VMAC {} conflicts with existing interface",
                    spec.name
                )));
            }
            Some(link) if link.parent != Some(parent.index) => {
                // A macvlan of that name on another parent: an old VMAC, replaced.
                self.netlink.delete_link(link.index).await?;
                (self.create(spec, &parent).await?, true)
            }
            Some(link) => {
                if link.mac() != Some(spec.mac) || link.macvlan_mode != Some(MacvlanMode::Private) {
                    self.netlink
                        .update_macvlan(link.index, spec.mac, MacvlanMode::Private)
                        .await?;
                }
                (link.index, false)
            }
            None => (self.create(spec, &parent).await?, true),
        };
        let mut vmac = Vmac {
            name: spec.name.clone(),
            index,
            mac: spec.mac,
            parent_name: parent.name.clone(),
            parent_index: parent.index,
            created,
            held: Vec::new(),
        };
        if let Err(e) = self.configure(spec, &mut vmac).await {
            // Leave nothing half-made behind; the sysctl error is the one to report.
            let _ = self.remove(&mut vmac).await;
            return Err(e);
        }
        if up {
            self.netlink.set_link_up(index, true).await?;
        }
        Ok(vmac)
    }

    async fn create(&self, spec: &VmacSpec, parent: &Link) -> Result<u32> {
        let master = match parent.master {
            Some(master) => {
                let master = self.netlink.link_by_index(master).await?;
                (master.kind.as_deref() == Some("vrf")).then_some(master.index)
            }
            None => None,
        };
        self.netlink
            .create_macvlan(&MacvlanSpec {
                name: spec.name.clone(),
                parent: parent.index,
                mac: spec.mac,
                mode: MacvlanMode::Private,
                group: Some(spec.group.unwrap_or(parent.group)),
                master,
            })
            .await
    }

    async fn configure(&mut self, spec: &VmacSpec, vmac: &mut Vmac) -> Result<()> {
        let mut wanted: Vec<(SysctlKey, &str)> = Vec::new();
        if spec.family == Family::Inet {
            self.relax_rp_filter(&vmac.name)?;
            for (param, value) in [
                ("arp_ignore", "1"),
                ("accept_local", "1"),
                ("rp_filter", "0"),
                ("promote_secondaries", "1"),
            ] {
                wanted.push((SysctlKey::ipv4_conf(&vmac.name, param)?, value));
            }
            wanted.push((SysctlKey::ipv4_conf(&vmac.parent_name, "arp_ignore")?, "1"));
            wanted.push((SysctlKey::ipv4_conf(&vmac.parent_name, "arp_filter")?, "1"));
        }
        if spec.strict_arp {
            wanted.push((SysctlKey::ipv4_conf(&vmac.name, "arp_ignore")?, "1"));
            wanted.push((SysctlKey::ipv4_conf(&vmac.parent_name, "arp_ignore")?, "1"));
            wanted.push((SysctlKey::ipv4_conf(&vmac.name, "arp_announce")?, "2"));
            wanted.push((
                SysctlKey::ipv4_conf(&vmac.parent_name, "arp_announce")?,
                "2",
            ));
        }
        wanted.push((
            SysctlKey::ipv6_conf(&vmac.name, "disable_ipv6")?,
            if spec.ipv6 { "0" } else { "1" },
        ));
        for (key, value) in wanted {
            if vmac.held.contains(&key) {
                continue;
            }
            self.ledger.hold(&key, value)?;
            vmac.held.push(key);
        }
        if spec.ipv6 {
            // Before the link goes up, or the kernel adds the VMAC's EUI-64 link-local,
            // identical on every router of this VRID.
            self.netlink.set_addr_gen_mode_none(vmac.index).await?;
        }
        Ok(())
    }

    /// keepalived's clear_rp_filter: with all.rp_filter > 0 an interface cannot run with
    /// rp_filter 0, so copy all.rp_filter onto default and onto every interface below it,
    /// then set all.rp_filter to 0. Done once; undone by `restore_all`. `vmac` is left
    /// alone: it gets rp_filter 0 of its own.
    fn relax_rp_filter(&mut self, vmac: &str) -> Result<()> {
        if !self.relaxed_rp_filter.is_empty() {
            return Ok(());
        }
        let all_key = SysctlKey::ipv4_conf("all", "rp_filter")?;
        let all: u32 = self.ledger.read(&all_key)?.parse().unwrap_or(0);
        if all == 0 {
            return Ok(());
        }
        let all_value = all.to_string();
        let mut keys = vec![SysctlKey::ipv4_conf("default", "rp_filter")?];
        for ifname in self.ledger.interfaces()?.into_iter().filter(|i| i != vmac) {
            keys.push(SysctlKey::ipv4_conf(&ifname, "rp_filter")?);
        }
        for key in keys {
            let current: u32 = self.ledger.read(&key)?.parse().unwrap_or(0);
            if current < all {
                self.ledger.hold(&key, &all_value)?;
                self.relaxed_rp_filter.push(key);
            }
        }
        self.ledger.hold(&all_key, "0")?;
        self.relaxed_rp_filter.push(all_key);
        Ok(())
    }

    pub async fn set_up(&self, vmac: &Vmac, up: bool) -> Result<()> {
        self.netlink.set_link_up(vmac.index, up).await
    }

    /// Deletes the VMAC and gives back its sysctl holds (the parent's are restored when
    /// its last VMAC goes).
    pub async fn remove(&mut self, vmac: &mut Vmac) -> Result<()> {
        let deleted = self.netlink.delete_link(vmac.index).await;
        let mut first_error = deleted.err();
        for key in vmac.held.drain(..) {
            if let Err(e) = self.ledger.release(&key) {
                first_error.get_or_insert(e);
            }
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Puts back every sysctl still changed (exit path); returns the failures.
    pub fn restore_all(&mut self) -> Vec<NetError> {
        self.relaxed_rp_filter.clear();
        self.ledger.release_all()
    }

    /// Deletes macvlans left by an earlier kad/keepalived run: named `<prefix>.<n>` or
    /// `<prefix><k>.<n>` for one of `prefixes`, carrying a VRRP virtual MAC, and not in
    /// `keep`. Returns the names deleted.
    pub async fn remove_stale(&self, prefixes: &[&str], keep: &[&str]) -> Result<Vec<String>> {
        let mut removed = Vec::new();
        for link in self.netlink.links().await? {
            let stale = link.kind.as_deref() == Some("macvlan")
                && is_vrrp_mac(&link.hw_addr)
                && prefixes.iter().any(|p| matches_vmac_name(&link.name, p))
                && !keep.contains(&link.name.as_str());
            if stale {
                self.netlink.delete_link(link.index).await?;
                removed.push(link.name);
            }
        }
        Ok(removed)
    }
}

fn matches_vmac_name(name: &str, prefix: &str) -> bool {
    let Some(rest) = name.strip_prefix(prefix) else {
        return false;
    };
    let Some((counter, vrid)) = rest.split_once('.') else {
        return false;
    };
    counter.chars().all(|c| c.is_ascii_digit())
        && !vrid.is_empty()
        && vrid.chars().all(|c| c.is_ascii_digit())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_macs() {
        assert_eq!(default_name(None, 51).unwrap(), "vrrp.51");
        assert_eq!(default_name(Some("vmac"), 255).unwrap(), "vmac.255");
        assert!(matches!(
            default_name(Some("a-very-long-pfx"), 200),
            Err(NetError::Invalid(_))
        ));
        assert_eq!(default_mac(Family::Inet, 51), [0, 0, 0x5e, 0, 1, 51]);
        assert_eq!(default_mac(Family::Inet6, 7), [0, 0, 0x5e, 0, 2, 7]);
        assert!(is_vrrp_mac(&default_mac(Family::Inet6, 7)));
        assert!(!is_vrrp_mac(&[0, 0, 0x5e, 0, 3, 7]));
    }

    #[test]
    fn stale_name_pattern() {
        assert!(matches_vmac_name("vrrp.51", "vrrp"));
        assert!(matches_vmac_name("vrrp6.51", "vrrp"));
        assert!(matches_vmac_name("vrrp12.3", "vrrp"));
        assert!(!matches_vmac_name("vrrp.", "vrrp"));
        assert!(!matches_vmac_name("vrrpx.5", "vrrp"));
        assert!(!matches_vmac_name("eth0.5", "vrrp"));
        assert!(!matches_vmac_name("vrrp.5a", "vrrp"));
    }

    #[test]
    fn eui64() {
        assert_eq!(
            eui64_link_local([2, 0, 0, 0, 0, 0x11]).to_string(),
            "fe80::ff:fe00:11"
        );
    }
}
