//! The RETRY element end to end: what is replayed, what never is, how `Retry-After` is
//! waited out, and where the element sits in the chain. Attempts are counted on the
//! server side; delays go to a recording sleeper, so nothing sleeps.

mod common;

use std::io::Cursor;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use common::{SAFETY, TestResult, info, route, wait_until_idle_connection_is_stale};
use hcx::chain::{Chain, ChainElement, Context, DefaultRetryStrategy, RetryStrategy, Scope};
use hcx::{Body, Client, ClientBuilder, Error, ErrorKind, RequestProgress, ResponseBody};
use hcx_testserver::{Method, Reply, SilentClose, TestServer};
use http::{Request, Response, StatusCode};

/// The delays the retry layer asked for, in order.
#[derive(Clone, Default)]
struct Delays(Arc<Mutex<Vec<Duration>>>);

impl Delays {
    fn record(&self, delay: Duration) {
        match self.0.lock() {
            Ok(mut delays) => delays.push(delay),
            Err(poisoned) => poisoned.into_inner().push(delay),
        }
    }

    fn taken(&self) -> Vec<Duration> {
        match self.0.lock() {
            Ok(delays) => delays.clone(),
            Err(poisoned) => poisoned.into_inner().clone(),
        }
    }
}

/// A builder whose waits are bounded and whose retry delays are recorded, not slept.
fn builder(delays: &Delays) -> ClientBuilder {
    let delays = delays.clone();
    Client::builder()
        .response_timeout(Some(SAFETY))
        .retry_sleeper(move |delay: Duration| delays.record(delay))
}

fn get(url: &str) -> Result<Request<Body>, http::Error> {
    Request::get(url).body(Body::empty())
}

/// The methods of the requests the server read, in order.
fn methods(server: &TestServer) -> Vec<Method> {
    server.requests().into_iter().map(|r| r.method).collect()
}

/// The connection each request the server read came on, in order.
fn connections(server: &TestServer) -> Vec<usize> {
    server
        .requests()
        .into_iter()
        .map(|r| r.connection)
        .collect()
}

/// `time` as an IMF-fixdate (RFC 9110 §5.6.7), whole seconds.
fn http_date(time: SystemTime) -> String {
    let secs = time.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let (days, of_day) = (secs / 86_400, secs % 86_400);
    // Civil from days (Howard Hinnant's algorithm), for dates after 1970.
    let z = days + 719_468;
    let era = z / 146_097;
    let day_of_era = z % 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let mp = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = year_of_era + era * 400 + u64::from(month <= 2);
    const DAYS: [&str; 7] = ["Thu", "Fri", "Sat", "Sun", "Mon", "Tue", "Wed"];
    const MONTHS: [&str; 12] = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ];
    format!(
        "{}, {day:02} {} {year} {:02}:{:02}:{:02} GMT",
        DAYS[(days % 7) as usize],
        MONTHS[(month - 1) as usize],
        of_day / 3600,
        of_day / 60 % 60,
        of_day % 60,
    )
}

#[test]
fn the_test_s_http_dates_are_imf_fixdates() {
    let example = UNIX_EPOCH + Duration::from_secs(784_111_777);
    assert_eq!(http_date(example), "Sun, 06 Nov 1994 08:49:37 GMT");
    let leap = UNIX_EPOCH + Duration::from_secs(825_552_000);
    assert_eq!(http_date(leap), "Thu, 29 Feb 1996 00:00:00 GMT");
}

// ---------------------------------------------------------------------------------
// Errors: replayed when safe
// ---------------------------------------------------------------------------------

#[test]
fn a_get_dropped_in_flight_on_a_reused_connection_is_retried_once_and_succeeds() -> TestResult {
    // The second request on the first connection is read and answered with a hang-up.
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [
                Reply::ok().body("first"),
                Reply::no_response(),
                Reply::ok().body("second"),
            ],
        )
        .start()?;
    let delays = Delays::default();
    // The stale probe off: the dead connection is really written to.
    let client = builder(&delays).validate_after_inactivity(None).build()?;
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "first"
    );

    let mut context = Context::new();
    let response = client.execute_in(get(&server.url("/"))?, &mut context)?;
    assert!(!info(&response).reused, "the retry leased a new connection");
    assert_eq!(response.into_body().into_string()?, "second");
    assert_eq!(context.attempts(), 2);
    // The server saw the retried GET twice: once on the reused connection, once on a
    // new one.
    assert_eq!(methods(&server), vec![Method::GET; 3]);
    assert_eq!(connections(&server), vec![0, 0, 1]);
    assert_eq!(client.stats().connections_opened, 2);
    assert!(delays.taken().is_empty(), "an error is retried at once");
    Ok(())
}

