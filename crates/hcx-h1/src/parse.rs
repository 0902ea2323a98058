//! Response head parsing on `httparse`, with limits, and the skipping of
//! informational (1xx) responses.

use std::mem::MaybeUninit;
use std::ops::Range;

use bytes::{Bytes, BytesMut};
use http::header::{HeaderMap, HeaderName, HeaderValue};
use http::{StatusCode, Version};
use smallvec::SmallVec;

use crate::Limits;
use crate::error::{Error, ErrorKind, ShowBytes};

/// A parsed response head: status line and header fields.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResponseHead {
    /// HTTP/1.0 or HTTP/1.1.
    pub version: Version,
    /// The status code.
    pub status: StatusCode,
    /// The header fields, in order, repeated names kept. Obsolete line folding
    /// is replaced by spaces (RFC 9112 §5.2).
    pub headers: HeaderMap,
    reason: Bytes,
}

impl ResponseHead {
    /// Builds a head (for tests and for callers that synthesise responses).
    pub fn new(version: Version, status: StatusCode, headers: HeaderMap) -> Self {
        ResponseHead {
            version,
            status,
            headers,
            reason: Bytes::new(),
        }
    }

    /// The reason phrase as sent ("OK", "Not Found"); empty when there was none or it
    /// was not printable ASCII or UTF-8.
    pub fn reason(&self) -> &str {
        std::str::from_utf8(&self.reason).unwrap_or("")
    }

    /// An interim response that precedes the final one: 1xx other than
    /// `101 Switching Protocols`, such as `100 Continue` or `103 Early Hints`
    /// (RFC 9110 §15.2).
    ///
    /// `101` is a final response for hcx: the connection no longer speaks HTTP/1.1
    /// after it, so there is no "next" response to wait for;
    /// [`response_framing`](crate::response_framing) reports it with
    /// [`CloseReason::SwitchingProtocols`](crate::CloseReason::SwitchingProtocols).
    pub fn is_informational(&self) -> bool {
        self.status.is_informational() && self.status != StatusCode::SWITCHING_PROTOCOLS
    }

    /// Turns the head into an [`http::Response`] with `body`.
    pub fn into_response<B>(self, body: B) -> http::Response<B> {
        // Put together from its parts: a `Response::new(body)` given its fields after
        // was moved once more on its way out (a memcpy on every response).
        let (mut parts, ()) = http::Response::new(()).into_parts();
        parts.status = self.status;
        parts.version = self.version;
        parts.headers = self.headers;
        http::Response::from_parts(parts, body)
    }
}

/// Parses a response head at the start of `buf` without consuming anything.
///
/// Returns `Ok(None)` when the head is not complete yet (read more and call again),
/// or the head and the number of bytes it took. Header values are copied; prefer
/// [`take_response_head`] on a read buffer to share its memory instead.
///
/// Errors come as soon as the bytes show them: a start that is not `HTTP/` is
/// [`ErrorKind::NotHttp`] after a single wrong byte, and a head that has not ended
/// within [`Limits::max_head_bytes`] is [`ErrorKind::HeadTooLarge`] without waiting
/// for more. Empty lines before the status line are skipped, as `httparse` does.
///
/// ```
/// let bytes = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi";
/// let (head, len) = hcx_h1::parse_response_head(bytes, &hcx_h1::Limits::default())?
///     .expect("complete");
/// assert_eq!(head.status, 200);
/// assert_eq!(&bytes[len..], b"hi");
/// assert!(hcx_h1::parse_response_head(b"HTTP/1.1 200 OK\r\n", &Default::default())?.is_none());
/// # Ok::<(), hcx_h1::Error>(())
/// ```
pub fn parse_response_head(
    buf: &[u8],
    limits: &Limits,
) -> Result<Option<(ResponseHead, usize)>, Error> {
    let mut fields = Fields::new();
    let Some(raw) = parse_raw(buf, limits, &mut fields)? else {
        return Ok(None);
    };
    let len = raw.len;
    Ok(Some((raw.build(&fields, buf, None)?, len)))
}

