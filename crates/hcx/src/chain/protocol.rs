//! PROTOCOL: default headers, `User-Agent`, and the interceptors. Apache HttpClient 5:
//! `ProtocolExec` with its `HttpProcessor`.

use std::sync::Arc;

use hcx_exec::{Body, Error, ResponseBody};
use http::header::{ACCEPT_ENCODING, CONNECTION, HeaderMap, HeaderName, HeaderValue, USER_AGENT};
use http::{Request, Response, Version};

use super::redirect::stays_with_origin;
use super::{Chain, Context, ExecHandler, Scope};

/// Changes a request before it is sent (adds a header, signs it, records it). Apache
/// HttpClient: `HttpRequestInterceptor`. Runs in the PROTOCOL element, once per
/// attempt; an error fails the request before anything is sent. Any
/// `Fn(&mut Request<Body>, &mut Context) -> Result<(), Error> + Send + Sync` closure
/// is one.
#[doc(alias("HttpRequestInterceptor"))]
pub trait RequestInterceptor: Send + Sync {
    /// Processes `request` on its way out.
    fn process(&self, request: &mut Request<Body>, context: &mut Context) -> Result<(), Error>;
}

impl<F> RequestInterceptor for F
where
    F: Fn(&mut Request<Body>, &mut Context) -> Result<(), Error> + Send + Sync,
{
    fn process(&self, request: &mut Request<Body>, context: &mut Context) -> Result<(), Error> {
        self(request, context)
    }
}

/// Looks at (or changes) a response once its head is in, before any outer element
/// (retry, redirect, decompression) sees it. Apache HttpClient:
/// `HttpResponseInterceptor`. An error fails the request; the response's connection
/// is released as its body would have been (dropped: drained or closed). Any
/// `Fn(&mut Response<ResponseBody>, &mut Context) -> Result<(), Error> + Send + Sync`
/// closure is one.
#[doc(alias("HttpResponseInterceptor"))]
pub trait ResponseInterceptor: Send + Sync {
    /// Processes `response` on its way in.
    fn process(
        &self,
        response: &mut Response<ResponseBody>,
        context: &mut Context,
    ) -> Result<(), Error>;
}

impl<F> ResponseInterceptor for F
where
    F: Fn(&mut Response<ResponseBody>, &mut Context) -> Result<(), Error> + Send + Sync,
{
    fn process(
        &self,
        response: &mut Response<ResponseBody>,
        context: &mut Context,
    ) -> Result<(), Error> {
        self(response, context)
    }
}

/// The PROTOCOL element. Request interceptors added first run before COMPRESS's
/// `Accept-Encoding` ([`Scope::accept_encoding`]), the default headers and cookies
/// are added, those added last after them; response interceptors run in the order
/// added (first ones first), after cookies are stored.
///
/// Connection handling: an HTTP/1.0 request without a `Connection` field gets
/// `Connection: keep-alive`, so that its connection can be reused (RFC 9112 §9.3: an
/// HTTP/1.0 connection persists only when both sides say so). Apache's
/// `RequestClientConnControl` adds it to every request; on HTTP/1.1 it is the default
/// and only costs bytes, so hcx leaves HTTP/1.1 requests alone. `Host` is written by
/// the codec from the URI when the request has none.
#[derive(Default)]
pub(crate) struct ProtocolExec {
    /// Added to every request that does not set the header itself (the default
    /// `User-Agent` is one of them).
    pub(crate) default_headers: HeaderMap,
    /// `Some(the User-Agent, if any)` when the default headers are no more than one
    /// `User-Agent` not marked sensitive (the client's own, unless changed) and
    /// nothing reads the request's fields after PROTOCOL but the codec: no request
    /// interceptor added last, no cookie store, no reuse or keep-alive strategy of the
    /// caller's. Then the `User-Agent` and `Accept-Encoding` are [`Owed`] to the codec
    /// (see `execute` for the requests that still get them in their map).
    owed_agent: Option<Option<HeaderValue>>,
    pub(crate) request_first: Vec<Arc<dyn RequestInterceptor>>,
    pub(crate) request_last: Vec<Arc<dyn RequestInterceptor>>,
    pub(crate) response: Vec<Arc<dyn ResponseInterceptor>>,
    /// Cookies sent and stored (feature `cookies`; off unless a store is set).
    #[cfg(feature = "cookies")]
    pub(crate) cookies: Option<Arc<super::cookies::CookieStore>>,
}

