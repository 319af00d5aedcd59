//! Only stdin, stdout and stderr stay open.

use crate::{Layer, SandboxError};

/// Close every descriptor from 3 up, whatever the parent leaked into the worker.
pub(crate) fn close_inherited() -> Result<(), SandboxError> {
    // SAFETY: close_range takes plain integers and only closes descriptors. Nothing in this
    // process owns a descriptor above 2 at this point (confine runs first thing in main, and the
    // thread check closed its directory handle), so no Rust object is left with a dangling fd.
    let result = unsafe { libc::syscall(libc::SYS_close_range, 3_u32, u32::MAX, 0_u32) };
    if result == 0 {
        Ok(())
    } else {
        Err(SandboxError::last_os(
            Layer::Descriptors,
            "close_range(3, ~0)",
        ))
    }
}
