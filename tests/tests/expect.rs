//! `Expect: 100-continue`, and answers that come while the body goes out, end to end.

mod common;

use std::io::{Read, Write};
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::Duration;

use common::{SAFETY, TestResult, accept_tls, client, listener_with_recv_buffer, trusting};
use hcx::{Body, Client, CloseReason, Decision, Exchange, RequestConfig, ResponseInfo};
use hcx_testserver::{ExpectContinue, Method, Reply, TestServer};
use http::Request;

fn upload(url: String) -> Result<Request<Body>, http::Error> {
    Request::put(url)
        .header("expect", "100-continue")
        .body(Body::from("the payload"))
}

#[test]
fn the_body_is_sent_after_100_continue() -> TestResult {
    let server = TestServer::builder()
        .route_fn(Method::PUT, "/", |req| Reply::ok().body(req.body.clone()))
        .start()?;
    let client = client()?;
    let response = client.execute(upload(server.url("/"))?)?;
    assert_eq!(response.into_body().into_string()?, "the payload");
    assert_eq!(client.stats().pool.available, 1);
    Ok(())
}

#[test]
fn a_final_response_instead_of_100_skips_the_body_and_closes() -> TestResult {
    let server = TestServer::builder()
        .route(Method::PUT, "/", Reply::new(413u16).body("too big"))
        .expect_continue(ExpectContinue::FinalResponse)
        .start()?;
    let client = client()?;
    let response = client.execute(upload(server.url("/"))?)?;
    assert_eq!(response.status(), 413);
    assert_eq!(
        ResponseInfo::of(&response).map(|i| i.decision),
        Some(Decision::Close(CloseReason::RequestBodyIncomplete))
    );
    assert_eq!(response.into_body().into_string()?, "too big");
    assert_eq!(server.last_request().ok_or("no request")?.body.len(), 0);
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

#[test]
fn a_half_sent_request_closes_even_if_the_reuse_strategy_says_keep() -> TestResult {
    let server = TestServer::builder()
        .route(Method::PUT, "/", Reply::new(413u16).body("too big"))
        .expect_continue(ExpectContinue::FinalResponse)
        .start()?;
    // A strategy that ignores everything: the engine must still close, because the
    // server never got the body it was promised.
    let client = Client::builder()
        .response_timeout(Some(Duration::from_secs(10)))
        .reuse_strategy(|_: &Exchange<'_>| Ok(()))
        .build()?;
    let response = client.execute(upload(server.url("/"))?)?;
    assert_eq!(response.status(), 413);
    assert_eq!(
        ResponseInfo::of(&response).map(|i| i.decision),
        Some(Decision::Close(CloseReason::RequestBodyIncomplete))
    );
    assert_eq!(response.into_body().into_string()?, "too big");
    assert_eq!(
        client.stats().pool.available,
        0,
        "the connection was not pooled"
    );
    Ok(())
}

#[test]
fn a_server_that_never_sends_100_gets_the_body_after_the_wait() -> TestResult {
    let server = TestServer::builder()
        .route_fn(Method::PUT, "/", |req| Reply::ok().body(req.body.clone()))
        .expect_continue(ExpectContinue::Ignore)
        .start()?;
    let client = Client::builder()
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(common::SAFETY))
                .with_expect_continue_timeout(Duration::from_millis(50)),
        )
        .build()?;
    let response = client.execute(upload(server.url("/"))?)?;
    assert_eq!(response.into_body().into_string()?, "the payload");
    assert_eq!(client.stats().pool.available, 1);
    Ok(())
}

/// A server that answers the head at once with a final response, and sends the second
/// half of its body `pause` later.
fn early_answer_with_a_pause(pause: Duration) -> std::io::Result<u16> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || -> std::io::Result<()> {
        let (stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(common::SAFETY))?;
        let mut w = stream.try_clone()?;
        let mut r = BufReader::new(stream);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
        }
        w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")?;
        // The slow body is the behaviour under test, not a wait for an event.
        std::thread::sleep(pause);
        w.write_all(b"world")?;
        let mut sink = [0u8; 64];
        while r.read(&mut sink).unwrap_or(0) > 0 {}
        Ok(())
    });
    Ok(port)
}

