//! Root keywords and the smaller blocks: vrrp_sync_group, vrrp_script, track_file,
//! static_*, garp_group, track_group, linkbeat_interfaces, interface_up_down_delays
//! (keepalived/vrrp/vrrp_parser.c, vrrp_track.c, trackers/track_file.c).

use super::entries::{parse_address, parse_route, parse_rule};
use super::global::{notify_script, GLOBAL};
use super::instance::{vrrp_instance, INSTANCE};
use super::{script_command, values, Block, Entry, Kw, Parser, ScriptDraft, SyncGroupDraft, TrackFileDraft};
use crate::config::diag::ErrClass;
use crate::config::lexer::Line;
use crate::config::model::*;
use std::time::Duration;

const TIMER_HZ: u64 = 1_000_000;

pub(crate) static ROOT_KWS: [Kw; 25] = [
    Kw::block("global_defs", 0, super::noop, &GLOBAL),
    Kw::block("vrrp_instance", 0, vrrp_instance, &INSTANCE),
    Kw::block("vrrp_sync_group", 0, sync_group, &SYNC_GROUP),
    Kw::block("vrrp_script", 1, vrrp_script, &SCRIPT),
    Kw::block("track_file", 1, track_file, &TRACK_FILE),
    Kw::block("vrrp_track_file", 1, vrrp_track_file, &TRACK_FILE),
    Kw::new("static_ipaddress", 0, static_ipaddress),
    Kw::new("static_routes", 0, static_routes),
    Kw::new("static_rules", 0, static_rules),
    Kw::block("garp_group", 0, garp_group, &GARP_GROUP),
    Kw::block("track_group", 0, track_group, &TRACK_GROUP),
    Kw::new("linkbeat_interfaces", 0, linkbeat_interfaces),
    Kw::new("interface_up_down_delays", 0, interface_up_down_delays),
    Kw::new("net_namespace", 0, root_misc),
    Kw::new("net_namespace_ipvs", 0, root_misc),
    Kw::new("namespace_with_ipsets", 0, root_misc),
    Kw::new("use_pid_dir", 0, root_misc),
    Kw::new("instance", 0, root_misc),
    Kw::new("child_wait_time", 1, root_misc),
    Kw::new("linkbeat_use_polling", 0, root_misc),
    Kw::skipped("virtual_server"),
    Kw::skipped("virtual_server_group"),
    Kw::skipped("SSL"),
    Kw::skipped("bfd_instance"),
    Kw::skipped("vrrp_track_process"),
];

/// Root keywords that concern the whole keepalived process rather than VRRP.
fn root_misc(p: &mut Parser<'_>, line: &Line) {
    let kw = line.tokens[0].text.to_string();
    let needs_name = matches!(kw.as_str(), "net_namespace" | "instance");
    if needs_name && line.tokens.len() < 2 {
        p.general(line, Some(0), format!("{kw} name missing - ignoring"));
        return;
    }
    if kw == "child_wait_time" && p.unsigned(line, 1, 0, u32::MAX).is_err() {
        let v = line.tokens[1].text.to_string();
        p.general(line, Some(1), format!("Invalid child_wait_time {v}"));
        return;
    }
    p.note(line, format!("'{kw}' is accepted for compatibility but has no effect in kad"));
}

fn text(line: &Line, i: usize) -> &str {
    line.tokens.get(i).map(|t| t.text.as_str()).unwrap_or("")
}

pub(crate) fn user_exists(name: &str) -> bool {
    matches!(crate::notify::accounts::user(name), Ok(Some(_)))
}

pub(crate) fn group_exists(name: &str) -> bool {
    matches!(crate::notify::accounts::group(name), Ok(Some(_)))
}

impl Parser<'_> {
    /// keepalived's skip_block(true): ignore the block that follows.
    pub fn skip_block(&mut self) {
        self.set_skip_pending();
    }
}

// ----- vrrp_sync_group ----------------------------------------------------------------------

pub(crate) static SYNC_GROUP: Block = Block { kws: &SYNC_GROUP_KWS, end: None };

static SYNC_GROUP_KWS: [Kw; 15] = [
    Kw::new("group", 0, sg_group),
    Kw::new("track_interface", 0, sg_track_interface),
    Kw::new("track_script", 0, sg_track_script),
    Kw::new("track_file", 0, sg_track_file),
    Kw::new("track_process", 0, sg_track_unsupported),
    Kw::new("track_bfd", 0, sg_track_unsupported),
    Kw::new("notify_backup", 1, sg_notify_backup),
    Kw::new("notify_master", 1, sg_notify_master),
    Kw::new("notify_fault", 1, sg_notify_fault),
    Kw::new("notify_stop", 1, sg_notify_stop),
    Kw::new("notify", 1, sg_notify),
    Kw::new("smtp_alert", 0, sg_smtp_alert),
    Kw::new("global_tracking", 0, sg_global_tracking),
    Kw::new("sync_group_tracking_weight", 0, sg_tracking_weight),
    Kw::new("notify_priority_changes", 0, sg_notify_priority_changes),
];

