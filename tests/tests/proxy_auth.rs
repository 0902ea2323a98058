//! A proxy's `407` to a `CONNECT`, answered from the client's credentials provider
//! (Apache: `ConnectExec` with the client's `CredentialsProvider`): on the same
//! connection when the proxy keeps it, on a new one when it closes, Basic kept for the
//! next tunnel, Digest answered per challenge, no loop on refused credentials, a 407
//! and a 401 on one request both answered, the refused connection closed, and none
//! of it when a request turns authentication off.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{SAFETY, TestResult, read_head, relay, trusting};
use hcx::chain::{AuthScope, BasicCredentialsProvider, Credentials};
use hcx::{Client, ErrorKind, Proxy, RequestConfig};
use hcx_testserver::{Method, RecordedRequest, Reply, StatusCode, TestCa, TestProxy, TestServer};
use md5::Digest;

fn tls_server(ca: &TestCa) -> std::io::Result<TestServer> {
    TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("secure"))
        .start()
}

/// A client through `proxy` trusting `ca`, with `credentials` for the proxy.
fn client(
    ca: Option<&TestCa>,
    proxy: &Proxy,
    credentials: Credentials,
) -> Result<Client, Box<dyn std::error::Error>> {
    let mut builder = Client::builder()
        .proxy(proxy.clone())
        .credentials_provider(
            BasicCredentialsProvider::new().with(AuthScope::for_proxy(proxy), credentials),
        )
        .response_timeout(Some(SAFETY))
        .connect_timeout(SAFETY);
    if let Some(ca) = ca {
        builder = builder.tls_config(trusting(ca)?);
    }
    Ok(builder.build()?)
}

/// A TLS origin behind a `TestProxy` that wants Basic `alice:password`, and a client
/// through it with `alice:s3cret` for the proxy.
fn behind_a_basic_proxy(
    password: &str,
) -> Result<(TestServer, TestProxy, Client), Box<dyn std::error::Error>> {
    let ca = TestCa::new()?;
    let server = tls_server(&ca)?;
    let test_proxy = TestProxy::builder()
        .require_basic_auth("alice", password)
        .start()?;
    let proxy = Proxy::from_url(&test_proxy.url())?;
    let client = client(Some(&ca), &proxy, Credentials::basic("alice", "s3cret"))?;
    Ok((server, test_proxy, client))
}

#[test]
fn a_407_to_connect_is_answered_and_the_basic_answer_goes_up_front_next_time() -> TestResult {
    let (server, test_proxy, client) = behind_a_basic_proxy("s3cret")?;

    let body = client.get(server.url("/"))?.into_body().into_string()?;
    assert_eq!(body, "secure");
    let stats = test_proxy.stats();
    // Asked without credentials, challenged, asked again on the same connection.
    assert_eq!(
        (
            stats.auth_challenges,
            stats.tunnels_opened,
            stats.connections_accepted
        ),
        (1, 1, 1)
    );

    // A second tunnel (the first closed): the kept Basic answer goes with its CONNECT.
    client.connection_manager().close_idle(Duration::ZERO);
    let body = client.get(server.url("/"))?.into_body().into_string()?;
    assert_eq!(body, "secure");
    let stats = test_proxy.stats();
    assert_eq!((stats.auth_challenges, stats.tunnels_opened), (1, 2));
    Ok(())
}

#[test]
fn refused_credentials_are_answered_once_then_the_407_is_the_error() -> TestResult {
    let (server, test_proxy, client) = behind_a_basic_proxy("right")?;
    for round in 1..=2 {
        let error = client
            .get(server.url("/"))
            .err()
            .ok_or("wrong credentials opened a tunnel")?;
        assert_eq!(error.kind(), ErrorKind::ProxyTunnel, "{error:#}");
        assert_eq!(
            error.proxy_status(),
            Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
        );
        assert!(!format!("{error:#}").contains("s3cret"), "{error:#}");
        // Each round: asked without credentials, then with the wrong ones, refused:
        // not kept to go up front next time, and not sent a third time.
        assert_eq!(
            test_proxy.stats().auth_challenges,
            2 * round,
            "round {round}"
        );
    }
    assert_eq!(test_proxy.stats().tunnels_opened, 0);
    assert_eq!(server.stats().connections_accepted, 0);
    Ok(())
}

