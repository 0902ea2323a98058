//! Secrets (passwords, Authorization / Proxy-Authorization / Cookie / Set-Cookie
//! values, bearer tokens, URL userinfo) never reach output a user or operator sees:
//! `Debug` / `Display` of errors and public types, and `tracing` output.

mod common;

use std::fmt::Write as _;
use std::sync::Arc;

use common::{SAFETY, TestResult};
use hcx::chain::{AuthScope, BasicCredentialsProvider, Credentials};
use hcx::http::header::{AUTHORIZATION, COOKIE, HeaderValue};
use hcx::{Body, Client, RequestConfig};
use hcx_testserver::{Method, Reply, TestServer};
use parking_lot::Mutex;
use tracing::field::{Field, Visit};
use tracing::span::{Attributes, Id, Record};
use tracing::{Event, Level, Metadata, Subscriber};

const SECRETS: &[&str] = &[
    "hunter2",
    // base64("alice:hunter2")
    "YWxpY2U6aHVudGVyMg",
    "tok-SECRET",
    "sess-SECRET",
    "setc-SECRET",
    "loc-SECRET",
    "uri-SECRET",
];

fn assert_clean(what: &str, text: &str) {
    for s in SECRETS {
        assert!(!text.contains(s), "{what} shows the secret {s:?}:\n{text}");
    }
}

struct Capture {
    wants: Vec<(&'static str, Level)>,
    lines: Arc<Mutex<Vec<String>>>,
}

#[derive(Default)]
struct Line(String);

impl Visit for Line {
    fn record_debug(&mut self, field: &Field, value: &dyn std::fmt::Debug) {
        let _ = write!(self.0, " {}={value:?}", field.name());
    }
}

impl Subscriber for Capture {
    fn enabled(&self, m: &Metadata<'_>) -> bool {
        self.wants
            .iter()
            .any(|(t, l)| m.target() == *t && m.level() <= l)
    }
    fn new_span(&self, _: &Attributes<'_>) -> Id {
        Id::from_u64(1)
    }
    fn record(&self, _: &Id, _: &Record<'_>) {}
    fn record_follows_from(&self, _: &Id, _: &Id) {}
    fn event(&self, event: &Event<'_>) {
        let mut line = Line::default();
        event.record(&mut line);
        let m = event.metadata();
        self.lines
            .lock()
            .push(format!("{} {}:{}", m.target(), m.level(), line.0));
    }
    fn enter(&self, _: &Id) {}
    fn exit(&self, _: &Id) {}
}

fn capture(
    wants: Vec<(&'static str, Level)>,
    run: impl FnOnce() -> TestResult,
) -> Result<String, Box<dyn std::error::Error>> {
    let lines = Arc::new(Mutex::new(Vec::new()));
    let sub = Capture {
        wants,
        lines: Arc::clone(&lines),
    };
    tracing::subscriber::with_default(sub, run)?;
    Ok(lines.lock().join("\n"))
}

fn server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .header("set-cookie", "sid=setc-SECRET; Path=/; HttpOnly")
                .body("hi"),
        )
        .start()
}

/// Basic credentials (preemptive), a bearer token and a cookie set by the caller, a
/// Set-Cookie in the answer.
fn exchange_with_secrets(server: &TestServer) -> TestResult {
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .credentials_provider(
            BasicCredentialsProvider::new()
                .with(AuthScope::any(), Credentials::basic("alice", "hunter2")),
        )
        .preemptive_auth(true)
        .build()?;
    client.get(server.url("/"))?.into_body().into_string()?;

    let plain = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let mut token = HeaderValue::from_static("Bearer tok-SECRET");
    token.set_sensitive(true);
    let request = hcx::http::Request::builder()
        .uri(server.url("/"))
        .header(AUTHORIZATION, token)
        .header(COOKIE, "sid=sess-SECRET")
        .body(Body::empty())?;
    plain.execute(request)?.into_body().into_string()?;
    Ok(())
}

#[test]
fn hcx_headers_debug_redacts_credentials_and_cookies() -> TestResult {
    let server = server()?;
    let out = capture(vec![("hcx::headers", Level::DEBUG)], || {
        exchange_with_secrets(&server)
    })?;
    assert!(out.contains("request head"), "{out}");
    assert_clean("hcx::headers at DEBUG", &out);
    Ok(())
}

#[test]
fn hcx_headers_debug_redacts_fields_the_request_marked_sensitive() -> TestResult {
    let server = server()?;
    let out = capture(vec![("hcx::headers", Level::DEBUG)], || {
        let mut key = HeaderValue::from_static("key-SECRET");
        key.set_sensitive(true);
        let request = hcx::http::Request::builder()
            .uri(server.url("/"))
            .header("x-api-key", key)
            .header("x-trace", "trace-visible")
            .body(Body::empty())?;
        common::client()?
            .execute(request)?
            .into_body()
            .into_string()?;
        Ok(())
    })?;
    assert_key_redacted(&out);
    // Only what was marked: other fields are shown as sent.
    assert!(out.contains("x-trace: trace-visible"), "{out}");
    Ok(())
}

#[test]
fn hcx_headers_debug_redacts_a_default_field_marked_sensitive() -> TestResult {
    use hcx::exec::{ExecRuntime, MainExec};
    use hcx::http::HeaderName;
    use hcx::{DefaultKeepAliveStrategy, DefaultReuseStrategy, PoolingConnectionManager, Route};

    let server = server()?;
    let out = capture(vec![("hcx::headers", Level::DEBUG)], || {
        let manager = PoolingConnectionManager::builder().build()?;
        let exec = MainExec::new(
            Arc::new(DefaultReuseStrategy),
            Arc::new(DefaultKeepAliveStrategy::default()),
        );
        let mut key = HeaderValue::from_static("key-SECRET");
        key.set_sensitive(true);
        let defaults = [(HeaderName::from_static("x-api-key"), key)];
        let request = hcx::http::Request::get(server.url("/")).body(Body::empty())?;
        let config = RequestConfig::default().with_response_timeout(Some(SAFETY));
        exec.execute_with_defaults(
            &Route::from_uri(request.uri())?,
            request,
            &defaults,
            ExecRuntime::new(manager),
            &config,
        )?
        .into_body()
        .into_string()?;
        Ok(())
    })?;
    // Sent as a default field of the codec's, not one of the request's own: hidden
    // all the same.
    assert_key_redacted(&out);
    Ok(())
}

/// The `x-api-key` marked sensitive shows in `out` by name only.
fn assert_key_redacted(out: &str) {
    assert!(!out.contains("key-SECRET"), "{out}");
    assert!(out.contains("x-api-key: <redacted>"), "{out}");
}

#[test]
fn hcx_exec_redirect_event_hides_location_userinfo() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/end", Reply::ok().body("end"))
        .start()?;
    let to = server.url("/end").replacen("://", "://bob:loc-SECRET@", 1);
    let server2 = TestServer::builder()
        .route(Method::GET, "/", Reply::new(302u16).header("location", to))
        .start()?;
    let out = capture(vec![("hcx::exec", Level::DEBUG)], || {
        common::client()?
            .get(server2.url("/"))?
            .into_body()
            .into_string()?;
        Ok(())
    })?;
    assert!(out.contains("following redirect"), "{out}");
    assert_clean("hcx::exec redirect event", &out);
    Ok(())
}

