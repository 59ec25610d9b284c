//! Value grammars shared by all keywords: keepalived's number readers (with their exact
//! error texts, which operators grep for), decimal-second timers, booleans and addresses.
//!
//! keepalived reads numbers with strtoul/strtol and then range-checks them; the messages
//! below reproduce what `-t` prints for each failure so that a kad diagnostic contains
//! keepalived's text.

use crate::config::diag::ErrClass;
use crate::config::model::Prefix;
use nom::character::complete::{char, digit1, hex_digit1, oct_digit0};
use nom::combinator::{all_consuming, opt};
use nom::sequence::preceded;
use nom::{IResult, Parser};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr};

/// A problem found while reading a value: keepalived's class and message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ValueError {
    pub class: ErrClass,
    pub message: String,
}

impl ValueError {
    fn number(message: String) -> Self {
        ValueError { class: ErrClass::InvalidNumber, message }
    }
}

const WHITE_SPACE: &[char] = &[' ', '\t', '\n', '\r', '\x0b', '\x0c'];

/// strtoul/strtol's view of a decimal string: optional sign, digits, and whatever follows.
struct Scanned<'a> {
    negative: bool,
    /// `None` when the digits overflow u128 (strtoul's ERANGE).
    magnitude: Option<u128>,
    rest: &'a str,
}

/// `s` without the leading white space strtoul skips (every number read goes through
/// here: a byte test is much cheaper than a search for any of several chars).
fn skip_white(s: &str) -> &str {
    let start = s.bytes().position(|b| !matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)).unwrap_or(s.len());
    &s[start..]
}

/// Scan like strtoul(s, &end, 10): leading white space, an optional sign, the digits; no
/// digits at all means nothing was consumed (the whole string is the rest).
fn scan_decimal(s: &str) -> Scanned<'_> {
    let trimmed = skip_white(s);
    let (negative, unsigned) = match trimmed.as_bytes().first() {
        Some(b'-') => (true, &trimmed[1..]),
        Some(b'+') => (false, &trimmed[1..]),
        _ => (false, trimmed),
    };
    let count = unsigned.bytes().take_while(u8::is_ascii_digit).count();
    if count == 0 {
        return Scanned { negative: false, magnitude: Some(0), rest: s };
    }
    let (digits, rest) = unsigned.split_at(count);
    Scanned { negative, magnitude: digits.parse::<u128>().ok(), rest }
}

/// keepalived's read_unsigned (base 10): the value or the error it reports.
pub(crate) fn read_unsigned(s: &str, min: u32, max: u32) -> Result<u32, ValueError> {
    read_unsigned_u64(s, u64::from(min), u64::from(max), u64::from(u32::MAX), "unsigned integer range")
        .map(|v| v as u32)
}

/// keepalived's read_unsigned64.
pub(crate) fn read_u64(s: &str, min: u64, max: u64) -> Result<u64, ValueError> {
    read_unsigned_u64(s, min, max, u64::MAX, "unsigned 64 bit range")
}

fn read_unsigned_u64(s: &str, min: u64, max: u64, type_max: u64, range_name: &str) -> Result<u64, ValueError> {
    // Nearly every number in a configuration is a few plain digits (19 cannot overflow):
    // no sign or white space to look for.
    let plain = (1..=19).contains(&s.len()) && s.bytes().all(|c| c.is_ascii_digit());
    let magnitude = if plain {
        Some(u128::from(s.bytes().fold(0u64, |v, c| v * 10 + u64::from(c - b'0'))))
    } else {
        let scanned = scan_decimal(s);
        if skip_white(s).starts_with('-') {
            return Err(ValueError::number(format!("negative number '{s}'")));
        }
        if !scanned.rest.is_empty() {
            return Err(ValueError::number(format!("invalid number '{s}'")));
        }
        scanned.magnitude
    };
    let value = match magnitude {
        Some(v) if v <= u128::from(type_max) => v as u64,
        _ => return Err(ValueError::number(format!("number '{s}' outside {range_name}"))),
    };
    if value < min || value > max {
        return Err(ValueError::number(format!("number '{s}' outside range [{min}, {max}]")));
    }
    Ok(value)
}