#[test]
fn an_early_final_response_is_read_with_the_response_timeout_not_the_wait_s() -> TestResult {
    let port = early_answer_with_a_pause(Duration::from_millis(300))?;
    let client = Client::builder()
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(common::SAFETY))
                .with_expect_continue_timeout(Duration::from_millis(50)),
        )
        .build()?;
    let response = client.execute(upload(format!("http://127.0.0.1:{port}/"))?)?;
    assert_eq!(response.into_body().into_string()?, "helloworld");
    Ok(())
}

/// Reads one request head (and, with `body`, its 5-byte body); `None` at end of stream.
fn read_request(stream: &mut std::net::TcpStream, body: bool) -> Option<String> {
    use std::io::Read;
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n")
            && (!body || data.len() >= end + 4 + 5)
        {
            return Some(String::from_utf8_lossy(&data[..end]).to_ascii_lowercase());
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return None,
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
}

/// What [`post_to_a_417_server`] saw.
struct Outcome {
    status: u16,
    body: String,
    attempts: u32,
    /// The request heads the server read, lower case.
    heads: Vec<String>,
}

/// Posts `hello` with `Expect: 100-continue` to a server that answers the first
/// request 417 and a second one 200.
fn post_to_a_417_server(client: &Client) -> Result<Outcome, Box<dyn std::error::Error>> {
    use std::io::Write;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let server = std::thread::spawn(move || {
        let mut heads = Vec::new();
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_read_timeout(Some(common::SAFETY));
            if let Some(head) = read_request(&mut s, false) {
                heads.push(head);
                let _ = s.write_all(
                    b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                );
            }
        }
        // The repeat (or the test's own connection when none comes).
        if let Ok((mut s, _)) = listener.accept() {
            let _ = s.set_read_timeout(Some(common::SAFETY));
            if let Some(head) = read_request(&mut s, true) {
                heads.push(head);
                let _ = s.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\ndone");
            }
        }
        heads
    });
    let mut context = hcx::Context::new();
    let request = Request::post(format!("http://{addr}/upload"))
        .header("expect", "100-continue")
        .body(Body::from("hello"))?;
    let response = client.execute_in(request, &mut context)?;
    let status = response.status().as_u16();
    let body = response.into_body().into_string()?;
    drop(std::net::TcpStream::connect(addr));
    let heads = server.join().map_err(|_| "server panicked")?;
    Ok(Outcome {
        status,
        body,
        attempts: context.attempts(),
        heads,
    })
}

/// The 417 is answered by one repeat without the expectation, then the 200.
fn repeated_without_the_expectation(client: &Client) -> TestResult {
    let Outcome {
        status,
        body,
        attempts,
        heads,
    } = post_to_a_417_server(client)?;
    assert_eq!((status, body.as_str()), (200, "done"));
    assert_eq!(attempts, 2);
    assert_eq!(heads.len(), 2);
    assert!(heads[0].contains("expect: 100-continue"), "{}", heads[0]);
    assert!(!heads[1].contains("expect:"), "{}", heads[1]);
    Ok(())
}

#[test]
fn a_417_to_an_expect_continue_request_is_repeated_without_the_expectation() -> TestResult {
    repeated_without_the_expectation(&client()?)
}

#[test]
fn the_417_repeat_is_retry_s_own_even_with_no_retries_left_to_the_strategy() -> TestResult {
    // The body was never sent (RFC 9110 §10.1.1): the repeat is not the strategy's.
    let client = Client::builder()
        .response_timeout(Some(common::SAFETY))
        .retry_strategy(hcx::DefaultRetryStrategy::new().with_max_retries(0))
        .build()?;
    repeated_without_the_expectation(&client)
}

#[test]
fn without_retry_a_417_is_returned() -> TestResult {
    let client = Client::builder()
        .response_timeout(Some(common::SAFETY))
        .disable_automatic_retries()
        .build()?;
    let Outcome { status, heads, .. } = post_to_a_417_server(&client)?;
    assert_eq!(status, 417);
    assert_eq!(heads.len(), 1);
    assert!(heads[0].contains("expect: 100-continue"), "{}", heads[0]);
    Ok(())
}

#[test]
fn a_417_to_a_request_without_content_is_not_repeated() -> TestResult {
    // The encoder leaves `Expect: 100-continue` out of a request without content, so a
    // 417 to it is about something else: repeating it would send the POST twice.
    let server = TestServer::builder()
        .default_reply(Reply::new(417u16))
        .start()?;
    let client = client()?;
    let mut context = hcx::Context::new();
    let request = Request::post(server.url("/upload"))
        .header("expect", "100-continue")
        .body(Body::empty())?;
    let response = client.execute_in(request, &mut context)?;
    assert_eq!(response.status().as_u16(), 417);
    assert_eq!(context.attempts(), 1);
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}

