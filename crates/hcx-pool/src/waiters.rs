//! The pending queue: who waits for a slot, in what order, and how each is woken.
//!
//! This is the only place that wakes anyone. Invariants (checked by
//! `State::check_invariants`):
//! - a waiter is in `queue` exactly while its outcome is `Pending`;
//! - `queue` is ordered by arrival (`seq`), so serving it front to back is FIFO;
//! - a waiter is woken once, when its outcome leaves `Pending`: its own condvar is
//!   notified (no broadcast, no herd) and its async waker, if any, is handed back to be
//!   woken after the pool lock is released.
//!
//! A record stays in the slab after it is completed until its `LeaseRequest` picks up
//! the outcome, so a hand-off that races with a timeout or a cancel is never lost: the
//! request finds the entry in its record and either takes it or gives it back.

use std::collections::BTreeMap;
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
    queue: BTreeMap<u64, usize>,
    next_seq: u64,
}

impl<S, E> Waiters<S, E> {
    pub(crate) fn new() -> Self {
        Self {
            slab: Slab::new(),
            queue: BTreeMap::new(),
            next_seq: 0,
        }
    }

    /// Queues a request at the back.
    pub(crate) fn push(
        &mut self,
        route: usize,
        state: Option<S>,
        since: Instant,
        cv: Arc<Condvar>,
    ) -> Ticket {
        let seq = self.next_seq;
        self.next_seq += 1;
        let key = self.slab.insert(Waiter {
            seq,
            route,
            state,
            since,
            outcome: Outcome::Pending,
            cv,
            waker: None,
        });
        self.queue.insert(seq, key);
        Ticket { key, seq }
    }

    pub(crate) fn pending_len(&self) -> usize {
        self.queue.len()
    }

    /// The oldest pending waiter after arrival number `after` (`None`: from the front).
    pub(crate) fn next_pending(&self, after: Option<u64>) -> Option<Ticket> {
        let mut range = match after {
            None => self.queue.range(..),
            Some(seq) => self.queue.range(seq + 1..),
        };
        range.next().map(|(&seq, &key)| Ticket { key, seq })
    }

    pub(crate) fn get(&self, ticket: Ticket) -> Option<&Waiter<S, E>> {
        self.slab.get(ticket.key).filter(|w| w.seq == ticket.seq)
    }

    /// Ends a pending wait with `outcome` and wakes the waiter. Returns its async waker,
    /// to be woken once the pool lock is released.
    pub(crate) fn complete(&mut self, ticket: Ticket, outcome: Outcome<E>) -> Option<Waker> {
        let waiter = &mut self.slab[ticket.key];
        debug_assert!(matches!(waiter.outcome, Outcome::Pending));
        self.queue.remove(&waiter.seq);
        waiter.outcome = outcome;
        waiter.cv.notify_one();
        waiter.waker.take()
    }

    /// The condvar a blocking waiter sleeps on.
    pub(crate) fn condvar(&self, ticket: Ticket) -> Option<Arc<Condvar>> {
        self.get(ticket).map(|w| Arc::clone(&w.cv))
    }

    /// Remembers the async waker to wake when the outcome is decided.
    pub(crate) fn set_waker(&mut self, ticket: Ticket, waker: &Waker) {
        if let Some(w) = self
            .slab
            .get_mut(ticket.key)
            .filter(|w| w.seq == ticket.seq)
        {
            match &w.waker {
                Some(old) if old.will_wake(waker) => {}
                _ => w.waker = Some(waker.clone()),
            }
        }
    }

    /// Removes the record for good (the request picked up its outcome or gave up).
    pub(crate) fn remove(&mut self, ticket: Ticket) -> Option<Waiter<S, E>> {
        self.get(ticket)?;
        let waiter = self.slab.remove(ticket.key);
        if matches!(waiter.outcome, Outcome::Pending) {
            self.queue.remove(&waiter.seq);
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

    /// Pending waiters, oldest first.
    pub(crate) fn pending(&self) -> impl Iterator<Item = &Waiter<S, E>> {
        self.queue.values().map(|&key| &self.slab[key])
    }
}
