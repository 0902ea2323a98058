//! Replies: routing, framing, versions, raw bytes, truncation, stalls, delays, closures.

mod common;

use common::{RawClient, SAFETY};
use hcx_testserver::{Method, Reply, ServerCloseReason, TestServer, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

#[test]
fn routes_match_method_and_path_then_fall_back_to_the_default() {
    let server = TestServer::builder()
        .route(Method::GET, "/a", Reply::ok().body("get a"))
        .route(Method::POST, "/a", Reply::new(201u16).body("post a"))
        .default_reply(Reply::new(404u16).body("nope"))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/a?query=1").body_text(), "get a");
    client.send("POST /a HTTP/1.1\r\nHost: t\r\nContent-Length: 0\r\n\r\n");
    let posted = client.read_response();
    assert_eq!((posted.status, posted.body_text()), (201, "post a".into()));
    let missing = client.get("/b");
    assert_eq!(
        (missing.status, missing.reason.as_str()),
        (404, "Not Found")
    );
    assert_eq!(missing.body_text(), "nope");
}

#[test]
fn head_uses_the_get_route_without_a_body_and_keeps_the_connection() {
    let server = TestServer::builder()
        .route(Method::GET, "/doc", Reply::ok().body("0123456789"))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("HEAD /doc HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = client.read_head();
    assert_eq!(head.header("content-length"), Some("10"));
    // Had a body been written, this would read it instead of the next response.
    assert_eq!(client.get("/doc").body_text(), "0123456789");
}

#[test]
fn statuses_204_and_304_carry_no_body_or_length() {
    let server = TestServer::builder()
        .route(Method::GET, "/204", Reply::new(204u16).body("ignored"))
        .route(
            Method::GET,
            "/304",
            Reply::new(304u16).header("etag", "\"x\""),
        )
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    for (path, status) in [("/204", 204), ("/304", 304), ("/204", 204)] {
        let response = client.get(path);
        assert_eq!(response.status, status);
        assert_eq!(response.header("content-length"), None);
    }
    assert_eq!(server.requests_per_connection(), vec![3]);
}

#[test]
fn chunked_reply_with_extensions_and_trailers_is_written_exactly() {
    let server = TestServer::builder()
        .default_reply(
            Reply::ok()
                .body("hello world")
                .chunk_size(5)
                .chunk_extension("k=\"v;w\"")
                .trailer("X-Checksum", "abc"),
        )
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let expected = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
        5;k=\"v;w\"\r\nhello\r\n5;k=\"v;w\"\r\n worl\r\n1;k=\"v;w\"\r\nd\r\n\
        0;k=\"v;w\"\r\nX-Checksum: abc\r\n\r\n";
    assert_eq!(client.read_exact(expected.len()), expected.as_bytes());
    assert_eq!(client.get("/").body_text(), "hello world", "still alive");
}

#[test]
fn http10_close_delimited_reply_is_read_to_close() {
    let server = TestServer::builder()
        .default_reply(
            Reply::ok()
                .version(Version::HTTP_10)
                .close_delimited()
                .generated_body(30),
        )
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let all = client.read_to_end();
    assert_eq!(
        String::from_utf8(all).unwrap(),
        "HTTP/1.0 200 OK\r\n\r\nabcdefghijklmnopqrstuvwxyzabcd"
    );
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::Http10Reply)
    );
}

#[test]
fn http11_close_delimited_reply_closes_without_a_header() {
    let server = TestServer::builder()
        .default_reply(Reply::ok().close_delimited().body("to the end"))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    let response = client.get("/");
    assert_eq!(response.header("connection"), None);
    assert_eq!(response.body_text(), "to the end");
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::CloseDelimitedBody)
    );
}

#[test]
fn raw_replies_are_written_verbatim_and_keep_the_connection_unless_told() {
    let malformed: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 3\r\n\r\nab";
    let server = TestServer::builder()
        .route(Method::GET, "/raw", Reply::raw(malformed))
        .route(
            Method::GET,
            "/bye",
            Reply::raw("NOT HTTP AT ALL").then_close(),
        )
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    for _ in 0..2 {
        client.send("GET /raw HTTP/1.1\r\nHost: t\r\n\r\n");
        assert_eq!(client.read_exact(malformed.len()), malformed);
    }
    client.send("GET /bye HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.read_to_end(), b"NOT HTTP AT ALL");
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::ReplyClosed)
    );
}

#[test]
fn truncated_body_announces_the_full_length_then_closes() {
    let server = TestServer::builder()
        .default_reply(Reply::ok().generated_body(100).truncate_body(10))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let head = client.read_head();
    assert_eq!(head.header("content-length"), Some("100"));
    assert_eq!(client.read_to_end(), b"abcdefghij");
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::TruncatedBody)
    );
}

