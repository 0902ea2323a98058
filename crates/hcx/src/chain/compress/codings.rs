//! The content codings hcx can decode, and how a `Content-Encoding` list is read into
//! them.

use http::header::{CONTENT_ENCODING, HeaderMap};

/// The codings of the `Content-Encoding` fields in the order they were applied,
/// `identity` left out; `None` when one of them cannot be decoded here.
pub(super) fn content_codings(headers: &HeaderMap) -> Option<Vec<Coding>> {
    let mut codings = Vec::new();
    for value in headers.get_all(CONTENT_ENCODING) {
        let value = value.to_str().ok()?;
        for token in value.split(',').map(str::trim).filter(|t| !t.is_empty()) {
            if !token.eq_ignore_ascii_case("identity") {
                codings.push(Coding::parse(token)?);
            }
        }
    }
    Some(codings)
}

/// A content coding hcx can decode (those of the features compiled in).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Coding {
    #[cfg(feature = "gzip")]
    Gzip,
    #[cfg(feature = "gzip")]
    Deflate,
    #[cfg(feature = "brotli")]
    Br,
    #[cfg(feature = "zstd")]
    Zstd,
}

impl Coding {
    /// The coding a `Content-Encoding` token names, if compiled in.
    fn parse(token: &str) -> Option<Coding> {
        let is = |name: &str| token.eq_ignore_ascii_case(name);
        #[cfg(feature = "gzip")]
        if is("gzip") || is("x-gzip") {
            return Some(Coding::Gzip);
        }
        #[cfg(feature = "gzip")]
        if is("deflate") {
            return Some(Coding::Deflate);
        }
        #[cfg(feature = "brotli")]
        if is("br") {
            return Some(Coding::Br);
        }
        #[cfg(feature = "zstd")]
        if is("zstd") {
            return Some(Coding::Zstd);
        }
        let _ = is;
        None
    }

    /// The coding's name, as `Content-Encoding` writes it.
    pub(super) fn name(self) -> &'static str {
        match self {
            #[cfg(feature = "gzip")]
            Coding::Gzip => "gzip",
            #[cfg(feature = "gzip")]
            Coding::Deflate => "deflate",
            #[cfg(feature = "brotli")]
            Coding::Br => "br",
            #[cfg(feature = "zstd")]
            Coding::Zstd => "zstd",
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    use http::header::HeaderValue;

    fn headers(values: &[&'static str]) -> HeaderMap {
        let mut map = HeaderMap::new();
        for v in values {
            map.append(CONTENT_ENCODING, HeaderValue::from_static(v));
        }
        map
    }

    #[test]
    fn unknown_codings_and_identity_only_are_not_decoded() {
        assert_eq!(content_codings(&headers(&["x-custom"])), None);
        assert_eq!(
            content_codings(&headers(&["identity", " , "])),
            Some(vec![])
        );
        assert_eq!(content_codings(&HeaderMap::new()), Some(vec![]));
    }

    #[cfg(feature = "gzip")]
    #[test]
    fn coding_lists_are_read_in_order_case_insensitively_across_fields() {
        assert_eq!(
            content_codings(&headers(&["GZip, identity", "x-gzip", "Deflate"])),
            Some(vec![Coding::Gzip, Coding::Gzip, Coding::Deflate])
        );
        assert_eq!(content_codings(&headers(&["gzip, x-custom"])), None);
    }
}
