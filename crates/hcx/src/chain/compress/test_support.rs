//! What the decoder tests share: a decoder over bytes, and encoders that make test
//! bodies.

#[cfg(feature = "gzip")]
use std::io::Write;
use std::io::{self, Read};

use hcx_exec::{Error, ErrorKind};

use super::DecompressionLimits;
use super::codings::Coding;
use super::decoder::{Decoding, Encoded};

impl Encoded for io::Cursor<Vec<u8>> {
    fn discard(self: Box<Self>) {}
}

/// Decodes `encoded` as `codings` (applied in that order) with `limits`.
pub(super) fn decode_bytes(
    encoded: &[u8],
    codings: &[Coding],
    limits: DecompressionLimits,
) -> Result<Vec<u8>, Error> {
    let Some((&last, earlier)) = codings.split_last() else {
        return Err(Error::new(ErrorKind::Config, "no codings"));
    };
    let mut decoding = Decoding::new(io::Cursor::new(encoded.to_vec()), earlier, last, limits);
    let mut out = Vec::new();
    decoding.read_to_end(&mut out).map_err(Error::from_io)?;
    Ok(out)
}

#[cfg(feature = "gzip")]
pub(super) fn gzip(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

#[cfg(feature = "gzip")]
pub(super) fn zlib(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}

#[cfg(feature = "gzip")]
pub(super) fn raw_deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder =
        flate2::write::DeflateEncoder::new(Vec::new(), flate2::Compression::default());
    let _ = encoder.write_all(data);
    encoder.finish().unwrap_or_default()
}
