//! Golden vectors: packets sent by real keepalived (2.2.7), captured with tcpdump.
//!
//! Every VRRP packet in tests/data/*.pcap must decode to the fields tcpdump printed for it
//! (the .txt beside each capture: an independent dissector), and encoding those fields must
//! reproduce the captured bytes exactly, IP header included.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};
use std::path::{Path, PathBuf};

use kad_packet::{
    decode_ipv4, decode_ipv6, encode_ipv4, encode_ipv6, encode_ipv6_with_checksum, Advert, AhError,
    AhParams, AuthData, ChecksumForm, DecodeError, DecodeOptions, Ipv4Datagram, Ipv4Params,
    V3Checksum, VRRP_MCAST_V4,
};

// ---------------------------------------------------------------------------------------------
// A tiny capture reader: pcapng (section header, interface description, enhanced and simple
// packet blocks) and classic pcap, Ethernet link type only.

const LINKTYPE_ETHERNET: u16 = 1;

fn read_capture(path: &Path) -> Vec<Vec<u8>> {
    let data = std::fs::read(path).unwrap();
    match data[..4] {
        [0x0a, 0x0d, 0x0d, 0x0a] => read_pcapng(&data),
        [0xd4, 0xc3, 0xb2, 0xa1] | [0x4d, 0x3c, 0xb2, 0xa1] => read_pcap(&data),
        _ => panic!("{}: not a pcap or pcapng file", path.display()),
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    u32::from_le_bytes(b[at..at + 4].try_into().unwrap())
}

fn read_pcapng(data: &[u8]) -> Vec<Vec<u8>> {
    let mut frames = Vec::new();
    let mut at = 0;
    while at < data.len() {
        let block_type = le_u32(data, at);
        let total = le_u32(data, at + 4) as usize;
        let block = &data[at..at + total];
        match block_type {
            0x0a0d0d0a => assert_eq!(le_u32(block, 8), 0x1a2b3c4d, "only little-endian sections"),
            1 => assert_eq!(u16::from_le_bytes([block[8], block[9]]), LINKTYPE_ETHERNET),
            6 => {
                let captured = le_u32(block, 20) as usize;
                assert_eq!(captured, le_u32(block, 24) as usize, "truncated capture");
                frames.push(block[28..28 + captured].to_vec());
            }
            3 => {
                let original = le_u32(block, 8) as usize;
                frames.push(block[12..12 + original].to_vec());
            }
            _ => {}
        }
        at += total;
    }
    frames
}

fn read_pcap(data: &[u8]) -> Vec<Vec<u8>> {
    assert_eq!(le_u32(data, 20) as u16, LINKTYPE_ETHERNET);
    let mut frames = Vec::new();
    let mut at = 24;
    while at < data.len() {
        let captured = le_u32(data, at + 8) as usize;
        assert_eq!(
            captured,
            le_u32(data, at + 12) as usize,
            "truncated capture"
        );
        frames.push(data[at + 16..at + 16 + captured].to_vec());
        at += 16 + captured;
    }
    frames
}

enum Frame<'a> {
    Ipv4(&'a [u8]),
    Ipv6 {
        src: Ipv6Addr,
        dst: Ipv6Addr,
        hop_limit: u8,
        payload: &'a [u8],
    },
    Other,
}

fn classify(frame: &[u8]) -> Frame<'_> {
    match u16::from_be_bytes([frame[12], frame[13]]) {
        0x0800 if [112, 51].contains(&frame[14 + 9]) => Frame::Ipv4(&frame[14..]),
        0x86dd if frame[14 + 6] == 112 => {
            let ip = &frame[14..];
            let payload_len = usize::from(u16::from_be_bytes([ip[4], ip[5]]));
            let addr = |at: usize| Ipv6Addr::from(<[u8; 16]>::try_from(&ip[at..at + 16]).unwrap());
            Frame::Ipv6 {
                src: addr(8),
                dst: addr(24),
                hop_limit: ip[7],
                payload: &ip[40..40 + payload_len],
            }
        }
        _ => Frame::Other,
    }
}

// ---------------------------------------------------------------------------------------------
// What tcpdump -v printed for each VRRP packet.

#[derive(Debug)]
struct Printed {
    advert: Advert,
    src: IpAddr,
    dst: IpAddr,
    ttl_or_hop_limit: u8,
    ip_id: Option<u16>,
    /// spi, sequence and ICV of an AH header.
    ah: Option<(u32, u32, [u8; 12])>,
    /// tcpdump checks the RFC 5798 pseudo-header form and flags anything else.
    bad_v3_checksum: bool,
}

