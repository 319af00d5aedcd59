//! Landlock: no file access but the workspace, no TCP, no abstract sockets or signals outward.

use std::path::Path;

use landlock::{
    ABI, Access, AccessFs, AccessNet, BitFlags, CompatLevel, Compatible, PathBeneath, PathFd,
    Ruleset, RulesetAttr, RulesetCreatedAttr, RulesetStatus, Scope,
};

use crate::SandboxError;

/// The rights the ruleset is built for. ABI 7 has the same access rights and scopes as ABI 6
/// (filesystem, TCP, abstract UNIX sockets and signals); it is what the target kernels offer.
const ABI_VERSION: ABI = ABI::V7;

/// What the worker may do beneath its workspace: read and write files and folders, truncate, and
/// move entries between folders of the workspace (`Refer`). Not execute, not create devices,
/// sockets, FIFOs or symlinks, not device ioctls.
fn workspace_access() -> BitFlags<AccessFs> {
    AccessFs::ReadFile
        | AccessFs::ReadDir
        | AccessFs::WriteFile
        | AccessFs::RemoveDir
        | AccessFs::RemoveFile
        | AccessFs::MakeDir
        | AccessFs::MakeReg
        | AccessFs::Truncate
        | AccessFs::Refer
}

/// The oldest landlock ABI with every right of [`ABI_VERSION`] (ABI 7 only added audit-logging
/// controls to ABI 6's filesystem, TCP and scope rights).
const MINIMUM_KERNEL_ABI: i32 = 6;

/// `LANDLOCK_CREATE_RULESET_VERSION` of `<linux/landlock.h>`.
const CREATE_RULESET_VERSION: u32 = 1 << 0;

/// The kernel's landlock ABI version, or the errno of the query.
fn kernel_abi() -> Result<i32, nix::errno::Errno> {
    // SAFETY: with a null attribute pointer, size 0 and the VERSION flag the call only returns
    // the ABI version; no memory is read or written and no descriptor is created.
    let version = unsafe {
        libc::syscall(
            libc::SYS_landlock_create_ruleset,
            std::ptr::null::<libc::c_void>(),
            0_usize,
            CREATE_RULESET_VERSION,
        )
    };
    if version < 0 {
        Err(nix::errno::Errno::last())
    } else {
        i32::try_from(version).map_err(|_| nix::errno::Errno::EOVERFLOW)
    }
}

/// The fail-closed decision on the kernel's answer: landlock must be built in, enabled, and offer
/// at least [`MINIMUM_KERNEL_ABI`].
pub fn check_kernel_abi(version: Result<i32, nix::errno::Errno>) -> Result<i32, SandboxError> {
    let problem = match version {
        Ok(version) if version >= MINIMUM_KERNEL_ABI => return Ok(version),
        Ok(version) => format!(
            "this kernel offers landlock ABI {version}, which lacks rights Sluice requires \
             (TCP rules, scopes)"
        ),
        Err(nix::errno::Errno::EOPNOTSUPP) => {
            "landlock is built into this kernel but disabled (EOPNOTSUPP): add landlock to the \
             lsm= boot parameter"
                .to_owned()
        }
        Err(errno) => format!("this kernel does not implement landlock ({errno})"),
    };
    Err(SandboxError::Landlock { problem })
}

