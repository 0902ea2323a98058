//! Idle connections: one slab, threaded by two doubly-linked lists.
//!
//! Every idle entry is on its route's list and on the pool-wide list, both ordered
//! from least to most recently released. The route list serves leases (LIFO walks it
//! from the newest end, FIFO from the oldest) and per-route trimming; the pool-wide
//! list finds the globally least-recently-used entry to close when the total limit
//! needs room. All operations are O(1) except walking a route's list.

use crate::entry::Meta;

/// Links are `u32` slab keys: a node is 48 bytes with the entry's bookkeeping, which
/// keeps the idle lists of many routes dense in cache (`pool_many_routes`). Four
/// billion idle connections would not fit in memory anyway.
type Key = u32;

const NIL: Key = Key::MAX;

#[inline]
fn key(k: usize) -> Key {
    debug_assert!(k < NIL as usize);
    k as Key
}

/// The two ends and the length of one route's idle list. Lives in the route's state.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RouteIdle {
    oldest: Key,
    newest: Key,
    len: u32,
}

impl Default for RouteIdle {
    fn default() -> Self {
        Self {
            oldest: NIL,
            newest: NIL,
            len: 0,
        }
    }
}

impl RouteIdle {
    pub(crate) fn len(&self) -> usize {
        self.len as usize
    }

    pub(crate) fn oldest(&self) -> Option<usize> {
        (self.oldest != NIL).then_some(self.oldest as usize)
    }

    pub(crate) fn newest(&self) -> Option<usize> {
        (self.newest != NIL).then_some(self.newest as usize)
    }
}

#[derive(Debug)]
struct Node<E> {
    entry: E,
    /// The entry's bookkeeping; `meta.ridx` is its route.
    meta: Meta,
    route_older: Key,
    route_newer: Key,
    all_older: Key,
    all_newer: Key,
}

/// All idle entries of the pool.
#[derive(Debug)]
pub(crate) struct IdleList<E> {
    nodes: Nodes<E>,
    oldest: Key,
    newest: Key,
}

impl<E> IdleList<E> {
    pub(crate) fn new() -> Self {
        Self {
            nodes: Nodes::default(),
            oldest: NIL,
            newest: NIL,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Adds `entry` of route `meta.ridx` as the most recently released, pool-wide and
    /// on its route (`ends`). Returns its key.
    #[inline]
    pub(crate) fn push_newest(&mut self, ends: &mut RouteIdle, entry: E, meta: Meta) -> usize {
        let at = self.nodes.insert(Node {
            entry,
            meta,
            route_older: ends.newest,
            route_newer: NIL,
            all_older: self.newest,
            all_newer: NIL,
        });
        let k = key(at);
        match ends.newest {
            NIL => ends.oldest = k,
            prev => self.nodes[prev as usize].route_newer = k,
        }
        ends.newest = k;
        ends.len += 1;
        match self.newest {
            NIL => self.oldest = k,
            prev => self.nodes[prev as usize].all_newer = k,
        }
        self.newest = k;
        at
    }

    /// Takes entry `key` off both lists. `ends` must be its route's.
    #[inline]
    pub(crate) fn remove(&mut self, ends: &mut RouteIdle, key: usize) -> (E, Meta) {
        let node = self.nodes.remove(key);
        match node.route_older {
            NIL => ends.oldest = node.route_newer,
            k => self.nodes[k as usize].route_newer = node.route_newer,
        }
        match node.route_newer {
            NIL => ends.newest = node.route_older,
            k => self.nodes[k as usize].route_older = node.route_older,
        }
        ends.len -= 1;
        match node.all_older {
            NIL => self.oldest = node.all_newer,
            k => self.nodes[k as usize].all_newer = node.all_newer,
        }
        match node.all_newer {
            NIL => self.newest = node.all_older,
            k => self.nodes[k as usize].all_older = node.all_older,
        }
        (node.entry, node.meta)
    }

    /// The pool-wide least recently released entry and its route.
    pub(crate) fn oldest(&self) -> Option<(usize, usize)> {
        (self.oldest != NIL).then(|| {
            let k = self.oldest as usize;
            (k, self.nodes[k].meta.ridx())
        })
    }

    /// The entry behind `key`.
    pub(crate) fn get(&self, key: usize) -> &E {
        &self.nodes[key].entry
    }

    /// The bookkeeping of the entry behind `key`.
    #[inline]
    pub(crate) fn meta(&self, key: usize) -> &Meta {
        &self.nodes[key].meta
    }

    /// The next entry of the same route released after `key`.
    pub(crate) fn newer(&self, key: usize) -> Option<usize> {
        let k = self.nodes[key].route_newer;
        (k != NIL).then_some(k as usize)
    }

    /// The next entry of the same route released before `key`.
    pub(crate) fn older(&self, key: usize) -> Option<usize> {
        let k = self.nodes[key].route_older;
        (k != NIL).then_some(k as usize)
    }

    /// Every idle entry with its key and bookkeeping, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, &E, &Meta)> {
        self.nodes.iter().map(|(k, n)| (k, &n.entry, &n.meta))
    }
}

/// The nodes' store: a slab of our own, so that inserting and removing a node is
/// inlined into the lease and release paths (`slab::Slab::insert_at` was not; the
/// measured cost is in `docs/benchmarks.md`, session 4). The most recently freed slot
/// is reused first: it is warm.
#[derive(Debug)]
struct Nodes<E> {
    slots: Vec<Option<Node<E>>>,
    free: Vec<Key>,
}

impl<E> Default for Nodes<E> {
    fn default() -> Self {
        Self {
            slots: Vec::new(),
            free: Vec::new(),
        }
    }
}

impl<E> Nodes<E> {
    fn len(&self) -> usize {
        self.slots.len() - self.free.len()
    }

