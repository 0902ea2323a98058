//! Opening a TCP connection: resolve, then connect to the addresses within the
//! connect timeout, with the socket options set where they must be.
//!
//! One address (an IP literal, most `localhost`s) is one blocking connect on the
//! caller's thread: no thread, no channel. Several are raced as RFC 8305 ("Happy
//! Eyeballs v2") says, in [`happy_eyeballs`]: families interleaved, the next attempt
//! [`CONNECTION_ATTEMPT_DELAY`] after the previous one or as soon as it fails, the
//! first to connect wins. Go's dialer and OkHttp race addresses too; Apache HttpClient
//! tries the addresses one after another, each with the whole connect timeout.

mod happy_eyeballs;

use std::io;
use std::net::{IpAddr, SocketAddr, TcpStream};
use std::time::{Duration, Instant};

use socket2::{Domain, Protocol, SockAddr, Socket, Type};

use crate::abort::AbortHandle;
use crate::config::SocketConfig;
use crate::error::{Error, ErrorKind, is_timeout};
use crate::resolver::Resolver;
use crate::route::HostPort;

/// How long an attempt has before the next address is tried too: 250 ms, the
/// "Connection Attempt Delay" RFC 8305 §5 recommends (Go's dialer uses 300 ms,
/// OkHttp 250 ms). An attempt that fails sooner starts the next at once.
const CONNECTION_ATTEMPT_DELAY: Duration = Duration::from_millis(250);

/// Resolves `host` and connects to `port` on its addresses by `deadline` (`None`: no
/// limit), what is left of the connect timeout `timeout` (the one errors name), with
/// the socket options of `socket`, each socket bound to `local` first when it is
/// given (and only the addresses of its family tried). Several addresses are raced
/// (RFC 8305, see the module docs); the first that accepts wins.
///
/// Errors: [`UnknownHost`](ErrorKind::UnknownHost) when nothing resolves,
/// [`ConnectTimeout`](ErrorKind::ConnectTimeout) when `timeout` runs out,
/// [`Connect`](ErrorKind::Connect) when every address failed (the last failure is
/// the source) or none is of the local address's family.
#[allow(clippy::too_many_arguments)]
pub(crate) fn connect_tcp(
    host: &str,
    port: u16,
    resolver: &dyn Resolver,
    timeout: Duration,
    deadline: Option<Instant>,
    socket: &SocketConfig,
    local: Option<IpAddr>,
    abort: Option<&AbortHandle>,
) -> Result<TcpStream, Error> {
    connect_tcp_with(
        host,
        port,
        resolver,
        (timeout, deadline),
        (socket, local),
        CONNECTION_ATTEMPT_DELAY,
        abort,
    )
}

/// [`connect_tcp`] with the delay between attempts as a parameter, for tests.
fn connect_tcp_with(
    host: &str,
    port: u16,
    resolver: &dyn Resolver,
    (timeout, deadline): (Duration, Option<Instant>),
    (socket, local): (&SocketConfig, Option<IpAddr>),
    attempt_delay: Duration,
    abort: Option<&AbortHandle>,
) -> Result<TcpStream, Error> {
    // An IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is its IPv4 address: an IPv6
    // socket bound to it reaches no IPv6 address.
    let local = local.map(|local| local.to_canonical());
    if let Some(addr) = resolver.literal(host, port) {
        let addr = match local {
            Some(local) => reachable_from(addr, local)
                .ok_or_else(|| no_address_of_the_family(host, port, 1, local))?,
            None => addr,
        };
        return connect_single(addr, deadline, socket, local, abort)
            .map_err(|failure| failure.into_error(host, port, timeout, 1));
    }
    let addrs = resolver.resolve(host, port).map_err(|e| {
        Error::new(ErrorKind::UnknownHost, format!("cannot resolve {host}")).with_source(e)
    })?;
    let mut addrs = happy_eyeballs::interleave_families(addrs);
    let resolved = addrs.len();
    if let Some(local) = local {
        addrs.retain_mut(|addr| match reachable_from(*addr, local) {
            Some(reached) => {
                *addr = reached;
                true
            }
            None => false,
        });
    }
    let outcome = match addrs.as_slice() {
        [] => {
            return Err(match local {
                Some(local) if resolved > 0 => {
                    no_address_of_the_family(host, port, resolved, local)
                }
                _ => Error::new(
                    ErrorKind::UnknownHost,
                    format!("cannot resolve {host}: no addresses"),
                ),
            });
        }
        [addr] => connect_single(*addr, deadline, socket, local, abort),
        addrs => {
            let won = happy_eyeballs::race(addrs, deadline, attempt_delay, socket, local, abort);
            if let (Ok(stream), Some(abort)) = (&won, abort)
                && let Ok(local) = stream.local_addr()
            {
                abort.keep_connecting(local);
            }
            won
        }
    };
    outcome.map_err(|failure| failure.into_error(host, port, timeout, addrs.len()))
}

