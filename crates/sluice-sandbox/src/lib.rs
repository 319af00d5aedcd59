/*!
OS confinement for the Sluice worker: the process that runs untrusted agent code confines itself
with [`confine`] before it reads a single frame.

This is the only crate of the workspace that may use `unsafe` (raw system calls that neither `nix`
nor the landlock and seccompiler crates wrap); every block says why it is sound. Only
`sluice-worker` confines itself with it: the gateway never does. The binary also takes
[`release_free_heap`] from here for the gateway, which hands freed heap back to the OS after it
rebuilds its catalog (see `memory.rs`).

# The layers, in the order they are applied

[`confine`] applies every layer or fails; a layer that cannot be applied is a [`SandboxError`]
naming it, and nothing of the worker runs (the user may pass `--no-sandbox` to `sluice worker` to
run unconfined, which is unsafe). The order matters: each step still needs something the later
ones take away.

1. **Single thread.** The process must have exactly one thread (`/proc/self/task`). Entering a new
   user namespace requires it, and landlock and seccomp restrict only the calling thread and the
   threads it starts later: a thread started before would stay unconfined.
2. **Parent death.** `PR_SET_PDEATHSIG(SIGKILL)`: the worker dies with the gateway. Then, if the
   gateway passed its pid ([`Policy::expected_parent`]), the parent must still be that process:
   when the gateway died between the spawn and the `prctl`, the worker was already re-parented and
   would never get the signal, so it stops. (The signal is tied to the parent *thread* that
   spawned the worker; the gateway spawns from runtime threads that live as long as it does.)
3. **Descriptors.** `close_range(3, ~0)`: only stdin, stdout (the frame channel) and stderr stay
   open, whatever the parent leaked.
4. **Namespaces.** `unshare` of new user, network, IPC, UTS, mount and cgroup namespaces in one
   call: no network interface but a downed loopback, no System V IPC or POSIX message queues
   shared with the host, no mount changes visible outside. The user namespace maps the real user
   and group to themselves (`uid_map`, `setgroups` denied, `gid_map`), so files the worker creates
   in the workspace keep their real owner; without a map, creating a file fails with `EOVERFLOW`.
   *Not* a new PID namespace: it would only apply to children, which the worker can never create
   (seccomp below), and the kernel refuses to start threads (`CLONE_THREAD`, `EINVAL`) while the
   namespace for children differs from the process's own, which would break the worker.
5. **Resource limits.** `RLIMIT_AS` (the JS heap limit plus [`ADDRESS_SPACE_HEADROOM_BYTES`]),
   `RLIMIT_CPU`, `RLIMIT_FSIZE` (with `SIGXFSZ` ignored, so an oversized write fails with `EFBIG`
   instead of killing the worker), `RLIMIT_NOFILE`, `RLIMIT_NPROC` and `RLIMIT_CORE = 0`, soft and
   hard alike. glibc is told to keep a single malloc arena (`M_ARENA_MAX`), because each extra
   arena reserves 64 MiB of address space and would eat the `RLIMIT_AS` budget. `RLIMIT_NPROC`
   comes after the user namespace on purpose: it is counted per user and namespace, and set
   before, the host's processes of the same user would count against it. (The kernel never
   enforces it for the real root user; seccomp's `clone` rule is the layer that stops forks.)
6. **Capabilities.** In the new namespace the process holds every capability; it locks the
   securebits (no root privilege through `execve`, no ambient raise), empties the bounding set and
   the ambient set, and sets effective, permitted and inheritable to nothing. The result is
   checked: `CapEff` is 0.
7. **`no_new_privs`.** No `execve` can ever grant privileges again (and seccomp needs it).
8. **Landlock** (the rights of ABI 7, as a hard requirement; the kernel must report ABI 6 or
   later, which has the same rights, and the ruleset must report `FullyEnforced`): every filesystem access right, TCP bind and connect, and both scopes
   (abstract UNIX sockets and signals to processes outside the sandbox) are handled, and nothing
   is allowed but reading and writing beneath the workspace, when there is one. Execution,
   devices, sockets, FIFOs and symlinks are not allowed even there. This is what keeps
   `/etc/passwd`, `~/.ssh`, `/proc/<pid>/environ` and `/proc/self/mem` out of reach.
9. **Seccomp** (last, because it blocks the system calls of every step above): a default-deny
   allowlist of the system calls the worker makes (see `syscalls.rs`, grouped and commented);
   anything else fails with `EPERM`. `clone` only with `CLONE_THREAD` (threads, never processes),
   `clone3` fails with `ENOSYS` so glibc falls back to `clone`, `tgkill` only within the process.
   No sockets, no `execve`, no `ptrace`, no `io_uring`, no `mknod`, no `kill`.

# What is not covered

- **No cgroups** (none are delegated here): memory and CPU are bounded by `RLIMIT_AS` and
  `RLIMIT_CPU` here, QuickJS's own memory and interrupt limits inside the engine, and the
  gateway's wall-clock watchdog, which kills the worker from outside.
- Timing and other covert channels; the worker still sees the clocks.
- The kernel itself: an exploit of an allowed system call escapes everything here.
- Path *lookup* is not access: a path outside the workspace that does not exist fails with
  `ENOENT`, one that exists with `EACCES` (a one-bit leak landlock has by design).
*/
#![deny(missing_docs)]

