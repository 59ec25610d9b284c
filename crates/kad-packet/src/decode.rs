//! Decoding received adverts: a full IPv4 datagram as a raw socket returns it, or an IPv6
//! payload plus the facts the kernel reports beside it.
//!
//! The checks and their order follow keepalived's `vrrp_get_header` and `vrrp_check_packet`,
//! minus everything that needs the instance (TTL policy, version and auth match, interval,
//! address list): those stay with the protocol core, which gets all the facts in [`Received`].

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use serde::{Deserialize, Serialize};

use crate::checksum::{ipv4_pseudo_header, Sum};
use crate::error::{DecodeError, PacketInfo};
use crate::{
    Advert, AuthData, V3Checksum, AH_HEADER_LEN, AUTH_LEN, AUTH_TYPE_AH, AUTH_TYPE_NONE,
    AUTH_TYPE_PASS, IPPROTO_AH, IPPROTO_VRRP, PACKET_TYPE_ADVERT, VRRP_HEADER_LEN, VRRP_TTL,
};

const IPV4_MIN_HEADER_LEN: usize = 20;
/// Ethernet minimum frame (ETH_ZLEN) minus the Ethernet header (ETH_HLEN): shorter IP packets
/// reach the receiver padded up to this size.
const ETH_MIN_PAYLOAD: usize = 60 - 14;
const VLAN_TAG_LEN: usize = 4;

/// How an IPv4 advert is checked on receipt.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct DecodeOptions {
    /// The v3 checksum form the instance currently expects.
    pub v3_checksum: V3Checksum,
    /// keepalived's automatic detection of old peers: with `Some(group)`, a v3 checksum that
    /// fails in the [`V3Checksum::PseudoHeader`] form on a packet not sent to `group` is
    /// retried with `group` as the pseudo-header destination. A match is reported as
    /// [`ChecksumForm::V3OldUnicast`], after which keepalived switches the instance to
    /// [`V3Checksum::OldUnicast`] for sending and receiving. `None` is `old_unicast_checksum
    /// never`. keepalived only probes on unicast instances.
    pub old_unicast_fallback: Option<Ipv4Addr>,
}

impl Default for DecodeOptions {
    /// keepalived's defaults: pseudo-header checksum with automatic old-unicast detection.
    fn default() -> Self {
        Self {
            v3_checksum: V3Checksum::PseudoHeader,
            old_unicast_fallback: Some(crate::VRRP_MCAST_V4),
        }
    }
}

/// Which checksum form the received packet satisfied.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum ChecksumForm {
    /// v2: over the VRRP message, auth data included.
    V2,
    /// v3/IPv4 with the pseudo-header of the packet's own addresses (RFC 5798).
    V3PseudoHeader,
    /// v3/IPv4 with the multicast group as pseudo-header destination although the packet was
    /// unicast (old keepalived).
    V3OldUnicast,
    /// v3/IPv4 under `v3_checksum_as_v2`: keepalived does not verify the checksum at all.
    V3Unverified,
    /// IPv6: verified by the kernel (IPV6_CHECKSUM).
    Kernel,
}

/// The IPSEC-AH header (RFC 2402) keepalived puts between IPv4 and VRRPv2 for `auth_type AH`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct AhHeader {
    pub next_header: u8,
    pub payload_len: u8,
    /// keepalived uses the sender's IPv4 address as SPI.
    pub spi: u32,
    pub sequence: u32,
    /// HMAC-MD5-96 integrity check value.
    pub icv: [u8; 12],
}

impl AhHeader {
    fn parse(bytes: &[u8; AH_HEADER_LEN]) -> Self {
        let [nh, pl, _, _, s0, s1, s2, s3, q0, q1, q2, q3, icv @ ..] = *bytes;
        Self {
            next_header: nh,
            payload_len: pl,
            spi: u32::from_be_bytes([s0, s1, s2, s3]),
            sequence: u32::from_be_bytes([q0, q1, q2, q3]),
            icv,
        }
    }
}

/// A decoded advert with the IP facts the instance needs to judge it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Received {
    pub advert: Advert,
    pub src: IpAddr,
    pub dst: IpAddr,
    /// IPv4 TTL or IPv6 hop limit.
    pub ttl_or_hop_limit: u8,
    /// IPv4 identification; `None` for IPv6.
    pub ip_id: Option<u16>,
    pub checksum: ChecksumForm,
    /// Present when the IPv4 protocol was AH (51).
    pub ah: Option<AhHeader>,
}

