//! Pool benchmarks. `cargo bench -p hcx-benches --bench pool`
//!
//! - `pool_lease_release_uncontended`: one thread, one route, one idle connection.
//! - `pool_contended_16x4/{hcx,mutex_vec_notify_all}`: 16 threads on 4 slots, time per
//!   cycle (wall time / all cycles), hcx and the naive baseline in the same run.
//! - `pool_many_routes/{1,10000,10000_same_route}`: cost per cycle when the pool holds 1
//!   or 10,000 routes (each with an idle connection), cycling through them in a stride
//!   that touches a cold route every cycle, or on one route of the 10,000.
//!
//! Before criterion runs, a fixed 3 s run per pool prints fairness (min/max cycles per
//! thread) and lease-wait percentiles, side by side, including the floor of a strictly
//! fair hand-off (`minimal_fifo`, `hcx_benches::fifo`). That one stays out of criterion:
//! with its ~40 ns critical path, the two threads that hold the CPUs often never exhaust
//! the four slots, nobody queues, and criterion's samples swing between 40 ns and
//! 2.6 µs (measured: median 41 ns, interval 42–580 ns).

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use criterion::{BenchmarkId, Criterion, criterion_group};
use hcx_benches::baseline::MutexVecPool;
use hcx_benches::contention::{BenchPool, Fairness, Hcx, run_cycles, run_for};
use hcx_benches::fifo::MinimalFifoPool;
use hcx_pool::{Decision, Pool, PoolConfig};

const THREADS: usize = 16;
const SLOTS: usize = 4;

fn uncontended(c: &mut Criterion) {
    let pool = Hcx::new(1).0;
    c.bench_function("pool_lease_release_uncontended", |b| {
        b.iter(|| {
            let lease = pool
                .lease(black_box(&0), None)
                .get(Duration::ZERO)
                .expect("idle connection");
            lease.release(Decision::keep(None));
        })
    });
}

fn contended(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_contended_16x4");
    group.sample_size(20);
    let hcx = Arc::new(Hcx::new(SLOTS));
    let naive = Arc::new(MutexVecPool::new(SLOTS));
    // Wall time of `iters` cycles spread over 16 threads: criterion divides by `iters`,
    // so the figure is wall time per cycle, all threads together.
    group.bench_function("hcx", |b| b.iter_custom(|iters| scaled(&hcx, iters)));
    group.bench_function("mutex_vec_notify_all", |b| {
        b.iter_custom(|iters| scaled(&naive, iters))
    });

    group.finish();
}

/// Runs about `iters` cycles over all threads; returns the wall time scaled to exactly `iters`.
fn scaled<P: BenchPool>(pool: &Arc<P>, iters: u64) -> Duration {
    let per_thread = iters.div_ceil(THREADS as u64);
    let elapsed = run_cycles(pool, THREADS, per_thread);
    elapsed.mul_f64(iters as f64 / (per_thread * THREADS as u64) as f64)
}

fn many_routes(c: &mut Criterion) {
    let mut group = c.benchmark_group("pool_many_routes");
    // (routes in the pool, step between consecutive cycles' routes, name)
    let cases = [
        (1u32, 0u32, "1"),
        // Every cycle on a different, cache-cold route: the headline figure.
        (10_000, 7919, "10000"),
        // The same route every cycle while 9,999 others hold idle connections: what
        // the pool's own bookkeeping costs with many routes, caches aside.
        (10_000, 0, "10000_same_route"),
    ];
    for (routes, stride, name) in cases {
        let pool: Pool<u32, u64> =
            Pool::new(PoolConfig::with_limits(routes as usize, 1)).expect("valid limits");
        for r in 0..routes {
            let mut lease = pool.lease(&r, None).get(Duration::ZERO).expect("free slot");
            lease.assign(u64::from(r));
            lease.release(Decision::keep(None));
        }
        let mut next = 0u32;
        group.bench_function(BenchmarkId::from_parameter(name), |b| {
            b.iter(|| {
                next = (next + stride) % routes;
                let lease = pool
                    .lease(&next, None)
                    .get(Duration::ZERO)
                    .expect("idle connection");
                lease.release(Decision::keep(None));
            })
        });
    }
    group.finish();
}

fn report(name: &str, f: &Fairness) {
    println!(
        "{name:<22} cycles {:>9}  per cycle {:>8.2?}  fairness {:.2}  wait p50 {:>8.1?}  p99 {:>8.1?}  p99.9 {:>8.1?}  max {:>8.1?}",
        f.per_thread.iter().sum::<u64>(),
        f.per_cycle(),
        f.ratio(),
        f.wait(0.5),
        f.wait(0.99),
        f.wait(0.999),
        f.wait(1.0),
    );
}

fn fairness_report<P: BenchPool>(name: &str, pool: Arc<P>, secs: u64) {
    let f = run_for(&pool, THREADS, Duration::from_secs(secs));
    report(name, &f);
}

criterion_group!(benches, uncontended, contended, many_routes);

fn main() {
    let secs = std::env::var("HCX_FAIRNESS_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3);
    println!(
        "pool_contended_16x4 fairness ({THREADS} threads, {SLOTS} slots, {secs} s each, same run):"
    );
    fairness_report("hcx", Arc::new(Hcx::new(SLOTS)), secs);
    fairness_report(
        "mutex_vec_notify_all",
        Arc::new(MutexVecPool::new(SLOTS)),
        secs,
    );
    fairness_report("hcx (again)", Arc::new(Hcx::new(SLOTS)), secs);
    fairness_report("minimal_fifo", Arc::new(MinimalFifoPool::new(SLOTS)), secs);
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
