//! A crawler-like client ported from Apache HttpClient 5: redirects of every kind, a
//! relative `Location`, a redirect to another host, cookies kept across requests, a
//! per-request `Context` (`HttpClientContext`) read after the call, gzip bodies.

mod common;

use std::io::Write;
use std::sync::Arc;

use common::{SAFETY, TestResult};
use hcx::chain::{Context, CookieStore};
use hcx::http::Request;
use hcx::{Body, Client};
use hcx_testserver::{Method, Reply, TestServer};

fn crawler(store: &Arc<CookieStore>) -> Result<Client, hcx::Error> {
    Client::builder()
        .response_timeout(Some(SAFETY))
        .cookie_store(store.clone())
        .build()
}

fn gzip(data: &[u8]) -> Result<Vec<u8>, std::io::Error> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    encoder.write_all(data)?;
    encoder.finish()
}

#[test]
fn every_redirect_status_is_followed_and_the_context_lists_the_hops() -> TestResult {
    let other = TestServer::builder()
        .route(Method::GET, "/landing", Reply::ok().body("landed"))
        .start()?;
    let landing = other.url("/landing");
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/a",
            Reply::new(301u16).header("location", "/b"),
        )
        .route(
            Method::GET,
            "/b",
            Reply::new(302u16).header("location", "c"),
        )
        .route(
            Method::GET,
            "/c",
            Reply::new(303u16).header("location", "/d?x=1"),
        )
        .route(
            Method::GET,
            "/d",
            Reply::new(307u16).header("location", "/e"),
        )
        .route(
            Method::GET,
            "/e",
            Reply::new(308u16).header("location", landing.as_str()),
        )
        .start()?;
    let store = Arc::new(CookieStore::new());
    let client = crawler(&store)?;
    let mut context = Context::new();
    let response = client.execute_in(
        Request::get(server.url("/a")).body(Body::empty())?,
        &mut context,
    )?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().into_string()?, "landed");
    let hops: Vec<String> = context
        .redirect_locations()
        .iter()
        .map(|u| u.to_string())
        .collect();
    assert_eq!(
        hops,
        [
            server.url("/b"),
            server.url("/c"),
            server.url("/d?x=1"),
            server.url("/e"),
            landing.clone(),
        ]
    );
    // The final URI, as Apache users read it: the last redirect location.
    assert_eq!(hops.last().map(String::as_str), Some(landing.as_str()));
    assert_eq!(context.attempts(), 1);
    Ok(())
}

#[test]
fn a_post_after_303_becomes_a_get_and_after_307_is_posted_again() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::POST,
            "/see-other",
            Reply::new(303u16).header("location", "/result"),
        )
        .route(
            Method::POST,
            "/temp",
            Reply::new(307u16).header("location", "/again"),
        )
        .default_fn(|r| Reply::ok().body(format!("{} {} {}", r.method, r.path(), r.body_text())))
        .start()?;
    let store = Arc::new(CookieStore::new());
    let client = crawler(&store)?;
    let text = client
        .execute(Request::post(server.url("/see-other")).body(Body::from("q=1"))?)?
        .into_body()
        .into_string()?;
    assert_eq!(text, "GET /result ");
    let text = client
        .execute(Request::post(server.url("/temp")).body(Body::from("q=1"))?)?
        .into_body()
        .into_string()?;
    assert_eq!(text, "POST /again q=1");
    Ok(())
}

#[test]
fn cookies_are_kept_across_requests_and_redirects() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/login",
            Reply::new(302u16)
                .header("set-cookie", "session=abc; Path=/")
                .header("location", "/home"),
        )
        .default_fn(|r| Reply::ok().body(r.header("cookie").unwrap_or("-").to_owned()))
        .start()?;
    let store = Arc::new(CookieStore::new());
    let client = crawler(&store)?;
    let text = client
        .get(server.url("/login"))?
        .into_body()
        .into_string()?;
    assert_eq!(text, "session=abc");
    let text = client
        .get(server.url("/later"))?
        .into_body()
        .into_string()?;
    assert_eq!(text, "session=abc");
    assert_eq!(store.len(), 1);
    Ok(())
}

#[test]
fn gzip_bodies_are_decoded_and_the_encoding_headers_removed() -> TestResult {
    let page = "<html>".repeat(1000);
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/page",
            Reply::ok()
                .header("content-encoding", "gzip")
                .header("content-type", "text/html")
                .body(gzip(page.as_bytes())?),
        )
        .start()?;
    let store = Arc::new(CookieStore::new());
    let client = crawler(&store)?;
    let response = client.get(server.url("/page"))?;
    assert!(response.headers().get("content-encoding").is_none());
    assert!(response.headers().get("content-length").is_none());
    assert_eq!(response.into_body().into_string()?, page);
    let seen = server.last_request().ok_or("no request")?;
    assert!(
        seen.header("accept-encoding")
            .unwrap_or("")
            .contains("gzip")
    );
    Ok(())
}

#[test]
fn a_context_reused_for_a_second_call_shows_only_that_call() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/r",
            Reply::new(302u16).header("location", "/s"),
        )
        .start()?;
    let store = Arc::new(CookieStore::new());
    let client = crawler(&store)?;
    let mut context = Context::new();
    client.execute_in(
        Request::get(server.url("/r")).body(Body::empty())?,
        &mut context,
    )?;
    assert_eq!(context.redirect_locations().len(), 1);
    client.execute_in(
        Request::get(server.url("/s")).body(Body::empty())?,
        &mut context,
    )?;
    assert!(context.redirect_locations().is_empty());
    assert_eq!(context.attempts(), 1);
    Ok(())
}

#[test]
fn more_redirects_than_allowed_is_a_redirect_error_that_says_so() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/1",
            Reply::new(302u16).header("location", "/2"),
        )
        .route(
            Method::GET,
            "/2",
            Reply::new(302u16).header("location", "/3"),
        )
        .route(
            Method::GET,
            "/3",
            Reply::new(302u16).header("location", "/4"),
        )
        .start()?;
    let store = Arc::new(CookieStore::new());
    let client = crawler(&store)?;
    let mut request = Request::get(server.url("/1")).body(Body::empty())?;
    request.extensions_mut().insert(
        hcx::RequestConfig::default()
            .with_max_redirects(1)
            .with_response_timeout(SAFETY),
    );
    let error = match client.execute(request) {
        Ok(r) => return Err(format!("a response: {}", r.status()).into()),
        Err(e) => e,
    };
    assert_eq!(error.kind(), hcx::ErrorKind::Redirect, "{error}");
    assert!(error.to_string().contains('1'), "{error}");
    assert_eq!(server.stats().requests_received, 2);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_circular_redirect_is_refused() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/x",
            Reply::new(302u16).header("location", "/y"),
        )
        .route(
            Method::GET,
            "/y",
            Reply::new(302u16).header("location", "/x"),
        )
        .start()?;
    let store = Arc::new(CookieStore::new());
    let client = crawler(&store)?;
    let error = match client.get(server.url("/x")) {
        Ok(r) => return Err(format!("a response: {}", r.status()).into()),
        Err(e) => e,
    };
    assert_eq!(error.kind(), hcx::ErrorKind::Redirect, "{error}");
    Ok(())
}
