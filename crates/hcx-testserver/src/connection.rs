//! One connection, on its own thread: in TLS mode the handshake first; then read a
//! request (head, then body by its framing), record it, pick the reply, decide whether
//! to close, write, repeat. The HTTP code sees only a [`Stream`], plain or TLS.
//!
//! Nothing a client sends can panic this code: every malformed or oversized input
//! becomes a recorded error and a close with [`ServerCloseReason::ProtocolError`].

use crate::builder::{ExpectContinue, SilentClose};
use crate::chunked::ChunkedDecoder;
use crate::close::ServerCloseReason;
use crate::encode::{continue_line, encode};
use crate::reply::{Action, Ending, Framing, Reply};
use crate::request::{
    BodyFraming, Head, RecordedRequest, expects_continue, has_connection_option, parse_head,
    request_framing,
};
use crate::server::Shared;
use crate::stream::{HandshakeError, Stream, accept_tls};
use bytes::{Buf, Bytes, BytesMut};
use http::{HeaderMap, Method, Version};
use rustls::ServerConfig;
use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::Arc;
use std::time::Duration;

/// The most bytes a lingering close reads and discards.
const LINGER_MAX_BYTES: usize = 1024 * 1024;

/// How a connection ends.
#[derive(Debug, Clone, Copy)]
struct End {
    reason: ServerCloseReason,
    /// Read and discard input for a while before closing (a response was sent and the
    /// client may have sent more).
    linger: bool,
}

impl End {
    fn now(reason: ServerCloseReason) -> Self {
        End {
            reason,
            linger: false,
        }
    }

    fn linger(reason: ServerCloseReason) -> Self {
        End {
            reason,
            linger: true,
        }
    }
}

/// Why reading a request stopped.
#[derive(Debug)]
enum ReadError {
    /// The client closed before the first byte of a request.
    Eof,
    /// The idle timeout ran out before the first byte of a request.
    Idle,
    /// Malformed input, over a limit, or closed in the middle of a request.
    Protocol(String),
    Io(io::Error),
}

/// Serves connection `id` until it closes, then records why.
pub(crate) fn serve(shared: &Shared, tcp: TcpStream, id: usize) {
    let stream = match &shared.config.tls {
        None => Stream::Plain(tcp),
        Some(tls) => match handshake(shared, Arc::clone(tls), tcp, id) {
            Some(stream) => stream,
            None => return,
        },
    };
    let mut conn = Connection {
        shared,
        stream,
        id,
        buf: BytesMut::with_capacity(8 * 1024),
        requests: 0,
        read_timeout: None,
    };
    let end = conn.run();
    conn.finish(end);
}

/// The TLS handshake of connection `id`: its stream, or `None` once a failed handshake
/// has been recorded and its connection closed.
fn handshake(shared: &Shared, tls: Arc<ServerConfig>, tcp: TcpStream, id: usize) -> Option<Stream> {
    // A client that connects and never says hello is as idle as one that never sends
    // a request.
    let failure = match accept_tls(tls, tcp, shared.config.idle_timeout) {
        Ok((stream, info)) => {
            shared.recorder.tls_established(id, info);
            return Some(stream);
        }
        Err(failure) => failure,
    };
    let shutdown = shared.signal.is_triggered();
    let reason = match &failure.error {
        _ if shutdown => ServerCloseReason::Shutdown,
        HandshakeError::Closed => ServerCloseReason::ClientClosed,
        HandshakeError::Idle => ServerCloseReason::IdleTimeout,
        HandshakeError::Failed(message) => {
            let message = format!("TLS handshake failed: {message}");
            shared.recorder.tls_failed(id, message);
            ServerCloseReason::TlsHandshakeFailed
        }
    };
    shared.recorder.connection_closed(id, reason);
    failure.close(if shutdown {
        Duration::ZERO
    } else {
        shared.config.linger
    });
    None
}

struct Connection<'a> {
    shared: &'a Shared,
    stream: Stream,
    id: usize,
    buf: BytesMut,
    /// Requests read so far.
    requests: usize,
    /// The socket's current read timeout, to skip needless `setsockopt` calls.
    read_timeout: Option<Duration>,
}

