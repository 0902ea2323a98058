//! The strategies as the client holds them: trait objects, closures, and the combined
//! decision.

use hcx_h1::ResponseHead;
use hcx_reuse::{
    CloseReason, ConnectionReuseStrategy, Decision, DefaultKeepAliveStrategy, DefaultReuseStrategy,
    Exchange, KeepAlive, KeepAliveStrategy, NeverReuse, decide,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

/// A 200 response head with these fields.
fn head(fields: &[(&'static str, &'static str)]) -> ResponseHead {
    let mut map = HeaderMap::new();
    for (name, value) in fields {
        map.append(*name, HeaderValue::from_static(value));
    }
    ResponseHead::new(Version::HTTP_11, StatusCode::OK, map)
}

fn exchange<'a>(request: &'a HeaderMap, response: &'a ResponseHead) -> Exchange<'a> {
    match Exchange::framed(&Method::GET, request, response) {
        Ok(exchange) => exchange,
        Err(e) => panic!("the codec frames every head of this file: {e}"),
    }
}

#[test]
fn never_reuse_closes_even_a_perfect_exchange() {
    let request = HeaderMap::new();
    let response = head(&[("content-length", "0"), ("connection", "keep-alive")]);
    let ex = exchange(&request, &response);
    assert_eq!(DefaultReuseStrategy.reuse(&ex), Ok(()));
    assert_eq!(NeverReuse.reuse(&ex), Err(CloseReason::NeverReuse));
}

#[test]
fn closures_are_strategies_behind_arc_dyn() {
    let reuse: Arc<dyn ConnectionReuseStrategy> =
        Arc::new(|_: &Exchange<'_>| Err(CloseReason::Custom("pinned to one request")));
    let keep: Arc<dyn KeepAliveStrategy> =
        Arc::new(|_: &Exchange<'_>| KeepAlive::For(Duration::from_secs(7)));
    let default: Arc<dyn ConnectionReuseStrategy> = Arc::new(DefaultReuseStrategy);
    let request = HeaderMap::new();
    let response = head(&[("content-length", "0")]);
    let ex = exchange(&request, &response);
    assert_eq!(
        reuse.reuse(&ex).err().map(|r| r.explain()),
        Some("pinned to one request")
    );
    assert_eq!(keep.keep_alive(&ex), KeepAlive::For(Duration::from_secs(7)));
    assert_eq!(
        decide(&*default, &*keep, &ex),
        Decision::keep(Some(Duration::from_secs(7)))
    );
    assert_eq!(
        decide(&*reuse, &*keep, &ex),
        Decision::Close(CloseReason::Custom("pinned to one request"))
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
    let response = head(&[("content-length", "0"), ("connection", "close")]);
    let decision = decide(&DefaultReuseStrategy, &keep, &exchange(&request, &response));
    assert_eq!(
        decision,
        Decision::Close(CloseReason::ResponseConnectionClose)
    );
    assert_eq!(asked.load(Ordering::Relaxed), 0);

    let response = head(&[("content-length", "0")]);
    let decision = decide(&DefaultReuseStrategy, &keep, &exchange(&request, &response));
    assert_eq!(decision, Decision::keep(None));
    assert_eq!(asked.load(Ordering::Relaxed), 1);
}

#[test]
fn keep_alive_timeout_zero_closes_with_its_own_reason() {
    let request = HeaderMap::new();
    let response = head(&[("content-length", "0"), ("keep-alive", "timeout=0")]);
    let decision = decide(
        &DefaultReuseStrategy,
        &DefaultKeepAliveStrategy::new(),
        &exchange(&request, &response),
    );
    assert_eq!(decision, Decision::Close(CloseReason::KeepAliveRefused));
    assert!(!decision.is_keep());
    assert_eq!(decision.valid_for(), None);
}

#[test]
fn zero_duration_from_a_custom_strategy_also_closes() {
    let request = HeaderMap::new();
    let response = head(&[("content-length", "0")]);
    let zero = |_: &Exchange<'_>| KeepAlive::For(Duration::ZERO);
    let decision = decide(&DefaultReuseStrategy, &zero, &exchange(&request, &response));
    assert_eq!(decision.close_reason(), Some(CloseReason::KeepAliveRefused));
}

#[test]
fn the_framing_verdict_is_the_codec_s_and_the_strategy_reports_it() {
    let request = HeaderMap::new();
    let response = head(&[("transfer-encoding", "chunked"), ("content-length", "5")]);
    let ex = exchange(&request, &response);
    assert_eq!(
        ex.framing().close,
        Some(CloseReason::ContentLengthWithTransferEncoding)
    );
    assert_eq!(
        DefaultReuseStrategy.reuse(&ex),
        Err(CloseReason::ContentLengthWithTransferEncoding)
    );
    let conflicting = head(&[("content-length", "5, 7")]);
    assert!(Exchange::framed(&Method::GET, &request, &conflicting).is_err());
}

#[test]
fn decision_prints_for_the_cli() {
    assert_eq!(
        Decision::keep(Some(Duration::from_secs(90))).to_string(),
        "keep alive for 1m 30s"
    );
    assert_eq!(Decision::keep(None).to_string(), "keep alive (no limit)");
    assert_eq!(
        Decision::Close(CloseReason::CloseDelimitedBody).to_string(),
        format!("close: {}", CloseReason::CloseDelimitedBody.explain())
    );
}

#[test]
fn the_request_side_is_read_from_the_request_head() {
    let mut request = HeaderMap::new();
    request.insert("connection", HeaderValue::from_static("close"));
    let response = head(&[("content-length", "3")]);
    let ex = Exchange::framed(&Method::HEAD, &request, &response)
        .map(|ex| ex.with_request_version(Version::HTTP_10));
    let ex = ex.expect("framed");
    assert_eq!(ex.method(), Method::HEAD);
    assert_eq!(ex.request_version(), Version::HTTP_10);
    assert!(ex.request_body_complete());
    assert_eq!(
        DefaultReuseStrategy.reuse(&ex),
        Err(CloseReason::RequestConnectionClose)
    );
}
