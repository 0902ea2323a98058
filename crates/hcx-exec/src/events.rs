//! What happens to connections and exchanges: an [`EventListener`] of the user's, and
//! `tracing` events at the same points (feature `tracing`).
//!
//! One [`Events`] per connection manager carries both; every point that emits calls
//! one of its methods, which costs a branch on "is there a listener" and, with the
//! `tracing` feature, tracing's check of whether a subscriber wants the event (one
//! relaxed atomic load when none does).

use std::fmt;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use hcx_close::{CloseReason, Decision};
use hcx_reuse::IdleLimitChange;
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, Version};

use crate::error::Error;
use crate::info::ConnectionInfo;
use crate::route::Route;

/// Hooks into the life of connections and exchanges. OkHttp: `EventListener`; Go:
/// `httptrace.ClientTrace`; Apache HttpClient has none (its logs are the nearest).
///
/// Every method has a default that does nothing: implement the ones you need. They
/// run on the thread doing the work, with no lock of hcx held, in this order for one
/// request:
///
/// ```text
/// lease_requested → leased (new or reused)          or lease_failed
///   [connect_start → connect_end]                    for a new connection
///   request_head_written → response_head_read → reuse_decided
///   body_done → released (kept, or closed → closed)   the body read to its end
///   closed                                           the body failed or was cut off
/// retry / redirect                                   between attempts and hops
/// closed                                             also for pooled connections
///                                                    closed by expiry, eviction, probe
/// ```
///
/// The pairs are reported in full when requests fail with an error; a panic in your
/// own code running inside a request (a [`Resolver`](crate::Resolver), a rustls
/// certificate verifier, a handler) unwinds out of it without the events still due,
/// `connect_end` among them.
///
/// A listener must be quick and must not panic: it runs inside requests. Register one
/// with `PoolingConnectionManagerBuilder::event_listener` (or the client builder's
/// `event_listener`): it sees every request of the clients sharing that manager.
///
/// A listener that keeps a clone of the client or manager it listens to (to read
/// `stats()`, say) makes a cycle: the pool, its connections and its evictor thread are
/// then never freed. Keep a [`std::sync::Weak`] to a shared handle instead, or read
/// what the events themselves carry.
#[allow(unused_variables)]
pub trait EventListener: Send + Sync {
    /// A request asks the pool for a connection to `route`.
    fn lease_requested(&self, route: &Route) {}

    /// The pool lent a slot: a pooled connection (`info.reused`, with its idle time,
    /// whether the stale probe ran, and how many stale ones were closed first), or an
    /// empty slot a new connection is made for (`info.reused == false`).
    /// `info.lease_waited` says how long the request queued for it.
    ///
    /// The learned idle limit is checked after the lease: a pooled connection idler
    /// than it comes as a [`closed`](Self::closed) event with
    /// [`CloseReason::IdleLimit`] and another `leased`. So `info.idle_limit_closed` and
    /// `info.idle_probe` are always zero here; the response's [`ConnectionInfo`] has
    /// them.
    fn leased(&self, route: &Route, info: &ConnectionInfo) {}

    /// No slot: the connection request timeout passed, or the manager shut down.
    fn lease_failed(&self, route: &Route, error: &Error) {}

    /// A new connection to `route` is being made (resolve, connect, tunnel, TLS).
    fn connect_start(&self, route: &Route) {}

    /// The connection is made (`Ok`), or could not be (`Err`).
    fn connect_end(&self, route: &Route, result: Result<&Connected, &Error>) {}

