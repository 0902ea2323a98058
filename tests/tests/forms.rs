//! Form bodies and query parameters (`hcx::RequestBuilderExt`: Apache's
//! `UrlEncodedFormEntity` and `URIBuilder.addParameter`) as the server receives them,
//! and a form body replayed to a redirect that keeps the method; `multipart/form-data`
//! with a file, read again for the redirect, and a file that changed size refused.

mod common;

use common::{SAFETY, TestResult};
use hcx::multipart::{Form, Part};
use hcx::{Client, ErrorKind, RequestBuilderExt};
use hcx_testserver::{Method, Reply, TestServer};
use http::Request;

#[test]
fn a_form_and_its_query_arrive_encoded_with_their_content_type() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("done"))
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = Request::post(server.url("/submit"))
        .query([("lang", "de"), ("q", "a b&c")])
        .form([("name", "Jürgen Groß"), ("sum", "1+1=2")])?;
    let answer = client.execute(request)?.into_body().into_string()?;
    assert_eq!(answer, "done");
    let seen = server.last_request().ok_or("the server saw nothing")?;
    assert_eq!(seen.target, "/submit?lang=de&q=a%20b%26c");
    assert_eq!(
        seen.header("content-type"),
        Some("application/x-www-form-urlencoded")
    );
    assert_eq!(seen.body_text(), "name=J%C3%BCrgen+Gro%C3%9F&sum=1%2B1%3D2");
    assert_eq!(seen.header("content-length"), Some("40"));
    Ok(())
}

#[test]
fn a_form_body_is_sent_again_after_a_307() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::POST,
            "/old",
            Reply::new(307u16).header("location", "/new"),
        )
        .route(Method::POST, "/new", Reply::ok().body("moved"))
        .start()?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = Request::post(server.url("/old")).form([("k", "v w")])?;
    assert_eq!(client.execute(request)?.into_body().into_string()?, "moved");
    let bodies: Vec<String> = server
        .requests()
        .iter()
        .map(|r| format!("{} {}", r.target, r.body_text()))
        .collect();
    assert_eq!(bodies, ["/old k=v+w", "/new k=v+w"]);
    Ok(())
}

/// A file of its own for one test, removed at the end.
struct TempFile(std::path::PathBuf);

impl TempFile {
    fn new(name: &str, contents: &[u8]) -> std::io::Result<TempFile> {
        let dir = std::env::temp_dir().join(format!("hcx-forms-{}-{name}", std::process::id()));
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(name);
        std::fs::write(&path, contents)?;
        Ok(TempFile(path))
    }
}

impl Drop for TempFile {
    fn drop(&mut self) {
        if let Some(dir) = self.0.parent() {
            let _ = std::fs::remove_dir_all(dir);
        }
    }
}

#[test]
fn a_multipart_form_with_a_file_arrives_whole_and_again_after_a_307() -> TestResult {
    let server = TestServer::builder()
        .route(
            Method::POST,
            "/old",
            Reply::new(307u16).header("location", "/new"),
        )
        .route(Method::POST, "/new", Reply::ok().body("stored"))
        .start()?;
    // Over 4 KiB, so read from the file each time the body is sent.
    let notes = "line one\nline two\n".repeat(300);
    let file = TempFile::new("notes.txt", notes.as_bytes())?;
    let form = Form::new()
        .text("title", "Notes")
        .file("upload", &file.0)?
        .part(
            "raw",
            Part::bytes(&b"\x00\xff"[..]).mime_str("application/x-raw"),
        );
    let boundary = form.boundary().to_owned();
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = Request::post(server.url("/old")).multipart(form)?;
    assert_eq!(
        client.execute(request)?.into_body().into_string()?,
        "stored"
    );
    let expected = format!(
        "--{b}\r\nContent-Disposition: form-data; name=\"title\"\r\n\r\nNotes\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"upload\"; filename=\"notes.txt\"\r\n\
         Content-Type: application/octet-stream\r\n\r\n{notes}\r\n\
         --{b}\r\nContent-Disposition: form-data; name=\"raw\"\r\n\
         Content-Type: application/x-raw\r\n\r\n",
        b = boundary
    );
    let mut expected = expected.into_bytes();
    expected.extend_from_slice(b"\x00\xff\r\n");
    expected.extend_from_slice(format!("--{boundary}--\r\n").as_bytes());
    let requests = server.requests();
    assert_eq!(requests.len(), 2, "the 307 and the replay");
    for seen in &requests {
        assert_eq!(seen.body.as_ref(), expected.as_slice(), "{}", seen.target);
        assert_eq!(
            seen.header("content-type").map(str::to_owned),
            Some(format!("multipart/form-data; boundary={boundary}"))
        );
        assert_eq!(
            seen.header("content-length"),
            Some(expected.len().to_string().as_str())
        );
    }
    Ok(())
}

#[test]
fn a_file_that_changed_size_since_it_was_added_fails_the_request() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("stored"))
        .start()?;
    // Over 4 KiB: read when sent, not when added.
    let file = TempFile::new("grows.txt", &[b'x'; 5000])?;
    let form = Form::new().file("upload", &file.0)?;
    std::fs::write(&file.0, [b'x'; 6000])?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = Request::post(server.url("/")).multipart(form)?;
    let error = client
        .execute(request)
        .err()
        .ok_or("a body of another length went out")?;
    assert_eq!(error.kind(), ErrorKind::RequestBody, "{error:#}");
    assert!(format!("{error:#}").contains("changed size"), "{error:#}");
    assert_eq!(
        server.stats().requests_received,
        0,
        "no whole request arrived"
    );
    Ok(())
}

/// A file gone by the time the body is sent: a `RequestBody` error that names it, as
/// the error for a file that changed size does.
#[test]
fn a_file_removed_since_it_was_added_fails_the_request_naming_it() -> TestResult {
    let server = TestServer::builder()
        .default_reply(Reply::ok().body("stored"))
        .start()?;
    let file = TempFile::new("gone.bin", &[b'x'; 5000])?;
    let form = Form::new().file("upload", &file.0)?;
    std::fs::remove_file(&file.0)?;
    let client = Client::builder().response_timeout(Some(SAFETY)).build()?;
    let request = Request::post(server.url("/")).multipart(form)?;
    let error = client
        .execute(request)
        .err()
        .ok_or("a body without its file went out")?;
    assert_eq!(error.kind(), ErrorKind::RequestBody, "{error:#}");
    assert!(format!("{error:#}").contains("gone.bin"), "{error:#}");
    assert_eq!(server.stats().requests_received, 0);
    Ok(())
}
