//! Basic proxy authentication (RFC 9110 §11.7.1, RFC 7617): the credentials a proxy
//! requires and the check of a request's `Proxy-Authorization`.

use http::HeaderMap;
use http::header::PROXY_AUTHORIZATION;

/// The realm of the proxy's `Proxy-Authenticate` challenge.
pub(crate) const REALM: &str = "test-proxy";

/// Credentials the proxy requires, kept as the base64 token a client sends.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Credentials {
    token: String,
}

impl Credentials {
    pub(crate) fn new(user: &str, password: &str) -> Self {
        Credentials {
            token: base64(format!("{user}:{password}").as_bytes()),
        }
    }

    /// Whether `headers` carry these credentials in a `Proxy-Authorization: Basic`
    /// field (the scheme name is case-insensitive, RFC 9110 §11.1).
    pub(crate) fn accepts(&self, headers: &HeaderMap) -> bool {
        headers.get_all(PROXY_AUTHORIZATION).iter().any(|value| {
            let value = value.as_bytes().trim_ascii();
            let Some(space) = value.iter().position(|&b| b == b' ') else {
                return false;
            };
            let (scheme, token) = value.split_at(space);
            scheme.eq_ignore_ascii_case(b"basic") && token.trim_ascii() == self.token.as_bytes()
        })
    }
}

/// Standard base64 with padding (RFC 4648 §4).
fn base64(input: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(input.len().div_ceil(3) * 4);
    for group in input.chunks(3) {
        let bytes = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = u32::from_be_bytes([0, bytes[0], bytes[1], bytes[2]]);
        for i in 0..4 {
            if i <= group.len() {
                let index = (n >> (18 - 6 * i)) & 0x3f;
                out.push(char::from(ALPHABET[index as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use http::HeaderValue;

    #[test]
    fn base64_matches_rfc4648_test_vectors() {
        let cases = [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
            ("user:pass", "dXNlcjpwYXNz"),
        ];
        for (input, expected) in cases {
            assert_eq!(base64(input.as_bytes()), expected, "input {input:?}");
        }
    }

    #[test]
    fn accepts_only_the_configured_basic_credentials() {
        let credentials = Credentials::new("user", "pass");
        let check = |value: Option<&'static str>| {
            let mut headers = HeaderMap::new();
            if let Some(value) = value {
                headers.insert(PROXY_AUTHORIZATION, HeaderValue::from_static(value));
            }
            credentials.accepts(&headers)
        };
        assert!(check(Some("Basic dXNlcjpwYXNz")));
        assert!(check(Some("basic  dXNlcjpwYXNz ")));
        assert!(!check(None));
        assert!(!check(Some("Basic dXNlcjpwYXN4")));
        assert!(!check(Some("Bearer dXNlcjpwYXNz")));
        assert!(!check(Some("dXNlcjpwYXNz")));
    }
}
