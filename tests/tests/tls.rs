//! HTTPS against the test server's TLS mode, with a CA made for each test (`rcgen`):
//! reuse and resumption, the verification failures (their own error kind, never
//! retried), client certificates, the TLS identity in the route key, and the stale
//! probe over TLS.

mod common;

use std::io;
use std::net::{IpAddr, Ipv4Addr};
use std::sync::Arc;
use std::time::Duration;

use common::{
    SAFETY, TestResult, accept_tls, close_reason, info, read_tls_request,
    wait_until_idle_connection_is_stale,
};
use hcx::rustls::ClientConfig;
use hcx::rustls::pki_types::{CertificateDer, PrivateKeyDer};
use hcx::{
    Body, Client, CloseReason, Context, ErrorKind, Route, StaticResolver, TlsIdentity,
    crypto_provider,
};
use hcx_testserver::{Method, Reply, ServerCloseReason, TestCa, TestServer};
use http::Request;

const LOCALHOST: IpAddr = IpAddr::V4(Ipv4Addr::LOCALHOST);

/// A client configuration trusting only `ca`, with a client certificate if given.
fn trusting(
    ca: &TestCa,
    client_cert: Option<(Vec<CertificateDer<'static>>, PrivateKeyDer<'static>)>,
) -> Result<Arc<ClientConfig>, Box<dyn std::error::Error>> {
    let builder = ClientConfig::builder_with_provider(crypto_provider())
        .with_safe_default_protocol_versions()?
        .with_root_certificates(ca.root_store());
    Ok(Arc::new(match client_cert {
        Some((chain, key)) => builder.with_client_auth_cert(chain, key)?,
        None => builder.with_no_client_auth(),
    }))
}

fn tls_server(ca: &TestCa, names: &[&str]) -> io::Result<TestServer> {
    TestServer::builder()
        .tls(ca.server_config(names))
        .route(Method::GET, "/", Reply::ok().body("secret"))
        .start()
}

/// What the server recorded of the TLS session of its first connection.
fn first_tls(server: &TestServer) -> Result<hcx_testserver::TlsInfo, &'static str> {
    server
        .connections()
        .first()
        .and_then(|c| c.tls.clone())
        .ok_or("a TLS connection")
}

/// A client that resolves every `*.test` name in `names` to 127.0.0.1.
fn client_for(
    config: Arc<ClientConfig>,
    names: &[&str],
) -> Result<Client, Box<dyn std::error::Error>> {
    let mut resolver = StaticResolver::new();
    for name in names {
        resolver = resolver.with(name, LOCALHOST);
    }
    Ok(Client::builder()
        .tls_config(config)
        .resolver(resolver)
        .response_timeout(Some(SAFETY))
        .build()?)
}

