use super::*;

const PEER: &str = "192.0.2.12";

fn backup(p: InstanceParams) -> Sim {
    let (sim, _) = Sim::started(vec![p]);
    sim
}

#[test]
fn backup_that_receives_priority_zero_takes_over_after_skew_time() {
    let mut sim = backup(params("VI_1", 51, 100));
    sim.advance_secs(1.0);
    sim.advert("VI_1", PEER, 200);
    sim.advance_secs(1.0);
    sim.advert("VI_1", PEER, 0);
    assert_eq!(sim.status("VI_1").stats.pri_zero_rcvd, 1);
    // skew for priority 100: 609375 µs
    assert_eq!(
        sim.router.next_deadline(),
        Some(sim.now + Duration::from_micros(609_375))
    );
    sim.advance(Duration::from_micros(609_374));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    sim.advance(Duration::from_micros(1));
    assert_eq!(sim.state("VI_1"), StateName::Master);
}

#[test]
fn backup_accepting_an_advert_restarts_the_master_down_timer() {
    let mut sim = backup(params("VI_1", 51, 100));
    for _ in 0..10 {
        sim.advance_secs(1.0);
        sim.advert("VI_1", PEER, 200);
        assert_eq!(
            sim.router.next_deadline(),
            Some(sim.now + Duration::from_micros(3_609_375))
        );
    }
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    let status = sim.status("VI_1");
    assert_eq!(status.master_addr, Some(ip(PEER)));
    assert_eq!(status.master_priority, 200);
    assert_eq!(status.stats.advert_rcvd, 10);
}

#[test]
fn backup_with_preempt_discards_a_lower_priority_advert_and_takes_over() {
    let mut sim = backup(params("VI_1", 51, 150));
    let deadline = sim.router.next_deadline();
    sim.advance_secs(1.0);
    let actions = sim.advert("VI_1", PEER, 100);
    assert!(has_log(
        &actions,
        "(VI_1) received lower priority (100) advert from 192.0.2.12 - discarding"
    ));
    assert_eq!(
        sim.router.next_deadline(),
        deadline,
        "the down timer is not reset"
    );
    sim.advance_secs(1.0);
    sim.advert("VI_1", PEER, 100);
    sim.run_until(deadline.unwrap());
    assert_eq!(sim.state("VI_1"), StateName::Master);
}

#[test]
fn nopreempt_backup_accepts_lower_priority_adverts() {
    let mut p = params("VI_1", 51, 150);
    p.nopreempt = true;
    let mut sim = backup(p);
    for _ in 0..10 {
        sim.advance_secs(1.0);
        sim.advert("VI_1", PEER, 100);
    }
    assert_eq!(sim.state("VI_1"), StateName::Backup);
}

#[test]
fn preempt_delay_keeps_accepting_lower_priority_adverts_until_it_expires() {
    let mut p = params("VI_1", 51, 150);
    p.preempt_delay = Duration::from_secs(5);
    let mut sim = backup(p);
    let start = sim.now;
    for _ in 0..5 {
        sim.advance_secs(1.0);
        sim.advert("VI_1", PEER, 100);
        assert_eq!(sim.state("VI_1"), StateName::Backup);
    }
    // The delay started with the first lower-priority advert (start + 1 s) and ends at
    // start + 6 s; adverts until then still reset the down timer.
    sim.advance_secs(0.9);
    let actions = sim.advert("VI_1", PEER, 100);
    assert!(!has_log(&actions, "discarding"));
    sim.advance_secs(0.2);
    let actions = sim.advert("VI_1", PEER, 100);
    assert!(
        has_log(&actions, "discarding"),
        "after the delay the advert is discarded"
    );
    let down = sim.router.next_deadline().unwrap();
    assert_eq!(down, start + Duration::from_micros(5_900_000 + 3_414_062));
    sim.run_until(down);
    assert_eq!(sim.state("VI_1"), StateName::Master);
}

#[test]
fn preempt_delay_is_cleared_by_an_advert_of_equal_or_higher_priority() {
    let mut p = params("VI_1", 51, 150);
    p.preempt_delay = Duration::from_secs(2);
    let mut sim = backup(p);
    sim.advance_secs(1.0);
    sim.advert("VI_1", PEER, 100); // starts the delay: until +3 s
    sim.advance_secs(1.0);
    sim.advert("VI_1", "192.0.2.13", 200); // clears it
    sim.advance_secs(1.0);
    sim.advert("VI_1", PEER, 100); // restarts it: until +5 s
    sim.advance_secs(1.5);
    let actions = sim.advert("VI_1", PEER, 100);
    assert!(
        !has_log(&actions, "discarding"),
        "a restarted delay is still running"
    );
}

