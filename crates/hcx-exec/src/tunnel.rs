//! A `CONNECT` tunnel through an HTTP proxy (RFC 9110 §9.3.6), the exchange run by
//! the codec's `Call` like any other.

use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::BytesMut;
use hcx_h1::{
    BodyDecoder, BodyFraming, Call, Limits, RecvStep, RequestFraming, Sending, TargetForm,
};
use hcx_reuse::{ConnectionReuseStrategy, DefaultReuseStrategy, Exchange};
use http::header::{HOST, PROXY_AUTHORIZATION};
use http::{HeaderValue, Method, Request, StatusCode, Uri};

use crate::error::{Error, ErrorKind, is_timeout};
use crate::proxy_auth::{ProxyAuthenticator, ProxyChallenge};
use crate::route::{HostPort, Route};

/// How much of a refusal's body is read (to show nothing of it; the connection closes).
const REFUSAL_BODY_LIMIT: usize = 64 * 1024;

/// Most answers to a proxy's `407` for one tunnel: a challenge, then the same
/// challenge with a fresh nonce or another scheme after credentials sent up front.
const MAX_ANSWERS: u32 = 2;

/// What asking for a tunnel came to.
pub(crate) enum Opened {
    /// The stream carries the origin's bytes.
    Tunnel(Arc<TcpStream>),
    /// The proxy refused with `407` and closed (or could not keep) the connection:
    /// ask again on a new one, with this `Proxy-Authorization`.
    Reconnect(HeaderValue),
}

/// How a tunnel is asked for: the route's proxy, the manager's authenticator, and
/// the answers already given across connections.
pub(crate) struct Asking<'a> {
    pub(crate) auth: Option<&'a dyn ProxyAuthenticator>,
    /// Limits on the proxy's response head (the manager's).
    pub(crate) limits: Limits,
    /// An answer to a `407` on an earlier connection, to send first.
    pub(crate) carried: Option<HeaderValue>,
    /// Answers given so far, for this tunnel.
    pub(crate) answers: u32,
}

