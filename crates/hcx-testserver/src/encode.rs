//! Turns a [`Reply`] into wire bytes (sans-IO): interim responses, status line,
//! headers with the framing the reply chose, and the encoded body.

use crate::reply::{ChunkedOptions, Framing, Reply};
use http::{StatusCode, Version};

/// An encoded response: `bytes[..head_len]` is everything up to and including the
/// blank line that ends the head; the rest is the encoded body.
#[derive(Debug)]
pub(crate) struct Wire {
    pub(crate) bytes: Vec<u8>,
    pub(crate) head_len: usize,
}

/// Encodes `reply`. `head_request`: the request was `HEAD`, so no body is written.
/// `announce_close`: the server closes after this response for a reason the client
/// should be told of, so `Connection: close` is added (unless the reply set
/// `Connection` itself).
pub(crate) fn encode(reply: &Reply, head_request: bool, announce_close: bool) -> Wire {
    let mut out = Vec::with_capacity(128 + reply.body.len());
    let version = version_text(reply.version);
    for &status in &reply.informational {
        status_line(&mut out, version, status, None);
        out.extend_from_slice(b"\r\n");
    }
    status_line(&mut out, version, reply.status, reply.reason.as_deref());
    for (name, value) in &reply.headers {
        field(&mut out, name, value);
    }

    // RFC 9112 §6.3: 1xx, 204 and 304 never carry a body.
    let no_body_status = reply.status < 200 || reply.status == 204 || reply.status == 304;
    match &reply.framing {
        Framing::ContentLength if !no_body_status && !reply.has_header("content-length") => {
            field(
                &mut out,
                b"Content-Length",
                reply.body.len().to_string().as_bytes(),
            );
        }
        Framing::Chunked(_) if !no_body_status && !reply.has_header("transfer-encoding") => {
            field(&mut out, b"Transfer-Encoding", b"chunked");
        }
        _ => {}
    }
    if announce_close && !reply.has_header("connection") {
        field(&mut out, b"Connection", b"close");
    }
    out.extend_from_slice(b"\r\n");
    let head_len = out.len();

    match &reply.framing {
        Framing::Unframed => out.extend_from_slice(&reply.body),
        _ if no_body_status || head_request => {}
        Framing::Chunked(options) => chunked_body(&mut out, &reply.body, options),
        Framing::ContentLength | Framing::CloseDelimited => out.extend_from_slice(&reply.body),
    }
    Wire {
        bytes: out,
        head_len,
    }
}

/// `100 Continue`, in the request's version.
pub(crate) fn continue_line(version: Version) -> Vec<u8> {
    let mut out = Vec::with_capacity(32);
    status_line(&mut out, version_text(version), 100, None);
    out.extend_from_slice(b"\r\n");
    out
}

fn version_text(version: Version) -> &'static str {
    match version {
        Version::HTTP_09 => "HTTP/0.9",
        Version::HTTP_10 => "HTTP/1.0",
        Version::HTTP_2 => "HTTP/2.0",
        Version::HTTP_3 => "HTTP/3.0",
        _ => "HTTP/1.1",
    }
}

fn status_line(out: &mut Vec<u8>, version: &str, status: u16, reason: Option<&str>) {
    let canonical = StatusCode::from_u16(status)
        .ok()
        .and_then(|s| s.canonical_reason());
    let reason = reason.or(canonical).unwrap_or("");
    out.extend_from_slice(format!("{version} {status} {reason}\r\n").as_bytes());
}

fn field(out: &mut Vec<u8>, name: &[u8], value: &[u8]) {
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n");
}

fn chunked_body(out: &mut Vec<u8>, body: &[u8], options: &ChunkedOptions) {
    let size = options.chunk_size.unwrap_or(body.len()).max(1);
    let size_line = |out: &mut Vec<u8>, len: usize| {
        out.extend_from_slice(format!("{len:x}").as_bytes());
        if let Some(ext) = &options.extension {
            out.push(b';');
            out.extend_from_slice(ext);
        }
        out.extend_from_slice(b"\r\n");
    };
    for chunk in body.chunks(size) {
        size_line(out, chunk.len());
        out.extend_from_slice(chunk);
        out.extend_from_slice(b"\r\n");
    }
    size_line(out, 0);
    for (name, value) in &options.trailers {
        field(out, name, value);
    }
    out.extend_from_slice(b"\r\n");
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(reply: &Reply, head: bool, close: bool) -> String {
        String::from_utf8(encode(reply, head, close).bytes).unwrap()
    }

    #[test]
    fn content_length_is_added_unless_set() {
        let reply = Reply::new(201u16).header("X-A", "1").body("hello");
        assert_eq!(
            text(&reply, false, false),
            "HTTP/1.1 201 Created\r\nX-A: 1\r\nContent-Length: 5\r\n\r\nhello"
        );
        let lying = Reply::ok().header("content-length", "10").body("hello");
        assert_eq!(
            text(&lying, false, false),
            "HTTP/1.1 200 OK\r\ncontent-length: 10\r\n\r\nhello"
        );
    }

    #[test]
    fn chunked_with_size_extension_and_trailers() {
        let reply = Reply::ok()
            .body("abcde")
            .chunk_size(2)
            .chunk_extension("x=\"y\"")
            .trailer("X-T", "1");
        assert_eq!(
            text(&reply, false, false),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n\
             2;x=\"y\"\r\nab\r\n2;x=\"y\"\r\ncd\r\n1;x=\"y\"\r\ne\r\n0;x=\"y\"\r\nX-T: 1\r\n\r\n"
        );
        assert_eq!(
            text(&Reply::ok().chunked(), false, false),
            "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"
        );
    }

    #[test]
    fn head_and_bodiless_statuses_carry_no_body() {
        let reply = Reply::ok().body("hello");
        assert_eq!(
            text(&reply, true, false),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n"
        );
        for status in [204u16, 304, 101] {
            let wire = encode(&Reply::new(status).body("x"), false, false);
            assert_eq!(wire.head_len, wire.bytes.len(), "status {status}");
            assert!(!String::from_utf8_lossy(&wire.bytes).contains("Content-Length"));
        }
    }

    #[test]
    fn version_reason_interim_and_close() {
        let reply = Reply::new(599u16)
            .version(Version::HTTP_10)
            .informational(103)
            .close_delimited()
            .body("x");
        assert_eq!(
            text(&reply, false, true),
            "HTTP/1.0 103 Early Hints\r\n\r\nHTTP/1.0 599 \r\nConnection: close\r\n\r\nx"
        );
        let custom = Reply::ok()
            .reason("Fine")
            .header("connection", "keep-alive");
        assert_eq!(
            text(&custom, false, true),
            "HTTP/1.1 200 Fine\r\nconnection: keep-alive\r\nContent-Length: 0\r\n\r\n"
        );
    }

    #[test]
    fn unframed_writes_exactly_what_it_is_given() {
        let reply = Reply::new(204u16).without_framing().body("oops");
        let wire = encode(&reply, true, false);
        assert_eq!(&wire.bytes[wire.head_len..], b"oops");
    }

    #[test]
    fn generated_body_has_the_asked_length() {
        let reply = Reply::ok().generated_body(30);
        assert_eq!(&reply.body[..], b"abcdefghijklmnopqrstuvwxyzabcd");
    }
}
