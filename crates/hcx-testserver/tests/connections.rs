//! Connection-level behaviours: keep-alive, closes of every kind, idle close,
//! `Expect: 100-continue`.

mod common;

use common::{RawClient, SAFETY};
use hcx_testserver::{ExpectContinue, Method, Reply, ServerCloseReason, SilentClose, TestServer};
use std::time::Duration;

fn close_reason(server: &TestServer, connection: usize) -> Option<ServerCloseReason> {
    server.connections()[connection].closed
}

#[test]
fn keep_alive_serves_several_requests_on_one_connection() {
    let server = TestServer::builder()
        .route(Method::GET, "/a", Reply::ok().body("a"))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    for _ in 0..5 {
        let response = client.get("/a");
        assert_eq!(response.status, 200);
        assert_eq!(response.body_text(), "a");
        assert_eq!(response.header("connection"), None);
    }
    let stats = server.stats();
    assert_eq!(stats.connections_accepted, 1);
    assert_eq!(stats.requests_received, 5);
    assert_eq!(stats.responses_sent, 5);
    assert_eq!(server.requests_per_connection(), vec![5]);
    let indexes: Vec<_> = server
        .requests()
        .iter()
        .map(|r| (r.connection, r.index_on_connection))
        .collect();
    assert_eq!(indexes, vec![(0, 0), (0, 1), (0, 2), (0, 3), (0, 4)]);
    assert_eq!(close_reason(&server, 0), None);
}

#[test]
fn pipelined_requests_are_answered_in_order() {
    let server = TestServer::builder()
        .default_fn(|req| Reply::ok().body(req.path().to_owned()))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET /1 HTTP/1.1\r\nHost: t\r\n\r\nGET /2 HTTP/1.1\r\nHost: t\r\n\r\nGET /3 HTTP/1.1\r\nHost: t\r\n\r\n");
    for path in ["/1", "/2", "/3"] {
        assert_eq!(client.read_response().body_text(), path);
    }
    assert_eq!(server.requests_per_connection(), vec![3]);
}

#[test]
fn request_connection_close_is_answered_with_close() {
    let server = TestServer::builder().start().unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\nConnection: Close\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.header("connection"), Some("close"));
    client.expect_eof();
    assert_eq!(
        close_reason(&server, 0),
        Some(ServerCloseReason::ClientAskedClose)
    );
}

#[test]
fn http10_request_is_closed_unless_it_asks_for_keep_alive() {
    let server = TestServer::builder().start().unwrap();
    let mut keep = RawClient::connect(&server);
    for _ in 0..2 {
        keep.send("GET / HTTP/1.0\r\nConnection: keep-alive\r\n\r\n");
        assert_eq!(keep.read_response().status, 200);
    }
    let mut once = RawClient::connect(&server);
    once.send("GET / HTTP/1.0\r\n\r\n");
    assert_eq!(once.read_response().status, 200);
    once.expect_eof();
    assert_eq!(server.requests_per_connection(), vec![2, 1]);
    assert_eq!(close_reason(&server, 0), None);
    assert_eq!(
        close_reason(&server, 1),
        Some(ServerCloseReason::Http10Request)
    );
}

#[test]
fn close_after_n_announces_close_on_the_nth_response() {
    let server = TestServer::builder().close_after(2).start().unwrap();
    for connection in 0..2 {
        let mut client = RawClient::connect(&server);
        assert_eq!(client.get("/").header("connection"), None);
        assert_eq!(client.get("/").header("connection"), Some("close"));
        client.expect_eof();
        assert_eq!(
            close_reason(&server, connection),
            Some(ServerCloseReason::CloseAfter)
        );
    }
    assert_eq!(server.requests_per_connection(), vec![2, 2]);
}

#[test]
fn silent_close_after_response_closes_without_a_header() {
    let server = TestServer::builder()
        .silent_close_after(2, SilentClose::AfterResponse)
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").status, 200);
    let second = client.get("/");
    assert_eq!(second.status, 200);
    assert_eq!(second.header("connection"), None);
    client.expect_eof();
    assert_eq!(
        close_reason(&server, 0),
        Some(ServerCloseReason::SilentClose)
    );
}

