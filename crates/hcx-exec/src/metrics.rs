//! Counters a user can scrape: how long leases queued for a slot.

use std::fmt;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

/// The upper bounds of the wait buckets; the last bucket has none.
const BOUNDS: [Duration; 6] = [
    Duration::from_micros(100),
    Duration::from_millis(1),
    Duration::from_millis(10),
    Duration::from_millis(100),
    Duration::from_secs(1),
    Duration::from_secs(10),
];

/// Leases that queued for a slot (the pool could not serve them at once), by how long
/// they waited: a histogram with a bucket per decade from 100 µs to 10 s, and one above.
/// Leases served at once are not in it. Part of
/// [`ManagerStats`](crate::ManagerStats).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct LeaseWaits {
    counts: [u64; BOUNDS.len() + 1],
    total: Duration,
    longest: Duration,
}

impl LeaseWaits {
    /// How many leases waited.
    pub fn count(&self) -> u64 {
        self.counts.iter().sum()
    }

    /// Their waits added up.
    pub fn total(&self) -> Duration {
        self.total
    }

    /// The longest wait, if any lease waited.
    pub fn longest(&self) -> Option<Duration> {
        (self.count() > 0).then_some(self.longest)
    }

    /// The mean wait, if any lease waited.
    pub fn mean(&self) -> Option<Duration> {
        let n = u32::try_from(self.count()).ok().filter(|&n| n > 0)?;
        Some(self.total / n)
    }

    /// The buckets, in order: the upper bound (exclusive; `None` for the last) and
    /// how many waits fell in it.
    pub fn buckets(&self) -> impl Iterator<Item = (Option<Duration>, u64)> + '_ {
        BOUNDS
            .iter()
            .map(|&b| Some(b))
            .chain([None])
            .zip(self.counts.iter().copied())
    }
}

impl fmt::Debug for LeaseWaits {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("LeaseWaits")
            .field("count", &self.count())
            .field("total", &self.total)
            .field("longest", &self.longest)
            .field("counts", &self.counts)
            .finish()
    }
}

impl fmt::Display for LeaseWaits {
    /// `3 waited (mean 1.2ms, longest 4ms): <100µs 1, <1ms 0, <10ms 2` — the empty buckets at the
    /// end left out.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.count();
        if count == 0 {
            return f.write_str("none waited");
        }
        write!(f, "{count} waited")?;
        if let Some(mean) = self.mean() {
            write!(f, " (mean {mean:?}, longest {:?})", self.longest)?;
        }
        let last = self.counts.iter().rposition(|&c| c > 0).unwrap_or(0);
        for (i, (bound, n)) in self.buckets().enumerate().take(last + 1) {
            let sep = if i == 0 { ": " } else { ", " };
            match bound {
                Some(b) => write!(f, "{sep}<{b:?} {n}")?,
                None => write!(f, "{sep}>={:?} {n}", BOUNDS[BOUNDS.len() - 1])?,
            }
        }
        Ok(())
    }
}

/// The live counters behind [`LeaseWaits`]: touched only by leases that waited.
#[derive(Default)]
pub(crate) struct LeaseWaitCounters {
    counts: [AtomicU64; BOUNDS.len() + 1],
    total_nanos: AtomicU64,
    longest_nanos: AtomicU64,
}

impl LeaseWaitCounters {
    pub(crate) fn record(&self, waited: Duration) {
        let bucket = BOUNDS
            .iter()
            .position(|&b| waited < b)
            .unwrap_or(BOUNDS.len());
        self.counts[bucket].fetch_add(1, Ordering::Relaxed);
        let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
        self.total_nanos.fetch_add(nanos, Ordering::Relaxed);
        self.longest_nanos.fetch_max(nanos, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> LeaseWaits {
        let mut counts = [0; BOUNDS.len() + 1];
        for (out, counter) in counts.iter_mut().zip(&self.counts) {
            *out = counter.load(Ordering::Relaxed);
        }
        LeaseWaits {
            counts,
            total: Duration::from_nanos(self.total_nanos.load(Ordering::Relaxed)),
            longest: Duration::from_nanos(self.longest_nanos.load(Ordering::Relaxed)),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_fall_in_their_decade() {
        let counters = LeaseWaitCounters::default();
        for micros in [0, 99, 100, 999, 5_000, 20_000_000] {
            counters.record(Duration::from_micros(micros));
        }
        let waits = counters.snapshot();
        let counts: Vec<u64> = waits.buckets().map(|(_, n)| n).collect();
        assert_eq!(counts, [2, 2, 1, 0, 0, 0, 1]);
        assert_eq!(waits.count(), 6);
        assert_eq!(waits.total(), Duration::from_micros(20_006_198));
        assert_eq!(waits.mean(), Some(Duration::from_nanos(3_334_366_333)));
        assert_eq!(waits.longest(), Some(Duration::from_secs(20)));
        assert_eq!(LeaseWaits::default().longest(), None);
        assert_eq!(
            waits.to_string(),
            "6 waited (mean 3.334366333s, longest 20s): <100µs 2, <1ms 2, <10ms 1, <100ms 0, <1s 0, <10s 0, >=10s 1"
        );
        assert_eq!(LeaseWaits::default().to_string(), "none waited");
    }
}
