//! The pooling connection manager: leases connections per route, probes reused ones.

use std::any::Any;
use std::fmt;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use hcx_close::{CloseCounts, CloseReason, Decision};
use hcx_pool::{
    Clock, CoarseClock, ConfigError as PoolConfigError, Lease, Pool, PoolConfig, PoolStats,
    ReusePolicy,
};

use crate::abort::{AbortHandle, Target, aborted};
use crate::config::{SocketConfig, zero_timeout};
use crate::connection::{Connection, Tunnelling};
use crate::error::{Error, ErrorKind};
use crate::events::{Connected, ConnectionRef, EventListener, Events};
use crate::evictor::EvictorLink;
use crate::info::ConnectionInfo;
use crate::live::LiveSockets;
use crate::metrics::{LeaseWaitCounters, LeaseWaits};
use crate::proxy_auth::ProxyAuthenticator;
use crate::resolver::{Resolver, SystemResolver};
use crate::route::Route;
use hcx_h1::Limits;

/// The state a connection can be bound to: Apache HttpClient's user token (a
/// connection authenticated as one user is not lent to another). Cheap to clone.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct UserToken(Arc<str>);

impl UserToken {
    /// A token naming a user or a security context.
    pub fn new(token: &str) -> Self {
        UserToken(Arc::from(token))
    }

    /// The token's text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

type ConnPool = Pool<Route, Connection, UserToken>;
type ConnLease = Lease<Route, Connection, UserToken>;

/// Leases connections per [`Route`] from an `hcx-pool` pool and opens new ones.
/// Apache HttpClient 5: `PoolingHttpClientConnectionManager`.
///
/// Defaults as Apache 5: 25 connections in all, 5 per route; the stale probe runs on
/// every reuse (`validate_after_inactivity` zero, where Apache waits 2 s). Cloning
/// gives another handle to the same pool. No background thread of its own: idle and
/// expired connections are closed when a lease meets them, by
/// [`close_idle`](Self::close_idle) / [`close_expired`](Self::close_expired), or by an
/// [`IdleConnectionEvictor`](crate::IdleConnectionEvictor) if you start one.
#[derive(Clone)]
#[doc(alias("PoolingHttpClientConnectionManager"))]
pub struct PoolingConnectionManager {
    inner: Arc<Inner>,
}

struct Inner {
    /// This manager's number among the process's ([`MANAGERS`]).
    id: u64,
    pool: ConnPool,
    /// The pool's own clock: idle times are measured against its release stamps.
    clock: SharedClock,
    resolver: Arc<dyn Resolver>,
    validate_after_inactivity: Option<Duration>,
    connect_timeout: Duration,
    socket_timeout: Option<Duration>,
    /// The pool's time-to-live, for the evictor's wake-ups (fixed at build).
    time_to_live: Option<Duration>,
    yield_when_crowded: bool,
    socket: SocketConfig,
    next_id: AtomicU64,
    /// Connects that succeeded (`next_id` counts every empty slot leased, connected
    /// or not).
    opened: AtomicU64,
    /// How to wake the idle-connection evictor early, once one is started.
    evictor: Arc<OnceLock<EvictorLink>>,
    events: Events,
    lease_waits: LeaseWaitCounters,
    /// Every live connection's socket, for `shutdown_immediate`.
    live: Arc<LiveSockets>,
    /// Answers a proxy's `407` to a `CONNECT`.
    proxy_auth: Option<Arc<dyn ProxyAuthenticator>>,
    tunnel_limits: Limits,
}

/// One clock shared by the pool (release stamps, expiry) and the manager (idle time
/// before reuse), so that both read the same time.
///
/// The default [`CoarseClock`] is kept as itself (it is `Copy`, and copies share its
/// base, so they read the same time): handed to the pool as a `CoarseClock`, the pool
/// takes its stamps from the coarse reading directly, where a clock behind a
/// `dyn Clock` costs two `Instant` conversions and two indirect calls on every
/// lease and release (measured in the commit that made it so).
#[derive(Clone)]
enum SharedClock {
    Coarse(CoarseClock),
    Custom(Arc<dyn Clock>),
}

impl SharedClock {
    fn new(clock: impl Clock) -> Self {
        match (&clock as &dyn Any).downcast_ref::<CoarseClock>() {
            Some(coarse) => Self::Coarse(*coarse),
            None => Self::Custom(Arc::new(clock)),
        }
    }
}

impl Clock for SharedClock {
    #[inline]
    fn now(&self) -> Instant {
        match self {
            Self::Coarse(clock) => clock.now(),
            Self::Custom(clock) => clock.now(),
        }
    }
}

/// Builds a [`PoolingConnectionManager`].
#[doc(alias("PoolingHttpClientConnectionManagerBuilder"))]
pub struct PoolingConnectionManagerBuilder {
    config: PoolConfig,
    clock: SharedClock,
    resolver: Arc<dyn Resolver>,
    validate_after_inactivity: Option<Duration>,
    connect_timeout: Duration,
    socket_timeout: Option<Duration>,
    socket: SocketConfig,
    route_limits: Vec<(Route, usize)>,
    listener: Option<Arc<dyn EventListener>>,
    yield_when_crowded: bool,
    proxy_auth: Option<Arc<dyn ProxyAuthenticator>>,
    tunnel_limits: Limits,
}

impl PoolingConnectionManagerBuilder {
    /// Reports what happens to connections and exchanges to `listener` (see
    /// [`EventListener`]). One per manager: it sees the requests of every client
    /// sharing this manager. None by default.
    pub fn event_listener(mut self, listener: Arc<dyn EventListener>) -> Self {
        self.listener = Some(listener);
        self
    }

