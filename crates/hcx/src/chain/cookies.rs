//! The opt-in cookie store (cargo feature `cookies`), used by the PROTOCOL element.

use std::cell::Cell;
use std::collections::HashMap;
use std::fmt;
use std::sync::Mutex;

use hcx_pool::Clock;
use http::header::{COOKIE, HeaderValue, SET_COOKIE};
use http::{HeaderMap, Uri};
use time::OffsetDateTime;

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
/// secure; a test against `http://localhost` must see what production sees); and, as
/// browsers do (RFC 6265bis §5.7; Apache does not), it is only taken from an `https`
/// response, and a plain `http` one cannot replace or shadow it (a cookie of that name
/// on an overlapping domain, under its path).
///
/// The `Cookie` field lists longer paths first, then the cookies stored earlier (RFC
/// 6265 §5.4; a cookie set again keeps its place), as Apache's
/// `CookiePriorityComparator` orders them. A cookie whose name and value pass 4,096
/// octets is ignored, and a `Path` or `Domain` of more than 1,024 (the attribute, not
/// the cookie), as browsers ignore them. Paths match the request-target as sent
/// (escaped as the codec escapes it).
/// `Expires` dates are read as RFC 6265 §5.1.1 says (any case, `UTC` or `GMT`, a
/// one-digit day), so a deletion written loosely still deletes; values in UTF-8 are
/// kept, and a `Set-Cookie` that is not UTF-8 is read as ISO-8859-1 (a `char` per
/// byte), as Apache reads it: either way the `Cookie` sent back carries the bytes the
/// server set.
///
/// Bounded, for clients that live long and meet many servers: a cookie a server
/// deletes (`Max-Age=0`, an `Expires` in the past) is removed at once, as Apache's
/// `BasicCookieStore.addCookie` removes it; cookies that expire on their own are
/// swept out every [`SWEEP_EVERY`](Self::SWEEP_EVERY) cookies stored (and by
/// [`clear_expired`](Self::clear_expired)). As RFC 6265 §5.3 lets a store evict:
/// past [`max_per_domain`](Self::max_per_domain) cookies of one domain (default 180,
/// as Chromium), that domain's cookie set least recently gives way; past
/// [`max_cookies`](Self::max_cookies) in all (default 3,000, the total §6.1 asks a
/// store to hold at least), the domain whose cookies were sent or set least recently
/// gives up its oldest. A session cookie sent on every request is not what goes.
/// Apache's store has no limit.
///
/// Cookies are kept by domain, so building a request's `Cookie` looks at the domains
/// its host can match (the host and its parent domains), not at every cookie held.
///
/// Shared by reference: keep an `Arc` to read or clear it while the client runs.
pub struct CookieStore {
    store: Mutex<Store>,
}

/// The cookies by domain (the host of a host-only cookie, else its `Domain`), with
/// what eviction needs.
struct Store {
    domains: HashMap<String, DomainCookies>,
    /// Cookies held in all.
    len: usize,
    /// A clock of sets and sends, for "least recently".
    tick: u64,
    /// Cookies stored since the last sweep of expired ones.
    since_sweep: usize,
    max_cookies: usize,
    max_per_domain: usize,
    /// The clock expiry is read on; `None`: the system's wall clock.
    clock: Option<WallClock>,
}

/// A [`Clock`] read as wall time: its instants counted from the wall time it was set at.
struct WallClock {
    clock: Box<dyn Clock>,
    since: std::time::Instant,
    wall: OffsetDateTime,
}

/// When a cookie was stored first (kept when a server sets it again: RFC 6265 §5.3
/// step 11.3, the `Cookie` order's second key) and set last (eviction), in ticks; and
/// when it expires, on the store's clock (`None`: never, while the store lives).
#[derive(Clone, Copy)]
struct Stamps {
    created: u64,
    set: u64,
    expires: Option<OffsetDateTime>,
    /// Whether its `Set-Cookie` was not UTF-8, so was read as ISO-8859-1 (each byte
    /// one `char`), and goes back written the same way.
    latin1: bool,
}

impl Stamps {
    fn expired(&self, now: OffsetDateTime) -> bool {
        self.expires.is_some_and(|at| at <= now)
    }
}

/// The cookies of one domain.
struct DomainCookies {
    cookies: cookie_store::CookieStore,
    /// `(path, name)` → when it was first stored and last set.
    set_at: HashMap<(String, String), Stamps>,
    /// The tick one of its cookies was last set or sent at (a `Cell`: sending marks it
    /// while the cookies are borrowed; the store's mutex guards it).
    used: Cell<u64>,
}

