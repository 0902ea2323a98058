//! One exchange as a sans-IO state machine: write the head, maybe wait for
//! `100 Continue`, send the body, read heads (skipping 1xx) until the final one.
//!
//! Each state is a type ([`Call<S>`](Call)); each step consumes the call and returns
//! the next state, so a body cannot be sent after the response was read and a
//! response cannot be read before the request went out (ureq-proto's model). The
//! call owns no socket: the caller moves bytes between it and a transport — a TCP
//! stream, a TLS stream, a proxy tunnel — and tells it when the transport timed out
//! or failed. The same machine drives hcx's engine, [`read_response`](crate::read_response)
//! and the byte-script tests. The flow is drawn on [`Call`].

use bytes::BytesMut;
use http::header::EXPECT;
use http::{HeaderMap, Method, StatusCode, Version};

use crate::encode::{BodyEncoder, EncodeError, Frame, OutBuf, RequestFraming, TargetForm};
use crate::error::{Error, ErrorKind};
use crate::{
    BodyDecoder, HeadEvent, HeadReader, Limits, RequestHead, ResponseFraming, ResponseHead,
    encode_request_head, response_framing,
};

/// One exchange in state `S`: each step consumes the call and returns the next state;
/// the caller moves the bytes.
///
/// ```text
///   Call::new ──► Sending::Body ──────────────────────────► Call<SendBody>
///            └──► Sending::AwaitContinue ─► Call<AwaitContinue>
///                 try_read: 100 / timed_out ──► Call<SendBody> ─ finish / abandon ─► Call<RecvResponse>
///                 try_read: early final response ──────────────────────────────────► FinalResponse
///   Call<SendBody> ─ try_read while sending: 1xx skipped, 2xx kept, ≥ 300 ─► FinalResponse
///   Call<RecvResponse> ─ try_read: 1xx skipped, final head ─► FinalResponse (head, framing, decoder)
/// ```
///
/// ```
/// use bytes::BytesMut;
/// use hcx_h1::{Call, Limits, RecvStep, RequestFraming, Sending, TargetForm};
///
/// let request = http::Request::get("http://example.com/").body(())?;
/// let mut wire = Vec::new();
/// let Sending::Body(call) =
///     Call::new(&request, TargetForm::Origin, RequestFraming::None, Limits::default(), &mut wire)?
/// else {
///     unreachable!("no Expect: 100-continue")
/// };
/// let call = call.finish(&mut wire)?; // no body: the request is complete
/// assert_eq!(wire, b"GET / HTTP/1.1\r\nhost: example.com\r\n\r\n");
///
/// // What the transport read, in whatever pieces it came.
/// let mut input = BytesMut::from(&b"HTTP/1.1 103 Early Hints\r\n\r\nHTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nhi"[..]);
/// let RecvStep::Response(response) = call.try_read(&mut input)? else {
///     unreachable!("the final head is in")
/// };
/// assert_eq!(response.head.status, 200);
/// assert_eq!(response.informational.len(), 1);
/// assert_eq!(&input[..], b"hi"); // the body is left for the decoder
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Debug)]
pub struct Call<S> {
    state: S,
    reading: Reading,
}

/// Sending the request body (or nothing, for a bodiless request).
#[derive(Debug)]
pub struct SendBody {
    encoder: BodyEncoder,
    /// Whether [`Call::end`] wrote the body's end: nothing more may be encoded, and
    /// [`Call::finish`] adds nothing.
    ended: bool,
}

/// The head is out, with `Expect: 100-continue`; the body waits for `100 Continue`, a
/// final response, or the caller's timeout.
#[derive(Debug)]
pub struct AwaitContinue {
    encoder: BodyEncoder,
}

/// The request is out (or abandoned); reading heads until the final one.
#[derive(Debug)]
pub struct RecvResponse {
    _private: (),
}

/// What [`Call::new`] leads to.
#[derive(Debug)]
pub enum Sending {
    /// Send the body now (possibly in the same write as the head).
    Body(Call<SendBody>),
    /// Write the head alone, then wait for `100 Continue` (RFC 9110 §10.1.1).
    AwaitContinue(Call<AwaitContinue>),
}

