//! The cost of one clock read, side by side: `Instant::now` (the pool's `SystemClock`)
//! and the default `CoarseClock`. `cargo run --release -p hcx-benches --example
//! clock_read -- [reads]`; the figures are in `docs/benchmarks.md`.
use std::hint::black_box;
use std::time::Instant;

use hcx_pool::{Clock, CoarseClock, SystemClock};

fn per_read(clock: &dyn Clock, n: u32) -> f64 {
    let start = Instant::now();
    for _ in 0..n {
        black_box(clock.now());
    }
    start.elapsed().as_nanos() as f64 / f64::from(n)
}

fn main() {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000_000);
    let coarse = CoarseClock::new();
    let system = SystemClock;
    // Alternate, five rounds; print every round so the spread shows.
    for round in 1..=5 {
        let s = per_read(&system, n);
        let c = per_read(&coarse, n);
        println!(
            "round {round}: SystemClock {s:.1} ns, CoarseClock {c:.1} ns, ratio {:.2}",
            s / c
        );
    }
}
