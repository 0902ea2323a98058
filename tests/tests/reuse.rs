//! Connection reuse end to end: what is kept, what is closed, and why.

mod common;

use std::io::Read;
use std::time::Duration;

use common::{
    SAFETY, TestResult, client, close_reason, decision, info, route,
    wait_until_idle_connection_is_stale,
};
use hcx::{Body, Client, CloseReason, StaticResolver};
use hcx_testserver::{Method, Reply, TestServer, Version};
use http::Request;

#[test]
fn a_hundred_sequential_gets_use_one_connection() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hello"))
        .keep_requests(0)
        .start()?;
    let client = client()?;
    for i in 0..100 {
        let response = client.get(server.url("/"))?;
        assert_eq!(info(&response).reused, i > 0, "request {i}");
        assert_eq!(response.into_body().into_string()?, "hello");
    }
    assert_eq!(server.stats().connections_accepted, 1);
    assert_eq!(server.stats().requests_received, 100);
    assert_eq!(client.stats().connections_opened, 1);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn connection_close_from_the_server_is_honoured() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("x"))
        .close_after(2)
        .start()?;
    let client = client()?;
    for i in 0..5 {
        let response = client.get(server.url("/"))?;
        // Every second response on a connection says close; the next request opens anew.
        let closing = i % 2 == 1;
        assert_eq!(info(&response).reused, closing, "request {i}");
        match decision(&response) {
            Some(d) if closing => {
                assert_eq!(d.close_reason(), Some(CloseReason::ResponseConnectionClose));
            }
            Some(d) if !closing && d.is_keep() => {}
            other => return Err(format!("request {i}: unexpected decision {other:?}").into()),
        }
        response.into_body().into_string()?;
    }
    // 5 requests, 2 per connection: 3 connections, none idle after a close.
    assert_eq!(server.stats().connections_accepted, 3);
    assert_eq!(server.requests_per_connection(), vec![2, 2, 1]);
    assert_eq!(client.stats().pool.available, 1);
    Ok(())
}

#[test]
fn a_discarded_body_marked_to_close_is_closed_for_the_decision_s_reason() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/bye",
            Reply::ok().body("0123456789").connection_close(),
        )
        .start()?;
    let client = client()?;

    drop(client.get(server.url("/bye"))?);
    assert_eq!(
        client
            .stats()
            .closes
            .get(CloseReason::ResponseConnectionClose),
        1
    );

    let response = client.get(server.url("/bye"))?;
    assert_eq!(
        close_reason(&response),
        Some(CloseReason::ResponseConnectionClose)
    );
    response.into_body().discard();
    let closes = client.stats().closes;
    assert_eq!(
        closes.get(CloseReason::ResponseConnectionClose),
        2,
        "{closes}"
    );
    assert_eq!(closes.get(CloseReason::UnreadBody), 0, "{closes}");
    Ok(())
}

#[test]
fn connection_close_from_the_client_is_honoured() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("x"))
        .start()?;
    let client = client()?;
    let request = Request::get(server.url("/"))
        .header("connection", "close")
        .body(Body::empty())?;
    let response = client.execute(request)?;
    assert_eq!(
        close_reason(&response),
        Some(CloseReason::RequestConnectionClose)
    );
    response.into_body().into_string()?;
    client.get(server.url("/"))?.into_body().into_string()?;
    assert_eq!(server.stats().connections_accepted, 2);
    Ok(())
}

#[test]
fn an_http10_body_is_read_to_close_and_not_reused() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .version(Version::HTTP_10)
                .generated_body(100_000)
                .close_delimited(),
        )
        .start()?;
    let client = client()?;
    let response = client.get(server.url("/"))?;
    assert_eq!(response.version(), Version::HTTP_10);
    assert_eq!(
        close_reason(&response),
        Some(CloseReason::CloseDelimitedBody)
    );
    let body = response.into_body().into_vec()?;
    assert_eq!(body.len(), 100_000);
    assert_eq!(&body[..3], b"abc");
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

