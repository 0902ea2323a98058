//! Failures end to end: each has its typed error and leaves the pool healthy.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{SAFETY, TestResult, client};
use hcx::{Body, Client, ProtocolErrorKind, RequestConfig};
use hcx_testserver::{Method, Reply, TestServer};
use http::Request;

/// After a failure: nothing leased, and the next request on the same client works.
fn assert_healthy(client: &Client, server: &TestServer) -> TestResult {
    assert_eq!(client.stats().pool.leased, 0, "{:?}", client.stats());
    assert_eq!(
        client.get(server.url("/ok"))?.into_body().into_string()?,
        "fine"
    );
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

fn server_with(path: &str, reply: Reply) -> std::io::Result<TestServer> {
    TestServer::builder()
        .route(Method::GET, path, reply)
        .route(Method::GET, "/ok", Reply::ok().body("fine"))
        .start()
}

#[test]
fn a_truncated_body_is_an_error_and_the_next_request_gets_a_new_connection() -> TestResult {
    let server = server_with("/cut", Reply::ok().generated_body(1000).truncate_body(100))?;
    let client = client()?;
    let mut body = client.get(server.url("/cut"))?.into_body();
    let mut buf = Vec::new();
    let error = body
        .read_to_end(&mut buf)
        .err()
        .ok_or("expected an error")?;
    assert_eq!(buf.len(), 100);
    assert_eq!(error.kind(), std::io::ErrorKind::UnexpectedEof);
    let error = client
        .get(server.url("/cut"))?
        .into_body()
        .into_vec()
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_incomplete_body(), "{error:?}");
    assert!(format!("{error:#}").contains("100 of 1000"), "{error:#}");
    assert_healthy(&client, &server)?;
    assert_eq!(server.stats().connections_accepted, 3);
    Ok(())
}

#[test]
fn a_truncated_chunked_body_is_an_incomplete_body() -> TestResult {
    let server = server_with(
        "/cut",
        Reply::ok()
            .generated_body(1000)
            .chunk_size(100)
            .truncate_body(350),
    )?;
    let client = client()?;
    let error = client
        .get(server.url("/cut"))?
        .into_body()
        .into_string()
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_incomplete_body(), "{error:?}");
    assert_healthy(&client, &server)
}

#[test]
fn a_server_slower_than_the_response_timeout_is_a_response_timeout() -> TestResult {
    let server = server_with("/slow", Reply::ok().delay(Duration::from_secs(30)))?;
    let client = client()?;
    let mut request = Request::get(server.url("/slow")).body(Body::empty())?;
    request
        .extensions_mut()
        .insert(RequestConfig::default().with_response_timeout(Some(Duration::from_millis(100))));
    let error = client.execute(request).err().ok_or("expected a timeout")?;
    assert!(
        error.is_response_timeout() && error.is_timeout(),
        "{error:?}"
    );
    assert!(error.to_string().contains("100ms"), "{error}");
    assert_healthy(&client, &server)
}

#[test]
fn a_body_that_stalls_times_out_while_reading() -> TestResult {
    let server = server_with(
        "/stall",
        Reply::ok().generated_body(1000).stall_body_after(10),
    )?;
    // The head must come within it: long enough for a loaded CI machine.
    let client = Client::builder()
        .response_timeout(Some(Duration::from_secs(1)))
        .build()?;
    let error = client
        .get(server.url("/stall"))?
        .into_body()
        .into_vec()
        .err()
        .ok_or("expected a timeout")?;
    assert!(error.is_response_timeout(), "{error:?}");
    assert_healthy(&client, &server)
}

#[test]
fn a_status_line_that_is_not_http_is_a_protocol_error_at_once() -> TestResult {
    // Stalls after the bytes: only an immediate error can pass within the timeout.
    let server = server_with("/ssh", Reply::raw("SSH-2.0-OpenSSH_9.6\r\n"))?;
    let client = client()?;
    let error = client
        .get(server.url("/ssh"))
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_protocol(), "{error:?}");
    assert_eq!(error.protocol_error(), Some(ProtocolErrorKind::NotHttp));
    assert_healthy(&client, &server)
}

#[test]
fn a_bare_cr_in_a_head_is_a_protocol_error_at_once() -> TestResult {
    // No blank line ever comes and the connection stays open: only an immediate error
    // passes, not a wait for the response timeout.
    let raw = "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\r\nabc";
    let server = server_with("/cr", Reply::raw(raw))?;
    let client = client()?;
    let error = client
        .get(server.url("/cr"))
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_protocol(), "{error:?}");
    assert_eq!(error.protocol_error(), Some(ProtocolErrorKind::InvalidHead));
    assert_healthy(&client, &server)
}

