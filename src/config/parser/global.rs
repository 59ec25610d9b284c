//! `global_defs { … }` (keepalived/core/global_parser.c).

use super::values::{self, parse_ip};
use super::{script_command, secs, Block, DefaultUser, Kw, Parser};
use crate::config::diag::ErrClass;
use crate::config::lexer::Line;
use crate::config::model::*;
use std::net::IpAddr;
use std::time::Duration;

const TIMER_HZ: u64 = 1_000_000;

pub(crate) static GLOBAL: Block = Block { kws: &GLOBAL_KWS, end: None };

static GLOBAL_KWS: [Kw; 138] = [
    Kw::new("router_id", 0, router_id),
    Kw::new("notification_email_from", 0, email_from),
    Kw::new("smtp_server", 1, smtp_server),
    Kw::new("smtp_helo_name", 0, smtp_helo),
    Kw::new("smtp_connect_timeout", 1, smtp_timeout),
    Kw::new("notification_email", 0, notification_email),
    Kw::new("smtp_alert", 0, smtp_alert),
    Kw::new("smtp_alert_vrrp", 0, smtp_alert_vrrp),
    Kw::new("no_email_faults", 0, no_email_faults),
    Kw::new("startup_script", 0, startup_script),
    Kw::new("startup_script_timeout", 0, startup_timeout),
    Kw::new("shutdown_script", 0, shutdown_script),
    Kw::new("shutdown_script_timeout", 0, shutdown_timeout),
    Kw::new("enable_script_security", 0, script_security),
    Kw::new("script_user", 0, script_user),
    Kw::new("use_symlink_paths", 0, use_symlink_paths),
    Kw::new("set_supplementary_groups", 0, set_supplementary_groups),
    Kw::new("dynamic_interfaces", 0, dynamic_interfaces),
    Kw::new("default_interface", 0, default_interface),
    Kw::new("vrrp_mcast_group4", 1, mcast_group4),
    Kw::new("vrrp_mcast_group6", 1, mcast_group6),
    Kw::new("vrrp_garp_master_delay", 1, garp_delay),
    Kw::new("vrrp_garp_master_repeat", 1, garp_repeat),
    Kw::new("vrrp_garp_master_refresh", 1, garp_refresh),
    Kw::new("vrrp_garp_master_refresh_repeat", 1, garp_refresh_repeat),
    Kw::new("vrrp_garp_lower_prio_delay", 1, garp_lower_prio_delay),
    Kw::new("vrrp_garp_lower_prio_repeat", 1, garp_lower_prio_repeat),
    Kw::new("vrrp_down_timer_adverts", 1, down_timer_adverts),
    Kw::new("vrrp_garp_interval", 1, garp_interval),
    Kw::new("vrrp_gna_interval", 1, gna_interval),
    Kw::new("vrrp_min_garp", 0, min_garp),
    Kw::new("vrrp_garp_extra_if", 0, garp_extra_if),
    Kw::new("vrrp_vmac_garp_intvl", 0, garp_extra_if),
    Kw::new("vrrp_lower_prio_no_advert", 0, lower_prio_no_advert),
    Kw::new("vrrp_higher_prio_send_advert", 0, higher_prio_send_advert),
    Kw::new("vrrp_version", 1, vrrp_version),
    Kw::new("vrrp_iptables", 0, vrrp_iptables),
    Kw::new("nftables", 0, ignored),
    Kw::new("nftables_priority", 1, ignored),
    Kw::new("nftables_ifindex", 0, ignored),
    Kw::new("nftables_counters", 0, ignored),
    Kw::new("nftables_ipvs", 0, ignored),
    Kw::new("nftables_ipvs_priority", 1, ignored),
    Kw::new("nftables_ipvs_start_fwmark", 1, ignored),
    Kw::new("vrrp_check_unicast_src", 0, check_unicast_src),
    Kw::new("vrrp_skip_check_adv_addr", 0, skip_check_adv_addr),
    Kw::new("vrrp_strict", 0, vrrp_strict),
    Kw::new("v3_checksum_as_v2", 0, v3_checksum_as_v2),
    Kw::new("vrrp_owner_ignore_adverts", 0, owner_ignore_adverts),
    Kw::new("vrrp_priority", 0, ignored),
    Kw::new("vrrp_no_swap", 0, ignored),
    Kw::new("vrrp_rt_priority", 0, ignored),
    Kw::new("vrrp_cpu_affinity", 0, ignored),
    Kw::new("vrrp_rlimit_rttime", 0, ignored),
    Kw::new("vrrp_rlimit_rtime", 0, ignored),
    Kw::new("notify_fifo", 0, notify_fifo),
    Kw::new("notify_fifo_script", 0, notify_fifo_script),
    Kw::new("vrrp_notify_fifo", 0, vrrp_notify_fifo),
    Kw::new("vrrp_notify_fifo_script", 0, vrrp_notify_fifo_script),
    Kw::new("vrrp_notify_priority_changes", 0, notify_priority_changes),
    Kw::new("fifo_write_vrrp_states_on_reload", 0, fifo_write_states),
    Kw::new("vrrp_startup_delay", 1, startup_delay),
    Kw::new("log_unknown_vrids", 0, log_unknown_vrids),
    Kw::new("vmac_prefix", 1, vmac_prefix),
    Kw::new("vmac_addr_prefix", 1, vmac_addr_prefix),
    Kw::new("umask", 1, umask),
    Kw::new("random_seed", 1, random_seed),
    Kw::new("reload_check_config", 0, reload_check_config),
    Kw::new("reload_time_file", 0, ignored),
    Kw::new("reload_repeat", 0, ignored),
    Kw::new("reload_file", 0, ignored),
    Kw::new("include_check", 0, ignored),
    Kw::new("config_save_dir", 1, ignored),
    Kw::new("tmp_config_directory", 0, ignored),
    Kw::new("data_use_instance", 0, data_use_instance),
    Kw::new("json_version", 1, json_version),
    Kw::new("state_dump_file", 1, state_dump_file),
    Kw::new("stats_dump_file", 1, stats_dump_file),
    Kw::new("json_dump_file", 1, json_dump_file),
    Kw::new("process_names", 0, ignored),
    Kw::new("process_name", 1, ignored),
    Kw::new("vrrp_process_name", 1, ignored),
    Kw::new("checker_process_name", 1, ignored),
    Kw::new("lvs_process_name", 1, ignored),
    Kw::new("bfd_process_name", 1, ignored),
    Kw::new("max_auto_priority", 0, ignored),
    Kw::new("min_auto_priority_delay", 0, ignored),
    Kw::new("disable_local_igmp", 0, ignored),
    Kw::new("vrrp_netlink_cmd_rcv_bufs", 0, ignored),
    Kw::new("vrrp_netlink_cmd_rcv_bufs_force", 0, ignored),
    Kw::new("vrrp_netlink_monitor_rcv_bufs", 0, ignored),
    Kw::new("vrrp_netlink_monitor_rcv_bufs_force", 0, ignored),
    Kw::new("vrrp_rx_bufs_policy", 0, ignored),
    Kw::new("vrrp_rx_bufs_multiplier", 0, ignored),
    Kw::new("enable_snmp_vrrp", 0, ignored),
    Kw::new("enable_snmp_keepalived", 0, ignored),
    Kw::new("enable_snmp_rfc", 0, ignored),
    Kw::new("enable_snmp_rfcv2", 0, ignored),
    Kw::new("enable_snmp_rfcv3", 0, ignored),
    Kw::new("enable_snmp_checker", 0, ignored),
    Kw::new("snmp_socket", 0, ignored),
    Kw::new("enable_traps", 0, ignored),
    Kw::new("enable_dbus", 0, ignored),
    Kw::new("dbus_service_name", 0, ignored),
    Kw::new("smtp_alert_checker", 0, lvs_ignored),
    Kw::new("checker_log_all_failures", 0, lvs_ignored),
    Kw::new("lvs_timeouts", 0, lvs_ignored),
    Kw::new("lvs_flush", 0, lvs_ignored),
    Kw::new("lvs_flush_on_stop", 0, lvs_ignored),
    Kw::new("lvs_flush_onstop", 0, lvs_ignored),
    Kw::new("lvs_sync_daemon", 0, lvs_ignored),
    Kw::new("lvs_notify_fifo", 0, lvs_ignored),
    Kw::new("lvs_notify_fifo_script", 0, lvs_ignored),
    Kw::new("process_monitor_rcv_bufs", 0, ignored),
    Kw::new("process_monitor_rcv_bufs_force", 0, ignored),
    Kw::new("lvs_netlink_cmd_rcv_bufs", 0, ignored),
    Kw::new("lvs_netlink_cmd_rcv_bufs_force", 0, ignored),
    Kw::new("lvs_netlink_monitor_rcv_bufs", 0, ignored),
    Kw::new("lvs_netlink_monitor_rcv_bufs_force", 0, ignored),
    Kw::new("checker_priority", 0, lvs_ignored),
    Kw::new("checker_no_swap", 0, lvs_ignored),
    Kw::new("checker_rt_priority", 0, lvs_ignored),
    Kw::new("checker_cpu_affinity", 0, lvs_ignored),
    Kw::new("checker_rlimit_rttime", 0, lvs_ignored),
    Kw::new("checker_rlimit_rtime", 0, lvs_ignored),
    Kw::new("bfd_priority", 0, lvs_ignored),
    Kw::new("bfd_no_swap", 0, lvs_ignored),
    Kw::new("bfd_rt_priority", 0, lvs_ignored),
    Kw::new("bfd_cpu_affinity", 0, lvs_ignored),
    Kw::new("bfd_rlimit_rttime", 0, lvs_ignored),
    Kw::new("bfd_rlimit_rtime", 0, lvs_ignored),
    Kw::new("rs_init_notifies", 0, lvs_ignored),
    Kw::new("no_checker_emails", 0, lvs_ignored),
    Kw::ext("smtp_tls", 1, smtp_tls),
    Kw::ext("smtp_auth_file", 1, smtp_auth_file),
    Kw::ext("vrrp_backup_on_owned_deletion", 0, vrrp_backup_on_owned_deletion),
    Kw::ext("status_socket", 1, status_socket),
    Kw::ext("prometheus_listen", 1, prometheus_listen),
];