fn sync_group(p: &mut Parser<'_>, line: &Line) {
    if line.tokens.len() != 2 {
        p.general(line, Some(0), "vrrp_sync_group must have a name - skipping".into());
        p.skip_block();
        return;
    }
    let name = line.tokens[1].text.to_string();
    if p.raw.sync_groups.iter().any(|g| g.group.name == name) {
        p.general(line, Some(1), format!("vrrp sync group {name} already defined"));
        p.skip_block();
        return;
    }
    p.raw.sync_groups.push(SyncGroupDraft {
        group: SyncGroup {
            name,
            span: line.span.clone(),
            members: Vec::new(),
            track_interfaces: Vec::new(),
            track_scripts: Vec::new(),
            track_files: Vec::new(),
            notify: Notifies::default(),
            smtp_alert: None,
            sync_group_tracking_weight: false,
            notify_priority_changes: None,
        },
        members: None,
    });
}

fn sg<'p>(p: &'p mut Parser<'_>) -> Option<&'p mut SyncGroupDraft> {
    p.raw.sync_groups.last_mut()
}

fn sg_name(p: &mut Parser<'_>) -> String {
    sg(p).map(|g| g.group.name.clone()).unwrap_or_default()
}

fn sg_group<'a>(p: &mut Parser<'a>, line: &'a Line) {
    let name = sg_name(p);
    if sg(p).is_some_and(|g| g.members.is_some()) {
        p.general(line, Some(0), format!("Group list already specified for sync group {name}"));
        p.skip_block();
        return;
    }
    let words = p.read_value_block(line);
    if words.is_empty() {
        p.general(line, Some(0), format!("Warning - sync group {name} has empty group block"));
        return;
    }
    if let Some(g) = sg(p) {
        g.members = Some(words.into_iter().map(|(w, _)| w).collect());
    }
}

fn sg_track_interface<'a>(p: &mut Parser<'a>, line: &'a Line) {
    track_block(p, line, sg_name, |p| sg(p).map(|g| &mut g.group.track_interfaces), track_if_entry);
}

fn sg_track_script<'a>(p: &mut Parser<'a>, line: &'a Line) {
    track_block(p, line, sg_name, |p| sg(p).map(|g| &mut g.group.track_scripts), track_script_entry);
}

fn sg_track_file<'a>(p: &mut Parser<'a>, line: &'a Line) {
    track_block(p, line, sg_name, |p| sg(p).map(|g| &mut g.group.track_files), track_file_entry);
}

fn sg_track_unsupported<'a>(p: &mut Parser<'a>, line: &'a Line) {
    let word = line.tokens[0].text.to_string();
    p.note(line, format!("'{word}' is not implemented by kad; its entries are ignored"));
    p.value_block(line, |_, _| {});
}

fn sg_set_notify(p: &mut Parser<'_>, line: &Line, kw: &str, slot: fn(&mut Notifies) -> &mut Option<Box<ScriptCommand>>) {
    let name = sg_name(p);
    let Some(g) = sg(p) else { return };
    if slot(&mut g.group.notify).is_some() {
        let arg = text(line, 1).to_string();
        p.general(line, Some(1), format!("vrrp group {name}: {kw} script already specified - ignoring {arg}"));
        return;
    }
    if let Some(cmd) = notify_script(p, line, "notify") {
        if let Some(g) = sg(p) {
            *slot(&mut g.group.notify) = Some(Box::new(cmd));
        }
    }
}

fn sg_notify_backup(p: &mut Parser<'_>, line: &Line) {
    sg_set_notify(p, line, "notify_backup", |n| &mut n.backup);
}

fn sg_notify_master(p: &mut Parser<'_>, line: &Line) {
    sg_set_notify(p, line, "notify_master", |n| &mut n.master);
}

fn sg_notify_fault(p: &mut Parser<'_>, line: &Line) {
    sg_set_notify(p, line, "notify_fault", |n| &mut n.fault);
}

fn sg_notify_stop(p: &mut Parser<'_>, line: &Line) {
    sg_set_notify(p, line, "notify_stop", |n| &mut n.stop);
}

fn sg_notify(p: &mut Parser<'_>, line: &Line) {
    sg_set_notify(p, line, "notify", |n| &mut n.generic);
}

fn sg_smtp_alert(p: &mut Parser<'_>, line: &Line) {
    match Parser::opt_bool(line) {
        Some(v) => {
            if let Some(g) = sg(p) {
                g.group.smtp_alert = Some(v);
            }
        }
        None => {
            let a = text(line, 1).to_string();
            p.general(line, Some(1), format!("Invalid vrrp_group smtp_alert parameter {a}"));
        }
    }
}