#[test]
fn one_handshake_serves_a_hundred_requests() -> TestResult {
    let ca = TestCa::new()?;
    let server = tls_server(&ca, &["127.0.0.1"])?;
    let client = client_for(trusting(&ca, None)?, &[])?;
    let url = server.url("/");
    assert!(url.starts_with("https://"), "{url}");
    for i in 0..100 {
        let response = client.get(url.as_str())?;
        assert_eq!(response.status(), 200);
        assert_eq!(info(&response).reused, i > 0, "request {i}");
        assert_eq!(response.into_body().into_string()?, "secret");
    }
    let stats = server.stats();
    assert_eq!(stats.requests_received, 100);
    assert_eq!((stats.connections_accepted, stats.tls_handshakes), (1, 1));
    assert_eq!(client.stats().connections_opened, 1);
    let tls = first_tls(&server)?;
    assert_eq!(tls.alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
    assert_eq!(tls.server_name, None, "no SNI for an IP address");
    Ok(())
}

#[test]
fn sni_names_the_host_and_alpn_offers_http11() -> TestResult {
    let ca = TestCa::new()?;
    let server = tls_server(&ca, &["secure.test"])?;
    let client = client_for(trusting(&ca, None)?, &["secure.test"])?;
    let url = format!("https://secure.test:{}/", server.port());
    assert_eq!(client.get(url)?.into_body().into_string()?, "secret");
    let tls = first_tls(&server)?;
    assert_eq!(tls.server_name.as_deref(), Some("secure.test"));
    assert_eq!(tls.alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
    Ok(())
}

/// A config shared with an HTTP/2 client offers `h2` first; to a server that prefers
/// `h2`, hcx (which speaks HTTP/1.1 only) still offers `http/1.1` alone, so the
/// connection is HTTP/1.1 on both sides.
#[test]
fn a_config_offering_h2_is_narrowed_to_http11() -> TestResult {
    let ca = TestCa::new()?;
    let mut server_config = (*ca.server_config(&["secure.test"])).clone();
    server_config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let server = TestServer::builder()
        .tls(Arc::new(server_config))
        .route(Method::GET, "/", Reply::ok().body("secret"))
        .start()?;
    let mut config = (*trusting(&ca, None)?).clone();
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    let client = client_for(Arc::new(config), &["secure.test"])?;
    let url = format!("https://secure.test:{}/", server.port());
    assert_eq!(client.get(url)?.into_body().into_string()?, "secret");
    let tls = first_tls(&server)?;
    assert_eq!(tls.alpn_protocol.as_deref(), Some(&b"http/1.1"[..]));
    Ok(())
}

#[test]
fn new_connections_resume_the_session() -> TestResult {
    let ca = TestCa::new()?;
    // Each response closes its connection, so each request makes a new one.
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("secret"))
        .close_after(1)
        .start()?;
    let client = client_for(trusting(&ca, None)?, &[])?;
    for _ in 0..3 {
        assert_eq!(
            client.get(server.url("/"))?.into_body().into_string()?,
            "secret"
        );
    }
    server.wait_for_closed(3, SAFETY)?;
    let stats = server.stats();
    assert_eq!((stats.tls_handshakes, stats.tls_resumed), (3, 2));
    let resumed: Vec<bool> = server
        .connections()
        .iter()
        .map(|c| c.tls.as_ref().is_some_and(|t| t.resumed))
        .collect();
    assert_eq!(resumed, [false, true, true]);
    assert_eq!(client.stats().connections_opened, 3);
    Ok(())
}

#[test]
fn a_certificate_for_another_name_is_a_tls_error_naming_the_name_and_is_not_retried() -> TestResult
{
    let ca = TestCa::new()?;
    let server = tls_server(&ca, &["right.test"])?;
    let client = client_for(trusting(&ca, None)?, &["wrong.test"])?;
    let mut context = Context::new();
    let request =
        Request::get(format!("https://wrong.test:{}/", server.port())).body(Body::empty())?;
    let error = client
        .execute_in(request, &mut context)
        .err()
        .ok_or("the name does not match")?;
    assert_eq!(error.kind(), ErrorKind::Tls, "{error:#}");
    let shown = error.to_string();
    assert!(
        shown.contains("not valid for the name wrong.test"),
        "{shown}"
    );
    assert!(!error.is_request_sent());
    assert_eq!(context.attempts(), 1, "a TLS failure is never retried");
    assert_eq!(client.stats().connections_opened, 0);
    server.wait_until(SAFETY, |s| s.tls_handshake_failures >= 1)?;
    assert_eq!(server.stats().connections_accepted, 1);
    assert_eq!(server.stats().requests_received, 0);
    Ok(())
}

#[test]
fn an_untrusted_issuer_is_rejected_and_a_custom_root_accepted() -> TestResult {
    let ca = TestCa::new()?;
    let server = tls_server(&ca, &["127.0.0.1"])?;

    // The default roots (webpki) do not know the test CA.
    let default = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let error = default
        .get(server.url("/"))
        .err()
        .ok_or("an unknown issuer")?;
    assert_eq!(error.kind(), ErrorKind::Tls, "{error:#}");
    assert!(
        error
            .to_string()
            .contains("signed by an issuer this client does not trust"),
        "{error}"
    );

    // Nor does a client trusting another CA.
    let other = client_for(trusting(&TestCa::new()?, None)?, &[])?;
    let error = other.get(server.url("/")).err().ok_or("another CA")?;
    assert_eq!(error.kind(), ErrorKind::Tls, "{error:#}");
    server.wait_until(SAFETY, |s| s.tls_handshake_failures >= 2)?;

    // A client given the test CA as its root is served.
    let custom = client_for(trusting(&ca, None)?, &[])?;
    assert_eq!(
        custom.get(server.url("/"))?.into_body().into_string()?,
        "secret"
    );
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}

#[test]
fn a_client_certificate_is_presented_when_the_server_requires_one() -> TestResult {
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config_requiring_client_cert(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("for alice"))
        .start()?;

    let anonymous = client_for(trusting(&ca, None)?, &[])?;
    let error = anonymous
        .get(server.url("/"))
        .err()
        .ok_or("the server requires a certificate")?;
    assert_eq!(error.kind(), ErrorKind::Tls, "{error:#}");

    let alice = client_for(trusting(&ca, Some(ca.client_identity("alice")))?, &[])?;
    assert_eq!(
        alice.get(server.url("/"))?.into_body().into_string()?,
        "for alice"
    );
    let presented: Vec<bool> = server
        .connections()
        .iter()
        .filter_map(|c| c.tls.as_ref().map(|t| t.client_certificate))
        .collect();
    assert_eq!(presented, [true]);
    Ok(())
}

#[test]
fn connections_of_one_tls_identity_are_never_leased_for_another() -> TestResult {
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config_requiring_client_cert(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .start()?;
    // The client's identity is alice's; some requests carry bob's.
    let client = client_for(trusting(&ca, Some(ca.client_identity("alice")))?, &[])?;
    let bob = TlsIdentity::new("bob", trusting(&ca, Some(ca.client_identity("bob")))?);
    let as_bob = || -> Result<Request<Body>, http::Error> {
        let mut request = Request::get(server.url("/")).body(Body::empty())?;
        request.extensions_mut().insert(bob.clone());
        Ok(request)
    };
    for _ in 0..3 {
        assert_eq!(
            client.get(server.url("/"))?.into_body().into_string()?,
            "hi"
        );
        assert_eq!(client.execute(as_bob()?)?.into_body().into_string()?, "hi");
    }
    // Two routes, one connection each, every reuse within its own identity.
    assert_eq!(client.stats().connections_opened, 2);
    assert_eq!(client.stats().pool.available, 2);
    let served: Vec<(bool, usize)> = server
        .connections()
        .iter()
        .map(|c| {
            (
                c.tls.as_ref().is_some_and(|t| t.client_certificate),
                c.requests,
            )
        })
        .collect();
    assert_eq!(served, [(true, 3), (true, 3)]);
    let bob_route = Route::https("127.0.0.1", server.port(), bob.clone());
    assert!(bob_route.to_string().contains("bob"), "{bob_route}");
    let pool = client.connection_manager().pool();
    assert_eq!(pool.route_stats(&bob_route).available, 1);
    // The same name with another configuration is another identity.
    let impostor = TlsIdentity::new("bob", trusting(&ca, Some(ca.client_identity("eve")))?);
    let impostor_route = Route::https("127.0.0.1", server.port(), impostor);
    assert_ne!(impostor_route, bob_route);
    assert_eq!(pool.route_stats(&impostor_route).available, 0);
    Ok(())
}

#[test]
fn a_close_notify_while_idle_is_seen_before_reuse() -> TestResult {
    let ca = TestCa::new()?;
    // The server ends idle connections after 50 ms: close_notify, then FIN.
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("fine"))
        .idle_timeout(Duration::from_millis(50))
        .start()?;
    let config = trusting(&ca, None)?;
    let identity = TlsIdentity::new("test", config);
    let client = Client::builder()
        .tls_identity(identity.clone())
        .response_timeout(Some(SAFETY))
        .build()?;
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "fine"
    );
    server.wait_for_closed(1, SAFETY)?;
    assert_eq!(
        server.connections()[0].closed,
        Some(ServerCloseReason::IdleTimeout)
    );
    let route = Route::https("127.0.0.1", server.port(), identity);
    wait_until_idle_connection_is_stale(&client, &route)?;

    let mut context = Context::new();
    let response = client.execute_in(
        Request::get(server.url("/")).body(Body::empty())?,
        &mut context,
    )?;
    assert!(!info(&response).reused, "a fresh connection");
    assert_eq!(response.into_body().into_string()?, "fine");
    assert_eq!(context.attempts(), 1, "found by the probe, not by a retry");
    assert_eq!(client.stats().closes.get(CloseReason::Stale), 1);
    assert_eq!(client.stats().connections_opened, 2);
    Ok(())
}

