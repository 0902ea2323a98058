//! [`TestProxy`]: a small HTTP/1.1 forward proxy for the client's proxy tests, on
//! loopback, one thread per client connection, keeping client connections alive.
//!
//! It forwards absolute-form requests (`GET http://host:port/path`) in origin-form with
//! `Connection: close` and relays the response re-framed by `Content-Length`; it opens
//! `CONNECT` tunnels (or refuses them, if told to); it can require Basic credentials
//! (`407` otherwise). It records what it saw, with condvar waits like the server's.

mod auth;
mod client;
mod forward;
mod record;
mod response;
mod tunnel;
mod wire;

pub use record::{ProxyStats, ProxyWaitTimeout, RecordedProxyRequest};

use crate::record::RecordedError;
use crate::request::Limits;
use crate::signal::Signal;
use auth::Credentials;
use http::StatusCode;
use parking_lot::Mutex;
use record::ProxyRecorder;
use std::fmt;
use std::io::{self, ErrorKind};
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// Everything a running proxy needs to know, fixed at `start`.
#[derive(Debug, Clone)]
pub(crate) struct ProxyConfig {
    pub(crate) credentials: Option<Credentials>,
    pub(crate) refuse_connect: Option<StatusCode>,
    pub(crate) limits: Limits,
}

/// What the accept thread and the connection threads share.
#[derive(Debug)]
pub(crate) struct ProxyShared {
    pub(crate) config: ProxyConfig,
    pub(crate) recorder: ProxyRecorder,
    pub(crate) signal: Signal,
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// The id under which a socket of client connection `connection` is registered with
/// the shutdown signal: its own, or (`target`) the one it opened to a target. A client
/// connection talks to one target at a time.
pub(crate) fn socket_id(connection: usize, target: bool) -> usize {
    connection * 2 + usize::from(target)
}

/// Builds a [`TestProxy`]. Get one from [`TestProxy::builder`].
#[derive(Debug)]
pub struct TestProxyBuilder {
    config: ProxyConfig,
}

impl TestProxyBuilder {
    /// Requires `Proxy-Authorization: Basic base64(user:password)` on every request
    /// (`CONNECT` included). A request without it, or with other credentials, gets
    /// `407 Proxy Authentication Required` with `Proxy-Authenticate: Basic
    /// realm="test-proxy"` and an empty body, and the connection stays open. Default:
    /// no authentication.
    pub fn require_basic_auth(mut self, user: &str, password: &str) -> Self {
        self.config.credentials = Some(Credentials::new(user, password));
        self
    }

    /// Answers every `CONNECT` with `status` (e.g. `403 Forbidden`), a header
    /// `X-Proxy-Reason: refused` and a short text body, keeping the connection open.
    /// Default: tunnels are opened.
    pub fn refuse_connect(mut self, status: StatusCode) -> Self {
        self.config.refuse_connect = Some(status);
        self
    }

    /// Binds `127.0.0.1:0` and starts the accept thread.
    pub fn start(self) -> io::Result<TestProxy> {
        TestProxy::start(self.config)
    }
}

/// A forward HTTP proxy on loopback, for tests of a client's proxy support.
///
/// - **Absolute-form requests** (`GET http://host:port/path HTTP/1.1`): sent to the
///   target in origin-form (`GET /path`), with the client's fields minus
///   `Proxy-Authorization`, `Proxy-Connection`, `Connection` and `Keep-Alive`, plus
///   `Connection: close`, the body as the client framed it. The target's response
///   goes back with its status and fields, its body re-framed by `Content-Length`
///   (after decoding chunked, or reading to the close), its `Connection` field
///   dropped; the client connection stays open (unless the client asked to close).
///   An unreachable target or a malformed response is a `502 Bad Gateway`.
/// - **`CONNECT host:port`**: `200 Connection Established`, then bytes relayed both
///   ways until either side closes, which closes both; or refused (see
///   [`refuse_connect`](TestProxyBuilder::refuse_connect)); or `502` if the target
///   cannot be reached.
/// - **Malformed requests** get `400 Bad Request` and a closed connection.
///
/// [`shutdown`](Self::shutdown), or dropping it, stops accepting, closes every
/// connection and tunnel and joins every thread.
///
/// ```
/// use hcx_testserver::{TestProxy, TestServer};
/// use std::io::{Read, Write};
/// use std::net::TcpStream;
///
/// let server = TestServer::builder().start()?;
/// let proxy = TestProxy::builder().start()?;
/// let mut client = TcpStream::connect(proxy.addr())?;
/// let target = server.url("/via-proxy");
/// write!(client, "GET {target} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\n\r\n", server.authority())?;
/// let mut response = String::new();
/// client.read_to_string(&mut response)?;
/// assert!(response.starts_with("HTTP/1.1 200 OK\r\n"));
/// assert_eq!(server.last_request().ok_or("no request")?.target, "/via-proxy");
/// assert_eq!(proxy.requests()[0].target, target);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
pub struct TestProxy {
    addr: SocketAddr,
    shared: Arc<ProxyShared>,
    accept: Option<JoinHandle<()>>,
}

impl TestProxy {
    /// A builder with the defaults: no authentication, tunnels opened.
    pub fn builder() -> TestProxyBuilder {
        TestProxyBuilder {
            config: ProxyConfig {
                credentials: None,
                refuse_connect: None,
                limits: Limits {
                    max_head_bytes: 64 * 1024,
                    max_headers: 100,
                    max_body_bytes: 64 * 1024 * 1024,
                },
            },
        }
    }

