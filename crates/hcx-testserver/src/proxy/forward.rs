//! Forwarding one absolute-form request (`GET http://host:port/path`): the target it
//! names, the origin-form request sent there, and the target's response re-framed for
//! the client. The building and re-framing are sans-IO; `exchange` does the I/O.

use super::wire::{ReadError, Response, Wire};
use crate::encode::encode;
use crate::reply::Reply;
use crate::request::{Head, Limits};
use bytes::Bytes;
use std::net::TcpStream;

/// Hop-by-hop fields the proxy never forwards to the target: its own, and the
/// connection's (it sends its own `Connection: close`).
const REQUEST_DROPPED: &[&str] = &[
    "proxy-authorization",
    "proxy-connection",
    "connection",
    "keep-alive",
];

/// Fields of a target's response the proxy does not relay: the connection's, and the
/// framing, which it replaces by `Content-Length` (for responses with a body).
const RESPONSE_DROPPED: &[&str] = &["connection", "keep-alive", "proxy-connection"];
const RESPONSE_FRAMING: &[&str] = &["content-length", "transfer-encoding"];

/// Where an absolute-form request goes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Target {
    /// `host:port` to connect to (port 80 when the URI has none).
    pub(crate) authority: String,
    /// The origin-form target: path and query (`/` when the URI has no path).
    pub(crate) origin_form: String,
}

/// Splits an absolute-form target (`http://host[:port][/path][?query]`, RFC 9112
/// §3.2.2). Only `http` is proxied this way; `https` goes through `CONNECT`.
pub(crate) fn parse_absolute(target: &str) -> Result<Target, String> {
    let rest = target
        .get(..7)
        .filter(|scheme| scheme.eq_ignore_ascii_case("http://"))
        .map(|_| &target[7..])
        .ok_or_else(|| format!("not an absolute http URI: {target:?}"))?;
    let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
    let (authority, tail) = rest.split_at(end);
    if authority.is_empty() || authority.contains('@') {
        return Err(format!("no usable authority in {target:?}"));
    }
    let tail = tail.split('#').next().unwrap_or("");
    let origin_form = match tail.chars().next() {
        None => String::from("/"),
        Some('?') => format!("/{tail}"),
        Some(_) => tail.to_owned(),
    };
    // A port is there if the authority ends in `:digits` outside an IPv6 literal.
    let has_port = authority
        .rsplit_once(':')
        .is_some_and(|(host, port)| !host.is_empty() && !port.contains(']'));
    let authority = if has_port {
        authority.to_owned()
    } else {
        format!("{authority}:80")
    };
    Ok(Target {
        authority,
        origin_form,
    })
}

/// The request for the target: origin-form, the client's fields minus the hop-by-hop
/// ones, `Host` if the client sent none, `Connection: close`, then the body exactly as
/// the client framed it.
pub(crate) fn origin_request(head: &Head, target: &Target, raw_body: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(256 + raw_body.len());
    out.extend_from_slice(
        format!("{} {} HTTP/1.1\r\n", head.method, target.origin_form).as_bytes(),
    );
    if !head.headers.contains_key(http::header::HOST) {
        let host = target
            .authority
            .strip_suffix(":80")
            .unwrap_or(&target.authority);
        out.extend_from_slice(format!("Host: {host}\r\n").as_bytes());
    }
    for (name, value) in &head.headers {
        if REQUEST_DROPPED.contains(&name.as_str()) {
            continue;
        }
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"Connection: close\r\n\r\n");
    out.extend_from_slice(raw_body);
    out
}

/// The target's response as the client gets it: same status, reason and fields but the
/// connection's, a body re-framed by `Content-Length` (responses without a body keep
/// the target's framing fields, which describe the `GET` a `HEAD` stands for), and
/// `Connection: close` if the proxy closes after it.
pub(crate) fn client_response(response: &Response, close: bool) -> Vec<u8> {
    let mut reply = Reply::new(response.head.status).reason(response.head.reason.clone());
    if !response.has_body {
        reply = reply.without_framing();
    }
    for (name, value) in &response.head.fields {
        let lower = String::from_utf8_lossy(name).to_ascii_lowercase();
        let framing = response.has_body && RESPONSE_FRAMING.contains(&lower.as_str());
        if framing || RESPONSE_DROPPED.contains(&lower.as_str()) {
            continue;
        }
        reply = reply.header(name, value);
    }
    let wire = encode(&reply.body(response.body.clone()), false, close);
    wire.bytes
}

/// Connects to the target, sends the request, reads the whole response. The socket is
/// handed to `register` (so shutdown can wake a blocked read) before any I/O.
pub(crate) fn exchange(
    target: &Target,
    request: &[u8],
    head_request: bool,
    limits: &Limits,
    register: impl FnOnce(&TcpStream),
) -> Result<Response, String> {
    let stream = TcpStream::connect(&target.authority)
        .map_err(|e| format!("could not connect to {}: {e}", target.authority))?;
    register(&stream);
    let mut wire = Wire::new(stream);
    wire.send(request)
        .map_err(|e| format!("could not send the request to {}: {e}", target.authority))?;
    wire.read_response(head_request, limits).map_err(|e| {
        let what = match e {
            ReadError::Closed => String::from("closed the connection without a response"),
            ReadError::Malformed(message) => message,
            ReadError::Io(e) => format!("I/O error: {e}"),
        };
        format!("{}: {what}", target.authority)
    })
}

/// The body of a proxy-made error response.
pub(crate) fn text_body(message: &str) -> Bytes {
    Bytes::from(format!("{message}\n"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::request::parse_head;

    const LIMITS: Limits = Limits {
        max_head_bytes: 1024,
        max_headers: 16,
        max_body_bytes: 1024,
    };

    #[test]
    fn absolute_targets_split_into_authority_and_origin_form() {
        let cases = [
            (
                "http://127.0.0.1:8080/a/b?c=1",
                "127.0.0.1:8080",
                "/a/b?c=1",
            ),
            ("HTTP://example.com", "example.com:80", "/"),
            ("http://example.com?q", "example.com:80", "/?q"),
            ("http://[::1]:9/x#frag", "[::1]:9", "/x"),
            ("http://[::1]/x", "[::1]:80", "/x"),
        ];
        for (input, authority, origin_form) in cases {
            let target = parse_absolute(input).unwrap();
            assert_eq!(
                (target.authority.as_str(), target.origin_form.as_str()),
                (authority, origin_form),
                "{input}"
            );
        }
        for bad in ["/relative", "https://h/", "http:///p", "http://u:p@h/", "*"] {
            assert!(parse_absolute(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn origin_request_drops_proxy_fields_and_closes() {
        let raw = b"POST http://h:1/p?q HTTP/1.1\r\nHost: h:1\r\nProxy-Authorization: Basic x\r\nProxy-Connection: keep-alive\r\nConnection: keep-alive\r\nContent-Length: 2\r\nX-A: 1\r\n\r\n";
        let (head, _) = parse_head(raw, &LIMITS).unwrap().unwrap();
        let target = parse_absolute(&head.target).unwrap();
        let out = origin_request(&head, &target, b"hi");
        assert_eq!(
            String::from_utf8(out).unwrap(),
            "POST /p?q HTTP/1.1\r\nhost: h:1\r\ncontent-length: 2\r\nx-a: 1\r\nConnection: close\r\n\r\nhi"
        );
    }
}
