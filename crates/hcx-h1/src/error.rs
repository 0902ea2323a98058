//! What can go wrong reading a response: its head, its framing, its body.

use std::fmt;

/// Why a response could not be read.
///
/// One opaque type for the whole response side of the codec (head parsing, framing,
/// body decoding). [`kind`](Error::kind) tells the cases apart; the message says what
/// was wrong and where, with the values involved:
/// `invalid chunk size line in chunk #3 at body offset 1042: byte 0x47 ('G') is not a hex digit`.
///
/// Every error means the connection cannot be trusted any more and must be closed;
/// [`is_incomplete_body`](Error::is_incomplete_body) singles out the one case the
/// retry layer treats apart (Apache: `ConnectionClosedException` /
/// `TruncatedChunkException`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Error {
    kind: ErrorKind,
    message: Box<str>,
}

/// The kind of an [`Error`]. More kinds may be added.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum ErrorKind {
    /// The first bytes are not `HTTP/`: the peer does not speak HTTP/1.x.
    NotHttp,
    /// The status line has a version other than HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion,
    /// The status line or a header field is malformed.
    InvalidHead,
    /// The head is larger than [`Limits::max_head_bytes`](crate::Limits::max_head_bytes).
    HeadTooLarge,
    /// The head has more fields than [`Limits::max_headers`](crate::Limits::max_headers).
    TooManyHeaders,
    /// More informational (1xx) responses than
    /// [`Limits::max_informational`](crate::Limits::max_informational) came before the
    /// final one.
    TooManyInformational,
    /// A `Content-Length` value is not a decimal number that fits in 64 bits
    /// (RFC 9110 §8.6).
    InvalidContentLength,
    /// Several different `Content-Length` values (RFC 9112 §6.3, rule 5).
    ConflictingContentLength,
    /// `Transfer-Encoding` whose final coding is not `chunked`, or with `chunked`
    /// applied more than once, or in an HTTP/1.0 response (RFC 9112 §6.1, §6.3).
    InvalidTransferEncoding,
    /// A chunk-size line is malformed: no hex digits, a bad extension, a bad byte.
    InvalidChunkSize,
    /// A chunk size does not fit in 64 bits.
    ChunkSizeOverflow,
    /// A chunk-size line is longer than the head limit.
    ChunkLineTooLong,
    /// The CRLF after a chunk's data or at the end of the body is missing.
    InvalidChunkDelimiter,
    /// The trailer section is malformed, too large or has too many fields.
    InvalidTrailers,
    /// The connection ended before the body did.
    IncompleteBody,
    /// The connection ended before the response head was complete (possibly before
    /// any byte of it).
    IncompleteHead,
}

impl Error {
    pub(crate) fn new(kind: ErrorKind, message: impl Into<Box<str>>) -> Self {
        Error {
            kind,
            message: message.into(),
        }
    }

    /// What went wrong.
    pub fn kind(&self) -> ErrorKind {
        self.kind
    }

    /// The connection ended before the body did (a truncated response).
    pub fn is_incomplete_body(&self) -> bool {
        self.kind == ErrorKind::IncompleteBody
    }

    /// The connection ended before the head was complete.
    pub fn is_incomplete_head(&self) -> bool {
        self.kind == ErrorKind::IncompleteHead
    }

    /// The peer broke the protocol: every kind but the two "connection ended early"
    /// ones, [`IncompleteBody`](ErrorKind::IncompleteBody) and
    /// [`IncompleteHead`](ErrorKind::IncompleteHead).
    pub fn is_protocol(&self) -> bool {
        !self.is_incomplete_body() && !self.is_incomplete_head()
    }
}

impl ErrorKind {
    /// A short phrase naming the kind, without values: "conflicting Content-Length
    /// values". The [`Error`]'s message has the values.
    pub fn explain(self) -> &'static str {
        match self {
            ErrorKind::NotHttp => "the peer does not speak HTTP/1.x",
            ErrorKind::UnsupportedVersion => "unsupported HTTP version",
            ErrorKind::InvalidHead => "malformed response head",
            ErrorKind::HeadTooLarge => "response head too large",
            ErrorKind::TooManyHeaders => "too many header fields",
            ErrorKind::TooManyInformational => "too many informational (1xx) responses",
            ErrorKind::InvalidContentLength => "invalid Content-Length",
            ErrorKind::ConflictingContentLength => "conflicting Content-Length values",
            ErrorKind::InvalidTransferEncoding => "invalid Transfer-Encoding",
            ErrorKind::InvalidChunkSize => "malformed chunk size",
            ErrorKind::ChunkSizeOverflow => "chunk size too large",
            ErrorKind::ChunkLineTooLong => "chunk-size line too long",
            ErrorKind::InvalidChunkDelimiter => "missing CRLF after chunk data",
            ErrorKind::InvalidTrailers => "malformed trailer section",
            ErrorKind::IncompleteBody => "the connection closed before the end of the body",
            ErrorKind::IncompleteHead => "the connection closed in the middle of the head",
        }
    }
}

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explain())
    }
}

impl fmt::Display for Error {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)
    }
}

impl std::error::Error for Error {}

/// Shows a byte in messages: `0x47 ('G')`, or `0x0a` for what cannot be printed.
pub(crate) struct ShowByte(pub u8);

impl fmt::Display for ShowByte {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let b = self.0;
        if b.is_ascii_graphic() || b == b' ' {
            write!(f, "0x{b:02x} ('{}')", char::from(b))
        } else {
            write!(f, "0x{b:02x}")
        }
    }
}

/// Shows the start of a byte string in messages, escaped and cut to 40 bytes.
pub(crate) struct ShowBytes<'a>(pub &'a [u8]);

impl fmt::Display for ShowBytes<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        const MAX: usize = 40;
        let shown = &self.0[..self.0.len().min(MAX)];
        write!(f, "\"{}", shown.escape_ascii())?;
        if self.0.len() > MAX {
            f.write_str("…")?;
        }
        f.write_str("\"")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn incomplete_body_is_not_a_protocol_error() {
        let e = Error::new(ErrorKind::IncompleteBody, "cut");
        assert!(e.is_incomplete_body());
        assert!(!e.is_protocol());
        let e = Error::new(ErrorKind::IncompleteHead, "cut");
        assert!(e.is_incomplete_head() && !e.is_protocol() && !e.is_incomplete_body());
        let e = Error::new(ErrorKind::NotHttp, "no");
        assert!(e.is_protocol());
        assert_eq!(e.to_string(), "no");
    }

    #[test]
    fn bytes_are_shown_escaped_and_cut() {
        assert_eq!(ShowByte(b'G').to_string(), "0x47 ('G')");
        assert_eq!(ShowByte(b'\n').to_string(), "0x0a");
        assert_eq!(ShowBytes(b"a\r\n").to_string(), r#""a\r\n""#);
        let long = [b'x'; 50];
        assert_eq!(
            ShowBytes(&long).to_string(),
            format!("\"{}…\"", "x".repeat(40))
        );
    }
}
