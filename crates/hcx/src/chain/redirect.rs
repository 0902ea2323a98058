//! REDIRECT: follows `3xx` responses. Apache HttpClient 5: `RedirectExec` with its
//! [`RedirectStrategy`] ([`DefaultRedirectStrategy`]).
//!
//! The outermost element: it sees one call per execution and sends one request per
//! hop down the rest of the chain (so retries, authentication and the default headers
//! apply to every hop). The rules, for each response:
//!
//! - **What is a redirect**: the strategy decides. By default a `301`, `302`, `303`,
//!   `307` or `308` with a `Location` header; a relative `Location` is resolved
//!   against the URI of the request it answers (RFC 3986 §5), and one that does not
//!   parse is an [`ErrorKind::Redirect`] error that shows it.
//! - **Method and body**: `303` turns any method but `GET` and `HEAD` into a `GET`;
//!   `301` and `302` turn a `POST` into a `GET` (as browsers do, RFC 9110 §15.4.2–3);
//!   otherwise, and always for `307` and `308`, the method and body are sent again. A
//!   body that cannot be sent again (a [`Body::reader`]) fails the execution with an
//!   [`ErrorKind::Redirect`] error rather than returning the `3xx`: the caller asked
//!   for the resource, and a `307` in its place would look like success. A request
//!   turned into a `GET` loses its body and its body headers (`Content-Length`,
//!   `Content-Type`, `Content-Encoding`, `Content-Language`, `Content-Location`,
//!   `Transfer-Encoding`, and `Expect`).
//! - **Another origin** (scheme, host or port): `Authorization`, `Proxy-Authorization`
//!   and `Cookie` are removed, and so is a `Host` header of the caller's (it named the
//!   old host). Once removed they stay removed for the rest of the chain.
//! - **Limits**: at most [`RequestConfig::max_redirects`] hops (default 50), one more
//!   is an error; a location already visited in this execution, the original URI
//!   included, is an error ("circular redirect") unless
//!   [`RequestConfig::circular_redirects_allowed`] (default `false`).
//! - **Connections**: the `3xx` response is dropped before the next hop, so its body
//!   drains within the drain limits and its connection goes back to the pool, ready
//!   for the next hop when it goes to the same place.
//!
//! The locations followed are in [`Context::redirect_locations`]. Turn the layer off
//! for a client with [`ClientBuilder::disable_redirect_handling`], for one request
//! with [`RequestConfig::with_redirects(false)`](RequestConfig::with_redirects).
//!
//! Differences from Apache HttpClient 5 (`RedirectExec`):
//!
//! - Apache copies the caller's headers to every hop, credentials included, whatever
//!   the host; hcx removes them on a change of origin (as browsers, curl and reqwest
//!   do).
//! - Apache returns the `3xx` itself when the request body is not repeatable, even for
//!   a `303` that would drop it; hcx follows when the body is not needed and fails with
//!   an error when it is.
//! - Apache's circular check looks only at the locations followed, so `a → b → a`
//!   fails one hop later, at the second `b`; hcx counts the original URI as visited.
//! - Apache treats `maxRedirects` ≤ 0 as 50; here `0` follows no redirect (the first
//!   is an error).
//! - Apache clears the context's redirect locations at the start of each execution;
//!   here they accumulate in a [`Context`] reused across executions (the limits and the
//!   circular check look only at the current execution).
//!
//! ```
//! use hcx::chain::Context;
//! use hcx_testserver::{Method, Reply, TestServer};
//!
//! let server = TestServer::builder()
//!     .route(Method::GET, "/old", Reply::new(301u16).header("location", "/new"))
//!     .route(Method::GET, "/new", Reply::ok().body("here"))
//!     .start()?;
//! let client = hcx::Client::new();
//! let mut context = Context::new();
//! let request = hcx::http::Request::get(server.url("/old")).body(hcx::Body::empty())?;
//! let response = client.execute_in(request, &mut context)?;
//! assert_eq!(response.into_body().into_string()?, "here");
//! assert_eq!(context.redirect_locations()[0].path(), "/new");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! [`Body::reader`]: hcx_exec::Body::reader
//! [`RequestConfig::max_redirects`]: hcx_exec::RequestConfig::max_redirects
//! [`RequestConfig::circular_redirects_allowed`]: hcx_exec::RequestConfig::circular_redirects_allowed
//! [`RequestConfig::with_redirects`]: hcx_exec::RequestConfig::with_redirects
//! [`RequestConfig`]: hcx_exec::RequestConfig
//! [`ClientBuilder::disable_redirect_handling`]: crate::ClientBuilder::disable_redirect_handling

use std::sync::Arc;

