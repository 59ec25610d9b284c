//! `vrrp_instance NAME { … }` (keepalived/vrrp/vrrp_parser.c, vrrp_data.c alloc_vrrp).

use super::blocks::{track_block, track_file_entry, track_if_entry, track_script_entry};
use super::entries::{parse_address, parse_route, parse_rule};
use super::global::notify_script;
use super::values::{self, parse_ip, parse_mac, MacSpec};
use super::{rttables, secs, AuthType, Block, Entry, InstanceDraft, Kw, Parser, VmacDraft};
use crate::config::diag::ErrClass;
use crate::config::lexer::Line;
use crate::config::model::*;
use std::net::IpAddr;
use std::time::Duration;

const TIMER_HZ: u64 = 1_000_000;

pub(crate) static INSTANCE: Block = Block { kws: &INSTANCE_KWS, end: Some(instance_end) };
static AUTH: Block = Block { kws: &AUTH_KWS, end: None };

static AUTH_KWS: [Kw; 2] = [Kw::new("auth_type", 1, auth_type), Kw::new("auth_pass", 1, auth_pass)];

static INSTANCE_KWS: [Kw; 71] = [
    Kw::new("use_vmac", 0, use_vmac),
    Kw::new("use_vmac_addr", 0, use_vmac_addr),
    Kw::new("vmac_xmit_base", 0, vmac_xmit_base),
    Kw::new("use_ipvlan", 0, not_implemented),
    Kw::new("unicast_peer", 0, unicast_peer),
    Kw::new("unicast_fault_no_peer", 0, unicast_fault_no_peer),
    Kw::new("check_unicast_src", 0, check_unicast_src),
    Kw::new("old_unicast_checksum", 0, not_implemented),
    Kw::new("native_ipv6", 0, native_ipv6),
    Kw::new("state", 1, state),
    Kw::new("interface", 1, interface),
    Kw::new("vrf", 1, not_implemented),
    Kw::new("dont_track_primary", 0, dont_track_primary),
    Kw::new("track_interface", 0, track_interface),
    Kw::new("track_script", 0, track_script),
    Kw::new("track_file", 0, track_file),
    Kw::new("track_process", 0, track_unsupported),
    Kw::new("track_bfd", 0, track_unsupported),
    Kw::new("mcast_src_ip", 1, mcast_src_ip),
    Kw::new("unicast_src_ip", 1, unicast_src_ip),
    Kw::new("mcast_dst_ip", 1, mcast_dst_ip),
    Kw::new("track_src_ip", 0, track_src_ip),
    Kw::new("virtual_router_id", 1, vrid),
    Kw::new("unicast_ttl", 1, unicast_ttl),
    Kw::new("version", 1, version),
    Kw::new("priority", 1, priority),
    Kw::new("advert_int", 1, advert_int),
    Kw::new("virtual_ipaddress", 0, vips),
    Kw::new("virtual_ipaddress_excluded", 0, evips),
    Kw::new("no_virtual_ipaddress", 0, no_vips),
    Kw::new("promote_secondaries", 0, promote_secondaries),
    Kw::new("linkbeat_use_polling", 0, linkbeat_use_polling),
    Kw::new("virtual_routes", 0, virtual_routes),
    Kw::new("virtual_rules", 0, virtual_rules),
    Kw::new("accept", 0, accept),
    Kw::new("no_accept", 0, no_accept),
    Kw::new("skip_check_adv_addr", 0, skip_check_adv_addr),
    Kw::new("strict_mode", 0, strict_mode),
    Kw::new("preempt", 0, preempt),
    Kw::new("nopreempt", 0, nopreempt),
    Kw::new("preempt_delay", 1, preempt_delay),
    Kw::new("debug", 1, debug),
    Kw::new("notify_backup", 1, notify_backup),
    Kw::new("notify_master", 1, notify_master),
    Kw::new("notify_fault", 1, notify_fault),
    Kw::new("notify_stop", 1, notify_stop),
    Kw::new("notify_deleted", 0, notify_deleted),
    Kw::new("notify", 1, notify),
    Kw::new("notify_master_rx_lower_pri", 1, notify_master_rx_lower_pri),
    Kw::new("smtp_alert", 0, smtp_alert),
    Kw::new("notify_priority_changes", 0, notify_priority_changes),
    Kw::new("lvs_sync_daemon_interface", 1, lvs_sync_daemon_interface),
    Kw::new("garp_master_delay", 1, garp_delay),
    Kw::new("garp_master_refresh", 1, garp_refresh),
    Kw::new("garp_master_repeat", 1, garp_repeat),
    Kw::new("garp_master_refresh_repeat", 1, garp_refresh_repeat),
    Kw::new("garp_lower_prio_delay", 1, garp_lower_prio_delay),
    Kw::new("garp_lower_prio_repeat", 1, garp_lower_prio_repeat),
    Kw::new("down_timer_adverts", 1, down_timer_adverts),
    Kw::new("garp_extra_if", 0, garp_extra_if),
    Kw::new("vmac_garp_intvl", 0, garp_extra_if),
    Kw::new("lower_prio_no_advert", 0, lower_prio_no_advert),
    Kw::new("higher_prio_send_advert", 0, higher_prio_send_advert),
    Kw::new("owner_ignore_adverts", 0, owner_ignore_adverts),
    Kw::new("v3_checksum_as_v2", 0, v3_checksum_as_v2),
    Kw::new("timer_expired_backup", 0, timer_expired_backup),
    Kw::new("thread_timer_expired", 0, thread_timer_expired),
    Kw::new("kernel_rx_buf_size", 0, kernel_rx_buf_size),
    Kw::block("authentication", 0, super::noop, &AUTH),
    Kw::ext("backup_routes", 0, backup_routes),
    Kw::ext("backup_rules", 0, backup_rules),
];