fn sg_global_tracking(p: &mut Parser<'_>, line: &Line) {
    let name = sg_name(p);
    p.general(
        line,
        Some(0),
        format!("({name}) global_tracking is deprecated. Use track_interface/script/file on the sync group"),
    );
    if let Some(g) = sg(p) {
        g.group.sync_group_tracking_weight = true;
    }
}

fn sg_tracking_weight(p: &mut Parser<'_>, _: &Line) {
    if let Some(g) = sg(p) {
        g.group.sync_group_tracking_weight = true;
    }
}

fn sg_notify_priority_changes(p: &mut Parser<'_>, line: &Line) {
    match Parser::opt_bool(line) {
        Some(v) => {
            if let Some(g) = sg(p) {
                g.group.notify_priority_changes = Some(v);
            }
        }
        None => {
            let name = sg_name(p);
            let a = text(line, 1).to_string();
            p.general(line, Some(1), format!("({name}) Invalid value '{a}' for sync group notify_priority_changes specified"));
        }
    }
}

// ----- tracking entries ---------------------------------------------------------------------

/// A `track_*` block of the instance or sync group being read (`owner` names it, `list`
/// finds its trackers): `entry` reads each line against the trackers already listed.
pub(crate) fn track_block<'a, T: Clone>(
    p: &mut Parser<'a>,
    line: &'a Line,
    owner: fn(&mut Parser<'_>) -> String,
    list: for<'p, 'q> fn(&'p mut Parser<'q>) -> Option<&'p mut Vec<T>>,
    entry: fn(&mut Parser<'_>, Entry<'_>, &str, &[T]) -> Option<T>,
) {
    p.value_block(line, |p, e| {
        let owner_name = owner(p);
        let existing = list(p).map(|l| l.clone()).unwrap_or_default();
        if let Some(tracker) = entry(p, e, &owner_name, &existing) {
            if let Some(l) = list(p) {
                l.push(tracker);
            }
        }
    });
}

/// `IF [weight W [reverse]]` (keepalived's alloc_track_if).
pub(crate) fn track_if_entry(
    p: &mut Parser<'_>,
    e: Entry<'_>,
    owner: &str,
    existing: &[TrackInterface],
) -> Option<TrackInterface> {
    let tracked = e.text(0).unwrap_or_default();
    if p.interface(tracked).is_none() {
        p.entry_error(ErrClass::GeneralError, e, 0, format!("({owner}) tracked interface {tracked} doesn't exist"));
        return None;
    }
    if existing.iter().any(|t| t.name == tracked) {
        p.entry_error(ErrClass::GeneralError, e, 0, format!("({owner}) duplicate track_interface {tracked} - ignoring"));
        return None;
    }
    let (weight, reverse) = tracked_weight(p, e, owner, tracked, "track_interface", 0, false)?;
    Some(TrackInterface { name: tracked.to_string(), weight, reverse })
}

/// The `weight W [reverse|noreverse]` tail shared by the tracking entries.
fn tracked_weight(
    p: &mut Parser<'_>,
    e: Entry<'_>,
    owner: &str,
    tracked: &str,
    kind: &str,
    default_weight: i32,
    default_reverse: bool,
) -> Option<(i32, bool)> {
    let mut weight = default_weight;
    let mut reverse = default_reverse;
    if e.len() < 2 {
        return Some((weight, reverse));
    }
    let opt = e.text(1).unwrap_or_default();
    if opt != "weight" {
        let msg = match kind {
            "track_interface" => format!("({owner}) unknown track_interface {tracked} option {opt} - ignoring"),
            "track_script" => format!("({owner}) unknown track script option {opt} - ignoring"),
            _ => format!("({owner}) unknown track file option {opt} - ignoring"),
        };
        p.entry_error(ErrClass::GeneralError, e, 1, msg);
        return None;
    }
    if e.len() == 2 {
        let msg = match kind {
            "track_interface" => format!("({owner}) weight without value specified for track_interface {tracked} - ignoring"),
            "track_script" => format!("({owner}) weight without value specified for track script {tracked} - ignoring"),
            _ => format!("({owner}) weight without value specified for track file {tracked} - ignoring"),
        };
        p.entry_error(ErrClass::GeneralError, e, 1, msg);
        return None;
    }
    match values::read_int(e.text(2).unwrap_or_default(), -254, 254) {
        Ok(w) if kind != "track_file" && (w == 254 || w == -254) => {
            p.entry_error(
                ErrClass::GeneralError,
                e,
                2,
                format!("({owner}) weight for {tracked} cannot be +/-254. Setting to +/-253"),
            );
            weight = w.signum() * 253;
        }
        Ok(w) => weight = w,
        Err(err) => {
            p.entry_error(err.class, e, 2, err.message);
            let w = e.text(2).unwrap_or_default();
            let msg = match kind {
                "track_interface" => {
                    weight = 0;
                    format!("({owner}) weight {w} for {tracked} must be between [-253..253] inclusive. Ignoring...")
                }
                "track_script" => {
                    format!("({owner}) track script {tracked}: weight must be between [-253..253] inclusive, ignoring...")
                }
                _ => format!("({owner}) weight for track file {tracked} must be in [-254..254] inclusive. Ignoring..."),
            };
            p.entry_error(ErrClass::GeneralError, e, 2, msg);
        }
    }
    if e.len() >= 4 {
        match e.text(3).unwrap_or_default() {
            "reverse" => reverse = true,
            "noreverse" if kind != "track_interface" => reverse = false,
            other => {
                let msg = match kind {
                    "track_interface" => {
                        format!("({owner}) unknown track_interace {tracked} weight option {other} - ignoring")
                    }
                    "track_script" => format!("({owner}) unknown track_script {tracked} weight option {other} - ignoring"),
                    _ => format!("({owner}) unknown track file {tracked} weight option {other} - ignoring"),
                };
                p.entry_error(ErrClass::GeneralError, e, 3, msg);
                if kind == "track_file" {
                    return None;
                }
            }
        }
    }
    Some((weight, reverse))
}

