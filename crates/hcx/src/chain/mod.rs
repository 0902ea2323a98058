//! The exec chain: every request runs through named handlers, Apache HttpClient 5's
//! `ExecChainHandler`s, into the main transport.
//!
//! The default chain, outermost first (Apache 5's order):
//!
//! | element | what it does | Apache |
//! | --- | --- | --- |
//! | [`REDIRECT`](ChainElement::Redirect) | follows 3xx responses | `RedirectExec` |
//! | [`BACK_OFF`](ChainElement::BackOff) (only with a [`BackoffManager`]) | shrinks and grows a route's connection limit | `BackoffStrategyExec` (first in Apache's chain) |
//! | [`COMPRESS`](ChainElement::Compress) | asks for and decodes compressed bodies | `ContentCompressionExec` |
//! | [`RETRY`](ChainElement::Retry) | replays what is safe to replay | `HttpRequestRetryExec` |
//! | [`AUTH`](ChainElement::Auth) | answers `401` challenges and a forward proxy's `407`, sends preemptive credentials | part of `ProtocolExec` |
//! | [`PROTOCOL`](ChainElement::Protocol) | default headers, `User-Agent`, interceptors | `ProtocolExec` |
//! | [`MAIN_TRANSPORT`](ChainElement::MainTransport) | leases, connects, runs the exchange | `ConnectExec` + `MainClientExec` |
//!
//! A handler sees the request on its way in and the response (or error) on its way
//! out, and decides whether and how often to [`proceed`](Chain::proceed): a handler
//! placed before `RETRY` sees one call per request, one after it one call per attempt.
//! The builder inserts handlers of your own first, last, before or after a named
//! element, or replaces one ([`ClientBuilder::add_handler_before`] and friends); the
//! client's `Debug` lists the order.
//!
//! [`ClientBuilder::add_handler_before`]: crate::ClientBuilder::add_handler_before

pub(crate) mod auth;
pub(crate) mod backoff;
pub(crate) mod compress;
mod context;
#[cfg(feature = "cookies")]
mod cookies;
mod elements;
pub(crate) mod main;
pub(crate) mod protocol;
pub(crate) mod redirect;
pub(crate) mod retry;

pub use auth::{AuthScope, BasicCredentialsProvider, Credentials, CredentialsProvider};
pub use backoff::{
    AimdBackoffManager, BackoffManager, ConnectionBackoffStrategy, DefaultBackoffStrategy,
};
pub use compress::DecompressionLimits;
pub use context::Context;
#[cfg(feature = "cookies")]
pub use cookies::CookieStore;
pub use elements::ChainElement;
pub(crate) use elements::{ChainOp, NamedChain};
pub use main::UserTokenHandler;
pub use protocol::{RequestInterceptor, ResponseInterceptor};
pub use redirect::{DefaultRedirectStrategy, RedirectStrategy};
pub use retry::{DefaultRetryStrategy, RetryStrategy, Sleeper, parse_retry_after};

use std::fmt;
use std::net::IpAddr;
use std::sync::Arc;

#[cfg(feature = "rustls")]
use hcx_exec::TlsIdentity;
use hcx_exec::{
    AbortHandle, Body, Error, ErrorKind, PoolingConnectionManager, RequestConfig, RequestProgress,
    ResponseBody, RoutePlanner,
};
use http::header::{HeaderMap, HeaderValue};
use http::{Method, Request, Response, Uri};

use crate::Route;

