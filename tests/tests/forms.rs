//! Form bodies and query parameters (`hcx::RequestBuilderExt`: Apache's
//! `UrlEncodedFormEntity` and `URIBuilder.addParameter`) as the server receives them,
//! and a form body replayed to a redirect that keeps the method.

mod common;

use common::{SAFETY, TestResult};
use hcx::{Client, RequestBuilderExt};
use hcx_testserver::{Method, Reply, TestServer};
use http::Request;

#[test]
fn a_form_and_its_query_arrive_encoded_with_their_content_type() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("done"))
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = Request::post(server.url("/submit"))
        .query([("lang", "de"), ("q", "a b&c")])
        .form([("name", "Jürgen Groß"), ("sum", "1+1=2")])?;
    let answer = client.execute(request)?.into_body().into_string()?;
    assert_eq!(answer, "done");
    let seen = server.last_request().ok_or("the server saw nothing")?;
    assert_eq!(seen.target, "/submit?lang=de&q=a%20b%26c");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.body_text(), "name=J%C3%BCrgen+Gro%C3%9F&sum=1%2B1%3D2");
    assert_eq!(seen.header("content-length"), Some("40"));
    Ok(())
}

#[test]
fn a_form_body_is_sent_again_after_a_307() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::POST,
            "/old",
            Reply::new(307u16).header("location", "/new"),
        )
        .route(Method::POST, "/new", Reply::ok().body("moved"))
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = Request::post(server.url("/old")).form([("k", "v w")])?;
    assert_eq!(client.execute(request)?.into_body().into_string()?, "moved");
    let bodies: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.target, r.body_text()))
        .collect();
    assert_eq!(bodies, ["/old k=v+w", "/new k=v+w"]);
    Ok(())
}