/// keepalived's read_int (base 10).
pub(crate) fn read_int(s: &str, min: i32, max: i32) -> Result<i32, ValueError> {
    let scanned = scan_decimal(s);
    if !scanned.rest.is_empty() {
        return Err(ValueError::number(format!("invalid number '{s}'")));
    }
    let value = scanned
        .magnitude
        .and_then(|m| i128::try_from(m).ok())
        .map(|m| if scanned.negative { -m } else { m })
        .filter(|v| *v >= i128::from(i32::MIN) && *v <= i128::from(i32::MAX));
    let Some(value) = value else {
        return Err(ValueError::number(format!("number '{s}' outside integer range")));
    };
    if value < i128::from(min) || value > i128::from(max) {
        return Err(ValueError::number(format!("number '{s}' outside range [{min}, {max}]")));
    }
    Ok(value as i32)
}

/// A decimal read with `shift` fractional digits, as keepalived's
/// read_decimal_unsigned_long_func does it: the value is scaled by 10^shift. Too many
/// decimals is reported but the rounded value is still used.
pub(crate) struct Decimal {
    pub value: Option<u64>,
    pub errors: Vec<ValueError>,
}

pub(crate) fn read_decimal(s: &str, min: u64, max: u64, shift: u32) -> Decimal {
    let mut errors = Vec::new();
    if s.starts_with('-') {
        errors.push(ValueError::number(format!("negative number '{s}'")));
        return Decimal { value: None, errors };
    }
    let (int_part, frac_part) = match s.find('.') {
        Some(dot) => (&s[..dot], &s[dot + 1..]),
        None => (s, ""),
    };
    let mut round_up = false;
    let mut frac = frac_part;
    if frac.len() > shift as usize {
        errors.push(ValueError::number(format!("number '{s}' has too many decimal places")));
        round_up = frac.as_bytes().get(shift as usize).is_some_and(|b| *b >= b'5');
        frac = frac.get(..shift as usize).unwrap_or(frac);
    }
    let mut digits = String::with_capacity(int_part.len() + shift as usize);
    digits.push_str(int_part);
    digits.push_str(frac);
    digits.extend(std::iter::repeat_n('0', (shift as usize).saturating_sub(frac.len())));
    let scanned = scan_decimal(&digits);
    if !scanned.rest.is_empty() {
        errors.push(ValueError::number(format!("invalid number '{s}'")));
        return Decimal { value: None, errors };
    }
    let magnitude = match scanned.magnitude {
        Some(m) if !scanned.negative && m < u128::from(u64::MAX) => m as u64 + u64::from(round_up),
        _ => {
            errors.push(ValueError::number(format!("number '{s}' outside unsigned decimal range")));
            return Decimal { value: None, errors };
        }
    };
    if magnitude < min || magnitude > max {
        let unit = 10u64.pow(shift);
        let w = shift as usize;
        errors.push(ValueError::number(format!(
            "number '{s}' outside range [{}.{:0w$}, {}.{:0w$}]",
            min / unit,
            min % unit,
            max / unit,
            max % unit
        )));
        return Decimal { value: None, errors };
    }
    Decimal { value: Some(magnitude), errors }
}

/// `on`/`true`/`yes` or `off`/`false`/`no`, lower case only.
pub(crate) fn check_true_false(s: &str) -> Option<bool> {
    match s {
        "true" | "on" | "yes" => Some(true),
        "false" | "off" | "no" => Some(false),
        _ => None,
    }
}

/// strtoul with base 0 (`0x` hex, leading `0` octal, else decimal): value and rest.
pub(crate) fn strtoul0(s: &str) -> Option<(u64, &str)> {
    fn hex(i: &str) -> IResult<&str, &str> {
        preceded(nom::branch::alt((nom::bytes::complete::tag("0x"), nom::bytes::complete::tag("0X"))), hex_digit1)
            .parse(i)
    }
    fn oct(i: &str) -> IResult<&str, &str> {
        preceded(char('0'), oct_digit0).parse(i)
    }
    let t = s.trim_start_matches(WHITE_SPACE);
    let t = t.strip_prefix('+').unwrap_or(t);
    if let Ok((rest, digits)) = hex(t) {
        return u64::from_str_radix(digits, 16).ok().map(|v| (v, rest));
    }
    if let Ok((rest, digits)) = oct(t) {
        let digits = if digits.is_empty() { "0" } else { digits };
        return u64::from_str_radix(digits, 8).ok().map(|v| (v, rest));
    }
    let (rest, digits): (&str, &str) = digit1::<&str, nom::error::Error<&str>>(t).ok()?;
    digits.parse::<u64>().ok().map(|v| (v, rest))
}

