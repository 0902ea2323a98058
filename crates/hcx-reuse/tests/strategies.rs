//! The strategies as the client holds them: trait objects, closures, and the combined
//! decision.

use hcx_reuse::{
    CloseReason, ConnectionReuseStrategy, Decision, DefaultKeepAliveStrategy, DefaultReuseStrategy,
    Exchange, KeepAlive, KeepAliveStrategy, NeverReuse, Reuse, decide,
};
use http::{HeaderMap, HeaderValue, Method, Request, Response, StatusCode, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

fn response_headers(fields: &[(&'static str, &'static str)]) -> HeaderMap {
    let mut map = HeaderMap::new();
    for (name, value) in fields {
        map.append(*name, HeaderValue::from_static(value));
    }
    map
}

fn exchange<'a>(request: &'a HeaderMap, response: &'a HeaderMap) -> Exchange<'a> {
    Exchange::new(
        &Method::GET,
        request,
        StatusCode::OK,
        Version::HTTP_11,
        response,
    )
}

#[test]
fn never_reuse_closes_even_a_perfect_exchange() {
    let request = HeaderMap::new();
    let response = response_headers(&[("content-length", "0"), ("connection", "keep-alive")]);
    let ex = exchange(&request, &response);
    assert_eq!(DefaultReuseStrategy.reuse(&ex), Reuse::KeepAlive);
    assert_eq!(NeverReuse.reuse(&ex), Reuse::Close(CloseReason::NeverReuse));
}

#[test]
fn closures_are_strategies_behind_arc_dyn() {
    let reuse: Arc<dyn ConnectionReuseStrategy> =
        Arc::new(|_: &Exchange<'_>| Reuse::Close(CloseReason::Custom("pinned to one request")));
    let keep: Arc<dyn KeepAliveStrategy> =
        Arc::new(|_: &Exchange<'_>| KeepAlive::For(Duration::from_secs(7)));
    let default: Arc<dyn ConnectionReuseStrategy> = Arc::new(DefaultReuseStrategy);
    let request = HeaderMap::new();
    let response = response_headers(&[("content-length", "0")]);
    let ex = exchange(&request, &response);
    assert_eq!(
        reuse.reuse(&ex).close_reason().map(|r| r.explain()),
        Some("pinned to one request")
    );
    assert_eq!(keep.keep_alive(&ex), KeepAlive::For(Duration::from_secs(7)));
    assert_eq!(
        decide(&*default, &*keep, &ex),
        Decision::Keep {
            valid_for: Some(Duration::from_secs(7))
        }
    );
}

#[test]
fn keep_alive_strategy_is_not_asked_once_reuse_is_refused() {
    let asked = AtomicUsize::new(0);
    let keep = |_: &Exchange<'_>| {
        asked.fetch_add(1, Ordering::Relaxed);
        KeepAlive::Unlimited
    };
    let request = HeaderMap::new();
    let response = response_headers(&[("content-length", "0"), ("connection", "close")]);
    let decision = decide(&DefaultReuseStrategy, &keep, &exchange(&request, &response));
    assert_eq!(
        decision,
        Decision::Close(CloseReason::ResponseConnectionClose)
    );
    assert_eq!(asked.load(Ordering::Relaxed), 0);

    let response = response_headers(&[("content-length", "0")]);
    let decision = decide(&DefaultReuseStrategy, &keep, &exchange(&request, &response));
    assert_eq!(decision, Decision::Keep { valid_for: None });
    assert_eq!(asked.load(Ordering::Relaxed), 1);
}

#[test]
fn keep_alive_timeout_zero_closes_with_its_own_reason() {
    let request = HeaderMap::new();
    let response = response_headers(&[("content-length", "0"), ("keep-alive", "timeout=0")]);
    let decision = decide(
        &DefaultReuseStrategy,
        &DefaultKeepAliveStrategy::new(),
        &exchange(&request, &response),
    );
    assert_eq!(decision, Decision::Close(CloseReason::KeepAliveRefused));
    assert!(!decision.is_reusable());
    assert_eq!(decision.valid_for(), None);
}

#[test]
fn zero_duration_from_a_custom_strategy_also_closes() {
    let request = HeaderMap::new();
    let response = response_headers(&[("content-length", "0")]);
    let zero = |_: &Exchange<'_>| KeepAlive::For(Duration::ZERO);
    let decision = decide(&DefaultReuseStrategy, &zero, &exchange(&request, &response));
    assert_eq!(decision.close_reason(), Some(CloseReason::KeepAliveRefused));
}

#[test]
fn decision_prints_for_the_cli() {
    assert_eq!(
        Decision::Keep {
            valid_for: Some(Duration::from_secs(90))
        }
        .to_string(),
        "keep alive for 1m 30s"
    );
    assert_eq!(
        Decision::Keep { valid_for: None }.to_string(),
        "keep alive (no limit)"
    );
    assert_eq!(
        Decision::Close(CloseReason::UnframedBody).to_string(),
        format!("close: {}", CloseReason::UnframedBody.explain())
    );
}

#[test]
fn exchange_from_parts_reads_both_heads() -> Result<(), http::Error> {
    let (request, ()) = Request::head("/")
        .header("connection", "close")
        .body(())?
        .into_parts();
    let (response, ()) = Response::builder()
        .status(StatusCode::OK)
        .version(Version::HTTP_10)
        .header("content-length", "3")
        .body(())?
        .into_parts();
    let ex = Exchange::from_parts(&request, &response);
    assert_eq!(ex.method(), Method::HEAD);
    assert_eq!(ex.version(), Version::HTTP_10);
    assert!(ex.request_body_complete());
    assert_eq!(
        DefaultReuseStrategy.reuse(&ex),
        Reuse::Close(CloseReason::RequestConnectionClose)
    );
    Ok(())
}
