//! Why the engine closed connections instead of pooling them: counters that answer
//! "why wasn't my connection reused?" for the closes the pool cannot explain (to the
//! pool they are all "discarded by the lease holder").

use std::sync::atomic::{AtomicU64, Ordering};

/// Connections the engine closed after an exchange, by cause. Part of
/// [`ManagerStats`](crate::ManagerStats); stale connections found by the probe are
/// counted apart, in `stale_closed`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct EngineCloses {
    /// The reuse strategy or the response's framing said close (`Connection: close`,
    /// HTTP/1.0, a read-to-close body, …; the response's `ReuseInfo` says which).
    pub not_reusable: u64,
    /// The body was dropped or discarded before its end, and draining the rest would
    /// have taken more than the drain limit or time.
    pub unread_body: u64,
    /// Bytes followed the response on the connection (already received when the
    /// response ended).
    pub trailing_bytes: u64,
    /// The exchange failed (I/O error, timeout, protocol error), or the connection was
    /// dropped without a decision.
    pub failed_exchange: u64,
}

/// One cause, as the engine reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CloseCause {
    NotReusable,
    UnreadBody,
    TrailingBytes,
    FailedExchange,
}

#[derive(Debug, Default)]
pub(crate) struct CloseCounters([AtomicU64; 4]);

impl CloseCounters {
    pub(crate) fn count(&self, cause: CloseCause) {
        let slot = match cause {
            CloseCause::NotReusable => 0,
            CloseCause::UnreadBody => 1,
            CloseCause::TrailingBytes => 2,
            CloseCause::FailedExchange => 3,
        };
        self.0[slot].fetch_add(1, Ordering::Relaxed);
    }

    pub(crate) fn snapshot(&self) -> EngineCloses {
        let get = |i: usize| self.0[i].load(Ordering::Relaxed);
        EngineCloses {
            not_reusable: get(0),
            unread_body: get(1),
            trailing_bytes: get(2),
            failed_exchange: get(3),
        }
    }
}