/// A proxy on two connections: the first `CONNECT` gets `first` (the connection then
/// closes), the second `200` and a relay to `target`. Returns the port and the heads
/// of the two `CONNECT`s.
fn closing_proxy(
    first: String,
    target: std::net::SocketAddr,
) -> std::io::Result<(u16, std::thread::JoinHandle<Vec<String>>)> {
    slow_closing_proxy(first, Duration::ZERO, target)
}

/// [`closing_proxy`], its first answer sent `delay` after the first `CONNECT` came.
fn slow_closing_proxy(
    first: String,
    delay: Duration,
    target: std::net::SocketAddr,
) -> std::io::Result<(u16, std::thread::JoinHandle<Vec<String>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let handle = std::thread::spawn(move || {
        let mut heads = Vec::new();
        if let Ok((mut client, _)) = listener.accept() {
            let _ = client.set_read_timeout(Some(SAFETY));
            heads.push(String::from_utf8_lossy(&read_head(&mut client)).into_owned());
            std::thread::sleep(delay);
            let _ = client.write_all(first.as_bytes());
        }
        let Ok((mut client, _)) = listener.accept() else {
            return heads;
        };
        let _ = client.set_read_timeout(Some(SAFETY));
        heads.push(String::from_utf8_lossy(&read_head(&mut client)).into_owned());
        let Ok(upstream) = TcpStream::connect(target) else {
            return heads;
        };
        let _ = client.write_all(b"HTTP/1.1 200 Connection established\r\n\r\n");
        relay(client, upstream);
        heads
    });
    Ok((port, handle))
}

fn md5_hex(data: &str) -> String {
    md5::Md5::digest(data.as_bytes())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

#[test]
fn a_digest_407_that_closes_the_connection_is_answered_on_a_new_one() -> TestResult {
    let ca = TestCa::new()?;
    let server = tls_server(&ca)?;
    let challenge = "HTTP/1.1 407 Proxy Authentication Required\r\n\
        Proxy-Authenticate: Digest realm=\"corp\", nonce=\"n0nce\", qop=\"auth\"\r\n\
        Content-Length: 0\r\nConnection: close\r\n\r\n"
        .to_string();
    let (port, fake) = closing_proxy(challenge, server.addr())?;
    let proxy = Proxy::new("127.0.0.1", port);
    let client = client(Some(&ca), &proxy, Credentials::basic("alice", "s3cret"))?;
    let body = client.get(server.url("/"))?.into_body().into_string()?;
    assert_eq!(body, "secure");
    drop(client);
    let heads = fake.join().map_err(|_| "the proxy panicked")?;
    assert_eq!(heads.len(), 2, "{heads:?}");
    assert!(
        !heads[0]
            .to_ascii_lowercase()
            .contains("proxy-authorization"),
        "{}",
        heads[0]
    );
    // The answer, checked against RFC 7616's formula computed here.
    let line = heads[1]
        .lines()
        .find(|l| l.to_ascii_lowercase().starts_with("proxy-authorization:"))
        .ok_or("no answer on the second CONNECT")?;
    let param = |name: &str| {
        let at = line.find(&format!("{name}="))? + name.len() + 1;
        let rest = line[at..].trim_start_matches('"');
        let end = rest.find(['"', ','])?;
        Some(rest[..end].to_string())
    };
    let authority = server.authority();
    assert_eq!(param("username").as_deref(), Some("alice"), "{line}");
    assert_eq!(param("uri").as_deref(), Some(authority.as_str()), "{line}");
    assert_eq!(param("qop").as_deref(), Some("auth"), "{line}");
    let (nc, cnonce) = (param("nc").ok_or("nc")?, param("cnonce").ok_or("cnonce")?);
    let ha1 = md5_hex("alice:corp:s3cret");
    let ha2 = md5_hex(&format!("CONNECT:{authority}"));
    let want = md5_hex(&format!("{ha1}:n0nce:{nc}:{cnonce}:auth:{ha2}"));
    assert_eq!(param("response"), Some(want), "{line}");
    Ok(())
}

/// The connect timings of a tunnel whose proxy closed on its `407`: the first
/// `CONNECT` exchange is tunnel time, not TCP time (`ConnectTimings::tcp` is the name
/// lookup and the TCP connects).
#[test]
fn a_connect_answered_on_a_new_connection_counts_both_connects_as_tunnel_time() -> TestResult {
    /// The timings of every connect made.
    #[derive(Default)]
    struct Timings(std::sync::Mutex<Vec<hcx::ConnectTimings>>);
    impl hcx::EventListener for Timings {
        fn connect_end(&self, _: &hcx::Route, result: Result<&hcx::Connected, &hcx::Error>) {
            if let (Ok(connected), Ok(mut all)) = (result, self.0.lock()) {
                all.push(connected.timings);
            }
        }
    }
    const SLOW: Duration = Duration::from_millis(500);
    let ca = TestCa::new()?;
    let server = tls_server(&ca)?;
    let challenge = "HTTP/1.1 407 Proxy Authentication Required\r\n\
        Proxy-Authenticate: Basic realm=\"corp\"\r\n\
        Content-Length: 0\r\nConnection: close\r\n\r\n"
        .to_string();
    let (port, fake) = slow_closing_proxy(challenge, SLOW, server.addr())?;
    let proxy = Proxy::new("127.0.0.1", port);
    let timings = std::sync::Arc::new(Timings::default());
    let client = Client::builder()
        .proxy(proxy.clone())
        .credentials_provider(BasicCredentialsProvider::new().with(
            AuthScope::for_proxy(&proxy),
            Credentials::basic("alice", "s3cret"),
        ))
        .event_listener(std::sync::Arc::clone(&timings))
        .response_timeout(Some(SAFETY))
        .connect_timeout(SAFETY)
        .tls_config(trusting(&ca)?)
        .build()?;
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "secure"
    );
    drop(client);
    let heads = fake.join().map_err(|_| "the proxy panicked")?;
    assert_eq!(heads.len(), 2, "{heads:?}");
    let all = timings.0.lock().map_err(|_| "poisoned")?.clone();
    let [timings] = all[..] else {
        return Err(format!("one connect expected: {all:?}").into());
    };
    let tunnel = timings.tunnel.ok_or("no tunnel time")?;
    assert!(tunnel >= SLOW, "the slow 407 is tunnel time: {timings:?}");
    assert!(
        timings.tcp < SLOW,
        "the slow 407 is not TCP time: {timings:?}"
    );
    Ok(())
}