/// Global keywords kad accepts and does not act on, by family, for the notes.
fn ignored(p: &mut Parser<'_>, line: &Line) {
    let name = &line.tokens[0].text;
    p.note(line, format!("'{name}' is accepted for compatibility and has no effect in kad"));
}

fn lvs_ignored(p: &mut Parser<'_>, line: &Line) {
    let name = &line.tokens[0].text;
    p.note(line, format!("'{name}' concerns keepalived's LVS checker or BFD, which kad does not implement; ignored"));
}

fn g<'p>(p: &'p mut Parser<'_>) -> &'p mut GlobalDefs {
    &mut p.raw.global
}

fn text(line: &Line, i: usize) -> Option<&str> {
    line.tokens.get(i).map(|t| t.text.as_str())
}

fn router_id(p: &mut Parser<'_>, line: &Line) {
    match text(line, 1) {
        Some(id) => g(p).router_id = Some(id.to_string()),
        None => p.general(line, Some(0), "routerid name missing - ignoring".into()),
    }
}

fn email_from(p: &mut Parser<'_>, line: &Line) {
    match text(line, 1) {
        Some(from) => g(p).notification_email_from = Some(from.to_string()),
        None => p.general(line, Some(0), "emailfrom missing - ignoring".into()),
    }
}

fn smtp_server(p: &mut Parser<'_>, line: &Line) {
    let host = text(line, 1).unwrap_or_default();
    let port_str = text(line, 2).unwrap_or("25");
    let port = port_str.parse::<u16>().ok().filter(|p| *p != 0);
    let host_ok = parse_ip(host).is_some() || is_hostname(host);
    match port.filter(|_| host_ok) {
        Some(port) => g(p).smtp_server = Some(SmtpServer { host: host.to_string(), port }),
        None => p.general(line, Some(1), format!("Invalid smtp server {host} {port_str}")),
    }
}

