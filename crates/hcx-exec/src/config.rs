//! Per-request settings.

use std::net::IpAddr;
use std::time::Duration;

use crate::error::{Error, ErrorKind};

/// Timeouts and limits of one request. Apache HttpClient 5: `RequestConfig`.
///
/// The client has a default; a request overrides it by carrying one in its
/// extensions (`request.extensions_mut().insert(config)`).
///
/// ```
/// use hcx_exec::RequestConfig;
/// use std::time::Duration;
/// let config = RequestConfig::default().with_response_timeout(Some(Duration::from_secs(5)));
/// assert_eq!(config.connect_timeout, None); // the connection manager's
/// assert_eq!(config.response_timeout, Some(Duration::from_secs(5)));
/// ```
///
/// As in Apache 5, the connect and socket timeouts belong to the connection manager
/// (Apache: `ConnectionConfig`); a `RequestConfig` overrides them only where it says
/// `Some`. So a request carrying `RequestConfig::default().with_redirects(false)` keeps
/// the manager's timeouts.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct RequestConfig {
    /// How long to wait for a connection from the pool. Default 3 minutes.
    /// `Duration::ZERO` never waits (a busy pool fails the request at once with
    /// `LeaseTimeout`), as in Apache 5; Apache 4.5 reads 0 (and −1) as "wait forever":
    /// port those as `Duration::MAX`. Apache: `connectionRequestTimeout`.
    pub connection_request_timeout: Duration,
    /// How long making a new connection may take: the TCP connect over all the
    /// addresses (raced), the proxy's `CONNECT` tunnel and the TLS handshake together.
    /// `None` (the default): the connection manager's
    /// ([`connect_timeout`](crate::PoolingConnectionManagerBuilder::connect_timeout),
    /// 3 minutes unless set). Apache: `connectTimeout`.
    pub connect_timeout: Option<Duration>,
    /// The socket timeout while the exchange runs: sending the request, waiting for
    /// the head, and each read of the body. `None` (the default): the connection
    /// manager's
    /// [`socket_timeout`](crate::PoolingConnectionManagerBuilder::socket_timeout)
    /// (3 minutes unless set, as Apache 5.1+). Apache: `responseTimeout`, whose `null`
    /// leaves the socket's timeout in force.
    pub response_timeout: Option<Duration>,
    /// How long to wait for `100 Continue` before sending the body anyway, when the
    /// request carries `Expect: 100-continue`. Default 3 s (Apache's `waitForContinue`).
    pub expect_continue_timeout: Duration,
    /// At most this many body bytes are read and thrown away when a response body is
    /// dropped before its end, to keep the connection. Default 64 KiB.
    pub drain_limit: u64,
    /// At most this long is spent draining a dropped body. Default 100 ms.
    pub drain_timeout: Duration,
    /// Whether the redirect layer follows redirects for this request. Default `true`.
    /// Apache: `redirectsEnabled`.
    pub redirects_enabled: bool,
    /// At most this many redirects are followed; one more is an error. Default 50.
    /// Apache: `maxRedirects`.
    pub max_redirects: u32,
    /// Whether a redirect back to a location already visited is followed (up to
    /// `max_redirects`) instead of failing as circular. Default `false`. Apache:
    /// `circularRedirectsAllowed`.
    pub circular_redirects_allowed: bool,
    /// Whether the authentication layer answers challenges and sends preemptive
    /// credentials for this request. Default `true`. Apache: `authenticationEnabled`.
    pub authentication_enabled: bool,
    /// Whether the content compression layer asks for and decodes compressed bodies
    /// for this request. Default `true`. Apache: `contentCompressionEnabled`.
    pub content_compression_enabled: bool,
    /// The local address the request's new connections are bound to before they
    /// connect (a host with several addresses, a source address a firewall
    /// expects), or `None` (the default) for the system's choice. It is part of the
    /// request's [`Route`](crate::Route) (its
    /// [`local_address`](crate::Route::local_address), unless the route planner set
    /// one): a pooled connection bound elsewhere is not reused for it, and only the
    /// target's addresses of its family are tried (an IPv4-mapped IPv6 address,
    /// `::ffff:a.b.c.d`, local or the target's, is the IPv4 address). Apache 4.5:
    /// `localAddress`.
    pub local_address: Option<IpAddr>,
}

