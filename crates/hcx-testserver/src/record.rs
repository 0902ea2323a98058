//! What the server saw: counters, connections, requests and errors, behind one mutex
//! with one condvar that every change notifies, so tests wait for a condition instead
//! of sleeping.
//!
//! Ordering that tests may rely on: a request is recorded before its response is
//! written, a response is counted before its bytes are written, and a close is
//! recorded before the socket is shut down (or reset, after a dropped request is
//! recorded). So when a client has read a response (or an end of stream, or a reset),
//! the matching record is already visible. Likewise the idle period that a response
//! begins is stamped on the server's clock before the response is written, so a test
//! that advances its clock once it has read a response measures from that response.

use crate::close::ServerCloseReason;
use crate::request::RecordedRequest;
use parking_lot::{Condvar, Mutex};
use rustls::ProtocolVersion;
use std::collections::VecDeque;
use std::fmt;
use std::net::SocketAddr;
use std::time::Duration;

/// A snapshot of the server's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServerStats {
    /// Connections accepted so far.
    pub connections_accepted: usize,
    /// Connections the server has closed so far (for any reason).
    pub connections_closed: usize,
    /// Requests read in full so far.
    pub requests_received: usize,
    /// Responses (or raw replies) the server has started writing so far.
    pub responses_sent: usize,
    /// Errors recorded so far (protocol errors, I/O errors, handler panics, failed
    /// TLS handshakes).
    pub errors: usize,
    /// TLS handshakes completed so far, full or resumed (TLS mode only).
    pub tls_handshakes: usize,
    /// Of those, the ones that resumed an earlier session.
    pub tls_resumed: usize,
    /// TLS handshakes that failed (each also recorded as an error).
    pub tls_handshake_failures: usize,
    /// Requests answered with a reset because the emulated middlebox had forgotten
    /// their idle flow (see
    /// [`silent_drop_after`](crate::TestServerBuilder::silent_drop_after)); they are
    /// not in `requests_received`.
    pub silent_drops: usize,
}

impl ServerStats {
    /// Connections accepted and not yet closed.
    pub fn connections_open(&self) -> usize {
        self.connections_accepted
            .saturating_sub(self.connections_closed)
    }
}

/// One connection the server accepted.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// Its index, in order of acceptance from 0.
    pub index: usize,
    /// The client's address.
    pub peer: SocketAddr,
    /// Requests read on it.
    pub requests: usize,
    /// Why the server closed it, once it has.
    pub closed: Option<ServerCloseReason>,
    /// What its TLS handshake negotiated, once it completed (`None` for a plain
    /// connection, or a TLS one whose handshake failed or has not finished).
    pub tls: Option<TlsInfo>,
}

/// What a connection's TLS handshake negotiated, as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TlsInfo {
    /// The protocol version (`TLSv1_2`, `TLSv1_3`).
    pub version: Option<ProtocolVersion>,
    /// Whether the handshake resumed an earlier session (a TLS 1.2 session id or
    /// ticket, or a TLS 1.3 ticket) rather than doing a full one.
    pub resumed: bool,
    /// The server name the client sent (SNI); `None` when it sent none, as rustls
    /// clients do when connecting to an IP address.
    pub server_name: Option<String>,
    /// The negotiated ALPN protocol (`b"http/1.1"`); `None` when the client offered
    /// none.
    pub alpn_protocol: Option<Vec<u8>>,
    /// Whether the client presented a certificate.
    pub client_certificate: bool,
}

/// A request that never reached the server: the emulated middlebox had forgotten its
/// idle flow and answered its first byte with a reset (see
/// [`silent_drop_after`](crate::TestServerBuilder::silent_drop_after)). Its bytes were
/// never read, so only where and when it came is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DroppedRequest {
    /// The index of the connection it came on.
    pub connection: usize,
    /// The position it would have had on that connection, from 0 (the requests
    /// delivered before it).
    pub index_on_connection: usize,
    /// How long the connection had been idle when its first byte arrived.
    pub idle: Duration,
    /// The limit in force then, which `idle` reached.
    pub limit: Duration,
}

/// An error the server recorded instead of panicking.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RecordedError {
    /// The connection it happened on (`None`: in the accept loop).
    pub connection: Option<usize>,
    /// What happened.
    pub message: String,
}

impl fmt::Display for RecordedError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.connection {
            Some(c) => write!(f, "connection {c}: {}", self.message),
            None => write!(f, "accept loop: {}", self.message),
        }
    }
}

/// A wait for the server reached its timeout before its condition held.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WaitTimeout {
    /// What was awaited.
    pub condition: String,
    /// How long the wait lasted.
    pub waited: Duration,
    /// The counters when it gave up.
    pub stats: ServerStats,
}

impl fmt::Display for WaitTimeout {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "timed out after {:?} waiting for {}; server stats: {:?}",
            self.waited, self.condition, self.stats
        )
    }
}

impl std::error::Error for WaitTimeout {}

#[derive(Debug)]
struct State {
    stats: ServerStats,
    /// The connections recorded, oldest first; the first has index `first_connection`.
    /// With `keep_requests` limited, closed ones beyond that many are forgotten.
    connections: VecDeque<ConnectionInfo>,
    first_connection: usize,
    requests: VecDeque<RecordedRequest>,
    keep_requests: usize,
    dropped: Vec<DroppedRequest>,
    errors: Vec<RecordedError>,
}

impl State {
    fn connection_mut(&mut self, index: usize) -> Option<&mut ConnectionInfo> {
        let at = index.checked_sub(self.first_connection)?;
        self.connections.get_mut(at)
    }

