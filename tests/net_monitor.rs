//! Netlink notifications seen by `net::monitor` for changes made by `ip`.

mod net_util;

use kad::net::monitor::{Monitor, NetEvent};
use kad::net::netlink::{Device, Netlink};
use net_util::entries::address;
use net_util::{ip, Pair, LIMIT};
use std::net::IpAddr;

async fn expect(
    monitor: &mut Monitor,
    what: &str,
    mut wanted: impl FnMut(&NetEvent) -> bool,
) -> NetEvent {
    let search = async {
        while let Some(event) = monitor.next().await {
            if wanted(&event) {
                return Some(event);
            }
        }
        None
    };
    match tokio::time::timeout(LIMIT, search).await {
        Ok(Some(event)) => event,
        Ok(None) => panic!("monitor ended while waiting for {what}"),
        Err(_) => panic!("no {what} within {LIMIT:?}"),
    }
}

#[test]
fn address_link_route_and_rule_changes_are_reported() {
    let pair = Pair::new("mo");
    let ns = pair.a.name.clone();
    pair.a.run(move || async move {
        let mut monitor = Monitor::open().unwrap();
        let vip: IpAddr = "192.0.2.100".parse().unwrap();
        let sh = |args: &[&str]| {
            let mut full = vec!["-n", ns.as_str()];
            full.extend_from_slice(args);
            ip(&full);
        };

        sh(&["addr", "add", "192.0.2.100/32", "dev", "va"]);
        let added = expect(&mut monitor, "VIP added", |e| matches!(e, NetEvent::AddressAdded(a) if a.local == vip)).await;
        let NetEvent::AddressAdded(info) = added else { unreachable!() };
        assert_eq!(info.prefix_len, 32);
        sh(&["addr", "del", "192.0.2.100/32", "dev", "va"]);
        expect(&mut monitor, "VIP removed", |e| matches!(e, NetEvent::AddressRemoved(a) if a.local == vip && a.index == info.index)).await;

        sh(&["link", "set", "va", "down"]);
        expect(&mut monitor, "link down", |e| matches!(e, NetEvent::LinkChanged(l) if l.name == "va" && !l.up)).await;
        sh(&["link", "set", "va", "up"]);
        expect(&mut monitor, "link up", |e| matches!(e, NetEvent::LinkChanged(l) if l.name == "va" && l.up)).await;

        sh(&["route", "add", "198.51.100.0/24", "via", "192.0.2.2", "proto", "18", "table", "50"]);
        expect(&mut monitor, "route added", |e| matches!(e, NetEvent::RouteAdded(r) if r.table == 50 && r.protocol == 18)).await;
        sh(&["route", "del", "198.51.100.0/24", "table", "50"]);
        expect(&mut monitor, "route removed", |e| matches!(e, NetEvent::RouteRemoved(r) if r.table == 50)).await;

        sh(&["-6", "rule", "add", "to", "2001:db8:1::/48", "lookup", "50", "priority", "77", "protocol", "18"]);
        expect(&mut monitor, "rule added", |e| matches!(e, NetEvent::RuleAdded(r) if r.priority == Some(77) && r.protocol == 18)).await;
        sh(&["-6", "rule", "del", "priority", "77"]);
        expect(&mut monitor, "rule removed", |e| matches!(e, NetEvent::RuleRemoved(r) if r.priority == Some(77))).await;

        sh(&["link", "add", "vx", "type", "veth", "peer", "name", "vy"]);
        let NetEvent::LinkChanged(new) = expect(&mut monitor, "new link", |e| matches!(e, NetEvent::LinkChanged(l) if l.name == "vx")).await else { unreachable!() };
        sh(&["link", "del", "vx"]);
        expect(&mut monitor, "link deleted", |e| matches!(e, NetEvent::LinkDeleted { index, name } if *index == new.index && name == "vx")).await;
    });
}

