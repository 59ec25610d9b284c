//! Routes and rules over an instance's life, end to end in a namespace: backup routes
//! and rules in FAULT/BACKUP switched make-before-break with the virtual ones at MASTER,
//! static addresses/routes/rules, repair of what is deleted or lost, refused routes,
//! reload diffs, and `-t --keepalived-compat`.

mod common;

use common::kernel_watch::Watch;
use common::lab::{wait_until, Daemon, Impl, Lab, KAD};
use std::net::Ipv4Addr;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const REPAIR: Duration = Duration::from_secs(1);
/// Time to leave FAULT, wait the master-down interval (3.6 s) and take over.
const TO_MASTER: Duration = Duration::from_secs(8);

fn router(tag: &str) -> Lab {
    let mut lab = Lab::new(tag);
    lab.add_host("r");
    for (ifname, segment) in [("eth0", "lan"), ("eth1", "wan"), ("eth2", "trk")] {
        lab.connect("r", ifname, segment);
    }
    lab.ip("r", &["addr", "add", "192.0.2.11/24", "dev", "eth0"]);
    // The IPv6 address must survive a link bounce for IPv6 routes to have a way back.
    lab.sh("r", "sysctl -qw net.ipv6.conf.eth0.keep_addr_on_down=1");
    lab.ip("r", &["addr", "add", "2001:db8::11/64", "dev", "eth0", "nodad"]);
    lab
}

/// `ip -4 route show ARGS` lines (`ip -6 ...` when ARGS start with "-6"), trimmed.
fn routes(lab: &Lab, args: &[&str]) -> Vec<String> {
    let (family, args) = match args.split_first() {
        Some((&"-6", rest)) => ("-6", rest),
        _ => ("-4", args),
    };
    let out = lab.exec("r", "ip", &[&[family, "route", "show"], args].concat());
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

fn has_route(lab: &Lab, args: &[&str], wanted: &str) -> bool {
    routes(lab, args).iter().any(|l| l.starts_with(wanted))
}

fn rules(lab: &Lab, family: &str) -> Vec<String> {
    let out = lab.exec("r", "ip", &[family, "rule", "show"]);
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(|l| l.trim().to_string())
        .collect()
}

fn has_rule(lab: &Lab, family: &str, wanted: &str) -> bool {
    rules(lab, family).iter().any(|l| l.starts_with(wanted))
}

/// Everything kad could have left: routes of protocol 18 and non-default rules.
fn leftovers(lab: &Lab) -> Vec<String> {
    let mut out = routes(lab, &["table", "all", "proto", "18"]);
    out.extend(routes(lab, &["-6", "table", "all", "proto", "18"]));
    for family in ["-4", "-6"] {
        out.extend(
            rules(lab, family)
                .into_iter()
                .filter(|r| !r.starts_with("0:") && !r.starts_with("32766:") && !r.starts_with("32767:")),
        );
    }
    out.retain(|l| !l.is_empty());
    out
}

fn expect(cond: bool, what: &str, d: &Daemon) {
    assert!(cond, "{what}\n--- log ---\n{}", d.log_text());
}

const SWITCHING: &str = r#"
vrrp_instance VI_B {
    interface eth0
    state BACKUP
    virtual_router_id 62
    priority 100
    advert_int 1
    track_interface {
        eth2
    }
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
    }
    virtual_routes {
        default via 192.0.2.254 dev eth0
        198.51.100.0/28 via 192.0.2.254 dev eth0 table 100
        inet6 default via 2001:db8::fe dev eth0 table 104
        local 198.51.100.176/28 dev eth0 table 100
    }
    backup_routes {
        default via 192.0.2.253 dev eth0
        blackhole 198.51.100.16/28
        inet6 default via 2001:db8::fd dev eth0 table 104
    }
    virtual_rules {
        from 192.0.2.0/24 table 100 priority 100
    }
    backup_rules {
        from 192.0.2.0/24 table 101 priority 101
        iif eth0 ipproto tcp dport 80 table 101 priority 102
    }
}
"#;

