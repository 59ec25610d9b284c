//! `-d`: the resolved Config printed back in keepalived.conf syntax (after includes,
//! substitutions, defaults and keepalived's derived rules), such that reading the output
//! again gives an equal Config.
//!
//! Instances show their derived values explicitly (state, priority, version, accept,
//! GARP settings…); global_defs shows what differs from keepalived's defaults. Sections
//! kad skipped are listed as comments.

use super::model::*;
use super::parser::script::{quote_command, quote_word};
use std::fmt::Write as _;
use std::net::IpAddr;
use std::time::Duration;

/// The configuration as keepalived.conf text.
pub fn dump(config: &Config) -> String {
    let mut w = Writer::default();
    if !config.skipped.is_empty() {
        w.line("# sections kad does not implement (skipped):");
        for s in &config.skipped {
            w.line(&format!("#   {} ({}:{})", s.keyword, s.span.file, s.span.line));
        }
    }
    global(&mut w, &config.global);
    for t in &config.track_files {
        track_file(&mut w, t);
    }
    for s in &config.scripts {
        script(&mut w, s);
    }
    for g in &config.track_groups {
        w.open(&format!("track_group {}", word(&g.name)));
        w.list("group", &g.members);
        w.close();
    }
    for g in &config.garp_groups {
        w.open("garp_group");
        if let Some(d) = g.garp_interval {
            w.line(&format!("garp_interval {}", secs(d)));
        }
        if let Some(d) = g.gna_interval {
            w.line(&format!("gna_interval {}", secs(d)));
        }
        w.list("interfaces", &g.interfaces);
        w.close();
    }
    if !config.linkbeat_interfaces.is_empty() {
        w.open("linkbeat_interfaces");
        for l in &config.linkbeat_interfaces {
            match &l.method {
                Some(m) => w.line(&format!("{} {}", word(&l.interface), word(m))),
                None => w.line(&word(&l.interface)),
            }
        }
        w.close();
    }
    if !config.interface_delays.is_empty() {
        w.open("interface_up_down_delays");
        for d in &config.interface_delays {
            w.line(&format!("{} {} {}", word(&d.interface), secs(d.down), secs(d.up)));
        }
        w.close();
    }
    entries(&mut w, "static_ipaddress", config.static_addresses.iter().map(address));
    entries(&mut w, "static_routes", config.static_routes.iter().map(route));
    entries(&mut w, "static_rules", config.static_rules.iter().map(rule));
    for i in &config.instances {
        instance(&mut w, i, &config.global);
    }
    for g in &config.sync_groups {
        sync_group(&mut w, g);
    }
    let end = w.out.trim_end().len();
    w.out.truncate(end);
    w.out.push('\n');
    w.out
}

/// Equal configurations, ignoring where things were written (spans) and the list of
/// skipped sections (which the dump can only mention).
pub fn same_config(a: &Config, b: &Config) -> bool {
    normalized(a) == normalized(b)
}

fn normalized(c: &Config) -> serde_json::Value {
    fn strip(v: &mut serde_json::Value) {
        match v {
            serde_json::Value::Object(map) => {
                map.remove("span");
                map.values_mut().for_each(strip);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(strip),
            _ => {}
        }
    }
    let mut v = serde_json::to_value(c).unwrap_or(serde_json::Value::Null);
    if let serde_json::Value::Object(map) = &mut v {
        map.remove("skipped");
    }
    strip(&mut v);
    v
}

#[derive(Default)]
struct Writer {
    out: String,
    depth: usize,
}

impl Writer {
    fn line(&mut self, s: &str) {
        for _ in 0..self.depth {
            self.out.push_str("    ");
        }
        self.out.push_str(s);
        self.out.push('\n');
    }
    fn open(&mut self, s: &str) {
        self.line(&format!("{s} {{"));
        self.depth += 1;
    }
    fn close(&mut self) {
        self.depth = self.depth.saturating_sub(1);
        self.line("}");
        if self.depth == 0 {
            self.out.push('\n');
        }
    }
    fn list(&mut self, name: &str, items: &[String]) {
        self.open(name);
        for i in items {
            self.line(&word(i));
        }
        self.close();
    }
    fn flag(&mut self, on: bool, s: &str) {
        if on {
            self.line(s);
        }
    }
}

fn entries(w: &mut Writer, name: &str, lines: impl Iterator<Item = String>) {
    let lines: Vec<String> = lines.collect();
    if lines.is_empty() {
        return;
    }
    w.open(name);
    for l in lines {
        w.line(&l);
    }
    w.close();
}

/// A value as one configuration word: double quotes when it would not survive as a bare
/// word (the lexer takes "…" literally).
fn word(s: &str) -> String {
    let plain = !s.is_empty() && !s.chars().any(|c| c.is_whitespace() || matches!(c, '"' | '#' | '!' | '{' | '}' | '$'));
    if plain {
        s.to_string()
    } else {
        format!("\"{s}\"")
    }
}

fn on_off(b: bool) -> &'static str {
    if b {
        "true"
    } else {
        "false"
    }
}

