//! HTTPS over rustls: the TLS identity a route is keyed by, the handshake, and the
//! transport with a stale probe that understands TLS records.

use std::fmt;
use std::hash::{Hash, Hasher};
use std::io::{self, Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use rustls::client::Resumption;
use rustls::pki_types::ServerName;
use rustls::{CertificateError, ClientConfig, ClientConnection, InvalidMessage, StreamOwned};

use crate::error::{Error, ErrorKind, is_timeout};
use crate::events::TlsSession;
use crate::route::HostPort;
use crate::transport::{
    Leftover, SocketHandle, Transport, has_waiting_bytes, set_tcp_timeout, tcp_is_stale,
};
#[cfg(target_os = "linux")]
use crate::transport::{Written, send_nonblocking, tcp_write_or_incoming};

/// The TLS sessions the identities hcx builds keep for resumption: rustls keeps up to
/// eight tickets per server, so 512 servers (its default, 256, is 32 servers). About
/// a few hundred bytes each, held only for servers met. JSSE's cache holds 20,480.
const SESSIONS: usize = 4096;

/// The TLS configuration a connection is made with, and part of its route's key: a
/// connection opened with one identity (one set of trusted roots, one client
/// certificate) is never leased to a request that asked for another. Apache HttpClient
/// keys connections made with a client certificate implicitly, through the user token
/// its `DefaultUserTokenHandler` derives from the TLS session, and users lose reuse
/// without knowing why; here the identity is explicit, named, and each has its own
/// routes in the pool's statistics.
///
/// Two identities are the same when they have the same name and were made from the
/// same `ClientConfig` (the same `Arc`, as given to [`new`](Self::new), whether or not
/// hcx had to copy it to set ALPN). Sessions are resumed across new connections of
/// one identity: rustls keeps the session cache in its `ClientConfig`.
///
/// ```
/// use std::sync::Arc;
/// use hcx_exec::TlsIdentity;
///
/// let mut roots = rustls::RootCertStore::empty();
/// roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
/// let config = rustls::ClientConfig::builder_with_provider(hcx_exec::crypto_provider())
///     .with_safe_default_protocol_versions()?
/// .with_root_certificates(roots)
/// .with_no_client_auth();
/// let identity = TlsIdentity::new("tenant-a", Arc::new(config));
/// assert_eq!(identity.name(), "tenant-a");
/// assert_eq!(identity.config().alpn_protocols, [b"http/1.1".to_vec()]);
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
pub struct TlsIdentity {
    name: Arc<str>,
    /// What connections are made with: the caller's config, or a copy of it offering
    /// only `http/1.1` in ALPN.
    config: Arc<ClientConfig>,
    /// The config as the caller gave it, which the identity is compared and hashed by:
    /// two identities made from one `Arc` are one, though each `new` made its own
    /// copy. Held, so its address cannot be reused by another config while this
    /// identity lives.
    origin: Arc<ClientConfig>,
}

impl TlsIdentity {
    /// An identity named `name` (for statistics and messages) using `config`. hcx
    /// speaks HTTP/1.1 only, so the config must offer `http/1.1` alone in ALPN: one
    /// offering nothing or more (a config shared with an HTTP/2 client offers `h2`
    /// first) is replaced by a copy offering `http/1.1`, so no server can pick a
    /// protocol hcx would then not speak (RFC 7301 §3.2).
    pub fn new(name: &str, config: Arc<ClientConfig>) -> Self {
        let only_http11 = matches!(config.alpn_protocols.as_slice(), [p] if p == b"http/1.1");
        let origin = config;
        let config = if !only_http11 {
            // The copy shares the original's session store (`Resumption` holds an
            // `Arc`), so identities made from one config resume each other's sessions.
            let mut copy = (*origin).clone();
            copy.alpn_protocols = vec![b"http/1.1".to_vec()];
            Arc::new(copy)
        } else {
            Arc::clone(&origin)
        };
        TlsIdentity {
            name: Arc::from(name),
            config,
            origin,
        }
    }

    /// The default identity: the Mozilla roots bundled in `webpki-roots` (as the JVM
    /// ships its own `cacerts`), no client certificate, rustls' safe defaults (TLS 1.2
    /// and 1.3) with [`crypto_provider`], ALPN `http/1.1`. One per process, so every
    /// client shares its session cache.
    ///
    /// To trust the platform's store instead, build a `ClientConfig` from the
    /// `rustls-native-certs` crate's certificates and pass it with
    /// [`TlsIdentity::new`] (or the client builder's `tls_config`).
    pub fn webpki_roots() -> Self {
        static DEFAULT: OnceLock<TlsIdentity> = OnceLock::new();
        DEFAULT
            .get_or_init(|| {
                let mut roots = rustls::RootCertStore::empty();
                roots.extend(webpki_roots::TLS_SERVER_ROOTS.iter().cloned());
                // A provider the application installed may lack TLS 1.2 and 1.3 suites
                // (a restricted one): then the default identity uses the ring fallback.
                let builder = ClientConfig::builder_with_provider(crypto_provider())
                    .with_safe_default_protocol_versions()
                    .or_else(|_| {
                        ClientConfig::builder_with_provider(ring_provider())
                            .with_safe_default_protocol_versions()
                    });
                let mut config = match builder {
                    Ok(builder) => builder.with_root_certificates(roots).with_no_client_auth(),
                    // Fixed input: ring's own suites cover TLS 1.2 and 1.3.
                    Err(e) => unreachable!("ring's provider lacks TLS 1.2 and 1.3: {e}"),
                };
                config.resumption = Resumption::in_memory_sessions(SESSIONS);
                TlsIdentity::new("default", Arc::new(config))
            })
            .clone()
    }

    /// An identity named `name` that trusts only `roots` (a private CA, a test CA),
    /// otherwise as [`webpki_roots`](Self::webpki_roots): no client certificate,
    /// rustls' safe defaults with [`crypto_provider`], ALPN `http/1.1`. Apache:
    /// `SSLContextBuilder.loadTrustMaterial`.
    pub fn trusting(name: &str, roots: rustls::RootCertStore) -> Result<Self, rustls::Error> {
        let mut config = ClientConfig::builder_with_provider(crypto_provider())
            .with_safe_default_protocol_versions()?
            .with_root_certificates(roots)
            .with_no_client_auth();
        config.resumption = Resumption::in_memory_sessions(SESSIONS);
        Ok(TlsIdentity::new(name, Arc::new(config)))
    }

    /// The identity's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The rustls configuration.
    pub fn config(&self) -> &Arc<ClientConfig> {
        &self.config
    }
}

/// The rustls crypto provider hcx builds its default configuration with: the
/// process-wide default if the application installed one
/// (`CryptoProvider::install_default`, e.g. `aws-lc-rs` for post-quantum key
/// exchange), otherwise the `ring` provider, which builds with the system C compiler
/// alone (no cmake, unlike `aws-lc-rs`), with X25519 as its first key exchange group (then P-256, then P-384).
///
/// rustls 0.23.48 deprecates `ring`'s provider because it lacks post-quantum key
/// exchange; applications that need that install `aws-lc-rs` as the default and hcx
/// follows it.
pub fn crypto_provider() -> Arc<rustls::crypto::CryptoProvider> {
    match rustls::crypto::CryptoProvider::get_default() {
        Some(installed) => Arc::clone(installed),
        None => ring_provider(),
    }
}

/// rustls' ring provider with X25519 first (see [`crypto_provider`]).
fn ring_provider() -> Arc<rustls::crypto::CryptoProvider> {
    static RING: OnceLock<Arc<rustls::crypto::CryptoProvider>> = OnceLock::new();
    let ring = RING.get_or_init(|| {
        #[allow(deprecated)] // see above: the fallback that needs no C toolchain
        let mut provider = rustls::crypto::ring::default_provider();
        // X25519 first: the client sends a key share for its first group only, and
        // with ring's P-384 (its default first) a full handshake on loopback takes
        // about four times as long as with X25519 (docs/benchmarks.md, "HTTPS").
        use rustls::crypto::ring::kx_group::{SECP256R1, SECP384R1, X25519};
        provider.kx_groups = vec![X25519, SECP256R1, SECP384R1];
        Arc::new(provider)
    });
    Arc::clone(ring)
}

impl PartialEq for TlsIdentity {
    fn eq(&self, other: &Self) -> bool {
        self.name == other.name && Arc::ptr_eq(&self.origin, &other.origin)
    }
}

impl Eq for TlsIdentity {}

impl Hash for TlsIdentity {
    fn hash<H: Hasher>(&self, state: &mut H) {
        self.name.hash(state);
        Arc::as_ptr(&self.origin).hash(state);
    }
}

impl fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "TlsIdentity({:?})", self.name)
    }
}

