//! RETRY's and REDIRECT's copy of the request head: what every attempt and hop carries.

mod common;

use std::sync::{Arc, Mutex};

use common::{SAFETY, TestResult};
use hcx::chain::{Chain, ChainElement, Scope};
use hcx::{Body, Client};
use hcx_testserver::{Method, Reply, TestServer};
use http::{HeaderValue, Request, Version};

#[derive(Clone, Debug, PartialEq)]
struct Tag(u32);

type Seen = Arc<Mutex<Vec<(http::Method, String, Version, bool, Option<Tag>, u32)>>>;

fn client(seen: &Seen, after: ChainElement) -> Result<Client, hcx::Error> {
    let s = Arc::clone(seen);
    Client::builder()
        .response_timeout(Some(SAFETY))
        .retry_sleeper(|_| {})
        .retry_strategy(hcx::chain::DefaultRetryStrategy::new().with_max_retries(2))
        .add_handler_after(
            after,
            "look",
            move |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                if let Ok(mut seen) = s.lock() {
                    seen.push((
                        request.method().clone(),
                        request.uri().path().to_owned(),
                        request.version(),
                        request
                            .headers()
                            .get("x-secret")
                            .is_some_and(HeaderValue::is_sensitive),
                        request.extensions().get::<Tag>().cloned(),
                        scope.context.attempts(),
                    ));
                }
                chain.proceed(request, scope)
            },
        )
        .build()
}

fn put(url: String) -> Result<Request<Body>, Box<dyn std::error::Error>> {
    let mut secret = HeaderValue::from_static("s3cret");
    secret.set_sensitive(true);
    let mut request = Request::put(url)
        .version(Version::HTTP_10)
        .header("x-secret", secret)
        .body(Body::from("payload"))?;
    request.extensions_mut().insert(Tag(7));
    Ok(request)
}

#[test]
fn every_retry_attempt_carries_the_whole_head_and_the_body() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::PUT,
            "/",
            [
                Reply::new(503u16).header("retry-after", "0"),
                Reply::new(503u16).header("retry-after", "0"),
                Reply::ok(),
            ],
        )
        .start()?;
    let seen = Seen::default();
    let client = client(&seen, ChainElement::Retry)?;
    let response = client.execute(put(server.url("/"))?)?;
    assert_eq!(response.status(), 200);
    let seen = seen.lock().map_err(|_| "poisoned")?.clone();
    assert_eq!(seen.len(), 3, "{seen:?}");
    for (i, s) in seen.iter().enumerate() {
        assert_eq!(
            s,
            &(
                http::Method::PUT,
                "/".to_owned(),
                Version::HTTP_10,
                true,
                Some(Tag(7)),
                i as u32 + 1
            )
        );
    }
    let bodies: Vec<_> = server.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, ["payload", "payload", "payload"]);
    Ok(())
}

#[test]
fn a_307_hop_carries_the_whole_head_and_the_body() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::PUT,
            "/a",
            Reply::new(307u16).header("location", "/b"),
        )
        .route(Method::PUT, "/b", Reply::ok())
        .start()?;
    let seen = Seen::default();
    let client = client(&seen, ChainElement::Redirect)?;
    let response = client.execute(put(server.url("/a"))?)?;
    assert_eq!(response.status(), 200);
    let seen = seen.lock().map_err(|_| "poisoned")?.clone();
    let paths: Vec<_> = seen.iter().map(|s| s.1.clone()).collect();
    assert_eq!(paths, ["/a", "/b"]);
    for s in &seen {
        assert_eq!(
            (&s.0, s.2, s.3, &s.4),
            (&http::Method::PUT, Version::HTTP_10, true, &Some(Tag(7))),
            "{s:?}"
        );
    }
    let bodies: Vec<_> = server.requests().into_iter().map(|r| r.body).collect();
    assert_eq!(bodies, ["payload", "payload"]);
    Ok(())
}

/// A client whose handler below REDIRECT adds `x-added: 1` to every request it passes
/// (a request RETRY gets is then no longer the caller's), and counts its calls.
fn adding_client(calls: &Arc<Mutex<u32>>) -> Result<Client, hcx::Error> {
    let calls = Arc::clone(calls);
    Client::builder()
        .response_timeout(Some(SAFETY))
        .retry_sleeper(|_| {})
        .add_handler_after(
            ChainElement::Redirect,
            "add",
            move |mut request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                if let Ok(mut calls) = calls.lock() {
                    *calls += 1;
                }
                request
                    .headers_mut()
                    .append("x-added", HeaderValue::from_static("1"));
                chain.proceed(request, scope)
            },
        )
        .build()
}

/// A server where `/moved` is a 302 to `/`, whose first answer is a 503 to retry at
/// once and then a 200.
fn moved_then_unavailable_once() -> Result<TestServer, Box<dyn std::error::Error>> {
    Ok(TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [Reply::new(503u16).header("retry-after", "0"), Reply::ok()],
        )
        .route(
            Method::GET,
            "/moved",
            Reply::new(302u16).header("location", "/"),
        )
        .start()?)
}

#[test]
fn a_request_without_extensions_is_sent_again_as_it_came_with_its_fields() -> TestResult {
    let server = moved_then_unavailable_once()?;
    let seen = Seen::default();
    let client = client(&seen, ChainElement::Retry)?;
    let mut secret = HeaderValue::from_static("s3cret");
    secret.set_sensitive(true);
    let request = Request::get(server.url("/moved"))
        .header("x-secret", secret)
        .header("accept", "application/json")
        .header("x-request-id", "7f3a9c")
        .body(Body::empty())?;
    let response = client.execute(request)?;
    assert_eq!(response.status(), 200);
    let seen = seen.lock().map_err(|_| "poisoned")?.clone();
    // The 302, the hop's 503, the hop's retry: each with the caller's fields, the
    // secret still marked sensitive.
    let paths: Vec<_> = seen.iter().map(|s| (s.1.as_str(), s.3, s.5)).collect();
    assert_eq!(paths, [("/moved", true, 1), ("/", true, 1), ("/", true, 2)]);
    for request in server.requests() {
        let fields: Vec<_> = ["x-secret", "accept", "x-request-id"]
            .iter()
            .map(|name| request.headers.get_all(*name).iter().count())
            .collect();
        assert_eq!(fields, [1, 1, 1], "{}", request.target);
        assert_eq!(request.headers["x-request-id"], "7f3a9c");
    }
    Ok(())
}

#[test]
fn a_request_a_handler_above_retry_changed_is_sent_again_with_the_change_once() -> TestResult {
    let server = moved_then_unavailable_once()?;
    let calls = Arc::new(Mutex::new(0));
    let client = adding_client(&calls)?;
    let request = Request::get(server.url("/moved"))
        .header("x-request-id", "7f3a9c")
        .body(Body::empty())?;
    let response = client.execute(request)?;
    assert_eq!(response.status(), 200);
    // The handler ran for the first request and for the hop (REDIRECT passes each
    // down), not for RETRY's second attempt, which sends what RETRY was given.
    assert_eq!(*calls.lock().map_err(|_| "poisoned")?, 2);
    let requests = server.requests();
    assert_eq!(requests.len(), 3);
    for request in requests {
        let added: Vec<_> = request.headers.get_all("x-added").iter().collect();
        assert_eq!(added, ["1"], "{}", request.target);
        assert_eq!(request.headers["x-request-id"], "7f3a9c");
    }
    Ok(())
}
