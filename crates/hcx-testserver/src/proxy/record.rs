//! What the proxy saw: counters, request lines, tunnel targets and errors, behind one
//! mutex with one condvar that every change notifies (as the server's record), so tests
//! wait for a condition instead of sleeping.
//!
//! Ordering tests may rely on: a request is recorded before the proxy answers it or
//! contacts its target, and a tunnel is recorded before its `200` is written.

use crate::record::RecordedError;
use http::{HeaderMap, Method, Version};
use parking_lot::{Condvar, Mutex};
use std::fmt;
use std::time::Duration;

/// A snapshot of the proxy's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ProxyStats {
    /// Client connections accepted so far.
    pub connections_accepted: usize,
    /// Client connections closed so far (for any reason).
    pub connections_closed: usize,
    /// Requests read so far (absolute-form and `CONNECT`, answered or not).
    pub requests_received: usize,
    /// Responses from a target relayed to a client so far.
    pub responses_relayed: usize,
    /// `407 Proxy Authentication Required` answers so far.
    pub auth_challenges: usize,
    /// `CONNECT` requests refused so far (see
    /// [`refuse_connect`](crate::TestProxyBuilder::refuse_connect)).
    pub connects_refused: usize,
    /// Tunnels opened so far (`200 Connection Established` sent).
    pub tunnels_opened: usize,
    /// Tunnels whose relaying has ended so far.
    pub tunnels_closed: usize,
    /// Errors recorded so far (malformed requests, unreachable targets, bad responses
    /// from targets).
    pub errors: usize,
}

/// A request the proxy read from a client.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct RecordedProxyRequest {
    /// The method (`CONNECT` for a tunnel).
    pub method: Method,
    /// The request target as sent: absolute-form (`http://host:port/path`) or, for
    /// `CONNECT`, authority-form (`host:port`).
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The request headers as received (`Proxy-Authorization` included).
    pub headers: HeaderMap,
    /// Whether it passed the proxy's authentication: `Proxy-Authorization` carried the
    /// configured credentials, or none are required.
    pub authorized: bool,
    /// The index of the client connection it came on, in order of acceptance from 0.
    pub connection: usize,
    /// Its position on that connection, from 0.
    pub index_on_connection: usize,
}

impl RecordedProxyRequest {
    /// The first value of header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }
}

/// A wait for the proxy reached its timeout before its condition held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProxyWaitTimeout {
    /// What was awaited.
    pub condition: String,
    /// How long the wait lasted.
    pub waited: Duration,
    /// The counters when it gave up.
    pub stats: ProxyStats,
}

impl fmt::Display for ProxyWaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for {}; proxy stats: {:?}",
            self.waited, self.condition, self.stats
        )
    }
}

impl std::error::Error for ProxyWaitTimeout {}

#[derive(Debug, Default)]
struct State {
    stats: ProxyStats,
    requests: Vec<RecordedProxyRequest>,
    tunnels: Vec<String>,
    errors: Vec<RecordedError>,
}

/// The shared record. Locks are held only to copy in or out, never across I/O.
#[derive(Debug, Default)]
pub(crate) struct ProxyRecorder {
    state: Mutex<State>,
    changed: Condvar,
}

impl ProxyRecorder {
    fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.state.lock());
        self.changed.notify_all();
        r
    }

    /// Records a new client connection and returns its index.
    pub(crate) fn connection_accepted(&self) -> usize {
        self.update(|s| {
            s.stats.connections_accepted += 1;
            s.stats.connections_accepted - 1
        })
    }

    pub(crate) fn connection_closed(&self) {
        self.update(|s| s.stats.connections_closed += 1);
    }

    pub(crate) fn request_received(&self, request: RecordedProxyRequest) {
        self.update(|s| {
            s.stats.requests_received += 1;
            s.requests.push(request);
        });
    }

    pub(crate) fn response_relayed(&self) {
        self.update(|s| s.stats.responses_relayed += 1);
    }

    pub(crate) fn auth_challenged(&self) {
        self.update(|s| s.stats.auth_challenges += 1);
    }

    pub(crate) fn connect_refused(&self) {
        self.update(|s| s.stats.connects_refused += 1);
    }

    pub(crate) fn tunnel_opened(&self, target: &str) {
        self.update(|s| {
            s.stats.tunnels_opened += 1;
            s.tunnels.push(target.to_owned());
        });
    }

    pub(crate) fn tunnel_closed(&self) {
        self.update(|s| s.stats.tunnels_closed += 1);
    }

    pub(crate) fn error(&self, connection: Option<usize>, message: String) {
        self.update(|s| {
            s.stats.errors += 1;
            s.errors.push(RecordedError {
                connection,
                message,
            });
        });
    }

    pub(crate) fn stats(&self) -> ProxyStats {
        self.state.lock().stats
    }

    pub(crate) fn requests(&self) -> Vec<RecordedProxyRequest> {
        self.state.lock().requests.clone()
    }

    pub(crate) fn tunnels(&self) -> Vec<String> {
        self.state.lock().tunnels.clone()
    }

    pub(crate) fn errors(&self) -> Vec<RecordedError> {
        self.state.lock().errors.clone()
    }

    /// Blocks until `condition` holds for the counters, or `timeout` passes.
    pub(crate) fn wait_until(
        &self,
        timeout: Duration,
        what: &dyn Fn() -> String,
        condition: impl FnMut(&ProxyStats) -> bool,
    ) -> Result<ProxyStats, ProxyWaitTimeout> {
        crate::wait::wait_for(&self.state, &self.changed, timeout, |s| s.stats, condition).map_err(
            |(waited, stats)| ProxyWaitTimeout {
                condition: what(),
                waited,
                stats,
            },
        )
    }
}
