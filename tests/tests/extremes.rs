//! Every knob at its extremes: `Duration::ZERO`, `Duration::MAX`, 0, 1, `usize::MAX`,
//! `None`. A request either completes or fails with a typed error; never a panic.

mod common;

use std::time::Duration;

use common::{SAFETY, TestResult};
use hcx::chain::{DecompressionLimits, DefaultRetryStrategy};
use hcx::http::Method;
use hcx::{Client, ClientBuilder, LearnSettings, Limits, RequestConfig, SocketConfig};
use hcx_testserver::{Reply, TestServer};

fn server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("ok"))
        .route(
            Method::GET,
            "/ka",
            Reply::ok()
                .header("keep-alive", "timeout=18446744073709551615, max=0")
                .body("ok"),
        )
        .route(
            Method::GET,
            "/ka2",
            Reply::ok()
                .header("keep-alive", "timeout=99999999999999999999999")
                .body("ok"),
        )
        .start()
}

/// Builds, runs two GETs (the second on the pooled connection), reports panics.
fn run(name: &str, builder: impl FnOnce() -> ClientBuilder, path: &str) -> TestResult {
    let server = server()?;
    let url = server.url(path);
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| -> TestResult {
        let client: Client = match builder().build() {
            Ok(c) => c,
            Err(e) => {
                eprintln!("{name}: build refused: {e} ({:?})", e.kind());
                return Ok(());
            }
        };
        for _ in 0..2 {
            match client.get(&url) {
                Ok(r) => {
                    let body = r.into_body().into_string()?;
                    assert_eq!(body, "ok", "{name}");
                }
                Err(e) => {
                    return Err(format!("{name}: request failed: {e} ({:?})", e.kind()).into());
                }
            }
        }
        Ok(())
    }));
    match outcome {
        Ok(r) => r,
        Err(_) => Err(format!("{name}: panicked").into()),
    }
}

fn base() -> ClientBuilder {
    Client::builder().response_timeout(Some(SAFETY))
}

macro_rules! knob {
    ($name:ident, $path:expr, $b:expr) => {
        #[test]
        fn $name() -> TestResult {
            run(stringify!($name), $b, $path)
        }
    };
}

const MAX: Duration = Duration::MAX;
const HUGE: Duration = Duration::from_secs(u64::MAX);

knob!(response_timeout_max, "/", || Client::builder()
    .response_timeout(Some(MAX)));
knob!(response_timeout_none, "/", || Client::builder()
    .response_timeout(None));
knob!(response_timeout_nano, "/", || Client::builder()
    .response_timeout(Some(Duration::from_nanos(1))));
knob!(socket_timeout_max, "/", || Client::builder()
    .socket_timeout(Some(MAX)));
knob!(socket_timeout_huge, "/", || Client::builder()
    .socket_timeout(Some(HUGE)));
knob!(connect_timeout_max, "/", || base().connect_timeout(MAX));
/// A connect timeout of a nanosecond is spent before the connect: a typed timeout.
#[test]
fn connect_timeout_nano_is_a_connect_timeout() -> TestResult {
    let server = server()?;
    let client = base().connect_timeout(Duration::from_nanos(1)).build()?;
    let error = client
        .get(server.url("/"))
        .err()
        .ok_or("connected in 1ns")?;
    assert_eq!(error.kind(), hcx::ErrorKind::ConnectTimeout, "{error}");
    Ok(())
}
knob!(conn_request_timeout_max, "/", || base()
    .connection_request_timeout(MAX));
knob!(conn_request_timeout_zero, "/", || base()
    .connection_request_timeout(Duration::ZERO));
knob!(ttl_max, "/", || base().time_to_live(Some(MAX)));
knob!(ttl_nano, "/", || base()
    .time_to_live(Some(Duration::from_nanos(1))));
knob!(validate_max, "/", || base()
    .validate_after_inactivity(Some(MAX)));
knob!(validate_zero, "/", || base()
    .validate_after_inactivity(Some(Duration::ZERO)));
knob!(margin_max, "/", || base().keep_alive_margin(MAX));
knob!(margin_zero, "/", || base()
    .keep_alive_margin(Duration::ZERO));
