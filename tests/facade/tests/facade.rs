//! Every public type of hcx, used through the facade crate alone.
//!
//! This crate depends on `hcx` and nothing else: each path below is `hcx::…` (or
//! `hcx::exec::…`, `hcx::codec::…`, `hcx::pool::…`, `hcx::http::…`), so a user who
//! writes `use hcx::…` can name whatever a public signature of hcx hands them. The
//! server is std only, on loopback.
//!
//! `bytes::Bytes` / `BytesMut`, which the codec's and the body's signatures use, are
//! reachable as `hcx::bytes` (this test found them missing).

use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::{self, JoinHandle};
use std::time::Duration;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The bound on anything that could hang: reads and writes on both sides.
const TIMEOUT: Duration = Duration::from_secs(10);

// ---------------------------------------------------------------------------------
// A tiny std-only HTTP/1.1 server.
// ---------------------------------------------------------------------------------

/// A loopback HTTP/1.1 server answering by path, keeping connections open until the
/// client closes them (or the response says `Connection: close`).
///
/// One thread accepts; each connection gets a detached thread that ends at EOF, after
/// a `close` response, or after `TIMEOUT` without a request. Dropping the server stops
/// the acceptor and joins it.
struct Server {
    addr: SocketAddr,
    accepted: Arc<AtomicUsize>,
    heads: Arc<Mutex<Vec<String>>>,
    stop: Arc<AtomicBool>,
    acceptor: Option<JoinHandle<()>>,
}

impl Server {
    fn start() -> io::Result<Server> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let addr = listener.local_addr()?;
        let accepted = Arc::new(AtomicUsize::new(0));
        let heads = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let acceptor = {
            let (accepted, heads, stop) = (accepted.clone(), heads.clone(), stop.clone());
            thread::spawn(move || {
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    accepted.fetch_add(1, Ordering::SeqCst);
                    let heads = heads.clone();
                    // Detached: it ends when the client closes the connection.
                    thread::spawn(move || {
                        let _ = serve(stream, &heads);
                    });
                }
            })
        };
        Ok(Server {
            addr,
            accepted,
            heads,
            stop,
            acceptor: Some(acceptor),
        })
    }

    fn port(&self) -> u16 {
        self.addr.port()
    }

    fn url(&self, path: &str) -> String {
        format!("http://{}{path}", self.addr)
    }

    /// Connections accepted so far.
    fn accepted(&self) -> usize {
        self.accepted.load(Ordering::SeqCst)
    }

    /// The request heads received so far (request line and fields), in order.
    fn heads(&self) -> Vec<String> {
        self.heads.lock().map(|h| h.clone()).unwrap_or_default()
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

/// Serves requests on one connection until EOF, an error, or a response that closes.
fn serve(mut stream: TcpStream, heads: &Mutex<Vec<String>>) -> io::Result<()> {
    stream.set_read_timeout(Some(TIMEOUT))?;
    stream.set_write_timeout(Some(TIMEOUT))?;
    let mut buf = Vec::new();
    loop {
        let Some(end) = read_until_head_end(&mut stream, &mut buf)? else {
            return Ok(()); // the client closed the connection
        };
        let head = String::from_utf8_lossy(&buf[..end]).into_owned();
        buf.drain(..end + 4);
        let length = header(&head, "content-length")
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0);
        while buf.len() < length {
            if !read_more(&mut stream, &mut buf)? {
                return Ok(());
            }
        }
        let body: Vec<u8> = buf.drain(..length).collect();
        let mut words = head.split_whitespace();
        let method = words.next().unwrap_or_default().to_owned();
        let path = words.next().unwrap_or_default().to_owned();
        if let Ok(mut seen) = heads.lock() {
            seen.push(head);
        }
        let (response, close) = respond(&method, &path, &body);
        stream.write_all(&response)?;
        if close {
            return Ok(()); // dropping the stream closes the connection
        }
    }
}

/// The canned response for `path`, and whether the connection closes after it.
fn respond(method: &str, path: &str, body: &[u8]) -> (Vec<u8>, bool) {
    let (status, fields, content, close): (&str, &str, &[u8], bool) = match path {
        "/hello" => ("200 OK", "", b"hello, world", false),
        "/close" => ("200 OK", "Connection: close\r\n", b"bye", true),
        "/keepalive" => ("200 OK", "Keep-Alive: timeout=5\r\n", b"kept", false),
        "/echo" => ("200 OK", "", body, false),
        "/busy" => ("500 Internal Server Error", "", b"busy", false),
        // Not HTTP at all: a protocol error for the client.
        "/garbage" => return (b"SSH-2.0-OpenSSH_9.6\r\n".to_vec(), true),
        _ => ("404 Not Found", "", b"not found", false),
    };
    let mut out = format!(
        "HTTP/1.1 {status}\r\n{fields}Content-Length: {}\r\n\r\n",
        content.len()
    )
    .into_bytes();
    if method != "HEAD" {
        out.extend_from_slice(content);
    }
    (out, close)
}

/// Reads into `buf` until it holds a whole head; returns where the head's `\r\n\r\n`
/// starts, or `None` at EOF.
fn read_until_head_end(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<Option<usize>> {
    loop {
        if let Some(end) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
            return Ok(Some(end));
        }
        if !read_more(stream, buf)? {
            return Ok(None);
        }
    }
}

/// One read appended to `buf`; `false` at EOF.
fn read_more(stream: &mut TcpStream, buf: &mut Vec<u8>) -> io::Result<bool> {
    let mut chunk = [0u8; 4096];
    let n = stream.read(&mut chunk)?;
    buf.extend_from_slice(&chunk[..n]);
    Ok(n > 0)
}

