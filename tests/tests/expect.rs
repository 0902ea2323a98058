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

/// A server that answers the head at once with a final response, and sends the second
/// half of its body `pause` later.
fn early_answer_with_a_pause(pause: Duration) -> std::io::Result<u16> {
    use std::io::{BufRead, BufReader, Read, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || -> std::io::Result<()> {
        let (stream, _) = listener.accept()?;
        stream.set_read_timeout(Some(common::SAFETY))?;
        let mut w = stream.try_clone()?;
        let mut r = BufReader::new(stream);
        loop {
            let mut line = String::new();
            if r.read_line(&mut line)? == 0 || line == "\r\n" {
                break;
            }
        }
        w.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nhello")?;
        // The slow body is the behaviour under test, not a wait for an event.
        std::thread::sleep(pause);
        w.write_all(b"world")?;
        let mut sink = [0u8; 64];
        while r.read(&mut sink).unwrap_or(0) > 0 {}
        Ok(())
    });
    Ok(port)
}

#[test]
fn an_early_final_response_is_read_with_the_response_timeout_not_the_wait_s() -> TestResult {
    let port = early_answer_with_a_pause(Duration::from_millis(300))?;
    let client = Client::builder()
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(common::SAFETY))
                .with_expect_continue_timeout(Duration::from_millis(50)),
        )
        .build()?;
    let response = client.execute(upload(format!("http://127.0.0.1:{port}/"))?)?;
    assert_eq!(response.into_body().into_string()?, "helloworld");
    Ok(())
}
