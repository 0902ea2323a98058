//! What a strategy looks at: one request/response exchange, seen after the response
//! head has been read and framed.

use crate::head::Summary;
use crate::idle::RouteRef;
use hcx_h1::{ResponseFraming, ResponseHead};
use http::{HeaderMap, Method, StatusCode, Version};

/// One finished (or abandoned) exchange as the strategies see it: the request head,
/// the response head, the codec's framing verdict for it, and whether the request body
/// went out completely.
///
/// It borrows, so the engine builds one right after the codec framed a response head,
/// before any body is read. The framing is not re-derived here: it is what
/// `hcx_h1::response_framing` decided, the same verdict the body is decoded by.
/// Apache HttpClient passes the request, the response and an `HttpContext` to
/// `keepAlive(…)`.
///
/// ```
/// use hcx_h1::{Limits, parse_response_head};
/// use hcx_reuse::Exchange;
/// use http::{HeaderMap, Method};
///
/// let (head, _) = parse_response_head(
///     b"HTTP/1.1 413 Payload Too Large\r\nContent-Length: 0\r\n\r\n",
///     &Limits::default(),
/// )?
/// .expect("a complete head");
/// let request_headers = HeaderMap::new();
/// let exchange = Exchange::framed(&Method::POST, &request_headers, &head)?
///     .with_request_body_complete(false); // the server answered before the body was sent
/// assert!(!exchange.request_body_complete());
/// assert_eq!(exchange.status(), 413);
/// # Ok::<(), hcx_h1::Error>(())
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    method: &'a Method,
    request_headers: &'a HeaderMap,
    request_version: Version,
    request_body_complete: bool,
    response: &'a ResponseHead,
    framing: ResponseFraming,
    route: Option<RouteRef<'a>>,
    /// The response's persistence fields, gathered in one walk when the exchange is
    /// made: the reuse rules read `Connection`, and the keep-alive strategy skips its
    /// `Keep-Alive` lookup when there is no such field.
    response_summary: Summary,
}

impl<'a> Exchange<'a> {
    /// An exchange whose response was framed as `framing` (what
    /// `hcx_h1::response_framing(method, response)` returned). The request is taken as
    /// HTTP/1.1 with its body (if any) sent completely.
    pub fn new(
        method: &'a Method,
        request_headers: &'a HeaderMap,
        response: &'a ResponseHead,
        framing: ResponseFraming,
    ) -> Self {
        Exchange {
            method,
            request_headers,
            request_version: Version::HTTP_11,
            request_body_complete: true,
            response,
            framing,
            route: None,
            response_summary: Summary::of(&response.headers),
        }
    }

    /// An exchange whose framing is asked of the codec now. Fails when the codec cannot
    /// frame the response at all (conflicting lengths, a bad `Transfer-Encoding`): the
    /// engine then fails the exchange and closes the connection without asking the
    /// strategies.
    pub fn framed(
        method: &'a Method,
        request_headers: &'a HeaderMap,
        response: &'a ResponseHead,
    ) -> Result<Self, hcx_h1::Error> {
        let framing = hcx_h1::response_framing(method, response)?;
        Ok(Exchange::new(method, request_headers, response, framing))
    }

    /// Records the version the request was sent with. Default: HTTP/1.1. An HTTP/1.0
    /// request without the `keep-alive` option tells the server to close after its
    /// response (RFC 9112 §9.3), whatever the response says.
    #[must_use]
    pub fn with_request_version(mut self, version: Version) -> Self {
        self.request_version = version;
        self
    }

    /// Records whether the request body was sent completely. `false` when the server
    /// answered early (a 413, a 401, a `100-continue` refusal) and the engine stopped
    /// sending: the unsent rest would be read as the next request, so the connection
    /// cannot be reused. Default: `true`.
    #[must_use]
    pub fn with_request_body_complete(mut self, complete: bool) -> Self {
        self.request_body_complete = complete;
        self
    }

    /// The request method.
    pub fn method(&self) -> &'a Method {
        self.method
    }

    /// The request header fields as sent.
    pub fn request_headers(&self) -> &'a HeaderMap {
        self.request_headers
    }

    /// The version the request was sent with.
    pub fn request_version(&self) -> Version {
        self.request_version
    }

    /// Records the route the connection serves (the engine does), for strategies
    /// that decide per route. Default: unknown.
    #[must_use]
    pub fn with_route(mut self, route: RouteRef<'a>) -> Self {
        self.route = Some(route);
        self
    }

    /// The route the connection serves, if the engine said.
    pub fn route(&self) -> Option<RouteRef<'a>> {
        self.route
    }

    /// Whether the request body (if any) was sent completely.
    pub fn request_body_complete(&self) -> bool {
        self.request_body_complete
    }

    /// The response head.
    pub fn response(&self) -> &'a ResponseHead {
        self.response
    }

    /// The response status code.
    pub fn status(&self) -> StatusCode {
        self.response.status
    }

    /// The HTTP version of the response's status line. Apache 5 reads the connection's
    /// negotiated version from the `HttpContext`; for HTTP/1.x it is this one.
    pub fn version(&self) -> Version {
        self.response.version
    }

    /// The response header fields as received.
    pub fn response_headers(&self) -> &'a HeaderMap {
        &self.response.headers
    }

    /// The response's persistence fields (gathered once, in [`new`](Self::new)).
    pub(crate) fn response_summary(&self) -> &Summary {
        &self.response_summary
    }

    /// The codec's framing verdict: how the body is delimited, and the reason the
    /// framing alone forbids reuse, if it does.
    pub fn framing(&self) -> ResponseFraming {
        self.framing
    }
}
