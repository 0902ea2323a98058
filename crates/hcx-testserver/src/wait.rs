//! Waiting on a recorder's counters: the one condition-variable loop the server's and
//! the proxy's records share.

use parking_lot::{Condvar, Mutex};
use std::time::{Duration, Instant};

/// Blocks until `condition` holds for the counters `stats` reads from the state, or
/// `timeout` passes; `changed` is notified at each change. The condition runs under
/// the lock. On a timeout: how long it waited and the counters then.
pub(crate) fn wait_for<S, T: Copy>(
    state: &Mutex<S>,
    changed: &Condvar,
    timeout: Duration,
    stats: impl Fn(&S) -> T,
    mut condition: impl FnMut(&T) -> bool,
) -> Result<T, (Duration, T)> {
    let start = Instant::now();
    let deadline = start.checked_add(timeout);
    let mut s = state.lock();
    loop {
        let now = stats(&s);
        if condition(&now) {
            return Ok(now);
        }
        let timed_out = match deadline {
            Some(deadline) => changed.wait_until(&mut s, deadline).timed_out(),
            None => {
                changed.wait(&mut s);
                false
            }
        };
        let now = stats(&s);
        if timed_out && !condition(&now) {
            return Err((start.elapsed(), now));
        }
    }
}
