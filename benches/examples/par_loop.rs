//! T threads sharing one hcx `Client` (`max_per_route` = T), GETs in a loop against a
//! URL for a fixed time, for throughput and client CPU per request against a real
//! server (nginx on loopback, say):
//! `cargo run --release -p hcx-benches --example par_loop -- URL [threads] [seconds] [options]`,
//! options `no-yield`, `bare`, `no-retry`, `no-redirect`, `no-compress`,
//! `no-user-agent`, `fields`, `json` (below).
//!
//! Prints requests per second and, over the timed run (after a short warm-up), the
//! client's CPU time per request (user + system, and the threads' run time) and its
//! voluntary and involuntary context switches per request, read from `/proc`.
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use hcx::Client;

/// The process's CPU time and context switches, from `/proc` (the workspace forbids
/// `unsafe`, so no `getrusage`): user and system time of the whole process from
/// `/proc/self/stat` (clock ticks, 10 ms), the run time in nanoseconds and the context
/// switches summed over its live threads (`/proc/self/task/*/schedstat`, `status`).
#[derive(Clone, Copy, Default)]
struct Usage {
    user_us: f64,
    sys_us: f64,
    run_us: f64,
    voluntary: i64,
    involuntary: i64,
}

fn usage() -> Usage {
    let mut u = Usage::default();
    (u.user_us, u.sys_us) = hcx_benches::proc_time::process_cpu_us();
    for task in std::fs::read_dir("/proc/self/task")
        .into_iter()
        .flatten()
        .flatten()
    {
        let path = task.path();
        if let Ok(s) = std::fs::read_to_string(path.join("schedstat")) {
            let ns: f64 = s
                .split_whitespace()
                .next()
                .and_then(|f| f.parse().ok())
                .unwrap_or(0.0);
            u.run_us += ns / 1000.0;
        }
        if let Ok(s) = std::fs::read_to_string(path.join("status")) {
            for line in s.lines() {
                let value = |l: &str| {
                    l.split_whitespace()
                        .nth(1)
                        .and_then(|v| v.parse().ok())
                        .unwrap_or(0)
                };
                if line.starts_with("voluntary_ctxt_switches") {
                    u.voluntary += value(line);
                } else if line.starts_with("nonvoluntary_ctxt_switches") {
                    u.involuntary += value(line);
                }
            }
        }
    }
    u
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let url = args
        .next()
        .unwrap_or_else(|| "http://127.0.0.1:18090/small".into());
    let threads: usize = args.next().and_then(|s| s.parse().ok()).unwrap_or(4);
    let secs: f64 = args.next().and_then(|s| s.parse().ok()).unwrap_or(5.0);
    // Options after the seconds, in any order. `no-yield`: the exchange sleeps at once
    // even when crowded (the A/B of `yield_when_crowded`). `bare`: no RETRY, REDIRECT
    // or COMPRESS layer and no `User-Agent` (what the layers and the default fields
    // cost). `json`: one line with requests/s and CPU per request.
    let options: Vec<String> = args.collect();
    let has = |name: &str| options.iter().any(|o| o == name);
    let mut builder = Client::builder()
        .max_per_route(threads)
        .yield_when_crowded(!has("no-yield"));
    // `no-retry`, `no-redirect`, `no-compress`, `no-user-agent`: one of those at a
    // time (what each costs).
    if has("bare") || has("no-retry") {
        builder = builder.disable_automatic_retries();
    }
    if has("bare") || has("no-redirect") {
        builder = builder.disable_redirect_handling();
    }
    if has("bare") || has("no-compress") {
        builder = builder.disable_content_compression();
    }
    if has("bare") || has("no-user-agent") {
        builder = builder.user_agent(None);
    }
    let client = builder.build()?;
    // `fields`: each request carries two header fields of its own (an `Accept` and an
    // `X-Request-Id`, as a service's calls usually do), built from the URL parsed once.
    let uri: hcx::http::Uri = url.parse()?;
    let fields = has("fields");
    let fetch = || -> Result<Vec<u8>, hcx::Error> {
        let response = if fields {
            let mut request = hcx::http::Request::new(hcx::Body::empty());
            *request.uri_mut() = uri.clone();
            let headers = request.headers_mut();
            headers.insert(
                "accept",
                hcx::http::HeaderValue::from_static("application/json"),
            );
            headers.insert(
                "x-request-id",
                hcx::http::HeaderValue::from_static("7f3a9c"),
            );
            client.execute(request)?
        } else {
            client.get(url.as_str())?
        };
        response.into_body().into_vec()
    };
    // One request first, so a bad URL fails loudly.
    fetch()?;

    let warm = AtomicBool::new(false);
    let stop = AtomicBool::new(false);
    let (total, elapsed, before, after) = std::thread::scope(|scope| {
        let workers: Vec<_> = (0..threads)
            .map(|_| {
                scope.spawn(|| -> Result<u64, hcx::Error> {
                    let mut counted = 0u64;
                    while !stop.load(Ordering::Relaxed) {
                        fetch()?;
                        if warm.load(Ordering::Relaxed) {
                            counted += 1;
                        }
                    }
                    Ok(counted)
                })
            })
            .collect();
        std::thread::sleep(Duration::from_millis(500));
        let before = usage();
        let start = Instant::now();
        warm.store(true, Ordering::Relaxed);
        std::thread::sleep(Duration::from_secs_f64(secs));
        // Before the workers stop: a thread that has exited is no longer in
        // `/proc/self/task`.
        let after = usage();
        let elapsed = start.elapsed();
        stop.store(true, Ordering::Relaxed);
        let total: Result<u64, hcx::Error> = workers
            .into_iter()
            .map(|w| w.join().expect("a worker panicked"))
            .sum();
        (total, elapsed, before, after)
    });
    let n = total? as f64;
    let cpu = (after.user_us - before.user_us) + (after.sys_us - before.sys_us);
    if has("json") {
        // One line for `benches/peers/wrk_ab.sh`.
        println!(
            "{{\"rps\":{:.0},\"cpu_us_per_req\":{:.2}}}",
            n / elapsed.as_secs_f64(),
            cpu / n
        );
        return Ok(());
    }
    println!(
        "T={threads} {n:.0} requests in {:.2?}: {:.0} req/s, CPU {:.2} µs/request (user {:.2}, sys {:.2}; \
         threads' run time {:.2}), ctx switches/request: voluntary {:.3}, involuntary {:.3}",
        elapsed,
        n / elapsed.as_secs_f64(),
        cpu / n,
        (after.user_us - before.user_us) / n,
        (after.sys_us - before.sys_us) / n,
        (after.run_us - before.run_us) / n,
        (after.voluntary - before.voluntary) as f64 / n,
        (after.involuntary - before.involuntary) as f64 / n,
    );
    Ok(())
}
