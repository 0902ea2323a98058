//! [`TestServer`]: the listener, its accept thread, one thread per connection, what
//! tests read back, and shutdown.

use crate::builder::{Config, TestServerBuilder};
use crate::close::ServerCloseReason;
use crate::connection::serve;
use crate::middlebox::Middlebox;
use crate::record::{
    ConnectionInfo, DroppedRequest, RecordedError, Recorder, ServerStats, WaitTimeout,
};
use crate::request::RecordedRequest;
use crate::routes::Routes;
use crate::signal::Signal;
use parking_lot::Mutex;
use std::fmt;
use std::io::{self, ErrorKind};
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr, TcpListener, TcpStream};
use std::sync::Arc;
use std::thread::{self, JoinHandle};
use std::time::Duration;

/// What the accept thread and the connection threads share.
#[derive(Debug)]
pub(crate) struct Shared {
    pub(crate) config: Config,
    pub(crate) routes: Routes,
    pub(crate) recorder: Recorder,
    pub(crate) signal: Signal,
    pub(crate) middlebox: Middlebox,
    /// Connection threads not yet known to be finished.
    threads: Mutex<Vec<JoinHandle<()>>>,
}

/// A programmable HTTP/1.1 server on loopback, for tests.
///
/// Built with [`TestServer::builder`]; it listens from the moment `start` returns, on
/// an accept thread with one thread per connection, keeping connections alive by
/// default. It records what it sees (counters, connections, requests, errors) for tests
/// to read back or wait for. [`shutdown`](Self::shutdown), or dropping it, stops the
/// accept loop, closes every connection and joins every thread.
pub struct TestServer {
    addr: SocketAddr,
    shared: Arc<Shared>,
    accept: Option<JoinHandle<()>>,
}

impl TestServer {
    /// A builder with the defaults: `127.0.0.1:0`, every request answered `200 OK`
    /// with an empty body, keep-alive, `100 Continue` sent when asked.
    pub fn builder() -> TestServerBuilder {
        TestServerBuilder::default()
    }

    pub(crate) fn start(config: Config, routes: Routes) -> io::Result<TestServer> {
        let listener = TcpListener::bind(config.bind)?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            recorder: Recorder::new(config.keep_requests),
            middlebox: Middlebox::new(config.clock.clone(), config.silent_drop_after),
            config,
            routes,
            signal: Signal::default(),
            threads: Mutex::new(Vec::new()),
        });
        let accept = {
            let shared = Arc::clone(&shared);
            thread::Builder::new()
                .name(String::from("hcx-testserver-accept"))
                .spawn(move || accept_loop(&listener, &shared))?
        };
        Ok(TestServer {
            addr,
            shared,
            accept: Some(accept),
        })
    }

    /// The address it listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// The port it listens on.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// `host:port` for a `Host` header (`127.0.0.1:41234`, `[::1]:41234`).
    pub fn authority(&self) -> String {
        self.addr.to_string()
    }

    /// `http://{authority}{path}`, or `https://…` in [TLS mode](TestServerBuilder::tls);
    /// `path` should start with `/`.
    pub fn url(&self, path: &str) -> String {
        let scheme = if self.shared.config.tls.is_some() {
            "https"
        } else {
            "http"
        };
        format!("{scheme}://{}{path}", self.addr)
    }

    /// The counters now.
    pub fn stats(&self) -> ServerStats {
        self.shared.recorder.stats()
    }

    /// The recorded requests, oldest first (all of them unless
    /// [`keep_requests`](TestServerBuilder::keep_requests) limited it).
    pub fn requests(&self) -> Vec<RecordedRequest> {
        self.shared.recorder.requests()
    }

    /// The last recorded request.
    pub fn last_request(&self) -> Option<RecordedRequest> {
        self.shared.recorder.last_request()
    }

    /// Every accepted connection, oldest first (`ConnectionInfo::index` says which);
    /// with [`keep_requests`](crate::TestServerBuilder::keep_requests) limited, closed
    /// ones beyond that many are forgotten.
    pub fn connections(&self) -> Vec<ConnectionInfo> {
        self.shared.recorder.connections()
    }

    /// How many requests each connection carried, by connection index.
    pub fn requests_per_connection(&self) -> Vec<usize> {
        self.connections().iter().map(|c| c.requests).collect()
    }

    /// The requests answered with a reset because the emulated middlebox had forgotten
    /// their idle flow, oldest first (see
    /// [`silent_drop_after`](TestServerBuilder::silent_drop_after)).
    pub fn dropped_requests(&self) -> Vec<DroppedRequest> {
        self.shared.recorder.dropped_requests()
    }

    /// Changes the emulated middlebox's idle limit (`None`: flows are never forgotten),
    /// as a middlebox whose idle timeout changes mid-run. The limit in force when a
    /// request's first byte arrives decides, so the change applies to connections idle
    /// now as well as to later ones; with one exception: on a server started without
    /// [`silent_drop_after`](TestServerBuilder::silent_drop_after), the first limit set
    /// applies only to idle periods that begin after the call (until then the server
    /// reads each request's first byte at once, as it must not to reset the flow).
    pub fn set_silent_drop_after(&self, idle: Option<Duration>) {
        self.shared.middlebox.set_forget_after(idle);
    }

    /// The errors recorded so far: malformed requests, I/O errors other than the
    /// client going away, handler panics, accept failures.
    pub fn errors(&self) -> Vec<RecordedError> {
        self.shared.recorder.errors()
    }

    /// Blocks until `condition` holds for the counters, or `timeout` passes. The
    /// condition is checked at each change, under the record's lock: it must not call
    /// back into the server.
    pub fn wait_until(
        &self,
        timeout: Duration,
        condition: impl FnMut(&ServerStats) -> bool,
    ) -> Result<ServerStats, WaitTimeout> {
        let what = || String::from("a condition on the server stats");
        self.shared.recorder.wait_until(timeout, &what, condition)
    }

    /// Blocks until at least `n` requests have been read in full.
    pub fn wait_for_requests(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<ServerStats, WaitTimeout> {
        let what = || format!("{n} requests received");
        self.shared
            .recorder
            .wait_until(timeout, &what, |s| s.requests_received >= n)
    }

    /// Blocks until at least `n` connections have been accepted.
    pub fn wait_for_connections(
        &self,
        n: usize,
        timeout: Duration,
    ) -> Result<ServerStats, WaitTimeout> {
        let what = || format!("{n} connections accepted");
        self.shared
            .recorder
            .wait_until(timeout, &what, |s| s.connections_accepted >= n)
    }

    /// Blocks until the server has closed at least `n` connections. A close is recorded
    /// just before the socket is shut (so that a client that sees the FIN or the reset
    /// finds the record already there): to know the FIN has reached a client, read to
    /// its end of stream on the client's side.
    pub fn wait_for_closed(&self, n: usize, timeout: Duration) -> Result<ServerStats, WaitTimeout> {
        let what = || format!("{n} connections closed");
        self.shared
            .recorder
            .wait_until(timeout, &what, |s| s.connections_closed >= n)
    }

    /// Stops accepting, closes every connection (cutting delays and stalls short) and
    /// joins every thread. Idempotent; the records stay readable. A handler closure
    /// that never returns would keep its thread, and this call, waiting.
    pub fn shutdown(&mut self) {
        let Some(accept) = self.accept.take() else {
            return;
        };
        self.shared.signal.trigger();
        // Wake the blocking accept: it sees the flag and returns. If even connecting
        // fails, the thread is left to exit at its next accept rather than joined.
        let wake = TcpStream::connect_timeout(&wake_addr(self.addr), Duration::from_secs(1));
        if wake.is_ok() {
            let _ = accept.join();
        }
        drop(wake);
        self.shared.signal.close_sockets();
        let threads = std::mem::take(&mut *self.shared.threads.lock());
        for thread in threads {
            let _ = thread.join();
        }
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

impl fmt::Debug for TestServer {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("TestServer")
            .field("addr", &self.addr)
            .field("running", &self.accept.is_some())
            .field("stats", &self.stats())
            .finish()
    }
}

/// Where to connect to reach a listener bound to `addr`.
fn wake_addr(addr: SocketAddr) -> SocketAddr {
    let ip = match addr.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, addr.port())
}

