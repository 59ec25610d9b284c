//! Every rejection path of the decoder and encoder, with keepalived's counter for each.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

use kad_packet::{
    decode_ipv4, decode_ipv6, encode_ipv4, encode_ipv6, encode_ipv6_with_checksum, Advert, AhError,
    AhParams, AuthData, ChecksumForm, DecodeError, DecodeOptions, EncodeError, Ipv4Datagram,
    Ipv4Params, V3Checksum, VRRP_MCAST_V4, VRRP_MCAST_V6,
};

const SRC: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 11);
const PEER: Ipv4Addr = Ipv4Addr::new(192, 0, 2, 12);
const SRC6: Ipv6Addr = Ipv6Addr::new(0xfe80, 0, 0, 0, 0, 0xff, 0xfe00, 0x11);
const KEY: [u8; 8] = *b"kadpass1";

fn advert(version: u8, addrs: &[&str]) -> Advert {
    Advert {
        version,
        vrid: 51,
        priority: 150,
        interval_cs: 100,
        auth: AuthData::None,
        addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
    }
}

fn params(dst: Ipv4Addr) -> Ipv4Params {
    Ipv4Params {
        src: SRC,
        dst,
        ttl: 255,
        id: 1,
        v3_checksum: V3Checksum::PseudoHeader,
        ah: None,
    }
}

fn v2() -> Vec<u8> {
    encode_ipv4(&advert(2, &["192.0.2.1"]), &params(VRRP_MCAST_V4)).unwrap()
}

fn v3() -> Vec<u8> {
    encode_ipv4(&advert(3, &["192.0.2.1"]), &params(VRRP_MCAST_V4)).unwrap()
}

fn v3_ipv6() -> Vec<u8> {
    encode_ipv6_with_checksum(&advert(3, &["2001:db8::1"]), SRC6, VRRP_MCAST_V6).unwrap()
}

fn ah_advert() -> Advert {
    Advert {
        auth: AuthData::Ah,
        ..advert(2, &["192.0.2.1"])
    }
}

fn ah_packet(dst: Ipv4Addr) -> Vec<u8> {
    let p = Ipv4Params {
        ah: Some(AhParams {
            key: KEY,
            sequence: 7,
        }),
        ..params(dst)
    };
    encode_ipv4(&ah_advert(), &p).unwrap()
}

fn decode(bytes: &[u8]) -> Result<kad_packet::Received, DecodeError> {
    decode_ipv4(bytes, &DecodeOptions::default())
}

fn decode6(payload: &[u8]) -> Result<kad_packet::Received, DecodeError> {
    decode_ipv6(payload, SRC6, VRRP_MCAST_V6, 255)
}

fn set_total_length(bytes: &mut [u8], len: usize) {
    bytes[2..4].copy_from_slice(&(len as u16).to_be_bytes());
}

// ----------------------------------------------------------------------------- before dispatch

#[test]
fn truncated_headers_are_dropped_without_a_counter() {
    let full = v3();
    for len in [0, 1, 19, 20, 27] {
        let err = decode(&full[..len]).unwrap_err();
        assert_eq!(
            err,
            DecodeError::TooShort {
                ipv6: false,
                ah: false,
                len
            },
            "len {len}"
        );
        assert_eq!((err.counter(), err.vrid()), (None, None));
    }
    // An IHL of 15 words puts the VRRP header beyond the 32 received bytes.
    let mut long_ihl = full.clone();
    long_ihl[0] = 0x4f;
    assert_eq!(
        decode(&long_ihl).unwrap_err(),
        DecodeError::TooShort {
            ipv6: false,
            ah: false,
            len: 32
        }
    );

    let ah = ah_packet(VRRP_MCAST_V4);
    for len in [20 + 23, 20 + 24 + 7] {
        assert_eq!(
            decode(&ah[..len]).unwrap_err(),
            DecodeError::TooShort {
                ipv6: false,
                ah: true,
                len
            }
        );
    }
}

#[test]
fn non_vrrp_datagrams_are_refused() {
    let mut v6 = v3();
    v6[0] = 0x65;
    assert_eq!(decode(&v6).unwrap_err(), DecodeError::NotIpv4(6));

    let mut small_ihl = v3();
    small_ihl[0] = 0x44;
    assert_eq!(
        decode(&small_ihl).unwrap_err(),
        DecodeError::BadHeaderLength(16)
    );

    let mut tcp = v3();
    tcp[9] = 6;
    let err = decode(&tcp).unwrap_err();
    assert_eq!(err, DecodeError::NotVrrp(6));
    assert_eq!(err.counter(), None);

    let mut ah_for_tcp = ah_packet(VRRP_MCAST_V4);
    ah_for_tcp[20] = 6;
    let err = decode(&ah_for_tcp).unwrap_err();
    assert!(
        matches!(err, DecodeError::AhNotVrrp { next_header: 6, .. }),
        "{err:?}"
    );
    assert_eq!((err.counter(), err.vrid()), (None, Some(51)));
}

