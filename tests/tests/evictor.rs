//! The idle-connection evictor against real sockets: a quiet client leaves no socket in
//! CLOSE_WAIT once the server has closed its side and the evictor's idle limit has
//! passed; without it, the socket stays half-closed until the next request.

mod common;

use std::time::{Duration, Instant};

use common::{SAFETY, TestResult};
use hcx::{Client, CloseReason};
use hcx_testserver::{Method, Reply, TestServer};

/// Client sockets connected to `server_port` in CLOSE_WAIT (the server sent its FIN,
/// the client has not closed), from `/proc/net/tcp` (state 08).
fn close_wait_to(server_port: u16) -> std::io::Result<usize> {
    let table = std::fs::read_to_string("/proc/net/tcp")?;
    Ok(table
        .lines()
        .skip(1)
        .filter(|line| {
            let fields: Vec<&str> = line.split_whitespace().collect();
            let remote_port = fields
                .get(2)
                .and_then(|remote| remote.rsplit(':').next())
                .and_then(|hex| u16::from_str_radix(hex, 16).ok());
            remote_port == Some(server_port) && fields.get(3) == Some(&"08")
        })
        .count())
}

/// Spins (yielding, not sleeping) until `done` holds, for at most SAFETY.
fn until(mut done: impl FnMut() -> std::io::Result<bool>) -> TestResult {
    let deadline = Instant::now() + SAFETY;
    while !done()? {
        if Instant::now() > deadline {
            return Err("gave up waiting".into());
        }
        std::thread::yield_now();
    }
    Ok(())
}

fn impatient_server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .idle_timeout(Duration::from_millis(50))
        .start()
}

#[test]
fn without_the_evictor_a_socket_the_server_closed_stays_in_close_wait() -> TestResult {
    let server = impatient_server()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "hi"
    );
    // (No check that the socket is still open here: the server's 50 ms idle close
    // may already have come on a loaded machine.)
    server.wait_for_closed(1, SAFETY)?;
    until(|| Ok(close_wait_to(server.port())? == 1))?;
    // Nothing closes it: the pool still holds it idle.
    assert_eq!(client.stats().pool.available, 1);
    assert_eq!(client.stats().closes.total(), 0);
    Ok(())
}

#[test]
fn with_the_evictor_a_quiet_client_leaves_no_close_wait_socket() -> TestResult {
    let server = impatient_server()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .evict_idle_connections(Duration::from_millis(200))
        .build()?;
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "hi"
    );
    // (No check that the socket is still open here: the server's 50 ms idle close
    // may already have come on a loaded machine.)
    server.wait_for_closed(1, SAFETY)?;
    // The evictor closes the idle connection once idle 200 ms: no request needed.
    until(|| {
        Ok(client.stats().closes.get(CloseReason::IdleEvicted) == 1
            && close_wait_to(server.port())? == 0)
    })?;
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

#[test]
fn the_evictor_thread_stops_when_the_last_client_clone_is_dropped() -> TestResult {
    let server = impatient_server()?;
    let client = Client::builder().evict_expired_connections().build()?;
    let clone = client.clone();
    client.get(server.url("/"))?.into_body().into_string()?;
    drop(client);
    // The clone still works: the thread runs until the last clone goes.
    clone.get(server.url("/"))?.into_body().into_string()?;
    let started = Instant::now();
    drop(clone); // joins the thread
    assert!(started.elapsed() < SAFETY);
    assert!(
        format!(
            "{:?}",
            Client::builder().evict_expired_connections().build()?
        )
        .contains("evictor: true")
    );
    Ok(())
}

/// An event listener that panics in `closed` the first time, and reports every close
/// on a channel.
struct PanicsOnceOnClose {
    panicked: std::sync::atomic::AtomicBool,
    closes: std::sync::Mutex<std::sync::mpsc::Sender<CloseReason>>,
}

impl hcx::EventListener for PanicsOnceOnClose {
    fn closed(&self, _: &hcx::ConnectionRef<'_>, reason: CloseReason) {
        if let Ok(closes) = self.closes.lock() {
            let _ = closes.send(reason);
        }
        if !self
            .panicked
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            panic!("a listener bug");
        }
    }
}

/// A listener that panics while the evictor closes a connection does not stop the
/// evictor: the next idle connection is evicted too.
#[test]
fn the_evictor_survives_a_listener_that_panics() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .start()?;
    let (tx, closes) = std::sync::mpsc::channel();
    let listener = std::sync::Arc::new(PanicsOnceOnClose {
        panicked: std::sync::atomic::AtomicBool::new(false),
        closes: std::sync::Mutex::new(tx),
    });
    let client = Client::builder()
        .event_listener(listener)
        .evict_idle_connections(Duration::from_millis(20))
        .response_timeout(Some(SAFETY))
        .build()?;
    for round in ["the listener panics", "after the panic"] {
        client.get(server.url("/"))?.into_body().into_string()?;
        let reason = closes
            .recv_timeout(SAFETY)
            .map_err(|_| format!("no eviction: {round}"))?;
        assert_eq!(reason, CloseReason::IdleEvicted, "{round}");
    }
    Ok(())
}

/// Reports every close's reason on a channel.
struct Closes(std::sync::Mutex<std::sync::mpsc::Sender<CloseReason>>);

impl hcx::EventListener for Closes {
    fn closed(&self, _: &hcx::ConnectionRef<'_>, reason: CloseReason) {
        if let Ok(tx) = self.0.lock() {
            let _ = tx.send(reason);
        }
    }
}

