//! No secret in what `hcx` prints: `-v`, error lines, the load summary and `--json`.

mod common;

use common::{Run, TIMEOUT, TestResult, closed_port, hcx};
use hcx_testserver::{Method, Reply, TestServer};

const SECRETS: &[&str] = &[
    "hunter2",
    "sess-SECRET",
    "setc-SECRET",
    "loc-SECRET",
    "tok-SECRET",
];

fn assert_clean(what: &str, run: &Run) {
    for s in SECRETS {
        assert!(
            !run.stderr.contains(s) && !run.stdout.contains(s),
            "{what} shows the secret {s:?}:\n{run:?}"
        );
    }
}

#[test]
fn verbose_hides_cookie_and_set_cookie_values() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/",
            Reply::ok()
                .header("set-cookie", "sid=setc-SECRET; HttpOnly")
                .body("hi"),
        )
        .start()?;
    let run = hcx(&[
        "get",
        &server.url("/"),
        "-v",
        "--timeout",
        TIMEOUT,
        "-H",
        "Cookie: sid=sess-SECRET",
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_clean("hcx get -v", &run);
    Ok(())
}

#[test]
fn verbose_hides_userinfo_of_a_redirect_location() -> TestResult {
    let end = TestServer::builder()
        .route(Method::GET, "/end", Reply::ok().body("end"))
        .start()?;
    let loc = end.url("/end").replacen("://", "://bob:loc-SECRET@", 1);
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::new(302u16).header("location", loc))
        .start()?;
    let run = hcx(&["get", &server.url("/"), "-v", "--timeout", TIMEOUT])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_clean("hcx get -v redirect line", &run);
    Ok(())
}

#[test]
fn a_rejected_proxy_url_is_not_echoed() -> TestResult {
    let run = hcx(&[
        "get",
        "http://127.0.0.1:1/",
        "--proxy",
        "https://bob:hunter2@proxy:443",
    ])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_clean("the --proxy usage error", &run);
    Ok(())
}

#[test]
fn a_rejected_user_flag_is_not_echoed() -> TestResult {
    let run = hcx(&["get", "http://127.0.0.1:1/", "-u", ":hunter2"])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_clean("the -u usage error", &run);
    Ok(())
}

#[test]
fn a_rejected_authorization_header_is_not_echoed() -> TestResult {
    let run = hcx(&[
        "get",
        "http://127.0.0.1:1/",
        "-H",
        "Authorization: Bearer tok-SECRET\u{1}",
    ])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert_clean("the -H usage error", &run);
    Ok(())
}

/// A server whose every answer redirects to a Location with userinfo, on a port
/// nobody listens on: with `--max-redirects 0` every request fails with an error
/// that names the Location.
fn load_run(json: bool) -> std::io::Result<Run> {
    let loc = format!("http://bob:loc-SECRET@127.0.0.1:{}/", closed_port()?);
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::new(302u16).header("location", loc))
        .start()?;
    let url = server.url("/");
    let mut args = vec![
        "load",
        &url,
        "--max-redirects",
        "0",
        "-n",
        "2",
        "-c",
        "1",
        "--timeout",
        TIMEOUT,
    ];
    if json {
        args.push("--json");
    }
    hcx(&args)
}

#[test]
fn load_text_summary_hides_location_userinfo() -> TestResult {
    let run = load_run(false)?;
    assert!(run.stdout.contains("error redirect"), "{run:?}");
    assert_clean("load summary and its error line", &run);
    Ok(())
}

#[test]
fn load_json_summary_hides_location_userinfo() -> TestResult {
    let run = load_run(true)?;
    assert!(run.stdout.contains("error_examples"), "{run:?}");
    assert_clean("load --json and its error line", &run);
    Ok(())
}
