//! rtnetlink against a real kernel, each test in its own namespaces.

mod net_util;

use kad::config::model::{Broadcast, Family, Nexthop, RouteMode, RouteType, RuleAction};
use kad::net::netlink::{Device, Netlink, RTPROT_KEEPALIVED};
use kad::net::{Change, NetError};
use net_util::entries::{address, prefix, route, rule, via};
use net_util::{wait_for, Netns, Pair, LIMIT};
use serde_json::Value;
use std::time::Instant;

fn addr_info(ns: &Netns, dev: &str) -> Vec<Value> {
    let v = ns.ip_json(&["addr", "show", "dev", dev]);
    v[0]["addr_info"].as_array().cloned().unwrap_or_default()
}

fn find_addr(ns: &Netns, dev: &str, local: &str) -> Option<Value> {
    addr_info(ns, dev).into_iter().find(|a| a["local"] == local)
}

#[test]
fn link_lookup_by_name_and_index() {
    let pair = Pair::new("lk");
    let want = pair.a.ip_json(&["link", "show", "dev", "va"]);
    let (by_name, by_index, missing, missing_index) = pair.a.run(|| async {
        let nl = Netlink::connect().unwrap();
        let by_name = nl.link_by_name("va").await.unwrap();
        let by_index = nl.link_by_index(by_name.index).await.unwrap();
        let missing = nl.link_by_name("nosuchdev0").await;
        let missing_index = nl.link_by_index(999_999).await;
        (by_name, by_index, missing, missing_index)
    });
    assert_eq!(by_name, by_index);
    assert_eq!(
        u64::from(by_name.index),
        want[0]["ifindex"].as_u64().unwrap()
    );
    let mac: Vec<String> = by_name.hw_addr.iter().map(|b| format!("{b:02x}")).collect();
    assert_eq!(mac.join(":"), want[0]["address"].as_str().unwrap());
    assert_eq!(by_name.mtu, 1500);
    assert_eq!(by_name.kind.as_deref(), Some("veth"));
    assert!(by_name.up && by_name.is_oper_up() && by_name.lower_up);
    assert!(matches!(missing, Err(NetError::NoSuchInterface(n)) if n == "nosuchdev0"));
    assert!(matches!(
        missing_index,
        Err(NetError::NoSuchIfindex(999_999))
    ));
}