fn backup_set(lab: &Lab) -> bool {
    has_route(lab, &["default"], "default via 192.0.2.253 dev eth0 proto keepalived")
        && has_route(lab, &[], "blackhole 198.51.100.16/28 proto keepalived")
        && has_route(
            lab,
            &["-6", "table", "104"],
            "default via 2001:db8::fd dev eth0 proto keepalived",
        )
        && has_rule(lab, "-4", "101:\tfrom 192.0.2.0/24 lookup 101 proto keepalived")
        && has_rule(
            lab,
            "-4",
            "102:\tfrom all iif eth0 ipproto tcp dport 80 lookup 101 proto keepalived",
        )
        && !has_route(lab, &["table", "100"], "198.51.100.0/28")
        && !has_rule(lab, "-4", "100:")
}

fn master_set(lab: &Lab) -> bool {
    has_route(lab, &["default"], "default via 192.0.2.254 dev eth0 proto keepalived")
        && has_route(
            lab,
            &["table", "100"],
            "198.51.100.0/28 via 192.0.2.254 dev eth0 proto keepalived",
        )
        && has_route(
            lab,
            &["-6", "table", "104"],
            "default via 2001:db8::fe dev eth0 proto keepalived",
        )
        // keepalived sends scope universe, which the kernel refuses for a local route.
        && has_route(lab, &["table", "100"], "local 198.51.100.176/28 dev eth0 proto keepalived scope host")
        && has_rule(lab, "-4", "100:\tfrom 192.0.2.0/24 lookup 100 proto keepalived")
        && !has_route(lab, &[], "blackhole 198.51.100.16/28")
        && !has_rule(lab, "-4", "101:")
        && !has_rule(lab, "-4", "102:")
}

#[test]
fn backup_routes_and_rules_hold_outside_master_and_switch_without_a_gap() {
    if !common::root_or_skip("backup routes") {
        return;
    }
    let mut lab = router("rbak");
    lab.ip("r", &["link", "set", "eth2", "down"]);
    let watch = Watch::start(&lab.ns("r"), Ipv4Addr::new(192, 0, 2, 1), Duration::from_millis(2)).expect("watch");
    let mut d = lab.start("r", Impl::Kad, "r", SWITCHING, &[]);

    // The tracked interface is down: FAULT, with the backup routes and rules.
    expect(
        wait_until(Duration::from_secs(5), || backup_set(&lab)),
        "FAULT should hold the backup set",
        &d,
    );
    expect(!lab.has_addr("r", "eth0", "192.0.2.1"), "VIP in FAULT", &d);

    // Up: BACKUP, then MASTER (no peer): the virtual set replaces it.
    lab.ip("r", &["link", "set", "eth2", "up"]);
    expect(
        wait_until(TO_MASTER, || master_set(&lab)),
        "MASTER should hold the virtual set only",
        &d,
    );
    expect(lab.has_addr("r", "eth0", "192.0.2.1"), "no VIP as MASTER", &d);

    // Down again: FAULT, back to the backup set.
    lab.ip("r", &["link", "set", "eth2", "down"]);
    expect(
        wait_until(Duration::from_secs(5), || backup_set(&lab)),
        "FAULT again should hold the backup set",
        &d,
    );

    let stopping = Instant::now();
    d.signal(libc::SIGTERM);
    expect(
        d.wait_exit(Duration::from_secs(5)) == Some(0),
        "kad did not stop cleanly",
        &d,
    );
    let timeline = watch.stop().expect("watcher");
    let left = leftovers(&lab);
    assert!(left.is_empty(), "left behind at stop: {left:#?}");

    let first = timeline.first_default().expect("no default route was ever installed");
    let gaps = timeline.absences(first, stopping);
    let deletions = timeline.default_deletions.iter().filter(|t| **t < stopping).count();
    let origin = first;
    assert!(
        gaps.is_empty() && deletions == 0,
        "the main default route was missing {} time(s) or deleted {deletions} time(s) between the states:\n{}",
        gaps.len(),
        timeline.describe(origin)
    );
    let gateways: Vec<Vec<Ipv4Addr>> = timeline.samples.iter().map(|s| s.gateways()).collect();
    assert!(
        gateways
            .windows(2)
            .any(|w| w[0] == [Ipv4Addr::new(192, 0, 2, 253)] && w[1] == [Ipv4Addr::new(192, 0, 2, 254)]),
        "the watcher never saw the switch it is meant to check:\n{}",
        timeline.describe(origin)
    );
}

