//! Shared helpers of the end-to-end tests.

#![allow(dead_code)] // each test file uses a different part

use std::time::{Duration, Instant};

use hcx::{Client, ConnectionInfo, Decision, ResponseBody, ResponseInfo, Route};
use http::Response;

/// The longest any wait may take before a test fails instead of hanging.
pub const SAFETY: Duration = Duration::from_secs(10);

pub type TestResult = Result<(), Box<dyn std::error::Error>>;

/// A client whose waits are bounded by [`SAFETY`].
pub fn client() -> Result<Client, hcx::Error> {
    Client::builder().response_timeout(Some(SAFETY)).build()
}

pub fn info(response: &Response<ResponseBody>) -> ConnectionInfo {
    match ResponseInfo::of(response) {
        Some(info) => info.connection,
        None => panic!("the response carries no ResponseInfo"),
    }
}

/// The keep-or-close decision the response carries.
pub fn decision(response: &Response<ResponseBody>) -> Option<Decision> {
    ResponseInfo::of(response).map(|i| i.decision)
}

/// The reason the response's connection closes, if it does.
pub fn close_reason(response: &Response<ResponseBody>) -> Option<hcx::CloseReason> {
    decision(response).and_then(|d| d.close_reason())
}

pub fn route(url: &str) -> Result<Route, Box<dyn std::error::Error>> {
    Ok(Route::from_uri(&url.parse()?)?)
}

/// A GET of `url` that goes out on a pooled connection `server` has closed: the
/// first GET pools its connection, the server closes it (its `closes`-th close), the
/// client sees the FIN; then the second GET, whose lease meets a stale connection.
pub fn get_after_the_server_closed_it(
    client: &Client,
    server: &hcx_testserver::TestServer,
    url: &str,
    closes: usize,
) -> TestResult {
    client.get(url)?.into_body().into_string()?;
    server.wait_for_closed(closes, SAFETY)?;
    wait_until_idle_connection_is_stale(client, &route(url)?)?;
    client.get(url)?.into_body().into_string()?;
    Ok(())
}

/// The test server records a close just before it sends the FIN. After waiting for
/// the record, this waits — without sleeping, by probing the pooled connection —
/// until the client's idle connection to `route` has seen that FIN, so the next
/// request deterministically meets a stale connection.
pub fn wait_until_idle_connection_is_stale(client: &Client, route: &Route) -> TestResult {
    let deadline = Instant::now() + SAFETY;
    let mut lease = client
        .connection_manager()
        .pool()
        .lease(route, None)
        .get(SAFETY)?;
    loop {
        let conn = lease
            .connection_mut()
            .ok_or("no idle connection in the pool")?;
        if conn.is_stale() {
            break;
        }
        if Instant::now() > deadline {
            return Err("the FIN never arrived".into());
        }
        std::thread::yield_now();
    }
    lease.release(Decision::keep(None));
    Ok(())
}

/// Reads from `stream` until a request head has ended (`CRLF CRLF`), the stream ends or
/// a read fails; returns what it read (the whole head, or what came before the end).
pub fn read_head(stream: &mut impl std::io::Read) -> Vec<u8> {
    let mut head = Vec::new();
    let mut chunk = [0u8; 4096];
    while !head.windows(4).any(|w| w == b"\r\n\r\n") {
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => break,
            Ok(n) => head.extend_from_slice(&chunk[..n]),
        }
    }
    head
}

/// A client configuration trusting only `ca`'s root (no client certificate).
pub fn trusting(
    ca: &hcx_testserver::TestCa,
) -> Result<std::sync::Arc<hcx::rustls::ClientConfig>, Box<dyn std::error::Error>> {
    Ok(std::sync::Arc::new(
        hcx::rustls::ClientConfig::builder_with_provider(hcx::crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(ca.root_store())
            .with_no_client_auth(),
    ))
}

/// Longer than [`SAFETY`]: a client wait that only an abort or a shutdown may end in
/// time (if it does not, the test fails at [`SAFETY`] before this timeout could end
/// the wait and be taken for it).
pub const PATIENT: Duration = Duration::from_secs(60);

/// Runs `work` on another thread; its result, or an error if it has not ended within
/// [`SAFETY`] (a request that was to be ended fails the test instead of hanging it).
pub fn in_background<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> impl FnOnce() -> Result<T, String> {
    let (done, result) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(work());
    });
    move || {
        result
            .recv_timeout(SAFETY)
            .map_err(|_| "the request in flight did not end".to_string())
    }
}

