//! Why the server closed a connection.

use std::fmt;

/// Why the *test server* closed a connection, recorded in its
/// [`ConnectionInfo`](crate::ConnectionInfo). The server's own record, for tests to
/// check what the peer did; the client's vocabulary for its closes is
/// `hcx::CloseReason`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ServerCloseReason {
    /// The client closed its side (or reset) between requests.
    ClientClosed,
    /// The request carried `Connection: close`.
    ClientAskedClose,
    /// An HTTP/1.0 request without `Connection: keep-alive`.
    Http10Request,
    /// An HTTP/1.0 response without `Connection: keep-alive`.
    Http10Reply,
    /// The configured `close_after` count was reached (`Connection: close` sent).
    CloseAfter,
    /// The configured silent close was reached (no header, maybe no response).
    SilentClose,
    /// Idle longer than the configured idle timeout while waiting for a request.
    IdleTimeout,
    /// The reply was close-delimited.
    CloseDelimitedBody,
    /// The reply's body was truncated on purpose.
    TruncatedBody,
    /// The reply asked for it: `connection_close`, `then_close` or `no_response`.
    ReplyClosed,
    /// A final response was sent to an `Expect: 100-continue` request whose body was
    /// not read.
    ExpectationNotMet,
    /// The request had both `Transfer-Encoding` and `Content-Length` (RFC 9112 §6.3
    /// rule 3: close after responding).
    AmbiguousFraming,
    /// The request was malformed or over a limit; see the server's errors.
    ProtocolError,
    /// A read or write failed; see the server's errors.
    Io,
    /// A handler panicked (the client got a `500`).
    HandlerPanicked,
    /// The TLS handshake failed (the client rejected the server's certificate, sent
    /// none when one was required, spoke no TLS...); see the server's errors.
    TlsHandshakeFailed,
    /// The emulated middlebox had forgotten the idle flow (see
    /// [`silent_drop_after`](crate::TestServerBuilder::silent_drop_after)): the next
    /// request was answered with a reset, without being read.
    SilentDrop,
    /// The server was shut down.
    Shutdown,
}

impl ServerCloseReason {
    /// A short phrase for logs.
    pub fn explain(self) -> &'static str {
        match self {
            ServerCloseReason::ClientClosed => "client closed the connection",
            ServerCloseReason::ClientAskedClose => "request said Connection: close",
            ServerCloseReason::Http10Request => "HTTP/1.0 request without keep-alive",
            ServerCloseReason::Http10Reply => "HTTP/1.0 response without keep-alive",
            ServerCloseReason::CloseAfter => "close-after count reached",
            ServerCloseReason::SilentClose => "silent close count reached",
            ServerCloseReason::IdleTimeout => "idle timeout",
            ServerCloseReason::CloseDelimitedBody => "close-delimited response body",
            ServerCloseReason::TruncatedBody => "response body truncated on purpose",
            ServerCloseReason::ReplyClosed => "the reply closed the connection",
            ServerCloseReason::ExpectationNotMet => "final response to Expect: 100-continue",
            ServerCloseReason::AmbiguousFraming => {
                "request had Transfer-Encoding and Content-Length"
            }
            ServerCloseReason::ProtocolError => "protocol error",
            ServerCloseReason::Io => "I/O error",
            ServerCloseReason::HandlerPanicked => "handler panicked",
            ServerCloseReason::TlsHandshakeFailed => "TLS handshake failed",
            ServerCloseReason::SilentDrop => "idle flow forgotten by the middlebox: reset",
            ServerCloseReason::Shutdown => "server shut down",
        }
    }
}

impl fmt::Display for ServerCloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explain())
    }
}
