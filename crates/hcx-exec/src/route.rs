//! The pool key: where a connection goes, through which proxy, with which TLS identity.

use std::borrow::Cow;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::net::IpAddr;

use hcx_h1::syntax::{authority_host_port, parse_port};
use http::Uri;
use smol_str::{SmolStr, StrExt};

use crate::error::{Error, ErrorKind};
#[cfg(feature = "rustls")]
use crate::tls::TlsIdentity;

/// The scheme of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Plain `http`.
    Http,
    /// `https`: TLS (feature `rustls`).
    Https,
}

impl Scheme {
    /// `"http"` or `"https"`.
    pub fn as_str(self) -> &'static str {
        match self {
            Scheme::Http => "http",
            Scheme::Https => "https",
        }
    }

    /// The port used when a URI gives none: 80 or 443.
    pub fn default_port(self) -> u16 {
        match self {
            Scheme::Http => 80,
            Scheme::Https => 443,
        }
    }
}

/// An HTTP proxy: where it listens, and the Basic credentials it wants, if any.
/// Apache HttpClient: the proxy `HttpHost` of a route, with the credentials of its
/// `AuthScope`.
///
/// `Debug` and `Display` never show the password.
///
/// ```
/// use hcx_exec::Proxy;
/// let proxy = Proxy::new("proxy.internal", 3128).with_basic_auth("svc", "s3cret");
/// assert_eq!(proxy.to_string(), "proxy.internal:3128");
/// assert!(!format!("{proxy:?}").contains("s3cret"));
/// let parsed = Proxy::from_url("http://svc:s3cret@proxy.internal:3128")?;
/// assert_eq!(parsed, proxy);
/// # Ok::<(), hcx_exec::Error>(())
/// ```
#[derive(Clone, PartialEq, Eq, Hash)]
#[doc(alias("HttpHost"))]
pub struct Proxy {
    host: Host,
    port: u16,
    credentials: Option<(String, String)>,
}

impl Proxy {
    /// A proxy at `host:port`, without credentials.
    pub fn new(host: &str, port: u16) -> Self {
        Proxy {
            host: normalize_host(host),
            port,
            credentials: None,
        }
    }

