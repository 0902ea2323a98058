//! The `Retry-After` parser (RFC 9110 §10.2.3): a number of seconds, or an HTTP date
//! in any of the three forms of RFC 9110 §5.6.7.

use std::time::{Duration, SystemTime, UNIX_EPOCH};

/// How long a `Retry-After` value (RFC 9110 §10.2.3) asks to wait, as of `now`: a
/// number of seconds, or an HTTP date (IMF-fixdate, or the obsolete RFC 850 and asctime
/// forms every recipient must accept, §5.6.7). A date in the past is `Duration::ZERO`;
/// more seconds than a `u64` holds, `Duration::MAX`. `None` when it is neither form.
///
/// ```
/// use hcx::chain::parse_retry_after;
/// use std::time::{Duration, SystemTime, UNIX_EPOCH};
///
/// let now = UNIX_EPOCH + Duration::from_secs(784_111_770);
/// assert_eq!(parse_retry_after("120", now), Some(Duration::from_secs(120)));
/// assert_eq!(
///     parse_retry_after("Sun, 06 Nov 1994 08:49:37 GMT", now),
///     Some(Duration::from_secs(7))
/// );
/// assert_eq!(parse_retry_after("soon", now), None);
/// ```
pub fn parse_retry_after(value: &str, now: SystemTime) -> Option<Duration> {
    let value = value.trim_matches([' ', '\t']);
    if !value.is_empty() && value.bytes().all(|b| b.is_ascii_digit()) {
        // All digits: only an overflow can fail, and that is longer than any cap.
        return Some(value.parse().map_or(Duration::MAX, Duration::from_secs));
    }
    let now_secs = now.duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs());
    let at = http_date(value, now_secs)?;
    let Ok(at) = u64::try_from(at) else {
        return Some(Duration::ZERO); // before 1970: long past
    };
    let at = UNIX_EPOCH.checked_add(Duration::from_secs(at));
    Some(at.map_or(Duration::MAX, |at| {
        at.duration_since(now).unwrap_or(Duration::ZERO)
    }))
}

const DAYS: [&str; 7] = ["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun"];
const LONG_DAYS: [&str; 7] = [
    "Monday",
    "Tuesday",
    "Wednesday",
    "Thursday",
    "Friday",
    "Saturday",
    "Sunday",
];
const MONTHS: [&str; 12] = [
    "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
];

/// An HTTP date (RFC 9110 §5.6.7) in seconds since the epoch. The day name must be
/// one, but need not match the date: the instant is what counts.
fn http_date(value: &str, now_secs: u64) -> Option<i64> {
    imf_fixdate(value)
        .or_else(|| rfc850_date(value, now_secs))
        .or_else(|| asctime_date(value))
}

/// `Sun, 06 Nov 1994 08:49:37 GMT`
fn imf_fixdate(value: &str) -> Option<i64> {
    let (day_name, rest) = value.split_once(", ")?;
    DAYS.contains(&day_name).then_some(())?;
    let mut parts = rest.split(' ');
    let day = digits(parts.next()?, 2)?;
    let month = month(parts.next()?)?;
    let year = digits(parts.next()?, 4)?;
    let time = time_of_day(parts.next()?)?;
    (parts.next() == Some("GMT") && parts.next().is_none()).then_some(())?;
    epoch_seconds(i64::from(year), month, day, time)
}

/// `Sunday, 06-Nov-94 08:49:37 GMT`
fn rfc850_date(value: &str, now_secs: u64) -> Option<i64> {
    let (day_name, rest) = value.split_once(", ")?;
    LONG_DAYS.contains(&day_name).then_some(())?;
    let mut parts = rest.split(' ');
    let mut date = parts.next()?.split('-');
    let day = digits(date.next()?, 2)?;
    let month = month(date.next()?)?;
    let yy = i64::from(digits(date.next()?, 2)?);
    date.next().is_none().then_some(())?;
    let time = time_of_day(parts.next()?)?;
    (parts.next() == Some("GMT") && parts.next().is_none()).then_some(())?;
    // §5.6.7: a two-digit year more than 50 years in the future is the most recent
    // past year with those digits. Candidates in the previous, current and next
    // century: the latest one not more than 50 years ahead.
    // The century of `now` need only be about right (an average Gregorian year): the
    // candidates span three centuries and the limit is exact.
    let now = i64::try_from(now_secs).ok()?;
    let century = (1970 + now / 31_556_952) / 100 * 100;
    let limit = now.checked_add(50 * 31_556_952)?;
    [century + 100, century, century - 100]
        .into_iter()
        .filter_map(|c| epoch_seconds(c + yy, month, day, time))
        .find(|&at| at <= limit)
}

/// `Sun Nov  6 08:49:37 1994`
fn asctime_date(value: &str) -> Option<i64> {
    let mut parts = value.split(' ');
    DAYS.contains(&parts.next()?).then_some(())?;
    let month = month(parts.next()?)?;
    // The day is two digits, or a space and one digit.
    let day = match parts.next()? {
        "" => digits(parts.next()?, 1)?,
        two => digits(two, 2)?,
    };
    let time = time_of_day(parts.next()?)?;
    let year = digits(parts.next()?, 4)?;
    parts.next().is_none().then_some(())?;
    epoch_seconds(i64::from(year), month, day, time)
}

/// Exactly `n` ASCII digits.
fn digits(s: &str, n: usize) -> Option<u32> {
    if s.len() == n && s.bytes().all(|b| b.is_ascii_digit()) {
        s.parse().ok()
    } else {
        None
    }
}

