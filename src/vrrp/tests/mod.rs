//! Rule-by-rule tests of the protocol core, driven by a fake clock.
//!
//! Each test builds a `Router`, feeds it events at explicit times and looks at the
//! returned actions. Test names state the rule being checked.

use std::net::IpAddr;
use std::time::Duration;

use crate::config::model::{
    AddressEntry, Config, Family, GarpSettings, GlobalDefs, InitialState, Prefix, RouteEntry,
    RuleAction, RuleEntry, Span, VrrpInstance,
};
use crate::vrrp::packet::{Advert, AuthData};
use crate::vrrp::*;

mod ah;
mod backup;
mod garp_extra;
mod master;
mod misc;
mod overslept;
mod props;
mod startup;
mod sync;
mod tracking;

pub(super) fn ip(s: &str) -> IpAddr {
    s.parse().unwrap()
}

pub(super) fn prefix(s: &str) -> Prefix {
    let (addr, len) = s.split_once('/').unwrap_or((s, ""));
    let addr = ip(addr);
    let len = if len.is_empty() {
        if addr.is_ipv4() {
            32
        } else {
            128
        }
    } else {
        len.parse().unwrap()
    };
    Prefix { addr, len }
}

pub(super) fn vip(s: &str) -> AddressEntry {
    AddressEntry::new(prefix(s))
}

pub(super) fn route(dest: &str, via: &str) -> RouteEntry {
    RouteEntry {
        via: Some(ip(via)),
        ..RouteEntry::new(prefix(dest))
    }
}

pub(super) fn rule(from: &str, table: u32) -> RuleEntry {
    RuleEntry {
        from: Some(prefix(from)),
        priority: Some(1000),
        ..RuleEntry::new(Family::Inet, RuleAction::Table(table))
    }
}

/// A v2 instance on eth0 advertising 192.0.2.1 every second, keepalived's defaults
/// elsewhere.
pub(super) fn params(name: &str, vrid: u8, priority: u8) -> InstanceParams {
    let base = VrrpInstance::new(name.into(), &GlobalDefs::default());
    let inst = VrrpInstance {
        initial_state: if priority == 255 {
            InitialState::Master
        } else {
            InitialState::Backup
        },
        interface: Some("eth0".into()),
        vrid,
        priority,
        advert_int: Duration::from_secs(1),
        version: 2,
        vips: vec![vip("192.0.2.1/24")],
        garp: GarpSettings {
            lower_prio_delay: Duration::from_secs(5),
            lower_prio_repeat: 5,
            ..base.garp.clone()
        },
        ..base
    };
    InstanceParams::from_config(&inst, &Config::default()).unwrap()
}

pub(super) fn v3(mut p: InstanceParams, interval_cs: u16) -> InstanceParams {
    p.version = 3;
    p.advert_interval = Centis(interval_cs);
    p
}

pub(super) const OUR_ADDR: &str = "192.0.2.11";

pub(super) fn secs(s: f64) -> Timestamp {
    Timestamp::from_micros((s * 1_000_000.0).round() as u64)
}

/// A router under test with its fake clock.
pub(super) struct Sim {
    pub router: Router,
    pub now: Timestamp,
}

impl Sim {
    /// Every instance gets OUR_ADDR as its source address (reported before Startup).
    pub fn new(instances: Vec<InstanceParams>) -> Sim {
        Sim::with_config(RouterConfig {
            instances,
            ..Default::default()
        })
    }

    pub fn with_config(config: RouterConfig) -> Sim {
        let mut sim = Sim {
            router: Router::new(config),
            now: Timestamp::from_micros(1_000_000),
        };
        for id in sim.router.instance_ids() {
            sim.event(Event::SourceAddress {
                instance: id,
                addr: Some(ip(OUR_ADDR)),
            });
        }
        sim
    }

    pub fn started(instances: Vec<InstanceParams>) -> (Sim, Vec<Action>) {
        let mut sim = Sim::new(instances);
        let actions = sim.event(Event::Startup);
        (sim, actions)
    }

    pub fn id(&self, name: &str) -> InstanceId {
        self.router.find(name).unwrap()
    }

    pub fn event(&mut self, event: Event) -> Vec<Action> {
        self.router.handle(self.now, event)
    }

    /// Moves the clock forward by `d` and delivers a tick.
    pub fn advance(&mut self, d: Duration) -> Vec<Action> {
        self.now = self.now + d;
        self.event(Event::Tick)
    }

    pub fn advance_secs(&mut self, s: f64) -> Vec<Action> {
        self.advance(Duration::from_micros((s * 1_000_000.0).round() as u64))
    }

    /// Delivers every deadline up to `until`, one tick per deadline, and returns all actions.
    pub fn run_until(&mut self, until: Timestamp) -> Vec<Action> {
        let mut all = Vec::new();
        while let Some(deadline) = self.router.next_deadline() {
            if deadline > until {
                break;
            }
            self.now = deadline.max(self.now);
            all.extend(self.event(Event::Tick));
        }
        self.now = until.max(self.now);
        all.extend(self.event(Event::Tick));
        all
    }

