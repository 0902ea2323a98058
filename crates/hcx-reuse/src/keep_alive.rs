//! The keep-alive strategy: how long may a reusable connection stay idle?

use crate::exchange::Exchange;
use crate::idle::{IdleLimitChange, IdleOutcome, IdleVerdict, RouteRef};
use hcx_h1::syntax::{parse_decimal_saturating, trim_ows};
use http::{HeaderMap, HeaderName};
use std::fmt;
use std::time::{Duration, Instant};

/// Not in the `http` crate's constants (RFC 2068 §19.7.1, never standardised). A
/// `HeaderName` so a lookup does not parse a `&str` key each time.
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// How long a reusable connection may stay idle in the pool. Apache HttpClient returns a
/// `TimeValue` from `getKeepAliveDuration`, where zero or a negative value means
/// "forever"; here each case has its own name.
///
/// The pool's `release(reusable, valid_for)` takes `valid_for: Option<Duration>` with
/// `None` for no limit; [`decide`](fn@crate::decide) does that mapping, turning
/// [`DoNotKeep`](KeepAlive::DoNotKeep) into a close.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum KeepAlive {
    /// Idle for at most this long (the pool's time-to-live still applies).
    /// `For(Duration::ZERO)` means the same as [`DoNotKeep`](Self::DoNotKeep).
    For(Duration),
    /// No keep-alive limit: only the pool's time-to-live and idle eviction apply.
    Unlimited,
    /// Do not keep the connection at all (`Keep-Alive: timeout=0`).
    DoNotKeep,
}

impl KeepAlive {
    /// Whether the connection may go back to the pool at all.
    pub fn allows_reuse(&self) -> bool {
        match self {
            KeepAlive::For(d) => !d.is_zero(),
            KeepAlive::Unlimited => true,
            KeepAlive::DoNotKeep => false,
        }
    }

    /// The pool's `valid_for`: `Some(limit)`, or `None` for no limit. Only meaningful
    /// when [`allows_reuse`](Self::allows_reuse); a `DoNotKeep` gives `Some(ZERO)`, an
    /// immediate expiry, so that a caller who forgets to check still never reuses.
    pub fn valid_for(&self) -> Option<Duration> {
        match self {
            KeepAlive::For(d) => Some(*d),
            KeepAlive::Unlimited => None,
            KeepAlive::DoNotKeep => Some(Duration::ZERO),
        }
    }
}

impl fmt::Display for KeepAlive {
    /// `30s`, `2m 30s` (humantime), `unlimited` or `do not keep`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KeepAlive::For(d) => write!(f, "{}", humantime::format_duration(*d)),
            KeepAlive::Unlimited => f.write_str("unlimited"),
            KeepAlive::DoNotKeep => f.write_str("do not keep"),
        }
    }
}

