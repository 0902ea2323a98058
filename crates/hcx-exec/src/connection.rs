//! One HTTP/1.1 connection: the socket, its read buffer, and the stale probe.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use bytes::BytesMut;

use crate::error::{Error, Kind, is_timeout};
use crate::resolver::Resolver;
use crate::route::Route;

/// How much a single read asks the socket for.
const READ_CHUNK: usize = 8 * 1024;

/// A client connection to one route: it owns the socket and the read buffer that the
/// codec parses from. Apache HttpClient calls this a `ManagedHttpClientConnection`.
///
/// Bytes read past the end of one response stay in the buffer; a connection whose
/// buffer is not empty between exchanges is stale (the server sent something nobody
/// asked for).
pub struct Connection {
    id: u64,
    route: Route,
    stream: TcpStream,
    peer: SocketAddr,
    buf: BytesMut,
    /// The socket's current read and write timeout, so that setting the same value
    /// again costs no system call.
    timeout: Option<Duration>,
}

impl Connection {
    /// Resolves `route`'s host and connects to each address in turn until one
    /// accepts, all within `timeout`; sets `TCP_NODELAY`.
    pub fn connect(
        id: u64,
        route: &Route,
        resolver: &dyn Resolver,
        timeout: Duration,
    ) -> Result<Connection, Error> {
        let start = Instant::now();
        let deadline = start.checked_add(timeout);
        let addrs = resolver.resolve(&route.host, route.port).map_err(|e| {
            Error::new(Kind::Connect, format!("cannot resolve {}: {e}", route.host)).with_source(e)
        })?;
        if addrs.is_empty() {
            return Err(Error::new(
                Kind::Connect,
                format!("cannot resolve {}: no addresses", route.host),
            ));
        }
        let mut last: Option<(SocketAddr, io::Error)> = None;
        let mut timed_out = false;
        let mut tried = 0usize;
        for &addr in &addrs {
            let attempt = match deadline {
                Some(deadline) => {
                    let remaining = deadline.saturating_duration_since(Instant::now());
                    if remaining.is_zero() {
                        timed_out = true;
                        break;
                    }
                    TcpStream::connect_timeout(&addr, remaining)
                }
                None => TcpStream::connect(addr),
            };
            tried += 1;
            match attempt {
                Ok(stream) => return Connection::from_stream(id, route.clone(), stream, addr),
                Err(e) => {
                    timed_out |= is_timeout(&e);
                    last = Some((addr, e));
                }
            }
        }
        let resolved = addrs.len();
        if timed_out {
            let error = Error::new(
                Kind::ConnectTimeout,
                format!(
                    "connect to {route} timed out after {:?} ({tried} of {resolved} address(es) tried)",
                    start.elapsed().min(timeout)
                ),
            );
            return Err(match last {
                Some((_, e)) => error.with_source(e),
                None => error,
            });
        }
        Err(match last {
            Some((addr, e)) => Error::new(
                Kind::Connect,
                format!(
                    "connect to {route} failed ({addr}, {tried} of {resolved} address(es) tried): {e}"
                ),
            )
            .with_source(e),
            None => Error::new(Kind::Connect, format!("connect to {route} failed")),
        })
    }

    fn from_stream(
        id: u64,
        route: Route,
        stream: TcpStream,
        peer: SocketAddr,
    ) -> Result<Connection, Error> {
        stream.set_nodelay(true).map_err(|e| {
            Error::new(
                Kind::Connect,
                format!("cannot set TCP_NODELAY on {route}: {e}"),
            )
            .with_source(e)
        })?;
        Ok(Connection {
            id,
            route,
            stream,
            peer,
            buf: BytesMut::with_capacity(READ_CHUNK),
            timeout: None,
        })
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

    /// The address it is connected to.
    pub fn peer_addr(&self) -> SocketAddr {
        self.peer
    }

    /// The local address of the socket.
    pub fn local_addr(&self) -> io::Result<SocketAddr> {
        self.stream.local_addr()
    }

    /// Whether the connection is unusable: bytes are waiting that no request asked
    /// for, or the server has closed or reset it. One non-blocking
    /// `recv(MSG_PEEK | MSG_DONTWAIT)`; "would block" means fresh. Apache HttpClient's
    /// `isStale()` does the same with a 1 ms blocking read.
    pub fn is_stale(&self) -> bool {
        if !self.buf.is_empty() {
            return true;
        }
        match self.peek_nonblocking() {
            Ok(_) => true, // EOF (0) or stray bytes
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => self.peek_nonblocking().is_ok(),
            Err(_) => true,
        }
    }

    #[cfg(unix)]
    fn peek_nonblocking(&self) -> io::Result<usize> {
        let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
        socket2::SockRef::from(&self.stream)
            .recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT)
    }

