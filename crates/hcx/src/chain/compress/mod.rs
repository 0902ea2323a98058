//! COMPRESS: asks for compressed bodies and decodes them. Apache HttpClient 5:
//! `ContentCompressionExec`.
//!
//! On the way in, a request without `Accept-Encoding` gets one that lists the codings
//! compiled in, in this order: `gzip, deflate` (feature `gzip`, on by default), `br`
//! (feature `brotli`), `zstd` (feature `zstd`). This layer does not write it into the
//! request: it hands it to PROTOCOL ([`Scope::accept_encoding`]), which adds it after
//! its first request interceptors and before the client's default headers. So the
//! head RETRY keeps for a replay is the one the caller built (copying it allocates
//! nothing when the caller set no header), and handlers between COMPRESS and PROTOCOL
//! do not see the field. A request that sets the header keeps it as it is, and its
//! response is still decoded. A default `Accept-Encoding` given to the builder
//! ([`default_header`](crate::ClientBuilder::default_header)) is added after this
//! layer's, only to requests without one, so this layer's wins, as in Apache; set the
//! header on the request instead.
//!
//! On the way out, a body whose `Content-Encoding` lists only codings hcx can decode
//! is decoded as the caller reads it, and the response loses its `Content-Encoding`,
//! `Content-Length` and `Content-MD5` fields, which describe the encoded bytes (as
//! Apache does). The codings are undone in reverse order of the list (RFC 9110
//! §8.4: the last one was applied last), compared case-insensitively; `identity` is
//! skipped and `x-gzip` is `gzip` (RFC 9110 §8.4.1.3).
//!
//! Left as they came, header and bytes:
//! - a body with a coding hcx cannot decode (`Content-Encoding: x-custom`, or `br`
//!   without the `brotli` feature), or more than five codings (curl's limit): the
//!   caller gets the encoded bytes and the header that says how to read them;
//! - responses without a body: to `HEAD`, `204`, `304`, `Content-Length: 0`;
//! - `206 Partial Content`: a range of the encoded bytes does not decode on its own;
//! - everything, when content compression is off for the request
//!   ([`RequestConfig::content_compression_enabled`](crate::RequestConfig::content_compression_enabled), Apache's
//!   `contentCompressionEnabled`) or for the client
//!   ([`ClientBuilder::disable_content_compression`](crate::ClientBuilder::disable_content_compression)).
//!
//! How the codings are read:
//! - `gzip`: one member or several in a row (RFC 1952 §2.2), each checked against its
//!   CRC-32 and length.
//! - `deflate`: RFC 9110 means zlib (RFC 1950), some servers send raw deflate
//!   (RFC 1951); as browsers do, the first two bytes decide (a valid zlib header or
//!   not).
//! - `br`: RFC 7932.
//! - `zstd`: one frame or several, skippable frames skipped, the content checksum
//!   and the content size a frame declares checked; a frame that needs a window over
//!   8 MiB is refused, as RFC 9659 allows, because the decoder would buffer that much
//!   before handing out a byte.
//! - A body with no bytes at all decodes to nothing, whatever its coding says.
//!
//! The connection is given back as if the body had been read undecoded: when the
//! decoder reaches the end of its stream it reads the body on to its end (the chunked
//! terminator, a few bytes) before it returns the final `Ok(0)`, so the connection
//! goes back to the pool for the next request. Bytes after the end of the compressed
//! stream are an [`ErrorKind::Decompression`] error: they are data the caller would
//! otherwise never see, from a server that is broken in some way (Java's
//! `GZIPInputStream`, which Apache uses, and browsers drop them silently; to read such
//! a body, turn decoding off for the request and decode it yourself).
//!
//! Errors reach the caller through `Read` as an [`io::Error`] carrying the hcx
//! [`Error`] (and from [`ResponseBody::into_vec`]/`into_string` as that error): a
//! corrupt or truncated stream is [`ErrorKind::Decompression`], a body that decodes
//! past the [`DecompressionLimits`] is [`ErrorKind::DecompressionLimit`], and a
//! failure of the body itself (a timeout, a connection closed early) keeps its own
//! kind. The rest of the body is then not read and its connection is closed (a body
//! whose bytes had all been read off the connection has already given it back, its
//! framing intact).
//!
//! Dropping a decoded body before its end drains the rest of the *encoded* body within
//! the drain limits, as for any body.
//!
//! The trailer fields of a chunked body ([`ResponseBody::trailers`]) are there once
//! the decoded body has been read to its end, as on a body read undecoded.
//!
//! [`io::Error`]: std::io::Error

