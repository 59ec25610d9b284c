//! Routes: `RouteEntry` → RTM_NEWROUTE/RTM_DELROUTE as keepalived builds them
//! (vrrp_iproute.c `netlink_route`), make-before-break replace, and listing.

use super::{address_family, family_of, Netlink};
use crate::config::model::{
    Family, Nexthop, Prefix, RouteEntry, RouteKey, RouteMetrics, RouteMode, RouteType,
};
use crate::net::error::{Change, NetError, Result};
use rtnetlink::packet_core::{NLM_F_APPEND, NLM_F_CREATE, NLM_F_EXCL, NLM_F_REPLACE};
use rtnetlink::packet_route::route::{
    RouteAddress, RouteAttribute, RouteFlags, RouteHeader, RouteMessage, RouteMetric, RouteNextHop,
    RouteNextHopFlags, RoutePreference, RouteProtocol, RouteRealm, RouteScope,
    RouteType as NlRouteType, RouteVia,
};
use rtnetlink::packet_route::RouteNetlinkMessage;
use std::net::IpAddr;

/// RTAX_* metric numbers, for the RTAX_LOCK bitmap.
const RTAX_MTU: u32 = 2;
const RTAX_CC_ALGO: u32 = 16;
/// RTAX_FEATURE_ECN.
const FEATURE_ECN: u32 = 1;

/// A nexthop of a multipath route as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NexthopInfo {
    pub via: Option<IpAddr>,
    pub oif: Option<u32>,
    /// As written in `ip route ... weight W` (the kernel stores W-1).
    pub weight: u16,
    pub onlink: bool,
}

/// A route as the kernel reports it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RouteInfo {
    pub family: Family,
    /// `None` for types kad does not configure.
    pub rtype: Option<RouteType>,
    pub dest: Prefix,
    /// IPv6 source prefix (`from`).
    pub from: Option<Prefix>,
    pub table: u32,
    pub protocol: u8,
    pub scope: u8,
    pub tos: u8,
    pub metric: Option<u32>,
    pub oif: Option<u32>,
    /// RTA_GATEWAY, or RTA_VIA for an IPv4 route through an IPv6 gateway.
    pub via: Option<IpAddr>,
    pub pref_src: Option<IpAddr>,
    pub onlink: bool,
    pub nexthops: Vec<NexthopInfo>,
}

impl RouteInfo {
    /// The kernel's identity of the route (what NLM_F_REPLACE matches on).
    pub fn key(&self) -> RouteKey {
        RouteKey {
            family: self.family,
            dest: self.dest,
            table: self.table,
            metric: self.metric.unwrap_or(0),
            tos: self.tos,
        }
    }

    pub(crate) fn from_message(message: &RouteMessage) -> Option<RouteInfo> {
        let header = &message.header;
        let family = family_of(header.address_family)?;
        let unspecified = match family {
            Family::Inet => IpAddr::from([0u8; 4]),
            Family::Inet6 => IpAddr::from([0u16; 8]),
        };
        let mut info = RouteInfo {
            family,
            rtype: model_route_type(header.kind),
            dest: Prefix {
                addr: unspecified,
                len: header.destination_prefix_length,
            },
            from: None,
            table: u32::from(header.table),
            protocol: u8::from(header.protocol),
            scope: u8::from(header.scope),
            tos: header.tos,
            metric: None,
            oif: None,
            via: None,
            pref_src: None,
            onlink: header.flags.contains(RouteFlags::Onlink),
            nexthops: Vec::new(),
        };
        for attribute in &message.attributes {
            match attribute {
                RouteAttribute::Destination(a) => info.dest.addr = ip_of(a)?,
                RouteAttribute::Source(a) => {
                    info.from = Some(Prefix {
                        addr: ip_of(a)?,
                        len: header.source_prefix_length,
                    })
                }
                RouteAttribute::Table(t) => info.table = *t,
                RouteAttribute::Priority(p) => info.metric = Some(*p),
                RouteAttribute::Oif(i) => info.oif = Some(*i),
                RouteAttribute::Gateway(a) => info.via = ip_of(a),
                RouteAttribute::Via(v) => info.via = via_ip(v),
                RouteAttribute::PrefSource(a) => info.pref_src = ip_of(a),
                RouteAttribute::MultiPath(hops) => {
                    info.nexthops = hops.iter().map(nexthop_info).collect();
                }
                _ => {}
            }
        }
        Some(info)
    }
}