#[test]
fn address_options_reach_the_kernel_and_changes_are_idempotent() {
    let pair = Pair::new("ad");
    let mut labelled = address("192.0.2.10/24");
    labelled.label = Some("va:vip".into());
    labelled.broadcast = Some(Broadcast::Plus);
    let mut p2p = address("192.0.2.20");
    p2p.peer = Some(prefix("192.0.2.21/32"));
    let mut v6 = address("2001:db8::10/64");
    v6.preferred_lft = Some(0);
    v6.noprefixroute = true;
    let mut v6dad = address("2001:db8::11/64");
    v6dad.nodad = false;
    let mut scoped = address("203.0.113.5/32");
    scoped.scope = 253; // link
    let entries = vec![
        labelled.clone(),
        p2p.clone(),
        v6.clone(),
        v6dad.clone(),
        scoped.clone(),
    ];
    let added = {
        let entries = entries.clone();
        pair.a.run(move || async move {
            let nl = Netlink::connect().unwrap();
            let index = nl.ifindex("va").await.unwrap();
            let mut results = Vec::new();
            for e in &entries {
                results.push(nl.add_address(index, e).await.unwrap());
                results.push(nl.add_address(index, e).await.unwrap());
            }
            let listed = nl.addresses(None, Some(index)).await.unwrap();
            let ours = entries
                .iter()
                .map(|e| {
                    listed
                        .iter()
                        .find(|a| a.matches(index, e))
                        .map(|a| a.protocol)
                })
                .collect::<Vec<_>>();
            let base = listed
                .iter()
                .find(|a| a.local.to_string() == "192.0.2.1")
                .map(|a| a.protocol);
            (results, ours, base)
        })
    };
    assert_eq!(added.0, [Change::Applied, Change::Unchanged].repeat(5));
    assert_eq!(
        added.1,
        vec![Some(RTPROT_KEEPALIVED); 5],
        "listed, marked as ours"
    );
    assert_eq!(added.2, Some(0), "an address added by ip is not marked");
    let a = find_addr(&pair.a, "va", "203.0.113.5").unwrap();
    assert_eq!(a["scope"], "link");

    let a = find_addr(&pair.a, "va", "192.0.2.10").unwrap();
    assert_eq!(a["label"], "va:vip");
    assert_eq!(a["broadcast"], "192.0.2.255");
    assert_eq!(a["prefixlen"], 24);
    let a = find_addr(&pair.a, "va", "192.0.2.20").unwrap();
    assert_eq!(a["address"], "192.0.2.21");
    let a = find_addr(&pair.a, "va", "2001:db8::10").unwrap();
    assert_eq!(a["nodad"], true);
    assert_eq!(a["noprefixroute"], true);
    assert_eq!(a["preferred_life_time"], 0);
    let a = find_addr(&pair.a, "va", "2001:db8::11").unwrap();
    assert!(a.get("nodad").is_none(), "-nodad clears NODAD: {a}");

    let deleted = pair.a.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let index = nl.ifindex("va").await.unwrap();
        let mut results = Vec::new();
        for e in &entries {
            results.push(nl.delete_address(index, e).await.unwrap());
            results.push(nl.delete_address(index, e).await.unwrap());
        }
        results
    });
    assert_eq!(deleted, [Change::Applied, Change::Unchanged].repeat(5));
    for local in [
        "192.0.2.10",
        "192.0.2.20",
        "2001:db8::10",
        "2001:db8::11",
        "203.0.113.5",
    ] {
        assert!(
            find_addr(&pair.a, "va", local).is_none(),
            "{local} still present"
        );
    }
}

#[test]
fn kernel_refusals_carry_errno_and_message() {
    let pair = Pair::new("er");
    let (unreachable, missing_dev, bad_scope) = pair.a.run(|| async {
        let nl = Netlink::connect().unwrap();
        let r = via(route("198.51.100.0/24"), "203.0.113.1");
        let unreachable = nl.add_route(&r).await;
        let mut on_missing = route("198.51.100.0/24");
        on_missing.dev = Some("nosuchdev0".into());
        let mut local = route("203.0.113.77/32");
        local.rtype = RouteType::Local;
        local.scope = Some(0); // what keepalived sends for a local route
        local.dev = Some("va".into());
        (
            unreachable,
            nl.add_route(&on_missing).await,
            nl.add_route(&local).await,
        )
    });
    match unreachable {
        Err(NetError::Kernel { errno, message, op }) => {
            assert_eq!(errno, libc::ENETUNREACH);
            assert!(message.contains("unreachable"), "{message}");
            assert!(
                op.contains("198.51.100.0/24") && op.contains("via 203.0.113.1"),
                "{op}"
            );
        }
        other => panic!("expected a kernel refusal, got {other:?}"),
    }
    assert!(matches!(missing_dev, Err(NetError::NoSuchInterface(n)) if n == "nosuchdev0"));
    match bad_scope {
        Err(NetError::Kernel { errno, message, .. }) => {
            assert_eq!(errno, libc::EINVAL);
            assert_eq!(
                message, "Invalid scope (Invalid argument)",
                "extended ack kept"
            );
        }
        other => panic!("expected a kernel refusal, got {other:?}"),
    }
}