#[test]
fn hcx_exec_retry_event_hides_request_userinfo() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::no_response())
        .start()?;
    let url = server.url("/").replacen("://", "://bob:uri-SECRET@", 1);
    let out = capture(vec![("hcx::exec", Level::DEBUG)], || {
        let outcome = common::client()?.get(url.as_str()).map(|r| r.status());
        // Retried, then given up: the server never answers.
        assert!(
            outcome
                .as_ref()
                .is_err_and(hcx::Error::is_closed_before_response),
            "{outcome:?}"
        );
        Ok(())
    })?;
    assert!(out.contains("retrying"), "{out}");
    assert_clean("hcx::exec retry event", &out);
    Ok(())
}

#[test]
fn invalid_url_error_hides_userinfo() {
    let client = Client::new();
    for url in [
        "http://bob:uri-SECRET@exa mple.com/",
        "ftp://bob:uri-SECRET@example.com/",
        "http://bob:uri-SECRET@example.com:99999/",
        "http://bob:uri-SECRET@[fe80::1%25eth0]:80/",
        // A '://' in a query after the '@' is no scheme's.
        "bob:uri-SECRET@host /?x=http://y",
    ] {
        let e = client.get(url).expect_err("must fail");
        assert_clean(url, &format!("{e} | {e:#} | {e:?}"));
    }
}

#[test]
fn too_many_redirects_error_hides_location_userinfo() -> TestResult {
    let server = TestServer::builder()
        .route_fn(Method::GET, "/a", |_| {
            Reply::new(302u16).header("location", "/b")
        })
        .start()?;
    let loc = server.url("/a").replacen("://", "://bob:loc-SECRET@", 1);
    let server2 = TestServer::builder()
        .route(Method::GET, "/", Reply::new(302u16).header("location", loc))
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .request_config(RequestConfig::default().with_max_redirects(1))
        .build()?;
    let e = client
        .get(server2.url("/"))
        .expect_err("too many redirects");
    assert!(e.to_string().contains("too many"), "{e}");
    assert_clean("the redirect error", &format!("{e} | {e:#} | {e:?}"));
    Ok(())
}

