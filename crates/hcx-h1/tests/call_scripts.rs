//! Byte-script tests of the exchange state machine ([`Call`]): no sockets. A small
//! driver plays the client's side of one exchange against a scripted server; the
//! script says what the "transport" does each time the driver needs input or writes
//! body bytes, and the driver records everything the client wrote and read, in order.

use std::collections::VecDeque;

use bytes::BytesMut;
use hcx_h1::{
    BodyFraming, BodyStep, Call, CloseReason, ContinueStep, EncodeError, Error, ErrorKind,
    FinalResponse, Limits, RecvResponse, RecvStep, RequestFraming, ResponseHead, SendBody, Sending,
    TargetForm,
};
use http::{HeaderMap, Request, StatusCode};
use proptest::prelude::*;

type TestResult = Result<(), Box<dyn std::error::Error>>;

/// What the scripted transport does next.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Event {
    /// The next read returns these server bytes (an empty slice is a read that
    /// delivered nothing new; the driver just asks the machine again).
    Bytes(&'static [u8]),
    /// The next read times out: the driver's 100-continue wait ran out.
    Timeout,
    /// The next read sees end of stream.
    Eof,
    /// The next body write succeeds. Body writes succeed anyway unless a
    /// `WriteFails` is next; this event only lets a script fail a *later* write.
    WriteOk,
    /// The next body write fails (the server reset the connection mid-upload): the
    /// driver abandons the upload and reads the early answer.
    WriteFails,
}

use Event::{Bytes as B, Eof, Timeout, WriteFails, WriteOk};

/// What the driver did, in order: the transcript the tests check ordering against.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Step {
    /// The request head went out.
    WroteHead(Vec<u8>),
    /// Body bytes (framing included) went out.
    WroteBody(Vec<u8>),
    /// A body write failed.
    WriteFailed,
    /// The server's bytes were read.
    Read(Vec<u8>),
    /// The 100-continue wait ran out.
    TimedOut,
    /// End of stream was read.
    Eof,
}

/// The request side of an exchange: the request, its body framing and its body as
/// the writes it goes out in.
struct Req {
    request: Request<()>,
    framing: RequestFraming,
    body: Vec<&'static [u8]>,
}

impl Req {
    fn get() -> Self {
        Req {
            request: Request::get("http://example.com/")
                .body(())
                .expect("valid request"),
            framing: RequestFraming::None,
            body: Vec::new(),
        }
    }

    /// `POST /upload` with `body` written in the given pieces, `Content-Length`
    /// framed, with `Expect: 100-continue` if `expect`.
    fn post(body: &[&'static [u8]], expect: bool) -> Self {
        let mut builder = Request::post("http://example.com/upload");
        if expect {
            builder = builder.header("expect", "100-continue");
        }
        let len = body.iter().map(|piece| piece.len() as u64).sum();
        Req {
            request: builder.body(()).expect("valid request"),
            framing: RequestFraming::Length(len),
            body: body.to_vec(),
        }
    }

    fn chunked(mut self) -> Self {
        self.framing = RequestFraming::Chunked;
        self
    }
}

/// What one exchange came to.
#[derive(Debug)]
struct Outcome {
    status: StatusCode,
    headers: HeaderMap,
    informational: Vec<ResponseHead>,
    body: Vec<u8>,
    trailers: Option<HeaderMap>,
    /// Whether the machine made the driver wait for `100 Continue`.
    awaited_continue: bool,
    /// Body bytes (framing included) that went out on the wire.
    body_on_wire: Vec<u8>,
    request_body_complete: bool,
    close: Option<CloseReason>,
    body_framing: BodyFraming,
    /// Bytes read but not consumed by the machine or the body decoder.
    leftover: Vec<u8>,
    /// Script events never played (the driver stopped reading before them).
    unplayed: usize,
    log: Vec<Step>,
}

impl Outcome {
    fn body_sent(&self) -> bool {
        !self.body_on_wire.is_empty()
    }

    fn informational_statuses(&self) -> Vec<u16> {
        self.informational
            .iter()
            .map(|h| h.status.as_u16())
            .collect()
    }

    /// How many server bytes the driver read in all.
    fn bytes_read(&self) -> usize {
        self.log
            .iter()
            .map(|step| match step {
                Step::Read(bytes) => bytes.len(),
                _ => 0,
            })
            .sum()
    }

    /// How many server bytes had been read when the first body byte was written
    /// (`None` when no body byte was written).
    fn read_before_body(&self) -> Option<usize> {
        let mut read = 0;
        for step in &self.log {
            match step {
                Step::Read(bytes) => read += bytes.len(),
                Step::WroteBody(_) => return Some(read),
                _ => {}
            }
        }
        None
    }
}

/// The input the driver got when it asked the transport for some.
enum Input {
    /// Bytes arrived (they are in the read buffer).
    Data,
    Timeout,
    Eof,
}

/// The scripted transport, and the driver's record of the exchange.
struct Transport {
    script: VecDeque<Event>,
    log: Vec<Step>,
    body_on_wire: Vec<u8>,
}

impl Transport {
    /// Waits for input: plays the next script event, which must be a read event.
    fn read(&mut self, buf: &mut BytesMut) -> Input {
        let event = self
            .script
            .pop_front()
            .expect("script ran out while the client waits for input");
        match event {
            Event::Bytes(bytes) => {
                buf.extend_from_slice(bytes);
                self.log.push(Step::Read(bytes.to_vec()));
                Input::Data
            }
            Event::Timeout => {
                self.log.push(Step::TimedOut);
                Input::Timeout
            }
            Event::Eof => {
                self.log.push(Step::Eof);
                Input::Eof
            }
            Event::WriteOk | Event::WriteFails => {
                panic!("script: {event:?} where the client reads")
            }
        }
    }