#[test]
fn routes_of_every_kind() {
    let pair = Pair::new("rt");
    pair.a.ip(&["addr", "add", "2001:db8:1::1/64", "dev", "va"]);
    pair.a.ip(&["addr", "add", "192.0.2.3/24", "dev", "va"]);
    let default = via(route("0.0.0.0/0"), "192.0.2.2");
    let blackhole = RouteEntry_blackhole();
    let mut tabled = via(route("198.51.100.0/24"), "192.0.2.2");
    tabled.table = 1000;
    tabled.metric = Some(50);
    tabled.dev = Some("va".into());
    tabled.src = Some("192.0.2.1".parse().unwrap());
    tabled.metrics.mtu = Some((1400, true));
    tabled.metrics.advmss = Some(1360);
    let mut multipath = route("203.0.113.0/24");
    multipath.table = 100;
    multipath.nexthops = vec![
        Nexthop {
            via: Some("192.0.2.2".parse().unwrap()),
            dev: Some("va".into()),
            weight: Some(1),
            onlink: false,
        },
        Nexthop {
            via: Some("192.0.2.4".parse().unwrap()),
            dev: Some("va".into()),
            weight: Some(3),
            onlink: true,
        },
    ];
    let mut v6 = via(route("2001:db8:2::/48"), "2001:db8:1::2");
    v6.dev = Some("va".into());
    v6.metric = Some(10);
    let mut v4_via_v6 = route("198.51.100.128/25");
    v4_via_v6.via = Some("fe80::1".parse().unwrap());
    v4_via_v6.dev = Some("va".into());
    v4_via_v6.table = 101;
    let mut not_ours = route("198.51.100.64/26");
    not_ours.dev = Some("va".into());
    not_ours.protocol = 4; // static: no_track keeps the configured protocol
    not_ours.mode = RouteMode::Add;

    let all = vec![
        default.clone(),
        blackhole.clone(),
        tabled.clone(),
        multipath.clone(),
        v6.clone(),
        v4_via_v6.clone(),
        not_ours.clone(),
    ];
    let (results, ours) = {
        let all = all.clone();
        pair.a.run(move || async move {
            let nl = Netlink::connect().unwrap();
            let mut results = Vec::new();
            for r in &all {
                results.push(nl.add_route(r).await.map_err(|e| e.to_string()));
                results.push(nl.add_route(r).await.map_err(|e| e.to_string()));
            }
            let ours = nl.routes(None, Some(RTPROT_KEEPALIVED)).await.unwrap();
            (results, ours)
        })
    };
    assert_eq!(
        results,
        [Ok(Change::Applied), Ok(Change::Unchanged)]
            .iter()
            .cycle()
            .take(2 * all.len())
            .cloned()
            .collect::<Vec<_>>()
    );

    let main: Vec<Value> = pair
        .a
        .ip_json(&["route", "show", "table", "main"])
        .as_array()
        .unwrap()
        .clone();
    let d = main
        .iter()
        .find(|r| r["dst"] == "default")
        .expect("default route");
    assert_eq!(
        (d["gateway"].as_str(), d["protocol"].as_str()),
        (Some("192.0.2.2"), Some("keepalived"))
    );
    let b = main
        .iter()
        .find(|r| r["dst"] == "198.18.0.0/15")
        .expect("blackhole route");
    assert_eq!(b["type"], "blackhole");
    let s = main
        .iter()
        .find(|r| r["dst"] == "198.51.100.64/26")
        .expect("static route");
    assert_eq!(s["protocol"], "static");

    let t: Vec<Value> = pair
        .a
        .ip_json(&["-d", "route", "show", "table", "1000"])
        .as_array()
        .unwrap()
        .clone();
    assert_eq!(t.len(), 1, "{t:?}");
    assert_eq!(t[0]["metric"], 50);
    assert_eq!(t[0]["prefsrc"], "192.0.2.1");
    assert_eq!(t[0]["metrics"][0]["mtu"], 1400, "{t:?}");
    let text = pair.a.ip(&["route", "show", "table", "1000"]);
    assert!(
        text.contains("mtu lock 1400") && text.contains("advmss 1360"),
        "{text}"
    );

    let mp = pair.a.ip(&["route", "show", "table", "100"]);
    assert!(mp.contains("nexthop via 192.0.2.2 dev va weight 1"), "{mp}");
    assert!(
        mp.contains("nexthop via 192.0.2.4 dev va weight 3 onlink"),
        "{mp}"
    );
    let v6text = pair.a.ip(&["-6", "route", "show", "2001:db8:2::/48"]);
    assert!(
        v6text.contains("via 2001:db8:1::2 dev va proto keepalived metric 10"),
        "{v6text}"
    );
    let vv = pair.a.ip(&["route", "show", "table", "101"]);
    assert!(
        vv.contains("198.51.100.128/25 via inet6 fe80::1 dev va"),
        "{vv}"
    );

    // Listing by protocol finds exactly the six tracked routes.
    assert_eq!(ours.len(), 6, "{ours:#?}");
    assert!(ours
        .iter()
        .any(|r| r.table == 1000 && r.metric == Some(50) && r.dest == prefix("198.51.100.0/24")));
    let m = ours.iter().find(|r| r.table == 100).unwrap();
    assert_eq!(
        m.nexthops.iter().map(|n| n.weight).collect::<Vec<_>>(),
        vec![1, 3]
    );
    assert!(ours
        .iter()
        .any(|r| r.family == Family::Inet && r.via == Some("fe80::1".parse().unwrap())));

    // Deleting by entry, then twice (idempotent), and stale cleanup by listing.
    let (deleted, leftover) = pair.a.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let mut deleted = Vec::new();
        for r in &all[..3] {
            deleted.push(nl.delete_route(r).await.unwrap());
            deleted.push(nl.delete_route(r).await.unwrap());
        }
        for info in nl.routes(None, Some(RTPROT_KEEPALIVED)).await.unwrap() {
            assert_eq!(
                nl.delete_route_info(&info).await.unwrap(),
                Change::Applied,
                "{info:?}"
            );
        }
        (
            deleted,
            nl.routes(None, Some(RTPROT_KEEPALIVED)).await.unwrap(),
        )
    });
    assert_eq!(deleted, [Change::Applied, Change::Unchanged].repeat(3));
    assert!(leftover.is_empty(), "{leftover:?}");
    assert!(pair
        .a
        .ip(&["route", "show", "198.51.100.64/26"])
        .contains("proto static"));
}