// ---- Answers while the body goes out ------------------------------------------------

/// What the early-answering server does once it has the request head.
struct Early {
    /// Written at once.
    answer: &'static [u8],
    /// Body bytes read after it.
    then_read: usize,
    /// Written after those.
    last: Option<&'static [u8]>,
    /// `SO_RCVBUF` of the server's socket (`None`: the system's).
    recv_buffer: Option<usize>,
}

/// The server end of [`answers_early`]: its port, the word that the answer is out,
/// the teller to say the test is done, and its thread (the body bytes it read).
type EarlyServer = (
    u16,
    Receiver<()>,
    Sender<()>,
    std::thread::JoinHandle<std::io::Result<usize>>,
);

/// A server (over TLS with `tls`) that, on one connection, reads a request head,
/// does what `early` says, then keeps the connection open and reads nothing more
/// until the test is done (or [`SAFETY`] runs out).
fn answers_early(
    early: Early,
    tls: Option<std::sync::Arc<hcx::rustls::ServerConfig>>,
) -> std::io::Result<EarlyServer> {
    let (listener, port) = listener_with_recv_buffer(early.recv_buffer)?;
    let (answered, told) = channel();
    let (done, finished) = channel();
    let thread = std::thread::spawn(move || -> std::io::Result<usize> {
        let (mut sock, _) = listener.accept()?;
        sock.set_read_timeout(Some(SAFETY))?;
        let serve = |stream: &mut dyn ReadWrite| -> std::io::Result<usize> {
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte)?;
                head.push(byte[0]);
            }
            stream.write_all(early.answer)?;
            stream.flush()?;
            let _ = answered.send(());
            let mut body = vec![0u8; early.then_read];
            stream.read_exact(&mut body)?;
            if let Some(last) = early.last {
                stream.write_all(last)?;
                stream.flush()?;
            }
            let _ = finished.recv_timeout(SAFETY);
            Ok(early.then_read)
        };
        match tls {
            None => serve(&mut sock),
            Some(config) => {
                let conn = accept_tls(&mut sock, config).map_err(std::io::Error::other)?;
                serve(&mut hcx::rustls::StreamOwned::new(conn, sock))
            }
        }
    });
    Ok((port, told, done, thread))
}

trait ReadWrite: Read + Write {}
impl<T: Read + Write> ReadWrite for T {}

/// A request body that gives 16 KiB at once, then waits (at most [`SAFETY`]) for
/// `go` before giving the rest: `len` bytes in all, endless if `None`.
struct Gated {
    go: Receiver<()>,
    opened: bool,
    given: u64,
    len: Option<u64>,
}

impl Gated {
    fn new(go: Receiver<()>, len: Option<u64>) -> Self {
        Gated {
            go,
            opened: false,
            given: 0,
            len,
        }
    }
}

impl Read for Gated {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.given >= 16 * 1024 && !self.opened {
            self.go
                .recv_timeout(SAFETY)
                .map_err(|_| std::io::Error::other("the server never answered"))?;
            self.opened = true;
        }
        let left = self.len.map_or(u64::MAX, |len| len - self.given);
        let n = buf.len().min(16 * 1024);
        let n = n.min(usize::try_from(left).unwrap_or(usize::MAX));
        buf[..n].fill(b'x');
        self.given += n as u64;
        Ok(n)
    }
}

const TOO_BIG: &[u8] = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!";

/// An endless upload sent on only once the server's `answer` is in, the server
/// reading nothing more: it can end only by seeing the answer (before the engine
/// looked for one between writes, it blocked in a write until the response
/// timeout). It ends cut short, the connection closed; the response's status and
/// body.
fn cut_upload(
    client: &Client,
    scheme: &str,
    tls: Option<std::sync::Arc<hcx::rustls::ServerConfig>>,
    answer: &'static [u8],
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let early = Early {
        answer,
        then_read: 0,
        last: None,
        recv_buffer: None,
    };
    cut_upload_with(client, scheme, tls, early, |answered| {
        Body::reader(Gated::new(answered, None))
    })
}

