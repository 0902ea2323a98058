//! Message framing: can the end of this response's body be found without the server
//! closing the connection? (RFC 9112 §6.)

use crate::exchange::Exchange;
use crate::head::Summary;
use crate::reason::CloseReason;
use crate::syntax::{elements, parse_u64_exact, trim_ows};
use http::{Method, Version};

/// The transfer codings of a message, accumulated over its `Transfer-Encoding` lines.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct Codings {
    pub(crate) last_is_chunked: bool,
    /// How many times `chunked` is listed.
    pub(crate) chunked: u32,
}

impl Codings {
    /// Adds the codings of one more field line.
    pub(crate) fn add(mut self, value: &[u8]) -> Codings {
        for coding in elements(value) {
            self.last_is_chunked = coding.eq_ignore_ascii_case(b"chunked");
            self.chunked = self.chunked.saturating_add(u32::from(self.last_is_chunked));
        }
        self
    }
}

/// A message's `Content-Length`, accumulated over its field lines.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Length {
    Absent,
    Valid(u64),
    /// More than one field line, even with equal values: RFC 9110 §8.6 lets a recipient
    /// reject that, and a response we cannot vouch for is not one to reuse after.
    Multiple,
    /// Not `1*DIGIT` (negative, signed, a list, junk) or too large for a `u64`.
    Invalid,
}

impl Length {
    /// Adds one more field line.
    pub(crate) fn add(self, value: &[u8]) -> Length {
        match self {
            Length::Absent => match parse_u64_exact(trim_ows(value)) {
                Some(n) => Length::Valid(n),
                None => Length::Invalid,
            },
            _ => Length::Multiple,
        }
    }
}

/// Checks that the request was framed unambiguously. RFC 9112 §6.1: a server that
/// receives both `Content-Length` and `Transfer-Encoding` "MUST close the connection
/// after responding".
pub(crate) fn check_request(request: &Summary) -> Result<(), CloseReason> {
    if request.transfer_encoding.is_some() && request.content_length != Length::Absent {
        return Err(CloseReason::RequestContentLengthWithTransferEncoding);
    }
    Ok(())
}

/// Checks that the response body (if it can have one) is delimited by the message
/// itself, so the next response on the connection starts where this one ends.
pub(crate) fn check_response(
    exchange: &Exchange<'_>,
    response: &Summary,
) -> Result<(), CloseReason> {
    let status = exchange.status();
    let length = response.content_length;

    // RFC 9112 §6.1: an HTTP/1.0 message with Transfer-Encoding is treated as faulty
    // framing and the connection closed, "even if a Content-Length is present".
    if response.transfer_encoding.is_some() && exchange.version() < Version::HTTP_11 {
        return Err(CloseReason::TransferEncodingOnHttp10);
    }
    // RFC 9112 §6.3 (3): both fields "ought to be handled as an error"; §6.1 has the
    // server close after such a request. Apache 5 reuses here; a smuggling attempt is
    // not a connection to keep.
    if response.transfer_encoding.is_some() && length != Length::Absent {
        return Err(CloseReason::ContentLengthWithTransferEncoding);
    }

    // RFC 9112 §6.3 (1): no body for 1xx and 204, whatever the headers say. RFC 9110
    // §8.6 and RFC 9112 §6.1 forbid a server to send a length for them; one that does
    // may well send a body, which would be read as the next response.
    if status.is_informational() || status.as_u16() == 204 {
        return match (response.transfer_encoding, length) {
            (None, Length::Absent | Length::Valid(0)) => Ok(()),
            _ => Err(CloseReason::InvalidBodilessResponse),
        };
    }
    // RFC 9112 §6.3 (1) and (2): no body for a response to HEAD, a 304, or a 2xx to
    // CONNECT (the connection becomes a tunnel). Their length fields describe the
    // representation, not this message.
    let method = exchange.method();
    if *method == Method::CONNECT && status.is_success() {
        // No length needed (§6.3 (2)), but no HTTP either from here on: the tunnel is
        // never pooled as a connection to the proxy (the codec reports `Tunnel` too).
        return Err(CloseReason::Tunnel);
    }
    if *method == Method::HEAD || status.as_u16() == 304 {
        return Ok(());
    }

    if let Some(codings) = response.transfer_encoding {
        // RFC 9112 §6.3 (4): chunked must be the final coding, else the body runs to
        // the close of the connection. RFC 9112 §6.1: chunked must not be applied twice.
        return if !codings.last_is_chunked {
            Err(CloseReason::TransferEncodingNotChunked)
        } else if codings.chunked > 1 {
            Err(CloseReason::InvalidTransferEncoding)
        } else {
            Ok(())
        };
    }
    match length {
        Length::Valid(_) => Ok(()),
        Length::Absent => Err(CloseReason::UnframedBody),
        Length::Multiple => Err(CloseReason::MultipleContentLength),
        Length::Invalid => Err(CloseReason::InvalidContentLength),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codings_track_the_final_one_across_lines() {
        let c = Codings::default().add(b"chunked, gzip");
        assert_eq!(
            c,
            Codings {
                last_is_chunked: false,
                chunked: 1
            }
        );
        let c = c.add(b" , chunked ,");
        assert_eq!(
            c,
            Codings {
                last_is_chunked: true,
                chunked: 2
            }
        );
        assert_eq!(Codings::default().add(b""), Codings::default());
    }

    #[test]
    fn second_length_line_is_multiple_whatever_it_says() {
        assert_eq!(Length::Absent.add(b"10"), Length::Valid(10));
        assert_eq!(Length::Absent.add(b"10").add(b"10"), Length::Multiple);
        assert_eq!(Length::Absent.add(b"x").add(b"10"), Length::Multiple);
        assert_eq!(Length::Absent.add(b"-1"), Length::Invalid);
    }
}
