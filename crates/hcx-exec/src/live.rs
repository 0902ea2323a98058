//! The sockets of a manager's live connections, for
//! [`PoolingConnectionManager::shutdown_immediate`](crate::PoolingConnectionManager::shutdown_immediate):
//! idle ones are the pool's to close, but a leased connection is its holder's, so the
//! manager keeps a weak reference to every connection's socket and shuts them all down.

use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError, Weak};

use crate::abort::AbortHandle;

/// Every live connection's socket, by connection id.
#[derive(Default)]
pub(crate) struct LiveSockets {
    inner: Mutex<Inner>,
    /// Set by `shutdown_all` (under the lock, read without it).
    closed: AtomicBool,
    /// Set by `end_waits` and `shutdown_all` (under the lock, read without it).
    waits_ended: AtomicBool,
}

#[derive(Default)]
struct Inner {
    sockets: HashMap<u64, Weak<TcpStream>>,
    /// Work in progress that holds no connection yet, ended by `shutdown_all`
    /// ([`AbortHandle::interrupt`]): waits
    /// ([`PoolingConnectionManager::wait`](crate::PoolingConnectionManager::wait)) and
    /// connects; `true` marks a wait.
    pending: HashMap<u64, (AbortHandle, bool)>,
    next_pending: u64,
}

impl LiveSockets {
    fn inner(&self) -> MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Registers the socket of connection `id`, until the returned entry drops;
    /// `None` once [`shutdown_all`](Self::shutdown_all) has run (the connection must
    /// not be used).
    pub(crate) fn register(
        self: &Arc<Self>,
        id: u64,
        socket: &Arc<TcpStream>,
    ) -> Option<LiveEntry> {
        let mut inner = self.inner();
        // Read under the lock `shutdown_all` sets it under: a connection registered
        // after its sweep is refused, one before is swept.
        if self.is_closed() {
            return None;
        }
        inner.sockets.insert(id, Arc::downgrade(socket));
        Some(LiveEntry {
            live: Arc::clone(self),
            id,
        })
    }

    /// Refuses connections from now on and shuts down the socket of every live one
    /// (outside the lock: a system call each, which does not block).
    pub(crate) fn shutdown_all(&self) {
        let (sockets, pending): (Vec<Arc<TcpStream>>, Vec<AbortHandle>) = {
            let inner = self.inner();
            self.closed.store(true, Ordering::Release);
            self.waits_ended.store(true, Ordering::Release);
            (
                inner.sockets.values().filter_map(Weak::upgrade).collect(),
                inner.pending.values().map(|(h, _)| h.clone()).collect(),
            )
        };
        for socket in sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
        for handle in pending {
            handle.interrupt();
        }
    }

    /// Ends every [`wait`](Self::wait) now and refuses new ones (a graceful shutdown:
    /// connects and connections carry on); a wait is interrupted outside the lock.
    pub(crate) fn end_waits(&self) {
        let waits: Vec<AbortHandle> = {
            let inner = self.inner();
            self.waits_ended.store(true, Ordering::Release);
            inner
                .pending
                .values()
                .filter(|(_, wait)| *wait)
                .map(|(h, _)| h.clone())
                .collect()
        };
        for handle in waits {
            handle.interrupt();
        }
    }

    /// Registers a connect, which holds no connection yet, under `handle` until the
    /// returned entry drops: `shutdown_all` then [interrupts](AbortHandle::interrupt)
    /// it. `None` once `shutdown_all` has run.
    pub(crate) fn enter(self: &Arc<Self>, handle: &AbortHandle) -> Option<PendingEntry> {
        self.enter_as(handle, false)
    }

    /// [`enter`](Self::enter) for a connect or (`wait`) a wait, which `end_waits`
    /// interrupts too and refuses after it.
    fn enter_as(self: &Arc<Self>, handle: &AbortHandle, wait: bool) -> Option<PendingEntry> {
        let mut inner = self.inner();
        if self.is_closed() || (wait && self.waits_ended.load(Ordering::Acquire)) {
            return None;
        }
        let key = inner.next_pending;
        inner.next_pending = key.wrapping_add(1);
        inner.pending.insert(key, (handle.clone(), wait));
        Some(PendingEntry {
            live: Arc::clone(self),
            key,
        })
    }

    /// Whether [`shutdown_all`](Self::shutdown_all) has run.
    pub(crate) fn is_closed(&self) -> bool {
        self.closed.load(Ordering::Acquire)
    }

    /// Waits `delay`, ending early when `abort` aborts or
    /// [`end_waits`](Self::end_waits) or [`shutdown_all`](Self::shutdown_all) runs.
    pub(crate) fn wait(self: &Arc<Self>, delay: std::time::Duration, abort: Option<&AbortHandle>) {
        let own;
        let handle = match abort {
            Some(abort) => abort,
            None => {
                own = AbortHandle::new();
                &own
            }
        };
        let Some(_entry) = self.enter_as(handle, true) else {
            return;
        };
        handle.wait_timeout_or(delay, |_| self.waits_ended.load(Ordering::Acquire));
    }

    /// How many connections are registered.
    #[cfg(test)]
    pub(crate) fn len(&self) -> usize {
        self.inner().sockets.len()
    }
}

/// The place of a wait or a connect in [`LiveSockets`], taken back at its drop.
pub(crate) struct PendingEntry {
    live: Arc<LiveSockets>,
    key: u64,
}

impl Drop for PendingEntry {
    fn drop(&mut self) {
        let removed = self.live.inner().pending.remove(&self.key);
        if let Some((handle, _)) = &removed {
            handle.clear_interrupt();
        }
        // The handle (perhaps its last clone) is dropped outside the lock.
        drop(removed);
    }
}

/// A connection's place in [`LiveSockets`]; dropped with the connection.
pub(crate) struct LiveEntry {
    live: Arc<LiveSockets>,
    id: u64,
}

impl Drop for LiveEntry {
    fn drop(&mut self) {
        let removed = self.live.inner().sockets.remove(&self.id);
        // The weak reference is dropped outside the lock (it frees nothing but its
        // count, but keeps the lock short either way).
        drop(removed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn live_sockets_are_shut_down_and_later_ones_refused() -> std::io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let live = Arc::new(LiveSockets::default());
        let a = Arc::new(TcpStream::connect(listener.local_addr()?)?);
        let (_peer_a, _) = listener.accept()?;
        let entry = live.register(1, &a);
        assert!(entry.is_some());
        {
            let b = Arc::new(TcpStream::connect(listener.local_addr()?)?);
            let _gone = live.register(2, &b);
        }
        assert_eq!(live.len(), 1, "a dropped connection leaves the list");
        live.shutdown_all();
        assert_eq!((&*a).read(&mut [0u8; 1])?, 0, "shut down: end of stream");
        let c = Arc::new(TcpStream::connect(listener.local_addr()?)?);
        assert!(live.register(3, &c).is_none(), "refused after the shutdown");
        assert!(live.is_closed());
        drop(entry);
        assert_eq!(live.len(), 0);
        Ok(())
    }
}
