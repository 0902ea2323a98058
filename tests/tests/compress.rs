//! The COMPRESS element end to end: what is asked for, what is decoded, what is left
//! alone, and what happens to the connection when a body decodes, fails or explodes.

mod common;

use std::io::{Read, Write};
use std::time::Duration;

use common::{SAFETY, TestResult, client, close_reason, info};
use flate2::Compression;
use flate2::write::{DeflateEncoder, GzEncoder, ZlibEncoder};
use hcx::chain::DecompressionLimits;
use hcx::{Body, Client, CloseReason, ErrorKind, RequestConfig};
use hcx_testserver::{Method, Reply, TestServer};
use http::Request;
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH};

/// `Hello from brotli! ` ten times, produced once with Python's `brotli` package
/// (1.2.1): `brotli.compress(b"Hello from brotli! " * 10, quality=11)`.
const BR_HELLO: &[u8] = b"\x1b\xbd\x00\xf8\x1d\xa9\x53\x9f\xbb\x70\x0d\x82\x24\x26\xa7\x42\
    \xe8\x32\x8d\xed\xad\x14\xd1\xad\x44\x40\x89\xd5\x55\xd9\x0f\x00";

/// `Hello from zstd! ` ten times, produced once with the zstd CLI (v1.5.4):
/// `printf 'Hello from zstd! %.0s' {1..10} | zstd -19` (one frame, with its checksum).
const ZSTD_HELLO: &[u8] = b"\x28\xb5\x2f\xfd\x24\xaa\xc5\x00\x00\x88\x48\x65\x6c\x6c\x6f\x20\
    \x66\x72\x6f\x6d\x20\x7a\x73\x74\x64\x21\x20\x01\x00\x2d\x44\xcd\x25\x28\x5b\x82\x4c";

/// What the client asks for with every coding compiled in.
const ACCEPTED: &str = "gzip, deflate, br, zstd";

fn gzip(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data)?;
    encoder.finish()
}

fn zlib(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data)?;
    encoder.finish()
}

fn raw_deflate(data: &[u8]) -> std::io::Result<Vec<u8>> {
    let mut encoder = DeflateEncoder::new(Vec::new(), Compression::default());
    encoder.write_all(data)?;
    encoder.finish()
}

/// `len` bytes that do not compress (xorshift).
fn noise(len: usize) -> Vec<u8> {
    let mut state = 0x2545_f491_4f6c_dd1du64;
    (0..len)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            state.to_le_bytes()[0]
        })
        .collect()
}

fn text() -> Vec<u8> {
    b"It was the best of times, it was the worst of times. ".repeat(200)
}

/// A zstd skippable frame (RFC 8878 §3.1.2) holding `meta`: it decodes to nothing.
fn skippable_frame(meta: &[u8]) -> Vec<u8> {
    let mut frame = 0x184D_2A50u32.to_le_bytes().to_vec();
    let len = u32::try_from(meta.len()).unwrap_or(u32::MAX);
    frame.extend_from_slice(&len.to_le_bytes());
    frame.extend_from_slice(meta);
    frame
}

/// A reply whose body is `encoded`, labelled with `coding`.
fn encoded(coding: &str, encoded: Vec<u8>) -> Reply {
    Reply::ok().header("content-encoding", coding).body(encoded)
}

#[test]
fn gzip_bodies_are_asked_for_decoded_and_lose_their_encoding_headers() -> TestResult {
    let body = text();
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            encoded("gzip", gzip(&body)?).header("content-md5", "Q2hlY2sgSW50ZWdyaXR5IQ=="),
        )
        .start()?;
    let client = client()?;
    let response = client.get(server.url("/"))?;
    let headers = response.headers();
    assert!(headers.get(CONTENT_ENCODING).is_none());
    assert!(headers.get(CONTENT_LENGTH).is_none());
    assert!(headers.get("content-md5").is_none());
    assert_eq!(response.into_body().into_vec()?, body);
    let request = server.last_request().ok_or("no request recorded")?;
    assert_eq!(request.header("accept-encoding"), Some(ACCEPTED));
    Ok(())
}

/// COMPRESS looks for a `Content-Encoding` field before it reads the list: a body
/// without one is left as it came, one whose coding is in a second field is decoded.
#[test]
fn only_a_body_with_a_content_encoding_field_is_decoded_whichever_field_names_it() -> TestResult {
    let body = text();
    let server = TestServer::builder()
        .route(Method::GET, "/plain", Reply::ok().body(body.clone()))
        .route(
            Method::GET,
            "/second",
            encoded("identity", gzip(&body)?).header("content-encoding", "gzip"),
        )
        .start()?;
    let client = client()?;
    let plain = client.get(server.url("/plain"))?;
    let length = body.len().to_string();
    assert_eq!(
        plain.headers().get(CONTENT_LENGTH).map(|v| v.as_bytes()),
        Some(length.as_bytes())
    );
    assert_eq!(plain.into_body().into_vec()?, body);
    let second = client.get(server.url("/second"))?;
    assert!(second.headers().get(CONTENT_ENCODING).is_none());
    assert!(second.headers().get(CONTENT_LENGTH).is_none());
    assert_eq!(second.into_body().into_vec()?, body);
    Ok(())
}