use hcx_exec::{Body, Error, ErrorKind, RequestConfig, ResponseBody, Route};
use http::header::{self, HeaderMap, HeaderName};
use http::{Method, Request, Response, StatusCode, Uri};
use url::Url;

use super::{Chain, Context, ExecHandler, Scope};

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
        let shown = String::from_utf8_lossy(value.as_bytes());
        Error::new(
            ErrorKind::Redirect,
            format!("the Location {shown:?} of the {status} response from {base} is not UTF-8"),
        )
        .with_source(e)
    })?;
    resolve(base, text).map_err(|(why, e)| {
        Error::new(
            ErrorKind::Redirect,
            format!("invalid Location {text:?} in the {status} response from {base}: {why}"),
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
    url.set_fragment(None);
    url.as_str()
        .parse::<Uri>()
        .map_err(|e| ("not a URI a request can be sent to", e.into()))
}

/// The form in which two URIs are compared to find a circular redirect: normalized
/// as a resolved location is, so `http://H:80/a/../b` and `http://h/b` match.
fn visit_key(uri: &Uri) -> String {
    match Url::parse(&uri.to_string()) {
        Ok(mut url) => {
            url.set_fragment(None);
            url.into()
        }
        Err(_) => uri.to_string(),
    }
}

/// Whether `a` and `b` have the same origin (scheme, host, port with the scheme's
/// default): the boundary across which credentials are not carried. A URI that is not
/// absolute has no origin and matches nothing.
fn same_origin(a: &Uri, b: &Uri) -> bool {
    let origin = |uri: &Uri| Url::parse(&uri.to_string()).ok().map(|u| u.origin());
    match (origin(a), origin(b)) {
        // An opaque origin (a scheme without one) is unequal to every other.
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// What the next hop does with the method and body of the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    /// Same method, same body.
    Keep,
    /// `GET` without body.
    ToGet,
}

/// RFC 9110 §15.4: `303` asks for a `GET` (a `HEAD` stays one, it asks for less);
/// for `301` and `302` the RFC allows a `POST` to become a `GET`, which every browser
/// and Apache 5 do; `307` and `308` forbid any change.
fn rewrite(method: &Method, status: StatusCode) -> Rewrite {
    match status.as_u16() {
        303 if method != Method::GET && method != Method::HEAD => Rewrite::ToGet,
        301 | 302 if method == Method::POST => Rewrite::ToGet,
        _ => Rewrite::Keep,
    }
}

/// Headers that describe a body: meaningless, or wrong, once the body is gone.
const BODY_HEADERS: [HeaderName; 7] = [
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LOCATION,
    header::TRANSFER_ENCODING,
    header::EXPECT,
];

/// Headers not carried to another origin: credentials, and a `Host` naming the old one.
const ORIGIN_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    header::HOST,
];

/// The request of the next hop: `head` (the current hop's request) sent to `location`
/// after a `status` response, with `replay` as the body if it keeps one (`None`: the
/// body cannot be sent again).
fn next_request(
    head: Request<()>,
    replay: Option<Body>,
    status: StatusCode,
    location: Uri,
) -> Result<Request<Body>, Error> {
    let (mut parts, ()) = head.into_parts();
    let body = match rewrite(&parts.method, status) {
        Rewrite::ToGet => {
            parts.method = Method::GET;
            for name in &BODY_HEADERS {
                parts.headers.remove(name);
            }
            Body::empty()
        }
        Rewrite::Keep => replay.ok_or_else(|| {
            Error::new(
                ErrorKind::Redirect,
                format!(
                    "cannot follow the {status} redirect to {location}: the {} body is a \
                     reader and cannot be sent again (give bytes or Body::from_factory)",
                    parts.method
                ),
            )
        })?,
    };
    if !same_origin(&parts.uri, &location) {
        for name in &ORIGIN_HEADERS {
            parts.headers.remove(name);
        }
    }
    parts.uri = location;
    Ok(Request::from_parts(parts, body))
}

/// The hops of one execution so far: what the limits are checked against.
struct Trail {
    /// The original URI and every location followed, as [`visit_key`]s.
    visited: Vec<String>,
    /// The locations followed, for the "too many" message.
    followed: Vec<Uri>,
}

impl Trail {
    fn new(start: &Uri) -> Self {
        Trail {
            visited: vec![visit_key(start)],
            followed: Vec::new(),
        }
    }

    /// Records a hop to `location`, or says why it must not be taken.
    fn follow(&mut self, location: &Uri, config: &RequestConfig) -> Result<(), Error> {
        let max = config.max_redirects;
        if self.followed.len() >= usize::try_from(max).unwrap_or(usize::MAX) {
            let list: Vec<String> = self.followed.iter().map(Uri::to_string).collect();
            return Err(Error::new(
                ErrorKind::Redirect,
                format!(
                    "too many redirects: more than {max} (followed: [{}]; next: {location})",
                    list.join(", ")
                ),
            ));
        }
        let key = visit_key(location);
        if !config.circular_redirects_allowed && self.visited.contains(&key) {
            return Err(Error::new(
                ErrorKind::Redirect,
                format!("circular redirect to {location}"),
            ));
        }
        self.visited.push(key);
        self.followed.push(location.clone());
        Ok(())
    }
}

/// The REDIRECT element.
struct RedirectExec {
    strategy: Arc<dyn RedirectStrategy>,
}

impl ExecHandler for RedirectExec {
    fn execute(
        &self,
        request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        if !scope.config.redirects_enabled {
            return chain.proceed(request, scope);
        }
        let mut trail = Trail::new(request.uri());
        let mut request = request;
        loop {
            let (parts, body) = request.into_parts();
            // Taken before the body is consumed: the next hop may need to send it again.
            // A reader known to be empty has nothing to replay.
            let replay = body
                .try_clone()
                .or_else(|| body.is_empty().then(Body::empty));
            let head = Request::from_parts(parts.clone(), ());
            let response = chain.proceed(Request::from_parts(parts, body), scope)?;
            if !self.strategy.is_redirected(&head, &response, scope.context) {
                return Ok(response);
            }
            let location = self.strategy.location(&head, &response, scope.context)?;
            trail.follow(&location, &scope.config)?;
            let status = response.status();
            let next = next_request(head, replay, status, location.clone())?;
            let route = Route::from_uri(&location)?;
            // Dropping the 3xx drains its body (within the drain limits) and gives its
            // connection back before the next hop leases one: the same connection
            // serves the next hop when it goes to the same route.
            drop(response);
            scope.route = route;
            scope.context.push_redirect(location);
            request = next;
        }
    }
}

/// The builder's settings for this layer: on, with [`DefaultRedirectStrategy`], by
/// default.
pub(crate) struct Settings {
    disabled: bool,
    strategy: Arc<dyn RedirectStrategy>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            disabled: false,
            strategy: Arc::new(DefaultRedirectStrategy),
        }
    }
}

