//! AUTH: answers `401` challenges and sends preemptive credentials. Apache HttpClient
//! 5: the challenge handling of `ProtocolExec` with its `HttpAuthenticator`,
//! `CredentialsProvider`, `AuthScope`, `UsernamePasswordCredentials`, `BearerToken`
//! and `BasicScheme`.
//!
//! The element is in the chain only when the builder has a
//! [`credentials_provider`](crate::ClientBuilder::credentials_provider): without one
//! (the default) there is nothing to answer with, and a `401` reaches the caller as
//! it came.
//!
//! For each hop (REDIRECT, outside this element, sets [`Scope::route`]) it asks the
//! provider for the credentials of that hop's host and port, so credentials chosen for
//! one origin are never sent to another. A request that already carries an
//! `Authorization` header, or whose [`RequestConfig`](crate::RequestConfig) has
//! `authentication_enabled` off, passes untouched.
//!
//! - Preemptive ([`preemptive_auth`](crate::ClientBuilder::preemptive_auth), off by
//!   default as in Apache): credentials for the target (realm unknown: asked with
//!   none) go with the first request.
//! - Otherwise, a `401` whose `WWW-Authenticate` offers `Basic` (or `Bearer`, answered
//!   with [`Credentials::Bearer`] only) is answered once: the `401` is dropped (its
//!   body drains, so the connection is reused) and the request is sent again with
//!   the credentials for (target, realm). What comes back is returned, a second
//!   `401` included: there is no loop. A body that cannot be sent twice
//!   ([`Body::is_replayable`]) gets the `401` back.
//!
//! Cost: to send the request again, the element keeps a copy of its head and of its
//! (replayable) body while the first attempt runs: only when a provider is configured,
//! authentication is enabled and the request has no `Authorization` yet.

use std::fmt;
use std::sync::{Arc, PoisonError, RwLock};

use hcx_exec::{Body, Error, ErrorKind, ResponseBody, Route};
use http::header::{AUTHORIZATION, HeaderValue, WWW_AUTHENTICATE};
use http::{Request, Response, StatusCode};

use super::{Chain, ExecHandler, Scope};

/// Where credentials apply: a host, a port and a realm, each optional (`None`: any).
/// Apache HttpClient 5: `AuthScope` (without its scheme and protocol fields).
///
/// Hosts compare case-insensitively (an IPv6 literal with or without brackets); a
/// realm compares exactly (RFC 9110 §11.5). As a key of a [`BasicCredentialsProvider`]
/// a scope is a pattern; as the argument of
/// [`CredentialsProvider::credentials`] it describes the target: its host and port,
/// and the realm of the challenge being answered (`None` when no challenge is known,
/// for preemptive credentials). A pattern field set to a value matches only a target
/// with that value, so realm-specific credentials are never sent preemptively.
///
/// ```
/// use hcx::chain::AuthScope;
/// let pattern = AuthScope::new("API.example.com", 8080).with_realm("admin");
/// assert_eq!(pattern.host(), Some("api.example.com"));
/// assert_eq!(AuthScope::any_port("example.com").port(), None);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash, Default)]
pub struct AuthScope {
    host: Option<String>,
    port: Option<u16>,
    realm: Option<String>,
}

impl AuthScope {
    /// Any host, any port, any realm.
    pub fn any() -> Self {
        AuthScope::default()
    }

    /// `host` on `port`, any realm.
    pub fn new(host: &str, port: u16) -> Self {
        AuthScope {
            host: Some(normalize_host(host)),
            port: Some(port),
            realm: None,
        }
    }

    /// `host` on any port, any realm.
    pub fn any_port(host: &str) -> Self {
        AuthScope {
            host: Some(normalize_host(host)),
            port: None,
            realm: None,
        }
    }

    /// The target of a hop to `route` before any challenge: its host and port, no
    /// realm. What the AUTH element asks the provider for preemptive credentials.
    pub fn for_route(route: &Route) -> Self {
        AuthScope::new(&route.host, route.port)
    }

