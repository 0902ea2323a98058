//! An `EventListener` that counts what the summaries report and the pool's own
//! statistics do not: leases and how they were served, exchanges on the wire,
//! retries, redirects.

use std::sync::atomic::{AtomicU64, Ordering};

use hcx::{
    CloseReason, Connected, ConnectionInfo, ConnectionRef, Error, EventListener, IdleLimitChange,
    RedirectEvent, ResponseHeadRef, RetryEvent, Route,
};

/// Event counts, shared by every thread of a run (relaxed atomics: the totals are
/// read once the threads are joined).
#[derive(Debug, Default)]
pub struct Counters {
    leases: AtomicU64,
    reused: AtomicU64,
    stale_closed: AtomicU64,
    idle_limit_closed: AtomicU64,
    idle_limit_changes: AtomicU64,
    lease_failures: AtomicU64,
    connect_failures: AtomicU64,
    heads_written: AtomicU64,
    heads_read: AtomicU64,
    retries: AtomicU64,
    redirects: AtomicU64,
}

/// The counts at one moment.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counts {
    /// Connection slots the pool lent (one per attempt: retries and redirect hops
    /// lease again). A pooled connection closed for the learned idle limit before use
    /// is not one: the lease that replaced it, for the same attempt, is.
    pub leases: u64,
    /// Of those, the ones served by a pooled connection (`ConnectionInfo::reused`).
    pub reused: u64,
    /// Pooled connections the stale probe found closed and discarded before a lease.
    pub stale_closed: u64,
    /// Pooled connections closed, once leased, because they were idler than the
    /// route's learned idle limit (`closed` events with `CloseReason::IdleLimit`).
    pub idle_limit_closed: u64,
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
}

impl Counters {
    /// The counts now.
    pub fn counts(&self) -> Counts {
        let get = |counter: &AtomicU64| counter.load(Ordering::Relaxed);
        Counts {
            leases: get(&self.leases),
            reused: get(&self.reused),
            stale_closed: get(&self.stale_closed),
            idle_limit_closed: get(&self.idle_limit_closed),
            idle_limit_changes: get(&self.idle_limit_changes),
            lease_failures: get(&self.lease_failures),
            connect_failures: get(&self.connect_failures),
            heads_written: get(&self.heads_written),
            heads_read: get(&self.heads_read),
            retries: get(&self.retries),
            redirects: get(&self.redirects),
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
    }

    fn closed(&self, _conn: &ConnectionRef<'_>, reason: CloseReason) {
        if reason == CloseReason::IdleLimit {
            bump(&self.idle_limit_closed);
            // The engine closes it right after the lease that took it from the pool
            // (on this thread, so the counts are at least one), and leases again for
            // the same attempt: that first lease carried nothing and reused nothing.
            self.leases.fetch_sub(1, Ordering::Relaxed);
            self.reused.fetch_sub(1, Ordering::Relaxed);
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

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Duration;

    use hcx::{Client, Clock, ManualClock, PoolingConnectionManager};
    use hcx_testserver::{Method, Reply, TestServer};

    /// A pooled connection closed for the learned idle limit never carried the
    /// request: the lease that took it and the one that replaced it are one attempt,
    /// and only the second says whether the exchange went out on a pooled connection.
    #[test]
    fn a_connection_closed_for_the_idle_limit_is_not_a_lease_nor_a_reuse() -> Result<(), String> {
        let err = |e: &dyn std::fmt::Display| e.to_string();
        let clock = ManualClock::new();
        let server_clock = clock.clone();
        let server = TestServer::builder()
            .route(
                Method::GET,
                "/",
                Reply::ok().header("Keep-Alive", "timeout=3600").body("got"),
            )
            .route(
                Method::POST,
                "/",
                Reply::ok()
                    .header("Keep-Alive", "timeout=3600")
                    .body("posted"),
            )
            .silent_drop_after(Duration::from_secs(60))
            .clock(move || server_clock.now())
            .start()
            .map_err(|e| err(&e))?;
        let counters = Arc::new(Counters::default());
        let listener: Arc<dyn EventListener> = counters.clone();
        let manager = PoolingConnectionManager::builder()
            .clock(clock.clone())
            .event_listener(listener)
            .build()
            .map_err(|e| err(&e))?;
        let client = Client::builder()
            .connection_manager(manager)
            .response_timeout(Some(Duration::from_secs(10)))
            .build()
            .map_err(|e| err(&e))?;
        let get = || -> Result<(), String> {
            client
                .get(server.url("/"))
                .and_then(|r| r.into_body().into_string())
                .map(drop)
                .map_err(|e| err(&e))
        };
        // Survives 45 s idle, dies at 70 s (RETRY sends it again): the limit is learned.
        get()?;
        clock.advance(Duration::from_secs(45));
        get()?;
        clock.advance(Duration::from_secs(70));
        get()?;
        clock.advance(Duration::from_secs(70));
        // Idler than the limit: closed before use (a POST is not sent to probe past
        // the limit), and the request goes on a new one.
        client
            .post(server.url("/"), "order".to_string())
            .and_then(|r| r.into_body().into_string())
            .map_err(|e| err(&e))?;
        let counts = counters.counts();
        assert_eq!(counts.idle_limit_closed, 1, "{counts:?}");
        assert_eq!(counts.heads_written, 5, "{counts:?}");
        assert_eq!(
            counts.leases, counts.heads_written,
            "one lease per attempt: {counts:?}"
        );
        let opened = client.stats().connections_opened;
        assert_eq!(opened, 3, "{counts:?}");
        assert_eq!(
            counts.reused,
            counts.leases - opened,
            "every lease that did not open a connection reused one: {counts:?}"
        );
        Ok(())
    }
}