impl Connection<'_> {
    fn run(&mut self) -> End {
        loop {
            if self.shared.signal.is_triggered() {
                return End::now(ServerCloseReason::Shutdown);
            }
            let head = match self.read_head() {
                Ok(head) => head,
                Err(e) => return self.read_failed(e),
            };
            if let Some(end) = self.exchange(head) {
                return end;
            }
        }
    }

    /// One request and its reply. `None`: keep the connection for the next request.
    fn exchange(&mut self, head: Head) -> Option<End> {
        let shared = self.shared;
        let config = &shared.config;
        let index = self.requests;
        self.requests += 1;
        let nth = self.requests;
        let framing = match request_framing(&head.headers) {
            Ok(framing) => framing,
            Err(message) => return Some(self.read_failed(ReadError::Protocol(message))),
        };

        // The first reason to close wins; `announce` says whether the client is told.
        let mut close: Option<ServerCloseReason> = None;
        let mut announce = false;
        let mut read_body = true;
        if framing.has_body() && head.version == Version::HTTP_11 && expects_continue(&head.headers)
        {
            match config.expect_continue {
                ExpectContinue::Continue => {
                    if let Err(e) = self.write(&continue_line(head.version)) {
                        return Some(self.io_failed(e));
                    }
                }
                ExpectContinue::Ignore => {}
                ExpectContinue::FinalResponse => {
                    read_body = false;
                    close.get_or_insert(ServerCloseReason::ExpectationNotMet);
                    announce = true;
                }
            }
        }
        let (body, trailers) = if read_body {
            match self.read_body(framing) {
                Ok(decoded) => decoded,
                Err(e) => return Some(self.read_failed(e)),
            }
        } else {
            (Bytes::new(), HeaderMap::new())
        };

        let head_request = head.method == Method::HEAD;
        let client_close = has_connection_option(&head.headers, "close");
        let http10_close =
            head.version == Version::HTTP_10 && !has_connection_option(&head.headers, "keep-alive");
        let request = RecordedRequest {
            method: head.method,
            target: head.target,
            version: head.version,
            headers: head.headers,
            body,
            trailers,
            connection: self.id,
            index_on_connection: index,
        };
        self.shared.recorder.request_received(&request);

        let silent = config.silent_close.filter(|&(at, _)| at == nth);
        if let Some((_, SilentClose::WithoutResponse)) = silent {
            return Some(End::now(ServerCloseReason::SilentClose));
        }

        let reply = match catch_unwind(AssertUnwindSafe(|| shared.routes.respond(&request))) {
            Ok(reply) => reply,
            Err(_) => {
                self.shared.recorder.error(
                    Some(self.id),
                    format!("handler panicked on {} {}", request.method, request.target),
                );
                close.get_or_insert(ServerCloseReason::HandlerPanicked);
                announce = true;
                Reply::new(500u16)
            }
        };

        let mut close_if = |condition: bool, reason: ServerCloseReason, tell: bool| {
            if condition {
                close.get_or_insert(reason);
                announce |= tell;
            }
        };
        close_if(client_close, ServerCloseReason::ClientAskedClose, true);
        close_if(http10_close, ServerCloseReason::Http10Request, false);
        let ambiguous = matches!(
            framing,
            BodyFraming::Chunked {
                with_content_length: true
            }
        );
        close_if(ambiguous, ServerCloseReason::AmbiguousFraming, true);
        close_if(
            config.close_after == Some(nth),
            ServerCloseReason::CloseAfter,
            true,
        );
        close_if(silent.is_some(), ServerCloseReason::SilentClose, false);
        close_if(reply.connection_close, ServerCloseReason::ReplyClosed, true);
        close_if(reply.then_close, ServerCloseReason::ReplyClosed, false);
        if matches!(reply.action, Action::Respond) {
            let http10 = reply.version == Version::HTTP_10 && !reply_keeps_alive(&reply);
            close_if(http10, ServerCloseReason::Http10Reply, false);
            let delimited = matches!(reply.framing, Framing::CloseDelimited);
            close_if(delimited, ServerCloseReason::CloseDelimitedBody, false);
        }

        if let Some(delay) = reply.delay {
            if self.shared.signal.wait_timeout(delay) {
                return Some(End::now(ServerCloseReason::Shutdown));
            }
        }
        match &reply.action {
            Action::NoResponse => return Some(End::now(ServerCloseReason::ReplyClosed)),
            Action::Stall => return Some(self.stall()),
            Action::Raw(bytes) => {
                self.shared.recorder.response_sent();
                if let Err(e) = self.write(bytes) {
                    return Some(self.io_failed(e));
                }
            }
            Action::Respond => {
                let wire = encode(&reply, head_request, announce);
                let cut = |n: usize| wire.bytes.len().min(wire.head_len.saturating_add(n));
                let len = match reply.ending {
                    Ending::Complete => wire.bytes.len(),
                    Ending::Truncate(n) | Ending::StallAfter(n) => cut(n),
                };
                self.shared.recorder.response_sent();
                if let Err(e) = self.write(&wire.bytes[..len]) {
                    return Some(self.io_failed(e));
                }
                match reply.ending {
                    Ending::Complete => {}
                    Ending::Truncate(_) => {
                        return Some(End::linger(ServerCloseReason::TruncatedBody));
                    }
                    Ending::StallAfter(_) => return Some(self.stall()),
                }
            }
        }
        close.map(End::linger)
    }

    /// Reads the next request head. Waits for its first byte at most the idle timeout.
    fn read_head(&mut self) -> Result<Head, ReadError> {
        let limits = self.shared.config.limits;
        loop {
            if !self.buf.is_empty() {
                if let Some((head, consumed)) =
                    parse_head(&self.buf, &limits).map_err(ReadError::Protocol)?
                {
                    self.buf.advance(consumed);
                    return Ok(head);
                }
            }
            let idle = self
                .shared
                .config
                .idle_timeout
                .filter(|_| self.buf.is_empty());
            self.set_read_timeout(idle).map_err(ReadError::Io)?;
            match self.fill() {
                Ok(0) if self.buf.is_empty() => return Err(ReadError::Eof),
                Ok(0) => {
                    return Err(ReadError::Protocol(format!(
                        "connection closed after {} bytes of a request head",
                        self.buf.len()
                    )));
                }
                Ok(_) => {}
                Err(e) if idle.is_some() && is_timeout(&e) => return Err(ReadError::Idle),
                Err(e) if self.buf.is_empty() && is_disconnect(&e) => return Err(ReadError::Eof),
                Err(e) => return Err(ReadError::Io(e)),
            }
        }
    }

    /// Reads and decodes a request body.
    fn read_body(&mut self, framing: BodyFraming) -> Result<(Bytes, HeaderMap), ReadError> {
        let limits = self.shared.config.limits;
        if framing.has_body() {
            // The idle timeout may still be set if the head came in one read; a body
            // has no deadline.
            self.set_read_timeout(None).map_err(ReadError::Io)?;
        }
        match framing {
            BodyFraming::Empty => Ok((Bytes::new(), HeaderMap::new())),
            BodyFraming::Length(len) => {
                let len = usize::try_from(len)
                    .ok()
                    .filter(|&len| len <= limits.max_body_bytes)
                    .ok_or_else(|| {
                        ReadError::Protocol(format!(
                            "request body of {len} bytes exceeds the limit of {}",
                            limits.max_body_bytes
                        ))
                    })?;
                while self.buf.len() < len {
                    if self.fill().map_err(ReadError::Io)? == 0 {
                        return Err(ReadError::Protocol(format!(
                            "connection closed after {} of {len} request body bytes",
                            self.buf.len()
                        )));
                    }
                }
                Ok((self.buf.split_to(len).freeze(), HeaderMap::new()))
            }
            BodyFraming::Chunked { .. } => {
                let mut decoder = ChunkedDecoder::new(limits.max_body_bytes, limits.max_head_bytes);
                while !decoder.decode(&mut self.buf).map_err(ReadError::Protocol)? {
                    if self.fill().map_err(ReadError::Io)? == 0 {
                        return Err(ReadError::Protocol(String::from(
                            "connection closed in the middle of a chunked request body",
                        )));
                    }
                }
                Ok(decoder.finish())
            }
        }
    }

    /// Holds the connection, discarding input, until the client closes it or shutdown.
    fn stall(&mut self) -> End {
        let _ = self.set_read_timeout(None);
        let mut scratch = [0u8; 4096];
        loop {
            match self.stream.read(&mut scratch) {
                Ok(0) => break,
                Ok(_) => {}
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => break,
            }
        }
        End::now(if self.shared.signal.is_triggered() {
            ServerCloseReason::Shutdown
        } else {
            ServerCloseReason::ClientClosed
        })
    }

    fn read_failed(&self, error: ReadError) -> End {
        if self.shared.signal.is_triggered() {
            return End::now(ServerCloseReason::Shutdown);
        }
        match error {
            ReadError::Eof => End::now(ServerCloseReason::ClientClosed),
            ReadError::Idle => End::now(ServerCloseReason::IdleTimeout),
            ReadError::Protocol(message) => {
                self.shared.recorder.error(Some(self.id), message);
                End::now(ServerCloseReason::ProtocolError)
            }
            ReadError::Io(e) => self.io_failed(e),
        }
    }

    /// A failed read or write: recorded unless it is the client going away.
    fn io_failed(&self, error: io::Error) -> End {
        if self.shared.signal.is_triggered() {
            return End::now(ServerCloseReason::Shutdown);
        }
        if !is_disconnect(&error) {
            self.shared
                .recorder
                .error(Some(self.id), format!("I/O error: {error}"));
        }
        End::now(ServerCloseReason::Io)
    }

    /// Records the close, then closes: `close_notify` in TLS unless the close stands
    /// for a failure, FIN, then a lingering read if asked.
    fn finish(mut self, end: End) {
        let reason = if self.shared.signal.is_triggered() {
            ServerCloseReason::Shutdown
        } else {
            end.reason
        };
        self.shared.recorder.connection_closed(self.id, reason);
        self.stream.close_write(sends_close_notify(reason));
        let linger = self.shared.config.linger;
        if end.linger && !linger.is_zero() && !self.shared.signal.is_triggered() {
            if self.set_read_timeout(Some(linger)).is_err() {
                return;
            }
            let mut scratch = [0u8; 4096];
            let mut discarded = 0;
            while discarded < LINGER_MAX_BYTES {
                match self.stream.read_raw(&mut scratch) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => discarded += n,
                }
            }
        }
    }

    fn fill(&mut self) -> io::Result<usize> {
        let mut chunk = [0u8; 16 * 1024];
        loop {
            match self.stream.read(&mut chunk) {
                Ok(n) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    return Ok(n);
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(e) => return Err(e),
            }
        }
    }

    fn write(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.stream.write_all(bytes)?;
        self.stream.flush()
    }

    fn set_read_timeout(&mut self, timeout: Option<Duration>) -> io::Result<()> {
        if self.read_timeout != timeout {
            self.stream.set_read_timeout(timeout)?;
            self.read_timeout = timeout;
        }
        Ok(())
    }
}

/// Whether a TLS close for `reason` is announced with `close_notify`: every close the
/// server makes on purpose is, so a client can tell it from a truncation; a body cut
/// short on purpose and a failed transport are not, as when a connection breaks.
fn sends_close_notify(reason: ServerCloseReason) -> bool {
    !matches!(
        reason,
        ServerCloseReason::TruncatedBody | ServerCloseReason::Io
    )
}

/// Whether an HTTP/1.0 reply asks to keep the connection (`Connection: keep-alive`).
fn reply_keeps_alive(reply: &Reply) -> bool {
    reply.headers.iter().any(|(name, value)| {
        name.eq_ignore_ascii_case(b"connection")
            && value
                .split(|&b| b == b',')
                .any(|t| t.trim_ascii().eq_ignore_ascii_case(b"keep-alive"))
    })
}

fn is_timeout(e: &io::Error) -> bool {
    matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut)
}

/// The client went away (reset, aborted, broken pipe): not the server's problem.
fn is_disconnect(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        ErrorKind::ConnectionReset
            | ErrorKind::ConnectionAborted
            | ErrorKind::BrokenPipe
            | ErrorKind::UnexpectedEof
    )
}
