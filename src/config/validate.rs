//! keepalived's post-parse completion and checks (keepalived/vrrp/vrrp.c
//! vrrp_complete_init, chk_min_cfg, vrrp_complete_instance, check_vrid_conflicts,
//! vrrp_sync.c vrrp_sync_set_group): derived defaults, strict mode, sync groups,
//! script security. The result is the Config the daemon runs, or None when keepalived's
//! VRRP process would stop with a configuration error.

use super::diag::{Diagnostic, Diagnostics, ErrClass};
use super::model::*;
use super::parser::{instance::vmac_draft_mac, AuthType, InstanceDraft, RawConfig, SyncGroupDraft};
use super::LoadOptions;
use std::collections::{HashMap, HashSet};
use std::net::IpAddr;
use std::time::Duration;

const PRIO_OWNER: u8 = 255;
const DEFAULT_MTU: u32 = 1500;
const DOWN_TIMER_ADVERTS: u32 = 3;

struct Report<'d> {
    diags: &'d mut Diagnostics,
}

impl Report<'_> {
    fn at(&mut self, class: ErrClass, span: &Span, msg: String) {
        self.diags.push(Diagnostic::new(class, Some(span.clone()), msg));
    }
    fn error(&mut self, span: &Span, msg: String) {
        self.at(ErrClass::GeneralError, span, msg);
    }
    fn note(&mut self, span: &Span, msg: String) {
        self.at(ErrClass::Ok, span, msg);
    }
}

/// Turn what was read into the Config keepalived would run, reporting as keepalived does.
pub(crate) fn complete(raw: RawConfig, opts: &LoadOptions, diags: &mut Diagnostics) -> Option<Config> {
    let mut rep = Report { diags };
    let RawConfig {
        mut global,
        mut instances,
        mut sync_groups,
        scripts,
        track_files,
        mut static_addresses,
        mut static_routes,
        mut static_rules,
        skipped,
        garp_groups,
        track_groups,
        interface_delays,
        linkbeat_interfaces,
        non_existent_interface,
        ..
    } = raw;

    if non_existent_interface {
        let mut d = Diagnostic::new(ErrClass::BadIf, None, "Non-existent interface specified in configuration");
        d.message.push_str(
            " (keepalived's VRRP process stops here; add the interface, or set dynamic_interfaces in global_defs)",
        );
        rep.diags.push(d);
        return None;
    }

    // Global defaults that depend on other globals.
    if global.vrrp_garp_lower_prio_repeat.is_none() {
        global.vrrp_garp_lower_prio_repeat = Some(global.vrrp_garp_master_repeat);
    }
    if global.vrrp_garp_lower_prio_delay.is_none() {
        global.vrrp_garp_lower_prio_delay = Some(global.vrrp_garp_master_delay);
    }
    // A FIFO script without its FIFO is never run, but keepalived still counts it when it
    // decides on the SECURITY VIOLATION.
    let mut orphan_fifo_scripts = Vec::new();
    for fifo in [&mut global.notify_fifo, &mut global.vrrp_notify_fifo] {
        if fifo.as_ref().is_some_and(|f| f.path.is_empty()) {
            if let Some(script) = fifo.take().and_then(|f| f.script) {
                rep.note(&script.span, "a notify_fifo_script without its notify_fifo is not run".into());
                orphan_fifo_scripts.push(script);
            }
        }
    }

    // chk_min_cfg
    for d in &instances {
        if d.inst.vrid == 0 {
            rep.error(&d.inst.span, format!("({}) the virtual router id must be set", d.inst.name));
            return None;
        }
        if d.inst.interface.is_none() && !d.unicast_configured {
            rep.error(&d.inst.span, format!("({}) Unknown interface!", d.inst.name));
            return None;
        }
        if d.inst.interface.is_none() && d.vmac.is_some() {
            rep.error(&d.inst.span, format!("({}) cannot use VMAC if no interface specified", d.inst.name));
            return None;
        }
    }

    // Sync groups (before instance completion, as keepalived does).
    let mut groups: Vec<SyncGroup> = Vec::new();
    for g in sync_groups.iter_mut() {
        if let Some(group) = set_sync_group(g, &mut instances, &mut rep) {
            groups.push(group);
        }
    }

    // VMAC names of the instances completed so far, which a generated name must avoid.
    let mut earlier_vmacs: HashSet<String> = HashSet::new();
    for d in instances.iter_mut() {
        let group = d.inst.sync_group.as_ref().and_then(|n| groups.iter().find(|g| &g.name == n)).cloned();
        if !complete_instance(d, group.as_ref(), &global, &earlier_vmacs, &mut rep) {
            return None;
        }
        if let Some(v) = &d.inst.use_vmac {
            earlier_vmacs.insert(v.ifname.clone());
        }
    }

    if check_vrid_conflicts(&instances, &global, &mut rep) {
        return None;
    }

    sync_group_tracking(&mut groups, &instances, &mut rep);
    fix_sync_group_initial_states(&groups, &mut instances);

    let used_scripts: Vec<&str> = instances
        .iter()
        .flat_map(|d| d.inst.track_scripts.iter().map(|t| t.name.as_str()))
        .chain(groups.iter().flat_map(|g| g.track_scripts.iter().map(|t| t.name.as_str())))
        .collect();
    let mut script_defs = Vec::new();
    for s in scripts {
        if !used_scripts.contains(&s.script.name.as_str()) {
            rep.note(&s.script.span, format!("Warning - script {} is not used", s.script.name));
        }
        script_defs.push(s.script);
    }

    let track_groups = complete_track_groups(track_groups, &instances, &mut rep);
    // keepalived frees a removed group while static entries still point at it (a dangling
    // pointer); what it means to do is track nothing, so the references go too.
    let drop_if_removed = |g: &mut Option<String>| {
        if g.as_ref().is_some_and(|name| !track_groups.iter().any(|t| &t.name == name)) {
            *g = None;
        }
    };
    static_addresses.iter_mut().for_each(|a| drop_if_removed(&mut a.track_group));
    static_routes.iter_mut().for_each(|r| drop_if_removed(&mut r.track_group));
    static_rules.iter_mut().for_each(|r| drop_if_removed(&mut r.track_group));

    let mut config = Config {
        global,
        instances: instances.into_iter().map(|d| d.inst).collect(),
        sync_groups: groups,
        scripts: script_defs,
        track_files,
        static_addresses,
        static_routes,
        static_rules,
        skipped,
        garp_groups,
        track_groups,
        interface_delays,
        linkbeat_interfaces,
    };

    if !config.instances.is_empty() {
        match opts.script_security {
            Some(hook) => {
                for d in hook(&mut config) {
                    rep.diags.push(d);
                }
            }
            None => default_script_security(&config, &orphan_fifo_scripts, &mut rep),
        }
    }
    Some(config)
}

