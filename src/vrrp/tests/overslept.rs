//! `timer_expired_backup`: a nopreempt MASTER that was not scheduled for so long that
//! another router could have taken over goes BACKUP (keepalived's
//! `vrrp_thread_timeout_handler`).

use super::*;

const PEER: &str = "192.0.2.12";

fn nopreempt(p: InstanceParams, other_priority: Option<u8>) -> InstanceParams {
    InstanceParams {
        nopreempt: true,
        timer_expired_backup: other_priority,
        ..p
    }
}

/// A MASTER that sent its last advert when it became MASTER, woken `after` later.
fn woken_after(p: InstanceParams, after: Duration) -> (Sim, Vec<Action>) {
    let (mut sim, _) = master(p);
    sim.now = sim.now + after;
    let actions = sim.event(Event::Tick);
    (sim, actions)
}

#[test]
fn a_nopreempt_master_that_slept_through_a_possible_takeover_goes_backup_silently() {
    // 3 intervals + the skew of priority 254: 3 s + 2/256 s
    let p = nopreempt(params("VI_1", 51, 100), Some(254));
    let (sim, actions) = woken_after(p, Duration::from_micros(3_007_812));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    // Neither the overdue advert nor a priority-0 one: the other router is MASTER now.
    assert!(adverts(&actions).is_empty(), "{actions:?}");
    assert!(has_log(
        &actions,
        "VRRP thread timer expired 2.007812 seconds ago"
    ));
    assert!(has_log(&actions, "(VI_1) Entering BACKUP STATE"));
    assert!(kinds(&actions).contains(&"RemoveVips"));
    assert_eq!(
        notifies(&actions),
        vec![("VI_1".into(), NotifyState::Backup, 100)]
    );
    assert_eq!(sim.status("VI_1").stats.release_master, 1);
}

#[test]
fn a_master_woken_just_before_a_takeover_was_possible_stays_master() {
    let p = nopreempt(params("VI_1", 51, 100), Some(254));
    let (sim, actions) = woken_after(p, Duration::from_micros(3_007_811));
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(adverts(&actions), vec![100], "the overdue advert goes out");
}

#[test]
fn the_takeover_time_uses_the_skew_of_the_configured_other_priority() {
    // priority 1: skew 255/256 s
    let p = nopreempt(params("VI_1", 51, 100), Some(1));
    let (sim, _) = woken_after(p.clone(), Duration::from_micros(3_996_092));
    assert_eq!(sim.state("VI_1"), StateName::Master);
    let (sim, _) = woken_after(p, Duration::from_micros(3_996_093));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
}

#[test]
fn the_takeover_time_of_vrrpv3_scales_with_the_local_interval() {
    // 3 × 0.5 s + (256-254) × 50 cs × 625/16 µs
    let p = nopreempt(v3(params("VI_1", 51, 100), 50), Some(254));
    let (sim, _) = woken_after(p.clone(), Duration::from_micros(1_503_905));
    assert_eq!(sim.state("VI_1"), StateName::Master);
    let (sim, _) = woken_after(p, Duration::from_micros(1_503_906));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
}

#[test]
fn without_timer_expired_backup_an_overslept_master_stays_master() {
    let p = nopreempt(params("VI_1", 51, 100), None);
    let (sim, actions) = woken_after(p, Duration::from_secs(10));
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(adverts(&actions), vec![100]);
}

#[test]
fn a_master_that_keeps_its_schedule_is_never_sent_to_backup() {
    let p = nopreempt(params("VI_1", 51, 100), Some(254));
    let (mut sim, _) = master(p);
    let until = sim.now + Duration::from_secs(60);
    let actions = sim.run_until(until);
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(adverts(&actions).len(), 60);
}

#[test]
fn an_overslept_master_accepts_the_router_that_took_over_instead_of_forcing_an_election() {
    let p = nopreempt(params("VI_1", 51, 100), Some(254));
    let (mut sim, _) = master(p);
    sim.now = sim.now + Duration::from_secs(5);
    // The first thing heard on waking is the new MASTER's advert, at a lower priority:
    // without the rule this MASTER would answer it and take over again.
    let actions = sim.advert("VI_1", PEER, 90);
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    assert!(adverts(&actions).is_empty(), "{actions:?}");
    let status = sim.status("VI_1");
    assert_eq!(status.master_addr, Some(ip(PEER)));
    assert_eq!(status.master_priority, 90);
}

#[test]
fn an_overslept_master_takes_its_sync_group_to_backup() {
    let member = |name: &str, vrid: u8, addr: &str, other: Option<u8>| {
        let mut p = nopreempt(params(name, vrid, 100), other);
        p.vips = vec![vip(addr)].into_iter().map(Vip::from).collect();
        p.sync_group = Some("G".into());
        p
    };
    let mut sim = Sim::with_config(RouterConfig {
        instances: vec![
            member("A", 51, "192.0.2.1/24", Some(254)),
            member("B", 52, "192.0.2.2/24", None),
        ],
        groups: vec![SyncGroupParams {
            name: "G".into(),
            members: vec!["A".into(), "B".into()],
            smtp_alert: false,
        }],
        ..Default::default()
    });
    sim.event(Event::Startup);
    let until = sim.now + Duration::from_secs(4);
    sim.run_until(until);
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Master, StateName::Master)
    );
    let actions = sim.advance_secs(10.0);
    assert_eq!(
        (sim.state("A"), sim.state("B")),
        (StateName::Backup, StateName::Backup)
    );
    assert_eq!(sim.router.group_state("G"), Some(StateName::Backup));
    assert!(adverts(&actions).is_empty(), "{actions:?}");
}
