//! Building a [`Client`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

#[cfg(feature = "rustls")]
use hcx_exec::TlsIdentity;
use hcx_exec::is_secret_field;
use hcx_exec::{
    DefaultRoutePlanner, EnvProxyRoutePlanner, Error, ErrorKind, EventListener,
    IdleConnectionEvictor, MainExec, PoolingConnectionManager, PoolingConnectionManagerBuilder,
    Proxy, RequestConfig, Resolver, RoutePlanner, SocketConfig, TcpKeepalive,
};
use hcx_h1::Limits;
use hcx_pool::ReusePolicy;
use hcx_reuse::{
    ConnectionReuseStrategy, DefaultKeepAliveStrategy, DefaultReuseStrategy, KeepAliveStrategy,
    LearnSettings, LearnedIdleLimit,
};
use http::Uri;

use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};

use crate::chain::main::MainTransport;
use crate::chain::protocol::ProtocolExec;
use crate::chain::{
    ChainElement, ChainOp, ExecHandler, NamedChain, RequestInterceptor, ResponseInterceptor,
    UserTokenHandler, auth, backoff, compress, redirect, retry,
};
use crate::client::Client;
use crate::url::IntoUri;

/// The `User-Agent` sent when a request has none: `hcx/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("hcx/", env!("CARGO_PKG_VERSION"));

/// Builds a [`Client`]. Apache HttpClient 5: `HttpClientBuilder` /
/// `PoolingHttpClientConnectionManagerBuilder`.
///
/// Either give a ready [`PoolingConnectionManager`] (to share one pool between
/// clients), or set its limits here.
#[doc(alias("HttpClientBuilder", "HttpClients"))]
pub struct ClientBuilder {
    manager: Option<PoolingConnectionManager>,
    manager_builder: PoolingConnectionManagerBuilder,
    /// The connection-manager settings made on this builder, by name: an error with a
    /// [`connection_manager`](Self::connection_manager) of the caller's, which has its own.
    manager_settings: Vec<&'static str>,
    /// The socket options, given to the manager's builder at `build`.
    socket: SocketConfig,
    /// `tcp_keepalive`, kept apart so that a later `socket_config` does not drop it.
    tcp_keepalive: Option<Option<TcpKeepalive>>,
    /// The event listener, if set (also given to `manager_builder`).
    listener: Option<Arc<dyn EventListener>>,
    /// Per-route limits by URL, keyed by the planner's route at `build`.
    route_limits: Vec<(Uri, usize)>,
    planner: PlannerChoice,
    #[cfg(feature = "rustls")]
    tls: Option<TlsIdentity>,
    reuse: Arc<dyn ConnectionReuseStrategy>,
    /// Whether `reuse` is one of the caller's: it reads the request's fields, so
    /// PROTOCOL adds its defaults to them rather than leave them to the codec.
    own_reuse: bool,
    keep_alive: KeepAliveChoice,
    /// The margin for the default keep-alive strategy, applied (or refused) at `build`,
    /// whatever the order of the calls.
    keep_alive_margin: Option<Duration>,
    default_keep_alive: Option<Duration>,
    /// Whether the default keep-alive strategy learns idle limits.
    learning: bool,
    /// The settings `idle_limit_settings` gave (kept while learning is turned off and
    /// on again; refused at `build` with a custom keep-alive strategy, which would
    /// ignore them).
    learn_settings: Option<LearnSettings>,
    limits: Limits,
    /// The first configuration mistake, reported by `build`.
    invalid: Option<Error>,
    config: RequestConfig,
    timeouts: TimeoutShortcuts,
    default_headers: HeaderMap,
    /// Set when a default header did not fit; `build` reports it.
    too_many_headers: Option<http::header::MaxSizeReached>,
    user_agent: Option<HeaderValue>,
    chain_ops: Vec<ChainOp>,
    request_first: Vec<Arc<dyn RequestInterceptor>>,
    request_last: Vec<Arc<dyn RequestInterceptor>>,
    response_interceptors: Vec<Arc<dyn ResponseInterceptor>>,
    user_tokens: Option<Arc<dyn UserTokenHandler>>,
    /// `Some(idle limit)` when the evictor is on.
    evictor: Option<Option<Duration>>,
    #[cfg(feature = "cookies")]
    cookies: Option<Arc<crate::chain::CookieStore>>,
    pub(crate) retry: retry::Settings,
    pub(crate) backoff: backoff::Settings,
    pub(crate) redirect: redirect::Settings,
    pub(crate) auth: auth::Settings,
    pub(crate) compress: compress::Settings,
}

/// Where the route planner comes from.
enum PlannerChoice {
    /// `DefaultRoutePlanner`, through this proxy if any.
    Default(Option<Proxy>),
    /// `EnvProxyRoutePlanner::from_env`, read at `build`.
    Env,
    /// The user's.
    Custom(Arc<dyn RoutePlanner>),
}

/// The default keep-alive strategy (whose margin the builder can set) or the user's.
/// The builder's timeout shortcuts, kept apart from its [`RequestConfig`] so that
/// neither call order loses the other's setting.
#[derive(Debug, Clone, Copy, Default)]
struct TimeoutShortcuts {
    connection_request: Option<Duration>,
    response: Option<Option<Duration>>,
}

