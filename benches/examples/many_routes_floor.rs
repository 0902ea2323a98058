//! What leasing from a cache-cold route costs at the least, whatever the pool's rules:
//! `cargo run --release -p hcx-benches --example many_routes_floor -- [cycles]`.
//!
//! `pool_many_routes/10000` leases and releases on a route 7,919 steps further on at
//! every cycle, so every route it touches was last touched 10,000 cycles ago. This
//! model does only what any pool must do for that: under a `parking_lot` mutex, find
//! the route through a `hashbrown` index (as hcx does), take its idle connection and
//! unlink it from a pool-wide LRU list; then, under the lock again, put it back. It
//! runs the cycle in three layouts, 1 route and 10,000 side by side:
//!
//! - `route line`: the idle connection's pointer and bookkeeping sit in the route's
//!   own 64-byte line, and the connection's allocation is never read or written;
//! - `+ LRU links`: the same, plus a pool-wide doubly-linked LRU list in a dense slab;
//! - `+ entry box`: the same, plus reading the connection's record (its expiry) at
//!   lease and writing it (last use, expiry) at release, as a pool whose entries
//!   live in an allocation of their own does.
//!
//! The difference between the last two rows is the floor of what touching an entry's
//! own allocation costs once 10,000 routes no longer fit in L2.

use std::hash::BuildHasher;
use std::hint::black_box;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

/// A connection's record in an allocation of its own.
struct Entry {
    expiry: u64,
    updated: u64,
    _conn: [u64; 8],
}

/// One route: key, counts, and the idle connection with the bookkeeping a lease
/// decides with, in one cache line.
#[repr(align(64))]
struct Route {
    key: u32,
    leased: u32,
    max: u32,
    node: u32,
    idle: Option<Box<Entry>>,
    expiry: u64,
    updated: u64,
}

struct Node {
    older: u32,
    newer: u32,
}

#[derive(Clone, Copy, PartialEq)]
enum Layout {
    RouteLine,
    LruLinks,
    EntryBox,
}

struct Model {
    routes: Vec<Route>,
    nodes: Vec<Node>,
    index: hashbrown::HashTable<u32>,
    hasher: foldhash::fast::RandomState,
}

impl Model {
    fn new(n: u32, stride: u32) -> Self {
        let hasher = foldhash::fast::RandomState::default();
        let mut index = hashbrown::HashTable::new();
        for r in 0..n {
            index.insert_unique(hasher.hash_one(r), r, |&i| hasher.hash_one(i));
        }
        let routes = (0..n)
            .map(|r| Route {
                key: r,
                leased: 0,
                max: 1,
                node: r,
                idle: Some(Box::new(Entry {
                    expiry: u64::MAX,
                    updated: 0,
                    _conn: [u64::from(r); 8],
                })),
                expiry: u64::MAX,
                updated: 0,
            })
            .collect();
        // LRU neighbours as the strided cycle leaves them: released `stride` apart.
        let nodes = (0..n)
            .map(|r| Node {
                older: (r + n - stride % n) % n,
                newer: (r + stride) % n,
            })
            .collect();
        Self {
            routes,
            nodes,
            index,
            hasher,
        }
    }

    fn unlink(&mut self, node: usize) {
        let (older, newer) = (self.nodes[node].older, self.nodes[node].newer);
        self.nodes[older as usize].newer = newer;
        self.nodes[newer as usize].older = older;
    }

    fn relink(&mut self, node: usize) {
        let (older, newer) = (self.nodes[node].older, self.nodes[node].newer);
        self.nodes[older as usize].newer = node as u32;
        self.nodes[newer as usize].older = node as u32;
    }
}

/// Nanoseconds per lease + release cycle.
fn run(routes: u32, stride: u32, cycles: u32, layout: Layout) -> f64 {
    let model = Mutex::new(Model::new(routes, stride));
    let mut next = 0u32;
    let start = Instant::now();
    for cycle in 0..cycles {
        next = (next + stride) % routes;
        let key = black_box(next);
        let (ridx, mut entry) = {
            let mut m = model.lock();
            let m = &mut *m;
            let routes = &m.routes;
            let Some(&ridx) = m
                .index
                .find(m.hasher.hash_one(key), |&i| routes[i as usize].key == key)
            else {
                unreachable!("every route is indexed")
            };
            let route = &mut m.routes[ridx as usize];
            assert!(route.leased < route.max && route.expiry > u64::from(cycle));
            route.leased += 1;
            let (node, Some(entry)) = (route.node as usize, route.idle.take()) else {
                unreachable!("every route has an idle connection")
            };
            if layout == Layout::EntryBox {
                assert!(entry.expiry > u64::from(cycle));
            }
            if layout != Layout::RouteLine {
                m.unlink(node);
            }
            (ridx, entry)
        };
        black_box(&mut entry);
        {
            let mut m = model.lock();
            if layout == Layout::EntryBox {
                entry.updated = u64::from(cycle);
                entry.expiry = u64::MAX;
            }
            let route = &mut m.routes[ridx as usize];
            route.leased -= 1;
            route.updated = u64::from(cycle);
            route.expiry = u64::MAX;
            route.idle = Some(entry);
            let node = route.node as usize;
            if layout != Layout::RouteLine {
                m.relink(node);
            }
        }
    }
    start.elapsed().as_secs_f64() * 1e9 / f64::from(cycles)
}

fn main() {
    let cycles: u32 = std::env::args()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(10_000_000);
    println!("per lease + release cycle; 10,000 routes in a stride of 7919 (median of 5 runs)");
    for (layout, name) in [
        (Layout::RouteLine, "route line"),
        (Layout::LruLinks, "+ LRU links"),
        (Layout::EntryBox, "+ entry box"),
    ] {
        let median = |routes, stride| {
            let mut runs: Vec<f64> = (0..5)
                .map(|_| run(routes, stride, cycles, layout))
                .collect();
            runs.sort_by(f64::total_cmp);
            runs[2]
        };
        let one = median(1, 0);
        let many = median(10_000, 7919);
        println!(
            "{name:<12}  1 route {:>6?}  10,000 routes {:>6?}  ratio {:.2}  (+{:.1} ns)",
            Duration::from_secs_f64(one / 1e9),
            Duration::from_secs_f64(many / 1e9),
            many / one,
            many - one
        );
    }
}