    #[cfg(not(unix))]
    fn peek_nonblocking(&self) -> io::Result<usize> {
        self.stream.set_nonblocking(true)?;
        let mut probe = [0u8; 1];
        let result = self.stream.peek(&mut probe);
        self.stream.set_nonblocking(false)?;
        result
    }

    /// Sets the socket's read and write timeout (`None`: block forever); no system
    /// call when it is already set so.
    pub(crate) fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        // A zero timeout means "none" to the OS; the smallest real one is meant.
        let timeout = timeout.map(|t| t.max(Duration::from_millis(1)));
        if self.timeout != timeout {
            self.stream.set_read_timeout(timeout)?;
            self.stream.set_write_timeout(timeout)?;
            self.timeout = timeout;
        }
        Ok(())
    }

    /// The timeout in force.
    pub(crate) fn timeout(&self) -> Option<Duration> {
        self.timeout
    }

    /// Reads once from the socket into the buffer; `Ok(0)` is end of stream.
    pub(crate) fn fill(&mut self) -> io::Result<usize> {
        let len = self.buf.len();
        self.buf.resize(len + READ_CHUNK, 0);
        let result = loop {
            match self.stream.read(&mut self.buf[len..]) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => break other,
            }
        };
        self.buf.truncate(len + *result.as_ref().unwrap_or(&0));
        result
    }

    /// Reads once from the socket straight into `out` (the read buffer must be empty,
    /// or its bytes would be overtaken); `Ok(0)` is end of stream.
    pub(crate) fn read_direct(&mut self, out: &mut [u8]) -> io::Result<usize> {
        debug_assert!(self.buf.is_empty());
        loop {
            match self.stream.read(out) {
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                other => return other,
            }
        }
    }

    /// Writes all of `bytes`.
    pub(crate) fn write_all(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)
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
    use std::net::TcpListener;

    fn pair() -> io::Result<(Connection, TcpStream)> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let route = Route::http("127.0.0.1", port);
        let conn = Connection::connect(1, &route, &SystemResolver, Duration::from_secs(5))
            .map_err(io::Error::other)?;
        let (server, _) = listener.accept()?;
        Ok((conn, server))
    }

    #[test]
    fn an_open_quiet_connection_is_fresh() -> io::Result<()> {
        let (conn, _server) = pair()?;
        assert!(!conn.is_stale());
        Ok(())
    }

    #[test]
    fn a_connection_the_server_closed_is_stale() -> io::Result<()> {
        let (mut conn, server) = pair()?;
        drop(server);
        // Block until the FIN is here (a read returns EOF), so the probe cannot race it.
        assert_eq!(conn.fill()?, 0);
        assert!(conn.is_stale());
        Ok(())
    }

    #[test]
    fn stray_bytes_make_a_connection_stale() -> io::Result<()> {
        let (mut conn, mut server) = pair()?;
        server.write_all(b"HTTP/1.1 200 OK\r\n")?;
        let mut peeked = [0u8; 1];
        // Wait (blocking) until the bytes arrived, then probe without consuming them.
        conn.stream.peek(&mut peeked)?;
        assert!(conn.is_stale());
        conn.fill()?;
        assert!(conn.is_stale(), "buffered bytes are stale too");
        Ok(())
    }

    #[test]
    fn connect_tries_every_address_in_turn() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        // Nothing listens on the first address (port 1 on 127.0.0.2 refuses at once).
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
        )
        .map_err(io::Error::other)?;
        assert_eq!(conn.peer_addr().port(), port);
        assert_eq!(conn.id(), 7);
        Ok(())
    }

    #[test]
    fn an_exhausted_connect_timeout_is_a_connect_timeout() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let route = Route::http("127.0.0.1", listener.local_addr()?.port());
        let error = Connection::connect(1, &route, &SystemResolver, Duration::ZERO).err();
        assert!(error.is_some_and(|e| e.is_connect_timeout()
            && e.is_connect()
            && e.to_string().contains("timed out")));
        Ok(())
    }

    #[test]
    fn refused_and_unknown_names_are_connect_errors() {
        let resolver = StaticResolver::new();
        let e = Connection::connect(
            1,
            &Route::http("nowhere.test", 80),
            &resolver,
            Duration::from_secs(1),
        )
        .err();
        assert!(e.is_some_and(|e| e.is_connect() && e.to_string().contains("nowhere.test")));
        let e = Connection::connect(
            1,
            &Route::http("127.0.0.1", 1),
            &resolver,
            Duration::from_secs(1),
        )
        .err();
        assert!(e.is_some_and(|e| e.is_connect() && !e.is_connect_timeout()));
    }
}
