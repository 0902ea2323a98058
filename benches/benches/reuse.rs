//! The default reuse decision on a typical exchange: a GET with a few request headers,
//! an HTTP/1.1 200 with a Content-Length and the usual response headers.
//!
//! `cargo bench -p hcx-benches --bench reuse`; figures in `docs/benchmarks.md`.

use criterion::{Criterion, black_box, criterion_group, criterion_main};
use hcx_h1::{ResponseHead, response_framing};
use hcx_reuse::{
    ConnectionReuseStrategy, DefaultKeepAliveStrategy, DefaultReuseStrategy, Exchange, decide,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};

fn typical_heads() -> (HeaderMap, HeaderMap) {
    let mut request = HeaderMap::new();
    request.insert("host", HeaderValue::from_static("api.example.com"));
    request.insert("user-agent", HeaderValue::from_static("hcx/0.1"));
    request.insert("accept", HeaderValue::from_static("application/json"));
    request.insert("accept-encoding", HeaderValue::from_static("gzip"));

    let mut response = HeaderMap::new();
    response.insert(
        "date",
        HeaderValue::from_static("Tue, 01 Apr 2025 12:00:00 GMT"),
    );
    response.insert("server", HeaderValue::from_static("nginx"));
    response.insert("content-type", HeaderValue::from_static("application/json"));
    response.insert("content-length", HeaderValue::from_static("1234"));
    response.insert("cache-control", HeaderValue::from_static("no-cache"));
    response.insert("connection", HeaderValue::from_static("keep-alive"));
    (request, response)
}

/// The strategy alone, given the codec's framing verdict.
fn reuse_decision_typical(c: &mut Criterion) {
    let (request, response) = typical_heads();
    let head = ResponseHead::new(Version::HTTP_11, StatusCode::OK, response);
    let exchange = Exchange::framed(&Method::GET, &request, &head).expect("framed");
    c.bench_function("reuse_decision_typical", |b| {
        b.iter(|| DefaultReuseStrategy.reuse(black_box(&exchange)))
    });
}

/// What the engine pays per response: the codec frames the head once, the strategy
/// reads the verdict.
fn framing_then_reuse_typical(c: &mut Criterion) {
    let (request, response) = typical_heads();
    let head = ResponseHead::new(Version::HTTP_11, StatusCode::OK, response);
    c.bench_function("framing_then_reuse_typical", |b| {
        b.iter(|| {
            let head = black_box(&head);
            let framing = response_framing(&Method::GET, head).expect("framed");
            DefaultReuseStrategy.reuse(&Exchange::new(&Method::GET, &request, head, framing))
        })
    });
}

fn reuse_and_keep_alive_typical(c: &mut Criterion) {
    let (request, mut response) = typical_heads();
    response.insert("keep-alive", HeaderValue::from_static("timeout=5, max=100"));
    let head = ResponseHead::new(Version::HTTP_11, StatusCode::OK, response);
    let exchange = Exchange::framed(&Method::GET, &request, &head).expect("framed");
    let keep_alive = DefaultKeepAliveStrategy::new();
    c.bench_function("reuse_and_keep_alive_typical", |b| {
        b.iter(|| decide(&DefaultReuseStrategy, &keep_alive, black_box(&exchange)))
    });
}

criterion_group!(
    benches,
    reuse_decision_typical,
    framing_then_reuse_typical,
    reuse_and_keep_alive_typical
);
criterion_main!(benches);
