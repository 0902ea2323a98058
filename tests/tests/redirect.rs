//! The REDIRECT element end to end: what is followed, how the next request is made,
//! the limits, and what the servers saw.

mod common;

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use common::{SAFETY, TestResult, client, info};
use hcx::chain::{Chain, ChainElement, Context, DefaultRedirectStrategy, RedirectStrategy, Scope};
use hcx::{Body, Client, ErrorKind, RequestConfig, ResponseBody};
use hcx_testserver::{Method, RecordedRequest, Reply, TestServer};
use http::{Request, Response, Uri};

fn redirect(status: u16, location: &str) -> Reply {
    Reply::new(status).header("location", location)
}

/// A server where `/hop/N` redirects to `/hop/N-1` and `/hop/0` answers "arrived": a
/// chain of N redirects.
fn chain_server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .default_fn(|request: &RecordedRequest| {
            let hops = request.path().strip_prefix("/hop/").map(str::parse::<u32>);
            match hops {
                Some(Ok(0)) => Reply::ok().body("arrived"),
                Some(Ok(n)) => redirect(302, &format!("/hop/{}", n - 1)).body("moved"),
                _ => Reply::new(404u16),
            }
        })
        .start()
}

fn paths(server: &TestServer) -> Vec<String> {
    server
        .requests()
        .iter()
        .map(|r| r.path().to_owned())
        .collect()
}

fn uris(urls: &[String]) -> Result<Vec<Uri>, http::uri::InvalidUri> {
    urls.iter().map(|u| u.parse()).collect()
}

fn get(url: String) -> Result<Request<Body>, http::Error> {
    Request::get(url).body(Body::empty())
}

#[test]
fn relative_locations_resolve_against_the_request_uri() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/a/b/start", redirect(302, "../c"))
        .route(Method::GET, "/a/c", redirect(301, "/d"))
        .route(Method::GET, "/d", Reply::ok().body("done"))
        .start()?;
    let client = client()?;
    let mut context = Context::new();
    let response = client.execute_in(get(server.url("/a/b/start"))?, &mut context)?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().into_string()?, "done");
    assert_eq!(paths(&server), ["/a/b/start", "/a/c", "/d"]);
    let expected = uris(&[server.url("/a/c"), server.url("/d")])?;
    assert_eq!(context.redirect_locations(), expected.as_slice());
    Ok(())
}

#[test]
fn see_other_turns_a_post_into_a_get_without_body() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::POST,
            "/form",
            redirect(303, "/result").body("see other"),
        )
        .route(Method::GET, "/result", Reply::ok().body("done"))
        .start()?;
    let client = client()?;
    let mut context = Context::new();
    let request = Request::post(server.url("/form"))
        .header("content-type", "application/x-www-form-urlencoded")
        .header("x-trace", "7")
        .body(Body::from("name=hcx"))?;
    let response = client.execute_in(request, &mut context)?;
    assert_eq!(response.into_body().into_string()?, "done");

    let seen = server.requests();
    assert_eq!(seen.len(), 2);
    assert_eq!(seen[0].method, Method::POST);
    assert_eq!(seen[0].body_text(), "name=hcx");
    assert_eq!((&seen[1].method, seen[1].path()), (&Method::GET, "/result"));
    assert!(seen[1].body.is_empty());
    for gone in ["content-length", "content-type", "transfer-encoding"] {
        assert_eq!(seen[1].header(gone), None, "{gone}");
    }
    assert_eq!(seen[1].header("x-trace"), Some("7"));
    let expected = uris(&[server.url("/result")])?;
    assert_eq!(context.redirect_locations(), expected.as_slice());
    Ok(())
}

#[test]
fn found_and_moved_permanently_turn_a_post_into_a_get_and_keep_other_methods() -> TestResult {
    for status in [301u16, 302] {
        let server = TestServer::builder()
            .route(Method::POST, "/old", redirect(status, "/new"))
            .route(Method::PUT, "/old", redirect(status, "/new"))
            .start()?;
        let client = client()?;
        client
            .post(server.url("/old"), "posted")?
            .into_body()
            .into_string()?;
        client
            .put(server.url("/old"), "put")?
            .into_body()
            .into_string()?;
        let seen = server.requests();
        let summary: Vec<_> = seen
            .iter()
            .map(|r| {
                (
                    r.method.as_str().to_owned(),
                    r.path().to_owned(),
                    r.body_text(),
                )
            })
            .collect();
        let expected = [
            ("POST", "/old", "posted"),
            ("GET", "/new", ""),
            ("PUT", "/old", "put"),
            ("PUT", "/new", "put"),
        ]
        .map(|(m, p, b)| (m.to_owned(), p.to_owned(), b.to_owned()));
        assert_eq!(summary, expected, "{status}");
        assert_eq!(seen[1].header("content-length"), None, "{status}");
    }
    Ok(())
}

