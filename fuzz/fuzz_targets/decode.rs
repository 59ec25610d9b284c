//! Fuzzes the receive path: no input may panic, and whatever decodes must survive an
//! encode/decode round trip unchanged.
#![no_main]

use std::net::{IpAddr, Ipv6Addr};

use kad_packet::{
    decode_ipv4, decode_ipv6, encode_ipv4, encode_ipv6_with_checksum, AuthData, ChecksumForm, DecodeOptions,
    Ipv4Datagram, Ipv4Params, V3Checksum, VRRP_MCAST_V4,
};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first byte picks the receiver's options, the rest is the packet.
    let Some((&selector, packet)) = data.split_first() else { return };
    let v3_checksum = match selector % 3 {
        0 => V3Checksum::PseudoHeader,
        1 => V3Checksum::OldUnicast { group: VRRP_MCAST_V4 },
        _ => V3Checksum::AsV2,
    };
    let fallback = (selector & 0x80 != 0).then_some(VRRP_MCAST_V4);
    let options = DecodeOptions { v3_checksum, old_unicast_fallback: fallback };

    if let Ok(view) = Ipv4Datagram::parse(packet) {
        let _ = view.verify_ah(b"kadpass1", selector & 0x40 != 0);
        let decoded = view.decode(&options);
        assert_eq!(decoded, decode_ipv4(packet, &options));
        if let Ok(rx) = decoded {
            let (IpAddr::V4(src), IpAddr::V4(dst)) = (rx.src, rx.dst) else { panic!("IPv4 decode gave IPv6 addresses") };
            // AH needs the sender's key, which the receiver does not have here.
            if rx.advert.auth != AuthData::Ah {
                let sent_form = match rx.checksum {
                    ChecksumForm::V3OldUnicast => V3Checksum::OldUnicast { group: VRRP_MCAST_V4 },
                    ChecksumForm::V3Unverified => V3Checksum::AsV2,
                    _ => V3Checksum::PseudoHeader,
                };
                let params = Ipv4Params {
                    src,
                    dst,
                    ttl: rx.ttl_or_hop_limit,
                    id: rx.ip_id.unwrap_or_default(),
                    v3_checksum: sent_form,
                    ah: None,
                };
                let again = encode_ipv4(&rx.advert, &params).expect("a decoded advert must be encodable");
                let strict = DecodeOptions { v3_checksum: sent_form, old_unicast_fallback: None };
                let rx2 = decode_ipv4(&again, &strict).expect("a re-encoded advert must decode");
                assert_eq!(rx2.advert, rx.advert);
            }
        }
    }

    let (src, dst) = (Ipv6Addr::LOCALHOST, Ipv6Addr::UNSPECIFIED);
    if let Ok(rx) = decode_ipv6(packet, src, dst, 255) {
        let again = encode_ipv6_with_checksum(&rx.advert, src, dst).expect("a decoded advert must be encodable");
        assert_eq!(decode_ipv6(&again, src, dst, 255).map(|r| r.advert), Ok(rx.advert));
    }
});