fn is_hostname(s: &str) -> bool {
    !s.is_empty()
        && s.len() <= 253
        && s.split('.').all(|label| {
            !label.is_empty()
                && label.len() <= 63
                && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
                && !label.starts_with('-')
        })
}

fn smtp_helo(p: &mut Parser<'_>, line: &Line) {
    if let Some(name) = text(line, 1) {
        g(p).smtp_helo_name = Some(name.to_string());
    }
}

fn smtp_timeout(p: &mut Parser<'_>, line: &Line) {
    let max = (u64::from(u32::MAX) / TIMER_HZ) as u32;
    let Ok(mut timeout) = p.unsigned(line, 1, 0, max) else {
        let v = text(line, 1).unwrap_or_default().to_string();
        p.general(line, Some(1), format!("smtp_connect_timeout '{v}' must be in [0, {max}] - ignoring"));
        return;
    };
    if timeout == 0 {
        p.general(line, Some(1), "smtp_conect_timeout must be greater than 0, setting to 1".into());
        timeout = 1;
    }
    g(p).smtp_connect_timeout = secs(u64::from(timeout));
}

fn notification_email<'a>(p: &mut Parser<'a>, line: &'a Line) {
    let words = p.read_value_block(line);
    if words.is_empty() {
        p.general(line, Some(0), "Warning - empty notification_email block".into());
        return;
    }
    g(p).notification_email.extend(words.into_iter().map(|(w, _)| w));
}

/// `KEYWORD [BOOL]` with keepalived's "Invalid value" message.
fn bool_arg(p: &mut Parser<'_>, line: &Line, message: impl FnOnce(&str) -> String) -> Option<bool> {
    let v = Parser::opt_bool(line);
    if v.is_none() {
        let arg = text(line, 1).unwrap_or_default();
        p.general(line, Some(1), message(arg));
    }
    v
}

fn smtp_alert(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = bool_arg(p, line, |a| format!("Invalid value '{a}' for global smtp_alert specified")) {
        g(p).smtp_alert = Some(v);
    }
}

fn smtp_alert_vrrp(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = bool_arg(p, line, |a| format!("Invalid value '{a}' for global smtp_alert_vrrp specified")) {
        g(p).smtp_alert_vrrp = Some(v);
    }
}

