//! `WWW-Authenticate` parsing (RFC 9110 §11.6.1, §11.2), sans-IO and panic-free:
//! anything it cannot read is skipped up to the next comma.

/// One challenge: its scheme as sent, and its `realm` parameter if any.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Challenge {
    pub(super) scheme: String,
    pub(super) realm: Option<String>,
    /// Every parameter, name lowercased, in order (`realm` too); a repeated name
    /// keeps its first value.
    pub(super) params: Vec<(String, String)>,
    /// Whether a parameter value was not UTF-8 and was read as ISO-8859-1: an answer
    /// that repeats it (a Digest `realm`, `nonce`, `opaque`) writes it back in the
    /// same bytes.
    pub(super) latin1: bool,
}

impl Challenge {
    /// The value of parameter `name` (lowercase).
    pub(super) fn param(&self, name: &str) -> Option<&str> {
        self.params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }
}

/// Appends the challenges of one field value to `out`.
///
/// `#challenge`, where `challenge = auth-scheme [ 1*SP ( token68 / #auth-param ) ]`
/// and `auth-param = token BWS "=" BWS ( token / quoted-string )`: commas separate
/// both challenges and parameters, so a token not followed by `=` starts the next
/// challenge.
pub(super) fn parse(value: &[u8], out: &mut Vec<Challenge>) {
    let mut p = Parser { s: value, i: 0 };
    loop {
        p.skip(|b| b == b',' || is_ws(b));
        if p.i >= p.s.len() {
            return;
        }
        let Some(scheme) = p.token() else {
            p.skip_past_comma();
            continue;
        };
        let mut challenge = Challenge {
            scheme: String::from_utf8_lossy(scheme).into_owned(),
            realm: None,
            params: Vec::new(),
            latin1: false,
        };
        let spaced = p.skip(is_ws) > 0;
        if spaced && !p.token68() {
            p.params(&mut challenge);
        }
        out.push(challenge);
    }
}

struct Parser<'a> {
    s: &'a [u8],
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.s.get(self.i).copied()
    }

    /// Skips bytes while `f` holds; returns how many.
    fn skip(&mut self, f: impl Fn(u8) -> bool) -> usize {
        let start = self.i;
        while self.peek().is_some_and(&f) {
            self.i += 1;
        }
        self.i - start
    }

    fn skip_past_comma(&mut self) {
        self.skip(|b| b != b',');
        self.i = (self.i + 1).min(self.s.len());
    }

    fn token(&mut self) -> Option<&[u8]> {
        let start = self.i;
        (self.skip(is_tchar) > 0).then(|| &self.s[start..self.i])
    }

    /// Consumes a token68 (`1*( ALPHA / DIGIT / "-._~+/" ) *"="`) that ends the
    /// challenge (followed by a comma or the end); it is not needed, only skipped.
    fn token68(&mut self) -> bool {
        let start = self.i;
        if self.skip(|b| b.is_ascii_alphanumeric() || b"-._~+/".contains(&b)) == 0 {
            return false;
        }
        self.skip(|b| b == b'=');
        let end = self.i;
        self.skip(is_ws);
        if matches!(self.peek(), None | Some(b',')) {
            self.i = end;
            return true;
        }
        self.i = start;
        false
    }

    fn params(&mut self, challenge: &mut Challenge) {
        loop {
            let start = self.i;
            let Some(name) = self.token() else { return };
            let name = String::from_utf8_lossy(name).to_ascii_lowercase();
            let is_realm = name == "realm";
            self.skip(is_ws);
            if self.peek() != Some(b'=') {
                // Not a parameter: the scheme of the next challenge.
                self.i = start;
                return;
            }
            self.i += 1;
            self.skip(is_ws);
            let value = match self.peek() {
                Some(b'"') => self.quoted_string(),
                _ => self.token().map(<[u8]>::to_vec),
            };
            let Some(value) = value else {
                self.skip_past_comma();
                return;
            };
            // UTF-8 if it is; else ISO-8859-1, byte for byte (RFC 9110 §5.5's obs-text;
            // what a `charset=ISO-8859-1` Digest challenge sends), so that the bytes
            // the server hashes can be hashed again.
            let value = String::from_utf8(value).unwrap_or_else(|e| {
                challenge.latin1 = true;
                e.into_bytes().into_iter().map(char::from).collect()
            });
            if is_realm && challenge.realm.is_none() {
                challenge.realm = Some(value.clone());
            }
            if challenge.param(&name).is_none() {
                challenge.params.push((name, value));
            }
            self.skip(is_ws);
            if self.peek() != Some(b',') {
                return;
            }
            self.skip(|b| b == b',' || is_ws(b));
        }
    }

    /// A quoted-string with its quoted-pairs undone; `None` if unterminated.
    fn quoted_string(&mut self) -> Option<Vec<u8>> {
        let mut out = Vec::new();
        let mut j = self.i + 1;
        loop {
            match *self.s.get(j)? {
                b'"' => {
                    self.i = j + 1;
                    return Some(out);
                }
                b'\\' => {
                    out.push(*self.s.get(j + 1)?);
                    j += 2;
                }
                b => {
                    out.push(b);
                    j += 1;
                }
            }
        }
    }
}