/// The value of the first field `name` (lowercase) of a request head.
fn header<'h>(head: &'h str, name: &str) -> Option<&'h str> {
    head.lines()
        .skip(1)
        .filter_map(|line| line.split_once(':'))
        .find(|(field, _)| field.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

// ---------------------------------------------------------------------------------
// Helpers over responses and clients, through the facade.
// ---------------------------------------------------------------------------------

/// A builder whose every wait is bounded.
fn bounded_builder() -> hcx::ClientBuilder {
    hcx::Client::builder()
        .connect_timeout(TIMEOUT)
        .connection_request_timeout(TIMEOUT)
        .response_timeout(Some(TIMEOUT))
}

fn decision_of(response: &hcx::http::Response<hcx::ResponseBody>) -> Option<hcx::Decision> {
    hcx::ResponseInfo::of(response).map(|i| i.decision)
}

fn info_of(response: &hcx::http::Response<hcx::ResponseBody>) -> Option<hcx::ConnectionInfo> {
    hcx::ResponseInfo::of(response).map(|i| i.connection)
}

/// The error of a result that should have failed.
fn expect_err<T>(result: Result<T, hcx::Error>, what: &str) -> Result<hcx::Error, String> {
    result
        .err()
        .ok_or_else(|| format!("{what} should have failed"))
}

// ---------------------------------------------------------------------------------
// 1. Every public type, trait, function and constant, named through the facade.
// ---------------------------------------------------------------------------------

/// Compiles only if `T` names a type (sized or not).
fn named<T: ?Sized>() {}

fn is_resolver<T: hcx::Resolver>() {}
fn is_reuse_strategy<T: hcx::ConnectionReuseStrategy>() {}
fn is_keep_alive_strategy<T: hcx::KeepAliveStrategy>() {}
fn is_clock<T: hcx::Clock>() {}
fn is_into_uri<T: hcx::IntoUri>() {}
fn is_transport<T: hcx::exec::Transport>() {}
fn is_out_buf<T: hcx::codec::OutBuf>() {}
fn is_route_key<T: hcx::pool::RouteKey>() {}
fn is_disposal<C, T: hcx::pool::DisposalCallback<C>>() {}
fn is_shareable<T: Clone + Send + Sync + 'static>() {}
fn is_sendable<T: Send + 'static>() {}
/// Compiles only if both arguments have one type: a facade path and its alias agree.
fn same_type<T>(_: &T, _: &T) {}

/// The pool of a client's connection manager, by its full type.
type ClientPool = hcx::pool::Pool<hcx::Route, hcx::exec::Connection, hcx::UserToken>;
type ClientLease = hcx::pool::Lease<hcx::Route, hcx::exec::Connection, hcx::UserToken>;
type ClientLeaseRequest =
    hcx::pool::LeaseRequest<hcx::Route, hcx::exec::Connection, hcx::UserToken>;

#[test]
// Writing each signature out in full is the point here.
#[allow(clippy::type_complexity)]
fn every_public_type_is_reachable_through_the_facade() {
    // The top level.
    let _: Option<hcx::Client> = None;
    let _: Option<hcx::ClientBuilder> = None;
    let _: Option<hcx::Body> = None;
    let _: Option<hcx::ResponseBody> = None;
    let _: Option<hcx::Error> = None;
    let _: Option<hcx::ErrorKind> = None;
    let _: Option<hcx::RequestProgress> = None;
    let _: Option<hcx::ConnectionInfo> = None;
    let _: Option<hcx::Decision> = None;
    let _: Option<hcx::CloseReason> = None;
    let _: Option<hcx::CloseCounts> = None;
    let _: Option<hcx::Layer> = None;
    let _: Option<hcx::ManagerStats> = None;
    let _: Option<hcx::PoolStats> = None;
    let _: Option<hcx::PoolConfig> = None;
    let _: Option<hcx::ReusePolicy> = None;
    let _: Option<hcx::PoolingConnectionManager> = None;
    let _: Option<hcx::PoolingConnectionManagerBuilder> = None;
    let _: Option<hcx::RequestConfig> = None;
    let _: Option<hcx::SocketConfig> = None;
    let _: Option<Box<dyn hcx::Resolver>> = None;
    let _: Option<hcx::StaticResolver> = None;
    let _: Option<hcx::SystemResolver> = None;
    let _: Option<hcx::Route> = None;
    let _: Option<hcx::Scheme> = None;
    let _: Option<hcx::UserToken> = None;
    let _: Option<hcx::Limits> = None;
    let _: Option<Arc<dyn hcx::ConnectionReuseStrategy>> = None;
    let _: Option<hcx::DefaultReuseStrategy> = None;
    let _: Option<hcx::NeverReuse> = None;
    let _: Option<hcx::KeepAlive> = None;
    let _: Option<Arc<dyn hcx::KeepAliveStrategy>> = None;
    let _: Option<hcx::DefaultKeepAliveStrategy> = None;
    let _: Option<hcx::Exchange<'static>> = None;
    let _: Option<hcx::ParseSettingError> = None;
    let _: Option<hcx::ProtocolErrorKind> = None;
    let _: Option<Arc<dyn hcx::Clock>> = None;
    let _: Option<hcx::CoarseClock> = None;
    let _: Option<hcx::ManualClock> = None;
    let _: Option<hcx::SystemClock> = None;
    let agent: &'static str = hcx::DEFAULT_USER_AGENT;
    assert!(agent.starts_with("hcx/"), "{agent}");
    let _: fn(
        &hcx::DefaultReuseStrategy,
        &hcx::DefaultKeepAliveStrategy,
        &hcx::Exchange<'_>,
    ) -> hcx::Decision = hcx::decide::<hcx::DefaultReuseStrategy, hcx::DefaultKeepAliveStrategy>;
    let _: fn(&hcx::http::HeaderMap) -> Option<Duration> = hcx::keep_alive_timeout;
    let _: fn(&str) -> Result<Duration, hcx::ParseSettingError> = hcx::parse_duration;

    // The `http` crate, re-exported whole.
    let _: Option<hcx::http::Request<hcx::Body>> = None;
    let _: Option<hcx::http::Response<hcx::ResponseBody>> = None;
    let _: Option<hcx::http::Uri> = None;
    let _: Option<hcx::http::HeaderMap> = None;
    let _: Option<hcx::http::HeaderName> = None;
    let _: Option<hcx::http::HeaderValue> = None;
    let _: Option<hcx::http::Method> = None;
    let _: Option<hcx::http::StatusCode> = None;
    let _: Option<hcx::http::Version> = None;
    let _: Option<hcx::http::Extensions> = None;
    let _: Option<hcx::http::request::Parts> = None;
    let _: Option<hcx::http::header::MaxSizeReached> = None;

    // `hcx::exec`.
    let _: Option<hcx::exec::Connection> = None;
    let _: Option<hcx::exec::Endpoint> = None;
    let _: Option<hcx::exec::ExecRuntime> = None;
    let _: Option<hcx::exec::MainExec> = None;
    let _: Option<Box<dyn hcx::exec::Transport>> = None;

    // `hcx::codec`.
    let _: Option<hcx::codec::ResponseHead> = None;
    let _: Option<hcx::codec::ResponseFraming> = None;
    let _: Option<hcx::codec::BodyFraming> = None;
    let _: Option<hcx::codec::Call<hcx::codec::SendBody>> = None;
    let _: Option<hcx::codec::Call<hcx::codec::AwaitContinue>> = None;
    let _: Option<hcx::codec::Call<hcx::codec::RecvResponse>> = None;
    let _: Option<hcx::codec::Sending> = None;
    let _: Option<hcx::codec::ContinueStep> = None;
    let _: Option<hcx::codec::RecvStep> = None;
    let _: Option<hcx::codec::FinalResponse> = None;
    let _: Option<hcx::codec::Error> = None;
    let _: Option<hcx::codec::ErrorKind> = None;
    let _: Option<hcx::codec::EncodeError> = None;
    let _: Option<hcx::codec::BodyDecoder> = None;
    let _: Option<hcx::codec::Decoded> = None;
    let _: Option<hcx::codec::BodyEncoder> = None;
    let _: Option<hcx::codec::Frame> = None;
    let _: Option<hcx::codec::RequestFraming> = None;
    let _: Option<hcx::codec::RequestHead<'static>> = None;
    let _: Option<hcx::codec::TargetForm> = None;
    let _: Option<hcx::codec::Limits> = None;
    let _: Option<hcx::codec::CloseReason> = None;
    let _: Option<hcx::codec::CompleteResponse> = None;
    let _: Option<hcx::codec::HeadEvent> = None;
    let _: Option<hcx::codec::HeadReader> = None;
    let _: fn(
        &[u8],
        &hcx::Limits,
    ) -> Result<Option<(hcx::codec::ResponseHead, usize)>, hcx::codec::Error> =
        hcx::codec::parse_response_head;
    let _: fn(
        &hcx::http::Method,
        &hcx::codec::ResponseHead,
    ) -> Result<hcx::codec::ResponseFraming, hcx::codec::Error> = hcx::codec::response_framing;
    let _: fn(
        &hcx::http::Method,
        &[u8],
        usize,
        &hcx::Limits,
    ) -> Result<hcx::codec::CompleteResponse, hcx::codec::Error> = hcx::codec::read_response;
    let _: fn(&[u8]) -> &[u8] = hcx::codec::syntax::trim_ows;
    let _: fn(&[u8]) -> bool = hcx::codec::syntax::is_token;
    let _: fn(&[u8]) -> Option<u64> = hcx::codec::syntax::parse_decimal;
    let _: fn(&[u8]) -> Option<u64> = hcx::codec::syntax::parse_decimal_saturating;
    let _ = hcx::codec::syntax::elements(b"a, b").count();
    // The codec's buffer type, through the facade's `bytes` re-export.
    let _: Option<hcx::bytes::BytesMut> = None;
    let _: fn(
        &mut hcx::bytes::BytesMut,
        &hcx::Limits,
    ) -> Result<Option<hcx::codec::ResponseHead>, hcx::codec::Error> =
        hcx::codec::take_response_head;
    let _: fn(
        &mut hcx::codec::HeadReader,
        &mut hcx::bytes::BytesMut,
    ) -> Result<Option<hcx::codec::HeadEvent>, hcx::codec::Error> = hcx::codec::HeadReader::read;
    let _: fn(
        &mut hcx::codec::BodyDecoder,
        &mut hcx::bytes::BytesMut,
    ) -> Result<hcx::bytes::Bytes, hcx::codec::Error> = hcx::codec::BodyDecoder::decode_buf;
    let _: fn(
        hcx::codec::Call<hcx::codec::RecvResponse>,
        &mut hcx::bytes::BytesMut,
    ) -> Result<hcx::codec::RecvStep, hcx::codec::Error> =
        hcx::codec::Call::<hcx::codec::RecvResponse>::try_read;
    is_out_buf::<hcx::bytes::BytesMut>();

    // `hcx::pool`.
    let _: Option<ClientPool> = None;
    let _: Option<ClientLease> = None;
    let _: Option<ClientLeaseRequest> = None;
    let _: Option<hcx::pool::CancelHandle<hcx::Route, hcx::exec::Connection, hcx::UserToken>> =
        None;
    let _: Option<hcx::pool::PoolBuilder<hcx::Route, hcx::exec::Connection, hcx::UserToken>> = None;
    let _: Option<hcx::pool::LeaseError> = None;
    let _: Option<hcx::pool::LeaseFailure> = None;
    let _: Option<hcx::pool::ConfigError> = None;
    let _: Option<hcx::pool::PoolConfig> = None;
    let _: Option<hcx::pool::ReusePolicy> = None;
    let _: Option<hcx::pool::PoolStats> = None;
    let _: Option<hcx::pool::CloseCounts> = None;
    let _: Option<hcx::pool::CloseReason> = None;
    let _: Option<hcx::pool::Decision> = None;
    let _: Option<hcx::pool::CoarseClock> = None;
    let _: Option<hcx::pool::ManualClock> = None;
    let _: Option<hcx::pool::SystemClock> = None;
    named::<dyn hcx::pool::Clock>();
    named::<dyn hcx::pool::DisposalCallback<hcx::exec::Connection>>();

    // The traits, by what implements them.
    is_resolver::<hcx::StaticResolver>();
    is_resolver::<hcx::SystemResolver>();
    is_reuse_strategy::<hcx::DefaultReuseStrategy>();
    is_reuse_strategy::<hcx::NeverReuse>();
    is_keep_alive_strategy::<hcx::DefaultKeepAliveStrategy>();
    is_clock::<hcx::CoarseClock>();
    is_clock::<hcx::ManualClock>();
    is_clock::<hcx::SystemClock>();
    is_into_uri::<&str>();
    is_into_uri::<String>();
    is_into_uri::<&String>();
    is_into_uri::<hcx::http::Uri>();
    is_into_uri::<&hcx::http::Uri>();
    is_transport::<TcpStream>();
    is_out_buf::<Vec<u8>>();
    is_route_key::<hcx::Route>();
    is_disposal::<hcx::exec::Connection, fn(hcx::exec::Connection, hcx::CloseReason)>();
    is_shareable::<hcx::Client>();
    is_shareable::<hcx::PoolingConnectionManager>();
    is_sendable::<hcx::Body>();
    is_sendable::<hcx::ResponseBody>();
    is_sendable::<hcx::Error>();

    // The facade's aliases are the same types, so values mix freely.
    same_type(&hcx::Limits::default(), &hcx::codec::Limits::default());
    same_type(&hcx::CloseReason::Stale, &hcx::codec::CloseReason::Stale);
    same_type(&hcx::CloseReason::Stale, &hcx::pool::CloseReason::Stale);
    same_type(&hcx::Decision::keep(None), &hcx::pool::Decision::keep(None));
    same_type(
        &hcx::CloseCounts::default(),
        &hcx::pool::CloseCounts::default(),
    );
    same_type(&hcx::PoolStats::default(), &hcx::pool::PoolStats::default());
    same_type(
        &hcx::PoolConfig::default(),
        &hcx::pool::PoolConfig::default(),
    );
    same_type(&hcx::ReusePolicy::Fifo, &hcx::pool::ReusePolicy::Fifo);
    same_type(&hcx::ManualClock::new(), &hcx::pool::ManualClock::new());
    same_type(
        &hcx::ProtocolErrorKind::NotHttp,
        &hcx::codec::ErrorKind::NotHttp,
    );

    // What public methods return, with its type written out.
    let _: fn() -> hcx::ClientBuilder = hcx::Client::builder;
    let _: fn(hcx::ClientBuilder) -> Result<hcx::Client, hcx::Error> = hcx::ClientBuilder::build;
    let _: fn(&hcx::Client) -> hcx::ManagerStats = hcx::Client::stats;
    let _: fn(&hcx::Client) -> &hcx::PoolingConnectionManager = hcx::Client::connection_manager;
    let _: fn(&hcx::Client) -> &hcx::RequestConfig = hcx::Client::request_config;
    let _: fn(
        &hcx::Client,
        hcx::http::Request<hcx::Body>,
    ) -> Result<hcx::http::Response<hcx::ResponseBody>, hcx::Error> = hcx::Client::execute;
    let _: fn(
        &hcx::Client,
        &'static str,
    ) -> Result<hcx::http::Response<hcx::ResponseBody>, hcx::Error> = hcx::Client::get;
    let _: fn(hcx::ResponseBody) -> Result<String, hcx::Error> = hcx::ResponseBody::into_string;
    let _: fn(hcx::ResponseBody) -> Result<Vec<u8>, hcx::Error> = hcx::ResponseBody::into_vec;
    let _: fn(&hcx::ResponseBody) -> Option<&hcx::http::HeaderMap> = hcx::ResponseBody::trailers;
    let _: fn(hcx::ResponseBody) -> Result<hcx::bytes::Bytes, hcx::Error> =
        hcx::ResponseBody::into_bytes;
    let _: hcx::Body = hcx::Body::from(hcx::bytes::Bytes::from_static(b"hi"));
    let _: fn(&hcx::Error) -> hcx::ErrorKind = hcx::Error::kind;
    let _: fn(&hcx::Error) -> Option<hcx::ProtocolErrorKind> = hcx::Error::protocol_error;
    let _: fn(&hcx::Error) -> Option<hcx::codec::ErrorKind> = hcx::Error::protocol_error;
    let _: fn(&hcx::Error) -> hcx::RequestProgress = hcx::Error::request_progress;
    let _: fn(hcx::Error) -> io::Error = hcx::Error::into_io;
    let _: fn(hcx::ErrorKind) -> &'static str = hcx::ErrorKind::apache_equivalent;
    let _: fn(&hcx::Exchange<'static>) -> hcx::codec::ResponseFraming = hcx::Exchange::framing;
    let _: fn(&hcx::Exchange<'static>) -> &'static hcx::codec::ResponseHead =
        hcx::Exchange::response;
    let _: fn(
        &'static hcx::http::Method,
        &'static hcx::http::HeaderMap,
        &'static hcx::codec::ResponseHead,
    ) -> Result<hcx::Exchange<'static>, hcx::codec::Error> = hcx::Exchange::framed;
    let _: fn(&hcx::http::Uri) -> Result<hcx::Route, hcx::Error> = hcx::Route::from_uri;
    let _: fn() -> hcx::PoolingConnectionManagerBuilder = hcx::PoolingConnectionManager::builder;
    let _: fn(
        hcx::PoolingConnectionManagerBuilder,
    ) -> Result<hcx::PoolingConnectionManager, hcx::Error> =
        hcx::PoolingConnectionManagerBuilder::build;
    let _: fn(&hcx::PoolingConnectionManager) -> hcx::ManagerStats =
        hcx::PoolingConnectionManager::stats;
    let _: fn(&hcx::PoolingConnectionManager, &hcx::Route) -> hcx::PoolStats =
        hcx::PoolingConnectionManager::route_stats;
    let _: fn(&hcx::PoolingConnectionManager) -> &ClientPool = hcx::PoolingConnectionManager::pool;
    let _: fn(
        &hcx::PoolingConnectionManager,
        &hcx::Route,
        Option<hcx::UserToken>,
        Duration,
    ) -> Result<hcx::exec::Endpoint, hcx::Error> = hcx::PoolingConnectionManager::lease;
    let _: fn(&hcx::exec::Endpoint) -> hcx::ConnectionInfo = hcx::exec::Endpoint::info;
    let _: fn(&hcx::exec::Endpoint) -> Option<&hcx::exec::Connection> =
        hcx::exec::Endpoint::connection;
    let _: fn(&hcx::exec::Endpoint) -> Option<&hcx::UserToken> = hcx::exec::Endpoint::state;
    let _: fn(hcx::exec::Endpoint, hcx::Decision) = hcx::exec::Endpoint::release;
    let _: fn(hcx::exec::Endpoint, hcx::CloseReason) = hcx::exec::Endpoint::discard;
    let _: fn(hcx::PoolingConnectionManager) -> hcx::exec::ExecRuntime =
        hcx::exec::ExecRuntime::new;
    let _: fn(&hcx::exec::ExecRuntime) -> Option<&hcx::exec::Endpoint> =
        hcx::exec::ExecRuntime::endpoint;
    let _: fn(&hcx::exec::ExecRuntime) -> Option<hcx::ConnectionInfo> =
        hcx::exec::ExecRuntime::connection_info;
    let _: fn(&hcx::exec::ExecRuntime) -> Option<hcx::Decision> = hcx::exec::ExecRuntime::decision;
    let _: fn(&hcx::exec::ExecRuntime) -> &hcx::PoolingConnectionManager =
        hcx::exec::ExecRuntime::manager;
    let _: fn(
        Arc<dyn hcx::ConnectionReuseStrategy>,
        Arc<dyn hcx::KeepAliveStrategy>,
    ) -> hcx::exec::MainExec = hcx::exec::MainExec::new;
    let _: fn(hcx::exec::MainExec, hcx::Limits) -> hcx::exec::MainExec =
        hcx::exec::MainExec::with_limits;
    let _: fn(
        &hcx::exec::MainExec,
        &hcx::Route,
        hcx::http::Request<hcx::Body>,
        hcx::exec::ExecRuntime,
        &hcx::RequestConfig,
    ) -> Result<hcx::http::Response<hcx::ResponseBody>, hcx::Error> = hcx::exec::MainExec::execute;
    let _: fn(
        u64,
        &hcx::Route,
        &dyn hcx::Resolver,
        Duration,
        &hcx::SocketConfig,
    ) -> Result<hcx::exec::Connection, hcx::Error> = hcx::exec::Connection::connect;
    let _: fn(u64, hcx::Route, Box<dyn hcx::exec::Transport>) -> hcx::exec::Connection =
        hcx::exec::Connection::from_transport;
    let _: fn(&hcx::exec::Connection) -> &hcx::Route = hcx::exec::Connection::route;
    let _: fn(&ClientPool, &hcx::Route, Option<hcx::UserToken>) -> ClientLeaseRequest =
        ClientPool::lease;
    let _: fn(&ClientPool) -> hcx::CloseCounts = ClientPool::close_counts;
    let _: fn(&ClientPool, usize) -> Result<(), hcx::pool::ConfigError> = ClientPool::set_max_total;
    let _: fn(ClientLeaseRequest, Duration) -> Result<ClientLease, hcx::pool::LeaseError> =
        ClientLeaseRequest::get;
    let _: fn(&ClientLease) -> Option<&hcx::exec::Connection> = ClientLease::connection;
    let _: fn(ClientLease, hcx::Decision) = ClientLease::release;
    let _: fn(&hcx::pool::LeaseError) -> &hcx::pool::LeaseFailure = hcx::pool::LeaseError::failure;
    let _: fn(
        hcx::PoolConfig,
    ) -> Result<hcx::pool::Pool<&'static str, String>, hcx::pool::ConfigError> =
        hcx::pool::Pool::<&'static str, String>::new;
    let _: fn(&hcx::CloseCounts, hcx::CloseReason) -> u64 = hcx::CloseCounts::get;
    let _: fn(&hcx::CloseReason) -> hcx::Layer = hcx::CloseReason::layer;
    let _: fn(&hcx::Decision) -> Option<hcx::CloseReason> = hcx::Decision::close_reason;
    let _: fn(&hcx::KeepAlive) -> Option<Duration> = hcx::KeepAlive::valid_for;

    // And the values, from a live client (no connection is made).
    let client = hcx::Client::new();
    let stats: hcx::ManagerStats = client.stats();
    let pool_stats: hcx::PoolStats = stats.pool;
    let closes: hcx::CloseCounts = stats.closes;
    assert_eq!(
        (pool_stats.leased, stats.connections_opened, closes.total()),
        (0, 0, 0)
    );
    let manager: &hcx::PoolingConnectionManager = client.connection_manager();
    let pool: &ClientPool = manager.pool();
    assert_eq!((pool.max_total(), pool.default_max_per_route()), (25, 5));
    let routes: Vec<hcx::Route> = pool.routes();
    assert!(routes.is_empty());
    let config: &hcx::RequestConfig = client.request_config();
    assert_eq!(config.response_timeout, None);
}

// ---------------------------------------------------------------------------------
// 2. Behaviour, through the facade only.
// ---------------------------------------------------------------------------------

#[test]
fn the_quick_start_gets_a_body_as_a_string() -> TestResult {
    let server = Server::start()?;
    let url = server.url("/hello");

    let client = hcx::Client::new();
    let body = client.get(&url)?.into_body().into_string()?;

    assert_eq!(body, "hello, world");
    Ok(())
}

#[test]
fn one_connection_serves_three_sequential_requests() -> TestResult {
    let server = Server::start()?;
    let client = bounded_builder().build()?;
    let mut ids = Vec::new();
    for round in 0..3 {
        let response = client.get(server.url("/hello"))?;
        assert_eq!(response.status(), hcx::http::StatusCode::OK);
        let info: hcx::ConnectionInfo = info_of(&response).ok_or("no ConnectionInfo")?;
        assert_eq!(info.reused, round > 0, "round {round}: {info:?}");
        assert_eq!(
            info.idle_for.is_some(),
            round > 0,
            "round {round}: {info:?}"
        );
        ids.push(info.connection_id);
        let decision = decision_of(&response).ok_or("no Decision")?;
        // No `Keep-Alive` field: the default keep-alive strategy's 30 s.
        assert_eq!(decision, hcx::Decision::keep(Some(Duration::from_secs(30))));
        assert_eq!(response.into_body().into_string()?, "hello, world");
    }
    assert!(ids.iter().all(|id| *id == ids[0]), "{ids:?}");
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1);
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 1));
    assert_eq!(stats.closes.total(), 0, "{:?}", stats.closes);
    assert_eq!(server.accepted(), 1);
    // Every request carried the default User-Agent.
    for head in server.heads() {
        assert_eq!(header(&head, "user-agent"), Some(hcx::DEFAULT_USER_AGENT));
    }
    Ok(())
}

