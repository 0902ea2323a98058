//! `hcx get` against the test server: the body, `-o`, what is sent, and `-v`.

mod common;

use common::{TIMEOUT, TestResult, hcx, temp_path};
use hcx_testserver::{Method, Reply, TestServer};

fn server() -> std::io::Result<TestServer> {
    TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("hello, world"))
        .route(Method::POST, "/echo", Reply::new(201u16).body("created"))
        .route(
            Method::GET,
            "/moved",
            Reply::new(302u16).header("location", "/").body("see /"),
        )
        .start()
}

#[test]
fn the_body_goes_to_stdout() -> TestResult {
    let server = server()?;
    let run = hcx(&["get", &server.url("/"), "--timeout", TIMEOUT])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, world");
    assert_eq!(run.stderr, "", "quiet without -v");
    Ok(())
}

#[test]
fn dash_o_writes_the_body_to_a_file() -> TestResult {
    let server = server()?;
    let path = temp_path("body.txt");
    let shown = path.to_string_lossy().into_owned();
    let run = hcx(&["get", &server.url("/"), "-o", &shown, "--timeout", TIMEOUT])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "");
    assert_eq!(std::fs::read_to_string(&path)?, "hello, world");
    std::fs::remove_file(&path)?;
    Ok(())
}

#[test]
fn dash_o_dash_is_stdout_as_curl_s() -> TestResult {
    let server = server()?;
    // Run where a file named "-" would land, so that one can be looked for.
    let dir = temp_path("dash-o-dash");
    std::fs::create_dir_all(&dir)?;
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hcx"))
        .args(["get", &server.url("/"), "-o", "-", "--timeout", TIMEOUT])
        .current_dir(&dir)
        .stdin(std::process::Stdio::null())
        .output()?;
    let run = common::Run::from(output);
    let stray = dir.join("-").exists();
    std::fs::remove_dir_all(&dir)?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, world", "{run:?}");
    assert!(!stray, "a file named '-' was written instead of stdout");
    Ok(())
}