impl Default for CookieStore {
    fn default() -> Self {
        CookieStore {
            store: Mutex::new(Store {
                domains: HashMap::new(),
                len: 0,
                tick: 0,
                since_sweep: 0,
                max_cookies: CookieStore::DEFAULT_MAX_COOKIES,
                max_per_domain: CookieStore::DEFAULT_MAX_PER_DOMAIN,
                clock: None,
            }),
        }
    }
}

impl CookieStore {
    /// The default of [`max_cookies`](Self::max_cookies).
    pub const DEFAULT_MAX_COOKIES: usize = 3000;

    /// The default of [`max_per_domain`](Self::max_per_domain).
    pub const DEFAULT_MAX_PER_DOMAIN: usize = 180;

    /// How many cookies are stored between two sweeps of the expired ones.
    pub const SWEEP_EVERY: usize = 256;

    /// An empty store.
    pub fn new() -> Self {
        CookieStore::default()
    }

    /// With at most `max` cookies in all (0 stores none).
    #[must_use]
    pub fn max_cookies(self, max: usize) -> Self {
        self.lock().max_cookies = max;
        self
    }

    /// With at most `max` cookies per domain (0 stores none).
    #[must_use]
    pub fn max_per_domain(self, max: usize) -> Self {
        self.lock().max_per_domain = max;
        self
    }

    /// Reads the time cookies expire by (`Max-Age`, `Expires`) on `clock`, its instants
    /// counted from the system's wall time when this is called; the default reads the
    /// system's wall clock. Tests move a [`ManualClock`](crate::ManualClock) past a
    /// `Max-Age`. Apache: the `Date` its store and spec are handed.
    #[must_use]
    pub fn clock(self, clock: impl Clock) -> Self {
        let since = clock.now();
        self.lock().clock = Some(WallClock {
            clock: Box::new(clock),
            since,
            wall: OffsetDateTime::now_utc(),
        });
        self
    }

    /// How many cookies it holds (unexpired ones; the expired ones are swept out).
    pub fn len(&self) -> usize {
        let store = self.lock();
        let now = store.now();
        store.domains.values().map(|d| d.live(now).count()).sum()
    }

    /// Whether it holds no unexpired cookie.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Removes the cookies that have expired; `true` if there were any. Apache:
    /// `clearExpired(Date)`.
    pub fn clear_expired(&self) -> bool {
        let mut store = self.lock();
        let now = store.now();
        store.sweep(now) > 0
    }

    /// The cookies a request to `uri` would carry now, as `(name, value)` (a cookie
    /// whose `Set-Cookie` was not UTF-8 read as ISO-8859-1, a `char` per byte).
    pub fn cookies_for(&self, uri: &Uri) -> Vec<(String, String)> {
        let Some(url) = to_url(uri) else {
            return Vec::new();
        };
        let mut store = self.lock();
        store
            .sendable(&url)
            .into_iter()
            .map(|(n, v, _)| (n.to_owned(), v.to_owned()))
            .collect()
    }

    /// Forgets every cookie.
    pub fn clear(&self) {
        let mut store = self.lock();
        store.domains.clear();
        store.len = 0;
    }

    /// The `Cookie` header for a request to `uri`, if any cookie applies.
    pub(crate) fn header_for(&self, uri: &Uri) -> Option<HeaderValue> {
        let url = to_url(uri)?;
        let mut store = self.lock();
        let mut line = Vec::new();
        for (name, value, latin1) in store.sendable(&url) {
            if !line.is_empty() {
                line.extend_from_slice(b"; ");
            }
            line.extend_from_slice(&wire(name, latin1));
            line.push(b'=');
            line.extend_from_slice(&wire(value, latin1));
        }
        drop(store);
        let mut value = (!line.is_empty())
            .then(|| HeaderValue::from_bytes(&line).ok())
            .flatten()?;
        // As AUTH's `Authorization`: no `Debug` of the request (a logging interceptor
        // or handler) shows the cookies.
        value.set_sensitive(true);
        Some(value)
    }

