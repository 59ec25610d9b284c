//! What the protocol core needs to know about each instance and sync group, derived
//! once from the typed config.
//!
//! `InstanceParams::from_config` takes the whole `Config` rather than only the global
//! defaults: tracker weights come from `vrrp_script` / `track_file` definitions, and
//! whether weights count at all depends on the sync group (keepalived's
//! `vrrp_complete_instance` and `sync_group_tracking_init` rules, reproduced here).

use super::vip::Vip;
use crate::config::model::{
    Auth, Config, Family, GlobalDefs, InitialState, RouteEntry, RouteKey, RuleEntry, SyncGroup,
    TrackFileDef, UnicastPeer, VrrpInstance, VrrpScript,
};
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::net::IpAddr;
use std::sync::{Arc, LazyLock};
use std::time::Duration;

/// Even an empty `Arc<[T]>` is an allocation; most of a thousand instances have no
/// excluded VIPs, routes or rules, and share these.
static NO_VIPS: LazyLock<Arc<[Vip]>> = LazyLock::new(|| Arc::from(Vec::new()));
static NO_ROUTES: LazyLock<Arc<[RouteEntry]>> = LazyLock::new(|| Arc::from(Vec::new()));
static NO_RULES: LazyLock<Arc<[RuleEntry]>> = LazyLock::new(|| Arc::from(Vec::new()));

fn shared_list<T>(items: Vec<T>, empty: &LazyLock<Arc<[T]>>) -> Arc<[T]> {
    if items.is_empty() {
        Arc::clone(empty)
    } else {
        Arc::from(items)
    }
}

use super::time::Centis;

/// The priority of the address owner: never changed by trackers.
pub const PRIO_OWNER: u8 = 255;

/// v2 authentication as compared against received adverts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthSpec {
    None,
    /// PASS: the password zero-padded to the 8 bytes carried on the wire.
    Pass([u8; 8]),
    /// IPSEC-AH: the ICV is verified below the core; the core only checks the type.
    Ah,
}

impl AuthSpec {
    fn from_model(auth: Option<&Auth>) -> AuthSpec {
        match auth {
            None => AuthSpec::None,
            Some(Auth::Pass(pw)) => {
                let mut padded = [0u8; 8];
                for (dst, src) in padded.iter_mut().zip(pw.iter()) {
                    *dst = *src;
                }
                AuthSpec::Pass(padded)
            }
            Some(Auth::Ah(_)) => AuthSpec::Ah,
        }
    }
}

/// Something whose state moves an instance's priority or puts it in FAULT.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
pub enum TrackedObject {
    Interface(String),
    Script(String),
    File(String),
}

/// One tracker of one instance, weights already resolved (a weight of 0 means that a
/// failure puts the instance in FAULT).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrackerSpec {
    pub object: TrackedObject,
    pub weight: i32,
    pub reverse: bool,
}

/// The GARP/NA schedule of a MASTER (global values already inherited).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct GarpParams {
    pub master_delay: Duration,
    pub master_repeat: u32,
    pub master_refresh: Duration,
    pub master_refresh_repeat: u32,
    pub lower_prio_delay: Duration,
    pub lower_prio_repeat: u32,
    /// `garp_extra_if`: while MASTER, one GARP/NA per interface (other than the advert
    /// interface) that carries addresses, starting `master_delay` + interval after
    /// becoming MASTER.
    #[serde(default)]
    pub extra_interfaces: Option<ExtraInterfaceGarp>,
}

/// The periodic `garp_extra_if` announcement: switches only learn a VMAC's MAC from
/// frames it sends, and adverts leave from the advert interface only.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExtraInterfaceGarp {
    pub interval: Duration,
    /// The first address of each such interface, in configuration order (VIPs, then
    /// excluded VIPs): one GARP refreshes the interface's MAC everywhere.
    pub addresses: Vec<Vip>,
}