fn is_ws(b: u8) -> bool {
    b == b' ' || b == b'\t'
}

/// RFC 9110 §5.6.2.
fn is_tchar(b: u8) -> bool {
    b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b)
}

#[cfg(test)]
mod tests {
    use super::{Challenge, parse};

    fn challenges(value: &str) -> Vec<(String, Option<String>)> {
        let mut out = Vec::new();
        parse(value.as_bytes(), &mut out);
        out.into_iter()
            .map(|Challenge { scheme, realm, .. }| (scheme, realm))
            .collect()
    }

    fn c(scheme: &str, realm: Option<&str>) -> (String, Option<String>) {
        (scheme.to_owned(), realm.map(str::to_owned))
    }

    #[test]
    fn one_challenge_with_a_quoted_realm() {
        assert_eq!(
            challenges(r#"Basic realm="test""#),
            [c("Basic", Some("test"))]
        );
        assert_eq!(
            challenges(r#"basic   REALM = "a \"quoted\" \\ realm", charset="UTF-8""#),
            [c("basic", Some(r#"a "quoted" \ realm"#))]
        );
        assert_eq!(challenges("Basic realm=token"), [c("Basic", Some("token"))]);
        assert_eq!(challenges("Basic"), [c("Basic", None)]);
    }

    #[test]
    fn several_challenges_in_one_field_are_split_at_the_right_commas() {
        // RFC 9110 §11.6.1's example.
        let value =
            r#"Newauth realm="apps", type=1, title="Login to \"apps\"", Basic realm="simple""#;
        assert_eq!(
            challenges(value),
            [c("Newauth", Some("apps")), c("Basic", Some("simple"))]
        );
        assert_eq!(
            challenges(r#"Negotiate YIIB+g==, Bearer realm="b", error="invalid_token",Basic"#),
            [
                c("Negotiate", None),
                c("Bearer", Some("b")),
                c("Basic", None)
            ]
        );
        assert_eq!(
            challenges(r#", ,Basic realm="x",, Digest realm="y", nonce="n""#),
            [c("Basic", Some("x")), c("Digest", Some("y"))]
        );
    }

    #[test]
    fn a_digest_challenge_keeps_its_parameters() {
        let mut out = Vec::new();
        parse(
            br#"Digest realm="http-auth@example.org", QOP="auth, auth-int", algorithm=SHA-256, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS", Basic realm="b""#,
            &mut out,
        );
        let digest = &out[0];
        assert_eq!(digest.scheme, "Digest");
        assert_eq!(digest.param("realm"), Some("http-auth@example.org"));
        assert_eq!(digest.param("qop"), Some("auth, auth-int"));
        assert_eq!(digest.param("algorithm"), Some("SHA-256"));
        assert_eq!(
            digest.param("nonce"),
            Some("7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v")
        );
        assert_eq!(digest.param("stale"), None);
        assert_eq!(out[1].param("realm"), Some("b"));
    }

    #[test]
    fn garbage_never_panics_and_what_can_be_read_is_kept() {
        type Case = (
            &'static str,
            &'static [(&'static str, Option<&'static str>)],
        );
        let cases: &[Case] = &[
            ("", &[]),
            (",,, ,", &[]),
            (r#"Basic realm="unterminated"#, &[("Basic", None)]),
            (r#"Basic realm="x\"#, &[("Basic", None)]),
            (
                r#"Basic realm=, Bearer"#,
                &[("Basic", None), ("Bearer", None)],
            ),
            (r#""quoted", Basic realm="ok""#, &[("Basic", Some("ok"))]),
            (
                r#"Basic realm="a" realm="b""#,
                &[("Basic", Some("a")), ("realm", None)],
            ),
            (
                r#"Basic realm="first", realm="second""#,
                &[("Basic", Some("first"))],
            ),
            ("=Basic", &[]),
            ("Basic ===", &[("Basic", None)]),
            ("\u{7f}\u{1} Basic", &[]),
            ("\u{7f}\u{1}, Basic", &[("Basic", None)]),
        ];
        for (value, expected) in cases {
            let expected: Vec<_> = expected.iter().map(|(s, r)| c(s, *r)).collect();
            assert_eq!(challenges(value), expected, "{value:?}");
        }
        // Every prefix of every case, and raw bytes, parse without panicking.
        for (value, _) in cases {
            for end in 0..=value.len() {
                parse(&value.as_bytes()[..end], &mut Vec::new());
            }
        }
        parse(b"Basic realm=\"\xff\xfe\"", &mut Vec::new());
    }
}