#[test]
fn connection_close_is_decided_with_its_reason_and_counted() -> TestResult {
    let server = Server::start()?;
    let client = bounded_builder().build()?;

    let response = client.get(server.url("/close"))?;
    let decision = decision_of(&response).ok_or("no Decision")?;
    assert_eq!(
        decision,
        hcx::Decision::Close(hcx::CloseReason::ResponseConnectionClose)
    );
    let reason: hcx::CloseReason = decision.close_reason().ok_or("a close has a reason")?;
    assert_eq!(reason.layer(), hcx::Layer::ReuseStrategy);
    assert!(!decision.is_keep());
    assert!(!reason.explain().is_empty());
    assert_eq!(response.into_body().into_string()?, "bye");

    let stats = client.stats();
    assert_eq!(
        stats.closes.get(hcx::CloseReason::ResponseConnectionClose),
        1
    );
    assert_eq!(stats.closes.total(), 1);
    let counted: Vec<(hcx::CloseReason, u64)> = stats.closes.iter().collect();
    assert_eq!(
        counted,
        vec![(hcx::CloseReason::ResponseConnectionClose, 1)]
    );
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 0));

    // The next request needs a new connection.
    let response = client.get(server.url("/hello"))?;
    assert_eq!(info_of(&response).map(|i| i.reused), Some(false));
    drop(response);
    assert_eq!(client.stats().connections_opened, 2);
    assert_eq!(server.accepted(), 2);
    Ok(())
}