fn no_email_faults(p: &mut Parser<'_>, _: &Line) {
    g(p).no_email_faults = true;
}

fn startup_script(p: &mut Parser<'_>, line: &Line) {
    start_stop_script(p, line, "startup");
}

fn shutdown_script(p: &mut Parser<'_>, line: &Line) {
    start_stop_script(p, line, "shutdown");
}

fn start_stop_script(p: &mut Parser<'_>, line: &Line, kind: &str) {
    let already = if kind == "startup" { g(p).startup_script.is_some() } else { g(p).shutdown_script.is_some() };
    if already {
        p.general(line, Some(0), format!("{kind} script already specified"));
        return;
    }
    if line.tokens.len() < 2 {
        p.general(line, Some(0), format!("{kind} script missing"));
        return;
    }
    let Some(cmd) = notify_script(p, line, kind) else {
        p.general(line, Some(1), format!("Invalid {kind} script"));
        return;
    };
    if kind == "startup" {
        g(p).startup_script = Some(cmd);
    } else {
        g(p).shutdown_script = Some(cmd);
    }
}

fn startup_timeout(p: &mut Parser<'_>, line: &Line) {
    if let Some(t) = start_stop_timeout(p, line, "startup") {
        g(p).startup_script_timeout = t;
    }
}

fn shutdown_timeout(p: &mut Parser<'_>, line: &Line) {
    if let Some(t) = start_stop_timeout(p, line, "shutdown") {
        g(p).shutdown_script_timeout = t;
    }
}

fn start_stop_timeout(p: &mut Parser<'_>, line: &Line, kind: &str) -> Option<Duration> {
    if line.tokens.len() < 2 {
        p.general(line, Some(0), format!("{kind}_script_timeout requires value"));
        return None;
    }
    match p.unsigned(line, 1, 1, 1000) {
        Ok(v) => Some(secs(u64::from(v))),
        Err(()) => {
            let v = text(line, 1).unwrap_or_default().to_string();
            p.general(line, Some(1), format!("{kind}_script_timeout '{v}' must be in [1, 1000] - ignoring"));
            None
        }
    }
}

fn script_security(p: &mut Parser<'_>, _: &Line) {
    g(p).enable_script_security = true;
}

fn script_user(p: &mut Parser<'_>, line: &Line) {
    let Some(user) = text(line, 1) else {
        p.general(line, Some(0), "No script username specified".into());
        return;
    };
    let group = text(line, 2);
    let ok = super::blocks::user_exists(user) && group.is_none_or(super::blocks::group_exists);
    p.default_user = if ok { DefaultUser::Resolved } else { DefaultUser::Failed };
    g(p).script_user = Some((user.to_string(), group.map(str::to_string)));
    if !ok {
        p.general(line, Some(1), "Error setting global script uid/gid".into());
    }
}

fn use_symlink_paths(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = bool_arg(p, line, |a| format!("Invalid value '{a}' for use_symlink_paths specified")) {
        g(p).use_symlink_paths = v;
    }
}

fn set_supplementary_groups(p: &mut Parser<'_>, _: &Line) {
    g(p).set_supplementary_groups = true;
}

fn dynamic_interfaces(p: &mut Parser<'_>, line: &Line) {
    g(p).dynamic_interfaces = true;
    if let Some(opt) = text(line, 1) {
        if opt != "allow_if_changes" {
            p.general(line, Some(1), format!("Unknown dynamic_interfaces option '{opt}'"));
        }
    }
}

fn default_interface(p: &mut Parser<'_>, line: &Line) {
    match text(line, 1) {
        Some(name) => g(p).default_interface = name.to_string(),
        None => p.general(line, Some(0), "default_interface requires interface name".into()),
    }
}

fn mcast_group(p: &mut Parser<'_>, line: &Line, v6: bool) -> Option<IpAddr> {
    let kw = if v6 { "vrrp_mcast_group6" } else { "vrrp_mcast_group4" };
    let s = text(line, 1).unwrap_or_default();
    let Some(addr) = parse_ip(s) else {
        p.general(line, Some(1), format!("Can't parse {kw} [{s}]. Skipping"));
        return None;
    };
    if addr.is_ipv6() != v6 {
        let fam = if v6 { "IPv6" } else { "IPv4" };
        p.general(line, Some(1), format!("{kw} [{s}] is not {fam}. Skipping"));
        return None;
    }
    if !addr.is_multicast() {
        p.general(line, Some(1), format!("{kw} [{s}] is not multicast. Skipping"));
        return None;
    }
    if let IpAddr::V6(a) = addr {
        if a.segments()[0] & 0xff0f != 0xff02 {
            p.error(ErrClass::Warning, line, Some(1), format!("{kw} [{s}] should be link-local multicast."));
        }
    }
    Some(addr)
}

