//! AUTH: answers `401` challenges, a forward proxy's `407`, and sends preemptive
//! credentials. Apache HttpClient 5: the challenge handling of `ProtocolExec` (and,
//! for a `CONNECT`'s `407`, of `ConnectExec`) with its `HttpAuthenticator`,
//! `CredentialsProvider`, `AuthScope`, `UsernamePasswordCredentials`, `BearerToken`,
//! `BasicScheme` and `DigestScheme`.
//!
//! The element is in the chain only when the builder has a
//! [`credentials_provider`](crate::ClientBuilder::credentials_provider): without one
//! (the default) there is nothing to answer with, and a `401` reaches the caller as
//! it came.
//!
//! For each hop (REDIRECT, outside this element, sets [`Scope::route`]) it asks the
//! provider for the credentials of that hop's scheme, host and port, so credentials
//! chosen for one origin are never sent to another. A request whose
//! [`RequestConfig`](crate::RequestConfig) has `authentication_enabled` off passes
//! untouched; one that already carries an `Authorization` header has no origin
//! challenge answered, but a forward proxy's `407` still is (and a kept proxy answer
//! goes up front).
//!
//! - Preemptive ([`preemptive_auth`](crate::ClientBuilder::preemptive_auth), off by
//!   default as in Apache): credentials for the target (realm unknown: asked with
//!   none) go with the first request. A `401` to them that offers another scheme
//!   (Basic sent up front to a Digest server) is answered with it, as Apache does;
//!   one for the same scheme is the answer.
//! - Otherwise, a `401` is answered once, choosing among its `WWW-Authenticate`
//!   challenges by strength: `Bearer` (with [`Credentials::Bearer`] only), then
//!   `Digest` (RFC 7616: `MD5`, `SHA-256`, `SHA-512-256`, each also `-sess`;
//!   `qop=auth`, `auth-int` (the body hashed, when it can be read again: the body
//!   as it leaves AUTH, before PROTOCOL's request interceptors) or none),
//!   then `Basic`; [`Credentials::Basic`] answers both of the last two: the `401` is
//!   dropped (its body drains, so the connection is reused) and the request is sent again with
//!   the credentials for (target, realm). What comes back is returned, a second
//!   `401` included, except one Digest challenge saying the nonce went stale
//!   (`stale=true`), answered once more with the fresh nonce: there is no loop. A
//!   body that cannot be sent twice ([`Body::is_replayable`]) gets the `401` back.
//!   A Digest answer's `uri` is the request-target as sent (absolute-form to a
//!   forward proxy); user name, realm and password are hashed as UTF-8 (as
//!   ISO-8859-1 when the challenge says `charset=ISO-8859-1`).
//! - A Digest challenge whose answer was accepted is kept per target, as Apache's
//!   `AuthCache` keeps a `DigestScheme`: later requests there answer it up front
//!   (nonce count one higher, fresh client nonce), one round trip instead of two; a
//!   plain `401` to such an answer is answered as a new challenge.
//!
//! - A proxy's `407` is answered with the credentials the provider has for the proxy
//!   ([`AuthScope::for_proxy`] and the challenge's realm), the schemes chosen as for a
//!   `401`: through a forward proxy by this element, to a `CONNECT` by the
//!   connection manager (the builder gives the manager it makes a
//!   [`ProxyAuthenticator`] over the same provider). At
//!   most two answers; credentials refused are not sent again. A Basic answer is kept
//!   per proxy and sent up front with the next request or `CONNECT` through it, as
//!   Apache's `AuthCache` does, until the proxy refuses it.
//!
//! Cost: to send the request again, the element keeps a copy of its head and of its
//! (replayable) body while each attempt runs: only when a provider is configured,
//! authentication is enabled and the request has no `Authorization` of its own
//! (with preemptive credentials too, for a challenge of another scheme) or goes
//! through a forward proxy.

mod base64;
mod challenge;
mod credentials;
mod digest;
mod scope;