#[test]
fn the_daemon_monitor_drops_route_and_rule_additions_only() {
    let pair = Pair::new("mf");
    let ns = pair.a.name.clone();
    pair.a.run(move || async move {
        let mut monitor = Monitor::open_without_additions_of_routes_and_rules().unwrap();
        let sh = |args: &[&str]| {
            let mut full = vec!["-n", ns.as_str()];
            full.extend_from_slice(args);
            ip(&full);
        };
        let mut seen = Vec::new();
        let mut note = |e: &NetEvent| {
            seen.push(e.clone());
        };
        sh(&["route", "add", "198.51.100.0/24", "via", "192.0.2.2", "proto", "18", "table", "50"]);
        sh(&["-6", "rule", "add", "to", "2001:db8:1::/48", "lookup", "50", "priority", "77", "protocol", "18"]);
        sh(&["route", "del", "198.51.100.0/24", "table", "50"]);
        sh(&["-6", "rule", "del", "priority", "77"]);
        // Removals and everything else still come, in order, after the dropped additions.
        sh(&["addr", "add", "192.0.2.101/32", "dev", "va"]);
        sh(&["addr", "del", "192.0.2.101/32", "dev", "va"]);
        expect(&mut monitor, "route removed", |e| {
            note(e);
            matches!(e, NetEvent::RouteRemoved(r) if r.table == 50)
        })
        .await;
        expect(&mut monitor, "rule removed", |e| {
            note(e);
            matches!(e, NetEvent::RuleRemoved(r) if r.priority == Some(77))
        })
        .await;
        let vip: IpAddr = "192.0.2.101".parse().unwrap();
        expect(&mut monitor, "address added", |e| {
            note(e);
            matches!(e, NetEvent::AddressAdded(a) if a.local == vip)
        })
        .await;
        expect(&mut monitor, "address removed", |e| {
            note(e);
            matches!(e, NetEvent::AddressRemoved(a) if a.local == vip)
        })
        .await;
        let additions: Vec<_> =
            seen.iter().filter(|e| matches!(e, NetEvent::RouteAdded(_) | NetEvent::RuleAdded(_))).collect();
        // The address brought its own local route, notified before its removal: that
        // addition is dropped too.
        assert!(additions.is_empty(), "{additions:?}");
    });
}

#[test]
fn the_daemon_monitor_leaves_our_batched_ipv4_adds_to_a_wake_up() {
    let pair = Pair::new("mw");
    let ns = pair.a.name.clone();
    pair.a.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let mut monitor = Monitor::open_for(&nl).unwrap();
        let added = nl.addresses_added();
        let ours = address("192.0.2.150/32");
        let ours6 = address("2001:db8::150/128");
        let items = vec![(Device::Name("va".into()), ours.clone()), (Device::Name("va".into()), ours6.clone())];
        let results = nl.add_addresses(items.clone()).await;
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        tokio::time::timeout(LIMIT, added.notified()).await.expect("no wake-up for our adds");
        ip(&["-n", &ns, "addr", "add", "192.0.2.151/32", "dev", "va"]);
        let results = nl.delete_addresses(items).await;
        assert!(results.iter().all(|r| r.is_ok()), "{results:?}");
        let mut seen = Vec::new();
        let vip = |a: &str| a.parse::<IpAddr>().unwrap();
        expect(&mut monitor, "the removal of our address", |e| {
            seen.push(e.clone());
            matches!(e, NetEvent::AddressRemoved(a) if a.local == vip("192.0.2.150"))
        })
        .await;
        let added_locals: Vec<IpAddr> =
            seen.iter().filter_map(|e| if let NetEvent::AddressAdded(a) = e { Some(a.local) } else { None }).collect();
        // Someone else's add still comes.
        assert!(added_locals.contains(&vip("192.0.2.151")), "{seen:?}");
        assert!(!added_locals.contains(&vip("192.0.2.150")), "{seen:?}");
        // An add that changed nothing does not wake (the wake-up is stored before the
        // adds are answered).
        let again = nl.add_addresses(vec![(Device::Name("va".into()), address("192.0.2.151/32"))]).await;
        assert!(again.iter().all(|r| r.is_ok()), "{again:?}");
        assert!(futures::FutureExt::now_or_never(added.notified()).is_none());
    });
}

#[test]
fn lost_notifications_are_reported_as_overrun() {
    let pair = Pair::new("ov");
    // 2000 route notifications while the monitor's runtime is blocked: far more than a
    // 64 KiB socket buffer holds, so the kernel drops some and says so.
    let batch = std::env::temp_dir().join(format!("kadnet-{}-overrun.batch", std::process::id()));
    let lines: String = (1..=2_000)
        .map(|table| format!("route add 198.51.100.0/24 dev va table {table}\n"))
        .collect();
    std::fs::write(&batch, lines).unwrap();
    let ns = pair.a.name.clone();
    let path = batch.to_string_lossy().into_owned();
    pair.a.run(move || async move {
        let mut monitor = Monitor::with_receive_buffer(64 * 1024).unwrap();
        ip(&["-n", &ns, "-batch", &path]);
        expect(&mut monitor, "an overrun", |e| *e == NetEvent::Overrun).await;
    });
    let _ = std::fs::remove_file(batch);
}

#[test]
fn entering_a_missing_namespace_is_an_error() {
    let name = format!("kadnet-{}-missing", std::process::id());
    let result = std::thread::spawn(move || kad::net::netns::enter(&name))
        .join()
        .unwrap();
    assert!(
        matches!(result, Err(kad::net::NetError::Namespace { ref source, .. }) if source.kind() == std::io::ErrorKind::NotFound),
        "{result:?}"
    );
    assert!(matches!(
        kad::net::netns::enter("../etc"),
        Err(kad::net::NetError::Invalid(_))
    ));
}