    fn write_head(&mut self, bytes: Vec<u8>) {
        self.log.push(Step::WroteHead(bytes));
    }

    /// Writes body bytes; `false` when the script makes the write fail.
    fn write_body(&mut self, bytes: Vec<u8>) -> bool {
        match self.script.front() {
            Some(Event::WriteFails) => {
                self.script.pop_front();
                self.log.push(Step::WriteFailed);
                false
            }
            Some(Event::WriteOk) => {
                self.script.pop_front();
                self.push_body(bytes);
                true
            }
            _ => {
                self.push_body(bytes);
                true
            }
        }
    }

    fn push_body(&mut self, bytes: Vec<u8>) {
        self.body_on_wire.extend_from_slice(&bytes);
        self.log.push(Step::WroteBody(bytes));
    }
}

/// Plays the client's side of one exchange against `script`: writes the head, waits
/// for `100 Continue` if the machine says so, sends the body (abandoning it if a
/// write fails), reads heads until the final one and the body to its end.
fn exchange(req: &Req, script: &[Event]) -> Result<Outcome, Error> {
    let mut transport = Transport {
        script: script.iter().copied().collect(),
        log: Vec::new(),
        body_on_wire: Vec::new(),
    };
    let mut buf = BytesMut::new();
    let mut head = Vec::new();
    let sending = Call::new(
        &req.request,
        TargetForm::Origin,
        req.framing,
        Limits::default(),
        &mut head,
    )
    .expect("the request encodes");
    transport.write_head(head);

    let awaited_continue = matches!(sending, Sending::AwaitContinue(_));
    let early = match sending {
        Sending::Body(call) => Err(call),
        Sending::AwaitContinue(mut call) => loop {
            call = match call.try_read(&mut buf)? {
                ContinueStep::Wait(call) => call,
                ContinueStep::SendBody(call) => break Err(call),
                ContinueStep::Response(response) => break Ok(response),
            };
            match transport.read(&mut buf) {
                Input::Data => {}
                Input::Timeout => break Err(call.timed_out()),
                Input::Eof => return Err(call.end_of_stream(&buf)),
            }
        },
    };
    let mut response = match early {
        Ok(response) => response,
        Err(call) => {
            let call = send_body(call, &req.body, &mut transport);
            recv(call, &mut buf, &mut transport)?
        }
    };

    let mut body = Vec::new();
    loop {
        let data = response.body.decode_buf(&mut buf)?;
        body.extend_from_slice(&data);
        if response.body.is_done() {
            break;
        }
        if data.is_empty() {
            match transport.read(&mut buf) {
                Input::Data => {}
                Input::Eof => {
                    response.body.decode_eof()?;
                    break;
                }
                Input::Timeout => panic!("script: Timeout while reading the response body"),
            }
        }
    }

    Ok(Outcome {
        status: response.head.status,
        headers: response.head.headers.clone(),
        informational: response.informational.clone(),
        body,
        trailers: response.body.take_trailers(),
        awaited_continue,
        body_on_wire: transport.body_on_wire,
        request_body_complete: response.request_body_complete,
        close: response.framing.close,
        body_framing: response.framing.body,
        leftover: buf.to_vec(),
        unplayed: transport.script.len(),
        log: transport.log,
    })
}

/// Sends the body piece by piece, abandoning it at the first failed write.
fn send_body(
    mut call: Call<SendBody>,
    body: &[&'static [u8]],
    transport: &mut Transport,
) -> Call<RecvResponse> {
    for piece in body {
        let mut out = Vec::new();
        call.encode(piece, &mut out)
            .expect("the body fits its framing");
        if !transport.write_body(out) {
            return call.abandon();
        }
    }
    let mut out = Vec::new();
    // `finish` produces the last frame; if writing it fails, the call is told.
    let mut call = call.finish(&mut out).expect("the body is complete");
    if !out.is_empty() && !transport.write_body(out) {
        call.request_not_fully_sent();
    }
    call
}

/// Reads heads until the final one.
fn recv(
    mut call: Call<RecvResponse>,
    buf: &mut BytesMut,
    transport: &mut Transport,
) -> Result<FinalResponse, Error> {
    loop {
        call = match call.try_read(buf)? {
            RecvStep::Response(response) => return Ok(response),
            RecvStep::Wait(call) => call,
        };
        match transport.read(buf) {
            Input::Data => {}
            Input::Eof => return Err(call.end_of_stream(buf)),
            Input::Timeout => panic!("script: Timeout while reading the response head"),
        }
    }
}

fn is_post_head(step: &Step) -> bool {
    match step {
        Step::WroteHead(bytes) => {
            bytes.starts_with(b"POST /upload HTTP/1.1\r\n") && bytes.ends_with(b"\r\n\r\n")
        }
        _ => false,
    }
}

fn read(bytes: &[u8]) -> Step {
    Step::Read(bytes.to_vec())
}

fn wrote(bytes: &[u8]) -> Step {
    Step::WroteBody(bytes.to_vec())
}

const CONTINUE: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n";
const OK_2: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok";

// --- 1. 100-continue honoured ----------------------------------------------------

#[test]
fn expect_continue_sends_the_body_only_after_100_continue() -> TestResult {
    let req = Req::post(&[b"hello"], true);
    let outcome = exchange(&req, &[B(CONTINUE), B(OK_2)])?;

    assert!(outcome.awaited_continue);
    assert_eq!(outcome.log.len(), 4, "{:?}", outcome.log);
    assert!(is_post_head(&outcome.log[0]), "{:?}", outcome.log[0]);
    let Step::WroteHead(head) = &outcome.log[0] else {
        unreachable!()
    };
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    assert!(head.contains("\r\nexpect: 100-continue\r\n"), "{head}");
    assert!(head.contains("\r\ncontent-length: 5\r\n"), "{head}");
    assert!(!head.contains("hello"), "the head went out alone: {head}");
    assert_eq!(
        outcome.log[1..],
        [read(CONTINUE), wrote(b"hello"), read(OK_2)]
    );

    assert_eq!(outcome.status, StatusCode::OK);
    assert_eq!(outcome.body, b"ok");
    assert_eq!(outcome.body_on_wire, b"hello");
    assert!(outcome.request_body_complete);
    assert_eq!(outcome.informational_statuses(), [100]);
    assert_eq!(outcome.close, None);
    assert!(outcome.leftover.is_empty());
    assert_eq!(outcome.unplayed, 0);
    Ok(())
}

#[test]
fn chunked_body_after_100_continue_is_framed_and_terminated() -> TestResult {
    let req = Req::post(&[b"hel", b"lo"], true).chunked();
    let outcome = exchange(&req, &[B(CONTINUE), B(OK_2)])?;

    assert!(outcome.awaited_continue);
    assert_eq!(
        outcome.log[1..],
        [
            read(CONTINUE),
            wrote(b"3\r\nhel\r\n"),
            wrote(b"2\r\nlo\r\n"),
            wrote(b"0\r\n\r\n"),
            read(OK_2),
        ]
    );
    assert!(outcome.request_body_complete);
    assert_eq!(
        (outcome.status, &outcome.body[..]),
        (StatusCode::OK, &b"ok"[..])
    );
    Ok(())
}

#[test]
fn interim_response_other_than_100_does_not_release_the_body() -> TestResult {
    let processing: &[u8] = b"HTTP/1.1 102 Processing\r\n\r\n";
    let req = Req::post(&[b"hello"], true);
    let outcome = exchange(&req, &[B(processing), B(CONTINUE), B(OK_2)])?;

    assert_eq!(
        outcome.log[1..],
        [
            read(processing),
            read(CONTINUE),
            wrote(b"hello"),
            read(OK_2)
        ]
    );
    assert_eq!(outcome.informational_statuses(), [102, 100]);
    assert!(outcome.request_body_complete);
    Ok(())
}

#[test]
fn expect_continue_without_a_body_is_not_waited_for() -> TestResult {
    let mut req = Req::post(&[], true);
    assert_eq!(req.framing, RequestFraming::Length(0));
    let outcome = exchange(&req, &[B(OK_2)])?;
    assert!(!outcome.awaited_continue);
    assert!(!outcome.body_sent());
    assert!(outcome.request_body_complete);
    assert_eq!(outcome.log[1..], [read(OK_2)]);

    req.framing = RequestFraming::None;
    let outcome = exchange(&req, &[B(OK_2)])?;
    assert!(!outcome.awaited_continue);
    assert!(outcome.request_body_complete);
    Ok(())
}

#[test]
fn expect_continue_on_an_http_1_0_request_is_neither_sent_nor_waited_for() -> TestResult {
    // RFC 9110 §10.1.1: an HTTP/1.0 server must ignore the expectation, so waiting
    // for its 100 would only wait out the timeout (Apache does not send it either).
    let mut req = Req::post(&[b"hello"], true);
    *req.request.version_mut() = http::Version::HTTP_10;
    let outcome = exchange(&req, &[B(OK_2)])?;
    assert!(!outcome.awaited_continue);
    let Step::WroteHead(head) = &outcome.log[0] else {
        panic!("{:?}", outcome.log)
    };
    let head = String::from_utf8_lossy(head).to_ascii_lowercase();
    assert!(head.starts_with("post /upload http/1.0\r\n"), "{head}");
    assert!(!head.contains("expect"), "{head}");
    assert!(outcome.body_sent());
    assert!(outcome.request_body_complete);
    Ok(())
}

#[test]
fn expect_continue_is_matched_case_insensitively() -> TestResult {
    let mut req = Req::post(&[b"hello"], false);
    req.request
        .headers_mut()
        .insert("expect", http::HeaderValue::from_static("100-Continue"));
    let outcome = exchange(&req, &[B(CONTINUE), B(OK_2)])?;
    assert!(outcome.awaited_continue);
    assert_eq!(outcome.read_before_body(), Some(CONTINUE.len()));
    Ok(())
}

// --- 2. 100-continue refused ------------------------------------------------------

#[test]
fn expectation_failed_417_means_the_body_is_never_written() -> TestResult {
    let refused: &[u8] = b"HTTP/1.1 417 Expectation Failed\r\nContent-Length: 0\r\n\r\n";
    let req = Req::post(&[b"hello"], true);
    let outcome = exchange(&req, &[B(refused)])?;

    assert!(outcome.awaited_continue);
    assert_eq!(outcome.status, StatusCode::EXPECTATION_FAILED);
    assert!(!outcome.body_sent());
    assert_eq!(outcome.log.len(), 2);
    assert!(is_post_head(&outcome.log[0]));
    assert_eq!(outcome.log[1], read(refused));
    assert!(!outcome.request_body_complete);
    assert!(outcome.informational.is_empty());
    assert!(outcome.body.is_empty());
    assert_eq!(outcome.body_framing, BodyFraming::Length(0));
    assert!(outcome.leftover.is_empty());
    Ok(())
}

// --- 3. 100-continue ignored ------------------------------------------------------

#[test]
fn continue_wait_that_times_out_sends_the_body_anyway() -> TestResult {
    let req = Req::post(&[b"hello"], true);
    let outcome = exchange(&req, &[Timeout, B(OK_2)])?;

    assert!(outcome.awaited_continue);
    assert_eq!(
        outcome.log[1..],
        [Step::TimedOut, wrote(b"hello"), read(OK_2)]
    );
    assert_eq!(outcome.status, StatusCode::OK);
    assert_eq!(outcome.body, b"ok");
    assert!(outcome.request_body_complete);
    assert!(outcome.informational.is_empty());
    assert_eq!(outcome.unplayed, 0);
    Ok(())
}

#[test]
fn late_100_after_the_wait_ran_out_is_kept_as_informational() -> TestResult {
    let late: &[u8] =
        b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n";
    let req = Req::post(&[b"hello"], true);
    let outcome = exchange(&req, &[Timeout, B(late)])?;

    assert_eq!(
        outcome.log[1..],
        [Step::TimedOut, wrote(b"hello"), read(late)]
    );
    assert_eq!(outcome.status, StatusCode::CREATED);
    assert_eq!(outcome.informational_statuses(), [100]);
    assert!(outcome.request_body_complete);
    Ok(())
}

// --- 4. Early 413 -----------------------------------------------------------------

const TOO_LARGE: &[u8] = b"HTTP/1.1 413 Content Too Large\r\nContent-Length: 9\r\n\r\ntoo large";

#[test]
fn early_413_instead_of_100_leaves_the_body_unsent() -> TestResult {
    let req = Req::post(&[b"hello"], true);
    let outcome = exchange(&req, &[B(TOO_LARGE)])?;

    assert_eq!(outcome.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(outcome.body, b"too large");
    assert!(!outcome.body_sent());
    assert_eq!(outcome.log[1..], [read(TOO_LARGE)]);
    assert!(!outcome.request_body_complete);
    assert!(outcome.informational.is_empty());
    assert!(outcome.leftover.is_empty());
    Ok(())
}

#[test]
fn failed_upload_is_abandoned_and_the_early_413_read() -> TestResult {
    let req = Req::post(&[b"hello", b"world"], false);
    let outcome = exchange(&req, &[WriteFails, B(TOO_LARGE)])?;

    assert!(!outcome.awaited_continue);
    assert!(!outcome.body_sent());
    assert_eq!(outcome.log.len(), 3);
    assert!(is_post_head(&outcome.log[0]));
    assert_eq!(outcome.log[1..], [Step::WriteFailed, read(TOO_LARGE)]);
    assert_eq!(outcome.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(outcome.body, b"too large");
    assert!(!outcome.request_body_complete);
    Ok(())
}

#[test]
fn upload_failing_halfway_is_abandoned_with_the_request_incomplete() -> TestResult {
    let req = Req::post(&[b"hello", b"world"], false);
    let outcome = exchange(&req, &[WriteOk, WriteFails, B(TOO_LARGE)])?;

    assert_eq!(outcome.body_on_wire, b"hello");
    assert_eq!(
        outcome.log[1..],
        [wrote(b"hello"), Step::WriteFailed, read(TOO_LARGE)]
    );
    assert_eq!(outcome.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!outcome.request_body_complete);
    Ok(())
}

#[test]
fn abandoned_upload_keeps_the_100_read_before_it() -> TestResult {
    let req = Req::post(&[b"hello"], true);
    let outcome = exchange(&req, &[B(CONTINUE), WriteFails, B(TOO_LARGE)])?;

    assert_eq!(
        outcome.log[1..],
        [read(CONTINUE), Step::WriteFailed, read(TOO_LARGE)]
    );
    assert_eq!(outcome.informational_statuses(), [100]);
    assert_eq!(outcome.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!outcome.request_body_complete);
    Ok(())
}

#[test]
fn abandoned_upload_then_end_of_stream_is_an_incomplete_head() {
    let req = Req::post(&[b"hello"], false);
    let error = exchange(&req, &[WriteFails, Eof]).expect_err("no answer came");
    assert_eq!(error.kind(), ErrorKind::IncompleteHead);
    assert!(
        error.to_string().contains("before any response byte"),
        "{error}"
    );
}

/// A `POST` with a 10-byte body going out under its `Content-Length`.
fn sized_post() -> Result<(Call<SendBody>, Vec<u8>), Box<dyn std::error::Error>> {
    let request = Request::post("http://example.com/upload").body(())?;
    let mut wire = Vec::new();
    let Sending::Body(call) = Call::new(
        &request,
        TargetForm::Origin,
        RequestFraming::Length(10),
        Limits::default(),
        &mut wire,
    )?
    else {
        return Err("no expectation: the body goes at once".into());
    };
    Ok((call, wire))
}

/// A chunked `POST` going out.
fn chunked_post() -> Result<(Call<SendBody>, Vec<u8>), Box<dyn std::error::Error>> {
    let request = Request::post("http://example.com/upload").body(())?;
    let mut wire = Vec::new();
    let Sending::Body(call) = Call::new(
        &request,
        TargetForm::Origin,
        RequestFraming::Chunked,
        Limits::default(),
        &mut wire,
    )?
    else {
        return Err("no expectation: the body goes at once".into());
    };
    Ok((call, wire))
}

/// `end` writes the body's end while the call still sends (its last write can be
/// watched for an answer): once, with no data after it, and `finish` adds nothing.
#[test]
fn a_body_ended_before_its_last_write_is_ended_once() -> TestResult {
    let (mut call, mut wire) = chunked_post()?;
    call.encode(b"hello", &mut wire)?;
    assert_eq!(call.remaining(), None);
    call.end(&mut wire)?;
    call.end(&mut wire)?;
    assert_eq!(call.remaining(), Some(0), "nothing is owed after the end");
    assert!(wire.ends_with(b"\r\n\r\n5\r\nhello\r\n0\r\n\r\n"));
    let len = wire.len();
    assert_eq!(
        call.encode(b"!", &mut wire),
        Err(EncodeError::BodyAfterEnd(1))
    );
    assert_eq!(call.frame(1).err(), Some(EncodeError::BodyAfterEnd(1)));
    // An empty piece is no data.
    call.encode(b"", &mut wire)?;
    // A final 2xx read after the end is kept for after the last write, as before it.
    let mut input = BytesMut::from(OK_2);
    let BodyStep::Send(call) = call.try_read(&mut input)? else {
        return Err("a 2xx does not end the upload".into());
    };
    let call = call.finish(&mut wire)?;
    assert_eq!(wire.len(), len, "the end is written once");
    let RecvStep::Response(response) = call.try_read(&mut input)? else {
        return Err("the kept head is the answer".into());
    };
    assert!(response.request_body_complete);

    // A sized body short of its length cannot end, and ends as `finish` would.
    let (mut call, mut wire) = sized_post()?;
    call.encode(b"hello", &mut wire)?;
    let before = wire.clone();
    assert_eq!(
        call.end(&mut wire),
        Err(EncodeError::BodyTooShort {
            declared: 10,
            written: 5
        })
    );
    assert_eq!(wire, before);
    call.encode(b"world", &mut wire)?;
    call.end(&mut wire)?;
    assert_eq!(
        wire,
        [&before[..], b"world"].concat(),
        "a sized end adds no byte"
    );
    Ok(())
}

#[test]
fn interim_answers_while_the_body_goes_out_do_not_stop_it() -> TestResult {
    let (mut call, mut wire) = sized_post()?;
    call.encode(b"hello", &mut wire)?;
    // A `100` the client stopped waiting for, then part of a `103`, then the rest.
    let mut input = BytesMut::from(&b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 103 Ear"[..]);
    let BodyStep::Send(call) = call.try_read(&mut input)? else {
        return Err("an interim answer does not end the upload".into());
    };
    assert!(call.response_started());
    assert_eq!(
        &input[..],
        b"HTTP/1.1 103 Ear",
        "the cut head waits in the buffer"
    );
    input.extend_from_slice(b"ly Hints\r\n\r\n");
    let BodyStep::Send(mut call) = call.try_read(&mut input)? else {
        return Err("an interim answer does not end the upload".into());
    };
    call.encode(b"world", &mut wire)?;
    let call = call.finish(&mut wire)?;
    assert!(wire.ends_with(b"\r\n\r\nhelloworld"));

    input.extend_from_slice(OK_2);
    let RecvStep::Response(response) = call.try_read(&mut input)? else {
        return Err("the final head is in".into());
    };
    assert_eq!(response.head.status, StatusCode::OK);
    assert!(response.request_body_complete, "the body went out whole");
    let statuses: Vec<u16> = response
        .informational
        .iter()
        .map(|h| h.status.as_u16())
        .collect();
    assert_eq!(statuses, [100, 103]);
    Ok(())
}

#[test]
fn a_2xx_while_the_body_goes_out_waits_for_its_end() -> TestResult {
    let (mut call, mut wire) = sized_post()?;
    call.encode(b"hello", &mut wire)?;
    let mut input = BytesMut::from(OK_2);
    let BodyStep::Send(call) = call.try_read(&mut input)? else {
        return Err("a 2xx does not end the upload".into());
    };
    assert!(call.answered());
    assert_eq!(&input[..], b"ok", "the body is left for the decoder");
    // Nothing more is read until the body is out.
    input.extend_from_slice(b"HTTP/1.1 200 OK\r\n\r\n");
    let BodyStep::Send(mut call) = call.try_read(&mut input)? else {
        return Err("a 2xx does not end the upload".into());
    };
    assert_eq!(&input[..], b"okHTTP/1.1 200 OK\r\n\r\n");
    call.encode(b"world", &mut wire)?;
    let call = call.finish(&mut wire)?;
    assert!(call.answered());
    let RecvStep::Response(response) = call.try_read(&mut input)? else {
        return Err("the kept head is the response".into());
    };
    assert_eq!(response.head.status, StatusCode::OK);
    assert!(response.request_body_complete, "the body went out whole");
    assert_eq!(&input[..2], b"ok");
    Ok(())
}

#[test]
fn a_final_answer_while_the_body_goes_out_ends_the_upload() -> TestResult {
    let (mut call, mut wire) = sized_post()?;
    call.encode(b"hello", &mut wire)?;
    let mut input = BytesMut::from(TOO_LARGE);
    let BodyStep::Response(response) = call.try_read(&mut input)? else {
        return Err("a final answer ends the upload".into());
    };
    assert_eq!(response.head.status, StatusCode::PAYLOAD_TOO_LARGE);
    assert!(!response.request_body_complete, "half the body went out");
    assert_eq!(&input[..], b"too large", "the body is left for the decoder");
    Ok(())
}

// --- 5. Several 1xx before the final response -------------------------------------

#[test]
fn three_interim_responses_are_kept_in_order_before_a_chunked_final() -> TestResult {
    let script: &[u8] = b"HTTP/1.1 102 Processing\r\n\r\n\
        HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n\
        HTTP/1.1 100 Continue\r\n\r\n\
        HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum\r\n\r\n\
        2\r\nhi\r\n0\r\nX-Checksum: abc\r\n\r\n";
    let outcome = exchange(&Req::get(), &[B(script)])?;

    assert_eq!(outcome.informational_statuses(), [102, 103, 100]);
    assert_eq!(
        outcome.informational[1].headers["link"],
        "</style.css>; rel=preload"
    );
    assert!(outcome.informational[0].headers.is_empty());
    assert!(outcome.informational[2].headers.is_empty());
    assert_eq!(outcome.status, StatusCode::OK);
    assert_eq!(outcome.headers["trailer"], "X-Checksum");
    assert!(!outcome.headers.contains_key("link"));
    assert_eq!(outcome.body_framing, BodyFraming::Chunked);
    assert_eq!(outcome.body, b"hi");
    let trailers = outcome.trailers.expect("the trailer section was sent");
    assert_eq!(trailers.len(), 1);
    assert_eq!(trailers["x-checksum"], "abc");
    assert!(outcome.request_body_complete);
    assert!(outcome.leftover.is_empty());
    Ok(())
}

#[test]
fn too_many_interim_responses_is_an_error() {
    let many: &'static [u8] = CONTINUE
        .repeat(Limits::DEFAULT_MAX_INFORMATIONAL + 1)
        .leak();
    let error = exchange(&Req::get(), &[B(many)]).expect_err("a 1xx flood");
    assert_eq!(error.kind(), ErrorKind::TooManyInformational);

    let just_enough: Vec<u8> = [
        CONTINUE.repeat(Limits::DEFAULT_MAX_INFORMATIONAL),
        OK_2.to_vec(),
    ]
    .concat();
    let outcome = exchange(&Req::get(), &[B(just_enough.leak())]).expect("at the limit");
    assert_eq!(
        outcome.informational.len(),
        Limits::DEFAULT_MAX_INFORMATIONAL
    );
}

// --- 6. Responses split at every byte boundary ------------------------------------

const CHUNKED_AFTER_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
    HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n";
const LENGTH_AFTER_100: &[u8] = b"HTTP/1.1 100 Continue\r\n\r\n\
    HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello";

/// What must not depend on how the response was cut: status, body, informational
/// count, request completeness, bytes left unconsumed and server bytes read.
fn summary(outcome: &Outcome) -> (StatusCode, Vec<u8>, usize, bool, Vec<u8>, usize) {
    (
        outcome.status,
        outcome.body.clone(),
        outcome.informational.len(),
        outcome.request_body_complete,
        outcome.leftover.clone(),
        outcome.bytes_read(),
    )
}

fn expected_summary(response: &[u8]) -> (StatusCode, Vec<u8>, usize, bool, Vec<u8>, usize) {
    (
        StatusCode::OK,
        b"hello".to_vec(),
        1,
        true,
        Vec::new(),
        response.len(),
    )
}

fn check_every_split(response: &'static [u8]) -> TestResult {
    let req = Req::post(&[b"hello"], true);
    for k in 0..=response.len() {
        let (first, second) = response.split_at(k);
        let outcome =
            exchange(&req, &[B(first), B(second)]).map_err(|e| format!("split at {k}: {e}"))?;
        assert_eq!(
            summary(&outcome),
            expected_summary(response),
            "split at {k}"
        );
        assert_eq!(outcome.body_on_wire, b"hello", "split at {k}");
        // The body goes out as soon as the whole 100 is in, not before.
        let released_after = if k >= CONTINUE.len() {
            k
        } else {
            response.len()
        };
        assert_eq!(
            outcome.read_before_body(),
            Some(released_after),
            "split at {k}"
        );
    }

    let bytes: Vec<Event> = response.chunks(1).map(B).collect();
    let outcome = exchange(&req, &bytes)?;
    assert_eq!(
        summary(&outcome),
        expected_summary(response),
        "byte by byte"
    );
    assert_eq!(outcome.read_before_body(), Some(CONTINUE.len()));
    Ok(())
}

#[test]
fn chunked_response_split_anywhere_reads_the_same() -> TestResult {
    check_every_split(CHUNKED_AFTER_100)
}

#[test]
fn content_length_response_split_anywhere_reads_the_same() -> TestResult {
    check_every_split(LENGTH_AFTER_100)
}

proptest! {
    #![proptest_config(ProptestConfig {
        failure_persistence: None,
        ..ProptestConfig::with_cases(256)
    })]

    #[test]
    fn response_in_arbitrary_pieces_reads_the_same(
        cuts in proptest::collection::vec(0..=CHUNKED_AFTER_100.len(), 0..12),
        chunked in any::<bool>(),
    ) {
        let response = if chunked { CHUNKED_AFTER_100 } else { LENGTH_AFTER_100 };
        let mut cuts = cuts;
        cuts.retain(|&c| c <= response.len());
        cuts.push(0);
        cuts.push(response.len());
        cuts.sort_unstable();
        let script: Vec<Event> = cuts.windows(2).map(|w| B(&response[w[0]..w[1]])).collect();
        let outcome = exchange(&Req::post(&[b"hello"], true), &script)
            .map_err(|e| TestCaseError::fail(e.to_string()))?;
        prop_assert_eq!(summary(&outcome), expected_summary(response));
        prop_assert_eq!(outcome.body_on_wire, b"hello".to_vec());
    }
}

// --- 7. End of stream and bytes after the body -----------------------------------

#[test]
fn end_of_stream_before_any_byte_says_so() {
    let error = exchange(&Req::get(), &[Eof]).expect_err("nothing came");
    assert_eq!(error.kind(), ErrorKind::IncompleteHead);
    assert!(error.is_incomplete_head() && !error.is_protocol());
    assert!(
        error.to_string().contains("before any response byte"),
        "{error}"
    );
}

#[test]
fn end_of_stream_during_the_continue_wait_says_so() {
    let req = Req::post(&[b"hello"], true);
    let error = exchange(&req, &[Eof]).expect_err("nothing came");
    assert_eq!(error.kind(), ErrorKind::IncompleteHead);
    assert!(
        error.to_string().contains("before any response byte"),
        "{error}"
    );

    // After a timeout, the body went out; the connection then closed unanswered.
    let error = exchange(&req, &[Timeout, Eof]).expect_err("nothing came");
    assert!(
        error.to_string().contains("before any response byte"),
        "{error}"
    );
}

#[test]
fn end_of_stream_inside_a_head_counts_its_bytes() {
    let partial: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Le";
    let error = exchange(&Req::get(), &[B(partial), Eof]).expect_err("cut head");
    assert_eq!(error.kind(), ErrorKind::IncompleteHead);
    let message = error.to_string();
    assert!(
        message.contains(&format!("after {} bytes of a response head", partial.len())),
        "{message}"
    );
    assert!(!message.contains("before any response byte"), "{message}");

    // The same cut in two reads, and during the 100-continue wait.
    let error =
        exchange(&Req::get(), &[B(&partial[..5]), B(&partial[5..]), Eof]).expect_err("cut head");
    assert!(
        error
            .to_string()
            .contains(&format!("after {} bytes", partial.len())),
        "{error}"
    );
    let error = exchange(&Req::post(&[b"hello"], true), &[B(partial), Eof]).expect_err("cut head");
    assert!(
        error
            .to_string()
            .contains(&format!("after {} bytes", partial.len())),
        "{error}"
    );
}

#[test]
fn end_of_stream_after_an_invalid_part_of_a_head_says_what_is_invalid() {
    // The bytes before the close already break the head: the error says how, not
    // only that the head was cut (a server that is not speaking HTTP/1.x properly is
    // not a network failure).
    let cases: &[(&[u8], &str)] = &[
        (b"HTTP/1.1 abc\r\n", "invalid response status"),
        (b"HTTP/1.1 200 OK\r\nBad Header\r\n", "line 2 has no colon"),
        (
            b"HTTP/1.1 200 OK\r\nX: 1\r\nY: a\x00b\r\n",
            "field \"Y\" on line 3",
        ),
    ];
    for &(cut, says) in cases {
        for script in [vec![B(cut), Eof], vec![B(&cut[..9]), B(&cut[9..]), Eof]] {
            let error = exchange(&Req::get(), &script).expect_err("invalid head");
            assert_eq!(error.kind(), ErrorKind::InvalidHead, "{error}");
            assert!(error.to_string().contains(says), "{error}");
        }
    }
}

#[test]
fn end_of_stream_after_an_interim_response_names_it() {
    let error = exchange(&Req::get(), &[B(CONTINUE), Eof]).expect_err("no final head");
    assert_eq!(error.kind(), ErrorKind::IncompleteHead);
    let message = error.to_string();
    assert!(
        message.contains("after 1 informational response(s), before the final one"),
        "{message}"
    );
}

#[test]
fn end_of_stream_inside_a_content_length_body_is_an_incomplete_body() {
    let cut: &[u8] = b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhel";
    let error = exchange(&Req::get(), &[B(cut), Eof]).expect_err("cut body");
    assert_eq!(error.kind(), ErrorKind::IncompleteBody);
    assert!(
        error.to_string().contains("after 3 of 5 body bytes"),
        "{error}"
    );
}

#[test]
fn close_delimited_body_ends_at_end_of_stream() -> TestResult {
    let outcome = exchange(
        &Req::get(),
        &[B(b"HTTP/1.1 200 OK\r\n\r\nsome"), B(b" data"), Eof],
    )?;
    assert_eq!(outcome.body, b"some data");
    assert_eq!(outcome.body_framing, BodyFraming::CloseDelimited);
    assert_eq!(outcome.close, Some(CloseReason::CloseDelimitedBody));
    assert_eq!(outcome.unplayed, 0);
    Ok(())
}

#[test]
fn bytes_after_a_content_length_body_are_left_unconsumed() -> TestResult {
    let extra: &[u8] = b"HTTP/1.1 200 OK\r\n";
    let script: Vec<u8> = [OK_2, extra].concat();
    let outcome = exchange(&Req::get(), &[B(script.leak())])?;
    assert_eq!(outcome.body, b"ok");
    assert_eq!(outcome.leftover, extra);

    // Also when the head and body come first and the stray bytes in a later read the
    // driver never needs: the body is done, so it stops reading.
    let outcome = exchange(&Req::get(), &[B(OK_2), B(extra), Eof])?;
    assert_eq!(outcome.body, b"ok");
    assert!(outcome.leftover.is_empty());
    assert_eq!(outcome.unplayed, 2);

    // And behind an early final response read during the 100-continue wait.
    let script: Vec<u8> = [TOO_LARGE, b"junk"].concat();
    let outcome = exchange(&Req::post(&[b"hello"], true), &[B(script.leak())])?;
    assert_eq!(outcome.body, b"too large");
    assert_eq!(outcome.leftover, b"junk");
    assert!(!outcome.body_sent());
    Ok(())
}

#[test]
fn bytes_after_a_bodiless_response_are_left_unconsumed() -> TestResult {
    let script: &[u8] = b"HTTP/1.1 204 No Content\r\n\r\nHTTP/1.1 200 OK\r\n\r\n";
    let outcome = exchange(&Req::get(), &[B(script)])?;
    assert_eq!(outcome.status, StatusCode::NO_CONTENT);
    assert_eq!(outcome.body_framing, BodyFraming::None);
    assert_eq!(outcome.leftover, b"HTTP/1.1 200 OK\r\n\r\n");
    Ok(())
}

/// Feeds `bytes` to a head reader a byte at a time: the index of the byte at which it
/// failed, and how.
fn first_error_fed_a_byte_at_a_time(bytes: &[u8]) -> Option<(usize, ErrorKind)> {
    let mut reader = hcx_h1::HeadReader::new(Limits::default());
    let mut buf = BytesMut::new();
    bytes.iter().enumerate().find_map(|(i, &b)| {
        buf.extend_from_slice(&[b]);
        reader.read(&mut buf).err().map(|e| (i, e.kind()))
    })
}

#[test]
fn a_broken_status_line_fails_once_it_ends_without_waiting_for_the_blank_line() {
    use hcx_h1::HeadReader;
    let cases: &[(&[u8], ErrorKind)] = &[
        (b"HTTP/1.1 abc\r\n", ErrorKind::InvalidHead),
        (b"\r\nHTTP/1.1 2000 OK\r\nA: 1\r\n", ErrorKind::InvalidHead),
        (b"HTTP/2.0 200 OK\n", ErrorKind::UnsupportedVersion),
    ];
    for &(bytes, kind) in cases {
        let what = String::from_utf8_lossy(bytes);
        // Whole: at once.
        let whole = HeadReader::new(Limits::default()).read(&mut BytesMut::from(bytes));
        assert_eq!(whole.map_err(|e| e.kind()), Err(kind), "{what:?}");
        // A byte at a time: at the line feed that ends the status line.
        let lf = bytes
            .iter()
            .skip(2)
            .position(|&b| b == b'\n')
            .map(|i| i + 2);
        assert_eq!(
            first_error_fed_a_byte_at_a_time(bytes),
            lf.map(|i| (i, kind)),
            "{what:?}"
        );
    }
}

/// A field line that can never parse (no colon, no name, a name with a space, a
/// control byte in its value) fails the head when it ends, as Apache's line-by-line
/// parser does, not when a blank line that may never come (the server keeping the
/// connection open) would have ended it.
#[test]
fn a_broken_field_line_fails_once_it_ends_without_waiting_for_the_blank_line() {
    use hcx_h1::HeadReader;
    let cases: &[&[u8]] = &[
        b"HTTP/1.1 200 OK\r\nBad Header\r\n",
        b"HTTP/1.1 200 OK\r\nA: 1\r\nBad Name: x\r\n",
        b"HTTP/1.1 200 OK\r\nA: 1\r\n folded\r\n: no name\r\n",
        b"\r\nHTTP/1.1 200 OK\nA: 1\nno colon\n",
        b"HTTP/1.1 200 OK\r\nA: x\x01y\r\n",
        b"HTTP/1.1 200 OK\r\nA: 1\r\n \x7f\r\n",
    ];
    for &bytes in cases {
        let what = String::from_utf8_lossy(bytes);
        let whole = HeadReader::new(Limits::default()).read(&mut BytesMut::from(bytes));
        assert_eq!(
            whole.map_err(|e| e.kind()),
            Err(ErrorKind::InvalidHead),
            "{what:?}"
        );
        // At the line feed that ends the broken line, the last byte.
        assert_eq!(
            first_error_fed_a_byte_at_a_time(bytes),
            Some((bytes.len() - 1, ErrorKind::InvalidHead)),
            "{what:?}"
        );
    }
    // Lines that may still be fields are waited for, whole or a byte at a time: a
    // fold, a name without a space before its colon, any value.
    let valid: &[u8] =
        b"HTTP/1.1 200 OK\r\nA:1\r\n folded\r\n\tagain\r\nB: \x80 c \r\nC-x.y~z!: y\r\n";
    let mut whole = BytesMut::from(valid);
    assert!(matches!(
        HeadReader::new(Limits::default()).read(&mut whole),
        Ok(None)
    ));
    let mut reader = HeadReader::new(Limits::default());
    let mut buf = BytesMut::new();
    for &b in valid {
        buf.extend_from_slice(&[b]);
        assert!(matches!(reader.read(&mut buf), Ok(None)), "{buf:?}");
    }
}