#[test]
fn an_invalid_advert_never_resets_the_master_down_timer() {
    let mut sim = backup(params("VI_1", 51, 100));
    let deadline = sim.router.next_deadline();
    sim.advance_secs(1.0);
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.ttl = Some(254);
    let actions = sim.event(Event::AdvertReceived(rx));
    assert!(has_log(
        &actions,
        "(VI_1) invalid TTL/HL from 192.0.2.12. Received 254 and expect 255"
    ));
    assert_eq!(sim.router.next_deadline(), deadline);
    assert_eq!(sim.status("VI_1").stats.ip_ttl_err, 1);
    assert_eq!(sim.status("VI_1").stats.advert_rcvd, 0);
}

#[test]
fn rejections_are_logged_once_until_an_advert_is_accepted_from_a_new_master() {
    let mut sim = backup(params("VI_1", 51, 100));
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.ttl = Some(1);
    let first = sim.event(Event::AdvertReceived(rx.clone()));
    let second = sim.event(Event::AdvertReceived(rx.clone()));
    assert!(has_log(&first, "invalid TTL"));
    assert!(!has_log(&second, "invalid TTL"));
    assert_eq!(
        sim.status("VI_1").stats.ip_ttl_err,
        2,
        "every rejection is counted"
    );
    sim.advert("VI_1", PEER, 200);
    let third = sim.event(Event::AdvertReceived(rx));
    assert!(has_log(&third, "invalid TTL"));
}

#[test]
fn v2_advert_interval_mismatch_is_dropped() {
    let mut sim = backup(params("VI_1", 51, 100));
    let deadline = sim.router.next_deadline();
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.advert.interval_cs = 200;
    let actions = sim.event(Event::AdvertReceived(rx));
    assert!(has_log(
        &actions,
        "(VI_1) advertisement interval mismatch with 192.0.2.12 mine=1 sec rcv'd=2 sec"
    ));
    assert_eq!(sim.router.next_deadline(), deadline);
    assert_eq!(sim.status("VI_1").stats.advert_interval_err, 1);
}

#[test]
fn v3_backup_adopts_the_masters_advert_interval() {
    let mut sim = backup(v3(params("VI_1", 51, 100), 100));
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.advert.interval_cs = 50;
    let actions = sim.event(Event::AdvertReceived(rx));
    assert!(has_log(
        &actions,
        "advertisement interval mismatch ours = 100 centi-sec rcv'd=50 centi-sec"
    ));
    assert_eq!(sim.status("VI_1").master_adver_int, Centis(50));
    // 3 × 0.5 s + (256-100)·50 cs·625/16 µs
    assert_eq!(
        sim.router.next_deadline(),
        Some(sim.now + Duration::from_micros(1_500_000 + 304_687))
    );
}

#[test]
fn vip_list_mismatch_is_logged_counted_and_accepted() {
    let mut sim = backup(params("VI_1", 51, 100));
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.advert.addrs = vec![ip("192.0.2.99")];
    let actions = sim.event(Event::AdvertReceived(rx.clone()));
    assert!(has_log(&actions, "(VI_1) ip address associated with VRID 51 not present in advert from 192.0.2.12: 192.0.2.1"));
    assert_eq!(sim.status("VI_1").stats.addr_list_err, 1);
    assert_eq!(sim.status("VI_1").master_addr, Some(ip(PEER)), "accepted");
    rx.advert.addrs.push(ip("192.0.2.98"));
    let actions = sim.event(Event::AdvertReceived(rx));
    assert!(has_log(&actions, "(VI_1) expected 1 VIPs but received 2"));
    assert_eq!(sim.status("VI_1").stats.addr_list_err, 2);
}

#[test]
fn skip_check_adv_addr_skips_the_vip_check_only_for_the_known_master() {
    let mut p = params("VI_1", 51, 100);
    p.skip_check_adv_addr = true;
    let mut sim = backup(p);
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.advert.addrs = vec![ip("192.0.2.99")];
    sim.event(Event::AdvertReceived(rx.clone()));
    assert_eq!(
        sim.status("VI_1").stats.addr_list_err,
        1,
        "first advert: new master, checked"
    );
    sim.event(Event::AdvertReceived(rx.clone()));
    assert_eq!(
        sim.status("VI_1").stats.addr_list_err,
        1,
        "same master: skipped"
    );
    rx.src = ip("192.0.2.13");
    sim.event(Event::AdvertReceived(rx));
    assert_eq!(
        sim.status("VI_1").stats.addr_list_err,
        2,
        "another master: checked"
    );
}

