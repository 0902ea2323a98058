//! Every `hcx::ErrorKind`, triggered for real over loopback sockets, with the facts
//! each error carries (how much of the request went out, whether a response started,
//! whether the connection was a pooled one) and a `Display` that says only what its
//! own layer knows (the cause stays in `source()`, printed by `{:#}`).

mod common;

use std::error::Error as _;
use std::io::{self, Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::{Duration, Instant};

use common::{SAFETY, TestResult, client};
use hcx::{Body, Client, ErrorKind, ProtocolErrorKind, RequestConfig, RequestProgress};
use hcx_testserver::{Method, Reply, SilentClose, TestServer};
use http::Request;

/// `Display` must not repeat the cause: an error-chain reporter prints each fact once.
/// The alternate form starts with the message and carries the cause.
fn assert_display_excludes_source(error: &hcx::Error) {
    let shown = error.to_string();
    assert!(!shown.is_empty(), "an empty message: {error:?}");
    if let Some(source) = error.source() {
        let cause = source.to_string();
        assert!(
            !shown.contains(&cause),
            "Display repeats its source: {shown:?} contains {cause:?}"
        );
        let chain = format!("{error:#}");
        assert!(
            chain.starts_with(&shown) && chain.contains(&cause),
            "{{:#}} prints the chain: {chain:?}"
        );
    }
}

/// The three facts of an exchange, checked together so a failure shows all of them.
fn assert_facts(
    error: &hcx::Error,
    progress: RequestProgress,
    response_started: bool,
    reused: bool,
) {
    assert_eq!(
        (
            error.request_progress(),
            error.is_response_started(),
            error.is_connection_reused()
        ),
        (progress, response_started, reused),
        "(request_progress, is_response_started, is_connection_reused) of {error:?}"
    );
    assert_eq!(
        error.is_request_sent(),
        progress == RequestProgress::Complete,
        "{error:?}"
    );
}

/// Facts of an error raised before any connection was used.
fn assert_nothing_happened(error: &hcx::Error) {
    assert_facts(error, RequestProgress::NotStarted, false, false);
}

fn with_config(mut request: Request<Body>, config: RequestConfig) -> Request<Body> {
    request.extensions_mut().insert(config);
    request
}

/// A port nothing listens on any more: bound, read, closed again.
fn closed_port() -> io::Result<u16> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    Ok(listener.local_addr()?.port())
}

// ---------------------------------------------------------------------------------
// InvalidUrl
// ---------------------------------------------------------------------------------

#[test]
fn a_url_that_does_not_parse_is_invalid_url_and_shows_the_url() -> TestResult {
    let client = client()?;
    let error = client
        .get("http://exa mple.com/")
        .err()
        .ok_or("a space in the host cannot parse")?;
    assert_eq!(error.kind(), ErrorKind::InvalidUrl, "{error:?}");
    assert!(error.is_invalid_request());
    assert!(
        error.to_string().contains("http://exa mple.com/"),
        "{error}"
    );
    assert!(error.source().is_some(), "the parser's error is the cause");
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().connections_opened, 0);
    Ok(())
}