#[test]
fn a_gzip_stream_that_ends_before_the_chunked_terminator_keeps_its_connection() -> TestResult {
    let body = text();
    let compressed = gzip(&body)?;
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/one",
            encoded("gzip", compressed.clone()).chunked(),
        )
        .route(
            Method::GET,
            "/small",
            encoded("gzip", compressed).chunk_size(7),
        )
        .start()?;
    let client = client()?;
    for (i, path) in ["/one", "/small", "/one"].into_iter().enumerate() {
        let response = client.get(server.url(path))?;
        assert_eq!(info(&response).reused, i > 0, "request {i}");
        assert_eq!(response.into_body().into_vec()?, body, "{path}");
        // Read to its end, the decoded body has given the connection back.
        let stats = client.stats();
        assert_eq!((stats.pool.leased, stats.pool.available), (0, 1), "{path}");
    }
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

/// RFC 9112 §7.1.2: trailer fields of a chunked body are the caller's whether or not
/// the body was decoded; `ResponseBody::trailers` shows them once it is read to its end.
#[test]
fn a_decoded_chunked_body_shows_its_trailers_at_its_end() -> TestResult {
    let body = text();
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            encoded("gzip", gzip(&body)?).trailer("x-checksum", "abc"),
        )
        .start()?;
    let client = client()?;
    let mut decoded = client.get(server.url("/"))?.into_body();
    let mut out = Vec::new();
    decoded.read_to_end(&mut out)?;
    assert_eq!(out, body);
    let trailer = decoded.trailers().and_then(|t| t.get("x-checksum"));
    assert_eq!(trailer.and_then(|v| v.to_str().ok()), Some("abc"));
    // And as without decoding.
    let mut request = Request::get(server.url("/")).body(Body::empty())?;
    request.extensions_mut().insert(
        RequestConfig::default()
            .with_response_timeout(Some(SAFETY))
            .with_content_compression(false),
    );
    let mut plain = client.execute(request)?.into_body();
    plain.read_to_end(&mut Vec::new())?;
    let trailer = plain.trailers().and_then(|t| t.get("x-checksum"));
    assert_eq!(trailer.and_then(|v| v.to_str().ok()), Some("abc"));
    Ok(())
}

#[test]
fn deflate_is_decoded_zlib_wrapped_or_raw() -> TestResult {
    let body = text();
    let server = TestServer::builder()
        .route(Method::GET, "/zlib", encoded("deflate", zlib(&body)?))
        .route(Method::GET, "/raw", encoded("deflate", raw_deflate(&body)?))
        .start()?;
    let client = client()?;
    for path in ["/zlib", "/raw"] {
        let decoded = client.get(server.url(path))?.into_body().into_vec()?;
        assert_eq!(decoded, body, "{path}");
    }
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn br_and_zstd_are_decoded() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/br", encoded("br", BR_HELLO.to_vec()))
        .route(
            Method::GET,
            "/zstd",
            encoded("zstd", ZSTD_HELLO.to_vec()).chunked(),
        )
        .start()?;
    let client = client()?;
    let br = client.get(server.url("/br"))?.into_body().into_string()?;
    assert_eq!(br, "Hello from brotli! ".repeat(10));
    let zstd = client.get(server.url("/zstd"))?.into_body().into_string()?;
    assert_eq!(zstd, "Hello from zstd! ".repeat(10));
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn stacked_codings_are_undone_in_reverse_order_whatever_their_case() -> TestResult {
    // deflate applied first, then gzip: gzip is undone first.
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            encoded("Deflate, identity", Vec::new())
                .header("content-encoding", "GZIP")
                .body(gzip(&zlib(b"two layers")?)?),
        )
        .start()?;
    let response = client()?.get(server.url("/"))?;
    assert!(response.headers().get(CONTENT_ENCODING).is_none());
    assert_eq!(response.into_body().into_string()?, "two layers");
    Ok(())
}