#[test]
fn a_407_through_a_forward_proxy_is_answered_by_auth_and_kept_for_the_next_request() -> TestResult {
    let server = TestServer::builder()
        .route(Method::POST, "/", Reply::ok().body("plain"))
        .start()?;
    let test_proxy = TestProxy::builder()
        .require_basic_auth("alice", "s3cret")
        .start()?;
    let proxy = Proxy::from_url(&test_proxy.url())?;
    let client = client(None, &proxy, Credentials::basic("alice", "s3cret"))?;
    // A body, sent again with the answer.
    let post = || client.post(server.url("/"), "hello");
    assert_eq!(post()?.into_body().into_string()?, "plain");
    assert_eq!(test_proxy.stats().auth_challenges, 1);
    assert_eq!(server.stats().requests_received, 1);
    assert_eq!(
        server.last_request().ok_or("no request")?.body_text(),
        "hello"
    );
    // The next request sends the answer up front: no second challenge.
    assert_eq!(post()?.into_body().into_string()?, "plain");
    assert_eq!(test_proxy.stats().auth_challenges, 1);
    assert_eq!(server.stats().requests_received, 2);
    Ok(())
}

const ALICE: &str = "Basic YWxpY2U6czNjcmV0";

fn alice_server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .default_fn(
            |request: &RecordedRequest| match request.header("authorization") {
                Some(given) if given == ALICE => Reply::ok().body("in"),
                _ => Reply::new(401u16)
                    .header("www-authenticate", r#"Basic realm="test""#)
                    .body("who are you?"),
            },
        )
        .start()
}

/// A forward proxy wanting Basic and an origin wanting Basic, neither sent up front:
/// 407, answered; 401, answered — the origin's answer must still carry the proxy's.
#[test]
fn a_407_then_a_401_through_a_forward_proxy_are_both_answered() -> TestResult {
    let origin = alice_server()?;
    let test_proxy = TestProxy::builder()
        .require_basic_auth("proxyuser", "pw")
        .start()?;
    let proxy = Proxy::from_url(&test_proxy.url())?;
    let client = Client::builder()
        .proxy(proxy.clone())
        .request_config(RequestConfig::default().with_response_timeout(Some(SAFETY)))
        .credentials_provider(
            BasicCredentialsProvider::new()
                .with(
                    AuthScope::for_proxy(&proxy),
                    Credentials::basic("proxyuser", "pw"),
                )
                .with(
                    AuthScope::new("127.0.0.1", origin.port()),
                    Credentials::basic("alice", "s3cret"),
                ),
        )
        .build()?;
    let response = client.get(origin.url("/"))?;
    assert_eq!(
        response.status(),
        200,
        "proxy challenges {}, origin requests {:?}",
        test_proxy.stats().auth_challenges,
        origin
            .requests()
            .iter()
            .map(|r| r.header("authorization").map(str::to_owned))
            .collect::<Vec<_>>()
    );
    Ok(())
}