/// Seconds with up to microsecond decimals, without trailing zeros.
fn secs(d: Duration) -> String {
    let us = d.as_micros();
    if us % 1_000_000 == 0 {
        return (us / 1_000_000).to_string();
    }
    let s = format!("{}.{:06}", us / 1_000_000, us % 1_000_000);
    s.trim_end_matches('0').to_string()
}

fn prefix(p: &Prefix) -> String {
    format!("{}/{}", p.addr, p.len)
}

/// A script keyword line: the command string exactly as read, then its user and group.
fn script_line(kw: &str, s: &ScriptCommand) -> String {
    let command = if s.raw.is_empty() { quote_command(&s.argv) } else { quote_word(&s.raw, '"') };
    let mut line = format!("{kw} {command}");
    if let Some(u) = &s.user {
        let _ = write!(line, " {}", word(u));
        if let Some(g) = &s.group {
            let _ = write!(line, " {}", word(g));
        }
    }
    line
}

fn global(w: &mut Writer, g: &GlobalDefs) {
    let d = GlobalDefs::default();
    w.open("global_defs");
    if let Some(r) = &g.router_id {
        w.line(&format!("router_id {}", word(r)));
    }
    if !g.notification_email.is_empty() {
        w.list("notification_email", &g.notification_email);
    }
    if let Some(f) = &g.notification_email_from {
        w.line(&format!("notification_email_from {}", word(f)));
    }
    if let Some(s) = &g.smtp_server {
        w.line(&format!("smtp_server {} {}", word(&s.host), s.port));
    }
    if let Some(h) = &g.smtp_helo_name {
        w.line(&format!("smtp_helo_name {}", word(h)));
    }
    if g.smtp_connect_timeout != d.smtp_connect_timeout {
        w.line(&format!("smtp_connect_timeout {}", g.smtp_connect_timeout.as_secs()));
    }
    if let Some(v) = g.smtp_alert {
        w.line(&format!("smtp_alert {}", on_off(v)));
    }
    if let Some(v) = g.smtp_alert_vrrp {
        w.line(&format!("smtp_alert_vrrp {}", on_off(v)));
    }
    w.flag(g.no_email_faults, "no_email_faults");
    match g.smtp_tls {
        SmtpTls::None => {}
        SmtpTls::StartTls => w.line("smtp_tls starttls"),
        SmtpTls::Implicit => w.line("smtp_tls implicit"),
    }
    if let Some(f) = &g.smtp_auth_file {
        w.line(&format!("smtp_auth_file {}", word(f)));
    }
    w.flag(g.enable_script_security, "enable_script_security");
    if let Some((u, grp)) = &g.script_user {
        match grp {
            Some(grp) => w.line(&format!("script_user {} {}", word(u), word(grp))),
            None => w.line(&format!("script_user {}", word(u))),
        }
    }
    w.flag(g.use_symlink_paths, "use_symlink_paths true");
    w.flag(g.set_supplementary_groups, "set_supplementary_groups");
    if let Some(s) = &g.startup_script {
        w.line(&script_line("startup_script", s));
    }
    if g.startup_script_timeout != d.startup_script_timeout {
        w.line(&format!("startup_script_timeout {}", g.startup_script_timeout.as_secs()));
    }
    if let Some(s) = &g.shutdown_script {
        w.line(&script_line("shutdown_script", s));
    }
    if g.shutdown_script_timeout != d.shutdown_script_timeout {
        w.line(&format!("shutdown_script_timeout {}", g.shutdown_script_timeout.as_secs()));
    }
    if g.vrrp_version != d.vrrp_version {
        w.line(&format!("vrrp_version {}", g.vrrp_version));
    }
    if g.vrrp_mcast_group4 != d.vrrp_mcast_group4 {
        w.line(&format!("vrrp_mcast_group4 {}", g.vrrp_mcast_group4));
    }
    if g.vrrp_mcast_group6 != d.vrrp_mcast_group6 {
        w.line(&format!("vrrp_mcast_group6 {}", g.vrrp_mcast_group6));
    }
    // vrrp_min_garp first: it changes only values still at their defaults.
    let mut base = d.clone();
    if g.vrrp_min_garp {
        w.line("vrrp_min_garp true");
        base.vrrp_garp_master_repeat = 1;
        base.vrrp_garp_master_refresh = Duration::ZERO;
        base.vrrp_garp_master_refresh_repeat = 0;
        base.vrrp_garp_master_delay = Duration::ZERO;
    }
    if g.vrrp_garp_master_delay != base.vrrp_garp_master_delay {
        w.line(&format!("vrrp_garp_master_delay {}", g.vrrp_garp_master_delay.as_secs()));
    }
    if g.vrrp_garp_master_repeat != base.vrrp_garp_master_repeat {
        w.line(&format!("vrrp_garp_master_repeat {}", g.vrrp_garp_master_repeat));
    }
    if g.vrrp_garp_master_refresh != base.vrrp_garp_master_refresh {
        w.line(&format!("vrrp_garp_master_refresh {}", g.vrrp_garp_master_refresh.as_secs()));
    }
    if g.vrrp_garp_master_refresh_repeat != base.vrrp_garp_master_refresh_repeat {
        w.line(&format!("vrrp_garp_master_refresh_repeat {}", g.vrrp_garp_master_refresh_repeat));
    }
    if let Some(v) = g.vrrp_garp_lower_prio_delay {
        w.line(&format!("vrrp_garp_lower_prio_delay {}", v.as_secs()));
    }
    if let Some(v) = g.vrrp_garp_lower_prio_repeat {
        w.line(&format!("vrrp_garp_lower_prio_repeat {v}"));
    }
    if !g.vrrp_garp_interval.is_zero() {
        w.line(&format!("vrrp_garp_interval {}", secs(g.vrrp_garp_interval)));
    }
    if !g.vrrp_gna_interval.is_zero() {
        w.line(&format!("vrrp_gna_interval {}", secs(g.vrrp_gna_interval)));
    }
    if let Some(x) = &g.vrrp_garp_extra_if {
        let all = if x.all { "all " } else { "" };
        w.line(&format!("vrrp_garp_extra_if {all}{}", x.interval.as_secs()));
    }
    if g.vrrp_down_timer_adverts != d.vrrp_down_timer_adverts {
        w.line(&format!("vrrp_down_timer_adverts {}", g.vrrp_down_timer_adverts));
    }
    w.flag(g.vrrp_lower_prio_no_advert, "vrrp_lower_prio_no_advert true");
    w.flag(g.vrrp_higher_prio_send_advert, "vrrp_higher_prio_send_advert true");
    w.flag(g.vrrp_skip_check_adv_addr, "vrrp_skip_check_adv_addr");
    w.flag(g.vrrp_check_unicast_src, "vrrp_check_unicast_src");
    w.flag(g.vrrp_strict, "vrrp_strict");
    w.flag(g.v3_checksum_as_v2, "v3_checksum_as_v2 true");
    w.flag(g.vrrp_owner_ignore_adverts, "vrrp_owner_ignore_adverts true");
    if let Some(v) = g.vrrp_startup_delay {
        w.line(&format!("vrrp_startup_delay {}", secs(v)));
    }
    w.flag(g.log_unknown_vrids, "log_unknown_vrids");
    w.flag(g.dynamic_interfaces, "dynamic_interfaces");
    if g.default_interface != d.default_interface {
        w.line(&format!("default_interface {}", word(&g.default_interface)));
    }
    if let Some(p) = &g.vmac_prefix {
        w.line(&format!("vmac_prefix {}", word(p)));
    }
    if let Some(p) = &g.vmac_addr_prefix {
        w.line(&format!("vmac_addr_prefix {}", word(p)));
    }
    for (kw, fifo) in [("notify_fifo", &g.notify_fifo), ("vrrp_notify_fifo", &g.vrrp_notify_fifo)] {
        let Some(f) = fifo else { continue };
        let mut line = format!("{kw} {}", word(&f.path));
        if let Some(u) = &f.user {
            let _ = write!(line, " {}", word(u));
            if let Some(grp) = &f.group {
                let _ = write!(line, " {}", word(grp));
            }
        }
        w.line(&line);
        if let Some(s) = &f.script {
            w.line(&script_line(&format!("{kw}_script"), s));
        }
    }
    w.flag(g.vrrp_notify_priority_changes, "vrrp_notify_priority_changes true");
    w.flag(g.fifo_write_vrrp_states_on_reload, "fifo_write_vrrp_states_on_reload");
    if let Some(u) = g.umask {
        w.line(&format!("umask 0{u:o}"));
    }
    match &g.reload_check_config {
        Some(Some(f)) => w.line(&format!("reload_check_config {}", word(f))),
        Some(None) => w.line("reload_check_config"),
        None => {}
    }
    for (kw, v) in [
        ("state_dump_file", &g.state_dump_file),
        ("stats_dump_file", &g.stats_dump_file),
        ("json_dump_file", &g.json_dump_file),
    ] {
        if let Some(v) = v {
            w.line(&format!("{kw} {}", word(v)));
        }
    }
    if g.json_version != d.json_version {
        w.line(&format!("json_version {}", g.json_version));
    }
    w.flag(g.data_use_instance, "data_use_instance true");
    if let Some(s) = g.random_seed {
        w.line(&format!("random_seed {s}"));
    }
    w.flag(g.vrrp_backup_on_owned_deletion, "vrrp_backup_on_owned_deletion");
    if let Some(s) = &g.status_socket {
        w.line(&format!("status_socket {}", word(s)));
    }
    if let Some(s) = &g.prometheus_listen {
        w.line(&format!("prometheus_listen {}", word(s)));
    }
    w.close();
}