#[test]
fn stalled_body_holds_the_connection_until_the_client_leaves() {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("0123456789").stall_body_after(4))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.read_head().header("content-length"), Some("10"));
    assert_eq!(client.read_exact(4), b"0123");
    assert_eq!(server.stats().connections_closed, 0);
    drop(client);
    server.wait_for_closed(1, SAFETY).unwrap();
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::ClientClosed)
    );
}

#[test]
fn stall_writes_nothing_until_shutdown() {
    let mut server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    server.wait_for_requests(1, SAFETY).unwrap();
    server.shutdown();
    client.expect_eof();
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::Shutdown)
    );
    assert_eq!(server.stats().responses_sent, 0);
}

#[test]
fn no_response_hangs_up_after_reading_the_request() {
    let server = TestServer::builder()
        .default_reply(Reply::no_response())
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    client.expect_eof();
    assert_eq!(server.stats().requests_received, 1);
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::ReplyClosed)
    );
}

#[test]
fn delayed_reply_arrives() {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("late").delay(Duration::from_millis(20)))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    assert_eq!(client.get("/").body_text(), "late");
}

#[test]
fn shutdown_cuts_a_delay_short() {
    let mut server = TestServer::builder()
        .default_reply(Reply::ok().delay(Duration::from_secs(60)))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    server.wait_for_requests(1, SAFETY).unwrap();
    server.shutdown();
    // Had the delay run its course, the response would be here instead.
    client.expect_eof();
    assert_eq!(server.stats().responses_sent, 0);
}

#[test]
fn informational_responses_precede_the_final_one() {
    let server = TestServer::builder()
        .default_reply(Reply::ok().informational(103).body("final"))
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    let hints = client.read_head();
    assert_eq!((hints.status, hints.reason.as_str()), (103, "Early Hints"));
    assert_eq!(client.read_response().body_text(), "final");
}

#[test]
fn reply_connection_close_and_version_and_reason_are_written() {
    let server = TestServer::builder()
        .default_reply(Reply::new(299u16).reason("Custom").connection_close())
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    let response = client.get("/");
    assert_eq!((response.version, response.status), (1, 299));
    assert_eq!(response.reason, "Custom");
    assert_eq!(response.header("connection"), Some("close"));
    client.expect_eof();
}

#[test]
fn handler_sees_the_recorded_request() {
    let server = TestServer::builder()
        .route_fn(Method::POST, "/echo", |req| {
            Reply::ok()
                .header(
                    "x-conn",
                    format!("{}/{}", req.connection, req.index_on_connection),
                )
                .header("x-agent", req.header("user-agent").unwrap_or("-"))
                .body(req.body.clone())
        })
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    for i in 0..2 {
        client.send(
            "POST /echo HTTP/1.1\r\nHost: t\r\nUser-Agent: raw\r\nContent-Length: 5\r\n\r\nhello",
        );
        let response = client.read_response();
        assert_eq!(response.body_text(), "hello");
        assert_eq!(response.header("x-conn"), Some(format!("0/{i}").as_str()));
        assert_eq!(response.header("x-agent"), Some("raw"));
    }
}

#[test]
fn route_seq_gives_replies_in_turn_then_repeats_the_last() {
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [
                Reply::ok().generated_body(10).truncate_body(3),
                Reply::ok().body("fine"),
            ],
        )
        .start()
        .unwrap();
    let mut first = RawClient::connect(&server);
    first.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    first.read_head();
    assert_eq!(first.read_to_end(), b"abc");
    let mut second = RawClient::connect(&server);
    assert_eq!(second.get("/").body_text(), "fine");
    assert_eq!(second.get("/").body_text(), "fine");
}

#[test]
fn a_panicking_handler_gets_a_500_and_an_error_not_a_dead_server() {
    let calls = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&calls);
    let server = TestServer::builder()
        .route_fn(Method::GET, "/boom", move |_| {
            counted.fetch_add(1, Ordering::SeqCst);
            panic!("handler bug");
        })
        .start()
        .unwrap();
    let mut client = RawClient::connect(&server);
    let response = client.get("/boom");
    assert_eq!(response.status, 500);
    assert_eq!(response.header("connection"), Some("close"));
    client.expect_eof();
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let errors = server.errors();
    assert_eq!(errors.len(), 1);
    assert!(errors[0].message.contains("panicked"), "{}", errors[0]);
    assert_eq!(RawClient::connect(&server).get("/other").status, 200);
}
