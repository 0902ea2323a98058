//! Everything behind the pool lock, and every rule of the pool in one place.
//!
//! Invariants, true whenever the lock is free (`check_invariants` verifies them):
//! 1. per route and in total, `leased + idle <= limit`, except that lowering a limit
//!    never takes back leased slots (the surplus is trimmed as it comes back);
//! 2. an entry is in exactly one place: idle in `idle`, inside a `Lease`, or in a
//!    served request's mailbox (counted as leased);
//! 3. no pending waiter could be served right now. Every change that could serve one
//!    (a release, a slot freed, a raised limit) runs `serve_waiters` before the lock is
//!    released, which serves the oldest servable waiter until none is left. So a
//!    newcomer can only take what no earlier waiter can use: no barging, FIFO among
//!    those a resource fits;
//! 4. a route with nothing leased, idle or pending is not in the table.
//!
//! Serving in O(served), not O(waiting): within a route only the oldest waiter (the
//! head) matters. If the route has an idle connection its head can always be served
//! (it matches, or it closes that connection for a new slot, since the route and the
//! pool are within their limits); if the head cannot be served, no later waiter of the
//! route can. And after the trims, a route that holds an idle connection is within its
//! limit and the pool within its own. So the oldest servable waiter is always the
//! oldest head among routes with room for a new slot (`Core::ready`, an ordered index
//! kept up to date by `Core::refresh`), as long as the pool has room.
//!
//! Nothing here closes a connection or wakes a task: those are queued in [`Deferred`]
//! and done by the caller after the lock is released.

use std::collections::{BTreeMap, HashMap, VecDeque};
use std::sync::Arc;
use std::task::Waker;
use std::time::{Duration, Instant};

use crate::CloseReason;
use crate::RouteKey;
use crate::clock::TimeSource;
use crate::config::ReusePolicy;
use crate::entry::{Entry, Epoch, Leased, Meta, Slot, Stamp};
use crate::error::{LeaseError, LeaseFailure};
use crate::idle::IdleList;
use crate::route::Routes;
use crate::stats::PoolStats;
use crate::waiters::{Mailbox, Outcome, Ticket, Waiters};
use hcx_close::CloseCounts;

/// No route: for trims that have no route to protect.
const NO_ROUTE: usize = usize::MAX;

/// Work that must wait until the pool lock is released: waking waiters (a waker may
/// run arbitrary code, and waking a thread is a system call) and closing connections
/// (they may do I/O). One wake-up, the common case of a hand-off, and one close, the
/// common case of a release after `Connection: close`, are kept inline; the rest is
/// allocated only when there is some, so the common lease and release pay nothing for
/// it.
///
/// A served waiter must never miss its wake-up, even if user code panics under the
/// lock after the hand-off (a route key's `Clone` or `Debug`) or a waker panics while
/// the list is run: dropping the list wakes whatever it still holds.
#[derive(Debug)]
pub(crate) struct Deferred<C> {
    wake_first: Option<Waker>,
    close_first: Option<(C, CloseReason)>,
    work: Option<Box<Work<C>>>,
}

/// Run front to back, each item taken out before it runs.
#[derive(Debug)]
pub(crate) struct Work<C> {
    closings: VecDeque<(C, CloseReason)>,
    wakers: VecDeque<Waker>,
    /// Connections that went back idle unused (rare): the earliest last use and
    /// expiry among them, for [`PoolBuilder::on_returned_unused`](crate::PoolBuilder::on_returned_unused).
    unused: Option<(Stamp, Stamp)>,
}

impl<C> Deferred<C> {
    pub(crate) fn new() -> Self {
        Self {
            wake_first: None,
            close_first: None,
            work: None,
        }
    }

    fn work(&mut self) -> &mut Work<C> {
        self.work.get_or_insert_with(|| {
            Box::new(Work {
                closings: VecDeque::new(),
                wakers: VecDeque::new(),
                unused: None,
            })
        })
    }

    /// A connection went back idle unused, last used at `updated`, expiring at
    /// `expiry` (`Stamp::NEVER`: no expiry).
    fn returned_unused(&mut self, updated: Stamp, expiry: Stamp) {
        let work = self.work();
        work.unused = Some(match work.unused {
            None => (updated, expiry),
            Some((u, e)) => (u.min(updated), e.min(expiry)),
        });
    }

    /// What [`returned_unused`](Self::returned_unused) gathered, taken out.
    pub(crate) fn take_unused(&mut self) -> Option<(Stamp, Stamp)> {
        self.work.as_mut()?.unused.take()
    }

