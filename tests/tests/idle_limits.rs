//! Learned idle limits against a middlebox that forgets idle flows silently: the test
//! server's `silent_drop_after` mode resets a request that arrives on a connection
//! idle at least T, without a FIN before. Client and server share one manual clock, so
//! idle times are exact and nothing sleeps.

mod common;

use std::time::Duration;

use common::{SAFETY, TestResult};
use hcx::{Body, Client, Clock, CloseReason, ErrorKind, ManualClock, PoolingConnectionManager};
use hcx_testserver::{Method, Reply, TestServer};
use http::Request;

const T: Duration = Duration::from_secs(60);
const S: Duration = Duration::from_secs(1);

/// A server behind a middlebox that forgets flows idle `T`, whose responses allow an
/// hour of keep-alive (so the client's keep-alive never expires a connection first).
fn middlebox_server(clock: &ManualClock) -> std::io::Result<TestServer> {
    let clock = clock.clone();
    let kept = || Reply::ok().header("Keep-Alive", "timeout=3600");
    TestServer::builder()
        .route(Method::GET, "/", kept().body("got"))
        .route(Method::POST, "/orders", kept().body("posted"))
        .route(Method::PUT, "/doc", kept().body("stored"))
        .silent_drop_after(T)
        .clock(move || clock.now())
        .start()
}

fn client(clock: &ManualClock, learn: bool) -> Result<Client, hcx::Error> {
    builder(clock, learn)?.build()
}

/// The client of [`client`], to be built with more settings.
fn builder(clock: &ManualClock, learn: bool) -> Result<hcx::ClientBuilder, hcx::Error> {
    let manager = PoolingConnectionManager::builder()
        .clock(clock.clone())
        .build()?;
    Ok(Client::builder()
        .connection_manager(manager)
        .learn_idle_limits(learn)
        .response_timeout(Some(SAFETY)))
}

/// The outcome of one request: the body, or the error's kind.
fn send(
    client: &Client,
    server: &TestServer,
    step: usize,
    post: bool,
) -> Result<String, ErrorKind> {
    let request = if post {
        Request::post(server.url("/orders")).body(Body::from(format!("order {step}")))
    } else {
        Request::get(server.url("/")).body(Body::empty())
    };
    let request = request.map_err(|_| ErrorKind::InvalidRequest)?;
    client
        .execute(request)
        .and_then(|r| r.into_body().into_string())
        .map_err(|e| e.kind())
}

/// Idle gaps (seconds) and methods around T = 60 s: the first request idle past T is
/// a GET, then POSTs and GETs on both sides of T.
const SCRIPT: [(u64, bool); 14] = [
    (0, true),
    (20, false),
    (45, true),
    (70, false), // the first loss: a GET, retried
    (50, true),
    (80, true),
    (30, false),
    (55, true),
    (90, true),
    (10, false),
    (65, true),
    (40, true),
    (120, true),
    (59, true),
];

struct Run {
    outcomes: Vec<Result<String, ErrorKind>>,
    posts_sent: Vec<String>,
}

fn run(client: &Client, server: &TestServer, clock: &ManualClock) -> Run {
    let mut outcomes = Vec::new();
    let mut posts_sent = Vec::new();
    for (step, (gap, post)) in SCRIPT.into_iter().enumerate() {
        clock.advance(S * gap as u32);
        if post {
            posts_sent.push(format!("order {step}"));
        }
        outcomes.push(send(client, server, step, post));
    }
    Run {
        outcomes,
        posts_sent,
    }
}

#[test]
fn after_the_first_loss_no_request_is_written_onto_a_forgotten_connection() -> TestResult {
    let clock = ManualClock::new();
    let server = middlebox_server(&clock)?;
    let client = client(&clock, true)?;
    let run = run(&client, &server, &clock);

    // Every request succeeded; the one loss was the GET that taught the limit, sent
    // again by the RETRY layer.
    for (step, outcome) in run.outcomes.iter().enumerate() {
        assert!(outcome.is_ok(), "step {step}: {outcome:?}");
    }
    let dropped = server.dropped_requests();
    assert_eq!(dropped.len(), 1, "{dropped:?}");
    assert_eq!(dropped[0].idle, S * 70);

    // Each POST reached the server exactly once.
    let mut posted: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.method == Method::POST)
        .map(|r| String::from_utf8_lossy(&r.body).into_owned())
        .collect();
    posted.sort();
    let mut sent = run.posts_sent.clone();
    sent.sort();
    assert_eq!(posted, sent);

    // What it learned, and the connections it closed instead of writing onto them.
    let limits = client.idle_limits();
    assert_eq!(limits.len(), 1);
    let (route, bounds) = &limits[0];
    assert_eq!(route, &format!("http://127.0.0.1:{}", server.port()));
    assert!(
        bounds.limit.is_some_and(|l| l >= S * 45 && l < T),
        "{bounds}"
    );
    assert!(
        client.stats().closes.get(CloseReason::IdleLimit) >= 4,
        "{}",
        client.stats().closes
    );
    Ok(())
}

