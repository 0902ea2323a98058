//! Route planning: which route (direct, through which proxy, with which TLS identity)
//! a request URI takes.

use std::fmt;
use std::net::IpAddr;

use http::Uri;

use crate::error::{Error, ErrorKind};
use crate::route::{Proxy, Route, Scheme, normalize_host, origin};
#[cfg(feature = "rustls")]
use crate::tls::TlsIdentity;

/// Decides the route of a request: direct, or through a proxy. Apache HttpClient:
/// `HttpRoutePlanner` (`DefaultRoutePlanner`, `DefaultProxyRoutePlanner`,
/// `SystemDefaultRoutePlanner`). Asked for every request and every redirect hop. Any
/// `Fn(&Uri) -> Result<Route, Error> + Send + Sync` closure is one.
#[doc(alias("HttpRoutePlanner"))]
pub trait RoutePlanner: Send + Sync {
    /// The route for a request to `uri` (absolute).
    fn plan(&self, uri: &Uri) -> Result<Route, Error>;
}

impl<F> RoutePlanner for F
where
    F: Fn(&Uri) -> Result<Route, Error> + Send + Sync,
{
    fn plan(&self, uri: &Uri) -> Result<Route, Error> {
        self(uri)
    }
}

/// Direct routes, or every route through one proxy; `https` routes with one TLS
/// identity. The default planner (with no proxy). Apache: `DefaultRoutePlanner` /
/// `DefaultProxyRoutePlanner`.
#[derive(Clone)]
#[doc(alias("DefaultProxyRoutePlanner"))]
pub struct DefaultRoutePlanner {
    proxy: Option<Proxy>,
    #[cfg(feature = "rustls")]
    tls: TlsIdentity,
}

impl DefaultRoutePlanner {
    /// Direct routes, the default TLS identity.
    pub fn new() -> Self {
        DefaultRoutePlanner {
            proxy: None,
            #[cfg(feature = "rustls")]
            tls: TlsIdentity::webpki_roots(),
        }
    }

    /// Every route through `proxy`.
    #[must_use]
    pub fn with_proxy(mut self, proxy: Proxy) -> Self {
        self.proxy = Some(proxy);
        self
    }

    /// `https` routes made with `identity`.
    #[cfg(feature = "rustls")]
    #[must_use]
    pub fn with_tls(mut self, identity: TlsIdentity) -> Self {
        self.tls = identity;
        self
    }

    /// The direct route of `uri` with this planner's TLS identity.
    fn direct(&self, uri: &Uri) -> Result<Route, Error> {
        let (scheme, host, port) = origin(uri)?;
        match scheme {
            Scheme::Http => Ok(Route::http(host, port)),
            #[cfg(feature = "rustls")]
            Scheme::Https => Ok(Route::https(host, port, self.tls.clone())),
            #[cfg(not(feature = "rustls"))]
            Scheme::Https => Route::from_uri(uri),
        }
    }
}

impl Default for DefaultRoutePlanner {
    fn default() -> Self {
        Self::new()
    }
}

impl RoutePlanner for DefaultRoutePlanner {
    fn plan(&self, uri: &Uri) -> Result<Route, Error> {
        // Without a proxy the direct route is returned as it came, not taken out of
        // its `Result` and put back into a new one.
        match &self.proxy {
            Some(proxy) => Ok(self.direct(uri)?.via(proxy.clone())),
            None => self.direct(uri),
        }
    }
}

impl fmt::Debug for DefaultRoutePlanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut d = f.debug_struct("DefaultRoutePlanner");
        d.field("proxy", &self.proxy);
        #[cfg(feature = "rustls")]
        d.field("tls", &self.tls);
        d.finish()
    }
}

