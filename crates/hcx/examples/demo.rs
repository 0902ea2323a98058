//! The hcx demo: a client against the embedded test server, showing what the pool
//! and the reuse decisions do. `cargo run --release -p hcx --example demo`
//! (the README's main command until the `hcx` tool's `demo` replaces it).

use std::sync::Arc;
use std::thread;
use std::time::{Duration, Instant};

use hcx::{Client, ConnectionInfo, Decision};
use hcx_testserver::Version;
use hcx_testserver::{Method, Reply, TestServer};

type Result<T> = std::result::Result<T, Box<dyn std::error::Error + Send + Sync>>;

fn main() -> Result<()> {
    let server = TestServer::builder()
        .route(Method::GET, "/hello", Reply::ok().body("hello, world"))
        .route(
            Method::GET,
            "/close",
            Reply::ok().body("bye").connection_close(),
        )
        .route(
            Method::GET,
            "/http10",
            Reply::ok()
                .version(Version::HTTP_10)
                .close_delimited()
                .body("old school"),
        )
        .route(
            Method::GET,
            "/short-keep-alive",
            Reply::ok().header("Keep-Alive", "timeout=2").body("brief"),
        )
        .route(
            Method::GET,
            "/chunked",
            Reply::ok()
                .chunked()
                .chunk_size(4)
                .trailer("x-checksum", "42")
                .body("streamed in chunks"),
        )
        .start()?;
    println!("test server on {}", server.authority());

    let client = Client::builder().max_total(8).max_per_route(4).build()?;

    println!("\n1. sequential requests reuse one connection");
    for i in 0..100 {
        if i == 1 {
            // Let the connection sit idle a moment, so its idle time is worth printing
            // (the pool's clock ticks every few milliseconds).
            thread::sleep(Duration::from_millis(50));
        }
        let response = client.get(server.url("/hello"))?;
        let info = response.extensions().get::<ConnectionInfo>().copied();
        let body = response.into_body().into_string()?; // reading to the end releases the connection
        if i < 2 {
            describe(i, info, &body);
        }
    }
    println!(
        "   100 requests, {} connection(s) accepted by the server",
        server.stats().connections_accepted
    );

    println!("\n2. what happens to each connection, and why");
    for path in [
        "/close",
        "/http10",
        "/short-keep-alive",
        "/chunked",
        "/hello",
    ] {
        let response = client.get(server.url(path))?;
        let decision = response.extensions().get::<Decision>().copied();
        let body = response.into_body().into_string()?;
        let verdict = decision.map_or_else(|| "unknown".to_string(), |d| d.to_string());
        println!("   GET {path:<17} -> {body:?}: {verdict}");
    }
    println!(
        "   (Keep-Alive: timeout=2 is kept 1 s: a safety margin keeps requests off the server's close)"
    );

    println!("\n3. 16 threads, at most 4 connections per route");
    let before = server.stats().connections_accepted;
    let client = Arc::new(client);
    let started = Instant::now();
    let workers: Vec<_> = (0..16)
        .map(|_| {
            let (client, url) = (Arc::clone(&client), server.url("/hello"));
            thread::spawn(move || -> Result<u32> {
                for _ in 0..500 {
                    client.get(url.as_str())?.into_body().into_string()?;
                }
                Ok(500)
            })
        })
        .collect();
    let mut done = 0;
    for w in workers {
        done += w.join().map_err(|_| "worker panicked")??;
    }
    let elapsed = started.elapsed();
    println!(
        "   {done} requests in {elapsed:.2?} ({:.0} requests/s) on {} new connection(s) plus the idle one (at most 4 per route)",
        f64::from(done) / elapsed.as_secs_f64(),
        server.stats().connections_accepted - before,
    );
    let stats = client.stats();
    println!(
        "   pool: {} | connections opened {}",
        stats.pool, stats.connections_opened
    );
    println!(
        "\n4. every connection closed, by reason (one count per close, whichever layer closed it)"
    );
    for (reason, n) in stats.closes.iter() {
        println!("   {n:>3} {:<30} {}", reason.name(), reason.explain());
    }
    Ok(())
}

fn describe(i: usize, info: Option<ConnectionInfo>, body: &str) {
    match info {
        Some(c) if c.reused => println!(
            "   request {}: {body:?} on connection {} (reused after {} ms idle, stale probe {})",
            i + 1,
            c.connection_id,
            c.idle_for.unwrap_or(Duration::ZERO).as_millis(),
            if c.probed { "ran" } else { "skipped" }
        ),
        Some(c) => println!(
            "   request {}: {body:?} on connection {} (new)",
            i + 1,
            c.connection_id
        ),
        None => println!("   request {}: {body:?}", i + 1),
    }
}
