//! Shared by the dump and status tests: the configuration keepalived 2.2.7 was run with
//! (tests/dump_keepalived_2.2.7/master.conf and backup.conf, on vA and vB), a protocol core driven
//! into MASTER or BACKUP by a fake clock, and small readers for the dump formats.
//!
//! Entries and instances come from the model's constructors; the other model values are
//! built from JSON, so that fields added to the model later (with serde defaults or as
//! `Option`s) do not break these tests.

#![allow(dead_code)]

use std::collections::BTreeMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use serde_json::{json, Value};

use kad::config::model::{
    AddressEntry, Config, Family, GarpSettings, GlobalDefs, Prefix, RouteEntry, RuleAction,
    RuleEntry, SmtpServer, Span, SyncGroup, TrackFileDef, VrrpInstance, VrrpScript,
};
use kad::daemon::dump::{ClockPair, InstanceFacts, InterfaceFacts, RuntimeFacts};
use kad::notify::security::vet_config;
use kad::vrrp::packet::{Advert, AuthData};
use kad::vrrp::{
    Event, InstanceId, Received, Recipient, Router, RouterConfig, RouterOptions, StateName,
    Timestamp, TrackedObject, TrackerStatus,
};

pub fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

fn duration(secs: f64) -> Value {
    let d = Duration::from_secs_f64(secs);
    json!({"secs": d.as_secs(), "nanos": d.subsec_nanos()})
}

fn test_span() -> Span {
    Span {
        file: Arc::from("test.conf"),
        line: 1,
        col: 1,
    }
}

fn span() -> Value {
    serde_json::to_value(test_span()).unwrap()
}

fn prefix(s: &str) -> Prefix {
    let (addr, len) = s.split_once('/').unwrap();
    Prefix {
        addr: ip(addr),
        len: len.parse().unwrap(),
    }
}

pub fn address(prefix_str: &str, dev: Option<&str>, label: Option<&str>) -> AddressEntry {
    AddressEntry {
        dev: dev.map(Into::into),
        label: label.map(String::from),
        span: test_span(),
        ..AddressEntry::new(prefix(prefix_str))
    }
}

pub fn route(
    dest: &str,
    via: &str,
    dev: Option<&str>,
    table: u32,
    metric: Option<u32>,
    no_track: bool,
) -> RouteEntry {
    RouteEntry {
        via: Some(ip(via)),
        dev: dev.map(String::from),
        table,
        metric,
        no_track,
        span: test_span(),
        ..RouteEntry::new(prefix(dest))
    }
}

pub fn rule(from: Option<&str>, to: Option<&str>, priority: u32, table: u32) -> RuleEntry {
    RuleEntry {
        from: from.map(prefix),
        to: to.map(prefix),
        priority: Some(priority),
        span: test_span(),
        ..RuleEntry::new(Family::Inet, RuleAction::Table(table))
    }
}

fn command(argv: &[&str]) -> Value {
    json!({
        "raw": argv.join(" "), "argv": argv, "user": null, "group": null,
        "set_supplementary_groups": false, "span": span(),
    })
}

fn notifies(master: Option<&[&str]>, generic: Option<&[&str]>) -> Value {
    json!({
        "master": master.map(command), "backup": null, "fault": null, "stop": null,
        "deleted": null, "generic": generic.map(command), "master_rx_lower_pri": null,
        "notify_deleted": false, "deleted_configured": false,
    })
}

/// An instance with keepalived's defaults for everything the test does not set.
pub fn instance(name: &str, vrid: u8, priority: u8, version: u8, interval: f64) -> VrrpInstance {
    let base = VrrpInstance::new(name.into(), &GlobalDefs::default());
    VrrpInstance {
        span: test_span(),
        interface: Some("vA".into()),
        vrid,
        priority,
        advert_int: Duration::from_secs_f64(interval),
        version,
        garp: GarpSettings {
            master_refresh: Duration::from_secs(60),
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            ..base.garp.clone()
        },
        ..base
    }
}

