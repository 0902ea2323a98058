//! A protocol-agnostic, fair, blocking pool of connections keyed by route.
//!
//! `hcx-pool` is the pool behind the hcx HTTP client, usable on its own for any kind
//! of connection. It keeps what Apache HttpClient's `StrictConnPool` offers (a total
//! limit and per-route limits, lease requests with a timeout or cancelled,
//! connections bound to a state, LIFO or FIFO reuse, time-to-live and keep-alive
//! expiry, idle eviction, statistics, shutdown) and changes what it gets wrong:
//!
//! - **Fair hand-off.** Waiters are served in arrival order by a direct hand-off to
//!   the oldest one a released slot fits; each is woken alone (its own mailbox and waker), so there is
//!   no thundering herd and no newcomer can barge ahead.
//! - **Limits that act at once.** Raising a limit serves waiters immediately;
//!   lowering one trims idle surplus and never touches leased connections.
//! - **Ownership does the bookkeeping.** A [`Lease`] owns its slot: releasing consumes
//!   it and dropping it discards it, so a slot can neither leak nor come back twice.
//! - **Every close has a reason.** A lease is released with a
//!   [`Decision`] (keep for how long, or close and why) or discarded with a
//!   [`CloseReason`]; the pool's own closes (expiry, idle eviction, trims, shutdown)
//!   have theirs, and [`Pool::close_counts`] counts them all, once each.
//! - **No I/O under the lock.** Connections are closed through a
//!   [`DisposalCallback`] after the lock is released, and async wakers are woken
//!   there too.
//! - **Injectable time.** Expiry reads a [`Clock`]; tests use [`ManualClock`].
//!
//! It is not a connection factory: a lease of a new slot comes back empty, and the
//! caller connects (outside every lock) and [`assign`](Lease::assign)s it.
//!
//! ```
//! use hcx_pool::{CloseReason, Decision, Pool, PoolConfig};
//! use std::time::Duration;
//!
//! let pool: Pool<&str, String> = Pool::new(PoolConfig::with_limits(10, 2))?;
//!
//! // A new slot: connect outside the pool and assign the connection.
//! let mut lease = pool.lease(&"example.com:80", None).get(Duration::from_secs(1))?;
//! assert!(!lease.is_reused());
//! lease.assign(String::from("connection #1"));
//! lease.release(Decision::keep(Some(Duration::from_secs(30))));
//!
//! // The next lease of the route reuses it.
//! let lease = pool.lease(&"example.com:80", None).get(Duration::from_secs(1))?;
//! assert!(lease.is_reused());
//! assert_eq!(lease.connection().map(String::as_str), Some("connection #1"));
//! assert_eq!(pool.stats().leased, 1);
//! // Closing says why, and the pool counts each close under its reason.
//! lease.release(Decision::Close(CloseReason::ResponseConnectionClose));
//! assert_eq!(pool.stats().leased, 0);
//! assert_eq!(pool.close_counts().get(CloseReason::ResponseConnectionClose), 1);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```
#![forbid(unsafe_code)]
#![deny(missing_docs)]

mod clock;
mod close;
mod config;
mod entry;
mod error;
mod idle;
mod lease;
mod pool;
mod route;
mod shared;
mod state;
mod stats;
mod sync;
mod waiters;

pub use clock::{Clock, CoarseClock, ManualClock, SystemClock};
pub use close::DisposalCallback;
pub use config::{ConfigError, PoolConfig, ReusePolicy};
pub use error::{LeaseError, LeaseFailure};
pub use hcx_close::{CloseCounts, CloseReason, Decision};
pub use lease::{CancelHandle, Lease, LeaseRequest};
pub use pool::{Pool, PoolBuilder};
pub use stats::PoolStats;

use std::fmt::Debug;
use std::hash::Hash;

/// What a route key must be: hashable, cloneable (once per new connection slot),
/// printable in error messages, and sendable across threads. Blanket-implemented.
///
/// Its `Hash`, `Eq`, `Clone` and `Debug` run under the pool lock (as do the state's
/// `PartialEq` and the clock's `now`): keep them cheap, never block in them, and never
/// call back into the pool from them.
pub trait RouteKey: Eq + Hash + Clone + Debug + Send + 'static {}

impl<T: Eq + Hash + Clone + Debug + Send + 'static> RouteKey for T {}