const STATICS: &str = r#"
global_defs {
    dynamic_interfaces
}
static_ipaddress {
    198.51.100.200/32 dev eth1
}
static_routes {
    198.51.100.208/28 via 192.0.2.254 dev eth0
    2001:db8:5::/64 via 2001:db8::fc dev eth0
}
static_rules {
    from 198.51.100.200 table 102 priority 200
}
vrrp_instance VI_S {
    interface eth0
    state BACKUP
    virtual_router_id 63
    priority 100
    advert_int 1
    track_interface {
        eth2
    }
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
    }
    virtual_rules {
        from 192.0.2.0/24 table 100 priority 100
    }
    backup_rules {
        from 192.0.2.0/24 table 101 priority 101
    }
    virtual_routes {
        2001:db8:1::/64 via 2001:db8::fe dev eth0
    }
}
"#;

fn statics_present(lab: &Lab) -> bool {
    lab.has_addr("r", "eth1", "198.51.100.200")
        && has_route(lab, &[], "198.51.100.208/28 via 192.0.2.254 dev eth0 proto keepalived")
        && has_route(
            lab,
            &["-6"],
            "2001:db8:5::/64 via 2001:db8::fc dev eth0 proto keepalived",
        )
        && has_rule(lab, "-4", "200:\tfrom 198.51.100.200 lookup 102 proto keepalived")
}

/// Runs `damage`, then waits for `repaired` for at most a second.
fn repaired_after(lab: &Lab, d: &Daemon, what: &str, damage: &[&str], repaired: impl Fn(&Lab) -> bool) {
    let start = Instant::now();
    lab.ip("r", damage);
    expect(
        wait_until(REPAIR, || repaired(lab)),
        &format!("{what}: not repaired within {REPAIR:?}"),
        d,
    );
    eprintln!("{what}: repaired in {:?}", start.elapsed());
}

#[test]
fn statics_and_owned_objects_come_back_when_deleted_or_lost_with_their_link() {
    if !common::root_or_skip("route repair") {
        return;
    }
    let mut lab = router("rfix");
    lab.ip("r", &["link", "set", "eth2", "down"]);
    let mut d = lab.start("r", Impl::Kad, "r", STATICS, &[]);
    // Statics come whatever the state (here FAULT).
    expect(
        wait_until(Duration::from_secs(5), || statics_present(&lab)),
        "statics not installed in FAULT",
        &d,
    );
    expect(
        wait_until(Duration::from_secs(5), || has_rule(&lab, "-4", "101:")),
        "backup rule not installed in FAULT",
        &d,
    );

    repaired_after(
        &lab,
        &d,
        "static route",
        &["route", "del", "198.51.100.208/28"],
        statics_present,
    );
    repaired_after(
        &lab,
        &d,
        "static IPv6 route",
        &["-6", "route", "del", "2001:db8:5::/64"],
        statics_present,
    );
    repaired_after(
        &lab,
        &d,
        "static rule",
        &["rule", "del", "priority", "200"],
        statics_present,
    );
    repaired_after(
        &lab,
        &d,
        "static address",
        &["addr", "del", "198.51.100.200/32", "dev", "eth1"],
        statics_present,
    );
    repaired_after(&lab, &d, "backup rule", &["rule", "del", "priority", "101"], |l| {
        has_rule(l, "-4", "101:\tfrom 192.0.2.0/24 lookup 101 proto keepalived")
    });

    lab.ip("r", &["link", "set", "eth2", "up"]);
    expect(
        wait_until(TO_MASTER, || has_rule(&lab, "-4", "100:")),
        "never became MASTER",
        &d,
    );
    repaired_after(&lab, &d, "virtual rule", &["rule", "del", "priority", "100"], |l| {
        has_rule(l, "-4", "100:\tfrom 192.0.2.0/24 lookup 100 proto keepalived")
    });
    // A MASTER restores its own VIP (keepalived: "virtual address ... was deleted - restoring").
    repaired_after(&lab, &d, "virtual address", &["addr", "del", "192.0.2.1/24", "dev", "eth0"], |l| {
        l.has_addr("r", "eth0", "192.0.2.1")
    });
    let v6 = |l: &Lab| has_route(l, &["-6"], "2001:db8:1::/64 via 2001:db8::fe dev eth0 proto keepalived");
    repaired_after(
        &lab,
        &d,
        "virtual IPv6 route",
        &["-6", "route", "del", "2001:db8:1::/64"],
        v6,
    );

    // eth0 bounces (the instance goes to FAULT meanwhile): the kernel flushes every route
    // through it, IPv4 ones silently, and the statics must come back with the link.
    lab.ip("r", &["link", "set", "eth0", "down"]);
    expect(
        wait_until(Duration::from_secs(2), || !has_route(&lab, &[], "198.51.100.208/28")),
        "the kernel kept a route through a down link: the check proves nothing",
        &d,
    );
    let up = Instant::now();
    lab.ip("r", &["link", "set", "eth0", "up"]);
    expect(
        wait_until(REPAIR, || statics_present(&lab)),
        &format!("routes through eth0 not back within {REPAIR:?} of link up"),
        &d,
    );
    eprintln!("routes after link up: back in {:?}", up.elapsed());

    d.signal(libc::SIGTERM);
    expect(
        d.wait_exit(Duration::from_secs(5)) == Some(0),
        "kad did not stop cleanly",
        &d,
    );
    let left = leftovers(&lab);
    assert!(left.is_empty(), "left behind at stop: {left:#?}");
    assert!(
        !lab.has_addr("r", "eth1", "198.51.100.200"),
        "static address left behind at stop"
    );
}