fn mcast_group4(p: &mut Parser<'_>, line: &Line) {
    if let Some(a) = mcast_group(p, line, false) {
        g(p).vrrp_mcast_group4 = a;
    }
}

fn mcast_group6(p: &mut Parser<'_>, line: &Line) {
    if let Some(a) = mcast_group(p, line, true) {
        g(p).vrrp_mcast_group6 = a;
    }
}

/// `KEYWORD N` with a keyword-specific message after keepalived's number error.
fn unsigned_or(p: &mut Parser<'_>, line: &Line, min: u32, max: u32, message: impl FnOnce(&str) -> String) -> Option<u32> {
    match p.unsigned(line, 1, min, max) {
        Ok(v) => Some(v),
        Err(()) => {
            let v = text(line, 1).unwrap_or_default().to_string();
            p.general(line, Some(1), message(&v));
            None
        }
    }
}

const MAX_DELAY_SECS: u32 = (u32::MAX as u64 / TIMER_HZ) as u32;

fn garp_delay(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = unsigned_or(p, line, 0, MAX_DELAY_SECS, |v| format!("vrrp_garp_master_delay '{v}' invalid - ignoring")) {
        g(p).vrrp_garp_master_delay = secs(u64::from(v));
    }
}

fn garp_repeat(p: &mut Parser<'_>, line: &Line) {
    if let Some(mut v) = unsigned_or(p, line, 0, u32::MAX, |v| format!("vrrp_garp_master_repeat '{v}' invalid - ignoring")) {
        if v == 0 {
            p.general(line, Some(1), "vrrp_garp_master_repeat must be greater than 0, setting to 1".into());
            v = 1;
        }
        g(p).vrrp_garp_master_repeat = v;
    }
}

fn garp_refresh(p: &mut Parser<'_>, line: &Line) {
    let v = unsigned_or(p, line, 0, u32::MAX, |v| format!("Invalid vrrp_garp_master_refresh '{v}' - ignoring"));
    g(p).vrrp_garp_master_refresh = secs(u64::from(v.unwrap_or(0)));
}

fn garp_refresh_repeat(p: &mut Parser<'_>, line: &Line) {
    if let Some(mut v) =
        unsigned_or(p, line, 0, u32::MAX, |v| format!("vrrp_garp_master_refresh_repeat '{v}' invalid - ignoring"))
    {
        if v == 0 {
            p.general(line, Some(1), "vrrp_garp_master_refresh_repeat must be greater than 0, setting to 1".into());
            v = 1;
        }
        g(p).vrrp_garp_master_refresh_repeat = v;
    }
}

fn garp_lower_prio_delay(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = unsigned_or(p, line, 0, MAX_DELAY_SECS, |v| format!("vrrp_garp_lower_prio_delay '{v}' invalid - ignoring")) {
        g(p).vrrp_garp_lower_prio_delay = Some(secs(u64::from(v)));
    }
}

fn garp_lower_prio_repeat(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = unsigned_or(p, line, 0, i32::MAX as u32, |v| format!("Invalid vrrp_garp_lower_prio_repeat '{v}'")) {
        g(p).vrrp_garp_lower_prio_repeat = Some(v);
    }
}

fn down_timer_adverts(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = unsigned_or(p, line, 1, 100, |v| format!("Invalid vrrp_down_timer_adverts [1:100] '{v}'")) {
        g(p).vrrp_down_timer_adverts = v;
    }
}

fn interval_us(p: &mut Parser<'_>, line: &Line, kw: &str) -> Option<Duration> {
    match p.decimal(line, 1, 1, u64::from(u32::MAX), 6) {
        Ok(v) => {
            if v >= TIMER_HZ {
                let s = text(line, 1).unwrap_or_default().to_string();
                p.note(line, format!("The {kw} is very large - {s} seconds"));
            }
            Some(values::micros(v))
        }
        Err(()) => {
            let s = text(line, 1).unwrap_or_default().to_string();
            p.general(line, Some(1), format!("{kw} '{s}' is invalid"));
            None
        }
    }
}

fn garp_interval(p: &mut Parser<'_>, line: &Line) {
    if let Some(d) = interval_us(p, line, "vrrp_garp_interval") {
        g(p).vrrp_garp_interval = d;
    }
}

fn gna_interval(p: &mut Parser<'_>, line: &Line) {
    if let Some(d) = interval_us(p, line, "vrrp_gna_interval") {
        g(p).vrrp_gna_interval = d;
    }
}

