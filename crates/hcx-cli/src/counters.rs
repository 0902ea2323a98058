//! An `EventListener` that counts what the summaries report and the pool's own
//! statistics do not: leases and how they were served, exchanges on the wire,
//! retries, redirects, the longest lease wait.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use hcx::{
    CloseReason, Connected, ConnectionInfo, ConnectionRef, Decision, Error, EventListener,
    IdleLimitChange, RedirectEvent, ResponseHeadRef, RetryEvent, Route,
};

/// Event counts, shared by every thread of a run (relaxed atomics: the totals are
/// read once the threads are joined).
#[derive(Debug, Default)]
pub struct Counters {
    leases: AtomicU64,
    reused: AtomicU64,
    stale_closed: AtomicU64,
    idle_limit_closed: AtomicU64,
    idle_probes: AtomicU64,
    idle_limit_changes: AtomicU64,
    lease_failures: AtomicU64,
    connect_failures: AtomicU64,
    heads_written: AtomicU64,
    heads_read: AtomicU64,
    retries: AtomicU64,
    redirects: AtomicU64,
    longest_wait_nanos: AtomicU64,
}

/// The counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Connection slots the pool lent (one per attempt: retries and redirect hops
    /// lease again).
    pub leases: u64,
    /// Of those, the ones served by a pooled connection (`ConnectionInfo::reused`).
    pub reused: u64,
    /// Pooled connections the stale probe found closed and discarded before a lease.
    pub stale_closed: u64,
    /// Pooled connections closed before a lease because they were idler than the
    /// route's learned idle limit (`ConnectionInfo::idle_limit_closed`).
    pub idle_limit_closed: u64,
    /// Reuses that probed an idle time beyond the learned limit
    /// (`ConnectionInfo::idle_probe`).
    pub idle_probes: u64,
    /// Changes of a route's learned idle limit (`EventListener::idle_limit_changed`).
    pub idle_limit_changes: u64,
    /// Leases that failed (timeout, shutdown).
    pub lease_failures: u64,
    /// Connects that failed.
    pub connect_failures: u64,
    /// Request heads written: attempts that reached the wire.
    pub heads_written: u64,
    /// Final response heads read.
    pub heads_read: u64,
    /// Attempts the RETRY layer sent again.
    pub retries: u64,
    /// Redirects the REDIRECT layer followed.
    pub redirects: u64,
    /// The longest a lease queued for a slot.
    pub longest_wait: Option<Duration>,
}