#[test]
fn an_unsupported_scheme_is_invalid_url_and_shows_the_url() -> TestResult {
    let client = client()?;
    let error = client
        .get("ftp://example.com/file")
        .err()
        .ok_or("ftp is not an HTTP scheme")?;
    assert_eq!(error.kind(), ErrorKind::InvalidUrl, "{error:?}");
    let shown = error.to_string();
    assert!(
        shown.contains("ftp://example.com/file") && shown.contains("unsupported scheme"),
        "{shown}"
    );
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().connections_opened, 0);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_url_without_its_scheme_is_invalid_url_and_says_what_to_write() -> TestResult {
    // Found in review: "127.0.0.1:PORT/small" failed as `invalid URL "…": invalid
    // format`, which does not say that the `http://` is missing.
    let server = TestServer::builder()
        .route(Method::GET, "/small", Reply::ok().body("small"))
        .start()?;
    let client = client()?;
    let url = server.url("/small");
    let bare = url.strip_prefix("http://").ok_or("an http URL")?;
    let authority = bare.strip_suffix("/small").ok_or("a path")?;
    for text in [
        bare,
        authority,
        "localhost:8080/x",
        "example.com/x",
        "example.com",
    ] {
        let error = client.get(text).err().ok_or("a URL without a scheme")?;
        assert_eq!(error.kind(), ErrorKind::InvalidUrl, "{text}: {error:?}");
        let shown = error.to_string();
        assert!(shown.contains("without a scheme"), "{shown}");
        assert!(shown.contains(&format!("(write http://{text} ")), "{shown}");
        assert_nothing_happened(&error);
        assert_display_excludes_source(&error);
    }
    assert_eq!(client.stats().connections_opened, 0);
    assert_eq!(
        client.get(url.as_str())?.status(),
        200,
        "with its scheme it goes"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// InvalidRequest
// ---------------------------------------------------------------------------------

#[test]
fn framing_headers_that_contradict_the_body_are_invalid_request_and_nothing_is_sent() -> TestResult
{
    let server = TestServer::builder().start()?;
    let client = client()?;

    // Content-Length: 3 with a body of four bytes.
    let conflict = Request::post(server.url("/"))
        .header("content-length", "3")
        .body(Body::from("four"))?;
    let error = client
        .execute(conflict)
        .err()
        .ok_or("a contradicting Content-Length must be refused")?;
    assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error:?}");
    assert!(error.is_invalid_request());
    assert!(
        error.source().is_some(),
        "the encoder's error is the cause: {error:?}"
    );
    assert!(format!("{error:#}").contains("content-length"), "{error:#}");
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);

    // Two Host fields: the encoder refuses them too.
    let two_hosts = Request::get(server.url("/"))
        .header("host", "a.test")
        .header("host", "b.test")
        .body(Body::empty())?;
    let error = client
        .execute(two_hosts)
        .err()
        .ok_or("two Host fields must be refused")?;
    assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error:?}");
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);

    // Refused before the pool: no connection was opened, so the server saw none.
    assert_eq!(client.stats().connections_opened, 0);
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(server.stats().connections_accepted, 0);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------

#[test]
fn a_pool_limit_of_zero_is_a_config_error() {
    let error = match Client::builder().max_per_route(0).build() {
        Ok(_) => panic!("max_per_route(0) must be refused"),
        Err(e) => e,
    };
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    assert!(error.is_config());
    assert!(
        format!("{error:#}").contains("max_per_route"),
        "the cause names the setting: {error:#}"
    );
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
}

// ---------------------------------------------------------------------------------
// UnknownHost
// ---------------------------------------------------------------------------------

#[test]
fn a_name_the_resolver_does_not_know_is_unknown_host() -> TestResult {
    let client = Client::builder()
        .resolver(hcx::StaticResolver::new())
        .response_timeout(Some(SAFETY))
        .build()?;
    let error = client
        .get("http://nowhere.test/")
        .err()
        .ok_or("an empty table resolves nothing")?;
    assert_eq!(error.kind(), ErrorKind::UnknownHost, "{error:?}");
    assert!(error.is_connect() && !error.is_timeout());
    assert!(error.to_string().contains("nowhere.test"), "{error}");
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().connections_opened, 0);
    assert_eq!(client.stats().pool.leased, 0, "the slot was given back");
    Ok(())
}

// ---------------------------------------------------------------------------------
// Connect
// ---------------------------------------------------------------------------------

#[test]
fn a_refused_connect_is_connect_and_names_the_address() -> TestResult {
    let port = closed_port()?;
    let client = client()?;
    let error = client
        .get(format!("http://127.0.0.1:{port}/"))
        .err()
        .ok_or("nothing listens there")?;
    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    assert!(error.is_connect() && !error.is_connect_timeout() && !error.is_timeout());
    assert!(
        error.to_string().contains(&format!("127.0.0.1:{port}")),
        "{error}"
    );
    let cause = error
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    assert_eq!(cause, Some(io::ErrorKind::ConnectionRefused), "{error:?}");
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().connections_opened, 0);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

// ---------------------------------------------------------------------------------
// ConnectTimeout
// ---------------------------------------------------------------------------------

