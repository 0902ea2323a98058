//! The public pool type.

use std::fmt;
use std::marker::PhantomData;
use std::sync::Arc;
use std::time::Duration;

use crate::clock::TimeSource;
use crate::close::{DisposalCallback, DropConnection};
use crate::lease::{Lease, LeaseRequest};
use crate::shared::{Shared, SharedRef};
use crate::state::{NotNow, State};
use crate::sync::Mutex;
use crate::{Clock, CoarseClock, ConfigError, PoolConfig, PoolStats, RouteKey};

/// A pool of connections keyed by route, with a total limit and per-route limits.
///
/// Apache HttpClient 5 calls this `StrictConnPool`. It is protocol-agnostic: `R` is the
/// route key, `C` the connection, `S` an optional state a connection can be bound to
/// (Apache's user token; `()` when unused). Cloning a `Pool` gives another handle to
/// the same pool.
///
/// Lease order: (1) an idle connection of the route in the wanted state (exact match,
/// then a stateless one), expired ones closed on the way; (2) a new slot if the route
/// and the pool have room, closing idle connections (the route's own, then the
/// pool-wide least recently used) to make it; (3) a place at the back of a FIFO queue.
/// A released connection goes straight to the oldest waiter that can use it.
pub struct Pool<R, C, S = ()>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    shared: SharedRef<R, C, S>,
}

impl<R, C, S> Clone for Pool<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    fn clone(&self) -> Self {
        Self {
            shared: Arc::clone(&self.shared),
        }
    }
}

/// Builds a [`Pool`] with a clock or a disposal callback of your own.
pub struct PoolBuilder<R, C, S = ()> {
    config: PoolConfig,
    clock: TimeSource,
    disposal: Box<dyn DisposalCallback<C>>,
    on_unused: Option<Box<crate::shared::UnusedHook>>,
    types: PhantomData<fn() -> (R, S)>,
}

impl<R, C, S> PoolBuilder<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    /// Reads time from `clock` (expiry, time-to-live, idle eviction). Default:
    /// [`CoarseClock`] (a few milliseconds' resolution, cheaper to
    /// read than [`Instant::now`](std::time::Instant::now));
    /// [`SystemClock`](crate::SystemClock) for exact stamps, [`ManualClock`](crate::ManualClock) in tests.
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = TimeSource::new(clock);
        self
    }

    /// Closes connections the pool gives up with `disposal`, outside the pool lock.
    /// Default: drop them.
    pub fn disposal(mut self, disposal: impl DisposalCallback<C>) -> Self {
        self.disposal = Box::new(disposal);
        self
    }

    /// Calls `hook` (outside the pool lock) when a connection goes back to the pool
    /// without a release: a lease request cancelled or dropped after it was served, or a lease
    /// given back with [`Lease::release_unused`](crate::Lease::release_unused). It is
    /// given the connection's last use and its expiry (`None`: none), the earliest
    /// when several went back at once: for an evictor that plans its wake-ups from the
    /// releases it sees, and would not see this one.
    pub fn on_returned_unused(
        mut self,
        hook: impl Fn(std::time::Instant, Option<std::time::Instant>) + Send + Sync + 'static,
    ) -> Self {
        self.on_unused = Some(Box::new(hook));
        self
    }

    /// Checks the configuration and builds the pool.
    pub fn build(self) -> Result<Pool<R, C, S>, ConfigError> {
        self.config.validate()?;
        let c = &self.config;
        let epoch = self.clock.epoch();
        let state = State::new(
            c.max_total,
            c.default_max_per_route,
            c.reuse_policy,
            c.time_to_live,
            epoch,
        );
        Ok(Pool {
            shared: Arc::new(Shared {
                state: Mutex::new(state),
                clock: self.clock,
                disposal: self.disposal,
                ttl: c.time_to_live,
                epoch,
                on_unused: self.on_unused,
            }),
        })
    }
}