/// `SCRIPT [weight W [reverse|noreverse]]`: the script must already be defined.
pub(crate) fn track_script_entry(
    p: &mut Parser<'_>,
    e: Entry<'_>,
    owner: &str,
    existing: &[TrackRef],
) -> Option<TrackRef> {
    let tracked = e.text(0).unwrap_or_default();
    let Some(script) = p.raw.scripts.iter().find(|s| s.script.name == tracked && !s.remove) else {
        let mut d = p.diag_at(
            ErrClass::GeneralError,
            e.line,
            None,
            format!("({owner}) track script {tracked} not found, ignoring..."),
        );
        d.span = Some(e.span(0));
        if p.later_definition("vrrp_script", tracked) {
            d.message.push_str(" (it is defined further down: keepalived only finds scripts defined before their use)");
        }
        p.diags.push(d);
        return None;
    };
    let (default_weight, default_reverse) = (script.script.weight, script.script.weight_reverse);
    if existing.iter().any(|t| t.name == tracked) {
        p.entry_error(ErrClass::GeneralError, e, 0, format!("({owner}) duplicate track_script {tracked} - ignoring"));
        return None;
    }
    let (weight, reverse) = tracked_weight(p, e, owner, tracked, "track_script", default_weight, default_reverse)?;
    Some(TrackRef { name: tracked.to_string(), weight: Some(weight), reverse: Some(reverse) })
}

/// `FILE [weight W [reverse|noreverse]]`: the track_file must already be defined.
pub(crate) fn track_file_entry(
    p: &mut Parser<'_>,
    e: Entry<'_>,
    owner: &str,
    existing: &[TrackRef],
) -> Option<TrackRef> {
    let tracked = e.text(0).unwrap_or_default();
    let Some(file) = p.raw.track_files.iter().find(|f| f.name == tracked) else {
        let mut d =
            p.diag_at(ErrClass::GeneralError, e.line, None, format!("({owner}) track file {tracked} not found, ignoring..."));
        d.span = Some(e.span(0));
        if p.later_definition("track_file", tracked) || p.later_definition("vrrp_track_file", tracked) {
            d.message.push_str(" (it is defined further down: keepalived only finds track files defined before their use)");
        }
        p.diags.push(d);
        return None;
    };
    let (default_weight, default_reverse) = (file.weight, file.weight_reverse);
    if existing.iter().any(|t| t.name == tracked) {
        p.entry_error(ErrClass::GeneralError, e, 0, format!("({owner}) duplicate track_file {tracked} - ignoring"));
        return None;
    }
    let (weight, reverse) = tracked_weight(p, e, owner, tracked, "track_file", default_weight, default_reverse)?;
    Some(TrackRef { name: tracked.to_string(), weight: Some(weight), reverse: Some(reverse) })
}

// ----- vrrp_script --------------------------------------------------------------------------

pub(crate) static SCRIPT: Block = Block { kws: &SCRIPT_KWS, end: Some(script_end) };

static SCRIPT_KWS: [Kw; 8] = [
    Kw::new("script", 0, vs_script),
    Kw::new("interval", 1, vs_interval),
    Kw::new("timeout", 1, vs_timeout),
    Kw::new("weight", 1, vs_weight),
    Kw::new("rise", 1, vs_rise),
    Kw::new("fall", 1, vs_fall),
    Kw::new("user", 1, vs_user),
    Kw::new("init_fail", 0, vs_init_fail),
];

