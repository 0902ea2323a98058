//! Aborting a request from another thread. Apache HttpClient 5:
//! `HttpUriRequestBase.cancel()` (`Cancellable`); 4.5: `HttpRequestBase.abort()`.

use std::fmt;
use std::io;
use std::net::{Shutdown, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use hcx_pool::CancelHandle;
use smallvec::{SmallVec, smallvec};

use crate::connection::Connection;
use crate::error::{Error, ErrorKind};
use crate::manager::UserToken;
use crate::route::Route;
use crate::transport::SocketHandle;

/// Aborts one request, from any thread: the request fails at once with an
/// [`ErrorKind::Aborted`] error, and the connection it held is closed, never pooled.
/// Apache HttpClient 5: `HttpUriRequestBase.cancel()`; 4.5: `HttpRequestBase.abort()`.
///
/// A request carries its handle in its extensions; keep a clone to abort it with
/// (the `hcx` facade takes it from the request for the whole execution: every
/// retry and redirect hop of it). One handle is for one request in flight at a time:
/// it follows the last exchange that registered with it. An aborted handle stays
/// aborted: a request sent with it later fails before it leases a connection.
///
/// What an abort ends: the wait in the connection pool (the lease request is
/// cancelled); a TCP connect under way, every attempt of a Happy Eyeballs race, the
/// proxy tunnel and the TLS handshake (each attempt's socket is shut down); any read
/// or write on the connection (its socket is shut down, which ends a blocked call at
/// once); the `hcx` facade's default wait before a retry; a name lookup under way (a
/// request with a handle looks names up on a thread of its own, whose wait the abort
/// ends, and the connect timeout too; the lookup itself runs on, its answer dropped).
/// Not a retry sleeper of your own. Once the
/// response body has been read to its end the connection is back in the pool and an
/// abort does not touch it; an abort during the body, even one delimited by the
/// connection's close, is an error, never the body's end.
///
/// How much of the request the server may have seen is in the error's facts
/// ([`Error::request_progress`]: `NotStarted`, `Partial` or `Complete`;
/// [`Error::is_request_sent`] only when all of it went); an aborted request is never
/// retried.
///
/// Shutting a socket down needs a handle on it: a second descriptor (`dup`) of each
/// connect attempt's socket, and for the exchange
/// [`Transport::abort_socket`](crate::Transport::abort_socket) (hcx's own transports
/// share the connection's socket: no second descriptor). A request without a handle
/// pays nothing for it on a pooled connection; every connect pays the `dup` either way
/// (`shutdown_immediate` ends connects through a handle of the manager's own), and a
/// request with a handle that must look a name up pays a thread for the lookup.
///
/// ```
/// use hcx_exec::{AbortHandle, ErrorKind};
///
/// let abort = AbortHandle::new();
/// let mut request = http::Request::get("http://127.0.0.1:9/").body(hcx_exec::Body::empty())?;
/// request.extensions_mut().insert(abort.clone());
/// abort.abort(); // from another thread, typically; before the start it fails at once
/// assert!(abort.is_aborted());
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[derive(Clone, Default)]
#[doc(alias("Cancellable", "cancel", "HttpUriRequestBase", "HttpRequestBase"))]
pub struct AbortHandle {
    shared: Arc<Shared>,
}

#[derive(Default)]
struct Shared {
    /// Set once, under `target`'s lock; read without it by [`AbortHandle::is_aborted`].
    aborted: AtomicBool,
    /// What the request is blocked on, if an abort can end it.
    target: Mutex<Target>,
    /// Signalled at the abort, for [`AbortHandle::wait_timeout`].
    aborted_signal: Condvar,
}

impl Shared {
    /// The target, locked (nothing panics while holding it; a poisoned lock is taken
    /// as it is).
    fn target(&self) -> MutexGuard<'_, Target> {
        self.target.lock().unwrap_or_else(PoisonError::into_inner)
    }
}

impl Target {
    /// Whether [`AbortHandle::interrupt`] ended the connect this is the target of.
    pub(crate) fn is_interrupted(&self) -> bool {
        matches!(self, Target::ShutDown)
    }
}

