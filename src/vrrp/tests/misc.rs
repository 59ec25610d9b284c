use super::*;

use crate::config::model::{Config, GlobalDefs, SmtpServer, VrrpInstance};

const PEER: &str = "192.0.2.12";

fn mails(actions: &[Action]) -> Vec<NotifyState> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Mail { state, .. } => Some(*state),
            _ => None,
        })
        .collect()
}

fn to_master(sim: &mut Sim) -> Vec<Action> {
    let deadline = sim.router.next_deadline().unwrap();
    sim.run_until(deadline)
}

#[test]
fn mail_is_sent_on_each_new_state_but_not_for_faults_with_no_email_faults() {
    let mut p = params("VI_1", 51, 100);
    p.notify.smtp_alert = true;
    let mut sim = Sim::with_config(RouterConfig {
        instances: vec![p],
        options: RouterOptions {
            no_email_faults: true,
            ..Default::default()
        },
        ..Default::default()
    });
    assert_eq!(mails(&sim.event(Event::Startup)), vec![NotifyState::Backup]);
    assert_eq!(mails(&to_master(&mut sim)), vec![NotifyState::Master]);
    assert!(mails(&sim.event(Event::InterfaceDown("eth0".into()))).is_empty());
    // keepalived's last_email_state was not updated by the FAULT, and it is still
    // MASTER, so BACKUP is mailed; a second BACKUP would not be.
    assert_eq!(
        mails(&sim.event(Event::InterfaceUp("eth0".into()))),
        vec![NotifyState::Backup]
    );
    assert!(mails(&sim.event(Event::InterfaceDown("eth0".into()))).is_empty());
    assert!(mails(&sim.event(Event::InterfaceUp("eth0".into()))).is_empty());
}

#[test]
fn a_deleted_instance_is_reported_as_fault_without_notify_deleted() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 100), params("VI_2", 52, 100)]);
    let keep_only_second = RouterConfig {
        instances: vec![params("VI_2", 52, 100)],
        ..Default::default()
    };
    let actions = sim.event(Event::Reload(Box::new(keep_only_second)));
    assert_eq!(
        notifies(&actions),
        vec![("VI_1".into(), NotifyState::Fault, 100)]
    );
    assert!(sim.router.find("VI_1").is_none());

    let mut with_deleted = params("VI_2", 52, 100);
    with_deleted.notify.deleted = true;
    let actions = sim.event(Event::Reload(Box::new(RouterConfig {
        instances: vec![with_deleted],
        ..Default::default()
    })));
    assert!(
        notifies(&actions).is_empty(),
        "matched instance: no notification"
    );
    let actions = sim.event(Event::Reload(Box::default()));
    assert_eq!(
        notifies(&actions),
        vec![("VI_2".into(), NotifyState::Deleted, 100)]
    );
}

#[test]
fn a_deleted_master_announces_priority_zero_and_releases_its_addresses() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 100)]);
    to_master(&mut sim);
    let actions = sim.event(Event::Reload(Box::default()));
    assert_eq!(
        kinds(&actions),
        vec!["SendAdvert", "RemoveVips", "StateChanged", "Notify"]
    );
    assert_eq!(adverts(&actions), vec![0]);
}

#[test]
fn reload_keeps_a_matched_master_and_drops_addresses_no_longer_configured() {
    let mut old = params("VI_1", 51, 100);
    old.vips = vec![vip("192.0.2.1/24"), vip("192.0.2.2/24")].into_iter().map(Vip::from).collect();
    let (mut sim, _) = Sim::started(vec![old]);
    to_master(&mut sim);
    let id = sim.id("VI_1");
    let mut new = params("RENAMED", 51, 100);
    new.vips = vec![vip("192.0.2.1/24"), vip("192.0.2.3/24")].into_iter().map(Vip::from).collect();
    let actions = sim.event(Event::Reload(Box::new(RouterConfig {
        instances: vec![new],
        ..Default::default()
    })));
    assert_eq!(
        sim.router.find("RENAMED"),
        Some(id),
        "matched by VRID/interface/family, not by name"
    );
    assert_eq!(sim.state("RENAMED"), StateName::Master);
    assert_eq!(
        kinds(&actions),
        vec!["RemoveVips", "SendAdvert", "AddVips", "SendGarp"]
    );
    match &actions
        .iter()
        .find(|a| matches!(a, Action::RemoveVips { .. }))
    {
        Some(Action::RemoveVips { vips, .. }) => assert_eq!(vips[..], [Vip::from(vip("192.0.2.2/24"))]),
        other => panic!("{other:?}"),
    }
    assert_eq!(
        sim.status("RENAMED").stats.become_master,
        1,
        "statistics survive a reload"
    );
}

