//! The one public error of the exec engine, its kind, and what it says about the
//! exchange.

use std::error::Error as StdError;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::time::Duration;

type Source = Arc<dyn StdError + Send + Sync + 'static>;

/// Why a request failed.
///
/// One opaque type ([`std::io::Error`]'s and hyper's model): [`kind`](Self::kind)
/// returns an [`ErrorKind`] to `match` on; the `is_*` predicates answer the questions
/// that cut across kinds; [`source`](StdError::source) gives the cause (an
/// [`io::Error`], an [`hcx_h1::Error`], an [`hcx_pool::LeaseError`] …); and `Display`
/// says what this layer knows, with values, without repeating the cause, so an
/// error-chain reporter prints each fact once.
///
/// Every error also says how far the exchange got, the facts a retry decision needs
/// ([`request_progress`](Self::request_progress),
/// [`is_response_started`](Self::is_response_started),
/// [`is_connection_reused`](Self::is_connection_reused)).
///
/// Cloning is cheap (the cause is shared), so a failed response body can report the
/// same error on every later read.
#[derive(Clone)]
pub struct Error {
    inner: Box<Inner>,
}

#[derive(Clone)]
struct Inner {
    kind: ErrorKind,
    message: String,
    source: Option<Source>,
    protocol: Option<hcx_h1::ErrorKind>,
    facts: Facts,
    /// The proxy's answer to a refused `CONNECT`.
    proxy: Option<Box<(http::StatusCode, http::HeaderMap)>>,
}

/// What kind of failure an [`Error`] is. More kinds may be added: match with a
/// wildcard arm, as with [`io::ErrorKind`].
///
/// Each kind names the Apache HttpClient exception a porting user would have caught
/// ([`apache_equivalent`](Self::apache_equivalent)).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The URL cannot be used: it does not parse, is not absolute, or has a scheme
    /// hcx cannot speak. Nothing was sent. Apache: `URISyntaxException` /
    /// `ClientProtocolException`.
    InvalidUrl,
    /// The request cannot be sent as it is: a header value with CR/LF, framing headers
    /// that contradict the body, more headers than fit. Nothing was sent. Apache:
    /// `ProtocolException` (from the request side).
    InvalidRequest,
    /// A configuration value cannot be used (a pool limit of zero …).
    Config,
    /// The host name did not resolve. Apache: `UnknownHostException`.
    #[doc(alias("UnknownHostException"))]
    UnknownHost,
    /// The connect failed: refused, unreachable. Apache: `HttpHostConnectException`.
    #[doc(alias("HttpHostConnectException", "ConnectException"))]
    Connect,
    /// The connect timeout ran out. Apache: `ConnectTimeoutException`.
    #[doc(alias("ConnectTimeoutException"))]
    ConnectTimeout,
    /// No connection came free in the pool within the connection request timeout.
    /// Apache: `ConnectionRequestTimeoutException`.
    #[doc(alias("ConnectionRequestTimeoutException", "ConnectionPoolTimeoutException"))]
    LeaseTimeout,
    /// The connection manager was shut down. Apache: `IllegalStateException`
    /// ("Connection pool shut down").
    Shutdown,
    /// The server did not answer, or send more of the body, within the response
    /// timeout. Apache: `SocketTimeoutException`.
    #[doc(alias("SocketTimeoutException"))]
    ResponseTimeout,
    /// The connection closed or was reset before any byte of a response arrived.
    /// Apache: `NoHttpResponseException`.
    #[doc(alias("NoHttpResponseException"))]
    ClosedBeforeResponse,
    /// The connection ended before the response body did. Apache:
    /// `ConnectionClosedException` / `TruncatedChunkException`.
    #[doc(alias("ConnectionClosedException", "TruncatedChunkException"))]
    IncompleteBody,
    /// The server broke HTTP/1.1: not HTTP, a bad chunk size, conflicting lengths, a
    /// truncated head … The codec's own kind is [`Error::protocol_error`]. Apache:
    /// `ProtocolException` / `MalformedChunkCodingException`.
    #[doc(alias("ProtocolException", "MalformedChunkCodingException"))]
    Protocol,
    /// Reading the caller's request body failed (its reader or factory returned an
    /// error, or a sized body had fewer or more bytes than its declared length). The
    /// connection is discarded.
    RequestBody,
    /// The response body is not UTF-8 (from `into_string`).
    Utf8,
    /// Any other I/O error during the exchange: a reset in the middle of the body, a
    /// broken pipe while the body was going out. Apache: `IOException`.
    Io,
    /// A redirect could not be followed: too many, circular, no usable `Location`, or
    /// a body that cannot be sent again. Apache: `RedirectException` /
    /// `CircularRedirectException`.
    #[doc(alias("RedirectException", "CircularRedirectException"))]
    Redirect,
    /// A compressed body could not be decoded (corrupt data). Apache: `ZipException`.
    Decompression,
    /// A compressed body decoded past the configured limit (bytes or ratio): a
    /// decompression bomb, stopped.
    DecompressionLimit,
    /// The TLS handshake failed: the server's certificate is not valid for the name,
    /// its issuer is not trusted, it expired, or the server wanted a client
    /// certificate it did not get. Never retried. Apache: `SSLHandshakeException` /
    /// `SSLPeerUnverifiedException`.
    #[doc(alias("SSLHandshakeException", "SSLException"))]
    Tls,
    /// The proxy refused to open a tunnel (`CONNECT` answered with a status other than
    /// 2xx, such as 407 or 403); [`Error::proxy_status`] and [`Error::proxy_headers`]
    /// carry its answer. Apache: `TunnelRefusedException`.
    #[doc(alias("TunnelRefusedException"))]
    ProxyTunnel,
    /// The request was aborted with its [`AbortHandle`](crate::AbortHandle) (from
    /// another thread, or before it started). Never retried; the connection it held,
    /// if any, was closed. [`Error::request_progress`] says how much of the request the
    /// server may have seen. Apache: `RequestFailedException` ("Request aborted"),
    /// 4.5's `RequestAbortedException`.
    #[doc(alias("RequestAbortedException", "RequestFailedException"))]
    Aborted,
}

