//! Byte-level field-value syntax shared by the strategies: list elements, tokens,
//! decimal numbers.
//!
//! Header values are arbitrary bytes (`HeaderValue` admits obs-text and is not
//! necessarily UTF-8), so everything here works on `&[u8]`, never allocates and never
//! panics. Quoted strings are not parsed as such: none of the fields read here
//! (`Connection`, `Transfer-Encoding`, `Content-Length`, `Keep-Alive`) legitimately
//! carries a comma inside quotes.

/// The non-empty elements of one field line's comma-separated list, each trimmed of
/// optional whitespace. RFC 9110 §5.6.1: empty elements (`a, , b`) are ignored; callers
/// feed the lines of a repeated field in order, which RFC 9110 §5.3 makes one list.
pub(crate) fn elements(value: &[u8]) -> impl Iterator<Item = &[u8]> {
    value
        .split(|&b| b == b',')
        .map(trim_ows)
        .filter(|element| !element.is_empty())
}

/// Trims optional whitespace (SP / HTAB, RFC 9110 §5.6.3) from both ends.
pub(crate) fn trim_ows(mut bytes: &[u8]) -> &[u8] {
    while let [b' ' | b'\t', rest @ ..] = bytes {
        bytes = rest;
    }
    while let [rest @ .., b' ' | b'\t'] = bytes {
        bytes = rest;
    }
    bytes
}

/// Whether `bytes` is a `token` (RFC 9110 §5.6.2): one or more tchar.
pub(crate) fn is_token(bytes: &[u8]) -> bool {
    !bytes.is_empty() && bytes.iter().all(|&b| TCHAR[usize::from(b)])
}

/// `tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." / "^" / "_" /
/// "`" / "|" / "~" / DIGIT / ALPHA`, as a table: one load per byte on the hot path.
static TCHAR: [bool; 256] = {
    let mut table = [false; 256];
    let mut b = 0;
    while b < 256 {
        let c = b as u8;
        table[b] = c.is_ascii_alphanumeric()
            || matches!(
                c,
                b'!' | b'#'
                    | b'$'
                    | b'%'
                    | b'&'
                    | b'\''
                    | b'*'
                    | b'+'
                    | b'-'
                    | b'.'
                    | b'^'
                    | b'_'
                    | b'`'
                    | b'|'
                    | b'~'
            );
        b += 1;
    }
    table
};

/// Parses `1*DIGIT` as a `u64`; `None` for anything else, including a value that
/// overflows (RFC 9112 §6.3: such a Content-Length cannot frame a message).
pub(crate) fn parse_u64_exact(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() {
        return None;
    }
    let mut n: u64 = 0;
    for &b in bytes {
        if !b.is_ascii_digit() {
            return None;
        }
        n = n.checked_mul(10)?.checked_add(u64::from(b - b'0'))?;
    }
    Some(n)
}

/// Parses `1*DIGIT` as a `u64`, saturating at `u64::MAX` instead of failing: a server
/// asking for an absurdly long keep-alive asks for "as long as possible", and the
/// configured cap bounds it. `None` for anything that is not all digits.
pub(crate) fn parse_u64_saturating(bytes: &[u8]) -> Option<u64> {
    if bytes.is_empty() || !bytes.iter().all(u8::is_ascii_digit) {
        return None;
    }
    Some(parse_u64_exact(bytes).unwrap_or(u64::MAX))
}

#[cfg(test)]
mod tests {
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
    fn ows_trim_leaves_inner_whitespace() {
        assert_eq!(trim_ows(b" \t a b \t"), b"a b");
        assert_eq!(trim_ows(b" \t "), b"");
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
        assert_eq!(parse_u64_exact(b"0"), Some(0));
        assert_eq!(parse_u64_exact(b"0010"), Some(10));
        assert_eq!(parse_u64_exact(b"18446744073709551615"), Some(u64::MAX));
        assert_eq!(parse_u64_exact(b"18446744073709551616"), None);
        assert_eq!(parse_u64_exact(b""), None);
        assert_eq!(parse_u64_exact(b"-1"), None);
        assert_eq!(parse_u64_exact(b"+1"), None);
        assert_eq!(parse_u64_exact(b"1 0"), None);
        assert_eq!(parse_u64_exact(b"0x10"), None);
    }

    #[test]
    fn saturating_decimal_caps_instead_of_failing() {
        assert_eq!(parse_u64_saturating(b"5"), Some(5));
        assert_eq!(
            parse_u64_saturating(b"999999999999999999999999999999"),
            Some(u64::MAX)
        );
        assert_eq!(parse_u64_saturating(b""), None);
        assert_eq!(parse_u64_saturating(b"5s"), None);
    }
}
