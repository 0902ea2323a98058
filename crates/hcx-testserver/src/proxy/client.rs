//! One client connection of the proxy, on its own thread: read a request, check its
//! credentials, then forward it (absolute-form), open a tunnel (`CONNECT`), refuse it,
//! or challenge it; repeat while the connection stays open.
//!
//! Nothing a client sends can panic this code: a malformed request gets a `400` and a
//! closed connection, and a recorded error.

use super::auth::REALM;
use super::forward::{client_response, exchange, origin_request, parse_absolute, text_body};
use super::record::RecordedProxyRequest;
use super::tunnel::relay;
use super::wire::{ReadError, Wire};
use super::{ProxyShared, socket_id};
use crate::encode::encode;
use crate::reply::Reply;
use crate::request::{Head, has_connection_option, request_framing};
use http::{Method, StatusCode, Version};
use std::net::TcpStream;

/// What to do after answering a request.
enum Next {
    KeepReading,
    Close,
}

/// Serves client connection `id` until it closes.
pub(crate) fn serve(shared: &ProxyShared, stream: TcpStream, id: usize) {
    let mut client = Wire::new(stream);
    let mut index = 0;
    while !shared.signal.is_triggered() {
        let head = match client.read_request_head(&shared.config.limits) {
            Ok(head) => head,
            Err(ReadError::Closed) => return,
            Err(ReadError::Malformed(message)) => {
                shared.recorder.error(Some(id), message.clone());
                let _ = client.send(&error_response(StatusCode::BAD_REQUEST, &message));
                return;
            }
            Err(ReadError::Io(e)) => {
                if !shared.signal.is_triggered() {
                    shared.recorder.error(Some(id), format!("I/O error: {e}"));
                }
                return;
            }
        };
        let authorized = shared
            .config
            .credentials
            .as_ref()
            .is_none_or(|c| c.accepts(&head.headers));
        shared.recorder.request_received(RecordedProxyRequest {
            method: head.method.clone(),
            target: head.target.clone(),
            version: head.version,
            headers: head.headers.clone(),
            authorized,
            connection: id,
            index_on_connection: index,
        });
        index += 1;
        let next = if head.method == Method::CONNECT {
            connect(shared, &mut client, &head, authorized, id)
        } else {
            forward(shared, &mut client, &head, authorized, id)
        };
        if matches!(next, Next::Close) {
            return;
        }
    }
}

/// An absolute-form request: its body read, then challenged or forwarded.
fn forward(
    shared: &ProxyShared,
    client: &mut Wire,
    head: &Head,
    authorized: bool,
    id: usize,
) -> Next {
    let limits = &shared.config.limits;
    let body = request_framing(&head.headers)
        .map_err(ReadError::Malformed)
        .and_then(|framing| client.read_raw_body(framing, limits));
    let body = match body {
        Ok(body) => body,
        Err(ReadError::Malformed(message)) => {
            shared.recorder.error(Some(id), message.clone());
            let _ = client.send(&error_response(StatusCode::BAD_REQUEST, &message));
            return Next::Close;
        }
        Err(ReadError::Closed | ReadError::Io(_)) => return Next::Close,
    };
    let close = has_connection_option(&head.headers, "close")
        || (head.version == Version::HTTP_10
            && !has_connection_option(&head.headers, "keep-alive"));
    if !authorized {
        shared.recorder.auth_challenged();
        return answer(client, &challenge(close), close);
    }
    let target = match parse_absolute(&head.target) {
        Ok(target) => target,
        Err(message) => {
            shared.recorder.error(Some(id), message.clone());
            let reply = Reply::new(StatusCode::BAD_REQUEST).body(text_body(&message));
            return answer(client, &encode(&reply, false, close).bytes, close);
        }
    };
    let request = origin_request(head, &target, &body);
    let upstream_id = socket_id(id, true);
    let outcome = exchange(
        &target,
        &request,
        head.method == Method::HEAD,
        limits,
        |stream| register(shared, upstream_id, stream),
    );
    shared.signal.unregister(upstream_id);
    match outcome {
        Ok(response) => {
            shared.recorder.response_relayed();
            answer(client, &client_response(&response, close), close)
        }
        Err(message) => {
            if shared.signal.is_triggered() {
                return Next::Close;
            }
            shared.recorder.error(Some(id), message.clone());
            let reply = Reply::new(StatusCode::BAD_GATEWAY).body(text_body(&message));
            answer(client, &encode(&reply, false, close).bytes, close)
        }
    }
}

/// A `CONNECT`: challenged, refused, or a tunnel that ends the connection.
fn connect(
    shared: &ProxyShared,
    client: &mut Wire,
    head: &Head,
    authorized: bool,
    id: usize,
) -> Next {
    if !authorized {
        shared.recorder.auth_challenged();
        return answer(client, &challenge(false), false);
    }
    if let Some(status) = shared.config.refuse_connect {
        shared.recorder.connect_refused();
        let reply = Reply::new(status)
            .header("X-Proxy-Reason", "refused")
            .body(text_body(&format!("CONNECT {} refused", head.target)));
        return answer(client, &encode(&reply, false, false).bytes, false);
    }
    let target = match TcpStream::connect(&head.target) {
        Ok(target) => target,
        Err(e) => {
            let message = format!("could not connect to {}: {e}", head.target);
            shared.recorder.error(Some(id), message.clone());
            let reply = Reply::new(StatusCode::BAD_GATEWAY).body(text_body(&message));
            return answer(client, &encode(&reply, false, false).bytes, false);
        }
    };
    let target_id = socket_id(id, true);
    register(shared, target_id, &target);
    shared.recorder.tunnel_opened(&head.target);
    if client
        .send(b"HTTP/1.1 200 Connection Established\r\n\r\n")
        .is_ok()
    {
        let early = client.buf.split().freeze();
        relay(&client.stream, &target, early);
    }
    shared.signal.unregister(target_id);
    shared.recorder.tunnel_closed();
    Next::Close
}

/// Registers a target socket so shutdown wakes a thread blocked on it.
fn register(shared: &ProxyShared, id: usize, stream: &TcpStream) {
    let registered = stream
        .try_clone()
        .is_ok_and(|clone| shared.signal.register(id, clone, false));
    if !registered {
        // Shutdown has begun (or the socket cannot be watched): end the exchange now
        // rather than risk a read that nothing can wake.
        let _ = stream.shutdown(std::net::Shutdown::Both);
    }
}

/// Writes a response and says whether to keep reading.
fn answer(client: &mut Wire, bytes: &[u8], close: bool) -> Next {
    match client.send(bytes) {
        Ok(()) if !close => Next::KeepReading,
        _ => Next::Close,
    }
}

/// `407 Proxy Authentication Required` with a Basic challenge (RFC 9110 §15.5.8).
fn challenge(close: bool) -> Vec<u8> {
    let reply = Reply::new(StatusCode::PROXY_AUTHENTICATION_REQUIRED)
        .header("Proxy-Authenticate", format!("Basic realm=\"{REALM}\""));
    encode(&reply, false, close).bytes
}

/// A response to a request the proxy cannot read, which closes the connection.
fn error_response(status: StatusCode, message: &str) -> Vec<u8> {
    let reply = Reply::new(status).body(text_body(message));
    encode(&reply, false, true).bytes
}
