//! The emulated middlebox that forgets idle flows: idle time on a manual clock, no FIN
//! while idle, a reset (and no response) for a request on a forgotten flow, and a limit
//! that changes while the server runs.

mod common;

use common::tls::{ClientOptions, connect};
use common::{RawClient, SAFETY};
use hcx_testserver::{ServerCloseReason, TestCa, TestServer, TestServerBuilder};
use std::io::{ErrorKind, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

const LIMIT: Duration = Duration::from_secs(30);

/// A clock that moves only when the test advances it.
#[derive(Clone)]
struct ManualClock {
    base: Instant,
    offset_nanos: Arc<AtomicU64>,
}

impl ManualClock {
    fn new() -> Self {
        ManualClock {
            base: Instant::now(),
            offset_nanos: Arc::new(AtomicU64::new(0)),
        }
    }

    fn now(&self) -> Instant {
        self.base + Duration::from_nanos(self.offset_nanos.load(Ordering::SeqCst))
    }

    fn advance(&self, by: Duration) {
        let nanos = u64::try_from(by.as_nanos()).expect("a test-sized duration");
        self.offset_nanos.fetch_add(nanos, Ordering::SeqCst);
    }
}

/// A builder whose middlebox forgets flows idle for `limit`, on `clock`.
fn middlebox(clock: &ManualClock, limit: Duration) -> TestServerBuilder {
    let clock = clock.clone();
    TestServer::builder()
        .silent_drop_after(limit)
        .clock(move || clock.now())
}

const GET: &str = "GET / HTTP/1.1\r\nHost: t\r\n\r\n";

/// Reads after a request on a forgotten flow: the connection ends with no response
/// byte, by a reset where the kernel makes one of a close with unread input (Linux).
fn expect_reset(stream: &mut impl Read) {
    let mut buf = [0u8; 1024];
    match stream.read(&mut buf) {
        Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
        Ok(0) if !cfg!(target_os = "linux") => {}
        Ok(n) => panic!(
            "expected a reset, got {}",
            String::from_utf8_lossy(&buf[..n])
        ),
        Err(e) => panic!("expected a reset, got {e}"),
    }
}

#[test]
fn a_request_after_less_idle_than_the_limit_is_served_and_its_idle_recorded() {
    let clock = ManualClock::new();
    let server = middlebox(&clock, LIMIT).start().unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").status, 200);
    clock.advance(LIMIT - Duration::from_millis(1));
    assert_eq!(client.get("/").status, 200);
    assert_eq!(client.get("/").status, 200);

    let idle: Vec<_> = server.requests().iter().map(|r| r.idle_before).collect();
    assert_eq!(
        idle,
        vec![
            None,
            Some(LIMIT - Duration::from_millis(1)),
            Some(Duration::ZERO)
        ]
    );
    let stats = server.stats();
    assert_eq!((stats.requests_received, stats.silent_drops), (3, 0));
    assert_eq!(server.connections()[0].closed, None);
}

#[test]
fn a_request_after_idle_reaching_the_limit_gets_a_reset_and_no_response() {
    let clock = ManualClock::new();
    let server = middlebox(&clock, LIMIT).start().unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").status, 200);
    clock.advance(LIMIT);
    client.send(GET);
    expect_reset(client.stream());

    // Recorded before the reset left: visible once the client has seen it.
    let stats = server.stats();
    assert_eq!(stats.silent_drops, 1);
    assert_eq!(
        stats.requests_received, 1,
        "the dropped request is not counted"
    );
    assert_eq!(stats.responses_sent, 1);
    let connection = &server.connections()[0];
    assert_eq!(connection.closed, Some(ServerCloseReason::SilentDrop));
    assert_eq!(connection.requests, 1);
    let dropped = server.dropped_requests();
    assert_eq!(dropped.len(), 1);
    assert_eq!(
        (dropped[0].connection, dropped[0].index_on_connection),
        (0, 1)
    );
    assert_eq!((dropped[0].idle, dropped[0].limit), (LIMIT, LIMIT));
    assert!(server.errors().is_empty(), "{:?}", server.errors());

    // The server behind the middlebox is fine: a new flow is served.
    assert_eq!(RawClient::connect(&server).get("/").status, 200);
}

#[test]
fn no_fin_is_sent_while_a_connection_idles_past_the_limit() {
    let clock = ManualClock::new();
    let server = middlebox(&clock, LIMIT).start().unwrap();
    let mut idle = RawClient::connect(&server);
    assert_eq!(idle.get("/").status, 200);
    clock.advance(LIMIT * 10);
    // A full exchange on another connection after the clock moved: the server has
    // been running since, and a FIN it sent on the idle connection would be there.
    let mut other = RawClient::connect(&server);
    assert_eq!(other.get("/").status, 200);

    idle.stream().set_nonblocking(true).unwrap();
    let mut byte = [0u8; 1];
    let peeked = idle.stream().peek(&mut byte);
    assert!(
        matches!(&peeked, Err(e) if e.kind() == ErrorKind::WouldBlock),
        "expected nothing pending, got {peeked:?}"
    );
    assert_eq!(server.connections()[0].closed, None);
    assert_eq!(server.stats().connections_closed, 0);

    // The flow is forgotten nonetheless: the next request finds out.
    idle.stream().set_nonblocking(false).unwrap();
    idle.send(GET);
    expect_reset(idle.stream());
    assert_eq!(server.stats().silent_drops, 1);
}

#[test]
fn raising_the_limit_mid_run_serves_a_request_the_old_limit_would_drop() {
    let clock = ManualClock::new();
    let server = middlebox(&clock, LIMIT).start().unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").status, 200);
    clock.advance(LIMIT + Duration::from_secs(5));
    server.set_silent_drop_after(Some(LIMIT * 2));
    assert_eq!(client.get("/").status, 200);
    assert_eq!(
        server.last_request().unwrap().idle_before,
        Some(LIMIT + Duration::from_secs(5))
    );

    // Off: any idle time is fine.
    server.set_silent_drop_after(None);
    clock.advance(Duration::from_secs(24 * 3600));
    assert_eq!(client.get("/").status, 200);

    // Lowered again: the next idle period is judged by the new limit.
    server.set_silent_drop_after(Some(Duration::from_secs(1)));
    clock.advance(Duration::from_secs(1));
    client.send(GET);
    expect_reset(client.stream());
    let stats = server.stats();
    assert_eq!((stats.requests_received, stats.silent_drops), (3, 1));
    let dropped = server.dropped_requests();
    assert_eq!(dropped[0].limit, Duration::from_secs(1));
}

#[test]
fn the_first_request_on_a_connection_is_never_dropped() {
    let clock = ManualClock::new();
    // A zero limit forgets every flow at once, so every idle period is too long.
    let server = middlebox(&clock, Duration::ZERO).start().unwrap();
    clock.advance(Duration::from_secs(3600));
    let mut client = RawClient::connect(&server);
    clock.advance(Duration::from_secs(3600));
    assert_eq!(client.get("/").status, 200);
    assert_eq!(server.last_request().unwrap().idle_before, None);

    // The second one follows an idle period, even of no time at all.
    client.send(GET);
    expect_reset(client.stream());
    let dropped = server.dropped_requests();
    assert_eq!(
        (dropped[0].idle, dropped[0].limit),
        (Duration::ZERO, Duration::ZERO)
    );
}

#[test]
fn a_request_pipelined_before_the_response_follows_no_idle_period() {
    let clock = ManualClock::new();
    let server = middlebox(&clock, Duration::ZERO).start().unwrap();
    let mut client = RawClient::connect(&server);
    client.send(format!("{GET}{GET}"));
    assert_eq!(client.read_response().status, 200);
    assert_eq!(client.read_response().status, 200);
    let idle: Vec<_> = server.requests().iter().map(|r| r.idle_before).collect();
    assert_eq!(idle, vec![None, Some(Duration::ZERO)]);
    assert_eq!(server.stats().silent_drops, 0);
}

#[test]
fn over_tls_a_forgotten_flow_is_reset_without_close_notify() {
    let ca = TestCa::new().unwrap();
    let clock = ManualClock::new();
    let server = middlebox(&clock, LIMIT)
        .tls(ca.server_config(&["localhost"]))
        .start()
        .unwrap();
    let config = ClientOptions::trusting(ca.root_der()).build();
    let mut client = connect(server.addr(), &config, "localhost");
    assert_eq!(client.get("/").status, 200);
    clock.advance(LIMIT / 2);
    assert_eq!(client.get("/").status, 200);
    clock.advance(LIMIT);
    client.send(GET);
    // rustls returns `Ok(0)` only after a close_notify.
    expect_reset(client.stream());

    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::SilentDrop)
    );
    let stats = server.stats();
    assert_eq!((stats.requests_received, stats.silent_drops), (2, 1));
    assert_eq!(server.requests()[1].idle_before, Some(LIMIT / 2));
    assert!(server.errors().is_empty(), "{:?}", server.errors());
}

