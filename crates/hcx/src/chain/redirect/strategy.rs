//! Which responses are redirects and where they lead: [`RedirectStrategy`], its
//! default [`DefaultRedirectStrategy`], and the resolution of a `Location` against
//! the request URI (RFC 3986 §5).

use hcx_exec::{Error, ErrorKind, ResponseBody, redact_userinfo};
use http::header::{self, HeaderMap};
use http::{Request, Response, StatusCode, Uri};
use url::Url;

use crate::chain::Context;

/// Decides which responses are redirects and where they lead. Apache HttpClient 5:
/// `RedirectStrategy`.
///
/// The REDIRECT element asks it about every response; what happens to the method, the
/// body and the headers of the next hop, and the limits, are the element's. Wrap
/// [`DefaultRedirectStrategy`] to change one decision and keep the rest:
///
/// ```
/// use hcx::chain::{Context, DefaultRedirectStrategy, RedirectStrategy};
/// use hcx::http::{Request, Response, Uri};
/// use hcx::{Error, ResponseBody};
///
/// /// Follows redirects only within the host of the request.
/// struct SameHostOnly;
///
/// impl RedirectStrategy for SameHostOnly {
///     fn is_redirected(
///         &self,
///         request: &Request<()>,
///         response: &Response<ResponseBody>,
///         context: &Context,
///     ) -> bool {
///         DefaultRedirectStrategy.is_redirected(request, response, context)
///             && self
///                 .location(request, response, context)
///                 .is_ok_and(|to| to.host() == request.uri().host())
///     }
///
///     fn location(
///         &self,
///         request: &Request<()>,
///         response: &Response<ResponseBody>,
///         context: &Context,
///     ) -> Result<Uri, Error> {
///         DefaultRedirectStrategy.location(request, response, context)
///     }
/// }
///
/// let client = hcx::Client::builder().redirect_strategy(SameHostOnly).build()?;
/// # Ok::<(), hcx::Error>(())
/// ```
pub trait RedirectStrategy: Send + Sync {
    /// Whether `response`, the answer to `request` (the current hop: its method, URI,
    /// version and headers), is a redirect to follow. Apache: `isRedirected`.
    fn is_redirected(
        &self,
        request: &Request<()>,
        response: &Response<ResponseBody>,
        context: &Context,
    ) -> bool;

    /// Where the redirect leads: an absolute URI (a relative `Location` resolved
    /// against `request.uri()`). Asked only when
    /// [`is_redirected`](Self::is_redirected) said yes; an error
    /// ([`ErrorKind::Redirect`]) ends the execution. Apache: `getLocationURI`.
    fn location(
        &self,
        request: &Request<()>,
        response: &Response<ResponseBody>,
        context: &Context,
    ) -> Result<Uri, Error>;
}

/// The default [`RedirectStrategy`]: `301`, `302`, `303`, `307` and `308` responses
/// with a `Location` header are redirects (`300`, `304` and `305` are not); the first
/// `Location` is resolved against the request URI (RFC 3986 §5.2) and normalized (dot
/// segments removed, scheme and host lowercase, the fragment dropped). Apache
/// HttpClient 5: `DefaultRedirectStrategy`.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultRedirectStrategy;

impl RedirectStrategy for DefaultRedirectStrategy {
    fn is_redirected(
        &self,
        _request: &Request<()>,
        response: &Response<ResponseBody>,
        _context: &Context,
    ) -> bool {
        is_redirect(response.status(), response.headers())
    }

    fn location(
        &self,
        request: &Request<()>,
        response: &Response<ResponseBody>,
        _context: &Context,
    ) -> Result<Uri, Error> {
        location(request.uri(), response.status(), response.headers())
    }
}

fn is_redirect(status: StatusCode, headers: &HeaderMap) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308) && headers.contains_key(header::LOCATION)
}

/// The first `Location` of a `status` response to a request for `base`, resolved.
fn location(base: &Uri, status: StatusCode, headers: &HeaderMap) -> Result<Uri, Error> {
    let value = headers.get(header::LOCATION).ok_or_else(|| {
        Error::new(
            ErrorKind::Redirect,
            format!("the {status} response from {base} has no Location header"),
        )
    })?;
    // Servers do send raw UTF-8 in Location; the URL parser percent-encodes it.
    let text = std::str::from_utf8(value.as_bytes()).map_err(|e| {
        let lossy = String::from_utf8_lossy(value.as_bytes());
        let shown = redact_userinfo(&lossy);
        Error::new(
            ErrorKind::Redirect,
            format!("the Location {shown:?} of the {status} response from {base} is not UTF-8"),
        )
        .with_source(e)
    })?;
    resolve(base, text).map_err(|(why, e)| {
        let shown = redact_userinfo(text);
        Error::new(
            ErrorKind::Redirect,
            format!("invalid Location {shown:?} in the {status} response from {base}: {why}"),
        )
        .with_source(e)
    })
}