#[test]
fn bytes_after_a_response_over_tls_are_never_pooled() -> TestResult {
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(
            Method::GET,
            "/extra",
            Reply::raw("HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhiEXTRA"),
        )
        .route(Method::GET, "/ok", Reply::ok().body("fine"))
        .start()?;
    let client = client_for(trusting(&ca, None)?, &[])?;
    let response = client.get(server.url("/extra"))?;
    assert_eq!(close_reason(&response), None, "unknown until the body ends");
    assert_eq!(response.into_body().into_string()?, "hi");
    assert_eq!(client.stats().closes.get(CloseReason::TrailingBytes), 1);
    assert_eq!(client.stats().pool.available, 0);
    let response = client.get(server.url("/ok"))?;
    assert!(!info(&response).reused);
    assert_eq!(response.into_body().into_string()?, "fine");
    Ok(())
}

#[test]
fn a_redirect_from_http_to_https_is_followed_over_tls() -> TestResult {
    let ca = TestCa::new()?;
    let secure = tls_server(&ca, &["127.0.0.1"])?;
    let plain = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::new(301u16).header("location", secure.url("/")),
        )
        .start()?;
    let client = client_for(trusting(&ca, None)?, &[])?;
    let mut context = Context::new();
    let response = client.execute_in(
        Request::get(plain.url("/")).body(Body::empty())?,
        &mut context,
    )?;
    assert_eq!(response.into_body().into_string()?, "secret");
    assert_eq!(
        context.redirect_locations(),
        [secure.url("/").parse::<http::Uri>()?]
    );
    assert_eq!(secure.stats().tls_handshakes, 1);
    Ok(())
}