impl Default for RequestConfig {
    fn default() -> Self {
        RequestConfig {
            connection_request_timeout: Duration::from_secs(180),
            connect_timeout: None,
            response_timeout: None,
            expect_continue_timeout: Duration::from_secs(3),
            drain_limit: 64 * 1024,
            drain_timeout: Duration::from_millis(100),
            redirects_enabled: true,
            max_redirects: 50,
            circular_redirects_allowed: false,
            authentication_enabled: true,
            content_compression_enabled: true,
            local_address: None,
        }
    }
}

/// Socket options of every connection a manager opens. Apache HttpClient 5:
/// `SocketConfig` (its `soTimeout` is the connection manager's
/// [`socket_timeout`](crate::PoolingConnectionManagerBuilder::socket_timeout) here,
/// which a request's [`RequestConfig::response_timeout`] overrides).
///
/// ```
/// use hcx_exec::SocketConfig;
/// use std::time::Duration;
/// let config = SocketConfig::default()
///     .with_recv_buffer_size(Some(256 * 1024))
///     .with_linger(Some(Duration::ZERO)); // close with a reset, no TIME_WAIT
/// assert!(config.tcp_nodelay);
/// ```
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct SocketConfig {
    /// `TCP_NODELAY`: send small writes at once instead of waiting to coalesce them.
    /// Default `true` (as Apache's `tcpNoDelay`).
    pub tcp_nodelay: bool,
    /// `SO_SNDBUF` in bytes; `None`: the system's. Default `None`. Apache: `sndBufSize`.
    pub send_buffer_size: Option<usize>,
    /// `SO_RCVBUF` in bytes, set before the connect so the window scale can use it;
    /// `None`: the system's. Default `None`. Apache: `rcvBufSize`.
    pub recv_buffer_size: Option<usize>,
    /// `SO_LINGER`: how long a close waits for unsent data (`Some(ZERO)`: reset at
    /// once; another value is rounded up to whole seconds, the system's unit); `None`:
    /// the system's default behaviour. Default `None`. Apache: `soLinger` (-1 there).
    pub linger: Option<Duration>,
    /// TCP keep-alive probes (`SO_KEEPALIVE`, with `TCP_KEEPIDLE`, `TCP_KEEPINTVL`,
    /// `TCP_KEEPCNT` where the system has them); `None`: off. Default `None`, as
    /// Apache's `soKeepAlive` up to 5.5 and in 4.5 (5.6, with httpcore 5.4, turns it
    /// on: `TcpKeepalive::new(5 s, 5 s, 3)` does the same). The other defence against
    /// middleboxes that forget idle flows: probes sent more often than the middlebox's idle timeout keep its state
    /// alive (and find a dead peer). The learned idle limits work without it.
    pub tcp_keepalive: Option<TcpKeepalive>,
}

/// TCP keep-alive timing: when the first probe goes, how often after, how many
/// unanswered ones mean dead. See [`SocketConfig::tcp_keepalive`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct TcpKeepalive {
    /// Idle time before the first probe (`TCP_KEEPIDLE`).
    pub idle: Duration,
    /// Time between probes (`TCP_KEEPINTVL`).
    pub interval: Duration,
    /// Unanswered probes before the connection is dropped (`TCP_KEEPCNT`; fixed at 10
    /// on Windows before Windows 10 1703, which does not take it).
    pub retries: u32,
}

impl TcpKeepalive {
    /// Probes after `idle`, then every `interval`, dead after `retries` unanswered.
    pub fn new(idle: Duration, interval: Duration, retries: u32) -> Self {
        TcpKeepalive {
            idle,
            interval,
            retries,
        }
    }

    /// A [`Config`](ErrorKind::Config) error for values the system cannot apply (it
    /// counts whole seconds, 1 to 32,767, and 1 to 127 probes on Linux): otherwise
    /// every connect would fail on setting them. The manager's builder checks it.
    pub fn check(&self) -> Result<(), Error> {
        let seconds = |d: Duration| d.subsec_nanos() == 0 && (1..=32_767).contains(&d.as_secs());
        if !seconds(self.idle) || !seconds(self.interval) || !(1..=127).contains(&self.retries) {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "TCP keep-alive {self:?} cannot be applied: idle and interval are whole \
                     seconds from 1 to 32767, retries from 1 to 127"
                ),
            ));
        }
        Ok(())
    }
}

impl Default for SocketConfig {
    fn default() -> Self {
        SocketConfig {
            tcp_nodelay: true,
            send_buffer_size: None,
            recv_buffer_size: None,
            linger: None,
            tcp_keepalive: None,
        }
    }
}

impl SocketConfig {
    /// Sets [`tcp_nodelay`](Self::tcp_nodelay).
    pub fn with_tcp_nodelay(mut self, nodelay: bool) -> Self {
        self.tcp_nodelay = nodelay;
        self
    }

