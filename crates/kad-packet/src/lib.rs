//! VRRP advertisement codec (RFC 3768 v2, RFC 5798/9568 v3), byte-compatible with keepalived.
//!
//! PLACEHOLDER API: the types below are the contract the protocol core is written against;
//! decoding, encoding, checksums and errors are filled in by the codec work.

use serde::{Deserialize, Serialize};
use std::net::IpAddr;

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
