//! Handlers of your own in the exec chain: where they go, what they may do with the
//! request and the responses they get, and what the chain does with the connections.

mod common;

use std::borrow::Cow;
use std::io::Read;

use common::{SAFETY, TestResult};
use hcx::chain::{Chain, ChainElement, Scope};
use hcx::{Body, Client, ErrorKind};
use hcx_testserver::{Reply, TestServer};
use http::Request;

fn pass(
    request: Request<Body>,
    scope: &mut Scope<'_>,
    chain: Chain<'_>,
) -> Result<http::Response<hcx::ResponseBody>, hcx::Error> {
    chain.proceed(request, scope)
}

#[test]
fn a_handler_named_like_a_built_in_element_is_refused() {
    let built = Client::builder()
        .add_handler_first(ChainElement::Named(Cow::Borrowed("RETRY")), pass)
        .build();
    assert!(
        built.is_err_and(|e| e.kind() == ErrorKind::Config
            && e.to_string().contains("already has an element RETRY"))
    );
}

#[test]
fn a_handler_that_proceeds_twice_gets_two_whole_responses() -> TestResult {
    let server = TestServer::builder()
        .default_fn(|r| Reply::ok().body(format!("{}-{}", r.target, r.index_on_connection)))
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .add_handler_last(
            "twice",
            |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                let copy = Request::get(request.uri().clone()).body(Body::empty())?;
                let mut first = chain.proceed(request, scope)?;
                let mut two = [0u8; 2];
                first.body_mut().read_exact(&mut two)?;
                let second = chain.proceed(copy, scope)?;
                drop(first);
                Ok(second)
            },
        )
        .build()?;
    for _ in 0..3 {
        let body = client.get(server.url("/t"))?.into_body().into_string()?;
        assert!(body.starts_with("/t-"), "{body}");
        assert_eq!(client.stats().pool.leased, 0);
    }
    Ok(())
}

#[test]
fn a_handler_answers_from_its_own_cache_with_a_body_of_its_own() -> TestResult {
    use std::collections::HashMap;

    use parking_lot::Mutex;

    let server = TestServer::builder()
        .default_fn(|r| Reply::ok().body(format!("fresh {}", r.target)))
        .start()?;
    let cache: Mutex<HashMap<String, hcx::bytes::Bytes>> = Mutex::default();
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .add_handler_first(
            "cache",
            move |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                let key = request.uri().to_string();
                if let Some(hit) = cache.lock().get(&key) {
                    return Ok(http::Response::builder()
                        .status(203)
                        .body(hcx::ResponseBody::from_bytes(hit.clone()))?);
                }
                let (parts, body) = chain.proceed(request, scope)?.into_parts();
                let bytes = body.into_bytes()?;
                cache.lock().insert(key, bytes.clone());
                Ok(http::Response::from_parts(
                    parts,
                    hcx::ResponseBody::from_bytes(bytes),
                ))
            },
        )
        .build()?;
    let first = client.get(server.url("/a"))?;
    assert_eq!(first.status(), 200);
    assert_eq!(first.into_body().into_string()?, "fresh /a");
    for _ in 0..2 {
        let hit = client.get(server.url("/a"))?;
        assert_eq!(hit.status(), 203);
        let body = hit.into_body();
        // Made by the handler: no connection, no exchange behind it.
        assert!(body.info().is_none());
        assert_eq!(body.request_progress(), hcx::RequestProgress::NotStarted);
        assert_eq!(body.into_string()?, "fresh /a");
    }
    assert_eq!(server.requests().len(), 1);
    let stats = client.stats().pool;
    assert_eq!((stats.leased, stats.available), (0, 1));
    Ok(())
}