#[test]
fn keep_alive_timeout_is_kept_less_the_safety_margin() -> TestResult {
    let server = Server::start()?;

    // The default margin: 1 s off the server's 5 s.
    let client = bounded_builder().build()?;
    let response = client.get(server.url("/keepalive"))?;
    assert_eq!(
        decision_of(&response),
        Some(hcx::Decision::keep(Some(Duration::from_secs(4))))
    );
    assert_eq!(
        hcx::keep_alive_timeout(response.headers()),
        Some(Duration::from_secs(5))
    );
    assert_eq!(response.into_body().into_string()?, "kept");

    // A margin of our own.
    let client = bounded_builder()
        .keep_alive_margin(Duration::from_millis(1500))
        .build()?;
    let response = client.get(server.url("/keepalive"))?;
    assert_eq!(
        decision_of(&response).and_then(|d| d.valid_for()),
        Some(Duration::from_millis(3500))
    );
    drop(response);

    // No margin: the server's figure.
    let client = bounded_builder()
        .keep_alive_margin(Duration::ZERO)
        .build()?;
    let response = client.get(server.url("/keepalive"))?;
    assert_eq!(
        decision_of(&response),
        Some(hcx::Decision::keep(Some(Duration::from_secs(5))))
    );
    Ok(())
}