#[test]
fn a_stale_connection_the_probe_cannot_see_is_replayed_for_a_get() -> TestResult {
    // The server answers, then closes silently and discards what comes next: the
    // request written to the stale connection never reaches a handler.
    let server = TestServer::builder()
        .silent_close_after(1, SilentClose::AfterResponse)
        .linger(SAFETY)
        .start()?;
    let client = builder(&Delays::default())
        .validate_after_inactivity(None)
        .build()?;
    let url = server.url("/");
    client.get(&url)?.into_body().into_vec()?;
    server.wait_for_closed(1, SAFETY)?;
    wait_until_idle_connection_is_stale(&client, &route(&url)?)?;

    let mut context = Context::new();
    let response = client.execute_in(get(&url)?, &mut context)?;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(!info(&response).reused);
    drop(response);
    assert_eq!(context.attempts(), 2);
    assert_eq!(connections(&server), vec![0, 1]);
    assert_eq!(server.stats().connections_accepted, 2);
    Ok(())
}

#[test]
fn with_the_stale_probe_on_a_closed_idle_connection_needs_no_retry() -> TestResult {
    let server = TestServer::builder()
        .silent_close_after(1, SilentClose::AfterResponse)
        .linger(SAFETY)
        .start()?;
    // The default probes every reused connection.
    let client = builder(&Delays::default()).build()?;
    let url = server.url("/");
    client.get(&url)?.into_body().into_vec()?;
    server.wait_for_closed(1, SAFETY)?;
    wait_until_idle_connection_is_stale(&client, &route(&url)?)?;

    let mut context = Context::new();
    let response = client.execute_in(get(&url)?, &mut context)?;
    let info = info(&response);
    assert!(!info.reused && info.stale_discarded == 1, "{info:?}");
    drop(response);
    assert_eq!(context.attempts(), 1);
    assert_eq!(connections(&server), vec![0, 1]);
    Ok(())
}

#[test]
fn a_post_dropped_in_flight_is_not_replayed() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::POST,
            "/",
            [Reply::ok(), Reply::no_response(), Reply::ok()],
        )
        .start()?;
    let client = builder(&Delays::default())
        .validate_after_inactivity(None)
        .build()?;
    client
        .post(server.url("/"), "one")?
        .into_body()
        .into_vec()?;

    let mut context = Context::new();
    let request = Request::post(server.url("/")).body(Body::from("two"))?;
    let error = client
        .execute_in(request, &mut context)
        .err()
        .ok_or("the server hung up on the POST")?;
    assert_eq!(error.kind(), ErrorKind::ClosedBeforeResponse, "{error:?}");
    // All of it was written: the server may have acted on it.
    assert_eq!(error.request_progress(), RequestProgress::Complete);
    assert!(error.is_connection_reused());
    assert_eq!(context.attempts(), 1);
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "the POST was sent exactly once");
    assert_eq!(seen[1].body_text(), "two");
    Ok(())
}

#[test]
fn a_post_with_an_idempotency_key_is_replayed_with_its_body() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::POST,
            "/",
            [Reply::ok(), Reply::no_response(), Reply::ok().body("done")],
        )
        .start()?;
    let client = builder(&Delays::default())
        .validate_after_inactivity(None)
        .build()?;
    client
        .post(server.url("/"), "one")?
        .into_body()
        .into_vec()?;

    let mut context = Context::new();
    let request = Request::post(server.url("/"))
        .header("idempotency-key", "a3f1c2")
        .body(Body::from("two"))?;
    let response = client.execute_in(request, &mut context)?;
    assert_eq!(response.into_body().into_string()?, "done");
    assert_eq!(context.attempts(), 2);
    let seen = server.requests();
    assert_eq!(seen.len(), 3);
    for replayed in &seen[1..] {
        assert_eq!(replayed.body_text(), "two");
        assert_eq!(replayed.header("idempotency-key"), Some("a3f1c2"));
    }
    Ok(())
}

