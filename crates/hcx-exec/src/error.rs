//! The one public error of the exec engine.

use std::error::Error as StdError;
use std::fmt;
use std::io;

type Source = Box<dyn StdError + Send + Sync + 'static>;

/// Why a request failed.
///
/// One opaque type with a private kind (hyper's model): the `is_*` predicates give the
/// distinctions callers and the retry layer need, [`source`](StdError::source) gives
/// the cause (an [`io::Error`], an [`hcx_h1::Error`], an [`hcx_pool::LeaseError`] …),
/// and the message says what happened with what values.
///
/// Apache HttpClient spreads these over exception classes: `ConnectException`,
/// `ConnectTimeoutException`, `ConnectionRequestTimeoutException`,
/// `SocketTimeoutException`, `NoHttpResponseException`, `ConnectionClosedException`,
/// `ProtocolException`, `IOException`, `IllegalStateException` (pool shut down).
pub struct Error {
    inner: Box<Inner>,
}

struct Inner {
    kind: Kind,
    message: String,
    source: Option<Source>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Connect,
    ConnectTimeout,
    LeaseTimeout,
    ResponseTimeout,
    ClosedBeforeResponse,
    IncompleteBody,
    Protocol(hcx_h1::ErrorKind),
    Io,
    Shutdown,
    InvalidRequest,
    Config,
}

impl Error {
    pub(crate) fn new(kind: Kind, message: impl Into<String>) -> Self {
        Error {
            inner: Box::new(Inner {
                kind,
                message: message.into(),
                source: None,
            }),
        }
    }

    pub(crate) fn with_source(mut self, source: impl Into<Source>) -> Self {
        self.inner.source = Some(source.into());
        self
    }

    pub(crate) fn kind(&self) -> Kind {
        self.inner.kind
    }

    /// An I/O error during an exchange: a timeout of the socket becomes a response
    /// timeout, anything else stays I/O. `what` says what was being done.
    pub(crate) fn exchange_io(
        e: io::Error,
        what: &str,
        timeout: Option<std::time::Duration>,
    ) -> Self {
        if is_timeout(&e) {
            let after = timeout.map_or_else(String::new, |t| format!(" after {t:?}"));
            Error::new(
                Kind::ResponseTimeout,
                format!("response timeout{after} while {what}"),
            )
            .with_source(e)
        } else {
            Error::new(Kind::Io, format!("I/O error while {what}: {e}")).with_source(e)
        }
    }

    /// A codec error reading a response: truncation or a protocol violation.
    pub(crate) fn from_h1(e: hcx_h1::Error) -> Self {
        let kind = if e.is_incomplete_body() {
            Kind::IncompleteBody
        } else {
            Kind::Protocol(e.kind())
        };
        Error::new(kind, e.to_string()).with_source(e)
    }

    /// A pool lease that failed.
    pub(crate) fn from_lease(e: hcx_pool::LeaseError) -> Self {
        let kind = if e.is_shutdown() {
            Kind::Shutdown
        } else {
            Kind::LeaseTimeout
        };
        Error::new(kind, e.to_string()).with_source(e)
    }

    /// Could not connect (refused, unreachable, name not resolved).
    pub fn is_connect(&self) -> bool {
        matches!(self.kind(), Kind::Connect | Kind::ConnectTimeout)
    }

    /// The connect timeout ran out (Apache: `ConnectTimeoutException`). Also
    /// [`is_connect`](Self::is_connect).
    pub fn is_connect_timeout(&self) -> bool {
        self.kind() == Kind::ConnectTimeout
    }

    /// No connection came free in the pool within the connection request timeout
    /// (Apache: `ConnectionRequestTimeoutException`).
    pub fn is_lease_timeout(&self) -> bool {
        self.kind() == Kind::LeaseTimeout
    }

    /// The server did not answer (or send more of the body) within the response
    /// timeout (Apache: `SocketTimeoutException` from `responseTimeout`).
    pub fn is_response_timeout(&self) -> bool {
        self.kind() == Kind::ResponseTimeout
    }

    /// Either timeout of the exchange: connect or response (not the pool's).
    pub fn is_timeout(&self) -> bool {
        matches!(self.kind(), Kind::ConnectTimeout | Kind::ResponseTimeout)
    }

    /// The connection closed (or was reset) before any byte of the response arrived
    /// (Apache: `NoHttpResponseException`). The request may or may not have been
    /// processed: the retry layer replays only what is safe to replay.
    pub fn is_closed_before_response(&self) -> bool {
        self.kind() == Kind::ClosedBeforeResponse
    }

    /// The connection closed before the end of the response body (Apache:
    /// `ConnectionClosedException` / `TruncatedChunkException`).
    pub fn is_incomplete_body(&self) -> bool {
        self.kind() == Kind::IncompleteBody
    }

    /// The server broke HTTP/1.1: a status line that is not HTTP, a bad chunk size,
    /// conflicting `Content-Length`s … (Apache: `ProtocolException`). The detail is
    /// [`protocol_error`](Self::protocol_error).
    pub fn is_protocol(&self) -> bool {
        matches!(self.kind(), Kind::Protocol(_))
    }

