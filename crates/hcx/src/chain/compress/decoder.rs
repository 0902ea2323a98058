//! The decoding reader: [`Decoding`] undoes a body's codings as the caller reads it,
//! through one [`Stage`] per coding, each reading from an [`Input`] (the wire, or the
//! stage below), and checks the [`DecompressionLimits`] as it goes.

use std::io::{self, BufRead, Read};

use hcx_exec::{Error, ErrorKind, ResponseBody};

use super::DecompressionLimits;
use super::codings::Coding;
#[cfg(feature = "gzip")]
use super::deflate::Inflate;
#[cfg(feature = "zstd")]
use super::zstd::Zstd;

/// The buffer between two stages, and between the wire and the first one.
const BUFFER: usize = 8 * 1024;

/// At most this many decoded bytes per read, so the limits are checked at this grain
/// however large the caller's buffer (`read_to_end` offers megabytes).
const STEP: usize = 64 * 1024;

/// Where the encoded bytes come from: the response body (or test bytes).
pub(super) trait Encoded: Read + Send {
    /// Gives up on the rest: the connection is closed, not drained.
    fn discard(self: Box<Self>);
}

impl Encoded for ResponseBody {
    fn discard(self: Box<Self>) {
        ResponseBody::discard(*self);
    }
}

/// The reader behind a decoded body: the stages, outermost first, and the limits.
pub(super) struct Decoding {
    state: State,
    /// The codings applied before the last one, in order.
    earlier: Vec<Coding>,
    /// The coding applied last: the first one undone.
    last: Coding,
    /// The codings as listed, for messages: `gzip`, `deflate, gzip`.
    label: String,
    limits: DecompressionLimits,
    decoded: u64,
}

enum State {
    /// Nothing read yet. The stages are built at the first read: the gzip decoder
    /// reads its header as it is built, and `execute` must not wait for body bytes.
    Pending(Box<dyn Encoded>),
    /// Decoding; the stage undoes the first coding applied (the last one undone).
    Decoding(Box<Stage>),
    /// At the end, or failed (the body keeps reporting the error).
    Ended,
}

impl Decoding {
    /// A decoder over `encoded` of the codings `earlier` then `last`, as applied.
    pub(super) fn new(
        encoded: impl Encoded + 'static,
        earlier: &[Coding],
        last: Coding,
        limits: DecompressionLimits,
    ) -> Self {
        let label = earlier
            .iter()
            .chain([&last])
            .map(|c| c.name())
            .collect::<Vec<_>>()
            .join(", ");
        Decoding {
            state: State::Pending(Box::new(encoded)),
            earlier: earlier.to_vec(),
            last,
            label,
            limits,
            decoded: 0,
        }
    }

    /// Builds the stages over the wire; a body of no bytes at all decodes to nothing,
    /// whatever its label says.
    fn start(&mut self, encoded: Box<dyn Encoded>) -> io::Result<()> {
        let mut wire = Input::on_wire(encoded);
        if self.limits.max_ratio.is_some() {
            wire.quiet_limit = Some((MAX_QUIET, self.label.clone()));
        }
        let empty = match wire.peek(1) {
            Ok(bytes) => bytes.is_empty(),
            Err(e) => return Err(failure(&mut wire, e, &self.label, 0)),
        };
        if !empty {
            let mut top = Stage::new(self.last, wire);
            for &coding in self.earlier.iter().rev() {
                let limits = (self.limits, self.label.clone());
                top = Stage::new(coding, Input::on_stage(top, limits));
            }
            self.state = State::Decoding(Box::new(top));
        }
        Ok(())
    }
}

/// `e` as the caller sees it, with the right kind; closes the connection of `wire`.
fn failure(wire: &mut Input, e: io::Error, label: &str, decoded: u64) -> io::Error {
    let error = match wire.failed.take() {
        // The body's own failure (a timeout, a connection closed early): its kind.
        Some(error) => error,
        // Ours, already typed: a limit, data after the end, a zstd window too large.
        None if e.get_ref().is_some_and(|inner| inner.is::<Error>()) => Error::from_io(e),
        None => Error::new(
            ErrorKind::Decompression,
            format!(
                "the {label} response body could not be decoded (after {decoded} decoded bytes)"
            ),
        )
        .with_source(e),
    };
    wire.discard();
    error.into_io()
}

