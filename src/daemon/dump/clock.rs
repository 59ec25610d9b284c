//! Wall-clock rendering for the dumps: keepalived prints `secs.usecs (ctime)` in local
//! time, and the protocol core only knows a monotonic clock.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

use crate::vrrp::Timestamp;

/// A local calendar time, as `localtime_r` breaks it down.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct LocalTime {
    pub year: i32,
    /// 0 = January.
    pub month: u8,
    pub day: u8,
    pub hour: u8,
    pub minute: u8,
    pub second: u8,
    /// 0 = Sunday.
    pub weekday: u8,
}

impl LocalTime {
    /// The system's local time zone, or `None` for a time it cannot represent.
    pub fn of(secs: i64) -> Option<LocalTime> {
        let t = libc::time_t::try_from(secs).ok()?;
        // SAFETY: an all-zero `tm` is a valid value; localtime_r only writes into it.
        let mut tm: libc::tm = unsafe { std::mem::zeroed() };
        // SAFETY: both pointers are valid for the duration of the call; localtime_r
        // is the thread-safe variant.
        let ok = unsafe { !libc::localtime_r(&t, &mut tm).is_null() };
        if !ok {
            return None;
        }
        let small = |v: libc::c_int| u8::try_from(v).ok();
        Some(LocalTime {
            year: tm.tm_year.checked_add(1900)?,
            month: small(tm.tm_mon)?,
            day: small(tm.tm_mday)?,
            hour: small(tm.tm_hour)?,
            minute: small(tm.tm_min)?,
            second: small(tm.tm_sec)?,
            weekday: small(tm.tm_wday)?,
        })
    }

    /// keepalived's `ctime_us_r`: asctime with the microseconds after the seconds,
    /// e.g. `Fri Nov 27 13:29:51.740781 2026`.
    pub fn ctime_us(&self, micros: u32) -> String {
        const DAYS: [&str; 7] = ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"];
        const MONTHS: [&str; 12] = [
            "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
        ];
        format!(
            "{} {}{:3} {:02}:{:02}:{:02}.{:06} {}",
            DAYS.get(usize::from(self.weekday)).unwrap_or(&"???"),
            MONTHS.get(usize::from(self.month)).unwrap_or(&"???"),
            self.day,
            self.hour,
            self.minute,
            self.second,
            micros,
            self.year
        )
    }

    /// `YYYY-MM-DD hh:mm:ss`, for the status table.
    pub fn iso(&self) -> String {
        format!(
            "{:04}-{:02}-{:02} {:02}:{:02}:{:02}",
            self.year,
            u16::from(self.month) + 1,
            self.day,
            self.hour,
            self.minute,
            self.second
        )
    }
}

/// Seconds and microseconds since the epoch; times before it count as the epoch.
pub(crate) fn epoch_parts(t: SystemTime) -> (i64, u32) {
    let since = t.duration_since(UNIX_EPOCH).unwrap_or(Duration::ZERO);
    (
        i64::try_from(since.as_secs()).unwrap_or(i64::MAX),
        since.subsec_micros(),
    )
}

pub(crate) fn epoch_f64(t: SystemTime) -> f64 {
    t.duration_since(UNIX_EPOCH)
        .unwrap_or(Duration::ZERO)
        .as_secs_f64()
}

/// keepalived's `secs.usecs (ctime)` rendering of a wall-clock time.
pub(crate) fn stamp(t: SystemTime) -> String {
    let (secs, micros) = epoch_parts(t);
    let local = LocalTime::of(secs)
        .map(|l| l.ctime_us(micros))
        .unwrap_or_else(|| "invalid time".into());
    format!("{secs}.{micros:06} ({local})")
}

/// Maps the core's monotonic clock onto the wall clock, from one pair of readings
/// taken together.
#[derive(Debug, Clone, Copy)]
pub struct ClockPair {
    pub mono: Timestamp,
    pub wall: SystemTime,
}

impl ClockPair {
    pub fn wall_of(&self, t: Timestamp) -> SystemTime {
        if t >= self.mono {
            self.wall + t.since(self.mono)
        } else {
            self.wall
                .checked_sub(self.mono.since(t))
                .unwrap_or(UNIX_EPOCH)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ctime_pads_the_day_like_asctime() {
        let t = LocalTime {
            year: 2026,
            month: 10,
            day: 27,
            hour: 13,
            minute: 29,
            second: 51,
            weekday: 5,
        };
        assert_eq!(t.ctime_us(740_781), "Fri Nov 27 13:29:51.740781 2026");
        let early = LocalTime { day: 7, ..t };
        assert_eq!(early.ctime_us(5), "Fri Nov  7 13:29:51.000005 2026");
        assert_eq!(early.iso(), "2026-11-07 13:29:51");
    }

    #[test]
    fn local_time_agrees_with_the_epoch_in_seconds_and_minutes() {
        // Time zones shift hours (and a few by 30/45 minutes), never seconds.
        let t = LocalTime::of(1_795_786_191).unwrap();
        assert_eq!(t.second, 51);
        assert!(t.year == 2026 || t.year == 2027);
    }

    #[test]
    fn monotonic_deadlines_map_to_wall_time_both_ways() {
        let pair = ClockPair {
            mono: Timestamp::from_micros(10_000_000),
            wall: UNIX_EPOCH + Duration::from_secs(1_000),
        };
        assert_eq!(
            pair.wall_of(Timestamp::from_micros(12_500_000)),
            UNIX_EPOCH + Duration::from_millis(1_002_500)
        );
        assert_eq!(
            pair.wall_of(Timestamp::from_micros(9_000_000)),
            UNIX_EPOCH + Duration::from_secs(999)
        );
        assert_eq!(
            stamp(UNIX_EPOCH + Duration::from_micros(1_500_000_000_000_123))
                .split(' ')
                .next(),
            Some("1500000000.000123")
        );
    }
}