/// Parses a response head at the start of `buf` and, when it is complete, removes it
/// from `buf`. The returned header values share the buffer's memory (no copies).
///
/// Returns `Ok(None)` (and leaves `buf` alone) when more bytes are needed. Errors are
/// those of [`parse_response_head`].
pub fn take_response_head(
    buf: &mut BytesMut,
    limits: &Limits,
) -> Result<Option<ResponseHead>, Error> {
    let mut fields = Fields::new();
    let Some(raw) = parse_raw(buf, limits, &mut fields)? else {
        return Ok(None);
    };
    let shared = buf.split_to(raw.len).freeze();
    raw.build(&fields, &shared, Some(&shared)).map(Some)
}

/// Reads the heads of one exchange: any informational (1xx) responses, then the
/// final one. Apache HttpClient consumes 1xx responses in `HttpRequestExecutor`.
///
/// ```
/// use bytes::BytesMut;
/// use hcx_h1::{HeadEvent, HeadReader, Limits};
///
/// let mut buf = BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 204 No Content\r\n\r\n"[..]);
/// let mut reader = HeadReader::new(Limits::default());
/// let Some(HeadEvent::Informational(interim)) = reader.read(&mut buf)? else { panic!() };
/// assert_eq!(interim.status, 100);
/// let Some(HeadEvent::Final(head)) = reader.read(&mut buf)? else { panic!() };
/// assert_eq!(head.status, 204);
/// assert!(buf.is_empty());
/// # Ok::<(), hcx_h1::Error>(())
/// ```
#[derive(Debug, Clone)]
pub struct HeadReader {
    limits: Limits,
    /// Interim responses so far (a `u32`: with the two flags below it takes the one
    /// word a `usize` took, and the reader, moved with the exchange's state at each
    /// step, stays 48 bytes).
    informational: u32,
    /// Bytes at the front of the buffer already known to hold no end of head, so a
    /// head that trickles in is scanned once, not re-parsed on every read.
    scanned: usize,
    /// Bytes of empty lines (`\r\n` or `\n`) at the front of the buffer, before the
    /// status line: those the parser skips.
    blank: usize,
    /// Whether a scan saw a line end past the empty lines: the status line has ended.
    status_ended: bool,
    /// Whether the status line was checked on its own, before the head was whole.
    status_checked: bool,
}

/// A head read by a [`HeadReader`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HeadEvent {
    /// An interim 1xx response (`100 Continue`, `103 Early Hints`): report it if you
    /// like, then read again.
    Informational(ResponseHead),
    /// The final response: decide its framing with
    /// [`response_framing`](crate::response_framing).
    Final(ResponseHead),
}

impl HeadReader {
    /// A reader for one exchange.
    pub fn new(limits: Limits) -> Self {
        HeadReader {
            limits,
            informational: 0,
            scanned: 0,
            blank: 0,
            status_ended: false,
            status_checked: false,
        }
    }

    /// The limits it reads with.
    pub fn limits(&self) -> Limits {
        self.limits
    }

    /// How many informational responses came so far.
    pub fn informational_count(&self) -> usize {
        self.informational as usize
    }

