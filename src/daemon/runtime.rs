//! The event loop: feeds the pure core with packets, timers, kernel notifications,
//! tracker results and signals, and carries out the actions it returns.
//!
//! The loop itself only decodes packets, sends adverts and hands everything else to
//! tasks (per-instance netlink executors, notify queues, the mailer, the GARP pacer), so
//! no script, mail server or slow netlink exchange can delay an advert.

use super::dump::{self, ClockPair, DumpPaths, RuntimeFacts};
use super::netexec::{normalised_key, DeviceCache, ExecContext, Executor, NetOp};
use std::rc::Rc;
use super::status::{self, Endpoints};
use super::track::{TrackerStatus as TrackStatus, TrackerUpdate, Trackers};
use crate::cli::Options;
use crate::config::model::{AddressEntry, Config, Family, RouteEntry, RuleEntry};
use crate::net::arp::{Announcer, Spacing};
use crate::net::monitor::{Monitor, NetEvent};
use crate::net::netlink::{Link, Netlink};
use crate::net::socket::{self, Interface, SocketOptions, VrrpSocket};
use crate::net::vmac::{self, VmacSpec, Vmacs};
use crate::net::NetError;
use crate::notify::fifo::FifoSet;
use crate::notify::queue::{self, Notifier, QueueSettings};
use crate::notify::security::{vet_config, VettedConfig};
use crate::notify::smtp::{HostFacts, MailSettings, MailState, MailTarget, Mailer};
use crate::vrrp::packet::{self, AhParams, AuthData, DecodeOptions, Ipv4Datagram, V3Checksum};
use crate::vrrp::{
    Action, Destinations, Event, GarpKind, InstanceId, LogLevel, NotifyState, NotifyTarget, PacketErrorKind,
    Received, Recipient, Router, RouterConfig, RouterOptions, StateName, Timestamp,
};
use crate::vrrp::params::{shared_name, InstanceParams, TrackedObject};
use crate::vrrp::event::TrackerStatus;
use crate::vrrp::Vip;
use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::net::{IpAddr, Ipv6Addr};
use std::sync::Arc;
use std::time::Duration;
use tokio::signal::unix::{signal, Signal, SignalKind};
use tokio::sync::mpsc;
use tokio::time::Instant;

/// Bound on received packets waiting for the loop: beyond it a flood is dropped at the
/// socket reader, so timers keep their pace.
const RX_BACKLOG: usize = 1024;
/// How long shutdown waits for notify_stop scripts and STOP mails.
const STOP_NOTIFY_WAIT: Duration = Duration::from_secs(1);
/// A notify FIFO's reader script gets this long between SIGTERM and SIGKILL.
const FIFO_CLOSE_GRACE: Duration = Duration::from_millis(500);
/// How long link and address notifications are gathered before acting on them.
const NET_SETTLE: Duration = Duration::from_millis(10);
/// How long after a burst of work its freed memory is handed back.
const TRIM_AFTER: Duration = Duration::from_secs(2);

/// glibc keeps freed heap memory for reuse; reading a large configuration and a takeover
/// of thousands of VIPs leave megabytes of it that a long-running daemon never needs again.
fn release_free_memory() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free memory to the system; no pointer is involved.
    unsafe {
        libc::malloc_trim(0);
    }
}

