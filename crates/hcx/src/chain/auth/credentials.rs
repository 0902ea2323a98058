//! What the AUTH element sends, and where it gets it: [`Credentials`], the
//! [`CredentialsProvider`] trait, and [`BasicCredentialsProvider`] (credentials by
//! scope pattern).

use std::fmt;
use std::sync::{PoisonError, RwLock};

use hcx_exec::{Error, ErrorKind};
use http::header::HeaderValue;

use super::base64::base64;
use super::scope::AuthScope;

/// What the AUTH element sends. Apache HttpClient 5: `UsernamePasswordCredentials`
/// (answering a `DigestScheme` or a `BasicScheme` challenge, the stronger first) and
/// `BearerToken`. `Debug` never shows the password or the token.
///
/// ```
/// use hcx::chain::Credentials;
/// let credentials = Credentials::basic("alice", "s3cret");
/// assert_eq!(format!("{credentials:?}"), r#"Basic { username: "alice", password: "<redacted>" }"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
#[doc(alias("UsernamePasswordCredentials", "BearerToken"))]
pub enum Credentials {
    /// A user name and password, sent as `Authorization: Basic base64(user:password)`
    /// (RFC 7617, UTF-8), or answering a `Digest` challenge (RFC 7616), which sends
    /// only a hash of the password.
    Basic {
        /// The user-id; it must not contain `:` (RFC 7617 §2).
        username: String,
        /// The password.
        password: String,
    },
    /// A bearer token, sent as `Authorization: Bearer <token>` (RFC 6750).
    Bearer(String),
}

impl Credentials {
    /// A user name and password: they answer a `Digest` challenge (RFC 7616, only a
    /// hash of the password is sent) or a `Basic` one (RFC 7617), Digest first when a
    /// server offers both.
    #[doc(alias("UsernamePasswordCredentials", "DigestScheme", "BasicScheme"))]
    pub fn basic(username: impl Into<String>, password: impl Into<String>) -> Self {
        Credentials::Basic {
            username: username.into(),
            password: password.into(),
        }
    }

    /// A token for the `Bearer` scheme.
    pub fn bearer(token: impl Into<String>) -> Self {
        Credentials::Bearer(token.into())
    }

    /// The scheme these credentials are sent with up front
    /// ([`preemptive_auth`](crate::ClientBuilder::preemptive_auth)): `"Basic"` for a
    /// user name and password (which answer a `Digest` challenge too), or `"Bearer"`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Credentials::Basic { .. } => "Basic",
            Credentials::Bearer(_) => "Bearer",
        }
    }

    /// The `Authorization` value, marked sensitive. An error (naming `scope`, never
    /// the secret) when the credentials cannot be sent.
    pub(super) fn authorization(&self, scope: &AuthScope) -> Result<HeaderValue, Error> {
        let text = match self {
            Credentials::Basic { username, .. } if username.contains(':') => {
                // Not quoted: a user-id with a ':' is most likely `user:password`.
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "the Basic user-id for {scope} contains ':', which RFC 7617 §2 \
                         forbids (a password given with the user name?)"
                    ),
                ));
            }
            Credentials::Basic { username, password } => {
                format!(
                    "Basic {}",
                    base64(format!("{username}:{password}").as_bytes())
                )
            }
            // RFC 6750 §2.1: b64token, one or more of these characters.
            Credentials::Bearer(token)
                if token.is_empty()
                    || !token
                        .bytes()
                        .all(|b| b.is_ascii_alphanumeric() || b"-._~+/=".contains(&b)) =>
            {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "the Bearer credentials for {scope} are empty or hold characters \
                         RFC 6750 does not allow (letters, digits and -._~+/= only)"
                    ),
                ));
            }
            Credentials::Bearer(token) => format!("Bearer {token}"),
        };
        let mut value = HeaderValue::try_from(text).map_err(|_| {
            Error::new(
                ErrorKind::Config,
                format!(
                    "the {} credentials for {scope} cannot be sent: not a valid header \
                     value (control characters?)",
                    self.scheme()
                ),
            )
        })?;
        value.set_sensitive(true);
        Ok(value)
    }
}