    /// Takes the next head from `buf`: `Ok(None)` means read more bytes into `buf` and
    /// call again.
    ///
    /// A head is parsed once its blank line may have come; before that, a start that
    /// is not `HTTP/`, a bare CR, a status line that has ended and is invalid, and a
    /// field line that has ended without a name and a colon are errors at once,
    /// whether the head comes whole or a byte at a time.
    ///
    /// More than [`Limits::max_informational`] interim responses is
    /// [`ErrorKind::TooManyInformational`]: a server cannot keep a client waiting
    /// forever with `100 Continue`s.
    pub fn read(&mut self, buf: &mut BytesMut) -> Result<Option<HeadEvent>, Error> {
        // A head usually arrives whole in one read, so the first look parses at once
        // and scans for the blank line only if that did not give a head. Either way the
        // outcome is the one the scan decides: a head is parsed (and may fail) only
        // once a blank line may have come, so a head that trickles in is not parsed
        // from its start on every read, and an incomplete head fails alike whether it
        // came whole or a byte at a time.
        let first_look = self.scanned == 0 && self.blank == 0;
        if !first_look && !self.may_parse(buf) {
            // Still no blank line: only the cheap checks of its start.
            self.check_start(buf)?;
            return Ok(None);
        }
        let head = match take_response_head(buf, &self.limits) {
            Ok(Some(head)) => head,
            Ok(None) => {
                if first_look {
                    self.may_parse(buf);
                }
                return Ok(None);
            }
            Err(_) if first_look && !self.may_parse(buf) => {
                // An error in a head not yet whole: as if it had not been parsed yet.
                self.check_start(buf)?;
                return Ok(None);
            }
            Err(e) => return Err(e),
        };
        self.start_over();
        if !head.is_informational() {
            return Ok(Some(HeadEvent::Final(head)));
        }
        self.informational = self.informational.saturating_add(1);
        if self.informational_count() > self.limits.max_informational {
            return Err(Error::new(
                ErrorKind::TooManyInformational,
                format!(
                    "more than {} informational (1xx) responses before the final one",
                    self.limits.max_informational
                ),
            ));
        }
        Ok(Some(HeadEvent::Informational(head)))
    }
}

impl HeadReader {
    /// Forgets what it learned of a head not yet whole (a head was taken, or the
    /// buffer was consumed or replaced): the next bytes are a new head's.
    fn start_over(&mut self) {
        self.scanned = 0;
        self.blank = 0;
        self.status_ended = false;
        self.status_checked = false;
    }

    /// The checks of a head not yet whole: that it starts with `HTTP/`, and, once,
    /// that its status line is valid when it has ended. A server that sends a broken
    /// status line and then nothing gets its error now, not at the response timeout
    /// (Apache reads the status line first and fails on it at once). Either way the
    /// error is the one a parse of the whole head gives: it fails at the first wrong
    /// byte.
    fn check_start(&mut self, buf: &[u8]) -> Result<(), Error> {
        let start = self.blank.min(buf.len());
        check_http_prefix(&buf[start..])?;
        if !self.status_ended || self.status_checked {
            return Ok(());
        }
        self.status_checked = true;
        match memchr::memchr(b'\n', &buf[start..]) {
            Some(end) => parse_response_head(&buf[..start + end + 1], &self.limits).map(|_| ()),
            None => Ok(()),
        }
    }

    /// Whether `buf` is worth parsing: it reached the size limit (so the parser can
    /// say so) or it may hold a complete head.
    fn may_parse(&mut self, buf: &[u8]) -> bool {
        buf.len() >= self.limits.max_head_bytes || self.may_hold_a_head(buf)
    }