#[test]
fn temporary_and_permanent_redirects_send_the_same_method_and_body_again() -> TestResult {
    for status in [307u16, 308] {
        let server = TestServer::builder()
            .route(Method::POST, "/old", redirect(status, "/new"))
            .route(Method::POST, "/new", Reply::ok().body("stored"))
            .start()?;
        let client = client()?;
        // Bytes for 307, a factory (read again for each hop) for 308.
        let body = if status == 307 {
            Body::from("payload")
        } else {
            Body::from_factory(Some(7), || Ok(std::io::Cursor::new(b"payload".to_vec())))
        };
        let request = Request::post(server.url("/old"))
            .header("content-type", "text/plain")
            .body(body)?;
        let response = client.execute(request)?;
        assert_eq!(response.into_body().into_string()?, "stored", "{status}");
        let seen = server.requests();
        assert_eq!(seen.len(), 2, "{status}");
        for (request, path) in seen.iter().zip(["/old", "/new"]) {
            assert_eq!(request.method, Method::POST, "{status}");
            assert_eq!(request.path(), path, "{status}");
            assert_eq!(request.body_text(), "payload", "{status}");
            assert_eq!(request.header("content-type"), Some("text/plain"));
        }
    }
    Ok(())
}

#[test]
fn a_307_with_a_body_that_cannot_be_sent_again_is_a_redirect_error() -> TestResult {
    let server = TestServer::builder()
        .route(Method::POST, "/old", redirect(307, "/new"))
        .start()?;
    let client = client()?;
    let request = Request::post(server.url("/old"))
        .body(Body::reader(std::io::Cursor::new(b"streamed".to_vec())))?;
    let error = client.execute(request).err().ok_or("expected an error")?;
    assert_eq!(error.kind(), ErrorKind::Redirect, "{error:#}");
    assert!(
        error.to_string().contains("cannot be sent again"),
        "{error}"
    );
    assert!(error.to_string().contains(&server.url("/new")), "{error}");
    assert_eq!(server.stats().requests_received, 1);
    assert_eq!(server.requests()[0].body_text(), "streamed");
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

/// A request carrying credentials, a cookie and a `Host` of the caller's.
fn with_credentials(url: String) -> Result<Request<Body>, http::Error> {
    Request::get(url)
        .header("authorization", "Bearer secret")
        .header("proxy-authorization", "Basic cHJveHk=")
        .header("cookie", "session=1")
        .header("host", "named.example")
        .header("x-trace", "7")
        .body(Body::empty())
}

/// `other`, and `server` whose `/away` redirects to `other`'s `/landing` (another
/// origin: both on 127.0.0.1, on different ports) and whose `/stay` to its own
/// `/kept`.
fn away_and_stay() -> std::io::Result<(TestServer, TestServer)> {
    let other = TestServer::builder()
        .default_reply(Reply::ok().body("other"))
        .start()?;
    let server = TestServer::builder()
        .route(Method::GET, "/away", redirect(302, &other.url("/landing")))
        .route(Method::GET, "/stay", redirect(302, "/kept"))
        .route(Method::GET, "/kept", Reply::ok().body("kept"))
        .start()?;
    Ok((other, server))
}

#[test]
fn a_redirect_to_another_origin_drops_credentials_a_same_origin_one_keeps_them() -> TestResult {
    let (other, server) = away_and_stay()?;
    let client = client()?;

    let response = client.execute(with_credentials(server.url("/away"))?)?;
    assert_eq!(response.into_body().into_string()?, "other");
    let landed = other.last_request().ok_or("the other server saw nothing")?;
    assert_eq!(landed.path(), "/landing");
    for gone in ["authorization", "proxy-authorization", "cookie"] {
        assert_eq!(landed.header(gone), None, "{gone}");
    }
    let authority = other.authority();
    assert_eq!(landed.header("host"), Some(authority.as_str()));
    assert_eq!(landed.header("x-trace"), Some("7"));

    let response = client.execute(with_credentials(server.url("/stay"))?)?;
    assert_eq!(response.into_body().into_string()?, "kept");
    let kept = server.last_request().ok_or("no request")?;
    assert_eq!(kept.path(), "/kept");
    assert_eq!(kept.header("authorization"), Some("Bearer secret"));
    assert_eq!(kept.header("cookie"), Some("session=1"));
    assert_eq!(kept.header("host"), Some("named.example"));
    Ok(())
}

#[test]
fn a_redirect_to_a_location_already_followed_is_a_circular_redirect_error() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/a", redirect(302, "/b"))
        .route(Method::GET, "/b", redirect(302, "/a"))
        .start()?;
    let client = client()?;
    let error = client
        .get(server.url("/a"))
        .err()
        .ok_or("expected an error")?;
    assert_eq!(error.kind(), ErrorKind::Redirect, "{error:#}");
    // As Apache: the locations followed are /b and /a; /b again is the circle.
    assert_eq!(
        error.to_string(),
        format!("circular redirect to {}", server.url("/b"))
    );
    assert_eq!(paths(&server), ["/a", "/b", "/a"]);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn post_redirect_get_to_the_same_url_is_followed() -> TestResult {
    let server = TestServer::builder()
        .route(Method::POST, "/form", redirect(303, "/form").body("saved"))
        .route(Method::GET, "/form", Reply::ok().body("thanks"))
        .start()?;
    let client = client()?;
    let request = Request::post(server.url("/form")).body(Body::from("name=x"))?;
    let response = client.execute(request)?;
    assert_eq!(response.into_body().into_string()?, "thanks");
    let methods: Vec<_> = server.requests().iter().map(|r| r.method.clone()).collect();
    assert_eq!(methods, [Method::POST, Method::GET]);
    Ok(())
}

#[test]
fn a_redirect_to_the_request_s_own_uri_is_followed_once() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/check",
            [redirect(302, "/check"), Reply::ok().body("ok")],
        )
        .route(Method::GET, "/loop", redirect(302, "/loop"))
        .start()?;
    let client = client()?;
    assert_eq!(
        client
            .get(server.url("/check"))?
            .into_body()
            .into_string()?,
        "ok"
    );
    // A second hop to it is the circle.
    let error = client.get(server.url("/loop")).err().map(|e| e.kind());
    assert_eq!(error, Some(ErrorKind::Redirect));
    assert_eq!(paths(&server), ["/check", "/check", "/loop", "/loop"]);
    Ok(())
}

