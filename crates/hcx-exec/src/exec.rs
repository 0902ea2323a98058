//! MainExec: one request/response exchange over a leased connection.

use std::fmt;
use std::sync::Arc;
use std::time::Duration;

use hcx_close::{CloseReason, Decision};
use hcx_h1::{
    Call, ContinueStep, FinalResponse, Limits, RecvResponse, RecvStep, RequestHead, Sending,
};
use hcx_reuse::{
    ConnectionReuseStrategy, DefaultKeepAliveStrategy, DefaultReuseStrategy, Exchange, IdleOutcome,
    IdleVerdict, KeepAliveStrategy, decide,
};
use http::{HeaderName, HeaderValue, Request, Response};

use crate::body::{Body, Source};
use crate::config::RequestConfig;
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Facts, RequestProgress};
use crate::events::{ConnectionRef, SentFields};
use crate::info::ResponseInfo;
use crate::response_body::ResponseBody;
use crate::route::Route;
use crate::runtime::ExecRuntime;
use crate::send::{Sent, WriteBuf, is_gone, send_body, send_head};

/// The last link of the exec chain: sends the request over the runtime's connection
/// and reads the response head. Apache HttpClient: `MainClientExec`.
///
/// The exchange itself is the codec's sans-IO [`Call`]: this type only moves bytes
/// between it and the connection's transport, sets timeouts, and classifies what goes
/// wrong. It leases and connects if the runtime holds no connection, takes the one
/// keep-or-close [`Decision`] after the head (the framing verdict first, then the
/// strategies), marks the runtime with it, and releases at once when the response has
/// no body; otherwise the [`ResponseBody`] owns the runtime and releases it at the
/// body's end. Any error discards the connection.
///
/// Idle connections: before the exchange, a reused connection is offered to the
/// keep-alive strategy's [`admit`](KeepAliveStrategy::admit) with its idle time; one it
/// does not admit is closed ([`CloseReason::IdleLimit`]) and another leased. After
/// the exchange the strategy is told how the reused connection fared
/// ([`observe`](KeepAliveStrategy::observe)): a response came, or it was closed or reset
/// before any response byte; what it learns is reported to the event listener.
#[derive(Clone)]
pub struct MainExec {
    reuse: Arc<dyn ConnectionReuseStrategy>,
    keep_alive: Arc<dyn KeepAliveStrategy>,
    limits: Limits,
    idle_probes: bool,
}

impl Default for MainExec {
    fn default() -> Self {
        MainExec::new(
            Arc::new(DefaultReuseStrategy),
            Arc::new(DefaultKeepAliveStrategy::default()),
        )
    }
}

/// How far one exchange got: what every error of it reports.
struct Progress {
    written_before: u64,
    complete: bool,
    response_started: bool,
    reused: bool,
    /// Yield the CPU once before the first wait for the response (the process has
    /// more exchanges out than CPUs); cleared once done.
    yield_first: bool,
}

impl Progress {
    fn facts(&self, written_now: u64) -> Facts {
        let progress = if self.complete {
            RequestProgress::Complete
        } else if written_now > self.written_before {
            RequestProgress::Partial
        } else {
            RequestProgress::NotStarted
        };
        Facts {
            progress,
            response_started: self.response_started,
            reused: self.reused,
        }
    }
}

impl MainExec {
    /// An exec with these strategies and the codec's default limits.
    pub fn new(
        reuse: Arc<dyn ConnectionReuseStrategy>,
        keep_alive: Arc<dyn KeepAliveStrategy>,
    ) -> Self {
        MainExec {
            reuse,
            keep_alive,
            limits: Limits::default(),
            idle_probes: false,
        }
    }

    /// Lets the keep-alive strategy probe idle times beyond what it admits with
    /// idempotent requests whose body can be sent again ([`IdleVerdict::Probe`]; a
    /// [`Body::reader`] body never probes): only when something sends such a request
    /// again if the connection was dead (the client's RETRY layer). Default: off.
    #[must_use]
    pub fn with_idle_probes(mut self, on: bool) -> Self {
        self.idle_probes = on;
        self
    }

    /// Sets the response head limits (head bytes, header count, 1xx count).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Runs one exchange of `request` to `route`.
    ///
    /// The request must have an absolute URI or a `Host` header; it is sent in
    /// origin-form, or in absolute-form with the proxy's `Proxy-Authorization` (unless
    /// the request has its own) when the route goes to a forward proxy, which needs
    /// an absolute URI. On any other route a `Proxy-Authorization` the request carries
    /// is not sent (the codec writes none in origin-form). The request is checked and its head encoded before a connection is
    /// leased, so an invalid request never touches the pool.
    pub fn execute(
        &self,
        route: &Route,
        request: Request<Body>,
        runtime: ExecRuntime,
        config: &RequestConfig,
    ) -> Result<Response<ResponseBody>, Error> {
        self.execute_with_defaults(route, request, &[], runtime, config)
    }

