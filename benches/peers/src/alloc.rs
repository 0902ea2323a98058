//! A counting global allocator: the system allocator, plus how many allocations were
//! made and how many heap bytes are live.
//!
//! The counters are sharded per thread (64 cache-line-sized shards, a thread takes the
//! next shard the first time it allocates), so counting costs no cache line bouncing
//! between cores, which would tax the clients that allocate most beyond what allocating
//! itself costs them. The first 63 threads each own a shard and count with a plain load
//! and store (its only writer: no locked instruction, which costs ~20 cycles each and
//! would put 9 of them on every hcx request and 40 on a hyper-util one, which `wrk`,
//! the reference of the pinned cells, does not pay); threads past those share the last
//! shard and count with atomic adds.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicI64, AtomicU64, AtomicUsize, Ordering::Relaxed};

const SHARDS: usize = 64;
/// The shard the threads past the first `SHARDS - 1` share.
const SHARED: usize = SHARDS - 1;

#[repr(align(64))]
struct Shard {
    /// `alloc`, `alloc_zeroed` and `realloc` calls.
    allocs: AtomicU64,
    /// Bytes allocated minus bytes freed (a shard alone can go negative: memory freed
    /// by another thread than the one that allocated it).
    live: AtomicI64,
}

static COUNTERS: [Shard; SHARDS] = [const {
    Shard {
        allocs: AtomicU64::new(0),
        live: AtomicI64::new(0),
    }
}; SHARDS];
static NEXT_SHARD: AtomicUsize = AtomicUsize::new(0);

thread_local! {
    // Const-initialised and without a destructor: usable from inside the allocator,
    // even while the thread's other thread-locals are being destroyed.
    static SHARD: Cell<usize> = const { Cell::new(usize::MAX) };
}

/// This thread's shard and whether it is its only writer.
fn shard() -> (&'static Shard, bool) {
    let index = SHARD
        .try_with(|cell| {
            let mut index = cell.get();
            if index == usize::MAX {
                index = NEXT_SHARD.fetch_add(1, Relaxed).min(SHARED);
                cell.set(index);
            }
            index
        })
        .unwrap_or(SHARED);
    (&COUNTERS[index], index != SHARED)
}

impl Shard {
    /// Counts an allocation of `bytes` (negative: freed).
    fn count(&self, allocs: u64, bytes: i64, own: bool) {
        if own {
            // The only writer: readers (the totals) see each store whole.
            self.allocs
                .store(self.allocs.load(Relaxed) + allocs, Relaxed);
            self.live.store(self.live.load(Relaxed) + bytes, Relaxed);
        } else {
            self.allocs.fetch_add(allocs, Relaxed);
            self.live.fetch_add(bytes, Relaxed);
        }
    }
}

/// The system allocator, counted.
pub struct Counting;

// SAFETY: every call is forwarded unchanged to `System`; the counting touches only
// atomics and a const thread-local, and never allocates.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let (shard, own) = shard();
        shard.count(1, layout.size() as i64, own);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
        let (shard, own) = shard();
        shard.count(1, layout.size() as i64, own);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.alloc_zeroed(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        let (shard, own) = shard();
        shard.count(0, -(layout.size() as i64), own);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let (shard, own) = shard();
        shard.count(1, new_size as i64 - layout.size() as i64, own);
        // SAFETY: the caller's contract, forwarded.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

/// Allocations made so far (`alloc`, `alloc_zeroed` and `realloc` calls).
pub fn allocations() -> u64 {
    COUNTERS.iter().map(|s| s.allocs.load(Relaxed)).sum()
}

/// Heap bytes live now (requested sizes, not the allocator's rounding).
pub fn live_bytes() -> i64 {
    COUNTERS.iter().map(|s| s.live.load(Relaxed)).sum()
}
