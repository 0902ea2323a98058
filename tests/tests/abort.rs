//! Aborting a request from another thread (Apache's `HttpUriRequestBase.cancel()`,
//! 4.5's `abort()`): an `AbortHandle` in the request's extensions ends a wait for a
//! pooled connection, for the response, or in a body read, with an `Aborted` error that
//! says whether the request was sent; the connection is closed, never pooled, and the
//! request is never sent again.

mod common;

use std::sync::mpsc;
use std::time::{Duration, Instant};

use common::{SAFETY, TestResult};
use hcx::chain::Context;
use hcx::{
    AbortHandle, Body, Client, CloseReason, Error, ErrorKind, RequestProgress, ResponseBody,
    RetryStrategy,
};
use hcx_testserver::{Method, Reply, TestCa, TestServer};
use http::{Request, Response};

fn get(url: &str, abort: &AbortHandle) -> Result<Request<Body>, http::Error> {
    let mut request = Request::get(url).body(Body::empty())?;
    request.extensions_mut().insert(abort.clone());
    Ok(request)
}

/// Runs `work` on another thread; its result, or an error if it has not ended within
/// [`SAFETY`] (a lost abort fails the test instead of hanging it).
fn in_background<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> impl FnOnce() -> Result<T, String> {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    move || {
        result
            .recv_timeout(SAFETY)
            .map_err(|_| "the aborted request did not end".to_string())
    }
}

/// What an error says of the exchange: kind, progress, and whether a response began.
fn facts(error: &Error) -> (ErrorKind, RequestProgress, bool) {
    (
        error.kind(),
        error.request_progress(),
        error.is_response_started(),
    )
}

fn client() -> Result<Client, hcx::Error> {
    // Every wait is bounded, so only an abort ends one early.
    Client::builder()
        .response_timeout(Some(SAFETY))
        .connection_request_timeout(SAFETY)
        .build()
}

#[test]
fn an_abort_ends_the_wait_for_the_response_and_closes_the_connection() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()?;
    let client = client()?;
    let abort = AbortHandle::new();
    let request = get(&server.url("/"), &abort)?;
    let started = Instant::now();
    let outcome = in_background({
        let client = client.clone();
        move || client.execute(request).map(|r| r.status())
    });
    // The server has the whole request: the client waits for the response.
    server.wait_for_requests(1, SAFETY)?;
    abort.abort();
    let error = match outcome()? {
        Ok(status) => return Err(format!("answered {status}").into()),
        Err(e) => e,
    };
    assert_eq!(
        facts(&error),
        (ErrorKind::Aborted, RequestProgress::Complete, false)
    );
    assert!(error.is_request_sent(), "the server may have acted on it");
    assert!(
        error.to_string().contains("aborted"),
        "the message says so: {error}"
    );
    assert!(
        started.elapsed() < SAFETY,
        "ended by the abort, not a timeout"
    );
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 0));
    assert_eq!(stats.closes.get(CloseReason::Aborted), 1);
    // The server sees the connection go, and got the request once: not retried.
    let server_stats = server.wait_for_closed(1, SAFETY)?;
    assert_eq!(server_stats.requests_received, 1);
    Ok(())
}

#[test]
fn an_abort_ends_a_wait_for_a_pooled_connection_and_sends_nothing() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("held"))
        .start()?;
    let client = Client::builder()
        .max_per_route(1)
        .connection_request_timeout(SAFETY)
        .build()?;
    // The route's one connection, held by an unread body.
    let holder = client.get(server.url("/"))?;
    let abort = AbortHandle::new();
    let request = get(&server.url("/"), &abort)?;
    let outcome = in_background({
        let client = client.clone();
        move || client.execute(request).map(|r| r.status())
    });
    // Wait (yielding, bounded) until it is queued behind the holder: otherwise the
    // abort would come before the lease, and the test would be about the check before
    // the wait, not the wait.
    let deadline = Instant::now() + SAFETY;
    while client.stats().pool.pending == 0 && Instant::now() < deadline {
        std::thread::yield_now();
    }
    assert_eq!(client.stats().pool.pending, 1, "the request never queued");
    abort.abort();
    let error = match outcome()? {
        Ok(status) => return Err(format!("answered {status}").into()),
        Err(e) => e,
    };
    assert_eq!(
        facts(&error),
        (ErrorKind::Aborted, RequestProgress::NotStarted, false)
    );
    assert!(!error.is_request_sent());
    assert_eq!(client.stats().pool.pending, 0, "the lease request is gone");
    // The holder is untouched: its body reads, and its connection is pooled.
    assert_eq!(holder.into_body().into_string()?, "held");
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 1));
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}

