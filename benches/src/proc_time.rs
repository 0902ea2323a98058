//! The process's CPU time from `/proc/self/stat`, for the examples that report CPU per
//! request (the workspace forbids `unsafe`, so no `getrusage`).

/// Microseconds per clock tick (`getconf CLK_TCK` is 100 on Linux).
const TICK_US: f64 = 10_000.0;

/// User and system CPU time of the whole process so far, in microseconds, at the
/// clock tick's resolution (10 ms); zeros where `/proc` cannot be read.
pub fn process_cpu_us() -> (f64, f64) {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return (0.0, 0.0);
    };
    // The fields after the command's closing parenthesis: utime is the 14th field of
    // the line, the 12th after it; stime the 13th.
    let rest = &stat[stat.rfind(')').map_or(0, |i| i + 2)..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|f| f.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    (ticks(11) * TICK_US, ticks(12) * TICK_US)
}
