//! The response body: a `Read` that gives its connection back at its end.

use std::fmt;
use std::io::{self, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use bytes::{Buf, Bytes};
use hcx_h1::BodyDecoder;
use http::HeaderMap;

use hcx_close::CloseReason;

use crate::config::RequestConfig;
use crate::connection::Connection;
use crate::error::{Error, ErrorKind, Facts, RequestProgress};
use crate::info::ResponseInfo;
use crate::runtime::ExecRuntime;

/// How far one read of a drain may run past the drain deadline.
const DRAIN_SLACK: Duration = Duration::from_millis(5);
/// Reads into a caller's buffer at least this large skip the connection's buffer.
const DIRECT_READ_MIN: usize = 8 * 1024;

/// The body of a response, read with [`Read`].
///
/// It owns the request's [`ExecRuntime`] while the body streams. At the body's end the
/// connection is released — to the pool if reusable — *before* the last bytes (or the
/// final `Ok(0)`) are returned, so a loop of requests that reads each body to its end
/// reuses one connection. A read error discards the connection. Dropping it before
/// its end drains at most `drain_limit` bytes within `drain_timeout` (from the
/// [`RequestConfig`]) to keep the connection, and closes it otherwise
/// ([`CloseReason::UnreadBody`]); [`discard`](Self::discard) closes it without
/// reading on. Nothing leaks.
///
/// A read error comes out of `Read` as an [`io::Error`] carrying the [`Error`]
/// ([`Error::from_io`] takes it back), and every later read reports the same error.
///
/// It is `Send`, not `Sync`: move it to another thread to read it there, but it is
/// read by one thread at a time (a `Response<ResponseBody>` shared by reference across
/// threads needs a lock around it).
///
/// Apache HttpClient: the response entity's content stream with its
/// `EofSensorInputStream` / `ResponseEntityProxy`.
#[doc(alias("HttpEntity", "CloseableHttpResponse"))]
pub struct ResponseBody {
    state: State,
    /// Boxed: rare, and a `HeaderMap` inline would make every response 88 bytes
    /// larger to move through the chain.
    trailers: Option<Box<HeaderMap>>,
    /// How the exchange got here, for every error the body reports.
    facts: Facts,
    /// What the engine tells about the connection ([`ResponseInfo::of`]). Inline:
    /// boxed, it cost an allocation and its free on every response, 166 instructions
    /// per request more than the larger response it makes inline, whose moves by
    /// `memcpy` (129 to 256 bytes in the same eight vector moves) cost no more
    /// (docs/benchmarks.md, "Session 16").
    info: Option<ResponseInfo>,
}

enum State {
    /// Nothing more to read; the connection (if any) is released.
    Done,
    /// The last bytes, the connection already released.
    Tail(Bytes),
    /// Reading from the connection.
    Streaming(Box<Streaming>),
    /// A read failed; the connection was discarded. Later reads report the same.
    Failed(Error),
    /// Another reader over the body (a content decoder around the original body),
    /// and the signal that makes the original close rather than drain when the
    /// reader drops it (`None`: the original holds no connection and has no trailers).
    Wrapped(Box<dyn Read + Send>, Option<DiscardSignal>),
}

struct Streaming {
    runtime: ExecRuntime,
    decoder: BodyDecoder,
    pending: Bytes,
    drain_limit: u64,
    drain_timeout: Duration,
    /// Set when this body is wrapped ([`ResponseBody::map_reader`]): raised when the
    /// wrapping body is discarded.
    discard_signal: Option<DiscardSignal>,
}

/// What a body wrapped by [`ResponseBody::map_reader`] shares with the body that wraps
/// it: the wrapping body can reach the original only by dropping the reader that owns
/// it, so [`ResponseBody::discard`] raises this first, and the original, dropped,
/// closes its connection instead of draining it. The original also leaves its
/// trailers here at its end, for the wrapping body to show at its own end.
#[derive(Clone, Default)]
struct DiscardSignal(Arc<Shared>);

#[derive(Default)]
struct Shared {
    raised: AtomicBool,
    trailers: std::sync::Mutex<Option<Box<HeaderMap>>>,
}

impl DiscardSignal {
    fn raise(&self) {
        self.0.raised.store(true, Ordering::Release);
    }

    fn is_raised(&self) -> bool {
        self.0.raised.load(Ordering::Acquire)
    }

    fn set_trailers(&self, trailers: &HeaderMap) {
        let mut slot = self.0.trailers.lock().unwrap_or_else(|p| p.into_inner());
        *slot = Some(Box::new(trailers.clone()));
    }

    /// The original body's trailers, once it has reached its end.
    fn trailers(&self) -> Option<Box<HeaderMap>> {
        self.0
            .trailers
            .lock()
            .unwrap_or_else(|p| p.into_inner())
            .clone()
    }
}

impl ResponseBody {
    /// A body of your own, already in memory: for a handler that answers a request
    /// itself instead of passing it down the chain (a cache, a stub, a refusal with a
    /// body). It holds no connection: it has no [`info`](Self::info), its
    /// [`request_progress`](Self::request_progress) is `NotStarted`, and reading,
    /// dropping or [`discard`](Self::discard)ing it touches no pool. Apache: a
    /// handler's own `ClassicHttpResponse` with a `ByteArrayEntity`.
    ///
    /// ```
    /// let body = hcx_exec::ResponseBody::from_bytes("cached");
    /// assert_eq!(body.into_string()?, "cached");
    /// # Ok::<(), hcx_exec::Error>(())
    /// ```
    #[doc(alias("ByteArrayEntity"))]
    pub fn from_bytes(bytes: impl Into<Bytes>) -> Self {
        let bytes = bytes.into();
        ResponseBody::made(if bytes.is_empty() {
            State::Done
        } else {
            State::Tail(bytes)
        })
    }

    /// A body of your own read from `reader`, as [`from_bytes`](Self::from_bytes) but
    /// streamed: its read errors come out of [`Read`] as they are, and a read that
    /// claims more bytes than the buffer it was given is an [`ErrorKind::Io`] error,
    /// not a panic in the caller's `read_to_end`. Apache: an
    /// `InputStreamEntity`.
    #[doc(alias("InputStreamEntity"))]
    pub fn from_reader(reader: impl Read + Send + 'static) -> Self {
        ResponseBody::made(State::Wrapped(Box::new(reader), None))
    }

    /// A body in `state` that no exchange made: no facts, no connection.
    fn made(state: State) -> Self {
        ResponseBody {
            state,
            trailers: None,
            facts: Facts::default(),
            info: None,
        }
    }

    /// A body with nothing in it, at the end of an exchange that had none.
    pub(crate) fn empty(facts: Facts, info: Option<ResponseInfo>) -> Self {
        ResponseBody {
            state: State::Done,
            trailers: None,
            facts: Facts {
                response_started: true,
                ..facts
            },
            info,
        }
    }

    /// A body reading `decoder`'s framing from `runtime`'s connection, carrying `info`
    /// (built here, in place, rather than set on the body afterwards: a second move of
    /// the whole body).
    pub(crate) fn streaming(
        runtime: ExecRuntime,
        decoder: BodyDecoder,
        config: &RequestConfig,
        facts: Facts,
        info: Option<ResponseInfo>,
    ) -> Self {
        ResponseBody {
            state: State::Streaming(Box::new(Streaming {
                runtime,
                decoder,
                pending: Bytes::new(),
                drain_limit: config.drain_limit,
                drain_timeout: config.drain_timeout,
                discard_signal: None,
            })),
            trailers: None,
            facts: Facts {
                response_started: true,
                ..facts
            },
            info,
        }
    }

    /// How much of the request had been written when this response came:
    /// [`Complete`](RequestProgress::Complete), or
    /// [`Partial`](RequestProgress::Partial) when the server answered before the
    /// request body was sent (an early `413`). `NotStarted` for a body the engine did
    /// not make.
    pub fn request_progress(&self) -> RequestProgress {
        self.facts.progress
    }

    /// What the engine tells about the connection this body's response came on: how
    /// it was obtained and whether it is kept. `None` for a body the engine did not
    /// make. [`ResponseInfo::of`] reads it from a response.
    pub fn info(&self) -> Option<&ResponseInfo> {
        self.info.as_ref()
    }

    /// This body seen through another reader, for layers that transform a body on its
    /// way to the caller (a content decoder): `f` gets this body and returns a reader
    /// over it. The original keeps releasing its connection at its own end and draining
    /// or closing it when dropped; [`discard`](Self::discard) on the new body closes
    /// it without reading on, as on the original. Errors keep the exchange's facts,
    /// and its [`info`](Self::info) moves to the new body (the original handed to `f`
    /// no longer carries it). Trailers of the original body are visible through the new
    /// one once it has reached its end.
    ///
    /// ```
    /// # use std::io::Read;
    /// # fn upper(body: hcx_exec::ResponseBody) -> hcx_exec::ResponseBody {
    /// // A layer that reads the body through a decoder of its own.
    /// body.map_reader(|original| original.take(1024))
    /// # }
    /// ```
    pub fn map_reader<R, F>(mut self, f: F) -> Self
    where
        F: FnOnce(ResponseBody) -> R,
        R: Read + Send + 'static,
    {
        let facts = self.facts;
        let info = self.info.take();
        let signal = match &mut self.state {
            State::Streaming(s) => Some(s.discard_signal.get_or_insert_default().clone()),
            State::Wrapped(_, signal) => signal.clone(),
            // Read to its end already: its trailers, if any, for the new body's end.
            State::Done | State::Tail(_) | State::Failed(_) => {
                self.trailers.as_deref().map(|trailers| {
                    let signal = DiscardSignal::default();
                    signal.set_trailers(trailers);
                    signal
                })
            }
        };
        ResponseBody {
            state: State::Wrapped(Box::new(f(self)), signal),
            trailers: None,
            facts,
            info,
        }
    }

    /// Whether the body has been read to its end (or failed): its connection is no
    /// longer held.
    pub fn is_end(&self) -> bool {
        !matches!(self.state, State::Streaming(_) | State::Wrapped(..))
    }

    /// Whether no byte is left to read from it: read to its end, empty from the start
    /// (a `HEAD` response's, a `204`'s), or failed. Unlike [`is_end`](Self::is_end),
    /// false for the bytes left after the connection was released, and for a body of
    /// your own made [`from_bytes`](Self::from_bytes) with some.
    pub fn is_exhausted(&self) -> bool {
        matches!(self.state, State::Done | State::Failed(_))
    }

    /// The trailer fields of a chunked body, once read to its end.
    pub fn trailers(&self) -> Option<&HeaderMap> {
        self.trailers.as_deref()
    }

    /// Reads the rest of the body into memory.
    #[doc(alias("toByteArray"))]
    pub fn into_vec(mut self) -> Result<Vec<u8>, Error> {
        let mut out = Vec::new();
        if let State::Streaming(s) = &self.state
            && let Some(n) = s.decoder.remaining()
        {
            // One byte more than the body: room for a read that reaches its end to
            // see bytes past it (`read_direct`) in the same call.
            let n = usize::try_from(n).unwrap_or(0).saturating_add(1);
            out.reserve(n.min(1 << 20));
        }
        // Decoded runs are appended as they come, without `Read`'s copies through a
        // probe buffer: a small body, already in the connection's buffer with the
        // head, is one copy. A large one read from the socket goes by `Read` below,
        // straight into `out` (`read_direct`).
        loop {
            match &mut self.state {
                State::Done => return Ok(out),
                State::Tail(tail) => {
                    out.extend_from_slice(tail);
                    self.state = State::Done;
                    return Ok(out);
                }
                State::Streaming(s) if !s.pending.is_empty() => {
                    out.extend_from_slice(&s.pending);
                    s.pending.clear();
                }
                State::Streaming(s)
                    if !(s.can_read_direct()
                        && s.decoder
                            .remaining()
                            .is_some_and(|rest| rest >= DIRECT_READ_MIN as u64)) =>
                {
                    let taken = self.take_buffered(|data| {
                        out.extend_from_slice(data);
                        data.len()
                    });
                    if taken.is_none() {
                        self.advance()?;
                    }
                }
                State::Streaming(_) | State::Failed(_) | State::Wrapped(..) => break,
            }
        }
        self.read_to_end(&mut out).map_err(Error::from_io)?;
        Ok(out)
    }

    /// Reads the rest of the body into memory.
    pub fn into_bytes(self) -> Result<Bytes, Error> {
        self.into_vec().map(Bytes::from)
    }

    /// Reads the rest of the body as UTF-8 text; other bytes are an
    /// [`Utf8`](ErrorKind::Utf8) error (the body was read whole: the connection is
    /// released as usual). The `Content-Type` charset is not looked at: for another
    /// charset, or to replace bad bytes as Apache's `EntityUtils.toString` does, take
    /// [`into_vec`](Self::into_vec) and decode it.
    #[doc(alias("toString"))]
    pub fn into_string(self) -> Result<String, Error> {
        let self_facts = self.facts;
        String::from_utf8(self.into_vec()?).map_err(|e| {
            Error::new(
                ErrorKind::Utf8,
                format!(
                    "the response body is not UTF-8 (valid up to byte {})",
                    e.utf8_error().valid_up_to()
                ),
            )
            .with_source(e)
            .with_facts(self_facts)
        })
    }

    /// Closes the connection now without reading the rest (for a body nobody wants,
    /// or one too large to drain), as [`CloseReason::UnreadBody`]; a connection the
    /// response already said to close is closed for that reason, the one its
    /// [`ResponseInfo`] gives. A body seen through another reader
    /// ([`map_reader`](Self::map_reader), a decoded body) closes the original's
    /// connection the same way. Apache: `response.close()` without consuming.
    #[doc(alias("close"))]
    pub fn discard(mut self) {
        match std::mem::replace(&mut self.state, State::Done) {
            State::Streaming(s) => s.close_unread(),
            State::Wrapped(reader, signal) => {
                if let Some(signal) = signal {
                    signal.raise();
                }
                // The original body goes with the reader: dropped, it sees the signal.
                drop(reader);
            }
            State::Done | State::Tail(_) | State::Failed(_) => {}
        }
    }

    /// Takes the next run of data from the stream; on the body's end releases the
    /// connection (before the data is handed out).
    fn advance(&mut self) -> Result<(), Error> {
        let State::Streaming(s) = &mut self.state else {
            return Ok(());
        };
        let next = s.next_data().map_err(|e| {
            s.runtime
                .if_aborted(e, &s.reading_when())
                .with_facts(self.facts)
        });
        let done = s.decoder.is_done();
        match next {
            Ok(Some(data)) if done => self.finish(Some(data)),
            Ok(Some(data)) => s.pending = data,
            Ok(None) => self.finish(None),
            Err(e) => {
                // Dropping the runtime discards the connection.
                self.state = State::Failed(e.clone());
                return Err(e);
            }
        }
        Ok(())
    }

    /// Hands `sink` the body data already in the connection's buffer (it takes what it
    /// can and says how much) without taking a share of the buffer: the usual small
    /// body, read whole with its head, is one copy, with no `Bytes` made and dropped
    /// (two atomic operations) on the way. What `sink` leaves is kept as `pending`; at
    /// the body's end the connection is released as [`advance`](Self::advance) would.
    /// `None` when nothing was taken (nothing buffered, framing bytes only, or a
    /// framing error, which `decode` gives again): the caller goes on by `advance`.
    fn take_buffered(&mut self, sink: impl FnOnce(&[u8]) -> usize) -> Option<usize> {
        let State::Streaming(s) = &mut self.state else {
            return None;
        };
        if !s.pending.is_empty() || s.decoder.is_done() {
            return None;
        }
        let buf = s.runtime.connection_mut()?.buffer();
        if buf.is_empty() {
            return None;
        }
        let decoded = s.decoder.decode(buf).ok()?;
        let data = decoded.data;
        let taken = if data.is_empty() {
            0
        } else {
            sink(&buf[data.clone()]).min(data.len())
        };
        if taken == data.len() {
            buf.advance(decoded.consumed);
        } else {
            s.pending = buf
                .split_to(decoded.consumed)
                .freeze()
                .slice(data.start + taken..data.end);
        }
        if s.decoder.is_done() {
            let tail = std::mem::take(&mut s.pending);
            self.finish((!tail.is_empty()).then_some(tail));
        }
        (taken > 0).then_some(taken)
    }

    fn finish(&mut self, tail: Option<Bytes>) {
        if let State::Streaming(mut s) = std::mem::replace(&mut self.state, State::Done) {
            self.trailers = s.decoder.take_trailers().map(Box::new);
            // Wrapped: the wrapping body shows them at its own end. A copy: the
            // reader that wraps this body may ask it for them as well.
            if let (Some(signal), Some(trailers)) = (&s.discard_signal, &self.trailers) {
                signal.set_trailers(trailers);
            }
            s.runtime.release_at_body_end(s.decoder.consumed());
            if let Some(tail) = tail {
                self.state = State::Tail(tail);
            }
        }
    }
}

impl Streaming {
    /// Where a body read that an abort (or `shutdown_immediate`) ended was: after how
    /// many bytes, of how many when the length is known.
    fn reading_when(&self) -> String {
        let read = self.decoder.consumed();
        match self.decoder.remaining() {
            Some(rest) => format!(
                "while its response body was read, after {read} of {} bytes",
                read.saturating_add(rest)
            ),
            None => format!("while its response body was read, after {read} bytes"),
        }
    }

    /// Whether the next read can go straight from the socket into the caller's buffer:
    /// a `Content-Length` body with nothing buffered.
    fn can_read_direct(&self) -> bool {
        self.pending.is_empty()
            && self.decoder.remaining().is_some_and(|rest| rest > 0)
            && self
                .runtime
                .connection()
                .is_some_and(|conn| !conn.has_buffered())
    }

    /// Reads body bytes from the socket into `out` without copying them through the
    /// connection's buffer; bytes past the body's end go to that buffer.
    ///
    /// The read asks for as much as `out` holds, not just the rest of the body: bytes
    /// a server sent beyond its `Content-Length` in the same segment must end up in
    /// the connection's buffer, where the release sees them and closes the connection
    /// ([`CloseReason::TrailingBytes`]) as a read through that buffer would. Left in
    /// the socket, they would answer the next request on the connection whenever the
    /// stale probe does not run. A buffer that holds exactly the rest would leave no
    /// room to see them, so its last byte is left to the next read.
    fn read_direct(&mut self, out: &mut [u8]) -> Result<usize, Error> {
        let rest = self.decoder.remaining().unwrap_or(0);
        let rest = usize::try_from(rest).unwrap_or(usize::MAX);
        let ask = if rest == out.len() {
            rest - 1
        } else {
            out.len()
        };
        let conn = self
            .runtime
            .connection_mut()
            .ok_or_else(|| Error::new(ErrorKind::Io, "the response body lost its connection"))?;
        match conn.read_direct(&mut out[..ask]) {
            Ok(0) => {
                // Before the declared length: always an incomplete body.
                self.end_of_stream()?;
                Ok(0)
            }
            Ok(n) => {
                let body = n.min(rest);
                if body < n {
                    conn.buffer().extend_from_slice(&out[body..n]);
                }
                // A length-framed decoder takes all it is given, up to its rest.
                let decoded = self.decoder.decode(&out[..body]).map_err(Error::from_h1)?;
                Ok(decoded.data.len())
            }
            Err(e) => Err(conn.exchange_error(e, "reading the response body")),
        }
    }

    /// The next decoded data (`None`: the body is done), reading the socket as needed.
    fn next_data(&mut self) -> Result<Option<Bytes>, Error> {
        self.next_data_until(None)
    }

    /// [`next_data`](Self::next_data), giving up with a timeout before any read that
    /// would start past `deadline` (framing bytes that yield no data — a trailer
    /// section, chunk extensions — must not keep a drain going past its deadline).
    fn next_data_until(&mut self, deadline: Option<Instant>) -> Result<Option<Bytes>, Error> {
        loop {
            if self.decoder.is_done() {
                return Ok(None);
            }
            let conn = self.runtime.connection_mut().ok_or_else(|| {
                Error::new(ErrorKind::Io, "the response body lost its connection")
            })?;
            if !conn.buffer().is_empty() {
                let data = self
                    .decoder
                    .decode_buf(conn.buffer())
                    .map_err(Error::from_h1)?;
                if !data.is_empty() {
                    return Ok(Some(data));
                }
                if self.decoder.is_done() {
                    return Ok(None);
                }
            }
            if deadline.is_some_and(|d| Instant::now() >= d) {
                return Err(Error::new(
                    ErrorKind::ResponseTimeout,
                    "the drain of the response body reached its deadline",
                ));
            }
            match conn.fill() {
                Ok(0) => self.end_of_stream()?,
                Ok(_) => {}
                Err(e) => return Err(conn.exchange_error(e, "reading the response body")),
            }
        }
    }

    /// The connection's end of stream: the end of a body delimited by the close, or
    /// an incomplete one. After an abort it is the shut-down socket, never the
    /// server's close: an error, not the end of the body.
    fn end_of_stream(&mut self) -> Result<(), Error> {
        self.runtime.check_end_of_stream(|| self.reading_when())?;
        self.decoder.decode_eof().map_err(Error::from_h1)?;
        // A body delimited by the close (the only one an end of stream completes)
        // ends at the peer's word only: TLS without `close_notify` may be a cut.
        if self
            .runtime
            .connection()
            .is_some_and(Connection::end_unconfirmed)
        {
            return Err(Error::new(
                ErrorKind::IncompleteBody,
                format!(
                    "the server closed the connection without a TLS close_notify {}: \
                     the body may be cut short",
                    self.reading_when()
                ),
            ));
        }
        Ok(())
    }

    /// Closes the connection without reading the rest: for the decision's reason when
    /// it was not to be kept anyway (every close has one answer), else as
    /// [`CloseReason::UnreadBody`]. Discarded, not released: a body cut off has no
    /// `released` event, its connection goes straight to `closed`.
    fn close_unread(mut self) {
        let reason = self
            .runtime
            .decision()
            .and_then(|decision| decision.close_reason())
            .unwrap_or(CloseReason::UnreadBody);
        self.runtime.discard(reason);
    }

    /// Reads and drops the rest of the body within the drain limits, then releases
    /// the connection; discards it if the limits are hit or anything fails.
    fn drain(mut self) {
        if !self.runtime.is_reusable() {
            // Nothing to drain for: closed, for the decision's reason.
            self.close_unread();
            return;
        }
        if self.drain_limit == 0 {
            self.runtime.discard(CloseReason::UnreadBody);
            return;
        }
        // No deadline when the timeout is too large to add (effectively forever).
        let deadline = Instant::now().checked_add(self.drain_timeout);
        let response_timeout = self.runtime.connection_mut().and_then(|c| c.timeout());
        let mut drained = 0u64;
        loop {
            if self.decoder.is_done() {
                self.runtime.release_at_body_end(self.decoder.consumed());
                return;
            }
            let left = deadline.map_or(Duration::MAX, |d| {
                d.saturating_duration_since(Instant::now())
            });
            let too_long = self
                .decoder
                .remaining()
                .is_some_and(|rest| drained.saturating_add(rest) > self.drain_limit);
            if left.is_zero() || too_long {
                self.runtime.discard(CloseReason::UnreadBody);
                return;
            }
            let wait = response_timeout.map_or(left, |t| t.min(left));
            let Some(conn) = self.runtime.connection_mut() else {
                return;
            };
            // Checked every step, even with bytes buffered: decoding them (a chunk's
            // CRLF, say) may yield no data and lead straight to a read, which must not
            // wait past the drain deadline (found in review: it waited on the response
            // timeout, which can be none at all). The socket timeout is reset only
            // when it would overshoot the deadline by more than `DRAIN_SLACK`, not on
            // every step (`left` shrinks each time, so that was two system calls a step).
            let overshoots = conn
                .timeout()
                .is_none_or(|t| t > left.saturating_add(DRAIN_SLACK));
            if overshoots && conn.set_timeout(Some(wait)).is_err() {
                self.runtime.discard(CloseReason::FailedExchange);
                return;
            }
            match self.next_data_until(deadline) {
                Ok(Some(data)) => {
                    drained = drained.saturating_add(data.len() as u64);
                    if drained > self.drain_limit {
                        self.runtime.discard(CloseReason::UnreadBody);
                        return;
                    }
                }
                Ok(None) => {
                    self.runtime.release_at_body_end(self.decoder.consumed());
                    return;
                }
                Err(e) => {
                    // A read that timed out is the drain reaching its deadline.
                    let reason = if e.is_timeout() {
                        CloseReason::UnreadBody
                    } else {
                        CloseReason::FailedExchange
                    };
                    self.runtime.discard(reason);
                    return;
                }
            }
        }
    }
}

impl Read for ResponseBody {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        loop {
            match &mut self.state {
                State::Done => return Ok(0),
                State::Failed(error) => return Err(error.clone().into_io()),
                State::Wrapped(reader, signal) => {
                    let error = match reader.read(out) {
                        Ok(0) => {
                            self.trailers = signal.as_ref().and_then(DiscardSignal::trailers);
                            self.state = State::Done;
                            return Ok(0);
                        }
                        Ok(n) if n <= out.len() => return Ok(n),
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        // A `Read` that breaks its contract (a handler's own, given to
                        // `from_reader`) is reported, not handed on to panic the caller.
                        Ok(n) => Error::new(
                            ErrorKind::Io,
                            format!(
                                "the response body reader claimed {n} bytes read into {}",
                                out.len()
                            ),
                        ),
                        Err(e) => Error::from_io(e),
                    }
                    .with_facts(self.facts);
                    self.state = State::Failed(error.clone());
                    return Err(error.into_io());
                }
                State::Tail(tail) => {
                    let n = tail.len().min(out.len());
                    out[..n].copy_from_slice(&tail[..n]);
                    tail.advance(n);
                    if tail.is_empty() {
                        self.state = State::Done;
                    }
                    return Ok(n);
                }
                State::Streaming(s) if !s.pending.is_empty() => {
                    let n = s.pending.len().min(out.len());
                    out[..n].copy_from_slice(&s.pending[..n]);
                    s.pending.advance(n);
                    return Ok(n);
                }
                State::Streaming(s) if out.len() >= DIRECT_READ_MIN && s.can_read_direct() => {
                    let facts = self.facts;
                    let result = s
                        .read_direct(out)
                        .map_err(|e| s.runtime.if_aborted(e, &s.reading_when()).with_facts(facts));
                    let done = s.decoder.is_done();
                    return match result {
                        Ok(n) => {
                            if done {
                                self.finish(None);
                            }
                            Ok(n)
                        }
                        Err(e) => {
                            // Dropping the runtime discards the connection.
                            self.state = State::Failed(e.clone());
                            Err(e.into_io())
                        }
                    };
                }
                State::Streaming(_) => {
                    let taken = self.take_buffered(|data| {
                        let n = data.len().min(out.len());
                        out[..n].copy_from_slice(&data[..n]);
                        n
                    });
                    if let Some(n) = taken {
                        return Ok(n);
                    }
                    self.advance().map_err(Error::into_io)?;
                }
            }
        }
    }
}

impl Drop for ResponseBody {
    fn drop(&mut self) {
        if let State::Streaming(s) = std::mem::replace(&mut self.state, State::Done) {
            if s.discard_signal
                .as_ref()
                .is_some_and(DiscardSignal::is_raised)
            {
                s.close_unread();
            } else {
                s.drain();
            }
        }
    }
}

impl fmt::Debug for ResponseBody {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let state = match &self.state {
            State::Done => "done",
            State::Tail(_) => "tail",
            State::Streaming(_) => "streaming",
            State::Failed(_) => "failed",
            State::Wrapped(..) => "wrapped",
        };
        f.debug_struct("ResponseBody")
            .field("state", &state)
            .finish()
    }
}