/// What an abort ends.
#[derive(Default)]
pub(crate) enum Target {
    #[default]
    Nothing,
    /// A lease request waiting in the pool.
    Lease(CancelHandle<Route, Connection, UserToken>),
    /// A handle on the socket of the connection the request holds.
    Socket(SocketHandle),
    /// Second handles on the sockets of the connect attempts under way (several when
    /// addresses are raced); the winner's carries on through a tunnel and TLS. Two
    /// held inline: the usual connect, to one address, allocates no list.
    Connecting(SmallVec<[TcpStream; 2]>),
    /// The connection manager was shut down immediately while the request connected
    /// ([`AbortHandle::interrupt`]): no further connect attempt may start.
    ShutDown,
}

impl AbortHandle {
    /// A handle that has not aborted anything yet.
    pub fn new() -> Self {
        AbortHandle::default()
    }

    /// Aborts the request: ends its wait in the pool or shuts its socket down. Safe to
    /// call from any thread, any number of times, before, during or after the
    /// request; the request's own thread sees an [`ErrorKind::Aborted`] error.
    #[doc(alias("cancel"))]
    pub fn abort(&self) {
        // The flag is set under the lock, and the request's thread takes its target
        // back under the same lock (`unwatch`) and then looks at the flag: whatever this
        // takes is never pooled again, and anything registered later sees the flag.
        let target = {
            let mut target = self.shared.target();
            self.shared.aborted.store(true, Ordering::Release);
            std::mem::take(&mut *target)
        };
        self.shared.aborted_signal.notify_all();
        // Outside the lock: a cancel takes the pool's lock; the shutdown is a system
        // call (it does not block; on a socket still connecting it ends the connect).
        match target {
            Target::Nothing | Target::ShutDown => {}
            Target::Lease(lease) => {
                lease.cancel();
            }
            Target::Socket(socket) => socket.shutdown(),
            Target::Connecting(sockets) => {
                for socket in sockets {
                    let _ = socket.shutdown(Shutdown::Both);
                }
            }
        }
    }

    /// Waits `timeout`, or less if the request is aborted meanwhile: `true` when it
    /// was (at once if it was already).
    pub fn wait_timeout(&self, timeout: Duration) -> bool {
        self.wait_timeout_or(timeout, |_| false)
    }

