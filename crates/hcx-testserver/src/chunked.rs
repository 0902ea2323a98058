//! An incremental decoder of chunked request bodies (RFC 9112 §7.1), sans-IO: it eats
//! bytes from the front of the read buffer and says when the body, trailers included,
//! is complete.

use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, HeaderName, HeaderValue};

/// Where the decoder stands.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum State {
    /// Expecting a chunk-size line (size, optional extensions).
    Size,
    /// Inside chunk data, this many bytes left.
    Data(u64),
    /// Expecting the CRLF that ends chunk data.
    DataEnd,
    /// Expecting a trailer field line or the final empty line.
    Trailers,
    /// The body is complete.
    Done,
}

/// Decodes one chunked body.
#[derive(Debug)]
pub(crate) struct ChunkedDecoder {
    state: State,
    body: BytesMut,
    trailers: HeaderMap,
    trailer_bytes: usize,
    max_body: usize,
    max_line: usize,
}

impl ChunkedDecoder {
    /// A decoder that refuses bodies over `max_body` bytes and size or trailer lines
    /// (extensions included) over `max_line` bytes.
    pub(crate) fn new(max_body: usize, max_line: usize) -> Self {
        ChunkedDecoder {
            state: State::Size,
            body: BytesMut::new(),
            trailers: HeaderMap::new(),
            trailer_bytes: 0,
            max_body,
            max_line,
        }
    }

    /// Consumes what it can from the front of `buf`. `Ok(true)`: the body is complete
    /// and any bytes left in `buf` belong to the next request.
    pub(crate) fn decode(&mut self, buf: &mut BytesMut) -> Result<bool, String> {
        loop {
            match self.state {
                State::Done => return Ok(true),
                State::Size => {
                    let Some(line) = self.take_line(buf, "chunk size")? else {
                        return Ok(false);
                    };
                    let size = parse_size_line(&line)?;
                    let total = (self.body.len() as u64).saturating_add(size);
                    if total > self.max_body as u64 {
                        return Err(format!(
                            "chunked body exceeds the limit of {} bytes",
                            self.max_body
                        ));
                    }
                    self.state = if size == 0 {
                        State::Trailers
                    } else {
                        State::Data(size)
                    };
                }
                State::Data(left) => {
                    if buf.is_empty() {
                        return Ok(false);
                    }
                    let n = usize::try_from(left).unwrap_or(usize::MAX).min(buf.len());
                    self.body.extend_from_slice(&buf[..n]);
                    buf.advance(n);
                    let left = left - n as u64;
                    self.state = if left == 0 {
                        State::DataEnd
                    } else {
                        State::Data(left)
                    };
                }
                State::DataEnd => match buf.first() {
                    None => return Ok(false),
                    Some(b'\n') => {
                        buf.advance(1);
                        self.state = State::Size;
                    }
                    Some(b'\r') if buf.len() < 2 => return Ok(false),
                    Some(b'\r') if buf[1] == b'\n' => {
                        buf.advance(2);
                        self.state = State::Size;
                    }
                    Some(_) => return Err(String::from("chunk data not followed by CRLF")),
                },
                State::Trailers => {
                    let Some(line) = self.take_line(buf, "trailer")? else {
                        return Ok(false);
                    };
                    if line.is_empty() {
                        self.state = State::Done;
                        continue;
                    }
                    self.trailer_bytes += line.len();
                    if self.trailer_bytes > self.max_line {
                        return Err(format!(
                            "trailer section exceeds the limit of {} bytes",
                            self.max_line
                        ));
                    }
                    let (name, value) = parse_field_line(&line)?;
                    self.trailers
                        .try_append(name, value)
                        .map_err(|_| "more trailer fields than a HeaderMap holds".to_string())?;
                }
            }
        }
    }

    /// The decoded body and trailers. Meaningful once [`decode`](Self::decode) said done.
    pub(crate) fn finish(self) -> (Bytes, HeaderMap) {
        (self.body.freeze(), self.trailers)
    }

    /// Takes one line (without its CRLF or bare LF) off `buf`, or `None` if it has not
    /// all arrived.
    fn take_line(&self, buf: &mut BytesMut, what: &str) -> Result<Option<Bytes>, String> {
        match buf.iter().position(|&b| b == b'\n') {
            Some(end) if end > self.max_line => Err(too_long(what, self.max_line)),
            Some(end) => {
                let mut line = buf.split_to(end + 1).freeze();
                line.truncate(end);
                if line.last() == Some(&b'\r') {
                    line.truncate(end - 1);
                }
                Ok(Some(line))
            }
            None if buf.len() > self.max_line => Err(too_long(what, self.max_line)),
            None => Ok(None),
        }
    }
}

