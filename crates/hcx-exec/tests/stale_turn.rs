//! A stale pooled connection costs its request the connection, never its turn: the
//! request keeps the slot it was served (Apache's `PoolEntry.discardConnection`) and
//! does not go back to the end of the queue.

use std::net::TcpListener;
use std::thread;
use std::time::{Duration, Instant};

use hcx_exec::{Decision, Endpoint, Error, PoolingConnectionManager, Route};

type TestResult = Result<(), Box<dyn std::error::Error>>;

const WAIT: Duration = Duration::from_secs(5);

/// Spins (yielding, never sleeping) until `done`, at most `WAIT`.
fn until(what: &str, mut done: impl FnMut() -> Result<bool, Error>) -> TestResult {
    let deadline = Instant::now() + WAIT;
    while !done()? {
        if Instant::now() >= deadline {
            return Err(format!("never happened: {what}").into());
        }
        thread::yield_now();
    }
    Ok(())
}

fn lease_on_a_thread(
    manager: &PoolingConnectionManager,
    route: &Route,
    timeout: Duration,
) -> thread::JoinHandle<Result<Endpoint, Error>> {
    let (manager, route) = (manager.clone(), route.clone());
    thread::spawn(move || manager.lease(&route, None, timeout))
}

#[test]
fn the_oldest_waiter_served_a_stale_connection_keeps_its_turn() -> TestResult {
    let listener = TcpListener::bind("127.0.0.1:0")?;
    let route = Route::http("127.0.0.1", listener.local_addr()?.port());
    let manager = PoolingConnectionManager::builder()
        .max_total(1)
        .max_per_route(1)
        .build()?;

    // The only slot: connected, and the server hangs up on it.
    let mut held = manager.lease(&route, None, WAIT)?;
    held.connect_if_needed(Some(WAIT))?;
    drop(listener.accept()?);
    until("the server's FIN arrives", || {
        Ok(held.connection_mut().is_some_and(|c| c.is_stale()))
    })?;

    // First in line, then second.
    let first = lease_on_a_thread(&manager, &route, WAIT);
    until("the first request queues", || {
        Ok(manager.stats().pool.pending == 1)
    })?;
    let second = lease_on_a_thread(&manager, &route, WAIT);
    until("the second request queues", || {
        Ok(manager.stats().pool.pending == 2)
    })?;

    // Given back as reusable: it goes to the first request, whose probe finds it stale.
    held.release(Decision::keep(None));
    let first = first.join().map_err(|_| "first lease panicked")??;
    let info = first.info();
    assert!(!info.reused, "{info:?}");
    assert_eq!(info.stale_discarded, 1, "{info:?}");
    assert_eq!(
        manager.stats().pool.pending,
        1,
        "the second request still waits, behind the first"
    );

    drop(first);
    let second = second.join().map_err(|_| "second lease panicked")??;
    drop(second);
    let stats = manager.stats();
    assert_eq!((stats.pool.leased, stats.pool.pending), (0, 0), "{stats:?}");
    manager.pool().check_invariants()?;
    Ok(())
}
