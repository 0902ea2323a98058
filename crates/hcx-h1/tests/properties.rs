//! Properties over arbitrary input: nothing panics, pieces do not change results,
//! and what the encoder frames the decoder gives back unchanged.

#[path = "support/check_response.rs"]
mod check_response;

use bytes::BytesMut;
use hcx_h1::{BodyDecoder, BodyEncoder, BodyFraming, Limits, RequestFraming, parse_response_head};
use http::{HeaderMap, HeaderName, HeaderValue};
use proptest::collection::vec;
use proptest::prelude::*;

/// Decodes `wire` fed in pieces of the given sizes (cycled), then EOF.
fn decode_in_pieces(
    framing: BodyFraming,
    wire: &[u8],
    pieces: &[usize],
) -> (Vec<u8>, BodyDecoder, usize) {
    let mut decoder = BodyDecoder::new(framing, &Limits::default());
    let mut buf = BytesMut::new();
    let mut body = Vec::new();
    let mut fed = 0;
    let mut sizes = pieces.iter().copied().cycle();
    loop {
        let data = decoder.decode_buf(&mut buf).expect("valid framing");
        body.extend_from_slice(&data);
        if decoder.is_done() {
            break;
        }
        if data.is_empty() {
            if fed == wire.len() {
                decoder.decode_eof().expect("complete body");
                break;
            }
            let n = sizes.next().unwrap_or(1).max(1).min(wire.len() - fed);
            buf.extend_from_slice(&wire[fed..fed + n]);
            fed += n;
        }
    }
    let left = buf.len() + (wire.len() - fed);
    (body, decoder, left)
}

/// Trailer fields the encoder accepts: lower-case names outside the forbidden set.
fn trailers() -> impl Strategy<Value = HeaderMap> {
    vec(("x-[a-z0-9-]{1,12}", "[ -~]{0,20}"), 0..4).prop_map(|fields| {
        let mut map = HeaderMap::new();
        for (name, value) in fields {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("valid name");
            let value = HeaderValue::from_str(value.trim()).expect("printable value");
            map.append(name, value);
        }
        map
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(512))]

    #[test]
    fn arbitrary_bytes_never_panic_and_pieces_agree(input in vec(any::<u8>(), 0..600)) {
        let _ = check_response::check(&input);
    }

    #[test]
    fn response_like_bytes_never_panic_and_pieces_agree(
        head in prop::sample::select(vec![
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
            "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
            "HTTP/1.0 200 OK\r\n\r\n",
            "HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
        ]),
        tail in vec(prop::sample::select(b"0123456789abcdefxz;=\" \\\t\r\n:".to_vec()), 0..120),
    ) {
        let mut input = head.as_bytes().to_vec();
        input.extend_from_slice(&tail);
        let _ = check_response::check(&input);
    }

    #[test]
    fn every_decoder_survives_arbitrary_bytes(input in vec(any::<u8>(), 0..300), split in 0usize..300) {
        for framing in [BodyFraming::None, BodyFraming::Length(17), BodyFraming::Chunked, BodyFraming::CloseDelimited] {
            let mut decoder = BodyDecoder::new(framing, &Limits::default().with_max_head_bytes(64));
            let split = split.min(input.len());
            for part in [&input[..split], &input[split..]] {
                let mut at = 0;
                while at < part.len() {
                    match decoder.decode(&part[at..]) {
                        Ok(step) => {
                            prop_assert!(step.data.end <= step.consumed);
                            prop_assert!(step.consumed <= part.len() - at);
                            if step.consumed == 0 { break; }
                            at += step.consumed;
                        }
                        Err(_) => break,
                    }
                }
            }
            let _ = decoder.decode_eof();
        }
    }

    #[test]
    fn head_parser_never_panics_on_http_prefixed_bytes(rest in vec(any::<u8>(), 0..300)) {
        let mut input = b"HTTP/1.1 ".to_vec();
        input.extend_from_slice(&rest);
        let _ = parse_response_head(&input, &Limits::default().with_max_headers(4));
    }

    #[test]
    fn chunked_roundtrip_for_arbitrary_chunkings(
        chunks in vec(vec(any::<u8>(), 0..200), 0..12),
        pieces in vec(1usize..40, 1..8),
        trailers in trailers(),
    ) {
        let mut wire = Vec::new();
        let mut encoder = BodyEncoder::new(RequestFraming::Chunked);
        for chunk in &chunks {
            encoder.encode(chunk, &mut wire).expect("chunked takes any data");
        }
        encoder.finish_with_trailers(&trailers, &mut wire).expect("allowed trailers");
        wire.extend_from_slice(b"NEXT");

        let (body, mut decoder, left) = decode_in_pieces(BodyFraming::Chunked, &wire, &pieces);
        prop_assert_eq!(body, chunks.concat());
        prop_assert_eq!(left, 4, "the decoder stops at the end of the body");
        let got = decoder.take_trailers().unwrap_or_default();
        prop_assert_eq!(got, trailers);
    }

    #[test]
    fn length_roundtrip_for_arbitrary_chunkings(
        chunks in vec(vec(any::<u8>(), 0..200), 0..12),
        pieces in vec(1usize..40, 1..8),
    ) {
        let data = chunks.concat();
        let mut wire = Vec::new();
        let mut encoder = BodyEncoder::new(RequestFraming::Length(data.len() as u64));
        for chunk in &chunks {
            encoder.encode(chunk, &mut wire).expect("within the length");
        }
        encoder.finish(&mut wire).expect("exactly the length");
        prop_assert_eq!(&wire, &data);
        wire.extend_from_slice(b"NEXT");
        let (body, _, left) = decode_in_pieces(BodyFraming::Length(data.len() as u64), &wire, &pieces);
        prop_assert_eq!(body, data);
        prop_assert_eq!(left, 4);
    }
}