    pub(crate) fn close(&mut self, conn: C, reason: CloseReason) {
        if self.close_first.is_none() && self.work.is_none() {
            self.close_first = Some((conn, reason));
        } else {
            self.work().closings.push_back((conn, reason));
        }
    }

    #[inline]
    pub(crate) fn wake(&mut self, waker: Option<Waker>) {
        if let Some(waker) = waker {
            if self.wake_first.is_none() {
                self.wake_first = Some(waker);
            } else {
                self.work().wakers.push_back(waker);
            }
        }
    }

    /// `true` if there is nothing to do after unlock.
    #[inline]
    pub(crate) fn is_empty(&self) -> bool {
        self.wake_first.is_none() && self.close_first.is_none() && self.work.is_none()
    }

    /// Wakes every waiter, in the order they were served.
    fn wake_all(&mut self) {
        if let Some(waker) = self.wake_first.take() {
            waker.wake();
        }
        if let Some(work) = self.work.as_mut() {
            while let Some(waker) = work.wakers.pop_front() {
                waker.wake();
            }
        }
    }

    /// Wakes the waiters, then closes the connections with `dispose`. Each item is
    /// taken out before it runs, so a panic leaves the rest to `Drop`.
    pub(crate) fn run(&mut self, mut dispose: impl FnMut(C, CloseReason)) {
        self.wake_all();
        if let Some((conn, reason)) = self.close_first.take() {
            dispose(conn, reason);
        }
        if let Some(work) = self.work.as_mut() {
            while let Some((conn, reason)) = work.closings.pop_front() {
                dispose(conn, reason);
            }
        }
        self.work = None;
    }
}

impl<C> Drop for Deferred<C> {
    /// Only reached with work left when something panicked: wake the waiters anyway
    /// (connections left are closed by being dropped).
    fn drop(&mut self) {
        self.wake_all();
    }
}

/// The clock, read at most once per locked section and only if a rule needs it.
pub(crate) struct Now<'a> {
    clock: &'a TimeSource,
    epoch: Epoch,
    at: Option<Stamp>,
}

impl<'a> Now<'a> {
    #[inline]
    pub(crate) fn lazy(clock: &'a TimeSource, epoch: Epoch) -> Self {
        Self {
            clock,
            epoch,
            at: None,
        }
    }

    /// A clock already read (outside the lock).
    #[inline]
    pub(crate) fn read(clock: &'a TimeSource, epoch: Epoch) -> Self {
        Self {
            clock,
            epoch,
            at: Some(clock.stamp(epoch)),
        }
    }

    #[inline]
    pub(crate) fn get(&mut self) -> Stamp {
        *self.at.get_or_insert_with(|| self.clock.stamp(self.epoch))
    }

    /// The same moment as an `Instant`.
    pub(crate) fn instant(&mut self) -> Instant {
        let at = self.get();
        self.epoch.instant(at)
    }
}

/// How a slot comes back.
#[derive(Debug, Clone, Copy)]
pub(crate) enum GiveBack {
    /// Released reusable, valid for this long (`None`: no keep-alive limit).
    Reusable(Option<Duration>),
    /// Returned unused by a request that gave up after being served: as it was.
    Untouched,
    /// Released not reusable, discarded, or the lease was dropped: closed for this
    /// reason.
    Discard(CloseReason),
}

/// Why a lease request was not served at once.
pub(crate) enum NotNow<E> {
    Queued(Arc<Mailbox<E>>),
    Failed(LeaseError),
}

pub(crate) struct State<R, C, S> {
    pub(crate) core: Core<R, C, S>,
    pub(crate) waiters: Waiters<S, Leased<R, C, S>>,
}

pub(crate) struct Core<R, C, S> {
    pub(crate) max_total: usize,
    pub(crate) default_max: usize,
    overrides: HashMap<R, usize>,
    routes: Routes<R>,
    idle: IdleList<Slot<R, C, S>>,
    /// Slots lent out in all routes.
    leased: usize,
    pub(crate) shutdown: bool,
    pub(crate) closed: CloseCounts,
    /// Leases that found idle connections on their route, none of them in the state
    /// asked for (nor stateless), and so could not reuse one.
    pub(crate) state_mismatches: u64,
    next_id: u64,
    /// No idle entry expires before this (a lower bound; `None`: none expires).
    earliest_expiry: Option<Stamp>,
    /// What stamps count from.
    epoch: Epoch,
    policy: ReusePolicy,
    /// Time-to-live of a connection from its assignment (`None`: unlimited).
    pub(crate) ttl: Option<Duration>,
    /// Heads of routes that have waiters and room for a new slot, by arrival number.
    ready: BTreeMap<u64, usize>,
}

