//! IPSEC-AH sequence numbers: keepalived's one counter per instance for the adverts it
//! sends and the replay check of those it receives.

use super::*;

const PEER: &str = "192.0.2.12";
const LOWER_PEER: &str = "192.0.2.5";

fn ah(name: &str, priority: u8) -> InstanceParams {
    InstanceParams {
        auth: AuthSpec::Ah,
        ..params(name, 51, priority)
    }
}

/// An advert whose AH header passed the integrity check and carries `seq`.
fn ah_advert(sim: &mut Sim, src: &str, priority: u8, seq: Option<u32>) -> Vec<Action> {
    let rx = Received {
        ah_sequence: seq,
        ..sim.received("VI_1", src, priority)
    };
    sim.event(Event::AdvertReceived(rx))
}

fn sequences(actions: &[Action]) -> Vec<Option<u32>> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert { ah_sequence, .. } => Some(*ah_sequence),
            _ => None,
        })
        .collect()
}

#[test]
fn each_ah_advert_carries_the_next_sequence_number_from_1() {
    let (mut sim, actions) = master(ah("VI_1", 100));
    assert_eq!(sequences(&actions), vec![Some(1)]);
    let until = sim.now + Duration::from_secs(2);
    let actions = sim.run_until(until);
    assert_eq!(sequences(&actions), vec![Some(2), Some(3)]);
}

#[test]
fn adverts_without_ah_carry_no_sequence_number() {
    let (_, actions) = master(params("VI_1", 51, 100));
    assert_eq!(sequences(&actions), vec![None]);
}

#[test]
fn a_unicast_ah_advert_is_one_sequence_number_for_every_peer() {
    let mut p = ah("VI_1", 100);
    p.unicast_peers = ["192.0.2.12", "192.0.2.13"]
        .iter()
        .map(|a| crate::config::model::UnicastPeer {
            addr: ip(a),
            min_ttl: None,
            max_ttl: None,
        })
        .collect();
    let (_, actions) = master(p);
    let sends: Vec<(Destinations, Option<u32>)> = actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert {
                destinations,
                ah_sequence,
                ..
            } => Some((destinations.clone(), *ah_sequence)),
            _ => None,
        })
        .collect();
    assert_eq!(
        sends,
        vec![(
            Destinations::Unicast(vec![ip("192.0.2.12"), ip("192.0.2.13")]),
            Some(1)
        )]
    );
}

#[test]
fn a_backup_drops_an_already_seen_ah_sequence_as_an_authentication_failure() {
    let (mut sim, _) = Sim::started(vec![ah("VI_1", 100)]);
    ah_advert(&mut sim, PEER, 200, Some(5));
    assert_eq!(sim.status("VI_1").stats.advert_rcvd, 1);
    let deadline = sim.router.next_deadline().unwrap();

    sim.advance_secs(0.5);
    let actions = ah_advert(&mut sim, PEER, 200, Some(5));
    assert!(has_log(
        &actions,
        "(VI_1) IPSEC-AH : sequence number 5 already processed. Packet dropped. Local(5)"
    ));
    sim.advance_secs(0.5);
    let actions = ah_advert(&mut sim, PEER, 200, Some(3));
    assert!(logs(&actions).is_empty(), "logged once: {actions:?}");
    let stats = sim.status("VI_1").stats;
    assert_eq!((stats.advert_rcvd, stats.auth_failure), (1, 2));
    // A replay does not keep the backup waiting.
    assert_eq!(sim.router.next_deadline(), Some(deadline));
    sim.run_until(deadline);
    assert_eq!(sim.state("VI_1"), StateName::Master);
}

#[test]
fn an_ah_advert_without_a_sequence_is_an_auth_type_mismatch() {
    let (mut sim, _) = Sim::started(vec![ah("VI_1", 100)]);
    ah_advert(&mut sim, PEER, 200, None);
    let stats = sim.status("VI_1").stats;
    assert_eq!((stats.advert_rcvd, stats.authtype_mismatch), (0, 1));
}

#[test]
fn a_new_master_continues_from_the_last_sequence_it_received() {
    let (mut sim, _) = Sim::started(vec![ah("VI_1", 100)]);
    ah_advert(&mut sim, PEER, 200, Some(1000));
    let deadline = sim.router.next_deadline().unwrap();
    let actions = sim.run_until(deadline);
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(sequences(&actions), vec![Some(1001)]);
}

#[test]
fn a_master_hearing_a_lower_priority_continues_past_the_senders_sequence() {
    let (mut sim, _) = master(ah("VI_1", 100));
    let actions = ah_advert(&mut sim, LOWER_PEER, 50, Some(500));
    assert!(has_log(
        &actions,
        "(VI_1) IPSEC-AH : Syncing seq_num - Increment seq"
    ));
    assert_eq!(sequences(&actions), vec![Some(502)]);
    assert_eq!(sim.state("VI_1"), StateName::Master);
}

#[test]
fn a_reload_keeps_the_ah_sequence() {
    let (mut sim, _) = master(ah("VI_1", 100));
    let actions = sim.event(Event::Reload(Box::new(RouterConfig {
        instances: vec![ah("VI_1", 100)],
        ..Default::default()
    })));
    assert_eq!(sequences(&actions), vec![Some(2)]);
}

#[test]
fn an_exhausted_sequence_repeats_its_last_number_until_the_next_election_restarts_it() {
    let (mut sim, _) = Sim::started(vec![ah("VI_1", 100)]);
    ah_advert(&mut sim, PEER, 200, Some(0xFFFF_FFFD));
    let deadline = sim.router.next_deadline().unwrap();
    let actions = sim.run_until(deadline);
    assert_eq!(sequences(&actions), vec![Some(0xFFFF_FFFE)]);
    let actions = sim.advance_secs(1.0);
    assert_eq!(sequences(&actions), vec![Some(0xFFFF_FFFE)]);

    sim.event(Event::InterfaceDown("eth0".into()));
    sim.event(Event::InterfaceUp("eth0".into()));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    let deadline = sim.router.next_deadline().unwrap();
    let actions = sim.run_until(deadline);
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(sequences(&actions), vec![Some(1)]);
}