#[test]
fn a_decompression_bomb_stops_at_the_ratio_limit_and_its_connection_is_closed() -> TestResult {
    // 50 MiB of zeros in about 50 KiB: a ratio of 1,000.
    const BOMB: usize = 50 << 20;
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    let zeros = vec![0u8; 1 << 20];
    for _ in 0..BOMB / zeros.len() {
        encoder.write_all(&zeros)?;
    }
    let bomb = encoder.finish()?;
    assert!(bomb.len() < 256 << 10, "{} bytes", bomb.len());
    let server = TestServer::builder()
        .route(Method::GET, "/bomb", encoded("gzip", bomb))
        .route(Method::GET, "/", Reply::ok().body("after"))
        .start()?;
    let client = client()?;
    let mut body = client.get(server.url("/bomb"))?.into_body();
    let mut buffer = vec![0u8; 64 << 10];
    let mut decoded = 0usize;
    let error = loop {
        match body.read(&mut buffer) {
            Ok(0) => return Err("the bomb decoded to its end".into()),
            Ok(n) => decoded += n,
            Err(e) => break hcx::Error::from_io(e),
        }
    };
    assert_eq!(error.kind(), ErrorKind::DecompressionLimit, "{error}");
    // Stopped just past the 1 MiB the ratio allows for free, far from 50 MiB.
    assert!(
        decoded <= 2 << 20,
        "{decoded} bytes decoded before the limit"
    );
    // The error stays, and the connection was closed, not drained into the pool.
    let again = body.read(&mut buffer).map_err(hcx::Error::from_io);
    assert!(again.is_err_and(|e| e.kind() == ErrorKind::DecompressionLimit));
    drop(body);
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 0));
    assert_eq!(stats.closes.get(CloseReason::UnreadBody), 1);
    assert_eq!(
        client.get(server.url("/"))?.into_body().into_string()?,
        "after"
    );
    assert_eq!(server.stats().connections_accepted, 2);
    Ok(())
}

#[test]
fn into_vec_and_into_string_return_the_typed_limit_error() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("gzip", gzip(&text())?))
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .decompression_limits(DecompressionLimits::default().with_max_decoded_bytes(Some(1000)))
        .build()?;
    let as_vec = client.get(server.url("/"))?.into_body().into_vec();
    assert!(
        as_vec.is_err_and(|e| e.kind() == ErrorKind::DecompressionLimit
            && e.to_string().contains("more than 1000 bytes"))
    );
    let as_string = client.get(server.url("/"))?.into_body().into_string();
    assert!(as_string.is_err_and(|e| e.kind() == ErrorKind::DecompressionLimit));
    Ok(())
}

#[test]
fn a_ratio_of_zero_is_a_configuration_error() {
    let built = Client::builder()
        .decompression_limits(DecompressionLimits::default().with_max_ratio(Some(0)))
        .build();
    assert!(built.is_err_and(|e| e.kind() == ErrorKind::Config));
}

#[test]
fn corrupt_streams_and_trailing_data_are_decompression_errors() -> TestResult {
    let mut corrupt = gzip(&text())?;
    let middle = corrupt.len() / 2;
    corrupt[middle..middle + 8].copy_from_slice(b"\xffcorrupt");
    let mut trailing_gzip = gzip(b"hello")?;
    trailing_gzip.extend_from_slice(b"and then some");
    let mut trailing_deflate = raw_deflate(b"hello")?;
    trailing_deflate.extend_from_slice(b"and then some");
    let server = TestServer::builder()
        .route(Method::GET, "/corrupt", encoded("gzip", corrupt))
        .route(
            Method::GET,
            "/plain",
            encoded("gzip", b"plain text".to_vec()),
        )
        .route(
            Method::GET,
            "/trailing",
            encoded("deflate", trailing_deflate),
        )
        .route(
            Method::GET,
            "/trailing-gzip",
            encoded("gzip", trailing_gzip),
        )
        .start()?;
    let client = client()?;
    for path in ["/corrupt", "/plain", "/trailing", "/trailing-gzip"] {
        match client.get(server.url(path))?.into_body().into_vec() {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Decompression, "{path}: {e:#}"),
            Ok(body) => return Err(format!("{path} decoded to {} bytes", body.len()).into()),
        }
    }
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}

#[test]
fn a_stream_corrupt_from_its_start_closes_the_connection_without_reading_on() -> TestResult {
    // 256 KiB that do not compress, then a reserved block type (BTYPE 11) in the
    // first deflate byte: the decoder fails on its first read.
    let mut compressed = gzip(&noise(256 << 10))?;
    compressed[10] = 0xff;
    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("gzip", compressed))
        .start()?;
    let client = client()?;
    let result = client.get(server.url("/"))?.into_body().into_vec();
    assert!(result.is_err_and(|e| e.kind() == ErrorKind::Decompression));
    let stats = client.stats();
    assert_eq!((stats.pool.leased, stats.pool.available), (0, 0));
    assert_eq!(stats.closes.get(CloseReason::UnreadBody), 1);
    Ok(())
}

