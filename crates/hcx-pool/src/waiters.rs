//! Waiting requests: their records in the pool, and the mailbox each is answered in.
//!
//! The queue itself is per route (`RouteState::queue`, ordered by arrival) plus the
//! pool-wide index of route heads that could take a new slot (`Core::ready`); see
//! `state.rs` for why that is enough to serve in FIFO order in O(served). This module
//! keeps the records. Invariants (checked by `State::check_invariants`):
//! - a record exists exactly while its request is pending, and is in its route's queue;
//! - a request is answered once: the pool removes the record, puts the outcome in the
//!   request's [`Mailbox`] and, after the pool lock is released, wakes the one waker
//!   the request left there (no broadcast, no herd).
//!
//! The mailbox is shared by the pool and the request and has a lock of its own, so a
//! woken request picks its outcome up without touching the pool lock: under contention
//! the woken thread does not queue behind the threads that are leasing and releasing.
//! Lock order: the pool lock, then a mailbox lock; never the other way round.
//!
//! A served outcome stays in the mailbox until the request picks it up, so a hand-off
//! that races with a timeout, a drop or a cancel is never lost: whoever gives up takes
//! the pool lock, finds the entry in the mailbox, and gives it back.

use std::sync::Arc;
use std::task::Waker;
use std::time::Instant;

use slab::Slab;

use crate::LeaseError;
use crate::sync::Mutex;

/// What a mailbox holds.
#[derive(Debug)]
pub(crate) enum Outcome<E> {
    /// Not answered yet: the request is still in the pool's queue.
    Pending,
    /// Served with this entry (a reused connection or an empty slot), counted as leased.
    Served(E),
    Failed(LeaseError),
    /// The request took its outcome.
    Taken,
}

/// Where one waiting request is answered.
#[derive(Debug)]
pub(crate) struct Mailbox<E> {
    /// The request's record in the pool while it is pending.
    pub(crate) ticket: Ticket,
    /// The request's route (its index in the pool's route table).
    pub(crate) route: usize,
    /// When the request started waiting.
    pub(crate) since: Instant,
    letter: Mutex<Letter<E>>,
}

#[derive(Debug)]
struct Letter<E> {
    outcome: Outcome<E>,
    /// Woken once when the outcome arrives: a thread's unparker or an async task's.
    waker: Option<Waker>,
}

/// An outcome a request has taken out of its mailbox.
pub(crate) type Answer<E> = Result<E, LeaseError>;

impl<E> Mailbox<E> {
    fn new(ticket: Ticket, route: usize, since: Instant) -> Self {
        Self {
            ticket,
            route,
            since,
            letter: Mutex::new(Letter {
                outcome: Outcome::Pending,
                waker: None,
            }),
        }
    }

    /// The pool answers (pool lock held). Returns the waker to wake once the pool lock
    /// is released.
    pub(crate) fn deliver(&self, outcome: Outcome<E>) -> Option<Waker> {
        let mut letter = self.letter.lock();
        letter.outcome = outcome;
        letter.waker.take()
    }

    /// The request's side, without the pool lock: takes the answer if there is one,
    /// otherwise leaves `waker` (if given) to be woken when it comes. Also returns the
    /// waker it replaced, to be dropped by the caller after this returns.
    pub(crate) fn take_or_register(
        &self,
        waker: Option<&Waker>,
    ) -> (Option<Answer<E>>, Option<Waker>) {
        let mut letter = self.letter.lock();
        match std::mem::replace(&mut letter.outcome, Outcome::Taken) {
            Outcome::Served(entry) => (Some(Ok(entry)), None),
            Outcome::Failed(err) => (Some(Err(err)), None),
            Outcome::Pending => {
                letter.outcome = Outcome::Pending;
                let old = match waker {
                    Some(w) if !letter.waker.as_ref().is_some_and(|o| o.will_wake(w)) => {
                        letter.waker.replace(w.clone())
                    }
                    _ => None,
                };
                (None, old)
            }
            // Taken twice cannot happen: a request takes its answer once and is done.
            Outcome::Taken => (None, None),
        }
    }

    /// Runs `f` on the outcome under the mailbox lock (the pool lock held too), for a
    /// request that is cancelled.
    pub(crate) fn with_outcome<T>(&self, f: impl FnOnce(&mut Outcome<E>) -> T) -> T {
        f(&mut self.letter.lock().outcome)
    }

    /// The request gives up (the pool lock held): takes whatever the mailbox holds and
    /// leaves it `Taken`, so that a cancel arriving later finds nothing to cancel.
    /// `Pending` means the request was still queued: the caller takes it off its queue.
    /// Keeps "`Pending` exactly while the pool holds a record" true.
    pub(crate) fn give_up(&self) -> Outcome<E> {
        std::mem::replace(&mut self.letter.lock().outcome, Outcome::Taken)
    }

    /// Takes the waker out, to wake after the pool lock is released.
    pub(crate) fn take_waker(&self) -> Option<Waker> {
        self.letter.lock().waker.take()
    }

    /// `true` while the request has no answer.
    pub(crate) fn is_pending(&self) -> bool {
        matches!(self.letter.lock().outcome, Outcome::Pending)
    }
}

/// No waiter: the end of a queue.
const NIL: u32 = u32::MAX;