#[test]
fn a_bad_chunk_size_is_a_protocol_error() -> TestResult {
    let raw = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n";
    let server = server_with("/chunk", Reply::raw(raw))?;
    let client = client()?;
    let error = client
        .get(server.url("/chunk"))?
        .into_body()
        .into_vec()
        .err()
        .ok_or("expected an error")?;
    assert_eq!(
        error.protocol_error(),
        Some(ProtocolErrorKind::InvalidChunkSize),
        "{error:?}"
    );
    assert_healthy(&client, &server)
}

#[test]
fn conflicting_content_lengths_are_a_protocol_error() -> TestResult {
    let raw = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\nhello!";
    let server = server_with("/cl", Reply::raw(raw))?;
    let client = client()?;
    let error = client
        .get(server.url("/cl"))
        .err()
        .ok_or("expected an error")?;
    assert_eq!(
        error.protocol_error(),
        Some(ProtocolErrorKind::ConflictingContentLength),
        "{error:?}"
    );
    assert_healthy(&client, &server)
}

#[test]
fn a_close_before_any_response_byte_is_closed_before_response() -> TestResult {
    let server = server_with("/gone", Reply::no_response())?;
    let client = client()?;
    let error = client
        .get(server.url("/gone"))
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_closed_before_response(), "{error:?}");
    assert_healthy(&client, &server)
}

#[test]
fn a_refused_connection_is_a_connect_error() -> TestResult {
    let port = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        listener.local_addr()?.port()
    }; // closed again: nothing listens there now
    let client = client()?;
    let error = client
        .get(format!("http://127.0.0.1:{port}/"))
        .err()
        .ok_or("expected an error")?;
    assert!(
        error.is_connect() && !error.is_connect_timeout(),
        "{error:?}"
    );
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_full_pool_is_a_lease_timeout_with_the_counts() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(100_000))
        .start()?;
    let client = Client::builder()
        .max_per_route(1)
        .connection_request_timeout(Duration::from_millis(50))
        .response_timeout(Some(SAFETY))
        .build()?;
    let held = client.get(server.url("/"))?; // body unread: its connection stays leased
    let error = client
        .get(server.url("/"))
        .err()
        .ok_or("expected a lease timeout")?;
    assert!(error.is_lease_timeout(), "{error:?}");
    assert!(format!("{error:#}").contains("1 of 1 leased"), "{error:#}");
    held.into_body().into_vec()?;
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_vec()?.len(),
        100_000
    );
    Ok(())
}

#[test]
fn invalid_requests_fail_before_touching_the_pool() -> TestResult {
    let client = client()?;
    let ftp = client
        .get("ftp://example.com/")
        .err()
        .ok_or("ftp must fail")?;
    assert!(
        ftp.is_invalid_request() && ftp.to_string().contains("unsupported scheme"),
        "{ftp}"
    );
    let relative = client
        .get("/just/a/path")
        .err()
        .ok_or("a relative URI must fail")?;
    assert!(relative.is_invalid_request(), "{relative:?}");
    let conflict = Request::post("http://127.0.0.1:1/")
        .header("content-length", "3")
        .body(Body::from("four"))?;
    let error = client
        .execute(conflict)
        .err()
        .ok_or("a conflicting length must fail")?;
    assert!(error.is_invalid_request(), "{error:?}");
    assert_eq!(client.stats().connections_opened, 0);
    Ok(())
}

#[test]
fn a_head_cut_short_is_a_protocol_error_not_a_missing_response() -> TestResult {
    let server = server_with(
        "/half",
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Le").then_close(),
    )?;
    let client = client()?;
    let error = client
        .get(server.url("/half"))
        .err()
        .ok_or("expected an error")?;
    assert!(!error.is_closed_before_response(), "{error:?}");
    assert_eq!(
        error.protocol_error(),
        Some(ProtocolErrorKind::IncompleteHead),
        "{error:?}"
    );
    assert_healthy(&client, &server)
}

#[test]
fn stray_bytes_after_a_response_close_its_connection_at_release() -> TestResult {
    let server = server_with(
        "/extra",
        Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA"),
    )?;
    let client = client()?;
    assert_eq!(
        client
            .get(server.url("/extra"))?
            .into_body()
            .into_string()?,
        "hi"
    );
    let next = client.get(server.url("/ok"))?;
    let info = common::info(&next);
    assert!(!info.reused, "never pooled with bytes in its buffer");
    assert_eq!(info.stale_discarded, 0, "so the probe has nothing to find");
    assert_eq!(next.into_body().into_string()?, "fine");
    assert_eq!(server.stats().connections_accepted, 2);
    Ok(())
}

