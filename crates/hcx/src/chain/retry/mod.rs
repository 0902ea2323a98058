//! RETRY: sends a request again when that is safe. Apache HttpClient 5:
//! `HttpRequestRetryExec` with its `HttpRequestRetryStrategy`.
//!
//! The rules are documented on the public items, where users read them:
//! [`RetryStrategy`] says what the layer does (which requests can be retried at all,
//! how a retry runs), [`DefaultRetryStrategy`] which failures and responses it retries
//! and how that differs from Apache. This module holds the element, its settings and
//! the builder's methods; `strategy` the strategies and the [`Sleeper`]; `retry_after`
//! the `Retry-After` parser (RFC 9110 §10.2.3, with the HTTP-date forms of §5.6.7).

mod retry_after;
mod strategy;

pub use retry_after::parse_retry_after;
pub use strategy::{DefaultRetryStrategy, RetryStrategy, Sleeper};

use std::sync::Arc;
use std::time::Duration;

use hcx_exec::{Body, Error, ErrorKind, ResponseBody, RetryCause, RetryEvent};
use http::header::EXPECT;
use http::{Request, Response, StatusCode};

use super::{Chain, ExecHandler, Scope, copy_head};

/// The builder's settings for this layer: on, with the default strategy and a
/// sleeping thread.
pub(crate) struct Settings {
    disabled: bool,
    strategy: Arc<dyn RetryStrategy>,
    /// `None`: the default wait (the thread sleeps, and an abort ends it).
    sleeper: Option<Arc<dyn Sleeper>>,
}

impl Settings {
    /// Whether a request that fails on a dead connection may be sent again: the
    /// RETRY layer is in the chain and its strategy retries errors. Only then may a
    /// request probe a connection idle past the learned limit.
    pub(crate) fn covers_probes(&self) -> bool {
        !self.disabled && self.strategy.retries_errors()
    }
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            disabled: false,
            strategy: Arc::new(DefaultRetryStrategy::default()),
            sleeper: None,
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
        sleeper: settings.sleeper.clone(),
    }))
}

/// The RETRY element.
struct RetryExec {
    strategy: Arc<dyn RetryStrategy>,
    sleeper: Option<Arc<dyn Sleeper>>,
}

impl ExecHandler for RetryExec {
    fn execute(
        &self,
        mut request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        // The copy every retry sends; a body without one is sent once.
        let Some(spare) = request.body().try_clone() else {
            scope.context.set_attempts(1);
            return chain.proceed(request, scope);
        };
        // The head the strategy judges and later attempts send: the scope's copy of
        // the caller's while the request is still that (the usual one: nothing is
        // copied here), else a copy of this one.
        let mut copied = (!scope.is_original(&request)).then(|| copy_head(&request));
        // The first attempt sends the request as it came (`mut` where it is taken: a
        // rebinding here copied it), later ones a copy of the head with a copy of the
        // spare body.
        let mut attempt = 1;
        loop {
            // Set before the attempt, so handlers after RETRY see which one runs.
            scope.context.set_attempts(attempt);
            let outcome = chain.proceed(request, scope);
            let head = copied.as_ref().unwrap_or(&scope.original);
            // The body of the next attempt is copied from `spare` once it is known
            // there is one (most requests are sent once). `spare` is replayable, so the
            // copy always succeeds; if it ever did not, the outcome stands rather than a
            // panic.
            let next = match &outcome {
                Err(error) => {
                    // An aborted request is never sent again, whatever the strategy.
                    if error.is_aborted()
                        || error.is_shutdown()
                        || !self
                            .strategy
                            .retry_on_error(head, error, attempt, scope.context)
                        || shut_down(scope)
                    {
                        return outcome;
                    }
                    let Some(next) = spare.try_clone() else {
                        return outcome;
                    };
                    scope.manager().events().retry(&RetryEvent::new(
                        head.method(),
                        head.uri(),
                        attempt,
                        RetryCause::Error(error),
                        Duration::ZERO,
                    ));
                    next
                }
                Ok(response) => {
                    // RFC 9110 §10.1.1: a 417 to a request that expected 100-continue
                    // is repeated at once without the expectation (the server did not
                    // act on it); any other response as the strategy says.
                    let delay = if response.status() == StatusCode::EXPECTATION_FAILED
                        && sent_expectation(head, &spare)
                    {
                        // Sent again without it: the head is this layer's own from
                        // here on.
                        let mut own = copied.take().unwrap_or_else(|| copy_head(&scope.original));
                        own.headers_mut().remove(EXPECT);
                        copied = Some(own);
                        Duration::ZERO
                    } else {
                        match self.strategy.retry_on_response(
                            head,
                            response,
                            attempt,
                            scope.context,
                        ) {
                            // A wait longer than the response timeout in force is not
                            // taken: the response is returned at once (Apache 5.2+).
                            Some(delay) if !outlasts_response_timeout(delay, scope) => delay,
                            // Returned as it came, not moved out of the result and back
                            // into a new one.
                            _ => return outcome,
                        }
                    };
                    if shut_down(scope) {
                        return outcome;
                    }
                    let Some(next) = spare.try_clone() else {
                        return outcome;
                    };
                    let status = response.status();
                    // Drained or closed now, not held through the wait.
                    drop(outcome);
                    let head = copied.as_ref().unwrap_or(&scope.original);
                    scope.manager().events().retry(&RetryEvent::new(
                        head.method(),
                        head.uri(),
                        attempt,
                        RetryCause::Status(status),
                        delay,
                    ));
                    // Aborted: the next attempt fails before it leases; no wait first.
                    // The default wait ends at an abort too; a sleeper of your own is
                    // called as it is.
                    if !scope.is_aborted() {
                        match &self.sleeper {
                            Some(sleeper) => sleeper.sleep(delay),
                            None => scope.manager().wait(delay, scope.abort_handle()),
                        }
                    }
                    // Shut down during the wait (which then ends): the next attempt
                    // could not lease; say why the request stops here.
                    if shut_down(scope) {
                        return Err(Error::new(
                            ErrorKind::Shutdown,
                            format!(
                                "the connection manager was shut down while RETRY waited \
                                 to send the request again after a {status} response"
                            ),
                        ));
                    }
                    next
                }
            };
            request = copy_head(copied.as_ref().unwrap_or(&scope.original)).map(|()| next);
            attempt = attempt.saturating_add(1);
        }
    }
}