#[test]
fn a_put_with_a_factory_body_is_replayed_on_a_fresh_connection_too() -> TestResult {
    // Rule (b) does not need a reused connection: the first connection is new.
    let server = TestServer::builder()
        .route_seq(Method::PUT, "/", [Reply::no_response(), Reply::ok()])
        .start()?;
    let client = builder(&Delays::default()).build()?;
    let body = Body::from_factory(Some(5), || Ok(Cursor::new(b"hello".to_vec())));
    let mut context = Context::new();
    let request = Request::put(server.url("/")).body(body)?;
    let response = client.execute_in(request, &mut context)?;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(context.attempts(), 2);
    let bodies: Vec<_> = server.requests().iter().map(|r| r.body_text()).collect();
    assert_eq!(bodies, ["hello", "hello"]);
    Ok(())
}

#[test]
fn a_body_that_cannot_be_replayed_is_sent_once_even_for_a_put() -> TestResult {
    let server = TestServer::builder()
        .route_seq(Method::PUT, "/", [Reply::no_response(), Reply::ok()])
        .start()?;
    let client = builder(&Delays::default()).build()?;
    let mut context = Context::new();
    let request = Request::put(server.url("/")).body(Body::reader(Cursor::new(b"once")))?;
    let error = client
        .execute_in(request, &mut context)
        .err()
        .ok_or("the server hung up on the PUT")?;
    assert_eq!(error.kind(), ErrorKind::ClosedBeforeResponse, "{error:?}");
    assert_eq!(context.attempts(), 1);
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Errors: never replayed
// ---------------------------------------------------------------------------------

#[test]
fn a_refused_connect_is_not_retried() -> TestResult {
    let mut server = TestServer::builder().start()?;
    let url = server.url("/");
    server.shutdown(); // nothing listens there any more
    let client = builder(&Delays::default()).build()?;
    let mut context = Context::new();
    let error = client
        .execute_in(get(&url)?, &mut context)
        .err()
        .ok_or("nothing listens there")?;
    assert_eq!(error.kind(), ErrorKind::Connect, "{error:?}");
    assert_eq!(context.attempts(), 1);
    assert_eq!(client.stats().connections_opened, 0);
    assert_eq!(server.stats().connections_accepted, 0);
    Ok(())
}

#[test]
fn a_response_timeout_is_not_retried() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/stall", Reply::stall())
        .start()?;
    let client = builder(&Delays::default())
        .response_timeout(Some(Duration::from_millis(100)))
        .build()?;
    let mut context = Context::new();
    let error = client
        .execute_in(get(&server.url("/stall"))?, &mut context)
        .err()
        .ok_or("the server never answers")?;
    assert_eq!(error.kind(), ErrorKind::ResponseTimeout, "{error:?}");
    assert_eq!(context.attempts(), 1);
    // The server may still be working on it: one request only.
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Responses: 429 and 503
// ---------------------------------------------------------------------------------

#[test]
fn a_503_with_retry_after_seconds_is_retried_after_that_delay() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [
                Reply::new(503u16).header("retry-after", "2").body("busy"),
                Reply::ok().body("ready"),
            ],
        )
        .start()?;
    let delays = Delays::default();
    let client = builder(&delays).build()?;
    let mut context = Context::new();
    let response = client.execute_in(get(&server.url("/"))?, &mut context)?;
    assert_eq!(response.into_body().into_string()?, "ready");
    assert_eq!(delays.taken(), [Duration::from_secs(2)]);
    assert_eq!(context.attempts(), 2);
    assert_eq!(server.stats().requests_received, 2);
    // The 503's body was drained: both requests went over one connection.
    assert_eq!(connections(&server), vec![0, 0]);
    Ok(())
}

