//! `Keep-Alive: timeout=N` parsing as a table, and the default strategy's default and
//! cap.

use hcx_h1::ResponseHead;
use hcx_reuse::{
    DefaultKeepAliveStrategy, Exchange, KeepAlive, KeepAliveStrategy, keep_alive_timeout,
};
use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
use std::time::Duration;

const fn secs(n: u64) -> KeepAlive {
    KeepAlive::For(Duration::from_secs(n))
}

/// The default strategy: 30 s without a usable timeout, no cap.
const DEFAULT: KeepAlive = secs(30);

fn keep_alive_headers(lines: &[&[u8]]) -> Result<HeaderMap, String> {
    let mut map = HeaderMap::new();
    for line in lines {
        let value = HeaderValue::from_bytes(line).map_err(|e| format!("{line:?}: {e}"))?;
        map.append("keep-alive", value);
    }
    Ok(map)
}

fn run(strategy: &DefaultKeepAliveStrategy, lines: &[&[u8]]) -> Result<KeepAlive, String> {
    let request = HeaderMap::new();
    let response = keep_alive_headers(lines)?;
    let head = ResponseHead::new(Version::HTTP_11, StatusCode::OK, response);
    let exchange = Exchange::framed(&Method::GET, &request, &head).map_err(|e| e.to_string())?;
    Ok(strategy.keep_alive(&exchange))
}