    #[inline]
    fn insert(&mut self, node: Node<E>) -> usize {
        match self.free.pop() {
            Some(k) => {
                self.slots[k as usize] = Some(node);
                k as usize
            }
            None => {
                self.slots.push(Some(node));
                self.slots.len() - 1
            }
        }
    }

    #[inline]
    fn remove(&mut self, k: usize) -> Node<E> {
        match self.slots.get_mut(k).and_then(Option::take) {
            Some(node) => {
                self.free.push(key(k));
                node
            }
            None => panic!("no idle node {k}"),
        }
    }

    fn iter(&self) -> impl Iterator<Item = (usize, &Node<E>)> {
        self.slots
            .iter()
            .enumerate()
            .filter_map(|(k, n)| n.as_ref().map(|n| (k, n)))
    }
}

impl<E> std::ops::Index<usize> for Nodes<E> {
    type Output = Node<E>;
    #[inline]
    fn index(&self, k: usize) -> &Node<E> {
        match self.slots.get(k) {
            Some(Some(node)) => node,
            _ => panic!("no idle node {k}"),
        }
    }
}

impl<E> std::ops::IndexMut<usize> for Nodes<E> {
    #[inline]
    fn index_mut(&mut self, k: usize) -> &mut Node<E> {
        match self.slots.get_mut(k) {
            Some(Some(node)) => node,
            _ => panic!("no idle node {k}"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::entry::Stamp;

    fn meta(route: u32) -> Meta {
        Meta::new_slot(route, Stamp::NEVER)
    }

    fn route_entries(list: &IdleList<u32>, ends: &RouteIdle) -> Vec<u32> {
        let mut out = Vec::new();
        let mut cur = ends.oldest();
        while let Some(k) = cur {
            out.push(*list.get(k));
            cur = list.newer(k);
        }
        let mut back = Vec::new();
        let mut cur = ends.newest();
        while let Some(k) = cur {
            back.push(*list.get(k));
            cur = list.older(k);
        }
        back.reverse();
        assert_eq!(out, back, "forward and backward walks agree");
        assert_eq!(out.len(), ends.len());
        out
    }

    /// A node, with the entry's bookkeeping, stays 48 bytes (`pool_many_routes`
    /// touches one per cycle).
    #[test]
    fn a_node_is_48_bytes() {
        assert_eq!(std::mem::size_of::<Option<Node<Box<u64>>>>(), 48);
    }

    #[test]
    fn lists_keep_release_order_per_route_and_pool_wide() {
        let mut list = IdleList::new();
        let (mut a, mut b) = (RouteIdle::default(), RouteIdle::default());
        let a1 = list.push_newest(&mut a, 1, meta(0));
        let b2 = list.push_newest(&mut b, 2, meta(1));
        let a3 = list.push_newest(&mut a, 3, meta(0));
        let _b4 = list.push_newest(&mut b, 4, meta(1));
        assert_eq!(route_entries(&list, &a), vec![1, 3]);
        assert_eq!(route_entries(&list, &b), vec![2, 4]);
        assert_eq!(list.oldest(), Some((a1, 0)));

        assert_eq!(list.remove(&mut a, a1).0, 1);
        assert_eq!(list.oldest(), Some((b2, 1)));
        assert_eq!(list.remove(&mut a, a3).0, 3);
        assert_eq!(route_entries(&list, &a), Vec::<u32>::new());
        assert_eq!(list.remove(&mut b, b2).0, 2);
        assert_eq!(route_entries(&list, &b), vec![4]);
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn removing_from_the_middle_relinks_both_lists() {
        let mut list = IdleList::new();
        let mut a = RouteIdle::default();
        let keys: Vec<usize> = (0..5)
            .map(|i| list.push_newest(&mut a, i, meta(0)))
            .collect();
        list.remove(&mut a, keys[2]);
        assert_eq!(route_entries(&list, &a), vec![0, 1, 3, 4]);
        list.remove(&mut a, keys[4]);
        list.remove(&mut a, keys[0]);
        assert_eq!(route_entries(&list, &a), vec![1, 3]);
        assert_eq!(list.oldest().map(|(k, _)| *list.get(k)), Some(1));
    }
}