/// `addr` as a socket bound to `local` (canonical) reaches it, or `None` when it is
/// of the other family: an IPv4-mapped IPv6 address (`::ffff:a.b.c.d`) is its IPv4
/// address then (an unbound IPv6 socket reaches it as it is).
fn reachable_from(addr: SocketAddr, local: IpAddr) -> Option<SocketAddr> {
    let addr = SocketAddr::new(addr.ip().to_canonical(), addr.port());
    (addr.is_ipv4() == local.is_ipv4()).then_some(addr)
}

/// None of the `resolved` addresses of `host` is of the family of `local`.
fn no_address_of_the_family(host: &str, port: u16, resolved: usize, local: IpAddr) -> Error {
    let target = HostPort(host, port);
    let family = if local.is_ipv4() { "IPv4" } else { "IPv6" };
    Error::new(
        ErrorKind::Connect,
        format!(
            "cannot connect to {target} from {local}: none of its {resolved} \
             address(es) is {family}"
        ),
    )
}

/// The one address: a plain blocking connect with what is left of the timeout.
fn connect_single(
    addr: SocketAddr,
    deadline: Option<Instant>,
    socket: &SocketConfig,
    local: Option<IpAddr>,
    abort: Option<&AbortHandle>,
) -> Result<TcpStream, Failure> {
    let mut failure = Failure::default();
    let remaining = remaining(deadline);
    if remaining == Some(Duration::ZERO) {
        failure.timed_out = true;
        return Err(failure);
    }
    failure.tried = 1;
    connect_one(addr, remaining, socket, local, abort).map_err(|e| {
        failure.record(addr, e);
        failure
    })
}

/// What is left of the connect timeout: `None` without a deadline, zero once it has
/// passed.
fn remaining(deadline: Option<Instant>) -> Option<Duration> {
    deadline.map(|deadline| deadline.saturating_duration_since(Instant::now()))
}

/// A socket could not be bound to the local address (an address this host does not
/// have, say): the inner error of the attempt's `io::Error`, so that the connect's
/// error can say so.
#[derive(Debug)]
struct BindFailed {
    local: IpAddr,
    source: io::Error,
}

impl std::fmt::Display for BindFailed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The system's reason is the source: an error chain prints it once.
        write!(f, "binding to {}", self.local)
    }
}

impl std::error::Error for BindFailed {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// How the attempts of one connect went when none succeeded.
#[derive(Debug, Default)]
struct Failure {
    /// Attempts started.
    tried: usize,
    /// The connect timeout ran out (an attempt timing out means the same: every
    /// attempt is given what is left of it).
    timed_out: bool,
    /// The last attempt that failed, and why.
    last: Option<(SocketAddr, io::Error)>,
}

impl Failure {
    fn record(&mut self, addr: SocketAddr, e: io::Error) {
        self.timed_out |= is_timeout(&e);
        self.last = Some((addr, e));
    }

