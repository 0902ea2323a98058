//! Keep-alive configuration as text: humantime durations ("30s", "2m 30s").

use crate::keep_alive::DefaultKeepAliveStrategy;
use std::error::Error;
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// A configuration string that could not be read (a duration, a keep-alive setting).
/// Says what the text was and what was expected. Not the pool's `ConfigError` (a limit
/// of zero), nor the `Config` kind of a request's error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParseSettingError {
    /// What the text was meant to be: "duration", "keep-alive setting".
    what: &'static str,
    input: String,
    problem: String,
}

impl ParseSettingError {
    fn new(input: &str, problem: impl Into<String>) -> Self {
        ParseSettingError {
            what: "keep-alive setting",
            input: input.to_owned(),
            problem: problem.into(),
        }
    }

    /// The text that could not be read.
    pub fn input(&self) -> &str {
        &self.input
    }
}

impl fmt::Display for ParseSettingError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "invalid {} {:?}: {}",
            self.what, self.input, self.problem
        )
    }
}

impl Error for ParseSettingError {}

/// Parses a humantime duration: `"30s"`, `"2m 30s"`, `"1h"`, `"500ms"`.
///
/// ```
/// use std::time::Duration;
/// assert_eq!(hcx_reuse::parse_duration("2m 30s")?, Duration::from_secs(150));
/// assert!(hcx_reuse::parse_duration("30").is_err()); // a unit is required
/// # Ok::<(), hcx_reuse::ParseSettingError>(())
/// ```
pub fn parse_duration(text: &str) -> Result<Duration, ParseSettingError> {
    humantime::parse_duration(text.trim()).map_err(|e| ParseSettingError {
        what: "duration",
        ..ParseSettingError::new(
            text,
            format!("expected a duration such as \"30s\" or \"2m 30s\" ({e})"),
        )
    })
}

/// Reads `"default=30s, max=2m 30s, margin=500ms"`: comma-separated `default=`, `max=`
/// and `margin=` settings (any may be left out; a bare duration is the default).
/// `default=unlimited` sets no limit without a server `timeout`; `max=none` removes the
/// cap; `margin` is taken off a server's `timeout` (1 s unless set). Names are
/// case-insensitive. `Display` writes the same form back.
///
/// ```
/// use hcx_reuse::DefaultKeepAliveStrategy;
/// use std::time::Duration;
///
/// let s: DefaultKeepAliveStrategy = "default=1m, max=2m 30s".parse()?;
/// assert_eq!(s.default_timeout(), Some(Duration::from_secs(60)));
/// assert_eq!(s.max_timeout(), Some(Duration::from_secs(150)));
/// assert_eq!(s.to_string(), "default=1m, max=2m 30s");
/// # Ok::<(), hcx_reuse::ParseSettingError>(())
/// ```
impl FromStr for DefaultKeepAliveStrategy {
    type Err = ParseSettingError;

    fn from_str(text: &str) -> Result<Self, ParseSettingError> {
        let mut strategy = DefaultKeepAliveStrategy::new();
        let mut any = false;
        for item in text.split(',').map(str::trim).filter(|i| !i.is_empty()) {
            any = true;
            let (key, value) = match item.split_once('=') {
                Some((key, value)) => (key.trim(), value.trim()),
                None => ("default", item),
            };
            if key.eq_ignore_ascii_case("default") {
                strategy = if value.eq_ignore_ascii_case("unlimited") {
                    strategy.with_default_unlimited()
                } else {
                    strategy.with_default(parse_setting(text, value)?)
                };
            } else if key.eq_ignore_ascii_case("max") {
                strategy = if value.eq_ignore_ascii_case("none") {
                    strategy.without_max()
                } else {
                    strategy.with_max(parse_setting(text, value)?)
                };
            } else if key.eq_ignore_ascii_case("margin") {
                strategy = strategy.with_margin(parse_setting(text, value)?);
            } else {
                return Err(ParseSettingError::new(
                    text,
                    format!("unknown setting {key:?}; expected \"default\", \"max\" or \"margin\""),
                ));
            }
        }
        if !any {
            return Err(ParseSettingError::new(
                text,
                "empty; expected e.g. \"default=30s, max=2m\"",
            ));
        }
        Ok(strategy)
    }
}

fn parse_setting(text: &str, value: &str) -> Result<Duration, ParseSettingError> {
    parse_duration(value).map_err(|e| ParseSettingError::new(text, e.problem))
}

impl fmt::Display for DefaultKeepAliveStrategy {
    /// `default=30s`, `default=unlimited, max=2m 30s`: what `FromStr` reads.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.default_timeout() {
            Some(d) => write!(f, "default={}", humantime::format_duration(d))?,
            None => f.write_str("default=unlimited")?,
        }
        if let Some(max) = self.max_timeout() {
            write!(f, ", max={}", humantime::format_duration(max))?;
        }
        if self.margin() != DefaultKeepAliveStrategy::DEFAULT_MARGIN {
            write!(f, ", margin={}", humantime::format_duration(self.margin()))?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bare_duration_is_the_default() -> Result<(), ParseSettingError> {
        let s: DefaultKeepAliveStrategy = "45s".parse()?;
        assert_eq!(s.default_timeout(), Some(Duration::from_secs(45)));
        assert_eq!(s.max_timeout(), None);
        Ok(())
    }

    #[test]
    fn unlimited_default_and_no_cap_round_trip() -> Result<(), ParseSettingError> {
        let s: DefaultKeepAliveStrategy = " DEFAULT = unlimited , max = none ".parse()?;
        assert_eq!(s, DefaultKeepAliveStrategy::new().with_default_unlimited());
        assert_eq!(s.to_string(), "default=unlimited");
        assert_eq!(s.to_string().parse::<DefaultKeepAliveStrategy>()?, s);
        Ok(())
    }

    #[test]
    fn a_margin_other_than_the_default_round_trips() -> Result<(), ParseSettingError> {
        let s: DefaultKeepAliveStrategy = "default=10s, margin=250ms".parse()?;
        assert_eq!(s.margin(), Duration::from_millis(250));
        assert_eq!(s.to_string(), "default=10s, margin=250ms");
        assert_eq!(s.to_string().parse::<DefaultKeepAliveStrategy>()?, s);
        Ok(())
    }

    #[test]
    fn new_strategy_prints_its_thirty_second_default() {
        assert_eq!(DefaultKeepAliveStrategy::new().to_string(), "default=30s");
    }

    #[test]
    fn errors_name_the_input_and_the_problem() {
        let err = "default=abc".parse::<DefaultKeepAliveStrategy>().err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("\"default=abc\""), "{message}");
        assert!(message.contains("2m 30s"), "{message}");

        let err = "min=3s".parse::<DefaultKeepAliveStrategy>().err();
        let message = err.map(|e| e.to_string()).unwrap_or_default();
        assert!(message.contains("unknown setting \"min\""), "{message}");

        assert!("".parse::<DefaultKeepAliveStrategy>().is_err());
        assert!(" , ".parse::<DefaultKeepAliveStrategy>().is_err());
    }
}
