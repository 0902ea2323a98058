//! The many-routes cycle for profiling: `cargo run --release -p hcx-benches --example routes_loop -- [routes] [cycles]`.
//!
//! Mirrors `pool_many_routes` in `benches/benches/pool.rs`: one idle connection per
//! route, each cycle leases and releases on a route 7919 steps further on.
use std::time::{Duration, Instant};

use hcx_pool::{Decision, Pool, PoolConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let routes: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(10_000);
    let n: u32 = args
        .next()
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    let stride: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(7919);
    let pool: Pool<u32, u64> = Pool::new(PoolConfig::with_limits(routes as usize, 1))?;
    for r in 0..routes {
        let mut lease = pool.lease(&r, None).get(Duration::ZERO)?;
        lease.assign(u64::from(r));
        lease.release(Decision::keep(None));
    }
    let mut next = 0u32;
    let start = Instant::now();
    for _ in 0..n {
        next = (next + stride) % routes;
        let lease = pool.lease(&next, None).get(Duration::ZERO)?;
        lease.release(Decision::keep(None));
    }
    println!(
        "{routes} routes: {:?} per lease/release cycle",
        start.elapsed() / n
    );
    Ok(())
}
