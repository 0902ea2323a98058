//! Per-route bookkeeping and the bounded route table.

use std::hash::{BuildHasher, Hash};

use hashbrown::HashTable;
use slab::Slab;

use crate::idle::RouteIdle;
use crate::waiters::Queue;

/// Counts and idle-list ends of one route.
#[derive(Debug)]
pub(crate) struct RouteState<R> {
    pub(crate) key: R,
    /// Slots lent out, including ones handed to a waiter that has not picked them up.
    pub(crate) leased: usize,
    /// Requests of this route waiting, oldest first.
    pub(crate) queue: Queue,
    /// The arrival number under which this route's head is listed in `Core::ready`,
    /// or `UNLISTED` (kept in 8 bytes, not an `Option`'s 16: see `max`).
    listed: u64,
    pub(crate) idle: RouteIdle,
    /// The route's own limit, if `set_max_per_route` gave it one. A `u32` (larger
    /// limits are clamped) so that, with `listed`, a route of a small key fits one
    /// 64-byte cache line: `pool_many_routes` touches one route per lease.
    max: Option<u32>,
}

const UNLISTED: u64 = u64::MAX;

impl<R> RouteState<R> {
    /// The arrival number of the head listed in `Core::ready`, if listed.
    #[inline]
    pub(crate) fn listed(&self) -> Option<u64> {
        (self.listed != UNLISTED).then_some(self.listed)
    }

    pub(crate) fn set_listed(&mut self, seq: Option<u64>) {
        self.listed = seq.unwrap_or(UNLISTED);
    }

    /// The route's own limit, if it has one.
    #[inline]
    pub(crate) fn max(&self) -> Option<usize> {
        self.max.map(|m| m as usize)
    }

    pub(crate) fn set_max(&mut self, max: Option<usize>) {
        self.max = max.map(|m| u32::try_from(m).unwrap_or(u32::MAX));
    }

    pub(crate) fn allocated(&self) -> usize {
        self.leased + self.idle.len()
    }

    fn is_unused(&self) -> bool {
        self.leased == 0 && self.queue.is_empty() && self.idle.len() == 0
    }
}

/// Routes that have something leased, idle or pending. Indexes into the slab stay
/// valid while the route is in use, which a `Lease` or a waiter guarantees by being
/// counted in it; a route with nothing left is removed, so the table stays bounded.
#[derive(Debug)]
pub(crate) struct Routes<R> {
    slab: Slab<RouteState<R>>,
    /// Route numbers, hashed by their route's key. The key lives once, in the route;
    /// a bucket is one word, so the index of ten thousand routes stays in cache.
    index: HashTable<usize>,
    /// foldhash: several times cheaper than SipHash on short keys, and randomly seeded
    /// per pool, so route keys chosen by a peer (redirect targets) cannot be aimed at
    /// one bucket without seeing the seed.
    hasher: foldhash::fast::RandomState,
}

impl<R: Eq + Hash + Clone> Routes<R> {
    pub(crate) fn new() -> Self {
        Self {
            slab: Slab::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
        }
    }

    #[inline]
    pub(crate) fn find(&self, key: &R) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        let slab = &self.slab;
        self.index.find(hash, |&idx| slab[idx].key == *key).copied()
    }

    pub(crate) fn find_or_insert(&mut self, key: &R, max: Option<usize>) -> usize {
        if let Some(idx) = self.find(key) {
            return idx;
        }
        let mut route = RouteState {
            key: key.clone(),
            leased: 0,
            queue: Queue::default(),
            listed: UNLISTED,
            idle: RouteIdle::default(),
            max: None,
        };
        route.set_max(max);
        let idx = self.slab.insert(route);
        let (slab, hasher) = (&self.slab, &self.hasher);
        self.index.insert_unique(hasher.hash_one(key), idx, |&i| {
            hasher.hash_one(&slab[i].key)
        });
        idx
    }

    #[inline]
    pub(crate) fn remove_if_unused(&mut self, idx: usize) {
        if self.slab.get(idx).is_some_and(RouteState::is_unused) {
            let hash = self.hasher.hash_one(&self.slab[idx].key);
            if let Ok(found) = self.index.find_entry(hash, |&i| i == idx) {
                found.remove();
            }
            self.slab.remove(idx);
        }
    }

    /// The route at `idx`, if there is one.
    pub(crate) fn get(&self, idx: usize) -> Option<&RouteState<R>> {
        self.slab.get(idx)
    }

    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &RouteState<R>)> {
        self.slab.iter()
    }
}

impl<R> std::ops::Index<usize> for Routes<R> {
    type Output = RouteState<R>;
    fn index(&self, idx: usize) -> &RouteState<R> {
        &self.slab[idx]
    }
}

impl<R> std::ops::IndexMut<usize> for Routes<R> {
    fn index_mut(&mut self, idx: usize) -> &mut RouteState<R> {
        &mut self.slab[idx]
    }
}