/// Where a read during the wait for `100 Continue` leads.
#[derive(Debug)]
pub enum ContinueStep {
    /// Nothing decisive yet: read more and call [`try_read`](Call::try_read) again (or
    /// [`timed_out`](Call::timed_out) when the wait runs out).
    Wait(Call<AwaitContinue>),
    /// `100 Continue` came: send the body.
    SendBody(Call<SendBody>),
    /// The server answered before the body was sent (a 417, a 401, a 413). The body
    /// is not sent, so the connection cannot be reused after this response.
    Response(FinalResponse),
}

/// Where a read while the request body is going out leads.
#[derive(Debug)]
pub enum BodyStep {
    /// Go on sending: nothing decisive came, only interim responses, or a final `2xx`
    /// kept for after the body ([`Call::answered`]).
    Send(Call<SendBody>),
    /// The server refused the body before it was all sent (a final status of 300 or
    /// more, or a `101`): stop sending it. The connection cannot be reused after this
    /// response.
    Response(FinalResponse),
}

/// Where a read of the response heads leads.
#[derive(Debug)]
pub enum RecvStep {
    /// The final head is not complete yet: read more and call
    /// [`try_read`](Call::try_read) again.
    Wait(Call<RecvResponse>),
    /// The final response's head is in.
    Response(FinalResponse),
}

/// The final response's head, its framing and the decoder of its body: where the
/// call ends and the body streams.
#[derive(Debug)]
#[non_exhaustive]
pub struct FinalResponse {
    /// The final response's head.
    pub head: ResponseHead,
    /// Its framing, decided once by [`response_framing`].
    pub framing: ResponseFraming,
    /// The decoder for its body; feed it the bytes after the head.
    pub body: BodyDecoder,
    /// Whether the request body went out completely (`false` after an early
    /// response or an abandoned upload: the connection cannot be reused).
    pub request_body_complete: bool,
    /// The interim (1xx) responses before it, in order.
    pub informational: Vec<ResponseHead>,
}

/// The reading half, shared by every state. Small on purpose: each step moves it.
#[derive(Debug)]
struct Reading {
    method: Method,
    reader: HeadReader,
    informational: Vec<ResponseHead>,
    /// Whether any response byte was seen (consumed or waiting in the buffer).
    started: bool,
    request_body_complete: bool,
    /// The close an interim response's framing called for (a 1xx that declared a body).
    interim_close: Option<crate::CloseReason>,
    /// A final `2xx` that came while the body was going out, for after it (boxed:
    /// the call stays small, and this is rare).
    early: Option<Box<(ResponseHead, ResponseFraming)>>,
}

