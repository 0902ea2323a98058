//! The BACK_OFF element end to end: a route's connection limit halves when its server
//! answers `503` or cannot be reached, grows back one by one as requests succeed, at
//! most once per cool-down on the manager's clock (a manual one here: nothing sleeps).

mod common;

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use common::{SAFETY, TestResult, route};
use hcx::chain::{
    AimdBackoffManager, BackoffManager, ConnectionBackoffStrategy, DefaultBackoffStrategy,
};
use hcx::{
    Client, ClientBuilder, CloseReason, ConnectionRef, Error, ErrorKind, EventListener,
    ManualClock, PoolingConnectionManager, ResponseBody, Route,
};
use hcx_testserver::{Method, Reply, TestServer};
use http::Response;

const COOL_DOWN: Duration = Duration::from_secs(5);

/// A client with a limit of 8 per route, on a manager with a manual clock, backing off
/// with the AIMD manager; RETRY off unless `builder` says otherwise.
fn backing_off(
    clock: &ManualClock,
    builder: impl FnOnce(ClientBuilder) -> ClientBuilder,
) -> Result<Client, Error> {
    let manager = PoolingConnectionManager::builder()
        .max_per_route(8)
        .clock(clock.clone())
        .build()?;
    builder(
        Client::builder()
            .connection_manager(manager)
            .response_timeout(Some(SAFETY))
            .backoff_manager(AimdBackoffManager::new()),
    )
    .build()
}

fn limit(client: &Client, url: &str) -> Result<usize, Box<dyn std::error::Error>> {
    Ok(client
        .connection_manager()
        .pool()
        .max_per_route(&route(url)?))
}

/// Sends a GET and reads its body: the status.
fn get(client: &Client, url: &str) -> Result<u16, Error> {
    let response = client.get(url)?;
    let status = response.status().as_u16();
    response.into_body().into_vec()?;
    Ok(status)
}

#[test]
fn a_503_halves_the_limit_and_successes_grow_it_back_once_per_cool_down() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/busy", Reply::new(503u16))
        .start()?;
    let clock = ManualClock::new();
    let client = backing_off(&clock, |b| b.disable_automatic_retries())?;
    let (busy, fine) = (server.url("/busy"), server.url("/fine"));

    // Successes at the configured limit leave it there.
    assert_eq!(get(&client, &fine)?, 200);
    assert_eq!(limit(&client, &fine)?, 8);

    assert_eq!(get(&client, &busy)?, 503);
    assert_eq!(limit(&client, &fine)?, 4, "halved");
    // Within the cool-down: neither another 503 nor a success changes it.
    assert_eq!(get(&client, &busy)?, 503);
    assert_eq!(get(&client, &fine)?, 200);
    assert_eq!(limit(&client, &fine)?, 4);

    clock.advance(COOL_DOWN);
    assert_eq!(get(&client, &busy)?, 503);
    assert_eq!(limit(&client, &fine)?, 2, "halved again once cooled down");

    // Back up by one per cool-down, to the limit the route started with, no further.
    let mut grown = Vec::new();
    for _ in 0..8 {
        clock.advance(COOL_DOWN);
        assert_eq!(get(&client, &fine)?, 200);
        assert_eq!(
            get(&client, &fine)?,
            200,
            "a second success in the cool-down"
        );
        grown.push(limit(&client, &fine)?);
    }
    assert_eq!(grown, [3, 4, 5, 6, 7, 8, 8, 8]);
    Ok(())
}

#[test]
fn a_route_that_refuses_connections_backs_off_and_others_do_not() -> TestResult {
    let server = TestServer::builder().start()?;
    let refused = {
        let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
        format!("http://127.0.0.1:{}/", listener.local_addr()?.port())
    };
    let clock = ManualClock::new();
    let client = backing_off(&clock, |b| b.disable_automatic_retries())?;
    let error = client.get(&refused).err().ok_or("nothing listens there")?;
    assert_eq!(error.kind(), ErrorKind::Connect);
    assert_eq!(limit(&client, &refused)?, 4);
    assert_eq!(get(&client, &server.url("/"))?, 200);
    assert_eq!(
        limit(&client, &server.url("/"))?,
        8,
        "another route's limit"
    );
    Ok(())
}

