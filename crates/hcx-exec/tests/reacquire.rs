//! A connection the engine leases again after the keep-alive strategy refused an idle
//! one stays bound to the request's user token.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hcx_exec::{
    Body, ExecRuntime, MainExec, PoolingConnectionManager, RequestConfig, ResponseInfo, Route,
    UserToken,
};
use hcx_reuse::{
    DefaultKeepAliveStrategy, DefaultReuseStrategy, Exchange, IdleVerdict, KeepAlive,
    KeepAliveStrategy, RouteRef,
};
use hcx_testserver::{Method, Reply, TestServer};
use http::Request;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// The longest any wait may take before the test fails instead of hanging.
const SAFETY: Duration = Duration::from_secs(10);

/// Keeps connections as the default does, and refuses the next idle one once armed
/// (as a learned idle limit does for a connection idle too long).
struct RefuseOnce(AtomicBool);

impl KeepAliveStrategy for RefuseOnce {
    fn keep_alive(&self, exchange: &Exchange<'_>) -> KeepAlive {
        DefaultKeepAliveStrategy::default().keep_alive(exchange)
    }

    fn admit(&self, _: RouteRef<'_>, _: Duration, _: bool, _: Instant) -> IdleVerdict {
        if self.0.swap(false, Ordering::SeqCst) {
            IdleVerdict::Close
        } else {
            IdleVerdict::Reuse
        }
    }
}

#[test]
fn a_connection_leased_again_after_the_idle_check_stays_bound_to_the_user() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("x"))
        .start()?;
    let manager = PoolingConnectionManager::builder().build()?;
    let keep = Arc::new(RefuseOnce(AtomicBool::new(false)));
    let exec = MainExec::new(Arc::new(DefaultReuseStrategy), keep.clone());
    let config = RequestConfig::default().with_response_timeout(Some(SAFETY));
    let route = Route::from_uri(&server.url("/").parse()?)?;
    // Sends one GET as `user`: the connection's number and whether it was reused.
    let send = |user: Option<&str>| -> Result<(u64, bool), Box<dyn std::error::Error>> {
        let runtime = ExecRuntime::new(manager.clone()).with_user_token(user.map(UserToken::new));
        let request = Request::get(server.url("/")).body(Body::empty())?;
        let response = exec.execute(&route, request, runtime, &config)?;
        let info = ResponseInfo::of(&response)
            .ok_or("no ResponseInfo")?
            .connection;
        response.into_body().into_string()?;
        Ok((info.connection_id, info.reused))
    };
    let (first, _) = send(Some("alice"))?;
    // Alice's idle connection is refused: she gets a new one.
    keep.0.store(true, Ordering::SeqCst);
    let (second, reused) = send(Some("alice"))?;
    assert!(!reused && second != first, "a new connection for alice");
    // An anonymous request must not get alice's new connection...
    let (third, reused) = send(None)?;
    assert!(
        !(reused && third == second),
        "alice's connection #{second} was lent to an anonymous request"
    );
    // ...and alice gets it back.
    let (fourth, reused) = send(Some("alice"))?;
    assert!(
        reused && fourth == second,
        "alice got #{fourth}, not her #{second}"
    );
    Ok(())
}

/// Spins (yielding, never sleeping) until `done`, at most `SAFETY`.
fn until(what: &str, mut done: impl FnMut() -> bool) -> TestResult {
    let deadline = Instant::now() + SAFETY;
    while !done() {
        if Instant::now() >= deadline {
            return Err(format!("never happened: {what}").into());
        }
        std::thread::yield_now();
    }
    Ok(())
}

#[test]
fn a_request_whose_idle_connection_is_refused_keeps_its_turn() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("x"))
        .start()?;
    let manager = PoolingConnectionManager::builder()
        .max_total(1)
        .max_per_route(1)
        .build()?;
    let keep = Arc::new(RefuseOnce(AtomicBool::new(false)));
    let exec = Arc::new(MainExec::new(Arc::new(DefaultReuseStrategy), keep.clone()));
    let config = RequestConfig::default()
        .with_response_timeout(Some(SAFETY))
        .with_connection_request_timeout(SAFETY);
    let route = Route::from_uri(&server.url("/").parse()?)?;
    // One GET on its own thread; the response comes back unread (it holds the slot).
    let send = || {
        let (manager, exec, route, config) =
            (manager.clone(), exec.clone(), route.clone(), config.clone());
        let url = server.url("/");
        std::thread::spawn(move || -> Result<_, String> {
            let request = Request::get(url)
                .body(Body::empty())
                .map_err(|e| e.to_string())?;
            exec.execute(&route, request, ExecRuntime::new(manager), &config)
                .map_err(|e| e.to_string())
        })
    };

    // The only slot holds a pooled connection: leased here, so that requests queue.
    let mut held = manager.lease(&route, None, SAFETY)?;
    held.connect_if_needed(Some(SAFETY))?;
    let first = send();
    until("the first request queues", || {
        manager.stats().pool.pending == 1
    })?;
    let second = send();
    until("the second request queues", || {
        manager.stats().pool.pending == 2
    })?;

    // Given back reusable, it goes to the first request, whose idle check refuses it.
    keep.0.store(true, Ordering::SeqCst);
    held.release(hcx_exec::Decision::keep(None));
    let first = first.join().map_err(|_| "the first request panicked")??;
    let info = ResponseInfo::of(&first)
        .ok_or("no ResponseInfo")?
        .connection;
    assert!(!info.reused && info.idle_limit_closed == 1, "{info:?}");
    assert_eq!(
        manager.stats().pool.pending,
        1,
        "the second request still waits, behind the first"
    );
    assert_eq!(first.into_body().into_string()?, "x");
    let second = second.join().map_err(|_| "the second request panicked")??;
    assert_eq!(second.into_body().into_string()?, "x");
    let stats = manager.stats();
    assert_eq!((stats.pool.leased, stats.pool.pending), (0, 0), "{stats:?}");
    Ok(())
}
