//! `--cacert` against the test server in TLS mode, and `-v`'s handshake lines.

mod common;

use common::{TIMEOUT, TestResult, hcx, temp_path};
use hcx_testserver::{Method, Reply, TestCa, TestServer};

#[test]
fn cacert_trusts_a_private_ca_and_dash_v_shows_the_handshake() -> TestResult {
    let ca = TestCa::new()?;
    let server = TestServer::builder()
        .tls(ca.server_config(&["127.0.0.1"]))
        .route(Method::GET, "/", Reply::ok().body("over TLS"))
        .start()?;
    let url = server.url("/");
    let pem = temp_path("ca.pem");
    std::fs::write(&pem, ca.root_pem())?;
    let pem_path = pem.to_string_lossy().into_owned();

    let run = hcx(&[
        "get",
        &url,
        "--cacert",
        &pem_path,
        "-v",
        "--timeout",
        TIMEOUT,
    ])?;
    assert_eq!(run.code, Some(0), "{run:?}");
    assert_eq!(run.stdout, "over TLS");
    let has = |text: &str| run.stderr.lines().any(|l| l.contains(text));
    assert!(has("(tls: cacert)"), "{}", run.stderr);
    assert!(has("TLS handshake "), "{}", run.stderr);
    assert!(has("* TLS TLSv1_3, "), "{}", run.stderr);
    assert!(has("resumed: no, ALPN: http/1.1"), "{}", run.stderr);

    // The bundled roots do not know the test CA: a TLS error, never a way around it.
    let run = hcx(&["get", &url, "--timeout", TIMEOUT])?;
    std::fs::remove_file(&pem)?;
    assert_eq!(run.code, Some(1), "{run:?}");
    let lines = run.stderr_lines();
    assert_eq!(lines.len(), 1, "{}", run.stderr);
    assert!(lines[0].ends_with("[tls]"), "{}", lines[0]);
    Ok(())
}
