//! Connection options: the `Connection` header (RFC 9110 §7.6.1) and the legacy
//! `Proxy-Connection` header.

use crate::syntax::{is_token, list_elements};
use http::HeaderMap;
use http::header::CONNECTION;

/// Not in the `http` crate's constants: never standardised, still sent by proxies.
const PROXY_CONNECTION: &str = "proxy-connection";

/// What the connection options of one message say about persistence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Options {
    /// Options present (or none at all) without `close`; `keep_alive` tells whether a
    /// `keep-alive` option was among them.
    Open { keep_alive: bool },
    /// A `close` option: the sender will close, whatever else is listed.
    Close,
    /// An element that is not a token (`keep-alive=true`, non-ASCII bytes): the peer may
    /// have read anything into it, including `close`.
    Malformed,
}

/// Which header field the response's options came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Source {
    Connection,
    ProxyConnection,
}

/// Scans every `Connection` field line of a request. Only `close` matters there.
pub(crate) fn request_options(headers: &HeaderMap) -> Options {
    scan(headers, CONNECTION.as_str())
}

/// Scans the response's `Connection` field lines, or, when there is no `Connection`
/// field line at all (even an empty one counts), its `Proxy-Connection` ones.
pub(crate) fn response_options(headers: &HeaderMap) -> (Options, Source) {
    if headers.contains_key(CONNECTION) {
        (scan(headers, CONNECTION.as_str()), Source::Connection)
    } else {
        (scan(headers, PROXY_CONNECTION), Source::ProxyConnection)
    }
}

fn scan(headers: &HeaderMap, name: &str) -> Options {
    let mut keep_alive = false;
    for option in list_elements(headers.get_all(name)) {
        if !is_token(option) {
            return Options::Malformed;
        }
        // RFC 9110 §7.6.1: connection options are case-insensitive; `close` wins
        // over anything else listed, in any order.
        if option.eq_ignore_ascii_case(b"close") {
            return Options::Close;
        }
        keep_alive |= option.eq_ignore_ascii_case(b"keep-alive");
    }
    Options::Open { keep_alive }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    fn headers(lines: &[(&'static str, &'static [u8])]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for (name, value) in lines {
            if let Ok(value) = HeaderValue::from_bytes(value) {
                map.append(*name, value);
            }
        }
        map
    }

    #[test]
    fn close_wins_in_any_position_and_case() {
        for value in [&b"close"[..], b"keep-alive, CLOSE", b"Close, keep-alive"] {
            let map = headers(&[("connection", value)]);
            assert_eq!(request_options(&map), Options::Close);
        }
    }

    #[test]
    fn keep_alive_is_found_across_field_lines() {
        let map = headers(&[("connection", b"upgrade"), ("connection", b" Keep-Alive ")]);
        assert_eq!(
            response_options(&map),
            (Options::Open { keep_alive: true }, Source::Connection)
        );
    }

    #[test]
    fn proxy_connection_counts_only_without_connection() {
        let both = headers(&[("connection", b""), ("proxy-connection", b"close")]);
        assert_eq!(
            response_options(&both),
            (Options::Open { keep_alive: false }, Source::Connection)
        );
        let proxy_only = headers(&[("proxy-connection", b"close")]);
        assert_eq!(
            response_options(&proxy_only),
            (Options::Close, Source::ProxyConnection)
        );
    }

    #[test]
    fn non_token_option_is_malformed() {
        let map = headers(&[("connection", b"keep-alive=true")]);
        assert_eq!(request_options(&map), Options::Malformed);
        let map = headers(&[("connection", b"clos\xe9")]);
        assert_eq!(request_options(&map), Options::Malformed);
    }

    #[test]
    fn no_options_is_open_without_keep_alive() {
        assert_eq!(
            request_options(&HeaderMap::new()),
            Options::Open { keep_alive: false }
        );
    }
}
