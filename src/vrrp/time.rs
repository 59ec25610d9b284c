//! Protocol time: VRRP intervals in integer centiseconds and a caller-supplied
//! monotonic clock in microseconds.
//!
//! Every span the core computes is a `Duration`; `Centis::to_duration` and
//! `Timestamp + Duration` are the only places where units are converted, so a
//! centisecond value can never be mistaken for seconds (holo-vrrp's 100 s adverts)
//! and the skew keeps its sub-millisecond part (keepalived computes it in µs).

use serde::{Deserialize, Serialize};
use std::ops::{Add, Sub};
use std::time::Duration;

/// A VRRP interval in centiseconds: the unit of the v3 `Max Adver Int` field.
/// v2 intervals are whole seconds and are stored ×100.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct Centis(pub u16);

impl Centis {
    pub const fn from_secs(secs: u8) -> Centis {
        Centis(secs as u16 * 100)
    }

    pub const fn get(self) -> u16 {
        self.0
    }

    pub fn to_duration(self) -> Duration {
        Duration::from_millis(u64::from(self.0) * 10)
    }

    /// Rounds down to whole centiseconds and saturates at the 16-bit range
    /// (the config reader has already enforced keepalived's narrower limits).
    pub fn from_duration(d: Duration) -> Centis {
        Centis(u16::try_from(d.as_millis() / 10).unwrap_or(u16::MAX))
    }
}

/// A point on the caller's monotonic clock, in microseconds since an arbitrary epoch.
/// The core never reads a clock: every `handle` call is told what time it is.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default, Serialize, Deserialize,
)]
pub struct Timestamp(pub u64);

impl Timestamp {
    pub const fn from_micros(us: u64) -> Timestamp {
        Timestamp(us)
    }

    pub const fn as_micros(self) -> u64 {
        self.0
    }

    /// Time from `earlier` to `self`, zero if `earlier` is later.
    pub fn since(self, earlier: Timestamp) -> Duration {
        Duration::from_micros(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Timestamp {
    type Output = Timestamp;
    fn add(self, d: Duration) -> Timestamp {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_add(us))
    }
}

impl Sub<Duration> for Timestamp {
    type Output = Timestamp;
    fn sub(self, d: Duration) -> Timestamp {
        let us = u64::try_from(d.as_micros()).unwrap_or(u64::MAX);
        Timestamp(self.0.saturating_sub(us))
    }
}

/// RFC 3768 / RFC 5798 Skew_Time for priority `priority`, computed in µs with
/// keepalived's integer arithmetic: v2 (256-P)/256 s, v3 (256-P)·interval/256.
pub fn skew_time(version: u8, priority: u8, master_adver_int: Centis) -> Duration {
    skew_for_weight(version, 256 - u64::from(priority), master_adver_int)
}

/// The smallest possible skew (keepalived's `VRRP_TIMER_SKEW_MIN`): a sync-group member
/// that wants MASTER at startup waits one interval plus this.
pub fn skew_min(version: u8, master_adver_int: Centis) -> Duration {
    skew_for_weight(version, 1, master_adver_int)
}

fn skew_for_weight(version: u8, weight: u64, master_adver_int: Centis) -> Duration {
    let us = if version == 3 {
        weight * u64::from(master_adver_int.get()) * 625 / 16
    } else {
        weight * 1_000_000 / 256
    };
    Duration::from_micros(us)
}

/// Master_Down_Interval = down_timer_adverts × Master_Adver_Interval + Skew_Time.
pub fn master_down_interval(
    version: u8,
    priority: u8,
    master_adver_int: Centis,
    down_timer_adverts: u32,
) -> Duration {
    master_adver_int.to_duration() * down_timer_adverts
        + skew_time(version, priority, master_adver_int)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn v2_skew_is_256_minus_priority_over_256_seconds() {
        assert_eq!(
            skew_time(2, 100, Centis::from_secs(1)),
            Duration::from_micros(609_375)
        );
        // v2 skew does not depend on the interval
        assert_eq!(
            skew_time(2, 100, Centis::from_secs(5)),
            Duration::from_micros(609_375)
        );
        assert_eq!(
            skew_time(2, 255, Centis::from_secs(1)),
            Duration::from_micros(3_906)
        );
    }

    #[test]
    fn v3_skew_scales_with_the_master_advert_interval() {
        // (256-100) * 100 cs * 625 / 16 = 609375 µs
        assert_eq!(
            skew_time(3, 100, Centis(100)),
            Duration::from_micros(609_375)
        );
        // half the interval, half the skew
        assert_eq!(
            skew_time(3, 100, Centis(50)),
            Duration::from_micros(304_687)
        );
    }

    #[test]
    fn master_down_interval_is_three_intervals_plus_skew_by_default() {
        assert_eq!(
            master_down_interval(2, 200, Centis::from_secs(1), 3),
            Duration::from_micros(3_000_000 + 218_750)
        );
        assert_eq!(
            master_down_interval(3, 100, Centis(50), 3),
            Duration::from_micros(1_500_000 + 304_687)
        );
    }

    #[test]
    fn centis_convert_to_milliseconds_not_seconds() {
        assert_eq!(Centis(100).to_duration(), Duration::from_secs(1));
        assert_eq!(Centis(1).to_duration(), Duration::from_millis(10));
        assert_eq!(
            Centis::from_duration(Duration::from_millis(1234)),
            Centis(123)
        );
    }

    #[test]
    fn timestamps_saturate_instead_of_wrapping() {
        let t = Timestamp::from_micros(5);
        assert_eq!(t - Duration::from_micros(10), Timestamp(0));
        assert_eq!(
            Timestamp(u64::MAX) + Duration::from_secs(1),
            Timestamp(u64::MAX)
        );
        assert_eq!(t.since(Timestamp(10)), Duration::ZERO);
    }
}
