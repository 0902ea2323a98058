//! The chunked transfer coding, decoded one byte of framing at a time (RFC 9112 §7.1).
//!
//! ```text
//! chunked-body   = *chunk last-chunk trailer-section CRLF
//! chunk          = chunk-size [ chunk-ext ] CRLF chunk-data CRLF
//! last-chunk     = 1*("0") [ chunk-ext ] CRLF
//! chunk-ext      = *( BWS ";" BWS chunk-ext-name [ BWS "=" BWS chunk-ext-val ] )
//! chunk-ext-val  = token / quoted-string
//! ```
//!
//! The state machine never buffers chunk data and never looks back: every framing byte
//! is consumed as it arrives, so a chunk-size line split across reads costs nothing
//! extra. Only the trailer section is kept, bounded, until it can be parsed whole.
//! Line ends are strict CRLF: a bare LF in the framing is an error.

use http::HeaderMap;

use crate::Limits;
use crate::error::{Error, ErrorKind, ShowByte};
use crate::parse::parse_response_head;
use crate::syntax::is_tchar;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    /// The first hex digit of a chunk size.
    SizeStart,
    /// More hex digits.
    Size,
    /// After the size or an extension: BWS, `;` or CR.
    AfterSize,
    /// After `;`: BWS or the first byte of an extension name.
    ExtNameStart,
    ExtName,
    /// After an extension name and BWS: `=`, `;` or CR.
    ExtAfterName,
    /// After `=`: BWS, a token or a quoted string.
    ExtValueStart,
    ExtToken,
    ExtQuoted,
    ExtQuotedEscape,
    /// The LF that ends a chunk-size line.
    SizeLf,
    /// Chunk data; `remaining` bytes left.
    Data,
    DataCr,
    DataLf,
    /// The start of a trailer line, or the CR of the final CRLF.
    TrailerStart,
    TrailerLine,
    /// The final LF.
    EndLf,
    Done,
}

/// Decodes a chunked body. Data comes back as ranges of the caller's input.
#[derive(Debug, Clone)]
pub(crate) struct ChunkedDecoder {
    state: State,
    /// The size being parsed, then the data left in the current chunk.
    remaining: u64,
    size: u64,
    /// Bytes of the current chunk-size line so far.
    line_len: usize,
    /// 1-based number of the current chunk, for messages.
    chunk: u64,
    /// Bytes consumed before the current `decode` call, for messages.
    offset: u64,
    trailer_bytes: Vec<u8>,
    trailer_fields: usize,
    trailers: Option<HeaderMap>,
    max_line: usize,
    max_fields: usize,
    /// A framing error found past data returned first: the next call, and every
    /// later one, reports it.
    failed: Option<Error>,
}

/// What one `decode` call found.
pub(crate) struct Step {
    pub consumed: usize,
    pub data: std::ops::Range<usize>,
}

impl ChunkedDecoder {
    pub(crate) fn new(limits: &Limits) -> Self {
        ChunkedDecoder {
            state: State::SizeStart,
            remaining: 0,
            size: 0,
            line_len: 0,
            chunk: 1,
            offset: 0,
            trailer_bytes: Vec::new(),
            trailer_fields: 0,
            trailers: None,
            max_line: limits.max_head_bytes,
            max_fields: limits.max_headers,
            failed: None,
        }
    }

    pub(crate) fn is_done(&self) -> bool {
        self.state == State::Done
    }

    pub(crate) fn take_trailers(&mut self) -> Option<HeaderMap> {
        self.trailers.take()
    }

