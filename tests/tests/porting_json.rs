//! A JSON service client ported from Apache HttpClient 5, as a user writes it from
//! docs/porting-from-apache-httpclient.md: a pooling manager sized per route and in
//! total, connect and response timeouts, default headers, a JSON POST, bodies read as
//! text by an `HttpClientResponseHandler` (`execute_with`), 4xx and 5xx bodies read.

mod common;

use std::io::Read;

use common::{SAFETY, TestResult};
use hcx::http::header::{CONTENT_TYPE, HeaderName, HeaderValue};
use hcx::http::{Request, Response, StatusCode};
use hcx::{Body, BodyReader, Client, RequestConfig};
use hcx_testserver::{Method, Reply, TestServer};

/// `PoolingHttpClientConnectionManagerBuilder.setMaxConnTotal(4).setMaxConnPerRoute(2)`,
/// `RequestConfig.setConnectTimeout/setResponseTimeout`, `setDefaultHeaders`.
fn json_client(server: &TestServer) -> Result<Client, hcx::Error> {
    Client::builder()
        .max_total(4)
        .max_per_route(2)
        .max_per_route_for(server.url("/"), 3)
        .connect_timeout(SAFETY)
        .request_config(
            RequestConfig::default()
                .with_connection_request_timeout(SAFETY)
                .with_response_timeout(SAFETY),
        )
        .default_header(
            HeaderName::from_static("accept"),
            HeaderValue::from_static("application/json"),
        )
        .default_header(
            HeaderName::from_static("x-client"),
            HeaderValue::from_static("orders"),
        )
        .disable_automatic_retries()
        .build()
}

/// The `HttpClientResponseHandler<(status, String)>`.
fn status_and_text(response: &mut Response<BodyReader<'_>>) -> Result<(u16, String), hcx::Error> {
    let mut text = String::new();
    response
        .body_mut()
        .read_to_string(&mut text)
        .map_err(hcx::Error::from_io)?;
    Ok((response.status().as_u16(), text))
}

fn server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .route_fn(Method::POST, "/orders", |r| {
            Reply::new(201u16)
                .header("content-type", "application/json")
                .body(format!("{{\"echo\":{}}}", r.body_text()))
        })
        .route(
            Method::GET,
            "/missing",
            Reply::new(404u16)
                .header("content-type", "application/json")
                .body(r#"{"error":"no such order"}"#),
        )
        .route(
            Method::GET,
            "/broken",
            Reply::new(500u16)
                .body(r#"{"error":"database down"}"#)
                .chunked(),
        )
        .route(Method::GET, "/orders/42", Reply::ok().body(r#"{"id":42}"#))
        .start()
}

#[test]
fn json_post_sends_content_type_default_headers_and_body() -> TestResult {
    let server = server()?;
    let client = json_client(&server)?;
    let post = Request::post(server.url("/orders"))
        .header(CONTENT_TYPE, "application/json; charset=UTF-8")
        .body(Body::from(r#"{"item":"book","qty":1}"#))?;
    let (status, text) = client.execute_with(post, status_and_text)??;
    assert_eq!(status, 201);
    assert_eq!(text, r#"{"echo":{"item":"book","qty":1}}"#);
    let seen = server.last_request().ok_or("no request")?;
    assert_eq!(
        seen.header("content-type"),
        Some("application/json; charset=UTF-8")
    );
    assert_eq!(seen.header("content-length"), Some("23"));
    assert_eq!(seen.header("accept"), Some("application/json"));
    assert_eq!(seen.header("x-client"), Some("orders"));
    Ok(())
}

#[test]
fn a_request_header_replaces_the_default_of_that_name() -> TestResult {
    let server = server()?;
    let client = json_client(&server)?;
    let get = Request::get(server.url("/orders/42"))
        .header("accept", "text/plain")
        .body(Body::empty())?;
    client.execute_with(get, status_and_text)??;
    let seen = server.last_request().ok_or("no request")?;
    let accepts: Vec<_> = seen.headers.get_all("accept").iter().collect();
    assert_eq!(accepts, ["text/plain"]);
    Ok(())
}

#[test]
fn error_statuses_are_responses_whose_bodies_are_read_and_connection_kept() -> TestResult {
    let server = server()?;
    let client = json_client(&server)?;
    for _ in 0..2 {
        let (status, text) = client.execute_with(
            Request::get(server.url("/missing")).body(Body::empty())?,
            status_and_text,
        )??;
        assert_eq!(
            (status, text.as_str()),
            (404, r#"{"error":"no such order"}"#)
        );
        let (status, text) = client.execute_with(
            Request::get(server.url("/broken")).body(Body::empty())?,
            status_and_text,
        )??;
        assert_eq!(
            (status, text.as_str()),
            (500, r#"{"error":"database down"}"#)
        );
    }
    // Every body was read, so one connection served all four.
    assert_eq!(server.stats().connections_accepted, 1);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_handler_that_returns_early_on_an_error_status_leaks_nothing() -> TestResult {
    let server = server()?;
    let client = json_client(&server)?;
    for _ in 0..5 {
        let status = client.execute_with(
            Request::get(server.url("/broken")).body(Body::empty())?,
            |r| r.status(),
        )?;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR);
    }
    assert_eq!(client.stats().pool.leased, 0);
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn the_per_route_limit_for_the_service_overrides_the_default() -> TestResult {
    let server = server()?;
    let client = json_client(&server)?;
    let route = common::route(&server.url("/"))?;
    let stats = client.connection_manager().route_stats(&route);
    assert_eq!(stats.max, 3, "{stats:?}");
    Ok(())
}
