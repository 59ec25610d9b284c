//! Raw VRRP sockets between two namespaces over a veth pair.

mod net_util;

use kad::config::model::Family;
use kad::net::netlink::Netlink;
use kad::net::socket::{
    ipv4_source, ipv6_link_local, Interface, Received, SocketOptions, VrrpSocket, VRRP_GROUP_V4,
    VRRP_GROUP_V6,
};
use kad::net::NetError;
use net_util::{hex, ip, unhex, wait_for, wait_for_async, Capture, Netns, Pair, LIMIT};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::mpsc;

/// keepalived 2.2.7 on the wire (shared/pcaps/vrrpv3-master.txt, vrrpv2-auth-pass.txt).
const GOLDEN_V3: &str =
    "45c0 0020 0001 0000 ff70 188f c000 020b e000 0012 3133 9601 0064 d3ca c000 0201";
const GOLDEN_V2: &str = "45c0 0028 0001 0000 ff70 1887 c000 020b e000 0012 2133 9601 0101 e151 c000 0201 6b61 6470 6173 7331";

async fn interface(name: &str) -> Interface {
    let nl = Netlink::connect().unwrap();
    Interface {
        name: name.to_string(),
        index: nl.ifindex(name).await.unwrap(),
    }
}

type Datagrams = std::thread::JoinHandle<kad::net::Result<Vec<(Received, Vec<u8>)>>>;

/// Opens a receiving socket in `ns` on `dev`, signals readiness, and returns the
/// receiving thread (which collects the first `count` datagrams) and the ifindex of `dev`.
fn receiver(ns: &Netns, dev: &str, family: Family, count: usize) -> (Datagrams, u32) {
    let (tx, rx) = mpsc::channel();
    let dev = dev.to_string();
    let handle = ns.spawn(move || async move {
        let iface = interface(&dev).await;
        let socket =
            VrrpSocket::open(SocketOptions::multicast(family, iface.clone(), None)).unwrap();
        tx.send(iface.index).unwrap();
        let mut out = Vec::new();
        let mut buf = vec![0u8; 2048];
        for _ in 0..count {
            let got = tokio::time::timeout(LIMIT, socket.recv(&mut buf))
                .await
                .expect("datagram within the limit")
                .unwrap();
            out.push((got, buf[..got.len].to_vec()));
        }
        out
    });
    let index = rx.recv_timeout(LIMIT).expect("receiver ready");
    (handle, index)
}

