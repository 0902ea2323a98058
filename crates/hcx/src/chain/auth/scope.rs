//! [`AuthScope`]: where credentials apply (scheme, host, port, realm), and how a
//! pattern matches a target.

use std::fmt;

use hcx_exec::{Proxy, Route, Scheme};
use http::Uri;

/// Where credentials apply: a scheme (`http` or `https`), a host, a port and a realm,
/// each optional (`None`: any). Apache HttpClient 5: `AuthScope` (its `protocol` is
/// the scheme here; it has no auth-scheme field, the credentials' kind says that).
///
/// Hosts compare case-insensitively (an IPv6 literal with or without brackets); a
/// realm compares exactly (RFC 9110 §11.5). As a key of a [`BasicCredentialsProvider`]
/// a scope is a pattern; as the argument of
/// [`CredentialsProvider::credentials`] it describes the target: its scheme, host and
/// port, and the realm of the challenge being answered (`None` when no challenge is
/// known, for preemptive credentials). A pattern field set to a value matches only a
/// target with that value, so realm-specific credentials are never sent preemptively,
/// and credentials scoped to `https` never go over plain `http` (not even to the same
/// host after an `https` to `http` redirect).
///
/// ```
/// use hcx::Scheme;
/// use hcx::chain::AuthScope;
/// let pattern = AuthScope::new("API.example.com", 8080).with_realm("admin");
/// assert_eq!(pattern.host(), Some("api.example.com"));
/// assert_eq!(AuthScope::any_port("example.com").port(), None);
/// // Only over TLS, on any port of the host:
/// let tls_only = AuthScope::any_port("example.com").with_scheme(Scheme::Https);
/// assert_eq!(tls_only.scheme(), Some(Scheme::Https));
/// ```
///
/// [`BasicCredentialsProvider`]: crate::chain::BasicCredentialsProvider
/// [`CredentialsProvider::credentials`]: crate::chain::CredentialsProvider::credentials
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AuthScope {
    scheme: Option<Scheme>,
    host: Option<String>,
    port: Option<u16>,
    pub(super) realm: Option<String>,
}

impl AuthScope {
    /// Any scheme, any host, any port, any realm.
    pub fn any() -> Self {
        AuthScope::default()
    }

    /// `host` on `port`, any scheme, any realm.
    pub fn new(host: &str, port: u16) -> Self {
        AuthScope {
            scheme: None,
            host: Some(normalize_host(host)),
            port: Some(port),
            realm: None,
        }
    }

    /// `host` on any port, any scheme, any realm.
    pub fn any_port(host: &str) -> Self {
        AuthScope {
            scheme: None,
            host: Some(normalize_host(host)),
            port: None,
            realm: None,
        }
    }

    /// The scheme, host and port of `route`, no realm. For an `http` route through a
    /// forward proxy the host and port are the proxy's, not the origin's: the AUTH
    /// element asks [`for_uri`](Self::for_uri) instead.
    pub fn for_route(route: &Route) -> Self {
        AuthScope::new(&route.host, route.port).with_scheme(route.scheme)
    }

    /// A proxy's host and port, scheme `http` (what a client speaks to a proxy),
    /// no realm: what credentials for a proxy's `407` are asked by. Apache: the
    /// `AuthScope` of the proxy's `HttpHost`.
    pub fn for_proxy(proxy: &Proxy) -> Self {
        AuthScope::new(proxy.host(), proxy.port()).with_scheme(Scheme::Http)
    }

    /// The target of a request to `uri` before any challenge: the origin's scheme,
    /// host and port (the scheme's default when the URI gives none), no realm. What the AUTH
    /// element asks the provider for, whatever proxy the request goes through: origin
    /// credentials are for the origin (RFC 9110 §11.6.2), never for a proxy on the
    /// way. `None` for a URI without a host or a known scheme.
    ///
    /// ```
    /// use hcx::Scheme;
    /// use hcx::chain::AuthScope;
    /// let uri = "http://API.example.com/v1".parse()?;
    /// let target = AuthScope::new("api.example.com", 80).with_scheme(Scheme::Http);
    /// assert_eq!(AuthScope::for_uri(&uri), Some(target));
    /// let uri = "https://[::1]:8443/".parse()?;
    /// let target = AuthScope::new("::1", 8443).with_scheme(Scheme::Https);
    /// assert_eq!(AuthScope::for_uri(&uri), Some(target));
    /// # Ok::<(), hcx::http::uri::InvalidUri>(())
    /// ```
    pub fn for_uri(uri: &Uri) -> Option<Self> {
        // The origin as a direct route has it: the same host, port and defaults the
        // planner uses, without the proxy that may stand in between.
        Route::from_uri(uri)
            .ok()
            .map(|route| AuthScope::for_route(&route))
    }