/// Root handler: `vrrp_instance NAME`.
pub(crate) fn vrrp_instance<'a>(p: &mut Parser<'a>, line: &'a Line) {
    if line.tokens.len() != 2 {
        p.general(line, Some(0), "vrrp_instance must have a name".into());
        p.skip_block();
        return;
    }
    if !p.instance_names.insert(&line.tokens[1].text) {
        let name = &line.tokens[1].text;
        p.general(line, Some(1), format!("vrrp instance {name} already defined"));
        p.skip_block();
        return;
    }
    let name = line.tokens[1].text.to_string();
    let inst = VrrpInstance { span: line.span.clone(), ..VrrpInstance::new(name, &p.raw.global) };
    p.raw.instances.push(InstanceDraft {
        inst,
        state: None,
        family: None,
        version: None,
        strict: None,
        accept: None,
        lower_prio_no_advert: None,
        higher_prio_send_advert: None,
        owner_ignore_adverts: None,
        v3_checksum_as_v2: None,
        garp_lower_prio_delay: None,
        garp_lower_prio_repeat: None,
        garp_extra_if_set: false,
        unicast_configured: false,
        unicast_ttl_span: None,
        iface: None,
        vmac: None,
        vmac_xmit_base: false,
        auth_type: None,
        auth_pass: None,
    });
}

/// keepalived's vrrp_end_handler.
fn instance_end(p: &mut Parser<'_>) {
    let Some(d) = p.raw.instances.last_mut() else { return };
    let name = d.inst.name.clone();
    let mut errors = Vec::new();
    if d.unicast_configured && d.vmac.is_some() {
        if d.inst.interface.is_none() {
            errors.push(format!("({name}): Cannot use VMAC/ipvlan with unicast and no interface - clearing use_vmac"));
            d.vmac = None;
        } else if !d.vmac_xmit_base {
            errors.push(format!("({name}) unicast with use_vmac requires vmac_xmit_base - setting"));
            d.vmac_xmit_base = true;
        }
    }
    let mut ttl_span = None;
    if d.inst.unicast_peers.is_empty() && d.inst.unicast_ttl.is_some() {
        errors.push(format!("({name}): Cannot use unicast_ttl without unicast peers - resetting"));
        d.inst.unicast_ttl = None;
        ttl_span = d.unicast_ttl_span.clone();
    }
    let span = ttl_span.unwrap_or_else(|| d.inst.span.clone());
    for e in errors {
        p.diags.report(ErrClass::GeneralError, Some(span.clone()), e);
    }
}

fn cur<'p>(p: &'p mut Parser<'_>) -> Option<&'p mut InstanceDraft> {
    p.raw.instances.last_mut()
}

fn iname(p: &mut Parser<'_>) -> String {
    cur(p).map(|d| d.inst.name.clone()).unwrap_or_default()
}

fn text(line: &Line, i: usize) -> &str {
    line.tokens.get(i).map(|t| t.text.as_str()).unwrap_or("")
}

fn not_implemented(p: &mut Parser<'_>, line: &Line) {
    let word = line.tokens[0].text.to_string();
    p.note(line, format!("'{word}' is accepted for compatibility but not implemented by kad; ignored"));
}

fn track_unsupported<'a>(p: &mut Parser<'a>, line: &'a Line) {
    let word = line.tokens[0].text.to_string();
    p.note(line, format!("'{word}' is not implemented by kad; its entries are ignored"));
    p.value_block(line, |_, _| {});
}

