//! Views into the buffers a read fills: every source line, processed line and token of a
//! read lives in one text buffer and one token array, and lines and tokens hold ranges
//! into them. A large configuration then costs a handful of allocations instead of
//! several per line, both to build and to free.

use std::fmt;
use std::ops::{Deref, Range};
use std::rc::Rc;

/// Part of a read's text. Reads like a `&str` (`as_str`, `==`, deref, display).
#[derive(Clone)]
pub struct SharedStr {
    all: Rc<str>,
    range: Range<usize>,
}

impl SharedStr {
    /// `range` must lie on char boundaries of `all` (the reader only cuts at ASCII bytes
    /// or at the ends of what it appended); anything else reads as empty.
    pub(super) fn new(all: &Rc<str>, range: Range<usize>) -> SharedStr {
        let range = if all.get(range.clone()).is_some() { range } else { 0..0 };
        SharedStr { all: all.clone(), range }
    }

    pub fn as_str(&self) -> &str {
        self.all.get(self.range.clone()).unwrap_or_default()
    }
}

impl Deref for SharedStr {
    type Target = str;
    fn deref(&self) -> &str {
        self.as_str()
    }
}

impl From<&str> for SharedStr {
    fn from(text: &str) -> SharedStr {
        SharedStr::new(&Rc::from(text), 0..text.len())
    }
}

impl PartialEq for SharedStr {
    fn eq(&self, other: &SharedStr) -> bool {
        self.as_str() == other.as_str()
    }
}

impl Eq for SharedStr {}

impl PartialEq<str> for SharedStr {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for SharedStr {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl fmt::Display for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.as_str(), f)
    }
}

impl fmt::Debug for SharedStr {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

/// Part of a read's token array. Reads like a slice.
pub struct SharedSlice<T> {
    all: Rc<[T]>,
    range: Range<usize>,
}

impl<T> SharedSlice<T> {
    /// `range` must lie within `all`; anything else reads as empty.
    pub(super) fn new(all: &Rc<[T]>, range: Range<usize>) -> SharedSlice<T> {
        let range = if all.get(range.clone()).is_some() { range } else { 0..0 };
        SharedSlice { all: all.clone(), range }
    }
}

impl<T> Clone for SharedSlice<T> {
    fn clone(&self) -> SharedSlice<T> {
        SharedSlice { all: self.all.clone(), range: self.range.clone() }
    }
}

impl<T> Deref for SharedSlice<T> {
    type Target = [T];
    fn deref(&self) -> &[T] {
        self.all.get(self.range.clone()).unwrap_or_default()
    }
}

impl<'a, T> IntoIterator for &'a SharedSlice<T> {
    type Item = &'a T;
    type IntoIter = std::slice::Iter<'a, T>;
    fn into_iter(self) -> std::slice::Iter<'a, T> {
        self.iter()
    }
}

impl<T: PartialEq> PartialEq for SharedSlice<T> {
    fn eq(&self, other: &SharedSlice<T>) -> bool {
        **self == **other
    }
}

impl<T: Eq> Eq for SharedSlice<T> {}

impl<T: fmt::Debug> fmt::Debug for SharedSlice<T> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&**self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_shared_str_reads_as_its_range() {
        let all: Rc<str> = Rc::from("dev eth0");
        let s = SharedStr::new(&all, 4..8);
        assert!(s == "eth0");
        assert_eq!((s.len(), s.to_string(), format!("{s:?}")), (4, "eth0".to_string(), "\"eth0\"".to_string()));
        assert_eq!(SharedStr::new(&all, 0..3), SharedStr::from("dev"));
    }

    #[test]
    fn ranges_outside_the_text_or_inside_a_character_read_as_empty() {
        let all: Rc<str> = Rc::from("é");
        assert_eq!(SharedStr::new(&all, 0..1).as_str(), "");
        assert_eq!(SharedStr::new(&all, 1..9).as_str(), "");
        let tokens: Rc<[u8]> = Rc::from(vec![1, 2, 3]);
        assert_eq!(&*SharedSlice::new(&tokens, 1..3), &[2, 3]);
        assert!(SharedSlice::new(&tokens, 2..5).is_empty());
    }
}