#[test]
fn default_strategy_follows_the_table() -> Result<(), String> {
    let cases: &[(&str, &[&[u8]], KeepAlive)] = &[
        ("no_header_gives_the_default", &[], DEFAULT),
        ("timeout_before_max", &[b"timeout=5, max=100"], secs(5)),
        ("timeout_after_max", &[b"max=100, timeout=5"], secs(5)),
        ("name_case_and_spaces_tolerated", &[b"TIMEOUT = 5"], secs(5)),
        ("mixed_case_name", &[b"Timeout=10"], secs(10)),
        ("quoted_value", &[b"timeout=\"5\""], secs(5)),
        ("spaces_around_value", &[b"timeout=\t5 "], secs(5)),
        (
            "semicolon_separated_parameters",
            &[b"timeout=5; max=100"],
            secs(5),
        ),
        ("timeout_without_value_is_skipped", &[b"timeout"], DEFAULT),
        (
            "timeout_with_empty_value_is_skipped",
            &[b"timeout="],
            DEFAULT,
        ),
        ("non_numeric_timeout_is_skipped", &[b"timeout=abc"], DEFAULT),
        ("negative_timeout_is_skipped", &[b"timeout=-1"], DEFAULT),
        ("signed_timeout_is_skipped", &[b"timeout=+5"], DEFAULT),
        ("fractional_timeout_is_skipped", &[b"timeout=1.5"], DEFAULT),
        ("timeout_with_unit_is_skipped", &[b"timeout=5s"], DEFAULT),
        ("non_ascii_timeout_is_skipped", &[b"timeout=\xff5"], DEFAULT),
        (
            "zero_timeout_means_do_not_keep",
            &[b"timeout=0"],
            KeepAlive::DoNotKeep,
        ),
        (
            "zero_with_leading_zeros_means_do_not_keep",
            &[b"timeout=000"],
            KeepAlive::DoNotKeep,
        ),
        (
            "malformed_timeout_then_valid_one",
            &[b"timeout=abc, timeout=7"],
            secs(7),
        ),
        (
            "first_valid_timeout_wins",
            &[b"timeout=3, timeout=9"],
            secs(3),
        ),
        (
            "timeout_on_second_header",
            &[b"max=5", b"timeout=7"],
            secs(7),
        ),
        (
            "first_header_wins_over_second",
            &[b"timeout=3", b"timeout=9"],
            secs(3),
        ),
        (
            "malformed_first_header_falls_through",
            &[b"timeout=x", b"timeout=8"],
            secs(8),
        ),
        (
            "similar_name_is_not_timeout",
            &[b"xtimeout=4, timeouts=5, timeout=6"],
            secs(6),
        ),
        ("only_max_gives_the_default", &[b"max=100"], DEFAULT),
        ("empty_header_gives_the_default", &[b""], DEFAULT),
        ("only_separators_give_the_default", &[b" , ; ,"], DEFAULT),
        (
            "huge_timeout_saturates_instead_of_overflowing",
            &[b"timeout=99999999999999999999999999999999"],
            secs(u64::MAX),
        ),
        (
            "u64_max_timeout_is_taken_as_is",
            &[b"timeout=18446744073709551615"],
            secs(u64::MAX),
        ),
    ];
    // The parsing table reads the server's figure as is; the margin has its own test.
    let strategy = DefaultKeepAliveStrategy::new().with_margin(Duration::ZERO);
    let mut failures = Vec::new();
    for (name, lines, expect) in cases {
        let got = run(&strategy, lines)?;
        if got != *expect {
            failures.push(format!("{name}: expected {expect:?}, got {got:?}"));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    Ok(())
}

#[test]
fn cap_bounds_what_the_server_asks_for() -> Result<(), String> {
    let capped = DefaultKeepAliveStrategy::new().with_max(Duration::from_secs(120));
    assert_eq!(run(&capped, &[b"timeout=600"])?, secs(120));
    assert_eq!(
        run(&capped, &[b"timeout=99999999999999999999999"])?,
        secs(120)
    );
    assert_eq!(
        run(&capped, &[b"timeout=60"])?,
        secs(59),
        "less the 1 s margin"
    );
    Ok(())
}

#[test]
fn cap_does_not_turn_timeout_zero_into_a_keep() -> Result<(), String> {
    let capped = DefaultKeepAliveStrategy::new().with_max(Duration::from_secs(120));
    assert_eq!(run(&capped, &[b"timeout=0"])?, KeepAlive::DoNotKeep);
    Ok(())
}

#[test]
fn configured_default_applies_without_a_usable_timeout() -> Result<(), String> {
    let strategy = DefaultKeepAliveStrategy::new().with_default(Duration::from_secs(5));
    assert_eq!(run(&strategy, &[])?, secs(5));
    assert_eq!(run(&strategy, &[b"timeout=abc"])?, secs(5));
    assert_eq!(run(&strategy, &[b"timeout=9"])?, secs(8));
    Ok(())
}

#[test]
fn the_server_timeout_loses_the_safety_margin_and_timeout_1_keeps_half() -> Result<(), String> {
    // The server's idle clock starts when it has sent the response; the client's when
    // it has read it and given the connection back. 1 s off (at most half) keeps a
    // request from racing the server's close.
    let strategy = DefaultKeepAliveStrategy::new();
    assert_eq!(run(&strategy, &[b"timeout=5"])?, secs(4));
    assert_eq!(run(&strategy, &[b"timeout=2"])?, secs(1));
    assert_eq!(
        run(&strategy, &[b"timeout=1"])?,
        KeepAlive::For(Duration::from_millis(500))
    );
    assert_eq!(run(&strategy, &[b"timeout=0"])?, KeepAlive::DoNotKeep);
    let wide = strategy.with_margin(Duration::from_secs(3));
    assert_eq!(run(&wide, &[b"timeout=10"])?, secs(7));
    assert_eq!(run(&wide, &[b"timeout=4"])?, secs(2));
    Ok(())
}

#[test]
fn unlimited_default_is_apache_45_forever() -> Result<(), String> {
    let strategy = DefaultKeepAliveStrategy::new().with_default_unlimited();
    assert_eq!(run(&strategy, &[])?, KeepAlive::Unlimited);
    assert_eq!(run(&strategy, &[b"timeout=9"])?, secs(8));
    let capped = strategy.with_max(Duration::from_secs(60));
    assert_eq!(run(&capped, &[])?, secs(60));
    Ok(())
}

#[test]
fn zero_default_does_not_keep_connections_without_timeout() -> Result<(), String> {
    let strategy = DefaultKeepAliveStrategy::new().with_default(Duration::ZERO);
    assert_eq!(run(&strategy, &[])?, KeepAlive::DoNotKeep);
    assert_eq!(run(&strategy, &[b"timeout=4"])?, secs(3));
    Ok(())
}

#[test]
fn timeout_helper_reports_zero_and_absence_distinctly() -> Result<(), String> {
    assert_eq!(
        keep_alive_timeout(&keep_alive_headers(&[b"timeout=0"])?),
        Some(Duration::ZERO)
    );
    assert_eq!(keep_alive_timeout(&keep_alive_headers(&[b"max=3"])?), None);
    assert_eq!(keep_alive_timeout(&HeaderMap::new()), None);
    Ok(())
}
