//! Reading requests: bodies by Content-Length and chunked, and every kind of bad input
//! recorded as an error that closes only its own connection.

mod common;

use common::{RawClient, SAFETY};
use hcx_testserver::{Method, ServerCloseReason, TestServer, Version};

#[test]
fn content_length_body_and_headers_are_recorded() {
    let server = TestServer::builder().start().unwrap();
    let mut client = RawClient::connect(&server);
    client.send("POST /form?x=1 HTTP/1.1\r\nHost: t\r\nX-Many: 1\r\nX-Many: 2\r\nContent-Length: 11\r\n\r\nhello world");
    assert_eq!(client.read_response().status, 200);
    let request = server.last_request().unwrap();
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.target, "/form?x=1");
    assert_eq!(request.path(), "/form");
    assert_eq!(request.version, Version::HTTP_11);
    assert_eq!(request.body_text(), "hello world");
    let many: Vec<_> = request.headers.get_all("x-many").iter().collect();
    assert_eq!(many, ["1", "2"]);
}

#[test]
fn chunked_body_is_decoded_with_extensions_and_trailers() {
    let server = TestServer::builder().start().unwrap();
    let mut client = RawClient::connect(&server);
    client.send("POST /up HTTP/1.1\r\nHost: t\r\nTransfer-Encoding: chunked\r\n\r\n");
    // In pieces, split inside a size line and inside data.
    client.send("5;name=\"va;lue\"\r\nhel");
    client.send("lo\r\n1");
    client.send("0\r\n, chunked world!\r\n0\r\nX-Trailer: done\r\n\r\n");
    assert_eq!(client.read_response().status, 200);
    let request = server.last_request().unwrap();
    assert_eq!(request.body_text(), "hello, chunked world!");
    assert_eq!(request.trailers["x-trailer"], "done");
    assert_eq!(client.get("/next").status, 200, "framing consumed exactly");
    assert_eq!(server.requests_per_connection(), vec![2]);
}

#[test]
fn chunked_with_content_length_uses_chunked_and_closes() {
    let server = TestServer::builder().start().unwrap();
    let mut client = RawClient::connect(&server);
    client.send("POST / HTTP/1.1\r\nHost: t\r\nContent-Length: 100\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n");
    let response = client.read_response();
    assert_eq!(response.header("connection"), Some("close"));
    client.expect_eof();
    assert_eq!(server.last_request().unwrap().body_text(), "abc");
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::AmbiguousFraming)
    );
}

/// Sends `input` on a fresh connection and checks that the server records one
/// protocol error containing `message`, closes that connection without a response,
/// and serves the next connection normally.
fn rejects(server: &TestServer, input: &[u8], message: &str) {
    let connection = server.stats().connections_accepted;
    let errors_before = server.errors().len();
    let mut client = RawClient::connect(server);
    client.send(input);
    client.expect_eof();
    assert_eq!(
        server.connections()[connection].closed,
        Some(ServerCloseReason::ProtocolError),
        "input {:?}",
        String::from_utf8_lossy(input)
    );
    let errors = server.errors();
    assert_eq!(errors.len(), errors_before + 1);
    let error = &errors[errors_before];
    assert_eq!(error.connection, Some(connection));
    assert!(
        error.message.contains(message),
        "{error} does not mention {message:?}"
    );
    assert_eq!(RawClient::connect(server).get("/").status, 200);
}

#[test]
fn malformed_heads_are_errors_that_close_the_connection() {
    let server = TestServer::builder()
        .max_head_bytes(256)
        .max_headers(4)
        .start()
        .unwrap();
    rejects(
        &server,
        b"\x16\x03\x01\x02\x00 tls hello\r\n\r\n",
        "malformed",
    );
    rejects(
        &server,
        b"GET / HTTP/1.1\r\nBad Header\r\n\r\n",
        "malformed",
    );
    rejects(&server, b"GET / HTTP/9.9\r\n\r\n", "malformed");
    let long = format!("GET /{} HTTP/1.1\r\n\r\n", "a".repeat(300));
    rejects(&server, long.as_bytes(), "256");
    let many = "GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n";
    rejects(&server, many.as_bytes(), "more than 4");
}

#[test]
fn bad_body_framing_is_an_error() {
    let server = TestServer::builder().max_body_bytes(16).start().unwrap();
    let conflicting = "POST / HTTP/1.1\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd";
    rejects(
        &server,
        conflicting.as_bytes(),
        "conflicting Content-Length",
    );
    let not_chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: gzip\r\n\r\n";
    rejects(&server, not_chunked.as_bytes(), "does not end in chunked");
    let too_big = "POST / HTTP/1.1\r\nContent-Length: 17\r\n\r\n";
    rejects(&server, too_big.as_bytes(), "exceeds the limit of 16");
    let bad_size = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nxyz\r\n";
    rejects(&server, bad_size.as_bytes(), "chunk size");
    let overflow = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\nfffffffffffffffff\r\n";
    rejects(&server, overflow.as_bytes(), "overflows");
    let too_big_chunked = "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n11\r\n";
    rejects(&server, too_big_chunked.as_bytes(), "exceeds the limit");
}

#[test]
fn client_closing_mid_request_is_an_error() {
    let server = TestServer::builder().start().unwrap();
    for (input, message) in [
        (
            "GET / HTTP/1.1\r\nHost:",
            "closed after 21 bytes of a request head",
        ),
        (
            "POST / HTTP/1.1\r\nContent-Length: 10\r\n\r\nabc",
            "after 3 of 10 request body bytes",
        ),
        (
            "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nab",
            "middle of a chunked request body",
        ),
    ] {
        let connection = server.stats().connections_accepted;
        let mut client = RawClient::connect(&server);
        client.send(input);
        drop(client);
        server
            .wait_until(SAFETY, |s| s.connections_closed > connection)
            .unwrap();
        let errors = server.errors();
        let error = errors.last().unwrap();
        assert!(error.message.contains(message), "{error}");
    }
    assert_eq!(server.stats().requests_received, 0);
}
