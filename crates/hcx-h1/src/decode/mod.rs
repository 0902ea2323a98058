//! Sans-IO response body decoding: bytes in, body data and "done" out.

mod chunked;

use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::HeaderMap;

use crate::error::{Error, ErrorKind};
use crate::{BodyFraming, Limits};
use chunked::ChunkedDecoder;

/// Decodes one response body framed as [`BodyFraming`] says.
///
/// Feed it the bytes that follow the head with [`decode`](BodyDecoder::decode) (or
/// [`decode_buf`](BodyDecoder::decode_buf) on a read buffer), and tell it when the
/// connection reached end of stream with [`decode_eof`](BodyDecoder::decode_eof).
/// It never reads past the body: bytes after it (which a well-behaved server does not
/// send without a new request) are left unconsumed for the caller to judge.
///
/// Apache HttpClient has one stream class per framing (`ContentLengthInputStream`,
/// `ChunkedInputStream`, `IdentityInputStream`); here they are one sans-IO type.
///
/// ```
/// use hcx_h1::{BodyDecoder, BodyFraming, Limits};
///
/// let mut decoder = BodyDecoder::new(BodyFraming::Chunked, &Limits::default());
/// let input = b"5;name=\"quoted \\\" value\"\r\nhello\r\n0\r\nX-Sum: 1\r\n\r\n";
/// let mut body = Vec::new();
/// let mut at = 0;
/// while !decoder.is_done() {
///     let step = decoder.decode(&input[at..])?;
///     body.extend_from_slice(&input[at..][step.data]);
///     at += step.consumed;
/// }
/// assert_eq!(body, b"hello");
/// assert_eq!(at, input.len());
/// assert_eq!(decoder.trailers().unwrap()["x-sum"], "1");
/// # Ok::<(), hcx_h1::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct BodyDecoder {
    kind: Kind,
    /// Input bytes consumed so far, framing included.
    consumed: u64,
    failed: Option<Error>,
}

#[derive(Debug, Clone)]
enum Kind {
    None,
    Length { total: u64, remaining: u64 },
    Chunked(Box<ChunkedDecoder>),
    Close { ended: bool },
}

/// The outcome of one [`BodyDecoder::decode`] call.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decoded {
    /// How many input bytes were used (framing and data); drop them from the buffer.
    pub consumed: usize,
    /// Where body data lies in the input; empty when this call found none. Always
    /// within `..consumed`.
    pub data: Range<usize>,
    /// The body is complete: nothing more to read for it.
    pub done: bool,
}

impl BodyDecoder {
    /// A decoder for a body with `framing`. `limits` bound chunk-size lines and the
    /// trailer section.
    pub fn new(framing: BodyFraming, limits: &Limits) -> Self {
        let kind = match framing {
            BodyFraming::None => Kind::None,
            BodyFraming::Length(n) => Kind::Length {
                total: n,
                remaining: n,
            },
            BodyFraming::Chunked => Kind::Chunked(Box::new(ChunkedDecoder::new(limits))),
            BodyFraming::CloseDelimited => Kind::Close { ended: false },
        };
        BodyDecoder {
            kind,
            consumed: 0,
            failed: None,
        }
    }