pub use credentials::{BasicCredentialsProvider, Credentials, CredentialsProvider};
pub use scope::AuthScope;

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use hcx_exec::{Body, Error, ErrorKind, Proxy, ProxyAuthenticator, ProxyChallenge, ResponseBody};
use hcx_h1::{TargetForm, request_target};
use http::header::{
    AUTHORIZATION, HeaderValue, PROXY_AUTHENTICATE, PROXY_AUTHORIZATION, WWW_AUTHENTICATE,
};
use http::{Method, Request, Response, StatusCode};

use super::{Chain, ExecHandler, Scope};
use challenge::Challenge;

/// The builder's settings for this layer. The default has no credentials provider:
/// [`handler`] returns `None` and AUTH is absent from the chain.
#[derive(Default)]
pub(crate) struct Settings {
    provider: Option<Arc<dyn CredentialsProvider>>,
    preemptive: bool,
}

/// The layer's handler, or `None` when no credentials provider is configured;
/// `proxy` answers a forward proxy's `407`.
pub(crate) fn handler(
    settings: &Settings,
    proxy: Option<Arc<ProxyAuth>>,
) -> Option<Arc<dyn ExecHandler>> {
    let provider = Arc::clone(settings.provider.as_ref()?);
    Some(Arc::new(AuthExec {
        provider,
        preemptive: settings.preemptive,
        digest_sessions: Mutex::default(),
        proxy,
    }))
}

impl crate::ClientBuilder {
    /// Answers `401` challenges (and, with [`preemptive_auth`](Self::preemptive_auth),
    /// sends credentials up front) with credentials from `provider`, chosen by each
    /// hop's host, port and realm; and a proxy's `407` with those it has for the proxy
    /// ([`AuthScope::for_proxy`]). Without a provider (the default) the AUTH element
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
    #[doc(alias("setDefaultCredentialsProvider"))]
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
    /// provider has some for the target's scheme, host and port with no realm: a user
    /// name and password go as **Basic** (the password in base64, readable on plain
    /// `http`), a token as Bearer. Default `false`, as in Apache (where preemptive
    /// Basic is an `AuthCache` primed with a `BasicScheme` by hand). Against a Digest
    /// server leave it off: the Digest answer then follows the 401, and later requests
    /// answer up front from the kept Digest session (`AuthCache` with a
    /// `DigestScheme`) without Basic. Without a
    /// [`credentials_provider`](Self::credentials_provider) it does nothing.
    #[doc(alias("AuthCache"))]
    pub fn preemptive_auth(mut self, enabled: bool) -> Self {
        self.auth.preemptive = enabled;
        self
    }
}

/// The AUTH element.
struct AuthExec {
    provider: Arc<dyn CredentialsProvider>,
    preemptive: bool,
    /// The Digest challenge last answered with success, per target (scheme, host,
    /// port), and how many times its nonce was used: the next request to the target
    /// answers it up front (nonce count one higher), saving the round trip of a
    /// challenge, as Apache's `AuthCache` does with a `DigestScheme`.
    digest_sessions: Mutex<HashMap<AuthScope, DigestSession>>,
    /// Answers a forward proxy's `407`.
    proxy: Option<Arc<ProxyAuth>>,
}

/// A Digest challenge kept for the next requests to its target.
struct DigestSession {
    challenge: Challenge,
    /// Uses of its nonce so far.
    nc: u32,
}

/// At most this many targets keep a Digest session, and proxies a Basic answer (the
/// map is emptied past it).
const MAX_DIGEST_SESSIONS: usize = 256;

