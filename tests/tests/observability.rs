//! What hcx reports about itself holds together: every lease request ends in one
//! `leased` or `lease_failed`, every connect start in one `connect_end`, every
//! connection opened is closed exactly once, and the closes the listener saw, by
//! reason, are the ones `stats()` counts — across aborts, timeouts, retries,
//! redirects, bodies dropped half read, stale probes and shutdowns.

mod common;

use std::collections::BTreeMap;
use std::io::Read;
use std::sync::Arc;
use std::time::Duration;

use common::{PATIENT, SAFETY, TestResult, in_background};
use hcx::{
    AbortHandle, Body, Client, CloseReason, Connected, ConnectionInfo, ConnectionRef, Error,
    EventListener, Route,
};
use hcx_testserver::{Method, Reply, TestServer};
use parking_lot::Mutex;

/// The counts the invariants compare.
#[derive(Default, Debug)]
struct Ledger {
    lease_requested: u64,
    leased: u64,
    lease_failed: u64,
    connect_start: u64,
    connect_ok: Vec<u64>,
    connect_err: u64,
    closed: BTreeMap<u64, Vec<&'static str>>,
    by_reason: BTreeMap<&'static str, u64>,
}

#[derive(Default)]
struct Recorder(Mutex<Ledger>);

impl EventListener for Recorder {
    fn lease_requested(&self, _: &Route) {
        self.0.lock().lease_requested += 1;
    }
    fn leased(&self, _: &Route, _: &ConnectionInfo) {
        self.0.lock().leased += 1;
    }
    fn lease_failed(&self, _: &Route, _: &Error) {
        self.0.lock().lease_failed += 1;
    }
    fn connect_start(&self, _: &Route) {
        self.0.lock().connect_start += 1;
    }
    fn connect_end(&self, _: &Route, result: Result<&Connected, &Error>) {
        let mut l = self.0.lock();
        match result {
            Ok(c) => l.connect_ok.push(c.connection_id),
            Err(_) => l.connect_err += 1,
        }
    }
    fn closed(&self, conn: &ConnectionRef<'_>, reason: CloseReason) {
        let mut l = self.0.lock();
        l.closed.entry(conn.id).or_default().push(reason.name());
        *l.by_reason.entry(reason.name()).or_default() += 1;
    }
}

fn check(recorder: &Recorder, client: &Client, step: &str) {
    let l = recorder.0.lock();
    assert_eq!(
        l.lease_requested,
        l.leased + l.lease_failed,
        "after {step}: lease pairs: {l:?}"
    );
    assert_eq!(
        l.connect_start,
        l.connect_ok.len() as u64 + l.connect_err,
        "after {step}: connect pairs: {l:?}"
    );
    for (id, reasons) in &l.closed {
        assert_eq!(reasons.len(), 1, "after {step}: #{id} closed {reasons:?}");
        assert!(
            l.connect_ok.contains(id),
            "after {step}: #{id} closed, never opened: {l:?}"
        );
    }
    let stats = client.stats();
    assert_eq!(
        stats.connections_opened,
        l.connect_ok.len() as u64,
        "after {step}: opened: {l:?}"
    );
    let counted: BTreeMap<&'static str, u64> = stats
        .closes
        .iter()
        .map(|(reason, n)| (reason.name(), n))
        .collect();
    assert_eq!(counted, l.by_reason, "after {step}: closes by reason");
    assert_eq!(stats.pool.leased, 0, "after {step}: a slot still leased");
}

fn with_abort(url: &str, abort: &AbortHandle) -> Result<http::Request<Body>, http::Error> {
    let mut request = http::Request::get(url).body(Body::empty())?;
    request.extensions_mut().insert(abort.clone());
    Ok(request)
}

#[test]
fn every_lease_connect_and_close_is_reported_once_and_counted() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/ok", Reply::ok().body("fine"))
        .route(
            Method::GET,
            "/moved",
            Reply::new(302u16).header("location", "/ok"),
        )
        .route(Method::GET, "/big", Reply::ok().generated_body(256 * 1024))
        .route(Method::GET, "/stall", Reply::stall())
        .route(Method::GET, "/gone", Reply::no_response())
        .start()?;
    let impatient = TestServer::builder()
        .route(Method::GET, "/ok", Reply::ok().body("fine"))
        .idle_timeout(Duration::from_millis(50))
        .start()?;
    let recorder = Arc::new(Recorder::default());
    let client = Client::builder()
        .event_listener(Arc::clone(&recorder))
        .response_timeout(Some(PATIENT))
        .connection_request_timeout(PATIENT)
        .request_config(
            hcx::RequestConfig::default()
                .with_response_timeout(Some(PATIENT))
                .with_connection_request_timeout(PATIENT)
                .with_drain(1024, SAFETY),
        )
        .build()?;
    let get = |path: &str| -> Result<String, hcx::Error> {
        client.get(server.url(path))?.into_body().into_string()
    };

    get("/ok")?;
    get("/ok")?;
    check(&recorder, &client, "a reuse");

    assert_eq!(get("/moved")?, "fine");
    check(&recorder, &client, "a redirect");

    assert!(get("/gone").is_err());
    check(&recorder, &client, "retries of an unanswered request");

    let mut big = client.get(server.url("/big"))?.into_body();
    big.read_exact(&mut [0u8; 10])?;
    drop(big);
    check(&recorder, &client, "a body dropped half read");

    let timed_out = client.execute(
        http::Request::get(server.url("/stall"))
            .extension(
                hcx::RequestConfig::default()
                    .with_response_timeout(Some(Duration::from_millis(50))),
            )
            .body(Body::empty())?,
    );
    assert!(timed_out.is_err());
    check(&recorder, &client, "a response timeout");

    let abort = AbortHandle::new();
    let outcome = in_background({
        let client = client.clone();
        let request = with_abort(&server.url("/stall"), &abort)?;
        move || client.execute(request).map(|r| r.status())
    });
    server.wait_for_requests(server.stats().requests_received + 1, SAFETY)?;
    abort.abort();
    assert!(outcome()?.is_err());
    check(&recorder, &client, "an abort");

    common::get_after_the_server_closed_it(&client, &impatient, &impatient.url("/ok"), 1)?;
    check(&recorder, &client, "a stale probe");

    let outcome = in_background({
        let client = client.clone();
        let url = server.url("/stall");
        move || client.get(url).map(|r| r.status())
    });
    server.wait_for_requests(server.stats().requests_received + 1, SAFETY)?;
    client.connection_manager().shutdown_immediate();
    assert!(outcome()?.is_err());
    check(&recorder, &client, "shutdown_immediate");

    let l = recorder.0.lock();
    assert!(l.lease_failed == 0 && l.connect_err == 0, "{l:?}");
    // Every connection opened is closed by now.
    assert_eq!(l.closed.len(), l.connect_ok.len(), "{l:?}");
    Ok(())
}
