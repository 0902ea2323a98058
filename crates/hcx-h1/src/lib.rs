//! A sans-IO HTTP/1.1 client codec: bytes in, bytes and decisions out.
//!
//! `hcx-h1` is the codec behind the hcx HTTP client. It owns no socket, starts no
//! thread and never blocks; the connection code feeds it what it reads and writes what
//! it produces, so every rule here is tested and fuzzed without a network. It is split
//! the way hyper splits its HTTP/1 codec:
//!
//! - **Request encoding** ([`encode_request_head`], [`BodyEncoder`]): the request
//!   line in origin-, absolute- or authority-form, `Host` when absent, and the body
//!   framed by `Content-Length` or chunked as the caller's [`RequestFraming`] says.
//!   Everything is checked before the first byte is written.
//! - **Response head parsing** ([`parse_response_head`], [`take_response_head`],
//!   [`HeadReader`]) on `httparse`, bounded by [`Limits`]; interim 1xx responses are
//!   reported apart from the final one, and a peer that is not speaking HTTP is an
//!   error at its first wrong byte.
//! - **Framing** ([`response_framing`]): RFC 9112 §6.3 — no body, `Content-Length`,
//!   chunked or read-to-close — with a [`CloseReason`] whenever the framing alone
//!   forbids reusing the connection.
//! - **Body decoding** ([`BodyDecoder`]): data as ranges of the caller's buffer (or
//!   `Bytes` sharing it), trailers, and a typed [`Error`] that says what and where.
//!
//! It is not a connection: deciding whether a connection may be reused (keep-alive,
//! `Connection: close`, a body left unread) belongs to the layers above, which get
//! the framing facts from here.
//!
//! ```
//! use hcx_h1::{BodyDecoder, HeadEvent, HeadReader, Limits, RequestFraming, TargetForm};
//! use bytes::BytesMut;
//!
//! // Write a request.
//! let request = http::Request::get("http://example.com/hello").body(())?;
//! let mut out = Vec::new();
//! let body = hcx_h1::encode_request_head(&request, TargetForm::Origin, RequestFraming::None, &mut out)?;
//! body.finish(&mut out)?;
//! assert_eq!(out, b"GET /hello HTTP/1.1\r\nhost: example.com\r\n\r\n");
//!
//! // Read the response as it arrives.
//! let mut buf = BytesMut::from(&b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel"[..]);
//! let Some(HeadEvent::Final(head)) = HeadReader::new(Limits::default()).read(&mut buf)? else {
//!     unreachable!("the head is complete");
//! };
//! let framing = hcx_h1::response_framing(request.method(), &head)?;
//! assert_eq!(framing.close, None); // nothing in the framing forbids reuse
//! let mut decoder = BodyDecoder::new(framing.body, &Limits::default());
//! assert_eq!(decoder.decode_buf(&mut buf)?, "hel");
//! buf.extend_from_slice(b"lo"); // the next read
//! assert_eq!(decoder.decode_buf(&mut buf)?, "lo");
//! assert!(decoder.is_done());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod call;
mod decode;
mod encode;
mod error;
mod fields;
mod framing;
mod limits;
mod message;
mod parse;
pub mod syntax;

pub use call::{
    AwaitContinue, BodyStep, Call, ContinueStep, FinalResponse, RecvResponse, RecvStep, SendBody,
    Sending, sends_continue_expectation,
};
pub use decode::{BodyDecoder, Decoded};
pub use encode::{
    BodyEncoder, EncodeError, Frame, OutBuf, RequestFraming, RequestHead, TargetForm,
    encode_request_head, request_target,
};
pub use error::{Error, ErrorKind};
pub use framing::{BodyFraming, ResponseFraming, response_framing};
pub use hcx_close::CloseReason;
pub use limits::Limits;
pub use message::{CompleteResponse, read_response};
pub use parse::{HeadEvent, HeadReader, ResponseHead, parse_response_head, take_response_head};
