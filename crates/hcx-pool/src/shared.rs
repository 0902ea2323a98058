//! What every handle of one pool shares: the locked state, the clock, the disposal.

use std::sync::Arc;

use crate::RouteKey;
use crate::clock::TimeSource;
use crate::close::DisposalCallback;
use crate::entry::Epoch;
use crate::state::{Deferred, Now, State};
use crate::sync::{Mutex, MutexGuard};

pub(crate) struct Shared<R, C: 'static, S> {
    pub(crate) state: Mutex<State<R, C, S>>,
    pub(crate) clock: TimeSource,
    pub(crate) disposal: Box<dyn DisposalCallback<C>>,
    /// `PoolConfig::time_to_live`, fixed for the pool's life.
    pub(crate) ttl: Option<std::time::Duration>,
    /// What the pool's time stamps count from.
    pub(crate) epoch: Epoch,
    /// Told of connections that went back idle unused.
    pub(crate) on_unused: Option<Box<UnusedHook>>,
}

/// [`PoolBuilder::on_returned_unused`](crate::PoolBuilder::on_returned_unused)'s hook.
pub(crate) type UnusedHook = dyn Fn(std::time::Instant, Option<std::time::Instant>) + Send + Sync;

pub(crate) type SharedRef<R, C, S> = Arc<Shared<R, C, S>>;

impl<R, C: 'static, S> Shared<R, C, S> {
    /// The clock, to be read when a rule needs it.
    #[inline]
    pub(crate) fn lazy_now(&self) -> Now<'_> {
        Now::lazy(&self.clock, self.epoch)
    }
}

impl<R: RouteKey, C: 'static, S: PartialEq> Shared<R, C, S> {
    /// Runs `f` under the pool lock, then, with the lock released, closes the
    /// connections and wakes the tasks it queued.
    #[inline]
    pub(crate) fn locked<T>(
        &self,
        now: Now<'_>,
        f: impl FnOnce(&mut State<R, C, S>, &mut Now<'_>, &mut Deferred<C>) -> T,
    ) -> T {
        self.locked_owned(now, f, |result| result)
    }

    /// Like [`locked`](Self::locked), with `own` turning the result into what gives it
    /// back on drop (a `Lease`) before the deferred closes run: a disposal callback
    /// that panics then cannot leak a slot handed out under the lock.
    #[inline]
    pub(crate) fn locked_owned<T, U>(
        &self,
        now: Now<'_>,
        f: impl FnOnce(&mut State<R, C, S>, &mut Now<'_>, &mut Deferred<C>) -> T,
        own: impl FnOnce(T) -> U,
    ) -> U {
        let mut now = now;
        let mut out = Deferred::new();
        let result = {
            let mut state: MutexGuard<'_, State<R, C, S>> = self.state.lock();
            f(&mut state, &mut now, &mut out)
        };
        let owned = own(result);
        self.finish(&mut out);
        owned
    }

    /// The after-unlock half of `locked`. Usually there is nothing to do; the work,
    /// when there is some, is out of line so that the common path keeps its values in
    /// registers.
    #[inline]
    pub(crate) fn finish(&self, out: &mut Deferred<C>) {
        if !out.is_empty() {
            self.finish_slow(out);
        }
    }

    #[cold]
    #[inline(never)]
    fn finish_slow(&self, out: &mut Deferred<C>) {
        // Wakes first: a served waiter must not wait for (or be lost to) the closing of
        // connections that made room for it.
        let unused = out.take_unused();
        out.run(|conn, reason| self.disposal.dispose(conn, reason));
        if let (Some((updated, expiry)), Some(hook)) = (unused, &self.on_unused) {
            let expiry = expiry.as_expiry().map(|at| self.epoch.instant(at));
            hook(self.epoch.instant(updated), expiry);
        }
    }
}

impl<R, C: 'static, S> Drop for Shared<R, C, S> {
    /// The last handle is gone: idle connections still go through the disposal.
    fn drop(&mut self) {
        let idle = {
            let mut state = self.state.lock();
            state.core.drain_idle()
        };
        for conn in idle {
            self.disposal.dispose(conn, crate::CloseReason::Shutdown);
        }
    }
}
