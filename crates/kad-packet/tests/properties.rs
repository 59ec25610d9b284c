//! Properties: decoding inverts encoding for every valid advert, corruption of the VRRP
//! message is always detected, and no input makes the decoder panic.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use proptest::prelude::*;

use kad_packet::{
    decode_ipv4, decode_ipv6, encode_ipv4, encode_ipv6, encode_ipv6_with_checksum, ipv6_checksum,
    Advert, AhParams, AuthData, ChecksumForm, DecodeOptions, IpIdSequence, Ipv4Datagram,
    Ipv4Params, V3Checksum, VRRP_MCAST_V4,
};

const MAX_ADDRS: usize = 40;

fn ipv4() -> impl Strategy<Value = Ipv4Addr> {
    any::<[u8; 4]>().prop_map(Ipv4Addr::from)
}

fn ipv6() -> impl Strategy<Value = Ipv6Addr> {
    any::<[u8; 16]>().prop_map(Ipv6Addr::from)
}

/// A v2 or v3 advert carrying IPv4 addresses, with the AH key when its auth is AH.
fn ipv4_advert() -> impl Strategy<Value = (Advert, Option<[u8; 8]>)> {
    let addrs = || prop::collection::vec(ipv4().prop_map(IpAddr::V4), 0..=MAX_ADDRS);
    let v2_auth = prop_oneof![
        Just((AuthData::None, None)),
        any::<[u8; 8]>().prop_map(|p| (AuthData::Pass(p), None)),
        any::<[u8; 8]>().prop_map(|k| (AuthData::Ah, Some(k))),
    ];
    let v2 = (any::<u8>(), any::<u8>(), 0u16..=255, v2_auth, addrs()).prop_map(
        |(vrid, priority, secs, (auth, key), addrs)| {
            (
                Advert {
                    version: 2,
                    vrid,
                    priority,
                    interval_cs: secs * 100,
                    auth,
                    addrs,
                },
                key,
            )
        },
    );
    let v3 = (any::<u8>(), any::<u8>(), 0u16..=0x0fff, addrs()).prop_map(
        |(vrid, priority, interval_cs, addrs)| {
            (
                Advert {
                    version: 3,
                    vrid,
                    priority,
                    interval_cs,
                    auth: AuthData::None,
                    addrs,
                },
                None,
            )
        },
    );
    prop_oneof![v2, v3]
}

fn ipv6_advert() -> impl Strategy<Value = Advert> {
    (
        any::<u8>(),
        any::<u8>(),
        0u16..=0x0fff,
        prop::collection::vec(ipv6().prop_map(IpAddr::V6), 0..=MAX_ADDRS),
    )
        .prop_map(|(vrid, priority, interval_cs, addrs)| Advert {
            version: 3,
            vrid,
            priority,
            interval_cs,
            auth: AuthData::None,
            addrs,
        })
}

fn v3_checksum() -> impl Strategy<Value = V3Checksum> {
    prop_oneof![
        Just(V3Checksum::PseudoHeader),
        Just(V3Checksum::OldUnicast {
            group: VRRP_MCAST_V4
        }),
        Just(V3Checksum::AsV2),
    ]
}

fn ipv4_params() -> impl Strategy<Value = Ipv4Params> {
    let dst = prop_oneof![Just(VRRP_MCAST_V4), ipv4()];
    (
        ipv4(),
        dst,
        any::<u8>(),
        any::<u16>(),
        v3_checksum(),
        any::<u32>(),
    )
        .prop_map(|(src, dst, ttl, id, v3_checksum, sequence)| Ipv4Params {
            src,
            dst,
            ttl,
            id,
            v3_checksum,
            // The key is filled in from the advert strategy when its auth is AH.
            ah: Some(AhParams {
                key: [0; 8],
                sequence,
            }),
        })
}

fn with_key(params: &Ipv4Params, key: Option<[u8; 8]>) -> Ipv4Params {
    Ipv4Params {
        ah: key.and_then(|key| params.ah.map(|ah| AhParams { key, ..ah })),
        ..*params
    }
}

fn ones_sum(addr: Ipv4Addr) -> u32 {
    let [a, b, c, d] = addr.octets();
    let sum = u32::from(u16::from_be_bytes([a, b])) + u32::from(u16::from_be_bytes([c, d]));
    let folded = (sum & 0xffff) + (sum >> 16);
    // 0 and 0xffff are the same one's-complement value.
    if folded == 0xffff {
        0
    } else {
        folded
    }
}

/// The form a receiver that expects the sender's form reports.
fn expected_form(advert: &Advert, sent: V3Checksum) -> ChecksumForm {
    match (advert.version, sent) {
        (2, _) => ChecksumForm::V2,
        (_, V3Checksum::PseudoHeader) => ChecksumForm::V3PseudoHeader,
        (_, V3Checksum::OldUnicast { .. }) => ChecksumForm::V3OldUnicast,
        (_, V3Checksum::AsV2) => ChecksumForm::V3Unverified,
    }
}

