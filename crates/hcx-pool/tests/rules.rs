//! The pool's rules, one behaviour per test. Includes behaviour equivalents of Apache
//! HttpCore's pool suites (`TestStrictConnPool`, `TestLaxConnPool`, 4.4's
//! `TestConnPool`), rewritten against our API.

mod common;

use std::future::Future;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Wake, Waker};
use std::thread;
use std::time::Duration;

use common::*;
use hcx_pool::{
    CloseReason, ConfigError, Decision, LeaseError, ManualClock, Pool, PoolConfig, ReusePolicy,
};
use std::task::Poll;

#[test]
fn zero_limits_are_config_errors() {
    let err = Pool::<Route, Conn>::new(PoolConfig::with_limits(0, 2)).unwrap_err();
    assert_eq!(err, ConfigError::ZeroMaxTotal);
    let err = Pool::<Route, Conn>::new(PoolConfig::with_limits(2, 0)).unwrap_err();
    assert_eq!(err, ConfigError::ZeroDefaultMaxPerRoute);
    let h = Harness::limits(2, 2);
    assert_eq!(h.pool.set_max_total(0), Err(ConfigError::ZeroMaxTotal));
    assert_eq!(
        h.pool.set_default_max_per_route(0),
        Err(ConfigError::ZeroDefaultMaxPerRoute)
    );
    assert_eq!(h.pool.max_total(), 2);
}

#[test]
fn default_config_matches_apache_5() {
    let c = PoolConfig::default();
    assert_eq!((c.max_total, c.default_max_per_route), (25, 5));
    assert_eq!(c.reuse_policy, ReusePolicy::Lifo);
    assert_eq!(c.time_to_live, None);
}

#[test]
fn new_slot_is_empty_and_release_makes_it_reusable() {
    let h = Harness::limits(2, 2);
    let mut lease = h.lease("a", None);
    assert!(!lease.is_reused());
    assert_eq!(conn(&lease), None);
    assert_eq!(lease.assign(7), None);
    assert_eq!(h.pool.stats(), stats(1, 0, 0, 2));
    lease.release(Decision::keep(None));
    assert_eq!(h.pool.stats(), stats(0, 0, 1, 2));

    let lease = h.lease("a", None);
    assert!(lease.is_reused());
    assert_eq!(conn(&lease), Some(7));
    h.check();
}

#[test]
fn limits_per_route_and_total_with_three_routes() {
    // Apache: testLeaseRelease / testMaxLimits — total 5, per route 2, route c at 3.
    let h = Harness::limits(5, 2);
    h.pool.set_max_per_route(&"c", Some(3));
    let a: Vec<_> = (0..2).map(|_| h.lease_connected("a", None)).collect();
    let b: Vec<_> = (0..2).map(|_| h.lease_connected("b", None)).collect();
    let c1 = h.lease_connected("c", None);

    let mut a3 = h.pool.lease(&"a", None);
    let mut c2 = h.pool.lease(&"c", None);
    assert_waiting(&mut a3); // route a full
    assert_waiting(&mut c2); // route c has room, the pool does not
    assert_eq!(h.pool.route_stats(&"a"), stats(2, 1, 0, 2));
    assert_eq!(h.pool.route_stats(&"c"), stats(1, 1, 0, 3));
    assert_eq!(h.pool.stats(), stats(5, 2, 0, 5));
    h.check();

    // A release on route b can serve neither the route-a waiter (route full) …
    // but it frees room in the pool: the route-c waiter gets a new slot.
    drop(b);
    assert_waiting(&mut a3);
    let c2 = assert_served(&mut c2);
    assert_eq!(conn(&c2), None, "a new slot, not b's discarded connection");
    assert_eq!(h.pool.stats(), stats(4, 1, 0, 5));

    for lease in a {
        lease.release(Decision::keep(None));
    }
    let a3 = assert_served(&mut a3);
    assert!(a3.is_reused());
    drop((a3, c1, c2));
    assert_eq!(h.pool.stats().leased, 0);
    h.check();
}

#[test]
fn released_entry_goes_to_oldest_waiter() {
    let h = Harness::limits(1, 1);
    let first = h.lease_connected("a", None);
    let id = conn(&first);
    let mut w1 = h.pool.lease(&"a", None);
    let mut w2 = h.pool.lease(&"a", None);
    let mut w3 = h.pool.lease(&"a", None);
    for w in [&mut w1, &mut w2, &mut w3] {
        assert_waiting(w);
    }
    first.release(Decision::keep(None));
    // No barging: a newcomer arriving right after the release waits too.
    let mut late = h.pool.lease(&"a", None);
    assert_waiting(&mut late);
    assert_waiting(&mut w3);
    assert_waiting(&mut w2);
    let l1 = assert_served(&mut w1);
    assert_eq!(conn(&l1), id, "the connection is handed over, not reopened");
    l1.release(Decision::keep(None));
    assert_waiting(&mut w3);
    assert_served(&mut w2).release(Decision::keep(None));
    assert_served(&mut w3).release(Decision::keep(None));
    assert_served(&mut late).release(Decision::keep(None));
    assert_eq!(h.pool.stats(), stats(0, 0, 1, 1));
    h.check();
}

#[test]
fn fifo_holds_across_routes_blocked_by_the_total() {
    // Total 2; waiters of routes b and c queue behind the pool limit in that order.
    let h = Harness::limits(2, 2);
    let a1 = h.lease_connected("a", None);
    let a2 = h.lease_connected("a", None);
    let mut b = h.pool.lease(&"b", None);
    let mut c = h.pool.lease(&"c", None);
    a1.discard(CloseReason::Abandoned);
    assert_waiting(&mut c);
    let b = assert_served(&mut b);
    a2.discard(CloseReason::Abandoned);
    let c = assert_served(&mut c);
    drop((b, c));
    h.check();
}

