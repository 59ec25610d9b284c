//! Policy routing rules: `RuleEntry` → RTM_NEWRULE/RTM_DELRULE (vrrp_iprule.c), listing.

use super::{address_family, family_of, Netlink};
use crate::config::model::{Family, Prefix, RuleAction, RuleEntry};
use crate::net::error::{Change, NetError, Result};
use rtnetlink::packet_core::{NLM_F_CREATE, NLM_F_EXCL};
use rtnetlink::packet_route::route::{RouteProtocol, RouteRealm};
use rtnetlink::packet_route::rule::{
    RuleAction as NlRuleAction, RuleAttribute, RuleFlags, RuleMessage, RulePortRange, RuleUidRange,
};
use rtnetlink::packet_route::{IpProtocol, RouteNetlinkMessage};

/// A rule as the kernel reports it; the message is kept so that a delete matches it
/// exactly.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RuleInfo {
    pub family: Family,
    pub priority: Option<u32>,
    /// `None` for actions kad does not configure.
    pub action: Option<RuleAction>,
    pub from: Option<Prefix>,
    pub to: Option<Prefix>,
    pub protocol: u8,
    pub iif: Option<String>,
    pub oif: Option<String>,
    pub fwmark: Option<u32>,
    pub invert: bool,
    message: RuleMessage,
}

impl RuleInfo {
    pub(crate) fn from_message(message: &RuleMessage) -> Option<RuleInfo> {
        let header = &message.header;
        let family = family_of(header.family)?;
        let mut table = u32::from(header.table);
        let mut goto = None;
        let mut l3mdev = false;
        let mut info = RuleInfo {
            family,
            priority: None,
            action: None,
            from: None,
            to: None,
            protocol: 0,
            iif: None,
            oif: None,
            fwmark: None,
            invert: header.flags.contains(RuleFlags::Invert),
            message: message.clone(),
        };
        for attribute in &message.attributes {
            match attribute {
                RuleAttribute::Priority(p) => info.priority = Some(*p),
                RuleAttribute::Source(a) => {
                    info.from = Some(Prefix {
                        addr: *a,
                        len: header.src_len,
                    })
                }
                RuleAttribute::Destination(a) => {
                    info.to = Some(Prefix {
                        addr: *a,
                        len: header.dst_len,
                    })
                }
                RuleAttribute::Table(t) => table = *t,
                RuleAttribute::Goto(g) => goto = Some(*g),
                RuleAttribute::L3MDev(on) => l3mdev = *on,
                RuleAttribute::Protocol(p) => info.protocol = u8::from(*p),
                RuleAttribute::Iifname(n) => info.iif = Some(n.clone()),
                RuleAttribute::Oifname(n) => info.oif = Some(n.clone()),
                RuleAttribute::FwMark(m) => info.fwmark = Some(*m),
                _ => {}
            }
        }
        info.action = match header.action {
            NlRuleAction::ToTable if l3mdev => Some(RuleAction::L3mdev),
            NlRuleAction::ToTable => Some(RuleAction::Table(table)),
            NlRuleAction::Goto => goto.map(RuleAction::Goto),
            NlRuleAction::Nop => Some(RuleAction::Nop),
            NlRuleAction::Blackhole => Some(RuleAction::Blackhole),
            NlRuleAction::Unreachable => Some(RuleAction::Unreachable),
            NlRuleAction::Prohibit => Some(RuleAction::Prohibit),
            _ => None,
        };
        Some(info)
    }
}

fn check_entry(entry: &RuleEntry) -> Result<()> {
    for prefix in [entry.from, entry.to].into_iter().flatten() {
        let max_len = if prefix.is_ipv6() { 128 } else { 32 };
        if Family::of(&prefix.addr) != entry.family || prefix.len > max_len {
            return Err(NetError::Invalid(format!(
                "rule: prefix {prefix} does not fit the rule's family"
            )));
        }
    }
    Ok(())
}

