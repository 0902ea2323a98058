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