/// 1 to 12.
fn month(s: &str) -> Option<u32> {
    let at = MONTHS.iter().position(|m| *m == s)?;
    u32::try_from(at + 1).ok()
}

/// `HH:MM:SS` in seconds (a leap second 60 is allowed).
fn time_of_day(s: &str) -> Option<i64> {
    let mut parts = s.split(':');
    let hour = digits(parts.next()?, 2)?;
    let minute = digits(parts.next()?, 2)?;
    let second = digits(parts.next()?, 2)?;
    (parts.next().is_none() && hour < 24 && minute < 60 && second <= 60).then_some(())?;
    Some(i64::from(hour * 3600 + minute * 60 + second))
}

/// Seconds since the epoch of a valid proleptic Gregorian date and time of day.
fn epoch_seconds(year: i64, month: u32, day: u32, time: i64) -> Option<i64> {
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let month_days = match month {
        2 if leap => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    };
    (1..=month_days).contains(&day).then_some(())?;
    // Days from civil (Howard Hinnant's algorithm): years start in March so the leap
    // day is the last of its year.
    let (m, d) = (i64::from(month), i64::from(day));
    let y = if m <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let year_of_era = y - era * 400;
    let day_of_year = (153 * ((m + 9) % 12) + 2) / 5 + d - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    let days = era * 146_097 + day_of_era - 719_468;
    Some(days * 86_400 + time)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn at(secs: u64) -> SystemTime {
        UNIX_EPOCH + Duration::from_secs(secs)
    }

    #[test]
    fn retry_after_is_seconds_or_an_http_date() {
        // 784111777 is Sun, 06 Nov 1994 08:49:37 GMT (RFC 9110 §5.6.7's example).
        let now = at(784_111_777 - 90);
        let secs = Duration::from_secs;
        for (value, expected) in [
            ("0", Some(secs(0))),
            ("120", Some(secs(120))),
            (" 7\t", Some(secs(7))),
            ("99999999999999999999999", Some(Duration::MAX)),
            ("Sun, 06 Nov 1994 08:49:37 GMT", Some(secs(90))),
            ("Sunday, 06-Nov-94 08:49:37 GMT", Some(secs(90))),
            ("Sun Nov  6 08:49:37 1994", Some(secs(90))),
            // The instant counts, not the day name.
            ("Mon, 06 Nov 1994 08:49:37 GMT", Some(secs(90))),
            // Past dates: retry at once.
            ("Sun, 06 Nov 1994 08:00:00 GMT", Some(Duration::ZERO)),
            ("Thu, 01 Jan 1970 00:00:00 GMT", Some(Duration::ZERO)),
            ("Wed, 31 Dec 1969 23:59:59 GMT", Some(Duration::ZERO)),
            // A leap day, and a date far ahead.
            (
                "Thu, 29 Feb 1996 00:00:00 GMT",
                Some(secs(825_552_000 - 784_111_687)),
            ),
            (
                "Fri, 31 Dec 9999 23:59:59 GMT",
                Some(secs(253_402_300_799 - 784_111_687)),
            ),
        ] {
            assert_eq!(parse_retry_after(value, now), expected, "{value:?}");
        }
    }

    #[test]
    fn garbage_retry_after_values_are_none() {
        let now = at(784_111_777);
        for value in [
            "",
            "-1",
            "+5",
            "1.5",
            "5 s",
            "soon",
            "Sun, 6 Nov 1994 08:49:37 GMT",
            "Sun, 06 Nov 94 08:49:37 GMT",
            "Sun, 06 Nov 1994 08:49:37 UTC",
            "Sun, 06 Nov 1994 08:49:37 GMT extra",
            "Sun, 06 Foo 1994 08:49:37 GMT",
            "Xyz, 06 Nov 1994 08:49:37 GMT",
            "Sun, 31 Nov 1994 08:49:37 GMT",
            "Sun, 29 Feb 1900 08:49:37 GMT",
            "Sun, 06 Nov 1994 24:00:00 GMT",
            "Sun, 06 Nov 1994 08:60:00 GMT",
            "Sun, 06 Nov 1994 8:49:37 GMT",
            "Sunday, 06-Nov-1994 08:49:37 GMT",
            "Sun Nov 6 08:49:37 1994",
            "Sun Nov  06 08:49:37 1994",
            "Sun, 06 Nov 1994 08:49:37 GMT\u{e9}",
        ] {
            assert_eq!(parse_retry_after(value, now), None, "{value:?}");
        }
    }

    #[test]
    fn a_two_digit_year_is_never_more_than_fifty_years_ahead() {
        // In 2025, "94" is 1994 and "30" is 2030; "75" is 2075 (50 years ahead, within
        // the limit) and "76" is 1976.
        let now_2025 = at(1_735_689_600); // Wed, 01 Jan 2025 00:00:00 GMT
        let in_years = |value: &str| parse_retry_after(value, now_2025).map(|d| d.as_secs());
        assert_eq!(in_years("Sunday, 06-Nov-94 08:49:37 GMT"), Some(0));
        assert_eq!(
            in_years("Tuesday, 01-Jan-30 00:00:00 GMT"),
            Some(157_766_400)
        );
        assert_eq!(in_years("Friday, 01-Jan-76 00:00:00 GMT"), Some(0));
        assert!(in_years("Tuesday, 01-Jan-75 00:00:00 GMT").is_some_and(|s| s > 0));
    }
}
