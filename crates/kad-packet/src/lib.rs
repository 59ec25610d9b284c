//! VRRP advertisement codec (RFC 3768 v2, RFC 5798/9568 v3), byte-compatible with keepalived.
//!
//! * Receive: [`decode_ipv4`] takes the full datagram an IPv4 raw socket returns (or
//!   [`Ipv4Datagram::parse`] first, to pick the instance by VRID before checking the
//!   checksum with its options); [`decode_ipv6`] takes the payload of an IPv6 raw socket plus
//!   the addresses and hop limit. Both give a [`Received`] or a [`DecodeError`] that names
//!   keepalived's statistics counter ([`DecodeError::counter`]).
//! * Send: [`encode_ipv4`] builds the whole datagram as keepalived does with IP_HDRINCL
//!   (with [`IpIdSequence`] for the id); [`encode_ipv6`] builds the message for a socket with
//!   IPV6_CHECKSUM.
//! * VRRPv2 `auth_type AH`: [`encode_ipv4`] with [`AhParams`] adds the IPSEC-AH header;
//!   [`Ipv4Datagram::verify_ah`] checks a received one.
//!
//! Checks that need the instance (TTL policy, version and authentication match, interval,
//! address list, AH sequence numbers) belong to the protocol core; this crate reports the
//! facts.
//!
//! There is no fast path patching the priority into an encoded datagram (keepalived's
//! `vrrp_update_pkt`): a full encode costs under 100 ns (`benches/decode.rs`) and happens once
//! per advert interval per instance and peer.

mod ah;
mod checksum;
mod decode;
mod encode;
mod error;

use serde::{Deserialize, Serialize};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

pub use ah::{AhError, AhParams};
pub use decode::{
    decode_ipv4, decode_ipv6, AhHeader, ChecksumForm, DecodeOptions, Ipv4Datagram, Received,
};
pub use encode::{
    encode_ipv4, encode_ipv6, encode_ipv6_with_checksum, ipv6_checksum, IpIdSequence, Ipv4Params,
};
pub use error::{DecodeError, EncodeError, PacketInfo};

/// IANA protocol number of VRRP.
pub const IPPROTO_VRRP: u8 = 112;
/// IANA protocol number of IPSEC-AH.
pub const IPPROTO_AH: u8 = 51;
/// The TTL / hop limit VRRP packets are sent with and, for multicast, must arrive with.
pub const VRRP_TTL: u8 = 255;
/// The VRRP IPv4 multicast group (keepalived's default `vrrp_mcast_group4`).
pub const VRRP_MCAST_V4: Ipv4Addr = Ipv4Addr::new(224, 0, 0, 18);
/// The VRRP IPv6 multicast group (keepalived's default `vrrp_mcast_group6`).
pub const VRRP_MCAST_V6: Ipv6Addr = Ipv6Addr::new(0xff02, 0, 0, 0, 0, 0, 0, 0x12);

const VRRP_HEADER_LEN: usize = 8;
const AUTH_LEN: usize = 8;
const AH_HEADER_LEN: usize = 24;
const PACKET_TYPE_ADVERT: u8 = 1;
const AUTH_TYPE_NONE: u8 = 0;
const AUTH_TYPE_PASS: u8 = 1;
const AUTH_TYPE_AH: u8 = 2;

/// v2 authentication field (IPv4 only; v3 has none).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthData {
    /// Type 0: eight zero bytes on the wire.
    None,
    /// Type 1: the password, zero-padded to 8 bytes on the wire.
    Pass([u8; 8]),
    /// Type 2 (IPSEC-AH): the AH header precedes VRRP; the auth bytes are zero.
    Ah,
}

/// A VRRP advertisement as carried on the wire (without the IP header).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Advert {
    /// 2 or 3.
    pub version: u8,
    pub vrid: u8,
    /// The sender's effective priority; 0 means "master is leaving".
    pub priority: u8,
    /// Advertisement interval in centiseconds: v3 carries centiseconds (12 bits);
    /// v2 carries whole seconds, stored here ×100.
    pub interval_cs: u16,
    /// v2 only; `AuthData::None` for v3.
    pub auth: AuthData,
    /// All IPv4 or all IPv6, matching the IP family of the packet.
    pub addrs: Vec<IpAddr>,
}

/// How the checksum of a VRRPv3 advert over IPv4 is formed, for sending and for checking.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum V3Checksum {
    /// RFC 5798: pseudo-header with the packet's source and destination (keepalived default).
    PseudoHeader,
    /// Old keepalived unicast form: the pseudo-header destination is the multicast group even
    /// though the packet goes to a unicast peer (`old_unicast_checksum`, or detected).
    OldUnicast { group: Ipv4Addr },
    /// `v3_checksum_as_v2` (RFC 9568 interop): no pseudo-header; received checksums are not
    /// verified, as in keepalived.
    AsV2,
}