/// One element of the exec chain. Apache HttpClient 5: `ExecChainHandler`.
///
/// `execute` gets the request, the [`Scope`] of this execution (route, original
/// request, configuration, context, connection manager) and the rest of the
/// [`Chain`]; it returns the response, usually by calling
/// [`chain.proceed(request, scope)`](Chain::proceed) once (or again, to retry), and may
/// change the request before and the response after. Any `Send + Sync` closure taking
/// `(Request<Body>, &mut Scope<'_>, Chain<'_>)` and returning
/// `Result<Response<ResponseBody>, Error>` is one.
///
/// ```
/// use hcx::chain::{Chain, ChainElement, Scope};
/// use hcx::{Body, Error, ResponseBody};
/// use hcx::http::{Request, Response};
/// use std::sync::atomic::{AtomicUsize, Ordering};
/// use std::sync::Arc;
///
/// // Count every attempt: placed after RETRY, it sees retries too.
/// let attempts = Arc::new(AtomicUsize::new(0));
/// let seen = Arc::clone(&attempts);
/// let client = hcx::Client::builder()
///     .add_handler_after(
///         ChainElement::Retry,
///         "attempt-counter",
///         move |request: Request<Body>, scope: &mut Scope<'_>, chain: Chain<'_>| {
///             seen.fetch_add(1, Ordering::Relaxed);
///             chain.proceed(request, scope)
///         },
///     )
///     .build()?;
/// assert!(format!("{client:?}").contains("RETRY, attempt-counter, PROTOCOL"));
/// # Ok::<(), hcx::Error>(())
/// ```
#[doc(alias("ExecChainHandler"))]
pub trait ExecHandler: Send + Sync {
    /// Handles `request`, usually by calling `chain.proceed(request, scope)`.
    fn execute(
        &self,
        request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error>;
}

impl<F> ExecHandler for F
where
    F: Fn(Request<Body>, &mut Scope<'_>, Chain<'_>) -> Result<Response<ResponseBody>, Error>
        + Send
        + Sync,
{
    fn execute(
        &self,
        request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        self(request, scope, chain)
    }
}

/// The rest of the chain after the current handler. Apache HttpClient 5: `ExecChain`.
#[derive(Clone, Copy)]
pub struct Chain<'a> {
    rest: &'a [(ChainElement, Arc<dyn ExecHandler>)],
    /// Whether the last handler is the engine's own MAIN_TRANSPORT.
    engine_sends: bool,
}

impl<'a> Chain<'a> {
    pub(crate) fn new(chain: &'a NamedChain) -> Self {
        Chain {
            rest: chain.handlers(),
            engine_sends: chain.engine_sends(),
        }
    }

    /// Passes `request` to the next handler and returns what comes back. Callable more
    /// than once (a retry), each time with a request of its own.
    ///
    /// An error coming back says at least what the exchanges made during this call did
    /// ([`Error::after_exchange`]): a handler that refuses a response it got (a
    /// response interceptor, a redirect that cannot be followed) or a retry that then
    /// fails before sending does not hand up an error that reads as a request never
    /// sent, to RETRY's decision or to the caller. One exception, for RETRY: when
    /// AUTH's answer to a `401` or `407` fails, the error AUTH returns says what the
    /// answer's exchange did (the challenge was refused, not acted on); the calls
    /// around it count the challenge too.
    pub fn proceed(
        &self,
        mut request: Request<Body>,
        scope: &mut Scope<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        match self.rest.split_first() {
            Some(((_, handler), rest)) => {
                // Fields PROTOCOL left for the engine's codec to write: any other
                // handler gets them in the request, as if PROTOCOL had added them.
                let engine_next = rest.is_empty() && self.engine_sends;
                if !engine_next && !scope.owed.is_empty() {
                    scope.owed.take().add_to(request.headers_mut())?;
                }
                // The exchanges of this call are counted apart, then added to the
                // enclosing call's (a stack: each `proceed` sees its own).
                let enclosing = scope.exchanged.take();
                let result = handler.execute(
                    request,
                    scope,
                    Chain {
                        rest,
                        engine_sends: self.engine_sends,
                    },
                );
                if rest.is_empty() {
                    // The last handler sends (MAIN_TRANSPORT, or what replaced it).
                    match &result {
                        Ok(response) => {
                            scope.note_exchange(response.body().request_progress(), true);
                        }
                        Err(error) => scope
                            .note_exchange(error.request_progress(), error.is_response_started()),
                    }
                }
                let during = scope.exchanged;
                // A challenge the handler answered, set aside while the answer ran
                // (`Scope::answer_challenge`): this call's exchange still, once its
                // error says what the answer did.
                if let Some((progress, started)) = scope.answered.take() {
                    scope.note_exchange(progress, started);
                }
                if let Some((progress, started)) = enclosing {
                    scope.note_exchange(progress, started);
                }
                // A response is returned as it came, not moved through `map_err`.
                match during {
                    Some((progress, started)) if result.is_err() => {
                        result.map_err(|error| error.after_exchange(progress, started))
                    }
                    _ => result,
                }
            }
            None => Err(Error::new(
                ErrorKind::Config,
                "the exec chain ended without a handler sending the request \
                 (a handler after MAIN_TRANSPORT called proceed)",
            )),
        }
    }

