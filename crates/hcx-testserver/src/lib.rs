//! A programmable HTTP/1.1 server for tests, on std sockets and threads.
//!
//! `hcx-testserver` is the peer that hcx's end-to-end tests, benchmarks and `hcx demo`
//! talk to. It is deliberately independent of the hcx client crates: a plain
//! `TcpListener` on loopback (port 0), one thread per connection, request heads parsed
//! by `httparse`. It is not a production server.
//!
//! - **Replies by route** ([`Reply`]): status, headers, fixed or generated bodies,
//!   framing by `Content-Length`, chunked (trailers, extensions), close-delimited or
//!   none, HTTP/1.0 or 1.1, interim 1xx, delays, truncated bodies, stalls, raw bytes
//!   for malformed cases, hang-ups; or a closure computing one from the request.
//! - **Connection behaviours** ([`TestServerBuilder`]): keep-alive by default,
//!   `Connection: close` after N requests, silent close after N, idle-close after a
//!   timeout, `Expect: 100-continue` answered or not; a middlebox that silently forgets
//!   idle flows and resets the next request, its idle time on an injectable clock.
//! - **Records** ([`ServerStats`], [`ConnectionInfo`], [`RecordedRequest`]): what it
//!   accepted, read and answered, and why it closed each connection, with waits on a
//!   condvar so tests never sleep.
//! - **TLS** ([`TestServerBuilder::tls`], [`TestCa`]): the same server over rustls,
//!   with a CA made at test time, session resumption, optional client certificates,
//!   `close_notify` on every deliberate close, and what each handshake negotiated
//!   ([`TlsInfo`]).
//! - **A forward proxy** ([`TestProxy`]): absolute-form forwarding, `CONNECT` tunnels,
//!   Basic proxy authentication and refusals, with its own records.
//! - **No panics on bad input**: malformed requests become [`RecordedError`]s and a
//!   closed connection. Shutdown (or drop) joins every thread promptly.
//!
//! ```
//! use hcx_testserver::{Method, Reply, TestServer};
//! use std::io::{Read, Write};
//! use std::net::TcpStream;
//!
//! let server = TestServer::builder()
//!     .route(Method::GET, "/hello", Reply::ok().header("x-demo", "1").body("hi"))
//!     .start()?;
//!
//! let mut stream = TcpStream::connect(server.addr())?;
//! stream.write_all(b"GET /hello HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")?;
//! let mut response = String::new();
//! stream.read_to_string(&mut response)?;
//! assert_eq!(
//!     response,
//!     "HTTP/1.1 200 OK\r\nx-demo: 1\r\nContent-Length: 2\r\nConnection: close\r\n\r\nhi"
//! );
//!
//! let request = server.last_request().ok_or("no request recorded")?;
//! assert_eq!((&request.method, request.path()), (&Method::GET, "/hello"));
//! assert_eq!(server.stats().requests_received, 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod ca;
mod chunked;
mod close;
mod connection;
mod encode;
mod middlebox;
mod proxy;
mod record;
mod reply;
mod request;
mod routes;
mod server;
mod signal;
mod stream;
mod wait;

pub use builder::{ExpectContinue, SilentClose, TestServerBuilder};
pub use ca::{CaError, TestCa};
pub use close::ServerCloseReason;
pub use proxy::{ProxyStats, ProxyWaitTimeout, RecordedProxyRequest, TestProxy, TestProxyBuilder};
pub use record::{
    ConnectionInfo, DroppedRequest, RecordedError, ServerStats, TlsInfo, WaitTimeout,
};
pub use reply::Reply;
pub use request::RecordedRequest;
pub use server::TestServer;

pub use http::{Method, StatusCode, Version};
