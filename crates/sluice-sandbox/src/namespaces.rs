//! New user, network, IPC, UTS, mount and cgroup namespaces, with the real ids mapped.

use nix::sched::{CloneFlags, unshare};

use crate::{Layer, SandboxError};

/// What [`enter`] did.
pub(crate) struct Entered {
    pub(crate) names: Vec<&'static str>,
    pub(crate) mapped_ids: (u32, u32),
}

const NAMESPACES: [(CloneFlags, &str); 6] = [
    (CloneFlags::CLONE_NEWUSER, "user"),
    (CloneFlags::CLONE_NEWNET, "net"),
    (CloneFlags::CLONE_NEWIPC, "ipc"),
    (CloneFlags::CLONE_NEWUTS, "uts"),
    (CloneFlags::CLONE_NEWNS, "mnt"),
    (CloneFlags::CLONE_NEWCGROUP, "cgroup"),
];

const USERNS_HINT: &str = "unprivileged user namespaces may be disabled on this host (sysctls \
    user.max_user_namespaces, kernel.unprivileged_userns_clone, \
    kernel.apparmor_restrict_unprivileged_userns) or forbidden by a container's seccomp profile; ";

/// Enter the namespaces in one `unshare` (the user namespace is created first and owns the
/// others, which is what lets an unprivileged process create them), then map the effective user
/// and group to themselves so the worker's files keep their real owner.
pub(crate) fn enter() -> Result<Entered, SandboxError> {
    // Read before unshare: inside the new namespace, unmapped ids read as the overflow id.
    let uid = nix::unistd::geteuid().as_raw();
    let gid = nix::unistd::getegid().as_raw();
    let flags = NAMESPACES
        .iter()
        .fold(CloneFlags::empty(), |flags, (flag, _)| flags | *flag);
    unshare(flags).map_err(|errno| SandboxError::Os {
        layer: Layer::Namespaces,
        operation: "unshare(CLONE_NEWUSER | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | \
                    CLONE_NEWNS | CLONE_NEWCGROUP)"
            .to_owned(),
        hint: USERNS_HINT,
        source: errno.into(),
    })?;
    // An unprivileged process may map exactly its own effective id, and for groups only once
    // setgroups(2) is denied in the namespace (else it could drop supplementary groups that
    // deny it access).
    write_proc("/proc/self/uid_map", &format!("{uid} {uid} 1\n"))?;
    write_proc("/proc/self/setgroups", "deny")?;
    write_proc("/proc/self/gid_map", &format!("{gid} {gid} 1\n"))?;
    Ok(Entered {
        names: NAMESPACES.iter().map(|(_, name)| *name).collect(),
        mapped_ids: (uid, gid),
    })
}

fn write_proc(path: &str, contents: &str) -> Result<(), SandboxError> {
    // One write(2): the kernel accepts a map in a single write only.
    std::fs::write(path, contents).map_err(|source| SandboxError::Os {
        layer: Layer::Namespaces,
        operation: format!("writing {contents:?} to {path}"),
        hint: USERNS_HINT,
        source,
    })
}