impl Read for Decoding {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if out.is_empty() {
            return Ok(0);
        }
        match std::mem::replace(&mut self.state, State::Ended) {
            State::Pending(encoded) => self.start(encoded)?,
            state => self.state = state,
        }
        let State::Decoding(top) = &mut self.state else {
            return Ok(0);
        };
        // One byte past the byte limit, to see whether the body goes beyond it.
        let room = self.limits.max_decoded_bytes.map_or(u64::MAX, |max| {
            max.saturating_sub(self.decoded).saturating_add(1)
        });
        let len = out
            .len()
            .min(STEP)
            .min(usize::try_from(room).unwrap_or(usize::MAX));
        // Counted afresh for each read: a read that returns data is not quiet.
        top.input().wire().mark_progress();
        let result = match top.read(&mut out[..len]) {
            Ok(0) => Ok(0),
            Ok(n) => {
                self.decoded = self.decoded.saturating_add(n as u64);
                let encoded = top.input().wire().consumed;
                match self.limits.check(&self.label, self.decoded, encoded) {
                    Some(error) => Err(error.into_io()),
                    None => return Ok(n),
                }
            }
            Err(e) => Err(e),
        };
        let result = result.map_err(|e| failure(top.input().wire(), e, &self.label, self.decoded));
        self.state = State::Ended;
        result
    }
}

/// A buffered reader over the wire or over the stage below: what a stage decodes
/// from. It can peek a few bytes ahead (deflate's sniffing, zstd's frame header) and
/// counts the bytes the stage above consumed.
pub(super) struct Input {
    source: Source,
    buffer: Box<[u8]>,
    start: usize,
    end: usize,
    /// Bytes the stage above consumed (on the wire: the encoded size so far).
    consumed: u64,
    /// The first typed failure of the body (its own, or a limit an inner stage
    /// passed), kept to be reported with its own kind.
    failed: Option<Error>,
    /// On a stage: the bytes it produced, and the limits they are held to (with the
    /// body's label), as the last stage's output is: an inner layer that decodes to
    /// much while the outer one yields nothing (stacked codings) is a bomb too.
    produced: u64,
    limits: Option<(DecompressionLimits, String)>,
    /// On the wire: bytes read off it, where the current read of the decoded body
    /// started, and how many it may read without a decoded byte (`None`: no limit).
    wire_read: u64,
    quiet_from: u64,
    quiet_limit: Option<(u64, String)>,
}

/// Encoded bytes one read of the decoded body may take off the wire without a single
/// decoded byte coming of them, while the ratio limit is on: endless empty gzip
/// members, deflate blocks or zstd blocks would otherwise hold the read for as long as
/// the server sends. Far above any header a coding carries before its data; zstd's
/// skippable frames (metadata, up to 4 GiB each) count as progress.
const MAX_QUIET: u64 = 1 << 20;

enum Source {
    /// The encoded body; `None` once read to its end or given up.
    Wire(Option<Box<dyn Encoded>>),
    /// The stage that undoes the coding applied after the one read from here.
    Stage(Box<Stage>),
}

impl Input {
    fn on_wire(encoded: Box<dyn Encoded>) -> Self {
        Input::from_source(Source::Wire(Some(encoded)), None)
    }

    fn on_stage(stage: Stage, limits: (DecompressionLimits, String)) -> Self {
        Input::from_source(Source::Stage(Box::new(stage)), Some(limits))
    }

    fn from_source(source: Source, limits: Option<(DecompressionLimits, String)>) -> Self {
        Input {
            source,
            buffer: vec![0; BUFFER].into_boxed_slice(),
            start: 0,
            end: 0,
            consumed: 0,
            failed: None,
            produced: 0,
            limits,
            wire_read: 0,
            quiet_from: 0,
            quiet_limit: None,
        }
    }

    /// On the wire: what has been read so far counts as progress (for the limit on
    /// encoded bytes that decode to nothing).
    pub(super) fn mark_progress(&mut self) {
        self.quiet_from = self.wire_read;
    }

    /// The input nearest the wire.
    pub(super) fn wire(&mut self) -> &mut Input {
        match self.source {
            Source::Stage(ref mut stage) => stage.input().wire(),
            Source::Wire(_) => self,
        }
    }

    /// Closes the body's connection without reading on (on the wire's input).
    fn discard(&mut self) {
        if let Source::Wire(body) = &mut self.source
            && let Some(body) = body.take()
        {
            body.discard();
        }
    }