/// From the router's construction on, its instance parameters are the one copy of the
/// VIP lists (dumps and lookups read them there): the configuration the daemon keeps
/// would only duplicate tens of thousands of addresses.
fn drop_address_lists(config: &mut Config) {
    for inst in &mut config.instances {
        inst.vips = Vec::new();
        inst.excluded_vips = Vec::new();
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
struct SocketKey {
    interface: Option<Arc<str>>,
    family: Family,
    /// `auth_type AH` instances receive on an IPPROTO_AH socket of their own.
    ah: bool,
}

struct RxPacket {
    key: SocketKey,
    bytes: Vec<u8>,
    meta: socket::Received,
}

/// Per-instance I/O state that the core does not model.
struct InstanceIo {
    /// Shared with its executor and notifier.
    name: Arc<str>,
    vrid: u8,
    socket: SocketKey,
    source: Option<IpAddr>,
    ip_id: packet::IpIdSequence,
    v3_checksum: V3Checksum,
    old_unicast_probe: bool,
    unicast: bool,
    unicast_ttl: u8,
    /// `auth_type AH`: the key (the core keeps the sequence counter).
    ah: Option<[u8; 8]>,
    executor: Executor,
    notifier: Option<Notifier>,
    /// Per-VIP VMACs: device → VMAC name.
    vip_vmacs: BTreeMap<String, String>,
    /// Every VMAC set up for this instance (its own and per-VIP ones): deleted when the
    /// instance goes, as keepalived deletes every VMAC it made or reused.
    vmacs: Vec<vmac::Vmac>,
}

pub struct Daemon {
    opts: Options,
    config: Config,
    vetted: Arc<VettedConfig>,
    facts: RuntimeFacts,
    _endpoints: Option<Endpoints>,
    start: Instant,
    router: Router,
    netlink: Netlink,
    vmacs: Vmacs,
    announcer: Arc<Announcer>,
    devices: Rc<DeviceCache>,
    /// One allocation per interface name for every instance's socket key and executor.
    interface_names: BTreeSet<Arc<str>>,
    sockets: HashMap<SocketKey, Arc<VrrpSocket>>,
    rx_tx: mpsc::Sender<RxPacket>,
    /// Boxed: a BTreeMap filled in id order leaves its nodes about half empty, and a
    /// thousand instances' 280-byte entries would waste as much again.
    io: BTreeMap<InstanceId, Box<InstanceIo>>,
    group_notifiers: BTreeMap<String, Notifier>,
    fifos: Arc<FifoSet>,
    mailer: Mailer,
    host: HostFacts,
    statics: Executor,
    trackers: Option<Trackers>,
    link_up: HashMap<String, bool>,
    next_owner: u64,
    /// Links or addresses changed: at this time, instances without a source look again
    /// and the executors retry what the kernel refused. A takeover adds thousands of
    /// VIPs, one notification each: one look per burst, not per notification.
    net_settle: Option<Instant>,
    /// When to hand memory freed after a burst (start-up, a takeover) back to the system.
    trim_at: Option<Instant>,
}

fn to_core_notify(state: NotifyState) -> queue::NotifyState {
    match state {
        NotifyState::Master => queue::NotifyState::Master,
        NotifyState::Backup => queue::NotifyState::Backup,
        NotifyState::Fault => queue::NotifyState::Fault,
        NotifyState::Stop => queue::NotifyState::Stop,
        NotifyState::Deleted => queue::NotifyState::Deleted,
    }
}

fn to_mail_state(state: NotifyState) -> MailState {
    match state {
        NotifyState::Master => MailState::Master,
        NotifyState::Backup => MailState::Backup,
        NotifyState::Fault => MailState::Fault,
        NotifyState::Stop => MailState::Stop,
        NotifyState::Deleted => MailState::Deleted,
    }
}

/// Drop `track_script`s that vetting disabled, as keepalived does ("not found").
fn drop_disabled_scripts(config: &mut Config, vetted: &VettedConfig) {
    for inst in &mut config.instances {
        inst.track_scripts.retain(|t| {
            let ok = vetted.vrrp_scripts.contains_key(&t.name);
            if !ok {
                tracing::warn!("({}) track script {} not found, ignoring...", inst.name, t.name);
            }
            ok
        });
    }
    for g in &mut config.sync_groups {
        g.track_scripts.retain(|t| vetted.vrrp_scripts.contains_key(&t.name));
    }
}

/// `-u` over the configured `umask` over keepalived's 0177.
pub fn umask_in_force(opts: &Options, config: &Config) -> u32 {
    opts.umask
        .as_deref()
        .and_then(|u| u32::from_str_radix(u.trim_start_matches("0o"), 8).ok())
        .or(config.global.umask)
        .unwrap_or(0o177)
}

pub fn router_options(config: &Config) -> RouterOptions {
    RouterOptions {
        backup_on_owned_deletion: config.global.vrrp_backup_on_owned_deletion,
        no_email_faults: config.global.no_email_faults,
    }
}

impl Daemon {
    fn now(&self) -> Timestamp {
        Timestamp(self.start.elapsed().as_micros() as u64)
    }

    fn instant(&self, t: Timestamp) -> Instant {
        self.start + Duration::from_micros(t.0)
    }

    /// Every instance the core runs, with its parameters.
    fn instances(&self) -> impl Iterator<Item = (InstanceId, &InstanceParams)> + '_ {
        self.router.all_params()
    }

    fn log_action(level: LogLevel, message: &str) {
        match level {
            LogLevel::Debug => tracing::debug!("{message}"),
            LogLevel::Info => tracing::info!("{message}"),
            LogLevel::Warning => tracing::warn!("{message}"),
            LogLevel::Error => tracing::error!("{message}"),
        }
    }

    /// Build everything and run until a stop signal; returns the exit code.
    pub async fn run(opts: Options, mut config: Config) -> i32 {
        let netlink = match Netlink::connect() {
            Ok(n) => n,
            Err(e) => {
                tracing::error!("cannot open netlink: {e}");
                return 1;
            }
        };
        let mut monitor = match Monitor::open_for(&netlink) {
            Ok(m) => m,
            Err(e) => {
                tracing::error!("cannot subscribe to netlink notifications: {e}");
                return 1;
            }
        };
        // The configuration stays for reloads and lookups; growth slack from parsing a
        // thousand instances need not stay with it.
        config.instances.shrink_to_fit();
        let vetted = vet_config(&config);
        for line in &vetted.log {
            tracing::info!("{line}");
        }
        drop_disabled_scripts(&mut config, &vetted);
        let rcfg = match RouterConfig::from_config(&config, router_options(&config)) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("configuration cannot run: {e}");
                return 2;
            }
        };
        let announcer = match Announcer::start(Spacing {
            garp: config.global.vrrp_garp_interval,
            gna: config.global.vrrp_gna_interval,
        }) {
            Ok(a) => Arc::new(a),
            Err(e) => {
                tracing::error!("cannot open the packet socket for gratuitous ARP: {e}");
                return 1;
            }
        };
        let vetted = Arc::new(vetted);
        let facts = RuntimeFacts::from_system(
            &config,
            vetted.clone(),
            ClockPair { mono: Timestamp(0), wall: std::time::SystemTime::now() },
        );
        let fifos = Arc::new(FifoSet::open(vetted.fifo_plans()));
        let host = HostFacts::detect();
        let mailer = Mailer::start(MailSettings::from_config(&config, &host));
        let devices = Rc::new(DeviceCache::default());
        let statics = Executor::new(
            ExecContext {
                instance: "static".into(),
                owner: 0,
                default_dev: Some(config.global.default_interface.as_str().into()),
                vmac_for_dev: BTreeMap::new(),
            },
            netlink.clone(),
            announcer.clone(),
            devices.clone(),
        );
        let (rx_tx, mut rx_rx) = mpsc::channel(RX_BACKLOG);
        drop_address_lists(&mut config);
        let mut d = Daemon {
            opts,
            vmacs: Vmacs::new(netlink.clone()),
            router: Router::new(rcfg),
            config,
            facts,
            vetted,
            _endpoints: None,
            start: Instant::now(),
            netlink,
            announcer,
            devices,
            interface_names: BTreeSet::new(),
            sockets: HashMap::new(),
            rx_tx,
            io: BTreeMap::new(),
            group_notifiers: BTreeMap::new(),
            fifos,
            mailer,
            host,
            statics,
            trackers: None,
            link_up: HashMap::new(),
            next_owner: 1,
            net_settle: None,
            trim_at: None,
        };
        d.facts.umask = umask_in_force(&d.opts, &d.config);
        d.facts.namespace = d.opts.namespace.clone();
        let (snapshot_client, mut snapshot_rx) = status::snapshot_channel();
        match Endpoints::start(&d.config.global, d.facts.umask, Arc::new(snapshot_client)).await {
            Ok(e) => d._endpoints = Some(e),
            Err(e) => tracing::error!("status endpoint: {e}"),
        }
        let (mut signals, mut tracker_rx) = match d.start_up().await {
            Ok(x) => x,
            Err(code) => return code,
        };
        // The instances are set up: their parsed blocks are no longer needed (the dumps
        // show facts.configured, the router has their parameters). The rest is copied so
        // that what stays is compact, not scattered among the parser's freed garbage.
        d.config.instances = Vec::new();
        d.config = d.config.clone();
        d.trim_at = Some(Instant::now() + TRIM_AFTER);
        // Stands in for the notifications of our own IPv4 adds, which the monitor drops.
        let own_addresses_added = d.netlink.addresses_added();
        loop {
            let deadline = d.router.next_deadline().map(|t| d.instant(t));
            tokio::select! {
                biased;
                _ = async { match deadline { Some(t) => tokio::time::sleep_until(t).await, None => std::future::pending().await } } => {
                    d.feed(Event::Tick).await;
                }
                _ = signals.term.recv() => break,
                _ = signals.int.recv() => break,
                _ = signals.hup.recv() => d.reload().await,
                _ = signals.usr1.recv() => d.dump_data(),
                _ = signals.usr2.recv() => d.dump_stats(false),
                _ = signals.stats_clear.recv() => d.dump_stats(true),
                _ = signals.json.recv() => d.dump_json(),
                Some(update) = tracker_rx.recv() => d.tracker_update(update).await,
                Some(ev) = monitor.next() => d.net_event(ev).await,
                _ = own_addresses_added.notified() => d.net_changed(),
                Some(pkt) = rx_rx.recv() => d.packet(pkt).await,
                Some(req) = snapshot_rx.recv() => req.answer(status::snapshot(&d.router, &d.facts)),
                _ = async { if let Some(t) = d.net_settle { tokio::time::sleep_until(t).await } }, if d.net_settle.is_some() => {
                    d.net_settle = None;
                    d.refresh_sources(SourceScope::Incomplete).await;
                    d.retry_all();
                    d.trim_at = Some(Instant::now() + TRIM_AFTER);
                }
                _ = async { if let Some(t) = d.trim_at { tokio::time::sleep_until(t).await } }, if d.trim_at.is_some() => {
                    d.trim_at = None;
                    release_free_memory();
                }
            }
        }
        // Our own VIP removals would come back as thousands of notifications to parse.
        drop(monitor);
        d.shut_down().await;
        0
    }

    async fn start_up(&mut self) -> Result<(Signals, mpsc::Receiver<TrackerUpdate>), i32> {
        let signals = Signals::new().map_err(|e| {
            tracing::error!("cannot install signal handlers: {e}");
            1
        })?;
        self.remove_stale_vmacs().await;
        for id in self.router.instance_ids() {
            self.set_up_instance(id).await;
        }
        for (name, scripts) in &self.vetted.sync_groups {
            self.group_notifiers.insert(
                name.clone(),
                Notifier::group(name, scripts.clone(), self.fifos.clone(), QueueSettings::default()),
            );
        }
        self.install_statics();
        self.remove_stale_objects().await;
        self.report_interfaces().await;
        self.refresh_sources(SourceScope::All).await;
        init_track_files(&self.config, false);
        let (trackers, tracker_rx) = Trackers::start(&self.config, &self.vetted);
        self.trackers = Some(trackers);
        if let Some(delay) = self.config.global.vrrp_startup_delay {
            tracing::info!("Delaying startup for {} seconds", delay.as_secs_f64());
            tokio::time::sleep(delay).await;
        }
        super::sd_notify("READY=1");
        self.feed(Event::Startup).await;
        Ok((signals, tracker_rx))
    }

    async fn set_up_instance(&mut self, id: InstanceId) {
        // The parameters and the parsed block are borrowed, not copied: a thousand
        // set-ups' copies, dropped again, would leave holes among the records they keep.
        let Some(params) = self.router.params(id) else { return };
        let Some(inst_cfg) = self.config.instances.iter().find(|i| *i.name == *params.name) else { return };
        let name = Arc::clone(&params.name);
        let (family, vrid, configured_src) = (params.family, params.vrid, params.configured_src);
        let own_vmac = match (&inst_cfg.use_vmac, &inst_cfg.interface) {
            (Some(vm), Some(parent)) => Some((vm.clone(), parent.clone())),
            _ => None,
        };
        // Per-VIP VMACs on devices that carry no VRRP: down until MASTER.
        let vip_devs: BTreeSet<String> =
            crate::vrrp::params::vip_vmac_devices(inst_cfg, params.vips.iter().chain(params.excluded_vips.iter()));
        let taken: Vec<String> = if vip_devs.is_empty() {
            Vec::new()
        } else {
            self.config.instances.iter().filter_map(|i| i.use_vmac.as_ref().map(|v| v.ifname.clone())).collect()
        };
        let prefix = self.config.global.vmac_addr_prefix.clone().or(self.config.global.vmac_prefix.clone());
        // VIPs without `dev` live on the instance's VMAC even with `vmac_xmit_base`, which
        // only moves the adverts to the parent (as keepalived does).
        let default_dev = match &inst_cfg.use_vmac {
            Some(vmac) => Some(shared_name(&mut self.interface_names, &vmac.ifname)),
            None => params.interface.clone(),
        };
        let rx_interface = params.rx_interface.clone();
        let ah = match &inst_cfg.auth {
            Some(crate::config::model::Auth::Ah(key)) => {
                let mut k = [0u8; 8];
                for (d, s) in k.iter_mut().zip(key.iter()) {
                    *d = *s;
                }
                Some(k)
            }
            _ => None,
        };
        let unicast_ttl = inst_cfg.unicast_ttl.unwrap_or(255);
        let unicast = params.is_unicast();
        let v3_checksum = if params.v3_checksum_as_v2 { V3Checksum::AsV2 } else { V3Checksum::PseudoHeader };
        let scripts = self.vetted.instances.get(&*params.name).cloned().unwrap_or_default();

        let mut vmacs = Vec::new();
        // The instance's own VMAC carries its adverts and VIPs.
        if let Some((vm, parent)) = own_vmac {
            let spec = VmacSpec {
                name: vm.ifname.clone(),
                parent,
                mac: vm.mac.unwrap_or_else(|| vmac::default_mac(family, vrid)),
                group: vm.group,
                family,
                ipv6: family == Family::Inet6,
                // The VIP's subnet is usually on the parent too, so replies from the VIP
                // leave through the parent; without arp_announce=2 the parent's ARP
                // requests carry the VIP as sender and clients re-learn the VIP at the
                // parent's MAC (keepalived 2.2.7 leaves arp_announce alone and has this
                // problem).
                strict_arp: family == Family::Inet,
            };
            self.devices.forget();
            match self.vmacs.ensure(&spec, true).await {
                Ok(v) => {
                    tracing::info!("({}) VMAC {} ready on {}", name, v.name, v.parent_name);
                    if family == Family::Inet6 {
                        match self.vmac_link_local(configured_src, v.parent_index).await {
                            Some(ll) => {
                                let entry = link_local_entry(ll, &v.name);
                                if let Err(e) = self.netlink.add_address(v.index, &entry).await {
                                    tracing::warn!("({}) cannot add link-local {ll} to {}: {e}", name, v.name);
                                }
                            }
                            None => tracing::warn!("({}) no link-local address for {}", name, v.name),
                        }
                    }
                    vmacs.push(v);
                }
                Err(e) => tracing::error!("({}) cannot set up VMAC {}: {e}", name, vm.ifname),
            }
        }
        let mut vmac_for_dev = per_vip_vmac_names(prefix.as_deref(), vrid, &vip_devs, &taken);
        for (dev, vmac_name) in vmac_for_dev.clone() {
            let spec = VmacSpec {
                name: vmac_name.clone(),
                parent: dev.clone(),
                mac: vmac::default_mac(family, vrid),
                group: None,
                family,
                ipv6: false,
                strict_arp: true,
            };
            self.devices.forget();
            match self.vmacs.ensure(&spec, false).await {
                Ok(v) => vmacs.push(v),
                Err(e) => {
                    tracing::error!("({}) cannot set up VMAC {vmac_name} on {dev}: {e}", name);
                    vmac_for_dev.remove(&dev);
                }
            }
        }
        let owner = self.next_owner;
        self.next_owner += 1;
        let executor = Executor::new(
            ExecContext { instance: name.clone(), owner, default_dev, vmac_for_dev: vmac_for_dev.clone() },
            self.netlink.clone(),
            self.announcer.clone(),
            self.devices.clone(),
        );
        let notifier = Some(Notifier::instance(name.clone(), scripts, self.fifos.clone(), QueueSettings::default()));
        let io = InstanceIo {
            name,
            vrid,
            socket: SocketKey { interface: rx_interface, family, ah: ah.is_some() },
            source: None,
            ip_id: packet::IpIdSequence::new(),
            v3_checksum,
            old_unicast_probe: unicast,
            unicast,
            unicast_ttl,
            ah,
            executor,
            notifier,
            vip_vmacs: vmac_for_dev,
            vmacs,
        };
        self.io.insert(id, Box::new(io));
    }

    /// The link-local an IPv6 VMAC carries, chosen as keepalived does: a configured
    /// link-local source, else the parent's link-local (even while it is still in DAD),
    /// else the EUI-64 of the parent's MAC. The virtual MAC's own EUI-64 would give every
    /// router of the VRID the same advert source.
    async fn vmac_link_local(&self, configured: Option<IpAddr>, parent_index: u32) -> Option<Ipv6Addr> {
        if let Some(IpAddr::V6(src)) = configured {
            if src.segments()[0] & 0xffc0 == 0xfe80 {
                return Some(src);
            }
        }
        let addresses = self.netlink.addresses(Some(Family::Inet6), Some(parent_index)).await.unwrap_or_default();
        let parent_ll = addresses.iter().filter(|a| a.is_link_local() && !a.is_dad_failed()).find_map(|a| match a.local {
            IpAddr::V6(v6) => Some(v6),
            IpAddr::V4(_) => None,
        });
        if parent_ll.is_some() {
            return parent_ll;
        }
        let parent = self.netlink.link_by_index(parent_index).await.ok()?;
        Some(vmac::eui64_link_local(parent.mac()?))
    }

    /// keepalived removes copies of its VIPs found at start ("removing VIPs."), so that a
    /// crashed run's leftovers cannot make two boxes answer for one address; kad also
    /// removes its own leftover routes and rules (protocol 18).
    async fn remove_stale_objects(&mut self) {
        let kad_routes = self.netlink.routes(None, Some(crate::net::netlink::RTPROT_KEEPALIVED)).await.unwrap_or_default();
        // Only a configured address that is present can be stale: one listing instead of
        // a delete per VIP (10000 round trips at start for 1000 instances). Without the
        // listing, every VIP is removed blindly.
        let present: Option<std::collections::HashSet<IpAddr>> =
            self.netlink.addresses(None, None).await.ok().map(|list| list.into_iter().map(|a| a.local).collect());
        for (id, io) in &self.io {
            let Some(params) = self.router.params(*id) else { continue };
            // Backup routes first: a stale VIP going takes the stale master routes through
            // its device with it, and the box would be left without those routes.
            if !params.backup_routes.is_empty() {
                io.executor.submit(NetOp::InstallRoutes(params.backup_routes.clone()));
            }
            let addrs: Vec<Vip> = params
                .vips
                .iter()
                .chain(params.excluded_vips.iter())
                .filter(|a| present.as_ref().is_none_or(|p| p.contains(&a.prefix.addr)))
                .cloned()
                .collect();
            if !addrs.is_empty() {
                io.executor.submit(NetOp::RemoveAddresses(addrs.into()));
            }
            let stale: Vec<RouteEntry> = params
                .virtual_routes
                .iter()
                .filter(|r| kad_routes.iter().any(|k| normalised_key(k.key()) == normalised_key(r.key())))
                .filter(|r| !params.backup_routes.iter().any(|b| b.key() == r.key()))
                .cloned()
                .collect();
            if !stale.is_empty() {
                io.executor.submit(NetOp::RemoveRoutes(stale.into()));
            }
            if !params.virtual_rules.is_empty() {
                io.executor.submit(NetOp::RemoveRules(params.virtual_rules.clone()));
            }
        }
        for io in self.io.values() {
            io.executor.barrier().await;
        }
    }

    async fn remove_stale_vmacs(&mut self) {
        let mut prefixes = vec!["vrrp".to_string()];
        prefixes.extend(self.config.global.vmac_prefix.clone());
        prefixes.extend(self.config.global.vmac_addr_prefix.clone());
        let refs: Vec<&str> = prefixes.iter().map(String::as_str).collect();
        let keep: Vec<String> = self.config.instances.iter().filter_map(|i| i.use_vmac.as_ref().map(|v| v.ifname.clone())).collect();
        let keep_refs: Vec<&str> = keep.iter().map(String::as_str).collect();
        match self.vmacs.remove_stale(&refs, &keep_refs).await {
            Ok(removed) if !removed.is_empty() => tracing::info!("removed stale VMACs: {}", removed.join(", ")),
            Ok(_) => {}
            Err(e) => tracing::warn!("cannot look for stale VMACs: {e}"),
        }
    }

    fn install_statics(&self) {
        let c = &self.config;
        if !c.static_addresses.is_empty() {
            self.statics.submit(NetOp::AddAddresses(c.static_addresses.iter().map(Vip::from).collect()));
        }
        if !c.static_routes.is_empty() {
            self.statics.submit(NetOp::InstallRoutes(c.static_routes.as_slice().into()));
        }
        if !c.static_rules.is_empty() {
            self.statics.submit(NetOp::InstallRules(c.static_rules.as_slice().into()));
        }
    }

    /// Every interface a tracker or an instance names, with its current state.
    fn watched_interfaces(&self) -> BTreeSet<String> {
        let mut names = BTreeSet::new();
        for (_, p) in self.instances() {
            names.extend(p.interface.as_deref().map(str::to_string));
            names.extend(p.rx_interface.as_deref().map(str::to_string));
            for t in &p.trackers {
                if let TrackedObject::Interface(n) = &t.object {
                    names.insert(n.clone());
                }
            }
        }
        names
    }

    async fn report_interfaces(&mut self) {
        let links = self.netlink.links().await.unwrap_or_default();
        for name in self.watched_interfaces() {
            let up = links.iter().find(|l| l.name == name).is_some_and(Link::is_oper_up);
            self.link_up.insert(name.clone(), up);
            if !up {
                tracing::info!("Interface {name} is down or missing");
                self.feed(Event::InterfaceDown(name)).await;
            }
        }
    }

    /// Work out the advert source of the instances in `scope` and make sure their sockets
    /// are open; both may only become possible later (an IPv6 link-local still doing DAD,
    /// an address added after start), so this runs again on address and link changes.
    /// One link and one address listing serve every instance: a takeover adds thousands
    /// of VIPs, and a listing per instance per address event would stall the loop.
    async fn refresh_sources(&mut self, scope: SourceScope) {
        let ids: Vec<InstanceId> = self
            .io
            .iter()
            .filter(|(_, io)| match scope {
                SourceScope::All => true,
                SourceScope::Incomplete => io.source.is_none() || !self.sockets.contains_key(&io.socket),
                SourceScope::Using(addr) => io.source == Some(addr),
            })
            .map(|(id, _)| *id)
            .collect();
        if ids.is_empty() {
            return;
        }
        let links = self.netlink.links().await.unwrap_or_default();
        let addresses = self.netlink.addresses(None, None).await.unwrap_or_default();
        let mut events = Vec::new();
        for id in ids {
            let Some(params) = self.router.params(id).cloned() else { continue };
            let new_source = source_for(&params, &links, &addresses);
            let Some(io) = self.io.get(&id) else { continue };
            let key = io.socket.clone();
            if !self.sockets.contains_key(&key) {
                self.open_socket(&key, &params, new_source).await;
            }
            let Some(io) = self.io.get_mut(&id) else { continue };
            if io.source != new_source {
                io.source = new_source;
                events.push(Event::SourceAddress { instance: id, addr: new_source });
            }
        }
        for ev in events {
            self.feed(ev).await;
        }
    }

    async fn open_socket(&mut self, key: &SocketKey, params: &InstanceParams, source: Option<IpAddr>) {
        let interface = match &key.interface {
            Some(name) => match self.netlink.ifindex(name).await {
                Ok(index) => Some(Interface { name: name.to_string(), index }),
                Err(_) => return,
            },
            None => None,
        };
        // Every instance on this socket listens to its own group (vrrp_mcast_group, or
        // mcast_dst_ip); unicast instances need none.
        let mut groups: Vec<IpAddr> = Vec::new();
        for (_, p) in self.instances() {
            if p.rx_interface.as_deref() == key.interface.as_deref() && p.family == key.family && !p.is_unicast() && !groups.contains(&p.mcast_group) {
                groups.push(p.mcast_group);
            }
        }
        let bind_source = match (key.family, source) {
            (Family::Inet6, Some(IpAddr::V6(v6))) if v6.segments()[0] & 0xffc0 == 0xfe80 => Some(IpAddr::V6(v6)),
            _ => None,
        };
        if key.family == Family::Inet6 && bind_source.is_none() && !params.is_unicast() {
            // Sending before the link-local exists would use a VIP as the source.
            return;
        }
        let options = SocketOptions {
            family: key.family,
            interface,
            groups,
            source: bind_source,
            freebind: params.is_unicast(),
            unicast_hops: self.facts.configured.iter().find(|i| *i.name == *params.name).and_then(|i| i.unicast_ttl),
            ah: key.ah,
        };
        match VrrpSocket::open(options) {
            Ok(s) => {
                let s = Arc::new(s);
                self.sockets.insert(key.clone(), s.clone());
                let tx = self.rx_tx.clone();
                let k = key.clone();
                tokio::spawn(async move {
                    loop {
                        match s.recv_owned().await {
                            Ok((bytes, meta)) => {
                                let pkt = RxPacket { key: k.clone(), bytes, meta };
                                if tx.try_send(pkt).is_err() && tx.is_closed() {
                                    return;
                                }
                            }
                            Err(e) => {
                                tracing::debug!("receive on {:?}: {e}", k.interface);
                                tokio::time::sleep(Duration::from_millis(10)).await;
                            }
                        }
                    }
                });
            }
            Err(NetError::NotReady(why)) => tracing::debug!("socket on {:?} not ready: {why}", key.interface),
            Err(e) => tracing::error!("({}) cannot open VRRP socket on {:?}: {e}", params.name, key.interface),
        }
    }

    /// Hand an event to the core and carry out what it decides.
    async fn feed(&mut self, event: Event) {
        let now = self.now();
        let actions = self.router.handle(now, event);
        self.execute(actions).await;
    }

    async fn execute(&mut self, actions: Vec<Action>) {
        // A takeover of many instances yields thousands of actions: the VIPs go to the
        // executors first, so that the netlink batcher gathers all of them into one round
        // (it waits while requests keep arriving, and the adverts go out meanwhile, as
        // keepalived sends an instance's advert before adding its addresses) rather than
        // rounds squeezed between the rest. Only an instance's first net actions move, so
        // what each executor receives keeps the core's order; none moves ahead of a
        // removal, which may be of the same address by another instance.
        let mut later = Vec::with_capacity(actions.len());
        let mut has_earlier_net_op = BTreeSet::new();
        let mut removal_seen = false;
        let mut hoisted = false;
        for action in actions {
            match &action {
                Action::AddVips { instance, .. } | Action::AddExcludedVips { instance, .. }
                    if !removal_seen && !has_earlier_net_op.contains(instance) =>
                {
                    hoisted = true;
                    self.execute_one(action).await;
                    continue;
                }
                Action::RemoveVips { instance, .. } | Action::RemoveExcludedVips { instance, .. } => {
                    removal_seen = true;
                    has_earlier_net_op.insert(*instance);
                }
                Action::InstallVirtualRoutes { instance, .. }
                | Action::InstallBackupRoutes { instance, .. }
                | Action::RemoveVirtualRoutes { instance, .. }
                | Action::RemoveBackupRoutes { instance, .. }
                | Action::InstallVirtualRules { instance, .. }
                | Action::InstallBackupRules { instance, .. }
                | Action::RemoveVirtualRules { instance, .. }
                | Action::RemoveBackupRules { instance, .. }
                | Action::SendGarp { instance, .. } => {
                    has_earlier_net_op.insert(*instance);
                }
                _ => {}
            }
            later.push(action);
        }
        if hoisted {
            tokio::task::yield_now().await;
        }
        for action in later {
            self.execute_one(action).await;
        }
    }

    fn exec(&self, id: InstanceId, op: NetOp) {
        if let Some(io) = self.io.get(&id) {
            io.executor.submit(op);
        }
    }

    async fn execute_one(&mut self, action: Action) {
        match action {
            Action::SendAdvert { instance, advert, destinations, ah_sequence } => {
                self.send_advert(instance, &advert, destinations, ah_sequence).await
            }
            Action::AddVips { instance, vips } | Action::AddExcludedVips { instance, vips } => {
                self.exec(instance, NetOp::AddAddresses(vips))
            }
            Action::RemoveVips { instance, vips } | Action::RemoveExcludedVips { instance, vips } => {
                self.exec(instance, NetOp::CancelAnnounce);
                self.exec(instance, NetOp::RemoveAddresses(vips))
            }
            Action::InstallVirtualRoutes { instance, routes } | Action::InstallBackupRoutes { instance, routes } => {
                self.exec(instance, NetOp::InstallRoutes(routes))
            }
            Action::RemoveVirtualRoutes { instance, routes } | Action::RemoveBackupRoutes { instance, routes } => {
                self.exec(instance, NetOp::RemoveRoutes(routes))
            }
            Action::InstallVirtualRules { instance, rules } | Action::InstallBackupRules { instance, rules } => {
                self.exec(instance, NetOp::InstallRules(rules))
            }
            Action::RemoveVirtualRules { instance, rules } | Action::RemoveBackupRules { instance, rules } => {
                self.exec(instance, NetOp::RemoveRules(rules))
            }
            Action::SendGarp { instance, kind, repeat } => {
                self.trim_at = Some(Instant::now() + TRIM_AFTER);
                if kind == GarpKind::UnicastSource {
                    if let Some(src) = self.io.get(&instance).and_then(|io| io.source) {
                        self.exec(instance, NetOp::AnnounceSource { address: src });
                    }
                } else if let Some(p) = self.router.params(instance) {
                    let addresses: Vec<Arc<[Vip]>> = if kind == GarpKind::ExtraInterfaces {
                        p.garp.extra_interfaces.iter().map(|x| x.addresses.as_slice().into()).collect()
                    } else {
                        vec![p.vips.clone(), p.excluded_vips.clone()]
                    };
                    self.exec(instance, NetOp::Announce { addresses, repeat });
                }
            }
            Action::StateChanged { instance, from, to } => self.state_changed(instance, from, to).await,
            Action::Notify { target, state, priority } => match target {
                NotifyTarget::Instance { id, .. } => {
                    if let Some(n) = self.io.get(&id).and_then(|io| io.notifier.as_ref()) {
                        n.state_changed(to_core_notify(state), priority);
                    }
                }
                NotifyTarget::Group { name, .. } => {
                    if let Some(n) = self.group_notifiers.get(&name) {
                        n.state_changed(to_core_notify(state), 0);
                    }
                }
            },
            Action::NotifyMasterRxLowerPri { instance, priority, .. } => {
                if let Some(n) = self.io.get(&instance).and_then(|io| io.notifier.as_ref()) {
                    n.master_rx_lower_pri(priority);
                }
            }
            Action::PriorityChanged { instance, master, priority, .. } => {
                if let Some(n) = self.io.get(&instance).and_then(|io| io.notifier.as_ref()) {
                    n.priority_changed(master, priority);
                }
            }
            Action::Mail { target, state } => {
                let t = match target {
                    NotifyTarget::Instance { name, .. } => MailTarget::Instance(name),
                    NotifyTarget::Group { name, .. } => MailTarget::Group(name),
                };
                self.mailer.submit(&t, to_mail_state(state));
            }
            Action::Log { level, message } => Self::log_action(level, &message),
        }
    }

    /// VMACs on devices without VRRP are only up while MASTER, so the standby box never
    /// sends a frame from the shared MAC (vmac-vip-devices.md pitfalls 1 and 3).
    async fn state_changed(&mut self, id: InstanceId, from: StateName, to: StateName) {
        let Some(io) = self.io.get(&id) else { return };
        self.facts.transitions.record(&io.name, from, to, std::time::SystemTime::now());
        if io.vip_vmacs.is_empty() {
            return;
        }
        let up = to == StateName::Master;
        // Up before the VIPs are added on it; down only after they are gone.
        if !up {
            io.executor.barrier().await;
        }
        let names: Vec<String> = io.vip_vmacs.values().cloned().collect();
        for name in names {
            match self.netlink.ifindex(&name).await {
                Ok(index) => {
                    if let Err(e) = self.netlink.set_link_up(index, up).await {
                        tracing::warn!("cannot set VMAC {name} {}: {e}", if up { "up" } else { "down" });
                    }
                }
                Err(e) => tracing::warn!("VMAC {name} missing: {e}"),
            }
        }
    }

    async fn send_advert(
        &mut self,
        id: InstanceId,
        advert: &packet::Advert,
        destinations: Destinations,
        ah_sequence: Option<u32>,
    ) {
        let Some(io) = self.io.get_mut(&id) else { return };
        let Some(sock) = self.sockets.get(&io.socket).cloned() else {
            tracing::debug!("({}) no socket yet, advert not sent", io.name);
            return;
        };
        let Some(source) = io.source else { return };
        let dsts: Vec<IpAddr> = match destinations {
            Destinations::Multicast(g) => vec![g],
            Destinations::Unicast(peers) => peers,
        };
        for dst in dsts {
            let bytes = match (source, dst) {
                (IpAddr::V4(src), IpAddr::V4(d)) => {
                    let ah = match (&advert.auth, io.ah, ah_sequence) {
                        (AuthData::Ah, Some(key), Some(sequence)) => Some(AhParams { key, sequence }),
                        _ => None,
                    };
                    let ttl = if d.is_multicast() { 255 } else { io.unicast_ttl };
                    let params = packet::Ipv4Params { src, dst: d, ttl, id: io.ip_id.next_id(), v3_checksum: io.v3_checksum, ah };
                    packet::encode_ipv4(advert, &params)
                }
                (IpAddr::V6(_), IpAddr::V6(_)) => packet::encode_ipv6(advert),
                _ => continue,
            };
            match bytes {
                Ok(b) => {
                    let result = match (source, dst, io.unicast) {
                        (IpAddr::V6(s), IpAddr::V6(d), true) => sock.send_from(&b, d, s).await,
                        _ => sock.send(&b, dst).await,
                    };
                    if let Err(e) = result {
                        tracing::warn!("({}) cannot send advert to {dst}: {e}", io.name);
                    }
                }
                Err(e) => tracing::error!("({}) cannot encode advert: {e}", io.name),
            }
        }
    }

    async fn packet(&mut self, pkt: RxPacket) {
        let event = match pkt.key.family {
            Family::Inet => self.decode_v4(&pkt),
            Family::Inet6 => self.decode_v6(&pkt),
        };
        if let Some(ev) = event {
            self.feed(ev).await;
        }
    }

    fn candidates(&self, key: &SocketKey, vrid: u8) -> Vec<InstanceId> {
        self.io.iter().filter(|(_, io)| &io.socket == key && io.vrid == vrid).map(|(id, _)| *id).collect()
    }

    fn recipient(&self, key: &SocketKey, vrid: u8) -> Option<Recipient> {
        match self.candidates(key, vrid).as_slice() {
            [] => None,
            [one] => Some(Recipient::Instance(*one)),
            _ => Some(Recipient::Socket { vrid, family: key.family, interface: key.interface.as_deref().map(str::to_string) }),
        }
    }

    fn decode_v4(&mut self, pkt: &RxPacket) -> Option<Event> {
        let datagram = match Ipv4Datagram::parse(&pkt.bytes) {
            Ok(d) => d,
            Err(e) => {
                tracing::debug!("dropped VRRP packet: {e}");
                return None;
            }
        };
        let vrid = datagram.vrid();
        let Some(to) = self.recipient(&pkt.key, vrid) else {
            if self.config.global.log_unknown_vrids {
                tracing::info!("Unknown VRID {vrid} received from {}", datagram.src());
            }
            return None;
        };
        let first = self.candidates(&pkt.key, vrid)[0];
        let io = self.io.get_mut(&first)?;
        // The replay check on the sequence number is the core's: it needs the state.
        let ah_sequence = match (&io.ah, datagram.ah()) {
            (Some(key), Some(ah)) => {
                if let Err(e) = datagram.verify_ah(key, io.unicast) {
                    tracing::info!("({}) {e}", io.name);
                    return Some(Event::PacketError { to, kind: PacketErrorKind::AuthFailure });
                }
                Some(ah.sequence)
            }
            _ => None,
        };
        let options = DecodeOptions {
            v3_checksum: io.v3_checksum,
            old_unicast_fallback: io.old_unicast_probe.then_some(socket::VRRP_GROUP_V4),
        };
        match datagram.decode(&options) {
            Ok(r) => {
                if r.checksum == packet::ChecksumForm::V3OldUnicast && io.v3_checksum == V3Checksum::PseudoHeader {
                    tracing::info!("({}) Setting unicast VRRPv3 checksum to old version", io.name);
                    io.v3_checksum = V3Checksum::OldUnicast { group: socket::VRRP_GROUP_V4 };
                }
                Some(Event::AdvertReceived(Received {
                    to,
                    advert: r.advert,
                    src: r.src,
                    dst: r.dst,
                    ttl: Some(r.ttl_or_hop_limit),
                    ah_sequence,
                }))
            }
            Err(e) => Self::decode_error(to, &io.name, &e),
        }
    }

    fn decode_error(to: Recipient, name: &str, e: &packet::DecodeError) -> Option<Event> {
        tracing::info!("({name}) {e}");
        let kind = match e {
            packet::DecodeError::Length { .. } | packet::DecodeError::TotalLength { .. } => PacketErrorKind::Length,
            packet::DecodeError::PacketType { .. } => PacketErrorKind::InvalidType,
            packet::DecodeError::AuthType { .. } => PacketErrorKind::InvalidAuthType,
            packet::DecodeError::Checksum { .. } => PacketErrorKind::Checksum,
            _ => return None,
        };
        Some(Event::PacketError { to, kind })
    }

    fn decode_v6(&mut self, pkt: &RxPacket) -> Option<Event> {
        let (IpAddr::V6(src), IpAddr::V6(dst)) = (pkt.meta.src, pkt.meta.dst) else { return None };
        let vrid = *pkt.bytes.get(1)?;
        let to = self.recipient(&pkt.key, vrid)?;
        let first = self.candidates(&pkt.key, vrid)[0];
        let name = self.io.get(&first)?.name.clone();
        match packet::decode_ipv6(&pkt.bytes, src, dst, pkt.meta.ttl) {
            Ok(r) => Some(Event::AdvertReceived(Received {
                to,
                advert: r.advert,
                src: r.src,
                dst: r.dst,
                ttl: Some(r.ttl_or_hop_limit),
                ah_sequence: None,
            })),
            Err(e) => Self::decode_error(to, &name, &e),
        }
    }

    async fn tracker_update(&mut self, update: TrackerUpdate) {
        let (object, status) = match update.status {
            TrackStatus::ScriptOk => (TrackedObject::Script(update.name), TrackerStatus::ScriptOk),
            TrackStatus::ScriptFailed => (TrackedObject::Script(update.name), TrackerStatus::ScriptFailed),
            TrackStatus::FileValue(v) => (TrackedObject::File(update.name), TrackerStatus::FileValue(v)),
        };
        self.feed(Event::TrackerUpdate { object, status }).await;
    }

    fn net_changed(&mut self) {
        self.net_settle.get_or_insert_with(|| Instant::now() + NET_SETTLE);
    }

    fn retry_all(&self) {
        for io in self.io.values() {
            io.executor.retry();
        }
        self.statics.retry();
    }

    async fn net_event(&mut self, ev: NetEvent) {
        if matches!(ev, NetEvent::LinkChanged(_) | NetEvent::LinkDeleted { .. } | NetEvent::Overrun) {
            self.devices.forget();
        }
        match ev {
            NetEvent::LinkChanged(link) => {
                // Notifications queued before start-up (a VMAC created down, then set
                // up) arrive after the state was read: act on the link as it is now,
                // or a stale "down" sends the instance through FAULT.
                let up = match self.netlink.link_by_index(link.index).await {
                    Ok(current) if current.name == link.name => current.is_oper_up(),
                    _ => link.is_oper_up(),
                };
                let watched = self.watched_interfaces().contains(&link.name);
                let was = self.link_up.insert(link.name.clone(), up);
                if watched && was != Some(up) {
                    if up {
                        tracing::info!("Interface {} is up", link.name);
                        // The kernel drops multicast memberships when a driver resets the
                        // device (keepalived issue 1847): join again.
                        for (key, sock) in &self.sockets {
                            if key.interface.as_deref() == Some(link.name.as_str()) {
                                if let Err(e) = sock.rejoin(link.index) {
                                    tracing::warn!("cannot rejoin VRRP group on {}: {e}", link.name);
                                }
                            }
                        }
                        self.feed(Event::InterfaceUp(link.name.clone())).await;
                    } else {
                        tracing::info!("Interface {} is down", link.name);
                        self.feed(Event::InterfaceDown(link.name.clone())).await;
                    }
                }
                if was != Some(up) {
                    self.refresh_sources(SourceScope::All).await;
                    self.net_changed();
                }
            }
            NetEvent::LinkDeleted { name, .. } => {
                if self.link_up.insert(name.clone(), false) == Some(true) {
                    self.feed(Event::InterfaceDown(name.clone())).await;
                }
                self.sockets.retain(|k, _| k.interface.as_deref() != Some(name.as_str()));
            }
            NetEvent::AddressAdded(_) => self.net_changed(),
            NetEvent::AddressRemoved(info) => {
                let events: Vec<Event> = self
                    .router
                    .masters_owning(info.local)
                    .into_iter()
                    .map(|instance| Event::OwnedAddressDeleted { instance, addr: info.local })
                    .collect();
                if self.config.static_addresses.iter().any(|a| a.prefix.addr == info.local) {
                    tracing::info!("static address {} was deleted - restoring", info.local);
                    self.statics.submit(NetOp::AddAddresses(
                        self.config.static_addresses.iter().filter(|a| a.prefix.addr == info.local).map(Vip::from).collect(),
                    ));
                }
                for ev in events {
                    self.feed(ev).await;
                }
                self.refresh_sources(SourceScope::Using(info.local)).await;
                // Routes through the address's device or from it may have gone with it.
                self.net_changed();
            }
            NetEvent::RouteRemoved(info) => {
                let key = normalised_key(info.key());
                // Only a route of ours: another one with the same key (someone's own
                // default route, say) is not kad's to restore.
                let events: Vec<Event> = self
                    .instances()
                    .filter_map(|(instance, p)| {
                        let own = p
                            .virtual_routes
                            .iter()
                            .chain(p.backup_routes.iter())
                            .find(|r| normalised_key(r.key()) == key && r.protocol == info.protocol)?;
                        Some(Event::OwnedRouteDeleted { instance, key: own.key() })
                    })
                    .collect();
                let statics: Vec<RouteEntry> =
                    self.config.static_routes.iter().filter(|r| normalised_key(r.key()) == key && r.protocol == info.protocol).cloned().collect();
                if !statics.is_empty() {
                    tracing::info!("static route {} was deleted - restoring", info.dest);
                    self.statics.submit(NetOp::InstallRoutes(statics.into()));
                }
                for ev in events {
                    self.feed(ev).await;
                }
            }
            NetEvent::RuleRemoved(info) => {
                let mut events = Vec::new();
                for (instance, p) in self.instances() {
                    for r in p.virtual_rules.iter().chain(p.backup_rules.iter()) {
                        if rule_matches(&info, r) {
                            events.push(Event::OwnedRuleDeleted { instance, rule: r.clone() });
                        }
                    }
                }
                let statics: Vec<RuleEntry> = self.config.static_rules.iter().filter(|r| rule_matches(&info, r)).cloned().collect();
                if !statics.is_empty() {
                    self.statics.submit(NetOp::InstallRules(statics.into()));
                }
                for ev in events {
                    self.feed(ev).await;
                }
            }
            NetEvent::Overrun => {
                tracing::warn!("netlink notifications were lost; re-checking interfaces and addresses");
                self.refresh_sources(SourceScope::All).await;
                self.net_changed();
            }
            NetEvent::RouteAdded(_) | NetEvent::RuleAdded(_) => {}
        }
    }

    /// SIGHUP (keepalived's reload, §3.5).
    async fn reload(&mut self) {
        tracing::info!("Reloading");
        let loaded = super::load_config(&self.opts);
        // keepalived runs `--config-test` first when the running configuration asks.
        if let Some(check_log) = &self.config.global.reload_check_config {
            let log_path = check_log.as_deref().unwrap_or("/dev/null");
            if loaded.diags.config_test_exit_code() != 0 {
                let report: String = loaded.diags.list.iter().map(|d| format!("{}\n", d.render())).collect();
                if let Err(e) = std::fs::write(log_path, report) {
                    tracing::info!("cannot write the config check log {log_path}: {e}");
                }
                tracing::info!("New config failed validation, see {log_path} for details");
                return;
            }
        }
        let Some(mut config) = loaded.config.filter(|_| !loaded.diags.is_fatal()) else {
            for d in &loaded.diags.list {
                tracing::error!("{}", d.render());
            }
            tracing::error!("reload refused: the new configuration has errors; the running one stays");
            return;
        };
        for d in &loaded.diags.list {
            tracing::warn!("{}", d.render());
        }
        let vetted = vet_config(&config);
        for line in &vetted.log {
            tracing::info!("{line}");
        }
        drop_disabled_scripts(&mut config, &vetted);
        let vetted = Arc::new(vetted);
        let mut rcfg = match RouterConfig::from_config(&config, router_options(&config)) {
            Ok(r) => r,
            Err(e) => {
                tracing::error!("reload refused: {e}; the running configuration stays");
                return;
            }
        };
        self.facts.scripts = vetted.clone();
        let links = self.netlink.links().await.unwrap_or_default();
        let addresses = self.netlink.addresses(None, None).await.unwrap_or_default();
        for params in &rcfg.instances {
            if let Some(source) = source_for(params, &links, &addresses) {
                rcfg.sources.insert(params.name.to_string(), source);
            }
        }
        let old_ids: BTreeSet<InstanceId> = self.io.keys().copied().collect();
        drop_address_lists(&mut config);
        // Compact, not scattered among the parser's garbage (see Daemon::run).
        let config = config.clone();
        let old_config = std::mem::replace(&mut self.config, config);
        self.facts.configured = dump::InstanceConf::all(&self.config);
        self.vetted = vetted;
        self.mailer.reconfigure(MailSettings::from_config(&self.config, &self.host), &self.config);
        self.fifos.reconfigure(self.vetted.fifo_plans(), FIFO_CLOSE_GRACE);
        let now = self.now();
        let actions = self.router.handle(now, Event::Reload(Box::new(rcfg)));
        // Instances new to the router need their I/O before their actions run; matched
        // ones keep their notify queue (and so the order of their notifications), maybe
        // under a new name.
        for id in self.router.instance_ids() {
            let Some(name) = self.router.params(id).map(|p| p.name.clone()) else { continue };
            if !old_ids.contains(&id) {
                self.set_up_instance(id).await;
            } else if let Some(io) = self.io.get_mut(&id) {
                let scripts = self.vetted.instances.get(&*name).cloned().unwrap_or_default();
                match io.notifier.as_mut() {
                    Some(n) => n.reconfigure(&name, scripts),
                    None => {
                        io.notifier = Some(Notifier::instance(Arc::clone(&name), scripts, self.fifos.clone(), QueueSettings::default()))
                    }
                }
                io.name = name;
            }
        }
        let mut group_notifiers = std::mem::take(&mut self.group_notifiers);
        for (name, scripts) in &self.vetted.sync_groups {
            let notifier = match group_notifiers.remove(name) {
                Some(mut n) => {
                    n.reconfigure(name, scripts.clone());
                    n
                }
                None => Notifier::group(name, scripts.clone(), self.fifos.clone(), QueueSettings::default()),
            };
            self.group_notifiers.insert(name.clone(), notifier);
        }
        self.execute(actions).await;
        // A reload installs only changed routes; unchanged ones that the kernel dropped
        // meanwhile (a VIP changed under them, keepalived issue 1719) are put back here.
        self.retry_all();
        let current: BTreeSet<InstanceId> = self.router.instance_ids().into_iter().collect();
        let kept_vmacs: BTreeSet<String> = self
            .io
            .iter()
            .filter(|(id, _)| current.contains(id))
            .flat_map(|(_, io)| io.vmacs.iter().map(|v| v.name.clone()))
            .collect();
        for gone in old_ids.difference(&current) {
            if let Some(io) = self.io.remove(gone) {
                io.executor.barrier().await;
                for mut vmac in io.vmacs {
                    if kept_vmacs.contains(&vmac.name) {
                        continue;
                    }
                    self.devices.forget();
                    match self.vmacs.remove(&mut vmac).await {
                        Ok(()) => tracing::info!("({}) VMAC {} removed", io.name, vmac.name),
                        Err(e) => tracing::warn!("({}) cannot remove VMAC {}: {e}", io.name, vmac.name),
                    }
                }
            }
        }
        // Statics: add the new ones, remove those no longer configured.
        let gone_addrs: Arc<[Vip]> =
            old_config.static_addresses.iter().filter(|a| !self.config.static_addresses.contains(a)).map(Vip::from).collect();
        let gone_routes: Vec<RouteEntry> =
            old_config.static_routes.iter().filter(|r| !self.config.static_routes.contains(r)).cloned().collect();
        let gone_rules: Vec<RuleEntry> =
            old_config.static_rules.iter().filter(|r| !self.config.static_rules.contains(r)).cloned().collect();
        self.statics.submit(NetOp::RemoveAddresses(gone_addrs));
        self.statics.submit(NetOp::RemoveRoutes(gone_routes.into()));
        self.statics.submit(NetOp::RemoveRules(gone_rules.into()));
        self.install_statics();
        init_track_files(&self.config, true);
        if let Some(t) = self.trackers.as_mut() {
            t.reconfigure(&self.config, &self.vetted);
        }
        self.report_interfaces().await;
        self.refresh_sources(SourceScope::All).await;
        if self.config.global.fifo_write_vrrp_states_on_reload {
            self.write_states_to_fifo();
        }
        // As at start-up: the new instances run, their parsed blocks can go.
        self.config.instances = Vec::new();
        tracing::info!("Reload finished");
    }

    /// Every sync group's and instance's current state, to the FIFOs only.
    fn write_states_to_fifo(&self) {
        for (name, state) in self.router.group_states() {
            if let Some(n) = self.group_notifiers.get(&name) {
                n.fifo_state(to_core_notify(state), 0);
            }
        }
        for (id, io) in &self.io {
            let Some(status) = self.router.status(*id) else { continue };
            let state = match status.state {
                StateName::Master => queue::NotifyState::Master,
                StateName::Backup => queue::NotifyState::Backup,
                StateName::Fault => queue::NotifyState::Fault,
                StateName::Init | StateName::Stopped => continue,
            };
            if let Some(n) = &io.notifier {
                n.fifo_state(state, status.effective_priority);
            }
        }
    }

    fn dump_paths(&self) -> DumpPaths {
        DumpPaths::new(&self.config.global, &dump::tmp_dir(), self.opts.namespace.as_deref(), None)
    }

    fn refresh_facts(&mut self) {
        self.facts.clock = ClockPair { mono: self.now(), wall: std::time::SystemTime::now() };
    }

    fn write_dump(&self, path: &std::path::Path, contents: &str) {
        match dump::write_atomically(path, contents, self.facts.umask) {
            Ok(()) => tracing::info!("Printing VRRP data for process({}) on signal to {}", std::process::id(), path.display()),
            Err(e) => tracing::error!("cannot write {}: {e}", path.display()),
        }
    }

    fn dump_data(&mut self) {
        self.refresh_facts();
        let text = dump::data_file(&self.config, &self.router, &self.facts);
        self.write_dump(&self.dump_paths().data, &text);
    }

    fn dump_stats(&mut self, clear: bool) {
        let text = dump::stats_file(&self.router);
        self.write_dump(&self.dump_paths().stats, &text);
        if clear {
            self.router.clear_stats();
        }
    }

    fn dump_json(&mut self) {
        if self.io.is_empty() {
            return;
        }
        self.refresh_facts();
        let text = dump::json(&self.config, &self.router, &self.facts, self.config.global.json_version);
        self.write_dump(&self.dump_paths().json, &text);
    }

    /// TERM/INT: priority-0 adverts from masters, then every address, route, rule and
    /// VMAC kad added is removed, notify_stop runs, and STOP mails get a bounded wait.
    async fn shut_down(mut self) {
        tracing::info!("Stopping");
        let dont_release = self.opts.dont_release_vrrp;
        let now = self.now();
        let actions = self.router.handle(now, Event::Shutdown);
        let actions: Vec<Action> = if dont_release {
            actions
                .into_iter()
                .filter(|a| matches!(a, Action::SendAdvert { .. } | Action::Notify { .. } | Action::Mail { .. } | Action::Log { .. } | Action::StateChanged { .. }))
                .collect()
        } else {
            actions
        };
        // The priority-0 adverts let the backups take over after their skew time: they
        // go before the address removals, which take long with many VIPs.
        let (adverts, rest): (Vec<Action>, Vec<Action>) =
            actions.into_iter().partition(|a| matches!(a, Action::SendAdvert { .. }));
        self.execute(adverts).await;
        self.execute(rest).await;
        let c = &self.config;
        if !dont_release {
            self.statics.submit(NetOp::RemoveRules(c.static_rules.as_slice().into()));
            self.statics.submit(NetOp::RemoveRoutes(c.static_routes.as_slice().into()));
            self.statics.submit(NetOp::RemoveAddresses(c.static_addresses.iter().map(Vip::from).collect()));
        }
        let barriers = self.io.values().map(|io| io.executor.barrier()).collect::<Vec<_>>();
        let _ = tokio::time::timeout(Duration::from_secs(2), futures::future::join_all(barriers)).await;
        let _ = tokio::time::timeout(Duration::from_secs(2), self.statics.barrier()).await;
        if !dont_release {
            for io in self.io.values_mut() {
                remove_vmacs(&mut self.vmacs, io).await;
            }
            for e in self.vmacs.restore_all() {
                tracing::warn!("restoring VMACs and sysctls: {e}");
            }
        }
        if let Some(t) = self.trackers.take() {
            t.stop().await;
        }
        let mut notifiers: Vec<Notifier> = self.io.into_values().filter_map(|io| io.notifier).collect();
        notifiers.extend(self.group_notifiers.into_values());
        let deadline = Instant::now() + STOP_NOTIFY_WAIT;
        let (_, _) = tokio::join!(queue::shutdown_all(notifiers, STOP_NOTIFY_WAIT), self.mailer.shutdown(deadline));
        self.fifos.close(FIFO_CLOSE_GRACE).await;
        tracing::info!("Stopped");
    }
}