#[test]
fn the_evictor_closes_a_connection_kept_without_limit_when_its_time_to_live_ends() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .start()?;
    let (tx, closes) = std::sync::mpsc::channel();
    let client = Client::builder()
        .event_listener(Closes(std::sync::Mutex::new(tx)))
        // Apache 4.5's keep-alive: no limit when the server names none.
        .keep_alive_strategy(hcx::DefaultKeepAliveStrategy::new().with_default_unlimited())
        .time_to_live(Some(Duration::from_millis(100)))
        .evict_expired_connections()
        .response_timeout(Some(SAFETY))
        .build()?;
    client.get(server.url("/"))?.into_body().into_string()?;
    assert_eq!(client.stats().pool.available, 1);
    // The event comes when the time-to-live ends; SAFETY only bounds the wait.
    let reason = closes.recv_timeout(SAFETY).ok();
    assert_eq!(reason, Some(CloseReason::Expired), "{:?}", client.stats());
    Ok(())
}

/// Two clients in turn on one connection manager (Apache: a shared
/// `PoolingHttpClientConnectionManager`), each with an evictor: once the first client
/// is gone, the second starts its own, which evicts.
#[test]
fn a_client_sharing_a_manager_starts_an_evictor_after_the_first_client_is_dropped() -> TestResult {
    let server = impatient_server()?;
    let (tx, closes) = std::sync::mpsc::channel();
    let manager = hcx::PoolingConnectionManager::builder()
        .event_listener(std::sync::Arc::new(Closes(std::sync::Mutex::new(tx))))
        .build()?;
    let first = Client::builder()
        .connection_manager(manager.clone())
        .evict_expired_connections()
        .build()?;
    assert!(
        Client::builder()
            .connection_manager(manager.clone())
            .evict_expired_connections()
            .build()
            .is_err_and(|e| e.kind() == hcx::ErrorKind::Config),
        "one evictor at a time"
    );
    drop(first);
    let second = Client::builder()
        .connection_manager(manager)
        .evict_idle_connections(Duration::from_millis(20))
        .response_timeout(Some(SAFETY))
        .build()?;
    second.get(server.url("/"))?.into_body().into_string()?;
    let reason = closes.recv_timeout(SAFETY).ok();
    assert_eq!(reason, Some(CloseReason::IdleEvicted));
    Ok(())
}

#[test]
fn shutting_the_manager_down_stops_its_evictor() -> TestResult {
    // Found in review: the thread outlived shutdown_immediate (Apache's close() stops
    // its evictor), holding the manager until the last client clone went.
    let client = Client::builder().evict_expired_connections().build()?;
    client.connection_manager().shutdown_immediate();
    // Once the thread has ended, the manager takes another evictor.
    until(|| {
        Ok(hcx::exec::IdleConnectionEvictor::start(client.connection_manager(), None).is_ok())
    })?;
    Ok(())
}

/// A manual clock that signals each read the evictor's thread makes.
struct SignalClock {
    inner: hcx::ManualClock,
    evictor_read: std::sync::Mutex<std::sync::mpsc::Sender<()>>,
}

impl hcx::Clock for SignalClock {
    fn now(&self) -> Instant {
        if std::thread::current().name() == Some("hcx-evictor")
            && let Ok(tx) = self.evictor_read.lock()
        {
            let _ = tx.send(());
        }
        self.inner.now()
    }
}

#[test]
fn a_connection_back_in_the_pool_unused_wakes_the_evictor() -> TestResult {
    // Found in review: a connection given back untouched (a lease served as it was
    // given up) went back idle without waking the evictor, whose plan, made while it
    // was out, waited for another connection's hour.
    let clock = hcx::ManualClock::new();
    let (tx, evictor_reads) = std::sync::mpsc::channel();
    let manager = hcx::PoolingConnectionManager::builder()
        .clock(SignalClock {
            inner: clock.clone(),
            evictor_read: std::sync::Mutex::new(tx),
        })
        .build()?;
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let route = hcx::Route::http("127.0.0.1", listener.local_addr()?.port());
    let mut y = manager.lease(&route, None, SAFETY)?;
    y.connect_if_needed(Some(SAFETY))?;
    let mut x = manager.lease(&route, None, SAFETY)?;
    x.connect_if_needed(Some(SAFETY))?;
    y.release(hcx::Decision::keep(Some(Duration::from_secs(3600))));
    x.release(hcx::Decision::keep(Some(Duration::from_secs(60))));
    // X is out (the most recent, leased first) while the evictor plans its first wait.
    let lease_x = manager.pool().lease(&route, None).get(SAFETY)?;
    assert_eq!(
        lease_x.expiry().map(|at| at - manager.pool().now()),
        Some(Duration::from_secs(60))
    );
    let _evictor = hcx::exec::IdleConnectionEvictor::start(&manager, None)?;
    evictor_reads.recv_timeout(SAFETY)?; // close_expired
    evictor_reads.recv_timeout(SAFETY)?; // the plan, after the pool was looked at
    clock.advance(Duration::from_millis(59_900));
    lease_x.release_unused();
    assert_eq!(manager.stats().pool.available, 2);
    clock.advance(Duration::from_secs(1));
    until(|| Ok(manager.stats().closes.get(CloseReason::Expired) == 1))?;
    Ok(())
}
