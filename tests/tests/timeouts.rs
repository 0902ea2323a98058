//! Where the connect and socket timeouts live: on the connection manager, as Apache 5's
//! `ConnectionConfig`, with a request's `RequestConfig` overriding them only where it
//! says `Some`; and zero timeouts, which Apache reads as "no limit", refused wherever
//! they are given.

mod common;

use std::sync::mpsc;
use std::time::Duration;

use common::{SAFETY, TestResult};
use hcx::{Body, Client, ErrorKind, PoolingConnectionManager, RequestConfig};
use hcx_testserver::{Reply, TestServer};
use http::Request;

/// Runs `client.execute(request)` on another thread, failing the test if it has not
/// answered within [`SAFETY`] (so a lost timeout fails instead of hanging).
fn outcome(client: Client, request: Request<Body>) -> Result<ErrorKind, String> {
    let (done, result) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = done.send(client.execute(request).map(|r| r.status()));
    });
    match result.recv_timeout(SAFETY) {
        Ok(Ok(status)) => Err(format!("answered {status}")),
        Ok(Err(e)) => Ok(e.kind()),
        Err(_) => Err("no answer: the timeout was lost".into()),
    }
}

#[test]
fn the_default_socket_timeout_is_apache_5_1_s_three_minutes_and_none_turns_it_off() -> TestResult {
    let three_minutes = Some(Duration::from_secs(180));
    assert_eq!(
        Client::new().connection_manager().socket_timeout(),
        three_minutes
    );
    assert_eq!(
        PoolingConnectionManager::new().socket_timeout(),
        three_minutes
    );
    let off = Client::builder().socket_timeout(None).build()?;
    assert_eq!(off.connection_manager().socket_timeout(), None);
    let manager = PoolingConnectionManager::builder()
        .socket_timeout(None)
        .build()?;
    assert_eq!(manager.socket_timeout(), None);
    Ok(())
}

#[test]
fn a_request_config_that_sets_no_timeout_keeps_the_socket_timeout() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()?;
    let client = Client::builder()
        .socket_timeout(Some(Duration::from_millis(200)))
        .build()?;
    // The port of `RequestConfig.custom().setRedirectsEnabled(false).build()`.
    let mut request = Request::get(server.url("/")).body(Body::empty())?;
    request
        .extensions_mut()
        .insert(RequestConfig::default().with_redirects(false));
    assert_eq!(outcome(client, request)?, ErrorKind::ResponseTimeout);
    Ok(())
}

#[test]
fn a_request_s_own_response_timeout_overrides_the_socket_timeout() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("late").delay(Duration::from_millis(300)))
        .start()?;
    let client = Client::builder()
        .socket_timeout(Some(Duration::from_millis(50)))
        .build()?;
    let plain = Request::get(server.url("/")).body(Body::empty())?;
    let error = client.execute(plain).err().map(|e| e.kind());
    assert_eq!(error, Some(ErrorKind::ResponseTimeout));

    let mut patient = Request::get(server.url("/")).body(Body::empty())?;
    patient
        .extensions_mut()
        .insert(RequestConfig::default().with_response_timeout(Some(SAFETY)));
    assert_eq!(client.execute(patient)?.into_body().into_string()?, "late");
    Ok(())
}

#[test]
fn zero_timeouts_in_a_request_s_config_are_config_errors_before_anything_is_sent() -> TestResult {
    let server = TestServer::builder().default_reply(Reply::ok()).start()?;
    let client = Client::builder().socket_timeout(Some(SAFETY)).build()?;
    for config in [
        RequestConfig::default().with_connect_timeout(Duration::ZERO),
        RequestConfig::default().with_response_timeout(Some(Duration::ZERO)),
    ] {
        let mut request = Request::get(server.url("/")).body(Body::empty())?;
        request.extensions_mut().insert(config.clone());
        let error = client.execute(request).err();
        assert_eq!(
            error.as_ref().map(hcx::Error::kind),
            Some(ErrorKind::Config),
            "{config:?}: {error:?}"
        );
    }
    assert_eq!(server.stats().connections_accepted, 0);
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn manager_timeouts_are_checked_and_not_dropped() {
    let zero_socket = Client::builder()
        .socket_timeout(Some(Duration::ZERO))
        .build()
        .err()
        .map(|e| e.kind());
    assert_eq!(zero_socket, Some(ErrorKind::Config));
    let zero_connect = PoolingConnectionManager::builder()
        .connect_timeout(Duration::ZERO)
        .build()
        .err()
        .map(|e| e.kind());
    assert_eq!(zero_connect, Some(ErrorKind::Config));
    // With a manager of the caller's, the client's timeouts would be ignored: refused.
    let beside_own = Client::builder()
        .connection_manager(PoolingConnectionManager::new())
        .connect_timeout(Duration::from_secs(1))
        .socket_timeout(Some(Duration::from_secs(1)))
        .build()
        .err()
        .map(|e| e.to_string());
    assert!(
        beside_own.is_some_and(|m| m.contains("connect_timeout, socket_timeout")),
        "the settings are named"
    );
}

#[test]
fn the_socket_timeout_bounds_each_read_of_the_body_too() -> TestResult {
    use std::io::Read;
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("partial").stall_body_after(3))
        .start()?;
    // The head must come within it: long enough for a loaded CI machine.
    let client = Client::builder()
        .socket_timeout(Some(Duration::from_secs(1)))
        .build()?;
    let mut response = client.get(server.url("/"))?;
    let mut body = Vec::new();
    let error = response.body_mut().read_to_end(&mut body).err();
    let kind = error.map(|e| hcx::Error::from_io(e).kind());
    assert_eq!(kind, Some(ErrorKind::ResponseTimeout));
    Ok(())
}
