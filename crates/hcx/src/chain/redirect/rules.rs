//! What the next hop keeps of the current one: its method and body (RFC 9110 §15.4),
//! its body headers, and, across a change of origin, its credentials.

use hcx_exec::{Body, Error, ErrorKind};
use http::header::{self, HeaderName};
use http::{Method, Request, StatusCode, Uri};
use url::Url;

/// Whether `a` and `b` have the same origin (scheme, host, port with the scheme's
/// default): the boundary across which credentials are not carried. A URI that is not
/// absolute has no origin and matches nothing.
fn same_origin(a: &Uri, b: &Uri) -> bool {
    let origin = |uri: &Uri| Url::parse(&uri.to_string()).ok().map(|u| u.origin());
    match (origin(a), origin(b)) {
        // An opaque origin (a scheme without one) is unequal to every other.
        (Some(a), Some(b)) => a == b,
        _ => false,
    }
}

/// What the next hop does with the method and body of the current one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Rewrite {
    /// Same method, same body.
    Keep,
    /// `GET` without body.
    ToGet,
}

/// RFC 9110 §15.4: `303` asks for a `GET` (a `HEAD` stays one, it asks for less);
/// for `301` and `302` the RFC allows a `POST` to become a `GET`, which every browser
/// and Apache 5 do; `307` and `308` forbid any change.
fn rewrite(method: &Method, status: StatusCode) -> Rewrite {
    match status.as_u16() {
        303 if method != Method::GET && method != Method::HEAD => Rewrite::ToGet,
        301 | 302 if method == Method::POST => Rewrite::ToGet,
        _ => Rewrite::Keep,
    }
}

/// Headers that describe a body: meaningless, or wrong, once the body is gone.
const BODY_HEADERS: [HeaderName; 7] = [
    header::CONTENT_LENGTH,
    header::CONTENT_TYPE,
    header::CONTENT_ENCODING,
    header::CONTENT_LANGUAGE,
    header::CONTENT_LOCATION,
    header::TRANSFER_ENCODING,
    header::EXPECT,
];

/// Headers not carried to another origin: credentials, and a `Host` naming the old one.
/// PROTOCOL does not add the client's default headers of these names either once an
/// execution has left its origin ([`Scope::left_origin`](crate::chain::Scope::left_origin)),
/// `Proxy-Authorization` excepted (it only ever goes to a forward proxy).
pub(crate) const ORIGIN_HEADERS: [HeaderName; 4] = [
    header::AUTHORIZATION,
    header::PROXY_AUTHORIZATION,
    header::COOKIE,
    header::HOST,
];

/// Whether a field stays with the origin it was sent to, and is not carried to another
/// one by a redirect: the [`ORIGIN_HEADERS`], and any value marked sensitive
/// (`HeaderValue::set_sensitive`: an API key of your own, say), which hcx treats as a
/// credential.
pub(crate) fn stays_with_origin(name: &HeaderName, value: &http::HeaderValue) -> bool {
    ORIGIN_HEADERS.contains(name) || value.is_sensitive()
}

/// The next hop of a redirect.
pub(super) struct NextHop {
    /// The request to send.
    pub(super) request: Request<Body>,
    /// Whether it goes to another origin than the hop before (its credentials were
    /// removed).
    pub(super) left_origin: bool,
}

/// The next hop: `head` (the current hop's request) sent to `location` after a
/// `status` response, with `replay` as the body if it keeps one (`None`: the body
/// cannot be sent again).
pub(super) fn next_request(
    head: Request<()>,
    replay: Option<Body>,
    status: StatusCode,
    location: Uri,
) -> Result<NextHop, Error> {
    let (mut parts, ()) = head.into_parts();
    let body = match rewrite(&parts.method, status) {
        Rewrite::ToGet => {
            parts.method = Method::GET;
            for name in &BODY_HEADERS {
                parts.headers.remove(name);
            }
            Body::empty()
        }
        Rewrite::Keep => replay.ok_or_else(|| {
            Error::new(
                ErrorKind::Redirect,
                format!(
                    "cannot follow the {status} redirect to {location}: the {} body is a \
                     reader and cannot be sent again (give bytes or Body::from_factory)",
                    parts.method
                ),
            )
        })?,
    };
    let left_origin = !same_origin(&parts.uri, &location);
    if left_origin {
        let staying: Vec<HeaderName> = parts
            .headers
            .iter()
            .filter(|(name, value)| stays_with_origin(name, value))
            .map(|(name, _)| name.clone())
            .collect();
        for name in &staying {
            parts.headers.remove(name);
        }
    }
    parts.uri = location;
    Ok(NextHop {
        request: Request::from_parts(parts, body),
        left_origin,
    })
}