/// A whole string read by strtoul base 0 with nothing left over and no sign.
pub(crate) fn parse_number_any_base(s: &str) -> Option<u64> {
    if s.trim_start_matches(WHITE_SPACE).starts_with('-') {
        return None;
    }
    match strtoul0(s) {
        Some((v, "")) => Some(v),
        _ => None,
    }
}

/// inet_pton with the family chosen as keepalived chooses it: a ':' means IPv6.
pub(crate) fn parse_ip(s: &str) -> Option<IpAddr> {
    if s.contains(':') {
        parse_ipv6(s).map(IpAddr::V6)
    } else {
        parse_ipv4_strict(s).map(IpAddr::V4)
    }
}

/// inet_pton(AF_INET): exactly four decimal parts of one to three digits, each 0..255.
fn parse_ipv4_strict(s: &str) -> Option<Ipv4Addr> {
    let mut octets = [0u8; 4];
    let mut parts = s.split('.');
    for octet in &mut octets {
        let part = parts.next()?;
        if part.is_empty() || part.len() > 3 || !part.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        *octet = part.bytes().fold(0u16, |v, b| v * 10 + u16::from(b - b'0')).try_into().ok()?;
    }
    match parts.next() {
        Some(_) => None,
        None => Some(Ipv4Addr::from(octets)),
    }
}

/// IPv6 text exactly as std's `Ipv6Addr::from_str` reads it (a differential test holds
/// the two together) without its per-character closures, which made IPv6 addresses the
/// most expensive words of a large configuration: 1 to 8 groups of 1 to 4 hex digits,
/// one `::` standing for at least one zero group, and an IPv4 address (std's rules: no
/// leading zeros) in place of the last two groups.
fn parse_ipv6(s: &str) -> Option<Ipv6Addr> {
    let b = s.as_bytes();
    let mut pos = 0;
    let mut head = [0u16; 8];
    let (head_len, head_ends_in_ipv4) = ipv6_groups(b, &mut pos, &mut head);
    if head_len == 8 {
        return (pos == b.len()).then(|| Ipv6Addr::from(head));
    }
    if head_ends_in_ipv4 || b.get(pos..pos + 2) != Some(b"::") {
        return None;
    }
    pos += 2;
    let mut tail = [0u16; 7];
    let tail_room = 7 - head_len;
    let (tail_len, _) = ipv6_groups(b, &mut pos, &mut tail[..tail_room]);
    if pos != b.len() {
        return None;
    }
    head[8 - tail_len..].copy_from_slice(&tail[..tail_len]);
    Some(Ipv6Addr::from(head))
}

/// Up to `groups.len()` `:`-separated groups from `*pos`, the last two possibly an IPv4
/// address: how many were read, and whether IPv4 ended them. `*pos` stays after the last
/// group read.
fn ipv6_groups(b: &[u8], pos: &mut usize, groups: &mut [u16]) -> (usize, bool) {
    let room = groups.len();
    for i in 0..room {
        let start = match i {
            0 => *pos,
            _ if b.get(*pos) == Some(&b':') => *pos + 1,
            _ => return (i, false),
        };
        // One pass reads the hex digits and notes whether they could begin an IPv4 address.
        let mut end = start;
        let mut value = 0u32;
        let mut decimal = true;
        while let Some(&c) = b.get(end) {
            let digit = match c {
                b'0'..=b'9' => c - b'0',
                b'a'..=b'f' => c - b'a' + 10,
                b'A'..=b'F' => c - b'A' + 10,
                _ => break,
            };
            decimal &= digit < 10;
            value = (value << 4) | u32::from(digit);
            end += 1;
        }
        let digits = end - start;
        if decimal && i + 1 < room && b.get(end) == Some(&b'.') {
            if let Some((v4, v4_end)) = ipv4_in_ipv6(b, start) {
                let [o1, o2, o3, o4] = v4.octets();
                groups[i] = u16::from_be_bytes([o1, o2]);
                groups[i + 1] = u16::from_be_bytes([o3, o4]);
                *pos = v4_end;
                return (i + 2, true);
            }
        }
        if digits == 0 || digits > 4 {
            return (i, false);
        }
        groups[i] = value as u16;
        *pos = end;
    }
    (room, false)
}

