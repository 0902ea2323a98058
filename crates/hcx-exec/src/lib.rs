//! The hcx exec engine: HTTP/1.1 connections, the pooling connection manager,
//! [`ExecRuntime`], [`MainExec`] and response bodies that give their connection back
//! at their end.
//!
//! It is modelled on Apache HttpClient 5's classic exec chain: [`MainExec`] is
//! `MainClientExec`, [`ExecRuntime`] is `InternalExecRuntime`,
//! [`PoolingConnectionManager`] is `PoolingHttpClientConnectionManager`. Blocking
//! I/O, one thread per request; other threads only for a Happy Eyeballs race's
//! attempts, the name lookup of a request with an [`AbortHandle`], and the
//! [`IdleConnectionEvictor`] if you start it. The protocol rules live in
//! `hcx-h1` (the codec, including the exchange as a sans-IO [`hcx_h1::Call`]) and
//! `hcx-reuse` (reuse and keep-alive); the pool in `hcx-pool`; the keep-or-close
//! vocabulary in `hcx-close`. This crate moves bytes between the call and a
//! [`Transport`]. Most users want the `hcx` crate's `Client`, which wraps this.
//!
//! ```
//! use hcx_exec::{Body, ExecRuntime, MainExec, PoolingConnectionManager, RequestConfig, ResponseInfo, Route};
//! use hcx_testserver::{Method, Reply, TestServer};
//!
//! let server = TestServer::builder().route(Method::GET, "/hello", Reply::ok().body("hi")).start()?;
//! let manager = PoolingConnectionManager::builder().max_per_route(4).build()?;
//! let exec = MainExec::default();
//! for round in 0..2 {
//!     let request = http::Request::get(server.url("/hello")).body(Body::empty())?;
//!     let route = Route::from_uri(request.uri())?;
//!     let runtime = ExecRuntime::new(manager.clone()); // one per request
//!     let response = exec.execute(&route, request, runtime, &RequestConfig::default())?;
//!     let info = ResponseInfo::of(&response);
//!     assert_eq!(info.map(|i| i.connection.reused), Some(round > 0));
//!     // The keep-or-close decision the pool will act on, with its reason if it closes.
//!     assert!(info.is_some_and(|i| i.decision.is_keep()));
//!     // Reading to the end gives the connection back to the pool.
//!     assert_eq!(response.into_body().into_string()?, "hi");
//!     assert_eq!(manager.stats().pool.leased, 0);
//! }
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod abort;
mod body;
mod config;
mod connect;
mod connection;
mod error;
mod events;
mod evictor;
mod exec;
mod info;
mod live;
mod manager;
mod metrics;
mod planner;
mod proxy_auth;
mod resolver;
mod response_body;
mod route;
mod runtime;
mod send;
#[cfg(feature = "rustls")]
mod tls;
mod transport;
mod tunnel;

pub use abort::AbortHandle;
pub use body::Body;
pub use config::{RequestConfig, SocketConfig, TcpKeepalive};
pub use connection::Connection;
pub use error::{Error, ErrorKind, RequestProgress};
pub use events::{
    ConnectTimings, Connected, ConnectionRef, EventListener, Events, RedirectEvent,
    ResponseHeadRef, RetryCause, RetryEvent, TlsSession, is_secret_field,
};
pub use evictor::IdleConnectionEvictor;
pub use exec::MainExec;
pub use hcx_close::{CloseCounts, CloseReason, Decision};
/// What a protocol error was ([`Error::protocol_error`]).
pub use hcx_h1::ErrorKind as ProtocolErrorKind;
pub use info::{ConnectionInfo, ResponseInfo};
pub use manager::{
    Endpoint, ManagerStats, PoolingConnectionManager, PoolingConnectionManagerBuilder, UserToken,
};
pub use metrics::LeaseWaits;
pub use planner::{DefaultRoutePlanner, EnvProxyRoutePlanner, RoutePlanner};
pub use proxy_auth::{ProxyAuthenticator, ProxyChallenge};
pub use resolver::{Resolver, StaticResolver, SystemResolver};
pub use response_body::ResponseBody;
pub use route::{Host, Proxy, Route, Scheme, authority_start, redact_userinfo};
pub use runtime::ExecRuntime;
#[cfg(feature = "rustls")]
pub use tls::{TlsIdentity, crypto_provider};
pub use transport::{Leftover, SocketHandle, Transport, Written};
