//! Proxies end to end, through the test-support crate's `TestProxy`: `http` in
//! absolute-form pooled per proxy, `https` through `CONNECT` tunnels keyed per origin,
//! refused tunnels as typed errors, Basic proxy credentials, and the environment's
//! route planner with its `no_proxy` rules.

mod common;

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr};
use std::process::Command;

use common::{SAFETY, TestResult, info, trusting};
use hcx::{
    Body, Client, Context, EnvProxyRoutePlanner, ErrorKind, Proxy, Route, StaticResolver,
    TlsIdentity,
};
use hcx_testserver::{Method, Reply, StatusCode, TestCa, TestProxy, TestServer};
use http::Request;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

fn plain_server(body: &'static str) -> std::io::Result<TestServer> {
    TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body(body))
        .route(Method::GET, "/x", Reply::ok().body(body))
        .start()
}

fn tls_server(ca: &TestCa, body: &'static str) -> std::io::Result<TestServer> {
    TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body(body))
        .start()
}

fn text(client: &Client, url: &str) -> Result<String, hcx::Error> {
    client.get(url)?.into_body().into_string()
}

#[test]
fn http_goes_in_absolute_form_over_one_pooled_connection_per_proxy() -> TestResult {
    let (a, b) = (plain_server("from a")?, plain_server("from b")?);
    let proxy = TestProxy::builder().start()?;
    let client = Client::builder()
        .proxy(Proxy::from_url(&proxy.url())?)
        .response_timeout(Some(SAFETY))
        .build()?;
    assert_eq!(text(&client, &a.url("/x?q=1"))?, "from a");
    assert_eq!(text(&client, &b.url("/"))?, "from b");
    let response = client.get(a.url("/"))?;
    assert!(
        info(&response).reused,
        "the proxy connection serves every origin"
    );
    assert_eq!(response.into_body().into_string()?, "from a");

    let targets: Vec<String> = proxy.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [a.url("/x?q=1"), b.url("/"), a.url("/")],
        "absolute-form"
    );
    assert!(proxy.requests().iter().all(|r| r.connection == 0));
    assert_eq!(proxy.stats().connections_accepted, 1);
    assert_eq!(client.stats().connections_opened, 1);
    // The origins see origin-form requests, and the Host of the URL.
    let seen: Vec<(String, Option<String>)> = a
        .requests()
        .iter()
        .map(|r| (r.target.clone(), r.header("host").map(str::to_owned)))
        .collect();
    let host = Some(a.authority());
    assert_eq!(
        seen,
        [("/x?q=1".to_owned(), host.clone()), ("/".to_owned(), host)]
    );
    // One pool for the proxy: the route is the proxy's.
    let route = Route::http("127.0.0.1", a.port()).via(Proxy::from_url(&proxy.url())?);
    assert_eq!(
        (route.host.as_str(), route.port),
        ("127.0.0.1", proxy.port())
    );
    assert_eq!(
        client
            .connection_manager()
            .pool()
            .route_stats(&route)
            .available,
        1
    );
    Ok(())
}

#[test]
fn https_goes_through_one_tunnel_per_origin_each_reused() -> TestResult {
    let ca = TestCa::new()?;
    let (a, b) = (tls_server(&ca, "secure a")?, tls_server(&ca, "secure b")?);
    let plain = plain_server("plain")?;
    let proxy = TestProxy::builder().start()?;
    let client = Client::builder()
        .proxy(Proxy::from_url(&proxy.url())?)
        .tls_config(trusting(&ca)?)
        .response_timeout(Some(SAFETY))
        .build()?;
    for _ in 0..3 {
        assert_eq!(text(&client, &a.url("/"))?, "secure a");
        assert_eq!(text(&client, &b.url("/"))?, "secure b");
    }
    // A tunnel to A never carries B's requests, and is not a connection to the proxy:
    // a plain request opens its own.
    assert_eq!(text(&client, &plain.url("/"))?, "plain");
    assert_eq!(proxy.tunnels(), [a.authority(), b.authority()]);
    assert_eq!(proxy.stats().tunnels_opened, 2);
    assert_eq!(proxy.stats().connections_accepted, 3);
    assert_eq!(client.stats().connections_opened, 3);
    for server in [&a, &b] {
        let stats = server.stats();
        assert_eq!((stats.tls_handshakes, stats.requests_received), (1, 3));
    }
    // Nothing the origin sees over the tunnel mentions the proxy.
    assert!(
        a.requests()
            .iter()
            .all(|r| r.target == "/" && r.header("proxy-authorization").is_none())
    );
    Ok(())
}