/// The configuration of tests/dump_keepalived_2.2.7/master.conf (`priority` 150,
/// `router_id fw_a`) or backup.conf (100, `fw_b`), as the reader resolves it.
pub fn reference_config(priority: u8, router_id: &str, iface: &str) -> Config {
    let mut global = GlobalDefs {
        router_id: Some(router_id.into()),
        notification_email: vec!["ops@example.net".into()],
        notification_email_from: Some("fw@example.net".into()),
        smtp_server: Some(SmtpServer {
            host: "127.0.0.1".into(),
            port: 25,
        }),
        smtp_connect_timeout: Duration::from_secs(60),
        ..GlobalDefs::default()
    };
    global.vrrp_garp_master_refresh = Duration::from_secs(60);

    let mut vi1 = instance("VI_1", 51, priority, 2, 1.0);
    vi1.smtp_alert = Some(true);
    vi1.auth = Some(serde_json::from_value(json!({"Pass": b"secret12".to_vec()})).unwrap());
    vi1.vips = vec![
        address("192.0.2.100/24", None, None),
        address("203.0.113.10/24", Some(iface), Some(&format!("{iface}:1"))),
        address("198.51.100.10/32", None, None),
    ];
    vi1.excluded_vips = vec![address("198.51.100.20/32", None, None)];
    vi1.virtual_routes = vec![
        route(
            "203.0.113.0/25",
            "192.0.2.254",
            Some(iface),
            254,
            None,
            false,
        ),
        route("0.0.0.0/0", "192.0.2.1", None, 100, Some(5), true),
    ];
    vi1.virtual_rules = vec![
        rule(Some("192.0.2.100/32"), None, 16384, 100),
        rule(None, Some("198.51.100.0/24"), 200, 100),
    ];
    vi1.track_scripts =
        vec![
            serde_json::from_value(json!({"name": "chk_ok", "weight": null, "reverse": null}))
                .unwrap(),
        ];
    vi1.track_files =
        vec![serde_json::from_value(json!({"name": "tf1", "weight": 3, "reverse": null})).unwrap()];
    vi1.track_interfaces =
        vec![
            serde_json::from_value(json!({"name": "lo", "weight": 10, "reverse": false})).unwrap(),
        ];
    vi1.notify = serde_json::from_value(notifies(
        Some(&["/bin/echo", "master"]),
        Some(&["/bin/echo", "generic"]),
    ))
    .unwrap();
    // keepalived drops preempt_delay for `state MASTER` ("will not work with initial state MASTER")
    if priority < 150 {
        vi1.preempt_delay = Duration::from_secs(2);
    }

    let mut vi2 = instance("VI_2", 52, priority, 3, 0.5);
    vi2.vips = vec![address("192.0.2.101/24", None, None)];
    vi2.sync_group = Some("G1".into());
    let mut vi3 = instance("VI_3", 53, priority, 3, 1.0);
    vi3.family = serde_json::from_value(json!("Inet6")).unwrap();
    vi3.mcast_dst_ip = None;
    vi3.vips = vec![
        address("2001:db8::100/64", None, None),
        address("fe80::100/64", None, None),
    ];
    vi3.sync_group = Some("G1".into());

    let group: SyncGroup = serde_json::from_value(json!({
        "name": "G1", "span": span(), "members": ["VI_2", "VI_3"], "track_interfaces": [],
        "track_scripts": [], "track_files": [], "notify": notifies(None, None),
        "smtp_alert": null, "sync_group_tracking_weight": false,
        "notify_priority_changes": null,
    }))
    .unwrap();
    let script: VrrpScript = serde_json::from_value(json!({
        "name": "chk_ok", "span": span(), "script": command(&["/bin/true"]),
        "interval": duration(2.0), "timeout": null, "weight": -20, "weight_reverse": false,
        "rise": 2, "fall": 3, "init_fail": false,
    }))
    .unwrap();
    let file: TrackFileDef = serde_json::from_value(json!({
        "name": "tf1", "span": span(), "file": "/tmp/kadump-obs-tf", "weight": 5,
        "weight_reverse": false, "init_file": null,
    }))
    .unwrap();

    let mut instances = vec![vi1, vi2, vi3];
    for inst in &mut instances {
        inst.interface = Some(iface.into());
    }
    Config {
        global,
        instances,
        sync_groups: vec![group],
        scripts: vec![script],
        track_files: vec![file],
        ..Config::default()
    }
}

