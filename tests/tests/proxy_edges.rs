//! Proxies at their edges: CONNECT answers with framing fields or a body, environment
//! variables a desktop sets, `no_proxy` spellings, proxy URLs with a password that
//! would be misread, and `Proxy-Authorization` across a redirect.

mod common;

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};

use common::{SAFETY, TestResult, read_head, relay, trusting};
use hcx::{Client, EnvProxyRoutePlanner, ErrorKind, Proxy, RoutePlanner};
use hcx_testserver::{Method, Reply, StatusCode, TestCa, TestProxy, TestServer};

/// A one-shot CONNECT proxy: answers the first CONNECT with `answer`, then (when
/// `relay`) relays the connection to `target`. Returns the CONNECT head it read.
fn fake_connect_proxy(
    answer: &'static [u8],
    target: Option<std::net::SocketAddr>,
) -> std::io::Result<(u16, std::thread::JoinHandle<Vec<u8>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let handle = std::thread::spawn(move || {
        let Ok((mut client, _)) = listener.accept() else {
            return Vec::new();
        };
        let _ = client.set_read_timeout(Some(SAFETY));
        let head = read_head(&mut client);
        let _ = client.write_all(answer);
        if let Some(target) = target {
            if let Ok(upstream) = TcpStream::connect(target) {
                relay(client, upstream);
            }
        } else {
            let mut rest = [0u8; 64];
            while matches!(client.read(&mut rest), Ok(n) if n > 0) {}
        }
        head
    });
    Ok((port, handle))
}

fn tls_server(ca: &TestCa) -> std::io::Result<TestServer> {
    TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("secure"))
        .start()
}

/// RFC 9110 §9.3.6: a client MUST ignore Content-Length / Transfer-Encoding in a 2xx
/// to CONNECT; a 1xx before it is skipped.
#[test]
fn a_2xx_connect_with_framing_fields_or_after_a_1xx_is_a_tunnel() -> TestResult {
    let ca = TestCa::new()?;
    for answer in [
        &b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\n\r\n"[..],
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        b"HTTP/1.1 200 OK\r\nContent-Length: 20\r\nContent-Length: 21\r\n\r\n",
        b"HTTP/1.0 200 Connection established\r\n\r\n",
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\n\r\n",
    ] {
        let server = tls_server(&ca)?;
        let (port, proxy) = fake_connect_proxy(answer, Some(server.addr()))?;
        let client = Client::builder()
            .proxy(Proxy::new("127.0.0.1", port))
            .tls_config(trusting(&ca)?)
            .response_timeout(Some(SAFETY))
            .connect_timeout(SAFETY)
            .build()?;
        let body = client.get(server.url("/"))?.into_body().into_string();
        let text = String::from_utf8_lossy(answer).into_owned();
        assert_eq!(body.as_deref().ok(), Some("secure"), "{text:?}: {body:?}");
        drop(client);
        let head = String::from_utf8(proxy.join().map_err(|_| "panic")?)?;
        let authority = server.authority();
        assert!(
            head.starts_with(&format!("CONNECT {authority} HTTP/1.1\r\n")),
            "{head}"
        );
        assert!(
            head.to_ascii_lowercase()
                .contains(&format!("host: {authority}\r\n")),
            "{head}"
        );
    }
    Ok(())
}

/// A refusal's body is not taken for the TLS stream, the connection not pooled.
#[test]
fn a_refused_connect_with_a_body_is_an_error_and_not_pooled() -> TestResult {
    let (port, proxy) = fake_connect_proxy(
        b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 5\r\n\r\n\x16\x03\x03\x00\x01",
        None,
    )?;
    let client = Client::builder()
        .proxy(Proxy::new("127.0.0.1", port))
        .response_timeout(Some(SAFETY))
        .connect_timeout(SAFETY)
        .build()?;
    let error = client.get("https://127.0.0.1:1/").err().ok_or("refused")?;
    assert_eq!(error.kind(), ErrorKind::ProxyTunnel, "{error:#}");
    assert_eq!(error.proxy_status(), Some(StatusCode::BAD_GATEWAY));
    assert_eq!(client.stats().pool.available, 0);
    assert_eq!(client.stats().pool.leased, 0);
    drop(client);
    proxy.join().map_err(|_| "panic")?;
    Ok(())
}

