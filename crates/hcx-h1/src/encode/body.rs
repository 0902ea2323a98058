//! Framing a request body: raw bytes counted against `Content-Length`, or chunks.

use http::HeaderMap;
use http::header::{self, HeaderName};

use crate::encode::{EncodeError, OutBuf, RequestFraming, forbidden_value_byte};

/// Frames a request body as the head declared it, and holds the body to it: a
/// `Content-Length` body must be exactly that long, a bodiless request gets no bytes,
/// a chunked body ends with the last-chunk. [`finish`](BodyEncoder::finish) consumes
/// the encoder, so nothing can be written after the end.
///
/// ```
/// use hcx_h1::{BodyEncoder, RequestFraming};
///
/// let mut out = Vec::new();
/// let mut body = BodyEncoder::new(RequestFraming::Chunked);
/// body.encode(b"hello ", &mut out)?;
/// body.encode(b"world", &mut out)?;
/// body.finish(&mut out)?;
/// assert_eq!(out, b"6\r\nhello \r\n5\r\nworld\r\n0\r\n\r\n");
///
/// let mut fixed = BodyEncoder::new(RequestFraming::Length(3));
/// assert!(fixed.encode(b"four", &mut out).is_err());
/// # Ok::<(), hcx_h1::EncodeError>(())
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BodyEncoder {
    framing: RequestFraming,
    written: u64,
}

/// What goes around `len` bytes of body data on the wire, for writing the data
/// without copying it (vectored I/O): `prefix`, the data, then `suffix`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Frame {
    prefix: [u8; 18],
    prefix_len: u8,
    suffix: &'static [u8],
}

impl Frame {
    const EMPTY: Frame = Frame {
        prefix: [0; 18],
        prefix_len: 0,
        suffix: b"",
    };

    /// The bytes before the data: the chunk-size line, or nothing.
    pub fn prefix(&self) -> &[u8] {
        &self.prefix[..usize::from(self.prefix_len)]
    }

    /// The bytes after the data: CRLF after a chunk, or nothing.
    pub fn suffix(&self) -> &'static [u8] {
        self.suffix
    }

    /// A chunk-size line for `len` bytes: hex digits and CRLF.
    fn chunk(len: usize) -> Frame {
        let mut frame = Frame {
            suffix: b"\r\n",
            ..Frame::EMPTY
        };
        let mut digits = [0u8; 16];
        let mut n = len as u64;
        let mut count = 0;
        loop {
            digits[count] = b"0123456789abcdef"[(n & 0xf) as usize];
            count += 1;
            n >>= 4;
            if n == 0 {
                break;
            }
        }
        for (slot, digit) in frame.prefix.iter_mut().zip(digits[..count].iter().rev()) {
            *slot = *digit;
        }
        frame.prefix[count] = b'\r';
        frame.prefix[count + 1] = b'\n';
        frame.prefix_len = (count + 2) as u8;
        frame
    }
}

/// Fields that must not travel as trailers: framing, routing, request modifiers,
/// authentication and content metadata (RFC 9110 §6.5.1).
const FORBIDDEN_TRAILERS: &[HeaderName] = &[
    header::AUTHORIZATION,
    header::CACHE_CONTROL,
    header::CONTENT_ENCODING,
    header::CONTENT_LENGTH,
    header::CONTENT_RANGE,
    header::CONTENT_TYPE,
    header::EXPECT,
    header::HOST,
    header::MAX_FORWARDS,
    header::PROXY_AUTHORIZATION,
    header::RANGE,
    header::TE,
    header::TRAILER,
    header::TRANSFER_ENCODING,
];

impl BodyEncoder {
    /// An encoder for a body framed as `framing`. [`encode_request_head`] returns one
    /// that matches the head it wrote.
    ///
    /// [`encode_request_head`]: crate::encode_request_head
    pub fn new(framing: RequestFraming) -> Self {
        BodyEncoder {
            framing,
            written: 0,
        }
    }

    /// The framing this encoder applies.
    pub fn framing(&self) -> RequestFraming {
        self.framing
    }

    /// Body bytes accepted so far (data only, without chunk framing).
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Body bytes still owed to the declared `Content-Length`; `None` when the
    /// framing declares no length.
    pub fn remaining(&self) -> Option<u64> {
        match self.framing {
            RequestFraming::Length(n) => Some(n.saturating_sub(self.written)),
            RequestFraming::None => Some(0),
            RequestFraming::Chunked => None,
        }
    }