/// The `Accept-Encoding` and `User-Agent` PROTOCOL decided a request gets but did not
/// add to its map: adding a field to a caller's empty map allocates it (twice), and
/// the map is dropped once the head is written. The engine's MAIN_TRANSPORT hands
/// them to the codec, which writes them after the request's own fields
/// ([`MainExec::execute_with_defaults`](hcx_exec::MainExec::execute_with_defaults)):
/// the same bytes, in the same order, as when they are added. Any other handler gets
/// them added to the request first ([`Chain::proceed`]), so what a handler, a user
/// token handler or an event sees does not depend on this.
#[derive(Default)]
pub(crate) struct Owed {
    accept_encoding: Option<HeaderValue>,
    user_agent: Option<HeaderValue>,
}

impl Owed {
    pub(crate) fn is_empty(&self) -> bool {
        self.accept_encoding.is_none() && self.user_agent.is_none()
    }

    pub(crate) fn take(&mut self) -> Owed {
        std::mem::take(self)
    }

    /// Adds the fields to `headers`, as PROTOCOL adds them: `Accept-Encoding` first.
    pub(crate) fn add_to(self, headers: &mut HeaderMap) -> Result<(), Error> {
        if let Some(value) = self.accept_encoding {
            headers.try_insert(ACCEPT_ENCODING, value)?;
        }
        if let Some(value) = self.user_agent {
            headers.try_insert(USER_AGENT, value)?;
        }
        Ok(())
    }

    /// Calls `send` with the fields as the codec takes them.
    pub(crate) fn write_with<R>(self, send: impl FnOnce(&[(HeaderName, HeaderValue)]) -> R) -> R {
        match (self.accept_encoding, self.user_agent) {
            (Some(accept), Some(agent)) => send(&[(ACCEPT_ENCODING, accept), (USER_AGENT, agent)]),
            (Some(accept), None) => send(&[(ACCEPT_ENCODING, accept)]),
            (None, Some(agent)) => send(&[(USER_AGENT, agent)]),
            (None, None) => send(&[]),
        }
    }
}

impl ProtocolExec {
    /// `owe`: whether the fields may be left to the codec at all (not when a reuse or
    /// keep-alive strategy of the caller's reads the request's fields).
    pub(crate) fn new(
        default_headers: HeaderMap,
        owe: bool,
        request_first: Vec<Arc<dyn RequestInterceptor>>,
        request_last: Vec<Arc<dyn RequestInterceptor>>,
        response: Vec<Arc<dyn ResponseInterceptor>>,
        #[cfg(feature = "cookies")] cookies: Option<Arc<super::cookies::CookieStore>>,
    ) -> Self {
        #[cfg(feature = "cookies")]
        let owe = owe && cookies.is_none();
        let owe = owe && request_last.is_empty();
        let owed_agent = match default_headers.len() {
            _ if !owe => None,
            0 => Some(None),
            1 => default_headers
                .get(USER_AGENT)
                .filter(|agent| !agent.is_sensitive())
                .map(|agent| Some(agent.clone())),
            _ => None,
        };
        ProtocolExec {
            default_headers,
            owed_agent,
            request_first,
            request_last,
            response,
            #[cfg(feature = "cookies")]
            cookies,
        }
    }

    /// The `Accept-Encoding` and `User-Agent` `request` lacks, when the defaults are
    /// no more than those (see `owed_agent`); `None`: the defaults are added field by
    /// field.
    fn owed(&self, request: &Request<Body>, scope: &Scope<'_>) -> Option<Owed> {
        let agent = self.owed_agent.as_ref()?;
        let headers = request.headers();
        // Most requests carry no field of their own: then nothing is looked up (a
        // lookup builds and drops the name even in an empty map).
        let lacks = |name| headers.is_empty() || !headers.contains_key(name);
        Some(Owed {
            accept_encoding: scope
                .accept_encoding()
                .filter(|_| lacks(ACCEPT_ENCODING))
                .cloned(),
            user_agent: agent.as_ref().filter(|_| lacks(USER_AGENT)).cloned(),
        })
    }