fn use_vmac(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let mut vmac = cur(p).and_then(|d| d.vmac.clone()).unwrap_or_default();
    let mut i = 1;
    while i < line.tokens.len() {
        let word = text(line, i).to_string();
        match word.as_str() {
            "netlink_notify_msg" => {}
            "group" => {
                i += 1;
                match rttables::lookup(rttables::Table::Groups, text(line, i)) {
                    Some(g) => vmac.group = Some(g),
                    None => {
                        let g = text(line, i).to_string();
                        p.general(line, Some(i), format!("VMAC group {g} not found"));
                    }
                }
            }
            _ if word.contains(':') => {
                if vmac.mac.is_some() {
                    p.general(line, Some(i), "VMAC interface address already specified".into());
                } else if !word.chars().all(|c| c.is_ascii_hexdigit() || c == ':') {
                    p.general(line, Some(i), format!("VMAC invalid MAC address {word}"));
                } else {
                    let (mac, use_vrid) = match parse_mac(&word) {
                        Some(MacSpec::Full(m)) => (Some(m), false),
                        Some(MacSpec::UseVrid(m)) => (Some([m[0], m[1], m[2], m[3], m[4], 0]), true),
                        None => (None, false),
                    };
                    match mac {
                        None => p.general(line, Some(i), format!("VMAC invalid MAC address {word} - ignored")),
                        Some(m) if m[0] & 1 != 0 => {
                            p.general(line, Some(i), format!("VMAC MAC address is multicast {word} - ignoring"))
                        }
                        Some(m) if m[..4] == [0, 0, 0x5e, 0] && (m[4] == 1 || m[4] == 2) => p.general(
                            line,
                            Some(i),
                            format!("VMAC MAC address not allowed to be RFC5798 address ({word}) - ignoring"),
                        ),
                        Some(m) => {
                            vmac.mac = Some(m);
                            vmac.mac_use_vrid = use_vrid;
                        }
                    }
                }
            }
            _ => {
                let ifname = if word == "name" {
                    i += 1;
                    text(line, i).to_string()
                } else {
                    word
                };
                if vmac.name.is_some() {
                    p.general(line, Some(i), "VMAC interface name already specified".into());
                } else if !dev_name_valid(&ifname) {
                    p.general(
                        line,
                        Some(i),
                        format!("VMAC interface name '{ifname}' too long or invalid characters - ignoring"),
                    );
                } else if let Some(other) = p
                    .raw
                    .instances
                    .iter()
                    .find(|o| o.vmac.as_ref().and_then(|v| v.name.as_deref()) == Some(ifname.as_str()))
                {
                    let other = other.inst.name.clone();
                    p.general(line, Some(i), format!("({name}) VRRP instance {other} is already using {ifname} - ignoring name"));
                } else {
                    vmac.name = Some(ifname);
                }
            }
        }
        i += 1;
    }
    if let Some(d) = cur(p) {
        d.vmac = Some(vmac);
    }
}

/// The kernel's dev_valid_name.
pub(crate) fn dev_name_valid(name: &str) -> bool {
    !name.is_empty()
        && name.len() < 16
        && name != "."
        && name != ".."
        && !name.chars().any(|c| c == '/' || c == ':' || c.is_whitespace())
}

fn use_vmac_addr(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.inst.use_vmac_addr = true;
    }
}

fn vmac_xmit_base(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.vmac_xmit_base = true;
    }
}

fn unicast_peer<'a>(p: &mut Parser<'a>, line: &'a Line) {
    if let Some(d) = cur(p) {
        d.unicast_configured = true;
    }
    p.value_block(line, unicast_peer_entry);
}

fn unicast_peer_entry<'a>(p: &mut Parser<'a>, e: Entry<'a>) {
    let name = iname(p);
    let addr_text = e.text(0).unwrap_or_default();
    let Some(addr) = parse_ip(addr_text) else {
        p.entry_error(
            ErrClass::GeneralError,
            e,
            0,
            format!("Configuration error: VRRP instance[{name}] malformed unicast peer address[{addr_text}]. Skipping..."),
        );
        return;
    };
    let fam = Family::of(&addr);
    let Some(d) = cur(p) else { return };
    if d.family.is_some_and(|f| f != fam) {
        p.entry_error(
            ErrClass::GeneralError,
            e,
            0,
            format!(
                "Configuration error: VRRP instance[{name}] and unicast peer address[{addr_text}] MUST be of the same family !!! Skipping..."
            ),
        );
        return;
    }
    d.family = Some(fam);
    let mut peer = UnicastPeer { addr, min_ttl: None, max_ttl: None };
    let mut i = 1;
    while i < e.len() {
        let opt = e.text(i).unwrap_or_default();
        let Some(value) = e.text(i + 1) else {
            p.entry_error(ErrClass::GeneralError, e, i, format!("({name}) {opt} is missing a value"));
            break;
        };
        match values::read_unsigned(value, 0, 255) {
            Ok(ttl) => {
                match opt {
                    "min_ttl" => peer.min_ttl = Some(ttl as u8),
                    "max_ttl" => peer.max_ttl = Some(ttl as u8),
                    _ => {
                        p.entry_error(ErrClass::GeneralError, e, i, format!("({name}) unknown unicast_peer option {opt}"));
                        break;
                    }
                }
                if let Some(d) = cur(p) {
                    d.inst.check_unicast_src = true;
                }
            }
            Err(err) => p.entry_error(err.class, e, i + 1, err.message),
        }
        i += 2;
    }
    let (min, max) = (peer.min_ttl.unwrap_or(0), peer.max_ttl.unwrap_or(255));
    if min > max {
        p.entry_error(
            ErrClass::GeneralError,
            e,
            0,
            format!("({name}) min_ttl {min} > max_ttl {max} - all packets will be discarded"),
        );
    }
    if let Some(d) = cur(p) {
        if d.inst.unicast_peers.iter().any(|x| x.addr == peer.addr) {
            p.note(e.line, format!("({name}) duplicate unicast peer {addr_text}"));
        }
    }
    if let Some(d) = cur(p) {
        d.inst.unicast_peers.push(peer);
    }
}