/// Proxies from the environment, as curl, Go and Apache's `SystemDefaultRoutePlanner`
/// read them: `http_proxy` for `http` URLs, `https_proxy` for `https` ones,
/// `all_proxy` for both when the specific one is unset, `no_proxy` for the hosts that
/// go direct; each also in upper case (the lower-case name wins when both are set). As
/// Go does, `HTTP_PROXY` is ignored when `REQUEST_METHOD` is set (a CGI environment,
/// where a request's `Proxy:` header lands in `HTTP_PROXY`: "httpoxy"); on Windows,
/// whose variable names are case-insensitive, [`from_env`](Self::from_env) then
/// ignores `http_proxy` too (it is the same variable).
///
/// `no_proxy` is a list, apart by commas or blanks: `*` (everything direct); a host
/// name, which matches itself and its subdomains (`example.com` and `.example.com`
/// both match `api.example.com`; a trailing dot on either side is ignored; never an
/// IP address, as in curl); an IP address; a CIDR block (`10.0.0.0/8`, `fd00::/8` or
/// `[fd00::]/8`); any of them with `:port` to match that port only. Case-insensitive.
///
/// Read once, when built ([`from_env`](Self::from_env)), or from any source of
/// variables ([`from_vars`](Self::from_vars), for tests and configuration files).
///
/// ```
/// use hcx_exec::{EnvProxyRoutePlanner, RoutePlanner};
/// let planner = EnvProxyRoutePlanner::from_vars(|name| match name {
///     "HTTP_PROXY" => Some("http://proxy.corp:3128".into()),
///     "NO_PROXY" => Some("localhost,.internal,10.0.0.0/8".into()),
///     _ => None,
/// })?;
/// let proxied = planner.plan(&"http://example.com/".parse()?)?;
/// assert_eq!(proxied.proxy.map(|p| p.to_string()).as_deref(), Some("proxy.corp:3128"));
/// let direct = planner.plan(&"http://api.internal/".parse()?)?;
/// assert!(direct.proxy.is_none());
/// assert!(planner.plan(&"http://10.1.2.3/".parse()?)?.proxy.is_none());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone)]
#[doc(alias("SystemDefaultRoutePlanner"))]
pub struct EnvProxyRoutePlanner {
    http: Option<Proxy>,
    https: Option<Proxy>,
    no_proxy: NoProxy,
    direct: DefaultRoutePlanner,
}

/// The variables as `from_vars` reads them from an environment that looks names up
/// case-insensitively or not. Where it does (Windows), `http_proxy` under CGI is the
/// `HTTP_PROXY` a request's `Proxy:` header set ("httpoxy"), so it is not read.
fn cgi_safe(
    case_insensitive: bool,
    var: impl Fn(&str) -> Option<String>,
) -> impl Fn(&str) -> Option<String> {
    let cgi = case_insensitive && var("REQUEST_METHOD").is_some();
    move |name| {
        if cgi && name == "http_proxy" {
            return None;
        }
        var(name)
    }
}

impl EnvProxyRoutePlanner {
    /// Reads the process environment now.
    pub fn from_env() -> Result<Self, Error> {
        Self::from_vars(cgi_safe(cfg!(windows), |name| std::env::var(name).ok()))
    }

    /// Reads the variables from `var` (the value of a name, or `None` when unset).
    /// An empty value counts as unset; `all_proxy` is read only when `http_proxy` or
    /// `https_proxy` is unset. A proxy URL that does not parse is an
    /// [`InvalidUrl`](crate::ErrorKind::InvalidUrl) error; a `no_proxy` entry in the
    /// JVM's `http.nonProxyHosts` syntax (`localhost|127.*`: a `|`, or a `*` other
    /// than a leading `*.` or a lone `*`) is a [`Config`](crate::ErrorKind::Config)
    /// error, as it would match nothing here and be ignored silently.
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, Error> {
        let get = |lower: &str, upper: &str| {
            var(lower)
                .filter(|v| !v.trim().is_empty())
                .or_else(|| var(upper).filter(|v| !v.trim().is_empty()))
        };
        let cgi = var("REQUEST_METHOD").is_some();
        let http_var = if cgi {
            var("http_proxy").filter(|v| !v.trim().is_empty())
        } else {
            get("http_proxy", "HTTP_PROXY")
        };
        let https_var = get("https_proxy", "HTTPS_PROXY");
        let parse = |v: Option<String>| v.map(|v| Proxy::from_url(v.trim())).transpose();
        // `all_proxy` is only the fallback: read (and refused if unusable, a socks URL)
        // only when a scheme has no proxy of its own.
        let all_proxy = if http_var.is_none() || https_var.is_none() {
            parse(get("all_proxy", "ALL_PROXY"))?
        } else {
            None
        };
        let http = parse(http_var)?.or_else(|| all_proxy.clone());
        let https = parse(https_var)?.or(all_proxy);
        let no_proxy = NoProxy::parse(&get("no_proxy", "NO_PROXY").unwrap_or_default())?;
        Ok(EnvProxyRoutePlanner {
            http,
            https,
            no_proxy,
            direct: DefaultRoutePlanner::new(),
        })
    }

