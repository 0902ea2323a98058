//! Responses from a hostile or broken server, end to end through `hcx::Client` over
//! raw loopback sockets: each gives the right response or a typed error that says
//! what was wrong, and no connection carries leftovers into the next exchange.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread;

use common::{SAFETY, TestResult, client, close_reason};
use hcx::{Body, CloseReason};
use http::Request;

/// How a scripted response goes out.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Pace {
    /// In one write.
    Whole,
    /// One byte per write (with `TCP_NODELAY`, so one byte per segment).
    Trickle,
    /// In one write, then the connection is closed.
    ThenClose,
    /// One byte per write, then the connection is closed.
    TrickleThenClose,
}

/// A raw server: every request (on any connection) gets the next scripted response;
/// once the script is used up, each request gets `last`. It counts connections.
struct Scripted {
    port: u16,
    connections: Arc<AtomicUsize>,
}

impl Scripted {
    fn start(script: Vec<(&'static [u8], Pace)>, last: &'static [u8]) -> std::io::Result<Self> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let connections = Arc::new(AtomicUsize::new(0));
        let script = Arc::new(Mutex::new(script.into_iter()));
        let counted = connections.clone();
        thread::spawn(move || {
            for stream in listener.incoming() {
                let Ok(stream) = stream else { return };
                counted.fetch_add(1, Ordering::SeqCst);
                let script = script.clone();
                thread::spawn(move || serve(stream, &script, last));
            }
        });
        Ok(Scripted { port, connections })
    }

    fn url(&self, path: &str) -> String {
        format!("http://127.0.0.1:{}{path}", self.port)
    }

    fn connections(&self) -> usize {
        self.connections.load(Ordering::SeqCst)
    }
}

type Script = Mutex<std::vec::IntoIter<(&'static [u8], Pace)>>;

fn serve(mut stream: TcpStream, script: &Script, last: &'static [u8]) {
    let _ = stream.set_read_timeout(Some(SAFETY));
    let _ = stream.set_nodelay(true);
    while let Some(head) = read_request(&mut stream) {
        let _ = head;
        let next = script
            .lock()
            .map(|mut s| s.next())
            .unwrap_or(None)
            .unwrap_or((last, Pace::Whole));
        let ok = match next.1 {
            Pace::Whole | Pace::ThenClose => stream.write_all(next.0).is_ok(),
            Pace::Trickle | Pace::TrickleThenClose => {
                next.0.iter().all(|b| stream.write_all(&[*b]).is_ok())
            }
        };
        if !ok || matches!(next.1, Pace::ThenClose | Pace::TrickleThenClose) {
            return;
        }
    }
}

/// Reads one request head and its `Content-Length` body; `None` at the end.
fn read_request(stream: &mut TcpStream) -> Option<Vec<u8>> {
    let head = common::read_head(stream);
    if !head.ends_with(b"\r\n\r\n") {
        return None;
    }
    let text = String::from_utf8_lossy(&head).to_ascii_lowercase();
    let length = text
        .lines()
        .find_map(|l| l.strip_prefix("content-length:"))
        .and_then(|v| v.trim().parse::<u64>().ok())
        .unwrap_or(0);
    std::io::copy(&mut stream.take(length), &mut std::io::sink()).ok()?;
    Some(head)
}

const REAL: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nreal";

#[test]
fn a_response_one_byte_per_write_is_read_whole_and_the_connection_kept() -> TestResult {
    const TRICKLED: &[u8] = b"HTTP/1.1 103 Early Hints\r\nLink: </a>\r\n\r\n\
        HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;x=\"y\"\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n";
    let server = Scripted::start(vec![(TRICKLED, Pace::Trickle)], REAL)?;
    let client = client()?;
    let response = client.get(server.url("/"))?;
    assert_eq!(close_reason(&response), None);
    let mut body = response.into_body();
    let mut got = String::new();
    body.read_to_string(&mut got)?;
    assert_eq!(got, "hello");
    assert_eq!(
        body.trailers().map(|t| t["x-sum"].clone()),
        Some("1".parse()?)
    );
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "real"
    );
    assert_eq!(server.connections(), 1);
    Ok(())
}

