//! The `zstd` coding's decoder (RFC 8878): frames one after another, skippable frames
//! skipped, checksums and declared content sizes checked, windows over 8 MiB refused
//! (RFC 9659). Compiled with the `zstd` feature.

use std::io::{self, BufRead, Read};

use hcx_exec::{Error, ErrorKind};

use super::decoder::Input;

/// The largest window a `zstd` frame may need (RFC 9659 §3: 8 MB, zstd's `2^23`).
const ZSTD_MAX_WINDOW: u64 = 8 << 20;

/// `zstd`: frames one after another (RFC 8878 §3.1).
pub(super) struct Zstd {
    pub(super) input: Input,
    frame: ruzstd::decoding::FrameDecoder,
    in_frame: bool,
    /// Frames seen, skippable ones included: the input may end after one.
    frames: u64,
    /// The current frame's `Frame_Content_Size`, if its header gives one, and the
    /// bytes it has decoded to so far: they must agree at its end.
    declared: Option<u64>,
    decoded: u64,
}

impl Zstd {
    pub(super) fn new(input: Input) -> Self {
        Zstd {
            input,
            frame: ruzstd::decoding::FrameDecoder::new(),
            in_frame: false,
            frames: 0,
            declared: None,
            decoded: 0,
        }
    }

    /// Skips a skippable frame (RFC 8878 §3.1.2) if one comes next.
    fn skip_skippable(&mut self) -> io::Result<bool> {
        let head = self.input.peek(8)?;
        let Some((magic, rest)) = head.split_first_chunk::<4>() else {
            return Ok(false);
        };
        if u32::from_le_bytes(*magic) & 0xFFFF_FFF0 != 0x184D_2A50 {
            return Ok(false);
        }
        let Some(size) = rest.first_chunk::<4>() else {
            return Err(zstd_truncated());
        };
        let mut skip = u64::from(u32::from_le_bytes(*size)) + 8;
        while skip > 0 {
            // Metadata the format allows up to 4 GiB of: read as progress, not as
            // bytes that decode to nothing.
            self.input.wire().mark_progress();
            let available = self.input.fill_buf()?.len();
            if available == 0 {
                return Err(zstd_truncated());
            }
            let n = usize::try_from(skip).map_or(available, |skip| skip.min(available));
            self.input.consume(n);
            skip -= n as u64;
        }
        Ok(true)
    }

    /// Reads the next frame's header, refusing a window over 8 MiB.
    fn start_frame(&mut self) -> io::Result<()> {
        // Magic, descriptor, window descriptor, dictionary id, content size.
        let header = zstd_header(self.input.peek(18)?);
        if let Some(FrameHeader { window, .. }) = header
            && window > ZSTD_MAX_WINDOW
        {
            return Err(Error::new(
                ErrorKind::Decompression,
                format!(
                    "the zstd response body needs a {window}-byte window, more than the \
                     {ZSTD_MAX_WINDOW} bytes the zstd content coding may use (RFC 9659)"
                ),
            )
            .into_io());
        }
        self.frame
            .reset(&mut self.input)
            .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
        self.in_frame = true;
        self.frames += 1;
        self.declared = header.and_then(|h| h.content_size);
        self.decoded = 0;
        Ok(())
    }

    /// At the end of a frame: its checksum, if it has one, must match, and so must
    /// its content size, if its header gives one (RFC 8878 §3.1.1.1.4; libzstd
    /// reports a mismatch as corruption).
    fn end_frame(&mut self) -> io::Result<()> {
        self.in_frame = false;
        if let Some(declared) = self.declared
            && declared != self.decoded
        {
            return Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!(
                    "zstd frame size mismatch: its header declares {declared} bytes, it \
                     decodes to {}",
                    self.decoded
                ),
            ));
        }
        match (
            self.frame.get_checksum_from_data(),
            self.frame.get_calculated_checksum(),
        ) {
            (Some(sent), Some(computed)) if sent != computed => Err(io::Error::new(
                io::ErrorKind::InvalidData,
                format!("zstd frame checksum mismatch: {sent:08x} sent, {computed:08x} computed"),
            )),
            _ => Ok(()),
        }
    }
}

fn zstd_truncated() -> io::Error {
    io::Error::new(
        io::ErrorKind::UnexpectedEof,
        "the zstd stream ends inside a frame",
    )
}

/// What a zstd frame header (RFC 8878 §3.1.1.1) says the frame needs and holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct FrameHeader {
    /// The window the frame needs: the window descriptor's, or the content size of a
    /// single-segment frame.
    window: u64,
    /// `Frame_Content_Size`, when the header gives it: what the frame decodes to.
    content_size: Option<u64>,
}