impl<R: RouteKey, C, S: PartialEq> State<R, C, S> {
    pub(crate) fn new(
        max_total: usize,
        default_max: usize,
        policy: ReusePolicy,
        ttl: Option<Duration>,
        epoch: Epoch,
    ) -> Self {
        Self {
            core: Core {
                max_total,
                default_max,
                overrides: HashMap::new(),
                routes: Routes::new(),
                idle: IdleList::new(),
                leased: 0,
                shutdown: false,
                closed: CloseCounts::default(),
                state_mismatches: 0,
                next_id: 0,
                earliest_expiry: None,
                epoch,
                policy,
                ttl,
                ready: BTreeMap::new(),
            },
            waiters: Waiters::new(),
        }
    }

    /// Serves a request at once, or queues it (or refuses it) and says so in
    /// `not_now`.
    ///
    /// The served slot is the whole return value (an enum of the three outcomes went
    /// through the stack and cost a store-forwarding stall on every lease; see
    /// `docs/benchmarks.md`).
    #[inline]
    pub(crate) fn lease(
        &mut self,
        route: &R,
        want: Option<S>,
        now: &mut Now<'_>,
        out: &mut Deferred<C>,
        not_now: &mut Option<NotNow<Leased<R, C, S>>>,
    ) -> Option<Leased<R, C, S>> {
        let core = &mut self.core;
        if core.shutdown {
            let err = LeaseError::Shutdown(self.failure_for(route));
            *not_now = Some(NotNow::Failed(err));
            return None;
        }
        core.purge_if_due(now, NO_ROUTE, out);
        let overrides = &core.overrides;
        let ridx = core
            .routes
            .find_or_insert(route, || overrides.get(route).copied());
        let leased = core.try_allocate(ridx, &want, now, out);
        if leased.is_none() {
            let queue = &mut core.routes[ridx].queue;
            let mailbox = self.waiters.push(queue, ridx, want, Instant::now());
            core.refresh(ridx);
            *not_now = Some(NotNow::Queued(mailbox));
        }
        leased
    }

    /// Takes a slot back from a lease or a request that gave up.
    #[inline]
    pub(crate) fn give_back(
        &mut self,
        mut entry: Slot<R, C, S>,
        mut meta: Meta,
        how: GiveBack,
        now: &mut Now<'_>,
        out: &mut Deferred<C>,
    ) {
        let ridx = meta.ridx();
        let core = &mut self.core;
        // One look-up of the route for its count and, if the connection stays, its
        // idle list.
        let route = &mut core.routes[ridx];
        route.leased -= 1;
        core.leased -= 1;
        if meta.connected {
            let mut reason = match how {
                // Closed for its own reason whether or not the pool is shut down: a
                // shutdown closes what would have been kept, and says so.
                GiveBack::Discard(reason) => Some(reason),
                _ if core.shutdown => Some(CloseReason::Shutdown),
                GiveBack::Reusable(valid_for) => {
                    // The time-to-live needs the box (`created`); only pools with one
                    // read it here.
                    let ttl_end = core.ttl.map_or(Stamp::NEVER, |ttl| {
                        core.epoch.stamp(entry.created).after(ttl)
                    });
                    meta.mark_valid_for(now.get(), valid_for, ttl_end);
                    None
                }
                GiveBack::Untouched => None,
            };
            if reason.is_none() && meta.expiry != Stamp::NEVER && meta.is_expired(now.get()) {
                reason = Some(CloseReason::Expired);
            }
            match reason {
                Some(reason) => {
                    if let Some(conn) = entry.conn.take() {
                        core.close(conn, reason, out);
                    }
                }
                None => {
                    if matches!(how, GiveBack::Untouched) {
                        out.returned_unused(meta.updated, meta.expiry);
                    }
                    if let Some(at) = meta.expiry.as_expiry() {
                        core.earliest_expiry = Some(core.earliest_expiry.map_or(at, |e| e.min(at)));
                    }
                    core.idle.push_newest(&mut route.idle, entry, meta);
                }
            }
        }
        if !core.shutdown {
            core.purge_if_due(now, ridx, out);
            core.trim_route(ridx, out);
            core.trim_total(ridx, out);
            core.refresh(ridx);
            if self.waiters.pending_len() > 0 {
                self.serve_waiters(now, out);
            }
        }
        self.core.routes.remove_if_unused(ridx);
    }