#[allow(non_snake_case)]
fn RouteEntry_blackhole() -> kad::config::model::RouteEntry {
    let mut r = route("198.18.0.0/15");
    r.rtype = RouteType::Blackhole;
    r
}

#[test]
fn rules_with_every_action() {
    let pair = Pair::new("ru");
    let mut to_table = rule(Family::Inet, RuleAction::Table(100));
    to_table.from = Some(prefix("192.0.2.0/24"));
    to_table.priority = Some(1000);
    let mut goto = rule(Family::Inet, RuleAction::Goto(1000));
    goto.priority = Some(900);
    goto.fwmark = Some((0x10, Some(0xff)));
    let mut nop = rule(Family::Inet, RuleAction::Nop);
    nop.priority = Some(1000);
    nop.iif = Some("va".into());
    let mut blackhole = rule(Family::Inet6, RuleAction::Blackhole);
    blackhole.to = Some(prefix("2001:db8:dead::/48"));
    blackhole.priority = Some(500);
    let mut big = rule(Family::Inet, RuleAction::Table(5000));
    big.to = Some(prefix("203.0.113.0/24"));
    big.priority = Some(1100);
    big.ipproto = Some(17);
    big.dport = Some((53, 53));
    let all = vec![to_table, goto, nop, blackhole, big];
    let (results, listed) = {
        let all = all.clone();
        pair.a.run(move || async move {
            let nl = Netlink::connect().unwrap();
            let mut results = Vec::new();
            for r in &all {
                results.push(nl.add_rule(r).await.map_err(|e| e.to_string()));
                results.push(nl.add_rule(r).await.map_err(|e| e.to_string()));
            }
            (
                results,
                nl.rules(None, Some(RTPROT_KEEPALIVED)).await.unwrap(),
            )
        })
    };
    assert_eq!(
        results,
        [Ok(Change::Applied), Ok(Change::Unchanged)]
            .iter()
            .cycle()
            .take(2 * all.len())
            .cloned()
            .collect::<Vec<_>>()
    );
    let v4 = pair.a.ip(&["rule", "show"]);
    assert!(
        v4.contains("1000:\tfrom 192.0.2.0/24 lookup 100 proto keepalived"),
        "{v4}"
    );
    assert!(
        v4.contains("900:\tfrom all fwmark 0x10/0xff goto 1000 proto keepalived"),
        "{v4}"
    );
    assert!(
        v4.contains("1000:\tfrom all iif va nop proto keepalived"),
        "{v4}"
    );
    assert!(
        v4.contains(
            "1100:\tfrom all to 203.0.113.0/24 ipproto udp dport 53 lookup 5000 proto keepalived"
        ),
        "{v4}"
    );
    let v6 = pair.a.ip(&["-6", "rule", "show"]);
    assert!(
        v6.contains("500:\tfrom all to 2001:db8:dead::/48 blackhole proto keepalived"),
        "{v6}"
    );
    assert_eq!(listed.len(), 5);
    assert!(listed
        .iter()
        .any(|r| r.action == Some(RuleAction::Goto(1000)) && r.fwmark == Some(0x10)));
    assert!(listed
        .iter()
        .any(|r| r.action == Some(RuleAction::Table(5000))));

    let (deleted, left) = pair.a.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let mut deleted = Vec::new();
        for r in &all[..2] {
            deleted.push(nl.delete_rule(r).await.unwrap());
            deleted.push(nl.delete_rule(r).await.unwrap());
        }
        for info in nl.rules(None, Some(RTPROT_KEEPALIVED)).await.unwrap() {
            nl.delete_rule_info(&info).await.unwrap();
        }
        (
            deleted,
            nl.rules(None, Some(RTPROT_KEEPALIVED)).await.unwrap(),
        )
    });
    assert_eq!(deleted, [Change::Applied, Change::Unchanged].repeat(2));
    assert!(left.is_empty());
    assert!(!pair.a.ip(&["rule", "show"]).contains("keepalived"));
}

