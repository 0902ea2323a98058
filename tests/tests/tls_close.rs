//! How TLS connections end: a body cut short by a close without `close_notify` is an
//! incomplete body like any other, and a body delimited by the close needs the
//! `close_notify`; a pooled connection the server closes is "no response"; hcx sends
//! its own `close_notify`; a bad record behind a whole response loses nothing; names
//! (a trailing dot, upper case) verify and share routes as they should.

mod common;

use std::io::{self, Read, Write};
use std::net::{IpAddr, Ipv4Addr, Shutdown, TcpListener};
use std::sync::Arc;

use common::{SAFETY, TestResult, accept_tls, info, read_tls_request, trusting};
use hcx::{Body, Client, Context, ErrorKind, StaticResolver};
use hcx_testserver::TestCa;
use http::Request;

/// How a scripted TLS server ends its answer.
#[derive(Clone, Copy, Debug)]
enum End {
    /// Keeps the connection open for the next request.
    Open,
    /// Sends `close_notify`, then closes TCP.
    CloseNotify,
    /// Closes TCP (FIN) without `close_notify`: an unclean close / truncation.
    Fin,
    /// Keeps the connection open, with these raw bytes (not a valid record) behind
    /// the response's records.
    RawAfter(&'static [u8]),
}

type Script = Arc<dyn Fn(usize, usize) -> (Vec<u8>, End) + Send + Sync>;

/// A rustls server on `bind` (session tickets off) answering request `r` of
/// connection `c` with `script(c, r)`, then ending as told.
fn scripted(ca: &TestCa, names: &[&str], bind: &str, script: Script) -> io::Result<u16> {
    let mut config = (*ca.server_config(names)).clone();
    config.send_tls13_tickets = 0;
    let config = Arc::new(config);
    let listener = TcpListener::bind(bind)?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(move || {
        for (index, sock) in listener.incoming().enumerate() {
            let Ok(mut sock) = sock else { return };
            let config = Arc::clone(&config);
            let script = Arc::clone(&script);
            std::thread::spawn(
                move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
                    let mut conn = accept_tls(&mut sock, config)?;
                    let mut request = 0;
                    loop {
                        if !read_tls_request(&mut conn, &mut sock)? {
                            return Ok(());
                        }
                        let (bytes, how) = script(index, request);
                        request += 1;
                        conn.writer().write_all(&bytes)?;
                        if let End::CloseNotify = how {
                            conn.send_close_notify();
                        }
                        let mut records = Vec::new();
                        while conn.wants_write() {
                            conn.write_tls(&mut records)?;
                        }
                        if let End::RawAfter(raw) = how {
                            records.extend_from_slice(raw);
                        }
                        sock.write_all(&records)?;
                        match how {
                            End::Open | End::RawAfter(_) => {}
                            End::CloseNotify | End::Fin => {
                                // FIN, then wait for the client's close (no RST).
                                sock.shutdown(Shutdown::Write)?;
                                let mut rest = [0u8; 256];
                                while sock.read(&mut rest).unwrap_or(0) > 0 {}
                                return Ok(());
                            }
                        }
                    }
                },
            );
        }
    });
    Ok(port)
}

fn client(ca: &TestCa) -> Result<Client, Box<dyn std::error::Error>> {
    let resolver = StaticResolver::new()
        .with("secure.test", IpAddr::V4(Ipv4Addr::LOCALHOST))
        .with("secure.test.", IpAddr::V4(Ipv4Addr::LOCALHOST));
    Ok(Client::builder()
        .tls_config(trusting(ca)?)
        .resolver(resolver)
        .response_timeout(Some(SAFETY))
        .build()?)
}

fn once(bytes: &'static [u8], end: End) -> Script {
    Arc::new(move |_, _| (bytes.to_vec(), end))
}

/// The error reading a body to its end, if any.
fn body_error(
    client: &Client,
    url: &str,
) -> Result<Option<hcx::Error>, Box<dyn std::error::Error>> {
    let response = client.get(url)?;
    let mut body = response.into_body();
    let mut all = Vec::new();
    Ok(body.read_to_end(&mut all).err().map(hcx::Error::from_io))
}