/// A TLS connection: rustls over a TCP stream (direct, or a proxy tunnel).
pub(crate) struct TlsTransport {
    stream: StreamOwned<ClientConnection, Socket>,
    session: TlsSession,
    /// The peer closed TCP without a `close_notify`: reads return end of stream, and
    /// [`Transport::end_unconfirmed`] says it was not a clean close.
    unclean_eof: bool,
    /// rustls failed behind plaintext returned since: no more socket reads.
    failed: bool,
}

/// The TCP stream under rustls, noting whether its last read filled the buffer rustls
/// gave it: whether a read of plaintext filled the caller's buffer says nothing of
/// the socket (rustls reads records in 4 KiB steps and returns at a whole record),
/// and bytes behind a response are looked for when the socket's read was full.
struct Socket {
    /// Shared with the manager's list of live connections and with an abort.
    tcp: Arc<TcpStream>,
    filled: bool,
}

impl Read for Socket {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = (&*self.tcp).read(buf)?;
        self.filled = n == buf.len();
        Ok(n)
    }
}

impl Write for Socket {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        (&*self.tcp).write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        (&*self.tcp).flush()
    }
}

/// Where [`TlsTransport::write_or_incoming`] writes records: the TCP socket, never
/// blocking. With `wait`, a full socket waits for room or input (input is noted in
/// `incoming`, and ends the write as "would block"); without, it would block at once.
#[cfg(target_os = "linux")]
struct Records<'a> {
    tcp: &'a TcpStream,
    timeout: Option<Duration>,
    wait: bool,
    incoming: bool,
}