#[test]
fn instances_are_found_by_id_after_a_reload_reorders_and_removes_some() {
    let (mut sim, _) = Sim::started(vec![params("A", 51, 100), params("B", 52, 100), params("C", 53, 100)]);
    let (a, c) = (sim.id("A"), sim.id("C"));
    sim.event(Event::Reload(Box::new(RouterConfig {
        instances: vec![params("C", 53, 100), params("D", 54, 100), params("A", 51, 100)],
        ..Default::default()
    })));
    let d = sim.id("D");
    let name = |sim: &Sim, id| sim.router.params(id).map(|p| p.name.to_string());
    assert_eq!(name(&sim, a).as_deref(), Some("A"));
    assert_eq!(name(&sim, c).as_deref(), Some("C"));
    assert_eq!(name(&sim, d).as_deref(), Some("D"));
    assert_eq!(sim.router.find("B"), None);
    assert_eq!(sim.router.instance_ids().len(), 3);
}

#[test]
fn reload_starts_a_new_instance_as_at_startup() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 100)]);
    let first = sim.id("VI_1");
    let config = RouterConfig {
        instances: vec![params("VI_1", 51, 100), params("VI_NEW", 60, 255)],
        ..Default::default()
    };
    let actions = sim.event(Event::Reload(Box::new(config)));
    let new_id = sim.id("VI_NEW");
    assert_ne!(new_id, first);
    assert_eq!(
        sim.state("VI_NEW"),
        StateName::Fault,
        "no source address reported yet"
    );
    let actions2 = sim.event(Event::SourceAddress {
        instance: new_id,
        addr: Some(ip(OUR_ADDR)),
    });
    assert_eq!(sim.state("VI_NEW"), StateName::Master);
    assert!(has_log(&actions, "(VI_NEW) Entering FAULT STATE (init)"));
    assert_eq!(adverts(&actions2), vec![255]);
}

#[test]
fn a_deleted_vip_is_restored_by_default() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 100)]);
    to_master(&mut sim);
    let id = sim.id("VI_1");
    let actions = sim.event(Event::OwnedAddressDeleted {
        instance: id,
        addr: ip("192.0.2.1"),
    });
    assert_eq!(kinds(&actions), vec!["AddVips"]);
    assert_eq!(sim.state("VI_1"), StateName::Master);
}

#[test]
fn a_deleted_vip_sends_the_master_to_backup_in_keepalived_mode() {
    let mut sim = Sim::with_config(RouterConfig {
        instances: vec![params("VI_1", 51, 100)],
        options: RouterOptions {
            backup_on_owned_deletion: true,
            ..Default::default()
        },
        ..Default::default()
    });
    sim.event(Event::Startup);
    to_master(&mut sim);
    let id = sim.id("VI_1");
    let actions = sim.event(Event::OwnedAddressDeleted {
        instance: id,
        addr: ip("192.0.2.1"),
    });
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    assert_eq!(adverts(&actions), vec![0]);
}

#[test]
fn a_deleted_backup_route_is_restored_while_not_master() {
    let mut p = params("VI_1", 51, 100);
    p.backup_routes = vec![route("0.0.0.0/0", "192.0.2.1")].into();
    let (mut sim, _) = Sim::started(vec![p]);
    let id = sim.id("VI_1");
    let key = route("0.0.0.0/0", "192.0.2.1").key();
    let actions = sim.event(Event::OwnedRouteDeleted { instance: id, key });
    assert_eq!(kinds(&actions), vec!["InstallBackupRoutes"]);
}

#[test]
fn a_deleted_no_track_vip_is_left_alone() {
    let mut p = params("VI_1", 51, 100);
    p.vips = [Vip::from(AddressEntry { no_track: true, ..vip("192.0.2.1/24") })].into();
    let (mut sim, _) = Sim::started(vec![p]);
    to_master(&mut sim);
    let id = sim.id("VI_1");
    assert!(sim
        .event(Event::OwnedAddressDeleted {
            instance: id,
            addr: ip("192.0.2.1")
        })
        .is_empty());
}

