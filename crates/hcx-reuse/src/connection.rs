//! Connection options: the `Connection` header (RFC 9110 §7.6.1) and the legacy
//! `Proxy-Connection` header.

use hcx_h1::syntax::{elements, is_token};

/// What the connection options of one message say about persistence, accumulated over
/// its field lines. Once `Close` or `Malformed`, it stays so.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Options {
    /// No `close` so far; `keep_alive` tells whether a `keep-alive` option was seen.
    Open { keep_alive: bool },
    /// A `close` option: the sender will close, whatever else is listed.
    Close,
    /// An element that is not a token (`keep-alive=true`, non-ASCII bytes): the peer may
    /// have read anything into it, including `close`.
    Malformed,
}

impl Default for Options {
    fn default() -> Self {
        Options::Open { keep_alive: false }
    }
}

impl Options {
    /// Adds the options of one more field line.
    pub(crate) fn add(self, value: &[u8]) -> Options {
        let Options::Open { mut keep_alive } = self else {
            return self;
        };
        // The usual whole values, without splitting them into a list first.
        if value.eq_ignore_ascii_case(b"keep-alive") {
            return Options::Open { keep_alive: true };
        } else if value.eq_ignore_ascii_case(b"close") {
            return Options::Close;
        }
        for option in elements(value) {
            // RFC 9110 §7.6.1: options are case-insensitive; `close` wins over anything
            // else listed, in any order. The two known options are tokens, so only the
            // others need checking.
            if option.eq_ignore_ascii_case(b"close") {
                return Options::Close;
            } else if option.eq_ignore_ascii_case(b"keep-alive") {
                keep_alive = true;
            } else if !is_token(option) {
                return Options::Malformed;
            }
        }
        Options::Open { keep_alive }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options(lines: &[&[u8]]) -> Options {
        lines.iter().fold(Options::default(), |o, line| o.add(line))
    }

    #[test]
    fn close_wins_in_any_position_and_case() {
        assert_eq!(options(&[b"close"]), Options::Close);
        assert_eq!(options(&[b"keep-alive, CLOSE"]), Options::Close);
        assert_eq!(options(&[b"Close, keep-alive"]), Options::Close);
        assert_eq!(options(&[b"keep-alive", b"close"]), Options::Close);
    }

    #[test]
    fn keep_alive_is_found_across_field_lines() {
        assert_eq!(
            options(&[b"upgrade", b" Keep-Alive "]),
            Options::Open { keep_alive: true }
        );
    }

    #[test]
    fn close_or_malformed_sticks() {
        assert_eq!(options(&[b"close", b"x=y"]), Options::Close);
        assert_eq!(options(&[b"x=y", b"close"]), Options::Malformed);
    }

    #[test]
    fn non_token_option_is_malformed() {
        assert_eq!(options(&[b"keep-alive=true"]), Options::Malformed);
        assert_eq!(options(&[b"clos\xe9"]), Options::Malformed);
    }

    #[test]
    fn no_options_is_open_without_keep_alive() {
        assert_eq!(options(&[]), Options::Open { keep_alive: false });
        assert_eq!(options(&[b"", b" , "]), Options::Open { keep_alive: false });
    }
}