fn ip_of(address: &RouteAddress) -> Option<IpAddr> {
    match address {
        RouteAddress::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteAddress::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn via_ip(via: &RouteVia) -> Option<IpAddr> {
    match via {
        RouteVia::Inet(v4) => Some(IpAddr::V4(*v4)),
        RouteVia::Inet6(v6) => Some(IpAddr::V6(*v6)),
        _ => None,
    }
}

fn nexthop_info(hop: &RouteNextHop) -> NexthopInfo {
    let mut via = None;
    for attribute in &hop.attributes {
        match attribute {
            RouteAttribute::Gateway(a) => via = ip_of(a),
            RouteAttribute::Via(v) => via = via_ip(v),
            _ => {}
        }
    }
    NexthopInfo {
        via,
        oif: (hop.interface_index != 0).then_some(hop.interface_index),
        weight: u16::from(hop.hops) + 1,
        onlink: hop.flags.contains(RouteNextHopFlags::Onlink),
    }
}

fn model_route_type(kind: NlRouteType) -> Option<RouteType> {
    Some(match kind {
        NlRouteType::Unicast => RouteType::Unicast,
        NlRouteType::Local => RouteType::Local,
        NlRouteType::Broadcast => RouteType::Broadcast,
        NlRouteType::Anycast => RouteType::Anycast,
        NlRouteType::Multicast => RouteType::Multicast,
        NlRouteType::BlackHole => RouteType::Blackhole,
        NlRouteType::Unreachable => RouteType::Unreachable,
        NlRouteType::Prohibit => RouteType::Prohibit,
        NlRouteType::Throw => RouteType::Throw,
        NlRouteType::Nat => RouteType::Nat,
        NlRouteType::ExternalResolve => RouteType::Xresolve,
        _ => return None,
    })
}

fn netlink_route_type(rtype: RouteType) -> NlRouteType {
    match rtype {
        RouteType::Unicast => NlRouteType::Unicast,
        RouteType::Local => NlRouteType::Local,
        RouteType::Broadcast => NlRouteType::Broadcast,
        RouteType::Anycast => NlRouteType::Anycast,
        RouteType::Multicast => NlRouteType::Multicast,
        RouteType::Blackhole => NlRouteType::BlackHole,
        RouteType::Unreachable => NlRouteType::Unreachable,
        RouteType::Prohibit => NlRouteType::Prohibit,
        RouteType::Throw => NlRouteType::Throw,
        RouteType::Nat => NlRouteType::Nat,
        RouteType::Xresolve => NlRouteType::ExternalResolve,
    }
}

const RT_SCOPE_UNIVERSE: u8 = 0;
const RT_SCOPE_LINK: u8 = 253;
const RT_SCOPE_HOST: u8 = 254;
/// On delete: match a route of any scope.
const RT_SCOPE_NOWHERE: u8 = 255;

/// The scope of a route added without `scope`. keepalived always sends universe, which
/// the kernel refuses ("Invalid scope") for local, nat, broadcast, anycast and multicast
/// routes; those get iproute2's defaults instead. Unicast keeps keepalived's universe.
fn default_scope(rtype: RouteType) -> u8 {
    match rtype {
        RouteType::Local | RouteType::Nat => RT_SCOPE_HOST,
        RouteType::Broadcast | RouteType::Anycast | RouteType::Multicast => RT_SCOPE_LINK,
        _ => RT_SCOPE_UNIVERSE,
    }
}

/// Interface indexes for the `dev` names of an entry, looked up at call time.
#[derive(Debug, Default)]
pub(crate) struct RouteDevices {
    pub oif: Option<u32>,
    pub nexthops: Vec<Option<u32>>,
}

/// A gateway of the route's family goes in RTA_GATEWAY; an IPv6 gateway of an IPv4
/// route (`via inet6 ...`) goes in RTA_VIA.
fn gateway_attribute(route_family: Family, via: IpAddr) -> RouteAttribute {
    match (route_family, via) {
        (Family::Inet, IpAddr::V6(v6)) => RouteAttribute::Via(RouteVia::Inet6(v6)),
        (Family::Inet6, IpAddr::V4(v4)) => RouteAttribute::Via(RouteVia::Inet(v4)),
        (_, ip) => RouteAttribute::Gateway(RouteAddress::from(ip)),
    }
}

fn metrics(m: &RouteMetrics) -> Vec<RouteMetric> {
    let mut out = Vec::new();
    let mut lock = 0u32;
    if let Some(cc) = &m.congctl {
        out.push(RouteMetric::CcAlgo(cc.0.clone()));
        if cc.1 {
            lock |= 1 << RTAX_CC_ALGO;
        }
    }
    let simple = [
        (m.rtt, RouteMetric::Rtt as fn(u32) -> RouteMetric),
        (m.rttvar, RouteMetric::RttVar),
        (m.rto_min, RouteMetric::RtoMin),
    ];
    out.extend(simple.iter().filter_map(|(v, make)| v.map(make)));
    if m.features_ecn {
        out.push(RouteMetric::Features(FEATURE_ECN));
    }
    if let Some((mtu, locked)) = m.mtu {
        out.push(RouteMetric::Mtu(mtu));
        if locked {
            lock |= 1 << RTAX_MTU;
        }
    }
    let rest = [
        (m.window, RouteMetric::Window as fn(u32) -> RouteMetric),
        (m.ssthresh, RouteMetric::SsThresh),
        (m.cwnd, RouteMetric::Cwnd),
        (m.advmss, RouteMetric::Advmss),
        (m.reordering, RouteMetric::Reordering),
        (m.hoplimit, RouteMetric::Hoplimit),
        (m.initcwnd, RouteMetric::InitCwnd),
        (m.initrwnd, RouteMetric::InitRwnd),
        (m.quickack, RouteMetric::QuickAck),
        (m.fastopen_no_cookie, RouteMetric::FastopenNoCookie),
    ];
    out.extend(rest.iter().filter_map(|(v, make)| v.map(make)));
    if !out.is_empty() && lock != 0 {
        out.push(RouteMetric::Lock(lock));
    }
    out
}

fn check_entry(entry: &RouteEntry) -> Result<()> {
    let invalid = |why: &str| Err(NetError::Invalid(format!("route {}: {why}", entry.dest)));
    if Family::of(&entry.dest.addr) != entry.family {
        return invalid("destination family differs from the route family");
    }
    let max_len = if entry.family == Family::Inet {
        32
    } else {
        128
    };
    if entry.dest.len > max_len {
        return invalid("prefix length too long");
    }
    if let Some(src) = entry.src {
        if Family::of(&src) != entry.family {
            return invalid("src family differs from the route family");
        }
    }
    if let Some(from) = entry.from {
        if entry.family != Family::Inet6 || !from.is_ipv6() || from.len > 128 {
            return invalid("`from` needs an IPv6 route and prefix");
        }
    }
    if entry
        .nexthops
        .iter()
        .any(|n| n.weight.is_some_and(|w| w == 0 || w > 256))
    {
        return invalid("nexthop weight must be 1 to 256");
    }
    Ok(())
}

fn set_table(header: &mut RouteHeader, attrs: &mut Vec<RouteAttribute>, table: u32) {
    match u8::try_from(table) {
        Ok(small) => header.table = small,
        Err(_) => {
            header.table = RouteHeader::RT_TABLE_UNSPEC;
            attrs.push(RouteAttribute::Table(table));
        }
    }
}

pub(crate) fn route_message(
    entry: &RouteEntry,
    devices: &RouteDevices,
    delete: bool,
) -> Result<RouteMessage> {
    check_entry(entry)?;
    let mut message = RouteMessage::default();
    let header = &mut message.header;
    let attrs = &mut message.attributes;
    header.address_family = address_family(entry.family);
    header.destination_prefix_length = entry.dest.len;
    header.tos = entry.tos.unwrap_or(0);
    header.protocol = RouteProtocol::from(entry.protocol);
    header.kind = netlink_route_type(entry.rtype);
    header.scope = RouteScope::from(entry.scope.unwrap_or(if delete {
        RT_SCOPE_NOWHERE
    } else {
        default_scope(entry.rtype)
    }));
    if entry.onlink {
        header.flags |= RouteFlags::Onlink;
    }
    set_table(header, attrs, entry.table);
    if entry.dest.len > 0 {
        attrs.push(RouteAttribute::Destination(RouteAddress::from(
            entry.dest.addr,
        )));
    }
    if let Some(from) = entry.from {
        header.source_prefix_length = from.len;
        attrs.push(RouteAttribute::Source(RouteAddress::from(from.addr)));
    }
    if let Some(src) = entry.src {
        attrs.push(RouteAttribute::PrefSource(RouteAddress::from(src)));
    }
    if let Some(via) = entry.via {
        attrs.push(gateway_attribute(entry.family, via));
    }
    if let Some(oif) = devices.oif {
        attrs.push(RouteAttribute::Oif(oif));
    }
    if let Some(metric) = entry.metric {
        attrs.push(RouteAttribute::Priority(metric));
    }
    if let Some(realms) = entry.realms {
        attrs.push(RouteAttribute::Realm(RouteRealm {
            source: (realms >> 16) as u16,
            destination: realms as u16,
        }));
    }
    if let Some(expires) = entry.expires {
        attrs.push(RouteAttribute::Expires(expires));
    }
    if let Some(pref) = entry.pref {
        attrs.push(RouteAttribute::Preference(RoutePreference::from(pref)));
    }
    let metrics = metrics(&entry.metrics);
    if !metrics.is_empty() {
        attrs.push(RouteAttribute::Metrics(metrics));
    }
    if !entry.nexthops.is_empty() {
        let hops = entry
            .nexthops
            .iter()
            .zip(devices.nexthops.iter().chain(std::iter::repeat(&None)))
            .map(|(nh, oif)| nexthop(entry.family, nh, *oif))
            .collect();
        attrs.push(RouteAttribute::MultiPath(hops));
    }
    Ok(message)
}

fn nexthop(family: Family, nh: &Nexthop, oif: Option<u32>) -> RouteNextHop {
    let mut hop = RouteNextHop::default();
    hop.interface_index = oif.unwrap_or(0);
    // Weights are validated to 1..=256 in check_entry; the kernel stores weight - 1.
    hop.hops = nh
        .weight
        .map_or(0, |w| (w.saturating_sub(1)).min(255) as u8);
    if nh.onlink {
        hop.flags |= RouteNextHopFlags::Onlink;
    }
    if let Some(via) = nh.via {
        hop.attributes.push(gateway_attribute(family, via));
    }
    hop
}

fn describe(entry: &RouteEntry) -> String {
    let mut s = format!("{:?} {}", entry.rtype, entry.dest).to_lowercase();
    if let Some(via) = entry.via {
        s.push_str(&format!(" via {via}"));
    }
    if let Some(dev) = &entry.dev {
        s.push_str(&format!(" dev {dev}"));
    }
    if entry.table != 254 {
        s.push_str(&format!(" table {}", entry.table));
    }
    if let Some(metric) = entry.metric {
        s.push_str(&format!(" metric {metric}"));
    }
    s
}

impl Netlink {
    async fn route_devices(&self, entry: &RouteEntry) -> Result<RouteDevices> {
        let mut devices = RouteDevices::default();
        if let Some(dev) = &entry.dev {
            devices.oif = Some(self.ifindex(dev).await?);
        }
        for nh in &entry.nexthops {
            devices.nexthops.push(match &nh.dev {
                Some(dev) => Some(self.ifindex(dev).await?),
                None => None,
            });
        }
        Ok(devices)
    }

    /// Installs a route with the entry's mode (keepalived's default is a prepend, i.e.
    /// NLM_F_CREATE alone); an identical route already present is `Unchanged`.
    pub async fn add_route(&self, entry: &RouteEntry) -> Result<Change> {
        let devices = self.route_devices(entry).await?;
        let message = route_message(entry, &devices, false)?;
        let flags = NLM_F_CREATE
            | match entry.mode {
                RouteMode::Add => NLM_F_EXCL,
                RouteMode::Prepend => 0,
                RouteMode::Append => NLM_F_APPEND,
            };
        self.change(
            RouteNetlinkMessage::NewRoute(message),
            flags,
            &[libc::EEXIST],
            || format!("add route {}", describe(entry)),
        )
        .await
    }

    /// Installs `entry` in place of whatever route has its key, in one NLM_F_REPLACE
    /// request: the kernel swaps the route atomically, so lookups never miss the key.
    pub async fn replace_route(&self, entry: &RouteEntry) -> Result<()> {
        let devices = self.route_devices(entry).await?;
        let message = route_message(entry, &devices, false)?;
        self.ack(
            RouteNetlinkMessage::NewRoute(message),
            NLM_F_CREATE | NLM_F_REPLACE,
        )
        .await
        .map_err(|r| r.into_error(|| format!("replace route {}", describe(entry))))
    }

    /// Deletes the route; an absent one is `Unchanged`.
    pub async fn delete_route(&self, entry: &RouteEntry) -> Result<Change> {
        let devices = match self.route_devices(entry).await {
            Ok(devices) => devices,
            // The device is gone, and the kernel dropped its routes with it.
            Err(NetError::NoSuchInterface(_)) => return Ok(Change::Unchanged),
            Err(e) => return Err(e),
        };
        let message = route_message(entry, &devices, true)?;
        self.change(
            RouteNetlinkMessage::DelRoute(message),
            0,
            &[libc::ESRCH, libc::ENOENT],
            || format!("delete route {}", describe(entry)),
        )
        .await
    }

    /// Deletes a route found by [`Netlink::routes`] (stale cleanup).
    pub async fn delete_route_info(&self, info: &RouteInfo) -> Result<Change> {
        let mut message = RouteMessage::default();
        let header = &mut message.header;
        let attrs = &mut message.attributes;
        header.address_family = address_family(info.family);
        header.destination_prefix_length = info.dest.len;
        header.tos = info.tos;
        header.protocol = RouteProtocol::from(info.protocol);
        header.scope = RouteScope::from(RT_SCOPE_NOWHERE);
        if let Some(rtype) = info.rtype {
            header.kind = netlink_route_type(rtype);
        }
        set_table(header, attrs, info.table);
        if info.dest.len > 0 {
            attrs.push(RouteAttribute::Destination(RouteAddress::from(
                info.dest.addr,
            )));
        }
        if let Some(from) = info.from {
            header.source_prefix_length = from.len;
            attrs.push(RouteAttribute::Source(RouteAddress::from(from.addr)));
        }
        if let Some(metric) = info.metric {
            attrs.push(RouteAttribute::Priority(metric));
        }
        if let Some(oif) = info.oif {
            attrs.push(RouteAttribute::Oif(oif));
        }
        if let Some(via) = info.via {
            attrs.push(gateway_attribute(info.family, via));
        }
        self.change(
            RouteNetlinkMessage::DelRoute(message),
            0,
            &[libc::ESRCH, libc::ENOENT],
            || format!("delete route {} table {}", info.dest, info.table),
        )
        .await
    }

    /// All routes of one family (or both), every table, optionally only one protocol
    /// (`Some(RTPROT_KEEPALIVED)` finds what kad or keepalived left behind).
    pub async fn routes(
        &self,
        family: Option<Family>,
        protocol: Option<u8>,
    ) -> Result<Vec<RouteInfo>> {
        let families = match family {
            Some(f) => vec![f],
            None => vec![Family::Inet, Family::Inet6],
        };
        let mut out = Vec::new();
        for family in families {
            let mut query = RouteMessage::default();
            query.header.address_family = address_family(family);
            let replies = self
                .dump(RouteNetlinkMessage::GetRoute(query), "routes")
                .await?;
            out.extend(
                replies
                    .iter()
                    .filter_map(|m| match m {
                        RouteNetlinkMessage::NewRoute(r) => RouteInfo::from_message(r),
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

    pub(crate) fn route(dest: &str, len: u8) -> RouteEntry {
        let addr: IpAddr = dest.parse().unwrap();
        RouteEntry::new(Prefix { addr, len })
    }

    #[test]
    fn big_table_goes_in_an_attribute() {
        let mut r = route("198.51.100.0", 24);
        r.table = 1000;
        let m = route_message(&r, &RouteDevices::default(), false).unwrap();
        assert_eq!(m.header.table, 0);
        assert!(m.attributes.contains(&RouteAttribute::Table(1000)));
        r.table = 100;
        let m = route_message(&r, &RouteDevices::default(), false).unwrap();
        assert_eq!(m.header.table, 100);
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Table(_))));
    }

    #[test]
    fn default_route_has_no_destination_and_v6_gateway_of_v4_route_is_rta_via() {
        let mut r = route("0.0.0.0", 0);
        r.via = Some("2001:db8::1".parse().unwrap());
        let m = route_message(&r, &RouteDevices::default(), false).unwrap();
        assert!(!m
            .attributes
            .iter()
            .any(|a| matches!(a, RouteAttribute::Destination(_))));
        assert!(m.attributes.contains(&RouteAttribute::Via(RouteVia::Inet6(
            "2001:db8::1".parse().unwrap()
        ))));
        assert_eq!(u8::from(m.header.protocol), 18);
        assert_eq!(u8::from(m.header.scope), 0);
        let d = route_message(&r, &RouteDevices::default(), true).unwrap();
        assert_eq!(u8::from(d.header.scope), 255);
    }

    #[test]
    fn multipath_weights_and_metrics_lock() {
        let mut r = route("203.0.113.0", 24);
        r.nexthops = vec![
            Nexthop {
                via: Some("192.0.2.1".parse().unwrap()),
                dev: None,
                weight: Some(1),
                onlink: false,
            },
            Nexthop {
                via: Some("192.0.2.2".parse().unwrap()),
                dev: None,
                weight: Some(3),
                onlink: true,
            },
        ];
        r.metrics.mtu = Some((1400, true));
        r.metrics.advmss = Some(1360);
        let devices = RouteDevices {
            oif: None,
            nexthops: vec![Some(5), None],
        };
        let m = route_message(&r, &devices, false).unwrap();
        let hops = m
            .attributes
            .iter()
            .find_map(|a| {
                if let RouteAttribute::MultiPath(h) = a {
                    Some(h.clone())
                } else {
                    None
                }
            })
            .unwrap();
        assert_eq!(hops.len(), 2);
        assert_eq!((hops[0].hops, hops[0].interface_index), (0, 5));
        assert_eq!((hops[1].hops, hops[1].interface_index), (2, 0));
        assert!(hops[1].flags.contains(RouteNextHopFlags::Onlink));
        let metrics = m
            .attributes
            .iter()
            .find_map(|a| {
                if let RouteAttribute::Metrics(v) = a {
                    Some(v.clone())
                } else {
                    None
                }
            })
            .unwrap();
        assert!(metrics.contains(&RouteMetric::Mtu(1400)));
        assert!(metrics.contains(&RouteMetric::Advmss(1360)));
        assert!(metrics.contains(&RouteMetric::Lock(1 << RTAX_MTU)));
        let info = RouteInfo::from_message(&m).unwrap();
        assert_eq!(info.nexthops[1].weight, 3);
        assert_eq!(info.nexthops[0].oif, Some(5));
    }

    #[test]
    fn bad_entries_are_rejected() {
        let mut r = route("198.51.100.0", 24);
        r.from = Some(Prefix {
            addr: "2001:db8::".parse().unwrap(),
            len: 64,
        });
        assert!(matches!(
            route_message(&r, &RouteDevices::default(), false),
            Err(NetError::Invalid(_))
        ));
        let mut r = route("198.51.100.0", 24);
        r.family = Family::Inet6;
        assert!(route_message(&r, &RouteDevices::default(), false).is_err());
        let mut r = route("198.51.100.0", 24);
        r.nexthops = vec![Nexthop {
            via: None,
            dev: None,
            weight: Some(0),
            onlink: false,
        }];
        assert!(route_message(&r, &RouteDevices::default(), false).is_err());
    }
}