#[test]
fn a_clock_stepping_back_does_not_move_deadlines() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 100)]);
    let deadline = sim.router.next_deadline();
    sim.now = Timestamp::from_micros(0);
    sim.advert("VI_1", PEER, 200);
    assert!(sim.router.next_deadline() >= deadline);
}

fn base_instance(name: &str) -> VrrpInstance {
    let p = params(name, 51, 100);
    let base = VrrpInstance::new(name.into(), &GlobalDefs::default());
    VrrpInstance {
        interface: Some("eth0".into()),
        vrid: 51,
        priority: 100,
        advert_int: Duration::from_secs(1),
        version: 2,
        auth: Some(crate::config::model::Auth::Pass(b"secret".to_vec())),
        vips: p.vips.iter().map(Vip::to_entry).collect(),
        track_interfaces: vec![crate::config::model::TrackInterface {
            name: "eth1".into(),
            weight: -20,
            reverse: false,
        }],
        track_scripts: vec![crate::config::model::TrackRef {
            name: "chk".into(),
            weight: None,
            reverse: None,
        }],
        garp: crate::config::model::GarpSettings {
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            ..base.garp.clone()
        },
        smtp_alert: Some(true),
        ..base
    }
}

fn script_def(name: &str, weight: i32) -> crate::config::model::VrrpScript {
    crate::config::model::VrrpScript {
        name: name.into(),
        span: Span::default(),
        script: Default::default(),
        interval: Duration::from_secs(1),
        timeout: None,
        weight,
        weight_reverse: false,
        rise: 1,
        fall: 1,
        init_fail: true,
    }
}

#[test]
fn params_from_config_resolve_trackers_auth_and_mail() {
    let mut config = Config {
        instances: vec![base_instance("VI_1")],
        scripts: vec![script_def("chk", 30)],
        ..Default::default()
    };
    config.global.smtp_server = Some(SmtpServer {
        host: "127.0.0.1".into(),
        port: 25,
    });
    config.global.notification_email = vec!["ops@example.net".into()];
    let rc = RouterConfig::from_config(&config, RouterOptions::default()).unwrap();
    let p = &rc.instances[0];
    assert_eq!(p.auth, AuthSpec::Pass(*b"secret\0\0"));
    assert_eq!(p.advert_interval, Centis(100));
    assert!(p.notify.smtp_alert);
    assert_eq!(
        p.trackers,
        vec![
            TrackerSpec {
                object: TrackedObject::Interface("eth0".into()),
                weight: 0,
                reverse: false
            },
            TrackerSpec {
                object: TrackedObject::Interface("eth1".into()),
                weight: -20,
                reverse: false
            },
            TrackerSpec {
                object: TrackedObject::Script("chk".into()),
                weight: 30,
                reverse: false
            },
        ]
    );
    assert_eq!(
        rc.initial_trackers,
        vec![InitialTracker {
            object: TrackedObject::Script("chk".into()),
            status: TrackerStatus::ScriptFailed
        }]
    );
}

#[test]
fn params_from_config_drop_weights_of_owners_and_zero_them_in_sync_groups() {
    let mut owner = base_instance("OWNER");
    owner.priority = 255;
    let mut member = base_instance("MEMBER");
    member.vrid = 52;
    member.sync_group = Some("G".into());
    let config = Config {
        instances: vec![owner, member],
        scripts: vec![script_def("chk", 30)],
        sync_groups: vec![crate::config::model::SyncGroup {
            name: "G".into(),
            span: Span::default(),
            members: vec!["MEMBER".into()],
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            notify: Default::default(),
            smtp_alert: None,
            sync_group_tracking_weight: false,
            notify_priority_changes: None,
        }],
        ..Default::default()
    };
    let rc = RouterConfig::from_config(&config, RouterOptions::default()).unwrap();
    let objects = |p: &InstanceParams| {
        p.trackers
            .iter()
            .map(|t| (t.object.clone(), t.weight))
            .collect::<Vec<_>>()
    };
    assert_eq!(
        objects(&rc.instances[0]),
        vec![(TrackedObject::Interface("eth0".into()), 0)]
    );
    assert_eq!(
        objects(&rc.instances[1]),
        vec![
            (TrackedObject::Interface("eth0".into()), 0),
            (TrackedObject::Interface("eth1".into()), 0)
        ]
    );
    assert!(!rc.instances[1].notify.smtp_alert, "no relay configured");
}

