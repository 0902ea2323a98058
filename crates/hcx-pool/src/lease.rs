//! The caller's side of a lease: the request, the slot it yields, and a cancel handle.

use std::fmt;
use std::future::Future;
use std::pin::Pin;
use std::sync::{Arc, Weak};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use crate::entry::{Entry, Leased, Meta, Slot, Stamp};
use crate::shared::{Shared, SharedRef};
use crate::state::{GiveBack, Now};
use crate::waiters::{Answer, Mailbox, Ticket};
use crate::{CloseReason, Decision, LeaseError, LeaseFailure, RouteKey};

/// A connection slot lent by the pool.
///
/// It either holds a connection that was idle in the pool ([`is_reused`](Self::is_reused))
/// or is a new, empty slot: the holder connects, outside every pool lock, and
/// [`assign`](Self::assign)s the connection. [`release`](Self::release) gives it back;
/// dropping it without releasing discards it (the connection is closed through the
/// pool's disposal callback and the slot is freed), so a slot can never leak and can
/// never be released twice.
pub struct Lease<R, C, S = ()>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    entry: Option<Slot<R, C, S>>,
    /// The pool's bookkeeping of the slot, by value: reading and updating it never
    /// touches the box. Its `untouched` flag is `false` once the holder has the lease
    /// (dropping it discards it) and `true` while it sits in a request nobody picked
    /// up (it goes back untouched: giving up on a request must not close a good
    /// connection). It lives there to keep the lease five words.
    meta: Meta,
    shared: SharedRef<R, C, S>,
}

