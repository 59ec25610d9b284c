//! Token texts, interned per read: a configuration repeats the same few words (keywords,
//! braces, interface names) thousands of times, and sharing them saves an allocation and
//! a free for most tokens.

use std::fmt;
use std::ops::Deref;
use std::rc::Rc;

/// The text of a token. Reads like a `&str` (`as_str`, `==`, deref); `to_string` gives an
/// owned copy.
#[derive(Clone, PartialEq, Eq)]
pub struct Word(Rc<str>);

impl Word {
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Word {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl From<&str> for Word {
    fn from(text: &str) -> Word {
        Word(text.into())
    }
}

impl PartialEq<str> for Word {
    fn eq(&self, other: &str) -> bool {
        &*self.0 == other
    }
}

impl PartialEq<&str> for Word {
    fn eq(&self, other: &&str) -> bool {
        &*self.0 == *other
    }
}

impl fmt::Display for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(&*self.0, f)
    }
}

impl fmt::Debug for Word {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

/// Recently seen words, in a direct-mapped cache: a word that repeats (keywords, braces,
/// interface names) is found in its slot; a unique one (an address, a name) costs one
/// allocation, as it would anyway, and replaces whatever was there. No table to grow, and a
/// single hash per token.
pub(super) struct Words {
    slots: Vec<Option<Rc<str>>>,
}

const SLOTS: usize = 1024;

impl Default for Words {
    fn default() -> Words {
        Words { slots: vec![None; SLOTS] }
    }
}

impl Words {
    pub fn get(&mut self, text: &str) -> Word {
        // FNV-1a: the words are short and come from the operator's own file.
        let hash = text.bytes().fold(0xcbf2_9ce4_8422_2325u64, |h, b| (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3));
        let slot = &mut self.slots[(hash % SLOTS as u64) as usize];
        match slot {
            Some(known) if &**known == text => Word(known.clone()),
            _ => {
                let word: Rc<str> = text.into();
                *slot = Some(word.clone());
                Word(word)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_same_text_is_shared_and_different_texts_are_not() {
        let mut words = Words::default();
        let a = words.get("dev");
        let b = words.get("dev");
        let c = words.get("eth0");
        assert!(Rc::ptr_eq(&a.0, &b.0));
        assert_eq!((a.as_str(), c.as_str()), ("dev", "eth0"));
        assert!(!Rc::ptr_eq(&a.0, &c.0));
    }

    #[test]
    fn a_word_compares_and_prints_as_its_text() {
        let w = Word::from("a\"b");
        assert!(w == "a\"b");
        assert_eq!(w.to_string(), "a\"b");
        assert_eq!(format!("{w:?}"), "\"a\\\"b\"");
        assert_eq!(w.len(), 3);
    }
}
