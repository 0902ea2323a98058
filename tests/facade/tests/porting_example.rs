//! The worked example of `docs/porting-from-apache-httpclient.md`, compiled and run.
//!
//! The code between the `port:begin` and `port:end` markers is the Rust port of the
//! HttpClient 5 program in that document, character for character: the test
//! `the_document_shows_this_port_verbatim` fails if the two drift apart. The rest of
//! this file is a std-only loopback server that plays the orders service, and the tests
//! that run the port against it.

use std::io::{self, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};

// port:begin
use std::io::Read;
use std::time::Duration;

use hcx::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hcx::http::{Request, Response};
use hcx::{Body, BodyReader, Client, DefaultRetryStrategy};

/// `HttpClients.custom()` with a `PoolingHttpClientConnectionManager`, a
/// `ConnectionConfig`, a `RequestConfig`, a retry strategy and a default header.
fn build_client() -> Result<Client, hcx::Error> {
    Client::builder()
        .max_total(50) // setMaxConnTotal(50)
        .max_per_route(10) // setMaxConnPerRoute(10)
        .connect_timeout(Duration::from_secs(2)) // ConnectionConfig.setConnectTimeout
        .time_to_live(Some(Duration::from_secs(300))) // ConnectionConfig.setTimeToLive
        .connection_request_timeout(Duration::from_secs(1)) // RequestConfig
        .response_timeout(Some(Duration::from_secs(5))) // RequestConfig
        .retry_strategy(
            DefaultRetryStrategy::new()
                .with_max_retries(3)
                .with_default_interval(Duration::from_millis(200)),
        )
        .default_header(
            HeaderName::from_static("x-client"),
            HeaderValue::from_static("orders-service"),
        )
        .build()
}

/// The `HttpClientResponseHandler<String>`: the body as text, or an error for any
/// status from 300 up. `execute_with` gives the connection back after it returns.
fn body_or_error(
    response: &mut Response<BodyReader<'_>>,
) -> Result<String, Box<dyn std::error::Error>> {
    let status = response.status();
    let mut body = String::new();
    response
        .body_mut()
        .read_to_string(&mut body)
        .map_err(hcx::Error::from_io)?;
    if status.as_u16() >= 300 {
        return Err(format!("unexpected status {status}: {body}").into());
    }
    Ok(body)
}

