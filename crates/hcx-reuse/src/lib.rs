//! Connection reuse and keep-alive strategies for HTTP/1.1 clients: after each
//! response, may the connection carry another exchange, and for how long?
//!
//! `hcx-reuse` is pure logic over `http` types: no I/O, no allocation on the decision
//! path, no panics on any header bytes. It is what Apache HttpClient's
//! `ConnectionReuseStrategy` and `ConnectionKeepAliveStrategy` are, with three changes:
//!
//! - **Every "no" has a reason.** [`Reuse::Close`] carries a [`CloseReason`] with an
//!   [`explain`](CloseReason::explain)ation, so "why wasn't my connection reused?"
//!   always has an answer.
//! - **RFC 9112 framing, stricter where Apache is lax.** Content-Length together with
//!   Transfer-Encoding, duplicate Content-Lengths, Transfer-Encoding on HTTP/1.0 all
//!   close the connection; `close` always beats `keep-alive`.
//! - **`Keep-Alive: timeout=0` means "do not keep"**, not "forever", and a response
//!   without one is kept for a bounded default (30 s), not forever.
//!
//! Both strategies are object-safe `Send + Sync` traits, implemented by closures, so
//! custom ones port directly. It does not parse messages, hold connections or read
//! clocks: the engine builds an [`Exchange`] from the heads it parsed, and gives the
//! [`Decision`] to the pool.
//!
//! ```
//! use hcx_reuse::{decide, CloseReason, Decision, DefaultKeepAliveStrategy, DefaultReuseStrategy, Exchange};
//! use http::{HeaderMap, HeaderValue, Method, StatusCode, Version};
//! use std::time::Duration;
//!
//! let reuse = DefaultReuseStrategy;
//! let keep_alive: DefaultKeepAliveStrategy = "default=30s, max=2m".parse()?;
//!
//! // An HTTP/1.1 response with a length: reusable, for the server's 5 s.
//! let request = HeaderMap::new();
//! let mut response = HeaderMap::new();
//! response.insert("content-length", HeaderValue::from_static("42"));
//! response.insert("keep-alive", HeaderValue::from_static("timeout=5"));
//! let exchange = Exchange::new(&Method::GET, &request, StatusCode::OK, Version::HTTP_11, &response);
//! assert_eq!(
//!     decide(&reuse, &keep_alive, &exchange),
//!     Decision::Keep { valid_for: Some(Duration::from_secs(5)) }
//! );
//!
//! // Without a length the body runs until the server closes: not reusable, and why.
//! response.remove("content-length");
//! let exchange = Exchange::new(&Method::GET, &request, StatusCode::OK, Version::HTTP_11, &response);
//! let decision = decide(&reuse, &keep_alive, &exchange);
//! assert_eq!(decision.close_reason(), Some(CloseReason::UnframedBody));
//! println!("{decision}"); // close: response has no Content-Length or chunked encoding: …
//! # Ok::<(), hcx_reuse::ConfigError>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod connection;
mod decide;
mod exchange;
mod framing;
mod head;
mod keep_alive;
mod reason;
mod reuse;
mod syntax;

pub use config::{ConfigError, parse_duration};
pub use decide::{Decision, decide};
pub use exchange::Exchange;
pub use keep_alive::{DefaultKeepAliveStrategy, KeepAlive, KeepAliveStrategy, keep_alive_timeout};
pub use reason::{CloseReason, Reuse};
pub use reuse::{ConnectionReuseStrategy, DefaultReuseStrategy, NeverReuse};
