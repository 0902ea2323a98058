//! The path every fuzz input and corpus file takes: a response read whole and in
//! pieces, through both head parsers, checked for agreement. Shared by
//! `fuzz/fuzz_targets/response.rs` and `tests/corpus_replay.rs`.

use bytes::BytesMut;
use hcx_h1::{
    CompleteResponse, Error, Limits, parse_response_head, read_response, take_response_head,
};
use http::Method;

/// Limits small enough for a fuzzer to reach them.
pub fn limits() -> Limits {
    Limits::default()
        .with_max_head_bytes(2048)
        .with_max_headers(16)
        .with_max_informational(4)
}

/// Reads `input` as the response to a GET, whole and in pieces of 1 and 7 bytes, and
/// to a HEAD; panics if the ways disagree. Returns the GET result.
pub fn check(input: &[u8]) -> Result<CompleteResponse, Error> {
    let limits = limits();

    // The copying and the sharing head parsers agree.
    let copied = parse_response_head(input, &limits);
    let mut buf = BytesMut::from(input);
    let shared = take_response_head(&mut buf, &limits);
    match (&copied, &shared) {
        (Ok(Some((a, len))), Ok(Some(b))) => {
            assert_eq!(a, b, "head parsers disagree");
            assert_eq!(
                input.len() - len,
                buf.len(),
                "head parsers consumed differently"
            );
        }
        (Ok(None), Ok(None)) => {}
        (Err(a), Err(b)) => assert_eq!(a, b),
        (a, b) => panic!("head parsers disagree: {a:?} vs {b:?}"),
    }

    let whole = read_response(&Method::GET, input, input.len(), &limits);
    for piece in [1, 7] {
        let pieces = read_response(&Method::GET, input, piece, &limits);
        match (&whole, &pieces) {
            (Ok(a), Ok(b)) => assert_eq!(a, b, "pieces of {piece} disagree"),
            (Err(a), Err(b)) => assert_eq!(a.kind(), b.kind(), "pieces of {piece}: {a} vs {b}"),
            (a, b) => panic!("pieces of {piece} disagree: {a:?} vs {b:?}"),
        }
    }
    if let Ok(response) = &whole {
        assert!(response.consumed <= input.len());
        if let hcx_h1::BodyFraming::Length(n) = response.framing.body {
            assert_eq!(response.body.len() as u64, n);
        }
    }

    // A HEAD response never has a body, whatever the fields say.
    if let Ok(head) = read_response(&Method::HEAD, input, input.len(), &limits) {
        assert!(head.body.is_empty());
    }
    whole
}
