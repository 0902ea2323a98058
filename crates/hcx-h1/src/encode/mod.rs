//! Request encoding: the head, then the body's framing.

mod body;
mod error;
mod head;

pub use body::{BodyEncoder, Frame};
pub use error::EncodeError;
pub use head::{RequestHead, encode_request_head, request_target};

use bytes::BytesMut;
use http::Method;

/// How the request body is delimited, chosen by the caller who knows the body.
///
/// The head encoder writes the matching field (`Content-Length` or
/// `Transfer-Encoding: chunked`); the returned [`BodyEncoder`] enforces it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RequestFraming {
    /// No body and no framing field. Right for `GET`, `HEAD`, `DELETE`… without a body.
    None,
    /// A body of exactly this many bytes: `Content-Length`.
    Length(u64),
    /// A body of unknown length: `Transfer-Encoding: chunked` (HTTP/1.1 only).
    Chunked,
}

impl RequestFraming {
    /// The framing of an empty body for `method`: `Length(0)` for `POST`, `PUT` and
    /// `PATCH`, whose servers may wait for a length otherwise (RFC 9110 §8.6: a user
    /// agent should send `Content-Length` when the method defines a meaning for
    /// content), `None` for the rest.
    ///
    /// ```
    /// use hcx_h1::RequestFraming;
    /// use http::Method;
    /// assert_eq!(RequestFraming::empty_body(&Method::POST), RequestFraming::Length(0));
    /// assert_eq!(RequestFraming::empty_body(&Method::GET), RequestFraming::None);
    /// ```
    pub fn empty_body(method: &Method) -> Self {
        if method == Method::POST || method == Method::PUT || method == Method::PATCH {
            RequestFraming::Length(0)
        } else {
            RequestFraming::None
        }
    }

    /// Whether the request has content: a chunked body, or a length above zero.
    pub fn has_content(self) -> bool {
        matches!(self, RequestFraming::Chunked | RequestFraming::Length(1..))
    }
}

/// For messages: "no body", "a body of 5 bytes (Content-Length)", "a chunked body".
impl std::fmt::Display for RequestFraming {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RequestFraming::None => f.write_str("no body"),
            RequestFraming::Length(1) => f.write_str("a body of 1 byte (Content-Length)"),
            RequestFraming::Length(n) => write!(f, "a body of {n} bytes (Content-Length)"),
            RequestFraming::Chunked => f.write_str("a chunked body"),
        }
    }
}

/// How the request target is written (RFC 9112 §3.2).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum TargetForm {
    /// `/path?query`, for requests to an origin server. `/` when the path is empty,
    /// and `*` (asterisk-form) for `OPTIONS *`. A `Proxy-Authorization` field is not
    /// written in this form: it is for a proxy.
    #[default]
    Origin,
    /// `http://host:port/path?query`, for requests through a forward proxy;
    /// `http://host:port`, without a path, for `OPTIONS *` (RFC 9112 §3.2.4).
    Absolute,
    /// `host:port`, for `CONNECT`.
    Authority,
}

/// A growable buffer the encoders write into: `Vec<u8>` or `BytesMut`.
///
/// Sealed: the encoders rely on writes that cannot fail or run out of room.
pub trait OutBuf: sealed::Sealed {
    /// Appends `bytes`.
    fn put(&mut self, bytes: &[u8]);
    /// Makes room for `additional` more bytes.
    fn reserve_more(&mut self, additional: usize);
}

impl OutBuf for Vec<u8> {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn reserve_more(&mut self, additional: usize) {
        self.reserve(additional);
    }
}

