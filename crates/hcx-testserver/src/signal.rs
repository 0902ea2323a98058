//! The shutdown signal: a flag that delays wait on (so shutdown cuts them short) and a
//! registry of live sockets that shutdown closes (so blocked reads and writes wake).
//! Who wakes whom on shutdown is all here.
//!
//! Two kinds of socket: an *abrupt* one is shut down both ways at once; a *graceful*
//! one (TLS) first only for reading, which wakes its thread's blocked read so that the
//! thread itself can send `close_notify` and close, and both ways only if its thread
//! has not finished within [`GRACE`] (it was blocked writing to a client that does
//! not read).

use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

/// How long shutdown waits for the threads of graceful sockets to close them.
const GRACE: Duration = Duration::from_millis(250);

/// A registered socket and whether it closes gracefully.
type Entry = (Arc<TcpStream>, bool);

#[derive(Debug, Default)]
pub(crate) struct Signal {
    /// Cheap check on hot paths; set under `lock` so waiters cannot miss it.
    flag: AtomicBool,
    lock: Mutex<()>,
    cond: Condvar,
    /// A clone of each live socket, by id, and whether it closes gracefully.
    sockets: Mutex<HashMap<usize, Entry>>,
    /// Notified when a socket leaves the registry.
    unregistered: Condvar,
}

impl Signal {
    pub(crate) fn is_triggered(&self) -> bool {
        self.flag.load(Ordering::Acquire)
    }

    /// Sets the flag and wakes every delay.
    pub(crate) fn trigger(&self) {
        let _guard = self.lock.lock();
        self.flag.store(true, Ordering::Release);
        self.cond.notify_all();
    }

    /// Waits `timeout` or until shutdown; `true` if shutdown came first.
    pub(crate) fn wait_timeout(&self, timeout: Duration) -> bool {
        let Some(deadline) = Instant::now().checked_add(timeout) else {
            let mut guard = self.lock.lock();
            while !self.is_triggered() {
                self.cond.wait(&mut guard);
            }
            return true;
        };
        let mut guard = self.lock.lock();
        while !self.is_triggered() {
            if self.cond.wait_until(&mut guard, deadline).timed_out() {
                return self.is_triggered();
            }
        }
        true
    }

    /// Registers a socket (by an id unique among live sockets) so shutdown can wake
    /// its thread; `graceful`: the thread closes it itself once woken (see the module
    /// docs). Returns `false` (and does not register) if shutdown has already begun.
    pub(crate) fn register(&self, id: usize, socket: TcpStream, graceful: bool) -> bool {
        let mut sockets = self.sockets.lock();
        if self.is_triggered() {
            return false;
        }
        sockets.insert(id, (Arc::new(socket), graceful));
        true
    }

    pub(crate) fn unregister(&self, id: usize) {
        self.sockets.lock().remove(&id);
        self.unregistered.notify_all();
    }

    /// Shuts down every registered socket: blocked reads return end of stream and
    /// blocked writes fail, so their threads end promptly. Graceful sockets get
    /// [`GRACE`] to be closed by their threads first.
    pub(crate) fn close_sockets(&self) {
        // Sockets are shut down outside the lock (it is never held across I/O); the
        // `Arc`s keep the graceful ones in the registry, so their unregistering can be
        // awaited.
        let (abrupt, graceful): (Vec<Entry>, Vec<Entry>) = {
            let mut sockets = self.sockets.lock();
            let abrupt: Vec<usize> = sockets
                .iter()
                .filter(|(_, (_, graceful))| !graceful)
                .map(|(&id, _)| id)
                .collect();
            let abrupt = abrupt.iter().filter_map(|id| sockets.remove(id)).collect();
            let graceful = sockets.values().cloned().collect();
            (abrupt, graceful)
        };
        for (socket, _) in &abrupt {
            let _ = socket.shutdown(Shutdown::Both);
        }
        for (socket, _) in &graceful {
            let _ = socket.shutdown(Shutdown::Read);
        }
        let late: Vec<_> = {
            let deadline = Instant::now() + GRACE;
            let mut sockets = self.sockets.lock();
            while !sockets.is_empty() {
                if self
                    .unregistered
                    .wait_until(&mut sockets, deadline)
                    .timed_out()
                {
                    break;
                }
            }
            sockets.drain().map(|(_, entry)| entry).collect()
        };
        for (socket, _) in late {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }
}
