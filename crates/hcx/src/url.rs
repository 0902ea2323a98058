//! What `Client::get` and friends accept as a URL.

use http::Uri;

use crate::Error;
use hcx_exec::{ErrorKind, authority_start, redact_userinfo};

/// A URL for [`Client::get`](crate::Client::get) and the other shortcuts: `&str`,
/// `String`, `&String`, [`http::Uri`] or `&Uri`. A text that does not parse is an
/// [`ErrorKind::InvalidUrl`] error that shows it; a text without its `http://` or
/// `https://` (`localhost:8080/x`) is one that says so and what to write instead.
/// (reqwest calls this `IntoUrl`.)
pub trait IntoUri: sealed::Sealed {
    /// The parsed URI, or an error that names the text.
    fn into_uri(self) -> Result<Uri, Error>;
}

fn parse(text: &str) -> Result<Uri, Error> {
    if let Some(error) = without_scheme(text) {
        return Err(error);
    }
    text.parse::<Uri>().map_err(|e| {
        let shown = redact_userinfo(text);
        Error::new(ErrorKind::InvalidUrl, format!("invalid URL {shown:?}")).with_source(e)
    })
}

/// The error of a text with no `scheme://` in front, which `http` reads as an
/// authority (`localhost:8080`) or refuses as "invalid format" (`localhost:8080/x`),
/// and Apache's `URI.create` takes with `localhost` for its scheme. `None` for a text
/// with a scheme, or with `http:`/`https:` and its slashes wrong (the parser says why).
fn without_scheme(text: &str) -> Option<Error> {
    if authority_start(text) > 2 {
        return None;
    }
    let scheme = text.split_once(':').map(|(scheme, _)| scheme);
    if scheme.is_some_and(|s| s.eq_ignore_ascii_case("http") || s.eq_ignore_ascii_case("https")) {
        return None;
    }
    let shown = redact_userinfo(text);
    let rest = text.strip_prefix("//").unwrap_or(text);
    // The text with `http://` in front, when that makes a URL (`/x` has no host).
    let write = match format!("http://{rest}").parse::<Uri>() {
        Ok(uri) if !rest.starts_with('/') && uri.host().is_some_and(|h| !h.is_empty()) => {
            format!("http://{}", redact_userinfo(rest))
        }
        _ => "http://HOST/PATH".to_owned(),
    };
    Some(Error::new(
        ErrorKind::InvalidUrl,
        format!("URL without a scheme: {shown:?} (write {write} or https://…)"),
    ))
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
    if !hcx_h1::syntax::contains_byte(authority.as_bytes(), b'@') {
        return None;
    }
    let at = authority.bytes().rposition(|b| b == b'@')?;
    let host = &authority[at + 1..];
    let mut parts = uri.clone().into_parts();
    parts.authority = Some(host.parse().ok()?);
    Uri::from_parts(parts).ok()
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
