//! The client: one shared pool, requests in, responses out.

use std::fmt;
use std::sync::Arc;

use hcx_exec::{
    Body, Error, IdleConnectionEvictor, ManagerStats, PoolingConnectionManager, RequestConfig,
    ResponseBody, RoutePlanner, is_secret_field,
};
use hcx_reuse::{IdleBounds, LearnedIdleLimit};
use http::{Method, Request, Response, Uri};

use crate::builder::ClientBuilder;
use crate::chain::{Chain, Context, NamedChain, Scope};
use crate::lent::BodyReader;
use crate::url::{IntoUri, strip_userinfo};

/// A blocking HTTP/1.1 client. Apache HttpClient 5: `CloseableHttpClient` (classic).
///
/// Cheap to clone; clones share one connection pool, so one client serves every
/// thread. Each request runs on the calling thread, through the exec chain
/// ([`crate::chain`]); `Debug` lists the chain's order.
#[derive(Clone)]
#[doc(alias("CloseableHttpClient", "HttpClient"))]
pub struct Client {
    inner: Arc<Inner>,
}

struct Inner {
    manager: PoolingConnectionManager,
    chain: NamedChain,
    config: RequestConfig,
    planner: Arc<dyn RoutePlanner>,
    /// The default keep-alive strategy when it learns idle limits.
    learned: Option<Arc<LearnedIdleLimit>>,
    /// Stopped and joined when the last clone of the client is dropped.
    evictor: Option<IdleConnectionEvictor>,
}

impl Client {
    /// A builder with the defaults.
    #[doc(alias("custom", "HttpClients.custom", "HttpClientBuilder.create"))]
    pub fn builder() -> ClientBuilder {
        ClientBuilder::new()
    }

    /// A client with the defaults (25 connections, 5 per route, the default
    /// strategies and timeouts).
    #[doc(alias("createDefault", "HttpClients.createDefault"))]
    pub fn new() -> Self {
        match Client::builder().build() {
            Ok(client) => client,
            // Only zero pool limits are refused, and the defaults are 25 and 5.
            Err(e) => unreachable!("the default configuration is valid: {e}"),
        }
    }

    pub(crate) fn from_parts(
        manager: PoolingConnectionManager,
        chain: NamedChain,
        config: RequestConfig,
        planner: Arc<dyn RoutePlanner>,
        evictor: Option<IdleConnectionEvictor>,
        learned: Option<Arc<LearnedIdleLimit>>,
    ) -> Self {
        Client {
            inner: Arc::new(Inner {
                manager,
                chain,
                config,
                planner,
                learned,
                evictor,
            }),
        }
    }

    /// Sends `request` through the exec chain and returns the response once its head
    /// is read. The body streams from the connection: read it to its end (or drop it)
    /// to give the connection back. A [`RequestConfig`] in the request's extensions
    /// replaces the client's for this request, and a [`TlsIdentity`](crate::TlsIdentity)
    /// there replaces the client's TLS configuration (feature `rustls`).
    ///
    /// The URI must be absolute (`http://host[:port]/path` or `https://…`); another
    /// is an [`ErrorKind::InvalidUrl`](crate::ErrorKind::InvalidUrl) error that shows
    /// it. The client's [`RoutePlanner`] decides whether it goes direct or through a
    /// proxy.
    pub fn execute(&self, request: Request<Body>) -> Result<Response<ResponseBody>, Error> {
        self.execute_in(request, &mut Context::new())
    }

    /// Like [`execute`](Self::execute), with a [`Context`] the caller keeps: set a user
    /// token or attributes before, read the redirect locations, the attempts and what
    /// handlers left after. Apache: `execute(request, HttpClientContext)`.
    #[doc(alias("HttpClientContext"))]
    pub fn execute_in(
        &self,
        mut request: Request<Body>,
        context: &mut Context,
    ) -> Result<Response<ResponseBody>, Error> {
        let inner = &*self.inner;
        // A new execution, even one refused below, shows nothing of the last one's.
        context.clear_redirects();
        context.set_attempts(0);
        if let Some(clean) = strip_userinfo(request.uri()) {
            *request.uri_mut() = clean;
        }
        mark_secrets_sensitive(request.headers_mut());
        let own = if request.extensions().is_empty() {
            None
        } else {
            request.extensions_mut().remove::<RequestConfig>()
        };
        let config = match own {
            Some(own) => {
                own.check()?;
                own
            }
            None => inner.config.clone(),
        };
        let mut scope = Scope::new(
            &mut request,
            config,
            context,
            &inner.manager,
            &*inner.planner,
        )?;
        // `proceed` gives the error at least the facts of the execution's exchanges.
        Chain::new(&inner.chain).proceed(request, &mut scope)
    }