fn vrrp_script(p: &mut Parser<'_>, line: &Line) {
    p.raw.scripts.push(ScriptDraft {
        script: VrrpScript {
            name: line.tokens[1].text.to_string(),
            span: line.span.clone(),
            script: ScriptCommand::default(),
            interval: Duration::from_secs(1),
            timeout: None,
            weight: 0,
            weight_reverse: false,
            rise: 1,
            fall: 1,
            init_fail: false,
        },
        has_script: false,
        remove: false,
    });
    p.script_user_set = false;
}

fn vs<'p>(p: &'p mut Parser<'_>) -> Option<&'p mut ScriptDraft> {
    p.raw.scripts.last_mut()
}

fn vs_name(p: &mut Parser<'_>) -> String {
    vs(p).map(|s| s.script.name.clone()).unwrap_or_default()
}

fn vs_script(p: &mut Parser<'_>, line: &Line) {
    let Some(cmd) = script_command(p, line) else { return };
    if let Some(s) = vs(p) {
        // Only the command counts here: the user comes from the `user` keyword.
        let old = std::mem::take(&mut s.script.script);
        s.script.script = ScriptCommand {
            user: old.user,
            group: old.group,
            set_supplementary_groups: old.set_supplementary_groups,
            ..cmd
        };
        s.has_script = true;
    }
}

/// interval/timeout: whole seconds in keepalived 2.2.7; kad also takes 2.4's decimals
/// (millisecond resolution).
fn vs_seconds(p: &mut Parser<'_>, line: &Line, kw: &str) -> Option<Duration> {
    let name = vs_name(p);
    let max_ms = u64::from(u32::MAX) / TIMER_HZ * 1000;
    let d = values::read_decimal(text(line, 1), 0, max_ms, 3);
    let Some(ms) = d.value else {
        p.value_errors(line, Some(1), d.errors);
        let v = text(line, 1).to_string();
        let msg = if kw == "interval" {
            format!("({name}): vrrp script interval '{v}' must be between 1 and {} - ignoring", u32::MAX as u64 / TIMER_HZ)
        } else {
            format!("({name}): vrrp script timeout '{v}' invalid - ignoring")
        };
        p.general(line, Some(1), msg);
        return None;
    };
    p.value_errors(line, Some(1), d.errors);
    if ms == 0 {
        p.general(line, Some(1), format!("({name}): vrrp script {kw} must be greater than 0, setting to 1"));
        return Some(Duration::from_secs(1));
    }
    Some(Duration::from_millis(ms))
}

fn vs_interval(p: &mut Parser<'_>, line: &Line) {
    if let Some(d) = vs_seconds(p, line, "interval") {
        if let Some(s) = vs(p) {
            s.script.interval = d;
        }
    }
}

fn vs_timeout(p: &mut Parser<'_>, line: &Line) {
    if let Some(d) = vs_seconds(p, line, "timeout") {
        if let Some(s) = vs(p) {
            s.script.timeout = Some(d);
        }
    }
}

fn vs_weight(p: &mut Parser<'_>, line: &Line) {
    let name = vs_name(p);
    let weight = match values::read_int(text(line, 1), -253, 253) {
        Ok(w) => w,
        Err(e) => {
            p.error(e.class, line, Some(1), e.message);
            let w = text(line, 1).to_string();
            p.general(line, Some(1), format!("vrrp_script {name} weight {w} must be in [-253, 253]"));
            // keepalived stores what strtol read even when out of range.
            values::read_int(text(line, 1), i32::MIN, i32::MAX).unwrap_or(0).clamp(-253, 253)
        }
    };
    let mut reverse = false;
    if line.tokens.len() >= 3 {
        if text(line, 2) == "reverse" {
            reverse = true;
        } else {
            let o = text(line, 2).to_string();
            p.general(line, Some(2), format!("vrrp_script {name} unknown weight option {o}"));
        }
    }
    if let Some(s) = vs(p) {
        s.script.weight = weight;
        s.script.weight_reverse |= reverse;
    }
}

fn vs_rise(p: &mut Parser<'_>, line: &Line) {
    vs_count(p, line, "rise", |s| &mut s.rise);
}

fn vs_fall(p: &mut Parser<'_>, line: &Line) {
    vs_count(p, line, "fall", |s| &mut s.fall);
}

/// `rise N` / `fall N`: a bad count becomes 1.
fn vs_count(p: &mut Parser<'_>, line: &Line, kw: &str, slot: fn(&mut VrrpScript) -> &mut u32) {
    let name = vs_name(p);
    let v = p.unsigned(line, 1, 1, i32::MAX as u32).unwrap_or_else(|()| {
        let v = text(line, 1).to_string();
        p.general(line, Some(1), format!("({name}): vrrp script {kw} value '{v}' invalid, defaulting to 1"));
        1
    });
    if let Some(s) = vs(p) {
        *slot(&mut s.script) = v;
    }
}