    /// The names of the handlers still to come, in order.
    pub fn remaining(&self) -> impl Iterator<Item = &ChainElement> + '_ {
        self.rest.iter().map(|(name, _)| name)
    }
}

impl fmt::Debug for Chain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_list().entries(self.remaining()).finish()
    }
}

/// What every handler of one execution shares. Apache HttpClient 5: `ExecChain.Scope`
/// (with the `HttpClientContext` as [`context`](Self::context)).
///
/// One execution is one call of [`Client::execute`](crate::Client::execute): several
/// attempts and redirect hops, each of which leases its own connection; the response
/// body owns the connection of the last one. The connection manager is here for
/// layers that need one ([`manager`](Self::manager)).
#[non_exhaustive]
pub struct Scope<'a> {
    /// Where the current request goes. The redirect layer sets it for each hop; a
    /// handler that points the request at another origin sets it too
    /// ([`plan`](Self::plan)): nothing below plans it again, and MAIN_TRANSPORT
    /// refuses (`InvalidRequest`) a request whose URI left the execution's first
    /// origin, or went back to it after a route was planned for another, without its
    /// route being the one planned for it.
    pub route: Route,
    /// The request configuration in force (the client's, or the one the request
    /// carried in its extensions).
    pub config: RequestConfig,
    /// State of this execution that handlers read and write: user token, redirect
    /// locations, attempts, attributes.
    pub context: &'a mut Context,
    /// The head of the request as the caller gave it (method, URI, version, fields;
    /// not its extensions): REDIRECT and RETRY judge and send again this one while
    /// their request is still it ([`is_original`](Self::is_original)), rather than
    /// each copying the head on every request.
    original: Request<()>,
    /// COMPRESS's value, static: set for every request without a copy.
    accept_encoding: Option<&'static HeaderValue>,
    /// The `Accept-Encoding` and `User-Agent` PROTOCOL left to the codec.
    owed: protocol::Owed,
    left_origin: bool,
    /// The route [`plan`](Self::plan) gave last, with the URI it was planned for: a
    /// hop's route is the one planned for it, not a second plan of its URI, which a
    /// planner that rotates or fails over its proxies answers with another. Boxed:
    /// only a redirect or a handler of the caller's plans a route.
    last_plan: Option<Box<(Uri, Route)>>,
    /// The most the exchanges of the current `Chain::proceed` call wrote of their
    /// request, and whether one got a response (`proceed` keeps one per call, nested).
    exchanged: Option<(RequestProgress, bool)>,
    /// The exchanges of a challenge whose answer failed
    /// ([`answer_challenge`](Self::answer_challenge)), for the enclosing call.
    answered: Option<(RequestProgress, bool)>,
    manager: &'a PoolingConnectionManager,
    planner: &'a dyn RoutePlanner,
    abort: Option<AbortHandle>,
    #[cfg(feature = "rustls")]
    tls: Option<TlsIdentity>,
}

/// Adds what an exchange did to `facts`: the most written of a request, and whether
/// any got a response.
fn merge_exchange(
    facts: &mut Option<(RequestProgress, bool)>,
    progress: RequestProgress,
    response_started: bool,
) {
    let (seen, started) = facts.get_or_insert((progress, response_started));
    *seen = (*seen).max(progress);
    *started |= response_started;
}

