//! [`DecompressionLimits`]: what a compressed body may decode to, and the check the
//! decoder makes after every read.

use hcx_exec::{Error, ErrorKind};

/// What a compressed response body may decode to before reading stops with an
/// [`ErrorKind::DecompressionLimit`] error and the connection is closed: a
/// decompression bomb (a few kilobytes of gzip that inflate to gigabytes) is stopped
/// at the limit, not read to its end. Set with
/// [`ClientBuilder::decompression_limits`](crate::ClientBuilder::decompression_limits).
///
/// The defaults stop bombs and let real bodies through: no cap on the decoded size
/// (a large compressed download is legitimate, and a streaming reader holds none of it
/// in memory), but at most 100 decoded bytes per encoded byte once more than 1 MiB
/// has been decoded. Text and JSON compress 3 to 20 times, rarely beyond 100; a bomb
/// runs at about 1,000 (gzip's most) and far more (brotli, zstd). The first MiB is
/// free so that small, very compressible bodies (a page of spaces) pass.
///
/// With stacked codings (`Content-Encoding: gzip, gzip`) every layer's output is held
/// to the same limits against the bytes read off the wire, not only the last one's: an
/// inner layer that decodes to much while the outer one yields nothing is a bomb too.
///
/// ```
/// use hcx::chain::DecompressionLimits;
/// let client = hcx::Client::builder()
///     .decompression_limits(
///         DecompressionLimits::default()
///             .with_max_decoded_bytes(Some(64 << 20))
///             .with_max_ratio(Some(1_000)),
///     )
///     .build()?;
/// # Ok::<(), hcx::Error>(())
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct DecompressionLimits {
    /// At most this many decoded bytes per body; `None`: no limit. Default `None`.
    pub max_decoded_bytes: Option<u64>,
    /// At most this many decoded bytes per encoded byte read, checked once
    /// [`ratio_threshold`](Self::ratio_threshold) bytes have been decoded; `None`: no
    /// limit. Default `Some(100)`. While it is set, one read of the body may also take
    /// at most 1 MiB of encoded bytes that decode to nothing (endless empty blocks or
    /// members would hold the read for as long as the server sends them; zstd's
    /// skippable frames, metadata, do not count). `Some(0)` is refused: the client
    /// builder's [`build`](crate::ClientBuilder::build) fails with a
    /// [`Config`](crate::ErrorKind::Config) error. A ratio below what compression
    /// achieves fails every compressed body larger than the threshold with
    /// [`DecompressionLimit`](crate::ErrorKind::DecompressionLimit): for no ratio
    /// limit, give `None`.
    ///
    /// ```
    /// use hcx::chain::DecompressionLimits;
    /// let built = hcx::Client::builder()
    ///     .decompression_limits(DecompressionLimits::default().with_max_ratio(Some(0)))
    ///     .build();
    /// assert!(built.is_err_and(|e| e.kind() == hcx::ErrorKind::Config));
    /// ```
    pub max_ratio: Option<u32>,
    /// The ratio is checked only past this many decoded bytes. Default 1 MiB.
    pub ratio_threshold: u64,
}

impl Default for DecompressionLimits {
    fn default() -> Self {
        DecompressionLimits {
            max_decoded_bytes: None,
            max_ratio: Some(100),
            ratio_threshold: 1 << 20,
        }
    }
}

impl DecompressionLimits {
    /// No limit at all: for servers you trust with bodies that compress beyond 100.
    pub fn none() -> Self {
        DecompressionLimits {
            max_decoded_bytes: None,
            max_ratio: None,
            ratio_threshold: 0,
        }
    }

    /// Sets [`max_decoded_bytes`](Self::max_decoded_bytes).
    pub fn with_max_decoded_bytes(mut self, max: Option<u64>) -> Self {
        self.max_decoded_bytes = max;
        self
    }

    /// Sets [`max_ratio`](Self::max_ratio).
    pub fn with_max_ratio(mut self, max: Option<u32>) -> Self {
        self.max_ratio = max;
        self
    }

    /// Sets [`ratio_threshold`](Self::ratio_threshold).
    pub fn with_ratio_threshold(mut self, threshold: u64) -> Self {
        self.ratio_threshold = threshold;
        self
    }

    /// The error for a body that went past a limit, or `None`.
    pub(super) fn check(&self, label: &str, decoded: u64, encoded: u64) -> Option<Error> {
        if let Some(max) = self.max_decoded_bytes
            && decoded > max
        {
            return Some(Error::new(
                ErrorKind::DecompressionLimit,
                format!(
                    "the {label} response body decodes to more than {max} bytes \
                     (DecompressionLimits::max_decoded_bytes)"
                ),
            ));
        }
        if let Some(ratio) = self.max_ratio
            && decoded > self.ratio_threshold
            && decoded > encoded.saturating_mul(u64::from(ratio))
        {
            return Some(Error::new(
                ErrorKind::DecompressionLimit,
                format!(
                    "the {label} response body decoded to {decoded} bytes from {encoded}, \
                     more than {ratio} times its encoded size (DecompressionLimits::max_ratio): \
                     a decompression bomb?"
                ),
            ));
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_count_bytes_and_the_ratio_past_its_threshold() {
        let limits = DecompressionLimits::default().with_max_decoded_bytes(Some(10 << 20));
        // Small and very compressible: under the threshold, any ratio passes.
        assert!(limits.check("gzip", 1 << 20, 10).is_none());
        // Past it, at most 100 to 1.
        assert!(limits.check("gzip", (1 << 20) + 1, 20_000).is_none());
        let bomb = limits.check("gzip", 2 << 20, 2_000);
        assert!(
            bomb.is_some_and(|e| e.kind() == ErrorKind::DecompressionLimit
                && e.to_string().contains("2097152 bytes from 2000"))
        );
        let large = limits.check("gzip", (10 << 20) + 1, 10 << 20);
        assert!(large.is_some_and(|e| e.to_string().contains("max_decoded_bytes")));
        assert!(
            DecompressionLimits::none()
                .check("br", u64::MAX, 1)
                .is_none()
        );
    }
}
