//! Snapshots of the pool's counts.

use std::fmt;

/// Counts of a route or of the whole pool at one moment. Apache: `PoolStats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct PoolStats {
    /// Connections lent out (including slots handed to a waiter that has not picked them up yet).
    pub leased: usize,
    /// Lease requests waiting.
    pub pending: usize,
    /// Idle connections ready for reuse.
    pub available: usize,
    /// The limit in force (leased + available may not exceed it).
    pub max: usize,
}

impl fmt::Display for PoolStats {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} of {} leased, {} idle, {} waiting",
            self.leased, self.max, self.available, self.pending
        )
    }
}