mod capabilities;
mod descriptors;
mod filesystem;
mod limits;
mod memory;
mod namespaces;
mod parent;
mod priority;
mod syscalls;
mod threads;

pub use memory::{limit_heap_arenas, release_free_heap};
pub use priority::idle_priority_for_this_thread;

use std::fmt;
use std::path::PathBuf;

pub use filesystem::{check_kernel_abi, require_full_enforcement};
pub use limits::ADDRESS_SPACE_HEADROOM_BYTES;
pub use syscalls::allowed_syscall_names;

/// What the worker may do. Limits are applied as both the soft and the hard limit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Policy {
    /// The only folder the worker may read and write (everything beneath it); `None`: no file
    /// access at all. It must exist.
    pub workspace: Option<PathBuf>,
    /// The JavaScript heap limit in bytes; `RLIMIT_AS` is this plus
    /// [`ADDRESS_SPACE_HEADROOM_BYTES`].
    pub memory_bytes: u64,
    /// CPU time in seconds after which the kernel kills the worker (`RLIMIT_CPU`).
    pub cpu_seconds: u64,
    /// Largest file the worker may write, in bytes (`RLIMIT_FSIZE`).
    pub file_size_bytes: u64,
    /// Most descriptors open at once (`RLIMIT_NOFILE`), stdin, stdout and stderr included.
    pub open_files: u64,
    /// The pid the worker's parent must have (the gateway's); `None` skips the check.
    pub expected_parent: Option<u32>,
}

/// What [`confine`] applied, for a debug log line.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct Confinement {
    /// The parent pid that was checked, when the policy named one.
    pub parent_checked: Option<u32>,
    /// The namespaces entered.
    pub namespaces: Vec<&'static str>,
    /// The real user and group id mapped into the user namespace.
    pub mapped_ids: (u32, u32),
    /// `RLIMIT_AS` in bytes.
    pub address_space_bytes: u64,
    /// Capabilities dropped from the bounding set.
    pub bounding_capabilities_dropped: u32,
    /// The landlock ABI the running kernel offers.
    pub landlock_abi: i32,
    /// The folder landlock allows, if any.
    pub workspace: Option<PathBuf>,
    /// Number of system calls the seccomp filter allows (some only with given arguments).
    pub allowed_syscalls: usize,
}

impl fmt::Display for Confinement {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        let parent = match self.parent_checked {
            Some(pid) => format!("parent {pid} checked"),
            None => "parent not checked".to_owned(),
        };
        let workspace = match &self.workspace {
            Some(path) => format!("read-write beneath {}", path.display()),
            None => "no file access".to_owned(),
        };
        write!(
            formatter,
            "confined: pdeathsig SIGKILL ({parent}); fds 0-2 only; namespaces {}; uid/gid {}/{} \
             mapped; RLIMIT_AS {} MiB; capabilities dropped ({} in bounding set); no_new_privs; \
             landlock ABI {} fully enforced, {workspace}; seccomp allowlist of {} system calls",
            self.namespaces.join("+"),
            self.mapped_ids.0,
            self.mapped_ids.1,
            self.address_space_bytes / (1024 * 1024),
            self.bounding_capabilities_dropped,
            self.landlock_abi,
            self.allowed_syscalls,
        )
    }
}

