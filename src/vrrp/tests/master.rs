use super::*;
use std::sync::Arc;

const PEER: &str = "192.0.2.12";
const LOWER_PEER: &str = "192.0.2.5";

fn scenario_params() -> InstanceParams {
    let mut p = params("VI_INT", 151, 101);
    p.vips = vec![
        vip("192.0.2.1/24"),
        vip("203.0.113.10/24"),
        vip("198.51.100.10/24"),
    ].into_iter().map(Vip::from).collect();
    p.excluded_vips = vec![vip("198.51.100.11/24")].into_iter().map(Vip::from).collect();
    p.virtual_routes = vec![
        route("0.0.0.0/0", "203.0.113.254"),
        route("198.18.0.0/15", "203.0.113.254"),
    ].into();
    p.backup_routes = vec![
        route("0.0.0.0/0", "192.0.2.1"),
        route("10.0.0.0/8", "192.0.2.1"),
    ].into();
    p.virtual_rules = vec![rule("203.0.113.0/24", 100)].into();
    p
}

#[test]
fn becoming_master_sends_an_advert_first_then_addresses_routes_rules_garp_and_notify() {
    let (_, actions) = master(scenario_params());
    assert_eq!(
        kinds(&actions),
        vec![
            "SendAdvert",
            "AddVips",
            "AddExcludedVips",
            "InstallVirtualRoutes",
            "RemoveBackupRoutes",
            "InstallVirtualRules",
            "SendGarp",
            "StateChanged",
            "Notify",
        ]
    );
    assert!(has_log(&actions, "(VI_INT) Entering MASTER STATE"));
    assert_eq!(garps(&actions), vec![(GarpKind::MasterBurst, 5)]);
}