    /// Whether `buf` may hold a complete head: a line feed followed by an empty line
    /// (`\n\r\n` or `\n\n`) after the first non-empty line, somewhere past what
    /// earlier calls already scanned; or one that can never be complete, with a CR
    /// not followed by LF or a field line that cannot be one (both of which the
    /// parser refuses anywhere in a head).
    fn may_hold_a_head(&mut self, buf: &[u8]) -> bool {
        if self.scanned.max(self.blank) > buf.len() {
            // The caller consumed or replaced the buffer.
            self.start_over();
        }
        // Empty lines before the status line (which the parser skips) end no head:
        // looking past them keeps a head trickling in behind them from being parsed
        // again on every read. Counted once, like `scanned`.
        loop {
            match buf[self.blank.min(buf.len())..] {
                [b'\n', ..] => self.blank += 1,
                [b'\r', b'\n', ..] => self.blank += 2,
                _ => break,
            }
        }
        // Back up two bytes: the end of head may straddle the old and new bytes.
        let start = self.scanned.saturating_sub(2).max(self.blank);
        let rest = &buf[start..];
        // Where the line ending at the next LF begins, if it is a field line (`None`:
        // the status line, which `check_start` looks at). Looked for back from `start`
        // only once a LF came, so a long line trickling in is not searched again on
        // every read.
        let mut line: Option<Option<usize>> = None;
        // One pass for all: a LF that starts an empty line, or a CR followed by
        // anything but LF, or a LF ending a field line without a name and a colon,
        // each of which fails the head wherever it is (the parser may say so now
        // rather than after bytes that never come).
        let found = memchr::memchr2_iter(b'\n', b'\r', rest).any(|i| match rest[i] {
            b'\n' => {
                let from = *line.get_or_insert_with(|| {
                    memchr::memrchr(b'\n', &buf[self.blank..start]).map(|at| self.blank + at + 1)
                });
                line = Some(Some(start + i + 1));
                from.is_some_and(|from| !may_be_field_line(&buf[from..start + i]))
                    || matches!(&rest[i + 1..], [b'\n', ..] | [b'\r', b'\n', ..])
            }
            _ => rest.get(i + 1).is_some_and(|&b| b != b'\n'),
        });
        if !found {
            // The pass above saw every LF in `rest`: the status line ends at the first
            // line end past the empty lines.
            self.status_ended |= line.is_some();
            self.scanned = buf.len();
        }
        found
    }
}

/// Whether `line` (without its LF) may be a field line of a response head: a name of
/// tchars, a colon and a value of field-value bytes (HTAB, SP, visible ASCII,
/// obs-text), or an obs-fold continuation (leading SP or HTAB) of such bytes, or empty
/// (the head's end). What the parser refuses in any case, so that a refused line
/// fails with the parser's own error.
fn may_be_field_line(line: &[u8]) -> bool {
    let line = line.strip_suffix(b"\r").unwrap_or(line);
    let value = match line.first() {
        None => return true,
        Some(b' ' | b'\t') => line,
        Some(_) => match memchr::memchr(b':', line) {
            Some(colon) if crate::syntax::is_token(&line[..colon]) => &line[colon + 1..],
            _ => return false,
        },
    };
    value
        .iter()
        .all(|&b| b == b'\t' || (b' '..=b'~').contains(&b) || b >= 0x80)
}

/// Where the parts of a parsed head lie in the buffer; its fields' names and values
/// are in a [`Fields`] beside it.
struct RawHead {
    version: Version,
    status: StatusCode,
    reason: Range<usize>,
    len: usize,
}

/// Where each field's name and value lie in the buffer. Kept apart from [`RawHead`]
/// and filled in place: half a kilobyte inline, it would otherwise be copied on every
/// return and call between parsing and building.
type Fields = SmallVec<[(Range<usize>, Range<usize>); INLINE_FIELDS]>;

/// As many header slots as fit comfortably on the stack; more come from the heap.
const STACK_HEADERS: usize = 100;

/// The field offsets a head keeps inline between parsing and building: more than
/// most responses carry, so the usual head allocates only its `HeaderMap`.
const INLINE_FIELDS: usize = 16;

/// The fields an `http::HeaderMap` made by `new` holds before it first grows: its
/// first insert makes a table of eight slots, of which it fills three quarters.
const FIRST_TABLE_FIELDS: usize = 6;

/// The most fields an `http::HeaderMap` holds; `try_with_capacity` and `try_append`
/// refuse more.
const MAX_MAP_FIELDS: usize = 24_576;