    fn start(config: ProxyConfig) -> io::Result<TestProxy> {
        let listener = TcpListener::bind(SocketAddr::from((Ipv4Addr::LOCALHOST, 0)))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(ProxyShared {
            config,
            recorder: ProxyRecorder::default(),
            signal: Signal::default(),
            threads: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(String::from("hcx-testproxy-accept"))
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(TestProxy {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `http://127.0.0.1:PORT`: the proxy URL a client is configured with.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The counters now.
    pub fn stats(&self) -> ProxyStats {
        self.shared.recorder.stats()
    }

    /// Every request read, oldest first (absolute-form and `CONNECT`).
    pub fn requests(&self) -> Vec<RecordedProxyRequest> {
        self.shared.recorder.requests()
    }

    /// The targets (`host:port`) of the tunnels opened, oldest first.
    pub fn tunnels(&self) -> Vec<String> {
        self.shared.recorder.tunnels()
    }

    /// The errors recorded so far: malformed requests, unreachable targets, bad
    /// responses from targets.
    pub fn errors(&self) -> Vec<RecordedError> {
        self.shared.recorder.errors()
    }

    /// Blocks until `condition` holds for the counters, or `timeout` passes. The
    /// condition is checked at each change, under the record's lock: it must not call
    /// back into the proxy.
    pub fn wait_until(
        &self,
        timeout: Duration,
        condition: impl FnMut(&ProxyStats) -> bool,
    ) -> Result<ProxyStats, ProxyWaitTimeout> {
        let what = || String::from("a condition on the proxy stats");
        self.shared.recorder.wait_until(timeout, &what, condition)
    }

    /// Blocks until at least `n` requests have been read.
    pub fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<ProxyStats, ProxyWaitTimeout> {
        let what = || format!("{n} requests received");
        self.shared
            .recorder
            .wait_until(timeout, &what, |s| s.requests_received >= n)
    }

    /// Blocks until at least `n` client connections have been accepted.
    pub fn wait_for_connections(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<ProxyStats, ProxyWaitTimeout> {
        let what = || format!("{n} client connections accepted");
        self.shared
            .recorder
            .wait_until(timeout, &what, |s| s.connections_accepted >= n)
    }

    /// Blocks until at least `n` tunnels have been opened.
    pub fn wait_for_tunnels(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<ProxyStats, ProxyWaitTimeout> {
        let what = || format!("{n} tunnels opened");
        self.shared
            .recorder
            .wait_until(timeout, &what, |s| s.tunnels_opened >= n)
    }

    /// Blocks until at least `n` client connections have been closed.
    pub fn wait_for_closed(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<ProxyStats, ProxyWaitTimeout> {
        let what = || format!("{n} client connections closed");
        self.shared
            .recorder
            .wait_until(timeout, &what, |s| s.connections_closed >= n)
    }

    /// Stops accepting, closes every connection and tunnel and joins every thread.
    /// Idempotent; the records stay readable.
    pub fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.signal.trigger();
        // Wake the blocking accept: it sees the flag and returns.
        let wake = TcpStream::connect_timeout(&self.addr, Duration::from_secs(1));
        if wake.is_ok() {
            let _ = accept.join();
        }
        drop(wake);
        self.shared.signal.close_sockets();
        let threads = std::mem::take(&mut *self.shared.threads.lock());
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for TestProxy {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for TestProxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestProxy")
            .field("addr", &self.addr)
            .field("running", &self.accept.is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

fn accept_loop(listener: &TcpListener, shared: &Arc<ProxyShared>) {
    loop {
        match listener.accept() {
            Ok((stream, _)) => {
                if shared.signal.is_triggered() {
                    return;
                }
                spawn_connection(shared, stream);
            }
            Err(e) => {
                if shared.signal.is_triggered() {
                    return;
                }
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::ConnectionReset
                ) {
                    continue;
                }
                shared.recorder.error(None, format!("accept failed: {e}"));
                // Back off (out of file descriptors, say) instead of spinning.
                if shared.signal.wait_timeout(Duration::from_millis(10)) {
                    return;
                }
            }
        }
    }
}

fn spawn_connection(shared: &Arc<ProxyShared>, stream: TcpStream) {
    let id = shared.recorder.connection_accepted();
    let _ = stream.set_nodelay(true);
    let registered = match stream.try_clone() {
        Ok(clone) => shared.signal.register(socket_id(id, false), clone, false),
        Err(e) => {
            shared
                .recorder
                .error(Some(id), format!("could not clone the socket: {e}"));
            false
        }
    };
    if !registered {
        shared.recorder.connection_closed();
        return;
    }
    let guard = ConnectionGuard {
        shared: Arc::clone(shared),
        id,
    };
    let spawned = thread::Builder::new()
        .name(format!("hcx-testproxy-conn-{id}"))
        .spawn(move || {
            let guard = guard;
            client::serve(&guard.shared, stream, guard.id);
        });
    match spawned {
        Ok(handle) => {
            let mut threads = shared.threads.lock();
            // Finished threads need no join; dropping their handles frees them.
            threads.retain(|t| !t.is_finished());
            threads.push(handle);
        }
        // The closure, and so the guard, was dropped: the close is recorded.
        Err(e) => shared.recorder.error(
            Some(id),
            format!("could not spawn a connection thread: {e}"),
        ),
    }
}

/// Owned by a connection's thread: whatever way the thread ends, its sockets leave
/// the registry and its close is recorded.
struct ConnectionGuard {
    shared: Arc<ProxyShared>,
    id: usize,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.shared.signal.unregister(socket_id(self.id, false));
        self.shared.signal.unregister(socket_id(self.id, true));
        self.shared.recorder.connection_closed();
    }
}
