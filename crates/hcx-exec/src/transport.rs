//! What a connection runs over: a byte stream that can be probed while idle.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{Shutdown, SocketAddr, TcpStream};
use std::sync::Arc;
use std::time::Duration;
#[cfg(target_os = "linux")]
use std::time::Instant;

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

    /// Writes some of `buf`, as [`Write::write`] does, but where that would wait for
    /// room to write it also wakes when the peer sends something, and returns
    /// [`Written::Incoming`] then, nothing written: the engine reads the server's
    /// early answer (a `413` to an upload it stopped reading) instead of staying
    /// blocked until `timeout` (`None`: no limit), after which it fails as a write
    /// timeout does. Used for the request body's writes, while no final answer is in.
    /// An empty `buf` pushes out, the same way, what the transport still holds of
    /// earlier writes (asked after each piece of the body: `Written::Bytes(0)` once
    /// all of it is out).
    ///
    /// Default: [`Write::write`] (a transport that cannot wait for both blocks in
    /// its write, and an answer is read after it); nothing for an empty `buf`.
    fn write_or_incoming(&mut self, buf: &[u8], timeout: Option<Duration>) -> io::Result<Written> {
        let _ = timeout;
        if buf.is_empty() {
            return Ok(Written::Bytes(0));
        }
        self.write(buf).map(Written::Bytes)
    }

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

    /// As hcx's own TCP connections write: a non-blocking `send`; only when the
    /// socket's buffer is full, one `poll` for room or input (Linux). Nothing is held
    /// back: an empty `buf` has nothing to do.
    fn write_or_incoming(&mut self, buf: &[u8], timeout: Option<Duration>) -> io::Result<Written> {
        tcp_write_or_incoming(self, buf, timeout)
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

    fn write_or_incoming(&mut self, buf: &[u8], timeout: Option<Duration>) -> io::Result<Written> {
        tcp_write_or_incoming(&self.0, buf, timeout)
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

/// What [`Transport::write_or_incoming`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Written {
    /// This many bytes were written (0 only for an empty buffer, or a transport that
    /// can write no more).
    Bytes(usize),
    /// Nothing could be written yet, and the peer sent something (or closed): read
    /// it before writing on.
    Incoming,
}

/// [`Transport::write_or_incoming`] for a TCP socket: a non-blocking `send`; only when
/// the socket's buffer is full, one `poll` for room or input (Linux; elsewhere a
/// plain write).
pub(crate) fn tcp_write_or_incoming(
    stream: &TcpStream,
    buf: &[u8],
    timeout: Option<Duration>,
) -> io::Result<Written> {
    // A socket holds nothing back: an empty write has nothing to push.
    if buf.is_empty() {
        return Ok(Written::Bytes(0));
    }
    #[cfg(target_os = "linux")]
    {
        let mut deadline = None;
        loop {
            match send_nonblocking(stream, buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                other => return other.map(Written::Bytes),
            }
            let until = *deadline.get_or_insert_with(|| timeout.map(|t| Instant::now() + t));
            match wait_for_room(stream, until)? {
                Ready::Room => {}
                Ready::Incoming => return Ok(Written::Incoming),
            }
        }
    }
    #[cfg(not(target_os = "linux"))]
    {
        let _ = timeout;
        (&*stream).write(buf).map(Written::Bytes)
    }
}

/// One `send(MSG_DONTWAIT | MSG_NOSIGNAL)`; an interrupted call is repeated.
#[cfg(target_os = "linux")]
pub(crate) fn send_nonblocking(stream: &TcpStream, buf: &[u8]) -> io::Result<usize> {
    loop {
        match socket2::SockRef::from(stream)
            .send_with_flags(buf, libc::MSG_DONTWAIT | libc::MSG_NOSIGNAL)
        {
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            other => return other,
        }
    }
}

/// What a socket whose send buffer was full became ready for.
#[cfg(target_os = "linux")]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ready {
    /// The send buffer has room.
    Room,
    /// The peer sent bytes, closed or reset the connection: asked first, so an
    /// answer is read before writing on.
    Incoming,
}

/// Waits until `stream` can be written to or has something to read, until `deadline`
/// (`None`: no limit): `poll` for both. A deadline passed is a `TimedOut` error, as a
/// blocking write's timeout is.
#[cfg(target_os = "linux")]
fn wait_for_room(stream: &TcpStream, deadline: Option<Instant>) -> io::Result<Ready> {
    use nix::poll::{PollFd, PollFlags, PollTimeout, poll};
    use std::os::fd::AsFd;
    loop {
        let timeout = match deadline {
            None => PollTimeout::NONE,
            Some(deadline) => {
                let left = deadline.saturating_duration_since(Instant::now());
                // Rounded up to whole milliseconds: a poll that returns a little early
                // would come round again for nothing.
                let left = left.saturating_add(Duration::from_nanos(999_999));
                PollTimeout::try_from(left).unwrap_or(PollTimeout::MAX)
            }
        };
        let mut fds = [PollFd::new(
            stream.as_fd(),
            PollFlags::POLLOUT | PollFlags::POLLIN,
        )];
        let result = poll(&mut fds, timeout);
        let [fd] = &fds;
        match result {
            Ok(0) => {
                if deadline.is_some_and(|d| Instant::now() >= d) {
                    return Err(io::ErrorKind::TimedOut.into());
                }
            }
            Ok(_) => {
                let revents = fd.revents().unwrap_or(PollFlags::empty());
                let input = PollFlags::POLLIN | PollFlags::POLLHUP | PollFlags::POLLERR;
                // Room, or `POLLNVAL` (no socket to wait on: the write says why).
                return Ok(if revents.intersects(input) {
                    Ready::Incoming
                } else {
                    Ready::Room
                });
            }
            Err(nix::errno::Errno::EINTR) => {}
            Err(e) => return Err(e.into()),
        }
    }
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