type Why = (&'static str, Box<dyn std::error::Error + Send + Sync>);

/// `reference` resolved against `base` (RFC 3986 §5.2, as the WHATWG URL parser does
/// it), without fragment: a fragment is never sent, and two locations that differ
/// only by one are the same resource.
fn resolve(base: &Uri, reference: &str) -> Result<Uri, Why> {
    let base =
        Url::parse(&base.to_string()).map_err(|e| ("the request URI is not absolute", e.into()))?;
    let mut url = base
        .join(reference)
        .map_err(|e| ("not a URI reference", e.into()))?;
    // `mailto:`, `javascript:`, `about:` and the like name no host to send to; `Uri`
    // would misread them (`mailto:a@b` as the authority `a@b` without a scheme).
    if !url.has_host() {
        return Err((
            "not a URI a request can be sent to",
            "it has no host".into(),
        ));
    }
    url.set_fragment(None);
    // A Location's userinfo is never sent (nor shown in events and errors after).
    let _ = url.set_username("");
    let _ = url.set_password(None);
    url.as_str()
        .parse::<Uri>()
        .map_err(|e| ("not a URI a request can be sent to", e.into()))
}

#[cfg(test)]
mod tests {
    use super::super::tests::uri;
    use super::*;
    use http::HeaderValue;

    fn with_location(value: &'static [u8]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        match HeaderValue::from_bytes(value) {
            Ok(v) => headers.insert(header::LOCATION, v),
            Err(e) => panic!("{value:?} is a valid header value: {e}"),
        };
        headers
    }

    #[test]
    fn references_resolve_as_rfc_3986_section_5_4_says() {
        // RFC 3986 §5.4.1 and §5.4.2, with the fragment dropped and the empty path of
        // an authority-only result written as "/".
        let base = uri("http://a/b/c/d;p?q");
        let cases = [
            ("g", "http://a/b/c/g"),
            ("./g", "http://a/b/c/g"),
            ("g/", "http://a/b/c/g/"),
            ("/g", "http://a/g"),
            ("//g", "http://g/"),
            ("?y", "http://a/b/c/d;p?y"),
            ("g?y", "http://a/b/c/g?y"),
            ("#s", "http://a/b/c/d;p?q"),
            ("g#s", "http://a/b/c/g"),
            (";x", "http://a/b/c/;x"),
            ("", "http://a/b/c/d;p?q"),
            (".", "http://a/b/c/"),
            ("..", "http://a/b/"),
            ("../g", "http://a/b/g"),
            ("../..", "http://a/"),
            ("../../g", "http://a/g"),
            ("../../../g", "http://a/g"),
            ("/./g", "http://a/g"),
            ("g/../h", "http://a/b/c/h"),
            ("http://Other:8080/X", "http://other:8080/X"),
            ("/a b/ü", "http://a/a%20b/%C3%BC"),
        ];
        for (reference, expected) in cases {
            let got = resolve(&base, reference).map(|u| u.to_string());
            assert_eq!(got.ok().as_deref(), Some(expected), "{reference:?}");
        }
    }

    #[test]
    fn references_are_read_leniently_as_browsers_read_them() {
        // What the module docs promise: a backslash is a slash in an http reference,
        // a tab is dropped (Apache's java.net.URI refuses both).
        let base = uri("http://a/b/c");
        for (reference, expected) in [
            ("/\\evil.example/x", "http://evil.example/x"),
            ("\\x\\y", "http://a/x/y"),
            ("/p\tq", "http://a/pq"),
        ] {
            let got = resolve(&base, reference).map(|u| u.to_string());
            assert_eq!(got.ok().as_deref(), Some(expected), "{reference:?}");
        }
    }

    #[test]
    fn an_unparsable_location_is_a_redirect_error_that_shows_it() {
        let base = uri("http://h/a");
        let found = StatusCode::FOUND;
        for bad in [
            &b"http://exa mple.com/"[..],
            b"http://[oops/",
            b"http://h:99999/",
            b"javascript:alert(1)",
            b"about:blank",
        ] {
            let error = location(&base, found, &with_location(bad)).err();
            let error = error.unwrap_or_else(|| panic!("{bad:?} should not resolve"));
            assert_eq!(error.kind(), ErrorKind::Redirect);
            let shown = String::from_utf8_lossy(bad);
            assert!(error.to_string().contains(&*shown), "{error}");
            assert!(error.to_string().contains("http://h/a"), "{error}");
        }
        let latin1 = location(&base, found, &with_location(b"/caf\xe9")).err();
        assert!(latin1.is_some_and(
            |e| e.kind() == ErrorKind::Redirect && e.to_string().contains("not UTF-8")
        ));
        let missing = location(&base, found, &HeaderMap::new()).err();
        assert!(missing.is_some_and(|e| e.to_string().contains("no Location")));
    }

    #[test]
    fn only_the_five_redirect_statuses_with_a_location_are_redirects() {
        let located = with_location(b"/x");
        for code in [300, 301, 302, 303, 304, 305, 306, 307, 308, 200, 201, 400] {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            let expected = matches!(code, 301 | 302 | 303 | 307 | 308);
            assert_eq!(is_redirect(status, &located), expected, "{code}");
            assert!(
                !is_redirect(status, &HeaderMap::new()),
                "{code} without Location"
            );
        }
    }
}