    /// The same scope limited to `realm` (the `realm` parameter of a challenge).
    pub fn with_realm(mut self, realm: impl Into<String>) -> Self {
        self.realm = Some(realm.into());
        self
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
    /// outweighs port, port outweighs realm, so host+port+realm > host+port > host >
    /// any.
    fn specificity(&self, target: &AuthScope) -> Option<u8> {
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
            4,
        )?;
        let port = field(&self.port, &target.port, |a, b| a == b, 2)?;
        let realm = field(&self.realm, &target.realm, |a, b| a == b, 1)?;
        Some(host + port + realm)
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
    /// `example.com:8080 realm "admin"`, `*` for what is any.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
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

/// What the AUTH element sends. Apache HttpClient 5: `UsernamePasswordCredentials`
/// (answered with `BasicScheme`) and `BearerToken`. `Debug` never shows the password
/// or the token.
///
/// ```
/// use hcx::chain::Credentials;
/// let credentials = Credentials::basic("alice", "s3cret");
/// assert_eq!(format!("{credentials:?}"), r#"Basic { username: "alice", password: "<redacted>" }"#);
/// ```
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Credentials {
    /// A user name and password, sent as `Authorization: Basic base64(user:password)`
    /// (RFC 7617, UTF-8).
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
    /// User name and password for the `Basic` scheme.
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

    /// The scheme these credentials answer: `"Basic"` or `"Bearer"`.
    pub fn scheme(&self) -> &'static str {
        match self {
            Credentials::Basic { .. } => "Basic",
            Credentials::Bearer(_) => "Bearer",
        }
    }

    /// The `Authorization` value, marked sensitive. An error (naming `scope`, never
    /// the secret) when the credentials cannot be sent.
    fn authorization(&self, scope: &AuthScope) -> Result<HeaderValue, Error> {
        let text = match self {
            Credentials::Basic { username, .. } if username.contains(':') => {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "the Basic user-id {username:?} for {scope} contains ':', \
                         which RFC 7617 §2 forbids"
                    ),
                ));
            }
            Credentials::Basic { username, password } => {
                format!(
                    "Basic {}",
                    base64(format!("{username}:{password}").as_bytes())
                )
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
                .field("username", username)
                .field("password", &"<redacted>")
                .finish(),
            Credentials::Bearer(_) => f.debug_tuple("Bearer").field(&"<redacted>").finish(),
        }
    }
}

/// Gives the credentials for a target. Apache HttpClient 5: `CredentialsProvider`.
///
/// Asked on the request's thread, with the hop's host and port and the realm of the
/// challenge if any ([`AuthScope`]); `None`: no credentials, the `401` goes back to
/// the caller. Any `Fn(&AuthScope) -> Option<Credentials> + Send + Sync` closure is
/// one (a token that is refreshed, looked up in a vault…).
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