    /// The request head went out on `conn`: `head` is its bytes as sent. Reported
    /// once the write that carried it is done, before the rest of a body that goes
    /// out in several writes (one larger than 64 KiB, or a reader's past its first
    /// 16 KiB) is read or written.
    fn request_head_written(&self, conn: &ConnectionRef<'_>, head: &[u8]) {}

    /// The final response head came in on `conn` (1xx heads are not reported).
    fn response_head_read(&self, conn: &ConnectionRef<'_>, head: &ResponseHeadRef<'_>) {}

    /// Whether `conn` may carry another exchange after this one, and for how long
    /// (`Decision::Keep`), or why not (`Decision::Close` with its [`CloseReason`]).
    /// Made when the head is read; the connection is given back when the body ends.
    fn reuse_decided(&self, conn: &ConnectionRef<'_>, decision: Decision) {}

    /// The response body reached its end: `bytes` read for it from the connection
    /// (chunk framing included, before any content decoding). Reported for every
    /// response read to its end, whether the caller read it, dropping it drained
    /// the rest, or it had no body (HEAD, 204, 304, `Content-Length: 0`: 0 bytes),
    /// always just before [`released`](Self::released). A body that failed, or was
    /// closed before its end (discarded, or dropped past the drain limits), has
    /// none: its connection goes straight to [`closed`](Self::closed).
    fn body_done(&self, conn: &ConnectionRef<'_>, bytes: u64) {}

    /// `conn` is given back as `decision` says: kept idle, or closed (then
    /// [`closed`](Self::closed) follows). It runs just before the pool takes the
    /// connection: its slot still counts as leased, so a request made from here that
    /// needs that slot waits for it.
    fn released(&self, conn: &ConnectionRef<'_>, decision: Decision) {}

    /// `conn` was closed, for `reason`: whichever layer closed it (the reuse decision,
    /// the engine, the stale probe, expiry, eviction, shutdown), once per connection.
    fn closed(&self, conn: &ConnectionRef<'_>, reason: CloseReason) {}

    /// The RETRY layer sends the request again (the retried response, if any, has
    /// given its connection back already).
    fn retry(&self, event: &RetryEvent<'_>) {}

    /// The REDIRECT layer follows a redirect (the `3xx` has given its connection back
    /// already).
    fn redirect(&self, event: &RedirectEvent<'_>) {}

    /// The keep-alive strategy changed what it learned of a route's idle limit
    /// (`LearnedIdleLimit`): the bounds before and after, and the reuse that taught it.
    fn idle_limit_changed(&self, change: &IdleLimitChange) {}
}

/// A shared listener: keep an `Arc` of your listener to read what it gathered, and
/// give the client a clone.
impl<T: EventListener + ?Sized> EventListener for Arc<T> {
    fn lease_requested(&self, route: &Route) {
        (**self).lease_requested(route);
    }
    fn leased(&self, route: &Route, info: &ConnectionInfo) {
        (**self).leased(route, info);
    }
    fn lease_failed(&self, route: &Route, error: &Error) {
        (**self).lease_failed(route, error);
    }
    fn connect_start(&self, route: &Route) {
        (**self).connect_start(route);
    }
    fn connect_end(&self, route: &Route, result: Result<&Connected, &Error>) {
        (**self).connect_end(route, result);
    }
    fn request_head_written(&self, conn: &ConnectionRef<'_>, head: &[u8]) {
        (**self).request_head_written(conn, head);
    }
    fn response_head_read(&self, conn: &ConnectionRef<'_>, head: &ResponseHeadRef<'_>) {
        (**self).response_head_read(conn, head);
    }
    fn reuse_decided(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        (**self).reuse_decided(conn, decision);
    }
    fn body_done(&self, conn: &ConnectionRef<'_>, bytes: u64) {
        (**self).body_done(conn, bytes);
    }
    fn released(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        (**self).released(conn, decision);
    }
    fn closed(&self, conn: &ConnectionRef<'_>, reason: CloseReason) {
        (**self).closed(conn, reason);
    }
    fn retry(&self, event: &RetryEvent<'_>) {
        (**self).retry(event);
    }
    fn redirect(&self, event: &RedirectEvent<'_>) {
        (**self).redirect(event);
    }
    fn idle_limit_changed(&self, change: &IdleLimitChange) {
        (**self).idle_limit_changed(change);
    }
}

/// Two listeners, each told every event, the first first: how a client gets more
/// than one (nest the pairs for more: `(a, (b, c))`).
///
/// ```
/// use std::sync::Arc;
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use hcx_exec::{EventListener, Route};
///
/// #[derive(Default)]
/// struct Count(AtomicUsize);
/// impl EventListener for Count {
///     fn lease_requested(&self, _: &Route) {
///         self.0.fetch_add(1, Ordering::Relaxed);
///     }
/// }
/// let (a, b) = (Arc::new(Count::default()), Arc::new(Count::default()));
/// let both = (Arc::clone(&a), Arc::clone(&b));
/// both.lease_requested(&Route::http("127.0.0.1", 80));
/// assert_eq!((a.0.load(Ordering::Relaxed), b.0.load(Ordering::Relaxed)), (1, 1));
/// ```
impl<A: EventListener, B: EventListener> EventListener for (A, B) {
    fn lease_requested(&self, route: &Route) {
        self.0.lease_requested(route);
        self.1.lease_requested(route);
    }
    fn leased(&self, route: &Route, info: &ConnectionInfo) {
        self.0.leased(route, info);
        self.1.leased(route, info);
    }
    fn lease_failed(&self, route: &Route, error: &Error) {
        self.0.lease_failed(route, error);
        self.1.lease_failed(route, error);
    }
    fn connect_start(&self, route: &Route) {
        self.0.connect_start(route);
        self.1.connect_start(route);
    }
    fn connect_end(&self, route: &Route, result: Result<&Connected, &Error>) {
        self.0.connect_end(route, result);
        self.1.connect_end(route, result);
    }
    fn request_head_written(&self, conn: &ConnectionRef<'_>, head: &[u8]) {
        self.0.request_head_written(conn, head);
        self.1.request_head_written(conn, head);
    }
    fn response_head_read(&self, conn: &ConnectionRef<'_>, head: &ResponseHeadRef<'_>) {
        self.0.response_head_read(conn, head);
        self.1.response_head_read(conn, head);
    }
    fn reuse_decided(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        self.0.reuse_decided(conn, decision);
        self.1.reuse_decided(conn, decision);
    }
    fn body_done(&self, conn: &ConnectionRef<'_>, bytes: u64) {
        self.0.body_done(conn, bytes);
        self.1.body_done(conn, bytes);
    }
    fn released(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        self.0.released(conn, decision);
        self.1.released(conn, decision);
    }
    fn closed(&self, conn: &ConnectionRef<'_>, reason: CloseReason) {
        self.0.closed(conn, reason);
        self.1.closed(conn, reason);
    }
    fn retry(&self, event: &RetryEvent<'_>) {
        self.0.retry(event);
        self.1.retry(event);
    }
    fn redirect(&self, event: &RedirectEvent<'_>) {
        self.0.redirect(event);
        self.1.redirect(event);
    }
    fn idle_limit_changed(&self, change: &IdleLimitChange) {
        self.0.idle_limit_changed(change);
        self.1.idle_limit_changed(change);
    }
}

/// The connection an event is about: its number within its manager and its route.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ConnectionRef<'a> {
    /// The connection's number ([`ConnectionInfo::connection_id`]).
    pub id: u64,
    /// The route it was opened for.
    pub route: &'a Route,
}

impl<'a> ConnectionRef<'a> {
    /// A reference to connection `id` of `route`.
    pub fn new(id: u64, route: &'a Route) -> Self {
        ConnectionRef { id, route }
    }
}

impl fmt::Display for ConnectionRef<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "connection {} to {}", self.id, self.route)
    }
}

/// A final response head, as [`EventListener::response_head_read`] sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct ResponseHeadRef<'a> {
    /// The status.
    pub status: StatusCode,
    /// The HTTP version of the status line.
    pub version: Version,
    /// The header fields.
    pub headers: &'a HeaderMap,
}

impl<'a> ResponseHeadRef<'a> {
    /// A head of `status`, `version` and `headers` (for listeners' tests).
    pub fn new(status: StatusCode, version: Version, headers: &'a HeaderMap) -> Self {
        ResponseHeadRef {
            status,
            version,
            headers,
        }
    }
}

/// A connection just made, as [`EventListener::connect_end`] sees it.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Connected {
    /// The connection's number.
    pub connection_id: u64,
    /// The address connected to (the proxy's, through a proxy).
    pub peer: Option<SocketAddr>,
    /// The local address.
    pub local: Option<SocketAddr>,
    /// The time each step took.
    pub timings: ConnectTimings,
    /// The TLS session, for an `https` route.
    pub tls: Option<TlsSession>,
}

/// How long the steps of making a connection took.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectTimings {
    /// Resolving the name and connecting the TCP socket (Happy Eyeballs included);
    /// both connects when a proxy closed on its `407`.
    pub tcp: Duration,
    /// The `CONNECT` exchange with the proxy, for a tunnelled route; both exchanges
    /// when the proxy closed on its `407` and the answer went on a new connection.
    pub tunnel: Option<Duration>,
    /// The TLS handshake, for an `https` route.
    pub tls: Option<Duration>,
}