    /// Stores the `Set-Cookie` fields of a response to `uri`, as the client does with
    /// every response: ones that do not parse or do not apply to `uri` are ignored, as
    /// browsers ignore them, and so is one whose `Domain` is a top-level name (`com`)
    /// or a `Secure` one from plain `http`. Apache:
    /// `CookieSpec.parse` then `CookieStore.addCookie`.
    #[doc(alias("addCookie"))]
    pub fn store_from(&self, uri: &Uri, headers: &HeaderMap) {
        let Some(url) = to_url(uri) else {
            return;
        };
        let host = url.host_str().unwrap_or("");
        let secure_channel = url.scheme() == "https";
        let mut store = self.lock();
        let now = store.now();
        for value in headers.get_all(SET_COOKIE) {
            // UTF-8 beyond ASCII is kept, as browsers keep it; other bytes are read as
            // ISO-8859-1, as Apache reads the head, and sent back as they came.
            let (text, latin1) = match std::str::from_utf8(value.as_bytes()) {
                Ok(text) => (std::borrow::Cow::Borrowed(text), false),
                Err(_) => (
                    value.as_bytes().iter().map(|&b| char::from(b)).collect(),
                    true,
                ),
            };
            let text = text.as_ref();
            let Ok(mut cookie) = cookie_store::RawCookie::parse(text) else {
                continue;
            };
            drop_overlong_attributes(&mut cookie);
            drop_invalid_max_age(&mut cookie, text);
            if cookie
                .domain()
                .is_some_and(|domain| !domain_allowed(domain, host))
                || too_large(&cookie, latin1)
                || (!secure_channel && cookie.secure() == Some(true))
            {
                continue;
            }
            // `Max-Age` takes precedence (§5.3 step 3), counted from `now` on the
            // store's clock. `Expires` as RFC 6265 §5.1.1 reads it (a deletion with
            // `UTC`, a one-digit day, lower case), in place of the cookie crate's
            // reading (four exact formats, years before 1601, the first it can read):
            // the last `Expires` that is a date counts (§5.2.1, §5.3 step 3); one that
            // fails the algorithm is ignored. The store keeps the expiry, so the
            // cookie crate's store, which reads the system clock, holds a session
            // cookie.
            let expires = match cookie.max_age() {
                Some(max_age) => now.checked_add(max_age),
                None => attributes(text, "expires").filter_map(dates::parse).last(),
            };
            cookie.set_max_age(None);
            cookie.unset_expires();
            if !secure_channel && store.would_replace_secure(&cookie, &url, now) {
                continue;
            }
            store.insert(&cookie, &url, expires, latin1, now);
        }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Store> {
        // A panic while holding the lock cannot leave the store half-written in a way
        // that matters more than losing cookies: keep going with what is there.
        self.store
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }
}

/// Whether one of two cookie domains domain-matches the other.
fn domains_overlap(a: &str, b: &str) -> bool {
    let under = |sub: &str, parent: &str| {
        sub.len() > parent.len()
            && sub.ends_with(parent)
            && sub.as_bytes()[sub.len() - parent.len() - 1] == b'.'
    };
    a.eq_ignore_ascii_case(b) || under(a, b) || under(b, a)
}

/// RFC 6265 §5.1.4: whether `path` falls under the cookie path `cookie_path`.
fn path_matches(path: &str, cookie_path: &str) -> bool {
    path == cookie_path
        || (path.starts_with(cookie_path)
            && (cookie_path.ends_with('/') || path[cookie_path.len()..].starts_with('/')))
}

/// Whether a cookie is larger than browsers keep (RFC 6265bis §5.7: a name and value
/// of more than 4,096 octets; read as ISO-8859-1 if `latin1`, a `char` an octet).
fn too_large(cookie: &cookie_store::RawCookie<'_>, latin1: bool) -> bool {
    wire(cookie.name(), latin1).len() + wire(cookie.value(), latin1).len() > 4096
}

/// The octets `text` stands for on the wire: its UTF-8, or, for a `Set-Cookie` read as
/// ISO-8859-1 (`latin1`: a `char` an octet, so each is below 256), one octet a `char`.
fn wire(text: &str, latin1: bool) -> std::borrow::Cow<'_, [u8]> {
    if latin1 {
        text.chars()
            .map(|c| u8::try_from(c).unwrap_or(b'?'))
            .collect::<Vec<u8>>()
            .into()
    } else {
        text.as_bytes().into()
    }
}

/// RFC 6265bis §5.6: a `Path` or `Domain` of more than 1,024 octets is ignored (the
/// attribute, not the cookie: a default path, a host-only cookie).
fn drop_overlong_attributes(cookie: &mut cookie_store::RawCookie<'_>) {
    if cookie.path().is_some_and(|p| p.len() > 1024) {
        cookie.unset_path();
    }
    if cookie.domain().is_some_and(|d| d.len() > 1024) {
        cookie.unset_domain();
    }
}

