//! Applies an instance's address, route, rule and GARP actions to the kernel, in order,
//! off the protocol loop.
//!
//! Each instance has its own queue, worked through by a task that exists only while the
//! queue has work: the core's ordering rules (VIPs before routes before GARP on becoming
//! MASTER, backup routes before VIP removal on leaving it) hold within an instance, while
//! a slow netlink exchange for one instance never delays adverts or other instances, and
//! a thousand idle instances hold no task. What the kernel refuses is logged once with
//! its reason and retried when links or addresses change, for as long as the current
//! state still wants it.

use crate::config::model::{AddressEntry, Family, Prefix, RouteEntry, RouteKey, RuleEntry};
use crate::vrrp::Vip;
use crate::net::arp::{AnnounceTarget, Announcer, Burst};
use crate::net::netlink::{describe_rule, Device, Link, Netlink, RouteInfo};
use crate::net::{Change, NetError};
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::net::IpAddr;
use std::rc::Rc;
use std::sync::Arc;
use tokio::sync::oneshot;

#[derive(Debug)]
pub enum NetOp {
    AddAddresses(Arc<[Vip]>),
    RemoveAddresses(Arc<[Vip]>),
    /// Install with NLM_F_REPLACE: a same-key route of the other state is swapped in
    /// place, so the key is never without a route.
    InstallRoutes(Arc<[RouteEntry]>),
    RemoveRoutes(Arc<[RouteEntry]>),
    InstallRules(Arc<[RuleEntry]>),
    RemoveRules(Arc<[RuleEntry]>),
    /// Announce the addresses of these lists `repeat` times (after the adds queued
    /// before it).
    Announce { addresses: Vec<Arc<[Vip]>>, repeat: u32 },
    /// Announce a bare address on the instance's interface (unicast source after FAULT).
    AnnounceSource { address: IpAddr },
    /// Drop announcements still queued (the instance left MASTER).
    CancelAnnounce,
    /// Links or addresses changed: try again what the kernel refused, and put back
    /// routes the kernel dropped on its own.
    Retry,
    /// Resolves when every earlier op has been applied.
    Barrier(oneshot::Sender<()>),
}

/// Where an instance's objects go and how its frames leave.
#[derive(Debug, Clone)]
pub struct ExecContext {
    pub instance: Arc<str>,
    /// Announcer owner id (unique per instance).
    pub owner: u64,
    /// Device for VIPs without `dev`: the instance interface, or its VMAC.
    pub default_dev: Option<Arc<str>>,
    /// Devices whose addresses go on a VMAC instead (per-VIP `use_vmac`, `use_vmac_addr`):
    /// configured device name → VMAC name.
    pub vmac_for_dev: BTreeMap<String, String>,
}

/// Handle to an instance's executor.
#[derive(Clone)]
pub struct Executor {
    shared: Rc<Shared>,
}

/// What the loop and the running task share. The flags spare a burst of link or address
/// changes (a takeover adds thousands of VIPs) from starting every instance's task for
/// nothing.
struct Shared {
    queue: RefCell<VecDeque<NetOp>>,
    /// The executor's state while no task runs; the running task holds it meanwhile.
    /// Boxed so that a running task's cell stays small: it comes and goes with each
    /// burst, and small transient blocks leave fewer pinned pages behind.
    idle: Cell<Option<Box<Task>>>,
    /// Something depends on links or addresses: the kernel refused something the current
    /// state still wants, or routes are wanted that the kernel may drop silently.
    watching: Cell<bool>,
    /// A `Retry` is queued and not started yet.
    retry_queued: Cell<bool>,
    /// Links or addresses changed since the task began its current op.
    changed: Cell<bool>,
}

impl Executor {
    /// Needs a tokio `LocalSet`: the netlink futures are not provably Send, and the loop
    /// is single-threaded.
    pub fn new(ctx: ExecContext, netlink: Netlink, announcer: Arc<Announcer>, devices: Rc<DeviceCache>) -> Executor {
        let task = Task { ctx, netlink, announcer, devices, pending: None, wanted_routes: BTreeMap::new() };
        Executor {
            shared: Rc::new(Shared {
                queue: RefCell::new(VecDeque::new()),
                idle: Cell::new(Some(Box::new(task))),
                watching: Cell::new(false),
                retry_queued: Cell::new(false),
                changed: Cell::new(false),
            }),
        }
    }

    pub fn submit(&self, op: NetOp) {
        self.shared.queue.borrow_mut().push_back(op);
        // A running task takes the op in its turn.
        if let Some(task) = self.shared.idle.take() {
            tokio::task::spawn_local(task.run(self.shared.clone()));
        }
    }