const REFUSED: &str = r#"
global_defs {
    dynamic_interfaces
}
vrrp_instance VI_F {
    interface eth0
    state MASTER
    virtual_router_id 64
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
    }
    virtual_routes {
        198.51.100.0/28 via 203.0.113.254 dev eth1
        198.51.100.16/28 via 192.0.2.254 dev eth0
        198.51.100.48/28 dev eth7
        198.51.100.32/28 via 192.0.2.254 dev eth0
    }
}
"#;

fn count_lines(d: &Daemon, needle: &str) -> usize {
    d.log_text().lines().filter(|l| l.contains(needle)).count()
}

#[test]
fn a_refused_route_is_reported_once_retried_on_changes_and_blocks_nothing() {
    if !common::root_or_skip("refused routes") {
        return;
    }
    let mut lab = router("rref");
    let d = lab.start("r", Impl::Kad, "r", REFUSED, &[]);
    // The state machine and the other routes go on.
    expect(
        wait_until(Duration::from_secs(5), || lab.has_addr("r", "eth0", "192.0.2.1")),
        "never became MASTER",
        &d,
    );
    expect(
        wait_until(Duration::from_secs(2), || {
            has_route(&lab, &[], "198.51.100.16/28 via 192.0.2.254")
                && has_route(&lab, &[], "198.51.100.32/28 via 192.0.2.254")
        }),
        "routes after a refused one were not installed",
        &d,
    );
    let unreachable = "cannot install route 198.51.100.0/28";
    let missing = "cannot install route 198.51.100.48/28";
    expect(
        wait_until(Duration::from_secs(2), || count_lines(&d, unreachable) == 1),
        "refusal not reported",
        &d,
    );
    expect(
        wait_until(Duration::from_secs(2), || count_lines(&d, missing) == 1),
        "missing device not reported",
        &d,
    );
    let log = d.log_text();
    let line = log.lines().find(|l| l.contains(unreachable)).unwrap_or_default();
    assert!(line.contains("unreachable"), "the kernel's reason is missing: {line}");
    let line = log.lines().find(|l| l.contains(missing)).unwrap_or_default();
    assert!(line.contains("eth7"), "the missing device is not named: {line}");

    // Unrelated changes make kad retry, silently.
    for _ in 0..3 {
        lab.ip("r", &["addr", "add", "192.0.2.99/24", "dev", "eth0"]);
        lab.ip("r", &["addr", "del", "192.0.2.99/24", "dev", "eth0"]);
    }

    // What was missing arrives: the routes follow within a second.
    lab.ip("r", &["addr", "add", "203.0.113.11/24", "dev", "eth1"]);
    expect(
        wait_until(REPAIR, || {
            has_route(&lab, &[], "198.51.100.0/28 via 203.0.113.254 dev eth1")
        }),
        "not retried on a new address",
        &d,
    );
    // Events are handled in order, so the retries of the unrelated changes are done.
    assert_eq!(
        count_lines(&d, unreachable),
        1,
        "a refusal is reported once, not at every retry:\n{}",
        d.log_text()
    );
    let out = Command::new("ip")
        .args([
            "-n",
            &lab.ns("r"),
            "link",
            "add",
            "eth7",
            "type",
            "veth",
            "peer",
            "name",
            "eth7p",
        ])
        .output()
        .expect("ip link add");
    assert!(out.status.success(), "cannot create eth7");
    lab.ip("r", &["link", "set", "eth7", "up"]);
    lab.ip("r", &["link", "set", "eth7p", "up"]);
    expect(
        wait_until(REPAIR, || has_route(&lab, &[], "198.51.100.48/28 dev eth7")),
        "not retried on a new link",
        &d,
    );
}

