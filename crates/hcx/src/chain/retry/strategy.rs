//! The retry decision: [`RetryStrategy`], its default [`DefaultRetryStrategy`] (which
//! failures and responses are sent again), and the [`Sleeper`] that waits out a delay.

use std::sync::Arc;
use std::time::{Duration, SystemTime};

use hcx_exec::{Error, ErrorKind, RequestProgress, ResponseBody};
use http::header::RETRY_AFTER;
use http::{Method, Request, Response, StatusCode};

use super::retry_after::parse_retry_after;
use crate::chain::Context;

/// Decides whether a request is sent again. Apache HttpClient 5:
/// `HttpRequestRetryStrategy`. The default is [`DefaultRetryStrategy`]; set another
/// with [`ClientBuilder::retry_strategy`](crate::ClientBuilder::retry_strategy), or
/// remove the RETRY element with
/// [`disable_automatic_retries`](crate::ClientBuilder::disable_automatic_retries).
///
/// The RETRY element asks two questions. After a failed attempt: send it again, at
/// once? After a response: send it again, and after what delay? `attempt` is how many
/// times the request has been sent so far (1 after the first); `request` is the head
/// as RETRY received it (before PROTOCOL adds default headers), without its body.
///
/// How a retry runs: it goes through the rest of the chain again (AUTH, PROTOCOL,
/// MAIN_TRANSPORT), so it leases a connection of its own. The failed attempt's
/// connection was already discarded by the engine, with its reason; a response that
/// is retried is dropped before the delay (its body drained within the drain limits,
/// so the connection goes back to the pool when it can). The delay goes through the
/// [`Sleeper`]. [`Context::attempts`] says which attempt is running (to a handler
/// after RETRY), and afterwards how many were made.
///
/// **A request whose body cannot be sent again ([`Body::reader`],
/// [`Body::sized_reader`]) is sent once and never retried**, and neither question is
/// asked: RETRY keeps the head and a copy of the body ([`Body::try_clone`]) for the
/// next attempt, and a reader has no copy. Apache likewise gives up on an entity that
/// is not repeatable.
///
/// A delay longer than the response timeout in force (the request's
/// [`RequestConfig::response_timeout`](hcx_exec::RequestConfig::response_timeout),
/// else the connection manager's socket timeout) is not waited for, whatever the
/// strategy: the response is returned at once, as Apache 5.2+ does.
///
/// One repeat is RETRY's own, whatever the strategy: a `417 Expectation Failed` to a
/// request that carried `Expect: 100-continue` is sent again at once without the
/// expectation (RFC 9110 §10.1.1; Apache returns the 417), and counts as an attempt.
/// Only a request that went out with the expectation is repeated: the encoder leaves
/// it out of a request without content and of an HTTP/1.0 one, and a 417 to those is
/// returned.
///
/// [`Body::reader`]: hcx_exec::Body::reader
/// [`Body::sized_reader`]: hcx_exec::Body::sized_reader
/// [`Body::try_clone`]: hcx_exec::Body::try_clone
#[doc(alias(
    "HttpRequestRetryStrategy",
    "HttpRequestRetryHandler",
    "ServiceUnavailableRetryStrategy"
))]
pub trait RetryStrategy: Send + Sync {
    /// After attempt number `attempt` failed with `error`: send the request again, at
    /// once? Apache: `retryRequest(HttpRequest, IOException, int, HttpContext)`.
    fn retry_on_error(
        &self,
        request: &Request<()>,
        error: &Error,
        attempt: u32,
        context: &Context,
    ) -> bool;

    /// After attempt number `attempt` got `response`: `Some(delay)` drops the response
    /// and sends the request again after `delay`; `None` returns the response. Apache:
    /// `retryRequest(HttpResponse, int, HttpContext)` with `getRetryInterval`.
    fn retry_on_response(
        &self,
        request: &Request<()>,
        response: &Response<ResponseBody>,
        attempt: u32,
        context: &Context,
    ) -> Option<Duration>;

    /// Whether this strategy may ever send a request again after an error. The
    /// learned idle limit lets an idempotent request probe a connection idle past the
    /// limit only when a retry would cover it meeting a dead one: a strategy that
    /// never retries errors says `false`, and no request probes. Default `true`.
    fn retries_errors(&self) -> bool {
        true
    }
}

impl<S: RetryStrategy + ?Sized> RetryStrategy for Arc<S> {
    fn retry_on_error(
        &self,
        request: &Request<()>,
        error: &Error,
        attempt: u32,
        context: &Context,
    ) -> bool {
        (**self).retry_on_error(request, error, attempt, context)
    }

    fn retry_on_response(
        &self,
        request: &Request<()>,
        response: &Response<ResponseBody>,
        attempt: u32,
        context: &Context,
    ) -> Option<Duration> {
        (**self).retry_on_response(request, response, attempt, context)
    }

