//! Bursts of requests separated by idle gaps around a middlebox's idle timeout: how
//! many requests fail and how many round trips are wasted on forgotten connections,
//! per 1,000 requests, for several client set-ups.
//!
//! `cargo run --release -p hcx-benches --example idle_gaps [-- BURSTS]`
//!
//! The test server sits behind an emulated middlebox that forgets flows idle 60 s
//! (`silent_drop_after`): a request on such a connection is answered with a reset.
//! Its responses grant an hour of keep-alive (`Keep-Alive: timeout=3600`), as a
//! server behind a load balancer often does. Time is simulated: client and server
//! share a manual clock, so a run of hours of traffic takes a second. Each burst is
//! 10 requests 1 s apart, 30% of them POSTs; the gaps between bursts are drawn
//! (fixed seed) uniformly from 20 s to 120 s.
//!
//! Set-ups:
//! - `hcx (learned idle limit)`: the default client.
//! - `hcx, learning off`: the keep-alive as the server grants it, stale probe on
//!   every reuse, idempotent requests retried: what Apache HttpClient 5's defaults do
//!   here (its 2 s validate-after-inactivity probe cannot see a silent drop either,
//!   and it retries only idempotent requests on `NoHttpResponseException`).
//! - `hcx, keep-alive capped at 30 s`: the usual hand-made defence, a keep-alive cap
//!   below the middlebox's timeout (learning off).

use std::time::Duration;

use hcx::http::Request;
use hcx::{Body, Client, DefaultKeepAliveStrategy, ManualClock, PoolingConnectionManager};
use hcx_testserver::{Method, Reply, TestServer};

const T: Duration = Duration::from_secs(60);
const BURST: usize = 10;

/// A small deterministic generator (xorshift64*), so every set-up sees the same gaps.
struct Gaps(u64);

impl Gaps {
    fn next(&mut self, lo: u64, hi: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        let x = self.0.wrapping_mul(0x2545_F491_4F6C_DD1D);
        lo + x % (hi - lo + 1)
    }
}

struct Outcome {
    requests: usize,
    failed: usize,
    wasted: usize,
    opened: u64,
    posts_lost: usize,
    idle_limit_closes: u64,
}

fn run(setup: &str, middlebox: bool, bursts: usize) -> Result<Outcome, Box<dyn std::error::Error>> {
    let clock = ManualClock::new();
    let server_clock = clock.clone();
    let kept = || Reply::ok().header("Keep-Alive", "timeout=3600");
    let mut server = TestServer::builder()
        .route(Method::GET, "/", kept().body("got"))
        .route(Method::POST, "/", kept().body("posted"))
        .clock(move || hcx::Clock::now(&server_clock))
        .keep_requests(0);
    if middlebox {
        server = server.silent_drop_after(T);
    }
    let server = server.start()?;
    let manager = PoolingConnectionManager::builder()
        .clock(clock.clone())
        .build()?;
    let builder = Client::builder().connection_manager(manager);
    let client = match setup {
        "learned" => builder.build()?,
        "off" => builder.learn_idle_limits(false).build()?,
        _ => builder
            .learn_idle_limits(false)
            .keep_alive_strategy(DefaultKeepAliveStrategy::new().with_max(Duration::from_secs(30)))
            .build()?,
    };
    let mut gaps = Gaps(0x9E37_79B9_7F4A_7C15);
    let (mut requests, mut failed, mut posts_lost) = (0, 0, 0);
    for _ in 0..bursts {
        clock.advance(Duration::from_secs(gaps.next(20, 120)));
        for i in 0..BURST {
            if i > 0 {
                clock.advance(Duration::from_secs(1));
            }
            let post = gaps.next(0, 9) < 3;
            let request = if post {
                Request::post(server.url("/")).body(Body::from("order"))?
            } else {
                Request::get(server.url("/")).body(Body::empty())?
            };
            requests += 1;
            match client
                .execute(request)
                .and_then(|r| r.into_body().into_vec())
            {
                Ok(_) => {}
                Err(_) => {
                    failed += 1;
                    posts_lost += usize::from(post);
                }
            }
        }
    }
    Ok(Outcome {
        requests,
        failed,
        wasted: server.dropped_requests().len(),
        opened: client.stats().connections_opened,
        posts_lost,
        idle_limit_closes: client.stats().closes.get(hcx::CloseReason::IdleLimit),
    })
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let bursts: usize = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(1000);
    println!(
        "{bursts} bursts of {BURST} requests (30% POST), gaps 20-120 s, middlebox idle timeout {T:?}"
    );
    println!(
        "{:<36} {:>9} {:>14} {:>16} {:>17}",
        "set-up", "requests", "failed /1000", "wasted RT /1000", "connections /1000"
    );
    for middlebox in [true, false] {
        if !middlebox {
            println!("the same without the middlebox (the server keeps connections an hour):");
        }
        for (name, setup) in [
            ("hcx (learned idle limit)", "learned"),
            ("hcx, learning off (Apache-like)", "off"),
            ("hcx, keep-alive capped at 30 s", "capped"),
        ] {
            let o = run(setup, middlebox, bursts)?;
            let per_k = |n: f64| n * 1000.0 / o.requests as f64;
            println!(
                "{name:<36} {:>9} {:>14.2} {:>16.2} {:>17.1}   (POSTs lost: {}, idle-limit closes: {})",
                o.requests,
                per_k(o.failed as f64),
                per_k(o.wasted as f64),
                per_k(o.opened as f64),
                o.posts_lost,
                o.idle_limit_closes,
            );
        }
    }
    Ok(())
}
