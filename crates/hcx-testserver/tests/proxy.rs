//! The test proxy: absolute-form forwarding with keep-alive, re-framed responses,
//! CONNECT tunnels (plain and TLS inside), refusals, Basic authentication, bad input,
//! and shutdown.

mod common;

use common::tls::ClientOptions;
use common::{RawClient, SAFETY};
use hcx_testserver::{Method, Reply, StatusCode, TestCa, TestProxy, TestServer};
use rustls::pki_types::ServerName;
use rustls::{ClientConnection, StreamOwned};
use std::net::TcpListener;
use std::sync::Arc;

const GOOD_AUTH: &str = "Basic dXNlcjpwYXNz"; // user:pass

fn get_via(proxy_client: &mut RawClient, server: &TestServer, path: &str, extra: &str) {
    proxy_client.send(format!(
        "GET {} HTTP/1.1\r\nHost: {}\r\n{extra}\r\n",
        server.url(path),
        server.authority()
    ));
}

fn connect_via(client: &mut RawClient, authority: &str, extra: &str) {
    client.send(format!(
        "CONNECT {authority} HTTP/1.1\r\nHost: {authority}\r\n{extra}\r\n"
    ));
}

#[test]
fn absolute_form_requests_are_forwarded_in_origin_form_on_one_client_connection() {
    let server = TestServer::builder()
        .default_fn(|request| Reply::ok().header("x-path", request.path()).body("ok"))
        .start()
        .unwrap();
    let proxy = TestProxy::builder().start().unwrap();
    assert_eq!(proxy.url(), format!("http://127.0.0.1:{}", proxy.port()));
    let mut client = RawClient::connect_to(proxy.addr());
    for path in ["/a?x=1", "/b"] {
        get_via(
            &mut client,
            &server,
            path,
            "Proxy-Connection: keep-alive\r\n",
        );
        let response = client.read_response();
        assert_eq!(
            (response.status, response.body_text().as_str()),
            (200, "ok")
        );
        assert_eq!(response.header("content-length"), Some("2"));
        assert_eq!(response.header("connection"), None, "upstream's dropped");
    }

    let stats = proxy.stats();
    assert_eq!(
        (
            stats.connections_accepted,
            stats.requests_received,
            stats.responses_relayed
        ),
        (1, 2, 2)
    );
    let targets: Vec<_> = proxy.requests().iter().map(|r| r.target.clone()).collect();
    assert_eq!(targets, [server.url("/a?x=1"), server.url("/b")]);
    assert!(proxy.requests().iter().all(|r| r.authorized));

    // The server saw origin-form, one connection per request, closed by request.
    let requests = server.requests();
    let seen: Vec<_> = requests.iter().map(|r| r.target.as_str()).collect();
    assert_eq!(seen, ["/a?x=1", "/b"]);
    for request in &requests {
        assert_eq!(request.header("host"), Some(server.authority().as_str()));
        assert_eq!(request.header("connection"), Some("close"));
        assert_eq!(request.header("proxy-connection"), None);
        assert_eq!(request.header("proxy-authorization"), None);
    }
    assert_eq!(server.requests_per_connection(), vec![1, 1]);
    assert!(proxy.errors().is_empty(), "{:?}", proxy.errors());
}

#[test]
fn request_bodies_are_forwarded_as_the_client_framed_them() {
    let server = TestServer::builder().start().unwrap();
    let proxy = TestProxy::builder().start().unwrap();
    let mut client = RawClient::connect_to(proxy.addr());
    let url = server.url("/up");
    client.send(format!(
        "POST {url} HTTP/1.1\r\nHost: h\r\nContent-Length: 5\r\n\r\nhello"
    ));
    assert_eq!(client.read_response().status, 200);
    client.send(format!(
        "POST {url} HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n2\r\nde\r\n0\r\nX-T: 1\r\n\r\n"
    ));
    assert_eq!(client.read_response().status, 200);
    let requests = server.requests();
    assert_eq!(requests[0].body_text(), "hello");
    assert_eq!(requests[1].body_text(), "abcde");
    assert_eq!(requests[1].header("transfer-encoding"), Some("chunked"));
    assert_eq!(requests[1].trailers["x-t"], "1");
}