impl<'a> Scope<'a> {
    /// The scope of one execution of `request`, its route planned by `planner` (with
    /// the request's own [`TlsIdentity`], if it carries one in its extensions).
    // Inlined into `Client::execute_in`, its one caller: out of line, the scope it
    // returns was copied (memcpy) and the request path ran ~200 instructions more
    // (callgrind, docs/benchmarks.md, Session 14), once other changes tipped LLVM's
    // inlining budget.
    #[inline(always)]
    pub(crate) fn new(
        request: &mut Request<Body>,
        config: RequestConfig,
        context: &'a mut Context,
        manager: &'a PoolingConnectionManager,
        planner: &'a dyn RoutePlanner,
    ) -> Result<Self, Error> {
        // Most requests carry no extension: nothing to look up.
        let extended = !request.extensions().is_empty();
        #[cfg(feature = "rustls")]
        let tls = extended
            .then(|| request.extensions_mut().remove::<TlsIdentity>())
            .flatten();
        let abort = extended
            .then(|| request.extensions_mut().remove::<AbortHandle>())
            .flatten();
        let route = plan(
            planner,
            #[cfg(feature = "rustls")]
            tls.as_ref(),
            config.local_address,
            request.uri(),
        )?;
        Ok(Scope {
            route,
            config,
            context,
            original: original_head(request),
            accept_encoding: None,
            owed: protocol::Owed::default(),
            left_origin: false,
            last_plan: None,
            exchanged: None,
            answered: None,
            manager,
            planner,
            abort,
            #[cfg(feature = "rustls")]
            tls,
        })
    }

    /// The route a request to `uri` takes in this execution: the client's
    /// [`RoutePlanner`] decides it, and the TLS identity the request carried (if any)
    /// replaces the planner's on an `https` route. The redirect layer asks this for
    /// every hop.
    pub fn plan(&mut self, uri: &Uri) -> Result<Route, Error> {
        let route = self.planned(uri)?;
        self.last_plan = Some(Box::new((uri.clone(), route.clone())));
        Ok(route)
    }

    /// What [`plan`](Self::plan) gives for `uri`, not recorded.
    fn planned(&self, uri: &Uri) -> Result<Route, Error> {
        plan(
            self.planner,
            #[cfg(feature = "rustls")]
            self.tls.as_ref(),
            self.config.local_address,
            uri,
        )
    }

    /// Refuses to send `uri` over [`route`](Self::route) when its origin (scheme and
    /// authority as written) is not the execution's first one, or a route was
    /// planned for a request of this execution (a redirect hop, a handler's
    /// [`plan`](Self::plan)), and the route is neither the one [`plan`](Self::plan) last
    /// gave for the request's origin nor what the planner gives for it: a handler
    /// changed the request's origin without planning its route, and the request
    /// would go to another origin's connection. MAIN_TRANSPORT asks it before every
    /// exchange; the usual request, on its first origin, costs one comparison.
    #[inline]
    pub(crate) fn check_route(&self, uri: &Uri) -> Result<(), Error> {
        // As written, byte for byte: the usual request's URI is the caller's, whose
        // parts it shares. Any other spelling of the same origin is checked below.
        // Once anything planned a route (a redirect hop, a handler that moved a
        // request), the route may be another origin's: it is checked below too,
        // even for a request back on the first origin.
        if self.last_plan.is_none() && same_origin_as_written(uri, self.original.uri()) {
            return Ok(());
        }
        self.check_planned_route(uri)
    }

    #[cold]
    #[inline(never)]
    fn check_planned_route(&self, uri: &Uri) -> Result<(), Error> {
        let planned = self
            .last_plan
            .as_deref()
            .is_some_and(|(planned_for, route)| {
                same_origin_as_written(uri, planned_for) && *route == self.route
            });
        // Else the planner is asked (a route set without `plan`, e.g. a copy of an
        // earlier one), and that answer is not recorded.
        if planned || self.planned(uri)? == self.route {
            return Ok(());
        }
        let origin = format!(
            "{}://{}",
            uri.scheme_str().unwrap_or_default(),
            uri.authority().map_or("", |a| a.as_str())
        );
        Err(Error::new(
            ErrorKind::InvalidRequest,
            format!(
                "the request's URI points at {} but its route is {}: a handler that changes \
                 the request's origin must set scope.route = scope.plan(uri)?",
                hcx_exec::redact_userinfo(&origin),
                self.route
            ),
        ))
    }

    /// The method of the request as the caller gave it (before any redirect).
    pub fn original_method(&self) -> &Method {
        self.original.method()
    }

    /// The URI of the request as the caller gave it (before any redirect).
    pub fn original_uri(&self) -> &Uri {
        self.original.uri()
    }