/// Desktop environments (GNOME's network settings, for one) export
/// `all_proxy=socks://host:port/` next to `http_proxy` and `https_proxy`. The socks
/// value is never used when both specific variables are set (all_proxy is only their
/// fallback), yet it makes the whole planner — and `ClientBuilder::proxy_from_env` —
/// fail. curl uses http_proxy/https_proxy here; Go ignores ALL_PROXY entirely.
#[test]
fn an_unused_socks_all_proxy_does_not_break_the_env_planner() -> TestResult {
    let planner = EnvProxyRoutePlanner::from_vars(|name| match name {
        "http_proxy" => Some("http://proxy.corp:3128/".into()),
        "https_proxy" => Some("http://proxy.corp:3128/".into()),
        "all_proxy" => Some("socks://proxy.corp:1080/".into()),
        "no_proxy" => Some("localhost,127.0.0.0/8".into()),
        _ => None,
    })
    .map_err(|e| format!("planner refused: {e}"))?;
    let route = planner.plan(&"https://example.com/".parse()?)?;
    assert_eq!(
        route.proxy.map(|p| p.to_string()).as_deref(),
        Some("proxy.corp:3128")
    );
    Ok(())
}

/// A fully qualified name with its trailing dot is the same host: a no_proxy entry
/// for `internal.corp` covers `api.internal.corp.` (curl strips the dot on both sides).
#[test]
fn no_proxy_matches_a_name_with_a_trailing_dot() -> TestResult {
    let planner = EnvProxyRoutePlanner::from_vars(|name| match name {
        "http_proxy" => Some("http://proxy.corp:3128".into()),
        "no_proxy" => Some("internal.corp".into()),
        _ => None,
    })?;
    assert!(
        planner
            .proxy_for(&"http://api.internal.corp/".parse()?)
            .is_none()
    );
    assert!(
        planner
            .proxy_for(&"http://api.internal.corp./".parse()?)
            .is_none(),
        "the trailing-dot spelling of a no_proxy host went to the proxy"
    );
    Ok(())
}

/// A client whose proxy credentials are a default `Proxy-Authorization` (the only way
/// to give a proxy anything but Basic) loses them after a cross-origin redirect,
/// although the next hop goes through the very same proxy: the proxy answers 407.
#[test]
fn a_default_proxy_authorization_survives_a_redirect_through_the_same_proxy() -> TestResult {
    let target = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("arrived"))
        .start()?;
    let start = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::new(302u16).header("location", target.url("/")),
        )
        .start()?;
    let proxy = TestProxy::builder()
        .require_basic_auth("user", "secret")
        .start()?;
    let client = Client::builder()
        .proxy(Proxy::from_url(&proxy.url())?)
        .default_header(
            http::header::PROXY_AUTHORIZATION,
            http::HeaderValue::from_static("Basic dXNlcjpzZWNyZXQ="),
        )
        .response_timeout(Some(SAFETY))
        .build()?;
    let response = client.get(start.url("/"))?;
    let authorized: Vec<bool> = proxy.requests().iter().map(|r| r.authorized).collect();
    assert_eq!(
        response.status(),
        StatusCode::OK,
        "second hop through the same proxy: {authorized:?}"
    );
    // The origins never see it.
    assert!(
        target
            .requests()
            .iter()
            .all(|r| r.header("proxy-authorization").is_none())
    );
    Ok(())
}

/// Apache HttpClient answers a proxy's `407` (forward, in `ProtocolExec`; a tunnel, in
/// `ConnectExec`) with the credentials the provider holds for the proxy's scope, Basic
/// or Digest. hcx answers `401` only: a proxy's challenge is never answered, whatever
/// the provider holds, so a Digest-only proxy cannot be used at all.
#[test]
fn a_proxy_url_whose_password_holds_a_slash_is_refused_not_misread() -> TestResult {
    for text in [
        "http://svc:1234/5678@127.0.0.1:9",
        "http://svc:1234?5678@127.0.0.1:9",
        "http://svc:1234#5678@127.0.0.1:9",
        "svc:1234/5678@127.0.0.1:9",
    ] {
        probe(text)?;
    }
    Ok(())
}

