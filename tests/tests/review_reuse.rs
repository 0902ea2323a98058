//! Reuse and learned-idle-limit cases found in review, end to end against loopback
//! test servers. Idle times come from a shared manual clock: nothing sleeps.

mod common;

use std::io::Cursor;
use std::time::Duration;

use common::{SAFETY, TestResult};
use hcx::{Body, Client, Clock, ManualClock, PoolingConnectionManager};
use hcx_testserver::{Method, Reply, TestServer};
use http::Request;

const T: Duration = Duration::from_secs(60);
const S: Duration = Duration::from_secs(1);

/// A server behind a middlebox that forgets flows idle `T`, allowing an hour of
/// keep-alive.
fn middlebox_server(clock: &ManualClock) -> std::io::Result<TestServer> {
    let clock = clock.clone();
    let kept = || Reply::ok().header("Keep-Alive", "timeout=3600");
    TestServer::builder()
        .route(Method::GET, "/", kept().body("got"))
        .route(Method::PUT, "/doc", kept().body("stored"))
        .silent_drop_after(T)
        .clock(move || clock.now())
        .start()
}

fn learning_client(clock: &ManualClock) -> Result<Client, hcx::Error> {
    let manager = PoolingConnectionManager::builder()
        .clock(clock.clone())
        .build()?;
    Client::builder()
        .connection_manager(manager)
        .learn_idle_limits(true)
        .response_timeout(Some(SAFETY))
        .build()
}

/// A probe is a reuse the RETRY layer must be able to repeat. A PUT is idempotent,
/// but one whose body is a plain reader is sent once and never retried: probing with
/// it wrote it onto a connection the middlebox had forgotten, and the request failed
/// where a new connection would have carried it.
#[test]
fn a_request_whose_body_cannot_be_sent_again_never_probes() -> TestResult {
    let clock = ManualClock::new();
    let server = middlebox_server(&clock)?;
    let client = learning_client(&clock)?;
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
    let request =
        Request::put(server.url("/doc")).body(Body::reader(Cursor::new(b"only once".to_vec())))?;
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