// ----------------------------------------------------------------------------- lengths

#[test]
fn address_count_must_match_the_received_length() {
    let mut claims_two = v2();
    claims_two[20 + 3] = 2;
    let err = decode(&claims_two).unwrap_err();
    assert_eq!(
        err.to_string(),
        "vrrp packet from 192.0.2.11 too short, length 40 and expect 44"
    );
    assert_eq!(
        (err.counter(), err.vrid(), err.version()),
        (Some("packet_len_err"), Some(51), Some(2))
    );

    let mut one_extra = v3();
    one_extra.push(0);
    set_total_length(&mut one_extra, 33);
    let err = decode(&one_extra).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::Length {
                len: 33,
                expected: 32,
                ..
            }
        ),
        "{err:?}"
    );
    assert!(err.to_string().contains("too long"));

    // v2 carries 8 auth bytes that v3 does not: a v3 packet relabelled v2 is 8 bytes short.
    let mut relabelled = v3();
    relabelled[20] = 0x21;
    assert!(matches!(
        decode(&relabelled).unwrap_err(),
        DecodeError::Length {
            len: 32,
            expected: 40,
            ..
        }
    ));
}

#[test]
fn ethernet_padding_is_tolerated_like_keepalived() {
    let original = decode(&v3()).unwrap();
    // A 32-byte datagram in a minimum Ethernet frame carries 14 bytes of padding, 10 with a
    // VLAN tag; the IP total length still says 32.
    for padding in [14, 10, 6, 2] {
        let mut padded = v3();
        padded.resize(32 + padding, 0);
        assert_eq!(decode(&padded).unwrap(), original, "padding {padding}");
    }
    // Anything else is not padding.
    for padding in [1, 4, 16] {
        let mut padded = v3();
        padded.resize(32 + padding, 0);
        let err = decode(&padded).unwrap_err();
        assert!(
            matches!(err, DecodeError::Length { .. }),
            "padding {padding}: {err:?}"
        );
    }
    // A datagram that already fills a minimum frame cannot be padded.
    let big = encode_ipv4(
        &advert(2, &["192.0.2.1", "192.0.2.2", "192.0.2.3"]),
        &params(VRRP_MCAST_V4),
    )
    .unwrap();
    assert_eq!(big.len(), 48);
    let mut padded = big.clone();
    padded.resize(50, 0);
    assert!(matches!(
        decode(&padded).unwrap_err(),
        DecodeError::Length { .. }
    ));
}

#[test]
fn ip_total_length_must_match_the_received_length() {
    let mut wrong = v3();
    set_total_length(&mut wrong, 36);
    let err = decode(&wrong).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ip_tot_len mismatch against received length from 192.0.2.11. 36 and received 32"
    );
    assert_eq!(err.counter(), Some("packet_len_err"));

    // Padding that the total length does not account for has to look like padding.
    let mut padded = v3();
    padded.resize(46, 0);
    set_total_length(&mut padded, 45);
    let err = decode(&padded).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::TotalLength {
                total_length: 45,
                len: 46,
                ..
            }
        ),
        "{err:?}"
    );
    set_total_length(&mut padded, 44);
    assert!(decode(&padded).is_ok());
}

// ----------------------------------------------------------------------------- header fields

#[test]
fn unknown_versions_are_refused() {
    for version in [0u8, 1, 4, 15] {
        let mut other = v3();
        other[20] = (version << 4) | 1;
        let err = decode(&other).unwrap_err();
        assert_eq!(
            err,
            DecodeError::Version {
                info: err.info().unwrap().clone()
            }
        );
        assert_eq!(
            (err.counter(), err.version()),
            (Some("vers_err"), Some(version))
        );
    }
}

#[test]
fn invalid_v2_auth_types_are_refused() {
    let mut bad = v2();
    bad[20 + 4] = 3;
    let err = decode(&bad).unwrap_err();
    assert!(
        matches!(err, DecodeError::AuthType { auth_type: 3, .. }),
        "{err:?}"
    );
    assert_eq!(err.counter(), Some("invalid_authtype"));
    assert_eq!(err.to_string(), "Invalid auth type from 192.0.2.11: 3");
}

