//! The `Digest` scheme (RFC 7616): the `Authorization` value that answers one
//! challenge. Apache HttpClient: `DigestScheme`.
//!
//! Supported: the algorithms `MD5` (the default when none is named), `SHA-256` and
//! `SHA-512-256`, each also as `-sess`; `qop=auth`, `qop=auth-int` (the body hashed
//! too), and the legacy form without `qop` (RFC 2069); `userhash`; `opaque` echoed.
//!
//! - `qop`: as Apache HttpClient 5 chooses, `auth-int` when the request has a body and
//!   it is offered, else `auth`, else `auth-int` (the hash of an empty body). A
//!   non-empty body that cannot be read again ([`Body::try_clone`]) cannot be hashed
//!   before it is sent: `auth` instead if offered, else no answer.
//! - Charset (RFC 7616 §4): user name, realm and password are hashed as UTF-8, the
//!   only `charset` RFC 7616 allows and, since 5.4, Apache's default when the
//!   challenge names none (5.0 to 5.3 used ISO-8859-1). `charset=ISO-8859-1`, which
//!   Apache honours too, hashes them as ISO-8859-1; one with a character outside it is
//!   not answered (Apache would send `?` in its place, a wrong answer). No `charset`
//!   goes back: RFC 7616 §3.4 defines none for the answer. A challenge whose values
//!   are not UTF-8 is read as ISO-8859-1, and the values the answer repeats (`realm`,
//!   `nonce`, `opaque`) go back in the same bytes, as Apache's do.
//!
//! Not supported, so not answered (another scheme the server offers is used
//! instead): any other algorithm or charset, a challenge without a nonce or with no
//! `qop` option known.

use std::fmt::Write as _;
use std::io::{self, Read};

use hcx_exec::{Body, Error, ErrorKind};
use http::Method;
use md5::Md5;
use sha2::{Digest as _, Sha256, Sha512_256};

use super::challenge::Challenge;

/// The hash a challenge names.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Algorithm {
    Md5,
    Sha256,
    Sha512_256,
}

impl Algorithm {
    /// The algorithm and whether it is the `-sess` variant; `None`: not supported.
    fn parse(name: Option<&str>) -> Option<(Algorithm, bool)> {
        let Some(name) = name else {
            return Some((Algorithm::Md5, false));
        };
        let upper = name.trim().to_ascii_uppercase();
        let (base, sess) = match upper.strip_suffix("-SESS") {
            Some(base) => (base, true),
            None => (upper.as_str(), false),
        };
        let algorithm = match base {
            "MD5" => Algorithm::Md5,
            "SHA-256" => Algorithm::Sha256,
            "SHA-512-256" => Algorithm::Sha512_256,
            _ => return None,
        };
        Some((algorithm, sess))
    }

    /// `H(data)` as lowercase hex (RFC 7616 §3.4.1).
    fn hex(self, data: impl AsRef<[u8]>) -> String {
        let data = data.as_ref();
        match self {
            Algorithm::Md5 => lower_hex(&Md5::digest(data)),
            Algorithm::Sha256 => lower_hex(&Sha256::digest(data)),
            Algorithm::Sha512_256 => lower_hex(&Sha512_256::digest(data)),
        }
    }

    /// `H(entity-body)` of `auth-int` (RFC 2617 §3.2.2.3), read from `reader`.
    fn hex_of_reader(self, reader: &mut dyn Read) -> io::Result<String> {
        match self {
            Algorithm::Md5 => hex_of::<Md5>(reader),
            Algorithm::Sha256 => hex_of::<Sha256>(reader),
            Algorithm::Sha512_256 => hex_of::<Sha512_256>(reader),
        }
    }
}