#[cfg(target_os = "linux")]
impl Write for Records<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if !self.wait {
            return send_nonblocking(self.tcp, buf);
        }
        match tcp_write_or_incoming(self.tcp, buf, self.timeout)? {
            Written::Bytes(n) => Ok(n),
            Written::Incoming => {
                self.incoming = true;
                Err(io::ErrorKind::WouldBlock.into())
            }
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Writes out the records `conn` holds, each write waiting for room or input:
/// `true` when input came first (records may still be held), `false` once all are
/// out.
#[cfg(target_os = "linux")]
fn push_held(
    conn: &mut ClientConnection,
    tcp: &TcpStream,
    timeout: Option<Duration>,
) -> io::Result<bool> {
    let mut records = Records {
        tcp,
        timeout,
        wait: true,
        incoming: false,
    };
    while conn.wants_write() {
        match conn.write_tls(&mut records) {
            Ok(_) => {}
            Err(_) if records.incoming => return Ok(true),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(false)
}

/// The socket while the handshake runs: every read and write waits at most what is
/// left of the connect timeout (none left: a timeout at once).
struct Handshaking<'a> {
    sock: &'a mut Socket,
    deadline: Option<Instant>,
}

impl Handshaking<'_> {
    fn bound(&self) -> io::Result<()> {
        let left = self
            .deadline
            .map(|d| d.saturating_duration_since(Instant::now()));
        if left.is_some_and(|l| l.is_zero()) {
            return Err(io::ErrorKind::TimedOut.into());
        }
        set_tcp_timeout(&self.sock.tcp, left)
    }
}

impl Read for Handshaking<'_> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.bound()?;
        self.sock.read(buf)
    }
}

impl Write for Handshaking<'_> {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.bound()?;
        self.sock.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.sock.flush()
    }
}

