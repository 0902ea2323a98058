//! BACK_OFF: shrinks a route's connection limit when its server shows strain, and
//! grows it back as requests succeed. Apache HttpClient 4.2+ / 5.x:
//! `BackoffStrategyExec` with a `ConnectionBackoffStrategy` and a `BackoffManager`
//! (`AIMDBackoffManager`).
//!
//! Off unless a [`BackoffManager`] is set ([`ClientBuilder::backoff_manager`]). The
//! element sits right after REDIRECT, so it judges each hop once, after RETRY made
//! its attempts: a [`ConnectionBackoffStrategy`] reads the outcome (a response head or
//! an error), and the manager hears [`back_off`](BackoffManager::back_off) for the
//! hop's route or, after any other response, [`probe`](BackoffManager::probe).
//! Apache puts the element first, before REDIRECT, where a redirected request
//! signals the route of its first hop; here each hop signals its own.
//!
//! [`ClientBuilder::backoff_manager`]: crate::ClientBuilder::backoff_manager

use std::collections::HashMap;
use std::fmt;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use hcx_exec::{Body, Error, ErrorKind, PoolingConnectionManager, ResponseBody, Route};
use http::{Request, Response, StatusCode};

use super::{Chain, ExecHandler, Scope};

/// Decides which outcomes of a request are a sign that its route's server is
/// strained. Apache: `ConnectionBackoffStrategy`.
#[doc(alias("shouldBackoff"))]
pub trait ConnectionBackoffStrategy: Send + Sync {
    /// Whether a request that failed with `error` should shrink its route's limit.
    /// Apache: `shouldBackoff(Throwable)`.
    fn should_back_off_after(&self, error: &Error) -> bool;

    /// Whether `response` should. Read its head only: its body is the caller's.
    /// Apache: `shouldBackoff(HttpResponse)`.
    fn should_back_off(&self, response: &Response<ResponseBody>) -> bool;
}

/// Backs off after a connect that failed or timed out, a response timeout, and a
/// `429 Too Many Requests` or `503 Service Unavailable`. Apache:
/// `DefaultBackoffStrategy` (recent 5.x; 4.5's and early 5.x's without the `429`),
/// which tests for `ConnectException` and `SocketTimeoutException`: 5.x's connect
/// timeout is one of the latter (its `ConnectTimeoutException` extends it), 4.5's is
/// not (there it extends `InterruptedIOException`); here a connect timeout counts.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultBackoffStrategy;

impl ConnectionBackoffStrategy for DefaultBackoffStrategy {
    fn should_back_off_after(&self, error: &Error) -> bool {
        matches!(
            error.kind(),
            ErrorKind::Connect | ErrorKind::ConnectTimeout | ErrorKind::ResponseTimeout
        )
    }

    fn should_back_off(&self, response: &Response<ResponseBody>) -> bool {
        matches!(
            response.status(),
            StatusCode::TOO_MANY_REQUESTS | StatusCode::SERVICE_UNAVAILABLE
        )
    }
}

impl<S: ConnectionBackoffStrategy + ?Sized> ConnectionBackoffStrategy for Arc<S> {
    fn should_back_off_after(&self, error: &Error) -> bool {
        (**self).should_back_off_after(error)
    }

    fn should_back_off(&self, response: &Response<ResponseBody>) -> bool {
        (**self).should_back_off(response)
    }
}

/// Adjusts a route's connection limit from what its requests meet. Apache:
/// `BackoffManager`, whose implementations hold the connection manager; here the
/// element passes the client's own with each call (so a manager cannot adjust
/// another client's pool), and its clock
/// ([`PoolingConnectionManager::now`]) is the one to time cool-downs by.
///
/// Called on the requesting thread, with no lock of hcx's held; a limit changed with
/// [`Pool::set_max_per_route`](hcx_pool::Pool::set_max_per_route) takes effect at
/// once (lowering it closes idle connections over it, never leased ones).
pub trait BackoffManager: Send + Sync {
    /// A request on `route` met a sign of strain: shrink its limit. Apache:
    /// `backOff(HttpRoute)`.
    fn back_off(&self, route: &Route, manager: &PoolingConnectionManager);

