//! `garp_extra_if`: while MASTER, one GARP per extra interface every interval.

use super::*;
use std::sync::Arc;

const PEER: &str = "192.0.2.12";

fn with_extra(interval_secs: u64) -> InstanceParams {
    let mut p = params("VI_1", 51, 100);
    let mut on_vmac = vip("198.51.100.10/24");
    on_vmac.dev = Some("eth1".into());
    on_vmac.use_vmac = true;
    p.vips = p.vips.iter().cloned().chain([Vip::from(&on_vmac)]).collect();
    Arc::make_mut(&mut p.garp).extra_interfaces = Some(ExtraInterfaceGarp {
        interval: Duration::from_secs(interval_secs),
        addresses: vec![Vip::from(on_vmac)],
    });
    p
}

fn extra_garps(actions: &[Action]) -> usize {
    garps(actions)
        .iter()
        .filter(|(kind, _)| *kind == GarpKind::ExtraInterfaces)
        .count()
}

#[test]
fn extra_interfaces_are_announced_once_per_interval_starting_after_the_master_delay() {
    let (mut sim, actions) = master(with_extra(10));
    assert_eq!(extra_garps(&actions), 0);
    let became = sim.now;
    // master delay 5 s + interval 10 s
    let actions = sim.run_until(became + Duration::from_micros(14_999_999));
    assert_eq!(extra_garps(&actions), 0);
    let actions = sim.run_until(became + Duration::from_secs(15));
    assert_eq!(garps(&actions), vec![(GarpKind::ExtraInterfaces, 1)]);
    let actions = sim.run_until(became + Duration::from_secs(35));
    assert_eq!(extra_garps(&actions), 2);
}

#[test]
fn leaving_master_stops_the_extra_interface_announcements() {
    let (mut sim, _) = master(with_extra(10));
    sim.advance_secs(0.5);
    sim.advert("VI_1", PEER, 200);
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    for _ in 0..60 {
        let mut actions = sim.advance_secs(1.0);
        actions.extend(sim.advert("VI_1", PEER, 200));
        assert_eq!(extra_garps(&actions), 0);
    }
    assert_eq!(sim.state("VI_1"), StateName::Backup);
}

#[test]
fn a_reload_restarts_the_extra_interface_announcements_with_the_new_interval() {
    let (mut sim, _) = master(params("VI_1", 51, 100));
    sim.advance_secs(2.0);
    let reloaded = sim.now;
    // The same addresses: no second burst, so the first announcement is one interval away.
    let mut p = with_extra(20);
    p.vips = params("VI_1", 51, 100).vips;
    sim.event(Event::Reload(Box::new(RouterConfig {
        instances: vec![p],
        ..Default::default()
    })));
    let actions = sim.run_until(reloaded + Duration::from_micros(19_999_999));
    assert_eq!(extra_garps(&actions), 0);
    let actions = sim.run_until(reloaded + Duration::from_secs(20));
    assert_eq!(extra_garps(&actions), 1);
}

#[test]
fn a_reload_that_adds_addresses_waits_for_the_second_burst_before_the_periodic_ones() {
    let (mut sim, _) = master(params("VI_1", 51, 100));
    sim.advance_secs(2.0);
    let reloaded = sim.now;
    let mut p = with_extra(20);
    Arc::make_mut(&mut p.garp).master_refresh = Duration::from_secs(30);
    let actions = sim.event(Event::Reload(Box::new(RouterConfig {
        instances: vec![p],
        ..Default::default()
    })));
    assert_eq!(garps(&actions), vec![(GarpKind::Reload, 5)]);
    let actions = sim.run_until(reloaded + Duration::from_secs(5));
    assert_eq!(garps(&actions), vec![(GarpKind::MasterDelayed, 5)]);
    let actions = sim.run_until(reloaded + Duration::from_secs(25));
    assert_eq!(garps(&actions), vec![(GarpKind::ExtraInterfaces, 1)]);
    let actions = sim.run_until(reloaded + Duration::from_secs(35));
    assert_eq!(garps(&actions), vec![(GarpKind::Refresh, 1)]);
}
