//! [`TestServerBuilder`]: routes, connection behaviours and limits, then `start`.

use crate::middlebox::Clock;
use crate::reply::Reply;
use crate::request::{Limits, RecordedRequest};
use crate::routes::{Responder, Routes};
use crate::server::TestServer;
use http::Method;
use rustls::ServerConfig;
use std::io;
use std::net::{Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::Arc;
use std::sync::atomic::AtomicUsize;
use std::time::{Duration, Instant};

/// How the server answers `Expect: 100-continue`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ExpectContinue {
    /// Send `100 Continue`, then read the body (the default).
    #[default]
    Continue,
    /// Send nothing interim; just read the body (the client must give up waiting).
    Ignore,
    /// Send the final response at once without reading the body, then close the
    /// connection (RFC 9110 §10.1.1).
    FinalResponse,
}

/// How a configured silent close happens: the connection closes without a
/// `Connection: close` header, as a server's keep-alive close races a client's reuse.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum SilentClose {
    /// Answer the N-th request, then close.
    AfterResponse,
    /// Read the N-th request in full, then close without answering it.
    WithoutResponse,
}

/// Everything a running server needs to know, fixed at `start`.
#[derive(Debug, Clone)]
pub(crate) struct Config {
    pub(crate) bind: SocketAddr,
    pub(crate) close_after: Option<usize>,
    pub(crate) silent_close: Option<(usize, SilentClose)>,
    pub(crate) idle_timeout: Option<Duration>,
    pub(crate) expect_continue: ExpectContinue,
    pub(crate) limits: Limits,
    pub(crate) keep_requests: usize,
    pub(crate) linger: Duration,
    pub(crate) tls: Option<Arc<ServerConfig>>,
    /// The emulated middlebox's idle limit at start; it may change while running.
    pub(crate) silent_drop_after: Option<Duration>,
    pub(crate) clock: Clock,
}

/// Builds a [`TestServer`]. Get one from [`TestServer::builder`].
#[derive(Debug)]
pub struct TestServerBuilder {
    config: Config,
    routes: Routes,
}

impl Default for TestServerBuilder {
    fn default() -> Self {
        TestServerBuilder {
            config: Config {
                bind: SocketAddr::from((Ipv4Addr::LOCALHOST, 0)),
                close_after: None,
                silent_close: None,
                idle_timeout: None,
                expect_continue: ExpectContinue::Continue,
                limits: Limits {
                    max_head_bytes: 64 * 1024,
                    max_headers: 100,
                    max_body_bytes: 64 * 1024 * 1024,
                },
                keep_requests: usize::MAX,
                linger: Duration::from_secs(1),
                tls: None,
                silent_drop_after: None,
                clock: Clock::default(),
            },
            routes: Routes::default(),
        }
    }
}

impl TestServerBuilder {
    /// The address to listen on. Default `127.0.0.1:0` (a free port).
    pub fn bind(mut self, addr: SocketAddr) -> Self {
        self.config.bind = addr;
        self
    }

    /// Listens on `[::1]:0` instead of `127.0.0.1:0`.
    pub fn ipv6(self) -> Self {
        self.bind(SocketAddr::from((Ipv6Addr::LOCALHOST, 0)))
    }

    /// Answers `method` requests for `path` (exact match on the path, query ignored)
    /// with `reply`. The first matching route wins; a `HEAD` request without a `HEAD`
    /// route uses the path's `GET` route.
    pub fn route(mut self, method: Method, path: impl Into<String>, reply: Reply) -> Self {
        self.routes
            .add(method, path.into(), Responder::Fixed(Box::new(reply)));
        self
    }

