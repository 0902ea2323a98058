//! The reuse decision and why a connection must close.

use std::fmt;

/// Whether a connection may carry another exchange after this one.
///
/// Apache HttpClient's `ConnectionReuseStrategy.keepAlive(…)` returns a bare `boolean`;
/// here "no" always carries a [`CloseReason`], so logs, statistics and `hcx get -v` can
/// answer "why wasn't my connection reused?".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Reuse {
    /// The connection may be reused (Apache: `keepAlive` returns `true`). How long it
    /// may then stay idle is the [`KeepAliveStrategy`](crate::KeepAliveStrategy)'s call.
    KeepAlive,
    /// The connection must be closed once the response has been handled.
    Close(CloseReason),
}

impl Reuse {
    /// Whether the connection may be reused.
    pub fn is_keep_alive(&self) -> bool {
        matches!(self, Reuse::KeepAlive)
    }

    /// Why the connection must close, if it must.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self {
            Reuse::KeepAlive => None,
            Reuse::Close(reason) => Some(*reason),
        }
    }
}

impl fmt::Display for Reuse {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Reuse::KeepAlive => f.write_str("keep alive"),
            Reuse::Close(reason) => write!(f, "close: {reason}"),
        }
    }
}

/// Why a connection cannot carry another exchange. Each has a short
/// [`explain`](Self::explain)ation, which is also its `Display`.
///
/// The RFC section behind each rule is in `docs/reuse.md`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The request carried a `close` connection option (RFC 9112 §9.6).
    RequestConnectionClose,
    /// A request `Connection` header is not a list of tokens, so the server may have
    /// read it as `close`.
    RequestConnectionMalformed,
    /// The request had both `Content-Length` and `Transfer-Encoding`; the server must
    /// close after responding (RFC 9112 §6.1).
    RequestContentLengthWithTransferEncoding,
    /// The request body was not sent completely (the server answered early), so the
    /// unsent rest cannot be told apart from a next request.
    RequestBodyIncomplete,
    /// A `101 Switching Protocols` response: the connection now speaks another protocol.
    SwitchingProtocols,
    /// The request was HTTP/1.0 without a `keep-alive` connection option, so the server
    /// closes after its response (RFC 9112 §9.3).
    Http10RequestWithoutKeepAlive,
    /// A 2xx response to CONNECT: the connection is now a tunnel to another host. It
    /// belongs to whoever asked for the tunnel and is never pooled as a connection to
    /// the proxy (RFC 9110 §9.3.6).
    Tunnel,
    /// Bytes followed the end of the response on the connection: they are not the
    /// answer to any request, and reading them as the next response would hand wrong
    /// bytes to the next request. Reported by the engine, which sees the buffer.
    TrailingBytes,
    /// The response carried a `close` connection option (RFC 9112 §9.6).
    ResponseConnectionClose,
    /// The response had no `Connection` header and its `Proxy-Connection` header said
    /// `close`.
    ProxyConnectionClose,
    /// A response `Connection` (or `Proxy-Connection`) header is not a list of tokens.
    ResponseConnectionMalformed,
    /// An HTTP/1.0 response without a `keep-alive` connection option (RFC 9112 §9.3).
    Http10WithoutKeepAlive,
    /// An HTTP/0.9 response: no header section, so no framing and no persistence.
    Http09,
    /// An HTTP/1.0 response with `Transfer-Encoding`, whose framing must be treated as
    /// faulty (RFC 9112 §6.1).
    TransferEncodingOnHttp10,
    /// The response had both `Content-Length` and `Transfer-Encoding`, a sign of
    /// request smuggling or response splitting (RFC 9112 §6.3).
    ContentLengthWithTransferEncoding,
    /// The final transfer coding is not `chunked`, so the body ends when the server
    /// closes the connection (RFC 9112 §6.3).
    TransferEncodingNotChunked,
    /// `Transfer-Encoding` applies `chunked` more than once (RFC 9112 §6.1).
    InvalidTransferEncoding,
    /// The response can have a body but has neither `Content-Length` nor
    /// `Transfer-Encoding`: the body is read until the connection closes
    /// (RFC 9112 §6.3).
    UnframedBody,
    /// The response had more than one `Content-Length` field line, even equal ones
    /// (RFC 9112 §6.3).
    MultipleContentLength,
    /// The response's `Content-Length` is not a valid non-negative decimal
    /// (RFC 9112 §6.3).
    InvalidContentLength,
    /// A 1xx or 204 response carried a non-zero or invalid `Content-Length` or a
    /// `Transfer-Encoding` (RFC 9110 §8.6, RFC 9112 §6.1): a server that does that may
    /// also send a body nobody will read.
    InvalidBodilessResponse,
    /// The [`KeepAliveStrategy`](crate::KeepAliveStrategy) allowed no idle time, e.g.
    /// the server sent `Keep-Alive: timeout=0`.
    KeepAliveRefused,
    /// Reuse is disabled by configuration ([`NeverReuse`](crate::NeverReuse)).
    NeverReuse,
    /// A custom strategy's own reason.
    Custom(&'static str),
}

