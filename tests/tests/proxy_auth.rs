//! A proxy's `407` to a `CONNECT`, answered from the client's credentials provider
//! (Apache: `ConnectExec` with the client's `CredentialsProvider`): on the same
//! connection when the proxy keeps it, on a new one when it closes, Basic kept for the
//! next tunnel, Digest answered per challenge, and no loop on refused credentials.

mod common;

use std::io::Write;
use std::net::{TcpListener, TcpStream};
use std::time::Duration;

use common::{SAFETY, TestResult, read_head, trusting};
use hcx::chain::{AuthScope, BasicCredentialsProvider, Credentials};
use hcx::{Client, ErrorKind, Proxy};
use hcx_testserver::{Method, Reply, StatusCode, TestCa, TestProxy, TestServer};
use md5::Digest;

fn tls_server(ca: &TestCa) -> std::io::Result<TestServer> {
    TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("secure"))
        .start()
}

/// A client through `proxy` trusting `ca`, with `credentials` for the proxy.
fn client(
    ca: &TestCa,
    proxy: &Proxy,
    credentials: Credentials,
) -> Result<Client, Box<dyn std::error::Error>> {
    Ok(Client::builder()
        .proxy(proxy.clone())
        .tls_config(trusting(ca)?)
        .credentials_provider(
            BasicCredentialsProvider::new().with(AuthScope::for_proxy(proxy), credentials),
        )
        .response_timeout(Some(SAFETY))
        .connect_timeout(SAFETY)
        .build()?)
}

#[test]
fn a_407_to_connect_is_answered_and_the_basic_answer_goes_up_front_next_time() -> TestResult {
    let ca = TestCa::new()?;
    let server = tls_server(&ca)?;
    let test_proxy = TestProxy::builder()
        .require_basic_auth("alice", "s3cret")
        .start()?;
    let proxy = Proxy::from_url(&test_proxy.url())?;
    let client = client(&ca, &proxy, Credentials::basic("alice", "s3cret"))?;

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
    let ca = TestCa::new()?;
    let server = tls_server(&ca)?;
    let test_proxy = TestProxy::builder()
        .require_basic_auth("alice", "right")
        .start()?;
    let proxy = Proxy::from_url(&test_proxy.url())?;
    let client = client(&ca, &proxy, Credentials::basic("alice", "wrong"))?;
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
        assert!(!format!("{error:#}").contains("wrong"), "{error:#}");
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
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let handle = std::thread::spawn(move || {
        let mut heads = Vec::new();
        if let Ok((mut client, _)) = listener.accept() {
            let _ = client.set_read_timeout(Some(SAFETY));
            heads.push(String::from_utf8_lossy(&read_head(&mut client)).into_owned());
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
        let _ = upstream.set_read_timeout(Some(SAFETY));
        let (Ok(mut from_client), Ok(mut to_upstream)) = (client.try_clone(), upstream.try_clone())
        else {
            return heads;
        };
        let up = std::thread::spawn(move || {
            let _ = std::io::copy(&mut from_client, &mut to_upstream);
            let _ = to_upstream.shutdown(std::net::Shutdown::Write);
        });
        let (mut from_upstream, mut to_client) = (upstream, client);
        let _ = std::io::copy(&mut from_upstream, &mut to_client);
        let _ = to_client.shutdown(std::net::Shutdown::Write);
        let _ = up.join();
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
    let client = client(&ca, &proxy, Credentials::basic("alice", "s3cret"))?;
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

#[test]
fn a_407_through_a_forward_proxy_is_answered_by_auth_and_kept_for_the_next_request() -> TestResult {
    let server = TestServer::builder()
        .route(Method::POST, "/", Reply::ok().body("plain"))
        .start()?;
    let test_proxy = TestProxy::builder()
        .require_basic_auth("alice", "s3cret")
        .start()?;
    let proxy = Proxy::from_url(&test_proxy.url())?;
    let client = Client::builder()
        .proxy(proxy.clone())
        .credentials_provider(BasicCredentialsProvider::new().with(
            AuthScope::for_proxy(&proxy),
            Credentials::basic("alice", "s3cret"),
        ))
        .response_timeout(Some(SAFETY))
        .build()?;
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
