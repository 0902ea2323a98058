//! Lease/release loop for profiling: `cargo run --release -p hcx-benches --example cycle_loop`.
use std::time::{Duration, Instant};

use hcx_pool::{Decision, Pool, PoolConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let pool: Pool<u32, u64> = Pool::new(PoolConfig::with_limits(1, 1))?;
    let mut lease = pool.lease(&0, None).get(Duration::ZERO)?;
    lease.assign(1);
    lease.release(Decision::keep(None));
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let start = Instant::now();
    for _ in 0..n {
        let lease = pool.lease(&0, None).get(Duration::ZERO)?;
        lease.release(Decision::keep(None));
    }
    println!("{:?} per lease/release cycle", start.elapsed() / n);
    Ok(())
}
