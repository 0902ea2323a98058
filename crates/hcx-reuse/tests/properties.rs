//! Properties over arbitrary heads: the strategies never panic on any header bytes, and
//! a few rules hold whatever else the message says.

use hcx_h1::{BodyFraming, ResponseHead};
use hcx_reuse::{
    CloseReason, ConnectionReuseStrategy, Decision, DefaultKeepAliveStrategy, DefaultReuseStrategy,
    Exchange, KeepAlive, KeepAliveStrategy, decide, keep_alive_timeout,
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
        let _ = keep_alive_timeout(&response);
        let head = ResponseHead::new(version, status, response);
        // A head the codec cannot frame never reaches the strategies.
        let Ok(ex) = Exchange::framed(&method, &request, &head) else { return Ok(()) };
        let ex = ex.with_request_body_complete(complete);
        let reuse = DefaultReuseStrategy.reuse(&ex);
        let _ = keep.keep_alive(&ex).to_string();
        let decision = decide(&DefaultReuseStrategy, &keep, &ex);
        let _ = decision.to_string();
        // Once the reuse strategy says close, nothing re-enables keep-alive.
        if let Err(reason) = reuse {
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
        let head = ResponseHead::new(version, status, response);
        let Ok(ex) = Exchange::framed(&method, &request, &head) else { return Ok(()) };
        prop_assert!(DefaultReuseStrategy.reuse(&ex).is_err());
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
        let head = ResponseHead::new(version, status, response);
        let Ok(ex) = Exchange::framed(&method, &request, &head) else { return Ok(()) };
        // The framing verdict, when there is one, is reported first.
        let expected = ex.framing().close.unwrap_or(CloseReason::RequestConnectionClose);
        prop_assert_eq!(DefaultReuseStrategy.reuse(&ex), Err(expected));
    }

    #[test]
    fn incomplete_request_body_never_reuses(
        method in method(),
        request in headers(),
        status in status(),
        version in version(),
        response in headers(),
    ) {
        let head = ResponseHead::new(version, status, response);
        let Ok(ex) = Exchange::framed(&method, &request, &head) else { return Ok(()) };
        let ex = ex.with_request_body_complete(false);
        prop_assert!(DefaultReuseStrategy.reuse(&ex).is_err());
    }

    #[test]
    fn a_reused_connection_always_has_a_body_the_message_delimits(
        method in method(),
        request in headers(),
        status in status(),
        version in version(),
        response in headers(),
    ) {
        let head = ResponseHead::new(version, status, response);
        let Ok(ex) = Exchange::framed(&method, &request, &head) else { return Ok(()) };
        if DefaultReuseStrategy.reuse(&ex).is_ok() {
            let framing = ex.framing();
            prop_assert!(framing.close.is_none(), "{:?}", framing);
            prop_assert!(framing.body != BodyFraming::CloseDelimited, "{:?}", framing);
        }
    }

    #[test]
    fn keep_alive_never_exceeds_the_cap(
        response in headers(),
        keep in strategy(),
    ) {
        let request = HeaderMap::new();
        let head = ResponseHead::new(Version::HTTP_11, StatusCode::OK, response);
        let Ok(ex) = Exchange::framed(&Method::GET, &request, &head) else { return Ok(()) };
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
        let head = ResponseHead::new(Version::HTTP_11, StatusCode::OK, response);
        let Ok(ex) = Exchange::framed(&Method::GET, &request, &head) else { return Ok(()) };
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
