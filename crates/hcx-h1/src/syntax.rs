//! Field-value syntax shared by every hcx crate that reads header fields: list
//! elements, optional whitespace, tokens and decimal numbers (RFC 9110 §5.6).
//!
//! Header values are bytes (`HeaderValue` admits obs-text and need not be UTF-8), so
//! everything here works on `&[u8]`, never allocates and never panics. The codec reads
//! `Content-Length` and `Transfer-Encoding` with it; the reuse strategies read
//! `Connection` and `Keep-Alive` with it. There is no second copy.
//!
//! ```
//! use hcx_h1::syntax::{elements, is_token, parse_decimal};
//! let list: Vec<&[u8]> = elements(b" gzip , ,chunked").collect();
//! assert_eq!(list, [&b"gzip"[..], b"chunked"]);
//! assert!(is_token(b"keep-alive") && !is_token(b"a b"));
//! assert_eq!(parse_decimal(b"42"), Some(42));
//! assert_eq!(parse_decimal(b"-1"), None);
//! ```

/// Strips optional whitespace (SP, HTAB) at both ends (RFC 9110 §5.6.3).
pub fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// The non-empty elements of one field line's comma-separated list, each trimmed of
/// optional whitespace. RFC 9110 §5.6.1: empty elements (`a, , b`) are ignored; the
/// lines of a repeated field, read in order, make one list (RFC 9110 §5.3).
///
/// Quoted strings are not parsed: none of the fields hcx reads as lists
/// (`Connection`, `Transfer-Encoding`, `Content-Length`, `Keep-Alive`) legitimately
/// carries a comma inside quotes.
pub fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

/// Whether `bytes` is a `token` (RFC 9110 §5.6.2): one or more tchar.
pub fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| TCHAR[usize::from(b)])
}

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
/// "`" / "|" / "~" / DIGIT / ALPHA`, as a table: one load per byte.
static TCHAR: [bool; 256] = alphanumeric_and(b"!#$%&'*+-.^_`|~");

/// A byte table: `true` for ASCII letters and digits and for the bytes of `extra`.
pub(crate) const fn alphanumeric_and(extra: &[u8]) -> [bool; 256] {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        table[b] = (b as u8).is_ascii_alphanumeric();
        b += 1;
    }
    let mut i = 0;
    while i < extra.len() {
        table[extra[i] as usize] = true;
        i += 1;
    }
    table
}

/// `1*DIGIT` as a `u64`; `None` for anything else: empty, a sign, a space inside, or a
/// value that overflows (RFC 9112 §6.3: such a `Content-Length` cannot frame a message).
pub fn parse_decimal(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() {
        return None;
    }
    digits.iter().try_fold(0u64, |n, &b| {
        if b.is_ascii_digit() {
            n.checked_mul(10)?.checked_add(u64::from(b - b'0'))
        } else {
            None
        }
    })
}

/// `1*DIGIT` as a `u64`, saturating at `u64::MAX` instead of failing: a server asking
/// for an absurdly long keep-alive asks for "as long as possible", and a configured cap
/// bounds it. `None` for anything that is not all digits.
pub fn parse_decimal_saturating(digits: &[u8]) -> Option<u64> {
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(parse_decimal(digits).unwrap_or(u64::MAX))
}

/// An authority's host and the text after its port colon (RFC 3986 §3.2): `host` for
/// a name or an IPv4 address, `[…]` with its brackets for an IP literal, userinfo
/// dropped; the port text is `None` without a colon and may be empty (`host:`). The
/// URI parser has checked the authority's syntax; this only splits it, in one pass
/// over its bytes (not the generic `str` searchers), and is what the codec's `Host`
/// field and the exec crate's routes both read, so the two never disagree.
///
/// ```
/// use hcx_h1::syntax::authority_host_port;
/// assert_eq!(authority_host_port("user:pw@Example.com:8080"), ("Example.com", Some("8080")));
/// assert_eq!(authority_host_port("[::1]"), ("[::1]", None));
/// assert_eq!(authority_host_port("u:p@[::1]:81"), ("[::1]", Some("81")));
/// assert_eq!(authority_host_port("a:b@c@d:82"), ("d", Some("82")));
/// assert_eq!(authority_host_port("h:"), ("h", Some("")));
/// assert_eq!(authority_host_port("[::1]x:81"), ("[::1]", Some("x:81")));
/// ```
#[inline]
pub fn authority_host_port(authority: &str) -> (&str, Option<&str>) {
    let parts = authority_parts(authority);
    (parts.host, parts.port)
}