/// The protocol core for `config` with its fake clock, facts reported as keepalived's
/// peer had them (its addresses as sources, every script succeeding, every file reading 0).
pub struct Scenario {
    pub config: Config,
    pub router: Router,
    pub now: Timestamp,
    pub facts: RuntimeFacts,
}

/// The wall-clock second the scenarios start at (2026-07-01T12:00:00Z, mid-year so the
/// local year is 2026 in every time zone).
pub const WALL_START: u64 = 1_782_907_200;

impl Scenario {
    pub fn new(config: Config, iface: &str, own_v4: &str) -> Scenario {
        let router =
            Router::new(RouterConfig::from_config(&config, RouterOptions::default()).unwrap());
        let now = Timestamp::from_micros(1_000_000);
        let clock = ClockPair {
            mono: now,
            wall: SystemTime::UNIX_EPOCH + Duration::from_secs(WALL_START),
        };
        let mut facts = RuntimeFacts::from_system(&config, Arc::new(vet_config(&config)), clock);
        facts.hostname = "vm".into();
        facts.umask = 0o177;
        facts.default_script_ids = Some((0, 0));
        facts.interfaces = vec![
            InterfaceFacts {
                name: "lo".into(),
                index: 1,
                ipv4: vec!["127.0.0.1".parse().unwrap()],
                flags: (libc::IFF_UP | libc::IFF_RUNNING | libc::IFF_LOOPBACK) as u32,
                mtu: 65536,
                hw_type: libc::ARPHRD_LOOPBACK,
                ..InterfaceFacts::default()
            },
            InterfaceFacts {
                name: iface.into(),
                index: 6,
                ipv4: vec![own_v4.parse().unwrap()],
                ipv6: vec!["fe80::7412:abff:fe4c:5d5c".parse().unwrap()],
                mac: vec![0x76, 0x12, 0xab, 0x4c, 0x5d, 0x5c],
                broadcast_mac: vec![0xff; 6],
                flags: (libc::IFF_UP
                    | libc::IFF_RUNNING
                    | libc::IFF_BROADCAST
                    | libc::IFF_MULTICAST) as u32,
                mtu: 1500,
                hw_type: libc::ARPHRD_ETHER,
            },
        ];
        let mut s = Scenario {
            config,
            router,
            now,
            facts,
        };
        for id in s.router.instance_ids() {
            let p = s.router.params(id).unwrap();
            let addr = match p.family {
                kad::config::model::Family::Inet6 => "fe80::7412:abff:fe4c:5d5c",
                kad::config::model::Family::Inet => own_v4,
            };
            s.event(Event::SourceAddress {
                instance: id,
                addr: Some(ip(addr)),
            });
        }
        let scripts: Vec<String> = s.config.scripts.iter().map(|x| x.name.clone()).collect();
        for name in scripts {
            s.event(Event::TrackerUpdate {
                object: TrackedObject::Script(name),
                status: TrackerStatus::ScriptOk,
            });
        }
        let files: Vec<String> = s
            .config
            .track_files
            .iter()
            .map(|x| x.name.clone())
            .collect();
        for name in files {
            s.event(Event::TrackerUpdate {
                object: TrackedObject::File(name),
                status: TrackerStatus::FileValue(0),
            });
        }
        s.event(Event::Startup);
        s
    }

    pub fn id(&self, name: &str) -> InstanceId {
        self.router.find(name).unwrap()
    }

