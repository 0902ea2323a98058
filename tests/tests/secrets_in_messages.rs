//! Credentials never in what errors, events, the context or `Debug` show: a URL or
//! proxy password with a '/' in it, a trailer section that does not parse, a custom
//! redirect strategy's `Location` with userinfo, a Basic user-id holding the password,
//! a proxy host with credentials in it, an `Authorization` an interceptor adds.

mod common;

use common::{SAFETY, TestResult};
use hcx::Client;
use hcx_testserver::{Method, Reply, TestServer};

fn all(e: &hcx::Error) -> String {
    format!("{e} | {e:#} | {e:?}")
}

/// A password with an unencoded '/' (`redact_userinfo` knows the case): the URL
/// parses, the client finds no userinfo to strip, and the InvalidUrl error of route
/// planning prints the URL as is.
#[test]
fn invalid_port_error_hides_a_password_with_a_slash() {
    let e = Client::new()
        .get("http://bob:se/cret-SECRET@127.0.0.1/")
        .expect_err("the port 'se' is no port");
    let text = all(&e);
    assert!(!text.contains("cret-SECRET"), "{text}");
}

/// A trailer section that fails to parse is quoted (its first 40 bytes) in the body
/// error: a `Set-Cookie` trailer's value with it.
#[test]
fn malformed_trailer_error_does_not_quote_a_set_cookie_value() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .body("hi")
                .trailer("Set-Cookie", "sid=setc-SECRET")
                .trailer("Bad Name", "x"),
        )
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let e = client
        .get(server.url("/"))?
        .into_body()
        .into_string()
        .expect_err("a trailer name with a space");
    let text = format!("{e} | {e:#} | {e:?}");
    assert!(!text.contains("setc-SECRET"), "{text}");
    Ok(())
}

/// A custom RedirectStrategy that reads an absolute `Location` itself (without the
/// default's userinfo removal): its userinfo reaches the RedirectEvent, the Context
/// and the limit errors, which the default strategy keeps clean.
#[test]
fn userinfo_of_a_custom_strategy_location_reaches_events_and_context() -> TestResult {
    use hcx::chain::{Context, RedirectStrategy};
    use hcx::http::{Request, Response, Uri};
    use std::sync::{Arc, Mutex};

    struct Absolute;
    impl RedirectStrategy for Absolute {
        fn is_redirected(
            &self,
            _: &Request<()>,
            r: &Response<hcx::ResponseBody>,
            _: &Context,
        ) -> bool {
            r.status().is_redirection() && r.headers().contains_key("location")
        }
        fn location(
            &self,
            _: &Request<()>,
            r: &Response<hcx::ResponseBody>,
            _: &Context,
        ) -> Result<Uri, hcx::Error> {
            let text = r.headers()["location"].to_str().unwrap_or_default();
            text.parse::<Uri>().map_err(|e| {
                hcx::Error::new(hcx::ErrorKind::Redirect, "bad Location").with_source(e)
            })
        }
    }
    struct Seen(Arc<Mutex<String>>);
    impl hcx::EventListener for Seen {
        fn redirect(&self, e: &hcx::RedirectEvent<'_>) {
            self.0
                .lock()
                .unwrap()
                .push_str(&format!("{} -> {}\n", e.from, e.to));
        }
    }
    let end = TestServer::builder()
        .route(Method::GET, "/end", Reply::ok().body("end"))
        .start()?;
    let to = end.url("/end").replacen("://", "://bob:loc-SECRET@", 1);
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::new(302u16).header("location", to))
        .start()?;
    let seen = Arc::new(Mutex::new(String::new()));
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .redirect_strategy(Absolute)
        .event_listener(Seen(Arc::clone(&seen)))
        .build()?;
    let mut context = Context::new();
    let request = Request::get(server.url("/")).body(hcx::Body::empty())?;
    let body = client
        .execute_in(request, &mut context)?
        .into_body()
        .into_string()?;
    assert_eq!(body, "end");
    let text = format!("{} | {context:?}", seen.lock().unwrap());
    assert!(!text.contains("loc-SECRET"), "{text}");
    Ok(())
}