#[test]
fn a_body_cut_short_keeps_its_own_error_kind() -> TestResult {
    let compressed = gzip(&text())?;
    let half = compressed.len() / 2;
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            encoded("gzip", compressed).truncate_body(half),
        )
        .start()?;
    let result = client()?.get(server.url("/"))?.into_body().into_vec();
    assert!(result.is_err_and(|e| e.kind() == ErrorKind::IncompleteBody));
    Ok(())
}

#[test]
fn the_response_comes_before_any_body_byte_and_a_stall_keeps_its_timeout_kind() -> TestResult {
    // The head, then nothing: the decoder must not read at `execute`.
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            encoded("gzip", gzip(&text())?).stall_body_after(0),
        )
        .start()?;
    // The head must come within it: long enough for a loaded CI machine.
    let client = Client::builder()
        .response_timeout(Some(Duration::from_secs(1)))
        .build()?;
    let response = client.get(server.url("/"))?;
    assert!(response.headers().get(CONTENT_ENCODING).is_none());
    let result = response.into_body().into_vec();
    assert!(result.is_err_and(|e| e.kind() == ErrorKind::ResponseTimeout));
    Ok(())
}

#[test]
fn a_decoded_body_dropped_early_drains_the_encoded_rest_and_keeps_its_connection() -> TestResult {
    // 48 KiB that stay 48 KiB encoded: more than a first read takes, within the
    // default drain limit (64 KiB).
    let body = noise(48 << 10);
    let compressed = gzip(&body)?;
    assert!(compressed.len() < 64 << 10, "{} bytes", compressed.len());
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            encoded("gzip", compressed).chunk_size(1000),
        )
        .start()?;
    let client = client()?;
    let mut first = client.get(server.url("/"))?.into_body();
    let mut start = [0u8; 100];
    first.read_exact(&mut start)?;
    assert_eq!(&start[..], &body[..100]);
    assert_eq!(
        client.stats().pool.leased,
        1,
        "the body still holds its connection"
    );
    drop(first);
    assert_eq!(client.stats().pool.available, 1);
    let second = client.get(server.url("/"))?;
    assert!(info(&second).reused);
    assert_eq!(second.into_body().into_vec()?, body);
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn a_decoded_body_discarded_closes_its_connection_without_reading_on() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/gz",
            encoded("gzip", gzip(&b"abcdefgh".repeat(1000))?),
        )
        .route(
            Method::GET,
            "/plain",
            Reply::ok().body("abcdefgh".repeat(1000)),
        )
        // More than the decoder's first read takes: it stays encoded at this size.
        .route(
            Method::GET,
            "/noise",
            encoded("gzip", gzip(&noise(48 << 10))?).chunk_size(1000),
        )
        .start()?;
    let client = client()?;

    // The body as it came: closed, as `discard` says.
    client.get(server.url("/plain"))?.into_body().discard();
    let stats = client.stats();
    assert_eq!(stats.closes.get(CloseReason::UnreadBody), 1, "{stats:?}");
    assert_eq!(stats.pool.available, 0, "{stats:?}");

    // The decoded body: closed the same way, not drained and pooled.
    client.get(server.url("/gz"))?.into_body().discard();
    let stats = client.stats();
    assert_eq!(stats.closes.get(CloseReason::UnreadBody), 2, "{stats:?}");
    assert_eq!(stats.pool.available, 0, "{stats:?}");
    assert_eq!(stats.pool.leased, 0, "{stats:?}");

    // Partly read, then discarded: still closed, not drained.
    let mut body = client.get(server.url("/noise"))?.into_body();
    let mut start = [0u8; 100];
    body.read_exact(&mut start)?;
    assert_eq!(&start[..], &noise(100)[..]);
    assert_eq!(client.stats().pool.leased, 1);
    body.discard();
    let stats = client.stats();
    assert_eq!(stats.closes.get(CloseReason::UnreadBody), 3, "{stats:?}");
    assert_eq!(stats.pool.available, 0, "{stats:?}");
    Ok(())
}

#[test]
fn a_decoded_body_discarded_on_a_closing_connection_is_closed_for_the_response_s_reason()
-> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            encoded("gzip", gzip(&noise(48 << 10))?).connection_close(),
        )
        .start()?;
    let client = client()?;
    let response = client.get(server.url("/"))?;
    assert_eq!(
        close_reason(&response),
        Some(CloseReason::ResponseConnectionClose)
    );
    response.into_body().discard();
    let closes = client.stats().closes;
    assert_eq!(
        closes.get(CloseReason::ResponseConnectionClose),
        1,
        "{closes}"
    );
    assert_eq!(closes.get(CloseReason::UnreadBody), 0, "{closes}");
    Ok(())
}

#[test]
fn an_empty_body_labelled_gzip_decodes_to_nothing_and_keeps_its_connection() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("gzip", Vec::new()).chunked())
        .start()?;
    let client = client()?;
    for _ in 0..2 {
        assert_eq!(client.get(server.url("/"))?.into_body().into_vec()?, b"");
    }
    assert_eq!(server.stats().connections_accepted, 1);
    Ok(())
}