/// An IPv4 address starting at `start`, std's way (1 to 3 digits, at most 255, no leading
/// zero), and where it ends.
fn ipv4_in_ipv6(b: &[u8], start: usize) -> Option<(Ipv4Addr, usize)> {
    let mut octets = [0u8; 4];
    let mut pos = start;
    for (n, octet) in octets.iter_mut().enumerate() {
        if n > 0 {
            if b.get(pos) != Some(&b'.') {
                return None;
            }
            pos += 1;
        }
        let digits = b.get(pos..).unwrap_or_default().iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 || digits > 3 || (digits > 1 && b[pos] == b'0') {
            return None;
        }
        *octet = b[pos..pos + digits].iter().fold(0u16, |v, c| v * 10 + u16::from(c - b'0')).try_into().ok()?;
        pos += digits;
    }
    Some((Ipv4Addr::from(octets), pos))
}

/// keepalived's parse_ipaddress: `ADDR[/LEN]`. A bad prefix length is reported and the
/// host length used; a bad address is an error.
pub(crate) fn parse_ipaddress(s: &str, allow_subnet: bool, errors: &mut Vec<ValueError>) -> Option<Prefix> {
    let is6 = s.bytes().any(|c| c == b':');
    let host_len: u8 = if is6 { 128 } else { 32 };
    let (addr_str, len) = match s.bytes().position(|c| c == b'/').filter(|_| allow_subnet) {
        Some(slash) => {
            let len_str = &s[slash + 1..];
            let len = match read_unsigned(len_str, 0, u32::from(host_len)) {
                Ok(l) => l as u8,
                Err(e) => {
                    errors.push(e);
                    errors.push(ValueError {
                        class: ErrClass::GeneralError,
                        message: format!("Invalid address prefix len {len_str} for address {s} - using {host_len}"),
                    });
                    host_len
                }
            };
            (&s[..slash], len)
        }
        None => (s, host_len),
    };
    let addr = if is6 {
        parse_ipv6(addr_str).map(IpAddr::V6)
    } else {
        parse_ipv4_strict(addr_str).map(IpAddr::V4)
    };
    match addr {
        Some(addr) => Some(Prefix { addr, len }),
        None => {
            errors.push(ValueError {
                class: ErrClass::GeneralError,
                message: format!("VRRP parsed invalid IP {s}. skipping IP..."),
            });
            None
        }
    }
}

/// `ADDR` or `ADDR/LEN` for a route destination or rule selector, with keepalived's
/// specials: `default`/`any`/`all` are /0 of a family decided later (None), `default6`
/// the IPv6 default.
pub(crate) enum RouteDest {
    AnyFamilyDefault,
    Prefix(Prefix),
}

pub(crate) fn parse_route_dest(s: &str, errors: &mut Vec<ValueError>) -> Option<RouteDest> {
    match s {
        "default" | "any" | "all" => Some(RouteDest::AnyFamilyDefault),
        "default6" => {
            errors.push(ValueError {
                class: ErrClass::Ok,
                message: "'default6' is deprecated - please replace with 'inet6 default'".into(),
            });
            Some(RouteDest::Prefix(Prefix { addr: IpAddr::V6(Ipv6Addr::UNSPECIFIED), len: 0 }))
        }
        _ => parse_ipaddress(s, true, errors).map(RouteDest::Prefix),
    }
}

/// A MAC address as `use_vmac` accepts it: six octets, or five (the VRID is appended).
pub(crate) enum MacSpec {
    Full([u8; 6]),
    UseVrid([u8; 5]),
}

pub(crate) fn parse_mac(s: &str) -> Option<MacSpec> {
    fn octet(i: &str) -> IResult<&str, &str> {
        hex_digit1(i)
    }
    let parts: Vec<&str> = s.trim_end_matches(':').split(':').collect();
    if !(parts.len() == 5 || parts.len() == 6) {
        return None;
    }
    let mut bytes = [0u8; 6];
    for (i, p) in parts.iter().enumerate() {
        let (rest, oct) = octet(p).ok()?;
        if !rest.is_empty() || oct.len() > 2 {
            return None;
        }
        bytes[i] = u8::from_str_radix(oct, 16).ok()?;
    }
    if parts.len() == 6 && !s.ends_with(':') {
        Some(MacSpec::Full(bytes))
    } else if parts.len() == 5 {
        Some(MacSpec::UseVrid([bytes[0], bytes[1], bytes[2], bytes[3], bytes[4]]))
    } else {
        None
    }
}

