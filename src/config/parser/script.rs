//! keepalived's shell-like splitter for script keywords: both quote characters quote,
//! quoted and unquoted pieces concatenate into one word, and backslash escapes are
//! decoded (\a \b \E \f \n \r \t \v \nnn \xXX \cC; any other \C is C).
//!
//! A script line is split twice: the keyword line gives `KEYWORD "command words" [user
//! [group]]`, then the command string is split again into argv.

use crate::config::model::{ScriptCommand, Span};

const WHITE_SPACE: &[char] = &[' ', '\t', '\n', '\r', '\x0b', '\x0c'];

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum SplitError {
    /// keepalived: "String '%s': missing terminating %c" (CONFIG_UNMATCHED_QUOTE).
    UnmatchedQuote(char),
    /// keepalived: "Missing escape char at end: '%s'" (logged only).
    TrailingBackslash,
}

/// Split `src` into words as alloc_strvec_quoted_escaped does.
pub(crate) fn split_quoted_escaped(src: &str) -> Result<Vec<String>, SplitError> {
    let bytes = src.as_bytes();
    let mut words = Vec::new();
    let mut i = 0;
    let mut quote: Option<u8> = None;
    while i < bytes.len() {
        while i < bytes.len() && WHITE_SPACE.contains(&(bytes[i] as char)) {
            i += 1;
        }
        if i >= bytes.len() {
            break;
        }
        let mut word: Vec<u8> = Vec::new();
        while i < bytes.len() {
            let c = bytes[i];
            let ends_word = match quote {
                Some(q) => c == q || c == b'\\',
                None => c == b'\\' || c == b'"' || c == b'\'' || WHITE_SPACE.contains(&(c as char)),
            };
            if !ends_word {
                word.push(c);
                i += 1;
                continue;
            }
            if c == b'\\' {
                i += 1;
                if i >= bytes.len() {
                    return Err(SplitError::TrailingBackslash);
                }
                let (value, used) = decode_escape(&bytes[i..]);
                word.push(value);
                i += used;
                continue;
            }
            if quote.is_some() {
                quote = None;
                i += 1;
                continue;
            }
            if c == b'"' || c == b'\'' {
                quote = Some(c);
                i += 1;
                continue;
            }
            break;
        }
        if let Some(q) = quote {
            return Err(SplitError::UnmatchedQuote(q as char));
        }
        words.push(String::from_utf8_lossy(&word).into_owned());
    }
    Ok(words)
}

/// Decode one escape (the bytes after the backslash): the byte produced and how many input
/// bytes it used.
fn decode_escape(s: &[u8]) -> (u8, usize) {
    let c = s[0];
    if c == b'x' && s.get(1).is_some_and(u8::is_ascii_hexdigit) {
        // keepalived keeps shifting hex digits into one char: only the last two count.
        let mut value: u8 = 0;
        let mut n = 1;
        while let Some(d) = s.get(n).filter(|d| d.is_ascii_hexdigit()) {
            let digit = (*d as char).to_digit(16).unwrap_or(0) as u8;
            value = (value << 4) | digit;
            n += 1;
        }
        return (value, n);
    }
    if c == b'c' && s.len() > 1 {
        return (s[1] & 0x1f, 2);
    }
    if (b'0'..=b'7').contains(&c) {
        let mut value = c - b'0';
        let mut n = 1;
        while n < 3 && s.get(n).is_some_and(|d| (b'0'..=b'7').contains(d)) {
            value = value.wrapping_shl(3).wrapping_add(s[n] - b'0');
            n += 1;
        }
        return (value, n);
    }
    let value = match c {
        b'a' => 0x07,
        b'b' => 0x08,
        b'E' => 0x1b,
        b'f' => 0x0c,
        b'n' => b'\n',
        b'r' => b'\r',
        b't' => b'\t',
        b'v' => 0x0b,
        other => other,
    };
    (value, 1)
}

/// Why a script keyword gave no command.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ScriptError {
    Split(SplitError),
    /// Nothing after the keyword, or an empty command string.
    Empty,
}

