use super::*;

const PEER: &str = "192.0.2.12";

fn tracked(
    mut p: InstanceParams,
    object: TrackedObject,
    weight: i32,
    reverse: bool,
) -> InstanceParams {
    p.trackers.push(TrackerSpec {
        object,
        weight,
        reverse,
    });
    p
}

fn script(name: &str) -> TrackedObject {
    TrackedObject::Script(name.into())
}

fn set_script(sim: &mut Sim, name: &str, ok: bool) -> Vec<Action> {
    sim.event(Event::TrackerUpdate {
        object: script(name),
        status: if ok {
            TrackerStatus::ScriptOk
        } else {
            TrackerStatus::ScriptFailed
        },
    })
}

#[test]
fn effective_priority_is_base_plus_tracker_weights_clamped_to_1_254() {
    let p = tracked(params("VI_1", 51, 240), script("up"), 30, false);
    let p = tracked(p, script("down"), -50, false);
    let p = tracked(p, TrackedObject::Interface("eth1".into()), 10, false);
    let (mut sim, _) = Sim::started(vec![p]);
    assert_eq!(
        sim.status("VI_1").effective_priority,
        250,
        "scripts that have not run yet count 0"
    );
    let actions = set_script(&mut sim, "up", true);
    assert!(has_log(
        &actions,
        "(VI_1) Changing effective priority from 250 to 254"
    ));
    assert_eq!(
        sim.status("VI_1").effective_priority,
        254,
        "240 + 30 + 10 clamps to 254"
    );
    set_script(&mut sim, "down", false);
    assert_eq!(sim.status("VI_1").effective_priority, 230);
    sim.event(Event::InterfaceDown("eth1".into()));
    assert_eq!(sim.status("VI_1").effective_priority, 220);
    let p = tracked(params("VI_2", 52, 20), script("big"), -100, false);
    let (mut sim, _) = Sim::started(vec![p]);
    set_script(&mut sim, "big", false);
    assert_eq!(sim.status("VI_2").effective_priority, 1, "never below 1");
}

#[test]
fn reverse_weights_subtract_when_the_tracked_object_is_up() {
    let p = tracked(
        params("VI_1", 51, 100),
        TrackedObject::Interface("eth1".into()),
        10,
        true,
    );
    let (mut sim, _) = Sim::started(vec![p]);
    assert_eq!(sim.status("VI_1").effective_priority, 90);
    sim.event(Event::InterfaceDown("eth1".into()));
    assert_eq!(sim.status("VI_1").effective_priority, 100);
}

#[test]
fn owner_priority_never_changes() {
    let p = tracked(params("VI_1", 51, 255), script("chk"), -50, false);
    let (mut sim, _) = Sim::started(vec![p]);
    let actions = set_script(&mut sim, "chk", false);
    assert!(actions.is_empty());
    assert_eq!(sim.status("VI_1").effective_priority, 255);
}

#[test]
fn a_priority_change_is_carried_by_the_next_advert() {
    let p = tracked(params("VI_1", 51, 100), script("chk"), -20, false);
    let (mut sim, _) = Sim::started(vec![p]);
    sim.run_until(sim.router.next_deadline().unwrap());
    assert_eq!(sim.state("VI_1"), StateName::Master);
    sim.advance_secs(0.2);
    let actions = set_script(&mut sim, "chk", false);
    assert!(
        adverts(&actions).is_empty(),
        "no extra advert on a priority change"
    );
    let actions = sim.advance_secs(0.8);
    assert_eq!(adverts(&actions), vec![80]);
}

#[test]
fn a_priority_change_shifts_a_backups_down_deadline_by_the_change_in_skew() {
    let p = tracked(params("VI_1", 51, 100), script("chk"), 56, false);
    let (mut sim, _) = Sim::started(vec![p]);
    let before = sim.router.next_deadline().unwrap();
    sim.advance_secs(1.0);
    set_script(&mut sim, "chk", true);
    // skew 100: 609375 µs; skew 156: 390625 µs
    assert_eq!(
        sim.router.next_deadline(),
        Some(before - Duration::from_micros(609_375 - 390_625))
    );
}

#[test]
fn a_priority_change_is_reported_when_notify_priority_changes_is_set() {
    let mut p = tracked(params("VI_1", 51, 100), script("chk"), -10, false);
    p.notify.priority_changes = true;
    let (mut sim, _) = Sim::started(vec![p]);
    let actions = set_script(&mut sim, "chk", false);
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::PriorityChanged {
            master: false,
            priority: 90,
            ..
        }
    )));
}

#[test]
fn a_failed_weight_zero_tracker_sends_a_master_to_fault() {
    let p = tracked(params("VI_1", 51, 100), script("chk"), 0, false);
    let mut sim = Sim::new(vec![p]);
    set_script(&mut sim, "chk", true);
    sim.event(Event::Startup);
    sim.run_until(sim.router.next_deadline().unwrap());
    let actions = set_script(&mut sim, "chk", false);
    assert_eq!(sim.state("VI_1"), StateName::Fault);
    assert_eq!(adverts(&actions), vec![0]);
}