/// BACK_OFF judges a hop once RETRY has made its attempts: a `503` that a retry turned
/// into a `200` is a success.
#[test]
fn the_element_judges_what_retry_made_of_the_hop() -> TestResult {
    let server = TestServer::builder()
        .route_seq(Method::GET, "/", [Reply::new(503u16), Reply::new(200u16)])
        .start()?;
    let clock = ManualClock::new();
    let client = backing_off(&clock, |b| b.retry_sleeper(|_: Duration| {}))?;
    assert_eq!(get(&client, &server.url("/"))?, 200);
    assert_eq!(server.stats().requests_received, 2, "retried once");
    assert_eq!(limit(&client, &server.url("/"))?, 8);
    let chain = format!("{client:?}");
    assert!(
        chain.contains("REDIRECT, BACK_OFF, COMPRESS, RETRY"),
        "{chain}"
    );
    Ok(())
}

/// A redirect's hops signal their own routes: the one that answered `503` backs off,
/// not the one that redirected to it.
#[test]
fn each_hop_of_a_redirect_signals_its_own_route() -> TestResult {
    let busy = TestServer::builder()
        .default_reply(Reply::new(503u16))
        .start()?;
    let redirecting = TestServer::builder()
        .default_reply(Reply::new(302u16).header("Location", busy.url("/")))
        .start()?;
    let clock = ManualClock::new();
    let client = backing_off(&clock, |b| b.disable_automatic_retries())?;
    assert_eq!(get(&client, &redirecting.url("/"))?, 503);
    assert_eq!(limit(&client, &busy.url("/"))?, 4);
    assert_eq!(limit(&client, &redirecting.url("/"))?, 8);
    Ok(())
}

/// A strategy of the caller's decides; a cap of the caller's bounds the growth.
#[test]
fn a_strategy_and_a_cap_of_the_caller_s_are_used() -> TestResult {
    struct On500;
    impl ConnectionBackoffStrategy for On500 {
        fn should_back_off_after(&self, _: &Error) -> bool {
            false
        }
        fn should_back_off(&self, response: &Response<ResponseBody>) -> bool {
            response.status() == 500
        }
    }
    let server = TestServer::builder()
        .route(Method::GET, "/broken", Reply::new(500u16))
        .route(Method::GET, "/busy", Reply::new(503u16))
        .start()?;
    let clock = ManualClock::new();
    let manager = AimdBackoffManager::new()
        .with_backoff_factor(0.25)?
        .with_per_host_connection_cap(3);
    let client = backing_off(&clock, |b| {
        b.disable_automatic_retries()
            .connection_backoff_strategy(On500)
            .backoff_manager(Arc::new(manager))
    })?;
    let fine = server.url("/");
    assert_eq!(get(&client, &server.url("/busy"))?, 503);
    assert_eq!(
        limit(&client, &fine)?,
        8,
        "a 503 is not this strategy's sign"
    );
    assert_eq!(get(&client, &server.url("/broken"))?, 500);
    assert_eq!(limit(&client, &fine)?, 2, "8 x 0.25");
    for _ in 0..3 {
        clock.advance(COOL_DOWN);
        assert_eq!(get(&client, &fine)?, 200);
    }
    assert_eq!(limit(&client, &fine)?, 3, "the cap");
    Ok(())
}

#[test]
fn settings_that_cannot_work_are_config_errors() {
    let error = Client::builder()
        .connection_backoff_strategy(DefaultBackoffStrategy)
        .build()
        .err();
    assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Config));
    for factor in [0.0, 1.0, -0.5, f64::NAN] {
        let error = AimdBackoffManager::new().with_backoff_factor(factor).err();
        assert_eq!(error.map(|e| e.kind()), Some(ErrorKind::Config), "{factor}");
    }
}

