//! HTTP/1.1 client benchmarks against the test server on loopback.
//! `cargo bench -p hcx-benches --bench h1`
//!
//! - `h1_seq_x1_small`: one thread, `GET /` with a 13-byte body, one keep-alive
//!   connection, the stale probe on every reuse (the default).
//! - `h1_seq_x1_small_no_probe`: the same with `validate_after_inactivity(None)`: the
//!   difference is the cost of the probe (one `recv(MSG_PEEK | MSG_DONTWAIT)`).
//! - `h1_par_x4_small`, `h1_par_x16_small`: 4 or 16 threads sharing one client limited
//!   to 4 connections per route; time per request (wall time / all requests).
//! - `h1_seq_x1_small_bare`: `h1_seq_x1_small` straight through the engine (`MainExec`,
//!   an `ExecRuntime` per request, the same `User-Agent`), without the exec chain: the
//!   difference is what the default chain (REDIRECT, COMPRESS, RETRY, PROTOCOL) costs.
//!
//! Before criterion runs, a fixed run per configuration prints requests per second and
//! the connections opened (client and server side).

use hcx_benches::exchange::{BODY, get, read_body, run};
use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use hcx::exec::{ExecRuntime, MainExec};
use hcx::{Body, Client, PoolingConnectionManager, RequestConfig, Route};
use hcx_testserver::{Method, Reply, TestServer};

fn server() -> TestServer {
    TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body(BODY))
        .keep_requests(0)
        .start()
        .expect("test server starts")
}

fn client(probe: bool) -> Client {
    let after = probe.then_some(Duration::ZERO);
    Client::builder()
        .max_per_route(4)
        .validate_after_inactivity(after)
        .response_timeout(Some(Duration::from_secs(10)))
        .build()
        .expect("valid client")
}

/// The engine without the chain, as `seq_loop`'s `bare` mode.
struct Bare {
    manager: PoolingConnectionManager,
    exec: MainExec,
    config: RequestConfig,
    route: Route,
}

impl Bare {
    fn new(url: &str) -> Bare {
        let uri = url.parse().expect("a valid URL");
        Bare {
            manager: PoolingConnectionManager::builder()
                .max_per_route(4)
                .build()
                .expect("valid limits"),
            exec: MainExec::default(),
            config: RequestConfig::default().with_response_timeout(Some(Duration::from_secs(10))),
            route: Route::from_uri(&uri).expect("an http URL"),
        }
    }

    fn get(&self, url: &str) -> usize {
        let request = hcx::http::Request::get(url)
            .header("user-agent", hcx::DEFAULT_USER_AGENT)
            .body(Body::empty())
            .expect("a valid request");
        let runtime = ExecRuntime::new(self.manager.clone());
        read_body(
            self.exec
                .execute(&self.route, request, runtime, &self.config)
                .expect("response"),
        )
    }
}

fn sequential(c: &mut Criterion) {
    let server = server();
    let url = server.url("/");
    for (name, probe) in [
        ("h1_seq_x1_small", true),
        ("h1_seq_x1_small_no_probe", false),
    ] {
        let client = client(probe);
        c.bench_function(name, |b| b.iter(|| get(&client, &url)));
    }
    let bare = Bare::new(&url);
    c.bench_function("h1_seq_x1_small_bare", |b| b.iter(|| bare.get(&url)));
}

fn parallel(c: &mut Criterion) {
    let server = server();
    let url = server.url("/");
    for (name, threads) in [("h1_par_x4_small", 4usize), ("h1_par_x16_small", 16)] {
        let client = client(true);
        c.bench_function(name, |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads as u64);
                let elapsed = run(&client, &url, threads, per_thread);
                elapsed.mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
            })
        });
    }
}

criterion_group!(benches, sequential, parallel);

/// A fixed run: requests per second and connections opened.
fn report(name: &str, threads: usize, probe: bool, secs: f64) {
    let server = server();
    let url = server.url("/");
    let client = client(probe);
    // Warm up, then count.
    run(&client, &url, threads, 200);
    let before = server.stats().requests_received;
    let mut requests = 0u64;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        run(&client, &url, threads, 500);
        requests += 500 * threads as u64;
    }
    let elapsed = start.elapsed().as_secs_f64();
    let stats = client.stats();
    println!(
        "{name:<26} {threads:>2} thread(s): {:>8.0} requests/s; connections opened: client {}, server {}; stale closed {}; server saw {} requests",
        requests as f64 / elapsed,
        stats.connections_opened,
        server.stats().connections_accepted,
        stats.closes.get(hcx::CloseReason::Stale),
        server.stats().requests_received - before,
    );
}

/// A fixed run of the bare engine, one thread.
fn report_bare(secs: f64) {
    let server = server();
    let url = server.url("/");
    let bare = Bare::new(&url);
    for _ in 0..200 {
        bare.get(&url);
    }
    let mut requests = 0u64;
    let start = Instant::now();
    while start.elapsed().as_secs_f64() < secs {
        for _ in 0..500 {
            black_box(bare.get(&url));
        }
        requests += 500;
    }
    println!(
        "{:<26}  1 thread(s): {:>8.0} requests/s; connections opened: server {}",
        "h1_seq_x1_small_bare",
        requests as f64 / start.elapsed().as_secs_f64(),
        server.stats().connections_accepted,
    );
}

fn main() {
    let secs = std::env::var("HCX_H1_REPORT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    println!("h1 fixed runs ({secs} s each, max 4 connections per route):");
    report("h1_seq_x1_small", 1, true, secs);
    report_bare(secs);
    report("h1_seq_x1_small_no_probe", 1, false, secs);
    report("h1_par_x4_small", 4, true, secs);
    report("h1_par_x16_small", 16, true, secs);
    benches();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
