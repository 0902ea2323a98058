//! The AUTH element end to end: challenges answered once, preemptive credentials,
//! realms, bodies sent twice or not at all, and credentials kept to their origin.

mod common;

use std::io::Cursor;

use common::{SAFETY, TestResult};
use hcx::chain::{AuthScope, BasicCredentialsProvider, Credentials, CredentialsProvider};
use hcx::{Body, Client, RequestConfig};
use hcx_testserver::{Method, RecordedRequest, Reply, TestServer};
use http::Request;

/// `alice:s3cret`, base64 by Python's `base64.b64encode`, not by the code under test.
const ALICE: &str = "Basic YWxpY2U6czNjcmV0";
const ROOT: &str = "Basic cm9vdDpyMDB0";

/// The reply of a server that wants `expected` as the `Authorization` and challenges
/// with `challenge` otherwise; a 200 echoes the body it got.
fn guarded(
    expected: &'static str,
    challenge: &'static str,
) -> impl Fn(&RecordedRequest) -> Reply + Send + Sync + 'static {
    move |request| match request.header("authorization") {
        Some(given) if given == expected => Reply::ok().body(request.body.clone()),
        _ => Reply::new(401u16)
            .header("www-authenticate", challenge)
            .body("who are you?"),
    }
}

/// A client with `provider`, waits bounded by [`SAFETY`], and a drain that always
/// finishes, so the 401's connection is reused whatever the machine's load.
fn client_with(
    provider: impl CredentialsProvider + 'static,
    preemptive: bool,
) -> Result<Client, hcx::Error> {
    Client::builder()
        .request_config(
            RequestConfig::default()
                .with_response_timeout(Some(SAFETY))
                .with_drain(64 * 1024, SAFETY),
        )
        .credentials_provider(provider)
        .preemptive_auth(preemptive)
        .build()
}

/// Credentials for the server's origin only.
fn for_server(server: &TestServer, credentials: Credentials) -> BasicCredentialsProvider {
    BasicCredentialsProvider::new().with(AuthScope::new("127.0.0.1", server.port()), credentials)
}

/// A server guarding every path for alice (`Basic realm="test"`).
fn alice_server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .default_fn(guarded(ALICE, r#"Basic realm="test""#))
        .start()
}

/// A client with alice's credentials for `server`, sent up front or not.
fn alice_client(server: &TestServer, preemptive: bool) -> Result<hcx::Client, hcx::Error> {
    client_with(
        for_server(server, Credentials::basic("alice", "s3cret")),
        preemptive,
    )
}

fn authorizations(server: &TestServer) -> Vec<Option<String>> {
    server
        .requests()
        .iter()
        .map(|r| r.header("authorization").map(str::to_owned))
        .collect()
}

#[test]
fn a_basic_challenge_is_answered_once_on_the_same_connection() -> TestResult {
    let server = alice_server()?;
    let client = alice_client(&server, false)?;
    let response = client.post(server.url("/"), "hello")?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().into_string()?, "hello");
    assert_eq!(authorizations(&server), [None, Some(ALICE.to_owned())]);
    assert_eq!(server.stats().requests_received, 2);
    // The 401 was drained and its connection served the answer.
    assert_eq!(server.stats().connections_accepted, 1);
    assert_eq!(server.requests_per_connection(), [2]);
    Ok(())
}

#[test]
fn wrong_credentials_get_the_second_401_back_without_a_loop() -> TestResult {
    let server = alice_server()?;
    let client = client_with(
        for_server(&server, Credentials::basic("alice", "wrong")),
        false,
    )?;
    let response = client.get(server.url("/"))?;
    assert_eq!(response.status(), 401);
    assert_eq!(response.into_body().into_string()?, "who are you?");
    assert_eq!(
        authorizations(&server),
        [None, Some("Basic YWxpY2U6d3Jvbmc=".to_owned())]
    );
    Ok(())
}

#[test]
fn without_credentials_for_the_host_the_401_is_returned_after_one_request() -> TestResult {
    let server = alice_server()?;
    let provider = BasicCredentialsProvider::new().with(
        AuthScope::any_port("elsewhere.example"),
        Credentials::basic("alice", "s3cret"),
    );
    let client = client_with(provider, false)?;
    let response = client.get(server.url("/"))?;
    assert_eq!(response.status(), 401);
    assert_eq!(response.into_body().into_string()?, "who are you?");
    assert_eq!(authorizations(&server), [None]);
    Ok(())
}

#[test]
fn preemptive_basic_sends_one_request_with_the_header() -> TestResult {
    let server = alice_server()?;
    let client = alice_client(&server, true)?;
    for _ in 0..3 {
        assert_eq!(client.get(server.url("/"))?.status(), 200);
    }
    assert_eq!(authorizations(&server), vec![Some(ALICE.to_owned()); 3]);
    Ok(())
}