    /// Answers a proxy's `407 Proxy Authentication Required` to a `CONNECT` with
    /// `authenticator` (see [`ProxyAuthenticator`]). None by default: a `407` is a
    /// [`ProxyTunnel`](crate::ErrorKind::ProxyTunnel) error. The `hcx` facade sets one
    /// from its credentials provider when it builds the manager itself.
    pub fn proxy_authenticator(mut self, authenticator: Arc<dyn ProxyAuthenticator>) -> Self {
        self.proxy_auth = Some(authenticator);
        self
    }

    /// Limits on a proxy's response head to a `CONNECT` (size, field count, 1xx
    /// count). Default [`Limits::default`]; a head limit below 16 bytes, a field or an
    /// informational response limit of 0 is a [`Config`](ErrorKind::Config) error from
    /// [`build`](Self::build) ([`Limits::unusable`]). The `hcx` facade sets the
    /// client's `limits` here too when it builds the manager itself, so one setting
    /// bounds every response head; a manager you build and give it keeps its own.
    pub fn tunnel_limits(mut self, limits: Limits) -> Self {
        self.tunnel_limits = limits;
        self
    }

    /// Most connections in all (leased + idle). Default 25. Apache: `maxConnTotal`.
    pub fn max_total(mut self, max: usize) -> Self {
        self.config.max_total = max;
        self
    }

    /// Most connections per route. Default 5. Apache: `maxConnPerRoute`.
    pub fn max_per_route(mut self, max: usize) -> Self {
        self.config.default_max_per_route = max;
        self
    }

    /// The limit of one route, in place of `max_per_route` (0 blocks the route).
    /// Apache: `setMaxPerRoute(HttpRoute, int)`.
    pub fn max_per_route_for(mut self, route: Route, max: usize) -> Self {
        self.route_limits.retain(|(r, _)| *r != route);
        self.route_limits.push((route, max));
        self
    }

    /// A hard limit on each connection's life, from its connect, whatever keep-alive
    /// the server grants; `None`: no limit. Default none. Apache: `timeToLive`
    /// (`setConnectionTimeToLive`).
    pub fn time_to_live(mut self, ttl: Option<Duration>) -> Self {
        self.config.time_to_live = ttl;
        self
    }

    /// Which idle connection a lease gets: the most recently used (LIFO, the default:
    /// surplus connections stay idle and expire) or the least (FIFO: all stay warm).
    /// Apache: `setConnPoolPolicy(PoolReusePolicy)`.
    pub fn reuse_policy(mut self, policy: ReusePolicy) -> Self {
        self.config.reuse_policy = policy;
        self
    }

    /// Socket options of every connection (`TCP_NODELAY`, buffer sizes, linger).
    /// Apache: `setDefaultSocketConfig`.
    pub fn socket_config(mut self, socket: SocketConfig) -> Self {
        self.socket = socket;
        self
    }

    /// The pool configuration as a whole (limits, reuse policy, time-to-live).
    pub fn pool_config(mut self, config: PoolConfig) -> Self {
        self.config = config;
        self
    }

    /// How names are resolved. Default [`SystemResolver`]. Apache: `DnsResolver`.
    pub fn resolver(mut self, resolver: impl Resolver + 'static) -> Self {
        self.resolver = Arc::new(resolver);
        self
    }

    /// Probe a reused connection that has been idle at least this long; `None`: never
    /// probe. Default `Some(ZERO)`: probe on every reuse (one non-blocking system call,
    /// no cost measurable next to a loopback round trip). Apache:
    /// `validateAfterInactivity` (default 2 s there). The probe is what catches a
    /// connection the server closed, or bytes it sent unasked, while the connection
    /// sat idle; raising the threshold or turning it off gives that up for
    /// connections reused sooner.
    pub fn validate_after_inactivity(mut self, after: Option<Duration>) -> Self {
        self.validate_after_inactivity = after;
        self
    }

    /// How long making a new connection may take (the TCP connect over every address,
    /// a proxy's `CONNECT` and the TLS handshake together), unless a request's
    /// [`RequestConfig::connect_timeout`](crate::RequestConfig::connect_timeout) says
    /// otherwise. Default 3 minutes; zero is a [`Config`](ErrorKind::Config) error from
    /// [`build`](Self::build). Apache: `ConnectionConfig.connectTimeout`.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// The socket timeout of every exchange (sending the request, waiting for the
    /// head, each read of the body), unless a request's
    /// [`RequestConfig::response_timeout`](crate::RequestConfig::response_timeout) says
    /// otherwise. Default 3 minutes, as Apache 5.1+ (`SocketConfig`'s default
    /// `soTimeout`; 4.5 and 5.0 have none); `None`: wait forever. `Some(ZERO)` is a
    /// [`Config`](ErrorKind::Config) error from [`build`](Self::build). Apache:
    /// `ConnectionConfig.socketTimeout`.
    pub fn socket_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.socket_timeout = timeout;
        self
    }

