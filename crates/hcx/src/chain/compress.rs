//! COMPRESS: asks for compressed bodies and decodes them. Apache HttpClient 5:
//! `ContentCompressionExec`.
//!
//! On the way in, a request without `Accept-Encoding` gets one that lists the codings
//! compiled in, in this order: `gzip, deflate` (feature `gzip`, on by default), `br`
//! (feature `brotli`), `zstd` (feature `zstd`). A request that sets the header keeps
//! it as it is, and its response is still decoded. A default `Accept-Encoding` given
//! to the builder ([`default_header`](crate::ClientBuilder::default_header)) is added
//! later, by PROTOCOL, only to requests without one, so this layer's wins, as in
//! Apache; set the header on the request instead.
//!
//! On the way out, a body whose `Content-Encoding` lists only codings hcx can decode
//! is decoded as the caller reads it, and the response loses its `Content-Encoding`,
//! `Content-Length` and `Content-MD5` fields, which describe the encoded bytes (as
//! Apache does). The codings are undone in reverse order of the list (RFC 9110
//! §8.4: the last one was applied last), compared case-insensitively; `identity` is
//! skipped and `x-gzip` is `gzip` (RFC 9110 §8.4.1.3).
//!
//! Left as they came, header and bytes:
//! - a body with a coding hcx cannot decode (`Content-Encoding: x-custom`, or `br`
//!   without the `brotli` feature), or more than five codings (curl's limit): the
//!   caller gets the encoded bytes and the header that says how to read them;
//! - responses without a body: to `HEAD`, `204`, `304`, `Content-Length: 0`;
//! - `206 Partial Content`: a range of the encoded bytes does not decode on its own;
//! - everything, when content compression is off for the request
//!   ([`RequestConfig::content_compression_enabled`](crate::RequestConfig::content_compression_enabled), Apache's
//!   `contentCompressionEnabled`) or for the client
//!   ([`ClientBuilder::disable_content_compression`](crate::ClientBuilder::disable_content_compression)).
//!
//! How the codings are read:
//! - `gzip`: one member or several in a row (RFC 1952 §2.2), each checked against its
//!   CRC-32 and length.
//! - `deflate`: RFC 9110 means zlib (RFC 1950), some servers send raw deflate
//!   (RFC 1951); as browsers do, the first two bytes decide (a valid zlib header or
//!   not).
//! - `br`: RFC 7932.
//! - `zstd`: one frame or several, skippable frames skipped, the content checksum
//!   checked; a frame that needs a window over 8 MiB is refused, as RFC 9659 allows,
//!   because the decoder would buffer that much before handing out a byte.
//! - A body with no bytes at all decodes to nothing, whatever its coding says.
//!
//! The connection is given back as if the body had been read undecoded: when the
//! decoder reaches the end of its stream it reads the body on to its end (the chunked
//! terminator, a few bytes) before it returns the final `Ok(0)`, so the connection
//! goes back to the pool for the next request. Bytes after the end of the compressed
//! stream are an [`ErrorKind::Decompression`] error: they are data the caller would
//! otherwise never see, from a server that is broken in some way (Java's
//! `GZIPInputStream`, which Apache uses, and browsers drop them silently; to read such
//! a body, turn decoding off for the request and decode it yourself).
//!
//! Errors reach the caller through `Read` as an [`io::Error`] carrying the hcx
//! [`Error`] (and from [`ResponseBody::into_vec`]/`into_string` as that error): a
//! corrupt or truncated stream is [`ErrorKind::Decompression`], a body that decodes
//! past the [`DecompressionLimits`] is [`ErrorKind::DecompressionLimit`], and a
//! failure of the body itself (a timeout, a connection closed early) keeps its own
//! kind. The rest of the body is then not read and its connection is closed (a body
//! whose bytes had all been read off the connection has already given it back, its
//! framing intact).
//!
//! Dropping a decoded body before its end drains the rest of the *encoded* body within
//! the drain limits, as for any body.

// Built without any coding, `Coding` has no variants: the decoding code below compiles
// but can never run, which rustc reports as unreachable code and unused values.
#![cfg_attr(
    not(any(feature = "gzip", feature = "brotli", feature = "zstd")),
    allow(unreachable_code, unused_variables, unused_mut)
)]

use std::io::{self, BufRead, Read};
use std::sync::Arc;

use hcx_exec::{Body, Error, ErrorKind, ResponseBody};
use http::header::{ACCEPT_ENCODING, CONTENT_ENCODING, CONTENT_LENGTH, HeaderMap, HeaderValue};
use http::{Request, Response, StatusCode};

use super::{Chain, ExecHandler, Scope};

/// The codings compiled in, in the order `Accept-Encoding` lists them.
const ACCEPTED: &[&str] = &[
    #[cfg(feature = "gzip")]
    "gzip",
    #[cfg(feature = "gzip")]
    "deflate",
    #[cfg(feature = "brotli")]
    "br",
    #[cfg(feature = "zstd")]
    "zstd",
];

/// More codings than this on one body are not decoded (curl's limit: each costs
/// buffers, and no server has a reason to stack them).
const MAX_CODINGS: usize = 5;

/// The buffer between two stages, and between the wire and the first one.
const BUFFER: usize = 8 * 1024;

/// At most this many decoded bytes per read, so the limits are checked at this grain
/// however large the caller's buffer (`read_to_end` offers megabytes).
const STEP: usize = 64 * 1024;

/// The largest window a `zstd` frame may need (RFC 9659 §3: 8 MB, zstd's `2^23`).
#[cfg(feature = "zstd")]
const ZSTD_MAX_WINDOW: u64 = 8 << 20;