impl fmt::Debug for Credentials {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Credentials::Basic { username, .. } => f
                .debug_struct("Basic")
                // What may follow a ':' is most likely a password given with the name.
                .field(
                    "username",
                    &username
                        .split_once(':')
                        .map_or(username.as_str(), |(user, _)| user),
                )
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Bearer(_) => f.debug_tuple("Bearer").field(&"<redacted>").finish(),
        }
    }
}

/// Gives the credentials for a target. Apache HttpClient 5: `CredentialsProvider`.
///
/// Asked on the request's thread, with the hop's scheme, host and port and the realm
/// of the challenge if any ([`AuthScope`]); `None`: no credentials, the `401` goes
/// back to the caller. Any `Fn(&AuthScope) -> Option<Credentials> + Send + Sync`
/// closure is one (a token that is refreshed, looked up in a vault…). The target
/// always carries its scheme, so a closure compares fields (`scope.host()`,
/// `scope.port()`), not the whole scope against an `AuthScope::new(..)`.
pub trait CredentialsProvider: Send + Sync {
    /// The credentials for `scope`, if any.
    fn credentials(&self, scope: &AuthScope) -> Option<Credentials>;
}

impl<F> CredentialsProvider for F
where
    F: Fn(&AuthScope) -> Option<Credentials> + Send + Sync,
{
    fn credentials(&self, scope: &AuthScope) -> Option<Credentials> {
        self(scope)
    }
}

/// Credentials by [`AuthScope`] pattern; the most specific match wins, by Apache's
/// order: the host counts most, then the scheme, then the port, then the realm (so
/// host + scheme beats host + port + realm, and host + port + realm beats host +
/// port, host, any). Apache HttpClient 5: `BasicCredentialsProvider`.
///
/// ```
/// use hcx::chain::{AuthScope, BasicCredentialsProvider, Credentials, CredentialsProvider};
/// let provider = BasicCredentialsProvider::new()
///     .with(AuthScope::any_port("example.com"), Credentials::basic("user", "pw"))
///     .with(AuthScope::new("example.com", 443).with_realm("admin"), Credentials::basic("root", "pw2"));
/// let target = AuthScope::new("EXAMPLE.com", 443);
/// assert_eq!(provider.credentials(&target), Some(Credentials::basic("user", "pw")));
/// assert_eq!(
///     provider.credentials(&target.with_realm("admin")),
///     Some(Credentials::basic("root", "pw2"))
/// );
/// assert_eq!(provider.credentials(&AuthScope::new("other.org", 443)), None);
/// ```
#[derive(Default)]
pub struct BasicCredentialsProvider {
    entries: RwLock<Vec<(AuthScope, Credentials)>>,
}

impl BasicCredentialsProvider {
    /// A provider with no credentials.
    pub fn new() -> Self {
        BasicCredentialsProvider::default()
    }

    /// Adds `credentials` for `scope` (replacing those of an equal scope).
    pub fn with(self, scope: AuthScope, credentials: Credentials) -> Self {
        self.set_credentials(scope, credentials);
        self
    }

    /// Adds `credentials` for `scope`, replacing those of an equal scope; through a
    /// shared reference, so a provider shared with a client
    /// ([`shared_credentials_provider`](crate::ClientBuilder::shared_credentials_provider))
    /// can be updated while it serves. Apache: `setCredentials`.
    #[doc(alias("setCredentials"))]
    pub fn set_credentials(&self, scope: AuthScope, credentials: Credentials) {
        let mut entries = self.entries.write().unwrap_or_else(PoisonError::into_inner);
        match entries.iter_mut().find(|(s, _)| *s == scope) {
            Some(entry) => entry.1 = credentials,
            None => entries.push((scope, credentials)),
        }
    }

    /// Removes every entry. Apache: `clear`.
    pub fn clear(&self) {
        self.entries
            .write()
            .unwrap_or_else(PoisonError::into_inner)
            .clear();
    }
}

impl CredentialsProvider for BasicCredentialsProvider {
    fn credentials(&self, scope: &AuthScope) -> Option<Credentials> {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        let mut best: Option<(u8, &Credentials)> = None;
        for (pattern, credentials) in entries.iter() {
            if let Some(score) = pattern.specificity(scope)
                && best.is_none_or(|(b, _)| score > b)
            {
                best = Some((score, credentials));
            }
        }
        best.map(|(_, credentials)| credentials.clone())
    }
}