fn track_file(w: &mut Writer, t: &TrackFileDef) {
    w.open(&format!("track_file {}", word(&t.name)));
    w.line(&format!("file {}", word(&t.file)));
    if t.weight != 1 || t.weight_reverse {
        let rev = if t.weight_reverse { " reverse" } else { "" };
        w.line(&format!("weight {}{rev}", t.weight));
    }
    if let Some((v, overwrite)) = t.init_file {
        let ow = if overwrite { " overwrite" } else { "" };
        w.line(&format!("init_file {v}{ow}"));
    }
    w.close();
}

fn script(w: &mut Writer, s: &VrrpScript) {
    w.open(&format!("vrrp_script {}", word(&s.name)));
    let cmd = ScriptCommand { user: None, group: None, ..s.script.clone() };
    w.line(&script_line("script", &cmd));
    w.line(&format!("interval {}", secs(s.interval)));
    if let Some(t) = s.timeout {
        w.line(&format!("timeout {}", secs(t)));
    }
    if s.weight != 0 || s.weight_reverse {
        let rev = if s.weight_reverse { " reverse" } else { "" };
        w.line(&format!("weight {}{rev}", s.weight));
    }
    w.line(&format!("rise {}", s.rise));
    w.line(&format!("fall {}", s.fall));
    if let Some(u) = &s.script.user {
        match &s.script.group {
            Some(g) => w.line(&format!("user {} {}", word(u), word(g))),
            None => w.line(&format!("user {}", word(u))),
        }
    }
    w.flag(s.init_fail, "init_fail");
    w.close();
}

