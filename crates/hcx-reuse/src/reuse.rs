//! The reuse strategy: may the connection carry another exchange?

use hcx_close::CloseReason;
use http::Version;

use crate::connection::Options;
use crate::exchange::Exchange;
use crate::head::Summary;

/// Decides, once the response head is in and framed, whether the connection may carry
/// another exchange after this one: `Ok(())`, or `Err` with the reason it must close.
/// Apache HttpClient calls it `ConnectionReuseStrategy` too; its
/// `keepAlive(request, response, context) → boolean` is [`reuse`](Self::reuse) here,
/// and "no" says why.
///
/// The client stores an `Arc<dyn ConnectionReuseStrategy>`. Any
/// `Fn(&Exchange<'_>) -> Result<(), CloseReason> + Send + Sync` closure is one
/// (annotate the argument type so the closure is general over the lifetime):
///
/// ```
/// use hcx_reuse::{CloseReason, ConnectionReuseStrategy, DefaultReuseStrategy, Exchange};
/// use std::sync::Arc;
///
/// // Never reuse after a 5xx, otherwise follow the RFC.
/// let strategy: Arc<dyn ConnectionReuseStrategy> = Arc::new(|exchange: &Exchange<'_>| {
///     if exchange.status().is_server_error() {
///         Err(CloseReason::Custom("server error"))
///     } else {
///         DefaultReuseStrategy.reuse(exchange)
///     }
/// });
/// # let (head, _) = hcx_h1::parse_response_head(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n",
/// #     &hcx_h1::Limits::default()).unwrap().unwrap();
/// # let req = http::HeaderMap::new();
/// # let exchange = Exchange::framed(&http::Method::GET, &req, &head).unwrap();
/// # assert_eq!(strategy.reuse(&exchange), Err(CloseReason::Custom("server error")));
/// ```
pub trait ConnectionReuseStrategy: Send + Sync {
    /// `Ok(())` if the connection may be reused after `exchange`, else why not.
    fn reuse(&self, exchange: &Exchange<'_>) -> Result<(), CloseReason>;
}

impl<F> ConnectionReuseStrategy for F
where
    F: Fn(&Exchange<'_>) -> Result<(), CloseReason> + Send + Sync,
{
    fn reuse(&self, exchange: &Exchange<'_>) -> Result<(), CloseReason> {
        self(exchange)
    }
}

/// The RFC 9112 reuse rules, Apache's `DefaultConnectionReuseStrategy` where Apache is
/// right. The default.
///
/// The connection closes, checked in this order (the first rule that applies gives the
/// reason), when:
///
/// 1. the codec's framing verdict forbids reuse: a body delimited by the close, both
///    `Content-Length` and `Transfer-Encoding`, a 1xx/204 that declares a body (or
///    a bodiless HTTP/1.0 response with a `Transfer-Encoding`),
///    `101 Switching Protocols`, a 2xx to `CONNECT` (a tunnel);
/// 2. the request body was not sent completely.
///
/// These two are the engine's floor too: it closes on them without asking any
/// strategy, so a custom strategy cannot keep such a connection, and the reason is the
/// same whoever reports it. Then:
///
/// 3. the request's `Connection` lists `close` or is not a token list, or the request
///    was HTTP/1.0 without `keep-alive`;
/// 4. the request had both `Content-Length` and `Transfer-Encoding`;
/// 5. the response is HTTP/0.9;
/// 6. the response's `Connection` (or, only when there is no `Connection` field at all,
///    `Proxy-Connection`) lists `close` or is not a token list — `close` wins over
///    `keep-alive` wherever it appears;
/// 7. the response is HTTP/1.0 without a `keep-alive` option.
///
/// The framing itself (RFC 9112 §6.3) is decided once, by the codec; this strategy
/// reads its verdict from the [`Exchange`] rather than parsing the fields again.
/// Where this differs from Apache 4.4 and 5.x, and why, is in `docs/reuse.md`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[doc(alias("DefaultConnectionReuseStrategy"))]
pub struct DefaultReuseStrategy;

impl ConnectionReuseStrategy for DefaultReuseStrategy {
    fn reuse(&self, exchange: &Exchange<'_>) -> Result<(), CloseReason> {
        if let Some(reason) = exchange.framing().close {
            return Err(reason);
        }
        if !exchange.request_body_complete() {
            return Err(CloseReason::RequestBodyIncomplete);
        }
        let request = Summary::of(exchange.request_headers());
        // RFC 9112 §9.6: a client that sends `close` must not send further requests.
        match request.connection.unwrap_or_default() {
            Options::Close => return Err(CloseReason::RequestConnectionClose),
            Options::Malformed => return Err(CloseReason::RequestConnectionMalformed),
            // RFC 9112 §9.3: an HTTP/1.0 request persists only with `keep-alive`;
            // without it the server closes after answering, whatever it says.
            Options::Open { keep_alive: false }
                if exchange.request_version() < Version::HTTP_11 =>
            {
                return Err(CloseReason::Http10RequestWithoutKeepAlive);
            }
            Options::Open { .. } => {}
        }
        // RFC 9112 §6.1: a server that receives both "MUST close the connection after
        // responding".
        if request.length_and_coding {
            return Err(CloseReason::RequestContentLengthWithTransferEncoding);
        }

        let version = exchange.version();
        if version == Version::HTTP_09 {
            return Err(CloseReason::Http09);
        }
        let response = exchange.response_summary();
        // `Proxy-Connection` counts only when there is no `Connection` field line at all.
        let keep_alive = match (response.connection, response.proxy_connection) {
            (Some(Options::Close), _) => return Err(CloseReason::ResponseConnectionClose),
            (None, Some(Options::Close)) => return Err(CloseReason::ProxyConnectionClose),
            (Some(Options::Malformed), _) | (None, Some(Options::Malformed)) => {
                return Err(CloseReason::ResponseConnectionMalformed);
            }
            (Some(Options::Open { keep_alive }), _)
            | (None, Some(Options::Open { keep_alive })) => keep_alive,
            (None, None) => false,
        };
        // RFC 9112 §9.3: HTTP/1.1 and later persist by default; HTTP/1.0 only with the
        // `keep-alive` option (the RFC 2068 §19.7.1 mechanism).
        if version < Version::HTTP_11 && !keep_alive {
            return Err(CloseReason::Http10WithoutKeepAlive);
        }
        Ok(())
    }
}

/// Never reuses a connection: every exchange gets a new one. Apache HttpCore 4.4 calls it
/// `NoConnectionReuseStrategy`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[doc(alias("NoConnectionReuseStrategy"))]
pub struct NeverReuse;

impl ConnectionReuseStrategy for NeverReuse {
    fn reuse(&self, _exchange: &Exchange<'_>) -> Result<(), CloseReason> {
        Err(CloseReason::NeverReuse)
    }
}
