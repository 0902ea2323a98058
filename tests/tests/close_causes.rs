//! "Why wasn't my connection reused?": a scripted run that closes connections for many
//! different reasons, whichever layer decides (framing, the reuse and keep-alive
//! strategies, the engine, the stale probe, the pool), and checks after every step that
//! `Client::stats().closes` counted that close once, under its reason, and nothing
//! else moved.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{SAFETY, TestResult};
use hcx::{Client, CloseCounts, CloseReason, ManualClock, PoolingConnectionManager, RequestConfig};
use hcx_testserver::{Method, Reply, TestServer, Version};

/// The client's counts must equal the expected ones, reason by reason.
fn check(client: &Client, expected: &CloseCounts, step: &str) -> TestResult {
    let got = client.stats().closes;
    assert_eq!(
        &got, expected,
        "after {step}: got {got}, expected {expected}"
    );
    Ok(())
}

#[test]
fn every_close_is_counted_once_under_its_reason() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/ok", Reply::ok().body("fine"))
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
                .body("old"),
        )
        .route(Method::GET, "/big", Reply::ok().generated_body(256 * 1024))
        .route(
            Method::GET,
            "/extra",
            Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA"),
        )
        .route(
            Method::GET,
            "/cut",
            Reply::ok().generated_body(1000).truncate_body(100),
        )
        .route(
            Method::GET,
            "/ka0",
            Reply::ok().header("Keep-Alive", "timeout=0").body("no"),
        )
        .route(
            Method::GET,
            "/ka2",
            Reply::ok().header("Keep-Alive", "timeout=2").body("brief"),
        )
        .route(
            Method::GET,
            "/clte",
            Reply::raw(
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n\
                 2\r\nhi\r\n0\r\n\r\n",
            ),
        )
        .start()?;
    // A server that closes idle connections after 50 ms: the stale probe's case.
    let impatient = TestServer::builder()
        .route(Method::GET, "/ok", Reply::ok().body("fine"))
        .idle_timeout(Duration::from_millis(50))
        .start()?;
    let clock = ManualClock::new();
    let manager = PoolingConnectionManager::builder()
        .clock(clock.clone())
        .build()?;
    // Drain at most 1 KiB when a body is dropped early.
    let client = Client::builder()
        .connection_manager(manager)
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(SAFETY))
                .with_drain(1024, SAFETY),
        )
        .build()?;
    let get = |path: &str| -> Result<String, hcx::Error> {
        client.get(server.url(path))?.into_body().into_string()
    };
    let mut expected = CloseCounts::default();
    check(&client, &expected, "nothing")?;

    get("/ok")?;
    get("/ok")?;
    check(&client, &expected, "a reused connection")?;

    // The reuse strategy, from the response head.
    get("/close")?;
    expected.count(CloseReason::ResponseConnectionClose);
    check(&client, &expected, "Connection: close")?;

    // The reuse strategy, from the request head.
    let request = http::Request::get(server.url("/ok"))
        .header("connection", "close")
        .body(hcx::Body::empty())?;
    client.execute(request)?.into_body().into_string()?;
    expected.count(CloseReason::RequestConnectionClose);
    check(&client, &expected, "a request with Connection: close")?;

    // The framing: a body that ends at the close.
    assert_eq!(get("/http10")?, "old");
    expected.count(CloseReason::CloseDelimitedBody);
    check(&client, &expected, "an HTTP/1.0 close-delimited body")?;

    // The framing: both Content-Length and Transfer-Encoding.
    assert_eq!(get("/clte")?, "hi");
    expected.count(CloseReason::ContentLengthWithTransferEncoding);
    check(&client, &expected, "CL + TE")?;

    // The keep-alive strategy.
    get("/ka0")?;
    expected.count(CloseReason::KeepAliveRefused);
    check(&client, &expected, "Keep-Alive: timeout=0")?;

    // The engine: a body dropped with more left than the drain allows.
    let mut big = client.get(server.url("/big"))?.into_body();
    let mut first = [0u8; 10];
    big.read_exact(&mut first)?;
    drop(big);
    expected.count(CloseReason::UnreadBody);
    check(&client, &expected, "an unread body")?;

    // The engine: bytes after the response.
    assert_eq!(get("/extra")?, "hi");
    expected.count(CloseReason::TrailingBytes);
    check(&client, &expected, "trailing bytes")?;

    // The engine: a failed exchange.
    assert!(get("/cut").is_err_and(|e| e.is_incomplete_body()));
    expected.count(CloseReason::FailedExchange);
    check(&client, &expected, "a truncated body")?;

    // The pool: keep-alive expiry (timeout=2 is kept 1 s, the margin off).
    get("/ka2")?;
    clock.advance(Duration::from_secs(2));
    get("/ok")?;
    expected.count(CloseReason::Expired);
    check(&client, &expected, "an expired keep-alive")?;

    // The pool: idle eviction.
    clock.advance(Duration::from_secs(5));
    client
        .connection_manager()
        .close_idle(Duration::from_secs(1));
    expected.count(CloseReason::IdleEvicted);
    check(&client, &expected, "idle eviction")?;

    // The stale probe: the server closed the idle connection.
    common::get_after_the_server_closed_it(&client, &impatient, &impatient.url("/ok"), 1)?;
    expected.count(CloseReason::Stale);
    check(&client, &expected, "a stale connection")?;

    // The pool: shutdown closes what is idle (one connection per server).
    get("/ok")?;
    let idle = client.stats().pool.available;
    assert_eq!(idle, 2);
    client.connection_manager().shutdown();
    for _ in 0..idle {
        expected.count(CloseReason::Shutdown);
    }
    check(&client, &expected, "shutdown")?;

    // Twelve reasons, each close counted once.
    assert_eq!(expected.iter().count(), 12);
    assert_eq!(client.stats().closes.total(), 13);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}