    /// Whether an exchange yields its CPU once before it first sleeps waiting for the
    /// response, when the process has more connections leased (from every manager)
    /// than CPUs it may run on (`std::thread::available_parallelism`, read once) and
    /// more than one CPU. Default `true`. Then a thread whose response has come runs
    /// at once, and the yielding thread is often still runnable when its own comes, so
    /// it is not woken from sleep (a wake-up that crosses CPUs costs microseconds);
    /// with one thread per CPU or fewer, or one CPU, nothing changes. Measured in
    /// docs/benchmarks.md ("Yielding when crowded"). No Apache equivalent.
    pub fn yield_when_crowded(mut self, yield_when_crowded: bool) -> Self {
        self.yield_when_crowded = yield_when_crowded;
        self
    }

    /// Where time is read for keep-alive expiry, time-to-live and the idle time that
    /// decides the stale probe. Default [`CoarseClock`]; tests use
    /// [`ManualClock`](hcx_pool::ManualClock).
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = SharedClock::new(clock);
        self
    }

    /// Builds the manager; a zero limit or timeout is a configuration error.
    pub fn build(self) -> Result<PoolingConnectionManager, Error> {
        zero_timeout("connect", Some(self.connect_timeout))?;
        zero_timeout("socket", self.socket_timeout)?;
        if let Some(why) = self.tunnel_limits.unusable() {
            return Err(Error::new(
                ErrorKind::Config,
                format!("tunnel_limits: {why}: no answer to a CONNECT would be read"),
            ));
        }
        if let Some(keepalive) = &self.socket.tcp_keepalive {
            keepalive.check()?;
        }
        let clock = self.clock;
        let events = Events::new(self.listener);
        let disposal = {
            let events = events.clone();
            move |conn: Connection, reason: CloseReason| {
                events.closed(&ConnectionRef::new(conn.id(), conn.route()), reason);
            }
        };
        let time_to_live = self.config.time_to_live;
        // A connection back in the pool without a release (a lease served as it was
        // given up) wakes the evictor as a release would: its plan never saw it.
        let evictor: Arc<OnceLock<EvictorLink>> = Arc::default();
        let returned_unused = {
            let evictor = Arc::clone(&evictor);
            move |updated: Instant, expiry: Option<Instant>| {
                if let Some(link) = evictor.get() {
                    link.released(updated, None, expiry);
                }
            }
        };
        let pool = match &clock {
            SharedClock::Coarse(coarse) => Pool::builder(self.config).clock(*coarse),
            SharedClock::Custom(_) => Pool::builder(self.config).clock(clock.clone()),
        };
        let pool = pool
            .disposal(disposal)
            .on_returned_unused(returned_unused)
            .build()
            // The setting by the builders' names, and what to do, in the message (a log
            // line printing only the error shows it). Not the pool's error as a source
            // too: it says the same in the pool's own names, and a chain reporter would
            // print the fact twice.
            .map_err(|e| {
                let what = match e {
                    PoolConfigError::ZeroMaxTotal => "max_total must be at least 1".into(),
                    PoolConfigError::ZeroDefaultMaxPerRoute => "max_per_route must be at least 1 \
                        (to block one route: max_per_route_for(route, 0))"
                        .into(),
                    PoolConfigError::ZeroTimeToLive => {
                        "time_to_live must be positive (None for no limit)".into()
                    }
                    other => other.to_string(),
                };
                Error::new(
                    ErrorKind::Config,
                    format!("invalid pool configuration: {what}"),
                )
            })?;
        for (route, max) in &self.route_limits {
            pool.set_max_per_route(route, Some(*max));
        }
        Ok(PoolingConnectionManager {
            inner: Arc::new(Inner {
                id: MANAGERS.fetch_add(1, Ordering::Relaxed),
                pool,
                clock,
                resolver: self.resolver,
                validate_after_inactivity: self.validate_after_inactivity,
                connect_timeout: self.connect_timeout,
                socket_timeout: self.socket_timeout,
                time_to_live,
                yield_when_crowded: self.yield_when_crowded,
                socket: self.socket,
                next_id: AtomicU64::new(1),
                opened: AtomicU64::new(0),
                evictor,
                events,
                lease_waits: LeaseWaitCounters::default(),
                live: Arc::default(),
                proxy_auth: self.proxy_auth,
                tunnel_limits: self.tunnel_limits,
            }),
        })
    }
}

impl fmt::Debug for PoolingConnectionManagerBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolingConnectionManagerBuilder")
            .field("config", &self.config)
            .field("validate_after_inactivity", &self.validate_after_inactivity)
            .field("connect_timeout", &self.connect_timeout)
            .field("socket_timeout", &self.socket_timeout)
            .field("socket", &self.socket)
            .field("route_limits", &self.route_limits)
            .finish_non_exhaustive()
    }
}

