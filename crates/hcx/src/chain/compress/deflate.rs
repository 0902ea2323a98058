//! The `deflate` coding's decoder: zlib (RFC 1950) or raw deflate (RFC 1951), as the
//! first two bytes say. Compiled with the `gzip` feature.

use std::io::{self, BufRead, Read};

use super::decoder::Input;

/// `deflate`: zlib or raw, as the first two bytes say.
pub(super) struct Inflate {
    pub(super) input: Input,
    inflate: flate2::Decompress,
    sniffed: bool,
    ended: bool,
}

impl Inflate {
    pub(super) fn new(input: Input) -> Self {
        Inflate {
            input,
            inflate: flate2::Decompress::new(true),
            sniffed: false,
            ended: false,
        }
    }
}

/// Whether a deflate body starts with a zlib header (RFC 1950 §2.2): compression
/// method 8, a window of at most 32 KiB, and a check that makes the two bytes a
/// multiple of 31. A raw deflate stream (RFC 1951) starting so would have a stored
/// block with padding bits set, which no encoder writes.
fn is_zlib(head: &[u8]) -> bool {
    match head {
        [cmf, flg, ..] => {
            cmf & 0x0F == 8 && cmf >> 4 <= 7 && u16::from_be_bytes([*cmf, *flg]) % 31 == 0
        }
        _ => false,
    }
}

impl Read for Inflate {
    fn read(&mut self, out: &mut [u8]) -> io::Result<usize> {
        use flate2::{FlushDecompress, Status};
        if self.ended {
            return Ok(0);
        }
        if !self.sniffed {
            self.sniffed = true;
            if !is_zlib(self.input.peek(2)?) {
                self.inflate.reset(false);
            }
        }
        loop {
            let input = self.input.fill_buf()?;
            let eof = input.is_empty();
            let (in_before, out_before) = (self.inflate.total_in(), self.inflate.total_out());
            let flush = if eof {
                FlushDecompress::Finish
            } else {
                FlushDecompress::None
            };
            let status = self
                .inflate
                .decompress(input, out, flush)
                .map_err(|e| io::Error::new(io::ErrorKind::InvalidData, e))?;
            let consumed = usize::try_from(self.inflate.total_in() - in_before).unwrap_or(0);
            let produced = usize::try_from(self.inflate.total_out() - out_before).unwrap_or(0);
            self.input.consume(consumed);
            if status == Status::StreamEnd {
                self.ended = true;
                return Ok(produced);
            }
            if produced > 0 {
                return Ok(produced);
            }
            if eof {
                return Err(io::Error::new(
                    io::ErrorKind::UnexpectedEof,
                    "the deflate stream ends before its last block",
                ));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use super::super::DecompressionLimits;
    use super::super::codings::Coding;
    use super::super::test_support::{decode_bytes, gzip, raw_deflate, zlib};
    use hcx_exec::Error;

    #[test]
    fn zlib_headers_are_told_from_raw_deflate() {
        assert!(is_zlib(&zlib(b"hello")));
        assert!(!is_zlib(&raw_deflate(b"hello")));
        assert!(is_zlib(&[0x78, 0x01]) && is_zlib(&[0x78, 0xDA]));
        assert!(!is_zlib(&[0x78]) && !is_zlib(&[0x78, 0x00]) && !is_zlib(&[0x88, 0x1A]));
    }

    #[test]
    fn deflate_decodes_zlib_and_raw_and_gzip_several_members() -> Result<(), Error> {
        let limits = DecompressionLimits::default();
        let text = b"the quick brown fox jumps over the lazy dog".repeat(50);
        assert_eq!(
            decode_bytes(&zlib(&text), &[Coding::Deflate], limits)?,
            text
        );
        assert_eq!(
            decode_bytes(&raw_deflate(&text), &[Coding::Deflate], limits)?,
            text
        );
        let mut two = gzip(b"hello, ");
        two.extend(gzip(b"world"));
        assert_eq!(
            decode_bytes(&two, &[Coding::Gzip], limits)?,
            b"hello, world"
        );
        Ok(())
    }
}
