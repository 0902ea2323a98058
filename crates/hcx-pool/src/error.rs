//! Why a lease request failed.

use std::fmt;
use std::time::Duration;

use crate::PoolStats;

/// A lease request that ended without a connection slot.
///
/// Each kind carries a [`LeaseFailure`] with the route's and the pool's counts at that
/// moment, so the message explains itself:
/// `timed out after 3s waiting for a connection to "example.com:443" (route: 5 of 5 leased, 0 idle, 3 waiting; pool: 25 of 25 leased, 0 idle, 3 waiting)`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum LeaseError {
    /// No slot came free before the timeout.
    /// Apache: `ConnectionRequestTimeoutException`.
    Timeout(Box<LeaseFailure>),
    /// The request was cancelled.
    Cancelled(Box<LeaseFailure>),
    /// The pool was shut down before or while the request waited.
    Shutdown(Box<LeaseFailure>),
}

/// What the pool looked like when a lease request failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct LeaseFailure {
    /// The route, as its `Debug` form.
    pub route: String,
    /// How long the request waited.
    pub waited: Duration,
    /// The route's counts.
    pub route_stats: PoolStats,
    /// The whole pool's counts.
    pub pool_stats: PoolStats,
}

impl LeaseFailure {
    /// For a request asked again after it already completed (polled to the end as a
    /// future, then waited on).
    pub(crate) fn completed() -> Box<Self> {
        Box::new(Self {
            route: String::from("(a request that already completed)"),
            waited: Duration::ZERO,
            route_stats: PoolStats::default(),
            pool_stats: PoolStats::default(),
        })
    }
}

impl LeaseError {
    /// The counts at the moment of failure.
    pub fn failure(&self) -> &LeaseFailure {
        match self {
            LeaseError::Timeout(f) | LeaseError::Cancelled(f) | LeaseError::Shutdown(f) => f,
        }
    }

    /// The request timed out.
    pub fn is_timeout(&self) -> bool {
        matches!(self, LeaseError::Timeout(_))
    }

    /// The request was cancelled.
    pub fn is_cancelled(&self) -> bool {
        matches!(self, LeaseError::Cancelled(_))
    }

    /// The pool is shut down.
    pub fn is_shutdown(&self) -> bool {
        matches!(self, LeaseError::Shutdown(_))
    }
}

impl fmt::Display for LeaseError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let info = self.failure();
        let waited = Millis(info.waited);
        match self {
            LeaseError::Timeout(_) => write!(
                f,
                "timed out after {waited} waiting for a connection to {}",
                info.route
            )?,
            LeaseError::Cancelled(_) => write!(
                f,
                "lease of a connection to {} cancelled after {waited}",
                info.route
            )?,
            LeaseError::Shutdown(_) => write!(
                f,
                "connection pool shut down (lease of a connection to {})",
                info.route
            )?,
        }
        write!(
            f,
            " (route: {}; pool: {})",
            info.route_stats, info.pool_stats
        )
    }
}

impl std::error::Error for LeaseError {}

/// Prints a duration as "3s" or "250ms" or "17µs" without a dependency.
struct Millis(Duration);

impl fmt::Display for Millis {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let d = self.0;
        if d.as_secs() > 0 && d.subsec_millis() == 0 {
            write!(f, "{}s", d.as_secs())
        } else if d.as_millis() > 0 {
            write!(f, "{}ms", d.as_millis())
        } else {
            write!(f, "{}µs", d.as_micros())
        }
    }
}