    /// Reads more from the source after the buffered bytes; 0 at its end.
    fn fill_more(&mut self) -> io::Result<usize> {
        let space = &mut self.buffer[self.end..];
        debug_assert!(!space.is_empty(), "reads go into a buffer with room");
        let n = match &mut self.source {
            Source::Wire(slot) => {
                let Some(body) = slot else { return Ok(0) };
                match body.read(space) {
                    Ok(0) => {
                        // At its end the body has released its connection.
                        *slot = None;
                        0
                    }
                    Ok(n) => {
                        self.wire_read = self.wire_read.saturating_add(n as u64);
                        if let Some((max, label)) = &self.quiet_limit
                            && self.wire_read - self.quiet_from > *max
                        {
                            let error = Error::new(
                                ErrorKind::DecompressionLimit,
                                format!(
                                    "the {label} response body decoded to nothing from more \
                                     than {max} encoded bytes (endless empty blocks?)"
                                ),
                            );
                            self.failed = Some(error.clone());
                            return Err(error.into_io());
                        }
                        n
                    }
                    Err(e) => {
                        let error = Error::from_io(e);
                        self.failed = Some(error.clone());
                        return Err(error.into_io());
                    }
                }
            }
            Source::Stage(stage) => {
                let n = stage.read(space)?;
                self.produced = self.produced.saturating_add(n as u64);
                if let Some((limits, label)) = &self.limits {
                    let encoded = stage.input().wire().consumed;
                    if let Some(error) = limits.check(label, self.produced, encoded) {
                        // Kept where `failure` looks first: the coding above may wrap
                        // the I/O error in its own (ruzstd does), losing the kind.
                        stage.input().wire().failed = Some(error.clone());
                        return Err(error.into_io());
                    }
                }
                n
            }
        };
        self.end += n;
        Ok(n)
    }

    /// At least `n` bytes (fewer only at the end), without consuming them.
    pub(super) fn peek(&mut self, n: usize) -> io::Result<&[u8]> {
        debug_assert!(n <= self.buffer.len());
        if self.end - self.start < n && self.start > 0 {
            self.buffer.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        while self.end - self.start < n {
            if self.fill_more()? == 0 {
                break;
            }
        }
        Ok(&self.buffer[self.start..self.end])
    }
}

impl BufRead for Input {
    fn fill_buf(&mut self) -> io::Result<&[u8]> {
        if self.start == self.end {
            self.start = 0;
            self.end = 0;
            self.fill_more()?;
        }
        Ok(&self.buffer[self.start..self.end])
    }

    fn consume(&mut self, n: usize) {
        let n = n.min(self.end - self.start);
        self.start += n;
        self.consumed += n as u64;
    }
}

impl Read for Input {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        let available = self.fill_buf()?;
        let n = available.len().min(out.len());
        out[..n].copy_from_slice(&available[..n]);
        self.consume(n);
        Ok(n)
    }
}

/// Undoes one coding: reads its input, yields decoded bytes, and at the end of its
/// stream checks that the input ends too.
struct Stage {
    coding: Coding,
    decoder: Decoder,
    done: bool,
}

enum Decoder {
    #[cfg(feature = "gzip")]
    Gzip(flate2::bufread::MultiGzDecoder<Input>),
    #[cfg(feature = "gzip")]
    Deflate(Inflate),
    #[cfg(feature = "brotli")]
    Br(Box<brotli_decompressor::Decompressor<Input>>),
    #[cfg(feature = "zstd")]
    Zstd(Box<Zstd>),
}

impl Stage {
    fn new(coding: Coding, input: Input) -> Self {
        let decoder = match coding {
            #[cfg(feature = "gzip")]
            Coding::Gzip => Decoder::Gzip(flate2::bufread::MultiGzDecoder::new(input)),
            #[cfg(feature = "gzip")]
            Coding::Deflate => Decoder::Deflate(Inflate::new(input)),
            #[cfg(feature = "brotli")]
            Coding::Br => Decoder::Br(Box::new(brotli_decompressor::Decompressor::new(
                input, BUFFER,
            ))),
            #[cfg(feature = "zstd")]
            Coding::Zstd => Decoder::Zstd(Box::new(Zstd::new(input))),
        };
        Stage {
            coding,
            decoder,
            done: false,
        }
    }

    /// What this stage decodes from.
    fn input(&mut self) -> &mut Input {
        match self.decoder {
            #[cfg(feature = "gzip")]
            Decoder::Gzip(ref mut d) => d.get_mut(),
            #[cfg(feature = "gzip")]
            Decoder::Deflate(ref mut d) => &mut d.input,
            #[cfg(feature = "brotli")]
            Decoder::Br(ref mut d) => d.get_mut(),
            #[cfg(feature = "zstd")]
            Decoder::Zstd(ref mut d) => &mut d.input,
        }
    }

    /// At the end of the stream: the input must end too.
    fn finish(&mut self) -> io::Result<()> {
        let coding = self.coding;
        let trailing = move || {
            Error::new(
                ErrorKind::Decompression,
                format!(
                    "the {} stream of the response body ends before the body does \
                     (data after its end)",
                    coding.name()
                ),
            )
            .into_io()
        };
        // brotli reads ahead into a buffer of its own; a second read at the end
        // fails if bytes are left in it.
        #[cfg(feature = "brotli")]
        if let Decoder::Br(d) = &mut self.decoder
            && !matches!(d.read(&mut [0u8; 1]), Ok(0))
        {
            return Err(trailing());
        }
        if !self.input().fill_buf()?.is_empty() {
            return Err(trailing());
        }
        self.done = true;
        Ok(())
    }
}