#[test]
fn stray_bytes_after_a_response_are_never_read_as_the_next_response_even_without_the_probe()
-> TestResult {
    // The extra bytes look like a whole response: with the stale probe off, only the
    // release-time check keeps them from answering the next request.
    let server = server_with(
        "/extra",
        Reply::raw(
            "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG",
        ),
    )?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .validate_after_inactivity(None)
        .build()?;
    let first = client
        .get(server.url("/extra"))?
        .into_body()
        .into_string()?;
    assert_eq!(first, "hi");
    let next = client.get(server.url("/ok"))?;
    assert!(
        !common::info(&next).reused,
        "the connection with stray bytes was closed"
    );
    assert_eq!(next.into_body().into_string()?, "fine");
    assert_eq!(server.stats().connections_accepted, 2);
    assert_healthy(&client, &server)
}

#[test]
fn stray_bytes_behind_a_response_that_ends_where_a_full_read_does_are_found_too() -> TestResult {
    // The engine reads 8 KiB at a time: a response of exactly 8192 bytes ends where
    // the first read does, and the stray response behind it, sent in the same write,
    // is still in the socket when the body ends.
    let bare = "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Pad: \r\n\r\n";
    let mut raw = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 1000\r\nX-Pad: {}\r\n\r\n",
        "p".repeat(8192 - 1000 - bare.len())
    );
    raw.push_str(&"a".repeat(1000));
    assert_eq!(raw.len(), 8192);
    raw.push_str("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG");
    let server = server_with("/extra", Reply::raw(raw))?;
    for probe in [None, Some(Duration::from_secs(2))] {
        let client = Client::builder()
            .validate_after_inactivity(probe)
            .response_timeout(Some(SAFETY))
            .build()?;
        let first = client.get(server.url("/extra"))?;
        assert_eq!(
            common::close_reason(&first),
            None,
            "the head alone does not tell"
        );
        assert_eq!(first.into_body().into_vec()?.len(), 1000);
        let closes = client.stats().closes;
        assert_eq!(closes.get(hcx::CloseReason::TrailingBytes), 1, "{closes}");
        let next = client.get(server.url("/ok"))?;
        assert!(!common::info(&next).reused, "probe {probe:?}");
        assert_eq!(next.into_body().into_string()?, "fine");
    }
    Ok(())
}

#[test]
fn a_server_that_hangs_up_during_the_upload_is_closed_before_response() -> TestResult {
    // The server refuses a body over 1 KiB by closing without a response; the client is
    // still writing 8 MiB: the failed write (or the read after it) means no response.
    let server = TestServer::builder()
        .route(Method::PUT, "/", Reply::ok())
        .route(Method::GET, "/ok", Reply::ok().body("fine"))
        .max_body_bytes(1024)
        .start()?;
    let client = client()?;
    let error = client
        .execute(Request::put(server.url("/")).body(Body::from(vec![b'x'; 8 << 20]))?)
        .err()
        .ok_or("expected an error")?;
    assert!(error.is_closed_before_response(), "{error:?}");
    assert_healthy(&client, &server)
}

#[test]
fn bytes_of_an_answer_before_a_hang_up_are_not_reported_as_no_response() -> TestResult {
    // Found in review: the server starts answering (a cut 413 head) and hangs up
    // without reading the upload. Response bytes arrived, so this is not
    // `is_closed_before_response` (which a retry layer may replay on).
    use std::io::{Read as _, Write as _};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let peer = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut socket, _) = listener.accept()?;
        let mut head = [0u8; 512];
        let _ = socket.read(&mut head)?;
        socket.write_all(b"HTTP/1.1 413 Payload Too La")?;
        socket.flush()?;
        Ok(()) // dropped with the upload unread: the kernel resets the connection
    });
    let client = client()?;
    let error = client
        .execute(Request::put(format!("http://{addr}/")).body(Body::from(vec![b'x'; 8 << 20]))?)
        .err()
        .ok_or("expected an error")?;
    peer.join().map_err(|_| "peer panicked")??;
    assert!(!error.is_closed_before_response(), "{error:?}");
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn an_invalid_request_leaves_the_pooled_connection_alone() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("fine"))
        .start()?;
    let client = client()?;
    client.get(server.url("/"))?.into_body().into_string()?;
    assert_eq!(client.stats().pool.available, 1);
    let invalid = Request::post(server.url("/"))
        .header("content-length", "5")
        .body(Body::from("abc"))?;
    let error = client
        .execute(invalid)
        .err()
        .ok_or("a length that contradicts the body")?;
    assert!(error.is_invalid_request(), "{error:?}");
    // Checked before any lease: the idle connection is still there, nothing closed.
    let stats = client.stats();
    assert_eq!(
        (
            stats.pool.available,
            stats.pool.leased,
            stats.closes.total()
        ),
        (1, 0, 0)
    );
    let response = client.get(server.url("/"))?;
    assert!(common::info(&response).reused);
    Ok(())
}