/// A listener that never accepts, its accept queue full: a connect to it gets no
/// answer. Returned with the connections that fill its queue (keep them alive).
///
/// Linux drops a SYN for a listener whose accept queue is full (LISTENOVERFLOWS), so a
/// further connect gets no answer and waits on its SYN retransmit (1 s). std's
/// listener has a backlog of 128 (129 connections fill it), and a loopback connect
/// either completes within the connect call or is dropped, so filling until one
/// connect times out is deterministic: from then on every SYN is dropped, since nobody
/// accepts.
fn unanswering_listener() -> io::Result<(TcpListener, Vec<TcpStream>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut queue = Vec::new();
    loop {
        match TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => queue.push(stream),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => return Ok((listener, queue)),
            Err(e) => return Err(e),
        }
        if queue.len() > 8192 {
            return Err(io::Error::other(
                "the accept queue never filled (a backlog above 8192?)",
            ));
        }
    }
}

/// A real connect timeout of 200 ms, and how long the request took.
fn real_connect_timeout() -> Result<(hcx::Error, Duration), Box<dyn std::error::Error>> {
    let (listener, queue) = unanswering_listener()?;
    let client = Client::builder()
        .connect_timeout(Duration::from_millis(200))
        .response_timeout(Some(SAFETY))
        .build()?;
    let start = Instant::now();
    let error = client
        .get(format!("http://{}/", listener.local_addr()?))
        .err()
        .ok_or("the SYN cannot be answered")?;
    let took = start.elapsed();
    assert_eq!(client.stats().connections_opened, 0);
    assert_eq!(client.stats().pool.leased, 0);
    drop(queue);
    Ok((error, took))
}

#[test]
fn a_request_s_own_connect_timeout_overrides_the_manager_s() -> TestResult {
    let (listener, queue) = unanswering_listener()?;
    // The manager would wait 3 minutes; the request says 200 ms.
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = with_config(
        Request::get(format!("http://{}/", listener.local_addr()?)).body(Body::empty())?,
        RequestConfig::default().with_connect_timeout(Duration::from_millis(200)),
    );
    let error = client
        .execute(request)
        .err()
        .ok_or("no answer to the SYN")?;
    assert_eq!(error.kind(), ErrorKind::ConnectTimeout, "{error:?}");
    assert!(error.to_string().contains("200ms"), "{error}");
    drop(queue);
    Ok(())
}

#[test]
fn a_listener_whose_accept_queue_is_full_is_a_connect_timeout() -> TestResult {
    let (error, took) = real_connect_timeout()?;
    assert_eq!(error.kind(), ErrorKind::ConnectTimeout, "{error:?}");
    assert!(error.is_connect() && error.is_connect_timeout() && error.is_timeout());
    // The message gives the setting; the cause (the socket's "timed out") stays in
    // `source()`. socket2's poll rounds the rest down to whole milliseconds, so the
    // connect may give up a fraction of a millisecond early.
    assert!(
        error.to_string().contains("connect timeout of 200ms"),
        "{error}"
    );
    assert!(
        took >= Duration::from_millis(190) && took < SAFETY,
        "took {took:?}"
    );
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    Ok(())
}

#[test]
fn a_zero_connect_timeout_is_a_config_error_without_a_connect() -> TestResult {
    let server = TestServer::builder().start()?;
    let client = client()?;
    let request = with_config(
        Request::get(server.url("/")).body(Body::empty())?,
        RequestConfig::default().with_connect_timeout(Duration::ZERO),
    );
    let error = client
        .execute(request)
        .err()
        .ok_or("a zero connect timeout")?;
    assert_eq!(error.kind(), ErrorKind::Config, "{error:?}");
    assert!(error.to_string().contains("zero"), "{error}");
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    assert_eq!(server.stats().connections_accepted, 0);
    Ok(())
}

// ---------------------------------------------------------------------------------
// LeaseTimeout
// ---------------------------------------------------------------------------------

#[test]
fn a_route_blocked_with_a_limit_of_zero_says_so() -> TestResult {
    let server = TestServer::builder().default_reply(Reply::ok()).start()?;
    let client = Client::builder()
        .max_per_route_for(server.url("/"), 0)
        .connection_request_timeout(Duration::from_millis(1))
        .build()?;
    let error = client
        .get(server.url("/"))
        .err()
        .ok_or("the route is blocked")?;
    assert_eq!(error.kind(), ErrorKind::LeaseTimeout, "{error:?}");
    assert!(
        error.to_string().contains("the route's limit is 0"),
        "not a busy pool: {error}"
    );
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    assert_eq!(server.stats().connections_accepted, 0);
    Ok(())
}

