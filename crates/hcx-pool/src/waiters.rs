//! Waiting requests: their records, and how each is woken.
//!
//! The queue itself is per route (`RouteState::queue`, ordered by arrival) plus the
//! pool-wide index of route heads that could take a new slot (`Core::ready`); see
//! `state.rs` for why that is enough to serve in FIFO order in O(served). This module
//! keeps the records. Invariants (checked by `State::check_invariants`):
//! - a record is in its route's queue exactly while its outcome is `Pending`;
//! - a waiter is woken once, when its outcome leaves `Pending`: its own condvar is
//!   notified (no broadcast, no herd) and its async waker, if any, is handed back to be
//!   woken after the pool lock is released.
//!
//! A record stays after it is completed until its `LeaseRequest` picks up the outcome,
//! so a hand-off that races with a timeout or a cancel is never lost: the request finds
//! the entry in its record and either takes it or gives it back.

use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

use slab::Slab;

use crate::LeaseError;
use crate::sync::Condvar;

/// Where a waiting request stands.
#[derive(Debug)]
pub(crate) enum Outcome<E> {
    Pending,
    /// Served with this entry (a reused connection or an empty slot), counted as leased.
    Served(E),
    Failed(LeaseError),
}

#[derive(Debug)]
pub(crate) struct Waiter<S, E> {
    pub(crate) seq: u64,
    pub(crate) route: usize,
    pub(crate) state: Option<S>,
    pub(crate) since: Instant,
    pub(crate) outcome: Outcome<E>,
    cv: Arc<Condvar>,
    waker: Option<Waker>,
}

/// Identifies one waiter: the slab key plus its arrival number, so that a stale
/// handle never touches a later waiter that reuses the key.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Ticket {
    pub(crate) key: usize,
    pub(crate) seq: u64,
}

#[derive(Debug)]
pub(crate) struct Waiters<S, E> {
    slab: Slab<Waiter<S, E>>,
    next_seq: u64,
    pending: usize,
}

impl<S, E> Waiters<S, E> {
    pub(crate) fn new() -> Self {
        Self {
            slab: Slab::new(),
            next_seq: 0,
            pending: 0,
        }
    }

    /// Records a new pending request. The caller queues the ticket on its route.
    pub(crate) fn push(&mut self, route: usize, state: Option<S>, since: Instant) -> Ticket {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = self.slab.insert(Waiter {
            seq,
            route,
            state,
            since,
            outcome: Outcome::Pending,
            cv: Arc::new(Condvar::new()),
            waker: None,
        });
        self.pending += 1;
        Ticket { key, seq }
    }

    /// Requests still waiting.
    pub(crate) fn pending_len(&self) -> usize {
        self.pending
    }

    pub(crate) fn get(&self, ticket: Ticket) -> Option<&Waiter<S, E>> {
        self.slab.get(ticket.key).filter(|w| w.seq == ticket.seq)
    }

    /// Ends a pending wait with `outcome` and wakes the waiter. The caller has taken
    /// it off its route's queue. Returns its async waker, to be woken once the pool
    /// lock is released.
    pub(crate) fn complete(&mut self, ticket: Ticket, outcome: Outcome<E>) -> Option<Waker> {
        let waiter = self
            .slab
            .get_mut(ticket.key)
            .filter(|w| w.seq == ticket.seq)?;
        debug_assert!(matches!(waiter.outcome, Outcome::Pending));
        self.pending -= 1;
        waiter.outcome = outcome;
        waiter.cv.notify_one();
        waiter.waker.take()
    }

    /// The condvar a blocking waiter sleeps on.
    pub(crate) fn condvar(&self, ticket: Ticket) -> Option<Arc<Condvar>> {
        self.get(ticket).map(|w| Arc::clone(&w.cv))
    }

    /// Remembers the async waker to wake when the outcome is decided. Returns the one
    /// it replaces, to be dropped after the lock is released (a waker is user code).
    pub(crate) fn set_waker(&mut self, ticket: Ticket, waker: Waker) -> Option<Waker> {
        let w = self
            .slab
            .get_mut(ticket.key)
            .filter(|w| w.seq == ticket.seq)?;
        w.waker.replace(waker)
    }

    /// Removes the record for good (the request picked up its outcome or gave up). The
    /// caller takes a pending one off its route's queue.
    pub(crate) fn remove(&mut self, ticket: Ticket) -> Option<Waiter<S, E>> {
        self.get(ticket)?;
        let waiter = self.slab.remove(ticket.key);
        if matches!(waiter.outcome, Outcome::Pending) {
            self.pending -= 1;
        }
        Some(waiter)
    }

    /// Tickets of every record whose outcome is `Served`, for shutdown.
    pub(crate) fn served(&self) -> Vec<Ticket> {
        self.slab
            .iter()
            .filter(|(_, w)| matches!(w.outcome, Outcome::Served(_)))
            .map(|(key, w)| Ticket { key, seq: w.seq })
            .collect()
    }

    /// Replaces the outcome of a completed record.
    pub(crate) fn replace_outcome(
        &mut self,
        ticket: Ticket,
        outcome: Outcome<E>,
    ) -> Option<Outcome<E>> {
        let w = self
            .slab
            .get_mut(ticket.key)
            .filter(|w| w.seq == ticket.seq)?;
        debug_assert!(!matches!(w.outcome, Outcome::Pending));
        let old = std::mem::replace(&mut w.outcome, outcome);
        w.cv.notify_one();
        Some(old)
    }

    /// Every record, for the invariant check.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Ticket, &Waiter<S, E>)> {
        self.slab
            .iter()
            .map(|(key, w)| (Ticket { key, seq: w.seq }, w))
    }
}