    /// A request on `route` succeeded: its limit may grow. Apache:
    /// `probe(HttpRoute)`.
    fn probe(&self, route: &Route, manager: &PoolingConnectionManager);
}

impl<M: BackoffManager + ?Sized> BackoffManager for Arc<M> {
    fn back_off(&self, route: &Route, manager: &PoolingConnectionManager) {
        (**self).back_off(route, manager);
    }

    fn probe(&self, route: &Route, manager: &PoolingConnectionManager) {
        (**self).probe(route, manager);
    }
}

/// Additive increase, multiplicative decrease of each route's connection limit, as
/// TCP's congestion control does its window. Apache: `AIMDBackoffManager`.
///
/// - [`back_off`](BackoffManager::back_off) multiplies the route's limit by the
///   backoff factor (0.5 by default), rounding down, never below 1;
/// - [`probe`](BackoffManager::probe) adds 1, up to the route's cap (it never lowers
///   a limit: Apache's sets one above the cap to the cap);
/// - each changes a route's limit at most once per cool-down (5 s by default), and
///   no probe grows it within a cool-down of a back-off;
/// - neither changes a limit of 0 (a route blocked on purpose stays blocked).
///
/// The cap is, unless [`with_per_host_connection_cap`](Self::with_per_host_connection_cap)
/// sets one, the route's limit when the manager first backed it off: the limit the
/// pool was configured with, which probes grow back to. Shared by clients (an `Arc`
/// of it given to each), it keeps each pool's routes apart: their caps, and their
/// cool-downs on each pool's clock. It holds only the routes away from their cap (a
/// route that never strains costs nothing). Apache's cap is 2 unless set
/// (RFC 2616's old advice), so there its first probe lowers a larger limit to 2.
///
/// ```
/// use hcx::chain::AimdBackoffManager;
/// use std::time::Duration;
///
/// let client = hcx::Client::builder()
///     .max_per_route(8)
///     .backoff_manager(
///         AimdBackoffManager::new()
///             .with_backoff_factor(0.75)?
///             .with_cool_down(Duration::from_secs(2)),
///     )
///     .build()?;
/// # drop(client);
/// # Ok::<(), hcx::Error>(())
/// ```
#[doc(alias("AIMDBackoffManager"))]
pub struct AimdBackoffManager {
    backoff_factor: f64,
    cool_down: Duration,
    cap: Option<usize>,
    /// By the connection manager's [`id`](PoolingConnectionManager::id) and route: a
    /// manager shared by clients keeps their pools apart.
    routes: Mutex<Routes>,
}

/// Each connection manager's routes (by its id), as the manager adjusted them.
type Routes = HashMap<u64, HashMap<Route, Adjusted>>;

/// What the manager did to one route, and when.
#[derive(Debug, Clone, Copy)]
struct Adjusted {
    /// The route's limit when the manager took it in (its first back-off): the cap
    /// unless one is set.
    first_limit: usize,
    last_back_off: Option<Instant>,
    last_probe: Option<Instant>,
    /// A change decided and being made to the pool, outside the lock: the route's
    /// next decision waits for it (skips), so two changes never apply out of order.
    applying: bool,
}

/// Clears a route's [`Adjusted::applying`] once its pool change is made (or unwound:
/// a close it made ran an event listener that panicked), or takes the route out of
/// the table when the change grew it back to its cap.
struct Applying<'a> {
    routes: &'a Mutex<Routes>,
    manager: u64,
    route: &'a Route,
    recovered: bool,
}

impl Drop for Applying<'_> {
    #[allow(
        clippy::mutable_key_type,
        reason = "a Route hashes and compares only what never changes in it"
    )]
    fn drop(&mut self) {
        let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
        let Some(routes) = routes.get_mut(&self.manager) else {
            return;
        };
        if self.recovered {
            routes.remove(self.route);
        } else if let Some(adjusted) = routes.get_mut(self.route) {
            adjusted.applying = false;
        }
    }
}

impl AimdBackoffManager {
    /// A manager with Apache's factor (0.5) and cool-down (5 s), capped at each
    /// route's configured limit.
    pub fn new() -> Self {
        AimdBackoffManager {
            backoff_factor: 0.5,
            cool_down: Duration::from_secs(5),
            cap: None,
            routes: Mutex::new(HashMap::new()),
        }
    }

