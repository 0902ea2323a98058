//! Form bodies and query parameters, `application/x-www-form-urlencoded`: Apache's
//! `UrlEncodedFormEntity` and `URIBuilder.addParameter` (and, through
//! [`RequestBuilderExt::multipart`], `multipart/form-data`: [`crate::multipart`]).
//!
//! Names and values are encoded as UTF-8, every byte but ASCII letters, digits and
//! `*-._` written as `%XX`: the WHATWG URL standard's form serializer, which browsers
//! use. In a form body a space is `+`; in a query `%20` (a `+` there means a space
//! only to a form decoder). Apache 5's `UrlEncodedFormEntity` encodes ISO-8859-1
//! unless given a charset (and says `charset=ISO-8859-1` in its `Content-Type`); a
//! server that reads forms as UTF-8, as most do today, reads hcx's forms right.
//!
//! ```
//! use hcx::RequestBuilderExt;
//!
//! let request = http::Request::post("http://example.com/login")
//!     .query([("next", "/a b")])
//!     .form([("user", "jürgen"), ("note", "1+1=2")])?;
//! assert_eq!(request.uri(), "http://example.com/login?next=%2Fa%20b");
//! assert_eq!(request.headers()["content-type"], hcx::form::MEDIA_TYPE);
//! assert_eq!(request.body().content_length(), Some(31));
//! assert_eq!(
//!     hcx::form::encode([("user", "jürgen"), ("note", "1+1=2")]),
//!     "user=j%C3%BCrgen&note=1%2B1%3D2"
//! );
//! # Ok::<(), http::Error>(())
//! ```

use http::header::CONTENT_TYPE;
use http::uri::PathAndQuery;
use http::{HeaderValue, Request, Uri};

use crate::Body;

/// The media type of a form body, `application/x-www-form-urlencoded` (without a
/// charset parameter, as browsers send it).
pub const MEDIA_TYPE: &str = "application/x-www-form-urlencoded";

/// `pairs` as a form body: `name=value` joined by `&`, a space as `+`. Apache:
/// `URLEncodedUtils.format(params, UTF_8)`.
#[doc(alias("UrlEncodedFormEntity", "URLEncodedUtils", "format"))]
pub fn encode<I, K, V>(pairs: I) -> String
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    let mut out = String::new();
    append(&mut out, pairs, Space::Plus);
    out
}

/// How a space is written.
#[derive(Clone, Copy)]
enum Space {
    /// `+`, in a form body.
    Plus,
    /// `%20`, in a URI's query.
    Percent,
}

/// Appends `pairs` to `out`, each after a `&` unless `out` is empty.
fn append<I, K, V>(out: &mut String, pairs: I, space: Space)
where
    I: IntoIterator<Item = (K, V)>,
    K: AsRef<str>,
    V: AsRef<str>,
{
    for (name, value) in pairs {
        if !out.is_empty() {
            out.push('&');
        }
        escape(out, name.as_ref(), space);
        out.push('=');
        escape(out, value.as_ref(), space);
    }
}

/// The WHATWG serializer `url` already carries (`form_urlencoded`), which writes a
/// space as `+` (a literal `+` as `%2B`): in a query, that `+` becomes `%20`.
fn escape(out: &mut String, text: &str, space: Space) {
    for piece in url::form_urlencoded::byte_serialize(text.as_bytes()) {
        match (piece, space) {
            ("+", Space::Percent) => out.push_str("%20"),
            _ => out.push_str(piece),
        }
    }
}