knob!(default_ka_max, "/", || base().default_keep_alive(MAX));
knob!(default_ka_zero, "/", || base()
    .default_keep_alive(Duration::ZERO));
knob!(default_ka_max_margin_max, "/", || base()
    .default_keep_alive(MAX)
    .keep_alive_margin(MAX));
knob!(ka_header_huge, "/ka", base);
knob!(ka_header_huge2, "/ka2", base);
knob!(ka_header_huge_margin0, "/ka2", || base()
    .keep_alive_margin(Duration::ZERO));
knob!(evict_max, "/", || base().evict_idle_connections(MAX));
knob!(evict_huge, "/", || base().evict_idle_connections(HUGE));
knob!(evict_nano, "/", || base()
    .evict_idle_connections(Duration::from_nanos(1)));
knob!(evict_expired_ttl_max, "/", || base()
    .evict_expired_connections()
    .time_to_live(Some(MAX)));
knob!(evict_expired_ka_max, "/ka2", || base()
    .evict_expired_connections());
knob!(evict_expired_default_ka_max, "/", || base()
    .evict_expired_connections()
    .default_keep_alive(MAX)
    .keep_alive_margin(Duration::ZERO));
knob!(max_total_max, "/", || base()
    .max_total(usize::MAX)
    .max_per_route(usize::MAX));
knob!(max_total_one, "/", || base().max_total(1).max_per_route(1));
knob!(limits_max, "/", || base().limits(
    Limits::default()
        .with_max_head_bytes(usize::MAX)
        .with_max_headers(usize::MAX)
        .with_max_informational(usize::MAX)
));
knob!(limits_zero_headers, "/", || base().limits(
    Limits::default()
        .with_max_headers(0)
        .with_max_informational(0)
));
knob!(learn_max, "/", || base()
    .idle_limit_settings(learn(MAX, usize::MAX)));
knob!(learn_zero, "/", || base()
    .idle_limit_settings(learn(Duration::ZERO, 0)));
knob!(socket_bufs_max, "/", || base().socket_config(
    SocketConfig::default()
        .with_send_buffer_size(Some(usize::MAX))
        .with_recv_buffer_size(Some(usize::MAX))
));
knob!(socket_bufs_zero, "/", || base().socket_config(
    SocketConfig::default()
        .with_send_buffer_size(Some(0))
        .with_recv_buffer_size(Some(0))
));
knob!(linger_max, "/", || base()
    .socket_config(SocketConfig::default().with_linger(Some(MAX))));
knob!(decomp_zero, "/", || base().decompression_limits(
    DecompressionLimits::default()
        .with_max_decoded_bytes(Some(0))
        .with_max_ratio(Some(0))
        .with_ratio_threshold(0)
));
knob!(retry_max, "/", || base().retry_strategy(
    DefaultRetryStrategy::new()
        .with_max_retries(u32::MAX)
        .with_default_interval(MAX)
        .with_max_retry_after(MAX)
));
knob!(req_config_extremes, "/", || base().request_config(
    RequestConfig::default()
        .with_expect_continue_timeout(MAX)
        .with_drain(u64::MAX, MAX)
        .with_max_redirects(u32::MAX)
        .with_connection_request_timeout(MAX)
        .with_connect_timeout(MAX)
        .with_response_timeout(MAX)
));
knob!(req_config_zero, "/", || base().request_config(
    RequestConfig::default()
        .with_expect_continue_timeout(Duration::ZERO)
        .with_drain(0, Duration::ZERO)
        .with_max_redirects(0)
));

fn learn(d: Duration, routes: usize) -> LearnSettings {
    let mut s = LearnSettings::default();
    s.min_idle = d;
    s.probe_interval = d;
    s.max_probe_interval = d;
    s.probe_timeout = d;
    s.max_routes = routes;
    s
}

fn expect_server(mode: hcx_testserver::ExpectContinue) -> std::io::Result<TestServer> {
    TestServer::builder()
        .expect_continue(mode)
        .route(Method::POST, "/", Reply::ok().body("ok"))
        .start()
}