#[test]
fn a_refused_tunnel_is_a_typed_error_with_the_proxys_status_and_headers() -> TestResult {
    let ca = TestCa::new()?;
    let server = tls_server(&ca, "unreachable")?;
    let proxy = TestProxy::builder()
        .refuse_connect(StatusCode::FORBIDDEN)
        .start()?;
    let client = Client::builder()
        .proxy(Proxy::from_url(&proxy.url())?)
        .tls_config(trusting(&ca)?)
        .response_timeout(Some(SAFETY))
        .build()?;
    let mut context = Context::new();
    let error = client
        .execute_in(
            Request::get(server.url("/")).body(Body::empty())?,
            &mut context,
        )
        .err()
        .ok_or("the proxy refuses tunnels")?;
    assert_eq!(error.kind(), ErrorKind::ProxyTunnel, "{error:#}");
    assert_eq!(error.proxy_status(), Some(StatusCode::FORBIDDEN));
    let headers = error.proxy_headers().ok_or("the proxy's headers")?;
    assert_eq!(
        headers.get("x-proxy-reason").map(|v| v.as_bytes()),
        Some(&b"refused"[..])
    );
    assert!(error.to_string().contains("403"), "{error}");
    assert!(!error.is_request_sent());
    assert_eq!(context.attempts(), 1, "a refused tunnel is not retried");
    assert_eq!(proxy.stats().connects_refused, 1);
    assert_eq!(server.stats().connections_accepted, 0);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_proxy_that_wants_credentials_gets_them_once_configured() -> TestResult {
    let ca = TestCa::new()?;
    let secure = tls_server(&ca, "secure")?;
    let plain = plain_server("plain")?;
    let proxy = TestProxy::builder()
        .require_basic_auth("user", "pa:ss")
        .start()?;
    let build = |proxy: Proxy| -> Result<Client, Box<dyn std::error::Error>> {
        Ok(Client::builder()
            .proxy(proxy)
            .tls_config(trusting(&ca)?)
            .response_timeout(Some(SAFETY))
            .build()?)
    };

    // Without credentials: a refused tunnel for https, a 407 response for http.
    let anonymous = build(Proxy::from_url(&proxy.url())?)?;
    let error = anonymous
        .get(secure.url("/"))
        .err()
        .ok_or("the tunnel needs credentials")?;
    assert_eq!(error.kind(), ErrorKind::ProxyTunnel, "{error:#}");
    assert_eq!(
        error.proxy_status(),
        Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
    );
    let challenge = error
        .proxy_headers()
        .and_then(|h| h.get("proxy-authenticate"))
        .ok_or("a challenge")?;
    assert_eq!(challenge, "Basic realm=\"test-proxy\"");
    let response = anonymous.get(plain.url("/"))?;
    assert_eq!(response.status(), StatusCode::PROXY_AUTHENTICATION_REQUIRED);
    drop(response);

    // With them, given on the proxy or in its URL.
    for proxy in [
        Proxy::from_url(&proxy.url())?.with_basic_auth("user", "pa:ss"),
        Proxy::from_url(&format!("http://user:pa%3Ass@{}", proxy.addr()))?,
    ] {
        let client = build(proxy)?;
        assert_eq!(text(&client, &secure.url("/"))?, "secure");
        assert_eq!(text(&client, &plain.url("/"))?, "plain");
    }
    let authorized: Vec<(Method, bool)> = proxy
        .requests()
        .into_iter()
        .map(|r| (r.method, r.authorized))
        .collect();
    assert_eq!(
        authorized,
        [
            (Method::CONNECT, false),
            (Method::GET, false),
            (Method::CONNECT, true),
            (Method::GET, true),
            (Method::CONNECT, true),
            (Method::GET, true),
        ]
    );
    // The credentials go to the proxy only.
    assert!(
        plain
            .requests()
            .iter()
            .all(|r| r.header("proxy-authorization").is_none())
    );
    Ok(())
}

/// A client resolver where `direct.test` is 127.0.0.1 (the proxy resolves the names
/// of proxied requests itself: they use `localhost`).
fn resolver() -> StaticResolver {
    StaticResolver::new().with("direct.test", LOCALHOST)
}

fn vars(pairs: &[(&str, String)]) -> impl Fn(&str) -> Option<String> + use<> {
    let map: HashMap<String, String> = pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.clone()))
        .collect();
    move |name| map.get(name).cloned()
}