impl ExecHandler for AuthExec {
    fn execute(
        &self,
        request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        // Checked before anything is copied: these are the cheap ways out.
        if !scope.config.authentication_enabled {
            return chain.proceed(request, scope);
        }
        // A forward proxy's `407` is answered here (a `CONNECT`'s by the manager).
        let forward = self.proxy.is_some() && scope.route.is_forward_proxy();
        // The origin's scheme, host and port, from the URI: on an `http` route through
        // a forward proxy the route's are the proxy's. None for a request with an
        // `Authorization` of its own: the origin's challenges are then not answered.
        let target = if request.headers().contains_key(AUTHORIZATION) {
            None
        } else {
            AuthScope::for_uri(request.uri())
        };
        if target.is_none() && !forward {
            return chain.proceed(request, scope);
        }
        let (mut head, body) = request.into_parts();
        let form = scope.route.target_form();
        // The scheme of the credentials last sent, if any.
        let mut sent: Option<&'static str> = None;
        // Sent up front from a Digest session kept from an earlier request.
        let mut from_session = false;
        if let Some(target) = &target {
            if let Some(value) = self.session_answer(target, &head, &body, form)? {
                head.headers.try_insert(AUTHORIZATION, value)?;
                sent = Some("Digest");
                from_session = true;
            } else if self.preemptive
                && let Some(credentials) = self.provider.credentials(target)
            {
                head.headers
                    .try_insert(AUTHORIZATION, credentials.authorization(target)?)?;
                sent = Some(credentials.scheme());
            }
        }
        // A Basic answer the forward proxy took before goes up front (the request's
        // own `Proxy-Authorization` wins).
        if let Some((auth, proxy)) = self.forward_proxy(scope).filter(|_| forward)
            && !head.headers.contains_key(PROXY_AUTHORIZATION)
            && let Some(value) = auth.up_front(proxy)
        {
            head.headers.try_insert(PROXY_AUTHORIZATION, value)?;
        }
        // The Digest challenge last answered, kept if its answer is accepted.
        let mut answered_digest: Option<Challenge> = None;
        let mut replay = body.try_clone().map(|copy| (head.clone(), copy));
        let mut response = chain.proceed(Request::from_parts(head, body), scope)?;
        // A kept session the server refused is forgotten, whatever answers next.
        let session_refused = from_session && response.status() == StatusCode::UNAUTHORIZED;
        // At most two answers to each: to the origin, a challenge, then (after a
        // Digest answer) the same challenge with a fresh nonce (`stale=true`), or
        // (after credentials sent up front) a challenge for another scheme; to the
        // proxy, as its authenticator allows. No loop beyond.
        let (mut origin_answers, mut proxy_answers) = (0, 0);
        loop {
            let status = response.status();
            let origin = status == StatusCode::UNAUTHORIZED && origin_answers < 2;
            let proxy = status == StatusCode::PROXY_AUTHENTICATION_REQUIRED && proxy_answers < 2;
            if !(origin && target.is_some() || proxy && forward) {
                break;
            }
            let Some((mut head, body)) = replay.take() else {
                break;
            };
            if let (true, Some(target)) = (origin, &target) {
                let Some(answer) = self.answer(&response, target, &head, &body, form)? else {
                    break;
                };
                let go = match sent {
                    None => true,
                    // Only a nonce that went stale is answered again, or any challenge
                    // to a kept session's answer (the server may have forgotten its
                    // nonce).
                    Some("Digest") if answer.scheme == "Digest" => answer.stale || from_session,
                    // A 401 to credentials of one scheme that offers another (Basic sent
                    // up front to a Digest server): answered, as Apache does.
                    Some(previous) => previous != answer.scheme,
                };
                if !go {
                    break;
                }
                // Dropping the 401 drains its body, so the answer can reuse the
                // connection.
                drop(response);
                // Kept in the copy too: a 407 next is answered with it still there.
                head.headers.try_insert(AUTHORIZATION, answer.value)?;
                replay = body.try_clone().map(|copy| (head.clone(), copy));
                sent = Some(answer.scheme);
                from_session = false;
                answered_digest = answer.digest;
                origin_answers += 1;
            } else if let Some((auth, proxy)) = self.forward_proxy(scope).filter(|_| forward) {
                let request_target = sent_target(&head, form)?;
                let answer = auth.answer_for(
                    &ProxyChallenge::new(
                        proxy,
                        &head.method,
                        &request_target,
                        response.headers(),
                        head.headers.get(PROXY_AUTHORIZATION),
                    ),
                    &body,
                )?;
                let Some(value) = answer else {
                    break;
                };
                drop(response);
                // Kept in the copy too: a 401 next is answered with it still there,
                // and a 407 next knows what it refused.
                head.headers.try_insert(PROXY_AUTHORIZATION, value)?;
                replay = body.try_clone().map(|copy| (head.clone(), copy));
                proxy_answers += 1;
            } else {
                break;
            }
            response = scope.answer_challenge(chain, Request::from_parts(head, body))?;
        }
        if let Some(target) = target {
            self.keep_session(target, &response, answered_digest, session_refused);
        }
        Ok(response)
    }
}