impl<R, C, S> Lease<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    #[inline]
    pub(crate) fn new(shared: SharedRef<R, C, S>, leased: Leased<R, C, S>) -> Self {
        Self {
            entry: Some(leased.entry),
            meta: leased.meta,
            shared,
        }
    }

    fn entry(&self) -> &Entry<R, C, S> {
        // Only `release`/`drop` take the entry, and both consume the lease.
        self.entry
            .as_ref()
            .unwrap_or_else(|| unreachable!("a live lease holds its entry"))
    }

    fn entry_mut(&mut self) -> &mut Entry<R, C, S> {
        self.entry
            .as_mut()
            .unwrap_or_else(|| unreachable!("a live lease holds its entry"))
    }

    /// The route this slot belongs to.
    pub fn route(&self) -> &R {
        &self.entry().route
    }

    /// A number unique to this slot within its pool, kept while the connection is
    /// reused (handy in logs: "connection 7 reused").
    pub fn id(&self) -> u64 {
        self.entry().id
    }

    /// `true` if the slot came with a connection that was idle in the pool.
    pub fn is_reused(&self) -> bool {
        self.meta.reused
    }

    /// The connection, if one is assigned.
    pub fn connection(&self) -> Option<&C> {
        self.entry().conn.as_ref()
    }

    /// The connection, mutably, if one is assigned.
    pub fn connection_mut(&mut self) -> Option<&mut C> {
        self.entry_mut().conn.as_mut()
    }

    /// Installs a new connection in the slot and returns the one it replaces, if any
    /// (for the caller to close). The connection's life, and the pool's time-to-live,
    /// start now.
    pub fn assign(&mut self, conn: C) -> Option<C> {
        let now = self.shared.clock.now();
        let ttl = self.shared.ttl;
        self.meta.assigned(self.shared.epoch.stamp(now), ttl);
        let entry = self.entry_mut();
        entry.created = now;
        entry.conn.replace(conn)
    }

    /// Takes the connection out, leaving the slot empty (releasing an empty slot frees it).
    pub fn take_connection(&mut self) -> Option<C> {
        self.meta.connected = false;
        self.entry_mut().conn.take()
    }

    /// The state the connection is bound to (Apache: the user token), if any.
    pub fn state(&self) -> Option<&S> {
        self.entry().state.as_ref()
    }

    /// Binds the connection to a state; later leases asking for that state prefer it.
    pub fn set_state(&mut self, state: Option<S>) {
        self.meta.stateless = state.is_none();
        self.entry_mut().state = state;
    }

    /// When the current connection was assigned (or the slot created, if it has none).
    pub fn created(&self) -> Instant {
        self.entry().created
    }

    /// When the connection was last released to the pool.
    pub fn updated(&self) -> Instant {
        self.shared.epoch.instant(self.meta.updated)
    }

    /// The current time on the pool's clock, and how long the connection had been
    /// idle then: since [`updated`](Self::updated) (zero if that is later). One
    /// reading of the clock for both, the same as `now` and
    /// `now.saturating_duration_since(updated)` would give, without the conversions
    /// between instants and the pool's stamps.
    #[inline]
    pub fn now_and_idle(&self) -> (Instant, Duration) {
        let (now, stamp) = self.shared.clock.now_and_stamp(self.shared.epoch);
        (now, stamp.since(self.meta.updated))
    }

    /// When the connection stops being reusable, if ever.
    pub fn expiry(&self) -> Option<Instant> {
        let epoch = self.shared.epoch;
        self.meta.expiry.as_expiry().map(|at| epoch.instant(at))
    }

    /// Gives the slot back as `decision` says. [`Decision::Keep`]: the connection may
    /// be reused while idle less than `valid_for` (`None`: no keep-alive limit; the
    /// time-to-live still applies); it goes straight to the oldest waiter that can use
    /// it, or idle. [`Decision::Close`]: it is closed, counted under its reason in
    /// [`Pool::close_counts`](crate::Pool::close_counts), and the slot freed. An empty
    /// slot is freed either way.
    ///
    /// `Keep { valid_for: Some(Duration::ZERO) }` closes at once as expired; build
    /// decisions with [`Decision::keep`], which makes a zero validity a
    /// `Close(KeepAliveRefused)`. Apache reads a zero validity as "forever"; here that
    /// is `None`.
    ///
    /// Apache: `releaseConnection(entry, state, keepAlive)`.
    #[inline]
    pub fn release(mut self, decision: Decision) {
        let how = match decision {
            Decision::Keep { valid_for } => GiveBack::Reusable(valid_for),
            Decision::Close(reason) => GiveBack::Discard(reason),
        };
        self.give_back(how);
    }

    /// The holder has it now: dropping it from here on discards it.
    #[inline]
    fn handed_over(mut self) -> Self {
        self.meta.untouched = false;
        self
    }

    /// Gives back a lease its holder picked up but did not use: as if the request
    /// had been cancelled before the hand-off. A connection goes back idle as it was
    /// (its validity, idle time and state unchanged), nothing is closed, and a new slot
    /// without a connection is freed. For a holder that gave up just as it was served
    /// (an abort racing the hand-off); a connection that was read or written must go
    /// through [`release`](Self::release) or [`discard`](Self::discard).
    pub fn release_unused(mut self) {
        self.give_back(GiveBack::Untouched);
    }

    /// Closes the connection for `reason` (counted in
    /// [`Pool::close_counts`](crate::Pool::close_counts)) and keeps the slot: the
    /// lease then holds the route's next idle connection for `state`, found as
    /// [`Pool::lease`](crate::Pool::lease) finds one ([`is_reused`](Self::is_reused)),
    /// or is an empty slot to [`assign`](Self::assign) a new connection to. For a
    /// connection found unusable as it is leased (a stale probe): the holder keeps its
    /// turn, where [`discard`](Self::discard) and a new lease would put it behind
    /// every waiting request. Apache: `PoolEntry.discardConnection` (which leaves the
    /// slot empty).
    pub fn discard_connection(&mut self, reason: CloseReason, state: &Option<S>) {
        let (meta, shared) = (&mut self.meta, &self.shared);
        let Some(entry) = self.entry.as_mut() else {
            return;
        };
        shared.locked(shared.lazy_now(), |st, now, out| {
            st.discard_connection(entry, meta, reason, state, now, out);
        });
    }

    /// Closes the connection for `reason` (counted in
    /// [`Pool::close_counts`](crate::Pool::close_counts)) and frees the slot. Dropping
    /// the lease does the same with [`CloseReason::Abandoned`].
    pub fn discard(mut self, reason: CloseReason) {
        self.give_back(GiveBack::Discard(reason));
    }

    #[inline]
    fn give_back(&mut self, how: GiveBack) {
        let Some(entry) = self.entry.take() else {
            return;
        };
        let shared = &self.shared;
        let now = match how {
            GiveBack::Reusable(_) => Now::read(&shared.clock, shared.epoch),
            GiveBack::Untouched | GiveBack::Discard(_) => shared.lazy_now(),
        };
        let meta = self.meta;
        shared.locked(now, |state, now, out| {
            state.give_back(entry, meta, how, now, out)
        });
    }
}