fn min_garp(p: &mut Parser<'_>, line: &Line) {
    let Some(on) = bool_arg(p, line, |_| "Invalid value for vrrp_min_garp specified".into()) else {
        return;
    };
    if !on {
        return;
    }
    let d = GlobalDefs::default();
    let gl = g(p);
    gl.vrrp_min_garp = true;
    // Only values still at their defaults change, as in keepalived.
    if gl.vrrp_garp_master_repeat == d.vrrp_garp_master_repeat {
        gl.vrrp_garp_master_repeat = 1;
    }
    if gl.vrrp_garp_master_refresh == d.vrrp_garp_master_refresh {
        gl.vrrp_garp_master_refresh = Duration::ZERO;
    }
    if gl.vrrp_garp_master_refresh_repeat == d.vrrp_garp_master_refresh_repeat {
        gl.vrrp_garp_master_refresh_repeat = 0;
    }
    if gl.vrrp_garp_master_delay == d.vrrp_garp_master_delay {
        gl.vrrp_garp_master_delay = Duration::ZERO;
    }
}

fn garp_extra_if(p: &mut Parser<'_>, line: &Line) {
    let kw = line.tokens[0].text.as_str();
    if kw == "vrrp_vmac_garp_intvl" {
        p.error(
            ErrClass::Deprecated,
            line,
            Some(0),
            "Keyword \"vrrp_vmac_garp_intvl\" is deprecated - please use \"vrrp_garp_extra_if\"".into(),
        );
    }
    let mut all = false;
    let mut delay = 0;
    for i in 1..line.tokens.len() {
        if line.tokens[i].text == "all" {
            all = true;
        } else {
            match p.unsigned(line, i, 1, 86400) {
                Ok(v) => delay = v,
                Err(()) => {
                    let v = line.tokens[i].text.to_string();
                    p.general(line, Some(i), format!("{kw} '{v}' invalid - ignoring"));
                    return;
                }
            }
        }
    }
    if delay == 0 {
        p.general(line, Some(0), format!("{kw} specified without time - ignoring"));
        return;
    }
    g(p).vrrp_garp_extra_if = Some(GarpExtraIf { all, interval: secs(u64::from(delay)) });
}

fn lower_prio_no_advert(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = bool_arg(p, line, |_| "Invalid value for vrrp_lower_prio_no_advert specified".into()) {
        g(p).vrrp_lower_prio_no_advert = v;
    }
}

fn higher_prio_send_advert(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = bool_arg(p, line, |_| "Invalid value for vrrp_higher_prio_send_advert specified".into()) {
        g(p).vrrp_higher_prio_send_advert = v;
    }
}

fn vrrp_version(p: &mut Parser<'_>, line: &Line) {
    match p.int(line, 1, 2, 3) {
        Ok(v) => g(p).vrrp_version = v as u8,
        Err(()) => p.general(line, Some(1), "VRRP Error: Version must be either 2 or 3".into()),
    }
}

fn vrrp_iptables(p: &mut Parser<'_>, line: &Line) {
    // Debian's keepalived is built with nftables only and says so.
    p.general(
        line,
        Some(0),
        "iptables not supported, using nftables instead. Please replace 'vrrp_iptables and 'vrrp_ipsets' with 'nftables' config option"
            .into(),
    );
}

fn check_unicast_src(p: &mut Parser<'_>, _: &Line) {
    g(p).vrrp_check_unicast_src = true;
}

fn skip_check_adv_addr(p: &mut Parser<'_>, _: &Line) {
    g(p).vrrp_skip_check_adv_addr = true;
}

fn vrrp_strict(p: &mut Parser<'_>, _: &Line) {
    g(p).vrrp_strict = true;
}

fn v3_checksum_as_v2(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = bool_arg(p, line, |a| format!("Invalid value '{a}' for v3_checksum_as_v2 specified")) {
        g(p).v3_checksum_as_v2 = v;
    }
}

fn owner_ignore_adverts(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = bool_arg(p, line, |a| format!("Invalid value '{a}' for vrrp_owner_ignore_adverts specified")) {
        g(p).vrrp_owner_ignore_adverts = v;
    }
}

fn fifo(p: &mut Parser<'_>, line: &Line, prefix: &str, which: fn(&mut GlobalDefs) -> &mut Option<FifoSpec>) {
    let Some(name) = text(line, 1) else {
        p.general(line, Some(0), format!("No {prefix}notify_fifo name specified"));
        return;
    };
    if which(g(p)).as_ref().is_some_and(|f| !f.path.is_empty()) {
        p.general(line, Some(1), format!("{prefix}notify_fifo already specified - ignoring {name}"));
        return;
    }
    let user = text(line, 2).map(str::to_string);
    let group = text(line, 3).map(str::to_string);
    if let Some(u) = &user {
        if !super::blocks::user_exists(u) || group.as_deref().is_some_and(|g| !super::blocks::group_exists(g)) {
            p.note(line, format!("Invalid user/group for {prefix} fifo {name} - ignoring"));
            return;
        }
    } else if !p.default_script_user(line) {
        p.note(line, format!("Failed to set default user for {prefix} fifo {name} - ignoring"));
        return;
    }
    let spec = which(g(p)).get_or_insert_with(|| FifoSpec { path: String::new(), user: None, group: None, script: None });
    spec.path = name.to_string();
    spec.user = user;
    spec.group = group;
}

