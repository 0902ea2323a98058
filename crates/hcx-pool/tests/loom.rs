//! Model-checked races of the pool's hand-off, run with
//! `RUSTFLAGS="--cfg loom" cargo test -p hcx-pool --test loom --release`.
//!
//! loom (not shuttle) because it explores every interleaving of these small
//! scenarios exhaustively up to its preemption bound; it cannot wrap parking_lot, so
//! under `--cfg loom` the pool's `sync` module swaps in loom's Mutex and thread parking.
//! loom does not model time: a timeout is modelled as `get(Duration::ZERO)`, which runs
//! the same give-up path as a real timeout without waiting.
//!
//! Each scenario checks: no lost wake-up (loom reports a deadlock if a waiter is never
//! woken), no over-allocation, and no lost entry (every connection ends idle in the
//! pool or closed through the disposal callback, exactly once).
#![cfg(loom)]

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use hcx_pool::{CloseReason, Decision, Pool, PoolConfig};
use loom::thread;

type P = Pool<u8, u32>;

fn pool(max_total: usize, max_per_route: usize) -> (P, Arc<AtomicUsize>) {
    let closed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&closed);
    let pool = Pool::builder(PoolConfig::with_limits(max_total, max_per_route))
        .disposal(move |_c: u32, _r: CloseReason| {
            counter.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    (pool, closed)
}

fn model(f: impl Fn() + Sync + Send + 'static) {
    let mut builder = loom::model::Builder::new();
    builder.preemption_bound = Some(3);
    builder.check(f);
}

/// Every connection ever assigned is idle in the pool or was closed; none is leased.
fn assert_accounted(pool: &P, closed: &AtomicUsize, opened: usize) {
    let stats = pool.stats();
    assert_eq!(stats.leased, 0, "{stats}");
    assert_eq!(stats.pending, 0, "{stats}");
    assert_eq!(
        stats.available + closed.load(Ordering::SeqCst),
        opened,
        "{stats}"
    );
    pool.check_invariants().unwrap();
}

#[test]
fn release_wakes_a_blocked_waiter() {
    model(|| {
        let (pool, closed) = pool(1, 1);
        let mut held = pool.lease(&0, None).get(Duration::ZERO).unwrap();
        held.assign(1);
        let p = pool.clone();
        let waiter = thread::spawn(move || {
            let lease = p.lease(&0, None).wait().unwrap();
            assert_eq!(lease.connection(), Some(&1), "handed over, not reopened");
            lease.release(Decision::keep(None));
        });
        held.release(Decision::keep(None));
        waiter.join().unwrap();
        assert_accounted(&pool, &closed, 1);
    });
}

#[test]
fn cancel_racing_the_hand_off_loses_nothing() {
    model(|| {
        let (pool, closed) = pool(1, 1);
        let mut held = pool.lease(&0, None).get(Duration::ZERO).unwrap();
        held.assign(1);
        let req = pool.lease(&0, None);
        let handle = req.cancel_handle();
        let waiter = thread::spawn(move || match req.wait() {
            Ok(lease) => {
                lease.release(Decision::keep(None));
                true
            }
            Err(e) => {
                assert!(e.is_cancelled(), "{e}");
                false
            }
        });
        let canceller = thread::spawn(move || handle.cancel());
        held.release(Decision::keep(None));
        let got = waiter.join().unwrap();
        let cancelled = canceller.join().unwrap();
        assert_ne!(got, cancelled, "exactly one of them wins");
        assert_accounted(&pool, &closed, 1);
        assert_eq!(
            pool.stats().available,
            1,
            "the connection was never discarded"
        );
    });
}

#[test]
fn timeout_racing_a_release_loses_nothing() {
    model(|| {
        let (pool, closed) = pool(1, 1);
        let mut held = pool.lease(&0, None).get(Duration::ZERO).unwrap();
        held.assign(1);
        let p = pool.clone();
        let waiter = thread::spawn(move || match p.lease(&0, None).get(Duration::ZERO) {
            Ok(lease) => lease.release(Decision::keep(None)),
            Err(e) => assert!(e.is_timeout(), "{e}"),
        });
        held.release(Decision::keep(None));
        waiter.join().unwrap();
        assert_accounted(&pool, &closed, 1);
        assert_eq!(pool.stats().available, 1);
    });
}

#[test]
fn shutdown_racing_a_waiter_and_a_release() {
    model(|| {
        let (pool, closed) = pool(1, 1);
        let mut held = pool.lease(&0, None).get(Duration::ZERO).unwrap();
        held.assign(1);
        let p = pool.clone();
        let waiter = thread::spawn(move || match p.lease(&0, None).wait() {
            Ok(lease) => lease.release(Decision::keep(None)),
            Err(e) => assert!(e.is_shutdown(), "{e}"),
        });
        let p = pool.clone();
        let stopper = thread::spawn(move || p.shutdown());
        held.release(Decision::keep(None));
        waiter.join().unwrap();
        stopper.join().unwrap();
        assert_accounted(&pool, &closed, 1);
        assert_eq!(
            closed.load(Ordering::SeqCst),
            1,
            "closed once, at shutdown or on return"
        );
    });
}

#[test]
fn three_threads_share_one_slot_without_over_allocation() {
    model(|| {
        let (pool, closed) = pool(1, 1);
        let opened = Arc::new(AtomicUsize::new(0));
        let in_use = Arc::new(AtomicUsize::new(0));
        let worker = |pool: P, opened: Arc<AtomicUsize>, in_use: Arc<AtomicUsize>| {
            move || {
                let mut lease = pool.lease(&0, None).wait().unwrap();
                assert_eq!(
                    in_use.fetch_add(1, Ordering::SeqCst),
                    0,
                    "slot leased twice"
                );
                if lease.connection().is_none() {
                    lease.assign(opened.fetch_add(1, Ordering::SeqCst) as u32);
                }
                in_use.fetch_sub(1, Ordering::SeqCst);
                lease.release(Decision::keep(None));
            }
        };
        let t1 = thread::spawn(worker(
            pool.clone(),
            Arc::clone(&opened),
            Arc::clone(&in_use),
        ));
        let t2 = thread::spawn(worker(
            pool.clone(),
            Arc::clone(&opened),
            Arc::clone(&in_use),
        ));
        worker(pool.clone(), Arc::clone(&opened), Arc::clone(&in_use))();
        t1.join().unwrap();
        t2.join().unwrap();
        assert_eq!(
            opened.load(Ordering::SeqCst),
            1,
            "one slot, one connection, reused"
        );
        assert_accounted(&pool, &closed, 1);
    });
}

#[test]
fn two_routes_competing_for_the_total_limit() {
    model(|| {
        let (pool, closed) = pool(1, 1);
        let opened = Arc::new(AtomicUsize::new(0));
        let run = |pool: P, route: u8, opened: Arc<AtomicUsize>| {
            move || {
                let mut lease = pool.lease(&route, None).wait().unwrap();
                assert_eq!(*lease.route(), route, "never handed another route's slot");
                if lease.connection().is_none() {
                    lease.assign(opened.fetch_add(1, Ordering::SeqCst) as u32);
                }
                lease.release(Decision::keep(None));
            }
        };
        let t = thread::spawn(run(pool.clone(), 1, Arc::clone(&opened)));
        run(pool.clone(), 2, Arc::clone(&opened))();
        t.join().unwrap();
        assert_accounted(&pool, &closed, opened.load(Ordering::SeqCst));
        assert!(pool.stats().available <= 1);
    });
}

#[test]
fn cross_route_hand_off_racing_a_dropped_request() {
    // Total 1: route 1 holds the slot; a waiter on route 2 blocks, a request on
    // route 1 is made and dropped (possibly just as it is served). The release must
    // end with everything accounted for and the blocked waiter served.
    model(|| {
        let (pool, closed) = pool(1, 1);
        let mut held = pool.lease(&1, None).get(Duration::ZERO).unwrap();
        held.assign(1);
        let opened = Arc::new(AtomicUsize::new(1));
        let (p, o) = (pool.clone(), Arc::clone(&opened));
        let waiter = thread::spawn(move || {
            let mut lease = p.lease(&2, None).wait().unwrap();
            assert_eq!(*lease.route(), 2);
            assert!(
                lease.connection().is_none(),
                "route 1's connection is never handed to route 2"
            );
            lease.assign(2);
            o.fetch_add(1, Ordering::SeqCst);
            lease.release(Decision::keep(None));
        });
        let p = pool.clone();
        let dropper = thread::spawn(move || drop(p.lease(&1, None)));
        held.release(Decision::keep(None));
        waiter.join().unwrap();
        dropper.join().unwrap();
        // Route 2's connection may be idle, or trimmed to give the short-lived route 1
        // request a slot: either way it is accounted for exactly once.
        assert_accounted(&pool, &closed, opened.load(Ordering::SeqCst));
    });
}

/// A cancel racing the request's own timeout (or drop): whoever comes second finds
/// nothing to cancel, and the route the request leaves may already be gone.
fn cancel_racing_a_give_up(drop_instead: bool) {
    model(move || {
        // Total 1, held on route 1: the request on route 2 waits with nothing leased
        // on its route, so the route goes away when the request leaves.
        let (pool, _closed) = pool(1, 1);
        let _held = pool.lease(&1, None).get(Duration::ZERO).unwrap();
        let req = pool.lease(&2, None);
        let handle = req.cancel_handle();
        // A loom-visible step, so that loom interleaves the two threads (the handle's
        // upgrade of its weak references is std's, which loom does not see).
        let go = Arc::new(loom::sync::atomic::AtomicUsize::new(0));
        let go2 = Arc::clone(&go);
        let canceller = thread::spawn(move || {
            go2.store(1, Ordering::SeqCst);
            handle.cancel()
        });
        go.load(Ordering::SeqCst);
        let timed_out = if drop_instead {
            drop(req);
            false
        } else {
            match req.get(Duration::ZERO) {
                Err(e) if e.is_timeout() => true,
                Err(e) => {
                    assert!(e.is_cancelled(), "{e}");
                    false
                }
                Ok(_) => panic!("nothing could serve route 2"),
            }
        };
        let cancelled = canceller.join().unwrap();
        if timed_out {
            assert!(!cancelled, "cancel() claims a request that had timed out");
        }
        assert_eq!(pool.stats().pending, 0);
        pool.check_invariants().unwrap();
    });
}

#[test]
fn cancel_racing_a_timeout() {
    cancel_racing_a_give_up(false);
}

#[test]
fn cancel_racing_a_dropped_request() {
    cancel_racing_a_give_up(true);
}