#[test]
fn circular_redirects_are_followed_when_allowed() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/a",
            [redirect(302, "/b"), Reply::ok().body("second visit")],
        )
        .route(Method::GET, "/b", redirect(302, "/a"))
        .start()?;
    let client = client()?;
    let mut request = get(server.url("/a"))?;
    let config = client
        .request_config()
        .clone()
        .with_circular_redirects_allowed(true);
    request.extensions_mut().insert(config);
    let mut context = Context::new();
    let response = client.execute_in(request, &mut context)?;
    assert_eq!(response.into_body().into_string()?, "second visit");
    assert_eq!(paths(&server), ["/a", "/b", "/a"]);
    let expected = uris(&[server.url("/b"), server.url("/a")])?;
    assert_eq!(context.redirect_locations(), expected.as_slice());
    Ok(())
}

#[test]
fn more_redirects_than_max_redirects_is_an_error_as_many_is_fine() -> TestResult {
    let server = chain_server()?;
    let client = client()?;
    let with_max = |url: String| -> Result<Request<Body>, http::Error> {
        let mut request = get(url)?;
        let config = client.request_config().clone().with_max_redirects(3);
        request.extensions_mut().insert(config);
        Ok(request)
    };

    let error = client
        .execute(with_max(server.url("/hop/5"))?)
        .err()
        .ok_or("expected an error")?;
    assert_eq!(error.kind(), ErrorKind::Redirect, "{error:#}");
    assert!(error.to_string().contains("too many redirects"), "{error}");
    assert!(error.to_string().contains("more than 3"), "{error}");
    // Three hops followed; the fourth redirect is refused without being requested.
    assert_eq!(paths(&server), ["/hop/5", "/hop/4", "/hop/3", "/hop/2"]);

    let response = client.execute(with_max(server.url("/hop/3"))?)?;
    assert_eq!(response.into_body().into_string()?, "arrived");
    assert_eq!(server.stats().requests_received, 8);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn disabled_redirect_handling_returns_the_3xx_and_leaves_the_chain() -> TestResult {
    let server = chain_server()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .disable_redirect_handling()
        .build()?;
    let response = client.get(server.url("/hop/1"))?;
    assert_eq!(response.status(), 302);
    assert_eq!(
        response.headers().get("location").map(|v| v.as_bytes()),
        Some(&b"/hop/0"[..])
    );
    assert_eq!(response.into_body().into_string()?, "moved");
    assert_eq!(server.stats().requests_received, 1);
    assert!(!format!("{client:?}").contains("REDIRECT"), "{client:?}");
    assert!(format!("{:?}", common::client()?).contains("[REDIRECT, "));
    Ok(())
}

#[test]
fn redirects_disabled_for_one_request_return_the_3xx() -> TestResult {
    let server = chain_server()?;
    let client = client()?;
    let mut request = get(server.url("/hop/1"))?;
    request
        .extensions_mut()
        .insert(client.request_config().clone().with_redirects(false));
    let response = client.execute(request)?;
    assert_eq!(response.status(), 302);
    drop(response);
    assert_eq!(server.stats().requests_received, 1);
    // The client's own configuration still follows.
    let response = client.get(server.url("/hop/1"))?;
    assert_eq!(response.into_body().into_string()?, "arrived");
    assert_eq!(server.stats().requests_received, 3);
    Ok(())
}

#[test]
fn a_same_host_redirect_chain_uses_one_connection() -> TestResult {
    let server = chain_server()?;
    // A generous drain timeout: the test is about reuse, not timing.
    let config = RequestConfig::default()
        .with_response_timeout(Some(SAFETY))
        .with_drain(64 * 1024, SAFETY);
    let client = Client::builder().request_config(config).build()?;
    let response = client.get(server.url("/hop/3"))?;
    assert!(info(&response).reused);
    assert_eq!(response.into_body().into_string()?, "arrived");
    assert_eq!(server.stats().requests_received, 4);
    assert_eq!(server.stats().connections_accepted, 1);
    assert_eq!(server.requests_per_connection(), [4]);
    assert_eq!(client.stats().connections_opened, 1);
    assert_eq!(client.stats().pool.available, 1);
    Ok(())
}

#[test]
fn a_handler_before_redirect_runs_once_one_after_it_once_per_hop() -> TestResult {
    let server = chain_server()?;
    let counter = |count: &Arc<AtomicUsize>| {
        let count = Arc::clone(count);
        move |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
            count.fetch_add(1, Ordering::Relaxed);
            chain.proceed(request, scope)
        }
    };
    let (once, each) = (Arc::new(AtomicUsize::new(0)), Arc::new(AtomicUsize::new(0)));
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .add_handler_before(ChainElement::Redirect, "once", counter(&once))
        .add_handler_after(ChainElement::Redirect, "each", counter(&each))
        .build()?;
    assert!(format!("{client:?}").contains("[once, REDIRECT, each, "));
    let response = client.get(server.url("/hop/3"))?;
    assert_eq!(response.into_body().into_string()?, "arrived");
    assert_eq!(once.load(Ordering::Relaxed), 1);
    assert_eq!(each.load(Ordering::Relaxed), 4);
    assert_eq!(server.stats().requests_received, 4);
    Ok(())
}