#[test]
fn virtual_routes_replace_same_key_backup_routes_and_only_the_others_are_removed() {
    let (_, actions) = master(scenario_params());
    let removed: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            Action::RemoveBackupRoutes { routes, .. } => Some(
                routes
                    .iter()
                    .map(|r| r.dest.to_string())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(
        removed,
        vec!["10.0.0.0/8"],
        "the default route is replaced in place, not removed"
    );
}

#[test]
fn leaving_master_installs_backup_routes_first_then_removes_rules_routes_and_addresses() {
    let (mut sim, _) = master(scenario_params());
    let actions = sim.advert("VI_INT", "192.0.2.200", 200);
    assert_eq!(sim.state("VI_INT"), StateName::Backup);
    assert_eq!(
        kinds(&actions),
        vec![
            "InstallBackupRoutes",
            "RemoveVirtualRules",
            "RemoveVirtualRoutes",
            "RemoveVips",
            "RemoveExcludedVips",
            "StateChanged",
            "Notify",
        ]
    );
    let removed_routes: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            Action::RemoveVirtualRoutes { routes, .. } => Some(
                routes
                    .iter()
                    .map(|r| r.dest.to_string())
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(removed_routes, vec!["198.18.0.0/15"]);
    assert!(has_log(
        &actions,
        "(VI_INT) Master received advert from 192.0.2.200 with higher priority 200, ours 101"
    ));
    assert!(has_log(&actions, "(VI_INT) Entering BACKUP STATE"));
    assert_eq!(sim.status("VI_INT").stats.release_master, 1);
}

#[test]
fn master_sends_an_advert_every_advert_interval() {
    let (mut sim, _) = master(params("VI_1", 51, 100));
    let start = sim.now;
    let actions = sim.run_until(start + Duration::from_millis(10_500));
    assert_eq!(adverts(&actions), vec![100; 10]);
    assert_eq!(
        sim.router.next_deadline(),
        Some(start + Duration::from_secs(11))
    );
}

#[test]
fn master_answers_a_lower_priority_advert_with_an_advert_garps_and_a_notification() {
    let (mut sim, _) = master(params("VI_1", 51, 100));
    sim.advance_secs(0.3);
    let actions = sim.advert("VI_1", PEER, 50);
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert!(has_log(&actions, "(VI_1) Received advert from 192.0.2.12 with lower priority 50, ours 100, forcing new election"));
    assert_eq!(
        kinds(&actions),
        vec!["SendAdvert", "SendGarp", "NotifyMasterRxLowerPri"]
    );
    assert_eq!(garps(&actions), vec![(GarpKind::LowerPriority, 5)]);
    // the answer restarts the advert interval
    assert_eq!(
        sim.router.next_deadline(),
        Some(sim.now + Duration::from_secs(1))
    );
    let later = sim.run_until(sim.now + Duration::from_secs(5));
    assert!(garps(&later).contains(&(GarpKind::LowerPriorityDelayed, 5)));
}

#[test]
fn lower_prio_no_advert_suppresses_the_answer_but_not_the_garps() {
    let mut p = params("VI_1", 51, 100);
    p.lower_prio_no_advert = true;
    let (mut sim, _) = master(p);
    let actions = sim.advert("VI_1", PEER, 50);
    assert!(adverts(&actions).is_empty());
    assert!(has_log(&actions, "with lower priority 50, ours 100"));
    assert!(!has_log(&actions, "forcing new election"));
    assert_eq!(garps(&actions), vec![(GarpKind::LowerPriority, 5)]);
}

#[test]
fn master_yields_to_equal_priority_with_a_higher_address_and_not_to_a_lower_one() {
    let (mut sim, _) = master(params("VI_1", 51, 100));
    sim.advert("VI_1", LOWER_PEER, 100);
    assert_eq!(sim.state("VI_1"), StateName::Master);
    let actions = sim.advert("VI_1", PEER, 100);
    assert!(has_log(&actions, "(VI_1) Master received advert from 192.0.2.12 with same priority 100 but higher IP address than ours"));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
}

#[test]
fn higher_prio_send_advert_sends_one_last_advert_before_yielding() {
    let mut p = params("VI_1", 51, 100);
    p.higher_prio_send_advert = true;
    let (mut sim, _) = master(p);
    let actions = sim.advert("VI_1", PEER, 200);
    assert_eq!(adverts(&actions), vec![100]);
    assert_eq!(kinds(&actions)[0], "SendAdvert");
    assert_eq!(sim.state("VI_1"), StateName::Backup);
}

#[test]
fn master_answers_priority_zero_with_an_advert_and_stays_master() {
    let (mut sim, _) = master(params("VI_1", 51, 100));
    let actions = sim.advert("VI_1", PEER, 0);
    assert_eq!(adverts(&actions), vec![100]);
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(sim.status("VI_1").stats.pri_zero_rcvd, 1);
}

#[test]
fn master_with_equal_priority_from_its_own_address_only_warns() {
    let (mut sim, _) = master(params("VI_1", 51, 100));
    let actions = sim.advert("VI_1", OUR_ADDR, 100);
    assert!(has_log(
        &actions,
        "WARNING - equal priority advert received from remote host with our IP address"
    ));
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert!(adverts(&actions).is_empty());
}

#[test]
fn master_garps_again_after_the_master_delay_and_on_every_refresh() {
    let mut p = params("VI_1", 51, 100);
    Arc::make_mut(&mut p.garp).master_refresh = Duration::from_secs(10);
    Arc::make_mut(&mut p.garp).master_refresh_repeat = 2;
    let (mut sim, actions) = master(p);
    assert_eq!(garps(&actions), vec![(GarpKind::MasterBurst, 5)]);
    let became = sim.now;
    let actions = sim.run_until(became + Duration::from_secs(5));
    assert_eq!(garps(&actions), vec![(GarpKind::MasterDelayed, 5)]);
    let actions = sim.run_until(became + Duration::from_secs(15));
    assert_eq!(garps(&actions), vec![(GarpKind::Refresh, 2)]);
    let actions = sim.run_until(became + Duration::from_secs(35));
    assert_eq!(
        garps(&actions),
        vec![(GarpKind::Refresh, 2), (GarpKind::Refresh, 2)]
    );
}

#[test]
fn a_stale_timer_cannot_act_after_a_state_change() {
    let mut p = params("VI_1", 51, 100);
    Arc::make_mut(&mut p.garp).master_refresh = Duration::from_secs(2);
    let (mut sim, _) = master(p);
    let advert_due = sim.router.next_deadline().unwrap();
    sim.advance_secs(0.5);
    sim.advert("VI_1", PEER, 200);
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    // The master's advert, delayed GARP and refresh deadlines pass: nothing happens.
    sim.now = advert_due;
    let actions = sim.event(Event::Tick);
    assert!(actions.is_empty(), "{actions:?}");
    let actions = sim.advance_secs(2.5);
    assert!(
        adverts(&actions).is_empty() && garps(&actions).is_empty(),
        "{actions:?}"
    );
    // And the backup's own deadline is the one that counts.
    assert_eq!(
        sim.router.next_deadline(),
        Some(advert_due - Duration::from_millis(500) + Duration::from_micros(3_609_375))
    );
}

#[test]
fn leaving_master_for_fault_announces_priority_zero_first() {
    let (mut sim, _) = master(scenario_params());
    let actions = sim.event(Event::InterfaceDown("eth0".into()));
    assert_eq!(sim.state("VI_INT"), StateName::Fault);
    assert_eq!(kinds(&actions)[0], "SendAdvert");
    assert_eq!(adverts(&actions), vec![0]);
    assert!(has_log(&actions, "(VI_INT) Entering FAULT STATE"));
    assert_eq!(
        notifies(&actions),
        vec![("VI_INT".into(), NotifyState::Fault, 101)]
    );
    assert!(
        kinds(&actions).contains(&"InstallBackupRoutes"),
        "FAULT keeps backup routes"
    );
    assert_eq!(sim.status("VI_INT").stats.pri_zero_sent, 1);
}

#[test]
fn shutdown_of_a_master_sends_priority_zero_then_releases_then_notifies_stop() {
    let (mut sim, _) = master(scenario_params());
    let actions = sim.event(Event::Shutdown);
    assert_eq!(
        kinds(&actions),
        vec![
            "SendAdvert",
            "RemoveVirtualRules",
            "RemoveVirtualRoutes",
            "RemoveVips",
            "RemoveExcludedVips",
            "StateChanged",
            "Notify"
        ]
    );
    assert_eq!(adverts(&actions), vec![0]);
    assert_eq!(
        notifies(&actions),
        vec![("VI_INT".into(), NotifyState::Stop, 101)]
    );
    assert_eq!(sim.router.next_deadline(), None);
    assert!(
        sim.event(Event::Tick).is_empty(),
        "a stopped router does nothing"
    );
}

#[test]
fn shutdown_of_a_backup_removes_its_backup_routes() {
    let (mut sim, _) = Sim::started(vec![scenario_params()]);
    let actions = sim.event(Event::Shutdown);
    assert_eq!(
        kinds(&actions),
        vec!["RemoveBackupRoutes", "StateChanged", "Notify"]
    );
}

#[test]
fn owner_ignore_adverts_drops_adverts_while_the_owner_has_priority_255() {
    let mut p = params("VI_1", 51, 255);
    p.owner_ignore_adverts = true;
    let (mut sim, _) = Sim::started(vec![p]);
    let actions = sim.advert("VI_1", PEER, 255);
    assert!(has_log(
        &actions,
        "(VI_1) Dropping packet(s) from 192.0.2.12 since we are address owner"
    ));
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert_eq!(sim.status("VI_1").stats.advert_rcvd, 0);
}

#[test]
fn the_lower_address_owner_yields_to_the_higher_one_with_a_configuration_error() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 255)]);
    let actions = sim.advert("VI_1", PEER, 255);
    assert!(has_log(&actions, "(VI_1) CONFIGURATION ERROR: local instance and 192.0.2.12 are both configured as address owner, please resolve"));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
}