impl ConnectTimings {
    /// All steps together.
    pub fn total(&self) -> Duration {
        self.tcp + self.tunnel.unwrap_or_default() + self.tls.unwrap_or_default()
    }
}

/// What a TLS handshake negotiated.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsSession {
    /// The protocol version, as rustls names it (`TLSv1_3`).
    pub version: String,
    /// The cipher suite, as rustls names it (`TLS13_AES_256_GCM_SHA384`).
    pub cipher_suite: String,
    /// Whether the session was resumed (no certificate exchanged).
    pub resumed: bool,
    /// The protocol ALPN settled on (`http/1.1`), if any.
    pub alpn: Option<String>,
}

/// Why the RETRY layer sends a request again.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub enum RetryCause<'a> {
    /// The attempt failed with this error.
    Error(&'a Error),
    /// The attempt got this response status (503 or 429 with `Retry-After`, say).
    Status(StatusCode),
}

/// A retry, as [`EventListener::retry`] sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RetryEvent<'a> {
    /// The method of the request.
    pub method: &'a Method,
    /// The URI of the request.
    pub uri: &'a Uri,
    /// The attempt that failed, from 1.
    pub attempt: u32,
    /// What went wrong.
    pub cause: RetryCause<'a>,
    /// How long the layer waits before the next attempt.
    pub delay: Duration,
}