fn unicast_fault_no_peer(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.unicast_configured = true;
        d.inst.unicast_fault_no_peer = true;
    }
}

fn check_unicast_src(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.unicast_configured = true;
        d.inst.check_unicast_src = true;
    }
}

fn native_ipv6(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let Some(d) = cur(p) else { return };
    if d.family == Some(Family::Inet) {
        p.general(line, Some(0), format!("({name}) Cannot specify native_ipv6 with IPv4 addresses"));
        return;
    }
    d.family = Some(Family::Inet6);
    d.version = Some(3);
}

fn state(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let s = text(line, 1);
    let Some(d) = cur(p) else { return };
    match s {
        "MASTER" => d.state = Some(InitialState::Master),
        "BACKUP" => {
            if d.state == Some(InitialState::Master) {
                p.general(line, Some(1), format!("({name}) state previously set as MASTER - ignoring BACKUP"));
            } else {
                d.state = Some(InitialState::Backup);
            }
        }
        other => {
            d.state = Some(InitialState::Backup);
            let mut diag =
                p.diag_at(ErrClass::GeneralError, line, Some(1), format!("({name}) unknown state '{other}', defaulting to BACKUP"));
            diag.expected = Some("MASTER or BACKUP (upper case)".into());
            p.diags.push(diag);
        }
    }
}

fn interface(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let ifname = text(line, 1).to_string();
    if ifname.len() >= 16 {
        p.general(line, Some(1), format!("Interface name '{ifname}' too long - ignoring"));
        return;
    }
    let info = p.interface(&ifname);
    match info {
        None => {
            p.general(line, Some(1), format!("WARNING - interface {ifname} for vrrp_instance {name} doesn't exist"));
            if let Some(d) = cur(p) {
                d.inst.interface = None;
                d.iface = None;
            }
        }
        Some(i) if i.loopback => {
            p.general(line, Some(1), format!("({name}) cannot use a loopback interface ({ifname}) for vrrp - ignoring"));
            if let Some(d) = cur(p) {
                d.inst.interface = None;
                d.iface = None;
            }
        }
        Some(i) => {
            if let Some(d) = cur(p) {
                d.inst.interface = Some(ifname);
                d.iface = Some(i);
            }
        }
    }
}

fn dont_track_primary(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.inst.dont_track_primary = true;
    }
}

fn track_interface<'a>(p: &mut Parser<'a>, line: &'a Line) {
    track_block(p, line, iname, |p| cur(p).map(|d| &mut d.inst.track_interfaces), track_if_entry);
}

fn track_script<'a>(p: &mut Parser<'a>, line: &'a Line) {
    track_block(p, line, iname, |p| cur(p).map(|d| &mut d.inst.track_scripts), track_script_entry);
}

fn track_file<'a>(p: &mut Parser<'a>, line: &'a Line) {
    track_block(p, line, iname, |p| cur(p).map(|d| &mut d.inst.track_files), track_file_entry);
}

/// keepalived's vrrp_srcip_handler (mcast_src_ip and unicast_src_ip share one address).
fn src_ip(p: &mut Parser<'_>, line: &Line, unicast: bool) {
    let name = iname(p);
    let s = text(line, 1).to_string();
    let Some(addr) = parse_ip(&s) else {
        p.general(line, Some(1), format!("Configuration error: VRRP instance[{name}] malformed src address[{s}]. Skipping..."));
        return;
    };
    let Some(d) = cur(p) else { return };
    let fam = Family::of(&addr);
    if d.family.is_some_and(|f| f != fam) {
        d.inst.mcast_src_ip = None;
        d.inst.unicast_src_ip = None;
        p.general(
            line,
            Some(1),
            format!("Configuration error: VRRP instance[{name}] and src address[{s}] MUST be of the same family !!! Skipping..."),
        );
        return;
    }
    d.family = Some(fam);
    if unicast {
        d.inst.unicast_src_ip = Some(addr);
        d.inst.mcast_src_ip = None;
    } else {
        d.inst.mcast_src_ip = Some(addr);
        d.inst.unicast_src_ip = None;
    }
}