    /// Links or addresses changed: try again what the kernel refused. Only an executor
    /// holding refusals gets a `Retry` (at most one queued); one whose op is in flight
    /// looks again by itself if that op is refused.
    pub fn retry(&self) {
        self.shared.changed.set(true);
        if self.shared.watching.get() && !self.shared.retry_queued.replace(true) {
            self.submit(NetOp::Retry);
        }
    }

    /// Wait until everything submitted so far has been applied.
    pub async fn barrier(&self) {
        let (done, wait) = oneshot::channel();
        self.submit(NetOp::Barrier(done));
        let _ = wait.await;
    }
}

/// How GARPs and NAs leave a device, shared by every instance's executor. A takeover
/// of a thousand instances on a few devices would otherwise ask the kernel about the same
/// links a thousand times at once, each answer a full link dump to parse, while the VIPs
/// are still being added: each device is looked up once, and executors asking while that
/// lookup runs wait for its answer. The daemon forgets everything on any link
/// notification; a device that does not exist is not remembered (a VMAC may be created a
/// moment later).
#[derive(Default)]
pub struct DeviceCache {
    devices: RefCell<HashMap<String, DeviceLookup>>,
}

/// The outer `None`: no such device.
type DeviceLookup = Rc<tokio::sync::OnceCell<Option<Option<Announceable>>>>;

/// `None` in the cache: the device exists but takes no announcement (NOARP, no MAC).
#[derive(Clone)]
struct Announceable {
    ifindex: u32,
    mac: [u8; 6],
    base_ifindex: u32,
    base_ifname: Arc<str>,
}

impl DeviceCache {
    pub fn forget(&self) {
        self.devices.borrow_mut().clear();
    }
}

/// What the kernel refused and the current state still wants, keyed so that a later
/// remove cancels the retry.
#[derive(Debug, Default)]
struct Pending {
    addresses: BTreeMap<(IpAddr, u8, Option<Arc<str>>), Vip>,
    routes: BTreeMap<RouteKey, RouteEntry>,
    rules: Vec<RuleEntry>,
}

impl Pending {
    fn is_empty(&self) -> bool {
        self.addresses.is_empty() && self.routes.is_empty() && self.rules.is_empty()
    }
}

struct Task {
    ctx: ExecContext,
    netlink: Netlink,
    announcer: Arc<Announcer>,
    devices: Rc<DeviceCache>,
    /// Boxed when there is something: most instances never have a refusal.
    pending: Option<Box<Pending>>,
    /// The routes the current state wants. The kernel drops IPv4 routes through a device
    /// that goes down or loses its last address without telling anyone, so these are
    /// checked against the kernel whenever links or addresses change.
    wanted_routes: BTreeMap<RouteKey, RouteEntry>,
}

/// The kernel fills in 1024 for an IPv6 route without a metric: compare keys as the
/// kernel stores them.
pub(crate) fn normalised_key(mut key: RouteKey) -> RouteKey {
    if key.family == Family::Inet6 && key.metric == 0 {
        key.metric = 1024;
    }
    key
}

/// Whether the kernel's route is the entry (as far as a dump tells).
fn is_installed(info: &RouteInfo, entry: &RouteEntry) -> bool {
    normalised_key(info.key()) == normalised_key(entry.key())
        && info.protocol == entry.protocol
        && info.rtype == Some(entry.rtype)
        && info.via == entry.via
}

fn gateways(route: &RouteEntry) -> impl Iterator<Item = IpAddr> + '_ {
    route.via.into_iter().chain(route.nexthops.iter().filter_map(|n| n.via))
}

fn address_key(a: &Vip) -> (IpAddr, u8, Option<Arc<str>>) {
    (a.prefix.addr, a.prefix.len, a.dev.clone())
}

static NOTHING_PENDING: Pending = Pending { addresses: BTreeMap::new(), routes: BTreeMap::new(), rules: Vec::new() };

impl Task {
    fn pending(&self) -> &Pending {
        self.pending.as_deref().unwrap_or(&NOTHING_PENDING)
    }

    fn pending_mut(&mut self) -> &mut Pending {
        self.pending.get_or_insert_with(Default::default)
    }