pub(crate) fn rule_message(entry: &RuleEntry) -> Result<RuleMessage> {
    check_entry(entry)?;
    let mut message = RuleMessage::default();
    let header = &mut message.header;
    let attrs = &mut message.attributes;
    header.family = address_family(entry.family);
    header.tos = entry.tos.unwrap_or(0);
    if entry.invert {
        header.flags |= RuleFlags::Invert;
    }
    if let Some(from) = entry.from {
        header.src_len = from.len;
        attrs.push(RuleAttribute::Source(from.addr));
    }
    if let Some(to) = entry.to {
        header.dst_len = to.len;
        attrs.push(RuleAttribute::Destination(to.addr));
    }
    match entry.action {
        RuleAction::Table(table) => {
            header.action = NlRuleAction::ToTable;
            match u8::try_from(table) {
                Ok(small) => header.table = small,
                Err(_) => attrs.push(RuleAttribute::Table(table)),
            }
        }
        RuleAction::Goto(target) => {
            header.action = NlRuleAction::Goto;
            attrs.push(RuleAttribute::Goto(target));
        }
        RuleAction::Nop => header.action = NlRuleAction::Nop,
        RuleAction::Blackhole => header.action = NlRuleAction::Blackhole,
        RuleAction::Unreachable => header.action = NlRuleAction::Unreachable,
        RuleAction::Prohibit => header.action = NlRuleAction::Prohibit,
        RuleAction::L3mdev => {
            header.action = NlRuleAction::ToTable;
            attrs.push(RuleAttribute::L3MDev(true));
        }
    }
    if let Some(priority) = entry.priority {
        attrs.push(RuleAttribute::Priority(priority));
    }
    if let Some((mark, mask)) = entry.fwmark {
        attrs.push(RuleAttribute::FwMark(mark));
        if let Some(mask) = mask {
            attrs.push(RuleAttribute::FwMask(mask));
        }
    }
    if let Some(realms) = entry.realms {
        attrs.push(RuleAttribute::Realm(RouteRealm {
            source: (realms >> 16) as u16,
            destination: realms as u16,
        }));
    }
    if let Some(len) = entry.suppress_prefixlength {
        attrs.push(RuleAttribute::SuppressPrefixLen(len));
    }
    if let Some(group) = entry.suppress_ifgroup {
        attrs.push(RuleAttribute::SuppressIfGroup(group));
    }
    if let Some(iif) = &entry.iif {
        attrs.push(RuleAttribute::Iifname(iif.clone()));
    }
    if let Some(oif) = &entry.oif {
        attrs.push(RuleAttribute::Oifname(oif.clone()));
    }
    if let Some(id) = entry.tunnel_id {
        attrs.push(RuleAttribute::TunId(id));
    }
    if let Some((start, end)) = entry.uidrange {
        attrs.push(RuleAttribute::UidRange(RuleUidRange { start, end }));
    }
    attrs.push(RuleAttribute::Protocol(RouteProtocol::from(entry.protocol)));
    if let Some(proto) = entry.ipproto {
        attrs.push(RuleAttribute::IpProtocol(IpProtocol::from(proto)));
    }
    if let Some((start, end)) = entry.sport {
        attrs.push(RuleAttribute::SourcePortRange(RulePortRange { start, end }));
    }
    if let Some((start, end)) = entry.dport {
        attrs.push(RuleAttribute::DestinationPortRange(RulePortRange {
            start,
            end,
        }));
    }
    Ok(message)
}

/// `from P to P priority N action` for log lines.
pub(crate) fn describe(entry: &RuleEntry) -> String {
    let mut s = String::new();
    if let Some(from) = entry.from {
        s.push_str(&format!("from {from} "));
    }
    if let Some(to) = entry.to {
        s.push_str(&format!("to {to} "));
    }
    if let Some(priority) = entry.priority {
        s.push_str(&format!("priority {priority} "));
    }
    s.push_str(&format!("{:?}", entry.action).to_lowercase());
    s
}

