//! Connection reuse and keep-alive strategies for HTTP/1.1 clients: after each
//! response, may the connection carry another exchange, and for how long?
//!
//! `hcx-reuse` is pure logic over `http` types and the codec's framing verdict: no I/O,
//! no allocation on the decision path, no panics on any header bytes. It is what Apache
//! HttpClient's `ConnectionReuseStrategy` and `ConnectionKeepAliveStrategy` are, with
//! these changes:
//!
//! - **Every "no" has a reason.** The reuse strategy returns `Err(`[`CloseReason`]`)`,
//!   and [`decide`](fn@decide) turns both answers into the one [`Decision`] the engine
//!   and the pool act on, so "why wasn't my connection reused?" always has an answer.
//! - **Framing is decided once, by the codec.** RFC 9112 §6.3 lives in
//!   `hcx_h1::response_framing`; the [`Exchange`] carries its verdict, and the reuse
//!   rules read it instead of parsing `Content-Length` and `Transfer-Encoding` again.
//!   `close` always beats `keep-alive`.
//! - **`Keep-Alive: timeout=0` means "do not keep"**, not "forever"; a server's
//!   `timeout=N` is kept for N less a safety margin (1 s, at most half of N), so a
//!   request never races the server's close; and a response without one is kept for a
//!   bounded default (30 s), not forever.
//!
//! Both strategies are object-safe `Send + Sync` traits, implemented by closures, so
//! custom ones port directly. It does not parse messages, hold connections or read
//! clocks (the engine passes the pool's clock where a strategy needs the time).
//!
//! Beyond Apache: [`LearnedIdleLimit`], a keep-alive strategy that learns per route
//! how long idle connections survive a middlebox that drops idle flows silently, and
//! stops reusing connections idle longer.
//!
//! ```
//! use hcx_h1::{Limits, parse_response_head};
//! use hcx_reuse::{decide, CloseReason, Decision, DefaultKeepAliveStrategy, DefaultReuseStrategy, Exchange};
//! use http::{HeaderMap, Method};
//! use std::time::Duration;
//!
//! let reuse = DefaultReuseStrategy;
//! let keep_alive: DefaultKeepAliveStrategy = "default=30s, max=2m".parse()?;
//! let request = HeaderMap::new();
//!
//! // An HTTP/1.1 response with a length: reusable, for the server's 5 s less the margin.
//! let (head, _) = parse_response_head(
//!     b"HTTP/1.1 200 OK\r\nContent-Length: 42\r\nKeep-Alive: timeout=5\r\n\r\n",
//!     &Limits::default(),
//! )?.expect("complete");
//! let exchange = Exchange::framed(&Method::GET, &request, &head)?;
//! assert_eq!(decide(&reuse, &keep_alive, &exchange), Decision::keep(Some(Duration::from_secs(4))));
//!
//! // Without a length the body runs until the server closes: not reusable, and why.
//! let (head, _) = parse_response_head(b"HTTP/1.1 200 OK\r\n\r\n", &Limits::default())?.expect("complete");
//! let exchange = Exchange::framed(&Method::GET, &request, &head)?;
//! let decision = decide(&reuse, &keep_alive, &exchange);
//! assert_eq!(decision.close_reason(), Some(CloseReason::CloseDelimitedBody));
//! println!("{decision}"); // close: response has no Content-Length or chunked encoding: …
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod config;
mod connection;
mod decide;
mod exchange;
mod head;
mod idle;
mod keep_alive;
mod reuse;

pub use config::{ParseSettingError, parse_duration};
pub use decide::decide;
pub use exchange::Exchange;
pub use hcx_close::{CloseReason, Decision};
pub use idle::{
    IdleBounds, IdleLimitChange, IdleOutcome, IdleVerdict, LearnSettings, LearnedIdleLimit,
    RouteRef,
};
pub use keep_alive::{DefaultKeepAliveStrategy, KeepAlive, KeepAliveStrategy, keep_alive_timeout};
pub use reuse::{ConnectionReuseStrategy, DefaultReuseStrategy, NeverReuse};
