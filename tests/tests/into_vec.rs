//! `ResponseBody::into_vec` from every state a body can be in when it is called.

mod common;

use std::io::Read;

use common::{PATIENT, TestResult, client, facts, in_background};
use hcx::{AbortHandle, Body, CloseReason, ErrorKind, RequestProgress};
use hcx_testserver::{Method, Reply, TestServer};
use http::Request;

fn generated(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

#[test]
fn into_vec_after_a_partial_read_keeps_trailers_and_the_connection() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/t",
            Reply::ok()
                .generated_body(20_000)
                .chunk_size(3_000)
                .trailer("x-sum", "42"),
        )
        .route(Method::GET, "/l", Reply::ok().generated_body(30_000))
        .start()?;
    let client = client()?;
    for first in [1usize, 10, 2_999, 3_000, 9_000, 16 * 1024] {
        let mut body = client.get(server.url("/t"))?.into_body();
        let mut head = vec![0u8; first];
        body.read_exact(&mut head)?;
        // into_vec consumes the body: look at the trailers through a wrapper.
        let mut rest = body;
        let mut all = head.clone();
        let mut tail = Vec::new();
        rest.read_to_end(&mut tail)?;
        all.extend_from_slice(&tail);
        assert_eq!(all, generated(20_000));
        assert_eq!(
            rest.trailers()
                .and_then(|t| t.get("x-sum"))
                .map(|v| v.as_bytes().to_vec()),
            Some(b"42".to_vec())
        );
        let mut body = client.get(server.url("/l"))?.into_body();
        let mut head = vec![0u8; first];
        body.read_exact(&mut head)?;
        head.extend(body.into_vec()?);
        assert_eq!(head, generated(30_000), "{first}");
        assert_eq!(client.stats().pool.leased, 0);
    }
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn into_vec_after_a_failed_read_reports_the_same_kind() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/cut",
            Reply::ok().generated_body(1_000).truncate_body(100),
        )
        .start()?;
    let client = client()?;
    let mut body = client.get(server.url("/cut"))?.into_body();
    let mut buf = Vec::new();
    let first = body
        .read_to_end(&mut buf)
        .map_err(hcx::Error::from_io)
        .err();
    assert_eq!(first.map(|e| e.kind()), Some(ErrorKind::IncompleteBody));
    let again = body.into_vec().err().map(|e| e.kind());
    assert_eq!(again, Some(ErrorKind::IncompleteBody));
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

#[test]
fn an_abort_ends_into_vec_on_the_buffered_path() -> TestResult {
    for (path, reply) in [
        (
            "/small",
            Reply::ok().generated_body(5_000).stall_body_after(100),
        ),
        (
            "/chunked",
            Reply::ok()
                .generated_body(50_000)
                .chunk_size(1_000)
                .stall_body_after(100),
        ),
    ] {
        let server = TestServer::builder()
            .route(Method::GET, path, reply)
            .start()?;
        let client = hcx::Client::builder()
            .response_timeout(Some(PATIENT))
            .build()?;
        let abort = AbortHandle::new();
        let mut request = Request::get(server.url(path)).body(Body::empty())?;
        request.extensions_mut().insert(abort.clone());
        let response = client.execute(request)?;
        let read = in_background(move || response.into_body().into_vec());
        abort.abort();
        let error = match read()? {
            Ok(body) => return Err(format!("{path}: read {}", body.len()).into()),
            Err(e) => e,
        };
        assert_eq!(
            facts(&error),
            (ErrorKind::Aborted, RequestProgress::Complete, true),
            "{path}"
        );
        let stats = client.stats();
        assert_eq!((stats.pool.leased, stats.pool.available), (0, 0), "{path}");
        assert_eq!(stats.closes.get(CloseReason::Aborted), 1, "{path}");
    }
    Ok(())
}

/// Bytes past Content-Length sent with the body's end, whatever path into_vec takes.
#[test]
fn into_vec_never_hands_bytes_past_the_body_to_the_next_request() -> TestResult {
    use std::io::Write;
    use std::net::TcpListener;
    use std::sync::mpsc;
    const REAL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal";
    for len in [1usize, 100, 8_191, 8_192, 8_193, 10_000, 16_385, 40_000] {
        let body_and_surplus: Vec<u8> = std::iter::repeat_n(b'x', len)
            .chain(
                b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil"
                    .iter()
                    .copied(),
            )
            .collect();
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let url = format!("http://{}/", listener.local_addr()?);
        let (send_body, body_wanted) = mpsc::channel::<()>();
        let server = std::thread::spawn(move || -> std::io::Result<()> {
            let (mut first, _) = listener.accept()?;
            common::read_head(&mut first);
            write!(first, "HTTP/1.1 200 OK\r\nContent-Length: {len}\r\n\r\n")?;
            let _ = body_wanted.recv();
            first.write_all(&body_and_surplus)?;
            std::thread::spawn(move || {
                while !common::read_head(&mut first).is_empty() {
                    if first.write_all(REAL).is_err() {
                        break;
                    }
                }
            });
            let (mut second, _) = listener.accept()?;
            while !common::read_head(&mut second).is_empty() {
                second.write_all(REAL)?;
            }
            Ok(())
        });
        let client = hcx::Client::builder()
            .response_timeout(Some(common::SAFETY))
            .validate_after_inactivity(None)
            .build()?;
        let body = client.get(url.as_str())?.into_body();
        send_body.send(())?;
        assert_eq!(body.into_vec()?.len(), len);
        let next = client.get(url.as_str())?.into_body().into_string()?;
        assert_eq!(next, "real", "{len}: the surplus answered the next request");
        assert_eq!(
            client.stats().closes.get(CloseReason::TrailingBytes),
            1,
            "{len}"
        );
        drop(client);
        let _ = server.join();
    }
    Ok(())
}