#[test]
fn disabled_on_the_client_asks_for_nothing_and_decodes_nothing() -> TestResult {
    let compressed = gzip(&text())?;
    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("gzip", compressed.clone()))
        .start()?;
    let client = Client::builder()
        .response_timeout(Some(SAFETY))
        .disable_content_compression()
        .build()?;
    assert!(!format!("{client:?}").contains("COMPRESS"), "{client:?}");
    let response = client.get(server.url("/"))?;
    assert_eq!(
        response
            .headers()
            .get(CONTENT_ENCODING)
            .map(|v| v.as_bytes()),
        Some(&b"gzip"[..])
    );
    assert!(response.headers().get(CONTENT_LENGTH).is_some());
    assert_eq!(response.into_body().into_vec()?, compressed);
    let request = server.last_request().ok_or("no request recorded")?;
    assert_eq!(request.header("accept-encoding"), None);
    Ok(())
}

#[test]
fn disabled_for_one_request_asks_for_nothing_and_decodes_nothing() -> TestResult {
    let compressed = gzip(&text())?;
    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("gzip", compressed.clone()))
        .start()?;
    let client = client()?;
    assert!(
        format!("{client:?}").contains("REDIRECT, COMPRESS, RETRY"),
        "{client:?}"
    );
    let mut request = Request::get(server.url("/")).body(Body::empty())?;
    request.extensions_mut().insert(
        RequestConfig::default()
            .with_response_timeout(Some(SAFETY))
            .with_content_compression(false),
    );
    let response = client.execute(request)?;
    assert!(response.headers().get(CONTENT_ENCODING).is_some());
    assert_eq!(response.into_body().into_vec()?, compressed);
    let request = server.last_request().ok_or("no request recorded")?;
    assert_eq!(request.header("accept-encoding"), None);
    // The next request, with the client's configuration, is decoded again.
    assert_eq!(client.get(server.url("/"))?.into_body().into_vec()?, text());
    Ok(())
}

#[test]
fn an_unknown_coding_passes_through_untouched() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            encoded("x-custom", b"opaque bytes".to_vec()),
        )
        .route(
            Method::GET,
            "/mixed",
            encoded("x-custom, gzip", gzip(b"hi")?),
        )
        .start()?;
    let client = client()?;
    for path in ["/", "/mixed"] {
        let response = client.get(server.url(path))?;
        let headers = response.headers();
        assert!(headers.get(CONTENT_ENCODING).is_some(), "{path}");
        assert!(headers.get(CONTENT_LENGTH).is_some(), "{path}");
        response.into_body().into_vec()?;
    }
    let response = client.get(server.url("/"))?;
    assert_eq!(response.into_body().into_vec()?, b"opaque bytes");
    Ok(())
}

#[test]
fn a_caller_set_accept_encoding_is_kept_and_the_response_still_decoded() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("gzip", gzip(b"decoded anyway")?))
        .start()?;
    let request = Request::get(server.url("/"))
        .header(ACCEPT_ENCODING, "gzip;q=1.0, identity;q=0.5")
        .body(Body::empty())?;
    let response = client()?.execute(request)?;
    assert_eq!(response.into_body().into_string()?, "decoded anyway");
    let recorded = server.last_request().ok_or("no request recorded")?;
    let sent: Vec<_> = recorded.headers.get_all("accept-encoding").iter().collect();
    assert_eq!(sent, ["gzip;q=1.0, identity;q=0.5"]);
    Ok(())
}

/// A body a handler below COMPRESS makes itself (a cache, say) is decoded as the
/// server's would be: held in memory, it has bytes left though no connection.
#[test]
fn a_handler_s_own_encoded_body_is_decoded() -> TestResult {
    use hcx::chain::{Chain, ChainElement, Scope};
    use hcx::{Error, ResponseBody};
    use http::Response;

    let cached = gzip(b"from the cache")?;
    let client = Client::builder()
        .add_handler_after(
            ChainElement::Retry,
            "cache",
            move |_: Request<Body>,
                  _: &mut Scope<'_>,
                  _: Chain<'_>|
                  -> Result<Response<ResponseBody>, Error> {
                Response::builder()
                    .header("content-encoding", "gzip")
                    .body(ResponseBody::from_bytes(cached.clone()))
                    .map_err(|e| Error::new(hcx::ErrorKind::InvalidRequest, e.to_string()))
            },
        )
        .build()?;
    let response = client.get("http://127.0.0.1:9/")?;
    assert!(response.headers().get("content-encoding").is_none());
    assert_eq!(response.into_body().into_string()?, "from the cache");
    Ok(())
}