#[test]
fn leaving_fault_goes_to_backup_with_the_full_down_timer() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 100)]);
    sim.event(Event::InterfaceDown("eth0".into()));
    sim.advance_secs(10.0);
    let actions = sim.event(Event::InterfaceUp("eth0".into()));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    assert!(has_log(&actions, "(VI_1) Entering BACKUP STATE"));
    assert_eq!(
        notifies(&actions),
        vec![("VI_1".into(), NotifyState::Backup, 100)]
    );
    assert_eq!(
        sim.router.next_deadline(),
        Some(sim.now + Duration::from_micros(3_609_375))
    );
}

#[test]
fn an_owner_configured_master_leaves_fault_straight_to_master() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 255)]);
    sim.event(Event::InterfaceDown("eth0".into()));
    assert_eq!(sim.state("VI_1"), StateName::Fault);
    let actions = sim.event(Event::InterfaceUp("eth0".into()));
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(adverts(&actions), vec![255]);
}

#[test]
fn an_owner_configured_backup_leaves_fault_to_backup() {
    let mut p = params("VI_1", 51, 255);
    p.initial_state = InitialState::Backup;
    let (mut sim, _) = Sim::started(vec![p]);
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    sim.event(Event::InterfaceDown("eth0".into()));
    sim.event(Event::InterfaceUp("eth0".into()));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
}

#[test]
fn a_reverse_weight_zero_interface_is_a_fault_while_up() {
    let p = tracked(
        params("VI_1", 51, 100),
        TrackedObject::Interface("eth9".into()),
        0,
        true,
    );
    let mut sim = Sim::new(vec![p]);
    sim.event(Event::InterfaceDown("eth9".into()));
    sim.event(Event::Startup);
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    sim.event(Event::InterfaceUp("eth9".into()));
    assert_eq!(sim.state("VI_1"), StateName::Fault);
}

#[test]
fn track_file_values_are_multiplied_by_the_weight_and_minus_254_is_a_fault() {
    let file = TrackedObject::File("f".into());
    let p = tracked(params("VI_1", 51, 100), file.clone(), 2, false);
    let (mut sim, _) = Sim::started(vec![p]);
    sim.event(Event::TrackerUpdate {
        object: file.clone(),
        status: TrackerStatus::FileValue(10),
    });
    assert_eq!(sim.status("VI_1").effective_priority, 120);
    sim.event(Event::TrackerUpdate {
        object: file.clone(),
        status: TrackerStatus::FileValue(-20),
    });
    assert_eq!(sim.status("VI_1").effective_priority, 60);
    sim.event(Event::TrackerUpdate {
        object: file.clone(),
        status: TrackerStatus::FileValue(-127),
    });
    assert_eq!(sim.state("VI_1"), StateName::Fault);
    sim.event(Event::TrackerUpdate {
        object: file,
        status: TrackerStatus::FileValue(0),
    });
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    assert_eq!(sim.status("VI_1").effective_priority, 100);
}

#[test]
fn a_weight_zero_track_file_fails_on_any_non_zero_value() {
    let file = TrackedObject::File("f".into());
    let p = tracked(params("VI_1", 51, 100), file.clone(), 0, false);
    let (mut sim, _) = Sim::started(vec![p]);
    sim.event(Event::TrackerUpdate {
        object: file.clone(),
        status: TrackerStatus::FileValue(3),
    });
    assert_eq!(sim.state("VI_1"), StateName::Fault);
}

#[test]
fn a_lost_source_address_is_a_fault() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 100)]);
    let id = sim.id("VI_1");
    sim.event(Event::SourceAddress {
        instance: id,
        addr: None,
    });
    assert_eq!(sim.state("VI_1"), StateName::Fault);
}

#[test]
fn unicast_without_peers_and_unicast_fault_no_peer_stays_in_fault() {
    let mut p = params("VI_1", 51, 100);
    p.unicast_fault_no_peer = true;
    let (sim, _) = Sim::started(vec![p]);
    assert_eq!(sim.state("VI_1"), StateName::Fault);
}

#[test]
fn a_unicast_instance_leaving_fault_announces_its_source_address() {
    let mut p = params("VI_1", 51, 100);
    p.unicast_peers = vec![crate::config::model::UnicastPeer {
        addr: ip(PEER),
        min_ttl: None,
        max_ttl: None,
    }];
    let (mut sim, _) = Sim::started(vec![p]);
    sim.event(Event::InterfaceDown("eth0".into()));
    let actions = sim.event(Event::InterfaceUp("eth0".into()));
    assert!(actions.iter().any(|a| matches!(
        a,
        Action::SendGarp {
            kind: GarpKind::UnicastSource,
            repeat: 1,
            ..
        }
    )));
}

#[test]
fn a_repeated_fact_report_changes_nothing() {
    let p = tracked(params("VI_1", 51, 100), script("chk"), -10, false);
    let (mut sim, _) = Sim::started(vec![p]);
    set_script(&mut sim, "chk", false);
    let again = set_script(&mut sim, "chk", false);
    assert!(again.is_empty());
    assert_eq!(sim.status("VI_1").effective_priority, 90);
    assert!(sim.event(Event::InterfaceUp("eth0".into())).is_empty());
}