/// `ip monitor route rule` in the router namespace. Netlink notifications reach a socket
/// in order, so a marker route seen in the output fences everything before it.
struct Monitor {
    child: std::process::Child,
    lines: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

const MARKER: &str = "198.51.100.240/28";

impl Monitor {
    fn start(lab: &Lab) -> Monitor {
        let mut child = Command::new("ip")
            .args(["-n", &lab.ns("r"), "monitor", "route", "rule"])
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("ip monitor");
        let lines = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let sink = lines.clone();
        let stdout = child.stdout.take().expect("monitor stdout");
        std::thread::spawn(move || {
            use std::io::BufRead;
            for line in std::io::BufReader::new(stdout).lines().map_while(Result::ok) {
                if let Ok(mut l) = sink.lock() {
                    l.push(line);
                }
            }
        });
        let m = Monitor { child, lines };
        // ip monitor subscribes some time after it starts: toggle the marker until it
        // shows, then everything later is seen.
        let mut present = false;
        let subscribed = wait_until(Duration::from_secs(10), || {
            present = !present;
            lab.ip(
                "r",
                &[
                    "route",
                    if present { "add" } else { "del" },
                    MARKER,
                    "via",
                    "192.0.2.254",
                ],
            );
            wait_until(Duration::from_millis(200), || {
                m.seen().iter().any(|l| l.contains(MARKER))
            })
        });
        assert!(subscribed, "ip monitor never reported the marker route");
        if !present {
            lab.ip("r", &["route", "add", MARKER, "via", "192.0.2.254"]);
        }
        m
    }

    fn seen(&self) -> Vec<String> {
        self.lines.lock().map(|l| l.clone()).unwrap_or_default()
    }

    /// Adds or deletes the marker route and waits until the monitor printed it.
    fn fence(&self, lab: &Lab, op: &str) {
        let before = self.seen().len();
        lab.ip("r", &["route", op, MARKER, "via", "192.0.2.254"]);
        assert!(
            wait_until(Duration::from_secs(5), || self.seen()[before..]
                .iter()
                .any(|l| l.contains(MARKER))),
            "ip monitor did not report the marker route"
        );
    }

    /// Everything reported between the start and now, markers left out.
    fn stop(mut self, lab: &Lab) -> String {
        self.fence(lab, "del");
        let _ = self.child.kill();
        let _ = self.child.wait();
        self.seen()
            .into_iter()
            .filter(|l| !l.contains(MARKER))
            .collect::<Vec<_>>()
            .join("\n")
    }
}

const RELOAD_BEFORE: &str = r#"
vrrp_instance VI_R {
    interface eth0
    state MASTER
    virtual_router_id 65
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
        203.0.113.10/24 dev eth1
    }
    virtual_routes {
        198.51.100.0/28 via 192.0.2.254 dev eth0
        198.51.100.16/28 via 192.0.2.254 dev eth0 src 192.0.2.11
        198.51.100.32/28 via 192.0.2.254 dev eth0
        203.0.113.128/25 dev eth1 src 203.0.113.10 scope link
        2001:db8:1::/64 via 2001:db8::fe dev eth0
    }
    virtual_rules {
        from 192.0.2.0/24 table 100 priority 100
    }
}
"#;

