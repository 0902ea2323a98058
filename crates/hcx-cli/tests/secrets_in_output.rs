//! Passwords never in what `hcx` prints: a URL, proxy or environment proxy password
//! with a '/' in it, a password given apart from -u, a second URL with credentials.

mod common;

use common::{TestResult, hcx};

/// `--proxy` with a password holding an unencoded '/': clap's value is hidden, but
/// the validator's reason quotes the "port", the password's first segment.
#[test]
fn a_proxy_password_with_a_slash_is_not_echoed() -> TestResult {
    let run = hcx(&[
        "get",
        "http://127.0.0.1:1/",
        "--proxy",
        "http://bob:hunter2/x@proxy:3128",
    ])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        !run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"),
        "{run:?}"
    );
    Ok(())
}

/// A URL whose password holds an unencoded '/': the CLI replaces the URL in the
/// message, the reason still quotes the "port".
#[test]
fn a_url_password_with_a_slash_is_not_echoed() -> TestResult {
    let run = hcx(&["get", "http://bob:hunter2/x@127.0.0.1:1/"])?;
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(
        !run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"),
        "{run:?}"
    );
    Ok(())
}

/// `--proxy-from-env` with such an `http_proxy`.
#[test]
fn an_env_proxy_password_with_a_slash_is_not_echoed() -> TestResult {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hcx"))
        .args(["get", "http://127.0.0.1:1/", "--proxy-from-env"])
        .env("http_proxy", "http://bob:hunter2/x@proxy:3128")
        .stdin(std::process::Stdio::null())
        .output()?;
    let (out, err) = (
        String::from_utf8_lossy(&output.stdout),
        String::from_utf8_lossy(&output.stderr),
    );
    assert_ne!(output.status.code(), Some(0), "{out}{err}");
    assert!(
        !out.contains("hunter2") && !err.contains("hunter2"),
        "{out}{err}"
    );
    Ok(())
}

/// `-u USER PASSWORD` (curl's slip: a space for the colon): clap takes the password
/// for an extra positional argument and echoes it.
#[test]
fn a_password_given_apart_from_u_is_not_echoed() -> TestResult {
    let run = hcx(&["get", "http://127.0.0.1:1/", "-u", "alice", "hunter2"])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        !run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"),
        "{run:?}"
    );
    Ok(())
}

/// A second URL with userinfo is an unexpected argument, which clap quotes whole.
#[test]
fn an_extra_url_with_userinfo_is_not_echoed() -> TestResult {
    let run = hcx(&[
        "get",
        "http://127.0.0.1:1/",
        "http://bob:hunter2@127.0.0.1:1/",
    ])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(
        !run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"),
        "{run:?}"
    );
    Ok(())
}