impl<'a> RetryEvent<'a> {
    /// The retry of attempt `attempt` of `method uri`, for `cause`, after `delay`.
    pub fn new(
        method: &'a Method,
        uri: &'a Uri,
        attempt: u32,
        cause: RetryCause<'a>,
        delay: Duration,
    ) -> Self {
        RetryEvent {
            method,
            uri,
            attempt,
            cause,
            delay,
        }
    }
}

/// A redirect followed, as [`EventListener::redirect`] sees it.
#[derive(Debug, Clone, Copy)]
#[non_exhaustive]
pub struct RedirectEvent<'a> {
    /// The URI that answered with a redirect.
    pub from: &'a Uri,
    /// Where the next request goes.
    pub to: &'a Uri,
    /// The redirect status.
    pub status: StatusCode,
    /// The method of the next request (a 303, or a 301/302 to a POST, makes it GET).
    pub method: &'a Method,
}

impl<'a> RedirectEvent<'a> {
    /// A `status` redirect from `from` to `to`, the next request's method `method`.
    pub fn new(from: &'a Uri, to: &'a Uri, status: StatusCode, method: &'a Method) -> Self {
        RedirectEvent {
            from,
            to,
            status,
            method,
        }
    }
}

/// The events of one connection manager: its listener, if any, and `tracing`.
/// Every point that reports something calls one of these methods; the chain layers
/// reach it through `PoolingConnectionManager::events`.
#[derive(Clone, Default)]
pub struct Events {
    listener: Option<Arc<dyn EventListener>>,
}

/// Whether a field named `name` (any case) carries a secret: credentials and cookies
/// (`Authorization`, `Proxy-Authorization`, `Cookie`, `Set-Cookie`). Their values are
/// what `hcx::headers`, the `hcx` tool's `-v` and `Debug` output do not show.
pub fn is_secret_field(name: &[u8]) -> bool {
    [
        &b"authorization"[..],
        b"proxy-authorization",
        b"cookie",
        b"set-cookie",
    ]
    .iter()
    .any(|secret| name.eq_ignore_ascii_case(secret))
}

/// The fields a request head was written from, for `hcx::headers` to tell which
/// values the request marked sensitive (`HeaderValue::set_sensitive`): looked at only
/// when that log is on.
#[derive(Clone, Copy)]
#[cfg_attr(not(feature = "tracing"), allow(dead_code))]
pub(crate) struct SentFields<'a> {
    pub(crate) headers: &'a HeaderMap,
    pub(crate) defaults: &'a [(HeaderName, HeaderValue)],
}

#[cfg(feature = "tracing")]
impl SentFields<'_> {
    /// Whether a field named `name` (any case) went out with a value marked sensitive.
    fn marks_sensitive(&self, name: &str) -> bool {
        let defaults = self.defaults.iter().map(|(name, value)| (name, value));
        self.headers
            .iter()
            .chain(defaults)
            .any(|(field, value)| value.is_sensitive() && field.as_str().eq_ignore_ascii_case(name))
    }
}

/// A request head as text for `hcx::headers`, the values of credentials and cookies
/// replaced by `<redacted>`, and those of the fields the request marked sensitive.
#[cfg(feature = "tracing")]
fn redacted_head(head: &[u8], fields: SentFields<'_>) -> String {
    let text = String::from_utf8_lossy(head);
    let mut out = String::with_capacity(text.len());
    let hidden = |name: &str| is_secret_field(name.as_bytes()) || fields.marks_sensitive(name);
    for line in text.trim_end().split("\r\n") {
        if !out.is_empty() {
            out.push_str("\r\n");
        }
        match line.split_once(':') {
            Some((name, _)) if hidden(name.trim()) => {
                out.push_str(name);
                out.push_str(": <redacted>");
            }
            _ => out.push_str(line),
        }
    }
    out
}

