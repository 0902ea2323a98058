//! The callback that closes the connections the pool gives up.

use crate::CloseReason;

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