/// A confinement layer, named in errors.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Layer {
    /// The single-thread precondition.
    Threads,
    /// `PR_SET_PDEATHSIG` and the parent check.
    ParentDeath,
    /// Closing inherited descriptors.
    Descriptors,
    /// `unshare` and the id maps.
    Namespaces,
    /// `setrlimit` and the allocator setting.
    ResourceLimits,
    /// Dropping capabilities.
    Capabilities,
    /// `PR_SET_NO_NEW_PRIVS`.
    NoNewPrivs,
    /// The landlock ruleset.
    Landlock,
    /// The seccomp filter.
    Seccomp,
}

impl fmt::Display for Layer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(match self {
            Layer::Threads => "thread check",
            Layer::ParentDeath => "parent-death signal",
            Layer::Descriptors => "descriptor cleanup",
            Layer::Namespaces => "namespaces",
            Layer::ResourceLimits => "resource limits",
            Layer::Capabilities => "capabilities",
            Layer::NoNewPrivs => "no_new_privs",
            Layer::Landlock => "landlock",
            Layer::Seccomp => "seccomp",
        })
    }
}

/// The sentence every error of an unavailable layer ends with.
const NO_SANDBOX_HINT: &str = "the worker refuses to run agent code unconfined; pass --no-sandbox \
     to `sluice worker` to run it without OS confinement (unsafe: agent code could then read your \
     files and reach the network)";

/// Why the worker could not be confined. Fail closed: the worker must not run after any of these.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SandboxError {
    /// Threads were started before `confine`: a bug of the caller.
    #[error(
        "thread check: the process has {threads} threads, but it must confine itself while it has \
         exactly one (threads started earlier would stay unconfined); call confine() first thing \
         in main, before anything starts a thread"
    )]
    NotSingleThreaded {
        /// Threads found.
        threads: usize,
    },
    /// The gateway died before the parent-death signal was armed.
    #[error(
        "parent-death signal: the parent is pid {actual}, not the gateway (pid {expected}): the \
         gateway exited before the worker started, so the worker stops"
    )]
    ParentGone {
        /// The gateway's pid, from the policy.
        expected: u32,
        /// The current parent.
        actual: u32,
    },
    /// A system call of a layer failed.
    #[error("{layer}: {operation} failed: {source}; {hint}{NO_SANDBOX_HINT}")]
    Os {
        /// The layer.
        layer: Layer,
        /// What was attempted.
        operation: String,
        /// Extra advice for this failure, ending with "; " (may be empty).
        hint: &'static str,
        /// The OS error.
        #[source]
        source: std::io::Error,
    },
    /// A layer was applied but did not take the effect it must have.
    #[error("{layer}: {problem}; {NO_SANDBOX_HINT}")]
    NotEffective {
        /// The layer.
        layer: Layer,
        /// What is wrong.
        problem: String,
    },
    /// The workspace cannot be used.
    #[error(
        "landlock: the workspace {} cannot be opened: {source}; create it (a folder) or pass \
         another --workspace",
        path.display()
    )]
    Workspace {
        /// The folder.
        path: PathBuf,
        /// Why it cannot be opened.
        #[source]
        source: std::io::Error,
    },
    /// Landlock is missing, disabled or too old, or the ruleset could not be built or applied.
    #[error(
        "landlock: {problem} (Sluice needs the rights of landlock ABI 6 or later: Linux 6.12 or \
         later with landlock among the active LSMs); {NO_SANDBOX_HINT}"
    )]
    Landlock {
        /// What failed.
        problem: String,
    },
    /// The seccomp filter could not be built or installed.
    #[error("seccomp: {problem}; {NO_SANDBOX_HINT}")]
    Seccomp {
        /// What failed.
        problem: String,
    },
}