/// Asks the proxy `sock` is connected to for a tunnel to the route's origin; the
/// stream carries the origin's bytes once this returns. A `407` is answered by
/// `asking`'s authenticator, if it has an answer; a refusal (any status but 2xx, a
/// `407` not answered included) is an [`ErrorKind::ProxyTunnel`] error carrying the
/// proxy's status and headers.
pub(crate) fn open(
    sock: Arc<TcpStream>,
    route: &Route,
    deadline: Option<Instant>,
    timeout: Duration,
    asking: &mut Asking<'_>,
) -> Result<Opened, Error> {
    let Some(proxy) = &route.proxy else {
        return Ok(Opened::Tunnel(sock));
    };
    let authority = HostPort(&route.host, route.port).to_string();
    let failed = |what: &str| format!("the tunnel through {proxy} to {authority} {what}");
    let uri: Uri = authority.parse().map_err(|e| {
        Error::new(ErrorKind::InvalidUrl, failed("has no valid authority")).with_source(e)
    })?;
    let io = |e: io::Error, what: &str| {
        if is_timeout(&e) {
            Error::new(
                ErrorKind::ConnectTimeout,
                failed(&format!(
                    "was not open within the connect timeout of {timeout:?}"
                )),
            )
            .with_source(e)
        } else {
            Error::new(ErrorKind::Connect, failed(what)).with_source(e)
        }
    };
    // An answer carried from a refused connection, else what the authenticator sends
    // up front (an answer the proxy took before: the proxy's own credentials, if any,
    // were refused then), else the proxy's own.
    let mut credentials = match asking
        .carried
        .take()
        .or_else(|| asking.auth.and_then(|auth| auth.up_front(proxy)))
    {
        Some(answer) => Some(answer),
        None => proxy.authorization()?,
    };
    let mut buf = BytesMut::with_capacity(1024);
    let mut chunk = [0u8; 4096];
    loop {
        let mut builder = Request::builder()
            .method(Method::CONNECT)
            .uri(uri.clone())
            .header(HOST, authority.as_str());
        if let Some(value) = &credentials {
            builder = builder.header(PROXY_AUTHORIZATION, value.clone());
        }
        let request = builder.body(())?;
        let mut out = Vec::with_capacity(128);
        let sending = Call::new(
            &request,
            TargetForm::Authority,
            RequestFraming::None,
            asking.limits,
            &mut out,
        )
        .map_err(|e| {
            Error::new(ErrorKind::InvalidRequest, failed("cannot be asked for")).with_source(e)
        })?;
        // A CONNECT has no body, so it never waits for `100 Continue`.
        let Sending::Body(call) = sending else {
            return Err(Error::new(
                ErrorKind::InvalidRequest,
                failed("cannot be asked for (it would wait for 100 Continue)"),
            ));
        };
        let mut call = call.finish(&mut out).map_err(|e| {
            Error::new(ErrorKind::InvalidRequest, failed("cannot be asked for")).with_source(e)
        })?;

        set_timeouts(&sock, deadline).map_err(|e| io(e, "could not be set up"))?;
        (&*sock)
            .write_all(&out)
            .map_err(|e| io(e, "could not be asked for"))?;

        let response = loop {
            // The codec's verdict on what the proxy sent (a TLS record from an HTTPS
            // proxy, a SOCKS or SSH port), said as the proxy's answer to the CONNECT.
            let step = call
                .try_read(&mut buf)
                .map_err(|e| Error::from_h1(e).in_context(&failed("could not be opened")))?;
            call = match step {
                RecvStep::Response(response) => break response,
                RecvStep::Wait(call) => call,
            };
            set_timeouts(&sock, deadline).map_err(|e| io(e, "could not be set up"))?;
            match (&*sock).read(&mut chunk) {
                // A head cut short was an answer begun: said so, not "not answered".
                Ok(0) if call.response_started() => {
                    return Err(Error::new(
                        ErrorKind::Connect,
                        failed(&format!(
                            "got no whole answer: the proxy closed the connection after {} \
                             bytes of its head",
                            buf.len()
                        )),
                    ));
                }
                Ok(0) => {
                    return Err(Error::new(
                        ErrorKind::Connect,
                        failed("was not answered: the proxy closed the connection"),
                    ));
                }
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(e) => return Err(io(e, "was not answered")),
            }
        };
        let status = response.head.status;
        if status.is_success() {
            if !buf.is_empty() {
                return Err(Error::new(
                    ErrorKind::Protocol,
                    failed(&format!(
                        "was opened with {} bytes after the proxy's answer, before the origin spoke",
                        buf.len()
                    )),
                ));
            }
            sock.set_read_timeout(None)
                .and_then(|()| sock.set_write_timeout(None))
                .map_err(|e| io(e, "could not be set up"))?;
            return Ok(Opened::Tunnel(sock));
        }
        // Refused: read what of the body is cheap to read, then answer or report it.
        // A body that runs to the close is not read: the connection cannot carry an
        // answer after it, and a proxy that keeps it open would hold the request until
        // the connect timeout.
        let mut body = response.body;
        if response.framing.body != BodyFraming::CloseDelimited {
            drain_refusal(&sock, &mut body, &mut buf, &mut chunk, deadline);
        }
        // The same connection for the answer when the proxy keeps it: its refusal
        // read whole with nothing after it, and kept by the reuse rules every
        // exchange follows (HTTP/1.1, no `Connection: close`, framed).
        let kept = body.is_done()
            && buf.is_empty()
            && DefaultReuseStrategy
                .reuse(&Exchange::new(
                    &Method::CONNECT,
                    request.headers(),
                    &response.head,
                    response.framing,
                ))
                .is_ok();
        let headers = response.head.headers;
        let answer = match asking.auth {
            Some(auth)
                if status == StatusCode::PROXY_AUTHENTICATION_REQUIRED
                    && asking.answers < MAX_ANSWERS =>
            {
                auth.answer(&ProxyChallenge::new(
                    proxy,
                    &Method::CONNECT,
                    &authority,
                    &headers,
                    credentials.as_ref(),
                ))?
            }
            _ => None,
        };
        let Some(answer) = answer else {
            return Err(Error::proxy_refused(
                failed(&format!("was refused: {status}")),
                status,
                headers,
            ));
        };
        asking.answers += 1;
        if !kept {
            return Ok(Opened::Reconnect(answer));
        }
        credentials = Some(answer);
    }
}

/// Reads what of a refusal's body is cheap to read (at most [`REFUSAL_BODY_LIMIT`]
/// bytes in all, within the deadline), decoding it out of `buf`; a body that ends
/// leaves `body` done and in `buf` only what came after it.
fn drain_refusal(
    sock: &TcpStream,
    body: &mut BodyDecoder,
    buf: &mut BytesMut,
    chunk: &mut [u8],
    deadline: Option<Instant>,
) {
    let mut read = buf.len();
    while !body.is_done() && read < REFUSAL_BODY_LIMIT {
        // One call decodes one piece (a chunk's data): take all that the buffered
        // bytes give before reading more, or a body already whole (a chunked one with
        // its last chunk in) waits for bytes that never come, until the timeout.
        loop {
            let before = buf.len();
            match body.decode_buf(buf) {
                Ok(_) if body.is_done() => return,
                Ok(_) if buf.len() < before => {}
                Ok(_) => break,
                Err(_) => return,
            }
        }
        if set_timeouts(sock, deadline).is_err() {
            return;
        }
        match (&*sock).read(chunk) {
            Ok(n) if n > 0 => {
                read += n;
                buf.extend_from_slice(&chunk[..n]);
            }
            _ => return,
        }
    }
}

/// The socket's timeouts set to what is left of the connect timeout.
fn set_timeouts(sock: &TcpStream, deadline: Option<Instant>) -> io::Result<()> {
    let left = deadline.map(|d| {
        d.saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1))
    });
    sock.set_read_timeout(left)?;
    sock.set_write_timeout(left)
}
