//! Every reason a connection can close, whichever layer closes it.

use std::fmt;

/// Why a connection was closed instead of being kept for another exchange.
///
/// One enum for the whole client: the codec's framing, the reuse and keep-alive
/// strategies, the engine and the pool all report their closes with it, the
/// pool counts them by it ([`CloseCounts`](crate::CloseCounts)), and the response's
/// [`Decision`](crate::Decision) carries it. Each reason has a short
/// [`explain`](Self::explain)ation (also its `Display`) and the [`Layer`] that decides
/// it. More reasons may be added.
///
/// Apache HttpClient has no such type: its reuse strategy returns a bare `boolean`,
/// and the pool's closes are silent.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    // The request (reuse strategy).
    /// The request carried a `close` connection option (RFC 9112 §9.6).
    RequestConnectionClose,
    /// A request `Connection` header is not a list of tokens, so the server may have
    /// read it as `close`.
    RequestConnectionMalformed,
    /// The request was HTTP/1.0 without a `keep-alive` connection option, so the server
    /// closes after its response (RFC 9112 §9.3).
    Http10RequestWithoutKeepAlive,
    /// The request had both `Content-Length` and `Transfer-Encoding`; the server must
    /// close after responding (RFC 9112 §6.1).
    RequestContentLengthWithTransferEncoding,
    /// The request body was not sent completely (the server answered early, or refused
    /// `100-continue`): the unsent rest cannot be told apart from a next request.
    RequestBodyIncomplete,

    // The response head (reuse strategy).
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

    // The framing (codec, RFC 9112 §6.3).
    /// The body has neither `Content-Length` nor chunked framing: it ends when the
    /// server closes the connection (RFC 9112 §6.3, rule 8).
    CloseDelimitedBody,
    /// The response had both `Transfer-Encoding` and `Content-Length`. Chunked framing
    /// wins, but such a message may be an attempt at response splitting, so the
    /// connection is closed after it (RFC 9112 §6.3, rule 3).
    ContentLengthWithTransferEncoding,
    /// A 1xx or 204 response carried a non-zero or invalid `Content-Length`, or a
    /// `Transfer-Encoding` (RFC 9110 §8.6, RFC 9112 §6.1): a server that does that may
    /// also send a body nobody will read. Also any bodiless HTTP/1.0 response (to
    /// HEAD, a 304) with a `Transfer-Encoding`: RFC 9112 §6.1 calls its framing faulty
    /// and has the connection closed after it.
    InvalidBodilessResponse,
    /// `101 Switching Protocols`: the connection no longer speaks HTTP/1.1 after the
    /// head (RFC 9110 §15.2.2).
    SwitchingProtocols,
    /// A 2xx response to `CONNECT`: the connection is now a tunnel to another host. It
    /// belongs to whoever asked for the tunnel and is never pooled as a connection to
    /// the proxy (RFC 9110 §9.3.6).
    Tunnel,

    // The keep-alive strategy and configuration.
    /// The keep-alive strategy allowed no idle time (the server sent
    /// `Keep-Alive: timeout=0`, or a custom strategy said so).
    KeepAliveRefused,
    /// Reuse is disabled by configuration (the `NeverReuse` strategy).
    NeverReuse,
    /// The keep-alive strategy would not reuse a connection idle this long: a learned
    /// idle limit (hcx-reuse's `LearnedIdleLimit`) saw connections of its route die
    /// idle after a shorter time.
    IdleLimit,

    // The engine, after or around an exchange.
    /// The body was dropped or discarded before its end, and draining the rest would
    /// have taken more than the drain limit or time.
    UnreadBody,
    /// Bytes followed the end of the response on the connection: they answer no
    /// request, and read as the next response they would hand wrong bytes to the next
    /// request.
    TrailingBytes,
    /// The exchange failed (an I/O error, a timeout, a protocol error), or its
    /// connection was given up without a decision.
    FailedExchange,
    /// The stale probe found the idle connection closed by the server, reset, or
    /// holding bytes nobody asked for, when it was about to be reused.
    Stale,
    /// The request was aborted from another thread (an abort handle) while it held the
    /// connection: its socket was shut down mid-exchange, so it cannot be reused.
    Aborted,

    // The pool.
    /// Its keep-alive validity or the pool's time-to-live ran out.
    Expired,
    /// It sat idle longer than an idle-eviction call (`close_idle`) allowed.
    IdleEvicted,
    /// It was idle while a limit needed room: a lowered limit, the total limit full
    /// while another route needed a slot, or its route full of idle connections in a
    /// state the lease did not ask for.
    Trimmed,
    /// The pool was shut down.
    Shutdown,
    /// The lease holding it was dropped without a decision (a bare pool user's
    /// "discard").
    Abandoned,

    /// A custom strategy's own reason.
    Custom(&'static str),
}