#[test]
fn an_abort_ends_a_body_read_and_the_connection_is_not_pooled() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(10_000).stall_body_after(100))
        .start()?;
    let client = client()?;
    let abort = AbortHandle::new();
    let response = client.execute(get(&server.url("/"), &abort)?)?;
    let read = in_background(move || response.into_body().into_vec());
    abort.abort();
    let error = match read()? {
        Ok(body) => return Err(format!("read {} bytes", body.len()).into()),
        Err(e) => e,
    };
    assert_eq!(
        facts(&error),
        (ErrorKind::Aborted, RequestProgress::Complete, true)
    );
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 0));
    assert_eq!(stats.closes.get(CloseReason::Aborted), 1);
    Ok(())
}

#[test]
fn an_aborted_handle_fails_a_request_before_it_connects() -> TestResult {
    let server = TestServer::builder().default_reply(Reply::ok()).start()?;
    let client = client()?;
    let abort = AbortHandle::new();
    abort.abort();
    let error = client
        .execute(get(&server.url("/"), &abort)?)
        .err()
        .ok_or("an aborted request is refused")?;
    assert_eq!(
        facts(&error),
        (ErrorKind::Aborted, RequestProgress::NotStarted, false)
    );
    assert_eq!(server.stats().connections_accepted, 0);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn an_abort_after_the_body_s_end_leaves_its_connection_pooled() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("done"))
        .start()?;
    let client = client()?;
    let abort = AbortHandle::new();
    let response = client.execute(get(&server.url("/"), &abort)?)?;
    assert_eq!(response.into_body().into_string()?, "done");
    abort.abort();
    assert_eq!(client.stats().pool.available, 1);
    // The next request, without a handle, reuses the connection.
    let again = client.get(server.url("/"))?;
    assert!(common::info(&again).reused, "reused");
    assert_eq!(again.into_body().into_string()?, "done");
    assert_eq!(server.stats().connections_accepted, 1);
    assert_eq!(client.stats().closes.get(CloseReason::Aborted), 0);
    Ok(())
}

/// Retries every failure, up to five attempts.
struct RetryAll;

impl RetryStrategy for RetryAll {
    fn retry_on_error(&self, _: &Request<()>, _: &Error, attempt: u32, _: &Context) -> bool {
        attempt < 5
    }

    fn retry_on_response(
        &self,
        _: &Request<()>,
        _: &Response<ResponseBody>,
        _: u32,
        _: &Context,
    ) -> Option<Duration> {
        None
    }
}

#[test]
fn an_aborted_request_is_not_retried_whatever_the_strategy() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .retry_strategy(RetryAll)
        .build()?;
    let abort = AbortHandle::new();
    let request = get(&server.url("/"), &abort)?;
    let outcome = in_background({
        let client = client.clone();
        move || {
            let mut context = Context::new();
            let result = client.execute_in(request, &mut context);
            (result.map(|r| r.status()), context.attempts())
        }
    });
    server.wait_for_requests(1, SAFETY)?;
    abort.abort();
    let (result, attempts) = outcome()?;
    assert_eq!(result.err().map(|e| e.kind()), Some(ErrorKind::Aborted));
    assert_eq!(attempts, 1, "RETRY gave up at the abort");
    Ok(())
}

#[test]
fn an_abort_during_a_retry_wait_ends_the_execution_without_another_request() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/busy",
            Reply::new(503u16).header("retry-after", "1").body("busy"),
        )
        .start()?;
    let abort = AbortHandle::new();
    let in_wait = abort.clone();
    // The abort comes while RETRY waits out the `Retry-After`.
    let client = Client::builder()
        .retry_sleeper(move |_delay: Duration| in_wait.abort())
        .build()?;
    let error = client
        .execute(get(&server.url("/busy"), &abort)?)
        .err()
        .ok_or("the abort ends the execution")?;
    assert_eq!(
        facts(&error),
        (ErrorKind::Aborted, RequestProgress::Complete, true),
        "after the 503 was received, the retry was refused before it leased"
    );
    assert_eq!(server.stats().requests_received, 1);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn an_abort_ends_the_wait_for_a_response_over_tls() -> TestResult {
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .default_reply(Reply::stall())
        .start()?;
    let client = Client::builder()
        .tls_config(common::trusting(&ca)?)
        .response_timeout(Some(SAFETY))
        .build()?;
    let abort = AbortHandle::new();
    let request = get(&server.url("/"), &abort)?;
    let outcome = in_background({
        let client = client.clone();
        move || client.execute(request).map(|r| r.status())
    });
    server.wait_for_requests(1, SAFETY)?;
    abort.abort();
    let error = outcome()?.err().ok_or("the abort ends the exchange")?;
    assert_eq!(error.kind(), ErrorKind::Aborted);
    assert_eq!(client.stats().closes.get(CloseReason::Aborted), 1);
    Ok(())
}
