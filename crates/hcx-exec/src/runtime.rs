//! One request's hold on a connection: acquire, connect, mark, release or discard.

use std::fmt;
use std::time::{Duration, Instant};

use hcx_close::{CloseReason, Decision};

use crate::abort::{AbortHandle, Target, aborted};
use crate::connection::Connection;
use crate::error::{Error, ErrorKind};
use crate::events::{ConnectionRef, Events};
use crate::info::ConnectionInfo;
use crate::manager::{Endpoint, PoolingConnectionManager, UserToken};
use crate::route::Route;

/// The connection of one request, shared by every exec layer that handles it.
/// Apache HttpClient 5: `InternalExecRuntime`.
///
/// It holds at most one [`Endpoint`] and the [`Decision`] it will be given back with.
/// [`mark`](Self::mark) records the decision (monotone: once a layer says close,
/// nothing re-enables reuse); [`release`](Self::release) gives the endpoint back as
/// decided (unmarked means close as a failed exchange); [`discard`](Self::discard)
/// closes it with a reason. Either happens once, because the endpoint moves out.
/// Dropping a runtime that still holds an endpoint discards it. After a release the
/// runtime can acquire again (a redirect to the same route, say).
pub struct ExecRuntime {
    manager: PoolingConnectionManager,
    endpoint: Option<Endpoint>,
    decision: Option<Decision>,
    user_token: Option<UserToken>,
    /// The request's abort handle, if it has one.
    abort: Option<AbortHandle>,
    /// Whether a proxy's `407` to a `CONNECT` may be answered (the request's
    /// `authentication_enabled`).
    proxy_auth: bool,
}

impl ExecRuntime {
    /// A runtime drawing connections from `manager`.
    pub fn new(manager: PoolingConnectionManager) -> Self {
        ExecRuntime {
            manager,
            endpoint: None,
            decision: None,
            user_token: None,
            abort: None,
            proxy_auth: true,
        }
    }

    /// Whether a connect may answer a proxy's `407` to its `CONNECT` with the
    /// manager's authenticator: the request's `authentication_enabled` (Apache's
    /// `ConnectExec` asks the same). On by default.
    pub(crate) fn set_proxy_auth(&mut self, enabled: bool) {
        self.proxy_auth = enabled;
    }

    /// Lets `abort` end this runtime's work: a lease waiting in the pool is
    /// cancelled, the connection's socket is shut down (a read or write on it ends),
    /// and the connection is closed, not pooled, at its release.
    #[must_use]
    #[inline]
    pub fn with_abort(mut self, abort: Option<AbortHandle>) -> Self {
        self.abort = abort;
        self
    }

    /// The abort handle given with [`with_abort`](Self::with_abort).
    pub fn abort_handle(&self) -> Option<&AbortHandle> {
        self.abort.as_ref()
    }

    /// `error`, or an [`ErrorKind::Aborted`] error caused by it when the request was
    /// aborted (an abort shows as whatever the shut-down socket made of the exchange).
    pub(crate) fn if_aborted(&self, error: Error, when: &str) -> Error {
        if matches!(error.kind(), ErrorKind::Aborted | ErrorKind::Shutdown) {
            return error;
        }
        // What the shut-down socket made of the exchange (a close before the response,
        // a reset) is its consequence, not its cause: not kept as the source, which
        // would read as the server's doing.
        self.interruption(|| when.to_owned()).unwrap_or(error)
    }

    /// The end of stream of the connection's socket: `Err` when it is not the
    /// server's close but an abort or `shutdown_immediate` (a body delimited by the
    /// close must not end there).
    pub(crate) fn check_end_of_stream(&self, when: impl FnOnce() -> String) -> Result<(), Error> {
        self.interruption(when).map_or(Ok(()), Err)
    }

    /// The error of an exchange interrupted from another thread, if it was: by its
    /// abort handle, or by `shutdown_immediate`; `when` says what it was doing.
    fn interruption(&self, when: impl FnOnce() -> String) -> Option<Error> {
        if self.abort.as_ref().is_some_and(AbortHandle::is_aborted) {
            Some(aborted(&when()))
        } else if self.manager.is_shut_down_immediately() {
            Some(shut_down_under(&when()))
        } else {
            None
        }
    }

    /// Takes the socket back from the abort handle; `true` when the request was
    /// aborted (its connection must not be pooled).
    #[inline]
    fn disarm(&self) -> bool {
        match &self.abort {
            None => false,
            Some(abort) => abort.unwatch(),
        }
    }

