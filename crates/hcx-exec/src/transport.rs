//! What a connection runs over: a byte stream that can be probed while idle.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// A byte stream under an HTTP/1.1 connection: plain TCP today, a TLS stream or a
/// proxy tunnel tomorrow. The exchange itself is the codec's sans-IO
/// [`Call`](hcx_h1::Call); the engine only moves bytes between it and a transport, so
/// every transport gets the same flow (`100-continue`, early responses, 1xx, bodies).
///
/// Apache HttpClient's closest notion is the socket under a
/// `ManagedHttpClientConnection`.
pub trait Transport: Read + Write + Send + fmt::Debug + 'static {
    /// Whether the idle connection cannot carry a request: the peer closed or reset it,
    /// or sent bytes nobody asked for. Must not block (the stale probe runs on every
    /// reuse). For TLS, a received `close_notify` counts as closed.
    ///
    /// Also asked between two writes of a request body, where `true` means "read
    /// now": the server answered early (or closed) and the read will not block.
    fn is_stale(&mut self) -> bool;

    /// Sets the read and write timeout (`None`: block forever).
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// The address of the peer, if the transport knows one.
    fn peer_addr(&self) -> Option<SocketAddr>;

    /// The local address, if the transport knows one.
    fn local_addr(&self) -> Option<SocketAddr>;

    /// What follows the response just read, asked once before the connection is
    /// pooled: bytes nobody asked for (they would be read as the next response), the
    /// peer's word that it closes (a TLS `close_notify` taken in), or nothing.
    /// `read_filled` says whether the connection's last read filled its buffer: only
    /// then may bytes the server sent behind the response still wait in the socket,
    /// and only then may a plain socket look (one non-blocking peek). Must not block.
    /// Default: [`Leftover::Nothing`] (a transport that buffers nothing of its own and
    /// cannot peek).
    fn leftover(&mut self, read_filled: bool) -> Leftover {
        let _ = read_filled;
        Leftover::Nothing
    }

    /// What the TLS handshake negotiated, for a TLS transport. Default: `None`.
    fn tls_session(&self) -> Option<crate::events::TlsSession> {
        None
    }

    /// Whether the end of stream a read returned was not confirmed by the peer: for
    /// TLS, the TCP connection closed without a `close_notify` (RFC 8446 §6.1), which
    /// anyone on the path can cause to cut a response short. A body delimited by the
    /// connection's close does not end there: it fails with
    /// [`ErrorKind::IncompleteBody`](crate::ErrorKind::IncompleteBody). Default:
    /// `false` (a TCP end of stream is all there is to know).
    fn end_unconfirmed(&self) -> bool {
        false
    }

    /// A handle on the TCP socket under this transport, which an
    /// [`AbortHandle`](crate::AbortHandle) shuts down from another thread to end a
    /// blocked read or write: a [`SocketHandle::new`] of a second descriptor
    /// ([`TcpStream::try_clone`]), or a [`SocketHandle::shared`] socket. Asked once per
    /// exchange, only for a request that carries an abort handle. `None` (the
    /// default): an abort does not interrupt a read or write on this transport, and
    /// the request fails at its end, or at its timeout.
    fn abort_socket(&self) -> Option<SocketHandle> {
        None
    }
}

impl Transport for TcpStream {
    /// One non-blocking `recv(MSG_PEEK | MSG_DONTWAIT)`: "would block" means fresh;
    /// end of stream, stray bytes or an error mean stale. Apache HttpClient's
    /// `isStale()` does the same with a 1 ms blocking read.
    fn is_stale(&mut self) -> bool {
        tcp_is_stale(self)
    }

    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        set_tcp_timeout(self, timeout)
    }

    /// After a full read, one non-blocking `recv(MSG_PEEK | MSG_DONTWAIT)`: a byte
    /// there is [`Leftover::Bytes`]; an end of stream or an error is left to the stale
    /// probe.
    fn leftover(&mut self, read_filled: bool) -> Leftover {
        if read_filled && has_waiting_bytes(self) {
            Leftover::Bytes
        } else {
            Leftover::Nothing
        }
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        TcpStream::peer_addr(self).ok()
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        TcpStream::local_addr(self).ok()
    }

    fn abort_socket(&self) -> Option<SocketHandle> {
        self.try_clone().ok().map(SocketHandle::new)
    }
}

