//! Response bodies of every framing, size and read pattern: read whole or dropped
//! part-way, the connection is always given back, and nothing leaks.

mod common;

use std::io::Read;

use common::SAFETY;
use hcx::{Body, Client};
use hcx_testserver::{Reply, TestServer};
use http::Request;
use proptest::prelude::*;
use proptest::test_runner::TestCaseError;

fn fail(e: impl std::fmt::Display) -> TestCaseError {
    TestCaseError::fail(e.to_string())
}

/// The reply the request's `x-*` headers describe: a generated body of `x-len` bytes,
/// framed by length, chunked (in `x-chunk`-byte chunks) or close-delimited.
fn described(request: &hcx_testserver::RecordedRequest) -> Reply {
    let number = |name: &str| {
        request
            .header(name)
            .and_then(|v| v.parse::<usize>().ok())
            .unwrap_or(0)
    };
    let reply = Reply::ok().generated_body(number("x-len"));
    match request.header("x-mode") {
        Some("chunked") => reply.chunk_size(number("x-chunk")),
        Some("close") => reply.close_delimited(),
        _ => reply,
    }
}

fn generated(len: usize) -> Vec<u8> {
    (0..len).map(|i| b'a' + (i % 26) as u8).collect()
}

#[derive(Debug, Clone, Copy)]
enum Mode {
    Length,
    Chunked,
    Close,
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 48, ..ProptestConfig::default() })]

    #[test]
    fn every_body_is_read_whole_or_dropped_without_leaking(
        len in prop_oneof![0usize..64, 0usize..20_000, 60_000usize..200_000],
        mode in prop_oneof![Just(Mode::Length), Just(Mode::Chunked), Just(Mode::Close)],
        chunk in 1usize..5_000,
        read_size in prop_oneof![1usize..16, 1usize..70_000],
        stop_after in proptest::option::of(0usize..100_000),
    ) {
        let server = TestServer::builder().default_fn(described).start().map_err(fail)?;
        let client = Client::builder().response_timeout(Some(SAFETY)).build().map_err(fail)?;
        let mode_name = match mode {
            Mode::Length => "length",
            Mode::Chunked => "chunked",
            Mode::Close => "close",
        };
        let request = Request::get(server.url("/"))
            .header("x-len", len.to_string())
            .header("x-mode", mode_name)
            .header("x-chunk", chunk.to_string())
            .body(Body::empty())
            .map_err(fail)?;
        let mut body = client.execute(request).map_err(fail)?.into_body();

        let mut received = Vec::new();
        let mut buf = vec![0u8; read_size];
        let stopped = loop {
            if stop_after.is_some_and(|stop| received.len() >= stop) {
                break true;
            }
            let n = body.read(&mut buf).map_err(fail)?;
            if n == 0 {
                break false;
            }
            received.extend_from_slice(&buf[..n]);
        };
        let expected = generated(len);
        prop_assert_eq!(&received[..], &expected[..received.len()]);
        if stopped {
            drop(body); // drained within the limits, or closed
        } else {
            prop_assert_eq!(received.len(), len);
            prop_assert!(body.is_end());
            // Released at the end: before the caller even drops the body.
            prop_assert_eq!(client.stats().pool.leased, 0);
            let kept = usize::from(!matches!(mode, Mode::Close));
            prop_assert_eq!(client.stats().pool.available, kept);
        }
        prop_assert_eq!(client.stats().pool.leased, 0);

        // The pool is healthy: the next request works.
        let request = Request::get(server.url("/"))
            .header("x-len", "5")
            .body(Body::empty())
            .map_err(fail)?;
        let next = client.execute(request).map_err(fail)?.into_body().into_string().map_err(fail)?;
        prop_assert_eq!(next, "abcde");
        prop_assert_eq!(client.stats().pool.leased, 0);
    }
}

/// A `Read` that claims more bytes than the buffer it was given.
struct LyingReader;

impl Read for LyingReader {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        Ok(buf.len() + 1)
    }
}

#[test]
fn a_reader_that_breaks_its_contract_is_an_error_not_a_panic()
-> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::builder()
        .route_fn(hcx_testserver::Method::POST, "/", described)
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    for body in [
        Body::reader(LyingReader),
        Body::sized_reader(LyingReader, 100),
    ] {
        let request = Request::post(server.url("/")).body(body)?;
        let err = client
            .execute(request)
            .expect_err("a lying reader fails the exchange");
        assert!(
            err.kind() == hcx::ErrorKind::RequestBody && err.to_string().contains("claimed"),
            "{err}"
        );
    }
    assert_eq!(client.stats().pool.leased, 0, "the connection was not kept");
    assert_eq!(client.stats().pool.available, 0, "nor pooled");
    Ok(())
}
