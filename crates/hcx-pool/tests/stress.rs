//! 16 threads on 4 slots, 100,000 lease/release cycles in all, with random cancels
//! (own and other threads'), zero and short timeouts, discards, three routes with 2
//! slots each competing for the total of 4, validities from zero to 30 s (so
//! connections expire mid-run) and a janitor thread racing `close_expired` and
//! `close_idle`. Every thread must finish and every connection must be accounted
//! for: idle in the pool or closed exactly once, nothing leased or pending.

use std::sync::atomic::{AtomicU32, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::Duration;

use hcx_pool::{CancelHandle, CloseReason, Decision, LeaseError, Pool, PoolConfig};
use rand::rngs::StdRng;
use rand::{Rng, SeedableRng};

const THREADS: usize = 16;
const CYCLES: usize = 100_000;
const SLOTS: usize = 4;
const PER_ROUTE: usize = 2;

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
    let pool: Pool<u8, u32> = Pool::builder(PoolConfig::with_limits(SLOTS, PER_ROUTE))
        .disposal(move |_c: u32, _r: CloseReason| {
            counter.fetch_add(1, Ordering::Relaxed);
        })
        .build()
        .unwrap();
    let opened = Arc::new(AtomicU32::new(0));
    let in_use = Arc::new(AtomicUsize::new(0));
    let route_in_use: Arc<[AtomicUsize; 3]> = Arc::new(Default::default());
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
            let route_in_use = Arc::clone(&route_in_use);
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
                            let on_route = &route_in_use[usize::from(route)];
                            let mine = on_route.fetch_add(1, Ordering::SeqCst) + 1;
                            assert!(mine <= PER_ROUTE, "{mine} slots of route {route} in use");
                            on_route.fetch_sub(1, Ordering::SeqCst);
                            if lease.connection().is_none() {
                                lease.assign(opened.fetch_add(1, Ordering::Relaxed));
                            }
                            tally.leased.fetch_add(1, Ordering::Relaxed);
                            in_use.fetch_sub(1, Ordering::SeqCst);
                            match rng.gen_range(0..20) {
                                0 => drop(lease),
                                1 => lease.discard(CloseReason::Abandoned),
                                2 => lease.release(Decision::Keep {
                                    valid_for: Some(Duration::ZERO),
                                }),
                                3..=5 => lease.release(Decision::keep(Some(
                                    Duration::from_micros(rng.gen_range(1..2_000)),
                                ))),
                                _ => lease.release(Decision::keep(Some(Duration::from_secs(30)))),
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
    // The janitor runs a bounded number of sweeps while the workers run.
    let janitor = {
        let pool = pool.clone();
        thread::spawn(move || {
            for i in 0..20_000u32 {
                if i % 2 == 0 {
                    pool.close_expired();
                } else {
                    pool.close_idle(Duration::from_micros(500));
                }
                thread::yield_now();
            }
        })
    };
    for w in workers {
        w.join().expect("worker finished without panicking");
    }
    janitor.join().expect("janitor finished");
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