#[test]
fn a_full_pool_is_a_lease_timeout_with_the_counts_before_anything_is_sent() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(100_000))
        .start()?;
    let client = Client::builder()
        .max_per_route(1)
        .response_timeout(Some(SAFETY))
        .build()?;
    let held = client.get(server.url("/"))?; // unread: its connection stays leased
    let request = with_config(
        Request::get(server.url("/")).body(Body::empty())?,
        RequestConfig::default().with_connection_request_timeout(Duration::from_millis(50)),
    );
    let error = client
        .execute(request)
        .err()
        .ok_or("the only connection is held")?;
    assert_eq!(error.kind(), ErrorKind::LeaseTimeout, "{error:?}");
    assert!(error.is_lease_timeout() && !error.is_timeout());
    let chain = format!("{error:#}");
    assert!(chain.contains("1 of 1 leased"), "{chain}");
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    assert_eq!(held.into_body().into_vec()?.len(), 100_000);
    assert_eq!(
        server.stats().requests_received,
        1,
        "the second never went out"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// Shutdown
// ---------------------------------------------------------------------------------

#[test]
fn a_request_after_the_manager_shut_down_is_shutdown() -> TestResult {
    let server = TestServer::builder().start()?;
    let client = client()?;
    client.get(server.url("/"))?.into_body().into_vec()?;
    client.connection_manager().shutdown();
    let error = client
        .get(server.url("/"))
        .err()
        .ok_or("a shut-down manager leases nothing")?;
    assert_eq!(error.kind(), ErrorKind::Shutdown, "{error:?}");
    assert!(error.is_shutdown());
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}

// ---------------------------------------------------------------------------------
// ResponseTimeout
// ---------------------------------------------------------------------------------

#[test]
fn a_server_that_never_answers_is_a_response_timeout_after_the_whole_request() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/stall", Reply::stall())
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(Duration::from_millis(100)))
        .build()?;
    let error = client
        .get(server.url("/stall"))
        .err()
        .ok_or("no answer within 100 ms")?;
    assert_eq!(error.kind(), ErrorKind::ResponseTimeout, "{error:?}");
    assert!(error.is_response_timeout() && error.is_timeout());
    assert!(error.to_string().contains("100ms"), "{error}");
    // Which server did not answer: a backend talking to many must see it in the log.
    assert!(
        error
            .to_string()
            .contains(&format!("127.0.0.1:{}", server.port())),
        "the message does not name the server: {error}"
    );
    assert_facts(&error, RequestProgress::Complete, false, false);
    assert_display_excludes_source(&error);
    assert_eq!(server.stats().requests_received, 1);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_body_that_stalls_is_a_response_timeout_after_the_response_started() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/stall",
            Reply::ok().generated_body(1000).stall_body_after(10),
        )
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(Duration::from_millis(100)))
        .build()?;
    let error = client
        .get(server.url("/stall"))?
        .into_body()
        .into_vec()
        .err()
        .ok_or("the body stalls after 10 bytes")?;
    assert_eq!(error.kind(), ErrorKind::ResponseTimeout, "{error:?}");
    // Which server stopped sending, as for a server that never answered.
    let message = error.to_string();
    assert!(message.contains("reading the response body"), "{message}");
    assert!(
        message.contains(&format!("127.0.0.1:{}", server.port())),
        "the message does not name the server: {message}"
    );
    assert_facts(&error, RequestProgress::Complete, true, false);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

// ---------------------------------------------------------------------------------
// ClosedBeforeResponse
// ---------------------------------------------------------------------------------

#[test]
fn a_pooled_connection_the_server_closed_is_closed_before_response_on_a_reused_connection()
-> TestResult {
    // The server answers, then closes silently (no `Connection: close`); it keeps
    // reading what comes after (lingering close) so the client's request is accepted
    // by the socket and the client then reads the FIN.
    let server = TestServer::builder()
        .silent_close_after(1, SilentClose::AfterResponse)
        .linger(SAFETY)
        .start()?;
    // Without the stale probe the request is written onto the dead connection.
    let client = Client::builder()
        .disable_automatic_retries()
        .validate_after_inactivity(None)
        .response_timeout(Some(SAFETY))
        .build()?;
    let url = server.url("/");
    client.get(&url)?.into_body().into_vec()?;
    assert_eq!(client.stats().pool.available, 1);
    server.wait_for_closed(1, SAFETY)?;
    common::wait_until_idle_connection_is_stale(&client, &common::route(&url)?)?;

    let error = client
        .get(&url)
        .err()
        .ok_or("the pooled connection is closed")?;
    assert_eq!(error.kind(), ErrorKind::ClosedBeforeResponse, "{error:?}");
    assert!(error.is_closed_before_response());
    // The write succeeded (the server's socket still reads), so the whole request went
    // out before the end of stream was read: the classic stale-connection case.
    assert_facts(&error, RequestProgress::Complete, false, true);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().connections_opened, 1);
    Ok(())
}

