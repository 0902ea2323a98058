//! A whole response from a byte slice, for tools and fuzzing: the [`Call`] the engine
//! drives, reading only, with the end of the slice as the end of the connection.

use bytes::BytesMut;
use http::{HeaderMap, Method};

use crate::error::Error;
use crate::{Call, FinalResponse, Limits, RecvStep, ResponseFraming, ResponseHead};

/// A response read whole by [`read_response`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct CompleteResponse {
    /// The interim (1xx) responses before the final one, in order.
    pub informational: Vec<ResponseHead>,
    /// The final response's head.
    pub head: ResponseHead,
    /// Its framing.
    pub framing: ResponseFraming,
    /// Its body, decoded.
    pub body: Vec<u8>,
    /// The trailer fields of a chunked body.
    pub trailers: Option<HeaderMap>,
    /// How many input bytes the response took; what follows is not part of it.
    pub consumed: usize,
}

/// Reads one response to a `method` request from `input`, taking the end of `input`
/// as the end of the connection.
///
/// `input` is fed to the decoders in pieces of `piece` bytes (at least one), as reads
/// from a socket would deliver it; any piece size gives the same result.
///
/// ```
/// use hcx_h1::{Limits, read_response};
/// use http::Method;
///
/// let input = b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
///               2\r\nhi\r\n0\r\n\r\n";
/// let response = read_response(&Method::POST, input, 7, &Limits::default())?;
/// assert_eq!(response.informational.len(), 1);
/// assert_eq!(response.head.status, 200);
/// assert_eq!(response.body, b"hi");
/// assert_eq!(response.consumed, input.len());
/// # Ok::<(), hcx_h1::Error>(())
/// ```
pub fn read_response(
    method: &Method,
    input: &[u8],
    piece: usize,
    limits: &Limits,
) -> Result<CompleteResponse, Error> {
    let mut pieces = input.chunks(piece.max(1));
    let mut buf = BytesMut::new();
    let mut consumed = 0usize;
    // The same machine the engine drives, reading only.
    let mut call = Call::read_only(method.clone(), *limits);
    let response = loop {
        let before = buf.len();
        let step = call.try_read(&mut buf)?;
        consumed += before - buf.len();
        call = match step {
            RecvStep::Response(response) => break response,
            RecvStep::Wait(call) => call,
        };
        match pieces.next() {
            Some(piece) => buf.extend_from_slice(piece),
            None => return Err(call.end_of_stream(&buf)),
        }
    };

    let FinalResponse {
        head,
        framing,
        body: mut decoder,
        informational,
        ..
    } = response;
    let mut body = Vec::new();
    while !decoder.is_done() {
        let before = buf.len();
        let data = decoder.decode_buf(&mut buf)?;
        consumed += before - buf.len();
        body.extend_from_slice(&data);
        if data.is_empty() && !decoder.is_done() {
            match pieces.next() {
                Some(piece) => buf.extend_from_slice(piece),
                None => decoder.decode_eof()?,
            }
        }
    }
    Ok(CompleteResponse {
        informational,
        head,
        framing,
        body,
        trailers: decoder.take_trailers(),
        consumed,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BodyFraming, CloseReason};

    fn read(input: &[u8]) -> Result<CompleteResponse, Error> {
        read_response(&Method::GET, input, 1000, &Limits::default())
    }

    #[test]
    fn length_body_stops_at_its_length() {
        let r = read(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nabcHTTP/1.1").unwrap();
        assert_eq!(r.body, b"abc");
        assert_eq!(r.consumed, 41);
        assert_eq!(r.framing.close, None);
    }

    #[test]
    fn close_delimited_body_runs_to_the_end() {
        let r = read(b"HTTP/1.0 200 OK\r\n\r\nall of it").unwrap();
        assert_eq!(r.body, b"all of it");
        assert_eq!(r.framing.body, BodyFraming::CloseDelimited);
        assert_eq!(r.framing.close, Some(CloseReason::CloseDelimitedBody));
    }

    #[test]
    fn cut_heads_and_bodies_are_incomplete() {
        let e = read(b"").unwrap_err();
        assert!(e.is_incomplete_head());
        assert_eq!(e.to_string(), "connection closed before any response byte");
        let e = read(b"HTTP/1.1 200 OK\r\n").unwrap_err();
        assert_eq!(
            e.to_string(),
            "connection closed after 17 bytes of a response head"
        );
        let e = read(b"HTTP/1.1 100 Continue\r\n\r\n").unwrap_err();
        assert!(e.is_incomplete_head());
        let e = read(b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\nab").unwrap_err();
        assert!(e.is_incomplete_body());
    }

    #[test]
    fn head_request_has_no_body_whatever_follows() {
        let input = b"HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n";
        let r = read_response(&Method::HEAD, input, 5, &Limits::default()).unwrap();
        assert!(r.body.is_empty());
        assert_eq!(r.consumed, input.len());
    }
}
