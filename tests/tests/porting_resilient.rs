//! A resilient client ported from Apache HttpClient 5: 503 with `Retry-After`
//! retried, an idempotent GET replayed after the server closed an idle connection, a
//! POST never sent twice, idle connections closed on demand, a clean shutdown. Retry
//! waits go to a recording sleeper, so nothing sleeps.

mod common;

use std::sync::{Arc, Mutex};
use std::time::Duration;

use common::{SAFETY, TestResult};
use hcx::chain::{Context, DefaultRetryStrategy};
use hcx::http::Request;
use hcx::{Body, Client, ClientBuilder, ErrorKind};
use hcx_testserver::{Method, Reply, TestServer};

type Delays = Arc<Mutex<Vec<Duration>>>;

/// `setRetryStrategy(new DefaultHttpRequestRetryStrategy(2, TimeValue.ofSeconds(1)))`.
fn resilient(delays: &Delays) -> ClientBuilder {
    let delays = delays.clone();
    Client::builder()
        .response_timeout(Some(SAFETY))
        .retry_strategy(
            DefaultRetryStrategy::new()
                .with_max_retries(2)
                .with_default_interval(Duration::from_secs(1)),
        )
        .retry_sleeper(move |d: Duration| {
            if let Ok(mut v) = delays.lock() {
                v.push(d);
            }
        })
}

fn taken(delays: &Delays) -> Vec<Duration> {
    delays.lock().map(|v| v.clone()).unwrap_or_default()
}

#[test]
fn a_503_with_retry_after_is_retried_after_that_wait() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/busy",
            [
                Reply::new(503u16).header("retry-after", "2").body("busy"),
                Reply::new(503u16).body("busy"),
                Reply::ok().body("done"),
            ],
        )
        .start()?;
    let delays = Delays::default();
    let client = resilient(&delays).build()?;
    let mut context = Context::new();
    let response = client.execute_in(
        Request::get(server.url("/busy")).body(Body::empty())?,
        &mut context,
    )?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().into_string()?, "done");
    assert_eq!(
        taken(&delays),
        [Duration::from_secs(2), Duration::from_secs(1)]
    );
    assert_eq!(context.attempts(), 3);
    assert_eq!(server.stats().requests_received, 3);
    // The 503 bodies were small: one connection served all three.
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn a_503_past_the_retries_is_returned_with_its_body() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/down", Reply::new(503u16).body("maintenance"))
        .start()?;
    let delays = Delays::default();
    let client = resilient(&delays).build()?;
    let response = client.get(server.url("/down"))?;
    assert_eq!(response.status(), 503);
    assert_eq!(response.into_body().into_string()?, "maintenance");
    assert_eq!(server.stats().requests_received, 3);
    Ok(())
}

#[test]
fn an_idempotent_get_on_a_connection_the_server_closed_idle_succeeds() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .idle_timeout(Duration::from_millis(50))
        .start()?;
    let delays = Delays::default();
    let client = resilient(&delays).build()?;
    common::get_after_the_server_closed_it(&client, &server, &server.url("/"), 1)?;
    assert_eq!(server.stats().requests_received, 2);
    assert!(taken(&delays).is_empty());
    Ok(())
}

#[test]
fn an_idempotent_get_whose_reused_connection_died_unanswered_is_sent_again() -> TestResult {
    // NoHttpResponseException on a kept-alive connection: Apache 5 retries a GET once.
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [
                Reply::ok().body("one"),
                Reply::no_response(),
                Reply::ok().body("two"),
            ],
        )
        .start()?;
    let delays = Delays::default();
    let client = resilient(&delays).build()?;
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "one"
    );
    let mut context = Context::new();
    let response = client.execute_in(
        Request::get(server.url("/")).body(Body::empty())?,
        &mut context,
    )?;
    assert_eq!(response.into_body().into_string()?, "two");
    assert_eq!(context.attempts(), 2);
    assert_eq!(server.stats().requests_received, 3);
    assert_eq!(server.stats().connections_accepted, 2);
    Ok(())
}

#[test]
fn a_post_the_server_read_and_dropped_is_never_sent_again() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("warm"))
        .route(Method::POST, "/pay", Reply::no_response())
        .start()?;
    let delays = Delays::default();
    let client = resilient(&delays).build()?;
    // A reused connection: the case Apache 4.5's requestSentRetryEnabled(false) is for.
    client.get(server.url("/"))?.into_body().into_string()?;
    let error =
        match client.execute(Request::post(server.url("/pay")).body(Body::from("amount=10"))?) {
            Ok(response) => return Err(format!("a response: {}", response.status()).into()),
            Err(e) => e,
        };
    assert_eq!(error.kind(), ErrorKind::ClosedBeforeResponse, "{error}");
    assert!(error.is_request_sent(), "{error}");
    assert!(error.is_connection_reused(), "{error}");
    let posts = server
        .requests()
        .iter()
        .filter(|r| r.method == Method::POST)
        .count();
    assert_eq!(posts, 1);
    Ok(())
}

/// A server answering `/` with "hi", and a resilient client with one connection to it
/// idle in its pool after a first request.
fn one_pooled() -> Result<(TestServer, hcx::Client), Box<dyn std::error::Error>> {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .start()?;
    let client = resilient(&Delays::default()).build()?;
    client.get(server.url("/"))?.into_body().into_string()?;
    Ok((server, client))
}

#[test]
fn close_idle_closes_pooled_connections_on_demand() -> TestResult {
    let (server, client) = one_pooled()?;
    assert_eq!(client.stats().pool.available, 1);
    // closeIdle(TimeValue.ZERO_MILLISECONDS): everything idle goes.
    client.connection_manager().close_idle(Duration::ZERO);
    server.wait_for_closed(1, SAFETY)?;
    assert_eq!(client.stats().pool.available, 0);
    client.get(server.url("/"))?.into_body().into_string()?;
    assert_eq!(server.stats().connections_accepted, 2);
    Ok(())
}

#[test]
fn shutdown_closes_idle_connections_and_fails_later_requests() -> TestResult {
    let (server, client) = one_pooled()?;
    client.connection_manager().shutdown();
    server.wait_for_closed(1, SAFETY)?;
    let error = match client.get(server.url("/")) {
        Ok(_) => return Err("a request after shutdown succeeded".into()),
        Err(e) => e,
    };
    assert_eq!(error.kind(), ErrorKind::Shutdown, "{error}");
    assert!(error.is_shutdown());
    assert!(!error.is_request_sent());
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}

#[test]
fn dropping_the_last_client_closes_its_idle_connections() -> TestResult {
    let (server, client) = one_pooled()?;
    let clone = client.clone();
    drop(client);
    // A clone still holds the pool: the connection stays.
    assert_eq!(clone.stats().pool.available, 1);
    drop(clone);
    server.wait_for_closed(1, SAFETY)?;
    Ok(())
}

#[test]
fn a_retry_after_longer_than_the_response_timeout_returns_the_503_at_once() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/later",
            Reply::new(503u16).header("retry-after", "20").body("later"),
        )
        .start()?;
    let delays = Delays::default();
    // SAFETY (10 s) is the response timeout: a 20 s wait outlasts it (Apache 5.2+).
    let client = resilient(&delays).build()?;
    let response = client.get(server.url("/later"))?;
    assert_eq!(response.status(), 503);
    assert_eq!(response.into_body().into_string()?, "later");
    assert!(taken(&delays).is_empty());
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}