fn join<T>(handle: std::thread::JoinHandle<kad::net::Result<T>>) -> T {
    match handle.join() {
        Ok(result) => result.unwrap(),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

fn is_vrrp_v4(frame: &[u8]) -> bool {
    frame.len() > 23 && frame[12..14] == [0x08, 0x00] && frame[23] == 112
}

fn is_vrrp_v6(frame: &[u8]) -> bool {
    frame.len() > 20 && frame[12..14] == [0x86, 0xdd] && frame[20] == 112
}

#[test]
fn ipv4_v2_and_v3_datagrams_arrive_byte_exact() {
    let pair = Pair::new("s4");
    let (rx, vb_index) = receiver(&pair.b, "vb", Family::Inet, 2);
    let wire = Capture::start(&pair.b, "vb", 2, LIMIT, is_vrrp_v4);
    pair.a.run(|| async {
        let socket = VrrpSocket::open(SocketOptions::multicast(
            Family::Inet,
            interface("va").await,
            None,
        ))
        .unwrap();
        for golden in [GOLDEN_V3, GOLDEN_V2] {
            socket
                .send(&unhex(golden), IpAddr::V4(VRRP_GROUP_V4))
                .await
                .unwrap();
        }
    });
    let got = join(rx);
    for ((received, bytes), golden) in got.iter().zip([GOLDEN_V3, GOLDEN_V2]) {
        assert_eq!(hex(bytes), hex(&unhex(golden)));
        assert_eq!(received.src, "192.0.2.11".parse::<IpAddr>().unwrap());
        assert_eq!(received.dst, IpAddr::V4(VRRP_GROUP_V4));
        assert_eq!(received.ttl, 255);
        assert_eq!(received.ifindex, vb_index);
        assert!(!received.truncated);
    }
    let frames = wire.wait();
    assert_eq!(frames.len(), 2);
    for (frame, golden) in frames.iter().map(|f| &f.bytes).zip([GOLDEN_V3, GOLDEN_V2]) {
        assert_eq!(hex(&frame[..6]), "01005e000012", "multicast MAC");
        assert_eq!(
            hex(&frame[14..]),
            hex(&unhex(golden)),
            "on the wire as built"
        );
    }
}

/// RFC 5798 checksum over the IPv6 pseudo-header and the message; 0 when valid.
fn v6_checksum_residue(src: Ipv6Addr, dst: Ipv6Addr, message: &[u8]) -> u16 {
    let mut data = Vec::new();
    data.extend_from_slice(&src.octets());
    data.extend_from_slice(&dst.octets());
    data.extend_from_slice(&(message.len() as u32).to_be_bytes());
    data.extend_from_slice(&[0, 0, 0, 112]);
    data.extend_from_slice(message);
    if data.len() % 2 == 1 {
        data.push(0);
    }
    let mut sum: u32 = data
        .chunks(2)
        .map(|c| u32::from(u16::from_be_bytes([c[0], c[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

#[test]
fn ipv6_message_from_link_local_with_kernel_checksum() {
    let pair = Pair::new("s6");
    let (rx, vb_index) = receiver(&pair.b, "vb", Family::Inet6, 1);
    let wire = Capture::start(&pair.b, "vb", 1, LIMIT, is_vrrp_v6);
    // v3, vrid 51, prio 150, 1 address, 100 cs, checksum left to the kernel, 2001:db8::1
    let message = unhex("3133 9601 0064 0000 2001 0db8 0000 0000 0000 0000 0000 0001");
    let sent = message.clone();
    let source = pair.a.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let iface = interface("va").await;
        let ll = ipv6_link_local(&nl, iface.index).await.unwrap();
        let socket = VrrpSocket::open(SocketOptions::multicast(
            Family::Inet6,
            iface,
            Some(IpAddr::V6(ll)),
        ))
        .unwrap();
        socket.send(&sent, IpAddr::V6(VRRP_GROUP_V6)).await.unwrap();
        ll
    });
    let (received, bytes) = join(rx).remove(0);
    assert_eq!(received.src, IpAddr::V6(source));
    assert_eq!(received.dst, IpAddr::V6(VRRP_GROUP_V6));
    assert_eq!(received.ttl, 255);
    assert_eq!(received.ifindex, vb_index);
    assert_eq!(bytes[..6], message[..6]);
    assert_eq!(bytes[8..], message[8..]);
    assert_ne!(bytes[6..8], [0, 0], "kernel filled the checksum");
    assert_eq!(v6_checksum_residue(source, VRRP_GROUP_V6, &bytes), 0);
    let frame = &wire.wait()[0].bytes;
    assert_eq!(hex(&frame[..6]), "333300000012");
    let traffic_class = (u16::from_be_bytes([frame[14], frame[15]]) >> 4) & 0xff;
    assert_eq!(traffic_class, 0xc0);
    assert_eq!(frame[21], 255, "hop limit");
}

#[test]
fn ipv4_unicast_to_a_peer() {
    let pair = Pair::new("su");
    let (rx, _) = receiver(&pair.b, "vb", Family::Inet, 1);
    // v3 vrid 51 from 192.0.2.1 to the peer 192.0.2.2, TTL 64 (unicast_ttl).
    let datagram =
        unhex("45c0 0020 0001 0000 4070 0000 c000 0201 c000 0202 3133 9601 0064 0000 c000 0264");
    let sent = datagram.clone();
    pair.a.run(move || async move {
        let mut options = SocketOptions::multicast(Family::Inet, interface("va").await, None);
        options.groups.clear();
        options.freebind = true;
        let socket = VrrpSocket::open(options).unwrap();
        socket
            .send(&sent, "192.0.2.2".parse().unwrap())
            .await
            .unwrap();
    });
    let (received, bytes) = join(rx).remove(0);
    assert_eq!(
        (received.src, received.dst, received.ttl),
        (
            "192.0.2.1".parse().unwrap(),
            "192.0.2.2".parse().unwrap(),
            64
        )
    );
    assert_eq!(bytes[12..], datagram[12..]);
}

#[test]
fn bound_socket_ignores_other_interfaces() {
    let pair = Pair::new("sb");
    ip(&[
        "link",
        "add",
        "va2",
        "netns",
        &pair.a.name,
        "type",
        "veth",
        "peer",
        "name",
        "vb2",
        "netns",
        &pair.b.name,
    ]);
    pair.a.ip(&["addr", "add", "198.51.100.1/24", "dev", "va2"]);
    pair.b.ip(&["addr", "add", "198.51.100.2/24", "dev", "vb2"]);
    pair.a.ip(&["link", "set", "va2", "up"]);
    pair.b.ip(&["link", "set", "vb2", "up"]);
    let (rx, vb_index) = receiver(&pair.b, "vb", Family::Inet, 1);
    pair.a.run(|| async {
        let other = VrrpSocket::open(SocketOptions::multicast(
            Family::Inet,
            interface("va2").await,
            None,
        ))
        .unwrap();
        let right = VrrpSocket::open(SocketOptions::multicast(
            Family::Inet,
            interface("va").await,
            None,
        ))
        .unwrap();
        // vrid 52 goes out on the other link first, then vrid 51 on the bound one.
        let mut on_other = unhex(GOLDEN_V3);
        on_other[21] = 52;
        other
            .send(&on_other, IpAddr::V4(VRRP_GROUP_V4))
            .await
            .unwrap();
        right
            .send(&unhex(GOLDEN_V3), IpAddr::V4(VRRP_GROUP_V4))
            .await
            .unwrap();
    });
    let (received, bytes) = join(rx).remove(0);
    assert_eq!(
        bytes[21], 51,
        "the first datagram seen is the one sent on the bound link"
    );
    assert_eq!(received.ifindex, vb_index);
}

fn joined(ns: &Netns, dev: &str, group: &str) -> bool {
    ns.ip(&["maddr", "show", "dev", dev]).contains(group)
}

#[test]
fn multicast_membership_is_restored_after_link_reset_and_recreation() {
    let pair = Pair::new("sr");
    let (to_b, from_test) = mpsc::channel::<u32>();
    let (ready, ready_rx) = mpsc::channel::<()>();
    let rx = pair.b.spawn(move || async move {
        let iface = interface("vb").await;
        let socket = VrrpSocket::open(SocketOptions::multicast(Family::Inet, iface, None)).unwrap();
        ready.send(()).unwrap();
        let mut seen = Vec::new();
        let mut buf = vec![0u8; 2048];
        // Each round: wait for the test to reset the link, rejoin, then receive.
        while let Ok(index) = from_test.recv() {
            socket.rejoin(index).unwrap();
            ready.send(()).unwrap();
            let got = tokio::time::timeout(LIMIT, socket.recv(&mut buf))
                .await
                .expect("advert after rejoin")
                .unwrap();
            seen.push((got.ifindex, buf[21]));
        }
        seen
    });
    ready_rx.recv_timeout(LIMIT).unwrap();
    assert!(joined(&pair.b, "vb", "224.0.0.18"));
    let send = |vrid: u8| {
        pair.a.run(move || async move {
            let socket = VrrpSocket::open(SocketOptions::multicast(
                Family::Inet,
                interface("va").await,
                None,
            ))
            .unwrap();
            let mut advert = unhex(GOLDEN_V3);
            advert[21] = vrid;
            socket
                .send(&advert, IpAddr::V4(VRRP_GROUP_V4))
                .await
                .unwrap();
        })
    };
    let index_of = |ns: &Netns, dev: &str| -> u32 {
        ns.ip_json(&["link", "show", "dev", dev])[0]["ifindex"]
            .as_u64()
            .unwrap() as u32
    };

    // Round 1: link down/up.
    pair.b.ip(&["link", "set", "vb", "down"]);
    pair.b.ip(&["link", "set", "vb", "up"]);
    wait_for("vb up again", LIMIT, || {
        pair.b
            .ip(&["link", "show", "dev", "vb"])
            .contains("LOWER_UP")
            .then_some(())
    });
    to_b.send(index_of(&pair.b, "vb")).unwrap();
    ready_rx.recv_timeout(LIMIT).unwrap();
    send(61);

    // Round 2: the link is deleted and re-created under the same name (new index);
    // the old membership is gone with the device until rejoin.
    let old_index = index_of(&pair.b, "vb");
    ip(&["-n", &pair.a.name, "link", "del", "va"]);
    ip(&[
        "link",
        "add",
        "va",
        "netns",
        &pair.a.name,
        "type",
        "veth",
        "peer",
        "name",
        "vb",
        "netns",
        &pair.b.name,
    ]);
    pair.a.ip(&["addr", "add", "192.0.2.1/24", "dev", "va"]);
    pair.a.ip(&["link", "set", "va", "up"]);
    pair.b.ip(&["link", "set", "vb", "up"]);
    let new_index = index_of(&pair.b, "vb");
    assert_ne!(old_index, new_index);
    assert!(
        !joined(&pair.b, "vb", "224.0.0.18"),
        "membership survived device re-creation?"
    );
    to_b.send(new_index).unwrap();
    ready_rx.recv_timeout(LIMIT).unwrap();
    assert!(
        joined(&pair.b, "vb", "224.0.0.18"),
        "rejoin restored the membership"
    );
    send(62);
    drop(to_b);
    assert_eq!(join(rx), vec![(old_index, 61), (new_index, 62)]);
}

#[test]
fn tentative_link_local_is_not_ready_then_usable() {
    let ns = Netns::new("st");
    ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"]);
    ns.sysctl_write("net.ipv6.conf.va.dad_transmits", "3");
    ns.ip(&["link", "set", "vb", "up"]);
    ns.ip(&["link", "set", "va", "up"]);
    let (early, late) = ns.run(|| async {
        let nl = Netlink::connect().unwrap();
        let iface = interface("va").await;
        let ll = wait_for_async("a link-local address", LIMIT, || async {
            nl.addresses(Some(Family::Inet6), Some(iface.index))
                .await
                .unwrap()
                .into_iter()
                .find(|a| a.is_link_local())
                .map(|a| match a.local {
                    IpAddr::V6(v6) => v6,
                    IpAddr::V4(_) => unreachable!(),
                })
        })
        .await;
        let early_lookup = ipv6_link_local(&nl, iface.index).await;
        let early_open = VrrpSocket::open(SocketOptions::multicast(
            Family::Inet6,
            iface.clone(),
            Some(IpAddr::V6(ll)),
        ))
        .err();
        let ready = wait_for_async("DAD to finish", LIMIT, || async {
            ipv6_link_local(&nl, iface.index).await.ok()
        })
        .await;
        let late = VrrpSocket::open(SocketOptions::multicast(
            Family::Inet6,
            iface,
            Some(IpAddr::V6(ready)),
        ))
        .is_ok();
        ((early_lookup.err(), early_open), (ready == ll, late))
    });
    assert!(
        matches!(early.0, Some(NetError::NotReady(_))),
        "{:?}",
        early.0
    );
    assert!(
        matches!(early.1, Some(NetError::NotReady(_))),
        "{:?}",
        early.1
    );
    assert_eq!(late, (true, true));
}

#[test]
fn ipv4_source_is_configured_or_primary() {
    let pair = Pair::new("sp");
    pair.a.ip(&["addr", "add", "192.0.2.50/24", "dev", "va"]); // a secondary of 192.0.2.1/24
    pair.a.ip(&["addr", "add", "203.0.113.1/24", "dev", "va"]);
    let ns_name = pair.a.name.clone();
    let (primary, configured, none) = pair.a.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let index = nl.ifindex("va").await.unwrap();
        let primary = ipv4_source(&nl, index, None).await.unwrap();
        let configured = ipv4_source(&nl, index, Some("203.0.113.1".parse().unwrap()))
            .await
            .unwrap();
        ip(&["-n", &ns_name, "-4", "addr", "flush", "dev", "va"]);
        (primary, configured, ipv4_source(&nl, index, None).await)
    });
    assert_eq!(primary.to_string(), "192.0.2.1");
    assert_eq!(configured.to_string(), "203.0.113.1");
    assert!(matches!(none, Err(NetError::NotReady(_))));
}

#[test]
fn mismatched_options_are_rejected() {
    let ns = Netns::new("sx");
    let errors = ns.run(|| async {
        let lo = Interface {
            name: "lo".into(),
            index: 1,
        };
        let mut v4_group_on_v6 = SocketOptions::multicast(Family::Inet6, lo.clone(), None);
        v4_group_on_v6.groups = vec![IpAddr::V4(VRRP_GROUP_V4)];
        let mut group_without_interface = SocketOptions::multicast(Family::Inet, lo, None);
        group_without_interface.interface = None;
        [
            VrrpSocket::open(v4_group_on_v6).err(),
            VrrpSocket::open(group_without_interface).err(),
        ]
    });
    for e in errors {
        assert!(matches!(e, Some(NetError::Invalid(_))), "{e:?}");
    }
}