    /// A proxy from a URL as `HTTP_PROXY` holds it: `http://[user:pass@]host[:port]`
    /// (port 80 when absent; a bare `host:port` is read as `http://host:port`, and
    /// may end in `/` but have no path: `http:/proxy:3128` is an error, not host
    /// `http`).
    /// Percent-encoded user and password are decoded. Only `http` proxies are
    /// supported: an `https://` proxy URL is an error.
    pub fn from_url(text: &str) -> Result<Proxy, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidUrl,
                format!("invalid proxy URL {:?}: {why}", redact_userinfo(text)),
            )
        };
        let full;
        let text_with_scheme = if text.contains("://") {
            text
        } else {
            full = format!("http://{text}");
            &full
        };
        let uri: Uri = text_with_scheme
            .parse()
            .map_err(|e| invalid("it does not parse").with_source(e))?;
        match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => {}
            Some(other) => return Err(invalid(&format!("the scheme {other:?} is not supported"))),
            None => return Err(invalid("no scheme")),
        }
        let authority = uri.authority().ok_or_else(|| invalid("no host"))?;
        // A bare `host:port` has no path: one there is a scheme without its `//`
        // (`http:/proxy:3128` would be host `http`, port 80).
        if !text.contains("://")
            && !matches!(
                uri.path_and_query().map(|p| p.as_str()),
                None | Some("" | "/")
            )
        {
            return Err(invalid(
                "it has no '//' after its scheme, or a path after host:port",
            ));
        }
        // An '@' past the authority is a password with a '/', '?' or '#' in it: the
        // authority read would be `user:digits`, the user name taken for the host.
        let start = text_with_scheme.find("://").map_or(0, |i| i + 3);
        if text_with_scheme
            .get(start + authority.as_str().len()..)
            .is_some_and(|rest| rest.contains('@'))
        {
            return Err(Error::new(
                ErrorKind::InvalidUrl,
                "invalid proxy URL (not shown: it may hold a password): an '@' after its \
                 host (a password with a '/', '?' or '#' in it must be percent-encoded)",
            ));
        }
        let (host, port) = host_port(authority.as_str(), 80).map_err(|why| invalid(&why))?;
        let mut proxy = Proxy::new(host, port);
        if let Some((userinfo, _)) = authority.as_str().rsplit_once('@') {
            let (user, pass) = userinfo.split_once(':').unwrap_or((userinfo, ""));
            let decode = |part: &str| {
                String::from_utf8(percent_decode(part))
                    .map_err(|_| invalid("its credentials are not UTF-8 once percent-decoded"))
            };
            proxy = proxy.with_basic_auth(&decode(user)?, &decode(pass)?);
            if proxy.authorization().is_err() {
                return Err(invalid(
                    "its user name holds a ':' once percent-decoded, which Basic \
                     authentication cannot carry (RFC 7617)",
                ));
            }
        }
        if proxy.check().is_err() {
            return Err(invalid(
                "its host is not a host name or IP address (an IPv6 zone, say)",
            ));
        }
        Ok(proxy)
    }

    /// The same proxy with `Proxy-Authorization: Basic` credentials.
    pub fn with_basic_auth(mut self, username: &str, password: &str) -> Self {
        self.credentials = Some((username.to_owned(), password.to_owned()));
        self
    }

    /// The proxy's host (lowercase, IPv6 without brackets).
    pub fn host(&self) -> &str {
        &self.host
    }

    /// The proxy's port.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// Whether credentials are set.
    pub fn has_credentials(&self) -> bool {
        self.credentials.is_some()
    }

    /// A [`Config`](ErrorKind::Config) error for a proxy no request can use: a host
    /// that is no host (empty, with a space, a `/`, an `@`, or a `:` outside an IPv6
    /// literal — `Proxy::new("proxy:3128", 3128)` is the usual slip), or credentials
    /// Basic cannot carry (a user name holding a `:`, where the proxy would split:
    /// RFC 7617 §2). The client builder checks its proxy with it; a request through
    /// one fails with the credentials' error before anything is sent.
    pub fn check(&self) -> Result<(), Error> {
        let host = self.host.as_str();
        let bad = host.is_empty()
            || host
                .bytes()
                .any(|b| b.is_ascii_whitespace() || b"/@[]?#".contains(&b))
            || (host.contains(':') && host.parse::<std::net::Ipv6Addr>().is_err());
        if bad {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the proxy host {:?} is not a host name or IP address (give the \
                     port apart, or use Proxy::from_url)",
                    redact_userinfo(host)
                ),
            ));
        }
        self.authorization().map(drop)
    }

    /// The `Proxy-Authorization` value for the credentials, if any.
    pub(crate) fn authorization(&self) -> Result<Option<http::HeaderValue>, Error> {
        let Some((user, pass)) = self.credentials.as_ref() else {
            return Ok(None);
        };
        if user.contains(':') {
            return Err(Error::new(
                ErrorKind::Config,
                format!(
                    "the user name of the credentials of proxy {self} holds a ':', which \
                     Basic authentication cannot carry (RFC 7617)"
                ),
            ));
        }
        let token = base64(format!("{user}:{pass}").as_bytes());
        // Base64 is always a valid header value.
        let mut value = http::HeaderValue::from_str(&format!("Basic {token}"))
            .map_err(|e| Error::new(ErrorKind::Config, "proxy credentials").with_source(e))?;
        value.set_sensitive(true);
        Ok(Some(value))
    }
}

impl fmt::Display for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        HostPort(&self.host, self.port).fmt(f)
    }
}

impl fmt::Debug for Proxy {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("Proxy");
        d.field("host", &self.host).field("port", &self.port);
        if let Some((user, _)) = &self.credentials {
            d.field("user", user).field("password", &"<redacted>");
        }
        d.finish()
    }
}

/// Where a connection goes: scheme, host and port of the origin, the proxy it goes
/// through, the TLS identity it is made with, and the local address its socket is
/// bound to. The key of the connection pool: a
/// connection leased for one route is never given to another. Apache HttpClient calls
/// this `HttpRoute`.
///
/// The kinds of route:
///
/// | route | connects to | requests |
/// | --- | --- | --- |
/// | `http`, no proxy | the origin | origin-form |
/// | `https`, no proxy | the origin, then TLS | origin-form |
/// | `http` through a proxy | the proxy (the route's host and port are the proxy's: one pool per proxy) | absolute-form, with `Proxy-Authorization` |
/// | `https` through a proxy | the proxy, a `CONNECT` tunnel to the origin, then TLS | origin-form |
///
/// So a tunnel to one origin is never used for another, and a tunnel is never given
/// back as a connection to the proxy. The host is lowercase, an IPv6 literal is kept
/// without its brackets. `Display` prints `https://host:port`, then `via proxy:port`,
/// `(tls: name)` and `from local-address` when they apply.
#[derive(Clone, PartialEq, Eq)]
#[non_exhaustive]
#[doc(alias("HttpRoute"))]
pub struct Route {
    /// The scheme.
    pub scheme: Scheme,
    /// The host name or IP literal, lowercase, IPv6 without brackets (for an `http`
    /// route through a proxy: the proxy's).
    pub host: Host,
    /// The port, the scheme's default when the URI gives none (for an `http` route
    /// through a proxy: the proxy's).
    pub port: u16,
    /// The proxy the connection goes through, if any.
    pub proxy: Option<Proxy>,
    /// The TLS identity of an `https` route.
    #[cfg(feature = "rustls")]
    pub tls: Option<TlsIdentity>,
    /// The local address the connection's socket is bound to before it connects
    /// (to the origin, or to the proxy), or `None` for the system's choice. Only
    /// the target's addresses of the same family are tried. Apache 4.5:
    /// `HttpRoute.getLocalAddress`, set from `RequestConfig.localAddress`.
    pub local_address: Option<IpAddr>,
}