/// An authority split by [`authority_host_port`], with whether it carries an IPv6
/// zone identifier ([`has_ip_zone`]).
pub(crate) struct AuthorityParts<'a> {
    pub(crate) host: &'a str,
    pub(crate) port: Option<&'a str>,
    pub(crate) zone: bool,
}

/// [`authority_host_port`] and [`has_ip_zone`] in one look at the authority: one
/// out-of-line copy the planner and the codec share, the codec reading the zone from
/// the same split as its `Host` field (an authority is not searched for `[` again).
#[inline(never)]
pub(crate) fn authority_parts(authority: &str) -> AuthorityParts<'_> {
    let bytes = authority.as_bytes();
    // The usual authority has no userinfo and is no IP literal: the host is all before
    // the first `:`. It is split eight bytes at a time (both the planner and the codec
    // split every request's authority); any `@` or `[` takes the careful pass below.
    // Without a `[` there is no IP literal, so no zone.
    if let Some(colon) = plain_authority_colon(bytes) {
        let (host, port) = match colon {
            Some(colon) => (&authority[..colon], Some(&authority[colon + 1..])),
            None => (authority, None),
        };
        return AuthorityParts {
            host,
            port,
            zone: false,
        };
    }
    let (host, port) = split_authority(authority);
    AuthorityParts {
        host,
        port,
        zone: has_ip_zone(authority),
    }
}

/// [`authority_host_port`] for any authority, userinfo and IP literals included.
fn split_authority(authority: &str) -> (&str, Option<&str>) {
    let bytes = authority.as_bytes();
    // One pass: where the host starts (after the last `@`) and the first `:` after it.
    let (mut start, mut colon) = (0, None);
    for (i, &b) in bytes.iter().enumerate() {
        if b == b'@' {
            (start, colon) = (i + 1, None);
        } else if b == b':' && colon.is_none() {
            colon = Some(i);
        }
    }
    let host_end = if bytes.get(start) == Some(&b'[') {
        // An IP literal's colons are its own: the port comes after the `]`.
        let close = bytes[start..].iter().position(|&b| b == b']');
        close.map_or(bytes.len(), |close| start + close + 1)
    } else {
        colon.unwrap_or(bytes.len())
    };
    let (host, rest) = authority[start..].split_at(host_end - start);
    // Only `:port` may follow an IP literal's `]` (RFC 3986 §3.2.2). Anything else
    // (`[::1]x:8080`, which the `http` crate's parser lets through) is given as the
    // port text, which no port parser takes, not dropped for the scheme's default port.
    let port = (!rest.is_empty()).then(|| rest.strip_prefix(':').unwrap_or(rest));
    (host, port)
}

/// For an authority of at most 16 bytes holding neither `@` nor `[`, the index of its
/// first `:` (`None` without one); `None` for any other authority.
fn plain_authority_colon(bytes: &[u8]) -> Option<Option<usize>> {
    let (first, second, last) = two_words(bytes)?;
    let refused = |word| flag_bytes(word, b'@') | flag_bytes(word, b'[');
    if refused(first) | refused(second) != 0 {
        return None;
    }
    let (colons, later_colons) = (flag_bytes(first, b':'), flag_bytes(second, b':'));
    Some(if colons != 0 {
        Some((colons.trailing_zeros() / 8) as usize)
    } else if later_colons != 0 {
        Some(last + (later_colons.trailing_zeros() / 8) as usize)
    } else {
        None
    })
}