    /// Serves the oldest servable waiter while there is one. Only heads listed in
    /// `ready` qualify: a route holding an idle connection after the trims is within
    /// both limits, so its head is listed too.
    pub(crate) fn serve_waiters(&mut self, now: &mut Now<'_>, out: &mut Deferred<C>) {
        let State { core, waiters } = self;
        while core.leased < core.max_total {
            let Some((_, &ridx)) = core.ready.first_key_value() else {
                break;
            };
            let Some(ticket) = core.routes[ridx].queue.head() else {
                break;
            };
            let Some(waiter) = waiters.get(ticket) else {
                break;
            };
            let Some(leased) = core.try_allocate(ridx, &waiter.state, now, out) else {
                debug_assert!(false, "a ready head could not be served");
                break;
            };
            let queue = &mut core.routes[ridx].queue;
            out.wake(waiters.complete(queue, ticket, Outcome::Served(leased)));
            core.refresh(ridx);
        }
    }

    /// A served connection expired before its request picked it up: it is closed and
    /// the request gets the slot empty.
    pub(crate) fn expired_before_pick_up(
        &mut self,
        leased: &mut Leased<R, C, S>,
        now: &mut Now<'_>,
        out: &mut Deferred<C>,
    ) {
        if let Some(conn) = leased.entry.conn.take() {
            self.core.close(conn, CloseReason::Expired, out);
        }
        emptied(&mut leased.entry, &mut leased.meta, now);
    }

    /// A holder closes its connection for `reason` and keeps the slot: it takes the
    /// route's next idle connection for `want`, found as a lease finds one, or keeps
    /// the slot empty for a new connection. The slot does not change hands, so the
    /// counts stay and no waiter is passed over or served: an idle connection left on
    /// the route is one none of its waiters could use (there are none: invariant 3).
    pub(crate) fn discard_connection(
        &mut self,
        entry: &mut Slot<R, C, S>,
        meta: &mut Meta,
        reason: CloseReason,
        want: &Option<S>,
        now: &mut Now<'_>,
        out: &mut Deferred<C>,
    ) {
        let core = &mut self.core;
        if let Some(conn) = entry.conn.take() {
            core.close(conn, reason, out);
        }
        let ridx = meta.ridx();
        match core.find_idle(ridx, want, now, out) {
            Some(key) => {
                let (next, mut next_meta) = core.idle.remove(&mut core.routes[ridx].idle, key);
                next_meta.reused = true;
                *entry = next;
                *meta = next_meta;
            }
            None => emptied(entry, meta, now),
        }
    }

    /// Takes a pending waiter off its route's queue and drops its record.
    fn dequeue(&mut self, ridx: usize, ticket: Ticket) {
        let queue = &mut self.core.routes[ridx].queue;
        if self.waiters.remove(queue, ticket).is_some() {
            self.core.refresh(ridx);
            self.core.routes.remove_if_unused(ridx);
        }
    }

    /// A waiting request's deadline passed. It still gets what it was served at that
    /// very moment, or the failure it was given; otherwise it leaves the queue and times
    /// out.
    pub(crate) fn time_out(
        &mut self,
        mailbox: &Mailbox<Leased<R, C, S>>,
    ) -> Result<Leased<R, C, S>, LeaseError> {
        // Still queued (the record exists exactly while the mailbox is pending): the
        // failure is described first, while the counts are the ones it saw and before
        // anything changes, in case the route key's `Debug` panics.
        if self.waiters.get(mailbox.ticket).is_some() {
            let err = LeaseError::Timeout(self.failure(mailbox.route, mailbox.since));
            mailbox.give_up();
            self.dequeue(mailbox.route, mailbox.ticket);
            return Err(err);
        }
        match mailbox.give_up() {
            Outcome::Served(entry) => Ok(entry),
            Outcome::Failed(err) => Err(err),
            // Only the request itself takes from its mailbox, and it is here.
            Outcome::Pending | Outcome::Taken => {
                Err(LeaseError::Cancelled(LeaseFailure::completed()))
            }
        }
    }

    /// A request gives up without looking (it was dropped): it leaves the queue, or
    /// gives back untouched what it was served and never picked up.
    pub(crate) fn abandon(
        &mut self,
        mailbox: &Mailbox<Leased<R, C, S>>,
        now: &mut Now<'_>,
        out: &mut Deferred<C>,
    ) {
        match mailbox.give_up() {
            Outcome::Pending => self.dequeue(mailbox.route, mailbox.ticket),
            Outcome::Served(leased) => {
                self.give_back(leased.entry, leased.meta, GiveBack::Untouched, now, out);
            }
            Outcome::Failed(_) | Outcome::Taken => {}
        }
    }

