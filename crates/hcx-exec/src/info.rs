//! What the engine tells the caller about the connection an exchange used.

use std::time::Duration;

use hcx_close::Decision;

use crate::ResponseBody;

/// What the engine tells about a response's connection, carried by the response's
/// body ([`ResponseInfo::of`], [`ResponseBody::info`]): how the connection was
/// obtained and what happens to it after this response. hyper: `HttpInfo`; Go:
/// `httptrace.GotConnInfo`.
///
/// Carried by the body rather than as a response extension: `http::Extensions`
/// allocates its map, its table and each value, three allocations for every response;
/// the body keeps it in one box.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
#[doc(alias("EndpointDetails"))]
pub struct ResponseInfo {
    /// How the connection was obtained.
    pub connection: ConnectionInfo,
    /// What happens to the connection once the body is read to its end: kept for the
    /// next request (and for how long), or closed, and why. The reuse decision made
    /// from the response head; a body that then fails or is dropped unread can still
    /// close the connection.
    pub decision: Decision,
}

impl ResponseInfo {
    /// The info `response` carries, copied: `response.body().info()`. `None` for a
    /// response the engine did not make, or one whose body was replaced by a body
    /// without it.
    ///
    /// It stays with the body through a content decoder
    /// ([`ResponseBody::map_reader`]) and goes with it: `response.map(..)` to another
    /// body type leaves it behind.
    pub fn of(response: &http::Response<ResponseBody>) -> Option<ResponseInfo> {
        response.body().info().copied()
    }
}

/// How a response's connection was obtained: the response's
/// [`ResponseInfo::connection`], and what [`EventListener::leased`] reports. Go's
/// `httptrace.GotConnInfo`.
///
/// [`EventListener::leased`]: crate::EventListener::leased
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub struct ConnectionInfo {
    /// The connection's number within its manager.
    pub connection_id: u64,
    /// `true` when it was idle in the pool, `false` when opened for this request.
    pub reused: bool,
    /// How long it sat idle before this reuse (`None` for a new connection).
    pub idle_for: Option<Duration>,
    /// Whether the stale probe ran before reuse (it runs when the connection was idle
    /// at least `validate_after_inactivity`).
    pub probed: bool,
    /// How many stale idle connections were found and closed before this one.
    pub stale_discarded: u32,
    /// How long the request queued for a slot, when the pool could not serve it at
    /// once (`None`: served at once).
    pub lease_waited: Option<Duration>,
    /// How many pooled connections idler than the keep-alive strategy admits (a
    /// learned idle limit) were closed before this one.
    pub idle_limit_closed: u32,
    /// Whether this reuse probes an idle time beyond the learned limit (an idempotent
    /// request, which the RETRY layer can send again).
    pub idle_probe: bool,
}
