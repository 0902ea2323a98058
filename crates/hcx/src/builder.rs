//! Building a [`Client`].

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hcx_exec::{
    Error, ErrorKind, MainExec, PoolingConnectionManager, PoolingConnectionManagerBuilder,
    RequestConfig, Resolver, Route, SocketConfig,
};
use hcx_h1::Limits;
use hcx_pool::ReusePolicy;
use hcx_reuse::{
    ConnectionReuseStrategy, DefaultKeepAliveStrategy, DefaultReuseStrategy, KeepAliveStrategy,
};

use crate::url::IntoUri;
use http::header::{HeaderMap, HeaderName, HeaderValue, USER_AGENT};

use crate::client::Client;

/// The `User-Agent` sent when a request has none: `hcx/<version>`.
pub const DEFAULT_USER_AGENT: &str = concat!("hcx/", env!("CARGO_PKG_VERSION"));

/// Builds a [`Client`]. Apache HttpClient 5: `HttpClientBuilder` /
/// `PoolingHttpClientConnectionManagerBuilder`.
///
/// Either give a ready [`PoolingConnectionManager`] (to share one pool between
/// clients), or set its limits here.
pub struct ClientBuilder {
    manager: Option<PoolingConnectionManager>,
    manager_builder: PoolingConnectionManagerBuilder,
    reuse: Arc<dyn ConnectionReuseStrategy>,
    keep_alive: KeepAliveChoice,
    limits: Limits,
    /// The first configuration mistake, reported by `build`.
    invalid: Option<Error>,
    config: RequestConfig,
    default_headers: HeaderMap,
    /// Set when a default header did not fit; `build` reports it.
    too_many_headers: Option<http::header::MaxSizeReached>,
    user_agent: Option<HeaderValue>,
}

/// The default keep-alive strategy (whose margin the builder can set) or the user's.
enum KeepAliveChoice {
    Default(DefaultKeepAliveStrategy),
    Custom(Arc<dyn KeepAliveStrategy>),
}

impl ClientBuilder {
    pub(crate) fn new() -> Self {
        ClientBuilder {
            manager: None,
            manager_builder: PoolingConnectionManager::builder(),
            reuse: Arc::new(DefaultReuseStrategy),
            keep_alive: KeepAliveChoice::Default(DefaultKeepAliveStrategy::default()),
            limits: Limits::default(),
            invalid: None,
            config: RequestConfig::default(),
            default_headers: HeaderMap::new(),
            too_many_headers: None,
            user_agent: Some(HeaderValue::from_static(DEFAULT_USER_AGENT)),
        }
    }

    /// Uses this connection manager (and its pool) instead of building one; the
    /// manager settings of this builder are then ignored. Apache:
    /// `setConnectionManager`.
    pub fn connection_manager(mut self, manager: PoolingConnectionManager) -> Self {
        self.manager = Some(manager);
        self
    }

    /// Most connections in all. Default 25. Apache: `setMaxConnTotal`.
    pub fn max_total(mut self, max: usize) -> Self {
        self.manager_builder = self.manager_builder.max_total(max);
        self
    }

    /// Most connections per route. Default 5. Apache: `setMaxConnPerRoute`.
    pub fn max_per_route(mut self, max: usize) -> Self {
        self.manager_builder = self.manager_builder.max_per_route(max);
        self
    }

    /// The limit of the route of `url` (scheme, host, port), in place of
    /// [`max_per_route`](Self::max_per_route); 0 blocks the route. A URL that cannot be
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
    pub fn max_per_route_for(mut self, url: impl IntoUri, max: usize) -> Self {
        match url.into_uri().and_then(|uri| Route::from_uri(&uri)) {
            Ok(route) => self.manager_builder = self.manager_builder.max_per_route_for(route, max),
            Err(e) => self.invalid = self.invalid.or(Some(e)),
        }
        self
    }

    /// A hard limit on each connection's life, from its connect, whatever keep-alive
    /// the server grants; `None` (the default): no limit. Apache:
    /// `setConnectionTimeToLive` / `ConnectionConfig.timeToLive`.
    pub fn time_to_live(mut self, ttl: Option<Duration>) -> Self {
        self.manager_builder = self.manager_builder.time_to_live(ttl);
        self
    }

    /// Which idle connection a request gets: [`ReusePolicy::Lifo`] (the default: the
    /// most recently used, so surplus connections go idle and expire) or
    /// [`ReusePolicy::Fifo`] (round-robin, all stay warm). Apache: `setConnPoolPolicy`.
    pub fn reuse_policy(mut self, policy: ReusePolicy) -> Self {
        self.manager_builder = self.manager_builder.reuse_policy(policy);
        self
    }

    /// Socket options of every connection: `TCP_NODELAY` (on by default), send and
    /// receive buffer sizes, linger. Apache: `setDefaultSocketConfig`.
    pub fn socket_config(mut self, socket: SocketConfig) -> Self {
        self.manager_builder = self.manager_builder.socket_config(socket);
        self
    }