fn word_after<'a>(line: &'a str, key: &str) -> &'a str {
    let start = line
        .find(key)
        .unwrap_or_else(|| panic!("no {key:?} in {line}"))
        + key.len();
    line[start..].split([',', ' ', ')']).next().unwrap()
}

fn hex_word(word: &str) -> u32 {
    u32::from_str_radix(word.trim_start_matches("0x"), 16).unwrap()
}

fn parse_printed(line: &str) -> Printed {
    let version: u8 = word_after(line, "VRRPv").parse().unwrap();
    let interval = word_after(line, "intvl ");
    let interval_cs = match interval.strip_suffix("cs") {
        Some(cs) => cs.parse().unwrap(),
        None => interval.strip_suffix('s').unwrap().parse::<u16>().unwrap() * 100,
    };
    let auth = match line
        .find("authtype ")
        .map(|_| word_after(line, "authtype "))
    {
        None | Some("none") => AuthData::None,
        Some("simple") => {
            let quoted = line.split('"').nth(1).unwrap().as_bytes();
            let mut password = [0u8; 8];
            password[..quoted.len()].copy_from_slice(quoted);
            AuthData::Pass(password)
        }
        Some("ah") => AuthData::Ah,
        Some(other) => panic!("unexpected authtype {other}"),
    };
    let addr_list = line
        .split_once("addrs")
        .unwrap()
        .1
        .split_once(": ")
        .unwrap()
        .1;
    let addrs = addr_list
        .split(" auth")
        .next()
        .unwrap()
        .split(',')
        .map(|a| a.trim().parse().unwrap())
        .collect();
    // "... SRC > DST: [AH(...): ]VRRPvN, Advertisement, ..."; with -e a MAC pair precedes.
    let payload_start = [": VRRPv", ": AH("]
        .iter()
        .filter_map(|k| line.find(k))
        .min()
        .unwrap();
    let (before, dst) = line[..payload_start].rsplit_once(" > ").unwrap();
    let src = before.rsplit(' ').next().unwrap();
    let ipv6 = line.contains("hlim ");
    assert!(line.contains("Advertisement"));
    let ah = line.contains(": AH(").then(|| {
        let icv = word_after(line, "icv=0x");
        let icv: Vec<u8> = (0..12)
            .map(|i| u8::from_str_radix(&icv[2 * i..2 * i + 2], 16).unwrap())
            .collect();
        (
            hex_word(word_after(line, "spi=")),
            hex_word(word_after(line, "seq=")),
            icv.try_into().unwrap(),
        )
    });
    Printed {
        advert: Advert {
            version,
            vrid: word_after(line, "vrid ").parse().unwrap(),
            priority: word_after(line, "prio ").parse().unwrap(),
            interval_cs,
            auth,
            addrs,
        },
        src: src.parse().unwrap(),
        dst: dst.parse().unwrap(),
        ttl_or_hop_limit: word_after(line, if ipv6 { "hlim " } else { "ttl " })
            .parse()
            .unwrap(),
        ip_id: (!ipv6).then(|| word_after(line, " id ").parse().unwrap()),
        ah,
        bad_v3_checksum: line.contains("bad vrrp cksum"),
    }
}

/// tcpdump -v lines of the VRRP packets in capture order (the IPv4 dissection continues on an
/// indented line).
fn printed_packets(txt: &str) -> Vec<Printed> {
    let is_timestamped =
        |l: &str| l.len() > 9 && l.as_bytes()[2] == b':' && l.as_bytes()[5] == b':';
    let mut records: Vec<String> = Vec::new();
    for line in txt.lines().take_while(|l| !l.starts_with("Frame 1:")) {
        if is_timestamped(line) {
            records.push(line.to_string());
        } else if line.starts_with("    ") {
            if let Some(last) = records.last_mut() {
                last.push_str(line);
            }
        }
    }
    records
        .iter()
        .filter(|r| r.contains("VRRPv"))
        .map(|r| parse_printed(r))
        .collect()
}

fn captures() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data");
    let mut pcaps: Vec<PathBuf> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "pcap"))
        .collect();
    pcaps.sort();
    pcaps
}

/// The `auth_pass` of the AH captures (capture-extra.sh).
const AH_KEY: [u8; 8] = *b"kadpass1";

