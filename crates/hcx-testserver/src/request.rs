//! Request heads: parsing (sans-IO, on `httparse`), body framing (RFC 9112 §6.3) and the
//! [`RecordedRequest`] that tests read back.

use bytes::Bytes;
use http::header::{CONNECTION, CONTENT_LENGTH, EXPECT, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName, HeaderValue, Method, Version};
use std::time::Duration;

/// A request as the server received it, with the body decoded (chunked framing removed).
///
/// Every request the server reads in full is recorded, including one it then answers
/// with a silent close. Read them back with
/// [`TestServer::requests`](crate::TestServer::requests).
#[derive(Clone, Debug)]
#[non_exhaustive]
pub struct RecordedRequest {
    /// The request method.
    pub method: Method,
    /// The request target exactly as sent (origin-form `/a?b`, absolute-form, `*`).
    pub target: String,
    /// `HTTP/1.0` or `HTTP/1.1`.
    pub version: Version,
    /// The request headers, names lower-cased, in the order received.
    pub headers: HeaderMap,
    /// The body, decoded: chunk sizes, extensions and trailers removed. Empty when the
    /// request had none, or when the server answered `Expect: 100-continue` with a final
    /// response without reading it.
    pub body: Bytes,
    /// The trailer fields of a chunked body (empty otherwise).
    pub trailers: HeaderMap,
    /// The index of the connection it came on, in order of acceptance from 0.
    pub connection: usize,
    /// Its position on that connection, from 0.
    pub index_on_connection: usize,
    /// How long the connection had been idle before its first byte arrived: from when
    /// the server wrote the previous response, on the server's
    /// [`clock`](crate::TestServerBuilder::clock). `None` for the first request on a
    /// connection; zero for one pipelined before the previous response was written.
    pub idle_before: Option<Duration>,
}

impl RecordedRequest {
    /// The path of the target, without query; for an absolute-form target
    /// (`http://host/p?q`), its path (`/p`).
    pub fn path(&self) -> &str {
        target_path(&self.target)
    }

    /// The first value of header `name`, if present and visible ASCII.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.get(name).and_then(|v| v.to_str().ok())
    }

    /// The body as text (invalid UTF-8 replaced).
    pub fn body_text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }
}

/// The path part of a request target.
pub(crate) fn target_path(target: &str) -> &str {
    let mut rest = target;
    for scheme in ["http://", "https://"] {
        if let Some(after) = rest.strip_prefix(scheme) {
            rest = after.find('/').map_or("/", |i| &after[i..]);
            break;
        }
    }
    let end = rest.find(['?', '#']).unwrap_or(rest.len());
    &rest[..end]
}

/// A parsed request head.
#[derive(Debug)]
pub(crate) struct Head {
    pub(crate) method: Method,
    pub(crate) target: String,
    pub(crate) version: Version,
    pub(crate) headers: HeaderMap,
}

/// Limits on what the server accepts from a client.
#[derive(Clone, Copy, Debug)]
pub(crate) struct Limits {
    pub(crate) max_head_bytes: usize,
    pub(crate) max_headers: usize,
    pub(crate) max_body_bytes: usize,
}

/// Parses a request head at the start of `buf`. `Ok(None)`: incomplete, read more.
/// `Ok(Some((head, n)))`: the head took `n` bytes.
pub(crate) fn parse_head(buf: &[u8], limits: &Limits) -> Result<Option<(Head, usize)>, String> {
    let mut slots = vec![httparse::EMPTY_HEADER; limits.max_headers];
    let mut req = httparse::Request::new(&mut slots);
    let consumed = match req.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => {
            if buf.len() > limits.max_head_bytes {
                return Err(format!(
                    "request head longer than {} bytes",
                    limits.max_head_bytes
                ));
            }
            return Ok(None);
        }
        Err(httparse::Error::TooManyHeaders) => {
            return Err(format!(
                "request head has more than {} header fields",
                limits.max_headers
            ));
        }
        Err(e) => return Err(format!("malformed request head: {e}")),
    };
    if consumed > limits.max_head_bytes {
        return Err(format!(
            "request head of {consumed} bytes exceeds the limit of {}",
            limits.max_head_bytes
        ));
    }
    let method = req.method.unwrap_or_default();
    let method = Method::from_bytes(method.as_bytes())
        .map_err(|_| format!("invalid request method {method:?}"))?;
    let version = match req.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let too_many = |_| format!("more than {} header fields", req.headers.len());
    let mut headers = HeaderMap::try_with_capacity(req.headers.len()).map_err(too_many)?;
    for h in req.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("invalid header name {:?}", h.name))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| format!("invalid value for header {:?}", h.name))?;
        headers.try_append(name, value).map_err(too_many)?;
    }
    let head = Head {
        method,
        target: req.path.unwrap_or_default().to_owned(),
        version,
        headers,
    };
    Ok(Some((head, consumed)))
}

/// How a request body is delimited (RFC 9112 §6.3).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum BodyFraming {
    /// No body.
    Empty,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked. `with_content_length`: a Content-Length was sent too; chunked wins and
    /// the connection must close after the response (§6.3 rule 3).
    Chunked { with_content_length: bool },
}

impl BodyFraming {
    /// Whether a body follows the head.
    pub(crate) fn has_body(self) -> bool {
        !matches!(self, BodyFraming::Empty | BodyFraming::Length(0))
    }
}

