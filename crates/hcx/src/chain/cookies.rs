//! The opt-in cookie store (cargo feature `cookies`), used by the PROTOCOL element.

use std::fmt;
use std::sync::Mutex;

use http::header::{COOKIE, HeaderValue, SET_COOKIE};
use http::{HeaderMap, Uri};

/// Cookies received from servers, sent back where they apply (RFC 6265 domain, path,
/// secure and expiry rules, by the `cookie_store` crate). Apache HttpClient:
/// `CookieStore` / `BasicCookieStore`, which Apache turns on by default; backend
/// callers rarely want cookies shared across requests, so hcx leaves it off until
/// [`ClientBuilder::cookie_store`](crate::ClientBuilder::cookie_store) (feature
/// `cookies`). Without the public-suffix list: a cookie naming a top-level domain
/// (`Domain=com`) is refused, as curl refuses it, but a server can still set one for
/// a public suffix of two labels or more above its own name (`Domain=co.uk` from
/// `a.co.uk`), which Apache's list-based filter would refuse.
///
/// A `Secure` cookie goes only over `https`, as RFC 6265 §5.4 and Apache's
/// `BasicSecureHandler` say, loopback hosts included (browsers count `localhost` as
/// secure; a test against `http://localhost` must see what production sees).
///
/// Shared by reference: keep an `Arc` to read or clear it while the client runs.
#[derive(Default)]
pub struct CookieStore {
    store: Mutex<cookie_store::CookieStore>,
}

impl CookieStore {
    /// An empty store.
    pub fn new() -> Self {
        CookieStore::default()
    }