/// The pool hashes the route of every request. The derived hash fed the hasher field
/// by field (each discriminant, the host and its terminator, the port); this feeds it
/// one word (scheme, port, the host's length, which options are set), the host's
/// bytes, then a proxy, a TLS identity and a local address only when set. Every
/// field `Eq` compares is in it, so equal routes hash equally.
impl Hash for Route {
    fn hash<H: Hasher>(&self, state: &mut H) {
        let scheme: u64 = match self.scheme {
            Scheme::Http => 0,
            Scheme::Https => 1,
        };
        #[cfg(feature = "rustls")]
        let tls = self.tls.is_some();
        #[cfg(not(feature = "rustls"))]
        let tls = false;
        state.write_u64(
            u64::from(self.port)
                | scheme << 16
                | u64::from(self.proxy.is_some()) << 17
                | u64::from(tls) << 18
                | u64::from(self.local_address.is_some()) << 19
                | (self.host.len() as u64) << 32,
        );
        state.write(self.host.as_bytes());
        if let Some(proxy) = &self.proxy {
            proxy.hash(state);
        }
        #[cfg(feature = "rustls")]
        if let Some(identity) = &self.tls {
            identity.hash(state);
        }
        if let Some(local) = &self.local_address {
            local.hash(state);
        }
    }
}

impl Route {
    /// A plain `http` route.
    pub fn http(host: &str, port: u16) -> Self {
        Route {
            scheme: Scheme::Http,
            host: normalize_host(host),
            port,
            proxy: None,
            #[cfg(feature = "rustls")]
            tls: None,
            local_address: None,
        }
    }

    /// An `https` route made with `identity`.
    #[cfg(feature = "rustls")]
    pub fn https(host: &str, port: u16, identity: TlsIdentity) -> Self {
        Route {
            scheme: Scheme::Https,
            host: normalize_host(host),
            port,
            proxy: None,
            tls: Some(identity),
            local_address: None,
        }
    }

    /// The direct route of an absolute URI (`http://host[:port]/…`, or `https://…`
    /// with the default [`TlsIdentity`] when the `rustls` feature is on).
    ///
    /// A URI without a scheme or a host, or with another scheme, is an
    /// [`InvalidUrl`](ErrorKind::InvalidUrl) error that shows the URI.
    ///
    /// ```
    /// use hcx_exec::Route;
    /// let route = Route::from_uri(&"http://Example.COM/x".parse()?)?;
    /// assert_eq!(route.to_string(), "http://example.com:80");
    /// let v6 = Route::from_uri(&"http://[::1]:8080/".parse()?)?;
    /// assert_eq!((v6.host.as_str(), v6.port), ("::1", 8080));
    /// assert!(Route::from_uri(&"ftp://example.com/".parse()?).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_uri(uri: &Uri) -> Result<Route, Error> {
        let (scheme, host, port) = origin(uri)?;
        match scheme {
            Scheme::Http => Ok(Route::http(host, port)),
            #[cfg(feature = "rustls")]
            Scheme::Https => Ok(Route::https(host, port, TlsIdentity::webpki_roots())),
            #[cfg(not(feature = "rustls"))]
            Scheme::Https => Err(Error::new(
                ErrorKind::InvalidUrl,
                format!(
                    "cannot send to {}: https needs hcx's `rustls` feature",
                    redact_userinfo(&uri.to_string())
                ),
            )),
        }
    }

    /// The same route through `proxy`: an `http` route becomes the proxy's route (one
    /// pool per proxy, requests in absolute-form); an `https` route keeps its origin
    /// and tunnels through the proxy.
    #[must_use]
    pub fn via(mut self, proxy: Proxy) -> Self {
        if self.scheme == Scheme::Http {
            self.host = proxy.host.clone();
            self.port = proxy.port;
        }
        self.proxy = Some(proxy);
        self
    }

    /// The same route with its connections bound to `local` before they connect
    /// (`None`: the system's choice). A route with a local address is another route:
    /// its connections are pooled apart from those of the same target without one.
    #[must_use]
    pub fn with_local_address(mut self, local: Option<IpAddr>) -> Self {
        self.local_address = local;
        self
    }

    /// The route as the keep-alive strategy keys it: scheme, host, port, and the proxy
    /// of a tunnel.
    pub fn key(&self) -> hcx_reuse::RouteRef<'_> {
        let key = hcx_reuse::RouteRef::new(self.scheme.as_str(), &self.host, self.port);
        match &self.proxy {
            Some(proxy) if self.is_tunnelled() => key.via(&proxy.host, proxy.port),
            _ => key,
        }
    }

    /// Whether requests on this route go to a forward proxy in absolute-form (an
    /// `http` route through a proxy).
    pub fn is_forward_proxy(&self) -> bool {
        self.scheme == Scheme::Http && self.proxy.is_some()
    }

    /// The form of the request-target on this route: absolute-form to a forward
    /// proxy, origin-form otherwise (directly, or through a tunnel).
    pub fn target_form(&self) -> hcx_h1::TargetForm {
        if self.is_forward_proxy() {
            hcx_h1::TargetForm::Absolute
        } else {
            hcx_h1::TargetForm::Origin
        }
    }

    /// Whether this route tunnels through a proxy (an `https` route through one).
    pub fn is_tunnelled(&self) -> bool {
        self.scheme == Scheme::Https && self.proxy.is_some()
    }
}

