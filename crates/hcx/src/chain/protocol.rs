//! PROTOCOL: default headers, `User-Agent`, and the interceptors. Apache HttpClient 5:
//! `ProtocolExec` with its `HttpProcessor`.

use std::sync::Arc;

use hcx_exec::{Body, Error, ResponseBody};
use http::header::{ACCEPT_ENCODING, CONNECTION, HeaderMap, HeaderValue};
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
    pub(crate) request_first: Vec<Arc<dyn RequestInterceptor>>,
    pub(crate) request_last: Vec<Arc<dyn RequestInterceptor>>,
    pub(crate) response: Vec<Arc<dyn ResponseInterceptor>>,
    /// Cookies sent and stored (feature `cookies`; off unless a store is set).
    #[cfg(feature = "cookies")]
    pub(crate) cookies: Option<Arc<super::cookies::CookieStore>>,
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
        if let Some(accept) = scope.accept_encoding()
            && !request.headers().contains_key(ACCEPT_ENCODING)
        {
            request
                .headers_mut()
                .try_insert(ACCEPT_ENCODING, accept.clone())?;
        }
        if !self.default_headers.is_empty() {
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
                super::cookies::add_cookies(store, &uri, request.headers_mut())?;
                Some(uri)
            }
            None => None,
        };
        if !self.request_last.is_empty() {
            intercept(&self.request_last, &mut request, scope.context)?;
        }
        let mut response = chain.proceed(request, scope)?;
        #[cfg(feature = "cookies")]
        if let (Some(store), Some(uri)) = (&self.cookies, &uri) {
            store.store_from(uri, response.headers());
        }
        for interceptor in &self.response {
            interceptor.process(&mut response, scope.context)?;
        }
        Ok(response)
    }
}
