//! The engine: all instances and sync groups of one daemon, driven by `handle`.

use std::cmp::Ordering;
use std::collections::HashMap;
use std::net::IpAddr;
use std::sync::Arc;
use std::time::Duration;

use kad_packet::{Advert, AuthData};

use crate::config::model::{Family, RouteEntry, RuleEntry};
use super::vip::Vip;

use super::check::{check_advert, AhSequence, CheckInput, Condition, RateLimit};
use super::event::{
    Action, Destinations, Event, GarpKind, GroupId, InstanceId, LogLevel, NotifyState,
    NotifyTarget, PacketErrorKind, Received, Recipient, StateName, TrackerStatus,
};
use super::params::{
    routes_not_keyed_by, AuthSpec, InstanceParams, RouterConfig, RouterOptions, SyncGroupParams,
    TrackedObject, TrackerSpec, PRIO_OWNER,
};
use super::stats::Stats;
use super::time::{master_down_interval, skew_min, skew_time, Centis, Timestamp};

/// Where an instance is in its life. Deadlines live inside the variant that uses them,
/// so leaving a state drops its timers: a stale timer has nothing left to act on.
#[derive(Debug, Clone, PartialEq)]
enum Phase {
    /// Before `Event::Startup`.
    Init,
    Backup(BackupTimers),
    Master(MasterTimers),
    Fault,
    Stopped,
}

#[derive(Debug, Clone, PartialEq)]
struct BackupTimers {
    master_down: Timestamp,
    /// While set and in the future, lower-priority adverts are still accepted
    /// (`preempt_delay`).
    preempt_until: Option<Timestamp>,
}

#[derive(Debug, Clone, PartialEq)]
struct MasterTimers {
    next_advert: Timestamp,
    garp_delayed: Option<Timestamp>,
    garp_refresh: Option<Timestamp>,
    garp_extra: Option<Timestamp>,
    lower_prio_garp: Option<Timestamp>,
    rogue: RogueOwner,
}

/// Two address owners on one VRID (keepalived 2.3.3+, RFC 9568 erratum 8298): the one
/// with the higher address sends two more adverts, then watches for a while; if the
/// other keeps advertising 255 it steps down to 254.
#[derive(Debug, Clone, Default, PartialEq)]
struct RogueOwner {
    adverts_to_send: u8,
    their_interval: Option<Centis>,
    watch_until: Option<Timestamp>,
}

/// keepalived's `wantstate`: what the instance would be in, disregarding its sync group.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Want {
    Backup,
    Master,
    Fault,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum GroupState {
    /// Some member still waits for its first tracking-script result.
    Init,
    Backup,
    Master,
    Fault,
    Stopped,
}

/// Why an instance is down on its own account (not because of its sync group).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
struct Blocked {
    fault: bool,
    /// A weight-0 tracking script has not reported yet.
    init: bool,
}

#[derive(Debug, Clone)]
struct Instance {
    id: InstanceId,
    params: InstanceParams,
    group: Option<usize>,
    phase: Phase,
    want: Want,
    effective_priority: u8,
    /// The address owner stepped down to 254 in the two-owners dance.
    owner_reduced: bool,
    master_adver_int: Centis,
    master_addr: Option<IpAddr>,
    master_priority: u8,
    source: Option<IpAddr>,
    blocked: Blocked,
    stats: Stats,
    rl: RateLimit,
    /// keepalived's `notifies_sent`: a member already in its group's state is not
    /// notified again.
    notified: bool,
    last_mail: Option<NotifyState>,
    ah: AhSequence,
}

#[derive(Debug, Clone)]
struct Group {
    id: GroupId,
    params: SyncGroupParams,
    members: Vec<usize>,
    state: GroupState,
    last_mail: Option<NotifyState>,
}

/// How many due advert timers one `Event::Tick` fires (see `Router::handle`).
pub const TIMERS_PER_TICK: usize = 32;

/// A read-only view of one instance, for status dumps and tests.
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceStatus {
    pub id: InstanceId,
    pub name: String,
    pub state: StateName,
    pub effective_priority: u8,
    pub master_addr: Option<IpAddr>,
    pub master_priority: u8,
    pub master_adver_int: Centis,
    pub stats: Stats,
}

/// What the status dumps need beyond [`InstanceStatus`] (keepalived's `wantstate`,
/// fault counters, timers and priorities as its data file shows them).
#[derive(Debug, Clone, PartialEq)]
pub struct InstanceDetails {
    pub wantstate: StateName,
    /// Weight-0 trackers currently failed (keepalived's `num_script_if_fault`).
    pub tracker_faults: u32,
    /// Weight-0 scripts that have not reported yet (keepalived's `num_script_init`).
    pub scripts_init: u32,
    /// Base priority plus tracker weights before clamping (keepalived's `total_priority`).
    pub total_priority: i64,
    pub next_deadline: Option<Timestamp>,
    pub master_down_interval: Duration,
    pub source: Option<IpAddr>,
}

/// The protocol engine. `handle` is the only way in; it returns what to do, in order.
#[derive(Debug, Clone)]
pub struct Router {
    instances: Instances,
    groups: Vec<Group>,
    interfaces: HashMap<String, bool>,
    trackers: HashMap<TrackedObject, TrackerStatus>,
    options: RouterOptions,
    started: bool,
    stopped: bool,
    next_instance_id: u32,
    next_group_id: u32,
    now: Timestamp,
    out: Vec<Action>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum TimerKind {
    MasterDown,
    Advert,
    GarpDelayed,
    GarpRefresh,
    GarpExtra,
    LowerPrioGarp,
    RogueWatch,
}

/// The instances, with each one's earliest timer kept in a heap: when the adverts of a
/// thousand instances fall due together, finding the next due timer by scanning every
/// instance made each tick quadratic. Any mutable access to an instance marks it, and
/// its timer is recomputed before the next lookup, so no code path can forget to.
#[derive(Debug, Clone, Default)]
struct Instances {
    list: Vec<Instance>,
    /// Each instance's earliest timer as last computed (meaningless while marked).
    due: Vec<Option<(Timestamp, TimerKind)>>,
    marked: Vec<bool>,
    to_refresh: Vec<usize>,
    /// (deadline, index) of every computed timer; entries that no longer match `due`
    /// are dropped when they reach the top.
    heap: std::collections::BinaryHeap<std::cmp::Reverse<(Timestamp, usize)>>,
}

impl Instances {
    fn len(&self) -> usize {
        self.list.len()
    }

    fn iter(&self) -> std::slice::Iter<'_, Instance> {
        self.list.iter()
    }

    /// Room for exactly `additional` more: growth by doubling would leave up to half
    /// of a thousand large entries unused for the daemon's whole life.
    fn reserve_exact(&mut self, additional: usize) {
        self.list.reserve_exact(additional);
        self.due.reserve_exact(additional);
        self.marked.reserve_exact(additional);
    }

    fn push(&mut self, instance: Instance) {
        self.list.push(instance);
        self.due.push(None);
        self.marked.push(false);
        self.mark(self.list.len() - 1);
    }

    fn pop(&mut self) -> Option<Instance> {
        let popped = self.list.pop()?;
        self.due.pop();
        self.marked.pop();
        let len = self.list.len();
        self.to_refresh.retain(|&idx| idx < len);
        Some(popped)
    }

    fn into_vec(self) -> Vec<Instance> {
        self.list
    }

    fn mark(&mut self, idx: usize) {
        if !self.marked[idx] {
            self.marked[idx] = true;
            self.to_refresh.push(idx);
        }
    }

    /// The earliest timer of all instances, as (deadline, index, kind); ties go to the
    /// lower index.
    fn earliest(&mut self) -> Option<(Timestamp, usize, TimerKind)> {
        for idx in std::mem::take(&mut self.to_refresh) {
            self.marked[idx] = false;
            let due = Router::earliest_timer(&self.list[idx]);
            if due != self.due[idx] {
                self.due[idx] = due;
                if let Some((t, _)) = due {
                    self.heap.push(std::cmp::Reverse((t, idx)));
                }
            }
        }
        while let Some(&std::cmp::Reverse((t, idx))) = self.heap.peek() {
            match self.due.get(idx) {
                Some(Some((due, kind))) if *due == t => return Some((t, idx, *kind)),
                _ => {
                    self.heap.pop();
                }
            }
        }
        None
    }

    /// The earliest deadline if it is known without recomputing anything: `None` when
    /// an instance changed since the last [`Instances::earliest`].
    fn known_earliest(&self) -> Option<Option<Timestamp>> {
        if !self.to_refresh.is_empty() {
            return None;
        }
        match self.heap.peek() {
            None => Some(None),
            Some(&std::cmp::Reverse((t, idx))) => match self.due.get(idx) {
                Some(Some((due, _))) if *due == t => Some(Some(t)),
                _ => None,
            },
        }
    }
}

impl std::ops::Index<usize> for Instances {
    type Output = Instance;

    fn index(&self, idx: usize) -> &Instance {
        &self.list[idx]
    }
}

impl std::ops::IndexMut<usize> for Instances {
    fn index_mut(&mut self, idx: usize) -> &mut Instance {
        self.mark(idx);
        &mut self.list[idx]
    }
}

impl<'a> IntoIterator for &'a mut Instances {
    type Item = &'a mut Instance;
    type IntoIter = std::slice::IterMut<'a, Instance>;

    fn into_iter(self) -> Self::IntoIter {
        for idx in 0..self.list.len() {
            self.mark(idx);
        }
        self.list.iter_mut()
    }
}

fn advert_template(p: &InstanceParams) -> Advert {
    Advert {
        version: p.version,
        vrid: p.vrid,
        priority: p.base_priority,
        interval_cs: p.advert_interval.get(),
        auth: match &p.auth {
            AuthSpec::None => AuthData::None,
            AuthSpec::Pass(pw) => AuthData::Pass(*pw),
            AuthSpec::Ah => AuthData::Ah,
        },
        addrs: p.vips.iter().map(|v| v.prefix.addr).collect(),
    }
}

/// What a reload has to install: routes new to the configuration or changed in any
/// attribute (a changed `src` alone included, keepalived issue 1390).
fn routes_not_in(routes: &[RouteEntry], others: &[RouteEntry]) -> Vec<RouteEntry> {
    routes
        .iter()
        .filter(|r| !others.iter().any(|o| r.eq_ignoring_span(o)))
        .cloned()
        .collect()
}

fn rules_not_in(rules: &[RuleEntry], others: &[RuleEntry]) -> Vec<RuleEntry> {
    rules
        .iter()
        .filter(|r| !others.iter().any(|o| r.eq_ignoring_span(o)))
        .cloned()
        .collect()
}

