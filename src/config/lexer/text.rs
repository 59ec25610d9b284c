//! A line of text that remembers, for every byte, the source column it came from.
//!
//! keepalived edits its line buffer in place (comment stripping, `\#` unescaping, `@id`
//! removal, `$NAME` substitution, brace splitting); carrying the column alongside each
//! byte lets every token point back at the character the operator wrote, and makes
//! substituted text point at the `$` that produced it.

use std::ops::Range;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Text {
    text: String,
    cols: Cols,
}

/// Where each byte came from. Most lines are ASCII and only ever trimmed or cut, so
/// their columns stay a plain offset; any other edit switches to a per-byte map.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Cols {
    /// Byte `i` is column `i + 1 + offset`.
    Ascii { offset: u32 },
    /// 1-based source column of each byte (all bytes of one char share it).
    Map(Vec<u32>),
}

impl Default for Text {
    fn default() -> Text {
        Text { text: String::new(), cols: Cols::Ascii { offset: 0 } }
    }
}

/// keepalived's `isblank`: what it trims around lines and before a trailing `\`.
pub(super) fn is_blank(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// keepalived's token separators (`WHITE_SPACE_STR`).
pub(super) fn is_white(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\n' | b'\r' | 0x0b | 0x0c)
}

impl Text {
    /// A physical line, copied into `buf` (a spare buffer to reuse, or a new one):
    /// columns count characters, starting at 1.
    pub fn from_source(line: &str, mut buf: String) -> Text {
        buf.clear();
        buf.push_str(line);
        if line.is_ascii() {
            return Text { text: buf, cols: Cols::Ascii { offset: 0 } };
        }
        let mut cols = Vec::with_capacity(line.len());
        for (n, c) in line.chars().enumerate() {
            cols.extend(std::iter::repeat_n(to_col(n + 1), c.len_utf8()));
        }
        Text { text: buf, cols: Cols::Map(cols) }
    }

    /// Text that all comes from one place (a substitution, a generated line).
    pub fn uniform(text: &str, col: u32) -> Text {
        Text { text: text.to_string(), cols: Cols::Map(vec![col; text.len()]) }
    }

    pub fn as_str(&self) -> &str {
        &self.text
    }

    pub fn into_string(self) -> String {
        self.text
    }

    pub fn bytes(&self) -> &[u8] {
        self.text.as_bytes()
    }

    pub fn len(&self) -> usize {
        self.text.len()
    }

    pub fn is_empty(&self) -> bool {
        self.text.is_empty()
    }

    pub fn clear(&mut self) {
        self.text.clear();
        self.cols = Cols::Ascii { offset: 0 };
    }

    /// Column of the byte at `at`; past the end, the column after the last character.
    pub fn col(&self, at: usize) -> u32 {
        match &self.cols {
            Cols::Ascii { offset } => to_col(at + 1).saturating_add(*offset),
            Cols::Map(cols) => match cols.get(at) {
                Some(c) => *c,
                None => cols.last().map_or(1, |c| c.saturating_add(1)),
            },
        }
    }

    /// Apply `edit` to the per-byte column map, building it first if needed.
    fn edit_cols(&mut self, edit: impl FnOnce(&mut Vec<u32>)) {
        let mut cols = match std::mem::replace(&mut self.cols, Cols::Ascii { offset: 0 }) {
            Cols::Map(cols) => cols,
            Cols::Ascii { offset } => (0..self.text.len()).map(|i| to_col(i + 1).saturating_add(offset)).collect(),
        };
        edit(&mut cols);
        self.cols = Cols::Map(cols);
    }

    /// `at` must be a char boundary (callers only cut at ASCII bytes they found).
    pub fn truncate(&mut self, at: usize) {
        if at < self.text.len() && self.text.is_char_boundary(at) {
            self.text.truncate(at);
            if let Cols::Map(cols) = &mut self.cols {
                cols.truncate(at);
            }
        }
    }

    pub fn remove(&mut self, range: Range<usize>) {
        if range.start == 0 && range.end <= self.text.len() && self.text.is_char_boundary(range.end) {
            if let Cols::Ascii { offset } = &mut self.cols {
                self.text.drain(..range.end);
                *offset = offset.saturating_add(to_col(range.end));
                return;
            }
        }
        self.replace(range, "", 0);
    }

    /// Replace `range` with `with`, all of whose bytes are attributed to `col`.
    pub fn replace(&mut self, range: Range<usize>, with: &str, col: u32) {
        let end = range.end.min(self.text.len());
        let start = range.start.min(end);
        if !self.text.is_char_boundary(start) || !self.text.is_char_boundary(end) {
            return;
        }
        self.edit_cols(|cols| {
            cols.splice(start..end, std::iter::repeat_n(col, with.len()));
        });
        self.text.replace_range(start..end, with);
    }

    pub fn push(&mut self, c: char, col: u32) {
        self.edit_cols(|cols| cols.extend(std::iter::repeat_n(col, c.len_utf8())));
        self.text.push(c);
    }

    /// Split at a char boundary, keeping the head and returning the tail.
    pub fn split_off(&mut self, at: usize) -> Text {
        if at >= self.text.len() || !self.text.is_char_boundary(at) {
            return Text::default();
        }
        let text = self.text.split_off(at);
        let cols = match &mut self.cols {
            Cols::Ascii { offset } => Cols::Ascii { offset: offset.saturating_add(to_col(at)) },
            Cols::Map(cols) => Cols::Map(cols.split_off(at)),
        };
        Text { text, cols }
    }

    pub fn trim_start_blank(&mut self) {
        let n = self.bytes().iter().take_while(|b| is_blank(**b)).count();
        if n > 0 {
            self.remove(0..n);
        }
    }

    pub fn trim_end_blank(&mut self) {
        let n = self.bytes().iter().rev().take_while(|b| is_blank(**b)).count();
        let keep = self.len() - n;
        self.truncate(keep);
    }

    /// The substring `range` with its columns.
    pub fn slice(&self, range: Range<usize>) -> Text {
        let Some(text) = self.text.get(range.clone()) else { return Text::default() };
        let cols = match &self.cols {
            Cols::Ascii { offset } => Cols::Ascii { offset: offset.saturating_add(to_col(range.start)) },
            Cols::Map(cols) => Cols::Map(cols[range].to_vec()),
        };
        Text { text: text.to_string(), cols }
    }
}

fn to_col(n: usize) -> u32 {
    u32::try_from(n).unwrap_or(u32::MAX)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_count_characters_not_bytes() {
        let t = Text::from_source("é x", String::new());
        assert_eq!(t.col(0), 1);
        assert_eq!(t.col(1), 1);
        assert_eq!(t.col(2), 2);
        assert_eq!(t.col(3), 3);
        assert_eq!(t.col(4), 4, "past the end is the next column");
    }

    #[test]
    fn replaced_text_takes_the_column_it_was_given() {
        let mut t = Text::from_source("a $X b", String::new());
        t.replace(2..4, "hello", 3);
        assert_eq!(t.as_str(), "a hello b");
        assert_eq!(t.col(2), 3);
        assert_eq!(t.col(6), 3);
        assert_eq!(t.col(8), 6);
    }

    #[test]
    fn cuts_inside_a_character_are_refused_not_panicking() {
        let mut t = Text::from_source("éé", String::new());
        t.truncate(1);
        assert_eq!(t.as_str(), "éé");
        assert!(t.split_off(3).is_empty());
        t.replace(1..2, "x", 1);
        assert_eq!(t.as_str(), "éé");
    }

    #[test]
    fn ascii_lines_keep_their_columns_through_trims_cuts_and_edits() {
        let mut t = Text::from_source("  ab {cd} \\#e", String::new());
        t.trim_start_blank();
        assert_eq!((t.col(0), t.col(3)), (3, 6));
        let mut tail = t.split_off(3);
        assert_eq!(tail.col(0), 6);
        let inner = tail.slice(1..3);
        assert_eq!((inner.as_str(), inner.col(0)), ("cd", 7));
        tail.remove(5..6);
        assert_eq!(tail.as_str(), "{cd} #e");
        assert_eq!((tail.col(5), tail.col(6)), (12, 13));
        tail.push('!', 40);
        assert_eq!((tail.col(6), tail.col(7)), (13, 40));
    }

    #[test]
    fn trimming_only_removes_spaces_and_tabs() {
        let mut t = Text::from_source(" \t\x0bx \t", String::new());
        t.trim_start_blank();
        t.trim_end_blank();
        assert_eq!(t.as_str(), "\x0bx");
        assert_eq!(t.col(0), 3);
    }
}