#[test]
fn only_advertisements_are_accepted() {
    for packet in [v2(), v3()] {
        let mut other = packet;
        other[20] = (other[20] & 0xf0) | 2;
        let err = decode(&other).unwrap_err();
        assert!(
            matches!(err, DecodeError::PacketType { packet_type: 2, .. }),
            "{err:?}"
        );
        assert_eq!(err.counter(), Some("invalid_type_rcvd"));
    }
}

#[test]
fn reserved_v3_bits_are_ignored() {
    let mut reserved = v3();
    reserved[20 + 4] |= 0xf0;
    // Keep the checksum valid: the reserved nibble added 0xf000 to the one's-complement sum.
    let checksum = u16::from_be_bytes([reserved[26], reserved[27]]);
    let sum = u32::from(!checksum) + 0xf000;
    let sum = (sum & 0xffff) + (sum >> 16);
    reserved[26..28].copy_from_slice(&(!(sum as u16)).to_be_bytes());
    assert_eq!(decode(&reserved).unwrap().advert.interval_cs, 100);
}

// ----------------------------------------------------------------------------- checksums

#[test]
fn corrupted_checksums_are_refused() {
    for (packet, version) in [(v2(), 2), (v3(), 3)] {
        let mut corrupt = packet;
        corrupt[28] ^= 0x01;
        let err = decode(&corrupt).unwrap_err();
        let received = u16::from_be_bytes([corrupt[26], corrupt[27]]);
        assert!(
            matches!(err, DecodeError::Checksum { received: r, .. } if r == received),
            "{err:?}"
        );
        assert_eq!(err.counter(), Some("chk_err"));
        assert_eq!(
            err.to_string(),
            format!("Invalid VRRPv{version} checksum from 192.0.2.11")
        );
    }
}

#[test]
fn v3_checksum_forms_and_the_old_unicast_fallback() {
    let a = advert(3, &["192.0.2.1"]);
    let standard = encode_ipv4(&a, &params(PEER)).unwrap();
    let old_form = V3Checksum::OldUnicast {
        group: VRRP_MCAST_V4,
    };
    let old = encode_ipv4(
        &a,
        &Ipv4Params {
            v3_checksum: old_form,
            ..params(PEER)
        },
    )
    .unwrap();
    assert_ne!(standard, old);

    let auto = DecodeOptions::default();
    assert_eq!(
        decode_ipv4(&standard, &auto).unwrap().checksum,
        ChecksumForm::V3PseudoHeader
    );
    assert_eq!(
        decode_ipv4(&old, &auto).unwrap().checksum,
        ChecksumForm::V3OldUnicast
    );

    let never = DecodeOptions {
        old_unicast_fallback: None,
        ..auto
    };
    assert!(matches!(
        decode_ipv4(&old, &never).unwrap_err(),
        DecodeError::Checksum { .. }
    ));

    // Once switched to the old form, the standard form no longer verifies.
    let locked = DecodeOptions {
        v3_checksum: old_form,
        old_unicast_fallback: None,
    };
    assert_eq!(
        decode_ipv4(&old, &locked).unwrap().checksum,
        ChecksumForm::V3OldUnicast
    );
    assert!(matches!(
        decode_ipv4(&standard, &locked).unwrap_err(),
        DecodeError::Checksum { .. }
    ));

    // The fallback group can be a configured vrrp_mcast_group4.
    let group = Ipv4Addr::new(224, 0, 0, 100);
    let custom = encode_ipv4(
        &a,
        &Ipv4Params {
            v3_checksum: V3Checksum::OldUnicast { group },
            ..params(PEER)
        },
    )
    .unwrap();
    assert!(decode_ipv4(&custom, &auto).is_err());
    let custom_auto = DecodeOptions {
        old_unicast_fallback: Some(group),
        ..auto
    };
    assert_eq!(
        decode_ipv4(&custom, &custom_auto).unwrap().checksum,
        ChecksumForm::V3OldUnicast
    );

    // v3_checksum_as_v2 sends without the pseudo-header and accepts any checksum.
    let as_v2 = DecodeOptions {
        v3_checksum: V3Checksum::AsV2,
        old_unicast_fallback: None,
    };
    let mut garbage = standard.clone();
    garbage[26..28].copy_from_slice(&[0xde, 0xad]);
    assert_eq!(
        decode_ipv4(&garbage, &as_v2).unwrap().checksum,
        ChecksumForm::V3Unverified
    );
    let sent_as_v2 = encode_ipv4(
        &a,
        &Ipv4Params {
            v3_checksum: V3Checksum::AsV2,
            ..params(PEER)
        },
    )
    .unwrap();
    assert!(matches!(
        decode_ipv4(&sent_as_v2, &auto).unwrap_err(),
        DecodeError::Checksum { .. }
    ));
}