// ---- Truncation ----------------------------------------------------------------

/// A body with a length, or chunked, cut short by a TCP FIN without close_notify is an
/// incomplete body, as it is over plain HTTP (and as a close_notify there is).
#[test]
fn a_body_cut_by_a_fin_without_close_notify_is_an_incomplete_body() -> TestResult {
    let ca = TestCa::new()?;
    let cut: [&'static [u8]; 2] = [
        b"HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789",
        b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\na\r\n0123456789\r\n",
    ];
    for bytes in cut {
        for end in [End::CloseNotify, End::Fin] {
            let port = scripted(&ca, &["127.0.0.1"], "127.0.0.1:0", once(bytes, end))?;
            let error = body_error(&client(&ca)?, &format!("https://127.0.0.1:{port}/"))?;
            assert_eq!(
                error.as_ref().map(hcx::Error::kind),
                Some(ErrorKind::IncompleteBody),
                "{end:?}, {}: {error:?}",
                bytes.escape_ascii()
            );
        }
    }
    Ok(())
}

/// A close-delimited body ended by close_notify is whole; ended by a bare FIN it may
/// have been truncated by an attacker: an error, never a short body taken as whole.
#[test]
fn a_close_delimited_body_needs_close_notify() -> TestResult {
    let ca = TestCa::new()?;
    let bytes: &[u8] = b"HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789";
    let port = scripted(
        &ca,
        &["127.0.0.1"],
        "127.0.0.1:0",
        once(bytes, End::CloseNotify),
    )?;
    let url = format!("https://127.0.0.1:{port}/");
    assert_eq!(
        client(&ca)?.get(url.as_str())?.into_body().into_string()?,
        "0123456789"
    );
    let port = scripted(&ca, &["127.0.0.1"], "127.0.0.1:0", once(bytes, End::Fin))?;
    let error = body_error(&client(&ca)?, &format!("https://127.0.0.1:{port}/"))?;
    assert_eq!(
        error.as_ref().map(hcx::Error::kind),
        Some(ErrorKind::IncompleteBody),
        "a body that may be cut short was taken as whole: {error:?}"
    );
    Ok(())
}

/// A pooled TLS connection the server closes (FIN, no close_notify, as many servers
/// do) when the next request arrives: the same "no response" as over plain HTTP
/// (`ClosedBeforeResponse`, Apache's NoHttpResponseException), not a bare I/O error.
#[test]
fn a_reused_tls_connection_closed_without_close_notify_is_closed_before_response() -> TestResult {
    let ca = TestCa::new()?;
    let script: Script = Arc::new(|conn, request| match (conn, request) {
        (0, 0) => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            End::Open,
        ),
        (0, _) => (Vec::new(), End::Fin),
        _ => (
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec(),
            End::Open,
        ),
    });
    let port = scripted(&ca, &["127.0.0.1"], "127.0.0.1:0", script)?;
    let client = client(&ca)?;
    let url = format!("https://127.0.0.1:{port}/");
    assert_eq!(client.get(url.as_str())?.into_body().into_string()?, "ok");
    // A POST is not replayed once sent: its error is what the caller sees.
    let mut context = Context::new();
    let post = Request::post(url.as_str()).body(Body::from("x"))?;
    let error = client.execute_in(post, &mut context).err();
    assert_eq!(
        error.as_ref().map(hcx::Error::kind),
        Some(ErrorKind::ClosedBeforeResponse),
        "{error:?}"
    );
    Ok(())
}

// ---- Names -----------------------------------------------------------------------

/// A TLS server with a certificate for `secure.test` (the tests' client resolves that
/// name to loopback), answering every request `secret`.
fn secure_test(ca: &TestCa) -> std::io::Result<hcx_testserver::TestServer> {
    hcx_testserver::TestServer::builder()
        .tls(ca.server_config(&["secure.test"]))
        .default_reply(hcx_testserver::Reply::ok().body("secret"))
        .start()
}