    fn retries_errors(&self) -> bool {
        (**self).retries_errors()
    }
}

/// The default [`RetryStrategy`]: replays what cannot have been acted on twice, and
/// waits out `429` and `503`. Apache HttpClient 5: `DefaultHttpRequestRetryStrategy`.
///
/// After an error, it retries when
/// - (a) nothing of the request was written on a reused connection (the classic dead
///   pooled connection), whatever the method; or
/// - (b) the request is idempotent (RFC 9110 §9.2.2: `GET`, `HEAD`, `OPTIONS`,
///   `TRACE`, `PUT`, `DELETE`, or any request carrying an `Idempotency-Key`) and no
///   byte of a response arrived. After a write to a dead pooled connection the engine
///   usually reports the request as complete (the write succeeds locally, the reset
///   comes on the read): this is the rule that replays such a `GET`;
///
/// and in both cases only when the error says the request was lost in flight:
/// [`ErrorKind::ClosedBeforeResponse`] or [`ErrorKind::Io`]. That is an allow-list: a
/// refused connect, an unknown host, any timeout (the server may still be working on
/// the request), a protocol error, and any kind added later (a TLS failure) are never
/// retried. A `POST` without `Idempotency-Key` is never replayed once any byte of it
/// was written.
///
/// After a response whose status is retriable (`429`, `503`), whatever the method (the
/// server says it did not act on the request), it retries after the response's
/// `Retry-After` ([`parse_retry_after`]), or after the default interval when there is
/// none, it cannot be read, or it asks for no wait (zero, or a date already past). A
/// `Retry-After` longer than the cap (or than the response timeout, see
/// [`RetryStrategy`]) is not waited for: the response is returned as it is, for the
/// caller to decide.
///
/// Defaults: at most 1 retry (Apache's `maxRetries`); statuses `429` and `503`
/// (Apache's `retriableCodes`); a default interval of 1 s (Apache's
/// `defaultRetryInterval`); a cap of 30 s on `Retry-After` (no Apache equivalent).
///
/// How it differs from Apache 5: Apache retries an idempotent request after any
/// `IOException` except a deny-list of classes (`InterruptedIOException`,
/// `UnknownHostException`, `ConnectException`, `ConnectionClosedException`,
/// `NoRouteToHostException`, `SSLException`), and never a non-idempotent one. hcx
/// decides on what the error says about the exchange ([`Error::request_progress`],
/// [`Error::is_response_started`], [`Error::is_connection_reused`]) and on an
/// allow-list of kinds, so a failure it does not know is not replayed by accident
/// (in Apache, an exception class missing from the deny-list is retried); it does
/// replay a `POST` that provably never left (rule (a)); and it caps `Retry-After`,
/// which in Apache can hold a thread for as long as the server asks.
///
/// ```
/// use hcx::chain::DefaultRetryStrategy;
/// use hcx::http::StatusCode;
/// use std::time::Duration;
///
/// let client = hcx::Client::builder()
///     .retry_strategy(
///         DefaultRetryStrategy::new()
///             .with_max_retries(3)
///             .with_retriable_statuses([StatusCode::SERVICE_UNAVAILABLE])
///             .with_max_retry_after(Duration::from_secs(5)),
///     )
///     .build()?;
/// # Ok::<(), hcx::Error>(())
/// ```
#[derive(Debug, Clone)]
#[doc(alias("DefaultHttpRequestRetryStrategy", "DefaultHttpRequestRetryHandler"))]
pub struct DefaultRetryStrategy {
    max_retries: u32,
    statuses: Vec<StatusCode>,
    default_interval: Duration,
    max_retry_after: Duration,
}

impl Default for DefaultRetryStrategy {
    fn default() -> Self {
        DefaultRetryStrategy {
            max_retries: 1,
            statuses: vec![
                StatusCode::TOO_MANY_REQUESTS,
                StatusCode::SERVICE_UNAVAILABLE,
            ],
            default_interval: Duration::from_secs(1),
            max_retry_after: Duration::from_secs(30),
        }
    }
}

impl DefaultRetryStrategy {
    /// The strategy with its defaults.
    pub fn new() -> Self {
        DefaultRetryStrategy::default()
    }

    /// At most this many retries (so `max + 1` attempts); with 0 the strategy never
    /// retries. Default 1.
    /// Apache: `maxRetries`. RETRY's own repeat of a `417` without `Expect` (see
    /// [`RetryStrategy`]) is not the strategy's and happens whatever this says, but it
    /// counts as an attempt.
    pub fn with_max_retries(mut self, max: u32) -> Self {
        self.max_retries = max;
        self
    }

