//! hcx: a blocking HTTP/1.1 client for teams who know Apache HttpClient.
//!
//! ```
//! # // A one-shot server on loopback, std only, so the example runs anywhere.
//! # let listener = std::net::TcpListener::bind("127.0.0.1:0")?;
//! # let url = format!("http://{}/hello", listener.local_addr()?);
//! # std::thread::spawn(move || -> std::io::Result<()> {
//! #     use std::io::{Read, Write};
//! #     let (mut stream, _) = listener.accept()?;
//! #     let mut head = Vec::new();
//! #     let mut byte = [0u8; 1];
//! #     while !head.ends_with(b"\r\n\r\n") {
//! #         if stream.read(&mut byte)? == 0 { break; }
//! #         head.push(byte[0]);
//! #     }
//! #     stream.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 12\r\n\r\nhello, world")
//! # });
//! let client = hcx::Client::new();
//! let body = client.get(&url)?.into_body().into_string()?;
//! assert_eq!(body, "hello, world");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! One [`Client`] serves every thread: clones share one connection pool. Reading a
//! body to its end (or dropping it) gives the connection back; every response says,
//! in its [`ResponseInfo`], how its connection was obtained
//! ([`ConnectionInfo`]) and what happens to it next ([`Decision`]: kept for how long,
//! or closed and why):
//!
//! ```
//! use hcx::{Client, CloseReason, Decision, ResponseInfo};
//! use hcx_testserver::{Method, Reply, TestServer};
//!
//! let server = TestServer::builder()
//!     .route(Method::GET, "/hello", Reply::ok().body("hello, world"))
//!     .route(Method::GET, "/bye", Reply::ok().body("bye").connection_close())
//!     .start()?;
//! let client = Client::builder().max_per_route(4).build()?;
//!
//! for round in 0..3 {
//!     let response = client.get(server.url("/hello"))?;
//!     let info = ResponseInfo::of(&response); // carried by the body
//!     assert_eq!(info.map(|i| i.connection.reused), Some(round > 0));
//!     assert_eq!(response.into_body().into_string()?, "hello, world");
//! }
//! let response = client.get(server.url("/bye"))?;
//! assert_eq!(
//!     ResponseInfo::of(&response).map(|i| i.decision),
//!     Some(Decision::Close(CloseReason::ResponseConnectionClose))
//! );
//! drop(response);
//! assert_eq!(server.stats().connections_accepted, 1); // one connection, reused
//! assert_eq!(client.stats().closes.get(CloseReason::ResponseConnectionClose), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
//!
//! What it is: Apache HttpClient 5's classic client in Rust — a [`Client`] over a
//! [`PoolingConnectionManager`] (fair, per-route limits, 25/5 by default) that runs
//! every request through a named exec chain ([`chain`]): REDIRECT (follows 3xx,
//! [`RedirectStrategy`]), COMPRESS (gzip and deflate by default, br and zstd by
//! feature, bounded against decompression bombs), RETRY (replays only what is safe,
//! honours `Retry-After`, [`RetryStrategy`]), AUTH (Bearer, Digest and Basic,
//! [`CredentialsProvider`]), PROTOCOL (default headers, interceptors, cookies by
//! feature) and MAIN_TRANSPORT (the `MainClientExec` exchange, [`exec::MainExec`]),
//! with handlers of your own anywhere in it. RFC 9112 reuse decisions always say why
//! a connection was closed ([`CloseReason`], counted in [`Client::stats`]), a
//! keep-alive ends before the server's does, response bodies release their connection
//! at their end, and an opt-in evictor thread closes idle connections when they fall
//! due. Blocking I/O, one thread per request: another thread ends one with its
//! [`AbortHandle`] (Apache's `abort()`/`cancel()`), or every request in flight with
//! [`PoolingConnectionManager::shutdown_immediate`].
//!
//! HTTPS runs on rustls (feature `rustls`, default): the bundled webpki roots, or a
//! `rustls::ClientConfig` of your own ([`ClientBuilder::tls_config`]); a client
//! certificate's connections are keyed apart in the pool ([`TlsIdentity`]). Proxies:
//! [`ClientBuilder::proxy`], or the environment's (`http_proxy`, `no_proxy`…) with
//! [`ClientBuilder::proxy_from_env`], or a [`RoutePlanner`] of your own. A name's
//! addresses are raced as RFC 8305 ("Happy Eyeballs") says.
//!
//! Porting notes: [`RequestConfig`] is Apache's `RequestConfig` (defaults: a 3 min
//! connection request timeout; connect and response timeouts `None`, meaning the
//! connection manager's: 3 min to connect, a 3 min socket timeout), overridable per
//! request through the request's extensions; [`SocketConfig`] is its `SocketConfig`;
//! [`Client::execute_with`] is `execute(request, ResponseHandler)`; [`Error::kind`]
//! returns an [`ErrorKind`] whose
//! [`apache_equivalent`](ErrorKind::apache_equivalent) names the exception class
//! (`ClosedBeforeResponse` is `NoHttpResponseException`), and every error says how far
//! the request got ([`Error::request_progress`], [`Error::is_response_started`],
//! [`Error::is_connection_reused`]).
//!
//! Every type in a public signature of this crate is reachable from here: the common
//! ones at the top, the rest in [`exec`], [`codec`] and [`pool`].
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod builder;
pub mod chain;
mod client;
pub mod form;
mod lent;
pub mod multipart;
mod url;