#[cfg(test)]
mod tests {
    use super::super::tests::uri;
    use super::*;
    use http::HeaderValue;

    #[test]
    fn method_rules_follow_rfc_9110_and_browsers() {
        use Rewrite::{Keep, ToGet};
        let (get, head, post, put, delete) = (
            Method::GET,
            Method::HEAD,
            Method::POST,
            Method::PUT,
            Method::DELETE,
        );
        let cases = [
            (&post, 301, ToGet),
            (&post, 302, ToGet),
            (&post, 303, ToGet),
            (&post, 307, Keep),
            (&post, 308, Keep),
            (&put, 301, Keep),
            (&put, 302, Keep),
            (&put, 303, ToGet),
            (&delete, 303, ToGet),
            (&put, 307, Keep),
            (&get, 303, Keep),
            (&head, 303, Keep),
            (&head, 301, Keep),
            (&get, 308, Keep),
        ];
        for (method, code, expected) in cases {
            let status = StatusCode::from_u16(code).unwrap_or(StatusCode::OK);
            assert_eq!(rewrite(method, status), expected, "{method} {code}");
        }
    }

    fn post(to: &str) -> Request<()> {
        let mut request = Request::new(());
        *request.method_mut() = Method::POST;
        *request.uri_mut() = uri(to);
        for (name, value) in [
            ("content-type", "text/plain"),
            ("content-length", "5"),
            ("authorization", "Basic YTpi"),
            ("proxy-authorization", "Basic YTpi"),
            ("cookie", "s=1"),
            ("host", "alias.example"),
            ("x-trace", "7"),
        ] {
            request
                .headers_mut()
                .append(name, HeaderValue::from_static(value));
        }
        request
    }

    #[test]
    fn a_post_turned_into_a_get_loses_its_body_and_body_headers() -> Result<(), Error> {
        let next = next_request(
            post("http://h/form"),
            Some(Body::from("hello")),
            StatusCode::SEE_OTHER,
            uri("http://h/done"),
        )?;
        assert!(!next.left_origin);
        let next = next.request;
        assert_eq!(next.method(), Method::GET);
        assert!(next.body().is_empty());
        for gone in ["content-type", "content-length"] {
            assert!(!next.headers().contains_key(gone), "{gone}");
        }
        // Same origin: credentials and the caller's Host stay.
        for kept in ["authorization", "cookie", "host", "x-trace"] {
            assert!(next.headers().contains_key(kept), "{kept}");
        }
        Ok(())
    }

    #[test]
    fn another_origin_gets_no_credentials_and_no_host() -> Result<(), Error> {
        for to in ["http://other/x", "http://h:8080/x", "https://h/x"] {
            let next = next_request(
                post("http://h/form"),
                Some(Body::from("hello")),
                StatusCode::TEMPORARY_REDIRECT,
                uri(to),
            )?;
            assert!(next.left_origin, "{to}");
            let next = next.request;
            assert_eq!(next.method(), Method::POST, "{to}");
            assert_eq!(next.body().content_length(), Some(5), "{to}");
            for gone in ["authorization", "proxy-authorization", "cookie", "host"] {
                assert!(!next.headers().contains_key(gone), "{gone} to {to}");
            }
            assert!(next.headers().contains_key("content-type"), "{to}");
            assert!(next.headers().contains_key("x-trace"), "{to}");
        }
        Ok(())
    }

    #[test]
    fn a_body_that_cannot_be_sent_again_is_an_error_only_when_it_is_needed() {
        let kept = next_request(
            post("http://h/a"),
            None,
            StatusCode::PERMANENT_REDIRECT,
            uri("http://h/b"),
        );
        assert!(kept.is_err_and(|e| e.kind() == ErrorKind::Redirect
            && e.to_string().contains("cannot be sent again")
            && e.to_string().contains("http://h/b")));
        let dropped = next_request(
            post("http://h/a"),
            None,
            StatusCode::FOUND,
            uri("http://h/b"),
        );
        assert!(dropped.is_ok_and(|hop| hop.request.method() == Method::GET));
    }

    #[test]
    fn origins_compare_normalized_scheme_host_and_port() {
        assert!(same_origin(&uri("http://H/a"), &uri("http://h:80/b")));
        assert!(same_origin(
            &uri("http://127.0.0.1:5/"),
            &uri("http://127.0.0.1:5/x")
        ));
        assert!(!same_origin(
            &uri("http://127.0.0.1:5/"),
            &uri("http://127.0.0.1:6/")
        ));
        assert!(!same_origin(&uri("http://h/"), &uri("https://h/")));
        assert!(!same_origin(&uri("/relative"), &uri("/relative")));
    }
}