/// Counts of a [`PoolingConnectionManager`] at one moment.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
#[non_exhaustive]
#[doc(alias("PoolStats", "getTotalStats"))]
pub struct ManagerStats {
    /// The pool's counts (leased, idle, waiting, limit).
    pub pool: PoolStats,
    /// Connections opened since the manager was built: connects that succeeded (TCP,
    /// a tunnel, TLS), each of which later counts once in `closes`. A connect that
    /// fails after its TCP handshake (an abort or `shutdown_immediate` during it, a
    /// tunnel or TLS handshake refused) is not counted, though the server accepted a
    /// connection: a server's count can be higher by the failed connects
    /// ([`EventListener::connect_end`] with an
    /// error).
    pub connections_opened: u64,
    /// Every connection closed, by [`CloseReason`], whichever layer closed it (the
    /// stale probe, the reuse decision, the engine, expiry, trims, shutdown), each
    /// counted once: the pool's own count.
    pub closes: CloseCounts,
    /// Leases that found idle connections on their route but none in their user
    /// token's state, so could not reuse one (see
    /// [`Pool::state_mismatches`](hcx_pool::Pool::state_mismatches)).
    pub state_mismatches: u64,
    /// Leases that queued for a slot, by how long.
    pub lease_waits: LeaseWaits,
}

impl PoolingConnectionManager {
    /// A builder with Apache 5's defaults.
    pub fn builder() -> PoolingConnectionManagerBuilder {
        PoolingConnectionManagerBuilder {
            config: PoolConfig::default(),
            clock: SharedClock::Coarse(CoarseClock::new()),
            resolver: Arc::new(SystemResolver),
            validate_after_inactivity: Some(Duration::ZERO),
            connect_timeout: Duration::from_secs(180),
            socket_timeout: Some(Duration::from_secs(180)),
            socket: SocketConfig::default(),
            route_limits: Vec::new(),
            listener: None,
            yield_when_crowded: true,
            proxy_auth: None,
            tunnel_limits: Limits::default(),
        }
    }

    /// A manager with the defaults.
    pub fn new() -> Self {
        match Self::builder().build() {
            Ok(manager) => manager,
            // Only zero limits and timeouts are refused, and the defaults are none.
            Err(e) => unreachable!("the default configuration is valid: {e}"),
        }
    }

    /// Leases a connection slot for `route`, preferring connections bound to `state`,
    /// waiting at most `timeout` (Apache: the connection request timeout).
    ///
    /// A reused connection idle at least `validate_after_inactivity` is probed first;
    /// a stale one is closed and the slot kept, for the route's next idle connection
    /// (probed in turn) or a new one: the request never queues again for it (Apache's
    /// `PoolEntry.discardConnection`). The endpoint may hold no connection yet:
    /// [`Endpoint::connect_if_needed`] opens one.
    pub fn lease(
        &self,
        route: &Route,
        state: Option<UserToken>,
        timeout: Duration,
    ) -> Result<Endpoint, Error> {
        self.lease_abortable(route, state, timeout, None)
    }

    /// [`lease`](Self::lease), ended by `abort`: refused once it is aborted, and a
    /// wait for a connection is cancelled when it is.
    pub(crate) fn lease_abortable(
        &self,
        route: &Route,
        state: Option<UserToken>,
        timeout: Duration,
        abort: Option<&AbortHandle>,
    ) -> Result<Endpoint, Error> {
        let inner = &*self.inner;
        inner.events.lease_requested(route);
        if let Some(abort) = abort {
            abort
                .check("before it leased a connection")
                .inspect_err(|e| inner.events.lease_failed(route, e))?;
        }
        let request = inner.pool.lease(route, state.clone());
        let mut lease_waited: Option<Duration> = None;
        let leased = if request.is_immediate() {
            // Served (or refused) at once: `get` does not wait.
            request.get(timeout)
        } else {
            let start = Instant::now();
            const WAITING: &str = "while it waited for a connection from the pool";
            if let Some(abort) = abort {
                // Dropping the request on the way out cancels it.
                abort
                    .watch(Target::Lease(request.cancel_handle()), WAITING)
                    .inspect_err(|e| inner.events.lease_failed(route, e))?;
            }
            let leased = request.get(timeout);
            let waited = start.elapsed();
            lease_waited = Some(waited);
            inner.lease_waits.record(waited);
            if abort.is_some_and(AbortHandle::unwatch) {
                let error = match leased {
                    // Handed over as the abort came: never read or written, so
                    // it goes back as it was (the abort only cancelled the lease
                    // request, which had been served already).
                    Ok(lease) => {
                        lease.release_unused();
                        aborted(WAITING)
                    }
                    Err(e) => aborted(WAITING).with_source(e),
                };
                inner.events.lease_failed(route, &error);
                return Err(error);
            }
            leased
        };
        let lease = match leased {
            Ok(lease) => lease,
            Err(e) => {
                let error = Error::from_lease(e, route);
                inner.events.lease_failed(route, &error);
                return Err(error);
            }
        };
        Ok(self.hand_out(route, &state, lease, 0, lease_waited))
    }