impl TimeoutShortcuts {
    fn apply(self, mut config: RequestConfig) -> RequestConfig {
        if let Some(timeout) = self.connection_request {
            config = config.with_connection_request_timeout(timeout);
        }
        if let Some(timeout) = self.response {
            config = config.with_response_timeout(timeout);
        }
        config
    }
}

enum KeepAliveChoice {
    Default(DefaultKeepAliveStrategy),
    Custom(Arc<dyn KeepAliveStrategy>),
}

impl ClientBuilder {
    pub(crate) fn new() -> Self {
        ClientBuilder {
            manager: None,
            manager_builder: PoolingConnectionManager::builder(),
            manager_settings: Vec::new(),
            socket: SocketConfig::default(),
            tcp_keepalive: None,
            listener: None,
            route_limits: Vec::new(),
            planner: PlannerChoice::Default(None),
            #[cfg(feature = "rustls")]
            tls: None,
            reuse: Arc::new(DefaultReuseStrategy),
            own_reuse: false,
            keep_alive: KeepAliveChoice::Default(DefaultKeepAliveStrategy::default()),
            keep_alive_margin: None,
            default_keep_alive: None,
            learning: true,
            learn_settings: None,
            limits: Limits::default(),
            invalid: None,
            config: RequestConfig::default(),
            timeouts: TimeoutShortcuts::default(),
            default_headers: HeaderMap::new(),
            too_many_headers: None,
            user_agent: Some(HeaderValue::from_static(DEFAULT_USER_AGENT)),
            chain_ops: Vec::new(),
            request_first: Vec::new(),
            request_last: Vec::new(),
            response_interceptors: Vec::new(),
            user_tokens: None,
            evictor: None,
            #[cfg(feature = "cookies")]
            cookies: None,
            retry: retry::Settings::default(),
            backoff: backoff::Settings::default(),
            redirect: redirect::Settings::default(),
            auth: auth::Settings::default(),
            compress: compress::Settings::default(),
        }
    }

    /// Records a configuration mistake; `build` reports the first one.
    pub(crate) fn invalid(mut self, error: Error) -> Self {
        self.invalid = self.invalid.or(Some(error));
        self
    }

    /// Uses this connection manager (and its pool) instead of building one. The
    /// manager's settings are then the manager's own: one made on this builder as well
    /// (`max_total`, `max_per_route`, `max_per_route_for`, `time_to_live`,
    /// `reuse_policy`, `socket_config`, `tcp_keepalive`, `resolver`, `connect_timeout`,
    /// `socket_timeout`, `validate_after_inactivity`, `yield_when_crowded`,
    /// `event_listener`) is a
    /// [`Config`](ErrorKind::Config) error from [`build`](Self::build), not silently
    /// dropped. Apache: `setConnectionManager`.
    #[doc(alias("setConnectionManager"))]
    pub fn connection_manager(mut self, manager: PoolingConnectionManager) -> Self {
        self.manager = Some(manager);
        self
    }

    /// Most connections in all. Default 25. Apache: `setMaxConnTotal`.
    #[doc(alias("setMaxConnTotal", "setMaxTotal"))]
    pub fn max_total(mut self, max: usize) -> Self {
        self.manager_builder = self.manager_builder.max_total(max);
        self.manager_settings.push("max_total");
        self
    }

    /// Most connections per route. Default 5. Apache: `setMaxConnPerRoute`.
    #[doc(alias("setMaxConnPerRoute", "setDefaultMaxPerRoute"))]
    pub fn max_per_route(mut self, max: usize) -> Self {
        self.manager_builder = self.manager_builder.max_per_route(max);
        self.manager_settings.push("max_per_route");
        self
    }

    /// The limit of the route requests to `url` take (as the route planner decides it
    /// when the client is built: scheme, host, port, proxy, TLS identity, and the
    /// [`local_address`](RequestConfig::local_address) of the default request config:
    /// a request whose own `RequestConfig` has another takes another route), in place
    /// of [`max_per_route`](Self::max_per_route); 0 blocks the route. A URL that cannot be
    /// used is reported by [`build`](Self::build). Apache:
    /// `setMaxPerRoute(HttpRoute, int)`.
    ///
    /// ```
    /// let client = hcx::Client::builder()
    ///     .max_per_route(5)
    ///     .max_per_route_for("http://api.internal:8080", 50)
    ///     .build()?;
    /// # Ok::<(), hcx::Error>(())
    /// ```
    #[doc(alias("setMaxPerRoute"))]
    pub fn max_per_route_for(mut self, url: impl IntoUri, max: usize) -> Self {
        match url.into_uri() {
            Ok(uri) => self.route_limits.push((uri, max)),
            Err(e) => self.invalid = self.invalid.or(Some(e)),
        }
        self.manager_settings.push("max_per_route_for");
        self
    }

    /// Sends every request through `proxy`: `http` ones in absolute-form to the proxy
    /// (one pool for the proxy), `https` ones through a `CONNECT` tunnel per origin.
    /// Replaces an earlier [`proxy_from_env`](Self::proxy_from_env) or
    /// [`route_planner`](Self::route_planner). Apache: `setProxy(HttpHost)`.
    ///
    /// ```
    /// let proxy = hcx::Proxy::from_url("http://proxy.corp:3128")?.with_basic_auth("me", "secret");
    /// let client = hcx::Client::builder().proxy(proxy).build()?;
    /// # Ok::<(), hcx::Error>(())
    /// ```
    #[doc(alias("setProxy"))]
    pub fn proxy(mut self, proxy: Proxy) -> Self {
        if let Err(e) = proxy.check() {
            return self.invalid(e);
        }
        self.planner = PlannerChoice::Default(Some(proxy));
        self
    }