impl Read for Stage {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        if self.done || out.is_empty() {
            return Ok(0);
        }
        let n = match self.decoder {
            #[cfg(feature = "gzip")]
            Decoder::Gzip(ref mut d) => d.read(out)?,
            #[cfg(feature = "gzip")]
            Decoder::Deflate(ref mut d) => d.read(out)?,
            #[cfg(feature = "brotli")]
            Decoder::Br(ref mut d) => d.read(out)?,
            #[cfg(feature = "zstd")]
            Decoder::Zstd(ref mut d) => d.read(out)?,
        };
        if n == 0 {
            self.finish()?;
        }
        Ok(n)
    }
}

// The tests here decode gzip or br, the codings without a module of their own.
#[cfg(all(test, any(feature = "gzip", feature = "brotli")))]
mod tests {
    use super::*;

    use super::super::test_support::decode_bytes;
    #[cfg(feature = "gzip")]
    use super::super::test_support::{gzip, raw_deflate, zlib};

    #[cfg(feature = "gzip")]
    #[test]
    fn stacked_codings_are_undone_last_first() -> Result<(), Error> {
        // Content-Encoding: deflate, gzip — deflate applied first, gzip on top.
        let encoded = gzip(&zlib(b"layered"));
        let decoded = decode_bytes(
            &encoded,
            &[Coding::Deflate, Coding::Gzip],
            DecompressionLimits::default(),
        )?;
        assert_eq!(decoded, b"layered");
        Ok(())
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn truncated_streams_and_trailing_data_are_decompression_errors() {
        let limits = DecompressionLimits::default();
        let text = b"some text that is long enough to matter".repeat(20);
        for (name, coding, mut encoded) in [
            ("gzip", Coding::Gzip, gzip(&text)),
            ("zlib", Coding::Deflate, zlib(&text)),
            ("raw", Coding::Deflate, raw_deflate(&text)),
        ] {
            let whole = encoded.clone();
            encoded.truncate(encoded.len() - 3);
            let short = decode_bytes(&encoded, &[coding], limits);
            assert!(
                short.is_err_and(|e| e.kind() == ErrorKind::Decompression),
                "{name} truncated"
            );
            let mut long = whole;
            long.extend_from_slice(b"garbage");
            let trailing = decode_bytes(&long, &[coding], limits);
            assert!(
                trailing.is_err_and(|e| e.kind() == ErrorKind::Decompression),
                "{name} with trailing data"
            );
        }
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn empty_bodies_decode_to_nothing() -> Result<(), Error> {
        let decoded = decode_bytes(&[], &[Coding::Gzip], DecompressionLimits::default())?;
        assert!(decoded.is_empty());
        Ok(())
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn a_body_of_exactly_the_byte_limit_passes_one_more_byte_fails() -> Result<(), Error> {
        let encoded = gzip(&[b'x'; 1000]);
        let exact = DecompressionLimits::none().with_max_decoded_bytes(Some(1000));
        assert_eq!(decode_bytes(&encoded, &[Coding::Gzip], exact)?.len(), 1000);
        let under = DecompressionLimits::none().with_max_decoded_bytes(Some(999));
        let over = decode_bytes(&encoded, &[Coding::Gzip], under);
        assert!(over.is_err_and(|e| e.kind() == ErrorKind::DecompressionLimit));
        Ok(())
    }

    /// `Hello from brotli! ` ten times, as Python's `brotli.compress(data, quality=11)`
    /// (brotli 1.2.1) writes it.
    #[cfg(feature = "brotli")]
    const BR_HELLO: &[u8] = b"\x1b\xbd\x00\xf8\x1d\xa9\x53\x9f\xbb\x70\x0d\x82\x24\x26\xa7\x42\
        \xe8\x32\x8d\xed\xad\x14\xd1\xad\x44\x40\x89\xd5\x55\xd9\x0f\x00";

    #[cfg(feature = "brotli")]
    #[test]
    fn brotli_decodes_and_refuses_truncation_and_trailing_data() -> Result<(), Error> {
        let limits = DecompressionLimits::default();
        let decoded = decode_bytes(BR_HELLO, &[Coding::Br], limits)?;
        assert_eq!(decoded, b"Hello from brotli! ".repeat(10));
        let short = decode_bytes(&BR_HELLO[..BR_HELLO.len() - 2], &[Coding::Br], limits);
        assert!(short.is_err_and(|e| e.kind() == ErrorKind::Decompression));
        let long = decode_bytes(&[BR_HELLO, b"junk"].concat(), &[Coding::Br], limits);
        assert!(long.is_err_and(|e| e.kind() == ErrorKind::Decompression
            && e.to_string().contains("data after its end")));
        Ok(())
    }
}