#[test]
fn chunked_and_close_delimited_responses_are_relayed_with_content_length() {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/chunked",
            Reply::ok()
                .body("hello chunked world")
                .chunk_size(4)
                .trailer("x-t", "1"),
        )
        .route(
            Method::GET,
            "/until-close",
            Reply::ok().body("to the end").close_delimited(),
        )
        .route(Method::GET, "/head", Reply::ok().body("12345"))
        .start()
        .unwrap();
    let proxy = TestProxy::builder().start().unwrap();
    let mut client = RawClient::connect_to(proxy.addr());

    get_via(&mut client, &server, "/chunked", "");
    let response = client.read_response();
    assert_eq!(response.header("transfer-encoding"), None);
    assert_eq!(response.header("content-length"), Some("19"));
    assert_eq!(response.body_text(), "hello chunked world");

    get_via(&mut client, &server, "/until-close", "");
    let response = client.read_response();
    assert_eq!(response.header("content-length"), Some("10"));
    assert_eq!(response.body_text(), "to the end");

    // A HEAD response keeps the target's length and carries no body.
    client.send(format!(
        "HEAD {} HTTP/1.1\r\nHost: h\r\n\r\n",
        server.url("/head")
    ));
    let head = client.read_head();
    assert_eq!(head.header("content-length"), Some("5"));
    get_via(&mut client, &server, "/head", "");
    assert_eq!(client.read_response().body_text(), "12345");
    assert_eq!(proxy.stats().connections_accepted, 1);
}

#[test]
fn connect_opens_a_tunnel_that_carries_plain_http() {
    let server = TestServer::builder()
        .route(Method::GET, "/t", Reply::ok().body("tunnelled"))
        .start()
        .unwrap();
    let proxy = TestProxy::builder().start().unwrap();
    let mut client = RawClient::connect_to(proxy.addr());
    connect_via(&mut client, &server.authority(), "");
    let established = client.read_head();
    assert_eq!(
        (established.status, established.reason.as_str()),
        (200, "Connection Established")
    );
    for _ in 0..2 {
        assert_eq!(client.get("/t").body_text(), "tunnelled");
    }
    assert_eq!(proxy.tunnels(), [server.authority()]);
    assert_eq!(server.requests()[0].target, "/t");
    assert_eq!(server.requests_per_connection(), vec![2]);
    drop(client);
    proxy
        .wait_until(SAFETY, |s| {
            s.tunnels_closed == 1 && s.connections_closed == 1
        })
        .unwrap();
}

#[test]
fn connect_tunnel_carries_tls_to_the_target() {
    let ca = TestCa::new().unwrap();
    let server = TestServer::builder()
        .tls(ca.server_config(&["localhost", "127.0.0.1"]))
        .start()
        .unwrap();
    let proxy = TestProxy::builder().start().unwrap();
    let mut tunnel = RawClient::connect_to(proxy.addr());
    connect_via(&mut tunnel, &format!("127.0.0.1:{}", closed_port()), "");
    // Nothing listens there: a 502, and the connection stays usable.
    assert_eq!(tunnel.read_response().status, 502);
    connect_via(&mut tunnel, &server.authority(), "");
    assert_eq!(tunnel.read_head().status, 200);

    let config = ClientOptions::trusting(ca.root_der()).build();
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(Arc::clone(&config), name).unwrap();
    let mut client = RawClient::over(StreamOwned::new(conn, tunnel.into_stream()));
    assert_eq!(client.get("/").status, 200);
    let tls = server.connections()[0].tls.clone().unwrap();
    assert_eq!(tls.server_name.as_deref(), Some("localhost"));
    assert_eq!(proxy.tunnels(), [server.authority()]);
}

/// A loopback port nothing listens on (it was free a moment ago).
fn closed_port() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    listener.local_addr().unwrap().port()
}

