//! Both strategies together: what the engine does with the connection.

use crate::exchange::Exchange;
use crate::keep_alive::KeepAliveStrategy;
use crate::reason::{CloseReason, Reuse};
use crate::reuse::ConnectionReuseStrategy;
use std::fmt;
use std::time::Duration;

/// What to do with a connection once its response has been handled: the pool's
/// `release(reusable, valid_for)` in one value, with a reason when it closes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Give it back to the pool, reusable for `valid_for` (`None`: no keep-alive limit).
    Keep {
        /// How long it may stay idle; `None` for no limit.
        valid_for: Option<Duration>,
    },
    /// Close it.
    Close(CloseReason),
}

impl Decision {
    /// Whether the connection goes back to the pool.
    pub fn is_reusable(&self) -> bool {
        matches!(self, Decision::Keep { .. })
    }

    /// The pool's `valid_for` (`None` when closing or with no limit).
    pub fn valid_for(&self) -> Option<Duration> {
        match self {
            Decision::Keep { valid_for } => *valid_for,
            Decision::Close(_) => None,
        }
    }

    /// Why it closes, if it does.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self {
            Decision::Keep { .. } => None,
            Decision::Close(reason) => Some(*reason),
        }
    }
}

impl fmt::Display for Decision {
    /// `keep alive for 30s`, `keep alive (no limit)`, `close: <reason>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Keep { valid_for: Some(d) } => {
                write!(f, "keep alive for {}", humantime::format_duration(*d))
            }
            Decision::Keep { valid_for: None } => f.write_str("keep alive (no limit)"),
            Decision::Close(reason) => write!(f, "close: {reason}"),
        }
    }
}

/// Asks `reuse` whether the connection may be reused and, only if so, `keep_alive` for
/// how long. A keep-alive of zero ([`KeepAlive::DoNotKeep`](crate::KeepAlive::DoNotKeep), `For(ZERO)`) closes with
/// [`CloseReason::KeepAliveRefused`]. Once reuse is refused nothing re-enables it.
///
/// ```
/// use hcx_reuse::{decide, DefaultKeepAliveStrategy, DefaultReuseStrategy, Decision, Exchange};
/// use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
/// use std::time::Duration;
///
/// let request = HeaderMap::new();
/// let mut response = HeaderMap::new();
/// response.insert("content-length", HeaderValue::from_static("0"));
/// response.insert("keep-alive", HeaderValue::from_static("timeout=5, max=100"));
/// let exchange = Exchange::new(&Method::GET, &request, StatusCode::OK, Version::HTTP_11, &response);
///
/// let decision = decide(&DefaultReuseStrategy, &DefaultKeepAliveStrategy::new(), &exchange);
/// assert_eq!(decision, Decision::Keep { valid_for: Some(Duration::from_secs(5)) });
/// assert_eq!(decision.to_string(), "keep alive for 5s");
/// ```
pub fn decide<R, K>(reuse: &R, keep_alive: &K, exchange: &Exchange<'_>) -> Decision
where
    R: ConnectionReuseStrategy + ?Sized,
    K: KeepAliveStrategy + ?Sized,
{
    if let Reuse::Close(reason) = reuse.reuse(exchange) {
        return Decision::Close(reason);
    }
    let keep = keep_alive.keep_alive(exchange);
    if !keep.allows_reuse() {
        return Decision::Close(CloseReason::KeepAliveRefused);
    }
    Decision::Keep {
        valid_for: keep.valid_for(),
    }
}