    /// Cancels a waiting request from elsewhere. `true` if it was still waiting or had
    /// been served without picking the slot up (the slot goes back to the pool).
    pub(crate) fn cancel(
        &mut self,
        mailbox: &Mailbox<Leased<R, C, S>>,
        now: &mut Now<'_>,
        out: &mut Deferred<C>,
    ) -> bool {
        let ridx = mailbox.route;
        // A mailbox is `Pending` exactly while the pool holds the request's record (a
        // request that gives up leaves it `Taken`), so the route is still there.
        debug_assert_eq!(
            self.waiters.get(mailbox.ticket).is_some(),
            mailbox.is_pending()
        );
        // Described before anything changes: the counts the request saw.
        let err = || LeaseError::Cancelled(self.failure(ridx, mailbox.since));
        let cancelled = mailbox.with_outcome(|outcome| match outcome {
            Outcome::Pending | Outcome::Served(_) => {
                Some(std::mem::replace(outcome, Outcome::Failed(err())))
            }
            Outcome::Failed(_) | Outcome::Taken => None,
        });
        match cancelled {
            Some(Outcome::Pending) => self.dequeue(mailbox.route, mailbox.ticket),
            Some(Outcome::Served(leased)) => {
                self.give_back(leased.entry, leased.meta, GiveBack::Untouched, now, out);
            }
            Some(_) | None => return false,
        }
        out.wake(mailbox.take_waker());
        true
    }

    /// Applies changed limits: trims idle surplus, serves whoever a raise lets in.
    pub(crate) fn limits_changed(&mut self, now: &mut Now<'_>, out: &mut Deferred<C>) {
        let core = &mut self.core;
        let routes: Vec<usize> = core.routes.iter().map(|(idx, _)| idx).collect();
        for &ridx in &routes {
            core.trim_route(ridx, out);
            core.refresh(ridx);
        }
        core.trim_total(NO_ROUTE, out);
        if !core.shutdown {
            self.serve_waiters(now, out);
        }
        for ridx in routes {
            self.core.routes.remove_if_unused(ridx);
        }
    }

    pub(crate) fn set_route_max(&mut self, route: &R, max: Option<usize>) {
        // Routes keep their limit in a `u32`; clamp here so every reader agrees.
        let max = max.map(|m| m.min(u32::MAX as usize));
        let core = &mut self.core;
        match max {
            Some(max) => core.overrides.insert(route.clone(), max),
            None => core.overrides.remove(route),
        };
        if let Some(ridx) = core.routes.find(route) {
            core.routes[ridx].set_max(max);
        }
    }

    pub(crate) fn route_max(&self, route: &R) -> usize {
        self.core
            .overrides
            .get(route)
            .copied()
            .unwrap_or(self.core.default_max)
    }

    /// Closes idle entries that have expired (all of them, not just when due).
    pub(crate) fn close_expired(&mut self, now: &mut Now<'_>, out: &mut Deferred<C>) {
        let at = now.get();
        self.core
            .close_idle_where(out, CloseReason::Expired, |m| m.is_expired(at));
    }

    /// Closes idle entries released at least `idle_for` ago.
    pub(crate) fn close_idle(
        &mut self,
        idle_for: Duration,
        now: &mut Now<'_>,
        out: &mut Deferred<C>,
    ) {
        let Some(cutoff) = now.get().before(idle_for) else {
            return;
        };
        self.core
            .close_idle_where(out, CloseReason::IdleEvicted, |m| m.updated <= cutoff);
    }

    /// Requests already served keep their slot, as leases handed out before the
    /// shutdown do: it is closed when it comes back.
    pub(crate) fn shutdown(&mut self, out: &mut Deferred<C>) {
        if self.core.shutdown {
            return;
        }
        // Every failure is described before anything changes.
        let pending: Vec<(Ticket, LeaseError)> = self
            .waiters
            .iter()
            .map(|(ticket, w)| {
                let err = LeaseError::Shutdown(self.failure(w.route(), w.mailbox.since));
                (ticket, err)
            })
            .collect();
        self.core.shutdown = true;
        self.core
            .close_idle_where(out, CloseReason::Shutdown, |_| true);
        for (ticket, err) in pending {
            let Some(ridx) = self.waiters.get(ticket).map(|w| w.route()) else {
                continue;
            };
            let queue = &mut self.core.routes[ridx].queue;
            out.wake(self.waiters.complete(queue, ticket, Outcome::Failed(err)));
            self.core.refresh(ridx);
        }
        let routes: Vec<usize> = self.core.routes.iter().map(|(idx, _)| idx).collect();
        for ridx in routes {
            self.core.routes.remove_if_unused(ridx);
        }
    }