impl<R, C, S> fmt::Debug for PoolBuilder<R, C, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolBuilder")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

impl<R, C, S> Pool<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    /// A pool with `config`, the default [`CoarseClock`], and connections closed by
    /// dropping them.
    pub fn new(config: PoolConfig) -> Result<Self, ConfigError> {
        Self::builder(config).build()
    }

    /// A builder, to set a clock or a disposal callback.
    pub fn builder(config: PoolConfig) -> PoolBuilder<R, C, S> {
        PoolBuilder {
            config,
            clock: TimeSource::Coarse(CoarseClock::new()),
            disposal: Box::new(DropConnection),
            on_unused: None,
            types: PhantomData,
        }
    }

    /// Asks for a slot of `route`, preferring a connection bound to `state`.
    ///
    /// Never waits: the returned request is already served when a slot is at hand,
    /// otherwise it waits in the queue until [`get`](LeaseRequest::get) or `.await`
    /// picks up the outcome. It may close idle connections that stand in the way
    /// (expired ones, or others trimmed to make room), through the disposal callback
    /// and after the pool lock is released.
    #[inline]
    pub fn lease(&self, route: &R, state: Option<S>) -> LeaseRequest<R, C, S> {
        let shared = &self.shared;
        let mut not_now = None;
        // The slot is owned by its `Lease` before closes made on the way (expired or
        // trimmed idle connections) run the disposal callback.
        let lease = shared.locked_owned(
            shared.lazy_now(),
            |st, now, out| st.lease(route, state, now, out, &mut not_now),
            |leased| leased.map(|leased| Lease::new(Arc::clone(shared), leased)),
        );
        if let Some(lease) = lease {
            return LeaseRequest::ready(lease);
        }
        match not_now {
            Some(NotNow::Queued(mailbox)) => LeaseRequest::waiting(Arc::clone(shared), mailbox),
            Some(NotNow::Failed(err)) => LeaseRequest::failed(err),
            None => unreachable!("State::lease says why it did not lease"),
        }
    }

    /// Sets the total limit. Lowering it closes surplus idle connections, least
    /// recently used first, and never touches leased ones; raising it serves waiters
    /// at once. Zero is refused.
    pub fn set_max_total(&self, max: usize) -> Result<(), ConfigError> {
        if max == 0 {
            return Err(ConfigError::ZeroMaxTotal);
        }
        self.change_limits(|st| st.core.max_total = max);
        Ok(())
    }

    /// The total limit.
    pub fn max_total(&self) -> usize {
        self.shared.state.lock().core.max_total
    }

    /// Sets the limit of routes that have none of their own, with the same effects as
    /// [`set_max_total`](Self::set_max_total). Zero is refused.
    pub fn set_default_max_per_route(&self, max: usize) -> Result<(), ConfigError> {
        if max == 0 {
            return Err(ConfigError::ZeroDefaultMaxPerRoute);
        }
        self.change_limits(|st| st.core.default_max = max);
        Ok(())
    }

    /// The limit of routes that have none of their own.
    pub fn default_max_per_route(&self) -> usize {
        self.shared.state.lock().core.default_max
    }

    /// Gives `route` a limit of its own (`Some(0)` blocks it: its requests wait), or
    /// with `None` puts it back on the default. Limits above `u32::MAX` are taken as
    /// `u32::MAX`.
    pub fn set_max_per_route(&self, route: &R, max: Option<usize>) {
        self.change_limits(|st| st.set_route_max(route, max));
    }

    /// The limit in force for `route`.
    pub fn max_per_route(&self, route: &R) -> usize {
        self.shared.state.lock().route_max(route)
    }

    fn change_limits(&self, change: impl FnOnce(&mut State<R, C, S>)) {
        let shared = &self.shared;
        shared.locked(shared.lazy_now(), |st, now, out| {
            change(st);
            st.limits_changed(now, out);
        });
    }

    /// Closes every idle connection whose keep-alive or time-to-live has run out.
    /// Expired connections are also closed lazily as leases and releases meet them,
    /// so no background thread is needed.
    pub fn close_expired(&self) {
        let shared = &self.shared;
        shared.locked(shared.lazy_now(), |st, now, out| st.close_expired(now, out));
    }

    /// Closes every idle connection released at least `idle_for` ago.
    /// Apache: `closeIdle(TimeValue)`.
    pub fn close_idle(&self, idle_for: Duration) {
        let shared = &self.shared;
        shared.locked(shared.lazy_now(), |st, now, out| {
            st.close_idle(idle_for, now, out)
        });
    }

    /// When an idle connection next needs closing: the nearest keep-alive or
    /// time-to-live expiry, or, with `idle_for`, the time the least recently used
    /// idle connection will have been idle that long; `None` when nothing is idle.
    /// An evictor sleeps until then instead of polling. In the pool's clock.
    pub fn next_deadline(&self, idle_for: Option<Duration>) -> Option<std::time::Instant> {
        let stamp = self.shared.state.lock().next_deadline(idle_for)?;
        Some(self.shared.epoch.instant(stamp))
    }

    /// The current time in the pool's clock (what expiry and idle times are measured
    /// against).
    pub fn now(&self) -> std::time::Instant {
        self.shared.clock.now()
    }

    /// Counts of the whole pool.
    pub fn stats(&self) -> PoolStats {
        self.shared.state.lock().stats()
    }

    /// [`stats`](Self::stats), [`close_counts`](Self::close_counts) and
    /// [`state_mismatches`](Self::state_mismatches) read under one lock: one moment.
    pub fn snapshot(&self) -> (PoolStats, hcx_close::CloseCounts, u64) {
        let state = self.shared.state.lock();
        (
            state.stats(),
            state.core.closed.clone(),
            state.core.state_mismatches,
        )
    }

    /// Counts of one route (zeros, with its limit, if it has nothing).
    pub fn route_stats(&self, route: &R) -> PoolStats {
        self.shared.state.lock().route_stats(route)
    }

    /// Routes that have something leased, idle or pending.
    pub fn routes(&self) -> Vec<R> {
        self.shared.state.lock().routes()
    }

    /// How many connections the pool has closed, and why: every close it carried
    /// out, its own and those its lease holders decided, each counted once.
    pub fn close_counts(&self) -> hcx_close::CloseCounts {
        self.shared.state.lock().core.closed.clone()
    }

    /// How many leases found idle connections on their route but none bound to the
    /// state they asked for (nor without a state), so could not reuse one: the reuse
    /// that stateful connections (Apache's user tokens) cost, which Apache's pool does
    /// not report.
    pub fn state_mismatches(&self) -> u64 {
        self.shared.state.lock().core.state_mismatches
    }

    /// Shuts the pool down; calling it again does nothing. Idle connections are closed,
    /// waiting requests fail at once with [`LeaseError::Shutdown`](crate::LeaseError),
    /// new requests fail, and leased connections are closed when they come back. A
    /// request that was served just before, and has not picked its slot up yet, still
    /// gets it, like any lease handed out before the shutdown.
    pub fn shutdown(&self) {
        let shared = &self.shared;
        shared.locked(shared.lazy_now(), |st, _, out| st.shutdown(out));
    }

    /// `true` once [`shutdown`](Self::shutdown) was called.
    pub fn is_shutdown(&self) -> bool {
        self.shared.state.lock().core.shutdown
    }

    /// Checks the pool's internal invariants; for tests.
    #[doc(hidden)]
    pub fn check_invariants(&self) -> Result<(), String> {
        self.shared.state.lock().check_invariants()
    }
}

impl<R, C, S> fmt::Debug for Pool<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Pool")
            .field("stats", &self.stats())
            .finish()
    }
}
