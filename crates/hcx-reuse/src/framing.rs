//! Message framing: can the end of this response's body be found without the server
//! closing the connection? (RFC 9112 §6.)

use crate::exchange::Exchange;
use crate::reason::CloseReason;
use crate::syntax::{list_elements, parse_u64_exact, trim_ows};
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, Method, Version};

/// Checks that the request was framed unambiguously. RFC 9112 §6.1: a server that
/// receives both `Content-Length` and `Transfer-Encoding` "MUST close the connection
/// after responding".
pub(crate) fn check_request(headers: &HeaderMap) -> Result<(), CloseReason> {
    if headers.contains_key(CONTENT_LENGTH) && headers.contains_key(TRANSFER_ENCODING) {
        return Err(CloseReason::RequestContentLengthWithTransferEncoding);
    }
    Ok(())
}

/// Checks that the response body (if it can have one) is delimited by the message
/// itself, so the next response on the connection starts where this one ends.
pub(crate) fn check_response(exchange: &Exchange<'_>) -> Result<(), CloseReason> {
    let headers = exchange.response_headers();
    let status = exchange.status();
    let has_te = headers.contains_key(TRANSFER_ENCODING);
    let has_cl = headers.contains_key(CONTENT_LENGTH);

    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding is treated as faulty
    // framing and the connection closed, "even if a Content-Length is present".
    if has_te && exchange.version() < Version::HTTP_11 {
        return Err(CloseReason::TransferEncodingOnHttp10);
    }
    // RFC 9112 §6.3 (3): both fields "ought to be handled as an error"; §6.1 has the
    // server close after such a request. Apache 5 reuses here; a smuggling attempt is
    // not a connection to keep.
    if has_te && has_cl {
        return Err(CloseReason::ContentLengthWithTransferEncoding);
    }

    // RFC 9112 §6.3 (1): no body for 1xx and 204, whatever the headers say. RFC 9110
    // §8.6 and RFC 9112 §6.1 forbid a server to send a length for them; one that does
    // may well send a body, which would be read as the next response.
    if status.is_informational() || status.as_u16() == 204 {
        if has_te {
            return Err(CloseReason::InvalidBodilessResponse);
        }
        return match single_content_length(headers) {
            Length::Absent | Length::Valid(0) => Ok(()),
            _ => Err(CloseReason::InvalidBodilessResponse),
        };
    }
    // RFC 9112 §6.3 (1) and (2): no body for a response to HEAD, a 304, or a 2xx to
    // CONNECT (the connection becomes a tunnel). Their length fields describe the
    // representation, not this message.
    let method = exchange.method();
    if *method == Method::HEAD
        || status.as_u16() == 304
        || (*method == Method::CONNECT && status.is_success())
    {
        return Ok(());
    }

    if has_te {
        return check_transfer_codings(headers);
    }
    match single_content_length(headers) {
        Length::Valid(_) => Ok(()),
        Length::Absent => Err(CloseReason::UnframedBody),
        Length::Multiple => Err(CloseReason::MultipleContentLength),
        Length::Invalid => Err(CloseReason::InvalidContentLength),
    }
}

/// RFC 9112 §6.3 (4): chunked must be the final coding, else the body runs to the
/// close of the connection. RFC 9112 §6.1: chunked must not be applied twice.
fn check_transfer_codings(headers: &HeaderMap) -> Result<(), CloseReason> {
    let mut chunked = 0u32;
    let mut last_is_chunked = false;
    for coding in list_elements(headers.get_all(TRANSFER_ENCODING)) {
        last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
        chunked = chunked.saturating_add(u32::from(last_is_chunked));
    }
    if !last_is_chunked {
        Err(CloseReason::TransferEncodingNotChunked)
    } else if chunked > 1 {
        Err(CloseReason::InvalidTransferEncoding)
    } else {
        Ok(())
    }
}

enum Length {
    Absent,
    Valid(u64),
    /// More than one field line, even with equal values: RFC 9110 §8.6 lets a recipient
    /// reject that, and a response we cannot vouch for is not one to reuse after.
    Multiple,
    /// Not `1*DIGIT` (negative, signed, a list, junk) or too large for a `u64`.
    Invalid,
}

fn single_content_length(headers: &HeaderMap) -> Length {
    let mut values = headers.get_all(CONTENT_LENGTH).into_iter();
    let Some(first) = values.next() else {
        return Length::Absent;
    };
    if values.next().is_some() {
        return Length::Multiple;
    }
    match parse_u64_exact(trim_ows(first.as_bytes())) {
        Some(n) => Length::Valid(n),
        None => Length::Invalid,
    }
}