    /// The cookies a request to `uri` would carry now, as `(name, value)`.
    pub fn cookies_for(&self, uri: &Uri) -> Vec<(String, String)> {
        let Some(url) = to_url(uri) else {
            return Vec::new();
        };
        let store = self.lock();
        sendable(&store, &url)
            .map(|(n, v)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    /// Forgets every cookie.
    pub fn clear(&self) {
        self.lock().clear();
    }

    /// The `Cookie` header for a request to `uri`, if any cookie applies.
    pub(crate) fn header_for(&self, uri: &Uri) -> Option<HeaderValue> {
        let url = to_url(uri)?;
        let store = self.lock();
        let mut line = String::new();
        for (name, value) in sendable(&store, &url) {
            if !line.is_empty() {
                line.push_str("; ");
            }
            line.push_str(name);
            line.push('=');
            line.push_str(value);
        }
        drop(store);
        let mut value = (!line.is_empty())
            .then(|| HeaderValue::from_str(&line).ok())
            .flatten()?;
        // As AUTH's `Authorization`: no `Debug` of the request (a logging interceptor
        // or handler) shows the cookies.
        value.set_sensitive(true);
        Some(value)
    }

    /// Stores the `Set-Cookie` fields of a response to `uri`; ones that do not parse
    /// or do not apply to `uri` are ignored, as browsers ignore them, and so is one
    /// whose `Domain` is a top-level name ([`domain_allowed`]).
    pub(crate) fn store_from(&self, uri: &Uri, headers: &HeaderMap) {
        let Some(url) = to_url(uri) else {
            return;
        };
        let host = url.host_str().unwrap_or("");
        let mut store = self.lock();
        for value in headers.get_all(SET_COOKIE) {
            let Ok(text) = value.to_str() else { continue };
            let Ok(cookie) = cookie_store::RawCookie::parse(text) else {
                continue;
            };
            if cookie
                .domain()
                .is_some_and(|domain| !domain_allowed(domain, host))
            {
                continue;
            }
            let _ = store.insert_raw(&cookie, &url);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, cookie_store::CookieStore> {
        // A panic while holding the lock cannot leave the store half-written in a way
        // that matters more than losing cookies: keep going with what is there.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Adds the store's cookies to `headers` unless the caller set a `Cookie` of their own;
/// a map with no room left is an [`InvalidRequest`](hcx_exec::ErrorKind::InvalidRequest)
/// error.
pub(crate) fn add_cookies(
    store: &CookieStore,
    uri: &Uri,
    headers: &mut HeaderMap,
) -> Result<(), hcx_exec::Error> {
    if headers.contains_key(COOKIE) {
        return Ok(());
    }
    if let Some(value) = store.header_for(uri) {
        headers.try_insert(COOKIE, value)?;
    }
    Ok(())
}

/// Whether a cookie from `host` may name `domain` in its `Domain` attribute, beyond
/// the store's own rule (the domain must be `host` or a suffix of it). Without the
/// public-suffix list, curl's rule: a domain without an inner dot (`com`, `test`) is a
/// top-level name no site owns, allowed only as the host itself (`localhost`).
/// RFC 6265 §5.3 step 5 refuses public suffixes, `com` its example.
fn domain_allowed(domain: &str, host: &str) -> bool {
    let domain = domain.strip_prefix('.').unwrap_or(domain);
    let domain = domain.strip_suffix('.').unwrap_or(domain);
    domain.contains('.') || domain.eq_ignore_ascii_case(host)
}

fn to_url(uri: &Uri) -> Option<url::Url> {
    url::Url::parse(&uri.to_string()).ok()
}

impl fmt::Debug for CookieStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.lock().iter_unexpired().count();
        f.debug_struct("CookieStore")
            .field("cookies", &count)
            .finish()
    }
}

/// The `(name, value)` of the cookies a request to `url` carries: those the store
/// matches, without the `Secure` ones unless `url` is `https` (the store counts
/// loopback hosts as secure, as browsers do; Apache and RFC 6265 §5.4 do not).
fn sendable<'a>(
    store: &'a cookie_store::CookieStore,
    url: &url::Url,
) -> impl Iterator<Item = (&'a str, &'a str)> {
    let secure_channel = url.scheme() == "https";
    store
        .matches(url)
        .into_iter()
        .filter(move |cookie| secure_channel || cookie.secure() != Some(true))
        .map(|cookie| cookie.name_value())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cookies_go_back_to_their_origin_and_path_only() {
        let store = CookieStore::new();
        let mut headers = HeaderMap::new();
        headers.append(
            SET_COOKIE,
            HeaderValue::from_static("session=abc; Path=/app"),
        );
        // No Path: the default is the request path's directory, /app (RFC 6265 §5.1.4).
        headers.append(SET_COOKIE, HeaderValue::from_static("lang=en"));
        headers.append(SET_COOKIE, HeaderValue::from_static("theme=dark; Path=/"));
        headers.append(SET_COOKIE, HeaderValue::from_static("not a cookie"));
        let origin: Uri = "http://a.test/app/login".parse().unwrap_or_default();
        store.store_from(&origin, &headers);
        let app: Uri = "http://a.test/app/page".parse().unwrap_or_default();
        let line = store
            .header_for(&app)
            .map(|v| v.to_str().unwrap_or("").to_owned());
        let line = line.unwrap_or_default();
        assert!(
            ["session=abc", "lang=en", "theme=dark"]
                .iter()
                .all(|c| line.contains(c)),
            "{line}"
        );
        let other_path: Uri = "http://a.test/other".parse().unwrap_or_default();
        assert_eq!(
            store.cookies_for(&other_path),
            vec![("theme".into(), "dark".into())]
        );
        let other_host: Uri = "http://b.test/app/page".parse().unwrap_or_default();
        assert!(store.header_for(&other_host).is_none());
        store.clear();
        assert!(store.cookies_for(&app).is_empty());
    }

    #[test]
    fn top_level_domains_are_refused_unless_they_are_the_host() {
        assert!(!domain_allowed("com", "evil.com"));
        assert!(!domain_allowed(".com", "evil.com"));
        assert!(!domain_allowed("com.", "evil.com"));
        assert!(!domain_allowed("test", "www.evil.test"));
        assert!(domain_allowed("evil.com", "www.evil.com"));
        assert!(domain_allowed(".evil.com", "www.evil.com"));
        assert!(domain_allowed("localhost", "localhost"));
        assert!(domain_allowed("LocalHost", "localhost"));
    }
}