/// Runs the TLS handshake with `host` over `sock` within `deadline`.
pub(crate) fn handshake(
    identity: &TlsIdentity,
    host: &str,
    port: u16,
    tcp: Arc<TcpStream>,
    deadline: Option<Instant>,
    connect_timeout: Duration,
) -> Result<TlsTransport, Error> {
    let mut sock = Socket { tcp, filled: false };
    let target = HostPort(host, port);
    let name = ServerName::try_from(host.to_owned()).map_err(|e| {
        Error::new(
            ErrorKind::InvalidUrl,
            format!("{host} is not a name TLS can verify"),
        )
        .with_source(e)
    })?;
    let mut conn = ClientConnection::new(Arc::clone(identity.config()), name).map_err(|e| {
        Error::new(ErrorKind::Tls, format!("cannot start TLS with {target}")).with_source(e)
    })?;
    // rustls reads until the handshake is done: each read is bounded by what is left
    // then, or a peer trickling its records stretches it past the deadline.
    let mut bounded = Handshaking {
        sock: &mut sock,
        deadline,
    };
    while conn.is_handshaking() {
        if let Err(e) = conn.complete_io(&mut bounded) {
            return Err(if is_timeout(&e) {
                handshake_timeout(host, port, connect_timeout, e)
            } else {
                handshake_error(host, port, e)
            });
        }
    }
    set_tcp_timeout(&sock.tcp, None)
        .map_err(|e| Error::exchange_io(e, "clearing the TLS handshake timeout", None))?;
    let session = TlsSession {
        version: conn
            .protocol_version()
            .map_or_else(String::new, |v| format!("{v:?}")),
        cipher_suite: conn
            .negotiated_cipher_suite()
            .map_or_else(String::new, |s| format!("{:?}", s.suite())),
        resumed: conn.handshake_kind() == Some(rustls::HandshakeKind::Resumed),
        alpn: conn
            .alpn_protocol()
            .map(|p| String::from_utf8_lossy(p).into_owned()),
    };
    // Only `http/1.1` is offered (`TlsIdentity::new`); a server that names another
    // protocol anyway would be spoken to in one it did not agree to.
    if let Some(other) = session.alpn.as_deref().filter(|p| *p != "http/1.1") {
        return Err(Error::new(
            ErrorKind::Tls,
            format!("TLS with {target}: the server chose ALPN protocol {other:?}, not http/1.1"),
        ));
    }
    Ok(TlsTransport {
        stream: StreamOwned::new(conn, sock),
        session,
        unclean_eof: false,
        failed: false,
    })
}

fn handshake_timeout(host: &str, port: u16, timeout: Duration, cause: io::Error) -> Error {
    let target = HostPort(host, port);
    Error::new(
        ErrorKind::ConnectTimeout,
        format!("TLS handshake with {target} not done within the connect timeout of {timeout:?}"),
    )
    .with_source(cause)
}

/// A failed handshake, saying which name or which issuer failed when rustls says so.
fn handshake_error(host: &str, port: u16, e: io::Error) -> Error {
    let target = HostPort(host, port);
    let what = match e
        .get_ref()
        .and_then(|inner| inner.downcast_ref::<rustls::Error>())
    {
        Some(rustls::Error::InvalidCertificate(cert)) => match cert {
            CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. } => {
                format!("the certificate of {target} is not valid for the name {host}")
            }
            CertificateError::UnknownIssuer => format!(
                "the certificate of {target} is signed by an issuer this client does not trust"
            ),
            CertificateError::Expired | CertificateError::ExpiredContext { .. } => {
                format!("the certificate of {target} has expired")
            }
            _ => format!("the certificate of {target} was rejected"),
        },
        // The first bytes back are no TLS record: a server speaking plain HTTP (or
        // another protocol) on that port, the usual `https://` slip.
        Some(rustls::Error::InvalidMessage(InvalidMessage::InvalidContentType)) => {
            format!("{target} did not answer the TLS handshake in TLS (a plain HTTP port?)")
        }
        Some(rustls::Error::AlertReceived(alert)) => {
            format!("{target} ended the TLS handshake with the alert {alert:?}")
        }
        Some(_) => format!("TLS handshake with {target} failed"),
        None if e.kind() == io::ErrorKind::UnexpectedEof => {
            format!("{target} closed the connection during the TLS handshake")
        }
        None => format!("I/O error during the TLS handshake with {target}"),
    };
    Error::new(ErrorKind::Tls, what).with_source(e)
}