/// An error a layer makes after an exchange (here a response interceptor refusing the
/// response) says the request was sent: a caller resending what "was not sent" would
/// otherwise send the order twice.
#[test]
fn response_interceptor_error_says_the_request_was_sent() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().header("x-bad", "1").body("x"))
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .disable_automatic_retries()
        .add_response_interceptor_last(
            |response: &mut hcx::http::Response<hcx::ResponseBody>, _: &mut hcx::Context| {
                if response.headers().contains_key("x-bad") {
                    Err(hcx::Error::new(hcx::ErrorKind::Protocol, "bad response"))
                } else {
                    Ok(())
                }
            },
        )
        .build()?;
    let error = client.post(server.url("/orders"), "order").unwrap_err();
    assert_eq!(server.stats().requests_received, 1);
    assert!(error.is_request_sent(), "{:?}", error.request_progress());
    assert!(error.is_response_started());
    Ok(())
}

/// A redirect that cannot be followed (a `307` to a request whose body cannot be sent
/// again) fails after the first exchange: the error says the request was sent, though
/// REDIRECT made it and not the exchange.
#[test]
fn an_error_after_a_redirect_says_the_request_was_sent() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::POST,
            "/orders",
            Reply::new(307u16).header("location", "/elsewhere"),
        )
        .route(Method::GET, "/ok", Reply::ok().body("fine"))
        .start()?;
    let client = client()?;
    let body = Body::reader(std::io::Cursor::new(b"order".to_vec()));
    let request = Request::post(server.url("/orders")).body(body)?;
    let error = client.execute(request).unwrap_err();
    assert_eq!(error.kind(), hcx::ErrorKind::Redirect, "{error}");
    assert_eq!(server.stats().requests_received, 1);
    assert!(error.is_request_sent(), "{:?}", error.request_progress());
    assert!(error.is_response_started());
    assert_healthy(&client, &server)
}

/// With RETRY on: an error a response interceptor returns for a GET (an `Io` kind,
/// which RETRY replays when it reads as lost in flight) carries the exchange's facts
/// on its way through RETRY, so the GET the server answered is not sent again.
#[test]
fn retry_does_not_replay_a_request_whose_response_a_layer_refused() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("x"))
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .add_response_interceptor_last(
            |_: &mut hcx::http::Response<hcx::ResponseBody>, _: &mut hcx::Context| {
                Err(hcx::Error::new(
                    hcx::ErrorKind::Io,
                    "refused by the interceptor",
                ))
            },
        )
        .build()?;
    let error = client.get(server.url("/")).unwrap_err();
    assert_eq!(server.stats().requests_received, 1, "{error}");
    assert!(error.is_request_sent() && error.is_response_started());
    Ok(())
}

/// A retry that fails before sending anything (its connect refused) after a first
/// attempt got a `503`: the execution's error says the request was sent.
#[test]
fn a_retry_that_never_connected_still_says_the_request_was_sent() -> TestResult {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (gone_tx, gone_rx) = std::sync::mpsc::channel::<()>();
    let server = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut stream, _) = listener.accept()?;
        common::read_head(&mut stream);
        std::io::Write::write_all(
            &mut stream,
            b"HTTP/1.1 503 Service Unavailable\r\nretry-after: 0\r\ncontent-length: 0\r\n\
              connection: close\r\n\r\n",
        )?;
        drop(stream);
        drop(listener); // nothing listens on the port from here on
        let _ = gone_tx.send(());
        Ok(())
    });
    let gone = std::sync::Mutex::new(gone_rx);
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        // Between the attempts: wait until the server is gone, so the retry's connect
        // is refused.
        .retry_sleeper(move |_: Duration| {
            if let Ok(gone) = gone.lock() {
                let _ = gone.recv_timeout(SAFETY);
            }
        })
        .build()?;
    let error = client.get(format!("http://127.0.0.1:{port}/")).unwrap_err();
    server.join().map_err(|_| "the server thread panicked")??;
    assert_eq!(error.kind(), hcx::ErrorKind::Connect, "{error}");
    assert!(error.is_request_sent() && error.is_response_started());
    Ok(())
}