impl OutBuf for BytesMut {
    #[inline]
    fn put(&mut self, bytes: &[u8]) {
        self.extend_from_slice(bytes);
    }
    fn reserve_more(&mut self, additional: usize) {
        self.reserve(additional);
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for Vec<u8> {}
    impl Sealed for bytes::BytesMut {}
}

/// Finds the first byte that may not appear in a field value: any control character
/// but HTAB, and DEL (RFC 9110 §5.5; CR, LF and NUL are the dangerous ones).
pub(crate) fn forbidden_value_byte(value: &[u8]) -> Option<(usize, u8)> {
    // Eight bytes at a time while none is below 0x20 (a tab included) or DEL: the
    // usual value has neither, and a byte loop over every value of every request
    // showed in the profile. A flagged word (or the tail of a value shorter than a
    // word) gets the exact loop.
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let flagged = |word: &[u8; 8]| {
        let x = u64::from_le_bytes(*word);
        let below_space = x.wrapping_sub(ONES * 0x20) & !x & HIGHS;
        below_space | crate::syntax::flag_bytes(x, 0x7f) != 0
    };
    let mut clean = 0;
    for chunk in value.chunks_exact(8) {
        let Ok(word) = <&[u8; 8]>::try_from(chunk) else {
            break;
        };
        if flagged(word) {
            break;
        }
        clean += 8;
    }
    // Every word clean: the tail (under eight bytes) is checked as the end of the
    // value's last eight bytes, the bytes before it already seen clean.
    if clean + 8 > value.len() && value.last_chunk::<8>().is_some_and(|last| !flagged(last)) {
        return None;
    }
    value[clean..]
        .iter()
        .enumerate()
        .find(|&(_, &b)| (b < 0x20 && b != b'\t') || b == 0x7f)
        .map(|(i, &b)| (clean + i, b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn control_bytes_in_values_are_found() {
        assert_eq!(forbidden_value_byte(b"plain value\twith tab \xff"), None);
        assert_eq!(
            forbidden_value_byte(b"a\r\nInjected: yes"),
            Some((1, b'\r'))
        );
        assert_eq!(forbidden_value_byte(b"ab\n"), Some((2, b'\n')));
        assert_eq!(forbidden_value_byte(b"\0"), Some((0, 0)));
        // Past the first eight-byte words, in a word and in the tail; tabs and
        // obs-text anywhere are fine.
        assert_eq!(
            forbidden_value_byte(b"0123456789abcdef\x7fgh"),
            Some((16, 0x7f))
        );
        assert_eq!(forbidden_value_byte(b"01234567\t9ab\x1f"), Some((12, 0x1f)));
        assert_eq!(
            forbidden_value_byte(b"\t\t\t\t\t\t\t\t\xff\xfe\x80\x20~~~~~"),
            None
        );
        // Every byte value at every position of values of 1 to 25 bytes (shorter than
        // a word, whole words, words and a tail read as an overlapping last word),
        // against the plain rule, alone and with a second forbidden byte after it.
        let text = b"abcdefghijklmnopqrstuvwxy";
        for len in 1..=text.len() {
            for b in 0..=255u8 {
                for at in 0..len {
                    let mut value = text[..len].to_vec();
                    value[at] = b;
                    let bad = (b < 0x20 && b != b'\t') || b == 0x7f;
                    assert_eq!(
                        forbidden_value_byte(&value),
                        bad.then_some((at, b)),
                        "{b:#x} at {at} of {len}"
                    );
                    if let Some(last) = value.last_mut().filter(|_| at + 1 < len) {
                        *last = b'\n';
                        let first = if bad { (at, b) } else { (len - 1, b'\n') };
                        assert_eq!(forbidden_value_byte(&value), Some(first), "{b:#x} at {at}");
                    }
                }
            }
        }
        assert_eq!(forbidden_value_byte(b"x\x7f"), Some((1, 0x7f)));
    }

    #[test]
    fn http_types_refuse_cr_lf_and_nul_before_they_reach_the_encoder() {
        // The encoder checks again (forbidden_value_byte), but safe code cannot build
        // such values: this pins that assumption about the `http` crate.
        for bad in ["a\r\nb", "a\nb", "a\rb", "a\0b"] {
            assert!(http::HeaderValue::from_str(bad).is_err(), "{bad:?}");
        }
        assert!(http::Uri::try_from("/a\r\nb").is_err());
        assert!(http::Uri::try_from("/a b").is_err());
    }
}