    /// The endpoint of a slot just leased, or kept by
    /// [`Endpoint::discard_connection`]. A pooled connection idle at least
    /// `validate_after_inactivity` is probed; a stale one is closed and the slot kept
    /// (Apache's `discardConnection`), for the route's next idle connection in
    /// `state`, probed in turn, or a new one: the request keeps its turn, where giving
    /// the slot back would put it behind every waiter.
    fn hand_out(
        &self,
        route: &Route,
        state: &Option<UserToken>,
        mut lease: ConnLease,
        mut stale_discarded: u32,
        lease_waited: Option<Duration>,
    ) -> Endpoint {
        let inner = &*self.inner;
        loop {
            // The pool's clock, read once for both.
            let (leased_at, idle) = lease.now_and_idle();
            let Some(conn) = lease.connection_mut() else {
                // The number the connection will have, so that `leased` and the
                // events of its connect agree.
                let info = ConnectionInfo {
                    connection_id: inner.next_id.fetch_add(1, Ordering::Relaxed),
                    reused: false,
                    idle_for: None,
                    probed: false,
                    stale_discarded,
                    lease_waited,
                    idle_limit_closed: 0,
                    idle_probe: false,
                };
                inner.events.leased(route, &info);
                return Endpoint::new(self.clone(), lease, info, leased_at);
            };
            let probe = inner
                .validate_after_inactivity
                .is_some_and(|after| idle >= after);
            if probe && conn.is_stale() {
                stale_discarded = stale_discarded.saturating_add(1);
                lease.discard_connection(CloseReason::Stale, state);
                continue;
            }
            let info = ConnectionInfo {
                connection_id: conn.id(),
                reused: true,
                idle_for: Some(idle),
                probed: probe,
                stale_discarded,
                lease_waited,
                idle_limit_closed: 0,
                idle_probe: false,
            };
            inner.events.leased(route, &info);
            return Endpoint::new(self.clone(), lease, info, leased_at);
        }
    }

    /// Closes idle connections unused for at least `idle_for`. Apache: `closeIdle`.
    ///
    /// Idle time is read on the manager's clock: the default [`CoarseClock`] counts in
    /// ticks of a few milliseconds, so a connection released less than a tick ago has
    /// been idle for no time yet and an `idle_for` shorter than a tick may close it a
    /// tick later; `Duration::ZERO` closes every idle connection at once.
    pub fn close_idle(&self, idle_for: Duration) {
        self.inner.pool.close_idle(idle_for);
    }

    /// Closes idle connections whose keep-alive or time-to-live ran out. Apache:
    /// `closeExpired`.
    pub fn close_expired(&self) {
        self.inner.pool.close_expired();
    }

    /// The connect timeout of requests that set none. See
    /// [`PoolingConnectionManagerBuilder::connect_timeout`].
    pub fn connect_timeout(&self) -> Duration {
        self.inner.connect_timeout
    }

    /// The socket timeout of requests that set no response timeout. See
    /// [`PoolingConnectionManagerBuilder::socket_timeout`].
    pub fn socket_timeout(&self) -> Option<Duration> {
        self.inner.socket_timeout
    }

    /// The pool's counts, the connections opened, and every close by reason.
    pub fn stats(&self) -> ManagerStats {
        // The pool's counts under one lock: one moment. `opened` is read after them,
        // and counted before a connection is assigned to its slot, so every connection
        // counted idle or closed here is counted opened too.
        let (pool, closes, state_mismatches) = self.inner.pool.snapshot();
        ManagerStats {
            pool,
            connections_opened: self.inner.opened.load(Ordering::Acquire),
            closes,
            state_mismatches,
            lease_waits: self.inner.lease_waits.snapshot(),
        }
    }

    /// The counts of every route the pool knows, with the route.
    pub fn all_route_stats(&self) -> Vec<(Route, PoolStats)> {
        let pool = &self.inner.pool;
        pool.routes()
            .into_iter()
            .map(|route| {
                let stats = pool.route_stats(&route);
                (route, stats)
            })
            .collect()
    }

    /// This manager's number, unique among the process's managers (its clones share
    /// it): what state kept per pool outside it, such as a backoff manager's, is keyed
    /// by.
    pub fn id(&self) -> u64 {
        self.inner.id
    }

    /// The time on the pool's clock (the one idle times are measured with).
    pub fn now(&self) -> Instant {
        self.inner.clock.now()
    }

    /// The events of this manager: its listener and `tracing`. The chain layers
    /// report retries and redirects through it.
    pub fn events(&self) -> &Events {
        &self.inner.events
    }

    /// The counts of one route.
    #[doc(alias("getStats"))]
    pub fn route_stats(&self, route: &Route) -> PoolStats {
        self.inner.pool.route_stats(route)
    }

    /// Closes every idle connection and fails every lease, waiting or future; leased
    /// connections are closed when given back, so requests in flight finish. Every
    /// [`wait`](Self::wait) ends now (RETRY's before a retry, whose next attempt would
    /// only fail to lease: the request fails with [`ErrorKind::Shutdown`] at once, not
    /// after the wait; Apache sleeps it out). Apache's `close()` (and 4.5's
    /// `shutdown()`) close the leased ones too: that is
    /// [`shutdown_immediate`](Self::shutdown_immediate).
    pub fn shutdown(&self) {
        self.inner.pool.shutdown();
        self.inner.live.end_waits();
        // Its evictor ends now: nothing is left for it.
        if let Some(link) = self.evictor_link() {
            link.wake();
        }
    }

