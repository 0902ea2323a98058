//! `hcx load` against the test server: the JSON summary's figures, and the text one.

mod common;

use std::sync::{Arc, Condvar, Mutex, PoisonError};
use std::time::Duration;

use common::{TIMEOUT, TestResult, closed_port, finish_within, hcx, hcx_spawn, hcx_within};
use hcx_testserver::{Method, Reply, TestServer};
use serde_json::Value;

/// A server whose first `n` requests are answered only once all `n` have arrived (or
/// after a bound, so a broken client fails rather than hangs): they must be on `n`
/// connections at once, however the threads are scheduled.
fn gathering_server(n: usize) -> std::io::Result<TestServer> {
    let arrived = Arc::new((Mutex::new(0usize), Condvar::new()));
    TestServer::builder()
        .keep_requests(0)
        .route_fn(Method::GET, "/", move |_request| {
            let (count, all_here) = &*arrived;
            let mut count = count.lock().unwrap_or_else(PoisonError::into_inner);
            *count += 1;
            if *count <= n {
                all_here.notify_all();
                let _ = all_here
                    .wait_timeout_while(count, Duration::from_secs(10), |c| *c < n)
                    .unwrap_or_else(PoisonError::into_inner);
            }
            Reply::ok().body("ok")
        })
        .start()
}

/// A server answering `GET /` with `x`, keeping no record of the requests.
fn answering_x() -> std::io::Result<TestServer> {
    TestServer::builder()
        .keep_requests(0)
        .route(Method::GET, "/", Reply::ok().body("x"))
        .start()
}

fn json(text: &str) -> Result<Value, serde_json::Error> {
    serde_json::from_str(text)
}

fn u64_at(value: &Value, pointer: &str) -> Result<u64, String> {
    value
        .pointer(pointer)
        .and_then(Value::as_u64)
        .ok_or_else(|| format!("no number at {pointer} in {value}"))
}