impl ErrorKind {
    /// The Apache HttpClient 5 exception class a porting user would log for this
    /// kind, for log compatibility: `"ConnectTimeoutException"`, ….
    pub fn apache_equivalent(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "ClientProtocolException",
            ErrorKind::InvalidRequest | ErrorKind::Protocol => "ProtocolException",
            ErrorKind::Config => "IllegalArgumentException",
            ErrorKind::UnknownHost => "UnknownHostException",
            ErrorKind::Connect => "HttpHostConnectException",
            ErrorKind::ConnectTimeout => "ConnectTimeoutException",
            ErrorKind::LeaseTimeout => "ConnectionRequestTimeoutException",
            ErrorKind::Shutdown => "IllegalStateException",
            ErrorKind::ResponseTimeout => "SocketTimeoutException",
            ErrorKind::ClosedBeforeResponse => "NoHttpResponseException",
            ErrorKind::IncompleteBody => "ConnectionClosedException",
            ErrorKind::RequestBody | ErrorKind::Io => "IOException",
            ErrorKind::Utf8 => "CharacterCodingException",
            ErrorKind::Redirect => "RedirectException",
            ErrorKind::Decompression => "ZipException",
            ErrorKind::DecompressionLimit => "IOException",
            ErrorKind::Tls => "SSLHandshakeException",
            ErrorKind::ProxyTunnel => "TunnelRefusedException",
            ErrorKind::Aborted => "RequestFailedException",
        }
    }

    /// A short snake_case name for logs, metrics and JSON: `"connect_timeout"`.
    pub fn as_str(self) -> &'static str {
        match self {
            ErrorKind::InvalidUrl => "invalid_url",
            ErrorKind::InvalidRequest => "invalid_request",
            ErrorKind::Config => "config",
            ErrorKind::UnknownHost => "unknown_host",
            ErrorKind::Connect => "connect",
            ErrorKind::ConnectTimeout => "connect_timeout",
            ErrorKind::LeaseTimeout => "lease_timeout",
            ErrorKind::Shutdown => "shutdown",
            ErrorKind::ResponseTimeout => "response_timeout",
            ErrorKind::ClosedBeforeResponse => "closed_before_response",
            ErrorKind::IncompleteBody => "incomplete_body",
            ErrorKind::Protocol => "protocol",
            ErrorKind::RequestBody => "request_body",
            ErrorKind::Utf8 => "utf8",
            ErrorKind::Io => "io",
            ErrorKind::Redirect => "redirect",
            ErrorKind::Decompression => "decompression",
            ErrorKind::DecompressionLimit => "decompression_limit",
            ErrorKind::Tls => "tls",
            ErrorKind::ProxyTunnel => "proxy_tunnel",
            ErrorKind::Aborted => "aborted",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// How much of the request had been written to the connection when an error came.
/// Ordered: `NotStarted < Partial < Complete`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, PartialOrd, Ord)]
pub enum RequestProgress {
    /// No byte of the request was written: it failed before (lease, connect, an
    /// invalid request) or at the first write.
    #[default]
    NotStarted,
    /// Some bytes went out, not all (the connection failed during the head or the
    /// body, or the server answered early).
    Partial,
    /// The whole request was written.
    Complete,
}

/// The facts of an exchange an error carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub(crate) struct Facts {
    pub(crate) progress: RequestProgress,
    pub(crate) response_started: bool,
    pub(crate) reused: bool,
}