/// keepalived's vrrp_sync_set_group.
fn set_sync_group(g: &mut SyncGroupDraft, instances: &mut [InstanceDraft], rep: &mut Report<'_>) -> Option<SyncGroup> {
    let name = g.group.name.clone();
    let span = g.group.span.clone();
    let Some(members) = g.members.take() else {
        rep.error(&span, format!("Sync group {name} has no virtual router(s). removing"));
        return None;
    };
    let mut group_master: Option<bool> = None;
    for m in members {
        let Some(d) = instances.iter_mut().find(|d| d.inst.name == m) else {
            rep.error(&span, format!("Virtual router {m} specified in sync group {name} doesn't exist - ignoring"));
            continue;
        };
        if d.inst.sync_group.is_some() {
            rep.error(&span, format!("Virtual router {m} cannot exist in more than one sync group; ignoring {name}"));
            continue;
        }
        d.inst.sync_group = Some(name.clone());
        g.group.members.push(m);
        if group_master == Some(true) && d.state == Some(InitialState::Backup) {
            rep.error(
                &span,
                format!(
                    "Sync group {name} has some member(s) as address owner and some not as address owner. This won't work."
                ),
            );
        }
        if group_master != Some(false) {
            group_master = Some(d.state == Some(InitialState::Master) && d.inst.priority == PRIO_OWNER);
        }
    }
    if g.group.members.is_empty() {
        rep.error(&span, format!("Sync group {name}, no matching virtual router found in group declaration - removing"));
        return None;
    }
    if g.group.members.len() == 1 {
        rep.error(&span, format!("Sync group {name} has only 1 virtual router(s) - this probably isn't what you want"));
    }
    Some(g.group.clone())
}

fn is_link_local(addr: &IpAddr) -> bool {
    match addr {
        IpAddr::V6(a) => a.segments()[0] & 0xffc0 == 0xfe80,
        IpAddr::V4(_) => false,
    }
}

