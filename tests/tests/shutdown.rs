//! `shutdown_immediate` (Apache 5's `close(CloseMode.IMMEDIATE)`, 4.5's `shutdown()`):
//! the requests in flight fail at once with a `Shutdown` error that says how far they
//! got, over plain TCP and TLS, and nothing is pooled or connected afterwards. Plain
//! `shutdown` leaves them to finish.

mod common;

use common::{
    ConnectStarted, HangingResolver, PATIENT, SAFETY, TestResult, facts, in_background,
    interrupted, signalled, unanswering_listener,
};
use hcx::{AbortHandle, Body, Client, ErrorKind, RequestProgress};
use hcx_testserver::{Reply, TestCa, TestServer};

/// The error of a GET to `server` (which holds it unanswered) when
/// `shutdown_immediate` comes once the server has the request.
fn shut_down_while_waiting(
    client: &Client,
    server: &TestServer,
) -> Result<hcx::Error, Box<dyn std::error::Error>> {
    let request = http::Request::get(server.url("/")).body(Body::empty())?;
    interrupted(
        client,
        request,
        || Ok(server.wait_for_requests(1, SAFETY)?),
        || {
            client.connection_manager().shutdown_immediate();
        },
    )
}

#[test]
fn a_request_waiting_for_its_response_fails_at_once() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()?;
    let client = Client::builder().response_timeout(Some(PATIENT)).build()?;
    let error = shut_down_while_waiting(&client, &server)?;
    assert_eq!(
        facts(&error),
        (ErrorKind::Shutdown, RequestProgress::Complete, false),
        "{error:#}"
    );
    assert!(error.to_string().contains("shutdown_immediate"), "{error}");
    server.wait_for_closed(1, SAFETY)?;
    assert_eq!(client.stats().pool.leased, 0);
    // Nothing more: the manager is shut down.
    let after = client.get(server.url("/")).err().map(|e| e.kind());
    assert_eq!(after, Some(ErrorKind::Shutdown));
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

/// The connection of a request `shutdown_immediate` ended is closed, and counted, for
/// the shutdown, as the request's error says, not as a failed exchange.
#[test]
fn a_connection_in_flight_is_counted_closed_by_the_shutdown() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()?;
    let client = Client::builder().response_timeout(Some(PATIENT)).build()?;
    let error = shut_down_while_waiting(&client, &server)?;
    assert_eq!(error.kind(), ErrorKind::Shutdown, "{error:#}");
    let closes = client.stats().closes;
    assert_eq!(
        (
            closes.get(hcx::CloseReason::Shutdown),
            closes.get(hcx::CloseReason::FailedExchange)
        ),
        (1, 0),
        "{closes:?}"
    );
    Ok(())
}

#[test]
fn a_body_being_read_fails_and_idle_connections_close() -> TestResult {
    let server = TestServer::builder()
        .route(
            hcx_testserver::Method::GET,
            "/slow",
            Reply::ok()
                .generated_body(10_000)
                .close_delimited()
                .stall_body_after(100),
        )
        .route(hcx_testserver::Method::GET, "/", Reply::ok().body("idle"))
        .start()?;
    let client = Client::builder().response_timeout(Some(PATIENT)).build()?;
    // One connection busy with a body, one idle in the pool.
    let busy = client.get(server.url("/slow"))?;
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "idle"
    );
    assert_eq!(client.stats().pool.available, 1);
    let read = in_background(move || busy.into_body().into_vec());
    client.connection_manager().shutdown_immediate();
    let error = match read()? {
        Ok(body) => return Err(format!("read {} bytes as the whole body", body.len()).into()),
        Err(e) => e,
    };
    // A body delimited by the close does not end at the shut-down socket's EOF.
    assert_eq!(
        facts(&error),
        (ErrorKind::Shutdown, RequestProgress::Complete, true),
        "{error:#}"
    );
    server.wait_for_closed(2, SAFETY)?;
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 0));
    Ok(())
}

#[test]
fn a_tls_request_in_flight_fails_at_once() -> TestResult {
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .default_reply(Reply::stall())
        .start()?;
    let client = Client::builder()
        .tls_config(common::trusting(&ca)?)
        .response_timeout(Some(PATIENT))
        .build()?;
    let error = shut_down_while_waiting(&client, &server)?;
    assert_eq!(error.kind(), ErrorKind::Shutdown, "{error:#}");
    Ok(())
}