#[test]
fn redistribution_when_total_is_full_evicts_idle_of_other_routes() {
    // Apache: testConnectionRedistributionOnTotalMaxLimit.
    let h = Harness::limits(4, 4);
    let idle: Vec<_> = (0..4).map(|_| h.lease_connected("a", None)).collect();
    let ids: Vec<_> = idle.iter().map(|l| conn(l).unwrap()).collect();
    for lease in idle {
        lease.release(Decision::keep(None));
    }
    assert_eq!(h.pool.route_stats(&"a"), stats(0, 0, 4, 4));

    // Route b asks for two: the two least recently used idle connections of route a go.
    let b1 = h.lease("b", None);
    let b2 = h.lease("b", None);
    assert_eq!(conn(&b1), None);
    assert_eq!(conn(&b2), None);
    assert_eq!(
        h.closed(),
        vec![
            (ids[0], CloseReason::Trimmed),
            (ids[1], CloseReason::Trimmed)
        ]
    );
    assert_eq!(h.pool.route_stats(&"a"), stats(0, 0, 2, 4));
    assert_eq!(h.pool.stats(), stats(2, 0, 2, 4));
    drop((b1, b2));
    h.check();
}

#[test]
fn redistribution_serves_waiters_of_other_routes_on_release() {
    // All 2 slots leased by route a; route b waits; a releases reusable: the idle
    // connection of a is closed to give b a new slot.
    let h = Harness::limits(2, 2);
    let a1 = h.lease_connected("a", None);
    let a2 = h.lease_connected("a", None);
    let mut b = h.pool.lease(&"b", None);
    assert_waiting(&mut b);
    let a1_id = conn(&a1).unwrap();
    a1.release(Decision::keep(None));
    let b = assert_served(&mut b);
    assert_eq!(conn(&b), None);
    assert_eq!(h.closed(), vec![(a1_id, CloseReason::Trimmed)]);
    drop((a2, b));
    h.check();
}

#[test]
fn stateful_lease_prefers_exact_state_then_stateless() {
    // Apache: testStatefulConnectionRedistributionOnPerRouteMaxLimit (part).
    let h = Harness::limits(10, 3);
    let [x, none, y] = h.idle_connections("a", [Some("x"), None, Some("y")]);
    assert_eq!(h.pool.route_stats(&"a").available, 3);

    let lease = h.lease("a", Some("x"));
    assert_eq!(conn(&lease), Some(x));
    assert_eq!(lease.state(), Some(&"x"));
    let other = h.lease("a", Some("z"));
    assert_eq!(conn(&other), Some(none), "no exact match: a stateless one");
    let stateless = h.lease("a", None);
    assert_eq!(
        conn(&stateless),
        None,
        "y is bound to a state: a None lease gets a new slot"
    );
    assert_eq!(
        h.closed(),
        vec![(y, CloseReason::Trimmed)],
        "route full: y, the mismatched idle one, makes room"
    );
    drop((lease, other, stateless));
    h.check();
}

#[test]
fn route_full_of_mismatched_idle_evicts_its_least_recently_used() {
    // Apache: testStatefulConnectionRedistributionOnPerRouteMaxLimit.
    let h = Harness::limits(10, 2);
    let [x, y] = h.idle_connections("a", [Some("x"), Some("y")]);
    let lease = h.lease("a", Some("z"));
    assert_eq!(conn(&lease), None);
    assert_eq!(h.closed(), vec![(x, CloseReason::Trimmed)]);
    assert_eq!(h.pool.route_stats(&"a"), stats(1, 0, 1, 2));
    let again = h.lease("a", Some("y"));
    assert_eq!(conn(&again), Some(y));
    drop((lease, again));
    h.check();
}

#[test]
fn lifo_reuses_newest_and_fifo_reuses_oldest() {
    for (policy, expect_first) in [(ReusePolicy::Lifo, 2), (ReusePolicy::Fifo, 1)] {
        let h = Harness::new(PoolConfig::with_limits(5, 5).with_reuse_policy(policy));
        let l1 = h.lease_connected("a", None);
        let l2 = h.lease_connected("a", None);
        let (c1, c2) = (conn(&l1).unwrap(), conn(&l2).unwrap());
        l1.release(Decision::keep(None));
        l2.release(Decision::keep(None));
        let got = conn(&h.lease("a", None)).unwrap();
        let want = if expect_first == 1 { c1 } else { c2 };
        assert_eq!(got, want, "{policy:?}");
    }
}

#[test]
fn create_new_if_expired() {
    // Apache: testCreateNewIfExpired.
    let h = Harness::limits(2, 2);
    let lease = h.lease_connected("a", None);
    let old = conn(&lease).unwrap();
    lease.release(Decision::keep(Some(Duration::from_secs(1))));
    h.clock.advance(Duration::from_millis(1500));
    let lease = h.lease("a", None);
    assert_eq!(conn(&lease), None, "the expired connection is never leased");
    assert_eq!(h.closed(), vec![(old, CloseReason::Expired)]);
    assert_eq!(h.pool.close_counts().get(CloseReason::Expired), 1);
    drop(lease);
    h.check();
}