fn switched_route() -> (
    kad::config::model::RouteEntry,
    kad::config::model::RouteEntry,
) {
    let mut primary = via(route("198.51.100.0/24"), "192.0.2.2");
    primary.table = 200;
    let mut backup = primary.clone();
    backup.rtype = RouteType::Blackhole;
    backup.via = None;
    (primary, backup)
}

/// Watches one route key from a second thread with its own netlink socket while the
/// main thread switches it `rounds` times; returns (dumps taken, dumps missing the key).
fn watch_key_during_switch(ns: &Netns, switch_with_replace: bool, rounds: usize) -> (usize, usize) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    ns.run(|| async {
        let nl = Netlink::connect().unwrap();
        nl.add_route(&switched_route().0).await.unwrap();
    });
    let stop = Arc::new(AtomicBool::new(false));
    let started = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (stop, started) = (stop.clone(), started.clone());
        ns.spawn(move || async move {
            let nl = Netlink::connect().unwrap();
            let key = prefix("198.51.100.0/24");
            let (mut dumps, mut missing) = (0usize, 0usize);
            while !stop.load(Ordering::SeqCst) {
                // A dump interrupted too often by the switching is no sample.
                let Ok(routes) = nl.routes(Some(Family::Inet), None).await else {
                    continue;
                };
                dumps += 1;
                if !routes.iter().any(|r| r.table == 200 && r.dest == key) {
                    missing += 1;
                }
                started.store(true, Ordering::SeqCst);
            }
            (dumps, missing)
        })
    };
    wait_for("watcher running", LIMIT, || {
        started.load(Ordering::SeqCst).then_some(())
    });
    ns.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let (primary, backup) = switched_route();
        for i in 0..rounds {
            let (current, next) = if i % 2 == 0 {
                (&primary, &backup)
            } else {
                (&backup, &primary)
            };
            if switch_with_replace {
                nl.replace_route(next).await.unwrap();
            } else {
                nl.delete_route(current).await.unwrap();
                nl.add_route(next).await.unwrap();
            }
        }
    });
    stop.store(true, Ordering::SeqCst);
    match watcher.join() {
        Ok(result) => result.unwrap(),
        Err(panic) => std::panic::resume_unwind(panic),
    }
}