impl Call<SendBody> {
    /// Starts an exchange: checks the request and writes its head to `out`
    /// (everything is checked first, so on error `out` is unchanged). `framing` is the
    /// body's, as [`encode_request_head`] takes it.
    ///
    /// A request with a body and `Expect: 100-continue` leads to
    /// [`Sending::AwaitContinue`]: write the head alone, then wait. Any other leads to
    /// [`Sending::Body`]. A `100-continue` expectation on a request without a body is
    /// not waited for (RFC 9110 §10.1.1: a client must not send one), nor on an
    /// HTTP/1.0 request, whose server must ignore it (the same section): the encoder
    /// leaves it out of both.
    #[allow(clippy::new_ret_no_self)] // the states are the point
    pub fn new<'a>(
        head: impl Into<RequestHead<'a>>,
        form: TargetForm,
        framing: RequestFraming,
        limits: Limits,
        out: &mut impl OutBuf,
    ) -> Result<Sending, EncodeError> {
        let head = head.into();
        let expect = sends_continue_expectation(head.version, framing.has_content(), head.headers);
        let method = head.method.clone();
        let encoder = encode_request_head(head, form, framing, out)?;
        let reading = Reading::new(method, limits);
        Ok(if expect {
            Sending::AwaitContinue(Call {
                state: AwaitContinue { encoder },
                reading,
            })
        } else {
            Sending::Body(Call {
                state: SendBody {
                    encoder,
                    ended: false,
                },
                reading,
            })
        })
    }

    /// The body's framing.
    pub fn framing(&self) -> RequestFraming {
        self.state.encoder.framing()
    }

    /// Body bytes still owed under a `Content-Length` (`None` when chunked, until
    /// [`end`](Self::end)).
    pub fn remaining(&self) -> Option<u64> {
        if self.state.ended {
            return Some(0);
        }
        self.state.encoder.remaining()
    }

    /// Appends `data`, framed, to `out`. See [`BodyEncoder::encode`].
    pub fn encode(&mut self, data: &[u8], out: &mut impl OutBuf) -> Result<(), EncodeError> {
        self.open(data.len())?;
        self.state.encoder.encode(data, out)
    }

    /// What goes around `len` bytes of data written without copying. See
    /// [`BodyEncoder::frame`].
    pub fn frame(&mut self, len: usize) -> Result<Frame, EncodeError> {
        self.open(len)?;
        self.state.encoder.frame(len)
    }

    /// Refuses data after [`end`](Self::end).
    fn open(&self, len: usize) -> Result<(), EncodeError> {
        if self.state.ended && len > 0 {
            return Err(EncodeError::BodyAfterEnd(len));
        }
        Ok(())
    }

    /// Writes the body's end into `out` as [`finish`](Self::finish) does (the last
    /// chunk, or a check that the length was met) while the call goes on sending: the
    /// write that carries the body's last bytes can then be watched for an early
    /// answer ([`try_read`](Self::try_read)) as the others are. No data may follow
    /// ([`EncodeError::BodyAfterEnd`]); `finish` adds nothing more. Ending twice
    /// writes the end once.
    pub fn end(&mut self, out: &mut impl OutBuf) -> Result<(), EncodeError> {
        if !self.state.ended {
            self.state.encoder.clone().finish(out)?;
            self.state.ended = true;
        }
        Ok(())
    }

    /// Ends the body (the last chunk, or a check that the length was met) into `out`,
    /// unless [`end`](Self::end) did: once `out` is written, the request is complete
    /// and the response is next.
    pub fn finish(self, out: &mut impl OutBuf) -> Result<Call<RecvResponse>, EncodeError> {
        let Call { state, reading } = self;
        if !state.ended {
            state.encoder.finish(out)?;
        }
        Ok(recv(reading, true))
    }

    /// Reads what the server sent while the body is still going out. Interim
    /// responses (a `100 Continue` that came after the wait for it ran out, a `103`)
    /// are noted and skipped: the body goes on. A final response with a status of
    /// 300 or more (a `413`, a `401`, a redirect: the server answered without
    /// waiting for the rest) ends the upload, as curl's does: the connection cannot
    /// be reused after it (so does a `101`, which hcx takes as final: no body may
    /// follow a switch of protocols). A final `2xx` is kept and the body goes on to
    /// its end (the server may still be reading it): [`answered`](Self::answered)
    /// turns true, nothing more is read, and the response is what the call returns
    /// once the body is finished (or abandoned). Bytes after a final head stay in
    /// `buf`, as do those of a head not yet complete.
    ///
    /// Apache HttpClient 5.1+ looks for such an answer with its opt-in
    /// `MonitoringResponseOutOfOrderStrategy`, and stops the upload at any.
    pub fn try_read(mut self, buf: &mut BytesMut) -> Result<BodyStep, Error> {
        if self.answered() {
            return Ok(BodyStep::Send(self));
        }
        Ok(match self.reading.read_heads(buf, false)? {
            None | Some(Head::Continue) => BodyStep::Send(self),
            Some(Head::Final(head, framing)) if head.status.is_success() => {
                self.reading.early = Some(Box::new((head, framing)));
                BodyStep::Send(self)
            }
            Some(Head::Final(head, framing)) => {
                self.reading.request_body_complete = false;
                BodyStep::Response(self.reading.finish(head, framing))
            }
        })
    }

    /// Whether a final `2xx` response came while the body was going out: it waits
    /// for the body's end (see [`try_read`](Self::try_read)).
    pub fn answered(&self) -> bool {
        self.reading.early.is_some()
    }

    /// Whether any response byte arrived.
    pub fn response_started(&self) -> bool {
        self.reading.started
    }

    /// Gives up sending the body (the transport failed while it was going out) and
    /// reads whatever answer the server sent first, a 413 or a 401 say. The
    /// connection cannot be reused after it.
    pub fn abandon(self) -> Call<RecvResponse> {
        recv(self.reading, false)
    }
}

