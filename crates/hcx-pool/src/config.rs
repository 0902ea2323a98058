//! Pool configuration and its validation.

use std::fmt;
use std::time::Duration;

/// Which idle connection of a route a lease gets when several would do.
///
/// Apache HttpClient 5 calls this `PoolReusePolicy`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ReusePolicy {
    /// Last in, first out: the most recently released connection is reused first, so
    /// that surplus connections stay idle long enough to be evicted. The default.
    #[default]
    Lifo,
    /// First in, first out: connections are reused round-robin, which keeps all of them
    /// warm (useful behind load balancers that close quiet connections).
    Fifo,
}

/// Limits and lifetime rules of a [`Pool`](crate::Pool).
///
/// The defaults are Apache HttpClient 5's: 25 connections in all, 5 per route, LIFO
/// reuse, no time-to-live.
///
/// `#[non_exhaustive]`: start from [`PoolConfig::default`] or
/// [`PoolConfig::with_limits`] and use the `with_*` setters (or assign the fields).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct PoolConfig {
    /// Most connections (leased + idle) in the whole pool. Default 25.
    /// Apache: `maxTotal`.
    pub max_total: usize,
    /// Most connections (leased + idle) for a route that has no limit of its own.
    /// Default 5. Apache: `defaultMaxPerRoute`.
    pub default_max_per_route: usize,
    /// Order in which idle connections are reused. Default [`ReusePolicy::Lifo`].
    pub reuse_policy: ReusePolicy,
    /// Hard limit on a connection's life, counted from when its connection was
    /// assigned, whatever keep-alive the server grants. Default `None` (no limit).
    /// Apache: `timeToLive`.
    pub time_to_live: Option<Duration>,
}

impl Default for PoolConfig {
    fn default() -> Self {
        Self {
            max_total: 25,
            default_max_per_route: 5,
            reuse_policy: ReusePolicy::Lifo,
            time_to_live: None,
        }
    }
}

impl PoolConfig {
    /// A default configuration with the given total and per-route limits.
    pub fn with_limits(max_total: usize, default_max_per_route: usize) -> Self {
        Self {
            max_total,
            default_max_per_route,
            ..Self::default()
        }
    }

    /// Sets [`reuse_policy`](Self::reuse_policy).
    #[must_use]
    pub fn with_reuse_policy(mut self, policy: ReusePolicy) -> Self {
        self.reuse_policy = policy;
        self
    }

    /// Sets [`time_to_live`](Self::time_to_live).
    #[must_use]
    pub fn with_time_to_live(mut self, ttl: Option<Duration>) -> Self {
        self.time_to_live = ttl;
        self
    }

    pub(crate) fn validate(&self) -> Result<(), ConfigError> {
        if self.max_total == 0 {
            return Err(ConfigError::ZeroMaxTotal);
        }
        if self.default_max_per_route == 0 {
            return Err(ConfigError::ZeroDefaultMaxPerRoute);
        }
        if self.time_to_live == Some(Duration::ZERO) {
            return Err(ConfigError::ZeroTimeToLive);
        }
        Ok(())
    }
}

/// A limit that cannot be used.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum ConfigError {
    /// `max_total` was zero: the pool could never lend a connection.
    ZeroMaxTotal,
    /// `default_max_per_route` was zero: no route could ever get a connection. To block
    /// a single route use `set_max_per_route(route, Some(0))`.
    ZeroDefaultMaxPerRoute,
    /// `time_to_live` was `Some(0)`: every connection would die as it is released.
    /// (Apache 4.5 and 5.0–5.2 read a zero TTL as "no limit", here `None`; 5.3+ as
    /// "never reuse".)
    ZeroTimeToLive,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ConfigError::ZeroMaxTotal => f.write_str("max_total must be at least 1"),
            ConfigError::ZeroDefaultMaxPerRoute => f.write_str(
                "default_max_per_route must be at least 1 (block one route with set_max_per_route(route, Some(0)))",
            ),
            ConfigError::ZeroTimeToLive => {
                f.write_str("time_to_live must be positive (use None for no limit)")
            }
        }
    }
}

impl std::error::Error for ConfigError {}