    /// What the protocol violation was, for a protocol error.
    pub fn protocol_error(&self) -> Option<hcx_h1::ErrorKind> {
        match self.kind() {
            Kind::Protocol(kind) => Some(kind),
            _ => None,
        }
    }

    /// Any other I/O error during the exchange (a reset in the middle, a broken pipe
    /// while sending the body, a request body reader that failed).
    pub fn is_io(&self) -> bool {
        self.kind() == Kind::Io
    }

    /// The connection manager was shut down.
    pub fn is_shutdown(&self) -> bool {
        self.kind() == Kind::Shutdown
    }

    /// The request cannot be sent: no scheme or host, an unsupported scheme, a header
    /// value with CR/LF, framing headers that contradict the body … Nothing was sent.
    /// (A sized body reader that ends short is found only while sending: that is
    /// [`is_io`](Self::is_io).)
    pub fn is_invalid_request(&self) -> bool {
        self.kind() == Kind::InvalidRequest
    }

    /// A configuration value cannot be used (a pool limit of zero …).
    pub fn is_config(&self) -> bool {
        self.kind() == Kind::Config
    }

    /// Wraps this error in an [`io::Error`] of the matching kind, for `Read`.
    pub(crate) fn into_io(self) -> io::Error {
        let kind = match self.kind() {
            Kind::ResponseTimeout | Kind::ConnectTimeout | Kind::LeaseTimeout => {
                io::ErrorKind::TimedOut
            }
            Kind::IncompleteBody | Kind::ClosedBeforeResponse => io::ErrorKind::UnexpectedEof,
            Kind::Protocol(_) => io::ErrorKind::InvalidData,
            _ => io::ErrorKind::Other,
        };
        io::Error::new(kind, self)
    }

    /// Takes an hcx error back out of an [`io::Error`] made by [`into_io`]; wraps any
    /// other one as I/O.
    pub(crate) fn from_io(e: io::Error) -> Self {
        if e.get_ref().is_some_and(|inner| inner.is::<Error>()) {
            if let Some(inner) = e.into_inner() {
                if let Ok(error) = inner.downcast::<Error>() {
                    return *error;
                }
            }
            return Error::new(Kind::Io, "I/O error");
        }
        let message = format!("I/O error: {e}");
        Error::new(Kind::Io, message).with_source(e)
    }
}

/// A socket timeout shows as `WouldBlock` on Unix and `TimedOut` on Windows.
pub(crate) fn is_timeout(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::WouldBlock | io::ErrorKind::TimedOut
    )
}

impl From<http::Error> for Error {
    /// A request that could not be built (a bad URI, header name or value).
    fn from(e: http::Error) -> Self {
        Error::new(Kind::InvalidRequest, format!("invalid request: {e}")).with_source(e)
    }
}

impl From<http::header::MaxSizeReached> for Error {
    /// Headers beyond what an `http::HeaderMap` can hold (32,768 entries).
    fn from(e: http::header::MaxSizeReached) -> Self {
        Error::new(
            Kind::InvalidRequest,
            "invalid request: more header fields than a HeaderMap holds",
        )
        .with_source(e)
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.inner.message)
    }
}

impl fmt::Debug for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Error");
        d.field("kind", &self.inner.kind)
            .field("message", &self.inner.message);
        if let Some(source) = &self.inner.source {
            d.field("source", source);
        }
        d.finish()
    }
}

impl StdError for Error {
    fn source(&self) -> Option<&(dyn StdError + 'static)> {
        self.inner
            .source
            .as_ref()
            .map(|s| &**s as &(dyn StdError + 'static))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn socket_timeouts_become_response_timeouts_with_the_value() {
        let e = io::Error::from(io::ErrorKind::WouldBlock);
        let err = Error::exchange_io(
            e,
            "reading the response head",
            Some(std::time::Duration::from_millis(50)),
        );
        assert!(err.is_response_timeout() && err.is_timeout());
        assert!(err.to_string().contains("50ms"), "{err}");
        assert!(err.source().is_some());
    }

    #[test]
    fn errors_survive_a_round_trip_through_io_error() {
        let err = Error::new(Kind::IncompleteBody, "closed after 3 of 10 bytes");
        let io = err.into_io();
        assert_eq!(io.kind(), io::ErrorKind::UnexpectedEof);
        let back = Error::from_io(io);
        assert!(back.is_incomplete_body());
        assert_eq!(back.to_string(), "closed after 3 of 10 bytes");
        let plain = Error::from_io(io::Error::other("disk on fire"));
        assert!(plain.is_io());
    }

    #[test]
    fn protocol_errors_keep_their_codec_kind() {
        let mut buf = bytes::BytesMut::from(&b"SSH-2.0-OpenSSH\r\n"[..]);
        let codec = hcx_h1::take_response_head(&mut buf, &hcx_h1::Limits::default())
            .err()
            .map(Error::from_h1);
        let err = codec.expect("not HTTP is an error");
        assert!(err.is_protocol());
        assert_eq!(err.protocol_error(), Some(hcx_h1::ErrorKind::NotHttp));
    }
}
