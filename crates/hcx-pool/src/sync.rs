//! The blocking primitives the pool uses, behind one seam so that `--cfg loom` can
//! swap parking_lot and std's thread parking for loom's model-checked versions.
//!
//! Only the surface the pool needs is exposed: `Mutex::lock`, a [`Waker`] that unparks
//! the current thread, and `park_until` (a deadline of `None` parks until unparked).

use std::sync::Arc;
use std::task::{Wake, Waker};
use std::time::Instant;

#[cfg(not(loom))]
use std::thread::{self, Thread};

#[cfg(loom)]
use loom::thread::{self, Thread};

/// Unparks the thread that made it.
struct Unparker(Thread);

impl Wake for Unparker {
    fn wake(self: Arc<Self>) {
        self.0.unpark();
    }

    fn wake_by_ref(self: &Arc<Self>) {
        self.0.unpark();
    }
}

/// A waker for a thread that blocks in [`park_until`]: a blocked `get` leaves it in its
/// mailbox like an async task leaves its own. One per thread, made on first use.
#[cfg(not(loom))]
pub(crate) fn thread_waker() -> Waker {
    thread_local! {
        static WAKER: Waker = Waker::from(Arc::new(Unparker(thread::current())));
    }
    // Gone already if this runs in another thread-local's destructor: make one.
    WAKER
        .try_with(Waker::clone)
        .unwrap_or_else(|_| Waker::from(Arc::new(Unparker(thread::current()))))
}

/// A waker for a thread that blocks in [`park_until`] (loom threads are not real ones:
/// no thread-local cache).
#[cfg(loom)]
pub(crate) fn thread_waker() -> Waker {
    Waker::from(Arc::new(Unparker(thread::current())))
}

/// Parks the current thread until it is unparked, the deadline passes, or spuriously
/// (callers re-check their condition).
#[cfg(not(loom))]
pub(crate) fn park_until(deadline: Option<Instant>) {
    match deadline {
        None => thread::park(),
        Some(deadline) => {
            let now = Instant::now();
            if deadline > now {
                thread::park_timeout(deadline - now);
            }
        }
    }
}

/// loom does not model time: a timed park is an untimed one. Tests model a timeout as
/// a zero-timeout `get`, which never parks.
#[cfg(loom)]
pub(crate) fn park_until(_deadline: Option<Instant>) {
    thread::park();
}

#[cfg(not(loom))]
mod imp {
    pub(crate) use parking_lot::{Mutex, MutexGuard};
}

#[cfg(loom)]
mod imp {
    /// loom's mutex with parking_lot's surface: `lock` returns the guard directly.
    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) type MutexGuard<'a, T> = loom::sync::MutexGuard<'a, T>;

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            self.0.lock().unwrap_or_else(|e| e.into_inner())
        }
    }
}

pub(crate) use imp::{Mutex, MutexGuard};
