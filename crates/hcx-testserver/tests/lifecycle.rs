//! Counters, waits, records, addresses, and shutdown.

mod common;

use common::{RawClient, SAFETY};
use hcx_testserver::{Reply, ServerCloseReason, TestServer};
use std::net::TcpStream;
use std::thread;
use std::time::Duration;

#[test]
fn counters_follow_connections_and_requests_from_many_threads() {
    let server = TestServer::builder().start().unwrap();
    thread::scope(|s| {
        for _ in 0..8 {
            s.spawn(|| {
                let mut client = RawClient::connect(&server);
                for _ in 0..10 {
                    assert_eq!(client.get("/").status, 200);
                }
            });
        }
    });
    let stats = server.stats();
    assert_eq!(stats.connections_accepted, 8);
    assert_eq!(stats.requests_received, 80);
    assert_eq!(stats.responses_sent, 80);
    assert_eq!(server.requests_per_connection(), vec![10; 8]);
    assert_eq!(server.requests().len(), 80);
    // The clients are gone: every connection ends closed by its client.
    let stats = server.wait_for_closed(8, SAFETY).unwrap();
    assert_eq!(stats.connections_open(), 0);
    assert!(
        server
            .connections()
            .iter()
            .all(|c| c.closed == Some(ServerCloseReason::ClientClosed))
    );
}

#[test]
fn wait_for_requests_returns_once_they_arrive() {
    let server = TestServer::builder().start().unwrap();
    thread::scope(|s| {
        s.spawn(|| {
            let mut client = RawClient::connect(&server);
            client.get("/1");
            client.get("/2");
        });
        let stats = server.wait_for_requests(2, SAFETY).unwrap();
        assert!(stats.requests_received >= 2);
        server.wait_for_connections(1, SAFETY).unwrap();
    });
}

#[test]
fn a_wait_that_times_out_says_what_it_waited_for() {
    let server = TestServer::builder().start().unwrap();
    let timeout = server
        .wait_for_requests(1, Duration::from_millis(10))
        .unwrap_err();
    assert_eq!(timeout.stats.requests_received, 0);
    let message = timeout.to_string();
    assert!(message.contains("1 requests received"), "{message}");
}

#[test]
fn keep_requests_keeps_only_the_latest() {
    let server = TestServer::builder().keep_requests(2).start().unwrap();
    let mut client = RawClient::connect(&server);
    for path in ["/1", "/2", "/3"] {
        client.get(path);
    }
    let paths: Vec<_> = server.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(paths, ["/2", "/3"]);
    assert_eq!(server.stats().requests_received, 3);
}

#[test]
fn keep_requests_bounds_the_connection_record_too() {
    let server = TestServer::builder()
        .keep_requests(2)
        .default_reply(Reply::ok().then_close())
        .route(hcx_testserver::Method::GET, "/keep", Reply::ok())
        .start()
        .unwrap();
    for n in 1..=10 {
        let mut client = RawClient::connect(&server);
        assert_eq!(client.get("/").status, 200);
        client.expect_eof();
        server.wait_for_closed(n, SAFETY).unwrap();
    }
    // One more, left open: open connections stay recorded whatever the limit.
    let mut open = RawClient::connect(&server);
    assert_eq!(open.get("/keep").status, 200);
    let kept: Vec<usize> = server.connections().iter().map(|c| c.index).collect();
    assert_eq!(kept, [9, 10], "the last closed one and the open one");
    assert_eq!(server.stats().connections_accepted, 11);
    assert_eq!(server.stats().connections_closed, 10);
}

#[test]
fn shutdown_closes_idle_connections_joins_threads_and_stops_listening() {
    let mut server = TestServer::builder().start().unwrap();
    let addr = server.addr();
    let mut clients: Vec<_> = (0..3).map(|_| RawClient::connect(&server)).collect();
    for client in &mut clients {
        assert_eq!(client.get("/").status, 200);
    }
    server.shutdown();
    for client in &mut clients {
        client.expect_eof();
    }
    assert!(
        server
            .connections()
            .iter()
            .all(|c| c.closed == Some(ServerCloseReason::Shutdown))
    );
    assert!(TcpStream::connect(addr).is_err(), "still listening");
    server.shutdown(); // idempotent
    assert_eq!(server.stats().connections_accepted, 3, "records survive");
}

#[test]
fn dropping_the_server_shuts_it_down() {
    let server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    server.wait_for_requests(1, SAFETY).unwrap();
    drop(server);
    client.expect_eof();
}

#[test]
fn shutdown_with_a_connection_mid_request_ends_it() {
    let mut server = TestServer::builder().start().unwrap();
    let mut client = RawClient::connect(&server);
    client.send("POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc");
    server.wait_for_connections(1, SAFETY).unwrap();
    server.shutdown();
    client.expect_eof();
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::Shutdown)
    );
    assert!(server.errors().is_empty(), "{:?}", server.errors());
}

#[test]
fn ipv6_loopback_serves_and_formats_urls() {
    let server = TestServer::builder().ipv6().start().unwrap();
    assert!(server.addr().is_ipv6());
    assert_eq!(
        server.url("/x"),
        format!("http://[::1]:{}/x", server.port())
    );
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").status, 200);
}

#[test]
fn ipv4_urls_and_authority() {
    let server = TestServer::builder().start().unwrap();
    let authority = format!("127.0.0.1:{}", server.port());
    assert_eq!(server.authority(), authority);
    assert_eq!(server.url("/p?q"), format!("http://{authority}/p?q"));
}