    /// Like [`route`](Self::route), with a closure that computes the reply. It runs on
    /// the connection's thread, outside every lock of the server.
    pub fn route_fn<F>(mut self, method: Method, path: impl Into<String>, handler: F) -> Self
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        self.routes
            .add(method, path.into(), Responder::Handler(Arc::new(handler)));
        self
    }

    /// Like [`route`](Self::route), with replies given in turn to successive matching
    /// requests (across connections); the last one repeats. Empty: `200 OK`.
    pub fn route_seq(
        mut self,
        method: Method,
        path: impl Into<String>,
        replies: impl IntoIterator<Item = Reply>,
    ) -> Self {
        let responder = Responder::Sequence {
            replies: replies.into_iter().collect(),
            next: AtomicUsize::new(0),
        };
        self.routes.add(method, path.into(), responder);
        self
    }

    /// The reply to requests no route matches. Default: `200 OK`, empty body.
    pub fn default_reply(mut self, reply: Reply) -> Self {
        self.routes.set_default(Responder::Fixed(Box::new(reply)));
        self
    }

    /// Like [`default_reply`](Self::default_reply), with a closure.
    pub fn default_fn<F>(mut self, handler: F) -> Self
    where
        F: Fn(&RecordedRequest) -> Reply + Send + Sync + 'static,
    {
        self.routes
            .set_default(Responder::Handler(Arc::new(handler)));
        self
    }

    /// Sends `Connection: close` with the `n`-th response on each connection and closes
    /// it (`n` counts from 1; 0 acts as 1). Default: never.
    pub fn close_after(mut self, n: usize) -> Self {
        self.config.close_after = Some(n.max(1));
        self
    }

    /// Closes each connection silently at its `n`-th request (from 1; 0 acts as 1), as
    /// `mode` says. Default: never.
    pub fn silent_close_after(mut self, n: usize, mode: SilentClose) -> Self {
        self.config.silent_close = Some((n.max(1), mode));
        self
    }

    /// Closes a connection that has waited this long for the start of its next request
    /// (a server's keep-alive timeout; Apache httpd's `KeepAliveTimeout`). Implemented
    /// with the socket's read timeout. Default: wait forever. Zero acts as 1 ms.
    pub fn idle_timeout(mut self, timeout: Duration) -> Self {
        self.config.idle_timeout = Some(timeout.max(Duration::from_millis(1)));
        self
    }

    /// How to answer `Expect: 100-continue`. Default [`ExpectContinue::Continue`].
    pub fn expect_continue(mut self, mode: ExpectContinue) -> Self {
        self.config.expect_continue = mode;
        self
    }

    /// The largest request head accepted, in bytes. Default 64 KiB.
    pub fn max_head_bytes(mut self, n: usize) -> Self {
        self.config.limits.max_head_bytes = n;
        self
    }

    /// The most header fields accepted in a request head. Default 100.
    pub fn max_headers(mut self, n: usize) -> Self {
        self.config.limits.max_headers = n;
        self
    }

    /// The largest request body accepted, in bytes. Default 64 MiB.
    pub fn max_body_bytes(mut self, n: usize) -> Self {
        self.config.limits.max_body_bytes = n;
        self
    }

    /// Keeps only the last `n` recorded requests (0: none), and of the connections
    /// only the last `n` once closed (open ones stay recorded), for long runs: the
    /// record stays bounded however many connections come and go. Counters stay exact.
    /// Default: all.
    pub fn keep_requests(mut self, n: usize) -> Self {
        self.config.keep_requests = n;
        self
    }

    /// After closing a connection that answered a request, how long the server keeps
    /// reading and discarding input, so that a client's unread bytes do not turn the
    /// close into a reset that destroys the response in flight ("lingering close", as
    /// Apache httpd does). Shutdown cuts it short. Default 1 s.
    pub fn linger(mut self, linger: Duration) -> Self {
        self.config.linger = linger;
        self
    }

    /// Serves HTTPS: each accepted connection does a TLS handshake with `config` (see
    /// [`TestCa::server_config`](crate::TestCa::server_config)), then is served exactly
    /// as in plain mode. Default: plain HTTP.
    ///
    /// In TLS mode [`url`](TestServer::url) starts with `https://`; the idle timeout
    /// also bounds the wait for the first byte of the client's handshake (a silent
    /// client is closed with `IdleTimeout`, no error recorded); a failed handshake is recorded
    /// as an error (with rustls' text) and closes the connection with
    /// [`TlsHandshakeFailed`](crate::ServerCloseReason::TlsHandshakeFailed); each
    /// connection's [`TlsInfo`](crate::TlsInfo) and the `tls_*` counters of
    /// [`ServerStats`](crate::ServerStats) say what was negotiated. Every close the
    /// server makes on purpose (idle timeout, `close_after`, `Connection: close`,
    /// silent closes, shutdown...) sends `close_notify` before the TCP FIN; a body
    /// truncated on purpose and an I/O failure do not.
    pub fn tls(mut self, config: Arc<ServerConfig>) -> Self {
        self.config.tls = Some(config);
        self
    }

    /// Emulates a middlebox (a NAT, a cloud load balancer) in front of the server that
    /// silently forgets a flow once it has been idle for `idle` or longer: measured from
    /// when the server writes a response on a connection to when the first byte of the
    /// next request arrives, on the [`clock`](Self::clock). Default: flows are never
    /// forgotten.
    ///
    /// While a connection waits, nothing is sent: no FIN, however long the idle time. A
    /// request arriving on a forgotten flow is answered with a TCP reset as soon as its
    /// first byte arrives, before any response byte, and never reaches the routes: it
    /// is not counted in [`requests_received`](crate::ServerStats::requests_received)
    /// but in [`silent_drops`](crate::ServerStats::silent_drops) and
    /// [`dropped_requests`](TestServer::dropped_requests), and the connection is
    /// closed with [`SilentDrop`](crate::ServerCloseReason::SilentDrop). The first
    /// request on a connection, and a request pipelined before the previous response was
    /// written, follow no idle period and are always delivered. In [TLS
    /// mode](Self::tls) the reset comes without `close_notify`, and the first byte is
    /// that of the next TLS record, whatever it carries.
    ///
    /// The reset is made by closing the socket with the request's bytes unread, which
    /// Linux (and Windows) answer with a RST (RFC 2525 §2.17); a kernel that sends a
    /// FIN instead gives the client an end of stream, still before any response byte.
    ///
    /// [`TestServer::set_silent_drop_after`] changes the limit while the server runs.
    /// The [`idle_timeout`](Self::idle_timeout) is the server's own, on the real clock,
    /// and still closes with a FIN when it runs out.
    pub fn silent_drop_after(mut self, idle: Duration) -> Self {
        self.config.silent_drop_after = Some(idle);
        self
    }

    /// The clock that measures idle periods for
    /// [`silent_drop_after`](Self::silent_drop_after), so that tests advance time
    /// instead of sleeping (for example a closure reading a manual clock). Called on
    /// connection threads, outside every lock of the server. Default `Instant::now`.
    pub fn clock<F>(mut self, now: F) -> Self
    where
        F: Fn() -> Instant + Send + Sync + 'static,
    {
        self.config.clock = Clock::new(now);
        self
    }

    /// Binds and starts the accept thread.
    pub fn start(self) -> io::Result<TestServer> {
        TestServer::start(self.config, self.routes)
    }
}
