//! A raw HTTP/1.1 client on `std::net::TcpStream` for driving the test server: write
//! request bytes, read response bytes. Read timeouts are safety nets only.

#![allow(dead_code)] // each test file uses a different part

pub mod tls;

use hcx_testserver::TestServer;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// The longest any read or wait may take before a test fails instead of hanging.
pub const SAFETY: Duration = Duration::from_secs(10);

/// A parsed response.
#[derive(Debug)]
pub struct Response {
    pub version: u8,
    pub status: u16,
    pub reason: String,
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl Response {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(n, _)| n.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }

    pub fn body_text(&self) -> String {
        String::from_utf8(self.body.clone()).expect("utf-8 body")
    }
}

/// A client over any byte stream: a `TcpStream` by default, a rustls stream for TLS.
pub struct RawClient<S = TcpStream> {
    stream: S,
    buf: Vec<u8>,
}

impl RawClient {
    pub fn connect(server: &TestServer) -> RawClient {
        Self::connect_to(server.addr())
    }

    pub fn connect_to(addr: std::net::SocketAddr) -> RawClient {
        let stream = TcpStream::connect(addr).expect("connect");
        stream.set_read_timeout(Some(SAFETY)).expect("read timeout");
        RawClient::over(stream)
    }
}

impl<S: Read + Write> RawClient<S> {
    pub fn over(stream: S) -> RawClient<S> {
        RawClient {
            stream,
            buf: Vec::new(),
        }
    }

    pub fn stream(&mut self) -> &mut S {
        &mut self.stream
    }

    /// The stream, once everything read has been consumed (to start TLS over it).
    pub fn into_stream(self) -> S {
        assert!(self.buf.is_empty(), "unread bytes: {:?}", self.text());
        self.stream
    }

    /// Bytes read but not yet consumed.
    pub fn buffered(&self) -> &[u8] {
        &self.buf
    }

    pub fn send(&mut self, bytes: impl AsRef<[u8]>) {
        self.stream.write_all(bytes.as_ref()).expect("write");
        self.stream.flush().expect("flush");
    }

    pub fn get(&mut self, path: &str) -> Response {
        self.send(format!("GET {path} HTTP/1.1\r\nHost: test\r\n\r\n"));
        self.read_response()
    }

    /// Reads more bytes into the buffer; 0 at end of stream.
    fn fill(&mut self) -> usize {
        let mut chunk = [0u8; 8192];
        let n = self
            .stream
            .read(&mut chunk)
            .expect("read (safety timeout?)");
        self.buf.extend_from_slice(&chunk[..n]);
        n
    }

    /// Reads exactly `n` bytes.
    pub fn read_exact(&mut self, n: usize) -> Vec<u8> {
        while self.buf.len() < n {
            assert!(self.fill() > 0, "end of stream after {:?}", self.text());
        }
        self.buf.drain(..n).collect()
    }

    /// Reads everything up to the end of stream.
    pub fn read_to_end(&mut self) -> Vec<u8> {
        while self.fill() > 0 {}
        std::mem::take(&mut self.buf)
    }

    /// Asserts the server closed the connection with nothing more to read: a blocking
    /// read returns 0 (or the connection was reset).
    pub fn expect_eof(&mut self) {
        assert!(self.buf.is_empty(), "unread bytes: {:?}", self.text());
        let mut byte = [0u8; 1];
        match self.stream.read(&mut byte) {
            Ok(0) => {}
            Err(e) if e.kind() == ErrorKind::ConnectionReset => {}
            Ok(_) => panic!("expected end of stream, got {:?}", byte),
            Err(e) => panic!("expected end of stream, got {e}"),
        }
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.buf).into_owned()
    }

    /// Reads one response head (skipping nothing: a 1xx is returned as is).
    pub fn read_head(&mut self) -> Response {
        loop {
            let mut headers = [httparse::EMPTY_HEADER; 64];
            let mut parsed = httparse::Response::new(&mut headers);
            if let httparse::Status::Complete(n) = parsed.parse(&self.buf).expect("valid head") {
                let response = Response {
                    version: parsed.version.unwrap_or(1),
                    status: parsed.code.unwrap_or(0),
                    reason: parsed.reason.unwrap_or("").to_owned(),
                    headers: parsed
                        .headers
                        .iter()
                        .map(|h| {
                            (
                                h.name.to_owned(),
                                String::from_utf8_lossy(h.value).into_owned(),
                            )
                        })
                        .collect(),
                    body: Vec::new(),
                };
                self.buf.drain(..n);
                return response;
            }
            assert!(
                self.fill() > 0,
                "end of stream in a head: {:?}",
                self.text()
            );
        }
    }

    /// Reads a final response to a non-HEAD request: head (1xx skipped) and body by
    /// its framing.
    pub fn read_response(&mut self) -> Response {
        let mut response = self.read_head();
        while response.status < 200 {
            response = self.read_head();
        }
        if response.status == 204 || response.status == 304 {
            return response;
        }
        let chunked = response
            .header("transfer-encoding")
            .is_some_and(|te| te.eq_ignore_ascii_case("chunked"));
        if chunked {
            response.body = self.read_chunked();
        } else if let Some(len) = response.header("content-length") {
            let len = len.parse().expect("numeric content-length");
            response.body = self.read_exact(len);
        } else {
            response.body = self.read_to_end();
        }
        response
    }

    fn read_line(&mut self) -> String {
        loop {
            if let Some(end) = self.buf.windows(2).position(|w| w == b"\r\n") {
                let line: Vec<u8> = self.buf.drain(..end + 2).take(end).collect();
                return String::from_utf8(line).expect("utf-8 line");
            }
            assert!(self.fill() > 0, "end of stream in a line");
        }
    }

    /// Decodes a chunked body (extensions ignored, trailers skipped).
    fn read_chunked(&mut self) -> Vec<u8> {
        let mut body = Vec::new();
        loop {
            let line = self.read_line();
            let size = line.split(';').next().unwrap_or("").trim();
            let size = usize::from_str_radix(size, 16).expect("hex chunk size");
            if size == 0 {
                while !self.read_line().is_empty() {}
                return body;
            }
            body.extend(self.read_exact(size));
            assert_eq!(self.read_exact(2), b"\r\n");
        }
    }
}