/// COMPRESS hands its `Accept-Encoding` to PROTOCOL instead of writing it into the
/// request: handlers between the two (RETRY's copy of the head included) see the head
/// as the caller built it, the server gets the field once, ahead of a builder default
/// for the same name, and a first request interceptor's own value is sent as it is.
#[test]
fn accept_encoding_is_added_by_protocol_ahead_of_defaults_and_after_first_interceptors()
-> TestResult {
    use std::sync::{Arc, Mutex};

    use hcx::chain::{Chain, ChainElement, Scope};
    use hcx::{Error, ResponseBody};
    use http::Response;

    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("gzip", gzip(b"decoded")?))
        .start()?;
    let seen: Arc<Mutex<Vec<Option<String>>>> = Arc::default();
    let log = Arc::clone(&seen);
    let client = Client::builder()
        .default_header(ACCEPT_ENCODING, http::HeaderValue::from_static("identity"))
        .add_handler_after(
            ChainElement::Retry,
            "look",
            move |request: Request<Body>,
                  scope: &mut Scope<'_>,
                  chain: Chain<'_>|
                  -> Result<Response<ResponseBody>, Error> {
                let field = request.headers().get(ACCEPT_ENCODING);
                let field = field.and_then(|v| v.to_str().ok()).map(str::to_owned);
                log.lock()
                    .map_err(|_| Error::new(hcx::ErrorKind::Config, "poisoned"))?
                    .push(field);
                chain.proceed(request, scope)
            },
        )
        .add_request_interceptor_first(
            |request: &mut Request<Body>, _: &mut hcx::chain::Context| {
                if request.uri().query() == Some("own") {
                    request
                        .headers_mut()
                        .insert(ACCEPT_ENCODING, http::HeaderValue::from_static("gzip"));
                }
                Ok(())
            },
        )
        .build()?;

    let response = client.get(server.url("/"))?;
    assert_eq!(response.into_body().into_string()?, "decoded");
    let recorded = server.last_request().ok_or("no request recorded")?;
    let sent: Vec<_> = recorded.headers.get_all("accept-encoding").iter().collect();
    assert_eq!(
        sent,
        [ACCEPTED],
        "COMPRESS's value, once, ahead of the default"
    );

    let response = client.get(server.url("/?own"))?;
    assert_eq!(response.into_body().into_string()?, "decoded");
    let recorded = server.last_request().ok_or("no request recorded")?;
    let sent: Vec<_> = recorded.headers.get_all("accept-encoding").iter().collect();
    assert_eq!(sent, ["gzip"], "the interceptor's own value");

    let seen = seen.lock().map_err(|_| "poisoned")?.clone();
    assert_eq!(
        seen,
        [None, None],
        "handlers after COMPRESS see the caller's head"
    );
    Ok(())
}

#[test]
fn head_204_304_and_206_responses_are_left_alone() -> TestResult {
    let server = TestServer::builder()
        .route(Method::HEAD, "/", encoded("gzip", gzip(b"x")?))
        .route(
            Method::GET,
            "/204",
            Reply::new(204u16).header("content-encoding", "gzip"),
        )
        .route(
            Method::GET,
            "/304",
            Reply::new(304u16).header("content-encoding", "gzip"),
        )
        .route(
            Method::GET,
            "/206",
            Reply::new(206u16)
                .header("content-encoding", "gzip")
                .header("content-range", "bytes 10-16/100")
                .body("a slice"),
        )
        .start()?;
    let client = client()?;
    let mut responses = vec![("HEAD", client.head(server.url("/"))?)];
    for path in ["/204", "/304"] {
        responses.push((path, client.get(server.url(path))?));
    }
    for (what, response) in responses {
        assert!(response.headers().get(CONTENT_ENCODING).is_some(), "{what}");
        assert_eq!(response.into_body().into_vec()?, b"", "{what}");
    }
    let partial = client.get(server.url("/206"))?;
    assert_eq!(partial.status(), 206);
    assert!(partial.headers().get(CONTENT_ENCODING).is_some());
    assert_eq!(partial.into_body().into_vec()?, b"a slice");
    Ok(())
}

/// Stacked codings (`gzip, gzip`) where the inner layer is a bomb and the outer one
/// yields nothing: empty gzip members, 20 bytes each, compressed again. Every layer's
/// output is held to the limits, not only the last one's: the inner layer decodes
/// about 400 bytes per byte read past the 1 MiB threshold, and is stopped as a single
/// layer would be (unchecked, three such layers kept a thread busy for minutes).
#[test]
fn an_inner_coding_that_decodes_to_much_while_the_outer_yields_nothing_is_a_bomb() -> TestResult {
    let mut empty_member = GzEncoder::new(Vec::new(), Compression::default());
    empty_member.write_all(b"")?;
    let inner = empty_member.finish()?.repeat(60_000); // 1.2 MB that decode to nothing
    let mut outer = GzEncoder::new(Vec::new(), Compression::best());
    outer.write_all(&inner)?;
    let wire = outer.finish()?;
    assert!(
        inner.len() > 100 * wire.len(),
        "{} from {}",
        inner.len(),
        wire.len()
    );
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .header("content-encoding", "gzip, gzip")
                .body(wire),
        )
        .start()?;
    let result = client()?.get(server.url("/"))?.into_body().into_vec();
    assert_eq!(
        result.map_err(|e| e.kind()).err(),
        Some(ErrorKind::DecompressionLimit)
    );
    Ok(())
}

