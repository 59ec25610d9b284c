//! keepalived's configuration tokenizer: turns the main file and everything it includes
//! into logical lines of tokens, each token keeping its file, line and column.
//!
//! PLACEHOLDER: a minimal version (comments, double quotes, brace splitting) so that the
//! parser can be built against the final interface. The full rules (include*, @id,
//! $PARAMS, ~SEQ/~LST, escapes, line limit) replace it.

use super::diag::{Diagnostics, ErrClass};
use super::model::Span;
use std::path::Path;

/// One token of a logical line.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token {
    pub text: String,
    pub span: Span,
    /// The token was written inside double quotes.
    pub quoted: bool,
}

/// A logical line as keepalived's parser sees it: after comment stripping, `@id`
/// filtering, `$` substitution and `~SEQ` expansion, and with every `{` and `}` split
/// onto a line of its own.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Line {
    /// Where the line starts (the first token).
    pub span: Span,
    /// The line's text after processing, as keepalived would re-tokenise it for script
    /// keywords (which accept single quotes and escapes).
    pub raw: String,
    /// The original physical source line, for caret diagnostics.
    pub source: String,
    pub tokens: Vec<Token>,
}

impl Line {
    pub fn is_open_brace(&self) -> bool {
        self.tokens.len() == 1 && self.tokens[0].text == "{" && !self.tokens[0].quoted
    }
    pub fn is_close_brace(&self) -> bool {
        self.tokens.len() == 1 && self.tokens[0].text == "}" && !self.tokens[0].quoted
    }
}

#[derive(Debug, Clone, Default)]
pub struct LexOptions {
    /// `-i`: the id matched by `@id` lines (default: short hostname).
    pub config_id: Option<String>,
    /// `-e`: every include check on.
    pub all_config: bool,
}

/// Read `path` and everything it includes.
pub fn read_config(path: &Path, _opts: &LexOptions, diags: &mut Diagnostics) -> Vec<Line> {
    let file = path.display().to_string();
    let text = match std::fs::read(path) {
        Ok(b) => String::from_utf8_lossy(&b).into_owned(),
        Err(e) => {
            diags.report(ErrClass::FileNotFound, None, format!("Config files missing '{file}': {e}"));
            return Vec::new();
        }
    };
    lex_str(&text, &file)
}

/// Tokenise a string as one file (no include processing in the placeholder).
pub fn lex_str(text: &str, file: &str) -> Vec<Line> {
    let mut out = Vec::new();
    for (n, src) in text.lines().enumerate() {
        let mut cur: Vec<Token> = Vec::new();
        let chars: Vec<char> = src.chars().collect();
        let mut i = 0;
        let mk = |col: usize| Span { file: file.to_string(), line: n as u32 + 1, col: col as u32 + 1 };
        let flush = |cur: &mut Vec<Token>, out: &mut Vec<Line>| {
            if !cur.is_empty() {
                let toks = std::mem::take(cur);
                let raw = toks.iter().map(|t| t.text.clone()).collect::<Vec<_>>().join(" ");
                out.push(Line { span: toks[0].span.clone(), raw, source: src.to_string(), tokens: toks });
            }
        };
        while i < chars.len() {
            let c = chars[i];
            if c.is_whitespace() {
                i += 1;
            } else if c == '#' || c == '!' {
                break;
            } else if c == '{' || c == '}' {
                flush(&mut cur, &mut out);
                cur.push(Token { text: c.to_string(), span: mk(i), quoted: false });
                flush(&mut cur, &mut out);
                i += 1;
            } else if c == '"' {
                let start = i;
                i += 1;
                let mut s = String::new();
                while i < chars.len() && chars[i] != '"' {
                    s.push(chars[i]);
                    i += 1;
                }
                i += 1;
                cur.push(Token { text: s, span: mk(start), quoted: true });
            } else {
                let start = i;
                let mut s = String::new();
                while i < chars.len() && !chars[i].is_whitespace() && !"\"{}#!".contains(chars[i]) {
                    s.push(chars[i]);
                    i += 1;
                }
                cur.push(Token { text: s, span: mk(start), quoted: false });
            }
        }
        flush(&mut cur, &mut out);
    }
    out
}