    /// The response statuses that are retried. Default `429` and `503`. Apache:
    /// `retriableCodes`.
    pub fn with_retriable_statuses(
        mut self,
        statuses: impl IntoIterator<Item = StatusCode>,
    ) -> Self {
        self.statuses = statuses.into_iter().collect();
        self
    }

    /// The wait before retrying a response without a usable `Retry-After`. Default
    /// 1 s. Apache: `defaultRetryInterval`. It is taken as given (`max_retry_after`
    /// caps only a server's `Retry-After`); a wait longer than the response timeout in
    /// force is not taken (the response is returned at once), so without a response
    /// or socket timeout a very long interval is waited out.
    pub fn with_default_interval(mut self, interval: Duration) -> Self {
        self.default_interval = interval;
        self
    }

    /// The longest `Retry-After` waited for; a longer one returns the response as it
    /// is, for the caller to decide. Default 30 s.
    pub fn with_max_retry_after(mut self, max: Duration) -> Self {
        self.max_retry_after = max;
        self
    }
}

impl RetryStrategy for DefaultRetryStrategy {
    fn retry_on_error(
        &self,
        request: &Request<()>,
        error: &Error,
        attempt: u32,
        _context: &Context,
    ) -> bool {
        attempt <= self.max_retries
            && safe_to_replay(
                is_idempotent(request),
                Failure {
                    kind: error.kind(),
                    progress: error.request_progress(),
                    response_started: error.is_response_started(),
                    reused: error.is_connection_reused(),
                },
            )
    }

    fn retry_on_response(
        &self,
        _request: &Request<()>,
        response: &Response<ResponseBody>,
        attempt: u32,
        _context: &Context,
    ) -> Option<Duration> {
        if attempt > self.max_retries || !self.statuses.contains(&response.status()) {
            return None;
        }
        // A Retry-After that cannot be read is ignored, as Apache does.
        let asked = response
            .headers()
            .get(RETRY_AFTER)
            .and_then(|value| value.to_str().ok())
            .and_then(|value| parse_retry_after(value, SystemTime::now()));
        // Zero (or a date already past) is no wait asked for: the default interval
        // holds, so a storm of 503s still gets a back-off (Apache uses the header only
        // when it is positive).
        match asked {
            Some(delay) if delay > self.max_retry_after => None,
            Some(delay) if !delay.is_zero() => Some(delay),
            _ => Some(self.default_interval),
        }
    }

    /// With `with_max_retries(0)` it never does.
    fn retries_errors(&self) -> bool {
        self.max_retries > 0
    }
}

/// What the default strategy looks at in a failed attempt.
#[derive(Debug, Clone, Copy)]
struct Failure {
    kind: ErrorKind,
    progress: RequestProgress,
    response_started: bool,
    reused: bool,
}

/// The default strategy's rule for errors, apart from the count.
fn safe_to_replay(idempotent: bool, failure: Failure) -> bool {
    // The allow-list: only kinds that mean "the request was lost in flight". A refused
    // connect, a timeout (the server may still be working on it), a protocol error or
    // a kind added later are never retried.
    let lost_in_flight = matches!(
        failure.kind,
        ErrorKind::ClosedBeforeResponse | ErrorKind::Io
    );
    if !lost_in_flight {
        return false;
    }
    // (a) The server cannot have seen a request of which no byte was written: the
    // classic dead pooled connection, whatever the method.
    let never_sent = failure.reused && failure.progress == RequestProgress::NotStarted;
    // (b) A request that may be applied twice, with no sign of an answer. After a
    // write to a dead pooled connection the engine usually reports the request as
    // complete (the write succeeds locally, the reset comes on the read): this is the
    // rule that replays such a GET.
    never_sent || (idempotent && !failure.response_started)
}

/// RFC 9110 §9.2.2 idempotent methods, or a request marked with an `Idempotency-Key`
/// (draft-ietf-httpapi-idempotency-key-header): the server deduplicates it.
fn is_idempotent(request: &Request<()>) -> bool {
    let method = request.method();
    method == Method::GET
        || method == Method::HEAD
        || method == Method::OPTIONS
        || method == Method::TRACE
        || method == Method::PUT
        || method == Method::DELETE
        || request.headers().contains_key("idempotency-key")
}

/// How the retry layer waits before a retry. The default sleeps on the calling
/// thread and ends early when the request is aborted ([`AbortHandle`](crate::AbortHandle))
/// or the manager is shut down with
/// [`shutdown_immediate`](crate::PoolingConnectionManager::shutdown_immediate)
/// ([`PoolingConnectionManager::wait`](crate::PoolingConnectionManager::wait)); tests
/// inject one that records the delay and returns. One of your own is called as it is
/// (not after an abort), and is not cut short. Any
/// `Fn(Duration) + Send + Sync` closure is one. No Apache equivalent (it sleeps on the
/// thread).
pub trait Sleeper: Send + Sync {
    /// Waits `delay`.
    fn sleep(&self, delay: Duration);
}