impl AuthExec {
    /// The proxy authenticator and the route's proxy, when both are there: borrowed
    /// from the scope when needed, not copied for every request.
    fn forward_proxy<'s>(&'s self, scope: &'s Scope<'_>) -> Option<(&'s ProxyAuth, &'s Proxy)> {
        Some((self.proxy.as_deref()?, scope.route.proxy.as_ref()?))
    }

    /// The answer to `target`'s kept Digest challenge, its nonce used once more;
    /// `None` without a session (or credentials for it).
    fn session_answer(
        &self,
        target: &AuthScope,
        head: &http::request::Parts,
        body: &Body,
        form: TargetForm,
    ) -> Result<Option<HeaderValue>, Error> {
        let (challenge, nc) = {
            let mut sessions = self.sessions();
            let Some(session) = sessions.get_mut(target) else {
                return Ok(None);
            };
            session.nc = session.nc.saturating_add(1);
            (session.challenge.clone(), session.nc)
        };
        let mut scope = target.clone();
        scope.realm.clone_from(&challenge.realm);
        let Some(Credentials::Basic { username, password }) = self.provider.credentials(&scope)
        else {
            return Ok(None);
        };
        let request_target = sent_target(head, form)?;
        let cnonce = digest::client_nonce()?;
        let exchange = digest::Exchange {
            method: &head.method,
            target: &request_target,
            body,
        };
        let Some(text) =
            digest::authorization(&challenge, &username, &password, &exchange, &cnonce, nc)?
        else {
            return Ok(None);
        };
        digest_value(&text, challenge.latin1, &scope).map(Some)
    }

    /// After the exchange: keeps the Digest challenge whose answer was accepted for
    /// the next requests to `target`; forgets a kept one the server refused.
    fn keep_session(
        &self,
        target: AuthScope,
        response: &Response<ResponseBody>,
        answered: Option<Challenge>,
        session_refused: bool,
    ) {
        let accepted = response.status() != StatusCode::UNAUTHORIZED;
        let mut sessions = self.sessions();
        match answered {
            Some(challenge) if accepted => {
                // The same nonce keeps its count (other requests may have used it
                // since); a new one starts at the one use just made.
                let same_nonce = sessions
                    .get(&target)
                    .is_some_and(|s| s.challenge.param("nonce") == challenge.param("nonce"));
                if !same_nonce {
                    if sessions.len() >= MAX_DIGEST_SESSIONS && !sessions.contains_key(&target) {
                        sessions.clear();
                    }
                    sessions.insert(target, DigestSession { challenge, nc: 1 });
                }
            }
            _ if session_refused => {
                sessions.remove(&target);
            }
            _ => {}
        }
    }

    /// The nonce count for an answer to `offered`: one past the kept session's when it
    /// holds the same nonce (a server that saw those counts refuses them again), else 1.
    fn next_nonce_count(&self, target: &AuthScope, offered: &Challenge) -> u32 {
        let mut sessions = self.sessions();
        match sessions.get_mut(target) {
            Some(session) if session.challenge.param("nonce") == offered.param("nonce") => {
                session.nc = session.nc.saturating_add(1);
                session.nc
            }
            _ => 1,
        }
    }

    fn sessions(&self) -> MutexGuard<'_, HashMap<AuthScope, DigestSession>> {
        self.digest_sessions
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// The request-target as the encoder writes it on a route of `form` (absolute-form to
/// a forward proxy, an empty path as `/`): what a Digest answer's `uri` repeats
/// (RFC 7616 §3.4).
fn sent_target(head: &http::request::Parts, form: TargetForm) -> Result<String, Error> {
    request_target(&head.method, &head.uri, form).map_err(|e| {
        Error::new(
            ErrorKind::InvalidRequest,
            "the request cannot be sent as it is",
        )
        .with_source(e)
    })
}

