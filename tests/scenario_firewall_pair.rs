//! The reference scenario end to end: two kad firewalls run the flagship config with
//! `virtual_routes` and `backup_routes` instead of the operator's notify scripts, and the
//! default route on each box follows the VRRP state without ever going missing.

mod common;

use common::kernel_watch::{Timeline, Watch};
use common::lab::{wait_until, Daemon, Impl};
use common::scenario::{Scenario, CLIENT, INTERNET_HOST, ISP_GATEWAY, MASTER_DOWN_INTERVAL, VIP_INSIDE};
use std::time::{Duration, Instant};

/// Faster than the 5 ms the scenario asks for.
const POLL: Duration = Duration::from_millis(2);
const REPAIR_LIMIT: Duration = Duration::from_secs(1);
/// What a repair observed by `ip route show` may lag behind the watcher's view.
const OBSERVATION_SLACK: Duration = Duration::from_millis(100);

fn step_limit() -> Duration {
    MASTER_DOWN_INTERVAL + Duration::from_secs(1)
}

fn logs(daemons: &[&Daemon]) -> String {
    daemons
        .iter()
        .map(|d| format!("--- {} ---\n{}", d.log_path().display(), d.log_text()))
        .collect()
}

/// Spans in which `timeline` had no default route within `windows`, except inside one
/// of the `allowed` spans (deliberate deletions until their repair).
fn unexpected_absences(
    timeline: &Timeline,
    windows: &[(Instant, Instant)],
    allowed: &[(Instant, Instant)],
) -> Vec<(Instant, Instant)> {
    windows
        .iter()
        .flat_map(|(from, to)| timeline.absences(*from, *to))
        .filter(|(a, b)| !allowed.iter().any(|(s, e)| *a >= *s && *b <= *e))
        .collect()
}

fn unexpected_deletions(
    timeline: &Timeline,
    windows: &[(Instant, Instant)],
    allowed: &[(Instant, Instant)],
) -> Vec<Instant> {
    timeline
        .default_deletions
        .iter()
        .copied()
        .filter(|t| windows.iter().any(|(a, b)| t >= a && t < b))
        .filter(|t| !allowed.iter().any(|(s, e)| t >= s && t <= e))
        .collect()
}

/// Deletes `host`'s default route by hand and returns the span until kad restored
/// `gateway`, or panics after the repair limit.
fn delete_and_wait_for_repair(sc: &Scenario, host: &str, gateway: &str, daemons: &[&Daemon]) -> (Instant, Instant) {
    let start = Instant::now();
    sc.lab.ip(host, &["route", "del", "default"]);
    let repaired = wait_until(REPAIR_LIMIT, || sc.default_gateways(host) == [gateway.to_string()]);
    let end = Instant::now();
    assert!(
        repaired,
        "{host}: default route via {gateway} not restored within {REPAIR_LIMIT:?} (now {:?})\n{}",
        sc.default_gateways(host),
        logs(daemons)
    );
    (start, end + OBSERVATION_SLACK)
}