#[test]
fn the_higher_address_owner_steps_down_to_254_if_the_other_keeps_advertising() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 255)]);
    // The rogue owner has the lower address.
    let actions = sim.advert("VI_1", LOWER_PEER, 255);
    assert!(has_log(&actions, "CONFIGURATION ERROR"));
    assert_eq!(sim.state("VI_1"), StateName::Master);
    // Two more adverts, then a watch window of 1.2 × interval.
    sim.advance_secs(1.0);
    sim.advance_secs(1.0);
    sim.advance_secs(0.5);
    let actions = sim.advert("VI_1", LOWER_PEER, 255);
    assert!(has_log(&actions, "(VI_1) 192.0.2.5 is still advertising as address owner, please resolve - reducing our priority"));
    assert_eq!(sim.state("VI_1"), StateName::Backup);
    assert_eq!(sim.status("VI_1").effective_priority, 254);
    // When the rogue falls silent we take over and restore 255.
    let deadline = sim.router.next_deadline().unwrap();
    let actions = sim.run_until(deadline);
    assert_eq!(sim.state("VI_1"), StateName::Master);
    assert!(has_log(
        &actions,
        "Restoring our priority to 255 since other address owner has disappeared"
    ));
    assert_eq!(sim.status("VI_1").effective_priority, 255);
}