/// Follows only redirects that stay on the port of the request.
struct SamePortOnly;

impl RedirectStrategy for SamePortOnly {
    fn is_redirected(
        &self,
        request: &Request<()>,
        response: &Response<ResponseBody>,
        context: &Context,
    ) -> bool {
        DefaultRedirectStrategy.is_redirected(request, response, context)
            && self
                .location(request, response, context)
                .is_ok_and(|to| to.port_u16() == request.uri().port_u16())
    }

    fn location(
        &self,
        request: &Request<()>,
        response: &Response<ResponseBody>,
        context: &Context,
    ) -> Result<Uri, hcx::Error> {
        DefaultRedirectStrategy.location(request, response, context)
    }
}

#[test]
fn a_strategy_of_your_own_decides_what_is_followed() -> TestResult {
    let other = TestServer::builder().start()?;
    let server = TestServer::builder()
        .route(Method::GET, "/away", redirect(302, &other.url("/")))
        .route(Method::GET, "/stay", redirect(302, "/here"))
        .route(Method::GET, "/here", Reply::ok().body("here"))
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .redirect_strategy(SamePortOnly)
        .build()?;
    assert_eq!(client.get(server.url("/away"))?.status(), 302);
    assert_eq!(other.stats().requests_received, 0);
    let response = client.get(server.url("/stay"))?;
    assert_eq!(response.into_body().into_string()?, "here");
    assert_eq!(paths(&server), ["/away", "/stay", "/here"]);
    Ok(())
}