/// Corrects what the `cookie` crate reads differently from RFC 6265: a `Max-Age` whose
/// value is empty or a lone `-` (§5.2.2: ignored; the crate reads forever and 0: the
/// last valid one counts, if any). `Expires` is read again in
/// [`CookieStore::store_from`].
fn drop_invalid_max_age(cookie: &mut cookie_store::RawCookie<'_>, text: &str) {
    // Read again whenever the crate found one: it also takes a lone `-` (read as 0,
    // a deletion) where §5.2.2 has no number, so the last valid one is recounted.
    if cookie.max_age().is_some() {
        let valid = attributes(text, "max-age")
            .filter(|value| {
                let digits = value.strip_prefix('-').unwrap_or(value);
                !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
            })
            .last();
        cookie.set_max_age(valid.map(|value| match value.strip_prefix('-') {
            Some(_) => time::Duration::ZERO,
            None => time::Duration::seconds(value.parse().unwrap_or(i64::MAX)),
        }));
    }
}

/// The values of the attribute `name` (any case) of a `Set-Cookie` text, in order.
fn attributes<'t>(text: &'t str, name: &str) -> impl Iterator<Item = &'t str> {
    text.split(';')
        .skip(1)
        .filter_map(|part| part.split_once('='))
        .filter(move |(key, _)| key.trim().eq_ignore_ascii_case(name))
        .map(|(_, value)| value.trim())
}

impl Store {
    /// The time on the store's clock.
    fn now(&self) -> OffsetDateTime {
        let Some(at) = &self.clock else {
            return OffsetDateTime::now_utc();
        };
        let now = at.clock.now();
        let moved = match now.checked_duration_since(at.since) {
            Some(ahead) => time::Duration::try_from(ahead).ok(),
            None => time::Duration::try_from(at.since.duration_since(now))
                .ok()
                .map(|behind| -behind),
        };
        moved
            .and_then(|moved| at.wall.checked_add(moved))
            .unwrap_or(at.wall)
    }

    /// Whether `cookie`, from a response that did not come over `https`, would replace
    /// a `Secure` cookie of the same name, domain and path: refused (RFC 6265bis §5.7
    /// step 16), or plain http could overwrite what an https site relies on.
    fn would_replace_secure(
        &self,
        cookie: &cookie_store::RawCookie<'_>,
        url: &url::Url,
        now: OffsetDateTime,
    ) -> bool {
        let Ok(parsed) = cookie_store::Cookie::try_from_raw_cookie(cookie, url) else {
            return false;
        };
        // RFC 6265bis §5.7 step 16: not only the same cookie; one of that name on a
        // domain either side of this one, under whose path this one's falls, would be
        // shadowed (longer paths are sent first).
        let domain = String::from(&parsed.domain);
        let path = String::from(&parsed.path);
        self.domains
            .iter()
            .filter(|(held, _)| domains_overlap(held, &domain))
            .any(|(_, cookies)| {
                cookies.live(now).any(|existing| {
                    existing.secure() == Some(true)
                        && existing.name() == parsed.name()
                        && path_matches(&path, &existing.path)
                })
            })
    }

