//! The transport under a connection: a plain TCP socket, or TLS over one (rustls), with
//! the few socket operations the server needs delegated to the TCP socket; and the
//! server side of the TLS handshake.

use crate::record::TlsInfo;
use rustls::{HandshakeKind, ServerConfig, ServerConnection, StreamOwned};
use std::io::{self, ErrorKind, Read, Write};
use std::net::{Shutdown, TcpStream};
use std::sync::Arc;
use std::time::Duration;

/// A connection's byte stream: what the HTTP code reads and writes.
pub(crate) enum Stream {
    Plain(TcpStream),
    /// Boxed: a rustls connection is large, and a plain stream should not pay for it.
    Tls(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Stream {
    fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(tcp) => tcp,
            Stream::Tls(tls) => &tls.sock,
        }
    }

    /// Sets the read timeout of the TCP socket (which bounds TLS reads too).
    pub(crate) fn set_read_timeout(&self, timeout: Option<Duration>) -> io::Result<()> {
        self.tcp().set_read_timeout(timeout)
    }

    /// Ends the server's side of the connection: in TLS with `notify`, a `close_notify`
    /// alert first, so the client can tell this close from a truncation (RFC 8446
    /// §6.1); then the TCP FIN. Errors are ignored: the peer may be gone already.
    pub(crate) fn close_write(&mut self, notify: bool) {
        if let Stream::Tls(tls) = self
            && notify
            && !tls.conn.is_handshaking()
        {
            tls.conn.send_close_notify();
            let StreamOwned { conn, sock } = &mut **tls;
            let _ = send_tls(conn, sock);
        }
        let _ = self.tcp().shutdown(Shutdown::Write);
    }

    /// Whether input already read from the socket is waiting in the TLS layer (plaintext
    /// not yet taken, or the client's `close_notify`): then a read returns without
    /// waiting for the socket. Never for a plain stream. A TLS error counts as input,
    /// so that the next read reports it.
    pub(crate) fn has_buffered_input(&mut self) -> bool {
        match self {
            Stream::Plain(_) => false,
            Stream::Tls(tls) => tls.conn.process_new_packets().map_or(true, |io| {
                io.plaintext_bytes_to_read() > 0 || io.peer_has_closed()
            }),
        }
    }

    /// Waits (at most the read timeout) until the client has sent something, without
    /// taking it from the socket: `true` once a byte is waiting, `false` at end of
    /// stream. Bytes left unread there make the socket's close a reset. Below any TLS:
    /// the byte is the first of a TLS record.
    pub(crate) fn wait_for_input(&self) -> io::Result<bool> {
        let mut byte = [0u8; 1];
        loop {
            match self.tcp().peek(&mut byte) {
                Ok(n) => return Ok(n > 0),
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads raw bytes from the TCP socket, below any TLS: a lingering close only
    /// discards what the client still sends, and must not fail on it.
    pub(crate) fn read_raw(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.sock.read(buf),
        }
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.read(buf),
            Stream::Tls(tls) => tls.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Stream::Plain(tcp) => tcp.write(buf),
            Stream::Tls(tls) => tls.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Stream::Plain(tcp) => tcp.flush(),
            Stream::Tls(tls) => tls.flush(),
        }
    }
}

/// Why a TLS handshake did not complete.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum HandshakeError {
    /// The client closed the connection (or reset it) before sending a byte: no
    /// handshake was attempted.
    Closed,
    /// The read timeout ran out before the client sent a byte.
    Idle,
    /// The handshake started and failed: the rustls error (an alert the client sent,
    /// or what the server rejected) or the I/O failure, as text.
    Failed(String),
}

/// A handshake that did not complete, holding the socket so the caller can record the
/// failure before the client learns of it (the records come first, as everywhere in
/// this crate), then [`close`](Self::close) it.
pub(crate) struct HandshakeFailure {
    pub(crate) error: HandshakeError,
    /// Boxed, like [`Stream::Tls`]: a rustls connection is large.
    conn: Option<Box<ServerConnection>>,
    tcp: TcpStream,
}

impl HandshakeFailure {
    /// Sends the alert rustls queued (so the client learns why), ends the server's
    /// side, then reads and discards what the client still sends for up to `linger`:
    /// closing with its unread bytes would reset the connection and could destroy the
    /// alert in flight.
    pub(crate) fn close(mut self, linger: Duration) {
        if let Some(conn) = &mut self.conn {
            let _ = send_tls(conn, &mut self.tcp);
        }
        let _ = self.tcp.shutdown(Shutdown::Write);
        if linger.is_zero() || self.tcp.set_read_timeout(Some(linger)).is_err() {
            return;
        }
        let mut scratch = [0u8; 4096];
        let mut discarded = 0;
        while discarded < 1024 * 1024 {
            match self.tcp.read(&mut scratch) {
                Ok(0) | Err(_) => break,
                Ok(n) => discarded += n,
            }
        }
    }
}