/// Wrong proxy credentials through a forward proxy: sent once per request, as to a
/// CONNECT, and not kept to go up front.
#[test]
fn wrong_forward_proxy_credentials_are_sent_once_per_request() -> TestResult {
    let origin = TestServer::builder()
        .default_fn(|_: &RecordedRequest| Reply::ok())
        .start()?;
    let test_proxy = TestProxy::builder()
        .require_basic_auth("alice", "right")
        .start()?;
    let proxy = Proxy::from_url(&test_proxy.url())?;
    let client = client(None, &proxy, Credentials::basic("alice", "wrong"))?;
    for round in 1..=2 {
        let response = client.get(origin.url("/"))?;
        assert_eq!(response.status(), 407);
        drop(response);
        assert_eq!(
            test_proxy.stats().auth_challenges,
            2 * round,
            "round {round}"
        );
    }
    Ok(())
}

/// A 407 the proxy does not close (HTTP/1.0): the client asks on a new connection and
/// closes the refused one, not holds it open while the new one is asked on.
#[test]
fn the_refused_connection_is_closed_before_the_next_connect() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let fake = std::thread::spawn(move || -> Option<bool> {
        let (mut first, _) = listener.accept().ok()?;
        first.set_read_timeout(Some(SAFETY)).ok()?;
        read_head(&mut first);
        first
            .write_all(
                b"HTTP/1.0 407 Proxy Authentication Required\r\n\
                  Proxy-Authenticate: Basic realm=\"corp\"\r\n\
                  Content-Length: 0\r\n\r\n",
            )
            .ok()?;
        let (mut second, _) = listener.accept().ok()?;
        second.set_read_timeout(Some(SAFETY)).ok()?;
        read_head(&mut second);
        // The first connection: closed by now? (bounded wait, not a sleep)
        first.set_read_timeout(Some(Duration::from_secs(2))).ok()?;
        let closed = matches!(first.read(&mut [0u8; 16]), Ok(0));
        let _ = second.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
        Some(closed)
    });
    let proxy = Proxy::new("127.0.0.1", port);
    let client = client(None, &proxy, Credentials::basic("alice", "pw"))?;
    let error = client
        .get("https://127.0.0.1:1/")
        .err()
        .ok_or("a tunnel opened")?;
    assert_eq!(
        error.proxy_status(),
        Some(http::StatusCode::FORBIDDEN),
        "{error:#}"
    );
    let closed = fake.join().map_err(|_| "the proxy panicked")?;
    assert_eq!(closed, Some(true), "the refused connection was still open");
    Ok(())
}

/// Authentication disabled for a request: a tunnel's 407 is not answered either
/// (Apache's ConnectExec answers only when `isAuthenticationEnabled`).
#[test]
fn authentication_disabled_per_request_leaves_a_connect_s_407_alone() -> TestResult {
    let test_proxy = TestProxy::builder()
        .require_basic_auth("alice", "s3cret")
        .start()?;
    let proxy = Proxy::from_url(&test_proxy.url())?;
    let client = client(None, &proxy, Credentials::basic("alice", "s3cret"))?;
    let mut request = http::Request::get("https://127.0.0.1:1/").body(hcx::Body::empty())?;
    let config = client.request_config().clone().with_authentication(false);
    request.extensions_mut().insert(config);
    let result = client.execute(request);
    let proxy_auths = test_proxy.stats().auth_challenges;
    match result {
        Err(e) => assert_eq!(
            e.proxy_status(),
            Some(http::StatusCode::PROXY_AUTHENTICATION_REQUIRED),
            "{e:#} (challenges {proxy_auths})"
        ),
        Ok(r) => panic!("{}", r.status()),
    }
    Ok(())
}
