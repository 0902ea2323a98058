//! The contended workload: `threads` threads lease and release as fast as they can
//! on one route with `slots` connections, recording each lease's wait.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Barrier, OnceLock};
use std::thread;
use std::time::{Duration, Instant};

use hcx_pool::{Decision, Lease, Pool, PoolConfig};

use crate::baseline::MutexVecPool;
use crate::fifo::MinimalFifoPool;

/// Something to lease from and release to.
pub trait BenchPool: Send + Sync + 'static {
    /// What a lease holds.
    type Held;

    /// Leases, waiting as long as it takes.
    fn take(&self) -> Self::Held;

    /// Releases as reusable.
    fn give_back(&self, held: Self::Held);

    /// One lease + release cycle; returns how long the lease waited.
    fn cycle(&self) -> Duration {
        let asked = Instant::now();
        let held = self.take();
        let waited = asked.elapsed();
        self.give_back(held);
        waited
    }

    /// One lease + release cycle, not timed: for throughput figures, which should not
    /// include two clock reads per cycle (about 0.2 µs on the 2-core VM under load).
    fn cycle_untimed(&self) {
        let held = self.take();
        self.give_back(held);
    }
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
            lease.release(Decision::keep(None));
        }
        Self(pool)
    }
}

impl BenchPool for Hcx {
    type Held = Lease<u32, u64>;

    fn take(&self) -> Self::Held {
        self.0
            .lease(&0, None)
            .wait()
            .expect("pool is not shut down")
    }

    fn give_back(&self, lease: Self::Held) {
        lease.release(Decision::keep(None));
    }
}

impl BenchPool for MutexVecPool {
    type Held = u64;

    fn take(&self) -> u64 {
        self.lease()
    }

    fn give_back(&self, conn: u64) {
        self.release(conn);
    }
}

impl BenchPool for MinimalFifoPool {
    type Held = u64;

    fn take(&self) -> u64 {
        self.lease()
    }

    fn give_back(&self, conn: u64) {
        self.release(conn);
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
                    pool.cycle_untimed();
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
    /// Cycles each thread started inside the measured window.
    pub per_thread: Vec<u64>,
    /// The lease wait of every cycle started inside the window, sorted.
    pub waits: Vec<Duration>,
    /// Length of the measured window.
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

/// Every thread cycles from a common start until told to stop; only cycles started in
/// one common window, `duration` long after a warm-up of a tenth of it (at least
/// 100 ms), are counted. All threads are contending for the whole window, so the
/// figures describe the pool, not how late the scheduler first ran each thread.
pub fn run_for<P: BenchPool>(pool: &Arc<P>, threads: usize, duration: Duration) -> Fairness {
    let barrier = Arc::new(Barrier::new(threads + 1));
    let stop = Arc::new(AtomicBool::new(false));
    let warm_up = (duration / 10).max(Duration::from_millis(100));
    // Set once the threads exist, before any of them starts cycling.
    let window = Arc::new(OnceLock::<(Instant, Instant)>::new());
    let workers: Vec<_> = (0..threads)
        .map(|_| {
            let (pool, barrier) = (Arc::clone(pool), Arc::clone(&barrier));
            let (stop, window) = (Arc::clone(&stop), Arc::clone(&window));
            thread::spawn(move || {
                let mut waits = Vec::with_capacity(1 << 20);
                barrier.wait();
                let &(from, to) = window.get().expect("window set before the barrier");
                while !stop.load(Ordering::Relaxed) {
                    let started = Instant::now();
                    let waited = pool.cycle();
                    if started >= from && started < to {
                        waits.push(waited);
                    }
                }
                waits
            })
        })
        .collect();
    let from = Instant::now() + warm_up;
    let to = from + duration;
    window.set((from, to)).expect("set once");
    barrier.wait();
    thread::sleep(to.saturating_duration_since(Instant::now()));
    stop.store(true, Ordering::Relaxed);
    let mut per_thread = Vec::new();
    let mut waits = Vec::new();
    for w in workers {
        let mine = w.join().expect("worker");
        per_thread.push(mine.len() as u64);
        waits.extend(mine);
    }
    waits.sort_unstable();
    Fairness {
        per_thread,
        waits,
        elapsed: duration,
    }
}
