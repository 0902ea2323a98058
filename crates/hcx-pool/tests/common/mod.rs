//! Test harness: a pool of numbered fake connections, a manual clock, and a log of
//! every connection the pool closed and why.
#![allow(dead_code)]

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll, Waker};
use std::time::Duration;

use hcx_pool::{
    CloseReason, Decision, Lease, LeaseError, LeaseRequest, ManualClock, Pool, PoolConfig,
    PoolStats,
};

pub type Route = &'static str;
pub type Conn = u64;
pub type State = &'static str;
pub type TestPool = Pool<Route, Conn, State>;
pub type TestLease = Lease<Route, Conn, State>;
pub type TestRequest = LeaseRequest<Route, Conn, State>;

pub struct Harness {
    pub pool: TestPool,
    pub clock: ManualClock,
    pub closed: Arc<Mutex<Vec<(Conn, CloseReason)>>>,
    next_conn: AtomicU64,
}

impl Harness {
    pub fn new(config: PoolConfig) -> Self {
        let clock = ManualClock::new();
        let closed = Arc::new(Mutex::new(Vec::new()));
        let log = Arc::clone(&closed);
        let pool = Pool::builder(config)
            .clock(clock.clone())
            .disposal(move |conn: Conn, reason: CloseReason| {
                log.lock().unwrap().push((conn, reason))
            })
            .build()
            .expect("valid config");
        Self {
            pool,
            clock,
            closed,
            next_conn: AtomicU64::new(1),
        }
    }

    pub fn limits(max_total: usize, max_per_route: usize) -> Self {
        Self::new(PoolConfig::with_limits(max_total, max_per_route))
    }

    /// Leases without waiting; panics if the pool would make the caller wait.
    pub fn lease(&self, route: Route, state: Option<State>) -> TestLease {
        let req = self.pool.lease(&route, state);
        assert!(
            req.is_immediate(),
            "lease of {route} should be served at once: {}",
            self.pool.stats()
        );
        req.get(Duration::ZERO).expect("served at once")
    }

    /// Leases and, for a new slot, connects a fresh numbered connection.
    pub fn lease_connected(&self, route: Route, state: Option<State>) -> TestLease {
        let mut lease = self.lease(route, state);
        if lease.connection().is_none() {
            lease.assign(self.next_conn.fetch_add(1, Ordering::Relaxed));
        }
        lease
    }

    /// Leases, connects and releases reusable, leaving one idle connection; returns its number.
    pub fn idle_connection(&self, route: Route, state: Option<State>) -> Conn {
        let mut lease = self.lease_connected(route, state);
        lease.set_state(state);
        let conn = *lease.connection().unwrap();
        lease.release(Decision::keep(None));
        conn
    }

    /// Opens one new connection per state (all leased at once, so none is reused), then
    /// releases them in order: the last is the most recently used.
    pub fn idle_connections<const N: usize>(
        &self,
        route: Route,
        states: [Option<State>; N],
    ) -> [Conn; N] {
        let leases: Vec<TestLease> = states
            .iter()
            .map(|_| self.lease_connected(route, None))
            .collect();
        let mut ids = [0; N];
        for (i, (mut lease, state)) in leases.into_iter().zip(states).enumerate() {
            assert!(!lease.is_reused(), "expected a new connection");
            ids[i] = conn(&lease).unwrap();
            lease.set_state(state);
            lease.release(Decision::keep(None));
        }
        ids
    }

    pub fn closed(&self) -> Vec<(Conn, CloseReason)> {
        self.closed.lock().unwrap().clone()
    }

    pub fn check(&self) {
        self.pool.check_invariants().unwrap();
    }
}

pub fn conn(lease: &TestLease) -> Option<Conn> {
    lease.connection().copied()
}

/// Polls a request once without blocking.
pub fn poll(req: &mut TestRequest) -> Poll<Result<TestLease, LeaseError>> {
    let mut cx = Context::from_waker(Waker::noop());
    Pin::new(req).poll(&mut cx)
}

/// Polls a request that must still be waiting.
pub fn assert_waiting(req: &mut TestRequest) {
    assert!(poll(req).is_pending(), "request should still wait");
}

/// Polls a request that must have been served.
pub fn assert_served(req: &mut TestRequest) -> TestLease {
    match poll(req) {
        Poll::Ready(Ok(lease)) => lease,
        Poll::Ready(Err(e)) => panic!("request failed: {e}"),
        Poll::Pending => panic!("request should have been served"),
    }
}

/// Counts as `PoolStats` (which is `#[non_exhaustive]`: built from its default).
pub fn stats(leased: usize, pending: usize, available: usize, max: usize) -> PoolStats {
    let mut stats = PoolStats::default();
    stats.leased = leased;
    stats.pending = pending;
    stats.available = available;
    stats.max = max;
    stats
}