    /// [`execute`](Self::execute), writing `defaults` after the request's own fields
    /// (and after the `Proxy-Authorization` it adds for a forward proxy), each only
    /// when the request has no field of that name
    /// ([`RequestHead::defaults`](hcx_h1::RequestHead::defaults)): a client's
    /// `User-Agent` and `Accept-Encoding` go out without being added to the request's
    /// map first (an allocation and a copy per request). They are part of the head the
    /// events see ([`EventListener::request_head_written`](crate::EventListener::request_head_written);
    /// `hcx::headers` hides the value of one marked sensitive, as of the request's own),
    /// not of the request's fields the reuse strategy reads, so none may be one the
    /// codec decides (`Host`, the framing fields, `Connection`, `Expect`,
    /// `Proxy-Authorization`): those are refused ([`ErrorKind::InvalidRequest`]) before
    /// any connection is leased.
    pub fn execute_with_defaults(
        &self,
        route: &Route,
        request: Request<Body>,
        defaults: &[(HeaderName, HeaderValue)],
        mut runtime: ExecRuntime,
        config: &RequestConfig,
    ) -> Result<Response<ResponseBody>, Error> {
        // A request that sets no response timeout has the manager's socket timeout
        // (Apache: a null `responseTimeout` leaves `ConnectionConfig.socketTimeout`).
        // Only the timeout is taken, not a copy of the whole config.
        let response_timeout = config
            .response_timeout
            .or_else(|| runtime.manager().socket_timeout());
        let (mut parts, body) = request.into_parts();
        let framing = body.framing(&parts.method);
        // A probe may meet a dead connection: only a request the RETRY layer can send
        // again may make one, an idempotent one whose body can be sent again.
        let may_probe = self.idle_probes && parts.method.is_idempotent() && body.is_replayable();
        let form = route.target_form();
        match &route.proxy {
            Some(proxy) if route.is_forward_proxy() => {
                // The request's own wins (`entry` would reserve room first, and panic
                // on a full map even when the field is there).
                let own = parts
                    .headers
                    .contains_key(http::header::PROXY_AUTHORIZATION);
                if let Some(credentials) = proxy.authorization()?.filter(|_| !own) {
                    parts
                        .headers
                        .try_insert(http::header::PROXY_AUTHORIZATION, credentials)?;
                }
            }
            // Direct or through a tunnel the request goes to the origin in
            // origin-form, in which the codec never writes a `Proxy-Authorization`
            // (a tunnel's credentials are the CONNECT's, RFC 9110 §11.7.2).
            _ => {}
        }
        let mut head = WriteBuf::take();
        let request_head = RequestHead {
            defaults,
            ..RequestHead::from(&parts)
        };
        let sending =
            Call::new(request_head, form, framing, self.limits, &mut *head).map_err(|e| {
                Error::new(
                    ErrorKind::InvalidRequest,
                    "the request cannot be sent as it is",
                )
                .with_source(e)
            })?;
        let source = body.into_source().map_err(|e| {
            Error::new(ErrorKind::RequestBody, "the request body factory failed").with_source(e)
        })?;

        if !runtime.is_acquired() {
            let token = runtime.user_token().cloned();
            runtime.acquire(route, token.clone(), config.connection_request_timeout)?;
            if token.is_some() {
                runtime.set_state(token);
            }
        }
        let idle_check = self.admit_idle(route, may_probe, &mut runtime)?;
        runtime.set_proxy_auth(config.authentication_enabled);
        runtime.connect_if_needed(config.connect_timeout)?;
        let info = runtime.connection_info().map(|mut info| {
            info.idle_limit_closed = idle_check.closed;
            info.idle_probe = idle_check.probe;
            info
        });
        let yield_first = runtime.crowded();
        let conn = connection(&mut runtime)?;
        let mut progress = Progress {
            written_before: conn.written(),
            complete: false,
            response_started: false,
            reused: info.is_some_and(|i| i.reused),
            yield_first,
        };
        let (conn, events) = runtime.connection_and_events();
        let conn = conn.ok_or_else(no_connection)?;
        let head_copy = events.wants_request_head().then(|| head.to_vec());
        let fields = SentFields {
            headers: &parts.headers,
            defaults,
        };
        let sent_head = |conn: &Connection| {
            if let Some(head) = &head_copy {
                let conn = ConnectionRef::new(conn.id(), conn.route());
                events.request_head_written(&conn, head, fields);
            }
        };
        let result = exchange(
            conn,
            sending,
            head,
            source,
            response_timeout,
            config.expect_continue_timeout,
            &mut progress,
            sent_head,
        )
        .map_err(|e| runtime.if_aborted(e, "during the exchange"));
        if let Some(idle) = info.filter(|i| i.reused).and_then(|i| i.idle_for) {
            let outcome = match &result {
                Ok(_) => Some(IdleOutcome::Survived),
                Err(e) if !progress.response_started && e.is_closed_before_response() => {
                    Some(IdleOutcome::DiedIdle)
                }
                Err(_) => None,
            };
            if let (Some(outcome), Some(now)) = (outcome, runtime.leased_at())
                && let Some(change) = self.keep_alive.observe(route.key(), idle, outcome, now)
            {
                runtime.manager().events().idle_limit_changed(&change);
            }
        }
        let facts = progress.facts(runtime.connection().map_or(0, Connection::written));
        // On error, dropping the runtime discards the connection as a failed exchange.
        let response = result.map_err(|e| e.with_facts(facts))?;
        let FinalResponse {
            head,
            framing,
            body: decoder,
            request_body_complete,
            ..
        } = response;

        // The framing verdict and an incomplete request body are the floor: no strategy
        // can keep a connection whose next response cannot be found. The strategies are
        // asked only when their answer counts.
        let decision = match framing.close {
            Some(reason) => Decision::Close(reason),
            None if !request_body_complete => Decision::Close(CloseReason::RequestBodyIncomplete),
            None => {
                let exchange = Exchange::new(&parts.method, &parts.headers, &head, framing)
                    .with_request_body_complete(request_body_complete)
                    .with_request_version(parts.version)
                    .with_route(route.key());
                decide(&*self.reuse, &*self.keep_alive, &exchange)
            }
        };
        runtime.mark(decision);
        if let (Some(conn), events) = runtime.connection_and_events() {
            events.head_read_and_decided(conn, &head, decision);
        }

        let info = info.map(|connection| ResponseInfo {
            connection,
            decision,
        });
        let body = if framing.has_body() {
            ResponseBody::streaming(runtime, decoder, config, facts, info)
        } else {
            runtime.release_at_body_end(0);
            ResponseBody::empty(facts, info)
        };
        Ok(head.into_response(body))
    }
}