fn vs_user(p: &mut Parser<'_>, line: &Line) {
    let user = text(line, 1).to_string();
    let group = line.tokens.get(2).map(|t| t.text.to_string());
    let ok = user_exists(&user) && group.as_deref().is_none_or(group_exists);
    let Some(s) = vs(p) else { return };
    s.script.script.user = Some(user);
    s.script.script.set_supplementary_groups = group.is_some();
    s.script.script.group = group;
    if ok {
        s.remove = false;
        p.script_user_set = true;
    } else {
        s.remove = true;
        let cmd = s.script.script.argv.join(" ");
        p.general(line, Some(1), format!("Unable to set uid/gid for script {cmd}"));
    }
}

fn vs_init_fail(p: &mut Parser<'_>, _: &Line) {
    if let Some(s) = vs(p) {
        s.script.init_fail = true;
    }
}

fn script_end(p: &mut Parser<'_>) {
    let Some(s) = p.raw.scripts.last() else { return };
    let (name, span, has_script, remove) = (s.script.name.clone(), s.script.span.clone(), s.has_script, s.remove);
    let mut remove = remove;
    if !has_script {
        p.diags.report(ErrClass::GeneralError, Some(span), format!("No script set for vrrp_script {name} - removing"));
        remove = true;
    } else if !remove && !p.script_user_set && !p.default_script_user_at(&span) {
        p.diags.report(
            ErrClass::GeneralError,
            Some(span),
            format!("Unable to set default user for vrrp script {name} - removing"),
        );
        remove = true;
    }
    if remove {
        p.raw.scripts.pop();
    }
}

// ----- track_file ---------------------------------------------------------------------------

pub(crate) static TRACK_FILE: Block = Block { kws: &TRACK_FILE_KWS, end: Some(track_file_end) };

static TRACK_FILE_KWS: [Kw; 3] = [
    Kw::new("file", 0, tf_file),
    Kw::new("weight", 0, tf_weight),
    Kw::new("init_file", 0, tf_init_file),
];

fn track_file(p: &mut Parser<'_>, line: &Line) {
    p.cur_track_file = Some(TrackFileDraft {
        def: TrackFileDef {
            name: line.tokens[1].text.to_string(),
            span: line.span.clone(),
            file: String::new(),
            weight: 1,
            weight_reverse: false,
            init_file: None,
        },
        has_file: false,
        weight_set: false,
    });
}

fn vrrp_track_file(p: &mut Parser<'_>, line: &Line) {
    p.note(line, "\"vrrp_track_file\" is deprecated, please use \"track_file\"".into());
    track_file(p, line);
}

fn tf_file(p: &mut Parser<'_>, line: &Line) {
    let Some(path) = line.tokens.get(1).map(|t| t.text.to_string()) else {
        p.general(line, Some(0), "track file file name missing".into());
        return;
    };
    let Some(tf) = p.cur_track_file.as_mut() else { return };
    if tf.has_file {
        let name = tf.def.name.clone();
        p.general(line, Some(1), format!("File already set for track file {name} - ignoring {path}"));
        return;
    }
    tf.def.file = path;
    tf.has_file = true;
}

fn tf_weight(p: &mut Parser<'_>, line: &Line) {
    let Some(name) = p.cur_track_file.as_ref().map(|t| t.def.name.clone()) else { return };
    if line.tokens.len() < 2 {
        p.general(line, Some(0), format!("No weight specified for track file {name} - ignoring"));
        return;
    }
    if p.cur_track_file.as_ref().is_some_and(|t| t.weight_set && t.def.weight != 1) {
        let w = text(line, 1).to_string();
        p.general(line, Some(1), format!("Weight already set for track file {name} - ignoring {w}"));
        return;
    }
    let weight = match values::read_int(text(line, 1), -254, 254) {
        Ok(w) => w,
        Err(e) => {
            p.error(e.class, line, Some(1), e.message);
            let w = text(line, 1).to_string();
            p.general(line, Some(1), format!("Weight ({w}) for track_file {name} must be between [-254..254] inclusive. Ignoring..."));
            1
        }
    };
    let mut reverse = false;
    if line.tokens.len() >= 3 {
        if text(line, 2) == "reverse" {
            reverse = true;
        } else {
            let o = text(line, 2).to_string();
            p.general(line, Some(2), format!("track_file {name} unknown weight option {o}"));
        }
    }
    if let Some(tf) = p.cur_track_file.as_mut() {
        tf.def.weight = weight;
        tf.def.weight_reverse |= reverse;
        tf.weight_set = true;
    }
}

