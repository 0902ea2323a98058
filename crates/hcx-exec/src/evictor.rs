//! The idle-connection evictor: one background thread that closes expired and
//! long-idle pooled connections when they fall due, not on a poll.

use std::fmt;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, bounded, select};

use crate::error::{Error, ErrorKind};
use crate::manager::PoolingConnectionManager;

/// Closes idle connections in the background: those whose keep-alive or time-to-live
/// ran out and, with an idle limit, those unused for that long. Apache HttpClient 5:
/// `IdleConnectionEvictor` (`HttpClientBuilder.evictExpiredConnections()` /
/// `evictIdleConnections(…)`).
///
/// Apache's evictor wakes every `sleepTime` and sweeps. This one sleeps until the
/// nearest deadline in the pool and is woken early when a connection given back to the
/// pool falls due sooner than that, so a connection is closed when it falls due,
/// without polling. Without it, hcx closes expired connections only when a lease meets
/// them; a client that goes quiet then keeps sockets the server has closed (in
/// `CLOSE_WAIT`) until its next request.
///
/// The thread ends when the manager is shut down ([`shutdown`] or
/// [`shutdown_immediate`]), as Apache's `close()` shuts its evictor down.
///
/// [`shutdown`]: PoolingConnectionManager::shutdown
/// [`shutdown_immediate`]: PoolingConnectionManager::shutdown_immediate
///
/// One at a time per connection manager. Dropping it stops the thread and joins it
/// (promptly: the thread waits on a channel, not a sleep); another can then be started
/// for the same manager, by a new client sharing it, say. Dropped on its own thread
/// (the last client handle let go in an event listener's `closed`, which runs there
/// during a sweep), it cannot join: the thread ends when that sweep returns, and only
/// then can another start.
///
/// ```
/// use hcx_exec::{IdleConnectionEvictor, PoolingConnectionManager};
/// use std::time::Duration;
/// let manager = PoolingConnectionManager::new();
/// let evictor = IdleConnectionEvictor::start(&manager, Some(Duration::from_secs(30)))?;
/// drop(evictor); // stops and joins the thread
/// # Ok::<(), hcx_exec::Error>(())
/// ```
pub struct IdleConnectionEvictor {
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

/// Held by the evictor's thread: gives the manager's link up when the thread ends,
/// after its last plan, however it ends and whoever dropped the evictor.
struct Claim(PoolingConnectionManager);

impl Drop for Claim {
    fn drop(&mut self) {
        if let Some(link) = self.0.evictor_link() {
            link.unclaim();
        }
    }
}

/// What the manager keeps to wake its evictor early: made by the first evictor started
/// for it and kept for the manager's life, so that the release path reads it without a
/// lock; each evictor claims it while it runs.
pub(crate) struct EvictorLink {
    /// When the evictor next wakes, in nanoseconds since `base` (`u64::MAX`: it waits
    /// for a wake-up; 0, while none runs: nothing is due before it, so no release
    /// sends).
    planned: AtomicU64,
    base: Instant,
    /// The running evictor's idle limit in nanoseconds (`u64::MAX`: none).
    idle_for: AtomicU64,
    wake: Sender<()>,
    /// The thread's end of `wake`, kept for the next evictor.
    woken: Receiver<()>,
    /// Whether an evictor holds the link.
    running: AtomicBool,
}

impl EvictorLink {
    /// A connection went back to the pool at `now`, valid for `valid_for` (`None`: no
    /// keep-alive limit) and at most until `ttl_end` (its time-to-live; `None`: none):
    /// wakes the evictor if the first of those, or of `idle_for`, falls due before its
    /// planned wake-up.
    pub(crate) fn released(
        &self,
        now: Instant,
        valid_for: Option<Duration>,
        ttl_end: Option<Instant>,
    ) {
        let idle_due = match (valid_for, self.idle_for()) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (Some(a), None) | (None, Some(a)) => Some(a),
            (None, None) => None,
        }
        // Too far to fall on an `Instant`: never due.
        .and_then(|due_in| now.checked_add(due_in));
        let due_at = match (idle_due, ttl_end) {
            (Some(a), Some(b)) => a.min(b),
            (Some(a), None) | (None, Some(a)) => a,
            (None, None) => return,
        };
        let due = self.stamp(due_at);
        if due < self.planned.load(Ordering::Acquire) {
            // Full: a wake-up is already pending, which will see this connection too.
            let _ = self.wake.try_send(());
        }
    }

