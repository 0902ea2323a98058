//! The emulated middlebox (a NAT, a cloud load balancer) in front of the server, which
//! forgets flows that stay idle too long without telling either end: the clock that
//! measures idle periods, the limit, and the verdict on the first byte after one. Idle
//! time is measured here and nowhere else.
//!
//! An idle period begins when the server writes a response on a connection and ends
//! when the first byte of the next request arrives. If it lasted at least the limit in
//! force at that moment, the flow is forgotten: the server has sent no FIN meanwhile
//! (a middlebox forgets silently), and the request is answered with a reset, never
//! reaching the server behind the middlebox. The connection code does the waiting and
//! the reset; this module only keeps time and decides.
//!
//! A reset needs the request's first byte left unread, so the wait for it peeks at the
//! socket instead of reading, at the cost of a system call per request. A server that
//! has never had a limit does not pay it: the middlebox *watches* idle periods only
//! once a limit has been set (and from then on, even if it is turned off), and an idle
//! period it did not watch from its beginning is never judged.

use parking_lot::Mutex;
use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// The server's time source for idle periods: `Instant::now`, or a test's manual clock.
#[derive(Clone)]
pub(crate) struct Clock(Arc<dyn Fn() -> Instant + Send + Sync>);

impl Clock {
    pub(crate) fn new(now: impl Fn() -> Instant + Send + Sync + 'static) -> Self {
        Clock(Arc::new(now))
    }

    fn now(&self) -> Instant {
        (self.0)()
    }
}

impl Default for Clock {
    fn default() -> Self {
        Clock::new(Instant::now)
    }
}

impl fmt::Debug for Clock {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Clock")
    }
}

/// When a connection's idle period began, and whether the middlebox watches it: only
/// [`Middlebox::idle_begins`] makes one.
#[derive(Debug, Clone, Copy)]
pub(crate) struct IdleSince {
    at: Instant,
    watched: bool,
}

impl IdleSince {
    /// Whether the first byte after this idle period may be reset, so must be left
    /// unread until [`Middlebox::first_byte`] has judged it.
    pub(crate) fn watched(&self) -> bool {
        self.watched
    }
}

/// What the middlebox does with the first byte after an idle period.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Verdict {
    /// The flow is still known: the request reaches the server, after this much idle.
    Deliver(Duration),
    /// The flow was forgotten after `idle`, at least `limit`: the request gets a reset.
    Forget { idle: Duration, limit: Duration },
}

/// The middlebox: one per server, shared by its connections.
#[derive(Debug)]
pub(crate) struct Middlebox {
    clock: Clock,
    /// Flows idle at least this long are forgotten; `None`: never.
    forget_after: Mutex<Option<Duration>>,
    /// Whether a limit has ever been set. Monotone: once set, it stays.
    watching: AtomicBool,
}

impl Middlebox {
    pub(crate) fn new(clock: Clock, forget_after: Option<Duration>) -> Self {
        Middlebox {
            clock,
            forget_after: Mutex::new(forget_after),
            watching: AtomicBool::new(forget_after.is_some()),
        }
    }

    /// Changes the limit; it judges every first byte that arrives from now on, so also
    /// those of the watched idle periods under way.
    pub(crate) fn set_forget_after(&self, limit: Option<Duration>) {
        *self.forget_after.lock() = limit;
        if limit.is_some() {
            self.watching.store(true, Ordering::Release);
        }
    }

    /// An idle period begins now. The server calls it just before it writes a response,
    /// so that a test which advances its clock once it has read the response measures
    /// from that response.
    pub(crate) fn idle_begins(&self) -> IdleSince {
        IdleSince {
            at: self.clock.now(),
            watched: self.watching.load(Ordering::Acquire),
        }
    }

    /// The first byte after the idle period that began at `since` has arrived: how long
    /// the period lasted, and whether the flow survived it (always, if unwatched).
    pub(crate) fn first_byte(&self, since: IdleSince) -> Verdict {
        // The clock is the test's closure: read outside the lock.
        let idle = self.clock.now().saturating_duration_since(since.at);
        if !since.watched {
            return Verdict::Deliver(idle);
        }
        let limit = *self.forget_after.lock();
        verdict(idle, limit)
    }
}