    /// Removes from what is pending, and drops the box once nothing is.
    fn forget_pending(&mut self, remove: impl FnOnce(&mut Pending)) {
        if let Some(pending) = self.pending.as_mut() {
            remove(pending);
            if pending.is_empty() {
                self.pending = None;
            }
        }
    }
    /// Works through the queue, then hands the state back and ends.
    async fn run(mut self: Box<Self>, shared: Rc<Shared>) {
        loop {
            let Some(op) = shared.queue.borrow_mut().pop_front() else { break };
            if matches!(op, NetOp::Retry) {
                shared.retry_queued.set(false);
            }
            shared.changed.set(false);
            // Boxed: the task's size stays that of its state, not of the largest op's. A
            // takeover runs a thousand of these at once, so its ops get boxes of their own
            // size: a thousand boxes as large as the largest op (~3.8 KB) would spread the
            // burst over megabytes that the long-lived allocations made meanwhile then
            // keep resident.
            match op {
                NetOp::AddAddresses(list) => Box::pin(self.add_addresses(&list)).await,
                NetOp::RemoveAddresses(list) => Box::pin(self.remove_addresses(&list)).await,
                NetOp::Announce { addresses, repeat } => Box::pin(self.announce(&addresses, repeat)).await,
                // Every instance's transition has these; they wait for nothing.
                NetOp::InstallRoutes(list) => Box::pin(self.install_routes(&list)).await,
                NetOp::RemoveRoutes(list) => Box::pin(self.remove_routes(&list)).await,
                NetOp::InstallRules(list) => Box::pin(self.install_rules(&list)).await,
                NetOp::RemoveRules(list) => Box::pin(self.remove_rules(&list)).await,
                NetOp::AnnounceSource { address } => Box::pin(self.announce_source(address)).await,
                NetOp::Retry => Box::pin(self.retry()).await,
                NetOp::CancelAnnounce => self.announcer.cancel(self.ctx.owner),
                NetOp::Barrier(done) => {
                    let _ = done.send(());
                }
            }
            // Published before looking at `changed`: a change noticed after this point
            // sees the flag and queues a Retry.
            shared.watching.set(self.watching());
            while self.watching() && shared.changed.replace(false) {
                Box::pin(self.retry()).await;
                shared.watching.set(self.watching());
            }
        }
        // A takeover's burst of ops need not keep its room in a thousand idle queues.
        shared.queue.borrow_mut().shrink_to_fit();
        shared.idle.set(Some(self));
    }

    fn watching(&self) -> bool {
        self.pending.is_some() || !self.wanted_routes.is_empty()
    }

    async fn install_routes(&mut self, list: &[RouteEntry]) {
        for r in list.iter().cloned() {
            let r = self.on_vmac(r);
            self.wanted_routes.insert(r.key(), r.clone());
            self.install_route(r).await;
        }
    }

    async fn remove_routes(&mut self, list: &[RouteEntry]) {
        for r in list.iter().cloned() {
            let r = self.on_vmac(r);
            // Only the route asked for goes: a same-key route of the other state that
            // replaced it stays wanted.
            if self.wanted_routes.get(&r.key()).is_some_and(|w| w.eq_ignoring_span(&r)) {
                self.wanted_routes.remove(&r.key());
            }
            self.forget_pending(|p| { p.routes.remove(&r.key()); });
            if let Err(e) = self.netlink.delete_route(&r).await {
                tracing::warn!("({}) cannot remove route {}: {e}", self.ctx.instance, describe_route(&r));
            }
        }
    }

    async fn install_rules(&mut self, list: &[RuleEntry]) {
        for r in list.iter().cloned() {
            self.install_rule(r).await;
        }
    }

    async fn remove_rules(&mut self, list: &[RuleEntry]) {
        for r in list {
            self.forget_pending(|p| p.rules.retain(|x| x != r));
            if let Err(e) = self.netlink.delete_rule(r).await {
                tracing::warn!("({}) cannot remove rule {}: {e}", self.ctx.instance, describe_rule(r));
            }
        }
    }

    async fn announce_source(&mut self, address: IpAddr) {
        let Some(dev) = self.ctx.default_dev.clone() else { return };
        if let Some(target) = self.target(&dev, address).await {
            self.announcer.announce(Burst { owner: self.ctx.owner, targets: vec![target], repeat: 1 });
        }
    }


    /// The device an address goes on, after `dev` defaulting and per-VIP VMAC mapping.
    /// Shared, not copied: a takeover asks this for each of thousands of VIPs.
    fn device_of(&self, entry: &Vip) -> Option<Arc<str>> {
        let dev = entry.dev.as_ref().or(self.ctx.default_dev.as_ref())?;
        match self.ctx.vmac_for_dev.get(&**dev) {
            Some(vmac) => Some(Arc::from(vmac.as_str())),
            None => Some(Arc::clone(dev)),
        }
    }

