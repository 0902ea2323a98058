//! What a strategy looks at: one request/response exchange, seen after the response
//! head has been read.

use http::{HeaderMap, Method, StatusCode, Version, request, response};

/// One finished (or abandoned) exchange as the strategies see it: the request head, the
/// response head, and whether the request body went out completely.
///
/// It borrows, so the engine can build one right after parsing a response head, before
/// any body is read and without an `http::Response<B>`. Apache HttpClient passes the
/// request, the response and an `HttpContext` to `keepAlive(…)`; the context's
/// "negotiated protocol version" is [`version`](Self::version) here, the version of the
/// response's status line.
///
/// ```
/// use hcx_reuse::Exchange;
/// use http::{HeaderMap, Method, StatusCode, Version};
///
/// let request_headers = HeaderMap::new();
/// let response_headers = HeaderMap::new();
/// let exchange = Exchange::new(
///     &Method::POST,
///     &request_headers,
///     StatusCode::PAYLOAD_TOO_LARGE,
///     Version::HTTP_11,
///     &response_headers,
/// )
/// .with_request_body_complete(false); // the server answered before the body was sent
/// assert!(!exchange.request_body_complete());
/// ```
#[derive(Debug, Clone, Copy)]
pub struct Exchange<'a> {
    method: &'a Method,
    request_headers: &'a HeaderMap,
    status: StatusCode,
    version: Version,
    response_headers: &'a HeaderMap,
    request_body_complete: bool,
    request_version: Version,
}

impl<'a> Exchange<'a> {
    /// An exchange whose request body (if any) was sent completely.
    pub fn new(
        method: &'a Method,
        request_headers: &'a HeaderMap,
        status: StatusCode,
        version: Version,
        response_headers: &'a HeaderMap,
    ) -> Self {
        Exchange {
            method,
            request_headers,
            status,
            version,
            response_headers,
            request_body_complete: true,
            request_version: Version::HTTP_11,
        }
    }

    /// An exchange built from the request and response heads, as `http::Request::into_parts`
    /// and `http::Response::into_parts` (or a codec) produce them. The request body is
    /// taken as completely sent.
    pub fn from_parts(request: &'a request::Parts, response: &'a response::Parts) -> Self {
        Exchange::new(
            &request.method,
            &request.headers,
            response.status,
            response.version,
            &response.headers,
        )
        .with_request_version(request.version)
    }

    /// Records the version the request was sent with. Default: HTTP/1.1. An HTTP/1.0
    /// request without the `keep-alive` option tells the server to close after its
    /// response (RFC 9112 §9.3), whatever the response says.
    #[must_use]
    pub fn with_request_version(mut self, version: Version) -> Self {
        self.request_version = version;
        self
    }

    /// The version the request was sent with.
    pub fn request_version(&self) -> Version {
        self.request_version
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

    /// The response status code.
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The HTTP version of the response's status line. Apache 5 reads the connection's
    /// negotiated version from the `HttpContext`; for HTTP/1.x it is this one.
    pub fn version(&self) -> Version {
        self.version
    }

    /// The response header fields as received.
    pub fn response_headers(&self) -> &'a HeaderMap {
        self.response_headers
    }

    /// Whether the request body (if any) was sent completely.
    pub fn request_body_complete(&self) -> bool {
        self.request_body_complete
    }
}