#[test]
fn no_proxy_sends_matching_hosts_direct() -> TestResult {
    let server = plain_server("hi")?;
    let other = plain_server("other")?;
    let proxy = TestProxy::builder().start()?;
    let port = server.port();
    let planner = EnvProxyRoutePlanner::from_vars(vars(&[
        ("http_proxy", proxy.url()),
        (
            "no_proxy",
            format!("example.com, .direct.test,localhost:{port}"),
        ),
    ]))?;
    let client = Client::builder()
        .route_planner(planner)
        .resolver(
            resolver()
                .with("api.direct.test", LOCALHOST)
                .with("localhost", LOCALHOST),
        )
        .response_timeout(Some(SAFETY))
        .build()?;
    // A subdomain of a listed domain, and a listed host on its listed port: direct.
    assert_eq!(
        text(&client, &format!("http://api.direct.test:{port}/"))?,
        "hi"
    );
    assert_eq!(text(&client, &format!("http://localhost:{port}/"))?, "hi");
    assert_eq!(proxy.stats().requests_received, 0);
    assert_eq!(server.stats().requests_received, 2);
    // The listed host on another port, and a host not listed: through the proxy.
    let elsewhere = format!("http://localhost:{}/", other.port());
    assert_eq!(text(&client, &elsewhere)?, "other");
    assert_eq!(text(&client, &server.url("/"))?, "hi");
    let targets: Vec<String> = proxy.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, [elsewhere, server.url("/")]);
    Ok(())
}

#[test]
fn proxy_credentials_set_by_hand_never_reach_an_origin_reached_directly() -> TestResult {
    let origin = plain_server("origin")?;
    let proxy = TestProxy::builder().start()?;
    let planner = EnvProxyRoutePlanner::from_vars(vars(&[
        ("http_proxy", proxy.url()),
        ("no_proxy", "127.0.0.1".to_owned()),
    ]))?;
    let client = Client::builder()
        .route_planner(planner)
        .response_timeout(Some(SAFETY))
        .default_header(
            http::header::PROXY_AUTHORIZATION,
            http::HeaderValue::from_static("Basic cHJveHk6c2VjcmV0"),
        )
        .build()?;
    assert_eq!(text(&client, &origin.url("/"))?, "origin");
    assert_eq!(proxy.stats().requests_received, 0, "no_proxy: direct");
    let seen = origin.last_request().ok_or("the origin saw nothing")?;
    assert_eq!(seen.header("proxy-authorization"), None);
    // Without any proxy configured either.
    let direct = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = Request::get(origin.url("/"))
        .header("proxy-authorization", "Basic cHJveHk6c2VjcmV0")
        .body(Body::empty())?;
    direct.execute(request)?.into_body().into_vec()?;
    let seen = origin.last_request().ok_or("the origin saw nothing")?;
    assert_eq!(seen.header("proxy-authorization"), None);
    assert_eq!(origin.stats().requests_received, 2);
    Ok(())
}

#[test]
fn no_proxy_cidr_blocks_match_ip_addresses() -> TestResult {
    let server = plain_server("hi")?;
    let proxy = TestProxy::builder().start()?;
    for (no_proxy, via_proxy) in [("10.0.0.0/8", true), ("10.0.0.0/8,127.0.0.0/8", false)] {
        let before = proxy.stats().requests_received;
        let planner = EnvProxyRoutePlanner::from_vars(vars(&[
            ("HTTP_PROXY", proxy.url()),
            ("NO_PROXY", no_proxy.to_owned()),
        ]))?;
        let client = Client::builder()
            .route_planner(planner)
            .response_timeout(Some(SAFETY))
            .build()?;
        assert_eq!(text(&client, &server.url("/"))?, "hi");
        let proxied = proxy.stats().requests_received - before;
        assert_eq!(proxied, usize::from(via_proxy), "no_proxy={no_proxy}");
    }
    Ok(())
}