/// The header at the start of `header`; `None` when it is not a frame header (left
/// to the decoder to report).
fn zstd_header(header: &[u8]) -> Option<FrameHeader> {
    let (magic, rest) = header.split_first_chunk::<4>()?;
    if u32::from_le_bytes(*magic) != 0xFD2F_B528 {
        return None;
    }
    let (&descriptor, rest) = rest.split_first()?;
    let single_segment = descriptor & 0x20 != 0;
    let (window, rest) = if single_segment {
        (None, rest)
    } else {
        let (&window, rest) = rest.split_first()?;
        let base = 1u64 << (10 + (window >> 3));
        (Some(base + base / 8 * u64::from(window & 7)), rest)
    };
    let dictionary_id = match descriptor & 3 {
        0 => 0,
        1 => 1,
        2 => 2,
        _ => 4,
    };
    let size = rest.get(dictionary_id..)?;
    let content_size = match descriptor >> 6 {
        0 if single_segment => Some(u64::from(*size.first()?)),
        0 => None,
        1 => Some(u64::from(u16::from_le_bytes(*size.first_chunk()?)) + 256),
        2 => Some(u64::from(u32::from_le_bytes(*size.first_chunk()?))),
        _ => Some(u64::from_le_bytes(*size.first_chunk()?)),
    };
    Some(FrameHeader {
        window: window.or(content_size)?,
        content_size,
    })
}

impl Read for Zstd {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use ruzstd::decoding::BlockDecodingStrategy;
        loop {
            if !self.in_frame {
                // Another frame if anything follows; the first one always.
                if self.frames > 0 && self.input.fill_buf()?.is_empty() {
                    return Ok(0);
                }
                if self.skip_skippable()? {
                    // A frame too (RFC 8878 §3.1): data of skippable frames only
                    // decodes to nothing.
                    self.frames += 1;
                    continue;
                }
                self.start_frame()?;
            }
            let frame = &mut self.frame;
            while frame.can_collect() < out.len() && !frame.is_finished() {
                let wanted = out.len() - frame.can_collect();
                frame
                    .decode_blocks(&mut self.input, BlockDecodingStrategy::UptoBytes(wanted))
                    .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            }
            let n = frame.read(out)?;
            if n > 0 {
                self.decoded = self.decoded.saturating_add(n as u64);
                return Ok(n);
            }
            self.end_frame()?;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::DecompressionLimits;
    use super::super::codings::Coding;
    use super::super::test_support::decode_bytes;

    /// `Hello from zstd! ` ten times, as `zstd -19` (v1.5.4) writes it: one
    /// single-segment frame with its content checksum in the last 4 bytes.
    const ZSTD_HELLO: &[u8] = b"\x28\xb5\x2f\xfd\x24\xaa\xc5\x00\x00\x88\x48\x65\x6c\x6c\x6f\x20\
        \x66\x72\x6f\x6d\x20\x7a\x73\x74\x64\x21\x20\x01\x00\x2d\x44\xcd\x25\x28\x5b\x82\x4c";

    #[test]
    fn zstd_decodes_and_checks_the_content_checksum() -> Result<(), Error> {
        let limits = DecompressionLimits::default();
        let decoded = decode_bytes(ZSTD_HELLO, &[Coding::Zstd], limits)?;
        assert_eq!(decoded, b"Hello from zstd! ".repeat(10));
        let mut corrupt = ZSTD_HELLO.to_vec();
        if let Some(last) = corrupt.last_mut() {
            *last ^= 1;
        }
        let mismatch = decode_bytes(&corrupt, &[Coding::Zstd], limits);
        assert!(mismatch.is_err_and(|e| e.kind() == ErrorKind::Decompression
            && format!("{e:#}").contains("checksum mismatch")));
        let short = decode_bytes(&ZSTD_HELLO[..30], &[Coding::Zstd], limits);
        assert!(short.is_err_and(|e| e.kind() == ErrorKind::Decompression));
        let long = decode_bytes(&[ZSTD_HELLO, b"junk"].concat(), &[Coding::Zstd], limits);
        assert!(long.is_err_and(|e| e.kind() == ErrorKind::Decompression));
        Ok(())
    }

    #[test]
    fn zstd_windows_are_read_from_the_frame_header() {
        let magic = 0xFD2F_B528u32.to_le_bytes();
        let frame = |rest: &[u8]| [&magic[..], rest].concat();
        // Window descriptor 0x70: 2^(10+14) = 16 MiB; 0x68: 8 MiB.
        assert_eq!(
            zstd_header(&frame(&[0x00, 0x70])).map(|h| h.window),
            Some(16 << 20)
        );
        assert_eq!(
            zstd_header(&frame(&[0x00, 0x68])).map(|h| h.window),
            Some(8 << 20)
        );
        assert_eq!(
            zstd_header(&frame(&[0x00, 0x69])).map(|h| h.window),
            Some(9 << 20)
        );
        // Single segment, 1-byte content size.
        assert_eq!(zstd_header(&frame(&[0x20, 42])).map(|h| h.window), Some(42));
        // Single segment, 4-byte content size after a 1-byte dictionary id.
        let size = (100u32 << 20).to_le_bytes();
        assert_eq!(
            zstd_header(&frame(&[&[0xA1, 7][..], &size].concat())).map(|h| h.window),
            Some(100 << 20)
        );
        assert_eq!(zstd_header(b"not zstd"), None);
    }

    #[test]
    fn zstd_content_sizes_are_read_from_the_frame_header() {
        let magic = 0xFD2F_B528u32.to_le_bytes();
        let frame = |rest: &[u8]| [&magic[..], rest].concat();
        let size = |rest: &[u8]| zstd_header(&frame(rest)).map(|h| h.content_size);
        // Not single segment: none unless the flag says so (2 bytes: 256 more).
        assert_eq!(size(&[0x00, 0x50]), Some(None));
        assert_eq!(size(&[0x40, 0x50, 0x04, 0x00]), Some(Some(260)));
        // Single segment: 1 byte when the flag is 0.
        assert_eq!(size(&[0x20, 42]), Some(Some(42)));
        assert_eq!(size(&[0xA0, 0, 0, 1, 0]), Some(Some(1 << 16)));
    }

    /// A single-segment frame declaring `declared` bytes, with one raw last block.
    fn declaring(declared: u8, data: &[u8]) -> Vec<u8> {
        let mut frame = 0xFD2F_B528u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&[0x20, declared]);
        let header = (u32::try_from(data.len()).unwrap_or(0) << 3) | 1; // raw, last
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.extend_from_slice(data);
        frame
    }

