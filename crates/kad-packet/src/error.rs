//! Typed decode and encode errors.

use std::net::IpAddr;

use thiserror::Error;

/// What is known about a rejected packet once its VRRP header could be located: enough to find
/// the instance (VRID, source) and to log like keepalived does ("... from SRC").
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PacketInfo {
    pub vrid: u8,
    /// The version nibble as received (may be neither 2 nor 3).
    pub version: u8,
    pub src: IpAddr,
    pub dst: IpAddr,
    pub ttl_or_hop_limit: u8,
}

/// Why a received packet was rejected.
///
/// Messages reproduce keepalived's log texts without the leading "(instance) ", which only the
/// instance knows. The variants before [`DecodeError::Length`] are detected before the VRRP
/// header is usable, where keepalived drops the packet without touching any instance.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum DecodeError {
    /// Shorter than the IP header, the AH header or the fixed 8-byte VRRP header.
    #[error("{} VRRP packet{} too short - {len} bytes", if *.ipv6 { "IPv6" } else { "IPv4" }, if *.ah { " with AH" } else { "" })]
    TooShort { ipv6: bool, ah: bool, len: usize },
    /// The datagram handed to the IPv4 decoder is not IPv4.
    #[error("not an IPv4 datagram (IP version {0})")]
    NotIpv4(u8),
    /// IHL below the 5-word minimum (an IHL past the received bytes is [`DecodeError::TooShort`]).
    #[error("invalid IPv4 header length {0} bytes")]
    BadHeaderLength(usize),
    /// The IP protocol is neither VRRP (112) nor AH (51).
    #[error("IP protocol {0} is neither VRRP (112) nor AH (51)")]
    NotVrrp(u8),
    /// An AH header that protects something other than VRRP (keepalived ignores the packet).
    #[error("AH header from {} protects protocol {next_header}, not VRRP", .info.src)]
    AhNotVrrp { info: PacketInfo, next_header: u8 },
    /// The received length disagrees with the address count (Ethernet padding excepted).
    #[error("vrrp packet from {} too {}, length {len} and expect {expected}", .info.src, if .len > .expected { "long" } else { "short" })]
    Length {
        info: PacketInfo,
        len: usize,
        expected: usize,
    },
    /// A version other than 2 or 3.
    #[error("wrong VRRP version from {}. Received {}", .info.src, .info.version)]
    Version { info: PacketInfo },
    /// v2 auth type other than 0 (none), 1 (PASS) or 2 (AH).
    #[error("Invalid auth type from {}: {auth_type}", .info.src)]
    AuthType { info: PacketInfo, auth_type: u8 },
    /// A packet type other than 1 (advertisement).
    #[error("Invalid packet type from {}. {packet_type} and expect 1", .info.src)]
    PacketType { info: PacketInfo, packet_type: u8 },
    /// The IPv4 total length disagrees with the received length (Ethernet padding excepted).
    #[error("ip_tot_len mismatch against received length from {}. {total_length} and received {len}", .info.src)]
    TotalLength {
        info: PacketInfo,
        total_length: u16,
        len: usize,
    },
    /// The VRRP checksum does not verify in any form the options allow.
    #[error("Invalid VRRPv{} checksum from {}", .info.version, .info.src)]
    Checksum { info: PacketInfo, received: u16 },
}