    /// The error `connect_tcp` returns, with `resolved` addresses to try.
    fn into_error(self, host: &str, port: u16, timeout: Duration, resolved: usize) -> Error {
        let target = HostPort(host, port);
        let Failure {
            tried,
            timed_out,
            last,
        } = self;
        if timed_out {
            // The message says what and when; the cause, when an attempt's own
            // "timed out" is at hand, stays in the source. A refusal from an earlier
            // address is not the cause of a timeout.
            let error = Error::new(
                ErrorKind::ConnectTimeout,
                format!(
                    "no connection to {target} within the connect timeout of {timeout:?} \
                     ({tried} of {resolved} address(es) tried)"
                ),
            );
            return match last {
                Some((_, e)) if is_timeout(&e) => error.with_source(e),
                _ => error,
            };
        }
        // A socket that could not be bound to the local address: said at the top, not
        // only in the source (the addresses tried do not matter then).
        let unbound = last
            .as_ref()
            .and_then(|(_, e)| e.get_ref())
            .and_then(|inner| inner.downcast_ref::<BindFailed>())
            .map(|bind| bind.local);
        match (unbound, last) {
            (Some(local), Some((_, e))) => Error::new(
                ErrorKind::Connect,
                format!(
                    "cannot connect to {target}: no socket could be bound to the local \
                     address {local}"
                ),
            )
            .with_source(e),
            (_, Some((addr, e))) => Error::new(
                ErrorKind::Connect,
                format!(
                    "connect to {target} failed (last tried {addr}, {tried} of {resolved} \
                     address(es) tried)"
                ),
            )
            .with_source(e),
            (_, None) => Error::new(ErrorKind::Connect, format!("connect to {target} failed")),
        }
    }
}

/// The longest `SO_LINGER` the system holds, in seconds: `l_linger` is an `int`, and a
/// `u_short` on Windows (socket2 casts with `as`, so a larger value would wrap, to 0 at
/// 2^16 s there: a reset instead of a graceful close).
#[cfg(windows)]
const LINGER_MAX_SECS: u64 = u16::MAX as u64;
#[cfg(not(windows))]
const LINGER_MAX_SECS: u64 = i32::MAX as u64;

/// One TCP connect with the socket options set where they must be.
fn connect_one(
    addr: SocketAddr,
    timeout: Option<Duration>,
    config: &SocketConfig,
    local: Option<IpAddr>,
    abort: Option<&AbortHandle>,
) -> io::Result<TcpStream> {
    connect_opened(open(addr, config, local, abort)?, addr, timeout, config)
}

/// A socket for `addr` with the options that must be set before the handshake: the
/// buffer sizes (the window scale is agreed in the SYN), and the local address it is
/// bound to, if any (any port).
fn open(
    addr: SocketAddr,
    config: &SocketConfig,
    local: Option<IpAddr>,
    abort: Option<&AbortHandle>,
) -> io::Result<Socket> {
    let socket = Socket::new(Domain::for_address(addr), Type::STREAM, Some(Protocol::TCP))?;
    if let Some(local) = local {
        // Linux: the port is picked at connect time, for this destination, instead of
        // at bind time among the ports free for every destination: bound sockets
        // would otherwise share one range of ~28K ports (TIME_WAIT included) whatever
        // they connect to (curl and nginx set it too). Best effort: without it the
        // bind still works.
        #[cfg(target_os = "linux")]
        let _ = nix::sys::socket::setsockopt(
            &socket,
            nix::sys::socket::sockopt::IpBindAddressNoPort,
            &true,
        );
        socket
            .bind(&SockAddr::from(SocketAddr::new(local, 0)))
            .map_err(|source| io::Error::new(source.kind(), BindFailed { local, source }))?;
    }
    if let Some(abort) = abort {
        // An abort from here on shuts it down: the connect, tunnel and handshake end.
        abort.add_connecting(socket.try_clone()?.into())?;
    }
    if let Some(size) = config.recv_buffer_size {
        socket.set_recv_buffer_size(size)?;
    }
    if let Some(size) = config.send_buffer_size {
        socket.set_send_buffer_size(size)?;
    }
    Ok(socket)
}

/// Connects a socket from [`open`] within `timeout`, then sets the options of a
/// connected socket.
fn connect_opened(
    socket: Socket,
    addr: SocketAddr,
    timeout: Option<Duration>,
    config: &SocketConfig,
) -> io::Result<TcpStream> {
    let target = SockAddr::from(addr);
    match timeout {
        Some(timeout) => socket.connect_timeout(&target, timeout)?,
        None => socket.connect(&target)?,
    }
    socket.set_tcp_nodelay(config.tcp_nodelay)?;
    if let Some(linger) = config.linger {
        // The system counts whole seconds in an int (a u_short on Windows): a part of a
        // second is rounded up (only ZERO means "reset at once"), more than it holds is
        // its most.
        let secs = if linger.is_zero() {
            0
        } else {
            linger
                .as_secs()
                .saturating_add(u64::from(linger.subsec_nanos() > 0))
                .min(LINGER_MAX_SECS)
        };
        socket.set_linger(Some(Duration::from_secs(secs)))?;
    }
    if let Some(keepalive) = &config.tcp_keepalive {
        let params = socket2::TcpKeepalive::new().with_time(keepalive.idle);
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "windows"
        ))]
        let params = params.with_interval(keepalive.interval);
        #[cfg(windows)]
        let without_retries = params.clone();
        #[cfg(any(
            target_os = "linux",
            target_os = "android",
            target_os = "macos",
            target_os = "ios",
            target_os = "freebsd",
            target_os = "netbsd",
            target_os = "windows"
        ))]
        let params = params.with_retries(keepalive.retries);
        let applied = socket.set_tcp_keepalive(&params);
        // Windows takes TCP_KEEPCNT from Windows 10 1703 on; before it (Server 2016)
        // the option is refused and the count is fixed at 10: idle and interval apply.
        #[cfg(windows)]
        let applied = applied.or_else(|_| socket.set_tcp_keepalive(&without_retries));
        applied?;
    }
    Ok(socket.into())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::resolver::{StaticResolver, SystemResolver};
    use std::net::TcpListener;

    /// [`super::connect_tcp`] without an abort handle.
    pub(super) fn connect_tcp(
        host: &str,
        port: u16,
        resolver: &dyn Resolver,
        timeout: Duration,
        socket: &SocketConfig,
    ) -> Result<TcpStream, Error> {
        // `None`: a timeout too long to fall on an `Instant`, i.e. none.
        let deadline = Instant::now().checked_add(timeout);
        super::connect_tcp(host, port, resolver, timeout, deadline, socket, None, None)
    }

    /// [`super::connect_tcp_with`] without an abort handle.
    pub(super) fn connect_tcp_with(
        host: &str,
        port: u16,
        resolver: &dyn Resolver,
        timeout: Duration,
        socket: &SocketConfig,
        attempt_delay: Duration,
    ) -> Result<TcpStream, Error> {
        let deadline = Instant::now().checked_add(timeout);
        super::connect_tcp_with(
            host,
            port,
            resolver,
            (timeout, deadline),
            (socket, None),
            attempt_delay,
            None,
        )
    }

    /// [`super::connect_one`] without an abort handle.
    fn connect_one(
        addr: SocketAddr,
        timeout: Option<Duration>,
        config: &SocketConfig,
    ) -> io::Result<TcpStream> {
        super::connect_one(addr, timeout, config, None, None)
    }

    /// An IPv6 target is written as a URL writes it, so the port cannot be read as part
    /// of the address.
    #[test]
    fn a_failed_connect_to_an_ipv6_literal_names_it_in_brackets() -> io::Result<()> {
        let port = TcpListener::bind("[::1]:0")?.local_addr()?.port();
        let error = connect_tcp(
            "::1",
            port,
            &SystemResolver,
            Duration::from_secs(10),
            &SocketConfig::default(),
        )
        .err()
        .ok_or_else(|| io::Error::other("nothing listens there"))?;
        assert_eq!(error.kind(), ErrorKind::Connect);
        let text = error.to_string();
        assert!(
            text.contains(&format!("connect to [::1]:{port} failed")),
            "{text}"
        );
        Ok(())
    }

    #[test]
    fn socket_options_are_applied_at_connect() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let config = SocketConfig::default()
            .with_tcp_nodelay(false)
            .with_linger(Some(Duration::from_secs(3)))
            .with_send_buffer_size(Some(64 * 1024))
            .with_recv_buffer_size(Some(64 * 1024));
        let stream = connect_one(
            listener.local_addr()?,
            Some(Duration::from_secs(5)),
            &config,
        )?;
        let sock = socket2::SockRef::from(&stream);
        assert!(!sock.tcp_nodelay()?);
        assert!(!sock.keepalive()?, "TCP keep-alive is off unless asked for");
        assert_eq!(sock.linger()?, Some(Duration::from_secs(3)));
        // Linux doubles what is asked for, to leave room for its bookkeeping.
        assert!(sock.send_buffer_size()? >= 64 * 1024);
        assert!(sock.recv_buffer_size()? >= 64 * 1024);
        let default = connect_one(listener.local_addr()?, None, &SocketConfig::default())?;
        assert!(
            socket2::SockRef::from(&default).tcp_nodelay()?,
            "TCP_NODELAY by default"
        );
        Ok(())
    }

    #[test]
    #[cfg(target_os = "linux")]
    fn tcp_keepalive_is_set_with_its_timing() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let keepalive =
            crate::config::TcpKeepalive::new(Duration::from_secs(45), Duration::from_secs(10), 4);
        let config = SocketConfig::default().with_tcp_keepalive(Some(keepalive));
        let stream = connect_one(listener.local_addr()?, None, &config)?;
        let sock = socket2::SockRef::from(&stream);
        assert!(sock.keepalive()?);
        assert_eq!(sock.tcp_keepalive_time()?, Duration::from_secs(45));
        assert_eq!(sock.tcp_keepalive_interval()?, Duration::from_secs(10));
        assert_eq!(sock.tcp_keepalive_retries()?, 4);
        Ok(())
    }

    #[test]
    fn the_winner_of_a_race_has_the_socket_options() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let resolver = move |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
            Ok(vec![
                SocketAddr::from(([127, 0, 0, 1], port)),
                SocketAddr::from(([127, 0, 0, 1], port)),
            ])
        };
        let config = SocketConfig::default()
            .with_tcp_nodelay(false)
            .with_linger(Some(Duration::from_secs(3)));
        let stream = connect_tcp("two.test", port, &resolver, Duration::from_secs(5), &config)
            .map_err(io::Error::other)?;
        let sock = socket2::SockRef::from(&stream);
        assert!(!sock.tcp_nodelay()?);
        assert_eq!(sock.linger()?, Some(Duration::from_secs(3)));
        Ok(())
    }

    #[test]
    fn connect_tries_every_address() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        // Nothing listens on port 1: refused at once.
        let resolver = move |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
            Ok(vec![
                SocketAddr::from(([127, 0, 0, 1], 1)),
                SocketAddr::from(([127, 0, 0, 1], port)),
            ])
        };
        let stream = connect_tcp(
            "multi.test",
            port,
            &resolver,
            Duration::from_secs(5),
            &SocketConfig::default(),
        )
        .map_err(io::Error::other)?;
        assert_eq!(stream.peer_addr()?.port(), port);
        Ok(())
    }

    #[test]
    fn a_literal_skips_the_lookup_only_where_the_resolver_says_so() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let config = SocketConfig::default();
        let wait = Duration::from_secs(5);
        // A resolver of your own is asked for a literal too: this one sends port 1
        // (refused at once) to the listener.
        let asked = std::sync::atomic::AtomicUsize::new(0);
        let own = |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
            asked.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port))])
        };
        let stream = connect_tcp("127.0.0.1", 1, &own, wait, &config).map_err(io::Error::other)?;
        assert_eq!(stream.peer_addr()?.port(), port);
        assert_eq!(asked.load(std::sync::atomic::Ordering::Relaxed), 1);
        // The system's and the static resolver answer a literal with itself, IPv6 too.
        assert_eq!(own.literal("127.0.0.1", 1), None);
        for resolver in [&SystemResolver as &dyn Resolver, &StaticResolver::new()] {
            assert_eq!(
                resolver.literal("127.0.0.1", port),
                Some(SocketAddr::from(([127, 0, 0, 1], port)))
            );
            assert_eq!(
                resolver.literal("::1", 80),
                Some(SocketAddr::from((std::net::Ipv6Addr::LOCALHOST, 80)))
            );
            assert_eq!(resolver.literal("localhost", 80), None);
            let stream = connect_tcp("127.0.0.1", port, resolver, wait, &config)
                .map_err(io::Error::other)?;
            assert_eq!(stream.peer_addr()?.port(), port);
            let refused = connect_tcp("127.0.0.1", 1, resolver, wait, &config).err();
            assert!(refused.is_some_and(|e| e.kind() == ErrorKind::Connect
                && e.to_string().contains("1 of 1 address(es) tried")));
        }
        Ok(())
    }

    #[test]
    fn an_exhausted_connect_timeout_is_a_connect_timeout() -> io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let port = listener.local_addr()?.port();
        let config = SocketConfig::default();
        let error = connect_tcp("127.0.0.1", port, &SystemResolver, Duration::ZERO, &config).err();
        assert!(error.is_some_and(|e| e.kind() == ErrorKind::ConnectTimeout
            && e.is_connect()
            && e.to_string().contains("connect timeout of 0ns")
            && e.to_string().contains("0 of 1 address(es) tried")));
        let two = move |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> {
            Ok(vec![SocketAddr::from(([127, 0, 0, 1], port)); 2])
        };
        let error = connect_tcp("two.test", port, &two, Duration::ZERO, &config).err();
        assert!(error.is_some_and(|e| e.kind() == ErrorKind::ConnectTimeout
            && e.to_string().contains("0 of 2 address(es) tried")));
        Ok(())
    }

    #[test]
    fn refused_and_unknown_names_are_told_apart() {
        let resolver = StaticResolver::new();
        let config = SocketConfig::default();
        let wait = Duration::from_secs(1);
        let e = connect_tcp("nowhere.test", 80, &resolver, wait, &config).err();
        assert!(e.is_some_and(
            |e| e.kind() == ErrorKind::UnknownHost && e.to_string().contains("nowhere.test")
        ));
        let e = connect_tcp("127.0.0.1", 1, &resolver, wait, &config).err();
        assert!(e.is_some_and(|e| e.kind() == ErrorKind::Connect && !e.is_connect_timeout()));
        let nothing = |_: &str, _: u16| -> io::Result<Vec<SocketAddr>> { Ok(Vec::new()) };
        let e = connect_tcp("empty.test", 80, &nothing, wait, &config).err();
        assert!(e.is_some_and(
            |e| e.kind() == ErrorKind::UnknownHost && e.to_string().contains("no addresses")
        ));
    }

    /// A socket bound to a local address leaves the port to the connect (Linux's
    /// `IP_BIND_ADDRESS_NO_PORT`), so bound connections to different destinations
    /// can share source ports; an unbound one is left as it is.
    #[cfg(target_os = "linux")]
    #[test]
    fn a_bound_socket_leaves_its_port_to_the_connect() -> io::Result<()> {
        use nix::sys::socket::{getsockopt, sockopt::IpBindAddressNoPort};
        let target = SocketAddr::from(([127, 0, 0, 1], 9));
        let local = Some(std::net::IpAddr::from([127, 0, 0, 1]));
        let bound = open(target, &SocketConfig::default(), local, None)?;
        assert!(getsockopt(&bound, IpBindAddressNoPort)?);
        assert_eq!(bound.local_addr()?.as_socket().map(|a| a.port()), Some(0));
        let unbound = open(target, &SocketConfig::default(), None, None)?;
        assert!(!getsockopt(&unbound, IpBindAddressNoPort)?);
        Ok(())
    }
}