#[test]
fn a_chunked_body_with_trailers_is_read_whole_and_keeps_the_connection() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .generated_body(10_000)
                .chunk_size(777)
                .chunk_extension("name=\"quoted;value\"")
                .trailer("x-checksum", "42"),
        )
        .start()?;
    let client = client()?;
    for _ in 0..2 {
        let mut body = client.get(server.url("/"))?.into_body();
        let mut text = String::new();
        body.read_to_string(&mut text)?;
        assert_eq!(text.len(), 10_000);
        let trailers = body.trailers().ok_or("no trailers")?;
        assert_eq!(trailers["x-checksum"], "42");
    }
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn a_chunked_body_whose_end_is_buffered_releases_before_its_last_data() -> TestResult {
    // Head, one chunk and the last-chunk in one write.
    let raw = b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
    let chunked = TestServer::builder()
        .route(Method::GET, "/", Reply::raw(&raw[..]))
        .start()?;
    let sized = TestServer::builder()
        .default_reply(Reply::ok().body("hello"))
        .start()?;
    let client = client()?;

    for (server, framing) in [(&sized, "Content-Length"), (&chunked, "chunked")] {
        let mut response = client.get(server.url("/"))?;
        let mut data = [0u8; 5];
        response.body_mut().read_exact(&mut data)?;
        assert_eq!(&data, b"hello", "{framing}");
        assert_eq!(
            client.stats().pool.leased,
            0,
            "{framing}: the last data came with the connection still leased"
        );
        assert!(response.body().is_end(), "{framing}");
    }
    assert_eq!(client.stats().pool.available, 2);
    Ok(())
}

#[test]
fn head_204_and_304_responses_release_at_once_and_keep_the_connection() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::HEAD,
            "/",
            Reply::ok()
                .header("Content-Length", "1234")
                .without_framing(),
        )
        .route(Method::GET, "/204", Reply::new(204u16).without_framing())
        .route(
            Method::GET,
            "/304",
            Reply::new(304u16)
                .header("ETag", "\"v1\"")
                .without_framing(),
        )
        .start()?;
    let client = client()?;
    let head = client.execute(Request::head(server.url("/")).body(Body::empty())?)?;
    assert_eq!(head.headers()["content-length"], "1234");
    // No body to read: the connection is already back.
    assert_eq!(client.stats().pool.leased, 0);
    let no_content = client.get(server.url("/204"))?;
    assert_eq!(no_content.status(), 204);
    assert_eq!(client.stats().pool.leased, 0);
    let not_modified = client.get(server.url("/304"))?;
    assert_eq!(not_modified.status(), 304);
    assert!(info(&not_modified).reused);
    drop((head, no_content, not_modified));
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn an_idle_close_by_the_server_is_caught_before_the_next_request() -> TestResult {
    // The server closes idle connections after 50 ms; the client would keep them 30 s.
    let server = TestServer::builder()
        .route(Method::POST, "/", Reply::ok().body("done"))
        .idle_timeout(Duration::from_millis(50))
        .start()?;
    let client = client()?;
    assert_eq!(
        client
            .post(server.url("/"), "one")?
            .into_body()
            .into_string()?,
        "done"
    );
    server.wait_for_closed(1, SAFETY)?;
    wait_until_idle_connection_is_stale(&client, &route(&server.url("/"))?)?;

    let response = client.post(server.url("/"), "two")?;
    let info = info(&response);
    assert!(!info.reused, "{info:?}");
    assert_eq!(info.stale_discarded, 1);
    assert_eq!(response.into_body().into_string()?, "done");
    assert_eq!(client.stats().closes.get(CloseReason::Stale), 1);
    assert_eq!(server.stats().connections_accepted, 2);
    assert_eq!(server.stats().errors, 0);
    Ok(())
}

#[test]
fn a_connection_for_one_route_is_never_given_to_another() -> TestResult {
    let a = TestServer::builder()
        .default_reply(Reply::ok().body("a"))
        .start()?;
    let b = TestServer::builder()
        .default_reply(Reply::ok().body("b"))
        .start()?;
    let resolver = StaticResolver::new()
        .with("a.test", [127, 0, 0, 1].into())
        .with("b.test", [127, 0, 0, 1].into());
    let client = Client::builder()
        .resolver(resolver)
        .response_timeout(Some(SAFETY))
        .build()?;
    for _ in 0..5 {
        assert_eq!(
            client
                .get(format!("http://a.test:{}/", a.port()))?
                .into_body()
                .into_string()?,
            "a"
        );
        assert_eq!(
            client
                .get(format!("http://b.test:{}/", b.port()))?
                .into_body()
                .into_string()?,
            "b"
        );
        // Same server, another name: another route, so another connection.
        assert_eq!(
            client
                .get(format!("http://b.test:{}/", a.port()))?
                .into_body()
                .into_string()?,
            "a"
        );
    }
    assert_eq!(a.stats().connections_accepted, 2);
    assert_eq!(b.stats().connections_accepted, 1);
    assert!(a.requests().iter().all(|r| {
        r.header("host")
            .is_some_and(|h| h.ends_with(&a.port().to_string()))
    }));
    assert_eq!(client.stats().pool.available, 3);
    Ok(())
}

