//! One connection, on its own thread: in TLS mode the handshake first; then wait for a
//! request's first byte (where the emulated middlebox may reset a forgotten flow), read
//! the request (head, then body by its framing), record it, pick the reply, decide
//! whether to close, write, repeat. The HTTP code sees only a [`Stream`], plain or TLS.
//!
//! Nothing a client sends can panic this code: every malformed or oversized input
//! becomes a recorded error and a close with [`ServerCloseReason::ProtocolError`].

use crate::builder::{ExpectContinue, SilentClose};
use crate::chunked::ChunkedDecoder;
use crate::close::ServerCloseReason;
use crate::encode::{continue_line, encode};
use crate::middlebox::{IdleSince, Verdict};
use crate::record::DroppedRequest;
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

/// How much a single read of a request asks the stream for.
const READ_CHUNK: usize = 16 * 1024;

/// How a connection ends.
#[derive(Debug, Clone, Copy)]
struct End {
    reason: ServerCloseReason,
    closing: Closing,
}

/// What the server does to the socket once the close is recorded.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Closing {
    /// `close_notify` (TLS, unless the reason is a failure), FIN, close.
    Now,
    /// As `Now`, then read and discard input for a while before closing (a response
    /// was sent and the client may have sent more).
    Linger,
    /// Nothing: no `close_notify`, no FIN. The socket is dropped with input unread, so
    /// the kernel answers it with a reset (RFC 2525 §2.17), as a middlebox answers a
    /// segment of a flow it has forgotten. (`SO_LINGER` 0 would say it directly, but
    /// std has it only unstable and the crate has no `socket2`.)
    Reset,
}

impl End {
    fn now(reason: ServerCloseReason) -> Self {
        End {
            reason,
            closing: Closing::Now,
        }
    }

    fn linger(reason: ServerCloseReason) -> Self {
        End {
            reason,
            closing: Closing::Linger,
        }
    }