#[test]
fn default_routes_follow_the_vrrp_state_without_notify_scripts() {
    if !common::root_or_skip("firewall pair scenario") {
        return;
    }
    let mut sc = Scenario::build("scen");
    let origin = Instant::now();
    let watch1 = Watch::start(&sc.lab.ns("fw1"), VIP_INSIDE, POLL).expect("watch fw1");
    let watch2 = Watch::start(&sc.lab.ns("fw2"), VIP_INSIDE, POLL).expect("watch fw2");
    let isp = ISP_GATEWAY.to_string();
    let lan = VIP_INSIDE.to_string();
    let mut allowed1 = Vec::new();
    let mut allowed2 = Vec::new();

    // Both start: fw1 (priority 101) becomes MASTER, fw2 stays BACKUP.
    let mut fw1 = sc.start("fw1", Impl::Kad, "first");
    let fw2 = sc.start("fw2", Impl::Kad, "only");
    let problems = sc.check_roles(
        "fw1",
        Some("fw2"),
        Instant::now() + step_limit() + Duration::from_secs(3),
    );
    assert!(problems.is_empty(), "at start: {problems:#?}\n{}", logs(&[&fw1, &fw2]));

    // fw1 dies: fw2 takes over.
    let killed = Instant::now();
    sc.power_off("fw1", &mut fw1);
    let problems = sc.check_roles("fw2", None, killed + step_limit());
    assert!(
        problems.is_empty(),
        "after fw1 died: {problems:#?}\n{}",
        logs(&[&fw1, &fw2])
    );

    // fw1 comes back and takes over again (higher priority, preempt): fw2 leaves MASTER,
    // the moment keepalived's notify scripts left it without any default route.
    let back = Instant::now();
    sc.power_on("fw1");
    let fw1b = sc.start("fw1", Impl::Kad, "second");
    let problems = sc.check_roles("fw1", Some("fw2"), back + step_limit());
    assert!(
        problems.is_empty(),
        "after fw1 came back: {problems:#?}\n{}",
        logs(&[&fw1, &fw1b, &fw2])
    );

    // Hand-deleted routes come back for the current state, on both boxes.
    allowed1.push(delete_and_wait_for_repair(&sc, "fw1", &isp, &[&fw1b]));
    allowed2.push(delete_and_wait_for_repair(&sc, "fw2", &lan, &[&fw2]));

    // The ISP link bounces on the master: the kernel silently flushes the route through
    // eth4 and kad puts it back once the link is up.
    let flap = Instant::now();
    sc.lab.ip("fw1", &["link", "set", "eth4", "down"]);
    assert!(
        wait_until(Duration::from_secs(2), || sc.default_gateways("fw1").is_empty()),
        "the kernel kept the route through a down link: the test proves nothing"
    );
    let up = Instant::now();
    sc.lab.ip("fw1", &["link", "set", "eth4", "up"]);
    assert!(
        wait_until(REPAIR_LIMIT, || sc.default_gateways("fw1") == [isp.clone()]),
        "route through eth4 not restored within {REPAIR_LIMIT:?} of link up ({:?} after)\n{}",
        up.elapsed(),
        logs(&[&fw1b])
    );
    allowed1.push((flap, Instant::now() + OBSERVATION_SLACK));
    let problems = sc.check_roles("fw1", Some("fw2"), Instant::now() + step_limit());
    assert!(
        problems.is_empty(),
        "after the eth4 flap: {problems:#?}\n{}",
        logs(&[&fw1b, &fw2])
    );

    // The standby stops: its backup route goes with it, the master carries on.
    let mut fw2 = fw2;
    let stopped = Instant::now();
    fw2.signal(libc::SIGTERM);
    assert_eq!(
        fw2.wait_exit(Duration::from_secs(5)),
        Some(0),
        "fw2 did not stop cleanly\n{}",
        logs(&[&fw2])
    );
    assert!(
        sc.default_gateways("fw2").is_empty(),
        "fw2 kept a route after stopping: {:?}",
        sc.default_gateways("fw2")
    );
    assert!(!sc.is_master("fw2"));
    let problems = sc.check_roles("fw1", None, stopped + step_limit());
    assert!(
        problems.is_empty(),
        "after fw2 stopped: {problems:#?}\n{}",
        logs(&[&fw1b, &fw2])
    );
    assert!(sc.reaches_by(CLIENT, INTERNET_HOST, Instant::now() + Duration::from_secs(2)));
    let end = Instant::now();

    let t1 = watch1.stop().expect("fw1 watcher");
    let t2 = watch2.stop().expect("fw2 watcher");
    let story = format!("fw1:\n{}fw2:\n{}", t1.describe(origin), t2.describe(origin));
    eprintln!("{story}");

    // While kad runs on a box (from its first route on), the box always has a default
    // route, and it is never deleted and re-added: every switch is one replace.
    let first1 = t1.first_default().expect("fw1 never had a default route");
    let second1 = t1
        .samples
        .iter()
        .find(|s| s.at >= back && !s.defaults.is_empty())
        .map(|s| s.at)
        .expect("fw1 had no default route after coming back");
    let first2 = t2.first_default().expect("fw2 never had a default route");
    let windows1 = [(first1, killed), (second1, end)];
    let windows2 = [(first2, stopped)];
    for (name, timeline, windows, allowed) in [
        ("fw1", &t1, &windows1[..], &allowed1),
        ("fw2", &t2, &windows2[..], &allowed2),
    ] {
        let gaps = unexpected_absences(timeline, windows, allowed);
        assert!(
            gaps.is_empty(),
            "{name} was without a default route: {:?}\n{story}",
            gaps.iter().map(|(a, b)| *b - *a).collect::<Vec<_>>()
        );
        let deletions = unexpected_deletions(timeline, windows, allowed);
        assert!(
            deletions.is_empty(),
            "{name}'s default route was deleted {} time(s) outside a test deletion\n{story}",
            deletions.len()
        );
        let foreign: Vec<_> = timeline
            .samples
            .iter()
            .flat_map(|s| s.defaults.iter())
            .filter(|d| d.protocol != 18 || !(d.gateway == Some(ISP_GATEWAY) || d.gateway == Some(VIP_INSIDE)))
            .collect();
        assert!(
            foreign.is_empty(),
            "{name} had default routes kad does not own: {foreign:?}"
        );
    }
    // fw2 held the VIPs between fw1's death and its return: its default route was the ISP's
    // exactly then, and through fw1 before and after.
    let took = t2.marker_change(true, killed).expect("fw2 never became MASTER");
    let left = t2.marker_change(false, took).expect("fw2 never left MASTER");
    let isp_at = t2.first_only(ISP_GATEWAY, took).expect("fw2 never routed to the ISP");
    let lan_at = t2
        .first_only(VIP_INSIDE, isp_at)
        .expect("fw2 never routed back through fw1");
    eprintln!(
        "fw2: VIPs at +{:?}, ISP route {:?} later; VIPs gone at +{:?}, route through fw1 {} ms {} that",
        took - origin,
        isp_at - took,
        left - origin,
        (lan_at.max(left) - lan_at.min(left)).as_secs_f64() * 1000.0,
        if lan_at <= left { "before" } else { "after" }
    );
    assert!(
        lan_at <= left,
        "fw2 dropped the VIPs before its route went through fw1\n{story}"
    );
    assert!(
        isp_at - took < REPAIR_LIMIT,
        "fw2 switched to the ISP {:?} after taking the VIPs\n{story}",
        isp_at - took
    );
}