fn hex_of<D: sha2::Digest>(reader: &mut dyn Read) -> io::Result<String> {
    let mut hasher = D::new();
    let mut buf = [0u8; 8 * 1024];
    loop {
        match reader.read(&mut buf) {
            Ok(0) => return Ok(lower_hex(&hasher.finalize())),
            Ok(n) => hasher.update(buf.get(..n).unwrap_or_default()),
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
}

/// How user name, realm and password become the bytes hashed (RFC 7616 §4).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Charset {
    Utf8,
    Latin1,
}

impl Charset {
    /// The challenge's `charset`; `None`: not supported.
    fn parse(name: Option<&str>) -> Option<Charset> {
        match name.map(str::trim) {
            // UTF-8 when none is named, as Apache 5.4+ (RFC 7616 leaves it open).
            None => Some(Charset::Utf8),
            Some(name) if name.eq_ignore_ascii_case("UTF-8") => Some(Charset::Utf8),
            Some(name) if name.eq_ignore_ascii_case("ISO-8859-1") => Some(Charset::Latin1),
            Some(_) => None,
        }
    }

    /// `text` appended to `out` in this charset; `None`: a character it lacks.
    fn encode(self, text: &str, out: &mut Vec<u8>) -> Option<()> {
        match self {
            Charset::Utf8 => out.extend_from_slice(text.as_bytes()),
            Charset::Latin1 => {
                for c in text.chars() {
                    out.push(u8::try_from(u32::from(c)).ok()?);
                }
            }
        }
        Some(())
    }
}

/// The `qop` an answer uses.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Qop {
    Auth,
    AuthInt,
}

impl Qop {
    /// Apache 5's choice among the options `list` offers for a request with `body`;
    /// `None`: none can be answered.
    fn choose(list: &str, body: &Body) -> Option<Qop> {
        let offered = |name: &str| {
            list.split(',')
                .any(|option| option.trim().eq_ignore_ascii_case(name))
        };
        let (auth, auth_int) = (offered("auth"), offered("auth-int"));
        // A body that must be read to be hashed, and can be (RFC 7616 §3.4.3).
        if auth_int && !body.is_empty() && body.is_replayable() {
            Some(Qop::AuthInt)
        } else if auth {
            Some(Qop::Auth)
        } else if auth_int && body.is_empty() {
            Some(Qop::AuthInt)
        } else {
            None
        }
    }

    fn as_str(self) -> &'static str {
        match self {
            Qop::Auth => "auth",
            Qop::AuthInt => "auth-int",
        }
    }
}

fn lower_hex(bytes: &[u8]) -> String {
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        let _ = write!(out, "{b:02x}");
    }
    out
}

/// A client nonce: 16 bytes of the operating system's random source, as hex.
pub(super) fn client_nonce() -> Result<String, Error> {
    let mut bytes = [0u8; 16];
    getrandom::fill(&mut bytes).map_err(|e| {
        Error::new(
            ErrorKind::Io,
            format!("no random bytes for a Digest client nonce: {e}"),
        )
    })?;
    Ok(lower_hex(&bytes))
}

/// The request an answer is for: `method`, `target` (its request-target, as sent) and
/// `body` (read again to hash it for `qop=auth-int`).
pub(super) struct Exchange<'a> {
    pub(super) method: &'a Method,
    pub(super) target: &'a str,
    pub(super) body: &'a Body,
}