impl<R, C, S> Drop for Lease<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    #[inline]
    fn drop(&mut self) {
        // Released or discarded already (the common case): nothing to build.
        if self.entry.is_none() {
            return;
        }
        let how = if self.meta.untouched {
            GiveBack::Untouched
        } else {
            GiveBack::Discard(CloseReason::Abandoned)
        };
        self.give_back(how);
    }
}

impl<R, C, S> fmt::Debug for Lease<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entry = self.entry();
        f.debug_struct("Lease")
            .field("id", &entry.id)
            .field("route", &entry.route)
            .field("reused", &self.meta.reused)
            .field("connected", &self.meta.connected)
            .field("expiry", &self.expiry())
            .finish()
    }
}

enum Stage<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    /// Served at once: the lease is already in hand.
    Ready(Lease<R, C, S>),
    /// Refused at once (the pool is shut down).
    Failed(LeaseError),
    /// In the pool's queue.
    Waiting(Waiting<R, C, S>),
    Done,
}

struct Waiting<R, C: 'static, S>
where
    R: RouteKey,
    S: PartialEq,
{
    shared: SharedRef<R, C, S>,
    mailbox: Arc<Mailbox<Leased<R, C, S>>>,
    /// Set once the outcome was picked up: nothing left to give up.
    done: bool,
}

impl<R, C, S> Waiting<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    /// Turns a picked-up answer into a lease. A served connection that expired before
    /// it was picked up is closed (under the pool lock, for the counts; rare) and the
    /// slot comes empty.
    fn pick_up(self, answer: Answer<Leased<R, C, S>>) -> Result<Lease<R, C, S>, LeaseError> {
        let mut this = self;
        this.done = true;
        let mut leased = answer?;
        let shared = Arc::clone(&this.shared);
        let expiry = leased.meta.expiry;
        if expiry != Stamp::NEVER && leased.meta.is_expired(shared.clock.stamp(shared.epoch)) {
            // Owned by its `Lease` before the close runs the disposal callback.
            return Ok(shared.locked_owned(
                shared.lazy_now(),
                move |state, now, out| {
                    state.expired_before_pick_up(&mut leased, now, out);
                    leased
                },
                |leased| Lease::new(Arc::clone(&shared), leased),
            ));
        }
        Ok(Lease::new(shared, leased))
    }
}

impl<R, C: 'static, S> Drop for Waiting<R, C, S>
where
    R: RouteKey,
    S: PartialEq,
{
    /// The request was dropped while queued: leave the queue, or give back untouched
    /// a slot it was handed but never picked up.
    fn drop(&mut self) {
        if !self.done {
            let mailbox = &self.mailbox;
            let shared = &self.shared;
            shared.locked(shared.lazy_now(), |state, now, out| {
                state.abandon(mailbox, now, out)
            });
        }
    }
}

/// A request for a slot of a route. Apache: the `Future<PoolEntry>` returned by `lease`.
///
/// Wait for it with [`get`](Self::get) (blocking, with a timeout) or `.await` it (it is a
/// [`Future`]; wrap it in your runtime's timeout). Dropping it, or
/// [`cancel`](Self::cancel), gives up; a slot served at that very moment goes back to
/// the pool, never lost. Another thread can give up on it through a
/// [`CancelHandle`].
#[must_use = "a lease request does nothing unless waited on"]
pub struct LeaseRequest<R, C, S = ()>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    stage: Stage<R, C, S>,
}

// A request is never pinned in place: nothing points into it.
impl<R, C, S> Unpin for LeaseRequest<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
}

