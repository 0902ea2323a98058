//! One HTTP/1.1 connection: a transport, its read buffer, and the stale probe.

use std::cell::RefCell;
use std::fmt;
use std::io::{self, Read, Write};
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hcx_close::CloseReason;

use crate::abort::AbortHandle;
use crate::config::SocketConfig;
use crate::error::Error;
use crate::events::{ConnectTimings, TlsSession};
use crate::live::{LiveEntry, LiveSockets};
use crate::proxy_auth::ProxyAuthenticator;
use crate::resolver::Resolver;
use crate::route::{Route, Scheme};
use crate::transport::{Leftover, SharedTcp, Transport, Written};
use crate::tunnel::Opened;
use hcx_h1::Limits;

/// How much a single read asks the transport for.
const READ_CHUNK: usize = 8 * 1024;

thread_local! {
    /// Where a read lands before its bytes are appended to a connection's buffer: one
    /// per thread, zeroed once, so that no read pays for zeroing memory and an idle
    /// connection holds no more than its buffer. (`BytesMut` exposes only initialised
    /// bytes without `unsafe`, and the codec's input is a `BytesMut`: resizing the
    /// buffer before each read zeroed a whole read's worth every time. Copying the few
    /// bytes a read brings costs far less.)
    static SCRATCH: RefCell<Box<[u8]>> = RefCell::new(vec![0; READ_CHUNK].into_boxed_slice());
}

/// A connection's transport: a plain TCP socket as itself, any other boxed. Held
/// inline, the socket costs no allocation per connection, and reads and writes on it
/// are direct calls.
enum Wire {
    Tcp(SharedTcp),
    Other(Box<dyn Transport>),
}

impl Wire {
    fn as_dyn(&self) -> &dyn Transport {
        match self {
            Wire::Tcp(tcp) => tcp,
            Wire::Other(other) => &**other,
        }
    }

    fn as_dyn_mut(&mut self) -> &mut dyn Transport {
        match self {
            Wire::Tcp(tcp) => tcp,
            Wire::Other(other) => &mut **other,
        }
    }

    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Wire::Tcp(tcp) => tcp.read(buf),
            Wire::Other(other) => other.read(buf),
        }
    }

    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Wire::Tcp(tcp) => tcp.write(buf),
            Wire::Other(other) => other.write(buf),
        }
    }
}

/// A client connection to one route: it owns the [`Transport`] and the read buffer the
/// codec parses from. Apache HttpClient calls this a `ManagedHttpClientConnection`.
///
/// Bytes read past the end of one response stay in the buffer; a connection whose
/// buffer is not empty between exchanges is stale (the server sent something nobody
/// asked for).
pub struct Connection {
    id: u64,
    route: Route,
    transport: Wire,
    peer: Option<SocketAddr>,
    /// Bytes received and not consumed yet, which the codec parses from and splits the
    /// heads and body data off (they share its memory).
    buf: BytesMut,
    /// The transport's current read and write timeout, so that setting the same value
    /// again costs no system call.
    timeout: Option<Duration>,
    /// Bytes written over the connection's life: an exchange compares it before and
    /// after to know whether any request byte went out.
    written: u64,
    /// How long making it took, step by step.
    timings: ConnectTimings,
    /// Whether the last read filled its whole buffer: more may be waiting behind it.
    filled: bool,
    /// Its socket in its manager's list of live connections (while it lives).
    live: Option<LiveEntry>,
}

impl Connection {
    /// Opens a connection for `route` within `timeout`, with the socket options of
    /// `socket`: a TCP connection to the origin or to the route's proxy (every resolved
    /// address, raced as RFC 8305 "Happy Eyeballs" says), a `CONNECT` tunnel through the proxy for an `https` route, then
    /// the TLS handshake for an `https` route. The whole takes at most `timeout`.
    pub fn connect(
        id: u64,
        route: &Route,
        resolver: &dyn Resolver,
        timeout: Duration,
        socket: &SocketConfig,
    ) -> Result<Connection, Error> {
        Connection::connect_abortable(
            id,
            route,
            resolver,
            None,
            timeout,
            socket,
            None,
            None,
            Tunnelling::default(),
        )
    }