/// Each track_file's `init_file`, as keepalived applies it whenever it reads the
/// configuration.
fn init_track_files(config: &Config, reloading: bool) {
    for def in &config.track_files {
        if let Some(problem) = super::track::file::init_track_file(def, &config.global, reloading, false) {
            tracing::warn!("{}", problem.render());
        }
    }
}

async fn remove_vmacs(vmacs: &mut Vmacs, io: &mut InstanceIo) {
    for mut v in io.vmacs.drain(..) {
        if let Err(e) = vmacs.remove(&mut v).await {
            tracing::warn!("({}) cannot remove VMAC {}: {e}", io.name, v.name);
        }
    }
}

/// Names for the per-VIP VMACs of one instance: `<prefix>.<vrid>`, then `<prefix>1.<vrid>`,
/// `<prefix>2.<vrid>`… as keepalived numbers clashing VMAC names, skipping names taken by
/// the instance's own VMAC.
/// Which instances [`Daemon::refresh_sources`] looks at.
#[derive(Debug, Clone, Copy)]
enum SourceScope {
    All,
    /// Those without a source or a socket: an added address can only help them, as a new
    /// IPv4 address never goes before an interface's existing primary one.
    Incomplete,
    /// Those sending from this address, which just went away.
    Using(IpAddr),
}