#[test]
fn replace_never_leaves_the_key_absent() {
    let pair = Pair::new("rp");
    let (dumps, missing) = watch_key_during_switch(&pair.a, true, 4000);
    println!("replace: {dumps} dumps during 4000 switches, key missing in {missing}");
    assert!(
        dumps > 50,
        "watcher too slow to prove anything ({dumps} dumps)"
    );
    assert_eq!(missing, 0);
    let table = pair.a.ip(&["route", "show", "table", "200"]);
    assert_eq!(
        table.lines().count(),
        1,
        "replace left exactly one route: {table}"
    );
}

#[test]
fn delete_then_add_does_leave_a_window() {
    // Control for the test above: the same watcher catches the gap of a naive switch.
    let pair = Pair::new("rw");
    let (dumps, missing) = watch_key_during_switch(&pair.a, false, 4000);
    println!("delete+add: {dumps} dumps during 4000 switches, key missing in {missing}");
    assert!(missing > 0, "the watcher never saw the gap ({dumps} dumps)");
}

/// Adds (in chunks of `chunk`) then deletes `count` addresses on `va`, whose peer stays
/// down in the same namespace: no carrier, so nothing is ever transmitted. Returns the
/// time of each add chunk and of the whole delete.
fn time_batch(
    tag: &str,
    count: u32,
    chunk: usize,
    make: fn(u32) -> String,
) -> (Vec<std::time::Duration>, std::time::Duration) {
    let ns = Netns::new(tag);
    ns.ip(&["link", "add", "va", "type", "veth", "peer", "name", "vb"]);
    ns.ip(&["link", "set", "va", "up"]);
    let (adds, added, del, deleted) = ns.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let index = nl.ifindex("va").await.unwrap();
        let items: Vec<_> = (0..count).map(|i| (Device::Index(index), address(&make(i)))).collect();
        let (mut adds, mut added) = (Vec::new(), 0);
        for part in items.chunks(chunk) {
            let start = Instant::now();
            let results = nl.add_addresses(part.to_vec()).await;
            adds.push(start.elapsed());
            added += results
                .iter()
                .filter(|r| matches!(r, Ok(Change::Applied)))
                .count();
        }
        let start = Instant::now();
        let results = nl.delete_addresses(items).await;
        let del = start.elapsed();
        let deleted = results
            .iter()
            .filter(|r| matches!(r, Ok(Change::Applied)))
            .count();
        (adds, added, del, deleted)
    });
    assert_eq!((added, deleted), (count as usize, count as usize));
    (adds, del)
}

