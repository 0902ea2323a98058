//! [`Reply`]: what the server does with one request: a response to build, raw bytes, a
//! stall or a hang-up, with its framing, delay and ending.

use bytes::Bytes;
use http::Version;
use std::time::Duration;

/// What the server does with one request: usually an HTTP response built from a status,
/// headers and a body, framed as asked; or raw bytes, a stall, a hang-up.
///
/// Builder methods consume and return the reply, so a canned reply reads in one line:
/// `Reply::new(404).header("x-a", "1").body("not here")`. Defaults: `200 OK`,
/// `HTTP/1.1`, empty body framed by `Content-Length`, keep the connection open.
///
/// The server adds the framing header the chosen framing needs (`Content-Length` or
/// `Transfer-Encoding: chunked`) and `Connection: close` when it is closing for a
/// reason a client should be told of, unless the reply sets that header itself: a
/// header set here always wins, so a reply can lie about its length on purpose.
/// Per RFC 9112 §6.3, 1xx, 204 and 304 replies get neither a framing header nor a body,
/// and a response to `HEAD` gets the headers a `GET` would but no body
/// ([`without_framing`](Self::without_framing) turns all of this off).
#[derive(Clone, Debug)]
pub struct Reply {
    pub(crate) action: Action,
    pub(crate) status: u16,
    pub(crate) reason: Option<String>,
    pub(crate) version: Version,
    pub(crate) headers: Vec<(Bytes, Bytes)>,
    pub(crate) body: Bytes,
    pub(crate) framing: Framing,
    pub(crate) informational: Vec<u16>,
    pub(crate) connection_close: bool,
    pub(crate) delay: Option<Duration>,
    pub(crate) ending: Ending,
    pub(crate) then_close: bool,
}

/// The kind of reply.
#[derive(Clone, Debug)]
pub(crate) enum Action {
    /// An HTTP response built from the reply's parts.
    Respond,
    /// These exact bytes.
    Raw(Bytes),
    /// Nothing; hold the connection open until the client closes it or shutdown.
    Stall,
    /// Nothing; close the connection.
    NoResponse,
}

/// How the body is delimited on the wire.
#[derive(Clone, Debug)]
pub(crate) enum Framing {
    /// `Content-Length`.
    ContentLength,
    /// `Transfer-Encoding: chunked`.
    Chunked(ChunkedOptions),
    /// No length; the server closes the connection after the body (HTTP/1.0 style).
    CloseDelimited,
    /// Nothing added: headers and body exactly as given.
    Unframed,
}

/// How a chunked body is cut and decorated.
#[derive(Clone, Debug, Default)]
pub(crate) struct ChunkedOptions {
    /// Bytes per chunk; `None`: the whole body in one chunk.
    pub(crate) chunk_size: Option<usize>,
    /// Appended as `;ext` to every chunk-size line, the last one included.
    pub(crate) extension: Option<Bytes>,
    /// Trailer fields after the last chunk.
    pub(crate) trailers: Vec<(Bytes, Bytes)>,
}

/// How much of the response goes out.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Ending {
    /// All of it.
    Complete,
    /// The head and this many bytes of the encoded body, then close.
    Truncate(usize),
    /// The head and this many bytes of the encoded body, then hold the connection.
    StallAfter(usize),
}

impl Default for Reply {
    fn default() -> Self {
        Reply::new(200u16)
    }
}

impl Reply {
    /// A response with this status code (any number: `Reply::new(999)` writes 999) and
    /// its canonical reason phrase.
    pub fn new(status: impl Into<u16>) -> Self {
        Reply {
            action: Action::Respond,
            status: status.into(),
            reason: None,
            version: Version::HTTP_11,
            headers: Vec::new(),
            body: Bytes::new(),
            framing: Framing::ContentLength,
            informational: Vec::new(),
            connection_close: false,
            delay: None,
            ending: Ending::Complete,
            then_close: false,
        }
    }

    /// `200 OK` with an empty body.
    pub fn ok() -> Self {
        Reply::new(200u16)
    }

    /// Writes exactly `bytes` instead of a response (for malformed cases), then keeps
    /// reading requests unless [`then_close`](Self::then_close) says otherwise. The
    /// response-building methods do not apply to it; `delay` and `then_close` do.
    pub fn raw(bytes: impl Into<Bytes>) -> Self {
        Reply {
            action: Action::Raw(bytes.into()),
            ..Reply::ok()
        }
    }

    /// Writes nothing and holds the connection open, reading and discarding input,
    /// until the client closes it or the server shuts down.
    pub fn stall() -> Self {
        Reply {
            action: Action::Stall,
            ..Reply::ok()
        }
    }

    /// Writes nothing and closes the connection (the client sees the connection closed
    /// before any response byte; Apache HttpClient's `NoHttpResponseException`).
    pub fn no_response() -> Self {
        Reply {
            action: Action::NoResponse,
            ..Reply::ok()
        }
    }