    /// Takes the proxies from the environment when the client is built (`http_proxy`,
    /// `https_proxy`, `all_proxy`, `no_proxy`, in either case: see
    /// [`EnvProxyRoutePlanner`]). Off by default: a library does not change where it
    /// sends requests because of a variable nobody meant for it. Apache:
    /// `useSystemProperties()` / `SystemDefaultRoutePlanner`.
    #[doc(alias("useSystemProperties", "SystemDefaultRoutePlanner"))]
    pub fn proxy_from_env(mut self) -> Self {
        self.planner = PlannerChoice::Env;
        self
    }

    /// Decides routes with `planner` (any `Fn(&Uri) -> Result<Route, Error>`), which
    /// then also chooses the TLS identity of `https` routes:
    /// [`tls_config`](Self::tls_config) cannot be combined with it. Apache:
    /// `setRoutePlanner`.
    #[doc(alias("setRoutePlanner"))]
    pub fn route_planner(mut self, planner: impl RoutePlanner + 'static) -> Self {
        self.planner = PlannerChoice::Custom(Arc::new(planner));
        self
    }

    /// Reports what happens to connections and exchanges — leases, connects, heads,
    /// reuse decisions, releases, closes with their reason, retries, redirects — to
    /// `listener` ([`EventListener`]). OkHttp: `eventListener`; Apache has none. The
    /// listener belongs to the connection manager: with
    /// [`connection_manager`](Self::connection_manager), set it on that manager's
    /// builder instead (this one is then an error). One listener per client: for
    /// more, give a pair, `(first, second)`, which tells both every event.
    pub fn event_listener(mut self, listener: impl EventListener + 'static) -> Self {
        let listener: Arc<dyn EventListener> = Arc::new(listener);
        self.listener = Some(Arc::clone(&listener));
        self.manager_builder = self.manager_builder.event_listener(listener);
        self
    }

    /// Makes `https` connections with this rustls configuration (custom roots, client
    /// certificate, protocol versions…) in place of the default (the bundled webpki
    /// roots). ALPN offers `http/1.1` alone whatever the config lists (hcx speaks
    /// HTTP/1.1 only; a config shared with an HTTP/2 client is narrowed). Connections made
    /// with it are keyed apart from any other configuration's. Apache: 4.5's
    /// `setSSLContext` / `setSSLSocketFactory`; 5.x's `setSSLSocketFactory` /
    /// `setTlsSocketStrategy` (5.4+) on the connection manager builder. Feature `rustls`.
    ///
    /// ```no_run
    /// use std::sync::Arc;
    /// use hcx::rustls::pki_types::{CertificateDer, pem::PemObject};
    ///
    /// let mut roots = hcx::rustls::RootCertStore::empty();
    /// for cert in CertificateDer::pem_file_iter("corp-ca.pem")? {
    ///     roots.add(cert?)?;
    /// }
    /// let config = hcx::rustls::ClientConfig::builder_with_provider(hcx::crypto_provider())
    ///     .with_safe_default_protocol_versions()?
    ///     .with_root_certificates(roots)
    ///     .with_no_client_auth();
    /// let client = hcx::Client::builder().tls_config(Arc::new(config)).build()?;
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    #[cfg(feature = "rustls")]
    #[doc(alias("setSSLContext", "setSSLSocketFactory", "setTlsSocketStrategy"))]
    pub fn tls_config(self, config: Arc<rustls::ClientConfig>) -> Self {
        self.tls_identity(TlsIdentity::new("custom", config))
    }

    /// Like [`tls_config`](Self::tls_config), with an identity named as the pool's
    /// statistics and messages should show it. A request can carry its own
    /// [`TlsIdentity`] in its extensions, replacing this one. Feature `rustls`.
    #[cfg(feature = "rustls")]
    pub fn tls_identity(mut self, identity: TlsIdentity) -> Self {
        self.tls = Some(identity);
        self
    }

    /// A hard limit on each connection's life, from its connect, whatever keep-alive
    /// the server grants; `None` (the default): no limit. Apache:
    /// `setConnectionTimeToLive` / `ConnectionConfig.timeToLive`.
    #[doc(alias("setConnectionTimeToLive", "setTimeToLive"))]
    pub fn time_to_live(mut self, ttl: Option<Duration>) -> Self {
        self.manager_builder = self.manager_builder.time_to_live(ttl);
        self.manager_settings.push("time_to_live");
        self
    }

    /// Which idle connection a request gets: [`ReusePolicy::Lifo`] (the default: the
    /// most recently used, so surplus connections go idle and expire) or
    /// [`ReusePolicy::Fifo`] (round-robin, all stay warm). Apache: `setConnPoolPolicy`.
    #[doc(alias("setConnPoolPolicy"))]
    pub fn reuse_policy(mut self, policy: ReusePolicy) -> Self {
        self.manager_builder = self.manager_builder.reuse_policy(policy);
        self.manager_settings.push("reuse_policy");
        self
    }

