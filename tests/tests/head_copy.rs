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
