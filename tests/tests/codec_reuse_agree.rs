//! The engine asks two crates about every response: `hcx-h1` for the framing (and any
//! framing fact that forbids reuse) and `hcx-reuse` for the reuse decision. They must
//! never disagree in the unsafe direction: whenever the reuse strategy keeps the
//! connection, the codec must be able to delimit the body and see no reason to close.
//! (Found missing in review: a 2xx to CONNECT was "keep" for one and a tunnel for the
//! other.)

use hcx_h1::{BodyFraming, Limits, parse_response_head, response_framing};
use hcx_reuse::{ConnectionReuseStrategy, DefaultReuseStrategy, Exchange};
use http::{HeaderMap, Method};
use proptest::prelude::*;

const METHODS: [Method; 5] = [
    Method::GET,
    Method::HEAD,
    Method::POST,
    Method::CONNECT,
    Method::OPTIONS,
];
const STATUSES: [u16; 12] = [100, 101, 103, 200, 201, 204, 205, 206, 304, 404, 407, 500];
const FIELDS: [&str; 16] = [
    "Content-Length: 5",
    "Content-Length: 0",
    "Content-Length: 05",
    "Content-Length: 5, 5",
    "Content-Length: -1",
    "Content-Length: 7",
    "Transfer-Encoding: chunked",
    "Transfer-Encoding: gzip",
    "Transfer-Encoding: gzip, chunked",
    "Transfer-Encoding: chunked, chunked",
    "Connection: close",
    "Connection: keep-alive",
    "Connection: Keep-Alive, Upgrade",
    "Proxy-Connection: keep-alive",
    "Keep-Alive: timeout=5",
    "X-Other: 1",
];

proptest! {
    #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

    #[test]
    fn reuse_keep_alive_implies_a_delimited_body_the_codec_agrees_with(
        method in 0..METHODS.len(),
        status in 0..STATUSES.len(),
        http10 in any::<bool>(),
        fields in proptest::collection::vec(0..FIELDS.len(), 0..4),
    ) {
        let method = &METHODS[method];
        let mut head = format!("HTTP/1.{} {} X\r\n", if http10 { 0 } else { 1 }, STATUSES[status]);
        for f in &fields {
            head.push_str(FIELDS[*f]);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        let Ok(Some((parsed, _))) = parse_response_head(head.as_bytes(), &Limits::default()) else {
            return Ok(()); // the codec refuses the head: the engine closes, nothing to compare
        };
        let request = HeaderMap::new();
        let exchange = Exchange::new(method, &request, parsed.status, parsed.version, &parsed.headers);
        let reuse = DefaultReuseStrategy.reuse(&exchange);
        if reuse.is_keep_alive() {
            let framing = response_framing(method, &parsed);
            prop_assert!(framing.is_ok(), "reuse keeps, codec errs: {head:?} → {framing:?}");
            let framing = framing.unwrap();
            prop_assert_eq!(framing.close, None, "reuse keeps, codec closes: {:?}", head);
            prop_assert!(
                !matches!(framing.body, BodyFraming::CloseDelimited),
                "reuse keeps a read-to-close body: {:?}", head
            );
        }
    }
}