impl TlsTransport {
    /// What rustls holds now, without I/O: decrypted plaintext nobody read (or a TLS
    /// error: the connection is unusable either way) is bytes, a `close_notify` is the
    /// peer closing.
    fn taken_in(&mut self) -> Leftover {
        match self.stream.conn.process_new_packets() {
            Ok(state) if state.plaintext_bytes_to_read() > 0 => Leftover::Bytes,
            Ok(state) if state.peer_has_closed() => Leftover::Closed,
            Ok(_) => Leftover::Nothing,
            Err(_) => Leftover::Bytes,
        }
    }

    /// Reads whatever records are waiting, without blocking. `true` when the
    /// connection cannot carry a request: end of stream, `close_notify`, application
    /// data nobody asked for, or an error. Handshake records that come unasked (TLS 1.3
    /// session tickets) are taken in, and do not make the connection stale.
    fn drain_records(&mut self) -> bool {
        let sock = &*self.stream.sock.tcp;
        if sock.set_nonblocking(true).is_err() {
            return true;
        }
        let conn = &mut self.stream.conn;
        let stale = loop {
            match conn.read_tls(&mut &*sock) {
                Ok(0) => break true,
                Ok(_) => match conn.process_new_packets() {
                    Ok(state) if state.plaintext_bytes_to_read() > 0 => break true,
                    Ok(state) if state.peer_has_closed() => break true,
                    Ok(_) => {}
                    Err(_) => break true,
                },
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break false,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => break true,
            }
        };
        sock.set_nonblocking(false).is_err() || stale
    }

    /// rustls' own read, unless it still holds records of the request (an upload an
    /// answer or a `close_notify` stopped, the server reading nothing more): its read
    /// would first push them all out, blocked until the timeout. Here they go out as
    /// the socket takes them, and input, once it comes, is read first; what rustls
    /// holds of the answer, the end of stream after a `close_notify` too, without I/O.
    #[cfg(target_os = "linux")]
    fn read_or_push(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if !self.stream.conn.wants_write() {
            return self.stream.read(buf);
        }
        let timeout = self.stream.sock.tcp.write_timeout()?;
        let conn = &mut self.stream.conn;
        loop {
            match conn.reader().read(buf) {
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => {}
                read => return read,
            }
            // All out, or input came first: either way the read will not block on
            // a server that reads nothing more.
            push_held(conn, &self.stream.sock.tcp, timeout)?;
            conn.read_tls(&mut self.stream.sock)?;
            conn.process_new_packets()
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        }
    }

    #[cfg(not(target_os = "linux"))]
    fn read_or_push(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.stream.read(buf)
    }
}

impl Read for TlsTransport {
    /// rustls reports a TCP end of stream without `close_notify` as an
    /// `UnexpectedEof` error; here it is an end of stream like any other (a response
    /// head or a body with a length cut short there is incomplete, as over TCP), noted
    /// for [`Transport::end_unconfirmed`] (a body delimited by the close must not end
    /// there). A record rustls rejects behind records it already decrypted does not
    /// lose their plaintext: it is read first, and the error comes at the next read
    /// (the connection is never pooled: `taken_in` sees the error).
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.unclean_eof {
            return Ok(0);
        }
        if self.failed {
            return match self.stream.conn.reader().read(buf) {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(match self.stream.conn.process_new_packets() {
                    Err(e) => io::Error::new(io::ErrorKind::InvalidData, e),
                    Ok(_) => io::Error::new(io::ErrorKind::InvalidData, "TLS failed"),
                }),
            };
        }
        match self.read_or_push(buf) {
            Err(e)
                if e.kind() == io::ErrorKind::UnexpectedEof
                    && e.get_ref().is_none_or(|inner| !inner.is::<rustls::Error>()) =>
            {
                self.unclean_eof = true;
                Ok(0)
            }
            Err(e) if e.kind() == io::ErrorKind::InvalidData => {
                match self.stream.conn.reader().read(buf) {
                    Ok(n) if n > 0 => {
                        self.failed = true;
                        Ok(n)
                    }
                    _ => Err(e),
                }
            }
            other => other,
        }
    }
}