fn address(a: &AddressEntry) -> String {
    let host_len = if a.prefix.is_ipv6() { 128 } else { 32 };
    let mut s = match &a.peer {
        // With a peer, the length belongs to the peer.
        Some(_) => a.prefix.addr.to_string(),
        None if a.prefix.len == host_len => a.prefix.addr.to_string(),
        None => prefix(&a.prefix),
    };
    if let Some(d) = &a.dev {
        let _ = write!(s, " dev {}", word(d));
    }
    if a.scope != 0 {
        let _ = write!(s, " scope {}", a.scope);
    }
    match a.broadcast {
        Some(Broadcast::Addr(b)) => {
            let _ = write!(s, " brd {b}");
        }
        Some(Broadcast::Plus) => s.push_str(" brd +"),
        Some(Broadcast::Minus) => s.push_str(" brd -"),
        None => {}
    }
    if let Some(l) = &a.label {
        let _ = write!(s, " label {}", word(l));
    }
    if let Some(p) = &a.peer {
        let _ = write!(s, " peer {}", p.addr);
    }
    for (on, kw) in [
        (a.home, " home"),
        (a.prefix.is_ipv6() && !a.nodad, " -nodad"),
        (a.mngtmpaddr, " mngtmpaddr"),
        (a.noprefixroute, " noprefixroute"),
        (a.autojoin, " autojoin"),
        (a.no_track, " no_track"),
    ] {
        if on {
            s.push_str(kw);
        }
    }
    let deprecated_by_default = a.prefix.is_ipv6() && a.prefix.len == 128;
    match a.preferred_lft {
        None if deprecated_by_default => s.push_str(" preferred_lft forever"),
        Some(0) if deprecated_by_default => {}
        Some(v) => {
            let _ = write!(s, " preferred_lft {v}");
        }
        None => {}
    }
    if a.use_vmac {
        s.push_str(" use_vmac");
    }
    if let Some(g) = &a.track_group {
        let _ = write!(s, " track_group {}", word(g));
    }
    s
}