impl<R, C, S> LeaseRequest<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    #[inline]
    pub(crate) fn ready(mut lease: Lease<R, C, S>) -> Self {
        lease.meta.untouched = true;
        Self {
            stage: Stage::Ready(lease),
        }
    }

    pub(crate) fn failed(err: LeaseError) -> Self {
        Self {
            stage: Stage::Failed(err),
        }
    }

    pub(crate) fn waiting(
        shared: SharedRef<R, C, S>,
        mailbox: Arc<Mailbox<Leased<R, C, S>>>,
    ) -> Self {
        Self {
            stage: Stage::Waiting(Waiting {
                shared,
                mailbox,
                done: false,
            }),
        }
    }

    /// `true` if the request was served (or refused) at once, without queueing.
    pub fn is_immediate(&self) -> bool {
        matches!(self.stage, Stage::Ready(_) | Stage::Failed(_))
    }

    /// Waits at most `timeout` for a slot. `Duration::ZERO` never blocks. The wait is
    /// measured on the system clock, not the pool's injected one.
    ///
    /// Apache: `connectionRequestTimeout`.
    #[inline]
    pub fn get(self, timeout: Duration) -> Result<Lease<R, C, S>, LeaseError> {
        match self.stage {
            // Served at once: no clock read on the fast path.
            Stage::Ready(_) | Stage::Failed(_) => self.wait_until(None),
            _ => self.wait_until(Instant::now().checked_add(timeout)),
        }
    }

    /// Waits for a slot with no time limit (only a cancel or a shutdown ends the wait).
    pub fn wait(self) -> Result<Lease<R, C, S>, LeaseError> {
        self.wait_until(None)
    }

    #[inline]
    fn wait_until(self, deadline: Option<Instant>) -> Result<Lease<R, C, S>, LeaseError> {
        match self.stage {
            Stage::Ready(lease) => Ok(lease.handed_over()),
            Stage::Failed(err) => Err(err),
            Stage::Waiting(waiting) => Self::block(waiting, deadline),
            // Already completed by polling it as a future.
            Stage::Done => Err(LeaseError::Cancelled(LeaseFailure::completed())),
        }
    }

    /// The slow path: park until the pool answers in the request's mailbox, or the
    /// deadline passes. Only a timeout takes the pool lock; a served request picks its
    /// slot up under the mailbox's own lock.
    #[inline(never)]
    fn block(
        waiting: Waiting<R, C, S>,
        deadline: Option<Instant>,
    ) -> Result<Lease<R, C, S>, LeaseError> {
        let waker = crate::sync::thread_waker();
        let mut leave = Some(&waker);
        let answer = loop {
            let (answer, replaced) = waiting.mailbox.take_or_register(leave.take());
            drop(replaced);
            if let Some(answer) = answer {
                break answer;
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                let mailbox = &waiting.mailbox;
                let shared = &waiting.shared;
                break shared.locked(shared.lazy_now(), |state, _, _| state.time_out(mailbox));
            }
            crate::sync::park_until(deadline);
        };
        waiting.pick_up(answer)
    }

    /// Gives up on the request. A slot it was being handed goes back to the pool.
    pub fn cancel(self) {}

    /// A handle that lets another thread cancel this request while it waits.
    pub fn cancel_handle(&self) -> CancelHandle<R, C, S> {
        CancelHandle {
            target: match &self.stage {
                Stage::Waiting(w) => Some(Target {
                    shared: Arc::downgrade(&w.shared),
                    ticket: w.mailbox.ticket,
                    mailbox: Arc::downgrade(&w.mailbox),
                }),
                _ => None,
            },
        }
    }
}

impl<R, C, S> Future for LeaseRequest<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    type Output = Result<Lease<R, C, S>, LeaseError>;

    /// Polled again after it returned `Ready`, it returns
    /// [`LeaseError::Cancelled`] (as waiting on it then does) rather than panicking.
    fn poll(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Self::Output> {
        let this = self.get_mut();
        let waiting = match std::mem::replace(&mut this.stage, Stage::Done) {
            Stage::Ready(lease) => return Poll::Ready(Ok(lease.handed_over())),
            Stage::Failed(err) => return Poll::Ready(Err(err)),
            Stage::Waiting(waiting) => waiting,
            Stage::Done => {
                return Poll::Ready(Err(LeaseError::Cancelled(LeaseFailure::completed())));
            }
        };
        // The pool lock is not needed: the answer, and the waker, live in the mailbox.
        let (answer, replaced) = waiting.mailbox.take_or_register(Some(cx.waker()));
        drop(replaced);
        match answer {
            Some(answer) => Poll::Ready(waiting.pick_up(answer)),
            None => {
                this.stage = Stage::Waiting(waiting);
                Poll::Pending
            }
        }
    }
}

