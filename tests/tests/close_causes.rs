//! "Why wasn't my connection reused?" for the closes the engine decides after an
//! exchange: each cause moves its own counter in `ManagerStats::closed`, once.

mod common;

use std::io::Read;

use common::{SAFETY, TestResult};
use hcx::{Client, EngineCloses, RequestConfig};
use hcx_testserver::{Method, Reply, TestServer};

#[test]
fn every_engine_close_is_counted_under_its_cause() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/close",
            Reply::ok().body("bye").connection_close(),
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
        .route(Method::GET, "/ok", Reply::ok().body("fine"))
        .start()?;
    // Drain at most 1 KiB when a body is dropped early.
    let client = Client::builder()
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(SAFETY))
                .with_drain(1024, SAFETY),
        )
        .build()?;
    let closed = |c: &Client| c.stats().closed;
    let mut expected = EngineCloses::default();
    assert_eq!(closed(&client), expected);

    client.get(server.url("/ok"))?.into_body().into_string()?;
    assert_eq!(closed(&client), expected, "a reused connection is no close");

    client
        .get(server.url("/close"))?
        .into_body()
        .into_string()?;
    expected.not_reusable += 1;
    assert_eq!(closed(&client), expected);

    let mut big = client.get(server.url("/big"))?.into_body();
    let mut first = [0u8; 10];
    big.read_exact(&mut first)?;
    drop(big); // 256 KiB left, over the 1 KiB drain limit
    expected.unread_body += 1;
    assert_eq!(closed(&client), expected);

    client
        .get(server.url("/extra"))?
        .into_body()
        .into_string()?;
    expected.trailing_bytes += 1;
    assert_eq!(closed(&client), expected);

    let cut = client.get(server.url("/cut"))?.into_body().into_string();
    assert!(cut.is_err_and(|e| e.is_incomplete_body()));
    expected.failed_exchange += 1;
    assert_eq!(closed(&client), expected);

    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}