    /// The user token the engine leases with (preferring connections bound to it)
    /// and binds the connection to, when [`MainExec`](crate::MainExec) acquires for
    /// this runtime. Apache: the `HttpClientContext`'s user token.
    #[must_use]
    #[inline]
    pub fn with_user_token(mut self, token: Option<UserToken>) -> Self {
        self.user_token = token;
        self
    }

    /// The user token set with [`with_user_token`](Self::with_user_token).
    pub fn user_token(&self) -> Option<&UserToken> {
        self.user_token.as_ref()
    }

    /// The manager it leases from.
    pub fn manager(&self) -> &PoolingConnectionManager {
        &self.manager
    }

    /// Leases a slot for `route` within `timeout`. An error if one is already held
    /// (release or discard it first).
    pub fn acquire(
        &mut self,
        route: &Route,
        state: Option<UserToken>,
        timeout: Duration,
    ) -> Result<(), Error> {
        if let Some(held) = &self.endpoint {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                format!(
                    "endpoint already acquired (for {}); release or discard it first",
                    held.route()
                ),
            ));
        }
        self.endpoint =
            Some(
                self.manager
                    .lease_abortable(route, state, timeout, self.abort.as_ref())?,
            );
        self.decision = None;
        Ok(())
    }

    /// Closes the held connection for `reason` and keeps its slot, for the route's
    /// next idle connection in the same user token (probed as a lease probes it) or a
    /// new one: the engine's way past a pooled connection the keep-alive strategy does
    /// not admit. The request keeps its turn (Apache's `PoolEntry.discardConnection`):
    /// giving the slot back and leasing again would put it behind every request
    /// waiting for the route. The slot stays bound to the token the old connection
    /// had, whatever it holds now (an unbound idle connection, or none), so it is
    /// never later lent to another user's request. An error if none is held.
    pub fn reacquire(&mut self, reason: CloseReason) -> Result<(), Error> {
        let Some(endpoint) = self.endpoint.take() else {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                "no endpoint acquired",
            ));
        };
        if self.disarm() {
            endpoint.discard(CloseReason::Aborted);
            return Err(aborted("before its exchange"));
        }
        let state = endpoint.state().cloned();
        self.endpoint = Some(endpoint.discard_connection(reason));
        self.decision = None;
        if state.is_some() {
            self.set_state(state);
        }
        Ok(())
    }

    /// Whether an endpoint is held.
    pub fn is_acquired(&self) -> bool {
        self.endpoint.is_some()
    }

    /// Whether the held endpoint has a connection.
    pub fn is_connected(&self) -> bool {
        self.endpoint.as_ref().is_some_and(Endpoint::is_connected)
    }

    /// Opens the connection if the endpoint has none, within `connect_timeout` (`None`:
    /// the manager's).
    pub fn connect_if_needed(&mut self, connect_timeout: Option<Duration>) -> Result<(), Error> {
        let proxy_auth = self.proxy_auth;
        let result = match (&mut self.endpoint, &self.abort) {
            (Some(endpoint), None) => endpoint.connect_abortable(connect_timeout, None, proxy_auth),
            (Some(endpoint), Some(abort)) => {
                connect_watched(endpoint, abort, connect_timeout, proxy_auth)
            }
            (None, _) => Err(Error::new(
                ErrorKind::InvalidRequest,
                "no endpoint acquired",
            )),
        };
        result.map_err(|e| self.if_aborted(e, "while it connected"))
    }

    /// The held endpoint.
    pub fn endpoint(&self) -> Option<&Endpoint> {
        self.endpoint.as_ref()
    }

    /// How the connection was obtained, if one is held.
    pub fn connection_info(&self) -> Option<ConnectionInfo> {
        self.endpoint.as_ref().map(Endpoint::info)
    }

    /// Whether the held endpoint was leased while the process had more endpoints out
    /// than CPUs (see `Endpoint::crowded`).
    pub(crate) fn crowded(&self) -> bool {
        self.endpoint.as_ref().is_some_and(Endpoint::crowded)
    }

    /// The pool clock's time when the held slot was leased.
    pub(crate) fn leased_at(&self) -> Option<Instant> {
        self.endpoint.as_ref().map(Endpoint::leased_at)
    }

    /// The connection, if one is held and connected.
    pub fn connection(&self) -> Option<&Connection> {
        self.endpoint.as_ref().and_then(Endpoint::connection)
    }

    /// The connection, if one is held and connected.
    pub fn connection_mut(&mut self) -> Option<&mut Connection> {
        self.endpoint.as_mut().and_then(Endpoint::connection_mut)
    }

    /// The connection, if one is held and connected, and the manager's events: both at
    /// once, for the exchange that reports while it holds the connection.
    pub(crate) fn connection_and_events(&mut self) -> (Option<&mut Connection>, &Events) {
        (
            self.endpoint.as_mut().and_then(Endpoint::connection_mut),
            self.manager.events(),
        )
    }

    /// Binds the held connection to a user token (or none), so that later leases
    /// asking for that token prefer it: Apache's `markConnectionReusable(state, …)`
    /// state, for connections authenticated as one user.
    pub fn set_state(&mut self, state: Option<UserToken>) {
        if let Some(endpoint) = &mut self.endpoint {
            endpoint.set_state(state);
        }
    }

    /// Records what to do with the connection at release. Monotone: a close recorded
    /// earlier stays (with its reason); a keep replaces an earlier keep. Apache:
    /// `markConnectionReusable` / `markConnectionNonReusable`.
    pub fn mark(&mut self, decision: Decision) {
        self.decision = Some(match self.decision {
            Some(earlier) => earlier.and(decision),
            None => decision,
        });
    }

    /// The decision recorded so far, if any.
    pub fn decision(&self) -> Option<Decision> {
        self.decision
    }

    /// Whether a release would give the connection back to the pool.
    pub fn is_reusable(&self) -> bool {
        self.decision.is_some_and(|d| d.is_keep())
    }

    /// Gives the endpoint back as marked: to the pool if the decision keeps it, closed
    /// with the decision's reason otherwise, closed as a
    /// [`FailedExchange`](CloseReason::FailedExchange) when nobody decided. Does
    /// nothing when none is held. Apache: `releaseEndpoint`.
    pub fn release(&mut self) {
        if let Some(endpoint) = self.endpoint.take() {
            let decision = if self.disarm() {
                Decision::Close(CloseReason::Aborted)
            } else {
                self.decision
                    .unwrap_or(Decision::Close(CloseReason::FailedExchange))
            };
            endpoint.release(decision);
        }
        self.decision = None;
    }

    /// The response body reached its end, `bytes` read for it from the connection (0
    /// for a response without a body): reports `body_done`, then
    /// [`release`](Self::release)s. The one way an exchange that read its response
    /// whole gives its connection back, so the listener sees `body_done → released`
    /// for every such request, whether the caller read the body, a drop drained it,
    /// or there was none.
    pub(crate) fn release_at_body_end(&mut self, bytes: u64) {
        if let (Some(conn), events) = self.connection_and_events() {
            events.body_done(&ConnectionRef::new(conn.id(), conn.route()), bytes);
        }
        self.release();
    }

    /// Closes the connection for `reason` and frees its slot. Does nothing when none
    /// is held. Apache: `discardEndpoint`.
    pub fn discard(&mut self, reason: CloseReason) {
        if let Some(endpoint) = self.endpoint.take() {
            let reason = if self.disarm() {
                CloseReason::Aborted
            } else if reason == CloseReason::FailedExchange
                && self.manager.is_shut_down_immediately()
            {
                // The exchange failed because `shutdown_immediate` shut its socket
                // down (its error says so): closed for that.
                CloseReason::Shutdown
            } else {
                reason
            };
            endpoint.discard(reason);
        }
        self.decision = None;
    }
}