/// `A-B` (uidrange) with both ends present.
pub(crate) fn parse_range_u32(s: &str) -> Option<(u32, u32)> {
    fn range(i: &str) -> IResult<&str, (&str, &str)> {
        all_consuming((digit1, preceded(char('-'), digit1))).parse(i)
    }
    let (_, (a, b)) = range(s).ok()?;
    Some((a.parse().ok()?, b.parse().ok()?))
}

/// `P` or `A-B` (sport/dport).
pub(crate) fn parse_port_range(s: &str) -> Option<(u16, u16)> {
    fn range(i: &str) -> IResult<&str, (&str, Option<&str>)> {
        (digit1, opt(preceded(char('-'), digit1))).parse(i)
    }
    let (_, (a, b)) = range(s).ok()?;
    let start: u16 = a.parse().ok()?;
    let end: u16 = match b {
        Some(b) => b.parse().ok()?,
        None => start,
    };
    Some((start, end))
}

/// Seconds as a whole number or with up to `shift` decimals, converted to a Duration.
pub(crate) fn micros(value: u64) -> std::time::Duration {
    std::time::Duration::from_micros(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(20_000))]
        #[test]
        fn ipv6_reads_like_std_on_arbitrary_text(s in "[0-9a-fA-F:.g ]{0,42}") {
            proptest::prop_assert_eq!(parse_ipv6(&s), s.parse::<Ipv6Addr>().ok());
        }

        #[test]
        fn ipv6_reads_like_std_on_near_addresses(groups in proptest::collection::vec(near_group(), 0..9), gap in proptest::option::weighted(0.8, 0usize..9)) {
            let mut words: Vec<String> = groups;
            if let Some(at) = gap {
                words.insert(at.min(words.len()), String::new());
            }
            let s = words.join(":");
            proptest::prop_assert_eq!(parse_ipv6(&s), s.parse::<Ipv6Addr>().ok(), "{}", s);
        }
    }

    /// Mostly valid groups, some too long or empty, some IPv4 addresses good and bad.
    fn near_group() -> impl proptest::strategy::Strategy<Value = String> {
        proptest::prop_oneof![
            20 => "[0-9a-fA-F]{1,4}",
            1 => "[0-9a-f]{5}|",
            3 => "(0|[1-9][0-9]{0,2})(\\.(0|[1-9][0-9]{0,2})){3}",
            1 => "[0-9]{1,4}(\\.[0-9]{1,4}){0,4}",
        ]
    }

    #[test]
    fn ipv6_edge_cases_match_std() {
        for s in [
            "::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7::", "::2:3:4:5:6:7:8", "1:2:3:4::5:6:7:8",
            "::ffff:192.0.2.1", "1:2:3:4:5:6:192.0.2.1", "1:2:3:4:5:6:7:192.0.2.1", "192.0.2.1::", "::01.2.3.4",
            "::1.2.3.256", "12345::", "fe80::1%eth0", ":1::", "1:::2", "::1:", "2001:DB8::A", "",
        ] {
            assert_eq!(parse_ipv6(s), s.parse::<Ipv6Addr>().ok(), "{s}");
        }
    }

    #[test]
    fn unsigned_reports_keepalived_range_text() {
        assert_eq!(read_unsigned("42", 1, 255), Ok(42));
        let e = read_unsigned("300", 1, 255).unwrap_err();
        assert_eq!(e.message, "number '300' outside range [1, 255]");
        assert_eq!(e.class, ErrClass::InvalidNumber);
        assert_eq!(read_unsigned("-1", 0, 5).unwrap_err().message, "negative number '-1'");
        assert_eq!(read_unsigned("12ab", 0, 500).unwrap_err().message, "invalid number '12ab'");
        assert_eq!(
            read_unsigned("99999999999", 0, 5).unwrap_err().message,
            "number '99999999999' outside unsigned integer range"
        );
    }

    #[test]
    fn unsigned_accepts_plus_sign_and_quoted_leading_space_like_strtoul() {
        assert_eq!(read_unsigned("+7", 0, 10), Ok(7));
        assert_eq!(read_unsigned("  7", 0, 10), Ok(7));
    }

    #[test]
    fn int_reads_negative_weights() {
        assert_eq!(read_int("-253", -253, 253), Ok(-253));
        assert_eq!(read_int("-254", -253, 253).unwrap_err().message, "number '-254' outside range [-253, 253]");
        assert_eq!(read_int("x", -1, 1).unwrap_err().message, "invalid number 'x'");
    }

    #[test]
    fn decimal_timer_scales_to_microseconds() {
        assert_eq!(read_decimal("1", 0, u64::MAX, 6).value, Some(1_000_000));
        assert_eq!(read_decimal("0.05", 0, u64::MAX, 6).value, Some(50_000));
        assert_eq!(read_decimal(".5", 0, u64::MAX, 6).value, Some(500_000));
        assert_eq!(read_decimal("2.", 0, u64::MAX, 6).value, Some(2_000_000));
    }

    #[test]
    fn decimal_with_too_many_places_is_reported_but_rounded_and_used() {
        let d = read_decimal("1.0000005", 0, u64::MAX, 6);
        assert_eq!(d.value, Some(1_000_001));
        assert_eq!(d.errors[0].message, "number '1.0000005' has too many decimal places");
    }

    #[test]
    fn decimal_out_of_range_prints_range_with_decimals() {
        let d = read_decimal("300", 10_000, 255_000_000, 6);
        assert_eq!(d.value, None);
        assert_eq!(d.errors[0].message, "number '300' outside range [0.010000, 255.000000]");
    }

    #[test]
    fn decimal_with_multibyte_fraction_is_invalid_not_a_panic() {
        assert_eq!(read_decimal("1.éééééé", 0, u64::MAX, 6).value, None);
        assert_eq!(read_decimal("1.é", 0, u64::MAX, 6).value, None);
    }

    #[test]
    fn decimal_rejects_garbage_and_negatives() {
        assert_eq!(read_decimal("1.2.3", 0, u64::MAX, 6).value, None);
        assert_eq!(read_decimal("-1", 0, u64::MAX, 6).errors[0].message, "negative number '-1'");
    }

    #[test]
    fn booleans_are_lowercase_only() {
        assert_eq!(check_true_false("yes"), Some(true));
        assert_eq!(check_true_false("off"), Some(false));
        assert_eq!(check_true_false("True"), None);
    }

    #[test]
    fn any_base_numbers_follow_strtoul_base_zero() {
        assert_eq!(parse_number_any_base("0x10"), Some(16));
        assert_eq!(parse_number_any_base("010"), Some(8));
        assert_eq!(parse_number_any_base("10"), Some(10));
        assert_eq!(parse_number_any_base("0"), Some(0));
        assert_eq!(parse_number_any_base("-1"), None);
        assert_eq!(parse_number_any_base("1x"), None);
    }

    #[test]
    fn ipv4_needs_four_decimal_parts() {
        assert!(parse_ip("192.0.2.1").is_some());
        assert!(parse_ip("192.0.2").is_none());
        assert!(parse_ip("192.0.2.256").is_none());
        assert!(parse_ip("2001:db8::1").is_some());
    }

    #[test]
    fn prefix_length_error_falls_back_to_host_length() {
        let mut errs = Vec::new();
        let p = parse_ipaddress("192.0.2.1/33", true, &mut errs).unwrap();
        assert_eq!(p.len, 32);
        assert!(errs.iter().any(|e| e.message.contains("Invalid address prefix len 33 for address 192.0.2.1/33 - using 32")));
        assert!(parse_ipaddress("300.1.1.1", true, &mut errs).is_none());
    }

    #[test]
    fn mac_with_five_octets_takes_the_vrid() {
        assert!(matches!(parse_mac("02:00:5e:00:01"), Some(MacSpec::UseVrid(_))));
        assert!(matches!(parse_mac("02:00:5e:00:01:"), Some(MacSpec::UseVrid(_))));
        assert!(matches!(parse_mac("02:00:5e:00:01:09"), Some(MacSpec::Full([2, 0, 0x5e, 0, 1, 9]))));
        assert!(parse_mac("02:00:5e").is_none());
        assert!(parse_mac("02:00:5e:00:01:zz").is_none());
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range_u32("100-200"), Some((100, 200)));
        assert_eq!(parse_range_u32("100"), None);
        assert_eq!(parse_port_range("80"), Some((80, 80)));
        assert_eq!(parse_port_range("80-90"), Some((80, 90)));
    }
}
