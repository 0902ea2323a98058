//! Idle connections: one slab, threaded by two doubly-linked lists.
//!
//! Every idle entry is on its route's list and on the pool-wide list, both ordered
//! from least to most recently released. The route list serves leases (LIFO walks it
//! from the newest end, FIFO from the oldest) and per-route trimming; the pool-wide
//! list finds the globally least-recently-used entry to close when the total limit
//! needs room. All operations are O(1) except walking a route's list.

use slab::Slab;

/// Links are `u32` slab keys: a node is 32 bytes, not 56, which keeps the idle lists
/// of many routes denser in cache (`pool_many_routes`). Four billion idle connections
/// would not fit in memory anyway.
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
    route: Key,
    route_older: Key,
    route_newer: Key,
    all_older: Key,
    all_newer: Key,
}

/// All idle entries of the pool.
#[derive(Debug)]
pub(crate) struct IdleList<E> {
    nodes: Slab<Node<E>>,
    oldest: Key,
    newest: Key,
}

impl<E> IdleList<E> {
    pub(crate) fn new() -> Self {
        Self {
            nodes: Slab::new(),
            oldest: NIL,
            newest: NIL,
        }
    }

    pub(crate) fn len(&self) -> usize {
        self.nodes.len()
    }

    /// Adds `entry` of route `route` as the most recently released, pool-wide and on
    /// its route. Returns its key.
    #[inline]
    pub(crate) fn push_newest(&mut self, ends: &mut RouteIdle, route: usize, entry: E) -> usize {
        let at = self.nodes.insert(Node {
            entry,
            route: key(route),
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
    pub(crate) fn remove(&mut self, ends: &mut RouteIdle, key: usize) -> E {
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
        node.entry
    }

    /// The pool-wide least recently released entry and its route.
    pub(crate) fn oldest(&self) -> Option<(usize, usize)> {
        (self.oldest != NIL).then(|| {
            let k = self.oldest as usize;
            (k, self.nodes[k].route as usize)
        })
    }

    /// The entry behind `key`.
    pub(crate) fn get(&self, key: usize) -> &E {
        &self.nodes[key].entry
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

    /// Every idle entry with its key and route, in no particular order.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (usize, usize, &E)> {
        self.nodes
            .iter()
            .map(|(k, n)| (k, n.route as usize, &n.entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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

    #[test]
    fn lists_keep_release_order_per_route_and_pool_wide() {
        let mut list = IdleList::new();
        let (mut a, mut b) = (RouteIdle::default(), RouteIdle::default());
        let a1 = list.push_newest(&mut a, 0, 1);
        let b2 = list.push_newest(&mut b, 1, 2);
        let a3 = list.push_newest(&mut a, 0, 3);
        let _b4 = list.push_newest(&mut b, 1, 4);
        assert_eq!(route_entries(&list, &a), vec![1, 3]);
        assert_eq!(route_entries(&list, &b), vec![2, 4]);
        assert_eq!(list.oldest(), Some((a1, 0)));

        assert_eq!(list.remove(&mut a, a1), 1);
        assert_eq!(list.oldest(), Some((b2, 1)));
        assert_eq!(list.remove(&mut a, a3), 3);
        assert_eq!(route_entries(&list, &a), Vec::<u32>::new());
        assert_eq!(list.remove(&mut b, b2), 2);
        assert_eq!(route_entries(&list, &b), vec![4]);
        assert_eq!(list.len(), 1);
    }

    #[test]
    fn removing_from_the_middle_relinks_both_lists() {
        let mut list = IdleList::new();
        let mut a = RouteIdle::default();
        let keys: Vec<usize> = (0..5).map(|i| list.push_newest(&mut a, 0, i)).collect();
        list.remove(&mut a, keys[2]);
        assert_eq!(route_entries(&list, &a), vec![0, 1, 3, 4]);
        list.remove(&mut a, keys[4]);
        list.remove(&mut a, keys[0]);
        assert_eq!(route_entries(&list, &a), vec![1, 3]);
        assert_eq!(list.oldest().map(|(k, _)| *list.get(k)), Some(1));
    }
}