#[test]
fn wrong_password_is_an_auth_failure_and_is_ignored() {
    let mut p = params("VI_1", 51, 100);
    p.auth = AuthSpec::Pass(*b"secret\0\0");
    let mut sim = backup(p);
    let deadline = sim.router.next_deadline();
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.advert.auth = AuthData::Pass(*b"wrong\0\0\0");
    let actions = sim.event(Event::AdvertReceived(rx.clone()));
    assert!(has_log(
        &actions,
        "(VI_1) received an invalid passwd from 192.0.2.12!"
    ));
    assert_eq!(sim.status("VI_1").stats.auth_failure, 1);
    rx.advert.auth = AuthData::None;
    let actions = sim.event(Event::AdvertReceived(rx));
    assert!(has_log(
        &actions,
        "(VI_1) received a 0 auth from 192.0.2.12, expecting 1!"
    ));
    assert_eq!(sim.status("VI_1").stats.authtype_mismatch, 1);
    assert_eq!(sim.router.next_deadline(), deadline);
    sim.advert("VI_1", PEER, 200);
    assert_eq!(
        sim.status("VI_1").stats.advert_rcvd,
        1,
        "the right password is accepted"
    );
}

#[test]
fn wrong_version_is_ignored() {
    let mut sim = backup(params("VI_1", 51, 100));
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.advert.version = 3;
    let actions = sim.event(Event::AdvertReceived(rx));
    assert!(has_log(
        &actions,
        "(VI_1) wrong VRRP version from 192.0.2.12. Received 3 and expect 2"
    ));
    assert_eq!(sim.status("VI_1").stats.advert_rcvd, 0);
}

fn unicast(mut p: InstanceParams) -> InstanceParams {
    p.unicast_peers = vec![crate::config::model::UnicastPeer {
        addr: ip(PEER),
        min_ttl: None,
        max_ttl: None,
    }];
    p
}

#[test]
fn ttl_is_not_checked_for_unicast() {
    let mut sim = backup(unicast(params("VI_1", 51, 100)));
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.ttl = Some(60);
    sim.event(Event::AdvertReceived(rx));
    assert_eq!(sim.status("VI_1").stats.advert_rcvd, 1);
}

#[test]
fn unicast_source_check_rejects_strangers_and_ttls_out_of_range() {
    let mut p = unicast(params("VI_1", 51, 100));
    p.check_unicast_src = true;
    p.unicast_peers[0].min_ttl = Some(250);
    let mut sim = backup(p);
    let mut rx = sim.received("VI_1", "192.0.2.66", 200);
    let actions = sim.event(Event::AdvertReceived(rx.clone()));
    assert!(has_log(
        &actions,
        "(VI_1) unicast source address 192.0.2.66 not a unicast peer"
    ));
    rx.src = ip(PEER);
    rx.ttl = Some(64);
    let actions = sim.event(Event::AdvertReceived(rx.clone()));
    assert!(has_log(
        &actions,
        "(VI_1) TTL/HL 64 from 192.0.2.12 not in range [250, 255]"
    ));
    assert_eq!(sim.status("VI_1").stats.ip_ttl_err, 1);
    assert_eq!(sim.status("VI_1").master_addr, None);
    rx.ttl = Some(255);
    sim.event(Event::AdvertReceived(rx));
    assert_eq!(sim.status("VI_1").master_addr, Some(ip(PEER)));
}

#[test]
fn multicast_advert_for_a_unicast_instance_is_an_address_list_error() {
    let mut sim = backup(unicast(params("VI_1", 51, 100)));
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.dst = ip("224.0.0.18");
    let actions = sim.event(Event::AdvertReceived(rx));
    assert!(has_log(
        &actions,
        "(VI_1) Expected unicast packet but received multicast packet from 192.0.2.12"
    ));
    assert_eq!(sim.status("VI_1").stats.addr_list_err, 1);
    assert_eq!(sim.status("VI_1").stats.advert_rcvd, 0);
}

#[test]
fn packet_errors_are_counted_per_instance() {
    let mut sim = backup(params("VI_1", 51, 100));
    let deadline = sim.router.next_deadline();
    let to = Recipient::Socket {
        vrid: 51,
        family: Family::Inet,
        interface: Some("eth0".into()),
    };
    sim.event(Event::PacketError {
        to: to.clone(),
        kind: PacketErrorKind::Length,
    });
    sim.event(Event::PacketError {
        to: to.clone(),
        kind: PacketErrorKind::InvalidType,
    });
    sim.event(Event::PacketError {
        to,
        kind: PacketErrorKind::AuthFailure,
    });
    let stats = sim.status("VI_1").stats;
    assert_eq!(
        (
            stats.packet_len_err,
            stats.invalid_type_rcvd,
            stats.auth_failure
        ),
        (1, 1, 1)
    );
    assert_eq!(sim.router.next_deadline(), deadline);
}