/// How an instance reports state changes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct NotifyParams {
    /// `smtp_alert` resolved through the globals, and a relay and recipient exist.
    pub smtp_alert: bool,
    pub priority_changes: bool,
    /// Without `notify_deleted`, a deleted instance is reported as FAULT (keepalived's
    /// legacy behaviour).
    pub deleted: bool,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct InstanceParams {
    /// Shared with the daemon's per-instance records: one copy of each name.
    pub name: Arc<str>,
    pub vrid: u8,
    pub version: u8,
    pub family: Family,
    /// The configured interface (part of the reload match key).
    pub interface: Option<Arc<str>>,
    /// Where this instance's adverts arrive: the VMAC unless `vmac_xmit_base`.
    pub rx_interface: Option<Arc<str>>,
    pub base_priority: u8,
    pub advert_interval: Centis,
    pub initial_state: InitialState,
    pub nopreempt: bool,
    /// `timer_expired_backup`: the highest priority another router may have. A MASTER
    /// that was not scheduled for long enough that such a router took over goes BACKUP
    /// (only with `nopreempt`, which would otherwise keep two masters fighting).
    #[serde(default)]
    pub timer_expired_backup: Option<u8>,
    pub preempt_delay: Duration,
    pub accept: bool,
    pub auth: AuthSpec,
    pub vips: Arc<[Vip]>,
    pub excluded_vips: Arc<[Vip]>,
    pub virtual_routes: Arc<[RouteEntry]>,
    pub virtual_rules: Arc<[RuleEntry]>,
    pub backup_routes: Arc<[RouteEntry]>,
    pub backup_rules: Arc<[RuleEntry]>,
    pub unicast_peers: Vec<UnicastPeer>,
    /// `unicast_src_ip` or `mcast_src_ip`: known without asking the interface.
    pub configured_src: Option<IpAddr>,
    pub mcast_group: IpAddr,
    pub unicast_fault_no_peer: bool,
    /// Nearly always the global defaults: instances with equal settings share one copy.
    pub garp: Arc<GarpParams>,
    pub down_timer_adverts: u32,
    pub lower_prio_no_advert: bool,
    pub higher_prio_send_advert: bool,
    pub owner_ignore_adverts: bool,
    pub skip_check_adv_addr: bool,
    pub check_unicast_src: bool,
    /// Informative only: the codec applies it.
    pub v3_checksum_as_v2: bool,
    pub vmac: bool,
    pub trackers: Vec<TrackerSpec>,
    pub sync_group: Option<Arc<str>>,
    pub notify: NotifyParams,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, thiserror::Error)]
pub enum ParamsError {
    #[error("({instance}) tracked script {script} is not defined")]
    UnknownScript { instance: String, script: String },
    #[error("({instance}) tracked file {file} is not defined")]
    UnknownTrackFile { instance: String, file: String },
    #[error("({instance}) version {version} is not a VRRP version")]
    BadVersion { instance: String, version: u8 },
    #[error("({instance}) priority 0 is reserved for a master that is leaving")]
    ZeroPriority { instance: String },
    #[error("({instance}) advert interval must be at least 10 ms")]
    ZeroInterval { instance: String },
    #[error("sync group {group} names instance {instance}, which does not exist")]
    UnknownMember { group: String, instance: String },
}

impl InstanceParams {
    pub fn is_unicast(&self) -> bool {
        !self.unicast_peers.is_empty()
    }

    pub fn is_owner(&self) -> bool {
        self.base_priority == PRIO_OWNER
    }

    /// Whether this instance wants MASTER straight away (startup, leaving FAULT):
    /// only the address owner configured `state MASTER` does.
    pub fn starts_as_master(&self) -> bool {
        self.is_owner() && self.initial_state == InitialState::Master
    }

    /// Routes/rules are identified by their kernel key: a virtual route replaces a backup
    /// route with the same key (and vice versa), so only the others need removing.
    pub fn backup_routes_not_replaced(&self) -> Vec<RouteEntry> {
        routes_not_keyed_by(&self.backup_routes, &self.virtual_routes)
    }

    pub fn virtual_routes_not_replaced(&self) -> Vec<RouteEntry> {
        routes_not_keyed_by(&self.virtual_routes, &self.backup_routes)
    }

    /// keepalived's `vrrp_exist`: how a reload recognises the same instance (the name
    /// is not part of it).
    pub fn reload_key(&self) -> ReloadKey {
        let unicast = self.is_unicast();
        ReloadKey {
            vrid: self.vrid,
            family: self.family,
            interface: self.interface.clone(),
            unicast,
            unicast_src: if unicast { self.configured_src } else { None },
            vmac: self.vmac,
            mcast_group: if unicast {
                None
            } else {
                Some(self.mcast_group)
            },
        }
    }

    pub fn from_config(
        inst: &VrrpInstance,
        config: &Config,
    ) -> Result<InstanceParams, ParamsError> {
        InstanceParams::build(inst, config, &mut SharedParts::default())
    }