/// Decides how long a connection the [`ConnectionReuseStrategy`](crate::ConnectionReuseStrategy)
/// let live may stay idle before it is closed. Apache HttpClient calls it
/// `ConnectionKeepAliveStrategy` (`getKeepAliveDuration(response, context)`).
///
/// The client stores an `Arc<dyn KeepAliveStrategy>`. Any
/// `Fn(&Exchange<'_>) -> KeepAlive + Send + Sync` closure is one:
///
/// ```
/// use hcx_reuse::{Exchange, KeepAlive, KeepAliveStrategy, keep_alive_timeout};
/// use std::sync::Arc;
/// use std::time::Duration;
///
/// // Keep half of what the server allows, and 10 s when it says nothing.
/// let strategy: Arc<dyn KeepAliveStrategy> = Arc::new(|exchange: &Exchange<'_>| {
///     match keep_alive_timeout(exchange.response_headers()) {
///         Some(t) if !t.is_zero() => KeepAlive::For(t / 2),
///         Some(_) => KeepAlive::DoNotKeep,
///         None => KeepAlive::For(Duration::from_secs(10)),
///     }
/// });
/// # let (head, _) = hcx_h1::parse_response_head(
/// #     b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=5\r\nContent-Length: 0\r\n\r\n",
/// #     &hcx_h1::Limits::default()).unwrap().unwrap();
/// # let req = http::HeaderMap::new();
/// # let exchange = Exchange::framed(&http::Method::GET, &req, &head).unwrap();
/// # assert_eq!(strategy.keep_alive(&exchange), KeepAlive::For(Duration::from_millis(2500)));
/// ```
#[doc(alias("ConnectionKeepAliveStrategy"))]
pub trait KeepAliveStrategy: Send + Sync {
    /// How long the connection may stay idle after `exchange`.
    fn keep_alive(&self, exchange: &Exchange<'_>) -> KeepAlive;

    /// Whether a pooled connection to `route`, idle for `idle`, may carry a request
    /// (`idempotent` says whether the RETRY layer could send it again). Asked at every
    /// reuse; `now` is the pool's clock. Default: always [`IdleVerdict::Reuse`] (the
    /// keep-alive alone decides). [`LearnedIdleLimit`](crate::LearnedIdleLimit)
    /// closes connections idle longer than it learned survive.
    fn admit(
        &self,
        route: RouteRef<'_>,
        idle: Duration,
        idempotent: bool,
        now: Instant,
    ) -> IdleVerdict {
        let _ = (route, idle, idempotent, now);
        IdleVerdict::Reuse
    }

    /// How a reused connection to `route`, idle for `idle`, fared; the engine reports
    /// every reuse. Returns the change it made to what it learned, if any, for the
    /// engine to report. Default: ignores it.
    fn observe(
        &self,
        route: RouteRef<'_>,
        idle: Duration,
        outcome: IdleOutcome,
        now: Instant,
    ) -> Option<IdleLimitChange> {
        let _ = (route, idle, outcome, now);
        None
    }
}

impl<F> KeepAliveStrategy for F
where
    F: Fn(&Exchange<'_>) -> KeepAlive + Send + Sync,
{
    fn keep_alive(&self, exchange: &Exchange<'_>) -> KeepAlive {
        self(exchange)
    }
}

/// Honours the server's `Keep-Alive: timeout=N`, else a configured default; optionally
/// capped. Apache HttpClient calls it `DefaultConnectionKeepAliveStrategy`.
///
/// - The first `timeout=N` parameter, over every `Keep-Alive` field line in order, whose
///   `N` is a non-negative decimal (case, spaces and quotes tolerated) gives the limit;
///   malformed ones are skipped, `max=` and unknown parameters ignored.
/// - **A safety margin comes off the server's figure**: `timeout=N` keeps the
///   connection for `N − min(margin, N/2)`, the margin 1 s unless set. The server's
///   clock starts when it has sent the response, before the client has read it and
///   given the connection back; a request sent at exactly N would race the server's
///   close (Node's undici takes 1 s off for the same reason). Half of N at most, so
///   `timeout=1` still keeps for 500 ms and a loop of back-to-back requests keeps its
///   connection; undici drops such connections instead.
/// - `timeout=0` means [`KeepAlive::DoNotKeep`] (Apache 4.5 reads it as "forever").
/// - No usable `timeout`: the default, 30 s unless set (Apache 5: 3 min, 4.5: forever;
///   servers commonly drop idle connections after 5–75 s).
/// - The cap, if set, bounds the result, the default included.
///
/// Configuration strings use humantime durations: see the `FromStr` and `Display`
/// implementations (`"default=30s, max=2m 30s, margin=500ms"`).
///
/// ```
/// use hcx_reuse::DefaultKeepAliveStrategy;
/// use std::time::Duration;
/// let s = DefaultKeepAliveStrategy::new();
/// assert_eq!(s.for_server_timeout(Duration::from_secs(5)), Some(Duration::from_secs(4)));
/// assert_eq!(s.for_server_timeout(Duration::from_secs(1)), Some(Duration::from_millis(500)));
/// assert_eq!(s.for_server_timeout(Duration::ZERO), None); // do not keep
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[doc(alias("DefaultConnectionKeepAliveStrategy"))]
pub struct DefaultKeepAliveStrategy {
    default: Option<Duration>,
    max: Option<Duration>,
    margin: Duration,
}

impl DefaultKeepAliveStrategy {
    /// The keep-alive used when the server sends no usable `timeout`, unless set: 30 s.
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(30);

    /// The safety margin taken off a server's `timeout`, unless set: 1 s.
    pub const DEFAULT_MARGIN: Duration = Duration::from_secs(1);

    /// A 30 s default, no cap, a 1 s margin.
    pub const fn new() -> Self {
        DefaultKeepAliveStrategy {
            default: Some(Self::DEFAULT_TIMEOUT),
            max: None,
            margin: Self::DEFAULT_MARGIN,
        }
    }

    /// Takes `margin` (at most half the server's figure) off a server's
    /// `Keep-Alive: timeout`. `Duration::ZERO` trusts the server's figure to the
    /// instant. Default 1 s.
    #[must_use]
    pub const fn with_margin(mut self, margin: Duration) -> Self {
        self.margin = margin;
        self
    }

    /// The safety margin taken off a server's `timeout`.
    pub fn margin(&self) -> Duration {
        self.margin
    }

    /// How long a connection whose server sent `Keep-Alive: timeout=<server>` is
    /// kept: the server's figure less the margin (at most half of it), capped;
    /// `None` for "do not keep" (`timeout=0`, or a zero cap).
    pub fn for_server_timeout(&self, server: Duration) -> Option<Duration> {
        if server.is_zero() {
            return None;
        }
        let margin = self.margin.min(server / 2);
        match self.bounded(Some(server - margin)) {
            KeepAlive::For(d) => Some(d),
            KeepAlive::Unlimited | KeepAlive::DoNotKeep => None,
        }
    }

    /// Uses `default` when the server sends no usable `timeout`. `Duration::ZERO` means
    /// do not keep such connections.
    #[must_use]
    pub const fn with_default(mut self, default: Duration) -> Self {
        self.default = Some(default);
        self
    }

    /// Sets no limit when the server sends no usable `timeout` (Apache 4.5's behaviour).
    #[must_use]
    pub const fn with_default_unlimited(mut self) -> Self {
        self.default = None;
        self
    }

    /// Bounds whatever the server asks for, and the default, by `max`.
    #[must_use]
    pub const fn with_max(mut self, max: Duration) -> Self {
        self.max = Some(max);
        self
    }

    /// Removes the cap.
    #[must_use]
    pub const fn without_max(mut self) -> Self {
        self.max = None;
        self
    }

    /// The keep-alive used without a usable server `timeout`; `None`: no limit.
    pub fn default_timeout(&self) -> Option<Duration> {
        self.default
    }

    /// The cap, if any.
    pub fn max_timeout(&self) -> Option<Duration> {
        self.max
    }

    fn bounded(&self, limit: Option<Duration>) -> KeepAlive {
        let limit = match (limit, self.max) {
            (Some(limit), Some(max)) => Some(limit.min(max)),
            (None, max) => max,
            (limit, None) => limit,
        };
        match limit {
            None => KeepAlive::Unlimited,
            Some(d) if d.is_zero() => KeepAlive::DoNotKeep,
            Some(d) => KeepAlive::For(d),
        }
    }
}

impl Default for DefaultKeepAliveStrategy {
    fn default() -> Self {
        Self::new()
    }
}

impl KeepAliveStrategy for DefaultKeepAliveStrategy {
    fn keep_alive(&self, exchange: &Exchange<'_>) -> KeepAlive {
        // The exchange's walk over the response saw whether there is a `Keep-Alive`
        // field: without one, no lookup by its (non-standard, hashed) name.
        let server = if exchange.response_summary().keep_alive {
            keep_alive_timeout(exchange.response_headers())
        } else {
            None
        };
        match server {
            Some(timeout) => self
                .for_server_timeout(timeout)
                .map_or(KeepAlive::DoNotKeep, KeepAlive::For),
            None => self.bounded(self.default),
        }
    }
}

/// The server's idle timeout from its `Keep-Alive` header: the first `timeout=N`
/// parameter, over every field line in order, whose `N` is a non-negative decimal
/// number of seconds. `Some(Duration::ZERO)` for `timeout=0`; `None` when there is no
/// usable one. Never panics; numbers too large for a `u64` saturate.
///
/// `Keep-Alive` (RFC 2068 §19.7.1, never standardised) is a comma-separated list of
/// `name=value` parameters; `;` is accepted as a separator too, as Apache does. Names
/// are case-insensitive, whitespace around `=` is tolerated, and a value may be quoted.
pub fn keep_alive_timeout(headers: &HeaderMap) -> Option<Duration> {
    headers
        .get_all(&KEEP_ALIVE)
        .into_iter()
        .flat_map(|value| value.as_bytes().split(|&b| b == b',' || b == b';'))
        .find_map(timeout_param)
        .map(Duration::from_secs)
}

fn timeout_param(param: &[u8]) -> Option<u64> {
    let eq = param.iter().position(|&b| b == b'=')?;
    let (name, value) = (trim_ows(&param[..eq]), trim_ows(&param[eq + 1..]));
    if !name.eq_ignore_ascii_case(b"timeout") {
        return None;
    }
    let value = match value {
        [b'"', inner @ .., b'"'] => trim_ows(inner),
        _ => value,
    };
    parse_decimal_saturating(value)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cap_bounds_the_default_and_the_unlimited_default() {
        let capped = DefaultKeepAliveStrategy::new()
            .with_default(Duration::from_secs(600))
            .with_max(Duration::from_secs(60));
        assert_eq!(
            capped.bounded(capped.default),
            KeepAlive::For(Duration::from_secs(60))
        );
        let unlimited = capped.with_default_unlimited();
        assert_eq!(
            unlimited.bounded(unlimited.default),
            KeepAlive::For(Duration::from_secs(60))
        );
        assert_eq!(unlimited.without_max().bounded(None), KeepAlive::Unlimited);
    }

    #[test]
    fn the_margin_comes_off_the_server_figure_but_never_more_than_half() {
        let s = DefaultKeepAliveStrategy::new();
        let secs = Duration::from_secs;
        assert_eq!(s.for_server_timeout(secs(75)), Some(secs(74)));
        assert_eq!(s.for_server_timeout(secs(2)), Some(secs(1)));
        assert_eq!(
            s.for_server_timeout(secs(1)),
            Some(Duration::from_millis(500))
        );
        assert_eq!(s.for_server_timeout(Duration::ZERO), None);
        let exact = s.with_margin(Duration::ZERO);
        assert_eq!(exact.for_server_timeout(secs(1)), Some(secs(1)));
        let capped = s.with_max(secs(10));
        assert_eq!(capped.for_server_timeout(secs(60)), Some(secs(10)));
        assert_eq!(
            s.with_margin(secs(3)).for_server_timeout(secs(4)),
            Some(secs(2)),
            "half of 4 s is the most the margin takes"
        );
    }

    #[test]
    fn zero_limit_means_do_not_keep() {
        let s = DefaultKeepAliveStrategy::new().with_max(Duration::ZERO);
        assert_eq!(
            s.bounded(Some(Duration::from_secs(5))),
            KeepAlive::DoNotKeep
        );
        assert!(!KeepAlive::For(Duration::ZERO).allows_reuse());
    }

    #[test]
    fn pool_validity_never_reuses_do_not_keep() {
        assert_eq!(KeepAlive::DoNotKeep.valid_for(), Some(Duration::ZERO));
        assert_eq!(KeepAlive::Unlimited.valid_for(), None);
        assert_eq!(
            KeepAlive::For(Duration::from_secs(3)).valid_for(),
            Some(Duration::from_secs(3))
        );
    }

    #[test]
    fn keep_alive_prints_with_humantime() {
        assert_eq!(
            KeepAlive::For(Duration::from_secs(150)).to_string(),
            "2m 30s"
        );
        assert_eq!(KeepAlive::Unlimited.to_string(), "unlimited");
        assert_eq!(KeepAlive::DoNotKeep.to_string(), "do not keep");
    }

    /// The strategy looks `Keep-Alive` up only when the exchange's walk saw the field:
    /// the server's figure must still win wherever the field is, in any case, and a
    /// head without it must get the default.
    #[test]
    fn the_server_timeout_is_found_only_where_the_field_is() -> Result<(), hcx_h1::Error> {
        let strategy = DefaultKeepAliveStrategy::new();
        let request = HeaderMap::new();
        let keep = |raw: &[u8]| -> Result<KeepAlive, hcx_h1::Error> {
            let parsed = hcx_h1::parse_response_head(raw, &hcx_h1::Limits::default())?;
            let Some((head, _)) = parsed else {
                return Ok(KeepAlive::DoNotKeep);
            };
            let exchange = Exchange::framed(&http::Method::GET, &request, &head)?;
            Ok(strategy.keep_alive(&exchange))
        };
        assert_eq!(
            keep(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\nKEEP-ALIVE: max=9, timeout=5\r\n\r\n")?,
            KeepAlive::For(Duration::from_secs(4))
        );
        assert_eq!(
            keep(b"HTTP/1.1 200 OK\r\nKeep-Alive: timeout=0\r\nContent-Length: 0\r\n\r\n")?,
            KeepAlive::DoNotKeep
        );
        assert_eq!(
            keep(b"HTTP/1.1 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n")?,
            KeepAlive::For(DefaultKeepAliveStrategy::DEFAULT_TIMEOUT)
        );
        Ok(())
    }

    #[test]
    fn quoted_value_may_have_inner_spaces_but_not_one_quote() {
        assert_eq!(timeout_param(b"timeout=\" 5 \""), Some(5));
        assert_eq!(timeout_param(b"timeout=\"5"), None);
        assert_eq!(timeout_param(b"timeout=\""), None);
        assert_eq!(timeout_param(b"timeout=\"\""), None);
    }
}
