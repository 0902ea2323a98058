//! The cases where the codec and the reuse strategy used to disagree, pinned end to
//! end: the framing is decided once (by `hcx_h1::response_framing`), the body is
//! decoded by that decision, the reuse decision consumes it, and the response's
//! `Decision` names the one answer. The same head run through the public strategy
//! (`Exchange::framed` + `DefaultReuseStrategy`) gives the same answer.

mod common;

use common::{SAFETY, TestResult, client, decision, info};
use hcx::codec::{BodyFraming, Limits, parse_response_head, response_framing};
use hcx::http::Method;
use hcx::{
    CloseReason, ConnectionReuseStrategy, Decision, DefaultReuseStrategy, ErrorKind, Exchange,
    ProtocolErrorKind,
};
use hcx_testserver::{Reply, TestServer};

/// The codec's framing and the strategy's answer for `raw`, computed offline from the
/// same bytes the server sends.
fn offline(raw: &str) -> Result<(BodyFraming, Result<(), CloseReason>), String> {
    let (head, _) = parse_response_head(raw.as_bytes(), &Limits::default())
        .map_err(|e| e.to_string())?
        .ok_or("incomplete head")?;
    let framing = response_framing(&Method::GET, &head).map_err(|e| e.to_string())?;
    let request = hcx::http::HeaderMap::new();
    let exchange = Exchange::new(&Method::GET, &request, &head, framing);
    Ok((framing.body, DefaultReuseStrategy.reuse(&exchange)))
}

fn server(raw: &'static str) -> std::io::Result<TestServer> {
    TestServer::builder().default_reply(Reply::raw(raw)).start()
}

/// `raw` is refused by the codec, end to end (`kind`, the connection closed as a failed
/// exchange) and offline (an error that says `says`).
fn refused_by_the_codec(raw: &'static str, kind: ProtocolErrorKind, says: &str) -> TestResult {
    let server = server(raw)?;
    let client = client()?;
    let error = client
        .get(server.url("/"))
        .err()
        .ok_or("expected an error")?;
    assert_eq!(error.kind(), ErrorKind::Protocol);
    assert_eq!(error.protocol_error(), Some(kind));
    assert!(offline(raw).is_err_and(|e| e.contains(says)));
    assert_eq!(client.stats().closes.get(CloseReason::FailedExchange), 1);
    assert_eq!(client.stats().pool.available, 0);
    Ok(())
}

