//! The shim binary's allocator: a bump arena in `.bss`, with the system's
//! `malloc` behind it (issue 12).
//!
//! A warm shim call makes about 300 small allocations and frees nearly all
//! of them before it exits; glibc's `malloc` and `free` were a quarter of
//! its instructions (callgrind) and their code a window of pages of their
//! own. A call lives for a millisecond, so the arena hands out memory by
//! moving one offset and never reuses it, except that freeing or resizing
//! the newest block moves the offset back or forth (a `Vec` or `String`
//! that grows while nothing else is allocated grows in place). What does
//! not fit goes to `malloc`, so a call that reads a big `.config` or
//! response file uses at most [`ARENA_BYTES`] more than it would without
//! the arena. The arena's pages are zero pages until first written, as
//! any `.bss`: the call touches only the pages it allocates from.
//!
//! Only `secwrap` (`src/main.rs`) installs it; `secwrap-cli`'s log readers
//! run for long and free as they go, and keep the system allocator.

use std::alloc::{GlobalAlloc, Layout, System};
use std::cell::UnsafeCell;
use std::sync::atomic::{AtomicUsize, Ordering};

/// The arena's size: several times what a warm compile allocates in all.
pub const ARENA_BYTES: usize = 1 << 20;

/// A bump arena of `N` bytes in front of [`System`].
pub struct Arena<const N: usize = ARENA_BYTES> {
    space: UnsafeCell<Space<N>>,
    /// Bytes handed out from the start of `space`.
    top: AtomicUsize,
}

#[repr(C, align(4096))]
struct Space<const N: usize>([u8; N]);

// SAFETY: `space` is only reached through raw pointers to blocks that
// `top` hands out once each (compare-and-swap), so no two callers get
// overlapping bytes.
unsafe impl<const N: usize> Sync for Arena<N> {}

impl<const N: usize> Arena<N> {
    pub const fn new() -> Arena<N> {
        Arena {
            space: UnsafeCell::new(Space([0; N])),
            top: AtomicUsize::new(0),
        }
    }

    fn base(&self) -> usize {
        self.space.get() as usize
    }

    /// The block's offset in the arena, if it is one of the arena's.
    fn offset_of(&self, ptr: *mut u8) -> Option<usize> {
        let offset = (ptr as usize).wrapping_sub(self.base());
        (offset < N).then_some(offset)
    }

    /// Bytes the arena has handed out.
    #[cfg(test)]
    fn used(&self) -> usize {
        self.top.load(Ordering::Relaxed)
    }
}

impl<const N: usize> Default for Arena<N> {
    fn default() -> Self {
        Arena::new()
    }
}