    /// The same scope limited to `scheme`: `Scheme::Https` keeps credentials off
    /// plain-text connections. Apache: the `protocol` of an `AuthScope`.
    #[doc(alias("protocol", "getProtocol"))]
    #[must_use]
    pub fn with_scheme(mut self, scheme: Scheme) -> Self {
        self.scheme = Some(scheme);
        self
    }

    /// The same scope limited to `realm` (the `realm` parameter of a challenge).
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
    }

    /// The scheme; `None`: any.
    pub fn scheme(&self) -> Option<Scheme> {
        self.scheme
    }

    /// The host, lowercase, an IPv6 literal without brackets; `None`: any.
    pub fn host(&self) -> Option<&str> {
        self.host.as_deref()
    }

    /// The port; `None`: any.
    pub fn port(&self) -> Option<u16> {
        self.port
    }

    /// The realm; `None`: any (or, for a target, not known).
    pub fn realm(&self) -> Option<&str> {
        self.realm.as_deref()
    }

    /// How specifically this pattern matches `target`, `None` if it does not: host
    /// outweighs scheme, scheme port, port realm (Apache's order), so
    /// host+scheme+port+realm > host+scheme+port > … > host > any.
    pub(super) fn specificity(&self, target: &AuthScope) -> Option<u8> {
        fn field<T>(
            pattern: &Option<T>,
            target: &Option<T>,
            eq: impl Fn(&T, &T) -> bool,
            weight: u8,
        ) -> Option<u8> {
            match (pattern, target) {
                (None, _) => Some(0),
                (Some(p), Some(t)) if eq(p, t) => Some(weight),
                _ => None,
            }
        }
        let host = field(
            &self.host,
            &target.host,
            |a, b| a.eq_ignore_ascii_case(b),
            8,
        )?;
        let scheme = field(&self.scheme, &target.scheme, |a, b| a == b, 4)?;
        let port = field(&self.port, &target.port, |a, b| a == b, 2)?;
        let realm = field(&self.realm, &target.realm, |a, b| a == b, 1)?;
        Some(host + scheme + port + realm)
    }
}

/// Lowercase, without the brackets of an IPv6 literal: the form of [`Route::host`].
fn normalize_host(host: &str) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.to_ascii_lowercase()
}

impl fmt::Display for AuthScope {
    /// `https://example.com:8080 realm "admin"`, `*` for a host or port that is any,
    /// no `scheme://` for any scheme.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(scheme) = self.scheme {
            write!(f, "{}://", scheme.as_str())?;
        }
        match &self.host {
            Some(host) if host.contains(':') => write!(f, "[{host}]")?,
            Some(host) => f.write_str(host)?,
            None => f.write_str("*")?,
        }
        match self.port {
            Some(port) => write!(f, ":{port}")?,
            None => f.write_str(":*")?,
        }
        match &self.realm {
            Some(realm) => write!(f, " realm {realm:?}"),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::{BasicCredentialsProvider, Credentials, CredentialsProvider};

    #[test]
    fn scope_patterns_match_only_what_they_name() {
        let target = AuthScope::for_route(&Route::http("[::1]", 8080));
        assert_eq!(target.host(), Some("::1"));
        assert_eq!(target.scheme(), Some(Scheme::Http));
        assert_eq!(target.to_string(), "http://[::1]:8080");
        assert_eq!(AuthScope::new("::1", 8080).to_string(), "[::1]:8080");
        // A scheme in the pattern must be the target's.
        let tls = AuthScope::new("::1", 8080).with_scheme(Scheme::Https);
        assert!(tls.specificity(&target).is_none());
        let plain = AuthScope::new("::1", 8080).with_scheme(Scheme::Http);
        assert!(
            plain.specificity(&target) > AuthScope::new("::1", 8080).specificity(&target),
            "the scheme makes a pattern more specific"
        );
        assert!(
            AuthScope::any_port("::1").specificity(&target)
                > AuthScope::any()
                    .with_scheme(Scheme::Http)
                    .specificity(&target),
            "the host outweighs the scheme"
        );
        assert!(AuthScope::new("[::1]", 8080).specificity(&target).is_some());
        assert!(AuthScope::new("::1", 80).specificity(&target).is_none());
        // Realm-specific credentials are not for a target whose realm is unknown.
        assert!(
            AuthScope::any()
                .with_realm("r")
                .specificity(&target)
                .is_none()
        );
        assert_eq!(AuthScope::any().specificity(&target), Some(0));
        assert_eq!(
            AuthScope::any().with_realm("r").to_string(),
            r#"*:* realm "r""#
        );

        let provider = BasicCredentialsProvider::new();
        provider.set_credentials(AuthScope::any(), Credentials::bearer("old"));
        provider.set_credentials(AuthScope::any(), Credentials::bearer("new"));
        assert_eq!(
            provider.credentials(&target),
            Some(Credentials::bearer("new"))
        );
        provider.clear();
        assert_eq!(provider.credentials(&target), None);
    }
}
