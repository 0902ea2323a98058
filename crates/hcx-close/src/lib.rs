//! Keep or close: what happens to an HTTP/1.1 connection after an exchange, and why.
//!
//! Every layer of hcx that can end a connection's life — the codec's framing, the reuse
//! and keep-alive strategies, the engine, the pool — speaks this one vocabulary, so
//! "why wasn't my connection reused?" has one answer whichever layer closed it:
//!
//! - [`CloseReason`]: every reason a connection can close, with a short
//!   [`explain`](CloseReason::explain)ation and the [`Layer`] that decides it.
//! - [`Decision`]: keep (for how long) or close (why), the one value that travels from
//!   the strategies through the exec runtime to the pool's release.
//! - [`CloseCounts`]: closes counted by reason, in one place (the pool).
//!
//! ```
//! use hcx_close::{CloseCounts, CloseReason, Decision};
//! use std::time::Duration;
//!
//! let keep = Decision::keep(Some(Duration::from_secs(30)));
//! assert_eq!(keep.to_string(), "keep alive for 30s");
//! let close = Decision::Close(CloseReason::ResponseConnectionClose);
//! assert_eq!(close.to_string(), "close: response had Connection: close");
//!
//! let mut counts = CloseCounts::default();
//! counts.count(CloseReason::Stale);
//! counts.count(CloseReason::Stale);
//! assert_eq!(counts.get(CloseReason::Stale), 2);
//! assert_eq!(counts.total(), 2);
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod counts;
mod decision;
mod reason;

pub use counts::CloseCounts;
pub use decision::Decision;
pub use reason::{CloseReason, Layer};