    fn build(
        inst: &VrrpInstance,
        config: &Config,
        shared: &mut SharedParts,
    ) -> Result<InstanceParams, ParamsError> {
        let global = &config.global;
        if inst.version != 2 && inst.version != 3 {
            return Err(ParamsError::BadVersion {
                instance: inst.name.clone(),
                version: inst.version,
            });
        }
        if inst.priority == 0 {
            return Err(ParamsError::ZeroPriority {
                instance: inst.name.clone(),
            });
        }
        let advert_interval = Centis::from_duration(inst.advert_int);
        if advert_interval.get() == 0 {
            return Err(ParamsError::ZeroInterval {
                instance: inst.name.clone(),
            });
        }
        let group = inst
            .sync_group
            .as_ref()
            .and_then(|g| config.sync_groups.iter().find(|sg| &sg.name == g));
        let rx_interface = match &inst.use_vmac {
            Some(vmac) if !vmac.xmit_base => Some(vmac.ifname.clone()),
            _ => inst.interface.clone(),
        };
        let configured_src = inst.unicast_src_ip.or(inst.mcast_src_ip);
        let mcast_group = inst.mcast_dst_ip.unwrap_or(match inst.family {
            Family::Inet => global.vrrp_mcast_group4,
            Family::Inet6 => global.vrrp_mcast_group6,
        });
        let check_unicast_src = inst.check_unicast_src
            || global.vrrp_check_unicast_src
            || inst
                .unicast_peers
                .iter()
                .any(|p| p.min_ttl.is_some() || p.max_ttl.is_some());
        let trackers = resolve_trackers(inst, group, &rx_interface, config)?;
        let notify = NotifyParams {
            smtp_alert: resolve_smtp_alert(inst.smtp_alert, global),
            priority_changes: inst
                .notify_priority_changes
                .or(group.and_then(|g| g.notify_priority_changes))
                .unwrap_or(global.vrrp_notify_priority_changes),
            deleted: inst.notify.deleted_configured || inst.notify.deleted.is_some(),
        };
        let vips = shared_list(inst.vips.iter().map(Vip::from).collect(), &NO_VIPS);
        let excluded_vips = shared_list(inst.excluded_vips.iter().map(Vip::from).collect(), &NO_VIPS);
        let extra_interfaces = extra_interface_garp(inst, &vips, &excluded_vips);
        Ok(InstanceParams {
            name: Arc::from(inst.name.as_str()),
            vrid: inst.vrid,
            version: inst.version,
            family: inst.family,
            interface: inst.interface.as_deref().map(|i| shared.name(i)),
            rx_interface: rx_interface.as_deref().map(|i| shared.name(i)),
            base_priority: inst.priority,
            advert_interval,
            initial_state: inst.initial_state,
            nopreempt: inst.nopreempt,
            timer_expired_backup: inst.timer_expired_backup.filter(|_| inst.nopreempt),
            preempt_delay: inst.preempt_delay,
            accept: inst.accept,
            auth: if inst.version == 2 {
                AuthSpec::from_model(inst.auth.as_ref())
            } else {
                AuthSpec::None
            },
            vips,
            excluded_vips,
            virtual_routes: shared_list(inst.virtual_routes.clone(), &NO_ROUTES),
            virtual_rules: shared_list(inst.virtual_rules.clone(), &NO_RULES),
            backup_routes: shared_list(inst.backup_routes.clone(), &NO_ROUTES),
            backup_rules: shared_list(inst.backup_rules.clone(), &NO_RULES),
            unicast_peers: inst.unicast_peers.clone(),
            configured_src,
            mcast_group,
            unicast_fault_no_peer: inst.unicast_fault_no_peer,
            garp: shared.garp(GarpParams {
                master_delay: inst.garp.master_delay,
                master_repeat: inst.garp.master_repeat,
                master_refresh: inst.garp.master_refresh,
                master_refresh_repeat: inst.garp.master_refresh_repeat,
                lower_prio_delay: inst.garp.lower_prio_delay,
                lower_prio_repeat: inst.garp.lower_prio_repeat,
                extra_interfaces,
            }),
            down_timer_adverts: inst.down_timer_adverts.max(1),
            lower_prio_no_advert: inst.lower_prio_no_advert,
            higher_prio_send_advert: inst.higher_prio_send_advert,
            owner_ignore_adverts: inst.owner_ignore_adverts,
            skip_check_adv_addr: inst.skip_check_adv_addr,
            check_unicast_src,
            v3_checksum_as_v2: inst.v3_checksum_as_v2,
            vmac: inst.use_vmac.is_some(),
            trackers,
            sync_group: group.map(|g| shared.name(&g.name)),
            notify,
        })
    }
}

