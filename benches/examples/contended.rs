//! The 16×4 contended workload alone, for quick A/B runs while tuning:
//! `cargo run --release -p hcx-benches --example contended -- [seconds] [rounds] [hcx|baseline|fifo|all]`.
//!
//! Each round runs hcx, the `Mutex<Vec<_>>` + `notify_all` baseline and the minimal
//! strict-FIFO pool (the cost floor of a fair hand-off) back to back, or the one named,
//! and prints one line each: wall time per cycle, fairness (min/max cycles per thread) and
//! lease-wait percentiles. The criterion bench (`--bench pool`) is the reference figure.

use std::sync::Arc;
use std::time::Duration;

use hcx_benches::baseline::MutexVecPool;
use hcx_benches::contention::{Fairness, Hcx, run_for};
use hcx_benches::fifo::MinimalFifoPool;

const THREADS: usize = 16;
const SLOTS: usize = 4;

fn line(name: &str, f: &Fairness) {
    println!(
        "{name:<22} per cycle {:>8.2?}  fairness {:.2}  wait p50 {:>8.1?}  p99 {:>8.1?}  p99.9 {:>8.1?}  max {:>8.1?}",
        f.per_cycle(),
        f.ratio(),
        f.wait(0.5),
        f.wait(0.99),
        f.wait(0.999),
        f.wait(1.0),
    );
}

fn main() {
    let mut args = std::env::args().skip(1);
    let secs: u64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let rounds: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(3);
    let which = args.next().unwrap_or_else(|| "all".into());
    let runs = |name: &str| which == "all" || which == name;
    let duration = Duration::from_secs(secs);
    for _ in 0..rounds {
        if runs("hcx") {
            let f = run_for(&Arc::new(Hcx::new(SLOTS)), THREADS, duration);
            line("hcx", &f);
        }
        if runs("baseline") {
            let f = run_for(&Arc::new(MutexVecPool::new(SLOTS)), THREADS, duration);
            line("mutex_vec_notify_all", &f);
        }
        if runs("fifo") {
            let f = run_for(&Arc::new(MinimalFifoPool::new(SLOTS)), THREADS, duration);
            line("minimal_fifo", &f);
        }
    }
}
