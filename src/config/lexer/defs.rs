//! `$NAME=value` definitions and the lookup rules of `$NAME` / `${NAME params}` uses
//! (keepalived's `check_definition`, `find_definition`, `set_std_definitions`).

use std::collections::HashMap;
use std::rc::Rc;

/// Predefined names whose value is computed at each use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Computed {
    /// `${_PWD}`: the directory of the file being read.
    Pwd,
    /// `${_INSTANCE}`: the config id.
    Instance,
    /// `${_RANDOM [MIN [MAX]]}`.
    Random,
    /// `${_ENV VAR}` (keepalived 2.4).
    Env,
}

#[derive(Debug, Clone)]
pub(super) struct Def {
    /// Lines of a multi-line value are separated by '\n'.
    pub value: Rc<str>,
    pub multiline: bool,
    pub computed: Option<Computed>,
    pub min_params: usize,
    pub max_params: usize,
    pub numbers_only: bool,
}

impl Def {
    fn plain(value: &str, multiline: bool) -> Def {
        Def { value: value.into(), multiline, computed: None, min_params: 0, max_params: 0, numbers_only: false }
    }
}

/// A use of a definition found at a `$`.
#[derive(Debug)]
pub(super) struct Use {
    pub name: String,
    pub def: Def,
    /// `${…}` form.
    pub braces: bool,
    /// Byte range of the parameters, relative to the text after the `$`.
    pub params: Option<std::ops::Range<usize>>,
}

impl Use {
    /// How many bytes from the `$` keepalived replaces (its arithmetic, including its
    /// quirk that `${X }` leaves the `}` behind).
    pub fn replaced_len(&self) -> usize {
        let extra_braces = if self.braces { 2 } else { 0 };
        match &self.params {
            // params_end - (cur_pos + 1) + (braces ? 0 : 1), then + 1 + extra_braces
            Some(p) if !self.def.multiline => p.end - 1 + usize::from(!self.braces) + 1 + extra_braces,
            _ => self.name.len() + 1 + extra_braces,
        }
    }
}

pub(super) enum Lookup {
    Found(Use),
    NotFound,
    /// Found the name but its parameters are wrong (keepalived reports and leaves it).
    BadParams(String),
}

#[derive(Debug)]
pub(super) struct Defs {
    map: HashMap<String, Def>,
}

fn is_name_start(b: u8) -> bool {
    b.is_ascii_alphabetic() || b == b'_'
}

fn is_name_char(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b == b'_'
}

impl Defs {
    pub fn with_predefined() -> Defs {
        let mut map = HashMap::new();
        let mut add = |name: &str, value: &str, computed, min_params, max_params, numbers_only| {
            map.insert(
                name.to_string(),
                Def { value: value.into(), multiline: false, computed, min_params, max_params, numbers_only },
            );
        };
        add("_PWD", "", Some(Computed::Pwd), 0, 0, false);
        add("_INSTANCE", "", Some(Computed::Instance), 0, 0, false);
        add("_RANDOM", "", Some(Computed::Random), 0, 2, true);
        add("_ENV", "", Some(Computed::Env), 1, 1, false);
        add("_HASH", "#", None, 0, 0, false);
        add("_BANG", "!", None, 0, 0, false);
        Defs { map }
    }

    /// Define or redefine; a predefined name loses its computed value but keeps its
    /// parameter rules, as in keepalived.
    pub fn set(&mut self, name: &str, value: &str, multiline: bool) {
        match self.map.get_mut(name) {
            Some(def) => {
                def.value = value.into();
                def.multiline = multiline;
                def.computed = None;
            }
            None => {
                self.map.insert(name.to_string(), Def::plain(value, multiline));
            }
        }
    }

    pub fn append(&mut self, name: &str, more: &str) {
        if let Some(def) = self.map.get_mut(name) {
            def.value = format!("{}{more}", def.value).into();
        }
    }

    pub fn get_mut(&mut self, name: &str) -> Option<&mut Def> {
        self.map.get_mut(name)
    }

