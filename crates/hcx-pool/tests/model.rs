//! Property test: random sequences of lease / release / discard / cancel / timeout /
//! limit changes / time advances / evictions, run against the pool and against a
//! naive model (vectors and linear scans) of the same rules. After every step both
//! must agree on who was served, with which connection, what was closed and why, and
//! every count; and the invariants hold: allocation within limits while they are
//! unchanged, no connection leased twice, FIFO service per route and state.

mod common;

use std::collections::HashMap;
use std::task::Poll;
use std::time::Duration;

use common::*;
use hcx_pool::{CloseReason, Decision, LeaseError, PoolConfig, ReusePolicy};
use proptest::prelude::*;

const ROUTES: [Route; 3] = ["r0", "r1", "r2"];
const STATES: [Option<State>; 3] = [None, Some("x"), Some("y")];

#[derive(Debug, Clone)]
enum Op {
    Lease {
        route: usize,
        state: usize,
    },
    Release {
        lease: usize,
        reusable: bool,
        valid_for_ms: Option<u64>,
        set_state: Option<usize>,
    },
    Discard {
        lease: usize,
    },
    Cancel {
        waiter: usize,
    },
    Timeout {
        waiter: usize,
    },
    SetMaxTotal(usize),
    SetDefaultMax(usize),
    SetRouteMax {
        route: usize,
        max: Option<usize>,
    },
    Advance(u64),
    CloseExpired,
    CloseIdle(u64),
    /// Release a lease, then drop a waiter without polling it: if the release served
    /// it, the slot comes back untouched.
    ReleaseThenDropWaiter {
        lease: usize,
        waiter: usize,
    },
    Shutdown,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0..3usize, 0..3usize).prop_map(|(route, state)| Op::Lease { route, state }),
        5 => (any::<usize>(), any::<bool>(), proptest::option::of(0..40u64), proptest::option::of(0..3usize))
            .prop_map(|(lease, reusable, valid_for_ms, set_state)| Op::Release { lease, reusable, valid_for_ms, set_state }),
        1 => any::<usize>().prop_map(|lease| Op::Discard { lease }),
        1 => any::<usize>().prop_map(|waiter| Op::Cancel { waiter }),
        1 => any::<usize>().prop_map(|waiter| Op::Timeout { waiter }),
        1 => (1..6usize).prop_map(Op::SetMaxTotal),
        1 => (1..4usize).prop_map(Op::SetDefaultMax),
        1 => (0..3usize, proptest::option::of(0..4usize)).prop_map(|(route, max)| Op::SetRouteMax { route, max }),
        2 => (1..30u64).prop_map(Op::Advance),
        1 => Just(Op::CloseExpired),
        1 => (0..40u64).prop_map(Op::CloseIdle),
        2 => (any::<usize>(), any::<usize>()).prop_map(|(lease, waiter)| Op::ReleaseThenDropWaiter { lease, waiter }),
        // Rare: a shutdown ends most of what a case can do.
        1 => proptest::bool::weighted(0.1).prop_map(|go| if go { Op::Shutdown } else { Op::CloseExpired }),
    ]
}

#[derive(Debug, Clone)]
struct MIdle {
    route: usize,
    conn: Conn,
    state: Option<State>,
    created: u64,
    updated: u64,
    expiry: Option<u64>,
    seq: u64,
}

#[derive(Debug, Clone)]
struct MLease {
    route: usize,
    conn: Option<Conn>,
    state: Option<State>,
    created: u64,
    /// Kept from the idle entry it came from, for an untouched return.
    updated: u64,
    expiry: Option<u64>,
}

#[derive(Debug, Clone)]
struct MWaiter {
    id: u64,
    route: usize,
    state: Option<State>,
}

/// The rules, written as plainly as possible.
struct Model {
    now: u64,
    max_total: usize,
    default_max: usize,
    overrides: HashMap<usize, usize>,
    ttl: Option<u64>,
    policy: ReusePolicy,
    idle: Vec<MIdle>,
    leases: Vec<MLease>,
    waiters: Vec<MWaiter>,
    seq: u64,
    closed: Vec<(Conn, CloseReason)>,
    served: Vec<(u64, Option<Conn>)>,
    shutdown: bool,
}