/// The body of a retry is copied once the response says there is one: the second
/// attempt after a `503` carries the body again (as the one after an I/O error does,
/// above).
#[test]
fn a_put_retried_after_a_503_sends_its_body_again() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::PUT,
            "/",
            [
                Reply::new(503u16).header("retry-after", "0").body("busy"),
                Reply::ok().body("stored"),
            ],
        )
        .start()?;
    let client = builder(&Delays::default()).build()?;
    let mut context = Context::new();
    let request = Request::put(server.url("/")).body(Body::from("again"))?;
    let response = client.execute_in(request, &mut context)?;
    assert_eq!(response.into_body().into_string()?, "stored");
    assert_eq!(context.attempts(), 2);
    let bodies: Vec<_> = server.requests().iter().map(|r| r.body_text()).collect();
    assert_eq!(bodies, ["again", "again"]);
    Ok(())
}

#[test]
fn a_429_with_an_http_date_is_retried_when_that_date_comes() -> TestResult {
    let when = http_date(SystemTime::now() + Duration::from_secs(8));
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [
                Reply::new(429u16).header("retry-after", when.as_str()),
                Reply::ok(),
            ],
        )
        .start()?;
    let delays = Delays::default();
    let client = builder(&delays).build()?;
    let response = client.get(server.url("/"))?;
    assert_eq!(response.status(), StatusCode::OK);
    let taken = delays.taken();
    // Whole seconds on the wire, and the clock moved on since: a little under 8 s
    // (within the response timeout, SAFETY).
    assert!(
        taken.len() == 1 && taken[0] > Duration::from_secs(3) && taken[0] <= Duration::from_secs(8),
        "{when}: {taken:?}"
    );
    assert_eq!(server.stats().requests_received, 2);
    Ok(())
}

#[test]
fn a_retry_after_date_already_past_waits_the_default_interval() -> TestResult {
    let past = http_date(SystemTime::now() - Duration::from_secs(3600));
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [
                Reply::new(429u16).header("retry-after", past.as_str()),
                Reply::ok(),
            ],
        )
        .start()?;
    let delays = Delays::default();
    let client = builder(&delays).build()?;
    assert_eq!(client.get(server.url("/"))?.status(), StatusCode::OK);
    assert_eq!(delays.taken(), [Duration::from_secs(1)]);
    Ok(())
}

#[test]
fn a_retry_after_beyond_the_cap_returns_the_response_as_it_is() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [
                Reply::new(503u16).header("retry-after", "60").body("later"),
                Reply::ok(),
            ],
        )
        .start()?;
    let delays = Delays::default();
    let client = builder(&delays).build()?;
    let mut context = Context::new();
    let response = client.execute_in(get(&server.url("/"))?, &mut context)?;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.headers()["retry-after"], "60");
    assert_eq!(response.into_body().into_string()?, "later");
    assert!(delays.taken().is_empty());
    assert_eq!(context.attempts(), 1);
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}

/// Apache 5.2+ (`DefaultHttpRequestRetryStrategy.retryRequest`): a retry interval
/// longer than the request's response timeout is not waited for; the response is
/// returned at once. The response timeout in force counts: the request's own, else
/// the client's.
#[test]
fn a_retry_after_beyond_the_response_timeout_returns_the_response_at_once() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::new(503u16).header("retry-after", "5").body("later"))
        .start()?;
    let delays = Delays::default();
    let one_second = Some(Duration::from_secs(1));
    let client = builder(&delays).response_timeout(one_second).build()?;
    let patient = builder(&delays).build()?;
    let mut own = get(&server.url("/"))?;
    own.extensions_mut()
        .insert(hcx::RequestConfig::default().with_response_timeout(one_second));
    for (client, request) in [(&client, get(&server.url("/"))?), (&patient, own)] {
        let mut context = Context::new();
        let response = client.execute_in(request, &mut context)?;
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.into_body().into_string()?, "later");
        assert!(delays.taken().is_empty(), "nothing was waited for");
        assert_eq!(context.attempts(), 1);
        assert_eq!(client.stats().pool.leased, 0);
    }
    assert_eq!(server.stats().requests_received, 2);
    // Within the response timeout, the wait is taken.
    let retried = patient.get(server.url("/"))?;
    assert_eq!(retried.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(delays.taken(), [Duration::from_secs(5)]);
    Ok(())
}