/// Whether an authority holds a `[` with a `%` after it: an IPv6 literal with a zone
/// identifier (RFC 6874), which the codec refuses to send. The usual authority, with
/// no `[`, is looked at a word at a time ([`contains_byte`]).
pub(crate) fn has_ip_zone(authority: &str) -> bool {
    let bytes = authority.as_bytes();
    if !contains_byte(bytes, b'[') {
        return false;
    }
    bytes
        .iter()
        .position(|&b| b == b'[')
        .is_some_and(|open| bytes[open..].contains(&b'%'))
}

/// `bytes`, at most 16 of them, as two words: the first eight bytes and the last
/// eight (overlapping below 16 bytes: a byte seen twice changes no answer here), a
/// text shorter than a word padded with zero bytes, which match none of the bytes
/// looked for; with where the second word starts. `None` above 16 bytes.
fn two_words(bytes: &[u8]) -> Option<(u64, u64, usize)> {
    let len = bytes.len();
    if len > 16 {
        return None;
    }
    let last = len.saturating_sub(8);
    let word = |start: usize| {
        let rest = &bytes[start..];
        let word = match rest.first_chunk::<8>() {
            Some(word) => *word,
            None => {
                let mut padded = [0u8; 8];
                padded[..rest.len()].copy_from_slice(rest);
                padded
            }
        };
        u64::from_le_bytes(word)
    };
    Some((word(0), word(last), last))
}

/// Whether `bytes` holds `byte`, read eight bytes at a time: a byte loop costs about
/// seven instructions a byte, and the facade looks for a `@` (userinfo) in every
/// request's authority. The last word overlaps the one before it, so no byte is left
/// for a loop.
///
/// ```
/// use hcx_h1::syntax::contains_byte;
/// assert!(contains_byte(b"user:pw@127.0.0.1:18091", b'@'));
/// assert!(!contains_byte(b"127.0.0.1:18091", b'@'));
/// ```
pub fn contains_byte(bytes: &[u8], byte: u8) -> bool {
    let Some(last) = bytes.len().checked_sub(8) else {
        return bytes.contains(&byte);
    };
    let word_has = |start: usize| {
        bytes
            .get(start..start + 8)
            .and_then(|word| <[u8; 8]>::try_from(word).ok())
            .is_some_and(|word| flag_bytes(u64::from_le_bytes(word), byte) != 0)
    };
    (0..last).step_by(8).any(word_has) || word_has(last)
}

/// The high bit of each byte of `word` equal to `byte`, and perhaps of bytes above a
/// flagged one (the subtraction's borrow): whether any byte matches, and which is the
/// first (the lowest flag), are exact.
pub(crate) fn flag_bytes(word: u64, byte: u8) -> u64 {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let x = word ^ (ONES * u64::from(byte));
    x.wrapping_sub(ONES) & !x & HIGHS
}

/// A port number from an authority's port text: `None` for text that is not a
/// decimal number from 0 to 65535 (the `http` crate's `Uri` accepts `h:99999`, and
/// its `port_u16()` then reads as if there were no port).
///
/// ```
/// use hcx_h1::syntax::parse_port;
/// assert_eq!(parse_port("8080"), Some(8080));
/// assert_eq!(parse_port("065535"), None); // six digits
/// assert_eq!((parse_port("65536"), parse_port(""), parse_port("8o")), (None, None, None));
/// ```
pub fn parse_port(text: &str) -> Option<u16> {
    // One loop step a digit, the length checked after it: checked first, the bound of
    // five lets the compiler unroll the loop five times over (code every request
    // runs, twice: the planner's and the codec's `Host`). A number past 65535 stops
    // the loop, so `n` never overflows however long the text.
    let mut n = 0u32;
    for &b in text.as_bytes() {
        if !b.is_ascii_digit() || n > 6553 {
            return None;
        }
        n = n * 10 + u32::from(b - b'0');
    }
    if text.is_empty() || text.len() > 5 {
        return None;
    }
    u16::try_from(n).ok()
}

