//! The framing fields, `Content-Length` and `Transfer-Encoding`, read the same way by
//! the request encoder and the response framing.

use http::HeaderMap;
use http::header::{CONTENT_LENGTH, TRANSFER_ENCODING};

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
    let mut found: Option<u64> = None;
    for value in headers.get_all(CONTENT_LENGTH) {
        for element in value.as_bytes().split(|&b| b == b',') {
            let n = parse_decimal(trim_ows(element)).ok_or_else(|| {
                ContentLengthError::Invalid(ShowBytes(value.as_bytes()).to_string())
            })?;
            match found {
                Some(previous) if previous != n => {
                    return Err(ContentLengthError::Conflicting(previous, n));
                }
                _ => found = Some(n),
            }
        }
    }
    Ok(found)
}

/// Checks that the `Transfer-Encoding` fields, read as one list, end in `chunked`
/// and apply it once (RFC 9112 §6.1: "A sender MUST NOT apply the chunked transfer
/// coding more than once"). `Ok(false)` when there is no such field; the error
/// message says what is wrong.
pub(crate) fn transfer_encoding_is_chunked(headers: &HeaderMap) -> Result<bool, String> {
    let mut present = false;
    let mut chunked_count = 0usize;
    let mut last: &[u8] = b"";
    for value in headers.get_all(TRANSFER_ENCODING) {
        present = true;
        // RFC 9110 §5.6.1: empty list elements are allowed and do not count.
        for element in value.as_bytes().split(|&b| b == b',') {
            let element = trim_ows(element);
            if element.is_empty() {
                continue;
            }
            if element.eq_ignore_ascii_case(b"chunked") {
                chunked_count += 1;
            }
            last = element;
        }
    }
    if !present {
        return Ok(false);
    }
    if !last.eq_ignore_ascii_case(b"chunked") {
        return Err(format!(
            "Transfer-Encoding does not end in chunked (final coding {})",
            ShowBytes(last)
        ));
    }
    if chunked_count > 1 {
        return Err(format!(
            "Transfer-Encoding applies chunked {chunked_count} times"
        ));
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

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
            let got = transfer_encoding_is_chunked(&headers);
            assert_eq!(got, expected.map_err(String::from), "values {values:?}");
        }
    }
}