    /// Stores `cookie` from a response to `url`, expiring at `expires` (read as
    /// ISO-8859-1 if `latin1`), within the bounds; one already expired at `now` deletes
    /// the cookie it would replace.
    fn insert(
        &mut self,
        cookie: &cookie_store::RawCookie<'_>,
        url: &url::Url,
        expires: Option<OffsetDateTime>,
        latin1: bool,
        now: OffsetDateTime,
    ) {
        let Ok(parsed) = cookie_store::Cookie::try_from_raw_cookie(cookie, url) else {
            return;
        };
        let domain = String::from(&parsed.domain);
        let key = (String::from(&parsed.path), parsed.name().to_owned());
        if expires.is_some_and(|at| at <= now) {
            // A deletion: removed at once, as Apache's `BasicCookieStore.addCookie`.
            if let Some(cookies) = self.domains.get_mut(&domain) {
                self.len -= cookies.remove(&domain, &key);
                if cookies.set_at.is_empty() {
                    self.domains.remove(&domain);
                }
            }
            return;
        }
        if self.max_cookies == 0 || self.max_per_domain == 0 {
            return;
        }
        let tick = self.tick;
        self.tick += 1;
        let entry = self.domains.entry(domain.clone());
        let cookies = entry.or_insert_with(|| DomainCookies {
            cookies: cookie_store::CookieStore::default(),
            set_at: HashMap::new(),
            used: Cell::new(tick),
        });
        if cookies.cookies.insert(parsed.into_owned(), url).is_ok() {
            cookies.used.set(tick);
            match cookies.set_at.entry(key) {
                std::collections::hash_map::Entry::Occupied(mut stamps) => {
                    let stamps = stamps.get_mut();
                    stamps.set = tick;
                    stamps.expires = expires;
                    stamps.latin1 = latin1;
                }
                std::collections::hash_map::Entry::Vacant(slot) => {
                    slot.insert(Stamps {
                        created: tick,
                        set: tick,
                        expires,
                        latin1,
                    });
                    self.len += 1;
                }
            }
            if cookies.set_at.len() > self.max_per_domain {
                self.len -= cookies.sweep(&domain, now);
            }
            while cookies.set_at.len() > self.max_per_domain {
                self.len -= cookies.evict_oldest(&domain);
            }
            self.since_sweep += 1;
        }
        if self
            .domains
            .get(&domain)
            .is_some_and(|d| d.set_at.is_empty())
        {
            self.domains.remove(&domain);
        }
        if self.since_sweep >= CookieStore::SWEEP_EVERY {
            self.sweep(now);
        }
        while self.len > self.max_cookies {
            let Some(lru) = self
                .domains
                .iter()
                .min_by_key(|(_, d)| d.used.get())
                .map(|(domain, _)| domain.clone())
            else {
                break;
            };
            if let Some(cookies) = self.domains.get_mut(&lru) {
                self.len -= cookies.evict_oldest(&lru);
                if cookies.set_at.is_empty() {
                    self.domains.remove(&lru);
                }
            }
        }
    }

    /// The `(name, value, read as ISO-8859-1)` of the cookies a request to `url`
    /// carries: those of the domains its host can match (itself and its parent
    /// domains) that match it, without the `Secure` ones unless `url` is `https` (the
    /// `cookie_store` crate's match counts loopback hosts as secure, as browsers do;
    /// this filter follows Apache and RFC 6265 §5.4), in RFC 6265 §5.4's order: longer
    /// paths first, then the earlier stored (a server that sets a
    /// name at `/` and at `/app` reads the `/app` one first, as it does from a
    /// browser; Apache's `CookiePriorityComparator`). Marks those domains used.
    fn sendable<'a>(&'a mut self, url: &'a url::Url) -> Vec<(&'a str, &'a str, bool)> {
        let secure_channel = url.scheme() == "https";
        let host = url.host_str().unwrap_or("");
        let now = self.now();
        let tick = self.tick;
        self.tick += 1;
        // One lookup per domain: each found is marked used as it is read.
        let domains = &self.domains;
        let mut found: Vec<(usize, u64, (&str, &str, bool))> = domains_of(host)
            .filter_map(move |domain| domains.get(domain))
            .inspect(move |cookies| cookies.used.set(tick))
            .flat_map(move |cookies| {
                cookies
                    .cookies
                    .matches(url)
                    .into_iter()
                    .map(move |cookie| (cookies, cookie))
            })
            .filter(move |(_, cookie)| secure_channel || cookie.secure() != Some(true))
            .filter_map(move |(cookies, cookie)| {
                let stamps = cookies.stamps(cookie)?;
                let (name, value) = cookie.name_value();
                (!stamps.expired(now)).then_some((
                    cookie.path.len(),
                    stamps.created,
                    (name, value, stamps.latin1),
                ))
            })
            .collect();
        found.sort_by_key(|(path_len, created, _)| (std::cmp::Reverse(*path_len), *created));
        found.into_iter().map(|(_, _, pair)| pair).collect()
    }

    /// Removes every cookie expired at `now`; returns how many.
    fn sweep(&mut self, now: OffsetDateTime) -> usize {
        self.since_sweep = 0;
        let mut removed = 0;
        self.domains.retain(|domain, cookies| {
            removed += cookies.sweep(domain, now);
            !cookies.set_at.is_empty()
        });
        self.len -= removed;
        removed
    }
}

/// The domains whose cookies a request to `host` can carry: the host, then each parent
/// domain (`a.b.test`, `b.test`, `test`).
fn domains_of(host: &str) -> impl Iterator<Item = &str> {
    std::iter::once(host)
        .chain(host.match_indices('.').map(|(i, _)| &host[i + 1..]))
        .filter(|domain| !domain.is_empty())
}

