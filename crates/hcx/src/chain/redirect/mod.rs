//! REDIRECT: follows `3xx` responses. Apache HttpClient 5: `RedirectExec` with its
//! [`RedirectStrategy`] ([`DefaultRedirectStrategy`]).
//!
//! The outermost element: it sees one call per execution and sends one request per
//! hop down the rest of the chain (so retries, authentication and the default headers
//! apply to every hop). The rules, for each response:
//!
//! - **What is a redirect**: the strategy decides. By default a `301`, `302`, `303`,
//!   `307` or `308` with a `Location` header; a relative `Location` is resolved
//!   against the URI of the request it answers (RFC 3986 §5), leniently as browsers
//!   do (the WHATWG URL parser: spaces and non-ASCII percent-encoded, tabs dropped, a
//!   `\` in an `http(s)` reference read as `/`, where Apache's `java.net.URI` refuses
//!   them), and one that does not parse, or names no host (`mailto:`, `javascript:`),
//!   is an [`ErrorKind::Redirect`] error that shows it.
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
//!   old host). Once removed they stay removed for the later hops: PROTOCOL
//!   does not put back the client's [default headers](crate::ClientBuilder::default_header)
//!   of those names on any later hop ([`Scope::left_origin`]), even one that returns
//!   to the first origin, but a default `Proxy-Authorization` (it only ever goes to a
//!   forward proxy).
//! - **Limits**: at most [`RequestConfig::max_redirects`] hops (default 50), one more
//!   is an error; a location already followed in this execution is an error
//!   ("circular redirect") unless [`RequestConfig::circular_redirects_allowed`]
//!   (default `false`). As in Apache, the original URI is not counted: a first hop
//!   back to it (Post/Redirect/Get to the same URL, a page that redirects to itself
//!   once a cookie is set) is followed.
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
//! - Apache up to 5.4 copies the caller's headers to the next hop, credentials
//!   included, whatever the host (except, from 5.1, on a hop built afresh as a `GET`:
//!   a `POST` after `301` or `302`, any method but `GET` and `HEAD` after `303`, which
//!   carries none of them), and adds its default headers (`RequestDefaultHeaders`) to
//!   each; 5.5 and later instead return the `3xx` to the caller when the target's
//!   scheme, host or port changes and the redirect request carries an `Authorization`,
//!   `Cookie` or sensitive header the caller set (default headers and store cookies
//!   are added later and do not count). hcx follows the redirect, removes credentials
//!   on a change of origin and adds no default credentials after it (as browsers,
//!   curl and reqwest do); a hop turned into a `GET` keeps the caller's other headers.
//! - Apache returns the `3xx` itself when the request body is not repeatable, even for
//!   a `303` that would drop it; hcx follows when the body is not needed and fails with
//!   an error when it is.
//! - Apache treats `maxRedirects` ≤ 0 as 50; here `0` follows no redirect (the first
//!   is an error).
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
//! [`Context`]: crate::chain::Context
//! [`Context::redirect_locations`]: crate::chain::Context::redirect_locations
//! [`ClientBuilder::disable_redirect_handling`]: crate::ClientBuilder::disable_redirect_handling

mod rules;
mod strategy;

pub use strategy::{DefaultRedirectStrategy, RedirectStrategy};

use std::sync::Arc;

use hcx_exec::{Body, Error, ErrorKind, RedirectEvent, RequestConfig, ResponseBody, Route};
use http::{Request, Response, StatusCode, Uri};
use url::Url;

use super::{Chain, ExecHandler, Scope, copy_head};
pub(crate) use rules::stays_with_origin;
use rules::{NextHop, next_request};

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

/// The hops of one execution so far: what the limits are checked against.
///
/// Built only when a first redirect comes: most responses are not redirects.
///
/// As Apache's `RedirectLocations`, it holds the locations followed, not the original
/// URI: a first hop back to the request's own URI is followed (`POST /form` answered
/// `303 See Other` to `/form` asks for `GET /form`; a login check redirects to itself
/// once a cookie is set), and a second is circular.
#[derive(Default)]
struct Trail {
    /// Every location followed, as [`visit_key`]s.
    visited: Vec<String>,
    /// The locations followed, for the "too many" message.
    followed: Vec<Uri>,
}

