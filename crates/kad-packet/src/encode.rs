//! Encoding adverts exactly as keepalived puts them on the wire.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use crate::ah::{ah_header, seal, AhParams};
use crate::checksum::{ipv4_pseudo_header, ipv6_pseudo_header, Sum};
use crate::error::EncodeError;
use crate::{
    Advert, AuthData, V3Checksum, AH_HEADER_LEN, AUTH_LEN, AUTH_TYPE_AH, AUTH_TYPE_NONE,
    AUTH_TYPE_PASS, IPPROTO_AH, IPPROTO_VRRP, PACKET_TYPE_ADVERT, VRRP_HEADER_LEN,
};

/// IPTOS_PREC_INTERNETCONTROL, as keepalived sets it.
const TOS_INTERNET_CONTROL: u8 = 0xc0;
const IPV4_HEADER_LEN: usize = 20;
const V3_MAX_INTERVAL_CS: u16 = 0x0fff;
const V2_MAX_INTERVAL_CS: u16 = 255 * 100;
const MAX_ADDRESSES: usize = u8::MAX as usize;

/// The IPv4 header fields of an outgoing advert (keepalived sends with IP_HDRINCL).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Ipv4Params {
    /// `mcast_src_ip`/`unicast_src_ip`, else the interface's primary address.
    pub src: Ipv4Addr,
    /// The multicast group, or one unicast peer (one datagram per peer).
    pub dst: Ipv4Addr,
    /// [`crate::VRRP_TTL`], or the instance's `unicast_ttl` for unicast.
    pub ttl: u8,
    /// From the instance's [`IpIdSequence`].
    pub id: u16,
    /// How a v3 checksum is computed; ignored for v2.
    pub v3_checksum: V3Checksum,
    /// Required exactly when the advert's auth is [`AuthData::Ah`].
    pub ah: Option<AhParams>,
}

/// Encodes the full IPv4 datagram: 20-byte header (TOS 0xC0, DF clear, header checksum filled
/// in as the kernel would), the AH header for [`AuthData::Ah`], then the VRRP message with its
/// checksum.
///
/// For AH, the TTL is left out of the integrity check value when `dst` is not multicast, as a
/// keepalived unicast instance does.
pub fn encode_ipv4(advert: &Advert, ip: &Ipv4Params) -> Result<Vec<u8>, EncodeError> {
    let ah = match (&advert.auth, ip.ah) {
        (AuthData::Ah, Some(ah)) => Some(ah),
        (AuthData::Ah, None) | (_, Some(_)) => return Err(EncodeError::AhParams),
        _ => None,
    };
    let vrrp_offset = IPV4_HEADER_LEN + if ah.is_some() { AH_HEADER_LEN } else { 0 };
    let vrrp_len = message_len(advert, false)?;
    let total_len = vrrp_offset + vrrp_len;
    let protocol = if ah.is_some() {
        IPPROTO_AH
    } else {
        IPPROTO_VRRP
    };
    let mut out = Vec::with_capacity(total_len);
    out.extend_from_slice(&[0x45, TOS_INTERNET_CONTROL]);
    // At most 20 + 24 + 8 + 255 * 4 + 8 bytes.
    out.extend_from_slice(&(total_len as u16).to_be_bytes());
    out.extend_from_slice(&ip.id.to_be_bytes());
    out.extend_from_slice(&[0, 0, ip.ttl, protocol, 0, 0]);
    out.extend_from_slice(&ip.src.octets());
    out.extend_from_slice(&ip.dst.octets());
    let header_checksum = Sum::default().add_bytes(&out).checksum();
    out[10..12].copy_from_slice(&header_checksum.to_be_bytes());
    if let Some(ah) = ah {
        out.extend_from_slice(&ah_header(ip.src, ah.sequence));
    }

    write_message(advert, false, &mut out)?;
    let message = &out[vrrp_offset..];
    let pseudo = match (advert.version, ip.v3_checksum) {
        (2, _) | (_, V3Checksum::AsV2) => Sum::default(),
        (_, V3Checksum::PseudoHeader) => ipv4_pseudo_header(ip.src, ip.dst, vrrp_len as u16),
        (_, V3Checksum::OldUnicast { group }) => ipv4_pseudo_header(ip.src, group, vrrp_len as u16),
    };
    let checksum = pseudo.add_bytes(message).checksum();
    out[vrrp_offset + 6..vrrp_offset + 8].copy_from_slice(&checksum.to_be_bytes());
    if let Some(ah) = ah {
        seal(&mut out, &ah.key, !ip.dst.is_multicast());
    }
    Ok(out)
}

/// Encodes the VRRPv3 message for an IPv6 raw socket, checksum left zero: the socket's
/// IPV6_CHECKSUM option makes the kernel fill it in, as keepalived relies on.
pub fn encode_ipv6(advert: &Advert) -> Result<Vec<u8>, EncodeError> {
    let mut out = Vec::with_capacity(message_len(advert, true)?);
    write_message(advert, true, &mut out)?;
    Ok(out)
}