    fn push_error(&mut self, connection: Option<usize>, message: String) {
        self.stats.errors += 1;
        self.errors.push(RecordedError {
            connection,
            message,
        });
    }

    /// Only the first reason counts.
    fn close(&mut self, connection: usize, reason: ServerCloseReason) {
        if let Some(c) = self.connection_mut(connection)
            && c.closed.is_none()
        {
            c.closed = Some(reason);
            self.stats.connections_closed += 1;
        }
    }
}

/// The shared record. Locks are held only to copy in or out, never across I/O.
#[derive(Debug)]
pub(crate) struct Recorder {
    state: Mutex<State>,
    changed: Condvar,
}

impl Recorder {
    /// A record that keeps the last `keep_requests` requests.
    pub(crate) fn new(keep_requests: usize) -> Self {
        Recorder {
            state: Mutex::new(State {
                stats: ServerStats::default(),
                connections: VecDeque::new(),
                first_connection: 0,
                requests: VecDeque::new(),
                keep_requests,
                dropped: Vec::new(),
                errors: Vec::new(),
            }),
            changed: Condvar::new(),
        }
    }

    fn update<R>(&self, f: impl FnOnce(&mut State) -> R) -> R {
        let r = f(&mut self.state.lock());
        self.changed.notify_all();
        r
    }

    /// Records a new connection and returns its index.
    pub(crate) fn connection_accepted(&self, peer: SocketAddr) -> usize {
        self.update(|s| {
            let index = s.first_connection + s.connections.len();
            // A long run with a limited record keeps a bounded one: closed connections
            // beyond `keep_requests` are forgotten, oldest first (open ones stay, their
            // closes still to count).
            if s.keep_requests != usize::MAX {
                while s.connections.len() >= s.keep_requests.max(1)
                    && s.connections.front().is_some_and(|c| c.closed.is_some())
                {
                    s.connections.pop_front();
                    s.first_connection += 1;
                }
            }
            s.connections.push_back(ConnectionInfo {
                index,
                peer,
                requests: 0,
                closed: None,
                tls: None,
            });
            s.stats.connections_accepted += 1;
            index
        })
    }

    pub(crate) fn request_received(&self, request: &RecordedRequest) {
        self.update(|s| {
            s.stats.requests_received += 1;
            if let Some(c) = s.connection_mut(request.connection) {
                c.requests += 1;
            }
            if s.keep_requests > 0 {
                if s.requests.len() == s.keep_requests {
                    s.requests.pop_front();
                }
                s.requests.push_back(request.clone());
            }
        });
    }

    /// Records a request the middlebox answered with a reset, and the close of its
    /// connection for [`SilentDrop`](ServerCloseReason::SilentDrop), in one change: a
    /// test that sees the drop counted sees the close too.
    pub(crate) fn request_dropped(&self, dropped: DroppedRequest) {
        self.update(|s| {
            s.stats.silent_drops += 1;
            s.close(dropped.connection, ServerCloseReason::SilentDrop);
            s.dropped.push(dropped);
        });
    }

    /// Records a completed TLS handshake on `connection`.
    pub(crate) fn tls_established(&self, connection: usize, info: TlsInfo) {
        self.update(|s| {
            s.stats.tls_handshakes += 1;
            if info.resumed {
                s.stats.tls_resumed += 1;
            }
            if let Some(c) = s.connection_mut(connection) {
                c.tls = Some(info);
            }
        });
    }

    /// Records a failed TLS handshake on `connection`, as an error too.
    pub(crate) fn tls_failed(&self, connection: usize, message: String) {
        self.update(|s| {
            s.stats.tls_handshake_failures += 1;
            s.push_error(Some(connection), message);
        });
    }

    pub(crate) fn response_sent(&self) {
        self.update(|s| s.stats.responses_sent += 1);
    }

    /// Records the close of `connection`; only the first reason counts.
    pub(crate) fn connection_closed(&self, connection: usize, reason: ServerCloseReason) {
        self.update(|s| s.close(connection, reason));
    }

    pub(crate) fn is_closed(&self, connection: usize) -> bool {
        let s = self.state.lock();
        connection
            .checked_sub(s.first_connection)
            .and_then(|at| s.connections.get(at))
            .is_none_or(|c| c.closed.is_some())
    }

    pub(crate) fn error(&self, connection: Option<usize>, message: String) {
        self.update(|s| s.push_error(connection, message));
    }

    pub(crate) fn stats(&self) -> ServerStats {
        self.state.lock().stats
    }

    pub(crate) fn connections(&self) -> Vec<ConnectionInfo> {
        self.state.lock().connections.iter().cloned().collect()
    }

    pub(crate) fn requests(&self) -> Vec<RecordedRequest> {
        self.state.lock().requests.iter().cloned().collect()
    }

    pub(crate) fn last_request(&self) -> Option<RecordedRequest> {
        self.state.lock().requests.back().cloned()
    }

    pub(crate) fn dropped_requests(&self) -> Vec<DroppedRequest> {
        self.state.lock().dropped.clone()
    }

    pub(crate) fn errors(&self) -> Vec<RecordedError> {
        self.state.lock().errors.clone()
    }

    /// Blocks until `condition` holds for the counters, or `timeout` passes.
    pub(crate) fn wait_until(
        &self,
        timeout: Duration,
        what: &dyn Fn() -> String,
        condition: impl FnMut(&ServerStats) -> bool,
    ) -> Result<ServerStats, WaitTimeout> {
        crate::wait::wait_for(&self.state, &self.changed, timeout, |s| s.stats, condition).map_err(
            |(waited, stats)| WaitTimeout {
                condition: what(),
                waited,
                stats,
            },
        )
    }
}
