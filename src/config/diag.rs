//! Configuration diagnostics: keepalived's error classes (which decide `-t`'s exit code)
//! and kad's richer rendering (file:line:col, expected, caret, did-you-mean).

use super::model::Span;
use std::fmt::Write as _;

/// keepalived's `config_err_t`, in its enum order. The numeric order matters: `-t`
/// reports the highest value ever recorded, not the most severe (reference §1.9).
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize, serde::Deserialize)]
#[repr(u8)]
pub enum ErrClass {
    Ok = 0,
    FileNotFound = 1,
    BadIf = 2,
    Fatal = 3,
    MultipleFiles = 4,
    UnknownKeyword = 5,
    UnexpectedBob = 6,
    MissingBob = 7,
    UnexpectedEob = 8,
    MissingEob = 9,
    UnmatchedQuote = 10,
    MissingParameter = 11,
    InvalidNumber = 12,
    GeneralError = 13,
    Warning = 14,
    Deprecated = 15,
    SecurityError = 16,
}

impl ErrClass {
    /// `-t` exit code for the highest recorded class (lib/scheduler.h, main.c).
    pub fn config_test_exit_code(self) -> i32 {
        match self {
            ErrClass::Ok => 0,
            ErrClass::FileNotFound | ErrClass::BadIf | ErrClass::Fatal => 4,
            ErrClass::SecurityError => 6,
            _ => 5,
        }
    }