#[test]
fn repeated_equal_content_lengths_frame_one_body_and_keep_the_connection() -> TestResult {
    const RAW: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\nhello";
    let server = server(RAW)?;
    let client = client()?;
    let response = client.get(server.url("/"))?;
    assert_eq!(
        decision(&response),
        Some(Decision::keep(Some(
            hcx::DefaultKeepAliveStrategy::DEFAULT_TIMEOUT
        )))
    );
    assert_eq!(response.into_body().into_string()?, "hello");
    assert_eq!(offline(RAW)?, (BodyFraming::Length(5), Ok(())));
    // Kept, and reusable: the next request runs on the same connection.
    let again = client.get(server.url("/"))?;
    assert!(info(&again).reused);
    assert_eq!(again.into_body().into_string()?, "hello");
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn different_content_lengths_are_refused_by_the_codec_before_any_strategy() -> TestResult {
    const RAW: &str = "HTTP/1.1 200 OK\r\nContent-Length: 5, 7\r\n\r\nhello";
    refused_by_the_codec(RAW, ProtocolErrorKind::ConflictingContentLength, "5 and 7")
}

#[test]
fn content_length_with_transfer_encoding_is_read_chunked_and_closed() -> TestResult {
    const RAW: &str = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n\
                       3\r\nabc\r\n0\r\n\r\n";
    let server = server(RAW)?;
    let client = client()?;
    let response = client.get(server.url("/"))?;
    let reason = CloseReason::ContentLengthWithTransferEncoding;
    assert_eq!(decision(&response), Some(Decision::Close(reason)));
    assert_eq!(response.into_body().into_string()?, "abc");
    assert_eq!(offline(RAW)?, (BodyFraming::Chunked, Err(reason)));
    assert_eq!(client.stats().closes.get(reason), 1);
    Ok(())
}

#[test]
fn chunked_after_another_coding_is_read_chunked_and_kept() -> TestResult {
    // The body is gzip-then-chunked: the engine removes the chunking (its framing) and
    // hands over the gzip bytes as they are; the message delimits itself, so the
    // connection is kept.
    const RAW: &str = "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n\
                       4\r\nGZIP\r\n0\r\n\r\n";
    let server = server(RAW)?;
    let client = client()?;
    let response = client.get(server.url("/"))?;
    assert!(
        decision(&response).is_some_and(|d| d.is_keep()),
        "{:?}",
        decision(&response)
    );
    assert_eq!(response.into_body().into_vec()?, b"GZIP");
    assert_eq!(offline(RAW)?, (BodyFraming::Chunked, Ok(())));
    assert_eq!(client.stats().pool.available, 1);
    Ok(())
}

#[test]
fn an_http10_body_without_a_length_runs_to_the_close_and_says_so() -> TestResult {
    const RAW: &str = "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\nuntil the end";
    let server = TestServer::builder()
        .default_reply(Reply::raw(RAW).then_close())
        .start()?;
    let client = client()?;
    let response = client.get(server.url("/"))?;
    let reason = CloseReason::CloseDelimitedBody;
    assert_eq!(decision(&response), Some(Decision::Close(reason)));
    assert_eq!(response.into_body().into_string()?, "until the end");
    assert_eq!(offline(RAW)?, (BodyFraming::CloseDelimited, Err(reason)));
    server.wait_for_closed(1, SAFETY)?;
    assert_eq!(client.stats().closes.get(reason), 1);
    Ok(())
}

/// RFC 9112 §6.1: a `Transfer-Encoding` in an HTTP/1.0 response is faulty framing,
/// `keep-alive` or not. hcx refuses the response (docs/reuse.md's table of where it
/// differs from Apache says so): a protocol error, the body not read, the connection
/// closed as a failed exchange, never pooled.
#[test]
fn chunked_on_an_http10_response_with_keep_alive_is_refused_and_closed() -> TestResult {
    const RAW: &str = "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n\
                       3\r\nabc\r\n0\r\n\r\n";
    refused_by_the_codec(RAW, ProtocolErrorKind::InvalidTransferEncoding, "HTTP/1.0")
}

/// RFC 9112 §6.1: a client that receives an HTTP/1.0 message with a
/// `Transfer-Encoding` "MUST treat the message as if the framing is faulty ... and
/// close the connection after processing the message". A response that has no body
/// whatever its fields say (to HEAD, a 304) is still processed, but its connection is
/// not kept, `keep-alive` or not.
#[test]
fn a_bodiless_http10_response_with_transfer_encoding_is_read_and_not_kept() -> TestResult {
    const RAW: &str =
        "HTTP/1.0 304 Not Modified\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n";
    let server = server(RAW)?;
    let client = client()?;
    for method in [Method::HEAD, Method::GET] {
        let request = hcx::http::Request::builder()
            .method(method.clone())
            .uri(server.url("/"))
            .body(hcx::Body::empty())?;
        let response = client.execute(request)?;
        assert_eq!(response.status(), 304, "{method}");
        assert_eq!(
            decision(&response),
            Some(Decision::Close(CloseReason::InvalidBodilessResponse)),
            "{method}"
        );
        assert_eq!(response.into_body().into_string()?, "");
    }
    assert_eq!(client.stats().pool.available, 0);
    assert_eq!(server.stats().connections_accepted, 2);
    let (head, _) = parse_response_head(RAW.as_bytes(), &Limits::default())?.ok_or("head")?;
    let framing = response_framing(&Method::HEAD, &head)?;
    assert_eq!(framing.close, Some(CloseReason::InvalidBodilessResponse));
    Ok(())
}