#[test]
fn instances_share_their_interface_name_and_equal_garp_settings() {
    use std::sync::Arc;
    let first = base_instance("FIRST");
    let mut second = base_instance("SECOND");
    second.vrid = 52;
    let mut third = base_instance("THIRD");
    third.vrid = 53;
    third.interface = Some("eth2".into());
    third.garp.master_repeat += 1;
    let config = Config {
        instances: vec![first, second, third],
        scripts: vec![script_def("chk", 30)],
        ..Default::default()
    };
    let rc = RouterConfig::from_config(&config, RouterOptions::default()).unwrap();
    let [a, b, c] = &rc.instances[..] else { panic!("three instances expected") };
    let (a_if, b_if) = (a.interface.as_ref().unwrap(), b.interface.as_ref().unwrap());
    assert!(Arc::ptr_eq(a_if, b_if));
    assert!(Arc::ptr_eq(a.rx_interface.as_ref().unwrap(), a_if));
    assert_eq!(c.interface.as_deref(), Some("eth2"));
    assert!(Arc::ptr_eq(&a.garp, &b.garp));
    assert!(!Arc::ptr_eq(&a.garp, &c.garp));
    assert_eq!(c.garp.master_repeat, a.garp.master_repeat + 1);
}

#[test]
fn params_from_config_report_an_unknown_script() {
    let config = Config {
        instances: vec![base_instance("VI_1")],
        ..Default::default()
    };
    assert_eq!(
        RouterConfig::from_config(&config, RouterOptions::default()),
        Err(ParamsError::UnknownScript {
            instance: "VI_1".into(),
            script: "chk".into()
        })
    );
}

/// One recorded step of a run: the event given at a time and what came out.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Step {
    at: Timestamp,
    event: Event,
    actions: Vec<Action>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
struct Recording {
    config: RouterConfig,
    steps: Vec<Step>,
}

fn record_failover() -> Recording {
    let mut p = params("VI_INT", 151, 101);
    p.vips = vec![vip("192.0.2.1/24"), vip("203.0.113.10/24")].into_iter().map(Vip::from).collect();
    p.virtual_routes = vec![route("0.0.0.0/0", "203.0.113.254")].into();
    p.backup_routes = vec![route("0.0.0.0/0", "192.0.2.1")].into();
    let config = RouterConfig {
        instances: vec![p],
        ..Default::default()
    };
    let mut router = Router::new(config.clone());
    let id = router.find("VI_INT").unwrap();
    let peer_advert = |priority| {
        Event::AdvertReceived(Received {
            to: Recipient::Instance(id),
            advert: Advert {
                version: 2,
                vrid: 151,
                priority,
                interval_cs: 100,
                auth: AuthData::None,
                addrs: vec![ip("192.0.2.1"), ip("203.0.113.10")],
            },
            src: ip(PEER),
            dst: ip("224.0.0.18"),
            ttl: Some(255),
            ah_sequence: None,
        })
    };
    let script = vec![
        (
            0.0,
            Event::SourceAddress {
                instance: id,
                addr: Some(ip(OUR_ADDR)),
            },
        ),
        (0.0, Event::Startup),
        (1.0, peer_advert(200)),
        (2.0, peer_advert(200)),
        (3.0, peer_advert(0)),
        (3.7, Event::Tick),
        (4.7, Event::Tick),
        (5.0, peer_advert(50)),
        (6.0, Event::InterfaceDown("eth0".into())),
        (7.0, Event::InterfaceUp("eth0".into())),
        (8.0, Event::Shutdown),
    ];
    let steps = script
        .into_iter()
        .map(|(t, event)| {
            let at = secs(t);
            let actions = router.handle(at, event.clone());
            Step { at, event, actions }
        })
        .collect();
    Recording { config, steps }
}