#[test]
fn a_stub_body_streams_from_a_reader_and_its_errors_come_through() -> TestResult {
    let client = Client::builder()
        .add_handler_first(
            "stub",
            |request: Request<Body>, _: &mut Scope<'_>, _: Chain<'_>| {
                let reader: Box<dyn Read + Send> = if request.uri().path() == "/broken" {
                    Box::new(std::io::Cursor::new(b"par".to_vec()).chain(Broken))
                } else {
                    Box::new(std::io::Cursor::new(b"stubbed".to_vec()))
                };
                Ok(http::Response::new(hcx::ResponseBody::from_reader(reader)))
            },
        )
        .build()?;
    // No server: nothing below the stub runs.
    let body = client.get("http://127.0.0.1:9/ok")?.into_body();
    assert_eq!(body.into_string()?, "stubbed");
    let error = client
        .get("http://127.0.0.1:9/broken")?
        .into_body()
        .into_string()
        .err()
        .ok_or("a broken stub body read without an error")?;
    assert!(
        format!("{error:?}").contains("stub reader broke"),
        "{error:?}"
    );
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

/// A reader that fails.
struct Broken;

impl Read for Broken {
    fn read(&mut self, _: &mut [u8]) -> std::io::Result<usize> {
        Err(std::io::Error::other("stub reader broke"))
    }
}

/// A handler that sends the request to another origin: `replan` says whether it
/// plans the route for the new URI, as docs/chain.md asks.
fn move_to(to: &str, replan: bool) -> Result<Client, Box<dyn std::error::Error>> {
    let to: http::Uri = to.parse()?;
    Ok(Client::builder()
        .response_timeout(Some(SAFETY))
        .add_handler_after(
            ChainElement::Retry,
            "move",
            move |mut request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                *request.uri_mut() = to.clone();
                if replan {
                    scope.route = scope.plan(request.uri())?;
                }
                chain.proceed(request, scope)
            },
        )
        .build()?)
}

#[test]
fn a_request_moved_to_another_origin_without_its_route_is_refused() -> TestResult {
    let old = TestServer::builder()
        .default_reply(Reply::ok().body("old"))
        .start()?;
    let new = TestServer::builder()
        .default_reply(Reply::ok().body("new"))
        .start()?;
    let error = move_to(&new.url("/x"), false)?
        .get(old.url("/x"))
        .err()
        .ok_or("a request sent over the old origin's route")?;
    assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error}");
    assert!(error.to_string().contains("scope.plan"), "{error}");
    // Neither server saw it: nothing went over the old origin's connection.
    assert_eq!((old.requests().len(), new.requests().len()), (0, 0));

    let body = move_to(&new.url("/x"), true)?
        .get(old.url("/x"))?
        .into_body()
        .into_string()?;
    assert_eq!(body, "new");
    assert_eq!((old.requests().len(), new.requests().len()), (0, 1));
    Ok(())
}

#[test]
fn a_redirect_through_a_planner_that_rotates_its_proxies_is_not_refused() -> TestResult {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use hcx::{Proxy, Route};
    use hcx_testserver::TestProxy;

    let to = TestServer::builder()
        .default_reply(Reply::ok().body("moved here"))
        .start()?;
    let from = TestServer::builder()
        .default_reply(Reply::new(302u16).header("location", to.url("/new")))
        .start()?;
    let proxies = [TestProxy::builder().start()?, TestProxy::builder().start()?];
    let urls = [proxies[0].url(), proxies[1].url()];
    // Each plan takes the next proxy (a failover or load-spreading planner): a hop's
    // route is the one REDIRECT planned for it, not a second plan of the same URI.
    let next = AtomicUsize::new(0);
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .route_planner(move |uri: &http::Uri| -> Result<Route, hcx::Error> {
            let proxy = Proxy::from_url(&urls[next.fetch_add(1, Ordering::Relaxed) % 2])?;
            let host = uri.host().unwrap_or_default();
            Ok(Route::http(host, uri.port_u16().unwrap_or(80)).via(proxy))
        })
        .build()?;
    let body = client.get(from.url("/old"))?.into_body().into_string()?;
    assert_eq!(body, "moved here");
    assert_eq!((from.requests().len(), to.requests().len()), (1, 1));
    Ok(())
}

#[test]
fn a_request_moved_back_to_the_first_origin_after_a_redirect_needs_its_route() -> TestResult {
    let mirror = TestServer::builder()
        .default_reply(Reply::ok().body("mirror"))
        .start()?;
    let first = TestServer::builder()
        .route(
            hcx_testserver::Method::GET,
            "/start",
            Reply::new(302u16).header("location", mirror.url("/x")),
        )
        .default_reply(Reply::ok().body("first"))
        .start()?;
    let back: http::Uri = first.url("/back").parse()?;
    // Below REDIRECT, a handler points the second hop (to the mirror) back at the
    // first origin without planning its route: that request must not go over the
    // mirror's connection.
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .add_handler_after(
            ChainElement::Redirect,
            "back",
            move |mut request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                if request.uri().path() == "/x" {
                    *request.uri_mut() = back.clone();
                }
                chain.proceed(request, scope)
            },
        )
        .build()?;
    let outcome = client
        .get(first.url("/start"))
        .and_then(|r| r.into_body().into_string());
    assert!(mirror.requests().is_empty(), "{outcome:?}");
    let error = outcome
        .err()
        .ok_or("a request sent over another origin's route")?;
    assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error}");
    assert_eq!(first.requests().len(), 1);
    Ok(())
}

