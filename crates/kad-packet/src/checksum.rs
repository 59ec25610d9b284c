//! RFC 1071 Internet checksum and the pseudo-headers VRRP uses.

use std::net::{Ipv4Addr, Ipv6Addr};

use crate::IPPROTO_VRRP;

/// A running one's-complement sum, folded only when finished.
///
/// Words are accumulated big-endian into a u64, so no carry can be lost for any packet this
/// crate handles (the u64 would need 2^48 words to overflow).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Sum(u64);

impl Sum {
    /// Adds `bytes` as big-endian 16-bit words. An odd trailing byte is padded with zero, so an
    /// odd-length slice may only be the last one added (all VRRP lengths are even).
    #[inline]
    pub(crate) fn add_bytes(self, bytes: &[u8]) -> Self {
        let mut acc = self.0;
        // Four bytes at a time: one's-complement addition is associative, so 32-bit words summed
        // into a wide accumulator fold to the same 16-bit result as 16-bit words.
        let mut quads = bytes.chunks_exact(4);
        for q in &mut quads {
            acc += u64::from(u32::from_be_bytes([q[0], q[1], q[2], q[3]]));
        }
        let rest = quads.remainder();
        let mut pairs = rest.chunks_exact(2);
        for p in &mut pairs {
            acc += u64::from(u16::from_be_bytes([p[0], p[1]]));
        }
        if let [last] = pairs.remainder() {
            acc += u64::from(*last) << 8;
        }
        Sum(acc)
    }

    #[inline]
    pub(crate) fn add_u16(self, word: u16) -> Self {
        Sum(self.0 + u64::from(word))
    }

    /// The folded 16-bit one's-complement sum (not yet complemented).
    #[inline]
    pub(crate) fn fold(self) -> u16 {
        let mut s = self.0;
        while s > 0xffff {
            s = (s & 0xffff) + (s >> 16);
        }
        s as u16
    }

    /// The checksum to store in a header whose checksum field was summed as zero.
    #[inline]
    pub(crate) fn checksum(self) -> u16 {
        !self.fold()
    }

    /// True when the summed data, checksum field included, verifies.
    #[inline]
    pub(crate) fn verifies(self) -> bool {
        self.fold() == 0xffff
    }
}

/// Sum of the IPv4 pseudo-header (src, dst, zero, protocol 112, VRRP length) of RFC 5798 §5.2.8.
pub(crate) fn ipv4_pseudo_header(src: Ipv4Addr, dst: Ipv4Addr, vrrp_len: u16) -> Sum {
    Sum::default()
        .add_bytes(&src.octets())
        .add_bytes(&dst.octets())
        .add_u16(u16::from(IPPROTO_VRRP))
        .add_u16(vrrp_len)
}

/// Sum of the IPv6 pseudo-header of RFC 8200 §8.1 (32-bit upper-layer length) for a VRRP
/// message of `vrrp_len` bytes.
pub(crate) fn ipv6_pseudo_header(src: Ipv6Addr, dst: Ipv6Addr, vrrp_len: u32) -> Sum {
    Sum::default()
        .add_bytes(&src.octets())
        .add_bytes(&dst.octets())
        .add_bytes(&vrrp_len.to_be_bytes())
        .add_u16(u16::from(IPPROTO_VRRP))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc1071_example() {
        // RFC 1071 §3: the words 0001 f203 f4f5 f6f7 sum to ddf2.
        let s = Sum::default().add_bytes(&[0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7]);
        assert_eq!(s.fold(), 0xddf2);
        assert_eq!(s.checksum(), 0x220d);
    }

    #[test]
    fn odd_trailing_byte_is_padded_with_zero() {
        assert_eq!(
            Sum::default().add_bytes(&[0x12, 0x34, 0x56]).fold(),
            0x1234 + 0x5600
        );
    }

    #[test]
    fn wide_words_fold_like_narrow_words() {
        let data: Vec<u8> = (0u8..=255).cycle().take(1030).collect();
        let narrow = data.chunks(2).fold(Sum::default(), |s, w| {
            s.add_u16(u16::from_be_bytes([w[0], w[1]]))
        });
        assert_eq!(Sum::default().add_bytes(&data).fold(), narrow.fold());
    }
}