#[test]
fn batched_requests_get_their_own_answers_across_callers_and_datagrams() {
    let pair = Pair::new("bq");
    pair.a.ip(&["addr", "add", "192.0.2.50/32", "dev", "va"]);
    let missing_index = 999_999;
    const LONG: u32 = 2100;
    const REFUSED: [u32; 3] = [1023, 1024, LONG - 1];
    let (first, second, long, again, removed) = pair.a.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let va = Device::Name("va".into());
        let first = vec![
            (va.clone(), address("192.0.2.50/32")),
            (Device::Name("nosuchdev0".into()), address("192.0.2.51/32")),
            (Device::Index(missing_index), address("192.0.2.52/32")),
            (va.clone(), address("192.0.2.53/32")),
        ];
        // Submitted together, so packed into the same datagram after `first`.
        let second = vec![(va.clone(), address("192.0.2.54/32")), (va.clone(), address("192.0.2.53/32"))];
        let (first, second) = futures::join!(nl.add_addresses(first), nl.add_addresses(second));
        // Several datagrams (1024 messages each), with refusals at a datagram's last
        // message and first one.
        let long: Vec<_> = (0..LONG)
            .map(|i| {
                let device = if REFUSED.contains(&i) { Device::Index(missing_index) } else { va.clone() };
                (device, address(&format!("198.18.{}.{}/32", i >> 8, i & 0xff)))
            })
            .collect();
        let again = long.clone();
        let long = nl.add_addresses(long).await;
        // Every message of a full datagram refused: each refusal must still reach us.
        let again = nl.add_addresses(again).await;
        let removed = nl
            .delete_addresses(vec![
                (va.clone(), address("192.0.2.53/32")),
                (va.clone(), address("192.0.2.55/32")),
                (Device::Name("nosuchdev0".into()), address("192.0.2.54/32")),
                (va.clone(), address("192.0.2.54/32")),
            ])
            .await;
        (first, second, long, again, removed)
    });
    assert!(matches!(first[0], Ok(Change::Unchanged)), "{:?}", first[0]);
    assert!(matches!(&first[1], Err(NetError::NoSuchInterface(n)) if n == "nosuchdev0"), "{:?}", first[1]);
    match &first[2] {
        Err(NetError::Kernel { errno, op, .. }) => {
            assert_eq!(*errno, libc::ENODEV);
            assert!(op.contains("192.0.2.52/32") && op.contains("999999"), "{op}");
        }
        other => panic!("expected a kernel refusal, got {other:?}"),
    }
    assert!(matches!(first[3], Ok(Change::Applied)), "{:?}", first[3]);
    assert!(matches!(second[..], [Ok(Change::Applied), Ok(Change::Unchanged)]), "{second:?}");
    assert_eq!(long.len(), LONG as usize);
    assert_eq!(again.len(), LONG as usize);
    for (i, (result, repeated)) in long.iter().zip(&again).enumerate() {
        if REFUSED.contains(&(i as u32)) {
            assert!(matches!(result, Err(NetError::Kernel { errno: libc::ENODEV, .. })), "{i}: {result:?}");
            assert!(matches!(repeated, Err(NetError::Kernel { errno: libc::ENODEV, .. })), "{i}: {repeated:?}");
        } else {
            assert!(matches!(result, Ok(Change::Applied)), "{i}: {result:?}");
            assert!(matches!(repeated, Ok(Change::Unchanged)), "{i}: {repeated:?}");
        }
    }
    assert!(find_addr(&pair.a, "va", "198.18.8.50").is_some(), "the last address not refused is there");
    assert!(find_addr(&pair.a, "va", "198.18.8.51").is_none(), "the last one was refused");
    assert!(find_addr(&pair.a, "va", "198.18.3.255").is_none(), "refused address is not");
    assert!(
        matches!(removed[..], [Ok(Change::Applied), Ok(Change::Unchanged), Ok(Change::Unchanged), Ok(Change::Applied)]),
        "{removed:?}"
    );
    assert!(find_addr(&pair.a, "va", "192.0.2.53").is_none());
    assert!(find_addr(&pair.a, "va", "192.0.2.54").is_none());
    assert!(find_addr(&pair.a, "va", "192.0.2.50").is_some(), "not ours, not asked to remove");
}

#[test]
fn requests_of_many_tasks_woken_together_go_out_in_one_round() {
    // A takeover wakes every instance's executor at once. The daemon's executors are
    // local tasks, and a LocalSet runs only a few dozen of them before the runtime gets
    // its turn and with it the batcher, which must still gather them all.
    const TASKS: u32 = 500;
    let pair = Pair::new("br");
    let (rounds, applied) = pair.a.run(move || async move {
        tokio::task::LocalSet::new().run_until(gather_from_local_tasks(TASKS)).await
    });
    assert_eq!(applied, TASKS as usize);
    assert_eq!(rounds, 1, "{TASKS} requests made {rounds} rounds");
}