/// [`cut_upload`] with the server's behaviour and the body given (the body made from
/// the word that the server's first answer is out).
fn cut_upload_with(
    client: &Client,
    scheme: &str,
    tls: Option<std::sync::Arc<hcx::rustls::ServerConfig>>,
    early: Early,
    body: impl FnOnce(Receiver<()>) -> Body,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    let (port, answered, done, server) = answers_early(early, tls)?;
    let body = body(answered);
    let request = Request::put(format!("{scheme}://127.0.0.1:{port}/upload")).body(body)?;
    let response = client.execute(request)?;
    assert_eq!(
        ResponseInfo::of(&response).map(|i| i.decision),
        Some(Decision::Close(CloseReason::RequestBodyIncomplete))
    );
    let status = response.status().as_u16();
    let text = response.into_body().into_string()?;
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);
    done.send(())?;
    server.join().map_err(|_| "server panicked")??;
    Ok((status, text))
}

#[test]
fn an_early_answer_ends_an_upload_the_server_stopped_reading() -> TestResult {
    let answer = cut_upload(&client()?, "http", None, TOO_BIG)?;
    assert_eq!(answer, (413, String::from("too big!")));
    Ok(())
}

/// The same over TLS: the answer is found among the records between two writes
/// (and the session tickets that come after the handshake are not taken for one).
#[test]
fn an_early_answer_over_tls_ends_an_upload_the_server_stopped_reading() -> TestResult {
    let ca = hcx_testserver::TestCa::new()?;
    let client = Client::builder()
        .tls_config(trusting(&ca)?)
        .response_timeout(Some(SAFETY))
        .build()?;
    let config = ca.server_config(&["127.0.0.1"]);
    let answer = cut_upload(&client, "https", Some(config), TOO_BIG)?;
    assert_eq!(answer, (413, String::from("too big!")));
    Ok(())
}

/// The answer comes while the upload is blocked in a write, the socket buffers full
/// (small on both ends, so that the first 64 KiB piece of the body cannot go out
/// whole) and the server reading nothing more: the write wakes for the answer.
/// Before, the look between two writes could not free a write already blocked, and
/// the upload waited out the response timeout, the answer unread. The server answers
/// only once a byte of the body is in: after the look before that piece, which finds
/// nothing.
fn blocked_upload(
    scheme: &str,
    tls: Option<std::sync::Arc<hcx::rustls::ServerConfig>>,
    builder: hcx::ClientBuilder,
    body: Blocked,
) -> Result<(u16, String), Box<dyn std::error::Error>> {
    // A quarter of the server's wait: a write left blocked waits out the timeout twice
    // (the first wait returns with part of its bytes taken) and fails while the server
    // still holds the connection open, rather than meeting its close at the end.
    let client = small_sends(builder, SAFETY / 4)?;
    let early = Early {
        answer: b"",
        then_read: 1,
        last: Some(TOO_BIG),
        recv_buffer: Some(4096),
    };
    cut_upload_with(&client, scheme, tls, early, |_| match body {
        Blocked::Bytes(len) => Body::from(vec![b'x'; len]),
        Blocked::Chunked(len) => Body::reader(std::io::Cursor::new(vec![b'x'; len])),
    })
}

/// A body [`blocked_upload`] sends.
#[derive(Debug, Clone, Copy)]
enum Blocked {
    /// Bytes of this length.
    Bytes(usize),
    /// A reader of this length, unsized: chunked.
    Chunked(usize),
}

/// The bodies [`blocked_upload`] sends: one written in 64 KiB pieces, one that goes
/// out with the head in a single write (up to 64 KiB), and a chunked one that goes
/// out with the head and the framing's end (a reader's piece is up to 16 KiB): those
/// single writes are then the ones that block.
const BLOCKED: [Blocked; 3] = [
    Blocked::Bytes(4 << 20),
    Blocked::Bytes(60 << 10),
    Blocked::Chunked(15 << 10),
];

#[test]
fn an_answer_frees_an_upload_blocked_in_a_write() -> TestResult {
    for body in BLOCKED {
        let answer = blocked_upload("http", None, Client::builder(), body)?;
        assert_eq!(answer, (413, String::from("too big!")), "{body:?}");
    }
    Ok(())
}