#[test]
fn a_503_without_retry_after_waits_the_default_interval() -> TestResult {
    let server = TestServer::builder()
        .route_seq(Method::GET, "/", [Reply::new(503u16), Reply::ok()])
        .start()?;
    let delays = Delays::default();
    let client = builder(&delays).build()?;
    assert_eq!(client.get(server.url("/"))?.status(), StatusCode::OK);
    assert_eq!(delays.taken(), [Duration::from_secs(1)]);
    assert_eq!(server.stats().requests_received, 2);
    Ok(())
}

#[test]
fn max_retries_is_honoured() -> TestResult {
    let replies = || {
        [
            Reply::new(503u16).body("1"),
            Reply::new(503u16).body("2"),
            Reply::new(503u16).body("3"),
            Reply::ok().body("ok"),
        ]
    };
    // The default: one retry, then the second 503 is the answer.
    let server = TestServer::builder()
        .route_seq(Method::GET, "/", replies())
        .start()?;
    let delays = Delays::default();
    let client = builder(&delays).build()?;
    let mut context = Context::new();
    let response = client.execute_in(get(&server.url("/"))?, &mut context)?;
    assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert_eq!(response.into_body().into_string()?, "2");
    assert_eq!(context.attempts(), 2);
    assert_eq!(server.stats().requests_received, 2);
    assert_eq!(delays.taken(), [Duration::from_secs(1)]);

    // Three retries reach the 200.
    let server = TestServer::builder()
        .route_seq(Method::GET, "/", replies())
        .start()?;
    let delays = Delays::default();
    let client = builder(&delays)
        .retry_strategy(
            DefaultRetryStrategy::new()
                .with_max_retries(3)
                .with_default_interval(Duration::from_millis(250)),
        )
        .build()?;
    let mut context = Context::new();
    let response = client.execute_in(get(&server.url("/"))?, &mut context)?;
    assert_eq!(response.into_body().into_string()?, "ok");
    assert_eq!(context.attempts(), 4);
    assert_eq!(server.stats().requests_received, 4);
    assert_eq!(delays.taken(), [Duration::from_millis(250); 3]);
    Ok(())
}

#[test]
fn a_503_to_a_post_is_retried_with_the_same_body() -> TestResult {
    // The server says it did not act on the request, so the method does not matter
    // (as in Apache).
    let server = TestServer::builder()
        .route_seq(
            Method::POST,
            "/",
            [Reply::new(503u16).header("retry-after", "0"), Reply::ok()],
        )
        .start()?;
    let delays = Delays::default();
    let client = builder(&delays).build()?;
    assert_eq!(
        client.post(server.url("/"), "order")?.status(),
        StatusCode::OK
    );
    // `Retry-After: 0` asks for no wait: the default interval holds, as in Apache.
    assert_eq!(delays.taken(), [Duration::from_secs(1)]);
    let bodies: Vec<_> = server.requests().iter().map(|r| r.body_text()).collect();
    assert_eq!(bodies, ["order", "order"]);
    Ok(())
}

/// The encoder leaves `Expect: 100-continue` out of an HTTP/1.0 request (RFC 9110
/// §10.1.1: its server must ignore it) and sends the body at once: a 417 to it is about
/// something else, and repeating it would send the POST, body and all, a second time.
#[test]
fn a_417_to_an_http_1_0_request_is_not_repeated() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::new(417u16))
        .start()?;
    let client = builder(&Delays::default()).build()?;
    let mut context = Context::new();
    let request = Request::post(server.url("/orders"))
        .version(http::Version::HTTP_10)
        .header("expect", "100-continue")
        .body(Body::from("order"))?;
    let response = client.execute_in(request, &mut context)?;
    assert_eq!(response.status(), StatusCode::EXPECTATION_FAILED);
    assert_eq!(context.attempts(), 1);
    assert_eq!(methods(&server), [Method::POST]);
    Ok(())
}

// ---------------------------------------------------------------------------------
// Configuration and the chain
// ---------------------------------------------------------------------------------