#[test]
fn multicast_packets_are_not_retried_with_the_group() {
    let mut corrupt = v3();
    corrupt[28] ^= 0x01;
    assert!(matches!(
        decode(&corrupt).unwrap_err(),
        DecodeError::Checksum { .. }
    ));
}

// ----------------------------------------------------------------------------- IP facts

#[test]
fn ip_options_are_skipped_using_the_header_length() {
    let plain = v3();
    // Insert a Router Alert option (RFC 2113) and grow IHL and total length to match.
    let mut with_option = plain[..20].to_vec();
    with_option[0] = 0x46;
    with_option.extend_from_slice(&[0x94, 0x04, 0x00, 0x00]);
    with_option.extend_from_slice(&plain[20..]);
    let len = with_option.len();
    set_total_length(&mut with_option, len);
    let got = decode(&with_option).unwrap();
    assert_eq!(got, decode(&plain).unwrap());
}

#[test]
fn received_reports_the_ip_facts() {
    let mut bytes = encode_ipv4(
        &advert(2, &["192.0.2.1"]),
        &Ipv4Params {
            id: 777,
            ttl: 64,
            ..params(PEER)
        },
    )
    .unwrap();
    let view = Ipv4Datagram::parse(&bytes).unwrap();
    assert_eq!(
        (
            view.vrid(),
            view.version(),
            view.src(),
            view.dst(),
            view.ttl()
        ),
        (51, 2, SRC, PEER, 64)
    );
    assert!(view.ah().is_none());
    let got = decode(&bytes).unwrap();
    assert_eq!((got.src, got.dst), (IpAddr::V4(SRC), IpAddr::V4(PEER)));
    assert_eq!(
        (got.ttl_or_hop_limit, got.ip_id, got.ah),
        (64, Some(777), None)
    );
    assert!(!got.is_multicast());
    assert!(got.ttl_acceptable(true));
    assert!(!got.ttl_acceptable(false));

    bytes = v3();
    let got = decode(&bytes).unwrap();
    assert!(got.is_multicast());
    assert!(got.ttl_acceptable(false));
}

// ----------------------------------------------------------------------------- AH

#[test]
fn ah_adverts_decode_and_authenticate() {
    for dst in [VRRP_MCAST_V4, PEER] {
        let packet = ah_packet(dst);
        let got = decode(&packet).unwrap();
        assert_eq!(got.advert, ah_advert());
        let ah = got.ah.unwrap();
        assert_eq!(
            (ah.next_header, ah.payload_len, ah.spi, ah.sequence),
            (112, 4, u32::from(SRC), 7)
        );
        let view = Ipv4Datagram::parse(&packet).unwrap();
        let unicast = dst == PEER;
        assert_eq!(view.verify_ah(&KEY, unicast), Ok(()));
        assert_eq!(view.verify_ah(b"kadpass2", unicast), Err(AhError::Icv));
    }
}

#[test]
fn ah_covers_the_ttl_for_multicast_only() {
    for (dst, unicast) in [(VRRP_MCAST_V4, false), (PEER, true)] {
        let mut changed = ah_packet(dst);
        changed[1] = 0x00; // TOS is always mutable
        changed[8] = 1; // TTL
        let result = Ipv4Datagram::parse(&changed)
            .unwrap()
            .verify_ah(&KEY, unicast);
        assert_eq!(result.is_ok(), unicast, "dst {dst}");
    }
}

#[test]
fn ah_detects_changes_to_covered_fields() {
    let packet = ah_packet(VRRP_MCAST_V4);
    for at in [12, 20 + 8, 20 + 24 + 2, 20 + 24 + 8] {
        let mut changed = packet.clone();
        changed[at] ^= 0x01;
        let view = Ipv4Datagram::parse(&changed).unwrap();
        assert_eq!(view.verify_ah(&KEY, false), Err(AhError::Icv), "byte {at}");
    }
}

#[test]
fn ah_verification_needs_an_ah_header() {
    let plain = v2();
    assert_eq!(
        Ipv4Datagram::parse(&plain).unwrap().verify_ah(&KEY, false),
        Err(AhError::Missing)
    );
}

// ----------------------------------------------------------------------------- IPv6