fn tf_init_file(p: &mut Parser<'_>, line: &Line) {
    let Some(name) = p.cur_track_file.as_ref().map(|t| t.def.name.clone()) else { return };
    let mut value: i64 = 0;
    let mut overwrite = false;
    for i in 1..line.tokens.len() {
        let word = text(line, i).trim_start();
        if word.starts_with(|c: char| c.is_ascii_digit() || c == '-') {
            match values::read_int(word, i32::MIN, i32::MAX) {
                Ok(v) => {
                    if !(-254..=254).contains(&v) {
                        p.general(
                            line,
                            Some(i),
                            format!("Track file {name} init value {v} is outside sensible range [-254, 254]"),
                        );
                    }
                    value = i64::from(v);
                }
                Err(e) => {
                    p.error(e.class, line, Some(i), e.message);
                    p.general(line, Some(i), format!("Track file {name} init value {word} is invalid"));
                    value = 0;
                }
            }
        } else if word == "overwrite" {
            overwrite = true;
        } else {
            p.general(line, Some(i), format!("Unknown track file init option {word}"));
        }
    }
    if let Some(tf) = p.cur_track_file.as_mut() {
        tf.def.init_file = Some((value, overwrite));
    }
}

fn track_file_end(p: &mut Parser<'_>) {
    let Some(tf) = p.cur_track_file.take() else { return };
    if !tf.has_file {
        p.diags.report(
            ErrClass::GeneralError,
            Some(tf.def.span.clone()),
            format!("No file set for track_file {} - ignoring", tf.def.name),
        );
        return;
    }
    if tf.def.init_file.is_some_and(|(_, overwrite)| overwrite) {
        if let Ok(meta) = std::fs::metadata(&tf.def.file) {
            if !meta.is_file() {
                p.diags.report(
                    ErrClass::GeneralError,
                    Some(tf.def.span.clone()),
                    format!("Cannot initialise track file {} - it is not a regular file", tf.def.name),
                );
            }
        }
    }
    p.raw.track_files.push(tf.def);
}

// ----- static_* -----------------------------------------------------------------------------

fn static_ipaddress<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        if let Some(a) = parse_address(p, e, true) {
            p.raw.static_addresses.push(a);
        }
    });
}

fn static_routes<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        if let Some(r) = parse_route(p, e, true) {
            p.raw.static_routes.push(r);
        }
    });
}

fn static_rules<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        if let Some(r) = parse_rule(p, e, true) {
            p.raw.static_rules.push(r);
        }
    });
}

// ----- garp_group ---------------------------------------------------------------------------

static GARP_GROUP: Block = Block { kws: &GARP_GROUP_KWS, end: Some(garp_group_end) };

static GARP_GROUP_KWS: [Kw; 4] = [
    Kw::new("garp_interval", 1, gg_garp_interval),
    Kw::new("gna_interval", 1, gg_gna_interval),
    Kw::new("interface", 1, gg_interface),
    Kw::new("interfaces", 0, gg_interfaces),
];

fn garp_group(p: &mut Parser<'_>, line: &Line) {
    p.raw.garp_groups.push(GarpGroup { garp_interval: None, gna_interval: None, interfaces: Vec::new(), span: line.span.clone() });
}

fn gg_interval(p: &mut Parser<'_>, line: &Line, kw: &str) -> Option<Duration> {
    match p.decimal(line, 1, 0, i32::MAX as u64, 6) {
        Ok(v) => {
            if v >= TIMER_HZ {
                let s = text(line, 1).to_string();
                p.note(line, format!("The {kw} is very large - {s} seconds"));
            }
            Some(values::micros(v))
        }
        Err(()) => {
            let s = text(line, 1).to_string();
            p.general(line, Some(1), format!("garp_group {kw} '{s}' invalid"));
            None
        }
    }
}

fn gg_garp_interval(p: &mut Parser<'_>, line: &Line) {
    if let Some(d) = gg_interval(p, line, "garp_interval") {
        if let Some(g) = p.raw.garp_groups.last_mut() {
            g.garp_interval = Some(d);
        }
    }
}

fn gg_gna_interval(p: &mut Parser<'_>, line: &Line) {
    if let Some(d) = gg_interval(p, line, "gna_interval") {
        if let Some(g) = p.raw.garp_groups.last_mut() {
            g.gna_interval = Some(d);
        }
    }
}

fn gg_add_interface(p: &mut Parser<'_>, line: &Line, tok: Option<usize>, name: &str) {
    if p.interface(name).is_none() {
        p.general(line, tok, format!("WARNING - interface {name} specified for garp_group doesn't exist"));
        return;
    }
    if p.raw.garp_groups.iter().any(|g| g.interfaces.iter().any(|i| i == name)) {
        p.general(line, tok, format!("garp_group already specified for {name} - ignoring"));
        return;
    }
    if let Some(g) = p.raw.garp_groups.last_mut() {
        g.interfaces.push(name.to_string());
    }
}