fn fifo_script(p: &mut Parser<'_>, line: &Line, prefix: &str, which: fn(&mut GlobalDefs) -> &mut Option<FifoSpec>) {
    if line.tokens.len() < 2 {
        p.general(line, Some(0), format!("No {prefix}notify_fifo_script specified"));
        return;
    }
    if which(g(p)).as_ref().is_some_and(|f| f.script.is_some()) {
        let s = text(line, 1).unwrap_or_default().to_string();
        p.general(line, Some(1), format!("{prefix}notify_fifo_script already specified - ignoring {s}"));
        return;
    }
    let Some(cmd) = notify_script(p, line, &format!("{prefix}notify_fifo")) else { return };
    let spec = which(g(p)).get_or_insert_with(|| FifoSpec { path: String::new(), user: None, group: None, script: None });
    spec.script = Some(cmd);
}

fn global_fifo(g: &mut GlobalDefs) -> &mut Option<FifoSpec> {
    &mut g.notify_fifo
}

fn vrrp_fifo(g: &mut GlobalDefs) -> &mut Option<FifoSpec> {
    &mut g.vrrp_notify_fifo
}

fn notify_fifo(p: &mut Parser<'_>, line: &Line) {
    fifo(p, line, "", global_fifo);
}

fn notify_fifo_script(p: &mut Parser<'_>, line: &Line) {
    fifo_script(p, line, "", global_fifo);
}

fn vrrp_notify_fifo(p: &mut Parser<'_>, line: &Line) {
    fifo(p, line, "vrrp_", vrrp_fifo);
}

fn vrrp_notify_fifo_script(p: &mut Parser<'_>, line: &Line) {
    fifo_script(p, line, "vrrp_", vrrp_fifo);
}

fn notify_priority_changes(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) =
        bool_arg(p, line, |a| format!("Invalid value '{a}' for global vrrp_notify_priority_changes specified"))
    {
        g(p).vrrp_notify_priority_changes = v;
    }
}

fn fifo_write_states(p: &mut Parser<'_>, _: &Line) {
    g(p).fifo_write_vrrp_states_on_reload = true;
}

fn startup_delay(p: &mut Parser<'_>, line: &Line) {
    match p.decimal(line, 1, TIMER_HZ / 1000, u64::from(u32::MAX), 6) {
        Ok(v) => {
            if v >= 60 * TIMER_HZ {
                let s = text(line, 1).unwrap_or_default().to_string();
                p.note(line, format!("The vrrp_startup_delay is very large - {s} seconds"));
            }
            g(p).vrrp_startup_delay = Some(values::micros(v));
        }
        Err(()) => {
            let s = text(line, 1).unwrap_or_default().to_string();
            p.general(line, Some(1), format!("vrrp_startup_delay '{s}' is invalid"));
        }
    }
}

fn log_unknown_vrids(p: &mut Parser<'_>, _: &Line) {
    g(p).log_unknown_vrids = true;
}

fn vmac_prefix(p: &mut Parser<'_>, line: &Line) {
    let v = text(line, 1).unwrap_or_default().to_string();
    if g(p).vmac_prefix.is_some() {
        p.general(line, Some(1), format!("vmac prefix has already been specified - ignoring {v}"));
        return;
    }
    g(p).vmac_prefix = Some(v);
}

fn vmac_addr_prefix(p: &mut Parser<'_>, line: &Line) {
    let v = text(line, 1).unwrap_or_default().to_string();
    if g(p).vmac_addr_prefix.is_some() {
        p.general(line, Some(1), format!("vmac_addr prefix has already been specified - ignoring {v}"));
        return;
    }
    g(p).vmac_addr_prefix = Some(v);
}

fn umask(p: &mut Parser<'_>, line: &Line) {
    let mask = text(line, 1).unwrap_or_default();
    if mask.starts_with(|c: char| c.is_ascii_digit()) {
        if line.tokens.len() != 2 {
            p.general(line, Some(2), "Extra parameter(s) to umask option".into());
            return;
        }
        match values::strtoul0(mask) {
            Some((v, "")) if v & !0o777 == 0 => g(p).umask = Some(v as u32),
            _ => p.general(line, Some(1), format!("invalid umask value {mask}")),
        }
        return;
    }
    let mut bits = 0u32;
    let mut need_or = false;
    for i in 1..line.tokens.len() {
        let mut rest = line.tokens[i].text.as_str();
        while !rest.is_empty() {
            if need_or {
                if let Some(r) = rest.strip_prefix('|') {
                    need_or = false;
                    rest = r;
                    continue;
                }
                let w = line.tokens[i].text.to_string();
                p.general(line, Some(i), format!("Invalid umask syntax {w}"));
                return;
            }
            let bit = match rest.get(..5) {
                Some("IRUSR") => 0o400,
                Some("IWUSR") => 0o200,
                Some("IXUSR") => 0o100,
                Some("IRGRP") => 0o040,
                Some("IWGRP") => 0o020,
                Some("IXGRP") => 0o010,
                Some("IROTH") => 0o004,
                Some("IWOTH") => 0o002,
                Some("IXOTH") => 0o001,
                _ => {
                    p.general(line, Some(i), format!("Unknown umask bit {rest}"));
                    return;
                }
            };
            bits |= bit;
            rest = &rest[5..];
            need_or = true;
        }
    }
    if !need_or {
        p.general(line, Some(0), "umask missing bit value".into());
        return;
    }
    g(p).umask = Some(bits);
}