    /// Socket options of every connection: `TCP_NODELAY` (on by default), send and
    /// receive buffer sizes, linger. Apache: `setDefaultSocketConfig`.
    #[doc(alias("setDefaultSocketConfig"))]
    pub fn socket_config(mut self, socket: SocketConfig) -> Self {
        self.socket = socket;
        self.manager_settings.push("socket_config");
        self
    }

    /// TCP keep-alive probes on every connection: the first after `idle`, then every
    /// `interval`, dead after `retries` unanswered; `None` (the default, as Apache's
    /// `soKeepAlive` in 4.5 and 5.0–5.5; 5.6, with httpcore 5.4, probes after 5 s idle,
    /// every 5 s, 3 times): off. Probes sent more often than a NAT's or load balancer's
    /// idle timeout keep the flow alive there. Shorthand for the
    /// [`SocketConfig::tcp_keepalive`] field, which it sets over
    /// [`socket_config`](Self::socket_config) whatever the order of the calls.
    pub fn tcp_keepalive(mut self, keepalive: Option<TcpKeepalive>) -> Self {
        self.tcp_keepalive = Some(keepalive);
        self.manager_settings.push("tcp_keepalive");
        self
    }

    /// How host names are resolved. Default: the system resolver. Apache:
    /// `setDnsResolver`.
    #[doc(alias("setDnsResolver"))]
    pub fn resolver(mut self, resolver: impl Resolver + 'static) -> Self {
        self.manager_builder = self.manager_builder.resolver(resolver);
        self.manager_settings.push("resolver");
        self
    }

    /// Probe reused connections idle at least this long (`None`: never). Default
    /// zero: every reuse. Apache: `setValidateAfterInactivity` (2 s there).
    #[doc(alias("setValidateAfterInactivity"))]
    pub fn validate_after_inactivity(mut self, after: Option<Duration>) -> Self {
        self.manager_builder = self.manager_builder.validate_after_inactivity(after);
        self.manager_settings.push("validate_after_inactivity");
        self
    }

    /// Whether an exchange yields its CPU once before it first sleeps waiting for its
    /// response when more connections are leased than the process has CPUs. Default
    /// `true`; see [`PoolingConnectionManagerBuilder::yield_when_crowded`].
    ///
    /// [`PoolingConnectionManagerBuilder::yield_when_crowded`]: hcx_exec::PoolingConnectionManagerBuilder::yield_when_crowded
    pub fn yield_when_crowded(mut self, yield_when_crowded: bool) -> Self {
        self.manager_builder = self.manager_builder.yield_when_crowded(yield_when_crowded);
        self.manager_settings.push("yield_when_crowded");
        self
    }

    /// Decides whether a connection may be reused after a response. Default:
    /// [`DefaultReuseStrategy`]. Any `Fn(&Exchange) -> Result<(), CloseReason>` closure works. Apache:
    /// `setConnectionReuseStrategy`.
    #[doc(alias("setConnectionReuseStrategy"))]
    pub fn reuse_strategy(mut self, strategy: impl ConnectionReuseStrategy + 'static) -> Self {
        self.reuse = Arc::new(strategy);
        self.own_reuse = true;
        self
    }

    /// Decides how long a reusable connection may stay idle. Default:
    /// [`DefaultKeepAliveStrategy`] (the server's `Keep-Alive: timeout`, else 30 s).
    /// Any `Fn(&Exchange) -> KeepAlive` closure works. Apache:
    /// `setKeepAliveStrategy`.
    #[doc(alias("setKeepAliveStrategy"))]
    pub fn keep_alive_strategy(mut self, strategy: impl KeepAliveStrategy + 'static) -> Self {
        self.keep_alive = KeepAliveChoice::Custom(Arc::new(strategy));
        self
    }

    /// The safety margin the default keep-alive strategy takes off a server's
    /// `Keep-Alive: timeout=N` (at most half of N), so that a connection is never sent
    /// a request just as the server closes it. Default 1 s; `Duration::ZERO` trusts the
    /// server's figure. With a keep-alive strategy of your own, set its margin there:
    /// [`build`](Self::build) reports the conflict.
    pub fn keep_alive_margin(mut self, margin: Duration) -> Self {
        self.keep_alive_margin = Some(margin);
        self
    }

    /// How long the default keep-alive strategy keeps a connection whose server sent
    /// no usable `Keep-Alive: timeout`. Default 30 s; `Duration::ZERO` keeps no such
    /// connection. Unlike replacing the strategy, the server's `timeout`, the
    /// [margin](Self::keep_alive_margin) and the [learned idle
    /// limits](Self::learn_idle_limits) still apply. With a keep-alive strategy of
    /// your own, [`build`](Self::build) reports the conflict. Apache 5:
    /// `RequestConfig.setDefaultKeepAlive` (default 3 min there).
    #[doc(alias("setDefaultKeepAlive"))]
    pub fn default_keep_alive(mut self, keep: Duration) -> Self {
        self.default_keep_alive = Some(keep);
        self
    }