impl<F> Sleeper for F
where
    F: Fn(Duration) + Send + Sync,
{
    fn sleep(&self, delay: Duration) {
        self(delay)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const fn failure(
        kind: ErrorKind,
        progress: RequestProgress,
        response_started: bool,
        reused: bool,
    ) -> Failure {
        Failure {
            kind,
            progress,
            response_started,
            reused,
        }
    }

    #[test]
    fn errors_are_replayed_only_when_the_request_cannot_have_been_acted_on() {
        use ErrorKind::*;
        use RequestProgress::*;
        // (idempotent, failure, retried?)
        let table = [
            // (b) an idempotent request lost in flight, reused or not.
            (
                true,
                failure(ClosedBeforeResponse, Complete, false, true),
                true,
            ),
            (
                true,
                failure(ClosedBeforeResponse, Complete, false, false),
                true,
            ),
            (true, failure(Io, Partial, false, false), true),
            // ... but not once a response started.
            (true, failure(Io, Complete, true, true), false),
            (
                true,
                failure(ClosedBeforeResponse, Complete, true, true),
                false,
            ),
            // (a) a reused connection on which nothing was written: any method.
            (false, failure(Io, NotStarted, false, true), true),
            (
                false,
                failure(ClosedBeforeResponse, NotStarted, false, true),
                true,
            ),
            // A POST once any of it was written, or on a fresh connection: never.
            (
                false,
                failure(ClosedBeforeResponse, Complete, false, true),
                false,
            ),
            (false, failure(Io, Partial, false, true), false),
            (false, failure(Io, NotStarted, false, false), false),
            // Kinds outside the allow-list: never, even idempotent and unsent.
            (true, failure(Connect, NotStarted, false, false), false),
            (true, failure(UnknownHost, NotStarted, false, false), false),
            (
                true,
                failure(ConnectTimeout, NotStarted, false, false),
                false,
            ),
            (true, failure(ResponseTimeout, Complete, false, true), false),
            (true, failure(LeaseTimeout, NotStarted, false, true), false),
            (true, failure(Shutdown, NotStarted, false, true), false),
            (true, failure(InvalidUrl, NotStarted, false, true), false),
            (
                true,
                failure(InvalidRequest, NotStarted, false, true),
                false,
            ),
            (true, failure(Config, NotStarted, false, true), false),
            (true, failure(RequestBody, NotStarted, false, true), false),
            (true, failure(Protocol, Complete, true, true), false),
            (true, failure(IncompleteBody, Complete, true, true), false),
            (true, failure(Utf8, Complete, true, true), false),
            (true, failure(Redirect, NotStarted, false, true), false),
            (true, failure(Decompression, Complete, true, true), false),
            (
                true,
                failure(DecompressionLimit, Complete, true, true),
                false,
            ),
        ];
        for (idempotent, failure, expected) in table {
            assert_eq!(
                safe_to_replay(idempotent, failure),
                expected,
                "idempotent {idempotent}, {failure:?}"
            );
        }
    }

    #[test]
    fn idempotent_methods_and_idempotency_keys_are_recognised() -> Result<(), http::Error> {
        for (method, expected) in [
            (Method::GET, true),
            (Method::HEAD, true),
            (Method::OPTIONS, true),
            (Method::TRACE, true),
            (Method::PUT, true),
            (Method::DELETE, true),
            (Method::POST, false),
            (Method::PATCH, false),
            (Method::CONNECT, false),
        ] {
            let request = Request::builder().method(method.clone()).body(())?;
            assert_eq!(is_idempotent(&request), expected, "{method}");
        }
        let keyed = Request::post("/")
            .header("Idempotency-Key", "8e03978e")
            .body(())?;
        assert!(is_idempotent(&keyed));
        Ok(())
    }

    #[test]
    fn the_default_strategy_counts_errors_against_max_retries() -> Result<(), http::Error> {
        let get = Request::get("/").body(())?;
        // An error with no facts: not started, not reused; idempotent and no response.
        let lost = Error::new(ErrorKind::Io, "lost");
        let context = Context::new();
        let strategy = DefaultRetryStrategy::new();
        assert!(strategy.retry_on_error(&get, &lost, 1, &context));
        assert!(!strategy.retry_on_error(&get, &lost, 2, &context));
        let three = DefaultRetryStrategy::new().with_max_retries(3);
        assert!(three.retry_on_error(&get, &lost, 3, &context));
        let none = DefaultRetryStrategy::new().with_max_retries(0);
        assert!(!none.retry_on_error(&get, &lost, 1, &context));
        Ok(())
    }
}