/// `tchar` (RFC 9110 §5.6.2): what a token is made of.
pub(crate) fn is_tchar(b: u8) -> bool {
    TCHAR[usize::from(b)]
}

#[cfg(test)]
mod tests {
    #[test]
    fn contains_byte_finds_a_byte_at_any_place_in_any_length() {
        for len in 0..=40 {
            let plain = vec![b'a'; len];
            assert!(!super::contains_byte(&plain, b'@'), "none in {len} bytes");
            for place in 0..len {
                let mut bytes = plain.clone();
                bytes[place] = b'@';
                assert!(super::contains_byte(&bytes, b'@'), "at {place} of {len}");
                // Bytes next to `@` (0x3f, 0x41) and with the high bit set are not it.
                for other in [0x3f, 0x41, 0xc0, 0x80, 0x00, 0xff] {
                    bytes[place] = other;
                    assert!(
                        !super::contains_byte(&bytes, b'@'),
                        "{other:#x} at {place} of {len}"
                    );
                }
            }
        }
    }

    use super::*;

    fn list(value: &[u8]) -> Vec<&[u8]> {
        elements(value).collect()
    }

    #[test]
    fn list_skips_empty_elements_and_trims() {
        assert_eq!(list(b"a, ,b"), vec![&b"a"[..], b"b"]);
        assert_eq!(list(b" c\t,"), vec![&b"c"[..]]);
        assert_eq!(list(b",,d"), vec![&b"d"[..]]);
        assert!(list(b"").is_empty());
        assert!(list(b" , ,\t").is_empty());
    }

    #[test]
    fn ows_is_trimmed_on_both_ends_only() {
        assert_eq!(trim_ows(b" \t a b\t "), b"a b");
        assert_eq!(trim_ows(b"   "), b"");
        assert_eq!(trim_ows(b""), b"");
    }

    #[test]
    fn tokens_reject_separators_and_non_ascii() {
        assert!(is_token(b"keep-alive"));
        assert!(is_token(b"x!#$%&'*+-.^_`|~9"));
        assert!(!is_token(b""));
        assert!(!is_token(b"keep-alive=true"));
        assert!(!is_token(b"keep alive"));
        assert!(!is_token(b"\"close\""));
        assert!(!is_token(b"clos\xe9"));
    }