impl Netlink {
    /// `ip rule add` with NLM_F_EXCL, so an identical rule is `Unchanged` rather than a
    /// duplicate (the kernel allows duplicates without EXCL).
    pub async fn add_rule(&self, entry: &RuleEntry) -> Result<Change> {
        let message = rule_message(entry)?;
        self.change(
            RouteNetlinkMessage::NewRule(message),
            NLM_F_CREATE | NLM_F_EXCL,
            &[libc::EEXIST],
            || format!("add rule {}", describe(entry)),
        )
        .await
    }

    /// `ip rule del`; an absent rule is `Unchanged`.
    pub async fn delete_rule(&self, entry: &RuleEntry) -> Result<Change> {
        let message = rule_message(entry)?;
        self.change(
            RouteNetlinkMessage::DelRule(message),
            0,
            &[libc::ENOENT],
            || format!("delete rule {}", describe(entry)),
        )
        .await
    }

    /// Deletes a rule found by [`Netlink::rules`] (stale cleanup).
    pub async fn delete_rule_info(&self, info: &RuleInfo) -> Result<Change> {
        self.change(
            RouteNetlinkMessage::DelRule(info.message.clone()),
            0,
            &[libc::ENOENT],
            || format!("delete rule priority {:?} {:?}", info.priority, info.action),
        )
        .await
    }

    /// Rules of one family (or both), optionally only one protocol.
    pub async fn rules(
        &self,
        family: Option<Family>,
        protocol: Option<u8>,
    ) -> Result<Vec<RuleInfo>> {
        let families = match family {
            Some(f) => vec![f],
            None => vec![Family::Inet, Family::Inet6],
        };
        let mut out = Vec::new();
        for family in families {
            let mut query = RuleMessage::default();
            query.header.family = address_family(family);
            let replies = self
                .dump(RouteNetlinkMessage::GetRule(query), "rules")
                .await?;
            out.extend(
                replies
                    .iter()
                    .filter_map(|m| match m {
                        RouteNetlinkMessage::NewRule(r) => RuleInfo::from_message(r),
                        _ => None,
                    })
                    .filter(|r| r.family == family && protocol.is_none_or(|p| r.protocol == p)),
            );
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(crate) fn rule(action: RuleAction) -> RuleEntry {
        RuleEntry::new(Family::Inet, action)
    }

    #[test]
    fn roundtrip_through_info() {
        let mut r = rule(RuleAction::Table(1000));
        r.from = Some(Prefix {
            addr: "192.0.2.0".parse().unwrap(),
            len: 24,
        });
        r.priority = Some(100);
        r.iif = Some("eth0".into());
        r.invert = true;
        let m = rule_message(&r).unwrap();
        assert_eq!(m.header.table, 0);
        let info = RuleInfo::from_message(&m).unwrap();
        assert_eq!(info.action, Some(RuleAction::Table(1000)));
        assert_eq!(info.from, r.from);
        assert_eq!(info.priority, Some(100));
        assert_eq!(info.protocol, 18);
        assert_eq!(info.iif.as_deref(), Some("eth0"));
        assert!(info.invert);
    }

    #[test]
    fn goto_nop_and_l3mdev() {
        let m = rule_message(&rule(RuleAction::Goto(300))).unwrap();
        assert_eq!(m.header.action, NlRuleAction::Goto);
        assert_eq!(
            RuleInfo::from_message(&m).unwrap().action,
            Some(RuleAction::Goto(300))
        );
        let m = rule_message(&rule(RuleAction::Nop)).unwrap();
        assert_eq!(
            RuleInfo::from_message(&m).unwrap().action,
            Some(RuleAction::Nop)
        );
        let m = rule_message(&rule(RuleAction::L3mdev)).unwrap();
        assert_eq!(
            RuleInfo::from_message(&m).unwrap().action,
            Some(RuleAction::L3mdev)
        );
    }

    #[test]
    fn family_mismatch_is_rejected() {
        let mut r = rule(RuleAction::Blackhole);
        r.to = Some(Prefix {
            addr: "2001:db8::".parse().unwrap(),
            len: 32,
        });
        assert!(matches!(rule_message(&r), Err(NetError::Invalid(_))));
    }
}