    /// Delivers an event and records the state changes it causes, as the daemon does.
    pub fn event(&mut self, event: Event) {
        for action in self.router.handle(self.now, event) {
            if let kad::vrrp::Action::StateChanged { instance, from, to } = action {
                let name = self.router.status(instance).unwrap().name;
                let wall = self.facts.clock.wall_of(self.now);
                self.facts.transitions.record(&std::sync::Arc::from(name.as_str()), from, to, wall);
            }
        }
    }

    /// Delivers every deadline up to `secs` seconds from now.
    pub fn run_for(&mut self, secs: f64) {
        let until = self.now + Duration::from_secs_f64(secs);
        while let Some(deadline) = self.router.next_deadline() {
            if deadline > until {
                break;
            }
            self.now = deadline.max(self.now);
            self.event(Event::Tick);
        }
        self.now = until;
        self.event(Event::Tick);
        self.facts.clock = ClockPair {
            mono: self.now,
            wall: SystemTime::UNIX_EPOCH
                + Duration::from_secs(WALL_START)
                + self.now.since(Timestamp::from_micros(1_000_000)),
        };
    }

    pub fn state(&self, name: &str) -> StateName {
        self.router.status(self.id(name)).unwrap().state
    }

    /// An advert for `name` as its peer with `priority` would send it.
    pub fn advert_from(&mut self, name: &str, src: &str, priority: u8) {
        let id = self.id(name);
        let p = self.router.params(id).unwrap().clone();
        let auth = match p.auth {
            kad::vrrp::AuthSpec::Pass(pw) => AuthData::Pass(pw),
            kad::vrrp::AuthSpec::Ah => AuthData::Ah,
            kad::vrrp::AuthSpec::None => AuthData::None,
        };
        let rx = Received {
            to: Recipient::Instance(id),
            advert: Advert {
                version: p.version,
                vrid: p.vrid,
                priority,
                interval_cs: p.advert_interval.get(),
                auth,
                addrs: p.vips.iter().map(|v| v.prefix.addr).collect(),
            },
            src: ip(src),
            dst: p.mcast_group,
            ttl: Some(255),
            ah_sequence: None,
        };
        self.event(Event::AdvertReceived(rx));
    }
}

/// keepalived's socket descriptors in the reference runs.
fn reference_sockets(s: &mut Scenario) {
    for name in ["VI_1", "VI_2", "VI_3"] {
        s.facts.instances.insert(
            name.into(),
            InstanceFacts {
                sockets: Some(if name == "VI_3" { (17, 18) } else { (15, 16) }),
                ..InstanceFacts::default()
            },
        );
    }
}

/// The MASTER side of the reference pair: fw_a, priority 150, after its master-down wait.
pub fn master() -> Scenario {
    let mut s = Scenario::new(reference_config(150, "fw_a", "vA"), "vA", "192.0.2.11");
    reference_sockets(&mut s);
    s.run_for(4.0);
    for name in ["VI_1", "VI_2", "VI_3"] {
        assert_eq!(s.state(name), StateName::Master, "{name}");
    }
    s
}

/// The BACKUP side: fw_b, priority 100, hearing fw_a's adverts.
pub fn backup() -> Scenario {
    let mut s = Scenario::new(reference_config(100, "fw_b", "vB"), "vB", "192.0.2.12");
    reference_sockets(&mut s);
    for _ in 0..6 {
        s.advert_from("VI_1", "192.0.2.11", 160);
        s.advert_from("VI_2", "192.0.2.11", 150);
        s.advert_from("VI_2", "192.0.2.11", 150);
        s.advert_from("VI_3", "fe80::74fd:1bff:fef8:922a", 150);
        s.run_for(1.0);
    }
    for name in ["VI_1", "VI_2", "VI_3"] {
        assert_eq!(s.state(name), StateName::Backup, "{name}");
    }
    s
}

// ---------------------------------------------------------------------------------------
// Readers
// ---------------------------------------------------------------------------------------