#[test]
fn a_new_connection_closed_without_an_answer_is_closed_before_response() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/gone", Reply::no_response())
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .disable_automatic_retries()
        .build()?;
    let error = client
        .get(server.url("/gone"))
        .err()
        .ok_or("the server hangs up")?;
    assert_eq!(error.kind(), ErrorKind::ClosedBeforeResponse, "{error:?}");
    assert_facts(&error, RequestProgress::Complete, false, false);
    assert_display_excludes_source(&error);
    // An end of stream with no byte has no cause below it to add: the alternate form
    // says it once.
    assert_eq!(format!("{error:#}"), error.to_string());
    // An end of stream with no byte has no cause below it to add: the alternate form
    // says it once.
    assert_eq!(format!("{error:#}"), error.to_string());
    assert_eq!(server.stats().requests_received, 1);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

// ---------------------------------------------------------------------------------
// IncompleteBody
// ---------------------------------------------------------------------------------

#[test]
fn a_truncated_body_is_incomplete_body_after_the_response_started() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/cut",
            Reply::ok().generated_body(1000).truncate_body(100),
        )
        .start()?;
    let client = client()?;
    let error = client
        .get(server.url("/cut"))?
        .into_body()
        .into_string()
        .err()
        .ok_or("100 of 1000 bytes")?;
    assert_eq!(error.kind(), ErrorKind::IncompleteBody, "{error:?}");
    assert!(error.is_incomplete_body());
    assert_eq!(
        error.protocol_error(),
        Some(ProtocolErrorKind::IncompleteBody)
    );
    assert!(format!("{error:#}").contains("100 of 1000"), "{error:#}");
    assert_facts(&error, RequestProgress::Complete, true, false);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0, "discarded");
    Ok(())
}

#[test]
fn a_truncated_body_read_with_read_is_incomplete_body_on_every_read() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/cut",
            Reply::ok().generated_body(1000).truncate_body(100),
        )
        .start()?;
    let client = client()?;
    let mut body = client.get(server.url("/cut"))?.into_body();
    let mut all = Vec::new();
    let io_error = body.read_to_end(&mut all).err().ok_or("the body is cut")?;
    assert_eq!(all.len(), 100);
    assert_eq!(io_error.kind(), io::ErrorKind::UnexpectedEof);
    let first = hcx::Error::from_io(io_error);
    assert_eq!(first.kind(), ErrorKind::IncompleteBody, "{first:?}");
    assert_facts(&first, RequestProgress::Complete, true, false);
    assert_display_excludes_source(&first);
    assert!(body.is_end(), "a failed body holds no connection");

    let mut buf = [0u8; 64];
    let io_error = body.read(&mut buf).err().ok_or("the failure repeats")?;
    assert_eq!(io_error.kind(), io::ErrorKind::UnexpectedEof);
    let again = hcx::Error::from_io(io_error);
    assert_eq!(again.kind(), ErrorKind::IncompleteBody, "{again:?}");
    assert_facts(&again, RequestProgress::Complete, true, false);
    assert_eq!(again.to_string(), first.to_string());
    assert_eq!(format!("{again:#}"), format!("{first:#}"));
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_truncated_body_on_a_pooled_connection_says_the_connection_was_reused() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [
                Reply::ok().body("first"),
                Reply::ok().generated_body(1000).truncate_body(10),
            ],
        )
        .start()?;
    let client = client()?;
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "first"
    );
    let response = client.get(server.url("/"))?;
    assert!(common::info(&response).reused);
    let error = response
        .into_body()
        .into_vec()
        .err()
        .ok_or("the second body is cut")?;
    assert_eq!(error.kind(), ErrorKind::IncompleteBody, "{error:?}");
    assert_facts(&error, RequestProgress::Complete, true, true);
    assert_display_excludes_source(&error);
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Protocol
// ---------------------------------------------------------------------------------