/// keepalived's vrrp_complete_instance. False: the VRRP process would stop.
fn complete_instance(
    d: &mut InstanceDraft,
    sync: Option<&SyncGroup>,
    g: &GlobalDefs,
    earlier_vmacs: &HashSet<String>,
    rep: &mut Report<'_>,
) -> bool {
    let name = d.inst.name.clone();
    let span = d.inst.span.clone();
    let strict = d.strict.unwrap_or(g.vrrp_strict);
    d.inst.strict = strict;

    let mut family = d.family;
    let mut version = d.version;
    if family == Some(Family::Inet6) {
        if version == Some(2) && strict {
            rep.error(&span, format!("({name}) cannot use IPv6 with VRRP version 2; setting version 3"));
            version = Some(3);
        } else if version.is_none() {
            version = Some(3);
        }
    }
    let family = *family.get_or_insert(Family::Inet);
    let version = version.unwrap_or(if family == Family::Inet6 { 3 } else { g.vrrp_version });
    d.inst.family = family;
    d.inst.version = version;

    let mut allow_no_vips = d.inst.no_virtual_ipaddress;
    if allow_no_vips && strict {
        rep.at(
            ErrClass::Warning,
            &span,
            format!("({name}) no_virtual_ipaddress and strict mode incompatible, clearing no_virtual_ipaddress"),
        );
        allow_no_vips = false;
        d.inst.no_virtual_ipaddress = false;
    }
    if d.inst.vips.is_empty() && !allow_no_vips {
        if version == 3 || strict {
            rep.error(&span, format!("({name}) No VIP specified; at least one is required"));
            return false;
        }
        rep.error(&span, format!("({name}) No VIP specified; at least one is sensible"));
    }

    if d.inst.priority == 0 {
        d.inst.priority = if d.state == Some(InitialState::Master) { PRIO_OWNER } else { 100 };
    }
    let prio = d.inst.priority;
    let derived_state = if prio == PRIO_OWNER { InitialState::Master } else { InitialState::Backup };
    let mut state = match d.state {
        None => derived_state,
        Some(s) if strict && (s == InitialState::Master) != (prio == PRIO_OWNER) => {
            rep.error(&span, format!("({name}) State MASTER must match being address owner"));
            derived_state
        }
        Some(s) => s,
    };

    // Authentication.
    let mut auth = d.auth_type;
    let pass_empty = d.auth_pass.as_ref().is_none_or(|p| p.is_empty() || p[0] == 0);
    if let Some(t) = auth {
        if strict {
            rep.error(&span, format!("({name}) Strict mode does not support authentication. Ignoring."));
            auth = None;
        } else if version == 3 {
            rep.error(&span, format!("({name}) VRRP version 3 does not support authentication. Ignoring."));
            auth = None;
        } else if pass_empty {
            rep.error(&span, format!("({name}) Authentication specified but no password given. Ignoring"));
            auth = None;
        } else if family == Family::Inet6 && t == AuthType::Ah {
            rep.error(&span, format!("({name}) Cannot use AH authentication with IPv6. ignoring"));
            auth = None;
        } else if t == AuthType::Ah && state == InitialState::Master && prio != PRIO_OWNER {
            rep.error(&span, format!("({name}) Initial state master is incompatible with AH authentication - clearing"));
            state = InitialState::Backup;
        }
    }
    let pass = d.auth_pass.clone().unwrap_or_default();
    d.inst.auth = auth.map(|t| match t {
        AuthType::Pass => Auth::Pass(pass.clone()),
        AuthType::Ah => Auth::Ah(pass.clone()),
    });
    d.inst.initial_state = state;

    let unicast = d.unicast_configured && !d.inst.unicast_peers.is_empty();
    let iface = d.iface.filter(|i| i.exists);
    if strict && unicast && iface.is_some_and(|i| i.multicast) {
        rep.error(&span, format!("({name}) Unicast peers are not supported in strict mode"));
        return false;
    }
    let saddr = d.inst.unicast_src_ip.or(d.inst.mcast_src_ip);
    if d.inst.interface.is_none() {
        let Some(src) = saddr else {
            rep.error(&span, format!("({name}): Unicast instances must have unicast_src_ip or interface"));
            return false;
        };
        if family == Family::Inet6 && is_link_local(&src) {
            rep.error(&span, format!("({name}) Non link-local address required if interface omitted"));
            return false;
        }
    }
    if d.unicast_configured && d.inst.unicast_peers.is_empty() {
        if d.inst.unicast_fault_no_peer {
            let reason = format!("({name}) Cannot use unicast without any peers - going to fault state");
            rep.note(&span, reason.clone());
            d.inst.config_faults.push(reason);
        } else {
            rep.at(
                ErrClass::Deprecated,
                &span,
                format!(
                    "({name}) A unicast keyword has been specified without any unicast peers. Defaulting to multicast. This usage is deprecated - please update your configuration."
                ),
            );
        }
    }

    // VMAC.
    if let Some(v) = d.vmac.as_mut() {
        if strict && v.mac.is_some() {
            rep.error(&span, format!("({name}): cannot specify MAC address with strict mode - clearing"));
            v.mac = None;
        }
        if iface.is_some_and(|i| !i.ethernet) {
            rep.error(&span, format!("({name}): vmacs are only supported on Ethernet type interfaces"));
            d.inst.config_faults.push(format!("({name}): vmacs are only supported on Ethernet type interfaces"));
            d.vmac = None;
        }
    }
    if let Some(i) = iface {
        if !i.multicast && !unicast {
            let ifname = d.inst.interface.clone().unwrap_or_default();
            let reason = format!("({name}) interface {ifname} does not support multicast, specify unicast peers - disabling");
            rep.error(&span, reason.clone());
            d.inst.config_faults.push(reason);
        }
    }
    if family == Family::Inet6 && !unicast {
        if let Some(first) = d.inst.vips.first() {
            if !is_link_local(&first.prefix.addr) {
                if strict {
                    rep.error(&span, format!("({name}) the first IPv6 VIP address must be link local"));
                } else {
                    rep.note(&span, format!("({name}) the first IPv6 VIP address should be link local"));
                }
            }
        }
    }

    // VIPs that fit in one advertisement.
    let mtu = iface.map(|i| i.mtu).unwrap_or(DEFAULT_MTU) as usize;
    let max_addr = if family == Family::Inet {
        let mut hdr = 14 + 20 + 8;
        if version == 2 {
            hdr += 8;
            if matches!(d.inst.auth, Some(Auth::Ah(_))) {
                hdr += 24;
            }
        }
        mtu.saturating_sub(hdr) / 4
    } else {
        mtu.saturating_sub(14 + 40 + 8) / 16
    }
    .min(255);
    if d.inst.vips.len() > max_addr {
        rep.error(
            &span,
            format!(
                "({name}) Number of VIPs ({}) exceeds maximum/space available in packet (max {max_addr} addresses) - excess moved to eVIPs",
                d.inst.vips.len()
            ),
        );
        let excess = d.inst.vips.split_off(max_addr);
        d.inst.excluded_vips.extend(excess);
    }

    if prio == PRIO_OWNER && d.inst.nopreempt {
        rep.error(&span, format!("({name}) nopreempt is incompatible with priority 255. resetting nopreempt"));
        d.inst.nopreempt = false;
    }
    if state == InitialState::Master {
        if d.inst.nopreempt {
            rep.error(&span, format!("({name}) Warning - nopreempt will not work with initial state MASTER - clearing"));
            d.inst.nopreempt = false;
        }
        if !d.inst.preempt_delay.is_zero() {
            rep.error(&span, format!("({name}) Warning - preempt delay will not work with initial state MASTER - clearing"));
            d.inst.preempt_delay = Duration::ZERO;
        }
    }
    if !d.inst.preempt_delay.is_zero() {
        if strict {
            rep.error(&span, format!("({name}) preempt_delay is incompatible with strict mode - resetting"));
            d.inst.preempt_delay = Duration::ZERO;
        }
        if d.inst.nopreempt {
            rep.error(&span, format!("({name}) preempt_delay is incompatible with nopreempt mode - resetting"));
            d.inst.preempt_delay = Duration::ZERO;
        }
    }
    if d.inst.down_timer_adverts != DOWN_TIMER_ADVERTS && strict {
        rep.error(&span, format!("({name}) down_timer_adverts is incompatible with strict mode - resetting"));
        d.inst.down_timer_adverts = DOWN_TIMER_ADVERTS;
    }
    if d.inst.timer_expired_backup.is_some() && !d.inst.nopreempt {
        rep.error(&span, format!("({name}) expired_timer_backup requires nopreempt - resetting"));
        d.inst.timer_expired_backup = None;
    }

    let mut accept = d.accept.unwrap_or(if prio == PRIO_OWNER { true } else { !strict });
    if accept && prio != PRIO_OWNER && strict && version == 2 {
        rep.error(&span, format!("({name}) warning - accept mode for VRRP version 2 does not comply with RFC3768 - resetting"));
        accept = false;
    }
    d.inst.accept = accept;

    if !unicast && d.inst.mcast_dst_ip.is_none() {
        d.inst.mcast_dst_ip = Some(if family == Family::Inet { g.vrrp_mcast_group4 } else { g.vrrp_mcast_group6 });
    } else if unicast && d.inst.mcast_dst_ip.is_some() {
        rep.error(&span, format!("({name}) multicast destination specified with unicast - ignoring"));
        d.inst.mcast_dst_ip = None;
    }

    d.inst.garp.lower_prio_repeat = match d.garp_lower_prio_repeat {
        None if strict => 0,
        None => g.vrrp_garp_lower_prio_repeat.unwrap_or(g.vrrp_garp_master_repeat),
        Some(r) if strict && r != 0 => {
            rep.error(&span, format!("({name}) Strict mode requires no repeat garps. resetting"));
            0
        }
        Some(r) => r,
    };
    d.inst.garp.lower_prio_delay = match d.garp_lower_prio_delay {
        None if strict => Duration::ZERO,
        None => g.vrrp_garp_lower_prio_delay.unwrap_or(g.vrrp_garp_master_delay),
        Some(r) if strict && !r.is_zero() => {
            rep.error(&span, format!("({name}) Strict mode requires no repeat garp delay. resetting"));
            Duration::ZERO
        }
        Some(r) => r,
    };
    d.inst.lower_prio_no_advert = match d.lower_prio_no_advert {
        None => strict || g.vrrp_lower_prio_no_advert,
        Some(false) if strict => {
            rep.error(&span, format!("({name}) Strict mode requires no lower priority advert. resetting"));
            true
        }
        Some(v) => v,
    };
    d.inst.higher_prio_send_advert = match d.higher_prio_send_advert {
        None => !strict && g.vrrp_higher_prio_send_advert,
        Some(true) if strict => {
            rep.error(&span, format!("({name}) strict mode requires higher_prio_send_advert to be clear. resetting"));
            false
        }
        Some(v) => v,
    };
    d.inst.owner_ignore_adverts =
        d.owner_ignore_adverts.unwrap_or(g.vrrp_owner_ignore_adverts || (strict && prio == PRIO_OWNER));
    d.inst.v3_checksum_as_v2 = d.v3_checksum_as_v2.unwrap_or(g.v3_checksum_as_v2);

    if d.inst.smtp_alert.is_none() {
        d.inst.smtp_alert = Some(g.smtp_alert_vrrp.or(g.smtp_alert).unwrap_or(false));
    }
    if d.inst.notify_priority_changes.is_none() {
        d.inst.notify_priority_changes =
            Some(sync.and_then(|s| s.notify_priority_changes).unwrap_or(g.vrrp_notify_priority_changes));
    }

    d.inst.advert_int = round_advert_int(d.inst.advert_int, version, &name, &span, rep);

    if saddr.is_none() {
        d.inst.track_src_ip = false;
    }

    // The VMAC interface.
    if let Some(v) = d.vmac.clone() {
        if strict && d.vmac_xmit_base {
            rep.error(&span, format!("({name}) xmit_base is incompatible with strict mode - resetting"));
            d.vmac_xmit_base = false;
        }
        if d.inst.promote_secondaries {
            rep.error(&span, format!("({name}) promote_secondaries is automatically set for vmacs - ignoring"));
            d.inst.promote_secondaries = false;
        }
        let name_given = v.name.is_some();
        let prefix = g.vmac_prefix.as_deref().unwrap_or("vrrp");
        let ifname = v.name.clone().unwrap_or_else(|| vmac_name(prefix, d.inst.vrid, family, earlier_vmacs));
        d.inst.use_vmac = Some(Vmac {
            ifname,
            name_given,
            mac: vmac_draft_mac(&v, d.inst.vrid),
            xmit_base: d.vmac_xmit_base,
            group: v.group,
        });
    } else if d.vmac_xmit_base {
        rep.error(&span, format!("({name}) vmac_xmit_base is only valid with a vmac"));
        d.vmac_xmit_base = false;
    }

    // Tracking our own interface is implicit.
    if let Some(own) = d.inst.interface.clone() {
        let before = d.inst.track_interfaces.len();
        d.inst.track_interfaces.retain(|t| t.name != own);
        if d.inst.track_interfaces.len() != before {
            rep.error(&span, format!("({name}) Ignoring track_interface {own} since own interface"));
        }
    }

    // Per-VIP VMACs and VIPs without any interface.
    let has_vmac = d.inst.use_vmac.is_some();
    let own = d.inst.interface.clone();
    for (list, evip) in [(&mut d.inst.vips, ""), (&mut d.inst.excluded_vips, "e")] {
        list.retain_mut(|a| {
            let on_own_if = a.dev.is_none() || a.dev.as_deref() == own.as_deref();
            let same_family = Family::of(&a.prefix.addr) == family;
            if a.use_vmac {
                a.use_vmac = false;
                if on_own_if && has_vmac && same_family {
                    rep.error(&span, format!("({name}) use_vmac specified for VIP/eVIP {} and vrrp instance", a.prefix.addr));
                } else if (!on_own_if || !same_family) && d.inst.use_vmac_addr {
                    rep.error(
                        &span,
                        format!("({name}) use_vmac_addr specified and use_vmac specified for VIP/eVIP {}", a.prefix.addr),
                    );
                } else {
                    a.use_vmac = true;
                }
            }
            if a.dev.is_none() && own.is_none() {
                rep.error(&span, format!("({name}): no interface for {evip}vip {} - removing", a.prefix.addr));
                return false;
            }
            true
        });
    }

    // garp_extra_if only matters when addresses live on other interfaces.
    if !d.garp_extra_if_set {
        d.inst.garp.extra_if = g.vrrp_garp_extra_if.clone();
    }
    if let Some(extra) = &d.inst.garp.extra_if {
        let vips = d.inst.vips.iter().chain(d.inst.excluded_vips.iter());
        let (mut extra_vmac, mut extra_if) = (false, false);
        for a in vips {
            if a.use_vmac {
                extra_vmac = true;
            } else if a.dev.is_some() && a.dev.as_deref() != own.as_deref() {
                extra_if = true;
            }
        }
        let needed = extra_vmac || (extra.all && extra_if);
        if !needed {
            d.inst.garp.extra_if = None;
        }
    }

    if d.inst.vips.is_empty() && !allow_no_vips {
        if version == 3 || family == Family::Inet6 || strict {
            rep.error(&span, format!("({name}) No VIP specified; at least one is required"));
            return false;
        }
        rep.at(ErrClass::Warning, &span, format!("({name}) No VIP specified; at least one is sensible"));
    }

    // Weighted tracking is meaningless for an address owner, and in a sync group unless
    // the group asks for it.
    let sync_no_weight = sync.is_some_and(|s| !s.sync_group_tracking_weight);
    if sync_no_weight || prio == PRIO_OWNER {
        let why = if sync_no_weight { "SYNC group" } else { "address owner" };
        let why_ = if sync_no_weight { "SYNC group" } else { "address_owner" };
        let weight_word = if sync_no_weight { "weight " } else { "" };
        d.inst.track_interfaces.retain_mut(|t| {
            if t.weight == 0 {
                return true;
            }
            rep.error(&span, format!("({name}) ignoring {} tracked interface {weight_word}due to {why}", t.name));
            if sync_no_weight {
                t.weight = 0;
                true
            } else {
                false
            }
        });
        d.inst.track_scripts.retain(|t| {
            if t.weight.unwrap_or(0) == 0 {
                return true;
            }
            rep.error(&span, format!("({name}) ignoring tracked script {} with weights due to {why_}", t.name));
            false
        });
        d.inst.track_files.retain_mut(|t| match t.weight.unwrap_or(0) {
            0 => true,
            1 => {
                rep.error(
                    &span,
                    format!("({name}) ignoring weight from tracked file {} due to {why_}. specify weight 0", t.name),
                );
                t.weight = Some(0);
                true
            }
            w => {
                rep.error(&span, format!("({name}) ignoring tracked file {} with weight {w} due to {why_}", t.name));
                false
            }
        });
    }
    true
}