/// A trailing-dot (absolute) host name is verified against the certificate's name
/// and sent in SNI without its dot (RFC 6066 §3).
#[test]
fn a_trailing_dot_host_is_verified_and_named() -> TestResult {
    let ca = TestCa::new()?;
    let server = secure_test(&ca)?;
    let client = client(&ca)?;
    let url = format!("https://secure.test.:{}/", server.port());
    assert_eq!(client.get(url)?.into_body().into_string()?, "secret");
    let sni = server
        .connections()
        .first()
        .and_then(|c| c.tls.clone())
        .and_then(|t| t.server_name);
    assert_eq!(sni.as_deref(), Some("secure.test"));
    Ok(())
}

/// Upper case in the URL's host changes nothing.
#[test]
fn an_uppercase_host_is_verified_and_shares_the_route() -> TestResult {
    let ca = TestCa::new()?;
    let server = secure_test(&ca)?;
    let client = client(&ca)?;
    let a = client.get(format!("https://SECURE.Test:{}/", server.port()))?;
    assert_eq!(a.into_body().into_string()?, "secret");
    let b = client.get(format!("https://secure.test:{}/", server.port()))?;
    assert!(info(&b).reused);
    Ok(())
}

// ---- Closing -----------------------------------------------------------------------

/// How the client ended its side of one TLS connection, seen by a rustls server that
/// answers one request and then reads on: `Ok(())` for a `close_notify` (RFC 8446
/// §6.1: "Each party MUST send a close_notify alert before closing its write side"),
/// the read's error otherwise.
fn close_watching_server(
    ca: &TestCa,
) -> io::Result<(u16, std::sync::mpsc::Receiver<Result<(), String>>)> {
    let config = ca.server_config(&["127.0.0.1"]);
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let Ok((mut sock, _)) = listener.accept() else {
            return;
        };
        let outcome = (|| -> Result<(), String> {
            sock.set_read_timeout(Some(SAFETY))
                .map_err(|e| e.to_string())?;
            let mut conn = hcx::rustls::ServerConnection::new(config).map_err(|e| e.to_string())?;
            let mut stream = hcx::rustls::Stream::new(&mut conn, &mut sock);
            let mut head = Vec::new();
            let mut byte = [0u8; 1];
            while !head.ends_with(b"\r\n\r\n") {
                stream.read_exact(&mut byte).map_err(|e| e.to_string())?;
                head.push(byte[0]);
            }
            stream
                .write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok")
                .map_err(|e| e.to_string())?;
            stream.flush().map_err(|e| e.to_string())?;
            // Now wait for the client to close the idle connection.
            match stream.read(&mut byte) {
                Ok(0) => Ok(()),
                Ok(_) => Err("more bytes".into()),
                Err(e) => Err(e.to_string()),
            }
        })();
        let _ = tx.send(outcome);
    });
    Ok((port, rx))
}

/// A pooled TLS connection closed by the client (the pool shut down) ends with the
/// client's `close_notify`, as JSSE's `SSLSocket.close()` under Apache's graceful
/// close does: the server sees a clean close, not a possible truncation.
#[test]
fn closing_an_idle_tls_connection_sends_close_notify() -> TestResult {
    let ca = TestCa::new()?;
    let (port, outcome) = close_watching_server(&ca)?;
    let client = client(&ca)?;
    let url = format!("https://127.0.0.1:{port}/");
    assert_eq!(client.get(url.as_str())?.into_body().into_string()?, "ok");
    client.connection_manager().shutdown();
    let seen = outcome.recv_timeout(SAFETY)?;
    assert_eq!(seen, Ok(()), "the server saw no close_notify");
    Ok(())
}