    /// [`connect`](Self::connect), with every attempt's socket given to `abort`, which
    /// ends the connect, the tunnel or the handshake under way when it aborts. With
    /// `abort` and `shared` (the same resolver, shareable with a thread), a name lookup
    /// runs on a thread of its own, so that the abort, `shutdown_immediate` or the
    /// connect timeout ends its wait.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn connect_abortable(
        id: u64,
        route: &Route,
        resolver: &dyn Resolver,
        shared: Option<&Arc<dyn Resolver>>,
        timeout: Duration,
        socket: &SocketConfig,
        abort: Option<&AbortHandle>,
        live: Option<&Arc<LiveSockets>>,
        tunnelling: Tunnelling<'_>,
    ) -> Result<Connection, Error> {
        let start = Instant::now();
        let deadline = start.checked_add(timeout);
        let (host, port) = match &route.proxy {
            Some(proxy) => (proxy.host(), proxy.port()),
            None => (route.host.as_str(), route.port),
        };
        // `shutdown_immediate` ends the connect too: every attempt's socket goes to a
        // handle the manager holds until the connect ends (the request's abort handle,
        // or one of its own).
        let own;
        let (watch, _pending) = match live {
            Some(live) => {
                let handle = match abort {
                    Some(abort) => abort,
                    None => {
                        own = AbortHandle::new();
                        &own
                    }
                };
                let entry = live
                    .enter(handle)
                    .ok_or_else(|| shut_down_while_connecting(route))?;
                (Some(handle), Some(entry))
            }
            None => (abort, None),
        };
        // An error of the lookup or the connect: after a shutdown, what the shut-down
        // socket made of it is not the cause; through a proxy, the host and port in it
        // are the proxy's, and the message says so.
        let connect_error = |e: Error| match live {
            Some(live) if live.is_closed() => shut_down_while_connecting(route),
            _ if route.proxy.is_some() => e.in_context("the proxy"),
            _ => e,
        };
        // The lookup on a thread of its own when the request can be aborted (not for
        // an IP literal): answered here, then replayed to the connect.
        let looked_up;
        let resolver: &dyn Resolver = match (abort, shared) {
            (Some(abort), Some(shared)) if host.parse::<std::net::IpAddr>().is_err() => {
                let answer = crate::resolver::resolve_watched(shared, host, port, abort, deadline)
                    .map_err(|cut| connect_error(lookup_cut(cut, host, timeout)))?;
                looked_up = Replay(std::sync::Mutex::new(Some(answer)));
                &looked_up
            }
            _ => resolver,
        };
        // A proxy's `407` to a `CONNECT` is answered on the same connection when the
        // proxy keeps it, else on a new one: the connect starts again, the answer
        // carried over.
        let mut asking = crate::tunnel::Asking {
            auth: tunnelling.auth,
            limits: tunnelling.limits,
            carried: None,
            answers: 0,
        };
        // The `CONNECT` exchanges of connections a proxy closed on its `407`: tunnel
        // time, not TCP time.
        let mut refused_tunnels = Duration::ZERO;
        let (stream, entry, timings) = loop {
            // Each connect has what is left of the timeout: after the name lookup of a
            // request with an abort handle, after a 407 on a first connection.
            let stream = crate::connect::connect_tcp(
                host,
                port,
                resolver,
                timeout,
                deadline,
                socket,
                route.local_address,
                watch,
            )
            .map_err(connect_error)?;
            let mut timings = ConnectTimings {
                tcp: start.elapsed().saturating_sub(refused_tunnels),
                ..ConnectTimings::default()
            };
            // Shared with the manager's list of live connections, which
            // `shutdown_immediate` shuts down (the tunnel and the TLS handshake too,
            // from here on), and with an abort.
            let stream = Arc::new(stream);
            let entry = match live {
                Some(live) => Some(
                    live.register(id, &stream)
                        .ok_or_else(|| shut_down_while_connecting(route))?,
                ),
                None => None,
            };
            if !route.is_tunnelled() {
                break (stream, entry, timings);
            }
            let began = Instant::now();
            match crate::tunnel::open(stream, route, deadline, timeout, &mut asking)? {
                Opened::Tunnel(stream) => {
                    timings.tunnel = Some(refused_tunnels + began.elapsed());
                    break (stream, entry, timings);
                }
                // The refused connection goes (its entry with it); a new one asks.
                Opened::Reconnect(answer) => {
                    refused_tunnels += began.elapsed();
                    // The abort handle's second descriptor on it closes too.
                    if let Some(watch) = watch {
                        watch.forget_connecting();
                    }
                    asking.carried = Some(answer);
                }
            }
        };
        #[cfg(feature = "rustls")]
        let (began, mut timings) = (Instant::now(), timings);
        let transport = match route.scheme {
            Scheme::Http => Wire::Tcp(SharedTcp(stream)),
            #[cfg(feature = "rustls")]
            Scheme::Https => {
                let identity = route
                    .tls
                    .clone()
                    .unwrap_or_else(crate::tls::TlsIdentity::webpki_roots);
                Wire::Other(Box::new(crate::tls::handshake(
                    &identity,
                    &route.host,
                    route.port,
                    stream,
                    deadline,
                    timeout,
                )?))
            }
            #[cfg(not(feature = "rustls"))]
            Scheme::Https => {
                return Err(Error::new(
                    crate::error::ErrorKind::InvalidUrl,
                    format!("cannot connect to {route}: https needs hcx's `rustls` feature"),
                ));
            }
        };
        if route.scheme == Scheme::Https {
            #[cfg(feature = "rustls")]
            {
                timings.tls = Some(began.elapsed());
            }
        }
        let mut conn = Connection::over(id, route.clone(), transport);
        conn.timings = timings;
        conn.live = entry;
        Ok(conn)
    }

    /// A connection over a transport opened some other way (a TLS stream, a proxy
    /// tunnel, a test double).
    pub fn from_transport(id: u64, route: Route, transport: Box<dyn Transport>) -> Connection {
        Connection::over(id, route, Wire::Other(transport))
    }

    fn over(id: u64, route: Route, transport: Wire) -> Connection {
        Connection {
            id,
            route,
            peer: transport.as_dyn().peer_addr(),
            transport,
            buf: BytesMut::with_capacity(READ_CHUNK),
            timeout: None,
            written: 0,
            timings: ConnectTimings::default(),
            filled: false,
            live: None,
        }
    }

    /// How long making the connection took, step by step (zero for a connection made
    /// with [`from_transport`](Self::from_transport)).
    pub fn connect_timings(&self) -> ConnectTimings {
        self.timings
    }

    /// What the TLS handshake negotiated, for a TLS connection.
    pub fn tls_session(&self) -> Option<TlsSession> {
        self.transport.as_dyn().tls_session()
    }

    /// A second handle on the socket, for an abort (see [`Transport::abort_socket`]).
    pub(crate) fn abort_socket(&self) -> Option<crate::transport::SocketHandle> {
        self.transport.as_dyn().abort_socket()
    }

    /// A number unique to this connection within its manager, for logs and
    /// [`ConnectionInfo`](crate::ConnectionInfo).
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The route it was opened for.
    pub fn route(&self) -> &Route {
        &self.route
    }

    /// The address it is connected to, if the transport knows it.
    pub fn peer_addr(&self) -> Option<SocketAddr> {
        self.peer
    }

    /// The local address, if the transport knows it.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.transport.as_dyn().local_addr()
    }

    /// Whether the connection is unusable: bytes are waiting that no request asked
    /// for (in the buffer or the transport), or the server has closed or reset it.
    /// Never blocks.
    pub fn is_stale(&mut self) -> bool {
        !self.buf.is_empty() || self.incoming()
    }

    /// Whether the transport has something to read now (bytes, an end of stream or
    /// an error: [`Transport::is_stale`], without blocking): on an idle connection
    /// the stale probe, while a request body goes out the look for an early answer.
    pub(crate) fn incoming(&mut self) -> bool {
        self.transport.as_dyn_mut().is_stale()
    }

    /// Sets the transport's read and write timeout (`None`: block forever); no system
    /// call when it is already set so.
    pub(crate) fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeout means "none" to the OS; the smallest real one is meant.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if self.timeout != timeout {
            self.transport.as_dyn_mut().set_timeout(timeout)?;
            self.timeout = timeout;
        }
        Ok(())
    }

    /// The timeout in force.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// An I/O error of this connection's exchange while it was doing `what` (a
    /// timeout says how long it waited), naming the connection and its route: which
    /// server did not answer, in the log of a backend that talks to many.
    pub(crate) fn exchange_error(&self, e: io::Error, what: &str) -> Error {
        Error::exchange_io(e, what, self.timeout)
            .in_context(&format!("connection {} to {}", self.id, self.route))
    }

    /// Whether the transport's end of stream was not confirmed by the peer (TLS
    /// without `close_notify`): see [`Transport::end_unconfirmed`].
    pub(crate) fn end_unconfirmed(&self) -> bool {
        self.transport.as_dyn().end_unconfirmed()
    }

    /// Reads once from the transport into the buffer; `Ok(0)` is end of stream.
    pub(crate) fn fill(&mut self) -> io::Result<usize> {
        SCRATCH.with(|cell| match cell.try_borrow_mut() {
            Ok(mut scratch) => self.fill_via(&mut scratch),
            // A transport of the user's that reads another connection on this thread
            // (the scratch is in use further up the stack): a scratch of its own.
            Err(_) => self.fill_via(&mut vec![0; READ_CHUNK]),
        })
    }

    fn fill_via(&mut self, scratch: &mut [u8]) -> io::Result<usize> {
        let n = loop {
            match self.transport.read(scratch) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other?,
            }
        };
        self.filled = n == scratch.len();
        let read = &scratch[..n];
        self.buf.extend_from_slice(read);
        wire(self.id, "<<", read);
        Ok(n)
    }

    /// Reads once from the transport straight into `out` (the read buffer must be
    /// empty, or its bytes would be overtaken); `Ok(0)` is end of stream.
    pub(crate) fn read_direct(&mut self, out: &mut [u8]) -> io::Result<usize> {
        debug_assert!(self.buf.is_empty());
        loop {
            match self.transport.read(out) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Ok(n) => {
                    self.filled = n == out.len();
                    wire(self.id, "<<", &out[..n]);
                    return Ok(n);
                }
                other => return other,
            }
        }
    }

    /// Writes all of `bytes`, counting what went out; given none, pushes out what the
    /// transport still holds of earlier writes (a TLS transport's records).
    // Inlined into the engine's one plain write: out of line, a GET's head write
    // cost some 15 instructions more (callgrind).
    #[inline]
    pub(crate) fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        if bytes.is_empty() {
            return self.flush();
        }
        while !bytes.is_empty() {
            match self.transport.write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n as u64;
                    wire(self.id, ">>", &bytes[..n]);
                    bytes = &bytes[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Writes some of `bytes`, unless the peer sends something first while the
    /// transport has no room ([`Transport::write_or_incoming`], within the
    /// connection's timeout), counting what went out.
    pub(crate) fn write_or_incoming(&mut self, bytes: &[u8]) -> io::Result<Written> {
        let written = match &mut self.transport {
            Wire::Tcp(tcp) => tcp.write_or_incoming(bytes, self.timeout),
            Wire::Other(other) => other.write_or_incoming(bytes, self.timeout),
        }?;
        if let Written::Bytes(n) = written {
            // A transport of the user's that claims more than it was given is not
            // believed (nor a reason to panic).
            let out = bytes.get(..n).ok_or_else(|| {
                io::Error::new(
                    io::ErrorKind::InvalidData,
                    format!("the transport claimed {n} bytes written of {}", bytes.len()),
                )
            })?;
            self.written += n as u64;
            wire(self.id, ">>", out);
        }
        Ok(written)
    }

    /// Pushes out what the transport holds of earlier writes (a TLS transport's
    /// records not yet on the socket).
    fn flush(&mut self) -> io::Result<()> {
        match &mut self.transport {
            Wire::Tcp(_) => Ok(()),
            Wire::Other(other) => other.flush(),
        }
    }

    /// Bytes written over the connection's life.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Whether bytes were received and not consumed yet, in this connection's buffer.
    pub(crate) fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// Why the connection must not be pooled after the response just read, if it
    /// must not: bytes came after it (in the buffer, or in the transport: TLS
    /// plaintext, or bytes still in the socket behind a read that filled its buffer,
    /// found by one non-blocking peek only then) are
    /// [`TrailingBytes`](CloseReason::TrailingBytes), as they would be read as the
    /// next response; the peer's word that it closes is [`Stale`](CloseReason::Stale).
    pub(crate) fn leftover(&mut self) -> Option<CloseReason> {
        if !self.buf.is_empty() {
            return Some(CloseReason::TrailingBytes);
        }
        match self.transport.as_dyn_mut().leftover(self.filled) {
            Leftover::Nothing => None,
            Leftover::Bytes => Some(CloseReason::TrailingBytes),
            Leftover::Closed => Some(CloseReason::Stale),
        }
    }

    /// The read buffer: bytes received and not consumed yet.
    pub(crate) fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }
}