    /// Wakes the evictor to look at the pool again (its shutdown, say).
    pub(crate) fn wake(&self) {
        let _ = self.wake.try_send(());
    }

    fn new(base: Instant) -> EvictorLink {
        let (wake, woken) = bounded::<()>(1);
        EvictorLink {
            planned: AtomicU64::new(0),
            base,
            idle_for: AtomicU64::new(u64::MAX),
            wake,
            woken,
            running: AtomicBool::new(false),
        }
    }

    fn idle_for(&self) -> Option<Duration> {
        match self.idle_for.load(Ordering::Acquire) {
            u64::MAX => None,
            nanos => Some(Duration::from_nanos(nanos)),
        }
    }

    /// Claims the link for a new evictor; `false` if one runs.
    fn claim(&self, idle_for: Option<Duration>) -> bool {
        if self
            .running
            .compare_exchange(false, true, Ordering::AcqRel, Ordering::Acquire)
            .is_err()
        {
            return false;
        }
        let nanos = idle_for.map_or(u64::MAX, |d| {
            u64::try_from(d.as_nanos()).unwrap_or(u64::MAX - 1)
        });
        self.idle_for.store(nanos, Ordering::Release);
        // Wake-ups meant for the last evictor: the new one sweeps first anyway.
        while self.woken.try_recv().is_ok() {}
        true
    }

    /// The evictor holding the link has stopped: releases stop waking anyone.
    fn unclaim(&self) {
        self.planned.store(0, Ordering::Release);
        self.running.store(false, Ordering::Release);
    }

    fn stamp(&self, at: Instant) -> u64 {
        u64::try_from(at.saturating_duration_since(self.base).as_nanos()).unwrap_or(u64::MAX)
    }
}

impl IdleConnectionEvictor {
    /// Starts the thread for `manager`: it closes expired connections and, with
    /// `idle_for`, connections idle at least that long. A manager runs one evictor at a
    /// time; starting a second while the first runs is a configuration error, and so
    /// is an `idle_for` of zero (every connection would be closed as it is released:
    /// no pooling at all, the likely result of porting a 0 meant as "off").
    pub fn start(
        manager: &PoolingConnectionManager,
        idle_for: Option<Duration>,
    ) -> Result<IdleConnectionEvictor, Error> {
        if idle_for == Some(Duration::ZERO) {
            return Err(Error::new(
                ErrorKind::Config,
                "an idle eviction time of zero closes every connection as it is released \
                 (no pooling); to close only expired connections, start the evictor \
                 without one (the client builder's evict_expired_connections)",
            ));
        }
        let link = manager.evictor_link_or_init(|| EvictorLink::new(manager.pool().now()));
        if !link.claim(idle_for) {
            return Err(Error::new(
                ErrorKind::Config,
                "this connection manager already has an idle-connection evictor",
            ));
        }
        let (stop_tx, stop_rx) = bounded::<()>(0);
        let claim = Claim(manager.clone());
        let wake_rx = link.woken.clone();
        let thread = std::thread::Builder::new()
            .name("hcx-evictor".into())
            .spawn(move || {
                let claim = claim;
                run(&claim.0, idle_for, &wake_rx, &stop_rx);
            })
            // A thread that could not start drops its closure, and the claim with it.
            .map_err(|e| {
                Error::new(ErrorKind::Config, "cannot start the evictor thread").with_source(e)
            })?;
        Ok(IdleConnectionEvictor {
            stop: Some(stop_tx),
            thread: Some(thread),
        })
    }