impl Received {
    /// True when the packet was sent to a multicast group.
    pub fn is_multicast(&self) -> bool {
        self.dst.is_multicast()
    }

    /// RFC 3768 §7.1 / RFC 5798 §7.1: TTL or hop limit must be 255, but keepalived skips the
    /// check for unicast instances (unicast peers may be routed).
    pub fn ttl_acceptable(&self, unicast_instance: bool) -> bool {
        unicast_instance || self.ttl_or_hop_limit == VRRP_TTL
    }
}

/// Decodes a full IPv4 datagram, IP header included, as an IPPROTO_VRRP or IPPROTO_AH raw
/// socket returns it. Shorthand for [`Ipv4Datagram::parse`] then [`Ipv4Datagram::decode`].
pub fn decode_ipv4(datagram: &[u8], options: &DecodeOptions) -> Result<Received, DecodeError> {
    Ipv4Datagram::parse(datagram)?.decode(options)
}

/// An IPv4 datagram whose headers are long enough to read the VRRP header: the stage at which
/// keepalived dispatches to an instance by VRID, so the instance's checksum options can be
/// chosen before [`Ipv4Datagram::decode`].
#[derive(Debug, Clone, Copy)]
pub struct Ipv4Datagram<'a> {
    bytes: &'a [u8],
    vrrp_offset: usize,
    ah: Option<AhHeader>,
}

impl<'a> Ipv4Datagram<'a> {
    /// Checks that the IP header, any AH header and the fixed VRRP header were received.
    pub fn parse(bytes: &'a [u8]) -> Result<Self, DecodeError> {
        let len = bytes.len();
        if len < IPV4_MIN_HEADER_LEN {
            return Err(DecodeError::TooShort {
                ipv6: false,
                ah: false,
                len,
            });
        }
        let version_ihl = bytes[0];
        if version_ihl >> 4 != 4 {
            return Err(DecodeError::NotIpv4(version_ihl >> 4));
        }
        let ihl_bytes = usize::from(version_ihl & 0x0f) * 4;
        if ihl_bytes < IPV4_MIN_HEADER_LEN {
            return Err(DecodeError::BadHeaderLength(ihl_bytes));
        }
        let (vrrp_offset, ah) = match bytes[9] {
            IPPROTO_VRRP => (ihl_bytes, None),
            IPPROTO_AH => {
                let ah_end = ihl_bytes + AH_HEADER_LEN;
                match bytes
                    .get(ihl_bytes..ah_end)
                    .and_then(|b| <&[u8; AH_HEADER_LEN]>::try_from(b).ok())
                {
                    Some(ah) if len >= ah_end + VRRP_HEADER_LEN => {
                        (ah_end, Some(AhHeader::parse(ah)))
                    }
                    _ => {
                        return Err(DecodeError::TooShort {
                            ipv6: false,
                            ah: true,
                            len,
                        })
                    }
                }
            }
            other => return Err(DecodeError::NotVrrp(other)),
        };
        if len < vrrp_offset + VRRP_HEADER_LEN {
            return Err(DecodeError::TooShort {
                ipv6: false,
                ah: false,
                len,
            });
        }
        Ok(Self {
            bytes,
            vrrp_offset,
            ah,
        })
    }

    pub fn vrid(&self) -> u8 {
        self.bytes[self.vrrp_offset + 1]
    }

    /// The version nibble of the VRRP header.
    pub fn version(&self) -> u8 {
        self.bytes[self.vrrp_offset] >> 4
    }

    pub fn src(&self) -> Ipv4Addr {
        ipv4_at(self.bytes, 12)
    }

    pub fn dst(&self) -> Ipv4Addr {
        ipv4_at(self.bytes, 16)
    }

    pub fn ttl(&self) -> u8 {
        self.bytes[8]
    }

    /// The AH header, when the IP protocol is AH.
    pub fn ah(&self) -> Option<&AhHeader> {
        self.ah.as_ref()
    }