#[test]
fn valid_for_is_measured_from_release_and_bounded_by_time_to_live() {
    let h = Harness::new(
        PoolConfig::with_limits(2, 2).with_time_to_live(Some(Duration::from_secs(10))),
    );
    let lease = h.lease_connected("a", None);
    let created = lease.created();
    assert_eq!(
        lease.expiry(),
        Some(created + Duration::from_secs(10)),
        "ttl starts at assignment"
    );
    h.clock.advance(Duration::from_secs(4));
    lease.release(Decision::keep(Some(Duration::from_secs(3))));
    let lease = h.lease("a", None);
    assert_eq!(
        lease.expiry(),
        Some(created + Duration::from_secs(7)),
        "now + valid_for"
    );
    assert_eq!(lease.updated(), created + Duration::from_secs(4));
    h.clock.advance(Duration::from_secs(2));
    lease.release(Decision::keep(Some(Duration::from_secs(30))));
    let lease = h.lease("a", None);
    assert_eq!(
        lease.expiry(),
        Some(created + Duration::from_secs(10)),
        "capped by created + ttl"
    );
    lease.release(Decision::keep(None));
    let mut lease = h.lease("a", None);
    assert_eq!(
        lease.expiry(),
        Some(created + Duration::from_secs(10)),
        "no keep-alive limit: ttl alone"
    );
    // Reassigning restarts the life.
    h.clock.advance(Duration::from_secs(1));
    let old = lease.assign(99);
    assert!(old.is_some());
    assert_eq!(lease.expiry(), Some(created + Duration::from_secs(17)));
    lease.release(Decision::keep(None));
}

#[test]
fn zero_validity_closes_at_release() {
    let h = Harness::limits(2, 2);
    let lease = h.lease_connected("a", None);
    let id = conn(&lease).unwrap();
    // Built directly: `Decision::keep` would turn a zero validity into a close.
    lease.release(Decision::Keep {
        valid_for: Some(Duration::ZERO),
    });
    assert_eq!(h.closed(), vec![(id, CloseReason::Expired)]);
    assert_eq!(h.pool.stats(), stats(0, 0, 0, 2));
    assert!(h.pool.routes().is_empty());
}

#[test]
fn close_expired_closes_only_expired_idle_connections() {
    // Apache: testCloseExpired.
    let h = Harness::limits(3, 3);
    let l1 = h.lease_connected("a", None);
    let l2 = h.lease_connected("a", None);
    let l3 = h.lease_connected("a", None);
    let (c1, c2) = (conn(&l1).unwrap(), conn(&l2).unwrap());
    l1.release(Decision::keep(Some(Duration::from_millis(10))));
    l2.release(Decision::keep(Some(Duration::from_secs(10))));
    h.clock.advance(Duration::from_millis(100));
    h.pool.close_expired();
    assert_eq!(h.closed(), vec![(c1, CloseReason::Expired)]);
    assert_eq!(h.pool.route_stats(&"a"), stats(1, 0, 1, 3));
    let l2 = h.lease("a", None);
    assert_eq!(conn(&l2), Some(c2));
    drop((l2, l3));
    h.check();
}

#[test]
fn expired_idle_connections_are_purged_lazily_by_other_routes_traffic() {
    let h = Harness::limits(5, 5);
    let a = h.idle_connection("a", None);
    let l = h.lease_connected("b", None);
    l.release(Decision::keep(Some(Duration::from_secs(60))));
    // Give a a validity: lease it back and release with 1s.
    let la = h.lease("a", None);
    la.release(Decision::keep(Some(Duration::from_secs(1))));
    h.clock.advance(Duration::from_secs(2));
    // Only route b is touched, yet a's expired connection is closed and a leaves the table.
    let lb = h.lease("b", None);
    assert_eq!(h.closed(), vec![(a, CloseReason::Expired)]);
    assert_eq!(h.pool.routes(), vec!["b"]);
    drop(lb);
    h.check();
}

#[test]
fn close_idle_closes_connections_idle_at_least_that_long() {
    // Apache: testCloseIdle.
    let h = Harness::limits(3, 3);
    let l1 = h.lease_connected("a", None);
    let l2 = h.lease_connected("a", None);
    let (c1, c2) = (conn(&l1).unwrap(), conn(&l2).unwrap());
    l1.release(Decision::keep(None));
    h.clock.advance(Duration::from_millis(50));
    l2.release(Decision::keep(None));
    h.clock.advance(Duration::from_millis(50));
    h.pool.close_idle(Duration::from_millis(75));
    assert_eq!(h.closed(), vec![(c1, CloseReason::IdleEvicted)]);
    h.pool.close_idle(Duration::from_millis(50));
    assert_eq!(h.closed()[1], (c2, CloseReason::IdleEvicted));
    assert_eq!(h.pool.stats(), stats(0, 0, 0, 3));
    assert_eq!(h.pool.close_counts().get(CloseReason::IdleEvicted), 2);
    assert!(h.pool.routes().is_empty());
}

#[test]
fn lease_timeout_reports_route_and_pool_counts() {
    // Apache: testLeaseRequestTimeout.
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let err = h.pool.lease(&"a", None).get(Duration::ZERO).unwrap_err();
    assert!(err.is_timeout());
    assert_eq!(
        err.failure().route_stats,
        stats(1, 1, 0, 1),
        "counts taken while it waited"
    );
    let msg = err.to_string();
    assert!(msg.starts_with("timed out after"), "{msg}");
    assert!(msg.contains("\"a\""), "{msg}");
    assert!(
        msg.contains("route: 1 of 1 leased, 0 idle, 1 waiting"),
        "{msg}"
    );
    // A real (short) wait times out the same way; the waiter is gone afterwards.
    let err = h
        .pool
        .lease(&"a", None)
        .get(Duration::from_millis(5))
        .unwrap_err();
    assert!(err.is_timeout());
    assert!(err.failure().waited >= Duration::from_millis(5));
    assert_eq!(h.pool.stats(), stats(1, 0, 0, 1));
    drop(held);
    h.check();
}

#[test]
fn cancelled_pending_lease_never_receives_the_entry() {
    // Apache: testLeaseRequestCanceled.
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let id = conn(&held);
    let mut req = h.pool.lease(&"a", None);
    let mut next = h.pool.lease(&"a", None);
    let handle = req.cancel_handle();
    assert!(handle.cancel());
    assert!(!handle.cancel(), "nothing left to cancel");
    held.release(Decision::keep(None));
    match poll(&mut req) {
        std::task::Poll::Ready(Err(LeaseError::Cancelled(_))) => {}
        other => panic!(
            "expected Cancelled, got {:?}",
            other.map(|r| r.map(|l| conn(&l)))
        ),
    }
    assert_eq!(
        conn(&assert_served(&mut next)),
        id,
        "the next waiter gets it"
    );
    h.check();
}