/// VRRPv2 adverts carry whole seconds, VRRPv3 centiseconds below 40.96 s.
fn round_advert_int(adv: Duration, version: u8, name: &str, span: &Span, rep: &mut Report<'_>) -> Duration {
    const HZ: u64 = 1_000_000;
    const CENTI: u64 = 10_000;
    let mut us = adv.as_micros() as u64;
    if us == 0 {
        us = HZ;
    }
    if version == 2 {
        if us >= 256 * HZ {
            rep.error(
                span,
                format!(
                    "({name}) VRRPv2 advertisement interval {:.2}s is out of range. Must be less than 256s. Setting to 255s",
                    us as f64 / HZ as f64
                ),
            );
            us = 255 * HZ;
        } else if us % HZ != 0 {
            rep.error(
                span,
                format!("({name}) VRRPv2 advertisement interval {:.6}s must be an integer. rounding", us as f64 / HZ as f64),
            );
            us += HZ / 2;
            us -= us % HZ;
            if us == 0 {
                us = HZ;
            }
        }
    } else if us >= 4096 * CENTI {
        rep.error(
            span,
            format!(
                "({name}) VRRPv3 advertisement interval {:.2}s is out of range. Must be less than 40.96s. Setting to 40.95s",
                us as f64 / HZ as f64
            ),
        );
        us = 4095 * CENTI;
    } else if us % CENTI != 0 {
        rep.error(
            span,
            format!(
                "({name}) VRRPv3 advertisement interval {:.6}s must be in units of 10ms - rounding",
                us as f64 / HZ as f64
            ),
        );
        us += CENTI / 2;
        us -= us % CENTI;
        if us == 0 {
            us = CENTI;
        }
    }
    Duration::from_micros(us)
}