// ---------------------------------------------------------------------------------
// Settings and the builder's methods
// ---------------------------------------------------------------------------------

/// The builder's settings for this layer.
pub(crate) struct Settings {
    enabled: bool,
    limits: DecompressionLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            limits: DecompressionLimits::default(),
        }
    }
}

/// The layer's handler, or `None` when it is off.
pub(crate) fn handler(settings: &Settings) -> Option<Arc<dyn ExecHandler>> {
    if !settings.enabled {
        return None;
    }
    let handler: Arc<dyn ExecHandler> = Arc::new(ContentCompressionExec::new(settings.limits));
    Some(handler)
}

impl crate::ClientBuilder {
    /// Leaves the COMPRESS element out of the chain: no `Accept-Encoding` is added, and
    /// bodies come as the server sent them, with their `Content-Encoding`. Default: on.
    /// For one request, [`RequestConfig::with_content_compression(false)`] does the
    /// same. Apache: `disableContentCompression`.
    ///
    /// [`RequestConfig::with_content_compression(false)`]: crate::RequestConfig::with_content_compression
    pub fn disable_content_compression(mut self) -> Self {
        self.compress.enabled = false;
        self
    }

    /// Limits on what a compressed body may decode to (a decompression bomb). Default:
    /// [`DecompressionLimits::default`]. A `max_ratio` of zero is reported by
    /// [`build`](Self::build).
    pub fn decompression_limits(mut self, limits: DecompressionLimits) -> Self {
        if limits.max_ratio == Some(0) {
            return self.invalid(Error::new(
                ErrorKind::Config,
                "DecompressionLimits::max_ratio must be at least 1 (None: no ratio limit)",
            ));
        }
        self.compress.limits = limits;
        self
    }
}

// ---------------------------------------------------------------------------------
// Limits
// ---------------------------------------------------------------------------------

/// What a compressed response body may decode to before reading stops with an
/// [`ErrorKind::DecompressionLimit`] error and the connection is closed: a
/// decompression bomb (a few kilobytes of gzip that inflate to gigabytes) is stopped
/// at the limit, not read to its end. Set with
/// [`ClientBuilder::decompression_limits`](crate::ClientBuilder::decompression_limits).
///
/// The defaults stop bombs and let real bodies through: no cap on the decoded size
/// (a large compressed download is legitimate, and a streaming reader holds none of it
/// in memory), but at most 100 decoded bytes per encoded byte once more than 1 MiB
/// has been decoded. Text and JSON compress 3 to 20 times, rarely beyond 100; a bomb
/// runs at about 1,000 (gzip's most) and far more (brotli, zstd). The first MiB is
/// free so that small, very compressible bodies (a page of spaces) pass.
///
/// ```
/// use hcx::chain::DecompressionLimits;
/// let client = hcx::Client::builder()
///     .decompression_limits(
///         DecompressionLimits::default()
///             .with_max_decoded_bytes(Some(64 << 20))
///             .with_max_ratio(Some(1_000)),
///     )
///     .build()?;
/// # Ok::<(), hcx::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecompressionLimits {
    /// At most this many decoded bytes per body; `None`: no limit. Default `None`.
    pub max_decoded_bytes: Option<u64>,
    /// At most this many decoded bytes per encoded byte read, checked once
    /// [`ratio_threshold`](Self::ratio_threshold) bytes have been decoded; `None`: no
    /// limit. Default `Some(100)`.
    pub max_ratio: Option<u32>,
    /// The ratio is checked only past this many decoded bytes. Default 1 MiB.
    pub ratio_threshold: u64,
}

impl Default for DecompressionLimits {
    fn default() -> Self {
        DecompressionLimits {
            max_decoded_bytes: None,
            max_ratio: Some(100),
            ratio_threshold: 1 << 20,
        }
    }
}

impl DecompressionLimits {
    /// No limit at all: for servers you trust with bodies that compress beyond 100.
    pub fn none() -> Self {
        DecompressionLimits {
            max_decoded_bytes: None,
            max_ratio: None,
            ratio_threshold: 0,
        }
    }

    /// Sets [`max_decoded_bytes`](Self::max_decoded_bytes).
    pub fn with_max_decoded_bytes(mut self, max: Option<u64>) -> Self {
        self.max_decoded_bytes = max;
        self
    }

    /// Sets [`max_ratio`](Self::max_ratio).
    pub fn with_max_ratio(mut self, max: Option<u32>) -> Self {
        self.max_ratio = max;
        self
    }

    /// Sets [`ratio_threshold`](Self::ratio_threshold).
    pub fn with_ratio_threshold(mut self, threshold: u64) -> Self {
        self.ratio_threshold = threshold;
        self
    }

    /// The error for a body that went past a limit, or `None`.
    fn check(&self, label: &str, decoded: u64, encoded: u64) -> Option<Error> {
        if let Some(max) = self.max_decoded_bytes
            && decoded > max
        {
            return Some(Error::new(
                ErrorKind::DecompressionLimit,
                format!(
                    "the {label} response body decodes to more than {max} bytes \
                     (DecompressionLimits::max_decoded_bytes)"
                ),
            ));
        }
        if let Some(ratio) = self.max_ratio
            && decoded > self.ratio_threshold
            && decoded > encoded.saturating_mul(u64::from(ratio))
        {
            return Some(Error::new(
                ErrorKind::DecompressionLimit,
                format!(
                    "the {label} response body decoded to {decoded} bytes from {encoded}, \
                     more than {ratio} times its encoded size (DecompressionLimits::max_ratio): \
                     a decompression bomb?"
                ),
            ));
        }
        None
    }
}