impl fmt::Debug for BasicCredentialsProvider {
    /// The scopes and the schemes, secrets redacted.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let entries = self.entries.read().unwrap_or_else(PoisonError::into_inner);
        f.debug_map()
            .entries(entries.iter().map(|(s, c)| (s.to_string(), c)))
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use hcx_exec::Scheme;

    #[test]
    fn basic_and_bearer_authorization_values() -> Result<(), Error> {
        let scope = AuthScope::any();
        // RFC 7617 §2's example.
        let basic = Credentials::basic("Aladdin", "open sesame").authorization(&scope)?;
        assert_eq!(basic, "Basic QWxhZGRpbjpvcGVuIHNlc2FtZQ==");
        assert!(basic.is_sensitive());
        let bearer = Credentials::bearer("mF_9.B5f-4.1JqM").authorization(&scope)?;
        assert_eq!(bearer, "Bearer mF_9.B5f-4.1JqM");
        let colon = Credentials::basic("a:b", "pw").authorization(&scope);
        assert!(colon.is_err_and(|e| e.is_config() && !e.to_string().contains("pw")));
        let newline = Credentials::bearer("tok\r\nX-Evil: 1").authorization(&scope);
        assert!(newline.is_err_and(|e| !e.to_string().contains("tok")));
        // An empty token (an unset variable) or one outside RFC 6750's characters.
        for bad in ["", "tök", "a b"] {
            let e = Credentials::bearer(bad).authorization(&scope);
            assert!(e.is_err_and(|e| e.is_config()), "{bad:?}");
        }
        Ok(())
    }

    #[test]
    fn the_most_specific_scope_wins() {
        let provider = BasicCredentialsProvider::new()
            .with(AuthScope::any(), Credentials::basic("any", "1"))
            .with(
                AuthScope::any_port("Example.com"),
                Credentials::basic("host", "2"),
            )
            .with(
                AuthScope::new("example.com", 80),
                Credentials::basic("port", "3"),
            )
            .with(
                AuthScope::new("example.com", 80).with_realm("r"),
                Credentials::basic("realm", "4"),
            );
        let user = |scope: AuthScope| match provider.credentials(&scope) {
            Some(Credentials::Basic { username, .. }) => username,
            other => format!("{other:?}"),
        };
        assert_eq!(
            user(AuthScope::new("EXAMPLE.COM", 80).with_realm("r")),
            "realm"
        );
        assert_eq!(
            user(AuthScope::new("example.com", 80).with_realm("R")),
            "port"
        );
        assert_eq!(user(AuthScope::new("example.com", 80)), "port");
        assert_eq!(user(AuthScope::new("example.com", 8080)), "host");
        assert_eq!(user(AuthScope::new("example.org", 80)), "any");

        // Apache's order: the scheme outweighs the port and the realm together.
        let provider = provider.with(
            AuthScope::any_port("example.com").with_scheme(Scheme::Https),
            Credentials::basic("tls", "5"),
        );
        let user = |scope: AuthScope| match provider.credentials(&scope) {
            Some(Credentials::Basic { username, .. }) => username,
            other => format!("{other:?}"),
        };
        let https = AuthScope::new("example.com", 80).with_scheme(Scheme::Https);
        assert_eq!(user(https.with_realm("r")), "tls");
        let http = AuthScope::new("example.com", 80).with_scheme(Scheme::Http);
        assert_eq!(user(http.with_realm("r")), "realm");
    }

    #[test]
    fn debug_redacts_secrets() {
        let provider = BasicCredentialsProvider::new()
            .with(
                AuthScope::new("h", 1),
                Credentials::basic("alice", "hunter2"),
            )
            .with(AuthScope::any(), Credentials::bearer("tok-123"));
        let shown = format!("{provider:?} {:#?}", Credentials::bearer("tok-123"));
        assert!(
            !shown.contains("hunter2") && !shown.contains("tok-123"),
            "{shown}"
        );
        assert!(shown.contains("alice") && shown.contains("h:1"), "{shown}");
    }
}