#[test]
fn silent_close_without_response_reads_the_request_then_hangs_up() {
    let server = TestServer::builder()
        .silent_close_after(2, SilentClose::WithoutResponse)
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/first").status, 200);
    client.send("POST /second HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\n\r\nabc");
    client.expect_eof();
    let stats = server.stats();
    assert_eq!((stats.requests_received, stats.responses_sent), (2, 1));
    let last = server.last_request().unwrap();
    assert_eq!((last.path(), &last.body[..]), ("/second", &b"abc"[..]));
    assert_eq!(
        close_reason(&server, 0),
        Some(ServerCloseReason::SilentClose)
    );
}

#[test]
fn idle_connection_is_closed_after_the_idle_timeout() {
    let server = TestServer::builder()
        .idle_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").status, 200);
    // The server's FIN: a blocking read returns 0 well before the safety timeout.
    client.expect_eof();
    assert_eq!(
        close_reason(&server, 0),
        Some(ServerCloseReason::IdleTimeout)
    );
    assert!(server.errors().is_empty(), "{:?}", server.errors());
}

#[test]
fn idle_close_applies_to_a_connection_that_never_sends() {
    let server = TestServer::builder()
        .idle_timeout(Duration::from_millis(50))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.expect_eof();
    assert_eq!(
        close_reason(&server, 0),
        Some(ServerCloseReason::IdleTimeout)
    );
    assert_eq!(server.stats().requests_received, 0);
}

#[test]
fn client_close_between_requests_is_recorded_without_error() {
    let server = TestServer::builder().start().unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").status, 200);
    drop(client);
    server.wait_for_closed(1, SAFETY).unwrap();
    assert_eq!(
        close_reason(&server, 0),
        Some(ServerCloseReason::ClientClosed)
    );
    assert!(server.errors().is_empty());
}

const EXPECT_HEAD: &str =
    "PUT /up HTTP/1.1\r\nHost: t\r\nContent-Length: 4\r\nExpect: 100-continue\r\n\r\n";

#[test]
fn expect_continue_gets_100_before_the_body_is_sent() {
    let server = TestServer::builder().start().unwrap();
    let mut client = RawClient::connect(&server);
    client.send(EXPECT_HEAD);
    let interim = client.read_head();
    assert_eq!((interim.status, interim.reason.as_str()), (100, "Continue"));
    client.send("data");
    let response = client.read_response();
    assert_eq!(response.status, 200);
    assert_eq!(&server.last_request().unwrap().body[..], b"data");
    assert_eq!(client.get("/again").status, 200, "connection kept");
}

#[test]
fn expect_continue_ignored_sends_no_interim_response() {
    let server = TestServer::builder()
        .expect_continue(ExpectContinue::Ignore)
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send(EXPECT_HEAD);
    client.send("data");
    // The first thing on the wire is the final response.
    assert_eq!(client.read_head().status, 200);
    assert_eq!(&server.last_request().unwrap().body[..], b"data");
}

#[test]
fn expect_continue_final_response_skips_the_body_and_closes() {
    let server = TestServer::builder()
        .expect_continue(ExpectContinue::FinalResponse)
        .route(Method::PUT, "/up", Reply::new(413u16))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send(EXPECT_HEAD);
    let response = client.read_response();
    assert_eq!(response.status, 413);
    assert_eq!(response.header("connection"), Some("close"));
    client.expect_eof();
    assert!(server.last_request().unwrap().body.is_empty());
    assert_eq!(
        close_reason(&server, 0),
        Some(ServerCloseReason::ExpectationNotMet)
    );
}

#[test]
fn idle_timeout_does_not_apply_inside_a_request() {
    let server = TestServer::builder()
        .idle_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let mut slow = RawClient::connect(&server);
    slow.send(EXPECT_HEAD);
    assert_eq!(slow.read_head().status, 100);
    // The server now waits for the body. A second connection, opened after that wait
    // began, is closed by the idle timeout: at least that long has passed since.
    let mut clock = RawClient::connect(&server);
    clock.expect_eof();
    assert_eq!(
        close_reason(&server, 1),
        Some(ServerCloseReason::IdleTimeout)
    );
    slow.send("data");
    assert_eq!(slow.read_response().status, 200);
    assert_eq!(&server.last_request().unwrap().body[..], b"data");
}
