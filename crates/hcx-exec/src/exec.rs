//! MainExec: one request/response exchange over a leased connection.

use std::fmt;
use std::sync::Arc;

use hcx_h1::{
    BodyDecoder, ErrorKind, HeadEvent, HeadReader, Limits, ResponseHead, TargetForm,
    encode_request_head, response_framing,
};
use hcx_reuse::{
    ConnectionReuseStrategy, Decision, DefaultKeepAliveStrategy, DefaultReuseStrategy, Exchange,
    KeepAliveStrategy, decide,
};
use http::header::EXPECT;
use http::{HeaderMap, Request, Response};

use crate::body::Body;
use crate::config::RequestConfig;
use crate::connection::Connection;
use crate::error::{Error, Kind, is_timeout};
use crate::info::ReuseInfo;
use crate::response_body::ResponseBody;
use crate::route::Route;
use crate::runtime::ExecRuntime;
use crate::send::{is_gone, send_body, send_head};

/// The last link of the exec chain: sends the request over the runtime's connection
/// and reads the response head. Apache HttpClient: `MainClientExec`.
///
/// It leases and connects if the runtime holds no connection, asks the reuse and
/// keep-alive strategies after the head, marks the runtime, and releases it at once
/// when the response has no body; otherwise the [`ResponseBody`] owns the runtime and
/// releases it at the body's end. Any error discards the connection.
#[derive(Clone)]
pub struct MainExec {
    reuse: Arc<dyn ConnectionReuseStrategy>,
    keep_alive: Arc<dyn KeepAliveStrategy>,
    limits: Limits,
}

impl Default for MainExec {
    fn default() -> Self {
        MainExec::new(
            Arc::new(DefaultReuseStrategy),
            Arc::new(DefaultKeepAliveStrategy::default()),
        )
    }
}

/// What came back while waiting for `100 Continue`.
enum Continue {
    /// Send the body (a 100 came, or the wait ran out).
    SendBody,
    /// The final response came first: the body is not sent.
    Final(ResponseHead),
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
        }
    }

    /// Sets the response head limits (head bytes, header count, 1xx count).
    pub fn with_limits(mut self, limits: Limits) -> Self {
        self.limits = limits;
        self
    }

    /// Runs one exchange of `request` to `route`.
    ///
    /// The request must have an absolute URI or a `Host` header; it is sent in
    /// origin-form. The request is checked and its head encoded before a connection is
    /// leased, so an invalid request never touches the pool.
    pub fn execute(
        &self,
        route: &Route,
        request: Request<Body>,
        mut runtime: ExecRuntime,
        config: &RequestConfig,
    ) -> Result<Response<ResponseBody>, Error> {
        let (parts, body) = request.into_parts();
        let framing = body.framing(&parts.method);
        let mut head = Vec::with_capacity(256);
        let encoder =
            encode_request_head(&parts, TargetForm::Origin, framing, &mut head).map_err(|e| {
                Error::new(Kind::InvalidRequest, format!("invalid request: {e}")).with_source(e)
            })?;
        let expect_continue = !body.is_empty() && expects_continue(&parts.headers);
        let source = body.into_source().map_err(|e| {
            Error::new(Kind::Io, format!("the request body factory failed: {e}")).with_source(e)
        })?;

        if !runtime.is_acquired() {
            runtime.acquire(route, None, config.connection_request_timeout)?;
        }
        runtime.connect_if_needed(config.connect_timeout)?;
        let info = runtime.connection_info();
        let conn = connection(&mut runtime)?;
        conn.set_timeout(config.response_timeout)
            .map_err(|e| Error::exchange_io(e, "setting the response timeout", None))?;

        let mut reader = HeadReader::new(self.limits);
        let mut received_any = false;
        let mut body_complete = true;
        let sent = if expect_continue {
            send_head(conn, &head)?;
            match wait_for_continue(conn, &mut reader, config, &mut received_any)? {
                Continue::SendBody => send_body(conn, Vec::new(), encoder, source).map(|()| None),
                Continue::Final(head) => {
                    body_complete = false;
                    Ok(Some(head))
                }
            }
        } else {
            send_body(conn, head, encoder, source).map(|()| None)
        };
        let early = match sent {
            Ok(early) => early,
            // The server hung up while the body was going out: it may have answered
            // first (a 413, a 401) and the answer may still be readable. Go and curl
            // read it; Apache reports the write error.
            Err(e) if e.is_closed_before_response() => {
                match read_final_head(conn, &mut reader, &mut received_any) {
                    Ok(head) => {
                        body_complete = false;
                        Some(head)
                    }
                    // Response bytes came: the read's own error says what went wrong
                    // (a truncated or non-HTTP head is not "no response"; the retry
                    // layer must not take it for one). Found in review.
                    Err(read) if received_any => return Err(read),
                    Err(_) => return Err(e),
                }
            }
            Err(e) => return Err(e),
        };
        let head = match early {
            Some(head) => head,
            None => read_final_head(conn, &mut reader, &mut received_any)?,
        };

        let framing = response_framing(&parts.method, &head).map_err(Error::from_h1)?;
        let exchange = Exchange::new(
            &parts.method,
            &parts.headers,
            head.status,
            head.version,
            &head.headers,
        )
        .with_request_body_complete(body_complete)
        .with_request_version(parts.version);
        // The engine's floor comes first, whatever the strategies say: framing that
        // ends with the connection, or a request body the server never got whole (it
        // may still be reading or discarding the rest). The strategies are asked only
        // when their answer counts.
        let reuse = if let Some(reason) = framing.close {
            ReuseInfo::Close {
                reason: reason.explain(),
            }
        } else if !body_complete {
            ReuseInfo::Close {
                reason: hcx_reuse::CloseReason::RequestBodyIncomplete.explain(),
            }
        } else {
            match decide(&*self.reuse, &*self.keep_alive, &exchange) {
                Decision::Close(reason) => ReuseInfo::Close {
                    reason: reason.explain(),
                },
                Decision::Keep { valid_for } => ReuseInfo::Keep { valid_for },
            }
        };
        match reuse {
            ReuseInfo::Keep { valid_for } => runtime.mark_reusable(valid_for),
            ReuseInfo::Close { .. } => runtime.mark_non_reusable(),
        }

        let mut response = head.into_response(());
        if let Some(info) = info {
            response.extensions_mut().insert(info);
        }
        response.extensions_mut().insert(reuse);
        if !framing.has_body() {
            runtime.release();
            return Ok(response.map(|()| ResponseBody::empty()));
        }
        let decoder = BodyDecoder::new(framing.body, &self.limits);
        Ok(response.map(|()| ResponseBody::streaming(runtime, decoder, config)))
    }
}