#[test]
fn interim_responses_are_skipped_and_the_connection_kept() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .informational(103)
                .informational(100)
                .body("final"),
        )
        .start()?;
    let client = client()?;
    for _ in 0..2 {
        let response = client.get(server.url("/"))?;
        assert_eq!(response.status(), 200);
        assert_eq!(response.into_body().into_string()?, "final");
    }
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn a_keep_alive_timeout_of_zero_closes_the_connection() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok().header("Keep-Alive", "timeout=0").body("x"),
        )
        .start()?;
    let client = client()?;
    let response = client.get(server.url("/"))?;
    assert_eq!(close_reason(&response), Some(CloseReason::KeepAliveRefused));
    response.into_body().into_string()?;
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

#[test]
fn an_http10_request_asks_for_keep_alive_and_is_reused_unless_it_says_close() -> TestResult {
    // RFC 9112 §9.3: an HTTP/1.0 connection persists only if the request asks for it.
    // PROTOCOL adds `Connection: keep-alive` to an HTTP/1.0 request that has no
    // `Connection` field (Apache's RequestClientConnControl); one that says `close`
    // (or carries another option without keep-alive) is not pooled.
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("one-oh"))
        .start()?;
    let client = client()?;
    for i in 0..2 {
        let request = Request::get(server.url("/"))
            .version(Version::HTTP_10)
            .body(Body::empty())?;
        let response = client.execute(request)?;
        assert_eq!(info(&response).reused, i == 1);
        assert!(decision(&response).is_some_and(|d| d.is_keep()));
        assert_eq!(response.into_body().into_string()?, "one-oh");
    }
    assert_eq!(
        server.requests()[0].header("connection"),
        Some("keep-alive")
    );
    assert_eq!(server.stats().connections_accepted, 1);

    let request = Request::get(server.url("/"))
        .version(Version::HTTP_10)
        .header("connection", "te")
        .body(Body::empty())?;
    let response = client.execute(request)?;
    assert_eq!(
        close_reason(&response),
        Some(CloseReason::Http10RequestWithoutKeepAlive)
    );
    assert_eq!(response.into_body().into_string()?, "one-oh");
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

/// `Keep-Alive: timeout=N` keeps a connection for N less the safety margin (1 s, at
/// most half of N): it is reused just before, and never leased just after, whatever the
/// stale probe would say (here the server has not closed yet: only the margin stops
/// the request from racing its close).
fn keep_alive_edge(timeout: &'static str, kept_for: Duration) -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok().header("Keep-Alive", timeout).body("x"),
        )
        .start()?;
    let clock = hcx::ManualClock::new();
    let manager = hcx::PoolingConnectionManager::builder()
        .clock(clock.clone())
        .build()?;
    let client = Client::builder()
        .connection_manager(manager)
        .response_timeout(Some(SAFETY))
        .build()?;
    let response = client.get(server.url("/"))?;
    assert_eq!(
        decision(&response),
        Some(hcx::Decision::keep(Some(kept_for)))
    );
    response.into_body().into_string()?;

    // Just inside the kept time: reused.
    clock.advance(kept_for - Duration::from_millis(1));
    let response = client.get(server.url("/"))?;
    assert!(info(&response).reused, "reused inside {kept_for:?}");
    response.into_body().into_string()?;

    // At the kept time: expired in the pool, a new connection.
    clock.advance(kept_for);
    let response = client.get(server.url("/"))?;
    assert!(!info(&response).reused, "not leased after {kept_for:?}");
    response.into_body().into_string()?;
    assert_eq!(client.stats().closes.get(CloseReason::Expired), 1);
    assert_eq!(server.stats().connections_accepted, 2);
    Ok(())
}

#[test]
fn a_server_keep_alive_timeout_ends_a_second_early_on_the_client() -> TestResult {
    keep_alive_edge("timeout=5", Duration::from_secs(4))
}

#[test]
fn a_one_second_keep_alive_timeout_is_kept_half_a_second() -> TestResult {
    // The `timeout=1` case: a full 1 s margin would keep nothing, and every
    // back-to-back request would open a connection; half of it keeps reuse.
    keep_alive_edge("timeout=1", Duration::from_millis(500))
}

