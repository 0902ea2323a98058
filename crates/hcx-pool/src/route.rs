//! Per-route bookkeeping and the bounded route table.

use std::collections::{BTreeMap, HashMap};
use std::hash::Hash;

use slab::Slab;

use crate::idle::RouteIdle;

/// Counts and idle-list ends of one route.
#[derive(Debug)]
pub(crate) struct RouteState<R> {
    pub(crate) key: R,
    /// Slots lent out, including ones handed to a waiter that has not picked them up.
    pub(crate) leased: usize,
    /// Requests of this route waiting, by arrival number (→ waiter key).
    pub(crate) queue: BTreeMap<u64, usize>,
    /// The arrival number under which this route's head is listed in `Core::ready`.
    pub(crate) listed: Option<u64>,
    pub(crate) idle: RouteIdle,
    /// The route's own limit, if `set_max_per_route` gave it one.
    pub(crate) max: Option<usize>,
}

impl<R> RouteState<R> {
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
    /// foldhash: several times cheaper than SipHash on short keys, and randomly seeded
    /// per map, so route keys chosen by a peer (redirect targets) cannot be aimed at
    /// one bucket without seeing the seed.
    index: HashMap<R, usize, foldhash::fast::RandomState>,
}

impl<R: Eq + Hash + Clone> Routes<R> {
    pub(crate) fn new() -> Self {
        Self {
            slab: Slab::new(),
            index: HashMap::default(),
        }
    }

    #[inline]
    pub(crate) fn find(&self, key: &R) -> Option<usize> {
        self.index.get(key).copied()
    }

    pub(crate) fn find_or_insert(&mut self, key: &R, max: Option<usize>) -> usize {
        if let Some(&idx) = self.index.get(key) {
            return idx;
        }
        let idx = self.slab.insert(RouteState {
            key: key.clone(),
            leased: 0,
            queue: BTreeMap::new(),
            listed: None,
            idle: RouteIdle::default(),
            max,
        });
        self.index.insert(key.clone(), idx);
        idx
    }

    #[inline]
    pub(crate) fn remove_if_unused(&mut self, idx: usize) {
        if self.slab.get(idx).is_some_and(RouteState::is_unused) {
            let route = self.slab.remove(idx);
            self.index.remove(&route.key);
        }
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
