//! How much of a response the codec accepts before it gives up.

/// Size limits for everything line-oriented in a response: heads, chunk-size lines and
/// trailer sections.
///
/// A peer that sends more is cut off with an error instead of growing a buffer without
/// bound. Apache HttpClient's `Http1Config` has `maxLineLength` and `maxHeaderCount`
/// (unlimited by default); hcx is bounded by default.
///
/// ```
/// let limits = hcx_h1::Limits::default().with_max_headers(50);
/// assert_eq!(limits.max_headers, 50);
/// assert_eq!(limits.max_head_bytes, 64 * 1024);
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct Limits {
    /// The largest response head (status line, fields and the empty line), in bytes.
    /// Also bounds a chunk-size line with its extensions and a trailer section.
    /// Default: 64 KiB.
    pub max_head_bytes: usize,
    /// The most fields in a response head, and in a trailer section. Default: 100. Zero
    /// is refused by the client's and the connection manager's builders (see
    /// [`unusable`](Limits::unusable)); Apache's `maxHeaderCount` of 0 or −1, "no
    /// limit", ports as `usize::MAX`.
    pub max_headers: usize,
    /// The most informational (1xx) responses accepted before the final one.
    /// Default: 16. Zero is refused by the client's and the connection manager's
    /// builders (see [`unusable`](Limits::unusable)): RFC 9110 §15.2 has a client
    /// parse one or more, and a server answers `Expect: 100-continue` with one.
    pub max_informational: usize,
}

impl Limits {
    /// The default head size limit: 64 KiB.
    pub const DEFAULT_MAX_HEAD_BYTES: usize = 64 * 1024;
    /// The default field count limit: 100.
    pub const DEFAULT_MAX_HEADERS: usize = 100;
    /// The default number of informational responses accepted before the final one: 16.
    pub const DEFAULT_MAX_INFORMATIONAL: usize = 16;
    /// The shortest response head, `HTTP/1.1 200\r\n\r\n`: a `max_head_bytes` below it
    /// fits no response at all (the client's and the connection manager's builders
    /// refuse one).
    pub const SHORTEST_HEAD: usize = 16;

    /// Why these limits would fail (nearly) every response, after its request was
    /// sent and as if the server were at fault, or `None` when they can be used: a
    /// [`max_head_bytes`](Limits::max_head_bytes) below
    /// [`SHORTEST_HEAD`](Limits::SHORTEST_HEAD) fits no response; a
    /// [`max_headers`](Limits::max_headers) of 0 refuses every response with a field
    /// (nearly all: framing a body takes one); a
    /// [`max_informational`](Limits::max_informational) of 0 refuses every response
    /// after a `100 Continue` or `103 Early Hints` (RFC 9110 §15.2: a client must parse
    /// one or more). The client's and the connection manager's builders refuse such
    /// limits with this message.
    ///
    /// ```
    /// use hcx_h1::Limits;
    /// assert_eq!(Limits::default().unusable(), None);
    /// assert!(Limits::default().with_max_headers(0).unusable().is_some());
    /// assert!(Limits::default().with_max_head_bytes(15).unusable().is_some());
    /// assert!(Limits::default().with_max_informational(0).unusable().is_some());
    /// ```
    pub fn unusable(&self) -> Option<String> {
        if self.max_head_bytes < Self::SHORTEST_HEAD {
            return Some(format!(
                "a head limit (max_head_bytes) of {} bytes fits no response (the shortest \
                 head is {})",
                self.max_head_bytes,
                Self::SHORTEST_HEAD
            ));
        }
        if self.max_headers == 0 {
            return Some(
                "a field limit (max_headers) of 0 refuses every response with a header field \
                 (Apache's maxHeaderCount of 0 means no limit: use usize::MAX for that)"
                    .to_string(),
            );
        }
        if self.max_informational == 0 {
            return Some(
                "an informational response limit (max_informational) of 0 refuses every \
                 response after a 100 Continue or 103 Early Hints (RFC 9110 §15.2: a client \
                 must parse one or more)"
                    .to_string(),
            );
        }
        None
    }

    /// Sets [`max_head_bytes`](Limits::max_head_bytes).
    pub const fn with_max_head_bytes(mut self, bytes: usize) -> Self {
        self.max_head_bytes = bytes;
        self
    }

    /// Sets [`max_headers`](Limits::max_headers).
    pub const fn with_max_headers(mut self, count: usize) -> Self {
        self.max_headers = count;
        self
    }

    /// Sets [`max_informational`](Limits::max_informational).
    pub const fn with_max_informational(mut self, count: usize) -> Self {
        self.max_informational = count;
        self
    }
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_head_bytes: Self::DEFAULT_MAX_HEAD_BYTES,
            max_headers: Self::DEFAULT_MAX_HEADERS,
            max_informational: Self::DEFAULT_MAX_INFORMATIONAL,
        }
    }
}