/// An instance's advert source, as keepalived picks it, from listings of links and
/// addresses.
fn source_for(params: &InstanceParams, links: &[Link], addresses: &[crate::net::netlink::AddressInfo]) -> Option<IpAddr> {
    if let Some(src) = params.configured_src {
        return Some(src);
    }
    let index_of = |name: &Arc<str>| links.iter().find(|l| *l.name == **name).map(|l| l.index);
    match params.family {
        Family::Inet => {
            let index = index_of(params.interface.as_ref()?)?;
            socket::primary_ipv4(addresses, index).ok().map(IpAddr::V4)
        }
        Family::Inet6 => {
            // The interface's own link-local, also for a VMAC: the VMAC carries a copy of
            // it (see `vmac_link_local`), and a VMAC reused from an older run may still hold
            // a link-local derived from its shared MAC.
            let index = index_of(params.interface.as_ref().or(params.rx_interface.as_ref())?)?;
            socket::usable_link_local(addresses, index).ok().map(IpAddr::V6)
        }
    }
}

fn per_vip_vmac_names(prefix: Option<&str>, vrid: u8, devs: &BTreeSet<String>, taken: &[String]) -> BTreeMap<String, String> {
    let base = prefix.unwrap_or("vrrp");
    let mut names = BTreeMap::new();
    let mut n = 0u32;
    for dev in devs {
        loop {
            let candidate = if n == 0 { format!("{base}.{vrid}") } else { format!("{base}{n}.{vrid}") };
            n += 1;
            if !taken.contains(&candidate) && candidate.len() <= 15 {
                names.insert(dev.clone(), candidate);
                break;
            }
            if n > 99 {
                break;
            }
        }
    }
    names
}