#[test]
fn the_higher_address_owner_stays_master_if_the_rogue_stops_in_time() {
    let (mut sim, _) = Sim::started(vec![params("VI_1", 51, 255)]);
    sim.advert("VI_1", LOWER_PEER, 255);
    let actions = sim.run_until(sim.now + Duration::from_millis(3300));
    assert!(has_log(
        &actions,
        "(VI_1): rogue address owner appears to have stopped advertising"
    ));
    sim.advance_secs(1.0);
    let actions = sim.advert("VI_1", LOWER_PEER, 255);
    assert_eq!(
        sim.state("VI_1"),
        StateName::Master,
        "a new episode starts the count again"
    );
    assert!(has_log(&actions, "CONFIGURATION ERROR"));
}

fn installed(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::InstallVirtualRoutes { routes, .. } | Action::InstallBackupRoutes { routes, .. } => Some(
                routes
                    .iter()
                    .map(|r| format!("{} src {:?}", r.dest, r.src))
                    .collect::<Vec<_>>(),
            ),
            _ => None,
        })
        .flatten()
        .collect()
}

fn reload_routes(sim: &mut Sim, virtual_routes: Vec<RouteEntry>, backup_routes: Vec<RouteEntry>) -> Vec<Action> {
    let mut p = scenario_params();
    p.virtual_routes = virtual_routes.into();
    p.backup_routes = backup_routes.into();
    sim.event(Event::Reload(Box::new(RouterConfig {
        instances: vec![p],
        ..Default::default()
    })))
}

#[test]
fn a_reloaded_master_installs_only_new_and_changed_routes() {
    let (mut sim, _) = master(scenario_params());
    let mut moved = route("0.0.0.0/0", "203.0.113.254");
    moved.span.line = 40;
    let mut new_src = route("198.18.0.0/15", "203.0.113.254");
    new_src.src = Some(ip("203.0.113.10"));
    let added = route("192.0.2.128/25", "192.0.2.254");
    let actions = reload_routes(&mut sim, vec![moved, new_src, added], scenario_params().backup_routes.to_vec());
    assert_eq!(
        installed(&actions),
        vec!["198.18.0.0/15 src Some(203.0.113.10)", "192.0.2.128/25 src None"],
        "an unchanged route (even on another line) is left alone; a src-only change is applied"
    );
    let actions = reload_routes(&mut sim, vec![route("0.0.0.0/0", "203.0.113.254")], scenario_params().backup_routes.to_vec());
    assert!(installed(&actions).is_empty());
    let removed: Vec<String> = actions
        .iter()
        .filter_map(|a| match a {
            Action::RemoveVirtualRoutes { routes, .. } => Some(routes.iter().map(|r| r.dest.to_string()).collect::<Vec<_>>()),
            _ => None,
        })
        .flatten()
        .collect();
    assert_eq!(removed, vec!["198.18.0.0/15", "192.0.2.128/25"]);
}

#[test]
fn a_reloaded_backup_installs_only_new_and_changed_backup_routes() {
    let (mut sim, _) = Sim::started(vec![scenario_params()]);
    assert_eq!(sim.state("VI_INT"), StateName::Backup);
    let actions = reload_routes(
        &mut sim,
        scenario_params().virtual_routes.to_vec(),
        vec![route("0.0.0.0/0", "192.0.2.1"), route("10.0.0.0/8", "192.0.2.2")],
    );
    assert_eq!(installed(&actions), vec!["10.0.0.0/8 src None"]);
}