/// An empty list changes nothing, so it makes no action.
fn push_unless_empty<T>(
    actions: &mut Vec<Action>,
    items: impl Into<Arc<[T]>>,
    action: impl FnOnce(Arc<[T]>) -> Action,
) {
    let items = items.into();
    if !items.is_empty() {
        actions.push(action(items));
    }
}

fn same_address(a: &Vip, b: &Vip) -> bool {
    a.prefix == b.prefix && a.dev == b.dev
}

fn addresses_not_in(addresses: &[Vip], others: &[Vip]) -> Vec<Vip> {
    addresses
        .iter()
        .filter(|a| !others.iter().any(|o| same_address(a, o)))
        .cloned()
        .collect()
}

fn state_name(phase: &Phase) -> StateName {
    match phase {
        Phase::Init => StateName::Init,
        Phase::Backup(_) => StateName::Backup,
        Phase::Master(_) => StateName::Master,
        Phase::Fault => StateName::Fault,
        Phase::Stopped => StateName::Stopped,
    }
}

fn group_matches(state: GroupState, notify: NotifyState) -> bool {
    matches!(
        (state, notify),
        (GroupState::Master, NotifyState::Master)
            | (GroupState::Backup, NotifyState::Backup)
            | (GroupState::Fault, NotifyState::Fault)
            | (GroupState::Stopped, NotifyState::Stop)
    )
}

impl Router {
    pub fn new(config: RouterConfig) -> Router {
        let mut router = Router {
            instances: Instances::default(),
            groups: Vec::new(),
            interfaces: HashMap::new(),
            trackers: HashMap::new(),
            options: config.options.clone(),
            started: false,
            stopped: false,
            next_instance_id: 0,
            next_group_id: 0,
            now: Timestamp::default(),
            out: Vec::new(),
        };
        for t in &config.initial_trackers {
            router.trackers.insert(t.object.clone(), t.status);
        }
        router.instances.reserve_exact(config.instances.len());
        for params in config.instances {
            let id = router.allocate_instance_id();
            router.instances.push(Router::new_instance(id, params));
        }
        router.rebuild_groups(&config.groups);
        for idx in 0..router.instances.len() {
            router.refresh(idx);
        }
        router
    }

    fn allocate_instance_id(&mut self) -> InstanceId {
        let id = InstanceId(self.next_instance_id);
        self.next_instance_id += 1;
        id
    }

    fn new_instance(id: InstanceId, params: InstanceParams) -> Instance {
        Instance {
            id,
            group: None,
            phase: Phase::Init,
            want: if params.initial_state == crate::config::model::InitialState::Master {
                Want::Master
            } else {
                Want::Backup
            },
            effective_priority: params.base_priority,
            owner_reduced: false,
            master_adver_int: params.advert_interval,
            master_addr: None,
            master_priority: 0,
            source: params.configured_src,
            blocked: Blocked::default(),
            stats: Stats::default(),
            rl: RateLimit::default(),
            notified: false,
            last_mail: None,
            ah: AhSequence::default(),
            params,
        }
    }

    /// Group states are recomputed from the members' phases, so a reload never leaves
    /// a group claiming a state none of its members is in.
    fn rebuild_groups(&mut self, groups: &[SyncGroupParams]) {
        let old: Vec<Group> = std::mem::take(&mut self.groups);
        for inst in &mut self.instances {
            inst.group = None;
        }
        for gp in groups {
            let members: Vec<usize> = gp
                .members
                .iter()
                .filter_map(|m| self.instances.iter().position(|i| *i.params.name == **m))
                .collect();
            if members.is_empty() {
                continue;
            }
            let previous = old.iter().find(|g| g.params.name == gp.name);
            let id = match previous {
                Some(g) => g.id,
                None => {
                    let id = GroupId(self.next_group_id);
                    self.next_group_id += 1;
                    id
                }
            };
            let gidx = self.groups.len();
            for &m in &members {
                self.instances[m].group = Some(gidx);
            }
            let state = if !self.started {
                if members
                    .iter()
                    .all(|&m| self.instances[m].params.starts_as_master())
                {
                    GroupState::Master
                } else {
                    GroupState::Backup
                }
            } else {
                let phases: Vec<&Phase> =
                    members.iter().map(|&m| &self.instances[m].phase).collect();
                if phases.iter().any(|p| matches!(p, Phase::Fault)) {
                    GroupState::Fault
                } else if phases.iter().all(|p| matches!(p, Phase::Master(_))) {
                    GroupState::Master
                } else {
                    GroupState::Backup
                }
            };
            self.groups.push(Group {
                id,
                params: gp.clone(),
                members,
                state,
                last_mail: previous.and_then(|g| g.last_mail),
            });
        }
    }

    // -----------------------------------------------------------------------------
    // Public interface
    // -----------------------------------------------------------------------------

    /// Processes one event at time `now` and returns the actions to perform, in order.
    /// Deadlines due at `now` are processed before and after the event, so a late
    /// `Tick` cannot let an advert that arrived after a deadline win over it.
    pub fn handle(&mut self, now: Timestamp, event: Event) -> Vec<Action> {
        // A clock that steps back must not re-arm timers in the past.
        self.now = self.now.max(now);
        if self.stopped {
            return Vec::new();
        }
        self.leave_master_if_overslept();
        // A Tick is nothing but due timers: it runs a batch of them, and the loop ticks
        // again at once for the rest (next_deadline is then already past). Instances
        // that took over together advertise together: a thousand adverts' actions (each
        // with its address list) alive at once would be a burst the heap keeps the
        // pages of, every advert interval.
        if matches!(event, Event::Tick) {
            self.run_due_timers(TIMERS_PER_TICK);
            return std::mem::take(&mut self.out);
        }
        self.run_due_timers(usize::MAX);
        match event {
            Event::Startup => self.startup(),
            Event::AdvertReceived(rx) => self.advert_received(rx),
            Event::PacketError { to, kind } => self.packet_error(&to, kind),
            Event::Tick => {}
            Event::InterfaceUp(name) => self.interface_changed(name, true),
            Event::InterfaceDown(name) => self.interface_changed(name, false),
            Event::TrackerUpdate { object, status } => {
                self.trackers.insert(object, status);
                self.refresh_all();
            }
            Event::SourceAddress { instance, addr } => {
                if let Some(idx) = self.index_of(instance) {
                    self.instances[idx].source = addr;
                    self.refresh(idx);
                }
            }
            Event::OwnedAddressDeleted { instance, addr } => {
                self.owned_address_deleted(instance, addr)
            }
            Event::OwnedRouteDeleted { instance, key } => self.owned_route_deleted(instance, key),
            Event::OwnedRuleDeleted { instance, rule } => self.owned_rule_deleted(instance, rule),
            Event::Shutdown => self.shutdown(),
            Event::Reload(config) => self.reload(*config),
        }
        self.run_due_timers(usize::MAX);
        std::mem::take(&mut self.out)
    }

    /// The earliest time at which `handle(_, Event::Tick)` has something to do.
    pub fn next_deadline(&self) -> Option<Timestamp> {
        self.instances.known_earliest().unwrap_or_else(|| {
            self.instances
                .iter()
                .filter_map(|i| Router::earliest_timer(i).map(|(t, _)| t))
                .min()
        })
    }