    /// Whether `request`'s head is still the caller's as it came (method, URI as
    /// written, version, fields in the same order), with no extension: REDIRECT and
    /// RETRY then borrow the scope's copy of it instead of each making their own (a
    /// field map copied is two allocations and a share of each value taken). The
    /// fields are compared in order, without a lookup: a copy lists them as its
    /// original does, and a request whose fields were reordered is copied as before.
    #[inline]
    pub(crate) fn is_original<B>(&self, request: &Request<B>) -> bool {
        let original = &self.original;
        request.method() == original.method()
            && request.version() == original.version()
            && same_uri_as_written(request.uri(), original.uri())
            && request.extensions().is_empty()
            && same_fields(request.headers(), original.headers())
    }

    /// The `Accept-Encoding` that [`COMPRESS`](ChainElement::Compress) asks for:
    /// [`PROTOCOL`](ChainElement::Protocol) adds it to a request that has none, before
    /// the client's default headers. `None` when content compression is off or no
    /// coding is compiled in. COMPRESS leaves the request itself alone, so the head
    /// that RETRY keeps for a replay is the caller's, and copying it costs nothing
    /// when the caller set no header; a handler of your own that replaces PROTOCOL
    /// adds it itself.
    pub fn accept_encoding(&self) -> Option<&HeaderValue> {
        self.accept_encoding
    }

    /// Set by COMPRESS for each request it passes on.
    pub(crate) fn set_accept_encoding(&mut self, value: Option<&'static HeaderValue>) {
        self.accept_encoding = value;
    }

    /// Whether a redirect in this execution went to another origin (scheme, host or
    /// port). From then on the credentials (`Authorization`, `Proxy-Authorization`,
    /// `Cookie`) and a `Host` of the caller's stay off every hop: REDIRECT removed
    /// them from the request, and [`PROTOCOL`](ChainElement::Protocol) does not add
    /// the client's default `Authorization` or `Cookie` (a default
    /// `Proxy-Authorization` is added: it only ever goes to a forward proxy). A handler
    /// of your own that adds credentials should ask this too. REDIRECT gives back
    /// the value it was called with (and the route) when it returns.
    pub fn left_origin(&self) -> bool {
        self.left_origin
    }

    /// Set by REDIRECT when it follows a redirect to another origin.
    pub(crate) fn set_left_origin(&mut self) {
        self.left_origin = true;
    }

    /// Given back by REDIRECT when it returns: what it was called with.
    pub(crate) fn reset_left_origin(&mut self, left_origin: bool) {
        self.left_origin = left_origin;
    }

    /// Records what one exchange did (in `Chain::proceed`, after the last handler).
    fn note_exchange(&mut self, progress: RequestProgress, response_started: bool) {
        merge_exchange(&mut self.exchanged, progress, response_started);
    }

    /// Sends `request`, the answer to a challenge (a `401` or `407` AUTH answered and
    /// dropped), down `chain`. The exchanges so far (the challenge's) are set aside
    /// while it runs, so an error says what the answer's own exchange did: RETRY
    /// judges the attempt by that (the challenge was refused, not acted on), and a GET
    /// whose answer is lost in flight is replayed as any other. They stay this
    /// execution's: added back after a response, and, after an error, to the
    /// enclosing call's once it has given its error the answer's facts.
    pub(crate) fn answer_challenge(
        &mut self,
        chain: Chain<'_>,
        request: Request<Body>,
    ) -> Result<Response<ResponseBody>, Error> {
        let challenged = self.exchanged.take();
        let result = chain.proceed(request, self);
        if let Some((progress, started)) = challenged {
            let kept = match &result {
                Ok(_) => &mut self.exchanged,
                Err(_) => &mut self.answered,
            };
            merge_exchange(kept, progress, started);
        }
        result
    }

    /// The request's [`AbortHandle`], if it carried one in its extensions: the
    /// execution holds it for every attempt and hop (MAIN_TRANSPORT hands it to each
    /// exchange's [`ExecRuntime`](hcx_exec::ExecRuntime)). A handler of your own that
    /// waits should ask it.
    pub fn abort_handle(&self) -> Option<&AbortHandle> {
        self.abort.as_ref()
    }

