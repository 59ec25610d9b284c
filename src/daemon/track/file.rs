//! `track_file` (keepalived/trackers/track_file.c): the integer in a file, re-read when
//! inotify reports the file written, moved or deleted. The weight arithmetic is the core's
//! job; this reports the value.
//!
//! keepalived's reading rules: at most 127 bytes, parsed like `strtol(buf, NULL, 0)` (so
//! `0x1f` is hex, `010` is octal, leading blanks and trailing garbage are ignored, text
//! without digits is 0); a missing or empty file is 0; a number that does not fit keeps
//! the previous value and is logged.

use super::{TrackerStatus, TrackerUpdate};
use crate::config::diag::{Diagnostic, ErrClass};
use crate::config::model::{GlobalDefs, TrackFileDef};
use nix::errno::Errno;
use nix::sys::inotify::{AddWatchFlags, InitFlags, Inotify, WatchDescriptor};
use std::ffi::OsString;
use std::io::{Read, Write};
use std::os::fd::{AsFd, AsRawFd, RawFd};
use std::os::unix::fs::{OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use tokio::io::unix::AsyncFd;
use tokio::io::Interest;
use tokio::sync::{mpsc, watch};

/// keepalived reads one buffer of this size, minus the terminating NUL.
const READ_LIMIT: usize = 127;

/// keepalived's default `umask` for the files it writes.
const DEFAULT_UMASK: u32 = 0o177;

/// A value that `strtol` could not represent, or outside what keepalived accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InvalidNumber(pub i64);

/// keepalived's `process_track_file` parse of the file's first bytes.
pub fn parse_value(bytes: &[u8]) -> Result<i64, InvalidNumber> {
    let bytes = &bytes[..bytes.len().min(READ_LIMIT)];
    // strtol stops at the NUL keepalived's buffer ends with.
    let bytes = bytes.split(|b| *b == 0).next().unwrap_or_default();
    let mut rest = bytes
        .iter()
        .skip_while(|b| matches!(b, b' ' | b'\t' | b'\n' | b'\x0b' | b'\x0c' | b'\r'))
        .copied()
        .peekable();
    let negative = match rest.peek() {
        Some(b'-') => {
            rest.next();
            true
        }
        Some(b'+') => {
            rest.next();
            false
        }
        _ => false,
    };
    let digits: Vec<u8> = rest.collect();
    let (radix, digits) = match digits.as_slice() {
        [b'0', b'x' | b'X', next, ..] if next.is_ascii_hexdigit() => (16, &digits[2..]),
        [b'0', ..] => (8, &digits[..]),
        _ => (10, &digits[..]),
    };
    let mut value: i64 = 0;
    let mut overflow = false;
    for d in digits.iter().map_while(|b| char::from(*b).to_digit(radix)) {
        match value.checked_mul(i64::from(radix)).and_then(|v| {
            if negative {
                v.checked_sub(i64::from(d))
            } else {
                v.checked_add(i64::from(d))
            }
        }) {
            Some(v) => value = v,
            None => overflow = true,
        }
        if overflow {
            break;
        }
    }
    if overflow {
        return Err(InvalidNumber(if negative { i64::MIN } else { i64::MAX }));
    }
    // keepalived's own bound, one past i32::MAX included.
    if value < i64::from(i32::MIN) || value > i64::from(i32::MAX) + 1 {
        return Err(InvalidNumber(value));
    }
    Ok(value)
}

/// The value now in `path`: a missing, unreadable or empty file is 0.
fn read_value(path: &Path) -> Result<i64, InvalidNumber> {
    let mut buf = [0u8; READ_LIMIT];
    let Ok(mut file) = std::fs::OpenOptions::new()
        .read(true)
        .custom_flags(libc::O_NONBLOCK)
        .open(path)
    else {
        return Ok(0);
    };
    match file.read(&mut buf) {
        Ok(len) => {
            let bytes = &buf[..len];
            // keepalived reads text without a number as 0 and says nothing; an operator
            // who wrote a word into the file deserves to know.
            if !starts_with_number(bytes) && bytes.iter().any(|b| !b.is_ascii_whitespace()) {
                tracing::warn!("track file {} holds no number - reading it as 0", path.display());
            }
            parse_value(bytes)
        }
        Err(_) => Ok(0),
    }
}

/// Whether `strtol` finds digits: blanks, an optional sign, then a digit.
fn starts_with_number(bytes: &[u8]) -> bool {
    let mut rest = bytes.iter().skip_while(|b| b.is_ascii_whitespace()).peekable();
    if matches!(rest.peek(), Some(b'-' | b'+')) {
        rest.next();
    }
    rest.next().is_some_and(u8::is_ascii_digit)
}

/// `init_file [VAL] [overwrite]`, done when the configuration is read: write VAL (default
/// 0) if the file is absent, or always with `overwrite` (except on a reload). Under `-t`
/// only the checks run. The file is written via a temporary and a rename, mode
/// 0666 & ~umask. Returns the configuration error keepalived would report, if any.
pub fn init_track_file(
    def: &TrackFileDef,
    global: &GlobalDefs,
    reloading: bool,
    config_test: bool,
) -> Option<Diagnostic> {
    let (value, overwrite) = def.init_file?;
    let path = Path::new(&def.file);
    if let Ok(meta) = std::fs::metadata(path) {
        if !overwrite {
            return None;
        }
        if !meta.is_file() {
            return Some(Diagnostic::new(
                ErrClass::GeneralError,
                Some(def.span.clone()),
                format!("Cannot initialise track file {} - it is not a regular file", def.name),
            ));
        }
        if reloading {
            return None;
        }
    }
    if config_test {
        return None;
    }
    let mode = 0o666 & !global.umask.unwrap_or(DEFAULT_UMASK);
    let error = write_atomically(path, format!("{value}\n").as_bytes(), mode).err()?;
    tracing::info!("Unable to write '{}': {error}", def.file);
    Some(Diagnostic::new(
        ErrClass::GeneralError,
        Some(def.span.clone()),
        format!("Unable to initialise track file {}", def.name),
    ))
}

/// A reader never sees a half-written file, and nobody can open the new file before its
/// mode is set.
fn write_atomically(path: &Path, content: &[u8], mode: u32) -> std::io::Result<()> {
    let mut tmp_name = path.as_os_str().to_owned();
    tmp_name.push(format!(".kad{}", std::process::id()));
    let tmp = PathBuf::from(tmp_name);
    let result = (|| {
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW | libc::O_CLOEXEC)
            .open(&tmp)?;
        file.write_all(content)?;
        file.set_permissions(std::fs::Permissions::from_mode(mode))?;
        std::fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = std::fs::remove_file(&tmp);
    }
    result
}

/// A watched file: the directory is watched, since the file may be replaced or not exist.
#[derive(Debug)]
pub(super) struct Watched {
    name: String,
    path: PathBuf,
    file_name: OsString,
    wd: WatchDescriptor,
    value: i64,
}

/// keepalived's `init_track_files` path resolution: the real path of the file, or of its
/// directory when the file does not exist yet.
fn resolve(def: &TrackFileDef) -> Result<PathBuf, String> {
    let path = Path::new(&def.file);
    match std::fs::canonicalize(path) {
        Ok(real) => Ok(real),
        Err(e) if e.raw_os_error() == Some(libc::ENOENT) => {
            let dir = match path.parent() {
                Some(d) if !d.as_os_str().is_empty() => d,
                _ => Path::new("."),
            };
            match (std::fs::canonicalize(dir), path.file_name()) {
                (Ok(real_dir), Some(file)) if real_dir.is_dir() => Ok(real_dir.join(file)),
                _ => Err(format!(
                    "Track file directory for {} does not exist - removing",
                    def.name
                )),
            }
        }
        Err(_) => Err(format!("track file {} is not accessible - ignoring", def.name)),
    }
}

pub(super) struct InotifyFd(Inotify);

impl AsRawFd for InotifyFd {
    fn as_raw_fd(&self) -> RawFd {
        self.0.as_fd().as_raw_fd()
    }
}

/// Set up the watches and report each file's current value; `None` if nothing can be
/// watched (each problem is logged).
pub(super) fn prepare(defs: Vec<TrackFileDef>) -> Option<(AsyncFd<InotifyFd>, Vec<Watched>)> {
    if defs.is_empty() {
        return None;
    }
    let inotify = match Inotify::init(InitFlags::IN_NONBLOCK | InitFlags::IN_CLOEXEC) {
        Ok(i) => i,
        Err(e) => {
            tracing::info!("Unable to monitor track files: {e}");
            return None;
        }
    };
    let mut watched = Vec::new();
    for def in defs {
        let path = match resolve(&def) {
            Ok(path) => path,
            Err(message) => {
                tracing::info!("{message}");
                continue;
            }
        };
        let (Some(dir), Some(file_name)) = (path.parent(), path.file_name()) else {
            tracing::info!("track file {} is not accessible - ignoring", def.name);
            continue;
        };
        let mask = AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_DELETE | AddWatchFlags::IN_MOVE;
        let wd = match inotify.add_watch(dir, mask) {
            Ok(wd) => wd,
            Err(e) => {
                tracing::info!("Unable to monitor track file {}: {e}", def.name);
                continue;
            }
        };
        let value = read_value(&path).unwrap_or_else(|InvalidNumber(n)| {
            tracing::info!("Invalid number {n} read from {} - ignoring", path.display());
            0
        });
        let file_name = file_name.to_owned();
        watched.push(Watched {
            name: def.name,
            path,
            file_name,
            wd,
            value,
        });
    }
    if watched.is_empty() {
        return None;
    }
    // SAFETY: the Inotify owns its fd for as long as the AsyncFd lives.
    match unsafe { AsyncFd::register_with_interest(InotifyFd(inotify), Interest::READABLE) } {
        Ok(fd) => Some((fd, watched)),
        Err(e) => {
            tracing::info!("Unable to monitor track files: {e}");
            None
        }
    }
}

/// Report the initial values, then every change, until `stop`.
pub(super) async fn run(
    inotify: AsyncFd<InotifyFd>,
    mut watched: Vec<Watched>,
    tx: mpsc::Sender<TrackerUpdate>,
    mut stop: watch::Receiver<bool>,
) {
    for w in &watched {
        if tx
            .send(TrackerUpdate {
                name: w.name.clone(),
                status: TrackerStatus::FileValue(w.value),
            })
            .await
            .is_err()
        {
            return;
        }
    }
    loop {
        let mut guard = tokio::select! {
            guard = inotify.readable() => match guard {
                Ok(guard) => guard,
                Err(e) => {
                    tracing::info!("inotify read() returned error {e}");
                    return;
                }
            },
            () = super::stopped(&mut stop) => return,
        };
        let events = match guard.try_io(|fd| fd.get_ref().0.read_events().map_err(std::io::Error::from)) {
            Ok(Ok(events)) => events,
            Ok(Err(e)) if e.raw_os_error() == Some(Errno::EINTR as i32) => continue,
            Ok(Err(e)) => {
                tracing::info!("inotify read() returned error {e}");
                return;
            }
            // Spurious readiness: wait again.
            Err(_) => continue,
        };
        for event in events {
            if event.mask.contains(AddWatchFlags::IN_ISDIR) {
                continue;
            }
            let gone = AddWatchFlags::IN_MOVED_FROM | AddWatchFlags::IN_DELETE;
            if !event
                .mask
                .intersects(gone | AddWatchFlags::IN_CLOSE_WRITE | AddWatchFlags::IN_MOVED_TO)
            {
                tracing::info!("Unknown inotify event 0x{:x}", event.mask.bits());
                continue;
            }
            for w in watched
                .iter_mut()
                .filter(|w| w.wd == event.wd && event.name.as_deref() == Some(w.file_name.as_os_str()))
            {
                let value = if event.mask.intersects(gone) {
                    0
                } else {
                    match read_value(&w.path) {
                        Ok(value) => value,
                        Err(InvalidNumber(n)) => {
                            tracing::info!("Invalid number {n} read from {} - ignoring", w.path.display());
                            continue;
                        }
                    }
                };
                if value != w.value {
                    w.value = value;
                    let update = TrackerUpdate {
                        name: w.name.clone(),
                        status: TrackerStatus::FileValue(value),
                    };
                    if tx.send(update).await.is_err() {
                        return;
                    }
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_like_strtol_base_0() {
        assert_eq!(parse_value(b"42\n"), Ok(42));
        assert_eq!(parse_value(b"  -17 trailing"), Ok(-17));
        assert_eq!(parse_value(b"+5"), Ok(5));
        assert_eq!(parse_value(b"0x1F"), Ok(31));
        assert_eq!(parse_value(b"010"), Ok(8));
        assert_eq!(parse_value(b"09"), Ok(0));
        assert_eq!(parse_value(b"0x"), Ok(0));
        assert_eq!(parse_value(b"0xg"), Ok(0));
        assert_eq!(parse_value(b"-0x10"), Ok(-16));
    }

    #[test]
    fn garbage_and_empty_read_as_zero() {
        assert_eq!(parse_value(b""), Ok(0));
        assert_eq!(parse_value(b"garbage"), Ok(0));
        assert_eq!(parse_value(b"\xff\xfe\x00123"), Ok(0));
        assert_eq!(parse_value(b"- 5"), Ok(0));
    }

    #[test]
    fn text_without_a_leading_number_is_recognised() {
        for text in [&b"garbage"[..], b"- 5", b"x12", b"\xff1"] {
            assert!(!starts_with_number(text), "{text:?}");
        }
        for text in [&b"12"[..], b" \t-3", b"+0x1f", b"7 apples"] {
            assert!(starts_with_number(text), "{text:?}");
        }
    }

    #[test]
    fn out_of_range_is_rejected_with_keepalived_bounds() {
        assert_eq!(parse_value(b"2147483648"), Ok(2147483648));
        assert_eq!(parse_value(b"2147483649"), Err(InvalidNumber(2147483649)));
        assert_eq!(parse_value(b"-2147483648"), Ok(-2147483648));
        assert_eq!(parse_value(b"-2147483649"), Err(InvalidNumber(-2147483649)));
        assert_eq!(parse_value(b"99999999999999999999"), Err(InvalidNumber(i64::MAX)));
        assert_eq!(parse_value(b"-99999999999999999999"), Err(InvalidNumber(i64::MIN)));
    }

    #[test]
    fn only_the_first_127_bytes_count() {
        let mut long = vec![b' '; 126];
        long.extend_from_slice(b"78");
        assert_eq!(parse_value(&long), Ok(7));
    }
}