fn random_seed(p: &mut Parser<'_>, line: &Line) {
    match p.unsigned(line, 1, 0, u32::MAX) {
        Ok(v) => g(p).random_seed = Some(v),
        Err(()) => {
            let v = text(line, 1).unwrap_or_default().to_string();
            p.general(line, Some(1), format!("random_seed {v} invalid"));
        }
    }
}

fn reload_check_config(p: &mut Parser<'_>, line: &Line) {
    g(p).reload_check_config = Some(text(line, 1).map(str::to_string));
}

fn data_use_instance(p: &mut Parser<'_>, line: &Line) {
    if let Some(v) = bool_arg(p, line, |a| format!("Invalid value '{a}' for global date_use_instance specified")) {
        g(p).data_use_instance = v;
    }
}

fn json_version(p: &mut Parser<'_>, line: &Line) {
    match p.unsigned(line, 1, 1, 2) {
        Ok(v) => g(p).json_version = v as u8,
        Err(()) => {
            let v = text(line, 1).unwrap_or_default().to_string();
            p.general(line, Some(1), format!("Invalid json_version {v}"));
        }
    }
}

fn state_dump_file(p: &mut Parser<'_>, line: &Line) {
    g(p).state_dump_file = text(line, 1).map(str::to_string);
}

fn stats_dump_file(p: &mut Parser<'_>, line: &Line) {
    g(p).stats_dump_file = text(line, 1).map(str::to_string);
}

fn json_dump_file(p: &mut Parser<'_>, line: &Line) {
    g(p).json_dump_file = text(line, 1).map(str::to_string);
}

fn smtp_tls(p: &mut Parser<'_>, line: &Line) {
    match text(line, 1) {
        Some("starttls") => g(p).smtp_tls = SmtpTls::StartTls,
        Some("implicit") => g(p).smtp_tls = SmtpTls::Implicit,
        Some("none") => g(p).smtp_tls = SmtpTls::None,
        other => {
            let mut d = p.diag_at(
                ErrClass::GeneralError,
                line,
                Some(1),
                format!("Invalid smtp_tls mode '{}' - ignoring", other.unwrap_or_default()),
            );
            d.expected = Some("starttls, implicit or none".into());
            p.diags.push(d);
        }
    }
}

fn smtp_auth_file(p: &mut Parser<'_>, line: &Line) {
    g(p).smtp_auth_file = text(line, 1).map(str::to_string);
}

fn vrrp_backup_on_owned_deletion(p: &mut Parser<'_>, _: &Line) {
    g(p).vrrp_backup_on_owned_deletion = true;
}

fn status_socket(p: &mut Parser<'_>, line: &Line) {
    g(p).status_socket = text(line, 1).map(str::to_string);
}

fn prometheus_listen(p: &mut Parser<'_>, line: &Line) {
    let v = text(line, 1).unwrap_or_default();
    if v.parse::<std::net::SocketAddr>().is_err() {
        let mut d =
            p.diag_at(ErrClass::GeneralError, line, Some(1), format!("Invalid prometheus_listen address '{v}' - ignoring"));
        d.expected = Some("ADDR:PORT (e.g. 127.0.0.1:9650 or [::1]:9650)".into());
        p.diags.push(d);
        return;
    }
    g(p).prometheus_listen = Some(v.to_string());
}

/// Notify-style script keyword: the command, and its user checked as keepalived does
/// (a script whose user cannot be resolved is dropped).
pub(crate) fn notify_script(p: &mut Parser<'_>, line: &Line, kind: &str) -> Option<ScriptCommand> {
    let cmd = script_command(p, line)?;
    match &cmd.user {
        Some(user) => {
            let group_ok = cmd.group.as_deref().is_none_or(super::blocks::group_exists);
            if !super::blocks::user_exists(user) || !group_ok {
                let prog = cmd.argv[0].clone();
                p.note(line, format!("Invalid user/group for {kind} script {prog} - ignoring"));
                return None;
            }
        }
        None => {
            if !p.default_script_user(line) {
                let prog = cmd.argv[0].clone();
                p.note(line, format!("Failed to set default user for {kind} script {prog} - ignoring"));
                return None;
            }
        }
    }
    Some(cmd)
}