/// Credentials by [`AuthScope`] pattern; the most specific match wins (host + port +
/// realm over host + port over host over any). Apache HttpClient 5:
/// `BasicCredentialsProvider`.
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
            if let Some(score) = pattern.specificity(scope) {
                if best.is_none_or(|(b, _)| score > b) {
                    best = Some((score, credentials));
                }
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

/// The builder's settings for this layer. The default has no credentials provider:
/// [`handler`] returns `None` and AUTH is absent from the chain.
#[derive(Default)]
pub(crate) struct Settings {
    provider: Option<Arc<dyn CredentialsProvider>>,
    preemptive: bool,
}

/// The layer's handler, or `None` when no credentials provider is configured.
pub(crate) fn handler(settings: &Settings) -> Option<Arc<dyn ExecHandler>> {
    let provider = Arc::clone(settings.provider.as_ref()?);
    Some(Arc::new(AuthExec {
        provider,
        preemptive: settings.preemptive,
    }))
}

impl crate::ClientBuilder {
    /// Answers `401` challenges (and, with [`preemptive_auth`](Self::preemptive_auth),
    /// sends credentials up front) with credentials from `provider`, chosen by each
    /// hop's host, port and realm. Without a provider (the default) the AUTH element
    /// is not in the chain. Apache: `setDefaultCredentialsProvider`.
    ///
    /// ```
    /// use hcx::chain::{AuthScope, BasicCredentialsProvider, Credentials};
    /// use hcx_testserver::{Method, Reply, TestServer};
    ///
    /// let server = TestServer::builder()
    ///     .route_fn(Method::GET, "/", |request| match request.header("authorization") {
    ///         Some("Basic YWxpY2U6czNjcmV0") => Reply::ok().body("hello, alice"),
    ///         _ => Reply::new(401u16).header("www-authenticate", r#"Basic realm="demo""#),
    ///     })
    ///     .start()?;
    /// let client = hcx::Client::builder()
    ///     .credentials_provider(BasicCredentialsProvider::new().with(
    ///         AuthScope::new("127.0.0.1", server.port()),
    ///         Credentials::basic("alice", "s3cret"),
    ///     ))
    ///     .build()?;
    /// let response = client.get(server.url("/"))?;
    /// assert_eq!(response.into_body().into_string()?, "hello, alice");
    /// assert_eq!(server.stats().requests_received, 2); // the challenge, then the answer
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn credentials_provider(self, provider: impl CredentialsProvider + 'static) -> Self {
        self.shared_credentials_provider(Arc::new(provider))
    }

    /// Like [`credentials_provider`](Self::credentials_provider), for a provider
    /// already behind an `Arc` (shared with other clients, or updated while in use).
    pub fn shared_credentials_provider(mut self, provider: Arc<dyn CredentialsProvider>) -> Self {
        self.auth.provider = Some(provider);
        self
    }

    /// Sends credentials with the first request, before any challenge, when the
    /// provider has some for the target's host and port with no realm. Default
    /// `false`, as in Apache (where preemptive Basic is an `AuthCache` primed by hand).
    /// Without a [`credentials_provider`](Self::credentials_provider) it does nothing.
    pub fn preemptive_auth(mut self, enabled: bool) -> Self {
        self.auth.preemptive = enabled;
        self
    }
}

/// The AUTH element.
struct AuthExec {
    provider: Arc<dyn CredentialsProvider>,
    preemptive: bool,
}

impl ExecHandler for AuthExec {
    fn execute(
        &self,
        request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        // Checked before anything is copied: these are the cheap ways out.
        if !scope.config.authentication_enabled || request.headers().contains_key(AUTHORIZATION) {
            return chain.proceed(request, scope);
        }
        let (mut head, body) = request.into_parts();
        if self.preemptive {
            let target = AuthScope::for_route(&scope.route);
            if let Some(credentials) = self.provider.credentials(&target) {
                head.headers
                    .try_insert(AUTHORIZATION, credentials.authorization(&target)?)?;
                // Our credentials went out: a 401 now is an answer, not a challenge.
                return chain.proceed(Request::from_parts(head, body), scope);
            }
        }
        let replay = body.try_clone().map(|copy| (head.clone(), copy));
        let response = chain.proceed(Request::from_parts(head, body), scope)?;
        if response.status() != StatusCode::UNAUTHORIZED {
            return Ok(response);
        }
        let Some((mut head, body)) = replay else {
            return Ok(response);
        };
        let target = AuthScope::for_route(&scope.route);
        let Some((credentials, realm)) = self.answer(&response, &target) else {
            return Ok(response);
        };
        let authorization = credentials.authorization(&realm)?;
        // Dropping the 401 drains its body, so the answer can reuse the connection.
        drop(response);
        head.headers.try_insert(AUTHORIZATION, authorization)?;
        chain.proceed(Request::from_parts(head, body), scope)
    }
}

impl AuthExec {
    /// The credentials that answer one of the challenges of `response`, with the scope
    /// they were found for. `Bearer` first: a token reveals less than a password.
    fn answer(
        &self,
        response: &Response<ResponseBody>,
        target: &AuthScope,
    ) -> Option<(Credentials, AuthScope)> {
        let mut challenges = Vec::new();
        for value in response.headers().get_all(WWW_AUTHENTICATE) {
            challenge::parse(value.as_bytes(), &mut challenges);
        }
        for scheme in ["Bearer", "Basic"] {
            for offered in challenges
                .iter()
                .filter(|c| c.scheme.eq_ignore_ascii_case(scheme))
            {
                let mut scope = target.clone();
                scope.realm.clone_from(&offered.realm);
                match self.provider.credentials(&scope) {
                    Some(credentials) if credentials.scheme() == scheme => {
                        return Some((credentials, scope));
                    }
                    _ => {}
                }
            }
        }
        None
    }
}

/// Base64 with the standard alphabet and padding (RFC 4648 §4), for `Basic`.
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for group in input.chunks(3) {
        let b = [
            group[0],
            *group.get(1).unwrap_or(&0),
            *group.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for (i, shift) in [18u32, 12, 6, 0].into_iter().enumerate() {
            if i <= group.len() {
                out.push(char::from(ALPHABET[((n >> shift) & 0x3f) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `WWW-Authenticate` parsing (RFC 9110 §11.6.1, §11.2), sans-IO and panic-free:
/// anything it cannot read is skipped up to the next comma.
mod challenge {
    /// One challenge: its scheme as sent, and its `realm` parameter if any.
    #[derive(Debug, PartialEq, Eq)]
    pub(super) struct Challenge {
        pub(super) scheme: String,
        pub(super) realm: Option<String>,
    }

    /// Appends the challenges of one field value to `out`.
    ///
    /// `#challenge`, where `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`
    /// and `auth-param = token BWS "=" BWS ( token / quoted-string )`: commas separate
    /// both challenges and parameters, so a token not followed by `=` starts the next
    /// challenge.
    pub(super) fn parse(value: &[u8], out: &mut Vec<Challenge>) {
        let mut p = Parser { s: value, i: 0 };
        loop {
            p.skip(|b| b == b',' || is_ws(b));
            if p.i >= p.s.len() {
                return;
            }
            let Some(scheme) = p.token() else {
                p.skip_past_comma();
                continue;
            };
            let mut challenge = Challenge {
                scheme: String::from_utf8_lossy(scheme).into_owned(),
                realm: None,
            };
            let spaced = p.skip(is_ws) > 0;
            if spaced && !p.token68() {
                p.params(&mut challenge);
            }
            out.push(challenge);
        }
    }

    struct Parser<'a> {
        s: &'a [u8],
        i: usize,
    }

    impl Parser<'_> {
        fn peek(&self) -> Option<u8> {
            self.s.get(self.i).copied()
        }

        /// Skips bytes while `f` holds; returns how many.
        fn skip(&mut self, f: impl Fn(u8) -> bool) -> usize {
            let start = self.i;
            while self.peek().is_some_and(&f) {
                self.i += 1;
            }
            self.i - start
        }

        fn skip_past_comma(&mut self) {
            self.skip(|b| b != b',');
            self.i = (self.i + 1).min(self.s.len());
        }

        fn token(&mut self) -> Option<&[u8]> {
            let start = self.i;
            (self.skip(is_tchar) > 0).then(|| &self.s[start..self.i])
        }

        /// Consumes a token68 (`1*( ALPHA / DIGIT / "-._~+/" ) *"="`) that ends the
        /// challenge (followed by a comma or the end); it is not needed, only skipped.
        fn token68(&mut self) -> bool {
            let start = self.i;
            if self.skip(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)) == 0 {
                return false;
            }
            self.skip(|b| b == b'=');
            let end = self.i;
            self.skip(is_ws);
            if matches!(self.peek(), None | Some(b',')) {
                self.i = end;
                return true;
            }
            self.i = start;
            false
        }

        fn params(&mut self, challenge: &mut Challenge) {
            loop {
                let start = self.i;
                let Some(name) = self.token() else { return };
                let is_realm = name.eq_ignore_ascii_case(b"realm");
                self.skip(is_ws);
                if self.peek() != Some(b'=') {
                    // Not a parameter: the scheme of the next challenge.
                    self.i = start;
                    return;
                }
                self.i += 1;
                self.skip(is_ws);
                let value = match self.peek() {
                    Some(b'"') => self.quoted_string(),
                    _ => self.token().map(<[u8]>::to_vec),
                };
                let Some(value) = value else {
                    self.skip_past_comma();
                    return;
                };
                if is_realm && challenge.realm.is_none() {
                    challenge.realm = Some(String::from_utf8_lossy(&value).into_owned());
                }
                self.skip(is_ws);
                if self.peek() != Some(b',') {
                    return;
                }
                self.skip(|b| b == b',' || is_ws(b));
            }
        }

        /// A quoted-string with its quoted-pairs undone; `None` if unterminated.
        fn quoted_string(&mut self) -> Option<Vec<u8>> {
            let mut out = Vec::new();
            let mut j = self.i + 1;
            loop {
                match *self.s.get(j)? {
                    b'"' => {
                        self.i = j + 1;
                        return Some(out);
                    }
                    b'\\' => {
                        out.push(*self.s.get(j + 1)?);
                        j += 2;
                    }
                    b => {
                        out.push(b);
                        j += 1;
                    }
                }
            }
        }
    }

    fn is_ws(b: u8) -> bool {
        b == b' ' || b == b'\t'
    }

    /// RFC 9110 §5.6.2.
    fn is_tchar(b: u8) -> bool {
        b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
    }
}

#[cfg(test)]
mod tests {
    use super::challenge::{Challenge, parse};
    use super::*;

    fn challenges(value: &str) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        parse(value.as_bytes(), &mut out);
        out.into_iter()
            .map(|Challenge { scheme, realm }| (scheme, realm))
            .collect()
    }

    fn c(scheme: &str, realm: Option<&str>) -> (String, Option<String>) {
        (scheme.to_owned(), realm.map(str::to_owned))
    }

    #[test]
    fn base64_matches_the_rfc4648_section_10_vectors() {
        let vectors = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in vectors {
            assert_eq!(base64(input.as_bytes()), expected, "{input:?}");
        }
        assert_eq!(base64(&[0xff, 0xfe, 0xfd, 0x00]), "//79AA==");
    }

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
        Ok(())
    }

    #[test]
    fn one_challenge_with_a_quoted_realm() {
        assert_eq!(
            challenges(r#"Basic realm="test""#),
            [c("Basic", Some("test"))]
        );
        assert_eq!(
            challenges(r#"basic   REALM = "a \"quoted\" \\ realm", charset="UTF-8""#),
            [c("basic", Some(r#"a "quoted" \ realm"#))]
        );
        assert_eq!(challenges("Basic realm=token"), [c("Basic", Some("token"))]);
        assert_eq!(challenges("Basic"), [c("Basic", None)]);
    }

    #[test]
    fn several_challenges_in_one_field_are_split_at_the_right_commas() {
        // RFC 9110 §11.6.1's example.
        let value =
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#;
        assert_eq!(
            challenges(value),
            [c("Newauth", Some("apps")), c("Basic", Some("simple"))]
        );
        assert_eq!(
            challenges(r#"Negotiate YIIB+g==, Bearer realm="b", error="invalid_token",Basic"#),
            [
                c("Negotiate", None),
                c("Bearer", Some("b")),
                c("Basic", None)
            ]
        );
        assert_eq!(
            challenges(r#", ,Basic realm="x",, Digest realm="y", nonce="n""#),
            [c("Basic", Some("x")), c("Digest", Some("y"))]
        );
    }

    #[test]
    fn garbage_never_panics_and_what_can_be_read_is_kept() {
        type Case = (
            &'static str,
            &'static [(&'static str, Option<&'static str>)],
        );
        let cases: &[Case] = &[
            ("", &[]),
            (",,, ,", &[]),
            (r#"Basic realm="unterminated"#, &[("Basic", None)]),
            (r#"Basic realm="x\"#, &[("Basic", None)]),
            (
                r#"Basic realm=, Bearer"#,
                &[("Basic", None), ("Bearer", None)],
            ),
            (r#""quoted", Basic realm="ok""#, &[("Basic", Some("ok"))]),
            (
                r#"Basic realm="a" realm="b""#,
                &[("Basic", Some("a")), ("realm", None)],
            ),
            (
                r#"Basic realm="first", realm="second""#,
                &[("Basic", Some("first"))],
            ),
            ("=Basic", &[]),
            ("Basic ===", &[("Basic", None)]),
            ("\u{7f}\u{1} Basic", &[]),
            ("\u{7f}\u{1}, Basic", &[("Basic", None)]),
        ];
        for (value, expected) in cases {
            let expected: Vec<_> = expected.iter().map(|(s, r)| c(s, *r)).collect();
            assert_eq!(challenges(value), expected, "{value:?}");
        }
        // Every prefix of every case, and raw bytes, parse without panicking.
        for (value, _) in cases {
            for end in 0..=value.len() {
                parse(&value.as_bytes()[..end], &mut Vec::new());
            }
        }
        parse(b"Basic realm=\"\xff\xfe\"", &mut Vec::new());
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
    }

    #[test]
    fn scope_patterns_match_only_what_they_name() {
        let target = AuthScope::for_route(&Route::http("[::1]", 8080));
        assert_eq!(target.host(), Some("::1"));
        assert_eq!(target.to_string(), "[::1]:8080");
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

    #[test]
    fn without_a_provider_there_is_no_element() {
        assert!(handler(&Settings::default()).is_none());
        let settings = Settings {
            provider: Some(Arc::new(|_: &AuthScope| None)),
            preemptive: false,
        };
        assert!(handler(&settings).is_some());
    }
}