    /// Accounts for `len` bytes of data and returns what must surround them on the
    /// wire. The caller must then write prefix, exactly those `len` bytes, suffix.
    /// An empty piece of a chunked body needs no frame (a zero-size chunk would end it).
    pub fn frame(&mut self, len: usize) -> Result<Frame, EncodeError> {
        let attempted = self.written.saturating_add(len as u64);
        match self.framing {
            RequestFraming::None if len > 0 => return Err(EncodeError::BodyNotAllowed(len)),
            RequestFraming::Length(declared) if attempted > declared => {
                return Err(EncodeError::BodyTooLong {
                    declared,
                    attempted,
                });
            }
            _ => {}
        }
        self.written = attempted;
        Ok(match self.framing {
            RequestFraming::Chunked if len > 0 => Frame::chunk(len),
            _ => Frame::EMPTY,
        })
    }

    /// Writes `data` to `out`, framed.
    pub fn encode(&mut self, data: &[u8], out: &mut impl OutBuf) -> Result<(), EncodeError> {
        let frame = self.frame(data.len())?;
        out.reserve_more(frame.prefix().len() + data.len() + frame.suffix().len());
        out.put(frame.prefix());
        out.put(data);
        out.put(frame.suffix());
        Ok(())
    }

    /// Ends the body: writes the last-chunk of a chunked body, and checks that a
    /// `Content-Length` body got all its bytes.
    pub fn finish(self, out: &mut impl OutBuf) -> Result<(), EncodeError> {
        // No trailers: nothing to check, and no empty map made and dropped on every
        // request.
        self.check_complete()?;
        if self.framing == RequestFraming::Chunked {
            out.put(b"0\r\n\r\n");
        }
        Ok(())
    }

    /// A `Content-Length` body must have got all its bytes before it ends.
    fn check_complete(&self) -> Result<(), EncodeError> {
        match self.framing {
            RequestFraming::Length(declared) if self.written < declared => {
                Err(EncodeError::BodyTooShort {
                    declared,
                    written: self.written,
                })
            }
            _ => Ok(()),
        }
    }

