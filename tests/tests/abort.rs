//! Aborting a request from another thread (Apache's `HttpUriRequestBase.cancel()`,
//! 4.5's `abort()`): an `AbortHandle` in the request's extensions ends a wait for a
//! pooled connection, for the response, or in a body read, with an `Aborted` error that
//! says whether the request was sent; the connection is closed, never pooled, and the
//! request is never sent again.

mod common;

use std::time::{Duration, Instant};

use common::{
    ConnectStarted, HangingResolver, PATIENT, SAFETY, TestResult, facts, in_background,
    interrupted, signalled, unanswering_listener,
};
use hcx::chain::Context;
use hcx::{
    AbortHandle, Body, Client, CloseReason, Error, ErrorKind, RequestProgress, ResponseBody,
};
use hcx_testserver::{Method, Reply, TestCa, TestServer};
use http::{Request, Response};

fn get(url: &str, abort: &AbortHandle) -> Result<Request<Body>, http::Error> {
    let mut request = Request::get(url).body(Body::empty())?;
    request.extensions_mut().insert(abort.clone());
    Ok(request)
}

fn client() -> Result<Client, hcx::Error> {
    Client::builder()
        .response_timeout(Some(PATIENT))
        .connection_request_timeout(PATIENT)
        .connect_timeout(PATIENT)
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
        .connection_request_timeout(PATIENT)
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
    assert!(error.to_string().contains(" of 10000 bytes"), "{error}");
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

#[test]
fn an_aborted_request_is_not_retried_whatever_the_strategy() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(PATIENT))
        .retry_strategy(common::RetryAll)
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

fn busy_server(retry_after: &'static str) -> std::io::Result<TestServer> {
    TestServer::builder()
        .route(
            Method::GET,
            "/busy",
            Reply::new(503u16)
                .header("retry-after", retry_after)
                .body("busy"),
        )
        .start()
}