fn parse_raw(buf: &[u8], limits: &Limits, fields: &mut Fields) -> Result<Option<RawHead>, Error> {
    if buf.is_empty() {
        return Ok(None);
    }
    check_http_prefix(buf)?;

    // Parsing at most `max_head_bytes` bytes makes "complete" mean "within the limit".
    let window = &buf[..buf.len().min(limits.max_head_bytes)];
    // Slots the parser fills without them being cleared first: clearing a hundred
    // would write 3 KB of stack on every response.
    let mut stack = [const { MaybeUninit::<httparse::Header<'_>>::uninit() }; STACK_HEADERS];
    let mut heap = Vec::new();
    // A field line takes at least 3 bytes (`a:\n`), and an `http::HeaderMap` holds at
    // most 24,576 fields: more slots than either allows can never be filled, so a huge
    // `max_headers` ("no limit") costs no more than the window needs.
    let max_fields = limits
        .max_headers
        .min(window.len() / 3 + 1)
        .min(MAX_MAP_FIELDS + 1);
    let slots: &mut [MaybeUninit<httparse::Header<'_>>] = if max_fields <= STACK_HEADERS {
        &mut stack[..max_fields]
    } else {
        heap.resize_with(max_fields, MaybeUninit::uninit);
        &mut heap
    };
    let mut response = httparse::Response::new(&mut []);
    let mut config = httparse::ParserConfig::default();
    // RFC 9112 §5.2: a user agent must accept obs-fold in a response and read it as SP.
    config.allow_obsolete_multiline_headers_in_responses(true);
    let len = match config.parse_response_with_uninit_headers(&mut response, window, slots) {
        Ok(httparse::Status::Complete(len)) => len,
        Ok(httparse::Status::Partial) if buf.len() >= limits.max_head_bytes => {
            return Err(Error::new(
                ErrorKind::HeadTooLarge,
                format!(
                    "response head larger than the limit of {} bytes (status line {})",
                    limits.max_head_bytes,
                    ShowBytes(first_line(buf))
                ),
            ));
        }
        Ok(httparse::Status::Partial) => return Ok(None),
        Err(e) => return Err(map_httparse_error(e, buf, limits)),
    };

    let version = match response.version {
        Some(0) => Version::HTTP_10,
        _ => Version::HTTP_11,
    };
    let code = response.code.unwrap_or(0);
    let status = StatusCode::from_u16(code).map_err(|_| {
        Error::new(
            ErrorKind::InvalidHead,
            format!(
                "invalid status code {code} in status line {}",
                ShowBytes(first_line(buf))
            ),
        )
    })?;
    let reason = response
        .reason
        .map_or(0..0, |r| offset_range(buf, len, r.as_bytes()));
    fields.extend(response.headers.iter().map(|h| {
        (
            offset_range(buf, len, h.name.as_bytes()),
            offset_range(buf, len, h.value),
        )
    }));
    Ok(Some(RawHead {
        version,
        status,
        reason,
        len,
    }))
}

impl RawHead {
    /// Builds the head from the buffer the ranges point into; with `shared`, the same
    /// bytes as `Bytes`, values are slices of it instead of copies.
    fn build(
        self,
        fields: &Fields,
        src: &[u8],
        shared: Option<&Bytes>,
    ) -> Result<ResponseHead, Error> {
        // `http` caps a map at 24,576 fields and panics past it in `with_capacity` and
        // `append`: with limits raised that far, the `try_` forms turn it into an error.
        let too_many = || {
            Error::new(
                ErrorKind::TooManyHeaders,
                "more header fields than an http::HeaderMap can hold (24,576)".to_string(),
            )
        };
        // Up to six fields (the usual response) fit the table `HeaderMap` makes on its
        // first insert (eight slots, six usable), the same a capacity of six asks for:
        // only a larger head sizes it up front, so the usual one does not run
        // `try_with_capacity` on top of the insert's own allocation.
        let mut headers = if fields.len() <= FIRST_TABLE_FIELDS {
            HeaderMap::new()
        } else {
            HeaderMap::try_with_capacity(fields.len()).map_err(|_| too_many())?
        };
        for (name_range, value_range) in fields {
            let name_bytes = &src[name_range.clone()];
            let raw_value = &src[value_range.clone()];
            let (name, common) = field_name(name_bytes).map_err(|_| {
                Error::new(
                    ErrorKind::InvalidHead,
                    format!("invalid header field name {}", ShowBytes(name_bytes)),
                )
            })?;
            // The value as sent first: a valid value holds no CR or LF, so one that
            // passes has no obs-fold, and the usual value is checked once, not also
            // searched for a fold. httparse lets a CR into a value only as part of an
            // obs-fold's CRLF, so a refused value with a LF holds a fold, and is tried
            // again unfolded; one without is refused as it is (a lone CR included).
            let value = match (common.iter().find(|v| v.as_bytes() == raw_value), shared) {
                (Some(common), _) => Ok(common.clone()),
                (None, Some(shared)) => {
                    HeaderValue::from_maybe_shared(shared.slice(value_range.clone()))
                }
                (None, None) => HeaderValue::from_bytes(raw_value),
            };
            let mut value = match value {
                Ok(value) => value,
                Err(_) => unfold(raw_value).ok_or_else(|| {
                    Error::new(
                        ErrorKind::InvalidHead,
                        if is_secret(&name) {
                            format!("invalid value of header field {name} (not shown: a secret)")
                        } else {
                            format!(
                                "invalid value {} of header field {name}",
                                ShowBytes(raw_value)
                            )
                        },
                    )
                })?,
            };
            // A server's cookies are secrets of the session: no `Debug` of the response
            // (a handler's or an interceptor's log line) shows them.
            if name == http::header::SET_COOKIE {
                value.set_sensitive(true);
            }
            headers.try_append(name, value).map_err(|_| too_many())?;
        }
        // The usual reason is the status's own ("OK"): the static text, not a slice.
        let canonical = self.status.canonical_reason().unwrap_or_default();
        let reason = match shared {
            _ if src[self.reason.clone()] == *canonical.as_bytes() => {
                Bytes::from_static(canonical.as_bytes())
            }
            Some(shared) => shared.slice(self.reason),
            None => Bytes::copy_from_slice(&src[self.reason]),
        };
        Ok(ResponseHead {
            version: self.version,
            status: self.status,
            headers,
            reason,
        })
    }
}

/// A field value refused as sent, unfolded if it holds an obs-fold (a LF: httparse
/// lets a CR or LF into a value only there), each CR and LF becoming a SP (RFC 9112
/// §5.2). `None` when it holds none, or is still invalid unfolded.
fn unfold(raw_value: &[u8]) -> Option<HeaderValue> {
    if !raw_value.contains(&b'\n') {
        return None;
    }
    let unfolded: Vec<u8> = raw_value
        .iter()
        .map(|&b| if b == b'\r' || b == b'\n' { b' ' } else { b })
        .collect();
    HeaderValue::from_bytes(&unfolded).ok()
}

/// The name of a response field. The names servers send most, spelt as they send them
/// (`Content-Length`, not `content-length`), are matched by length and bytes and come
/// back as `http`'s constants; any other spelling or name goes through
/// `HeaderName::from_bytes`, which lowercases it into a scratch buffer and looks it up
/// among all the standard names, about a hundred instructions a field. Both ways give
/// the same name. With it, the values most often sent for that name (none for most):
/// a value among them is taken static rather than sliced from the read buffer.
fn field_name(
    bytes: &[u8],
) -> Result<(HeaderName, &'static [HeaderValue]), http::header::InvalidHeaderName> {
    use http::header::{
        CACHE_CONTROL, CONNECTION, CONTENT_ENCODING, CONTENT_LENGTH, CONTENT_TYPE, DATE, ETAG,
        EXPIRES, LAST_MODIFIED, LOCATION, SERVER, SET_COOKIE, TRANSFER_ENCODING, VARY,
    };
    let known: Option<(HeaderName, &'static [HeaderValue])> = match bytes.len() {
        4 => match bytes {
            b"Date" => Some((DATE, NONE)),
            b"ETag" => Some((ETAG, NONE)),
            b"Vary" => Some((VARY, &VARY_VALUES)),
            _ => None,
        },
        6 => (bytes == b"Server").then_some((SERVER, NONE)),
        7 => (bytes == b"Expires").then_some((EXPIRES, NONE)),
        8 => (bytes == b"Location").then_some((LOCATION, NONE)),
        10 => match bytes {
            b"Connection" => Some((CONNECTION, &CONNECTION_VALUES)),
            b"Set-Cookie" => Some((SET_COOKIE, NONE)),
            _ => None,
        },
        12 => (bytes == b"Content-Type").then_some((CONTENT_TYPE, &CONTENT_TYPE_VALUES)),
        13 => match bytes {
            b"Cache-Control" => Some((CACHE_CONTROL, &CACHE_CONTROL_VALUES)),
            b"Last-Modified" => Some((LAST_MODIFIED, NONE)),
            _ => None,
        },
        14 => (bytes == b"Content-Length").then_some((CONTENT_LENGTH, NONE)),
        16 => (bytes == b"Content-Encoding").then_some((CONTENT_ENCODING, &CODING_VALUES)),
        17 => (bytes == b"Transfer-Encoding").then_some((TRANSFER_ENCODING, &CODING_VALUES)),
        _ => None,
    };
    match known {
        Some(known) => Ok(known),
        None => HeaderName::from_bytes(bytes).map(|name| (name, NONE)),
    }
}

// The values most responses carry for the names above, byte for byte as servers send
// them: a value that is one of these is the static one, not a slice of the read
// buffer. A slice costs two atomic operations (its share of the buffer taken and given
// back) and keeps the buffer's memory alive as long as the response; a static value
// neither. Any other spelling is sliced as usual: the value is the same either way.
const NONE: &[HeaderValue] = &[];
static CONNECTION_VALUES: [HeaderValue; 3] = [
    HeaderValue::from_static("keep-alive"),
    HeaderValue::from_static("close"),
    HeaderValue::from_static("Keep-Alive"),
];
static CONTENT_TYPE_VALUES: [HeaderValue; 8] = [
    HeaderValue::from_static("application/json"),
    HeaderValue::from_static("text/plain"),
    HeaderValue::from_static("text/html"),
    HeaderValue::from_static("application/octet-stream"),
    HeaderValue::from_static("application/json; charset=utf-8"),
    HeaderValue::from_static("text/html; charset=utf-8"),
    HeaderValue::from_static("text/plain; charset=utf-8"),
    HeaderValue::from_static("text/html; charset=UTF-8"),
];
static CODING_VALUES: [HeaderValue; 4] = [
    HeaderValue::from_static("chunked"),
    HeaderValue::from_static("gzip"),
    HeaderValue::from_static("br"),
    HeaderValue::from_static("deflate"),
];
static VARY_VALUES: [HeaderValue; 1] = [HeaderValue::from_static("Accept-Encoding")];
static CACHE_CONTROL_VALUES: [HeaderValue; 3] = [
    HeaderValue::from_static("no-cache"),
    HeaderValue::from_static("no-store"),
    HeaderValue::from_static("private"),
];

/// Fails at the first byte that shows the response does not start with `HTTP/`, so a
/// peer speaking another protocol is an error at once, not a wait for more bytes.
/// Empty lines (CRLF or LF) before it are skipped as `httparse` skips them; a CR
/// followed by anything but LF is not HTTP either.
fn check_http_prefix(buf: &[u8]) -> Result<(), Error> {
    const PREFIX: &[u8] = b"HTTP/";
    let mut start = 0;
    loop {
        match buf[start..] {
            [b'\n', ..] => start += 1,
            [b'\r', b'\n', ..] => start += 2,
            [b'\r'] => return Ok(()),
            _ => break,
        }
    }
    let rest = &buf[start..];
    let n = rest.len().min(PREFIX.len());
    if rest[..n] == PREFIX[..n] {
        return Ok(());
    }
    Err(Error::new(
        ErrorKind::NotHttp,
        format!(
            "response does not start with HTTP/ (got {}): the server does not speak HTTP/1.x",
            ShowBytes(first_line(rest))
        ),
    ))
}

/// Fields whose values a message must not show: credentials and cookies.
fn is_secret(name: &http::HeaderName) -> bool {
    use http::header::{AUTHORIZATION, COOKIE, PROXY_AUTHORIZATION, SET_COOKIE};
    [SET_COOKIE, COOKIE, AUTHORIZATION, PROXY_AUTHORIZATION].contains(name)
}

fn map_httparse_error(e: httparse::Error, buf: &[u8], limits: &Limits) -> Error {
    let line = ShowBytes(first_line(buf));
    match e {
        httparse::Error::TooManyHeaders => Error::new(
            ErrorKind::TooManyHeaders,
            format!(
                "response head has more than {} header fields",
                limits.max_headers.min(MAX_MAP_FIELDS)
            ),
        ),
        httparse::Error::Version => Error::new(
            ErrorKind::UnsupportedVersion,
            format!(
                "unsupported HTTP version in status line {line} (expected HTTP/1.0 or HTTP/1.1)"
            ),
        ),
        httparse::Error::HeaderName | httparse::Error::HeaderValue => {
            let value = e == httparse::Error::HeaderValue;
            // httparse does not say where: the line is found again by the same rule.
            let field = match bad_field(buf, value) {
                Some((number, Some(name))) if value => {
                    format!(" (the value of field {} on line {number})", ShowBytes(name))
                }
                Some((number, Some(name))) => format!(" ({} on line {number})", ShowBytes(name)),
                Some((number, None)) => format!(" (line {number} has no colon)"),
                None => String::new(),
            };
            Error::new(
                ErrorKind::InvalidHead,
                format!("{e}{field} in response head with status line {line}"),
            )
        }
        other => Error::new(
            ErrorKind::InvalidHead,
            format!("{other} in response head with status line {line}"),
        ),
    }
}

/// The first field line of the head at the start of `buf` whose name (or, with
/// `value`, whose value) httparse refuses: its line number (the status line is 1) and
/// its name as sent (`None` for a line without a colon, which is not shown). A value
/// is never shown: it may be a secret.
fn bad_field(buf: &[u8], value: bool) -> Option<(usize, Option<&[u8]>)> {
    let start = buf.iter().position(|&b| b != b'\r' && b != b'\n')?;
    let lines = buf[start..].split(|&b| b == b'\n').map(|line| match line {
        [rest @ .., b'\r'] => rest,
        line => line,
    });
    for (index, line) in lines.enumerate().skip(1) {
        if line.is_empty() {
            return None; // the end of the head
        }
        if line[0] == b' ' || line[0] == b'\t' {
            continue; // obs-fold: a continuation of the value above
        }
        let Some(colon) = line.iter().position(|&b| b == b':') else {
            return (!value).then_some((index + 1, None));
        };
        let (name, rest) = line.split_at(colon);
        let bad = if value {
            rest[1..]
                .iter()
                .any(|&b| (b < b' ' && b != b'\t') || b == 0x7f)
        } else {
            name.is_empty() || !name.iter().all(|&b| crate::syntax::is_tchar(b))
        };
        if bad {
            return Some((index + 1, Some(name)));
        }
    }
    None
}

/// The first line of `buf` without its line end, or all of `buf` if it has none.
fn first_line(buf: &[u8]) -> &[u8] {
    let buf = match buf.iter().position(|&b| b != b'\r' && b != b'\n') {
        Some(start) => &buf[start..],
        None => buf,
    };
    let end = buf
        .iter()
        .position(|&b| b == b'\r' || b == b'\n')
        .unwrap_or(buf.len());
    &buf[..end]
}

/// Where `part`, a sub-slice of the head `buf[..head_len]`, lies in it.
///
/// `httparse` hands out empty parts (a missing reason phrase) as a static `""` that
/// is not inside `buf` at all, so empty parts map to `0..0`; anything else is clamped
/// to the head, so slicing with the result can never panic.
fn offset_range(buf: &[u8], head_len: usize, part: &[u8]) -> Range<usize> {
    if part.is_empty() {
        return 0..0;
    }
    let start = (part.as_ptr() as usize)
        .saturating_sub(buf.as_ptr() as usize)
        .min(head_len);
    start..start.saturating_add(part.len()).min(head_len)
}

#[cfg(test)]
#[path = "parse_tests.rs"]
mod tests;
