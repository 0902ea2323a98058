//! The shutdown signal: a flag that delays wait on (so shutdown cuts them short) and a
//! registry of live sockets that shutdown closes (so blocked reads and writes wake).
//! Who wakes whom on shutdown is all here.

use parking_lot::{Condvar, Mutex};
use std::collections::HashMap;
use std::net::{Shutdown as Both, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

#[derive(Debug, Default)]
pub(crate) struct Signal {
    /// Cheap check on hot paths; set under `lock` so waiters cannot miss it.
    flag: AtomicBool,
    lock: Mutex<()>,
    cond: Condvar,
    /// A clone of each live connection's socket, by connection index.
    sockets: Mutex<HashMap<usize, TcpStream>>,
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

    /// Registers a connection's socket so shutdown can wake its thread. Returns `false`
    /// (and does not register) if shutdown has already begun.
    pub(crate) fn register(&self, connection: usize, socket: TcpStream) -> bool {
        let mut sockets = self.sockets.lock();
        if self.is_triggered() {
            return false;
        }
        sockets.insert(connection, socket);
        true
    }

    pub(crate) fn unregister(&self, connection: usize) {
        self.sockets.lock().remove(&connection);
    }

    /// Shuts down every registered socket: blocked reads return end of stream and
    /// blocked writes fail, so connection threads end promptly.
    pub(crate) fn close_sockets(&self) {
        let sockets: Vec<TcpStream> = self.sockets.lock().drain().map(|(_, s)| s).collect();
        for socket in sockets {
            let _ = socket.shutdown(Both::Both);
        }
    }
}