#[test]
fn wait_until_sees_the_silent_drops() {
    let clock = ManualClock::new();
    let server = middlebox(&clock, LIMIT).start().unwrap();
    let mut clients: Vec<_> = (0..3).map(|_| RawClient::connect(&server)).collect();
    for client in &mut clients {
        assert_eq!(client.get("/").status, 200);
    }
    clock.advance(LIMIT);
    for client in &mut clients {
        client.send(GET);
    }
    let stats = server.wait_until(SAFETY, |s| s.silent_drops == 3).unwrap();
    assert_eq!(stats.connections_closed, 3, "recorded with the drops");
    let mut on: Vec<_> = server
        .dropped_requests()
        .iter()
        .map(|d| d.connection)
        .collect();
    on.sort_unstable();
    assert_eq!(on, vec![0, 1, 2]);
    for client in &mut clients {
        expect_reset(client.stream());
    }
}

#[test]
fn a_first_limit_set_while_running_applies_to_idle_periods_begun_after_it() {
    let clock = ManualClock::new();
    let reading = clock.clone();
    let server = TestServer::builder()
        .clock(move || reading.now())
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").status, 200);
    server.set_silent_drop_after(Some(LIMIT));
    clock.advance(LIMIT);
    // This idle period began before the limit existed.
    assert_eq!(client.get("/").status, 200);
    assert_eq!(server.last_request().unwrap().idle_before, Some(LIMIT));
    clock.advance(LIMIT);
    client.send(GET);
    expect_reset(client.stream());
    assert_eq!(server.stats().silent_drops, 1);
}

#[test]
fn the_servers_own_idle_timeout_still_closes_a_watched_connection_with_a_fin() {
    let clock = ManualClock::new();
    let server = middlebox(&clock, LIMIT)
        .idle_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").status, 200);
    // The idle timeout runs on the real clock: a blocking read returns 0 once it has.
    client.expect_eof();
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::IdleTimeout)
    );
    assert_eq!(server.stats().silent_drops, 0);
}