    /// One sweep, now: closes the connections that are due (expired, or idle at least
    /// `idle_for`) and returns how long until the next one falls due (`None`: nothing
    /// idle). What the thread does each time it wakes; call it yourself to evict on a
    /// schedule of your own, or in tests with a manual clock.
    pub fn run_once(
        manager: &PoolingConnectionManager,
        idle_for: Option<Duration>,
    ) -> Option<Duration> {
        manager.close_expired();
        if let Some(idle_for) = idle_for {
            manager.close_idle(idle_for);
        }
        let pool = manager.pool();
        let next = pool.next_deadline(idle_for)?;
        Some(next.saturating_duration_since(pool.now()))
    }
}

/// How long the thread waits to sweep again after a sweep that panicked.
const AFTER_PANIC: Duration = Duration::from_secs(1);

/// The thread: sweep, plan the next wake-up, wait for it, a wake-up or the stop.
fn run(
    manager: &PoolingConnectionManager,
    idle_for: Option<Duration>,
    wake: &Receiver<()>,
    stop: &Receiver<()>,
) {
    loop {
        // A shut-down pool has nothing idle and closes what comes back: the thread ends
        // (Apache's close() shuts its evictor down too), woken by the shutdown.
        if manager.pool().is_shutdown() {
            return;
        }
        // While it sweeps, every release wakes it: one that lands after the sweep has
        // looked at the pool, but before the new plan is stored, would otherwise be
        // compared with the old plan (already past) and send nothing, and the evictor
        // would then wait for the next release with a connection left to close.
        manager.plan_evictor(None);
        let sweep = || IdleConnectionEvictor::run_once(manager, idle_for);
        let next = match std::panic::catch_unwind(std::panic::AssertUnwindSafe(sweep)) {
            Ok(next) => next,
            // A callback panicked mid-sweep (an event listener's `closed`): the thread
            // lives on, or no idle connection would be evicted again, and sweeps anew
            // a second later for what that sweep did not get to.
            Err(_) => Some(AFTER_PANIC),
        };
        manager.plan_evictor(next);
        // A release that raced the sweep has left a wake-up in the channel: the loop
        // sweeps again at once and plans anew.
        let woken = match next {
            Some(wait) => select! {
                recv(stop) -> _ => return,
                recv(wake) -> _ => true,
                default(wait) => false,
            },
            None => select! {
                recv(stop) -> _ => return,
                recv(wake) -> _ => true,
            },
        };
        if woken {
            // A burst of wake-ups makes one sweep.
            while wake.try_recv().is_ok() {}
        }
    }
}

impl PoolingConnectionManager {
    /// Records when the evictor next wakes (`None`: only when woken).
    fn plan_evictor(&self, wait: Option<Duration>) {
        if let Some(link) = self.evictor_link() {
            let planned = wait
                .and_then(|w| self.pool().now().checked_add(w))
                .map_or(u64::MAX, |at| link.stamp(at));
            link.planned.store(planned, Ordering::Release);
        }
    }
}

impl Drop for IdleConnectionEvictor {
    fn drop(&mut self) {
        // Disconnecting the stop channel ends the thread's wait at once.
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            // Dropped on its own thread (the last client handle let go in an event
            // listener's `closed`, which runs there during a sweep): it cannot join
            // itself; it ends when the sweep returns and gives the link up then.
            if thread.thread().id() != std::thread::current().id() {
                let _ = thread.join();
            }
        }
    }
}

impl fmt::Debug for IdleConnectionEvictor {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdleConnectionEvictor")
            .field("running", &self.thread.is_some())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::route::Route;
    use crate::runtime::ExecRuntime;
    use hcx_close::{CloseReason, Decision};
    use hcx_pool::ManualClock;
    use std::net::TcpListener;

    const WAIT: Duration = Duration::from_secs(5);

