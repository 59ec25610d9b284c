//! Physical lines, read with keepalived's fixed-size buffer rules but without its
//! memory: a line longer than the buffer is skipped, not held.

use std::io::BufRead;

/// keepalived's MAXBUF: `fgets` into 1024 bytes leaves room for 1022 characters plus the
/// newline; a line that fills the buffer without a newline is "too long".
pub const MAXBUF: usize = 1024;
const MAX_CONTENT: usize = MAXBUF - 2;

#[derive(Debug, PartialEq, Eq)]
pub(super) enum Physical {
    /// The line's bytes are in the caller's buffer, without the newline (trailing `\r`
    /// still present).
    Line,
    TooLong,
    EmbeddedNul,
}

/// Reads the next physical line into `kept` (cleared first, reused from line to line so
/// that reading allocates nothing per line), or `None` at end of input. Only the first
/// `MAXBUF` bytes of a line are ever stored.
pub(super) fn next_line(reader: &mut dyn BufRead, kept: &mut Vec<u8>) -> std::io::Result<Option<Physical>> {
    kept.clear();
    let mut total = 0usize;
    let mut nul = false;
    let mut saw_any = false;
    loop {
        let chunk = match reader.fill_buf() {
            Ok(c) => c,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        if chunk.is_empty() {
            break;
        }
        saw_any = true;
        // One pass finds the end of the line and any NUL before it.
        let mut part = chunk;
        let mut found_newline = false;
        for (i, b) in chunk.iter().enumerate() {
            match b {
                b'\n' => {
                    part = &chunk[..i];
                    found_newline = true;
                    break;
                }
                0 => nul = true,
                _ => {}
            }
        }
        let room = MAXBUF.saturating_sub(kept.len());
        kept.extend_from_slice(&part[..part.len().min(room)]);
        total = total.saturating_add(part.len());
        let used = part.len() + usize::from(found_newline);
        reader.consume(used);
        if found_newline {
            break;
        }
    }
    if !saw_any {
        return Ok(None);
    }
    Ok(Some(if nul {
        Physical::EmbeddedNul
    } else if total > MAX_CONTENT {
        Physical::TooLong
    } else {
        Physical::Line
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// What the tests compare: a line with its bytes, or why it was refused.
    #[derive(Debug, PartialEq, Eq)]
    enum Read {
        Line(Vec<u8>),
        TooLong,
        EmbeddedNul,
    }

    fn next(r: &mut dyn BufRead, buf: &mut Vec<u8>) -> Option<Read> {
        next_line(r, buf).unwrap().map(|p| match p {
            Physical::Line => Read::Line(buf.clone()),
            Physical::TooLong => Read::TooLong,
            Physical::EmbeddedNul => Read::EmbeddedNul,
        })
    }

    fn all(input: &[u8]) -> Vec<Read> {
        // A tiny buffer makes lines span many fill_buf() calls.
        let mut r = std::io::BufReader::with_capacity(7, input);
        let mut buf = Vec::new();
        let mut out = Vec::new();
        while let Some(l) = next(&mut r, &mut buf) {
            out.push(l);
        }
        out
    }

    #[test]
    fn splits_on_newlines_and_keeps_a_last_line_without_one() {
        assert_eq!(
            all(b"a b\n\ncd"),
            vec![Read::Line(b"a b".to_vec()), Read::Line(vec![]), Read::Line(b"cd".to_vec())]
        );
    }

    #[test]
    fn a_line_of_1022_characters_fits_and_1023_is_too_long() {
        let ok = [vec![b'a'; 1022], b"\n".to_vec()].concat();
        assert_eq!(all(&ok), vec![Read::Line(vec![b'a'; 1022])]);
        let long = [vec![b'a'; 1023], b"\nx\n".to_vec()].concat();
        assert_eq!(all(&long), vec![Read::TooLong, Read::Line(b"x".to_vec())]);
    }

    #[test]
    fn a_line_with_a_nul_is_flagged() {
        assert_eq!(all(b"a\0b\nc\n"), vec![Read::EmbeddedNul, Read::Line(b"c".to_vec())]);
    }

    #[test]
    fn a_ten_megabyte_line_is_skipped_without_being_stored() {
        let mut big = vec![b'x'; 10 * 1024 * 1024];
        big.extend_from_slice(b"\nafter\n");
        let mut r = std::io::BufReader::new(&big[..]);
        let mut buf = Vec::new();
        assert_eq!(next(&mut r, &mut buf), Some(Read::TooLong));
        assert!(buf.len() <= MAXBUF, "{} bytes kept", buf.len());
        assert_eq!(next(&mut r, &mut buf), Some(Read::Line(b"after".to_vec())));
        assert_eq!(next(&mut r, &mut buf), None);
    }
}