// Built without any coding, `Coding` has no variants: the decoding code in the
// submodules compiles but can never run, which rustc reports as unreachable code and
// unused values.
#![cfg_attr(
    not(any(feature = "gzip", feature = "brotli", feature = "zstd")),
    allow(unreachable_code, unused_variables, unused_mut)
)]

mod codings;
mod decoder;
#[cfg(feature = "gzip")]
mod deflate;
mod limits;
#[cfg(all(test, any(feature = "gzip", feature = "brotli", feature = "zstd")))]
mod test_support;
#[cfg(feature = "zstd")]
mod zstd;

pub use limits::DecompressionLimits;

use std::sync::Arc;

use hcx_exec::{Body, Error, ErrorKind, ResponseBody};
use std::sync::OnceLock;

use http::header::{CONTENT_ENCODING, CONTENT_LENGTH, HeaderValue};
use http::{Request, Response, StatusCode};

use super::{Chain, ExecHandler, Scope};
use codings::content_codings;
use decoder::Decoding;

/// The codings compiled in, in the order `Accept-Encoding` lists them.
const ACCEPTED: &[&str] = &[
    #[cfg(feature = "gzip")]
    "gzip",
    #[cfg(feature = "gzip")]
    "deflate",
    #[cfg(feature = "brotli")]
    "br",
    #[cfg(feature = "zstd")]
    "zstd",
];

/// More codings than this on one body are not decoded (curl's limit: each costs
/// buffers, and no server has a reason to stack them).
const MAX_CODINGS: usize = 5;

// ---------------------------------------------------------------------------------
// Settings and the builder's methods
// ---------------------------------------------------------------------------------

/// The builder's settings for this layer.
pub(crate) struct Settings {
    enabled: bool,
    limits: DecompressionLimits,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            enabled: true,
            limits: DecompressionLimits::default(),
        }
    }
}

/// The layer's handler, or `None` when it is off.
pub(crate) fn handler(settings: &Settings) -> Option<Arc<dyn ExecHandler>> {
    if !settings.enabled {
        return None;
    }
    let handler: Arc<dyn ExecHandler> = Arc::new(ContentCompressionExec::new(settings.limits));
    Some(handler)
}

impl crate::ClientBuilder {
    /// Leaves the COMPRESS element out of the chain: no `Accept-Encoding` is added, and
    /// bodies come as the server sent them, with their `Content-Encoding`. Default: on.
    /// For one request, [`RequestConfig::with_content_compression(false)`] does the
    /// same. Apache: `disableContentCompression`.
    ///
    /// [`RequestConfig::with_content_compression(false)`]: crate::RequestConfig::with_content_compression
    #[doc(alias("disableContentCompression"))]
    pub fn disable_content_compression(mut self) -> Self {
        self.compress.enabled = false;
        self
    }

    /// Limits on what a compressed body may decode to (a decompression bomb). Default:
    /// [`DecompressionLimits::default`]. A `max_ratio` of zero is reported by
    /// [`build`](Self::build).
    pub fn decompression_limits(mut self, limits: DecompressionLimits) -> Self {
        if limits.max_ratio == Some(0) {
            return self.invalid(Error::new(
                ErrorKind::Config,
                "DecompressionLimits::max_ratio must be at least 1 (None: no ratio limit)",
            ));
        }
        self.compress.limits = limits;
        self
    }
}