    #[test]
    fn exact_decimal_rejects_signs_overflow_and_junk() {
        assert_eq!(parse_decimal(b"0"), Some(0));
        assert_eq!(parse_decimal(b"0010"), Some(10));
        assert_eq!(parse_decimal(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_decimal(b"18446744073709551616"), None);
        for junk in [&b""[..], b"-1", b"+1", b"1 0", b"0x10", b"1e3"] {
            assert_eq!(parse_decimal(junk), None, "{junk:?}");
        }
    }

    #[test]
    fn the_word_split_of_an_authority_agrees_with_the_careful_one() {
        // Every length from 0 to 24 (short, one word, overlapping last words), with
        // each of `@`, `[`, `]`, `:`, `%` and an upper-case letter at every position,
        // and a second `:` or `@` anywhere after the first.
        let mut checked_fast = 0;
        for len in 0..=24 {
            let base = "a1.b2-c3.d4e5f6g7h8i9j0kl".get(..len).unwrap_or_default();
            let mut cases = vec![base.to_owned()];
            for at in 0..len {
                for special in ["@", "[", "]", ":", "%", "Z"] {
                    let mut text = base.to_owned();
                    text.replace_range(at..=at, special);
                    cases.push(text.clone());
                    for second in at + 1..len {
                        for again in [":", "@"] {
                            let mut twice = text.clone();
                            twice.replace_range(second..=second, again);
                            cases.push(twice);
                        }
                    }
                }
            }
            for text in &cases {
                assert_eq!(authority_host_port(text), split_authority(text), "{text:?}");
                let plain = text.len() <= 16 && !text.contains(['@', '[']);
                assert_eq!(
                    plain_authority_colon(text.as_bytes()).is_some(),
                    plain,
                    "{text:?}"
                );
                checked_fast += usize::from(plain);
            }
        }
        assert!(checked_fast > 500);
        for text in [
            "127.0.0.1:18091",
            "example.com",
            "Example.COM:80",
            "h:",
            ":80",
            "",
            "u:p@h:1",
            "[::1]:8080",
            "[fe80::1%25eth0]:1",
            "a@b@c:2",
            "www.a-very-long-host-name.example.org:65536",
        ] {
            assert_eq!(authority_host_port(text), split_authority(text), "{text:?}");
            let parts = authority_parts(text);
            assert_eq!((parts.host, parts.port), split_authority(text), "{text:?}");
            assert_eq!(parts.zone, has_ip_zone(text), "{text:?}");
        }
        assert_eq!(
            authority_host_port("127.0.0.1:18091"),
            ("127.0.0.1", Some("18091"))
        );
        assert_eq!(authority_host_port("a.example:"), ("a.example", Some("")));
    }

    #[test]
    fn the_word_zone_check_agrees_with_the_byte_loop() {
        let careful = |text: &str| {
            let bytes = text.as_bytes();
            bytes
                .iter()
                .position(|&b| b == b'[')
                .is_some_and(|open| bytes[open..].contains(&b'%'))
        };
        let base = "a1.b2-c3.d4e5f6g7h8i9j0k";
        for len in 0..=base.len() {
            for open in 0..len {
                for percent in 0..len {
                    let mut text = base.get(..len).unwrap_or_default().to_owned();
                    text.replace_range(open..=open, "[");
                    if percent != open {
                        text.replace_range(percent..=percent, "%");
                    }
                    assert_eq!(has_ip_zone(&text), careful(&text), "{text:?}");
                    assert_eq!(has_ip_zone(&text), percent > open, "{text:?}");
                    // The codec reads the zone from the split (none on its fast path).
                    assert_eq!(authority_parts(&text).zone, careful(&text), "{text:?}");
                }
            }
        }
        for (text, zone) in [
            ("[fe80::1%25eth0]:8080", true),
            ("[fe80::1%eth0]", true),
            ("[::1]:8080", false),
            ("h%41:80", false),
            ("", false),
            ("u:p@[fe80::1%25eth0]:1", true),
            ("[::1%1]", true),
        ] {
            assert_eq!(has_ip_zone(text), zone, "{text:?}");
            assert_eq!(authority_parts(text).zone, zone, "{text:?}");
        }
    }

    #[test]
    fn ports_are_five_digits_at_most_and_at_most_65535() {
        for (text, port) in [
            ("0", Some(0)),
            ("80", Some(80)),
            ("00080", Some(80)),
            ("65535", Some(65535)),
            ("65536", None),
            ("99999", None),
            ("000000", None),
            ("", None),
            ("8a", None),
            ("+80", None),
            ("-1", None),
            (" 80", None),
            ("८०", None),
            // Past five digits, the length is checked after the loop.
            ("000080", None),
            ("0000000", None),
            ("655350", None),
            ("18446744073709551616", None),
            ("99999999999999999999999999999", None),
            ("123456a", None),
        ] {
            assert_eq!(parse_port(text), port, "{text:?}");
            let plain = (text.len() <= 5)
                .then(|| parse_decimal(text.as_bytes()))
                .flatten()
                .and_then(|n| u16::try_from(n).ok());
            assert_eq!(parse_port(text), plain, "{text:?}");
        }
        for n in 0..=99_999u32 {
            let text = n.to_string();
            assert_eq!(parse_port(&text), u16::try_from(n).ok(), "{text}");
        }
    }

    #[test]
    fn saturating_decimal_caps_instead_of_failing() {
        assert_eq!(parse_decimal_saturating(b"5"), Some(5));
        assert_eq!(
            parse_decimal_saturating(b"999999999999999999999999999999"),
            Some(u64::MAX)
        );
        assert_eq!(parse_decimal_saturating(b""), None);
        assert_eq!(parse_decimal_saturating(b"5s"), None);
    }
}
