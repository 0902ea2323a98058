//! The pool key: where a connection goes.

use std::fmt;

use http::Uri;

use crate::error::{Error, ErrorKind};

/// The scheme of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Scheme {
    /// Plain `http`.
    Http,
    /// `https` (not supported yet: TLS comes in a later version).
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

/// Where a connection goes: scheme, host and port. The key of the connection pool:
/// a connection leased for one route is never given to another.
///
/// Apache HttpClient calls this `HttpRoute`. It will later carry a proxy and a TLS
/// identity, hence `#[non_exhaustive]`. The host is lowercase, and an IPv6 literal is
/// kept without its brackets. `Display` and `Debug` print `http://host:port`.
#[derive(Clone, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub struct Route {
    /// The scheme.
    pub scheme: Scheme,
    /// The host name or IP literal, lowercase, IPv6 without brackets.
    pub host: String,
    /// The port, the scheme's default when the URI gives none.
    pub port: u16,
}

impl Route {
    /// A plain `http` route.
    pub fn http(host: &str, port: u16) -> Self {
        Route {
            scheme: Scheme::Http,
            host: normalize_host(host),
            port,
        }
    }

    /// The route of an absolute URI (`http://host[:port]/…`).
    ///
    /// An `https` URI is an error for now ("TLS not supported yet"), and so is a URI
    /// without a scheme or a host, or with another scheme.
    ///
    /// ```
    /// use hcx_exec::Route;
    /// let route = Route::from_uri(&"http://Example.COM/x".parse()?)?;
    /// assert_eq!(route.to_string(), "http://example.com:80");
    /// let v6 = Route::from_uri(&"http://[::1]:8080/".parse()?)?;
    /// assert_eq!((v6.host.as_str(), v6.port), ("::1", 8080));
    /// assert!(Route::from_uri(&"https://example.com/".parse()?).is_err());
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn from_uri(uri: &Uri) -> Result<Route, Error> {
        let invalid = |why: &str| {
            Error::new(
                ErrorKind::InvalidUrl,
                format!("cannot send to {uri}: {why}"),
            )
        };
        let scheme = match uri.scheme_str() {
            Some(s) if s.eq_ignore_ascii_case("http") => Scheme::Http,
            Some(s) if s.eq_ignore_ascii_case("https") => {
                return Err(invalid("TLS not supported yet (https)"));
            }
            Some(other) => return Err(invalid(&format!("unsupported scheme {other:?}"))),
            None => return Err(invalid("the URI has no scheme (an absolute URI is needed)")),
        };
        let host = match uri.host() {
            Some(h) if !h.is_empty() => h,
            _ => return Err(invalid("the URI has no host")),
        };
        Ok(Route {
            scheme,
            host: normalize_host(host),
            port: uri.port_u16().unwrap_or(scheme.default_port()),
        })
    }
}

fn normalize_host(host: &str) -> String {
    let host = host
        .strip_prefix('[')
        .and_then(|h| h.strip_suffix(']'))
        .unwrap_or(host);
    host.to_ascii_lowercase()
}

impl fmt::Display for Route {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.host.contains(':') {
            write!(
                f,
                "{}://[{}]:{}",
                self.scheme.as_str(),
                self.host,
                self.port
            )
        } else {
            write!(f, "{}://{}:{}", self.scheme.as_str(), self.host, self.port)
        }
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
    fn ipv6_literals_lose_their_brackets_and_print_with_them() -> Result<(), Error> {
        let r = route("http://[::1]:9/")?;
        assert_eq!(r.host, "::1");
        assert_eq!(r.to_string(), "http://[::1]:9");
        Ok(())
    }

    #[test]
    fn https_and_relative_uris_are_refused() {
        let e = route("https://example.com/").err().map(|e| e.to_string());
        assert!(e.is_some_and(|m| m.contains("TLS not supported yet")));
        assert!(route("/relative").is_err_and(|e| e.is_invalid_request()));
        assert!(route("ftp://h/").is_err_and(|e| e.is_invalid_request()));
    }
}