/// The layer of hcx that decides a [`CloseReason`]: where to look when it is not the
/// one you expected.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Layer {
    /// The reuse strategy, from the request and response heads.
    ReuseStrategy,
    /// The codec, from the response's framing (RFC 9112 §6.3).
    Framing,
    /// The keep-alive strategy, or configuration that turns reuse off.
    KeepAlive,
    /// The engine: the exchange failed, the body was left unread, stray bytes, the
    /// stale probe.
    Engine,
    /// The pool: expiry, idle eviction, limits, shutdown.
    Pool,
}

impl CloseReason {
    /// Every reason but [`Custom`](Self::Custom), in declaration order.
    pub const ALL: [CloseReason; 28] = [
        CloseReason::RequestConnectionClose,
        CloseReason::RequestConnectionMalformed,
        CloseReason::Http10RequestWithoutKeepAlive,
        CloseReason::RequestContentLengthWithTransferEncoding,
        CloseReason::RequestBodyIncomplete,
        CloseReason::ResponseConnectionClose,
        CloseReason::ProxyConnectionClose,
        CloseReason::ResponseConnectionMalformed,
        CloseReason::Http10WithoutKeepAlive,
        CloseReason::Http09,
        CloseReason::CloseDelimitedBody,
        CloseReason::ContentLengthWithTransferEncoding,
        CloseReason::InvalidBodilessResponse,
        CloseReason::SwitchingProtocols,
        CloseReason::Tunnel,
        CloseReason::KeepAliveRefused,
        CloseReason::NeverReuse,
        CloseReason::IdleLimit,
        CloseReason::UnreadBody,
        CloseReason::TrailingBytes,
        CloseReason::FailedExchange,
        CloseReason::Stale,
        CloseReason::Expired,
        CloseReason::IdleEvicted,
        CloseReason::Trimmed,
        CloseReason::Shutdown,
        CloseReason::Abandoned,
        CloseReason::Aborted,
    ];