#[test]
fn a_location_that_cannot_be_followed_is_an_error_that_shows_it() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/bad", redirect(302, "http://exa mple.com/"))
        .route(Method::GET, "/tls", redirect(301, "ftp://127.0.0.1/secure"))
        .start()?;
    let client = client()?;
    let error = client
        .get(server.url("/bad"))
        .err()
        .ok_or("expected an error")?;
    assert_eq!(error.kind(), ErrorKind::Redirect, "{error:#}");
    assert!(
        error.to_string().contains("http://exa mple.com/"),
        "{error}"
    );
    // A location hcx cannot send to fails as that URL would.
    let error = client
        .get(server.url("/tls"))
        .err()
        .ok_or("expected an error")?;
    assert_eq!(error.kind(), ErrorKind::InvalidUrl, "{error:#}");
    assert!(
        error.to_string().contains("ftp://127.0.0.1/secure"),
        "{error}"
    );
    assert_eq!(server.stats().requests_received, 2);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

/// The client's default headers (the usual way to give every request an API token)
/// follow the same rule as the caller's own: after a redirect to another origin no
/// default `Authorization`, `Cookie` or `Proxy-Authorization` is sent, on that hop or
/// on one back to the first origin; other default headers still are. The same origin
/// keeps them.
#[test]
fn default_credentials_do_not_follow_a_redirect_to_another_origin() -> TestResult {
    use http::header::{AUTHORIZATION, COOKIE, HeaderName, HeaderValue, PROXY_AUTHORIZATION};
    // `other` sends `/bounce` back to `server`'s `/home`, known once it has started.
    let home = Arc::new(std::sync::OnceLock::<String>::new());
    let other = {
        let home = Arc::clone(&home);
        TestServer::builder()
            .route(Method::GET, "/landing", Reply::ok().body("other"))
            .default_fn(move |_: &RecordedRequest| {
                redirect(302, home.get().map_or("/", String::as_str))
            })
            .start()?
    };
    let server = TestServer::builder()
        .route(Method::GET, "/here", redirect(302, "/home"))
        .route(Method::GET, "/home", Reply::ok().body("home"))
        .route(Method::GET, "/away", redirect(302, &other.url("/landing")))
        .route(Method::GET, "/round", redirect(302, &other.url("/bounce")))
        .start()?;
    home.set(server.url("/home")).map_err(|_| "set twice")?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .default_header(AUTHORIZATION, HeaderValue::from_static("Bearer api-token"))
        .default_header(COOKIE, HeaderValue::from_static("sid=secret"))
        .default_header(
            PROXY_AUTHORIZATION,
            HeaderValue::from_static("Basic cHJveHk="),
        )
        .default_header(
            HeaderName::from_static("x-tenant"),
            HeaderValue::from_static("acme"),
        )
        .build()?;

    // Same origin: every default header on both hops.
    assert_eq!(
        client.get(server.url("/here"))?.into_body().into_string()?,
        "home"
    );
    let at_home = server.last_request().ok_or("no request at /home")?;
    assert_eq!(at_home.path(), "/home");
    assert_eq!(at_home.header("authorization"), Some("Bearer api-token"));
    assert_eq!(at_home.header("cookie"), Some("sid=secret"));

    // Another origin: the credentials stay home, the rest goes.
    assert_eq!(
        client.get(server.url("/away"))?.into_body().into_string()?,
        "other"
    );
    let away = server.last_request().ok_or("no request at /away")?;
    assert_eq!(away.header("authorization"), Some("Bearer api-token"));
    let landed = other.last_request().ok_or("the other origin saw nothing")?;
    assert_eq!(landed.header("authorization"), None);
    assert_eq!(landed.header("cookie"), None);
    assert_eq!(landed.header("proxy-authorization"), None);
    assert_eq!(landed.header("x-tenant"), Some("acme"));

    // Away and back: once left, the first origin gets no default credentials either.
    assert_eq!(
        client
            .get(server.url("/round"))?
            .into_body()
            .into_string()?,
        "home"
    );
    let returned = server.last_request().ok_or("no request back home")?;
    assert_eq!(returned.path(), "/home");
    assert_eq!(returned.header("authorization"), None);
    assert_eq!(returned.header("cookie"), None);
    assert_eq!(returned.header("x-tenant"), Some("acme"));
    Ok(())
}

