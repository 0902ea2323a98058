//! A target's response, sans-IO: its head (parsed with `httparse`) and how its body is
//! delimited (RFC 9112 §6.3), deciding length framing with the request code's rules.

use crate::request::{BodyFraming, request_framing};
use bytes::Bytes;
use http::header::TRANSFER_ENCODING;
use http::{HeaderMap, HeaderName, HeaderValue};

/// A parsed response head.
#[derive(Debug)]
pub(crate) struct ResponseHead {
    pub(crate) status: u16,
    pub(crate) reason: String,
    /// The fields in the order received, for relaying.
    pub(crate) fields: Vec<(Bytes, Bytes)>,
    /// The same fields, for framing decisions.
    pub(crate) headers: HeaderMap,
}

/// How a response body is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ResponseBody {
    /// No body (a response to `HEAD`, 1xx, 204, 304).
    None,
    /// Exactly this many bytes.
    Length(u64),
    /// Chunked.
    Chunked,
    /// Until the target closes the connection.
    UntilClose,
}

/// Parses a response head at the start of `buf`. `Ok(None)`: incomplete, read more.
pub(crate) fn parse_response_head(
    buf: &[u8],
    max_headers: usize,
) -> Result<Option<(ResponseHead, usize)>, String> {
    let mut slots = vec![httparse::EMPTY_HEADER; max_headers];
    let mut response = httparse::Response::new(&mut slots);
    let consumed = match response.parse(buf) {
        Ok(httparse::Status::Complete(n)) => n,
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(format!("malformed response head from the target: {e}")),
    };
    let mut headers = HeaderMap::new();
    let mut fields = Vec::with_capacity(response.headers.len());
    for h in response.headers.iter() {
        let name = HeaderName::from_bytes(h.name.as_bytes())
            .map_err(|_| format!("invalid header name {:?} from the target", h.name))?;
        let value = HeaderValue::from_bytes(h.value)
            .map_err(|_| format!("invalid value for header {:?} from the target", h.name))?;
        headers
            .try_append(name, value)
            .map_err(|_| String::from("too many header fields from the target"))?;
        fields.push((
            Bytes::copy_from_slice(h.name.as_bytes()),
            Bytes::copy_from_slice(h.value),
        ));
    }
    let head = ResponseHead {
        status: response.code.unwrap_or(0),
        reason: response.reason.unwrap_or("").to_owned(),
        fields,
        headers,
    };
    Ok(Some((head, consumed)))
}

/// How the body of a response with `status` and `headers` is delimited, for a request
/// that was (`head_request`) or was not `HEAD` (RFC 9112 §6.3).
pub(crate) fn response_body(
    status: u16,
    head_request: bool,
    headers: &HeaderMap,
) -> Result<ResponseBody, String> {
    // Rules 1 and 2: no body whatever the headers say.
    if head_request || status < 200 || status == 204 || status == 304 {
        return Ok(ResponseBody::None);
    }
    match request_framing(headers) {
        Ok(BodyFraming::Chunked { .. }) => Ok(ResponseBody::Chunked),
        Ok(BodyFraming::Length(n)) => Ok(ResponseBody::Length(n)),
        // Rule 8: neither Content-Length nor Transfer-Encoding.
        Ok(BodyFraming::Empty) => Ok(ResponseBody::UntilClose),
        // Rule 4, for a response: a final coding other than chunked reads to the close.
        Err(_) if headers.contains_key(TRANSFER_ENCODING) => Ok(ResponseBody::UntilClose),
        Err(e) => Err(format!("{e} in a response from the target")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn framing(status: u16, head: bool, raw_headers: &str) -> Result<ResponseBody, String> {
        let raw = format!("HTTP/1.1 {status} X\r\n{raw_headers}\r\n");
        let (parsed, _) = parse_response_head(raw.as_bytes(), 16).unwrap().unwrap();
        response_body(parsed.status, head, &parsed.headers)
    }

    #[test]
    fn head_keeps_fields_in_order_and_reports_its_length() {
        let raw = b"HTTP/1.1 404 Not Here\r\nB: 1\r\nA: 2\r\nB: 3\r\n\r\nbody";
        let (head, n) = parse_response_head(raw, 8).unwrap().unwrap();
        assert_eq!(n, raw.len() - 4);
        assert_eq!((head.status, head.reason.as_str()), (404, "Not Here"));
        let names: Vec<_> = head.fields.iter().map(|(n, _)| &n[..]).collect();
        assert_eq!(names, [&b"B"[..], b"A", b"B"]);
        assert!(
            parse_response_head(b"HTTP/1.1 200 OK\r\n", 8)
                .unwrap()
                .is_none()
        );
        assert!(parse_response_head(b"garbage\r\n\r\n", 8).is_err());
    }

    #[test]
    fn body_framing_follows_rfc9112_section_6_3() {
        use ResponseBody::*;
        let cases: &[(u16, bool, &str, Result<ResponseBody, ()>)] = &[
            (200, false, "Content-Length: 5\r\n", Ok(Length(5))),
            (200, true, "Content-Length: 5\r\n", Ok(None)),
            (204, false, "Content-Length: 5\r\n", Ok(None)),
            (304, false, "", Ok(None)),
            (200, false, "Transfer-Encoding: chunked\r\n", Ok(Chunked)),
            (
                200,
                false,
                "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n",
                Ok(Chunked),
            ),
            (200, false, "Transfer-Encoding: gzip\r\n", Ok(UntilClose)),
            (200, false, "", Ok(UntilClose)),
            (200, false, "Content-Length: 1, 2\r\n", Err(())),
        ];
        for (status, head, headers, expected) in cases {
            let got = framing(*status, *head, headers).map_err(|_| ());
            assert_eq!(&got, expected, "{status} {headers:?}");
        }
    }
}