fn recv(mut reading: Reading, request_body_complete: bool) -> Call<RecvResponse> {
    reading.request_body_complete = request_body_complete;
    Call {
        state: RecvResponse { _private: () },
        reading,
    }
}

impl Call<AwaitContinue> {
    /// Reads what has arrived: `100 Continue` (send the body), another interim
    /// response (noted, skipped) or a final response (the body will not be sent).
    /// Stops at the first of `100` or a final head; bytes after it stay in `buf`.
    pub fn try_read(mut self, buf: &mut BytesMut) -> Result<ContinueStep, Error> {
        Ok(match self.reading.read_heads(buf, true)? {
            None => ContinueStep::Wait(self),
            Some(Head::Continue) => ContinueStep::SendBody(self.into_body()),
            Some(Head::Final(head, framing)) => {
                self.reading.request_body_complete = false;
                ContinueStep::Response(self.reading.finish(head, framing))
            }
        })
    }

    /// The caller's wait for `100 Continue` ran out: the body goes anyway (RFC 9110
    /// §10.1.1: a client need not wait indefinitely).
    pub fn timed_out(self) -> Call<SendBody> {
        self.into_body()
    }

    /// Whether any response byte arrived.
    pub fn response_started(&self) -> bool {
        self.reading.started
    }

    /// The error for an end of stream now: the connection closed before any
    /// response, or in the middle of a head.
    pub fn end_of_stream(&self, buf: &BytesMut) -> Error {
        self.reading.end_of_stream(buf)
    }

    fn into_body(self) -> Call<SendBody> {
        Call {
            state: SendBody {
                encoder: self.state.encoder,
                ended: false,
            },
            reading: self.reading,
        }
    }
}

impl Call<RecvResponse> {
    /// A call that only reads: the response to a `method` request whose request went
    /// out some other way (a replayed capture, a fuzz input).
    pub fn read_only(method: Method, limits: Limits) -> Self {
        let mut reading = Reading::new(method, limits);
        reading.request_body_complete = true;
        Call {
            state: RecvResponse { _private: () },
            reading,
        }
    }

    /// Reads heads from `buf`: interim ones are noted and skipped, the final one ends
    /// the call. Bytes after the final head stay in `buf` (the start of the body). A
    /// final response that came while the body was going out is returned at once.
    pub fn try_read(mut self, buf: &mut BytesMut) -> Result<RecvStep, Error> {
        if let Some(early) = self.reading.early.take() {
            let (head, framing) = *early;
            return Ok(RecvStep::Response(self.reading.finish(head, framing)));
        }
        Ok(match self.reading.read_heads(buf, false)? {
            None | Some(Head::Continue) => RecvStep::Wait(self),
            Some(Head::Final(head, framing)) => {
                RecvStep::Response(self.reading.finish(head, framing))
            }
        })
    }

    /// Whether any response byte arrived.
    pub fn response_started(&self) -> bool {
        self.reading.started
    }

    /// Whether the final response is in already (it came while the body was going
    /// out): [`try_read`](Self::try_read) returns it without reading.
    pub fn answered(&self) -> bool {
        self.reading.early.is_some()
    }

    /// Whether the request body went out completely.
    pub fn request_body_complete(&self) -> bool {
        self.reading.request_body_complete
    }

    /// The bytes [`Call::finish`] produced did not all reach the transport (the
    /// write failed): the request is incomplete, whatever answer comes, and the
    /// connection cannot be reused after it.
    pub fn request_not_fully_sent(&mut self) {
        self.reading.request_body_complete = false;
    }