fn connection(runtime: &mut ExecRuntime) -> Result<&mut Connection, Error> {
    runtime
        .connection_mut()
        .ok_or_else(|| Error::new(Kind::InvalidRequest, "the runtime holds no connection"))
}

/// `Expect: 100-continue` (case-insensitive, RFC 9110 §10.1.1).
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get_all(EXPECT)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}

/// Waits a bounded time for `100 Continue` or a final response.
fn wait_for_continue(
    conn: &mut Connection,
    reader: &mut HeadReader,
    config: &RequestConfig,
    received_any: &mut bool,
) -> Result<Continue, Error> {
    let wait = match config.response_timeout {
        Some(t) => t.min(config.expect_continue_timeout),
        None => config.expect_continue_timeout,
    };
    conn.set_timeout(Some(wait))
        .map_err(|e| Error::exchange_io(e, "setting the expect-continue timeout", None))?;
    let outcome = loop {
        match reader.read(conn.buffer()).map_err(Error::from_h1)? {
            Some(HeadEvent::Informational(h)) if h.status == http::StatusCode::CONTINUE => {
                break Continue::SendBody;
            }
            Some(HeadEvent::Informational(_)) => continue,
            Some(HeadEvent::Final(h)) => break Continue::Final(h),
            None => {}
        }
        match conn.fill() {
            Ok(0) => return Err(closed_early(conn, *received_any)),
            Ok(_) => *received_any = true,
            // RFC 9110 §10.1.1: a client need not wait indefinitely.
            Err(e) if is_timeout(&e) => break Continue::SendBody,
            Err(e) => return Err(read_error(e, *received_any, Some(wait))),
        }
    };
    conn.set_timeout(config.response_timeout)
        .map_err(|e| Error::exchange_io(e, "setting the response timeout", None))?;
    Ok(outcome)
}

/// Reads heads until the final one, skipping 1xx.
fn read_final_head(
    conn: &mut Connection,
    reader: &mut HeadReader,
    received_any: &mut bool,
) -> Result<ResponseHead, Error> {
    loop {
        match reader.read(conn.buffer()).map_err(Error::from_h1)? {
            Some(HeadEvent::Final(head)) => return Ok(head),
            Some(HeadEvent::Informational(_)) => continue,
            None => {}
        }
        let timeout = conn.timeout();
        match conn.fill() {
            Ok(0) => return Err(closed_early(conn, *received_any)),
            Ok(_) => *received_any = true,
            Err(e) => return Err(read_error(e, *received_any, timeout)),
        }
    }
}

/// End of stream before the final head: no response at all, or a truncated head.
fn closed_early(conn: &mut Connection, received_any: bool) -> Error {
    if !received_any && conn.buffer().is_empty() {
        Error::new(
            Kind::ClosedBeforeResponse,
            format!(
                "connection {} to {} closed before any response byte",
                conn.id(),
                conn.route()
            ),
        )
    } else {
        Error::new(
            Kind::Protocol(ErrorKind::IncompleteHead),
            format!(
                "connection closed in the middle of the response head ({} bytes received)",
                conn.buffer().len()
            ),
        )
    }
}

fn read_error(
    e: std::io::Error,
    received_any: bool,
    timeout: Option<std::time::Duration>,
) -> Error {
    if !received_any && is_gone(&e) {
        Error::new(
            Kind::ClosedBeforeResponse,
            format!("connection reset before any response byte: {e}"),
        )
        .with_source(e)
    } else {
        Error::exchange_io(e, "waiting for the response head", timeout)
    }
}

impl fmt::Debug for MainExec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("MainExec")
            .field("limits", &self.limits)
            .finish_non_exhaustive()
    }
}
