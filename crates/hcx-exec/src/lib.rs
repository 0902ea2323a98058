//! The hcx exec engine: HTTP/1.1 connections, the pooling connection manager,
//! [`ExecRuntime`], [`MainExec`] and response bodies that give their connection back
//! at their end.
//!
//! It is modelled on Apache HttpClient 5's classic exec chain: [`MainExec`] is
//! `MainClientExec`, [`ExecRuntime`] is `InternalExecRuntime`,
//! [`PoolingConnectionManager`] is `PoolingHttpClientConnectionManager`. Blocking
//! I/O, one thread per request, no background thread. The protocol rules live in
//! `hcx-h1` (the codec) and `hcx-reuse` (reuse and keep-alive); the pool in
//! `hcx-pool`. Most users want the `hcx` crate's `Client`, which wraps this.
//!
//! ```no_run
//! use hcx_exec::{Body, ExecRuntime, MainExec, PoolingConnectionManager, RequestConfig, Route};
//! use std::io::Read;
//!
//! let manager = PoolingConnectionManager::builder().max_per_route(4).build()?;
//! let exec = MainExec::default();
//! let request = http::Request::get("http://localhost:8080/hello").body(Body::empty())?;
//! let route = Route::from_uri(request.uri())?;
//! let response = exec.execute(&route, request, ExecRuntime::new(manager.clone()), &RequestConfig::default())?;
//! let text = response.into_body().into_string()?; // the connection goes back to the pool here
//! assert_eq!(manager.stats().pool.leased, 0);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod body;
mod config;
mod connection;
mod error;
mod exec;
mod info;
mod manager;
mod resolver;
mod response_body;
mod route;
mod runtime;
mod send;

pub use body::Body;
pub use config::RequestConfig;
pub use connection::Connection;
pub use error::Error;
pub use exec::MainExec;
/// What a protocol error was ([`Error::protocol_error`]).
pub use hcx_h1::ErrorKind as ProtocolErrorKind;
pub use info::{ConnectionInfo, ReuseInfo};
pub use manager::{
    Endpoint, ManagerStats, PoolingConnectionManager, PoolingConnectionManagerBuilder, UserToken,
};
pub use resolver::{Resolver, StaticResolver, SystemResolver};
pub use response_body::ResponseBody;
pub use route::{Route, Scheme};
pub use runtime::ExecRuntime;