impl Error {
    /// An error of `kind` whose `Display` is `message`: for layers of your own (an
    /// exec handler, a custom transport) that fail in a way hcx's kinds describe.
    /// Say what happened, with values; attach the cause with
    /// [`with_source`](Self::with_source) rather than repeating its text.
    pub fn new(kind: ErrorKind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
                protocol: None,
                facts: Facts::default(),
                proxy: None,
            }),
        }
    }

    /// Attaches the cause, returned by [`source`](StdError::source).
    pub fn with_source(mut self, source: impl Into<Box<dyn StdError + Send + Sync>>) -> Self {
        self.inner.source = Some(Arc::from(source.into()));
        self
    }

    /// Records how far the exchange got.
    pub(crate) fn with_facts(mut self, facts: Facts) -> Self {
        self.inner.facts = facts;
        self
    }

    /// The same error, saying that an exchange before it wrote `progress` of the
    /// request and, with `response_started`, got a response: for a layer that fails
    /// after an exchange (it refuses the response, or cannot go on from it), so that
    /// the caller does not take a request the server has seen for one never sent.
    /// What the error already says, where it says more, stays. The `hcx` facade's
    /// exec chain does this itself for every error a handler returns (`Chain::proceed`,
    /// from the exchanges made below it), so layers need not.
    #[must_use]
    pub fn after_exchange(mut self, progress: RequestProgress, response_started: bool) -> Self {
        let facts = &mut self.inner.facts;
        facts.progress = facts.progress.max(progress);
        facts.response_started |= response_started;
        self
    }

    /// An I/O error during an exchange: a timeout of the socket becomes a response
    /// timeout, anything else stays I/O. `what` says what was being done.
    pub(crate) fn exchange_io(e: io::Error, what: &str, timeout: Option<Duration>) -> Self {
        if is_timeout(&e) {
            // The system's own word for it ("Resource temporarily unavailable", EAGAIN
            // on Linux) says nothing more, and reads as another failure: no source.
            let after = timeout.map_or_else(String::new, |t| format!(" after {t:?}"));
            Error::new(
                ErrorKind::ResponseTimeout,
                format!("response timeout{after} while {what}"),
            )
        } else if tls_cause(&e).is_some() {
            // TLS 1.3 finishes the client's side of the handshake before the server
            // judges it: a refused client certificate arrives as an alert here.
            Error::new(ErrorKind::Tls, format!("TLS error while {what}")).with_source(e)
        } else {
            Error::new(ErrorKind::Io, format!("I/O error while {what}")).with_source(e)
        }
    }

    /// A codec error reading a response: truncation or a protocol violation. The
    /// codec's message says what and where, so it is this error's message too; the
    /// codec error stays the source for its kind.
    pub(crate) fn from_h1(e: hcx_h1::Error) -> Self {
        let kind = if e.is_incomplete_body() {
            ErrorKind::IncompleteBody
        } else {
            ErrorKind::Protocol
        };
        let message = match e.kind() {
            hcx_h1::ErrorKind::IncompleteBody | hcx_h1::ErrorKind::IncompleteHead => {
                e.kind().explain().to_string()
            }
            other => format!("invalid response: {other}"),
        };
        let mut error = Error::new(kind, message);
        error.inner.protocol = Some(e.kind());
        error.with_source(e)
    }

    /// The same error, its message after `context` (whose answer it was, say) and a
    /// `": "`; kind, cause and facts unchanged.
    pub(crate) fn in_context(mut self, context: &str) -> Self {
        self.inner.message = format!("{context}: {}", self.inner.message);
        self
    }

    /// A pool lease that failed.
    pub(crate) fn from_lease(e: hcx_pool::LeaseError, route: &crate::Route) -> Self {
        let (kind, what) = if e.is_shutdown() {
            (ErrorKind::Shutdown, "the connection manager is shut down")
        } else if e.is_cancelled() {
            (
                ErrorKind::LeaseTimeout,
                "the connection request was cancelled",
            )
        } else if e.failure().route_stats.max == 0 {
            // Not a busy pool: a route blocked with a per-route limit of zero.
            (
                ErrorKind::LeaseTimeout,
                "no connection came free in time: the route's limit is 0 connections",
            )
        } else {
            (ErrorKind::LeaseTimeout, "no connection came free in time")
        };
        Error::new(kind, format!("{what} (route {route})")).with_source(e)
    }

    /// What kind of failure this is.
    pub fn kind(&self) -> ErrorKind {
        self.inner.kind
    }

    /// The proxy refused a tunnel: its status and header fields.
    pub(crate) fn proxy_refused(
        message: impl Into<String>,
        status: http::StatusCode,
        headers: http::HeaderMap,
    ) -> Self {
        let mut error = Error::new(ErrorKind::ProxyTunnel, message);
        error.inner.proxy = Some(Box::new((status, headers)));
        error
    }

    /// The status the proxy answered a refused `CONNECT` with
    /// ([`ErrorKind::ProxyTunnel`]): 407 when it wants credentials.
    pub fn proxy_status(&self) -> Option<http::StatusCode> {
        self.inner.proxy.as_ref().map(|p| p.0)
    }

    /// The header fields of the proxy's answer to a refused `CONNECT`
    /// (`Proxy-Authenticate` among them).
    pub fn proxy_headers(&self) -> Option<&http::HeaderMap> {
        self.inner.proxy.as_ref().map(|p| &p.1)
    }

    /// What the protocol violation was, for a [`Protocol`](ErrorKind::Protocol) or
    /// [`IncompleteBody`](ErrorKind::IncompleteBody) error read by the codec.
    pub fn protocol_error(&self) -> Option<hcx_h1::ErrorKind> {
        self.inner.protocol
    }

    /// How much of the request was written before the failure. For an error
    /// `Client::execute` returns, at least what any exchange of the execution wrote:
    /// an earlier attempt, an earlier redirect hop, or the exchange whose response a
    /// layer then refused. (An error reading a response body says what that body's
    /// exchange wrote.)
    pub fn request_progress(&self) -> RequestProgress {
        self.inner.facts.progress
    }

    /// Whether the whole request had been written (Apache 4's `isRequestSent`).
    pub fn is_request_sent(&self) -> bool {
        self.inner.facts.progress == RequestProgress::Complete
    }

    /// Whether any byte of a response had arrived. `false` means the server sent
    /// nothing that could be a response to this request (for an execution's error: to
    /// any of its exchanges).
    pub fn is_response_started(&self) -> bool {
        self.inner.facts.response_started
    }

    /// Whether the exchange ran on a connection reused from the pool. A reused
    /// connection that fails before any response byte is the classic stale-connection
    /// case, safe to replay when no request byte went out.
    pub fn is_connection_reused(&self) -> bool {
        self.inner.facts.reused
    }

    /// Could not connect: the name did not resolve, the connect was refused or
    /// unreachable, or it timed out.
    pub fn is_connect(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::UnknownHost | ErrorKind::Connect | ErrorKind::ConnectTimeout
        )
    }

    /// The connect timeout ran out. Also [`is_connect`](Self::is_connect).
    pub fn is_connect_timeout(&self) -> bool {
        self.kind() == ErrorKind::ConnectTimeout
    }

    /// No connection came free in the pool in time.
    pub fn is_lease_timeout(&self) -> bool {
        self.kind() == ErrorKind::LeaseTimeout
    }

    /// The response timeout ran out.
    pub fn is_response_timeout(&self) -> bool {
        self.kind() == ErrorKind::ResponseTimeout
    }

    /// Either timeout of the exchange: connect or response (not the pool's).
    pub fn is_timeout(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::ConnectTimeout | ErrorKind::ResponseTimeout
        )
    }

    /// The connection closed or was reset before any byte of a response arrived.
    pub fn is_closed_before_response(&self) -> bool {
        self.kind() == ErrorKind::ClosedBeforeResponse
    }

    /// The connection closed before the end of the response body.
    pub fn is_incomplete_body(&self) -> bool {
        self.kind() == ErrorKind::IncompleteBody
    }

    /// The server broke HTTP/1.1.
    pub fn is_protocol(&self) -> bool {
        self.kind() == ErrorKind::Protocol
    }

    /// Any other I/O error during the exchange.
    pub fn is_io(&self) -> bool {
        self.kind() == ErrorKind::Io
    }

    /// The connection manager was shut down.
    pub fn is_shutdown(&self) -> bool {
        self.kind() == ErrorKind::Shutdown
    }

    /// The request was aborted ([`ErrorKind::Aborted`]).
    pub fn is_aborted(&self) -> bool {
        self.kind() == ErrorKind::Aborted
    }

    /// The request cannot be sent as it is, or its URL cannot be used. Nothing was
    /// sent.
    pub fn is_invalid_request(&self) -> bool {
        matches!(
            self.kind(),
            ErrorKind::InvalidRequest | ErrorKind::InvalidUrl
        )
    }

    /// A configuration value cannot be used.
    pub fn is_config(&self) -> bool {
        self.kind() == ErrorKind::Config
    }

    /// Takes the hcx error back out of an [`io::Error`] that carries one (as
    /// [`ResponseBody`](crate::ResponseBody)'s `Read` errors do); any other
    /// `io::Error` becomes an [`Io`](ErrorKind::Io) error with it as the source.
    ///
    /// ```
    /// use std::io::Read;
    /// # let server = hcx_testserver::TestServer::builder()
    /// #     .default_reply(hcx_testserver::Reply::ok().generated_body(100).truncate_body(10))
    /// #     .start()?;
    /// # let manager = hcx_exec::PoolingConnectionManager::new();
    /// # let request = http::Request::get(server.url("/")).body(hcx_exec::Body::empty())?;
    /// # let route = hcx_exec::Route::from_uri(request.uri())?;
    /// # let response = hcx_exec::MainExec::default().execute(&route, request,
    /// #     hcx_exec::ExecRuntime::new(manager), &hcx_exec::RequestConfig::default())?;
    /// let mut body = response.into_body();
    /// let mut all = Vec::new();
    /// let io_error = body.read_to_end(&mut all).unwrap_err();
    /// let error = hcx_exec::Error::from_io(io_error);
    /// assert_eq!(error.kind(), hcx_exec::ErrorKind::IncompleteBody);
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_io(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(Ok(error)) = e.into_inner().map(|inner| inner.downcast::<Error>()) {
                return *error;
            }
            return Error::new(ErrorKind::Io, "I/O error");
        }
        Error::new(ErrorKind::Io, "I/O error").with_source(e)
    }

    /// This error inside an [`io::Error`] of the matching [`io::ErrorKind`], for
    /// `Read`; [`from_io`](Self::from_io) takes it back out.
    pub fn into_io(self) -> io::Error {
        let kind = match self.kind() {
            ErrorKind::ResponseTimeout | ErrorKind::ConnectTimeout | ErrorKind::LeaseTimeout => {
                io::ErrorKind::TimedOut
            }
            ErrorKind::IncompleteBody | ErrorKind::ClosedBeforeResponse => {
                io::ErrorKind::UnexpectedEof
            }
            ErrorKind::Protocol
            | ErrorKind::Utf8
            | ErrorKind::Decompression
            | ErrorKind::DecompressionLimit => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }
}