    /// The nearest time an idle connection expires, or (with `idle_for`) becomes idle
    /// for that long: when an evictor has work next. O(idle connections).
    pub(crate) fn next_deadline(&self, idle_for: Option<Duration>) -> Option<Stamp> {
        // One pass for both. The least recently updated entry is not always at the
        // list's oldest end: a connection given back untouched (a served request
        // dropped unread) keeps its old stamp but goes to the newest end.
        let mut expiry: Option<Stamp> = None;
        let mut updated: Option<Stamp> = None;
        for (_, _, meta) in self.core.idle.iter() {
            if let Some(at) = meta.expiry.as_expiry() {
                expiry = Some(expiry.map_or(at, |e| e.min(at)));
            }
            updated = Some(updated.map_or(meta.updated, |u| u.min(meta.updated)));
        }
        let idle = idle_for.and_then(|d| Some(updated?.after(d)));
        match (expiry, idle) {
            (Some(a), Some(b)) => Some(a.min(b)),
            (a, b) => a.or(b),
        }
    }

    pub(crate) fn stats(&self) -> PoolStats {
        PoolStats {
            leased: self.core.leased,
            pending: self.waiters.pending_len(),
            available: self.core.idle.len(),
            max: self.core.max_total,
        }
    }

    pub(crate) fn route_stats(&self, route: &R) -> PoolStats {
        match self.core.routes.find(route) {
            Some(ridx) => self.core.route_stats(ridx),
            None => PoolStats {
                max: self.route_max(route),
                ..PoolStats::default()
            },
        }
    }

    pub(crate) fn routes(&self) -> Vec<R> {
        self.core
            .routes
            .iter()
            .map(|(_, r)| r.key.clone())
            .collect()
    }

    fn failure(&self, ridx: usize, since: Instant) -> Box<LeaseFailure> {
        Box::new(LeaseFailure {
            route: format!("{:?}", self.core.routes[ridx].key),
            waited: since.elapsed(),
            route_stats: self.core.route_stats(ridx),
            pool_stats: self.stats(),
        })
    }

    /// For a request refused before it waited.
    fn failure_for(&self, route: &R) -> Box<LeaseFailure> {
        Box::new(LeaseFailure {
            route: format!("{route:?}"),
            waited: Duration::ZERO,
            route_stats: self.route_stats(route),
            pool_stats: self.stats(),
        })
    }

    /// Checks invariants 1–4 (1 only where no limit was lowered below what is leased),
    /// and that the index of ready heads and the waiter records agree with the routes.
    pub(crate) fn check_invariants(&self) -> Result<(), String> {
        let core = &self.core;
        let (mut leased, mut idle, mut pending) = (0, 0, 0);
        for (ridx, route) in core.routes.iter() {
            leased += route.leased;
            idle += route.idle.len();
            pending += route.queue.len();
            let key = &route.key;
            if route.leased == 0 && route.queue.is_empty() && route.idle.len() == 0 {
                return Err(format!("route {key:?} is unused but still in the table"));
            }
            let max = core.route_max(ridx);
            if route.leased <= max && route.allocated() > max {
                return Err(format!(
                    "route {key:?}: {} allocated over its limit {max}",
                    route.allocated()
                ));
            }
            let has_room = route.leased < max;
            let head = route.queue.head().map(|t| t.seq);
            let want_listed = if has_room { head } else { None };
            if route.listed() != want_listed
                || want_listed.is_some_and(|seq| core.ready.get(&seq) != Some(&ridx))
            {
                return Err(format!(
                    "route {key:?}: listed {:?}, should be {want_listed:?}",
                    route.listed()
                ));
            }
            if let Some(seq) = head {
                let servable = route.idle.len() > 0 || (has_room && core.leased < core.max_total);
                if servable && !core.shutdown {
                    return Err(format!("waiter {seq} on {key:?} could be served but waits"));
                }
            }
            for ticket in self.waiters.check_queue(&route.queue)? {
                match self.waiters.get(ticket) {
                    Some(w) if w.mailbox.is_pending() && w.route() == ridx => {}
                    _ => {
                        return Err(format!(
                            "queued waiter {} on {key:?} has no pending record",
                            ticket.seq
                        ));
                    }
                }
            }
        }
        if core.ready.len()
            != core
                .routes
                .iter()
                .filter(|(_, r)| r.listed().is_some())
                .count()
        {
            return Err("ready index lists routes that are not listed".into());
        }
        let pending_records = self
            .waiters
            .iter()
            .filter(|(_, w)| w.mailbox.is_pending())
            .count();
        if leased != core.leased
            || idle != core.idle.len()
            || pending != self.waiters.pending_len()
            || pending != pending_records
        {
            return Err(format!(
                "counts disagree: leased {leased} vs {}, idle {idle} vs {}, pending {pending} vs {} ({pending_records} records)",
                core.leased,
                core.idle.len(),
                self.waiters.pending_len()
            ));
        }
        if core.leased <= core.max_total && core.leased + core.idle.len() > core.max_total {
            return Err(format!(
                "{} allocated over the total limit {}",
                core.leased + core.idle.len(),
                core.max_total
            ));
        }
        for (_, entry, meta) in core.idle.iter() {
            let ridx = meta.ridx();
            if !meta.connected
                || entry.conn.is_none()
                || meta.stateless != entry.state.is_none()
                || core.routes.get(ridx).is_none_or(|r| r.key != entry.route)
            {
                return Err(format!(
                    "idle entry {} is empty, on the wrong route or misdescribed",
                    entry.id
                ));
            }
        }
        Ok(())
    }
}

