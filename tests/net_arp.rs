//! Gratuitous ARP / unsolicited NA frames and the burst pacer, captured on the peer.

mod net_util;

use kad::net::arp::{garp_frame, na_frame, AnnounceTarget, Announcer, Burst, Spacing};
use kad::net::netlink::Netlink;
use net_util::{hex, Capture, Frame, Pair, LIMIT};
use std::net::IpAddr;
use std::time::Duration;

fn is_announce(frame: &[u8]) -> bool {
    let arp = frame.len() >= 42 && frame[12..14] == [0x08, 0x06];
    let na =
        frame.len() >= 55 && frame[12..14] == [0x86, 0xdd] && frame[20] == 58 && frame[54] == 136;
    arp || na
}

/// The announced address of a captured GARP (spa) or NA (target).
fn announced(frame: &[u8]) -> IpAddr {
    if frame[12..14] == [0x08, 0x06] {
        IpAddr::from(<[u8; 4]>::try_from(&frame[28..32]).unwrap())
    } else {
        IpAddr::from(<[u8; 16]>::try_from(&frame[62..78]).unwrap())
    }
}

/// Runs `body` with an Announcer in namespace `a` and the targets for `va`.
fn announce_from_a(
    pair: &Pair,
    spacing: Spacing,
    addresses: &[&str],
    body: fn(&Announcer, Vec<AnnounceTarget>),
) -> [u8; 6] {
    let addresses: Vec<IpAddr> = addresses.iter().map(|a| a.parse().unwrap()).collect();
    pair.a.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let link = nl.link_by_name("va").await.unwrap();
        let mac = link.mac().unwrap();
        let targets = addresses
            .iter()
            .map(|address| AnnounceTarget {
                ifindex: link.index,
                mac,
                base_ifindex: link.index,
                base_ifname: "va".into(),
                address: *address,
            })
            .collect();
        let announcer = Announcer::start(spacing).unwrap();
        body(&announcer, targets);
        tokio::time::timeout(LIMIT, announcer.flush())
            .await
            .expect("burst sent within the limit");
        mac
    })
}

#[test]
fn burst_frames_are_keepalived_frames_in_keepalived_order() {
    let pair = Pair::new("ab");
    pair.a.sysctl_write("net.ipv6.conf.va.forwarding", "1");
    let wire = Capture::start(&pair.b, "vb", 6, LIMIT, is_announce);
    let mac = announce_from_a(
        &pair,
        Spacing {
            garp: Duration::ZERO,
            gna: Duration::ZERO,
        },
        &["192.0.2.10", "2001:db8::10", "192.0.2.11"],
        |announcer, targets| {
            announcer.announce(Burst {
                owner: 1,
                targets,
                repeat: 2,
            })
        },
    );
    let frames = wire.wait();
    let order: Vec<String> = frames
        .iter()
        .map(|f| announced(&f.bytes).to_string())
        .collect();
    assert_eq!(
        order,
        ["192.0.2.10", "2001:db8::10", "192.0.2.11"].repeat(2)
    );
    let garp = garp_frame(mac, "192.0.2.10".parse().unwrap()).unwrap();
    let na = na_frame(mac, "2001:db8::10".parse().unwrap(), true).unwrap();
    assert_eq!(hex(&frames[0].bytes), hex(&garp));
    assert_eq!(
        hex(&frames[1].bytes),
        hex(&na),
        "NA with Router flag (forwarding on)"
    );
}

#[test]
fn router_flag_follows_forwarding() {
    let pair = Pair::new("ar");
    pair.a.sysctl_write("net.ipv6.conf.va.forwarding", "0");
    let wire = Capture::start(&pair.b, "vb", 1, LIMIT, is_announce);
    let mac = announce_from_a(
        &pair,
        Spacing {
            garp: Duration::ZERO,
            gna: Duration::ZERO,
        },
        &["2001:db8::20"],
        |a, targets| {
            a.announce(Burst {
                owner: 1,
                targets,
                repeat: 1,
            })
        },
    );
    let frames = wire.wait();
    assert_eq!(
        hex(&frames[0].bytes),
        hex(&na_frame(mac, "2001:db8::20".parse().unwrap(), false).unwrap())
    );
}

fn gaps(frames: &[Frame]) -> Vec<Duration> {
    frames
        .windows(2)
        .map(|w| w[1].at.saturating_sub(w[0].at))
        .collect()
}

#[test]
fn garp_interval_spaces_frames_per_interface() {
    let pair = Pair::new("ai");
    let interval = Duration::from_millis(100);
    let wire = Capture::start(&pair.b, "vb", 6, LIMIT, is_announce);
    announce_from_a(
        &pair,
        Spacing {
            garp: Duration::from_millis(100),
            gna: Duration::ZERO,
        },
        &["192.0.2.10", "192.0.2.11"],
        |a, targets| {
            a.announce(Burst {
                owner: 1,
                targets,
                repeat: 3,
            })
        },
    );
    let frames = wire.wait();
    assert_eq!(frames.len(), 6);
    let order: Vec<String> = frames
        .iter()
        .map(|f| announced(&f.bytes).to_string())
        .collect();
    assert_eq!(order, ["192.0.2.10", "192.0.2.11"].repeat(3));
    let spacing = gaps(&frames);
    println!("GARP gaps with a 100 ms interval: {spacing:?}");
    // Kernel receive timestamps on the peer; load can only widen the gaps.
    assert!(
        spacing
            .iter()
            .all(|g| *g >= interval - Duration::from_millis(5)),
        "{spacing:?}"
    );
}

#[test]
fn cancel_drops_what_is_still_queued() {
    let pair = Pair::new("ac");
    let wire = Capture::start(&pair.b, "vb", 3, LIMIT, is_announce);
    announce_from_a(
        &pair,
        Spacing {
            garp: Duration::from_millis(100),
            gna: Duration::ZERO,
        },
        &["192.0.2.10", "192.0.2.11"],
        |a, targets| {
            a.announce(Burst {
                owner: 1,
                targets: vec![targets[0].clone()],
                repeat: 5,
            });
            a.announce(Burst {
                owner: 2,
                targets: vec![targets[1].clone()],
                repeat: 2,
            });
            a.cancel(1);
        },
    );
    let order: Vec<String> = wire
        .wait()
        .iter()
        .map(|f| announced(&f.bytes).to_string())
        .collect();
    assert_eq!(order, ["192.0.2.10", "192.0.2.11", "192.0.2.11"]);
}