/// What an error says of the exchange: kind, progress, and whether a response began.
pub fn facts(error: &hcx::Error) -> (hcx::ErrorKind, hcx::RequestProgress, bool) {
    (
        error.kind(),
        error.request_progress(),
        error.is_response_started(),
    )
}

/// An event listener that signals RETRY's first decision to retry (it then waits).
pub struct Retrying(std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>);

impl Retrying {
    /// The listener, and where its signal arrives.
    pub fn new() -> (Self, std::sync::mpsc::Receiver<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (Retrying(std::sync::Mutex::new(Some(tx))), rx)
    }
}

impl hcx::EventListener for Retrying {
    fn retry(&self, _event: &hcx::RetryEvent<'_>) {
        if let Some(tx) = self.0.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(());
        }
    }
}

/// A retry strategy that retries every failure, up to five attempts (and no response).
pub struct RetryAll;

impl hcx::RetryStrategy for RetryAll {
    fn retry_on_error(
        &self,
        _: &http::Request<()>,
        _: &hcx::Error,
        attempt: u32,
        _: &hcx::chain::Context,
    ) -> bool {
        attempt < 5
    }

    fn retry_on_response(
        &self,
        _: &http::Request<()>,
        _: &http::Response<hcx::ResponseBody>,
        _: u32,
        _: &hcx::chain::Context,
    ) -> Option<Duration> {
        None
    }
}

/// A listener on 127.0.0.1 whose accept queue is full, and the connections that fill
/// it (keep them): its SYNs are dropped, so a connect to it hangs.
pub fn unanswering_listener() -> std::io::Result<(std::net::TcpListener, Vec<std::net::TcpStream>)>
{
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let addr = listener.local_addr()?;
    let mut queue = Vec::new();
    loop {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => queue.push(stream),
            Err(e) if e.kind() == std::io::ErrorKind::TimedOut => break,
            Err(e) => return Err(e),
        }
        if queue.len() >= 10_000 {
            return Err(std::io::Error::other("the accept queue never filled"));
        }
    }
    Ok((listener, queue))
}

/// An event listener that signals the first connect start of the client.
pub struct ConnectStarted(std::sync::Mutex<Option<std::sync::mpsc::Sender<()>>>);

impl ConnectStarted {
    /// The listener, and where its signal arrives.
    pub fn new() -> (Self, std::sync::mpsc::Receiver<()>) {
        let (tx, rx) = std::sync::mpsc::channel();
        (ConnectStarted(std::sync::Mutex::new(Some(tx))), rx)
    }
}

impl hcx::EventListener for ConnectStarted {
    fn connect_start(&self, _route: &hcx::Route) {
        if let Some(tx) = self.0.lock().ok().and_then(|mut s| s.take()) {
            let _ = tx.send(());
        }
    }
}

/// A resolver whose lookups hang (until it is dropped, or for SAFETY), saying when one
/// starts: a name server that does not answer.
pub struct HangingResolver {
    started: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
    release: std::sync::Mutex<std::sync::mpsc::Receiver<()>>,
}

impl HangingResolver {
    /// The resolver, where each lookup's start is signalled, and the handle whose drop
    /// ends the lookups.
    pub fn new() -> (
        Self,
        std::sync::mpsc::Receiver<()>,
        std::sync::mpsc::Sender<()>,
    ) {
        let (started, starts) = std::sync::mpsc::channel();
        let (release_tx, release) = std::sync::mpsc::channel();
        (
            HangingResolver {
                started: std::sync::Mutex::new(started),
                release: std::sync::Mutex::new(release),
            },
            starts,
            release_tx,
        )
    }
}

impl hcx::Resolver for HangingResolver {
    fn resolve(&self, host: &str, _port: u16) -> std::io::Result<Vec<std::net::SocketAddr>> {
        if let Ok(started) = self.started.lock() {
            let _ = started.send(());
        }
        if let Ok(release) = self.release.lock() {
            let _ = release.recv_timeout(SAFETY);
        }
        Err(std::io::Error::other(format!("{host}: no answer")))
    }
}

/// Runs `request` on `client` on another thread, waits for `reached` (what says it
/// got where it is to be interrupted: a signal, the server holding the request), calls
/// `interrupt`, and returns the error the request ended with (an error if it
/// succeeded, or did not end within [`SAFETY`]).
pub fn interrupted<R>(
    client: &Client,
    request: http::Request<hcx::Body>,
    reached: impl FnOnce() -> Result<R, Box<dyn std::error::Error>>,
    interrupt: impl FnOnce(),
) -> Result<hcx::Error, Box<dyn std::error::Error>> {
    let outcome = in_background({
        let client = client.clone();
        move || client.execute(request).map(|r| r.status())
    });
    reached()?;
    interrupt();
    match outcome()? {
        Ok(status) => Err(format!("the request was not interrupted: {status}").into()),
        Err(error) => Ok(error),
    }
}