impl<R: RouteKey, C, S: PartialEq> Core<R, C, S> {
    fn route_max(&self, ridx: usize) -> usize {
        self.routes[ridx].max().unwrap_or(self.default_max)
    }

    fn route_stats(&self, ridx: usize) -> PoolStats {
        let route = &self.routes[ridx];
        PoolStats {
            leased: route.leased,
            pending: route.queue.len(),
            available: route.idle.len(),
            max: self.route_max(ridx),
        }
    }

    /// Lists or unlists the route's head in `ready` after its leased count, limit or
    /// queue changed: listed exactly when it has waiters and room for a new slot.
    #[inline]
    fn refresh(&mut self, ridx: usize) {
        let route = &self.routes[ridx];
        let has_room = route.leased < route.max().unwrap_or(self.default_max);
        let want = if has_room {
            route.queue.head().map(|t| t.seq)
        } else {
            None
        };
        if route.listed() != want {
            self.refresh_slow(ridx, want);
        }
    }

    #[cold]
    fn refresh_slow(&mut self, ridx: usize, want: Option<u64>) {
        if let Some(old) = self.routes[ridx].listed() {
            self.ready.remove(&old);
        }
        if let Some(seq) = want {
            self.ready.insert(seq, ridx);
        }
        self.routes[ridx].set_listed(want);
    }

    fn close(&mut self, conn: C, reason: CloseReason, out: &mut Deferred<C>) {
        self.closed.count(reason);
        out.close(conn, reason);
    }

    /// Takes idle entry `key` of route `ridx` off the lists and closes it.
    fn evict(&mut self, ridx: usize, key: usize, reason: CloseReason, out: &mut Deferred<C>) {
        let (entry, _) = self.idle.remove(&mut self.routes[ridx].idle, key);
        if let Some(conn) = entry.conn {
            self.close(conn, reason, out);
        }
    }

    /// Lease rule (1), then (2): an idle entry of the route in the wanted state, else a
    /// stateless one; else a new slot if the route and the pool have room for one,
    /// closing idle entries (the route's own first, then the pool's least recently
    /// used) to make that room.
    #[inline]
    fn try_allocate(
        &mut self,
        ridx: usize,
        want: &Option<S>,
        now: &mut Now<'_>,
        out: &mut Deferred<C>,
    ) -> Option<Leased<R, C, S>> {
        if let Some(key) = self.find_idle(ridx, want, now, out) {
            // One look-up of the route for its idle list, its count and its listing.
            let route = &mut self.routes[ridx];
            let (entry, mut meta) = self.idle.remove(&mut route.idle, key);
            meta.reused = true;
            route.leased += 1;
            self.leased += 1;
            self.refresh(ridx);
            return Some(Leased { entry, meta });
        }
        let max = self.route_max(ridx);
        if self.routes[ridx].leased >= max || self.leased >= self.max_total {
            return None; // only releases can help; closing idle entries cannot
        }
        // The key's `Clone` is user code: if it panics, nothing has been counted yet.
        debug_assert!(u32::try_from(ridx).is_ok(), "route indexes fit a u32");
        let key = self.routes[ridx].key.clone();
        let entry = Entry::new_slot(self.next_id, key, now.instant());
        let meta = Meta::new_slot(ridx as u32, now.get());
        self.next_id += 1;
        self.routes[ridx].leased += 1;
        self.leased += 1;
        self.refresh(ridx);
        self.trim_route(ridx, out);
        self.trim_total(ridx, out);
        Some(Leased { entry, meta })
    }