    /// How host names are resolved. Default: the system resolver. Apache:
    /// `setDnsResolver`.
    pub fn resolver(mut self, resolver: impl Resolver + 'static) -> Self {
        self.manager_builder = self.manager_builder.resolver(resolver);
        self
    }

    /// Probe reused connections idle at least this long (`None`: never). Default
    /// zero: every reuse. Apache: `setValidateAfterInactivity` (2 s there).
    pub fn validate_after_inactivity(mut self, after: Option<Duration>) -> Self {
        self.manager_builder = self.manager_builder.validate_after_inactivity(after);
        self
    }

    /// Decides whether a connection may be reused after a response. Default:
    /// [`DefaultReuseStrategy`]. Any `Fn(&Exchange) -> Reuse` closure works. Apache:
    /// `setConnectionReuseStrategy`.
    pub fn reuse_strategy(mut self, strategy: impl ConnectionReuseStrategy + 'static) -> Self {
        self.reuse = Arc::new(strategy);
        self
    }

    /// Decides how long a reusable connection may stay idle. Default:
    /// [`DefaultKeepAliveStrategy`] (the server's `Keep-Alive: timeout`, else 30 s).
    /// Any `Fn(&Exchange) -> KeepAlive` closure works. Apache:
    /// `setKeepAliveStrategy`.
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
        match &mut self.keep_alive {
            KeepAliveChoice::Default(strategy) => *strategy = strategy.with_margin(margin),
            KeepAliveChoice::Custom(_) => {
                self.invalid = self.invalid.or(Some(Error::new(
                    ErrorKind::Config,
                    "keep_alive_margin applies to the default keep-alive strategy; \
                     set the margin on the custom strategy instead",
                )));
            }
        }
        self
    }

    /// Like [`reuse_strategy`](Self::reuse_strategy), for a strategy already behind
    /// an `Arc` (shared with other clients).
    pub fn shared_reuse_strategy(mut self, strategy: Arc<dyn ConnectionReuseStrategy>) -> Self {
        self.reuse = strategy;
        self
    }

    /// Like [`keep_alive_strategy`](Self::keep_alive_strategy), for a strategy already
    /// behind an `Arc`.
    pub fn shared_keep_alive_strategy(mut self, strategy: Arc<dyn KeepAliveStrategy>) -> Self {
        self.keep_alive = KeepAliveChoice::Custom(strategy);
        self
    }

    /// Limits on response heads (size, field count, 1xx count). Default 64 KiB, 100, 16.
    pub fn limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// The default [`RequestConfig`] (timeouts, drain limits); a request can carry its
    /// own in its extensions. Apache: `setDefaultRequestConfig`.
    pub fn request_config(mut self, config: RequestConfig) -> Self {
        self.config = config;
        self
    }

    /// Sets the default connection request (pool) timeout. Default 3 minutes.
    pub fn connection_request_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.with_connection_request_timeout(timeout);
        self
    }

    /// Sets the default connect timeout. Default 3 minutes.
    pub fn connect_timeout(mut self, timeout: Duration) -> Self {
        self.config = self.config.with_connect_timeout(timeout);
        self
    }

    /// Sets the default response timeout. Default none.
    pub fn response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.config = self.config.with_response_timeout(timeout);
        self
    }

    /// Adds a header sent with every request that does not set that header itself.
    /// Apache: `setDefaultHeaders`.
    pub fn default_header(mut self, name: HeaderName, value: HeaderValue) -> Self {
        if let Err(e) = self.default_headers.try_append(name, value) {
            self.too_many_headers.get_or_insert(e);
        }
        self
    }

    /// The `User-Agent` sent when a request has none (`None`: send none). Default
    /// `hcx/<version>`. Apache: `setUserAgent`.
    pub fn user_agent(mut self, value: Option<HeaderValue>) -> Self {
        self.user_agent = value;
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
        let manager = match self.manager {
            Some(manager) => manager,
            None => self.manager_builder.build()?,
        };
        let keep_alive: Arc<dyn KeepAliveStrategy> = match self.keep_alive {
            KeepAliveChoice::Default(strategy) => Arc::new(strategy),
            KeepAliveChoice::Custom(strategy) => strategy,
        };
        let exec = MainExec::new(self.reuse, keep_alive).with_limits(self.limits);
        let mut default_headers = self.default_headers;
        if let Some(agent) = self.user_agent {
            if !default_headers.contains_key(USER_AGENT) {
                default_headers.try_insert(USER_AGENT, agent)?;
            }
        }
        Ok(Client::from_parts(
            manager,
            exec,
            self.config,
            default_headers,
        ))
    }
}

impl fmt::Debug for ClientBuilder {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ClientBuilder")
            .field("manager", &self.manager)
            .field("manager_builder", &self.manager_builder)
            .field("config", &self.config)
            .field("default_headers", &self.default_headers)
            .field("user_agent", &self.user_agent)
            .finish_non_exhaustive()
    }
}