#[test]
fn cancel_after_hand_off_returns_the_entry_to_the_pool() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let id = conn(&held);
    let mut req = h.pool.lease(&"a", None);
    let handle = req.cancel_handle();
    held.release(Decision::keep(None)); // served, not picked up yet
    assert_eq!(h.pool.stats(), stats(1, 0, 0, 1));
    assert!(handle.cancel());
    assert_eq!(
        h.pool.stats(),
        stats(0, 0, 1, 1),
        "back in the pool, untouched"
    );
    assert!(matches!(
        poll(&mut req),
        std::task::Poll::Ready(Err(LeaseError::Cancelled(_)))
    ));
    let again = h.lease("a", None);
    assert_eq!(conn(&again), id);
    assert!(h.closed().is_empty());
}

#[test]
fn dropping_a_served_request_gives_the_connection_back_untouched() {
    let h = Harness::limits(1, 1);
    let id = h.idle_connection("a", None);
    let served_at_once = h.pool.lease(&"a", None);
    assert!(served_at_once.is_immediate());
    drop(served_at_once);
    let held = h.lease("a", None);
    let waiting = h.pool.lease(&"a", None);
    held.release(Decision::keep(None)); // handed to `waiting`, which never picks it up
    drop(waiting);
    assert!(h.closed().is_empty(), "nothing closed: {:?}", h.closed());
    assert_eq!(h.pool.stats(), stats(0, 0, 1, 1));
    assert_eq!(conn(&h.lease("a", None)), Some(id));
    h.check();
}

#[test]
fn a_lease_released_unused_keeps_its_connection_idle_and_its_validity() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let id = conn(&held);
    held.release(Decision::keep(Some(Duration::from_secs(60))));
    let waiting = h.pool.lease(&"a", None);
    let lease = waiting.get(Duration::ZERO).expect("served at once");
    let valid_until = lease.expiry();
    lease.release_unused();
    assert!(h.closed().is_empty(), "nothing closed: {:?}", h.closed());
    assert_eq!(h.pool.stats(), stats(0, 0, 1, 1));
    let again = h.lease("a", None);
    assert_eq!(conn(&again), id);
    assert_eq!(again.expiry(), valid_until, "its validity unchanged");
    again.release(Decision::keep(None));
    h.check();
    // A new slot without a connection is freed.
    let h = Harness::limits(1, 1);
    h.lease("b", None).release_unused();
    assert_eq!(h.pool.stats(), stats(0, 0, 0, 1));
    assert!(h.closed().is_empty());
    h.check();
}

#[test]
fn a_connection_back_idle_unused_is_told_to_the_hook_and_a_release_is_not() {
    // Every way a connection goes back idle without a release: release_unused, a
    // served request cancelled, a served request dropped.
    let clock = ManualClock::new();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    let pool: TestPool = Pool::builder(PoolConfig::with_limits(1, 1))
        .clock(clock.clone())
        .on_returned_unused(move |updated, expiry| log.lock().unwrap().push((updated, expiry)))
        .build()
        .unwrap();
    let mut first = pool.lease(&"a", None).get(Duration::ZERO).unwrap();
    first.assign(1);
    let released_at = pool.now();
    first.release(Decision::keep(Some(Duration::from_secs(60))));
    assert!(seen.lock().unwrap().is_empty(), "a release is not told");
    let expiry = released_at + Duration::from_secs(60);
    clock.advance(Duration::from_secs(5));
    pool.lease(&"a", None)
        .get(Duration::ZERO)
        .unwrap()
        .release_unused();
    let held = pool.lease(&"a", None).get(Duration::ZERO).unwrap();
    let mut cancelled = pool.lease(&"a", None);
    let handle = cancelled.cancel_handle();
    let dropped = pool.lease(&"a", None);
    held.release_unused(); // handed to `cancelled`, which never picks it up
    assert!(handle.cancel());
    assert!(matches!(
        poll(&mut cancelled),
        Poll::Ready(Err(LeaseError::Cancelled(_)))
    ));
    drop(dropped); // served by the cancel, never picked up
    assert_eq!(
        *seen.lock().unwrap(),
        vec![(released_at, Some(expiry)); 4],
        "the last use and expiry of the connection, unchanged"
    );
    assert_eq!(pool.stats(), stats(0, 0, 1, 1));
}

#[test]
fn blocked_get_is_woken_by_a_cancel_from_another_thread() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let req = h.pool.lease(&"a", None);
    let handle = req.cancel_handle();
    let waiter = thread::spawn(move || req.get(Duration::from_secs(60)));
    assert!(handle.cancel());
    let err = waiter.join().unwrap().unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    drop(held);
    h.check();
}

#[test]
fn blocked_get_is_woken_by_a_release_from_another_thread() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let id = conn(&held);
    let req = h.pool.lease(&"a", None);
    let waiter = thread::spawn(move || req.get(Duration::from_secs(60)).map(|l| conn(&l)));
    held.release(Decision::keep(None));
    assert_eq!(waiter.join().unwrap().unwrap(), id);
}

#[test]
fn async_waiter_is_woken_once_when_served() {
    struct CountWakes(AtomicUsize);
    impl Wake for CountWakes {
        fn wake(self: Arc<Self>) {
            self.0.fetch_add(1, Ordering::SeqCst);
        }
    }
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let mut req = h.pool.lease(&"a", None);
    let count = Arc::new(CountWakes(AtomicUsize::new(0)));
    let waker = Waker::from(Arc::clone(&count));
    let mut cx = Context::from_waker(&waker);
    assert!(Future::poll(Pin::new(&mut req), &mut cx).is_pending());
    assert!(
        Future::poll(Pin::new(&mut req), &mut cx).is_pending(),
        "polling twice keeps one waker"
    );
    assert_eq!(count.0.load(Ordering::SeqCst), 0);
    held.release(Decision::keep(None));
    assert_eq!(count.0.load(Ordering::SeqCst), 1);
    assert!(Future::poll(Pin::new(&mut req), &mut cx).is_ready());
}