/// The same over TLS: the records rustls holds go out through the same wait. Not the
/// chunked body: the server's one-byte read takes in a whole record (up to 16 KiB),
/// room enough for a reader's last piece.
#[test]
fn an_answer_frees_an_upload_blocked_in_a_write_over_tls() -> TestResult {
    let ca = hcx_testserver::TestCa::new()?;
    let config = ca.server_config(&["127.0.0.1"]);
    for body in BLOCKED
        .into_iter()
        .filter(|b| matches!(b, Blocked::Bytes(_)))
    {
        let builder = Client::builder().tls_config(trusting(&ca)?);
        let answer = blocked_upload("https", Some(config.clone()), builder, body)?;
        assert_eq!(answer, (413, String::from("too big!")), "{body:?}");
    }
    Ok(())
}

/// A TLS server on a socket with a 4 KiB receive buffer that reads a request head
/// and one byte of its body (the client then writes on until its upload blocks),
/// then hands the stream to `then`. Its port, and its thread.
fn tls_reading_a_byte_of_the_body(
    config: std::sync::Arc<hcx::rustls::ServerConfig>,
    then: impl FnOnce(&mut TlsStream) -> Result<(), String> + Send + 'static,
) -> std::io::Result<(u16, std::thread::JoinHandle<Result<(), String>>)> {
    let (listener, port) = listener_with_recv_buffer(Some(4096))?;
    let server = std::thread::spawn(move || -> Result<(), String> {
        let (mut sock, _) = listener.accept().map_err(|e| e.to_string())?;
        let conn = accept_tls(&mut sock, config).map_err(|e| e.to_string())?;
        let mut tls = hcx::rustls::StreamOwned::new(conn, sock);
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            tls.read_exact(&mut byte).map_err(|e| e.to_string())?;
            head.push(byte[0]);
        }
        tls.read_exact(&mut byte).map_err(|e| e.to_string())?;
        then(&mut tls)
    });
    Ok((port, server))
}

type TlsStream = hcx::rustls::StreamOwned<hcx::rustls::ServerConnection, std::net::TcpStream>;

/// `builder`'s client with a 4 KiB send buffer (an upload fills it at once when the
/// server stops reading) and `timeout` as its response timeout.
fn small_sends(builder: hcx::ClientBuilder, timeout: Duration) -> Result<Client, hcx::Error> {
    let small = hcx::SocketConfig::default().with_send_buffer_size(Some(4096));
    builder
        .response_timeout(Some(timeout))
        .socket_config(small)
        .build()
}

/// A TLS server that, mid-upload, ends the session with `close_notify` (no answer)
/// and keeps the TCP connection open, reading nothing more: the upload blocked in a
/// write, rustls holding records of it, wakes for the input, and ends as closed by
/// the server at once. Before, the look's read went through rustls' own, which first
/// pushed out the records it held: blocked again, until the response timeout.
#[test]
fn a_close_notify_mid_upload_ends_it_over_tls() -> TestResult {
    let ca = hcx_testserver::TestCa::new()?;
    let config = ca.server_config(&["127.0.0.1"]);
    let (done, finished) = channel::<()>();
    let (port, server) = tls_reading_a_byte_of_the_body(config, move |tls| {
        tls.conn.send_close_notify();
        tls.flush().map_err(|e| e.to_string())?;
        finished
            .recv_timeout(SAFETY)
            .map_err(|_| "the upload was still blocked when the server gave up".to_owned())
    })?;
    // Half the server's wait: an upload left blocked times out while the server still
    // holds the connection open (rather than meeting its close at the end).
    let client = small_sends(Client::builder().tls_config(trusting(&ca)?), SAFETY / 2)?;
    // A POST: not sent again by the retry layer.
    let request = Request::post(format!("https://127.0.0.1:{port}/upload"))
        .body(Body::from(vec![b'x'; 4 << 20]))?;
    let Err(error) = client.execute(request) else {
        return Err("a session the server closed mid-upload is an error".into());
    };
    // Gone if the server gave up first: its own error says so.
    let _ = done.send(());
    server.join().map_err(|_| "server panicked")??;
    assert_eq!(
        error.kind(),
        hcx::ErrorKind::ClosedBeforeResponse,
        "{error:?}"
    );
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

/// An answer that stops an upload over TLS while rustls still holds records of it
/// (the socket full, the server reading nothing more), its body sent after its head
/// in records of their own: the body is read. Before, the read of the body went
/// through rustls' own, which first pushed out the records held, blocked until the
/// response timeout, and the answer's body was lost to a write timeout.
#[test]
fn an_early_answers_body_is_read_over_tls_while_records_wait() -> TestResult {
    let ca = hcx_testserver::TestCa::new()?;
    let config = ca.server_config(&["127.0.0.1"]);
    let (head_in, server_told) = channel::<()>();
    let (done, finished) = channel::<()>();
    let (port, server) = tls_reading_a_byte_of_the_body(config, move |tls| {
        let answer = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\n";
        tls.write_all(answer).map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())?;
        // The body once the client has the head: a record it has not taken in yet.
        server_told
            .recv_timeout(SAFETY)
            .map_err(|_| "the client never had the head".to_owned())?;
        tls.write_all(b"too big!").map_err(|e| e.to_string())?;
        tls.flush().map_err(|e| e.to_string())?;
        let _ = finished.recv_timeout(SAFETY);
        Ok(())
    })?;
    let client = small_sends(Client::builder().tls_config(trusting(&ca)?), SAFETY / 2)?;
    let request = Request::put(format!("https://127.0.0.1:{port}/upload"))
        .body(Body::from(vec![b'x'; 4 << 20]))?;
    let response = client.execute(request);
    let _ = head_in.send(());
    let body = response.map(|r| (r.status().as_u16(), r.into_body().into_string()));
    let _ = done.send(());
    server.join().map_err(|_| "server panicked")??;
    let (status, body) = body?;
    assert_eq!((status, body?), (413, String::from("too big!")));
    Ok(())
}