    /// Ends a chunked body with a trailer section (RFC 9112 §7.1.2). Trailers need
    /// chunked framing, and fields that affect framing, routing or authentication
    /// cannot be trailers ([`EncodeError::ForbiddenTrailer`]); nothing is written then.
    pub fn finish_with_trailers(
        self,
        trailers: &HeaderMap,
        out: &mut impl OutBuf,
    ) -> Result<(), EncodeError> {
        if self.framing != RequestFraming::Chunked
            && let Some(name) = trailers.keys().next()
        {
            return Err(EncodeError::ForbiddenTrailer(name.clone()));
        }
        for (name, value) in trailers {
            if FORBIDDEN_TRAILERS.contains(name) {
                return Err(EncodeError::ForbiddenTrailer(name.clone()));
            }
            if let Some((index, byte)) = forbidden_value_byte(value.as_bytes()) {
                return Err(EncodeError::InvalidFieldValue {
                    name: name.clone(),
                    byte,
                    index,
                });
            }
        }
        self.check_complete()?;
        if self.framing == RequestFraming::Chunked {
            out.put(b"0\r\n");
            for (name, value) in trailers {
                out.put(name.as_str().as_bytes());
                out.put(b": ");
                out.put(value.as_bytes());
                out.put(b"\r\n");
            }
            out.put(b"\r\n");
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn finish_is_finish_with_no_trailers() {
        // `finish` does not go through `finish_with_trailers`: both must end every
        // framing alike, at every count of bytes written.
        for framing in [
            RequestFraming::None,
            RequestFraming::Chunked,
            RequestFraming::Length(0),
            RequestFraming::Length(3),
        ] {
            for data in [&b""[..], b"ab", b"abc"] {
                let mut body = BodyEncoder::new(framing);
                let mut head = Vec::new();
                if body.encode(data, &mut head).is_err() {
                    continue;
                }
                let (mut plain, mut with) = (head.clone(), head);
                let got = body.clone().finish(&mut plain);
                let want = body.finish_with_trailers(&HeaderMap::new(), &mut with);
                assert_eq!(got, want, "{framing:?} after {data:?}");
                assert_eq!(plain, with, "{framing:?} after {data:?}");
            }
        }
    }

    #[test]
    fn chunk_frames_use_lower_hex_sizes() {
        for (len, prefix) in [
            (1usize, &b"1\r\n"[..]),
            (10, b"a\r\n"),
            (255, b"ff\r\n"),
            (4096, b"1000\r\n"),
        ] {
            let frame = Frame::chunk(len);
            assert_eq!(frame.prefix(), prefix, "{len}");
            assert_eq!(frame.suffix(), b"\r\n");
        }
        let max = Frame::chunk(usize::MAX);
        assert_eq!(max.prefix().len(), usize::MAX.count_ones() as usize / 4 + 2);
    }

    #[test]
    fn empty_pieces_of_a_chunked_body_write_nothing() {
        let mut out = Vec::new();
        let mut body = BodyEncoder::new(RequestFraming::Chunked);
        body.encode(b"", &mut out).unwrap();
        assert!(out.is_empty());
        body.finish(&mut out).unwrap();
        assert_eq!(out, b"0\r\n\r\n");
    }

    #[test]
    fn length_body_must_be_exactly_the_declared_length() {
        let mut out = Vec::new();
        let mut body = BodyEncoder::new(RequestFraming::Length(5));
        body.encode(b"abc", &mut out).unwrap();
        assert_eq!(body.remaining(), Some(2));
        assert_eq!(
            body.encode(b"def", &mut out),
            Err(EncodeError::BodyTooLong {
                declared: 5,
                attempted: 6
            })
        );
        assert_eq!(out, b"abc", "a refused piece writes nothing");
        assert_eq!(
            body.clone().finish(&mut out),
            Err(EncodeError::BodyTooShort {
                declared: 5,
                written: 3
            })
        );
        body.encode(b"de", &mut out).unwrap();
        body.finish(&mut out).unwrap();
        assert_eq!(out, b"abcde");
    }

    #[test]
    fn bodiless_requests_take_no_bytes() {
        let mut out = Vec::new();
        let mut body = BodyEncoder::new(RequestFraming::None);
        body.encode(b"", &mut out).unwrap();
        assert_eq!(
            body.encode(b"x", &mut out),
            Err(EncodeError::BodyNotAllowed(1))
        );
        body.finish(&mut out).unwrap();
        assert!(out.is_empty());
    }

    #[test]
    fn trailers_end_a_chunked_body() {
        let mut trailers = HeaderMap::new();
        trailers.insert("x-checksum", HeaderValue::from_static("abc"));
        let mut out = Vec::new();
        let mut body = BodyEncoder::new(RequestFraming::Chunked);
        body.encode(b"data", &mut out).unwrap();
        body.finish_with_trailers(&trailers, &mut out).unwrap();
        assert_eq!(out, b"4\r\ndata\r\n0\r\nx-checksum: abc\r\n\r\n");
    }

    #[test]
    fn forbidden_trailers_and_trailers_without_chunked_are_refused() {
        let mut out = Vec::new();
        for name in [
            header::CONTENT_LENGTH,
            header::HOST,
            header::TRANSFER_ENCODING,
            header::AUTHORIZATION,
        ] {
            let mut trailers = HeaderMap::new();
            trailers.insert(name.clone(), HeaderValue::from_static("1"));
            let body = BodyEncoder::new(RequestFraming::Chunked);
            assert_eq!(
                body.finish_with_trailers(&trailers, &mut out),
                Err(EncodeError::ForbiddenTrailer(name))
            );
        }
        let mut trailers = HeaderMap::new();
        trailers.insert("x-sum", HeaderValue::from_static("1"));
        let body = BodyEncoder::new(RequestFraming::Length(0));
        assert!(matches!(
            body.finish_with_trailers(&trailers, &mut out),
            Err(EncodeError::ForbiddenTrailer(_))
        ));
        assert!(out.is_empty());
    }

    #[test]
    fn frames_allow_writing_data_without_copying() {
        let mut body = BodyEncoder::new(RequestFraming::Chunked);
        let frame = body.frame(300).unwrap();
        assert_eq!(
            (frame.prefix(), frame.suffix()),
            (&b"12c\r\n"[..], &b"\r\n"[..])
        );
        assert_eq!(body.written(), 300);
        let mut fixed = BodyEncoder::new(RequestFraming::Length(300));
        let frame = fixed.frame(300).unwrap();
        assert_eq!((frame.prefix(), frame.suffix()), (&b""[..], &b""[..]));
    }
}
