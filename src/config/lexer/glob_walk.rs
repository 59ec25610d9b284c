//! Include-pattern expansion with the semantics keepalived gets from glibc's
//! `glob(GLOB_MARK | GLOB_BRACE | GLOB_ALTDIRFUNC)`: csh braces expanded first, each
//! alternative matched and sorted on its own, hidden files only matched by a literal
//! dot, directories marked, and a record of whether anything was missing (a literal name
//! that does not exist, a directory that cannot be opened) and whether a wildcard was
//! used — the facts keepalived's include checks are built on.
//!
//! Bounds: at most [`MAX_ALTERNATIVES`] brace alternatives, [`MAX_MATCHES`] matches and
//! [`MAX_SCANNED`] directory entries per pattern; beyond them the walk stops and says so.

use glob::{MatchOptions, Pattern};
use std::path::{Path, PathBuf};

pub const MAX_ALTERNATIVES: usize = 1024;
pub const MAX_MATCHES: usize = 1024;
pub const MAX_SCANNED: usize = 100_000;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Match {
    pub path: PathBuf,
    /// glob's GLOB_MARK: shown with a trailing `/`.
    pub is_dir: bool,
}

impl Match {
    pub fn display(&self) -> String {
        let mut s = self.path.to_string_lossy().into_owned();
        if self.is_dir && !s.ends_with('/') {
            s.push('/');
        }
        s
    }
}

#[derive(Debug, Default)]
pub(super) struct GlobOutcome {
    pub matches: Vec<Match>,
    /// glibc called keepalived's lstat/opendir hooks and one of them failed.
    pub missing: bool,
    /// A directory had to be read, i.e. some component was a wildcard.
    pub have_wildcards: bool,
    /// A bound was hit; `matches` holds what was found before it.
    pub truncated: bool,
}

/// keepalived's `have_brace`: an unescaped `{` anywhere.
pub(super) fn has_brace(pattern: &str) -> bool {
    let b = pattern.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'{' => return true,
            _ => i += 1,
        }
    }
    false
}

/// Expand `pattern`, relative names resolved against `base` (the including file's
/// directory; `None` means the process's working directory).
pub(super) fn expand(pattern: &str, base: Option<&Path>) -> GlobOutcome {
    let mut out = GlobOutcome::default();
    let mut alternatives = Vec::new();
    if !expand_braces(pattern, &mut alternatives) {
        out.truncated = true;
    }
    let mut scanned = 0usize;
    for alt in alternatives {
        let mut found = walk(&alt, base, &mut out, &mut scanned);
        found.sort_by(|a, b| a.path.as_os_str().as_encoded_bytes().cmp(b.path.as_os_str().as_encoded_bytes()));
        for m in found {
            if out.matches.len() >= MAX_MATCHES {
                out.truncated = true;
                break;
            }
            out.matches.push(m);
        }
        if out.truncated {
            break;
        }
    }
    out
}

/// glibc's `next_brace_sub`: from just inside a brace, the index of the `,` or `}` that
/// ends this alternative at depth 0, honouring `\` escapes.
fn next_brace_sub(b: &[u8], mut i: usize) -> Option<usize> {
    let mut depth = 0usize;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
            continue;
        }
        if b[i] == b'}' {
            if depth == 0 {
                return Some(i);
            }
            depth -= 1;
        } else if b[i] == b',' && depth == 0 {
            return Some(i);
        } else if b[i] == b'{' {
            depth += 1;
        }
        i += 1;
    }
    None
}

/// csh brace expansion in glibc's order; a brace without its match is literal.
/// Returns false if the alternatives were cut at [`MAX_ALTERNATIVES`].
fn expand_braces(pattern: &str, out: &mut Vec<String>) -> bool {
    let b = pattern.as_bytes();
    let mut open = None;
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\' {
            i += 2;
        } else if b[i] == b'{' {
            open = Some(i);
            break;
        } else {
            i += 1;
        }
    }
    let Some(open) = open else {
        return push_bounded(out, pattern.to_string());
    };
    // Find every alternative's end; any failure makes the whole pattern literal.
    let mut ends = Vec::new();
    let mut at = open + 1;
    loop {
        match next_brace_sub(b, at) {
            Some(end) => {
                ends.push(end);
                if b[end] == b'}' {
                    break;
                }
                at = end + 1;
            }
            None => return push_bounded(out, pattern.to_string()),
        }
    }
    let close = ends[ends.len() - 1];
    let (prefix, rest) = (&pattern[..open], &pattern[close + 1..]);
    let mut start = open + 1;
    for end in ends {
        let alt = format!("{prefix}{}{rest}", &pattern[start..end]);
        if !expand_braces(&alt, out) {
            return false;
        }
        start = end + 1;
    }
    true
}

fn push_bounded(out: &mut Vec<String>, s: String) -> bool {
    if out.len() >= MAX_ALTERNATIVES {
        return false;
    }
    out.push(s);
    true
}

/// A component is a wildcard if it has an unescaped `*`, `?` or `[`.
fn has_magic(comp: &str) -> bool {
    let b = comp.as_bytes();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'\\' => i += 2,
            b'*' | b'?' | b'[' => return true,
            _ => i += 1,
        }
    }
    false
}

fn unescape(comp: &str) -> String {
    let mut s = String::with_capacity(comp.len());
    let mut chars = comp.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                s.push(n);
            }
        } else {
            s.push(c);
        }
    }
    s
}