/// Whether `delay` is longer than the response timeout in force for the request (its
/// own, else the connection manager's socket timeout): the caller asked not to wait
/// that long for a response. Apache 5.2+: `DefaultHttpRequestRetryStrategy` does not
/// retry when the retry interval exceeds `RequestConfig.responseTimeout`.
fn outlasts_response_timeout(delay: Duration, scope: &Scope<'_>) -> bool {
    scope
        .config
        .response_timeout
        .or_else(|| scope.manager().socket_timeout())
        .is_some_and(|timeout| delay > timeout)
}

/// Whether the connection manager was shut down: it leases no more, so a retry could
/// only fail with `Shutdown`, and the outcome in hand (the server's answer or failure)
/// stands instead. Asked only once a retry is decided (it takes the pool's lock).
fn shut_down(scope: &Scope<'_>) -> bool {
    scope.manager().pool().is_shutdown()
}

/// Whether the request went out with `Expect: 100-continue` (the codec's rule: its head
/// carries it, it has content, it is not HTTP/1.0). A 417 to a request that went out
/// without it is about something else, and is not repeated.
fn sent_expectation(head: &Request<()>, body: &Body) -> bool {
    hcx_h1::sends_continue_expectation(head.version(), !body.is_empty(), head.headers())
}

impl crate::ClientBuilder {
    /// Decides which failed attempts and which responses are sent again. Default:
    /// [`DefaultRetryStrategy`]. Apache: `setRetryStrategy`. Has no effect after
    /// [`disable_automatic_retries`](Self::disable_automatic_retries).
    #[doc(alias(
        "setRetryStrategy",
        "setRetryHandler",
        "setServiceUnavailableRetryStrategy"
    ))]
    pub fn retry_strategy(mut self, strategy: impl RetryStrategy + 'static) -> Self {
        self.retry.strategy = Arc::new(strategy);
        self
    }

    /// Removes the RETRY element from the chain: every request is sent once, and a
    /// handler added before or after RETRY is reported by `build`. Stays off whatever
    /// is set later. Apache: `disableAutomaticRetries`.
    #[doc(alias("disableAutomaticRetries"))]
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
        self.retry.sleeper = Some(Arc::new(sleeper));
        self
    }
}
