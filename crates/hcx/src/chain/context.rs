//! The state of one execution that handlers share.

use std::fmt;

use hcx_exec::UserToken;
use http::{Extensions, Uri};

/// What the handlers of one execution share, and what the caller can read afterwards
/// ([`Client::execute_in`](crate::Client::execute_in)). Apache HttpClient 5:
/// `HttpClientContext`.
///
/// ```
/// use hcx::chain::Context;
/// let mut context = Context::new();
/// context.user_token = Some(hcx::UserToken::new("alice"));
/// context.attributes.insert(42u32);
/// assert_eq!(context.attributes.get::<u32>(), Some(&42));
/// assert!(context.redirect_locations().is_empty());
/// ```
#[derive(Default)]
#[non_exhaustive]
#[doc(alias("HttpClientContext", "HttpContext"))]
pub struct Context {
    /// The user token connections are leased with and released under: a connection
    /// bound to one token is preferred for, and given only to, requests with that
    /// token. Set it before the request (a connection authenticated as one user), or
    /// let a [`UserTokenHandler`](crate::UserTokenHandler) set it. Apache:
    /// `setUserToken` / `HttpClientContext.USER_TOKEN`.
    pub user_token: Option<UserToken>,
    /// Anything a handler of yours wants to pass to another, by type. Apache:
    /// `setAttribute(name, value)`.
    pub attributes: Extensions,
    redirect_locations: Vec<Uri>,
    attempts: u32,
}

impl Context {
    /// An empty context.
    pub fn new() -> Self {
        Context::default()
    }

    /// The locations followed by the redirect layer, in order: those of its last call
    /// (a handler above it that sends a second request sees that one's). Apache:
    /// `getRedirectLocations`.
    pub fn redirect_locations(&self) -> &[Uri] {
        &self.redirect_locations
    }

    /// How many times the request of the current hop was sent (1 without a retry).
    pub fn attempts(&self) -> u32 {
        self.attempts
    }

    /// A new execution starts with no redirect locations (Apache clears them too).
    pub(crate) fn clear_redirects(&mut self) {
        self.redirect_locations.clear();
    }

    pub(crate) fn push_redirect(&mut self, location: Uri) {
        self.redirect_locations.push(location);
    }

    pub(crate) fn set_attempts(&mut self, attempts: u32) {
        self.attempts = attempts;
    }
}

impl fmt::Debug for Context {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Context")
            .field("user_token", &self.user_token)
            .field("redirect_locations", &self.redirect_locations)
            .field("attempts", &self.attempts)
            .finish_non_exhaustive()
    }
}
