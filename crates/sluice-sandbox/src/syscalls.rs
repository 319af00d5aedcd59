//! The seccomp allowlist: every system call the worker makes, and nothing else.
//!
//! The list was found by running the real worker flows under `strace -f` (start, executions with
//! tool calls, timers, logs, errors, a heap bomb, the end of the input) and the probe's attacks,
//! then trimmed to what those need. Anything else fails with `EPERM`, which the engine reports as
//! an ordinary error and tests can observe.

use std::collections::BTreeMap;

use seccompiler::{
    BpfProgram, SeccompAction, SeccompCmpArgLen, SeccompCmpOp, SeccompCondition, SeccompFilter,
    SeccompRule, TargetArch,
};

use crate::SandboxError;

/// When an allowed system call is allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum When {
    /// Whatever the arguments.
    Always,
    /// `clone` only with `CLONE_THREAD` among the flags: threads, never processes.
    ThreadsOnly,
    /// Only with the process's own id as the first argument (`tgkill` to itself).
    OwnProcess,
    /// Only with each argument listed as `(index, value)` equal to its value, compared as 32 bits
    /// (the arguments these are used for are C `int`s).
    ArgumentsAre(&'static [(u8, u32)]),
    /// Only with one of `values` as argument number `index` (from 0).
    ArgumentIn {
        /// Which argument.
        index: u8,
        /// Its allowed values.
        values: &'static [u64],
    },
}

macro_rules! allow {
    ($name:ident) => {
        (stringify!($name), libc::$name, When::Always)
    };
    ($name:ident, $when:expr) => {
        (stringify!($name), libc::$name, $when)
    };
}

/// The allowlist, by group. Names are the `SYS_` constants of the libc crate.
fn table() -> Vec<(&'static str, i64, When)> {
    let mut table = vec![
        // Memory: the allocator (brk for the main arena, mmap for large blocks and thread stacks),
        // stack guard pages (mprotect), returning memory (madvise) and growing buffers (mremap).
        allow!(SYS_brk),
        allow!(SYS_mmap),
        allow!(SYS_munmap),
        allow!(SYS_mremap),
        allow!(SYS_mprotect),
        allow!(SYS_madvise),
        // Threads: one execution thread at a time (a new one when an execution needs a larger
        // stack) and the engine's preparer. glibc's pthread_create tries clone3 first and falls
        // back to clone on ENOSYS; clone3's flags live in memory, where seccomp cannot check
        // them, so it is answered ENOSYS by a filter of its own (see `install`) and clone is
        // allowed only to create threads. A new thread registers its robust futex list and restartable sequences; futex
        // is every lock and channel wait.
        allow!(SYS_clone, When::ThreadsOnly),
        allow!(SYS_clone3),
        allow!(SYS_futex),
        allow!(SYS_set_robust_list),
        allow!(SYS_rseq),
        allow!(SYS_sched_yield),
        // The preparer thread puts itself in the idle class (`idle_priority_for_this_thread`):
        // only the calling thread (pid 0), only `SCHED_IDLE`, so no thread can gain priority.
        allow!(
            SYS_sched_setscheduler,
            When::ArgumentsAre(&[(0, 0), (1, libc::SCHED_IDLE as u32)])
        ),
        // Each new thread asks for its own attributes (pthread_getattr_np, for Rust's stack
        // guard), which reads its CPU affinity; without it a stack overflow is a bare SIGSEGV.
        allow!(SYS_sched_getaffinity),
        allow!(SYS_gettid),
        allow!(SYS_getpid),
        allow!(SYS_exit),
        allow!(SYS_exit_group),
        allow!(SYS_restart_syscall),
        // Signals, for the process itself: Rust's stack-overflow guard (an alternate signal stack
        // and a SIGSEGV handler per thread), glibc blocking signals while it starts a thread,
        // returning from a handler, and abort() raising SIGABRT on its own thread group.
        allow!(SYS_sigaltstack),
        allow!(SYS_rt_sigaction),
        allow!(SYS_rt_sigprocmask),
        allow!(SYS_rt_sigreturn),
        allow!(SYS_tgkill, When::OwnProcess),
        // Time: deadlines, timers and Date (the vDSO answers most clock reads; these are its
        // fallbacks), and waits with a timeout.
        allow!(SYS_clock_gettime),
        allow!(SYS_clock_getres),
        allow!(SYS_gettimeofday),
        allow!(SYS_clock_nanosleep),
        allow!(SYS_nanosleep),
        // Randomness: hash-map seeds and Math.random.
        allow!(SYS_getrandom),
        // The frame channel (stdin, stdout) and logs (stderr); ppoll waits for tool results
        // with a timeout, and polls without waiting while the worker spins for a fast result.
        allow!(SYS_read),
        allow!(SYS_ppoll),
        allow!(SYS_write),
        allow!(SYS_readv),
        allow!(SYS_writev),
        // The workspace file API. Landlock decides where these may reach (only beneath the
        // workspace); here they are the operations the API offers: open, read, write, seek, stat,
        // list, create folders, remove, rename, truncate, sync, read links.
        allow!(SYS_openat),
        allow!(SYS_openat2),
        allow!(SYS_close),
        allow!(SYS_pread64),
        allow!(SYS_pwrite64),
        allow!(SYS_lseek),
        allow!(SYS_fstat),
        allow!(SYS_newfstatat),
        allow!(SYS_statx),
        allow!(SYS_getdents64),
        allow!(SYS_mkdirat),
        allow!(SYS_unlinkat),
        allow!(SYS_renameat),
        allow!(SYS_renameat2),
        allow!(SYS_ftruncate),
        allow!(SYS_fsync),
        allow!(SYS_fdatasync),
        allow!(SYS_readlinkat),
        // The workspace quota: a worker holds an exclusive lock on the workspace folder itself
        // while it measures the folder and writes, so concurrent workers (of any gateway) cannot
        // each see the same room. A lock needs an open descriptor, which Landlock confines.
        allow!(SYS_flock),
        // Descriptor flags only (std sets close-on-exec, checks access modes, duplicates with
        // close-on-exec): not F_SETOWN/F_SETSIG, which would aim signals at other processes.
        allow!(
            SYS_fcntl,
            When::ArgumentIn {
                index: 1,
                values: &[
                    libc::F_GETFD as u64,
                    libc::F_SETFD as u64,
                    libc::F_GETFL as u64,
                    libc::F_SETFL as u64,
                    libc::F_DUPFD_CLOEXEC as u64,
                ],
            }
        ),
        // Thread names (std names its threads from inside them), which show in logs and /proc.
        allow!(
            SYS_prctl,
            When::ArgumentIn {
                index: 0,
                values: &[libc::PR_SET_NAME as u64],
            }
        ),
    ];
    // On x86_64 glibc implements mkdir, rmdir, unlink, rename and readlink with the old
    // path-only system calls rather than their *at forms, and rustix's `open` (the workspace
    // root) uses open(2) (other architectures only have the *at forms); the same checks apply.
    #[cfg(target_arch = "x86_64")]
    table.extend([
        allow!(SYS_open),
        allow!(SYS_mkdir),
        allow!(SYS_rmdir),
        allow!(SYS_unlink),
        allow!(SYS_rename),
        allow!(SYS_readlink),
    ]);
    table
}