/// An unchanged route (on another line now), a src-only change, one route gone, one new,
/// a new rule, and the eth1 VIP's prefix changed under a route that uses it as src.
const RELOAD_AFTER: &str = r#"
vrrp_instance VI_R {
    interface eth0
    state MASTER
    virtual_router_id 65
    priority 255
    advert_int 1

    virtual_ipaddress {
        192.0.2.1/24 dev eth0
        203.0.113.10/25 dev eth1
    }
    virtual_routes {
        198.51.100.16/28 via 192.0.2.254 dev eth0 src 192.0.2.1
        198.51.100.0/28 via 192.0.2.254 dev eth0
        2001:db8:1::/64 via 2001:db8::fe dev eth0
        198.51.100.48/28 via 192.0.2.254 dev eth0
        203.0.113.128/25 dev eth1 src 203.0.113.10 scope link
    }
    virtual_rules {
        from 192.0.2.0/24 table 100 priority 100
        from 198.51.100.0/24 table 100 priority 101
    }
}
"#;

#[test]
fn a_reload_changes_only_what_the_configuration_changed() {
    if !common::root_or_skip("reload diff") {
        return;
    }
    let mut lab = router("rrel");
    let d = lab.start("r", Impl::Kad, "r", RELOAD_BEFORE, &[]);
    expect(
        wait_until(Duration::from_secs(5), || {
            has_route(&lab, &[], "198.51.100.32/28")
                && has_route(&lab, &[], "203.0.113.128/25")
                && has_rule(&lab, "-4", "100:")
        }),
        "not MASTER with its routes",
        &d,
    );
    let monitor = Monitor::start(&lab);
    std::fs::write(&d.conf, RELOAD_AFTER).expect("rewrite config");
    d.signal(libc::SIGHUP);
    expect(
        wait_until(Duration::from_secs(5), || d.log_text().contains("Reload finished")),
        "reload did not finish",
        &d,
    );
    expect(
        wait_until(REPAIR, || {
            has_route(
                &lab,
                &[],
                "198.51.100.16/28 via 192.0.2.254 dev eth0 proto keepalived src 192.0.2.1",
            )
        }),
        "a src-only change was not applied (keepalived issue 1390)",
        &d,
    );
    expect(
        wait_until(REPAIR, || {
            has_route(
                &lab,
                &[],
                "203.0.113.128/25 dev eth1 proto keepalived scope link src 203.0.113.10",
            )
        }),
        "a route over a VIP changed by the reload was lost (keepalived issue 1719)",
        &d,
    );
    expect(
        has_route(&lab, &[], "198.51.100.48/28 via 192.0.2.254"),
        "new route missing",
        &d,
    );
    expect(
        !has_route(&lab, &[], "198.51.100.32/28"),
        "removed route still there",
        &d,
    );
    expect(
        has_rule(&lab, "-4", "101:\tfrom 198.51.100.0/24 lookup 100 proto keepalived"),
        "new rule missing",
        &d,
    );
    let events = monitor.stop(&lab);
    assert!(
        events.contains("198.51.100.48/28"),
        "the monitor saw nothing, so it proves nothing:\n{events}"
    );
    let touched = |dest: &str| events.lines().filter(|l| l.contains(dest)).collect::<Vec<_>>();
    // The kernel ignores an IPv4 replace by an identical route, but announces an IPv6
    // one: the IPv6 route shows whether kad re-installed what did not change.
    assert!(
        touched("2001:db8:1::/64").is_empty(),
        "an unchanged route was touched by the reload:\n{events}"
    );
    assert!(
        touched("198.51.100.0/28").is_empty(),
        "an unchanged route was touched by the reload:\n{events}"
    );
    assert!(
        touched("100:").is_empty(),
        "an unchanged rule was touched by the reload:\n{events}"
    );
    assert!(
        touched("198.51.100.32/28").iter().all(|l| l.starts_with("Deleted")),
        "{events}"
    );
    assert!(
        !touched("198.51.100.16/28").iter().any(|l| l.starts_with("Deleted")),
        "a changed route should be replaced, not deleted:\n{events}"
    );
}

