//! A pool entry: one connection slot of a route.

use std::time::{Duration, Instant};

/// One slot of a route. While leased it is owned by the [`Lease`](crate::Lease); while
/// idle, by the pool's idle list. It is never in both places, so it cannot be released
/// twice or handed to two callers.
///
/// It lives in a [`Slot`] box from the slot's creation to its end, so a lease and a
/// release move one pointer, not the whole record (copying the record in and out of
/// the lease was most of the uncontended cycle's cost).
#[derive(Debug)]
pub(crate) struct Entry<R, C, S> {
    pub(crate) id: u64,
    /// The route's index in the pool's route table (valid while the slot is counted
    /// in it, which it is for its whole life).
    pub(crate) ridx: usize,
    pub(crate) route: R,
    pub(crate) conn: Option<C>,
    pub(crate) state: Option<S>,
    pub(crate) created: Instant,
    pub(crate) updated: Instant,
    pub(crate) expiry: Option<Instant>,
}

/// An entry in its box: what moves between the pool, waiters and leases.
pub(crate) type Slot<R, C, S> = Box<Entry<R, C, S>>;

impl<R, C, S> Entry<R, C, S> {
    /// An empty slot: the lease holder connects and assigns the connection.
    pub(crate) fn new_slot(id: u64, ridx: usize, route: R, now: Instant) -> Slot<R, C, S> {
        Box::new(Self {
            id,
            ridx,
            route,
            conn: None,
            state: None,
            created: now,
            updated: now,
            expiry: None,
        })
    }

    /// Empties the slot for a new connection, keeping its id and route.
    pub(crate) fn reset(&mut self, now: Instant) {
        self.conn = None;
        self.state = None;
        self.created = now;
        self.updated = now;
        self.expiry = None;
    }

    #[inline]
    pub(crate) fn is_expired(&self, now: Instant) -> bool {
        self.expiry.is_some_and(|at| now >= at)
    }

    /// Installs a fresh connection: its life and time-to-live start now.
    pub(crate) fn assign(&mut self, conn: C, now: Instant, ttl: Option<Duration>) -> Option<C> {
        self.created = now;
        self.updated = now;
        self.expiry = ttl.and_then(|ttl| now.checked_add(ttl));
        self.conn.replace(conn)
    }

    /// Marks the entry reusable for `valid_for` from `now` (`None`: no keep-alive limit),
    /// never past `created + ttl`.
    #[inline]
    pub(crate) fn mark_valid_for(
        &mut self,
        now: Instant,
        valid_for: Option<Duration>,
        ttl: Option<Duration>,
    ) {
        self.updated = now;
        let keep_alive = valid_for.and_then(|d| now.checked_add(d));
        let ttl_end = ttl.and_then(|ttl| self.created.checked_add(ttl));
        self.expiry = match (keep_alive, ttl_end) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        };
    }
}