/// The `Authorization` value (without its sensitivity mark) that answers `challenge`
/// for `username` and `password` in `exchange`, the `nc`-th use of the challenge's
/// nonce (1 for a new one; a kept nonce is used again with the count one higher, RFC
/// 7616 §3.4); `Ok(None)` when the challenge asks for something not supported (see
/// the module). `cnonce` is used when the challenge has a `qop`. Fails only when the
/// body, read to hash it, fails.
pub(super) fn authorization(
    challenge: &Challenge,
    username: &str,
    password: &str,
    exchange: &Exchange<'_>,
    cnonce: &str,
    nc: u32,
) -> Result<Option<String>, Error> {
    let Some(nonce) = challenge.param("nonce") else {
        return Ok(None);
    };
    let Some((algorithm, sess)) = Algorithm::parse(challenge.param("algorithm")) else {
        return Ok(None);
    };
    let qop = match challenge.param("qop") {
        None => None,
        Some(list) => match Qop::choose(list, exchange.body) {
            Some(qop) => Some(qop),
            None => return Ok(None),
        },
    };
    let realm = challenge.param("realm").unwrap_or("");
    let Some(a1) = Charset::parse(challenge.param("charset")).and_then(|charset| {
        let mut a1 = Vec::new();
        charset.encode(username, &mut a1)?;
        a1.push(b':');
        charset.encode(realm, &mut a1)?;
        a1.push(b':');
        charset.encode(password, &mut a1)?;
        Some(a1)
    }) else {
        return Ok(None);
    };
    let nc = format!("{nc:08x}");
    let mut ha1 = algorithm.hex(a1);
    if sess {
        ha1 = algorithm.hex(format!("{ha1}:{nonce}:{cnonce}"));
    }
    let (method, target) = (exchange.method, exchange.target);
    let ha2 = match qop {
        Some(Qop::AuthInt) => {
            let body = body_hex(algorithm, exchange.body)?;
            algorithm.hex(format!("{method}:{target}:{body}"))
        }
        _ => algorithm.hex(format!("{method}:{target}")),
    };
    let response = match qop {
        Some(qop) => {
            let qop = qop.as_str();
            algorithm.hex(format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}"))
        }
        None => algorithm.hex(format!("{ha1}:{nonce}:{ha2}")),
    };
    let userhash = challenge
        .param("userhash")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));

    let mut out = String::from("Digest ");
    if userhash {
        let _ = write!(
            out,
            "username=\"{}\", ",
            algorithm.hex(format!("{username}:{realm}"))
        );
    } else if username.bytes().all(|b| (b' '..=b'~').contains(&b)) {
        let _ = write!(out, "username={}, ", quoted(username));
    } else {
        // Not representable as a quoted string: RFC 7616 §3.4.4's `username*`.
        let _ = write!(out, "username*=UTF-8''{}, ", percent_encoded(username));
    }
    let _ = write!(
        out,
        "realm={}, nonce={}, uri={}, ",
        quoted(realm),
        quoted(nonce),
        quoted(target)
    );
    if let Some(name) = challenge.param("algorithm") {
        let _ = write!(out, "algorithm={}, ", name.trim());
    }
    let _ = write!(out, "response=\"{response}\"");
    if let Some(qop) = qop {
        let qop = qop.as_str();
        let _ = write!(out, ", qop={qop}, nc={nc}, cnonce=\"{cnonce}\"");
    }
    if let Some(opaque) = challenge.param("opaque") {
        let _ = write!(out, ", opaque={}", quoted(opaque));
    }
    if userhash {
        out.push_str(", userhash=true");
    }
    Ok(Some(out))
}

/// `H(entity-body)`: `body` read again, to its end, from a copy (one known empty is
/// not read).
fn body_hex(algorithm: Algorithm, body: &Body) -> Result<String, Error> {
    let read_error = |e: io::Error| {
        Error::new(
            ErrorKind::RequestBody,
            "the request body could not be read to hash it for a Digest qop=auth-int answer",
        )
        .with_source(e)
    };
    if body.is_empty() {
        // Known empty, whether or not it could be read again (`Qop::choose` takes
        // `auth-int` for it either way): the hash of no bytes, nothing to read.
        return Ok(algorithm.hex(b""));
    }
    let Some(copy) = body.try_clone() else {
        // `Qop::choose` takes `auth-int` for a non-empty body only when it can be
        // read again.
        return Err(Error::new(
            ErrorKind::RequestBody,
            "a body sent once only cannot be hashed for a Digest qop=auth-int answer",
        ));
    };
    let mut reader = copy.into_reader().map_err(read_error)?;
    algorithm.hex_of_reader(&mut reader).map_err(read_error)
}

/// `s` as a quoted-string (RFC 9110 §5.6.4): `"` and `\` escaped.
fn quoted(s: &str) -> String {
    let mut out = String::with_capacity(s.len() + 2);
    out.push('"');
    for c in s.chars() {
        if c == '"' || c == '\\' {
            out.push('\\');
        }
        out.push(c);
    }
    out.push('"');
    out
}

