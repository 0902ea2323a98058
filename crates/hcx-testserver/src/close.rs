//! Why the server closed a connection.

use std::fmt;

/// Why the server closed a connection, recorded in its
/// [`ConnectionInfo`](crate::ConnectionInfo).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
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
    /// The server was shut down.
    Shutdown,
}

impl CloseReason {
    /// A short phrase for logs.
    pub fn explain(self) -> &'static str {
        match self {
            CloseReason::ClientClosed => "client closed the connection",
            CloseReason::ClientAskedClose => "request said Connection: close",
            CloseReason::Http10Request => "HTTP/1.0 request without keep-alive",
            CloseReason::Http10Reply => "HTTP/1.0 response without keep-alive",
            CloseReason::CloseAfter => "close-after count reached",
            CloseReason::SilentClose => "silent close count reached",
            CloseReason::IdleTimeout => "idle timeout",
            CloseReason::CloseDelimitedBody => "close-delimited response body",
            CloseReason::TruncatedBody => "response body truncated on purpose",
            CloseReason::ReplyClosed => "the reply closed the connection",
            CloseReason::ExpectationNotMet => "final response to Expect: 100-continue",
            CloseReason::AmbiguousFraming => "request had Transfer-Encoding and Content-Length",
            CloseReason::ProtocolError => "protocol error",
            CloseReason::Io => "I/O error",
            CloseReason::HandlerPanicked => "handler panicked",
            CloseReason::Shutdown => "server shut down",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explain())
    }
}