    /// `https` routes made with `identity` (the default identity otherwise).
    #[cfg(feature = "rustls")]
    #[must_use]
    pub fn with_tls(mut self, identity: TlsIdentity) -> Self {
        self.direct = self.direct.with_tls(identity);
        self
    }

    /// The proxies the environment names: for `http` URLs, then for `https` URLs
    /// (one listed once when both are the same; none when neither is set): to give
    /// each its credentials, say (`hcx::chain::AuthScope::for_proxy`).
    ///
    /// ```
    /// use hcx_exec::EnvProxyRoutePlanner;
    /// let planner = EnvProxyRoutePlanner::from_vars(|name| match name {
    ///     "http_proxy" => Some("http://proxy.corp:3128".into()),
    ///     "https_proxy" => Some("http://proxy.corp:3128".into()),
    ///     _ => None,
    /// })?;
    /// let names: Vec<String> = planner.proxies().map(|p| p.to_string()).collect();
    /// assert_eq!(names, ["proxy.corp:3128"]);
    /// let two = EnvProxyRoutePlanner::from_vars(|name| match name {
    ///     "https_proxy" => Some("http://tls-egress:8080".into()),
    ///     "all_proxy" => Some("http://egress:3128".into()),
    ///     _ => None,
    /// })?;
    /// let names: Vec<String> = two.proxies().map(|p| p.to_string()).collect();
    /// assert_eq!(names, ["egress:3128", "tls-egress:8080"]);
    /// # Ok::<(), hcx_exec::Error>(())
    /// ```
    pub fn proxies(&self) -> impl Iterator<Item = &Proxy> {
        let https = self
            .https
            .as_ref()
            .filter(|https| self.http.as_ref() != Some(*https));
        self.http.iter().chain(https)
    }

    /// The proxy a request to `uri` goes through, if any.
    pub fn proxy_for(&self, uri: &Uri) -> Option<&Proxy> {
        let (scheme, host, port) = origin(uri).ok()?;
        let proxy = match scheme {
            Scheme::Http => self.http.as_ref(),
            Scheme::Https => self.https.as_ref(),
        }?;
        (!self.no_proxy.matches(&normalize_host(host), port)).then_some(proxy)
    }
}

impl RoutePlanner for EnvProxyRoutePlanner {
    fn plan(&self, uri: &Uri) -> Result<Route, Error> {
        let route = self.direct.plan(uri)?;
        Ok(match self.proxy_for(uri) {
            Some(proxy) => route.via(proxy.clone()),
            None => route,
        })
    }
}

impl fmt::Debug for EnvProxyRoutePlanner {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("EnvProxyRoutePlanner")
            .field("http", &self.http)
            .field("https", &self.https)
            .field("no_proxy", &self.no_proxy)
            .finish_non_exhaustive()
    }
}

/// The parsed `no_proxy` list.
#[derive(Debug, Clone, Default)]
struct NoProxy {
    everything: bool,
    entries: Vec<(Pattern, Option<u16>)>,
}

#[derive(Debug, Clone)]
enum Pattern {
    /// A name: itself and its subdomains.
    Domain(String),
    Ip(IpAddr),
    Cidr(IpAddr, u8),
}

impl NoProxy {
    fn parse(list: &str) -> Result<NoProxy, Error> {
        let mut no_proxy = NoProxy::default();
        // Entries apart by commas or blanks (curl takes both; a name has neither).
        for entry in list
            .split(|c: char| c == ',' || c.is_ascii_whitespace())
            .filter(|e| !e.is_empty())
        {
            if entry == "*" {
                no_proxy.everything = true;
                continue;
            }
            // The JVM's `http.nonProxyHosts` markers: `|` between entries, `*` inside
            // one. Anything else is left to match or not (an IDN, an odd name).
            let named = entry.strip_prefix("*.").unwrap_or(entry);
            if named.contains(['|', '*']) {
                return Err(Error::new(
                    ErrorKind::Config,
                    format!(
                        "no_proxy entry {entry:?} is in the JVM's http.nonProxyHosts syntax \
                         (`|`, `*` inside a name), which matches nothing here: separate \
                         entries with commas and write a domain as .example.com"
                    ),
                ));
            }
            // `[fd00::]/8`: a block after a bracketed address, read as `fd00::/8`.
            let unbracketed;
            let entry = match entry.strip_prefix('[').and_then(|r| r.split_once("]/")) {
                Some((ip, bits)) => {
                    unbracketed = format!("{ip}/{bits}");
                    unbracketed.as_str()
                }
                None => entry,
            };
            let (body, port) = split_port(entry);
            let body = body.trim_start_matches("*.").trim_start_matches('.');
            let body = body.strip_suffix('.').unwrap_or(body);
            let pattern = if let Some((ip, bits)) = body.split_once('/') {
                match (ip.parse::<IpAddr>(), bits.parse::<u8>()) {
                    (Ok(ip), Ok(bits)) if bits <= max_bits(ip) => Pattern::Cidr(ip, bits),
                    // Not a block after all: never matches rather than matching wrongly.
                    _ => continue,
                }
            } else if let Ok(ip) = body.parse::<IpAddr>() {
                Pattern::Ip(ip)
            } else {
                Pattern::Domain(body.to_ascii_lowercase())
            };
            no_proxy.entries.push((pattern, port));
        }
        Ok(no_proxy)
    }

