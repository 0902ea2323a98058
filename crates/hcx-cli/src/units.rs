//! Durations as people read them: `85µs`, `1.3ms`, `2.50s`.

use std::time::Duration;

/// `d` with three significant figures or so: microseconds below a millisecond,
/// milliseconds below a second, seconds above.
pub fn duration(d: Duration) -> String {
    let micros = d.as_secs_f64() * 1e6;
    if micros < 1_000.0 {
        format!("{micros:.0}µs")
    } else if micros < 1_000_000.0 {
        three_figures(micros / 1e3, "ms")
    } else {
        three_figures(micros / 1e6, "s")
    }
}

/// `value` with three significant figures (at least the units), then `unit`.
fn three_figures(value: f64, unit: &str) -> String {
    if value.fract() == 0.0 {
        format!("{value:.0}{unit}")
    } else if value < 10.0 {
        format!("{value:.2}{unit}")
    } else if value < 100.0 {
        format!("{value:.1}{unit}")
    } else {
        format!("{value:.0}{unit}")
    }
}

/// A bucket bound given in microseconds, in the largest unit that shows it whole
/// (`100µs`, `1ms`, `10s`).
pub fn bound(us: u64) -> String {
    if us >= 1_000_000 && us % 1_000_000 == 0 {
        format!("{}s", us / 1_000_000)
    } else if us >= 1_000 && us % 1_000 == 0 {
        format!("{}ms", us / 1_000)
    } else {
        format!("{us}µs")
    }
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
        assert_eq!(bound(100), "100µs");
        assert_eq!(bound(10_000), "10ms");
        assert_eq!(bound(1_000_000), "1s");
        assert_eq!(bound(1_500), "1500µs");
    }
}
