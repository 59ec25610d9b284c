//! VMAC (macvlan) life cycle, sysctls set and restored, stale cleanup, GARP from a VMAC.

mod net_util;

use kad::config::model::Family;
use kad::net::arp::{garp_frame, AnnounceTarget, Announcer, Burst, Spacing};
use kad::net::netlink::Netlink;
use kad::net::vmac::{default_mac, default_name, VmacSpec, Vmacs};
use kad::net::NetError;
use net_util::{hex, Capture, Netns, Pair, LIMIT};
use serde_json::Value;
use std::time::Duration;

fn link(ns: &Netns, dev: &str) -> Value {
    ns.ip_json(&["-d", "link", "show", "dev", dev])[0].clone()
}

fn spec(name: &str, vrid: u8, family: Family) -> VmacSpec {
    VmacSpec {
        name: name.into(),
        parent: "va".into(),
        mac: default_mac(family, vrid),
        group: None,
        family,
        ipv6: family == Family::Inet6,
        strict_arp: false,
    }
}

#[test]
fn ipv4_vmac_is_created_configured_reused_and_removed() {
    let pair = Pair::new("vm");
    let ns = &pair.a;
    ns.ip(&["link", "set", "va", "group", "7"]);
    ns.sysctl_write("net.ipv4.conf.all.rp_filter", "1");
    ns.sysctl_write("net.ipv4.conf.default.rp_filter", "0");
    ns.sysctl_write("net.ipv4.conf.va.rp_filter", "0");
    ns.sysctl_write("net.ipv4.conf.va.arp_ignore", "0");
    ns.sysctl_write("net.ipv4.conf.va.arp_filter", "0");

    let name = default_name(None, 51).unwrap();
    let (first, second, fixed) = {
        let name = name.clone();
        let ns_name = ns.name.clone();
        ns.run(move || async move {
            let mut vmacs = Vmacs::new(Netlink::connect().unwrap());
            let first = vmacs
                .ensure(&spec(&name, 51, Family::Inet), true)
                .await
                .unwrap();
            let second = vmacs
                .ensure(&spec(&name, 51, Family::Inet), true)
                .await
                .unwrap();
            // Someone changed the MAC and the mode: the next ensure puts them back.
            net_util::ip(&[
                "-n",
                &ns_name,
                "link",
                "set",
                &name,
                "address",
                "00:00:5e:00:01:63",
            ]);
            net_util::ip(&[
                "-n", &ns_name, "link", "set", &name, "type", "macvlan", "mode", "bridge",
            ]);
            let fixed = vmacs
                .ensure(&spec(&name, 51, Family::Inet), true)
                .await
                .unwrap();
            (first, second, fixed)
        })
    };
    assert!(first.created && !second.created && !fixed.created);
    assert_eq!(
        (first.index, second.index, fixed.index),
        (first.index, first.index, first.index)
    );

    let l = link(ns, "vrrp.51");
    assert_eq!(l["address"], "00:00:5e:00:01:33");
    assert_eq!(l["linkinfo"]["info_kind"], "macvlan");
    assert_eq!(l["linkinfo"]["info_data"]["mode"], "private");
    assert_eq!(l["link"], "va");
    assert_eq!(l["group"], "7", "group copied from the parent");
    assert!(l["flags"].as_array().unwrap().iter().any(|f| f == "UP"));
    for (key, want) in [
        ("net.ipv4.conf.vrrp/51.arp_ignore", "1"),
        ("net.ipv4.conf.vrrp/51.accept_local", "1"),
        ("net.ipv4.conf.vrrp/51.rp_filter", "0"),
        ("net.ipv4.conf.vrrp/51.promote_secondaries", "1"),
        ("net.ipv6.conf.vrrp/51.disable_ipv6", "1"),
        ("net.ipv4.conf.va.arp_ignore", "1"),
        ("net.ipv4.conf.va.arp_filter", "1"),
        ("net.ipv4.conf.all.rp_filter", "0"),
        ("net.ipv4.conf.default.rp_filter", "1"),
        ("net.ipv4.conf.va.rp_filter", "1"),
    ] {
        assert_eq!(ns.sysctl_read(key), want, "{key}");
    }
}

