//! One HTTP/1.1 connection: a transport, its read buffer, and the stale probe.

use std::fmt;
use std::io;
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;
use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::config::SocketConfig;
use crate::error::{Error, ErrorKind, is_timeout};
use crate::resolver::Resolver;
use crate::route::Route;
use crate::transport::Transport;

/// How much a single read asks the transport for.
const READ_CHUNK: usize = 8 * 1024;

/// A client connection to one route: it owns the [`Transport`] and the read buffer the
/// codec parses from. Apache HttpClient calls this a `ManagedHttpClientConnection`.
///
/// Bytes read past the end of one response stay in the buffer; a connection whose
/// buffer is not empty between exchanges is stale (the server sent something nobody
/// asked for).
pub struct Connection {
    id: u64,
    route: Route,
    transport: Box<dyn Transport>,
    peer: Option<SocketAddr>,
    buf: BytesMut,
    /// The transport's current read and write timeout, so that setting the same value
    /// again costs no system call.
    timeout: Option<Duration>,
    /// Bytes written over the connection's life: an exchange compares it before and
    /// after to know whether any request byte went out.
    written: u64,
}

impl Connection {
    /// Resolves `route`'s host and connects to each address in turn until one
    /// accepts, all within `timeout`, with the socket options of `socket`.
    pub fn connect(
        id: u64,
        route: &Route,
        resolver: &dyn Resolver,
        timeout: Duration,
        socket: &SocketConfig,
    ) -> Result<Connection, Error> {
        let start = Instant::now();
        let deadline = start.checked_add(timeout);
        let addrs = resolver.resolve(&route.host, route.port).map_err(|e| {
            Error::new(
                ErrorKind::UnknownHost,
                format!("cannot resolve {}", route.host),
            )
            .with_source(e)
        })?;
        if addrs.is_empty() {
            return Err(Error::new(
                ErrorKind::UnknownHost,
                format!("cannot resolve {}: no addresses", route.host),
            ));
        }
        let mut last: Option<(SocketAddr, io::Error)> = None;
        let mut timed_out = false;
        let mut tried = 0usize;
        for &addr in &addrs {
            let remaining = match deadline {
                Some(deadline) => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        timed_out = true;
                        break;
                    }
                    Some(remaining)
                }
                None => None,
            };
            tried += 1;
            match connect_one(addr, remaining, socket) {
                Ok(stream) => {
                    return Ok(Connection::from_transport(
                        id,
                        route.clone(),
                        Box::new(stream),
                    ));
                }
                Err(e) => {
                    timed_out |= is_timeout(&e);
                    last = Some((addr, e));
                }
            }
        }
        let resolved = addrs.len();
        if timed_out {
            // The cause (when there is one) says "timed out"; this says what and when.
            let error = Error::new(
                ErrorKind::ConnectTimeout,
                format!(
                    "no connection to {route} within the connect timeout of {timeout:?} \
                     ({tried} of {resolved} address(es) tried)"
                ),
            );
            return Err(match last {
                Some((_, e)) => error.with_source(e),
                None => error,
            });
        }
        Err(match last {
            Some((addr, e)) => Error::new(
                ErrorKind::Connect,
                format!(
                    "connect to {route} failed (last tried {addr}, {tried} of {resolved} address(es) tried)"
                ),
            )
            .with_source(e),
            None => Error::new(ErrorKind::Connect, format!("connect to {route} failed")),
        })
    }

    /// A connection over a transport opened some other way (a TLS stream, a proxy
    /// tunnel, a test double).
    pub fn from_transport(id: u64, route: Route, transport: Box<dyn Transport>) -> Connection {
        Connection {
            id,
            route,
            peer: transport.peer_addr(),
            transport,
            buf: BytesMut::with_capacity(READ_CHUNK),
            timeout: None,
            written: 0,
        }
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
        self.transport.local_addr()
    }

    /// Whether the connection is unusable: bytes are waiting that no request asked
    /// for (in the buffer or the transport), or the server has closed or reset it.
    /// Never blocks.
    pub fn is_stale(&mut self) -> bool {
        !self.buf.is_empty() || self.transport.is_stale()
    }

    /// Sets the transport's read and write timeout (`None`: block forever); no system
    /// call when it is already set so.
    pub(crate) fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeout means "none" to the OS; the smallest real one is meant.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if self.timeout != timeout {
            self.transport.set_timeout(timeout)?;
            self.timeout = timeout;
        }
        Ok(())
    }

    /// The timeout in force.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Reads once from the transport into the buffer; `Ok(0)` is end of stream.
    pub(crate) fn fill(&mut self) -> io::Result<usize> {
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let result = loop {
            match self.transport.read(&mut self.buf[len..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(len + *result.as_ref().unwrap_or(&0));
        result
    }

    /// Reads once from the transport straight into `out` (the read buffer must be
    /// empty, or its bytes would be overtaken); `Ok(0)` is end of stream.
    pub(crate) fn read_direct(&mut self, out: &mut [u8]) -> io::Result<usize> {
        debug_assert!(self.buf.is_empty());
        loop {
            match self.transport.read(out) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Writes all of `bytes`, counting what went out.
    pub(crate) fn write_all(&mut self, mut bytes: &[u8]) -> io::Result<()> {
        while !bytes.is_empty() {
            match self.transport.write(bytes) {
                Ok(0) => return Err(io::ErrorKind::WriteZero.into()),
                Ok(n) => {
                    self.written += n as u64;
                    bytes = &bytes[n..];
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    /// Bytes written over the connection's life.
    pub(crate) fn written(&self) -> u64 {
        self.written
    }

    /// Whether bytes were received and not consumed yet.
    pub(crate) fn has_buffered(&self) -> bool {
        !self.buf.is_empty()
    }

    /// The read buffer: bytes received and not consumed yet.
    pub(crate) fn buffer(&mut self) -> &mut BytesMut {
        &mut self.buf
    }
}

/// One TCP connect with the socket options set where they must be: buffer sizes
/// before the handshake (the window scale is agreed then), the rest after.
fn connect_one(
    addr: SocketAddr,
    timeout: Option<Duration>,
    config: &SocketConfig,
) -> io::Result<TcpStream> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(size) = config.recv_buffer_size {
        socket.set_recv_buffer_size(size)?;
    }
    if let Some(size) = config.send_buffer_size {
        socket.set_send_buffer_size(size)?;
    }
    let target = SockAddr::from(addr);
    match timeout {
        Some(timeout) => socket.connect_timeout(&target, timeout)?,
        None => socket.connect(&target)?,
    }
    socket.set_tcp_nodelay(config.tcp_nodelay)?;
    if config.linger.is_some() {
        socket.set_linger(config.linger)?;
    }
    Ok(socket.into())
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
    use crate::resolver::{StaticResolver, SystemResolver};
    use std::io::Write;
    use std::net::TcpListener;

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

    #[test]
    fn socket_options_are_applied_at_connect() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let config = SocketConfig::default()
            .with_tcp_nodelay(false)
            .with_linger(Some(Duration::from_secs(3)))
            .with_send_buffer_size(Some(64 * 1024))
            .with_recv_buffer_size(Some(64 * 1024));
        let stream = connect_one(
            listener.local_addr()?,
            Some(Duration::from_secs(5)),
            &config,
        )?;
        let sock = socket2::SockRef::from(&stream);
        assert!(!sock.tcp_nodelay()?);
        assert_eq!(sock.linger()?, Some(Duration::from_secs(3)));
        // Linux doubles what is asked for, to leave room for its bookkeeping.
        assert!(sock.send_buffer_size()? >= 64 * 1024);
        assert!(sock.recv_buffer_size()? >= 64 * 1024);
        let default = connect_one(listener.local_addr()?, None, &SocketConfig::default())?;
        assert!(
            socket2::SockRef::from(&default).tcp_nodelay()?,
            "TCP_NODELAY by default"
        );
        Ok(())
    }

    #[test]
    fn connect_tries_every_address_in_turn() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        // Nothing listens on port 1: refused at once.
        let resolver = move |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
            Ok(vec![
                SocketAddr::from(([127, 0, 0, 1], 1)),
                SocketAddr::from(([127, 0, 0, 1], port)),
            ])
        };
        let conn = Connection::connect(
            7,
            &Route::http("multi.test", 1),
            &resolver,
            Duration::from_secs(5),
            &SocketConfig::default(),
        )
        .map_err(io::Error::other)?;
        assert_eq!(conn.peer_addr().map(|a| a.port()), Some(port));
        assert_eq!(conn.id(), 7);
        Ok(())
    }

    #[test]
    fn an_exhausted_connect_timeout_is_a_connect_timeout() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let route = Route::http("127.0.0.1", listener.local_addr()?.port());
        let error = Connection::connect(
            1,
            &route,
            &SystemResolver,
            Duration::ZERO,
            &SocketConfig::default(),
        )
        .err();
        assert!(error.is_some_and(|e| e.kind() == ErrorKind::ConnectTimeout
            && e.is_connect()
            && e.to_string().contains("connect timeout of 0ns")));
        Ok(())
    }

    #[test]
    fn refused_and_unknown_names_are_told_apart() {
        let resolver = StaticResolver::new();
        let config = SocketConfig::default();
        let e = Connection::connect(
            1,
            &Route::http("nowhere.test", 80),
            &resolver,
            Duration::from_secs(1),
            &config,
        )
        .err();
        assert!(e.is_some_and(
            |e| e.kind() == ErrorKind::UnknownHost && e.to_string().contains("nowhere.test")
        ));
        let e = Connection::connect(
            1,
            &Route::http("127.0.0.1", 1),
            &resolver,
            Duration::from_secs(1),
            &config,
        )
        .err();
        assert!(e.is_some_and(|e| e.kind() == ErrorKind::Connect && !e.is_connect_timeout()));
    }
}
