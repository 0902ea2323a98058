//! Why a request could not be encoded.

use std::fmt;

use http::{HeaderName, Version};

use crate::encode::{RequestFraming, TargetForm};
use crate::error::ShowByte;

/// A request that cannot be written as HTTP/1.1. Nothing has been written when the
/// head encoder returns one: the output buffer is as it was.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum EncodeError {
    /// A header field value holds a byte that would break the message's framing
    /// (CR, LF, NUL or another control character but HTAB, RFC 9110 §5.5).
    /// `http::HeaderValue`'s checked constructors already refuse these; this guards
    /// the unchecked ones.
    InvalidFieldValue {
        /// The field.
        name: HeaderName,
        /// The offending byte.
        byte: u8,
        /// Its index in the value.
        index: usize,
    },
    /// The URI cannot be written in the requested form.
    InvalidTarget {
        /// The form asked for.
        form: TargetForm,
        /// The URI, as given.
        uri: String,
        /// What is missing or wrong.
        reason: &'static str,
    },
    /// No `Host` field and no authority in the URI to make one from
    /// (RFC 9112 §3.2: every HTTP/1.1 request has one).
    MissingHost,
    /// More than one `Host` field (RFC 9112 §3.2: servers reject that).
    DuplicateHost(usize),
    /// Not HTTP/1.0 or HTTP/1.1.
    UnsupportedVersion(Version),
    /// A `Content-Length` or `Transfer-Encoding` field set by the caller disagrees with
    /// the body's framing.
    FramingConflict {
        /// The field.
        name: HeaderName,
        /// Its value(s), for the message.
        value: String,
        /// The framing the body has.
        framing: RequestFraming,
    },
    /// Chunked framing in an HTTP/1.0 request, which has no chunked coding.
    ChunkedInHttp10,
    /// Content in a `TRACE` request (RFC 9110 §9.3.8: a client must not send any; the
    /// server echoes the request back).
    ContentInTrace,
    /// A trailer field that must not be sent as a trailer (RFC 9110 §6.5.1), or
    /// trailers for a body that is not chunked.
    ForbiddenTrailer(HeaderName),
    /// More body bytes than the `Content-Length` declared.
    BodyTooLong {
        /// The declared length.
        declared: u64,
        /// The length the body would have reached.
        attempted: u64,
    },
    /// The body ended before the declared `Content-Length`.
    BodyTooShort {
        /// The declared length.
        declared: u64,
        /// The bytes written.
        written: u64,
    },
    /// Body bytes for a request framed with [`RequestFraming::None`].
    BodyNotAllowed(usize),
    /// Body bytes after the body's end was written
    /// ([`Call::end`](crate::Call::end)).
    BodyAfterEnd(usize),
    /// A default field ([`RequestHead::defaults`](crate::RequestHead::defaults)) names
    /// one the encoder decides itself (`Host`, a framing field, `Connection`, `Expect`,
    /// `Proxy-Authorization`): it belongs in the request's own fields.
    ReservedDefault(HeaderName),
}

impl fmt::Display for EncodeError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            EncodeError::InvalidFieldValue { name, byte, index } => write!(
                f,
                "header field {name} has the forbidden byte {} at index {index} of its value",
                ShowByte(*byte)
            ),
            EncodeError::InvalidTarget { form, uri, reason } => {
                let form = match form {
                    TargetForm::Origin => "an origin-form",
                    TargetForm::Absolute => "an absolute-form",
                    TargetForm::Authority => "an authority-form",
                };
                write!(f, "cannot write {uri:?} as {form} request target: {reason}")
            }
            EncodeError::MissingHost => f.write_str(
                "request has no Host field and its URI has no authority to derive one from",
            ),
            EncodeError::DuplicateHost(n) => write!(f, "request has {n} Host fields"),
            EncodeError::UnsupportedVersion(v) => {
                write!(f, "cannot write a {v:?} request as HTTP/1.x")
            }
            EncodeError::FramingConflict {
                name,
                value,
                framing,
            } => write!(
                f,
                "request field {name}: {value} conflicts with how its body is sent: {framing}"
            ),
            EncodeError::ChunkedInHttp10 => {
                f.write_str("chunked body framing in an HTTP/1.0 request")
            }
            EncodeError::ContentInTrace => {
                f.write_str("a TRACE request cannot carry content (RFC 9110 §9.3.8)")
            }
            EncodeError::ForbiddenTrailer(name) => {
                write!(f, "field {name} cannot be sent as a trailer")
            }
            EncodeError::BodyTooLong {
                declared,
                attempted,
            } => write!(
                f,
                "request body longer than its Content-Length: {attempted} bytes, {declared} declared"
            ),
            EncodeError::BodyTooShort { declared, written } => write!(
                f,
                "request body ended after {written} bytes, {declared} declared in Content-Length"
            ),
            EncodeError::BodyNotAllowed(n) => {
                write!(f, "{n} body bytes for a request framed without a body")
            }
            EncodeError::BodyAfterEnd(n) => {
                write!(f, "{n} body bytes after the request body's end")
            }
            EncodeError::ReservedDefault(name) => write!(
                f,
                "{name} cannot be a default field: the encoder decides it from the request's own fields"
            ),
        }
    }
}

impl std::error::Error for EncodeError {}