/// Sends `raw` once (in one write) to a `method` request, then `REAL` to the next
/// request; returns the first body (as text), the next body and the connections used.
fn then_real(
    method: http::Method,
    raw: &'static [u8],
) -> Result<(String, String, usize), Box<dyn std::error::Error>> {
    let server = Scripted::start(vec![(raw, Pace::Whole)], REAL)?;
    let client = client()?;
    let request = Request::builder()
        .method(method)
        .uri(server.url("/"))
        .body(Body::empty())?;
    let body = client.execute(request)?.into_body().into_string()?;
    let next = client.get(server.url("/"))?.into_body().into_string()?;
    Ok((body, next, server.connections()))
}

#[test]
fn bytes_after_a_bodiless_or_complete_response_never_answer_the_next_request() -> TestResult {
    use http::Method;
    let cases: &[(Method, &'static [u8], &str)] = &[
        (Method::HEAD, b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello", ""),
        (Method::HEAD, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ""),
        (Method::GET, b"HTTP/1.1 204 No Content\r\n\r\nhello", ""),
        (Method::GET, b"HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\nhello", ""),
        (Method::GET, b"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\nhello", ""),
        (Method::GET, b"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", ""),
        (Method::GET, b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil", "hi"),
        (Method::GET, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nhi\r\n0\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nevil", "hi"),
    ];
    for (method, raw, body) in cases {
        let (got, next, connections) = then_real(method.clone(), raw)?;
        let what = String::from_utf8_lossy(raw);
        assert_eq!(got, *body, "{method} {what:?}");
        assert_eq!(next, "real", "{method} {what:?}");
        assert_eq!(
            connections, 2,
            "{method} {what:?}: the first connection is closed"
        );
    }
    Ok(())
}

#[test]
fn odd_but_valid_responses_are_read_and_the_connection_kept() -> TestResult {
    let cases: &[(&'static [u8], &str)] = &[
        (
            b"HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 2\r\n\r\nhi",
            "hi",
        ),
        (b"HTTP/1.1 200\r\nContent-Length: 2\r\n\r\nhi", "hi"),
        (b"HTTP/1.1 200 \r\nContent-Length: 2\r\n\r\nhi", "hi"),
        (b"HTTP/1.1 200 OK\nContent-Length: 2\n\nhi", "hi"),
        (
            b"\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
            "hi",
        ),
        (
            b"HTTP/1.1 200 OK\r\nX: a\r\n b\r\nContent-Length: 2\r\n\r\nhi",
            "hi",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
           0000000000000000000000002\r\nhi\r\nA;ext\r\n0123456789\r\n0\r\n\r\n",
            "hi0123456789",
        ),
        (
            b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Early\r\n\r\n\
           HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
            "hi",
        ),
    ];
    for (raw, body) in cases {
        let (got, next, connections) = then_real(http::Method::GET, raw)?;
        let what = String::from_utf8_lossy(raw);
        assert_eq!(
            (got.as_str(), next.as_str(), connections),
            (*body, "real", 1),
            "{what:?}"
        );
    }
    Ok(())
}

#[test]
fn a_broken_response_whole_or_trickled_is_a_protocol_error_that_says_what() -> TestResult {
    use hcx_h1::ErrorKind as K;
    let cases: &[(&'static [u8], K, &str)] = &[
        (
            b"HTTP/1.1 2 OK\r\n\r\n",
            K::InvalidHead,
            "invalid response status",
        ),
        (
            b"HTTP/1.1 2000 OK\r\n\r\n",
            K::InvalidHead,
            "invalid response status",
        ),
        (
            b"HTTP/1.1 099 X\r\n\r\n",
            K::InvalidHead,
            "invalid status code 99",
        ),
        (
            b"HTTP/2.0 200 OK\r\n\r\n",
            K::UnsupportedVersion,
            "HTTP/2.0 200 OK",
        ),
        (
            b"HTTP/1.1 200 OK\r\nX: a\0b\r\n\r\n",
            K::InvalidHead,
            "field \"X\" on line 2",
        ),
        (
            b"HTTP/1.1 200 OK\r\nX: a\rb\r\n\r\n",
            K::InvalidHead,
            "field \"X\" on line 2",
        ),
        (
            b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\nhi",
            K::InvalidTransferEncoding,
            "final coding \"gzip\"",
        ),
        (
            b"SSH-2.0-OpenSSH\r\n",
            K::NotHttp,
            "does not start with HTTP/ (got \"S",
        ),
        // Cut by the close after bytes that already break the head.
        (
            b"HTTP/1.1 abc\r\n",
            K::InvalidHead,
            "invalid response status",
        ),
        (
            b"HTTP/1.1 200 OK\r\nBad Header\r\n",
            K::InvalidHead,
            "line 2 has no colon",
        ),
        // Cut by the close in a valid head.
        (
            b"HTTP/1.1 200 OK\r\nA: 1\r\n",
            K::IncompleteHead,
            "after 23 bytes of a response head",
        ),
    ];
    for (raw, kind, says) in cases {
        for pace in [Pace::ThenClose, Pace::TrickleThenClose] {
            let server = Scripted::start(vec![(raw, pace)], REAL)?;
            let client = client()?;
            let what = String::from_utf8_lossy(raw);
            let Err(error) = client.get(server.url("/")) else {
                panic!("{what:?}: a response");
            };
            assert!(error.is_protocol(), "{what:?}: {error:?}");
            assert_eq!(error.protocol_error(), Some(*kind), "{what:?}: {error:?}");
            let chain = format!(
                "{error} / {}",
                std::error::Error::source(&error).map_or(String::new(), |s| s.to_string())
            );
            assert!(chain.contains(says), "{what:?}: {chain}");
            assert_eq!(client.stats().pool.available, 0, "{what:?}");
        }
    }
    Ok(())
}

/// A server for one connection: reads the first request head, then `answer` acts on
/// the stream. Returns the port and the thread, whose result is `answer`'s.
fn answer_one_request(
    answer: impl FnOnce(&mut TcpStream) -> std::io::Result<()> + Send + 'static,
) -> std::io::Result<(u16, thread::JoinHandle<std::io::Result<()>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = thread::spawn(move || {
        let (mut s, _) = listener.accept()?;
        s.set_read_timeout(Some(SAFETY))?;
        let _ = common::read_head(&mut s);
        answer(&mut s)
    });
    Ok((port, server))
}

#[test]
fn an_early_answer_to_an_upload_is_read_and_its_connection_closed() -> TestResult {
    // The server answers a large upload after its head: then closes at once, unread
    // bytes and all (the client's write fails, and it reads the answer), or reads the
    // rest (the client sees the answer between two writes and stops sending). Either
    // way the request is cut short. 32 MiB: more than loopback buffers hold, so the
    // client cannot have sent it all before the answer comes.
    for drain in [true, false] {
        let (port, server) = answer_one_request(move |s| {
            s.write_all(b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 3\r\n\r\nbig")?;
            if drain {
                s.shutdown(std::net::Shutdown::Write)?;
                let _ = std::io::copy(s, &mut std::io::sink());
            }
            Ok(())
        })?;
        let client = client()?;
        let response = client.post(format!("http://127.0.0.1:{port}/"), vec![b'x'; 32 << 20])?;
        assert_eq!(response.status(), 413, "drain {drain}");
        // Cut short, the request leaves the connection unusable.
        assert_eq!(
            close_reason(&response),
            Some(CloseReason::RequestBodyIncomplete),
            "drain {drain}"
        );
        assert_eq!(response.into_body().into_string()?, "big", "drain {drain}");
        drop(client); // the server reads until the client's close
        server.join().map_err(|_| "the server panicked")??;
    }
    Ok(())
}

#[test]
fn a_broken_head_line_and_then_silence_fails_at_once_not_at_the_timeout() -> TestResult {
    // The server sends a status line or a field line that cannot be HTTP/1.x and keeps
    // the connection open: the error comes from the line, not from the response
    // timeout.
    for raw in [
        &b"HTTP/1.1 abc\r\n"[..],
        b"HTTP/1.1 200OK\r\nA: 1\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nnot a field\r\n",
    ] {
        let (port, server) = answer_one_request(move |s| {
            s.write_all(raw)?;
            // Until the client closes.
            let _ = std::io::copy(s, &mut std::io::sink());
            Ok(())
        })?;
        let client = client()?;
        let what = String::from_utf8_lossy(raw);
        let Err(error) = client.get(format!("http://127.0.0.1:{port}/")) else {
            panic!("{what:?}: a response");
        };
        assert_eq!(
            error.protocol_error(),
            Some(hcx_h1::ErrorKind::InvalidHead),
            "{what:?}: {error:?}"
        );
        drop(client);
        server.join().map_err(|_| "the server panicked")??;
    }
    Ok(())
}