    /// What a back-off multiplies the limit by: above 0 and below 1 (a `Config`
    /// error otherwise). Higher keeps more of the server's capacity in use; lower
    /// shares it among clients sooner. Apache: `setBackoffFactor`.
    #[doc(alias("setBackoffFactor"))]
    pub fn with_backoff_factor(mut self, factor: f64) -> Result<Self, Error> {
        if !(factor > 0.0 && factor < 1.0) {
            return Err(Error::new(
                ErrorKind::Config,
                format!("a backoff factor must be above 0 and below 1, not {factor}"),
            ));
        }
        self.backoff_factor = factor;
        Ok(self)
    }

    /// The least time between two changes of a route's limit, for the last one to
    /// show its effect. Apache: `setCoolDown` (there too, by default, 5 s).
    #[doc(alias("setCoolDown", "setCooldownMillis"))]
    pub fn with_cool_down(mut self, cool_down: Duration) -> Self {
        self.cool_down = cool_down;
        self
    }

    /// The limit probes grow a route's back to, for every route (at least 1).
    /// Apache: `setPerHostConnectionCap`.
    #[doc(alias("setPerHostConnectionCap"))]
    pub fn with_per_host_connection_cap(mut self, cap: usize) -> Self {
        self.cap = Some(cap.max(1));
        self
    }

    /// Decides, under the lock, the route's new limit (if it changes) and notes the
    /// time; the pool is changed after, without it (a lower limit closes connections),
    /// the route marked meanwhile so that no other decision is made on a stale limit.
    /// The table holds the routes being backed off or grown: a probe of a route it does
    /// not hold has nothing to grow back to (unless a cap of its own is set above the
    /// route's limit), and a route leaves it once probes have grown it to its cap.
    #[allow(
        clippy::mutable_key_type,
        reason = "a Route hashes and compares only what never changes in it (the TLS \
                  identity by its name and its config's address, not the config's caches)"
    )]
    fn adjust(
        &self,
        route: &Route,
        manager: &PoolingConnectionManager,
        next: impl FnOnce(usize, usize) -> usize,
        backing_off: bool,
    ) {
        let pool = manager.pool();
        let now = manager.now();
        let cooled = |last: Option<Instant>| {
            last.is_none_or(|last| now.saturating_duration_since(last) >= self.cool_down)
        };
        let (limit, recovered) = {
            // Nothing is left half-changed under this lock: a panic's poison is moot.
            let mut routes = self.routes.lock().unwrap_or_else(PoisonError::into_inner);
            let current = pool.max_per_route(route);
            // A limit of 0 blocks the route on purpose (the user's): neither opens it,
            // nor is it the cap the route grows back to once opened.
            if current == 0 {
                return;
            }
            let routes = routes.entry(manager.id()).or_default();
            // Looked up first: the route is cloned once, when first met.
            let adjusted = match routes.get_mut(route) {
                Some(adjusted) => adjusted,
                None if !backing_off && self.cap.is_none_or(|cap| current >= cap) => return,
                None => routes.entry(route.clone()).or_insert(Adjusted {
                    first_limit: current,
                    last_back_off: None,
                    last_probe: None,
                    applying: false,
                }),
            };
            if adjusted.applying {
                return;
            }
            let (last, other) = if backing_off {
                (adjusted.last_back_off, None)
            } else {
                (adjusted.last_probe, adjusted.last_back_off)
            };
            if !cooled(last) || !cooled(other) {
                return;
            }
            if backing_off {
                adjusted.last_back_off = Some(now);
            } else {
                adjusted.last_probe = Some(now);
            }
            let cap = self.cap.unwrap_or(adjusted.first_limit);
            let limit = next(current, cap);
            let recovered = !backing_off && limit >= cap;
            if limit == current {
                if recovered {
                    routes.remove(route);
                }
                return;
            }
            adjusted.applying = true;
            (limit, recovered)
        };
        let _applying = Applying {
            routes: &self.routes,
            manager: manager.id(),
            route,
            recovered,
        };
        pool.set_max_per_route(route, Some(limit));
    }
}