fn realms(v: u32) -> String {
    if v > 0xff {
        format!("{}/{}", v >> 16, v & 0xffff)
    } else {
        v.to_string()
    }
}

fn ip_family_shown(addrs: &[Option<IpAddr>]) -> bool {
    addrs.iter().flatten().next().is_some()
}

fn route(r: &RouteEntry) -> String {
    let mut s = String::new();
    if r.rtype != RouteType::Unicast {
        let _ = write!(s, "{} ", r.rtype.name());
    }
    s.push_str(&prefix(&r.dest));
    if let Some(a) = r.src {
        let _ = write!(s, " src {a}");
    }
    if let Some(a) = r.via {
        let _ = write!(s, " via {a}");
    }
    if let Some(d) = &r.dev {
        let _ = write!(s, " dev {}", word(d));
    }
    if r.table != 254 {
        let _ = write!(s, " table {}", r.table);
    }
    if let Some(m) = r.metric {
        let _ = write!(s, " metric {m}");
    }
    if let Some(sc) = r.scope {
        let _ = write!(s, " scope {sc}");
    }
    if r.no_track && r.protocol != 18 {
        let _ = write!(s, " protocol {}", r.protocol);
    }
    if let Some(t) = r.tos {
        let _ = write!(s, " tos {t}");
    }
    if r.onlink {
        s.push_str(" onlink");
    }
    if let Some(f) = &r.from {
        let _ = write!(s, " from {}", prefix(f));
    }
    let m = &r.metrics;
    let lock = |bit: u32| if m.locks & (1 << bit) != 0 { "lock " } else { "" };
    if let Some((v, l)) = m.mtu {
        let _ = write!(s, " mtu {}{v}", if l { "lock " } else { "" });
    }
    if let Some(v) = m.hoplimit {
        let _ = write!(s, " hoplimit {v}");
    }
    for (kw, v, bit) in [
        ("advmss", m.advmss, 8),
        ("rtt", m.rtt, 4),
        ("rttvar", m.rttvar, 5),
        ("reordering", m.reordering, 9),
        ("cwnd", m.cwnd, 7),
        ("ssthresh", m.ssthresh, 6),
        ("rto_min", m.rto_min, 13),
    ] {
        if let Some(v) = v {
            let _ = write!(s, " {kw} {}{v}", lock(bit));
        }
    }
    for (kw, v) in [
        ("window", m.window),
        ("initcwnd", m.initcwnd),
        ("initrwnd", m.initrwnd),
        ("quickack", m.quickack),
        ("fastopen_no_cookie", m.fastopen_no_cookie),
    ] {
        if let Some(v) = v {
            let _ = write!(s, " {kw} {v}");
        }
    }
    if m.features_ecn {
        s.push_str(" features ecn");
    }
    if let Some((alg, l)) = &m.congctl {
        let _ = write!(s, " congctl {}{}", if *l { "lock " } else { "" }, word(alg));
    }
    if let Some(v) = r.realms {
        let _ = write!(s, " realms {}", realms(v));
    }
    match r.pref {
        Some(3) => s.push_str(" pref low"),
        Some(0) => s.push_str(" pref medium"),
        Some(1) => s.push_str(" pref high"),
        Some(v) => {
            let _ = write!(s, " pref {v}");
        }
        None => {}
    }
    if let Some(v) = r.expires {
        let _ = write!(s, " expires {v}");
    }
    match r.ttl_propagate {
        Some(true) => s.push_str(" ttl-propagate enabled"),
        Some(false) => s.push_str(" ttl-propagate disabled"),
        None => {}
    }
    match r.mode {
        RouteMode::Add => s.push_str(" add"),
        RouteMode::Append => s.push_str(" append"),
        RouteMode::Prepend => {}
    }
    if r.no_track {
        s.push_str(" no_track");
    }
    if let Some(g) = &r.track_group {
        let _ = write!(s, " track_group {}", word(g));
    }
    for nh in &r.nexthops {
        s.push_str(" nexthop");
        if let Some(a) = nh.via {
            let _ = write!(s, " via {a}");
        }
        if let Some(d) = &nh.dev {
            let _ = write!(s, " dev {}", word(d));
        }
        if let Some(wt) = nh.weight {
            let _ = write!(s, " weight {wt}");
        }
        if nh.onlink {
            s.push_str(" onlink");
        }
    }
    s
}