/// One route's queue of waiting requests, oldest first: its ends, its length and the
/// head's arrival number. It lives in the route's state and threads through the
/// waiter records, so joining, leaving from anywhere (a timeout, a cancel) and being
/// served are O(1) and allocate nothing.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Queue {
    head: u32,
    tail: u32,
    len: u32,
    head_seq: u64,
}

impl Default for Queue {
    fn default() -> Self {
        Self {
            head: NIL,
            tail: NIL,
            len: 0,
            head_seq: 0,
        }
    }
}

impl Queue {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The oldest waiter, if any.
    #[inline]
    pub(crate) fn head(&self) -> Option<Ticket> {
        (self.head != NIL).then_some(Ticket {
            key: self.head as usize,
            seq: self.head_seq,
        })
    }
}

/// The pool's record of a pending request.
#[derive(Debug)]
pub(crate) struct Waiter<S, E> {
    pub(crate) seq: u64,
    pub(crate) state: Option<S>,
    pub(crate) mailbox: Arc<Mailbox<E>>,
    older: u32,
    newer: u32,
}

impl<S, E> Waiter<S, E> {
    pub(crate) fn route(&self) -> usize {
        self.mailbox.route
    }
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
}

impl<S, E> Waiters<S, E> {
    pub(crate) fn new() -> Self {
        Self {
            slab: Slab::new(),
            next_seq: 0,
        }
    }

    /// Records a new pending request at the back of its route's `queue`.
    pub(crate) fn push(
        &mut self,
        queue: &mut Queue,
        route: usize,
        state: Option<S>,
        since: Instant,
    ) -> Arc<Mailbox<E>> {
        let seq = self.next_seq;
        self.next_seq += 1;
        let entry = self.slab.vacant_entry();
        let key = entry.key();
        debug_assert!(key < NIL as usize);
        let ticket = Ticket { key, seq };
        let mailbox = Arc::new(Mailbox::new(ticket, route, since));
        entry.insert(Waiter {
            seq,
            state,
            mailbox: Arc::clone(&mailbox),
            older: queue.tail,
            newer: NIL,
        });
        match queue.tail {
            NIL => {
                queue.head = key as u32;
                queue.head_seq = seq;
            }
            tail => self.slab[tail as usize].newer = key as u32,
        }
        queue.tail = key as u32;
        queue.len += 1;
        mailbox
    }

    /// Requests still waiting.
    pub(crate) fn pending_len(&self) -> usize {
        self.slab.len()
    }

    pub(crate) fn get(&self, ticket: Ticket) -> Option<&Waiter<S, E>> {
        self.slab.get(ticket.key).filter(|w| w.seq == ticket.seq)
    }

    /// Answers a pending request: takes it off its route's `queue`, removes its record
    /// and puts `outcome` in its mailbox. Returns its waker, to be woken once the pool
    /// lock is released.
    pub(crate) fn complete(
        &mut self,
        queue: &mut Queue,
        ticket: Ticket,
        outcome: Outcome<E>,
    ) -> Option<Waker> {
        let waiter = self.remove(queue, ticket)?;
        waiter.mailbox.deliver(outcome)
    }

    /// Takes a pending request off its route's `queue` and removes its record.
    pub(crate) fn remove(&mut self, queue: &mut Queue, ticket: Ticket) -> Option<Waiter<S, E>> {
        self.get(ticket)?;
        let waiter = self.slab.remove(ticket.key);
        match waiter.older {
            NIL => {
                queue.head = waiter.newer;
                if waiter.newer != NIL {
                    queue.head_seq = self.slab[waiter.newer as usize].seq;
                }
            }
            k => self.slab[k as usize].newer = waiter.newer,
        }
        match waiter.newer {
            NIL => queue.tail = waiter.older,
            k => self.slab[k as usize].older = waiter.older,
        }
        queue.len -= 1;
        Some(waiter)
    }

    /// Walks one route's `queue` both ways and checks its links, length, head arrival
    /// number and arrival order. Returns its waiters, oldest first.
    pub(crate) fn check_queue(&self, queue: &Queue) -> Result<Vec<Ticket>, String> {
        let walk = |start: u32, next: fn(&Waiter<S, E>) -> u32| {
            let mut out = Vec::new();
            let mut cur = start;
            while cur != NIL {
                let w = self
                    .slab
                    .get(cur as usize)
                    .ok_or_else(|| format!("queue links to a missing waiter {cur}"))?;
                out.push(Ticket {
                    key: cur as usize,
                    seq: w.seq,
                });
                if out.len() > self.slab.len() {
                    return Err("queue links loop".to_string());
                }
                cur = next(w);
            }
            Ok::<_, String>(out)
        };
        let forward = walk(queue.head, |w| w.newer)?;
        let mut backward = walk(queue.tail, |w| w.older)?;
        backward.reverse();
        if forward != backward || forward.len() != queue.len() {
            return Err(format!(
                "queue walks disagree: {} forward, {} backward, {} counted",
                forward.len(),
                backward.len(),
                queue.len()
            ));
        }
        if forward.first().is_some_and(|t| t.seq != queue.head_seq) {
            return Err("queue's head arrival number is stale".to_string());
        }
        if forward.windows(2).any(|w| w[0].seq >= w[1].seq) {
            return Err("queue is out of arrival order".to_string());
        }
        Ok(forward)
    }

    /// Every record, for shutdown and the invariant check.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (Ticket, &Waiter<S, E>)> {
        self.slab
            .iter()
            .map(|(key, w)| (Ticket { key, seq: w.seq }, w))
    }
}