pub use builder::{ClientBuilder, DEFAULT_USER_AGENT};
#[cfg(feature = "cookies")]
pub use chain::CookieStore;
pub use chain::{
    AimdBackoffManager, AuthScope, BackoffManager, BasicCredentialsProvider,
    ConnectionBackoffStrategy, Context, Credentials, CredentialsProvider, DecompressionLimits,
    DefaultBackoffStrategy, DefaultRedirectStrategy, DefaultRetryStrategy, RedirectStrategy,
    RetryStrategy, UserTokenHandler,
};
pub use client::Client;
pub use form::RequestBuilderExt;
pub use lent::BodyReader;
pub use url::IntoUri;

pub use bytes;
pub use hcx_close::{CloseCounts, CloseReason, Decision, Layer};
pub use hcx_exec::{
    AbortHandle, Body, ConnectionInfo, DefaultRoutePlanner, EnvProxyRoutePlanner, Error, ErrorKind,
    Host, ManagerStats, PoolingConnectionManager, PoolingConnectionManagerBuilder,
    ProtocolErrorKind, Proxy, ProxyAuthenticator, ProxyChallenge, RequestConfig, RequestProgress,
    Resolver, ResponseBody, ResponseInfo, Route, RoutePlanner, Scheme, SocketConfig,
    StaticResolver, SystemResolver, TcpKeepalive, UserToken,
};
pub use hcx_exec::{
    ConnectTimings, Connected, ConnectionRef, EventListener, Events, LeaseWaits, RedirectEvent,
    ResponseHeadRef, RetryCause, RetryEvent, TlsSession,
};
#[cfg(feature = "rustls")]
pub use hcx_exec::{TlsIdentity, crypto_provider};
pub use hcx_h1::Limits;
pub use hcx_pool::{
    Clock, CoarseClock, ManualClock, PoolConfig, PoolStats, ReusePolicy, SystemClock,
};
pub use hcx_reuse::{
    ConnectionReuseStrategy, DefaultKeepAliveStrategy, DefaultReuseStrategy, Exchange, KeepAlive,
    KeepAliveStrategy, NeverReuse, ParseSettingError, decide, keep_alive_timeout, parse_duration,
};
pub use hcx_reuse::{
    IdleBounds, IdleLimitChange, IdleOutcome, IdleVerdict, LearnSettings, LearnedIdleLimit,
    RouteRef,
};
pub use http;
#[cfg(feature = "rustls")]
pub use rustls;

/// The exec engine, for layers of your own: Apache 5's `ExecRuntime` and
/// `MainClientExec`, the connection endpoint, the connection and its transport.
pub mod exec {
    pub use hcx_exec::{
        Connection, Endpoint, ExecRuntime, IdleConnectionEvictor, Leftover, MainExec, SocketHandle,
        Transport, Written, authority_start, is_secret_field, redact_userinfo,
    };
}

/// The sans-IO HTTP/1.1 codec (`hcx-h1`): what reuse strategies see of a response
/// ([`ResponseHead`](codec::ResponseHead), [`ResponseFraming`](codec::ResponseFraming)),
/// the exchange state machine ([`Call`](codec::Call)), and its errors.
pub mod codec {
    pub use hcx_h1::*;
}

/// The connection pool (`hcx-pool`) behind the manager:
/// [`PoolingConnectionManager::pool`] returns one.
pub mod pool {
    pub use hcx_pool::*;
}

/// The README's quick start, compiled by `cargo test` so it cannot drift from the API.
#[cfg(doctest)]
#[doc = include_str!("../../../README.md")]
pub struct ReadmeDoctests;
