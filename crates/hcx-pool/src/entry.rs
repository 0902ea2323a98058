//! A pool entry: one connection slot of a route, and the pool's bookkeeping of it.
//!
//! The connection and what its holder reads of it live in a box ([`Entry`]); what the
//! pool reads and writes on every lease and release ([`Meta`]: when it was last
//! released, when it expires, its route, whether it holds a connection and a state)
//! travels by value beside it: in the idle list's node while the entry is idle, in
//! the [`Lease`](crate::Lease) while it is leased. A lease and a release of a
//! connection whose holder does not touch it never touch the box: with thousands of
//! routes, the box of a connection idle since long ago is out of cache, and reading or
//! writing it cost a cache miss per cycle (`pool_many_routes`).

use std::time::{Duration, Instant};

/// One slot of a route. While leased it is owned by the [`Lease`](crate::Lease); while
/// idle, by the pool's idle list. It is never in both places, so it cannot be released
/// twice or handed to two callers.
///
/// It lives in a [`Slot`] box from the slot's creation to its end, so a lease and a
/// release move one pointer, not the whole record.
#[derive(Debug)]
pub(crate) struct Entry<R, C, S> {
    pub(crate) id: u64,
    pub(crate) route: R,
    pub(crate) conn: Option<C>,
    pub(crate) state: Option<S>,
    /// When the connection was assigned (or the slot created).
    pub(crate) created: Instant,
}

/// An entry in its box: what moves between the pool, waiters and leases.
pub(crate) type Slot<R, C, S> = Box<Entry<R, C, S>>;

impl<R, C, S> Entry<R, C, S> {
    /// An empty slot: the lease holder connects and assigns the connection.
    pub(crate) fn new_slot(id: u64, route: R, now: Instant) -> Slot<R, C, S> {
        Box::new(Self {
            id,
            route,
            conn: None,
            state: None,
            created: now,
        })
    }
}

/// A point in time as nanoseconds since the pool's [`Epoch`]: 8 bytes where an
/// `Instant` takes 16, so the bookkeeping of an idle entry fits its node and that of a
/// lease fits the lease.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct Stamp(u64);

impl Stamp {
    /// "Never" as an expiry. No instant maps to it: [`Epoch::stamp`] stops one short.
    pub(crate) const NEVER: Stamp = Stamp(u64::MAX);

    /// A span since the epoch as a stamp (spans of about 584 years and more stop one
    /// short of [`NEVER`](Self::NEVER)).
    #[inline]
    pub(crate) fn from_duration(since: Duration) -> Stamp {
        let nanos = since
            .as_secs()
            .saturating_mul(1_000_000_000)
            .saturating_add(u64::from(since.subsec_nanos()));
        Stamp(nanos.min(u64::MAX - 1))
    }

    /// `self + by`, or [`NEVER`](Self::NEVER) if that is beyond about 584 years (as
    /// `Instant::checked_add` failing meant "no limit").
    #[inline]
    pub(crate) fn after(self, by: Duration) -> Stamp {
        let nanos = u64::try_from(by.as_nanos()).unwrap_or(u64::MAX);
        Stamp(self.0.saturating_add(nanos))
    }

    /// `self - by`, if that is not before the epoch.
    pub(crate) fn before(self, by: Duration) -> Option<Stamp> {
        let nanos = u64::try_from(by.as_nanos()).ok()?;
        self.0.checked_sub(nanos).map(Stamp)
    }

    /// The span from `earlier` to `self` (zero if `earlier` is later).
    #[inline]
    pub(crate) fn since(self, earlier: Stamp) -> Duration {
        Duration::from_nanos(self.0.saturating_sub(earlier.0))
    }

    /// As an expiry: `None` for [`NEVER`](Self::NEVER).
    #[inline]
    pub(crate) fn as_expiry(self) -> Option<Stamp> {
        (self != Self::NEVER).then_some(self)
    }
}

/// The instant stamps count from: the pool's creation, read from its clock.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Epoch(Instant);

impl Epoch {
    pub(crate) fn new(at: Instant) -> Self {
        Self(at)
    }

    /// `at` as a stamp (instants before the epoch count as the epoch itself).
    #[inline]
    pub(crate) fn stamp(self, at: Instant) -> Stamp {
        Stamp::from_duration(at.saturating_duration_since(self.0))
    }

