//! The block parser: keepalived's `process_stream` walk over the lexer's lines, driven by
//! static keyword tables, filling drafts that validation turns into the typed Config.
//!
//! keepalived's reading quirks are reproduced on purpose (reference §0, §1.2, §1.9):
//! an unknown keyword is reported and skipped; an unknown *block* is not skipped — its
//! `{` is "Unexpected '{' - ignoring", its body is read at the current level and its `}`
//! closes the enclosing block; a keyword missing its argument stops everything (keepalived
//! calls exit(2)); value blocks (`virtual_ipaddress { … }`) are read line by line until a
//! line that is or ends with `}`.

mod blocks;
pub(crate) mod entries;
mod global;
pub(crate) mod instance;
pub(crate) mod rttables;
pub(crate) mod script;
pub(crate) mod values;

use super::diag::{did_you_mean, Diagnostic, Diagnostics, ErrClass};
use super::lexer::{Line, Token};
use super::model::*;
use super::{IfaceInfo, LoadOptions};
use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::Duration;
use values::ValueError;

pub(crate) type Handler = for<'a> fn(&mut Parser<'a>, &'a Line);
pub(crate) type EndHandler = fn(&mut Parser<'_>);

#[derive(Clone, Copy, PartialEq, Eq)]
pub(crate) enum KwKind {
    Normal,
    /// A kad extension: an error under `keepalived_compat`.
    KadExtension,
    /// A section keepalived knows but kad does not implement: its block is consumed whole
    /// with a note and recorded in Config.skipped.
    SkippedSection,
}

pub(crate) struct Kw {
    pub name: &'static str,
    /// Arguments the keyword cannot do without: keepalived reads them unconditionally and
    /// exits with status 2 when they are missing.
    pub args: u8,
    pub handler: Handler,
    pub sub: Option<&'static Block>,
    pub kind: KwKind,
}

impl Kw {
    pub const fn new(name: &'static str, args: u8, handler: Handler) -> Kw {
        Kw { name, args, handler, sub: None, kind: KwKind::Normal }
    }
    pub const fn block(name: &'static str, args: u8, handler: Handler, sub: &'static Block) -> Kw {
        Kw { name, args, handler, sub: Some(sub), kind: KwKind::Normal }
    }
    pub const fn ext(name: &'static str, args: u8, handler: Handler) -> Kw {
        Kw { name, args, handler, sub: None, kind: KwKind::KadExtension }
    }
    pub const fn skipped(name: &'static str) -> Kw {
        Kw { name, args: 0, handler: noop, sub: None, kind: KwKind::SkippedSection }
    }
}

pub(crate) struct Block {
    pub kws: &'static [Kw],
    /// Run when the block's `}` is reached (not when the block was skipped).
    pub end: Option<EndHandler>,
}

pub(crate) fn noop(_: &mut Parser<'_>, _: &Line) {}

/// keepalived's `vrrp_instance` while it is being read: the model plus the "was it set"
/// knowledge that validation needs to derive defaults.
#[derive(Debug, Clone)]
pub(crate) struct InstanceDraft {
    pub inst: VrrpInstance,
    pub state: Option<InitialState>,
    pub family: Option<Family>,
    pub version: Option<u8>,
    pub strict: Option<bool>,
    pub accept: Option<bool>,
    pub lower_prio_no_advert: Option<bool>,
    pub higher_prio_send_advert: Option<bool>,
    pub owner_ignore_adverts: Option<bool>,
    pub v3_checksum_as_v2: Option<bool>,
    pub garp_lower_prio_delay: Option<Duration>,
    pub garp_lower_prio_repeat: Option<u32>,
    pub garp_extra_if_set: bool,
    pub unicast_configured: bool,
    pub unicast_ttl_span: Option<Span>,
    /// Information on the configured interface (None: not given, missing or rejected).
    pub iface: Option<IfaceInfo>,
    pub vmac: Option<VmacDraft>,
    pub vmac_xmit_base: bool,
    pub auth_type: Option<AuthType>,
    pub auth_pass: Option<Vec<u8>>,
}

#[derive(Debug, Clone, Default)]
pub(crate) struct VmacDraft {
    pub name: Option<String>,
    pub mac: Option<[u8; 6]>,
    pub mac_use_vrid: bool,
    pub group: Option<u32>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthType {
    Pass,
    Ah,
}

#[derive(Debug, Clone)]
pub(crate) struct SyncGroupDraft {
    pub group: SyncGroup,
    /// `group { … }` as written (None: no group keyword).
    pub members: Option<Vec<String>>,
}

#[derive(Debug, Clone)]
pub(crate) struct ScriptDraft {
    pub script: VrrpScript,
    pub has_script: bool,
    pub remove: bool,
}

#[derive(Debug, Clone)]
pub(crate) struct TrackFileDraft {
    pub def: TrackFileDef,
    pub has_file: bool,
    pub weight_set: bool,
}

/// Everything read from the configuration, before keepalived's post-parse completion.
#[derive(Debug, Clone, Default)]
pub(crate) struct RawConfig {
    pub global: GlobalDefs,
    pub instances: Vec<InstanceDraft>,
    pub sync_groups: Vec<SyncGroupDraft>,
    pub scripts: Vec<ScriptDraft>,
    pub track_files: Vec<TrackFileDef>,
    pub static_addresses: Vec<AddressEntry>,
    pub static_routes: Vec<RouteEntry>,
    pub static_rules: Vec<RuleEntry>,
    pub skipped: Vec<SkippedSection>,
    pub garp_groups: Vec<GarpGroup>,
    pub track_groups: Vec<(TrackGroup, bool)>,
    pub interface_delays: Vec<InterfaceDelays>,
    pub linkbeat_interfaces: Vec<LinkbeatInterface>,
    /// A configured interface does not exist (and dynamic_interfaces is off): keepalived
    /// reports "Non-existent interface specified in configuration" and does not run.
    pub non_existent_interface: bool,
    /// Interfaces seen, with what the system says about them.
    pub interfaces: HashMap<String, Option<IfaceInfo>>,
}

/// The block walker. Handlers act on the last draft of their kind, as keepalived's do on
/// `list_last_entry`.
pub(crate) struct Parser<'a> {
    lines: &'a [Line],
    pos: usize,
    level: usize,
    /// keepalived's skip_sublevel: -1 waits for a `{` to start skipping, >0 counts depth.
    skip_sublevel: i32,
    stopped: bool,
    pub diags: &'a mut Diagnostics,
    pub opts: &'a LoadOptions,
    pub raw: RawConfig,
    /// Per-block state of handlers that keepalived keeps in statics.
    pub cur_track_file: Option<TrackFileDraft>,
    pub next_rule_priority_v4: u32,
    pub next_rule_priority_v6: u32,
    /// keepalived resolves the default script user once, when the first script without a
    /// user is read; script security at that moment decides whether failure is an error.
    pub default_user: DefaultUser,
    /// The current vrrp_script had a valid `user`.
    pub script_user_set: bool,
    /// Names of the instances read so far: a duplicate check by scanning the drafts is
    /// quadratic in the number of instances.
    pub instance_names: HashSet<&'a str>,
    /// One copy of each address device name, however many addresses name it.
    device_names: HashSet<Arc<str>>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum DefaultUser {
    Unset,
    Resolved,
    Failed,
}

/// Root keywords, shared by every table lookup at level 0.
pub(crate) static ROOT: Block = Block { kws: &blocks::ROOT_KWS, end: None };

impl<'a> Parser<'a> {
    pub fn new(lines: &'a [Line], opts: &'a LoadOptions, diags: &'a mut Diagnostics) -> Self {
        Parser {
            lines,
            pos: 0,
            level: 0,
            skip_sublevel: 0,
            stopped: false,
            diags,
            opts,
            raw: RawConfig::default(),
            cur_track_file: None,
            next_rule_priority_v4: 16384,
            next_rule_priority_v6: 16384,
            default_user: DefaultUser::Unset,
            script_user_set: false,
            instance_names: HashSet::new(),
            device_names: HashSet::new(),
        }
    }

    pub fn shared_device_name(&mut self, name: &str) -> Arc<str> {
        if let Some(shared) = self.device_names.get(name) {
            return shared.clone();
        }
        let shared: Arc<str> = Arc::from(name);
        self.device_names.insert(shared.clone());
        shared
    }

    pub fn run(mut self) -> Option<RawConfig> {
        self.process(&ROOT, false);
        if self.stopped {
            None
        } else {
            Some(self.raw)
        }
    }

    fn next_line(&mut self) -> Option<&'a Line> {
        let lines = self.lines;
        while let Some(line) = lines.get(self.pos) {
            self.pos += 1;
            if !line.tokens.is_empty() {
                return Some(line);
            }
        }
        None
    }

    /// keepalived's process_stream: returns true when the block was left by skipping.
    fn process(&mut self, block: &'static Block, mut need_bob: bool) -> bool {
        let mut ret_err = false;
        // Lines of '{' ignored in this block: the '}' that matched them in the author's
        // mind closes this block instead.
        let mut ignored_bobs: Vec<u32> = Vec::new();
        while !self.stopped {
            let Some(line) = self.next_line() else { break };
            let first = line.tokens[0].text.as_str();

            if self.skip_sublevel == -1 {
                if first == "{" {
                    self.skip_sublevel = 1;
                    need_bob = false;
                    continue;
                }
                self.skip_sublevel = 0;
            }
            if self.skip_sublevel > 0 {
                let mut last = first;
                for tok in &line.tokens {
                    last = tok.text.as_str();
                    if last == "{" {
                        self.skip_sublevel += 1;
                    } else if last == "}" {
                        self.skip_sublevel -= 1;
                        if self.skip_sublevel == 0 {
                            break;
                        }
                    }
                }
                if last == "}" && self.skip_sublevel == 0 && self.level > 0 {
                    ret_err = true;
                    break;
                }
                continue;
            }

            if need_bob {
                need_bob = false;
                if first == "{" && self.level > 0 {
                    continue;
                }
                self.error(ErrClass::MissingBob, line, Some(0), "Missing '{' at beginning of configuration block".to_string());
            } else if first == "{" {
                let mut d = self.diag_at(ErrClass::UnexpectedBob, line, Some(0), "Unexpected '{' - ignoring".to_string());
                d.message.push_str(
                    "; keepalived reads the lines that follow at the current level, and the matching '}' \
                     closes the enclosing block",
                );
                self.diags.push(d);
                ignored_bobs.push(line.span.line);
                continue;
            }

            if first == "}" && self.level > 0 {
                if let Some(bob) = ignored_bobs.first() {
                    self.note(
                        line,
                        format!(
                            "this '}}' closes the enclosing block, not the block opened on line {bob} (that '{{' was ignored); \
                             what follows is read one level up"
                        ),
                    );
                }
                break;
            }

            match block.kws.iter().find(|k| k.name == first) {
                Some(kw) => self.dispatch(kw, line),
                None => self.unknown_keyword(block, line),
            }
        }
        ret_err
    }

    fn dispatch(&mut self, kw: &'static Kw, line: &'a Line) {
        if kw.kind == KwKind::SkippedSection {
            self.skip_section(kw, line);
            return;
        }
        if kw.kind == KwKind::KadExtension && self.opts.keepalived_compat {
            let msg = format!(
                "'{}' is a kad extension, not a keepalived keyword (keepalived would report \"Unknown keyword '{}'\")",
                kw.name, kw.name
            );
            self.error(ErrClass::GeneralError, line, Some(0), msg);
            if line_has_block_after(self.lines, self.pos) {
                self.value_block(line, |_, _: Entry<'a>| {});
            }
            return;
        }
        if line.tokens.len() <= usize::from(kw.args) {
            self.missing_parameter(line, line.tokens.len());
            return;
        }
        (kw.handler)(self, line);
        if self.stopped {
            return;
        }
        if let Some(sub) = kw.sub {
            self.level += 1;
            let skipped = self.process(sub, true);
            self.level -= 1;
            if !skipped && !self.stopped {
                if let Some(end) = sub.end {
                    end(self);
                }
            }
        }
    }

    fn unknown_keyword(&mut self, block: &'static Block, line: &Line) {
        let word = line.tokens[0].text.as_str();
        let mut d = self.diag_at(ErrClass::UnknownKeyword, line, Some(0), format!("Unknown keyword '{word}'"));
        d.did_you_mean = did_you_mean(word, block.kws.iter().map(|k| k.name));
        if d.did_you_mean.is_none() {
            if self.level > 0 && ROOT.kws.iter().any(|k| k.name == word) {
                d.message.push_str(" (a top-level keyword here: an earlier '}' may have closed this block too soon)");
            } else if let Some(home) = home_block(word).filter(|h| !std::ptr::eq(h.1, block)) {
                d.message.push_str(&format!(" (it belongs in a {} block)", home.0));
            }
        }
        self.diags.push(d);
    }

    /// Consume a section kad does not implement, as keepalived skips inactive keywords.
    fn skip_section(&mut self, kw: &Kw, line: &Line) {
        let has_block = line_has_block_after(self.lines, self.pos);
        self.note(
            line,
            format!("'{}' is not implemented by kad (only keepalived's VRRP side is); section skipped", kw.name),
        );
        self.raw.skipped.push(SkippedSection { keyword: kw.name.to_string(), span: line.span.clone() });
        if has_block {
            self.skip_sublevel = -1;
            self.level += 1;
            self.process(&EMPTY, true);
            self.level -= 1;
        }
    }

    /// keepalived's alloc_value_block: the lines of a `{ … }` value block, one call each.
    pub fn value_block(&mut self, line: &'a Line, mut each: impl FnMut(&mut Parser<'a>, Entry<'a>)) {
        let name = line.tokens[0].text.as_str();
        let mut need_bob = true;
        if let Some(second) = line.tokens.get(1) {
            if second.text == "{" {
                need_bob = false;
            } else {
                self.error(
                    ErrClass::GeneralError,
                    line,
                    Some(1),
                    format!("Block {name} has extra parameters {} ...", second.text),
                );
            }
        }
        while !self.stopped {
            let Some(entry_line) = self.next_line() else { break };
            let mut entry = Entry::whole(entry_line);
            if need_bob {
                need_bob = false;
                if entry.text(0) == Some("{") {
                    if entry.len() == 1 {
                        continue;
                    }
                    entry.start += 1;
                } else {
                    self.note(entry_line, format!("'{{' missing from beginning of block {name}"));
                }
            }
            let mut had_eob = false;
            if entry.len() > 0 && entry.text(entry.len() - 1) == Some("}") {
                if entry.len() == 1 {
                    break;
                }
                had_eob = true;
                entry.end -= 1;
            }
            if entry.len() > 0 {
                each(self, entry);
            }
            if had_eob {
                break;
            }
        }
    }

    /// keepalived's read_value_block: all words of a value block, flattened.
    pub fn read_value_block(&mut self, line: &'a Line) -> Vec<(String, Span)> {
        let mut words = Vec::new();
        self.value_block(line, |_, entry| {
            words.extend(entry.tokens().iter().map(|t| (t.text.to_string(), t.span.clone())));
        });
        words
    }

    /// keepalived's null_strvec: the process exits with status 2 at once.
    pub fn missing_parameter(&mut self, line: &Line, index: usize) {
        let first = line.tokens[0].text.as_str();
        let msg = match index.checked_sub(1).and_then(|i| line.tokens.get(i)) {
            Some(prev) => format!(
                "*** Configuration line starting `{first}` is missing a parameter after keyword `{}` at word position {}",
                prev.text,
                index + 1
            ),
            None => format!("*** Configuration line starting `{first}` is missing a parameter at word position {}", index + 1),
        };
        let mut d = self.diag_at(ErrClass::MissingParameter, line, line.tokens.len().checked_sub(1), msg);
        d.message.push_str(" (keepalived exits at once with status 2; nothing after this line is read)");
        self.diags.push(d);
        self.diags.immediate_exit = Some(2);
        self.stopped = true;
    }

    /// Word `i` of an entry, or keepalived's exit(2) when it is missing.
    pub fn word(&mut self, entry: Entry<'a>, i: usize) -> Option<&'a str> {
        match entry.text(i) {
            Some(t) => Some(t),
            None => {
                self.missing_parameter_entry(entry, i);
                None
            }
        }
    }

    fn missing_parameter_entry(&mut self, entry: Entry<'a>, index: usize) {
        let first = entry.text(0).unwrap_or("***MISSING ***");
        let msg = match index.checked_sub(1).and_then(|i| entry.text(i)) {
            Some(prev) => format!(
                "*** Configuration line starting `{first}` is missing a parameter after keyword `{prev}` at word position {}",
                index + 1
            ),
            None => format!("*** Configuration line starting `{first}` is missing a parameter at word position {}", index + 1),
        };
        let mut d = self.diag_at(ErrClass::MissingParameter, entry.line, Some(entry.end.saturating_sub(1)), msg);
        d.message.push_str(" (keepalived exits at once with status 2; nothing after this line is read)");
        self.diags.push(d);
        self.diags.immediate_exit = Some(2);
        self.stopped = true;
    }

    /// Report at word `i` of an entry.
    pub fn entry_error(&mut self, class: ErrClass, entry: Entry<'_>, i: usize, message: String) {
        let idx = (entry.start + i).min(entry.end.saturating_sub(1));
        self.error(class, entry.line, Some(idx), message);
    }

    // ----- diagnostics -------------------------------------------------------------------

    pub fn diag_at(&self, class: ErrClass, line: &Line, tok: Option<usize>, message: String) -> Diagnostic {
        let token = tok.and_then(|i| line.tokens.get(i));
        let span = token.map(|t| t.span.clone()).unwrap_or_else(|| line.span.clone());
        let mut d = Diagnostic::new(class, Some(span), message);
        d.source_line = Some(line.source.to_string());
        d.width = token.map(|t| t.text.chars().count().max(1)).unwrap_or(1);
        d
    }

    pub fn error(&mut self, class: ErrClass, line: &Line, tok: Option<usize>, message: String) {
        let d = self.diag_at(class, line, tok, message);
        self.diags.push(d);
    }

    pub fn general(&mut self, line: &Line, tok: Option<usize>, message: String) {
        self.error(ErrClass::GeneralError, line, tok, message);
    }

    /// A kad-only remark that does not change `-t`'s exit code.
    pub fn note(&mut self, line: &Line, message: String) {
        self.error(ErrClass::Ok, line, Some(0), message);
    }

    pub fn value_errors(&mut self, line: &Line, tok: Option<usize>, errors: Vec<ValueError>) {
        for e in errors {
            self.error(e.class, line, tok, e.message);
        }
    }

    // ----- shared value readers ----------------------------------------------------------

    /// read_unsigned on word `i`; on failure reports keepalived's number error and `then`.
    pub fn unsigned(&mut self, line: &Line, i: usize, min: u32, max: u32) -> Result<u32, ()> {
        let text = line.tokens.get(i).map(|t| t.text.as_str()).unwrap_or("");
        values::read_unsigned(text, min, max).map_err(|e| self.number_error(line, i, e, format!("a whole number in {min}..{max}")))
    }

    pub fn int(&mut self, line: &Line, i: usize, min: i32, max: i32) -> Result<i32, ()> {
        let text = line.tokens.get(i).map(|t| t.text.as_str()).unwrap_or("");
        values::read_int(text, min, max).map_err(|e| self.number_error(line, i, e, format!("a whole number in {min}..{max}")))
    }

    /// A decimal number of seconds with `digits` decimals, as microseconds.
    pub fn decimal(&mut self, line: &Line, i: usize, min: u64, max: u64, digits: u32) -> Result<u64, ()> {
        let text = line.tokens.get(i).map(|t| t.text.as_str()).unwrap_or("");
        let d = values::read_decimal(text, min, max, digits);
        if !d.errors.is_empty() {
            let unit = 10u64.pow(digits);
            let expected = format!(
                "seconds in {}..{} with at most {digits} decimals",
                values::micros(min * (1_000_000 / unit)).as_secs_f64(),
                values::micros(max.saturating_mul(1_000_000 / unit)).as_secs_f64()
            );
            for e in d.errors {
                self.number_error(line, i, e, expected.clone());
            }
        }
        d.value.ok_or(())
    }

    fn number_error(&mut self, line: &Line, i: usize, e: ValueError, expected: String) {
        let mut d = self.diag_at(e.class, line, Some(i), e.message);
        d.expected = Some(expected);
        self.diags.push(d);
    }

    /// `KEYWORD [BOOL]`: a bare keyword is true; an invalid value is None (reported by
    /// the caller with its own message).
    pub fn opt_bool(line: &Line) -> Option<bool> {
        match line.tokens.get(1) {
            Some(t) => values::check_true_false(&t.text),
            None => Some(true),
        }
    }

    /// Look an interface up as keepalived's if_get_by_ifname(IF_CREATE_IF_DYNAMIC) does:
    /// a missing interface is fine with dynamic_interfaces (a placeholder), otherwise it
    /// marks the configuration as not runnable.
    pub fn interface(&mut self, name: &str) -> Option<IfaceInfo> {
        if let Some(known) = self.raw.interfaces.get(name) {
            if known.is_some() || self.raw.global.dynamic_interfaces {
                return Some(known.unwrap_or_else(IfaceInfo::placeholder));
            }
            self.raw.non_existent_interface = true;
            return None;
        }
        let info = self.opts.interfaces.lookup(name);
        self.raw.interfaces.insert(name.to_string(), info);
        match info {
            Some(i) => Some(i),
            None if self.raw.global.dynamic_interfaces => Some(IfaceInfo::placeholder()),
            None => {
                self.raw.non_existent_interface = true;
                None
            }
        }
    }

    /// keepalived's get_default_script_user: false when scripts without a user must be
    /// dropped.
    pub fn default_script_user(&mut self, line: &Line) -> bool {
        self.default_script_user_at(&line.span)
    }

    pub fn default_script_user_at(&mut self, span: &Span) -> bool {
        match self.default_user {
            DefaultUser::Resolved => true,
            DefaultUser::Failed => false,
            DefaultUser::Unset => {
                if blocks::user_exists("keepalived_script") || !self.raw.global.enable_script_security {
                    self.default_user = DefaultUser::Resolved;
                    true
                } else {
                    self.diags.report(
                        ErrClass::GeneralError,
                        Some(span.clone()),
                        "Unable to set default user keepalived_script for script",
                    );
                    self.default_user = DefaultUser::Failed;
                    false
                }
            }
        }
    }

    pub fn set_skip_pending(&mut self) {
        self.skip_sublevel = -1;
    }

    /// Is `KIND NAME` defined at the top level further down the file?
    pub fn later_definition(&self, kind: &str, name: &str) -> bool {
        self.lines[self.pos..].iter().any(|l| {
            l.tokens.len() >= 2 && l.tokens[0].text == kind && l.tokens[1].text == name
        })
    }
}

static EMPTY: Block = Block { kws: &[], end: None };

/// The block a keyword belongs to, for "it belongs in …" hints.
fn home_block(word: &str) -> Option<(&'static str, &'static Block)> {
    let blocks: [(&'static str, &'static Block); 5] = [
        ("global_defs", &global::GLOBAL),
        ("vrrp_instance", &instance::INSTANCE),
        ("vrrp_sync_group", &blocks::SYNC_GROUP),
        ("vrrp_script", &blocks::SCRIPT),
        ("track_file", &blocks::TRACK_FILE),
    ];
    blocks.into_iter().find(|(_, b)| b.kws.iter().any(|k| k.name == word))
}

/// The words of one value-block line (or of a keyword line), without block braces.
#[derive(Clone, Copy)]
pub(crate) struct Entry<'a> {
    pub line: &'a Line,
    start: usize,
    end: usize,
}

impl<'a> Entry<'a> {
    pub fn whole(line: &'a Line) -> Self {
        Entry { line, start: 0, end: line.tokens.len() }
    }
    pub fn len(&self) -> usize {
        self.end - self.start
    }
    pub fn tokens(&self) -> &'a [Token] {
        &self.line.tokens[self.start..self.end]
    }
    pub fn text(&self, i: usize) -> Option<&'a str> {
        self.tokens().get(i).map(|t| t.text.as_str())
    }
    pub fn span(&self, i: usize) -> Span {
        self.tokens().get(i).map(|t| t.span.clone()).unwrap_or_else(|| self.line.span.clone())
    }
}

/// Does a `{` line follow (braces are always lines of their own)?
fn line_has_block_after(lines: &[Line], pos: usize) -> bool {
    lines[pos..].iter().find(|l| !l.tokens.is_empty()).is_some_and(|l| l.tokens[0].text == "{")
}

/// Script keywords: re-split the raw line with keepalived's quoted/escaped rules.
pub(crate) fn script_command(p: &mut Parser<'_>, line: &Line) -> Option<ScriptCommand> {
    match script::script_from_line(&script_source(line), &line.span) {
        Ok(cmd) => Some(cmd),
        Err(script::ScriptError::Split(script::SplitError::UnmatchedQuote(q))) => {
            p.error(
                ErrClass::UnmatchedQuote,
                line,
                Some(1),
                format!("String '{}': missing terminating {q}", line.raw),
            );
            None
        }
        Err(script::ScriptError::Split(script::SplitError::TrailingBackslash)) => {
            p.note(line, format!("Missing escape char at end: '{}' - script ignored", line.raw));
            None
        }
        Err(script::ScriptError::Empty) => {
            p.note(line, "Unable to parse notify script - ignored".to_string());
            None
        }
    }
}

/// The text a script keyword is re-split from. A lexer that dropped the double quotes
/// from `raw` (while marking tokens as quoted) cannot be trusted with it: rebuild the line
/// from its tokens instead.
fn script_source(line: &Line) -> std::borrow::Cow<'_, str> {
    let lossy = line.tokens.iter().any(|t| t.quoted) && !line.raw.contains('"');
    if !lossy {
        return std::borrow::Cow::Borrowed(&line.raw);
    }
    let words: Vec<String> =
        line.tokens.iter().map(|t| if t.quoted { format!("\"{}\"", t.text) } else { t.text.to_string() }).collect();
    std::borrow::Cow::Owned(words.join(" "))
}

pub(crate) fn secs(s: u64) -> Duration {
    Duration::from_secs(s)
}