fn mcast_src_ip(p: &mut Parser<'_>, line: &Line) {
    src_ip(p, line, false);
}

fn unicast_src_ip(p: &mut Parser<'_>, line: &Line) {
    if let Some(d) = cur(p) {
        d.unicast_configured = true;
    }
    src_ip(p, line, true);
}

fn mcast_dst_ip(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let s = text(line, 1).to_string();
    let Some(addr) = parse_ip(&s) else {
        p.general(line, Some(1), format!("({name}) malformed mcast dest address {s}. Skipping..."));
        return;
    };
    let Some(d) = cur(p) else { return };
    let fam = Family::of(&addr);
    if d.family.is_some_and(|f| f != fam) {
        d.inst.mcast_dst_ip = None;
        p.general(line, Some(1), format!("({name}) mcast dest address {s} MUST match VRRP instance family. Skipping..."));
        return;
    }
    d.family = Some(fam);
    let ok = match addr {
        IpAddr::V4(a) => a.is_multicast(),
        IpAddr::V6(a) => a.segments()[0] & 0xff0f == 0xff02,
    };
    if !ok {
        let ll = if addr.is_ipv6() { " link-local" } else { "" };
        d.inst.mcast_dst_ip = None;
        p.general(line, Some(1), format!("({name}) mcast_dst_ip {s} not{ll} multicast. Skipping..."));
        return;
    }
    d.inst.mcast_dst_ip = Some(addr);
}

fn track_src_ip(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.inst.track_src_ip = true;
    }
}

fn vrid(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    match p.unsigned(line, 1, 1, 255) {
        Ok(v) => {
            if let Some(d) = cur(p) {
                d.inst.vrid = v as u8;
            }
        }
        Err(()) => {
            let v = text(line, 1).to_string();
            p.general(line, Some(1), format!("({name}): VRID '{v}' not valid - must be between 1 & 255"));
        }
    }
}

fn unicast_ttl(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    match p.unsigned(line, 1, 0, 255) {
        Ok(v) => {
            if let Some(d) = cur(p) {
                d.inst.unicast_ttl = Some(v as u8);
                d.unicast_ttl_span = Some(line.span.clone());
            }
        }
        Err(()) => {
            let v = text(line, 1).to_string();
            p.general(line, Some(1), format!("({name}): TTL '{v}' not valid - must be between 0 & 255"));
        }
    }
}

fn version(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let Ok(v) = p.int(line, 1, 2, 3) else {
        p.general(line, Some(1), format!("({name}): Version must be either 2 or 3"));
        return;
    };
    let Some(d) = cur(p) else { return };
    let conflicts = d.version.is_some_and(|old| i32::from(old) != v) || (v == 2 && d.family == Some(Family::Inet6));
    if conflicts {
        let old = d.version.unwrap_or(0);
        p.general(
            line,
            Some(1),
            format!("({name}) vrrp_version {v} conflicts with configured or deduced version {old}; ignoring."),
        );
        return;
    }
    d.version = Some(v as u8);
}

fn priority(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let prio = match p.unsigned(line, 1, 1, 255) {
        Ok(v) => v as u8,
        Err(()) => {
            p.general(line, Some(1), format!("({name}) Priority not valid! must be between 1 & 255. Using default 100"));
            100
        }
    };
    if let Some(d) = cur(p) {
        d.inst.priority = prio;
    }
}

fn advert_int(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    match p.decimal(line, 1, TIMER_HZ / 100, 255 * TIMER_HZ, 6) {
        Ok(v) if v > 0 => {
            if let Some(d) = cur(p) {
                d.inst.advert_int = values::micros(v);
            }
        }
        _ => {
            let v = text(line, 1).to_string();
            p.general(line, Some(1), format!("({name}) Advert interval ({v}) not valid! Must be > 0 - ignoring"));
        }
    }
}

fn vips<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        let Some(addr) = parse_address(p, e, false) else { return };
        let fam = Family::of(&addr.prefix.addr);
        let Some(d) = cur(p) else { return };
        if d.family.is_some_and(|f| f != fam) {
            let name = d.inst.name.clone();
            let a = e.text(0).unwrap_or_default();
            p.entry_error(
                ErrClass::GeneralError,
                e,
                0,
                format!("({name}): address family must match VRRP instance [{a}] - ignoring"),
            );
            return;
        }
        d.family = Some(fam);
        d.inst.vips.push(addr);
    });
}

fn evips<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        if let Some(addr) = parse_address(p, e, false) {
            if let Some(d) = cur(p) {
                d.inst.excluded_vips.push(addr);
            }
        }
    });
}