/// A `103`, or a final `200`, while the body goes out: the body goes on to its end
/// (the server reads all of it), the connection is kept, and the final response is
/// the one returned.
#[test]
fn an_interim_or_2xx_answer_during_the_upload_does_not_stop_it() -> TestResult {
    const LEN: u64 = 256 * 1024;
    const OK: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    let answers = [
        Early {
            answer: b"HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n",
            then_read: LEN as usize,
            last: Some(OK),
            recv_buffer: None,
        },
        Early {
            answer: OK,
            then_read: LEN as usize,
            last: None,
            recv_buffer: None,
        },
    ];
    for early in answers {
        let what = early.answer.escape_ascii().to_string();
        let (port, answered, done, server) = answers_early(early, None)?;
        let client = client()?;
        let body = Body::sized_reader(Gated::new(answered, Some(LEN)), LEN);
        let request = Request::put(format!("http://127.0.0.1:{port}/upload")).body(body)?;
        let response = client.execute(request)?;
        assert_eq!(response.status(), 200, "{what}");
        let decision = ResponseInfo::of(&response).map(|i| i.decision);
        assert!(
            matches!(decision, Some(Decision::Keep { .. })),
            "{what}: the body went out whole: {decision:?}"
        );
        assert_eq!(response.into_body().into_string()?, "ok", "{what}");
        assert_eq!(client.stats().pool.available, 1, "{what}");
        done.send(())?;
        let read = server.join().map_err(|_| "server panicked")??;
        assert_eq!(read, LEN as usize, "{what}");
    }
    Ok(())
}

/// A `100 Continue` and a final answer in the same read, the server reading nothing
/// more: the wait for the `100` leaves the answer in the buffer, and the look between
/// two writes must find it there (the socket has nothing more to show).
#[test]
fn a_final_answer_read_with_the_100_ends_the_upload() -> TestResult {
    let early = Early {
        answer: b"HTTP/1.1 100 Continue\r\n\r\n\
                  HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!",
        then_read: 0,
        last: None,
        recv_buffer: None,
    };
    let (port, answered, done, server) = answers_early(early, None)?;
    let client = client()?;
    let body = Body::reader(Gated::new(answered, None));
    let request = Request::put(format!("http://127.0.0.1:{port}/upload"))
        .header("expect", "100-continue")
        .body(body)?;
    let response = client.execute(request)?;
    assert_eq!(response.status(), 413);
    assert_eq!(
        ResponseInfo::of(&response).map(|i| i.decision),
        Some(Decision::Close(CloseReason::RequestBodyIncomplete))
    );
    assert_eq!(response.into_body().into_string()?, "too big!");
    done.send(())?;
    server.join().map_err(|_| "server panicked")??;
    Ok(())
}

