//! Views into the buffers a read fills: every source line, processed line and token of a
//! read lives in one text buffer and one token array, and lines and tokens hold ranges
//! into them. A large configuration then costs a handful of allocations instead of
//! several per line, both to build and to free.

use std::cell::OnceCell;
use std::fmt;
use std::ops::{Deref, Range};
use std::rc::Rc;

/// A read's text or token buffer. Views are made while the reader still fills the
/// buffer; it is moved in, without a copy, when the read is done, and views read it from
/// then on.
pub(super) type Sealed<T> = Rc<OnceCell<T>>;

/// Part of a read's text. Reads like a `&str` (`as_str`, `==`, deref, display).
#[derive(Clone)]
pub struct SharedStr {
    all: Sealed<String>,
    range: Range<usize>,
}

impl SharedStr {
    /// `range` must lie on char boundaries of the text (the reader only cuts at ASCII
    /// bytes or at the ends of what it appended); anything else reads as empty.
    pub(super) fn new(all: &Sealed<String>, range: Range<usize>) -> SharedStr {
        SharedStr { all: all.clone(), range }
    }

    pub(super) fn range(&self) -> Range<usize> {
        self.range.clone()
    }

    pub fn as_str(&self) -> &str {
        self.all.get().and_then(|all| all.get(self.range.clone())).unwrap_or_default()
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
        SharedStr::new(&Rc::new(OnceCell::from(text.to_string())), 0..text.len())
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
    all: Sealed<Vec<T>>,
    range: Range<usize>,
}

impl<T> SharedSlice<T> {
    /// `range` must lie within the array; anything else reads as empty.
    pub(super) fn new(all: &Sealed<Vec<T>>, range: Range<usize>) -> SharedSlice<T> {
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
        self.all.get().and_then(|all| all.get(self.range.clone())).unwrap_or_default()
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
    fn a_view_reads_as_empty_until_its_buffer_is_sealed() {
        let all: Sealed<String> = Rc::default();
        let s = SharedStr::new(&all, 4..8);
        assert_eq!(s.as_str(), "");
        assert!(all.set("dev eth0".to_string()).is_ok());
        assert!(s == "eth0");
        assert_eq!((s.len(), s.to_string(), format!("{s:?}")), (4, "eth0".to_string(), "\"eth0\"".to_string()));
        assert_eq!(SharedStr::new(&all, 0..3), SharedStr::from("dev"));
    }

    #[test]
    fn ranges_outside_the_buffer_or_inside_a_character_read_as_empty() {
        let all: Sealed<String> = Rc::new(OnceCell::from("é".to_string()));
        assert_eq!(SharedStr::new(&all, 0..1).as_str(), "");
        assert_eq!(SharedStr::new(&all, 1..9).as_str(), "");
        let tokens: Sealed<Vec<u8>> = Rc::new(OnceCell::from(vec![1, 2, 3]));
        assert_eq!(&*SharedSlice::new(&tokens, 1..3), &[2, 3]);
        assert!(SharedSlice::new(&tokens, 2..5).is_empty());
    }
}