fn rule(r: &RuleEntry) -> String {
    let mut parts: Vec<String> = Vec::new();
    if r.invert {
        parts.push("not".into());
    }
    if let Some(p) = &r.from {
        parts.push(format!("from {}", prefix(p)));
    }
    if let Some(p) = &r.to {
        parts.push(format!("to {}", prefix(p)));
    }
    if let Some(p) = r.priority {
        parts.push(format!("priority {p}"));
    }
    if let Some(t) = r.tos {
        parts.push(format!("tos {t}"));
    }
    match r.fwmark {
        Some((m, Some(k))) => parts.push(format!("fwmark {m:#x}/{k:#x}")),
        Some((m, None)) => parts.push(format!("fwmark {m:#x}")),
        None => {}
    }
    if let Some(v) = r.realms {
        parts.push(format!("realms {}", realms(v)));
    }
    if let Some(v) = r.suppress_prefixlength {
        parts.push(format!("suppress_prefixlength {v}"));
    }
    if let Some(v) = r.suppress_ifgroup {
        parts.push(format!("suppress_ifgroup {v}"));
    }
    if let Some(d) = &r.iif {
        parts.push(format!("iif {}", word(d)));
    }
    if let Some(d) = &r.oif {
        parts.push(format!("oif {}", word(d)));
    }
    if let Some(v) = r.tunnel_id {
        parts.push(format!("tunnel-id {v}"));
    }
    if let Some((a, b)) = r.uidrange {
        parts.push(format!("uidrange {a}-{b}"));
    }
    if r.no_track && r.protocol != 0 {
        parts.push(format!("protocol {}", r.protocol));
    }
    if let Some(v) = r.ipproto {
        parts.push(format!("ipproto {v}"));
    }
    if let Some((a, b)) = r.sport {
        parts.push(format!("sport {a}-{b}"));
    }
    if let Some((a, b)) = r.dport {
        parts.push(format!("dport {a}-{b}"));
    }
    if r.no_track {
        parts.push("no_track".into());
    }
    if let Some(g) = &r.track_group {
        parts.push(format!("track_group {}", word(g)));
    }
    parts.push(match r.action {
        RuleAction::Table(t) => format!("table {t}"),
        RuleAction::Goto(t) => format!("goto {t}"),
        RuleAction::Nop => "nop".into(),
        RuleAction::Blackhole => "blackhole".into(),
        RuleAction::Unreachable => "unreachable".into(),
        RuleAction::Prohibit => "prohibit".into(),
        RuleAction::L3mdev => "l3mdev".into(),
    });
    // Last: keepalived skips the word after a family keyword.
    let shown = ip_family_shown(&[r.from.map(|p| p.addr), r.to.map(|p| p.addr)]);
    if r.family == Family::Inet6 && !shown {
        parts.push("inet6".into());
    }
    parts.join(" ")
}