/// The rustls error inside `e`, if a TLS connection failed.
#[cfg(feature = "rustls")]
fn tls_cause(e: &io::Error) -> Option<&rustls::Error> {
    e.get_ref()?.downcast_ref::<rustls::Error>()
}

#[cfg(not(feature = "rustls"))]
fn tls_cause(_: &io::Error) -> Option<std::convert::Infallible> {
    None
}

/// A socket timeout shows as `WouldBlock` on Unix and `TimedOut` on Windows.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl From<io::Error> for Error {
    /// See [`Error::from_io`].
    fn from(e: io::Error) -> Self {
        Error::from_io(e)
    }
}

impl From<Error> for io::Error {
    /// See [`Error::into_io`].
    fn from(e: Error) -> Self {
        e.into_io()
    }
}

impl From<http::Error> for Error {
    /// A request that could not be built (a bad URI, header name or value).
    fn from(e: http::Error) -> Self {
        let kind = if e.is::<http::uri::InvalidUri>() || e.is::<http::uri::InvalidUriParts>() {
            ErrorKind::InvalidUrl
        } else {
            ErrorKind::InvalidRequest
        };
        Error::new(kind, "the request could not be built").with_source(e)
    }
}

impl From<http::header::MaxSizeReached> for Error {
    /// Headers beyond what an `http::HeaderMap` can hold (32,768 entries).
    fn from(e: http::header::MaxSizeReached) -> Self {
        Error::new(
            ErrorKind::InvalidRequest,
            "more header fields than a HeaderMap holds",
        )
        .with_source(e)
    }
}