impl Drop for TlsTransport {
    /// Sends `close_notify` (RFC 8446 §6.1: each party must before closing its write
    /// side; JSSE's `SSLSocket.close()` under Apache does), so that the server sees a
    /// clean close and not a possible truncation. One write on a non-blocking socket,
    /// its outcome ignored: a close never waits for the peer.
    fn drop(&mut self) {
        let sock = &*self.stream.sock.tcp;
        if sock.set_nonblocking(true).is_err() {
            return;
        }
        self.stream.conn.send_close_notify();
        let _ = self.stream.conn.write_tls(&mut &*sock);
    }
}

impl Write for TlsTransport {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.stream.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.stream.flush()
    }
}

impl Transport for TlsTransport {
    /// Peeks at the TCP socket first (one non-blocking `recv(MSG_PEEK)`); only when
    /// something is there are the TLS records read and judged: a `close_notify` or an
    /// end of stream is stale, a session ticket is not.
    ///
    /// A `close_notify` rustls already took in (with the last response's records, or
    /// by an earlier look) is stale too, though the socket may still be open.
    fn is_stale(&mut self) -> bool {
        if self.taken_in() != Leftover::Nothing {
            return true;
        }
        if !tcp_is_stale(&self.stream.sock.tcp) {
            return false;
        }
        self.drain_records()
    }

    fn set_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        set_tcp_timeout(&self.stream.sock.tcp, timeout)
    }

    /// The records rustls holds go out first, each write of them waiting for room or
    /// input; then `buf` is taken in (encrypted into records) and as much of them
    /// written as the socket takes at once: the rest goes first at the next write (an
    /// empty one, after each piece of the body, pushes out only those), or at the
    /// flush after the last.
    #[cfg(target_os = "linux")]
    fn write_or_incoming(&mut self, buf: &[u8], timeout: Option<Duration>) -> io::Result<Written> {
        let conn = &mut self.stream.conn;
        let tcp = &*self.stream.sock.tcp;
        if push_held(conn, tcp, timeout)? {
            return Ok(Written::Incoming);
        }
        let n = conn.writer().write(buf)?;
        let mut at_once = Records {
            tcp,
            timeout,
            wait: false,
            incoming: false,
        };
        while conn.wants_write() {
            match conn.write_tls(&mut at_once) {
                Ok(_) => {}
                Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
        Ok(Written::Bytes(n))
    }

    fn peer_addr(&self) -> Option<SocketAddr> {
        self.stream.sock.tcp.peer_addr().ok()
    }

    fn local_addr(&self) -> Option<SocketAddr> {
        self.stream.sock.tcp.local_addr().ok()
    }

    /// What rustls already took in; when its last read of the socket filled its
    /// buffer (the records may end exactly there: `read_filled`, about the plaintext,
    /// says nothing of them) and bytes wait, the records there too, read without
    /// blocking (a session ticket among them is taken in, and is nothing).
    fn leftover(&mut self, _read_filled: bool) -> Leftover {
        let seen = self.taken_in();
        if seen == Leftover::Nothing
            && self.stream.sock.filled
            && has_waiting_bytes(&self.stream.sock.tcp)
        {
            self.drain_records();
            return self.taken_in();
        }
        seen
    }

    fn tls_session(&self) -> Option<TlsSession> {
        Some(self.session.clone())
    }

    fn end_unconfirmed(&self) -> bool {
        self.unclean_eof
    }

    /// The TCP socket under the TLS records: shut down, it ends a blocked read.
    fn abort_socket(&self) -> Option<SocketHandle> {
        Some(SocketHandle::shared(Arc::clone(&self.stream.sock.tcp)))
    }
}

impl fmt::Debug for TlsTransport {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TlsTransport")
            .field("peer", &self.stream.sock.tcp.peer_addr().ok())
            .field("protocol", &self.stream.conn.protocol_version())
            .finish()
    }
}