// ---------------------------------------------------------------------------------
// The handler
// ---------------------------------------------------------------------------------

/// The COMPRESS element.
struct ContentCompressionExec {
    /// `None` when no coding is compiled in: nothing to ask for.
    accept: Option<HeaderValue>,
    limits: DecompressionLimits,
}

impl ContentCompressionExec {
    fn new(limits: DecompressionLimits) -> Self {
        let accept = (!ACCEPTED.is_empty())
            .then(|| HeaderValue::from_str(&ACCEPTED.join(", ")).ok())
            .flatten();
        ContentCompressionExec { accept, limits }
    }
}

impl ExecHandler for ContentCompressionExec {
    fn execute(
        &self,
        mut request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        if !scope.config.content_compression_enabled {
            return chain.proceed(request, scope);
        }
        if let Some(accept) = &self.accept
            && !request.headers().contains_key(ACCEPT_ENCODING)
        {
            request
                .headers_mut()
                .try_insert(ACCEPT_ENCODING, accept.clone())?;
        }
        let response = chain.proceed(request, scope)?;
        Ok(decode(response, self.limits))
    }
}

/// The response with its body decoded, or as it came when it cannot or need not be.
fn decode(
    mut response: Response<ResponseBody>,
    limits: DecompressionLimits,
) -> Response<ResponseBody> {
    // No body (HEAD, 204, 304, Content-Length: 0) is already at its end.
    if response.body().is_end() || response.status() == StatusCode::PARTIAL_CONTENT {
        return response;
    }
    let Some(codings) = content_codings(response.headers()) else {
        return response;
    };
    let Some((&last, earlier)) = codings.split_last() else {
        return response; // identity only
    };
    if codings.len() > MAX_CODINGS {
        return response;
    }
    let headers = response.headers_mut();
    headers.remove(CONTENT_ENCODING);
    headers.remove(CONTENT_LENGTH);
    headers.remove("content-md5");
    response.map(|body| body.map_reader(|body| Decoding::new(body, earlier, last, limits)))
}

/// The codings of the `Content-Encoding` fields in the order they were applied,
/// `identity` left out; `None` when one of them cannot be decoded here.
fn content_codings(headers: &HeaderMap) -> Option<Vec<Coding>> {
    let mut codings = Vec::new();
    for value in headers.get_all(CONTENT_ENCODING) {
        let value = value.to_str().ok()?;
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !token.eq_ignore_ascii_case("identity") {
                codings.push(Coding::parse(token)?);
            }
        }
    }
    Some(codings)
}

/// A content coding hcx can decode (those of the features compiled in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Coding {
    #[cfg(feature = "gzip")]
    Gzip,
    #[cfg(feature = "gzip")]
    Deflate,
    #[cfg(feature = "brotli")]
    Br,
    #[cfg(feature = "zstd")]
    Zstd,
}

impl Coding {
    /// The coding a `Content-Encoding` token names, if compiled in.
    fn parse(token: &str) -> Option<Coding> {
        let is = |name: &str| token.eq_ignore_ascii_case(name);
        #[cfg(feature = "gzip")]
        if is("gzip") || is("x-gzip") {
            return Some(Coding::Gzip);
        }
        #[cfg(feature = "gzip")]
        if is("deflate") {
            return Some(Coding::Deflate);
        }
        #[cfg(feature = "brotli")]
        if is("br") {
            return Some(Coding::Br);
        }
        #[cfg(feature = "zstd")]
        if is("zstd") {
            return Some(Coding::Zstd);
        }
        let _ = is;
        None
    }

    fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "gzip")]
            Coding::Gzip => "gzip",
            #[cfg(feature = "gzip")]
            Coding::Deflate => "deflate",
            #[cfg(feature = "brotli")]
            Coding::Br => "br",
            #[cfg(feature = "zstd")]
            Coding::Zstd => "zstd",
        }
    }
}

// ---------------------------------------------------------------------------------
// Decoding: the wire, the stages, the limits
// ---------------------------------------------------------------------------------

/// Where the encoded bytes come from: the response body (or test bytes).
trait Encoded: Read + Send {
    /// Gives up on the rest: the connection is closed, not drained.
    fn discard(self: Box<Self>);
}

impl Encoded for ResponseBody {
    fn discard(self: Box<Self>) {
        ResponseBody::discard(*self);
    }
}

/// The reader behind a decoded body: the stages, outermost first, and the limits.
struct Decoding {
    state: State,
    /// The codings applied before the last one, in order.
    earlier: Vec<Coding>,
    /// The coding applied last: the first one undone.
    last: Coding,
    /// The codings as listed, for messages: `gzip`, `deflate, gzip`.
    label: String,
    limits: DecompressionLimits,
    decoded: u64,
}

enum State {
    /// Nothing read yet. The stages are built at the first read: the gzip decoder
    /// reads its header as it is built, and `execute` must not wait for body bytes.
    Pending(Box<dyn Encoded>),
    /// Decoding; the stage undoes the first coding applied (the last one undone).
    Decoding(Box<Stage>),
    /// At the end, or failed (the body keeps reporting the error).
    Ended,
}

impl Decoding {
    /// A decoder over `encoded` of the codings `earlier` then `last`, as applied.
    fn new(
        encoded: impl Encoded + 'static,
        earlier: &[Coding],
        last: Coding,
        limits: DecompressionLimits,
    ) -> Self {
        let label = earlier
            .iter()
            .chain([&last])
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ");
        Decoding {
            state: State::Pending(Box::new(encoded)),
            earlier: earlier.to_vec(),
            last,
            label,
            limits,
            decoded: 0,
        }
    }