#[test]
fn ipv6_rejections() {
    let good = v3_ipv6();
    assert_eq!(decode6(&good).unwrap().checksum, ChecksumForm::Kernel);

    let err = decode6(&good[..7]).unwrap_err();
    assert_eq!(
        err,
        DecodeError::TooShort {
            ipv6: true,
            ah: false,
            len: 7
        }
    );
    assert_eq!(err.counter(), None);

    let err = decode6(&good[..20]).unwrap_err();
    assert!(
        matches!(
            err,
            DecodeError::Length {
                len: 20,
                expected: 24,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(err.counter(), Some("packet_len_err"));
    assert_eq!(err.info().unwrap().src, IpAddr::V6(SRC6));

    let mut padded = good.clone();
    padded.resize(24 + 14, 0);
    assert_eq!(decode6(&padded).unwrap(), decode6(&good).unwrap());

    for version in [2u8, 4] {
        let mut other = good.clone();
        other[0] = (version << 4) | 1;
        let err = decode6(&other).unwrap_err();
        assert!(matches!(err, DecodeError::Version { .. }), "{err:?}");
        assert_eq!(err.version(), Some(version));
    }

    let mut other = good.clone();
    other[0] = 0x32;
    assert_eq!(
        decode6(&other).unwrap_err().counter(),
        Some("invalid_type_rcvd")
    );
}

#[test]
fn ipv6_reports_the_hop_limit() {
    let got = decode_ipv6(&v3_ipv6(), SRC6, "fe80::2".parse().unwrap(), 64).unwrap();
    assert_eq!((got.ttl_or_hop_limit, got.ip_id), (64, None));
    assert!(!got.is_multicast());
    assert!(!got.ttl_acceptable(false));
    assert!(got.ttl_acceptable(true));
}

// ----------------------------------------------------------------------------- encode

#[test]
fn encode_refuses_what_the_wire_cannot_carry() {
    let mcast = params(VRRP_MCAST_V4);
    let cases: Vec<(Advert, EncodeError)> = vec![
        (advert(1, &["192.0.2.1"]), EncodeError::Version(1)),
        (advert(4, &["192.0.2.1"]), EncodeError::Version(4)),
        (
            advert(3, &["2001:db8::1"]),
            EncodeError::AddressFamily("2001:db8::1".parse().unwrap()),
        ),
        (
            Advert {
                interval_cs: 150,
                ..advert(2, &[])
            },
            EncodeError::Interval {
                version: 2,
                interval_cs: 150,
            },
        ),
        (
            Advert {
                interval_cs: 25600,
                ..advert(2, &[])
            },
            EncodeError::Interval {
                version: 2,
                interval_cs: 25600,
            },
        ),
        (
            Advert {
                interval_cs: 4096,
                ..advert(3, &[])
            },
            EncodeError::Interval {
                version: 3,
                interval_cs: 4096,
            },
        ),
        (
            Advert {
                auth: AuthData::Pass(KEY),
                ..advert(3, &[])
            },
            EncodeError::AuthInV3,
        ),
        (ah_advert(), EncodeError::AhParams),
    ];
    for (a, want) in cases {
        assert_eq!(encode_ipv4(&a, &mcast), Err(want.clone()), "{a:?}");
    }
    let with_ah = Ipv4Params {
        ah: Some(AhParams {
            key: KEY,
            sequence: 1,
        }),
        ..mcast
    };
    assert_eq!(
        encode_ipv4(&advert(2, &[]), &with_ah),
        Err(EncodeError::AhParams)
    );

    let many: Vec<String> = (0..256)
        .map(|i| format!("198.51.100.{}", i % 256))
        .collect();
    let many: Vec<&str> = many.iter().map(String::as_str).collect();
    assert_eq!(
        encode_ipv4(&advert(3, &many), &mcast),
        Err(EncodeError::TooManyAddresses(256))
    );
    assert!(encode_ipv4(&advert(3, &many[..255]), &mcast).is_ok());

    assert_eq!(
        encode_ipv6(&advert(2, &["2001:db8::1"])),
        Err(EncodeError::V2OverIpv6)
    );
    assert_eq!(
        encode_ipv6(&advert(3, &["192.0.2.1"])),
        Err(EncodeError::AddressFamily("192.0.2.1".parse().unwrap()))
    );
}

#[test]
fn encode_limits_are_inclusive() {
    let mcast = params(VRRP_MCAST_V4);
    let slow_v2 = Advert {
        interval_cs: 25500,
        ..advert(2, &[])
    };
    assert_eq!(
        decode(&encode_ipv4(&slow_v2, &mcast).unwrap())
            .unwrap()
            .advert,
        slow_v2
    );
    let slow_v3 = Advert {
        interval_cs: 4095,
        ..advert(3, &[])
    };
    assert_eq!(
        decode(&encode_ipv4(&slow_v3, &mcast).unwrap())
            .unwrap()
            .advert,
        slow_v3
    );
}
