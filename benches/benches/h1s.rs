//! HTTPS client benchmarks against the test server's TLS mode on loopback (rustls
//! both sides, TLS 1.3, the ring provider, a CA made at start-up).
//! `cargo bench -p hcx-benches --bench h1s`
//!
//! - `h1_seq_x1_small`: plain HTTP, as in the `h1` bench, for the side-by-side ratio.
//! - `h1s_seq_x1_small`: one thread, `GET /` with a 13-byte body over one pooled TLS
//!   connection (the stale probe on every reuse).
//! - `h1s_par_x4_small`: 4 threads sharing one client limited to 4 connections per
//!   route; time per request (wall time / all requests).
//! - `h1s_new_conn_full`, `h1s_new_conn_resumed`: the server closes each connection
//!   after its response, so every request connects and handshakes anew; `full` with
//!   session resumption off, `resumed` with it on (TLS 1.3 tickets). Their difference
//!   is what resumption saves per connection; `h1_new_conn` is the same over plain
//!   TCP, the floor.
//!
//! Before criterion runs, a fixed run per configuration prints requests per second,
//! the handshakes (full and resumed, as the server counted them) and the threads.

use hcx_benches::exchange::{BODY, run};
use std::sync::Arc;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group};
use hcx::rustls::client::Resumption;
use hcx::rustls::{ClientConfig, ServerConfig};
use hcx::{Client, crypto_provider};
use hcx_testserver::{Method, Reply, TestCa, TestServer};

/// How the server treats connections.
#[derive(Clone, Copy)]
enum Conn {
    /// Keep-alive: one connection per client thread.
    Pooled,
    /// `Connection: close` after each response.
    PerRequest,
}

fn server(tls: Option<Arc<ServerConfig>>, conn: Conn) -> TestServer {
    let mut builder = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body(BODY))
        .keep_requests(0);
    if let Some(config) = tls {
        builder = builder.tls(config);
    }
    if let Conn::PerRequest = conn {
        builder = builder.close_after(1);
    }
    builder.start().expect("test server starts")
}

fn tls_config(ca: &TestCa, resume: bool) -> Arc<ClientConfig> {
    let mut config = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()
        .expect("TLS 1.2 and 1.3")
        .with_root_certificates(ca.root_store())
        .with_no_client_auth();
    if !resume {
        config.resumption = Resumption::disabled();
    }
    Arc::new(config)
}

fn client(tls: Option<Arc<ClientConfig>>) -> Client {
    let mut builder = Client::builder()
        .max_per_route(4)
        .response_timeout(Some(Duration::from_secs(10)));
    if let Some(config) = tls {
        builder = builder.tls_config(config);
    }
    builder.build().expect("valid client")
}

/// One benchmark's setup: its server and its client.
struct Setup {
    name: &'static str,
    threads: usize,
    server: TestServer,
    client: Client,
}

fn setups(ca: &TestCa) -> Vec<Setup> {
    let server_tls = || Some(ca.server_config(&["127.0.0.1"]));
    let make = |name, threads, tls: bool, conn, resume| Setup {
        name,
        threads,
        server: server(if tls { server_tls() } else { None }, conn),
        client: client(tls.then(|| tls_config(ca, resume))),
    };
    vec![
        make("h1_seq_x1_small", 1, false, Conn::Pooled, true),
        make("h1s_seq_x1_small", 1, true, Conn::Pooled, true),
        make("h1s_par_x4_small", 4, true, Conn::Pooled, true),
        make("h1s_new_conn_full", 1, true, Conn::PerRequest, false),
        make("h1s_new_conn_resumed", 1, true, Conn::PerRequest, true),
        make("h1_new_conn", 1, false, Conn::PerRequest, true),
    ]
}

fn benches(c: &mut Criterion) {
    let ca = TestCa::new().expect("a test CA");
    for setup in setups(&ca) {
        let url = setup.server.url("/");
        let (client, threads) = (&setup.client, setup.threads);
        c.bench_function(setup.name, |b| {
            b.iter_custom(|iters| {
                let per_thread = iters.div_ceil(threads as u64);
                let elapsed = run(client, &url, threads, per_thread);
                elapsed.mul_f64(iters as f64 / (per_thread * threads as u64) as f64)
            })
        });
    }
}

criterion_group!(group, benches);

/// A fixed run of each setup: requests per second and the handshakes.
fn report(secs: f64) {
    let ca = TestCa::new().expect("a test CA");
    for setup in setups(&ca) {
        let url = setup.server.url("/");
        let mut requests = 0u64;
        let start = Instant::now();
        while start.elapsed().as_secs_f64() < secs {
            run(&setup.client, &url, setup.threads, 200);
            requests += 200 * setup.threads as u64;
        }
        let elapsed = start.elapsed().as_secs_f64();
        let stats = setup.server.stats();
        println!(
            "{:<22} {} thread(s): {:>8.0} requests/s, {:>7.1} µs/request; handshakes {} ({} resumed); connections opened {}",
            setup.name,
            setup.threads,
            requests as f64 / elapsed,
            elapsed * 1e6 / requests as f64,
            stats.tls_handshakes,
            stats.tls_resumed,
            setup.client.stats().connections_opened,
        );
    }
}

fn main() {
    let secs = std::env::var("HCX_H1_REPORT_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(3.0);
    println!("h1s fixed runs ({secs} s each, max 4 connections per route):");
    report(secs);
    group();
    criterion::Criterion::default()
        .configure_from_args()
        .final_summary();
}
