//! Writing the request body through the call's framing.

use std::cell::Cell;
use std::io::{self, Read};
use std::ops::{Deref, DerefMut};

use hcx_h1::{BodyStep, Call, EncodeError, FinalResponse, RecvResponse, SendBody};

use crate::body::Source;
use crate::connection::Connection;
use crate::error::{Error, ErrorKind};
use crate::transport::Written;

/// Bytes bodies up to this size go out in the same write as the head.
const COALESCE_LIMIT: usize = 64 * 1024;
/// How much of a reader body is read at a time (and written: a look for an early
/// answer comes before each write after the first).
const READ_CHUNK: usize = 16 * 1024;
/// The pieces a large bytes body is written in, a look for an early answer before
/// each.
const LOOK_EVERY: usize = 64 * 1024;
/// How many times in a row a body write may wake for input its look then does not
/// find before the rest is written without watching.
const LOOKS_WITHOUT_WRITING: u32 = 16;

thread_local! {
    /// The buffer the last request of this thread was encoded into, kept for the next.
    static SPARE: Cell<Vec<u8>> = const { Cell::new(Vec::new()) };
}

/// The buffer a request head (and a small body) is encoded into before it is written:
/// taken from this thread's spare and given back when dropped, so that sending a
/// request allocates nothing for it once the thread has sent one.
pub(crate) struct WriteBuf(Vec<u8>);

impl WriteBuf {
    /// Capacity above which a buffer is not kept: a head fits many times over, while a
    /// buffer grown for a coalesced body is freed, so that each thread keeps at most
    /// this much (a thousand threads, 4 MiB) however large its last request was.
    const KEEP_AT_MOST: usize = 4 * 1024;

    /// This thread's spare buffer, empty (a new one if another request on this thread
    /// holds it).
    pub(crate) fn take() -> WriteBuf {
        let mut buf = SPARE.take();
        buf.clear();
        if buf.capacity() == 0 {
            buf.reserve(256);
        }
        WriteBuf(buf)
    }
}

impl Deref for WriteBuf {
    type Target = Vec<u8>;
    fn deref(&self) -> &Vec<u8> {
        &self.0
    }
}

impl DerefMut for WriteBuf {
    fn deref_mut(&mut self) -> &mut Vec<u8> {
        &mut self.0
    }
}

impl Drop for WriteBuf {
    fn drop(&mut self) {
        if self.0.capacity() <= Self::KEEP_AT_MOST {
            // `try_with`: during thread teardown the spare may be gone already.
            let buf = std::mem::take(&mut self.0);
            let _ = SPARE.try_with(|spare| spare.set(buf));
        }
    }
}

/// How sending the request ended.
pub(crate) enum Sent {
    /// All of it went out; the response is next.
    Complete(Call<RecvResponse>),
    /// The server hung up while it was going out. It may have answered first (a 413,
    /// a 401): the call reads on, the request marked incomplete; `error` is what to
    /// report if no answer comes.
    Interrupted {
        call: Call<RecvResponse>,
        error: Error,
    },
    /// The server refused the body before it was all sent (a 413 say, found by a
    /// look between two writes): the rest of the body is not sent, and the
    /// connection is not reused after this response. Boxed: `Sent` is returned on
    /// every request, and this rare answer would make it twice as large to move.
    Answered(Box<FinalResponse>),
}

/// What a look for an early answer found.
enum Look {
    /// No final answer: the body goes on.
    Send(Call<SendBody>),
    /// Sending ends here.
    Stop(Sent),
}

/// A write that failed.
enum WriteFailure {
    /// The peer closed or reset the connection.
    Gone(Error),
    /// Anything else (a timeout, an I/O error).
    Other(Error),
}