/// `KEYWORD "cmd args" [user [group]]` → ScriptCommand. `raw` is the logical line as the
/// lexer left it (with its quotes).
pub(crate) fn script_from_line(raw: &str, span: &Span) -> Result<ScriptCommand, ScriptError> {
    let words = split_quoted_escaped(raw).map_err(ScriptError::Split)?;
    let command = words.get(1).ok_or(ScriptError::Empty)?;
    let argv = split_quoted_escaped(command).map_err(ScriptError::Split)?;
    if argv.is_empty() {
        return Err(ScriptError::Empty);
    }
    let user = words.get(2).cloned();
    let group = words.get(3).cloned();
    Ok(ScriptCommand {
        raw: command.clone(),
        argv,
        set_supplementary_groups: group.is_some(),
        user,
        group,
        span: span.clone(),
    })
}

/// The command string as it must be written back into a config: one double-quoted word
/// that re-splits to the same argv.
pub(crate) fn quote_command(argv: &[String]) -> String {
    let inner: Vec<String> = argv.iter().map(|a| quote_word(a, '\'')).collect();
    quote_word(&inner.join(" "), '"')
}

/// One word quoted with `q` so that split_quoted_escaped returns it unchanged. Double
/// quotes, `$` and control characters are written as `\xHH` so that the configuration
/// lexer (quotes, parameter substitution) leaves the line alone.
pub(crate) fn quote_word(word: &str, q: char) -> String {
    let mut out = String::with_capacity(word.len() + 2);
    out.push(q);
    for c in word.chars() {
        match c {
            '\\' => out.push_str("\\\\"),
            '"' | '$' => out.push_str(&format!("\\{:03o}", c as u32)),
            c if c == q => {
                out.push('\\');
                out.push(c);
            }
            c if (c as u32) < 0x20 || c as u32 == 0x7f => out.push_str(&format!("\\{:03o}", c as u32)),
            c => out.push(c),
        }
    }
    out.push(q);
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn split(s: &str) -> Vec<String> {
        split_quoted_escaped(s).unwrap()
    }

    #[test]
    fn both_quote_characters_quote_and_pieces_concatenate() {
        assert_eq!(split(r#"abcd" efg h "x"#), vec!["abcd efg h x"]);
        assert_eq!(split(r#"a 'b c' "d e""#), vec!["a", "b c", "d e"]);
        assert_eq!(split(r#"it"'"s"#), vec!["it's"]);
    }

    #[test]
    fn escapes_are_decoded() {
        assert_eq!(split(r"\x41\102\cA\t\E\q"), vec!["AB\u{1}\t\u{1b}q"]);
        assert_eq!(split(r"a\ b"), vec!["a b"]);
    }

    #[test]
    fn unterminated_quote_is_an_error() {
        assert_eq!(split_quoted_escaped("a 'b"), Err(SplitError::UnmatchedQuote('\'')));
        assert_eq!(split_quoted_escaped("a \\"), Err(SplitError::TrailingBackslash));
    }

    #[test]
    fn keepalived_reference_example_argv() {
        let span = Span::default();
        let s = script_from_line(r#"notify "/bin/echo 'x y' \x41 #notcomment" nobody"#, &span).unwrap();
        assert_eq!(s.argv, vec!["/bin/echo", "x y", "A", "#notcomment"]);
        assert_eq!(s.user.as_deref(), Some("nobody"));
        assert_eq!(s.group, None);
    }

    #[test]
    fn user_and_group_follow_the_command() {
        let s = script_from_line(r#"notify_master "/x.sh a" alice staff"#, &Span::default()).unwrap();
        assert_eq!(s.argv, vec!["/x.sh", "a"]);
        assert_eq!((s.user.as_deref(), s.group.as_deref()), (Some("alice"), Some("staff")));
        assert!(s.set_supplementary_groups);
    }

    #[test]
    fn missing_command_is_empty() {
        assert_eq!(script_from_line("notify_master", &Span::default()), Err(ScriptError::Empty));
        assert_eq!(script_from_line("notify_master \"\"", &Span::default()), Err(ScriptError::Empty));
    }

    #[test]
    fn quoting_round_trips_any_argv() {
        let argv: Vec<String> =
            vec!["/bin/x y".into(), "it's".into(), "a\"bc".into(), "back\\slash".into(), "\t1".into(), "$HOME".into(), String::new()];
        let quoted = quote_command(&argv);
        let words = split(&quoted);
        assert_eq!(words.len(), 1);
        assert_eq!(split(&words[0]), argv);
    }
}
