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
    /// The route [`find_or_insert`](Self::find_or_insert) last returned (it may have
    /// been removed since, or its slot given to another route): asked first, by key,
    /// so a client that sends its requests to one route neither hashes its key nor
    /// probes the index.
    last: usize,
}

/// Route keys compared in one place: the index's probe and the check of the last
/// route found share one copy of the key's `==`.
#[inline(never)]
fn same_key<R: Eq>(a: &R, b: &R) -> bool {
    a == b
}

impl<R: Eq + Hash + Clone> Routes<R> {
    pub(crate) fn new() -> Self {
        Self {
            slab: Slab::new(),
            index: HashTable::new(),
            hasher: foldhash::fast::RandomState::default(),
            last: usize::MAX,
        }
    }

    /// The route of `key`, if it is in the table, without remembering it.
    pub(crate) fn find(&self, key: &R) -> Option<usize> {
        self.remembered(key).or_else(|| self.probe(key))
    }

    /// The route last found, if it still holds `key` (compared by key: it may have
    /// been removed, or its slot given to another route).
    #[inline]
    fn remembered(&self, key: &R) -> Option<usize> {
        self.slab
            .get(self.last)
            .is_some_and(|r| same_key(&r.key, key))
            .then_some(self.last)
    }

    /// The route of `key` from the index.
    #[inline(never)]
    fn probe(&self, key: &R) -> Option<usize> {
        let hash = self.hasher.hash_one(key);
        let slab = &self.slab;
        self.index
            .find(hash, |&idx| same_key(&slab[idx].key, key))
            .copied()
    }

    /// The route of `key`, added with limit `max` if it is not in the table yet
    /// (`max` is asked for only then); remembered for the next look-up.
    #[inline]
    pub(crate) fn find_or_insert(&mut self, key: &R, max: impl FnOnce() -> Option<usize>) -> usize {
        if let Some(idx) = self.remembered(key) {
            return idx;
        }
        let idx = match self.probe(key) {
            Some(idx) => idx,
            None => self.insert(key, max()),
        };
        self.last = idx;
        idx
    }

    #[inline(never)]
    fn insert(&mut self, key: &R, max: Option<usize>) -> usize {
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

#[cfg(test)]
mod tests {
    use super::*;

    /// The remembered route is only a guess: a route removed, or its slot given to
    /// another key, is never returned for the old key.
    #[test]
    fn the_last_route_is_checked_by_key() {
        let mut routes: Routes<&str> = Routes::new();
        let a = routes.find_or_insert(&"a", || None);
        assert_eq!(routes.find(&"a"), Some(a));
        routes.remove_if_unused(a);
        assert_eq!(routes.find(&"a"), None, "removed, though remembered");
        let b = routes.find_or_insert(&"b", || Some(3));
        assert_eq!(b, a, "the slab gives the freed slot to the next route");
        assert_eq!(routes.find(&"a"), None, "the slot holds another key now");
        let a2 = routes.find_or_insert(&"a", || None);
        assert_ne!(a2, b);
        assert_eq!(routes[a2].key, "a");
        assert_eq!(
            routes.find_or_insert(&"b", || None),
            b,
            "found, not added again"
        );
        assert_eq!(
            routes[b].max(),
            Some(3),
            "the limit given when it was added"
        );
        assert_eq!(routes.find(&"a"), Some(a2), "found through the index");
        assert_eq!(routes.iter().count(), 2);
    }
}
