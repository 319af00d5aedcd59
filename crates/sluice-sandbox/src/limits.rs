//! Resource limits, and the allocator setting that keeps `RLIMIT_AS` meaningful.

use nix::sys::resource::{Resource, setrlimit};
use nix::sys::signal::{SigHandler, Signal, signal};

use crate::{Layer, Policy, SandboxError};

/// Address space the worker needs beyond the JavaScript heap: `RLIMIT_AS` is the heap limit plus
/// this (1 GiB).
///
/// Measured with the real, confined worker (debug build, one malloc arena), as `VmPeak`:
/// - idle, ready for frames: 43 MiB (55 MiB as `sluice exec` starts it): the binary, glibc, the
///   main stack (a frame-reader thread the worker had then is gone since); an execution adds its thread's stack (the 1 MiB JS stack
///   limit plus 8 MiB) and the transpiler's arenas;
/// - a heap bomb with the default 256 MiB heap: 312 MiB, ending as a JavaScript `OutOfMemory`
///   error from QuickJS's own limit;
/// - a tool result raises the peak by about 14 times its frame size while it is decoded and
///   handed over (the frame's bytes, the JSON value, the JavaScript objects made from it): a
///   34 MiB frame peaks at 561 MiB, a 68 MiB frame (more than the 64 MiB a downstream server can send in one message)
///   at 977 MiB with a 256 MiB heap and 1,069 MiB with a 1 GiB heap, both under their budgets;
/// - a 120 MiB frame fills the 1,280 MiB budget of a 256 MiB heap: QuickJS's allocation fails
///   first and the execution ends with `OutOfMemory`. With a 16 MiB heap the same frame makes a
///   Rust allocation fail, which aborts the worker (SIGABRT): the gateway reports a crashed
///   worker, never a hang.
pub const ADDRESS_SPACE_HEADROOM_BYTES: u64 = 1024 * 1024 * 1024;

/// Processes (threads, for the kernel) the worker's user may have in its namespace: the main
/// thread, an execution thread, and room for the next execution's thread while the previous one
/// is being reaped, with a margin.
const MAX_THREADS: u64 = 16;

/// Apply every limit, soft and hard alike; returns `RLIMIT_AS`.
pub(crate) fn apply(policy: &Policy) -> Result<u64, SandboxError> {
    limit_malloc_arenas()?;
    // An oversized write must fail with EFBIG, not kill the worker with SIGXFSZ (the execution
    // then reports the error to the agent).
    // SAFETY: SIG_IGN installs no handler, so no code of ours can run in signal context; the
    // worker is still single-threaded, so nothing races with the change of disposition.
    unsafe { signal(Signal::SIGXFSZ, SigHandler::SigIgn) }.map_err(|errno| {
        SandboxError::os(Layer::ResourceLimits, "ignoring SIGXFSZ", errno.into())
    })?;
    let address_space = policy
        .memory_bytes
        .saturating_add(ADDRESS_SPACE_HEADROOM_BYTES);
    let limits = [
        (Resource::RLIMIT_AS, "RLIMIT_AS", address_space),
        (Resource::RLIMIT_CPU, "RLIMIT_CPU", policy.cpu_seconds),
        (
            Resource::RLIMIT_FSIZE,
            "RLIMIT_FSIZE",
            policy.file_size_bytes,
        ),
        (Resource::RLIMIT_NOFILE, "RLIMIT_NOFILE", policy.open_files),
        // After the user namespace: see the crate documentation.
        (Resource::RLIMIT_NPROC, "RLIMIT_NPROC", MAX_THREADS),
        (Resource::RLIMIT_CORE, "RLIMIT_CORE", 0),
    ];
    for (resource, name, value) in limits {
        setrlimit(resource, value, value).map_err(|errno| {
            SandboxError::os(
                Layer::ResourceLimits,
                format!("setrlimit({name}, {value})"),
                errno.into(),
            )
        })?;
    }
    Ok(address_space)
}

/// glibc gives each thread that contends for malloc its own arena, and each arena reserves 64 MiB
/// of address space: a few threads would spend a good part of `RLIMIT_AS` on reservations. One
/// arena is enough for the worker (one execution at a time).
#[cfg(target_env = "gnu")]
fn limit_malloc_arenas() -> Result<(), SandboxError> {
    if crate::memory::limit_heap_arenas(1) {
        Ok(())
    } else {
        Err(SandboxError::NotEffective {
            layer: Layer::ResourceLimits,
            problem: "glibc refused mallopt(M_ARENA_MAX, 1)".to_owned(),
        })
    }
}

/// Other C libraries do not reserve address space per thread this way.
#[cfg(not(target_env = "gnu"))]
fn limit_malloc_arenas() -> Result<(), SandboxError> {
    Ok(())
}