    /// Adds COMPRESS's `Accept-Encoding` and the default headers to `request`, each it
    /// lacks: the general path, when the fields are not [`Owed`] (see `owed_agent`).
    fn add_defaults(&self, request: &mut Request<Body>, scope: &Scope<'_>) -> Result<(), Error> {
        if let Some(accept) = scope.accept_encoding()
            && !request.headers().contains_key(ACCEPT_ENCODING)
        {
            request
                .headers_mut()
                .try_insert(ACCEPT_ENCODING, accept.clone())?;
        }
        if self.default_headers.is_empty() {
            return Ok(());
        }
        let left_origin = scope.left_origin();
        let headers = request.headers_mut();
        for name in self.default_headers.keys() {
            // After a redirect to another origin, no default credentials (nor any
            // value marked sensitive).
            // `Proxy-Authorization` is the proxy's, not the origin's: the codec
            // writes it only to a forward proxy, which a redirect does not change.
            if left_origin
                && name != http::header::PROXY_AUTHORIZATION
                && self
                    .default_headers
                    .get_all(name)
                    .iter()
                    .any(|value| stays_with_origin(name, value))
            {
                continue;
            }
            if !headers.contains_key(name) {
                for value in self.default_headers.get_all(name) {
                    headers.try_append(name.clone(), value.clone())?;
                }
            }
        }
        Ok(())
    }
}

/// Whether a field is added to `request`'s map after the defaults (PROTOCOL's
/// `Connection: keep-alive` on HTTP/1.0, the engine's `Proxy-Authorization` to a
/// forward proxy with credentials): then the defaults must be in the map too, or the
/// codec would write them after that field.
fn written_after_defaults(request: &Request<Body>, scope: &Scope<'_>) -> bool {
    let route = &scope.route;
    request.version() == Version::HTTP_10
        || (route.is_forward_proxy() && route.proxy.as_ref().is_some_and(|p| p.has_credentials()))
}

/// Runs request `interceptors` in order, then marks the secret fields they may have
/// added sensitive, as the client marks the caller's (no `Debug` shows them). Out of
/// line: most clients have none.
#[inline(never)]
fn intercept(
    interceptors: &[Arc<dyn RequestInterceptor>],
    request: &mut Request<Body>,
    context: &mut Context,
) -> Result<(), Error> {
    for interceptor in interceptors {
        interceptor.process(request, context)?;
    }
    crate::client::mark_secrets_sensitive(request.headers_mut());
    Ok(())
}

impl ExecHandler for ProtocolExec {
    fn execute(
        &self,
        mut request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        if !self.request_first.is_empty() {
            intercept(&self.request_first, &mut request, scope.context)?;
        }
        match self.owed(&request, scope) {
            // Fields added to the map after the defaults go out after them: PROTOCOL's
            // `Connection: keep-alive` on HTTP/1.0 (below), the engine's
            // `Proxy-Authorization` to a forward proxy. The codec writes the defaults
            // after the map's fields, so these requests get them in the map, now.
            Some(owed) if written_after_defaults(&request, scope) => {
                owed.add_to(request.headers_mut())?;
            }
            // Left to the codec. Set now: nothing below can fail for such a request
            // (an owing PROTOCOL has no cookie store and no late interceptor, and
            // HTTP/1.0 took the arm above).
            Some(owed) => scope.owed = owed,
            None => self.add_defaults(&mut request, scope)?,
        }
        if request.version() == Version::HTTP_10 && !request.headers().contains_key(CONNECTION) {
            request
                .headers_mut()
                .try_insert(CONNECTION, HeaderValue::from_static("keep-alive"))?;
        }
        #[cfg(feature = "cookies")]
        let uri = match &self.cookies {
            Some(store) => {
                let uri = request.uri().clone();
                let method = request.method().clone();
                super::cookies::add_cookies(store, &method, &uri, request.headers_mut())?;
                Some(uri)
            }
            None => None,
        };
        if !self.request_last.is_empty() {
            intercept(&self.request_last, &mut request, scope.context)?;
        }
        // The response is changed in place and returned as it came, not moved out of
        // the result and back into a new one.
        let mut result = chain.proceed(request, scope);
        if let Ok(response) = &mut result {
            #[cfg(feature = "cookies")]
            if let (Some(store), Some(uri)) = (&self.cookies, &uri) {
                store.store_from(uri, response.headers());
            }
            for interceptor in &self.response {
                // An error drops the response: its connection is drained or closed.
                interceptor.process(response, scope.context)?;
            }
        }
        result
    }
}