#[test]
fn disable_automatic_retries_removes_retry_from_the_chain() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::GET,
            "/",
            [Reply::ok(), Reply::no_response(), Reply::ok()],
        )
        .start()?;
    let client = builder(&Delays::default())
        .validate_after_inactivity(None)
        .disable_automatic_retries()
        .retry_strategy(DefaultRetryStrategy::new()) // does not turn it back on
        .build()?;
    let chain = format!("{client:?}");
    assert!(!chain.contains("RETRY"), "{chain}");
    client.get(server.url("/"))?.into_body().into_vec()?;
    let error = client
        .get(server.url("/"))
        .err()
        .ok_or("the server hung up and nothing retries")?;
    assert_eq!(error.kind(), ErrorKind::ClosedBeforeResponse, "{error:?}");
    assert_eq!(server.stats().requests_received, 2);

    // Handlers placed relative to RETRY have nowhere to go.
    let placed = Client::builder()
        .disable_automatic_retries()
        .add_handler_after(
            ChainElement::Retry,
            "after",
            |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                chain.proceed(request, scope)
            },
        )
        .build();
    assert!(placed.is_err_and(|e| e.kind() == ErrorKind::Config));
    Ok(())
}

#[test]
fn a_handler_after_retry_sees_every_attempt_one_before_sees_the_request_once() -> TestResult {
    let server = TestServer::builder()
        .route_seq(Method::GET, "/", [Reply::no_response(), Reply::ok()])
        .start()?;
    let before = Arc::new(AtomicU32::new(0));
    let after = Arc::new(Mutex::new(Vec::new()));
    let (b, a) = (Arc::clone(&before), Arc::clone(&after));
    let client = builder(&Delays::default())
        .add_handler_before(
            ChainElement::Retry,
            "before",
            move |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                b.fetch_add(1, Ordering::Relaxed);
                chain.proceed(request, scope)
            },
        )
        .add_handler_after(
            ChainElement::Retry,
            "after",
            move |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
                // Which attempt this is, as RETRY recorded it.
                if let Ok(mut seen) = a.lock() {
                    seen.push(scope.context.attempts());
                }
                chain.proceed(request, scope)
            },
        )
        .build()?;
    assert!(format!("{client:?}").contains("before, RETRY, after"));
    assert_eq!(client.get(server.url("/"))?.status(), StatusCode::OK);
    assert_eq!(before.load(Ordering::Relaxed), 1);
    let seen = after.lock().map(|s| s.clone()).map_err(|_| "poisoned")?;
    assert_eq!(seen, [1, 2]);
    assert_eq!(server.stats().requests_received, 2);
    Ok(())
}

/// Retries a `500` once, without delay, and records what it was asked.
#[derive(Default)]
struct RetryServerErrors {
    asked: Mutex<Vec<(Method, u32)>>,
}

impl RetryStrategy for RetryServerErrors {
    fn retry_on_error(&self, _: &Request<()>, _: &Error, _: u32, _: &Context) -> bool {
        false
    }

    fn retry_on_response(
        &self,
        request: &Request<()>,
        response: &Response<ResponseBody>,
        attempt: u32,
        _: &Context,
    ) -> Option<Duration> {
        if let Ok(mut asked) = self.asked.lock() {
            asked.push((request.method().clone(), attempt));
        }
        (response.status().is_server_error() && attempt == 1).then_some(Duration::ZERO)
    }
}

#[test]
fn a_strategy_of_your_own_decides_with_the_request_head_and_the_attempt() -> TestResult {
    let server = TestServer::builder()
        .route_seq(
            Method::DELETE,
            "/",
            [Reply::new(500u16), Reply::new(500u16), Reply::ok()],
        )
        .start()?;
    let strategy = Arc::new(RetryServerErrors::default());
    let client = builder(&Delays::default())
        .retry_strategy(Arc::clone(&strategy))
        .build()?;
    let response = client.delete(server.url("/"))?;
    assert_eq!(response.status(), StatusCode::INTERNAL_SERVER_ERROR);
    let asked = strategy
        .asked
        .lock()
        .map(|a| a.clone())
        .map_err(|_| "poisoned")?;
    assert_eq!(asked, [(Method::DELETE, 1), (Method::DELETE, 2)]);
    assert_eq!(server.stats().requests_received, 2);
    Ok(())
}
