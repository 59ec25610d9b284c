use super::*;

fn member(name: &str, vrid: u8, priority: u8, vip_addr: &str) -> InstanceParams {
    let mut p = params(name, vrid, priority);
    p.vips = vec![vip(vip_addr)].into_iter().map(Vip::from).collect();
    p.sync_group = Some("G".into());
    p.trackers.push(TrackerSpec {
        object: TrackedObject::Interface(format!("trk-{name}")),
        weight: 0,
        reverse: false,
    });
    p
}

fn group(a_prio: u8, b_prio: u8) -> Sim {
    Sim::with_config(RouterConfig {
        instances: vec![
            member("A", 51, a_prio, "192.0.2.1/24"),
            member("B", 52, b_prio, "192.0.2.2/24"),
        ],
        groups: vec![SyncGroupParams {
            name: "G".into(),
            members: vec!["A".into(), "B".into()],
            smtp_alert: false,
        }],
        ..Default::default()
    })
}

fn both_master() -> Sim {
    let mut sim = group(100, 100);
    sim.event(Event::Startup);
    sim.run_until(sim.now + Duration::from_secs(4));
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Master, StateName::Master)
    );
    sim
}

#[test]
fn startup_notifies_the_group_before_its_members() {
    let mut sim = group(100, 100);
    let actions = sim.event(Event::Startup);
    assert_eq!(
        notifies(&actions),
        vec![
            ("G".into(), NotifyState::Backup, 0),
            ("A".into(), NotifyState::Backup, 100),
            ("B".into(), NotifyState::Backup, 100),
        ]
    );
}

#[test]
fn a_member_goes_master_only_when_every_member_wants_master() {
    let mut sim = group(100, 200);
    let start = sim.now;
    sim.event(Event::Startup);
    // B's down timer (3.22 s) expires first, but A does not want MASTER yet.
    let actions = sim.run_until(start + Duration::from_micros(3_609_374));
    assert!(adverts(&actions).is_empty());
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Backup, StateName::Backup)
    );
    // A's expires at 3.61 s: now both want MASTER and go together.
    let actions = sim.run_until(start + Duration::from_micros(3_609_375));
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Master, StateName::Master)
    );
    assert!(has_log(
        &actions,
        "VRRP_Group(G) Syncing instances to MASTER state"
    ));
    assert_eq!(
        notifies(&actions),
        vec![
            ("A".into(), NotifyState::Master, 100),
            ("B".into(), NotifyState::Master, 200),
            ("G".into(), NotifyState::Master, 0),
        ]
    );
}

#[test]
fn a_master_member_yielding_takes_the_whole_group_to_backup() {
    let mut sim = both_master();
    let actions = sim.advert("A", "192.0.2.12", 250);
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Backup, StateName::Backup)
    );
    assert!(has_log(
        &actions,
        "VRRP_Group(G) Syncing instances to BACKUP state"
    ));
    assert_eq!(
        notifies(&actions).last(),
        Some(&("G".into(), NotifyState::Backup, 0))
    );
}

#[test]
fn a_fault_in_one_member_pulls_the_group_to_fault_and_recovery_brings_it_back_to_backup() {
    let mut sim = both_master();
    let actions = sim.event(Event::InterfaceDown("trk-A".into()));
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Fault, StateName::Fault)
    );
    assert_eq!(
        adverts(&actions),
        vec![0, 0],
        "both masters announce priority 0"
    );
    assert!(has_log(
        &actions,
        "VRRP_Group(G) Syncing instances to FAULT state"
    ));
    assert_eq!(
        notifies(&actions).last(),
        Some(&("G".into(), NotifyState::Fault, 0))
    );

    let actions = sim.event(Event::InterfaceUp("trk-A".into()));
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Backup, StateName::Backup)
    );
    assert_eq!(
        notifies(&actions).last(),
        Some(&("G".into(), NotifyState::Backup, 0))
    );
}

#[test]
fn a_group_stays_in_fault_until_every_member_has_recovered() {
    let mut sim = both_master();
    sim.event(Event::InterfaceDown("trk-A".into()));
    sim.event(Event::InterfaceDown("trk-B".into()));
    sim.event(Event::InterfaceUp("trk-A".into()));
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Fault, StateName::Fault)
    );
    sim.event(Event::InterfaceUp("trk-B".into()));
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Backup, StateName::Backup)
    );
}

#[test]
fn a_member_already_in_the_groups_state_is_not_notified_again() {
    let mut sim = both_master();
    sim.event(Event::InterfaceDown("trk-A".into()));
    let actions = sim.event(Event::InterfaceDown("trk-B".into()));
    assert!(notifies(&actions).is_empty(), "{actions:?}");
}

#[test]
fn a_master_receiving_a_lower_priority_advert_refreshes_arp_for_the_whole_group() {
    let mut sim = both_master();
    let actions = sim.advert("A", "192.0.2.12", 50);
    let ids: Vec<InstanceId> = actions
        .iter()
        .filter_map(|a| match a {
            Action::SendGarp {
                instance,
                kind: GarpKind::LowerPriority,
                ..
            } => Some(*instance),
            _ => None,
        })
        .collect();
    assert_eq!(ids, vec![sim.id("A"), sim.id("B")]);
}
