//! hcx: a blocking HTTP/1.1 client for teams who know Apache HttpClient.
//!
//! ```
//! use hcx::Client;
//! use hcx_testserver::{Method, Reply, TestServer};
//!
//! let server = TestServer::builder()
//!     .route(Method::GET, "/hello", Reply::ok().body("hello, world"))
//!     .start()?;
//! let client = Client::builder().max_per_route(4).build()?;
//!
//! for _ in 0..3 {
//!     let response = client.get(server.url("/hello"))?;
//!     assert_eq!(response.status(), 200);
//!     // Reading the body to its end gives the connection back to the pool.
//!     assert_eq!(response.into_body().into_string()?, "hello, world");
//! }
//! assert_eq!(server.stats().connections_accepted, 1); // one connection, reused
//! assert_eq!(client.stats().pool.leased, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What it is: Apache HttpClient 5's classic client in Rust — a [`Client`] over a
//! [`PoolingConnectionManager`] (fair, per-route limits, 25/5 by default), the
//! `MainClientExec` exchange ([`exec::MainExec`]) with an [`exec::ExecRuntime`] per
//! request, RFC 9112 reuse decisions that always say why a connection was closed
//! ([`ReuseInfo`]), and response bodies that release their connection at their end.
//! Blocking I/O, one thread per request, no background thread.
//!
//! What it is not (yet): HTTPS, proxies, retries, redirects and content decoding —
//! they come as exec layers above [`exec::MainExec`].
//!
//! Porting notes: [`RequestConfig`] is Apache's `RequestConfig` (defaults: 3 min
//! connection request and connect timeouts, no response timeout), overridable per
//! request through the request's extensions; [`Client::execute_with`] is
//! `execute(request, ResponseHandler)`; [`Error`]'s predicates stand for Apache's
//! exception classes (`is_closed_before_response` is `NoHttpResponseException`).
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
mod client;

pub use builder::{ClientBuilder, DEFAULT_USER_AGENT};
pub use client::Client;

pub use hcx_exec::{
    Body, ConnectionInfo, EngineCloses, Error, ManagerStats, PoolingConnectionManager,
    ProtocolErrorKind, RequestConfig, Resolver, ResponseBody, ReuseInfo, Route, StaticResolver,
    SystemResolver, UserToken,
};
pub use hcx_reuse::{
    ConnectionReuseStrategy, DefaultKeepAliveStrategy, DefaultReuseStrategy, Exchange, KeepAlive,
    KeepAliveStrategy, NeverReuse, Reuse,
};
pub use http;

/// The exec engine, for layers of your own: Apache 5's `ExecRuntime` and
/// `MainClientExec`, the connection endpoint and the connection.
pub mod exec {
    pub use hcx_exec::{Connection, Endpoint, ExecRuntime, MainExec, Scheme};
}
