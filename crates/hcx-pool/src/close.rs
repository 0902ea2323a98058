//! Why the pool closes a connection, and the callback that does the closing.

use std::fmt;

/// Why the pool closed a connection. Passed to the [`DisposalCallback`] and counted in
/// [`CloseCounts`](crate::CloseCounts), so "why wasn't my connection reused?" always
/// has an answer.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// Its keep-alive validity or the pool's time-to-live ran out.
    Expired,
    /// It sat idle longer than a `close_idle` call allowed.
    IdleEvicted,
    /// It was idle while a limit needed room: a lowered limit, the total limit full while
    /// another route needed a slot, or its route full of idle connections in a state
    /// the lease did not ask for.
    Trimmed,
    /// The lease holder released it as not reusable, or dropped the lease without
    /// releasing it.
    Discarded,
    /// The pool was shut down.
    Shutdown,
}

impl CloseReason {
    /// A short phrase for logs: "expired", "idle too long", ….
    pub fn explain(self) -> &'static str {
        match self {
            CloseReason::Expired => "keep-alive or time-to-live expired",
            CloseReason::IdleEvicted => "idle longer than allowed",
            CloseReason::Trimmed => "idle surplus trimmed to respect a pool limit",
            CloseReason::Discarded => "discarded by the lease holder",
            CloseReason::Shutdown => "pool shut down",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explain())
    }
}

/// Closes a connection the pool gives up. Called outside every pool lock, so it may do
/// I/O (a TLS close-notify, a graceful shutdown).
///
/// Apache HttpClient 5 calls this a `DisposalCallback`. Any
/// `Fn(C, CloseReason) + Send + Sync` closure is one; the default just drops the
/// connection.
pub trait DisposalCallback<C>: Send + Sync + 'static {
    /// Closes `conn`, which the pool closed for `reason`.
    fn dispose(&self, conn: C, reason: CloseReason);
}

impl<C, F> DisposalCallback<C> for F
where
    F: Fn(C, CloseReason) + Send + Sync + 'static,
{
    fn dispose(&self, conn: C, reason: CloseReason) {
        self(conn, reason)
    }
}

/// The default disposal: drop the connection.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct DropConnection;

impl<C> DisposalCallback<C> for DropConnection {
    fn dispose(&self, conn: C, _reason: CloseReason) {
        drop(conn)
    }
}
