//! The framing fields, `Content-Length` and `Transfer-Encoding`, read the same way by
//! the request encoder and the response framing.

use http::header::CONTENT_LENGTH;
use http::{HeaderMap, HeaderValue};

use crate::error::ShowBytes;
use crate::syntax::{parse_decimal, trim_ows};

/// Why the `Content-Length` fields cannot be used.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum ContentLengthError {
    /// A value that is not `1*DIGIT` or overflows `u64`; the message shows it.
    Invalid(String),
    /// Two different values.
    Conflicting(u64, u64),
}

/// Reads every `Content-Length` field: `Ok(None)` when there is none.
///
/// RFC 9110 §8.6 lets a recipient accept a repeated identical value
/// (`Content-Length: 5` twice, or `5, 5` from a proxy that combined them) as one;
/// hcx does. Values are compared as numbers, so `05` and `5` agree: they frame the
/// same body. Anything but `1*DIGIT` between optional whitespace is invalid, including
/// a sign, an empty value and an empty list element.
pub(crate) fn content_length(headers: &HeaderMap) -> Result<Option<u64>, ContentLengthError> {
    let mut length = ContentLength::default();
    for value in headers.get_all(CONTENT_LENGTH) {
        length.add(value);
    }
    length.result()
}

/// The `Content-Length` field lines of a message fed one at a time, in order, for a
/// caller that walks all its fields once rather than looking each name up: the same
/// verdict as [`content_length`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct ContentLength {
    /// Whether any line came, valid or not.
    present: bool,
    /// The verdict so far; the first error stands.
    result: Result<Option<u64>, ContentLengthError>,
}

impl Default for ContentLength {
    fn default() -> Self {
        ContentLength {
            present: false,
            result: Ok(None),
        }
    }
}

impl ContentLength {
    /// Reads one more field line.
    pub(crate) fn add(&mut self, value: &HeaderValue) {
        self.present = true;
        let Ok(found) = self.result else {
            return;
        };
        self.result = Self::check(found, value);
    }

    /// The verdict after one more line, given the length the lines before gave.
    fn check(
        mut found: Option<u64>,
        value: &HeaderValue,
    ) -> Result<Option<u64>, ContentLengthError> {
        // The usual value is one number alone: nothing to split or trim. Anything else
        // (a list, whitespace, a bad value) is read element by element below.
        if let Some(n) = parse_decimal(value.as_bytes()) {
            return Self::agree(found, n);
        }
        for element in value.as_bytes().split(|&b| b == b',') {
            let n = parse_decimal(trim_ows(element)).ok_or_else(|| {
                ContentLengthError::Invalid(ShowBytes(value.as_bytes()).to_string())
            })?;
            found = Self::agree(found, n)?;
        }
        Ok(found)
    }

    /// `n` as the length, if it agrees with the length found before (if any).
    fn agree(found: Option<u64>, n: u64) -> Result<Option<u64>, ContentLengthError> {
        match found {
            Some(previous) if previous != n => Err(ContentLengthError::Conflicting(previous, n)),
            _ => Ok(Some(n)),
        }
    }

    /// Whether any `Content-Length` line came, valid or not.
    pub(crate) fn present(&self) -> bool {
        self.present
    }

    /// The length the lines give: `Ok(None)` when there was none.
    pub(crate) fn result(self) -> Result<Option<u64>, ContentLengthError> {
        self.result
    }
}

/// The `Transfer-Encoding` field lines of a message, fed one at a time in order, read
/// as one list: [`is_chunked`](Self::is_chunked) checks that they end in `chunked` and
/// apply it once (RFC 9112 §6.1: "A sender MUST NOT apply the chunked transfer coding
/// more than once").
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct TransferCodings<'a> {
    present: bool,
    chunked_count: usize,
    last: &'a [u8],
}

impl<'a> TransferCodings<'a> {
    /// Reads one more field line.
    pub(crate) fn add(&mut self, value: &'a HeaderValue) {
        self.present = true;
        // RFC 9110 §5.6.1: empty list elements are allowed and do not count.
        for element in value.as_bytes().split(|&b| b == b',') {
            let element = trim_ows(element);
            if element.is_empty() {
                continue;
            }
            if element.eq_ignore_ascii_case(b"chunked") {
                self.chunked_count += 1;
            }
            self.last = element;
        }
    }

    /// Whether any `Transfer-Encoding` line came.
    pub(crate) fn present(&self) -> bool {
        self.present
    }