    /// A short phrase for logs, statistics and the CLI.
    pub fn explain(&self) -> &'static str {
        use CloseReason::*;
        match self {
            RequestConnectionClose => "request had Connection: close",
            RequestConnectionMalformed => "request Connection header is not a list of tokens",
            Http10RequestWithoutKeepAlive => "HTTP/1.0 request without Connection: keep-alive",
            RequestContentLengthWithTransferEncoding => {
                "request had both Content-Length and Transfer-Encoding"
            }
            RequestBodyIncomplete => "request body was not completely sent (early response)",
            ResponseConnectionClose => "response had Connection: close",
            ProxyConnectionClose => "response had Proxy-Connection: close and no Connection header",
            ResponseConnectionMalformed => "response Connection header is not a list of tokens",
            Http10WithoutKeepAlive => "HTTP/1.0 response without Connection: keep-alive",
            Http09 => "HTTP/0.9 response (no headers, no persistence)",
            CloseDelimitedBody => {
                "response has no Content-Length or chunked encoding: body ends at connection close"
            }
            ContentLengthWithTransferEncoding => {
                "response had both Transfer-Encoding and Content-Length"
            }
            InvalidBodilessResponse => {
                "1xx or 204 response with a Content-Length or Transfer-Encoding, or a bodiless HTTP/1.0 response with a Transfer-Encoding"
            }
            SwitchingProtocols => "101 Switching Protocols: the connection left HTTP/1.1",
            Tunnel => "2xx to CONNECT: the connection became a tunnel",
            KeepAliveRefused => {
                "keep-alive strategy allowed no idle time (e.g. Keep-Alive: timeout=0)"
            }
            NeverReuse => "connection reuse disabled (NeverReuse)",
            IdleLimit => {
                "idle longer than connections of its route were seen to survive (learned idle limit)"
            }
            UnreadBody => "response body dropped unread, more left than the drain allows",
            TrailingBytes => "bytes followed the end of the response",
            FailedExchange => "the exchange failed (I/O, timeout or protocol error)",
            Stale => "stale: closed by the server, reset, or sent unasked bytes while idle",
            Aborted => "the request was aborted (abort handle) while it held the connection",
            Expired => "keep-alive or time-to-live expired",
            IdleEvicted => "idle longer than allowed (idle eviction)",
            Trimmed => "idle surplus trimmed to respect a pool limit",
            Shutdown => "pool shut down",
            Abandoned => "lease dropped without a decision",
            Custom(reason) => reason,
        }
    }

    /// The layer that decides this reason.
    pub fn layer(&self) -> Layer {
        use CloseReason::*;
        match self {
            RequestConnectionClose
            | RequestConnectionMalformed
            | Http10RequestWithoutKeepAlive
            | RequestContentLengthWithTransferEncoding
            | RequestBodyIncomplete
            | ResponseConnectionClose
            | ProxyConnectionClose
            | ResponseConnectionMalformed
            | Http10WithoutKeepAlive
            | Http09
            | Custom(_) => Layer::ReuseStrategy,
            CloseDelimitedBody
            | ContentLengthWithTransferEncoding
            | InvalidBodilessResponse
            | SwitchingProtocols
            | Tunnel => Layer::Framing,
            KeepAliveRefused | NeverReuse | IdleLimit => Layer::KeepAlive,
            UnreadBody | TrailingBytes | FailedExchange | Stale | Aborted => Layer::Engine,
            Expired | IdleEvicted | Trimmed | Shutdown | Abandoned => Layer::Pool,
        }
    }

    /// A stable snake_case name for metrics and JSON (`"response_connection_close"`);
    /// every custom reason is `"custom"`.
    pub fn name(&self) -> &'static str {
        use CloseReason::*;
        match self {
            RequestConnectionClose => "request_connection_close",
            RequestConnectionMalformed => "request_connection_malformed",
            Http10RequestWithoutKeepAlive => "http10_request_without_keep_alive",
            RequestContentLengthWithTransferEncoding => {
                "request_content_length_with_transfer_encoding"
            }
            RequestBodyIncomplete => "request_body_incomplete",
            ResponseConnectionClose => "response_connection_close",
            ProxyConnectionClose => "proxy_connection_close",
            ResponseConnectionMalformed => "response_connection_malformed",
            Http10WithoutKeepAlive => "http10_without_keep_alive",
            Http09 => "http09",
            CloseDelimitedBody => "close_delimited_body",
            ContentLengthWithTransferEncoding => "content_length_with_transfer_encoding",
            InvalidBodilessResponse => "invalid_bodiless_response",
            SwitchingProtocols => "switching_protocols",
            Tunnel => "tunnel",
            KeepAliveRefused => "keep_alive_refused",
            NeverReuse => "never_reuse",
            IdleLimit => "idle_limit",
            UnreadBody => "unread_body",
            TrailingBytes => "trailing_bytes",
            FailedExchange => "failed_exchange",
            Stale => "stale",
            Expired => "expired",
            IdleEvicted => "idle_evicted",
            Trimmed => "trimmed",
            Shutdown => "shutdown",
            Abandoned => "abandoned",
            Aborted => "aborted",
            Custom(_) => "custom",
        }
    }

    /// The position in [`ALL`](Self::ALL); `None` for a custom reason.
    pub(crate) fn index(&self) -> Option<usize> {
        use CloseReason::*;
        Some(match self {
            RequestConnectionClose => 0,
            RequestConnectionMalformed => 1,
            Http10RequestWithoutKeepAlive => 2,
            RequestContentLengthWithTransferEncoding => 3,
            RequestBodyIncomplete => 4,
            ResponseConnectionClose => 5,
            ProxyConnectionClose => 6,
            ResponseConnectionMalformed => 7,
            Http10WithoutKeepAlive => 8,
            Http09 => 9,
            CloseDelimitedBody => 10,
            ContentLengthWithTransferEncoding => 11,
            InvalidBodilessResponse => 12,
            SwitchingProtocols => 13,
            Tunnel => 14,
            KeepAliveRefused => 15,
            NeverReuse => 16,
            IdleLimit => 17,
            UnreadBody => 18,
            TrailingBytes => 19,
            FailedExchange => 20,
            Stale => 21,
            Expired => 22,
            IdleEvicted => 23,
            Trimmed => 24,
            Shutdown => 25,
            Abandoned => 26,
            Aborted => 27,
            Custom(_) => return None,
        })
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explain())
    }
}

impl fmt::Display for Layer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Layer::ReuseStrategy => "reuse strategy",
            Layer::Framing => "framing",
            Layer::KeepAlive => "keep-alive",
            Layer::Engine => "engine",
            Layer::Pool => "pool",
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashSet;

    #[test]
    fn every_reason_has_its_own_index_name_and_explanation() {
        let mut explained = HashSet::new();
        let mut named = HashSet::new();
        for (i, reason) in CloseReason::ALL.iter().enumerate() {
            assert_eq!(reason.index(), Some(i), "{reason:?}");
            assert!(
                explained.insert(reason.explain()),
                "{reason:?} explained twice"
            );
            assert!(named.insert(reason.name()), "{reason:?} named twice");
            assert_eq!(reason.to_string(), reason.explain());
        }
    }

    #[test]
    fn custom_reasons_explain_themselves() {
        let reason = CloseReason::Custom("tenant pinned");
        assert_eq!(reason.explain(), "tenant pinned");
        assert_eq!(reason.name(), "custom");
        assert_eq!(reason.index(), None);
        assert_eq!(reason.layer(), Layer::ReuseStrategy);
    }

    #[test]
    fn layers_group_the_reasons() {
        assert_eq!(CloseReason::Tunnel.layer(), Layer::Framing);
        assert_eq!(CloseReason::Stale.layer(), Layer::Engine);
        assert_eq!(CloseReason::Trimmed.layer(), Layer::Pool);
        assert_eq!(CloseReason::KeepAliveRefused.layer(), Layer::KeepAlive);
        assert_eq!(Layer::Pool.to_string(), "pool");
    }
}