    #[test]
    fn a_zstd_frame_that_decodes_to_another_size_than_it_declares_is_corrupt() {
        let limits = DecompressionLimits::default();
        let exact = decode_bytes(&declaring(5, b"hello"), &[Coding::Zstd], limits);
        assert_eq!(exact.ok().as_deref(), Some(&b"hello"[..]));
        for (declared, data) in [(10, &b"hello"[..]), (5, b"hello world"), (1, b"")] {
            let decoded = decode_bytes(&declaring(declared, data), &[Coding::Zstd], limits);
            assert!(
                decoded.is_err_and(|e| e.kind() == ErrorKind::Decompression
                    && format!("{e:#}").contains("size mismatch")),
                "{declared} declared, {} held",
                data.len()
            );
        }
    }

    #[test]
    fn zstd_frames_needing_more_than_8_mib_are_refused() {
        // A raw, last block of 5 bytes under a 16 MiB window descriptor.
        let mut frame = 0xFD2F_B528u32.to_le_bytes().to_vec();
        frame.extend_from_slice(&[0x00, 0x70]);
        let header = (5u32 << 3) | 1; // size 5, raw, last
        frame.extend_from_slice(&header.to_le_bytes()[..3]);
        frame.extend_from_slice(b"hello");
        let refused = decode_bytes(&frame, &[Coding::Zstd], DecompressionLimits::default());
        assert!(refused.is_err_and(
            |e| e.kind() == ErrorKind::Decompression && e.to_string().contains("RFC 9659")
        ));
        // The same block under an 8 MiB window decodes.
        frame[5] = 0x68;
        let decoded = decode_bytes(&frame, &[Coding::Zstd], DecompressionLimits::default());
        assert_eq!(decoded.ok().as_deref(), Some(&b"hello"[..]));
    }

    #[test]
    fn zstd_skippable_and_consecutive_frames_decode() -> Result<(), Error> {
        let frame = |data: &[u8]| {
            let mut frame = 0xFD2F_B528u32.to_le_bytes().to_vec();
            frame.extend_from_slice(&[0x00, 0x50]); // 1 MiB window, no checksum
            let header = ((data.len() as u32) << 3) | 1;
            frame.extend_from_slice(&header.to_le_bytes()[..3]);
            frame.extend_from_slice(data);
            frame
        };
        let mut body = 0x184D_2A53u32.to_le_bytes().to_vec();
        body.extend_from_slice(&3u32.to_le_bytes());
        body.extend_from_slice(b"xyz");
        body.extend(frame(b"hello, "));
        body.extend(frame(b"world"));
        let decoded = decode_bytes(&body, &[Coding::Zstd], DecompressionLimits::default())?;
        assert_eq!(decoded, b"hello, world");
        Ok(())
    }
}