/// Parts that many instances have in common, built once: a thousand instances on one
/// interface then hold one copy of its name and of the global GARP settings. (Instance
/// names are unique: each is one allocation, shared with the daemon's records.)
#[derive(Default)]
struct SharedParts {
    names: BTreeSet<Arc<str>>,
    garps: Vec<Arc<GarpParams>>,
}

/// One allocation per name, however many holders share it.
pub fn shared_name(names: &mut BTreeSet<Arc<str>>, name: &str) -> Arc<str> {
    if let Some(known) = names.get(name) {
        return Arc::clone(known);
    }
    let made: Arc<str> = Arc::from(name);
    names.insert(Arc::clone(&made));
    made
}

impl SharedParts {
    fn name(&mut self, name: &str) -> Arc<str> {
        shared_name(&mut self.names, name)
    }

    fn garp(&mut self, garp: GarpParams) -> Arc<GarpParams> {
        if let Some(known) = self.garps.iter().find(|known| ***known == garp) {
            return Arc::clone(known);
        }
        let made = Arc::new(garp);
        self.garps.push(Arc::clone(&made));
        made
    }
}

/// The devices whose VIPs live on a per-VIP VMAC (`use_vmac` on the address, or
/// `use_vmac_addr` for addresses on other devices). Every address on such a device
/// goes on its VMAC, which is how the daemon places them.
pub fn vip_vmac_devices<'a>(
    inst: &VrrpInstance,
    addresses: impl IntoIterator<Item = &'a Vip>,
) -> BTreeSet<String> {
    addresses
        .into_iter()
        .filter(|a| {
            a.use_vmac() || (inst.use_vmac_addr && a.dev.is_some() && a.dev.as_deref() != inst.interface.as_deref())
        })
        .filter_map(|a| a.dev.as_deref().map(str::to_string))
        .collect()
}

/// keepalived's `vrrp_send_vmac_update` selection: interfaces that are VMACs (any
/// interface with `all`), except the one adverts leave from, which the adverts keep
/// fresh — unless `vmac_xmit_base` sends them from the parent instead.
fn extra_interface_garp(inst: &VrrpInstance, vips: &[Vip], excluded_vips: &[Vip]) -> Option<ExtraInterfaceGarp> {
    let extra = inst
        .garp
        .extra_if
        .as_ref()
        .filter(|x| !x.interval.is_zero())?;
    let instance_vmac = inst.use_vmac.as_ref();
    let default_dev = instance_vmac
        .map(|v| v.ifname.clone())
        .or_else(|| inst.interface.clone());
    let advert_dev = default_dev.clone();
    let xmit_base = instance_vmac.is_some_and(|v| v.xmit_base);
    let vip_vmacs = vip_vmac_devices(inst, vips.iter().chain(excluded_vips));
    // (device name, whether it is a per-VIP VMAC on that device)
    let mut seen: Vec<(String, bool)> = Vec::new();
    let mut addresses = Vec::new();
    for a in vips.iter().chain(excluded_vips) {
        let Some(dev) = a.dev.as_deref().map(str::to_string).or_else(|| default_dev.clone()) else {
            continue;
        };
        let per_vip_vmac = vip_vmacs.contains(&dev);
        let is_vmac = per_vip_vmac || instance_vmac.is_some_and(|v| v.ifname == dev);
        if !is_vmac && !extra.all {
            continue;
        }
        if !per_vip_vmac && advert_dev.as_ref() == Some(&dev) && !xmit_base {
            continue;
        }
        let key = (dev, per_vip_vmac);
        if !seen.contains(&key) {
            seen.push(key);
            addresses.push(a.clone());
        }
    }
    (!addresses.is_empty()).then_some(ExtraInterfaceGarp {
        interval: extra.interval,
        addresses,
    })
}

/// The routes whose kernel key none of `others` has: installing `others` does not
/// replace them.
pub(super) fn routes_not_keyed_by(routes: &[RouteEntry], others: &[RouteEntry]) -> Vec<RouteEntry> {
    let keys: Vec<RouteKey> = others.iter().map(RouteEntry::key).collect();
    routes
        .iter()
        .filter(|r| !keys.contains(&r.key()))
        .cloned()
        .collect()
}