    pub(crate) fn bytes(&self) -> &'a [u8] {
        self.bytes
    }

    pub(crate) fn vrrp_offset(&self) -> usize {
        self.vrrp_offset
    }

    fn info(&self) -> PacketInfo {
        PacketInfo {
            vrid: self.vrid(),
            version: self.version(),
            src: IpAddr::V4(self.src()),
            dst: IpAddr::V4(self.dst()),
            ttl_or_hop_limit: self.ttl(),
        }
    }

    /// Runs keepalived's instance-independent checks in its order and decodes the advert.
    pub fn decode(&self, options: &DecodeOptions) -> Result<Received, DecodeError> {
        let info = || self.info();
        if let Some(ah) = &self.ah {
            if ah.next_header != IPPROTO_VRRP {
                return Err(DecodeError::AhNotVrrp {
                    info: info(),
                    next_header: ah.next_header,
                });
            }
        }
        let vrrp = &self.bytes[self.vrrp_offset..];
        let header = VrrpHeader::read(vrrp)?;
        let addr_len = usize::from(header.count) * 4;
        let auth_len = if header.version == 2 { AUTH_LEN } else { 0 };
        let vrrp_len = VRRP_HEADER_LEN + addr_len + auth_len;
        let len = self.bytes.len();
        let expected = self.vrrp_offset + vrrp_len;
        if len != expected && !is_ethernet_padding(expected, len) {
            return Err(DecodeError::Length {
                info: info(),
                len,
                expected,
            });
        }
        header.check_version_and_auth(info)?;
        header.check_type(info)?;
        let total_length = u16::from_be_bytes([self.bytes[2], self.bytes[3]]);
        let total = usize::from(total_length);
        if total != len && !(len <= ETH_MIN_PAYLOAD && total < len && padding_shape(len - total)) {
            return Err(DecodeError::TotalLength {
                info: info(),
                total_length,
                len,
            });
        }
        // The length check above guarantees the message is present.
        let message = &vrrp[..vrrp_len];
        let checksum = self
            .verify_checksum(header.version, message, options)
            .ok_or_else(|| DecodeError::Checksum {
                info: info(),
                received: header.checksum,
            })?;
        let addrs = message[VRRP_HEADER_LEN..VRRP_HEADER_LEN + addr_len]
            .chunks_exact(4)
            .map(|a| IpAddr::V4(Ipv4Addr::new(a[0], a[1], a[2], a[3])))
            .collect();
        Ok(Received {
            advert: header.advert(addrs, &message[VRRP_HEADER_LEN + addr_len..]),
            src: IpAddr::V4(self.src()),
            dst: IpAddr::V4(self.dst()),
            ttl_or_hop_limit: self.ttl(),
            ip_id: Some(u16::from_be_bytes([self.bytes[4], self.bytes[5]])),
            checksum,
            ah: self.ah,
        })
    }

    fn verify_checksum(
        &self,
        version: u8,
        message: &[u8],
        options: &DecodeOptions,
    ) -> Option<ChecksumForm> {
        if version == 2 {
            return Sum::default()
                .add_bytes(message)
                .verifies()
                .then_some(ChecksumForm::V2);
        }
        // Lengths are bounded by 8 + 255 * 4, far below u16::MAX.
        let vrrp_len = message.len() as u16;
        let with_dst = |dst: Ipv4Addr| {
            ipv4_pseudo_header(self.src(), dst, vrrp_len)
                .add_bytes(message)
                .verifies()
        };
        match options.v3_checksum {
            V3Checksum::AsV2 => Some(ChecksumForm::V3Unverified),
            V3Checksum::OldUnicast { group } => {
                with_dst(group).then_some(ChecksumForm::V3OldUnicast)
            }
            V3Checksum::PseudoHeader => {
                if with_dst(self.dst()) {
                    Some(ChecksumForm::V3PseudoHeader)
                } else {
                    match options.old_unicast_fallback {
                        Some(group) if group != self.dst() && with_dst(group) => {
                            Some(ChecksumForm::V3OldUnicast)
                        }
                        _ => None,
                    }
                }
            }
        }
    }
}

/// Decodes a VRRPv3 message received on an IPv6 raw socket (which delivers no IP header) with
/// the source, destination and hop limit reported beside it. The kernel has verified the
/// checksum (IPV6_CHECKSUM).
pub fn decode_ipv6(
    payload: &[u8],
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
) -> Result<Received, DecodeError> {
    let len = payload.len();
    if len < VRRP_HEADER_LEN {
        return Err(DecodeError::TooShort {
            ipv6: true,
            ah: false,
            len,
        });
    }
    let header = VrrpHeader::read(payload)?;
    let info = || PacketInfo {
        vrid: header.vrid,
        version: header.version,
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        ttl_or_hop_limit: hop_limit,
    };
    let addr_len = usize::from(header.count) * 16;
    let expected = VRRP_HEADER_LEN + addr_len;
    if len != expected && !is_ethernet_padding(expected, len) {
        return Err(DecodeError::Length {
            info: info(),
            len,
            expected,
        });
    }
    // keepalived refuses VRRPv2 over IPv6 in the configuration, so no instance accepts it.
    if header.version != 3 {
        return Err(DecodeError::Version { info: info() });
    }
    header.check_type(info)?;
    let addrs = payload[VRRP_HEADER_LEN..expected]
        .chunks_exact(16)
        .map(|a| {
            let mut octets = [0u8; 16];
            octets.copy_from_slice(a);
            IpAddr::V6(Ipv6Addr::from(octets))
        })
        .collect();
    Ok(Received {
        advert: header.advert(addrs, &[]),
        src: IpAddr::V6(src),
        dst: IpAddr::V6(dst),
        ttl_or_hop_limit: hop_limit,
        ip_id: None,
        checksum: ChecksumForm::Kernel,
        ah: None,
    })
}