/// Writes `out` (the encoded head, or nothing when the head already went) followed by
/// the framed body, and ends the body.
///
/// `head_out` runs once, right after the first write that carried bytes of `out` as
/// it came (the request head, when the caller put it there): a large or streamed body
/// goes out in several writes, and the head is out before the rest of it is read.
///
/// `response_started` turns true when a look between two writes reads response
/// bytes (whatever comes of them: an error after them is not "no response").
pub(crate) fn send_body<F: FnOnce(&Connection)>(
    conn: &mut Connection,
    mut out: WriteBuf,
    mut call: Call<SendBody>,
    source: Source,
    response_started: &mut bool,
    head_out: F,
) -> Result<Sent, Error> {
    let mut head_out = Some(head_out);
    match source {
        Source::Bytes(bytes) if out.len() + bytes.len() <= COALESCE_LIMIT => {
            if bytes.is_empty() && call.remaining() == Some(0) {
                // The head is all there is (a GET): the plain write, nothing to watch.
                let recv = call.finish(&mut *out).map_err(body_error)?;
                return finish(conn, &out, recv, &mut head_out);
            }
            let head_end = conn.written() + out.len() as u64;
            call.encode(&bytes, &mut *out).map_err(body_error)?;
            send_last(
                conn,
                call,
                &mut out,
                head_end,
                &mut head_out,
                response_started,
            )
        }
        Source::Bytes(bytes) => {
            let frame = call.frame(bytes.len()).map_err(body_error)?;
            out.extend_from_slice(frame.prefix());
            if let Err(failure) = write_noting(conn, &out, &mut head_out) {
                return interrupted(call, failure);
            }
            for piece in bytes.chunks(LOOK_EVERY) {
                call = match look(conn, call, response_started)? {
                    Look::Send(call) => call,
                    Look::Stop(sent) => return Ok(sent),
                };
                call = match write_body(conn, call, piece, response_started)? {
                    Look::Send(call) => call,
                    Look::Stop(sent) => return Ok(sent),
                };
            }
            out.clear();
            out.extend_from_slice(frame.suffix());
            let head_end = conn.written();
            send_last(
                conn,
                call,
                &mut out,
                head_end,
                &mut head_out,
                response_started,
            )
        }
        Source::Reader(mut reader) => {
            // The head is out once the connection's count reaches this.
            let head_end = conn.written() + out.len() as u64;
            let mut chunk = vec![0u8; READ_CHUNK];
            // Whether the reader was asked for a byte past its declared length.
            let mut probed = false;
            loop {
                // A sized body never reads past its length.
                let room = call
                    .remaining()
                    .map_or(READ_CHUNK, |left| left.min(READ_CHUNK as u64) as usize);
                if room == 0 {
                    if !probed && reads_more(&mut *reader)? {
                        return Err(overrun());
                    }
                    break;
                }
                let n = match reader.read(&mut chunk[..room]) {
                    Ok(0) => break,
                    Ok(n) => n,
                    Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                    Err(e) => {
                        return Err(Error::new(
                            ErrorKind::RequestBody,
                            "reading the request body failed",
                        )
                        .with_source(e));
                    }
                };
                // A `Read` that breaks its contract is the caller's bug, reported, not
                // a panic.
                let Some(read) = chunk[..room].get(..n) else {
                    return Err(Error::new(
                        ErrorKind::RequestBody,
                        format!("the request body reader claimed {n} bytes read into {room}"),
                    ));
                };
                call.encode(read, &mut *out).map_err(body_error)?;
                // The declared length is reached: a reader with more breaks it, and is
                // an error before the last piece goes out, so the server never takes
                // the cut body for the whole one (Go's net/http refuses it too).
                if call.remaining() == Some(0) {
                    probed = true;
                    if reads_more(&mut *reader)? {
                        return Err(overrun());
                    }
                }
                if out.len() >= READ_CHUNK {
                    call = match send_piece(
                        conn,
                        call,
                        &mut out,
                        head_end,
                        &mut head_out,
                        response_started,
                    )? {
                        Look::Send(call) => call,
                        Look::Stop(sent) => return Ok(sent),
                    };
                }
            }
            send_last(
                conn,
                call,
                &mut out,
                head_end,
                &mut head_out,
                response_started,
            )
        }
    }
}