#[test]
fn plain_shutdown_lets_a_request_in_flight_finish() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("finished"))
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let response = client.get(server.url("/"))?;
    client.connection_manager().shutdown();
    // The body still reads: plain shutdown aborts nothing in flight.
    assert_eq!(response.into_body().into_string()?, "finished");
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_proxy_tunnel_being_opened_is_ended() -> TestResult {
    // A proxy that accepts and never answers the CONNECT.
    let proxy = std::net::TcpListener::bind("127.0.0.1:0")?;
    let proxy_url = format!("http://{}", proxy.local_addr()?);
    let client = Client::builder()
        .proxy(hcx::Proxy::from_url(&proxy_url)?)
        .connect_timeout(PATIENT)
        .response_timeout(Some(PATIENT))
        .build()?;
    let outcome = in_background({
        let client = client.clone();
        move || client.get("https://origin.test/").map(|r| r.status())
    });
    let (_silent, _) = proxy.accept()?;
    client.connection_manager().shutdown_immediate();
    let error = outcome()?.err().ok_or("the shutdown ends the tunnel")?;
    assert_eq!(
        facts(&error),
        (ErrorKind::Shutdown, RequestProgress::NotStarted, false),
        "{error:#}"
    );
    Ok(())
}

fn busy_server() -> std::io::Result<TestServer> {
    // 25 s of `Retry-After` (under the default cap of 30 s).
    TestServer::builder()
        .default_reply(Reply::new(503u16).header("retry-after", "25").body("busy"))
        .start()
}

/// A request waiting out RETRY's wait (a 503 with `Retry-After: 25`), ended by
/// `shut_down`: it fails at once with `Shutdown`, saying why, after one request.
fn the_wait_before_a_retry_is_ended_by(
    shut_down: impl FnOnce(&hcx::PoolingConnectionManager),
) -> TestResult {
    let server = busy_server()?;
    let (retrying, waiting) = common::Retrying::new();
    let client = Client::builder().event_listener(retrying).build()?;
    let request = http::Request::get(server.url("/")).body(Body::empty())?;
    let error = interrupted(
        &client,
        request,
        || Ok(waiting.recv_timeout(SAFETY)?),
        || shut_down(client.connection_manager()),
    )?;
    assert_eq!(error.kind(), ErrorKind::Shutdown, "{error:#}");
    assert_eq!(server.stats().requests_received, 1);
    assert_eq!(client.stats().pool.leased, 0);
    // Says why it stopped, and that the server answered: nothing above retries it.
    assert!(
        error.to_string().contains("while RETRY waited") && error.is_response_started(),
        "{error:#}"
    );
    Ok(())
}

#[test]
fn the_wait_before_a_retry_is_ended() -> TestResult {
    the_wait_before_a_retry_is_ended_by(hcx::PoolingConnectionManager::shutdown_immediate)
}

#[test]
fn a_graceful_shutdown_ends_the_wait_before_a_retry_too() -> TestResult {
    // Found in review: a graceful `shutdown()` let RETRY sleep out the server's
    // `Retry-After` (25 s here) before its next attempt failed to lease.
    the_wait_before_a_retry_is_ended_by(hcx::PoolingConnectionManager::shutdown)
}

#[test]
fn a_503_that_comes_after_a_graceful_shutdown_is_returned_not_retried() -> TestResult {
    // Found in review: a request in flight during a graceful `shutdown()` whose answer
    // was a retriable 503 was dropped for a retry that could not lease: the caller got
    // a `Shutdown` error in place of the server's answer.
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let url = format!("http://{}/", listener.local_addr()?);
    let (read, request_in) = std::sync::mpsc::channel();
    let (answer, shut_down) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (sock, _) = listener.accept()?;
        sock.set_read_timeout(Some(SAFETY))?;
        let mut lines = BufReader::new(&sock);
        let mut line = String::new();
        while lines.read_line(&mut line)? > 2 {
            line.clear();
        }
        let _ = read.send(());
        let _ = shut_down.recv_timeout(SAFETY);
        (&sock).write_all(
            b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 1\r\n\
              content-length: 4\r\n\r\nbusy",
        )
    });
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let outcome = in_background({
        let client = client.clone();
        move || {
            let response = client.get(url.as_str())?;
            let status = response.status();
            Ok::<_, hcx::Error>((status, response.into_body().into_string()?))
        }
    });
    request_in.recv_timeout(SAFETY)?;
    client.connection_manager().shutdown();
    answer.send(())?;
    let (status, body) = outcome()??;
    assert_eq!((status.as_u16(), body.as_str()), (503, "busy"));
    assert_eq!(client.stats().pool.leased, 0);
    server.join().map_err(|_| "the server panicked")??;
    Ok(())
}

