//! The two blocking primitives the pool uses, behind one seam so that `--cfg loom`
//! can swap parking_lot for loom's model-checked versions.
//!
//! Only the surface the pool needs is exposed: `Mutex::lock`, `Condvar::wait_until`
//! (a deadline of `None` waits for ever) and `Condvar::notify_one`.

use std::time::Instant;

#[cfg(not(loom))]
mod imp {
    use super::Instant;

    pub(crate) use parking_lot::{Mutex, MutexGuard};

    #[derive(Debug, Default)]
    pub(crate) struct Condvar(parking_lot::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(parking_lot::Condvar::new())
        }

        /// Waits for a notification or the deadline; returns `true` when it timed out.
        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            deadline: Option<Instant>,
        ) -> bool {
            match deadline {
                Some(deadline) => self.0.wait_until(guard, deadline).timed_out(),
                None => {
                    self.0.wait(guard);
                    false
                }
            }
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }
}

#[cfg(loom)]
mod imp {
    use super::Instant;
    use std::ops::{Deref, DerefMut};

    #[derive(Debug)]
    pub(crate) struct Mutex<T>(loom::sync::Mutex<T>);

    pub(crate) struct MutexGuard<'a, T>(Option<loom::sync::MutexGuard<'a, T>>);

    impl<T> Mutex<T> {
        pub(crate) fn new(value: T) -> Self {
            Self(loom::sync::Mutex::new(value))
        }

        pub(crate) fn lock(&self) -> MutexGuard<'_, T> {
            MutexGuard(Some(self.0.lock().unwrap_or_else(|e| e.into_inner())))
        }
    }

    impl<T> Deref for MutexGuard<'_, T> {
        type Target = T;
        fn deref(&self) -> &T {
            self.0
                .as_ref()
                .expect("guard is only empty inside Condvar::wait_until")
        }
    }

    impl<T> DerefMut for MutexGuard<'_, T> {
        fn deref_mut(&mut self) -> &mut T {
            self.0
                .as_mut()
                .expect("guard is only empty inside Condvar::wait_until")
        }
    }

    #[derive(Debug)]
    pub(crate) struct Condvar(loom::sync::Condvar);

    impl Condvar {
        pub(crate) fn new() -> Self {
            Self(loom::sync::Condvar::new())
        }

        /// loom does not model time: a timed wait is an untimed one. Tests model a
        /// timeout as a zero-timeout `get`, which never waits.
        pub(crate) fn wait_until<T>(
            &self,
            guard: &mut MutexGuard<'_, T>,
            _deadline: Option<Instant>,
        ) -> bool {
            let inner = guard.0.take().expect("guard is held");
            guard.0 = Some(self.0.wait(inner).unwrap_or_else(|e| e.into_inner()));
            false
        }

        pub(crate) fn notify_one(&self) {
            self.0.notify_one();
        }
    }
}

pub(crate) use imp::{Condvar, Mutex, MutexGuard};