/// The error of a request whose connection `shutdown_immediate` shut down.
fn shut_down_under(when: &str) -> Error {
    Error::new(
        ErrorKind::Shutdown,
        format!("the connection manager was shut down (shutdown_immediate) {when}"),
    )
}

/// Connects `endpoint` unless aborted, then lets `abort` shut its socket down: from
/// here on an abort ends a read or write on it (a transport that cannot give a second
/// handle on its socket is only checked for the abort, now and at its release). Asked
/// again, it registers the same socket again.
#[inline(never)]
fn connect_watched(
    endpoint: &mut Endpoint,
    abort: &AbortHandle,
    connect_timeout: Option<Duration>,
    proxy_auth: bool,
) -> Result<(), Error> {
    let reused = endpoint.is_connected();
    if !reused {
        abort.check("before it connected")?;
        // An abort during the connect shows as whatever the shut-down socket made of
        // it (a refusal, a reset): `connect_if_needed` says it as the abort it is.
        endpoint.connect_abortable(connect_timeout, Some(abort), proxy_auth)?;
    }
    let socket = endpoint.connection().and_then(Connection::abort_socket);
    abort.watch(
        socket.map_or(Target::Nothing, Target::Socket),
        if reused {
            "before its exchange"
        } else {
            "while it connected"
        },
    )
}

