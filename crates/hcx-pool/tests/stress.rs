//! 16 threads on 4 slots, 100,000 lease/release cycles in all, with random cancels
//! (own and other threads'), zero and short timeouts, discards and three routes
//! competing for the total. Every thread must finish and every connection must be
//! accounted for: idle in the pool or closed exactly once, nothing leased or pending.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hcx_pool::{CancelHandle, CloseReason, LeaseError, Pool, PoolConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const THREADS: usize = 16;
const CYCLES: usize = 100_000;
const SLOTS: usize = 4;

#[derive(Default)]
struct Tally {
    leased: AtomicUsize,
    timeouts: AtomicUsize,
    cancelled: AtomicUsize,
}

#[test]
fn sixteen_threads_four_slots_everything_accounted_for() {
    let closed = Arc::new(AtomicUsize::new(0));
    let counter = Arc::clone(&closed);
    let pool: Pool<u8, u32> = Pool::builder(PoolConfig::with_limits(SLOTS, SLOTS))
        .disposal(move |_c: u32, _r: CloseReason| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let opened = Arc::new(AtomicU32::new(0));
    let in_use = Arc::new(AtomicUsize::new(0));
    let tally = Arc::new(Tally::default());
    let handles: Arc<Mutex<Vec<CancelHandle<u8, u32>>>> = Arc::default();

    let workers: Vec<_> = (0..THREADS)
        .map(|t| {
            let (pool, opened, in_use, tally, handles) = (
                pool.clone(),
                Arc::clone(&opened),
                Arc::clone(&in_use),
                Arc::clone(&tally),
                Arc::clone(&handles),
            );
            thread::spawn(move || {
                let mut rng = StdRng::seed_from_u64(t as u64);
                for _ in 0..CYCLES / THREADS {
                    let route = rng.gen_range(0..3u8);
                    let req = pool.lease(&route, None);
                    let roll = rng.gen_range(0..100);
                    let result = if roll < 5 {
                        req.cancel();
                        tally.cancelled.fetch_add(1, Ordering::Relaxed);
                        continue;
                    } else if roll < 10 {
                        // Publish a handle for some other thread to cancel at random.
                        handles.lock().unwrap().push(req.cancel_handle());
                        req.get(Duration::from_secs(60))
                    } else if roll < 15 {
                        req.get(Duration::ZERO)
                    } else if roll < 20 {
                        req.get(Duration::from_micros(50))
                    } else {
                        req.get(Duration::from_secs(60))
                    };
                    if rng.gen_range(0..10) == 0 {
                        let victim = handles.lock().unwrap().pop();
                        if let Some(h) = victim {
                            h.cancel();
                        }
                    }
                    match result {
                        Ok(mut lease) => {
                            assert_eq!(*lease.route(), route, "handed another route's slot");
                            let now = in_use.fetch_add(1, Ordering::SeqCst) + 1;
                            assert!(now <= SLOTS, "{now} slots in use");
                            if lease.connection().is_none() {
                                lease.assign(opened.fetch_add(1, Ordering::Relaxed));
                            }
                            tally.leased.fetch_add(1, Ordering::Relaxed);
                            in_use.fetch_sub(1, Ordering::SeqCst);
                            match rng.gen_range(0..20) {
                                0 => drop(lease),
                                1 => lease.release(false, None),
                                _ => lease.release(true, Some(Duration::from_secs(30))),
                            }
                        }
                        Err(LeaseError::Timeout(f)) => {
                            assert!((10..20).contains(&roll), "a 60 s wait timed out: {f:?}");
                            tally.timeouts.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(LeaseError::Cancelled(_)) => {
                            tally.cancelled.fetch_add(1, Ordering::Relaxed);
                        }
                        Err(e) => panic!("unexpected {e}"),
                    }
                }
            })
        })
        .collect();
    for w in workers {
        w.join().expect("worker finished without panicking");
    }
    // Handles left over cancel nothing: their requests are long gone.
    for h in handles.lock().unwrap().drain(..) {
        assert!(!h.cancel());
    }

    let stats = pool.stats();
    assert_eq!((stats.leased, stats.pending), (0, 0), "{stats}");
    let opened = opened.load(Ordering::Relaxed) as usize;
    assert_eq!(
        stats.available + closed.load(Ordering::Relaxed),
        opened,
        "every connection accounted for"
    );
    assert!(stats.available <= SLOTS);
    pool.check_invariants().unwrap();
    let t = &tally;
    let total = t.leased.load(Ordering::Relaxed)
        + t.timeouts.load(Ordering::Relaxed)
        + t.cancelled.load(Ordering::Relaxed);
    assert_eq!(total, CYCLES, "every cycle ended one way or another");
    assert!(t.leased.load(Ordering::Relaxed) > CYCLES / 2);
    pool.shutdown();
    assert_eq!(closed.load(Ordering::Relaxed), opened);
}