/// `<prefix>.<vrid>` within IFNAMSIZ, or `<prefix>N.<vrid>` when another instance has the
/// name (IPv6 tries `<prefix>6.<vrid>` first).
fn vmac_name(prefix: &str, vrid: u8, family: Family, taken: &HashSet<String>) -> String {
    let fit = |num: Option<u16>| {
        let tail = match num {
            Some(n) => format!("{n}.{vrid}"),
            None => format!(".{vrid}"),
        };
        let keep = 15usize.saturating_sub(tail.len()).min(prefix.len());
        let mut cut = keep;
        while !prefix.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}{tail}", &prefix[..cut])
    };
    let mut candidate = fit(None);
    let mut num: u16 = 0;
    while taken.contains(&candidate) {
        num = match (family, num) {
            (Family::Inet6, 0) => 6,
            (Family::Inet6, 6) => 1,
            (Family::Inet6, n) if n + 1 == 6 => 7,
            (_, n) => n + 1,
        };
        candidate = fit(Some(num));
    }
    candidate
}

/// keepalived's check_vrid_conflicts: true when the VRRP process must stop.
fn check_vrid_conflicts(instances: &[InstanceDraft], g: &GlobalDefs, rep: &mut Report<'_>) -> bool {
    // Only instances of the same family and VRID can conflict: comparing within those
    // groups keeps keepalived's pairwise order without a quadratic walk over all pairs.
    let mut same_vrid: HashMap<(Family, u8), Vec<usize>> = HashMap::new();
    for (i, d) in instances.iter().enumerate() {
        same_vrid.entry((d.inst.family, d.inst.vrid)).or_default().push(i);
    }
    let mut had_error = false;
    for (i, a) in instances.iter().enumerate() {
        let later = same_vrid.get(&(a.inst.family, a.inst.vrid)).map_or(&[][..], |g| &g[g.partition_point(|j| *j <= i)..]);
        for b in later.iter().map(|j| &instances[*j]) {
            let (x, y) = (&a.inst, &b.inst);
            let ua = !x.unicast_peers.is_empty() && a.unicast_configured;
            let ub = !y.unicast_peers.is_empty() && b.unicast_configured;
            if ua != ub {
                continue;
            }
            if ua {
                if x.interface.is_some() && y.interface.is_some() && x.interface != y.interface {
                    continue;
                }
                let (sa, sb) = (x.unicast_src_ip.or(x.mcast_src_ip), y.unicast_src_ip.or(y.mcast_src_ip));
                if sa.is_none() || sb.is_none() || sa != sb {
                    continue;
                }
                let peers_overlap = x.unicast_peers.iter().any(|p| y.unicast_peers.iter().any(|q| p.addr == q.addr));
                if !peers_overlap {
                    continue;
                }
                rep.error(&y.span, format!("({}) duplicate VRID conflict with {} VRID {}", x.name, y.name, x.vrid));
                had_error = true;
                continue;
            }
            if x.interface != y.interface {
                continue;
            }
            let group = |inst: &VrrpInstance| {
                inst.mcast_dst_ip.unwrap_or(if inst.family == Family::Inet { g.vrrp_mcast_group4 } else { g.vrrp_mcast_group6 })
            };
            if group(x) != group(y) {
                continue;
            }
            if a.iface.is_some_and(|i| i.exists) {
                let v = if x.family == Family::Inet { 4 } else { 6 };
                let ifname = x.interface.clone().unwrap_or_default();
                rep.error(
                    &y.span,
                    format!("{} and {} both use VRID {} with IPv{v} on interface {ifname}", x.name, y.name, x.vrid),
                );
                had_error = true;
            }
        }
    }
    had_error
}