/// keepalived.stats as instance → "Section/Counter" → value.
pub fn parse_stats(text: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let mut out: BTreeMap<String, BTreeMap<String, u64>> = BTreeMap::new();
    let mut instance = String::new();
    let mut section = String::new();
    for line in text.lines() {
        if let Some(name) = line.strip_prefix("VRRP Instance: ") {
            instance = name.to_string();
            out.entry(instance.clone()).or_default();
            continue;
        }
        let indent = line.len() - line.trim_start().len();
        let (key, value) = line.trim().split_once(':').unwrap();
        let value = value.trim();
        if indent == 2 {
            if value.is_empty() {
                section = key.to_string();
            } else {
                out.get_mut(&instance)
                    .unwrap()
                    .insert(key.to_string(), value.parse().unwrap());
            }
        } else {
            assert_eq!(indent, 4, "{line:?}");
            out.get_mut(&instance)
                .unwrap()
                .insert(format!("{section}/{key}"), value.parse().unwrap());
        }
    }
    out
}

/// keepalived.json (either version) as instance → counter → value.
pub fn parse_json_stats(text: &str) -> BTreeMap<String, BTreeMap<String, u64>> {
    let doc: Value = serde_json::from_str(text).unwrap();
    let list = doc.get("vrrp").unwrap_or(&doc).as_array().unwrap().clone();
    list.iter()
        .map(|entry| {
            let name = entry["data"]["iname"].as_str().unwrap().to_string();
            let counters = entry["stats"]
                .as_object()
                .unwrap()
                .iter()
                .map(|(k, v)| (k.clone(), v.as_u64().unwrap()))
                .collect();
            (name, counters)
        })
        .collect()
}

/// The counters that differ between two readings, with their increase.
pub fn moved(
    before: &BTreeMap<String, BTreeMap<String, u64>>,
    after: &BTreeMap<String, BTreeMap<String, u64>>,
) -> BTreeMap<(String, String), u64> {
    let mut out = BTreeMap::new();
    for (instance, counters) in after {
        for (name, value) in counters {
            let old = before[instance][name];
            if *value != old {
                out.insert((instance.clone(), name.clone()), value - old);
            }
        }
    }
    out
}