    /// The error for an end of stream now: the connection closed before any
    /// response, or in the middle of a head.
    pub fn end_of_stream(&self, buf: &BytesMut) -> Error {
        self.reading.end_of_stream(buf)
    }
}

/// Where `read_heads` stopped.
enum Head {
    Continue,
    Final(ResponseHead, ResponseFraming),
}

impl Reading {
    fn new(method: Method, limits: Limits) -> Self {
        Reading {
            method,
            reader: HeadReader::new(limits),
            informational: Vec::new(),
            started: false,
            request_body_complete: false,
            interim_close: None,
            early: None,
        }
    }

    /// Takes heads from `buf` until a final one (or, with `stop_at_continue`, a
    /// `100 Continue`) or until more bytes are needed. Framing is decided once, here.
    fn read_heads(
        &mut self,
        buf: &mut BytesMut,
        stop_at_continue: bool,
    ) -> Result<Option<Head>, Error> {
        self.started |= !buf.is_empty();
        loop {
            match self.reader.read(buf)? {
                None => return Ok(None),
                Some(HeadEvent::Informational(head)) => {
                    if self.interim_close.is_none() {
                        self.interim_close = response_framing(&self.method, &head)
                            .ok()
                            .and_then(|f| f.close);
                    }
                    let is_continue = head.status == StatusCode::CONTINUE;
                    self.informational.push(head);
                    if is_continue && stop_at_continue {
                        return Ok(Some(Head::Continue));
                    }
                }
                Some(HeadEvent::Final(head)) => {
                    let framing = response_framing(&self.method, &head)?;
                    return Ok(Some(Head::Final(head, framing)));
                }
            }
        }
    }

    fn finish(self, head: ResponseHead, mut framing: ResponseFraming) -> FinalResponse {
        framing.close = framing.close.or(self.interim_close);
        FinalResponse {
            body: BodyDecoder::new(framing.body, &self.reader.limits()),
            head,
            framing,
            request_body_complete: self.request_body_complete,
            informational: self.informational,
        }
    }

    fn end_of_stream(&self, buf: &BytesMut) -> Error {
        if !self.started && buf.is_empty() {
            Error::new(
                ErrorKind::IncompleteHead,
                "connection closed before any response byte",
            )
        } else if buf.is_empty() {
            Error::new(
                ErrorKind::IncompleteHead,
                format!(
                    "connection closed after {} informational response(s), before the final one",
                    self.informational.len()
                ),
            )
        } else if let Err(invalid) = crate::parse_response_head(buf, &self.reader.limits()) {
            // The head reader waits for a blank line before it parses a head, so an
            // error in one cut before it is found only now: it says what was wrong,
            // which the cut alone would not (whether the head came whole or a byte at
            // a time: the same bytes, the same error).
            invalid
        } else {
            Error::new(
                ErrorKind::IncompleteHead,
                format!(
                    "connection closed after {} bytes of a response head",
                    buf.len()
                ),
            )
        }
    }
}

/// Whether a request goes out with the `100-continue` expectation its `headers` ask
/// for (and so waits for `100 Continue` before its content): only one with content
/// (`has_content`), and not an HTTP/1.0 one, whose server must ignore it (RFC 9110
/// §10.1.1). The encoder leaves the expectation out of any other request, and a
/// layer that repeats a request after a `417` asks this to know whether the
/// expectation was what the server refused.
pub fn sends_continue_expectation(
    version: Version,
    has_content: bool,
    headers: &HeaderMap,
) -> bool {
    keeps_continue_expectation(version, has_content) && expects_continue(headers)
}

/// Whether the encoder keeps a `100-continue` expectation in a request of `version`
/// with or without content.
pub(crate) fn keeps_continue_expectation(version: Version, has_content: bool) -> bool {
    has_content && version != Version::HTTP_10
}

/// `Expect: 100-continue` (case-insensitive, RFC 9110 §10.1.1).
fn expects_continue(headers: &HeaderMap) -> bool {
    headers
        .get_all(EXPECT)
        .iter()
        .any(|v| v.as_bytes().eq_ignore_ascii_case(b"100-continue"))
}