/// keepalived's sync_group_tracking_init: a group with an address owner cannot weigh.
fn sync_group_tracking(groups: &mut [SyncGroup], instances: &[InstanceDraft], rep: &mut Report<'_>) {
    for g in groups.iter_mut() {
        let has_owner = g
            .members
            .iter()
            .any(|m| instances.iter().any(|d| &d.inst.name == m && d.inst.priority == PRIO_OWNER));
        if !has_owner {
            continue;
        }
        let (name, span) = (g.name.clone(), g.span.clone());
        for t in g.track_scripts.iter_mut().filter(|t| t.weight.unwrap_or(0) != 0) {
            rep.error(
                &span,
                format!("({name}) Cannot have weighted track script '{}' with member having priority 255 - clearing weight", t.name),
            );
            t.weight = Some(0);
        }
        for t in g.track_files.iter_mut().filter(|t| t.weight.unwrap_or(0) != 0) {
            rep.error(
                &span,
                format!("({name}) Cannot have weighted track file '{}' with member having priority 255 - setting weight 0", t.name),
            );
            t.weight = Some(0);
        }
        for t in g.track_interfaces.iter_mut().filter(|t| t.weight != 0) {
            rep.error(
                &span,
                format!(
                    "({name}) Cannot have weighted track interface '{}' with member having priority 255 - clearing weight",
                    t.name
                ),
            );
            t.weight = 0;
        }
    }
}

