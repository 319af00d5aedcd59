//! Handing freed heap memory back to the OS.
//!
//! Not confinement, but process-level allocator control like the `M_ARENA_MAX` setting of the
//! limits layer, and the one `unsafe` call the gateway needs: it lives here with the rest.

/// Return the free memory of every malloc arena to the OS (glibc's `malloc_trim(0)`).
///
/// glibc gives back only the top of its main heap on its own. Memory freed inside the heap, or
/// in the per-thread arenas the async runtime's threads allocate from, stays resident: after the
/// gateway rebuilt its catalog for 10,000 tools, about a quarter of its RSS was such free memory.
/// Costs a walk over the free lists (milliseconds for a heap of 100 MB); call it after large
/// frees, not on a hot path. Does nothing where the C library is not glibc.
pub fn release_free_heap() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: `malloc_trim` takes only a padding size, works on the allocator's own free lists
    // under the allocator's locks, and may be called from any thread at any time; it frees
    // nothing that is in use.
    unsafe {
        libc::malloc_trim(0);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn freed_heap_goes_back_and_the_heap_still_works() {
        let blocks: Vec<Vec<u8>> = (0..64).map(|_| vec![1u8; 64 * 1024]).collect();
        drop(blocks);
        release_free_heap();
        let again = vec![2u8; 1024 * 1024];
        assert_eq!(
            again.iter().map(|&byte| usize::from(byte)).sum::<usize>(),
            2 * 1024 * 1024
        );
    }
}