/// Reads one request head from `stream` (up to its blank line); `None` at its end.
fn read_request_head(stream: &mut std::net::TcpStream) -> Option<Vec<u8>> {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        match stream.read(&mut byte) {
            Ok(1) => head.push(byte[0]),
            _ => return None,
        }
    }
    Some(head)
}

/// Bytes a server sends past its `Content-Length` in the same segment as the body's
/// end are seen, whatever the size of the caller's buffer: a read straight into a
/// large buffer (no copy through the connection's) must not leave them in the socket
/// to answer the next request, even when the buffer holds exactly the rest of the
/// body. The stale probe is off, so nothing else would catch them. The server sends
/// the body only once the client holds the head, so a large enough buffer takes the
/// direct path; the surplus is a whole response of its own, "evil".
#[test]
fn bytes_past_the_body_end_close_the_connection_even_on_a_direct_read() -> TestResult {
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::mpsc;

    const REAL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal";
    const BODY_LEN: usize = 10_000;
    let body_and_surplus: Vec<u8> = std::iter::repeat_n(b'x', BODY_LEN)
        .chain(
            b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
                .iter()
                .copied(),
        )
        .collect();
    for buffer in [4, 64 * 1024, BODY_LEN] {
        let body_and_surplus = body_and_surplus.clone();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/", listener.local_addr()?);
        let (send_body, body_wanted) = mpsc::channel::<()>();
        let server = std::thread::spawn(move || -> std::io::Result<()> {
            // The first connection: the head, then on cue the body with a surplus.
            let (mut first, _) = listener.accept()?;
            read_request_head(&mut first).ok_or(std::io::ErrorKind::UnexpectedEof)?;
            write!(
                first,
                "HTTP/1.1 200 OK\r\nContent-Length: {BODY_LEN}\r\n\r\n"
            )?;
            let _ = body_wanted.recv();
            first.write_all(&body_and_surplus)?;
            // Any request still sent on it would get "evil" first; answer it truly.
            std::thread::spawn(move || {
                while read_request_head(&mut first).is_some() {
                    if first.write_all(REAL).is_err() {
                        break;
                    }
                }
            });
            // The next connection, if the client opens one.
            let (mut second, _) = listener.accept()?;
            while read_request_head(&mut second).is_some() {
                second.write_all(REAL)?;
            }
            Ok(())
        });
        let client = Client::builder()
            .response_timeout(Some(SAFETY))
            .validate_after_inactivity(None)
            .build()?;
        let mut body = client.get(url.as_str())?.into_body();
        send_body.send(())?;
        let mut chunk = vec![0u8; buffer];
        let mut got = Vec::new();
        loop {
            let n = body.read(&mut chunk)?;
            if n == 0 {
                break;
            }
            got.extend_from_slice(&chunk[..n]);
        }
        assert_eq!(got.len(), BODY_LEN, "buffer of {buffer}");
        let next = client.get(url.as_str())?.into_body().into_string()?;
        assert_eq!(
            next, "real",
            "buffer of {buffer}: the surplus answered the next request"
        );
        assert_eq!(
            client.stats().closes.get(CloseReason::TrailingBytes),
            1,
            "buffer of {buffer}"
        );
        drop(client);
        server.join().map_err(|_| "the server panicked")??;
    }
    Ok(())
}

/// Accepts one connection, reads one request head, writes `response`, then waits
/// (bounded by SAFETY) for the client to close.
fn serve_raw_once(response: &'static [u8]) -> std::io::Result<(u16, std::thread::JoinHandle<()>)> {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let handle = std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(common::SAFETY));
        let head = common::read_head(&mut stream);
        if !head.windows(4).any(|w| w == b"\r\n\r\n") {
            return;
        }
        let _ = stream.write_all(response);
        let mut chunk = [0u8; 4096];
        while matches!(stream.read(&mut chunk), Ok(n) if n > 0) {}
    });
    Ok((port, handle))
}

