//! [`CountingAllocator`]: the allocation tests' global allocator, counting what the threads
//! that opted in allocate.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::Cell;
use std::sync::atomic::{AtomicU64, Ordering};

/// Allocations (and reallocations) made by the threads that called [`count_this_thread`],
/// all together.
static ALLOCS: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static COUNT_HERE: Cell<bool> = const { Cell::new(false) };
}

/// The system allocator, counting every allocation and reallocation of the threads that
/// called [`count_this_thread`] into one process-wide total ([`counted_allocations`]). A test
/// binary registers it with `#[global_allocator]`. The total is shared: one counted server
/// per binary (or per test run one at a time), or the counts mix.
#[derive(Debug)]
pub struct CountingAllocator;

/// From now on, the allocations of the calling thread are counted (a server thread: call it
/// from the `make` closure of `squall::testing::TestServer::start`, which runs there).
pub fn count_this_thread() {
    COUNT_HERE.with(|c| c.set(true));
}

/// The allocations counted so far.
pub fn counted_allocations() -> u64 {
    ALLOCS.load(Ordering::SeqCst)
}

fn note() {
    // `try_with`: the allocator may run while thread locals are being torn down.
    if COUNT_HERE.try_with(Cell::get).unwrap_or(false) {
        ALLOCS.fetch_add(1, Ordering::Relaxed);
    }
}

// SAFETY: forwards every call to the system allocator unchanged; `note` only touches a
// const-initialised thread local without a destructor and an atomic.
unsafe impl GlobalAlloc for CountingAllocator {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        note();
        // SAFETY: the caller's layout, forwarded.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        note();
        // SAFETY: `ptr` came from `System` with this layout.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}
