//! The reading state machine: keepalived's `read_line` and everything it drives
//! (include stack, definitions, `~SEQ`/`~LST` iteration, multi-line expansion, brace
//! splitting, block depth), producing tokenised [`Line`]s.
//!
//! The order of the steps and the state they share follow lib/parser.c closely, so
//! that odd inputs behave as they do in keepalived; where keepalived hangs, reads out
//! of bounds or grows without limit, this reader stops with an error instead.

use super::defs::{self, Computed, Defs, Lookup, Rng};
use super::glob_walk::{self, Match};
use super::physical::{self, Physical, MAXBUF};
use super::seq::{self, Iteration};
use super::shared::{Sealed, SharedSlice, SharedStr};
use super::text::{is_blank, is_white, Text};
use super::{LexOptions, Line, Token, QUOTED_KEYWORDS};
use crate::config::diag::{Diagnostic, Diagnostics, ErrClass};
use crate::config::model::Span;
use std::io::BufRead;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::rc::Rc;
use std::sync::Arc;

/// Include check bits (keepalived's `include_t`).
pub(super) const INCLUDE_R: u8 = 0x01;
pub(super) const INCLUDE_M: u8 = 0x02;
pub(super) const INCLUDE_W: u8 = 0x04;
pub(super) const INCLUDE_B: u8 = 0x08;
pub(super) const INCLUDE_ALL: u8 = INCLUDE_R | INCLUDE_M | INCLUDE_W | INCLUDE_B;

/// keepalived nests includes until it runs out of file descriptors; kad stops here.
pub const MAX_INCLUDE_DEPTH: usize = 32;
/// Files opened over one read, counting re-reads.
pub const MAX_FILES: usize = 10_000;
/// Lines produced by `~SEQ`/`~LST` iterations and multi-line definitions.
pub const MAX_GENERATED_LINES: usize = 250_000;
/// Substitution rounds for one line (keepalived re-scans after each round).
const MAX_RECHECKS: usize = 32;
/// Substitutions within one round; only reachable by definitions that feed each other.
const MAX_SUBSTITUTIONS: usize = 10_000;

/// Where a line came from. Held by value: a line's work item is made for every physical
/// line, and a reference count is cheaper than an allocation.
#[derive(Clone)]
struct Origin {
    file: Arc<str>,
    line: u32,
    /// The physical line, in the read's text buffer.
    source: Range<usize>,
}

/// A line being processed, with where it came from.
#[derive(Clone)]
struct Work {
    text: Text,
    origin: Origin,
    /// Multi-line definitions whose expansion produced this line.
    via: Rc<[String]>,
}

/// The unread part of a multi-line definition being expanded (keepalived's `next_ptr`).
#[derive(Clone)]
struct Cursor {
    value: Rc<str>,
    pos: usize,
    origin: Origin,
    col: u32,
    via: Rc<[String]>,
}

struct ActiveSeq {
    iteration: Iteration,
    text: Text,
    origin: Origin,
    via: Rc<[String]>,
}

struct OpenFile {
    name: Arc<str>,
    /// Where its relative includes and `${_PWD}` point (keepalived `chdir`s there).
    dir: Option<PathBuf>,
    canonical: Option<PathBuf>,
    reader: Box<dyn BufRead>,
    line_no: u32,
}

/// Where an include directive was written, for its diagnostics.
#[derive(Clone)]
struct Site {
    span: Span,
    source: String,
    width: usize,
}

/// One include directive (or the main file): its glob matches, read in turn.
struct Frame {
    include_type: u8,
    saved_include_check: u8,
    matches: Vec<Match>,
    next: usize,
    current: Option<OpenFile>,
    site: Option<Site>,
}

pub(super) struct Lexer<'d> {
    diags: &'d mut Diagnostics,
    config_id: String,
    include_check: u8,
    frames: Vec<Frame>,
    defs: Defs,
    rng: Rng,
    /// Active `~SEQ`/`~LST`, innermost last (keepalived's `seq_list`).
    seqs: Vec<ActiveSeq>,
    /// Sequences that existed when the current multi-line expansion started: they wait
    /// until it is finished.
    multiline_seq_depth: usize,
    next_ml: Option<Cursor>,
    /// Outer multi-line expansions interrupted by an inner one, with their sequence depth.
    ml_stack: Vec<(Cursor, usize)>,
    /// What followed a brace on the last line (keepalived's `line_residue`).
    residue: Option<Work>,
    /// Name of the multi-line definition whose continuation lines are being read.
    collecting: Option<String>,
    /// Spans of the `{` not yet closed (keepalived's `block_depth`).
    open_braces: Vec<Span>,
    global_defs: GlobalDefs,
    generated: usize,
    generated_reported: bool,
    /// Shared empty expansion chain for lines read from files.
    no_via: Rc<[String]>,
    files_opened: usize,
    /// The physical line being read, reused from line to line.
    line_buf: Vec<u8>,
    /// A processed line's buffer, free for the next physical line.
    spare: String,
    /// Every physical line read and every line emitted, one after the other, sealed into
    /// `text_cell` when the read is done: the texts of lines and tokens are views of it.
    text: String,
    text_cell: Sealed<String>,
    /// Every token, sealed into `token_cell` when the read is done.
    tokens: Vec<Token>,
    token_cell: Sealed<Vec<Token>>,
    lines: Vec<Line>,
    pub file_error: bool,
    pub files: Vec<String>,
}

