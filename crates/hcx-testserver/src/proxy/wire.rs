//! A socket with a read buffer, for the proxy: request heads and bodies from clients,
//! response heads and bodies from targets. Bodies are returned as they came on the
//! wire (a request's, to forward with its own framing) or decoded (a response's, to
//! re-frame with `Content-Length`).

use super::response::{ResponseBody, ResponseHead, parse_response_head, response_body};
use crate::chunked::ChunkedDecoder;
use crate::request::{BodyFraming, Head, Limits, parse_head};
use bytes::{Buf, Bytes, BytesMut};
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;

/// Why reading stopped.
#[derive(Debug)]
pub(crate) enum ReadError {
    /// The peer closed (or reset) the connection before the first byte of a message.
    Closed,
    /// Malformed input, over a limit, or closed in the middle of a message.
    Malformed(String),
    Io(io::Error),
}

/// A response read from a target: its head and decoded body.
#[derive(Debug)]
pub(crate) struct Response {
    pub(crate) head: ResponseHead,
    pub(crate) body: Bytes,
    pub(crate) has_body: bool,
}

pub(crate) struct Wire {
    pub(crate) stream: TcpStream,
    pub(crate) buf: BytesMut,
    /// Where a read lands before its bytes are appended to `buf`: zeroed once, not
    /// before every read.
    scratch: Box<[u8]>,
}

impl std::fmt::Debug for Wire {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Wire")
            .field("stream", &self.stream)
            .field("buf", &self.buf)
            .finish_non_exhaustive()
    }
}

impl Wire {
    pub(crate) fn new(stream: TcpStream) -> Self {
        Wire {
            stream,
            buf: BytesMut::with_capacity(8 * 1024),
            scratch: vec![0; 16 * 1024].into_boxed_slice(),
        }
    }

    /// Writes all of `bytes`.
    pub(crate) fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    fn fill(&mut self) -> io::Result<usize> {
        loop {
            match self.stream.read(&mut self.scratch) {
                Ok(n) => {
                    self.buf.extend_from_slice(&self.scratch[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    /// Reads more, treating the end of stream as a truncated `what`.
    fn fill_within(&mut self, what: &str) -> Result<(), ReadError> {
        match self.fill() {
            Ok(0) => Err(ReadError::Malformed(format!(
                "connection closed in the middle of {what}"
            ))),
            Ok(_) => Ok(()),
            Err(e) => Err(ReadError::Io(e)),
        }
    }

    /// Reads until `parse` finds a complete head; end of stream before any byte is
    /// [`ReadError::Closed`].
    fn read_head<T>(
        &mut self,
        what: &str,
        mut parse: impl FnMut(&[u8]) -> Result<Option<(T, usize)>, String>,
    ) -> Result<T, ReadError> {
        loop {
            if !self.buf.is_empty()
                && let Some((head, n)) = parse(&self.buf).map_err(ReadError::Malformed)?
            {
                self.buf.advance(n);
                return Ok(head);
            }
            match self.fill() {
                Ok(0) if self.buf.is_empty() => return Err(ReadError::Closed),
                Ok(0) => {
                    return Err(ReadError::Malformed(format!(
                        "connection closed in the middle of {what}"
                    )));
                }
                Ok(_) => {}
                Err(e) if self.buf.is_empty() && is_disconnect(&e) => {
                    return Err(ReadError::Closed);
                }
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    pub(crate) fn read_request_head(&mut self, limits: &Limits) -> Result<Head, ReadError> {
        self.read_head("a request head", |buf| parse_head(buf, limits))
    }

    /// Reads a request body framed as `framing` and returns it as it came on the wire
    /// (chunk sizes and trailers included), to forward under the same framing headers.
    pub(crate) fn read_raw_body(
        &mut self,
        framing: BodyFraming,
        limits: &Limits,
    ) -> Result<Bytes, ReadError> {
        match framing {
            BodyFraming::Empty => Ok(Bytes::new()),
            BodyFraming::Length(len) => {
                let len = self.check_length(len, limits.max_body_bytes)?;
                while self.buf.len() < len {
                    self.fill_within("a request body")?;
                }
                Ok(self.buf.split_to(len).freeze())
            }
            BodyFraming::Chunked { .. } => {
                let mut decoder = ChunkedDecoder::new(limits.max_body_bytes, limits.max_head_bytes);
                let mut raw = BytesMut::new();
                loop {
                    // The decoder eats from the front of the buffer; what it ate is the
                    // raw body so far.
                    let before = self.buf.clone();
                    let done = decoder
                        .decode(&mut self.buf)
                        .map_err(ReadError::Malformed)?;
                    raw.extend_from_slice(&before[..before.len() - self.buf.len()]);
                    if done {
                        return Ok(raw.freeze());
                    }
                    self.fill_within("a chunked request body")?;
                }
            }
        }
    }

    /// Reads a final response (1xx interim responses skipped) to a request that was
    /// (`head_request`) or was not `HEAD`, its body decoded.
    pub(crate) fn read_response(
        &mut self,
        head_request: bool,
        limits: &Limits,
    ) -> Result<Response, ReadError> {
        let head = loop {
            let head = self.read_head("a response head", |buf| {
                parse_response_head(buf, limits.max_headers)
            })?;
            match head.status {
                101 => {
                    return Err(ReadError::Malformed(String::from(
                        "the target switched protocols (101), which the proxy does not relay",
                    )));
                }
                100..=199 => continue,
                _ => break head,
            }
        };
        let framing = response_body(head.status, head_request, &head.headers)
            .map_err(ReadError::Malformed)?;
        let body = match framing {
            ResponseBody::None => Bytes::new(),
            ResponseBody::Length(len) => {
                let len = self.check_length(len, limits.max_body_bytes)?;
                while self.buf.len() < len {
                    self.fill_within("a response body")?;
                }
                self.buf.split_to(len).freeze()
            }
            ResponseBody::Chunked => {
                let mut decoder = ChunkedDecoder::new(limits.max_body_bytes, limits.max_head_bytes);
                while !decoder
                    .decode(&mut self.buf)
                    .map_err(ReadError::Malformed)?
                {
                    self.fill_within("a chunked response body")?;
                }
                decoder.finish().0
            }
            ResponseBody::UntilClose => {
                while self.fill().map_err(ReadError::Io)? > 0 {
                    if self.buf.len() > limits.max_body_bytes {
                        return Err(ReadError::Malformed(format!(
                            "response body exceeds the limit of {} bytes",
                            limits.max_body_bytes
                        )));
                    }
                }
                self.buf.split().freeze()
            }
        };
        Ok(Response {
            head,
            body,
            has_body: framing != ResponseBody::None,
        })
    }

    fn check_length(&self, len: u64, max: usize) -> Result<usize, ReadError> {
        usize::try_from(len)
            .ok()
            .filter(|&len| len <= max)
            .ok_or_else(|| {
                ReadError::Malformed(format!("body of {len} bytes exceeds the limit of {max}"))
            })
    }
}

/// The peer went away (reset, aborted, broken pipe).
pub(crate) fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}