impl DecodeError {
    /// keepalived's statistics counter this error increments, if any.
    ///
    /// `packet_len_err`, `invalid_authtype` and `invalid_type_rcvd` are in keepalived's stats
    /// dump and JSON; `vers_err` and `chk_err` exist only in its SNMP (RFC MIB) statistics.
    /// keepalived checks the TTL (multicast instances) between the length and the version
    /// checks, so an instance that wants identical counters checks
    /// [`PacketInfo::ttl_or_hop_limit`] first for errors other than [`DecodeError::Length`].
    pub fn counter(&self) -> Option<&'static str> {
        match self {
            Self::TooShort { .. }
            | Self::NotIpv4(_)
            | Self::BadHeaderLength(_)
            | Self::NotVrrp(_)
            | Self::AhNotVrrp { .. } => None,
            Self::Length { .. } | Self::TotalLength { .. } => Some("packet_len_err"),
            Self::Version { .. } => Some("vers_err"),
            Self::AuthType { .. } => Some("invalid_authtype"),
            Self::PacketType { .. } => Some("invalid_type_rcvd"),
            Self::Checksum { .. } => Some("chk_err"),
        }
    }

    /// The packet facts, when the VRRP header was located.
    pub fn info(&self) -> Option<&PacketInfo> {
        match self {
            Self::TooShort { .. }
            | Self::NotIpv4(_)
            | Self::BadHeaderLength(_)
            | Self::NotVrrp(_) => None,
            Self::AhNotVrrp { info, .. }
            | Self::Length { info, .. }
            | Self::Version { info }
            | Self::AuthType { info, .. }
            | Self::PacketType { info, .. }
            | Self::TotalLength { info, .. }
            | Self::Checksum { info, .. } => Some(info),
        }
    }

    /// The VRID, to bump the right instance's counter.
    pub fn vrid(&self) -> Option<u8> {
        self.info().map(|i| i.vrid)
    }

    /// The received version nibble.
    pub fn version(&self) -> Option<u8> {
        self.info().map(|i| i.version)
    }
}

/// Why an advert cannot be put on the wire.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum EncodeError {
    #[error("VRRP version {0} is not supported (2 or 3)")]
    Version(u8),
    #[error("VRRPv2 cannot be sent over IPv6")]
    V2OverIpv6,
    #[error("{0} addresses do not fit the 8-bit address count")]
    TooManyAddresses(usize),
    #[error("address {0} does not match the packet's IP family")]
    AddressFamily(IpAddr),
    #[error("advertisement interval {interval_cs} cs cannot be carried by VRRPv{version}")]
    Interval { version: u8, interval_cs: u16 },
    #[error("VRRPv3 has no authentication field")]
    AuthInV3,
    #[error("AH parameters are needed exactly when the advert's auth is AH")]
    AhParams,
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::Ipv4Addr;

    fn info() -> PacketInfo {
        PacketInfo {
            vrid: 51,
            version: 3,
            src: IpAddr::V4(Ipv4Addr::new(192, 0, 2, 11)),
            dst: IpAddr::V4(Ipv4Addr::new(224, 0, 0, 18)),
            ttl_or_hop_limit: 255,
        }
    }

    #[test]
    fn messages_follow_keepalived() {
        let short = DecodeError::Length {
            info: info(),
            len: 30,
            expected: 32,
        };
        assert_eq!(
            short.to_string(),
            "vrrp packet from 192.0.2.11 too short, length 30 and expect 32"
        );
        let long = DecodeError::Length {
            info: info(),
            len: 36,
            expected: 32,
        };
        assert_eq!(
            long.to_string(),
            "vrrp packet from 192.0.2.11 too long, length 36 and expect 32"
        );
        let ah = DecodeError::TooShort {
            ipv6: false,
            ah: true,
            len: 40,
        };
        assert_eq!(
            ah.to_string(),
            "IPv4 VRRP packet with AH too short - 40 bytes"
        );
        let v6 = DecodeError::TooShort {
            ipv6: true,
            ah: false,
            len: 7,
        };
        assert_eq!(v6.to_string(), "IPv6 VRRP packet too short - 7 bytes");
        let csum = DecodeError::Checksum {
            info: info(),
            received: 0,
        };
        assert_eq!(csum.to_string(), "Invalid VRRPv3 checksum from 192.0.2.11");
    }

    #[test]
    fn context_is_exposed_only_when_known() {
        assert_eq!(DecodeError::NotVrrp(6).vrid(), None);
        let e = DecodeError::PacketType {
            info: info(),
            packet_type: 2,
        };
        assert_eq!((e.vrid(), e.version()), (Some(51), Some(3)));
    }
}
