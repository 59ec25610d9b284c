//! IPSEC-AH as keepalived uses it for VRRPv2 `auth_type AH`: an RFC 2402 header between IPv4
//! and VRRP, SPI = the sender's address, a sequence number, and an HMAC-MD5-96 integrity check
//! value keyed with the 8-byte `auth_pass`.
//!
//! MD5 is implemented here (RFC 1321) to keep the crate free of crypto dependencies; it only
//! serves this legacy interoperability mode.

use std::net::Ipv4Addr;

use thiserror::Error;

use crate::decode::Ipv4Datagram;

/// Length of the truncated HMAC-MD5 (HMAC-MD5-96).
pub(crate) const ICV_LEN: usize = 12;
/// AH payload length field: header length in 32-bit words minus 2 (RFC 2402 §2.2).
pub(crate) const AH_PAYLOAD_LEN: u8 = 4;

/// What an AH-authenticated advert needs besides the advert itself.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AhParams {
    /// `auth_pass`, zero-padded or truncated to 8 bytes.
    pub key: [u8; 8],
    /// keepalived starts at 0 and increments before each send, so the first advert carries 1.
    pub sequence: u32,
}

/// Why the AH header of a received advert does not authenticate it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Error)]
pub enum AhError {
    /// The datagram carries no AH header.
    #[error("No AH header")]
    Missing,
    /// Wrong key, or a field the ICV covers was changed in transit.
    #[error("IPSEC-AH : invalid IPSEC HMAC-MD5 value. Due to fields mutation or bad password !")]
    Icv,
    /// keepalived requires SPI = source address.
    #[error("IPSEC AH : invalid IPSEC SPI value. {spi} and expect {expected}")]
    Spi { spi: u32, expected: u32 },
}

impl AhError {
    /// keepalived's statistics counter: a missing header is `authtype_mismatch`, the rest
    /// `auth_failure`.
    pub fn counter(&self) -> &'static str {
        match self {
            Self::Missing => "authtype_mismatch",
            Self::Icv | Self::Spi { .. } => "auth_failure",
        }
    }
}

impl Ipv4Datagram<'_> {
    /// Checks the AH integrity value and SPI as keepalived does. `unicast_instance` must be the
    /// receiving instance's mode: keepalived treats the TTL as mutable (excluded from the ICV)
    /// only for unicast. The sequence number (replay) check needs the instance's state and is
    /// left to it ([`crate::AhHeader::sequence`]).
    pub fn verify_ah(&self, key: &[u8; 8], unicast_instance: bool) -> Result<(), AhError> {
        let ah = self.ah().ok_or(AhError::Missing)?;
        let (headers, rest) = self.bytes().split_at(self.vrrp_offset());
        let mut zeroed = headers.to_vec();
        zero_mutable_fields(&mut zeroed, unicast_instance);
        let ah_start = self.vrrp_offset() - crate::AH_HEADER_LEN;
        zeroed[ah_start + 12..].fill(0);
        let digest = hmac_md5(key, &[&zeroed, rest]);
        if !constant_time_eq(&digest[..ICV_LEN], &ah.icv) {
            return Err(AhError::Icv);
        }
        let expected = u32::from(self.src());
        if ah.spi != expected {
            return Err(AhError::Spi {
                spi: ah.spi,
                expected,
            });
        }
        Ok(())
    }
}

/// The AH header keepalived sends, ICV still zero.
pub(crate) fn ah_header(src: Ipv4Addr, sequence: u32) -> [u8; crate::AH_HEADER_LEN] {
    let mut h = [0u8; crate::AH_HEADER_LEN];
    h[0] = crate::IPPROTO_VRRP;
    h[1] = AH_PAYLOAD_LEN;
    // keepalived copies the source address into the SPI field as is (network order).
    h[4..8].copy_from_slice(&src.octets());
    h[8..12].copy_from_slice(&sequence.to_be_bytes());
    h
}

/// Fills in the ICV of a datagram laid out as 20-byte IP header, AH header, VRRP message.
pub(crate) fn seal(datagram: &mut [u8], key: &[u8; 8], unicast: bool) {
    let mut ip_header = [0u8; 20];
    ip_header.copy_from_slice(&datagram[..20]);
    zero_mutable_fields(&mut ip_header, unicast);
    datagram[20 + 12..20 + crate::AH_HEADER_LEN].fill(0);
    let digest = hmac_md5(key, &[&ip_header, &datagram[20..]]);
    datagram[20 + 12..20 + crate::AH_HEADER_LEN].copy_from_slice(&digest[..ICV_LEN]);
}

