//! The single-thread precondition.

use crate::{Layer, SandboxError};

/// Fail unless the process has exactly one thread. Every later layer depends on it: `unshare` of a
/// user namespace refuses a multi-threaded process, and landlock and seccomp confine only the
/// calling thread (and the threads it starts afterwards).
pub(crate) fn require_single_thread() -> Result<(), SandboxError> {
    let entries = std::fs::read_dir("/proc/self/task").map_err(|source| SandboxError::Os {
        layer: Layer::Threads,
        operation: "listing /proc/self/task".to_owned(),
        hint: "is /proc mounted? ",
        source,
    })?;
    let mut threads = 0;
    for entry in entries {
        entry.map_err(|source| {
            SandboxError::os(Layer::Threads, "reading /proc/self/task", source)
        })?;
        threads += 1;
    }
    if threads == 1 {
        Ok(())
    } else {
        Err(SandboxError::NotSingleThreaded { threads })
    }
}
