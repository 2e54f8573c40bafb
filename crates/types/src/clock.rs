//! Time, injected: one [`Timestamp`] type and one [`Clock`] trait, so that tests control time
//! (STS expiry, KMS deletion windows, keyring rotation) without sleeping.

use std::fmt;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use time::{OffsetDateTime, UtcDateTime};

/// An instant, in UTC, to the nanosecond. Converts losslessly to and from [`SystemTime`] and
/// `time`'s [`OffsetDateTime`] (the representations of std and of the formatting code), and to
/// and from whole Unix seconds (the representation of persisted records).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(UtcDateTime);

impl Timestamp {
    /// 1970-01-01T00:00:00Z.
    pub const UNIX_EPOCH: Timestamp = Timestamp(UtcDateTime::UNIX_EPOCH);

    /// The system's wall clock now. Prefer a [`Clock`]; this is what [`SystemClock`] reads.
    pub fn now() -> Self {
        Self(UtcDateTime::now())
    }

    /// `secs` seconds after the Unix epoch; `None` outside the years -9999 to 9999.
    pub fn from_unix_seconds(secs: i64) -> Option<Self> {
        UtcDateTime::from_unix_timestamp(secs).ok().map(Self)
    }

    /// Whole seconds since the Unix epoch (negative before it), rounding towards the past.
    pub fn unix_seconds(self) -> i64 {
        self.0.unix_timestamp()
    }

    /// The instant `by` later, or `None` past the representable range.
    pub fn checked_add(self, by: Duration) -> Option<Self> {
        let by = time::Duration::try_from(by).ok()?;
        self.0.checked_add(by).map(Self)
    }

    /// The instant as `time`'s [`OffsetDateTime`] at offset UTC.
    pub fn to_offset_date_time(self) -> OffsetDateTime {
        self.0.into()
    }
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Timestamp({})", self.0)
    }
}

impl From<SystemTime> for Timestamp {
    fn from(t: SystemTime) -> Self {
        Self(t.into())
    }
}

impl From<Timestamp> for SystemTime {
    fn from(t: Timestamp) -> Self {
        t.0.into()
    }
}

impl From<OffsetDateTime> for Timestamp {
    fn from(t: OffsetDateTime) -> Self {
        Self(t.to_utc())
    }
}

impl From<Timestamp> for OffsetDateTime {
    fn from(t: Timestamp) -> Self {
        t.to_offset_date_time()
    }
}

/// A source of the current time.
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// The system's wall clock.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Timestamp {
        Timestamp::now()
    }
}

/// A clock that moves only when told; for tests.
#[derive(Debug)]
pub struct ManualClock(Mutex<Timestamp>);

impl ManualClock {
    /// A clock showing `start`.
    pub fn new(start: impl Into<Timestamp>) -> Self {
        Self(Mutex::new(start.into()))
    }

    /// Sets the time.
    pub fn set(&self, now: impl Into<Timestamp>) {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner) = now.into();
    }

    /// Moves the time forward by `by`.
    ///
    /// # Panics
    /// Past the year 9999, which no test needs.
    pub fn advance(&self, by: Duration) {
        let mut now = self.0.lock().unwrap_or_else(PoisonError::into_inner);
        *now = now
            .checked_add(by)
            .expect("a test clock stays within the year 9999");
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        *self.0.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conversions_are_lossless() {
        let sys = SystemTime::UNIX_EPOCH + Duration::new(1_700_000_000, 123_456_789);
        let t = Timestamp::from(sys);
        assert_eq!(SystemTime::from(t), sys);
        assert_eq!(Timestamp::from(OffsetDateTime::from(t)), t);
        assert_eq!(OffsetDateTime::from(t), OffsetDateTime::from(sys));
        assert_eq!(t.unix_seconds(), 1_700_000_000);
        assert_eq!(
            Timestamp::from_unix_seconds(1_700_000_000)
                .unwrap()
                .unix_seconds(),
            1_700_000_000
        );
        assert_eq!(Timestamp::from_unix_seconds(0), Some(Timestamp::UNIX_EPOCH));
        assert_eq!(Timestamp::from_unix_seconds(i64::MAX), None);
        let before = Timestamp::from(SystemTime::UNIX_EPOCH - Duration::from_millis(1500));
        assert_eq!(before.unix_seconds(), -2);
        let offset =
            OffsetDateTime::from(sys).to_offset(time::UtcOffset::from_hms(8, 0, 0).unwrap());
        assert_eq!(Timestamp::from(offset), t);
    }

    #[test]
    fn manual_clock_moves_only_when_told() {
        let clock = ManualClock::new(Timestamp::UNIX_EPOCH);
        assert_eq!(clock.now(), Timestamp::UNIX_EPOCH);
        clock.advance(Duration::from_secs(90));
        assert_eq!(clock.now().unix_seconds(), 90);
        clock.set(SystemTime::UNIX_EPOCH + Duration::from_secs(5));
        assert_eq!(clock.now().unix_seconds(), 5);
        assert!(Timestamp::UNIX_EPOCH.checked_add(Duration::MAX).is_none());
        let a = SystemClock.now();
        assert!(SystemClock.now() >= a);
    }
}