#[test]
fn raising_a_limit_serves_waiters_at_once() {
    let h = Harness::limits(10, 1);
    let held = h.lease_connected("a", None);
    let mut w1 = h.pool.lease(&"a", None);
    let mut w2 = h.pool.lease(&"a", None);
    h.pool.set_max_per_route(&"a", Some(2));
    let _l1 = assert_served(&mut w1);
    assert_waiting(&mut w2);
    h.pool.set_default_max_per_route(3).unwrap();
    assert_waiting(&mut w2); // route a has its own limit
    h.pool.set_max_per_route(&"a", None);
    assert_served(&mut w2);
    drop(held);

    let h = Harness::limits(1, 5);
    let held = h.lease_connected("a", None);
    let mut wb = h.pool.lease(&"b", None);
    h.pool.set_max_total(2).unwrap();
    assert_served(&mut wb);
    drop(held);
}

#[test]
fn lowering_a_limit_trims_idle_lru_and_never_touches_leased() {
    let h = Harness::limits(10, 5);
    let leases: Vec<_> = (0..5).map(|_| h.lease_connected("a", None)).collect();
    let ids: Vec<_> = leases.iter().map(|l| conn(l).unwrap()).collect();
    let mut leases = leases.into_iter();
    for lease in leases.by_ref().take(3) {
        lease.release(Decision::keep(None));
    }
    let still: Vec<_> = leases.collect();
    h.pool.set_max_per_route(&"a", Some(1));
    // 2 leased + 3 idle over a limit of 1: all three idle go, oldest first; leased stay.
    assert_eq!(
        h.closed(),
        vec![
            (ids[0], CloseReason::Trimmed),
            (ids[1], CloseReason::Trimmed),
            (ids[2], CloseReason::Trimmed)
        ]
    );
    assert_eq!(h.pool.route_stats(&"a"), stats(2, 0, 0, 1));
    let mut w = h.pool.lease(&"a", None);
    for lease in still {
        lease.release(Decision::keep(None)); // over the limit: trimmed as it comes back
    }
    assert_eq!(h.pool.route_stats(&"a").available, 0);
    assert_eq!(
        h.pool.close_counts().get(CloseReason::Trimmed),
        4,
        "{:?}",
        h.closed()
    );
    let w = assert_served(&mut w);
    assert!(
        w.is_reused(),
        "the last one back is within the limit and handed over"
    );
    drop(w);

    // Total limit lowered: the pool-wide least recently used idle go.
    let h = Harness::limits(4, 4);
    let a = h.idle_connection("a", None);
    let b = h.idle_connection("b", None);
    let _c = h.idle_connection("c", None);
    h.pool.set_max_total(1).unwrap();
    assert_eq!(
        h.closed(),
        vec![(a, CloseReason::Trimmed), (b, CloseReason::Trimmed)]
    );
    assert_eq!(h.pool.routes(), vec!["c"]);
    h.check();
}

#[test]
fn a_route_with_limit_zero_is_blocked() {
    let h = Harness::limits(5, 5);
    h.pool.set_max_per_route(&"blocked", Some(0));
    assert_eq!(h.pool.max_per_route(&"blocked"), 0);
    let mut w = h.pool.lease(&"blocked", None);
    assert_waiting(&mut w);
    let other = h.lease("open", None);
    h.pool.set_max_per_route(&"blocked", None);
    assert_served(&mut w);
    drop(other);
}

#[test]
fn shutdown_with_leased_idle_and_pending() {
    // Apache: testShutdown — plus pending waiters fail at once instead of hanging.
    let h = Harness::limits(3, 2);
    let idle = h.idle_connection("b", None);
    let leased = h.lease_connected("a", None);
    let leased2 = h.lease_connected("a", None);
    let leased_id = conn(&leased).unwrap();
    let req = h.pool.lease(&"a", None);
    let blocked = thread::spawn(move || req.get(Duration::from_secs(60)));
    h.pool.shutdown();
    h.pool.shutdown(); // idempotent
    assert!(h.pool.is_shutdown());
    let err = blocked.join().unwrap().unwrap_err();
    assert!(err.is_shutdown(), "{err}");
    assert!(
        err.to_string().starts_with("connection pool shut down"),
        "{err}"
    );
    assert_eq!(h.closed(), vec![(idle, CloseReason::Shutdown)]);
    assert!(
        h.pool
            .lease(&"a", None)
            .get(Duration::ZERO)
            .unwrap_err()
            .is_shutdown()
    );
    leased.release(Decision::keep(None));
    assert_eq!(
        h.closed()[1],
        (leased_id, CloseReason::Shutdown),
        "closed when it comes back"
    );
    let leased2_id = conn(&leased2).unwrap();
    drop(leased2);
    assert_eq!(
        h.closed()[2],
        (leased2_id, CloseReason::Abandoned),
        "a connection discarded for a reason of its own keeps it after a shutdown"
    );
    assert_eq!(h.pool.stats(), stats(0, 0, 0, 3));
    assert_eq!(h.pool.close_counts().get(CloseReason::Shutdown), 2);
    assert_eq!(h.pool.close_counts().get(CloseReason::Abandoned), 1);
    assert!(h.pool.routes().is_empty());
}