    /// Decodes from the start of `input`.
    ///
    /// Each call returns at most one contiguous run of body data. A chunked body's
    /// data comes with the framing after it consumed as far as `input` goes (up to
    /// the next chunk's data), so the call that returns the last data already says
    /// `done` when the end of the body is in `input`; a framing error found that way
    /// is returned by the next call, after the data (the bad byte is left
    /// unconsumed). If it returns no data and the body is not done, it consumed all
    /// of `input`: read more and call again. Once done, it consumes nothing more.
    /// After an error, every later call returns the same error.
    pub fn decode(&mut self, input: &[u8]) -> Result<Decoded, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let (consumed, data) = match &mut self.kind {
            Kind::None => (0, 0..0),
            Kind::Length { remaining, .. } => {
                // At most `input.len()`, so it fits in a usize.
                let n = (*remaining).min(input.len() as u64) as usize;
                *remaining -= n as u64;
                (n, 0..n)
            }
            Kind::Chunked(chunked) => match chunked.decode(input) {
                Ok(step) => (step.consumed, step.data),
                Err(e) => {
                    self.failed = Some(e.clone());
                    return Err(e);
                }
            },
            Kind::Close { ended: true } => (0, 0..0),
            Kind::Close { ended: false } => (input.len(), 0..input.len()),
        };
        self.consumed += consumed as u64;
        Ok(Decoded {
            consumed,
            data,
            done: self.is_done(),
        })
    }

    /// Decodes from the start of `buf`, removes what it consumed, and returns the body
    /// data as `Bytes` sharing `buf`'s memory (empty when there was none; see
    /// [`decode`](BodyDecoder::decode) for what that means).
    pub fn decode_buf(&mut self, buf: &mut BytesMut) -> Result<Bytes, Error> {
        let decoded = self.decode(buf)?;
        let consumed = buf.split_to(decoded.consumed);
        if decoded.data.is_empty() {
            return Ok(Bytes::new());
        }
        Ok(consumed.freeze().slice(decoded.data))
    }

    /// Tells the decoder that the connection reached end of stream, after every byte
    /// before it went through [`decode`](BodyDecoder::decode).
    ///
    /// That ends a close-delimited body; for any other framing that is not done yet it
    /// is an [`ErrorKind::IncompleteBody`] error that says how much was missing.
    pub fn decode_eof(&mut self) -> Result<(), Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let error = match &mut self.kind {
            Kind::None => None,
            Kind::Close { ended } => {
                *ended = true;
                None
            }
            Kind::Length { total, remaining } if *remaining > 0 => Some(Error::new(
                ErrorKind::IncompleteBody,
                format!(
                    "connection closed after {} of {total} body bytes (Content-Length)",
                    *total - *remaining
                ),
            )),
            Kind::Length { .. } => None,
            Kind::Chunked(chunked) => chunked.eof_error(),
        };
        match error {
            Some(e) => {
                self.failed = Some(e.clone());
                Err(e)
            }
            None => Ok(()),
        }
    }

    /// The body is complete.
    pub fn is_done(&self) -> bool {
        match &self.kind {
            Kind::None => true,
            Kind::Length { remaining, .. } => *remaining == 0,
            Kind::Chunked(chunked) => chunked.is_done(),
            Kind::Close { ended } => *ended,
        }
    }

    /// Input bytes consumed so far, framing included.
    pub fn consumed(&self) -> u64 {
        self.consumed
    }

    /// Body bytes still expected, when the framing says (`Content-Length`).
    pub fn remaining(&self) -> Option<u64> {
        match &self.kind {
            Kind::None => Some(0),
            Kind::Length { remaining, .. } => Some(*remaining),
            Kind::Chunked(_) | Kind::Close { .. } => None,
        }
    }

    /// The trailer fields of a chunked body, once it is done; `None` when there were
    /// none. They are kept apart from the head's fields and never affect framing
    /// (RFC 9110 §6.5).
    pub fn trailers(&self) -> Option<&HeaderMap> {
        match &self.kind {
            Kind::Chunked(chunked) => chunked.trailers(),
            _ => None,
        }
    }

    /// Takes the trailer fields out of the decoder.
    pub fn take_trailers(&mut self) -> Option<HeaderMap> {
        match &mut self.kind {
            Kind::Chunked(chunked) => chunked.take_trailers(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn limits() -> Limits {
        Limits::default()
    }

    #[test]
    fn none_is_done_at_once_and_consumes_nothing() {
        let mut d = BodyDecoder::new(BodyFraming::None, &limits());
        assert!(d.is_done());
        let step = d.decode(b"stray").unwrap();
        assert_eq!(
            step,
            Decoded {
                consumed: 0,
                data: 0..0,
                done: true
            }
        );
        d.decode_eof().unwrap();
    }

    #[test]
    fn length_stops_at_the_length_and_leaves_the_rest() {
        let mut d = BodyDecoder::new(BodyFraming::Length(5), &limits());
        assert_eq!(
            d.decode(b"hel").unwrap(),
            Decoded {
                consumed: 3,
                data: 0..3,
                done: false
            }
        );
        assert_eq!(d.remaining(), Some(2));
        assert_eq!(
            d.decode(b"loHTTP").unwrap(),
            Decoded {
                consumed: 2,
                data: 0..2,
                done: true
            }
        );
        assert_eq!(d.decode(b"HTTP").unwrap().consumed, 0);
        assert_eq!(d.consumed(), 5);
        d.decode_eof().unwrap();
    }

    #[test]
    fn zero_length_is_done_at_once() {
        let d = BodyDecoder::new(BodyFraming::Length(0), &limits());
        assert!(d.is_done());
    }

    #[test]
    fn length_cut_short_is_an_incomplete_body() {
        let mut d = BodyDecoder::new(BodyFraming::Length(10), &limits());
        d.decode(b"1234").unwrap();
        let e = d.decode_eof().unwrap_err();
        assert!(e.is_incomplete_body());
        assert_eq!(
            e.to_string(),
            "connection closed after 4 of 10 body bytes (Content-Length)"
        );
        assert_eq!(d.decode(b"56").unwrap_err(), e, "the decoder stays failed");
    }

    #[test]
    fn close_delimited_takes_everything_until_eof() {
        let mut d = BodyDecoder::new(BodyFraming::CloseDelimited, &limits());
        assert_eq!(
            d.decode(b"abc").unwrap(),
            Decoded {
                consumed: 3,
                data: 0..3,
                done: false
            }
        );
        assert_eq!(d.remaining(), None);
        assert!(!d.is_done());
        d.decode_eof().unwrap();
        assert!(d.is_done());
        assert_eq!(d.decode(b"more").unwrap().consumed, 0);
    }

    #[test]
    fn decode_buf_splits_the_buffer_and_shares_data() {
        let mut d = BodyDecoder::new(BodyFraming::Chunked, &limits());
        let mut buf = BytesMut::from(&b"3\r\nabc\r\n0\r\n\r\nHTTP/1.1"[..]);
        assert_eq!(d.decode_buf(&mut buf).unwrap(), "abc");
        assert!(d.is_done(), "the end was in the buffer with the last data");
        assert_eq!(d.decode_buf(&mut buf).unwrap(), "");
        assert_eq!(&buf[..], b"HTTP/1.1");
        assert_eq!(d.trailers(), None);
    }

    #[test]
    fn chunked_data_comes_with_the_framing_after_it_and_a_bad_byte_there_comes_next() {
        let mut d = BodyDecoder::new(BodyFraming::Chunked, &limits());
        let input = b"3\r\nabc\r\n2\r\ndeX";
        let first = d.decode(input).unwrap();
        // Up to the next chunk's data, not into it.
        assert_eq!(
            (first.data.clone(), first.consumed, first.done),
            (3..6, 11, false)
        );
        let at = first.consumed;
        let second = d.decode(&input[at..]).unwrap();
        assert_eq!(&input[at..][second.data], b"de");
        // The bad byte is left for the next call.
        assert_eq!(&input[at + second.consumed..], b"X");
        let e = d.decode(b"X").unwrap_err();
        assert_eq!(e.kind(), ErrorKind::InvalidChunkDelimiter);
        assert_eq!(
            e.to_string(),
            "byte 0x58 ('X') where CRLF was expected after the data of chunk #2 (body offset 13)"
        );
        assert_eq!(
            d.decode_eof().unwrap_err(),
            e,
            "end of stream reports it too"
        );
    }
}