fn gg_interface(p: &mut Parser<'_>, line: &Line) {
    let name = text(line, 1).to_string();
    gg_add_interface(p, line, Some(1), &name);
}

fn gg_interfaces<'a>(p: &mut Parser<'a>, line: &'a Line) {
    let words = p.read_value_block(line);
    if words.is_empty() {
        p.general(line, Some(0), "Warning - empty garp_group interfaces block".into());
        return;
    }
    for (name, _) in words {
        gg_add_interface(p, line, None, &name);
    }
}

fn garp_group_end(p: &mut Parser<'_>) {
    let Some(g) = p.raw.garp_groups.last() else { return };
    if g.garp_interval.is_none() && g.gna_interval.is_none() {
        let n = p.raw.garp_groups.len();
        let span = g.span.clone();
        p.diags.report(ErrClass::GeneralError, Some(span), format!("garp group {n} does not have any delay set - removing"));
        p.raw.garp_groups.pop();
    }
}

// ----- track_group --------------------------------------------------------------------------

static TRACK_GROUP: Block = Block { kws: &TRACK_GROUP_KWS, end: None };

static TRACK_GROUP_KWS: [Kw; 1] = [Kw::new("group", 0, tg_group)];

fn track_group(p: &mut Parser<'_>, line: &Line) {
    if line.tokens.len() != 2 {
        p.general(line, Some(0), "track_group must have a name - skipping".into());
        p.skip_block();
        return;
    }
    let name = line.tokens[1].text.to_string();
    if p.raw.track_groups.iter().any(|(g, _)| g.name == name) {
        p.general(line, Some(1), format!("track_group {name} already defined"));
        p.skip_block();
        return;
    }
    p.raw.track_groups.push((TrackGroup { name, members: Vec::new(), span: line.span.clone() }, false));
}

fn tg_group<'a>(p: &mut Parser<'a>, line: &'a Line) {
    let name = p.raw.track_groups.last().map(|(g, _)| g.name.clone()).unwrap_or_default();
    if p.raw.track_groups.last().is_some_and(|(_, set)| *set) {
        p.general(line, Some(0), format!("Group list already specified for sync group {name}"));
        p.skip_block();
        return;
    }
    let words = p.read_value_block(line);
    if words.is_empty() {
        p.general(line, Some(0), format!("Warning - track group {name} has empty group block"));
        return;
    }
    if let Some((g, set)) = p.raw.track_groups.last_mut() {
        g.members = words.into_iter().map(|(w, _)| w).collect();
        *set = true;
    }
}

// ----- linkbeat_interfaces / interface_up_down_delays ---------------------------------------

fn linkbeat_interfaces<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        let name = e.text(0).unwrap_or_default();
        if p.opts.interfaces.lookup(name).is_none() && !p.raw.global.dynamic_interfaces {
            p.entry_error(ErrClass::Fatal, e, 0, format!("unknown interface {name} specified for linkbeat interface"));
            return;
        }
        let given = e.text(1);
        // keepalived keeps its default method for a word it does not know.
        let method = given.filter(|m| matches!(*m, "MII" | "ETHTOOL" | "IOCTL")).map(str::to_string);
        if let Some(m) = given {
            if method.is_none() || e.len() > 2 {
                p.entry_error(ErrClass::GeneralError, e, 1, format!("extra characters {m} in linkbeat interface"));
            }
        }
        p.raw.linkbeat_interfaces.push(LinkbeatInterface { interface: name.to_string(), method });
    });
}

fn interface_up_down_delays<'a>(p: &mut Parser<'a>, line: &'a Line) {
    p.value_block(line, |p, e| {
        let name = e.text(0).unwrap_or_default();
        if p.opts.interfaces.lookup(name).is_none() && !p.raw.global.dynamic_interfaces {
            p.entry_error(ErrClass::Fatal, e, 0, format!("unknown interface {name} specified for up/down delay"));
            return;
        }
        if e.len() < 2 {
            p.note(e.line, format!("No timeouts specified for {name} up/down delays"));
            return;
        }
        if e.len() > 3 {
            p.note(e.line, format!("Too many parameters for {name} up/down delays"));
        }
        let read = |s: &str| values::read_decimal(s, 0, 255 * TIMER_HZ, 6).value.map(values::micros);
        let Some(down) = read(e.text(1).unwrap_or_default()) else {
            let v = e.text(1).unwrap_or_default();
            p.note(e.line, format!("Invalid down delay {v} for {name}"));
            return;
        };
        let up = match e.text(2) {
            None => Duration::ZERO,
            Some(v) => match read(v) {
                Some(up) => up,
                None => {
                    p.note(e.line, format!("Invalid up delay {v} for {name}"));
                    return;
                }
            },
        };
        p.raw.interface_delays.push(InterfaceDelays { interface: name.to_string(), down, up });
    });
}