/// The configuration of tests/dump_keepalived_2.2.7/mixed.conf as the reader resolves
/// it (keepalived dropped the IPv6 VIP of the IPv4 instance VU), with the notify FIFO
/// at `fifo`.
pub fn mixed_config(fifo: &str) -> Config {
    let mut global = GlobalDefs {
        vrrp_garp_interval: Duration::from_millis(1),
        vrrp_garp_extra_if: Some(
            serde_json::from_value(json!({"all": true, "interval": duration(30.0)})).unwrap(),
        ),
        vrrp_startup_delay: Some(Duration::from_millis(500)),
        log_unknown_vrids: true,
        vmac_prefix: Some("vr".into()),
        data_use_instance: true,
        ..GlobalDefs::default()
    };
    global.vrrp_notify_fifo = Some(
        serde_json::from_value(json!({"path": fifo, "user": null, "group": null, "script": null}))
            .unwrap(),
    );

    let no_refresh = |inst: &mut VrrpInstance| inst.garp.master_refresh = Duration::ZERO;

    let mut vu = instance("VU", 61, 120, 2, 1.0);
    no_refresh(&mut vu);
    vu.nopreempt = true;
    vu.dont_track_primary = true;
    vu.unicast_src_ip = Some(ip("192.0.2.11"));
    vu.unicast_peers = vec![
        serde_json::from_value(json!({"addr": "192.0.2.12", "min_ttl": null, "max_ttl": null}))
            .unwrap(),
        serde_json::from_value(json!({"addr": "192.0.2.13", "min_ttl": 250, "max_ttl": 255}))
            .unwrap(),
    ];
    vu.unicast_ttl = Some(255);
    let mut brd = address("192.0.2.150/24", None, None);
    brd.broadcast = Some(kad::config::model::Broadcast::Addr(
        "192.0.2.255".parse().unwrap(),
    ));
    vu.vips = vec![brd];
    vu.promote_secondaries = true;
    vu.notify = serde_json::from_value(json!({
        "master": null, "backup": null, "fault": null, "stop": null, "deleted": null,
        "generic": null, "master_rx_lower_pri": null,
        "notify_deleted": true, "deleted_configured": true,
    }))
    .unwrap();
    vu.auth = Some(serde_json::from_value(json!({"Ah": b"abc".to_vec()})).unwrap());

    let mut vm = instance("VM", 62, 90, 2, 1.0);
    no_refresh(&mut vm);
    vm.use_vmac = Some(
        serde_json::from_value(json!({
            "ifname": "vr.62", "name_given": false, "mac": null, "xmit_base": true, "group": null,
        }))
        .unwrap(),
    );
    vm.vips = vec![address("192.0.2.160/24", None, None)];
    let mut blackhole = route("203.0.113.128/25", "192.0.2.1", None, 254, None, true);
    blackhole.via = None;
    blackhole.rtype = kad::config::model::RouteType::Blackhole;
    blackhole.mode = kad::config::model::RouteMode::Add;
    let mut link = route("192.0.2.128/25", "192.0.2.1", Some("vA"), 254, None, false);
    link.via = None;
    link.scope = Some(253);
    vm.virtual_routes = vec![blackhole, link];

    let mut vf = instance("VF", 63, 80, 2, 1.0);
    no_refresh(&mut vf);
    vf.strict = true;
    vf.accept = false;
    vf.lower_prio_no_advert = true;
    vf.garp.lower_prio_delay = Duration::ZERO;
    vf.garp.lower_prio_repeat = 0;
    vf.track_interfaces =
        vec![
            serde_json::from_value(json!({"name": "dmy0", "weight": 0, "reverse": false})).unwrap(),
        ];
    vf.vips = vec![address("192.0.2.170/32", None, None)];

    Config {
        global,
        instances: vec![vu, vm, vf],
        static_addresses: vec![address("192.0.2.200/24", Some("vA"), None)],
        static_routes: vec![route(
            "198.51.100.0/24",
            "192.0.2.254",
            Some("vA"),
            254,
            None,
            false,
        )],
        static_rules: vec![rule(Some("192.0.2.200/32"), None, 100, 101)],
        ..Config::default()
    }
}

/// mixed.conf running: VU and VM MASTER, VF in FAULT (its tracked dmy0 is down).
pub fn mixed(fifo: &str) -> Scenario {
    let mut s = Scenario::new(mixed_config(fifo), "vA", "192.0.2.11");
    s.facts.static_addresses_set = true;
    for (name, sockets, vmac_up) in [
        ("VU", (15, 16), false),
        ("VM", (17, 18), true),
        ("VF", (17, 18), false),
    ] {
        s.facts.instances.insert(
            name.into(),
            InstanceFacts {
                sockets: Some(sockets),
                vmac_up,
                ..InstanceFacts::default()
            },
        );
    }
    s.facts.interfaces.push(InterfaceFacts {
        name: "dmy0".into(),
        index: 2,
        mac: vec![0x0a, 0xfa, 0x47, 0x7a, 0x3b, 0x72],
        broadcast_mac: vec![0xff; 6],
        flags: (libc::IFF_BROADCAST | libc::IFF_MULTICAST) as u32,
        mtu: 1500,
        hw_type: libc::ARPHRD_ETHER,
        ..InterfaceFacts::default()
    });
    s.event(Event::InterfaceDown("dmy0".into()));
    s.run_for(4.0);
    for (name, state) in [
        ("VU", StateName::Master),
        ("VM", StateName::Master),
        ("VF", StateName::Fault),
    ] {
        assert_eq!(s.state(name), state, "{name}");
    }
    s
}