fn notifies(w: &mut Writer, n: &Notifies) {
    for (kw, s) in [
        ("notify_master", &n.master),
        ("notify_backup", &n.backup),
        ("notify_fault", &n.fault),
        ("notify_stop", &n.stop),
        ("notify", &n.generic),
        ("notify_master_rx_lower_pri", &n.master_rx_lower_pri),
    ] {
        if let Some(s) = s {
            w.line(&script_line(kw, s));
        }
    }
    match &n.deleted {
        Some(s) => w.line(&script_line("notify_deleted", s)),
        None if n.deleted_configured => w.line("notify_deleted"),
        None => {}
    }
}

fn trackers(w: &mut Writer, ifs: &[TrackInterface], scripts: &[TrackRef], files: &[TrackRef]) {
    if !ifs.is_empty() {
        w.open("track_interface");
        for t in ifs {
            let rev = if t.reverse { " reverse" } else { "" };
            w.line(&format!("{} weight {}{rev}", word(&t.name), t.weight));
        }
        w.close();
    }
    for (kw, refs) in [("track_script", scripts), ("track_file", files)] {
        if refs.is_empty() {
            continue;
        }
        w.open(kw);
        for t in refs {
            let mut line = word(&t.name);
            if let Some(wt) = t.weight {
                let _ = write!(line, " weight {wt}");
                match t.reverse {
                    Some(true) => line.push_str(" reverse"),
                    Some(false) => line.push_str(" noreverse"),
                    None => {}
                }
            }
            w.line(&line);
        }
        w.close();
    }
}

