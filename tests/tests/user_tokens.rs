//! Stateful connections: a connection released under one user's token is preferred for,
//! and only given to, requests of that user; the leases that could not reuse an idle
//! connection because of its state are counted (Apache users lose that reuse silently).

mod common;

use common::{SAFETY, TestResult, info};
use hcx::chain::Context;
use hcx::http::Request;
use hcx::{Body, Client, Route, UserToken};
use hcx_testserver::{Method, Reply, TestServer};

fn get_as(client: &Client, url: &str, user: Option<&str>) -> Result<(u64, bool), hcx::Error> {
    let mut context = Context::new();
    context.user_token = user.map(UserToken::new);
    let response = client.execute_in(Request::get(url).body(Body::empty())?, &mut context)?;
    let info = info(&response);
    response.into_body().into_string()?;
    Ok((info.connection_id, info.reused))
}

#[test]
fn a_connection_bound_to_one_user_is_not_lent_to_another_and_the_miss_is_counted() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("x"))
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let url = server.url("/");

    let (alice_conn, reused) = get_as(&client, &url, Some("alice"))?;
    assert!(!reused);
    // Bob finds only Alice's connection idle: he gets a new one, and the miss counts.
    let (bob_conn, reused) = get_as(&client, &url, Some("bob"))?;
    assert!(!reused && bob_conn != alice_conn);
    assert_eq!(client.stats().state_mismatches, 1);
    // Each user gets their own connection back.
    assert_eq!(get_as(&client, &url, Some("alice"))?, (alice_conn, true));
    assert_eq!(get_as(&client, &url, Some("bob"))?, (bob_conn, true));
    assert_eq!(client.stats().state_mismatches, 1);
    assert_eq!(server.stats().connections_accepted, 2);
    Ok(())
}

#[test]
fn a_user_token_handler_binds_connections_and_tells_the_caller() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("x"))
        .start()?;
    // The token comes from the request (here a header naming the tenant).
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .user_token_handler(|_: &Route, request: &Request<Body>, _: &Context| {
            request
                .headers()
                .get("x-tenant")
                .and_then(|v| v.to_str().ok())
                .map(UserToken::new)
        })
        .build()?;
    let send = |tenant: &str| -> Result<(Option<String>, bool), hcx::Error> {
        let mut context = Context::new();
        let request = Request::get(server.url("/"))
            .header("x-tenant", tenant)
            .body(Body::empty())?;
        let response = client.execute_in(request, &mut context)?;
        let reused = info(&response).reused;
        response.into_body().into_string()?;
        Ok((
            context.user_token.as_ref().map(|t| t.as_str().to_owned()),
            reused,
        ))
    };
    assert_eq!(send("acme")?, (Some("acme".into()), false));
    // The connection went back bound to "acme": a request without a token in its
    // context leases asking for none, and does not get it.
    let (_, reused) = get_as(&client, &server.url("/"), None)?;
    assert!(!reused, "a stateless lease does not take acme's connection");
    assert_eq!(client.stats().state_mismatches, 1);
    // With the token in the context, the lease prefers acme's connection.
    assert!(get_as(&client, &server.url("/"), Some("acme"))?.1);
    Ok(())
}