#[test]
fn an_inner_bomb_under_zstd_is_a_limit_error() -> TestResult {
    // Found in review: `zstd, gzip` whose gzip layer inflates ~1000:1 into a zstd
    // frame of empty blocks. The limit held, but ruzstd wrapped its error: reported
    // as Decompression, where `gzip, gzip` says DecompressionLimit.
    let mut frame = 0xFD2F_B528u32.to_le_bytes().to_vec();
    frame.extend_from_slice(&[0x00, 0x50]); // 1 MiB window, no checksum
    frame.extend(std::iter::repeat_n(0u8, 3 * 700_000)); // empty raw blocks, not last
    frame.extend_from_slice(&[0x01, 0x00, 0x00]); // empty raw block, last
    let mut gz = GzEncoder::new(Vec::new(), Compression::best());
    gz.write_all(&frame)?;
    let wire = gz.finish()?;
    assert!(frame.len() > 200 * wire.len());
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .header("content-encoding", "zstd, gzip")
                .body(wire),
        )
        .start()?;
    let result = client()?.get(server.url("/"))?.into_body().into_vec();
    let error = result.err().ok_or("the bomb decoded")?;
    assert_eq!(error.kind(), ErrorKind::DecompressionLimit, "{error:#}");
    Ok(())
}

#[test]
fn a_zstd_body_of_only_a_skippable_frame_decodes_to_nothing() -> TestResult {
    // RFC 8878 §3.1: zstd data is one or more frames, skippable ones included.
    let body = skippable_frame(b"meta");
    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("zstd", body))
        .start()?;
    let decoded = client()?.get(server.url("/"))?.into_body().into_vec();
    assert_eq!(decoded.map_err(|e| format!("{e:#}"))?, b"");
    Ok(())
}

#[test]
fn a_body_that_decodes_to_nothing_from_megabytes_is_a_limit_error() -> TestResult {
    // Empty deflate blocks, one after another (or empty gzip members, or zstd skippable
    // frames): each decodes to nothing, so neither the ratio nor a byte limit ever
    // trips, and a server sending them for ever would hold the read for ever. One read
    // may take 1 MiB off the wire for nothing, no more.
    let empty_block = [0x00u8, 0x00, 0x00, 0xff, 0xff]; // stored, not final, no data
    let mut wire: Vec<u8> = std::iter::repeat_n(empty_block, (2 << 20) / 5)
        .flatten()
        .collect();
    wire.extend_from_slice(&[0x01, 0x00, 0x00, 0xff, 0xff]); // the final, empty
    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("deflate", wire))
        .start()?;
    let result = client()?.get(server.url("/"))?.into_body().into_vec();
    let error = result.err().ok_or("2 MiB of empty blocks decoded")?;
    assert_eq!(error.kind(), ErrorKind::DecompressionLimit, "{error:#}");
    // Without limits, what the server sent is taken as it is: nothing.
    let unlimited = Client::builder()
        .response_timeout(Some(SAFETY))
        .decompression_limits(DecompressionLimits::none())
        .build()?;
    let decoded = unlimited.get(server.url("/"))?.into_body().into_vec()?;
    assert!(decoded.is_empty());
    Ok(())
}

#[test]
fn a_zstd_body_with_a_large_skippable_frame_first_decodes() -> TestResult {
    // Found in review: 1.5 MiB of metadata ahead of the data (RFC 8878 allows 4 GiB)
    // tripped the limit on bytes that decode to nothing.
    let mut body = skippable_frame(&vec![b'm'; 1_500_000]);
    // One frame: single segment, content size 5, one last raw block of 5.
    body.extend_from_slice(&[0x28, 0xb5, 0x2f, 0xfd, 0x20, 0x05, 0x29, 0x00, 0x00]);
    body.extend_from_slice(b"hello");
    let server = TestServer::builder()
        .route(Method::GET, "/", encoded("zstd", body))
        .start()?;
    let decoded = client()?.get(server.url("/"))?.into_body().into_vec();
    assert_eq!(decoded.map_err(|e| format!("{e:#}"))?, b"hello");
    Ok(())
}