#[test]
fn an_abort_before_a_retry_wait_skips_it_and_sends_nothing_more() -> TestResult {
    let server = busy_server("1")?;
    let abort = AbortHandle::new();
    let on_response = abort.clone();
    let waits = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counted = std::sync::Arc::clone(&waits);
    // The abort comes with the 503 (a response interceptor), before RETRY decides.
    let client = Client::builder()
        .add_response_interceptor_last(
            move |_: &mut Response<ResponseBody>, _: &mut Context| -> Result<(), Error> {
                on_response.abort();
                Ok(())
            },
        )
        .retry_sleeper(move |_delay: Duration| {
            counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        })
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
    assert_eq!(
        waits.load(std::sync::atomic::Ordering::SeqCst),
        0,
        "no wait once aborted"
    );
    assert_eq!(server.stats().requests_received, 1);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn an_abort_ends_the_default_wait_before_a_retry() -> TestResult {
    // 25 s of `Retry-After` (the default cap is 30 s): only the abort ends the wait
    // within SAFETY.
    let server = busy_server("25")?;
    let (retrying, waiting) = common::Retrying::new();
    let client = Client::builder().event_listener(retrying).build()?;
    let abort = AbortHandle::new();
    let request = get(&server.url("/busy"), &abort)?;
    let error = interrupted(
        &client,
        request,
        || Ok(waiting.recv_timeout(SAFETY)?),
        || {
            abort.abort();
        },
    )?;
    assert_eq!(error.kind(), ErrorKind::Aborted);
    assert_eq!(server.stats().requests_received, 1);
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
        .response_timeout(Some(PATIENT))
        .build()?;
    let abort = AbortHandle::new();
    let request = get(&server.url("/"), &abort)?;
    let error = interrupted(
        &client,
        request,
        || Ok(server.wait_for_requests(1, SAFETY)?),
        || {
            abort.abort();
        },
    )?;
    assert_eq!(error.kind(), ErrorKind::Aborted);
    assert_eq!(client.stats().closes.get(CloseReason::Aborted), 1);
    Ok(())
}

#[test]
fn an_abort_ends_a_body_delimited_by_the_close_with_an_error_not_its_end() -> TestResult {
    let server = TestServer::builder()
        .default_reply(
            Reply::ok()
                .generated_body(10_000)
                .close_delimited()
                .stall_body_after(100),
        )
        .start()?;
    let client = client()?;
    let abort = AbortHandle::new();
    let response = client.execute(get(&server.url("/"), &abort)?)?;
    let read = in_background(move || response.into_body().into_vec());
    abort.abort();
    // The shut-down socket's end of stream is not the server's close.
    let error = match read()? {
        Ok(body) => return Err(format!("read {} bytes as the whole body", body.len()).into()),
        Err(e) => e,
    };
    assert_eq!(error.kind(), ErrorKind::Aborted);
    assert_eq!(client.stats().closes.get(CloseReason::Aborted), 1);
    Ok(())
}

#[test]
fn an_abort_ends_a_tls_handshake_the_server_never_answers() -> TestResult {
    // Accepts, then says nothing: the client waits in its handshake.
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("https://127.0.0.1:{}/", listener.local_addr()?.port());
    let ca = TestCa::new()?;
    let client = Client::builder()
        .tls_config(common::trusting(&ca)?)
        .connect_timeout(PATIENT)
        .build()?;
    let abort = AbortHandle::new();
    let request = get(&url, &abort)?;
    let outcome = in_background({
        let client = client.clone();
        move || client.execute(request).map(|r| r.status())
    });
    let (_silent, _) = listener.accept()?;
    abort.abort();
    let error = outcome()?.err().ok_or("the abort ends the handshake")?;
    assert_eq!(
        facts(&error),
        (ErrorKind::Aborted, RequestProgress::NotStarted, false),
        "{error:#}"
    );
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn an_abort_ends_a_tcp_connect_that_gets_no_answer() -> TestResult {
    // A listener whose accept queue is full: its SYNs are dropped, a connect hangs.
    let (listener, queue) = unanswering_listener()?;
    let addr = listener.local_addr()?;
    let (started, connecting) = ConnectStarted::new();
    let client = Client::builder()
        .connect_timeout(PATIENT)
        .event_listener(started)
        .build()?;
    let abort = AbortHandle::new();
    let request = get(&format!("http://{addr}/"), &abort)?;
    let error = interrupted(&client, request, signalled(&connecting), || abort.abort())?;
    assert_eq!(
        facts(&error),
        (ErrorKind::Aborted, RequestProgress::NotStarted, false),
        "{error:#}"
    );
    drop(queue);
    Ok(())
}

#[test]
fn an_abort_ends_a_name_lookup_that_gets_no_answer() -> TestResult {
    let (resolver, lookups, release) = HangingResolver::new();
    let client = Client::builder()
        .connect_timeout(PATIENT)
        .resolver(resolver)
        .build()?;
    let abort = AbortHandle::new();
    let request = get("http://silent-dns.test/", &abort)?;
    let error = interrupted(&client, request, signalled(&lookups), || abort.abort())?;
    assert_eq!(
        facts(&error),
        (ErrorKind::Aborted, RequestProgress::NotStarted, false),
        "{error:#}"
    );
    assert_eq!(client.stats().pool.leased, 0);
    drop(release);
    Ok(())
}

#[test]
fn with_an_abort_handle_the_connect_timeout_ends_a_name_lookup() -> TestResult {
    let (resolver, lookups, release) = HangingResolver::new();
    let client = Client::builder()
        .connect_timeout(Duration::from_millis(50))
        .resolver(resolver)
        .build()?;
    let abort = AbortHandle::new();
    let request = get("http://silent-dns.test/", &abort)?;
    let outcome = in_background({
        let client = client.clone();
        move || client.execute(request).map(|r| r.status())
    });
    lookups.recv_timeout(SAFETY)?;
    let error = outcome()?.err().ok_or("the lookup never answers")?;
    assert_eq!(error.kind(), ErrorKind::ConnectTimeout, "{error:#}");
    assert!(format!("{error}").contains("name lookup"), "{error}");
    drop(release);
    Ok(())
}

#[test]
fn a_resolver_that_panics_fails_an_abortable_request_at_once() -> TestResult {
    // Found in review: the lookup thread died without answering, and the request
    // waited for its connect timeout, then blamed the lookup's time.
    let client = Client::builder()
        .connect_timeout(PATIENT)
        .resolver(
            |_: &str, _: u16| -> std::io::Result<Vec<std::net::SocketAddr>> {
                panic!("a resolver bug")
            },
        )
        .build()?;
    let abort = AbortHandle::new();
    let request = get("http://panics.test:1/", &abort)?;
    let outcome = in_background({
        let client = client.clone();
        move || client.execute(request).map(|r| r.status())
    });
    let error = outcome()?.err().ok_or("a panicking resolver answered")?;
    assert!(
        format!("{error:#}").contains("the resolver panicked"),
        "{error:#}"
    );
    Ok(())
}