/// Ends the body into `out` and sends what `out` holds. Body bytes or the framing's
/// end (a chunked body's last chunk) go through [`send_piece`] like every other
/// piece: a server that stopped reading blocks this write as it does the others.
/// With nothing past the head (a head alone, or a body all out already), the plain
/// write of [`finish`] (which pushes out what the transport still holds).
fn send_last<F: FnOnce(&Connection)>(
    conn: &mut Connection,
    mut call: Call<SendBody>,
    out: &mut WriteBuf,
    head_end: u64,
    head_out: &mut Option<F>,
    response_started: &mut bool,
) -> Result<Sent, Error> {
    call.end(&mut **out).map_err(body_error)?;
    // Nothing left (a sized body whose last piece filled a read) is no piece either.
    if !out.is_empty() && conn.written() + out.len() as u64 > head_end {
        call = match send_piece(conn, call, out, head_end, head_out, response_started)? {
            Look::Send(call) => call,
            Look::Stop(sent) => return Ok(sent),
        };
    }
    let recv = call.finish(&mut **out).map_err(body_error)?;
    finish(conn, out, recv, head_out)
}

/// Before the next piece of the body goes out, one look for an answer, which never
/// blocks ([`Connection::incoming`]: a non-blocking peek on TCP). A server that
/// answers before reading the whole body (a 413, a 401) and then stops reading
/// would otherwise leave the upload blocked in a write until the timeout, the
/// answer unread. What came is read: interim responses are noted and the body goes
/// on, as it does after a final 2xx (kept for after it: the server may still read
/// the body); a final status of 300 or more ends the upload; an end of stream or a
/// reset ends it as a failed write does.
fn look(
    conn: &mut Connection,
    call: Call<SendBody>,
    response_started: &mut bool,
) -> Result<Look, Error> {
    // Once a final 2xx is in, what follows is its body: left for after the upload.
    if call.answered() {
        return Ok(Look::Send(call));
    }
    if !conn.incoming() {
        // The wait for `100 Continue` stops at the `100`: an answer read with it is in
        // the buffer already, and the socket has nothing more to show.
        if !conn.has_buffered() {
            return Ok(Look::Send(call));
        }
        return answer_in(conn, call);
    }
    let error = match conn.fill() {
        Ok(0) => closed_while_sending(),
        Ok(_) => {
            *response_started = true;
            return answer_in(conn, call);
        }
        Err(e) if is_gone(&e) => closed_while_sending().with_source(e),
        Err(e) => {
            return Err(conn.exchange_error(e, "reading an answer while sending the request"));
        }
    };
    Ok(Look::Stop(Sent::Interrupted {
        call: call.abandon(),
        error,
    }))
}

/// Sends a piece of the body encoded in `out` (the request's head in front of it
/// until the first write): a look for an answer once the head is out (not before the
/// first write, which carries it; before the first after a `100 Continue`, whose
/// wait may have read an answer with it), the piece through [`write_body`], `out`
/// emptied. `head_out` runs once the connection's written count reaches `head_end`,
/// also when an answer stopped the write after the head.
fn send_piece<F: FnOnce(&Connection)>(
    conn: &mut Connection,
    mut call: Call<SendBody>,
    out: &mut WriteBuf,
    head_end: u64,
    head_out: &mut Option<F>,
    response_started: &mut bool,
) -> Result<Look, Error> {
    if conn.written() >= head_end {
        call = match look(conn, call, response_started)? {
            Look::Send(call) => call,
            stop @ Look::Stop(_) => return Ok(stop),
        };
    }
    let written = write_body(conn, call, out, response_started)?;
    if conn.written() >= head_end
        && let Some(notify) = head_out.take()
    {
        notify(conn);
    }
    out.clear();
    Ok(written)
}