/// The fixed 8-byte VRRP header.
#[derive(Clone, Copy)]
struct VrrpHeader {
    version: u8,
    packet_type: u8,
    vrid: u8,
    priority: u8,
    count: u8,
    /// v2: auth type; v3: reserved nibble and high bits of the interval.
    byte4: u8,
    byte5: u8,
    checksum: u16,
}

impl VrrpHeader {
    fn read(bytes: &[u8]) -> Result<Self, DecodeError> {
        match bytes {
            [vt, vrid, priority, count, b4, b5, c0, c1, ..] => Ok(Self {
                version: vt >> 4,
                packet_type: vt & 0x0f,
                vrid: *vrid,
                priority: *priority,
                count: *count,
                byte4: *b4,
                byte5: *b5,
                checksum: u16::from_be_bytes([*c0, *c1]),
            }),
            // Callers have checked the length; this keeps a short slice from ever panicking.
            _ => Err(DecodeError::TooShort {
                ipv6: false,
                ah: false,
                len: bytes.len(),
            }),
        }
    }

    fn check_version_and_auth(&self, info: impl Fn() -> PacketInfo) -> Result<(), DecodeError> {
        match self.version {
            2 if ![AUTH_TYPE_NONE, AUTH_TYPE_PASS, AUTH_TYPE_AH].contains(&self.byte4) => {
                Err(DecodeError::AuthType {
                    info: info(),
                    auth_type: self.byte4,
                })
            }
            2 | 3 => Ok(()),
            _ => Err(DecodeError::Version { info: info() }),
        }
    }

    fn check_type(&self, info: impl Fn() -> PacketInfo) -> Result<(), DecodeError> {
        if self.packet_type == PACKET_TYPE_ADVERT {
            Ok(())
        } else {
            Err(DecodeError::PacketType {
                info: info(),
                packet_type: self.packet_type,
            })
        }
    }

    /// Builds the advert; `auth` is the 8-byte v2 auth field (empty for v3).
    fn advert(&self, addrs: Vec<IpAddr>, auth: &[u8]) -> Advert {
        let (interval_cs, auth) = if self.version == 2 {
            let auth = match (self.byte4, <[u8; AUTH_LEN]>::try_from(auth)) {
                (AUTH_TYPE_PASS, Ok(password)) => AuthData::Pass(password),
                (AUTH_TYPE_AH, _) => AuthData::Ah,
                _ => AuthData::None,
            };
            (u16::from(self.byte5) * 100, auth)
        } else {
            // The top four bits are reserved; keepalived ignores them on receipt.
            (
                u16::from_be_bytes([self.byte4 & 0x0f, self.byte5]),
                AuthData::None,
            )
        };
        Advert {
            version: self.version,
            vrid: self.vrid,
            priority: self.priority,
            interval_cs,
            auth,
            addrs,
        }
    }
}

fn ipv4_at(bytes: &[u8], offset: usize) -> Ipv4Addr {
    Ipv4Addr::new(
        bytes[offset],
        bytes[offset + 1],
        bytes[offset + 2],
        bytes[offset + 3],
    )
}

/// keepalived (2.3+) accepts extra bytes after a short packet when they can be Ethernet padding:
/// the frame was below the Ethernet minimum, and the padding length is what a minimum-size
/// frame with any number of VLAN tags leaves (the count of tags is unknown, so modulo 4).
fn is_ethernet_padding(expected: usize, len: usize) -> bool {
    expected < ETH_MIN_PAYLOAD && expected < len && padding_shape(len - expected)
}

fn padding_shape(extra: usize) -> bool {
    extra % VLAN_TAG_LEN == (VLAN_TAG_LEN - ETH_MIN_PAYLOAD % VLAN_TAG_LEN) % VLAN_TAG_LEN
}
