//! The least a strictly fair pool can do: a FIFO queue of waiters, each answered in a
//! mailbox of its own and woken with `unpark`, a released connection handed straight
//! to the oldest. No routes, limits, expiry, statistics, cancel or timeouts. It is not
//! a baseline to beat but a floor: what one hand-off (a sleep and a wake-up per cycle)
//! costs on this machine, for comparison with `hcx` in `pool_contended_16x4`.

use std::collections::VecDeque;
use std::sync::{Arc, Mutex};
use std::thread::{self, Thread};

struct Waiter {
    conn: Mutex<Option<u64>>,
    thread: Thread,
}

/// A single-route strict-FIFO pool of `u64` connections.
#[derive(Default)]
pub struct MinimalFifoPool {
    state: Mutex<(Vec<u64>, VecDeque<Arc<Waiter>>)>,
}

impl std::fmt::Debug for MinimalFifoPool {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MinimalFifoPool").finish_non_exhaustive()
    }
}

impl MinimalFifoPool {
    /// A pool of `max` connections, all idle.
    pub fn new(max: usize) -> Self {
        Self {
            state: Mutex::new(((0..max as u64).collect(), VecDeque::new())),
        }
    }

    /// Takes an idle connection if nobody is waiting, else waits for a hand-off.
    pub fn lease(&self) -> u64 {
        let me = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            if state.1.is_empty()
                && let Some(conn) = state.0.pop()
            {
                return conn;
            }
            let me = Arc::new(Waiter {
                conn: Mutex::new(None),
                thread: thread::current(),
            });
            state.1.push_back(Arc::clone(&me));
            me
        };
        loop {
            if let Some(conn) = me.conn.lock().unwrap_or_else(|e| e.into_inner()).take() {
                return conn;
            }
            thread::park();
        }
    }

    /// Hands the connection to the oldest waiter, or puts it back.
    pub fn release(&self, conn: u64) {
        let waiter = {
            let mut state = self.state.lock().unwrap_or_else(|e| e.into_inner());
            match state.1.pop_front() {
                Some(waiter) => {
                    *waiter.conn.lock().unwrap_or_else(|e| e.into_inner()) = Some(conn);
                    waiter
                }
                None => {
                    state.0.push(conn);
                    return;
                }
            }
        };
        waiter.thread.unpark();
    }
}