// ---------------------------------------------------------------------------------
// The handler
// ---------------------------------------------------------------------------------

/// The COMPRESS element.
struct ContentCompressionExec {
    /// `None` when no coding is compiled in: nothing to ask for.
    accept: Option<&'static HeaderValue>,
    limits: DecompressionLimits,
}

impl ContentCompressionExec {
    fn new(limits: DecompressionLimits) -> Self {
        // Joined once per process and kept for its life (a few dozen bytes), so that
        // the value is a static one: the copy PROTOCOL puts into a request's header map
        // is a pointer, not a reference count that every thread would bump on one
        // shared cache line. The value itself is static too: each request hands
        // PROTOCOL a reference to it, not a copy.
        static VALUE: OnceLock<HeaderValue> = OnceLock::new();
        let accept = (!ACCEPTED.is_empty()).then(|| {
            VALUE.get_or_init(|| {
                HeaderValue::from_static(Box::leak(ACCEPTED.join(", ").into_boxed_str()))
            })
        });
        ContentCompressionExec { accept, limits }
    }
}

impl ExecHandler for ContentCompressionExec {
    fn execute(
        &self,
        request: Request<Body>,
        scope: &mut Scope<'_>,
        chain: Chain<'_>,
    ) -> Result<Response<ResponseBody>, Error> {
        if !scope.config.content_compression_enabled {
            scope.set_accept_encoding(None);
            return chain.proceed(request, scope);
        }
        // PROTOCOL adds it, to a request that still has none by then: the request
        // stays as the caller built it on its way through RETRY.
        scope.set_accept_encoding(self.accept);
        let result = chain.proceed(request, scope);
        // Most responses are not decoded: they are returned as they came, not moved
        // through `decode` and back.
        match &result {
            Ok(response) if decodable(response) => result.map(|r| decode(r, self.limits)),
            _ => result,
        }
    }
}

/// Whether `response` may have a body to decode: one with a byte still to read (not
/// to `HEAD`, a `204`, a `304`, a `Content-Length: 0`; a handler's own in-memory body
/// is one), not a `206`, and with a `Content-Encoding` field (looking one up costs a
/// fraction of reading the list).
fn decodable(response: &Response<ResponseBody>) -> bool {
    !response.body().is_exhausted()
        && response.status() != StatusCode::PARTIAL_CONTENT
        && response.headers().contains_key(CONTENT_ENCODING)
}

/// The response with its body decoded, or as it came when its codings are only
/// `identity`, too many, or one this build cannot decode. For a response
/// [`decodable`] said yes to (its one caller asks first).
fn decode(
    mut response: Response<ResponseBody>,
    limits: DecompressionLimits,
) -> Response<ResponseBody> {
    let Some(codings) = content_codings(response.headers()) else {
        return response;
    };
    let Some((&last, earlier)) = codings.split_last() else {
        return response; // identity only
    };
    if codings.len() > MAX_CODINGS {
        return response;
    }
    let headers = response.headers_mut();
    headers.remove(CONTENT_ENCODING);
    headers.remove(CONTENT_LENGTH);
    headers.remove("content-md5");
    response.map(|body| body.map_reader(|body| Decoding::new(body, earlier, last, limits)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn accept_encoding_lists_the_codings_compiled_in_in_a_stable_order() {
        let exec = ContentCompressionExec::new(DecompressionLimits::default());
        let expected: Vec<&str> = [
            (cfg!(feature = "gzip"), "gzip"),
            (cfg!(feature = "gzip"), "deflate"),
            (cfg!(feature = "brotli"), "br"),
            (cfg!(feature = "zstd"), "zstd"),
        ]
        .into_iter()
        .filter_map(|(on, name)| on.then_some(name))
        .collect();
        let sent = exec.accept.and_then(|v| v.to_str().ok());
        if expected.is_empty() {
            assert_eq!(sent, None);
        } else {
            assert_eq!(sent, Some(expected.join(", ").as_str()));
        }
    }
}