    /// A route through a device whose VIPs live on a per-VIP VMAC must use the VMAC: the
    /// device itself has no address, so the gateway is only reachable through the VMAC's
    /// connected network (vmac-vip-devices.md pitfall 4).
    fn on_vmac(&self, mut route: RouteEntry) -> RouteEntry {
        let map = |dev: &mut Option<String>| {
            if let Some(vmac) = dev.as_ref().and_then(|d| self.ctx.vmac_for_dev.get(d)) {
                *dev = Some(vmac.clone());
            }
        };
        map(&mut route.dev);
        for nh in &mut route.nexthops {
            map(&mut nh.dev);
        }
        route
    }

    async fn add_addresses(&mut self, list: &[Vip]) {
        // Devices are looked up by name where the request is packed with other
        // instances', not with a round trip each here.
        let placed: Vec<(usize, Device)> = list
            .iter()
            .enumerate()
            .filter_map(|(at, entry)| Some((at, Device::Name(self.device_of(entry)?))))
            .collect();
        let batch: Vec<(Device, AddressEntry)> = placed.iter().map(|(at, dev)| (dev.clone(), list[*at].to_entry())).collect();
        let results = self.netlink.add_addresses(batch).await;
        for ((at, _), result) in placed.into_iter().zip(results) {
            let entry = &list[at];
            match result {
                Ok(_) => {
                    self.forget_pending(|p| { p.addresses.remove(&address_key(entry)); });
                }
                Err(e) => self.refuse_address(entry.clone(), &e.to_string()),
            }
        }
    }

    fn refuse_address(&mut self, entry: Vip, reason: &str) {
        let key = address_key(&entry);
        if !self.pending().addresses.contains_key(&key) {
            tracing::warn!(
                "({}) cannot add address {}: {reason} (will retry when links or addresses change)",
                self.ctx.instance,
                entry.prefix
            );
        }
        self.pending_mut().addresses.insert(key, entry);
    }

    async fn remove_addresses(&mut self, list: &[Vip]) {
        let mut batch = Vec::with_capacity(list.len());
        for entry in list {
            self.forget_pending(|p| { p.addresses.remove(&address_key(entry)); });
            let Some(dev) = self.device_of(entry) else { continue };
            batch.push((Device::Name(dev), entry.to_entry()));
        }
        let prefixes: Vec<Prefix> = batch.iter().map(|(_, e)| e.prefix).collect();
        let results = self.netlink.delete_addresses(batch).await;
        let mut gone = BTreeSet::new();
        for (prefix, result) in prefixes.into_iter().zip(results) {
            match result {
                Ok(_) => {
                    gone.insert(prefix.addr);
                }
                Err(e) => tracing::warn!("({}) cannot remove address {prefix}: {e}", self.ctx.instance),
            }
        }
        // A route installed while its gateway was one of our own addresses (a backup
        // route through the VIP we were still holding) keeps a host-scope nexthop: with
        // the address gone the kernel would send straight to every destination instead
        // of to the gateway. Installing it again makes the kernel look the gateway up
        // afresh, and the replace leaves no moment without the route.
        let refresh: Vec<RouteEntry> =
            self.wanted_routes.values().filter(|r| gateways(r).any(|g| gone.contains(&g))).cloned().collect();
        for r in refresh {
            self.install_route(r).await;
        }
    }

    async fn install_route(&mut self, route: RouteEntry) {
        let key = route.key();
        match self.netlink.replace_route(&route).await {
            Ok(()) => {
                self.forget_pending(|p| { p.routes.remove(&key); });
            }
            Err(e) => {
                if !self.pending().routes.contains_key(&key) {
                    tracing::warn!(
                        "({}) cannot install route {}: {} (will retry when links or addresses change)",
                        self.ctx.instance,
                        describe_route(&route),
                        kernel_reason(&e)
                    );
                }
                self.pending_mut().routes.insert(key, route);
            }
        }
    }

    async fn install_rule(&mut self, rule: RuleEntry) {
        match self.netlink.add_rule(&rule).await {
            Ok(Change::Applied | Change::Unchanged) => self.forget_pending(|p| p.rules.retain(|x| x != &rule)),
            Err(e) => {
                if !self.pending().rules.contains(&rule) {
                    tracing::warn!(
                        "({}) cannot install rule {}: {} (will retry when links or addresses change)",
                        self.ctx.instance,
                        describe_rule(&rule),
                        kernel_reason(&e)
                    );
                    self.pending_mut().rules.push(rule);
                }
            }
        }
    }

    async fn retry(&mut self) {
        self.restore_lost_routes().await;
        if !self.pending().addresses.is_empty() {
            let list: Vec<Vip> = self.pending().addresses.values().cloned().collect();
            self.add_addresses(&list).await;
        }
        let routes: Vec<RouteEntry> = self.pending().routes.values().cloned().collect();
        for r in routes {
            self.install_route(r).await;
        }
        let rules = self.pending().rules.clone();
        for r in rules {
            self.install_rule(r).await;
        }
    }

