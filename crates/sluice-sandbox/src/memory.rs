//! Handing freed heap memory back to the OS, and how many malloc arenas the gateway's threads
//! share.
//!
//! Not confinement, but process-level allocator control, and `unsafe` calls: they live here with
//! the rest. The gateway uses both; the limits layer and the worker's preparer use them too.

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

/// Have the process's threads share at most `arenas` malloc arenas (glibc's `M_ARENA_MAX`).
/// Call it first thing in `main`, before any other thread starts.
///
/// glibc gives each thread that meets a locked arena one of its own, up to eight per core, and
/// every arena keeps its own free memory and its own partly used pages. The gateway's threads
/// (the async runtime's and its short-lived blocking ones) came to hold five arenas, and its
/// catalog spread over them: sharing one arena on two cores kept an idle gateway with 1,535
/// tools about 2 MB lower, with the same throughput in the warm bench (each thread's cache of
/// small freed blocks still spares most allocations the arena's lock). Returns false where the
/// C library is not glibc or refused.
pub fn limit_heap_arenas(arenas: usize) -> bool {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    {
        let arenas = libc::c_int::try_from(arenas.max(1)).unwrap_or(libc::c_int::MAX);
        // SAFETY: `mallopt` takes two integers and only changes the allocator's parameters
        // under its own lock; `M_ARENA_MAX` limits arenas created from now on and frees nothing.
        unsafe { libc::mallopt(libc::M_ARENA_MAX, arenas) == 1 }
    }
    #[cfg(not(all(target_os = "linux", target_env = "gnu")))]
    {
        let _ = arenas;
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_arena_limit_is_taken_and_the_heap_still_works() {
        assert!(limit_heap_arenas(2));
        let threads: Vec<_> = (0..4)
            .map(|index| std::thread::spawn(move || vec![index as u8; 1 << 16].len()))
            .collect();
        for thread in threads {
            assert_eq!(thread.join().ok(), Some(1 << 16));
        }
    }

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
