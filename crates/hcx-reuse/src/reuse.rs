//! The reuse strategy: may the connection carry another exchange?

use crate::connection::Options;
use crate::exchange::Exchange;
use crate::framing;
use crate::head::Summary;
use crate::reason::{CloseReason, Reuse};
use http::{StatusCode, Version};

/// Decides, once the response head is in, whether the connection may carry another
/// exchange after this one. Apache HttpClient calls it `ConnectionReuseStrategy` too;
/// its `keepAlive(request, response, context)` is [`reuse`](Self::reuse) here, and
/// returns a reason with "no".
///
/// The client stores an `Arc<dyn ConnectionReuseStrategy>`. Any
/// `Fn(&Exchange<'_>) -> Reuse + Send + Sync` closure is one (annotate the argument
/// type so the closure is general over the lifetime):
///
/// ```
/// use hcx_reuse::{CloseReason, ConnectionReuseStrategy, DefaultReuseStrategy, Exchange, Reuse};
/// use std::sync::Arc;
///
/// // Never reuse after a 5xx, otherwise follow the RFC.
/// let strategy: Arc<dyn ConnectionReuseStrategy> = Arc::new(|exchange: &Exchange<'_>| {
///     if exchange.status().is_server_error() {
///         Reuse::Close(CloseReason::Custom("server error"))
///     } else {
///         DefaultReuseStrategy.reuse(exchange)
///     }
/// });
/// # let (req, resp) = (http::HeaderMap::new(), http::HeaderMap::new());
/// # let exchange = Exchange::new(&http::Method::GET, &req, http::StatusCode::BAD_GATEWAY,
/// #     http::Version::HTTP_11, &resp);
/// # assert_eq!(strategy.reuse(&exchange), Reuse::Close(CloseReason::Custom("server error")));
/// ```
pub trait ConnectionReuseStrategy: Send + Sync {
    /// Whether the connection may be reused after `exchange`, or why not.
    fn reuse(&self, exchange: &Exchange<'_>) -> Reuse;
}

impl<F> ConnectionReuseStrategy for F
where
    F: Fn(&Exchange<'_>) -> Reuse + Send + Sync,
{
    fn reuse(&self, exchange: &Exchange<'_>) -> Reuse {
        self(exchange)
    }
}

/// The RFC 9112 reuse rules, Apache's `DefaultConnectionReuseStrategy` where Apache is
/// right. The default.
///
/// The connection closes, checked in this order (the first rule that applies gives the
/// reason), when:
///
/// 1. the request's `Connection` lists `close` or is not a token list, or the request
///    was HTTP/1.0 without `keep-alive`;
/// 2. the request had both `Content-Length` and `Transfer-Encoding`;
/// 3. the request body was not sent completely;
/// 4. the response is `101 Switching Protocols`, or HTTP/0.9;
/// 5. the response's `Connection` (or, only when there is no `Connection` field at all,
///    `Proxy-Connection`) lists `close` or is not a token list — `close` wins over
///    `keep-alive` wherever it appears;
/// 6. the response is HTTP/1.0 without a `keep-alive` option;
/// 7. the response body cannot be delimited without a close: `Transfer-Encoding` on
///    HTTP/1.0, `Content-Length` with `Transfer-Encoding`, a final coding other than
///    `chunked`, no length at all, several or invalid `Content-Length`s, or a 1xx/204
///    with a non-zero length or a `Transfer-Encoding`.
///
/// Responses to HEAD, 1xx, 204 and 304 need no length. A 2xx response to CONNECT needs
/// none either, but closes (`Tunnel`): the connection became a tunnel.
/// Where this differs from Apache 4.4 and 5.x, and why, is in `docs/reuse.md`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct DefaultReuseStrategy;

impl ConnectionReuseStrategy for DefaultReuseStrategy {
    fn reuse(&self, exchange: &Exchange<'_>) -> Reuse {
        match default_rules(exchange) {
            Ok(()) => Reuse::KeepAlive,
            Err(reason) => Reuse::Close(reason),
        }
    }
}

fn default_rules(exchange: &Exchange<'_>) -> Result<(), CloseReason> {
    let request = Summary::of(exchange.request_headers());
    // RFC 9112 §9.6: a client that sends `close` must not send further requests.
    match request.connection.unwrap_or_default() {
        Options::Close => return Err(CloseReason::RequestConnectionClose),
        Options::Malformed => return Err(CloseReason::RequestConnectionMalformed),
        // RFC 9112 §9.3: an HTTP/1.0 request persists only with `keep-alive`; without
        // it the server closes after answering, whatever its response says.
        Options::Open { keep_alive: false } if exchange.request_version() < Version::HTTP_11 => {
            return Err(CloseReason::Http10RequestWithoutKeepAlive);
        }
        Options::Open { .. } => {}
    }
    framing::check_request(&request)?;
    if !exchange.request_body_complete() {
        return Err(CloseReason::RequestBodyIncomplete);
    }

    if exchange.status() == StatusCode::SWITCHING_PROTOCOLS {
        return Err(CloseReason::SwitchingProtocols);
    }
    let version = exchange.version();
    if version == Version::HTTP_09 {
        return Err(CloseReason::Http09);
    }

    let response = Summary::of(exchange.response_headers());
    // `Proxy-Connection` counts only when there is no `Connection` field line at all.
    let keep_alive = match (response.connection, response.proxy_connection) {
        (Some(Options::Close), _) => return Err(CloseReason::ResponseConnectionClose),
        (None, Some(Options::Close)) => return Err(CloseReason::ProxyConnectionClose),
        (Some(Options::Malformed), _) | (None, Some(Options::Malformed)) => {
            return Err(CloseReason::ResponseConnectionMalformed);
        }
        (Some(Options::Open { keep_alive }), _) | (None, Some(Options::Open { keep_alive })) => {
            keep_alive
        }
        (None, None) => false,
    };
    // RFC 9112 §9.3: HTTP/1.1 and later persist by default; HTTP/1.0 only with the
    // `keep-alive` option (the RFC 2068 §19.7.1 mechanism).
    if version < Version::HTTP_11 && !keep_alive {
        return Err(CloseReason::Http10WithoutKeepAlive);
    }

    framing::check_response(exchange, &response)
}

/// Never reuses a connection: every exchange gets a new one. Apache HttpCore 4.4 calls it
/// `NoConnectionReuseStrategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
pub struct NeverReuse;

impl ConnectionReuseStrategy for NeverReuse {
    fn reuse(&self, _exchange: &Exchange<'_>) -> Reuse {
        Reuse::Close(CloseReason::NeverReuse)
    }
}