    /// How kad labels the message. keepalived does not distinguish; operators should.
    pub fn severity(self) -> Severity {
        match self {
            ErrClass::Ok => Severity::Note,
            ErrClass::Warning | ErrClass::Deprecated => Severity::Warning,
            _ => Severity::Error,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Severity {
    Error,
    Warning,
    Note,
}

impl std::fmt::Display for Severity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
            Severity::Note => "note",
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Diagnostic {
    pub class: ErrClass,
    pub span: Option<Span>,
    pub message: String,
    /// What would have been accepted here ("a number in 1..255", "MASTER or BACKUP").
    pub expected: Option<String>,
    /// A likely intended keyword for a misspelling.
    pub did_you_mean: Option<String>,
    /// The source line the span points into, for the caret display.
    pub source_line: Option<String>,
    /// Length of the offending token (for the caret underline), 0 if unknown.
    pub width: usize,
}

impl Diagnostic {
    pub fn new(class: ErrClass, span: Option<Span>, message: impl Into<String>) -> Self {
        Diagnostic {
            class,
            span,
            message: message.into(),
            expected: None,
            did_you_mean: None,
            source_line: None,
            width: 0,
        }
    }

    /// `file:line:col: error: message — expected …` plus a caret line and a hint.
    pub fn render(&self) -> String {
        let mut out = String::new();
        if let Some(s) = &self.span {
            let _ = write!(out, "{}:{}:{}: ", s.file, s.line, s.col);
        }
        let _ = write!(out, "{}: {}", self.class.severity(), self.message);
        if let Some(e) = &self.expected {
            let _ = write!(out, " — expected {e}");
        }
        if let (Some(line), Some(s)) = (&self.source_line, &self.span) {
            let col = s.col.max(1) as usize;
            let pad: String = line
                .chars()
                .take(col - 1)
                .map(|c| if c == '\t' { '\t' } else { ' ' })
                .collect();
            let _ = write!(out, "\n    {line}\n    {pad}^{}", "~".repeat(self.width.saturating_sub(1)));
        }
        if let Some(d) = &self.did_you_mean {
            let _ = write!(out, "\n    help: did you mean '{d}'?");
        }
        out
    }
}

/// Collects diagnostics for one read of the configuration.
#[derive(Debug, Clone, Default)]
pub struct Diagnostics {
    pub list: Vec<Diagnostic>,
    /// keepalived's stored status: replaced whenever a numerically larger class is seen.
    highest: Option<ErrClass>,
    /// Set when keepalived would `exit(2)` at once (a keyword missing its argument).
    pub immediate_exit: Option<i32>,
}

impl Diagnostics {
    pub fn push(&mut self, d: Diagnostic) {
        if self.highest.is_none_or(|h| d.class > h) {
            self.highest = Some(d.class);
        }
        self.list.push(d);
    }

    pub fn report(&mut self, class: ErrClass, span: Option<Span>, message: impl Into<String>) {
        self.push(Diagnostic::new(class, span, message));
    }

    pub fn highest(&self) -> ErrClass {
        self.highest.unwrap_or(ErrClass::Ok)
    }

    pub fn config_test_exit_code(&self) -> i32 {
        self.immediate_exit.unwrap_or_else(|| self.highest().config_test_exit_code())
    }

    /// True if the daemon must not start with this configuration.
    pub fn is_fatal(&self) -> bool {
        self.immediate_exit.is_some()
            || self.list.iter().any(|d| matches!(d.class, ErrClass::FileNotFound | ErrClass::BadIf | ErrClass::Fatal))
    }
}

/// Closest keyword by edit distance, for "did you mean" hints.
pub fn did_you_mean<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str>) -> Option<String> {
    let limit = (word.len() / 3).clamp(1, 3);
    let word_chars = word.chars().count();
    candidates
        .into_iter()
        // The distance is at least the difference in length: this spares the table for
        // nearly every candidate (and makes long junk words cheap).
        .filter(|c| c.chars().count().abs_diff(word_chars) <= limit)
        .map(|c| (levenshtein(word, c), c))
        .filter(|(d, _)| *d <= limit)
        .min_by_key(|(d, _)| *d)
        .map(|(_, c)| c.to_string())
}

/// Edit distance counting a swap of two neighbouring letters as one edit (the commonest
/// typo: "lable" for "label").
fn levenshtein(a: &str, b: &str) -> usize {
    let a: Vec<char> = a.chars().collect();
    let b: Vec<char> = b.chars().collect();
    let mut rows = vec![vec![0usize; b.len() + 1]; a.len() + 1];
    for (i, row) in rows.iter_mut().enumerate() {
        row[0] = i;
    }
    for (j, cell) in rows[0].iter_mut().enumerate() {
        *cell = j;
    }
    for i in 1..=a.len() {
        for j in 1..=b.len() {
            let cost = usize::from(a[i - 1] != b[j - 1]);
            let mut d = (rows[i - 1][j] + 1).min(rows[i][j - 1] + 1).min(rows[i - 1][j - 1] + cost);
            if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
                d = d.min(rows[i - 2][j - 2] + 1);
            }
            rows[i][j] = d;
        }
    }
    rows[a.len()][b.len()]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn highest_enum_value_wins_not_most_severe() {
        let mut d = Diagnostics::default();
        d.report(ErrClass::BadIf, None, "bad interface");
        d.report(ErrClass::GeneralError, None, "general");
        assert_eq!(d.config_test_exit_code(), 5);
        d.report(ErrClass::SecurityError, None, "scripts");
        assert_eq!(d.config_test_exit_code(), 6);
    }

    #[test]
    fn only_bad_interface_cannot_run() {
        let mut d = Diagnostics::default();
        d.report(ErrClass::BadIf, None, "bad interface");
        assert_eq!(d.config_test_exit_code(), 4);
        assert!(d.is_fatal());
    }

    #[test]
    fn suggests_close_keyword() {
        let kws = ["virtual_router_id", "priority", "advert_int"];
        assert_eq!(did_you_mean("priorty", kws).as_deref(), Some("priority"));
        assert_eq!(did_you_mean("zzzzzzzz", kws), None);
        assert_eq!(did_you_mean("advret_int", kws).as_deref(), Some("advert_int"));
    }

    #[test]
    fn suggestions_allow_missing_or_extra_letters_up_to_the_limit() {
        let kws = ["virtual_router_id", "priority", "advert_int"];
        assert_eq!(did_you_mean("priorityxxx", kws).as_deref(), Some("priority"));
        assert_eq!(did_you_mean("virtual_router", kws).as_deref(), Some("virtual_router_id"));
        assert_eq!(did_you_mean("virtual_route", kws), None);
        assert_eq!(did_you_mean(&"x".repeat(1000), kws), None);
    }
}