#[test]
fn a_reply_that_is_not_http_is_protocol_after_the_response_started() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/ssh", Reply::raw("SSH-2.0-x\r\n"))
        .start()?;
    let client = client()?;
    let error = client.get(server.url("/ssh")).err().ok_or("not HTTP")?;
    assert_eq!(error.kind(), ErrorKind::Protocol, "{error:?}");
    assert!(error.is_protocol());
    assert_eq!(error.protocol_error(), Some(ProtocolErrorKind::NotHttp));
    assert!(
        !error.to_string().contains("SSH"),
        "the bytes stay in the cause: {error}"
    );
    assert!(format!("{error:#}").contains("SSH-2.0-x"), "{error:#}");
    assert_facts(&error, RequestProgress::Complete, true, false);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

// ---------------------------------------------------------------------------------
// RequestBody
// ---------------------------------------------------------------------------------

/// Yields `ok` bytes of `x`, then fails.
struct FailingReader {
    ok: usize,
}

impl Read for FailingReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.ok == 0 {
            return Err(io::Error::other("disk on fire"));
        }
        let n = buf.len().min(self.ok);
        buf[..n].fill(b'x');
        self.ok -= n;
        Ok(n)
    }
}

#[test]
fn a_sized_body_that_ends_short_is_request_body_and_nothing_went_out() -> TestResult {
    let server = TestServer::builder().start()?;
    let client = client()?;
    let request = Request::put(server.url("/"))
        .body(Body::sized_reader(io::Cursor::new(b"abc".to_vec()), 10))?;
    let error = client
        .execute(request)
        .err()
        .ok_or("3 of the 10 promised bytes")?;
    assert_eq!(error.kind(), ErrorKind::RequestBody, "{error:?}");
    // The head and the three bytes were still in the send buffer (a small body goes
    // out with the head in one write): not one byte was written.
    assert_facts(&error, RequestProgress::NotStarted, false, false);
    assert_display_excludes_source(&error);
    // The connection was opened, then discarded without a request.
    assert_eq!(client.stats().connections_opened, 1);
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);
    server.wait_for_closed(1, SAFETY)?;
    assert_eq!(server.stats().requests_received, 0);
    Ok(())
}

#[test]
fn a_request_body_reader_that_fails_at_once_is_request_body_and_nothing_went_out() -> TestResult {
    let server = TestServer::builder().start()?;
    let client = client()?;
    let request = Request::put(server.url("/")).body(Body::reader(FailingReader { ok: 0 }))?;
    let error = client.execute(request).err().ok_or("the reader fails")?;
    assert_eq!(error.kind(), ErrorKind::RequestBody, "{error:?}");
    assert_eq!(
        error.source().map(ToString::to_string).as_deref(),
        Some("disk on fire")
    );
    assert_facts(&error, RequestProgress::NotStarted, false, false);
    assert_display_excludes_source(&error);

    // A factory that fails fails before the pool is touched.
    let request = Request::put(server.url("/")).body(Body::from_factory(None, || {
        Err::<io::Empty, _>(io::Error::other("no such file"))
    }))?;
    let error = client.execute(request).err().ok_or("the factory fails")?;
    assert_eq!(error.kind(), ErrorKind::RequestBody, "{error:?}");
    assert_nothing_happened(&error);
    assert_display_excludes_source(&error);
    assert_eq!(
        client.stats().connections_opened,
        1,
        "only the first connected"
    );
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_request_body_reader_that_fails_after_a_write_is_request_body_with_partial_progress()
-> TestResult {
    let server = TestServer::builder().start()?;
    let client = client()?;
    // 64 KiB before the failure: the sender writes every 16 KiB.
    let request =
        Request::put(server.url("/")).body(Body::reader(FailingReader { ok: 64 * 1024 }))?;
    let error = client.execute(request).err().ok_or("the reader fails")?;
    assert_eq!(error.kind(), ErrorKind::RequestBody, "{error:?}");
    assert_facts(&error, RequestProgress::Partial, false, false);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);
    server.wait_for_closed(1, SAFETY)?;
    assert_eq!(server.stats().requests_received, 0, "the body never ended");
    Ok(())
}