    /// Learns, per route, how long idle connections survive, and stops reusing
    /// connections idler than that: the defence against NAT gateways, load balancers
    /// and firewalls that drop idle flows without a word ([`LearnedIdleLimit`], over
    /// the default keep-alive strategy). On by default: until a reused connection dies
    /// idle it changes nothing, and it costs no measurable time (docs/benchmarks.md,
    /// "Learned idle limits"). With the RETRY layer on, idempotent requests probe
    /// longer idle times now and then so the limit follows a middlebox that grows
    /// more patient. A keep-alive strategy of your own is used as given: wrap it in
    /// [`LearnedIdleLimit::wrapping`] to learn over it. [`Client::idle_limits`] shows
    /// what was learned. No Apache equivalent.
    pub fn learn_idle_limits(mut self, on: bool) -> Self {
        self.learning = on;
        self
    }

    /// The settings of the learned idle limits (and turns them on; turned off and on
    /// again with [`learn_idle_limits`](Self::learn_idle_limits), they are kept). With
    /// a keep-alive strategy of your own, which is used as given, [`build`](Self::build)
    /// reports the conflict: give the settings to [`LearnedIdleLimit::with_settings`]
    /// over it.
    pub fn idle_limit_settings(mut self, settings: LearnSettings) -> Self {
        self.learning = true;
        self.learn_settings = Some(settings);
        self
    }

    /// Like [`reuse_strategy`](Self::reuse_strategy), for a strategy already behind
    /// an `Arc` (shared with other clients).
    pub fn shared_reuse_strategy(mut self, strategy: Arc<dyn ConnectionReuseStrategy>) -> Self {
        self.reuse = strategy;
        self.own_reuse = true;
        self
    }

    /// Like [`keep_alive_strategy`](Self::keep_alive_strategy), for a strategy already
    /// behind an `Arc`.
    pub fn shared_keep_alive_strategy(mut self, strategy: Arc<dyn KeepAliveStrategy>) -> Self {
        self.keep_alive = KeepAliveChoice::Custom(strategy);
        self
    }

    /// Limits on response heads (size, field count, 1xx count), a proxy's answer to a
    /// `CONNECT` included. Default 64 KiB, 100, 16. With a
    /// [`connection_manager`](Self::connection_manager) of your own, the `CONNECT`
    /// answer is bounded by that manager's
    /// [`tunnel_limits`](PoolingConnectionManagerBuilder::tunnel_limits) instead: set
    /// them on its builder.
    /// A `max_head_bytes` below the shortest head (16 bytes), a `max_headers` or a
    /// `max_informational` of 0 is a [`Config`](ErrorKind::Config) error from
    /// [`build`](Self::build) ([`Limits::unusable`]).
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The default [`RequestConfig`] (timeouts, drain limits); a request can carry its
    /// own in its extensions. The timeout shortcuts below win over it whatever the
    /// order of the calls. Apache: `setDefaultRequestConfig`.
    #[doc(alias("setDefaultRequestConfig"))]
    pub fn request_config(mut self, config: RequestConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the default connection request (pool) timeout, over
    /// [`request_config`](Self::request_config). Default 3 minutes.
    /// `Duration::ZERO` never waits: a request fails at once with
    /// [`LeaseTimeout`](ErrorKind::LeaseTimeout) when no connection is free, as in
    /// Apache 5. Apache 4.5 reads 0 (and −1) as "wait forever": port those as
    /// `Duration::MAX`.
    #[doc(alias("setConnectionRequestTimeout"))]
    pub fn connection_request_timeout(mut self, timeout: Duration) -> Self {
        self.timeouts.connection_request = Some(timeout);
        self
    }

    /// The connection manager's connect timeout: requests whose [`RequestConfig`] sets
    /// none (the default) use it. Default 3 minutes. Zero is a
    /// [`Config`](ErrorKind::Config) error from [`build`](Self::build): Apache reads 0
    /// as "no limit", which a port would carry over into a client that never connects.
    /// Apache: `ConnectionConfig.setConnectTimeout`.
    #[doc(alias("setConnectTimeout"))]
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.manager_builder = self.manager_builder.connect_timeout(timeout);
        self.manager_settings.push("connect_timeout");
        self
    }