fn probe(text: &str) -> TestResult {
    match Proxy::from_url(text) {
        Err(e) => {
            assert_eq!(e.kind(), ErrorKind::InvalidUrl);
            assert!(!e.to_string().contains("1234"), "{e}");
            Ok(())
        }
        Ok(proxy) => {
            let client = Client::builder()
                .proxy(proxy.clone())
                .connect_timeout(SAFETY)
                .build()?;
            let error = client
                .get("http://example.test/")
                .err()
                .map(|e| format!("{e:#}"));
            Err(
                format!("read as the proxy {proxy} ({proxy:?}); a request fails with: {error:?}")
                    .into(),
            )
        }
    }
}

/// Userinfo in a URL sent through a forward proxy reaches neither the proxy's request
/// line nor the Host field.
#[test]
fn userinfo_is_not_sent_to_a_forward_proxy() -> TestResult {
    let origin = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .start()?;
    let proxy = TestProxy::builder().start()?;
    let client = Client::builder()
        .proxy(Proxy::from_url(&proxy.url())?)
        .response_timeout(Some(SAFETY))
        .build()?;
    let url = format!("http://bob:hunter2@127.0.0.1:{}/", origin.port());
    let _ = client.get(&url).map(|r| r.into_body().into_vec());
    for r in proxy.requests() {
        assert!(!r.target.contains("hunter2"), "{}", r.target);
        assert!(!format!("{:?}", r.header("host")).contains("hunter2"));
    }
    Ok(())
}

#[test]
fn no_proxy_entries_may_be_apart_by_blanks() -> TestResult {
    let planner = EnvProxyRoutePlanner::from_vars(|name| match name {
        "http_proxy" => Some("http://proxy.corp:3128".into()),
        "no_proxy" => Some("localhost  internal.corp,\t10.0.0.0/8".into()),
        _ => None,
    })?;
    for direct in [
        "http://localhost/",
        "http://api.internal.corp/",
        "http://10.1.2.3/",
    ] {
        assert!(planner.proxy_for(&direct.parse()?).is_none(), "{direct}");
    }
    assert!(planner.proxy_for(&"http://example.com/".parse()?).is_some());
    Ok(())
}

/// A 2xx answer to a CONNECT whose head (248 bytes, padded by `X-Pad`) is larger
/// than a 128-byte head limit and well within the default one.
const PADDED_CONNECT_ANSWER: &[u8] = b"HTTP/1.1 200 Connection established\r\nX-Pad: xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx\r\n\r\n";

/// A client builder going through the proxy on `port` of 127.0.0.1 to servers `ca`
/// signed for, its response waits bounded by [`SAFETY`].
fn through_proxy(port: u16, ca: &TestCa) -> Result<hcx::ClientBuilder, Box<dyn std::error::Error>> {
    Ok(Client::builder()
        .proxy(Proxy::new("127.0.0.1", port))
        .tls_config(trusting(ca)?)
        .response_timeout(Some(SAFETY)))
}

/// The client's response head limits bound a proxy's answer to a CONNECT too: a 2xx
/// whose head is larger than `max_head_bytes` fails the connect, and the same answer
/// within the default limits opens the tunnel.
#[test]
fn the_response_head_limits_bound_a_connect_answer() -> TestResult {
    let ca = TestCa::new()?;
    for max_head_bytes in [128, hcx::Limits::default().max_head_bytes] {
        let server = tls_server(&ca)?;
        let (port, proxy) = fake_connect_proxy(PADDED_CONNECT_ANSWER, Some(server.addr()))?;
        let client = through_proxy(port, &ca)?
            .limits(hcx::Limits::default().with_max_head_bytes(max_head_bytes))
            .connect_timeout(SAFETY)
            .build()?;
        let outcome = client
            .get(server.url("/"))
            .and_then(|r| r.into_body().into_string());
        if max_head_bytes == 128 {
            let error = outcome
                .err()
                .ok_or("a 248-byte head within a 128-byte limit")?;
            assert_eq!(error.kind(), ErrorKind::Protocol, "{error:#}");
            assert!(
                format!("{error:#}").contains("larger than the limit of 128 bytes"),
                "{error:#}"
            );
            assert_eq!(client.stats().pool.available, 0);
        } else {
            assert_eq!(outcome?, "secure");
        }
        drop(client);
        proxy.join().map_err(|_| "panic")?;
    }
    Ok(())
}