/// A reader that says it read more than the buffer it was given holds.
struct Overclaims;

impl Read for Overclaims {
    fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
        Ok(out.len() + 1)
    }
}

#[test]
fn a_stub_reader_that_overclaims_its_reads_is_an_error_not_a_panic() -> TestResult {
    let client = Client::builder()
        .add_handler_first(
            "stub",
            |_: Request<Body>, _: &mut Scope<'_>, _: Chain<'_>| {
                Ok(http::Response::new(hcx::ResponseBody::from_reader(
                    Overclaims,
                )))
            },
        )
        .build()?;
    let error = client
        .get("http://127.0.0.1:9/")?
        .into_body()
        .into_string()
        .err()
        .ok_or("an overclaiming reader read without an error")?;
    assert!(error.to_string().contains("claimed"), "{error}");
    let mut body = client.get("http://127.0.0.1:9/")?.into_body();
    let mut buf = [0u8; 4];
    let read = body.read(&mut buf);
    assert!(read.is_err(), "{read:?}");
    Ok(())
}

#[test]
fn a_handler_above_redirect_gets_its_scope_back_for_a_second_request() -> TestResult {
    let b = TestServer::builder()
        .default_reply(Reply::ok().body("b"))
        .start()?;
    let to_b = b.url("/end");
    let a = TestServer::builder()
        .default_fn(move |r| match r.target.as_str() {
            "/go" => Reply::new(302u16).header("location", to_b.clone()),
            _ => Reply::ok().body("a"),
        })
        .start()?;
    let again = a.url("/plain").parse::<http::Uri>()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .add_handler_first(
            "twice",
            move |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                let route = scope.route.clone();
                let first = chain.proceed(request, scope)?.into_body().into_string()?;
                // As passed: the first origin's route, no origin left; the first
                // request's hop listed.
                assert_eq!(scope.route, route);
                assert!(!scope.left_origin());
                assert_eq!(scope.context.redirect_locations().len(), 1);
                let second = Request::get(again.clone()).body(Body::empty())?;
                let (parts, body) = chain.proceed(second, scope)?.into_parts();
                let both = format!("{first}+{}", body.into_string()?);
                Ok(http::Response::from_parts(
                    parts,
                    hcx::ResponseBody::from_bytes(both),
                ))
            },
        )
        .build()?;
    let mut context = hcx::chain::Context::new();
    let request = Request::get(a.url("/go")).body(Body::empty())?;
    let body = client
        .execute_in(request, &mut context)?
        .into_body()
        .into_string()?;
    assert_eq!(body, "b+a");
    // As Apache's RedirectExec: the locations of the redirects the response went
    // through (the second request's: none), not the first request's hop to b.
    assert_eq!(context.redirect_locations(), &[] as &[http::Uri]);
    let targets = |s: &TestServer| {
        s.requests()
            .iter()
            .map(|r| r.target.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(targets(&a), ["/go", "/plain"]);
    assert_eq!(targets(&b), ["/end"]);
    Ok(())
}

#[test]
fn a_fallback_to_the_first_origin_after_a_planned_move_needs_its_route() -> TestResult {
    let mirror = TestServer::builder()
        .default_reply(Reply::new(404u16).body("mirror"))
        .start()?;
    let first = TestServer::builder()
        .default_reply(Reply::ok().body("first"))
        .start()?;
    let to_mirror: http::Uri = mirror.url("/x").parse()?;
    // Tries the mirror first (planning its route, as docs/chain.md asks), then falls
    // back to the caller's request without giving it its route again: that request,
    // with the first origin's Host, must not go over the mirror's connection.
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .add_handler_first(
            "mirror-first",
            move |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                let moved = Request::get(to_mirror.clone()).body(Body::empty())?;
                scope.route = scope.plan(moved.uri())?;
                let response = chain.proceed(moved, scope)?;
                if response.status().is_success() {
                    return Ok(response);
                }
                drop(response);
                chain.proceed(request, scope)
            },
        )
        .build()?;
    let outcome = client
        .get(first.url("/x"))
        .and_then(|r| r.into_body().into_string());
    assert_eq!(mirror.requests().len(), 1, "{outcome:?}");
    let error = outcome
        .err()
        .ok_or("a request sent over another origin's route")?;
    assert_eq!(error.kind(), ErrorKind::InvalidRequest, "{error}");
    assert!(first.requests().is_empty());
    Ok(())
}