    /// Builds the stages over the wire; a body of no bytes at all decodes to nothing,
    /// whatever its label says.
    fn start(&mut self, encoded: Box<dyn Encoded>) -> io::Result<()> {
        let mut wire = Input::on_wire(encoded);
        let empty = match wire.peek(1) {
            Ok(bytes) => bytes.is_empty(),
            Err(e) => return Err(failure(&mut wire, e, &self.label, 0)),
        };
        if !empty {
            let mut top = Stage::new(self.last, wire);
            for &coding in self.earlier.iter().rev() {
                top = Stage::new(coding, Input::on_stage(top));
            }
            self.state = State::Decoding(Box::new(top));
        }
        Ok(())
    }
}

/// `e` as the caller sees it, with the right kind; closes the connection of `wire`.
fn failure(wire: &mut Input, e: io::Error, label: &str, decoded: u64) -> io::Error {
    let error = match wire.failed.take() {
        // The body's own failure (a timeout, a connection closed early): its kind.
        Some(error) => error,
        // Ours, already typed: a limit, data after the end, a zstd window too large.
        None if e.get_ref().is_some_and(|inner| inner.is::<Error>()) => Error::from_io(e),
        None => Error::new(
            ErrorKind::Decompression,
            format!(
                "the {label} response body could not be decoded (after {decoded} decoded bytes)"
            ),
        )
        .with_source(e),
    };
    wire.discard();
    error.into_io()
}

impl Read for Decoding {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        match std::mem::replace(&mut self.state, State::Ended) {
            State::Pending(encoded) => self.start(encoded)?,
            state => self.state = state,
        }
        let State::Decoding(top) = &mut self.state else {
            return Ok(0);
        };
        // One byte past the byte limit, to see whether the body goes beyond it.
        let room = self.limits.max_decoded_bytes.map_or(u64::MAX, |max| {
            max.saturating_sub(self.decoded).saturating_add(1)
        });
        let len = out
            .len()
            .min(STEP)
            .min(usize::try_from(room).unwrap_or(usize::MAX));
        let result = match top.read(&mut out[..len]) {
            Ok(0) => Ok(0),
            Ok(n) => {
                self.decoded = self.decoded.saturating_add(n as u64);
                let encoded = top.input().wire().consumed;
                match self.limits.check(&self.label, self.decoded, encoded) {
                    Some(error) => Err(error.into_io()),
                    None => return Ok(n),
                }
            }
            Err(e) => Err(e),
        };
        let result = result.map_err(|e| failure(top.input().wire(), e, &self.label, self.decoded));
        self.state = State::Ended;
        result
    }
}

/// A buffered reader over the wire or over the stage below: what a stage decodes
/// from. It can peek a few bytes ahead (deflate's sniffing, zstd's frame header) and
/// counts the bytes the stage above consumed.
struct Input {
    source: Source,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    /// Bytes the stage above consumed (on the wire: the encoded size so far).
    consumed: u64,
    /// The failure of the body, kept to be reported with its own kind.
    failed: Option<Error>,
}

enum Source {
    /// The encoded body; `None` once read to its end or given up.
    Wire(Option<Box<dyn Encoded>>),
    /// The stage that undoes the coding applied after the one read from here.
    Stage(Box<Stage>),
}

impl Input {
    fn on_wire(encoded: Box<dyn Encoded>) -> Self {
        Input::from_source(Source::Wire(Some(encoded)))
    }

    fn on_stage(stage: Stage) -> Self {
        Input::from_source(Source::Stage(Box::new(stage)))
    }

    fn from_source(source: Source) -> Self {
        Input {
            source,
            buffer: vec![0; BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            consumed: 0,
            failed: None,
        }
    }

    /// The input nearest the wire.
    fn wire(&mut self) -> &mut Input {
        match self.source {
            Source::Stage(ref mut stage) => stage.input().wire(),
            Source::Wire(_) => self,
        }
    }

    /// Closes the body's connection without reading on (on the wire's input).
    fn discard(&mut self) {
        if let Source::Wire(body) = &mut self.source
            && let Some(body) = body.take()
        {
            body.discard();
        }
    }

    /// Reads more from the source after the buffered bytes; 0 at its end.
    fn fill_more(&mut self) -> io::Result<usize> {
        let space = &mut self.buffer[self.end..];
        debug_assert!(!space.is_empty(), "reads go into a buffer with room");
        let n = match &mut self.source {
            Source::Wire(slot) => {
                let Some(body) = slot else { return Ok(0) };
                match body.read(space) {
                    Ok(0) => {
                        // At its end the body has released its connection.
                        *slot = None;
                        0
                    }
                    Ok(n) => n,
                    Err(e) => {
                        let error = Error::from_io(e);
                        self.failed = Some(error.clone());
                        return Err(error.into_io());
                    }
                }
            }
            Source::Stage(stage) => stage.read(space)?,
        };
        self.end += n;
        Ok(n)
    }

    /// At least `n` bytes (fewer only at the end), without consuming them.
    fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        debug_assert!(n <= self.buffer.len());
        if self.end - self.start < n && self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < n {
            if self.fill_more()? == 0 {
                break;
            }
        }
        Ok(&self.buffer[self.start..self.end])
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.fill_more()?;
        }
        Ok(&self.buffer[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.consumed += n as u64;
    }
}

impl Read for Input {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Undoes one coding: reads its input, yields decoded bytes, and at the end of its
/// stream checks that the input ends too.
struct Stage {
    coding: Coding,
    decoder: Decoder,
    done: bool,
}

enum Decoder {
    #[cfg(feature = "gzip")]
    Gzip(flate2::bufread::MultiGzDecoder<Input>),
    #[cfg(feature = "gzip")]
    Deflate(Inflate),
    #[cfg(feature = "brotli")]
    Br(Box<brotli_decompressor::Decompressor<Input>>),
    #[cfg(feature = "zstd")]
    Zstd(Box<Zstd>),
}

impl Stage {
    fn new(coding: Coding, input: Input) -> Self {
        let decoder = match coding {
            #[cfg(feature = "gzip")]
            Coding::Gzip => Decoder::Gzip(flate2::bufread::MultiGzDecoder::new(input)),
            #[cfg(feature = "gzip")]
            Coding::Deflate => Decoder::Deflate(Inflate::new(input)),
            #[cfg(feature = "brotli")]
            Coding::Br => Decoder::Br(Box::new(brotli_decompressor::Decompressor::new(
                input, BUFFER,
            ))),
            #[cfg(feature = "zstd")]
            Coding::Zstd => Decoder::Zstd(Box::new(Zstd::new(input))),
        };
        Stage {
            coding,
            decoder,
            done: false,
        }
    }