    /// keepalived's `find_definition` for a use: `rest` is the text after the `$`.
    pub fn lookup(&self, rest: &str) -> Lookup {
        let b = rest.as_bytes();
        let braces = b.first() == Some(&b'{');
        let start = usize::from(braces);
        if !b.get(start).is_some_and(|c| is_name_start(*c)) {
            return Lookup::NotFound;
        }
        let mut p = start + 1;
        while p < b.len() && is_name_char(b[p]) {
            p += 1;
        }
        let name = &rest[start..p];
        let mut params: Option<std::ops::Range<usize>> = None;
        let mut numbers_only = true;
        let mut count = 0usize;
        if braces {
            let mut in_param = false;
            while p < b.len() && (b[p] == b' ' || b[p] == b'\t' || is_name_char(b[p])) {
                if b[p] != b' ' && b[p] != b'\t' {
                    params = Some(params.map_or(p..p + 1, |r| r.start..p + 1));
                    numbers_only &= b[p].is_ascii_digit();
                    if !in_param {
                        in_param = true;
                        count += 1;
                    }
                } else {
                    in_param = false;
                }
                p += 1;
            }
            if params.as_ref().is_some_and(|r| r.end != p) {
                return Lookup::NotFound;
            }
            if b.get(p) != Some(&b'}') {
                return Lookup::NotFound;
            }
        } else if p < b.len() && !matches!(b[p], b' ' | b'\t' | b',' | b')') {
            return Lookup::NotFound;
        }
        let at_end = if braces { start + name.len() + 1 == b.len() } else { p == b.len() };
        let Some(def) = self.map.get(name) else {
            return Lookup::NotFound;
        };
        if def.multiline && !at_end {
            return Lookup::NotFound;
        }
        if params.is_some() {
            if def.max_params == 0 {
                return Lookup::NotFound;
            }
            if def.numbers_only && !numbers_only {
                return Lookup::BadParams(format!("Definition {name} requires numeric parameters only."));
            }
            if count > def.max_params || count < def.min_params {
                return Lookup::BadParams(format!(
                    "Definition {name} requires between {} and {} parameters, {count} specified.",
                    def.min_params, def.max_params
                ));
            }
        }
        Lookup::Found(Use { name: name.to_string(), def: def.clone(), braces, params })
    }
}

/// A `$NAME=value` line (keepalived's `check_definition`): the name and the value with
/// a trailing `\` turned into the start of a multi-line value.
#[derive(Debug, PartialEq, Eq)]
pub(super) struct Definition<'a> {
    pub name: &'a str,
    pub value: String,
    pub multiline: bool,
}

pub(super) fn parse_definition(line: &str) -> Option<Definition<'_>> {
    let b = line.as_bytes();
    if b.first() != Some(&b'$') || !b.get(1).is_some_and(|c| is_name_start(*c)) {
        return None;
    }
    let mut p = 2;
    while p < b.len() && b[p] != b'=' {
        if !is_name_char(b[p]) {
            return None;
        }
        p += 1;
    }
    if p >= b.len() {
        return None;
    }
    let name = &line[1..p];
    let value = line[p + 1..].trim_start_matches([' ', '\t']);
    if let Some(body) = value.strip_suffix('\\') {
        let body = body.trim_end_matches([' ', '\t']);
        let value = if body.is_empty() { String::new() } else { format!("{body}\n") };
        Some(Definition { name, value, multiline: true })
    } else {
        Some(Definition { name, value: value.to_string(), multiline: false })
    }
}

/// keepalived's `random()` stand-in: xorshift64*, seeded from the clock and pid.
#[derive(Debug)]
pub(super) struct Rng(u64);

impl Rng {
    pub fn from_clock() -> Rng {
        let nanos =
            std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos() as u64);
        Rng((nanos ^ (u64::from(std::process::id()) << 32)) | 1)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D)
    }
}

/// `strtoul`-style: leading digits, saturating; anything else ends the number.
fn leading_number(s: &str) -> (u64, &str) {
    let s = s.trim_start_matches([' ', '\t']);
    let digits = s.bytes().take_while(u8::is_ascii_digit).count();
    let value = s[..digits].bytes().fold(0u64, |acc, d| acc.saturating_mul(10).saturating_add(u64::from(d - b'0')));
    (value, &s[digits..])
}