/// What a [`raw_tls_server`] sends after its first response, in the same TCP write.
#[derive(Clone, Copy)]
enum Behind {
    /// A whole second response, in a record of its own.
    StrayResponse,
    /// A `close_notify`, the TCP connection left open until the client closes it.
    CloseNotify,
}

/// A TLS server of rustls's own (session tickets off, so nothing else comes unasked)
/// whose first connection answers its first request with `first` and then `behind`,
/// and answers "right" to every other request on any connection.
fn raw_tls_server(ca: &TestCa, first: String, behind: Behind) -> io::Result<u16> {
    use std::io::{Read, Write};
    let mut config = (*ca.server_config(&["127.0.0.1"])).clone();
    config.send_tls13_tickets = 0;
    let config = Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for (index, sock) in listener.incoming().enumerate() {
            let Ok(mut sock) = sock else { return };
            let config = Arc::clone(&config);
            let first = (index == 0).then(|| first.clone());
            std::thread::spawn(
                move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
                    let mut conn = accept_tls(&mut sock, config)?;
                    let mut first = first;
                    loop {
                        if !read_tls_request(&mut conn, &mut sock)? {
                            return Ok(());
                        }
                        match first.take() {
                            Some(response) => {
                                conn.writer().write_all(response.as_bytes())?;
                                match behind {
                                    Behind::StrayResponse => conn.writer().write_all(
                                        b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nWRONG",
                                    )?,
                                    Behind::CloseNotify => conn.send_close_notify(),
                                }
                            }
                            None => conn
                                .writer()
                                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nright")?,
                        }
                        // Every pending record in one write.
                        let mut records = Vec::new();
                        while conn.wants_write() {
                            conn.write_tls(&mut records)?;
                        }
                        sock.write_all(&records)?;
                        if matches!(behind, Behind::CloseNotify) && !conn.wants_read() {
                            // Hold the TCP connection open until the client closes it.
                            let mut rest = [0u8; 256];
                            while sock.read(&mut rest).unwrap_or(0) > 0 {}
                            return Ok(());
                        }
                    }
                },
            );
        }
    });
    Ok(port)
}