    /// Walks the route's idle list in reuse order, closing expired entries on the way.
    /// It decides on the entries' bookkeeping in the idle nodes, and reads an entry's
    /// box only to compare a wanted state.
    #[inline]
    fn find_idle(
        &mut self,
        ridx: usize,
        want: &Option<S>,
        now: &mut Now<'_>,
        out: &mut Deferred<C>,
    ) -> Option<usize> {
        let lifo = self.policy == ReusePolicy::Lifo;
        let ends = self.routes[ridx].idle;
        let mut cursor = if lifo { ends.newest() } else { ends.oldest() };
        let mut stateless = None;
        let mut other_state = false;
        while let Some(key) = cursor {
            cursor = if lifo {
                self.idle.older(key)
            } else {
                self.idle.newer(key)
            };
            let meta = *self.idle.meta(key);
            if meta.expiry != Stamp::NEVER && meta.is_expired(now.get()) {
                self.evict(ridx, key, CloseReason::Expired, out);
                continue;
            }
            let exact = match want {
                None => meta.stateless,
                Some(want) => self.idle.get(key).state.as_ref() == Some(want),
            };
            if exact {
                return Some(key);
            } else if meta.stateless {
                stateless = stateless.or(Some(key));
            } else {
                other_state = true;
            }
        }
        if stateless.is_none() && other_state {
            self.state_mismatches += 1;
        }
        stateless
    }

    /// Closes the route's least recently used idle entries while it is over its limit.
    #[inline]
    fn trim_route(&mut self, ridx: usize, out: &mut Deferred<C>) {
        if self.routes[ridx].allocated() > self.route_max(ridx) {
            self.trim_route_slow(ridx, out);
        }
    }

    #[cold]
    fn trim_route_slow(&mut self, ridx: usize, out: &mut Deferred<C>) {
        let max = self.route_max(ridx);
        while self.routes[ridx].allocated() > max {
            let Some(key) = self.routes[ridx].idle.oldest() else {
                break;
            };
            self.evict(ridx, key, CloseReason::Trimmed, out);
        }
    }

    /// Closes the pool's least recently used idle entries while the pool is over its
    /// limit. Routes left unused are removed, except `keep`, which the caller still uses.
    #[inline]
    fn trim_total(&mut self, keep: usize, out: &mut Deferred<C>) {
        if self.leased + self.idle.len() > self.max_total {
            self.trim_total_slow(keep, out);
        }
    }

    #[cold]
    fn trim_total_slow(&mut self, keep: usize, out: &mut Deferred<C>) {
        while self.leased + self.idle.len() > self.max_total {
            let Some((key, ridx)) = self.idle.oldest() else {
                break;
            };
            self.evict(ridx, key, CloseReason::Trimmed, out);
            if ridx != keep {
                self.routes.remove_if_unused(ridx);
            }
        }
    }

    /// Lazy expiry: closes expired idle entries once the earliest expiry has passed.
    #[inline]
    fn purge_if_due(&mut self, now: &mut Now<'_>, keep: usize, out: &mut Deferred<C>) {
        if let Some(earliest) = self.earliest_expiry {
            let at = now.get();
            if at >= earliest {
                self.purge_expired(at, keep, out);
            }
        }
    }

    #[cold]
    fn purge_expired(&mut self, at: Stamp, keep: usize, out: &mut Deferred<C>) {
        let expired: Vec<(usize, usize)> = self
            .idle
            .iter()
            .filter(|(_, _, m)| m.is_expired(at))
            .map(|(key, _, m)| (key, m.ridx()))
            .collect();
        for (key, ridx) in expired {
            self.evict(ridx, key, CloseReason::Expired, out);
            if ridx != keep {
                self.routes.remove_if_unused(ridx);
            }
        }
        self.earliest_expiry = self
            .idle
            .iter()
            .filter_map(|(_, _, m)| m.expiry.as_expiry())
            .min();
    }

    fn close_idle_where(
        &mut self,
        out: &mut Deferred<C>,
        reason: CloseReason,
        pred: impl Fn(&Meta) -> bool,
    ) {
        let doomed: Vec<(usize, usize)> = self
            .idle
            .iter()
            .filter(|(_, _, m)| pred(m))
            .map(|(key, _, m)| (key, m.ridx()))
            .collect();
        for (key, ridx) in doomed {
            self.evict(ridx, key, reason, out);
            self.routes.remove_if_unused(ridx);
        }
    }
}

/// A slot whose connection was closed: empty, unbound, as new from `now`.
fn emptied<R, C, S>(entry: &mut Slot<R, C, S>, meta: &mut Meta, now: &mut Now<'_>) {
    entry.state = None;
    entry.created = now.instant();
    *meta = Meta::new_slot(meta.ridx, now.get());
}

impl<R, C, S> Core<R, C, S> {
    /// Takes every idle connection out (the pool is being dropped).
    pub(crate) fn drain_idle(&mut self) -> Vec<C> {
        let mut conns = Vec::with_capacity(self.idle.len());
        while let Some((key, ridx)) = self.idle.oldest() {
            let (entry, _) = self.idle.remove(&mut self.routes[ridx].idle, key);
            conns.extend(entry.conn);
        }
        conns
    }
}
