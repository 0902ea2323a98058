//! `Expect: 100-continue` end to end.

mod common;

use std::time::Duration;

use common::{TestResult, client};
use hcx::{Body, Client, CloseReason, Decision, Exchange, RequestConfig, ResponseInfo};
use hcx_testserver::{ExpectContinue, Method, Reply, TestServer};
use http::Request;

fn upload(url: String) -> Result<Request<Body>, http::Error> {
    Request::put(url)
        .header("expect", "100-continue")
        .body(Body::from("the payload"))
}

#[test]
fn the_body_is_sent_after_100_continue() -> TestResult {
    let server = TestServer::builder()
        .route_fn(Method::PUT, "/", |req| Reply::ok().body(req.body.clone()))
        .start()?;
    let client = client()?;
    let response = client.execute(upload(server.url("/"))?)?;
    assert_eq!(response.into_body().into_string()?, "the payload");
    assert_eq!(client.stats().pool.available, 1);
    Ok(())
}

#[test]
fn a_final_response_instead_of_100_skips_the_body_and_closes() -> TestResult {
    let server = TestServer::builder()
        .route(Method::PUT, "/", Reply::new(413u16).body("too big"))
        .expect_continue(ExpectContinue::FinalResponse)
        .start()?;
    let client = client()?;
    let response = client.execute(upload(server.url("/"))?)?;
    assert_eq!(response.status(), 413);
    assert_eq!(
        ResponseInfo::of(&response).map(|i| i.decision),
        Some(Decision::Close(CloseReason::RequestBodyIncomplete))
    );
    assert_eq!(response.into_body().into_string()?, "too big");
    assert_eq!(server.last_request().ok_or("no request")?.body.len(), 0);
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

#[test]
fn a_half_sent_request_closes_even_if_the_reuse_strategy_says_keep() -> TestResult {
    let server = TestServer::builder()
        .route(Method::PUT, "/", Reply::new(413u16).body("too big"))
        .expect_continue(ExpectContinue::FinalResponse)
        .start()?;
    // A strategy that ignores everything: the engine must still close, because the
    // server never got the body it was promised.
    let client = Client::builder()
        .response_timeout(Some(Duration::from_secs(10)))
        .reuse_strategy(|_: &Exchange<'_>| Ok(()))
        .build()?;
    let response = client.execute(upload(server.url("/"))?)?;
    assert_eq!(response.status(), 413);
    assert_eq!(
        ResponseInfo::of(&response).map(|i| i.decision),
        Some(Decision::Close(CloseReason::RequestBodyIncomplete))
    );
    assert_eq!(response.into_body().into_string()?, "too big");
    assert_eq!(
        client.stats().pool.available,
        0,
        "the connection was not pooled"
    );
    Ok(())
}

#[test]
fn a_server_that_never_sends_100_gets_the_body_after_the_wait() -> TestResult {
    let server = TestServer::builder()
        .route_fn(Method::PUT, "/", |req| Reply::ok().body(req.body.clone()))
        .expect_continue(ExpectContinue::Ignore)
        .start()?;
    let client = Client::builder()
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(common::SAFETY))
                .with_expect_continue_timeout(Duration::from_millis(50)),
        )
        .build()?;
    let response = client.execute(upload(server.url("/"))?)?;
    assert_eq!(response.into_body().into_string()?, "the payload");
    assert_eq!(client.stats().pool.available, 1);
    Ok(())
}
