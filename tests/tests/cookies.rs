//! The opt-in cookie store (feature `cookies`) end to end.

mod common;

use std::sync::Arc;

use common::{SAFETY, TestResult};
use hcx::Client;
use hcx::chain::CookieStore;
use hcx_testserver::{Method, Reply, TestServer};

fn server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .route(
            Method::GET,
            "/login",
            Reply::ok()
                .header("set-cookie", "session=s3cr3t; Path=/")
                .body("welcome"),
        )
        .default_reply(Reply::ok().body("page"))
        .start()
}

#[test]
fn a_cookie_set_by_the_server_goes_back_to_it_and_nowhere_else() -> TestResult {
    let server = server()?;
    let elsewhere = server_on_other_name()?;
    let store = Arc::new(CookieStore::new());
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .cookie_store(Arc::clone(&store))
        .resolver(hcx::StaticResolver::new().with("other.test", [127, 0, 0, 1].into()))
        .build()?;
    client
        .get(server.url("/login"))?
        .into_body()
        .into_string()?;
    client
        .get(server.url("/profile"))?
        .into_body()
        .into_string()?;
    let seen = server.requests();
    assert_eq!(seen[0].header("cookie"), None);
    assert_eq!(seen[1].header("cookie"), Some("session=s3cr3t"));
    assert_eq!(store.cookies_for(&server.url("/x").parse()?).len(), 1);

    // Another host (the same address under another name) gets nothing.
    let other = format!("http://other.test:{}/profile", elsewhere.port());
    client.get(other)?.into_body().into_string()?;
    assert_eq!(
        elsewhere
            .last_request()
            .ok_or("no request")?
            .header("cookie"),
        None
    );
    Ok(())
}

#[test]
fn without_a_store_cookies_are_neither_kept_nor_sent() -> TestResult {
    let server = server()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    client
        .get(server.url("/login"))?
        .into_body()
        .into_string()?;
    client
        .get(server.url("/profile"))?
        .into_body()
        .into_string()?;
    assert_eq!(server.requests()[1].header("cookie"), None);
    Ok(())
}

/// A client with a cookie store, logged in at `server` (its session cookie stored).
fn logged_in(server: &TestServer) -> Result<Client, Box<dyn std::error::Error>> {
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .cookie_store(Arc::new(CookieStore::new()))
        .build()?;
    client
        .get(server.url("/login"))?
        .into_body()
        .into_string()?;
    Ok(client)
}

#[test]
fn a_cookie_header_the_caller_sets_is_kept_as_is() -> TestResult {
    let server = server()?;
    let client = logged_in(&server)?;
    let request = hcx::http::Request::get(server.url("/profile"))
        .header("cookie", "mine=1")
        .body(hcx::Body::empty())?;
    client.execute(request)?.into_body().into_string()?;
    assert_eq!(server.requests()[1].header("cookie"), Some("mine=1"));
    Ok(())
}

fn server_on_other_name() -> std::io::Result<TestServer> {
    TestServer::builder()
        .default_reply(Reply::ok().body("other"))
        .start()
}

/// RFC 6265 §5.3 step 5: a cookie for a public suffix (`Domain=com`, its example) is
/// ignored. Set by `evil.com` for all of `com`, it must not reach `bank.com`; a cookie
/// for `evil.com` itself still goes back to it.
#[test]
fn a_cookie_for_a_top_level_domain_is_ignored() -> TestResult {
    use std::net::{IpAddr, Ipv4Addr};
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/set",
            Reply::ok()
                .header("set-cookie", "sid=attacker; Domain=com; Path=/")
                .header("set-cookie", "own=fine; Domain=evil.com; Path=/")
                .body("set"),
        )
        .default_reply(Reply::ok().body("page"))
        .start()?;
    let localhost = IpAddr::V4(Ipv4Addr::LOCALHOST);
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .cookie_store(Arc::new(CookieStore::new()))
        .resolver(
            hcx::StaticResolver::new()
                .with("evil.com", localhost)
                .with("bank.com", localhost),
        )
        .build()?;
    let port = server.port();
    client
        .get(format!("http://evil.com:{port}/set"))?
        .into_body()
        .into_string()?;
    client
        .get(format!("http://evil.com:{port}/page"))?
        .into_body()
        .into_string()?;
    let back = server.last_request().ok_or("no request")?;
    assert_eq!(back.header("cookie"), Some("own=fine"));
    client
        .get(format!("http://bank.com:{port}/account"))?
        .into_body()
        .into_string()?;
    let bank = server.last_request().ok_or("no request")?;
    assert_eq!(
        bank.header("cookie"),
        None,
        "Domain=com from evil.com reached bank.com"
    );
    Ok(())
}

#[test]
fn a_secure_cookie_never_goes_over_plain_http_even_to_loopback() -> TestResult {
    // Set over https (cookies do not look at ports: it applies to the plain server on
    // the same host too); one a plain server marks Secure is refused (RFC 6265bis
    // §5.7: plain http must not plant what an https site reads).
    let ca = hcx_testserver::TestCa::new()?;
    let secure = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(
            Method::GET,
            "/login",
            Reply::ok().header("set-cookie", "session=s3cr3t; Secure; Path=/"),
        )
        .start()?;
    let plain = TestServer::builder()
        .route(
            Method::GET,
            "/login",
            Reply::ok()
                .header("set-cookie", "planted=1; Secure; Path=/")
                .header("set-cookie", "session=overwritten; Path=/")
                .header("set-cookie", "theme=dark; Path=/"),
        )
        .default_reply(Reply::ok().body("page"))
        .start()?;
    let store = Arc::new(CookieStore::new());
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .tls_config(common::trusting(&ca)?)
        .cookie_store(Arc::clone(&store))
        .build()?;
    let login = format!("https://127.0.0.1:{}/login", secure.port());
    client.get(login)?.into_body().into_string()?;
    client.get(plain.url("/login"))?.into_body().into_string()?;
    client
        .get(plain.url("/account"))?
        .into_body()
        .into_string()?;
    let sent = plain.last_request().ok_or("no request")?;
    assert_eq!(sent.path(), "/account");
    assert_eq!(sent.header("cookie"), Some("theme=dark"));
    // The store holds the https one, unchanged, for https requests to the same host.
    let over_https = format!("https://{}/account", plain.authority()).parse()?;
    let mut held = store.cookies_for(&over_https);
    held.sort();
    assert_eq!(
        held,
        [
            ("session".to_owned(), "s3cr3t".to_owned()),
            ("theme".to_owned(), "dark".to_owned())
        ]
    );
    Ok(())
}

/// Found in review: store cookies went out on a `TRACE`, whose response echoes the
/// request (RFC 9110 §9.3.8: a client must not send cookies in one). Apache's
/// `RequestAddCookies` adds none to `TRACE` or `CONNECT`.
#[test]
fn a_trace_request_carries_no_stored_cookie() -> TestResult {
    let server = server()?;
    let client = logged_in(&server)?;
    let trace = hcx::http::Request::builder()
        .method(hcx::http::Method::TRACE)
        .uri(server.url("/profile"))
        .body(hcx::Body::empty())?;
    client.execute(trace)?.into_body().into_string()?;
    let seen = server.last_request().ok_or("no request")?;
    assert_eq!(seen.method, Method::TRACE);
    assert_eq!(seen.header("cookie"), None);
    // Other methods still carry it.
    client
        .get(server.url("/profile"))?
        .into_body()
        .into_string()?;
    assert_eq!(
        server.last_request().ok_or("no request")?.header("cookie"),
        Some("session=s3cr3t")
    );
    Ok(())
}