impl Model {
    fn route_max(&self, r: usize) -> usize {
        self.overrides.get(&r).copied().unwrap_or(self.default_max)
    }
    fn route_leased(&self, r: usize) -> usize {
        self.leases.iter().filter(|l| l.route == r).count()
    }
    fn route_idle(&self, r: usize) -> usize {
        self.idle.iter().filter(|i| i.route == r).count()
    }
    fn expired(&self, i: &MIdle) -> bool {
        i.expiry.is_some_and(|e| self.now >= e)
    }
    fn close_idle_at(&mut self, pos: usize, reason: CloseReason) {
        let gone = self.idle.remove(pos);
        self.closed.push((gone.conn, reason));
    }
    fn purge(&mut self) {
        while let Some(pos) = self.idle.iter().position(|i| self.expired(i)) {
            self.close_idle_at(pos, CloseReason::Expired);
        }
    }
    fn oldest_idle(&self, route: Option<usize>) -> Option<usize> {
        (0..self.idle.len())
            .filter(|&p| route.is_none_or(|r| self.idle[p].route == r))
            .min_by_key(|&p| self.idle[p].seq)
    }
    /// Trims the route's idle while leased + extra + idle > max, then the pool's.
    fn trim(&mut self, route: Option<usize>, extra: usize) {
        if let Some(r) = route {
            while self.route_leased(r) + extra + self.route_idle(r) > self.route_max(r) {
                let Some(p) = self.oldest_idle(Some(r)) else {
                    break;
                };
                self.close_idle_at(p, CloseReason::Trimmed);
            }
        }
        while self.leases.len() + extra + self.idle.len() > self.max_total {
            let Some(p) = self.oldest_idle(None) else {
                break;
            };
            self.close_idle_at(p, CloseReason::Trimmed);
        }
    }
    fn try_allocate(&mut self, r: usize, want: Option<State>) -> Option<MLease> {
        let mut order: Vec<u64> = self
            .idle
            .iter()
            .filter(|i| i.route == r)
            .map(|i| i.seq)
            .collect();
        order.sort_unstable();
        if self.policy == ReusePolicy::Lifo {
            order.reverse();
        }
        let mut stateless = None;
        let mut exact = None;
        for seq in order {
            let pos = self.idle.iter().position(|i| i.seq == seq).unwrap();
            let entry = self.idle[pos].clone();
            if self.expired(&entry) {
                self.close_idle_at(pos, CloseReason::Expired);
            } else if entry.state == want {
                exact = Some(seq);
                break;
            } else if entry.state.is_none() && stateless.is_none() {
                stateless = Some(seq);
            }
        }
        if let Some(seq) = exact.or(stateless) {
            let pos = self.idle.iter().position(|i| i.seq == seq).unwrap();
            let e = self.idle.remove(pos);
            return Some(MLease {
                route: r,
                conn: Some(e.conn),
                state: e.state,
                created: e.created,
                updated: e.updated,
                expiry: e.expiry,
            });
        }
        if self.route_leased(r) >= self.route_max(r) || self.leases.len() >= self.max_total {
            return None;
        }
        for route in [Some(r), None] {
            self.trim(route, 1);
        }
        Some(MLease {
            route: r,
            conn: None,
            state: None,
            created: self.now,
            updated: self.now,
            expiry: None,
        })
    }
    fn serve(&mut self) {
        let mut i = 0;
        while i < self.waiters.len() {
            if self.idle.is_empty() && self.leases.len() >= self.max_total {
                break;
            }
            let w = self.waiters[i].clone();
            match self.try_allocate(w.route, w.state) {
                Some(lease) => {
                    self.served.push((w.id, lease.conn));
                    self.leases.push(lease);
                    self.waiters.remove(i);
                }
                None => i += 1,
            }
        }
    }
    fn give_back(&mut self, lease: MLease, reusable: bool, valid_for: Option<u64>) {
        let how = if reusable {
            Back::Reusable(valid_for)
        } else {
            Back::Discard(CloseReason::NeverReuse)
        };
        self.give_back_as(lease, how);
    }
    fn give_back_as(&mut self, lease: MLease, how: Back) {
        if self.shutdown {
            // A discard keeps its own reason; what would have been kept closes for
            // the shutdown.
            if let Some(conn) = lease.conn {
                let reason = match how {
                    Back::Discard(reason) => reason,
                    _ => CloseReason::Shutdown,
                };
                self.closed.push((conn, reason));
            }
            return;
        }
        let (reusable, valid_for) = match how {
            Back::Reusable(v) => (true, v),
            Back::Discard(_) => (false, None),
            Back::Untouched => (true, None),
        };
        if let Some(conn) = lease.conn {
            if matches!(how, Back::Untouched) {
                if lease.expiry.is_some_and(|e| self.now >= e) {
                    self.closed.push((conn, CloseReason::Expired));
                } else {
                    self.seq += 1;
                    let (route, state, created) = (lease.route, lease.state, lease.created);
                    let (updated, expiry, seq) = (lease.updated, lease.expiry, self.seq);
                    self.idle.push(MIdle {
                        route,
                        conn,
                        state,
                        created,
                        updated,
                        expiry,
                        seq,
                    });
                }
            } else if !reusable {
                let reason = match how {
                    Back::Discard(reason) => reason,
                    _ => CloseReason::NeverReuse,
                };
                self.closed.push((conn, reason));
            } else {
                let keep = valid_for.map(|v| self.now + v);
                let ttl_end = self.ttl.map(|t| lease.created + t);
                let expiry = match (keep, ttl_end) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                if expiry.is_some_and(|e| self.now >= e) {
                    self.closed.push((conn, CloseReason::Expired));
                } else {
                    self.seq += 1;
                    let (route, state, created, updated, seq) =
                        (lease.route, lease.state, lease.created, self.now, self.seq);
                    self.idle.push(MIdle {
                        route,
                        conn,
                        state,
                        created,
                        updated,
                        expiry,
                        seq,
                    });
                }
            }
        }
        self.purge();
        self.trim(Some(lease.route), 0);
        self.serve();
    }
    fn limits_changed(&mut self) {
        for r in 0..ROUTES.len() {
            self.trim(Some(r), 0);
        }
        self.trim(None, 0);
        if !self.shutdown {
            self.serve();
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Back {
    Reusable(Option<u64>),
    Untouched,
    Discard(CloseReason),
}

struct Real {
    h: Harness,
    leases: Vec<TestLease>,
    waiters: Vec<(u64, usize, Option<State>, TestRequest)>,
    next_conn: Conn,
}

impl Real {
    /// Assigns a connection to a new slot, as a client connecting would.
    fn connect(&mut self, mut lease: TestLease) -> TestLease {
        if lease.connection().is_none() {
            self.next_conn += 1;
            lease.assign(self.next_conn);
        }
        lease
    }
}

fn run(ops: Vec<Op>, policy: ReusePolicy, ttl: Option<u64>) -> Result<(), TestCaseError> {
    let config = PoolConfig::with_limits(4, 2)
        .with_reuse_policy(policy)
        .with_time_to_live(ttl.map(Duration::from_millis));
    let mut real = Real {
        h: Harness::new(config),
        leases: Vec::new(),
        waiters: Vec::new(),
        next_conn: 0,
    };
    let mut m = Model {
        now: 0,
        max_total: 4,
        default_max: 2,
        overrides: HashMap::new(),
        ttl,
        policy,
        idle: Vec::new(),
        leases: Vec::new(),
        waiters: Vec::new(),
        seq: 0,
        closed: Vec::new(),
        served: Vec::new(),
        shutdown: false,
    };
    let mut next_waiter = 0u64;
    let mut limits_changed = false;

    for (step, op) in ops.into_iter().enumerate() {
        m.closed.clear();
        m.served.clear();
        let closed_before = real.h.closed().len();
        match op.clone() {
            Op::Lease { route, state } => {
                let want = STATES[state];
                let req = real.h.pool.lease(&ROUTES[route], want);
                if m.shutdown {
                    prop_assert!(req.is_immediate());
                    prop_assert!(matches!(
                        req.get(Duration::ZERO),
                        Err(LeaseError::Shutdown(_))
                    ));
                    continue;
                }
                m.purge();
                match m.try_allocate(route, want) {
                    Some(lease) => {
                        prop_assert!(req.is_immediate(), "step {step}: model serves at once");
                        let l = req
                            .get(Duration::ZERO)
                            .map_err(|e| TestCaseError::fail(e.to_string()))?;
                        prop_assert_eq!(
                            conn(&l),
                            lease.conn,
                            "step {}: connection handed out",
                            step
                        );
                        let l = real.connect(l);
                        m.leases.push(MLease {
                            conn: conn(&l),
                            ..lease
                        });
                        real.leases.push(l);
                    }
                    None => {
                        prop_assert!(!req.is_immediate(), "step {step}: model makes it wait");
                        next_waiter += 1;
                        m.waiters.push(MWaiter {
                            id: next_waiter,
                            route,
                            state: want,
                        });
                        real.waiters.push((next_waiter, route, want, req));
                    }
                }
            }
            Op::Release {
                lease,
                reusable,
                valid_for_ms,
                set_state,
            } => {
                if real.leases.is_empty() {
                    continue;
                }
                let i = lease % real.leases.len();
                let mut l = real.leases.remove(i);
                let mut ml = m.leases.remove(i);
                if let Some(s) = set_state {
                    l.set_state(STATES[s]);
                    ml.state = STATES[s];
                }
                l.release(if reusable {
                    Decision::Keep {
                        valid_for: valid_for_ms.map(Duration::from_millis),
                    }
                } else {
                    Decision::Close(CloseReason::NeverReuse)
                });
                m.give_back(ml, reusable, valid_for_ms);
            }
            Op::Discard { lease } => {
                if real.leases.is_empty() {
                    continue;
                }
                let i = lease % real.leases.len();
                drop(real.leases.remove(i));
                let ml = m.leases.remove(i);
                m.give_back_as(ml, Back::Discard(CloseReason::Abandoned));
            }
            Op::Cancel { waiter } | Op::Timeout { waiter } => {
                if real.waiters.is_empty() {
                    continue;
                }
                let i = waiter % real.waiters.len();
                let (_, _, _, req) = real.waiters.remove(i);
                m.waiters.remove(i);
                if matches!(op, Op::Cancel { .. }) {
                    prop_assert!(req.cancel_handle().cancel());
                    prop_assert!(matches!(
                        req.get(Duration::ZERO),
                        Err(LeaseError::Cancelled(_))
                    ));
                } else {
                    prop_assert!(matches!(
                        req.get(Duration::ZERO),
                        Err(LeaseError::Timeout(_))
                    ));
                }
            }
            Op::SetMaxTotal(n) => {
                limits_changed = true;
                real.h.pool.set_max_total(n).unwrap();
                m.max_total = n;
                m.limits_changed();
            }
            Op::SetDefaultMax(n) => {
                limits_changed = true;
                real.h.pool.set_default_max_per_route(n).unwrap();
                m.default_max = n;
                m.limits_changed();
            }
            Op::SetRouteMax { route, max } => {
                limits_changed = true;
                real.h.pool.set_max_per_route(&ROUTES[route], max);
                match max {
                    Some(n) => m.overrides.insert(route, n),
                    None => m.overrides.remove(&route),
                };
                m.limits_changed();
            }
            Op::ReleaseThenDropWaiter { lease, waiter } => {
                if real.leases.is_empty() || real.waiters.is_empty() {
                    continue;
                }
                let i = lease % real.leases.len();
                real.leases.remove(i).release(Decision::keep(None));
                let ml = m.leases.remove(i);
                m.give_back(ml, true, None);
                let w = waiter % real.waiters.len();
                let (id, _, _, req) = real.waiters.remove(w);
                drop(req);
                match m.served.iter().position(|(sid, _)| *sid == id) {
                    Some(k) => {
                        // Served by the release, dropped before pick-up: back untouched.
                        let pos = m.leases.len() - m.served.len() + k;
                        m.served.remove(k);
                        let back = m.leases.remove(pos);
                        m.give_back_as(back, Back::Untouched);
                    }
                    None => {
                        let pos = m.waiters.iter().position(|mw| mw.id == id).unwrap();
                        m.waiters.remove(pos);
                    }
                }
            }
            Op::Shutdown => {
                real.h.pool.shutdown();
                m.shutdown = true;
                for idle in std::mem::take(&mut m.idle) {
                    m.closed.push((idle.conn, CloseReason::Shutdown));
                }
                // Every waiter fails; they are polled below.
                m.waiters.clear();
            }
            Op::Advance(ms) => {
                real.h.clock.advance(Duration::from_millis(ms));
                m.now += ms;
            }
            Op::CloseExpired => {
                real.h.pool.close_expired();
                while let Some(p) = m.idle.iter().position(|i| m.expired(i)) {
                    m.close_idle_at(p, CloseReason::Expired);
                }
            }
            Op::CloseIdle(ms) => {
                real.h.pool.close_idle(Duration::from_millis(ms));
                let cutoff = m.now as i64 - ms as i64;
                while let Some(p) = m.idle.iter().position(|i| i.updated as i64 <= cutoff) {
                    m.close_idle_at(p, CloseReason::IdleEvicted);
                }
            }
        }

        // Who did the real pool serve? Poll every waiter, oldest first.
        let mut served = Vec::new();
        let mut still = Vec::new();
        for (id, route, want, mut req) in std::mem::take(&mut real.waiters) {
            match poll(&mut req) {
                Poll::Ready(Ok(lease)) => served.push((id, route, want, lease)),
                Poll::Ready(Err(e)) if m.shutdown && e.is_shutdown() => {}
                Poll::Ready(Err(e)) => {
                    return Err(TestCaseError::fail(format!(
                        "step {step}: waiter {id} failed: {e}"
                    )));
                }
                Poll::Pending => still.push((id, route, want, req)),
            }
        }
        // FIFO: no waiter is served while an older one asking the same is left waiting.
        for (id, route, want, _) in &served {
            let overtaken = still
                .iter()
                .any(|(older, r, w, _)| older < id && r == route && w == want);
            prop_assert!(
                !overtaken,
                "step {}: waiter {} served before an older one",
                step,
                id
            );
        }
        real.waiters = still;
        let served_ids: Vec<(u64, Option<Conn>)> =
            served.iter().map(|(id, _, _, l)| (*id, conn(l))).collect();
        prop_assert_eq!(&served_ids, &m.served, "step {}: {:?} served", step, op);
        // Model leases were pushed in serving order; so are the real ones.
        let first_served = m.leases.len() - served.len();
        for (k, (_, _, _, lease)) in served.into_iter().enumerate() {
            let lease = real.connect(lease);
            m.leases[first_served + k].conn = conn(&lease);
            real.leases.push(lease);
        }

        // Closes, as multisets.
        let mut real_closed = real.h.closed()[closed_before..].to_vec();
        let mut model_closed = m.closed.clone();
        real_closed.sort_by_key(|(c, r)| (*c, r.name()));
        model_closed.sort_by_key(|(c, r)| (*c, r.name()));
        prop_assert_eq!(real_closed, model_closed, "step {}: {:?} closed", step, op);

        // Counts.
        for (r, name) in ROUTES.iter().enumerate() {
            let want = stats(
                m.route_leased(r),
                m.waiters.iter().filter(|w| w.route == r).count(),
                m.route_idle(r),
                m.route_max(r),
            );
            prop_assert_eq!(
                real.h.pool.route_stats(name),
                want,
                "step {}: route {}",
                step,
                name
            );
        }
        let want = stats(m.leases.len(), m.waiters.len(), m.idle.len(), m.max_total);
        prop_assert_eq!(real.h.pool.stats(), want, "step {}", step);
        let mut routes = real.h.pool.routes();
        routes.sort_unstable();
        let mut want_routes: Vec<Route> = (0..ROUTES.len())
            .filter(|&r| {
                m.route_leased(r) + m.route_idle(r) > 0 || m.waiters.iter().any(|w| w.route == r)
            })
            .map(|r| ROUTES[r])
            .collect();
        want_routes.sort_unstable();
        prop_assert_eq!(routes, want_routes, "step {}: route table", step);

        // Invariants.
        real.h
            .pool
            .check_invariants()
            .map_err(TestCaseError::fail)?;
        let mut conns: Vec<Conn> = real.leases.iter().filter_map(conn).collect();
        let n = conns.len();
        conns.sort_unstable();
        conns.dedup();
        prop_assert_eq!(conns.len(), n, "a connection leased twice");
        if !limits_changed {
            prop_assert!(m.leases.len() + m.idle.len() <= m.max_total);
            for r in 0..ROUTES.len() {
                prop_assert!(m.route_leased(r) + m.route_idle(r) <= m.route_max(r));
            }
        }
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 400, ..ProptestConfig::default() })]

    #[test]
    fn pool_agrees_with_model_lifo(ops in proptest::collection::vec(op(), 1..80), ttl in proptest::option::of(5..60u64)) {
        run(ops, ReusePolicy::Lifo, ttl)?;
    }

    #[test]
    fn pool_agrees_with_model_fifo(ops in proptest::collection::vec(op(), 1..80), ttl in proptest::option::of(5..60u64)) {
        run(ops, ReusePolicy::Fifo, ttl)?;
    }
}
