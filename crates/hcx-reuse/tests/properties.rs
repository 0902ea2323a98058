//! Properties over arbitrary heads: the strategies never panic on any header bytes, and
//! a few rules hold whatever else the message says.

use hcx_reuse::{
    CloseReason, ConnectionReuseStrategy, Decision, DefaultKeepAliveStrategy, DefaultReuseStrategy,
    Exchange, KeepAlive, KeepAliveStrategy, Reuse, decide, keep_alive_timeout,
};
use http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Version};
use proptest::prelude::*;
use std::time::Duration;

/// Every byte a `HeaderValue` can hold: HTAB, visible ASCII, SP, and obs-text.
fn value_byte() -> impl Strategy<Value = u8> {
    prop_oneof![Just(b'\t'), 0x20u8..=0x7e, 0x80u8..=0xff]
}

/// Values built from fragments the parsers care about, mixed with arbitrary bytes, so
/// the interesting branches are reached and not only the "junk" ones.
fn header_value() -> impl Strategy<Value = Vec<u8>> {
    let fragment = prop_oneof![
        Just(b"close".to_vec()),
        Just(b"keep-alive".to_vec()),
        Just(b"chunked".to_vec()),
        Just(b"gzip".to_vec()),
        Just(b"timeout".to_vec()),
        Just(b"max".to_vec()),
        Just(b"=".to_vec()),
        Just(b",".to_vec()),
        Just(b";".to_vec()),
        Just(b"\"".to_vec()),
        Just(b" ".to_vec()),
        Just(b"-".to_vec()),
        Just(b"18446744073709551616".to_vec()),
        "[0-9]{1,25}".prop_map(String::into_bytes),
        prop::collection::vec(value_byte(), 0..8),
    ];
    prop::collection::vec(fragment, 0..8).prop_map(|parts| parts.concat())
}

fn header_name() -> impl Strategy<Value = HeaderName> {
    prop_oneof![
        Just(HeaderName::from_static("connection")),
        Just(HeaderName::from_static("proxy-connection")),
        Just(HeaderName::from_static("content-length")),
        Just(HeaderName::from_static("transfer-encoding")),
        Just(HeaderName::from_static("keep-alive")),
        Just(HeaderName::from_static("x-other")),
    ]
}

fn headers() -> impl Strategy<Value = HeaderMap> {
    prop::collection::vec((header_name(), header_value()), 0..8).prop_map(|fields| {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            // Cannot fail for the bytes generated above; skipped rather than unwrapped.
            if let Ok(value) = HeaderValue::from_bytes(&value) {
                map.append(name, value);
            }
        }
        map
    })
}

fn method() -> impl Strategy<Value = Method> {
    prop_oneof![
        Just(Method::GET),
        Just(Method::HEAD),
        Just(Method::POST),
        Just(Method::CONNECT),
        Just(Method::OPTIONS),
    ]
}

fn version() -> impl Strategy<Value = Version> {
    prop_oneof![
        Just(Version::HTTP_09),
        Just(Version::HTTP_10),
        Just(Version::HTTP_11),
        Just(Version::HTTP_2),
        Just(Version::HTTP_3),
    ]
}

fn status() -> impl Strategy<Value = StatusCode> {
    (100u16..=999).prop_map(|code| StatusCode::from_u16(code).unwrap_or(StatusCode::OK))
}