/// Restrict the process. Returns the kernel's landlock ABI.
pub(crate) fn restrict(workspace: Option<&Path>) -> Result<i32, SandboxError> {
    let failed = |problem: String| SandboxError::Landlock { problem };
    let kernel_abi = check_kernel_abi(kernel_abi())?;
    let ruleset = Ruleset::default()
        // Any right the kernel cannot enforce is an error here, never silently dropped (the
        // best-effort mode would skip the TCP rules on kernels before 6.7).
        .set_compatibility(CompatLevel::HardRequirement)
        .handle_access(AccessFs::from_all(ABI_VERSION))
        .and_then(|ruleset| ruleset.handle_access(AccessNet::from_all(ABI_VERSION)))
        .and_then(|ruleset| ruleset.scope(Scope::from_all(ABI_VERSION)))
        .and_then(|ruleset| ruleset.create())
        .map_err(|error| failed(format!("the ruleset cannot be created: {error}")))?;
    let ruleset = match workspace {
        Some(path) => {
            let folder = PathFd::new(path).map_err(|error| SandboxError::Workspace {
                path: path.to_owned(),
                source: std::io::Error::other(error.to_string()),
            })?;
            ruleset
                .add_rule(PathBeneath::new(folder, workspace_access()))
                .map_err(|error| {
                    failed(format!(
                        "the workspace rule for {} cannot be added: {error}",
                        path.display()
                    ))
                })?
        }
        None => ruleset,
    };
    let status = ruleset
        .restrict_self()
        .map_err(|error| failed(format!("landlock_restrict_self failed: {error}")))?;
    require_full_enforcement(&status.ruleset)?;
    Ok(kernel_abi)
}

/// The fail-closed decision: only a fully enforced ruleset lets the worker run. A partially
/// enforced one (an older kernel without some of the rights) or none at all (landlock missing or
/// disabled) is an error.
pub fn require_full_enforcement(status: &RulesetStatus) -> Result<(), SandboxError> {
    match status {
        RulesetStatus::FullyEnforced => Ok(()),
        RulesetStatus::PartiallyEnforced => Err(SandboxError::Landlock {
            problem: "the ruleset is only partially enforced: this kernel lacks some of the \
                      access rights Sluice requires"
                .to_owned(),
        }),
        RulesetStatus::NotEnforced => Err(SandboxError::Landlock {
            problem: "the ruleset is not enforced: landlock is missing or disabled in this \
                      kernel"
                .to_owned(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_a_fully_enforced_ruleset_is_accepted() {
        assert!(require_full_enforcement(&RulesetStatus::FullyEnforced).is_ok());
        for status in [RulesetStatus::PartiallyEnforced, RulesetStatus::NotEnforced] {
            let error = require_full_enforcement(&status).err();
            let message = error.map(|error| error.to_string()).unwrap_or_default();
            assert!(message.starts_with("landlock: "), "{status:?}: {message}");
            assert!(message.contains("--no-sandbox"), "{status:?}: {message}");
        }
    }

    #[test]
    fn only_a_kernel_with_every_right_is_accepted() {
        use nix::errno::Errno;
        assert_eq!(check_kernel_abi(Ok(7)).ok(), Some(7));
        assert_eq!(check_kernel_abi(Ok(6)).ok(), Some(6));
        for (answer, expected) in [
            (Ok(5), "offers landlock ABI 5"),
            (Ok(1), "offers landlock ABI 1"),
            (Err(Errno::ENOSYS), "does not implement landlock"),
            (Err(Errno::EOPNOTSUPP), "disabled"),
        ] {
            let message = check_kernel_abi(answer)
                .err()
                .map(|error| error.to_string())
                .unwrap_or_default();
            assert!(message.contains(expected), "{answer:?}: {message}");
            assert!(message.contains("--no-sandbox"), "{answer:?}: {message}");
        }
    }

    #[test]
    fn the_workspace_grants_no_execution_devices_or_links() {
        let granted = workspace_access();
        for denied in [
            AccessFs::Execute,
            AccessFs::MakeChar,
            AccessFs::MakeBlock,
            AccessFs::MakeSock,
            AccessFs::MakeFifo,
            AccessFs::MakeSym,
            AccessFs::IoctlDev,
        ] {
            assert!(!granted.contains(denied), "{denied:?} is granted");
        }
        // Every right granted is one the ruleset handles (else landlock rejects the rule).
        assert!(AccessFs::from_all(ABI_VERSION).contains(granted));
    }
}