    /// `Ok(true)` when the codings end in a single `chunked`, `Ok(false)` when there
    /// was no line, else what is wrong.
    pub(crate) fn is_chunked(&self) -> Result<bool, String> {
        if !self.present {
            return Ok(false);
        }
        if !self.last.eq_ignore_ascii_case(b"chunked") {
            return Err(format!(
                "Transfer-Encoding does not end in chunked (final coding {})",
                ShowBytes(self.last)
            ));
        }
        if self.chunked_count > 1 {
            return Err(format!(
                "Transfer-Encoding applies chunked {} times",
                self.chunked_count
            ));
        }
        Ok(true)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::header::TRANSFER_ENCODING;

    fn map(name: http::HeaderName, values: &[&str]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for v in values {
            headers.append(name.clone(), HeaderValue::from_str(v).unwrap());
        }
        headers
    }

    type Case = (
        &'static [&'static str],
        Result<Option<u64>, ContentLengthError>,
    );

    #[test]
    fn content_length_table() {
        use ContentLengthError::*;
        let cases: &[Case] = &[
            (&[], Ok(None)),
            (&["0"], Ok(Some(0))),
            (&["42"], Ok(Some(42))),
            (&[" 42\t"], Ok(Some(42))),
            (&["007"], Ok(Some(7))),
            (&["18446744073709551615"], Ok(Some(u64::MAX))),
            (&["5", "5"], Ok(Some(5))),
            (&["5, 5"], Ok(Some(5))),
            (&["5,05"], Ok(Some(5))),
            (&["5", "6"], Err(Conflicting(5, 6))),
            // A number alone and a list, either way round, agree or conflict alike.
            (&["5", " 5"], Ok(Some(5))),
            (&["05, 5", "5"], Ok(Some(5))),
            (&["5", "6, 6"], Err(Conflicting(5, 6))),
            (&["6, 6", "5"], Err(Conflicting(6, 5))),
            (&["5, 6"], Err(Conflicting(5, 6))),
            (&[""], Err(Invalid(r#""""#.into()))),
            (&["+5"], Err(Invalid(r#""+5""#.into()))),
            (&["-1"], Err(Invalid(r#""-1""#.into()))),
            (&["0x10"], Err(Invalid(r#""0x10""#.into()))),
            (&["5 5"], Err(Invalid(r#""5 5""#.into()))),
            (&["5,"], Err(Invalid(r#""5,""#.into()))),
            (&["1e3"], Err(Invalid(r#""1e3""#.into()))),
            (
                &["18446744073709551616"],
                Err(Invalid(r#""18446744073709551616""#.into())),
            ),
            (&["5", "abc"], Err(Invalid(r#""abc""#.into()))),
        ];
        for (values, expected) in cases {
            let headers = map(CONTENT_LENGTH, values);
            assert_eq!(&content_length(&headers), expected, "values {values:?}");
        }
    }

    #[test]
    fn transfer_encoding_table() {
        let cases: &[(&[&str], Result<bool, &str>)] = &[
            (&[], Ok(false)),
            (&["chunked"], Ok(true)),
            (&["Chunked"], Ok(true)),
            (&["gzip, chunked"], Ok(true)),
            (&["gzip", "chunked"], Ok(true)),
            (&["chunked, "], Ok(true)),
            (
                &[""],
                Err(r#"Transfer-Encoding does not end in chunked (final coding "")"#),
            ),
            (
                &["gzip"],
                Err(r#"Transfer-Encoding does not end in chunked (final coding "gzip")"#),
            ),
            (
                &["chunked, gzip"],
                Err(r#"Transfer-Encoding does not end in chunked (final coding "gzip")"#),
            ),
            (
                &["chunked", "identity"],
                Err(r#"Transfer-Encoding does not end in chunked (final coding "identity")"#),
            ),
            (
                &["chunked;q=1"],
                Err(r#"Transfer-Encoding does not end in chunked (final coding "chunked;q=1")"#),
            ),
            (
                &["chunked, chunked"],
                Err("Transfer-Encoding applies chunked 2 times"),
            ),
        ];
        for (values, expected) in cases {
            let headers = map(TRANSFER_ENCODING, values);
            let mut codings = TransferCodings::default();
            for value in headers.get_all(TRANSFER_ENCODING) {
                codings.add(value);
            }
            let got = codings.is_chunked();
            assert_eq!(got, expected.map_err(String::from), "values {values:?}");
        }
    }
}