fn check_ipv4(name: &str, datagram: &[u8], want: &Printed) {
    let got =
        decode_ipv4(datagram, &DecodeOptions::default()).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(got.advert, want.advert, "{name}");
    assert_eq!((got.src, got.dst), (want.src, want.dst), "{name}");
    assert_eq!(got.ttl_or_hop_limit, want.ttl_or_hop_limit, "{name}");
    assert_eq!(got.ip_id, want.ip_id, "{name}");
    let got_ah = got.ah.map(|h| {
        assert_eq!((h.next_header, h.payload_len), (112, 4), "{name}");
        (h.spi, h.sequence, h.icv)
    });
    assert_eq!(got_ah, want.ah, "{name}");
    let (IpAddr::V4(src), IpAddr::V4(dst)) = (got.src, got.dst) else {
        panic!("{name}")
    };
    let old_unicast = V3Checksum::OldUnicast {
        group: VRRP_MCAST_V4,
    };
    let (form, v3_checksum) = match (want.advert.version, want.bad_v3_checksum) {
        (2, _) => (ChecksumForm::V2, V3Checksum::PseudoHeader),
        (_, false) => (ChecksumForm::V3PseudoHeader, V3Checksum::PseudoHeader),
        (_, true) => (ChecksumForm::V3OldUnicast, old_unicast),
    };
    assert_eq!(got.checksum, form, "{name}");
    let params = Ipv4Params {
        src,
        dst,
        ttl: got.ttl_or_hop_limit,
        id: want.ip_id.unwrap(),
        v3_checksum,
        ah: want.ah.map(|(_, sequence, _)| AhParams {
            key: AH_KEY,
            sequence,
        }),
    };
    assert_eq!(
        encode_ipv4(&want.advert, &params).unwrap(),
        datagram,
        "{name}"
    );

    if want.ah.is_some() {
        let view = Ipv4Datagram::parse(datagram).unwrap();
        let unicast = !dst.is_multicast();
        assert_eq!(view.verify_ah(&AH_KEY, unicast), Ok(()), "{name}");
        assert_eq!(
            view.verify_ah(b"kadpass2", unicast),
            Err(AhError::Icv),
            "{name}"
        );
        // The TTL is in the ICV for multicast only, so the other mode's ICV differs.
        assert_eq!(
            view.verify_ah(&AH_KEY, !unicast),
            Err(AhError::Icv),
            "{name}"
        );
    }
}

fn check_ipv6(
    name: &str,
    src: Ipv6Addr,
    dst: Ipv6Addr,
    hop_limit: u8,
    payload: &[u8],
    want: &Printed,
) {
    let got = decode_ipv6(payload, src, dst, hop_limit).unwrap_or_else(|e| panic!("{name}: {e}"));
    assert_eq!(got.advert, want.advert, "{name}");
    assert_eq!((got.src, got.dst), (want.src, want.dst), "{name}");
    assert_eq!(got.ttl_or_hop_limit, want.ttl_or_hop_limit, "{name}");
    assert_eq!(
        (got.ip_id, got.checksum, got.ah),
        (None, ChecksumForm::Kernel, None),
        "{name}"
    );
    assert_eq!(
        encode_ipv6_with_checksum(&want.advert, src, dst).unwrap(),
        payload,
        "{name}"
    );
    let mut unchecksummed = payload.to_vec();
    unchecksummed[6..8].fill(0);
    assert_eq!(encode_ipv6(&want.advert).unwrap(), unchecksummed, "{name}");
}

#[test]
fn every_captured_advert_decodes_and_reencodes_byte_for_byte() {
    let pcaps = captures();
    assert_eq!(pcaps.len(), 14, "the committed golden captures");
    let mut checked = 0;
    for pcap in pcaps {
        let name = pcap.display().to_string();
        let printed =
            printed_packets(&std::fs::read_to_string(pcap.with_extension("txt")).unwrap());
        let frames = read_capture(&pcap);
        let vrrp: Vec<Frame> = frames
            .iter()
            .map(|f| classify(f))
            .filter(|f| !matches!(f, Frame::Other))
            .collect();
        assert_eq!(
            vrrp.len(),
            printed.len(),
            "{name}: VRRP packets vs tcpdump lines"
        );
        assert!(!vrrp.is_empty(), "{name}");
        for (frame, want) in vrrp.iter().zip(&printed) {
            match *frame {
                Frame::Ipv4(datagram) => check_ipv4(&name, datagram, want),
                Frame::Ipv6 {
                    src,
                    dst,
                    hop_limit,
                    payload,
                } => check_ipv6(&name, src, dst, hop_limit, payload, want),
                Frame::Other => unreachable!(),
            }
            checked += 1;
        }
    }
    assert_eq!(checked, 36, "VRRP packets across all captures");
}

