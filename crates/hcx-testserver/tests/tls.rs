//! TLS mode: the handshake, what it records, resumption, client certificates, failed
//! handshakes, and `close_notify` on the server's closes.

mod common;

use common::SAFETY;
use common::tls::{ClientOptions, connect, handshake};
use hcx_testserver::{Method, Reply, ServerCloseReason, TestCa, TestServer};
use rustls::{HandshakeKind, ProtocolVersion};
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

const NAMES: &[&str] = &["localhost", "127.0.0.1"];

fn tls_server(ca: &TestCa) -> TestServer {
    TestServer::builder()
        .tls(ca.server_config(NAMES))
        .route(Method::GET, "/hello", Reply::ok().body("hi"))
        .start()
        .unwrap()
}

/// Reads once more and asserts the server ended the TLS session cleanly: rustls
/// returns `Ok(0)` only after a `close_notify` (a bare FIN is `UnexpectedEof`).
fn assert_clean_close(stream: &mut impl Read) {
    let mut byte = [0u8; 1];
    match stream.read(&mut byte) {
        Ok(0) => {}
        other => panic!("expected close_notify then end of stream, got {other:?}"),
    }
}

#[test]
fn get_over_tls_is_served_and_recorded() {
    let ca = TestCa::new().unwrap();
    let server = tls_server(&ca);
    assert_eq!(
        server.url("/hello"),
        format!("https://127.0.0.1:{}/hello", server.port())
    );
    let config = ClientOptions::trusting(ca.root_der()).build();
    let mut client = connect(server.addr(), &config, "localhost");
    let response = client.get("/hello");
    assert_eq!(
        (response.status, response.body_text().as_str()),
        (200, "hi")
    );
    assert_eq!(client.stream().conn.alpn_protocol(), Some(&b"http/1.1"[..]));

    let tls = server.connections()[0].tls.clone().expect("TLS recorded");
    assert_eq!(tls.server_name.as_deref(), Some("localhost"));
    assert_eq!(tls.alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(tls.version, Some(ProtocolVersion::TLSv1_3));
    assert!(!tls.resumed);
    assert!(!tls.client_certificate);
    let stats = server.stats();
    assert_eq!((stats.tls_handshakes, stats.tls_resumed), (1, 0));
    assert_eq!(server.last_request().unwrap().path(), "/hello");
}

#[test]
fn connecting_by_ip_sends_no_server_name_and_no_alpn_when_not_offered() {
    let ca = TestCa::new().unwrap();
    let server = tls_server(&ca);
    let config = ClientOptions {
        alpn: false,
        ..ClientOptions::trusting(ca.root_der())
    }
    .build();
    let mut client = connect(server.addr(), &config, "127.0.0.1");
    assert_eq!(client.get("/hello").status, 200);
    let tls = server.connections()[0].tls.clone().unwrap();
    assert_eq!((tls.server_name, tls.alpn_protocol), (None, None));
}

#[test]
fn one_handshake_serves_a_hundred_requests() {
    let ca = TestCa::new().unwrap();
    let server = tls_server(&ca);
    let config = ClientOptions::trusting(ca.root_der()).build();
    let mut client = connect(server.addr(), &config, "localhost");
    for _ in 0..100 {
        assert_eq!(client.get("/hello").body_text(), "hi");
    }
    assert_eq!(server.requests_per_connection(), vec![100]);
    assert_eq!(server.stats().tls_handshakes, 1);
}

/// Two connections in turn with one client configuration (so one session cache); the
/// second must resume, with `version`.
fn second_connection_resumes(options: ClientOptions, version: ProtocolVersion) {
    let ca = TestCa::new().unwrap();
    let server = tls_server(&ca);
    let root = ca.root_der();
    let config = ClientOptions { root, ..options }.build();
    for expected in [HandshakeKind::Full, HandshakeKind::Resumed] {
        let mut client = connect(server.addr(), &config, "localhost");
        // Reading the response also reads the TLS 1.3 tickets sent before it.
        assert_eq!(client.get("/hello").status, 200);
        assert_eq!(client.stream().conn.handshake_kind(), Some(expected));
    }
    let connections = server.connections();
    let resumed: Vec<_> = connections
        .iter()
        .map(|c| c.tls.as_ref().map(|t| (t.resumed, t.version)))
        .collect();
    assert_eq!(
        resumed,
        [Some((false, Some(version))), Some((true, Some(version)))]
    );
    let stats = server.stats();
    assert_eq!((stats.tls_handshakes, stats.tls_resumed), (2, 1));
}

#[test]
fn second_connection_resumes_with_a_tls13_ticket() {
    let options = ClientOptions::trusting(TestCa::new().unwrap().root_der());
    second_connection_resumes(options, ProtocolVersion::TLSv1_3);
}

#[test]
fn second_connection_resumes_a_tls12_session() {
    let options = ClientOptions {
        tls12_only: true,
        ..ClientOptions::trusting(TestCa::new().unwrap().root_der())
    };
    second_connection_resumes(options, ProtocolVersion::TLSv1_2);
}

#[test]
fn client_trusting_another_ca_fails_and_the_server_keeps_serving() {
    let ca = TestCa::new().unwrap();
    let server = tls_server(&ca);
    let other = TestCa::new().unwrap();
    let wrong = ClientOptions::trusting(other.root_der()).build();
    let error = handshake(server.addr(), &wrong, "localhost").unwrap_err();
    assert!(
        error.to_string().contains("UnknownIssuer"),
        "client error: {error}"
    );

    // The client fails first, then its alert reaches the server: wait for the record.
    server
        .wait_until(SAFETY, |s| s.tls_handshake_failures == 1)
        .unwrap();
    let errors = server.errors();
    assert_eq!(errors.len(), 1);
    assert_eq!(errors[0].connection, Some(0));
    assert!(
        errors[0].message.starts_with("TLS handshake failed: ")
            && errors[0].message.contains("UnknownCA"),
        "{}",
        errors[0].message
    );
    server.wait_for_closed(1, SAFETY).unwrap();
    let first = &server.connections()[0];
    assert_eq!(first.closed, Some(ServerCloseReason::TlsHandshakeFailed));
    assert_eq!(first.tls, None);

    let right = ClientOptions::trusting(ca.root_der()).build();
    let mut client = connect(server.addr(), &right, "localhost");
    assert_eq!(client.get("/hello").status, 200);
    assert_eq!(server.stats().tls_handshakes, 1);
}

#[test]
fn required_client_certificate_missing_fails_the_handshake() {
    let ca = TestCa::new().unwrap();
    let server = TestServer::builder()
        .tls(ca.server_config_requiring_client_cert(NAMES))
        .start()
        .unwrap();
    let config = ClientOptions::trusting(ca.root_der()).build();
    // In TLS 1.3 the client finishes its side before the server has judged its
    // (empty) certificate: the refusal arrives as an alert on the first read.
    let outcome = handshake(server.addr(), &config, "localhost").and_then(|mut stream| {
        stream.write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")?;
        stream.flush()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).map(|_| response)
    });
    let error = outcome.expect_err("no certificate, no response");
    assert!(
        error.to_string().contains("CertificateRequired"),
        "client error: {error}"
    );
    let errors = server.errors();
    assert_eq!(server.stats().tls_handshake_failures, 1);
    assert!(
        errors[0].message.contains("no certificates"),
        "{}",
        errors[0].message
    );
    assert_eq!(server.stats().requests_received, 0);
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::TlsHandshakeFailed)
    );
}

