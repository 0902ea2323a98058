//! Keep or close: the one decision taken after each exchange.

use std::fmt;
use std::time::Duration;

use crate::CloseReason;

/// What to do with a connection once its exchange is over: give it back to the pool,
/// reusable for a while, or close it, and why.
///
/// One value from the strategies (hcx-reuse's `decide`) through the exec runtime
/// (`mark`) to the pool's release (`Lease::release`), and in each response
/// (hcx-exec's `ResponseInfo`), so the decision a user reads is the one
/// the pool acted on. Apache HttpClient spreads this over `keepAlive(…) → boolean`, `getKeepAliveDuration(…)`
/// and `releaseConnection(…, reusable, keepAlive)`.
///
/// ```
/// use hcx_close::{CloseReason, Decision};
/// use std::time::Duration;
///
/// let d = Decision::keep(None);
/// assert!(d.is_keep());
/// assert_eq!(d.to_string(), "keep alive (no limit)");
/// let d = Decision::Close(CloseReason::KeepAliveRefused);
/// assert_eq!(d.close_reason(), Some(CloseReason::KeepAliveRefused));
/// // "Do not keep" is a close, not a keep of zero.
/// assert_eq!(Decision::keep(Some(Duration::ZERO)), Decision::Close(CloseReason::KeepAliveRefused));
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Decision {
    /// Give the connection back to the pool, reusable while it has been idle less than
    /// `valid_for` (`None`: no keep-alive limit; the pool's time-to-live still applies).
    Keep {
        /// How long it may stay idle; `None` for no limit.
        valid_for: Option<Duration>,
    },
    /// Close the connection, for this reason.
    Close(CloseReason),
}

impl Decision {
    /// Keep for `valid_for` (`None`: no limit). A zero validity is "do not keep":
    /// `Close(KeepAliveRefused)` (Apache reads zero as "forever"; here that is `None`).
    pub fn keep(valid_for: Option<Duration>) -> Self {
        match valid_for {
            Some(d) if d.is_zero() => Decision::Close(CloseReason::KeepAliveRefused),
            _ => Decision::Keep { valid_for },
        }
    }

    /// Whether the connection goes back to the pool.
    pub fn is_keep(&self) -> bool {
        matches!(self, Decision::Keep { .. })
    }

    /// How long it may stay idle (`None` when closing or with no limit).
    pub fn valid_for(&self) -> Option<Duration> {
        match self {
            Decision::Keep { valid_for } => *valid_for,
            Decision::Close(_) => None,
        }
    }

    /// Why it closes, if it does.
    pub fn close_reason(&self) -> Option<CloseReason> {
        match self {
            Decision::Keep { .. } => None,
            Decision::Close(reason) => Some(*reason),
        }
    }

    /// This decision, unless it keeps and `other` closes: closing is monotone, once a
    /// layer says close nothing re-enables reuse (hyper's keep-alive state works the
    /// same way). Of two closes the first reason stays.
    #[must_use]
    pub fn and(self, other: Decision) -> Decision {
        match (self, other) {
            (Decision::Close(_), _) => self,
            (Decision::Keep { .. }, _) => other,
        }
    }
}

impl fmt::Display for Decision {
    /// `keep alive for 30s`, `keep alive (no limit)`, `close: <reason>`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Decision::Keep { valid_for: Some(d) } => {
                write!(f, "keep alive for {}", humantime::format_duration(*d))
            }
            Decision::Keep { valid_for: None } => f.write_str("keep alive (no limit)"),
            Decision::Close(reason) => write!(f, "close: {reason}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn closing_is_monotone() {
        let keep = Decision::keep(None);
        let close = Decision::Close(CloseReason::UnreadBody);
        assert_eq!(keep.and(close), close);
        assert_eq!(close.and(keep), close);
        assert_eq!(
            close.and(Decision::Close(CloseReason::Stale)),
            close,
            "the first reason stays"
        );
        let later = Decision::keep(Some(Duration::from_secs(5)));
        assert_eq!(keep.and(later), later, "a later keep refines the validity");
    }

    #[test]
    fn accessors_follow_the_variant() {
        let keep = Decision::keep(Some(Duration::from_millis(1500)));
        assert_eq!(keep.valid_for(), Some(Duration::from_millis(1500)));
        assert_eq!(keep.close_reason(), None);
        assert_eq!(keep.to_string(), "keep alive for 1s 500ms");
        let close = Decision::Close(CloseReason::Custom("mine"));
        assert!(!close.is_keep());
        assert_eq!(close.valid_for(), None);
        assert_eq!(close.to_string(), "close: mine");
    }
}