    /// What this stage decodes from.
    fn input(&mut self) -> &mut Input {
        match self.decoder {
            #[cfg(feature = "gzip")]
            Decoder::Gzip(ref mut d) => d.get_mut(),
            #[cfg(feature = "gzip")]
            Decoder::Deflate(ref mut d) => &mut d.input,
            #[cfg(feature = "brotli")]
            Decoder::Br(ref mut d) => d.get_mut(),
            #[cfg(feature = "zstd")]
            Decoder::Zstd(ref mut d) => &mut d.input,
        }
    }

    /// At the end of the stream: the input must end too.
    fn finish(&mut self) -> io::Result<()> {
        let coding = self.coding;
        let trailing = move || {
            Error::new(
                ErrorKind::Decompression,
                format!(
                    "the {} stream of the response body ends before the body does \
                     (data after its end)",
                    coding.name()
                ),
            )
            .into_io()
        };
        // brotli reads ahead into a buffer of its own; a second read at the end
        // fails if bytes are left in it.
        #[cfg(feature = "brotli")]
        if let Decoder::Br(d) = &mut self.decoder
            && !matches!(d.read(&mut [0u8; 1]), Ok(0))
        {
            return Err(trailing());
        }
        if !self.input().fill_buf()?.is_empty() {
            return Err(trailing());
        }
        self.done = true;
        Ok(())
    }
}

impl Read for Stage {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        let n = match self.decoder {
            #[cfg(feature = "gzip")]
            Decoder::Gzip(ref mut d) => d.read(out)?,
            #[cfg(feature = "gzip")]
            Decoder::Deflate(ref mut d) => d.read(out)?,
            #[cfg(feature = "brotli")]
            Decoder::Br(ref mut d) => d.read(out)?,
            #[cfg(feature = "zstd")]
            Decoder::Zstd(ref mut d) => d.read(out)?,
        };
        if n == 0 {
            self.finish()?;
        }
        Ok(n)
    }
}

/// `deflate`: zlib or raw, as the first two bytes say.
#[cfg(feature = "gzip")]
struct Inflate {
    input: Input,
    inflate: flate2::Decompress,
    sniffed: bool,
    ended: bool,
}

#[cfg(feature = "gzip")]
impl Inflate {
    fn new(input: Input) -> Self {
        Inflate {
            input,
            inflate: flate2::Decompress::new(true),
            sniffed: false,
            ended: false,
        }
    }
}

/// Whether a deflate body starts with a zlib header (RFC 1950 §2.2): compression
/// method 8, a window of at most 32 KiB, and a check that makes the two bytes a
/// multiple of 31. A raw deflate stream (RFC 1951) starting so would have a stored
/// block with padding bits set, which no encoder writes.
#[cfg(feature = "gzip")]
fn is_zlib(head: &[u8]) -> bool {
    match head {
        [cmf, flg, ..] => {
            cmf & 0x0F == 8 && cmf >> 4 <= 7 && u16::from_be_bytes([*cmf, *flg]) % 31 == 0
        }
        _ => false,
    }
}

#[cfg(feature = "gzip")]
impl Read for Inflate {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use flate2::{FlushDecompress, Status};
        if self.ended {
            return Ok(0);
        }
        if !self.sniffed {
            self.sniffed = true;
            if !is_zlib(self.input.peek(2)?) {
                self.inflate.reset(false);
            }
        }
        loop {
            let input = self.input.fill_buf()?;
            let eof = input.is_empty();
            let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
            let flush = if eof {
                FlushDecompress::Finish
            } else {
                FlushDecompress::None
            };
            let status = self
                .inflate
                .decompress(input, out, flush)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let consumed = usize::try_from(self.inflate.total_in() - in_before).unwrap_or(0);
            let produced = usize::try_from(self.inflate.total_out() - out_before).unwrap_or(0);
            self.input.consume(consumed);
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(produced);
            }
            if produced > 0 {
                return Ok(produced);
            }
            if eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the deflate stream ends before its last block",
                ));
            }
        }
    }
}

/// `zstd`: frames one after another (RFC 8878 §3.1).
#[cfg(feature = "zstd")]
struct Zstd {
    input: Input,
    frame: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
    frames: u64,
}

#[cfg(feature = "zstd")]
impl Zstd {
    fn new(input: Input) -> Self {
        Zstd {
            input,
            frame: ruzstd::decoding::FrameDecoder::new(),
            in_frame: false,
            frames: 0,
        }
    }

