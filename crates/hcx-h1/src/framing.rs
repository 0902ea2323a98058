//! How a response body is delimited (RFC 9112 §6.3).

use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method, StatusCode, Version};

use crate::CloseReason;
use crate::error::{Error, ErrorKind};
use crate::fields::{ContentLength, ContentLengthError, TransferCodings};
use crate::parse::ResponseHead;

/// How the body of a message is delimited.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum BodyFraming {
    /// No body at all, whatever the fields say.
    None,
    /// Exactly this many bytes (`Content-Length`).
    Length(u64),
    /// The chunked transfer coding (RFC 9112 §7.1).
    Chunked,
    /// Everything until the server closes the connection.
    CloseDelimited,
}

/// The framing of a response body, with the reason the connection cannot be reused
/// after it, if the framing alone rules that out.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ResponseFraming {
    /// How the body is delimited.
    pub body: BodyFraming,
    /// Set when the framing forbids reusing the connection after this response.
    pub close: Option<CloseReason>,
}

impl ResponseFraming {
    /// Whether a body can follow the head: `false` for [`BodyFraming::None`] and
    /// `Length(0)`, so the connection can be released right after the head.
    pub fn has_body(&self) -> bool {
        !matches!(self.body, BodyFraming::None | BodyFraming::Length(0))
    }
}

/// Decides how the body of `head`, the final response to a `method` request, is
/// delimited, following RFC 9112 §6.3 in its order:
///
/// 1. A response to `HEAD`, and every 1xx, 204 and 304 response, has no body,
///    whatever its fields say. `101` also closes the connection
///    ([`CloseReason::SwitchingProtocols`]). A 1xx or 204 that declares a body anyway
///    (a `Transfer-Encoding`, or a `Content-Length` other than 0: RFC 9110 §8.6 and
///    RFC 9112 §6.1 forbid both) may send one nobody will read, so the connection is
///    closed after it ([`CloseReason::InvalidBodilessResponse`]); a 304's and a HEAD
///    response's length describe the representation and are fine. So is any
///    bodiless HTTP/1.0 response with a `Transfer-Encoding` (RFC 9112 §6.1: the
///    framing is faulty, and the connection closes after the message).
/// 2. A 2xx response to `CONNECT` has no body; the connection becomes a tunnel
///    ([`CloseReason::Tunnel`]). Checked first: a `204` to `CONNECT` is a tunnel too.
/// 3. `Transfer-Encoding` ending in `chunked` means chunked, even with a
///    `Content-Length`, which is then ignored and the connection closed afterwards
///    ([`CloseReason::ContentLengthWithTransferEncoding`]). `Transfer-Encoding` that
///    does not end in `chunked` — which the RFC would read to close — is an error here,
///    and so is any `Transfer-Encoding` in an HTTP/1.0 response (§6.1: "MUST treat the
///    message as if the framing is faulty").
/// 4. `Content-Length` gives the length. Repeated identical values count as one
///    (RFC 9110 §8.6); different values or a value that is not a decimal number are
///    errors.
/// 5. Otherwise the body runs until the connection closes
///    ([`CloseReason::CloseDelimitedBody`]),
///    in HTTP/1.0 and HTTP/1.1 alike.
///
/// ```
/// use hcx_h1::{BodyFraming, CloseReason, Limits, parse_response_head, response_framing};
/// use http::Method;
///
/// let (head, _) = parse_response_head(b"HTTP/1.0 200 OK\r\n\r\n", &Limits::default())?.unwrap();
/// let framing = response_framing(&Method::GET, &head)?;
/// assert_eq!(framing.body, BodyFraming::CloseDelimited);
/// assert_eq!(framing.close, Some(CloseReason::CloseDelimitedBody));
/// # Ok::<(), hcx_h1::Error>(())
/// ```
pub fn response_framing(method: &Method, head: &ResponseHead) -> Result<ResponseFraming, Error> {
    let status = head.status;
    let framing = |body, close| Ok(ResponseFraming { body, close });

    // Rule 2 before rule 1: a 204 to CONNECT has no body (rule 1), but like every
    // 2xx to CONNECT it turns the connection into a tunnel (RFC 9110 §9.3.6: "Any 2xx
    // (Successful) response indicates that the sender ... will switch to tunnel mode
    // immediately after the response header section").
    if method == Method::CONNECT && status.is_success() {
        return framing(BodyFraming::None, Some(CloseReason::Tunnel));
    }
    // Rule 1.
    if method == Method::HEAD
        || status.is_informational()
        || status == StatusCode::NO_CONTENT
        || status == StatusCode::NOT_MODIFIED
    {
        let close = if status == StatusCode::SWITCHING_PROTOCOLS {
            Some(CloseReason::SwitchingProtocols)
        } else if (status.is_informational() || status == StatusCode::NO_CONTENT)
            && FramingFields::of(&head.headers).declare_a_body()
        {
            Some(CloseReason::InvalidBodilessResponse)
        } else if head.version == Version::HTTP_10 && head.headers.contains_key(TRANSFER_ENCODING) {
            // RFC 9112 §6.1: faulty framing in any HTTP/1.0 message; "close the
            // connection after processing the message".
            Some(CloseReason::InvalidBodilessResponse)
        } else {
            None
        };
        return framing(BodyFraming::None, close);
    }
    let fields = FramingFields::of(&head.headers);
    // Rule 3.
    let chunked = fields.codings.is_chunked().map_err(|why| {
        Error::new(
            ErrorKind::InvalidTransferEncoding,
            format!("{why} in a {status} response"),
        )
    })?;
    if chunked {
        if head.version == Version::HTTP_10 {
            return Err(Error::new(
                ErrorKind::InvalidTransferEncoding,
                format!("Transfer-Encoding in an HTTP/1.0 {status} response (RFC 9112 §6.1)"),
            ));
        }
        let close = fields
            .length
            .present()
            .then_some(CloseReason::ContentLengthWithTransferEncoding);
        return framing(BodyFraming::Chunked, close);
    }
    // Rule 4 (and rule 3's HTTP/1.0 case: a non-chunked coding in 1.0 is already an error).
    match fields.length.result() {
        Ok(Some(n)) => framing(BodyFraming::Length(n), None),
        // Rule 8.
        Ok(None) => framing(
            BodyFraming::CloseDelimited,
            Some(CloseReason::CloseDelimitedBody),
        ),
        Err(ContentLengthError::Invalid(value)) => Err(Error::new(
            ErrorKind::InvalidContentLength,
            format!(
                "invalid Content-Length {value} in a {status} response (expected a decimal number of at most {})",
                u64::MAX
            ),
        )),
        Err(ContentLengthError::Conflicting(a, b)) => Err(Error::new(
            ErrorKind::ConflictingContentLength,
            format!("conflicting Content-Length values {a} and {b} in a {status} response"),
        )),
    }
}