/// A sync group starts as MASTER only if every member can: otherwise all start BACKUP.
fn fix_sync_group_initial_states(groups: &[SyncGroup], instances: &mut [InstanceDraft]) {
    for g in groups {
        let members = || instances.iter().filter(|d| d.inst.sync_group.as_deref() == Some(g.name.as_str()));
        let have_master = members().any(|d| d.inst.initial_state == InitialState::Master);
        let have_backup =
            members().any(|d| d.inst.initial_state == InitialState::Backup || d.inst.priority != PRIO_OWNER);
        if have_master && have_backup {
            for d in instances.iter_mut().filter(|d| d.inst.sync_group.as_deref() == Some(g.name.as_str())) {
                d.inst.initial_state = InitialState::Backup;
            }
        }
    }
}

fn complete_track_groups(groups: Vec<(TrackGroup, bool)>, instances: &[InstanceDraft], rep: &mut Report<'_>) -> Vec<TrackGroup> {
    let mut out = Vec::new();
    for (mut g, _) in groups {
        if g.members.is_empty() {
            rep.note(&g.span, format!("Static track group {} has no virtual router(s)", g.name));
            continue;
        }
        let (name, span) = (g.name.clone(), g.span.clone());
        g.members.retain(|m| {
            let known = instances.iter().any(|d| &d.inst.name == m);
            if !known {
                rep.note(&span, format!("vrrp instance {m} specified in track group {name} doesn't exist - ignoring"));
            }
            known
        });
        if g.members.is_empty() {
            rep.note(&g.span, format!("Static track group {} has no VRRP instance(s)", g.name));
            continue;
        }
        out.push(g);
    }
    out
}

