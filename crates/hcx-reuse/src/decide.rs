//! Both strategies together: what the engine does with the connection.

use hcx_close::{CloseReason, Decision};

use crate::exchange::Exchange;
use crate::keep_alive::KeepAliveStrategy;
use crate::reuse::ConnectionReuseStrategy;

/// Asks `reuse` whether the connection may be reused and, only if so, `keep_alive` for
/// how long, and returns the one [`Decision`] the engine marks the exchange with and
/// the pool releases by. A keep-alive of zero ([`KeepAlive::DoNotKeep`](crate::KeepAlive::DoNotKeep),
/// `For(ZERO)`) closes with [`CloseReason::KeepAliveRefused`]. Once reuse is refused
/// nothing re-enables it.
///
/// ```
/// use hcx_h1::{Limits, parse_response_head};
/// use hcx_reuse::{decide, DefaultKeepAliveStrategy, DefaultReuseStrategy, Decision, Exchange};
/// use http::{HeaderMap, Method};
/// use std::time::Duration;
///
/// let (head, _) = parse_response_head(
///     b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKeep-Alive: timeout=5, max=100\r\n\r\n",
///     &Limits::default(),
/// )?
/// .expect("a complete head");
/// let request = HeaderMap::new();
/// let exchange = Exchange::framed(&Method::GET, &request, &head)?;
///
/// let decision = decide(&DefaultReuseStrategy, &DefaultKeepAliveStrategy::new(), &exchange);
/// // The server's 5 s, less the 1 s safety margin.
/// assert_eq!(decision, Decision::keep(Some(Duration::from_secs(4))));
/// assert_eq!(decision.to_string(), "keep alive for 4s");
/// # Ok::<(), hcx_h1::Error>(())
/// ```
pub fn decide<R, K>(reuse: &R, keep_alive: &K, exchange: &Exchange<'_>) -> Decision
where
    R: ConnectionReuseStrategy + ?Sized,
    K: KeepAliveStrategy + ?Sized,
{
    if let Err(reason) = reuse.reuse(exchange) {
        return Decision::Close(reason);
    }
    let keep = keep_alive.keep_alive(exchange);
    if !keep.allows_reuse() {
        return Decision::Close(CloseReason::KeepAliveRefused);
    }
    Decision::keep(keep.valid_for())
}