/// With a connection manager of your own, its `tunnel_limits` bound the CONNECT
/// answer (the client's `limits` go to the managers the client builds); a head limit
/// no answer fits is refused when the manager is built.
#[test]
fn an_own_manager_bounds_the_connect_answer_with_its_tunnel_limits() -> TestResult {
    let ca = TestCa::new()?;
    let server = tls_server(&ca)?;
    let (port, proxy) = fake_connect_proxy(PADDED_CONNECT_ANSWER, Some(server.addr()))?;
    let manager = hcx::PoolingConnectionManager::builder()
        .tunnel_limits(hcx::Limits::default().with_max_head_bytes(128))
        .build()?;
    let client = through_proxy(port, &ca)?
        .connection_manager(manager)
        .build()?;
    let error = client
        .get(server.url("/"))
        .err()
        .ok_or("a 248-byte head within a 128-byte limit")?;
    assert_eq!(error.kind(), ErrorKind::Protocol, "{error:#}");
    drop(client);
    proxy.join().map_err(|_| "panic")?;
    let refused = hcx::PoolingConnectionManager::builder()
        .tunnel_limits(hcx::Limits::default().with_max_head_bytes(15))
        .build()
        .err()
        .ok_or("a 15-byte tunnel head limit")?;
    assert_eq!(refused.kind(), ErrorKind::Config, "{refused:#}");
    Ok(())
}

/// A proxy that answers `CONNECT` with something that is not HTTP (a TLS alert from
/// an HTTPS proxy given as `http://`, a SOCKS or SSH port) fails the request with an
/// error that says it was the proxy's answer to the tunnel, not the origin's
/// response; the connection is not pooled.
#[test]
fn a_connect_answered_with_no_http_names_the_proxy_and_the_tunnel() -> TestResult {
    for answer in [
        // A TLS record: a `handshake_failure` alert.
        &b"\x15\x03\x01\x00\x02\x02\x28"[..],
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
    ] {
        let (port, proxy) = fake_connect_proxy(answer, None)?;
        let client = Client::builder()
            .proxy(Proxy::new("127.0.0.1", port))
            .response_timeout(Some(SAFETY))
            .connect_timeout(SAFETY)
            .build()?;
        let error = client
            .get("https://origin.test:8443/")
            .err()
            .ok_or("a tunnel opened on an answer that is not HTTP")?;
        let message = error.to_string();
        assert_eq!(error.kind(), ErrorKind::Protocol, "{answer:?}: {error:#}");
        assert!(
            message.contains(&format!("127.0.0.1:{port}")) && message.contains("origin.test:8443"),
            "{answer:?}: the message names neither the proxy nor the tunnel: {message}"
        );
        assert!(
            error.protocol_error().is_some(),
            "{answer:?}: the codec's verdict is kept: {error:#}"
        );
        assert_eq!(client.stats().pool.available, 0);
        assert_eq!(client.stats().pool.leased, 0);
        drop(client);
        proxy.join().map_err(|_| "panic")?;
    }
    Ok(())
}

#[test]
fn a_proxy_that_refuses_the_connection_is_named_as_the_proxy() -> TestResult {
    // A port nothing listens on: bound, then closed.
    let port = TcpListener::bind("127.0.0.1:0")?.local_addr()?.port();
    let client = Client::builder()
        .proxy(Proxy::new("127.0.0.1", port))
        .connect_timeout(SAFETY)
        .build()?;
    let error = client
        .get("http://target.test:8080/x")
        .err()
        .ok_or("a refused proxy connect succeeded")?;
    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    let message = error.to_string();
    // The address that refused is the proxy's, and the message says so.
    assert!(
        message.starts_with(&format!("the proxy: connect to 127.0.0.1:{port} failed")),
        "{message}"
    );
    Ok(())
}