/// `${_RANDOM [MIN [MAX]]}`: the value, and keepalived's complaint if MIN > MAX.
pub(super) fn random_value(params: Option<&str>, rng: &mut Rng) -> (String, Option<String>) {
    let (mut min, mut max) = (0u64, 32767u64);
    if let Some(p) = params {
        let (lo, rest) = leading_number(p);
        min = lo;
        if !rest.trim().is_empty() {
            max = leading_number(rest).0;
        }
    }
    let mut complaint = None;
    if min > max {
        complaint = Some(format!("${{_RANDOM}}: min {min} exceeds max {max}, using {min}"));
        max = min;
    }
    let span = max - min;
    let value = if span == u64::MAX { rng.next() } else { min + rng.next() % (span + 1) };
    (value.to_string(), complaint)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn found(defs: &Defs, rest: &str) -> Option<Use> {
        match defs.lookup(rest) {
            Lookup::Found(u) => Some(u),
            _ => None,
        }
    }

    #[test]
    fn a_definition_needs_a_name_directly_followed_by_equals() {
        assert_eq!(
            parse_definition("$IF=  eth0"),
            Some(Definition { name: "IF", value: "eth0".into(), multiline: false })
        );
        assert_eq!(parse_definition("$_x1="), Some(Definition { name: "_x1", value: String::new(), multiline: false }));
        assert_eq!(parse_definition("$IF =eth0"), None);
        assert_eq!(parse_definition("$1X=a"), None);
        assert_eq!(parse_definition("$IF"), None);
        assert_eq!(parse_definition("$I-F=a"), None);
    }

    #[test]
    fn a_trailing_backslash_starts_a_multiline_value() {
        assert_eq!(
            parse_definition("$ML=first  \\"),
            Some(Definition { name: "ML", value: "first\n".into(), multiline: true })
        );
        assert_eq!(parse_definition("$ML=\\"), Some(Definition { name: "ML", value: String::new(), multiline: true }));
    }

    #[test]
    fn a_plain_use_must_be_followed_by_space_comma_paren_or_end() {
        let mut d = Defs::with_predefined();
        d.set("A", "x", false);
        for ok in ["A", "A b", "A\tb", "A,b", "A)"] {
            assert!(found(&d, ok).is_some(), "{ok}");
        }
        for bad in ["Ab", "A-b", "A.b", "A}", "A\""] {
            assert!(found(&d, bad).is_none(), "{bad}");
        }
    }

    #[test]
    fn a_braced_use_may_be_followed_by_anything() {
        let mut d = Defs::with_predefined();
        d.set("A", "x", false);
        let u = found(&d, "{A}tail").unwrap();
        assert_eq!(u.replaced_len(), 4);
        assert!(found(&d, "{A").is_none());
        assert!(found(&d, "{B}").is_none());
    }

    #[test]
    fn parameters_are_only_for_names_that_take_them() {
        let d = Defs::with_predefined();
        let u = found(&d, "{_RANDOM 1 10}x").unwrap();
        assert_eq!(u.params, Some(9..13));
        assert_eq!(u.replaced_len(), "${_RANDOM 1 10}".len());
        assert!(found(&d, "{_HASH 1}").is_none());
        assert!(matches!(d.lookup("{_RANDOM a}"), Lookup::BadParams(m) if m.contains("numeric parameters only")));
        assert!(matches!(d.lookup("{_RANDOM 1 2 3}"), Lookup::BadParams(m) if m.contains("between 0 and 2")));
        assert!(found(&d, "{_RANDOM 1 }").is_none(), "trailing space after parameters");
    }

    #[test]
    fn a_multiline_definition_is_only_used_at_the_end_of_a_line() {
        let mut d = Defs::with_predefined();
        d.set("ML", "a\nb", true);
        assert!(found(&d, "ML").is_some());
        assert!(found(&d, "{ML}").is_some());
        assert!(found(&d, "ML x").is_none());
        assert!(found(&d, "{ML}x").is_none());
    }

    #[test]
    fn redefining_a_predefined_name_replaces_its_computed_value() {
        let mut d = Defs::with_predefined();
        d.set("_INSTANCE", "fixed", false);
        let u = found(&d, "_INSTANCE").unwrap();
        assert_eq!(u.def.computed, None);
        assert_eq!(&*u.def.value, "fixed");
    }

    #[test]
    fn random_stays_within_its_bounds_and_reports_reversed_ones() {
        let mut rng = Rng(42);
        for _ in 0..1000 {
            let (v, c) = random_value(Some("5 7"), &mut rng);
            let v: u64 = v.parse().unwrap();
            assert!((5..=7).contains(&v));
            assert!(c.is_none());
            let (v, _) = random_value(None, &mut rng);
            assert!(v.parse::<u64>().unwrap() <= 32767);
        }
        let (v, c) = random_value(Some("9 3"), &mut rng);
        assert_eq!(v, "9");
        assert!(c.unwrap().contains("min 9 exceeds max 3"));
        let (v, _) = random_value(Some("0 18446744073709551615"), &mut rng);
        assert!(v.parse::<u64>().is_ok());
    }
}