#[test]
fn preemptive_bearer_sends_the_token() -> TestResult {
    let server = TestServer::builder()
        .default_fn(guarded("Bearer mF_9.B5f-4.1JqM", r#"Bearer realm="api""#))
        .start()?;
    let client = client_with(
        for_server(&server, Credentials::bearer("mF_9.B5f-4.1JqM")),
        true,
    )?;
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    assert_eq!(
        authorizations(&server),
        [Some("Bearer mF_9.B5f-4.1JqM".to_owned())]
    );
    Ok(())
}

#[test]
fn a_bearer_challenge_is_answered_with_a_token_and_a_basic_one_is_not() -> TestResult {
    let server = TestServer::builder()
        .route_fn(
            Method::GET,
            "/both",
            guarded("Bearer tok", r#"Basic realm="x", Bearer realm="x""#),
        )
        .route_fn(
            Method::GET,
            "/basic",
            guarded("Bearer tok", r#"Basic realm="x""#),
        )
        .start()?;
    let client = client_with(for_server(&server, Credentials::bearer("tok")), false)?;
    assert_eq!(client.get(server.url("/both"))?.status(), 200);
    // A token is not a password: a Basic-only challenge is not answered with it.
    assert_eq!(client.get(server.url("/basic"))?.status(), 401);
    assert_eq!(
        authorizations(&server),
        [None, Some("Bearer tok".to_owned()), None]
    );
    Ok(())
}

#[test]
fn challenges_in_several_fields_and_unknown_schemes_are_read_through() -> TestResult {
    let server = TestServer::builder()
        .default_fn(
            |request: &RecordedRequest| match request.header("authorization") {
                Some(ALICE) => Reply::ok(),
                _ => Reply::new(401u16)
                    .header(
                        "WWW-Authenticate",
                        r#"Newauth realm="apps", type=1, title="Login to \"apps\"""#,
                    )
                    .header("WWW-Authenticate", r#"garbage "" ,, BASIC Realm="test""#),
            },
        )
        .start()?;
    let provider = BasicCredentialsProvider::new().with(
        AuthScope::new("127.0.0.1", server.port()).with_realm("test"),
        Credentials::basic("alice", "s3cret"),
    );
    let client = client_with(provider, false)?;
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    assert_eq!(server.stats().requests_received, 2);
    Ok(())
}

#[test]
fn realm_specific_credentials_answer_their_realm_and_only_it() -> TestResult {
    let server = TestServer::builder()
        .route_fn(
            Method::GET,
            "/admin",
            guarded(ROOT, r#"Basic realm="admin""#),
        )
        .route_fn(
            Method::GET,
            "/user",
            guarded(ALICE, r#"Basic realm="users""#),
        )
        .start()?;
    let here = AuthScope::new("127.0.0.1", server.port());
    let provider = BasicCredentialsProvider::new()
        .with(here.clone(), Credentials::basic("alice", "s3cret"))
        .with(here.with_realm("admin"), Credentials::basic("root", "r00t"));
    let client = client_with(provider, false)?;
    assert_eq!(client.get(server.url("/admin"))?.status(), 200);
    assert_eq!(client.get(server.url("/user"))?.status(), 200);
    assert_eq!(
        authorizations(&server),
        [None, Some(ROOT.to_owned()), None, Some(ALICE.to_owned())]
    );
    Ok(())
}

#[test]
fn realm_specific_credentials_are_not_sent_preemptively() -> TestResult {
    let server = TestServer::builder()
        .default_fn(guarded(ROOT, r#"Basic realm="admin""#))
        .start()?;
    let provider = BasicCredentialsProvider::new().with(
        AuthScope::new("127.0.0.1", server.port()).with_realm("admin"),
        Credentials::basic("root", "r00t"),
    );
    let client = client_with(provider, true)?;
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    assert_eq!(authorizations(&server), [None, Some(ROOT.to_owned())]);
    Ok(())
}

#[test]
fn replayable_bodies_are_sent_again_with_the_credentials() -> TestResult {
    let server = alice_server()?;
    let client = alice_client(&server, false)?;
    let bytes = client.post(server.url("/bytes"), "payload")?;
    assert_eq!(bytes.into_body().into_string()?, "payload");
    // A factory makes a new reader for the second attempt (sent chunked both times).
    let factory = Body::from_factory(None, || Ok(Cursor::new(b"streamed".to_vec())));
    let streamed = client.execute(Request::put(server.url("/factory")).body(factory)?)?;
    assert_eq!(streamed.into_body().into_string()?, "streamed");
    let seen = server.requests();
    let bodies: Vec<_> = seen
        .iter()
        .map(|r| (r.method.as_str(), r.body_text()))
        .collect();
    assert_eq!(
        bodies,
        [
            ("POST", "payload".to_owned()),
            ("POST", "payload".to_owned()),
            ("PUT", "streamed".to_owned()),
            ("PUT", "streamed".to_owned()),
        ]
    );
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn a_body_that_cannot_be_sent_twice_gets_the_401() -> TestResult {
    let server = alice_server()?;
    let client = alice_client(&server, false)?;
    let body = Body::reader(Cursor::new(b"once".to_vec()));
    let response = client.execute(Request::post(server.url("/")).body(body)?)?;
    assert_eq!(response.status(), 401);
    assert_eq!(server.stats().requests_received, 1);
    assert_eq!(server.requests()[0].body_text(), "once");
    Ok(())
}

/// A reader declared empty has nothing to read twice: the challenge is answered, as for
/// any other empty body (REDIRECT replays it so too).
#[test]
fn a_reader_declared_empty_is_sent_again_with_the_credentials() -> TestResult {
    let server = alice_server()?;
    let client = alice_client(&server, false)?;
    let body = Body::sized_reader(std::io::empty(), 0);
    let response = client.execute(Request::put(server.url("/")).body(body)?)?;
    assert_eq!(response.status(), 200);
    assert_eq!(authorizations(&server), [None, Some(ALICE.to_owned())]);
    Ok(())
}

#[test]
fn authentication_disabled_per_request_sends_nothing_and_answers_nothing() -> TestResult {
    let server = alice_server()?;
    let client = alice_client(&server, true)?;
    let mut request = Request::get(server.url("/")).body(Body::empty())?;
    let config = client.request_config().clone().with_authentication(false);
    request.extensions_mut().insert(config);
    assert_eq!(client.execute(request)?.status(), 401);
    assert_eq!(authorizations(&server), [None]);
    // The client's default is untouched: the next request authenticates.
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    assert_eq!(authorizations(&server), [None, Some(ALICE.to_owned())]);
    Ok(())
}

#[test]
fn the_caller_s_own_authorization_is_left_alone() -> TestResult {
    let server = alice_server()?;
    let client = alice_client(&server, true)?;
    let request = Request::get(server.url("/"))
        .header("authorization", "Bearer mine")
        .body(Body::empty())?;
    assert_eq!(client.execute(request)?.status(), 401);
    assert_eq!(authorizations(&server), [Some("Bearer mine".to_owned())]);
    Ok(())
}

#[test]
fn credentials_for_one_origin_are_not_sent_to_another_after_a_redirect() -> TestResult {
    for preemptive in [false, true] {
        let b = TestServer::builder()
            .default_fn(guarded(ALICE, r#"Basic realm="test""#))
            .start()?;
        let b_url = b.url("/landing");
        let a = TestServer::builder()
            .default_fn(
                move |request: &RecordedRequest| match request.header("authorization") {
                    Some(ALICE) => Reply::new(302u16).header("location", &b_url),
                    _ => Reply::new(401u16).header("www-authenticate", r#"Basic realm="test""#),
                },
            )
            .start()?;
        // Credentials for A only, and B challenging with the same realm.
        let client = client_with(
            for_server(&a, Credentials::basic("alice", "s3cret")),
            preemptive,
        )?;
        let response = client.get(a.url("/start"))?;
        assert_eq!(response.status(), 401, "preemptive: {preemptive}");
        let on_a = if preemptive {
            vec![Some(ALICE.to_owned())]
        } else {
            vec![None, Some(ALICE.to_owned())]
        };
        assert_eq!(authorizations(&a), on_a, "preemptive: {preemptive}");
        assert_eq!(authorizations(&b), [None], "preemptive: {preemptive}");
    }
    Ok(())
}

#[test]
fn the_auth_element_is_in_the_chain_only_with_a_provider() -> TestResult {
    let without = Client::builder().preemptive_auth(true).build()?;
    assert!(!format!("{without:?}").contains("AUTH"), "{without:?}");
    let with = client_with(|_: &AuthScope| None, false)?;
    assert!(format!("{with:?}").contains("AUTH, PROTOCOL"), "{with:?}");
    Ok(())
}

#[test]
fn debug_of_credentials_redacts_the_secret() {
    let basic = Credentials::basic("alice", "hunter2");
    let bearer = Credentials::bearer("tok-123");
    let provider = BasicCredentialsProvider::new().with(AuthScope::any(), basic.clone());
    let shown = format!("{basic:?} {bearer:?} {basic:#?} {provider:?}");
    assert!(shown.contains("alice"), "{shown}");
    assert!(
        !shown.contains("hunter2") && !shown.contains("tok-123"),
        "{shown}"
    );
}

/// Through a forward proxy (`http`, requests in absolute-form) the route's host and
/// port are the proxy's, but origin credentials are still looked up for the origin:
/// credentials scoped to the origin answer its 401, and credentials scoped to the
/// proxy's host and port never reach the origin, preemptive or not.
#[test]
fn origin_credentials_are_the_origins_through_a_forward_proxy() -> TestResult {
    let origin = alice_server()?;
    let proxy = hcx_testserver::TestProxy::builder().start()?;
    // A client through the proxy with alice's credentials scoped to `port` of 127.0.0.1.
    let through_proxy =
        |port: u16, preemptive: bool| -> Result<Client, Box<dyn std::error::Error>> {
            Ok(Client::builder()
                .proxy(hcx::Proxy::from_url(&proxy.url())?)
                .request_config(RequestConfig::default().with_response_timeout(Some(SAFETY)))
                .credentials_provider(BasicCredentialsProvider::new().with(
                    AuthScope::new("127.0.0.1", port),
                    Credentials::basic("alice", "s3cret"),
                ))
                .preemptive_auth(preemptive)
                .build()?)
        };
    let client = through_proxy(origin.port(), false)?;
    let response = client.get(origin.url("/"))?;
    assert_eq!(response.status(), 200);
    assert_eq!(authorizations(&origin), [None, Some(ALICE.to_owned())]);

    for preemptive in [false, true] {
        let origin = alice_server()?;
        let client = through_proxy(proxy.port(), preemptive)?;
        let response = client.get(origin.url("/"))?;
        assert_eq!(response.status(), 401, "preemptive {preemptive}");
        assert!(
            authorizations(&origin).iter().all(Option::is_none),
            "preemptive {preemptive}: the origin got {:?}",
            authorizations(&origin)
        );
    }
    Ok(())
}

#[test]
fn credentials_scoped_to_https_never_go_over_plain_http() -> TestResult {
    let server = alice_server()?;
    let scope = AuthScope::new("127.0.0.1", server.port());
    // The same host and port, but only over TLS: a plain-text challenge is not
    // answered, not even preemptively.
    for preemptive in [false, true] {
        let tls_only = BasicCredentialsProvider::new().with(
            scope.clone().with_scheme(hcx::Scheme::Https),
            Credentials::basic("alice", "s3cret"),
        );
        let client = client_with(tls_only, preemptive)?;
        assert_eq!(client.get(server.url("/"))?.status(), 401);
    }
    // Scoped to `http`, or to any scheme, they are sent.
    let plain = BasicCredentialsProvider::new().with(
        scope.with_scheme(hcx::Scheme::Http),
        Credentials::basic("alice", "s3cret"),
    );
    assert_eq!(
        client_with(plain, false)?.get(server.url("/"))?.status(),
        200
    );
    assert_eq!(
        authorizations(&server),
        [None, None, None, Some(ALICE.to_owned())]
    );
    Ok(())
}

/// The parameters of an `Authorization: Digest …` value (test data has no comma in
/// a value), unquoted.
fn digest_params(value: &str) -> Option<Vec<(String, String)>> {
    let rest = value.strip_prefix("Digest ")?;
    rest.split(", ")
        .map(|pair| {
            let (name, value) = pair.split_once('=')?;
            let value = value.trim_matches('"');
            Some((name.to_owned(), value.to_owned()))
        })
        .collect()
}

fn md5_hex(data: impl AsRef<[u8]>) -> String {
    use md5::Digest;
    md5::Md5::digest(data.as_ref())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether `request` carries a correct RFC 7616 MD5 `qop=auth` answer for
/// `user`/`password` to nonce `n0nce` in realm `vault`, computed here independently.
fn digest_answer_ok(request: &RecordedRequest, user: &str, password: &str) -> bool {
    digest_answer_to(request, user, password, "n0nce")
}

/// [`digest_answer_ok`] for another nonce; the `uri` must be the request-target as
/// it came on the wire.
fn digest_answer_to(request: &RecordedRequest, user: &str, password: &str, nonce: &str) -> bool {
    digest_answer_hashing(request, user, password.as_bytes(), nonce, "auth")
}

/// [`digest_answer_to`] with `password` as the bytes hashed (its charset decided by
/// the caller) and `qop` `auth` or `auth-int` (the body the server got hashed too:
/// `H(method ":" uri ":" H(body))`, RFC 7616 §3.4.3).
fn digest_answer_hashing(
    request: &RecordedRequest,
    user: &str,
    password: &[u8],
    nonce: &str,
    qop: &str,
) -> bool {
    let a1 = [format!("{user}:vault:").as_bytes(), password].concat();
    let Some(params) = checked_answer(request, &a1, nonce, qop) else {
        return false;
    };
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    get("username") == Some(user)
        && get("realm") == Some("vault")
        && get("nonce") == Some(nonce)
        && get("qop") == Some(qop)
        && get("opaque") == Some("0paque")
        && get("uri") == Some(request.target.as_str())
}

/// The parameters of `request`'s Digest answer when its `response` is the one for
/// the A1 bytes `a1` (`user:realm:password` in the charset the test means), `nonce`
/// and `qop` (`auth`, or `auth-int`: the body the server got hashed too,
/// `H(method ":" uri ":" H(body))`, RFC 7616 §3.4.3); `None` otherwise.
fn checked_answer(
    request: &RecordedRequest,
    a1: &[u8],
    nonce: &str,
    qop: &str,
) -> Option<Vec<(String, String)>> {
    let value = request.headers.get("authorization")?;
    let params = digest_params(&String::from_utf8_lossy(value.as_bytes()))?;
    let get = |name: &str| {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    };
    let (uri, nc, cnonce, response) = (get("uri")?, get("nc")?, get("cnonce")?, get("response")?);
    let ha2 = if qop == "auth-int" {
        md5_hex(format!(
            "{}:{uri}:{}",
            request.method,
            md5_hex(&request.body)
        ))
    } else {
        md5_hex(format!("{}:{uri}", request.method))
    };
    let expected = md5_hex(format!("{}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}", md5_hex(a1)));
    let right = response == expected;
    right.then_some(params)
}

/// A server that answers a request `accepted` takes with a 200 echoing the body it
/// got, and challenges every other one with `challenge`.
fn challenging_until(
    accepted: impl Fn(&RecordedRequest) -> bool + Send + Sync + 'static,
    challenge: impl AsRef<[u8]> + Send + Sync + 'static,
) -> std::io::Result<TestServer> {
    TestServer::builder()
        .default_fn(move |request: &RecordedRequest| {
            if accepted(request) {
                Reply::ok().body(request.body.clone())
            } else {
                Reply::new(401u16).header("www-authenticate", challenge.as_ref())
            }
        })
        .start()
}

const DIGEST_CHALLENGE: &str =
    r#"Digest realm="vault", qop="auth", nonce="n0nce", opaque="0paque""#;

#[test]
fn a_digest_challenge_is_answered_and_the_password_never_crosses_the_wire() -> TestResult {
    let server = TestServer::builder()
        .default_fn(|request: &RecordedRequest| {
            if digest_answer_ok(request, "alice", "s3cret") {
                Reply::ok().body("hello, alice")
            } else {
                Reply::new(401u16)
                    .header("www-authenticate", DIGEST_CHALLENGE)
                    .body("who are you?")
            }
        })
        .start()?;
    let client = alice_client(&server, false)?;
    let response = client.get(server.url("/vault?item=1"))?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().into_string()?, "hello, alice");
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "the challenge, then the answer");
    let answer = seen[1].header("authorization").ok_or("an answer")?;
    assert!(answer.starts_with("Digest "), "{answer}");
    assert!(!answer.contains("s3cret"), "{answer}");
    assert_eq!(
        server.stats().connections_accepted,
        1,
        "the 401 drained, reused"
    );
    Ok(())
}

#[test]
fn digest_is_chosen_over_basic_and_an_unsupported_digest_falls_back_to_basic() -> TestResult {
    for (digest, expected_scheme) in [
        (DIGEST_CHALLENGE, "Digest "),
        // An algorithm not supported: Basic answers.
        (
            r#"Digest realm="vault", qop="auth", nonce="n0nce", algorithm=SHA-1"#,
            "Basic ",
        ),
    ] {
        let server = TestServer::builder()
            .default_fn(move |request: &RecordedRequest| {
                if digest_answer_ok(request, "alice", "s3cret")
                    || request.header("authorization") == Some(ALICE)
                {
                    Reply::ok().body("in")
                } else {
                    // Basic offered first: the order of the server's offers does not
                    // decide, the strength of the schemes does.
                    Reply::new(401u16)
                        .header("www-authenticate", r#"Basic realm="vault""#)
                        .header("www-authenticate", digest)
                }
            })
            .start()?;
        let client = alice_client(&server, false)?;
        let response = client.get(server.url("/"))?;
        assert_eq!(response.status(), 200, "{digest}");
        let seen = server.requests();
        let answer = seen.get(1).and_then(|r| r.header("authorization"));
        assert!(
            answer.is_some_and(|a| a.starts_with(expected_scheme)),
            "{digest}: {answer:?}"
        );
    }
    Ok(())
}

#[test]
fn auth_int_is_answered_with_the_hash_of_the_body() -> TestResult {
    let server = challenging_until(
        |request| digest_answer_hashing(request, "alice", b"s3cret", "n0nce", "auth-int"),
        r#"Digest realm="vault", qop="auth-int", nonce="n0nce", opaque="0paque""#,
    )?;
    let client = alice_client(&server, false)?;
    let response = client.post(server.url("/upload"), "payload")?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().into_string()?, "payload");
    // The kept session answers the next POST up front, its own body hashed; a GET
    // without a body hashes the empty one.
    let response = client.post(server.url("/upload"), "another")?;
    assert_eq!(response.into_body().into_string()?, "another");
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    let seen = server.requests();
    let answers: Vec<_> = seen
        .iter()
        .map(|r| r.header("authorization").is_some())
        .collect();
    assert_eq!(answers, [false, true, true, true]);
    assert!(
        seen.iter()
            .filter_map(|r| r.header("authorization"))
            .all(|a| a.contains("qop=auth-int")),
    );
    Ok(())
}

/// An empty body that can be sent once only (`Body::sized_reader` over an empty file)
/// has a known hash, the empty one: a kept `auth-int` session answers it up front
/// rather than failing the request for a body it need not read.
#[test]
fn a_kept_auth_int_session_answers_an_empty_one_shot_body_up_front() -> TestResult {
    let server = challenging_until(
        |request| digest_answer_hashing(request, "alice", b"s3cret", "n0nce", "auth-int"),
        r#"Digest realm="vault", qop="auth-int", nonce="n0nce", opaque="0paque""#,
    )?;
    let client = alice_client(&server, false)?;
    assert_eq!(client.post(server.url("/upload"), "payload")?.status(), 200);
    let request =
        Request::put(server.url("/upload")).body(Body::sized_reader(std::io::empty(), 0))?;
    let response = client.execute(request)?;
    assert_eq!(response.status(), 200);
    let seen = server.requests();
    assert_eq!(
        seen.len(),
        3,
        "the challenge, its answer, the empty PUT answered up front"
    );
    assert!(
        seen[2]
            .header("authorization")
            .is_some_and(|a| a.contains("qop=auth-int"))
    );
    Ok(())
}

#[test]
fn a_latin_1_password_is_hashed_in_the_charset_the_challenge_names() -> TestResult {
    for (charset, hashed) in [
        // None named: UTF-8, as Apache HttpClient 5.4+ (5.0 to 5.3: ISO-8859-1).
        ("", "pässword".as_bytes()),
        (", charset=UTF-8", "pässword".as_bytes()),
        (", charset=ISO-8859-1", b"p\xe4ssword".as_slice()),
    ] {
        let challenge =
            format!(r#"Digest realm="vault", qop="auth", nonce="n0nce", opaque="0paque"{charset}"#);
        let server = challenging_until(
            move |request| digest_answer_hashing(request, "alice", hashed, "n0nce", "auth"),
            challenge,
        )?;
        let client = client_with(
            for_server(&server, Credentials::basic("alice", "pässword")),
            false,
        )?;
        assert_eq!(client.get(server.url("/"))?.status(), 200, "{charset}");
        assert_eq!(server.stats().requests_received, 2, "{charset}");
    }
    Ok(())
}

/// A server that wants alice's Digest answer (nonce `n0nce`) and challenges otherwise.
fn digest_server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .default_fn(|request: &RecordedRequest| {
            if digest_answer_ok(request, "alice", "s3cret") {
                Reply::ok().body(format!("in at {}", request.target))
            } else {
                Reply::new(401u16).header("www-authenticate", DIGEST_CHALLENGE)
            }
        })
        .start()
}

#[test]
fn the_digest_uri_is_the_request_target_as_sent() -> TestResult {
    let server = digest_server()?;
    let client = alice_client(&server, false)?;
    // An empty path before a query goes out as `/?x=1`: the answer says the same.
    let url = format!("http://127.0.0.1:{}?x=1", server.port());
    let response = client.get(url.as_str())?;
    assert_eq!(response.status(), 200);
    assert_eq!(response.into_body().into_string()?, "in at /?x=1");

    // Through a forward proxy the target is in absolute-form, and so is `uri`. (The
    // server plays the proxy: it answers what it is sent.)
    let client = Client::builder()
        .proxy(hcx::Proxy::from_url(&server.url(""))?)
        .credentials_provider(BasicCredentialsProvider::new().with(
            AuthScope::new("origin.test", 80),
            Credentials::basic("alice", "s3cret"),
        ))
        .build()?;
    let response = client.get("http://origin.test/x?q=1")?;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.into_body().into_string()?,
        "in at http://origin.test/x?q=1"
    );
    Ok(())
}

#[test]
fn a_stale_nonce_is_answered_once_more_with_the_fresh_one() -> TestResult {
    let server = TestServer::builder()
        .default_fn(|request: &RecordedRequest| {
            if digest_answer_to(request, "alice", "s3cret", "fresh") {
                Reply::ok().body("in")
            } else if digest_answer_to(request, "alice", "s3cret", "n0nce") {
                // The right password with a nonce the server no longer takes.
                Reply::new(401u16).header(
                    "www-authenticate",
                    r#"Digest realm="vault", qop="auth", nonce="fresh", opaque="0paque", stale=true"#,
                )
            } else {
                Reply::new(401u16).header("www-authenticate", DIGEST_CHALLENGE)
            }
        })
        .start()?;
    let client = alice_client(&server, false)?;
    let response = client.get(server.url("/"))?;
    assert_eq!(response.status(), 200);
    assert_eq!(server.stats().requests_received, 3);

    // A wrong password is not answered again: the second 401 (not stale) comes back.
    let client = client_with(
        for_server(&server, Credentials::basic("alice", "wrong")),
        false,
    )?;
    let response = client.get(server.url("/"))?;
    assert_eq!(response.status(), 401);
    assert_eq!(server.stats().requests_received, 5);
    Ok(())
}

#[test]
fn basic_sent_up_front_to_a_digest_server_is_followed_by_the_digest_answer() -> TestResult {
    let server = digest_server()?;
    let client = alice_client(&server, true)?;
    let response = client.get(server.url("/"))?;
    assert_eq!(response.status(), 200);
    let seen = server.requests();
    let schemes: Vec<_> = seen
        .iter()
        .map(|r| r.header("authorization").and_then(|a| a.split(' ').next()))
        .collect();
    assert_eq!(schemes, [Some("Basic"), Some("Digest")]);
    Ok(())
}

/// The `nc` of a request's Digest answer.
fn nonce_count(request: &RecordedRequest) -> Option<String> {
    let params = request.header("authorization").and_then(digest_params)?;
    params
        .into_iter()
        .find(|(name, _)| name == "nc")
        .map(|(_, value)| value)
}

#[test]
fn a_digest_session_answers_the_next_requests_up_front() -> TestResult {
    let server = digest_server()?;
    let client = alice_client(&server, false)?;
    for _ in 0..3 {
        assert_eq!(client.get(server.url("/"))?.status(), 200);
    }
    // One challenge, then every request answered up front with the nonce counted on.
    let seen = server.requests();
    let counts: Vec<_> = seen.iter().map(nonce_count).collect();
    assert_eq!(
        counts,
        [
            None,
            Some("00000001".to_owned()),
            Some("00000002".to_owned()),
            Some("00000003".to_owned())
        ]
    );
    Ok(())
}

#[test]
fn a_session_the_server_no_longer_takes_is_challenged_afresh() -> TestResult {
    // A server that restarted: it refuses the session's answer to its old nonce
    // (n0nce, nc 2) with a plain 401 and a new nonce, answered as a new challenge.
    let server = TestServer::builder()
        .default_fn(|request: &RecordedRequest| {
            let first_use = nonce_count(request).as_deref() == Some("00000001");
            if digest_answer_to(request, "alice", "s3cret", "n1nce")
                || (first_use && digest_answer_ok(request, "alice", "s3cret"))
            {
                Reply::ok().body("in")
            } else if request.header("authorization").is_some() {
                Reply::new(401u16).header(
                    "www-authenticate",
                    r#"Digest realm="vault", qop="auth", nonce="n1nce", opaque="0paque""#,
                )
            } else {
                Reply::new(401u16).header("www-authenticate", DIGEST_CHALLENGE)
            }
        })
        .start()?;
    let client = alice_client(&server, false)?;
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    let counts: Vec<_> = server.requests().iter().map(nonce_count).collect();
    let expected = [
        None,
        Some("00000001"),
        Some("00000002"),
        Some("00000001"),
        Some("00000002"),
    ]
    .map(|c| c.map(str::to_owned));
    // The last is the new nonce's session, answered up front.
    assert_eq!(counts, expected);
    Ok(())
}

#[test]
fn a_session_refused_once_is_forgotten_even_when_basic_then_answers() -> TestResult {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicBool, Ordering};
    // Digest at first; then, from `basic_only` on, Basic only.
    let basic_only = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&basic_only);
    let server = TestServer::builder()
        .default_fn(move |request: &RecordedRequest| {
            let ok = if flag.load(Ordering::SeqCst) {
                request.header("authorization") == Some(ALICE)
            } else {
                digest_answer_ok(request, "alice", "s3cret")
            };
            if ok {
                Reply::ok().body("in")
            } else if flag.load(Ordering::SeqCst) {
                Reply::new(401u16).header("www-authenticate", r#"Basic realm="vault""#)
            } else {
                Reply::new(401u16).header("www-authenticate", DIGEST_CHALLENGE)
            }
        })
        .start()?;
    let client = alice_client(&server, true)?;
    assert_eq!(client.get(server.url("/"))?.status(), 200); // Basic, then Digest
    basic_only.store(true, Ordering::SeqCst);
    assert_eq!(client.get(server.url("/"))?.status(), 200); // the session, then Basic
    assert_eq!(client.get(server.url("/"))?.status(), 200); // Basic up front
    let schemes: Vec<_> = server
        .requests()
        .iter()
        .map(|r| {
            r.header("authorization")
                .and_then(|a| a.split(' ').next())
                .map(str::to_owned)
        })
        .collect();
    let expected = ["Basic", "Digest", "Digest", "Basic", "Basic"].map(|s| Some(s.to_owned()));
    assert_eq!(schemes, expected);
    Ok(())
}

#[test]
fn an_answer_after_a_refused_session_counts_the_nonce_on() -> TestResult {
    use std::sync::Mutex;
    // A server that takes each nonce count once, in order (a replay check), and
    // refuses the first answer made from the session (as if it had raced another).
    let last = Mutex::new(0u32);
    let refused_once = Mutex::new(false);
    let server = TestServer::builder()
        .default_fn(move |request: &RecordedRequest| {
            let nc = nonce_count(request).and_then(|n| u32::from_str_radix(&n, 16).ok());
            if let (true, Some(nc)) = (digest_answer_ok(request, "alice", "s3cret"), nc) {
                let mut refused = refused_once.lock().unwrap_or_else(|e| e.into_inner());
                let mut last = last.lock().unwrap_or_else(|e| e.into_inner());
                if nc == 2 && !*refused {
                    *refused = true;
                    *last = nc;
                } else if nc > *last {
                    *last = nc;
                    return Reply::ok().body("in");
                }
            }
            Reply::new(401u16).header("www-authenticate", DIGEST_CHALLENGE)
        })
        .start()?;
    let client = alice_client(&server, false)?;
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    assert_eq!(client.get(server.url("/"))?.status(), 200);
    let counts: Vec<_> = server.requests().iter().map(nonce_count).collect();
    let expected =
        [None, Some("00000001"), Some("00000002"), Some("00000003")].map(|c| c.map(str::to_owned));
    assert_eq!(
        counts, expected,
        "the answer after the refusal is not a replay"
    );
    Ok(())
}

/// Whether `request` carries a correct MD5 `qop=auth` answer for alice/s3cret to
/// nonce `n0nce` in a realm whose bytes, as the challenge sent them, are `realm`
/// (hashed as they came: the challenge says charset=ISO-8859-1).
fn latin_1_realm_answer_ok(request: &RecordedRequest, realm: &[u8]) -> bool {
    let a1 = [b"alice:".as_slice(), realm, b":s3cret"].concat();
    checked_answer(request, &a1, "n0nce", "auth").is_some()
}

#[test]
fn a_latin_1_realm_is_hashed_as_the_bytes_the_challenge_sent() -> TestResult {
    // `charset=ISO-8859-1` and a realm with `ü` in it, sent as ISO-8859-1 (0xFC), as
    // such a server does; Apache decodes the field as ISO-8859-1 and hashes 0xFC.
    let realm: &'static [u8] = b"B\xfccher";
    let challenge: &'static [u8] =
        b"Digest realm=\"B\xfccher\", qop=\"auth\", nonce=\"n0nce\", charset=ISO-8859-1";
    let server = challenging_until(
        move |request| latin_1_realm_answer_ok(request, realm),
        challenge,
    )?;
    let client = alice_client(&server, false)?;
    let response = client.get(server.url("/"))?;
    let answered = server.requests().len();
    assert_eq!((response.status().as_u16(), answered), (200, 2));
    // The realm goes back in the bytes it came in (0xFC), as Apache writes it, not
    // re-encoded as UTF-8 (0xC3 0xBC): a server comparing realms byte for byte
    // would refuse that.
    let answer = server.requests()[1]
        .headers
        .get("authorization")
        .map(|v| v.as_bytes().to_vec())
        .unwrap_or_default();
    let echoed = b"realm=\"B\xfccher\"";
    assert!(
        answer.windows(echoed.len()).any(|w| w == echoed),
        "{}",
        answer.escape_ascii()
    );
    Ok(())
}

#[test]
fn an_answer_lost_in_flight_is_replayed_as_any_lost_get() -> TestResult {
    // The challenge; its answer, on the same connection, read and dropped without a
    // response (a pooled connection the server let go); then, on a new connection, the
    // challenge and the answer again.
    let challenge = || Reply::new(401u16).header("www-authenticate", r#"Basic realm="test""#);
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [
                challenge(),
                Reply::no_response(),
                challenge(),
                Reply::ok().body("in"),
            ],
        )
        .start()?;
    let client = alice_client(&server, false)?;
    let response = client.get(server.url("/"))?;
    // RETRY judges the attempt by its answer's exchange: the 401 before it was the
    // server's refusal, not a response to the request it now lost.
    assert_eq!(response.into_body().into_string()?, "in");
    assert_eq!(
        authorizations(&server),
        [None, Some(ALICE.to_owned()), None, Some(ALICE.to_owned())]
    );
    let connections: Vec<usize> = server.requests().iter().map(|r| r.connection).collect();
    assert_eq!(connections, [0, 0, 1, 1]);
    Ok(())
}

#[test]
fn a_post_whose_answer_was_written_and_lost_is_not_replayed() -> TestResult {
    let challenge = || Reply::new(401u16).header("www-authenticate", r#"Basic realm="test""#);
    let server = TestServer::builder()
        .route_seq(
            Method::POST,
            "/",
            [challenge(), Reply::no_response(), Reply::ok().body("twice")],
        )
        .start()?;
    let client = alice_client(&server, false)?;
    let request = Request::post(server.url("/")).body(Body::from("order"))?;
    let error = client
        .execute(request)
        .err()
        .ok_or("the lost answer is an error")?;
    assert_eq!(error.kind(), hcx::ErrorKind::ClosedBeforeResponse);
    // The execution's error still says a response (the 401) came.
    assert!(error.is_request_sent() && error.is_response_started());
    assert_eq!(server.stats().requests_received, 2);
    Ok(())
}