#[test]
fn each_redirect_hop_asks_the_route_planner() -> TestResult {
    let target = plain_server("arrived")?;
    let proxy = TestProxy::builder().start()?;
    let port = target.port();
    let start = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::new(302u16).header("location", format!("http://localhost:{port}/")),
        )
        .start()?;
    let planner = EnvProxyRoutePlanner::from_vars(vars(&[
        ("http_proxy", proxy.url()),
        ("no_proxy", "direct.test".to_owned()),
    ]))?;
    let client = Client::builder()
        .route_planner(planner)
        .resolver(resolver())
        .response_timeout(Some(SAFETY))
        .build()?;
    let url = format!("http://direct.test:{}/", start.port());
    assert_eq!(text(&client, &url)?, "arrived");
    assert_eq!(
        start.stats().requests_received,
        1,
        "the first hop went direct"
    );
    let targets: Vec<String> = proxy.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(targets, [format!("http://localhost:{port}/")]);
    Ok(())
}

#[test]
fn a_request_tls_identity_applies_to_tunnelled_routes_too() -> TestResult {
    let ca = TestCa::new()?;
    let server = tls_server(&ca, "secure")?;
    let proxy = TestProxy::builder().start()?;
    // The client's own configuration does not trust the test CA; the request's does.
    let client = Client::builder()
        .proxy(Proxy::from_url(&proxy.url())?)
        .response_timeout(Some(SAFETY))
        .build()?;
    let error = client.get(server.url("/")).err().ok_or("untrusted")?;
    assert_eq!(error.kind(), ErrorKind::Tls, "{error:#}");
    let mut request = Request::get(server.url("/")).body(Body::empty())?;
    request
        .extensions_mut()
        .insert(TlsIdentity::new("test-ca", trusting(&ca)?));
    assert_eq!(
        client.execute(request)?.into_body().into_string()?,
        "secure"
    );
    assert_eq!(proxy.stats().tunnels_opened, 2);
    Ok(())
}

/// The environment is the process's: `proxy_from_env` is checked in a child process
/// (this test binary, running only the ignored test below) given the variables.
#[test]
fn proxy_from_env_reads_the_process_environment() -> TestResult {
    let server = plain_server("hi")?;
    let proxy = TestProxy::builder().start()?;
    let output = Command::new(std::env::current_exe()?)
        .args([
            "--exact",
            "child_proxy_from_env",
            "--ignored",
            "--nocapture",
            "--test-threads=1",
        ])
        .env("HTTP_PROXY", proxy.url())
        .env_remove("http_proxy")
        .env("NO_PROXY", "direct.test")
        .env_remove("no_proxy")
        .env_remove("REQUEST_METHOD")
        .env("HCX_TEST_ORIGIN_PORT", server.port().to_string())
        .output()?;
    assert!(
        output.status.success(),
        "the child failed: {}\n{}",
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr)
    );
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(stdout.contains("1 passed"), "{stdout}");
    let targets: Vec<String> = proxy.requests().into_iter().map(|r| r.target).collect();
    assert_eq!(
        targets,
        [format!("http://localhost:{}/", server.port())],
        "only localhost went through the proxy"
    );
    assert_eq!(server.stats().requests_received, 2);
    Ok(())
}

/// Run by [`proxy_from_env_reads_the_process_environment`] with the variables set.
#[test]
#[ignore = "run by proxy_from_env_reads_the_process_environment in a child process"]
fn child_proxy_from_env() -> TestResult {
    let port = std::env::var("HCX_TEST_ORIGIN_PORT")?;
    let client = Client::builder()
        .proxy_from_env()
        .resolver(resolver())
        .response_timeout(Some(SAFETY))
        .build()?;
    assert_eq!(text(&client, &format!("http://localhost:{port}/"))?, "hi");
    assert_eq!(text(&client, &format!("http://direct.test:{port}/"))?, "hi");
    Ok(())
}