/// The scheme, host and port of an absolute URI, or an error that shows it.
pub(crate) fn origin(uri: &Uri) -> Result<(Scheme, &str, u16), Error> {
    // `http` reads its standard schemes in any case (in an absolute URI) and gives
    // them back lowercase: an exact match is the common case, and another case or
    // scheme is looked at out of line.
    let scheme = match uri.scheme_str() {
        Some("http") => Scheme::Http,
        Some("https") => Scheme::Https,
        _ => scheme_of_text(uri)?,
    };
    let authority = uri.authority().map_or("", |a| a.as_str());
    let (host, port) =
        host_port(authority, scheme.default_port()).map_err(|why| bad_authority(uri, &why))?;
    Ok((scheme, host, port))
}

/// [`origin`]'s scheme when it is not `http` or `https` exactly: `HTTP` set as a
/// scheme on its own (`http` keeps its text then), another scheme, or none.
#[inline(never)]
fn scheme_of_text(uri: &Uri) -> Result<Scheme, Error> {
    let invalid = |why: &str| cannot_send_to(uri, why);
    Ok(match uri.scheme_str() {
        Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
        Some(s) if s.eq_ignore_ascii_case("https") => Scheme::Https,
        Some(other) => return Err(invalid(&format!("unsupported scheme {other:?}"))),
        None => return Err(invalid("the URI has no scheme (an absolute URI is needed)")),
    })
}

/// The error of a URI that cannot be sent to. A password with a `/` in it ends the
/// authority early: the URI as given would show the rest of it, so it is redacted.
#[cold]
#[inline(never)]
fn cannot_send_to(uri: &Uri, why: &str) -> Error {
    let shown = redact_userinfo(&uri.to_string()).into_owned();
    Error::new(
        ErrorKind::InvalidUrl,
        format!("cannot send to {shown}: {why}"),
    )
}

/// [`cannot_send_to`] for an authority `host_port` refused: digits before a '/' may be
/// the start of a password cut short there, and are not quoted then.
#[cold]
#[inline(never)]
fn bad_authority(uri: &Uri, why: &str) -> Error {
    let text = uri.to_string();
    if redact_userinfo(&text) == text {
        cannot_send_to(uri, why)
    } else {
        cannot_send_to(
            uri,
            "the port is not a port number (a password with a '/' in it must be \
             percent-encoded)",
        )
    }
}

/// An authority's host (an IP literal with its brackets) and port, `default` when it
/// gives none; otherwise why not: no host, or a port that is not a port number.
fn host_port(authority: &str, default: u16) -> Result<(&str, u16), String> {
    let (host, port) = authority_host_port(authority);
    if host.is_empty() {
        return Err("the URI has no host".to_owned());
    }
    let port = match port {
        None | Some("") => default,
        Some(digits) => parse_port(digits).ok_or_else(|| {
            // Quoted only when it is digits: text there may be a password cut short by
            // a `/` in it (`user:pass/word@host`).
            if digits.bytes().all(|b| b.is_ascii_digit()) {
                format!("the port {digits:?} is not a port number")
            } else if host.starts_with('[') {
                "only ':PORT' may follow an IP literal's ']'".to_owned()
            } else {
                "the port is not a number (a password with a '/' in it must be \
                 percent-encoded)"
                    .to_owned()
            }
        })?,
    };
    Ok((host, port))
}