impl Default for AimdBackoffManager {
    fn default() -> Self {
        Self::new()
    }
}

impl fmt::Debug for AimdBackoffManager {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AimdBackoffManager")
            .field("backoff_factor", &self.backoff_factor)
            .field("cool_down", &self.cool_down)
            .field("cap", &self.cap)
            .field(
                "routes",
                &self
                    .routes
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner)
                    .values()
                    .map(HashMap::len)
                    .sum::<usize>(),
            )
            .finish()
    }
}

impl BackoffManager for AimdBackoffManager {
    fn back_off(&self, route: &Route, manager: &PoolingConnectionManager) {
        let factor = self.backoff_factor;
        self.adjust(
            route,
            manager,
            // `factor` is below 1, so the product is below `current`.
            |current, _| ((current as f64 * factor).floor() as usize).max(1),
            true,
        );
    }

    fn probe(&self, route: &Route, manager: &PoolingConnectionManager) {
        self.adjust(
            route,
            manager,
            // Never lowers a limit (one raised at run time above the cap, say).
            |current, cap| if current < cap { current + 1 } else { current },
            false,
        );
    }
}

/// The builder's settings for this layer: off unless a manager is set.
#[derive(Default)]
pub(crate) struct Settings {
    manager: Option<Arc<dyn BackoffManager>>,
    strategy: Option<Arc<dyn ConnectionBackoffStrategy>>,
}

/// The layer's handler, or `None` when it is off; a strategy without a manager is a
/// configuration mistake.
pub(crate) fn handler(settings: &Settings) -> Result<Option<Arc<dyn ExecHandler>>, Error> {
    let Some(manager) = &settings.manager else {
        if settings.strategy.is_some() {
            return Err(Error::new(
                ErrorKind::Config,
                "connection_backoff_strategy needs a backoff_manager (AimdBackoffManager, \
                 say) to act on what it decides",
            ));
        }
        return Ok(None);
    };
    let strategy = settings
        .strategy
        .clone()
        .unwrap_or_else(|| Arc::new(DefaultBackoffStrategy));
    Ok(Some(Arc::new(BackoffExec {
        strategy,
        manager: Arc::clone(manager),
    })))
}

/// The element. Apache: `BackoffStrategyExec`.
struct BackoffExec {
    strategy: Arc<dyn ConnectionBackoffStrategy>,
    manager: Arc<dyn BackoffManager>,
}

impl ExecHandler for BackoffExec {
    fn execute(
        &self,
        request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        // The hop's route, as the request goes in.
        let route = scope.route.clone();
        let result = chain.proceed(request, scope);
        let manager = scope.manager();
        match &result {
            Ok(response) if self.strategy.should_back_off(response) => {
                self.manager.back_off(&route, manager);
            }
            Ok(_) => self.manager.probe(&route, manager),
            Err(error) if self.strategy.should_back_off_after(error) => {
                self.manager.back_off(&route, manager);
            }
            Err(_) => {}
        }
        result
    }
}

impl crate::ClientBuilder {
    /// Puts the BACK_OFF element in the chain, with `manager` adjusting each route's
    /// connection limit from what the [`ConnectionBackoffStrategy`] (the
    /// [`DefaultBackoffStrategy`] unless set) makes of its requests' outcomes. Off by
    /// default. Apache: `setBackoffManager` (which there does nothing without a
    /// strategy).
    #[doc(alias("setBackoffManager"))]
    pub fn backoff_manager(mut self, manager: impl BackoffManager + 'static) -> Self {
        self.backoff.manager = Some(Arc::new(manager));
        self
    }

    /// Decides which outcomes shrink a route's limit, for the
    /// [`backoff_manager`](Self::backoff_manager): `build` fails without one. Apache:
    /// `setConnectionBackoffStrategy`.
    #[doc(alias("setConnectionBackoffStrategy"))]
    pub fn connection_backoff_strategy(
        mut self,
        strategy: impl ConnectionBackoffStrategy + 'static,
    ) -> Self {
        self.backoff.strategy = Some(Arc::new(strategy));
        self
    }
}