#[test]
fn adverts_and_packet_errors_are_ignored_in_fault() {
    let mut sim = backup(params("VI_1", 51, 100));
    sim.event(Event::InterfaceDown("eth0".into()));
    assert_eq!(sim.state("VI_1"), StateName::Fault);
    let actions = sim.advert("VI_1", PEER, 0);
    assert!(actions.is_empty());
    sim.event(Event::PacketError {
        to: Recipient::Instance(sim.id("VI_1")),
        kind: PacketErrorKind::Length,
    });
    let stats = sim.status("VI_1").stats;
    assert_eq!(
        (stats.advert_rcvd, stats.pri_zero_rcvd, stats.packet_len_err),
        (0, 0, 0)
    );
}

#[test]
fn socket_adverts_are_demultiplexed_by_vrid_family_and_interface() {
    let mut other = params("VI_2", 52, 100);
    other.vips = vec![vip("192.0.2.2/24")].into_iter().map(Vip::from).collect();
    let mut on_eth1 = params("VI_3", 51, 100);
    on_eth1.rx_interface = Some("eth1".into());
    on_eth1.interface = Some("eth1".into());
    on_eth1.trackers.clear();
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 100), other, on_eth1]);
    let mut rx = sim.received("VI_1", PEER, 200);
    rx.to = Recipient::Socket {
        vrid: 51,
        family: Family::Inet,
        interface: Some("eth0".into()),
    };
    sim.event(Event::AdvertReceived(rx.clone()));
    assert_eq!(sim.status("VI_1").stats.advert_rcvd, 1);
    assert_eq!(sim.status("VI_2").stats.advert_rcvd, 0);
    assert_eq!(sim.status("VI_3").stats.advert_rcvd, 0);
    rx.to = Recipient::Socket {
        vrid: 77,
        family: Family::Inet,
        interface: Some("eth0".into()),
    };
    let actions = sim.event(Event::AdvertReceived(rx));
    assert!(has_log(
        &actions,
        "Unknown VRID(77) received on interface(eth0)"
    ));
}

#[test]
fn unicast_instances_sharing_a_vrid_are_told_apart_by_peer() {
    let a = unicast(params("VI_A", 51, 100));
    let mut b = params("VI_B", 51, 100);
    b.unicast_peers = vec![crate::config::model::UnicastPeer {
        addr: ip("192.0.2.13"),
        min_ttl: None,
        max_ttl: None,
    }];
    let (mut sim, _) = Sim::started(vec![a, b]);
    let mut rx = sim.received("VI_B", "192.0.2.13", 200);
    rx.to = Recipient::Socket {
        vrid: 51,
        family: Family::Inet,
        interface: Some("eth0".into()),
    };
    sim.event(Event::AdvertReceived(rx));
    assert_eq!(sim.status("VI_A").stats.advert_rcvd, 0);
    assert_eq!(sim.status("VI_B").stats.advert_rcvd, 1);
}

#[test]
fn an_ipv6_unicast_instance_silently_drops_multicast_adverts() {
    let mut p = v3(params("VI_6", 51, 100), 100);
    p.family = Family::Inet6;
    p.vips = vec![vip("2001:db8::1/64")].into_iter().map(Vip::from).collect();
    p.mcast_group = ip("ff02::12");
    p.unicast_peers = vec![crate::config::model::UnicastPeer {
        addr: ip("2001:db8::12"),
        min_ttl: None,
        max_ttl: None,
    }];
    let mut sim = backup(p);
    let mut rx = sim.received("VI_6", "2001:db8::12", 200);
    rx.dst = ip("ff02::12");
    sim.event(Event::AdvertReceived(rx.clone()));
    let stats = sim.status("VI_6").stats;
    assert_eq!((stats.addr_list_err, stats.advert_rcvd), (0, 0));
    rx.dst = ip("2001:db8::11");
    sim.event(Event::AdvertReceived(rx));
    assert_eq!(sim.status("VI_6").stats.advert_rcvd, 1);
}

#[test]
fn a_v3_checksum_error_names_the_option_that_settles_it() {
    let mut sim = backup(v3(params("VI_1", 51, 100), 100));
    let to = Recipient::Instance(sim.id("VI_1"));
    let actions = sim.event(Event::PacketError {
        to,
        kind: PacketErrorKind::Checksum,
    });
    assert!(has_log(&actions, "(VI_1) Invalid VRRPv3 checksum - the peer may omit the pseudo-header: set v3_checksum_as_v2"));
}