    /// [`shutdown`](Self::shutdown), and every connection a request holds is shut down
    /// at once (its socket, in both directions, a proxy tunnel or TLS handshake under
    /// way included), every TCP connect under way ends, and every [`wait`](Self::wait)
    /// (RETRY's before a retry) ends: each request in flight fails with an
    /// [`ErrorKind::Shutdown`] error that says how far it got, is not retried, and a
    /// connect finishing after this is refused. Apache: `close()` (either
    /// `CloseMode`) and 4.5's `shutdown()`, which close leased connections too. A name
    /// lookup under way is cut short only for a request with an
    /// [`AbortHandle`] (which looks names up on a thread of its own); otherwise the
    /// request fails when it ends. Not cut short: a retry sleeper of your own.
    #[doc(alias("close", "CloseMode.IMMEDIATE"))]
    pub fn shutdown_immediate(&self) {
        self.shutdown();
        self.inner.live.shutdown_all();
    }

    /// Waits `delay` on the calling thread, ending early (or at once) when `abort`
    /// aborts or the manager is shut down ([`shutdown`](Self::shutdown) or
    /// [`shutdown_immediate`](Self::shutdown_immediate)):
    /// the `hcx` facade's default wait before a retry, for handlers of your own that
    /// wait too.
    pub fn wait(&self, delay: Duration, abort: Option<&AbortHandle>) {
        self.inner.live.wait(delay, abort);
    }

    /// Whether [`shutdown_immediate`](Self::shutdown_immediate) has run: an exchange
    /// that fails after it fails because of it.
    pub(crate) fn is_shut_down_immediately(&self) -> bool {
        self.inner.live.is_closed()
    }

    /// The underlying pool, for its finer controls (per-route limits, close counts).
    pub fn pool(&self) -> &Pool<Route, Connection, UserToken> {
        &self.inner.pool
    }

    /// The link to this manager's evictors, made by `init` the first time.
    pub(crate) fn evictor_link_or_init(&self, init: impl FnOnce() -> EvictorLink) -> &EvictorLink {
        self.inner.evictor.get_or_init(init)
    }

    pub(crate) fn evictor_link(&self) -> Option<&EvictorLink> {
        self.inner.evictor.get()
    }

    /// Opens connection number `id` (given out with the lease of its slot).
    fn open(
        &self,
        route: &Route,
        id: u64,
        timeout: Duration,
        abort: Option<&AbortHandle>,
        proxy_auth: bool,
    ) -> Result<Connection, Error> {
        let inner = &*self.inner;
        inner.events.connect_start(route);
        let result = Connection::connect_abortable(
            id,
            route,
            &*inner.resolver,
            Some(&inner.resolver),
            timeout,
            &inner.socket,
            abort,
            Some(&inner.live),
            Tunnelling {
                auth: inner.proxy_auth.as_deref().filter(|_| proxy_auth),
                limits: inner.tunnel_limits,
            },
        );
        match &result {
            Ok(conn) => {
                inner.opened.fetch_add(1, Ordering::Release);
                let connected = Connected {
                    connection_id: id,
                    peer: conn.peer_addr(),
                    local: conn.local_addr(),
                    timings: conn.connect_timings(),
                    tls: conn.tls_session(),
                };
                inner.events.connect_end(route, Ok(&connected));
            }
            Err(e) => inner.events.connect_end(route, Err(e)),
        }
        result
    }
}

impl Default for PoolingConnectionManager {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for PoolingConnectionManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PoolingConnectionManager")
            .field("pool", &self.inner.pool)
            .field(
                "validate_after_inactivity",
                &self.inner.validate_after_inactivity,
            )
            .finish_non_exhaustive()
    }
}

/// A leased connection slot with what is known about how it was obtained. Apache:
/// `ConnectionEndpoint`.
///
/// Dropping it discards the connection and frees the slot; [`release`](Self::release)
/// gives it back for reuse.
pub struct Endpoint {
    manager: PoolingConnectionManager,
    lease: ConnLease,
    info: ConnectionInfo,
    /// The pool clock's time when the slot was leased.
    leased_at: Instant,
    /// Counts this endpoint among the process's leased ones while it lives.
    active: Active,
}

/// The managers built in this process: the next one's [`id`](PoolingConnectionManager::id).
static MANAGERS: AtomicU64 = AtomicU64::new(0);

/// Endpoints leased in this process (every manager's) and not yet given back.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);

/// One endpoint's place in [`ACTIVE`]; knows whether, when it was leased, more
/// endpoints were out than the CPUs this process may run on.
struct Active {
    crowded: bool,
}

impl Active {
    /// Counts one more endpoint; `watch`: whether to note crowding at all. On one
    /// CPU nothing is crowded: every wake-up is local there, and a yield would only
    /// add a switch.
    fn enter(watch: bool) -> Self {
        static CPUS: OnceLock<usize> = OnceLock::new();
        let active = ACTIVE.fetch_add(1, Ordering::Relaxed) + 1;
        let cpus =
            *CPUS.get_or_init(|| std::thread::available_parallelism().map_or(1, usize::from));
        Active {
            crowded: watch && cpus > 1 && active > cpus,
        }
    }
}

impl Drop for Active {
    fn drop(&mut self) {
        ACTIVE.fetch_sub(1, Ordering::Relaxed);
    }
}