/// A Digest answer as a sensitive header value. When the challenge's values came as
/// ISO-8859-1 (`latin1`), the ones the answer repeats go back in those bytes, as
/// Apache writes them (its header values are ISO-8859-1 both ways); the rest of the
/// answer is ASCII.
fn digest_value(text: &str, latin1: bool, scope: &AuthScope) -> Result<HeaderValue, Error> {
    let latin1_bytes: Option<Vec<u8>> = latin1
        .then(|| text.chars().map(|c| u8::try_from(c).ok()).collect())
        .flatten();
    let bytes = latin1_bytes.as_deref().unwrap_or(text.as_bytes());
    let mut value = HeaderValue::from_bytes(bytes).map_err(|_| {
        Error::new(
            ErrorKind::InvalidRequest,
            format!("the Digest answer for {scope} is not a valid field value"),
        )
    })?;
    value.set_sensitive(true);
    Ok(value)
}

/// What answers a challenge.
struct Answer {
    /// `Bearer`, `Digest` or `Basic`.
    scheme: &'static str,
    /// The `Authorization` value, marked sensitive.
    value: HeaderValue,
    /// The challenge said the nonce of an earlier answer went stale (Digest).
    stale: bool,
    /// The Digest challenge answered, to keep if the answer is accepted.
    digest: Option<Challenge>,
}

impl AuthExec {
    /// The `Authorization` value that answers one of the challenges of `response` to
    /// the request `head`, with the credentials the provider has for the target and
    /// that challenge's realm (see [`answer_challenges`]). `None`: nothing to answer
    /// with.
    fn answer(
        &self,
        response: &Response<ResponseBody>,
        target: &AuthScope,
        head: &http::request::Parts,
        body: &Body,
        form: TargetForm,
    ) -> Result<Option<Answer>, Error> {
        let asked = Asked {
            method: &head.method,
            target: &|| sent_target(head, form),
            body,
        };
        answer_challenges(
            &*self.provider,
            response.headers(),
            &WWW_AUTHENTICATE,
            target,
            &asked,
            |offered| self.next_nonce_count(target, offered),
        )
    }
}

/// The request a challenge was to: its method, its request-target as sent (made
/// only for a Digest answer) and its body (hashed for `qop=auth-int`).
struct Asked<'a> {
    method: &'a Method,
    target: &'a dyn Fn() -> Result<String, Error>,
    body: &'a Body,
}

/// The answer to one of the challenges in the `field` fields of `headers`
/// (`WWW-Authenticate`, or `Proxy-Authenticate` from a proxy), with the credentials
/// `provider` has for `target` and that challenge's realm. Strongest first, as
/// Apache: `Bearer` (a token reveals less than a password), then `Digest` (the
/// password never crosses the wire), then `Basic`; user name and password
/// ([`Credentials::Basic`]) answer both of the last two. `nonce_count` gives a Digest
/// answer's `nc`. `None`: nothing to answer with.
fn answer_challenges(
    provider: &dyn CredentialsProvider,
    headers: &http::HeaderMap,
    field: &http::header::HeaderName,
    target: &AuthScope,
    asked: &Asked<'_>,
    mut nonce_count: impl FnMut(&Challenge) -> u32,
) -> Result<Option<Answer>, Error> {
    let mut challenges = Vec::new();
    for value in headers.get_all(field) {
        challenge::parse(value.as_bytes(), &mut challenges);
    }
    for scheme in ["Bearer", "Digest", "Basic"] {
        for offered in challenges
            .iter()
            .filter(|c| c.scheme.eq_ignore_ascii_case(scheme))
        {
            let mut scope = target.clone();
            scope.realm.clone_from(&offered.realm);
            let Some(credentials) = provider.credentials(&scope) else {
                continue;
            };
            match (scheme, &credentials) {
                ("Digest", Credentials::Basic { username, password }) => {
                    let request_target = (asked.target)()?;
                    let cnonce = digest::client_nonce()?;
                    let nc = nonce_count(offered);
                    let exchange = digest::Exchange {
                        method: asked.method,
                        target: &request_target,
                        body: asked.body,
                    };
                    let Some(text) =
                        digest::authorization(offered, username, password, &exchange, &cnonce, nc)?
                    else {
                        // A challenge asking for what is not supported: another
                        // challenge (Basic, say) may still be answered.
                        continue;
                    };
                    let value = digest_value(&text, offered.latin1, &scope)?;
                    let stale = offered
                        .param("stale")
                        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
                    return Ok(Some(Answer {
                        scheme: "Digest",
                        value,
                        stale,
                        digest: Some(offered.clone()),
                    }));
                }
                (_, credentials) if credentials.scheme() == scheme => {
                    return Ok(Some(Answer {
                        scheme: credentials.scheme(),
                        value: credentials.authorization(&scope)?,
                        stale: false,
                        digest: None,
                    }));
                }
                _ => {}
            }
        }
    }
    Ok(None)
}