/// Response fields for `hcx::headers`, as `HeaderMap`'s `Debug` prints them, the
/// values of credentials and cookies (and any marked sensitive) replaced by
/// `<redacted>`.
#[cfg(feature = "tracing")]
struct RedactedFields<'a>(&'a http::HeaderMap);

#[cfg(feature = "tracing")]
impl fmt::Debug for RedactedFields<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut map = f.debug_map();
        for (name, value) in self.0 {
            if is_secret_field(name.as_str().as_bytes()) || value.is_sensitive() {
                map.entry(name, &"<redacted>");
            } else {
                map.entry(name, value);
            }
        }
        map.finish()
    }
}

/// A `tracing` event under one of hcx's targets, when the feature is on.
macro_rules! trace_event {
    ($level:ident, $target:literal, $($rest:tt)*) => {
        #[cfg(feature = "tracing")]
        tracing::$level!(target: $target, $($rest)*);
    };
}

impl Events {
    pub(crate) fn new(listener: Option<Arc<dyn EventListener>>) -> Self {
        Events { listener }
    }

    /// The listener, if one is registered.
    pub fn listener(&self) -> Option<&Arc<dyn EventListener>> {
        self.listener.as_ref()
    }

    /// Whether anyone wants request heads: a listener, or a `tracing` subscriber of
    /// `hcx::headers` at DEBUG. The engine copies the head only then.
    #[inline]
    pub(crate) fn wants_request_head(&self) -> bool {
        #[cfg(feature = "tracing")]
        if tracing::enabled!(target: "hcx::headers", tracing::Level::DEBUG) {
            return true;
        }
        self.listener.is_some()
    }

    /// [`response_head_read`](Self::response_head_read) then
    /// [`reuse_decided`](Self::reuse_decided) for the final head read on `conn`: one
    /// check for anyone listening on the hot path, the reports out of line.
    #[inline]
    pub(crate) fn head_read_and_decided(
        &self,
        conn: &crate::connection::Connection,
        head: &hcx_h1::ResponseHead,
        decision: Decision,
    ) {
        // Both events are at DEBUG: below that level no callsite of theirs can fire,
        // and the level is one load, cheaper than two callsites' interest checks.
        #[cfg(feature = "tracing")]
        let traced = tracing::level_enabled!(tracing::Level::DEBUG);
        #[cfg(not(feature = "tracing"))]
        let traced = false;
        if traced || self.listener.is_some() {
            self.report_head_and_decision(conn, head, decision);
        }
    }

    #[inline(never)]
    fn report_head_and_decision(
        &self,
        conn: &crate::connection::Connection,
        head: &hcx_h1::ResponseHead,
        decision: Decision,
    ) {
        let conn_ref = ConnectionRef::new(conn.id(), conn.route());
        self.response_head_read(
            &conn_ref,
            &ResponseHeadRef {
                status: head.status,
                version: head.version,
                headers: &head.headers,
            },
        );
        self.reuse_decided(&conn_ref, decision);
    }

    #[inline]
    pub(crate) fn lease_requested(&self, route: &Route) {
        trace_event!(trace, "hcx::conn", %route, "lease requested");
        if let Some(l) = &self.listener {
            l.lease_requested(route);
        }
    }

    #[inline]
    pub(crate) fn leased(&self, route: &Route, info: &ConnectionInfo) {
        trace_event!(
            debug,
            "hcx::conn",
            %route,
            connection = info.connection_id,
            reused = info.reused,
            idle = ?info.idle_for,
            probed = info.probed,
            stale_closed = info.stale_discarded,
            waited = ?info.lease_waited,
            "leased"
        );
        if let Some(l) = &self.listener {
            l.leased(route, info);
        }
    }

    #[cold]
    pub(crate) fn lease_failed(&self, route: &Route, error: &Error) {
        trace_event!(debug, "hcx::conn", %route, %error, "lease failed");
        if let Some(l) = &self.listener {
            l.lease_failed(route, error);
        }
    }