/// A proxy that refuses `CONNECT` with a chunked body and keeps its connection open:
/// the refusal is whole once its last chunk is in, so the client reports it and
/// closes the connection at once, not when the connect timeout (an hour here) runs
/// out. The fake proxy waits at most `SAFETY` for the client to close.
#[test]
fn a_refused_tunnel_with_a_chunked_body_fails_at_once() -> TestResult {
    let error = refused_tunnel(
        b"HTTP/1.1 407 Proxy Authentication Required\r\n\
          Proxy-Authenticate: Basic realm=\"p\"\r\n\
          Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
        "the client waited on a refusal that was already whole",
    )?;
    assert_eq!(
        error.proxy_status(),
        Some(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
    );
    Ok(())
}

/// A refusal without `Content-Length` or chunked (its body runs to the close, so the
/// connection can never carry an answer) from a proxy that keeps the connection open
/// fails at once, not when the connect timeout (an hour here) runs out. The fake proxy
/// waits at most `SAFETY` for the client to close.
#[test]
fn a_refused_tunnel_with_a_body_to_the_close_fails_at_once() -> TestResult {
    let error = refused_tunnel(
        b"HTTP/1.1 403 Forbidden\r\nContent-Type: text/plain\r\n\r\nno",
        "the client read a refusal's body to the close it could not use",
    )?;
    assert_eq!(error.proxy_status(), Some(StatusCode::FORBIDDEN));
    Ok(())
}

/// A proxy that answers a CONNECT with `refusal` and keeps the connection open: the
/// request fails as a refused tunnel, and the client closes the connection before
/// `SAFETY` runs out (else the test fails saying `lingered`). The request's error.
fn refused_tunnel(
    refusal: &'static [u8],
    lingered: &str,
) -> Result<hcx::Error, Box<dyn std::error::Error>> {
    use std::io::{Read, Write};
    use std::net::TcpListener;

    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let proxy = std::thread::spawn(move || -> std::io::Result<bool> {
        let (mut sock, _) = listener.accept()?;
        sock.set_read_timeout(Some(SAFETY))?;
        common::read_head(&mut sock);
        sock.write_all(refusal)?;
        // Whether the client closed the connection before SAFETY ran out.
        let mut rest = [0u8; 64];
        loop {
            match sock.read(&mut rest) {
                Ok(0) => return Ok(true),
                Ok(_) => {}
                Err(_) => return Ok(false),
            }
        }
    });
    let client = Client::builder()
        .proxy(Proxy::new("127.0.0.1", port))
        .connect_timeout(std::time::Duration::from_secs(3600))
        .build()?;
    // The origin is never reached: the tunnel to it is refused.
    let error = client
        .get("https://127.0.0.1:1/")
        .err()
        .ok_or("the refused tunnel must fail")?;
    assert_eq!(error.kind(), ErrorKind::ProxyTunnel, "{error:#}");
    let closed = proxy.join().map_err(|_| "the proxy panicked")??;
    assert!(closed, "{lingered}");
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(client.stats().pool.available, 0);
    Ok(error)
}

/// The JVM's `http.nonProxyHosts` syntax (`localhost|127.*`) ported into `no_proxy`
/// would match nothing and send everything through the proxy: refused with a message
/// that names the entry, where a well-formed list is taken.
#[test]
fn no_proxy_in_the_jvm_syntax_is_refused() {
    let planner = |no_proxy: &'static str| {
        hcx::EnvProxyRoutePlanner::from_vars(move |name| match name {
            "http_proxy" => Some("http://127.0.0.1:3128".into()),
            "no_proxy" => Some(no_proxy.into()),
            _ => None,
        })
    };
    let error = planner("localhost|127.*").err();
    assert!(
        error.as_ref().is_some_and(
            |e| e.kind() == hcx::ErrorKind::Config && e.to_string().contains("localhost|127.*")
        ),
        "{error:?}"
    );
    assert!(planner("localhost, *.internal, .corp, 127.0.0.0/8, [::1]:8080").is_ok());
}

/// Only the JVM's markers are refused: a name hcx does not otherwise recognise (an
/// internationalised one, an underscore) is taken as it always was.
#[test]
fn no_proxy_refuses_only_the_jvm_markers() {
    let planner = hcx::EnvProxyRoutePlanner::from_vars(|name| match name {
        "http_proxy" => Some("http://127.0.0.1:3128".into()),
        "no_proxy" => Some("bücher.example, my_host, *, 127.*".into()),
        _ => None,
    });
    assert!(planner.is_err(), "`127.*` has a `*` inside: refused");
    let planner = hcx::EnvProxyRoutePlanner::from_vars(|name| match name {
        "http_proxy" => Some("http://127.0.0.1:3128".into()),
        "no_proxy" => Some("bücher.example, my_host".into()),
        _ => None,
    });
    assert!(planner.is_ok(), "{planner:?}");
}
