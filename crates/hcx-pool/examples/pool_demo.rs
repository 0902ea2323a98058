//! Eight threads share a pool with 3 slots for one route and 4 in total, lease and
//! release 1,000 times each, and print what the pool saw: per-thread lease counts
//! (fairness), the worst wait, and why connections were closed.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hcx_pool::{CloseReason, Decision, Pool, PoolConfig};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let opened = Arc::new(AtomicU64::new(0));
    let pool: Pool<String, u64> = Pool::builder(PoolConfig::with_limits(4, 3))
        .disposal(|conn: u64, reason: CloseReason| {
            if reason == CloseReason::Shutdown {
                println!("  closed connection {conn}: {reason}");
            }
        })
        .build()?;
    let routes = ["api.example:443", "cdn.example:443"];

    let start = Instant::now();
    let handles: Vec<_> = (0..8)
        .map(|t| {
            let pool = pool.clone();
            let opened = Arc::clone(&opened);
            let route = routes[t % 2].to_string();
            thread::spawn(move || {
                let mut worst = Duration::ZERO;
                for i in 0..1_000 {
                    let asked = Instant::now();
                    let mut lease = pool.lease(&route, None).get(Duration::from_secs(10))?;
                    worst = worst.max(asked.elapsed());
                    if !lease.is_reused() {
                        lease.assign(opened.fetch_add(1, Ordering::Relaxed));
                    }
                    // Every 250th exchange the "server" says Connection: close.
                    lease.release(if i % 250 == 100 {
                        Decision::Close(CloseReason::ResponseConnectionClose)
                    } else {
                        Decision::keep(Some(Duration::from_secs(30)))
                    });
                }
                Ok::<_, hcx_pool::LeaseError>(worst)
            })
        })
        .collect();
    for (t, handle) in handles.into_iter().enumerate() {
        let worst = handle.join().map_err(|_| "worker panicked")??;
        println!(
            "thread {t} ({}): 1000 leases, worst wait {worst:?}",
            routes[t % 2]
        );
    }
    println!("8000 leases in {:?}", start.elapsed());
    for route in routes {
        println!("route {route}: {}", pool.route_stats(&route.to_string()));
    }
    println!("pool: {}", pool.stats());
    println!("connections opened: {}", opened.load(Ordering::Relaxed));
    println!("closed so far: {}", pool.close_counts());
    pool.shutdown();
    println!(
        "after shutdown: {} (closed: {})",
        pool.stats(),
        pool.close_counts()
    );
    Ok(())
}
