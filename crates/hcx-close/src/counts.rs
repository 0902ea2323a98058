//! Closes counted by reason.

use std::fmt;

use crate::CloseReason;

/// How many connections were closed, by [`CloseReason`]. The pool keeps one and
/// counts every close it carries out — its own (expiry, trims, shutdown) and those
/// its lease holders decide (the engine's discards and non-reusable releases) — so
/// each close is counted once, in one place.
///
/// Custom reasons are counted by their text.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct CloseCounts {
    counts: [u64; CloseReason::ALL.len()],
    custom: Vec<(&'static str, u64)>,
}

impl CloseCounts {
    /// Counts one close.
    pub fn count(&mut self, reason: CloseReason) {
        self.count_n(reason, 1);
    }

    /// The closes counted under `reason`.
    pub fn get(&self, reason: CloseReason) -> u64 {
        match (reason.index(), reason) {
            (Some(i), _) => self.counts[i],
            (None, CloseReason::Custom(text)) => self
                .custom
                .iter()
                .find(|(t, _)| *t == text)
                .map_or(0, |(_, n)| *n),
            (None, _) => 0,
        }
    }

    /// Counts `n` closes under `reason` at once.
    pub fn count_n(&mut self, reason: CloseReason, n: u64) {
        match (reason.index(), reason) {
            (Some(i), _) => self.counts[i] += n,
            (None, CloseReason::Custom(text)) => {
                match self.custom.iter_mut().find(|(t, _)| *t == text) {
                    Some((_, m)) => *m += n,
                    None => self.custom.push((text, n)),
                }
            }
            (None, _) => {}
        }
    }

    /// All closes, whatever the reason.
    pub fn total(&self) -> u64 {
        self.counts.iter().sum::<u64>() + self.custom.iter().map(|(_, n)| n).sum::<u64>()
    }

    /// The reasons with at least one close, with their counts: the fixed reasons in
    /// declaration order, then the custom ones in the order first seen.
    pub fn iter(&self) -> impl Iterator<Item = (CloseReason, u64)> + '_ {
        let fixed = CloseReason::ALL
            .iter()
            .zip(self.counts.iter())
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| (*r, *n));
        let custom = self
            .custom
            .iter()
            .map(|(text, n)| (CloseReason::Custom(text), *n));
        fixed.chain(custom)
    }
}

/// Adds another tally to this one (closes of several clients or managers).
impl std::ops::AddAssign<&CloseCounts> for CloseCounts {
    fn add_assign(&mut self, other: &CloseCounts) {
        for (reason, n) in other.iter() {
            self.count_n(reason, n);
        }
    }
}

impl fmt::Debug for CloseCounts {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map()
            .entries(self.iter().map(|(r, n)| (r.name(), n)))
            .finish()
    }
}

impl fmt::Display for CloseCounts {
    /// `3 stale, 1 response_connection_close` (or `none`).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut any = false;
        for (reason, n) in self.iter() {
            if any {
                f.write_str(", ")?;
            }
            any = true;
            match reason {
                CloseReason::Custom(text) => write!(f, "{n} {text:?}")?,
                _ => write!(f, "{n} {}", reason.name())?,
            }
        }
        if !any {
            f.write_str("none")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_close_is_counted_under_its_reason_once() {
        let mut c = CloseCounts::default();
        assert_eq!(c.to_string(), "none");
        c.count(CloseReason::Expired);
        c.count(CloseReason::Custom("pinned"));
        c.count(CloseReason::Custom("pinned"));
        c.count(CloseReason::Custom("other"));
        c.count(CloseReason::Stale);
        assert_eq!(c.get(CloseReason::Expired), 1);
        assert_eq!(c.get(CloseReason::Stale), 1);
        assert_eq!(c.get(CloseReason::Trimmed), 0);
        assert_eq!(c.get(CloseReason::Custom("pinned")), 2);
        assert_eq!(c.get(CloseReason::Custom("absent")), 0);
        assert_eq!(c.total(), 5);
        let listed: Vec<_> = c.iter().collect();
        assert_eq!(
            listed,
            vec![
                (CloseReason::Stale, 1),
                (CloseReason::Expired, 1),
                (CloseReason::Custom("pinned"), 2),
                (CloseReason::Custom("other"), 1),
            ]
        );
        assert_eq!(
            c.to_string(),
            "1 stale, 1 expired, 2 \"pinned\", 1 \"other\""
        );
    }

    #[test]
    fn tallies_add_up_reason_by_reason() {
        let mut a = CloseCounts::default();
        a.count(CloseReason::Stale);
        a.count(CloseReason::Custom("pinned"));
        let mut b = CloseCounts::default();
        b.count_n(CloseReason::Stale, 2);
        b.count(CloseReason::Expired);
        b.count_n(CloseReason::Custom("pinned"), 3);
        b.count(CloseReason::Custom("other"));
        a += &b;
        assert_eq!(a.get(CloseReason::Stale), 3);
        assert_eq!(a.get(CloseReason::Expired), 1);
        assert_eq!(a.get(CloseReason::Custom("pinned")), 4);
        assert_eq!(a.get(CloseReason::Custom("other")), 1);
        assert_eq!(a.total(), 9);
        // The other tally is unchanged.
        assert_eq!(b.total(), 7);
    }
}
