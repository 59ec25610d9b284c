//! `~SEQ(var, …)`, `~SEQx(…)` and `~LST(…)` headers (keepalived's `add_seq`,
//! `add_lst`): what to iterate and where the repeated text starts.

/// keepalived's `seq_buf`: the numeric arguments, after `$` substitution, must fit in
/// 3 longs with separators.
pub const SEQ_ARGS_MAX: usize = 3 * 20 + 3 + 1;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) enum Iteration {
    Range { var: String, next: i64, step: i64, last: i64, hex: bool },
    List { vars: Vec<String>, sets: Vec<Vec<String>>, next: usize },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Header {
    pub iteration: Iteration,
    /// Byte offset in the line where the repeated text starts.
    pub text_start: usize,
}

fn skip_blanks(b: &[u8], mut p: usize) -> usize {
    while p < b.len() && (b[p] == b' ' || b[p] == b'\t') {
        p += 1;
    }
    p
}

fn until_any(b: &[u8], mut p: usize, stops: &[u8]) -> usize {
    while p < b.len() && !stops.contains(&b[p]) {
        p += 1;
    }
    p
}

fn text(b: &[u8], from: usize, to: usize) -> String {
    String::from_utf8_lossy(&b[from.min(to)..to]).into_owned()
}

/// C `strtol(s, &end, 0)`: the value and how many bytes it used (0 if no number).
pub(super) fn strtol(b: &[u8]) -> (i64, usize) {
    let mut p = 0;
    while p < b.len() && super::text::is_white(b[p]) {
        p += 1;
    }
    let negative = match b.get(p) {
        Some(b'-') => {
            p += 1;
            true
        }
        Some(b'+') => {
            p += 1;
            false
        }
        _ => false,
    };
    let (radix, digits_at) = if b.get(p) == Some(&b'0')
        && matches!(b.get(p + 1), Some(b'x' | b'X'))
        && b.get(p + 2).is_some_and(u8::is_ascii_hexdigit)
    {
        (16, p + 2)
    } else if b.get(p) == Some(&b'0') {
        (8, p)
    } else {
        (10, p)
    };
    let mut q = digits_at;
    let mut magnitude: i128 = 0;
    while let Some(d) = b.get(q).and_then(|c| (*c as char).to_digit(radix)) {
        magnitude = (magnitude * i128::from(radix) + i128::from(d)).min(i128::from(i64::MAX) + 1);
        q += 1;
    }
    if q == digits_at {
        return (0, 0);
    }
    let value = if negative { (-magnitude).max(i128::from(i64::MIN)) } else { magnitude.min(i128::from(i64::MAX)) };
    (value as i64, q)
}

/// Parse a `~SEQ` line. `substitute` applies `$` definitions to the argument text. On
/// failure, keepalived's specific messages (the generic "Invalid ~SEQ specification"
/// is added by the caller).
pub(super) fn parse_seq(line: &str, substitute: &mut dyn FnMut(&str) -> String) -> Result<Header, Vec<String>> {
    let b = line.as_bytes();
    let mut p = 4;
    let hex = b.get(p) == Some(&b'x');
    if hex {
        p += 1;
    }
    p = skip_blanks(b, p);
    if b.get(p) != Some(&b'(') {
        return Err(Vec::new());
    }
    p = skip_blanks(b, p + 1);
    let var = p;
    p = until_any(b, p, b" \t,)");
    let var_end = p;
    p = skip_blanks(b, p);
    if p >= b.len() || b[p] == b')' || p == var || b[var] == b'{' {
        return Err(vec![format!("Invalid ~SEQ definition '{line}'")]);
    }
    // keepalived steps over whatever separates the variable from the numbers.
    p = skip_blanks(b, p + 1);
    let Some(close) = b[p.min(b.len())..].iter().position(|c| *c == b')').map(|i| i + p) else {
        return Err(vec![format!("~SEQ missing terminating ')' '{line}'")]);
    };
    if close + 2 - p > SEQ_ARGS_MAX {
        return Err(vec![format!("~SEQ parameter strings too long '{line}'")]);
    }
    let args = substitute(&text(b, p, close + 1));
    let a = args.as_bytes();
    let invalid = || vec![format!("Invalid ~SEQ definition '{line}'")];

    let (one, used) = strtol(a);
    let mut q = skip_blanks(a, used);
    let (start, step, end) = if a.get(q) == Some(&b')') {
        (if one < 0 { -1 } else { 1 }, if one < 1 { -1 } else { 1 }, one)
    } else {
        if a.get(q) != Some(&b',') {
            return Err(invalid());
        }
        let (two, used) = strtol(&a[q + 1..]);
        q = skip_blanks(a, q + 1 + used);
        if a.get(q) == Some(&b')') {
            (one, if one <= two { 1 } else { -1 }, two)
        } else {
            if a.get(q) != Some(&b',') {
                return Err(invalid());
            }
            let (three, used) = strtol(&a[q + 1..]);
            q = skip_blanks(a, q + 1 + used);
            if a.get(q) != Some(&b')') {
                return Err(invalid());
            }
            if two == 0 || (one < three && two < 0) || (one > three && two > 0) {
                return Err(vec![format!("Invalid ~SEQ values '{line}'")]);
            }
            (one, two, three)
        }
    };
    if hex && (start < 0 || end < 0) {
        return Err(vec![format!("~SEQx is only valid for positive numbers '{line}'")]);
    }
    Ok(Header {
        iteration: Iteration::Range { var: text(b, var, var_end), next: start, step, last: end, hex },
        text_start: skip_blanks(b, close + 1),
    })
}

/// Parse a `~LST` line: `~LST(var, v1, v2…)` or `~LST({a,b}, {1,2}, {3,4})`.
pub(super) fn parse_lst(line: &str) -> Result<Header, Vec<String>> {
    let b = line.as_bytes();
    let mut p = skip_blanks(b, 4);
    if b.get(p) != Some(&b'(') {
        return Err(Vec::new());
    }
    p = skip_blanks(b, p + 1);
    let mut end_char = b',';
    if b.get(p) == Some(&b'{') {
        end_char = b'}';
        p = skip_blanks(b, p + 1);
    }
    let mut vars = Vec::new();
    loop {
        let start = p;
        p = until_any(b, p, b" \t,}");
        vars.push(text(b, start, p));
        p = skip_blanks(b, p);
        if b.get(p) == Some(&end_char) {
            break;
        }
        if b.get(p) != Some(&b',') {
            return Err(Vec::new());
        }
        p = skip_blanks(b, p + 1);
    }
    if b.get(p) == Some(&b'}') {
        p = skip_blanks(b, p + 1);
    }
    if b.get(p) != Some(&b',') {
        return Err(Vec::new());
    }
    p = skip_blanks(b, p + 1);

    let mut sets = Vec::new();
    loop {
        let mut end_char = b',';
        if b.get(p) == Some(&b'{') {
            end_char = b'}';
            p = skip_blanks(b, p + 1);
        }
        let mut values = Vec::new();
        loop {
            let start = p;
            p = until_any(b, p, b" \t,})");
            values.push(text(b, start, p));
            p = skip_blanks(b, p);
            if b.get(p) == Some(&end_char) || (b.get(p) == Some(&b')') && end_char == b',') {
                break;
            }
            if b.get(p) != Some(&b',') {
                return Err(Vec::new());
            }
            p = skip_blanks(b, p + 1);
            if values.len() >= vars.len() {
                return Err(vec![format!("~LST specification has too many values '{line}'")]);
            }
        }
        values.resize(vars.len(), String::new());
        sets.push(values);
        if b.get(p) == Some(&b'}') && end_char == b'}' {
            p = skip_blanks(b, p + 1);
        }
        if b.get(p) == Some(&b')') {
            break;
        }
        if b.get(p) != Some(&b',') {
            return Err(Vec::new());
        }
        p = skip_blanks(b, p + 1);
    }
    Ok(Header { iteration: Iteration::List { vars, sets, next: 0 }, text_start: skip_blanks(b, p + 1) })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seq(line: &str) -> Result<(String, Vec<i64>, bool, String), Vec<String>> {
        let h = parse_seq(line, &mut |s| s.to_string())?;
        let Iteration::Range { var, mut next, step, last, hex } = h.iteration else { panic!("not a range") };
        let mut values = vec![];
        loop {
            values.push(next);
            next += step;
            if (step > 0 && next > last) || (step < 0 && next < last) {
                break;
            }
        }
        Ok((var, values, hex, line[h.text_start..].to_string()))
    }

    #[test]
    fn seq_with_one_argument_counts_from_one_or_minus_one() {
        assert_eq!(seq("~SEQ(i,3) x $i").unwrap(), ("i".into(), vec![1, 2, 3], false, "x $i".into()));
        assert_eq!(seq("~SEQ(i, -2) x").unwrap().1, vec![-1, -2]);
        assert_eq!(seq("~SEQ(i,0) x").unwrap().1, vec![1, 0]);
    }

    #[test]
    fn seq_with_two_arguments_steps_towards_the_end() {
        assert_eq!(seq("~SEQ(i, 5, 3)").unwrap().1, vec![5, 4, 3]);
        assert_eq!(seq("~SEQ ( v , 0x10 , 0x12 ) t").unwrap().1, vec![16, 17, 18]);
    }

    #[test]
    fn seq_with_three_arguments_has_an_explicit_step() {
        assert_eq!(seq("~SEQ(i, 1, 2, 6)").unwrap().1, vec![1, 3, 5]);
        assert_eq!(seq("~SEQ(i, 6, -3, 0)").unwrap().1, vec![6, 3, 0]);
    }

    #[test]
    fn seq_rejects_steps_that_never_arrive() {
        for bad in ["~SEQ(i,1,0,3) x", "~SEQ(i,1,-1,3) x", "~SEQ(i,3,1,1) x"] {
            assert_eq!(seq(bad).unwrap_err(), vec![format!("Invalid ~SEQ values '{bad}'")]);
        }
    }

    #[test]
    fn seqx_is_hex_and_positive_only() {
        assert!(seq("~SEQx(i, 9, 11)").unwrap().2);
        assert_eq!(seq("~SEQx(i,-3)").unwrap_err()[0], "~SEQx is only valid for positive numbers '~SEQx(i,-3)'");
    }

    #[test]
    fn seq_definition_errors_carry_keepalived_messages() {
        assert_eq!(seq("~SEQ(i) x").unwrap_err()[0], "Invalid ~SEQ definition '~SEQ(i) x'");
        assert_eq!(seq("~SEQ({i,3) x").unwrap_err()[0], "Invalid ~SEQ definition '~SEQ({i,3) x'");
        assert_eq!(seq("~SEQ(i,3 x").unwrap_err()[0], "~SEQ missing terminating ')' '~SEQ(i,3 x'");
        assert!(seq("~SEQ(i,1 2)").unwrap_err()[0].starts_with("Invalid ~SEQ definition"));
        assert!(
            seq(&format!("~SEQ(i,{})", "1".repeat(70))).unwrap_err()[0].starts_with("~SEQ parameter strings too long")
        );
        assert_eq!(seq("~SEQUENCE(i,3)").unwrap_err(), Vec::<String>::new());
    }

    #[test]
    fn seq_separator_is_skipped_whatever_it_is() {
        // keepalived steps over one byte after the variable without checking it.
        assert_eq!(seq("~SEQ(i 3) x").unwrap().1, vec![1, 0]);
    }

    #[test]
    fn seq_arguments_are_substituted() {
        let h = parse_seq("~SEQ(i, $N) x", &mut |s| s.replace("$N", "2")).unwrap();
        assert!(matches!(h.iteration, Iteration::Range { last: 2, .. }));
    }

    #[test]
    fn strtol_reads_like_c() {
        assert_eq!(strtol(b" 12)"), (12, 3));
        assert_eq!(strtol(b"-0x1f,"), (-31, 5));
        assert_eq!(strtol(b"010"), (8, 3));
        assert_eq!(strtol(b"0x"), (0, 1));
        assert_eq!(strtol(b")"), (0, 0));
        assert_eq!(strtol(b"99999999999999999999"), (i64::MAX, 20));
        assert_eq!(strtol(b"-99999999999999999999"), (i64::MIN, 21));
    }

    type Listed = (Vec<String>, Vec<Vec<String>>, String);

    fn lst(line: &str) -> Result<Listed, Vec<String>> {
        let h = parse_lst(line)?;
        let Iteration::List { vars, sets, .. } = h.iteration else { panic!("not a list") };
        Ok((vars, sets, line[h.text_start..].to_string()))
    }

    fn strs(v: &[&str]) -> Vec<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn lst_with_one_variable_iterates_its_values() {
        let (vars, sets, text) = lst("~LST(i, a, b ,c) x $i").unwrap();
        assert_eq!(vars, strs(&["i"]));
        assert_eq!(sets, vec![strs(&["a"]), strs(&["b"]), strs(&["c"])]);
        assert_eq!(text, "x $i");
    }

    #[test]
    fn lst_with_several_variables_takes_value_sets_and_blanks_missing_ones() {
        let (vars, sets, _) = lst("~LST({a,b},{1,2},{3}) t").unwrap();
        assert_eq!(vars, strs(&["a", "b"]));
        assert_eq!(sets, vec![strs(&["1", "2"]), strs(&["3", ""])]);
    }

    #[test]
    fn lst_with_too_many_values_is_refused() {
        assert_eq!(
            lst("~LST({a,b},{1,2,3}) t").unwrap_err(),
            vec!["~LST specification has too many values '~LST({a,b},{1,2,3}) t'".to_string()]
        );
    }

    #[test]
    fn lst_syntax_errors_are_refused() {
        for bad in ["~LST i, a)", "~LST(i a)", "~LST(i, a", "~LST({a b}, {1})", "~LST({a,b} {1})"] {
            assert!(lst(bad).is_err(), "{bad}");
        }
    }
}