/// What the idle check before an exchange did.
#[derive(Default)]
struct IdleCheck {
    /// Pooled connections closed as too idle.
    closed: u32,
    /// The connection kept is a probe beyond the learned limit.
    probe: bool,
}

impl MainExec {
    /// Offers the runtime's pooled connection to the keep-alive strategy by its idle
    /// time; closes the ones it does not admit, keeping the slot for the route's
    /// next idle connection or a new one. `may_probe`: the request can be sent again
    /// if the connection is dead (the strategy's `idempotent`).
    fn admit_idle(
        &self,
        route: &Route,
        may_probe: bool,
        runtime: &mut ExecRuntime,
    ) -> Result<IdleCheck, Error> {
        let mut check = IdleCheck::default();
        loop {
            let (Some(idle), Some(now)) = (
                runtime
                    .connection_info()
                    .filter(|i| i.reused)
                    .and_then(|i| i.idle_for),
                runtime.leased_at(),
            ) else {
                return Ok(check);
            };
            match self.keep_alive.admit(route.key(), idle, may_probe, now) {
                IdleVerdict::Reuse => return Ok(check),
                IdleVerdict::Probe => {
                    check.probe = true;
                    return Ok(check);
                }
                IdleVerdict::Close => {
                    check.closed += 1;
                    runtime.reacquire(CloseReason::IdleLimit)?;
                }
            }
        }
    }
}