    /// Re-installs wanted routes missing from the kernel (refused ones are retried on
    /// their own; `no_track` routes wait for the next transition, as in keepalived).
    async fn restore_lost_routes(&mut self) {
        let tracked: Vec<&RouteEntry> = self
            .wanted_routes
            .values()
            .filter(|r| !r.no_track && !self.pending().routes.contains_key(&r.key()))
            .collect();
        if tracked.is_empty() {
            return;
        }
        let families: BTreeSet<Family> = tracked.iter().map(|r| r.family).collect();
        let mut kernel = Vec::new();
        for family in families {
            match self.netlink.routes(Some(family), None).await {
                Ok(list) => kernel.extend(list),
                Err(e) => {
                    tracing::debug!("({}) cannot list routes: {e}", self.ctx.instance);
                    return;
                }
            }
        }
        let lost: Vec<RouteEntry> =
            tracked.into_iter().filter(|r| !kernel.iter().any(|k| is_installed(k, r))).cloned().collect();
        for r in lost {
            tracing::info!("({}) route {} was lost - restoring", self.ctx.instance, describe_route(&r));
            self.install_route(r).await;
        }
    }

    async fn target(&self, dev: &str, address: IpAddr) -> Option<AnnounceTarget> {
        let known = self.devices.devices.borrow().get(dev).cloned();
        let lookup = match known {
            Some(lookup) => lookup,
            None => {
                let lookup = DeviceLookup::default();
                self.devices.devices.borrow_mut().insert(dev.to_string(), lookup.clone());
                lookup
            }
        };
        let answer = lookup
            .get_or_init(|| async {
                match self.netlink.link_by_name(dev).await {
                    Ok(link) => Some(self.announceable(&link).await),
                    Err(_) => None,
                }
            })
            .await
            .clone();
        let Some(announceable) = answer else {
            let mut devices = self.devices.devices.borrow_mut();
            if devices.get(dev).is_some_and(|l| Rc::ptr_eq(l, &lookup)) {
                devices.remove(dev);
            }
            return None;
        };
        let known = announceable?;
        Some(AnnounceTarget {
            ifindex: known.ifindex,
            mac: known.mac,
            base_ifindex: known.base_ifindex,
            base_ifname: known.base_ifname,
            address,
        })
    }

    async fn announceable(&self, link: &Link) -> Option<Announceable> {
        let mac = link.mac()?;
        if link.noarp {
            return None;
        }
        // A VMAC announces from itself, but pacing and the NA router flag belong to the
        // device underneath.
        let (base_ifindex, base_ifname) = match (link.kind.as_deref(), link.parent) {
            (Some("macvlan"), Some(parent)) => match self.netlink.link_by_index(parent).await {
                Ok(p) => (p.index, p.name),
                Err(_) => (link.index, link.name.clone()),
            },
            _ => (link.index, link.name.clone()),
        };
        Some(Announceable { ifindex: link.index, mac, base_ifindex, base_ifname: base_ifname.into() })
    }

    async fn announce(&mut self, lists: &[Arc<[Vip]>], repeat: u32) {
        if repeat == 0 {
            return;
        }
        let mut targets = Vec::with_capacity(lists.iter().map(|l| l.len()).sum());
        for entry in lists.iter().flat_map(|l| l.iter()) {
            let Some(dev) = self.device_of(entry) else { continue };
            if let Some(t) = self.target(&dev, entry.prefix.addr).await {
                targets.push(t);
            }
        }
        if !targets.is_empty() {
            self.announcer.announce(Burst { owner: self.ctx.owner, targets, repeat });
        }
    }
}

/// `dest via X dev Y table T` for log lines.
pub fn describe_route(r: &RouteEntry) -> String {
    let mut s = if r.dest.len == 0 { "default".to_string() } else { r.dest.to_string() };
    if let Some(via) = r.via {
        s.push_str(&format!(" via {via}"));
    }
    if let Some(dev) = &r.dev {
        s.push_str(&format!(" dev {dev}"));
    }
    if r.table != 254 {
        s.push_str(&format!(" table {}", r.table));
    }
    s
}

/// The kernel's own words ("Nexthop has invalid gateway (Network is unreachable)");
/// the operation is already named by the log line.
fn kernel_reason(e: &NetError) -> String {
    match e {
        NetError::Kernel { message, .. } => message.clone(),
        other => other.to_string(),
    }
}