/// A field value marked sensitive (`HeaderValue::set_sensitive`: an API key of the
/// caller's or among the client's default headers) is treated as a credential: not
/// carried to another origin by a redirect, https to http included. Unmarked fields go
/// along, as in Apache HttpClient.
#[test]
fn values_marked_sensitive_stay_with_their_origin_on_a_redirect() -> TestResult {
    use http::header::{HeaderName, HeaderValue};
    let (other, server) = away_and_stay()?;
    let mut default_key = HeaderValue::from_static("default-secret");
    default_key.set_sensitive(true);
    let client = Client::builder()
        .default_header(HeaderName::from_static("x-default-key"), default_key)
        .response_timeout(Some(SAFETY))
        .build()?;
    let request = |url: String| {
        let mut key = HeaderValue::from_static("caller-secret");
        key.set_sensitive(true);
        Request::get(url)
            .header("x-api-key", key)
            .header("x-trace", "7")
            .body(Body::empty())
    };
    client
        .execute(request(server.url("/away"))?)?
        .into_body()
        .into_string()?;
    let landed = other.last_request().ok_or("the other server saw nothing")?;
    assert_eq!(landed.header("x-api-key"), None);
    assert_eq!(landed.header("x-default-key"), None);
    assert_eq!(landed.header("x-trace"), Some("7"), "unmarked: carried");
    client
        .execute(request(server.url("/stay"))?)?
        .into_body()
        .into_string()?;
    let kept = server.last_request().ok_or("no request")?;
    assert_eq!(kept.path(), "/kept");
    assert_eq!(kept.header("x-api-key"), Some("caller-secret"));
    assert_eq!(kept.header("x-default-key"), Some("default-secret"));
    Ok(())
}

/// A `Location` with a scheme that has no host (`mailto:`, `javascript:`, `about:`)
/// is a redirect error that names it, as Apache's "Redirect URI does not specify a
/// valid host name". It once reached the route planner mangled: `mailto:ops@example.com`
/// became the host `example.com` and was reported as "cannot send to example.com: the
/// URI has no scheme", naming neither the Location nor the redirect.
#[test]
fn a_location_without_a_host_is_a_redirect_error_that_names_it() -> TestResult {
    // (location, as the error shows it: what looks like userinfo is never shown)
    for (location, shown) in [
        ("mailto:ops@example.com", "\"***@example.com\""),
        ("javascript:alert(1)", "\"javascript:alert(1)\""),
        ("about:blank", "\"about:blank\""),
    ] {
        let server = TestServer::builder()
            .route(Method::GET, "/s", redirect(302, location))
            .default_reply(Reply::ok())
            .start()?;
        let client = client()?;
        let error = client
            .get(server.url("/s"))
            .err()
            .ok_or("a Location without a host cannot be followed")?;
        assert_eq!(error.kind(), ErrorKind::Redirect, "{location}: {error:#}");
        let message = error.to_string();
        assert!(message.contains(shown), "{message}");
        assert!(message.contains(&server.url("/s")), "{message}");
        // The first request went out and was answered: the caller must not resend it.
        assert!(error.is_request_sent(), "{location}");
        assert_eq!(server.stats().requests_received, 1, "{location}");
        assert_eq!(client.stats().pool.leased, 0, "{location}");
    }
    Ok(())
}

#[test]
fn a_reused_context_forgets_the_last_execution_even_when_the_next_is_refused() -> TestResult {
    let server = chain_server()?;
    let client = client()?;
    let mut context = Context::new();
    let response = client.execute_in(get(server.url("/hop/2"))?, &mut context)?;
    response.into_body().into_string()?;
    assert!(!context.redirect_locations().is_empty());
    assert_eq!(context.attempts(), 1);
    // A request refused before it starts (its own config has a zero timeout): the
    // context must not go on showing the previous request's redirects and attempts.
    let mut request = get(server.url("/hop/2"))?;
    request
        .extensions_mut()
        .insert(RequestConfig::default().with_response_timeout(Some(std::time::Duration::ZERO)));
    let error = client
        .execute_in(request, &mut context)
        .err()
        .ok_or("a zero response timeout is refused")?;
    assert_eq!(error.kind(), ErrorKind::Config);
    assert_eq!(context.redirect_locations(), &[] as &[Uri]);
    assert_eq!(context.attempts(), 0);
    Ok(())
}
