//! The `Digest` scheme (RFC 7616): the `Authorization` value that answers one
//! challenge. Apache HttpClient: `DigestScheme`.
//!
//! Supported: the algorithms `MD5` (the default when none is named), `SHA-256` and
//! `SHA-512-256`, each also as `-sess`; `qop=auth`, and the legacy form without `qop`
//! (RFC 2069); `userhash`; `opaque` echoed. Not supported, so not answered (another
//! scheme the server offers is used instead): `qop=auth-int` alone (it hashes the
//! body), any other algorithm, a challenge without a nonce.

use std::fmt::Write as _;

use hcx_exec::{Error, ErrorKind};
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
    fn hex(self, data: &str) -> String {
        match self {
            Algorithm::Md5 => lower_hex(&Md5::digest(data.as_bytes())),
            Algorithm::Sha256 => lower_hex(&Sha256::digest(data.as_bytes())),
            Algorithm::Sha512_256 => lower_hex(&Sha512_256::digest(data.as_bytes())),
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

/// The `Authorization` value (without its sensitivity mark) that answers `challenge`
/// for `username` and `password`, for a request with `method` to `target` (its
/// request-target, as sent), the `nc`-th use of the challenge's nonce (1 for a new
/// one; a kept nonce is used again with the count one higher, RFC 7616 §3.4); `None`
/// when the challenge asks for something not supported (see the module). `cnonce` is
/// used when the challenge has a `qop`.
pub(super) fn authorization(
    challenge: &Challenge,
    username: &str,
    password: &str,
    method: &Method,
    target: &str,
    cnonce: &str,
    nc: u32,
) -> Option<String> {
    let nonce = challenge.param("nonce")?;
    let (algorithm, sess) = Algorithm::parse(challenge.param("algorithm"))?;
    let qop = match challenge.param("qop") {
        None => None,
        Some(list) => {
            let auth = list
                .split(',')
                .any(|option| option.trim().eq_ignore_ascii_case("auth"));
            // `auth-int` alone (or options unknown): not answered.
            if !auth {
                return None;
            }
            Some("auth")
        }
    };
    let realm = challenge.param("realm").unwrap_or("");
    let nc = format!("{nc:08x}");
    let mut ha1 = algorithm.hex(&format!("{username}:{realm}:{password}"));
    if sess {
        ha1 = algorithm.hex(&format!("{ha1}:{nonce}:{cnonce}"));
    }
    let ha2 = algorithm.hex(&format!("{method}:{target}"));
    let response = match qop {
        Some(qop) => algorithm.hex(&format!("{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")),
        None => algorithm.hex(&format!("{ha1}:{nonce}:{ha2}")),
    };
    let userhash = challenge
        .param("userhash")
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));

    let mut out = String::from("Digest ");
    if userhash {
        let _ = write!(
            out,
            "username=\"{}\", ",
            algorithm.hex(&format!("{username}:{realm}"))
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
        let _ = write!(out, ", qop={qop}, nc={nc}, cnonce=\"{cnonce}\"");
    }
    if let Some(opaque) = challenge.param("opaque") {
        let _ = write!(out, ", opaque={}", quoted(opaque));
    }
    if userhash {
        out.push_str(", userhash=true");
    }
    Some(out)
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
        })
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
        authorization(c, user, password, method, target, cnonce, 1)
            .ok_or_else(|| format!("not answered: {c:?}"))
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
        let answer = first_use(
            &c,
            "Mufasa",
            "Circle Of Life",
            &Method::GET,
            "/dir/index.html",
            "0a4f113b",
        )?;
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
        let h = |s: String| Algorithm::Md5.hex(&s);
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
    fn what_is_not_supported_is_not_answered() {
        for value in [
            r#"Digest realm="r", nonce="n", qop="auth-int""#,
            r#"Digest realm="r", nonce="n", algorithm=SHA-1"#,
            r#"Digest realm="r""#,
        ] {
            let answer = authorization(&challenge(value), "u", "p", &Method::GET, "/", "c", 1);
            assert_eq!(answer, None, "{value}");
        }
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