    /// Every instance's parameters, in order, without a lookup per instance.
    pub fn all_params(&self) -> impl Iterator<Item = (InstanceId, &InstanceParams)> + '_ {
        self.instances.iter().map(|i| (i.id, &i.params))
    }

    /// The MASTER instances holding `addr` as a tracked VIP or excluded VIP: the only ones
    /// its deletion concerns. A mass MASTER -> BACKUP switch then costs nothing per echo of
    /// its own deletions.
    pub fn masters_owning(&self, addr: IpAddr) -> Vec<InstanceId> {
        self.instances
            .iter()
            .filter(|i| matches!(i.phase, Phase::Master(_)))
            .filter(|i| i.params.vips.iter().chain(i.params.excluded_vips.iter()).any(|a| a.prefix.addr == addr && !a.no_track()))
            .map(|i| i.id)
            .collect()
    }

    pub fn instance_ids(&self) -> Vec<InstanceId> {
        self.instances.iter().map(|i| i.id).collect()
    }

    pub fn find(&self, name: &str) -> Option<InstanceId> {
        self.instances
            .iter()
            .find(|i| &*i.params.name == name)
            .map(|i| i.id)
    }

    pub fn params(&self, id: InstanceId) -> Option<&InstanceParams> {
        self.index_of(id).map(|idx| &self.instances[idx].params)
    }

    pub fn status(&self, id: InstanceId) -> Option<InstanceStatus> {
        let inst = &self.instances[self.index_of(id)?];
        Some(InstanceStatus {
            id: inst.id,
            name: inst.params.name.to_string(),
            state: state_name(&inst.phase),
            effective_priority: inst.effective_priority,
            master_addr: inst.master_addr,
            master_priority: inst.master_priority,
            master_adver_int: inst.master_adver_int,
            stats: inst.stats,
        })
    }

    pub fn details(&self, id: InstanceId) -> Option<InstanceDetails> {
        let idx = self.index_of(id)?;
        let inst = &self.instances[idx];
        let weight_zero = |t: &&TrackerSpec| t.weight == 0;
        let tracker_faults = inst
            .params
            .trackers
            .iter()
            .filter(weight_zero)
            .filter(|t| self.tracker_effect(t).is_err())
            .count();
        let scripts_init = inst
            .params
            .trackers
            .iter()
            .filter(weight_zero)
            .filter(|t| {
                matches!(t.object, TrackedObject::Script(_))
                    && !matches!(
                        self.trackers.get(&t.object),
                        Some(TrackerStatus::ScriptOk) | Some(TrackerStatus::ScriptFailed)
                    )
            })
            .count();
        let total_priority = if inst.params.is_owner() {
            i64::from(inst.effective_priority)
        } else {
            inst.params
                .trackers
                .iter()
                .filter_map(|t| self.tracker_effect(t).ok())
                .sum::<i64>()
                + i64::from(inst.params.base_priority)
        };
        Some(InstanceDetails {
            wantstate: match inst.want {
                Want::Backup => StateName::Backup,
                Want::Master => StateName::Master,
                Want::Fault => StateName::Fault,
            },
            tracker_faults: u32::try_from(tracker_faults).unwrap_or(u32::MAX),
            scripts_init: u32::try_from(scripts_init).unwrap_or(u32::MAX),
            total_priority,
            next_deadline: Router::earliest_timer(inst).map(|(t, _)| t),
            master_down_interval: self.mdi(idx),
            source: inst.source,
        })
    }

    /// A sync group's state; `Init` while a member waits for its first script result.
    pub fn group_state(&self, name: &str) -> Option<StateName> {
        let group = self.groups.iter().find(|g| g.params.name == name)?;
        Some(match group.state {
            GroupState::Init => StateName::Init,
            GroupState::Backup => StateName::Backup,
            GroupState::Master => StateName::Master,
            GroupState::Fault => StateName::Fault,
            GroupState::Stopped => StateName::Stopped,
        })
    }

    /// The last reported status of a tracked script or file.
    pub fn tracker_status(&self, object: &TrackedObject) -> Option<TrackerStatus> {
        self.trackers.get(object).copied()
    }

    /// Zeroes the counters (keepalived's STATS_CLEAR signal).
    /// Each sync group's state as its notifications name it; groups still waiting for
    /// their first tracking-script result are left out.
    pub fn group_states(&self) -> Vec<(String, NotifyState)> {
        self.groups
            .iter()
            .filter_map(|g| {
                let state = match g.state {
                    GroupState::Master => NotifyState::Master,
                    GroupState::Backup => NotifyState::Backup,
                    GroupState::Fault => NotifyState::Fault,
                    GroupState::Stopped => NotifyState::Stop,
                    GroupState::Init => return None,
                };
                Some((g.params.name.clone(), state))
            })
            .collect()
    }

    pub fn clear_stats(&mut self) {
        for inst in &mut self.instances {
            inst.stats = Stats::default();
        }
    }

    // -----------------------------------------------------------------------------
    // Output helpers
    // -----------------------------------------------------------------------------

    fn log(&mut self, level: LogLevel, message: String) {
        self.out.push(Action::Log { level, message });
    }

    fn index_of(&self, id: InstanceId) -> Option<usize> {
        // Ids are handed out in order as instances are added, so until a reload removes
        // or reorders some, an instance's id is its index: the daemon asks for each of a
        // thousand instances at a takeover, and a scan each time made that quadratic.
        let guess = id.0 as usize;
        if self.instances.list.get(guess).is_some_and(|i| i.id == id) {
            return Some(guess);
        }
        self.instances.iter().position(|i| i.id == id)
    }

    fn name(&self, idx: usize) -> &str {
        &self.instances[idx].params.name
    }

    fn mdi(&self, idx: usize) -> Duration {
        let i = &self.instances[idx];
        master_down_interval(
            i.params.version,
            self.skew_priority(idx),
            i.master_adver_int,
            i.params.down_timer_adverts,
        )
    }

    fn skew(&self, idx: usize) -> Duration {
        let i = &self.instances[idx];
        skew_time(
            i.params.version,
            self.skew_priority(idx),
            i.master_adver_int,
        )
    }

    /// keepalived computes an owner's skew from 255 even while it has stepped down.
    fn skew_priority(&self, idx: usize) -> u8 {
        let i = &self.instances[idx];
        if i.params.is_owner() {
            PRIO_OWNER
        } else {
            i.effective_priority
        }
    }

    fn send_advert(&mut self, idx: usize, priority: u8) {
        let now = self.now;
        let inst = &mut self.instances[idx];
        // Built for each advert rather than kept: the list of VIPs it carries would
        // be held by every instance of a large router for nothing.
        let advert = Advert { priority, ..advert_template(&inst.params) };
        let destinations = if inst.params.is_unicast() {
            Destinations::Unicast(inst.params.unicast_peers.iter().map(|p| p.addr).collect())
        } else {
            Destinations::Multicast(inst.params.mcast_group)
        };
        let ah_sequence = (inst.params.auth == AuthSpec::Ah).then(|| inst.ah.next_to_send());
        inst.stats.advert_sent += 1;
        if priority == 0 {
            inst.stats.pri_zero_sent += 1;
        }
        if let Phase::Master(m) = &mut inst.phase {
            m.next_advert = now + inst.params.advert_interval.to_duration();
        }
        self.out.push(Action::SendAdvert {
            instance: inst.id,
            advert,
            destinations,
            ah_sequence,
        });
    }

    fn set_phase(&mut self, idx: usize, phase: Phase) {
        let inst = &mut self.instances[idx];
        let from = state_name(&inst.phase);
        let to = state_name(&phase);
        inst.phase = phase;
        if from != to {
            self.out.push(Action::StateChanged {
                instance: inst.id,
                from,
                to,
            });
        }
    }

    fn backup_phase(&self, wait: Duration) -> Phase {
        Phase::Backup(BackupTimers {
            master_down: self.now + wait,
            preempt_until: None,
        })
    }

    fn notify_instance(&mut self, idx: usize, state: NotifyState) {
        let group_state = self.instances[idx].group.map(|g| self.groups[g].state);
        let no_email_faults = self.options.no_email_faults;
        let inst = &mut self.instances[idx];
        if inst.notified && group_state.is_some_and(|g| group_matches(g, state)) {
            return;
        }
        let state = if state == NotifyState::Deleted && !inst.params.notify.deleted {
            NotifyState::Fault
        } else {
            state
        };
        inst.notified = true;
        let target = NotifyTarget::Instance {
            id: inst.id,
            name: inst.params.name.to_string(),
        };
        self.out.push(Action::Notify {
            target: target.clone(),
            state,
            priority: inst.effective_priority,
        });
        let mail_wanted = inst.params.notify.smtp_alert
            && !(no_email_faults && state == NotifyState::Fault)
            && inst.last_mail != Some(state);
        if mail_wanted {
            inst.last_mail = Some(state);
            self.out.push(Action::Mail { target, state });
        }
    }

    fn notify_group(&mut self, gidx: usize) {
        let no_email_faults = self.options.no_email_faults;
        let group = &mut self.groups[gidx];
        let state = match group.state {
            GroupState::Master => NotifyState::Master,
            GroupState::Backup => NotifyState::Backup,
            GroupState::Fault => NotifyState::Fault,
            GroupState::Stopped => NotifyState::Stop,
            GroupState::Init => return,
        };
        let target = NotifyTarget::Group {
            id: group.id,
            name: group.params.name.clone(),
        };
        self.out.push(Action::Notify {
            target: target.clone(),
            state,
            priority: 0,
        });
        let mail_wanted = group.params.smtp_alert
            && !(no_email_faults && state == NotifyState::Fault)
            && group.last_mail != Some(state);
        if mail_wanted {
            group.last_mail = Some(state);
            self.out.push(Action::Mail { target, state });
        }
    }

    // -----------------------------------------------------------------------------
    // Address, route and rule switching
    // -----------------------------------------------------------------------------

    /// Everything a MASTER owns, in keepalived's order; virtual routes go in before the
    /// same-key backup routes are dropped so that no window without a route exists.
    fn take_ownership(&mut self, idx: usize, backup_routes_installed: bool) {
        let inst = &self.instances[idx];
        let (instance, p) = (inst.id, &inst.params);
        let mut actions = Vec::new();
        push_unless_empty(&mut actions, p.vips.clone(), |vips| Action::AddVips {
            instance,
            vips,
        });
        push_unless_empty(&mut actions, p.excluded_vips.clone(), |vips| {
            Action::AddExcludedVips { instance, vips }
        });
        push_unless_empty(&mut actions, p.virtual_routes.clone(), |routes| {
            Action::InstallVirtualRoutes { instance, routes }
        });
        if backup_routes_installed {
            push_unless_empty(&mut actions, p.backup_routes_not_replaced(), |routes| {
                Action::RemoveBackupRoutes { instance, routes }
            });
        }
        push_unless_empty(&mut actions, p.virtual_rules.clone(), |rules| {
            Action::InstallVirtualRules { instance, rules }
        });
        if backup_routes_installed {
            let stale_backup_rules = rules_not_in(&p.backup_rules, &p.virtual_rules);
            push_unless_empty(&mut actions, stale_backup_rules, |rules| {
                Action::RemoveBackupRules { instance, rules }
            });
        }
        self.out.extend(actions);
    }

    /// A reloaded MASTER: addresses are all added again (the kernel leaves an existing
    /// one alone), but only new or changed routes and rules are installed, so a reload
    /// does not touch what it did not change. Unchanged routes the kernel dropped on its
    /// own meanwhile are restored by the executor's reconciliation, not here.
    fn reload_ownership(&mut self, idx: usize, old: &InstanceParams) {
        let inst = &self.instances[idx];
        let (instance, p) = (inst.id, &inst.params);
        let mut actions = Vec::new();
        push_unless_empty(&mut actions, p.vips.clone(), |vips| Action::AddVips {
            instance,
            vips,
        });
        push_unless_empty(&mut actions, p.excluded_vips.clone(), |vips| {
            Action::AddExcludedVips { instance, vips }
        });
        let routes = routes_not_in(&p.virtual_routes, &old.virtual_routes);
        push_unless_empty(&mut actions, routes, |routes| {
            Action::InstallVirtualRoutes { instance, routes }
        });
        let rules = rules_not_in(&p.virtual_rules, &old.virtual_rules);
        push_unless_empty(&mut actions, rules, |rules| Action::InstallVirtualRules {
            instance,
            rules,
        });
        self.out.extend(actions);
    }

    /// Gives up what a MASTER owns. With `install_backup`, the backup routes and rules
    /// replace the master's first; at stop or deletion they are not installed.
    fn release_ownership(&mut self, idx: usize, install_backup: bool) {
        let inst = &self.instances[idx];
        let (instance, p) = (inst.id, &inst.params);
        let mut actions = Vec::new();
        if install_backup {
            push_unless_empty(&mut actions, p.backup_routes.clone(), |routes| {
                Action::InstallBackupRoutes { instance, routes }
            });
            push_unless_empty(&mut actions, p.backup_rules.clone(), |rules| {
                Action::InstallBackupRules { instance, rules }
            });
        }
        let rules = if install_backup {
            rules_not_in(&p.virtual_rules, &p.backup_rules).into()
        } else {
            p.virtual_rules.clone()
        };
        push_unless_empty(&mut actions, rules, |rules| Action::RemoveVirtualRules {
            instance,
            rules,
        });
        let routes = if install_backup {
            p.virtual_routes_not_replaced().into()
        } else {
            p.virtual_routes.clone()
        };
        push_unless_empty(&mut actions, routes, |routes| Action::RemoveVirtualRoutes {
            instance,
            routes,
        });
        push_unless_empty(&mut actions, p.vips.clone(), |vips| Action::RemoveVips {
            instance,
            vips,
        });
        push_unless_empty(&mut actions, p.excluded_vips.clone(), |vips| {
            Action::RemoveExcludedVips { instance, vips }
        });
        self.out.extend(actions);
    }

    /// At startup keepalived force-removes whatever a previous run may have left, then a
    /// non-MASTER instance gets its backup routes.
    fn startup_cleanup(&mut self, idx: usize) {
        self.release_ownership(idx, true);
    }

    fn remove_backup_only(&mut self, idx: usize) {
        let inst = &self.instances[idx];
        let (instance, p) = (inst.id, &inst.params);
        let mut actions = Vec::new();
        push_unless_empty(&mut actions, p.backup_rules.clone(), |rules| {
            Action::RemoveBackupRules { instance, rules }
        });
        push_unless_empty(&mut actions, p.backup_routes.clone(), |routes| {
            Action::RemoveBackupRoutes { instance, routes }
        });
        self.out.extend(actions);
    }

    fn has_addresses(&self, idx: usize) -> bool {
        let p = &self.instances[idx].params;
        !p.vips.is_empty() || !p.excluded_vips.is_empty()
    }

    fn garp(&mut self, idx: usize, kind: GarpKind, repeat: u32) {
        if repeat > 0 && self.has_addresses(idx) {
            let instance = self.instances[idx].id;
            self.out.push(Action::SendGarp {
                instance,
                kind,
                repeat,
            });
        }
    }

    // -----------------------------------------------------------------------------
    // Tracking: priority and fault
    // -----------------------------------------------------------------------------

    fn interface_up(&self, name: &str) -> bool {
        self.interfaces.get(name).copied().unwrap_or(true)
    }

    /// A tracker's effect: `Err(())` means FAULT, `Ok(w)` a priority contribution.
    fn tracker_effect(&self, spec: &TrackerSpec) -> Result<i64, ()> {
        let (w, m) = (i64::from(spec.weight), if spec.reverse { -1 } else { 1 });
        let weighted = |up: bool| -> i64 {
            match (w > 0, up) {
                (true, true) => w * m,
                (false, false) => w * m,
                _ => 0,
            }
        };
        match &spec.object {
            TrackedObject::Interface(name) => {
                let up = self.interface_up(name);
                if w == 0 {
                    if up == spec.reverse {
                        Err(())
                    } else {
                        Ok(0)
                    }
                } else {
                    Ok(weighted(up))
                }
            }
            TrackedObject::Script(_) => match self.trackers.get(&spec.object) {
                Some(TrackerStatus::ScriptOk) => {
                    if w == 0 {
                        if spec.reverse {
                            Err(())
                        } else {
                            Ok(0)
                        }
                    } else {
                        Ok(weighted(true))
                    }
                }
                Some(TrackerStatus::ScriptFailed) => {
                    if w == 0 {
                        if spec.reverse {
                            Ok(0)
                        } else {
                            Err(())
                        }
                    } else {
                        Ok(weighted(false))
                    }
                }
                // Not run yet: no effect, but a weight-0 script holds the instance back.
                _ => Ok(0),
            },
            TrackedObject::File(_) => {
                let value = match self.trackers.get(&spec.object) {
                    Some(TrackerStatus::FileValue(v)) => *v,
                    _ => 0,
                };
                if w == 0 {
                    if (value != 0) != spec.reverse {
                        Err(())
                    } else {
                        Ok(0)
                    }
                } else {
                    let status = value.saturating_mul(w).saturating_mul(m).clamp(-254, 253);
                    if status == -254 {
                        Err(())
                    } else {
                        Ok(status)
                    }
                }
            }
        }
    }

    fn compute_blocked(&self, idx: usize) -> Blocked {
        let inst = &self.instances[idx];
        let p = &inst.params;
        let tracker_fault = p.trackers.iter().any(|t| self.tracker_effect(t).is_err());
        let no_peer = p.unicast_fault_no_peer && p.unicast_peers.is_empty();
        let init = p.trackers.iter().any(|t| {
            t.weight == 0
                && matches!(t.object, TrackedObject::Script(_))
                && !matches!(
                    self.trackers.get(&t.object),
                    Some(TrackerStatus::ScriptOk) | Some(TrackerStatus::ScriptFailed)
                )
        });
        Blocked {
            fault: tracker_fault || no_peer || inst.source.is_none(),
            init,
        }
    }

    fn compute_priority(&self, idx: usize) -> u8 {
        let inst = &self.instances[idx];
        if inst.params.is_owner() {
            return if inst.owner_reduced {
                PRIO_OWNER - 1
            } else {
                PRIO_OWNER
            };
        }
        let total: i64 = inst
            .params
            .trackers
            .iter()
            .filter_map(|t| self.tracker_effect(t).ok())
            .sum::<i64>()
            + i64::from(inst.params.base_priority);
        // Clamped into 1..=254, so the conversion cannot fail.
        u8::try_from(total.clamp(1, 254)).unwrap_or(254)
    }

    fn refresh_all(&mut self) {
        for idx in 0..self.instances.len() {
            self.refresh(idx);
        }
    }

    fn interface_changed(&mut self, name: String, up: bool) {
        let changed = self.interfaces.insert(name, up) != Some(up);
        if changed {
            self.refresh_all();
        }
    }

    /// Re-derives priority and fault state after a fact changed, and acts on the change.
    fn refresh(&mut self, idx: usize) {
        let priority = self.compute_priority(idx);
        let blocked = self.compute_blocked(idx);
        if !self.started || matches!(self.instances[idx].phase, Phase::Init | Phase::Stopped) {
            let inst = &mut self.instances[idx];
            inst.effective_priority = priority;
            inst.blocked = blocked;
            return;
        }
        if priority != self.instances[idx].effective_priority {
            self.change_priority(idx, priority);
        }
        let was = self.instances[idx].blocked;
        self.instances[idx].blocked = blocked;
        if blocked.fault && !was.fault {
            self.down_instance(idx);
        } else if !blocked.fault && !blocked.init && (was.fault || was.init) {
            self.try_up(idx);
        } else if !blocked.fault && blocked.init && was.fault {
            self.instances[idx].want = Want::Backup;
        }
    }

    /// A BACKUP's deadline moves by the change in its down interval, which is the
    /// change in skew: a priority change neither restarts nor ignores the wait.
    fn change_priority(&mut self, idx: usize, new: u8) {
        let old = self.instances[idx].effective_priority;
        let name = self.name(idx).to_owned();
        self.log(
            LogLevel::Info,
            format!("({name}) Changing effective priority from {old} to {new}"),
        );
        let old_skew = self.skew(idx);
        self.instances[idx].effective_priority = new;
        let new_skew = self.skew(idx);
        let inst = &mut self.instances[idx];
        if let Phase::Backup(b) = &mut inst.phase {
            b.master_down = if new_skew >= old_skew {
                b.master_down + (new_skew - old_skew)
            } else {
                b.master_down - (old_skew - new_skew)
            };
        }
        if inst.params.notify.priority_changes {
            let master = matches!(inst.phase, Phase::Master(_));
            self.out.push(Action::PriorityChanged {
                instance: inst.id,
                name,
                master,
                priority: new,
            });
        }
    }

    // -----------------------------------------------------------------------------
    // Transitions (keepalived vrrp.c / vrrp_sync.c / vrrp_scheduler.c)
    // -----------------------------------------------------------------------------

    fn startup(&mut self) {
        if self.started {
            return;
        }
        self.started = true;
        for idx in 0..self.instances.len() {
            let priority = self.compute_priority(idx);
            let blocked = self.compute_blocked(idx);
            let inst = &mut self.instances[idx];
            inst.effective_priority = priority;
            inst.blocked = blocked;
        }
        for gidx in 0..self.groups.len() {
            let members = self.groups[gidx].members.clone();
            let blocked: Vec<Blocked> =
                members.iter().map(|&m| self.instances[m].blocked).collect();
            if blocked.iter().any(|b| b.fault) {
                self.groups[gidx].state = GroupState::Fault;
            } else if blocked.iter().any(|b| b.init) {
                self.groups[gidx].state = GroupState::Init;
            }
            if matches!(
                self.groups[gidx].state,
                GroupState::Fault | GroupState::Backup
            ) {
                self.notify_group(gidx);
            }
        }
        let owners: Vec<usize> = (0..self.instances.len())
            .filter(|&idx| self.start_instance(idx))
            .collect();
        // keepalived gives owners a 1 µs timer: they become MASTER after every other
        // instance has been initialised.
        for idx in owners {
            self.instances[idx].want = Want::Master;
            self.goto_master(idx, false);
            self.after_transition(idx, StateName::Init);
        }
    }

    /// Initialises one instance; returns true if it is an owner that goes MASTER at once.
    fn start_instance(&mut self, idx: usize) -> bool {
        let inst = &self.instances[idx];
        let group_state = inst.group.map(|g| self.groups[g].state);
        let blocked = inst.blocked;
        let is_up = !blocked.fault;
        let new_state = match group_state {
            Some(GroupState::Master) => Want::Master,
            Some(GroupState::Fault) => Want::Fault,
            Some(_) => Want::Backup,
            None => inst.want,
        };
        let group_init = group_state == Some(GroupState::Init);
        if is_up
            && !blocked.init
            && !group_init
            && new_state == Want::Master
            && inst.params.starts_as_master()
            && inst.want == Want::Master
        {
            return true;
        }
        let wait = if group_state == Some(GroupState::Backup) && inst.want == Want::Master {
            inst.master_adver_int.to_duration()
                + skew_min(inst.params.version, inst.master_adver_int)
        } else {
            self.mdi(idx)
        };
        self.startup_cleanup(idx);
        let name = self.name(idx).to_owned();
        if is_up && new_state != Want::Fault && !blocked.init && !group_init {
            self.log(
                LogLevel::Info,
                format!("({name}) Entering BACKUP STATE (init)"),
            );
            let phase = self.backup_phase(wait);
            self.set_phase(idx, phase);
            self.notify_instance(idx, NotifyState::Backup);
        } else {
            self.log(
                LogLevel::Info,
                format!("({name}) Entering FAULT STATE (init)"),
            );
            if blocked.fault {
                self.instances[idx].want = Want::Fault;
            }
            self.set_phase(idx, Phase::Fault);
            if blocked.fault {
                self.notify_instance(idx, NotifyState::Fault);
            }
        }
        false
    }

    /// Transition side effects on the sync group (keepalived's VRRP_TSM table).
    fn after_transition(&mut self, idx: usize, from: StateName) {
        if self.instances[idx].group.is_none() {
            return;
        }
        let to = state_name(&self.instances[idx].phase);
        match (from, to) {
            (_, StateName::Master) => self.sync_master(idx),
            (StateName::Master, StateName::Backup) => self.sync_backup(idx),
            _ => {}
        }
    }

    fn can_goto_master(&mut self, idx: usize) -> bool {
        let Some(gidx) = self.instances[idx].group else {
            return true;
        };
        if self.groups[gidx].state == GroupState::Master {
            return true;
        }
        let others_ready = self.groups[gidx]
            .members
            .iter()
            .all(|&m| m == idx || self.instances[m].want == Want::Master);
        if !others_ready {
            // Give the others time to want MASTER too; the exact wait does not matter.
            let wait = self.mdi(idx);
            if let Phase::Backup(b) = &mut self.instances[idx].phase {
                b.master_down = self.now + wait;
            }
        }
        others_ready
    }

    /// Returns whether the instance became MASTER.
    fn goto_master(&mut self, idx: usize, check_group: bool) -> bool {
        if check_group && !self.can_goto_master(idx) {
            self.instances[idx].want = Want::Master;
            return false;
        }
        let from = state_name(&self.instances[idx].phase);
        let now = self.now;
        let inst = &mut self.instances[idx];
        inst.rl.reset();
        inst.ah.restart_if_exhausted();
        let garp = &inst.params.garp;
        let timers = MasterTimers {
            next_advert: now + inst.params.advert_interval.to_duration(),
            garp_delayed: (!garp.master_delay.is_zero()).then(|| now + garp.master_delay),
            garp_refresh: (!garp.master_refresh.is_zero())
                .then(|| now + garp.master_delay + garp.master_refresh),
            garp_extra: garp
                .extra_interfaces
                .as_ref()
                .map(|x| now + garp.master_delay + x.interval),
            lower_prio_garp: None,
            rogue: RogueOwner::default(),
        };
        inst.phase = Phase::Master(timers);
        // The old master must drop the addresses before our GARPs go out.
        let priority = inst.effective_priority;
        self.send_advert(idx, priority);
        let name = self.name(idx).to_owned();
        self.log(LogLevel::Info, format!("({name}) Entering MASTER STATE"));
        self.become_master(idx, from);
        true
    }

    fn become_master(&mut self, idx: usize, from: StateName) {
        let inst = &mut self.instances[idx];
        inst.stats.become_master += 1;
        if inst.params.is_owner() && inst.owner_reduced {
            inst.owner_reduced = false;
            inst.effective_priority = PRIO_OWNER;
            let name = inst.params.name.clone();
            self.log(
                LogLevel::Info,
                format!(
                "({name}) Restoring our priority to 255 since other address owner has disappeared"
            ),
            );
        }
        let inst = &mut self.instances[idx];
        inst.master_adver_int = inst.params.advert_interval;
        self.take_ownership(idx, from != StateName::Init);
        let repeat = self.instances[idx].params.garp.master_repeat;
        self.garp(idx, GarpKind::MasterBurst, repeat);
        let instance = self.instances[idx].id;
        self.out.push(Action::StateChanged {
            instance,
            from,
            to: StateName::Master,
        });
        self.notify_instance(idx, NotifyState::Master);
    }

    /// `to` is Backup or Fault. `announce_stop`: send a priority-0 advert so a backup
    /// takes over after its skew instead of the full down interval.
    fn leave_master(&mut self, idx: usize, to: Want, announce_stop: bool) {
        let name = self.name(idx).to_owned();
        self.instances[idx].rl.reset();
        match to {
            Want::Fault => {
                self.log(LogLevel::Info, format!("({name}) Entering FAULT STATE"));
                self.send_advert(idx, 0);
            }
            _ => {
                self.log(LogLevel::Info, format!("({name}) Entering BACKUP STATE"));
                if announce_stop {
                    self.send_advert(idx, 0);
                }
            }
        }
        self.release_ownership(idx, true);
        let phase = if to == Want::Fault {
            Phase::Fault
        } else {
            self.backup_phase(self.mdi(idx))
        };
        self.set_phase(idx, phase);
        self.instances[idx].stats.release_master += 1;
        let state = if to == Want::Fault {
            NotifyState::Fault
        } else {
            NotifyState::Backup
        };
        self.notify_instance(idx, state);
    }

    /// keepalived's `vrrp_state_leave_fault`, also used to enter FAULT from BACKUP.
    fn leave_fault(&mut self, idx: usize, to: Want) {
        if to == Want::Master {
            self.goto_master(idx, false);
            return;
        }
        let name = self.name(idx).to_owned();
        let current = state_name(&self.instances[idx].phase);
        let target = if to == Want::Fault {
            StateName::Fault
        } else {
            StateName::Backup
        };
        if current != target {
            let label = if to == Want::Fault { "FAULT" } else { "BACKUP" };
            self.log(LogLevel::Info, format!("({name}) Entering {label} STATE"));
        }
        if current == StateName::Master {
            self.send_advert(idx, 0);
            self.release_ownership(idx, true);
        }
        let inst = &mut self.instances[idx];
        inst.master_adver_int = inst.params.advert_interval;
        if to == Want::Fault {
            self.set_phase(idx, Phase::Fault);
            self.notify_instance(idx, NotifyState::Fault);
        } else {
            let phase = self.backup_phase(self.mdi(idx));
            self.set_phase(idx, phase);
            self.notify_instance(idx, NotifyState::Backup);
        }
    }

    fn down_instance(&mut self, idx: usize) {
        self.instances[idx].want = Want::Fault;
        if matches!(self.instances[idx].phase, Phase::Master(_)) {
            self.leave_master(idx, Want::Fault, true);
        } else {
            self.leave_fault(idx, Want::Fault);
        }
        if let Some(gidx) = self.instances[idx].group {
            let first_fault = self.groups[gidx]
                .members
                .iter()
                .all(|&m| m == idx || !self.instances[m].blocked.fault);
            if first_fault {
                self.sync_fault(idx);
            }
        }
    }

    fn try_up(&mut self, idx: usize) {
        let blocked = self.instances[idx].blocked;
        if blocked.fault {
            return;
        }
        if blocked.init {
            self.instances[idx].want = Want::Backup;
            return;
        }
        let want = if self.instances[idx].params.starts_as_master() {
            Want::Master
        } else {
            Want::Backup
        };
        self.instances[idx].want = want;
        self.instances[idx].master_adver_int = self.instances[idx].params.advert_interval;
        if let Some(gidx) = self.instances[idx].group {
            let others_down = self.groups[gidx].members.iter().any(|&m| {
                m != idx && (self.instances[m].blocked.fault || self.instances[m].blocked.init)
            });
            if others_down {
                return;
            }
        }
        let target = if want == Want::Master && !self.can_goto_master(idx) {
            Want::Backup
        } else {
            want
        };
        self.leave_fault(idx, target);
        let inst = &self.instances[idx];
        if inst.params.is_unicast() && inst.source.is_some() {
            let instance = inst.id;
            self.out.push(Action::SendGarp {
                instance,
                kind: GarpKind::UnicastSource,
                repeat: 1,
            });
        }
        self.instances[idx].want = want;
        if self.instances[idx].group.is_some() {
            if matches!(self.instances[idx].phase, Phase::Master(_)) {
                self.sync_master(idx);
            } else {
                self.sync_backup(idx);
            }
        }
    }

    fn sync_master(&mut self, idx: usize) {
        let Some(gidx) = self.instances[idx].group else {
            return;
        };
        if self.groups[gidx].state == GroupState::Master || !self.can_goto_master(idx) {
            return;
        }
        let gname = self.groups[gidx].params.name.clone();
        self.log(
            LogLevel::Info,
            format!("VRRP_Group({gname}) Syncing instances to MASTER state"),
        );
        for m in self.groups[gidx].members.clone() {
            if m != idx
                && !matches!(self.instances[m].phase, Phase::Master(_))
                && !self.instances[m].blocked.fault
            {
                self.instances[m].want = Want::Master;
                self.goto_master(m, true);
            }
        }
        self.groups[gidx].state = GroupState::Master;
        self.notify_group(gidx);
    }

    fn sync_backup(&mut self, idx: usize) {
        let Some(gidx) = self.instances[idx].group else {
            return;
        };
        if self.groups[gidx].state == GroupState::Backup {
            return;
        }
        let gname = self.groups[gidx].params.name.clone();
        self.log(
            LogLevel::Info,
            format!("VRRP_Group({gname}) Syncing instances to BACKUP state"),
        );
        for m in self.groups[gidx].members.clone() {
            if m == idx
                || matches!(self.instances[m].phase, Phase::Backup(_))
                || self.instances[m].blocked.fault
            {
                continue;
            }
            self.instances[m].want = Want::Backup;
            match self.instances[m].phase {
                Phase::Master(_) => self.leave_master(m, Want::Backup, false),
                Phase::Fault | Phase::Init => self.leave_fault(m, Want::Backup),
                _ => {}
            }
        }
        self.groups[gidx].state = GroupState::Backup;
        self.notify_group(gidx);
    }

    fn sync_fault(&mut self, idx: usize) {
        let Some(gidx) = self.instances[idx].group else {
            return;
        };
        if self.groups[gidx].state == GroupState::Fault {
            return;
        }
        let gname = self.groups[gidx].params.name.clone();
        self.log(
            LogLevel::Info,
            format!("VRRP_Group({gname}) Syncing instances to FAULT state"),
        );
        for m in self.groups[gidx].members.clone() {
            if m == idx || matches!(self.instances[m].phase, Phase::Fault) {
                continue;
            }
            self.instances[m].want = Want::Fault;
            match self.instances[m].phase {
                Phase::Master(_) => self.leave_master(m, Want::Fault, false),
                Phase::Backup(_) | Phase::Init => {
                    self.set_phase(m, Phase::Fault);
                    self.notify_instance(m, NotifyState::Fault);
                }
                _ => {}
            }
        }
        self.groups[gidx].state = GroupState::Fault;
        self.notify_group(gidx);
    }

    // -----------------------------------------------------------------------------
    // Timers
    // -----------------------------------------------------------------------------

    fn earliest_timer(inst: &Instance) -> Option<(Timestamp, TimerKind)> {
        match &inst.phase {
            Phase::Backup(b) => Some((b.master_down, TimerKind::MasterDown)),
            Phase::Master(m) => [
                Some((m.next_advert, TimerKind::Advert)),
                m.garp_delayed.map(|t| (t, TimerKind::GarpDelayed)),
                m.garp_refresh.map(|t| (t, TimerKind::GarpRefresh)),
                m.garp_extra.map(|t| (t, TimerKind::GarpExtra)),
                m.lower_prio_garp.map(|t| (t, TimerKind::LowerPrioGarp)),
                m.rogue.watch_until.map(|t| (t, TimerKind::RogueWatch)),
            ]
            .into_iter()
            .flatten()
            .min_by_key(|(t, _)| *t),
            _ => None,
        }
    }

    /// `timer_expired_backup`: when a router of the configured highest other priority
    /// could have taken over since our last advert, it probably has, and a `nopreempt`
    /// MASTER would otherwise answer its adverts by forcing an election it wins.
    /// keepalived's formula: 3 intervals (not `down_timer_adverts`) plus that router's
    /// skew, counted from the last advert sent. An instance past it has its own advert
    /// timer overdue by 2 intervals plus the skew, so keepalived's extra condition (the
    /// earliest timer is at least that late) always holds here.
    fn leave_master_if_overslept(&mut self) {
        if !self.started {
            return;
        }
        let late_since = self.next_deadline();
        let mut logged = false;
        for idx in 0..self.instances.len() {
            let Some(takeover) = self.takeover_possible_at(idx) else {
                continue;
            };
            if takeover > self.now {
                continue;
            }
            if !logged {
                logged = true;
                let late = late_since.map(|t| self.now.since(t)).unwrap_or_default();
                self.log(
                    LogLevel::Info,
                    format!(
                        "VRRP thread timer expired {}.{:06} seconds ago",
                        late.as_secs(),
                        late.subsec_micros()
                    ),
                );
            }
            self.instances[idx].want = Want::Backup;
            self.leave_master(idx, Want::Backup, false);
            self.after_transition(idx, StateName::Master);
        }
    }

    /// When another router of priority `timer_expired_backup` would have declared this
    /// MASTER down; `None` when not MASTER or not configured.
    fn takeover_possible_at(&self, idx: usize) -> Option<Timestamp> {
        let inst = &self.instances[idx];
        let other_priority = inst.params.timer_expired_backup?;
        let Phase::Master(m) = &inst.phase else {
            return None;
        };
        let interval = inst.params.advert_interval;
        let last_sent = m.next_advert - interval.to_duration();
        Some(
            last_sent
                + interval.to_duration() * 3
                + skew_time(inst.params.version, other_priority, interval),
        )
    }

    /// Fires due timers, stopping after `advert_limit` advert timers. Only adverts are
    /// batched: the master-down timers of a takeover fire together, so that all its VIPs
    /// go to the kernel together.
    fn run_due_timers(&mut self, advert_limit: usize) {
        if !self.started {
            return;
        }
        // Every firing moves its deadline past `now`; the bound only guards against a
        // logic error turning into a hang.
        let mut budget = 16 + self.instances.len() * 8;
        let mut adverts = 0;
        while budget > 0 && adverts < advert_limit {
            budget -= 1;
            let due = self.instances.earliest().filter(|(t, _, _)| *t <= self.now);
            let Some((_, idx, kind)) = due else { return };
            if kind == TimerKind::Advert {
                adverts += 1;
            }
            self.fire(idx, kind);
        }
        // Stopped by the limit: the timers just fired are re-read now, or next_deadline
        // would scan every instance to find the earliest.
        let _ = self.instances.earliest();
    }

    fn fire(&mut self, idx: usize, kind: TimerKind) {
        let now = self.now;
        match kind {
            TimerKind::MasterDown => {
                let name = self.name(idx).to_owned();
                self.log(
                    LogLevel::Debug,
                    format!("({name}) Receive advertisement timeout"),
                );
                self.instances[idx].want = Want::Master;
                if self.goto_master(idx, true) {
                    self.after_transition(idx, StateName::Backup);
                }
            }
            TimerKind::Advert => {
                let priority = self.instances[idx].effective_priority;
                self.send_advert(idx, priority);
                self.count_rogue_advert(idx);
                self.after_transition(idx, StateName::Master);
            }
            TimerKind::GarpDelayed => {
                if let Phase::Master(m) = &mut self.instances[idx].phase {
                    m.garp_delayed = None;
                }
                let repeat = self.instances[idx].params.garp.master_repeat;
                self.garp(idx, GarpKind::MasterDelayed, repeat);
            }
            TimerKind::GarpRefresh => {
                let garp = self.instances[idx].params.garp.clone();
                if let Phase::Master(m) = &mut self.instances[idx].phase {
                    m.garp_refresh = Some(now + garp.master_refresh);
                }
                self.garp(idx, GarpKind::Refresh, garp.master_refresh_repeat);
            }
            TimerKind::GarpExtra => {
                let interval = self.instances[idx]
                    .params
                    .garp
                    .extra_interfaces
                    .as_ref()
                    .map(|x| x.interval);
                if let Phase::Master(m) = &mut self.instances[idx].phase {
                    m.garp_extra = interval.map(|i| now + i);
                }
                self.garp(idx, GarpKind::ExtraInterfaces, 1);
            }
            TimerKind::LowerPrioGarp => {
                if let Phase::Master(m) = &mut self.instances[idx].phase {
                    m.lower_prio_garp = None;
                }
                let repeat = self.instances[idx].params.garp.lower_prio_repeat;
                self.garp(idx, GarpKind::LowerPriorityDelayed, repeat);
            }
            TimerKind::RogueWatch => {
                if let Phase::Master(m) = &mut self.instances[idx].phase {
                    m.rogue.watch_until = None;
                }
                let name = self.name(idx).to_owned();
                self.log(
                    LogLevel::Info,
                    format!("({name}): rogue address owner appears to have stopped advertising"),
                );
            }
        }
    }

    fn count_rogue_advert(&mut self, idx: usize) {
        let now = self.now;
        let inst = &mut self.instances[idx];
        if !inst.params.is_owner() {
            return;
        }
        let ours = inst.params.advert_interval;
        if let Phase::Master(m) = &mut inst.phase {
            if m.rogue.adverts_to_send > 0 {
                m.rogue.adverts_to_send -= 1;
                if m.rogue.adverts_to_send == 0 {
                    let longest = m.rogue.their_interval.unwrap_or(ours).max(ours);
                    m.rogue.watch_until = Some(now + longest.to_duration() * 12 / 10);
                }
            }
        }
    }

    // -----------------------------------------------------------------------------
    // Received packets
    // -----------------------------------------------------------------------------

    fn resolve(&mut self, to: &Recipient, src: Option<IpAddr>) -> Option<usize> {
        match to {
            Recipient::Instance(id) => self.index_of(*id),
            Recipient::Socket {
                vrid,
                family,
                interface,
            } => {
                let candidates: Vec<usize> = self
                    .instances
                    .iter()
                    .enumerate()
                    .filter(|(_, i)| {
                        i.params.vrid == *vrid
                            && i.params.family == *family
                            && i.params.rx_interface.as_deref() == interface.as_deref()
                    })
                    .map(|(idx, _)| idx)
                    .collect();
                let chosen = match candidates.as_slice() {
                    [] => None,
                    [only] => Some(*only),
                    several => several.iter().copied().find(|&idx| {
                        let i = &self.instances[idx];
                        src.is_some_and(|s| {
                            i.master_addr == Some(s)
                                || i.params.unicast_peers.iter().any(|p| p.addr == s)
                        })
                    }),
                };
                if chosen.is_none() {
                    let ifname = interface.as_deref().unwrap_or("(none)");
                    let from = src.map(|s| format!(" from {s}")).unwrap_or_default();
                    self.log(
                        LogLevel::Debug,
                        format!(
                        "Unknown VRID({vrid}) received on interface({ifname}){from}. ignoring..."
                    ),
                    );
                }
                chosen
            }
        }
    }

    fn packet_error(&mut self, to: &Recipient, kind: PacketErrorKind) {
        let Some(idx) = self.resolve(to, None) else {
            return;
        };
        if !matches!(
            self.instances[idx].phase,
            Phase::Backup(_) | Phase::Master(_)
        ) {
            return;
        }
        let inst = &mut self.instances[idx];
        let stats = &mut inst.stats;
        let what = match kind {
            PacketErrorKind::Length => {
                stats.packet_len_err += 1;
                "packet with a bad length"
            }
            PacketErrorKind::InvalidType => {
                stats.invalid_type_rcvd += 1;
                "invalid packet type"
            }
            PacketErrorKind::InvalidAuthType => {
                stats.invalid_authtype += 1;
                "invalid auth type"
            }
            PacketErrorKind::AuthTypeMismatch => {
                stats.authtype_mismatch += 1;
                "AH header mismatch"
            }
            PacketErrorKind::AuthFailure => {
                stats.auth_failure += 1;
                "AH authentication failure"
            }
            PacketErrorKind::Checksum => "invalid checksum",
        };
        if inst.rl.first(Condition::PacketError) {
            let p = &inst.params;
            let message = if kind == PacketErrorKind::Checksum {
                // The usual cause is a peer that leaves the IPv4 pseudo-header out of the
                // v3 checksum (RFC 9568); say which option settles it.
                let hint = if p.version == 3 && p.family == Family::Inet {
                    if p.v3_checksum_as_v2 {
                        " - the peer may include the pseudo-header: unset v3_checksum_as_v2"
                    } else {
                        " - the peer may omit the pseudo-header: set v3_checksum_as_v2"
                    }
                } else {
                    ""
                };
                format!("({}) Invalid VRRPv{} checksum{hint}", p.name, p.version)
            } else {
                format!("({}) received {what}", p.name)
            };
            self.log(LogLevel::Info, message);
        }
    }

    fn advert_received(&mut self, rx: Received) {
        let Some(idx) = self.resolve(&rx.to, Some(rx.src)) else {
            return;
        };
        let p = &self.instances[idx].params;
        // An IPv6 socket receives the group's packets whether or not it joined it, so
        // keepalived drops the wrong kind silently instead of counting an error.
        if p.family == Family::Inet6 && rx.dst.is_multicast() == p.is_unicast() {
            let message = format!(
                "({}) discarding packet of the other cast type from {}",
                p.name, rx.src
            );
            self.log(LogLevel::Debug, message);
            return;
        }
        match state_name(&self.instances[idx].phase) {
            StateName::Backup => self.backup_rx(idx, &rx),
            StateName::Master if self.master_rx(idx, &rx) => {
                self.leave_master(idx, Want::Backup, false);
                self.after_transition(idx, StateName::Master);
            }
            // keepalived ignores adverts in FAULT and INIT.
            _ => {}
        }
    }

    fn check(&mut self, idx: usize, rx: &Received, check_vips: bool) -> bool {
        let mut logs = Vec::new();
        let inst = &mut self.instances[idx];
        let input = CheckInput {
            params: &inst.params,
            effective_priority: inst.effective_priority,
            check_vips,
        };
        let ok = check_advert(
            &input,
            rx,
            &mut inst.stats,
            &mut inst.rl,
            &mut inst.ah,
            &mut logs,
        );
        self.out.extend(logs);
        ok
    }

    fn adopt_interval(&mut self, idx: usize, advert: &Advert) {
        let inst = &mut self.instances[idx];
        if inst.params.version != 3 || advert.interval_cs == 0 {
            return;
        }
        let theirs = Centis(advert.interval_cs);
        if inst.master_adver_int != theirs {
            let message = format!(
                "({}) advertisement interval updated from {}ms to {}ms by master",
                inst.params.name,
                u32::from(inst.master_adver_int.get()) * 10,
                u32::from(theirs.get()) * 10
            );
            inst.master_adver_int = theirs;
            self.log(LogLevel::Debug, message);
        }
    }

    fn backup_rx(&mut self, idx: usize, rx: &Received) {
        let now = self.now;
        let master_change = self.instances[idx].master_addr != Some(rx.src);
        let check_vips = master_change || !self.instances[idx].params.skip_check_adv_addr;
        if !self.check(idx, rx, check_vips) {
            // An invalid advert never touches the down timer.
            return;
        }
        let name = self.name(idx).to_owned();
        let prio = rx.advert.priority;
        {
            let inst = &mut self.instances[idx];
            inst.ah.peers_in_step();
            if master_change {
                inst.rl.reset();
            }
            if inst.params.is_owner() && inst.owner_reduced && (master_change || prio != PRIO_OWNER)
            {
                inst.owner_reduced = false;
                inst.effective_priority = PRIO_OWNER;
                self.log(LogLevel::Info, format!(
                    "({name}) Restoring our priority to 255 since received advert with lower priority"
                ));
            }
        }
        let effective = self.instances[idx].effective_priority;
        let (nopreempt, preempt_delay) = {
            let p = &self.instances[idx].params;
            (p.nopreempt, p.preempt_delay)
        };
        let preempt_window_open = match &self.instances[idx].phase {
            Phase::Backup(b) => !preempt_delay.is_zero() && b.preempt_until.is_none_or(|t| t > now),
            _ => return,
        };
        if prio == 0 {
            let skew = self.skew(idx);
            self.log(
                LogLevel::Debug,
                format!("({name}) Backup received priority 0 advertisement"),
            );
            if let Phase::Backup(b) = &mut self.instances[idx].phase {
                b.master_down = now + skew;
            }
        } else if nopreempt || prio >= effective || preempt_window_open {
            self.adopt_interval(idx, &rx.advert);
            let mdi = self.mdi(idx);
            let inst = &mut self.instances[idx];
            inst.master_addr = Some(rx.src);
            inst.master_priority = prio;
            inst.want = Want::Backup;
            if let Phase::Backup(b) = &mut inst.phase {
                b.master_down = now + mdi;
                if !preempt_delay.is_zero() {
                    if prio >= effective {
                        b.preempt_until = None;
                    } else if b.preempt_until.is_none() {
                        b.preempt_until = Some(now + preempt_delay);
                    }
                }
            }
        } else {
            self.log(
                LogLevel::Info,
                format!(
                    "({name}) received lower priority ({prio}) advert from {} - discarding",
                    rx.src
                ),
            );
            self.instances[idx].master_addr = Some(rx.src);
        }
    }

    /// Returns true if the instance must leave MASTER for BACKUP.
    fn master_rx(&mut self, idx: usize, rx: &Received) -> bool {
        if !self.check(idx, rx, true) {
            return false;
        }
        let name = self.name(idx).to_owned();
        let src = rx.src;
        let prio = rx.advert.priority;
        let addr_cmp = match self.instances[idx].source {
            Some(ours) => src.cmp(&ours),
            None => Ordering::Equal,
        };
        let mut ours = self.instances[idx].effective_priority;
        let hpsa = self.instances[idx].params.higher_prio_send_advert;
        let they_win = prio > ours || (prio == ours && addr_cmp == Ordering::Greater);
        if prio == 0 || (hpsa && they_win) {
            self.send_advert(idx, ours);
            if prio == 0 {
                self.log(
                    LogLevel::Debug,
                    format!("({name}) Master received priority 0 message"),
                );
                return false;
            }
        }
        if prio == ours {
            if addr_cmp == Ordering::Equal {
                self.log(LogLevel::Warning, format!(
                    "({name}) WARNING - equal priority advert received from remote host with our IP address."
                ));
            } else if ours == PRIO_OWNER {
                self.rogue_owner_seen(idx, src, addr_cmp, &rx.advert);
                ours = self.instances[idx].effective_priority;
            }
        }
        if prio < ours || (prio == ours && addr_cmp == Ordering::Less) {
            self.lower_priority_seen(idx, rx, ours);
            return false;
        }
        if prio > ours || (prio == ours && addr_cmp == Ordering::Greater) {
            let message = if prio > ours && !self.instances[idx].params.is_owner() {
                format!("({name}) Master received advert from {src} with higher priority {prio}, ours {ours}")
            } else {
                format!("({name}) Master received advert from {src} with same priority {prio} but higher IP address than ours")
            };
            self.log(LogLevel::Info, message);
            self.adopt_interval(idx, &rx.advert);
            let inst = &mut self.instances[idx];
            inst.ah.peers_in_step();
            inst.master_addr = Some(src);
            inst.master_priority = prio;
            inst.want = Want::Backup;
            return true;
        }
        false
    }

    fn rogue_owner_seen(&mut self, idx: usize, src: IpAddr, addr_cmp: Ordering, advert: &Advert) {
        let name = self.name(idx).to_owned();
        let config_error = format!(
            "({name}) CONFIGURATION ERROR: local instance and {src} are both configured as address owner, please resolve"
        );
        if addr_cmp == Ordering::Greater {
            self.log(LogLevel::Error, config_error);
            return;
        }
        let Phase::Master(m) = &mut self.instances[idx].phase else {
            return;
        };
        if m.rogue.watch_until.is_some() {
            m.rogue.watch_until = None;
            self.instances[idx].owner_reduced = true;
            self.instances[idx].effective_priority = PRIO_OWNER - 1;
            self.log(LogLevel::Error, format!(
                "({name}) {src} is still advertising as address owner, please resolve - reducing our priority"
            ));
        } else {
            m.rogue.their_interval = Some(Centis(advert.interval_cs));
            if m.rogue.adverts_to_send == 0 {
                m.rogue.adverts_to_send = 2;
                self.log(LogLevel::Error, config_error);
            }
        }
    }

    fn lower_priority_seen(&mut self, idx: usize, rx: &Received, ours: u8) {
        let (src, prio) = (rx.src, rx.advert.priority);
        let name = self.name(idx).to_owned();
        let no_advert = self.instances[idx].params.lower_prio_no_advert;
        let election = if no_advert {
            ""
        } else {
            ", forcing new election"
        };
        self.log(
            LogLevel::Info,
            format!(
            "({name}) Received advert from {src} with lower priority {prio}, ours {ours}{election}"
        ),
        );
        if let (AuthSpec::Ah, Some(seq)) = (&self.instances[idx].params.auth, rx.ah_sequence) {
            self.instances[idx].ah.continue_after(seq);
            self.log(
                LogLevel::Info,
                format!("({name}) IPSEC-AH : Syncing seq_num - Increment seq"),
            );
        }
        if !no_advert {
            self.send_advert(idx, ours);
        }
        self.lower_priority_garps(idx);
        // The other members of the group must refresh ARP caches too: the lower-priority
        // side's members go BACKUP without us seeing their adverts.
        if let Some(gidx) = self.instances[idx].group {
            for m in self.groups[gidx].members.clone() {
                if m != idx && matches!(self.instances[m].phase, Phase::Master(_)) {
                    self.lower_priority_garps(m);
                }
            }
        }
        let inst = &self.instances[idx];
        self.out.push(Action::NotifyMasterRxLowerPri {
            instance: inst.id,
            name,
            priority: inst.effective_priority,
        });
    }

    fn lower_priority_garps(&mut self, idx: usize) {
        let garp = self.instances[idx].params.garp.clone();
        if garp.lower_prio_repeat == 0 {
            return;
        }
        self.garp(idx, GarpKind::LowerPriority, garp.lower_prio_repeat);
        if !garp.lower_prio_delay.is_zero() {
            let at = self.now + garp.lower_prio_delay;
            if let Phase::Master(m) = &mut self.instances[idx].phase {
                m.lower_prio_garp = Some(at);
            }
        }
    }

    // -----------------------------------------------------------------------------
    // Owned objects deleted behind our back
    // -----------------------------------------------------------------------------

    fn owned_address_deleted(&mut self, id: InstanceId, addr: IpAddr) {
        let Some(idx) = self.index_of(id) else { return };
        let p = &self.instances[idx].params;
        let vip = p.vips.iter().find(|v| v.prefix.addr == addr).cloned();
        let evip = p
            .excluded_vips
            .iter()
            .find(|v| v.prefix.addr == addr)
            .cloned();
        let Some(entry) = vip.clone().or(evip) else {
            return;
        };
        if !matches!(self.instances[idx].phase, Phase::Master(_)) || entry.no_track() {
            return;
        }
        if self.options.backup_on_owned_deletion {
            self.owned_object_lost(idx);
            return;
        }
        let name = self.name(idx).to_owned();
        self.log(
            LogLevel::Info,
            format!(
                "({name}) virtual address {} was deleted - restoring",
                entry.prefix
            ),
        );
        let action = if vip.is_some() {
            Action::AddVips {
                instance: id,
                vips: Arc::from([entry]),
            }
        } else {
            Action::AddExcludedVips {
                instance: id,
                vips: Arc::from([entry]),
            }
        };
        self.out.push(action);
    }

    fn owned_route_deleted(&mut self, id: InstanceId, key: crate::config::model::RouteKey) {
        let Some(idx) = self.index_of(id) else { return };
        let is_master = matches!(self.instances[idx].phase, Phase::Master(_));
        let p = &self.instances[idx].params;
        let route: Option<RouteEntry> = if is_master {
            p.virtual_routes.iter().find(|r| r.key() == key).cloned()
        } else {
            p.backup_routes.iter().find(|r| r.key() == key).cloned()
        };
        let Some(route) = route else { return };
        if route.no_track || matches!(self.instances[idx].phase, Phase::Init | Phase::Stopped) {
            return;
        }
        if is_master && self.options.backup_on_owned_deletion {
            self.owned_object_lost(idx);
            return;
        }
        let name = self.name(idx).to_owned();
        self.log(
            LogLevel::Info,
            format!("({name}) route {} was deleted - restoring", route.dest),
        );
        let action = if is_master {
            Action::InstallVirtualRoutes {
                instance: id,
                routes: Arc::from([route]),
            }
        } else {
            Action::InstallBackupRoutes {
                instance: id,
                routes: Arc::from([route]),
            }
        };
        self.out.push(action);
    }

    fn owned_rule_deleted(&mut self, id: InstanceId, rule: RuleEntry) {
        let Some(idx) = self.index_of(id) else { return };
        let is_master = matches!(self.instances[idx].phase, Phase::Master(_));
        let p = &self.instances[idx].params;
        let list = if is_master {
            &p.virtual_rules
        } else {
            &p.backup_rules
        };
        let Some(found) = list.iter().find(|r| r.eq_ignoring_span(&rule)).cloned() else {
            return;
        };
        if found.no_track || matches!(self.instances[idx].phase, Phase::Init | Phase::Stopped) {
            return;
        }
        if is_master && self.options.backup_on_owned_deletion {
            self.owned_object_lost(idx);
            return;
        }
        let name = self.name(idx).to_owned();
        self.log(
            LogLevel::Info,
            format!("({name}) rule was deleted - restoring"),
        );
        let action = if is_master {
            Action::InstallVirtualRules {
                instance: id,
                rules: Arc::from([found]),
            }
        } else {
            Action::InstallBackupRules {
                instance: id,
                rules: Arc::from([found]),
            }
        };
        self.out.push(action);
    }

    /// keepalived's `set_vrrp_backup`: the instance (and its MASTER group peers, which
    /// come back after only their skew) go BACKUP announcing priority 0.
    fn owned_object_lost(&mut self, idx: usize) {
        self.instances[idx].want = Want::Backup;
        self.leave_master(idx, Want::Backup, true);
        if let Some(gidx) = self.instances[idx].group {
            for m in self.groups[gidx].members.clone() {
                if m != idx && matches!(self.instances[m].phase, Phase::Master(_)) {
                    self.instances[m].want = Want::Backup;
                    self.leave_master(m, Want::Backup, true);
                    let skew = self.skew(m);
                    let now = self.now;
                    if let Phase::Backup(b) = &mut self.instances[m].phase {
                        b.master_down = now + skew;
                    }
                }
            }
            self.groups[gidx].state = GroupState::Backup;
        }
    }

    // -----------------------------------------------------------------------------
    // Shutdown and reload
    // -----------------------------------------------------------------------------

    fn shutdown(&mut self) {
        if !self.started {
            self.stopped = true;
            return;
        }
        for idx in 0..self.instances.len() {
            self.stop_instance(idx);
        }
        for idx in 0..self.instances.len() {
            self.notify_instance(idx, NotifyState::Stop);
        }
        for gidx in 0..self.groups.len() {
            self.groups[gidx].state = GroupState::Stopped;
            self.notify_group(gidx);
        }
        self.stopped = true;
    }

    /// A MASTER announces priority 0 then releases; anything else drops its backup
    /// routes, which only exist while the daemon runs.
    fn stop_instance(&mut self, idx: usize) {
        match self.instances[idx].phase {
            Phase::Master(_) => {
                self.send_advert(idx, 0);
                let name = self.name(idx).to_owned();
                self.log(LogLevel::Debug, format!("({name}) sent 0 priority"));
                self.release_ownership(idx, false);
            }
            Phase::Backup(_) | Phase::Fault => self.remove_backup_only(idx),
            Phase::Init | Phase::Stopped => {}
        }
        self.set_phase(idx, Phase::Stopped);
    }

    fn reload(&mut self, config: RouterConfig) {
        self.options = config.options.clone();
        for t in &config.initial_trackers {
            self.trackers.entry(t.object.clone()).or_insert(t.status);
        }
        // Group indices are rebuilt below; until then no instance may refer to one.
        let mut old: Vec<Option<Instance>> = std::mem::take(&mut self.instances)
            .into_vec()
            .into_iter()
            .map(|mut i| {
                i.group = None;
                Some(i)
            })
            .collect();
        let mut fresh = Vec::new();
        self.instances.reserve_exact(config.instances.len());
        for params in config.instances {
            let key = params.reload_key();
            let matched = old
                .iter_mut()
                .find(|slot| slot.as_ref().is_some_and(|o| o.params.reload_key() == key))
                .and_then(Option::take);
            match matched {
                Some(previous) => {
                    self.instances.push(previous);
                    let idx = self.instances.len() - 1;
                    self.reload_matched(idx, params);
                }
                None => {
                    let id = self.allocate_instance_id();
                    let known = config.sources.get(&*params.name).copied();
                    let mut inst = Router::new_instance(id, params);
                    inst.source = inst.source.or(known);
                    self.instances.push(inst);
                    fresh.push(self.instances.len() - 1);
                }
            }
        }
        for removed in old.into_iter().flatten() {
            self.delete_instance(removed);
        }
        self.rebuild_groups(&config.groups);
        if !self.started {
            self.refresh_all();
            return;
        }
        let mut owners = Vec::new();
        for &idx in &fresh {
            let priority = self.compute_priority(idx);
            let blocked = self.compute_blocked(idx);
            self.instances[idx].effective_priority = priority;
            self.instances[idx].blocked = blocked;
            if self.start_instance(idx) {
                owners.push(idx);
            }
        }
        for idx in owners {
            self.instances[idx].want = Want::Master;
            self.goto_master(idx, false);
            self.after_transition(idx, StateName::Init);
        }
        self.refresh_all();
    }

    /// keepalived keeps a matched instance's state and statistics; a MASTER drops what
    /// the new configuration no longer lists, re-adds everything, and advertises at once.
    fn reload_matched(&mut self, idx: usize, params: InstanceParams) {
        let old = std::mem::replace(&mut self.instances[idx].params, params);
        let inst = &mut self.instances[idx];
        inst.master_adver_int =
            if matches!(inst.phase, Phase::Master(_)) || inst.params.version == 2 {
                inst.params.advert_interval
            } else {
                inst.master_adver_int
            };
        if inst.params.configured_src.is_some() && old.configured_src != inst.params.configured_src
        {
            inst.source = inst.params.configured_src;
        }
        let instance = inst.id;
        let new = &inst.params;
        let mut actions = Vec::new();
        let gone_vips = addresses_not_in(&old.vips, &new.vips);
        let gone_evips = addresses_not_in(&old.excluded_vips, &new.excluded_vips);
        let added_addresses = new
            .vips
            .iter()
            .any(|n| !old.vips.iter().any(|o| same_address(o, n)))
            || new
                .excluded_vips
                .iter()
                .any(|n| !old.excluded_vips.iter().any(|o| same_address(o, n)));
        match inst.phase {
            Phase::Master(_) => {
                let gone_rules = rules_not_in(&old.virtual_rules, &new.virtual_rules);
                let gone_routes = routes_not_keyed_by(&old.virtual_routes, &new.virtual_routes);
                push_unless_empty(&mut actions, gone_rules, |rules| {
                    Action::RemoveVirtualRules { instance, rules }
                });
                push_unless_empty(&mut actions, gone_routes, |routes| {
                    Action::RemoveVirtualRoutes { instance, routes }
                });
                push_unless_empty(&mut actions, gone_vips, |vips| Action::RemoveVips {
                    instance,
                    vips,
                });
                push_unless_empty(&mut actions, gone_evips, |vips| {
                    Action::RemoveExcludedVips { instance, vips }
                });
                self.out.extend(actions);
                let priority = self.compute_priority(idx);
                self.instances[idx].effective_priority = priority;
                self.send_advert(idx, priority);
                let refresh = !self.instances[idx].params.garp.master_refresh.is_zero();
                self.reload_ownership(idx, &old);
                if added_addresses || refresh {
                    let repeat = self.instances[idx].params.garp.master_repeat;
                    self.garp(idx, GarpKind::Reload, repeat);
                }
                self.rearm_periodic_garps(idx, added_addresses);
            }
            Phase::Backup(_) | Phase::Fault => {
                let gone_routes = routes_not_keyed_by(&old.backup_routes, &new.backup_routes);
                let gone_rules = rules_not_in(&old.backup_rules, &new.backup_rules);
                push_unless_empty(&mut actions, gone_rules, |rules| {
                    Action::RemoveBackupRules { instance, rules }
                });
                push_unless_empty(&mut actions, gone_routes, |routes| {
                    Action::RemoveBackupRoutes { instance, routes }
                });
                let routes = routes_not_in(&new.backup_routes, &old.backup_routes);
                let rules = rules_not_in(&new.backup_rules, &old.backup_rules);
                push_unless_empty(&mut actions, routes, |routes| Action::InstallBackupRoutes {
                    instance,
                    routes,
                });
                push_unless_empty(&mut actions, rules, |rules| Action::InstallBackupRules {
                    instance,
                    rules,
                });
                self.out.extend(actions);
                if matches!(self.instances[idx].phase, Phase::Backup(_)) {
                    let phase = self.backup_phase(self.mdi(idx));
                    self.instances[idx].phase = phase;
                }
            }
            Phase::Init | Phase::Stopped => {}
        }
    }

    /// keepalived restarts a reloaded MASTER's GARP timers with the new settings: the
    /// second burst only when addresses were added, and the periodic ones after it.
    fn rearm_periodic_garps(&mut self, idx: usize, added_addresses: bool) {
        let now = self.now;
        let inst = &mut self.instances[idx];
        let garp = &inst.params.garp;
        let Phase::Master(m) = &mut inst.phase else {
            return;
        };
        let lead = if added_addresses {
            garp.master_delay
        } else {
            Duration::ZERO
        };
        if added_addresses && !garp.master_delay.is_zero() {
            m.garp_delayed = Some(now + garp.master_delay);
        }
        m.garp_refresh = (!garp.master_refresh.is_zero()).then(|| now + lead + garp.master_refresh);
        m.garp_extra = garp
            .extra_interfaces
            .as_ref()
            .map(|x| now + lead + x.interval);
    }

    /// An instance that a reload removed: a MASTER releases (announcing priority 0),
    /// then DELETED is notified (FAULT unless `notify_deleted`).
    fn delete_instance(&mut self, inst: Instance) {
        self.instances.push(inst);
        let idx = self.instances.len() - 1;
        if self.started {
            match self.instances[idx].phase {
                Phase::Master(_) => {
                    self.send_advert(idx, 0);
                    self.release_ownership(idx, false);
                }
                Phase::Backup(_) | Phase::Fault => self.remove_backup_only(idx),
                Phase::Init | Phase::Stopped => {}
            }
            self.set_phase(idx, Phase::Stopped);
            self.instances[idx].group = None;
            self.notify_instance(idx, NotifyState::Deleted);
        }
        self.instances.pop();
    }
}
