//! `hcx demo` runs to its end and explains what it shows.

mod common;

use common::{TestResult, hcx};

#[test]
fn the_demo_exits_0_and_explains_each_step() -> TestResult {
    let run = hcx(&["demo"])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stderr, "", "{run:?}");
    let out = &run.stdout;
    for expected in [
        // 1. reuse
        "100 requests, 1 connection accepted by the server",
        "on connection #1 reused",
        // 2. decisions with reasons
        "GET /close    -> bye",
        "close: response had Connection: close",
        "close: keep-alive strategy allowed no idle time",
        "keep alive for 30s",
        // 3. Keep-Alive: timeout
        "keep alive for 1s (the server's 2s less a safety margin",
        "0.5s later: on connection #1 reused after 500ms idle",
        "1 closed as expired",
        // 4. the server's idle close, caught by the stale probe
        "the server's record: idle timeout",
        "the stale probe found 1 closed connection and discarded it",
        "no error, 0 retries",
        // 5. 16 threads on 4 connections
        "16 threads share one client whose route allows 4 connections",
        "1600 answered, 0 failed",
        "never more than the route's 4",
        "no thread starves",
        // 6. the retry
        "| > GET /flaky HTTP/1.1",
        "[closed_before_response]",
        "| * retrying GET http://127.0.0.1:",
        "-> 200 OK \"answered\"",
        // 7. the middlebox and the learned idle limit
        "70s idle, GET: the middlebox reset it; RETRY sent it again on new connection",
        "the route's learned idle limit: limit 45s (survived 45s, died at 70s)",
        "70s idle, POST order 2: 1 pooled connection closed before use",
        "-> ClosedBeforeResponse: written onto the forgotten connection",
        "2 POSTs reached it (order 1, order 2), 2 requests reset by the middlebox",
        // the summary
        "summary: the whole demo",
        "3 requests got none (2 sent again by RETRY, 1 failed)",
    ] {
        assert!(out.contains(expected), "no {expected:?} in:\n{out}");
    }
    for (label, value) in [
        ("requests", "1600"),
        ("connections", "4"),
        ("stale closed", "1"),
        ("retries", "2"),
        ("idle-limit closed", "1"),
    ] {
        assert!(
            has_figure(out, label, value),
            "no {label} {value} in:\n{out}"
        );
    }
    Ok(())
}

/// Whether a line of figures reads `label  value  …`, whatever the alignment.
fn has_figure(out: &str, label: &str, value: &str) -> bool {
    out.lines().any(|line| {
        line.trim_start()
            .strip_prefix(label)
            .is_some_and(|rest| rest.split_whitespace().next() == Some(value))
    })
}