/// POSIX component pattern → glob crate pattern. `**` is not recursive in glibc, so
/// runs of `*` collapse; `\c` and `[^` are rewritten; an unclosed `[` is literal.
fn compile(comp: &str) -> Pattern {
    let mut s = String::with_capacity(comp.len() + 8);
    let mut chars = comp.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' => {
                if let Some(n) = chars.next() {
                    s.push_str(&Pattern::escape(&n.to_string()));
                }
            }
            '*' => {
                while chars.peek() == Some(&'*') {
                    chars.next();
                }
                s.push('*');
            }
            '[' => {
                s.push('[');
                if chars.peek() == Some(&'^') {
                    chars.next();
                    s.push('!');
                }
            }
            _ => s.push(c),
        }
    }
    Pattern::new(&s).unwrap_or_else(|_| {
        // An unmatched '[' is an ordinary character for fnmatch.
        let literal: String = unescape(comp)
            .split('*')
            .map(|part| part.split('?').map(Pattern::escape).collect::<Vec<_>>().join("?"))
            .collect::<Vec<_>>()
            .join("*");
        Pattern::new(&literal).unwrap_or_default()
    })
}

fn dir_or_dot(p: &Path) -> &Path {
    if p.as_os_str().is_empty() {
        Path::new(".")
    } else {
        p
    }
}

/// Match one brace-free pattern, component by component.
fn walk(pattern: &str, base: Option<&Path>, out: &mut GlobOutcome, scanned: &mut usize) -> Vec<Match> {
    if pattern.is_empty() {
        return Vec::new();
    }
    let (root, rest) = match pattern.strip_prefix('/') {
        Some(rest) => (PathBuf::from("/"), rest),
        None => (base.map(Path::to_path_buf).unwrap_or_default(), pattern),
    };
    let opts =
        MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: true };
    let comps: Vec<&str> = rest.split('/').collect();
    let mut current = vec![root];
    let mut only_dirs = false;
    for (i, comp) in comps.iter().enumerate() {
        let last = i + 1 == comps.len();
        if comp.is_empty() {
            // A trailing '/' asks for directories only.
            only_dirs |= last && i > 0;
            continue;
        }
        if has_magic(comp) {
            out.have_wildcards = true;
            let pat = compile(comp);
            let mut next = Vec::new();
            for dir in &current {
                let entries = match std::fs::read_dir(dir_or_dot(dir)) {
                    Ok(e) => e,
                    Err(_) => {
                        out.missing = true;
                        continue;
                    }
                };
                for entry in entries.flatten() {
                    *scanned += 1;
                    if *scanned > MAX_SCANNED {
                        out.truncated = true;
                        break;
                    }
                    let name = entry.file_name();
                    if !pat.matches_with(&name.to_string_lossy(), opts) {
                        continue;
                    }
                    // glibc's GLOB_ONLYDIR keeps symlinks too; one that is not a directory
                    // then counts as missing when it is searched.
                    let could_be_dir = entry.file_type().is_ok_and(|t| t.is_dir() || t.is_symlink());
                    if !last && !could_be_dir {
                        continue;
                    }
                    let path = dir.join(&name);
                    next.push(path);
                    if next.len() > MAX_MATCHES {
                        out.truncated = true;
                        break;
                    }
                }
                if out.truncated {
                    break;
                }
            }
            current = next;
        } else {
            let name = unescape(comp);
            current = current.iter().map(|p| p.join(&name)).collect();
            if last {
                current.retain(|p| {
                    let exists = std::fs::symlink_metadata(p).is_ok();
                    out.missing |= !exists;
                    exists
                });
            }
        }
        if current.is_empty() || out.truncated {
            break;
        }
    }
    if only_dirs {
        current.retain(|p| {
            let dir = dir_or_dot(p).is_dir();
            out.missing |= !dir;
            dir
        });
    }
    current
        .into_iter()
        .map(|path| {
            let is_dir = dir_or_dot(&path).is_dir();
            Match { path, is_dir }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn braces(p: &str) -> Vec<String> {
        let mut v = Vec::new();
        assert!(expand_braces(p, &mut v));
        v
    }

    #[test]
    fn braces_expand_in_order_and_nest() {
        assert_eq!(braces("a{b,c}d"), ["abd", "acd"]);
        assert_eq!(braces("{x,y{1,2}}z"), ["xz", "y1z", "y2z"]);
        assert_eq!(braces("{a,b}{1,2}"), ["a1", "a2", "b1", "b2"]);
        assert_eq!(braces("{only}"), ["only"]);
        assert_eq!(braces("x{,y}"), ["x", "xy"]);
    }

    #[test]
    fn an_unmatched_or_escaped_brace_is_literal() {
        assert_eq!(braces("a{b,c"), ["a{b,c"]);
        assert_eq!(braces(r"a\{b,c}"), [r"a\{b,c}"]);
        assert!(!has_brace(r"a\{b"));
        assert!(has_brace("a{b"));
    }

    #[test]
    fn brace_explosion_is_cut_at_the_limit() {
        let p = "{a,b}".repeat(20);
        let mut v = Vec::new();
        assert!(!expand_braces(&p, &mut v));
        assert_eq!(v.len(), MAX_ALTERNATIVES);
    }

    #[test]
    fn posix_patterns_translate() {
        let o =
            MatchOptions { case_sensitive: true, require_literal_separator: true, require_literal_leading_dot: true };
        assert!(compile("a**b").matches_with("axyzb", o));
        assert!(compile(r"a\*").matches_with("a*", o));
        assert!(!compile(r"a\*").matches_with("ab", o));
        assert!(compile("[^a]x").matches_with("bx", o));
        assert!(!compile("[^a]x").matches_with("ax", o));
        assert!(compile("[ab").matches_with("[ab", o));
        assert!(!compile("*").matches_with(".hidden", o));
    }
}
