//! The pool most people write first: one `Mutex<Vec<_>>` of idle connections and a
//! `Condvar` that every release broadcasts on (`notify_all`). The yardstick for
//! `pool_contended_16x4`: it has the thundering herd and the barging of Apache 4.x's
//! `AbstractConnPool`.

use std::sync::{Condvar, Mutex};

/// A single-route pool of `u64` connections with `max` slots.
#[derive(Debug)]
pub struct MutexVecPool {
    state: Mutex<(Vec<u64>, usize)>,
    released: Condvar,
    max: usize,
}

impl MutexVecPool {
    /// A pool of `max` slots, `max` connections already idle.
    pub fn new(max: usize) -> Self {
        Self {
            state: Mutex::new(((0..max as u64).collect(), 0)),
            released: Condvar::new(),
            max,
        }
    }

    /// Takes an idle connection, waiting while all are leased.
    pub fn lease(&self) -> u64 {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        loop {
            if let Some(conn) = state.0.pop() {
                state.1 += 1;
                return conn;
            }
            debug_assert!(state.1 >= self.max);
            state = self.released.wait(state).unwrap_or_else(|e| e.into_inner());
        }
    }

    /// Gives a connection back and wakes every waiter.
    pub fn release(&self, conn: u64) {
        let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
        state.1 -= 1;
        state.0.push(conn);
        drop(state);
        self.released.notify_all();
    }
}