/// Runs the server side of a TLS handshake on `tcp`, and says what it negotiated.
/// `idle` bounds the wait for the client's first byte (its hello), as it bounds the
/// wait for a request's first byte; once the client has begun, as inside a request,
/// there is no deadline. The socket is left without a read timeout.
pub(crate) fn accept_tls(
    config: Arc<ServerConfig>,
    mut tcp: TcpStream,
    idle: Option<Duration>,
) -> Result<(Stream, TlsInfo), HandshakeFailure> {
    let mut conn = match ServerConnection::new(config) {
        Ok(conn) => conn,
        Err(e) => {
            return Err(HandshakeFailure {
                error: HandshakeError::Failed(format!("could not start TLS: {e}")),
                conn: None,
                tcp,
            });
        }
    };
    match handshake(&mut conn, &mut tcp, idle) {
        Ok(()) => {
            let info = tls_info(&conn);
            Ok((Stream::Tls(Box::new(StreamOwned::new(conn, tcp))), info))
        }
        Err(error) => Err(HandshakeFailure {
            error,
            conn: Some(Box::new(conn)),
            tcp,
        }),
    }
}

fn handshake(
    conn: &mut ServerConnection,
    tcp: &mut TcpStream,
    idle: Option<Duration>,
) -> Result<(), HandshakeError> {
    let set_timeout = |tcp: &TcpStream, timeout| {
        tcp.set_read_timeout(timeout)
            .map_err(|e| HandshakeError::Failed(format!("could not set the read timeout: {e}")))
    };
    set_timeout(tcp, idle)?;
    let mut received = 0usize;
    // Only the wait for the first byte has a timeout, so only a silent client times out.
    let io_failed = |e: io::Error, received: usize| {
        let silent = received == 0;
        match e.kind() {
            ErrorKind::WouldBlock | ErrorKind::TimedOut if silent => HandshakeError::Idle,
            ErrorKind::ConnectionReset | ErrorKind::ConnectionAborted if silent => {
                HandshakeError::Closed
            }
            _ => HandshakeError::Failed(format!("I/O error: {e}")),
        }
    };
    while conn.is_handshaking() {
        send_tls(conn, tcp).map_err(|e| io_failed(e, received))?;
        if !conn.wants_read() {
            return Err(HandshakeError::Failed(String::from(
                "the TLS handshake stalled (nothing to send or read)",
            )));
        }
        let n = loop {
            match conn.read_tls(tcp) {
                Ok(n) => break n,
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(io_failed(e, received)),
            }
        };
        if n == 0 {
            return Err(if received == 0 {
                HandshakeError::Closed
            } else {
                HandshakeError::Failed(format!(
                    "connection closed after {received} bytes of the client's handshake"
                ))
            });
        }
        if received == 0 && idle.is_some() {
            set_timeout(tcp, None)?;
        }
        received += n;
        if let Err(e) = conn.process_new_packets() {
            // The alert that tells the client why stays queued for `close`.
            return Err(HandshakeError::Failed(e.to_string()));
        }
    }
    // TLS 1.3 session tickets are queued once the client's Finished is read; send them
    // now, so a client that only writes next can still resume later.
    send_tls(conn, tcp).map_err(|e| io_failed(e, received))
}

fn tls_info(conn: &ServerConnection) -> TlsInfo {
    TlsInfo {
        version: conn.protocol_version(),
        resumed: conn.handshake_kind() == Some(HandshakeKind::Resumed),
        server_name: conn.server_name().map(str::to_owned),
        alpn_protocol: conn.alpn_protocol().map(<[u8]>::to_vec),
        client_certificate: conn.peer_certificates().is_some_and(|c| !c.is_empty()),
    }
}

/// Writes everything rustls has queued for the peer.
fn send_tls(conn: &mut ServerConnection, tcp: &mut TcpStream) -> io::Result<()> {
    while conn.wants_write() {
        match conn.write_tls(tcp) {
            Ok(0) => return Err(io::Error::from(ErrorKind::WriteZero)),
            Ok(_) => {}
            Err(e) if e.kind() == ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    tcp.flush()
}