/// Devices of VIPs that get their own VMAC: per-VIP `use_vmac`, or every VIP on another
/// device with `use_vmac_addr`.
fn link_local_entry(ll: Ipv6Addr, dev: &str) -> AddressEntry {
    AddressEntry {
        dev: Some(dev.into()),
        scope: 253,
        no_track: true,
        ..AddressEntry::new(crate::config::model::Prefix { addr: IpAddr::V6(ll), len: 64 })
    }
}

struct Signals {
    term: Signal,
    int: Signal,
    hup: Signal,
    usr1: Signal,
    usr2: Signal,
    stats_clear: Signal,
    json: Signal,
}

impl Signals {
    fn new() -> std::io::Result<Signals> {
        Ok(Signals {
            term: signal(SignalKind::terminate())?,
            int: signal(SignalKind::interrupt())?,
            hup: signal(SignalKind::hangup())?,
            usr1: signal(SignalKind::user_defined1())?,
            usr2: signal(SignalKind::user_defined2())?,
            stats_clear: signal(SignalKind::from_raw(libc::SIGRTMAX() - 1))?,
            json: signal(SignalKind::from_raw(libc::SIGRTMIN() + 2))?,
        })
    }
}

/// Whether a deleted kernel rule is one of ours: the fields keepalived's rules are
/// identified by.
fn rule_matches(info: &crate::net::netlink::RuleInfo, rule: &RuleEntry) -> bool {
    info.family == rule.family
        && info.priority == rule.priority
        && info.from == rule.from
        && info.to == rule.to
        && info.action == Some(rule.action)
}