    /// Skips a skippable frame (RFC 8878 §3.1.2) if one comes next.
    fn skip_skippable(&mut self) -> io::Result<bool> {
        let head = self.input.peek(8)?;
        let Some((magic, rest)) = head.split_first_chunk::<4>() else {
            return Ok(false);
        };
        if u32::from_le_bytes(*magic) & 0xFFFF_FFF0 != 0x184D_2A50 {
            return Ok(false);
        }
        let Some(size) = rest.first_chunk::<4>() else {
            return Err(zstd_truncated());
        };
        let mut skip = u64::from(u32::from_le_bytes(*size)) + 8;
        while skip > 0 {
            let available = self.input.fill_buf()?.len();
            if available == 0 {
                return Err(zstd_truncated());
            }
            let n = usize::try_from(skip).map_or(available, |skip| skip.min(available));
            self.input.consume(n);
            skip -= n as u64;
        }
        Ok(true)
    }

    /// Reads the next frame's header, refusing a window over 8 MiB.
    fn start_frame(&mut self) -> io::Result<()> {
        // Magic, descriptor, window descriptor, dictionary id, content size.
        let window = zstd_window(self.input.peek(18)?);
        if let Some(window) = window
            && window > ZSTD_MAX_WINDOW
        {
            return Err(Error::new(
                ErrorKind::Decompression,
                format!(
                    "the zstd response body needs a {window}-byte window, more than the \
                     {ZSTD_MAX_WINDOW} bytes the zstd content coding may use (RFC 9659)"
                ),
            )
            .into_io());
        }
        self.frame
            .reset(&mut self.input)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.in_frame = true;
        self.frames += 1;
        Ok(())
    }

    /// At the end of a frame: its checksum, if it has one, must match.
    fn end_frame(&mut self) -> io::Result<()> {
        self.in_frame = false;
        match (
            self.frame.get_checksum_from_data(),
            self.frame.get_calculated_checksum(),
        ) {
            (Some(sent), Some(computed)) if sent != computed => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("zstd frame checksum mismatch: {sent:08x} sent, {computed:08x} computed"),
            )),
            _ => Ok(()),
        }
    }
}

#[cfg(feature = "zstd")]
fn zstd_truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the zstd stream ends inside a frame",
    )
}

/// The window a zstd frame needs, from the start of its header (RFC 8878
/// §3.1.1.1.2): the window descriptor's, or the content size of a single-segment
/// frame. `None` when it is not a frame header (left to the decoder to report).
#[cfg(feature = "zstd")]
fn zstd_window(header: &[u8]) -> Option<u64> {
    let (magic, rest) = header.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*magic) != 0xFD2F_B528 {
        return None;
    }
    let (&descriptor, rest) = rest.split_first()?;
    if descriptor & 0x20 == 0 {
        let window = *rest.first()?;
        let base = 1u64 << (10 + (window >> 3));
        return Some(base + base / 8 * u64::from(window & 7));
    }
    let dictionary_id = match descriptor & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    };
    let size = rest.get(dictionary_id..)?;
    Some(match descriptor >> 6 {
        0 => u64::from(*size.first()?),
        1 => u64::from(u16::from_le_bytes(*size.first_chunk()?)) + 256,
        2 => u64::from(u32::from_le_bytes(*size.first_chunk()?)),
        _ => u64::from_le_bytes(*size.first_chunk()?),
    })
}