/// RFC 2402 §3.3.3.1.1.1 as keepalived applies it: TOS, flags/fragment offset and header
/// checksum are mutable; the TTL only for unicast.
fn zero_mutable_fields(ip_header: &mut [u8], unicast: bool) {
    ip_header[1] = 0;
    ip_header[6..8].fill(0);
    ip_header[10..12].fill(0);
    if unicast {
        ip_header[8] = 0;
    }
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

const HMAC_BLOCK: usize = 64;

/// RFC 2104 HMAC-MD5 over the concatenation of `parts`.
pub(crate) fn hmac_md5(key: &[u8], parts: &[&[u8]]) -> [u8; 16] {
    let mut block_key = [0u8; HMAC_BLOCK];
    if key.len() > HMAC_BLOCK {
        let mut hashed = Md5::new();
        hashed.update(key);
        block_key[..16].copy_from_slice(&hashed.finish());
    } else {
        block_key[..key.len()].copy_from_slice(key);
    }
    let mut inner = Md5::new();
    inner.update(&block_key.map(|b| b ^ 0x36));
    for part in parts {
        inner.update(part);
    }
    let mut outer = Md5::new();
    outer.update(&block_key.map(|b| b ^ 0x5c));
    outer.update(&inner.finish());
    outer.finish()
}

/// RFC 1321 MD5, streaming.
struct Md5 {
    state: [u32; 4],
    pending: [u8; 64],
    pending_len: usize,
    total_len: u64,
}

/// floor(|sin(i + 1)| * 2^32), RFC 1321 §3.4.
const MD5_K: [u32; 64] = [
    0xd76aa478, 0xe8c7b756, 0x242070db, 0xc1bdceee, 0xf57c0faf, 0x4787c62a, 0xa8304613, 0xfd469501,
    0x698098d8, 0x8b44f7af, 0xffff5bb1, 0x895cd7be, 0x6b901122, 0xfd987193, 0xa679438e, 0x49b40821,
    0xf61e2562, 0xc040b340, 0x265e5a51, 0xe9b6c7aa, 0xd62f105d, 0x02441453, 0xd8a1e681, 0xe7d3fbc8,
    0x21e1cde6, 0xc33707d6, 0xf4d50d87, 0x455a14ed, 0xa9e3e905, 0xfcefa3f8, 0x676f02d9, 0x8d2a4c8a,
    0xfffa3942, 0x8771f681, 0x6d9d6122, 0xfde5380c, 0xa4beea44, 0x4bdecfa9, 0xf6bb4b60, 0xbebfbc70,
    0x289b7ec6, 0xeaa127fa, 0xd4ef3085, 0x04881d05, 0xd9d4d039, 0xe6db99e5, 0x1fa27cf8, 0xc4ac5665,
    0xf4292244, 0x432aff97, 0xab9423a7, 0xfc93a039, 0x655b59c3, 0x8f0ccc92, 0xffeff47d, 0x85845dd1,
    0x6fa87e4f, 0xfe2ce6e0, 0xa3014314, 0x4e0811a1, 0xf7537e82, 0xbd3af235, 0x2ad7d2bb, 0xeb86d391,
];

/// Per-round left rotations, RFC 1321 §3.4.
const MD5_S: [[u32; 4]; 4] = [
    [7, 12, 17, 22],
    [5, 9, 14, 20],
    [4, 11, 16, 23],
    [6, 10, 15, 21],
];

impl Md5 {
    fn new() -> Self {
        Self {
            state: [0x67452301, 0xefcdab89, 0x98badcfe, 0x10325476],
            pending: [0; 64],
            pending_len: 0,
            total_len: 0,
        }
    }

    fn update(&mut self, mut data: &[u8]) {
        self.total_len = self.total_len.wrapping_add(data.len() as u64);
        if self.pending_len > 0 {
            let take = (64 - self.pending_len).min(data.len());
            self.pending[self.pending_len..self.pending_len + take].copy_from_slice(&data[..take]);
            self.pending_len += take;
            data = &data[take..];
            if self.pending_len < 64 {
                return;
            }
            let block = self.pending;
            self.compress(&block);
            self.pending_len = 0;
        }
        let mut blocks = data.chunks_exact(64);
        for block in &mut blocks {
            let mut b = [0u8; 64];
            b.copy_from_slice(block);
            self.compress(&b);
        }
        let rest = blocks.remainder();
        self.pending[..rest.len()].copy_from_slice(rest);
        self.pending_len = rest.len();
    }

    fn finish(mut self) -> [u8; 16] {
        let bit_len = self.total_len.wrapping_mul(8);
        let pad_len = if self.pending_len < 56 {
            56 - self.pending_len
        } else {
            120 - self.pending_len
        };
        let mut padding = [0u8; 72];
        padding[0] = 0x80;
        self.update(&padding[..pad_len]);
        self.update(&bit_len.to_le_bytes());
        let mut out = [0u8; 16];
        for (chunk, word) in out.chunks_exact_mut(4).zip(self.state) {
            chunk.copy_from_slice(&word.to_le_bytes());
        }
        out
    }

    fn compress(&mut self, block: &[u8; 64]) {
        let mut m = [0u32; 16];
        for (word, bytes) in m.iter_mut().zip(block.chunks_exact(4)) {
            *word = u32::from_le_bytes([bytes[0], bytes[1], bytes[2], bytes[3]]);
        }
        let [mut a, mut b, mut c, mut d] = self.state;
        for i in 0..64 {
            let (f, g) = match i / 16 {
                0 => ((b & c) | (!b & d), i),
                1 => ((d & b) | (!d & c), (5 * i + 1) % 16),
                2 => (b ^ c ^ d, (3 * i + 5) % 16),
                _ => (c ^ (b | !d), (7 * i) % 16),
            };
            let rotated = a
                .wrapping_add(f)
                .wrapping_add(MD5_K[i])
                .wrapping_add(m[g])
                .rotate_left(MD5_S[i / 16][i % 4]);
            a = d;
            d = c;
            c = b;
            b = b.wrapping_add(rotated);
        }
        for (s, v) in self.state.iter_mut().zip([a, b, c, d]) {
            *s = s.wrapping_add(v);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hex(bytes: &[u8]) -> String {
        bytes.iter().map(|b| format!("{b:02x}")).collect()
    }

    fn md5(data: &[u8]) -> String {
        let mut h = Md5::new();
        h.update(data);
        hex(&h.finish())
    }

    #[test]
    fn md5_rfc1321_test_suite() {
        assert_eq!(md5(b""), "d41d8cd98f00b204e9800998ecf8427e");
        assert_eq!(md5(b"a"), "0cc175b9c0f1b6a831c399e269772661");
        assert_eq!(md5(b"abc"), "900150983cd24fb0d6963f7d28e17f72");
        assert_eq!(md5(b"message digest"), "f96b697d7cb7938d525a2f31aaf161d0");
        assert_eq!(
            md5(b"abcdefghijklmnopqrstuvwxyz"),
            "c3fcd3d76192e4007dfb496cca67e13b"
        );
        assert_eq!(
            md5(b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"),
            "d174ab98d277d9f5a5611c2c9f419d9f"
        );
        assert_eq!(
            md5(
                b"12345678901234567890123456789012345678901234567890123456789012345678901234567890"
            ),
            "57edf4a22be3c955ac49da2e2107b67a"
        );
    }

    #[test]
    fn md5_streaming_matches_one_shot_across_block_boundaries() {
        let data: Vec<u8> = (0..300u32).map(|i| (i * 7) as u8).collect();
        for split in [0, 1, 55, 56, 63, 64, 65, 128, 299] {
            let mut h = Md5::new();
            h.update(&data[..split]);
            h.update(&data[split..]);
            assert_eq!(hex(&h.finish()), md5(&data), "split at {split}");
        }
    }

    #[test]
    fn hmac_md5_rfc2202_vectors() {
        assert_eq!(
            hex(&hmac_md5(&[0x0b; 16], &[b"Hi There"])),
            "9294727a3638bb1c13f48ef8158bfc9d"
        );
        assert_eq!(
            hex(&hmac_md5(b"Jefe", &[b"what do ya want ", b"for nothing?"])),
            "750c783e6ab0b503eaa86e310a5db738"
        );
        assert_eq!(
            hex(&hmac_md5(&[0xaa; 16], &[&[0xdd; 50]])),
            "56be34521d144c88dbb8c733f0e8b3f6"
        );
        assert_eq!(
            hex(&hmac_md5(
                &[0xaa; 80],
                &[b"Test Using Larger Than Block-Size Key - Hash Key First"]
            )),
            "6b1ab7fe4bd7bf8f0b62e6ce61b9d0cd"
        );
    }

    #[test]
    fn spi_must_be_the_source_address() {
        let advert = crate::Advert {
            version: 2,
            vrid: 51,
            priority: 150,
            interval_cs: 100,
            auth: crate::AuthData::Ah,
            addrs: vec!["192.0.2.1".parse().unwrap()],
        };
        let key = *b"kadpass1";
        let params = crate::Ipv4Params {
            src: Ipv4Addr::new(192, 0, 2, 11),
            dst: crate::VRRP_MCAST_V4,
            ttl: 255,
            id: 1,
            v3_checksum: crate::V3Checksum::PseudoHeader,
            ah: Some(AhParams { key, sequence: 1 }),
        };
        let mut packet = crate::encode_ipv4(&advert, &params).unwrap();
        // A sender whose SPI is not its address, with an ICV that matches.
        packet[20 + 4..20 + 8].copy_from_slice(&[192, 0, 2, 99]);
        seal(&mut packet, &key, false);
        let view = Ipv4Datagram::parse(&packet).unwrap();
        assert_eq!(
            view.verify_ah(&key, false),
            Err(AhError::Spi {
                spi: 0xc0000263,
                expected: 0xc000020b
            })
        );
    }

    #[test]
    fn ah_error_counters() {
        assert_eq!(AhError::Missing.counter(), "authtype_mismatch");
        assert_eq!(AhError::Icv.counter(), "auth_failure");
        assert_eq!(
            AhError::Spi {
                spi: 1,
                expected: 2
            }
            .counter(),
            "auth_failure"
        );
    }
}