/// Where `include_check` applies: inside the block opened after a top-level
/// `global_defs` line.
#[derive(Default)]
struct GlobalDefs {
    pending: bool,
    depth: Option<usize>,
}

enum Subst {
    Unchanged,
    Changed,
    /// The line is beyond repair (recursion, overflow) and has been reported.
    Dropped,
}

impl<'d> Lexer<'d> {
    pub fn new(opts: &LexOptions, diags: &'d mut Diagnostics) -> Lexer<'d> {
        Lexer {
            diags,
            config_id: opts.config_id.clone().unwrap_or_else(short_hostname),
            include_check: if opts.all_config { INCLUDE_ALL } else { 0 },
            frames: Vec::new(),
            defs: Defs::with_predefined(),
            rng: Rng::from_clock(),
            seqs: Vec::new(),
            multiline_seq_depth: 0,
            next_ml: None,
            ml_stack: Vec::new(),
            residue: None,
            collecting: None,
            open_braces: Vec::new(),
            global_defs: GlobalDefs::default(),
            generated: 0,
            generated_reported: false,
            no_via: Rc::from(Vec::new()),
            files_opened: 0,
            line_buf: Vec::new(),
            spare: String::new(),
            text: String::new(),
            text_cell: Sealed::default(),
            tokens: Vec::new(),
            token_cell: Sealed::default(),
            lines: Vec::new(),
            file_error: false,
            files: Vec::new(),
        }
    }

    // ----------------------------------------------------------------------------
    // Diagnostics

    fn report_at(&mut self, class: ErrClass, origin: &Origin, col: u32, width: usize, message: String) {
        let mut d = Diagnostic::new(class, Some(Span { file: origin.file.clone(), line: origin.line, col }), message);
        d.source_line = Some(self.text.get(origin.source.clone()).unwrap_or_default().to_string());
        d.width = width;
        self.diags.push(d);
    }

    /// keepalived's `file_config_error`: an error only if the include's own checks or
    /// the global `include_check` ask for `bit`; otherwise informational.
    fn file_error_report(&mut self, include_type: u8, bit: u8, site: Option<&Site>, message: String) {
        let class = if (self.include_check | include_type) & bit != 0 {
            self.file_error = true;
            ErrClass::FileNotFound
        } else {
            ErrClass::Ok
        };
        self.report_site(class, site, message);
    }

    fn report_site(&mut self, class: ErrClass, site: Option<&Site>, message: String) {
        let mut d = Diagnostic::new(class, site.map(|s| s.span.clone()), message);
        if let Some(s) = site {
            d.source_line = Some(s.source.clone());
            d.width = s.width;
        }
        self.diags.push(d);
    }

    // ----------------------------------------------------------------------------
    // Entry points

    /// keepalived's `check_conf_file` followed by reading: false if the main
    /// configuration cannot be used at all.
    pub fn read_main(&mut self, path: &Path) -> bool {
        let pattern = path.to_string_lossy().into_owned();
        let outcome = glob_walk::expand(&pattern, None);
        if outcome.truncated {
            self.diags.report(
                ErrClass::GeneralError,
                None,
                format!(
                    "Configuration file pattern '{pattern}' matches too many files - reading the first {}",
                    outcome.matches.len()
                ),
            );
        }
        if !self.glob_checks(&pattern, 0, &outcome, None) {
            return false;
        }
        let mut usable = true;
        let mut count = 0;
        for m in &outcome.matches {
            let name = m.display();
            if m.is_dir {
                self.file_error_report(
                    0,
                    INCLUDE_R,
                    None,
                    format!("Configuration file '{name}' is a directory - skipping"),
                );
                usable = false;
                continue;
            }
            if !is_regular_non_executable(&m.path) {
                self.file_error_report(
                    0,
                    INCLUDE_R,
                    None,
                    format!("Configuration file '{name}' is not a regular non-executable file - skipping"),
                );
                usable = false;
                continue;
            }
            if nix::unistd::access(&m.path, nix::unistd::AccessFlags::R_OK).is_err() {
                self.diags.report(ErrClass::FileNotFound, None, format!("Unable to read configuration file {name}"));
                usable = false;
                break;
            }
            count += 1;
        }
        if usable && count > 1 {
            self.diags.report(
                ErrClass::MultipleFiles,
                None,
                format!(
                    "WARNING, multiple configuration file matches of {pattern}, starting with {}",
                    outcome.matches[0].display()
                ),
            );
        } else if usable && count == 0 {
            self.diags.report(ErrClass::FileNotFound, None, format!("Unable to find configuration file {pattern}"));
            usable = false;
        }
        if !usable {
            return false;
        }
        self.frames.push(Frame {
            include_type: INCLUDE_R | INCLUDE_M | INCLUDE_W,
            saved_include_check: self.include_check,
            matches: outcome.matches,
            next: 0,
            current: None,
            site: None,
        });
        if !self.open_next_match() {
            self.frames.pop();
            return false;
        }
        self.run();
        true
    }

    /// Read a string as the main file named `file`.
    pub fn read_text(&mut self, text: &str, file: &str) {
        let path = Path::new(file);
        self.frames.push(Frame {
            include_type: INCLUDE_R | INCLUDE_M | INCLUDE_W,
            saved_include_check: self.include_check,
            matches: Vec::new(),
            next: 0,
            current: Some(OpenFile {
                name: file.into(),
                dir: dir_of(path),
                canonical: None,
                reader: Box::new(std::io::Cursor::new(text.as_bytes().to_vec())),
                line_no: 0,
            }),
            site: None,
        });
        self.files.push(file.to_string());
        self.run();
    }

    fn run(&mut self) {
        while let Some(work) = self.read_line() {
            self.emit(work);
        }
        if let Some(first) = self.open_braces.first().cloned() {
            let n = self.open_braces.len();
            let mut d = Diagnostic::new(
                ErrClass::MissingEob,
                Some(first),
                format!("There are {n} missing '}}'s or extra '{{'s"),
            );
            d.width = 1;
            self.diags.push(d);
        }
    }

    // ----------------------------------------------------------------------------
    // Files and includes

    fn current_file(&self) -> Option<&OpenFile> {
        self.frames.last().and_then(|f| f.current.as_ref())
    }

    /// The next physical line of the current file, moving through glob matches and
    /// back up the include stack at end of file. Lines that keepalived ignores (too
    /// long, embedded NUL) are reported and returned empty.
    fn next_physical(&mut self) -> Option<Origin> {
        loop {
            let frame = self.frames.last_mut()?;
            let Some(file) = frame.current.as_mut() else {
                self.frames.pop();
                continue;
            };
            let read = physical::next_line(file.reader.as_mut(), &mut self.line_buf);
            let result = match read {
                Ok(Some(p)) => {
                    file.line_no = file.line_no.saturating_add(1);
                    Some(p)
                }
                Ok(None) => None,
                Err(e) => {
                    let msg = format!("Error reading configuration file '{}': {e}", file.name);
                    self.diags.report(ErrClass::GeneralError, None, msg);
                    None
                }
            };
            let Some(p) = result else {
                self.end_file();
                continue;
            };
            let Some(file) = self.current_file() else { continue };
            let (name, line_no) = (file.name.clone(), file.line_no);
            let start = self.text.len();
            let problem = match p {
                Physical::Line => {
                    // from_utf8_lossy walks the line in chunks even when it is valid: try
                    // the fast check first.
                    match std::str::from_utf8(&self.line_buf) {
                        Ok(text) => self.text.push_str(text),
                        Err(_) => self.text.push_str(&String::from_utf8_lossy(&self.line_buf)),
                    }
                    None
                }
                Physical::TooLong => Some("line too long - ignoring"),
                Physical::EmbeddedNul => Some("configuration appears to have embedded NULs - ignoring line"),
            };
            let origin = Origin { file: name, line: line_no, source: start..self.text.len() };
            if let Some(msg) = problem {
                self.report_at(ErrClass::GeneralError, &origin, 1, 0, msg.to_string());
            }
            return Some(origin);
        }
    }

    /// keepalived's `end_file` + `get_next_file`.
    fn end_file(&mut self) {
        let Some(frame) = self.frames.last_mut() else { return };
        frame.current = None;
        self.include_check = frame.saved_include_check;
        if !self.open_next_match() {
            self.frames.pop();
        }
    }

    /// keepalived's `open_conf_file`: the next usable match of the top frame.
    fn open_next_match(&mut self) -> bool {
        loop {
            let Some(frame) = self.frames.last_mut() else { return false };
            let Some(m) = frame.matches.get(frame.next).cloned() else { return false };
            frame.next += 1;
            let (include_type, site) = (frame.include_type, frame.site.clone());
            let name = m.display();
            if m.is_dir {
                self.file_error_report(
                    include_type,
                    INCLUDE_R,
                    site.as_ref(),
                    format!("Configuration file '{name}' is a directory - skipping"),
                );
                continue;
            }
            if !is_regular_non_executable(&m.path) {
                self.file_error_report(
                    include_type,
                    INCLUDE_R,
                    site.as_ref(),
                    format!("Configuration file '{name}' is not a regular non-executable file - skipping"),
                );
                continue;
            }
            let canonical = std::fs::canonicalize(&m.path).ok();
            let depth = self.frames.len();
            let looping = canonical.is_some()
                && self.frames[..depth - 1].iter().filter_map(|f| f.current.as_ref()).any(|f| f.canonical == canonical);
            if looping {
                self.report_site(
                    ErrClass::GeneralError,
                    site.as_ref(),
                    format!("Configuration file '{name}' includes itself - skipping (include loop)"),
                );
                continue;
            }
            if self.files_opened >= MAX_FILES {
                self.report_site(
                    ErrClass::GeneralError,
                    site.as_ref(),
                    format!("More than {MAX_FILES} configuration files read - skipping '{name}'"),
                );
                continue;
            }
            let file = match std::fs::File::open(&m.path) {
                Ok(f) => f,
                Err(e) => {
                    self.file_error_report(
                        include_type,
                        INCLUDE_R,
                        site.as_ref(),
                        format!("Configuration file '{name}' open problem ({e}) - skipping"),
                    );
                    continue;
                }
            };
            self.files_opened += 1;
            self.files.push(name.clone());
            if let Some(frame) = self.frames.last_mut() {
                frame.current = Some(OpenFile {
                    name: name.as_str().into(),
                    dir: dir_of(&m.path),
                    canonical,
                    reader: Box::new(std::io::BufReader::new(file)),
                    line_no: 0,
                });
            }
            return true;
        }
    }

    /// keepalived's `open_and_check_glob` verdict: false if nothing is to be read.
    fn glob_checks(
        &mut self,
        pattern: &str,
        include_type: u8,
        o: &glob_walk::GlobOutcome,
        site: Option<&Site>,
    ) -> bool {
        if o.matches.is_empty() {
            if o.missing {
                let bit = if glob_walk::has_brace(pattern) { INCLUDE_B } else { INCLUDE_M };
                self.file_error_report(include_type, bit, site, format!("Config files missing '{pattern}'."));
            } else if o.have_wildcards && (self.include_check | include_type) & INCLUDE_W != 0 {
                self.file_error_report(include_type, INCLUDE_W, site, format!("No config files matched '{pattern}'."));
            }
            return false;
        }
        if o.missing {
            self.file_error_report(include_type, INCLUDE_B, site, format!("Some config files missing: \"{pattern}\"."));
            if (self.include_check | include_type) & INCLUDE_B != 0 {
                return false;
            }
        }
        true
    }

    /// keepalived's `check_include`: true if the line was an include directive.
    fn check_include(&mut self, w: &Work) -> bool {
        let b = w.text.bytes();
        if !b.starts_with(b"include") || b.len() <= 7 {
            return false;
        }
        let (include_type, at) = if is_white(b[7]) {
            (0, 8)
        } else if b.len() > 8 && is_white(b[8]) {
            match b[7] {
                b'r' => (INCLUDE_R, 9),
                b'm' => (INCLUDE_R | INCLUDE_M, 9),
                b'w' => (INCLUDE_R | INCLUDE_M | INCLUDE_W, 9),
                b'b' => (INCLUDE_R | INCLUDE_B, 9),
                b'a' => (INCLUDE_ALL, 9),
                _ => return false,
            }
        } else {
            return false;
        };
        let at = b[at..].iter().take_while(|c| is_blank(**c)).count() + at;
        let pattern = w.text.as_str()[at..].to_string();
        let site = Site {
            span: Span { file: w.origin.file.clone(), line: w.origin.line, col: w.text.col(at) },
            source: self.text.get(w.origin.source.clone()).unwrap_or_default().to_string(),
            width: pattern.chars().count(),
        };
        self.open_include(&pattern, include_type, site);
        true
    }

    fn open_include(&mut self, pattern: &str, include_type: u8, site: Site) {
        if self.frames.len() >= MAX_INCLUDE_DEPTH {
            let msg = format!("Includes nested more than {MAX_INCLUDE_DEPTH} deep - not including '{pattern}'");
            self.report_site(ErrClass::GeneralError, Some(&site), msg);
            return;
        }
        let base = self.current_file().and_then(|f| f.dir.clone());
        let outcome = glob_walk::expand(pattern, base.as_deref());
        if outcome.truncated {
            let msg = format!(
                "include pattern '{pattern}' matches too many files - reading only the first {}",
                outcome.matches.len()
            );
            self.report_site(ErrClass::GeneralError, Some(&site), msg);
        }
        if !self.glob_checks(pattern, include_type, &outcome, Some(&site)) {
            return;
        }
        self.frames.push(Frame {
            include_type,
            saved_include_check: self.include_check,
            matches: outcome.matches,
            next: 0,
            current: None,
            site: Some(site),
        });
        if !self.open_next_match() {
            self.frames.pop();
        }
    }

    // ----------------------------------------------------------------------------
    // read_line

    fn count_generated(&mut self, origin: &Origin) -> bool {
        self.generated += 1;
        if self.generated <= MAX_GENERATED_LINES {
            return true;
        }
        if !self.generated_reported {
            self.generated_reported = true;
            let msg = format!("~SEQ/~LST and multi-line definitions produce more than {MAX_GENERATED_LINES} lines - ignoring the rest");
            self.report_at(ErrClass::GeneralError, origin, 1, 0, msg);
        }
        self.seqs.clear();
        self.next_ml = None;
        self.ml_stack.clear();
        self.multiline_seq_depth = 0;
        false
    }

    /// One iteration of the innermost active `~SEQ`/`~LST`.
    fn next_seq_line(&mut self) -> Option<Work> {
        let seq = self.seqs.last_mut()?;
        let mut assignments: Vec<(String, String)> = Vec::new();
        let finished = match &mut seq.iteration {
            Iteration::Range { var, next, step, last, hex } => {
                let value = if *hex { format!("{:x}", *next as u64) } else { next.to_string() };
                assignments.push((var.clone(), value));
                match next.checked_add(*step) {
                    Some(n) => {
                        *next = n;
                        (*step > 0 && n > *last) || (*step < 0 && n < *last)
                    }
                    None => true,
                }
            }
            Iteration::List { vars, sets, next } => {
                if let Some(set) = sets.get(*next) {
                    assignments.extend(vars.iter().cloned().zip(set.iter().cloned()));
                }
                *next += 1;
                *next >= sets.len()
            }
        };
        let work = Work { text: seq.text.clone(), origin: seq.origin.clone(), via: seq.via.clone() };
        if finished {
            self.seqs.pop();
        }
        for (name, value) in assignments {
            if !name.is_empty() {
                self.defs.set(&name, &value, false);
            }
        }
        if self.count_generated(&work.origin) {
            Some(work)
        } else {
            None
        }
    }

    /// The next line of a multi-line definition being expanded.
    fn next_multiline(&mut self, mut c: Cursor) -> Option<Work> {
        let rest = c.value.get(c.pos..).unwrap_or("");
        let line = match rest.find('\n') {
            Some(end) => {
                let line = rest[..end].to_string();
                c.pos += end + 1;
                self.next_ml = Some(c.clone());
                line
            }
            None => {
                let line = rest.to_string();
                match self.ml_stack.pop() {
                    Some((outer, depth)) => {
                        self.next_ml = Some(outer);
                        self.multiline_seq_depth = depth;
                    }
                    None => {
                        self.next_ml = None;
                        self.multiline_seq_depth = 0;
                    }
                }
                line
            }
        };
        let work = Work { text: Text::uniform(&line, c.col), origin: c.origin.clone(), via: c.via.clone() };
        if self.count_generated(&work.origin) {
            Some(work)
        } else {
            None
        }
    }

    /// Next non-blank, decommented line from the files; `None` at the end of input.
    fn next_file_line(&mut self) -> Option<Work> {
        loop {
            let origin = self.next_physical()?;
            let trimmed = self.text.get(origin.source.clone()).unwrap_or_default().trim_end_matches(['\n', '\r']);
            if trimmed.is_empty() {
                if let Some(name) = self.collecting.take() {
                    self.end_definition(&name);
                }
                continue;
            }
            let text = Text::from_source(trimmed, std::mem::take(&mut self.spare));
            let mut w = Work { text, origin, via: self.no_via.clone() };
            self.decomment(&mut w);
            if !w.text.is_empty() {
                return Some(w);
            }
        }
    }

    fn end_definition(&mut self, name: &str) {
        if let Some(def) = self.defs.get_mut(name) {
            if def.value.is_empty() {
                def.multiline = false;
            }
        }
    }

    fn read_line(&mut self) -> Option<Work> {
        loop {
            let mut w = if let Some(r) = self.residue.take() {
                r
            } else if !self.seqs.is_empty() && self.seqs.len() > self.multiline_seq_depth {
                match self.next_seq_line() {
                    Some(w) => w,
                    None => continue,
                }
            } else if let Some(c) = self.next_ml.take() {
                match self.next_multiline(c) {
                    Some(w) => w,
                    None => continue,
                }
            } else {
                self.next_file_line()?
            };

            if let Some(name) = self.collecting.clone() {
                self.continue_definition(&name, &w);
                continue;
            }
            if w.text.is_empty() {
                continue;
            }
            self.process(&mut w);
            if w.text.is_empty() || self.check_include(&w) {
                continue;
            }
            self.split_braces(&mut w);
            return Some(w);
        }
    }

    /// A continuation line of a multi-line `$NAME=` definition.
    fn continue_definition(&mut self, name: &str, w: &Work) {
        let mut line = w.text.as_str().to_string();
        if line.ends_with('\\') {
            line.pop();
            let keep = line.trim_end_matches([' ', '\t']).len();
            line.truncate(keep);
            line.push('\n');
        } else {
            self.collecting = None;
            self.end_definition(name);
        }
        if line.len() >= 2 || (!line.is_empty() && self.collecting.is_none()) {
            self.defs.append(name, &line);
        }
    }

    /// `@id` filtering, definitions, `~SEQ`/`~LST` and `$` substitution, repeated
    /// while a substitution leaves a line starting with `@` or still holding a `$`.
    fn process(&mut self, w: &mut Work) {
        for _ in 0..MAX_RECHECKS {
            let b = w.text.bytes();
            if b.first() == Some(&b'@') {
                let reverse = b.get(1) == Some(&b'^');
                let ofs = if reverse { 2 } else { 1 };
                let Some(ws) = b[ofs..].iter().position(|c| is_blank(*c)).map(|p| p + ofs) else {
                    w.text.clear();
                    return;
                };
                let matches = w.text.as_str()[ofs..ws] == self.config_id;
                if matches == reverse {
                    w.text.clear();
                    return;
                }
                let rest = ws + b[ws..].iter().take_while(|c| is_blank(**c)).count();
                w.text.remove(0..rest);
            }

            if let Some(def) = defs::parse_definition(w.text.as_str()) {
                let name = def.name.to_string();
                self.defs.set(&name, &def.value, def.multiline);
                if def.multiline {
                    self.collecting = Some(name);
                }
                w.text.clear();
                return;
            }

            let b = w.text.bytes();
            if b.starts_with(b"~SEQ") || b.starts_with(b"~LST") {
                self.start_sequence(w);
                w.text.clear();
                return;
            }
            if b.first() == Some(&b'~') || !b.contains(&b'$') {
                return;
            }
            let mut ml = self.next_ml.take();
            let result = self.substitute(w, MAXBUF, &mut ml);
            self.next_ml = ml;
            match result {
                Subst::Unchanged => return,
                Subst::Dropped => {
                    w.text.clear();
                    return;
                }
                Subst::Changed => {}
            }
            self.decomment(w);
            if !(w.text.bytes().first() == Some(&b'@') || w.text.bytes().contains(&b'$')) {
                return;
            }
        }
        let msg =
            format!("Definitions keep expanding on line '{}' - recursive definition? Ignoring line", w.text.as_str());
        self.report_at(ErrClass::GeneralError, &w.origin, w.text.col(0), 0, msg);
        w.text.clear();
    }

    fn start_sequence(&mut self, w: &Work) {
        let line = w.text.as_str().to_string();
        let is_seq = line.as_bytes().get(1) == Some(&b'S');
        let parsed = if is_seq {
            let origin = w.origin.clone();
            let no_via = self.no_via.clone();
            let mut substitute = |args: &str| {
                let mut t = Work { text: Text::uniform(args, 1), origin: origin.clone(), via: no_via.clone() };
                let mut no_ml = None;
                // Arguments use a 64-byte buffer; a partial substitution is kept as keepalived does.
                match self.substitute(&mut t, seq::SEQ_ARGS_MAX, &mut no_ml) {
                    Subst::Dropped => args.to_string(),
                    _ => t.text.as_str().to_string(),
                }
            };
            seq::parse_seq(&line, &mut substitute)
        } else {
            seq::parse_lst(&line)
        };
        match parsed {
            Ok(header) => {
                let text = w.text.slice(header.text_start.min(w.text.len())..w.text.len());
                self.seqs.push(ActiveSeq {
                    iteration: header.iteration,
                    text,
                    origin: w.origin.clone(),
                    via: w.via.clone(),
                });
            }
            Err(messages) => {
                let width = line.chars().count();
                for m in messages {
                    self.report_at(ErrClass::GeneralError, &w.origin, w.text.col(0), width, m);
                }
                let kind = if is_seq { "~SEQ" } else { "~LST" };
                self.report_at(
                    ErrClass::GeneralError,
                    &w.origin,
                    w.text.col(0),
                    width,
                    format!("Invalid {kind} specification '{line}'"),
                );
            }
        }
    }

    fn computed_value(&mut self, what: Computed, params: Option<&str>, w: &Work) -> String {
        match what {
            Computed::Pwd => {
                let dir = self.current_file().and_then(|f| f.dir.clone()).unwrap_or_else(|| PathBuf::from("."));
                std::fs::canonicalize(&dir).unwrap_or(dir).to_string_lossy().into_owned()
            }
            Computed::Instance => self.config_id.clone(),
            Computed::Random => {
                let (value, complaint) = defs::random_value(params, &mut self.rng);
                if let Some(c) = complaint {
                    self.report_at(ErrClass::GeneralError, &w.origin, w.text.col(0), 0, c);
                }
                value
            }
            Computed::Env => {
                params.and_then(std::env::var_os).map(|v| v.to_string_lossy().into_owned()).unwrap_or_default()
            }
        }
    }

    /// keepalived's `replace_param`: substitute every usable `$NAME` / `${NAME}`,
    /// re-scanning each replacement in place. `ml` is the multi-line cursor that a
    /// multi-line definition at the end of the line replaces.
    fn substitute(&mut self, w: &mut Work, max_len: usize, ml: &mut Option<Cursor>) -> Subst {
        let mut cur = 0;
        let mut found = false;
        let mut next: Option<Cursor> = None;
        let mut multiline_ptr = ml.clone();
        // Names whose replacement text is being re-scanned, with where that text ends.
        let mut active: Vec<(String, usize)> = Vec::new();
        let mut steps = 0;
        while let Some(pos) = w.text.as_str()[cur..].find('$').map(|p| p + cur) {
            if pos + 1 >= w.text.len() {
                break;
            }
            let lookup = self.defs.lookup(&w.text.as_str()[pos + 1..]);
            let u = match lookup {
                Lookup::Found(u) => u,
                Lookup::NotFound => {
                    cur = pos + 1;
                    continue;
                }
                Lookup::BadParams(msg) => {
                    self.report_at(ErrClass::GeneralError, &w.origin, w.text.col(pos), 0, msg);
                    cur = pos + 1;
                    continue;
                }
            };
            found = true;
            next = multiline_ptr.clone();
            let col = w.text.col(pos);
            let params = u.params.clone().map(|r| w.text.as_str()[pos + 1 + r.start..pos + 1 + r.end].to_string());
            let value: Rc<str> = match u.def.computed {
                Some(what) => self.computed_value(what, params.as_deref(), w).into(),
                None => u.def.value.clone(),
            };
            let replacing: String =
                if u.def.multiline { value.split('\n').next().unwrap_or("").to_string() } else { value.to_string() };
            let replaced = u.replaced_len().min(w.text.len() - pos);

            if w.text.len() + replacing.len() - replaced >= max_len {
                let msg = format!(
                    "Parameter substitution on line '{}' would exceed maximum line length - ignoring line",
                    w.text.as_str()
                );
                self.report_at(ErrClass::GeneralError, &w.origin, col, 0, msg);
                return Subst::Dropped;
            }
            let use_end = pos + replaced;
            active.retain(|(_, end)| *end >= use_end && *end > pos);
            let recursive = active.iter().any(|(n, _)| *n == u.name) || (u.def.multiline && w.via.contains(&u.name));
            steps += 1;
            if recursive || steps > MAX_SUBSTITUTIONS {
                let msg = format!("Definition ${} is used within its own value - ignoring line", u.name);
                self.report_at(ErrClass::GeneralError, &w.origin, col, u.name.len() + 1, msg);
                return Subst::Dropped;
            }
            for entry in &mut active {
                entry.1 = entry.1 - replaced + replacing.len();
            }
            active.push((u.name.clone(), pos + replacing.len()));

            if u.def.multiline {
                if let Some(outer) = multiline_ptr.take() {
                    self.ml_stack.push((outer, self.multiline_seq_depth));
                }
                self.multiline_seq_depth = self.seqs.len();
                let mut via: Vec<String> = w.via.to_vec();
                via.push(u.name.clone());
                let cursor = Cursor {
                    value: value.clone(),
                    pos: replacing.len() + 1,
                    origin: w.origin.clone(),
                    col,
                    via: via.into(),
                };
                next = Some(cursor.clone());
                multiline_ptr = Some(cursor);
            }
            w.text.replace(pos..pos + replaced, &replacing, col);
            if !replacing.is_empty() && value.trim_start_matches([' ', '\t']).starts_with('~') {
                break;
            }
        }
        if found {
            *ml = next;
            Subst::Changed
        } else {
            Subst::Unchanged
        }
    }

    /// keepalived's `decomment`: strip leading blanks, cut at `#`/`!` outside double
    /// quotes, unescape `\#` `\!`, strip trailing blanks (keeping a final `\`).
    fn decomment(&mut self, w: &mut Work) {
        w.text.trim_start_blank();
        let mut quote_at: Option<usize> = None;
        let mut continuation: Option<u32> = None;
        let mut i = 0;
        while i < w.text.len() {
            let b = w.text.bytes();
            // Ordinary bytes only move the cursor: jump to the next one that matters.
            match b[i..].iter().position(|c| matches!(c, b'"' | b'\\' | b'#' | b'!')) {
                Some(skip) => i += skip,
                None => break,
            }
            match b[i] {
                b'"' => {
                    quote_at = if quote_at.is_some() { None } else { Some(i) };
                    i += 1;
                }
                b'\\' => {
                    if i + 1 >= b.len() {
                        continuation = Some(w.text.col(i));
                        w.text.truncate(i);
                        break;
                    }
                    if quote_at.is_none() && (b[i + 1] == b'#' || b[i + 1] == b'!') {
                        w.text.remove(i..i + 1);
                        i += 1;
                    } else {
                        i += 2;
                    }
                }
                b'#' | b'!' if quote_at.is_none() => {
                    w.text.truncate(i);
                    break;
                }
                _ => i += 1,
            }
        }
        if let Some(q) = quote_at {
            let msg = format!("Unterminated quote '{}'", w.text.as_str());
            let col = w.text.col(q);
            self.report_at(ErrClass::GeneralError, &w.origin, col, 1, msg);
        }
        w.text.trim_end_blank();
        if let Some(col) = continuation {
            w.text.push('\\', col);
        }
    }

    /// Split at the first `{` or `}` outside double quotes: the text before it is this
    /// line, the brace and what follows are read next. Tracks block depth.
    fn split_braces(&mut self, w: &mut Work) {
        let b = w.text.bytes();
        let mut brace = None;
        if b.first().is_some_and(|c| *c == b'{' || *c == b'}') {
            brace = Some(0);
        } else {
            let mut i = 0;
            while let Some(skip) = b[i..].iter().position(|c| matches!(c, b'{' | b'}' | b'"')) {
                i += skip;
                if b[i] != b'"' {
                    brace = Some(i);
                    break;
                }
                match b[i + 1..].iter().position(|c| *c == b'"') {
                    Some(close) => i += close + 2,
                    None => break,
                }
            }
        }
        if let Some(at) = brace {
            let skip = if at == 0 { 1 + b[1..].iter().take_while(|c| is_blank(**c)).count() } else { 0 };
            if at + skip < b.len() {
                let mut rest = w.text.split_off(at + skip);
                rest.trim_end_blank();
                self.residue = Some(Work { text: rest, origin: w.origin.clone(), via: w.via.clone() });
            }
        }
        w.text.trim_end_blank();
        match w.text.as_str() {
            "{" => self.open_braces.push(Span { file: w.origin.file.clone(), line: w.origin.line, col: w.text.col(0) }),
            "}" if self.open_braces.pop().is_none() => {
                self.report_at(ErrClass::UnexpectedEob, &w.origin, w.text.col(0), 1, "Extra '}' found".to_string());
            }
            _ => {}
        }
    }

    // ----------------------------------------------------------------------------
    // Tokens

    /// keepalived's `alloc_strvec_r`, then the `Line`.
    fn emit(&mut self, w: Work) {
        let b = w.text.bytes();
        let s = w.text.as_str();
        let raw_start = self.text.len();
        self.text.push_str(s);
        let first = self.tokens.len();
        let span_at = |i: usize| Span { file: w.origin.file.clone(), line: w.origin.line, col: w.text.col(i) };
        let mut i = 0;
        loop {
            while i < b.len() && is_white(b[i]) {
                i += 1;
            }
            if i >= b.len() {
                break;
            }
            if b[i] == b'"' {
                match b[i + 1..].iter().position(|c| *c == b'"') {
                    Some(len) => {
                        let text = raw_start + i + 1..raw_start + i + 1 + len;
                        let text = SharedStr::new(&self.text_cell, text);
                        self.tokens.push(Token { text, span: span_at(i), quoted: true });
                        i += len + 2;
                    }
                    None => {
                        let tolerated =
                            self.tokens.len() - first > 1 && QUOTED_KEYWORDS.contains(&self.token_text(first));
                        if !tolerated {
                            let msg = format!("Unmatched quote: '{s}'");
                            self.report_at(ErrClass::UnmatchedQuote, &w.origin, w.text.col(i), 1, msg);
                        }
                        break;
                    }
                }
            } else {
                let start = i;
                while i < b.len() && !is_white(b[i]) && b[i] != b'"' {
                    i += 1;
                }
                let text = SharedStr::new(&self.text_cell, raw_start + start..raw_start + i);
                self.tokens.push(Token { text, span: span_at(start), quoted: false });
            }
        }
        let tokens = first..self.tokens.len();
        if tokens.is_empty() {
            self.text.truncate(raw_start);
        } else {
            let span = self.tokens[first].span.clone();
            self.track_global_defs(tokens.clone(), &span);
            self.lines.push(Line {
                span,
                raw: SharedStr::new(&self.text_cell, raw_start..self.text.len()),
                source: SharedStr::new(&self.text_cell, w.origin.source.clone()),
                tokens: SharedSlice::new(&self.token_cell, tokens),
            });
        }
        self.spare = w.text.into_string();
    }

    fn token_text(&self, index: usize) -> &str {
        self.tokens.get(index).and_then(|t| self.text.get(t.text.range())).unwrap_or_default()
    }

    /// Apply `include_check` inside `global_defs`, as keepalived's handler does while
    /// the file is still being read.
    fn track_global_defs(&mut self, tokens: Range<usize>, span: &Span) {
        let single = |brace: &str| {
            tokens.len() == 1 && !self.tokens[tokens.start].quoted && self.token_text(tokens.start) == brace
        };
        if single("{") {
            if self.global_defs.pending {
                self.global_defs.depth = Some(self.open_braces.len());
            }
            self.global_defs.pending = false;
            return;
        }
        if single("}") {
            if self.global_defs.depth.is_some_and(|d| self.open_braces.len() < d) {
                self.global_defs.depth = None;
            }
            return;
        }
        let first = self.token_text(tokens.start);
        let (opens_global_defs, is_include_check) = (first == "global_defs", first == "include_check");
        self.global_defs.pending = self.open_braces.is_empty() && opens_global_defs;
        if is_include_check && self.global_defs.depth.is_some() {
            let words: Vec<&str> = (tokens.start + 1..tokens.end).map(|t| self.token_text(t)).collect();
            let (bits, complaints) = include_check_value(self.include_check, &words);
            self.include_check = bits;
            for c in complaints {
                self.diags.report(ErrClass::GeneralError, Some(span.clone()), c);
            }
        }
    }

    /// The lines read: their buffers are sealed, nothing more is appended to them.
    pub fn into_lines(self) -> Vec<Line> {
        // The cells are only ever set here, and the reader is consumed.
        let _ = self.text_cell.set(self.text);
        let _ = self.token_cell.set(self.tokens);
        self.lines
    }
}

/// keepalived's `include_check_set`: the new bits and any complaints.
pub(super) fn include_check_value(current: u8, words: &[&str]) -> (u8, Vec<String>) {
    if words.is_empty() {
        return (INCLUDE_ALL, Vec::new());
    }
    let mut bits = current;
    let mut complaints = Vec::new();
    for (i, word) in words.iter().enumerate() {
        let (mode, name) = match word.as_bytes().first() {
            Some(b'-') => (-1, &word[1..]),
            Some(b'+') => (1, &word[1..]),
            _ => {
                if i == 0 {
                    bits = 0;
                } else {
                    complaints.push(format!("Duplicate include_check '{word}' specified - ignoring"));
                    continue;
                }
                (0, *word)
            }
        };
        let flag = match name {
            "read" => INCLUDE_R,
            "match" => INCLUDE_M,
            "wildcard_match" => INCLUDE_W,
            "brace_match" => INCLUDE_B,
            _ => {
                complaints.push(format!("Unknown include_check type '{name}' - ignoring"));
                0
            }
        };
        if flag != 0 {
            match mode {
                0 => bits = INCLUDE_R | flag,
                1 => bits |= flag,
                _ => bits &= !flag,
            }
        }
    }
    (bits, complaints)
}

fn is_regular_non_executable(path: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 == 0)
}

/// keepalived changes directory only when the file name has a directory part.
fn dir_of(path: &Path) -> Option<PathBuf> {
    if path.to_string_lossy().contains('/') {
        path.parent().map(|p| if p.as_os_str().is_empty() { PathBuf::from("/") } else { p.to_path_buf() })
    } else {
        None
    }
}

/// The node name up to its first '.', keepalived's default config id.
pub(super) fn short_hostname() -> String {
    let name = nix::unistd::gethostname().map(|h| h.to_string_lossy().into_owned()).unwrap_or_default();
    name.split('.').next().unwrap_or_default().to_string()
}