/// Writes `bytes` of the request, and where the transport has no room for them, waits
/// for room or for an answer, whichever comes first
/// ([`Transport::write_or_incoming`](crate::Transport::write_or_incoming)): the look
/// before a write cannot free one already blocked by a server that answered and
/// stopped reading, this can. An answer is taken as [`look`] takes it.
fn write_body(
    conn: &mut Connection,
    mut call: Call<SendBody>,
    mut bytes: &[u8],
    response_started: &mut bool,
) -> Result<Look, Error> {
    // Input found this many times in a row with nothing written in between: a
    // transport whose readiness its look does not see (a user's), written plainly.
    let mut looks = 0;
    loop {
        // Once a final 2xx is in, what follows is its body, left for after the upload:
        // it would wake every wait.
        if call.answered() || looks >= LOOKS_WITHOUT_WRITING {
            return Ok(match write(conn, bytes) {
                Ok(()) => Look::Send(call),
                Err(failure) => Look::Stop(interrupted(call, failure)?),
            });
        }
        // All of `bytes` taken, the empty write pushes out what the transport still
        // holds of them (a TLS transport's records the socket had no room for),
        // before the body's reader is asked for more (it may wait long).
        let pushing = bytes.is_empty();
        match conn.write_or_incoming(bytes) {
            Ok(Written::Bytes(_)) if pushing => return Ok(Look::Send(call)),
            Ok(Written::Bytes(0)) => {
                let failure = write_failure(conn, io::ErrorKind::WriteZero.into());
                return Ok(Look::Stop(interrupted(call, failure)?));
            }
            Ok(Written::Bytes(n)) => {
                bytes = bytes.get(n..).unwrap_or_default();
                looks = 0;
            }
            Ok(Written::Incoming) => {
                looks += 1;
                call = match look(conn, call, response_started)? {
                    Look::Send(call) => call,
                    stop @ Look::Stop(_) => return Ok(stop),
                };
            }
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                let failure = write_failure(conn, e);
                return Ok(Look::Stop(interrupted(call, failure)?));
            }
        }
    }
}

/// What the buffer holds, read through the call: a final status of 300 or more
/// stops the upload.
fn answer_in(conn: &mut Connection, call: Call<SendBody>) -> Result<Look, Error> {
    Ok(
        match call.try_read(conn.buffer()).map_err(Error::from_h1)? {
            BodyStep::Send(call) => Look::Send(call),
            BodyStep::Response(response) => Look::Stop(Sent::Answered(Box::new(response))),
        },
    )
}

/// The peer closed or reset the connection while the request was going out: no
/// response will follow (the retry layer treats it like a close before any response
/// byte).
fn closed_while_sending() -> Error {
    Error::new(
        ErrorKind::ClosedBeforeResponse,
        "the server closed the connection while the request was being sent",
    )
}

/// A sized reader with bytes past its declared length.
fn overrun() -> Error {
    Error::new(
        ErrorKind::RequestBody,
        "the request body reader has more bytes than its declared length \
         (wrap it in Read::take to send only part of it)",
    )
}

/// Whether `reader`, at the end of its declared length, still has a byte to give.
fn reads_more(reader: &mut dyn Read) -> Result<bool, Error> {
    let mut byte = [0u8; 1];
    loop {
        match reader.read(&mut byte) {
            Ok(n) => return Ok(n > 0),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => {
                return Err(
                    Error::new(ErrorKind::RequestBody, "reading the request body failed")
                        .with_source(e),
                );
            }
        }
    }
}

/// Writes the head alone (before waiting for `100 Continue`).
pub(crate) fn send_head(conn: &mut Connection, head: &[u8]) -> Result<(), Error> {
    write(conn, head).map_err(|failure| match failure {
        WriteFailure::Gone(e) | WriteFailure::Other(e) => e,
    })
}