impl SandboxError {
    /// The layer this error comes from.
    pub fn layer(&self) -> Layer {
        match self {
            SandboxError::NotSingleThreaded { .. } => Layer::Threads,
            SandboxError::ParentGone { .. } => Layer::ParentDeath,
            SandboxError::Os { layer, .. } | SandboxError::NotEffective { layer, .. } => *layer,
            SandboxError::Workspace { .. } | SandboxError::Landlock { .. } => Layer::Landlock,
            SandboxError::Seccomp { .. } => Layer::Seccomp,
        }
    }

    /// An OS error of `layer` from the last failed system call.
    fn last_os(layer: Layer, operation: impl Into<String>) -> Self {
        SandboxError::os(layer, operation, std::io::Error::last_os_error())
    }

    fn os(layer: Layer, operation: impl Into<String>, source: std::io::Error) -> Self {
        SandboxError::Os {
            layer,
            operation: operation.into(),
            hint: "",
            source,
        }
    }
}

/// Confine the calling process: every layer of the crate documentation, in that order, or an
/// error naming the layer that could not be applied (and the worker must then not run).
///
/// Precondition: the process is single-threaded (checked). Call it first thing in `main`.
/// Afterwards the process can start threads (they inherit everything), read and write its
/// inherited stdin/stdout/stderr, and use files beneath the workspace, and nothing else.
pub fn confine(policy: &Policy) -> Result<Confinement, SandboxError> {
    threads::require_single_thread()?;
    let parent_checked = parent::arm_parent_death_signal(policy.expected_parent)?;
    descriptors::close_inherited()?;
    let namespaces = namespaces::enter()?;
    let address_space_bytes = limits::apply(policy)?;
    let bounding_capabilities_dropped = capabilities::drop_all()?;
    // Credential changes may reset the parent-death signal: make sure it survived them.
    parent::require_parent_death_signal()?;
    capabilities::set_no_new_privs()?;
    let landlock_abi = filesystem::restrict(policy.workspace.as_deref())?;
    let allowed_syscalls = syscalls::install()?;
    Ok(Confinement {
        parent_checked,
        namespaces: namespaces.names,
        mapped_ids: namespaces.mapped_ids,
        address_space_bytes,
        bounding_capabilities_dropped,
        landlock_abi,
        workspace: policy.workspace.clone(),
        allowed_syscalls,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_os_error_names_its_layer_the_call_and_the_way_out() {
        let error = SandboxError::os(
            Layer::Namespaces,
            "unshare(CLONE_NEWUSER)",
            std::io::Error::from_raw_os_error(libc::EPERM),
        );
        let message = error.to_string();
        assert!(
            message.starts_with("namespaces: unshare(CLONE_NEWUSER) failed: "),
            "{message}"
        );
        assert!(message.contains("Operation not permitted"), "{message}");
        assert!(message.contains("--no-sandbox"), "{message}");
        assert_eq!(error.layer(), Layer::Namespaces);
    }

    #[test]
    fn a_dead_gateway_is_not_answered_with_no_sandbox() {
        let error = SandboxError::ParentGone {
            expected: 10,
            actual: 1,
        };
        let message = error.to_string();
        assert!(message.contains("pid 10"), "{message}");
        assert!(!message.contains("--no-sandbox"), "{message}");
        assert_eq!(error.layer(), Layer::ParentDeath);
    }

    #[test]
    fn the_report_line_lists_every_layer() {
        let confinement = Confinement {
            parent_checked: Some(42),
            namespaces: vec!["user", "net"],
            mapped_ids: (1000, 1000),
            address_space_bytes: 1280 * 1024 * 1024,
            bounding_capabilities_dropped: 41,
            landlock_abi: 7,
            workspace: Some(PathBuf::from("/data/workspace")),
            allowed_syscalls: 60,
        };
        assert_eq!(
            confinement.to_string(),
            "confined: pdeathsig SIGKILL (parent 42 checked); fds 0-2 only; namespaces user+net; \
             uid/gid 1000/1000 mapped; RLIMIT_AS 1280 MiB; capabilities dropped (41 in bounding \
             set); no_new_privs; landlock ABI 7 fully enforced, read-write beneath \
             /data/workspace; seccomp allowlist of 60 system calls"
        );
    }
}
