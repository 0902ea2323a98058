//! What the reuse rules need from a header section, gathered in one pass.
//!
//! One walk over the few field lines of a typical head is cheaper than a hashed lookup
//! per field name (the decision runs once per exchange, on the hot path), and it reads
//! every line of a repeated field in order, as RFC 9110 §5.3 combines them. Framing
//! fields are not parsed here: the codec decided the response's framing once
//! (`hcx_h1::response_framing`) and the [`Exchange`](crate::Exchange) carries its
//! verdict; of the request's, only their presence matters.

use crate::connection::Options;
use http::header::{CONNECTION, CONTENT_LENGTH, TRANSFER_ENCODING};
use http::{HeaderMap, HeaderName};

/// Not in the `http` crate's constants: never standardised, still sent by proxies.
/// A `HeaderName` rather than a `&str` so the comparison is a cheap enum check for the
/// standard names that make up most heads.
static PROXY_CONNECTION: HeaderName = HeaderName::from_static("proxy-connection");
/// Not in the `http` crate's constants either (RFC 2068 §19.7.1).
static KEEP_ALIVE: HeaderName = HeaderName::from_static("keep-alive");

/// The persistence-related fields of one header section.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Summary {
    /// `None` when there is no `Connection` field line at all (an empty one counts).
    pub(crate) connection: Option<Options>,
    /// `None` when there is no `Proxy-Connection` field line.
    pub(crate) proxy_connection: Option<Options>,
    /// Both `Content-Length` and `Transfer-Encoding` are present.
    pub(crate) length_and_coding: bool,
    /// A `Keep-Alive` field line is present: without one the keep-alive strategy need
    /// not look the field up again.
    pub(crate) keep_alive: bool,
}

impl Summary {
    pub(crate) fn of(headers: &HeaderMap) -> Summary {
        let mut summary = Summary {
            connection: None,
            proxy_connection: None,
            length_and_coding: false,
            keep_alive: false,
        };
        let (mut length, mut coding) = (false, false);
        for (name, value) in headers {
            if *name == CONNECTION {
                let value = value.as_bytes();
                summary.connection = Some(summary.connection.unwrap_or_default().add(value));
            } else if *name == CONTENT_LENGTH {
                length = true;
            } else if *name == TRANSFER_ENCODING {
                coding = true;
            } else if *name == PROXY_CONNECTION {
                let value = value.as_bytes();
                summary.proxy_connection =
                    Some(summary.proxy_connection.unwrap_or_default().add(value));
            } else if *name == KEEP_ALIVE {
                summary.keep_alive = true;
            }
        }
        summary.length_and_coding = length && coding;
        summary
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn repeated_fields_combine_in_order() {
        let mut map = HeaderMap::new();
        map.append("transfer-encoding", HeaderValue::from_static("gzip"));
        map.append("connection", HeaderValue::from_static("keep-alive"));
        map.append("content-length", HeaderValue::from_static("3"));
        map.append("proxy-connection", HeaderValue::from_static("close"));
        let summary = Summary::of(&map);
        assert_eq!(summary.connection, Some(Options::Open { keep_alive: true }));
        assert_eq!(summary.proxy_connection, Some(Options::Close));
        assert!(summary.length_and_coding);
        assert!(!summary.keep_alive);
    }

    #[test]
    fn keep_alive_field_is_seen_in_any_case_and_position() {
        let mut map = HeaderMap::new();
        map.append("content-length", HeaderValue::from_static("3"));
        assert!(!Summary::of(&map).keep_alive);
        map.append("Keep-Alive", HeaderValue::from_static("timeout=5"));
        map.append("connection", HeaderValue::from_static("keep-alive"));
        assert!(Summary::of(&map).keep_alive);
        let mut empty = HeaderMap::new();
        empty.append("KEEP-ALIVE", HeaderValue::from_static(""));
        assert!(Summary::of(&empty).keep_alive);
    }

    #[test]
    fn empty_connection_line_is_present() {
        let mut map = HeaderMap::new();
        map.append("connection", HeaderValue::from_static(""));
        assert_eq!(
            Summary::of(&map).connection,
            Some(Options::Open { keep_alive: false })
        );
        assert_eq!(Summary::of(&HeaderMap::new()).connection, None);
        assert!(!Summary::of(&HeaderMap::new()).length_and_coding);
    }
}
