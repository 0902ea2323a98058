//! What `Client::get` and friends accept as a URL.

use http::Uri;

use crate::Error;
use hcx_exec::{ErrorKind, redact_userinfo};

/// A URL for [`Client::get`](crate::Client::get) and the other shortcuts: `&str`,
/// `String`, `&String`, [`http::Uri`] or `&Uri`. A text that does not parse is an
/// [`ErrorKind::InvalidUrl`] error that shows it. (reqwest calls this `IntoUrl`.)
pub trait IntoUri: sealed::Sealed {
    /// The parsed URI, or an error that names the text.
    fn into_uri(self) -> Result<Uri, Error>;
}

fn parse(text: &str) -> Result<Uri, Error> {
    text.parse::<Uri>().map_err(|e| {
        let shown = redact_userinfo(text);
        Error::new(ErrorKind::InvalidUrl, format!("invalid URL {shown:?}")).with_source(e)
    })
}

/// `uri` without the `user:password@` of its authority, or `None` when it has none.
/// hcx never sends a URL's userinfo (credentials come from a credentials provider), so
/// the client takes it out where a URI comes in: no error, event or log line shows it.
// Inlined into `execute_in` (measured: out of line, with the second caller REDIRECT
// gained, the request path ran ~20 instructions more; docs/benchmarks.md, Session 14).
#[inline(always)]
pub(crate) fn strip_userinfo(uri: &Uri) -> Option<Uri> {
    let authority = uri.authority()?.as_str();
    // On every request: eight bytes at a time, no searcher set-up; the byte loop only
    // for an authority that has userinfo.
    if !has_at(authority.as_bytes()) {
        return None;
    }
    let at = authority.bytes().rposition(|b| b == b'@')?;
    let host = &authority[at + 1..];
    let mut parts = uri.clone().into_parts();
    parts.authority = Some(host.parse().ok()?);
    Uri::from_parts(parts).ok()
}

/// Whether `bytes` holds an `@`, read eight bytes at a time (a byte loop took ~7
/// instructions a byte, ~100 for `127.0.0.1:18091`, on every request). A byte of
/// `word ^ AT` is zero where `word` has an `@`, and `x - ONES & !x & HIGHS` is not
/// zero exactly when some byte of `x` is zero. The last word overlaps the one before
/// it, so no byte is left for a loop.
#[inline]
fn has_at(bytes: &[u8]) -> bool {
    const ONES: u64 = u64::from_ne_bytes([0x01; 8]);
    const HIGHS: u64 = u64::from_ne_bytes([0x80; 8]);
    const AT: u64 = u64::from_ne_bytes([b'@'; 8]);
    let Some(last) = bytes.len().checked_sub(8) else {
        return bytes.contains(&b'@');
    };
    let word_has_at = |start: usize| {
        bytes
            .get(start..start + 8)
            .and_then(|word| <[u8; 8]>::try_from(word).ok())
            .is_some_and(|word| {
                let x = u64::from_ne_bytes(word) ^ AT;
                x.wrapping_sub(ONES) & !x & HIGHS != 0
            })
    };
    (0..last).step_by(8).any(word_has_at) || word_has_at(last)
}

impl IntoUri for &str {
    fn into_uri(self) -> Result<Uri, Error> {
        parse(self)
    }
}

impl IntoUri for String {
    fn into_uri(self) -> Result<Uri, Error> {
        parse(&self)
    }
}

impl IntoUri for &String {
    fn into_uri(self) -> Result<Uri, Error> {
        parse(self)
    }
}

impl IntoUri for Uri {
    fn into_uri(self) -> Result<Uri, Error> {
        Ok(self)
    }
}

impl IntoUri for &Uri {
    fn into_uri(self) -> Result<Uri, Error> {
        Ok(self.clone())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for &str {}
    impl Sealed for String {}
    impl Sealed for &String {}
    impl Sealed for http::Uri {}
    impl Sealed for &http::Uri {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn has_at_finds_an_at_sign_at_any_place_in_any_length() {
        for len in 0..=40 {
            let plain = vec![b'a'; len];
            assert!(!has_at(&plain), "none in {len} bytes");
            for place in 0..len {
                let mut bytes = plain.clone();
                bytes[place] = b'@';
                assert!(has_at(&bytes), "at {place} of {len}");
                // Bytes next to `@` (0x3f, 0x41) and with the high bit set are not it.
                for other in [0x3f, 0x41, 0xc0, 0x80, 0x00, 0xff] {
                    bytes[place] = other;
                    assert!(!has_at(&bytes), "{other:#x} at {place} of {len}");
                }
            }
        }
        assert!(!has_at(b"127.0.0.1:18091"));
        assert!(has_at(b"user:pw@127.0.0.1:18091"));
    }

    #[test]
    fn userinfo_is_taken_out_of_any_authority() -> Result<(), Box<dyn std::error::Error>> {
        let uri: Uri = "http://user:pw@example.com:8080/a?b".parse()?;
        let clean = strip_userinfo(&uri).ok_or("userinfo is taken out")?;
        assert_eq!(clean.to_string(), "http://example.com:8080/a?b");
        let uri: Uri = "http://u@h/".parse()?;
        assert_eq!(
            strip_userinfo(&uri).map(|u| u.to_string()).as_deref(),
            Some("http://h/")
        );
        for plain in [
            "http://example.com:8080/a",
            "http://h/",
            "http://127.0.0.1:18091/small",
        ] {
            assert!(strip_userinfo(&plain.parse()?).is_none(), "{plain}");
        }
        Ok(())
    }

    #[test]
    fn a_bad_url_is_shown_in_the_error() {
        let error = "http://exa mple.com/".into_uri().err();
        let error = error.expect("a space is not allowed in a URL");
        assert_eq!(error.kind(), ErrorKind::InvalidUrl);
        assert!(
            error.to_string().contains("http://exa mple.com/"),
            "{error}"
        );
        let ok = String::from("http://example.com/a").into_uri();
        assert_eq!(ok.map(|u| u.path().to_string()).ok().as_deref(), Some("/a"));
    }
}