impl Drop for ExecRuntime {
    fn drop(&mut self) {
        self.discard(CloseReason::FailedExchange);
    }
}

impl fmt::Debug for ExecRuntime {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ExecRuntime")
            .field("endpoint", &self.endpoint)
            .field("decision", &self.decision)
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::net::TcpListener;

    const WAIT: Duration = Duration::from_secs(5);

    #[test]
    fn non_reusable_sticks_until_the_release() -> Result<(), Error> {
        let manager = PoolingConnectionManager::new();
        let mut runtime = ExecRuntime::new(manager.clone());
        runtime.acquire(&Route::http("a.test", 80), None, WAIT)?;
        assert!(runtime.is_acquired() && !runtime.is_connected());
        runtime.mark(Decision::Close(CloseReason::ResponseConnectionClose));
        runtime.mark(Decision::keep(None));
        assert!(
            !runtime.is_reusable(),
            "keep-alive once disabled stays disabled"
        );
        assert_eq!(
            runtime.decision(),
            Some(Decision::Close(CloseReason::ResponseConnectionClose))
        );
        runtime.release();
        assert_eq!(manager.stats().pool.leased, 0);
        // A new exchange starts unmarked.
        runtime.acquire(&Route::http("a.test", 80), None, WAIT)?;
        runtime.mark(Decision::keep(Some(WAIT)));
        assert!(runtime.is_reusable());
        Ok(())
    }

    #[test]
    fn a_connection_bound_to_a_token_goes_to_the_lease_that_asks_for_it()
    -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let route = Route::http("127.0.0.1", listener.local_addr()?.port());
        let manager = PoolingConnectionManager::new();
        let alice = UserToken::new("alice");
        let mut runtime = ExecRuntime::new(manager.clone());
        runtime.acquire(&route, None, WAIT)?;
        runtime.connect_if_needed(Some(WAIT))?;
        runtime.set_state(Some(alice.clone()));
        runtime.mark(Decision::keep(None));
        runtime.release();

        runtime.acquire(&route, Some(alice.clone()), WAIT)?;
        let state = runtime.endpoint().and_then(|e| e.state().cloned());
        assert_eq!(state.as_ref().map(UserToken::as_str), Some("alice"));
        assert!(runtime.connection_info().is_some_and(|i| i.reused));
        Ok(())
    }

    #[test]
    fn a_second_acquire_is_refused_and_drop_discards() -> Result<(), Error> {
        let manager = PoolingConnectionManager::new();
        let route = Route::http("a.test", 80);
        let mut runtime = ExecRuntime::new(manager.clone());
        runtime.acquire(&route, None, WAIT)?;
        assert!(runtime.acquire(&route, None, WAIT).is_err());
        assert_eq!(manager.stats().pool.leased, 1);
        drop(runtime);
        assert_eq!(manager.stats().pool.leased, 0);
        Ok(())
    }

    #[test]
    fn a_reusable_release_keeps_the_connection_and_discard_closes_it()
    -> Result<(), Box<dyn std::error::Error>> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let route = Route::http("127.0.0.1", listener.local_addr()?.port());
        let manager = PoolingConnectionManager::new();
        let mut runtime = ExecRuntime::new(manager.clone());
        runtime.acquire(&route, None, WAIT)?;
        runtime.connect_if_needed(Some(WAIT))?;
        let id = runtime.connection_info().map(|i| i.connection_id);
        runtime.mark(Decision::keep(None));
        runtime.release();
        runtime.release(); // nothing held: a no-op
        assert_eq!(manager.stats().pool.available, 1);

        runtime.acquire(&route, None, WAIT)?;
        let info = runtime.connection_info().ok_or("no info")?;
        assert!(info.reused && info.probed);
        assert_eq!(Some(info.connection_id), id);
        runtime.discard(CloseReason::Custom("test"));
        assert_eq!(manager.stats().pool.available, 0);
        assert_eq!(manager.stats().pool.leased, 0);
        Ok(())
    }
}