#[test]
fn keepalived_compat_config_test_flags_backup_routes_and_backup_rules() {
    if !common::root_or_skip("config test in a namespace") {
        return;
    }
    let lab = router("rcmp");
    let conf = lab.file("switching.conf", SWITCHING);
    let run = |extra: &[&str]| {
        let out = lab.exec(
            "r",
            KAD,
            &[&["-t", "-f", conf.to_str().unwrap_or_default()], extra].concat(),
        );
        (out.status.code(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (_, text) = run(&[]);
    assert!(!text.contains("kad extension"), "kad reads its own extensions:\n{text}");
    let (code, text) = run(&["--keepalived-compat"]);
    assert_ne!(code, Some(0), "--keepalived-compat accepted kad extensions:\n{text}");
    for keyword in ["backup_routes", "backup_rules"] {
        assert!(
            text.contains(&format!("'{keyword}' is a kad extension")),
            "{keyword} not flagged:\n{text}"
        );
    }
}

const GIVE_UP: &str = r#"
global_defs {
    vrrp_backup_on_owned_deletion
}
vrrp_instance VI_G {
    interface eth0
    state MASTER
    virtual_router_id 66
    priority 100
    advert_int 1
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
    }
    virtual_routes {
        198.51.100.0/28 via 192.0.2.254 dev eth0
    }
}
"#;

#[test]
fn with_vrrp_backup_on_owned_deletion_a_deleted_route_gives_up_mastership_as_in_keepalived() {
    if !common::root_or_skip("backup on deletion") {
        return;
    }
    let mut lab = router("rgiv");
    let d = lab.start("r", Impl::Kad, "r", GIVE_UP, &[]);
    expect(
        wait_until(TO_MASTER, || has_route(&lab, &[], "198.51.100.0/28 via 192.0.2.254")),
        "never became MASTER",
        &d,
    );
    lab.ip("r", &["route", "del", "198.51.100.0/28"]);
    expect(
        wait_until(Duration::from_secs(2), || {
            !lab.has_addr("r", "eth0", "192.0.2.1") && d.log_text().contains("(VI_G) Entering BACKUP STATE")
        }),
        "the instance kept mastership after its route was deleted",
        &d,
    );
    assert!(
        !d.log_text().contains("was deleted - restoring"),
        "the route was restored instead:\n{}",
        d.log_text()
    );
}

/// The gateway of VI_F's route becomes reachable only when VI_W, on the same router,
/// takes over and adds its VIP: kad's own address adds must wake the retry as well.
const REACHABLE_THROUGH_ANOTHER_VIP: &str = r#"
vrrp_instance VI_F {
    interface eth0
    state MASTER
    virtual_router_id 64
    priority 255
    advert_int 1
    virtual_ipaddress {
        192.0.2.1/24 dev eth0
    }
    virtual_routes {
        198.51.100.0/28 via 203.0.113.254 dev eth1
    }
}
vrrp_instance VI_W {
    interface eth0
    state BACKUP
    virtual_router_id 65
    priority 100
    advert_int 1
    virtual_ipaddress {
        203.0.113.1/24 dev eth1
    }
}
"#;

#[test]
fn a_route_refused_until_another_instance_adds_its_vip_follows_it() {
    if !common::root_or_skip("refused routes") {
        return;
    }
    let mut lab = router("rvip");
    let d = lab.start("r", Impl::Kad, "r", REACHABLE_THROUGH_ANOTHER_VIP, &[]);
    expect(
        wait_until(Duration::from_secs(5), || count_lines(&d, "cannot install route 198.51.100.0/28") == 1),
        "the route was not refused while its gateway was unreachable",
        &d,
    );
    expect(
        wait_until(TO_MASTER, || lab.has_addr("r", "eth1", "203.0.113.1")),
        "VI_W never became MASTER",
        &d,
    );
    expect(
        wait_until(REPAIR, || has_route(&lab, &[], "198.51.100.0/28 via 203.0.113.254 dev eth1")),
        "not retried when our own VIP made the gateway reachable",
        &d,
    );
}