/// A flow idle for at least `limit` is forgotten (a middlebox's idle timeout fires once
/// it is reached).
fn verdict(idle: Duration, limit: Option<Duration>) -> Verdict {
    match limit {
        Some(limit) if idle >= limit => Verdict::Forget { idle, limit },
        _ => Verdict::Deliver(idle),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicU64, Ordering};

    fn ms(n: u64) -> Duration {
        Duration::from_millis(n)
    }

    #[test]
    fn a_flow_is_forgotten_once_its_idle_time_reaches_the_limit() {
        let deliver = |idle| Verdict::Deliver(ms(idle));
        let forget = |idle, limit| Verdict::Forget {
            idle: ms(idle),
            limit: ms(limit),
        };
        let table = [
            (0, None, deliver(0)),
            (u64::MAX, None, deliver(u64::MAX)),
            (999, Some(1000), deliver(999)),
            (1000, Some(1000), forget(1000, 1000)),
            (1001, Some(1000), forget(1001, 1000)),
            (0, Some(0), forget(0, 0)),
        ];
        for (idle, limit, expected) in table {
            assert_eq!(
                verdict(ms(idle), limit.map(ms)),
                expected,
                "{idle} ms idle, limit {limit:?} ms"
            );
        }
    }

    /// A manual clock: a base instant plus an offset the test advances.
    fn manual() -> (Clock, Arc<AtomicU64>) {
        let base = Instant::now();
        let offset = Arc::new(AtomicU64::new(0));
        let reading = Arc::clone(&offset);
        let clock = Clock::new(move || base + ms(reading.load(Ordering::SeqCst)));
        (clock, offset)
    }

    #[test]
    fn idle_is_measured_on_the_injected_clock_with_the_limit_in_force_at_arrival() {
        let (clock, offset) = manual();
        let middlebox = Middlebox::new(clock, Some(ms(100)));
        let since = middlebox.idle_begins();
        offset.store(150, Ordering::SeqCst);
        assert_eq!(
            middlebox.first_byte(since),
            Verdict::Forget {
                idle: ms(150),
                limit: ms(100)
            }
        );
        middlebox.set_forget_after(Some(ms(200)));
        assert_eq!(middlebox.first_byte(since), Verdict::Deliver(ms(150)));
        middlebox.set_forget_after(None);
        offset.store(10_000, Ordering::SeqCst);
        assert_eq!(middlebox.first_byte(since), Verdict::Deliver(ms(10_000)));
    }

    #[test]
    fn only_idle_periods_begun_after_a_first_limit_are_judged() {
        let (clock, offset) = manual();
        let middlebox = Middlebox::new(clock, None);
        let unwatched = middlebox.idle_begins();
        assert!(!unwatched.watched());
        middlebox.set_forget_after(Some(ms(100)));
        let watched = middlebox.idle_begins();
        assert!(watched.watched());
        offset.store(100, Ordering::SeqCst);
        assert_eq!(middlebox.first_byte(unwatched), Verdict::Deliver(ms(100)));
        assert!(matches!(
            middlebox.first_byte(watched),
            Verdict::Forget { .. }
        ));
        // Turned off, the middlebox still watches: turning it on again needs no wait.
        middlebox.set_forget_after(None);
        assert!(middlebox.idle_begins().watched());
    }

    #[test]
    fn a_clock_going_backwards_measures_no_idle_time() {
        let (clock, offset) = manual();
        offset.store(500, Ordering::SeqCst);
        let middlebox = Middlebox::new(clock, Some(ms(100)));
        let since = middlebox.idle_begins();
        offset.store(0, Ordering::SeqCst);
        assert_eq!(
            middlebox.first_byte(since),
            Verdict::Deliver(Duration::ZERO)
        );
    }
}