    /// Whether the request was aborted with its [`AbortHandle`].
    pub fn is_aborted(&self) -> bool {
        self.abort.as_ref().is_some_and(AbortHandle::is_aborted)
    }

    /// The connection manager the execution leases from.
    pub fn manager(&self) -> &PoolingConnectionManager {
        self.manager
    }
}

/// A copy of `request`'s head (method, URI, version, fields, extensions), for a layer
/// that may send the request again or look at it once the request is gone. Built
/// field by field from a reference: an empty field map or extension set is made
/// afresh rather than cloned, and the request is not taken apart and moved back
/// together around the copy (each a 264-byte copy on the request path).
// One copy out of line for REDIRECT and RETRY (each makes one when its request is no
// longer the caller's): the head is returned in place (the caller's frame), and the
// code is shared.
#[inline(never)]
pub(crate) fn copy_head<B>(request: &Request<B>) -> Request<()> {
    let mut head = original_head(request);
    if !request.extensions().is_empty() {
        *head.extensions_mut() = request.extensions().clone();
    }
    head
}

/// The scope's copy of the caller's request head: [`copy_head`] without the
/// extensions (a request that carries any is never taken for the original).
#[inline]
fn original_head<B>(request: &Request<B>) -> Request<()> {
    let mut head = Request::new(());
    *head.method_mut() = request.method().clone();
    *head.uri_mut() = request.uri().clone();
    *head.version_mut() = request.version();
    if !request.headers().is_empty() {
        *head.headers_mut() = request.headers().clone();
    }
    head
}

/// Whether `a` and `b` have the same scheme and the same authority byte for byte (a
/// clone of a URI shares its authority's bytes: no comparison of them is needed).
fn same_origin_as_written(a: &Uri, b: &Uri) -> bool {
    let (x, y) = (authority_str(a), authority_str(b));
    a.scheme() == b.scheme() && (std::ptr::eq(x, y) || x == y)
}

/// Whether `a` and `b` are the same URI byte for byte (`Uri`'s own `==` takes the
/// host's case as equal: a request sent again is sent as written).
fn same_uri_as_written(a: &Uri, b: &Uri) -> bool {
    let (x, y) = (path_and_query_str(a), path_and_query_str(b));
    same_origin_as_written(a, b) && (std::ptr::eq(x, y) || x == y)
}

/// Whether `a` and `b` hold the same fields in the same order, each value with the
/// same bytes and the same sensitivity (what a request sent again carries).
fn same_fields(a: &HeaderMap, b: &HeaderMap) -> bool {
    a.len() == b.len()
        && a.iter()
            .zip(b.iter())
            .all(|((n, v), (m, w))| n == m && v == w && v.is_sensitive() == w.is_sensitive())
}

fn path_and_query_str(uri: &Uri) -> &str {
    uri.path_and_query().map_or("", |p| p.as_str())
}

fn authority_str(uri: &Uri) -> &str {
    uri.authority().map_or("", |a| a.as_str())
}

/// The planner's route for `uri`, with `tls` in place of its identity on `https`,
/// and bound to `local` (the request config's local address) unless the planner
/// bound it: every route of a request is planned here (and a route limit's of the
/// client's builder).
pub(crate) fn plan(
    planner: &dyn RoutePlanner,
    #[cfg(feature = "rustls")] tls: Option<&TlsIdentity>,
    local: Option<IpAddr>,
    uri: &Uri,
) -> Result<Route, Error> {
    // The planner's result is changed in place and returned as it came, not taken
    // out of its `Result` and put back into a new one.
    let mut planned = planner.plan(uri);
    if let (Some(local), Ok(route)) = (local, planned.as_mut()) {
        route.local_address.get_or_insert(local);
    }
    #[cfg(feature = "rustls")]
    if let (Some(identity), Ok(route)) = (tls, planned.as_mut())
        && let Some(current) = route.tls.as_mut()
    {
        *current = identity.clone();
    }
    planned
}

impl fmt::Debug for Scope<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Scope")
            .field("route", &self.route)
            .field(
                "original",
                &format_args!("{} {}", self.original.method(), self.original.uri()),
            )
            .field("context", &self.context)
            .finish_non_exhaustive()
    }
}