#[test]
fn required_client_certificate_present_is_accepted_and_recorded() {
    let ca = TestCa::new().unwrap();
    let server = TestServer::builder()
        .tls(ca.server_config_requiring_client_cert(NAMES))
        .start()
        .unwrap();
    let config = ClientOptions {
        identity: Some(ca.client_identity("alice")),
        ..ClientOptions::trusting(ca.root_der())
    }
    .build();
    let mut client = connect(server.addr(), &config, "localhost");
    assert_eq!(client.get("/").status, 200);
    let tls = server.connections()[0].tls.clone().unwrap();
    assert!(tls.client_certificate);
    assert!(server.errors().is_empty(), "{:?}", server.errors());
}

#[test]
fn idle_timeout_closes_with_close_notify() {
    let ca = TestCa::new().unwrap();
    let server = TestServer::builder()
        .tls(ca.server_config(NAMES))
        .idle_timeout(Duration::from_millis(500))
        .start()
        .unwrap();
    let config = ClientOptions::trusting(ca.root_der()).build();
    // No request: whatever the scheduling, the server's wait for one times out.
    let mut client = handshake(server.addr(), &config, "localhost").unwrap();
    assert_clean_close(&mut client);
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::IdleTimeout)
    );
    assert_eq!(server.stats().tls_handshakes, 1);
    assert!(server.errors().is_empty(), "{:?}", server.errors());
}