/// Encodes the VRRPv3 message for IPv6 with the checksum the kernel would compute, to compare
/// with captures or to send where IPV6_CHECKSUM is not available.
pub fn encode_ipv6_with_checksum(
    advert: &Advert,
    src: Ipv6Addr,
    dst: Ipv6Addr,
) -> Result<Vec<u8>, EncodeError> {
    let mut out = encode_ipv6(advert)?;
    let checksum = ipv6_checksum(&out, src, dst);
    out[6..8].copy_from_slice(&checksum.to_be_bytes());
    Ok(out)
}

/// The checksum of a VRRP message over IPv6 (RFC 5798 §5.2.8 with the RFC 8200 pseudo-header).
/// The message's own checksum field is treated as zero.
pub fn ipv6_checksum(message: &[u8], src: Ipv6Addr, dst: Ipv6Addr) -> u16 {
    let before_field = message.get(..6).unwrap_or(message);
    let after_field = message.get(8..).unwrap_or_default();
    ipv6_pseudo_header(src, dst, u32::try_from(message.len()).unwrap_or(u32::MAX))
        .add_bytes(before_field)
        .add_bytes(after_field)
        .checksum()
}

/// keepalived's per-instance IPv4 identification counter: 1, 2, ... wrapping to 1, never 0
/// (with IP_HDRINCL the kernel replaces an id of 0 with its own).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct IpIdSequence {
    last: u16,
}

impl IpIdSequence {
    pub fn new() -> Self {
        Self::default()
    }

    /// The id for the next advert.
    pub fn next_id(&mut self) -> u16 {
        self.last = self.last.wrapping_add(1);
        if self.last == 0 {
            self.last = 1;
        }
        self.last
    }
}

fn message_len(advert: &Advert, ipv6: bool) -> Result<usize, EncodeError> {
    let count = advert.addrs.len();
    if count > MAX_ADDRESSES {
        return Err(EncodeError::TooManyAddresses(count));
    }
    Ok(match (ipv6, advert.version) {
        (false, 2) => VRRP_HEADER_LEN + count * 4 + AUTH_LEN,
        (false, _) => VRRP_HEADER_LEN + count * 4,
        (true, _) => VRRP_HEADER_LEN + count * 16,
    })
}

/// Appends the VRRP message with a zero checksum.
fn write_message(advert: &Advert, ipv6: bool, out: &mut Vec<u8>) -> Result<(), EncodeError> {
    let count = advert.addrs.len();
    let count = u8::try_from(count).map_err(|_| EncodeError::TooManyAddresses(count))?;
    // v2: auth type, then the interval in whole seconds; v3: reserved nibble (zero) and the
    // 12-bit interval in centiseconds.
    let [byte4, byte5] = match (advert.version, ipv6) {
        (2, true) => return Err(EncodeError::V2OverIpv6),
        (2, false) => {
            if advert.interval_cs % 100 != 0 || advert.interval_cs > V2_MAX_INTERVAL_CS {
                return Err(EncodeError::Interval {
                    version: 2,
                    interval_cs: advert.interval_cs,
                });
            }
            let auth_type = match advert.auth {
                AuthData::None => AUTH_TYPE_NONE,
                AuthData::Pass(_) => AUTH_TYPE_PASS,
                AuthData::Ah => AUTH_TYPE_AH,
            };
            [auth_type, (advert.interval_cs / 100) as u8]
        }
        (3, _) => {
            if advert.auth != AuthData::None {
                return Err(EncodeError::AuthInV3);
            }
            if advert.interval_cs > V3_MAX_INTERVAL_CS {
                return Err(EncodeError::Interval {
                    version: 3,
                    interval_cs: advert.interval_cs,
                });
            }
            advert.interval_cs.to_be_bytes()
        }
        (other, _) => return Err(EncodeError::Version(other)),
    };
    out.extend_from_slice(&[
        (advert.version << 4) | PACKET_TYPE_ADVERT,
        advert.vrid,
        advert.priority,
        count,
        byte4,
        byte5,
        0,
        0,
    ]);
    for addr in &advert.addrs {
        match (addr, ipv6) {
            (IpAddr::V4(a), false) => out.extend_from_slice(&a.octets()),
            (IpAddr::V6(a), true) => out.extend_from_slice(&a.octets()),
            _ => return Err(EncodeError::AddressFamily(*addr)),
        }
    }
    if advert.version == 2 {
        match &advert.auth {
            AuthData::Pass(password) => out.extend_from_slice(password),
            _ => out.extend_from_slice(&[0; AUTH_LEN]),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ip_id_starts_at_one_and_skips_zero() {
        let mut ids = IpIdSequence::new();
        assert_eq!(ids.next_id(), 1);
        assert_eq!(ids.next_id(), 2);
        let mut ids = IpIdSequence { last: u16::MAX - 1 };
        assert_eq!(ids.next_id(), u16::MAX);
        assert_eq!(ids.next_id(), 1);
    }
}