    fn matches(&self, host: &str, port: u16) -> bool {
        if self.everything {
            return true;
        }
        // `example.com.` is `example.com` (curl ignores the trailing dot too).
        let host = host.strip_suffix('.').unwrap_or(host);
        let ip = host.parse::<IpAddr>().ok();
        self.entries.iter().any(|(pattern, want_port)| {
            if want_port.is_some_and(|p| p != port) {
                return false;
            }
            match (pattern, ip) {
                // A name matches names only: an address is no subdomain of anything
                // (`0.1` does not send 10.0.0.1 direct), as curl has it.
                (Pattern::Domain(domain), None) => {
                    host == domain
                        || host
                            .strip_suffix(domain.as_str())
                            .is_some_and(|rest| rest.ends_with('.'))
                }
                (Pattern::Ip(want), Some(ip)) => *want == ip,
                (Pattern::Cidr(net, bits), Some(ip)) => in_block(ip, *net, *bits),
                _ => false,
            }
        })
    }
}

/// `host:port`, `[v6]:port`, or a bare host / IP / CIDR.
fn split_port(entry: &str) -> (&str, Option<u16>) {
    if let Some(rest) = entry.strip_prefix('[')
        && let Some((ip, after)) = rest.split_once(']')
    {
        return (ip, after.strip_prefix(':').and_then(|p| p.parse().ok()));
    }
    // One colon: a port (an IPv6 literal has several and no brackets).
    match entry.split_once(':') {
        Some((host, port)) if !port.contains(':') => match port.parse() {
            Ok(port) => (host, Some(port)),
            Err(_) => (entry, None),
        },
        _ => (entry, None),
    }
}

fn max_bits(ip: IpAddr) -> u8 {
    match ip {
        IpAddr::V4(_) => 32,
        IpAddr::V6(_) => 128,
    }
}