/// The two calls of the Java `main`: a GET, then a POST of a JSON body.
fn run(base: &str) -> Result<(String, String), Box<dyn std::error::Error>> {
    let client = build_client()?;

    let get = Request::get(format!("{base}/orders/42")).body(Body::empty())?;
    let order = client.execute_with(get, body_or_error)??;

    let post = Request::post(format!("{base}/orders"))
        .header(CONTENT_TYPE, "application/json")
        .body(Body::from(r#"{"item":"book","qty":1}"#))?;
    let created = client.execute_with(post, body_or_error)??;

    Ok((order, created))
} // the client is dropped here: its idle connections are closed
// port:end

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The bound on every blocking call of the server.
const TIMEOUT: Duration = Duration::from_secs(10);

#[test]
fn the_ported_program_gets_and_posts_over_one_pooled_connection() -> TestResult {
    let server = Server::start()?;
    let (order, created) = run(&server.base())?;
    assert_eq!(order, r#"{"id":42,"item":"book","qty":1}"#);
    assert_eq!(created, r#"{"id":43,"item":"book","qty":1}"#);

    let seen = server.requests();
    assert_eq!(seen.len(), 2, "{seen:?}");
    assert_eq!(seen[0].line, "GET /orders/42 HTTP/1.1");
    assert_eq!(seen[1].line, "POST /orders HTTP/1.1");
    for request in &seen {
        // The default header and the default User-Agent, on every request.
        assert_eq!(request.header("x-client"), Some("orders-service"));
        assert_eq!(request.header("user-agent"), Some(hcx::DEFAULT_USER_AGENT));
    }
    assert_eq!(seen[1].header("content-type"), Some("application/json"));
    assert_eq!(seen[1].body, br#"{"item":"book","qty":1}"#);
    // The handler read each body to its end, so the POST reused the GET's connection.
    assert_eq!(server.accepted(), 1);
    Ok(())
}

#[test]
fn the_handler_turns_an_error_status_into_an_error() -> TestResult {
    let server = Server::start()?;
    let client = build_client()?;
    let get = Request::get(format!("{}/orders/7", server.base())).body(Body::empty())?;
    let outcome = client.execute_with(get, body_or_error)?;
    let error = outcome.err().ok_or("a 404 should be an error")?;
    assert_eq!(
        error.to_string(),
        "unexpected status 404 Not Found: no such order"
    );
    // The handler read the body: its connection went back to the pool.
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 1);
    Ok(())
}

#[test]
fn the_retry_strategy_of_the_port_replays_a_503_three_times() -> TestResult {
    let server = Server::start()?;
    let client = build_client()?;
    // Three 503s with `Retry-After: 0`, then a 200: max_retries(3) allows 4 attempts.
    let get = Request::get(format!("{}/flaky", server.base())).body(Body::empty())?;
    let body = client.execute_with(get, body_or_error)??;
    assert_eq!(body, "finally");
    assert_eq!(server.requests().len(), 4);
    // Each 503 was drained, so every attempt reused the one connection.
    assert_eq!(server.accepted(), 1);
    Ok(())
}

#[test]
fn the_document_shows_this_port_verbatim() -> TestResult {
    const DOC: &str = include_str!("../../../docs/porting-from-apache-httpclient.md");
    const THIS: &str = include_str!("porting_example.rs");
    let begin = "// port:begin\n";
    let end = "// port:end\n";
    let start = THIS.find(begin).ok_or("no begin marker")? + begin.len();
    let stop = THIS.rfind(end).ok_or("no end marker")?;
    let port = &THIS[start..stop];
    assert!(
        DOC.contains(port),
        "docs/porting-from-apache-httpclient.md must show the code between the markers \
         of tests/facade/tests/porting_example.rs verbatim"
    );
    Ok(())
}

// ---------------------------------------------------------------------------------
// The orders service: a std-only HTTP/1.1 server on loopback.
// ---------------------------------------------------------------------------------

/// One request as the server read it.
#[derive(Debug, Clone)]
struct Seen {
    line: String,
    fields: Vec<(String, String)>,
    body: Vec<u8>,
}

impl Seen {
    /// The first field `name` (case-insensitive).
    fn header(&self, name: &str) -> Option<&str> {
        self.fields
            .iter()
            .find(|(field, _)| field.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Answers by method and path; keeps each connection open until the client closes it.
/// One thread accepts, one per connection serves. Dropping it stops the acceptor.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    seen: Arc<Mutex<Vec<Seen>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (accepted, seen, stop) = (accepted.clone(), seen.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let seen = seen.clone();
                    // Detached: it ends when the client closes the connection.
                    thread::spawn(move || {
                        let _ = serve(stream, &seen);
                    });
                }
            })
        };
        Ok(Server {
            addr,
            accepted,
            seen,
            stop,
            acceptor: Some(acceptor),
        })
    }

    /// `http://127.0.0.1:port`, the `base` the port takes.
    fn base(&self) -> String {
        format!("http://{}", self.addr)
    }

    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    fn requests(&self) -> Vec<Seen> {
        self.seen.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the acceptor so that it sees the flag.
        let _ = TcpStream::connect_timeout(&self.addr, TIMEOUT);
        if let Some(acceptor) = self.acceptor.take() {
            let _ = acceptor.join();
        }
    }
}

/// Serves the requests of one connection until the client closes it.
fn serve(mut stream: TcpStream, seen: &Mutex<Vec<Seen>>) -> io::Result<()> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut buf = Vec::new();
    loop {
        let end = loop {
            if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break end;
            }
            if !read_more(&mut stream, &mut buf)? {
                return Ok(()); // the client closed the connection
            }
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let mut lines = head.split("\r\n");
        let line = lines.next().unwrap_or_default().to_owned();
        let fields: Vec<(String, String)> = lines
            .filter_map(|l| l.split_once(':'))
            .map(|(n, v)| (n.trim().to_owned(), v.trim().to_owned()))
            .collect();
        let mut request = Seen {
            line,
            fields,
            body: Vec::new(),
        };
        let length = request
            .header("content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < length {
            if !read_more(&mut stream, &mut buf)? {
                return Ok(());
            }
        }
        request.body = buf.drain(..length).collect();
        let Ok(mut seen) = seen.lock() else {
            return Ok(());
        };
        // The first three requests for /flaky, on whatever connection, are refused.
        let flaky_before = seen.iter().filter(|r| r.line == request.line).count();
        let (status, extra, body) = match request.line.as_str() {
            "GET /orders/42 HTTP/1.1" => ("200 OK", "", r#"{"id":42,"item":"book","qty":1}"#),
            "POST /orders HTTP/1.1" => ("201 Created", "", r#"{"id":43,"item":"book","qty":1}"#),
            "GET /flaky HTTP/1.1" if flaky_before < 3 => {
                ("503 Service Unavailable", "Retry-After: 0\r\n", "busy")
            }
            "GET /flaky HTTP/1.1" => ("200 OK", "", "finally"),
            _ => ("404 Not Found", "", "no such order"),
        };
        seen.push(request);
        drop(seen);
        let response = format!(
            "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\n\
             Content-Length: {}\r\n\r\n{body}",
            body.len()
        );
        stream.write_all(response.as_bytes())?;
    }
}

/// One read appended to `buf`; `false` at EOF.
fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}
