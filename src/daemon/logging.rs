//! Logging as keepalived does it: syslog (facility `-S`, off with `-G`), the console with
//! `-l -n` ("%c: message" lines on stderr), and a log file with `-g`.
//!
//! There may be no syslog daemon at all (no /dev/log): syslog output is then dropped by
//! libc without blocking, never written to /dev/console (keepalived's LOG_CONS spams it).

use std::ffi::CString;
use std::fs::{File, OpenOptions};
use std::io::Write;
use std::sync::{Arc, Mutex};
use tracing::field::{Field, Visit};
use tracing::{Event, Level, Subscriber};
use tracing_subscriber::layer::{Context, SubscriberExt};
use tracing_subscriber::registry::LookupSpan;
use tracing_subscriber::{Layer, Registry};

#[derive(Debug, Clone, Default)]
pub struct LogSettings {
    pub console: bool,
    pub syslog: bool,
    /// syslog facility number (LOG_DAEMON = 3).
    pub facility: u8,
    pub detail: u8,
    pub file: Option<std::path::PathBuf>,
    pub flush_file: bool,
}

/// Local time formatted with strftime, as keepalived's C code does (no timezone crate:
/// libc already knows /etc/localtime and TZ).
pub fn strftime_now(fmt: &str) -> String {
    let mut ts = libc::timespec { tv_sec: 0, tv_nsec: 0 };
    // SAFETY: clock_gettime writes into the timespec we own.
    unsafe { libc::clock_gettime(libc::CLOCK_REALTIME, &mut ts) };
    strftime_at(ts.tv_sec, fmt)
}

pub fn strftime_at(secs: libc::time_t, fmt: &str) -> String {
    let Ok(cfmt) = CString::new(fmt) else { return String::new() };
    // SAFETY: a zeroed tm is a valid value for localtime_r to overwrite.
    let mut tm: libc::tm = unsafe { std::mem::zeroed() };
    // SAFETY: both pointers refer to live locals.
    if unsafe { libc::localtime_r(&secs, &mut tm) }.is_null() {
        return String::new();
    }
    let mut buf = [0u8; 128];
    // SAFETY: buf is writable for its length; strftime never writes more than that.
    let n = unsafe { libc::strftime(buf.as_mut_ptr().cast(), buf.len(), cfmt.as_ptr(), &tm) };
    String::from_utf8_lossy(&buf[..n]).into_owned()
}

struct MessageVisitor(String);

impl Visit for MessageVisitor {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        if field.name() == "message" {
            self.0 = format!("{value:?}");
        } else {
            self.0.push_str(&format!(" {}={:?}", field.name(), value));
        }
    }
    fn record_str(&mut self, field: &Field, value: &str) {
        if field.name() == "message" {
            self.0 = value.to_string();
        } else {
            self.0.push_str(&format!(" {}={}", field.name(), value));
        }
    }
}

enum Sink {
    Console,
    File { file: Arc<Mutex<File>>, flush: bool },
    Syslog,
}

struct KeepalivedLayer {
    sink: Sink,
    max_level: Level,
}

impl<S: Subscriber + for<'a> LookupSpan<'a>> Layer<S> for KeepalivedLayer {
    fn on_event(&self, event: &Event<'_>, _ctx: Context<'_, S>) {
        if *event.metadata().level() > self.max_level {
            return;
        }
        let mut v = MessageVisitor(String::new());
        event.record(&mut v);
        match &self.sink {
            Sink::Console => {
                let line = format!("{}: {}\n", strftime_now("%c"), v.0);
                let _ = std::io::stderr().lock().write_all(line.as_bytes());
            }
            Sink::File { file, flush } => {
                let line = format!("{}: {}\n", strftime_now("%a %b %d %T %Y"), v.0);
                if let Ok(mut f) = file.lock() {
                    let _ = f.write_all(line.as_bytes());
                    if *flush {
                        let _ = f.flush();
                    }
                }
            }
            Sink::Syslog => {
                let prio = match *event.metadata().level() {
                    Level::ERROR => libc::LOG_ERR,
                    Level::WARN => libc::LOG_WARNING,
                    Level::INFO => libc::LOG_INFO,
                    _ => libc::LOG_DEBUG,
                };
                if let Ok(msg) = CString::new(v.0.replace('\0', " ")) {
                    // SAFETY: "%s" with one NUL-terminated string argument.
                    unsafe { libc::syslog(prio, c"%s".as_ptr(), msg.as_ptr()) };
                }
            }
        }
    }
}

/// Install the global subscriber. Safe to call once per process.
pub fn init(s: &LogSettings) -> std::io::Result<()> {
    let max_level = if s.detail >= 2 { Level::TRACE } else if s.detail == 1 { Level::DEBUG } else { Level::INFO };
    let mut layers: Vec<Box<dyn Layer<Registry> + Send + Sync>> = Vec::new();
    if s.console {
        layers.push(Box::new(KeepalivedLayer { sink: Sink::Console, max_level }));
    }
    if let Some(path) = &s.file {
        let f = OpenOptions::new().create(true).append(true).open(path)?;
        layers.push(Box::new(KeepalivedLayer {
            sink: Sink::File { file: Arc::new(Mutex::new(f)), flush: s.flush_file },
            max_level,
        }));
    }
    if s.syslog {
        // No LOG_CONS: without a syslog daemon, messages must not go to /dev/console.
        // SAFETY: the ident is a static C string that outlives the process's use of it.
        unsafe { libc::openlog(c"Keepalived_vrrp".as_ptr(), libc::LOG_PID | libc::LOG_NDELAY, i32::from(s.facility) << 3) };
        layers.push(Box::new(KeepalivedLayer { sink: Sink::Syslog, max_level }));
    }
    let subscriber = Registry::default().with(layers);
    let _ = tracing::subscriber::set_global_default(subscriber);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn console_timestamp_is_c_locale_percent_c() {
        // 2026-11-27 10:57:17 UTC with TZ unset is rendered like ctime without the newline
        std::env::set_var("TZ", "UTC");
        let s = strftime_at(1_795_777_037, "%c");
        assert_eq!(s, "Fri Nov 27 10:57:17 2026");
    }
}