/// Form bodies and query parameters on [`http::request::Builder`]. Apache:
/// `UrlEncodedFormEntity`, `URIBuilder.addParameter`, 5.x's
/// `ClassicRequestBuilder.addParameter`.
pub trait RequestBuilderExt: sealed::Sealed + Sized {
    /// Appends `pairs` to the URI's query (after a `&` when it has one already), a
    /// space as `%20`; an absolute URI without a path gets `/`. A builder that already
    /// failed stays failed; one whose URI takes no query (a `CONNECT`'s `host:port`,
    /// `*`) fails.
    #[doc(alias("addParameter", "addParameters", "URIBuilder", "setParameter"))]
    fn query<I, K, V>(self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>;

    /// Finishes the request with `pairs` as its form body ([`encode`]), replayable,
    /// and `Content-Type: application/x-www-form-urlencoded` unless one is set
    /// already.
    #[doc(alias("UrlEncodedFormEntity", "setEntity"))]
    fn form<I, K, V>(self, pairs: I) -> Result<Request<Body>, http::Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>;

    /// Finishes the request with `form` as its `multipart/form-data` body, its
    /// `Content-Type` (with the form's boundary) replacing any set before. Apache:
    /// `setEntity(MultipartEntityBuilder…build())`.
    #[doc(alias("MultipartEntityBuilder"))]
    fn multipart(self, form: crate::multipart::Form) -> Result<Request<Body>, http::Error>;
}

impl RequestBuilderExt for http::request::Builder {
    fn query<I, K, V>(self, pairs: I) -> Self
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let Some(uri) = self.uri_ref() else {
            return self;
        };
        let mut query = uri.query().unwrap_or_default().to_owned();
        let before = query.len();
        append(&mut query, pairs, Space::Percent);
        if query.len() == before {
            return self;
        }
        let path = match uri.path() {
            // An absolute URI without a path: the root.
            "" => "/",
            path => path,
        };
        let mut parts = uri.clone().into_parts();
        // Only escaped bytes were added: parsing fails only on a path that was
        // invalid already, and the builder then carries the error.
        match PathAndQuery::try_from(format!("{path}?{query}")) {
            Ok(path_and_query) => {
                parts.path_and_query = Some(path_and_query);
                match Uri::from_parts(parts) {
                    Ok(uri) => self.uri(uri),
                    Err(e) => self.uri(e.to_string()),
                }
            }
            Err(e) => self.uri(e.to_string()),
        }
    }

    fn form<I, K, V>(self, pairs: I) -> Result<Request<Body>, http::Error>
    where
        I: IntoIterator<Item = (K, V)>,
        K: AsRef<str>,
        V: AsRef<str>,
    {
        let has_type = self
            .headers_ref()
            .is_some_and(|headers| headers.contains_key(CONTENT_TYPE));
        let builder = if has_type {
            self
        } else {
            self.header(CONTENT_TYPE, HeaderValue::from_static(MEDIA_TYPE))
        };
        builder.body(Body::from(encode(pairs)))
    }

    fn multipart(mut self, form: crate::multipart::Form) -> Result<Request<Body>, http::Error> {
        let content_type = form.content_type();
        if let Some(headers) = self.headers_mut() {
            headers.remove(CONTENT_TYPE);
        }
        self.header(CONTENT_TYPE, content_type)
            .body(form.into_body())
    }
}

mod sealed {
    pub trait Sealed {}
    impl Sealed for http::request::Builder {}
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_form_serializer_escapes_all_but_its_safe_set() {
        assert_eq!(
            encode([("a b", "c+d&e=f"), ("*-._~", "é/?#%")]),
            "a+b=c%2Bd%26e%3Df&*-._%7E=%C3%A9%2F%3F%23%25"
        );
        assert_eq!(encode([("", "")]), "=");
        assert_eq!(encode(Vec::<(&str, &str)>::new()), "");
    }

    #[test]
    fn query_parameters_append_to_what_is_there() -> Result<(), http::Error> {
        let request = Request::get("http://h/p?x=1")
            .query([("a b", "c")])
            .query([("d", "e+f")])
            .body(())?;
        assert_eq!(request.uri(), "http://h/p?x=1&a%20b=c&d=e%2Bf");
        let request = Request::get("http://h").query([("q", "1")]).body(())?;
        assert_eq!(request.uri(), "http://h/?q=1");
        let request = Request::get("/rel").query([("q", "1")]).body(())?;
        assert_eq!(request.uri(), "/rel?q=1");
        let unchanged = Request::get("http://h/p")
            .query(Vec::<(String, String)>::new())
            .body(())?;
        assert_eq!(unchanged.uri(), "http://h/p");
        Ok(())
    }

    #[test]
    fn a_failed_builder_stays_failed_and_a_set_content_type_stays() -> Result<(), http::Error> {
        let failed = Request::get("http://bad uri/").query([("a", "b")]).body(());
        assert!(failed.is_err());
        let request = Request::post("http://h/")
            .header(
                CONTENT_TYPE,
                "application/x-www-form-urlencoded; charset=UTF-8",
            )
            .form([("a", "b")])?;
        assert_eq!(
            request.headers().get_all(CONTENT_TYPE).iter().count(),
            1,
            "one Content-Type"
        );
        assert_eq!(
            request.headers()[CONTENT_TYPE],
            "application/x-www-form-urlencoded; charset=UTF-8"
        );
        assert!(request.body().is_replayable());
        Ok(())
    }
}