/// Answers a proxy's `407` to a `CONNECT` from the client's credentials provider:
/// the proxy's host and port ([`AuthScope::for_proxy`]) and the challenge's realm,
/// the schemes and their order as for a `401`. A Basic answer given is kept per
/// proxy and sent up front with the next `CONNECT` through it (Apache's `AuthCache`),
/// until the proxy refuses it.
pub(crate) struct ProxyAuth {
    provider: Arc<dyn CredentialsProvider>,
    basic: Mutex<HashMap<(String, u16), HeaderValue>>,
}

/// The proxy authenticator, when the builder has a provider: for the manager the
/// builder makes (a `407` to a `CONNECT`) and for the AUTH element (a `407` through
/// a forward proxy).
pub(crate) fn proxy_authenticator(settings: &Settings) -> Option<Arc<ProxyAuth>> {
    let provider = Arc::clone(settings.provider.as_ref()?);
    Some(Arc::new(ProxyAuth {
        provider,
        basic: Mutex::default(),
    }))
}

impl ProxyAuth {
    fn basic(&self) -> MutexGuard<'_, HashMap<(String, u16), HeaderValue>> {
        self.basic.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl ProxyAuth {
    /// The answer to `challenge` for a request with `body` (hashed for a Digest
    /// `qop=auth-int`).
    fn answer_for(
        &self,
        challenge: &ProxyChallenge<'_>,
        body: &Body,
    ) -> Result<Option<HeaderValue>, Error> {
        let proxy = challenge.proxy;
        let key = (proxy.host().to_string(), proxy.port());
        let target = AuthScope::for_proxy(proxy);
        let asked = Asked {
            method: challenge.method,
            target: &|| Ok(challenge.target.to_string()),
            body,
        };
        let answer = answer_challenges(
            &*self.provider,
            challenge.headers,
            &PROXY_AUTHENTICATE,
            &target,
            &asked,
            |_| 1,
        )?;
        let mut kept = self.basic();
        if challenge.sent.is_some() && challenge.sent == kept.get(&key) {
            // The kept answer was refused.
            kept.remove(&key);
        }
        let Some(answer) = answer else {
            return Ok(None);
        };
        // No loop: what was refused is not sent again, nor a Digest answer to the
        // same challenge unless its nonce went stale.
        let refused = challenge.sent.is_some_and(|sent| {
            *sent == answer.value
                || (answer.scheme == "Digest"
                    && !answer.stale
                    && sent.as_bytes().starts_with(b"Digest "))
        });
        if refused {
            return Ok(None);
        }
        if answer.scheme == "Basic" {
            if kept.len() >= MAX_DIGEST_SESSIONS && !kept.contains_key(&key) {
                kept.clear();
            }
            kept.insert(key, answer.value.clone());
        }
        Ok(Some(answer.value))
    }
}

impl ProxyAuthenticator for ProxyAuth {
    fn up_front(&self, proxy: &Proxy) -> Option<HeaderValue> {
        self.basic()
            .get(&(proxy.host().to_string(), proxy.port()))
            .cloned()
    }

    fn answer(&self, challenge: &ProxyChallenge<'_>) -> Result<Option<HeaderValue>, Error> {
        self.answer_for(challenge, &Body::empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn without_a_provider_there_is_no_element() {
        assert!(handler(&Settings::default(), None).is_none());
        let settings = Settings {
            provider: Some(Arc::new(|_: &AuthScope| None)),
            preemptive: false,
        };
        assert!(handler(&settings, None).is_some());
    }
}