/// Sends the request and reads heads until the final one, through the call, with
/// `response_timeout` (the request's, else the manager's socket timeout) and, for a
/// `100-continue` wait, at most `expect_continue_timeout`.
#[allow(clippy::too_many_arguments)]
fn exchange(
    conn: &mut Connection,
    sending: Sending,
    head: WriteBuf,
    source: Source,
    response_timeout: Option<Duration>,
    expect_continue_timeout: Duration,
    progress: &mut Progress,
    sent_head: impl FnOnce(&Connection),
) -> Result<FinalResponse, Error> {
    conn.set_timeout(response_timeout)
        .map_err(|e| Error::exchange_io(e, "setting the response timeout", None))?;
    let sent = match sending {
        Sending::Body(call) => send_body(
            conn,
            head,
            call,
            source,
            &mut progress.response_started,
            sent_head,
        )?,
        Sending::AwaitContinue(mut call) => {
            send_head(conn, &head)?;
            sent_head(conn);
            let wait = response_timeout
                .map_or(expect_continue_timeout, |t| t.min(expect_continue_timeout));
            conn.set_timeout(Some(wait))
                .map_err(|e| Error::exchange_io(e, "setting the expect-continue timeout", None))?;
            let body_call = loop {
                call = match call.try_read(conn.buffer()).map_err(Error::from_h1)? {
                    ContinueStep::Wait(call) => call,
                    ContinueStep::SendBody(call) => break call,
                    ContinueStep::Response(response) => {
                        // Its body is read with the response timeout, not the wait's.
                        conn.set_timeout(response_timeout).map_err(|e| {
                            Error::exchange_io(e, "setting the response timeout", None)
                        })?;
                        return Ok(response);
                    }
                };
                match read(conn, progress) {
                    Ok(true) => {}
                    Ok(false) => {
                        let codec = call.end_of_stream(conn.buffer());
                        return Err(end_of_stream(conn, codec, progress));
                    }
                    // RFC 9110 §10.1.1: a client need not wait indefinitely.
                    Err(e) if e.is_response_timeout() => break call.timed_out(),
                    Err(e) => return Err(e),
                }
            };
            conn.set_timeout(response_timeout)
                .map_err(|e| Error::exchange_io(e, "setting the response timeout", None))?;
            send_body(
                conn,
                WriteBuf::take(),
                body_call,
                source,
                &mut progress.response_started,
                |_: &Connection| {},
            )?
        }
    };
    match sent {
        Sent::Complete(call) => {
            progress.complete = true;
            read_final(conn, call, progress)
        }
        Sent::Answered(response) => {
            progress.response_started = true;
            Ok(*response)
        }
        // The server hung up while the body was going out: it may have answered first
        // (a 413, a 401), and the answer may still be readable. Go and curl read it;
        // Apache reports the write error.
        Sent::Interrupted { call, error } => {
            match read_final(conn, call, progress) {
                Ok(response) => Ok(response),
                // Response bytes came: the read's own error says what went wrong (a
                // truncated or non-HTTP head is not "no response"; the retry layer must
                // not take it for one).
                Err(read) if progress.response_started => Err(read),
                Err(_) => Err(error),
            }
        }
    }
}

/// Reads heads until the final one (1xx skipped by the call).
fn read_final(
    conn: &mut Connection,
    mut call: Call<RecvResponse>,
    progress: &mut Progress,
) -> Result<FinalResponse, Error> {
    loop {
        // An empty buffer holds no head: read first (the usual case on entry), unless
        // the final head came while the body went out.
        if conn.has_buffered() || call.answered() {
            call = match call.try_read(conn.buffer()).map_err(Error::from_h1)? {
                RecvStep::Response(response) => return Ok(response),
                RecvStep::Wait(call) => call,
            };
        }
        if !read(conn, progress)? {
            let codec = call.end_of_stream(conn.buffer());
            return Err(end_of_stream(conn, codec, progress));
        }
    }
}

/// One read into the connection's buffer: `Ok(false)` at end of stream.
fn read(conn: &mut Connection, progress: &mut Progress) -> Result<bool, Error> {
    if progress.yield_first {
        // More exchanges than CPUs: let a thread whose response is in run first,
        // rather than going to sleep at once and being woken (docs/exec.md).
        progress.yield_first = false;
        std::thread::yield_now();
    }
    match conn.fill() {
        Ok(0) => Ok(false),
        Ok(_) => {
            progress.response_started = true;
            Ok(true)
        }
        Err(e) if !progress.response_started && is_gone(&e) => Err(Error::new(
            ErrorKind::ClosedBeforeResponse,
            format!(
                "connection {} to {} was reset before any response byte",
                conn.id(),
                conn.route()
            ),
        )
        .with_source(e)),
        // Which server did not answer, said as for a close before the response.
        Err(e) => Err(conn.exchange_error(e, "waiting for the response head")),
    }
}

/// End of stream before the final head: a truncated head (or only interim
/// responses), which the codec's error describes, or no response at all, which is
/// said once here (the codec's error would only repeat it as a cause).
fn end_of_stream(conn: &Connection, codec: hcx_h1::Error, progress: &Progress) -> Error {
    if progress.response_started || conn.has_buffered() {
        Error::from_h1(codec)
    } else {
        Error::new(
            ErrorKind::ClosedBeforeResponse,
            format!(
                "connection {} to {} closed before any response byte",
                conn.id(),
                conn.route()
            ),
        )
    }
}

fn connection(runtime: &mut ExecRuntime) -> Result<&mut Connection, Error> {
    runtime.connection_mut().ok_or_else(no_connection)
}

fn no_connection() -> Error {
    Error::new(ErrorKind::InvalidRequest, "the runtime holds no connection")
}

impl fmt::Debug for MainExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MainExec")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
