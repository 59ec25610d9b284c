//! Decode (checksum verification included) and encode throughput on one core.
//! Run with `cargo bench -p kad-packet`; it prints figures and asserts nothing about time.

use std::hint::black_box;
use std::net::{Ipv4Addr, Ipv6Addr};
use std::time::{Duration, Instant};

use kad_packet::{
    decode_ipv4, decode_ipv6, encode_ipv4, encode_ipv6, Advert, AuthData, DecodeOptions,
    Ipv4Params, V3Checksum, VRRP_MCAST_V4, VRRP_MCAST_V6,
};

const ROUNDS: u32 = 5;
const ROUND_TIME: Duration = Duration::from_millis(400);

fn advert(version: u8, addrs: &[&str], auth: AuthData) -> Advert {
    Advert {
        version,
        vrid: 51,
        priority: 150,
        interval_cs: 100,
        auth,
        addrs: addrs.iter().map(|a| a.parse().unwrap()).collect(),
    }
}

/// Runs `op` in batches for about ROUND_TIME per round and reports the best round, the one
/// least disturbed by other processes on the machine.
fn measure(name: &str, mut op: impl FnMut()) {
    const BATCH: u32 = 10_000;
    let mut best = f64::INFINITY;
    for _ in 0..ROUNDS {
        let start = Instant::now();
        let mut done = 0u64;
        while start.elapsed() < ROUND_TIME {
            for _ in 0..BATCH {
                op();
            }
            done += u64::from(BATCH);
        }
        best = best.min(start.elapsed().as_nanos() as f64 / done as f64);
    }
    println!(
        "{name:<44} {best:>7.1} ns/packet {:>12.0} packets/s",
        1e9 / best
    );
}

fn main() {
    let params = Ipv4Params {
        src: Ipv4Addr::new(192, 0, 2, 11),
        dst: VRRP_MCAST_V4,
        ttl: 255,
        id: 1,
        v3_checksum: V3Checksum::PseudoHeader,
        ah: None,
    };
    let v2 = advert(2, &["192.0.2.1"], AuthData::Pass(*b"kadpass1"));
    let v3 = advert(3, &["192.0.2.1"], AuthData::None);
    let v3_many: Vec<String> = (1..=20).map(|i| format!("192.0.2.{i}")).collect();
    let v3_many = advert(
        3,
        &v3_many.iter().map(String::as_str).collect::<Vec<_>>(),
        AuthData::None,
    );
    let v6 = advert(3, &["2001:db8::1"], AuthData::None);
    let src6: Ipv6Addr = "fe80::ff:fe00:11".parse().unwrap();

    let v2_bytes = encode_ipv4(&v2, &params).unwrap();
    let v3_bytes = encode_ipv4(&v3, &params).unwrap();
    let v3_many_bytes = encode_ipv4(&v3_many, &params).unwrap();
    let v6_bytes = encode_ipv6(&v6).unwrap();
    let options = DecodeOptions::default();

    measure("decode v2 IPv4, 1 VIP, PASS", || {
        black_box(decode_ipv4(black_box(&v2_bytes), &options).unwrap());
    });
    measure("decode v3 IPv4, 1 VIP, pseudo-header", || {
        black_box(decode_ipv4(black_box(&v3_bytes), &options).unwrap());
    });
    measure("decode v3 IPv4, 20 VIPs, pseudo-header", || {
        black_box(decode_ipv4(black_box(&v3_many_bytes), &options).unwrap());
    });
    measure("decode v3 IPv6, 1 VIP", || {
        black_box(decode_ipv6(black_box(&v6_bytes), src6, VRRP_MCAST_V6, 255).unwrap());
    });
    measure("encode v2 IPv4, 1 VIP, PASS", || {
        black_box(encode_ipv4(black_box(&v2), &params).unwrap());
    });
    measure("encode v3 IPv4, 1 VIP, pseudo-header", || {
        black_box(encode_ipv4(black_box(&v3), &params).unwrap());
    });
}