#[test]
fn sysctls_are_restored_when_the_last_vmac_goes() {
    let pair = Pair::new("vr");
    let ns = &pair.a;
    ns.sysctl_write("net.ipv4.conf.all.rp_filter", "2");
    ns.sysctl_write("net.ipv4.conf.default.rp_filter", "0");
    ns.sysctl_write("net.ipv4.conf.va.rp_filter", "1");
    ns.sysctl_write("net.ipv4.conf.va.arp_ignore", "0");
    ns.sysctl_write("net.ipv4.conf.va.arp_filter", "0");
    let ns_name = ns.name.clone();
    let (after_one, after_both, after_restore, errors) = ns.run(move || async move {
        let read = |key: &str| {
            net_util::run("ip", &["netns", "exec", &ns_name, "sysctl", "-n", key])
                .trim()
                .to_string()
        };
        let mut vmacs = Vmacs::new(Netlink::connect().unwrap());
        let mut a = vmacs
            .ensure(&spec("vrrp.51", 51, Family::Inet), true)
            .await
            .unwrap();
        let mut b = vmacs
            .ensure(&spec("vrrp.52", 52, Family::Inet), false)
            .await
            .unwrap();
        vmacs.remove(&mut a).await.unwrap();
        let after_one = (
            read("net.ipv4.conf.va.arp_ignore"),
            read("net.ipv4.conf.va.arp_filter"),
        );
        vmacs.remove(&mut b).await.unwrap();
        let after_both = (
            read("net.ipv4.conf.va.arp_ignore"),
            read("net.ipv4.conf.va.arp_filter"),
        );
        let errors = vmacs.restore_all().len();
        let after_restore = (
            read("net.ipv4.conf.all.rp_filter"),
            read("net.ipv4.conf.default.rp_filter"),
            read("net.ipv4.conf.va.rp_filter"),
        );
        (after_one, after_both, after_restore, errors)
    });
    assert_eq!(
        after_one,
        ("1".into(), "1".into()),
        "the other VMAC still needs the parent settings"
    );
    assert_eq!(after_both, ("0".into(), "0".into()));
    assert_eq!(after_restore, ("2".into(), "0".into(), "1".into()));
    assert_eq!(errors, 0);
    assert!(
        !ns.ip(&["link", "show"]).contains("vrrp.5"),
        "both VMACs deleted"
    );
}