impl Trail {
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
        mut request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        // The context lists the redirects of this call's response, not those of an
        // earlier request a handler above sent (Apache clears them here too).
        scope.context.clear_redirects();
        if !scope.config.redirects_enabled {
            return chain.proceed(request, scope);
        }
        let mut trail: Option<Trail> = None;
        // The route, `left_origin` and last plan the caller passed, taken at the
        // first hop and given back when this call returns: handlers above REDIRECT
        // see the scope as they passed it (Apache gives each hop a scope of its own),
        // so a second request from them goes where its URI says, with its credentials.
        let mut entry: Option<Entry> = None;
        // `request` is `mut` where it is taken: a rebinding here copied it.
        loop {
            // Taken before the body is consumed: the next hop may need to send it again.
            let replay = request.body().try_clone();
            // The head the strategy judges and the next hop starts from: the scope's
            // copy of the caller's while the request is still that (the usual one:
            // nothing is copied here), else a copy of this one.
            let copied = (!scope.is_original(&request)).then(|| copy_head(&request));
            let result = chain.proceed(request, scope);
            let head = copied.as_ref().unwrap_or(&scope.original);
            // A response that is not followed is returned as it came, not moved out of
            // the result and back into a new one.
            let response = match &result {
                Ok(response) if self.strategy.is_redirected(head, response, scope.context) => {
                    response
                }
                _ => {
                    restore(scope, entry);
                    return result;
                }
            };
            if entry.is_none() {
                entry = Some((
                    scope.route.clone(),
                    scope.left_origin(),
                    scope.last_plan.clone(),
                ));
            }
            let head = copied.unwrap_or_else(|| copy_head(&scope.original));
            let hop = match self.hop(head, replay, response, scope, &mut trail) {
                Ok(hop) => hop,
                Err(e) => {
                    restore(scope, entry);
                    return Err(e);
                }
            };
            // Dropping the 3xx drains its body (within the drain limits) and gives its
            // connection back before the next hop leases one: the same connection
            // serves the next hop when it goes to the same route.
            drop(result);
            scope.manager().events().redirect(&RedirectEvent::new(
                &hop.from,
                &hop.location,
                hop.status,
                hop.next.request.method(),
            ));
            scope.route = hop.route;
            if hop.next.left_origin {
                scope.set_left_origin();
            }
            scope.context.push_redirect(hop.location);
            request = hop.next.request;
        }
    }
}

/// Where a followed redirect leads.
struct Hop {
    from: Uri,
    location: Uri,
    status: StatusCode,
    next: NextHop,
    route: Route,
}

impl RedirectExec {
    /// The next hop after `response` to `head`: its location (checked against the
    /// trail of this execution), request and route.
    fn hop(
        &self,
        head: Request<()>,
        replay: Option<Body>,
        response: &Response<ResponseBody>,
        scope: &mut Scope<'_>,
        trail: &mut Option<Trail>,
    ) -> Result<Hop, Error> {
        let location = self.strategy.location(&head, response, scope.context)?;
        // Whatever the strategy: no `user:password@` goes on into events, the
        // context's locations or errors (the default strategy takes it out too).
        let location = crate::url::strip_userinfo(&location).unwrap_or(location);
        trail
            .get_or_insert_with(Trail::default)
            .follow(&location, &scope.config)?;
        let status = response.status();
        let from = head.uri().clone();
        let next = next_request(head, replay, status, location.clone())?;
        let route = scope.plan(&location)?;
        Ok(Hop {
            from,
            location,
            status,
            next,
            route,
        })
    }
}

/// The route, `left_origin` and last plan REDIRECT was called with.
type Entry = (Route, bool, Option<Box<(Uri, Route)>>);

/// Gives the scope back the route, `left_origin` and last plan REDIRECT was called
/// with, if a hop changed them.
fn restore(scope: &mut Scope<'_>, entry: Option<Entry>) {
    if let Some((route, left_origin, last_plan)) = entry {
        scope.route = route;
        scope.reset_left_origin(left_origin);
        scope.last_plan = last_plan;
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
    #[doc(alias("setRedirectStrategy"))]
    pub fn redirect_strategy(mut self, strategy: impl RedirectStrategy + 'static) -> Self {
        self.redirect.strategy = Arc::new(strategy);
        self
    }

    /// Takes the REDIRECT element out of the chain: every `3xx` comes back to the
    /// caller as it is, and the client's `Debug` no longer lists `REDIRECT` (so
    /// handlers cannot be placed relative to it). For one request, use
    /// [`RequestConfig::with_redirects(false)`](RequestConfig::with_redirects)
    /// instead. Apache: `disableRedirectHandling`.
    #[doc(alias("disableRedirectHandling"))]
    pub fn disable_redirect_handling(mut self) -> Self {
        self.redirect.disabled = true;
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    pub(super) fn uri(text: &str) -> Uri {
        match text.parse() {
            Ok(uri) => uri,
            Err(e) => panic!("{text:?} is a valid URI in this test: {e}"),
        }
    }

    #[test]
    fn the_trail_counts_hops_and_finds_circles_through_normal_forms() {
        let config = RequestConfig::default().with_max_redirects(2);
        let mut trail = Trail::default();
        assert!(trail.follow(&uri("http://h/b"), &config).is_ok());
        let back = trail.follow(&uri("http://H:80/x/../b"), &config);
        assert!(back.is_err_and(|e| e.to_string().starts_with("circular redirect to")));
        assert!(trail.follow(&uri("http://h/c"), &config).is_ok());
        let third = trail.follow(&uri("http://h/d"), &config);
        assert!(third.is_err_and(|e| e.kind() == ErrorKind::Redirect
            && e.to_string().contains("more than 2")
            && e.to_string().contains("http://h/b, http://h/c")));

        let circular = RequestConfig::default().with_circular_redirects_allowed(true);
        let mut trail = Trail::default();
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