/// A route the user blocked (a limit of 0: its requests wait) stays blocked: a
/// back-off shrinks a limit and a probe grows one the manager shrank, neither opens a
/// route that was closed on purpose.
#[test]
fn a_route_blocked_by_the_user_stays_blocked() -> TestResult {
    let server = TestServer::builder().start()?;
    let clock = ManualClock::new();
    let aimd = Arc::new(AimdBackoffManager::new());
    let client = backing_off(&clock, |b| {
        b.disable_automatic_retries()
            .backoff_manager(Arc::clone(&aimd))
    })?;
    let url = server.url("/");
    // The manager meets the route at its limit of 8.
    assert_eq!(get(&client, &url)?, 200);
    let pool = client.connection_manager().pool();
    pool.set_max_per_route(&route(&url)?, Some(0));
    clock.advance(COOL_DOWN);
    // What a request in flight when the route was blocked reports as it ends.
    aimd.back_off(&route(&url)?, client.connection_manager());
    assert_eq!(limit(&client, &url)?, 0, "a back-off raised the limit");
    clock.advance(COOL_DOWN);
    aimd.probe(&route(&url)?, client.connection_manager());
    assert_eq!(limit(&client, &url)?, 0, "a probe opened the route");

    // A route the manager first meets blocked: once opened, its cap is its limit then.
    let other = TestServer::builder().start()?;
    let other_url = other.url("/");
    pool.set_max_per_route(&route(&other_url)?, Some(0));
    aimd.back_off(&route(&other_url)?, client.connection_manager());
    pool.set_max_per_route(&route(&other_url)?, None);
    clock.advance(COOL_DOWN);
    aimd.back_off(&route(&other_url)?, client.connection_manager());
    assert_eq!(limit(&client, &other_url)?, 4);
    clock.advance(COOL_DOWN);
    assert_eq!(get(&client, &other_url)?, 200);
    assert_eq!(
        limit(&client, &other_url)?,
        5,
        "capped at 0, the limit it was first met with"
    );
    Ok(())
}

/// One manager shared by two clients (an `Arc` of it given to each) keeps each
/// client's routes apart: a route's cap is the limit that client's pool gave it, and
/// one client's back-off does not hold back the other's probes.
#[test]
fn a_manager_shared_by_two_clients_keeps_their_routes_apart() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/busy", Reply::new(503u16))
        .start()?;
    let aimd = Arc::new(AimdBackoffManager::new());
    let with_limit = |clock: &ManualClock, max: usize| -> Result<Client, Error> {
        let manager = PoolingConnectionManager::builder()
            .max_per_route(max)
            .clock(clock.clone())
            .build()?;
        Client::builder()
            .connection_manager(manager)
            .response_timeout(Some(SAFETY))
            .disable_automatic_retries()
            .backoff_manager(Arc::clone(&aimd))
            .build()
    };
    let (clock_wide, clock_narrow) = (ManualClock::new(), ManualClock::new());
    let wide = with_limit(&clock_wide, 8)?;
    let narrow = with_limit(&clock_narrow, 2)?;
    let (busy, fine) = (server.url("/busy"), server.url("/fine"));
    // The manager meets the route on the wide client first.
    assert_eq!(get(&wide, &fine)?, 200);
    clock_narrow.advance(COOL_DOWN);
    assert_eq!(get(&narrow, &fine)?, 200);
    assert_eq!(limit(&narrow, &fine)?, 2, "grown past its own pool's limit");
    // A back-off on the narrow client, then (its clock cooled down) a success.
    assert_eq!(get(&narrow, &busy)?, 503);
    assert_eq!(limit(&narrow, &fine)?, 1);
    assert_eq!(limit(&wide, &fine)?, 8, "the other client's pool");
    clock_narrow.advance(COOL_DOWN);
    assert_eq!(get(&narrow, &fine)?, 200);
    assert_eq!(limit(&narrow, &fine)?, 2);
    Ok(())
}