#[test]
fn without_the_learned_limit_posts_die_on_forgotten_connections() -> TestResult {
    let clock = ManualClock::new();
    let server = middlebox_server(&clock)?;
    let client = client(&clock, false)?;
    let run = run(&client, &server, &clock);

    let failed_posts: Vec<usize> = run
        .outcomes
        .iter()
        .enumerate()
        .filter(|(_, o)| o.is_err())
        .map(|(step, outcome)| {
            assert_eq!(
                outcome,
                &Err(ErrorKind::ClosedBeforeResponse),
                "step {step}"
            );
            step
        })
        .collect();
    // Every POST idle at least T failed: steps 5 (80 s), 8 (90 s), 10 (65 s), 12 (120 s).
    assert_eq!(failed_posts, [5, 8, 10, 12]);
    // And every request idle at least T was written onto a dead connection: those four
    // and the GET at step 3 (retried).
    assert_eq!(server.dropped_requests().len(), 5);
    assert_eq!(client.idle_limits(), Vec::new());
    Ok(())
}

#[test]
fn the_learned_limit_follows_a_middlebox_that_grows_more_patient() -> TestResult {
    let clock = ManualClock::new();
    let server = middlebox_server(&clock)?;
    let client = client(&clock, true)?;
    let get = |gap: u64| -> Result<String, String> {
        clock.advance(S * gap as u32);
        send(&client, &server, 0, false).map_err(|k| format!("{k:?}"))
    };
    get(0)?;
    get(40)?;
    get(70)?; // dies (retried): the limit is 40 s
    let limit = |client: &Client| client.idle_limits().first().and_then(|(_, b)| b.limit);
    assert_eq!(limit(&client), Some(S * 40));

    // The middlebox now keeps flows five minutes.
    server.set_silent_drop_after(Some(Duration::from_secs(300)));
    // GETs idle longer than the limit probe (at most twice the limit, after the probe
    // interval of 30 s since the death): each survives and raises the limit.
    get(75)?;
    assert_eq!(limit(&client), Some(S * 75));
    get(140)?;
    assert_eq!(limit(&client), Some(S * 140));
    get(250)?;
    assert_eq!(limit(&client), Some(S * 250));
    assert_eq!(
        server.dropped_requests().len(),
        1,
        "no probe met a dead connection"
    );
    Ok(())
}

#[test]
fn a_post_never_probes() -> TestResult {
    let clock = ManualClock::new();
    let server = middlebox_server(&clock)?;
    let client = client(&clock, true)?;
    let post = |gap: u64| -> Result<String, String> {
        clock.advance(S * gap as u32);
        send(&client, &server, 0, true).map_err(|k| format!("{k:?}"))
    };
    clock.advance(S);
    send(&client, &server, 0, false).map_err(|k| format!("{k:?}"))?;
    clock.advance(S * 30);
    send(&client, &server, 0, false).map_err(|k| format!("{k:?}"))?;
    clock.advance(S * 61);
    send(&client, &server, 0, false).map_err(|k| format!("{k:?}"))?; // dies, retried
    let opened = client.stats().connections_opened;
    // Past the probe interval, a POST idle 45 s (beyond the 30 s limit, within reach of
    // a probe) still gets a new connection.
    post(45)?;
    assert_eq!(client.stats().connections_opened, opened + 1);
    assert_eq!(server.dropped_requests().len(), 1);
    Ok(())
}

/// A probe is a reuse the RETRY layer must be able to repeat. A PUT is idempotent,
/// but one whose body is a plain reader is sent once and never retried: probing with
/// it wrote it onto a connection the middlebox had forgotten, and the request failed
/// where a new connection would have carried it.
#[test]
fn a_request_whose_body_cannot_be_sent_again_never_probes() -> TestResult {
    let clock = ManualClock::new();
    let server = middlebox_server(&clock)?;
    let client = client(&clock, true)?;
    let get = |gap: u64| -> TestResult {
        clock.advance(S * gap as u32);
        client.get(server.url("/"))?.into_body().into_string()?;
        Ok(())
    };
    get(0)?;
    get(40)?;
    get(70)?; // dies (the GET is retried): the limit is 40 s
    let limit = client.idle_limits().first().and_then(|(_, b)| b.limit);
    assert_eq!(limit, Some(S * 40));

    // Past the probe interval, idle 75 s: beyond the limit, within a probe's reach
    // (80 s), and beyond the middlebox's 60 s.
    clock.advance(S * 75);
    let opened = client.stats().connections_opened;
    let request = Request::put(server.url("/doc"))
        .body(Body::reader(std::io::Cursor::new(b"only once".to_vec())))?;
    let body = client.execute(request)?.into_body().into_string()?;
    assert_eq!(body, "stored");
    assert_eq!(
        client.stats().connections_opened,
        opened + 1,
        "a new connection carries it"
    );
    assert_eq!(
        server.dropped_requests().len(),
        1,
        "only the GET that taught"
    );
    Ok(())
}

