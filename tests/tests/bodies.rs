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

/// RFC 9110 §9.3.8: a client must not send content in a `TRACE` request (the server
/// echoes it back). Refused before anything is sent.
#[test]
fn a_trace_request_with_content_is_refused_before_it_is_sent()
-> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::builder()
        .route(hcx_testserver::Method::TRACE, "/", Reply::ok())
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = Request::builder()
        .method(http::Method::TRACE)
        .uri(server.url("/"))
        .body(Body::from("secret"))?;
    let error = client
        .execute(request)
        .err()
        .ok_or("a TRACE with content was sent")?;
    assert_eq!(error.kind(), hcx::ErrorKind::InvalidRequest, "{error:?}");
    assert_eq!(server.stats().requests_received, 0);
    // Without content it goes.
    let request = Request::builder()
        .method(http::Method::TRACE)
        .uri(server.url("/"))
        .body(Body::empty())?;
    assert_eq!(client.execute(request)?.status(), 200);
    Ok(())
}

/// A sized reader is exactly its length: one with more bytes than declared fails with
/// `RequestBody` before the body's last bytes go out, so the server never takes the
/// cut body for the whole one; `Read::take` sends part of a reader on purpose.
#[test]
fn a_sized_reader_longer_than_declared_fails_and_take_sends_part()
-> Result<(), Box<dyn std::error::Error>> {
    let server = TestServer::builder()
        .route(hcx_testserver::Method::PUT, "/", Reply::ok())
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    for (bytes, declared) in [(&b"0123456789"[..], 5), (&b"x"[..], 0)] {
        let request = Request::put(server.url("/")).body(Body::sized_reader(
            std::io::Cursor::new(bytes.to_vec()),
            declared,
        ))?;
        let error = client
            .execute(request)
            .err()
            .ok_or("a reader longer than declared went out cut")?;
        assert_eq!(error.kind(), hcx::ErrorKind::RequestBody, "{error:?}");
    }
    assert_eq!(server.stats().requests_received, 0, "no request seen whole");
    let request = Request::put(server.url("/")).body(Body::sized_reader(
        std::io::Cursor::new(b"0123456789".to_vec()).take(5),
        5,
    ))?;
    assert_eq!(client.execute(request)?.status(), 200);
    let seen = server.last_request().ok_or("no request")?;
    assert_eq!(&seen.body[..], b"01234");
    Ok(())
}