pub(crate) fn normalize_host(host: &str) -> Host {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    if host.bytes().any(|b| b.is_ascii_uppercase()) {
        Host(host.to_ascii_lowercase_smolstr())
    } else {
        Host(SmolStr::new(host))
    }
}

/// A route's host: a name or an IP literal, as [`Route::host`] holds it (lowercase,
/// IPv6 without brackets, when the route's constructors made it). Read it as a `str`
/// (`&*host`, [`as_str`](Self::as_str)); compare it with one (`host == "::1"`).
///
/// Up to 23 bytes it is held inline, so planning the route of a request to an IP
/// address or a short name allocates nothing; a longer name is allocated once and
/// shared by every clone of the route.
///
/// ```
/// use hcx_exec::{Host, Route};
/// let route = Route::http("Example.COM", 80);
/// assert_eq!(route.host, "example.com");
/// assert_eq!(route.host.as_str(), "example.com");
/// assert_eq!(Host::from("api"), "api");
/// ```
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Host(SmolStr);

impl Host {
    /// The host as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl std::ops::Deref for Host {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Host {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl std::borrow::Borrow<str> for Host {
    fn borrow(&self) -> &str {
        &self.0
    }
}

/// As given: no lowercasing, no brackets removed (the route constructors do that).
impl From<&str> for Host {
    fn from(host: &str) -> Self {
        Host(SmolStr::new(host))
    }
}

/// As given: no lowercasing, no brackets removed (the route constructors do that).
impl From<String> for Host {
    fn from(host: String) -> Self {
        Host(SmolStr::from(host))
    }
}

impl From<Host> for String {
    fn from(host: Host) -> Self {
        host.0.into()
    }
}

impl PartialEq<str> for Host {
    fn eq(&self, other: &str) -> bool {
        self.as_str() == other
    }
}

impl PartialEq<&str> for Host {
    fn eq(&self, other: &&str) -> bool {
        self.as_str() == *other
    }
}

impl PartialEq<String> for Host {
    fn eq(&self, other: &String) -> bool {
        self.as_str() == other
    }
}

impl fmt::Debug for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self.as_str(), f)
    }
}

impl fmt::Display for Host {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Where the authority of `text`, a URL or what was meant as one, starts: after its
/// scheme's `://` (a `://` is a scheme's only after a scheme's characters, RFC 3986
/// §3.1, not one in a query), after the `//` of a scheme-relative reference
/// (`//host/`), else at its start.
pub fn authority_start(text: &str) -> usize {
    // A scheme holds no `:`, so its `://` can only be at the first `:` (a few bytes
    // in): no substring searcher set up for every URL a caller passes as text.
    match text.bytes().position(|b| b == b':') {
        Some(i)
            if i > 0
                && text[i..].starts_with("://")
                && text[..i]
                    .bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"+-.".contains(&b)) =>
        {
            i + 3
        }
        _ if text.starts_with("//") => 2,
        _ => 0,
    }
}

/// `text`, a URL or what was meant as one, with its userinfo (`user:password@`)
/// shown as `***@`, for messages, logs and tools. Text that parses as a URI loses the
/// userinfo of its authority only (an `@` in its path or query is kept); text that
/// does not, everything from where its authority starts ([`authority_start`]) to its
/// last `@`, as a password with an unencoded `/`, `?` or `#` may have cut the
/// authority short.
pub fn redact_userinfo(text: &str) -> Cow<'_, str> {
    let start = authority_start(text);
    let end = if parses_with_its_port(text) {
        text[start..]
            .find(['/', '?', '#'])
            .map_or(text.len(), |i| start + i)
    } else {
        text.len()
    };
    match text[start..end].rfind('@') {
        Some(at) => format!("{}***{}", &text[..start], &text[start + at..]).into(),
        None => text.into(),
    }
}

/// Whether `text` parses as a URI whose port, if it names one, is a number (`http`
/// takes any port text: `bob:se` of `http://bob:se/cret@h/` is no port).
fn parses_with_its_port(text: &str) -> bool {
    text.parse::<Uri>().is_ok_and(|uri| {
        uri.authority().is_none_or(|a| {
            let host_port = a.as_str().rsplit_once('@').map_or(a.as_str(), |(_, h)| h);
            let port_text = host_port
                .rfind(':')
                .is_some_and(|i| !host_port[i..].contains(']'));
            !port_text || a.port_u16().is_some()
        })
    })
}