    /// A manager on a manual clock with `n` idle connections released with these
    /// keep-alives, to a listener that accepts them.
    fn pooled(
        clock: &ManualClock,
        keep: &[Option<Duration>],
    ) -> Result<(PoolingConnectionManager, TcpListener), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let route = Route::http("127.0.0.1", listener.local_addr()?.port());
        let manager = PoolingConnectionManager::builder()
            .clock(clock.clone())
            .build()?;
        let mut runtimes = Vec::new();
        for _ in keep {
            let mut runtime = ExecRuntime::new(manager.clone());
            runtime.acquire(&route, None, WAIT)?;
            runtime.connect_if_needed(Some(WAIT))?;
            runtimes.push(runtime);
        }
        for (mut runtime, valid_for) in runtimes.into_iter().zip(keep) {
            runtime.mark(Decision::keep(*valid_for));
            runtime.release();
        }
        Ok((manager, listener))
    }

    #[test]
    fn a_sweep_closes_what_is_due_and_says_when_the_next_falls_due()
    -> Result<(), Box<dyn std::error::Error>> {
        let clock = ManualClock::new();
        let secs = Duration::from_secs;
        let (manager, _listener) = pooled(&clock, &[Some(secs(5)), Some(secs(30)), None])?;
        assert_eq!(manager.stats().pool.available, 3);

        // Expiry only: the 5 s connection falls due first.
        assert_eq!(
            IdleConnectionEvictor::run_once(&manager, None),
            Some(secs(5))
        );
        clock.advance(secs(5));
        assert_eq!(
            IdleConnectionEvictor::run_once(&manager, None),
            Some(secs(25))
        );
        assert_eq!(manager.stats().closes.get(CloseReason::Expired), 1);
        assert_eq!(manager.stats().pool.available, 2);

        // With an idle limit of 10 s: every connection has been idle 5 s.
        assert_eq!(
            IdleConnectionEvictor::run_once(&manager, Some(secs(10))),
            Some(secs(5))
        );
        clock.advance(secs(5));
        assert_eq!(
            IdleConnectionEvictor::run_once(&manager, Some(secs(10))),
            None
        );
        assert_eq!(manager.stats().closes.get(CloseReason::IdleEvicted), 2);
        assert_eq!(manager.stats().pool.available, 0);
        Ok(())
    }

    #[test]
    fn a_release_that_falls_due_sooner_wakes_the_evictor() -> Result<(), Box<dyn std::error::Error>>
    {
        let clock = ManualClock::new();
        let (manager, _listener) = pooled(&clock, &[])?;
        let link = EvictorLink::new(manager.pool().now());
        let rx = link.woken.clone();
        assert!(link.claim(None));
        link.planned.store(u64::MAX, Ordering::Release);
        let now = manager.pool().now();
        link.released(now, None, None);
        assert!(rx.try_recv().is_err(), "no limit: nothing falls due");
        link.planned
            .store(link.stamp(now + Duration::from_secs(10)), Ordering::Release);
        link.released(now, Some(Duration::from_secs(30)), None);
        assert!(rx.try_recv().is_err(), "due after the planned wake-up");
        link.released(now, Some(Duration::from_secs(3)), None);
        assert!(rx.try_recv().is_ok(), "due before it: woken");
        // The time-to-live counts too, with no keep-alive limit or a longer one.
        link.released(now, None, Some(now + Duration::from_secs(20)));
        assert!(rx.try_recv().is_err(), "its end after the planned wake-up");
        link.released(now, None, Some(now + Duration::from_secs(5)));
        assert!(
            rx.try_recv().is_ok(),
            "no keep-alive limit, a time-to-live: woken"
        );
        link.released(
            now,
            Some(Duration::from_secs(60)),
            Some(now + Duration::from_secs(5)),
        );
        assert!(rx.try_recv().is_ok(), "the time-to-live ends first: woken");
        // Once the evictor holding the link stops, nothing is woken.
        link.unclaim();
        link.released(now, Some(Duration::from_secs(3)), None);
        assert!(rx.try_recv().is_err(), "no evictor: no wake-up");
        Ok(())
    }

    #[test]
    fn one_evictor_per_manager_and_dropping_it_joins_the_thread() -> Result<(), Error> {
        let manager = PoolingConnectionManager::new();
        let first = IdleConnectionEvictor::start(&manager, None)?;
        let second = IdleConnectionEvictor::start(&manager, None);
        assert!(second.is_err_and(|e| e.kind() == ErrorKind::Config));
        drop(first); // returns only once the thread is gone
        Ok(())
    }

    /// The last handle of an evictor dropped on its own thread (by an event listener's
    /// `closed`, which runs there during a sweep: a listener that upgraded a `Weak` to
    /// the client when the caller dropped theirs) must still free the manager for the
    /// next evictor once that thread has ended.
    #[test]
    fn an_evictor_dropped_on_its_own_thread_still_lets_another_start()
    -> Result<(), Box<dyn std::error::Error>> {
        use crate::events::{ConnectionRef, EventListener};
        use std::sync::{Arc, Mutex};

        struct DropsTheEvictor {
            evictor: Mutex<crossbeam_channel::Receiver<IdleConnectionEvictor>>,
            done: Mutex<crossbeam_channel::Sender<()>>,
        }
        /// Reports even when the drop panics.
        struct Done(crossbeam_channel::Sender<()>);
        impl Drop for Done {
            fn drop(&mut self) {
                let _ = self.0.send(());
            }
        }
        impl EventListener for DropsTheEvictor {
            fn closed(&self, _: &ConnectionRef<'_>, _: CloseReason) {
                let Ok(evictor) = self.evictor.lock().unwrap().recv_timeout(WAIT) else {
                    return;
                };
                let _done = Done(self.done.lock().unwrap().clone());
                drop(evictor); // the last handle, on the evictor's own thread
            }
        }

        let (give, take) = bounded(1);
        let (done_tx, done) = bounded(1);
        let clock = ManualClock::new();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let route = Route::http("127.0.0.1", listener.local_addr()?.port());
        let manager = PoolingConnectionManager::builder()
            .clock(clock.clone())
            .event_listener(Arc::new(DropsTheEvictor {
                evictor: Mutex::new(take),
                done: Mutex::new(done_tx),
            }))
            .build()?;
        let mut runtime = ExecRuntime::new(manager.clone());
        runtime.acquire(&route, None, WAIT)?;
        runtime.connect_if_needed(Some(WAIT))?;
        runtime.mark(Decision::keep(Some(Duration::from_secs(5))));
        runtime.release();
        clock.advance(Duration::from_secs(5)); // expired: the first sweep closes it

        let evictor = IdleConnectionEvictor::start(&manager, None)?;
        give.send(evictor)?;
        done.recv_timeout(WAIT)?;
        // The thread is ending (its stop channel is gone); give it until WAIT.
        let deadline = std::time::Instant::now() + WAIT;
        let mut again = IdleConnectionEvictor::start(&manager, None);
        while again.is_err() && std::time::Instant::now() < deadline {
            std::thread::yield_now();
            again = IdleConnectionEvictor::start(&manager, None);
        }
        assert!(
            again.is_ok(),
            "no evictor runs, yet none can start: {:?}",
            again.err()
        );
        Ok(())
    }
    #[test]
    fn an_evictor_started_after_one_was_dropped_runs_and_is_woken()
    -> Result<(), Box<dyn std::error::Error>> {
        // A client sharing a manager with an earlier, dropped client starts its own.
        let (manager, _listener) = pooled(&ManualClock::new(), &[])?;
        drop(IdleConnectionEvictor::start(&manager, None)?);
        let second = IdleConnectionEvictor::start(&manager, Some(Duration::from_secs(7)))?;
        let link = manager.evictor_link().ok_or("no link")?;
        assert_eq!(
            link.idle_for(),
            Some(Duration::from_secs(7)),
            "the new limit"
        );
        assert!(
            IdleConnectionEvictor::start(&manager, None).is_err(),
            "still one at a time"
        );
        drop(second);
        assert!(!link.running.load(Ordering::Acquire));
        drop(IdleConnectionEvictor::start(&manager, None)?);
        Ok(())
    }
}