    /// The connection manager's socket timeout: requests whose [`RequestConfig`] sets
    /// no response timeout (the default, a request's own included) use it. Default
    /// 3 minutes, as Apache 5.1+ (4.5 and 5.0 have none); `None`: wait forever.
    /// `Some(Duration::ZERO)` is a [`Config`](ErrorKind::Config) error from
    /// [`build`](Self::build). Apache: `ConnectionConfig.setSocketTimeout`.
    #[doc(alias("setSocketTimeout", "setSoTimeout"))]
    pub fn socket_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.manager_builder = self.manager_builder.socket_timeout(timeout);
        self.manager_settings.push("socket_timeout");
        self
    }

    /// Sets the default response timeout, over
    /// [`request_config`](Self::request_config): the socket timeout of every exchange
    /// of a request that carries no [`RequestConfig`] of its own. Default `None`: the
    /// [`socket_timeout`](Self::socket_timeout). `Some(Duration::ZERO)` is a
    /// [`Config`](ErrorKind::Config) error from [`build`](Self::build) (Apache's 0 is
    /// "no limit": give a long duration). Apache: `RequestConfig.setResponseTimeout`
    /// on the default request config; a request's own config replaces it whole, so a
    /// timeout every request must keep belongs in `socket_timeout`.
    #[doc(alias("setResponseTimeout"))]
    pub fn response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.timeouts.response = Some(timeout);
        self
    }

    /// Adds a header sent with every request that does not set that header itself.
    /// Apache: `setDefaultHeaders` (5.x's; 4.5's adds the default beside the
    /// request's own). Unlike Apache's, default credentials (`Authorization`,
    /// `Cookie`, and any value marked sensitive with `HeaderValue::set_sensitive`: an
    /// API key) are not sent after a redirect has left the request's origin, as the
    /// caller's own are not ([`Scope::left_origin`](crate::chain::Scope::left_origin)).
    /// A default `Proxy-Authorization` stays: it is the proxy's, and only ever written
    /// to a forward proxy (never in a request sent to an origin).
    #[doc(alias("setDefaultHeaders"))]
    pub fn default_header(mut self, name: HeaderName, mut value: HeaderValue) -> Self {
        // Credentials are marked sensitive, so no `Debug` of the builder shows them.
        if is_secret_field(name.as_str().as_bytes()) {
            value.set_sensitive(true);
        }
        if let Err(e) = self.default_headers.try_append(name, value) {
            self.too_many_headers.get_or_insert(e);
        }
        self
    }

    /// The `User-Agent` sent when a request has none (`None`: send none). Default
    /// `hcx/<version>`. Apache: `setUserAgent`.
    #[doc(alias("setUserAgent"))]
    pub fn user_agent(mut self, value: Option<HeaderValue>) -> Self {
        self.user_agent = value;
        self
    }

    /// Adds `handler` first in the exec chain, before REDIRECT: it sees each request
    /// once. Apache: `addExecInterceptorFirst`.
    #[doc(alias("addExecInterceptorFirst"))]
    pub fn add_handler_first(
        mut self,
        name: impl Into<ChainElement>,
        handler: impl ExecHandler + 'static,
    ) -> Self {
        self.chain_ops
            .push(ChainOp::First(name.into(), Arc::new(handler)));
        self
    }

    /// Adds `handler` last in the exec chain, just before MAIN_TRANSPORT: it sees every
    /// attempt and every hop, with the headers PROTOCOL added. Apache:
    /// `addExecInterceptorLast` (which appends after the main transport, where no
    /// request reaches; here "last" is the last place that runs).
    #[doc(alias("addExecInterceptorLast"))]
    pub fn add_handler_last(
        mut self,
        name: impl Into<ChainElement>,
        handler: impl ExecHandler + 'static,
    ) -> Self {
        self.chain_ops
            .push(ChainOp::Last(name.into(), Arc::new(handler)));
        self
    }

    /// Adds `handler` just before the element `existing` (built in, or one of yours).
    /// Before RETRY it sees one call per request (per redirect hop); before REDIRECT,
    /// one per execution. A name that is not in the chain is reported by `build`.
    /// Apache: `addExecInterceptorBefore`.
    #[doc(alias("addExecInterceptorBefore"))]
    pub fn add_handler_before(
        mut self,
        existing: impl Into<ChainElement>,
        name: impl Into<ChainElement>,
        handler: impl ExecHandler + 'static,
    ) -> Self {
        self.chain_ops.push(ChainOp::Before(
            existing.into(),
            name.into(),
            Arc::new(handler),
        ));
        self
    }

    /// Adds `handler` just after the element `existing`. After RETRY it sees every
    /// attempt. Apache: `addExecInterceptorAfter`.
    #[doc(alias("addExecInterceptorAfter"))]
    pub fn add_handler_after(
        mut self,
        existing: impl Into<ChainElement>,
        name: impl Into<ChainElement>,
        handler: impl ExecHandler + 'static,
    ) -> Self {
        self.chain_ops.push(ChainOp::After(
            existing.into(),
            name.into(),
            Arc::new(handler),
        ));
        self
    }

    /// Replaces the element `existing` with `handler`, keeping its name and place.
    /// Apache: `replaceExecInterceptor`.
    #[doc(alias("replaceExecInterceptor"))]
    pub fn replace_handler(
        mut self,
        existing: impl Into<ChainElement>,
        handler: impl ExecHandler + 'static,
    ) -> Self {
        self.chain_ops
            .push(ChainOp::Replace(existing.into(), Arc::new(handler)));
        self
    }

    /// Adds a request interceptor that runs before the default headers (and COMPRESS's
    /// `Accept-Encoding`) are applied, once per attempt; an `Accept-Encoding` it sets
    /// is sent as it is. Apache: `addRequestInterceptorFirst`.
    #[doc(alias("addRequestInterceptorFirst"))]
    pub fn add_request_interceptor_first(
        mut self,
        interceptor: impl RequestInterceptor + 'static,
    ) -> Self {
        self.request_first.push(Arc::new(interceptor));
        self
    }

    /// Adds a request interceptor that runs after the default headers are applied
    /// (it sees `User-Agent` and COMPRESS's `Accept-Encoding`), once per attempt.
    /// Apache: `addRequestInterceptorLast`.
    #[doc(alias("addRequestInterceptorLast"))]
    pub fn add_request_interceptor_last(
        mut self,
        interceptor: impl RequestInterceptor + 'static,
    ) -> Self {
        self.request_last.push(Arc::new(interceptor));
        self
    }

    /// Adds a response interceptor that runs before those added so far. Apache:
    /// `addResponseInterceptorFirst`.
    #[doc(alias("addResponseInterceptorFirst"))]
    pub fn add_response_interceptor_first(
        mut self,
        interceptor: impl ResponseInterceptor + 'static,
    ) -> Self {
        self.response_interceptors.insert(0, Arc::new(interceptor));
        self
    }

    /// Adds a response interceptor that runs after those added so far. Apache:
    /// `addResponseInterceptorLast`.
    #[doc(alias("addResponseInterceptorLast"))]
    pub fn add_response_interceptor_last(
        mut self,
        interceptor: impl ResponseInterceptor + 'static,
    ) -> Self {
        self.response_interceptors.push(Arc::new(interceptor));
        self
    }

    /// Decides the user token a connection is released under when the request's
    /// context has none (stateful connections). Default: none. Apache:
    /// `setUserTokenHandler`.
    #[doc(alias("setUserTokenHandler"))]
    pub fn user_token_handler(mut self, handler: impl UserTokenHandler + 'static) -> Self {
        self.user_tokens = Some(Arc::new(handler));
        self
    }

    /// Starts a background thread that closes expired connections (keep-alive or
    /// time-to-live run out) when they fall due, so a quiet client leaves no socket the
    /// server closed in `CLOSE_WAIT`. Off by default. The thread stops when the last
    /// clone of the client is dropped. Apache: `evictExpiredConnections()`.
    #[doc(alias("evictExpiredConnections"))]
    pub fn evict_expired_connections(mut self) -> Self {
        self.evictor = Some(self.evictor.flatten());
        self
    }

    /// Like [`evict_expired_connections`](Self::evict_expired_connections), and also
    /// closes connections idle at least `idle_for`, whatever their keep-alive. Zero is
    /// a [`Config`](ErrorKind::Config) error from [`build`](Self::build): it would close
    /// every connection as it is released. Apache: `evictIdleConnections(TimeValue)`.
    #[doc(alias("evictIdleConnections"))]
    pub fn evict_idle_connections(mut self, idle_for: Duration) -> Self {
        self.evictor = Some(Some(idle_for));
        self
    }

    /// Keeps cookies in `store`: `Set-Cookie` fields are stored, and requests carry the
    /// cookies that apply to them (unless they set a `Cookie` of their own, or are a
    /// `TRACE` or `CONNECT`). Off by default, where Apache keeps a store by default:
    /// backend callers rarely want cookies shared between requests. Keep a clone of the
    /// `Arc` to read or clear it.
    /// Apache: `setDefaultCookieStore`. Feature `cookies`.
    #[cfg(feature = "cookies")]
    #[doc(alias("setDefaultCookieStore"))]
    pub fn cookie_store(mut self, store: Arc<crate::chain::CookieStore>) -> Self {
        self.cookies = Some(store);
        self
    }

    /// Builds the client. A zero pool limit, a URL that cannot be used, or a setting
    /// that does not apply is an error.
    pub fn build(self) -> Result<Client, Error> {
        if let Some(e) = self.invalid {
            return Err(e);
        }
        if let Some(e) = self.too_many_headers {
            return Err(e.into());
        }
        let planner = self.planner.build(
            #[cfg(feature = "rustls")]
            self.tls,
        )?;
        // Limits that fail every response, after the request was sent, as the
        // server's fault.
        if let Some(why) = self.limits.unusable() {
            return Err(Error::new(ErrorKind::Config, why));
        }
        let mut socket = self.socket;
        if let Some(keepalive) = self.tcp_keepalive {
            socket.tcp_keepalive = keepalive;
        }
        // The response head limits bound a proxy's answer to a CONNECT too.
        let mut manager_builder = self
            .manager_builder
            .socket_config(socket)
            .tunnel_limits(self.limits);
        // A proxy's 407 is answered from the same credentials provider: to a CONNECT
        // by the manager, through a forward proxy by AUTH.
        let proxy_auth = auth::proxy_authenticator(&self.auth);
        if let Some(authenticator) = &proxy_auth {
            manager_builder = manager_builder.proxy_authenticator(authenticator.clone());
        }
        for (uri, max) in self.route_limits {
            // The route the client's requests to it take (with the default
            // request config's local address), so that the limit applies to them.
            let route = crate::chain::plan(
                &*planner,
                #[cfg(feature = "rustls")]
                None,
                self.config.local_address,
                &uri,
            )?;
            manager_builder = manager_builder.max_per_route_for(route, max);
        }
        let manager = match self.manager {
            Some(_) if self.listener.is_some() => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "event_listener and connection_manager were both set: give the listener \
                     to the manager's builder (PoolingConnectionManagerBuilder::event_listener)",
                ));
            }
            Some(_) if !self.manager_settings.is_empty() => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "{} set on the client builder with a connection_manager of your own, \
                         which would ignore them: set them on its builder \
                         (PoolingConnectionManager::builder())",
                        self.manager_settings.join(", ")
                    ),
                ));
            }
            Some(manager) => manager,
            None => manager_builder.build()?,
        };
        let keep_alive_choice = match self.keep_alive {
            KeepAliveChoice::Default(mut strategy) => {
                if let Some(margin) = self.keep_alive_margin {
                    strategy = strategy.with_margin(margin);
                }
                if let Some(keep) = self.default_keep_alive {
                    strategy = strategy.with_default(keep);
                }
                KeepAliveChoice::Default(strategy)
            }
            KeepAliveChoice::Custom(_) if self.keep_alive_margin.is_some() => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "keep_alive_margin applies to the default keep-alive strategy; \
                     set the margin on the custom strategy instead",
                ));
            }
            KeepAliveChoice::Custom(_) if self.default_keep_alive.is_some() => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "default_keep_alive applies to the default keep-alive strategy; \
                     set the default on the custom strategy instead",
                ));
            }
            KeepAliveChoice::Custom(_) if self.learning && self.learn_settings.is_some() => {
                return Err(Error::new(
                    ErrorKind::Config,
                    "idle_limit_settings applies to the learned idle limits over the default \
                     keep-alive strategy; a custom one is used as given: wrap it in \
                     LearnedIdleLimit::wrapping(…).with_settings(…) instead",
                ));
            }
            choice => choice,
        };
        // A strategy of the caller's reads the request's fields
        // (`Exchange::request_headers`): PROTOCOL then adds its defaults to them, where
        // the codec's would not be seen.
        let own_strategy =
            self.own_reuse || matches!(keep_alive_choice, KeepAliveChoice::Custom(_));
        let mut learned = None;
        let keep_alive: Arc<dyn KeepAliveStrategy> = match (keep_alive_choice, self.learning) {
            (KeepAliveChoice::Default(strategy), true) => {
                let settings = self.learn_settings.unwrap_or_default();
                let strategy =
                    Arc::new(LearnedIdleLimit::wrapping(strategy).with_settings(settings));
                learned = Some(Arc::clone(&strategy));
                strategy
            }
            (KeepAliveChoice::Default(strategy), false) => Arc::new(strategy),
            (KeepAliveChoice::Custom(strategy), _) => strategy,
        };
        let exec = MainExec::new(self.reuse, keep_alive)
            .with_limits(self.limits)
            .with_idle_probes(self.retry.covers_probes());
        let mut default_headers = self.default_headers;
        if let Some(agent) = self.user_agent
            && !default_headers.contains_key(USER_AGENT)
        {
            default_headers.try_insert(USER_AGENT, agent)?;
        }
        // The default chain, outermost first (Apache 5's order), then the user's changes.
        let mut chain = NamedChain::default();
        let layers = [
            (ChainElement::Redirect, redirect::handler(&self.redirect)),
            (ChainElement::BackOff, backoff::handler(&self.backoff)?),
            (ChainElement::Compress, compress::handler(&self.compress)),
            (ChainElement::Retry, retry::handler(&self.retry)),
            (ChainElement::Auth, auth::handler(&self.auth, proxy_auth)),
        ];
        for (name, handler) in layers {
            if let Some(handler) = handler {
                chain.push(name, handler);
            }
        }
        chain.push(
            ChainElement::Protocol,
            Arc::new(ProtocolExec::new(
                default_headers,
                !own_strategy,
                self.request_first,
                self.request_last,
                self.response_interceptors,
                #[cfg(feature = "cookies")]
                self.cookies,
            )),
        );
        chain.push_engine(Arc::new(MainTransport {
            exec,
            user_tokens: self.user_tokens,
        }));
        for op in self.chain_ops {
            chain.apply(op)?;
        }
        let config = self.timeouts.apply(self.config);
        config.check()?;
        let evictor = match self.evictor {
            Some(idle_for) => Some(IdleConnectionEvictor::start(&manager, idle_for)?),
            None => None,
        };
        Ok(Client::from_parts(
            manager, chain, config, planner, evictor, learned,
        ))
    }
}