impl CloseReason {
    /// A short phrase for logs and the CLI: "response had `Connection: close`", ….
    pub fn explain(&self) -> &'static str {
        match self {
            CloseReason::RequestConnectionClose => "request had Connection: close",
            CloseReason::RequestConnectionMalformed => {
                "request Connection header is not a list of tokens"
            }
            CloseReason::RequestContentLengthWithTransferEncoding => {
                "request had both Content-Length and Transfer-Encoding"
            }
            CloseReason::RequestBodyIncomplete => {
                "request body was not completely sent (early response)"
            }
            CloseReason::SwitchingProtocols => {
                "101 Switching Protocols: the connection left HTTP/1.1"
            }
            CloseReason::Tunnel => "2xx to CONNECT: the connection became a tunnel",
            CloseReason::Http10RequestWithoutKeepAlive => {
                "HTTP/1.0 request without Connection: keep-alive"
            }
            CloseReason::TrailingBytes => "bytes followed the end of the response",
            CloseReason::ResponseConnectionClose => "response had Connection: close",
            CloseReason::ProxyConnectionClose => {
                "response had Proxy-Connection: close and no Connection header"
            }
            CloseReason::ResponseConnectionMalformed => {
                "response Connection header is not a list of tokens"
            }
            CloseReason::Http10WithoutKeepAlive => {
                "HTTP/1.0 response without Connection: keep-alive"
            }
            CloseReason::Http09 => "HTTP/0.9 response (no headers, no persistence)",
            CloseReason::TransferEncodingOnHttp10 => {
                "HTTP/1.0 response with Transfer-Encoding (faulty framing)"
            }
            CloseReason::ContentLengthWithTransferEncoding => {
                "response had both Content-Length and Transfer-Encoding"
            }
            CloseReason::TransferEncodingNotChunked => {
                "final transfer coding is not chunked: body ends at connection close"
            }
            CloseReason::InvalidTransferEncoding => {
                "Transfer-Encoding applies chunked more than once"
            }
            CloseReason::UnframedBody => {
                "response has no Content-Length or chunked encoding: body ends at connection close"
            }
            CloseReason::MultipleContentLength => "response had several Content-Length headers",
            CloseReason::InvalidContentLength => "response Content-Length is not a valid length",
            CloseReason::InvalidBodilessResponse => {
                "1xx or 204 response with a Content-Length or Transfer-Encoding"
            }
            CloseReason::KeepAliveRefused => {
                "keep-alive strategy allowed no idle time (e.g. Keep-Alive: timeout=0)"
            }
            CloseReason::NeverReuse => "connection reuse disabled (NeverReuse)",
            CloseReason::Custom(reason) => reason,
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_is_the_explanation() {
        let reason = CloseReason::ResponseConnectionClose;
        assert_eq!(reason.to_string(), reason.explain());
        assert_eq!(
            Reuse::Close(reason).to_string(),
            "close: response had Connection: close"
        );
        assert_eq!(Reuse::KeepAlive.to_string(), "keep alive");
    }

    #[test]
    fn custom_reason_explains_itself() {
        assert_eq!(
            CloseReason::Custom("tenant pinned").explain(),
            "tenant pinned"
        );
    }

    #[test]
    fn close_reason_is_only_there_for_close() {
        assert_eq!(Reuse::KeepAlive.close_reason(), None);
        assert!(Reuse::KeepAlive.is_keep_alive());
        let close = Reuse::Close(CloseReason::UnframedBody);
        assert!(!close.is_keep_alive());
        assert_eq!(close.close_reason(), Some(CloseReason::UnframedBody));
    }
}