    /// Sends `request`, hands the response to `handler`, and then gives the
    /// connection back whatever the handler did: the unread rest of the body is
    /// drained (within the drain limits) or the connection closed. Apache:
    /// `execute(request, HttpClientResponseHandler)`.
    ///
    /// The handler reads the body through `response.body_mut()`, a [`BodyReader`]: it
    /// can read it and look at it, not take it, so the guarantee holds whatever the
    /// handler does, a panic included. A body meant to outlive the call is what
    /// [`execute`](Self::execute) is for.
    #[doc(alias("HttpClientResponseHandler", "ResponseHandler"))]
    pub fn execute_with<T>(
        &self,
        request: Request<Body>,
        handler: impl FnOnce(&mut Response<BodyReader<'_>>) -> T,
    ) -> Result<T, Error> {
        let (parts, mut body) = self.execute(request)?.into_parts();
        let mut response = Response::from_parts(parts, BodyReader::new(&mut body));
        let result = handler(&mut response);
        drop(response);
        // Read to its end, the body has given its connection back already; otherwise
        // it is drained or closed here.
        drop(body);
        Ok(result)
    }

    /// `GET url`.
    pub fn get(&self, url: impl IntoUri) -> Result<Response<ResponseBody>, Error> {
        self.execute(request(Method::GET, url.into_uri()?, Body::empty()))
    }

    /// `HEAD url`.
    pub fn head(&self, url: impl IntoUri) -> Result<Response<ResponseBody>, Error> {
        self.execute(request(Method::HEAD, url.into_uri()?, Body::empty()))
    }

    /// `POST url` with `body`.
    pub fn post(
        &self,
        url: impl IntoUri,
        body: impl Into<Body>,
    ) -> Result<Response<ResponseBody>, Error> {
        self.execute(request(Method::POST, url.into_uri()?, body.into()))
    }

    /// `PUT url` with `body`.
    pub fn put(
        &self,
        url: impl IntoUri,
        body: impl Into<Body>,
    ) -> Result<Response<ResponseBody>, Error> {
        self.execute(request(Method::PUT, url.into_uri()?, body.into()))
    }

    /// `DELETE url`.
    pub fn delete(&self, url: impl IntoUri) -> Result<Response<ResponseBody>, Error> {
        self.execute(request(Method::DELETE, url.into_uri()?, Body::empty()))
    }

    /// The pool's counts, the connections opened, and every close by
    /// [`CloseReason`](crate::CloseReason), counted once whichever layer closed it.
    #[doc(alias("getTotalStats"))]
    pub fn stats(&self) -> ManagerStats {
        self.inner.manager.stats()
    }

    /// The idle limits learned per route (`scheme://host:port`, then ` via proxy:port`
    /// for a tunnel), when the client learns them
    /// ([`ClientBuilder::learn_idle_limits`]); empty otherwise, or before any reused
    /// connection was idle at least [`LearnSettings::min_idle`](crate::LearnSettings)
    /// (1 s by default).
    pub fn idle_limits(&self) -> Vec<(String, IdleBounds)> {
        self.inner
            .learned
            .as_ref()
            .map_or_else(Vec::new, |learned| learned.bounds())
    }

    /// The connection manager, for `close_idle`, `close_expired`, per-route stats, and
    /// to close the client: `shutdown_immediate()` as Apache's `close()` (requests in
    /// flight fail at once), or `shutdown()` (they finish first).
    #[doc(alias("close", "CloseMode"))]
    pub fn connection_manager(&self) -> &PoolingConnectionManager {
        &self.inner.manager
    }

    /// The default request configuration.
    pub fn request_config(&self) -> &RequestConfig {
        &self.inner.config
    }
}

impl Default for Client {
    fn default() -> Self {
        Client::new()
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("chain", &self.inner.chain)
            .field("manager", &self.inner.manager)
            .field("config", &self.inner.config)
            .field("evictor", &self.inner.evictor.is_some())
            .finish_non_exhaustive()
    }
}

/// A request with `method`, `uri` and `body` and nothing else, built in place (the
/// `http` builder moves its parts through a `Result` at every step).
fn request(method: Method, uri: Uri, body: Body) -> Request<Body> {
    let mut request = Request::new(body);
    *request.method_mut() = method;
    *request.uri_mut() = uri;
    request
}

/// Marks the caller's credentials and cookies ([`is_secret_field`]) sensitive, as the
/// client's own (default headers, AUTH, the cookie store) are, so that no `Debug` of
/// the request (an interceptor's or a handler's log line) shows them.
// Inlined into `execute_in`, as `strip_userinfo` (url.rs) is.
#[inline(always)]
pub(crate) fn mark_secrets_sensitive(headers: &mut http::HeaderMap) {
    for (name, value) in headers.iter_mut() {
        if is_secret_field(name.as_str().as_bytes()) {
            value.set_sensitive(true);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcx_exec::ResponseInfo;
    use hcx_testserver::{Method, Reply, TestServer};
    use http::StatusCode;

    fn shareable<T: Clone + Send + Sync + 'static>() {}
    fn sendable<T: Send + 'static>() {}

    #[test]
    fn clients_are_shareable_and_bodies_cross_threads() {
        shareable::<Client>();
        sendable::<ResponseBody>();
        sendable::<Body>();
    }

    #[test]
    fn more_default_headers_than_a_header_map_holds_is_an_error_not_a_panic() {
        let mut builder = Client::builder();
        for i in 0..40_000 {
            let name = http::HeaderName::try_from(format!("x-h{i}")).expect("a valid name");
            builder = builder.default_header(name, http::HeaderValue::from_static("v"));
        }
        match builder.build() {
            Err(e) => assert!(e.is_invalid_request(), "{e}"),
            Ok(_) => panic!("40,000 default headers cannot fit"),
        }
    }

    #[test]
    fn default_headers_and_user_agent_yield_to_the_request_s_own()
    -> Result<(), Box<dyn std::error::Error>> {
        let server = TestServer::builder().default_reply(Reply::ok()).start()?;
        let client = Client::builder()
            .default_header(
                http::header::ACCEPT,
                http::HeaderValue::from_static("text/plain"),
            )
            .build()?;
        client.get(server.url("/a"))?;
        let request = Request::get(server.url("/b"))
            .header("user-agent", "mine/1")
            .header("accept", "*/*")
            .body(Body::empty())?;
        client.execute(request)?;
        let seen = server.requests();
        assert_eq!(
            seen[0].header("user-agent"),
            Some(crate::DEFAULT_USER_AGENT)
        );
        assert_eq!(seen[0].header("accept"), Some("text/plain"));
        assert_eq!(seen[1].header("user-agent"), Some("mine/1"));
        assert_eq!(seen[1].header("accept"), Some("*/*"));
        assert_eq!(seen[1].method, Method::GET);
        Ok(())
    }

    #[test]
    fn execute_with_gives_the_connection_back_whatever_the_handler_did()
    -> Result<(), Box<dyn std::error::Error>> {
        let server = TestServer::builder()
            .default_reply(Reply::ok().generated_body(10_000))
            .start()?;
        // A generous drain timeout: the test is about ownership, not timing.
        let client = Client::builder()
            .request_config(
                RequestConfig::default().with_drain(64 * 1024, std::time::Duration::from_secs(10)),
            )
            .build()?;
        let status = client
            .execute_with(Request::get(server.url("/")).body(Body::empty())?, |r| {
                (r.status(), r.body().info().map(|i| i.connection.reused))
            })?;
        assert_eq!(status, (StatusCode::OK, Some(false)));
        let len =
            client.execute_with(Request::get(server.url("/")).body(Body::empty())?, |r| {
                let mut all = Vec::new();
                std::io::Read::read_to_end(r.body_mut(), &mut all).map(|_| all.len())
            })??;
        assert_eq!(len, 10_000);
        assert_eq!(client.stats().pool.leased, 0);
        assert_eq!(client.stats().pool.available, 1);
        assert_eq!(server.stats().connections_accepted, 1);
        Ok(())
    }

    #[test]
    fn strategies_can_be_closures_or_shared_trait_objects() -> Result<(), Box<dyn std::error::Error>>
    {
        use hcx_reuse::{CloseReason, Decision, Exchange, KeepAlive};
        let server = TestServer::builder()
            .default_reply(Reply::new(500u16).body("busy"))
            .start()?;
        // Apache users often close after a server error; a closure says so, with a reason.
        let client = Client::builder()
            .reuse_strategy(|exchange: &Exchange<'_>| {
                if exchange.status().is_server_error() {
                    Err(CloseReason::Custom("server error"))
                } else {
                    Ok(())
                }
            })
            .build()?;
        let response = client.get(server.url("/"))?;
        assert_eq!(
            ResponseInfo::of(&response).map(|i| i.decision),
            Some(Decision::Close(CloseReason::Custom("server error")))
        );
        drop(response);
        assert_eq!(client.stats().pool.available, 0);

        let keep: std::sync::Arc<dyn hcx_reuse::KeepAliveStrategy> =
            std::sync::Arc::new(|_: &Exchange<'_>| {
                KeepAlive::For(std::time::Duration::from_secs(9))
            });
        let client = Client::builder().shared_keep_alive_strategy(keep).build()?;
        let response = client.get(server.url("/"))?;
        assert_eq!(
            ResponseInfo::of(&response).map(|i| i.decision),
            Some(Decision::keep(Some(std::time::Duration::from_secs(9))))
        );
        Ok(())
    }
}
