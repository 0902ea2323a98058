//! RETRY: sends a request again when that is safe. Apache HttpClient 5:
//! `HttpRequestRetryExec` with its `HttpRequestRetryStrategy`.
//!
//! The rules are documented on the public items, where users read them:
//! [`RetryStrategy`] says what the layer does (which requests can be retried at all,
//! how a retry runs), [`DefaultRetryStrategy`] which failures and responses it retries
//! and how that differs from Apache. This file also holds the `Retry-After` parser
//! (RFC 9110 §10.2.3, with the HTTP-date forms of §5.6.7).

use std::sync::Arc;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use hcx_exec::{Body, Error, ErrorKind, RequestProgress, ResponseBody};
use http::header::RETRY_AFTER;
use http::{Method, Request, Response, StatusCode};

use super::{Chain, Context, ExecHandler, Scope};

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
/// none or it cannot be read. A `Retry-After` longer than the cap is not waited for:
/// the response is returned as it is, for the caller to decide.
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

    /// At most this many retries (so `max + 1` attempts); 0 never retries. Default 1.
    /// Apache: `maxRetries`.
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
    /// 1 s. Apache: `defaultRetryInterval`.
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
        match asked {
            Some(delay) if delay > self.max_retry_after => None,
            Some(delay) => Some(delay),
            None => Some(self.default_interval),
        }
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

/// How the retry layer waits before a retry. The default calls
/// [`std::thread::sleep`]; tests inject one that records the delay and returns. Any
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

/// The default sleeper: the calling thread sleeps.
struct ThreadSleeper;

impl Sleeper for ThreadSleeper {
    fn sleep(&self, delay: Duration) {
        std::thread::sleep(delay);
    }
}