    /// Sets [`send_buffer_size`](Self::send_buffer_size).
    pub fn with_send_buffer_size(mut self, size: Option<usize>) -> Self {
        self.send_buffer_size = size;
        self
    }

    /// Sets [`recv_buffer_size`](Self::recv_buffer_size).
    pub fn with_recv_buffer_size(mut self, size: Option<usize>) -> Self {
        self.recv_buffer_size = size;
        self
    }

    /// Sets [`linger`](Self::linger).
    pub fn with_linger(mut self, linger: Option<Duration>) -> Self {
        self.linger = linger;
        self
    }

    /// Sets [`tcp_keepalive`](Self::tcp_keepalive).
    pub fn with_tcp_keepalive(mut self, keepalive: Option<TcpKeepalive>) -> Self {
        self.tcp_keepalive = keepalive;
        self
    }
}

impl RequestConfig {
    /// Sets [`connection_request_timeout`](Self::connection_request_timeout).
    pub fn with_connection_request_timeout(mut self, timeout: Duration) -> Self {
        self.connection_request_timeout = timeout;
        self
    }

    /// Sets [`connect_timeout`](Self::connect_timeout), over the connection manager's
    /// (a `Duration`, or an `Option`: `None` goes back to the manager's).
    pub fn with_connect_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.connect_timeout = timeout.into();
        self
    }

    /// Sets [`response_timeout`](Self::response_timeout) (a `Duration`, or an
    /// `Option`: `None` is the connection manager's socket timeout).
    pub fn with_response_timeout(mut self, timeout: impl Into<Option<Duration>>) -> Self {
        self.response_timeout = timeout.into();
        self
    }

    /// A [`Config`](ErrorKind::Config) error for a setting that would fail every
    /// request: a zero connect or response timeout. Apache reads 0 as "no limit"; here
    /// a ported 0 would be a client that never connects or never waits, so it is
    /// refused (`None` is "the manager's", a long duration is "no limit"). The client
    /// checks its default at build and a request's own before sending it.
    pub fn check(&self) -> Result<(), Error> {
        zero_timeout("connect", self.connect_timeout)?;
        zero_timeout("response", self.response_timeout)
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

    /// Sets [`redirects_enabled`](Self::redirects_enabled).
    pub fn with_redirects(mut self, enabled: bool) -> Self {
        self.redirects_enabled = enabled;
        self
    }

    /// Sets [`max_redirects`](Self::max_redirects).
    pub fn with_max_redirects(mut self, max: u32) -> Self {
        self.max_redirects = max;
        self
    }

    /// Sets [`circular_redirects_allowed`](Self::circular_redirects_allowed).
    pub fn with_circular_redirects_allowed(mut self, allowed: bool) -> Self {
        self.circular_redirects_allowed = allowed;
        self
    }

    /// Sets [`authentication_enabled`](Self::authentication_enabled).
    pub fn with_authentication(mut self, enabled: bool) -> Self {
        self.authentication_enabled = enabled;
        self
    }

    /// Sets [`content_compression_enabled`](Self::content_compression_enabled).
    pub fn with_content_compression(mut self, enabled: bool) -> Self {
        self.content_compression_enabled = enabled;
        self
    }

    /// Sets [`local_address`](Self::local_address).
    #[doc(alias("setLocalAddress"))]
    pub fn with_local_address(mut self, local: Option<IpAddr>) -> Self {
        self.local_address = local;
        self
    }
}

/// A [`Config`](ErrorKind::Config) error if `timeout` is zero.
pub(crate) fn zero_timeout(which: &str, timeout: Option<Duration>) -> Result<(), Error> {
    if timeout.is_some_and(|t| t.is_zero()) {
        return Err(Error::new(
            ErrorKind::Config,
            format!(
                "a {which} timeout of zero fails every request (Apache's 0 means no limit; \
                 here leave it unset for the default, or give a long duration)"
            ),
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts_take_a_duration_or_an_option_and_none_goes_back_to_the_managers() {
        let secs = Duration::from_secs;
        let config = RequestConfig::default()
            .with_connect_timeout(secs(2))
            .with_response_timeout(secs(5));
        assert_eq!(config.connect_timeout, Some(secs(2)));
        assert_eq!(config.response_timeout, Some(secs(5)));
        let config = config
            .with_connect_timeout(None)
            .with_response_timeout(None);
        assert_eq!(
            (config.connect_timeout, config.response_timeout),
            (None, None)
        );
    }
}