    /// [`wait_timeout`](Self::wait_timeout), also ending when `stop` holds, looked at
    /// (with what the handle watches, under its lock: `stop` must not lock it again) on
    /// each [`notify`](Self::notify) or [`interrupt`](Self::interrupt). `true` when
    /// aborted or stopped.
    pub(crate) fn wait_timeout_or(
        &self,
        timeout: Duration,
        stop: impl Fn(&Target) -> bool,
    ) -> bool {
        let deadline = Instant::now().checked_add(timeout);
        let mut guard = self.shared.target();
        loop {
            if self.shared.aborted.load(Ordering::Acquire) || stop(&guard) {
                return true;
            }
            guard = match deadline {
                None => self
                    .shared
                    .aborted_signal
                    .wait(guard)
                    .unwrap_or_else(PoisonError::into_inner),
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return false;
                    }
                    self.shared
                        .aborted_signal
                        .wait_timeout(guard, left)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0
                }
            };
        }
    }

    /// Whether [`abort`](Self::abort) was called.
    #[doc(alias("isCancelled", "isAborted"))]
    pub fn is_aborted(&self) -> bool {
        self.shared.aborted.load(Ordering::Acquire)
    }

    /// `Err` ([`ErrorKind::Aborted`]) once aborted.
    pub(crate) fn check(&self, when: &str) -> Result<(), Error> {
        if self.is_aborted() {
            Err(aborted(when))
        } else {
            Ok(())
        }
    }

    /// Registers what an abort should end from now on; `Err` (and `target` dropped)
    /// if the request is aborted already.
    pub(crate) fn watch(&self, target: Target, when: &str) -> Result<(), Error> {
        let mut current = self.shared.target();
        if self.shared.aborted.load(Ordering::Acquire) {
            drop(current);
            drop(target);
            return Err(aborted(when));
        }
        let replaced = std::mem::replace(&mut *current, target);
        drop(current);
        // Socket handles it held (the connect attempts') are closed outside the lock.
        drop(replaced);
        Ok(())
    }

    /// Wakes a [`wait_timeout_or`](Self::wait_timeout_or) to look at its `stop`
    /// again (under the lock, so a waiter between its look and its sleep is not
    /// missed).
    pub(crate) fn notify(&self) {
        let guard = self.shared.target();
        self.shared.aborted_signal.notify_all();
        drop(guard);
    }

    /// What `shutdown_immediate` does to the work registered with it: a wait
    /// ([`wait_timeout_or`](Self::wait_timeout_or)) looks at its `stop` again, and a
    /// connect ends, its attempts' sockets shut down and no further one started. Not
    /// an abort: the handle does not become aborted (the request fails with the
    /// manager's `Shutdown` error), and anything else it watches is left alone.
    pub(crate) fn interrupt(&self) {
        let sockets = {
            let mut current = self.shared.target();
            // Notified under the lock: a waiter between its look and its sleep is not
            // missed.
            self.shared.aborted_signal.notify_all();
            match &mut *current {
                Target::Connecting(sockets) => {
                    let sockets = std::mem::take(sockets);
                    *current = Target::ShutDown;
                    sockets
                }
                Target::Nothing => {
                    *current = Target::ShutDown;
                    SmallVec::new()
                }
                Target::Lease(_) | Target::Socket(_) | Target::ShutDown => SmallVec::new(),
            }
        };
        for socket in sockets {
            let _ = socket.shutdown(Shutdown::Both);
        }
    }

    /// Forgets an interrupt once the work it ended is over: the handle may follow
    /// another request, on another manager, whose connects must not be refused.
    pub(crate) fn clear_interrupt(&self) {
        let mut current = self.shared.target();
        if matches!(*current, Target::ShutDown) {
            *current = Target::Nothing;
        }
    }

    /// Adds the socket of a connect attempt about to start (a second handle on it): an
    /// abort shuts it down, which ends the connect, and the tunnel and TLS handshake
    /// after it. `Err` (the attempt must not start) once aborted.
    pub(crate) fn add_connecting(&self, socket: TcpStream) -> io::Result<()> {
        let replaced = {
            let mut current = self.shared.target();
            if self.shared.aborted.load(Ordering::Acquire) {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the request was aborted",
                ));
            }
            if matches!(*current, Target::ShutDown) {
                return Err(io::Error::new(
                    io::ErrorKind::ConnectionAborted,
                    "the connection manager was shut down (shutdown_immediate)",
                ));
            }
            match &mut *current {
                Target::Connecting(sockets) => {
                    sockets.push(socket);
                    Target::Nothing
                }
                other => std::mem::replace(other, Target::Connecting(smallvec![socket])),
            }
        };
        drop(replaced);
        Ok(())
    }

    /// After a race of connect attempts: keeps only the winner's socket (the one bound
    /// to `local`), so the losers' second descriptors close now, and a loser that
    /// connected is not held open (no FIN sent) until the connect ends.
    pub(crate) fn keep_connecting(&self, local: std::net::SocketAddr) {
        let losers: SmallVec<[TcpStream; 2]> = {
            let mut current = self.shared.target();
            match &mut *current {
                Target::Connecting(sockets) => {
                    let (winner, losers) = sockets
                        .drain(..)
                        .partition(|s| s.local_addr().ok() == Some(local));
                    *sockets = winner;
                    losers
                }
                _ => SmallVec::new(),
            }
        };
        // Closed outside the lock.
        drop(losers);
    }

    /// Closes the second descriptors of the connect attempts so far (a connection the
    /// proxy refused with a 407 before the connect starts again).
    pub(crate) fn forget_connecting(&self) {
        let gone: SmallVec<[TcpStream; 2]> = match &mut *self.shared.target() {
            Target::Connecting(sockets) => std::mem::take(sockets),
            _ => SmallVec::new(),
        };
        drop(gone);
    }

    /// Takes back what [`watch`](Self::watch) registered; `true` if the request was
    /// aborted (then the connection, whose socket may be shut down, must not be
    /// pooled).
    pub(crate) fn unwatch(&self) -> bool {
        let (target, aborted) = {
            let mut current = self.shared.target();
            (
                std::mem::take(&mut *current),
                self.shared.aborted.load(Ordering::Acquire),
            )
        };
        // The second socket handle is closed outside the lock.
        drop(target);
        aborted
    }
}

