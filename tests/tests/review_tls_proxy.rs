//! HTTPS, proxies and connecting, at the edges a review found: what an error says
//! when a proxy's answer to `CONNECT` is not HTTP, or a server's to a TLS handshake
//! not TLS.

mod common;

use std::error::Error as _;
use std::io::{Read, Write};
use std::net::TcpListener;

use common::{SAFETY, TestResult, read_head};
use hcx::{Client, ErrorKind, Proxy};

/// A one-shot proxy that answers the first request with `answer`, then waits for the
/// client to close.
fn one_answer_proxy(
    answer: &'static [u8],
) -> std::io::Result<(u16, std::thread::JoinHandle<Vec<u8>>)> {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let handle = std::thread::spawn(move || {
        let Ok((mut client, _)) = listener.accept() else {
            return Vec::new();
        };
        let _ = client.set_read_timeout(Some(SAFETY));
        let head = read_head(&mut client);
        let _ = client.write_all(answer);
        let mut rest = [0u8; 64];
        while matches!(client.read(&mut rest), Ok(n) if n > 0) {}
        head
    });
    Ok((port, handle))
}

/// A proxy that answers `CONNECT` with something that is not HTTP (a TLS alert from
/// an HTTPS proxy given as `http://`, a SOCKS or SSH port) fails the request with an
/// error that says it was the proxy's answer to the tunnel, not the origin's
/// response; the connection is not pooled.
#[test]
fn a_connect_answered_with_no_http_names_the_proxy_and_the_tunnel() -> TestResult {
    for answer in [
        // A TLS record: a `handshake_failure` alert.
        &b"\x15\x03\x01\x00\x02\x02\x28"[..],
        b"SSH-2.0-OpenSSH_9.6\r\n",
        b"HTTP/1.1 2000 OK\r\n\r\n",
    ] {
        let (port, proxy) = one_answer_proxy(answer)?;
        let client = Client::builder()
            .proxy(Proxy::new("127.0.0.1", port))
            .response_timeout(Some(SAFETY))
            .connect_timeout(SAFETY)
            .build()?;
        let error = client
            .get("https://origin.test:8443/")
            .err()
            .ok_or("a tunnel opened on an answer that is not HTTP")?;
        let message = error.to_string();
        assert_eq!(error.kind(), ErrorKind::Protocol, "{answer:?}: {error:#}");
        assert!(
            message.contains(&format!("127.0.0.1:{port}")) && message.contains("origin.test:8443"),
            "{answer:?}: the message names neither the proxy nor the tunnel: {message}"
        );
        assert!(
            error.protocol_error().is_some(),
            "{answer:?}: the codec's verdict is kept: {error:#}"
        );
        assert_eq!(client.stats().pool.available, 0);
        assert_eq!(client.stats().pool.leased, 0);
        drop(client);
        proxy.join().map_err(|_| "panic")?;
    }
    Ok(())
}

/// `https://` to a port that speaks plain HTTP (the usual slip: the scheme or the port
/// of the other listener) fails the handshake with a `Tls` error that says the server
/// did not answer in TLS, not only that "the TLS handshake failed".
#[test]
fn an_http_answer_to_a_tls_handshake_says_the_server_speaks_no_tls() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let port = listener.local_addr()?.port();
    let server = std::thread::spawn(move || {
        if let Ok((mut stream, _)) = listener.accept() {
            let _ = stream.set_read_timeout(Some(SAFETY));
            let mut hello = [0u8; 1024];
            let _ = stream.read(&mut hello);
            let _ = stream.write_all(
                b"HTTP/1.1 400 Bad Request\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
            while matches!(stream.read(&mut hello), Ok(n) if n > 0) {}
        }
    });
    let client = Client::builder()
        .connect_timeout(SAFETY)
        .response_timeout(Some(SAFETY))
        .build()?;
    let error = client
        .get(format!("https://127.0.0.1:{port}/"))
        .err()
        .ok_or("a handshake answered in plain HTTP succeeded")?;
    assert_eq!(error.kind(), ErrorKind::Tls, "{error:#}");
    let message = error.to_string();
    assert!(
        message.contains(&format!("127.0.0.1:{port}"))
            && message.contains("did not answer the TLS handshake in TLS"),
        "the message does not say the server answered in something else: {message}"
    );
    assert!(error.source().is_some(), "the rustls error stays the cause");
    assert_eq!(client.stats().pool.leased, 0);
    drop(client);
    server.join().map_err(|_| "panic")?;
    Ok(())
}