impl<R, C, S> fmt::Debug for LeaseRequest<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("LeaseRequest");
        match &self.stage {
            Stage::Ready(lease) => d.field("ready", lease),
            Stage::Failed(err) => d.field("failed", err),
            Stage::Waiting(w) => d.field("waiting_on_route", &w.mailbox.route),
            Stage::Done => d.field("done", &true),
        };
        d.finish()
    }
}

/// What a [`CancelHandle`] points at. Weak: a stray handle must not keep the pool (and
/// its idle sockets) or a served slot alive.
struct Target<R, C: 'static, S> {
    shared: Weak<Shared<R, C, S>>,
    ticket: Ticket,
    mailbox: Weak<Mailbox<Leased<R, C, S>>>,
}

impl<R, C: 'static, S> Clone for Target<R, C, S> {
    fn clone(&self) -> Self {
        Self {
            shared: Weak::clone(&self.shared),
            ticket: self.ticket,
            mailbox: Weak::clone(&self.mailbox),
        }
    }
}

/// Cancels a waiting [`LeaseRequest`] from another thread. Cloneable.
pub struct CancelHandle<R, C, S = ()>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    target: Option<Target<R, C, S>>,
}

impl<R, C, S> CancelHandle<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    /// Cancels the request if it is still waiting, or was served but has not picked
    /// its slot up (the slot goes back to the pool). The request then fails with
    /// [`LeaseError::Cancelled`]. Returns `false` if there was nothing left to cancel:
    /// the request was served at once, already completed, or already gave up.
    pub fn cancel(&self) -> bool {
        let Some(target) = &self.target else {
            return false;
        };
        let (Some(shared), Some(mailbox)) = (target.shared.upgrade(), target.mailbox.upgrade())
        else {
            return false;
        };
        shared.locked(shared.lazy_now(), |state, now, out| {
            state.cancel(&mailbox, now, out)
        })
    }
}

impl<R, C, S> Clone for CancelHandle<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    fn clone(&self) -> Self {
        Self {
            target: self.target.clone(),
        }
    }
}

impl<R, C, S> fmt::Debug for CancelHandle<R, C, S>
where
    R: RouteKey,
    C: Send + 'static,
    S: PartialEq + Send + 'static,
{
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CancelHandle")
            .field("ticket", &self.target.as_ref().map(|t| t.ticket))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::mem::size_of;

    /// A lease moves by value through `lease`, `get` and `release`: it must stay a few
    /// words (the entry is boxed, failures are boxed), or every cycle pays for copies.
    #[test]
    fn a_lease_and_its_result_stay_a_few_words() {
        type L = Lease<String, [u8; 256], String>;
        assert!(
            size_of::<L>() <= 5 * size_of::<usize>(),
            "{}",
            size_of::<L>()
        );
        assert!(size_of::<Result<L, LeaseError>>() <= 5 * size_of::<usize>());
        assert!(size_of::<LeaseRequest<String, [u8; 256], String>>() <= 6 * size_of::<usize>());
    }

    /// `now_and_idle` agrees with `now` and `updated` read apart, for the coarse clock
    /// (its own path) and for any other.
    #[test]
    fn now_and_idle_is_now_minus_updated() -> Result<(), Box<dyn std::error::Error>> {
        use crate::{CoarseClock, ManualClock, Pool, PoolConfig};
        let manual = ManualClock::new();
        let pools: [Pool<&str, u8, ()>; 2] = [
            Pool::builder(PoolConfig::default())
                .clock(CoarseClock::new())
                .build()?,
            Pool::builder(PoolConfig::default())
                .clock(manual.clone())
                .build()?,
        ];
        for pool in &pools {
            let mut lease = pool.lease(&"a", None).get(Duration::ZERO)?;
            let _ = lease.assign(1);
            lease.release(Decision::keep(None));
            manual.advance(Duration::from_millis(1500));
            let lease = pool.lease(&"a", None).get(Duration::ZERO)?;
            let before = pool.now();
            let (now, idle) = lease.now_and_idle();
            assert!(before <= now && now <= pool.now());
            assert_eq!(idle, now.saturating_duration_since(lease.updated()));
        }
        Ok(())
    }
}