fn too_long(what: &str, max: usize) -> String {
    format!("{what} line longer than {max} bytes")
}

/// `chunk-size [ BWS ";" chunk-ext ]`: the size in hex. Extensions are accepted as
/// they come (the server only has to skip them).
fn parse_size_line(line: &[u8]) -> Result<u64, String> {
    let digits = line.iter().take_while(|b| b.is_ascii_hexdigit()).count();
    if digits == 0 {
        return Err(format!(
            "invalid chunk size line {:?}",
            String::from_utf8_lossy(line)
        ));
    }
    let mut size: u64 = 0;
    for &b in &line[..digits] {
        let digit = u64::from(char::from(b).to_digit(16).unwrap_or(0));
        size = size
            .checked_mul(16)
            .and_then(|s| s.checked_add(digit))
            .ok_or_else(|| String::from("chunk size overflows 64 bits"))?;
    }
    let rest = &line[digits..];
    let rest_start = rest
        .iter()
        .position(|b| !matches!(b, b' ' | b'\t'))
        .unwrap_or(rest.len());
    match rest.get(rest_start) {
        None | Some(b';') => Ok(size),
        Some(_) => Err(format!(
            "invalid chunk size line {:?}",
            String::from_utf8_lossy(line)
        )),
    }
}

/// `name ":" OWS value OWS`.
fn parse_field_line(line: &[u8]) -> Result<(HeaderName, HeaderValue), String> {
    let bad = || format!("invalid trailer line {:?}", String::from_utf8_lossy(line));
    let colon = line.iter().position(|&b| b == b':').ok_or_else(bad)?;
    let name = HeaderName::from_bytes(&line[..colon]).map_err(|_| bad())?;
    let value = line[colon + 1..].trim_ascii();
    let value = HeaderValue::from_bytes(value).map_err(|_| bad())?;
    Ok((name, value))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode_all(input: &[u8]) -> Result<(Bytes, HeaderMap, BytesMut), String> {
        let mut decoder = ChunkedDecoder::new(1024, 256);
        let mut buf = BytesMut::from(input);
        if !decoder.decode(&mut buf)? {
            return Err(String::from("incomplete"));
        }
        let (body, trailers) = decoder.finish();
        Ok((body, trailers, buf))
    }

    #[test]
    fn decodes_chunks_extensions_and_trailers_leaving_the_rest() {
        let input = b"5;name=\"quoted;value\"\r\nhello\r\n6 ; x\r\n world\r\n0\r\nX-Sum: 42\r\nX-B:  b \r\n\r\nNEXT";
        let (body, trailers, rest) = decode_all(input).unwrap();
        assert_eq!(&body[..], b"hello world");
        assert_eq!(trailers["x-sum"], "42");
        assert_eq!(trailers["x-b"], "b");
        assert_eq!(&rest[..], b"NEXT");
    }

    #[test]
    fn decodes_byte_by_byte() {
        let input = b"A\r\n0123456789\r\n0\r\n\r\n";
        let mut decoder = ChunkedDecoder::new(1024, 256);
        let mut buf = BytesMut::new();
        let mut done = false;
        for &b in input.iter() {
            assert!(!done, "finished early");
            buf.extend_from_slice(&[b]);
            done = decoder.decode(&mut buf).unwrap();
        }
        assert!(done);
        assert_eq!(&decoder.finish().0[..], b"0123456789");
    }

    #[test]
    fn accepts_bare_lf_line_endings() {
        let (body, _, _) = decode_all(b"2\nab\n0\n\n").unwrap();
        assert_eq!(&body[..], b"ab");
    }

    #[test]
    fn rejects_bad_input() {
        let cases: &[&[u8]] = &[
            b"zz\r\n",
            b"5x\r\nhello\r\n0\r\n\r\n",
            b"2\r\nabX\r\n0\r\n\r\n",
            b"11111111111111111\r\n",
            b"401\r\n",
            b"0\r\nno colon\r\n\r\n",
        ];
        for input in cases {
            assert!(
                decode_all(input).is_err(),
                "accepted {:?}",
                String::from_utf8_lossy(input)
            );
        }
    }

    #[test]
    fn long_size_lines_are_errors_before_their_end_arrives() {
        let mut decoder = ChunkedDecoder::new(1024, 16);
        let mut buf = BytesMut::from(&b"1;aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa"[..]);
        assert!(
            decoder
                .decode(&mut buf)
                .unwrap_err()
                .contains("longer than 16")
        );
    }
}