#[cfg(feature = "zstd")]
impl Read for Zstd {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::BlockDecodingStrategy;
        loop {
            if !self.in_frame {
                // Another frame if anything follows; the first one always.
                if self.frames > 0 && self.input.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                if self.skip_skippable()? {
                    continue;
                }
                self.start_frame()?;
            }
            let frame = &mut self.frame;
            while frame.can_collect() < out.len() && !frame.is_finished() {
                let wanted = out.len() - frame.can_collect();
                frame
                    .decode_blocks(&mut self.input, BlockDecodingStrategy::UptoBytes(wanted))
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            let n = frame.read(out)?;
            if n > 0 {
                return Ok(n);
            }
            self.end_frame()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[cfg(feature = "gzip")]
    use std::io::Write;

    impl Encoded for io::Cursor<Vec<u8>> {
        fn discard(self: Box<Self>) {}
    }

    /// Decodes `encoded` as `codings` (applied in that order) with `limits`.
    fn decode_bytes(
        encoded: &[u8],
        codings: &[Coding],
        limits: DecompressionLimits,
    ) -> Result<Vec<u8>, Error> {
        let Some((&last, earlier)) = codings.split_last() else {
            return Err(Error::new(ErrorKind::Config, "no codings"));
        };
        let mut decoding = Decoding::new(io::Cursor::new(encoded.to_vec()), earlier, last, limits);
        let mut out = Vec::new();
        decoding.read_to_end(&mut out).map_err(Error::from_io)?;
        Ok(out)
    }

    #[cfg(feature = "gzip")]
    fn gzip(data: &[u8]) -> Vec<u8> {
        let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = encoder.write_all(data);
        encoder.finish().unwrap_or_default()
    }

    #[cfg(feature = "gzip")]
    fn zlib(data: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = encoder.write_all(data);
        encoder.finish().unwrap_or_default()
    }

    #[cfg(feature = "gzip")]
    fn raw_deflate(data: &[u8]) -> Vec<u8> {
        let mut encoder =
            flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
        let _ = encoder.write_all(data);
        encoder.finish().unwrap_or_default()
    }

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(CONTENT_ENCODING, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn unknown_codings_and_identity_only_are_not_decoded() {
        assert_eq!(content_codings(&headers(&["x-custom"])), None);
        assert_eq!(
            content_codings(&headers(&["identity", " , "])),
            Some(vec![])
        );
        assert_eq!(content_codings(&HeaderMap::new()), Some(vec![]));
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn coding_lists_are_read_in_order_case_insensitively_across_fields() {
        assert_eq!(
            content_codings(&headers(&["GZip, identity", "x-gzip", "Deflate"])),
            Some(vec![Coding::Gzip, Coding::Gzip, Coding::Deflate])
        );
        assert_eq!(content_codings(&headers(&["gzip, x-custom"])), None);
    }

    #[test]
    fn accept_encoding_lists_the_codings_compiled_in_in_a_stable_order() {
        let exec = ContentCompressionExec::new(DecompressionLimits::default());
        let expected: Vec<&str> = [
            (cfg!(feature = "gzip"), "gzip"),
            (cfg!(feature = "gzip"), "deflate"),
            (cfg!(feature = "brotli"), "br"),
            (cfg!(feature = "zstd"), "zstd"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        let sent = exec.accept.as_ref().and_then(|v| v.to_str().ok());
        if expected.is_empty() {
            assert_eq!(sent, None);
        } else {
            assert_eq!(sent, Some(expected.join(", ").as_str()));
        }
    }

    #[test]
    fn limits_count_bytes_and_the_ratio_past_its_threshold() {
        let limits = DecompressionLimits::default().with_max_decoded_bytes(Some(10 << 20));
        // Small and very compressible: under the threshold, any ratio passes.
        assert!(limits.check("gzip", 1 << 20, 10).is_none());
        // Past it, at most 100 to 1.
        assert!(limits.check("gzip", (1 << 20) + 1, 20_000).is_none());
        let bomb = limits.check("gzip", 2 << 20, 2_000);
        assert!(
            bomb.is_some_and(|e| e.kind() == ErrorKind::DecompressionLimit
                && e.to_string().contains("2097152 bytes from 2000"))
        );
        let large = limits.check("gzip", (10 << 20) + 1, 10 << 20);
        assert!(large.is_some_and(|e| e.to_string().contains("max_decoded_bytes")));
        assert!(
            DecompressionLimits::none()
                .check("br", u64::MAX, 1)
                .is_none()
        );
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn zlib_headers_are_told_from_raw_deflate() {
        assert!(is_zlib(&zlib(b"hello")));
        assert!(!is_zlib(&raw_deflate(b"hello")));
        assert!(is_zlib(&[0x78, 0x01]) && is_zlib(&[0x78, 0xDA]));
        assert!(!is_zlib(&[0x78]) && !is_zlib(&[0x78, 0x00]) && !is_zlib(&[0x88, 0x1A]));
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn deflate_decodes_zlib_and_raw_and_gzip_several_members() -> Result<(), Error> {
        let limits = DecompressionLimits::default();
        let text = b"the quick brown fox jumps over the lazy dog".repeat(50);
        assert_eq!(
            decode_bytes(&zlib(&text), &[Coding::Deflate], limits)?,
            text
        );
        assert_eq!(
            decode_bytes(&raw_deflate(&text), &[Coding::Deflate], limits)?,
            text
        );
        let mut two = gzip(b"hello, ");
        two.extend(gzip(b"world"));
        assert_eq!(
            decode_bytes(&two, &[Coding::Gzip], limits)?,
            b"hello, world"
        );
        Ok(())
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn stacked_codings_are_undone_last_first() -> Result<(), Error> {
        // Content-Encoding: deflate, gzip — deflate applied first, gzip on top.
        let encoded = gzip(&zlib(b"layered"));
        let decoded = decode_bytes(
            &encoded,
            &[Coding::Deflate, Coding::Gzip],
            DecompressionLimits::default(),
        )?;
        assert_eq!(decoded, b"layered");
        Ok(())
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn truncated_streams_and_trailing_data_are_decompression_errors() {
        let limits = DecompressionLimits::default();
        let text = b"some text that is long enough to matter".repeat(20);
        for (name, coding, mut encoded) in [
            ("gzip", Coding::Gzip, gzip(&text)),
            ("zlib", Coding::Deflate, zlib(&text)),
            ("raw", Coding::Deflate, raw_deflate(&text)),
        ] {
            let whole = encoded.clone();
            encoded.truncate(encoded.len() - 3);
            let short = decode_bytes(&encoded, &[coding], limits);
            assert!(
                short.is_err_and(|e| e.kind() == ErrorKind::Decompression),
                "{name} truncated"
            );
            let mut long = whole;
            long.extend_from_slice(b"garbage");
            let trailing = decode_bytes(&long, &[coding], limits);
            assert!(
                trailing.is_err_and(|e| e.kind() == ErrorKind::Decompression),
                "{name} with trailing data"
            );
        }
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn empty_bodies_decode_to_nothing() -> Result<(), Error> {
        let decoded = decode_bytes(&[], &[Coding::Gzip], DecompressionLimits::default())?;
        assert!(decoded.is_empty());
        Ok(())
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn a_body_of_exactly_the_byte_limit_passes_one_more_byte_fails() -> Result<(), Error> {
        let encoded = gzip(&[b'x'; 1000]);
        let exact = DecompressionLimits::none().with_max_decoded_bytes(Some(1000));
        assert_eq!(decode_bytes(&encoded, &[Coding::Gzip], exact)?.len(), 1000);
        let under = DecompressionLimits::none().with_max_decoded_bytes(Some(999));
        let over = decode_bytes(&encoded, &[Coding::Gzip], under);
        assert!(over.is_err_and(|e| e.kind() == ErrorKind::DecompressionLimit));
        Ok(())
    }

    /// `Hello from brotli! ` ten times, as Python's `brotli.compress(data, quality=11)`
    /// (brotli 1.2.1) writes it.
    #[cfg(feature = "brotli")]
    const BR_HELLO: &[u8] = b"\x1b\xbd\x00\xf8\x1d\xa9\x53\x9f\xbb\x70\x0d\x82\x24\x26\xa7\x42\
        \xe8\x32\x8d\xed\xad\x14\xd1\xad\x44\x40\x89\xd5\x55\xd9\x0f\x00";

    /// `Hello from zstd! ` ten times, as `zstd -19` (v1.5.4) writes it: one
    /// single-segment frame with its content checksum in the last 4 bytes.
    #[cfg(feature = "zstd")]
    const ZSTD_HELLO: &[u8] = b"\x28\xb5\x2f\xfd\x24\xaa\xc5\x00\x00\x88\x48\x65\x6c\x6c\x6f\x20\
        \x66\x72\x6f\x6d\x20\x7a\x73\x74\x64\x21\x20\x01\x00\x2d\x44\xcd\x25\x28\x5b\x82\x4c";

    #[cfg(feature = "brotli")]
    #[test]
    fn brotli_decodes_and_refuses_truncation_and_trailing_data() -> Result<(), Error> {
        let limits = DecompressionLimits::default();
        let decoded = decode_bytes(BR_HELLO, &[Coding::Br], limits)?;
        assert_eq!(decoded, b"Hello from brotli! ".repeat(10));
        let short = decode_bytes(&BR_HELLO[..BR_HELLO.len() - 2], &[Coding::Br], limits);
        assert!(short.is_err_and(|e| e.kind() == ErrorKind::Decompression));
        let long = decode_bytes(&[BR_HELLO, b"junk"].concat(), &[Coding::Br], limits);
        assert!(long.is_err_and(|e| e.kind() == ErrorKind::Decompression
            && e.to_string().contains("data after its end")));
        Ok(())
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_decodes_and_checks_the_content_checksum() -> Result<(), Error> {
        let limits = DecompressionLimits::default();
        let decoded = decode_bytes(ZSTD_HELLO, &[Coding::Zstd], limits)?;
        assert_eq!(decoded, b"Hello from zstd! ".repeat(10));
        let mut corrupt = ZSTD_HELLO.to_vec();
        if let Some(last) = corrupt.last_mut() {
            *last ^= 1;
        }
        let mismatch = decode_bytes(&corrupt, &[Coding::Zstd], limits);
        assert!(mismatch.is_err_and(|e| e.kind() == ErrorKind::Decompression
            && format!("{e:#}").contains("checksum mismatch")));
        let short = decode_bytes(&ZSTD_HELLO[..30], &[Coding::Zstd], limits);
        assert!(short.is_err_and(|e| e.kind() == ErrorKind::Decompression));
        let long = decode_bytes(&[ZSTD_HELLO, b"junk"].concat(), &[Coding::Zstd], limits);
        assert!(long.is_err_and(|e| e.kind() == ErrorKind::Decompression));
        Ok(())
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_windows_are_read_from_the_frame_header() {
        let magic = 0xFD2F_B528u32.to_le_bytes();
        let frame = |rest: &[u8]| [&magic[..], rest].concat();
        // Window descriptor 0x70: 2^(10+14) = 16 MiB; 0x68: 8 MiB.
        assert_eq!(zstd_window(&frame(&[0x00, 0x70])), Some(16 << 20));
        assert_eq!(zstd_window(&frame(&[0x00, 0x68])), Some(8 << 20));
        assert_eq!(zstd_window(&frame(&[0x00, 0x69])), Some(9 << 20));
        // Single segment, 1-byte content size.
        assert_eq!(zstd_window(&frame(&[0x20, 42])), Some(42));
        // Single segment, 4-byte content size after a 1-byte dictionary id.
        let size = (100u32 << 20).to_le_bytes();
        assert_eq!(
            zstd_window(&frame(&[&[0xA1, 7][..], &size].concat())),
            Some(100 << 20)
        );
        assert_eq!(zstd_window(b"not zstd"), None);
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_frames_needing_more_than_8_mib_are_refused() {
        // A raw, last block of 5 bytes under a 16 MiB window descriptor.
        let mut frame = 0xFD2F_B528u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&[0x00, 0x70]);
        let header = (5u32 << 3) | 1; // size 5, raw, last
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.extend_from_slice(b"hello");
        let refused = decode_bytes(&frame, &[Coding::Zstd], DecompressionLimits::default());
        assert!(refused.is_err_and(
            |e| e.kind() == ErrorKind::Decompression && e.to_string().contains("RFC 9659")
        ));
        // The same block under an 8 MiB window decodes.
        frame[5] = 0x68;
        let decoded = decode_bytes(&frame, &[Coding::Zstd], DecompressionLimits::default());
        assert_eq!(decoded.ok().as_deref(), Some(&b"hello"[..]));
    }

    #[cfg(feature = "zstd")]
    #[test]
    fn zstd_skippable_and_consecutive_frames_decode() -> Result<(), Error> {
        let frame = |data: &[u8]| {
            let mut frame = 0xFD2F_B528u32.to_le_bytes().to_vec();
            frame.extend_from_slice(&[0x00, 0x50]); // 1 MiB window, no checksum
            let header = ((data.len() as u32) << 3) | 1;
            frame.extend_from_slice(&header.to_le_bytes()[..3]);
            frame.extend_from_slice(data);
            frame
        };
        let mut body = 0x184D_2A53u32.to_le_bytes().to_vec();
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(b"xyz");
        body.extend(frame(b"hello, "));
        body.extend(frame(b"world"));
        let decoded = decode_bytes(&body, &[Coding::Zstd], DecompressionLimits::default())?;
        assert_eq!(decoded, b"hello, world");
        Ok(())
    }
}
