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