fn accept_loop(listener: &TcpListener, shared: &Arc<Shared>) {
    loop {
        match listener.accept() {
            Ok((stream, peer)) => {
                if shared.signal.is_triggered() {
                    return;
                }
                spawn_connection(shared, stream, peer);
            }
            Err(e) => {
                if shared.signal.is_triggered() {
                    return;
                }
                if matches!(
                    e.kind(),
                    ErrorKind::Interrupted
                        | ErrorKind::ConnectionAborted
                        | ErrorKind::ConnectionReset
                ) {
                    continue;
                }
                shared.recorder.error(None, format!("accept failed: {e}"));
                // Back off (out of file descriptors, say) instead of spinning; shutdown
                // cuts the wait short.
                if shared.signal.wait_timeout(Duration::from_millis(10)) {
                    return;
                }
            }
        }
    }
}

fn spawn_connection(shared: &Arc<Shared>, stream: TcpStream, peer: SocketAddr) {
    let id = shared.recorder.connection_accepted(peer);
    let _ = stream.set_nodelay(true);
    let registered = match stream.try_clone() {
        // TLS connections close gracefully on shutdown: their threads send close_notify.
        Ok(clone) => shared
            .signal
            .register(id, clone, shared.config.tls.is_some()),
        Err(e) => {
            shared
                .recorder
                .error(Some(id), format!("could not clone the socket: {e}"));
            shared.recorder.connection_closed(id, ServerCloseReason::Io);
            return;
        }
    };
    if !registered {
        shared
            .recorder
            .connection_closed(id, ServerCloseReason::Shutdown);
        return;
    }
    let guard = ConnectionGuard {
        shared: Arc::clone(shared),
        id,
    };
    let spawned = thread::Builder::new()
        .name(format!("hcx-testserver-conn-{id}"))
        .spawn(move || {
            let guard = guard;
            serve(&guard.shared, stream, guard.id);
        });
    match spawned {
        Ok(handle) => {
            let mut threads = shared.threads.lock();
            // Finished threads need no join; dropping their handles frees them.
            threads.retain(|t| !t.is_finished());
            threads.push(handle);
        }
        // The closure, and so the guard, was dropped: the close is recorded.
        Err(e) => shared.recorder.error(
            Some(id),
            format!("could not spawn a connection thread: {e}"),
        ),
    }
}

/// Owned by a connection's thread: whatever way the thread ends, its socket leaves the
/// registry and its close is recorded.
struct ConnectionGuard {
    shared: Arc<Shared>,
    id: usize,
}

impl Drop for ConnectionGuard {
    fn drop(&mut self) {
        self.shared.signal.unregister(self.id);
        if !self.shared.recorder.is_closed(self.id) {
            self.shared
                .recorder
                .connection_closed(self.id, ServerCloseReason::Io);
        }
    }
}