/// A response of exactly `len` plaintext bytes, with a 10-byte body.
fn response_of(len: usize) -> String {
    let bare = "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Pad: \r\n\r\n0123456789";
    let response = format!(
        "HTTP/1.1 200 OK\r\nContent-Length: 10\r\nX-Pad: {}\r\n\r\n0123456789",
        "p".repeat(len - bare.len())
    );
    assert_eq!(response.len(), len);
    response
}

/// A client (probing after `probe` of idle time) of a raw TLS server that answers
/// with `len` bytes of plaintext and then `behind`, and the URL of its first
/// exchange, done.
fn first_exchange(
    len: usize,
    behind: Behind,
    probe: Option<Duration>,
) -> Result<(Client, String), Box<dyn std::error::Error>> {
    let ca = TestCa::new()?;
    let port = raw_tls_server(&ca, response_of(len), behind)?;
    let client = Client::builder()
        .tls_config(trusting(&ca, None)?)
        .validate_after_inactivity(probe)
        .response_timeout(Some(SAFETY))
        .build()?;
    let url = format!("https://127.0.0.1:{port}/");
    assert_eq!(
        client.get(url.as_str())?.into_body().into_string()?,
        "0123456789"
    );
    Ok((client, url))
}

#[test]
fn a_stray_record_behind_a_response_that_ends_a_full_socket_read_is_found() -> TestResult {
    // 4074 bytes of plaintext make one 4096-byte TLS 1.3 record: it ends exactly where
    // rustls's 4 KiB read of the socket does, though the plaintext read is short.
    for len in [4074, 4000, 8192] {
        let (client, url) = first_exchange(len, Behind::StrayResponse, None)?;
        let second = client.get(url.as_str())?.into_body().into_string()?;
        assert_eq!(second, "right", "plaintext of {len} bytes");
        assert_eq!(
            client.stats().closes.get(CloseReason::TrailingBytes),
            1,
            "plaintext of {len} bytes"
        );
    }
    Ok(())
}

#[test]
fn a_close_notify_that_came_with_the_response_is_stale_at_the_next_lease() -> TestResult {
    // With the probe on every reuse, and off (then the release itself must see it).
    for (len, probe) in [
        (8192, Some(Duration::ZERO)),
        (4074, Some(Duration::ZERO)),
        (8192, None),
        (4074, None),
    ] {
        let (client, url) = first_exchange(len, Behind::CloseNotify, probe)?;
        // A POST is never replayed once sent: it must not go out on a connection the
        // server has said it closes.
        let mut context = Context::new();
        let post = Request::post(url.as_str()).body(Body::from("order"))?;
        let response = client.execute_in(post, &mut context)?;
        assert!(!info(&response).reused, "plaintext of {len} bytes");
        assert_eq!(response.into_body().into_string()?, "right");
        assert_eq!(context.attempts(), 1);
    }
    Ok(())
}