/// [`interrupted`]'s `reached` for a signal on `signal`.
pub fn signalled(
    signal: &std::sync::mpsc::Receiver<()>,
) -> impl FnOnce() -> Result<(), Box<dyn std::error::Error>> + '_ {
    move || Ok(signal.recv_timeout(SAFETY)?)
}

/// The server side of a TLS handshake on `sock` with `config`, its read timeout set
/// to SAFETY first. For scripted TLS servers in tests.
pub fn accept_tls(
    sock: &mut std::net::TcpStream,
    config: std::sync::Arc<hcx::rustls::ServerConfig>,
) -> Result<hcx::rustls::ServerConnection, Box<dyn std::error::Error + Send + Sync>> {
    sock.set_read_timeout(Some(SAFETY))?;
    let mut conn = hcx::rustls::ServerConnection::new(config)?;
    while conn.is_handshaking() {
        conn.complete_io(sock)?;
    }
    Ok(conn)
}

/// Reads one request (its head, and a `Content-Length` body if it has one) from the
/// rustls server connection `conn` over `sock`; `false` at the end of the stream
/// before any of it. For scripted TLS servers in tests.
pub fn read_tls_request(
    conn: &mut hcx::rustls::ServerConnection,
    sock: &mut std::net::TcpStream,
) -> std::io::Result<bool> {
    use std::io::Read;
    let mut request = Vec::new();
    let mut chunk = [0u8; 4096];
    let mut wanted = None;
    loop {
        if let Some(end) = request.windows(4).position(|w| w == b"\r\n\r\n") {
            let len = *wanted.get_or_insert_with(|| {
                let text = String::from_utf8_lossy(&request[..end]).to_ascii_lowercase();
                let body: usize = text
                    .lines()
                    .find_map(|l| l.strip_prefix("content-length:"))
                    .and_then(|v| v.trim().parse().ok())
                    .unwrap_or(0);
                end + 4 + body
            });
            if request.len() >= len {
                return Ok(true);
            }
        }
        match conn.reader().read(&mut chunk) {
            Ok(0) => return Ok(false),
            Ok(n) => request.extend_from_slice(&chunk[..n]),
            Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                if conn.complete_io(sock)?.0 == 0 {
                    return Ok(false);
                }
            }
            Err(e) => return Err(e),
        }
    }
}

/// Relays bytes both ways between `client` and `upstream` until either side closes
/// (then the other's write side is shut down): a CONNECT tunnel of a fake proxy.
pub fn relay(client: std::net::TcpStream, upstream: std::net::TcpStream) {
    let _ = upstream.set_read_timeout(Some(SAFETY));
    let (Ok(mut from_client), Ok(mut to_upstream)) = (client.try_clone(), upstream.try_clone())
    else {
        return;
    };
    let up = std::thread::spawn(move || {
        let _ = std::io::copy(&mut from_client, &mut to_upstream);
        let _ = to_upstream.shutdown(std::net::Shutdown::Write);
    });
    let (mut from_upstream, mut to_client) = (upstream, client);
    let _ = std::io::copy(&mut from_upstream, &mut to_client);
    let _ = to_client.shutdown(std::net::Shutdown::Write);
    let _ = up.join();
}

/// A listener on 127.0.0.1 whose accepted sockets get `recv_buffer` bytes of receive
/// buffer (`SO_RCVBUF`, set before `listen`, so their window is sized by it; `None`:
/// the system's), and its port. A small one fills at once when the server stops
/// reading an upload.
pub fn listener_with_recv_buffer(
    recv_buffer: Option<usize>,
) -> std::io::Result<(std::net::TcpListener, u16)> {
    let socket = socket2::Socket::new(socket2::Domain::IPV4, socket2::Type::STREAM, None)?;
    if let Some(size) = recv_buffer {
        socket.set_recv_buffer_size(size)?;
    }
    socket.bind(&std::net::SocketAddr::from(([127, 0, 0, 1], 0)).into())?;
    socket.listen(1)?;
    let listener = std::net::TcpListener::from(socket);
    let port = listener.local_addr()?.port();
    Ok((listener, port))
}