// ---------------------------------------------------------------------------------
// Utf8
// ---------------------------------------------------------------------------------

fn not_utf8_error(
    client: &Client,
    server: &TestServer,
) -> Result<hcx::Error, Box<dyn std::error::Error>> {
    let error = client
        .get(server.url("/bin"))?
        .into_body()
        .into_string()
        .err()
        .ok_or("0xff 0xfe is not UTF-8")?;
    Ok(error)
}

fn binary_server() -> io::Result<TestServer> {
    TestServer::builder()
        .route(Method::GET, "/bin", Reply::ok().body(vec![0xffu8, 0xfe]))
        .start()
}

#[test]
fn a_body_that_is_not_utf8_is_utf8_and_its_connection_is_kept() -> TestResult {
    let server = binary_server()?;
    let client = client()?;
    let error = not_utf8_error(&client, &server)?;
    assert_eq!(error.kind(), ErrorKind::Utf8, "{error:?}");
    assert!(error.to_string().contains("valid up to byte 0"), "{error}");
    assert!(error.source().is_some());
    assert_display_excludes_source(&error);
    // The body was read whole: the connection went back to the pool as usual.
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 1);
    let again = client.get(server.url("/bin"))?;
    assert!(common::info(&again).reused);
    Ok(())
}

#[test]
fn a_utf8_error_says_the_request_went_out_and_the_response_started() -> TestResult {
    let server = binary_server()?;
    let client = client()?;
    let error = not_utf8_error(&client, &server)?;
    assert_eq!(error.kind(), ErrorKind::Utf8, "{error:?}");
    // The whole body was read: the request went out and the response came.
    assert_facts(&error, RequestProgress::Complete, true, false);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Io
// ---------------------------------------------------------------------------------

#[test]
fn a_reset_in_the_middle_of_the_body_is_io_after_the_response_started() -> TestResult {
    // A hand-made peer: waits until the request is in its receive buffer (peek, not
    // read), answers with a head announcing 1000 bytes and 10 of them, and closes.
    // Closing a socket with unread received data sends a reset instead of a FIN (RFC
    // 2525 §2.17; Linux does), so the client sees ECONNRESET, not an end of stream.
    // Linux still delivers the bytes queued before the reset, and the first read after
    // them reports the reset. The client reads the body only after the peer has
    // closed, so the reset is there by then: an `Io` error, not an `IncompleteBody`.
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let peer = std::thread::spawn(move || -> io::Result<()> {
        let (mut socket, _) = listener.accept()?;
        socket.set_read_timeout(Some(SAFETY))?;
        let mut first = [0u8; 1];
        if socket.peek(&mut first)? == 0 {
            return Err(io::Error::other("the client sent nothing"));
        }
        socket.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n0123456789")?;
        socket.flush()?;
        Ok(()) // dropped with the request unread: the kernel resets the connection
    });
    let client = client()?;
    let response = client.get(format!("http://{addr}/"))?;
    peer.join().map_err(|_| "the peer panicked")??;
    let error = response
        .into_body()
        .into_vec()
        .err()
        .ok_or("the body is reset after 10 bytes")?;
    assert_eq!(error.kind(), ErrorKind::Io, "{error:?}");
    assert!(error.is_io());
    let cause = error
        .source()
        .and_then(|s| s.downcast_ref::<io::Error>())
        .map(io::Error::kind);
    assert_eq!(cause, Some(io::ErrorKind::ConnectionReset), "{error:?}");
    assert_facts(&error, RequestProgress::Complete, true, false);
    assert_display_excludes_source(&error);
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Names
// ---------------------------------------------------------------------------------

#[test]
fn kinds_name_the_apache_exception_a_porting_user_caught() {
    assert_eq!(
        ErrorKind::ClosedBeforeResponse.apache_equivalent(),
        "NoHttpResponseException"
    );
    assert_eq!(
        ErrorKind::ConnectTimeout.apache_equivalent(),
        "ConnectTimeoutException"
    );
    assert_eq!(
        ErrorKind::LeaseTimeout.apache_equivalent(),
        "ConnectionRequestTimeoutException"
    );
    assert_eq!(
        ErrorKind::ResponseTimeout.apache_equivalent(),
        "SocketTimeoutException"
    );
    assert_eq!(
        ErrorKind::ClosedBeforeResponse.to_string(),
        "closed_before_response"
    );
}