fn percent_decode(text: &str) -> Vec<u8> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (
            bytes[i],
            bytes.get(i + 1).copied(),
            bytes.get(i + 2).copied(),
        ) {
            (b'%', Some(h), Some(l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    out
}

/// Standard base64 with padding (RFC 4648 §4), for `Proxy-Authorization: Basic`.
fn base64(input: &[u8]) -> String {
    const TABLE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for chunk in input.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for k in 0..4 {
            if k <= chunk.len() {
                out.push(TABLE[((n >> (18 - 6 * k)) & 63) as usize] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

/// `host:port` as a URL writes it: an IPv6 literal in brackets (`[::1]:8080`), so
/// that messages read unambiguously.
pub(crate) struct HostPort<'a>(pub(crate) &'a str, pub(crate) u16);

impl fmt::Display for HostPort<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let HostPort(host, port) = self;
        if host.contains(':') {
            write!(f, "[{host}]:{port}")
        } else {
            write!(f, "{host}:{port}")
        }
    }
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.proxy {
            Some(proxy) if self.is_forward_proxy() => write!(f, "http://* via {proxy}")?,
            proxy => {
                let target = HostPort(&self.host, self.port);
                write!(f, "{}://{target}", self.scheme.as_str())?;
                if let Some(proxy) = proxy {
                    write!(f, " via {proxy}")?;
                }
                #[cfg(feature = "rustls")]
                if let Some(tls) = &self.tls
                    && tls.name() != "default"
                {
                    write!(f, " (tls: {})", tls.name())?;
                }
            }
        }
        if let Some(local) = &self.local_address {
            write!(f, " from {local}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn route(uri: &str) -> Result<Route, Error> {
        Route::from_uri(
            &uri.parse::<Uri>()
                .map_err(|e| Error::new(ErrorKind::InvalidUrl, e.to_string()))?,
        )
    }

    #[test]
    fn default_ports_and_lowercase_hosts() -> Result<(), Error> {
        assert_eq!(
            route("http://EXAMPLE.com/a?b")?,
            Route::http("example.com", 80)
        );
        assert_eq!(route("HTTP://h:8080")?.port, 8080);
        assert_eq!(format!("{:?}", route("http://h")?), "http://h:80");
        Ok(())
    }

    #[test]
    fn schemes_parsed_to_a_tag_or_kept_as_text_give_the_same_route() -> Result<(), Error> {
        // Parsed from a whole URI, `http` tags `HTTP` and `https` as standard schemes;
        // set on its own, `HTTP` stays text, which `origin` reads without the tag.
        let text = |scheme: &str| -> Result<Uri, Error> {
            Uri::builder()
                .scheme(scheme)
                .authority("H:81")
                .path_and_query("/")
                .build()
                .map_err(|e| Error::new(ErrorKind::InvalidUrl, e.to_string()))
        };
        for scheme in ["http", "HTTP", "Http"] {
            assert_eq!(Route::from_uri(&text(scheme)?)?, Route::http("h", 81));
        }
        assert_eq!(route("HtTp://H:81/")?, Route::http("h", 81));
        #[cfg(feature = "rustls")]
        for scheme in ["https", "HTTPS"] {
            let https = Route::from_uri(&text(scheme)?)?;
            assert_eq!((https.scheme, https.port), (Scheme::Https, 81));
        }
        let other = Route::from_uri(&text("ftp")?);
        assert!(other.is_err_and(|e| e.to_string().contains("unsupported scheme")));
        Ok(())
    }

    #[test]
    fn userinfo_empty_ports_and_ipv6_literals_split_where_they_should() -> Result<(), Error> {
        assert_eq!(
            route("http://u:p@Host.Example:81/")?,
            Route::http("host.example", 81)
        );
        assert_eq!(route("http://u@[::1]:82/")?, Route::http("::1", 82));
        assert_eq!(route("http://[::1]/")?, Route::http("::1", 80));
        assert_eq!(route("http://h:/")?, Route::http("h", 80));
        // A 23-byte host is held inline, a longer one on the heap: both read the same.
        let long = "a-host-name-longer-than-23-bytes.example";
        assert_eq!(route(&format!("http://{long}/"))?.host, long);
        Ok(())
    }

    #[test]
    fn equal_routes_hash_equally_and_each_field_changes_the_hash() -> Result<(), Error> {
        #[cfg(feature = "rustls")]
        use std::sync::Arc;
        fn hash(route: &Route) -> u64 {
            std::hash::BuildHasher::hash_one(
                &std::hash::BuildHasherDefault::<std::hash::DefaultHasher>::default(),
                route,
            )
        }
        let base = route("http://h.example:8080/")?;
        let same = [
            route("http://H.Example:8080/x")?,
            route("http://u:p@h.example:8080/")?,
            Route::http("h.example", 8080),
        ];
        for other in &same {
            assert_eq!((other, hash(other)), (&base, hash(&base)));
        }
        let proxy = Proxy::new("proxy", 3128);
        #[allow(unused_mut)] // Without `rustls`: no TLS identity to add.
        let mut different = Vec::from([
            route("http://h.example:8081/")?,
            route("http://h.example/")?,
            route("http://h.exampl:8080/")?,
            route("http://h.example.:8080/")?,
            route("http://[::1]:8080/")?,
            base.clone().via(proxy.clone()),
            base.clone().via(proxy.clone().with_basic_auth("u", "p")),
            base.clone().via(Proxy::new("proxy", 3129)),
        ]);
        #[cfg(feature = "rustls")]
        {
            let https = route("https://h.example:8080/")?;
            let mut named = https.clone();
            named.tls = https
                .tls
                .as_ref()
                .map(|identity| TlsIdentity::new("other", Arc::clone(identity.config())));
            let mut without = https.clone();
            without.tls = None;
            let mut own_config = https.clone();
            own_config.tls = https.tls.as_ref().map(|identity| {
                TlsIdentity::new(identity.name(), Arc::new((**identity.config()).clone()))
            });
            different.push(own_config);
            different.extend([https.clone(), named, without, https.via(proxy)]);
        }
        for (i, a) in different.iter().enumerate() {
            assert_ne!((a, hash(a)), (&base, hash(&base)), "{a:?}");
            for b in &different[i + 1..] {
                assert_ne!(hash(a), hash(b), "{a:?} and {b:?}");
            }
        }
        Ok(())
    }

    #[test]
    fn a_port_beyond_65535_is_an_error_not_the_default_port() {
        let error = route("http://h:65536/").err().map(|e| e.kind());
        assert_eq!(error, Some(ErrorKind::InvalidUrl));
    }

    #[test]
    fn ipv6_literals_lose_their_brackets_and_print_with_them() -> Result<(), Error> {
        let r = route("http://[::1]:9/")?;
        assert_eq!(r.host, "::1");
        assert_eq!(r.to_string(), "http://[::1]:9");
        Ok(())
    }

    #[test]
    fn a_local_address_makes_another_route_and_is_shown() -> Result<(), Error> {
        use std::collections::hash_map::DefaultHasher;
        let local = IpAddr::from([127, 0, 0, 1]);
        let plain = route("http://a.test/")?;
        let bound = plain.clone().with_local_address(Some(local));
        assert_ne!(plain, bound);
        assert_eq!(bound.to_string(), "http://a.test:80 from 127.0.0.1");
        let hash = |r: &Route| {
            let mut h = DefaultHasher::new();
            r.hash(&mut h);
            h.finish()
        };
        assert_eq!(hash(&bound), hash(&bound.clone()));
        assert_ne!(hash(&plain), hash(&bound));
        let proxied = bound.via(Proxy::new("proxy.test", 3128));
        assert_eq!(
            proxied.to_string(),
            "http://* via proxy.test:3128 from 127.0.0.1"
        );
        Ok(())
    }

    #[test]
    fn unsupported_and_relative_uris_are_refused_and_shown() {
        let e = route("ftp://example.com/").err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("ftp://example.com/") && m.contains("ftp")));
        assert!(route("/relative").is_err_and(|e| e.kind() == ErrorKind::InvalidUrl));
    }

    #[cfg(feature = "rustls")]
    #[test]
    fn https_routes_carry_the_default_identity() -> Result<(), Error> {
        let r = route("https://Example.com/x")?;
        assert_eq!((r.scheme, r.port), (Scheme::Https, 443));
        assert_eq!(r.tls.as_ref().map(TlsIdentity::name), Some("default"));
        assert_eq!(r, route("https://example.com:443/y")?);
        Ok(())
    }

    #[test]
    fn a_forward_proxy_route_is_the_proxy_s_and_a_tunnel_keeps_its_origin() -> Result<(), Error> {
        let proxy = Proxy::new("proxy", 3128);
        let a = route("http://a.test/")?.via(proxy.clone());
        let b = route("http://b.test:8080/")?.via(proxy.clone());
        assert_eq!(a, b, "one pool per forward proxy");
        assert!(a.is_forward_proxy() && !a.is_tunnelled());
        assert_eq!(a.to_string(), "http://* via proxy:3128");
        #[cfg(feature = "rustls")]
        {
            let ta = route("https://a.test/")?.via(proxy.clone());
            let tb = route("https://b.test/")?.via(proxy);
            assert_ne!(ta, tb, "a tunnel to a is not one to b");
            assert_ne!(ta, a, "a tunnel is not a connection to the proxy");
            assert!(ta.is_tunnelled());
            assert_eq!(ta.to_string(), "https://a.test:443 via proxy:3128");
            let direct = route("https://a.test/")?;
            assert_ne!(ta.key(), direct.key(), "a tunnel learns its own idle limit");
            assert_eq!(ta.key().to_string(), "https://a.test:443 via proxy:3128");
            assert_eq!(direct.key().to_string(), "https://a.test:443");
        }
        // A forward-proxy route is keyed as the proxy's: its packets go there.
        assert_eq!(a.key().to_string(), "http://proxy:3128");
        Ok(())
    }

    #[test]
    fn redaction_hides_userinfo_and_nothing_else() {
        for (text, shown) in [
            ("http://u:p@host/a@b", "http://***@host/a@b"),
            (
                "https://example.com/login?email=a@b.example",
                "https://example.com/login?email=a@b.example",
            ),
            ("/x?u=a@b", "/x?u=a@b"),
            // Not a URI: up to the last '@', which may end a password with a '/' in it.
            ("http://bob:se/cret@h/", "http://***@h/"),
            // A '://' after the '@' is no scheme's.
            (
                "bob:hunter2@proxy:3128/?next=http://x",
                "***@proxy:3128/?next=http://x",
            ),
            // Scheme-relative: the authority starts after the `//`.
            ("//bob:hunter2@proxy:3128/", "//***@proxy:3128/"),
            ("//bob:hunter2@proxy:3128", "//***@proxy:3128"),
        ] {
            assert_eq!(redact_userinfo(text), shown, "{text}");
        }
    }

    #[test]
    fn the_authority_starts_after_a_schemes_slashes_only() {
        for (text, start) in [
            ("http://h/", 7),
            ("svn+ssh://h", 10),
            ("h:8080/x", 0),
            ("localhost:8080/?next=http://x", 0),
            ("a:b://c", 0),
            ("://h", 0),
            ("h ttp://x", 0),
            ("//h/x", 2),
            ("//x://y", 2),
            ("/x?u=http://y", 0),
            ("http:/h", 0),
            ("", 0),
        ] {
            assert_eq!(authority_start(text), start, "{text}");
        }
    }

    #[test]
    fn proxy_urls_parse_with_credentials_and_never_show_the_password() -> Result<(), Error> {
        let p = Proxy::from_url("http://us%40er:p%3Ass@Proxy.Corp:8080")?;
        assert_eq!((p.host(), p.port()), ("proxy.corp", 8080));
        assert!(p.has_credentials());
        let header = p
            .authorization()?
            .map(|v| v.to_str().unwrap_or("").to_owned());
        // base64("us@er:p:ss")
        assert_eq!(header.as_deref(), Some("Basic dXNAZXI6cDpzcw=="));
        assert_eq!(Proxy::from_url("proxy:3128")?, Proxy::new("proxy", 3128));
        assert_eq!(Proxy::from_url("http://proxy")?.port(), 80);
        let e = Proxy::from_url("https://u:secret@proxy:443")
            .err()
            .map(|e| e.to_string());
        assert!(
            e.is_some_and(|m| m.contains("https") && !m.contains("secret")),
            "redacted"
        );
        assert!(Proxy::from_url("http://").is_err());
        // Not port 80 in disguise.
        assert!(Proxy::from_url("http://proxy:70000").is_err());
        Ok(())
    }

    /// A scheme missing its `//` (`http:/proxy:3128`, `http//proxy:3128`) is read as a
    /// bare `host:port`: the scheme would be the host (`http`, port 80), the proxy
    /// the path. Refused; a bare `host:port` with a trailing `/` is still taken.
    #[test]
    fn a_proxy_url_with_a_mangled_scheme_is_refused_not_read_as_host_http() -> Result<(), Error> {
        for text in ["http:/proxy:3128", "http//proxy:3128", "http:proxy/x"] {
            let read = Proxy::from_url(text).map(|p| p.to_string());
            assert!(read.is_err(), "{text:?} was read as {read:?}");
        }
        assert_eq!(Proxy::from_url("proxy:3128/")?, Proxy::new("proxy", 3128));
        assert_eq!(
            Proxy::from_url("http://proxy:3128/x")?,
            Proxy::new("proxy", 3128)
        );
        Ok(())
    }

    #[test]
    fn base64_follows_rfc_4648() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected);
        }
    }
}