/// A change being made to the pool (a lower limit closes idle connections, whose
/// close events run on the deciding thread) is not raced by another decision: one
/// asked for meanwhile is skipped, even with no cool-down, so two changes never reach
/// the pool out of order.
#[test]
fn no_decision_is_made_while_a_change_reaches_the_pool() -> TestResult {
    /// Asks for a probe of the route each time a connection closes.
    struct ProbeOnClose {
        backoff: Arc<AimdBackoffManager>,
        manager: OnceLock<PoolingConnectionManager>,
        route: OnceLock<Route>,
        probes: AtomicUsize,
    }
    impl EventListener for ProbeOnClose {
        fn closed(&self, _: &ConnectionRef<'_>, _: CloseReason) {
            if let (Some(manager), Some(route)) = (self.manager.get(), self.route.get()) {
                self.probes.fetch_add(1, Ordering::SeqCst);
                self.backoff.probe(route, manager);
            }
        }
    }
    // A body larger than a read: the first response holds its connection until read.
    let server = TestServer::builder()
        .default_reply(Reply::ok().body(vec![b'x'; 1 << 20]))
        .start()?;
    let url = server.url("/");
    let backoff = Arc::new(AimdBackoffManager::new().with_cool_down(Duration::ZERO));
    let listener = Arc::new(ProbeOnClose {
        backoff: Arc::clone(&backoff),
        manager: OnceLock::new(),
        route: OnceLock::new(),
        probes: AtomicUsize::new(0),
    });
    let manager = PoolingConnectionManager::builder()
        .max_per_route(2)
        .event_listener(listener.clone())
        .build()?;
    let client = Client::builder()
        .connection_manager(manager.clone())
        .response_timeout(Some(SAFETY))
        .build()?;
    // Two idle connections: the first body held while the second request goes out.
    let first = client.get(&url)?;
    client.get(&url)?.into_body().into_vec()?;
    first.into_body().into_vec()?;
    assert_eq!(client.stats().pool.available, 2);
    let route = route(&url)?;
    let (Ok(()), Ok(())) = (
        listener.manager.set(manager.clone()),
        listener.route.set(route.clone()),
    ) else {
        return Err("set twice".into());
    };
    // 2 -> 1 closes an idle connection; the probe its close asks for is skipped (it
    // would grow the limit back to 2 at once).
    backoff.back_off(&route, &manager);
    assert_eq!(listener.probes.load(Ordering::SeqCst), 1, "the close asked");
    assert_eq!(manager.pool().max_per_route(&route), 1);
    // Once the change is made, the next probe is decided as usual.
    backoff.probe(&route, &manager);
    assert_eq!(manager.pool().max_per_route(&route), 2);
    Ok(())
}

/// The manager's table holds only the routes being backed off or grown back: a client
/// meeting many hosts that never strain does not grow it, and a route leaves it once
/// grown back to its cap.
#[test]
fn the_table_holds_only_routes_away_from_their_cap() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/busy", Reply::new(503u16))
        .start()?;
    let clock = ManualClock::new();
    let backoff = Arc::new(AimdBackoffManager::new());
    let held = || format!("{backoff:?}");
    let shared = Arc::clone(&backoff);
    let client = backing_off(&clock, move |b| {
        b.disable_automatic_retries().backoff_manager(shared)
    })?;
    let fine = server.url("/");
    assert_eq!(get(&client, &fine)?, 200);
    assert!(held().contains("routes: 0"), "{}", held());
    assert_eq!(get(&client, &server.url("/busy"))?, 503);
    assert_eq!(limit(&client, &fine)?, 4);
    // Grown back one per cool-down: held until the last step reaches the cap.
    for grown in 5..=8 {
        assert!(held().contains("routes: 1"), "{}", held());
        clock.advance(COOL_DOWN);
        assert_eq!(get(&client, &fine)?, 200);
        assert_eq!(limit(&client, &fine)?, grown);
    }
    assert!(held().contains("routes: 0"), "{}", held());
    Ok(())
}