/// How a connect through a proxy asks for its tunnel: who answers a `407`, and the
/// limits on the proxy's response head.
#[derive(Clone, Copy, Default)]
pub(crate) struct Tunnelling<'a> {
    pub(crate) auth: Option<&'a dyn ProxyAuthenticator>,
    pub(crate) limits: Limits,
}

/// A name lookup's answer, given to the connect that asked for it (its addresses
/// again to a second connect, after a proxy closed on its `407`).
struct Replay(std::sync::Mutex<Option<io::Result<Vec<SocketAddr>>>>);

impl Resolver for Replay {
    fn resolve(&self, _host: &str, _port: u16) -> io::Result<Vec<SocketAddr>> {
        let mut answer = self
            .0
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        match answer.as_ref() {
            // Addresses again for a second connect (a proxy that closed on its 407).
            Some(Ok(addrs)) => Ok(addrs.clone()),
            _ => answer
                .take()
                .unwrap_or_else(|| Err(io::Error::other("the lookup's answer was used already"))),
        }
    }
}

/// The error of a lookup whose wait was cut: an abort or a shutdown (which the runtime
/// says as such), or the connect timeout.
fn lookup_cut(cut: crate::resolver::LookupCut, host: &str, timeout: Duration) -> Error {
    match cut {
        crate::resolver::LookupCut::Interrupted => Error::new(
            crate::error::ErrorKind::Io,
            format!("the name lookup of {host} was interrupted"),
        ),
        crate::resolver::LookupCut::TimedOut => Error::new(
            crate::error::ErrorKind::ConnectTimeout,
            format!(
                "the name lookup of {host} took longer than the connect timeout of {timeout:?}"
            ),
        ),
    }
}