fn no_vips(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.inst.no_virtual_ipaddress = true;
    }
}

fn promote_secondaries(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.inst.promote_secondaries = true;
    }
}

fn linkbeat_use_polling(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    p.general(
        line,
        Some(0),
        format!("({name}) 'linkbeat_use_polling' in vrrp instance deprecated - use linkbeat_interfaces block"),
    );
}

fn virtual_routes<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        if let Some(r) = parse_route(p, e, false) {
            if let Some(d) = cur(p) {
                d.inst.virtual_routes.push(r);
            }
        }
    });
}

fn virtual_rules<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        if let Some(r) = parse_rule(p, e, false) {
            if let Some(d) = cur(p) {
                d.inst.virtual_rules.push(r);
            }
        }
    });
}

fn backup_routes<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        if let Some(r) = parse_route(p, e, false) {
            if let Some(d) = cur(p) {
                d.inst.backup_routes.push(r);
            }
        }
    });
}

fn backup_rules<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        if let Some(r) = parse_rule(p, e, false) {
            if let Some(d) = cur(p) {
                d.inst.backup_rules.push(r);
            }
        }
    });
}

fn accept(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.accept = Some(true);
    }
}

fn no_accept(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.accept = Some(false);
    }
}

/// `KEYWORD [BOOL]` for an instance, with keepalived's "(NAME) invalid KEYWORD X" text.
fn inst_bool(p: &mut Parser<'_>, line: &Line) -> Option<bool> {
    let v = Parser::opt_bool(line);
    if v.is_none() {
        let name = iname(p);
        let kw = text(line, 0).to_string();
        let arg = text(line, 1).to_string();
        p.general(line, Some(1), format!("({name}) invalid {kw} {arg} specified"));
    }
    v
}

fn skip_check_adv_addr(p: &mut Parser<'_>, line: &Line) {
    // keepalived sets the flag for any valid boolean, `false` included.
    if inst_bool(p, line).is_some() {
        if let Some(d) = cur(p) {
            d.inst.skip_check_adv_addr = true;
        }
        if text(line, 1) == "false" || text(line, 1) == "off" || text(line, 1) == "no" {
            p.note(
                line,
                "keepalived turns skip_check_adv_addr ON for any valid boolean, including this one".into(),
            );
        }
    }
}

fn strict_mode(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = inst_bool(p, line) {
        if let Some(d) = cur(p) {
            d.strict = Some(v);
        }
    }
}

fn preempt(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.inst.nopreempt = false;
    }
}

fn nopreempt(p: &mut Parser<'_>, _: &Line) {
    if let Some(d) = cur(p) {
        d.inst.nopreempt = true;
    }
}

fn preempt_delay(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let delay = match p.decimal(line, 1, 0, 1000 * TIMER_HZ, 6) {
        Ok(v) => values::micros(v),
        Err(()) => {
            p.general(line, Some(1), format!("({name}) Preempt_delay not valid! must be between 0-1000"));
            Duration::ZERO
        }
    };
    if let Some(d) = cur(p) {
        d.inst.preempt_delay = delay;
    }
}

fn debug(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    if p.unsigned(line, 1, 0, 4).is_err() {
        let v = text(line, 1).to_string();
        p.general(line, Some(1), format!("({name}) Debug value '{v}' not valid; must be between 0-4"));
    }
}

/// notify_* keywords: a second occurrence is ignored with an error.
fn set_notify(p: &mut Parser<'_>, line: &Line, kw: &str, slot: fn(&mut Notifies) -> &mut Option<Box<ScriptCommand>>) {
    let name = iname(p);
    let Some(d) = cur(p) else { return };
    if slot(&mut d.inst.notify).is_some() {
        let arg = text(line, 1).to_string();
        p.general(line, Some(1), format!("({name}) {kw} script already specified - ignoring {arg}"));
        return;
    }
    if let Some(cmd) = notify_script(p, line, "notify") {
        if let Some(d) = cur(p) {
            *slot(&mut d.inst.notify) = Some(Box::new(cmd));
        }
    }
}

fn notify_backup(p: &mut Parser<'_>, line: &Line) {
    set_notify(p, line, "notify_backup", |n| &mut n.backup);
}

fn notify_master(p: &mut Parser<'_>, line: &Line) {
    set_notify(p, line, "notify_master", |n| &mut n.master);
}

fn notify_fault(p: &mut Parser<'_>, line: &Line) {
    set_notify(p, line, "notify_fault", |n| &mut n.fault);
}

fn notify_stop(p: &mut Parser<'_>, line: &Line) {
    set_notify(p, line, "notify_stop", |n| &mut n.stop);
}

fn notify(p: &mut Parser<'_>, line: &Line) {
    set_notify(p, line, "notify", |n| &mut n.generic);
}