    pub(crate) fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_ref()
    }

    /// Consumes framing bytes until it reaches chunk data (returned as a range of
    /// `input`), the end of the body, or the end of `input`.
    ///
    /// After a chunk's data it goes on through the framing that follows, as far as
    /// `input` has it, and stops before the next chunk's data: when the last-chunk
    /// and the final CRLF are already in `input`, the call that returns the last data
    /// also reports the end (the caller can let the connection go before handing
    /// that data out, without a read to learn what it already has). A framing error
    /// met on the way is left for the next call: the bad byte stays unconsumed, so a
    /// caller that decodes whatever input is left before reading more sees it at once.
    pub(crate) fn decode(&mut self, input: &[u8]) -> Result<Step, Error> {
        if let Some(e) = &self.failed {
            return Err(e.clone());
        }
        let mut i = 0;
        let mut data = 0..0;
        while i < input.len() && self.state != State::Done {
            if self.state == State::Data {
                if !data.is_empty() {
                    // The next chunk's data: for the next call.
                    break;
                }
                let available = (input.len() - i) as u64;
                // `n` is at most `available`, which came from a usize.
                let n = self.remaining.min(available) as usize;
                self.remaining -= n as u64;
                if self.remaining == 0 {
                    self.state = State::DataCr;
                }
                data = i..i + n;
                i += n;
                continue;
            }
            let result = self.step(input[i]);
            i += 1;
            if let Err(why) = result {
                let at = self.offset + i as u64 - 1;
                let error = self.error(why, at);
                if data.is_empty() {
                    return Err(error);
                }
                // The data before the bad byte is good: it goes out first, and the
                // bad byte is left in the input for the next call to report.
                self.failed = Some(error);
                i -= 1;
                break;
            }
        }
        self.offset += i as u64;
        if data.is_empty() {
            data = i..i;
        }
        Ok(Step { consumed: i, data })
    }

    /// The error for a connection that ended now, or `None` if the body is complete.
    pub(crate) fn eof_error(&self) -> Option<Error> {
        if let Some(e) = &self.failed {
            return Some(e.clone());
        }
        let place = match self.state {
            State::Done => return None,
            State::Data => format!(
                "in the data of chunk #{} ({} of {} bytes missing)",
                self.chunk, self.remaining, self.size
            ),
            State::DataCr | State::DataLf => {
                format!("before the CRLF that ends chunk #{}", self.chunk)
            }
            State::TrailerStart | State::TrailerLine => "in the trailer section".to_string(),
            State::EndLf => "before the final LF".to_string(),
            _ => format!("in the chunk-size line of chunk #{}", self.chunk),
        };
        Some(Error::new(
            ErrorKind::IncompleteBody,
            format!(
                "connection closed {place} of a chunked body, after {} bytes",
                self.offset
            ),
        ))
    }

    fn error(&self, why: Why, at: u64) -> Error {
        let chunk = self.chunk;
        let (kind, what) = match why {
            Why::Byte(b, expected) => (
                ErrorKind::InvalidChunkSize,
                format!(
                    "invalid chunk-size line in chunk #{chunk}: byte {} where {expected} was expected",
                    ShowByte(b)
                ),
            ),
            Why::Overflow => (
                ErrorKind::ChunkSizeOverflow,
                format!("chunk size of chunk #{chunk} does not fit in 64 bits"),
            ),
            Why::LineTooLong => (
                ErrorKind::ChunkLineTooLong,
                format!(
                    "chunk-size line of chunk #{chunk} longer than the limit of {} bytes",
                    self.max_line
                ),
            ),
            Why::Delimiter(b) => (
                ErrorKind::InvalidChunkDelimiter,
                format!(
                    "byte {} where CRLF was expected after the data of chunk #{chunk}",
                    ShowByte(b)
                ),
            ),
            Why::End(b) => (
                ErrorKind::InvalidChunkDelimiter,
                format!(
                    "byte {} where the final CRLF of the chunked body was expected",
                    ShowByte(b)
                ),
            ),
            Why::Trailers(what) => (ErrorKind::InvalidTrailers, what),
        };
        Error::new(kind, format!("{what} (body offset {at})"))
    }

    fn step(&mut self, b: u8) -> Result<(), Why> {
        use State::*;
        if matches!(
            self.state,
            SizeStart
                | Size
                | AfterSize
                | ExtNameStart
                | ExtName
                | ExtAfterName
                | ExtValueStart
                | ExtToken
                | ExtQuoted
                | ExtQuotedEscape
                | SizeLf
        ) {
            self.line_len += 1;
            if self.line_len > self.max_line {
                return Err(Why::LineTooLong);
            }
        }
        let is_ws = b == b' ' || b == b'\t';
        self.state = match (self.state, b) {
            (SizeStart, _) => {
                let digit = hex(b).ok_or(Why::Byte(b, "a hex digit"))?;
                self.size = digit;
                Size
            }
            (Size, _) if hex(b).is_some() => {
                let digit = hex(b).unwrap_or(0);
                self.size = self
                    .size
                    .checked_mul(16)
                    .and_then(|s| s.checked_add(digit))
                    .ok_or(Why::Overflow)?;
                Size
            }
            (Size | AfterSize | ExtAfterName | ExtToken, b'\r') => SizeLf,
            (Size | AfterSize | ExtAfterName | ExtToken, b';') => ExtNameStart,
            (Size | AfterSize | ExtToken, _) if is_ws => AfterSize,
            (AfterSize, _) => return Err(Why::Byte(b, "';' or CRLF")),
            (Size, _) => return Err(Why::Byte(b, "a hex digit, ';' or CRLF")),
            (ExtToken, _) if is_tchar(b) => ExtToken,
            (ExtToken, _) => return Err(Why::Byte(b, "a token character, ';' or CRLF")),
            (ExtNameStart, _) if is_ws => ExtNameStart,
            (ExtNameStart | ExtName, _) if is_tchar(b) => ExtName,
            (ExtNameStart, _) => return Err(Why::Byte(b, "an extension name")),
            (ExtName, b'=') | (ExtAfterName, b'=') => ExtValueStart,
            (ExtName, b'\r') => SizeLf,
            (ExtName, b';') => ExtNameStart,
            (ExtName | ExtAfterName, _) if is_ws => ExtAfterName,
            (ExtName | ExtAfterName, _) => return Err(Why::Byte(b, "'=', ';' or CRLF")),
            (ExtValueStart, _) if is_ws => ExtValueStart,
            (ExtValueStart, b'"') => ExtQuoted,
            (ExtValueStart, _) if is_tchar(b) => ExtToken,
            (ExtValueStart, _) => return Err(Why::Byte(b, "a token or a quoted string")),
            (ExtQuoted, b'"') => AfterSize,
            (ExtQuoted, b'\\') => ExtQuotedEscape,
            (ExtQuoted, _) if is_qdtext(b) => ExtQuoted,
            (ExtQuoted, _) => return Err(Why::Byte(b, "a quoted-string character")),
            (ExtQuotedEscape, _) if is_ws || (b >= 0x21 && b != 0x7f) => ExtQuoted,
            (ExtQuotedEscape, _) => return Err(Why::Byte(b, "an escaped character")),
            (SizeLf, b'\n') => {
                self.line_len = 0;
                self.remaining = self.size;
                if self.size == 0 { TrailerStart } else { Data }
            }
            (SizeLf, _) => return Err(Why::Byte(b, "LF after CR")),
            (DataCr, b'\r') => DataLf,
            (DataLf, b'\n') => {
                self.chunk += 1;
                SizeStart
            }
            (DataCr | DataLf, _) => return Err(Why::Delimiter(b)),
            (TrailerStart, b'\r') => EndLf,
            (TrailerStart, b'\n') => return Err(Why::End(b)),
            (TrailerStart | TrailerLine, _) => self.trailer_byte(b)?,
            (EndLf, b'\n') => {
                self.finish_trailers()?;
                Done
            }
            (EndLf, _) => return Err(Why::End(b)),
            (Data | Done, _) => self.state,
        };
        Ok(())
    }

    fn trailer_byte(&mut self, b: u8) -> Result<State, Why> {
        if self.state == State::TrailerStart {
            self.trailer_fields += 1;
            if self.trailer_fields > self.max_fields {
                return Err(Why::Trailers(format!(
                    "trailer section has more than {} fields",
                    self.max_fields
                )));
            }
        }
        if b == b'\n' && self.trailer_bytes.last() != Some(&b'\r') {
            return Err(Why::Trailers("bare LF in the trailer section".to_string()));
        }
        self.trailer_bytes.push(b);
        if self.trailer_bytes.len() > self.max_line {
            return Err(Why::Trailers(format!(
                "trailer section larger than the limit of {} bytes",
                self.max_line
            )));
        }
        Ok(if b == b'\n' {
            State::TrailerStart
        } else {
            State::TrailerLine
        })
    }

    fn finish_trailers(&mut self) -> Result<(), Why> {
        if self.trailer_fields == 0 {
            return Ok(());
        }
        self.trailer_bytes.extend_from_slice(b"\r\n");
        // Parsed as the field section of a response, behind a fixed status line, by
        // the head parser: obs-fold is replaced with spaces as in the head (RFC 9112
        // §5.2); a fold on the first line has nothing to continue and stays an error.
        let mut message = Vec::with_capacity(TRAILER_STATUS_LINE.len() + self.trailer_bytes.len());
        message.extend_from_slice(TRAILER_STATUS_LINE);
        message.extend_from_slice(&self.trailer_bytes);
        // The head parser's rules exactly: obs-fold unfolded, names and values
        // checked, `http`'s field cap as an error rather than a panic.
        let limits = Limits {
            max_head_bytes: message.len(),
            max_headers: self.trailer_fields,
            ..Limits::default()
        };
        // What was wrong, not the section's bytes: a trailer may carry a `Set-Cookie`
        // or a credential, and this message reaches logs.
        let map = match parse_response_head(&message, &limits) {
            Ok(Some((head, _))) => head.headers,
            Ok(None) => {
                return Err(Why::Trailers(
                    "malformed trailer section (its end is missing)".to_owned(),
                ));
            }
            Err(e) => {
                return Err(Why::Trailers(format!(
                    "malformed trailer section ({} bytes): {}",
                    self.trailer_bytes.len(),
                    e.kind()
                )));
            }
        };
        self.trailers = Some(map);
        self.trailer_bytes = Vec::new();
        Ok(())
    }
}

/// The status line the trailer section is parsed behind (see `finish_trailers`).
const TRAILER_STATUS_LINE: &[u8] = b"HTTP/1.1 200 T\r\n";

/// Why a framing byte was refused; turned into an [`Error`] with the position.
enum Why {
    Byte(u8, &'static str),
    Overflow,
    LineTooLong,
    Delimiter(u8),
    End(u8),
    Trailers(String),
}

fn hex(b: u8) -> Option<u64> {
    char::from(b).to_digit(16).map(u64::from)
}

/// `qdtext` (RFC 9110 §5.6.4): HTAB, SP, VCHAR but `"` and `\`, obs-text.
fn is_qdtext(b: u8) -> bool {
    matches!(b, b'\t' | b' ' | 0x21 | 0x23..=0x5b | 0x5d..=0x7e | 0x80..=0xff)
}

#[cfg(test)]
#[path = "chunked_tests.rs"]
mod tests;