impl Counters {
    /// The counts now.
    pub fn counts(&self) -> Counts {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        let longest = get(&self.longest_wait_nanos);
        Counts {
            leases: get(&self.leases),
            reused: get(&self.reused),
            stale_closed: get(&self.stale_closed),
            idle_limit_closed: get(&self.idle_limit_closed),
            idle_probes: get(&self.idle_probes),
            idle_limit_changes: get(&self.idle_limit_changes),
            lease_failures: get(&self.lease_failures),
            connect_failures: get(&self.connect_failures),
            heads_written: get(&self.heads_written),
            heads_read: get(&self.heads_read),
            retries: get(&self.retries),
            redirects: get(&self.redirects),
            longest_wait: (longest > 0).then(|| Duration::from_nanos(longest)),
        }
    }
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl EventListener for Counters {
    fn leased(&self, _route: &Route, info: &ConnectionInfo) {
        bump(&self.leases);
        if info.reused {
            bump(&self.reused);
        }
        self.stale_closed
            .fetch_add(u64::from(info.stale_discarded), Ordering::Relaxed);
        self.idle_limit_closed
            .fetch_add(u64::from(info.idle_limit_closed), Ordering::Relaxed);
        if info.idle_probe {
            bump(&self.idle_probes);
        }
        if let Some(waited) = info.lease_waited {
            let nanos = u64::try_from(waited.as_nanos()).unwrap_or(u64::MAX);
            self.longest_wait_nanos.fetch_max(nanos, Ordering::Relaxed);
        }
    }

    fn lease_failed(&self, _route: &Route, _error: &Error) {
        bump(&self.lease_failures);
    }

    fn connect_end(&self, _route: &Route, result: Result<&Connected, &Error>) {
        if result.is_err() {
            bump(&self.connect_failures);
        }
    }

    fn request_head_written(&self, _conn: &ConnectionRef<'_>, _head: &[u8]) {
        bump(&self.heads_written);
    }

    fn response_head_read(&self, _conn: &ConnectionRef<'_>, _head: &ResponseHeadRef<'_>) {
        bump(&self.heads_read);
    }

    fn retry(&self, _event: &RetryEvent<'_>) {
        bump(&self.retries);
    }

    fn redirect(&self, _event: &RedirectEvent<'_>) {
        bump(&self.redirects);
    }

    fn idle_limit_changed(&self, _change: &IdleLimitChange) {
        bump(&self.idle_limit_changes);
    }
}

/// Two listeners as one: every event goes to the first, then the second. (A manager
/// takes one listener, and the library has no fan-out: every method of
/// `EventListener` must be forwarded here, or the second listener silently misses it.)
pub struct Both<A, B>(pub A, pub B);

impl<A: EventListener, B: EventListener> EventListener for Both<A, B> {
    fn lease_requested(&self, route: &Route) {
        self.0.lease_requested(route);
        self.1.lease_requested(route);
    }
    fn leased(&self, route: &Route, info: &ConnectionInfo) {
        self.0.leased(route, info);
        self.1.leased(route, info);
    }
    fn lease_failed(&self, route: &Route, error: &Error) {
        self.0.lease_failed(route, error);
        self.1.lease_failed(route, error);
    }
    fn connect_start(&self, route: &Route) {
        self.0.connect_start(route);
        self.1.connect_start(route);
    }
    fn connect_end(&self, route: &Route, result: Result<&Connected, &Error>) {
        self.0.connect_end(route, result);
        self.1.connect_end(route, result);
    }
    fn request_head_written(&self, conn: &ConnectionRef<'_>, head: &[u8]) {
        self.0.request_head_written(conn, head);
        self.1.request_head_written(conn, head);
    }
    fn response_head_read(&self, conn: &ConnectionRef<'_>, head: &ResponseHeadRef<'_>) {
        self.0.response_head_read(conn, head);
        self.1.response_head_read(conn, head);
    }
    fn reuse_decided(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        self.0.reuse_decided(conn, decision);
        self.1.reuse_decided(conn, decision);
    }
    fn body_done(&self, conn: &ConnectionRef<'_>, bytes: u64) {
        self.0.body_done(conn, bytes);
        self.1.body_done(conn, bytes);
    }
    fn released(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        self.0.released(conn, decision);
        self.1.released(conn, decision);
    }
    fn closed(&self, conn: &ConnectionRef<'_>, reason: CloseReason) {
        self.0.closed(conn, reason);
        self.1.closed(conn, reason);
    }
    fn retry(&self, event: &RetryEvent<'_>) {
        self.0.retry(event);
        self.1.retry(event);
    }
    fn redirect(&self, event: &RedirectEvent<'_>) {
        self.0.redirect(event);
        self.1.redirect(event);
    }
    fn idle_limit_changed(&self, change: &IdleLimitChange) {
        self.0.idle_limit_changed(change);
        self.1.idle_limit_changed(change);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_listeners_see_every_event() {
        let both = Both(Counters::default(), Counters::default());
        let route = Route::http("example.test", 80);
        let conn = ConnectionRef::new(1, &route);
        both.request_head_written(&conn, b"GET / HTTP/1.1\r\n\r\n");
        let (a, b) = (both.0.counts(), both.1.counts());
        assert_eq!((a.heads_written, b.heads_written), (1, 1));
        assert_eq!(a.longest_wait, None);
    }
}