impl DomainCookies {
    /// The stamps of `cookie`, one of its own.
    fn stamps(&self, cookie: &cookie_store::Cookie<'_>) -> Option<&Stamps> {
        self.set_at
            .get(&(String::from(&cookie.path), cookie.name().to_owned()))
    }

    /// Its cookies not expired at `now`.
    fn live(&self, now: OffsetDateTime) -> impl Iterator<Item = &cookie_store::Cookie<'static>> {
        self.cookies
            .iter_any()
            .filter(move |c| self.stamps(c).is_some_and(|s| !s.expired(now)))
    }

    /// Removes the cookie `(path, name)` of `domain`; returns how many it held (0 or 1).
    fn remove(&mut self, domain: &str, key: &(String, String)) -> usize {
        let (path, name) = key;
        self.cookies.remove(domain, path, name);
        usize::from(self.set_at.remove(key).is_some())
    }

    /// Removes the cookie of `domain` set least recently; returns how many it held.
    fn evict_oldest(&mut self, domain: &str) -> usize {
        let oldest = self
            .set_at
            .iter()
            .min_by_key(|(_, at)| at.set)
            .map(|(key, _)| key.clone());
        oldest.map_or(0, |key| self.remove(domain, &key))
    }

    /// Removes the cookies of `domain` expired at `now`; returns how many.
    fn sweep(&mut self, domain: &str, now: OffsetDateTime) -> usize {
        let expired: Vec<(String, String)> = self
            .set_at
            .iter()
            .filter(|(_, stamps)| stamps.expired(now))
            .map(|(key, _)| key.clone())
            .collect();
        expired.iter().map(|key| self.remove(domain, key)).sum()
    }
}

/// Adds the store's cookies to the headers of a request unless the caller set a
/// `Cookie` of their own (Apache's `RequestAddCookies` skips it too), or it is a
/// `TRACE` (its response echoes the request: RFC 9110 §9.3.8) or a `CONNECT`, as
/// Apache skips them; a map with no room left is an
/// [`InvalidRequest`](hcx_exec::ErrorKind::InvalidRequest) error.
pub(crate) fn add_cookies(
    store: &CookieStore,
    method: &http::Method,
    uri: &Uri,
    headers: &mut HeaderMap,
) -> Result<(), hcx_exec::Error> {
    if headers.contains_key(COOKIE) || [http::Method::TRACE, http::Method::CONNECT].contains(method)
    {
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

/// The URL cookies are matched against: the target as the request line carries it
/// (escaped as the codec escapes it), so a cookie scoped to the path the server saw
/// comes back.
fn to_url(uri: &Uri) -> Option<url::Url> {
    let scheme = uri.scheme_str()?;
    let authority = uri.authority()?;
    let target =
        hcx_h1::request_target(&http::Method::GET, uri, hcx_h1::TargetForm::Origin).ok()?;
    url::Url::parse(&format!("{scheme}://{authority}{target}")).ok()
}

impl fmt::Debug for CookieStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let count = self.len();
        f.debug_struct("CookieStore")
            .field("cookies", &count)
            .finish()
    }
}

