use super::*;

#[test]
fn owner_configured_master_becomes_master_immediately_at_startup() {
    let (sim, actions) = Sim::started(vec![params("VI_1", 51, 255)]);
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(adverts(&actions), vec![255]);
    assert!(has_log(&actions, "(VI_1) Entering MASTER STATE"));
    assert!(
        !has_log(&actions, "BACKUP"),
        "an owner does not pass through BACKUP (init)"
    );
    assert_eq!(
        notifies(&actions),
        vec![("VI_1".into(), NotifyState::Master, 255)]
    );
}

#[test]
fn backup_at_startup_waits_the_full_master_down_interval() {
    let (mut sim, actions) = Sim::started(vec![params("VI_1", 51, 100)]);
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    assert!(has_log(&actions, "(VI_1) Entering BACKUP STATE (init)"));
    assert_eq!(
        notifies(&actions),
        vec![("VI_1".into(), NotifyState::Backup, 100)]
    );
    // 3 × 1 s + (256-100)/256 s = 3.609375 s
    let start = sim.now;
    assert_eq!(
        sim.router.next_deadline(),
        Some(start + Duration::from_micros(3_609_375))
    );
    sim.advance(Duration::from_micros(3_609_374));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    let actions = sim.advance(Duration::from_micros(1));
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(adverts(&actions), vec![100]);
}

#[test]
fn state_master_below_priority_255_still_starts_as_backup() {
    let mut p = params("VI_1", 51, 200);
    p.initial_state = InitialState::Master;
    let (mut sim, _) = Sim::started(vec![p]);
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    sim.advance_secs(3.218);
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    sim.advance_secs(0.001);
    assert_eq!(
        sim.state("VI_1"),
        StateName::Master,
        "priority 200 takes over after 3 s + 0.21875 s"
    );
}

#[test]
fn v3_startup_down_interval_uses_the_configured_interval_and_v3_skew() {
    // keepalived observation: priority 100, advert 0.5 s → about 1.8 s.
    let (sim, _) = Sim::started(vec![v3(params("VI_1", 51, 100), 50)]);
    assert_eq!(
        sim.router.next_deadline(),
        Some(sim.now + Duration::from_micros(1_500_000 + 304_687))
    );
}

#[test]
fn instance_whose_interface_is_down_starts_in_fault() {
    let mut sim = Sim::new(vec![params("VI_1", 51, 100)]);
    sim.event(Event::InterfaceDown("eth0".into()));
    let actions = sim.event(Event::Startup);
    assert_eq!(sim.state("VI_1"), StateName::Fault);
    assert!(has_log(&actions, "(VI_1) Entering FAULT STATE (init)"));
    assert_eq!(
        notifies(&actions),
        vec![("VI_1".into(), NotifyState::Fault, 100)]
    );
    assert_eq!(sim.router.next_deadline(), None, "FAULT has no timers");
}

#[test]
fn dont_track_primary_ignores_the_instance_interface() {
    let mut p = params("VI_1", 51, 100);
    p.trackers.clear();
    let mut sim = Sim::new(vec![p]);
    sim.event(Event::InterfaceDown("eth0".into()));
    sim.event(Event::Startup);
    assert_eq!(sim.state("VI_1"), StateName::Backup);
}

#[test]
fn instance_without_a_source_address_starts_in_fault() {
    let mut sim = Sim::with_config(RouterConfig {
        instances: vec![params("VI_1", 51, 100)],
        ..Default::default()
    });
    let id = sim.id("VI_1");
    sim.event(Event::SourceAddress {
        instance: id,
        addr: None,
    });
    sim.event(Event::Startup);
    assert_eq!(sim.state("VI_1"), StateName::Fault);
    let actions = sim.event(Event::SourceAddress {
        instance: id,
        addr: Some(ip(OUR_ADDR)),
    });
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    assert!(has_log(&actions, "(VI_1) Entering BACKUP STATE"));
}

#[test]
fn weight_zero_script_holds_the_instance_in_fault_silently_until_its_first_result() {
    let mut p = params("VI_1", 51, 100);
    p.trackers.push(TrackerSpec {
        object: TrackedObject::Script("chk".into()),
        weight: 0,
        reverse: false,
    });
    let config = RouterConfig {
        instances: vec![p],
        initial_trackers: vec![InitialTracker {
            object: TrackedObject::Script("chk".into()),
            status: TrackerStatus::ScriptInit,
        }],
        ..Default::default()
    };
    let mut sim = Sim::with_config(config);
    let actions = sim.event(Event::Startup);
    assert_eq!(sim.state("VI_1"), StateName::Fault);
    assert!(
        notifies(&actions).is_empty(),
        "waiting for scripts is not a fault to report"
    );
    let actions = sim.event(Event::TrackerUpdate {
        object: TrackedObject::Script("chk".into()),
        status: TrackerStatus::ScriptOk,
    });
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    assert_eq!(
        notifies(&actions),
        vec![("VI_1".into(), NotifyState::Backup, 100)]
    );
}

#[test]
fn init_fail_script_starts_the_instance_in_fault_and_reports_it() {
    let mut p = params("VI_1", 51, 100);
    p.trackers.push(TrackerSpec {
        object: TrackedObject::Script("chk".into()),
        weight: 0,
        reverse: false,
    });
    let config = RouterConfig {
        instances: vec![p],
        initial_trackers: vec![InitialTracker {
            object: TrackedObject::Script("chk".into()),
            status: TrackerStatus::ScriptFailed,
        }],
        ..Default::default()
    };
    let mut sim = Sim::with_config(config);
    let actions = sim.event(Event::Startup);
    assert_eq!(sim.state("VI_1"), StateName::Fault);
    assert_eq!(
        notifies(&actions),
        vec![("VI_1".into(), NotifyState::Fault, 100)]
    );
}

#[test]
fn startup_removes_leftover_addresses_and_installs_backup_routes() {
    let mut p = params("VI_1", 51, 100);
    p.virtual_routes = vec![route("0.0.0.0/0", "203.0.113.254")].into();
    p.backup_routes = vec![route("0.0.0.0/0", "192.0.2.1")].into();
    let (_, actions) = Sim::started(vec![p]);
    assert_eq!(
        kinds(&actions),
        vec![
            "InstallBackupRoutes",
            "RemoveVips",
            "StateChanged",
            "Notify"
        ]
    );
}

#[test]
fn events_before_startup_change_facts_but_not_states() {
    let mut sim = Sim::new(vec![params("VI_1", 51, 100)]);
    let actions = sim.event(Event::InterfaceDown("eth0".into()));
    assert!(actions.is_empty());
    assert_eq!(sim.state("VI_1"), StateName::Init);
    assert_eq!(sim.router.next_deadline(), None);
    let actions = sim.advert("VI_1", "192.0.2.12", 200);
    assert!(actions.is_empty(), "adverts are ignored in INIT");
}

#[test]
fn a_second_startup_is_ignored() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 100)]);
    let deadline = sim.router.next_deadline();
    sim.advance_secs(1.0);
    assert!(sim.event(Event::Startup).is_empty());
    assert_eq!(sim.router.next_deadline(), deadline);
}