#[test]
fn ipv6_vmac_keeps_ipv6_without_an_automatic_link_local() {
    let pair = Pair::new("v6");
    let ns = &pair.a;
    let vmac = ns.run(|| async {
        let mut vmacs = Vmacs::new(Netlink::connect().unwrap());
        vmacs
            .ensure(&spec("vrrp6.51", 51, Family::Inet6), true)
            .await
            .unwrap()
    });
    assert_eq!(vmac.mac, [0, 0, 0x5e, 0, 2, 51]);
    let l = link(ns, "vrrp6.51");
    assert_eq!(l["address"], "00:00:5e:00:02:33");
    assert_eq!(l["inet6_addr_gen_mode"], "none", "{l}");
    assert_eq!(ns.sysctl_read("net.ipv6.conf.vrrp6/51.disable_ipv6"), "0");
    let addrs = ns.ip_json(&["-6", "addr", "show", "dev", "vrrp6.51"]);
    let infos = addrs[0]["addr_info"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert!(
        infos.is_empty(),
        "no EUI-64 link-local from the virtual MAC: {infos:?}"
    );
    // keepalived does not touch the ARP sysctls for IPv6 VMACs.
    assert_eq!(ns.sysctl_read("net.ipv4.conf.va.arp_ignore"), "0");
}

#[test]
fn conflicts_and_missing_parent_are_errors() {
    let pair = Pair::new("vc");
    pair.a.ip(&[
        "link", "add", "vrrp.9", "type", "veth", "peer", "name", "vz",
    ]);
    let (conflict, no_parent, too_long) = pair.a.run(|| async {
        let mut vmacs = Vmacs::new(Netlink::connect().unwrap());
        let conflict = vmacs
            .ensure(&spec("vrrp.9", 9, Family::Inet), false)
            .await
            .err();
        let mut orphan = spec("vrrp.10", 10, Family::Inet);
        orphan.parent = "nosuchdev0".into();
        let no_parent = vmacs.ensure(&orphan, false).await.err();
        let too_long = vmacs
            .ensure(&spec("vrrp-too-long.10", 10, Family::Inet), false)
            .await
            .err();
        (conflict, no_parent, too_long)
    });
    assert!(
        matches!(conflict, Some(NetError::Invalid(ref m)) if m.contains("conflicts")),
        "{conflict:?}"
    );
    assert!(
        matches!(no_parent, Some(NetError::NoSuchInterface(ref n)) if n == "nosuchdev0"),
        "{no_parent:?}"
    );
    assert!(
        matches!(too_long, Some(NetError::Invalid(_))),
        "{too_long:?}"
    );
}

#[test]
fn stale_vmacs_are_found_by_name_and_mac() {
    let pair = Pair::new("vs");
    let ns = &pair.a;
    ns.ip(&[
        "link",
        "add",
        "vrrp.77",
        "link",
        "va",
        "address",
        "00:00:5e:00:01:4d",
        "type",
        "macvlan",
        "mode",
        "private",
    ]);
    ns.ip(&[
        "link",
        "add",
        "vrrp6.78",
        "link",
        "va",
        "address",
        "00:00:5e:00:02:4e",
        "type",
        "macvlan",
        "mode",
        "bridge",
    ]);
    ns.ip(&[
        "link",
        "add",
        "vrrp.79",
        "link",
        "va",
        "address",
        "02:00:00:00:00:79",
        "type",
        "macvlan",
    ]);
    ns.ip(&[
        "link",
        "add",
        "mine.80",
        "link",
        "va",
        "address",
        "00:00:5e:00:01:50",
        "type",
        "macvlan",
    ]);
    ns.ip(&[
        "link",
        "add",
        "vrrp.81",
        "link",
        "va",
        "address",
        "00:00:5e:00:01:51",
        "type",
        "macvlan",
    ]);
    let mut removed = ns.run(|| async {
        let vmacs = Vmacs::new(Netlink::connect().unwrap());
        vmacs.remove_stale(&["vrrp"], &["vrrp.81"]).await.unwrap()
    });
    removed.sort();
    assert_eq!(removed, ["vrrp.77", "vrrp6.78"]);
    let left = ns.ip(&["link", "show"]);
    assert!(
        left.contains("vrrp.79@va") && left.contains("mine.80@va") && left.contains("vrrp.81@va"),
        "{left}"
    );
}

#[test]
fn garp_from_a_vmac_carries_the_virtual_mac() {
    let pair = Pair::new("vg");
    let wire = Capture::start(&pair.b, "vb", 1, LIMIT, |f| {
        f.len() >= 42 && f[12..14] == [0x08, 0x06] && f[28..32] == [192, 0, 2, 100]
    });
    let vmac = pair.a.run(|| async {
        let nl = Netlink::connect().unwrap();
        let mut vmacs = Vmacs::new(nl.clone());
        let vmac = vmacs
            .ensure(&spec("vrrp.51", 51, Family::Inet), true)
            .await
            .unwrap();
        let announcer = Announcer::start(Spacing {
            garp: Duration::ZERO,
            gna: Duration::ZERO,
        })
        .unwrap();
        announcer.announce(Burst {
            owner: 51,
            targets: vec![AnnounceTarget {
                ifindex: vmac.index,
                mac: vmac.mac,
                base_ifindex: vmac.parent_index,
                base_ifname: vmac.parent_name.as_str().into(),
                address: "192.0.2.100".parse().unwrap(),
            }],
            repeat: 1,
        });
        tokio::time::timeout(LIMIT, announcer.flush())
            .await
            .unwrap();
        vmac
    });
    let frames = wire.wait();
    assert_eq!(frames.len(), 1);
    assert_eq!(
        hex(&frames[0].bytes),
        hex(&garp_frame(vmac.mac, "192.0.2.100".parse().unwrap()).unwrap())
    );
    assert_eq!(hex(&frames[0].bytes[6..12]), "00005e000133");
}

#[test]
fn a_vmac_can_stay_down_until_master() {
    let pair = Pair::new("vd");
    let ns_name = pair.a.name.clone();
    let (down, up, down_again) = pair.a.run(move || async move {
        let state = || {
            net_util::ip(&["-n", &ns_name, "-j", "link", "show", "dev", "vrrp.51"])
                .contains("\"UP\"")
        };
        let mut vmacs = Vmacs::new(Netlink::connect().unwrap());
        let vmac = vmacs
            .ensure(&spec("vrrp.51", 51, Family::Inet), false)
            .await
            .unwrap();
        let down = state();
        vmacs.set_up(&vmac, true).await.unwrap();
        let up = state();
        vmacs.set_up(&vmac, false).await.unwrap();
        (down, up, state())
    });
    assert_eq!((down, up, down_again), (false, true, false));
}
