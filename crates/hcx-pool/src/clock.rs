//! The pool's time source, injectable so that tests drive expiry without sleeping.

use std::any::Any;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use crate::entry::{Epoch, Stamp};

/// Where the pool reads the current time for expiry, time-to-live and idle eviction.
///
/// Lease timeouts are not read from it: a blocked `get` waits on the operating
/// system's clock.
///
/// `now` may be called with the pool's lock held (the pool reads the time lazily,
/// only when a decision needs it): it must not call into the pool, or into the
/// connection manager or client that owns it, which would wait on that lock for
/// ever, and it must not panic.
pub trait Clock: Send + Sync + 'static {
    /// The current instant.
    fn now(&self) -> Instant;
}

/// The precise monotonic system clock ([`Instant::now`]).
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// A coarse monotonic clock: the kernel's last tick (`CLOCK_MONOTONIC_COARSE` on Linux,
/// through the `coarsetime` crate), mapped onto [`Instant`]. The default.
///
/// It reads several times faster than [`Instant::now`] (the figures, measured side by
/// side, are in `docs/benchmarks.md`), which matters on a lease + release that costs
/// tens of nanoseconds. Its resolution is the scheduler tick, 1 to 4 ms on Linux
/// (`GetTickCount64` on Windows: 10 to 16 ms): the same class of clock as the
/// `System.currentTimeMillis()` Apache HttpClient's pool runs on, and ample for
/// keep-alive and idle limits measured in seconds. On Linux its instants run up to one
/// tick ahead of or behind [`Instant::now`]; differences between two of its own
/// readings are monotonic and accurate to a tick. On macOS it counts time the machine
/// sleeps and `Instant` does not, so after a sleep its instants run ahead of
/// `Instant::now` by the time slept, and pooled connections count as idle for it: as
/// a server would see them. Use [`SystemClock`] where stamps must be exact.
#[derive(Debug, Clone, Copy)]
pub struct CoarseClock {
    base: Instant,
    coarse_base: coarsetime::Instant,
}

impl CoarseClock {
    /// A clock anchored at the current instant.
    pub fn new() -> Self {
        Self {
            base: Instant::now(),
            coarse_base: coarsetime::Instant::now(),
        }
    }
}

impl Default for CoarseClock {
    fn default() -> Self {
        Self::new()
    }
}

impl CoarseClock {
    /// The time since the clock's base, which `now` adds to it.
    #[inline]
    fn elapsed(&self) -> Duration {
        coarsetime::Instant::now()
            .duration_since(self.coarse_base)
            .into()
    }
}

impl Clock for CoarseClock {
    #[inline]
    fn now(&self) -> Instant {
        self.base.checked_add(self.elapsed()).unwrap_or(self.base)
    }
}

/// The pool's clock: the default [`CoarseClock`] held as itself, or any other behind a
/// `dyn Clock`.
///
/// The pool stamps every reusable release with the time as nanoseconds since its
/// epoch. Through `Clock::now` that is a coarse reading mapped onto an `Instant` and
/// then mapped back (two `Instant` calculations a cycle); the coarse clock
/// held as itself gives the elapsed time directly, and its epoch is its own base, so
/// both ways give the same stamp.
pub(crate) enum TimeSource {
    Coarse(CoarseClock),
    Custom(Box<dyn Clock>),
}

impl TimeSource {
    pub(crate) fn new(clock: impl Clock) -> Self {
        match (&clock as &dyn Any).downcast_ref::<CoarseClock>() {
            Some(coarse) => Self::Coarse(*coarse),
            None => Self::Custom(Box::new(clock)),
        }
    }

    #[inline]
    pub(crate) fn now(&self) -> Instant {
        match self {
            Self::Coarse(clock) => clock.now(),
            Self::Custom(clock) => clock.now(),
        }
    }

    /// The instant the pool's stamps count from (read once, when the pool is built).
    pub(crate) fn epoch(&self) -> Epoch {
        match self {
            Self::Coarse(clock) => Epoch::new(clock.base),
            Self::Custom(clock) => Epoch::new(clock.now()),
        }
    }

    /// The current time as an instant and as a stamp since `epoch`, from one reading
    /// (for the coarse clock, without converting one into the other).
    #[inline]
    pub(crate) fn now_and_stamp(&self, epoch: Epoch) -> (Instant, Stamp) {
        match self {
            Self::Coarse(clock) => {
                let elapsed = clock.elapsed();
                let now = clock.base.checked_add(elapsed).unwrap_or(clock.base);
                (now, Stamp::from_duration(elapsed))
            }
            Self::Custom(clock) => {
                let now = clock.now();
                (now, epoch.stamp(now))
            }
        }
    }

    /// The current time as a stamp since `epoch` (which [`epoch`](Self::epoch) gave).
    #[inline]
    pub(crate) fn stamp(&self, epoch: Epoch) -> Stamp {
        match self {
            Self::Coarse(clock) => Stamp::from_duration(clock.elapsed()),
            Self::Custom(clock) => epoch.stamp(clock.now()),
        }
    }
}

/// A clock that moves only when told to: for tests of expiry and idle eviction.
///
/// Clones share the same time.
///
/// ```
/// use hcx_pool::{Clock, ManualClock};
/// use std::time::Duration;
///
/// let clock = ManualClock::new();
/// let t0 = clock.now();
/// clock.advance(Duration::from_secs(30));
/// assert_eq!(clock.now() - t0, Duration::from_secs(30));
/// ```
#[derive(Clone)]
pub struct ManualClock {
    inner: Arc<ManualInner>,
}

struct ManualInner {
    base: Instant,
    offset_nanos: AtomicU64,
}

impl ManualClock {
    /// A clock standing at the instant it was created.
    pub fn new() -> Self {
        Self {
            inner: Arc::new(ManualInner {
                base: Instant::now(),
                offset_nanos: AtomicU64::new(0),
            }),
        }
    }

    /// Moves the clock forward by `by` (saturating at about 584 years).
    pub fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        let _ = self
            .inner
            .offset_nanos
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |cur| {
                Some(cur.saturating_add(nanos))
            });
    }
}

impl Default for ManualClock {
    fn default() -> Self {
        Self::new()
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Instant {
        let offset = Duration::from_nanos(self.inner.offset_nanos.load(Ordering::Acquire));
        self.inner
            .base
            .checked_add(offset)
            .unwrap_or(self.inner.base)
    }
}

impl fmt::Debug for ManualClock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let offset = Duration::from_nanos(self.inner.offset_nanos.load(Ordering::Acquire));
        f.debug_struct("ManualClock")
            .field("advanced_by", &offset)
            .finish()
    }
}
