//! The contended workload: `threads` threads lease and release as fast as they can
//! on one route with `slots` connections, recording each lease's wait.

use std::sync::{Arc, Barrier};
use std::thread;
use std::time::{Duration, Instant};

use hcx_pool::{Pool, PoolConfig};

use crate::baseline::MutexVecPool;

/// Something to lease from and release to.
pub trait BenchPool: Send + Sync + 'static {
    /// One lease + release cycle; returns how long the lease waited.
    fn cycle(&self) -> Duration;
}

/// hcx's pool, one route, connections already open.
#[derive(Debug, Clone)]
pub struct Hcx(pub Pool<u32, u64>);

impl Hcx {
    /// A pool of `slots` connected slots on route 0.
    pub fn new(slots: usize) -> Self {
        let pool = Pool::new(PoolConfig::with_limits(slots, slots)).expect("valid limits");
        let leases: Vec<_> = (0..slots)
            .map(|i| {
                let mut lease = pool.lease(&0, None).get(Duration::ZERO).expect("free slot");
                lease.assign(i as u64);
                lease
            })
            .collect();
        for lease in leases {
            lease.release(true, None);
        }
        Self(pool)
    }
}

impl BenchPool for Hcx {
    fn cycle(&self) -> Duration {
        let asked = Instant::now();
        let lease = self
            .0
            .lease(&0, None)
            .wait()
            .expect("pool is not shut down");
        let waited = asked.elapsed();
        lease.release(true, None);
        waited
    }
}

impl BenchPool for MutexVecPool {
    fn cycle(&self) -> Duration {
        let asked = Instant::now();
        let conn = self.lease();
        let waited = asked.elapsed();
        self.release(conn);
        waited
    }
}

/// Runs `cycles_per_thread` cycles on each of `threads` threads; returns the wall time.
pub fn run_cycles<P: BenchPool>(pool: &Arc<P>, threads: usize, cycles_per_thread: u64) -> Duration {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (pool, barrier) = (Arc::clone(pool), Arc::clone(&barrier));
            thread::spawn(move || {
                barrier.wait();
                for _ in 0..cycles_per_thread {
                    pool.cycle();
                }
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    for w in workers {
        w.join().expect("worker");
    }
    start.elapsed()
}

/// What a fixed-duration run saw.
#[derive(Debug)]
pub struct Fairness {
    /// Cycles completed by each thread.
    pub per_thread: Vec<u64>,
    /// Every lease wait, sorted.
    pub waits: Vec<Duration>,
    /// Wall time of the run.
    pub elapsed: Duration,
}

impl Fairness {
    /// min / max cycles per thread: 1.0 is perfectly fair.
    pub fn ratio(&self) -> f64 {
        let min = self.per_thread.iter().copied().min().unwrap_or(0) as f64;
        let max = self.per_thread.iter().copied().max().unwrap_or(1).max(1) as f64;
        min / max
    }

    /// The `q` quantile (0..=1) of the lease waits.
    pub fn wait(&self, q: f64) -> Duration {
        if self.waits.is_empty() {
            return Duration::ZERO;
        }
        let idx = ((self.waits.len() - 1) as f64 * q).round() as usize;
        self.waits[idx]
    }

    /// Wall time per cycle, all threads together.
    pub fn per_cycle(&self) -> Duration {
        let total: u64 = self.per_thread.iter().sum();
        self.elapsed / total.max(1) as u32
    }
}

/// Every thread cycles until `duration` has passed; per-thread counts and all waits.
pub fn run_for<P: BenchPool>(pool: &Arc<P>, threads: usize, duration: Duration) -> Fairness {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (pool, barrier) = (Arc::clone(pool), Arc::clone(&barrier));
            thread::spawn(move || {
                let mut waits = Vec::with_capacity(1 << 20);
                barrier.wait();
                let end = Instant::now() + duration;
                while Instant::now() < end {
                    waits.push(pool.cycle());
                }
                waits
            })
        })
        .collect();
    barrier.wait();
    let start = Instant::now();
    let mut per_thread = Vec::new();
    let mut waits = Vec::new();
    for w in workers {
        let mine = w.join().expect("worker");
        per_thread.push(mine.len() as u64);
        waits.extend(mine);
    }
    let elapsed = start.elapsed();
    waits.sort_unstable();
    Fairness {
        per_thread,
        waits,
        elapsed,
    }
}