fn in_block(ip: IpAddr, net: IpAddr, bits: u8) -> bool {
    match (ip, net) {
        (IpAddr::V4(ip), IpAddr::V4(net)) => {
            let mask = u32::MAX.checked_shl(32 - u32::from(bits)).unwrap_or(0);
            u32::from(ip) & mask == u32::from(net) & mask
        }
        (IpAddr::V6(ip), IpAddr::V6(net)) => {
            let mask = u128::MAX.checked_shl(128 - u32::from(bits)).unwrap_or(0);
            u128::from(ip) & mask == u128::from(net) & mask
        }
        _ => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn no_proxy(list: &str, host: &str, port: u16) -> bool {
        NoProxy::parse(list).is_ok_and(|n| n.matches(host, port))
    }

    #[test]
    fn no_proxy_follows_the_usual_suffix_port_and_cidr_rules() {
        let cases: &[(&str, &str, u16, bool)] = &[
            ("example.com", "example.com", 80, true),
            ("example.com", "api.example.com", 80, true),
            ("example.com", "badexample.com", 80, false),
            (".example.com", "api.example.com", 443, true),
            (".example.com", "example.com", 443, true),
            ("*.example.com", "a.b.example.com", 443, true),
            ("EXAMPLE.com", "example.com", 80, true),
            ("example.com:8080", "example.com", 8080, true),
            ("example.com:8080", "example.com", 80, false),
            ("10.0.0.0/8", "10.1.2.3", 80, true),
            ("10.0.0.0/8", "11.1.2.3", 80, false),
            ("192.168.1.7", "192.168.1.7", 80, true),
            ("192.168.1.0/24", "192.168.2.1", 80, false),
            ("fd00::/8", "fd12::1", 80, true),
            ("::1", "::1", 80, true),
            ("[::1]:8080", "::1", 8080, true),
            ("[::1]:8080", "::1", 80, false),
            ("0.0.0.0/0", "8.8.8.8", 80, true),
            ("*", "anything.at.all", 1, true),
            ("localhost, .internal", "db.internal", 5432, true),
            ("10.0.0.0/99", "10.0.0.1", 80, false),
            ("", "example.com", 80, false),
            // A name never matches an IP address by its tail (curl compares an
            // address with addresses and blocks only).
            ("0.1", "10.0.0.1", 80, false),
            ("168.1.7", "192.168.1.7", 80, false),
            ("10.0.0.1.", "10.0.0.1", 80, true),
            // A block written after a bracketed address (as in a URL's host).
            ("[fd00::]/8", "fd12::1", 80, true),
            ("[fd00::]/8", "fe80::1", 80, false),
        ];
        for (list, host, port, expected) in cases {
            assert_eq!(
                no_proxy(list, host, *port),
                *expected,
                "{list:?} vs {host}:{port}"
            );
        }
    }

    #[test]
    fn the_environment_picks_the_proxy_by_scheme_lower_case_first()
    -> Result<(), Box<dyn std::error::Error>> {
        let vars = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(n, _)| *n == name)
                    .map(|(_, v)| v.to_string())
            }
        };
        let planner = EnvProxyRoutePlanner::from_vars(vars(&[
            ("http_proxy", "http://lower:1"),
            ("HTTP_PROXY", "http://upper:2"),
            ("HTTPS_PROXY", "http://secure:3"),
        ]))?;
        let uri: Uri = "http://a.test/".parse()?;
        assert_eq!(planner.proxy_for(&uri).map(|p| p.port()), Some(1));
        let uri: Uri = "https://a.test/".parse()?;
        assert_eq!(planner.proxy_for(&uri).map(|p| p.port()), Some(3));

        let all = EnvProxyRoutePlanner::from_vars(vars(&[("ALL_PROXY", "proxy:9")]))?;
        assert_eq!(
            all.proxy_for(&"https://a.test/".parse()?).map(|p| p.port()),
            Some(9)
        );
        assert_eq!(
            all.proxy_for(&"http://a.test/".parse()?).map(|p| p.port()),
            Some(9)
        );

        // httpoxy: under CGI, HTTP_PROXY may be a request's header.
        let cgi = EnvProxyRoutePlanner::from_vars(vars(&[
            ("REQUEST_METHOD", "GET"),
            ("HTTP_PROXY", "http://evil:1"),
        ]))?;
        assert!(cgi.proxy_for(&"http://a.test/".parse()?).is_none());

        // A case-insensitive environment (Windows): `http_proxy` finds the same
        // HTTP_PROXY, so under CGI it is not read there either.
        let table = [("REQUEST_METHOD", "GET"), ("HTTP_PROXY", "http://evil:1")];
        let insensitive = |name: &str| {
            table
                .iter()
                .find(|(n, _)| n.eq_ignore_ascii_case(name))
                .map(|(_, v)| (*v).to_string())
        };
        let unsafe_cgi = EnvProxyRoutePlanner::from_vars(insensitive)?;
        assert!(unsafe_cgi.proxy_for(&"http://a.test/".parse()?).is_some());
        let windows_cgi = EnvProxyRoutePlanner::from_vars(cgi_safe(true, insensitive))?;
        assert!(windows_cgi.proxy_for(&"http://a.test/".parse()?).is_none());
        let not_cgi = cgi_safe(true, |name| (name == "http_proxy").then(|| "p:1".into()));
        assert!(
            EnvProxyRoutePlanner::from_vars(not_cgi)?
                .proxy_for(&"http://a.test/".parse()?)
                .is_some(),
            "outside CGI http_proxy is read"
        );

        let none = EnvProxyRoutePlanner::from_vars(|_| None)?;
        assert!(none.plan(&"http://a.test/".parse()?)?.proxy.is_none());
        assert!(EnvProxyRoutePlanner::from_vars(vars(&[("HTTP_PROXY", "ftp://x")])).is_err());
        Ok(())
    }
}