#[test]
fn strategies_of_our_own_are_closures() -> TestResult {
    let server = Server::start()?;

    // Close after a server error, with a reason; otherwise follow the RFC.
    let client = bounded_builder()
        .reuse_strategy(
            |exchange: &hcx::Exchange<'_>| -> Result<(), hcx::CloseReason> {
                if exchange.status().is_server_error() {
                    Err(hcx::CloseReason::Custom("server error"))
                } else {
                    hcx::ConnectionReuseStrategy::reuse(&hcx::DefaultReuseStrategy, exchange)
                }
            },
        )
        .build()?;
    let response = client.get(server.url("/busy"))?;
    assert_eq!(
        response.status(),
        hcx::http::StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        decision_of(&response),
        Some(hcx::Decision::Close(hcx::CloseReason::Custom(
            "server error"
        )))
    );
    assert_eq!(response.into_body().into_string()?, "busy");
    assert_eq!(
        client
            .stats()
            .closes
            .get(hcx::CloseReason::Custom("server error")),
        1
    );
    let response = client.get(server.url("/hello"))?;
    assert!(decision_of(&response).is_some_and(|d| d.is_keep()));
    drop(response);

    // A keep-alive closure: 9 s whatever the server says, nothing after a 404.
    let client = bounded_builder()
        .keep_alive_strategy(|exchange: &hcx::Exchange<'_>| -> hcx::KeepAlive {
            if exchange.status() == hcx::http::StatusCode::NOT_FOUND {
                hcx::KeepAlive::DoNotKeep
            } else {
                hcx::KeepAlive::For(Duration::from_secs(9))
            }
        })
        .build()?;
    let response = client.get(server.url("/keepalive"))?;
    assert_eq!(
        decision_of(&response),
        Some(hcx::Decision::keep(Some(Duration::from_secs(9))))
    );
    drop(response);
    let response = client.get(server.url("/missing"))?;
    assert_eq!(
        decision_of(&response),
        Some(hcx::Decision::Close(hcx::CloseReason::KeepAliveRefused))
    );
    drop(response);

    // Shared strategies, behind an `Arc`.
    let never: Arc<dyn hcx::ConnectionReuseStrategy> = Arc::new(hcx::NeverReuse);
    let keep: Arc<dyn hcx::KeepAliveStrategy> = Arc::new(hcx::DefaultKeepAliveStrategy::new());
    let client = bounded_builder()
        .shared_reuse_strategy(never)
        .shared_keep_alive_strategy(keep)
        .build()?;
    let response = client.get(server.url("/hello"))?;
    assert_eq!(
        decision_of(&response),
        Some(hcx::Decision::Close(hcx::CloseReason::NeverReuse))
    );
    drop(response);

    // A margin only applies to the default keep-alive strategy.
    let error = expect_err(
        hcx::Client::builder()
            .keep_alive_strategy(|_: &hcx::Exchange<'_>| hcx::KeepAlive::Unlimited)
            .keep_alive_margin(Duration::from_secs(2))
            .build(),
        "a margin on a custom keep-alive strategy",
    )?;
    assert_eq!(error.kind(), hcx::ErrorKind::Config);
    assert!(error.is_config());
    Ok(())
}