/// The error of an aborted request; `when` says what it was doing.
pub(crate) fn aborted(when: &str) -> Error {
    Error::new(
        ErrorKind::Aborted,
        format!("the request was aborted {when}"),
    )
}

impl fmt::Debug for AbortHandle {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("AbortHandle")
            .field("aborted", &self.is_aborted())
            .finish()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Read;
    use std::net::TcpListener;

    #[test]
    fn an_abort_shuts_the_watched_socket_and_is_seen_at_unwatch() -> std::io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let mut client = TcpStream::connect(listener.local_addr()?)?;
        let (_server, _) = listener.accept()?;
        let abort = AbortHandle::new();
        assert!(
            abort
                .watch(Target::Socket(SocketHandle::new(client.try_clone()?)), "x")
                .is_ok()
        );
        let reader = std::thread::spawn(move || {
            let mut buf = [0u8; 8];
            client.read(&mut buf)
        });
        abort.abort();
        // The blocked read ends: end of stream after a shutdown.
        let read = reader
            .join()
            .map_err(|_| std::io::Error::other("the reader panicked"))?;
        assert!(matches!(read, Ok(0)), "{read:?}");
        assert!(abort.unwatch(), "the owner learns of the abort");
        assert!(abort.is_aborted());
        Ok(())
    }

    #[test]
    fn an_interrupt_ends_the_connect_attempts_refuses_more_and_is_no_abort() -> std::io::Result<()>
    {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let mut attempt = TcpStream::connect(listener.local_addr()?)?;
        let (_server, _) = listener.accept()?;
        let handle = AbortHandle::new();
        handle.add_connecting(attempt.try_clone()?)?;
        handle.interrupt();
        assert_eq!(attempt.read(&mut [0u8; 1])?, 0, "shut down: end of stream");
        let refused = handle.add_connecting(attempt.try_clone()?);
        assert_eq!(
            refused.map_err(|e| e.kind()),
            Err(std::io::ErrorKind::ConnectionAborted),
            "no attempt starts after the interrupt"
        );
        assert!(!handle.is_aborted(), "an interrupt is not an abort");
        assert!(!handle.unwatch());
        Ok(())
    }

    #[test]
    fn nothing_is_watched_after_an_abort_and_a_later_abort_touches_nothing_released()
    -> std::io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let client = TcpStream::connect(listener.local_addr()?)?;
        let (_server, _) = listener.accept()?;
        let abort = AbortHandle::new();
        abort
            .watch(Target::Socket(SocketHandle::new(client.try_clone()?)), "x")
            .ok();
        assert!(!abort.unwatch(), "released before any abort");
        abort.abort();
        // The socket was taken back first: still open for writing.
        assert!(std::io::Write::write(&mut &client, b"a").is_ok());
        let refused = abort.watch(
            Target::Socket(SocketHandle::new(client.try_clone()?)),
            "while leasing",
        );
        let error = refused.err().map(|e| (e.kind(), e.to_string()));
        assert_eq!(
            error,
            Some((
                ErrorKind::Aborted,
                "the request was aborted while leasing".to_string()
            ))
        );
        Ok(())
    }

    #[test]
    fn after_a_race_only_the_winner_is_left_to_the_abort() -> std::io::Result<()> {
        let listener = TcpListener::bind("127.0.0.1:0")?;
        let abort = AbortHandle::new();
        let mut attempts = Vec::new();
        for _ in 0..3 {
            let stream = TcpStream::connect(listener.local_addr()?)?;
            let (peer, _) = listener.accept()?;
            abort.add_connecting(stream.try_clone()?)?;
            attempts.push((stream, peer));
        }
        abort.keep_connecting(attempts[1].0.local_addr()?);
        abort.abort();
        // The winner is shut down; the losers' descriptors were let go, not shut down.
        assert_eq!((&attempts[1].0).read(&mut [0u8; 1])?, 0);
        for i in [0, 2] {
            std::io::Write::write_all(&mut &attempts[i].0, b"x")?;
            let mut byte = [0u8; 1];
            (&attempts[i].1).read_exact(&mut byte)?;
            assert_eq!(&byte, b"x", "loser {i} untouched");
        }
        Ok(())
    }
}