/// A proxy URL whose password holds an unencoded '/': the authority ends at the '/',
/// and the password's first segment is read as the port, which the error quotes
/// (`redact_userinfo` hides the URL's userinfo, the reason repeats it).
#[test]
fn proxy_url_port_error_does_not_quote_the_password() {
    let e = hcx::Proxy::from_url("http://svc:pw-SECRET/x@proxy.internal:3128")
        .expect_err("pw-SECRET is no port");
    let text = all(&e);
    assert!(!text.contains("pw-SECRET"), "{text}");
}

/// The same through the environment (`http_proxy`), as `proxy_from_env` reads it.
#[test]
fn env_proxy_port_error_does_not_quote_the_password() {
    let e = hcx::EnvProxyRoutePlanner::from_vars(|name| {
        (name == "http_proxy").then(|| "http://svc:pw-SECRET/x@proxy.internal:3128".to_owned())
    })
    .expect_err("pw-SECRET is no port");
    let text = all(&e);
    assert!(!text.contains("pw-SECRET"), "{text}");
}

/// `Proxy::new` given credentials in the host (the slip `check` is there to catch):
/// the Config error quotes the host, password included.
#[test]
fn proxy_host_slip_error_does_not_quote_the_password() {
    let e = Client::builder()
        .proxy(hcx::Proxy::new("svc:pw-secret@proxy.internal", 3128))
        .build()
        .expect_err("'@' in a proxy host");
    // The host is lowercased: so is the secret.
    let text = all(&e);
    assert!(!text.contains("pw-secret"), "{text}");
}

/// A request interceptor that adds the token (the usual way to inject one): the
/// value is not marked sensitive, so a logging interceptor placed last (or a handler
/// after PROTOCOL) prints it, unlike the caller's own `Authorization`, which
/// `execute` marks.
#[test]
fn an_interceptor_added_authorization_is_hidden_from_later_debug() -> TestResult {
    use hcx::http::header::AUTHORIZATION;
    use std::sync::{Arc, Mutex};
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .start()?;
    let seen = Arc::new(Mutex::new(String::new()));
    let log = Arc::clone(&seen);
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .add_request_interceptor_first(
            |request: &mut hcx::http::Request<hcx::Body>, _: &mut hcx::chain::Context| {
                request.headers_mut().insert(
                    AUTHORIZATION,
                    hcx::http::HeaderValue::from_static("Bearer tok-SECRET"),
                );
                Ok::<(), hcx::Error>(())
            },
        )
        .add_request_interceptor_last(
            move |request: &mut hcx::http::Request<hcx::Body>, _: &mut hcx::chain::Context| {
                log.lock().unwrap().push_str(&format!("{request:?}"));
                Ok::<(), hcx::Error>(())
            },
        )
        .build()?;
    client.get(server.url("/"))?.into_body().into_string()?;
    let out = seen.lock().unwrap().clone();
    assert!(out.contains("authorization"), "{out}");
    assert!(!out.contains("tok-SECRET"), "{out}");
    Ok(())
}

/// `Credentials::basic("alice:pw", …)`, the slip of giving `user:password` as the
/// user name: the Config error quotes the user-id, password included (the proxy's
/// equivalent error does not quote it).
#[test]
fn a_user_id_holding_the_password_is_not_quoted() -> TestResult {
    use hcx::chain::{AuthScope, BasicCredentialsProvider, Credentials};
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hi"))
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .credentials_provider(
            BasicCredentialsProvider::new()
                .with(AuthScope::any(), Credentials::basic("alice:pw-SECRET", "")),
        )
        .preemptive_auth(true)
        .build()?;
    let e = client
        .get(server.url("/"))
        .expect_err("':' in a Basic user-id");
    let text = all(&e);
    assert!(!text.contains("pw-SECRET"), "{text}");
    Ok(())
}

#[test]
fn digits_of_a_password_cut_short_by_a_slash_are_not_shown_as_a_port() -> TestResult {
    let error = Client::new()
        .get("http://alice:99999/hunter@127.0.0.1:1/")
        .err()
        .ok_or("sent")?;
    let text = all(&error);
    assert!(!text.contains("99999"), "{text}");
    Ok(())
}