#[test]
fn default_keep_alive_keeps_the_rest_of_the_default_strategy() -> TestResult {
    let server = Server::start()?;
    // Every reuse teaches, however short its idle time, so the test sees learning.
    let mut settings = hcx::LearnSettings::default();
    settings.min_idle = Duration::ZERO;
    let client = bounded_builder()
        .default_keep_alive(Duration::from_secs(7))
        .idle_limit_settings(settings)
        .build()?;
    // No `Keep-Alive: timeout` from the server: the default given.
    let response = client.get(server.url("/hello"))?;
    assert_eq!(
        decision_of(&response).and_then(|d| d.valid_for()),
        Some(Duration::from_secs(7))
    );
    drop(response);
    // The server's figure less the margin still wins where it is sent.
    let response = client.get(server.url("/keepalive"))?;
    assert_eq!(info_of(&response).map(|i| i.reused), Some(true));
    assert_eq!(
        decision_of(&response).and_then(|d| d.valid_for()),
        Some(Duration::from_secs(4))
    );
    drop(response);
    // And the learned idle limits still wrap it: the reuse was observed.
    assert_eq!(client.idle_limits().len(), 1);

    let error = expect_err(
        hcx::Client::builder()
            .keep_alive_strategy(|_: &hcx::Exchange<'_>| hcx::KeepAlive::Unlimited)
            .default_keep_alive(Duration::from_secs(2))
            .build(),
        "a default keep-alive on a custom keep-alive strategy",
    )?;
    assert_eq!(error.kind(), hcx::ErrorKind::Config);
    Ok(())
}

/// `idle_limit_settings` "turns the learned idle limits on" with its settings; a
/// keep-alive strategy of your own is used as given, so with one the settings would
/// be dropped without a word (no route learned, whatever they say). Like the margin
/// and the default keep-alive, `build` says so instead.
#[test]
fn idle_limit_settings_on_a_custom_keep_alive_strategy_is_a_config_error() -> TestResult {
    let mut settings = hcx::LearnSettings::default();
    settings.min_idle = Duration::ZERO;
    let custom = |_: &hcx::Exchange<'_>| hcx::KeepAlive::Unlimited;
    for built in [
        hcx::Client::builder()
            .keep_alive_strategy(custom)
            .idle_limit_settings(settings)
            .build(),
        hcx::Client::builder()
            .idle_limit_settings(settings)
            .keep_alive_strategy(custom)
            .build(),
        // Learning turned off and on again keeps the settings given.
        hcx::Client::builder()
            .idle_limit_settings(settings)
            .learn_idle_limits(false)
            .learn_idle_limits(true)
            .keep_alive_strategy(custom)
            .build(),
    ] {
        let error = expect_err(built, "idle limit settings on a custom keep-alive strategy")?;
        assert_eq!(error.kind(), hcx::ErrorKind::Config);
        assert!(error.to_string().contains("idle_limit_settings"), "{error}");
    }
    // Turned off again, the settings ask for nothing: no conflict.
    hcx::Client::builder()
        .idle_limit_settings(settings)
        .learn_idle_limits(false)
        .keep_alive_strategy(custom)
        .build()?;
    // The default (learning on, no settings given) with a custom strategy is fine.
    hcx::Client::builder().keep_alive_strategy(custom).build()?;
    Ok(())
}

#[test]
fn timeout_shortcuts_survive_a_later_request_config() -> TestResult {
    let config = hcx::RequestConfig::default().with_response_timeout(Some(Duration::from_secs(9)));
    let client = hcx::Client::builder()
        .connect_timeout(Duration::from_secs(4))
        .connection_request_timeout(Duration::from_secs(5))
        .request_config(config)
        .build()?;
    let config = client.request_config();
    // The connect timeout is the manager's (Apache: ConnectionConfig); the request
    // config leaves it to the manager.
    assert_eq!(config.connect_timeout, None);
    assert_eq!(
        client.connection_manager().connect_timeout(),
        Duration::from_secs(4)
    );
    assert_eq!(config.connection_request_timeout, Duration::from_secs(5));
    assert_eq!(config.response_timeout, Some(Duration::from_secs(9)));

    // And the other way round: the shortcut wins over the config given after it.
    let client = hcx::Client::builder()
        .response_timeout(None)
        .request_config(
            hcx::RequestConfig::default().with_response_timeout(Some(Duration::from_secs(9))),
        )
        .build()?;
    assert_eq!(client.request_config().response_timeout, None);
    Ok(())
}

#[test]
fn builder_options_apply() -> TestResult {
    let server = Server::start()?;
    let port = server.port();
    let client = hcx::Client::builder()
        .max_total(10)
        .max_per_route(1)
        .max_per_route_for(format!("http://127.0.0.1:{port}"), 2)
        .time_to_live(Some(Duration::from_secs(60)))
        .reuse_policy(hcx::ReusePolicy::Fifo)
        .socket_config(hcx::SocketConfig::default().with_tcp_nodelay(true))
        .validate_after_inactivity(Some(Duration::ZERO))
        .keep_alive_margin(Duration::from_millis(500))
        .limits(hcx::Limits::default().with_max_headers(50))
        .request_config(hcx::RequestConfig::default().with_response_timeout(Some(TIMEOUT)))
        .connect_timeout(TIMEOUT)
        .connection_request_timeout(TIMEOUT)
        .default_header(
            hcx::http::header::ACCEPT,
            hcx::http::HeaderValue::from_static("text/plain"),
        )
        .user_agent(Some(hcx::http::HeaderValue::from_static("facade-test/1")))
        .build()?;
    assert_eq!(client.request_config().response_timeout, Some(TIMEOUT));
    let route = hcx::Route::http("127.0.0.1", port);
    let pool = client.connection_manager().pool();
    assert_eq!(pool.max_total(), 10);
    assert_eq!(pool.default_max_per_route(), 1);
    assert_eq!(pool.max_per_route(&route), 2);

    let response = client.get(server.url("/keepalive"))?;
    // The builder's margin: 0.5 s off the server's 5 s.
    assert_eq!(
        decision_of(&response).and_then(|d| d.valid_for()),
        Some(Duration::from_millis(4500))
    );
    drop(response);
    let head = server.heads().pop().ok_or("the server saw the request")?;
    assert_eq!(header(&head, "accept"), Some("text/plain"));
    assert_eq!(header(&head, "user-agent"), Some("facade-test/1"));

    // The route's limit is 2: two bodies held, a third request waits for a slot and
    // gives up after its own connection request timeout (a per-request config).
    let first = client.get(server.url("/hello"))?;
    let second = client.get(server.url("/hello"))?;
    assert_eq!(client.connection_manager().route_stats(&route).leased, 2);
    let mut request = hcx::http::Request::get(server.url("/hello")).body(hcx::Body::empty())?;
    request.extensions_mut().insert(
        hcx::RequestConfig::default().with_connection_request_timeout(Duration::from_millis(100)),
    );
    let error = expect_err(client.execute(request), "a third lease on a route of 2")?;
    assert_eq!(error.kind(), hcx::ErrorKind::LeaseTimeout);
    assert!(error.is_lease_timeout());
    assert_eq!(
        error.kind().apache_equivalent(),
        "ConnectionRequestTimeoutException"
    );
    assert_eq!(error.request_progress(), hcx::RequestProgress::NotStarted);
    assert_eq!(first.into_body().into_string()?, "hello, world");
    drop(second); // drained and given back
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 2);
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 2));

    // A URL the route limit cannot use is reported by `build`.
    let error = expect_err(
        hcx::Client::builder()
            .max_per_route_for("not a url", 2)
            .build(),
        "a route limit for a bad URL",
    )?;
    assert_eq!(error.kind(), hcx::ErrorKind::InvalidUrl);
    Ok(())
}

#[test]
fn a_static_resolver_maps_a_name_to_loopback() -> TestResult {
    let server = Server::start()?;
    let port = server.port();
    let client = bounded_builder()
        .resolver(hcx::StaticResolver::new().with("api.test", [127, 0, 0, 1].into()))
        .build()?;
    let body = client
        .get(format!("http://api.test:{port}/hello"))?
        .into_body()
        .into_string()?;
    assert_eq!(body, "hello, world");
    let head = server.heads().pop().ok_or("the server saw the request")?;
    assert_eq!(
        header(&head, "host"),
        Some(format!("api.test:{port}").as_str())
    );

    // Any `Fn(&str, u16) -> io::Result<Vec<SocketAddr>>` is a resolver too.
    let addr = server.addr;
    let client = bounded_builder()
        .resolver(
            move |host: &str, _port: u16| -> io::Result<Vec<SocketAddr>> {
                match host {
                    "closure.test" => Ok(vec![addr]),
                    _ => Err(io::Error::new(io::ErrorKind::NotFound, host.to_owned())),
                }
            },
        )
        .build()?;
    let response = client.get("http://closure.test/hello")?;
    assert_eq!(response.into_body().into_string()?, "hello, world");
    let error = expect_err(client.get("http://elsewhere.test/"), "an unknown name")?;
    assert_eq!(error.kind(), hcx::ErrorKind::UnknownHost);
    assert!(error.is_connect());
    assert_eq!(error.kind().apache_equivalent(), "UnknownHostException");
    Ok(())
}

#[test]
fn an_invalid_url_is_an_error_that_shows_it() -> TestResult {
    let client = hcx::Client::new();
    let error = expect_err(client.get("http://exa mple.com/"), "a URL with a space")?;
    assert_eq!(error.kind(), hcx::ErrorKind::InvalidUrl);
    assert!(error.is_invalid_request());
    assert!(
        error.to_string().contains("http://exa mple.com/"),
        "{error}"
    );
    assert_eq!(error.request_progress(), hcx::RequestProgress::NotStarted);
    assert!(!error.is_response_started() && !error.is_connection_reused());

    // A scheme other than http and https: an invalid URL too, showing it.
    let error = expect_err(client.get("ftp://example.com/"), "an ftp URL")?;
    assert_eq!(error.kind(), hcx::ErrorKind::InvalidUrl);
    assert!(error.to_string().contains("ftp://example.com/"), "{error}");

    // Each kind names the Apache exception it ports.
    let kinds: [(hcx::ErrorKind, &str); 4] = [
        (hcx::ErrorKind::InvalidUrl, "ClientProtocolException"),
        (
            hcx::ErrorKind::ClosedBeforeResponse,
            "NoHttpResponseException",
        ),
        (hcx::ErrorKind::ResponseTimeout, "SocketTimeoutException"),
        (hcx::ErrorKind::Connect, "HttpHostConnectException"),
    ];
    for (kind, exception) in kinds {
        assert_eq!(kind.apache_equivalent(), exception);
        assert_eq!(kind.to_string(), kind.as_str());
    }
    // An error of our own, with a source, converts to and from io::Error.
    let error =
        hcx::Error::new(hcx::ErrorKind::Io, "disk on fire").with_source(io::Error::other("cause"));
    let io_error: io::Error = error.into();
    let back = hcx::Error::from(io_error);
    assert_eq!(back.kind(), hcx::ErrorKind::Io);
    Ok(())
}