#[test]
fn a_client_that_never_says_hello_is_closed_as_idle() {
    let ca = TestCa::new().unwrap();
    let server = TestServer::builder()
        .tls(ca.server_config(NAMES))
        .idle_timeout(Duration::from_millis(20))
        .start()
        .unwrap();
    let mut silent = TcpStream::connect(server.addr()).unwrap();
    silent.set_read_timeout(Some(SAFETY)).unwrap();
    let mut byte = [0u8; 1];
    assert_eq!(silent.read(&mut byte).unwrap(), 0);
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::IdleTimeout)
    );
    assert!(server.errors().is_empty(), "{:?}", server.errors());
}

#[test]
fn connection_close_and_shutdown_close_with_close_notify() {
    let ca = TestCa::new().unwrap();
    let mut server = tls_server(&ca);
    let config = ClientOptions::trusting(ca.root_der()).build();

    let mut asked = connect(server.addr(), &config, "localhost");
    asked.send("GET /hello HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n");
    assert_eq!(asked.read_response().header("connection"), Some("close"));
    assert_clean_close(asked.stream());

    let mut idle = connect(server.addr(), &config, "localhost");
    assert_eq!(idle.get("/hello").status, 200);
    server.shutdown();
    assert_clean_close(idle.stream());
    let reasons: Vec<_> = server.connections().iter().map(|c| c.closed).collect();
    assert_eq!(
        reasons,
        [
            Some(ServerCloseReason::ClientAskedClose),
            Some(ServerCloseReason::Shutdown)
        ]
    );
}

#[test]
fn truncated_body_ends_without_close_notify() {
    let ca = TestCa::new().unwrap();
    let server = TestServer::builder()
        .tls(ca.server_config(NAMES))
        .default_reply(Reply::ok().body("hello").truncate_body(2))
        .start()
        .unwrap();
    let config = ClientOptions::trusting(ca.root_der()).build();
    let mut client = connect(server.addr(), &config, "localhost");
    client.send("GET / HTTP/1.1\r\nHost: t\r\n\r\n");
    assert_eq!(client.read_head().header("content-length"), Some("5"));
    let mut rest = Vec::new();
    let error = client.stream().read_to_end(&mut rest).unwrap_err();
    assert_eq!(error.kind(), ErrorKind::UnexpectedEof);
    assert_eq!([client.buffered(), &rest[..]].concat(), b"he");
}

#[test]
fn plain_http_to_a_tls_server_is_a_recorded_handshake_failure() {
    let ca = TestCa::new().unwrap();
    let server = tls_server(&ca);
    let mut plain = TcpStream::connect(server.addr()).unwrap();
    plain.set_read_timeout(Some(SAFETY)).unwrap();
    plain
        .write_all(b"GET / HTTP/1.1\r\nHost: t\r\n\r\n")
        .unwrap();
    // The server answers with a TLS alert, not HTTP, and closes.
    let mut answer = Vec::new();
    let _ = plain.read_to_end(&mut answer);
    assert!(!answer.starts_with(b"HTTP/"), "{answer:?}");
    server.wait_for_closed(1, SAFETY).unwrap();
    let errors = server.errors();
    assert_eq!(errors.len(), 1, "{errors:?}");
    assert!(errors[0].message.starts_with("TLS handshake failed"));
    assert_eq!(server.stats().tls_handshake_failures, 1);
}

#[test]
fn a_connection_closed_before_hello_is_no_error() {
    let ca = TestCa::new().unwrap();
    let server = tls_server(&ca);
    drop(TcpStream::connect(server.addr()).unwrap());
    server.wait_for_closed(1, SAFETY).unwrap();
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::ClientClosed)
    );
    assert!(server.errors().is_empty(), "{:?}", server.errors());
    assert_eq!(server.stats().tls_handshake_failures, 0);
}