impl PlannerChoice {
    fn build(
        self,
        #[cfg(feature = "rustls")] tls: Option<TlsIdentity>,
    ) -> Result<Arc<dyn RoutePlanner>, Error> {
        Ok(match self {
            PlannerChoice::Default(proxy) => {
                let mut planner = DefaultRoutePlanner::new();
                if let Some(proxy) = proxy {
                    planner = planner.with_proxy(proxy);
                }
                #[cfg(feature = "rustls")]
                if let Some(identity) = tls {
                    planner = planner.with_tls(identity);
                }
                Arc::new(planner)
            }
            PlannerChoice::Env => {
                #[allow(unused_mut)]
                let mut planner = EnvProxyRoutePlanner::from_env()?;
                #[cfg(feature = "rustls")]
                if let Some(identity) = tls {
                    planner = planner.with_tls(identity);
                }
                Arc::new(planner)
            }
            PlannerChoice::Custom(planner) => {
                #[cfg(feature = "rustls")]
                if tls.is_some() {
                    return Err(Error::new(
                        ErrorKind::Config,
                        "tls_config and route_planner were both set: a custom route planner \
                         chooses the TLS identity of its routes",
                    ));
                }
                planner
            }
        })
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("manager", &self.manager)
            .field("manager_builder", &self.manager_builder)
            .field("config", &self.config)
            .field("timeouts", &self.timeouts)
            .field("default_headers", &self.default_headers)
            .field("user_agent", &self.user_agent)
            .field("chain_changes", &self.chain_ops.len())
            .finish_non_exhaustive()
    }
}