/// The stale probe of a TCP socket: one non-blocking `recv(MSG_PEEK)`.
pub(crate) fn tcp_is_stale(stream: &TcpStream) -> bool {
    match peek_nonblocking(stream) {
        Ok(_) => true, // EOF (0) or stray bytes
        Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
        Err(e) if e.kind() == io::ErrorKind::Interrupted => peek_nonblocking(stream).is_ok(),
        Err(_) => true,
    }
}

/// Sets a TCP socket's read and write timeouts.
pub(crate) fn set_tcp_timeout(stream: &TcpStream, timeout: Option<Duration>) -> io::Result<()> {
    stream.set_read_timeout(timeout)?;
    stream.set_write_timeout(timeout)
}

/// Shuts a connected TCP socket down from another thread, ending a blocked read or
/// write on it: what [`Transport::abort_socket`] gives an
/// [`AbortHandle`](crate::AbortHandle) for the exchange.
pub struct SocketHandle(HandleRepr);

enum HandleRepr {
    /// A second descriptor of the socket.
    Owned(TcpStream),
    /// The connection's own socket, shared.
    Shared(Arc<TcpStream>),
}

impl SocketHandle {
    /// A handle over a second descriptor of the socket (`TcpStream::try_clone`),
    /// closed when the handle is dropped.
    pub fn new(socket: TcpStream) -> Self {
        SocketHandle(HandleRepr::Owned(socket))
    }

    /// A handle over a socket the transport shares (no second descriptor).
    pub fn shared(socket: Arc<TcpStream>) -> Self {
        SocketHandle(HandleRepr::Shared(socket))
    }

    /// Shuts the socket down in both directions (errors, such as a socket already
    /// closed by the peer, are ignored: it is done either way).
    pub fn shutdown(&self) {
        let _ = self.socket().shutdown(Shutdown::Both);
    }

    fn socket(&self) -> &TcpStream {
        match &self.0 {
            HandleRepr::Owned(socket) => socket,
            HandleRepr::Shared(socket) => socket,
        }
    }
}

impl fmt::Debug for SocketHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("SocketHandle")
            .field(&self.socket().peer_addr().ok())
            .finish()
    }
}

/// hcx's own TCP transport: its socket shared with the connection manager's list of
/// live connections ([`shutdown_immediate`](crate::PoolingConnectionManager::shutdown_immediate))
/// and with an abort, which shut it down from another thread without a second
/// descriptor.
#[derive(Debug)]
pub(crate) struct SharedTcp(pub(crate) Arc<TcpStream>);

impl Read for SharedTcp {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        (&*self.0).read(buf)
    }
}

impl Write for SharedTcp {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.0).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.0).flush()
    }
}

impl Transport for SharedTcp {
    fn is_stale(&mut self) -> bool {
        tcp_is_stale(&self.0)
    }

    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        set_tcp_timeout(&self.0, timeout)
    }

    fn leftover(&mut self, read_filled: bool) -> Leftover {
        if read_filled && has_waiting_bytes(&self.0) {
            Leftover::Bytes
        } else {
            Leftover::Nothing
        }
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.0.peer_addr().ok()
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.0.local_addr().ok()
    }

    fn abort_socket(&self) -> Option<SocketHandle> {
        Some(SocketHandle::shared(Arc::clone(&self.0)))
    }
}

/// What [`Transport::leftover`] found after a response.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Leftover {
    /// Nothing: the connection can be pooled.
    Nothing,
    /// Bytes nobody asked for: never pooled (`CloseReason::TrailingBytes`).
    Bytes,
    /// The peer said it closes: never pooled (`CloseReason::Stale`).
    Closed,
}

/// Whether one non-blocking peek finds a byte waiting on `stream`.
pub(crate) fn has_waiting_bytes(stream: &TcpStream) -> bool {
    matches!(peek_nonblocking(stream), Ok(n) if n > 0)
}

#[cfg(unix)]
fn peek_nonblocking(stream: &TcpStream) -> io::Result<usize> {
    let mut probe = [std::mem::MaybeUninit::<u8>::uninit(); 1];
    socket2::SockRef::from(stream).recv_with_flags(&mut probe, libc::MSG_PEEK | libc::MSG_DONTWAIT)
}

#[cfg(not(unix))]
fn peek_nonblocking(stream: &TcpStream) -> io::Result<usize> {
    stream.set_nonblocking(true)?;
    let mut probe = [0u8; 1];
    let result = stream.peek(&mut probe);
    stream.set_nonblocking(false)?;
    result
}