#[test]
fn the_json_summary_counts_requests_connections_and_latency() -> TestResult {
    let server = gathering_server(4)?;
    let run = hcx(&[
        "load",
        &server.url("/"),
        "-n",
        "200",
        "-c",
        "4",
        "--max-per-route",
        "4",
        "--json",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    let summary = json(&run.stdout)?;
    assert_eq!(u64_at(&summary, "/requests")?, 200);
    assert_eq!(u64_at(&summary, "/responses")?, 200);
    assert_eq!(u64_at(&summary, "/errors")?, 0);
    // Not stopped by Ctrl-C.
    assert_eq!(summary["interrupted"], Value::Bool(false));
    assert_eq!(u64_at(&summary, "/status_codes/200")?, 200);
    assert_eq!(summary["errors_by_kind"], serde_json::json!({}));
    // Four threads, a route limit of four, a server that keeps connections: four
    // connections, then every lease reuses one.
    assert_eq!(u64_at(&summary, "/connections_opened")?, 4);
    assert_eq!(server.stats().connections_accepted, 4);
    assert_eq!(u64_at(&summary, "/leases")?, 200);
    assert_eq!(u64_at(&summary, "/reused_exchanges")?, 196);
    assert_eq!(u64_at(&summary, "/retries")?, 0);
    assert_eq!(u64_at(&summary, "/stale_closed")?, 0);
    assert_eq!(u64_at(&summary, "/idle_limit_closed")?, 0);
    assert_eq!(summary["closes"], serde_json::json!({}));
    assert_eq!(u64_at(&summary, "/pool/available")?, 4);
    assert_eq!(u64_at(&summary, "/routes/0/max")?, 4);
    assert_eq!(
        summary["routes"][0]["route"].as_str(),
        Some(format!("http://{}", server.authority()).as_str())
    );
    assert_eq!(u64_at(&summary, "/bytes_received")?, 400);
    let p50 = u64_at(&summary, "/latency_us/p50")?;
    let p90 = u64_at(&summary, "/latency_us/p90")?;
    let p99 = u64_at(&summary, "/latency_us/p99")?;
    let p999 = u64_at(&summary, "/latency_us/p99_9")?;
    let max = u64_at(&summary, "/latency_us/max")?;
    let min = u64_at(&summary, "/latency_us/min")?;
    assert!(
        min <= p50 && p50 <= p90 && p90 <= p99 && p99 <= p999 && p999 <= max,
        "{}",
        summary["latency_us"]
    );
    assert!(summary["requests_per_s"].as_f64().is_some_and(|r| r > 0.0));
    // The first four requests were in flight together, one on each thread.
    assert!(u64_at(&summary, "/per_thread/min")? >= 1);
    assert!(u64_at(&summary, "/per_thread/max")? <= 197);
    assert!(summary["pool_waits"]["buckets"].is_array());
    Ok(())
}

/// `--backoff`: a `503` halves the route's limit, which the summary shows; without
/// the flag it stays.
#[test]
fn backoff_halves_the_limit_of_a_route_answering_503() -> TestResult {
    let server = TestServer::builder()
        .keep_requests(0)
        .route(Method::GET, "/", Reply::new(503u16))
        .start()?;
    let mut limits = Vec::new();
    for backoff in [&["--backoff"][..], &[]] {
        let url = server.url("/");
        let mut args = vec!["load", &url, "-n", "1", "--retries", "0"];
        args.extend(["--max-per-route", "4", "--json", "--timeout", TIMEOUT]);
        args.extend(backoff);
        let run = hcx(&args)?;
        let summary = json(&run.stdout)?;
        assert_eq!(u64_at(&summary, "/status_codes/503")?, 1, "{run:?}");
        limits.push(u64_at(&summary, "/routes/0/max")?);
    }
    assert_eq!(limits, [2, 4]);
    Ok(())
}

#[test]
fn more_threads_than_connections_wait_for_the_pool() -> TestResult {
    let server = gathering_server(2)?;
    let run = hcx(&[
        "load",
        &server.url("/"),
        "-n",
        "100",
        "-c",
        "6",
        "--max-per-route",
        "2",
        "--json",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    let summary = json(&run.stdout)?;
    assert_eq!(u64_at(&summary, "/requests")?, 100);
    assert_eq!(u64_at(&summary, "/errors")?, 0);
    // Six threads never get more than the route's two connections: the others queue
    // (how many times depends on the scheduler; the figures must agree).
    assert_eq!(u64_at(&summary, "/connections_opened")?, 2);
    assert_eq!(u64_at(&summary, "/routes/0/max")?, 2);
    let waits = &summary["pool_waits"];
    let in_buckets: u64 = waits["buckets"]
        .as_array()
        .ok_or("no buckets")?
        .iter()
        .filter_map(|b| b["count"].as_u64())
        .sum();
    assert_eq!(
        in_buckets,
        u64_at(&summary, "/pool_waits/count")?,
        "{waits}"
    );
    assert_eq!(waits["buckets"][0]["below_us"].as_u64(), Some(100));
    assert!(waits["buckets"][6]["below_us"].is_null(), "{waits}");
    Ok(())
}

#[test]
fn closes_are_counted_by_reason() -> TestResult {
    let server = TestServer::builder()
        .keep_requests(0)
        .route(Method::GET, "/", Reply::ok().body("x").connection_close())
        .start()?;
    let run = hcx(&[
        "load",
        &server.url("/"),
        "-n",
        "10",
        "--json",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    let summary = json(&run.stdout)?;
    assert_eq!(u64_at(&summary, "/connections_opened")?, 10);
    assert_eq!(u64_at(&summary, "/reused_exchanges")?, 0);
    assert_eq!(u64_at(&summary, "/closes/response_connection_close")?, 10);
    Ok(())
}

#[test]
fn the_text_summary_explains_each_figure() -> TestResult {
    let server = answering_x()?;
    let run = hcx(&[
        "load",
        &server.url("/"),
        "-n",
        "20",
        "-c",
        "2",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(
        run.stderr, "",
        "no progress bar when stderr is not a terminal"
    );
    for expected in [
        "hcx load: GET http://",
        "requests ",
        "latency p50",
        "latency p99.9",
        "status 200",
        "connections",
        "reused",
        "pool waits",
        "pool at end",
    ] {
        assert!(
            run.stdout.contains(expected),
            "no {expected:?} in:\n{}",
            run.stdout
        );
    }
    // Said only of a run Ctrl-C stopped.
    assert!(!run.stdout.contains("interrupted"), "{}", run.stdout);
    Ok(())
}

#[test]
fn a_run_by_duration_and_rate_stops_by_itself() -> TestResult {
    let server = answering_x()?;
    // 20 requests/s for 300ms: request k is due at k/20 s, so requests 0..=5 are due
    // within the duration (one a thread reaches only after the duration has ended,
    // on a machine too busy to wake it in time, is not sent).
    let (summary, _, _) = paced_run(
        &server.url("/"),
        &["--duration", "300ms", "--rate", "20", "-c", "2"],
    )?;
    let requests = u64_at(&summary, "/requests")?;
    assert!((1..=6).contains(&requests), "{requests} requests");
    assert!(summary["requests_planned"].is_null());
    assert_eq!(summary["duration_planned_s"].as_f64(), Some(0.3));
    Ok(())
}

/// `hcx load URL OPTIONS --json` against a server that never answers, within
/// `limit_s` seconds: it must end by itself with exit 1 and no response; its summary.
fn load_against_a_stall(
    options: &[&str],
    limit_s: u64,
) -> Result<Value, Box<dyn std::error::Error>> {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::stall())
        .start()?;
    let url = server.url("/");
    let mut args = vec!["load", url.as_str()];
    args.extend_from_slice(options);
    args.push("--json");
    let run = hcx_within(&args, Duration::from_secs(limit_s))?;
    assert_eq!(run.code, Some(1), "ended by itself with exit 1: {run:?}");
    let summary = json(&run.stdout)?;
    assert_eq!(u64_at(&summary, "/responses")?, 0);
    Ok(summary)
}

/// A run by duration against a server that never answers ends by itself, without
/// --timeout: each request may take as long as the duration, then counts as a
/// response timeout (as wrk and ab end theirs).
#[test]
fn a_run_by_duration_ends_against_a_server_that_stalls() -> TestResult {
    let summary = load_against_a_stall(&["--duration", "200ms", "-c", "2"], 10)?;
    assert_eq!(
        u64_at(&summary, "/errors_by_kind/response_timeout")?,
        u64_at(&summary, "/requests")?
    );
    Ok(())
}

/// A run by duration with more threads than connections, against a server that never
/// answers: the threads queued for the pool wait at most the duration too, or each
/// would get its turn only when the one before it timed out, one after the other.
/// Here the one connection's request waits 3s for its response; the others give up
/// queueing at the end of the 500ms run, not 3s, 6s and 9s later.
#[test]
fn a_run_by_duration_does_not_queue_for_the_pool_past_its_end() -> TestResult {
    let options = [
        "--duration",
        "500ms",
        "--timeout",
        "3s",
        "-c",
        "4",
        "--max-per-route",
        "1",
    ];
    let summary = load_against_a_stall(&options, 60)?;
    assert_eq!(
        u64_at(&summary, "/errors_by_kind/response_timeout")?,
        1,
        "only the request on the connection waited for a response: {summary}"
    );
    let queued = summary
        .pointer("/errors_by_kind/lease_timeout")
        .and_then(Value::as_u64)
        .unwrap_or(0);
    assert_eq!(
        queued,
        u64_at(&summary, "/requests")? - 1,
        "the others ended in the pool's queue: {summary}"
    );
    Ok(())
}

#[test]
fn an_unreachable_target_is_a_summary_of_errors_and_exit_1() -> TestResult {
    let url = format!("http://127.0.0.1:{}/", closed_port()?);
    let run = hcx(&["load", &url, "-n", "3", "--json", "--timeout", TIMEOUT])?;
    assert_eq!(run.code, Some(1), "{run:?}");
    let summary = json(&run.stdout)?;
    assert_eq!(u64_at(&summary, "/errors_by_kind/connect")?, 3);
    assert_eq!(u64_at(&summary, "/responses")?, 0);
    assert!(summary["latency_us"]["p50"].is_null());
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(
        lines[0].starts_with("hcx: error: no request was answered"),
        "{}",
        lines[0]
    );
    Ok(())
}

/// `--duration` stops starting requests. With `--rate` and a server slower than the
/// rate, the requests that fell due during the duration must not all be sent after it,
/// one after the other: here request 0 alone outlasts the 2s duration (the server
/// holds it 4s), so no other request may start.
#[test]
fn a_slow_server_does_not_stretch_a_rate_limited_run_past_its_duration() -> TestResult {
    let server = TestServer::builder()
        .keep_requests(0)
        .route(
            Method::GET,
            "/",
            Reply::ok().body("x").delay(Duration::from_secs(4)),
        )
        .start()?;
    let args = [
        "load",
        &server.url("/"),
        "--duration",
        "2s",
        "--rate",
        "10",
        "-c",
        "1",
        "--json",
        "--timeout",
        TIMEOUT,
    ];
    let run = hcx_within(&args, Duration::from_secs(30))?;
    assert_eq!(run.code, Some(0), "{run:?}");
    let summary = json(&run.stdout)?;
    assert_eq!(
        server.stats().requests_received,
        1,
        "requests started after the duration had ended: {}",
        summary["elapsed_s"]
    );
    assert_eq!(u64_at(&summary, "/requests")?, 1);
    Ok(())
}

/// "Exit 1 when no request at all was answered": a duration too short for any
/// request to start answers none.
#[test]
fn a_run_that_sent_nothing_exits_1() -> TestResult {
    let server = answering_x()?;
    let args = [
        "load",
        &server.url("/"),
        "--duration",
        "1ns",
        "--json",
        "--timeout",
        TIMEOUT,
    ];
    let run = hcx_within(&args, Duration::from_secs(30))?;
    let summary = json(&run.stdout)?;
    assert_eq!(u64_at(&summary, "/responses")?, 0, "{run:?}");
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr.starts_with("hcx: error: no request was"),
        "{}",
        run.stderr
    );
    Ok(())
}

/// A run by `--duration` and `--rate` lasts the duration, as wrk2's: its requests/s is
/// over the time asked for, never above the rate. At 5/s for 400ms, requests 0 and 1
/// (due at 0 and 200ms) are sent; the run used to end once nothing more was due, at
/// about 200ms, and print 10 requests/s.
#[test]
fn a_rate_limited_run_by_duration_reports_its_rate_over_the_duration() -> TestResult {
    let server = answering_x()?;
    let (summary, elapsed, rate) = paced_run(
        &server.url("/"),
        &["--duration", "400ms", "--rate", "5", "-c", "2"],
    )?;
    assert_eq!(u64_at(&summary, "/requests")?, 2, "{summary}");
    assert!(
        elapsed >= 0.4,
        "the run ended before its duration: {elapsed}s"
    );
    assert!(rate <= 5.0, "{rate} requests/s at --rate 5");
    Ok(())
}

/// `hcx load URL ARGS… --json`, which must end by itself (within 30 s) with exit 0:
/// its summary, the seconds it lasted and its requests/s.
fn paced_run(url: &str, args: &[&str]) -> Result<(Value, f64, f64), Box<dyn std::error::Error>> {
    let mut argv = vec!["load", url, "--json", "--timeout", TIMEOUT];
    argv.extend_from_slice(args);
    let run = hcx_within(&argv, Duration::from_secs(30))?;
    assert_eq!(run.code, Some(0), "{args:?}: {run:?}");
    let summary = json(&run.stdout)?;
    let elapsed = summary["elapsed_s"].as_f64().ok_or("no elapsed_s")?;
    let rate = summary["requests_per_s"]
        .as_f64()
        .ok_or("no requests_per_s")?;
    Ok((summary, elapsed, rate))
}

/// `hcx load URL --duration 1h OPTIONS --json` against a server that answers every
/// request `reply`, interrupted with SIGINT (Ctrl-C) once its first request has
/// arrived; how the run ended.
fn interrupted_run(
    reply: Reply,
    options: &[&str],
) -> Result<common::Run, Box<dyn std::error::Error>> {
    let (first, arrived) = std::sync::mpsc::sync_channel::<()>(1);
    let first = Mutex::new(first);
    let server = TestServer::builder()
        .keep_requests(0)
        .route_fn(Method::GET, "/", move |_request| {
            let _ = first
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .try_send(());
            reply.clone()
        })
        .start()?;
    let url = server.url("/");
    let mut args = vec!["load", url.as_str(), "--duration", "1h", "--json"];
    args.extend_from_slice(options);
    let child = hcx_spawn(&args)?;
    // A request has arrived: the run is under way, its handler installed before it.
    let under_way = arrived.recv_timeout(Duration::from_secs(10));
    let signalled = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()?;
    let run = finish_within(child, Duration::from_secs(10))?;
    under_way.map_err(|e| format!("no request arrived ({e}): {run:?}"))?;
    assert!(signalled.success());
    Ok(run)
}

/// Ctrl-C (SIGINT) during a run meant to last an hour: the threads stop (one waiting
/// for its turn under `--rate` at once), and the summary of what was done is printed,
/// marked interrupted, with the exit code of a run that ended.
#[test]
fn ctrl_c_stops_the_run_and_prints_its_summary() -> TestResult {
    let options = ["--rate", "20", "-c", "2", "--timeout", TIMEOUT];
    let run = interrupted_run(Reply::ok().body("x"), &options)?;
    assert_eq!(run.code, Some(0), "{run:?}");
    let summary = json(&run.stdout)?;
    assert_eq!(summary["interrupted"], Value::Bool(true), "{summary}");
    let responses = u64_at(&summary, "/responses")?;
    assert!(responses >= 1, "{summary}");
    assert_eq!(u64_at(&summary, "/errors")?, 0, "{summary}");
    Ok(())
}

/// Ctrl-C before any answer (the one request stalls until its 1s timeout): the
/// run ends with exit 1, and the error says the run was interrupted, not only that
/// nothing was answered.
#[test]
fn ctrl_c_before_any_answer_says_the_run_was_interrupted() -> TestResult {
    let run = interrupted_run(Reply::stall(), &["-c", "1", "--timeout", "1s"])?;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(
        run.stderr
            .contains("no request was answered before the run was interrupted"),
        "{run:?}"
    );
    let summary = json(&run.stdout)?;
    assert_eq!(summary["interrupted"], Value::Bool(true), "{summary}");
    assert_eq!(u64_at(&summary, "/responses")?, 0, "{summary}");
    Ok(())
}

/// A run by `-n` and `--rate` lasts its requests' slots, `n / rate`, so its
/// requests/s is never above the rate: at 10/s, 3 requests are due at 0, 100 and 200ms
/// and the run lasts 300ms. It used to end with the last one, at about 200ms, and
/// print 15 requests/s.
#[test]
fn a_rate_limited_run_by_count_reports_its_rate_over_its_slots() -> TestResult {
    let server = answering_x()?;
    let (summary, elapsed, rate) =
        paced_run(&server.url("/"), &["-n", "3", "--rate", "10", "-c", "2"])?;
    assert_eq!(u64_at(&summary, "/responses")?, 3, "{summary}");
    assert!(elapsed >= 0.3, "the run ended before its slots: {elapsed}s");
    assert!(rate <= 10.0, "{rate} requests/s at --rate 10");
    Ok(())
}

/// A rate so low that the next request's time is past what the clock can hold still
/// leaves the run to its duration, as any rate does: at 1e-300/s for 400ms, request 0
/// is sent and the run lasts 400ms, with `-n` or without. It used to end with that
/// request, its requests/s over its latency alone.
#[test]
fn a_run_by_duration_at_a_rate_past_the_clock_lasts_the_duration() -> TestResult {
    let server = answering_x()?;
    let url = server.url("/");
    for count in [None, Some("1"), Some("2")] {
        let mut args = vec!["--duration", "400ms", "--rate", "1e-300"];
        args.extend(count.iter().flat_map(|n| ["-n", n]));
        let (summary, elapsed, _) = paced_run(&url, &args)?;
        assert_eq!(u64_at(&summary, "/requests")?, 1, "{count:?}: {summary}");
        assert!(
            elapsed >= 0.4,
            "{count:?}: the run ended before its duration: {elapsed}s"
        );
    }
    Ok(())
}
