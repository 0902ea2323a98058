//! Sequential GETs on one keep-alive connection, a fixed count, for profiling and
//! instruction counts (`valgrind --tool=callgrind`):
//! `cargo run --release -p hcx-benches --example seq_loop -- [requests]`.
//!
//! Client and test server run in this process; the server's share is the same in
//! every build of the client, so a difference between two builds is the client's.
use std::time::Instant;

use hcx::Client;
use hcx_testserver::{Method, Reply, TestServer};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let n: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(20_000);
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hello, world!"))
        .keep_requests(0)
        .start()?;
    let url = server.url("/");
    let client = Client::builder().max_per_route(4).build()?;
    let start = Instant::now();
    let mut bytes = 0usize;
    for _ in 0..n {
        bytes += client.get(url.as_str())?.into_body().into_vec()?.len();
    }
    let elapsed = start.elapsed();
    println!(
        "{n} requests, {bytes} body bytes, {:?} per request, {} connection(s)",
        elapsed / n,
        server.stats().connections_accepted
    );
    Ok(())
}