impl fmt::Display for Error {
    /// The message: what this layer knows, without the cause's text. The alternate
    /// form (`{:#}`) appends each cause in the chain after `": "`, for a log line
    /// that says everything once.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)?;
        if f.alternate() {
            let mut cause = StdError::source(self);
            while let Some(e) = cause {
                write!(f, ": {e}")?;
                cause = e.source();
            }
        }
        Ok(())
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(protocol) = &self.inner.protocol {
            d.field("protocol", protocol);
        }
        d.field("request", &self.inner.facts.progress)
            .field("response_started", &self.inner.facts.response_started)
            .field("reused", &self.inner.facts.reused);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| &**s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_timeouts_become_response_timeouts_with_the_value() {
        let e = io::Error::from(io::ErrorKind::WouldBlock);
        let err = Error::exchange_io(
            e,
            "reading the response head",
            Some(Duration::from_millis(50)),
        );
        assert!(err.is_response_timeout() && err.is_timeout());
        assert!(err.to_string().contains("50ms"), "{err}");
        // EAGAIN says nothing more and reads as another failure.
        assert!(err.source().is_none());
    }

    #[test]
    fn display_does_not_repeat_the_source() {
        let cause = io::Error::other("disk on fire");
        let err = Error::exchange_io(cause, "sending the request", None);
        assert_eq!(err.to_string(), "I/O error while sending the request");
        assert_eq!(
            err.source().map(ToString::to_string).as_deref(),
            Some("disk on fire")
        );
        assert_eq!(
            format!("{err:#}"),
            "I/O error while sending the request: disk on fire"
        );
    }

