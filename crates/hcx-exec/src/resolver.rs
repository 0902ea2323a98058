//! Name resolution, pluggable so tests can map names to loopback.

use std::collections::HashMap;
use std::fmt;
use std::io;
use std::net::{IpAddr, SocketAddr, ToSocketAddrs};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

use crate::abort::AbortHandle;

/// Turns a host name into socket addresses. Apache HttpClient calls this
/// `DnsResolver`.
///
/// Connect races the addresses as RFC 8305 ("Happy Eyeballs") says, within one
/// connect timeout: IPv6 and IPv4 interleaved, starting with the family of the first
/// address and keeping the order given within each family, the next attempt 250 ms
/// after the previous one (or at once when it fails); the first to connect wins.
#[doc(alias("DnsResolver"))]
pub trait Resolver: Send + Sync {
    /// The addresses of `host` (a name or an IP literal, IPv6 without brackets) at
    /// `port`. An empty list is treated as "not found".
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>>;

    /// The address an IP literal `host` stands for, when this resolver would answer
    /// the literal with that one address: the connect then asks no lookup and makes
    /// no list of one. `None` (the default): [`resolve`](Self::resolve) is asked for
    /// every host, literals included, as Apache asks its `DnsResolver`. The system's
    /// resolver and [`StaticResolver`] answer literals with themselves.
    fn literal(&self, host: &str, port: u16) -> Option<SocketAddr> {
        let _ = (host, port);
        None
    }
}

/// `host` at `port` when it is an IP literal (IPv6 without brackets).
fn ip_literal(host: &str, port: u16) -> Option<SocketAddr> {
    host.parse::<IpAddr>()
        .ok()
        .map(|ip| SocketAddr::new(ip, port))
}

impl<F> Resolver for F
where
    F: Fn(&str, u16) -> io::Result<Vec<SocketAddr>> + Send + Sync,
{
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        self(host, port)
    }
}

/// The operating system's resolver (`getaddrinfo` through [`ToSocketAddrs`]). The
/// default. Apache: `SystemDefaultDnsResolver`.
#[derive(Debug, Clone, Copy, Default)]
#[doc(alias("SystemDefaultDnsResolver"))]
pub struct SystemResolver;

impl Resolver for SystemResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Some(addr) = ip_literal(host, port) {
            return Ok(vec![addr]);
        }
        Ok((host, port).to_socket_addrs()?.collect())
    }

    fn literal(&self, host: &str, port: u16) -> Option<SocketAddr> {
        ip_literal(host, port)
    }
}

/// A fixed table of names to IP addresses, for tests: `a.test` and `b.test` can both
/// point at loopback servers without touching DNS. Unknown names are not found; IP
/// literals resolve to themselves. Apache: `InMemoryDnsResolver`.
///
/// ```
/// use hcx_exec::{Resolver, StaticResolver};
/// let resolver = StaticResolver::new().with("a.test", [127, 0, 0, 1].into());
/// assert_eq!(resolver.resolve("A.test", 80)?, vec!["127.0.0.1:80".parse()?]);
/// assert!(resolver.resolve("b.test", 80).is_err());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
#[doc(alias("InMemoryDnsResolver"))]
pub struct StaticResolver {
    names: HashMap<String, Vec<IpAddr>>,
}

impl StaticResolver {
    /// An empty table.
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds `ip` to the addresses of `name` (case-insensitive).
    pub fn with(mut self, name: &str, ip: IpAddr) -> Self {
        self.names
            .entry(name.to_ascii_lowercase())
            .or_default()
            .push(ip);
        self
    }
}

impl Resolver for StaticResolver {
    fn resolve(&self, host: &str, port: u16) -> io::Result<Vec<SocketAddr>> {
        if let Some(addr) = ip_literal(host, port) {
            return Ok(vec![addr]);
        }
        match self.names.get(&host.to_ascii_lowercase()) {
            Some(ips) => Ok(ips.iter().map(|&ip| SocketAddr::new(ip, port)).collect()),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{host} is not in the static resolver's table"),
            )),
        }
    }

    fn literal(&self, host: &str, port: u16) -> Option<SocketAddr> {
        ip_literal(host, port)
    }
}

impl fmt::Debug for StaticResolver {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_map().entries(self.names.iter()).finish()
    }
}

/// Why [`resolve_watched`] stopped waiting without a result.
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum LookupCut {
    /// Aborted, or interrupted by `shutdown_immediate`.
    Interrupted,
    /// The deadline (the connect timeout) passed.
    TimedOut,
}

/// Resolves `host` on a thread of its own while the caller waits for the answer, an
/// abort or interruption of `watch`, or `deadline`: a lookup that hangs (a name server
/// that does not answer) does not hold a request its caller gave up on. The lookup
/// itself runs on to its end on that thread, its answer dropped.
pub(crate) fn resolve_watched(
    resolver: &Arc<dyn Resolver>,
    host: &str,
    port: u16,
    watch: &AbortHandle,
    deadline: Option<Instant>,
) -> Result<io::Result<Vec<SocketAddr>>, LookupCut> {
    let answer: Arc<Mutex<Option<io::Result<Vec<SocketAddr>>>>> = Arc::default();
    let spawned = {
        let (resolver, host, answer, watch) = (
            Arc::clone(resolver),
            host.to_owned(),
            Arc::clone(&answer),
            watch.clone(),
        );
        std::thread::Builder::new()
            .name("hcx-resolve".into())
            .spawn(move || {
                // A resolver that panics answers with an error, at once: the request
                // must not wait for its connect timeout.
                let result = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    resolver.resolve(&host, port)
                }))
                .unwrap_or_else(|_| Err(io::Error::other("the resolver panicked")));
                *answer.lock().unwrap_or_else(PoisonError::into_inner) = Some(result);
                watch.notify();
            })
    };
    if let Err(e) = spawned {
        // No thread to spare: the lookup on this one, as without a handle.
        drop(e);
        return Ok(resolver.resolve(host, port));
    }
    let take = || answer.lock().unwrap_or_else(PoisonError::into_inner).take();
    let timeout = deadline.map_or(std::time::Duration::MAX, |d| {
        d.saturating_duration_since(Instant::now())
    });
    let answered = || {
        answer
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .is_some()
    };
    let ended = watch.wait_timeout_or(timeout, |target| answered() || target.is_interrupted());
    match take() {
        Some(result) => Ok(result),
        None if ended => Err(LookupCut::Interrupted),
        None => Err(LookupCut::TimedOut),
    }
}