/// How long a `Retry-After` value (RFC 9110 §10.2.3) asks to wait, as of `now`: a
/// number of seconds, or an HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime
/// forms every recipient must accept, §5.6.7). A date in the past is `Duration::ZERO`;
/// more seconds than a `u64` holds, `Duration::MAX`. `None` when it is neither form.
///
/// ```
/// use hcx::chain::parse_retry_after;
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_770);
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(
///     parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
///     Some(Duration::from_secs(7))
/// );
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim_matches([' ', '\t']);
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only an overflow can fail, and that is longer than any cap.
        return Some(value.parse().map_or(Duration::MAX, Duration::from_secs));
    }
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let at = http_date(value, now_secs)?;
    let Ok(at) = u64::try_from(at) else {
        return Some(Duration::ZERO); // before 1970: long past
    };
    let at = UNIX_EPOCH.checked_add(Duration::from_secs(at));
    Some(at.map_or(Duration::MAX, |at| {
        at.duration_since(now).unwrap_or(Duration::ZERO)
    }))
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP date (RFC 9110 §5.6.7) in seconds since the epoch. The day name must be
/// one, but need not match the date: the instant is what counts.
fn http_date(value: &str, now_secs: u64) -> Option<i64> {
    imf_fixdate(value)
        .or_else(|| rfc850_date(value, now_secs))
        .or_else(|| asctime_date(value))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn imf_fixdate(value: &str) -> Option<i64> {
    let (day_name, rest) = value.split_once(", ")?;
    DAYS.contains(&day_name).then_some(())?;
    let mut parts = rest.split(' ');
    let day = digits(parts.next()?, 2)?;
    let month = month(parts.next()?)?;
    let year = digits(parts.next()?, 4)?;
    let time = time_of_day(parts.next()?)?;
    (parts.next() == Some("GMT") && parts.next().is_none()).then_some(())?;
    epoch_seconds(i64::from(year), month, day, time)
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`
fn rfc850_date(value: &str, now_secs: u64) -> Option<i64> {
    let (day_name, rest) = value.split_once(", ")?;
    LONG_DAYS.contains(&day_name).then_some(())?;
    let mut parts = rest.split(' ');
    let mut date = parts.next()?.split('-');
    let day = digits(date.next()?, 2)?;
    let month = month(date.next()?)?;
    let yy = i64::from(digits(date.next()?, 2)?);
    date.next().is_none().then_some(())?;
    let time = time_of_day(parts.next()?)?;
    (parts.next() == Some("GMT") && parts.next().is_none()).then_some(())?;
    // §5.6.7: a two-digit year more than 50 years in the future is the most recent
    // past year with those digits. Candidates in the previous, current and next
    // century: the latest one not more than 50 years ahead.
    // The century of `now` need only be about right (an average Gregorian year): the
    // candidates span three centuries and the limit is exact.
    let now = i64::try_from(now_secs).ok()?;
    let century = (1970 + now / 31_556_952) / 100 * 100;
    let limit = now.checked_add(50 * 31_556_952)?;
    [century + 100, century, century - 100]
        .into_iter()
        .filter_map(|c| epoch_seconds(c + yy, month, day, time))
        .find(|&at| at <= limit)
}

/// `Sun Nov  6 08:49:37 1994`
fn asctime_date(value: &str) -> Option<i64> {
    let mut parts = value.split(' ');
    DAYS.contains(&parts.next()?).then_some(())?;
    let month = month(parts.next()?)?;
    // The day is two digits, or a space and one digit.
    let day = match parts.next()? {
        "" => digits(parts.next()?, 1)?,
        two => digits(two, 2)?,
    };
    let time = time_of_day(parts.next()?)?;
    let year = digits(parts.next()?, 4)?;
    parts.next().is_none().then_some(())?;
    epoch_seconds(i64::from(year), month, day, time)
}

/// Exactly `n` ASCII digits.
fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// 1 to 12.
fn month(s: &str) -> Option<u32> {
    let at = MONTHS.iter().position(|m| *m == s)?;
    u32::try_from(at + 1).ok()
}

/// `HH:MM:SS` in seconds (a leap second 60 is allowed).
fn time_of_day(s: &str) -> Option<i64> {
    let mut parts = s.split(':');
    let hour = digits(parts.next()?, 2)?;
    let minute = digits(parts.next()?, 2)?;
    let second = digits(parts.next()?, 2)?;
    (parts.next().is_none() && hour < 24 && minute < 60 && second <= 60).then_some(())?;
    Some(i64::from(hour * 3600 + minute * 60 + second))
}

/// Seconds since the epoch of a valid proleptic Gregorian date and time of day.
fn epoch_seconds(year: i64, month: u32, day: u32, time: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=month_days).contains(&day).then_some(())?;
    // Days from civil (Howard Hinnant's algorithm): years start in March so the leap
    // day is the last of its year.
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + time)
}

/// The builder's settings for this layer: on, with the default strategy and a
/// sleeping thread.
pub(crate) struct Settings {
    disabled: bool,
    strategy: Arc<dyn RetryStrategy>,
    sleeper: Arc<dyn Sleeper>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            disabled: false,
            strategy: Arc::new(DefaultRetryStrategy::default()),
            sleeper: Arc::new(ThreadSleeper),
        }
    }
}

/// The layer's handler, or `None` when it is off.
pub(crate) fn handler(settings: &Settings) -> Option<Arc<dyn ExecHandler>> {
    if settings.disabled {
        return None;
    }
    Some(Arc::new(RetryExec {
        strategy: Arc::clone(&settings.strategy),
        sleeper: Arc::clone(&settings.sleeper),
    }))
}

/// The RETRY element.
struct RetryExec {
    strategy: Arc<dyn RetryStrategy>,
    sleeper: Arc<dyn Sleeper>,
}

impl ExecHandler for RetryExec {
    fn execute(
        &self,
        request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        let (parts, body) = request.into_parts();
        // The copy every retry sends; a body without one is sent once.
        let Some(spare) = body.try_clone() else {
            scope.context.set_attempts(1);
            return chain.proceed(Request::from_parts(parts, body), scope);
        };
        let head = Request::from_parts(parts, ());
        let mut body = body;
        let mut attempt = 1;
        loop {
            // Set before the attempt, so handlers after RETRY see which one runs.
            scope.context.set_attempts(attempt);
            let outcome = chain.proceed(head.clone().map(|()| body), scope);
            // `spare` is replayable, so this always succeeds; if it ever did not, the
            // outcome stands rather than a panic.
            let Some(next) = spare.try_clone() else {
                return outcome;
            };
            match outcome {
                Err(error) => {
                    if !self
                        .strategy
                        .retry_on_error(&head, &error, attempt, scope.context)
                    {
                        return Err(error);
                    }
                }
                Ok(response) => {
                    let Some(delay) =
                        self.strategy
                            .retry_on_response(&head, &response, attempt, scope.context)
                    else {
                        return Ok(response);
                    };
                    // Drained or closed now, not held through the wait.
                    drop(response);
                    self.sleeper.sleep(delay);
                }
            }
            body = next;
            attempt = attempt.saturating_add(1);
        }
    }
}

impl crate::ClientBuilder {
    /// Decides which failed attempts and which responses are sent again. Default:
    /// [`DefaultRetryStrategy`]. Apache: `setRetryStrategy`. Has no effect after
    /// [`disable_automatic_retries`](Self::disable_automatic_retries).
    pub fn retry_strategy(mut self, strategy: impl RetryStrategy + 'static) -> Self {
        self.retry.strategy = Arc::new(strategy);
        self
    }

    /// Removes the RETRY element from the chain: every request is sent once, and a
    /// handler added before or after RETRY is reported by `build`. Stays off whatever
    /// is set later. Apache: `disableAutomaticRetries`.
    pub fn disable_automatic_retries(mut self) -> Self {
        self.retry.disabled = true;
        self
    }

    /// How the retry layer waits out a delay (a `Retry-After`). Default: the calling
    /// thread sleeps. Tests inject a closure that records the delay and returns.
    ///
    /// ```
    /// use std::sync::{Arc, Mutex};
    /// use std::time::Duration;
    ///
    /// let waits = Arc::new(Mutex::new(Vec::<Duration>::new()));
    /// let log = Arc::clone(&waits);
    /// let client = hcx::Client::builder()
    ///     .retry_sleeper(move |delay: Duration| {
    ///         if let Ok(mut log) = log.lock() {
    ///             log.push(delay);
    ///         }
    ///     })
    ///     .build()?;
    /// # Ok::<(), hcx::Error>(())
    /// ```
    pub fn retry_sleeper(mut self, sleeper: impl Sleeper + 'static) -> Self {
        self.retry.sleeper = Arc::new(sleeper);
        self
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

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 §5.6.7's example).
        let now = at(784_111_777 - 90);
        let secs = Duration::from_secs;
        for (value, expected) in [
            ("0", Some(secs(0))),
            ("120", Some(secs(120))),
            (" 7\t", Some(secs(7))),
            ("99999999999999999999999", Some(Duration::MAX)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(secs(90))),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(secs(90))),
            ("Sun Nov  6 08:49:37 1994", Some(secs(90))),
            // The instant counts, not the day name.
            ("Mon, 06 Nov 1994 08:49:37 GMT", Some(secs(90))),
            // Past dates: retry at once.
            ("Sun, 06 Nov 1994 08:00:00 GMT", Some(Duration::ZERO)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(Duration::ZERO)),
            ("Wed, 31 Dec 1969 23:59:59 GMT", Some(Duration::ZERO)),
            // A leap day, and a date far ahead.
            (
                "Thu, 29 Feb 1996 00:00:00 GMT",
                Some(secs(825_552_000 - 784_111_687)),
            ),
            (
                "Fri, 31 Dec 9999 23:59:59 GMT",
                Some(secs(253_402_300_799 - 784_111_687)),
            ),
        ] {
            assert_eq!(parse_retry_after(value, now), expected, "{value:?}");
        }
    }

    #[test]
    fn garbage_retry_after_values_are_none() {
        let now = at(784_111_777);
        for value in [
            "",
            "-1",
            "+5",
            "1.5",
            "5 s",
            "soon",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  06 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 GMT\u{e9}",
        ] {
            assert_eq!(parse_retry_after(value, now), None, "{value:?}");
        }
    }

    #[test]
    fn a_two_digit_year_is_never_more_than_fifty_years_ahead() {
        // In 2025, "94" is 1994 and "30" is 2030; "75" is 2075 (50 years ahead, within
        // the limit) and "76" is 1976.
        let now_2025 = at(1_735_689_600); // Wed, 01 Jan 2025 00:00:00 GMT
        let in_years = |value: &str| parse_retry_after(value, now_2025).map(|d| d.as_secs());
        assert_eq!(in_years("Sunday, 06-Nov-94 08:49:37 GMT"), Some(0));
        assert_eq!(
            in_years("Tuesday, 01-Jan-30 00:00:00 GMT"),
            Some(157_766_400)
        );
        assert_eq!(in_years("Friday, 01-Jan-76 00:00:00 GMT"), Some(0));
        assert!(in_years("Tuesday, 01-Jan-75 00:00:00 GMT").is_some_and(|s| s > 0));
    }
}