fn notify_master_rx_lower_pri(p: &mut Parser<'_>, line: &Line) {
    set_notify(p, line, "notify_master_rx_lower_pri", |n| &mut n.master_rx_lower_pri);
}

fn notify_deleted(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let Some(d) = cur(p) else { return };
    if d.inst.notify.deleted_configured {
        let arg = text(line, 1).to_string();
        p.general(line, Some(1), format!("({name}) notify_deleted already specified - ignoring {arg}"));
        return;
    }
    d.inst.notify.deleted_configured = true;
    if line.tokens.len() > 1 {
        if let Some(cmd) = notify_script(p, line, "notify") {
            if let Some(d) = cur(p) {
                d.inst.notify.deleted = Some(Box::new(cmd));
            }
        }
    }
}

fn smtp_alert(p: &mut Parser<'_>, line: &Line) {
    match Parser::opt_bool(line) {
        Some(v) => {
            if let Some(d) = cur(p) {
                d.inst.smtp_alert = Some(v);
            }
        }
        None => {
            let a = text(line, 1).to_string();
            p.general(line, Some(1), format!("Invalid vrrp_instance smtp_alert parameter {a}"));
        }
    }
}

fn notify_priority_changes(p: &mut Parser<'_>, line: &Line) {
    match Parser::opt_bool(line) {
        Some(v) => {
            if let Some(d) = cur(p) {
                d.inst.notify_priority_changes = Some(v);
            }
        }
        None => {
            let name = iname(p);
            let a = text(line, 1).to_string();
            p.general(line, Some(1), format!("({name}) Invalid value '{a}' for notify_priority_changes specified"));
        }
    }
}

fn lvs_sync_daemon_interface(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    p.general(line, Some(0), format!("({name}) Specifying lvs_sync_daemon_interface against a vrrp is deprecated."));
    p.general(line, Some(0), "      Please use global lvs_sync_daemon".into());
}

fn garp_secs(p: &mut Parser<'_>, line: &Line, max: u32, msg: impl FnOnce(&str, &str) -> String) -> Option<u32> {
    match p.unsigned(line, 1, 0, max) {
        Ok(v) => Some(v),
        Err(()) => {
            let name = iname(p);
            let v = text(line, 1).to_string();
            p.general(line, Some(1), msg(&name, &v));
            None
        }
    }
}

const MAX_DELAY_SECS: u32 = (u32::MAX as u64 / TIMER_HZ) as u32;

fn garp_delay(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = garp_secs(p, line, MAX_DELAY_SECS, |n, v| format!("({n}): garp_master_delay '{v}' invalid - ignoring")) {
        if let Some(d) = cur(p) {
            d.inst.garp.master_delay = secs(u64::from(v));
        }
    }
}

fn garp_refresh(p: &mut Parser<'_>, line: &Line) {
    let v = garp_secs(p, line, u32::MAX, |n, v| format!("({n}): Invalid garp_master_refresh '{v}' - ignoring"));
    if let Some(d) = cur(p) {
        d.inst.garp.master_refresh = secs(u64::from(v.unwrap_or(0)));
    }
}

fn garp_repeat(p: &mut Parser<'_>, line: &Line) {
    if let Some(mut v) = garp_secs(p, line, u32::MAX, |n, v| format!("({n}): garp_master_repeat '{v}' invalid - ignoring")) {
        if v == 0 {
            let name = iname(p);
            p.general(line, Some(1), format!("({name}): garp_master_repeat must be greater than 0, setting to 1"));
            v = 1;
        }
        if let Some(d) = cur(p) {
            d.inst.garp.master_repeat = v;
        }
    }
}

fn garp_refresh_repeat(p: &mut Parser<'_>, line: &Line) {
    if let Some(mut v) =
        garp_secs(p, line, u32::MAX, |n, v| format!("({n}): garp_master_refresh_repeat '{v}' invalid - ignoring"))
    {
        if v == 0 {
            let name = iname(p);
            p.general(line, Some(1), format!("({name}): garp_master_refresh_repeat must be greater than 0, setting to 1"));
            v = 1;
        }
        if let Some(d) = cur(p) {
            d.inst.garp.master_refresh_repeat = v;
        }
    }
}

fn garp_lower_prio_delay(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = garp_secs(p, line, MAX_DELAY_SECS, |n, v| format!("({n}): garp_lower_prio_delay '{v}' invalid - ignoring")) {
        if let Some(d) = cur(p) {
            d.garp_lower_prio_delay = Some(secs(u64::from(v)));
        }
    }
}

fn garp_lower_prio_repeat(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = garp_secs(p, line, i32::MAX as u32, |n, v| format!("({n}): Invalid garp_lower_prio_repeat '{v}'")) {
        if let Some(d) = cur(p) {
            d.garp_lower_prio_repeat = Some(v);
        }
    }
}