/// A proxy that closes the connection in the middle of its answer's head did answer:
/// the error says the answer was cut short, not that none came.
#[test]
fn a_connect_answer_cut_short_is_not_called_no_answer() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let proxy = std::thread::spawn(move || -> std::io::Result<()> {
        let (mut sock, _) = listener.accept()?;
        sock.set_read_timeout(Some(SAFETY))?;
        read_head(&mut sock);
        sock.write_all(b"HTTP/1.1 200 Conn")
    });
    let client = Client::builder()
        .proxy(Proxy::new("127.0.0.1", port))
        .response_timeout(Some(SAFETY))
        .connect_timeout(SAFETY)
        .build()?;
    let error = client
        .get("https://origin.test:8443/")
        .err()
        .ok_or("a tunnel opened on half an answer")?;
    let message = error.to_string();
    assert!(
        !message.contains("not answered") && message.contains("17 bytes"),
        "{message}"
    );
    assert_eq!(client.stats().pool.leased, 0);
    proxy.join().map_err(|_| "panic")??;
    Ok(())
}

/// The connect timeout bounds the whole tunnel set-up: a proxy that reads the
/// `CONNECT` and never answers, or trickles its answer a byte at a time (each byte
/// well within the timeout of the last), fails with `ConnectTimeout` when it runs out.
#[test]
fn a_silent_or_trickling_proxy_is_bounded_by_the_connect_timeout() -> TestResult {
    for trickle in [false, true] {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let proxy = std::thread::spawn(move || -> std::io::Result<()> {
            let (mut sock, _) = listener.accept()?;
            sock.set_read_timeout(Some(SAFETY))?;
            read_head(&mut sock);
            let began = std::time::Instant::now();
            if trickle {
                // An endless header field, a byte every 20 ms, until the client goes.
                sock.write_all(b"HTTP/1.1 200 OK\r\nX-Slow: ")?;
                while began.elapsed() < SAFETY && sock.write_all(b"a").is_ok() {
                    std::thread::sleep(std::time::Duration::from_millis(20));
                }
            } else {
                let mut rest = [0u8; 64];
                while matches!(sock.read(&mut rest), Ok(n) if n > 0) {}
            }
            Ok(())
        });
        let timeout = std::time::Duration::from_millis(300);
        let client = Client::builder()
            .proxy(Proxy::new("127.0.0.1", port))
            .response_timeout(Some(SAFETY))
            .connect_timeout(timeout)
            .build()?;
        let began = std::time::Instant::now();
        let error = client
            .get("https://origin.test:8443/")
            .err()
            .ok_or("a tunnel opened without an answer")?;
        let took = began.elapsed();
        assert_eq!(
            error.kind(),
            ErrorKind::ConnectTimeout,
            "{trickle}: {error:#}"
        );
        assert!(took < timeout * 5, "{trickle}: took {took:?}");
        drop(client);
        proxy.join().map_err(|_| "panic")??;
    }
    Ok(())
}

/// RFC 9112 §3.2.4: a server-wide `OPTIONS *` through a forward proxy goes in the
/// absolute-form with an empty path (`OPTIONS http://host:port HTTP/1.1`), which the
/// last proxy forwards as `OPTIONS *`. Sent direct, it stays the asterisk-form; any
/// other method with `*` is still refused.
#[test]
fn options_asterisk_through_a_forward_proxy_goes_as_the_absolute_form_without_a_path() -> TestResult
{
    let (port, proxy) = fake_connect_proxy(
        b"HTTP/1.1 200 OK\r\nAllow: GET\r\nContent-Length: 0\r\n\r\n",
        None,
    )?;
    let client = Client::builder()
        .proxy(Proxy::new("127.0.0.1", port))
        .response_timeout(Some(SAFETY))
        .build()?;
    let uri = http::Uri::builder()
        .scheme("http")
        .authority("origin.test:8001")
        .path_and_query("*")
        .build()?;
    let star = |method: &str| {
        http::Request::builder()
            .method(method)
            .uri(uri.clone())
            .body(hcx::Body::empty())
    };
    let error = client
        .execute(star("GET")?)
        .err()
        .ok_or("GET * is refused")?;
    assert_eq!(error.kind(), ErrorKind::InvalidRequest);
    let response = client.execute(star("OPTIONS")?)?;
    assert_eq!(response.status(), StatusCode::OK);
    // The fake proxy reads on until the client closes the connection.
    drop((response, client));
    let head = String::from_utf8(proxy.join().map_err(|_| "proxy thread")?)?;
    assert!(
        head.starts_with("OPTIONS http://origin.test:8001 HTTP/1.1\r\nhost: origin.test:8001\r\n"),
        "{head}"
    );
    Ok(())
}