#[test]
fn a_request_ended_by_the_shutdown_is_not_retried_whatever_the_strategy() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(PATIENT))
        .retry_strategy(common::RetryAll)
        .build()?;
    let url = server.url("/");
    let outcome = in_background({
        let client = client.clone();
        move || {
            let mut context = hcx::chain::Context::new();
            let request = http::Request::get(url).body(hcx::Body::empty());
            let result = request
                .map_err(|e| e.to_string())
                .map(|r| client.execute_in(r, &mut context).map(|r| r.status()));
            (result, context.attempts())
        }
    });
    server.wait_for_requests(1, SAFETY)?;
    client.connection_manager().shutdown_immediate();
    let (result, attempts) = outcome()?;
    assert_eq!(result?.err().map(|e| e.kind()), Some(ErrorKind::Shutdown));
    assert_eq!(attempts, 1, "RETRY gave up at the shutdown");
    Ok(())
}

#[test]
fn a_tcp_connect_that_gets_no_answer_is_ended() -> TestResult {
    let (listener, queue) = unanswering_listener()?;
    let (started, connecting) = ConnectStarted::new();
    let client = Client::builder()
        .connect_timeout(PATIENT)
        .event_listener(started)
        .build()?;
    let request =
        http::Request::get(format!("http://{}/", listener.local_addr()?)).body(Body::empty())?;
    // Before or during the connect: either way it ends now, as the shutdown's doing.
    let error = interrupted(&client, request, signalled(&connecting), || {
        client.connection_manager().shutdown_immediate();
    })?;
    assert_eq!(
        facts(&error),
        (ErrorKind::Shutdown, RequestProgress::NotStarted, false),
        "{error:#}"
    );
    assert_eq!(client.stats().pool.leased, 0);
    drop(queue);
    Ok(())
}

#[test]
fn a_name_lookup_of_a_request_with_an_abort_handle_is_ended() -> TestResult {
    let (resolver, lookups, release) = HangingResolver::new();
    let client = Client::builder()
        .connect_timeout(PATIENT)
        .resolver(resolver)
        .build()?;
    let mut request = http::Request::get("http://silent-dns.test/").body(Body::empty())?;
    request.extensions_mut().insert(AbortHandle::new());
    let error = interrupted(&client, request, signalled(&lookups), || {
        client.connection_manager().shutdown_immediate();
    })?;
    assert_eq!(
        facts(&error),
        (ErrorKind::Shutdown, RequestProgress::NotStarted, false),
        "{error:#}"
    );
    drop(release);
    Ok(())
}

/// Waits (without sleeping) until thread `tid` of this process is asleep.
fn until_asleep(tid: &str) -> TestResult {
    let deadline = std::time::Instant::now() + SAFETY;
    loop {
        let stat = std::fs::read_to_string(format!("/proc/self/task/{tid}/stat"))?;
        let state = stat.rsplit(") ").next().and_then(|s| s.chars().next());
        if state == Some('S') {
            return Ok(());
        }
        if std::time::Instant::now() > deadline {
            return Err("the thread never slept".into());
        }
        std::thread::yield_now();
    }
}

#[test]
fn a_wait_ended_by_shutdown_immediate_leaves_the_users_abort_handle_usable() -> TestResult {
    let first = Client::builder().build()?;
    let abort = AbortHandle::new();
    let (tx, rx) = std::sync::mpsc::channel();
    let waiter = std::thread::spawn({
        let first = first.clone();
        let abort = abort.clone();
        move || {
            let me = std::fs::read_link("/proc/thread-self")
                .ok()
                .and_then(|p| p.file_name().map(|n| n.to_string_lossy().into_owned()));
            let _ = tx.send(me);
            first.connection_manager().wait(PATIENT, Some(&abort));
        }
    });
    let tid = rx.recv_timeout(SAFETY)?.ok_or("no thread id")?;
    until_asleep(&tid)?;
    first.connection_manager().shutdown_immediate();
    waiter.join().map_err(|_| "waiter panicked")?;
    assert!(!abort.is_aborted(), "an interrupt is no abort");

    // The same handle, on a request of another client whose manager is alive.
    let server = TestServer::builder().default_reply(Reply::ok()).start()?;
    let second = Client::builder()
        .response_timeout(Some(SAFETY))
        .connect_timeout(SAFETY)
        .build()?;
    let mut request = http::Request::get(server.url("/")).body(Body::empty())?;
    request.extensions_mut().insert(abort.clone());
    let response = second.execute(request);
    assert!(
        response.is_ok(),
        "{:#}",
        response.err().map(|e| e.to_string()).unwrap_or_default()
    );
    Ok(())
}
