//! Why the framing of a response rules out reusing its connection.

use std::fmt;

/// A fact of a response's framing that forbids reusing the connection after it.
///
/// The codec only reports these facts; the connection-level decision (which also
/// weighs `Connection: close`, HTTP/1.0 keep-alive and how much of the body was read)
/// is made by the reuse strategy. Errors ([`Error`](crate::Error)) always mean
/// "close" and are not listed here.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum CloseReason {
    /// The body has neither `Content-Length` nor chunked framing: it ends when the
    /// server closes the connection (RFC 9112 §6.3, rule 8).
    ReadToClose,
    /// The response had both `Transfer-Encoding` and `Content-Length`. Chunked framing
    /// wins, but such a message may be an attempt at response splitting, so the
    /// connection is closed after it (RFC 9112 §6.3, rule 3).
    ContentLengthWithTransferEncoding,
    /// `101 Switching Protocols`: the connection no longer speaks HTTP/1.1 after the
    /// head (RFC 9110 §15.2.2).
    SwitchingProtocols,
    /// A 2xx response to `CONNECT`: the connection is now a tunnel (RFC 9110 §9.3.6).
    Tunnel,
}

impl CloseReason {
    /// A short phrase for logs and statistics.
    pub fn explain(self) -> &'static str {
        match self {
            CloseReason::ReadToClose => "body delimited by connection close",
            CloseReason::ContentLengthWithTransferEncoding => {
                "response had both Transfer-Encoding and Content-Length"
            }
            CloseReason::SwitchingProtocols => "server switched protocols (101)",
            CloseReason::Tunnel => "connection became a CONNECT tunnel",
        }
    }
}

impl fmt::Display for CloseReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.explain())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_reason_explains_itself() {
        let all = [
            CloseReason::ReadToClose,
            CloseReason::ContentLengthWithTransferEncoding,
            CloseReason::SwitchingProtocols,
            CloseReason::Tunnel,
        ];
        let mut seen = std::collections::HashSet::new();
        for reason in all {
            assert_eq!(reason.to_string(), reason.explain());
            assert!(seen.insert(reason.explain()), "{reason:?} explained twice");
        }
    }
}
