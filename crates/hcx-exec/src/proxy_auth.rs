//! Answers to a proxy's `407 Proxy Authentication Required` to a `CONNECT`. Apache
//! HttpClient 5: the proxy half of `ConnectExec` with the client's
//! `HttpAuthenticator` and `CredentialsProvider`.

use http::{HeaderMap, HeaderValue, Method};

use crate::error::Error;
use crate::route::Proxy;

/// Answers a proxy that refuses a `CONNECT` with `407`: the engine asks it for a
/// `Proxy-Authorization` value and asks for the tunnel again with it, on the same
/// connection when the proxy kept it open (its `407` framed and not
/// `Connection: close`), else on a new one. At most two answers per tunnel; then the
/// `407` is the [`ProxyTunnel`](crate::ErrorKind::ProxyTunnel) error it was.
///
/// Set on the manager ([`PoolingConnectionManagerBuilder::proxy_authenticator`]); the
/// `hcx` facade sets one from its credentials provider. What
/// [`up_front`](Self::up_front) gives goes with the first `CONNECT`, else the
/// credentials the proxy carries itself ([`Proxy::with_basic_auth`]).
///
/// [`PoolingConnectionManagerBuilder::proxy_authenticator`]:
///     crate::PoolingConnectionManagerBuilder::proxy_authenticator
pub trait ProxyAuthenticator: Send + Sync {
    /// A `Proxy-Authorization` value for the first `CONNECT` through `proxy`, before
    /// any challenge (Apache: an `AuthCache` entry for the proxy). `None` by default.
    fn up_front(&self, proxy: &Proxy) -> Option<HeaderValue> {
        let _ = proxy;
        None
    }

    /// The `Proxy-Authorization` value that answers `challenge`; `Ok(None)`: no
    /// answer, the `407` stands. An error fails the connect with it.
    fn answer(&self, challenge: &ProxyChallenge<'_>) -> Result<Option<HeaderValue>, Error>;
}

/// A proxy's `407`, for a [`ProxyAuthenticator`]: to a `CONNECT` when the engine
/// asks, or to a request sent through a forward proxy (the `hcx` facade's AUTH
/// element answers those).
#[derive(Debug)]
#[non_exhaustive]
pub struct ProxyChallenge<'a> {
    /// The proxy that answered.
    pub proxy: &'a Proxy,
    /// The refused request's method: `CONNECT` for a tunnel.
    pub method: &'a Method,
    /// Its request-target as sent: `host:port` for a `CONNECT`, the absolute URI
    /// through a forward proxy (what a Digest answer's `uri` repeats).
    pub target: &'a str,
    /// The `407`'s header fields (`Proxy-Authenticate` among them).
    pub headers: &'a HeaderMap,
    /// The `Proxy-Authorization` the `407` refused, if the refused request (a
    /// `CONNECT`, or a request through a forward proxy) carried one.
    pub sent: Option<&'a HeaderValue>,
}

impl<'a> ProxyChallenge<'a> {
    /// The `407` of `proxy` with `headers`, to `method` `target` sent with `sent`.
    pub fn new(
        proxy: &'a Proxy,
        method: &'a Method,
        target: &'a str,
        headers: &'a HeaderMap,
        sent: Option<&'a HeaderValue>,
    ) -> Self {
        ProxyChallenge {
            proxy,
            method,
            target,
            headers,
            sent,
        }
    }
}
