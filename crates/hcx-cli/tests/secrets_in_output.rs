//! Passwords never in what `hcx` prints: a URL, proxy or environment proxy password
//! with a '/' in it (the authority ends there, and the rest once showed as a "port"),
//! a password given apart from -u, a second URL with credentials (clap quoted both).

mod common;

use common::{TestResult, hcx};

/// Stdout and stderr of `args`, with the exit code expected (`None`: any failure).
fn assert_hidden(args: &[&str], code: Option<i32>) -> TestResult {
    let run = hcx(args)?;
    match code {
        Some(code) => assert_eq!(run.code, Some(code), "{args:?}: {run:?}"),
        None => assert_ne!(run.code, Some(0), "{args:?}: {run:?}"),
    }
    assert!(
        !run.stderr.contains("hunter2") && !run.stdout.contains("hunter2"),
        "{args:?}: {run:?}"
    );
    Ok(())
}

#[test]
fn a_password_is_never_echoed_in_an_error() -> TestResult {
    let url = "http://127.0.0.1:1/";
    assert_hidden(
        &["get", url, "--proxy", "http://bob:hunter2/x@proxy:3128"],
        Some(2),
    )?;
    // A scheme-relative proxy URL: refused, its password not echoed.
    let code = Some(2);
    assert_hidden(&["get", url, "--proxy", "//bob:hunter2@proxy:3128"], code)?;
    assert_hidden(&["get", "http://bob:hunter2/x@127.0.0.1:1/"], None)?;
    // A scheme-relative URL (copied from an HTML attribute): refused, not echoed.
    assert_hidden(&["get", "//bob:hunter2@127.0.0.1:1/"], Some(1))?;
    assert_hidden(&["load", "//bob:hunter2@127.0.0.1:1/"], Some(1))?;
    assert_hidden(
        &["get", "//bob:hunter2@127.0.0.1:1/?next=http://x/"],
        Some(1),
    )?;
    // curl's slip: a space for the colon; the password is a stray argument.
    assert_hidden(&["get", url, "-u", "alice", "hunter2"], Some(2))?;
    assert_hidden(&["get", url, "-U", "alice", "hunter2"], Some(2))?;
    assert_hidden(&["get", url, "-U", "alice:hunter2"], None)?;
    assert_hidden(&["get", url, "http://bob:hunter2@127.0.0.1:1/"], Some(2))?;
    // curl's habit: the URL without `get`; a form field without its '='.
    assert_hidden(&["http://bob:hunter2@127.0.0.1:1/"], Some(2))?;
    assert_hidden(&["get", url, "-F", "password:hunter2"], Some(2))?;
    Ok(())
}

#[test]
fn an_environment_proxy_password_with_a_slash_is_not_echoed() -> TestResult {
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
