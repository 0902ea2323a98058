//! Durations as people read them: `85µs`, `1.3ms`, `2.50s`.

use std::time::Duration;

/// `d` with three significant figures or so: microseconds below a millisecond,
/// milliseconds below a second, seconds above. The unit is chosen on the value as it
/// prints, so 999.7µs reads `1.00ms`, not `1000µs`.
pub fn duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros.round() < 1_000.0 {
        format!("{micros:.0}µs")
    } else if rounded(micros / 1e3, decimals(micros / 1e3)) < 1_000.0 {
        three_figures(micros / 1e3, "ms")
    } else {
        three_figures(micros / 1e6, "s")
    }
}

/// `value` with three significant figures (at least the units), then `unit`.
fn three_figures(value: f64, unit: &str) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}{unit}")
    } else {
        format!("{value:.*}{unit}", decimals(value))
    }
}

/// The decimals that show `value` with three significant figures, judged on the
/// value as rounded (9.996 prints `10.0`, not `10.00`).
fn decimals(value: f64) -> usize {
    if rounded(value, 2) < 10.0 {
        2
    } else if rounded(value, 1) < 100.0 {
        1
    } else {
        0
    }
}

/// `value` rounded to `decimals` places.
fn rounded(value: f64, decimals: usize) -> f64 {
    let scale = 10f64.powi(i32::try_from(decimals).unwrap_or(0));
    (value * scale).round() / scale
}

/// A bucket bound given in microseconds, in the largest unit that shows it whole
/// (`100µs`, `1ms`, `10s`).
pub fn bound(us: u64) -> String {
    if us >= 1_000_000 && us.is_multiple_of(1_000_000) {
        format!("{}s", us / 1_000_000)
    } else if us >= 1_000 && us.is_multiple_of(1_000) {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}µs")
    }
}

/// Seconds (a summary's `elapsed_s`) as a duration: `3.14ms`, `2.50s` (not `0.00s`
/// for a run under 5ms).
pub fn seconds(s: f64) -> String {
    duration(Duration::try_from_secs_f64(s).unwrap_or_default())
}

/// Microseconds as a duration, for the histogram's figures.
pub fn micros(us: u64) -> String {
    duration(Duration::from_micros(us))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn each_range_has_its_unit() {
        assert_eq!(duration(Duration::from_nanos(85_400)), "85µs");
        assert_eq!(duration(Duration::from_micros(1_300)), "1.30ms");
        assert_eq!(duration(Duration::from_micros(25_340)), "25.3ms");
        assert_eq!(duration(Duration::from_millis(500)), "500ms");
        assert_eq!(duration(Duration::from_millis(50)), "50ms");
        assert_eq!(duration(Duration::from_secs(2)), "2s");
        assert_eq!(duration(Duration::from_millis(2_500)), "2.50s");
        assert_eq!(duration(Duration::from_secs(150)), "150s");
        assert_eq!(micros(0), "0µs");
        // Rounding up to the next unit or figure prints in that unit, with three
        // figures: never 1000µs, 10.00ms, 100.0ms or 1000ms.
        assert_eq!(duration(Duration::from_nanos(999_700)), "1.00ms");
        assert_eq!(duration(Duration::from_micros(9_996)), "10.0ms");
        assert_eq!(duration(Duration::from_micros(99_960)), "100ms");
        assert_eq!(duration(Duration::from_micros(999_600)), "1.00s");
        assert_eq!(duration(Duration::from_micros(9_999_000)), "10.0s");
        assert_eq!(bound(100), "100µs");
        assert_eq!(bound(10_000), "10ms");
        assert_eq!(bound(1_000_000), "1s");
        assert_eq!(bound(1_500), "1500µs");
    }
}