// SAFETY: every block is either the arena's (aligned as asked, inside
// `space`, handed out once) or `System`'s, and each is given back to the
// one it came from, as `offset_of` tells them apart.
//
// Each method is `inline(never)`: inlined into every allocation's site,
// they made the binary 200 KB bigger.
unsafe impl<const N: usize> GlobalAlloc for Arena<N> {
    #[inline(never)]
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        let base = self.base();
        let mut top = self.top.load(Ordering::Relaxed);
        loop {
            let start = (base + top).next_multiple_of(layout.align()) - base;
            let end = match start.checked_add(layout.size()) {
                Some(end) if end <= N => end,
                // SAFETY: the caller's layout, passed on unchanged.
                _ => return unsafe { System.alloc(layout) },
            };
            match self
                .top
                .compare_exchange_weak(top, end, Ordering::Relaxed, Ordering::Relaxed)
            {
                Ok(_) => return (base + start) as *mut u8,
                Err(now) => top = now,
            }
        }
    }

    #[inline(never)]
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        match self.offset_of(ptr) {
            // The newest block gives its bytes back; any other stays used
            // until the process exits.
            Some(start) => {
                let _ = self.top.compare_exchange(
                    start + layout.size(),
                    start,
                    Ordering::Relaxed,
                    Ordering::Relaxed,
                );
            }
            // SAFETY: a block `System` handed out, with its layout.
            None => unsafe { System.dealloc(ptr, layout) },
        }
    }

    #[inline(never)]
    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        let Some(start) = self.offset_of(ptr) else {
            // SAFETY: a block `System` handed out, with its layout.
            return unsafe { System.realloc(ptr, layout, new_size) };
        };
        // The newest block grows or shrinks where it is.
        let old_end = start + layout.size();
        if let Some(new_end) = start.checked_add(new_size).filter(|&end| end <= N)
            && self
                .top
                .compare_exchange(old_end, new_end, Ordering::Relaxed, Ordering::Relaxed)
                .is_ok()
        {
            return ptr;
        }
        if new_size <= layout.size() {
            return ptr;
        }
        // SAFETY: `new_size` is non-zero (it exceeds the old size) and,
        // as GlobalAlloc::realloc's contract says, fits the alignment.
        let new_layout = unsafe { Layout::from_size_align_unchecked(new_size, layout.align()) };
        // SAFETY: a valid layout; the old block is copied whole, then
        // given back.
        unsafe {
            let new = self.alloc(new_layout);
            if !new.is_null() {
                std::ptr::copy_nonoverlapping(ptr, new, layout.size());
                self.dealloc(ptr, layout);
            }
            new
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn layout(size: usize, align: usize) -> Layout {
        Layout::from_size_align(size, align).unwrap()
    }

    #[test]
    fn blocks_are_aligned_and_do_not_overlap() {
        let arena = Arena::<4096>::new();
        let mut blocks = Vec::new();
        for (size, align) in [(1, 1), (8, 8), (3, 2), (16, 16), (5, 1), (64, 64)] {
            let block = unsafe { arena.alloc(layout(size, align)) };
            assert_eq!(block as usize % align, 0, "{size} bytes aligned to {align}");
            assert!(arena.offset_of(block).is_some());
            unsafe { block.write_bytes(size as u8, size) };
            blocks.push((block, size));
        }
        for (block, size) in blocks {
            let bytes = unsafe { std::slice::from_raw_parts(block, size) };
            assert!(
                bytes.iter().all(|&byte| byte == size as u8),
                "block of {size} kept"
            );
        }
    }

    #[test]
    fn the_newest_block_is_given_back_and_grows_in_place() {
        let arena = Arena::<4096>::new();
        let first = unsafe { arena.alloc(layout(10, 1)) };
        let newest = unsafe { arena.alloc(layout(10, 1)) };
        assert_eq!(arena.used(), 20);
        let grown = unsafe { arena.realloc(newest, layout(10, 1), 100) };
        assert_eq!(grown, newest, "the newest block grows where it is");
        assert_eq!(arena.used(), 110);
        unsafe { arena.dealloc(grown, layout(100, 1)) };
        assert_eq!(arena.used(), 10, "the newest block's bytes come back");
        unsafe { arena.dealloc(first, layout(10, 1)) };
        assert_eq!(arena.used(), 0, "then the one before it is the newest");
        // A block freed while a newer one is live stays used.
        let older = unsafe { arena.alloc(layout(10, 1)) };
        let _newer = unsafe { arena.alloc(layout(10, 1)) };
        unsafe { arena.dealloc(older, layout(10, 1)) };
        assert_eq!(arena.used(), 20);
    }

    #[test]
    fn an_older_block_that_grows_is_copied() {
        let arena = Arena::<4096>::new();
        let older = unsafe { arena.alloc(layout(4, 1)) };
        unsafe { older.copy_from(b"abcd".as_ptr(), 4) };
        let _newer = unsafe { arena.alloc(layout(4, 1)) };
        let moved = unsafe { arena.realloc(older, layout(4, 1), 8) };
        assert_ne!(moved, older);
        assert_eq!(unsafe { std::slice::from_raw_parts(moved, 4) }, b"abcd");
        let shrunk = unsafe { arena.realloc(moved, layout(8, 1), 2) };
        assert_eq!(shrunk, moved, "shrinking never moves a block");
    }

    #[test]
    fn what_does_not_fit_comes_from_the_system_allocator() {
        let arena = Arena::<4096>::new();
        let big = unsafe { arena.alloc(layout(8192, 8)) };
        assert!(!big.is_null());
        assert!(arena.offset_of(big).is_none());
        assert_eq!(arena.used(), 0);
        unsafe { big.write_bytes(1, 8192) };
        // An arena block that outgrows the arena moves to the system's.
        let small = unsafe { arena.alloc(layout(100, 8)) };
        unsafe { small.write_bytes(7, 100) };
        let moved = unsafe { arena.realloc(small, layout(100, 8), 5000) };
        assert!(arena.offset_of(moved).is_none());
        assert!(
            unsafe { std::slice::from_raw_parts(moved, 100) }
                .iter()
                .all(|&b| b == 7)
        );
        unsafe {
            arena.dealloc(moved, layout(5000, 8));
            arena.dealloc(big, layout(8192, 8));
        }
    }

    #[test]
    fn threads_get_disjoint_blocks() {
        static ARENA: Arena<{ 1 << 16 }> = Arena::new();
        let blocks: Vec<Vec<usize>> = std::thread::scope(|scope| {
            let handles: Vec<_> = (0..4)
                .map(|_| {
                    scope.spawn(|| {
                        (0..200)
                            .map(|_| unsafe { ARENA.alloc(layout(16, 8)) } as usize)
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        let mut all: Vec<usize> = blocks.into_iter().flatten().collect();
        all.sort_unstable();
        assert!(all.windows(2).all(|pair| pair[1] - pair[0] >= 16));
        assert_eq!(all.len(), 800);
    }
}