#[test]
fn a_peer_that_is_not_http_is_a_protocol_error_with_its_codec_kind() -> TestResult {
    let server = Server::start()?;
    let client = bounded_builder().build()?;
    let error = expect_err(client.get(server.url("/garbage")), "a non-HTTP answer")?;
    assert!(error.is_protocol(), "{error}");
    let kind: Option<hcx::ProtocolErrorKind> = error.protocol_error();
    assert_eq!(kind, Some(hcx::ProtocolErrorKind::NotHttp));
    assert_eq!(error.request_progress(), hcx::RequestProgress::Complete);
    assert!(error.is_request_sent());
    assert_eq!(
        client.stats().closes.get(hcx::CloseReason::FailedExchange),
        1
    );
    Ok(())
}

#[test]
fn execute_with_hands_the_response_to_a_closure() -> TestResult {
    let server = Server::start()?;
    let client = bounded_builder().build()?;

    let request = hcx::http::Request::post(server.url("/echo"))
        .header(hcx::http::header::CONTENT_TYPE, "text/plain")
        .body(hcx::Body::from("ping"))?;
    let (status, text) = client.execute_with(
        request,
        |response: &mut hcx::http::Response<hcx::BodyReader<'_>>| {
            let mut text = String::new();
            response
                .body_mut()
                .read_to_string(&mut text)
                .map(|_| (response.status(), text))
        },
    )??;
    assert_eq!(status, hcx::http::StatusCode::OK);
    assert_eq!(text, "ping");

    // A handler that reads nothing: the body is drained and the connection kept.
    let request = hcx::http::Request::get(server.url("/hello")).body(hcx::Body::empty())?;
    let reused = client.execute_with(request, |response| {
        response.body().info().map(|info| info.connection.reused)
    })?;
    assert_eq!(reused, Some(true));
    let stats = client.stats();
    assert_eq!(stats.connections_opened, 1);
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 1));
    Ok(())
}

#[test]
fn bodies_of_every_kind_go_out_and_come_back() -> TestResult {
    let server = Server::start()?;
    let client = bounded_builder().build()?;
    let echo = server.url("/echo");

    let sized = hcx::Body::sized_reader(io::Cursor::new(b"abc".to_vec()), 3);
    assert_eq!(sized.content_length(), Some(3));
    assert!(!sized.is_replayable());
    assert_eq!(client.post(&echo, sized)?.into_body().into_vec()?, b"abc");

    let factory = hcx::Body::from_factory(Some(4), || Ok(io::Cursor::new(b"four".to_vec())));
    let again = factory.try_clone().ok_or("a factory body replays")?;
    assert_eq!(
        client.put(&echo, factory)?.into_body().into_string()?,
        "four"
    );
    assert_eq!(
        client.post(&echo, again)?.into_body().into_string()?,
        "four"
    );
    assert_eq!(
        client
            .post(&echo, String::from("text"))?
            .into_body()
            .into_string()?,
        "text"
    );
    assert_eq!(
        client
            .post(&echo, b"raw".to_vec())?
            .into_body()
            .into_string()?,
        "raw"
    );

    // `into_bytes` gives a `hcx::bytes::Bytes`, and it is a body again.
    let bytes: hcx::bytes::Bytes = client.get(server.url("/hello"))?.into_body().into_bytes()?;
    assert_eq!(&bytes[..], b"hello, world");
    assert_eq!(
        client
            .post(&echo, hcx::Body::from(bytes))?
            .into_body()
            .into_string()?,
        "hello, world"
    );

    let response = client.head(server.url("/hello"))?;
    assert_eq!(
        response.headers().get(hcx::http::header::CONTENT_LENGTH),
        Some(&hcx::http::HeaderValue::from_static("12"))
    );
    let body: hcx::ResponseBody = response.into_body();
    assert!(body.is_end(), "a HEAD response has no body");
    assert_eq!(body.into_string()?, "");

    let mut body = client.delete(server.url("/hello"))?.into_body();
    let mut text = String::new();
    body.read_to_string(&mut text)?;
    assert!(body.is_end() && body.trailers().is_none());
    assert_eq!(text, "hello, world");
    assert_eq!(client.stats().connections_opened, 1);
    Ok(())
}

#[test]
fn the_exec_layer_and_the_manager_work_through_the_facade() -> TestResult {
    let server = Server::start()?;
    let clock = hcx::ManualClock::new();
    let mut pool_config = hcx::PoolConfig::with_limits(4, 2);
    pool_config.reuse_policy = hcx::ReusePolicy::Fifo;
    let manager: hcx::PoolingConnectionManager = hcx::PoolingConnectionManager::builder()
        .pool_config(pool_config)
        .time_to_live(Some(Duration::from_secs(60)))
        .clock(clock.clone())
        .resolver(hcx::SystemResolver)
        .socket_config(hcx::SocketConfig::default().with_tcp_nodelay(true))
        .build()?;

    // `MainExec` with an `ExecRuntime` per request, as the client does it.
    let reuse: Arc<dyn hcx::ConnectionReuseStrategy> = Arc::new(hcx::DefaultReuseStrategy);
    let keep_alive: Arc<dyn hcx::KeepAliveStrategy> =
        Arc::new(hcx::DefaultKeepAliveStrategy::new());
    let exec = hcx::exec::MainExec::new(reuse, keep_alive).with_limits(hcx::Limits::default());
    let request = hcx::http::Request::get(server.url("/hello")).body(hcx::Body::empty())?;
    let route = hcx::Route::from_uri(request.uri())?;
    assert_eq!(route, hcx::Route::http("127.0.0.1", server.port()));
    assert_eq!(route.scheme, hcx::Scheme::Http);
    let runtime = hcx::exec::ExecRuntime::new(manager.clone());
    let config = hcx::RequestConfig::default().with_response_timeout(Some(TIMEOUT));
    let response = exec.execute(&route, request, runtime, &config)?;
    assert_eq!(response.into_body().into_string()?, "hello, world");

    // The idle connection, leased through an `Endpoint`.
    let endpoint: hcx::exec::Endpoint = manager.lease(&route, None, TIMEOUT)?;
    assert!(endpoint.info().reused && endpoint.is_connected());
    let connection: &hcx::exec::Connection = endpoint
        .connection()
        .ok_or("a reused endpoint is connected")?;
    assert_eq!(connection.peer_addr(), Some(server.addr));
    assert_eq!(connection.route(), &route);
    endpoint.release(hcx::Decision::keep(Some(Duration::from_secs(30))));

    // The manager's clock is ours: past the time-to-live the pool closes it.
    clock.advance(Duration::from_secs(61));
    manager.close_expired();
    let stats = manager.stats();
    assert_eq!(stats.closes.get(hcx::CloseReason::Expired), 1);
    assert_eq!(hcx::CloseReason::Expired.layer(), hcx::Layer::Pool);
    assert_eq!(stats.pool.available, 0);

    // A client over this manager shares its pool.
    let client = hcx::Client::builder()
        .connection_manager(manager.clone())
        .response_timeout(Some(TIMEOUT))
        .build()?;
    drop(client.get(server.url("/hello"))?);
    assert_eq!(manager.stats().connections_opened, 2);

    // A connection made by hand, and one over a transport of our own.
    let resolver = hcx::StaticResolver::new().with("api.test", [127, 0, 0, 1].into());
    let by_name = hcx::Route::http("api.test", server.port());
    let connection = hcx::exec::Connection::connect(
        7,
        &by_name,
        &resolver,
        TIMEOUT,
        &hcx::SocketConfig::default(),
    )?;
    assert_eq!(
        (connection.id(), connection.peer_addr()),
        (7, Some(server.addr))
    );
    let transport: Box<dyn hcx::exec::Transport> = Box::new(TcpStream::connect(server.addr)?);
    let connection = hcx::exec::Connection::from_transport(8, route.clone(), transport);
    assert_eq!(connection.peer_addr(), Some(server.addr));
    Ok(())
}