    pub(crate) fn connect_start(&self, route: &Route) {
        trace_event!(debug, "hcx::conn", %route, "connecting");
        if let Some(l) = &self.listener {
            l.connect_start(route);
        }
    }

    pub(crate) fn connect_end(&self, route: &Route, result: Result<&Connected, &Error>) {
        #[cfg(feature = "tracing")]
        match result {
            Ok(c) => tracing::debug!(
                target: "hcx::conn",
                %route,
                connection = c.connection_id,
                peer = ?c.peer,
                took = ?c.timings.total(),
                tls = ?c.tls,
                "connected"
            ),
            Err(e) => tracing::debug!(target: "hcx::conn", %route, error = %e, "connect failed"),
        }
        if let Some(l) = &self.listener {
            l.connect_end(route, result);
        }
    }

    /// `fields`: what the head was written from; `hcx::headers` hides the values the
    /// request marked sensitive, as credentials are (a listener gets the bytes as sent).
    #[inline]
    pub(crate) fn request_head_written(
        &self,
        conn: &ConnectionRef<'_>,
        head: &[u8],
        #[cfg_attr(not(feature = "tracing"), allow(unused_variables))] fields: SentFields<'_>,
    ) {
        trace_event!(
            debug,
            "hcx::headers",
            connection = conn.id,
            head = %redacted_head(head, fields),
            ">> request head"
        );
        if let Some(l) = &self.listener {
            l.request_head_written(conn, head);
        }
    }

    #[inline]
    pub(crate) fn response_head_read(&self, conn: &ConnectionRef<'_>, head: &ResponseHeadRef<'_>) {
        trace_event!(
            debug,
            "hcx::headers",
            connection = conn.id,
            status = head.status.as_u16(),
            version = ?head.version,
            headers = ?RedactedFields(head.headers),
            "<< response head"
        );
        if let Some(l) = &self.listener {
            l.response_head_read(conn, head);
        }
    }

    #[inline]
    pub(crate) fn reuse_decided(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        trace_event!(debug, "hcx::conn", connection = conn.id, %decision, "reuse decided");
        if let Some(l) = &self.listener {
            l.reuse_decided(conn, decision);
        }
    }

    #[inline]
    pub(crate) fn body_done(&self, conn: &ConnectionRef<'_>, bytes: u64) {
        trace_event!(trace, "hcx::conn", connection = conn.id, bytes, "body done");
        if let Some(l) = &self.listener {
            l.body_done(conn, bytes);
        }
    }

    #[inline]
    pub(crate) fn released(&self, conn: &ConnectionRef<'_>, decision: Decision) {
        trace_event!(debug, "hcx::conn", connection = conn.id, %decision, "released");
        if let Some(l) = &self.listener {
            l.released(conn, decision);
        }
    }

    pub(crate) fn closed(&self, conn: &ConnectionRef<'_>, reason: CloseReason) {
        trace_event!(
            debug,
            "hcx::conn",
            connection = conn.id,
            route = %conn.route,
            reason = reason.name(),
            "closed: {}",
            reason.explain()
        );
        if let Some(l) = &self.listener {
            l.closed(conn, reason);
        }
    }

    /// Reports a retry (the RETRY layer calls this).
    pub fn retry(&self, event: &RetryEvent<'_>) {
        trace_event!(
            debug,
            "hcx::exec",
            method = %event.method,
            uri = %event.uri,
            attempt = event.attempt,
            cause = ?event.cause,
            delay = ?event.delay,
            "retrying"
        );
        if let Some(l) = &self.listener {
            l.retry(event);
        }
    }

    /// Reports a redirect followed (the REDIRECT layer calls this).
    pub fn redirect(&self, event: &RedirectEvent<'_>) {
        trace_event!(
            debug,
            "hcx::exec",
            from = %event.from,
            to = %event.to,
            status = event.status.as_u16(),
            method = %event.method,
            "following redirect"
        );
        if let Some(l) = &self.listener {
            l.redirect(event);
        }
    }
}

impl Events {
    /// Reports a change of a learned idle limit (the engine calls this).
    pub(crate) fn idle_limit_changed(&self, change: &IdleLimitChange) {
        trace_event!(info, "hcx::conn", %change, "idle limit changed");
        if let Some(l) = &self.listener {
            l.idle_limit_changed(change);
        }
    }
}

impl fmt::Debug for Events {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Events")
            .field("listener", &self.listener.is_some())
            .field("tracing", &cfg!(feature = "tracing"))
            .finish()
    }
}