impl Endpoint {
    fn new(
        manager: PoolingConnectionManager,
        lease: ConnLease,
        info: ConnectionInfo,
        leased_at: Instant,
    ) -> Self {
        Endpoint {
            active: Active::enter(manager.inner.yield_when_crowded),
            manager,
            lease,
            info,
            leased_at,
        }
    }

    /// Whether, when this endpoint was leased, the process had more endpoints out
    /// (across every manager) than CPUs it may run on (`available_parallelism`, read
    /// once), and more than one CPU. Then the exchange yields its CPU once before it
    /// sleeps waiting for the response: a thread whose response has come runs at once,
    /// and this one is often still runnable when its own comes, so it is not woken
    /// from sleep.
    pub fn crowded(&self) -> bool {
        self.active.crowded
    }

    /// The pool clock's time when the slot was leased (what its idle time was measured
    /// against).
    pub(crate) fn leased_at(&self) -> Instant {
        self.leased_at
    }

    /// The route of the slot.
    pub fn route(&self) -> &Route {
        self.lease.route()
    }

    /// How the connection was obtained (complete once connected).
    pub fn info(&self) -> ConnectionInfo {
        self.info
    }

    /// Whether the slot holds a connection.
    pub fn is_connected(&self) -> bool {
        self.lease.connection().is_some()
    }

    /// Opens a connection if the slot holds none, within `connect_timeout` (`None`:
    /// the manager's [`connect_timeout`](PoolingConnectionManagerBuilder::connect_timeout)).
    pub fn connect_if_needed(&mut self, connect_timeout: Option<Duration>) -> Result<(), Error> {
        self.connect_abortable(connect_timeout, None, true)
    }

    /// [`connect_if_needed`](Self::connect_if_needed), ended by `abort`; with
    /// `proxy_auth`, a proxy's `407` to a `CONNECT` is answered by the manager's
    /// authenticator.
    pub(crate) fn connect_abortable(
        &mut self,
        connect_timeout: Option<Duration>,
        abort: Option<&AbortHandle>,
        proxy_auth: bool,
    ) -> Result<(), Error> {
        if self.lease.connection().is_some() {
            return Ok(());
        }
        let connect_timeout = connect_timeout.unwrap_or(self.manager.inner.connect_timeout);
        let route = self.lease.route().clone();
        let conn = self.manager.open(
            &route,
            self.info.connection_id,
            connect_timeout,
            abort,
            proxy_auth,
        )?;
        // The slot was empty: nothing is replaced.
        let _ = self.lease.assign(conn);
        Ok(())
    }

    /// The connection, if connected.
    pub fn connection_mut(&mut self) -> Option<&mut Connection> {
        self.lease.connection_mut()
    }

    /// The connection, if connected.
    pub fn connection(&self) -> Option<&Connection> {
        self.lease.connection()
    }

    /// The user token the connection is bound to, if any.
    pub fn state(&self) -> Option<&UserToken> {
        self.lease.state()
    }

    /// Binds the connection to a user token (or none).
    pub fn set_state(&mut self, state: Option<UserToken>) {
        self.lease.set_state(state);
    }

    /// Gives the connection back as `decision` says. A connection kept with received
    /// bytes still unread is closed instead ([`CloseReason::TrailingBytes`]): they
    /// answer no request, and read as the next response they would hand wrong bytes to
    /// the next request. Bytes that arrive after the release are the stale probe's to
    /// find at the next lease: with the default (probe every reuse) they are; with the
    /// probe off or a threshold above zero, a server that sends unsolicited bytes later
    /// can still have them read as the next response.
    pub fn release(mut self, decision: Decision) {
        // Bytes after the response, or the server's word that it closes: not pooled,
        // whether or not the stale probe would run at the next lease.
        let decision = match decision {
            Decision::Keep { .. } => self
                .lease
                .connection_mut()
                .and_then(Connection::leftover)
                .map_or(decision, Decision::Close),
            close => close,
        };
        if let Some(conn) = self.lease.connection() {
            let conn_ref = ConnectionRef::new(conn.id(), conn.route());
            self.manager.inner.events.released(&conn_ref, decision);
        }
        let evictor = match decision {
            Decision::Keep { valid_for } => self.manager.evictor_link().map(|link| {
                let ttl_end = (self.manager.inner.time_to_live)
                    .and_then(|ttl| self.lease.created().checked_add(ttl));
                (link, valid_for, ttl_end)
            }),
            Decision::Close(_) => None,
        };
        self.lease.release(decision);
        if let Some((link, valid_for, ttl_end)) = evictor {
            link.released(self.manager.inner.clock.now(), valid_for, ttl_end);
        }
    }

    /// Closes the connection for `reason` (counted in [`ManagerStats::closes`]) and
    /// keeps the slot: the endpoint returned holds the route's next idle connection
    /// in this one's user token (probed as a lease probes it) or no connection yet.
    /// The request keeps its turn, where [`discard`](Self::discard) and a new lease
    /// would put it behind every waiting request. Apache: `PoolEntry.discardConnection`.
    pub(crate) fn discard_connection(self, reason: CloseReason) -> Endpoint {
        let Endpoint {
            manager,
            mut lease,
            info,
            ..
        } = self;
        let route = lease.route().clone();
        let state = lease.state().cloned();
        lease.discard_connection(reason, &state);
        // A listener sees `closed`, then another lease (`lease_requested` →
        // `leased`): the pairs stay whole.
        manager.inner.events.lease_requested(&route);
        manager.hand_out(
            &route,
            &state,
            lease,
            info.stale_discarded,
            info.lease_waited,
        )
    }