/// A client that talks to many HTTPS origins resumes sessions with more than rustls'
/// default 32 servers: the identities hcx builds keep sessions for 512.
#[test]
fn sessions_of_many_servers_are_kept_for_resumption() -> TestResult {
    let ca = TestCa::new()?;
    let names: Vec<String> = (0..40).map(|i| format!("h{i}.test")).collect();
    let name_refs: Vec<&str> = names.iter().map(String::as_str).collect();
    let server = TestServer::builder()
        .tls(ca.server_config(&name_refs))
        .route(Method::GET, "/", Reply::ok().body("secret"))
        .close_after(1)
        .start()?;
    let mut resolver = StaticResolver::new();
    for name in &names {
        resolver = resolver.with(name, LOCALHOST);
    }
    let client = Client::builder()
        .tls_identity(hcx::TlsIdentity::trusting("test", ca.root_store())?)
        .resolver(resolver)
        .response_timeout(Some(SAFETY))
        .build()?;
    for name in names.iter().chain([&names[0]]) {
        let url = format!("https://{name}:{}/", server.port());
        assert_eq!(client.get(url)?.into_body().into_string()?, "secret");
    }
    server.wait_for_closed(41, SAFETY)?;
    let last = server.connections().last().and_then(|c| c.tls.clone());
    assert!(
        last.as_ref().is_some_and(|t| t.resumed),
        "h0.test after 39 other servers: {last:?}"
    );
    Ok(())
}

/// Two identities made from one `Arc<ClientConfig>` are one, though `TlsIdentity::new`
/// copies a config whose ALPN is not `http/1.1` alone (an ordinary one: empty).
#[test]
fn identities_from_one_config_are_equal() -> TestResult {
    let ca = TestCa::new()?;
    let config = trusting(&ca, None)?;
    assert_eq!(
        TlsIdentity::new("tenant", config.clone()),
        TlsIdentity::new("tenant", config.clone()),
    );
    // And hash alike: one key in a map (the pool's routes). The hash is the name and
    // the config's address, not its (interiorly mutable) session cache.
    #[allow(clippy::mutable_key_type)]
    let keys: std::collections::HashSet<TlsIdentity> = [
        TlsIdentity::new("tenant", config.clone()),
        TlsIdentity::new("tenant", config.clone()),
    ]
    .into();
    assert_eq!(keys.len(), 1);
    assert_ne!(
        TlsIdentity::new("tenant", config.clone()),
        TlsIdentity::new("other", config),
    );
    Ok(())
}

/// A per-request identity built from the application's one `ClientConfig` (the port of
/// one `SSLContext`) must reuse connections, not open one route per request.
#[test]
fn per_request_identity_from_one_config_reuses_connections() -> TestResult {
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["localhost"]))
        .default_reply(Reply::ok().body("x"))
        .start()?;
    let url = format!("https://localhost:{}/", server.port());
    let config = trusting(&ca, None)?;
    let client = Client::new();
    let mut reused = Vec::new();
    for _ in 0..3 {
        let mut request = Request::get(&url).body(Body::empty())?;
        request
            .extensions_mut()
            .insert(TlsIdentity::new("tenant", config.clone()));
        let response = client.execute(request)?;
        reused.push(hcx::ResponseInfo::of(&response).map(|i| i.connection.reused));
        response.into_body().into_string()?;
    }
    assert_eq!(reused, [Some(false), Some(true), Some(true)]);
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

/// Apache `cm.setMaxPerRoute(route, 1)` ported with the identity the client uses.
#[test]
fn per_route_limit_applies_to_https_route_with_custom_identity() -> TestResult {
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["localhost"]))
        .default_reply(Reply::ok().body("x"))
        .start()?;
    let config = trusting(&ca, None)?;
    let manager = hcx::PoolingConnectionManager::builder()
        .max_per_route_for(
            Route::https(
                "localhost",
                server.port(),
                TlsIdentity::new("tenant", config.clone()),
            ),
            1,
        )
        .build()?;
    let client = Client::builder()
        .connection_manager(manager.clone())
        .tls_identity(TlsIdentity::new("tenant", config))
        .connection_request_timeout(Duration::from_millis(200))
        .build()?;
    let url = format!("https://localhost:{}/", server.port());
    let held = client.get(&url)?;
    let second = client.get(&url);
    assert_eq!(
        second.err().map(|e| e.kind()),
        Some(ErrorKind::LeaseTimeout)
    );
    drop(held);
    Ok(())
}