    /// Replaces the reason phrase (empty is allowed: `HTTP/1.1 200 \r\n`).
    pub fn reason(mut self, reason: impl Into<String>) -> Self {
        self.reason = Some(reason.into());
        self
    }

    /// The version written in the status line (default `HTTP/1.1`). With `HTTP/1.0`
    /// the server closes the connection after the response unless the reply sets a
    /// `Connection: keep-alive` header.
    pub fn version(mut self, version: Version) -> Self {
        self.version = version;
        self
    }

    /// Adds a header field, written verbatim in the order added (duplicates allowed,
    /// nothing validated).
    pub fn header(mut self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        self.headers.push((
            Bytes::copy_from_slice(name.as_ref()),
            Bytes::copy_from_slice(value.as_ref()),
        ));
        self
    }

    /// The body.
    pub fn body(mut self, body: impl Into<Bytes>) -> Self {
        self.body = body.into();
        self
    }

    /// A body of `len` generated bytes (`abc…xyzabc…`).
    pub fn generated_body(mut self, len: usize) -> Self {
        self.body = (0..len).map(|i| b'a' + (i % 26) as u8).collect();
        self
    }

    /// Frames the body with `Content-Length` (the default).
    pub fn content_length(mut self) -> Self {
        self.framing = Framing::ContentLength;
        self
    }

    /// Frames the body with `Transfer-Encoding: chunked`, the whole body in one chunk.
    pub fn chunked(self) -> Self {
        self.with_chunked(|_| {})
    }

    /// Chunked, cut into chunks of `size` bytes (0: one chunk).
    pub fn chunk_size(self, size: usize) -> Self {
        self.with_chunked(|o| o.chunk_size = (size > 0).then_some(size))
    }

    /// Chunked, with `;extension` after every chunk size, the last one included (give
    /// `name=value`, `name="quoted"`, or anything to test a parser).
    pub fn chunk_extension(self, extension: impl AsRef<[u8]>) -> Self {
        let extension = Bytes::copy_from_slice(extension.as_ref());
        self.with_chunked(|o| o.extension = Some(extension))
    }

    /// Chunked, with a trailer field after the last chunk.
    pub fn trailer(self, name: impl AsRef<[u8]>, value: impl AsRef<[u8]>) -> Self {
        let field = (
            Bytes::copy_from_slice(name.as_ref()),
            Bytes::copy_from_slice(value.as_ref()),
        );
        self.with_chunked(|o| o.trailers.push(field))
    }

    /// No length: the body ends when the server closes the connection (HTTP/1.0 style;
    /// the client must read to close).
    pub fn close_delimited(mut self) -> Self {
        self.framing = Framing::CloseDelimited;
        self
    }

    /// No framing header added and the body written as given whatever the status or
    /// method: headers and body are entirely the reply's (for "no body" replies, or
    /// hand-made framing).
    pub fn without_framing(mut self) -> Self {
        self.framing = Framing::Unframed;
        self
    }

    /// Sends an interim `1xx` response (e.g. 103 Early Hints) before this one; call
    /// again for more.
    pub fn informational(mut self, status: u16) -> Self {
        self.informational.push(status);
        self
    }

    /// Adds `Connection: close` and closes the connection after the response.
    pub fn connection_close(mut self) -> Self {
        self.connection_close = true;
        self
    }

    /// Waits this long before writing anything (for response-timeout tests). Shutdown
    /// cuts the wait short.
    pub fn delay(mut self, delay: Duration) -> Self {
        self.delay = Some(delay);
        self
    }

    /// Writes the head (announcing the full body) and only the first `n` bytes of the
    /// encoded body, then closes the connection.
    pub fn truncate_body(mut self, n: usize) -> Self {
        self.ending = Ending::Truncate(n);
        self
    }

    /// Writes the head and the first `n` bytes of the encoded body, then holds the
    /// connection open like [`stall`](Self::stall).
    pub fn stall_body_after(mut self, n: usize) -> Self {
        self.ending = Ending::StallAfter(n);
        self
    }

    /// Closes the connection after this reply without saying so in a header.
    pub fn then_close(mut self) -> Self {
        self.then_close = true;
        self
    }

    /// Switches to chunked framing (keeping earlier chunked options) and edits them.
    fn with_chunked(mut self, edit: impl FnOnce(&mut ChunkedOptions)) -> Self {
        let mut options = match std::mem::replace(&mut self.framing, Framing::ContentLength) {
            Framing::Chunked(options) => options,
            _ => ChunkedOptions::default(),
        };
        edit(&mut options);
        self.framing = Framing::Chunked(options);
        self
    }

    /// Whether a header named `name` (case-insensitive) is set.
    pub(crate) fn has_header(&self, name: &str) -> bool {
        self.headers
            .iter()
            .any(|(n, _)| n.eq_ignore_ascii_case(name.as_bytes()))
    }
}