/// The layer's handler, or `None` when it is off.
pub(crate) fn handler(settings: &Settings) -> Option<Arc<dyn ExecHandler>> {
    if settings.disabled {
        return None;
    }
    Some(Arc::new(RedirectExec {
        strategy: Arc::clone(&settings.strategy),
    }))
}

impl crate::ClientBuilder {
    /// Decides which responses are redirects and where they lead. Default:
    /// [`DefaultRedirectStrategy`]. Ignored when redirect handling is disabled
    /// ([`disable_redirect_handling`](Self::disable_redirect_handling) wins, in either
    /// order, as in Apache). Apache: `setRedirectStrategy`.
    pub fn redirect_strategy(mut self, strategy: impl RedirectStrategy + 'static) -> Self {
        self.redirect.strategy = Arc::new(strategy);
        self
    }

    /// Takes the REDIRECT element out of the chain: every `3xx` comes back to the
    /// caller as it is, and the client's `Debug` no longer lists `REDIRECT` (so
    /// handlers cannot be placed relative to it). For one request, use
    /// [`RequestConfig::with_redirects(false)`](RequestConfig::with_redirects)
    /// instead. Apache: `disableRedirectHandling`.
    pub fn disable_redirect_handling(mut self) -> Self {
        self.redirect.disabled = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn uri(text: &str) -> Uri {
        match text.parse() {
            Ok(uri) => uri,
            Err(e) => panic!("{text:?} is a valid URI in this test: {e}"),
        }
    }

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
    fn an_unparsable_location_is_a_redirect_error_that_shows_it() {
        let base = uri("http://h/a");
        let found = StatusCode::FOUND;
        for bad in [
            &b"http://exa mple.com/"[..],
            b"http://[oops/",
            b"http://h:99999/",
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

    #[test]
    fn method_rules_follow_rfc_9110_and_browsers() {
        use Rewrite::{Keep, ToGet};
        let (get, head, post, put, delete) = (
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
        );
        let cases = [
            (&post, 301, ToGet),
            (&post, 302, ToGet),
            (&post, 303, ToGet),
            (&post, 307, Keep),
            (&post, 308, Keep),
            (&put, 301, Keep),
            (&put, 302, Keep),
            (&put, 303, ToGet),
            (&delete, 303, ToGet),
            (&put, 307, Keep),
            (&get, 303, Keep),
            (&head, 303, Keep),
            (&head, 301, Keep),
            (&get, 308, Keep),
        ];
        for (method, code, expected) in cases {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            assert_eq!(rewrite(method, status), expected, "{method} {code}");
        }
    }

    fn post(to: &str) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri(to);
        for (name, value) in [
            ("content-type", "text/plain"),
            ("content-length", "5"),
            ("authorization", "Basic YTpi"),
            ("proxy-authorization", "Basic YTpi"),
            ("cookie", "s=1"),
            ("host", "alias.example"),
            ("x-trace", "7"),
        ] {
            request
                .headers_mut()
                .append(name, HeaderValue::from_static(value));
        }
        request
    }

    #[test]
    fn a_post_turned_into_a_get_loses_its_body_and_body_headers() -> Result<(), Error> {
        let next = next_request(
            post("http://h/form"),
            Some(Body::from("hello")),
            StatusCode::SEE_OTHER,
            uri("http://h/done"),
        )?;
        assert_eq!(next.method(), Method::GET);
        assert!(next.body().is_empty());
        for gone in ["content-type", "content-length"] {
            assert!(!next.headers().contains_key(gone), "{gone}");
        }
        // Same origin: credentials and the caller's Host stay.
        for kept in ["authorization", "cookie", "host", "x-trace"] {
            assert!(next.headers().contains_key(kept), "{kept}");
        }
        Ok(())
    }

    #[test]
    fn another_origin_gets_no_credentials_and_no_host() -> Result<(), Error> {
        for to in ["http://other/x", "http://h:8080/x", "https://h/x"] {
            let next = next_request(
                post("http://h/form"),
                Some(Body::from("hello")),
                StatusCode::TEMPORARY_REDIRECT,
                uri(to),
            )?;
            assert_eq!(next.method(), Method::POST, "{to}");
            assert_eq!(next.body().content_length(), Some(5), "{to}");
            for gone in ["authorization", "proxy-authorization", "cookie", "host"] {
                assert!(!next.headers().contains_key(gone), "{gone} to {to}");
            }
            assert!(next.headers().contains_key("content-type"), "{to}");
            assert!(next.headers().contains_key("x-trace"), "{to}");
        }
        Ok(())
    }

    #[test]
    fn a_body_that_cannot_be_sent_again_is_an_error_only_when_it_is_needed() {
        let kept = next_request(
            post("http://h/a"),
            None,
            StatusCode::PERMANENT_REDIRECT,
            uri("http://h/b"),
        );
        assert!(kept.is_err_and(|e| e.kind() == ErrorKind::Redirect
            && e.to_string().contains("cannot be sent again")
            && e.to_string().contains("http://h/b")));
        let dropped = next_request(
            post("http://h/a"),
            None,
            StatusCode::FOUND,
            uri("http://h/b"),
        );
        assert!(dropped.is_ok_and(|r| r.method() == Method::GET));
    }

    #[test]
    fn origins_compare_normalized_scheme_host_and_port() {
        assert!(same_origin(&uri("http://H/a"), &uri("http://h:80/b")));
        assert!(same_origin(
            &uri("http://127.0.0.1:5/"),
            &uri("http://127.0.0.1:5/x")
        ));
        assert!(!same_origin(
            &uri("http://127.0.0.1:5/"),
            &uri("http://127.0.0.1:6/")
        ));
        assert!(!same_origin(&uri("http://h/"), &uri("https://h/")));
        assert!(!same_origin(&uri("/relative"), &uri("/relative")));
    }

    #[test]
    fn the_trail_counts_hops_and_finds_circles_through_normal_forms() {
        let config = RequestConfig::default().with_max_redirects(2);
        let mut trail = Trail::new(&uri("http://h/a"));
        assert!(trail.follow(&uri("http://h/b"), &config).is_ok());
        let back = trail.follow(&uri("http://H:80/x/../a"), &config);
        assert!(back.is_err_and(|e| e.to_string().starts_with("circular redirect to")));
        assert!(trail.follow(&uri("http://h/c"), &config).is_ok());
        let third = trail.follow(&uri("http://h/d"), &config);
        assert!(third.is_err_and(|e| e.kind() == ErrorKind::Redirect
            && e.to_string().contains("more than 2")
            && e.to_string().contains("http://h/b, http://h/c")));

        let circular = RequestConfig::default().with_circular_redirects_allowed(true);
        let mut trail = Trail::new(&uri("http://h/a"));
        assert!(trail.follow(&uri("http://h/a"), &circular).is_ok());
        assert!(trail.follow(&uri("http://h/a"), &circular).is_ok());
    }

    #[test]
    fn the_layer_is_on_by_default_and_off_when_disabled() {
        assert!(handler(&Settings::default()).is_some());
        let off = Settings {
            disabled: true,
            ..Settings::default()
        };
        assert!(handler(&off).is_none());
    }
}