fn instance(w: &mut Writer, i: &VrrpInstance, global: &GlobalDefs) {
    w.open(&format!("vrrp_instance {}", word(&i.name)));
    w.line(match i.initial_state {
        InitialState::Master => "state MASTER",
        InitialState::Backup => "state BACKUP",
    });
    if let Some(ifname) = &i.interface {
        w.line(&format!("interface {}", word(ifname)));
    }
    w.line(&format!("virtual_router_id {}", i.vrid));
    w.line(&format!("priority {}", i.priority));
    // Before any address: a version given after an IPv6 address would conflict.
    w.line(&format!("version {}", i.version));
    w.line(&format!("advert_int {}", secs(i.advert_int)));
    w.line(&format!("strict_mode {}", on_off(i.strict)));
    let addresses_show_v6 = i.vips.first().map(|a| a.prefix.addr).into_iter().chain(i.unicast_src_ip).chain(i.mcast_src_ip).chain(i.mcast_dst_ip).chain(i.unicast_peers.iter().map(|p| p.addr)).next().is_some_and(|a| a.is_ipv6());
    if i.family == Family::Inet6 && !addresses_show_v6 {
        w.line("native_ipv6");
    }
    if let Some(a) = i.mcast_src_ip {
        w.line(&format!("mcast_src_ip {a}"));
    }
    if let Some(a) = i.unicast_src_ip {
        w.line(&format!("unicast_src_ip {a}"));
    }
    if let Some(a) = i.mcast_dst_ip {
        w.line(&format!("mcast_dst_ip {a}"));
    }
    if !i.unicast_peers.is_empty() {
        w.open("unicast_peer");
        for p in &i.unicast_peers {
            let mut line = p.addr.to_string();
            if let Some(t) = p.min_ttl {
                let _ = write!(line, " min_ttl {t}");
            }
            if let Some(t) = p.max_ttl {
                let _ = write!(line, " max_ttl {t}");
            }
            w.line(&line);
        }
        w.close();
    }
    w.flag(i.unicast_fault_no_peer, "unicast_fault_no_peer");
    w.flag(i.check_unicast_src, "check_unicast_src");
    if let Some(t) = i.unicast_ttl {
        w.line(&format!("unicast_ttl {t}"));
    }
    w.flag(i.track_src_ip, "track_src_ip");
    w.flag(i.dont_track_primary, "dont_track_primary");
    if let Some(v) = &i.use_vmac {
        let mut line = String::from("use_vmac");
        if v.name_given {
            let _ = write!(line, " {}", word(&v.ifname));
        }
        if let Some(m) = v.mac {
            let _ = write!(line, " {:02x}:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", m[0], m[1], m[2], m[3], m[4], m[5]);
        }
        if let Some(g) = v.group {
            let _ = write!(line, " group {g}");
        }
        w.line(&line);
        w.flag(v.xmit_base, "vmac_xmit_base");
    }
    w.flag(i.use_vmac_addr, "use_vmac_addr");
    w.flag(i.promote_secondaries, "promote_secondaries");
    if let Some(a) = &i.auth {
        let (t, pass) = match a {
            Auth::Pass(p) => ("PASS", p),
            Auth::Ah(p) => ("AH", p),
        };
        w.open("authentication");
        w.line(&format!("auth_type {t}"));
        w.line(&format!("auth_pass {}", word(&String::from_utf8_lossy(pass))));
        w.close();
    }
    entries(w, "virtual_ipaddress", i.vips.iter().map(address));
    entries(w, "virtual_ipaddress_excluded", i.excluded_vips.iter().map(address));
    w.flag(i.no_virtual_ipaddress, "no_virtual_ipaddress");
    entries(w, "virtual_routes", i.virtual_routes.iter().map(route));
    entries(w, "virtual_rules", i.virtual_rules.iter().map(rule));
    entries(w, "backup_routes", i.backup_routes.iter().map(route));
    entries(w, "backup_rules", i.backup_rules.iter().map(rule));
    trackers(w, &i.track_interfaces, &i.track_scripts, &i.track_files);
    w.flag(i.nopreempt, "nopreempt");
    if !i.preempt_delay.is_zero() {
        w.line(&format!("preempt_delay {}", secs(i.preempt_delay)));
    }
    w.line(if i.accept { "accept" } else { "no_accept" });
    w.flag(i.skip_check_adv_addr, "skip_check_adv_addr");
    w.line(&format!("down_timer_adverts {}", i.down_timer_adverts));
    let g = &i.garp;
    w.line(&format!("garp_master_delay {}", g.master_delay.as_secs()));
    w.line(&format!("garp_master_repeat {}", g.master_repeat));
    w.line(&format!("garp_master_refresh {}", g.master_refresh.as_secs()));
    if g.master_refresh_repeat != 0 {
        w.line(&format!("garp_master_refresh_repeat {}", g.master_refresh_repeat));
    }
    w.line(&format!("garp_lower_prio_delay {}", g.lower_prio_delay.as_secs()));
    w.line(&format!("garp_lower_prio_repeat {}", g.lower_prio_repeat));
    if let Some(x) = &g.extra_if {
        let all = if x.all { "all " } else { "" };
        w.line(&format!("garp_extra_if {all}{}", x.interval.as_secs()));
    }
    w.line(&format!("lower_prio_no_advert {}", on_off(i.lower_prio_no_advert)));
    w.line(&format!("higher_prio_send_advert {}", on_off(i.higher_prio_send_advert)));
    // Keywords keepalived 2.2.7 lacks are written only when they differ from what the
    // reader derives without them.
    let owner_default = global.vrrp_owner_ignore_adverts || (i.strict && i.priority == 255);
    if i.owner_ignore_adverts != owner_default {
        w.line(&format!("owner_ignore_adverts {}", on_off(i.owner_ignore_adverts)));
    }
    if i.v3_checksum_as_v2 != global.v3_checksum_as_v2 {
        w.line(&format!("v3_checksum_as_v2 {}", on_off(i.v3_checksum_as_v2)));
    }
    if let Some(p) = i.timer_expired_backup {
        w.line(&format!("timer_expired_backup {p}"));
    }
    notifies(w, &i.notify);
    if let Some(v) = i.smtp_alert {
        w.line(&format!("smtp_alert {}", on_off(v)));
    }
    if let Some(v) = i.notify_priority_changes {
        w.line(&format!("notify_priority_changes {}", on_off(v)));
    }
    for f in &i.config_faults {
        w.line(&format!("# FAULT: {f}"));
    }
    w.close();
}

fn sync_group(w: &mut Writer, g: &SyncGroup) {
    w.open(&format!("vrrp_sync_group {}", word(&g.name)));
    w.list("group", &g.members);
    trackers(w, &g.track_interfaces, &g.track_scripts, &g.track_files);
    notifies(w, &g.notify);
    if let Some(v) = g.smtp_alert {
        w.line(&format!("smtp_alert {}", on_off(v)));
    }
    w.flag(g.sync_group_tracking_weight, "sync_group_tracking_weight");
    if let Some(v) = g.notify_priority_changes {
        w.line(&format!("notify_priority_changes {}", on_off(v)));
    }
    w.close();
}