#[test]
fn after_a_shutdown_a_discarded_connection_is_closed_for_its_own_reason() {
    // Found in review: once shut down, every connection given back was counted as
    // closed for the shutdown, hiding a failed exchange (or a server's close) behind
    // it, and a listener saw "released: close" and then "closed: shutdown".
    let h = Harness::limits(2, 2);
    let failed = h.lease_connected("a", None);
    let kept = h.lease_connected("a", None);
    let (failed_id, kept_id) = (conn(&failed).unwrap(), conn(&kept).unwrap());
    h.pool.shutdown();
    failed.discard(CloseReason::FailedExchange);
    kept.release(Decision::keep(None));
    assert_eq!(
        h.closed(),
        vec![
            (failed_id, CloseReason::FailedExchange),
            (kept_id, CloseReason::Shutdown)
        ]
    );
    assert_eq!(h.pool.stats().leased, 0);
}

#[test]
fn shutdown_leaves_a_served_request_its_slot_and_closes_it_on_return() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let id = conn(&held).unwrap();
    let mut req = h.pool.lease(&"a", None);
    held.release(Decision::keep(None)); // served, not picked up yet
    h.pool.shutdown();
    assert!(
        h.closed().is_empty(),
        "a served slot is not idle: shutdown leaves it"
    );
    let lease = assert_served(&mut req);
    assert_eq!(conn(&lease), Some(id));
    assert_eq!(h.pool.stats().leased, 1);
    lease.release(Decision::keep(None));
    assert_eq!(h.closed(), vec![(id, CloseReason::Shutdown)]);
    assert_eq!(h.pool.stats().leased, 0);
    assert!(h.pool.routes().is_empty());
}

#[test]
fn shutdown_takes_back_a_served_slot_whose_request_is_dropped() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let id = conn(&held).unwrap();
    let req = h.pool.lease(&"a", None);
    held.release(Decision::keep(None));
    h.pool.shutdown();
    drop(req);
    assert_eq!(h.closed(), vec![(id, CloseReason::Shutdown)]);
    assert_eq!(h.pool.stats().leased, 0);
    h.pool.check_invariants().unwrap();
}

#[test]
fn dropped_lease_discards_and_empty_slot_release_frees() {
    let h = Harness::limits(2, 2);
    let lease = h.lease_connected("a", None);
    let id = conn(&lease).unwrap();
    drop(lease);
    assert_eq!(h.closed(), vec![(id, CloseReason::Abandoned)]);
    let lease = h.lease("a", None);
    lease.release(Decision::keep(None)); // empty slot: nothing to keep, the slot is freed
    let mut lease = h.lease_connected("a", None);
    let taken = lease.take_connection();
    assert!(taken.is_some());
    lease.release(Decision::keep(None));
    assert_eq!(h.pool.stats(), stats(0, 0, 0, 2));
    assert_eq!(h.pool.close_counts().get(CloseReason::Abandoned), 1);
    assert!(h.pool.routes().is_empty(), "route table is bounded");
}

#[test]
fn released_not_reusable_is_closed_and_its_slot_serves_a_waiter() {
    let h = Harness::limits(1, 1);
    let lease = h.lease_connected("a", None);
    let id = conn(&lease).unwrap();
    let mut w = h.pool.lease(&"a", None);
    lease.release(Decision::Close(CloseReason::ResponseConnectionClose));
    assert_eq!(h.closed(), vec![(id, CloseReason::ResponseConnectionClose)]);
    assert_eq!(
        h.pool
            .close_counts()
            .get(CloseReason::ResponseConnectionClose),
        1,
        "the holder's reason is counted as given"
    );
    let w = assert_served(&mut w);
    assert_eq!(conn(&w), None);
}

#[test]
fn disposal_runs_outside_the_pool_lock() {
    // The callback re-enters the pool; holding the lock across it would deadlock.
    let seen = Arc::new(Mutex::new(Vec::new()));
    let cell: Arc<Mutex<Option<TestPool>>> = Arc::new(Mutex::new(None));
    let (seen2, cell2) = (Arc::clone(&seen), Arc::clone(&cell));
    let pool: TestPool = Pool::builder(PoolConfig::with_limits(1, 1))
        .disposal(move |c: Conn, _r: CloseReason| {
            let stats = cell2.lock().unwrap().as_ref().map(|p| p.stats());
            seen2.lock().unwrap().push((c, stats));
        })
        .build()
        .unwrap();
    *cell.lock().unwrap() = Some(pool.clone());
    let mut lease = pool.lease(&"a", None).get(Duration::ZERO).unwrap();
    lease.assign(5);
    lease.discard(CloseReason::Abandoned);
    assert_eq!(*seen.lock().unwrap(), vec![(5, Some(stats(0, 0, 0, 1)))]);
    cell.lock().unwrap().take();
}

#[test]
fn lease_error_messages_say_what_happened() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("db:5432", None);
    let req = h.pool.lease(&"db:5432", None);
    let handle = req.cancel_handle();
    handle.cancel();
    let err = req.get(Duration::ZERO).unwrap_err();
    let msg = err.to_string();
    assert!(
        msg.starts_with("lease of a connection to \"db:5432\" cancelled after"),
        "{msg}"
    );
    // The counts are those of the moment it failed, itself still counted as waiting.
    assert!(
        msg.ends_with(
            "(route: 1 of 1 leased, 0 idle, 1 waiting; pool: 1 of 1 leased, 0 idle, 1 waiting)"
        ),
        "{msg}"
    );
    assert_eq!(h.pool.stats(), stats(1, 0, 0, 1));
    drop(held);
}

#[test]
fn lease_ids_are_unique_and_kept_on_reuse() {
    let h = Harness::limits(3, 3);
    let a = h.lease_connected("a", None);
    let b = h.lease_connected("a", None);
    assert_ne!(a.id(), b.id());
    let a_id = a.id();
    a.release(Decision::keep(None));
    assert_eq!(h.lease("a", None).id(), a_id);
    drop(b);
}

// --- Regressions found in review -------------------------------------------------