/// Replays `testdata/replay_failover.json`, a recorded run, and checks every step gives
/// the same actions. Set KAD_WRITE_REPLAY=1 to re-record it after an intended change.
#[test]
fn a_recorded_run_replays_to_the_same_actions() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/src/vrrp/testdata/replay_failover.json"
    );
    if std::env::var_os("KAD_WRITE_REPLAY").is_some() {
        let json = serde_json::to_string_pretty(&record_failover()).unwrap();
        std::fs::write(path, json + "\n").unwrap();
    }
    let recording: Recording =
        serde_json::from_str(&std::fs::read_to_string(path).unwrap()).unwrap();
    assert!(recording.steps.iter().any(|s| s
        .actions
        .iter()
        .any(|a| matches!(a, Action::AddVips { .. }))));
    let mut router = Router::new(recording.config);
    for (n, step) in recording.steps.into_iter().enumerate() {
        let actions = router.handle(step.at, step.event);
        assert_eq!(actions, step.actions, "step {n} at {:?}", step.at);
    }
}

#[test]
fn many_instances_due_together_each_advertise_once_per_interval_in_order() {
    // 600 instances on three interfaces start together, so their master-down timers, and
    // then their advert timers, all fall due at the same instants.
    let instances: Vec<InstanceParams> = (0..600u32)
        .map(|i| {
            let mut p = params(&format!("VI_{i}"), (i / 3 + 1) as u8, 100);
            let ifname = format!("eth{}", i % 3);
            p.interface = Some(ifname.as_str().into());
            p.rx_interface = Some(ifname.as_str().into());
            p.trackers[0].object = TrackedObject::Interface(ifname);
            p
        })
        .collect();
    let (mut sim, _) = Sim::started(instances);
    let first = sim.router.next_deadline().unwrap();
    sim.run_until(first);
    let ids: Vec<InstanceId> = sim.router.instance_ids();
    assert!((0..600).all(|i| sim.state(&format!("VI_{i}")) == StateName::Master));
    let advert_senders = |actions: &[Action]| -> Vec<InstanceId> {
        actions
            .iter()
            .filter_map(|a| match a {
                Action::SendAdvert { instance, .. } => Some(*instance),
                _ => None,
            })
            .collect()
    };
    for _ in 0..3 {
        let due = sim.router.next_deadline().unwrap();
        assert_eq!(
            due,
            sim.now + Duration::from_secs(1),
            "the next adverts are one interval away"
        );
        let sent = advert_senders(&sim.run_until(due));
        assert_eq!(sent, ids, "each instance once, in instance order");
    }
    // One instance leaving MASTER drops out of the advert schedule; the others stay on it.
    sim.advert("VI_17", PEER, 200);
    assert_eq!(sim.state("VI_17"), StateName::Backup);
    let due = sim.router.next_deadline().unwrap();
    let sent = advert_senders(&sim.run_until(due));
    assert_eq!(sent.len(), ids.len() - 1);
    assert!(!sent.contains(&sim.id("VI_17")));
}

fn on(addr: &str, dev: &str, use_vmac: bool) -> AddressEntry {
    AddressEntry {
        dev: Some(dev.into()),
        use_vmac,
        ..vip(addr)
    }
}

/// An instance on eth0 with its own VMAC, a per-VIP VMAC on eth1 (two addresses), two
/// plain addresses on eth2 and an excluded one on eth3.
fn extra_if_instance(all: bool, xmit_base: bool) -> VrrpInstance {
    let mut inst = base_instance("VI_1");
    inst.use_vmac = Some(crate::config::model::Vmac {
        ifname: "vrrp.51".into(),
        name_given: false,
        mac: None,
        xmit_base,
        group: None,
    });
    inst.vips = vec![
        vip("192.0.2.1/24"),
        on("198.51.100.10/24", "eth1", true),
        on("198.51.100.11/24", "eth1", true),
        on("203.0.113.10/24", "eth2", false),
        on("203.0.113.11/24", "eth2", false),
    ];
    inst.excluded_vips = vec![on("203.0.113.50/24", "eth3", false)];
    inst.garp.extra_if = Some(crate::config::model::GarpExtraIf {
        all,
        interval: Duration::from_secs(30),
    });
    inst
}