#[test]
fn old_unicast_checksum_capture_needs_the_fallback() {
    let pcap = captures()
        .into_iter()
        .find(|p| p.ends_with("vrrpv3-unicast-old-checksum.pcap"))
        .unwrap();
    let frames = read_capture(&pcap);
    let Frame::Ipv4(datagram) = classify(&frames[0]) else {
        panic!("not IPv4")
    };
    let never = DecodeOptions {
        old_unicast_fallback: None,
        ..DecodeOptions::default()
    };
    let err = decode_ipv4(datagram, &never).unwrap_err();
    assert!(matches!(err, DecodeError::Checksum { .. }), "{err:?}");
    assert_eq!(err.counter(), Some("chk_err"));
    // Once switched to the old form, it verifies without probing.
    let locked = DecodeOptions {
        v3_checksum: V3Checksum::OldUnicast {
            group: VRRP_MCAST_V4,
        },
        old_unicast_fallback: None,
    };
    assert_eq!(
        decode_ipv4(datagram, &locked).unwrap().checksum,
        ChecksumForm::V3OldUnicast
    );
}

// ---------------------------------------------------------------------------------------------
// The two captures quoted in keepalived-reference.md §6.1.

fn hex(s: &str) -> Vec<u8> {
    let digits: Vec<u8> = s.bytes().filter(u8::is_ascii_hexdigit).collect();
    digits
        .chunks(2)
        .map(|p| u8::from_str_radix(std::str::from_utf8(p).unwrap(), 16).unwrap())
        .collect()
}

const REF_V3: &str =
    "45c0 0020 0001 0000 ff70 d08c 0a09 0005 e000 0012 312b 6401 0032 75f8 0a09 0003";
const REF_V2: &str =
    "45c0 002c 0001 0000 ff70 d080 0a09 0005 e000 0012 212a c802 0101 c570 0a09 0001 \
                      0a09 0002 7365 6372 6574 0000";

fn ref_params(v3_checksum: V3Checksum) -> Ipv4Params {
    Ipv4Params {
        src: Ipv4Addr::new(10, 9, 0, 5),
        dst: Ipv4Addr::new(224, 0, 0, 18),
        ttl: 255,
        id: 1,
        v3_checksum,
        ah: None,
    }
}

fn ref_v3_advert() -> Advert {
    Advert {
        version: 3,
        vrid: 43,
        priority: 100,
        interval_cs: 50,
        auth: AuthData::None,
        addrs: vec!["10.9.0.3".parse().unwrap()],
    }
}

#[test]
fn reference_v3_capture() {
    let bytes = hex(REF_V3);
    let got = decode_ipv4(&bytes, &DecodeOptions::default()).unwrap();
    assert_eq!(got.advert, ref_v3_advert());
    assert_eq!(got.checksum, ChecksumForm::V3PseudoHeader);
    assert_eq!(
        encode_ipv4(&ref_v3_advert(), &ref_params(V3Checksum::PseudoHeader)).unwrap(),
        bytes
    );
}

#[test]
fn reference_v3_capture_without_pseudo_header() {
    // keepalived-reference §6.1: without the pseudo-header the checksum would be 0x6095.
    let as_v2 = encode_ipv4(&ref_v3_advert(), &ref_params(V3Checksum::AsV2)).unwrap();
    assert_eq!(&as_v2[26..28], &[0x60, 0x95]);
    let mut expected = hex(REF_V3);
    expected[26..28].copy_from_slice(&[0x60, 0x95]);
    assert_eq!(as_v2, expected);

    // A peer expecting the pseudo-header form rejects it; one configured as v2 does not check.
    let strict = decode_ipv4(&as_v2, &DecodeOptions::default()).unwrap_err();
    assert!(
        matches!(
            strict,
            DecodeError::Checksum {
                received: 0x6095,
                ..
            }
        ),
        "{strict:?}"
    );
    let lenient = DecodeOptions {
        v3_checksum: V3Checksum::AsV2,
        ..DecodeOptions::default()
    };
    let got = decode_ipv4(&as_v2, &lenient).unwrap();
    assert_eq!(
        (got.advert, got.checksum),
        (ref_v3_advert(), ChecksumForm::V3Unverified)
    );
}

#[test]
fn reference_v2_capture() {
    let bytes = hex(REF_V2);
    let advert = Advert {
        version: 2,
        vrid: 42,
        priority: 200,
        interval_cs: 100,
        auth: AuthData::Pass(*b"secret\0\0"),
        addrs: vec!["10.9.0.1".parse().unwrap(), "10.9.0.2".parse().unwrap()],
    };
    let got = decode_ipv4(&bytes, &DecodeOptions::default()).unwrap();
    assert_eq!(got.advert, advert);
    assert_eq!(got.checksum, ChecksumForm::V2);
    // The v2 checksum ignores the pseudo-header choice.
    for form in [V3Checksum::PseudoHeader, V3Checksum::AsV2] {
        assert_eq!(encode_ipv4(&advert, &ref_params(form)).unwrap(), bytes);
    }
}