/// Cookie dates read as RFC 6265 §5.1.1 says user agents read them: tokens in any
/// order and case, a time, a day of the month, a month, a year, anything else ignored.
mod dates {
    use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time};

    /// The date `text` names, or `None` when the algorithm fails it.
    pub(super) fn parse(text: &str) -> Option<OffsetDateTime> {
        let mut time = None;
        let mut day = None;
        let mut month = None;
        let mut year = None;
        for token in text.split(is_delimiter).filter(|t| !t.is_empty()) {
            if time.is_none()
                && let Some(hms) = hms(token)
            {
                time = Some(hms);
                continue;
            }
            if day.is_none()
                && let Some(d) = digits(token, 1, 2)
            {
                day = Some(d);
                continue;
            }
            if month.is_none()
                && let Some(m) = month_of(token)
            {
                month = Some(m);
                continue;
            }
            if year.is_none()
                && let Some(y) = digits(token, 2, 4)
            {
                year = Some(y);
            }
        }
        let (hour, minute, second) = time?;
        let year = match year? {
            y @ 70..=99 => y + 1900,
            y @ 0..=69 => y + 2000,
            y => y,
        };
        if year < 1601 || hour > 23 || minute > 59 || second > 59 {
            return None;
        }
        let date =
            Date::from_calendar_date(i32::try_from(year).ok()?, month?, u8::try_from(day?).ok()?)
                .ok()?;
        let time = Time::from_hms(
            u8::try_from(hour).ok()?,
            u8::try_from(minute).ok()?,
            u8::try_from(second).ok()?,
        )
        .ok()?;
        Some(PrimitiveDateTime::new(date, time).assume_utc())
    }

    /// RFC 6265's delimiter: %x09 / %x20-2F / %x3B-40 / %x5B-60 / %x7B-7E.
    fn is_delimiter(c: char) -> bool {
        matches!(c, '\t' | ' '..='/' | ';'..='@' | '['..='`' | '{'..='~')
    }

    /// `min` to `max` digits at the start of `token`, then nothing or a non-digit.
    fn digits(token: &str, min: usize, max: usize) -> Option<u32> {
        let count = token.bytes().take_while(u8::is_ascii_digit).count();
        if count < min || count > max {
            return None;
        }
        token[..count].parse().ok()
    }

    /// `h:m:s`, each one or two digits, then nothing or a non-digit.
    fn hms(token: &str) -> Option<(u32, u32, u32)> {
        let mut fields = token.splitn(3, ':');
        let hour = fields.next()?;
        let minute = fields.next()?;
        let second = fields.next()?;
        let whole = |field: &str| {
            (1..=2)
                .contains(&field.len())
                .then(|| field.parse().ok())
                .flatten()
        };
        Some((whole(hour)?, whole(minute)?, digits(second, 1, 2)?))
    }

    /// The month its first three letters name, in any case.
    fn month_of(token: &str) -> Option<Month> {
        let name = token.get(..3)?.to_ascii_lowercase();
        Some(match name.as_str() {
            "jan" => Month::January,
            "feb" => Month::February,
            "mar" => Month::March,
            "apr" => Month::April,
            "may" => Month::May,
            "jun" => Month::June,
            "jul" => Month::July,
            "aug" => Month::August,
            "sep" => Month::September,
            "oct" => Month::October,
            "nov" => Month::November,
            "dec" => Month::December,
            _ => return None,
        })
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn the_lenient_forms_browsers_accept() {
            let epoch = Some(OffsetDateTime::UNIX_EPOCH);
            for text in [
                "Thu, 01 Jan 1970 00:00:00 GMT",
                "Thu, 01 Jan 1970 00:00:00 UTC",
                "Thu, 1 Jan 1970 00:00:00 GMT",
                "thu, 01 jan 1970 00:00:00 gmt",
                "Thursday, 01-Jan-70 00:00:00 GMT",
                "Thu Jan  1 00:00:00 1970",
                "1970 january 1 0:0:0",
                // Tokens that match nothing are skipped, multi-byte ones too.
                "\u{e9}\u{e9}\u{e9} 01 Jan 1970 00:00:00",
            ] {
                assert_eq!(parse(text), epoch, "{text}");
            }
            let later = parse("Wed, 21 Oct 2015 07:28:00 GMT").map(|d| d.unix_timestamp());
            assert_eq!(later, Some(1_445_412_480));
        }

        #[test]
        fn what_the_algorithm_fails() {
            for text in [
                "",
                "Thu, 01 Jan 1970",
                "Thu, 32 Jan 1970 00:00:00 GMT",
                "Thu, 31 Feb 2001 00:00:00 GMT",
                "Thu, 01 Jan 1600 00:00:00 GMT",
                "Thu, 01 Jan 1970 24:00:00 GMT",
                "Thu, 01 Foo 1970 00:00:00 GMT",
                "Thu, 001 Jan 1970 00:00:00 GMT",
                "\u{e9}\u{e9}\u{e9}",
            ] {
                assert_eq!(parse(text), None, "{text:?}");
            }
        }
    }
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

    fn set(store: &CookieStore, url: &str, cookies: &[String]) {
        let mut headers = HeaderMap::new();
        for cookie in cookies {
            if let Ok(value) = HeaderValue::from_str(cookie) {
                headers.append(SET_COOKIE, value);
            }
        }
        store.store_from(&url.parse().unwrap_or_default(), &headers);
    }

    /// Entries held, expired ones included.
    fn held(store: &CookieStore) -> usize {
        let store = store.lock();
        let held = store
            .domains
            .values()
            .map(|d| d.cookies.iter_any().count())
            .sum();
        assert_eq!(held, store.len, "the count kept");
        held
    }

    #[test]
    fn a_cookie_the_server_deletes_is_removed_not_kept_expired() {
        let store = CookieStore::new();
        let names: Vec<String> = (0..150).map(|i| format!("c{i}=v; Path=/")).collect();
        set(&store, "http://a.test/", &names);
        assert_eq!((store.len(), held(&store)), (150, 150));
        let deletions: Vec<String> = (0..150)
            .map(|i| format!("c{i}=; Max-Age=0; Path=/"))
            .collect();
        set(&store, "http://a.test/", &deletions);
        assert_eq!((store.len(), held(&store)), (0, 0), "nothing left behind");
        assert!(!store.clear_expired(), "nothing expired to clear");
    }

    #[test]
    fn past_max_cookies_the_least_recently_set_gives_way() {
        let store = CookieStore::new().max_cookies(3);
        let url: Uri = "http://a.test/".parse().unwrap_or_default();
        for name in ["a", "b", "c"] {
            set(&store, "http://a.test/", &[format!("{name}=1; Path=/")]);
        }
        // b is set again: a is now the least recently set.
        set(&store, "http://a.test/", &["b=2; Path=/".to_string()]);
        set(&store, "http://a.test/", &["d=1; Path=/".to_string()]);
        let mut names: Vec<String> = store
            .cookies_for(&url)
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        assert_eq!(names, ["b", "c", "d"]);
        assert_eq!(held(&store), 3);
        // A default path per request path (a cookie set on /items/<id>/view without a
        // Path) is a new cookie each time: still bounded.
        for id in 0..50 {
            set(
                &store,
                &format!("http://a.test/items/{id}/view"),
                &["seen=1".to_string()],
            );
        }
        assert_eq!((store.len(), held(&store)), (3, 3));
        let none = CookieStore::new().max_cookies(0);
        set(&none, "http://a.test/", &["a=1".to_string()]);
        assert!(none.is_empty());
    }

    fn names_for(store: &CookieStore, url: &str) -> Vec<String> {
        let mut names: Vec<String> = store
            .cookies_for(&url.parse().unwrap_or_default())
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        names.sort();
        names
    }

    /// RFC 6265 §5.3's order: a cookie sent on every request is not the first to go,
    /// and one site filling the store evicts its own cookies, not another's.
    #[test]
    fn eviction_spares_what_is_used_and_a_site_cannot_push_out_the_others() {
        let store = CookieStore::new().max_cookies(3).max_per_domain(2);
        set(
            &store,
            "http://api.test/",
            &["session=1; Path=/".to_string()],
        );
        set(&store, "http://b.test/", &["b=1; Path=/".to_string()]);
        // The session cookie is sent: api.test is used more recently than b.test.
        assert_eq!(names_for(&store, "http://api.test/x"), ["session"]);
        set(&store, "http://c.test/", &["c=1; Path=/".to_string()]);
        set(&store, "http://c.test/", &["c2=1; Path=/".to_string()]);
        // Over three in all: b.test, used least recently, gives way.
        assert_eq!(names_for(&store, "http://api.test/"), ["session"]);
        assert!(names_for(&store, "http://b.test/").is_empty());
        // A site setting a cookie per path stays within its own two.
        for id in 0..50 {
            set(
                &store,
                &format!("http://c.test/items/{id}/view"),
                &["seen=1".to_string()],
            );
        }
        assert_eq!(names_for(&store, "http://api.test/"), ["session"]);
        assert_eq!(held(&store), 3);
    }

    /// A `Domain` cookie from one host goes to its sibling hosts; the lookup by
    /// domain finds it from the host's parent domains.
    #[test]
    fn a_domain_cookie_reaches_sibling_hosts_and_host_only_ones_do_not() {
        let store = CookieStore::new();
        set(
            &store,
            "http://a.shop.test/",
            &[
                "wide=1; Domain=shop.test; Path=/".to_string(),
                "narrow=1; Path=/".to_string(),
            ],
        );
        assert_eq!(names_for(&store, "http://a.shop.test/"), ["narrow", "wide"]);
        assert_eq!(names_for(&store, "http://b.a.shop.test/"), ["wide"]);
        assert_eq!(names_for(&store, "http://shop.test/"), ["wide"]);
        assert!(names_for(&store, "http://other.test/").is_empty());
        set(
            &store,
            "http://127.0.0.1:8080/",
            &["ip=1; Path=/".to_string()],
        );
        assert_eq!(names_for(&store, "http://127.0.0.1:8080/"), ["ip"]);
        assert_eq!(held(&store), 3);
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