fn resolve_smtp_alert(own: Option<bool>, global: &GlobalDefs) -> bool {
    let wanted = own
        .or(global.smtp_alert_vrrp)
        .or(global.smtp_alert)
        .unwrap_or(false);
    wanted && global.smtp_server.is_some() && !global.notification_email.is_empty()
}

/// keepalived ignores weights of an address owner's trackers (it cannot change
/// priority), and of sync-group members unless `sync_group_tracking_weight`: there an
/// interface weight becomes 0 (FAULT on failure), a weighted script is dropped, a
/// track_file with the default weight becomes 0 and an explicitly weighted one is dropped.
fn resolve_trackers(
    inst: &VrrpInstance,
    group: Option<&SyncGroup>,
    rx_interface: &Option<String>,
    config: &Config,
) -> Result<Vec<TrackerSpec>, ParamsError> {
    let owner = inst.priority == PRIO_OWNER;
    let sync_no_weight = group.is_some_and(|g| !g.sync_group_tracking_weight);
    let weights_ignored = owner || sync_no_weight;
    let mut trackers = Vec::new();

    if !inst.dont_track_primary {
        for ifname in [&inst.interface, rx_interface].into_iter().flatten() {
            push_unique(
                &mut trackers,
                TrackerSpec {
                    object: TrackedObject::Interface(ifname.clone()),
                    weight: 0,
                    reverse: false,
                },
            );
        }
    }
    for ti in &inst.track_interfaces {
        let weight = match (ti.weight, weights_ignored) {
            (0, _) | (_, false) => ti.weight,
            (_, true) if sync_no_weight => 0,
            _ => continue,
        };
        push_unique(
            &mut trackers,
            TrackerSpec {
                object: TrackedObject::Interface(ti.name.clone()),
                weight,
                reverse: ti.reverse,
            },
        );
    }
    for tr in &inst.track_scripts {
        let script = script_def(config, inst, &tr.name)?;
        let weight = tr.weight.unwrap_or(script.weight);
        if weight != 0 && weights_ignored {
            continue;
        }
        push_unique(
            &mut trackers,
            TrackerSpec {
                object: TrackedObject::Script(tr.name.clone()),
                weight,
                reverse: tr.reverse.unwrap_or(script.weight_reverse),
            },
        );
    }
    for tr in &inst.track_files {
        let file = track_file_def(config, inst, &tr.name)?;
        let mut weight = tr.weight.unwrap_or(file.weight);
        if weights_ignored && weight != 0 {
            if tr.weight.is_none() && weight == 1 {
                weight = 0;
            } else {
                continue;
            }
        }
        push_unique(
            &mut trackers,
            TrackerSpec {
                object: TrackedObject::File(tr.name.clone()),
                weight,
                reverse: tr.reverse.unwrap_or(file.weight_reverse),
            },
        );
    }

    if let Some(group) = group {
        let group_has_owner = group.members.iter().any(|m| {
            config
                .instances
                .iter()
                .any(|i| &i.name == m && i.priority == PRIO_OWNER)
        });
        let weight_of = |w: i32| if group_has_owner { 0 } else { w };
        for ti in &group.track_interfaces {
            push_unique(
                &mut trackers,
                TrackerSpec {
                    object: TrackedObject::Interface(ti.name.clone()),
                    weight: weight_of(ti.weight),
                    reverse: ti.reverse,
                },
            );
        }
        for tr in &group.track_scripts {
            let script = script_def(config, inst, &tr.name)?;
            push_unique(
                &mut trackers,
                TrackerSpec {
                    object: TrackedObject::Script(tr.name.clone()),
                    weight: weight_of(tr.weight.unwrap_or(script.weight)),
                    reverse: tr.reverse.unwrap_or(script.weight_reverse),
                },
            );
        }
        for tr in &group.track_files {
            let file = track_file_def(config, inst, &tr.name)?;
            push_unique(
                &mut trackers,
                TrackerSpec {
                    object: TrackedObject::File(tr.name.clone()),
                    weight: weight_of(tr.weight.unwrap_or(file.weight)),
                    reverse: tr.reverse.unwrap_or(file.weight_reverse),
                },
            );
        }
    }
    // Kept for the instance's life: no growth slack.
    trackers.shrink_to_fit();
    Ok(trackers)
}