/// The names of the allowed system calls (some only with given arguments), for documentation
/// and tests.
pub fn allowed_syscall_names() -> Vec<&'static str> {
    table()
        .into_iter()
        .map(|(name, _, _)| name.trim_start_matches("SYS_"))
        .collect()
}

fn condition(
    index: u8,
    operator: SeccompCmpOp,
    value: u64,
) -> Result<SeccompCondition, SandboxError> {
    SeccompCondition::new(index, SeccompCmpArgLen::Qword, operator, value).map_err(|error| {
        SandboxError::Seccomp {
            problem: format!("bad condition on argument {index}: {error}"),
        }
    })
}

fn rule(conditions: Vec<SeccompCondition>) -> Result<SeccompRule, SandboxError> {
    SeccompRule::new(conditions).map_err(|error| SandboxError::Seccomp {
        problem: format!("bad rule: {error}"),
    })
}

/// The rules of one entry: none means "always"; several rules match if any does.
fn rules(when: When, own_pid: u32) -> Result<Vec<SeccompRule>, SandboxError> {
    Ok(match when {
        When::Always => Vec::new(),
        When::ThreadsOnly => {
            let thread = libc::CLONE_THREAD as u64;
            vec![rule(vec![condition(
                0,
                SeccompCmpOp::MaskedEq(thread),
                thread,
            )?])?]
        }
        // Compared as 32 bits: the kernel reads the pid as an int.
        When::OwnProcess => vec![rule(vec![
            SeccompCondition::new(
                0,
                SeccompCmpArgLen::Dword,
                SeccompCmpOp::Eq,
                u64::from(own_pid),
            )
            .map_err(|error| SandboxError::Seccomp {
                problem: format!("bad condition on the process id: {error}"),
            })?,
        ])?],
        When::ArgumentsAre(arguments) => vec![rule(
            arguments
                .iter()
                .map(|(index, value)| {
                    SeccompCondition::new(
                        *index,
                        SeccompCmpArgLen::Dword,
                        SeccompCmpOp::Eq,
                        u64::from(*value),
                    )
                    .map_err(|error| SandboxError::Seccomp {
                        problem: format!("bad condition on argument {index}: {error}"),
                    })
                })
                .collect::<Result<_, _>>()?,
        )?],
        When::ArgumentIn { index, values } => values
            .iter()
            .map(|value| rule(vec![condition(index, SeccompCmpOp::Eq, *value)?]))
            .collect::<Result<_, _>>()?,
    })
}