fn strategy() -> impl Strategy<Value = DefaultKeepAliveStrategy> {
    (
        proptest::option::of(0u64..100_000),
        proptest::option::of(0u64..100_000),
    )
        .prop_map(|(default, max)| {
            let mut s = DefaultKeepAliveStrategy::new();
            s = match default {
                Some(ms) => s.with_default(Duration::from_millis(ms)),
                None => s.with_default_unlimited(),
            };
            if let Some(ms) = max {
                s = s.with_max(Duration::from_millis(ms));
            }
            s
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn strategies_never_panic_on_arbitrary_heads(
        method in method(),
        request in headers(),
        status in status(),
        version in version(),
        response in headers(),
        complete in any::<bool>(),
        keep in strategy(),
    ) {
        let ex = Exchange::new(&method, &request, status, version, &response)
            .with_request_body_complete(complete);
        let reuse = DefaultReuseStrategy.reuse(&ex);
        let _ = reuse.to_string();
        let _ = keep.keep_alive(&ex).to_string();
        let _ = keep_alive_timeout(&response);
        let decision = decide(&DefaultReuseStrategy, &keep, &ex);
        let _ = decision.to_string();
        // Once the reuse strategy says close, nothing re-enables keep-alive.
        if let Reuse::Close(reason) = reuse {
            prop_assert_eq!(decision, Decision::Close(reason));
        }
    }

    #[test]
    fn response_close_token_always_closes(
        method in method(),
        status in status(),
        version in version(),
        mut response in headers(),
    ) {
        response.remove("connection");
        response.append("connection", HeaderValue::from_static("keep-alive, close"));
        let request = HeaderMap::new();
        let ex = Exchange::new(&method, &request, status, version, &response);
        prop_assert!(!DefaultReuseStrategy.reuse(&ex).is_keep_alive());
    }

    #[test]
    fn request_close_token_always_closes(
        method in method(),
        mut request in headers(),
        status in status(),
        version in version(),
        response in headers(),
    ) {
        request.remove("connection");
        request.append("connection", HeaderValue::from_static("close"));
        let ex = Exchange::new(&method, &request, status, version, &response);
        prop_assert_eq!(
            DefaultReuseStrategy.reuse(&ex),
            Reuse::Close(CloseReason::RequestConnectionClose)
        );
    }

    #[test]
    fn incomplete_request_body_never_reuses(
        method in method(),
        request in headers(),
        status in status(),
        version in version(),
        response in headers(),
    ) {
        let ex = Exchange::new(&method, &request, status, version, &response)
            .with_request_body_complete(false);
        prop_assert!(!DefaultReuseStrategy.reuse(&ex).is_keep_alive());
    }

    #[test]
    fn reused_body_response_is_framed_by_exactly_one_mechanism(
        request in headers(),
        status in (200u16..=599).prop_filter("has a body", |s| *s != 204 && *s != 304),
        version in version(),
        response in headers(),
    ) {
        let status = StatusCode::from_u16(status).unwrap_or(StatusCode::OK);
        let ex = Exchange::new(&Method::GET, &request, status, version, &response);
        if DefaultReuseStrategy.reuse(&ex).is_keep_alive() {
            let lengths = response.get_all("content-length").iter().count();
            let te = response.contains_key("transfer-encoding");
            prop_assert!(te != (lengths == 1), "lengths={lengths} te={te}");
            prop_assert!(lengths <= 1);
        }
    }

    #[test]
    fn keep_alive_never_exceeds_the_cap(
        response in headers(),
        keep in strategy(),
    ) {
        let request = HeaderMap::new();
        let ex = Exchange::new(&Method::GET, &request, StatusCode::OK, Version::HTTP_11, &response);
        if let Some(max) = keep.max_timeout() {
            match keep.keep_alive(&ex) {
                KeepAlive::For(d) => prop_assert!(d <= max),
                KeepAlive::Unlimited => prop_assert!(false, "unlimited despite a cap"),
                KeepAlive::DoNotKeep => {}
            }
        }
    }

    #[test]
    fn server_timeout_zero_is_never_kept(
        mut response in headers(),
        keep in strategy(),
    ) {
        response.remove("keep-alive");
        response.insert("keep-alive", HeaderValue::from_static("timeout=0, max=100"));
        let request = HeaderMap::new();
        let ex = Exchange::new(&Method::GET, &request, StatusCode::OK, Version::HTTP_11, &response);
        prop_assert_eq!(keep.keep_alive(&ex), KeepAlive::DoNotKeep);
    }

    #[test]
    fn keep_alive_configuration_round_trips_through_text(keep in strategy()) {
        let text = keep.to_string();
        let parsed: Result<DefaultKeepAliveStrategy, _> = text.parse();
        prop_assert_eq!(parsed, Ok(keep), "{}", text);
    }

    #[test]
    fn configuration_parser_never_panics(text in "\\PC{0,40}") {
        let _ = text.parse::<DefaultKeepAliveStrategy>();
        let _ = hcx_reuse::parse_duration(&text);
    }
}