#[test]
fn client_builder_debug_hides_a_default_authorization_header() {
    let builder = Client::builder()
        .default_header(AUTHORIZATION, HeaderValue::from_static("Bearer tok-SECRET"))
        .default_header(COOKIE, HeaderValue::from_static("sid=sess-SECRET"));
    assert_clean("ClientBuilder Debug", &format!("{builder:?}"));
}

#[test]
fn proxy_url_error_redacts_the_password_whatever_follows_it() {
    let e =
        hcx::Proxy::from_url("bob:hunter2@proxy:3128/?next=http://x").expect_err("does not parse");
    assert_clean("Proxy::from_url error", &format!("{e} | {e:#} | {e:?}"));
}

#[test]
fn hcx_headers_debug_redacts_proxy_authorization() -> TestResult {
    let server = server()?;
    let proxy = hcx_testserver::TestProxy::builder()
        .require_basic_auth("svc", "hunter2")
        .start()?;
    let out = capture(vec![("hcx::headers", Level::DEBUG)], || {
        let client = Client::builder()
            .response_timeout(Some(SAFETY))
            .proxy(hcx::Proxy::new("127.0.0.1", proxy.port()).with_basic_auth("svc", "hunter2"))
            .build()?;
        client.get(server.url("/"))?.into_body().into_string()?;
        Ok(())
    })?;
    assert!(out.contains("request head"), "{out}");
    // base64("svc:hunter2")
    assert!(!out.contains("c3ZjOmh1bnRlcjI"), "{out}");
    Ok(())
}

/// What holds up: these must stay green.
#[test]
fn debug_and_display_of_secret_holding_types_hold_up() -> TestResult {
    let proxy = hcx::Proxy::from_url("http://svc:hunter2@proxy.internal:3128")?;
    let provider = BasicCredentialsProvider::new()
        .with(AuthScope::any(), Credentials::basic("alice", "hunter2"))
        .with(AuthScope::new("h", 1), Credentials::bearer("tok-SECRET"));
    let route = hcx::Route::http("example.com", 80).via(proxy.clone());
    let client = Client::builder()
        .proxy(proxy.clone())
        .credentials_provider(provider)
        .build()?;
    let mut all = format!(
        "{proxy} {proxy:?} {proxy:#?} {route} {route:?} {client:?} {:?} {:?}",
        Credentials::basic("alice", "hunter2"),
        Credentials::bearer("tok-SECRET"),
    );
    let provider = BasicCredentialsProvider::new()
        .with(AuthScope::any(), Credentials::basic("alice", "hunter2"));
    all.push_str(&format!("{provider:?} {:?}", AuthScope::any()));
    for bad in [
        "http://svc:hunter2@proxy:99999",
        "https://svc:hunter2@proxy:443",
        "http://a%3Ab:hunter2@proxy:1",
        "svc:hunter2@",
    ] {
        if let Err(e) = hcx::Proxy::from_url(bad) {
            all.push_str(&format!(" {e} {e:#} {e:?}"));
        }
    }
    assert_clean("Debug/Display", &all);
    Ok(())
}

/// A logging interceptor placed last prints the request as it is sent, and a handler
/// prints the response: the caller's own `Authorization` and `Cookie`, the cookie the
/// store adds and the server's `Set-Cookie` are all hidden from that `Debug`, as
/// AUTH's `Authorization` always was.
#[test]
fn debug_of_requests_and_responses_hides_credentials_and_cookies() -> TestResult {
    let server = server()?;
    let seen = Arc::new(Mutex::new(String::new()));
    let log = Arc::clone(&seen);
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .cookie_store(Arc::new(hcx::CookieStore::new()))
        .add_request_interceptor_last(
            move |request: &mut hcx::http::Request<Body>, _: &mut hcx::chain::Context| {
                let _ = writeln!(log.lock(), "{request:?}");
                Ok::<(), hcx::Error>(())
            },
        )
        .build()?;
    // The first response stores `sid=setc-SECRET`; the second request carries it.
    for _ in 0..2 {
        let request = hcx::http::Request::get(server.url("/"))
            .header(AUTHORIZATION, "Bearer tok-SECRET")
            .body(Body::empty())?;
        let response = client.execute(request)?;
        let _ = writeln!(seen.lock(), "{response:?}");
        response.into_body().into_string()?;
    }
    let out = seen.lock().clone();
    assert!(
        out.contains("authorization") && out.contains("set-cookie"),
        "{out}"
    );
    assert!(
        out.contains("\"cookie\": Sensitive"),
        "the store's cookie: {out}"
    );
    assert_clean("Debug of requests and responses", &out);
    // Marked sensitive, not changed: the server got the values.
    let sent = server.last_request().ok_or("no request")?;
    assert_eq!(sent.headers[AUTHORIZATION], "Bearer tok-SECRET");
    assert_eq!(sent.headers[COOKIE], "sid=setc-SECRET");
    Ok(())
}