#[test]
fn post_data_and_headers_are_sent() -> TestResult {
    let server = server()?;
    let run = hcx(&[
        "get",
        &server.url("/echo"),
        "-X",
        "POST",
        "-d",
        "name=hcx&kind=client",
        "-H",
        "X-Demo: yes",
        "-H",
        "Content-Type: application/x-www-form-urlencoded",
        "--user-agent",
        "hcx-test/1",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "created");
    let request = server.last_request().ok_or("nothing recorded")?;
    assert_eq!(request.method, Method::POST);
    assert_eq!(request.path(), "/echo");
    assert_eq!(request.body_text(), "name=hcx&kind=client");
    assert_eq!(request.header("x-demo"), Some("yes"));
    assert_eq!(
        request.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(request.header("user-agent"), Some("hcx-test/1"));
    Ok(())
}

#[test]
fn an_empty_user_agent_sends_none() -> TestResult {
    let server = server()?;
    let url = server.url("/echo");
    let run = hcx(&["get", &url, "--user-agent", "", "--timeout", TIMEOUT])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    let request = server.last_request().ok_or("nothing recorded")?;
    assert_eq!(request.header("user-agent"), None, "as curl's -A \"\"");
    Ok(())
}

#[test]
fn dash_h_name_colon_sends_no_such_field_as_curl_s() -> TestResult {
    // Found in review: `-H 'User-Agent:'` sent an empty User-Agent field (and
    // `-H 'X-Custom:'` an empty X-Custom), where curl sends none.
    let server = server()?;
    let run = hcx(&[
        "get",
        &server.url("/"),
        "-H",
        "User-Agent:",
        "-H",
        "Accept-Encoding:",
        "-H",
        "X-Gone: a",
        "-H",
        "X-Gone:",
        "-H",
        "X-Never:  ",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, world");
    let request = server.last_request().ok_or("nothing recorded")?;
    for name in ["user-agent", "accept-encoding", "x-gone", "x-never"] {
        assert_eq!(request.header(name), None, "{name} is sent");
    }
    assert!(request.header("host").is_some_and(|h| !h.is_empty()));
    Ok(())
}

#[test]
fn dash_h_authorization_colon_sends_no_credentials_given_with_dash_u() -> TestResult {
    // curl's `-H 'Authorization:'` removes the field `-u` would make: so does hcx's.
    let server = server()?;
    let url = server.url("/");
    let with_url_user = url.replacen("http://", "http://url:user@", 1);
    for (target, extra) in [
        (&url, &["-u", "user:secret"][..]),
        (&with_url_user, &[][..]),
    ] {
        let mut args = vec!["get", target.as_str(), "-H", "Authorization:"];
        args.extend_from_slice(extra);
        args.extend_from_slice(&["--timeout", TIMEOUT]);
        let run = hcx(&args)?;
        assert_eq!(run.code, Some(0), "{run:?}");
        let request = server.last_request().ok_or("nothing recorded")?;
        assert_eq!(request.header("authorization"), None, "{args:?}");
    }
    Ok(())
}

#[test]
fn dash_h_host_colon_is_refused_naming_the_rule() -> TestResult {
    let server = server()?;
    for field in ["Host:", "Content-Length:", "transfer-encoding: "] {
        let run = hcx(&["get", &server.url("/"), "-H", field, "--timeout", TIMEOUT])?;
        assert_eq!(run.code, Some(2), "{field}: {run:?}");
        let lines = run.stderr_lines();
        assert_eq!(lines.len(), 1, "{field}: {}", run.stderr);
        assert!(lines[0].contains("RFC 9112"), "{}", lines[0]);
    }
    let run = hcx(&["get", &server.url("/"), "-H", "Host:", "--timeout", TIMEOUT])?;
    assert!(run.stderr.contains("§3.2"), "{}", run.stderr);
    assert!(server.last_request().is_none(), "nothing is sent");
    Ok(())
}

#[test]
fn a_data_file_makes_a_post() -> TestResult {
    let server = server()?;
    let path = temp_path("upload.json");
    std::fs::write(&path, r#"{"a":1}"#)?;
    let shown = path.to_string_lossy().into_owned();
    let run = hcx(&[
        "get",
        &server.url("/echo"),
        "--data-file",
        &shown,
        "--timeout",
        TIMEOUT,
    ])?;
    std::fs::remove_file(&path)?;
    assert_eq!(run.code, Some(0), "{run:?}");
    let request = server.last_request().ok_or("nothing recorded")?;
    assert_eq!(
        request.method,
        Method::POST,
        "a body makes the default POST"
    );
    assert_eq!(request.body_text(), r#"{"a":1}"#);
    assert_eq!(request.header("content-length"), Some("7"));
    Ok(())
}

#[test]
fn form_fields_and_a_file_go_as_multipart_form_data() -> TestResult {
    let server = server()?;
    let path = temp_path("photo.bin");
    std::fs::write(&path, b"\x01\x02\x03")?;
    let file_field = format!(
        "photo=@{};type=image/x-test;filename=me.bin",
        path.display()
    );
    let run = hcx(&[
        "get",
        &server.url("/echo"),
        "-F",
        "title=Holiday 2026",
        "-F",
        &file_field,
        "--timeout",
        TIMEOUT,
    ])?;
    std::fs::remove_file(&path)?;
    assert_eq!(run.code, Some(0), "{run:?}");
    let request = server.last_request().ok_or("nothing recorded")?;
    assert_eq!(
        request.method,
        Method::POST,
        "a form makes the default POST"
    );
    let content_type = request.header("content-type").ok_or("no Content-Type")?;
    let boundary = content_type
        .strip_prefix("multipart/form-data; boundary=")
        .ok_or(format!("not a form: {content_type}"))?;
    let mut expected = format!(
        "--{boundary}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nHoliday 2026\r\n\
         --{boundary}\r\nContent-Disposition: form-data; name=\"photo\"; filename=\"me.bin\"\r\n\
         Content-Type: image/x-test\r\n\r\n"
    )
    .into_bytes();
    expected.extend_from_slice(b"\x01\x02\x03\r\n");
    expected.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    assert_eq!(request.body.as_ref(), expected.as_slice());
    Ok(())
}

#[test]
fn dash_v_prints_the_exchange_and_the_connection_lifecycle() -> TestResult {
    let server = server()?;
    let run = hcx(&["get", &server.url("/"), "-v", "--timeout", TIMEOUT])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, world", "the body still goes to stdout");
    let lines = run.stderr_lines();
    let has = |prefix: &str| lines.iter().any(|l| l.starts_with(prefix));
    for expected in [
        "* asking the pool for a connection to http://127.0.0.1:",
        "* leased a slot for new connection #1",
        "* connecting to http://127.0.0.1:",
        "* connected #1 to 127.0.0.1:",
        "> GET / HTTP/1.1",
        "> host: 127.0.0.1:",
        "> user-agent: hcx/",
        "< HTTP/1.1 200 OK",
        "< content-length: 12",
        "* #1 keep-alive decision: keep alive for 30s",
        "* #1 body done: 12 bytes",
        "* #1 released to the pool, idle: keep alive for 30s",
    ] {
        assert!(
            has(expected),
            "no line starting {expected:?} in:\n{}",
            run.stderr
        );
    }
    // In order: lease, connect, request, response, decision, release.
    let position = |prefix: &str| lines.iter().position(|l| l.starts_with(prefix));
    let order = [
        position("* leased"),
        position("* connected"),
        position("> GET"),
        position("< HTTP/1.1"),
        position("* #1 keep-alive decision"),
        position("* #1 released"),
    ];
    assert!(order.iter().all(Option::is_some), "{order:?}");
    assert!(
        order.windows(2).all(|w| w[0] < w[1]),
        "{order:?}\n{}",
        run.stderr
    );
    Ok(())
}

#[test]
fn redirects_are_followed_and_shown_unless_turned_off() -> TestResult {
    let server = server()?;
    let run = hcx(&["get", &server.url("/moved"), "-v", "--timeout", TIMEOUT])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, world");
    assert!(
        run.stderr
            .contains("* following a 302 Found redirect from "),
        "{}",
        run.stderr
    );

    let run = hcx(&[
        "get",
        &server.url("/moved"),
        "--no-redirects",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "see /");

    let run = hcx(&[
        "get",
        &server.url("/moved"),
        "--max-redirects",
        "0",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert_eq!(run.stderr_lines().len(), 1, "{}", run.stderr);
    assert!(run.stderr.contains("[redirect]"), "{}", run.stderr);
    Ok(())
}

#[test]
fn a_closing_answer_shows_why_the_connection_closed() -> TestResult {
    let server = TestServer::builder()
        .route(Method::GET, "/", Reply::ok().body("bye").connection_close())
        .start()?;
    let run = hcx(&["get", &server.url("/"), "-v", "--timeout", TIMEOUT])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    for expected in [
        "< connection: close",
        "* #1 keep-alive decision: close: response had Connection: close [response_connection_close]",
        "* #1 released: close: response had Connection: close",
        "* #1 closed: response had Connection: close [response_connection_close]",
    ] {
        assert!(
            run.stderr
                .lines()
                .any(|l| l == expected || l.starts_with(expected)),
            "no {expected:?} in:\n{}",
            run.stderr
        );
    }
    Ok(())
}

#[test]
fn dash_u_sends_basic_credentials_with_the_first_request_to_that_host_only() -> TestResult {
    let other = TestServer::builder()
        .route_fn(Method::GET, "/", |request| {
            let seen = request
                .header("authorization")
                .unwrap_or("none")
                .to_string();
            Reply::ok().body(format!("other saw {seen}"))
        })
        .start()?;
    let target = other.url("/");
    let server = TestServer::builder()
        .route_fn(Method::GET, "/", |request| {
            match request.header("authorization") {
                // alice:s3cret
                Some("Basic YWxpY2U6czNjcmV0") => Reply::ok().body("hello, alice"),
                _ => Reply::new(401u16).header("www-authenticate", r#"Basic realm="demo""#),
            }
        })
        .route(
            Method::GET,
            "/away",
            Reply::new(302u16).header("location", target.as_str()),
        )
        .start()?;
    let as_alice = |path: &str| {
        hcx(&[
            "get",
            &server.url(path),
            "-u",
            "alice:s3cret",
            "--timeout",
            TIMEOUT,
        ])
    };
    let run = as_alice("/")?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, alice");
    // Sent up front: no challenge round trip.
    assert_eq!(server.stats().requests_received, 1);

    // A redirect to another host (another port) does not take the credentials along.
    let run = as_alice("/away")?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "other saw none");

    let run = hcx(&["get", &server.url("/"), "-u", "alice"])?;
    assert_eq!(run.code, Some(2), "{run:?}");
    assert!(run.stderr.contains("USER:PASSWORD"), "{}", run.stderr);
    assert!(!run.stderr.contains("s3cret"));
    Ok(())
}

#[test]
fn credentials_in_the_url_are_sent_as_dash_u_would_and_never_shown() -> TestResult {
    let server = TestServer::builder()
        .route_fn(Method::GET, "/", |request| {
            match request.header("authorization") {
                // alice:s3cr@t
                Some("Basic YWxpY2U6czNjckB0") => Reply::ok().body("hello, alice"),
                _ => Reply::new(401u16).header("www-authenticate", r#"Basic realm="demo""#),
            }
        })
        .start()?;
    let url = server.url("/").replacen("://", "://alice:s3cr%40t@", 1);
    let run = hcx(&["get", &url, "-v", "--timeout", TIMEOUT])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, alice");
    assert_eq!(server.stats().requests_received, 1, "sent up front");
    for secret in ["s3cr", "YWxpY2U6czNjckB0"] {
        assert!(!run.stderr.contains(secret), "{}", run.stderr);
    }
    // -u wins over the URL's credentials.
    let run = hcx(&["get", &url, "-u", "alice:wrong", "--timeout", TIMEOUT])?;
    assert_ne!(run.stdout, "hello, alice", "{run:?}");
    Ok(())
}

#[test]
fn max_time_aborts_a_request_whose_server_does_not_answer() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::stall())
        .start()?;
    // No response timeout: only --max-time ends the wait.
    let run = hcx(&["get", &server.url("/"), "--max-time", "200ms"])?;
    assert_eq!(run.code, Some(28), "curl's 'operation timed out': {run:?}");
    assert!(
        run.stderr.contains("--max-time 200ms reached") && run.stderr.contains("[aborted]"),
        "{run:?}"
    );
    assert_eq!(run.stdout, "");
    // Sent once: an aborted request is not retried.
    assert_eq!(server.stats().requests_received, 1);
    Ok(())
}

#[test]
fn max_time_covers_the_body_and_a_fast_answer_is_untouched() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::GET,
            "/slow-body",
            Reply::ok().generated_body(10_000).stall_body_after(100),
        )
        .route(Method::GET, "/", Reply::ok().body("hello, world"))
        .start()?;
    let run = hcx(&["get", &server.url("/slow-body"), "-m", "0.2"])?;
    assert_eq!(run.code, Some(28), "{run:?}");
    assert!(run.stderr.contains("[aborted]"), "{run:?}");
    assert_eq!(run.stdout.len(), 100, "the bytes that came are written");
    assert!(
        run.stderr.contains("after 100 of 10000 bytes"),
        "says how far the body got, as curl does: {run:?}"
    );

    let run = hcx(&["get", &server.url("/"), "--max-time", "60s"])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, world");
    Ok(())
}

#[test]
fn digest_answers_the_challenge_without_sending_the_password() -> TestResult {
    let server = TestServer::builder()
        .default_fn(|request| match request.header("authorization") {
            Some(answer) if answer.starts_with(r#"Digest username="alice", realm="vault""#) => {
                Reply::ok().body("in")
            }
            _ => Reply::new(401u16).header(
                "www-authenticate",
                r#"Basic realm="vault", Digest realm="vault", qop="auth", nonce="n0nce""#,
            ),
        })
        .start()?;
    let run = hcx(&[
        "get",
        &server.url("/"),
        "-u",
        "alice:s3cret",
        "--digest",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "in");
    let seen = server.requests();
    assert_eq!(seen.len(), 2, "the challenge, then the answer");
    assert_eq!(seen[0].header("authorization"), None, "nothing up front");
    let answer = seen[1].header("authorization").unwrap_or_default();
    assert!(
        !answer.contains("s3cret") && !answer.contains("YWxpY2U6czNjcmV0"),
        "{answer}"
    );
    Ok(())
}

#[test]
fn proxy_user_answers_the_proxys_challenge() -> TestResult {
    let server = server()?;
    let proxy = hcx_testserver::TestProxy::builder()
        .require_basic_auth("alice", "s3cret")
        .start()?;
    let args = |extra: &[&'static str]| {
        let mut args = vec![
            "get".to_string(),
            server.url("/"),
            "--proxy".into(),
            proxy.url(),
            "--timeout".into(),
            TIMEOUT.into(),
        ];
        args.extend(extra.iter().map(|s| s.to_string()));
        args
    };
    let run_with = |extra: &[&'static str]| {
        let args = args(extra);
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        hcx(&args)
    };
    // Without credentials the 407 is the answer.
    let run = run_with(&[])?;
    assert_eq!(proxy.stats().auth_challenges, 1, "{run:?}");
    assert_ne!(run.stdout, "hello, world");
    // With -U it is answered, and the password is not shown with -v.
    let run = run_with(&["-U", "alice:s3cret", "-v"])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, world");
    assert_eq!(proxy.stats().auth_challenges, 2);
    assert!(!run.stderr.contains("s3cret"), "{}", run.stderr);
    Ok(())
}

// Review of a633e2e: -u and -U together never cross.
#[test]
fn origin_and_proxy_credentials_never_cross() -> TestResult {
    // origin:o-pass and proxy:p-pass, base64 by Python, not by the code under test.
    const ORIGIN: &str = "Basic b3JpZ2luOm8tcGFzcw==";
    const PROXY: &str = "Basic cHJveHk6cC1wYXNz";
    let server = TestServer::builder()
        .default_fn(|request: &hcx_testserver::RecordedRequest| {
            if request.header("authorization") == Some(ORIGIN) {
                Reply::ok().body("in")
            } else {
                Reply::new(401u16).header("www-authenticate", r#"Basic realm="o""#)
            }
        })
        .start()?;
    let proxy = hcx_testserver::TestProxy::builder()
        .require_basic_auth("proxy", "p-pass")
        .start()?;
    for digest in [false, true] {
        let (url, proxy_url) = (server.url("/"), proxy.url());
        let mut args = vec!["get", &url, "--proxy", &proxy_url, "--timeout", TIMEOUT];
        args.extend(["-u", "origin:o-pass", "-U", "proxy:p-pass", "-v"]);
        if digest {
            args.push("--digest");
        }
        let run = hcx(&args)?;
        assert_eq!((run.code, run.stdout.as_str()), (Some(0), "in"), "{run:?}");
        for secret in ["o-pass", "p-pass", "b3JpZ2luOm8tcGFzcw", "cHJveHk6cC1wYXNz"] {
            assert!(!run.stderr.contains(secret), "{}", run.stderr);
        }
    }
    for request in proxy.requests() {
        let auth = request
            .headers
            .get("authorization")
            .map(|v| v.as_bytes().to_vec());
        let proxy_auth = request
            .headers
            .get("proxy-authorization")
            .map(|v| v.as_bytes().to_vec());
        assert!(auth.is_none_or(|a| a == ORIGIN.as_bytes()), "{request:?}");
        assert!(
            proxy_auth.is_none_or(|a| a == PROXY.as_bytes()),
            "{request:?}"
        );
    }
    for request in server.requests() {
        assert!(
            request.header("authorization").is_none_or(|a| a == ORIGIN),
            "{request:?}"
        );
    }
    Ok(())
}

/// `hcx get URL --proxy-from-env -U alice:s3cret` with `http_proxy` and `no_proxy` set
/// as given and no other proxy variable.
fn get_through_env_proxy(
    url: &str,
    http_proxy: &str,
    no_proxy: &str,
) -> std::io::Result<common::Run> {
    let output = std::process::Command::new(env!("CARGO_BIN_EXE_hcx"))
        .args([
            "get",
            url,
            "--proxy-from-env",
            "-U",
            "alice:s3cret",
            "--timeout",
            TIMEOUT,
        ])
        .env("http_proxy", http_proxy)
        .env("no_proxy", no_proxy)
        .env_remove("HTTP_PROXY")
        .env_remove("NO_PROXY")
        .env_remove("all_proxy")
        .env_remove("ALL_PROXY")
        .stdin(std::process::Stdio::null())
        .output()?;
    Ok(common::Run::from(output))
}

#[test]
fn proxy_user_is_ignored_for_a_url_the_environment_sends_direct() -> TestResult {
    // curl: --proxy-user with no proxy in use is no error. Found in review: hcx
    // refused the run ("needs a proxy").
    let server = server()?;
    let dead_proxy = common::closed_port()?;
    let run = get_through_env_proxy(
        &server.url("/"),
        &format!("http://127.0.0.1:{dead_proxy}"),
        "127.0.0.1",
    )?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, world");
    let seen = server.requests();
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].header("proxy-authorization"), None);
    Ok(())
}

#[test]
fn proxy_user_without_any_proxy_flag_is_refused() -> TestResult {
    let server = server()?;
    let run = hcx(&["get", &server.url("/"), "-U", "alice:s3cret"])?;
    assert_eq!(run.code, Some(1), "{run:?}");
    assert!(run.stderr.contains("--proxy-user needs a proxy"), "{run:?}");
    assert_eq!(server.stats().connections_accepted, 0);
    Ok(())
}

#[test]
fn proxy_user_follows_a_redirect_onto_the_environment_s_proxy() -> TestResult {
    // The first URL goes direct (`no_proxy` names its port), the redirect's target
    // through http_proxy, which asks for credentials: -U answers it there. Found in
    // review: the credentials were kept for the first URL's proxy only (none).
    let behind = TestServer::builder()
        .default_reply(Reply::ok().body("behind"))
        .start()?;
    let first = TestServer::builder()
        .default_reply(
            Reply::new(302u16)
                .header("location", behind.url("/").as_str())
                .body("see there"),
        )
        .start()?;
    let proxy = hcx_testserver::TestProxy::builder()
        .require_basic_auth("alice", "s3cret")
        .start()?;
    let run = get_through_env_proxy(
        &first.url("/"),
        &proxy.url(),
        &format!("127.0.0.1:{}", first.port()),
    )?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "behind");
    assert_eq!(first.requests().len(), 1, "the first URL went direct");
    assert_eq!(
        proxy.stats().auth_challenges,
        1,
        "challenged once, then answered"
    );
    assert_eq!(behind.requests().len(), 1);
    Ok(())
}

/// `--local-address`: bound to 127.0.0.1 the request goes out; bound to ::1 the
/// IPv4 server cannot be reached, and the error says why (nothing is sent).
#[test]
fn local_address_binds_the_connection_and_picks_the_family() -> TestResult {
    let server = server()?;
    let url = server.url("/");
    let run = hcx(&[
        "get",
        &url,
        "--local-address",
        "127.0.0.1",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "hello, world");
    let run = hcx(&["get", &url, "--local-address", "::1", "--timeout", TIMEOUT])?;
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(run.stderr.contains("is IPv6"), "{}", run.stderr);
    // An address this host does not have (TEST-NET-1): the system's reason once.
    let run = hcx(&[
        "get",
        &url,
        "--local-address",
        "192.0.2.1",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_ne!(run.code, Some(0), "{run:?}");
    assert!(
        run.stderr.contains("the local address 192.0.2.1"),
        "{}",
        run.stderr
    );
    assert_eq!(run.stderr.matches("os error").count(), 1, "{}", run.stderr);
    assert_eq!(
        server.stats().connections_accepted,
        1,
        "only the first connected"
    );
    Ok(())
}