fn down_timer_adverts(p: &mut Parser<'_>, line: &Line) {
    match p.unsigned(line, 1, 1, 100) {
        Ok(v) => {
            if let Some(d) = cur(p) {
                d.inst.down_timer_adverts = v;
            }
        }
        Err(()) => {
            let name = iname(p);
            let v = text(line, 1).to_string();
            p.general(line, Some(1), format!("({name}): Invalid down_timer_adverts [1:100] '{v}'"));
        }
    }
}

fn garp_extra_if(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    let kw = text(line, 0).to_string();
    if kw == "vmac_garp_intvl" {
        p.error(
            ErrClass::Deprecated,
            line,
            Some(0),
            "Keyword \"vmac_garp_intvl\" is deprecated - please use \"garp_extra_if\"".into(),
        );
    }
    let mut all = false;
    let mut delay = None;
    for i in 1..line.tokens.len() {
        if text(line, i) == "all" {
            all = true;
        } else {
            match p.unsigned(line, i, 0, 86400) {
                Ok(v) => delay = Some(v),
                Err(()) => {
                    let v = text(line, i).to_string();
                    p.general(line, Some(i), format!("({name}): {kw} '{v}' invalid - ignoring"));
                    return;
                }
            }
        }
    }
    let Some(delay) = delay else {
        p.general(line, Some(0), format!("({name}): {kw} specified without time - ignoring"));
        return;
    };
    if let Some(d) = cur(p) {
        d.garp_extra_if_set = true;
        d.inst.garp.extra_if = Some(GarpExtraIf { all, interval: secs(u64::from(delay)) });
    }
}

fn lower_prio_no_advert(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = inst_bool(p, line) {
        if let Some(d) = cur(p) {
            d.lower_prio_no_advert = Some(v);
        }
    }
}

fn higher_prio_send_advert(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = inst_bool(p, line) {
        if let Some(d) = cur(p) {
            d.higher_prio_send_advert = Some(v);
        }
    }
}

fn owner_ignore_adverts(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = inst_bool(p, line) {
        if let Some(d) = cur(p) {
            d.owner_ignore_adverts = Some(v);
        }
    }
}

fn v3_checksum_as_v2(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = inst_bool(p, line) {
        if let Some(d) = cur(p) {
            d.v3_checksum_as_v2 = Some(v);
        }
    }
}

fn timer_expired_backup(p: &mut Parser<'_>, line: &Line) {
    let mut prio = 254;
    if line.tokens.len() >= 2 {
        match p.unsigned(line, 1, 1, 254) {
            Ok(v) => prio = v as u8,
            Err(()) => {
                let name = iname(p);
                p.general(line, Some(1), format!("({name}) timer_expired_backup highest_other_priority not valid! must be between 1 & 254"));
                return;
            }
        }
    }
    if let Some(d) = cur(p) {
        d.inst.timer_expired_backup = Some(prio);
    }
}

fn thread_timer_expired(p: &mut Parser<'_>, line: &Line) {
    let name = iname(p);
    p.general(line, Some(0), format!("({name}) thread_timer_expired - please replace with keyword 'timer_expired_backup'"));
    timer_expired_backup(p, line);
}

fn kernel_rx_buf_size(p: &mut Parser<'_>, line: &Line) {
    if line.tokens.len() == 2 && values::read_unsigned(text(line, 1), 0, u32::MAX).is_ok() {
        p.note(line, "kernel_rx_buf_size has no effect in kad".into());
        return;
    }
    let name = iname(p);
    p.general(line, Some(0), format!("({name}) invalid kernel_rx_buf_size specified"));
}

fn auth_type(p: &mut Parser<'_>, line: &Line) {
    let t = match text(line, 1) {
        "AH" => AuthType::Ah,
        "PASS" => AuthType::Pass,
        other => {
            let name = iname(p);
            let mut d = p.diag_at(ErrClass::GeneralError, line, Some(1), format!("({name}) unknown authentication type '{other}'"));
            d.expected = Some("PASS or AH (upper case)".into());
            p.diags.push(d);
            return;
        }
    };
    if let Some(d) = cur(p) {
        d.auth_type = Some(t);
    }
}

fn auth_pass(p: &mut Parser<'_>, line: &Line) {
    let pass = text(line, 1).as_bytes();
    let mut data = pass.to_vec();
    if data.len() > 8 {
        data.truncate(8);
        let kept = String::from_utf8_lossy(&data).into_owned();
        p.general(line, Some(1), format!("Truncating auth_pass to 8 characters (the password used is '{kept}')"));
    }
    if let Some(d) = cur(p) {
        d.auth_pass = Some(data);
    }
}

pub(crate) fn vmac_draft_mac(v: &VmacDraft, vrid: u8) -> Option<[u8; 6]> {
    v.mac.map(|mut m| {
        if v.mac_use_vrid {
            m[5] = vrid;
        }
        m
    })
}