/// A record rustls rejects (here a plaintext fatal alert where only protected records
/// may come) right behind a whole, authenticated response in the same segment: the
/// response is delivered (JSSE reads record by record and would), and the connection
/// is never pooled.
#[test]
fn a_bad_record_behind_a_whole_response_loses_neither_the_response_nor_the_pool() -> TestResult {
    let ca = TestCa::new()?;
    let script: Script = Arc::new(|conn, _| {
        let ok = b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok".to_vec();
        if conn == 0 {
            (ok, End::RawAfter(b"\x15\x03\x03\x00\x02\x02\x28"))
        } else {
            (ok, End::Open)
        }
    });
    let port = scripted(&ca, &["127.0.0.1"], "127.0.0.1:0", script)?;
    let client = client(&ca)?;
    let url = format!("https://127.0.0.1:{port}/");
    assert_eq!(client.get(url.as_str())?.into_body().into_string()?, "ok");
    let mut context = Context::new();
    let post = Request::post(url.as_str()).body(Body::from("x"))?;
    let response = client.execute_in(post, &mut context)?;
    assert!(!info(&response).reused);
    assert_eq!(response.into_body().into_string()?, "ok");
    Ok(())
}

/// A rustls server that answers the first request with `response` and then the raw
/// bytes `after` (not a valid record) in the same segment, and then keeps the TCP
/// connection open, reading and ignoring whatever comes, until the client closes it.
fn bad_record_server(
    ca: &hcx_testserver::TestCa,
    response: &'static [u8],
    after: &'static [u8],
) -> std::io::Result<u16> {
    use std::io::{Read, Write};
    let mut config = (*ca.server_config(&["127.0.0.1"])).clone();
    config.send_tls13_tickets = 0;
    let config = std::sync::Arc::new(config);
    let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    std::thread::spawn(
        move || -> Result<(), Box<dyn std::error::Error + Send + Sync>> {
            let (mut sock, _) = listener.accept()?;
            sock.set_read_timeout(Some(common::PATIENT))?;
            let mut conn = hcx::rustls::ServerConnection::new(config)?;
            while conn.is_handshaking() {
                conn.complete_io(&mut sock)?;
            }
            let mut head = Vec::new();
            let mut chunk = [0u8; 4096];
            while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                match conn.reader().read(&mut chunk) {
                    Ok(0) => return Ok(()),
                    Ok(n) => head.extend_from_slice(&chunk[..n]),
                    Err(e) if e.kind() == std::io::ErrorKind::WouldBlock => {
                        conn.complete_io(&mut sock)?;
                    }
                    Err(e) => return Err(e.into()),
                }
            }
            conn.writer().write_all(response)?;
            let mut records = Vec::new();
            while conn.wants_write() {
                conn.write_tls(&mut records)?;
            }
            records.extend_from_slice(after);
            sock.write_all(&records)?;
            // Open until the client closes (its alert is read and ignored).
            while sock.read(&mut chunk).unwrap_or(0) > 0 {}
            Ok(())
        },
    );
    Ok(port)
}

/// rustls rejected a record (a fatal alert where only protected records may come)
/// right behind part of a body: the plaintext before it is delivered, and "the error
/// comes at the next read" (tls.rs). It does not: the next read blocks on the socket
/// until the peer closes or the response timeout ends (by default 3 minutes).
#[test]
fn a_rejected_record_behind_part_of_a_body_fails_the_next_read_at_once() -> TestResult {
    let ca = hcx_testserver::TestCa::new()?;
    let port = bad_record_server(
        &ca,
        b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nok",
        b"\x15\x03\x03\x00\x02\x02\x28",
    )?;
    let client = Client::builder()
        .tls_config(common::trusting(&ca)?)
        .response_timeout(Some(common::PATIENT))
        .build()?;
    let url = format!("https://127.0.0.1:{port}/");
    let outcome = common::in_background(move || {
        let response = client.get(url.as_str())?;
        let mut all = Vec::new();
        let read = std::io::Read::read_to_end(&mut response.into_body(), &mut all);
        Ok::<_, hcx::Error>((all, read.err().map(hcx::Error::from_io)))
    });
    let (body, error) = outcome()??;
    assert_eq!(body, b"ok", "the plaintext before the bad record");
    let error = error.ok_or("a body of 2 of 10 bytes ended without an error")?;
    assert!(
        !error.is_timeout(),
        "the TLS error, not a timeout: {error:#}"
    );
    Ok(())
}