/// `https://` to a port that speaks plain HTTP (the usual slip: the scheme or the port
/// of the other listener) fails the handshake with a `Tls` error that says the server
/// did not answer in TLS, not only that "the TLS handshake failed".
#[test]
fn an_http_answer_to_a_tls_handshake_says_the_server_speaks_no_tls() -> TestResult {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.set_read_timeout(Some(SAFETY));
            let mut hello = [0u8; 1024];
            let _ = std::io::Read::read(&mut stream, &mut hello);
            let _ = std::io::Write::write_all(
                &mut stream,
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            while matches!(std::io::Read::read(&mut stream, &mut hello), Ok(n) if n > 0) {}
        }
    });
    let client = Client::builder()
        .connect_timeout(SAFETY)
        .response_timeout(Some(SAFETY))
        .build()?;
    let error = client
        .get(format!("https://127.0.0.1:{port}/"))
        .err()
        .ok_or("a handshake answered in plain HTTP succeeded")?;
    assert_eq!(error.kind(), ErrorKind::Tls, "{error:#}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}"))
            && message.contains("did not answer the TLS handshake in TLS"),
        "the message does not say the server answered in something else: {message}"
    );
    assert!(
        std::error::Error::source(&error).is_some(),
        "the rustls error stays the cause"
    );
    assert_eq!(client.stats().pool.leased, 0);
    drop(client);
    server.join().map_err(|_| "panic")?;
    Ok(())
}

/// Large bodies over TLS arrive whole, on one connection kept for the next: the body's
/// writes leave the last records in rustls when the socket is full, and they must
/// still go out after the last piece (a sized reader ending on a whole 16 KiB read
/// and a bytes body both end with nothing more to write but those records).
#[test]
fn large_bodies_over_tls_arrive_whole() -> TestResult {
    const LEN: usize = 4 << 20;
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::PUT, "/", Reply::ok().body("stored"))
        .start()?;
    // A small send buffer: the socket is full often, records wait in rustls.
    let client = Client::builder()
        .tls_config(trusting(&ca, None)?)
        .socket_config(hcx::SocketConfig::default().with_send_buffer_size(Some(4096)))
        .response_timeout(Some(SAFETY))
        .build()?;
    let url = format!("https://127.0.0.1:{}/", server.port());
    let pattern = |i: usize| (i % 251) as u8;
    let bytes: Vec<u8> = (0..LEN).map(pattern).collect();
    for body in [
        Body::from(bytes.clone()),
        Body::sized_reader(std::io::Cursor::new(bytes.clone()), LEN as u64),
    ] {
        let response = client.execute(Request::put(url.as_str()).body(body)?)?;
        assert_eq!(response.status(), 200);
        assert_eq!(response.into_body().into_string()?, "stored");
        let received = server.last_request().ok_or("a request")?.body;
        assert!(
            received[..] == bytes[..],
            "{} bytes of {LEN}",
            received.len()
        );
    }
    assert_eq!(server.connections().len(), 1, "one connection, kept");
    Ok(())
}

/// A reader body that gives [`FIRST`] bytes in 16 KiB pieces, then waits (at most
/// 5 s) for word that the server has all of them before giving 16 KiB more.
struct TwoParts {
    server_has_first: std::sync::mpsc::Receiver<()>,
    given: usize,
}

const PIECE: usize = 16 * 1024;
const FIRST: usize = 4 * PIECE;

impl io::Read for TwoParts {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if self.given == FIRST {
            self.server_has_first
                .recv_timeout(Duration::from_secs(5))
                .map_err(|_| io::Error::other("the server never got the first part"))?;
        }
        let n = buf.len().min(PIECE).min(FIRST + PIECE - self.given);
        buf[..n].fill(b'x');
        self.given += n;
        Ok(n)
    }
}

/// A TCP stream read at most 512 bytes at a time: a server slower than the client,
/// whose socket is full when the client writes.
struct Trickle(std::net::TcpStream);

impl io::Read for Trickle {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(512);
        self.0.read(&mut buf[..n])
    }
}

impl io::Write for Trickle {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.0.flush()
    }
}