/// The error of a connect `shutdown_immediate` came before or during.
fn shut_down_while_connecting(route: &Route) -> Error {
    Error::new(
        crate::error::ErrorKind::Shutdown,
        format!("the connection manager was shut down while connecting to {route}"),
    )
}

/// The bytes of one read or write, escaped, as a TRACE event of `hcx::wire` (Apache's
/// `org.apache.hc.client5.http.wire`): nothing unless a subscriber enabled it. The
/// bytes are shown as they are, credentials and cookies included (docs/configuration.md
/// says so); `hcx::headers` is the redacted view.
#[inline]
#[cfg_attr(not(feature = "tracing"), allow(unused_variables))]
fn wire(id: u64, direction: &str, bytes: &[u8]) {
    #[cfg(feature = "tracing")]
    if !bytes.is_empty() {
        tracing::trace!(
            target: "hcx::wire",
            connection = id,
            "{direction} {}",
            bytes.escape_ascii()
        );
    }
}

impl fmt::Debug for Connection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Connection")
            .field("id", &self.id)
            .field("route", &self.route)
            .field("peer", &self.peer)
            .field("buffered", &self.buf.len())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::net::{TcpListener, TcpStream};

    /// A connection, the server's end, and a second handle on the client's socket to
    /// wait on without consuming.
    fn pair() -> io::Result<(Connection, TcpStream, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let watch = client.try_clone()?;
        let route = Route::http("127.0.0.1", listener.local_addr()?.port());
        let conn = Connection::from_transport(1, route, Box::new(client));
        let (server, _) = listener.accept()?;
        Ok((conn, server, watch))
    }

    /// A `TcpStream` given as the transport writes as hcx's own TCP does: a write the
    /// full socket blocks wakes for the server's answer, instead of waiting out the
    /// timeout (the server here answered first and reads nothing).
    #[test]
    fn a_tcp_stream_transport_wakes_a_full_write_for_an_answer() -> io::Result<()> {
        let (mut conn, mut server, watch) = pair()?;
        conn.set_timeout(Some(Duration::from_secs(2)))?;
        server.write_all(b"HTTP/1.1 413 Content Too Large\r\n\r\n")?;
        watch.set_read_timeout(Some(Duration::from_secs(10)))?;
        assert_eq!(watch.peek(&mut [0u8; 1])?, 1, "the answer is in");
        let body = vec![b'x'; 1 << 20];
        let mut writes = 0;
        while conn.write_or_incoming(&body)? != Written::Incoming {
            writes += 1;
            assert!(writes < 100, "the answer never woke the write");
        }
        Ok(())
    }

    #[test]
    fn an_open_quiet_connection_is_fresh() -> io::Result<()> {
        let (mut conn, _server, _) = pair()?;
        assert!(!conn.is_stale());
        assert!(conn.peer_addr().is_some() && conn.local_addr().is_some());
        Ok(())
    }

    #[test]
    fn a_connection_the_server_closed_is_stale() -> io::Result<()> {
        let (mut conn, server, _) = pair()?;
        drop(server);
        // Block until the FIN is here (a read returns EOF), so the probe cannot race it.
        assert_eq!(conn.fill()?, 0);
        assert!(conn.is_stale());
        Ok(())
    }

    #[test]
    fn stray_bytes_make_a_connection_stale() -> io::Result<()> {
        let (mut conn, mut server, watch) = pair()?;
        server.write_all(b"HTTP/1.1 200 OK\r\n")?;
        let mut peeked = [0u8; 1];
        // Wait (blocking) until the bytes arrived, then probe without consuming them.
        watch.peek(&mut peeked)?;
        assert!(conn.is_stale());
        conn.fill()?;
        assert!(conn.is_stale(), "buffered bytes are stale too");
        Ok(())
    }

    #[test]
    fn writes_are_counted() -> io::Result<()> {
        let (mut conn, _server, _) = pair()?;
        assert_eq!(conn.written(), 0);
        conn.write_all(b"GET / HTTP/1.1\r\n\r\n")?;
        assert_eq!(conn.written(), 18);
        Ok(())
    }

    /// A transport that reads by filling another connection on the same thread, as a
    /// user's transport over an hcx response could.
    #[derive(Debug)]
    struct Nested(Connection);

    impl io::Read for Nested {
        fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
            if self.0.buf.is_empty() && self.0.fill()? == 0 {
                return Ok(0);
            }
            let n = out.len().min(self.0.buf.len());
            out[..n].copy_from_slice(&self.0.buf.split_to(n));
            Ok(n)
        }
    }

    impl io::Write for Nested {
        fn write(&mut self, bytes: &[u8]) -> io::Result<usize> {
            self.0.transport.write(bytes)
        }
        fn flush(&mut self) -> io::Result<()> {
            self.0.transport.as_dyn_mut().flush()
        }
    }

    impl Transport for Nested {
        fn is_stale(&mut self) -> bool {
            self.0.is_stale()
        }
        fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
            self.0.transport.as_dyn_mut().set_timeout(timeout)
        }
        fn peer_addr(&self) -> Option<SocketAddr> {
            None
        }
        fn local_addr(&self) -> Option<SocketAddr> {
            None
        }
    }

    #[test]
    fn a_transport_that_reads_another_connection_gets_its_bytes() -> io::Result<()> {
        let (inner, mut server, _) = pair()?;
        let route = Route::http("127.0.0.1", 1);
        let mut outer = Connection::from_transport(2, route, Box::new(Nested(inner)));
        server.write_all(b"HTTP/1.1 200 OK\r\n")?;
        let mut got = Vec::new();
        while got.len() < 17 {
            let before = outer.buf.len();
            assert!(outer.fill()? > 0);
            got.extend_from_slice(&outer.buf[before..]);
        }
        assert_eq!(got, b"HTTP/1.1 200 OK\r\n");
        drop(server);
        assert_eq!(outer.fill()?, 0);
        Ok(())
    }
}