    pub fn state(&self, name: &str) -> StateName {
        self.router.status(self.id(name)).unwrap().state
    }

    pub fn status(&self, name: &str) -> InstanceStatus {
        self.router.status(self.id(name)).unwrap()
    }

    pub fn advert(&mut self, name: &str, src: &str, priority: u8) -> Vec<Action> {
        let rx = self.received(name, src, priority);
        self.event(Event::AdvertReceived(rx))
    }

    /// An advert matching `name`'s configuration from `src` with `priority`.
    pub fn received(&self, name: &str, src: &str, priority: u8) -> Received {
        let id = self.id(name);
        let p = self.router.params(id).unwrap();
        Received {
            to: Recipient::Instance(id),
            advert: Advert {
                version: p.version,
                vrid: p.vrid,
                priority,
                interval_cs: p.advert_interval.get(),
                auth: match &p.auth {
                    AuthSpec::None => AuthData::None,
                    AuthSpec::Pass(pw) => AuthData::Pass(*pw),
                    AuthSpec::Ah => AuthData::Ah,
                },
                addrs: p.vips.iter().map(|v| v.prefix.addr).collect(),
            },
            src: ip(src),
            dst: if p.is_unicast() {
                ip(OUR_ADDR)
            } else {
                p.mcast_group
            },
            ttl: Some(255),
            ah_sequence: None,
        }
    }
}

/// Starts `p` and lets its down timer expire; returns the actions of becoming MASTER.
pub(super) fn master(p: InstanceParams) -> (Sim, Vec<Action>) {
    let name = p.name.clone();
    let (mut sim, _) = Sim::started(vec![p]);
    let deadline = sim.router.next_deadline().unwrap();
    let actions = sim.run_until(deadline);
    assert_eq!(sim.state(&name), StateName::Master);
    (sim, actions)
}

/// The variant names of `actions`, for checking order.
pub(super) fn kinds(actions: &[Action]) -> Vec<&'static str> {
    actions
        .iter()
        .filter(|a| !matches!(a, Action::Log { .. }))
        .map(|a| match a {
            Action::SendAdvert { .. } => "SendAdvert",
            Action::AddVips { .. } => "AddVips",
            Action::RemoveVips { .. } => "RemoveVips",
            Action::AddExcludedVips { .. } => "AddExcludedVips",
            Action::RemoveExcludedVips { .. } => "RemoveExcludedVips",
            Action::InstallVirtualRoutes { .. } => "InstallVirtualRoutes",
            Action::RemoveVirtualRoutes { .. } => "RemoveVirtualRoutes",
            Action::InstallVirtualRules { .. } => "InstallVirtualRules",
            Action::RemoveVirtualRules { .. } => "RemoveVirtualRules",
            Action::InstallBackupRoutes { .. } => "InstallBackupRoutes",
            Action::RemoveBackupRoutes { .. } => "RemoveBackupRoutes",
            Action::InstallBackupRules { .. } => "InstallBackupRules",
            Action::RemoveBackupRules { .. } => "RemoveBackupRules",
            Action::SendGarp { .. } => "SendGarp",
            Action::StateChanged { .. } => "StateChanged",
            Action::Notify { .. } => "Notify",
            Action::NotifyMasterRxLowerPri { .. } => "NotifyMasterRxLowerPri",
            Action::PriorityChanged { .. } => "PriorityChanged",
            Action::Mail { .. } => "Mail",
            Action::Log { .. } => "Log",
        })
        .collect()
}

/// Priorities of the adverts sent, in order.
pub(super) fn adverts(actions: &[Action]) -> Vec<u8> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendAdvert { advert, .. } => Some(advert.priority),
            _ => None,
        })
        .collect()
}

pub(super) fn logs(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Log { message, .. } => Some(message.clone()),
            _ => None,
        })
        .collect()
}

pub(super) fn has_log(actions: &[Action], text: &str) -> bool {
    logs(actions).iter().any(|l| l.contains(text))
}

/// (target name, state, priority) of every Notify.
pub(super) fn notifies(actions: &[Action]) -> Vec<(String, NotifyState, u8)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Notify {
                target,
                state,
                priority,
            } => {
                let name = match target {
                    NotifyTarget::Instance { name, .. } | NotifyTarget::Group { name, .. } => {
                        name.clone()
                    }
                };
                Some((name, *state, *priority))
            }
            _ => None,
        })
        .collect()
}

pub(super) fn garps(actions: &[Action]) -> Vec<(GarpKind, u32)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::SendGarp { kind, repeat, .. } => Some((*kind, *repeat)),
            _ => None,
        })
        .collect()
}