#[test]
fn refused_connect_gets_the_configured_status_and_the_connection_stays_open() {
    let server = TestServer::builder().start().unwrap();
    let proxy = TestProxy::builder()
        .refuse_connect(StatusCode::FORBIDDEN)
        .start()
        .unwrap();
    let mut client = RawClient::connect_to(proxy.addr());
    connect_via(&mut client, &server.authority(), "");
    let refused = client.read_response();
    assert_eq!(refused.status, 403);
    assert_eq!(refused.header("x-proxy-reason"), Some("refused"));
    assert!(!refused.body.is_empty());
    get_via(&mut client, &server, "/after", "");
    assert_eq!(client.read_response().status, 200);
    let stats = proxy.stats();
    assert_eq!((stats.connects_refused, stats.tunnels_opened), (1, 0));
    assert!(proxy.tunnels().is_empty());
    assert_eq!(stats.connections_accepted, 1);
}

#[test]
fn basic_auth_is_challenged_then_accepted_on_the_same_connection() {
    let server = TestServer::builder().start().unwrap();
    let proxy = TestProxy::builder()
        .require_basic_auth("user", "pass")
        .start()
        .unwrap();
    let mut client = RawClient::connect_to(proxy.addr());
    let wrong = "Proxy-Authorization: Basic dXNlcjp3cm9uZw==\r\n";
    for extra in ["", wrong] {
        get_via(&mut client, &server, "/", extra);
        let challenge = client.read_response();
        assert_eq!(challenge.status, 407);
        assert_eq!(
            challenge.header("proxy-authenticate"),
            Some("Basic realm=\"test-proxy\"")
        );
        assert_eq!(challenge.header("content-length"), Some("0"));
    }
    connect_via(&mut client, &server.authority(), "");
    assert_eq!(client.read_response().status, 407);
    assert_eq!(server.stats().requests_received, 0, "nothing got through");

    get_via(
        &mut client,
        &server,
        "/",
        &format!("Proxy-Authorization: {GOOD_AUTH}\r\n"),
    );
    assert_eq!(client.read_response().status, 200);
    assert_eq!(
        server.last_request().unwrap().header("proxy-authorization"),
        None
    );
    connect_via(
        &mut client,
        &server.authority(),
        &format!("Proxy-Authorization: {GOOD_AUTH}\r\n"),
    );
    assert_eq!(client.read_head().status, 200);
    assert_eq!(client.get("/in-tunnel").status, 200);

    let authorized: Vec<_> = proxy.requests().iter().map(|r| r.authorized).collect();
    assert_eq!(authorized, [false, false, false, true, true]);
    let stats = proxy.stats();
    assert_eq!(
        (
            stats.auth_challenges,
            stats.connections_accepted,
            stats.tunnels_opened
        ),
        (3, 1, 1)
    );
}

#[test]
fn garbage_gets_400_and_a_close_and_the_proxy_keeps_serving() {
    let server = TestServer::builder().start().unwrap();
    let proxy = TestProxy::builder().start().unwrap();
    let mut client = RawClient::connect_to(proxy.addr());
    client.send("\u{1}\u{2} nonsense\r\n\r\n");
    assert_eq!(client.read_response().status, 400);
    client.expect_eof();
    proxy.wait_for_closed(1, SAFETY).unwrap();
    assert_eq!(proxy.errors().len(), 1);

    let mut client = RawClient::connect_to(proxy.addr());
    client.send("GET /not-absolute HTTP/1.1\r\nHost: h\r\n\r\n");
    assert_eq!(client.read_response().status, 400);
    get_via(&mut client, &server, "/", "");
    assert_eq!(
        client.read_response().status,
        200,
        "kept open after a bad URI"
    );
}

#[test]
fn unreachable_target_is_a_502() {
    let port = closed_port();
    let proxy = TestProxy::builder().start().unwrap();
    let mut client = RawClient::connect_to(proxy.addr());
    client.send(format!(
        "GET http://127.0.0.1:{port}/ HTTP/1.1\r\nHost: h\r\n\r\n"
    ));
    let response = client.read_response();
    assert_eq!(response.status, 502);
    assert!(response.body_text().contains("could not connect"));
    assert_eq!(proxy.errors().len(), 1);
}

#[test]
fn dropping_the_proxy_closes_open_tunnels() {
    let server = TestServer::builder().start().unwrap();
    let proxy = TestProxy::builder().start().unwrap();
    let mut client = RawClient::connect_to(proxy.addr());
    connect_via(&mut client, &server.authority(), "");
    assert_eq!(client.read_head().status, 200);
    assert_eq!(client.get("/").status, 200);
    drop(proxy);
    client.expect_eof();
}
