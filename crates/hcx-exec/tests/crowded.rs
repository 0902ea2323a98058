//! Yielding when crowded: which endpoints are marked crowded, and that an exchange on
//! one still completes. The only test of this binary, so that no other test holds
//! endpoints of the process-wide count while it runs.

use std::time::Duration;

use hcx_exec::{Body, ExecRuntime, MainExec, PoolingConnectionManager, RequestConfig, Route};
use hcx_testserver::{Method, Reply, TestServer};

type TestResult = Result<(), Box<dyn std::error::Error>>;

#[test]
fn endpoints_beyond_the_cpus_are_crowded_and_their_exchanges_complete() -> TestResult {
    let cpus = std::thread::available_parallelism()?.get();
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("fine"))
        .start()?;
    let route = Route::from_uri(&server.url("/").parse()?)?;
    let manager = PoolingConnectionManager::builder()
        .max_per_route(cpus + 2)
        .max_total(cpus + 2)
        .build()?;
    let wait = Duration::from_secs(5);

    // Up to one per CPU, nobody is crowded; the next one is.
    let mut held = Vec::new();
    for n in 1..=cpus {
        let endpoint = manager.lease(&route, None, wait)?;
        assert!(!endpoint.crowded(), "endpoint {n} of {cpus} CPUs");
        held.push(endpoint);
    }
    // On one CPU every wake-up is local: nothing to save, nothing is crowded.
    let extra = manager.lease(&route, None, wait)?;
    assert_eq!(
        extra.crowded(),
        cpus > 1,
        "endpoint {} of {cpus} CPUs",
        cpus + 1
    );
    drop(extra);

    // An exchange made while crowded (it yields once before waiting) completes.
    let request = http::Request::get(server.url("/")).body(Body::empty())?;
    let runtime = ExecRuntime::new(manager.clone());
    let response =
        MainExec::default().execute(&route, request, runtime, &RequestConfig::default())?;
    assert_eq!(response.into_body().into_string()?, "fine");

    // Given back, they count no more: the next lease is the only one out.
    drop(held);
    assert!(!manager.lease(&route, None, wait)?.crowded());

    // Turned off, nothing is crowded.
    let calm = PoolingConnectionManager::builder()
        .max_per_route(cpus + 2)
        .max_total(cpus + 2)
        .yield_when_crowded(false)
        .build()?;
    let all: Vec<_> = (0..=cpus)
        .map(|_| calm.lease(&route, None, wait))
        .collect::<Result<_, _>>()?;
    assert!(all.iter().all(|e| !e.crowded()));
    Ok(())
}