/// The same with the body's first write larger than small socket buffers take (a
/// bytes body sent whole, a reader's first piece): the answer in the buffer stops the
/// upload before that write, which would otherwise wait for room or input that never
/// comes, until the response timeout, the answer unread.
#[test]
fn a_final_answer_read_with_the_100_ends_the_upload_before_its_first_write() -> TestResult {
    let bodies: [fn() -> Body; 2] = [
        || Body::from(vec![b'x'; 60 << 10]),
        || Body::reader(std::io::repeat(b'x')),
    ];
    for body in bodies {
        let early = Early {
            answer: b"HTTP/1.1 100 Continue\r\n\r\n\
                      HTTP/1.1 413 Content Too Large\r\nContent-Length: 8\r\n\r\ntoo big!",
            then_read: 0,
            last: None,
            recv_buffer: Some(4096),
        };
        let (port, _answered, done, server) = answers_early(early, None)?;
        let client = Client::builder()
            .response_timeout(Some(SAFETY / 2))
            .socket_config(hcx::SocketConfig::default().with_send_buffer_size(Some(4096)))
            .build()?;
        let request = Request::put(format!("http://127.0.0.1:{port}/upload"))
            .header("expect", "100-continue")
            .body(body())?;
        let answer = client
            .execute(request)
            .map(|r| (r.status().as_u16(), r.into_body().into_string()));
        let _ = done.send(());
        server.join().map_err(|_| "server panicked")??;
        let (status, body) = answer?;
        assert_eq!((status, body?), (413, String::from("too big!")));
    }
    Ok(())
}

/// A final `200` while the body goes out is kept for after it; when the server then
/// reads nothing more, the write that times out ends the upload, and the `200` is
/// still the answer (not a timeout error that drops it), the connection closed.
#[test]
fn a_kept_2xx_survives_a_write_that_times_out() -> TestResult {
    let client = Client::builder()
        .response_timeout(Some(Duration::from_millis(500)))
        .build()?;
    let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";
    assert_eq!(
        cut_upload(&client, "http", None, ok)?,
        (200, String::from("ok"))
    );
    Ok(())
}

/// Bytes that are no response, come while the body goes out: the error says a
/// response had started (as it does when they come after the body), so that no layer
/// takes the request for one the server never answered.
#[test]
fn an_invalid_answer_while_the_body_goes_out_counts_as_a_response_started() -> TestResult {
    let early = Early {
        answer: b"NOT HTTP AT ALL\r\n\r\n",
        then_read: 0,
        last: None,
        recv_buffer: None,
    };
    let (port, answered, done, server) = answers_early(early, None)?;
    let client = client()?;
    let body = Body::reader(Gated::new(answered, None));
    let request = Request::put(format!("http://127.0.0.1:{port}/upload")).body(body)?;
    let Err(error) = client.execute(request) else {
        return Err("bytes that are no response are an error".into());
    };
    assert_eq!(error.kind(), hcx::ErrorKind::Protocol, "{error}");
    assert!(error.is_response_started(), "{error:?}");
    done.send(())?;
    server.join().map_err(|_| "server panicked")??;
    Ok(())
}

/// Counts the request heads reported written.
#[derive(Default)]
struct HeadsWritten(std::sync::atomic::AtomicUsize);

impl hcx::EventListener for HeadsWritten {
    fn request_head_written(&self, _conn: &hcx::ConnectionRef<'_>, _head: &[u8]) {
        self.0.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    }
}

/// An answer that stops a reader body's first write (the head and its first 16 KiB,
/// more than small socket buffers take) after the head went out: the head is
/// reported written, as it is when the answer comes after that write.
#[test]
fn a_head_out_before_an_answer_stops_the_first_write_is_reported() -> TestResult {
    let heads = std::sync::Arc::new(HeadsWritten::default());
    let small = hcx::SocketConfig::default().with_send_buffer_size(Some(4096));
    let client = Client::builder()
        .event_listener(std::sync::Arc::clone(&heads))
        .response_timeout(Some(SAFETY))
        .socket_config(small)
        .build()?;
    let early = Early {
        answer: TOO_BIG,
        then_read: 0,
        last: None,
        recv_buffer: Some(4096),
    };
    let answer = cut_upload_with(&client, "http", None, early, |_| {
        Body::reader(std::io::repeat(b'x'))
    })?;
    assert_eq!(answer, (413, String::from("too big!")));
    assert_eq!(heads.0.load(std::sync::atomic::Ordering::SeqCst), 1);
    Ok(())
}