    fn reset(reason: ServerCloseReason) -> Self {
        End {
            reason,
            closing: Closing::Reset,
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
    /// The first byte of a request came after an idle period that made the middlebox
    /// forget the flow. The byte is still unread.
    Forgotten {
        idle: Duration,
        limit: Duration,
    },
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
        scratch: vec![0; READ_CHUNK].into_boxed_slice(),
        requests: 0,
        read_timeout: None,
        idle_since: None,
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
    /// Where a read lands before its bytes are appended to `buf`: zeroed once, with the
    /// connection, not before every read.
    scratch: Box<[u8]>,
    /// Requests read so far.
    requests: usize,
    /// The socket's current read timeout, to skip needless `setsockopt` calls.
    read_timeout: Option<Duration>,
    /// When the idle period before the next request began: when the last response was
    /// written. `None` before the first.
    idle_since: Option<IdleSince>,
}

impl Connection<'_> {
    fn run(&mut self) -> End {
        loop {
            if self.shared.signal.is_triggered() {
                return End::now(ServerCloseReason::Shutdown);
            }
            let idle_before = match self.await_request() {
                Ok(idle) => idle,
                Err(e) => return self.read_failed(e),
            };
            let head = match self.read_head() {
                Ok(head) => head,
                Err(e) => return self.read_failed(e),
            };
            if let Some(end) = self.exchange(head, idle_before) {
                return end;
            }
        }
    }

    /// One request and its reply. `None`: keep the connection for the next request.
    fn exchange(&mut self, head: Head, idle_before: Option<Duration>) -> Option<End> {
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
            idle_before,
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

        if let Some(delay) = reply.delay
            && self.shared.signal.wait_timeout(delay)
        {
            return Some(End::now(ServerCloseReason::Shutdown));
        }
        match &reply.action {
            Action::NoResponse => return Some(End::now(ServerCloseReason::ReplyClosed)),
            Action::Stall => return Some(self.stall()),
            Action::Raw(bytes) => {
                self.response_starts();
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
                self.response_starts();
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

    /// A response is about to be written: counts it, and begins the idle period that
    /// the next request's first byte ends (before the bytes leave, so that a client
    /// which has read them finds the period begun).
    fn response_starts(&mut self) {
        self.shared.recorder.response_sent();
        self.idle_since = Some(self.shared.middlebox.idle_begins());
    }

    /// Waits for the first byte of the next request, at most the idle timeout; then the
    /// middlebox judges the idle period before it. After a watched idle period the byte
    /// is left unread, so that a reset can follow. `Ok`: the request is delivered,
    /// after that much idle time (`None` for the first request on the connection,
    /// which follows no idle period).
    fn await_request(&mut self) -> Result<Option<Duration>, ReadError> {
        let since = self.idle_since.take();
        if !self.buf.is_empty() || self.stream.has_buffered_input() {
            // Pipelined: it arrived before the previous response was written.
            return Ok(since.map(|_| Duration::ZERO));
        }
        let idle_timeout = self.shared.config.idle_timeout;
        self.set_read_timeout(idle_timeout).map_err(ReadError::Io)?;
        let arrived = if since.is_some_and(|since| since.watched()) {
            self.stream.wait_for_input()
        } else {
            self.fill().map(|n| n > 0)
        };
        match arrived {
            Ok(true) => {}
            Ok(false) => return Err(ReadError::Eof),
            Err(e) if idle_timeout.is_some() && is_timeout(&e) => return Err(ReadError::Idle),
            Err(e) if is_disconnect(&e) => return Err(ReadError::Eof),
            Err(e) => return Err(ReadError::Io(e)),
        }
        match since.map(|since| self.shared.middlebox.first_byte(since)) {
            None => Ok(None),
            Some(Verdict::Deliver(idle)) => Ok(Some(idle)),
            Some(Verdict::Forget { idle, limit }) => Err(ReadError::Forgotten { idle, limit }),
        }
    }

    /// Reads the next request head, once [`await_request`](Self::await_request) has
    /// seen its first byte.
    fn read_head(&mut self) -> Result<Head, ReadError> {
        let limits = self.shared.config.limits;
        loop {
            if !self.buf.is_empty()
                && let Some((head, consumed)) =
                    parse_head(&self.buf, &limits).map_err(ReadError::Protocol)?
            {
                self.buf.advance(consumed);
                return Ok(head);
            }
            // Once a request has begun there is no deadline.
            self.set_read_timeout(None).map_err(ReadError::Io)?;
            match self.fill() {
                Ok(0) if self.buf.is_empty() => return Err(ReadError::Eof),
                Ok(0) => {
                    return Err(ReadError::Protocol(format!(
                        "connection closed after {} bytes of a request head",
                        self.buf.len()
                    )));
                }
                Ok(_) => {}
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
            ReadError::Forgotten { idle, limit } => {
                self.shared.recorder.request_dropped(DroppedRequest {
                    connection: self.id,
                    index_on_connection: self.requests,
                    idle,
                    limit,
                });
                End::reset(ServerCloseReason::SilentDrop)
            }
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

    /// Records the close, then closes as `end` says: see [`Closing`].
    fn finish(mut self, end: End) {
        let reason = if self.shared.signal.is_triggered() {
            ServerCloseReason::Shutdown
        } else {
            end.reason
        };
        self.shared.recorder.connection_closed(self.id, reason);
        if end.closing == Closing::Reset {
            // Dropping the stream (and the signal's clone, once the thread's guard
            // unregisters it) closes the socket with the request unread: a reset.
            return;
        }
        self.stream.close_write(sends_close_notify(reason));
        let linger = self.shared.config.linger;
        if end.closing == Closing::Linger && !linger.is_zero() && !self.shared.signal.is_triggered()
        {
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
        loop {
            match self.stream.read(&mut self.scratch) {
                Ok(n) => {
                    self.buf.extend_from_slice(&self.scratch[..n]);
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
        ServerCloseReason::TruncatedBody | ServerCloseReason::Io | ServerCloseReason::SilentDrop
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
