//! Sequential GETs on one keep-alive connection, a fixed count, for profiling and
//! instruction counts (`valgrind --tool=callgrind`):
//! `cargo run --release -p hcx-benches --example seq_loop -- [requests] [bare|listener|nolearn]`.
//!
//! With `listener`, the client has an event listener whose methods do nothing: the
//! difference from the default is what reporting events to a listener costs. With
//! `nolearn`, the client does not learn idle limits (`learn_idle_limits(false)`).
//!
//! With `bare`, the requests go straight to the engine (`MainExec` with an
//! `ExecRuntime` per request, no exec chain): the difference is what the default chain
//! (REDIRECT, COMPRESS, RETRY, PROTOCOL) costs. Client and test server run in this
//! process; the server's share is the same either way.
use std::time::Instant;

use hcx::exec::{ExecRuntime, MainExec};
use hcx::http::Request;
use hcx::{Body, Client, PoolingConnectionManager, RequestConfig, Route};
use hcx_testserver::{Method, Reply, TestServer};

/// A listener that ignores every event.
struct Noop;

impl hcx::EventListener for Noop {}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let n: u32 = args.next().and_then(|s| s.parse().ok()).unwrap_or(20_000);
    let mode = args.next();
    let bare = mode.as_deref() == Some("bare");
    let listener = mode.as_deref() == Some("listener");
    let nolearn = mode.as_deref() == Some("nolearn");
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hello, world!"))
        .keep_requests(0)
        .start()?;
    let url = server.url("/");
    let start = Instant::now();
    let mut bytes = 0usize;
    if bare {
        let manager = PoolingConnectionManager::builder()
            .max_per_route(4)
            .build()?;
        let exec = MainExec::default();
        let config = RequestConfig::default();
        let route = Route::from_uri(&url.parse()?)?;
        for _ in 0..n {
            let request = Request::get(url.as_str())
                .header("user-agent", hcx::DEFAULT_USER_AGENT)
                .body(Body::empty())?;
            let runtime = ExecRuntime::new(manager.clone());
            let response = exec.execute(&route, request, runtime, &config)?;
            bytes += response.into_body().into_vec()?.len();
        }
    } else {
        let mut builder = Client::builder().max_per_route(4);
        if listener {
            builder = builder.event_listener(Noop);
        }
        if nolearn {
            builder = builder.learn_idle_limits(false);
        }
        let client = builder.build()?;
        for _ in 0..n {
            bytes += client.get(url.as_str())?.into_body().into_vec()?.len();
        }
    }
    let elapsed = start.elapsed();
    println!(
        "{n} requests{}, {bytes} body bytes, {:?} per request, {} connection(s)",
        match (bare, listener, nolearn) {
            (true, _, _) => " (bare engine)",
            (_, true, _) => " (no-op listener)",
            (_, _, true) => " (no idle-limit learning)",
            _ => "",
        },
        elapsed / n,
        server.stats().connections_accepted
    );
    Ok(())
}