/// A piece of a reader body goes out whole before the reader is asked for the next
/// (which may wait for the server, or for anything else), even when the socket was
/// full as it went: the records that did not fit then are not left in rustls
/// until the next piece comes. Small buffers on both ends and a slow server, so
/// that a piece cannot go out in one non-blocking send.
#[test]
fn a_reader_piece_over_tls_goes_out_whole_before_the_next_is_read() -> TestResult {
    use std::io::{Read, Write};
    let ca = TestCa::new()?;
    let config = ca.server_config(&["127.0.0.1"]);
    let (listener, port) = common::listener_with_recv_buffer(Some(4096))?;
    let (has_first, server_has_first) = std::sync::mpsc::channel();
    let server = std::thread::spawn(move || -> Result<usize, String> {
        let (mut sock, _) = listener.accept().map_err(|e| e.to_string())?;
        let conn = accept_tls(&mut sock, config).map_err(|e| e.to_string())?;
        let mut stream = hcx::rustls::StreamOwned::new(conn, Trickle(sock));
        let mut head = Vec::new();
        let mut byte = [0u8; 1];
        while !head.ends_with(b"\r\n\r\n") {
            stream.read_exact(&mut byte).map_err(|e| e.to_string())?;
            head.push(byte[0]);
        }
        let mut body = vec![0u8; FIRST + PIECE];
        stream
            .read_exact(&mut body[..FIRST])
            .map_err(|e| e.to_string())?;
        let _ = has_first.send(());
        stream
            .read_exact(&mut body[FIRST..])
            .map_err(|e| e.to_string())?;
        stream
            .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
            .map_err(|e| e.to_string())?;
        stream.flush().map_err(|e| e.to_string())?;
        Ok(body.len())
    });
    let client = Client::builder()
        .tls_config(trusting(&ca, None)?)
        .socket_config(hcx::SocketConfig::default().with_send_buffer_size(Some(4096)))
        .response_timeout(Some(SAFETY))
        .build()?;
    let body = TwoParts {
        server_has_first,
        given: 0,
    };
    let request = Request::put(format!("https://127.0.0.1:{port}/"))
        .body(Body::sized_reader(body, (FIRST + PIECE) as u64))?;
    let response = client.execute(request);
    let read = server.join().map_err(|_| "panic")?;
    let response = response?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().into_string()?, "ok");
    assert_eq!(read?, FIRST + PIECE);
    Ok(())
}

/// A server that trickles its handshake (a record header, then one byte at a time,
/// each well within the connect timeout of the last) cannot stretch the handshake past
/// the connect timeout: the timeout bounds the whole handshake, not each read of it.
#[test]
fn a_handshake_trickled_a_byte_at_a_time_ends_at_the_connect_timeout() -> TestResult {
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = std::thread::spawn(move || {
        let Ok((mut stream, _)) = listener.accept() else {
            return;
        };
        let _ = stream.set_read_timeout(Some(SAFETY));
        let mut hello = [0u8; 4096];
        let _ = std::io::Read::read(&mut stream, &mut hello);
        // A handshake record of 16 KiB, whose body then comes a byte every 20 ms
        // (more than 5 minutes in all), until the client gives up or SAFETY passes.
        if std::io::Write::write_all(&mut stream, &[0x16, 0x03, 0x03, 0x40, 0x00]).is_err() {
            return;
        }
        let began = std::time::Instant::now();
        while began.elapsed() < SAFETY {
            if std::io::Write::write_all(&mut stream, &[0]).is_err() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    });
    let timeout = Duration::from_millis(300);
    let client = Client::builder()
        .connect_timeout(timeout)
        .response_timeout(Some(SAFETY))
        .build()?;
    let began = std::time::Instant::now();
    let error = client
        .get(format!("https://127.0.0.1:{port}/"))
        .err()
        .ok_or("a trickled handshake succeeded")?;
    let took = began.elapsed();
    assert_eq!(error.kind(), ErrorKind::ConnectTimeout, "{error:#}");
    assert!(
        took < timeout * 5,
        "the handshake took {took:?}, past the connect timeout of {timeout:?}"
    );
    drop(client);
    server.join().map_err(|_| "panic")?;
    Ok(())
}