#[test]
fn the_pool_works_on_its_own_through_the_facade() -> TestResult {
    let disposed: Arc<Mutex<Vec<(String, hcx::CloseReason)>>> = Arc::default();
    let log = disposed.clone();
    let pool: hcx::pool::Pool<&'static str, String> =
        hcx::pool::Pool::builder(hcx::PoolConfig::with_limits(2, 1))
            .clock(hcx::ManualClock::new())
            .disposal(move |conn: String, reason: hcx::CloseReason| {
                if let Ok(mut log) = log.lock() {
                    log.push((conn, reason));
                }
            })
            .build()?;

    let mut lease: hcx::pool::Lease<&'static str, String> = pool.lease(&"a", None).get(TIMEOUT)?;
    assert!(!lease.is_reused());
    lease.assign(String::from("conn #1"));
    lease.release(hcx::Decision::keep(None));

    let held = pool.lease(&"a", None).get(TIMEOUT)?;
    assert!(held.is_reused());
    // The route's one slot is taken: a second lease times out, saying where things stood.
    let error: hcx::pool::LeaseError = pool
        .lease(&"a", None)
        .get(Duration::from_millis(10))
        .err()
        .ok_or("the route is full")?;
    assert!(error.is_timeout());
    let failure: &hcx::pool::LeaseFailure = error.failure();
    assert_eq!(failure.route_stats.leased, 1);
    held.discard(hcx::CloseReason::Custom("done"));

    assert_eq!(pool.close_counts().get(hcx::CloseReason::Custom("done")), 1);
    let log = disposed.lock().map(|log| log.clone()).unwrap_or_default();
    assert_eq!(
        log,
        vec![(String::from("conn #1"), hcx::CloseReason::Custom("done"))]
    );
    let error: hcx::pool::ConfigError = pool.set_max_total(0).err().ok_or("zero is refused")?;
    assert!(!error.to_string().is_empty());
    Ok(())
}

#[test]
fn the_codec_and_the_strategies_work_through_the_facade() -> TestResult {
    let limits = hcx::Limits::default();
    let raw: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nKeep-Alive: timeout=5\r\n\r\nhi";
    let (head, len) = hcx::codec::parse_response_head(raw, &limits)?.ok_or("a complete head")?;
    let head: hcx::codec::ResponseHead = head;
    assert_eq!(head.status, hcx::http::StatusCode::OK);
    assert_eq!(&raw[len..], b"hi");

    // What a strategy sees, and what `decide` makes of it.
    let method = hcx::http::Method::GET;
    let request_headers = hcx::http::HeaderMap::new();
    let exchange = hcx::Exchange::framed(&method, &request_headers, &head)?;
    let framing: hcx::codec::ResponseFraming = exchange.framing();
    assert_eq!(framing.body, hcx::codec::BodyFraming::Length(2));
    assert_eq!(framing.close, None);
    let response: &hcx::codec::ResponseHead = exchange.response();
    assert_eq!(response.reason(), "OK");
    let strategy = hcx::DefaultKeepAliveStrategy::new();
    assert_eq!(
        hcx::decide(&hcx::DefaultReuseStrategy, &strategy, &exchange),
        hcx::Decision::keep(Some(Duration::from_secs(4)))
    );
    assert_eq!(
        hcx::decide(&hcx::NeverReuse, &strategy, &exchange),
        hcx::Decision::Close(hcx::CloseReason::NeverReuse)
    );
    let configured: hcx::DefaultKeepAliveStrategy = "default=30s, max=2s".parse()?;
    assert_eq!(
        hcx::KeepAliveStrategy::keep_alive(&configured, &exchange),
        hcx::KeepAlive::For(Duration::from_secs(2))
    );
    let error: hcx::ParseSettingError = "default=soon"
        .parse::<hcx::DefaultKeepAliveStrategy>()
        .err()
        .ok_or("not a duration")?;
    assert_eq!(error.input(), "default=soon");
    assert_eq!(hcx::parse_duration("2m 30s")?, Duration::from_secs(150));

    // Encoding a request, and the `Call` state machine as far as a `Vec` takes it.
    let request = hcx::http::Request::get("http://example.com/hello").body(())?;
    let mut out = Vec::new();
    let encoder: hcx::codec::BodyEncoder = hcx::codec::encode_request_head(
        &request,
        hcx::codec::TargetForm::Origin,
        hcx::codec::RequestFraming::None,
        &mut out,
    )?;
    encoder.finish(&mut out)?;
    assert_eq!(out, b"GET /hello HTTP/1.1\r\nhost: example.com\r\n\r\n");
    let mut out = Vec::new();
    let call = match hcx::codec::Call::new(
        &request,
        hcx::codec::TargetForm::Origin,
        hcx::codec::RequestFraming::None,
        limits,
        &mut out,
    )? {
        hcx::codec::Sending::Body(call) => call,
        hcx::codec::Sending::AwaitContinue(_) => return Err("no body, no 100-continue".into()),
    };
    let call: hcx::codec::Call<hcx::codec::RecvResponse> = call.finish(&mut out)?;
    assert!(call.request_body_complete() && !call.response_started());
    let mut input = hcx::bytes::BytesMut::from(&b"HTTP/1.1 204 No Content\r\n\r\n"[..]);
    let hcx::codec::RecvStep::Response(last) = call.try_read(&mut input)? else {
        return Err("the final head is in".into());
    };
    assert_eq!(last.head.status, 204);
    assert!(input.is_empty());

    // Decoding a body, and a whole response at once.
    let mut decoder = hcx::codec::BodyDecoder::new(framing.body, &limits);
    let decoded: hcx::codec::Decoded = decoder.decode(b"hi")?;
    assert_eq!((decoded.data, decoder.is_done()), (0..2, true));
    let complete: hcx::codec::CompleteResponse = hcx::codec::read_response(
        &method,
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi",
        7,
        &limits,
    )?;
    assert_eq!(complete.informational.len(), 1);
    assert_eq!(complete.body, b"hi");

    // A codec error's kind is what `hcx::Error::protocol_error` reports.
    let error: hcx::codec::Error =
        hcx::codec::parse_response_head(b"SSH-2.0-OpenSSH_9.6\r\n", &limits)
            .err()
            .ok_or("not HTTP")?;
    let kind: hcx::ProtocolErrorKind = error.kind();
    assert_eq!(kind, hcx::codec::ErrorKind::NotHttp);
    Ok(())
}

/// What the builder refuses rather than drop or carry over silently: connection-manager
/// settings next to a manager of the caller's (which has its own), and zero timeouts
/// (Apache's 0 is "no limit"; here a zero would fail every request).
#[test]
fn settings_that_would_be_ignored_or_fail_every_request_are_config_errors() -> TestResult {
    let with_manager =
        || hcx::Client::builder().connection_manager(hcx::PoolingConnectionManager::new());
    let cases: Vec<(&str, Result<hcx::Client, hcx::Error>)> = vec![
        ("max_total", with_manager().max_total(0).build()),
        ("max_per_route", with_manager().max_per_route(3).build()),
        (
            "time_to_live",
            with_manager()
                .time_to_live(Some(Duration::from_secs(5)))
                .build(),
        ),
        (
            "max_per_route_for",
            with_manager()
                .max_per_route_for("http://api.test", 3)
                .build(),
        ),
        (
            "connect timeout",
            bounded_builder().connect_timeout(Duration::ZERO).build(),
        ),
        (
            "response timeout",
            bounded_builder()
                .response_timeout(Some(Duration::ZERO))
                .build(),
        ),
    ];
    for (what, built) in cases {
        let error = expect_err(built, what)?;
        assert_eq!(error.kind(), hcx::ErrorKind::Config, "{what}: {error}");
        assert!(
            error
                .to_string()
                .contains(what.split(' ').next().unwrap_or(what)),
            "{what}: {error}"
        );
    }
    // A manager of one's own with settings that are not the manager's still builds.
    with_manager()
        .response_timeout(Some(TIMEOUT))
        .connection_request_timeout(TIMEOUT)
        .build()?;
    Ok(())
}