/// The definition a tracker names, whether the instance or its sync group tracks it: an
/// undefined one is reported against the instance.
fn script_def<'c>(
    config: &'c Config,
    inst: &VrrpInstance,
    name: &str,
) -> Result<&'c VrrpScript, ParamsError> {
    config
        .scripts
        .iter()
        .find(|s| s.name == name)
        .ok_or_else(|| ParamsError::UnknownScript {
            instance: inst.name.clone(),
            script: name.to_string(),
        })
}

fn track_file_def<'c>(
    config: &'c Config,
    inst: &VrrpInstance,
    name: &str,
) -> Result<&'c TrackFileDef, ParamsError> {
    config
        .track_files
        .iter()
        .find(|f| f.name == name)
        .ok_or_else(|| ParamsError::UnknownTrackFile {
            instance: inst.name.clone(),
            file: name.to_string(),
        })
}

/// A tracker listed twice (instance and group, or primary and track_interface) counts
/// once, as in keepalived where the second registration replaces the first.
fn push_unique(trackers: &mut Vec<TrackerSpec>, spec: TrackerSpec) {
    if let Some(existing) = trackers.iter_mut().find(|t| t.object == spec.object) {
        *existing = spec;
    } else {
        trackers.push(spec);
    }
}

/// The reload match key (see `InstanceParams::reload_key`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReloadKey {
    pub vrid: u8,
    pub family: Family,
    pub interface: Option<Arc<str>>,
    pub unicast: bool,
    pub unicast_src: Option<IpAddr>,
    pub vmac: bool,
    pub mcast_group: Option<IpAddr>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SyncGroupParams {
    pub name: String,
    /// Instance names, in configuration order.
    pub members: Vec<String>,
    pub smtp_alert: bool,
}

/// Router-wide behaviour choices.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct RouterOptions {
    /// keepalived's behaviour when a tracked VIP, route or rule of a MASTER is deleted
    /// behind its back: give up mastership. Off by default: kad puts it back instead.
    pub backup_on_owned_deletion: bool,
    /// `no_email_faults`: FAULT transitions send no mail.
    pub no_email_faults: bool,
}

/// The starting status of a tracked object before the daemon reports anything.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InitialTracker {
    pub object: TrackedObject,
    pub status: super::event::TrackerStatus,
}

/// Everything the engine is built from; also the payload of a reload.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, Default)]
pub struct RouterConfig {
    pub instances: Vec<InstanceParams>,
    pub groups: Vec<SyncGroupParams>,
    pub initial_trackers: Vec<InitialTracker>,
    pub options: RouterOptions,
    /// Advert source addresses already known, by instance name: an instance that a
    /// reload adds starts with its source, as at boot, instead of passing through FAULT
    /// until the daemon reports it.
    #[serde(default)]
    pub sources: BTreeMap<String, IpAddr>,
}

impl RouterConfig {
    pub fn from_config(
        config: &Config,
        options: RouterOptions,
    ) -> Result<RouterConfig, ParamsError> {
        use super::event::TrackerStatus;
        let mut shared = SharedParts::default();
        let instances = config
            .instances
            .iter()
            .map(|i| InstanceParams::build(i, config, &mut shared))
            .collect::<Result<Vec<_>, _>>()?;
        let mut groups = Vec::new();
        for g in &config.sync_groups {
            if let Some(missing) = g
                .members
                .iter()
                .find(|m| !instances.iter().any(|i| *i.name == **m))
            {
                return Err(ParamsError::UnknownMember {
                    group: g.name.clone(),
                    instance: missing.clone(),
                });
            }
            groups.push(SyncGroupParams {
                name: g.name.clone(),
                members: g.members.clone(),
                smtp_alert: resolve_smtp_alert(g.smtp_alert, &config.global),
            });
        }
        let mut initial_trackers: Vec<InitialTracker> = config
            .scripts
            .iter()
            .map(|s| InitialTracker {
                object: TrackedObject::Script(s.name.clone()),
                status: if s.init_fail {
                    TrackerStatus::ScriptFailed
                } else {
                    TrackerStatus::ScriptInit
                },
            })
            .collect();
        initial_trackers.extend(config.track_files.iter().map(|f| InitialTracker {
            object: TrackedObject::File(f.name.clone()),
            status: TrackerStatus::FileValue(f.init_file.map(|(v, _)| v).unwrap_or(0)),
        }));
        Ok(RouterConfig {
            instances,
            groups,
            initial_trackers,
            sources: BTreeMap::new(),
            options: RouterOptions {
                no_email_faults: config.global.no_email_faults,
                ..options
            },
        })
    }
}
