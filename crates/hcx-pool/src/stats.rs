//! Snapshots of the pool's counts.

use std::fmt;

use crate::CloseReason;

/// Counts of a route or of the whole pool at one moment. Apache: `PoolStats`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
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

/// How many connections the pool has closed, by [`CloseReason`]. New reasons may add
/// fields.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub struct CloseCounts {
    /// Closed because they expired.
    pub expired: u64,
    /// Closed by `close_idle`.
    pub idle_evicted: u64,
    /// Closed to respect a limit.
    pub trimmed: u64,
    /// Discarded by the lease holder.
    pub discarded: u64,
    /// Closed by shutdown.
    pub shutdown: u64,
}

impl CloseCounts {
    pub(crate) fn count(&mut self, reason: CloseReason) {
        let slot = match reason {
            CloseReason::Expired => &mut self.expired,
            CloseReason::IdleEvicted => &mut self.idle_evicted,
            CloseReason::Trimmed => &mut self.trimmed,
            CloseReason::Discarded => &mut self.discarded,
            CloseReason::Shutdown => &mut self.shutdown,
        };
        *slot += 1;
    }

    /// All closes, whatever the reason.
    pub fn total(&self) -> u64 {
        self.expired + self.idle_evicted + self.trimmed + self.discarded + self.shutdown
    }
}