    /// The instant of `stamp` (the last representable one if it is too far ahead).
    pub(crate) fn instant(self, stamp: Stamp) -> Instant {
        let mut by = Duration::from_nanos(stamp.0);
        loop {
            match self.0.checked_add(by) {
                Some(at) => return at,
                None => by /= 2,
            }
        }
    }
}

/// The pool's bookkeeping of a slot, kept by value by whoever holds the slot (the
/// idle list or a lease), never in the slot's box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Meta {
    /// When the connection was last released to the pool (or assigned, or the slot
    /// created).
    pub(crate) updated: Stamp,
    /// When it stops being reusable ([`Stamp::NEVER`]: no limit).
    pub(crate) expiry: Stamp,
    /// The route's index in the pool's route table (valid while the slot is counted
    /// in it, which it is for its whole life).
    pub(crate) ridx: u32,
    /// `entry.conn.is_some()`.
    pub(crate) connected: bool,
    /// `entry.state.is_none()`.
    pub(crate) stateless: bool,
    /// The slot came with a connection that was idle in the pool.
    pub(crate) reused: bool,
    /// Only for a [`Lease`](crate::Lease): see its `meta` field.
    pub(crate) untouched: bool,
}

impl Meta {
    /// A new, empty slot of route `ridx`.
    pub(crate) fn new_slot(ridx: u32, now: Stamp) -> Self {
        Self {
            updated: now,
            expiry: Stamp::NEVER,
            ridx,
            connected: false,
            stateless: true,
            reused: false,
            untouched: false,
        }
    }

    #[inline]
    pub(crate) fn ridx(&self) -> usize {
        self.ridx as usize
    }

    #[inline]
    pub(crate) fn is_expired(&self, now: Stamp) -> bool {
        now >= self.expiry
    }

    /// A fresh connection: its life and time-to-live start now.
    pub(crate) fn assigned(&mut self, now: Stamp, ttl: Option<Duration>) {
        self.updated = now;
        self.expiry = ttl.map_or(Stamp::NEVER, |ttl| now.after(ttl));
        self.connected = true;
    }

    /// Reusable for `valid_for` from `now` (`None`: no keep-alive limit), never past
    /// `ttl_end`.
    #[inline]
    pub(crate) fn mark_valid_for(
        &mut self,
        now: Stamp,
        valid_for: Option<Duration>,
        ttl_end: Stamp,
    ) {
        self.updated = now;
        let keep_alive = valid_for.map_or(Stamp::NEVER, |d| now.after(d));
        self.expiry = keep_alive.min(ttl_end);
    }
}

/// A slot and its bookkeeping, as a served waiter receives it.
#[derive(Debug)]
pub(crate) struct Leased<R, C, S> {
    pub(crate) entry: Slot<R, C, S>,
    pub(crate) meta: Meta,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stamps_round_trip_and_saturate() {
        let t0 = Instant::now();
        let epoch = Epoch::new(t0);
        let t = t0 + Duration::from_millis(1500);
        assert_eq!(epoch.instant(epoch.stamp(t)), t);
        assert_eq!(epoch.stamp(t0), Stamp(0));
        assert_eq!(
            epoch.stamp(t0.checked_sub(Duration::from_secs(1)).unwrap_or(t0)),
            Stamp(0)
        );
        assert_eq!(Stamp(5).after(Duration::MAX), Stamp::NEVER);
        assert_eq!(Stamp(5).before(Duration::from_nanos(6)), None);
        assert_eq!(Stamp(5).before(Duration::from_nanos(5)), Some(Stamp(0)));
        assert_eq!(Stamp::NEVER.as_expiry(), None);
        assert_eq!(Stamp(7).since(Stamp(5)), Duration::from_nanos(2));
        assert_eq!(Stamp(5).since(Stamp(7)), Duration::ZERO);
    }

    #[test]
    fn validity_is_capped_by_the_time_to_live() {
        let mut meta = Meta::new_slot(0, Stamp(0));
        meta.assigned(Stamp(10), Some(Duration::from_nanos(100)));
        assert_eq!(meta.expiry, Stamp(110));
        meta.mark_valid_for(Stamp(50), Some(Duration::from_nanos(20)), Stamp(110));
        assert_eq!((meta.updated, meta.expiry), (Stamp(50), Stamp(70)));
        meta.mark_valid_for(Stamp(60), None, Stamp(110));
        assert_eq!(meta.expiry, Stamp(110));
        meta.mark_valid_for(Stamp(60), None, Stamp::NEVER);
        assert!(!meta.is_expired(Stamp(u64::MAX - 1)));
        assert!(meta.connected);
    }
}
