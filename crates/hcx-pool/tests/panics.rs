//! What the pool does when user code misbehaves around it: a route key whose `Clone`
//! panics under the pool lock, and a lease waited on from a thread-local destructor.

use std::future::Future;
use std::pin::Pin;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::Duration;

use hcx_pool::{Pool, PoolConfig};

/// A route key whose `Clone` panics while `panicking` is set.
#[derive(Debug)]
struct Key {
    name: &'static str,
    panicking: Arc<AtomicBool>,
}

impl Clone for Key {
    fn clone(&self) -> Self {
        if self.panicking.load(Ordering::SeqCst) {
            panic!("clone of route {} failed", self.name);
        }
        Key {
            name: self.name,
            panicking: Arc::clone(&self.panicking),
        }
    }
}

impl PartialEq for Key {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name
    }
}

impl Eq for Key {}

impl std::hash::Hash for Key {
    fn hash<H: std::hash::Hasher>(&self, state: &mut H) {
        self.name.hash(state);
    }
}

struct CountWakes(AtomicUsize);

impl Wake for CountWakes {
    fn wake(self: Arc<Self>) {
        self.0.fetch_add(1, Ordering::SeqCst);
    }
}

#[test]
fn a_panic_under_the_lock_after_a_hand_off_still_wakes_the_served_request() {
    let (calm, panicky) = (
        Arc::new(AtomicBool::new(false)),
        Arc::new(AtomicBool::new(false)),
    );
    let key = |name, flag: &Arc<AtomicBool>| Key {
        name,
        panicking: Arc::clone(flag),
    };
    let pool: Pool<Key, u32> = Pool::new(PoolConfig::with_limits(1, 5)).unwrap();
    let _held = pool
        .lease(&key("a", &calm), None)
        .get(Duration::ZERO)
        .unwrap();
    // b waits (its task's waker left in its mailbox), then c.
    let mut req_b = pool.lease(&key("b", &calm), None);
    let wakes = Arc::new(CountWakes(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&wakes));
    let mut cx = Context::from_waker(&waker);
    assert!(Future::poll(Pin::new(&mut req_b), &mut cx).is_pending());
    let _req_c = pool.lease(&key("c", &panicky), None);
    assert_eq!(pool.stats().pending, 2);

    // Raising the limit serves b, then panics cloning c's key for its new slot.
    panicky.store(true, Ordering::SeqCst);
    let raised = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| pool.set_max_total(3)));
    assert!(raised.is_err(), "the key's panic reaches the caller");
    panicky.store(false, Ordering::SeqCst);

    assert_eq!(
        wakes.0.load(Ordering::SeqCst),
        1,
        "b was served: it must be woken"
    );
    let std::task::Poll::Ready(Ok(lease_b)) = Future::poll(Pin::new(&mut req_b), &mut cx) else {
        panic!("b picks its slot up");
    };
    // Nothing was counted for c's slot before its key was cloned.
    let stats = pool.stats();
    assert_eq!((stats.leased, stats.pending), (2, 1), "{stats}");
    // The interrupted serving resumes with the next change.
    pool.set_max_total(3).unwrap();
    assert_eq!(pool.stats().pending, 0);
    pool.check_invariants().unwrap();
    drop(lease_b);
}

thread_local! {
    /// Registered before the pool's own thread-local, so dropped after it.
    static WAIT_ON_EXIT: WaitOnExit = const { WaitOnExit(std::cell::RefCell::new(None)) };
}

/// The pool to wait on, and where to say whether the wait timed out.
type OnExit = Option<(Pool<u8, u32>, std::sync::mpsc::Sender<bool>)>;

struct WaitOnExit(std::cell::RefCell<OnExit>);

impl Drop for WaitOnExit {
    /// Waits on a lease from a thread-local destructor, after the pool's cached
    /// thread waker is gone.
    fn drop(&mut self) {
        if let Some((pool, done)) = self.0.borrow_mut().take() {
            let timed_out = pool
                .lease(&0, None)
                .get(Duration::ZERO)
                .is_err_and(|e| e.is_timeout());
            let _ = done.send(timed_out);
        }
    }
}

#[test]
fn a_lease_can_be_waited_on_from_a_thread_local_destructor() {
    let pool: Pool<u8, u32> = Pool::new(PoolConfig::with_limits(1, 1)).unwrap();
    let held = pool.lease(&0, None).get(Duration::ZERO).unwrap();
    let (done, finished) = std::sync::mpsc::channel();
    let p = pool.clone();
    thread::spawn(move || {
        WAIT_ON_EXIT.with(|w| *w.0.borrow_mut() = Some((p.clone(), done)));
        // A first wait on this thread caches the pool's thread waker (registered after
        // WAIT_ON_EXIT, so destroyed before it).
        assert!(p.lease(&0, None).get(Duration::ZERO).is_err());
    })
    .join()
    .expect("the thread and its destructors finish without aborting");
    assert_eq!(
        finished.recv(),
        Ok(true),
        "the destructor's wait timed out normally"
    );
    drop(held);
    pool.check_invariants().unwrap();
}

/// A pool of one connection whose disposal panics while `panicking` is set.
fn pool_with_panicking_disposal(
    clock: Option<hcx_pool::ManualClock>,
) -> (Pool<&'static str, u32>, Arc<AtomicBool>) {
    let panicking = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&panicking);
    let mut builder = Pool::builder(PoolConfig::with_limits(1, 1)).disposal(
        move |_c: u32, _r: hcx_pool::CloseReason| {
            if flag.load(Ordering::SeqCst) {
                panic!("the disposal callback failed");
            }
        },
    );
    if let Some(clock) = clock {
        builder = builder.clock(clock);
    }
    (builder.build().expect("valid limits"), panicking)
}

/// Leases `route` while the disposal panics: the panic reaches the caller, the slot
/// goes back to the pool, and the route can be leased again.
fn lease_through_a_panicking_disposal(
    pool: &Pool<&'static str, u32>,
    panicking: &AtomicBool,
    route: &'static str,
) {
    panicking.store(true, Ordering::SeqCst);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
        pool.lease(&route, None).get(Duration::ZERO)
    }));
    assert!(outcome.is_err(), "the disposal's panic reaches the caller");
    panicking.store(false, Ordering::SeqCst);
    assert_eq!(pool.stats().leased, 0, "{}", pool.stats());
    assert!(pool.lease(&route, None).get(Duration::ZERO).is_ok());
}

/// A lease that closes idle connections on its way (one trimmed to make room, one
/// expired) runs the disposal after it holds its slot: a disposal that panics reaches
/// the caller, but the slot goes back to the pool and the route stays usable.
#[test]
fn a_disposal_panicking_during_a_lease_does_not_leak_its_slot() {
    // Trimmed: route b needs room that route a's idle connection holds.
    let (pool, panicking) = pool_with_panicking_disposal(None);
    let mut a = pool.lease(&"a", None).get(Duration::ZERO).unwrap();
    a.assign(1);
    a.release(hcx_pool::Decision::keep(None));
    lease_through_a_panicking_disposal(&pool, &panicking, "b");

    // Expired: route a's idle connection is past its keep-alive.
    let clock = hcx_pool::ManualClock::new();
    let (pool, panicking) = pool_with_panicking_disposal(Some(clock.clone()));
    let mut a = pool.lease(&"a", None).get(Duration::ZERO).unwrap();
    a.assign(1);
    a.release(hcx_pool::Decision::keep(Some(Duration::from_secs(1))));
    clock.advance(Duration::from_secs(2));
    lease_through_a_panicking_disposal(&pool, &panicking, "a");
}