fn extra_addresses(inst: VrrpInstance) -> Option<Vec<String>> {
    let config = Config {
        instances: vec![inst.clone()],
        scripts: vec![script_def("chk", 30)],
        ..Default::default()
    };
    let p = InstanceParams::from_config(&inst, &config).unwrap();
    p.garp.extra_interfaces.clone().map(|x| {
        assert_eq!(x.interval, Duration::from_secs(30));
        x.addresses.iter().map(|a| a.prefix.to_string()).collect()
    })
}

#[test]
fn garp_extra_if_announces_the_first_address_of_each_vmac_that_sends_no_adverts() {
    assert_eq!(
        extra_addresses(extra_if_instance(false, false)),
        Some(vec!["198.51.100.10/24".into()])
    );
}

#[test]
fn garp_extra_if_all_adds_the_plain_interfaces_and_excluded_addresses() {
    assert_eq!(
        extra_addresses(extra_if_instance(true, false)),
        Some(vec![
            "198.51.100.10/24".into(),
            "203.0.113.10/24".into(),
            "203.0.113.50/24".into()
        ])
    );
}

#[test]
fn garp_extra_if_includes_the_instance_vmac_when_adverts_leave_from_its_parent() {
    assert_eq!(
        extra_addresses(extra_if_instance(false, true)),
        Some(vec!["192.0.2.1/24".into(), "198.51.100.10/24".into()])
    );
}

#[test]
fn garp_extra_if_without_an_interface_to_announce_or_an_interval_is_off() {
    let mut inst = extra_if_instance(false, false);
    inst.vips.retain(|a| !a.use_vmac);
    assert_eq!(extra_addresses(inst), None);
    let mut inst = extra_if_instance(true, false);
    inst.garp.extra_if = Some(crate::config::model::GarpExtraIf {
        all: true,
        interval: Duration::ZERO,
    });
    assert_eq!(extra_addresses(inst), None);
}

#[test]
fn timer_expired_backup_reaches_the_core_only_with_nopreempt() {
    let mut inst = base_instance("VI_1");
    inst.timer_expired_backup = Some(200);
    let config = Config {
        instances: vec![inst.clone()],
        scripts: vec![script_def("chk", 30)],
        ..Default::default()
    };
    assert_eq!(
        InstanceParams::from_config(&inst, &config)
            .unwrap()
            .timer_expired_backup,
        None
    );
    inst.nopreempt = true;
    assert_eq!(
        InstanceParams::from_config(&inst, &config)
            .unwrap()
            .timer_expired_backup,
        Some(200)
    );
}

#[test]
fn a_tick_fires_a_batch_of_due_timers_and_the_rest_are_due_at_once() {
    let instances: Vec<InstanceParams> =
        (1..=100u8).map(|vrid| params(&format!("VI_{vrid}"), vrid, 255)).collect();
    let (mut sim, startup) = Sim::started(instances);
    assert_eq!(adverts(&startup).len(), 100, "owners advertise at start-up");
    let first = sim.advance_secs(1.0);
    assert_eq!(adverts(&first).len(), crate::vrrp::router::TIMERS_PER_TICK);
    let mut sent: Vec<InstanceId> = first
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert { instance, .. } => Some(*instance),
            _ => None,
        })
        .collect();
    // What is left stays due at the same moment: the loop ticks again without waiting.
    while sim.router.next_deadline().is_some_and(|d| d <= sim.now) {
        sent.extend(sim.event(Event::Tick).iter().filter_map(|a| match a {
            Action::SendAdvert { instance, .. } => Some(*instance),
            _ => None,
        }));
    }
    sent.sort();
    sent.dedup();
    assert_eq!(sent.len(), 100, "every instance advertised once in that interval");
}

#[test]
fn a_takeover_of_many_instances_happens_in_one_tick() {
    let instances: Vec<InstanceParams> =
        (1..=100u8).map(|vrid| params(&format!("VI_{vrid}"), vrid, 100)).collect();
    let (mut sim, _) = Sim::started(instances);
    // Nobody advertises: every master-down timer expires at the same moment, and the
    // VIPs of all hundred instances leave in the same batch of actions.
    let actions = sim.advance_secs(4.0);
    let adds = actions.iter().filter(|a| matches!(a, Action::AddVips { .. })).count();
    assert_eq!(adds, 100, "{:?}", kinds(&actions));
}