/// The framing fields of a response, read in one walk over its field lines: a head
/// carries few, and comparing each name with the two is cheaper than a hashed lookup
/// of each (the framing is decided on every response). The walk gives the lines of a
/// repeated field in the order they came, as a lookup does.
struct FramingFields<'a> {
    codings: TransferCodings<'a>,
    length: ContentLength,
}

impl<'a> FramingFields<'a> {
    fn of(headers: &'a HeaderMap) -> Self {
        let mut fields = FramingFields {
            codings: TransferCodings::default(),
            length: ContentLength::default(),
        };
        for (name, value) in headers {
            if *name == CONTENT_LENGTH {
                fields.length.add(value);
            } else if *name == TRANSFER_ENCODING {
                fields.codings.add(value);
            }
        }
        fields
    }

    /// Whether fields of a response that can have no body declare one anyway: any
    /// `Transfer-Encoding`, or a `Content-Length` that is not a valid 0.
    fn declare_a_body(self) -> bool {
        self.codings.present() || !matches!(self.length.result(), Ok(None | Some(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Limits, parse_response_head};

    fn decide(method: Method, head: &str) -> Result<ResponseFraming, ErrorKind> {
        let (head, _) = parse_response_head(head.as_bytes(), &Limits::default())
            .unwrap()
            .unwrap();
        response_framing(&method, &head).map_err(|e| e.kind())
    }

    #[test]
    fn framing_table() {
        use BodyFraming::*;
        use CloseReason::*;
        let ok = |body, close| Ok(ResponseFraming { body, close });
        let cases: Vec<(Method, &str, Result<ResponseFraming, ErrorKind>)> = vec![
            // Rule 1: no body whatever the fields say.
            (
                Method::HEAD,
                "HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\n",
                ok(None, Option::None),
            ),
            (
                Method::HEAD,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                ok(None, Option::None),
            ),
            (
                Method::HEAD,
                "HTTP/1.1 200 OK\r\nContent-Length: x\r\n\r\n",
                ok(None, Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 204 No Content\r\nContent-Length: 10\r\n\r\n",
                ok(None, Some(InvalidBodilessResponse)),
            ),
            (
                Method::GET,
                "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
                ok(None, Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 304 Not Modified\r\nContent-Length: 10\r\n\r\n",
                ok(None, Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
                ok(None, Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n",
                ok(None, Some(InvalidBodilessResponse)),
            ),
            (
                Method::GET,
                "HTTP/1.1 204 No Content\r\nContent-Length: x\r\n\r\n",
                ok(None, Some(InvalidBodilessResponse)),
            ),
            (
                Method::HEAD,
                "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n",
                ok(None, Some(InvalidBodilessResponse)),
            ),
            (
                Method::GET,
                "HTTP/1.0 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n",
                ok(None, Some(InvalidBodilessResponse)),
            ),
            (
                Method::HEAD,
                "HTTP/1.0 200 OK\r\nContent-Length: 10\r\n\r\n",
                ok(None, Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 100 Continue\r\n\r\n",
                ok(None, Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 103 Early Hints\r\n\r\n",
                ok(None, Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 101 Switching Protocols\r\n\r\n",
                ok(None, Some(SwitchingProtocols)),
            ),
            // Rule 2.
            (
                Method::CONNECT,
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                ok(None, Some(Tunnel)),
            ),
            (
                Method::CONNECT,
                "HTTP/1.1 407 Proxy Auth\r\nContent-Length: 5\r\n\r\n",
                ok(Length(5), Option::None),
            ),
            // Rule 3.
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                ok(Chunked, Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
                ok(Chunked, Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                ok(Chunked, Some(ContentLengthWithTransferEncoding)),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nContent-Length: bad\r\nTransfer-Encoding: chunked\r\n\r\n",
                ok(Chunked, Some(ContentLengthWithTransferEncoding)),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\n",
                Err(ErrorKind::InvalidTransferEncoding),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\nContent-Length: 5\r\n\r\n",
                Err(ErrorKind::InvalidTransferEncoding),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(ErrorKind::InvalidTransferEncoding),
            ),
            (
                Method::GET,
                "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n",
                Err(ErrorKind::InvalidTransferEncoding),
            ),
            (
                Method::GET,
                "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n",
                Err(ErrorKind::InvalidTransferEncoding),
            ),
            // Rule 4.
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n",
                ok(Length(5), Option::None),
            ),
            (
                Method::POST,
                "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
                ok(Length(0), Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.0 200 OK\r\nContent-Length: 5\r\n\r\n",
                ok(Length(5), Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n",
                ok(Length(5), Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
                ok(Length(5), Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                Err(ErrorKind::ConflictingContentLength),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nContent-Length: 5, 6\r\n\r\n",
                Err(ErrorKind::ConflictingContentLength),
            ),
            (
                Method::GET,
                "HTTP/1.1 404 Not Found\r\nContent-Length: -1\r\n\r\n",
                Err(ErrorKind::InvalidContentLength),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999\r\n\r\n",
                Err(ErrorKind::InvalidContentLength),
            ),
            // Rule 8.
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\n\r\n",
                ok(CloseDelimited, Some(CloseDelimitedBody)),
            ),
            (
                Method::GET,
                "HTTP/1.0 200 OK\r\n\r\n",
                ok(CloseDelimited, Some(CloseDelimitedBody)),
            ),
            (
                Method::CONNECT,
                "HTTP/1.1 502 Bad Gateway\r\n\r\n",
                ok(CloseDelimited, Some(CloseDelimitedBody)),
            ),
            // Framing fields in any case, between other fields, read in order.
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\ncontent-LENGTH: 5\r\nX: 1\r\nContent-Length: 5\r\n\r\n",
                ok(Length(5), Option::None),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: 1\r\nCONTENT-LENGTH: 6\r\n\r\n",
                Err(ErrorKind::ConflictingContentLength),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nContent-Length: x\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
                Err(ErrorKind::InvalidContentLength),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\ntransfer-encoding: gzip\r\nContent-Length: 5\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
                ok(Chunked, Some(ContentLengthWithTransferEncoding)),
            ),
            (
                Method::GET,
                "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nX: 1\r\nTransfer-Encoding: gzip\r\n\r\n",
                Err(ErrorKind::InvalidTransferEncoding),
            ),
            (
                Method::GET,
                "HTTP/1.1 204 No Content\r\nX: 1\r\ntransfer-encoding: chunked\r\n\r\n",
                ok(None, Some(InvalidBodilessResponse)),
            ),
            (
                Method::GET,
                "HTTP/1.1 204 No Content\r\ncontent-length: 0\r\nContent-Length: 1\r\n\r\n",
                ok(None, Some(InvalidBodilessResponse)),
            ),
        ];
        for (method, head, expected) in cases {
            assert_eq!(decide(method.clone(), head), expected, "{method} {head:?}");
        }
    }

    #[test]
    fn every_2xx_to_connect_is_a_tunnel_even_a_bodiless_status() {
        // RFC 9110 §9.3.6: "Any 2xx (Successful) response indicates that the sender
        // (and all inbound proxies) will switch to tunnel mode immediately after the
        // response header section". A 204 is bodiless by rule 1, but the connection
        // is a tunnel after it all the same: it must never be pooled as a connection
        // to the proxy.
        for head in [
            "HTTP/1.1 204 No Content\r\n\r\n",
            "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n",
        ] {
            assert_eq!(
                decide(Method::CONNECT, head),
                Ok(ResponseFraming {
                    body: BodyFraming::None,
                    close: Some(CloseReason::Tunnel),
                }),
                "{head:?}"
            );
        }
    }

    #[test]
    fn the_first_wrong_content_length_is_the_one_reported_wherever_the_lines_are() {
        let head = "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX: 1\r\nContent-Length: 7\r\nContent-Length: x\r\n\r\n";
        let message = parse_response_head(head.as_bytes(), &Limits::default())
            .map_err(|e| e.to_string())
            .and_then(|head| match head {
                Some((head, _)) => response_framing(&Method::GET, &head).map_err(|e| e.to_string()),
                Option::None => Err("incomplete".to_string()),
            });
        assert_eq!(
            message,
            Err("conflicting Content-Length values 5 and 7 in a 200 OK response".to_string())
        );
    }

    #[test]
    fn errors_say_what_was_wrong() {
        let (head, _) = parse_response_head(
            b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 7\r\n\r\n",
            &Limits::default(),
        )
        .unwrap()
        .unwrap();
        let e = response_framing(&Method::GET, &head).unwrap_err();
        assert_eq!(
            e.to_string(),
            "conflicting Content-Length values 5 and 7 in a 200 OK response"
        );
    }

    #[test]
    fn an_invalid_length_is_said_as_what_the_codec_takes() {
        // Twenty digits, refused for its size, not its digits; and leading zeros
        // beyond twenty digits are a valid length.
        let message = |value: &str| {
            let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {value}\r\n\r\n");
            decide_message(&head)
        };
        assert_eq!(
            message("99999999999999999999"),
            Err(
                "invalid Content-Length \"99999999999999999999\" in a 200 OK response \
                 (expected a decimal number of at most 18446744073709551615)"
                    .to_string()
            )
        );
        assert_eq!(
            message("+5"),
            Err("invalid Content-Length \"+5\" in a 200 OK response \
                 (expected a decimal number of at most 18446744073709551615)"
                .to_string())
        );
        assert_eq!(
            message("0000000000000000000000005"),
            Ok(BodyFraming::Length(5))
        );
    }

    fn decide_message(head: &str) -> Result<BodyFraming, String> {
        let (head, _) = parse_response_head(head.as_bytes(), &Limits::default())
            .map_err(|e| e.to_string())?
            .ok_or("incomplete")?;
        response_framing(&Method::GET, &head)
            .map(|f| f.body)
            .map_err(|e| e.to_string())
    }

    #[test]
    fn has_body_is_false_only_for_none_and_zero_length() {
        let f = |body| ResponseFraming {
            body,
            close: Option::None,
        };
        assert!(!f(BodyFraming::None).has_body());
        assert!(!f(BodyFraming::Length(0)).has_body());
        assert!(f(BodyFraming::Length(1)).has_body());
        assert!(f(BodyFraming::Chunked).has_body());
        assert!(f(BodyFraming::CloseDelimited).has_body());
    }
}