#[test]
fn an_interim_response_that_declares_a_body_closes_the_connection() -> TestResult {
    for response in [
        &b"HTTP/1.1 103 Early Hints\r\nLink: </a.css>; rel=preload\r\nContent-Length: 10\r\n\r\n\
           HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..],
        &b"HTTP/1.1 100 Continue\r\nTransfer-Encoding: chunked\r\n\r\n\
           HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..],
    ] {
        let (port, server) = serve_raw_once(response)?;
        let client = common::client()?;
        let response = client.get(format!("http://127.0.0.1:{port}/"))?;
        let reason = common::close_reason(&response);
        assert_eq!(response.into_body().into_string()?, "hi");
        drop(client);
        server.join().map_err(|_| "server panicked")?;
        // docs/reuse.md: a 1xx with a Transfer-Encoding or a positive length closes.
        assert_eq!(reason, Some(CloseReason::InvalidBodilessResponse));
    }
    Ok(())
}

#[test]
fn into_vec_reads_every_framing_and_size_whole_and_keeps_the_connection() -> TestResult {
    // Sizes around the connection's buffer and the 8 KiB direct-read threshold: a body
    // already buffered with the head, one partly buffered, one mostly read from the
    // socket straight into the vector.
    let sizes = [0usize, 1, 13, 4_000, 8_191, 8_192, 8_193, 70_000, 300_000];
    let mut server = TestServer::builder();
    for &len in &sizes {
        server = server
            .route(
                Method::GET,
                format!("/length/{len}"),
                Reply::ok().generated_body(len),
            )
            .route(
                Method::GET,
                format!("/chunked/{len}"),
                Reply::ok().generated_body(len).chunk_size(3_000),
            );
    }
    let server = server.start()?;
    let client = client()?;
    for &len in &sizes {
        let expected: Vec<u8> = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        for framing in ["length", "chunked"] {
            let body = client
                .get(server.url(&format!("/{framing}/{len}")))?
                .into_body()
                .into_vec()?;
            assert!(body == expected, "{framing} {len}: {} bytes", body.len());
            assert_eq!(client.stats().pool.leased, 0, "{framing} {len}");
        }
    }
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn into_vec_of_a_cut_body_is_an_incomplete_body_error() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/small",
            Reply::ok().generated_body(1_000).truncate_body(500),
        )
        .route(
            Method::GET,
            "/big",
            Reply::ok().generated_body(100_000).truncate_body(50_000),
        )
        .route(
            Method::GET,
            "/chunked",
            Reply::ok()
                .generated_body(100_000)
                .chunk_size(1_000)
                .truncate_body(50_000),
        )
        .start()?;
    let client = client()?;
    for path in ["/small", "/big", "/chunked"] {
        match client.get(server.url(path))?.into_body().into_vec() {
            Ok(body) => panic!("{path}: {} bytes and no error", body.len()),
            Err(e) => assert_eq!(e.kind(), hcx::ErrorKind::IncompleteBody, "{path}: {e}"),
        }
        assert_eq!(client.stats().pool.leased, 0, "{path}");
        assert_eq!(client.stats().pool.available, 0, "{path}");
    }
    Ok(())
}

#[test]
fn a_body_that_came_with_its_head_is_read_whole_a_few_bytes_at_a_time_and_its_connection_is_back_at_its_end()
-> TestResult {
    let length = "HTTP/1.1 200 OK\r\nContent-Length: 13\r\n\r\nhello, world!";
    let chunked = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
                   5\r\nhello\r\n8\r\n, world!\r\n0\r\n\r\n";
    let server = TestServer::builder()
        .route(Method::GET, "/length", Reply::raw(length))
        .route(Method::GET, "/chunked", Reply::raw(chunked))
        .keep_requests(0)
        .start()?;
    let client = client()?;
    for (i, path) in ["/length", "/chunked", "/length", "/chunked"]
        .iter()
        .enumerate()
    {
        let mut response = client.get(server.url(path))?;
        assert_eq!(info(&response).reused, i > 0, "{path}");
        let mut body = Vec::new();
        let mut piece = [0u8; 3];
        loop {
            let n = response.body_mut().read(&mut piece)?;
            if n == 0 {
                break;
            }
            body.extend_from_slice(&piece[..n]);
            // The whole body came with the head: a `Content-Length` body's end is
            // seen at the first read, a chunked one's once its last chunk is reached,
            // and the connection goes back then, the rest kept for the reader.
            if *path == "/length" || body.len() == 13 {
                let leased = client.stats().pool.leased;
                assert_eq!(leased, 0, "{path}, after {} bytes", body.len());
            }
        }
        assert_eq!(body, b"hello, world!", "{path}");
    }
    assert_eq!(server.stats().connections_accepted, 1);
    assert_eq!(client.stats().pool.available, 1);
    Ok(())
}