    #[test]
    fn errors_survive_a_round_trip_through_io_error_with_their_facts() {
        let facts = Facts {
            progress: RequestProgress::Complete,
            response_started: true,
            reused: true,
        };
        let err =
            Error::new(ErrorKind::IncompleteBody, "closed after 3 of 10 bytes").with_facts(facts);
        let io = err.into_io();
        assert_eq!(io.kind(), io::ErrorKind::UnexpectedEof);
        let back = Error::from_io(io);
        assert_eq!(back.kind(), ErrorKind::IncompleteBody);
        assert!(
            back.is_request_sent() && back.is_response_started() && back.is_connection_reused()
        );
        assert_eq!(back.to_string(), "closed after 3 of 10 bytes");
        let plain = Error::from_io(io::Error::other("disk on fire"));
        assert_eq!(plain.kind(), ErrorKind::Io);
        assert_eq!(plain.request_progress(), RequestProgress::NotStarted);
    }

    #[test]
    fn protocol_errors_keep_their_codec_kind() {
        let mut buf = bytes::BytesMut::from(&b"SSH-2.0-OpenSSH\r\n"[..]);
        let codec = hcx_h1::take_response_head(&mut buf, &hcx_h1::Limits::default())
            .err()
            .map(Error::from_h1);
        let err = codec.expect("not HTTP is an error");
        assert!(err.is_protocol());
        assert_eq!(err.protocol_error(), Some(hcx_h1::ErrorKind::NotHttp));
        assert!(
            !err.to_string().contains("SSH"),
            "the detail stays in the source: {err}"
        );
    }

    #[test]
    fn every_kind_names_an_apache_exception_and_a_snake_case_name() {
        let kinds = [
            ErrorKind::InvalidUrl,
            ErrorKind::InvalidRequest,
            ErrorKind::Config,
            ErrorKind::UnknownHost,
            ErrorKind::Connect,
            ErrorKind::ConnectTimeout,
            ErrorKind::LeaseTimeout,
            ErrorKind::Shutdown,
            ErrorKind::ResponseTimeout,
            ErrorKind::ClosedBeforeResponse,
            ErrorKind::IncompleteBody,
            ErrorKind::Protocol,
            ErrorKind::RequestBody,
            ErrorKind::Utf8,
            ErrorKind::Io,
            ErrorKind::Redirect,
            ErrorKind::Decompression,
            ErrorKind::DecompressionLimit,
            ErrorKind::Tls,
            ErrorKind::ProxyTunnel,
        ];
        let names: std::collections::HashSet<_> = kinds.iter().map(|k| k.as_str()).collect();
        assert_eq!(names.len(), kinds.len());
        assert!(
            kinds
                .iter()
                .all(|k| k.apache_equivalent().ends_with("Exception"))
        );
    }
}