/// RFC 8187's value-chars: attr-char as is, every other byte `%XX`.
fn percent_encoded(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::chain::auth::challenge::parse;

    fn challenge(value: &str) -> Challenge {
        let mut out = Vec::new();
        parse(value.as_bytes(), &mut out);
        out.into_iter().next().unwrap_or(Challenge {
            scheme: String::new(),
            realm: None,
            params: Vec::new(),
            latin1: false,
        })
    }

    /// RFC 2617 §3.5's user asking for its `GET /dir/index.html` (cnonce `0a4f113b`).
    fn mufasa_get(c: &Challenge) -> Result<String, String> {
        first_use(
            c,
            "Mufasa",
            "Circle Of Life",
            &Method::GET,
            "/dir/index.html",
            "0a4f113b",
        )
    }

    /// The answer for the first use of the nonce, or why there is none.
    fn first_use(
        c: &Challenge,
        user: &str,
        password: &str,
        method: &Method,
        target: &str,
        cnonce: &str,
    ) -> Result<String, String> {
        with_body(c, user, password, (method, target, &Body::empty()), cnonce)
    }

    /// [`first_use`] for a request with a body.
    fn with_body(
        c: &Challenge,
        user: &str,
        password: &str,
        (method, target, body): (&Method, &str, &Body),
        cnonce: &str,
    ) -> Result<String, String> {
        let exchange = Exchange {
            method,
            target,
            body,
        };
        authorization(c, user, password, &exchange, cnonce, 1)
            .map_err(|e| e.to_string())?
            .ok_or_else(|| format!("not answered: {c:?}"))
    }

    /// Whether `challenge` is answered for a GET with no body.
    fn answered(c: &Challenge, user: &str, password: &str) -> Result<bool, Error> {
        let exchange = Exchange {
            method: &Method::GET,
            target: "/",
            body: &Body::empty(),
        };
        Ok(authorization(c, user, password, &exchange, "c", 1)?.is_some())
    }

    /// The parameters of an `Authorization: Digest …` value, unquoted.
    fn params(value: &str) -> Vec<(String, String)> {
        let value = value.strip_prefix("Digest ").unwrap_or(value);
        challenge(&format!("X {value}")).params
    }

    fn get<'a>(params: &'a [(String, String)], name: &str) -> Option<&'a str> {
        params
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.as_str())
    }

    // RFC 7616 §3.9.1: Mufasa, "Circle of Life", GET /dir/index.html.
    const RFC_CHALLENGE: &str = r#"Digest realm="http-auth@example.org", qop="auth, auth-int", algorithm=ALG, nonce="7ypf/xlj9XXwfDPEoM4URrv/xwf94BcCAzFZH4GiTo0v", opaque="FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS""#;
    const RFC_CNONCE: &str = "f2/wE4q74E6zIJEtWaHKaf5wv/H5QzzpXusqGemxURZJ";

    fn rfc_answer(algorithm: &str) -> Result<String, String> {
        first_use(
            &challenge(&RFC_CHALLENGE.replace("ALG", algorithm)),
            "Mufasa",
            "Circle of Life",
            &Method::GET,
            "/dir/index.html",
            RFC_CNONCE,
        )
    }

    #[test]
    fn the_rfc_7616_examples_give_their_responses() -> Result<(), String> {
        for (algorithm, expected) in [
            ("MD5", "8ca523f5e9506fed4657c9700eebdbec"),
            (
                "SHA-256",
                "753927fa0e85d155564e2e272a28d1802ca10daf4496794697cf8db5856cb6c1",
            ),
        ] {
            let answer = rfc_answer(algorithm)?;
            let p = params(&answer);
            assert_eq!(get(&p, "response"), Some(expected), "{answer}");
            assert_eq!(get(&p, "username"), Some("Mufasa"));
            assert_eq!(get(&p, "realm"), Some("http-auth@example.org"));
            assert_eq!(get(&p, "uri"), Some("/dir/index.html"));
            assert_eq!(get(&p, "qop"), Some("auth"));
            assert_eq!(get(&p, "nc"), Some("00000001"));
            assert_eq!(get(&p, "cnonce"), Some(RFC_CNONCE));
            assert_eq!(get(&p, "algorithm"), Some(algorithm));
            assert_eq!(
                get(&p, "opaque"),
                Some("FQhe/qaU925kfnzjCev0ciny7QMkPqMAFRtzCUYo5tdS")
            );
        }
        Ok(())
    }

    #[test]
    fn the_rfc_2617_example_without_an_algorithm_is_md5() -> Result<(), String> {
        // RFC 2617 §3.5: Mufasa at testrealm@host.com.
        let c = challenge(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        );
        let answer = mufasa_get(&c)?;
        let p = params(&answer);
        assert_eq!(
            get(&p, "response"),
            Some("6629fae49393a05397450978507c4ef1")
        );
        assert_eq!(get(&p, "algorithm"), None, "not named, not sent");
        Ok(())
    }

    #[test]
    fn sess_and_legacy_forms_follow_their_formulas() -> Result<(), String> {
        let h = |s: String| Algorithm::Md5.hex(s);
        let c = challenge(r#"Digest realm="r", nonce="n", algorithm=MD5-sess, qop=auth"#);
        let answer = first_use(&c, "u", "p", &Method::POST, "/x?y=1", "c")?;
        let ha1 = h(format!("{}:n:c", h("u:r:p".into())));
        let ha2 = h("POST:/x?y=1".into());
        let expected = h(format!("{ha1}:n:00000001:c:auth:{ha2}"));
        assert_eq!(get(&params(&answer), "response"), Some(expected.as_str()));

        // No qop: RFC 2069, no cnonce or nc sent.
        let c = challenge(r#"Digest realm="r", nonce="n""#);
        let answer = first_use(&c, "u", "p", &Method::GET, "/", "c")?;
        let p = params(&answer);
        let expected = h(format!("{}:n:{}", h("u:r:p".into()), h("GET:/".into())));
        assert_eq!(get(&p, "response"), Some(expected.as_str()));
        assert_eq!((get(&p, "cnonce"), get(&p, "nc")), (None, None));
        Ok(())
    }

    #[test]
    fn what_is_not_supported_is_not_answered() -> Result<(), Error> {
        for value in [
            r#"Digest realm="r", nonce="n", algorithm=SHA-1"#,
            r#"Digest realm="r", nonce="n", qop="auth-conf""#,
            r#"Digest realm="r", nonce="n", charset=KOI8-R"#,
            r#"Digest realm="r""#,
        ] {
            assert!(!answered(&challenge(value), "u", "p")?, "{value}");
        }
        // ISO-8859-1 has no `€`: not answered, rather than a wrong hash.
        let c = challenge(r#"Digest realm="r", nonce="n", charset=ISO-8859-1"#);
        assert!(!answered(&c, "u", "pä€")?);
        assert!(answered(&c, "u", "pä")?);
        Ok(())
    }

    #[test]
    fn auth_int_hashes_the_body() -> Result<(), String> {
        // The RFC 2617 §3.5 challenge (it offers both) for a POST with a body, and
        // the RFC 7616 §3.9.1 one with SHA-256: Apache's choice is `auth-int`.
        // Expected values from Python's hashlib, not from the code under test:
        // H(A2) = H("POST:/dir/index.html:" + H("Hello, World!")).
        let rfc_2617 = challenge(
            r#"Digest realm="testrealm@host.com", qop="auth,auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093", opaque="5ccc069c403ebaf9f0171e9517f40e41""#,
        );
        let body = Body::from("Hello, World!");
        let post = (&Method::POST, "/dir/index.html", &body);
        let answer = with_body(&rfc_2617, "Mufasa", "Circle Of Life", post, "0a4f113b")?;
        let p = params(&answer);
        assert_eq!(get(&p, "qop"), Some("auth-int"), "{answer}");
        assert_eq!(
            get(&p, "response"),
            Some("8bf5275008b8489f5fc201293f7de8a8")
        );
        let rfc_7616 = challenge(&RFC_CHALLENGE.replace("ALG", "SHA-256"));
        let answer = with_body(&rfc_7616, "Mufasa", "Circle of Life", post, RFC_CNONCE)?;
        assert_eq!(
            get(&params(&answer), "response"),
            Some("770e76fe7f29a82859bf072392fb3fe74b93f063ca676be951a92e5c5e878ec2")
        );

        // A body made again by a factory is read and hashed the same.
        let factory = Body::from_factory(None, || Ok(io::Cursor::new(b"Hello, World!")));
        let post = (&Method::POST, "/dir/index.html", &factory);
        let answer = with_body(&rfc_2617, "Mufasa", "Circle Of Life", post, "0a4f113b")?;
        assert_eq!(
            get(&params(&answer), "response"),
            Some("8bf5275008b8489f5fc201293f7de8a8")
        );

        // `auth-int` alone, no body: H(A2) = H("GET:/dir/index.html:" + H("")).
        let only = challenge(
            r#"Digest realm="testrealm@host.com", qop="auth-int", nonce="dcd98b7102dd2f0e8b11d0f600bfb0c093""#,
        );
        let answer = mufasa_get(&only)?;
        let p = params(&answer);
        assert_eq!(get(&p, "qop"), Some("auth-int"));
        assert_eq!(
            get(&p, "response"),
            Some("5e6610ecf9ba3017a4870ad48e3ad30b")
        );
        Ok(())
    }

    #[test]
    fn the_qop_is_chosen_as_apache_chooses() {
        let bytes = Body::from("x");
        let one_shot = Body::reader(io::empty());
        let empty = Body::empty();
        for (offered, body, expected) in [
            ("auth, auth-int", &bytes, Some(Qop::AuthInt)),
            ("auth, auth-int", &empty, Some(Qop::Auth)),
            ("auth, auth-int", &one_shot, Some(Qop::Auth)),
            ("auth-int", &bytes, Some(Qop::AuthInt)),
            ("auth-int", &empty, Some(Qop::AuthInt)),
            ("auth-int", &one_shot, None),
            ("AUTH", &bytes, Some(Qop::Auth)),
            ("auth-conf", &empty, None),
        ] {
            assert_eq!(Qop::choose(offered, body), expected, "{offered}");
        }
    }

    #[test]
    fn the_charset_decides_the_bytes_hashed() -> Result<(), String> {
        // Expected values from Python's hashlib: HA1 = MD5("u:r:pässword") with the
        // password encoded as UTF-8 (c3 a4) or as ISO-8859-1 (e4).
        for (charset, expected) in [
            ("", "4fc5f46b07a507f4dd4b7587aef5f17a"),
            (", charset=UTF-8", "4fc5f46b07a507f4dd4b7587aef5f17a"),
            (", charset=\"utf-8\"", "4fc5f46b07a507f4dd4b7587aef5f17a"),
            (", charset=ISO-8859-1", "63f848ecfd7c5666c120a23eb7e03efe"),
        ] {
            let c = challenge(&format!(
                r#"Digest realm="r", nonce="n", qop=auth{charset}"#
            ));
            let answer = first_use(&c, "u", "pässword", &Method::GET, "/", "c")?;
            let p = params(&answer);
            assert_eq!(get(&p, "response"), Some(expected), "{charset}");
            assert_eq!(get(&p, "charset"), None, "RFC 7616 §3.4 defines none");
        }
        Ok(())
    }

    #[test]
    fn userhash_and_awkward_user_names() -> Result<(), String> {
        let c = challenge(r#"Digest realm="r", nonce="n", userhash=true, algorithm=SHA-256"#);
        let answer = first_use(&c, "u", "p", &Method::GET, "/", "c")?;
        let p = params(&answer);
        let hashed = Algorithm::Sha256.hex("u:r");
        assert_eq!(get(&p, "username"), Some(hashed.as_str()));
        assert_eq!(get(&p, "userhash"), Some("true"));

        let c = challenge(r#"Digest realm="r", nonce="n""#);
        let answer = first_use(&c, r#"a"b\c"#, "p", &Method::GET, "/", "c")?;
        assert_eq!(get(&params(&answer), "username"), Some(r#"a"b\c"#));
        let answer = first_use(&c, "Jäsøn", "p", &Method::GET, "/", "c")?;
        assert!(
            answer.contains("username*=UTF-8''J%C3%A4s%C3%B8n, "),
            "{answer}"
        );
        Ok(())
    }

    #[test]
    fn client_nonces_differ() -> Result<(), Error> {
        let (a, b) = (client_nonce()?, client_nonce()?);
        assert_eq!(a.len(), 32);
        assert_ne!(a, b);
        Ok(())
    }
}