/// Build both filters, then install them: first the one that answers `clone3` with `ENOSYS`,
/// then the allowlist (which allows `clone3`, so the first filter's answer is the one that counts:
/// seccomp takes the most restrictive action of all filters, and `ERRNO` beats `ALLOW`; were
/// `clone3` denied by both, the last installed filter's `EPERM` would win and glibc would not
/// fall back). Returns the number of system calls allowed.
pub(crate) fn install() -> Result<usize, SandboxError> {
    let failed = |what: &str, error: &dyn std::fmt::Display| SandboxError::Seccomp {
        problem: format!("{what}: {error}"),
    };
    let arch = TargetArch::try_from(std::env::consts::ARCH)
        .map_err(|error| failed("unsupported architecture", &error))?;
    let own_pid = std::process::id();
    let table = table();
    let mut allowed: BTreeMap<i64, Vec<SeccompRule>> = BTreeMap::new();
    for (_, number, when) in &table {
        allowed.insert(*number, rules(*when, own_pid)?);
    }
    let count = allowed.len();
    let allowlist = SeccompFilter::new(
        allowed,
        SeccompAction::Errno(libc::EPERM as u32),
        SeccompAction::Allow,
        arch,
    )
    .and_then(BpfProgram::try_from)
    .map_err(|error| failed("the allowlist cannot be compiled", &error))?;
    let no_clone3 = SeccompFilter::new(
        BTreeMap::from([(libc::SYS_clone3, Vec::new())]),
        SeccompAction::Allow,
        SeccompAction::Errno(libc::ENOSYS as u32),
        arch,
    )
    .and_then(BpfProgram::try_from)
    .map_err(|error| failed("the clone3 filter cannot be compiled", &error))?;
    seccompiler::apply_filter(&no_clone3)
        .map_err(|error| failed("installing the clone3 filter failed", &error))?;
    seccompiler::apply_filter(&allowlist)
        .map_err(|error| failed("installing the allowlist failed", &error))?;
    Ok(count)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nothing_dangerous_is_allowed() {
        let names = allowed_syscall_names();
        for forbidden in [
            "socket",
            "socketpair",
            "connect",
            "bind",
            "execve",
            "execveat",
            "fork",
            "vfork",
            "ptrace",
            "process_vm_readv",
            "process_vm_writev",
            "io_uring_setup",
            "io_uring_enter",
            "io_uring_register",
            "mknodat",
            "kill",
            "tkill",
            "unshare",
            "setns",
            "mount",
            "chroot",
            "setuid",
            "setresuid",
            "fchmodat",
            "linkat",
            "symlinkat",
            "ioctl",
            "bpf",
            "perf_event_open",
            "userfaultfd",
            "landlock_restrict_self",
            "seccomp",
            "setrlimit",
            "prlimit64",
        ] {
            assert!(!names.contains(&forbidden), "{forbidden} is allowed");
        }
    }

    #[test]
    fn both_filters_compile_for_this_architecture() {
        let arch = TargetArch::try_from(std::env::consts::ARCH).unwrap();
        let mut allowed = BTreeMap::new();
        for (_, number, when) in table() {
            allowed.insert(number, rules(when, 1).unwrap());
        }
        let filter = SeccompFilter::new(
            allowed,
            SeccompAction::Errno(libc::EPERM as u32),
            SeccompAction::Allow,
            arch,
        )
        .unwrap();
        assert!(!BpfProgram::try_from(filter).unwrap().is_empty());
    }

    #[test]
    fn no_system_call_is_listed_twice() {
        let mut names = allowed_syscall_names();
        let count = names.len();
        names.sort_unstable();
        names.dedup();
        assert_eq!(names.len(), count);
    }
}