/// Review (6b193c8): trailers through `map_reader` without compression: shown only at
/// the wrapping body's final `Ok(0)`, through two wraps, after an original already read
/// to its end, and never for a wrapping body that failed.
#[test]
fn review_map_reader_trailers_edges() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .body("hello world")
                .chunk_size(3)
                .trailer("x-t", "v"),
        )
        .start()?;
    let client = client()?;
    let get = || -> Result<hcx::ResponseBody, Box<dyn std::error::Error>> {
        let mut request = Request::get(server.url("/")).body(Body::empty())?;
        request.extensions_mut().insert(
            RequestConfig::default()
                .with_response_timeout(Some(SAFETY))
                .with_content_compression(false),
        );
        Ok(client.execute(request)?.into_body())
    };
    let trailer = |b: &hcx::ResponseBody| {
        b.trailers()
            .and_then(|t| t.get("x-t"))
            .and_then(|v| v.to_str().ok())
            .map(str::to_owned)
    };
    // Two wraps, read byte by byte: None until the final Ok(0).
    let mut twice = get()?.map_reader(|b| b).map_reader(|b| b);
    let mut out = Vec::new();
    let mut one = [0u8; 1];
    loop {
        let n = twice.read(&mut one)?;
        if n == 0 {
            break;
        }
        assert_eq!(trailer(&twice), None);
        out.push(one[0]);
    }
    assert_eq!(out, b"hello world");
    assert_eq!(trailer(&twice).as_deref(), Some("v"));
    // Wrapping an already-ended wrapped body, then wrapping again.
    let again = twice.map_reader(|b| b);
    let mut again = again.map_reader(|b| b);
    assert_eq!(trailer(&again), None);
    assert_eq!(again.read(&mut one)?, 0);
    assert_eq!(trailer(&again).as_deref(), Some("v"));
    // The original read to its end (all but its tail), then wrapped.
    let mut original = get()?;
    let mut first = [0u8; 10];
    original.read_exact(&mut first)?;
    let mut wrapped = original.map_reader(|b| b);
    assert_eq!(trailer(&wrapped), None);
    let mut rest = Vec::new();
    wrapped.read_to_end(&mut rest)?;
    assert_eq!(rest, b"d");
    assert_eq!(trailer(&wrapped).as_deref(), Some("v"));
    // A wrapping reader that fails after the original's end: no trailers, same error.
    struct FailAtEnd(hcx::ResponseBody);
    impl Read for FailAtEnd {
        fn read(&mut self, out: &mut [u8]) -> std::io::Result<usize> {
            match self.0.read(out)? {
                0 => Err(std::io::Error::other("boom")),
                n => Ok(n),
            }
        }
    }
    let mut failing = get()?.map_reader(FailAtEnd);
    assert!(failing.read_to_end(&mut Vec::new()).is_err());
    assert_eq!(trailer(&failing), None);
    assert!(failing.read(&mut one).is_err());
    assert_eq!(trailer(&failing), None);
    // into_string through a wrap.
    assert_eq!(
        get()?.map_reader(|b| b).map_reader(|b| b).into_string()?,
        "hello world"
    );
    // Discarded wrapped body: closes, no panic.
    let mut discarded = get()?.map_reader(|b| b);
    discarded.read_exact(&mut first[..2])?;
    discarded.discard();
    Ok(())
}

/// A zstd frame whose header declares another size than its blocks hold is corrupt
/// (RFC 8878 §3.1.1.1.4; libzstd, which Apache's zstd-jni wraps, refuses it): without a
/// content checksum, the size is the only check a frame cut or padded at a block
/// boundary fails.
#[test]
fn a_zstd_frame_of_another_size_than_it_declares_is_a_decompression_error() -> TestResult {
    // A single-segment frame declaring `declared` bytes, one raw last block of `data`.
    let frame = |declared: u8, data: &[u8]| {
        let mut frame = 0xFD2F_B528u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&[0x20, declared]);
        let header = (u32::try_from(data.len()).unwrap_or(0) << 3) | 1;
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.extend_from_slice(data);
        frame
    };
    let server = TestServer::builder()
        .route(Method::GET, "/exact", encoded("zstd", frame(5, b"hello")))
        .route(Method::GET, "/short", encoded("zstd", frame(10, b"hello")))
        .route(
            Method::GET,
            "/long",
            encoded("zstd", frame(5, b"hello world")),
        )
        .start()?;
    let client = client()?;
    let exact = client.get(server.url("/exact"))?.into_body().into_vec()?;
    assert_eq!(exact, b"hello");
    for path in ["/short", "/long"] {
        match client.get(server.url(path))?.into_body().into_vec() {
            Err(e) => assert_eq!(e.kind(), ErrorKind::Decompression, "{path}: {e:#}"),
            Ok(body) => return Err(format!("{path} decoded to {:?}", body).into()),
        }
    }
    assert_eq!(client.stats().pool.leased, 0);
    Ok(())
}