proptest! {
    #[test]
    fn ipv4_decode_inverts_encode((advert, key) in ipv4_advert(), params in ipv4_params()) {
        let params = with_key(&params, key);
        let bytes = encode_ipv4(&advert, &params).unwrap();
        let options = DecodeOptions { v3_checksum: params.v3_checksum, old_unicast_fallback: None };
        let got = decode_ipv4(&bytes, &options).unwrap();
        prop_assert_eq!(&got.advert, &advert);
        prop_assert_eq!((got.src, got.dst), (IpAddr::V4(params.src), IpAddr::V4(params.dst)));
        prop_assert_eq!((got.ttl_or_hop_limit, got.ip_id), (params.ttl, Some(params.id)));
        prop_assert_eq!(got.checksum, expected_form(&advert, params.v3_checksum));
        prop_assert_eq!(got.ah.is_some(), key.is_some());
        // Re-encoding what was decoded gives the same bytes.
        prop_assert_eq!(encode_ipv4(&got.advert, &params).unwrap(), bytes.clone());
        if let Some(key) = key {
            let view = Ipv4Datagram::parse(&bytes).unwrap();
            prop_assert_eq!(view.verify_ah(&key, !params.dst.is_multicast()), Ok(()));
        }
    }

    #[test]
    fn default_options_accept_both_keepalived_forms((advert, key) in ipv4_advert(), params in ipv4_params()) {
        prop_assume!(advert.version == 3 && params.v3_checksum != V3Checksum::AsV2);
        let bytes = encode_ipv4(&advert, &with_key(&params, key)).unwrap();
        let got = decode_ipv4(&bytes, &DecodeOptions::default()).unwrap();
        // Both forms are the same checksum when the destination and the group have the same
        // one's-complement sum (the group itself, or 1 in 65535 other addresses); the standard
        // form is tried first.
        let forms_coincide = ones_sum(params.dst) == ones_sum(VRRP_MCAST_V4);
        let form = if forms_coincide { ChecksumForm::V3PseudoHeader } else { expected_form(&advert, params.v3_checksum) };
        prop_assert_eq!(got.checksum, form);
    }

    #[test]
    fn ipv6_decode_inverts_encode(advert in ipv6_advert(), src in ipv6(), dst in ipv6(), hop_limit in any::<u8>()) {
        let bytes = encode_ipv6_with_checksum(&advert, src, dst).unwrap();
        let got = decode_ipv6(&bytes, src, dst, hop_limit).unwrap();
        prop_assert_eq!(&got.advert, &advert);
        prop_assert_eq!((got.src, got.dst, got.ttl_or_hop_limit), (IpAddr::V6(src), IpAddr::V6(dst), hop_limit));
        // What the kernel would put in the field, and the field left for the kernel.
        prop_assert_eq!(ipv6_checksum(&bytes, src, dst).to_be_bytes(), [bytes[6], bytes[7]]);
        let bare = encode_ipv6(&advert).unwrap();
        prop_assert_eq!(&bare[..6], &bytes[..6]);
        prop_assert_eq!(&bare[6..8], &[0, 0]);
        prop_assert_eq!(&bare[8..], &bytes[8..]);
    }

    #[test]
    fn any_bit_flip_in_the_vrrp_message_is_rejected(
        (advert, _) in ipv4_advert(),
        params in ipv4_params(),
        bit in any::<prop::sample::Index>(),
    ) {
        // One's-complement sums change under any single-bit flip; AsV2 does not verify and AH
        // is covered by its ICV instead.
        prop_assume!(advert.auth != AuthData::Ah && !(advert.version == 3 && params.v3_checksum == V3Checksum::AsV2));
        let params = Ipv4Params { ah: None, ..params };
        let mut bytes = encode_ipv4(&advert, &params).unwrap();
        let vrrp_bits = (bytes.len() - 20) * 8;
        let flip = 20 * 8 + bit.index(vrrp_bits);
        bytes[flip / 8] ^= 1 << (flip % 8);
        let options = DecodeOptions { v3_checksum: params.v3_checksum, old_unicast_fallback: None };
        prop_assert!(decode_ipv4(&bytes, &options).is_err(), "bit {} accepted", flip);
    }

    #[test]
    fn arbitrary_bytes_never_panic(bytes in prop::collection::vec(any::<u8>(), 0..160), key in any::<[u8; 8]>(), v3 in v3_checksum(), unicast in any::<bool>()) {
        let options = DecodeOptions { v3_checksum: v3, ..DecodeOptions::default() };
        let _ = decode_ipv4(&bytes, &options);
        if let Ok(view) = Ipv4Datagram::parse(&bytes) {
            let _ = view.decode(&options);
            let _ = view.verify_ah(&key, unicast);
        }
        let _ = decode_ipv6(&bytes, Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 255);
    }

    #[test]
    fn mangled_adverts_never_panic(
        (advert, key) in ipv4_advert(),
        params in ipv4_params(),
        edits in prop::collection::vec((any::<prop::sample::Index>(), any::<u8>()), 1..6),
        new_len in any::<prop::sample::Index>(),
    ) {
        // Near-valid packets reach the deeper checks that random bytes rarely do.
        let params = with_key(&params, key);
        let mut bytes = encode_ipv4(&advert, &params).unwrap();
        for (at, value) in edits {
            let i = at.index(bytes.len());
            bytes[i] = value;
        }
        bytes.truncate(new_len.index(bytes.len() + 1));
        let options = DecodeOptions::default();
        if let Ok(view) = Ipv4Datagram::parse(&bytes) {
            let _ = view.decode(&options);
            let _ = view.verify_ah(&key.unwrap_or_default(), false);
        }
        let _ = decode_ipv6(&bytes[bytes.len().min(20)..], Ipv6Addr::LOCALHOST, Ipv6Addr::LOCALHOST, 255);
    }
}

#[test]
fn ip_ids_never_repeat_zero_over_a_full_cycle() {
    let mut ids = IpIdSequence::new();
    let cycle: Vec<u16> = (0..65535).map(|_| ids.next_id()).collect();
    assert!(!cycle.contains(&0));
    assert_eq!(cycle[0], 1);
    assert_eq!(cycle[65534], u16::MAX);
    assert_eq!(ids.next_id(), 1);
}