/// A probe is covered by RETRY sending the request again if the connection was dead;
/// a strategy that never retries errors covers nothing, so no request probes: a GET
/// past the limit (past the probe interval, within a probe's reach) goes on a new
/// connection instead of failing on the dead one.
#[test]
fn no_request_probes_when_the_retry_strategy_never_retries_errors() -> TestResult {
    let clock = ManualClock::new();
    let server = middlebox_server(&clock)?;
    let client = builder(&clock, true)?
        .retry_strategy(hcx::DefaultRetryStrategy::new().with_max_retries(0))
        .build()?;
    let get = |gap: u64| -> Result<String, hcx::Error> {
        clock.advance(S * gap as u32);
        client.get(server.url("/"))?.into_body().into_string()
    };
    get(0)?;
    get(40)?;
    // The first death teaches the limit; nothing sends this GET again.
    let first = get(70).err().ok_or("a request idle past T went through")?;
    assert_eq!(first.kind(), ErrorKind::ClosedBeforeResponse, "{first:#}");
    let limit = client.idle_limits().first().and_then(|(_, b)| b.limit);
    assert_eq!(limit, Some(S * 40));
    // Idle 75 s: past the limit and the probe interval, within a probe's reach.
    get(0)?; // the connection the failed GET left: a new one, now pooled
    let opened = client.stats().connections_opened;
    assert_eq!(get(75)?, "got", "closed at the lease, not probed");
    assert_eq!(client.stats().connections_opened, opened + 1);
    assert_eq!(
        server.dropped_requests().len(),
        1,
        "only the GET that taught"
    );
    Ok(())
}

/// A probe is covered by RETRY sending the request again; a request that is already
/// RETRY's last attempt has nothing left to cover it. Here a GET is answered `503`
/// with `Retry-After: 6`, and its second (and last, by default) attempt leases the
/// connection idle 6 s: past the learned limit (4 s), within a probe's reach, past
/// the middlebox's 5 s. Probing with it wrote the GET onto the forgotten connection and
/// the caller got `ClosedBeforeResponse`, where closing it at the lease (as for any
/// request that cannot probe) carries the GET on a new connection.
#[test]
fn a_last_attempt_never_probes() -> TestResult {
    let clock = ManualClock::new();
    let kept = || Reply::ok().header("Keep-Alive", "timeout=3600");
    let server = {
        let clock = clock.clone();
        TestServer::builder()
            .route(Method::GET, "/", kept().body("got"))
            .route_seq(
                Method::GET,
                "/busy",
                [
                    Reply::new(503u16)
                        .header("Keep-Alive", "timeout=3600")
                        .header("Retry-After", "6"),
                    kept().body("done"),
                ],
            )
            .silent_drop_after(S * 5)
            .clock(move || clock.now())
            .start()?
    };
    let waiting = clock.clone();
    let client = builder(&clock, true)?
        .retry_sleeper(move |delay: Duration| waiting.advance(delay))
        .build()?;
    let get = |gap: u64| -> Result<String, hcx::Error> {
        clock.advance(S * gap as u32);
        client.get(server.url("/"))?.into_body().into_string()
    };
    get(0)?;
    get(4)?;
    get(6)?; // dies (the GET is retried): the limit is 4 s, a probe may go in 30 s
    let limit = client.idle_limits().first().and_then(|(_, b)| b.limit);
    assert_eq!(limit, Some(S * 4));
    // Keep the connection busy past the probe interval.
    for _ in 0..11 {
        get(3)?;
    }
    let body = client
        .get(server.url("/busy"))
        .and_then(|r| r.into_body().into_string());
    let body = body.map_err(|e| format!("{e:#}"));
    assert_eq!(body.as_deref(), Ok("done"));
    assert_eq!(
        server.dropped_requests().len(),
        1,
        "only the GET that taught"
    );
    Ok(())
}
