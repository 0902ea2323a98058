//! What a connection runs over: a byte stream that can be probed while idle.

use std::fmt;
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
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
    fn is_stale(&mut self) -> bool;

    /// Sets the read and write timeout (`None`: block forever).
    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()>;

    /// The address of the peer, if the transport knows one.
    fn peer_addr(&self) -> Option<SocketAddr>;

    /// The local address, if the transport knows one.
    fn local_addr(&self) -> Option<SocketAddr>;

    /// Whether bytes were received that the caller has not read: a connection with
    /// any is never pooled (they would be read as the next response). For TLS, the
    /// plaintext rustls decrypted and holds. Default: none (a plain socket buffers
    /// nothing of its own).
    fn has_pending(&mut self) -> bool {
        false
    }

    /// Whether bytes are waiting that a read would return at once: asked (only) when a
    /// response ended exactly where a read that filled its buffer did, so bytes the
    /// server sent after it may still sit in the socket. Must not block; an end of
    /// stream or an error is no bytes (the stale probe judges those). For TLS,
    /// application data only (a session ticket is not). Default: `false`.
    fn has_waiting_bytes(&mut self) -> bool {
        false
    }

    /// Whether the peer has said it closes, in what the transport already read (for
    /// TLS, a `close_notify` rustls took in): such a connection is not pooled. Never
    /// does I/O. Default: `false`.
    fn peer_closed(&mut self) -> bool {
        false
    }

    /// Whether the transport's own last read of the network filled the buffer it
    /// read into (more may wait behind it), for a transport whose reads of the
    /// network differ from the connection's reads of it (TLS: records, not
    /// plaintext); `None`: the connection judges by its own last read. Default:
    /// `None`.
    fn last_read_filled(&self) -> Option<bool> {
        None
    }

    /// What the TLS handshake negotiated, for a TLS transport. Default: `None`.
    fn tls_session(&self) -> Option<crate::events::TlsSession> {
        None
    }
}

impl Transport for TcpStream {
    /// One non-blocking `recv(MSG_PEEK | MSG_DONTWAIT)`: "would block" means fresh;
    /// end of stream, stray bytes or an error mean stale. Apache HttpClient's
    /// `isStale()` does the same with a 1 ms blocking read.
    fn is_stale(&mut self) -> bool {
        match peek_nonblocking(self) {
            Ok(_) => true, // EOF (0) or stray bytes
            Err(e) if e.kind() == io::ErrorKind::WouldBlock => false,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => peek_nonblocking(self).is_ok(),
            Err(_) => true,
        }
    }

    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        self.set_read_timeout(timeout)?;
        self.set_write_timeout(timeout)
    }

    /// One non-blocking `recv(MSG_PEEK | MSG_DONTWAIT)` that finds a byte.
    fn has_waiting_bytes(&mut self) -> bool {
        matches!(peek_nonblocking(self), Ok(n) if n > 0)
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        TcpStream::peer_addr(self).ok()
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        TcpStream::local_addr(self).ok()
    }
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