/// Decides the framing of a request body from its headers.
pub(crate) fn request_framing(headers: &HeaderMap) -> Result<BodyFraming, String> {
    let has_length = headers.contains_key(CONTENT_LENGTH);
    if headers.contains_key(TRANSFER_ENCODING) {
        let last = tokens(headers, &TRANSFER_ENCODING)
            .last()
            .map(str::to_owned);
        return match last {
            Some(coding) if coding.eq_ignore_ascii_case("chunked") => Ok(BodyFraming::Chunked {
                with_content_length: has_length,
            }),
            // §6.3 rule 4: a request whose final coding is not chunked has no reliable
            // length.
            other => Err(format!(
                "Transfer-Encoding does not end in chunked (final coding: {})",
                other.as_deref().unwrap_or("none")
            )),
        };
    }
    if !has_length {
        return Ok(BodyFraming::Empty);
    }
    let mut length = None;
    for raw in tokens(headers, &CONTENT_LENGTH) {
        let value = parse_decimal(raw).ok_or_else(|| format!("invalid Content-Length {raw:?}"))?;
        match length {
            Some(seen) if seen != value => {
                return Err(format!(
                    "conflicting Content-Length values {seen} and {value}"
                ));
            }
            _ => length = Some(value),
        }
    }
    length
        .map(BodyFraming::Length)
        .ok_or_else(|| String::from("empty Content-Length"))
}

fn parse_decimal(s: &str) -> Option<u64> {
    if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    s.parse().ok()
}

/// The comma-separated, trimmed, non-empty tokens of every field named `name`.
fn tokens<'a>(headers: &'a HeaderMap, name: &HeaderName) -> impl Iterator<Item = &'a str> {
    headers
        .get_all(name)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(','))
        .map(str::trim)
        .filter(|t| !t.is_empty())
}

/// Whether the `Connection` header carries `option` (case-insensitive).
pub(crate) fn has_connection_option(headers: &HeaderMap, option: &str) -> bool {
    tokens(headers, &CONNECTION).any(|t| t.eq_ignore_ascii_case(option))
}

/// Whether the request asks for `Expect: 100-continue`.
pub(crate) fn expects_continue(headers: &HeaderMap) -> bool {
    tokens(headers, &EXPECT).any(|t| t.eq_ignore_ascii_case("100-continue"))
}

#[cfg(test)]
mod tests {
    use super::*;

    const LIMITS: Limits = Limits {
        max_head_bytes: 1024,
        max_headers: 4,
        max_body_bytes: 1024,
    };

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (n, v) in pairs {
            map.append(*n, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn complete_head_reports_its_length() {
        let raw = b"POST /a?b HTTP/1.0\r\nHost: x\r\nX-A: 1\r\n\r\nbody";
        let (head, n) = parse_head(raw, &LIMITS).unwrap().unwrap();
        assert_eq!(n, raw.len() - 4);
        assert_eq!(head.method, Method::POST);
        assert_eq!(head.target, "/a?b");
        assert_eq!(head.version, Version::HTTP_10);
        assert_eq!(head.headers["x-a"], "1");
    }

    #[test]
    fn partial_head_asks_for_more_until_the_limit() {
        assert!(
            parse_head(b"GET / HTTP/1.1\r\nHost", &LIMITS)
                .unwrap()
                .is_none()
        );
        let long = [b'a'; 2000];
        let mut raw = b"GET /".to_vec();
        raw.extend_from_slice(&long);
        assert!(
            parse_head(&raw, &LIMITS)
                .unwrap_err()
                .contains("longer than")
        );
    }

    #[test]
    fn too_many_headers_and_garbage_are_errors() {
        let raw = b"GET / HTTP/1.1\r\na: 1\r\nb: 1\r\nc: 1\r\nd: 1\r\ne: 1\r\n\r\n";
        assert!(
            parse_head(raw, &LIMITS)
                .unwrap_err()
                .contains("more than 4")
        );
        assert!(parse_head(b"\x00\x01 nonsense\r\n\r\n", &LIMITS).is_err());
    }

    #[test]
    fn framing_follows_rfc9112_section_6_3() {
        type Case = (
            &'static [(&'static str, &'static str)],
            Result<BodyFraming, ()>,
        );
        let cases: &[Case] = &[
            (&[], Ok(BodyFraming::Empty)),
            (&[("content-length", "12")], Ok(BodyFraming::Length(12))),
            (&[("content-length", "3, 3")], Ok(BodyFraming::Length(3))),
            (&[("content-length", "3"), ("content-length", "4")], Err(())),
            (&[("content-length", "+3")], Err(())),
            (&[("content-length", "99999999999999999999999")], Err(())),
            (
                &[("transfer-encoding", "gzip, chunked")],
                Ok(BodyFraming::Chunked {
                    with_content_length: false,
                }),
            ),
            (
                &[("transfer-encoding", "chunked"), ("content-length", "5")],
                Ok(BodyFraming::Chunked {
                    with_content_length: true,
                }),
            ),
            (&[("transfer-encoding", "chunked, gzip")], Err(())),
        ];
        for (pairs, expected) in cases {
            let got = request_framing(&headers(pairs)).map_err(|_| ());
            assert_eq!(&got, expected, "headers {pairs:?}");
        }
    }

    #[test]
    fn connection_and_expect_tokens_are_case_insensitive() {
        let h = headers(&[
            ("connection", "Keep-Alive, CLOSE"),
            ("expect", "100-Continue"),
        ]);
        assert!(has_connection_option(&h, "close"));
        assert!(has_connection_option(&h, "keep-alive"));
        assert!(!has_connection_option(&h, "upgrade"));
        assert!(expects_continue(&h));
    }

    #[test]
    fn target_path_strips_query_and_authority() {
        assert_eq!(target_path("/a/b?c=1"), "/a/b");
        assert_eq!(target_path("http://h:1/p?q"), "/p");
        assert_eq!(target_path("http://h:1"), "/");
        assert_eq!(target_path("*"), "*");
    }
}