    /// Closes the connection for `reason` (counted in
    /// [`ManagerStats::closes`]) and frees the slot.
    pub fn discard(self, reason: CloseReason) {
        self.lease.discard(reason);
    }
}

impl fmt::Debug for Endpoint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Endpoint")
            .field("route", self.lease.route())
            .field("info", &self.info)
            .field("connection", &self.lease.connection())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::runtime::ExecRuntime;
    use hcx_pool::ManualClock;
    use std::net::TcpListener;

    const WAIT: Duration = Duration::from_secs(5);

    /// Leases, connects if needed, and releases as reusable; returns the info.
    fn cycle(manager: &PoolingConnectionManager, route: &Route) -> Result<ConnectionInfo, Error> {
        let mut runtime = ExecRuntime::new(manager.clone());
        runtime.acquire(route, None, WAIT)?;
        runtime.connect_if_needed(Some(WAIT))?;
        let info = runtime
            .connection_info()
            .ok_or_else(|| Error::new(ErrorKind::Io, "no endpoint"))?;
        runtime.mark(Decision::keep(None));
        runtime.release();
        Ok(info)
    }

    #[test]
    fn the_probe_runs_only_after_validate_after_inactivity()
    -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let route = Route::http("127.0.0.1", listener.local_addr()?.port());
        let clock = ManualClock::new();
        let manager = PoolingConnectionManager::builder()
            .clock(clock.clone())
            .validate_after_inactivity(Some(Duration::from_secs(2)))
            .build()?;
        let first = cycle(&manager, &route)?;
        assert!(!first.reused && !first.probed && first.idle_for.is_none());

        clock.advance(Duration::from_secs(1));
        let young = cycle(&manager, &route)?;
        assert!(young.reused && !young.probed);
        assert_eq!(young.idle_for, Some(Duration::from_secs(1)));

        clock.advance(Duration::from_secs(2));
        let old = cycle(&manager, &route)?;
        assert!(old.reused && old.probed);
        assert_eq!(old.idle_for, Some(Duration::from_secs(2)));
        assert_eq!(old.connection_id, first.connection_id);
        Ok(())
    }

    #[test]
    fn a_failed_connect_is_not_counted_as_opened() -> Result<(), Box<dyn std::error::Error>> {
        // A port nobody listens on any more: the connect is refused.
        let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
        let route = Route::http("127.0.0.1", port);
        let manager = PoolingConnectionManager::new();
        assert!(cycle(&manager, &route).is_err());
        assert_eq!(manager.stats().connections_opened, 0);
        assert_eq!(manager.stats().pool.leased, 0, "the slot was given back");
        Ok(())
    }

    #[test]
    fn never_validating_reuses_without_a_probe() -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let route = Route::http("127.0.0.1", listener.local_addr()?.port());
        let manager = PoolingConnectionManager::builder()
            .validate_after_inactivity(None)
            .build()?;
        cycle(&manager, &route)?;
        let again = cycle(&manager, &route)?;
        assert!(again.reused && !again.probed);
        assert_eq!(manager.stats().connections_opened, 1);
        Ok(())
    }

    #[test]
    fn a_coarse_clock_reaches_the_pool_as_itself_with_the_managers_base() {
        let is_coarse =
            |m: &PoolingConnectionManager| matches!(m.inner.clock, SharedClock::Coarse(_));
        let default = PoolingConnectionManager::new();
        let explicit = PoolingConnectionManager::builder()
            .clock(CoarseClock::new())
            .build();
        let manual = PoolingConnectionManager::builder()
            .clock(ManualClock::new())
            .build();
        assert!(is_coarse(&default));
        assert!(explicit.as_ref().is_ok_and(is_coarse));
        assert!(manual.as_ref().is_ok_and(|m| !is_coarse(m)));
        // The pool's copy reads the manager's time: the same base, the same tick.
        for manager in [Ok(default), explicit, manual].iter().flatten() {
            let before = manager.now();
            let pool = manager.inner.pool.now();
            assert!(before <= pool && pool <= manager.now());
        }
    }

    #[test]
    fn zero_limits_are_configuration_errors() {
        let error = PoolingConnectionManager::builder()
            .max_per_route(0)
            .build()
            .err();
        let error = error.expect("a zero limit is refused");
        assert!(error.is_config());
        // Named in the message itself, by the builder's name: a log line printing only
        // `{error}` shows it, and said once: no source repeating it in the pool's names.
        assert!(
            error.to_string().contains("max_per_route must"),
            "{error:?}"
        );
        assert!(!error.to_string().contains("default_"), "{error:?}");
        assert!(std::error::Error::source(&error).is_none(), "{error:?}");
    }

    #[test]
    fn a_shut_down_manager_refuses_leases() {
        let manager = PoolingConnectionManager::new();
        manager.shutdown();
        let error = manager.lease(&Route::http("a.test", 80), None, WAIT).err();
        assert!(error.is_some_and(|e| e.is_shutdown()));
    }
}
