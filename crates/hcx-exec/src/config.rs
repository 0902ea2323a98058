//! Per-request settings.

use std::time::Duration;

/// Timeouts and limits of one request. Apache HttpClient 5: `RequestConfig`.
///
/// The client has a default; a request overrides it by carrying one in its
/// extensions (`request.extensions_mut().insert(config)`).
///
/// ```
/// use hcx_exec::RequestConfig;
/// use std::time::Duration;
/// let config = RequestConfig::default().with_response_timeout(Some(Duration::from_secs(5)));
/// assert_eq!(config.connect_timeout, Duration::from_secs(180));
/// assert_eq!(config.response_timeout, Some(Duration::from_secs(5)));
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestConfig {
    /// How long to wait for a connection from the pool. Default 3 minutes.
    /// Apache: `connectionRequestTimeout`.
    pub connection_request_timeout: Duration,
    /// How long to wait for a TCP connect, over all addresses. Default 3 minutes.
    /// Apache: `connectTimeout`.
    pub connect_timeout: Duration,
    /// The socket timeout while the exchange runs: sending the request, waiting for
    /// the head, and each read of the body. Default `None` (wait forever).
    /// Apache: `responseTimeout`.
    pub response_timeout: Option<Duration>,
    /// How long to wait for `100 Continue` before sending the body anyway, when the
    /// request carries `Expect: 100-continue`. Default 3 s (Apache's `waitForContinue`).
    pub expect_continue_timeout: Duration,
    /// At most this many body bytes are read and thrown away when a response body is
    /// dropped before its end, to keep the connection. Default 64 KiB.
    pub drain_limit: u64,
    /// At most this long is spent draining a dropped body. Default 100 ms.
    pub drain_timeout: Duration,
}

impl Default for RequestConfig {
    fn default() -> Self {
        RequestConfig {
            connection_request_timeout: Duration::from_secs(180),
            connect_timeout: Duration::from_secs(180),
            response_timeout: None,
            expect_continue_timeout: Duration::from_secs(3),
            drain_limit: 64 * 1024,
            drain_timeout: Duration::from_millis(100),
        }
    }
}

impl RequestConfig {
    /// Sets [`connection_request_timeout`](Self::connection_request_timeout).
    pub fn with_connection_request_timeout(mut self, timeout: Duration) -> Self {
        self.connection_request_timeout = timeout;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout).
    pub fn with_connect_timeout(mut self, timeout: Duration) -> Self {
        self.connect_timeout = timeout;
        self
    }

    /// Sets [`response_timeout`](Self::response_timeout).
    pub fn with_response_timeout(mut self, timeout: Option<Duration>) -> Self {
        self.response_timeout = timeout;
        self
    }

    /// Sets [`expect_continue_timeout`](Self::expect_continue_timeout).
    pub fn with_expect_continue_timeout(mut self, timeout: Duration) -> Self {
        self.expect_continue_timeout = timeout;
        self
    }

    /// Sets [`drain_limit`](Self::drain_limit) and [`drain_timeout`](Self::drain_timeout).
    pub fn with_drain(mut self, limit: u64, timeout: Duration) -> Self {
        self.drain_limit = limit;
        self.drain_timeout = timeout;
        self
    }
}