#[test]
fn cancel_twice_or_after_shutdown_on_a_route_with_nothing_else_is_harmless() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let req = h.pool.lease(&"b", None);
    let handle = req.cancel_handle();
    assert!(handle.cancel());
    assert!(h.pool.routes() == vec!["a"], "route b left the table");
    assert!(!handle.cancel(), "second cancel: nothing to do, no panic");
    drop(req);
    let req = h.pool.lease(&"c", None);
    let handle = req.cancel_handle();
    h.pool.shutdown();
    assert!(!handle.cancel(), "already failed by the shutdown");
    assert!(req.get(Duration::ZERO).unwrap_err().is_shutdown());
    drop(held);
}

#[test]
fn waiting_again_on_a_request_polled_to_completion_is_an_error_not_a_panic() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let mut req = h.pool.lease(&"a", None);
    held.release(Decision::keep(None));
    let lease = assert_served(&mut req);
    assert!(
        matches!(
            poll(&mut req),
            std::task::Poll::Ready(Err(LeaseError::Cancelled(_)))
        ),
        "polled again: an error, not a panic"
    );
    let err = req.get(Duration::ZERO).unwrap_err();
    assert!(err.is_cancelled(), "{err}");
    drop(lease);
    assert_eq!(h.pool.stats().leased, 0);
}

#[derive(Default)]
struct LogWaker(Mutex<Vec<&'static str>>, AtomicUsize);

impl Wake for LogWaker {
    fn wake(self: Arc<Self>) {
        self.1.fetch_add(1, Ordering::SeqCst);
        self.0.lock().unwrap().push("wake");
    }
}

#[test]
fn async_waiter_is_woken_before_the_connection_that_made_room_is_closed() {
    let log = Arc::new(LogWaker::default());
    let log2 = Arc::clone(&log);
    let pool: TestPool = Pool::builder(PoolConfig::with_limits(1, 1))
        .disposal(move |_c: Conn, _r: CloseReason| log2.0.lock().unwrap().push("dispose"))
        .build()
        .unwrap();
    let mut a = pool.lease(&"a", None).get(Duration::ZERO).unwrap();
    a.assign(1);
    let mut b = pool.lease(&"b", None);
    let waker = Waker::from(Arc::clone(&log));
    assert!(Future::poll(Pin::new(&mut b), &mut Context::from_waker(&waker)).is_pending());
    a.release(Decision::keep(None)); // a's connection is closed to give b a slot
    assert_eq!(*log.0.lock().unwrap(), vec!["wake", "dispose"]);
}

#[test]
fn a_panicking_disposal_does_not_lose_the_wake_up() {
    let log = Arc::new(LogWaker::default());
    let pool: TestPool = Pool::builder(PoolConfig::with_limits(1, 1))
        .disposal(|_c: Conn, _r: CloseReason| panic!("close failed"))
        .build()
        .unwrap();
    let mut a = pool.lease(&"a", None).get(Duration::ZERO).unwrap();
    a.assign(1);
    let mut b = pool.lease(&"b", None);
    let waker = Waker::from(Arc::clone(&log));
    assert!(Future::poll(Pin::new(&mut b), &mut Context::from_waker(&waker)).is_pending());
    let p = pool.clone();
    let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(move || {
        a.release(Decision::keep(None))
    }));
    assert!(outcome.is_err(), "the disposal's panic reaches the caller");
    assert_eq!(log.1.load(Ordering::SeqCst), 1, "woken all the same");
    let b = match Future::poll(Pin::new(&mut b), &mut Context::from_waker(&waker)) {
        std::task::Poll::Ready(Ok(lease)) => lease,
        _ => panic!("b should be served"),
    };
    assert_eq!(*b.route(), "b");
    p.check_invariants().unwrap();
}

#[test]
fn zero_time_to_live_is_a_config_error() {
    let config = PoolConfig::default().with_time_to_live(Some(Duration::ZERO));
    assert_eq!(
        Pool::<Route, Conn>::new(config).unwrap_err(),
        ConfigError::ZeroTimeToLive
    );
}

#[test]
fn cancel_handle_does_not_keep_the_pool_alive() {
    let closed = Arc::new(AtomicUsize::new(0));
    let c2 = Arc::clone(&closed);
    let pool: TestPool = Pool::builder(PoolConfig::with_limits(2, 1))
        .disposal(move |_c: Conn, _r: CloseReason| {
            c2.fetch_add(1, Ordering::SeqCst);
        })
        .build()
        .unwrap();
    let mut idle = pool.lease(&"idle", None).get(Duration::ZERO).unwrap();
    idle.assign(1);
    idle.release(Decision::keep(None));
    let held = pool.lease(&"a", None).get(Duration::ZERO).unwrap();
    let req = pool.lease(&"a", None);
    let handle = req.cancel_handle();
    drop((req, held, pool));
    assert_eq!(
        closed.load(Ordering::SeqCst),
        1,
        "the idle connection was closed with the pool"
    );
    assert!(!handle.cancel());
}

#[test]
fn a_served_connection_that_expired_before_pick_up_arrives_as_an_empty_slot() {
    let h = Harness::limits(1, 1);
    let held = h.lease_connected("a", None);
    let id = conn(&held).unwrap();
    let mut req = h.pool.lease(&"a", None);
    held.release(Decision::keep(Some(Duration::from_secs(1))));
    h.clock.advance(Duration::from_secs(2));
    let lease = assert_served(&mut req);
    assert_eq!(conn(&lease), None, "expired entries are never leased");
    assert_eq!(h.closed(), vec![(id, CloseReason::Expired)]);
    assert_eq!(
        h.pool.stats(),
        stats(1, 0, 0, 1),
        "the slot is still the request's"
    );
}