/// Writes the last bytes of the request.
fn finish<F: FnOnce(&Connection)>(
    conn: &mut Connection,
    out: &[u8],
    mut recv: Call<RecvResponse>,
    head_out: &mut Option<F>,
) -> Result<Sent, Error> {
    match write_noting(conn, out, head_out) {
        Ok(()) => Ok(Sent::Complete(recv)),
        Err(failure) => {
            recv.request_not_fully_sent();
            cut_short(recv, failure)
        }
    }
}

fn interrupted(call: Call<SendBody>, failure: WriteFailure) -> Result<Sent, Error> {
    cut_short(call.abandon(), failure)
}

/// A write of the request failed, `call` marked not fully sent: the call reads on
/// when the peer is gone (it may have answered first), or when a final 2xx came
/// while the body went out (it is the answer, whatever stopped the write, a timeout
/// too: it is not lost to the write's error); anything else is the error.
fn cut_short(call: Call<RecvResponse>, failure: WriteFailure) -> Result<Sent, Error> {
    match failure {
        WriteFailure::Gone(error) => Ok(Sent::Interrupted { call, error }),
        WriteFailure::Other(error) if call.answered() => Ok(Sent::Interrupted { call, error }),
        WriteFailure::Other(e) => Err(e),
    }
}

/// [`write`](fn@write), then `head_out` (if not run yet) once the bytes are out.
fn write_noting<F: FnOnce(&Connection)>(
    conn: &mut Connection,
    bytes: &[u8],
    head_out: &mut Option<F>,
) -> Result<(), WriteFailure> {
    write(conn, bytes)?;
    if let Some(notify) = head_out.take() {
        notify(conn);
    }
    Ok(())
}

/// Writes all of `bytes`; an empty write pushes out what the transport still holds of
/// earlier ones (a TLS body's last records, after [`write_body`]: rustls would push
/// them before the next read too, but here a failure to is the write's).
fn write(conn: &mut Connection, bytes: &[u8]) -> Result<(), WriteFailure> {
    conn.write_all(bytes).map_err(|e| write_failure(conn, e))
}

fn write_failure(conn: &Connection, e: io::Error) -> WriteFailure {
    if is_gone(&e) {
        WriteFailure::Gone(closed_while_sending().with_source(e))
    } else {
        WriteFailure::Other(Error::exchange_io(e, "sending the request", conn.timeout()))
    }
}

/// The body broke its own framing while being sent (a sized reader that ended short
/// or ran long). The head and part of the body may be out, so the connection is
/// discarded.
fn body_error(e: EncodeError) -> Error {
    Error::new(
        ErrorKind::RequestBody,
        "the request body did not match its declared length",
    )
    .with_source(e)
}

/// The peer closed or reset the connection.
pub(crate) fn is_gone(e: &io::Error) -> bool {
    matches!(
        e.kind(),
        io::ErrorKind::BrokenPipe
            | io::ErrorKind::ConnectionReset
            | io::ErrorKind::ConnectionAborted
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_reuses_its_write_buffer_unless_it_grew_large() {
        let mut first = WriteBuf::take();
        first.extend_from_slice(b"GET / HTTP/1.1\r\n\r\n");
        let kept = first.as_ptr();
        drop(first);
        let second = WriteBuf::take();
        assert!(second.is_empty(), "given back empty");
        assert_eq!(second.as_ptr(), kept, "the same memory");

        // Held by `second`: a nested request on this thread gets one of its own.
        let nested = WriteBuf::take();
        assert_ne!(nested.as_ptr(), kept);
        drop(nested);
        drop(second);

        let mut large = WriteBuf::take();
        large.extend_from_slice(&[b'x'; WriteBuf::KEEP_AT_MOST + 1]);
        drop(large);
        let after = WriteBuf::take();
        assert!(after.capacity() <= WriteBuf::KEEP_AT_MOST, "not kept");
    }
}