fn post_expect(client: &Client, url: &str) -> TestResult {
    let request = hcx::http::Request::post(url)
        .header("expect", "100-continue")
        .body(hcx::Body::from("hello"))?;
    let body = client.execute(request)?.into_body().into_string()?;
    assert_eq!(body, "ok");
    Ok(())
}

#[test]
fn expect_continue_timeouts_zero_and_max() -> TestResult {
    use hcx_testserver::ExpectContinue::{Continue, Ignore};
    let cases = [
        (Continue, Duration::ZERO),
        (Continue, MAX),
        (Continue, HUGE),
        (Ignore, Duration::ZERO),
        (Ignore, Duration::from_nanos(1)),
    ];
    for (mode, t) in cases {
        let server = expect_server(mode)?;
        let client = base()
            .request_config(RequestConfig::default().with_expect_continue_timeout(t))
            .build()?;
        post_expect(&client, &server.url("/")).map_err(|e| format!("{mode:?} {t:?}: {e}"))?;
    }
    Ok(())
}

/// A `Retry-After` too long for `max_retry_after` (huge numbers, far dates) returns the
/// response without waiting; one already past waits the default interval.
#[test]
fn retry_after_extremes() -> TestResult {
    let cases = [
        ("99999999999999999999", false),
        ("18446744073709551615", false),
        ("Fri, 31 Dec 9999 23:59:59 GMT", false),
        ("Thu, 01 Jan 1970 00:00:00 GMT", true),
        ("Sun Nov  6 08:49:37 1994", true),
        ("0", true),
    ];
    for (value, waits_default) in cases {
        let server = TestServer::builder()
            .route(
                Method::GET,
                "/",
                Reply::new(503u16).header("retry-after", value).body("busy"),
            )
            .start()?;
        let waits = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let w = waits.clone();
        let client = Client::builder()
            .socket_timeout(None)
            .retry_strategy(
                DefaultRetryStrategy::new()
                    .with_max_retries(1)
                    .with_max_retry_after(Duration::from_secs(1))
                    .with_default_interval(MAX),
            )
            .retry_sleeper(move |d: Duration| w.lock().unwrap().push(d))
            .build()?;
        assert_eq!(client.get(server.url("/"))?.status(), 503, "{value}");
        let expected = if waits_default { vec![MAX] } else { vec![] };
        assert_eq!(*waits.lock().unwrap(), expected, "{value}");
    }
    Ok(())
}

#[test]
fn drain_extremes() -> TestResult {
    for (limit, t) in [
        (0, Duration::ZERO),
        (u64::MAX, MAX),
        (1, Duration::from_nanos(1)),
        (u64::MAX, Duration::ZERO),
        (0, MAX),
    ] {
        let server = TestServer::builder()
            .route(Method::GET, "/", Reply::ok().generated_body(100_000))
            .route(
                Method::GET,
                "/c",
                Reply::ok().generated_body(100_000).chunked(),
            )
            .start()?;
        let client = base()
            .request_config(RequestConfig::default().with_drain(limit, t))
            .build()?;
        for path in ["/", "/c", "/", "/c"] {
            let mut r = client.get(server.url(path))?;
            let mut b = [0u8; 10];
            std::io::Read::read(r.body_mut(), &mut b)?;
            drop(r);
        }
    }
    Ok(())
}

#[test]
fn redirect_extremes() -> TestResult {
    for (max, says) in [(0u32, "too many"), (1, "too many"), (u32::MAX, "circular")] {
        let server = TestServer::builder()
            .route(
                Method::GET,
                "/a",
                Reply::new(302u16).header("location", "/b"),
            )
            .route(
                Method::GET,
                "/b",
                Reply::new(302u16).header("location", "/a"),
            )
            .start()?;
        let client = base()
            .request_config(RequestConfig::default().with_max_redirects(max))
            .build()?;
        let error = client
            .get(server.url("/a"))
            .err()
            .ok_or("a redirect loop succeeded")?;
        assert_eq!(error.kind(), hcx::ErrorKind::Redirect, "{error}");
        assert!(error.to_string().contains(says), "{max}: {error}");
    }
    Ok(())
}