/// Every script the configuration would run.
pub fn configured_scripts(config: &Config) -> Vec<&ScriptCommand> {
    let mut out: Vec<&ScriptCommand> = Vec::new();
    for n in config.instances.iter().map(|i| &i.notify).chain(config.sync_groups.iter().map(|g| &g.notify)) {
        out.extend([&n.master, &n.backup, &n.fault, &n.stop, &n.deleted, &n.generic, &n.master_rx_lower_pri].into_iter().filter_map(|s| s.as_deref()));
    }
    out.extend(config.scripts.iter().map(|s| &s.script));
    for f in [&config.global.notify_fifo, &config.global.vrrp_notify_fifo].into_iter().flatten() {
        out.extend(f.script.as_ref());
    }
    out
}

/// Without the notify module's path checks: a configured script that exists makes
/// keepalived report the SECURITY VIOLATION unless enable_script_security is set.
fn default_script_security(config: &Config, orphans: &[ScriptCommand], rep: &mut Report<'_>) {
    if config.global.enable_script_security {
        return;
    }
    let existing = configured_scripts(config).into_iter().chain(orphans).find(|s| script_exists(&s.argv));
    if let Some(script) = existing {
        let mut d = Diagnostic::new(
            ErrClass::SecurityError,
            Some(script.span.clone()),
            "SECURITY VIOLATION - scripts are being executed but script_security not enabled.",
        );
        d.expected = Some("enable_script_security in global_defs (and a script_user, or a keepalived_script user)".into());
        rep.diags.push(d);
    }
}

fn script_exists(argv: &[String]) -> bool {
    let Some(prog) = argv.first() else { return false };
    if prog.starts_with('<') {
        return false;
    }
    if prog.contains('/') {
        return std::path::Path::new(prog).is_file();
    }
    std::env::var_os("PATH")
        .map(|path| std::env::split_paths(&path).any(|dir| dir.join(prog).is_file()))
        .unwrap_or(false)
}