#[test]
fn thousands_of_waiters_on_a_blocked_route_do_not_hold_up_other_routes() {
    let h = Harness::limits(100, 5);
    h.pool.set_max_per_route(&"blocked", Some(0));
    let mut waiters: Vec<_> = (0..10_000)
        .map(|_| h.pool.lease(&"blocked", None))
        .collect();
    for _ in 0..1_000 {
        h.lease_connected("open", None)
            .release(Decision::keep(None));
    }
    assert_eq!(h.pool.route_stats(&"blocked"), stats(0, 10_000, 0, 0));
    h.check();
    h.pool.set_max_per_route(&"blocked", Some(3));
    let mut served = Vec::new();
    let mut held = Vec::new();
    for (i, w) in waiters.iter_mut().enumerate() {
        if let std::task::Poll::Ready(result) = poll(w) {
            served.push(i);
            held.push(result.expect("served"));
        }
    }
    assert!(
        served.len() <= 3 && served == [0, 1, 2][..served.len()],
        "served {:?}…",
        &served[..served.len().min(8)]
    );
    assert_eq!(served.len(), 3, "the three oldest, in order");
    h.check();
}

#[test]
fn public_types_can_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<TestPool>();
    send_sync::<hcx_pool::CancelHandle<Route, Conn, State>>();
    send_sync::<LeaseError>();
    send::<TestLease>();
    send::<TestRequest>();
}

#[test]
fn a_release_trimmed_to_serve_another_route_leaves_its_route_gone() {
    // Found by the model test: total 1; a's release goes idle, b's waiter needs the
    // slot, a's connection is trimmed and route a leaves the table mid-release.
    let h = Harness::limits(1, 1);
    let a = h.lease_connected("a", None);
    let a_id = conn(&a).unwrap();
    let mut b = h.pool.lease(&"b", None);
    a.release(Decision::keep(None));
    let b = assert_served(&mut b);
    assert_eq!(conn(&b), None);
    assert_eq!(h.closed(), vec![(a_id, CloseReason::Trimmed)]);
    assert_eq!(h.pool.routes(), vec!["b"]);
    h.check();
}

/// A lease request served at once and dropped unread gives its connection back
/// untouched (its idle time kept) at the newest end of the idle list. The next
/// deadline is still when the longest-idle connection reaches `idle_for`.
#[test]
fn the_next_deadline_follows_the_longest_idle_after_an_untouched_give_back() {
    let h = Harness::limits(10, 10);
    let x = h.lease_connected("a", None);
    let cx = conn(&x).unwrap();
    x.release(Decision::keep(None)); // X idle since t=0
    h.clock.advance(Duration::from_secs(5));
    h.lease_connected("b", None).release(Decision::keep(None)); // Y idle since t=5
    let request = h.pool.lease(&"a", None);
    assert!(request.is_immediate());
    drop(request); // X back, untouched
    h.check();
    let now = h.pool.now();
    let next = h.pool.next_deadline(Some(Duration::from_secs(10))).unwrap();
    assert_eq!(
        next - now,
        Duration::from_secs(5),
        "X reaches 10 s idle at t=10"
    );
    h.clock.advance(Duration::from_secs(5));
    h.pool.close_idle(Duration::from_secs(10));
    assert_eq!(h.closed(), vec![(cx, CloseReason::IdleEvicted)]);
}

/// A connection released over a lowered total limit goes idle and is trimmed at once;
/// its route, left with nothing, leaves the table (the release checks for an unused
/// route whenever something was closed, even when the connection was kept first).
#[test]
fn a_release_trimmed_under_a_lowered_limit_leaves_its_route_gone() {
    let h = Harness::limits(2, 2);
    let a = h.lease_connected("a", None);
    let a_id = conn(&a).unwrap();
    let b = h.lease_connected("b", None);
    h.pool.set_max_total(1).unwrap();
    a.release(Decision::keep(None));
    assert_eq!(h.closed(), vec![(a_id, CloseReason::Trimmed)]);
    assert_eq!(h.pool.routes(), vec!["b"]);
    h.check();
    b.release(Decision::keep(None));
    h.check();
}

#[test]
fn discard_connection_keeps_the_slot_and_takes_the_next_idle_one() {
    // Apache: `PoolEntry.discardConnection` — the holder keeps its slot.
    let h = Harness::limits(4, 3);
    let [c1, c2, bobs] = h.idle_connections("a", [None, None, Some("bob")]);
    let held = h.lease_connected("b", None);
    let mut lease = h.lease("a", Some("carol"));
    assert_eq!(conn(&lease), Some(c2), "the newest stateless one");

    // Closed for its reason, and the next idle connection the lease can use comes in
    // its place: the same slot, no new one.
    lease.discard_connection(CloseReason::Stale, &Some("carol"));
    assert_eq!(conn(&lease), Some(c1));
    assert!(lease.is_reused());
    assert_eq!(h.pool.route_stats(&"a"), stats(1, 0, 1, 3));
    assert_eq!(h.closed(), vec![(c2, CloseReason::Stale)]);
    h.check();

    // None left it can use (bob's is bound to another state): the slot stays, empty.
    lease.discard_connection(CloseReason::Stale, &Some("carol"));
    assert_eq!(conn(&lease), None);
    assert!(!lease.is_reused());
    assert_eq!(lease.state(), None);
    assert_eq!(h.pool.stats(), stats(2, 0, 1, 4));
    h.check();

    // A request waiting meanwhile is not served by it: the slot never left its holder.
    h.pool.set_max_total(2).unwrap();
    let mut waiting = h.pool.lease(&"c", None);
    assert_waiting(&mut waiting);
    assert_eq!(lease.assign(99), None);
    lease.discard_connection(CloseReason::Stale, &None);
    assert_waiting(&mut waiting);
    h.check();
    assert_eq!(
        h.closed(),
        vec![
            (c2, CloseReason::Stale),
            (c1, CloseReason::Stale),
            (bobs, CloseReason::Trimmed),
            (99, CloseReason::Stale),
        ]
    );
    drop(lease);
    let served = assert_served(&mut waiting);
    drop((served, held));
    assert_eq!(h.pool.stats().leased, 0);
    h.check();
}