async fn gather_from_local_tasks(count: u32) -> (u64, usize) {
    let nl = Netlink::connect().unwrap();
    let (go, wait) = tokio::sync::watch::channel(false);
    let ready = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let tasks: Vec<_> = (0..count)
        .map(|i| {
            let (nl, mut wait, ready) = (nl.clone(), wait.clone(), ready.clone());
            tokio::task::spawn_local(async move {
                ready.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let _ = wait.wait_for(|go| *go).await;
                let entry = address(&format!("198.18.{}.{}/32", i >> 8, i & 0xff));
                nl.add_addresses(vec![(Device::Name("va".into()), entry)]).await
            })
        })
        .collect();
    let deadline = Instant::now() + LIMIT;
    while ready.load(std::sync::atomic::Ordering::SeqCst) < count {
        assert!(Instant::now() < deadline, "the tasks did not start");
        tokio::task::yield_now().await;
    }
    let before = nl.address_rounds();
    go.send(true).unwrap();
    let mut applied = 0;
    for task in tasks {
        let results = task.await.unwrap();
        applied += results.iter().filter(|r| matches!(r, Ok(Change::Applied))).count();
    }
    (nl.address_rounds() - before, applied)
}

#[test]
fn batch_of_10000_ipv4_addresses() {
    // 198.18.0.0/15 is the benchmarking range (RFC 2544); the link has no carrier.
    let (adds, del) = time_batch("b4", 10_000, 2_000, |i| {
        format!("198.18.{}.{}/32", i >> 8, i & 0xff)
    });
    let total: std::time::Duration = adds.iter().sum();
    println!(
        "10000 IPv4 addresses on one interface: add {total:?} (per 2000: {adds:?}), delete {del:?}"
    );
}

#[test]
fn batch_of_1000_ipv6_addresses() {
    let (adds, del) = time_batch("b6", 1_000, 1_000, |i| format!("2001:db8:100::{i:x}/128"));
    println!(
        "1000 IPv6 addresses on one interface: add {:?}, delete {del:?}",
        adds[0]
    );
}

#[test]
fn other_route_types_tos_and_ipv6_source_routing() {
    let pair = Pair::new("rk");
    let mut unreachable = route("198.51.100.0/25");
    unreachable.rtype = RouteType::Unreachable;
    let mut prohibit = route("198.51.100.128/25");
    prohibit.rtype = RouteType::Prohibit;
    prohibit.table = 7;
    let mut throw = route("203.0.113.0/24");
    throw.rtype = RouteType::Throw;
    throw.table = 7;
    let mut tos = route("203.0.113.0/24");
    tos.tos = Some(0x10);
    tos.dev = Some("va".into());
    let mut local = route("203.0.113.77/32");
    local.rtype = RouteType::Local;
    local.dev = Some("va".into());
    local.table = 100;
    let mut from = route("2001:db8:3::/48");
    from.from = Some(prefix("2001:db8:4::/48"));
    from.dev = Some("va".into());
    let all = vec![unreachable, prohibit, throw, tos, local, from];
    let results = {
        let all = all.clone();
        pair.a.run(move || async move {
            let nl = Netlink::connect().unwrap();
            let mut results = Vec::new();
            for r in &all {
                results.push(nl.add_route(r).await.map_err(|e| e.to_string()));
            }
            results
        })
    };
    assert!(
        results.iter().all(|r| *r == Ok(Change::Applied)),
        "{results:?}"
    );
    let v4 = pair.a.ip(&["route", "show", "table", "all"]);
    for want in [
        "unreachable 198.51.100.0/25 proto keepalived",
        "prohibit 198.51.100.128/25 table 7 proto keepalived",
        "throw 203.0.113.0/24 table 7 proto keepalived",
        "203.0.113.0/24 tos 0x10 dev va proto keepalived",
        "local 203.0.113.77 dev va table 100 proto keepalived scope host",
    ] {
        assert!(v4.contains(want), "missing '{want}' in:\n{v4}");
    }
    let v6 = pair.a.ip(&["-6", "route", "show"]);
    assert!(
        v6.contains("2001:db8:3::/48 from 2001:db8:4::/48 dev va proto keepalived"),
        "{v6}"
    );
    let deleted = pair.a.run(move || async move {
        let nl = Netlink::connect().unwrap();
        let mut deleted = Vec::new();
        for r in &all {
            deleted.push(nl.delete_route(r).await.map_err(|e| e.to_string()));
        }
        deleted
    });
    assert!(
        deleted.iter().all(|r| *r == Ok(Change::Applied)),
        "{deleted:?}"
    );
}
