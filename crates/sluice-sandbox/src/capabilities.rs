//! No capabilities at all, and no way to gain any.

use crate::{Layer, SandboxError};

/// `_LINUX_CAPABILITY_VERSION_3`: 64-bit capability sets, as two 32-bit halves.
const CAPABILITY_VERSION_3: u32 = 0x2008_0522;

/// `struct __user_cap_header_struct` of `<linux/capability.h>`.
#[repr(C)]
struct CapabilityHeader {
    version: u32,
    pid: libc::c_int,
}

/// `struct __user_cap_data_struct` of `<linux/capability.h>`.
#[repr(C)]
#[derive(Clone, Copy, Default)]
struct CapabilityData {
    effective: u32,
    permitted: u32,
    inheritable: u32,
}

// Securebits of <linux/securebits.h>: each flag with its lock bit.
const SECBIT_NOROOT: libc::c_ulong = 1 << 0;
const SECBIT_NOROOT_LOCKED: libc::c_ulong = 1 << 1;
const SECBIT_NO_SETUID_FIXUP: libc::c_ulong = 1 << 2;
const SECBIT_NO_SETUID_FIXUP_LOCKED: libc::c_ulong = 1 << 3;
const SECBIT_KEEP_CAPS_LOCKED: libc::c_ulong = 1 << 5;
const SECBIT_NO_CAP_AMBIENT_RAISE: libc::c_ulong = 1 << 6;
const SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED: libc::c_ulong = 1 << 7;

/// Drop every capability the new user namespace gave the process. Returns how many were removed
/// from the bounding set.
pub(crate) fn drop_all() -> Result<u32, SandboxError> {
    // While CAP_SETPCAP is still held: uid 0 (in the namespace) never regains capabilities through
    // execve, setuid changes never touch them, the ambient set can never be raised; all locked.
    let securebits = SECBIT_NOROOT
        | SECBIT_NOROOT_LOCKED
        | SECBIT_NO_SETUID_FIXUP
        | SECBIT_NO_SETUID_FIXUP_LOCKED
        | SECBIT_KEEP_CAPS_LOCKED
        | SECBIT_NO_CAP_AMBIENT_RAISE
        | SECBIT_NO_CAP_AMBIENT_RAISE_LOCKED;
    prctl(
        libc::PR_SET_SECUREBITS,
        securebits,
        "prctl(PR_SET_SECUREBITS)",
    )?;
    prctl(
        libc::PR_CAP_AMBIENT,
        libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
        "prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL)",
    )?;
    // The bounding set: every capability the kernel knows (PR_CAPBSET_READ fails with EINVAL past
    // the last one).
    let mut dropped = 0;
    for capability in 0..=u8::MAX {
        let capability = libc::c_ulong::from(capability);
        // SAFETY: PR_CAPBSET_READ takes an integer and reads only the calling thread's creds.
        let held = unsafe { libc::prctl(libc::PR_CAPBSET_READ, capability, 0, 0, 0) };
        if held < 0 {
            break;
        }
        if held == 1 {
            prctl(libc::PR_CAPBSET_DROP, capability, "prctl(PR_CAPBSET_DROP)")?;
            dropped += 1;
        }
    }
    let empty = [CapabilityData::default(); 2];
    let mut header = CapabilityHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    // SAFETY: header and data are the kernel's structures (version 3 takes two data entries); the
    // kernel only reads them.
    let result = unsafe { libc::syscall(libc::SYS_capset, &raw mut header, empty.as_ptr()) };
    if result != 0 {
        return Err(SandboxError::last_os(
            Layer::Capabilities,
            "capset(all sets empty)",
        ));
    }
    let held = effective_and_permitted()?;
    if held != (0, 0) {
        return Err(SandboxError::NotEffective {
            layer: Layer::Capabilities,
            problem: format!(
                "capabilities remain after dropping them (effective {:#x}, permitted {:#x})",
                held.0, held.1
            ),
        });
    }
    Ok(dropped)
}

/// The effective and permitted sets of the calling thread, as 64-bit masks.
fn effective_and_permitted() -> Result<(u64, u64), SandboxError> {
    let mut header = CapabilityHeader {
        version: CAPABILITY_VERSION_3,
        pid: 0,
    };
    let mut data = [CapabilityData::default(); 2];
    // SAFETY: the kernel writes two data entries for version 3, which `data` holds.
    let result = unsafe { libc::syscall(libc::SYS_capget, &raw mut header, data.as_mut_ptr()) };
    if result != 0 {
        return Err(SandboxError::last_os(Layer::Capabilities, "capget"));
    }
    let join = |low: u32, high: u32| u64::from(low) | (u64::from(high) << 32);
    Ok((
        join(data[0].effective, data[1].effective),
        join(data[0].permitted, data[1].permitted),
    ))
}

/// `PR_SET_NO_NEW_PRIVS`, checked: execve can never grant privileges again.
pub(crate) fn set_no_new_privs() -> Result<(), SandboxError> {
    nix::sys::prctl::set_no_new_privs().map_err(|errno| {
        SandboxError::os(
            Layer::NoNewPrivs,
            "prctl(PR_SET_NO_NEW_PRIVS)",
            errno.into(),
        )
    })?;
    match nix::sys::prctl::get_no_new_privs() {
        Ok(true) => Ok(()),
        Ok(false) => Err(SandboxError::NotEffective {
            layer: Layer::NoNewPrivs,
            problem: "no_new_privs reads 0 after setting it".to_owned(),
        }),
        Err(errno) => Err(SandboxError::os(
            Layer::NoNewPrivs,
            "prctl(PR_GET_NO_NEW_PRIVS)",
            errno.into(),
        )),
    }
}

/// A `prctl` whose only argument is an integer.
fn prctl(
    option: libc::c_int,
    argument: libc::c_ulong,
    operation: &str,
) -> Result<(), SandboxError> {
    // SAFETY: every option passed here (securebits, ambient clear, bounding-set drop) takes one
    // integer argument and touches only the calling thread's credentials.
    let result = unsafe { libc::prctl(option, argument, 0, 0, 0) };
    if result == 0 {
        Ok(())
    } else {
        Err(SandboxError::last_os(Layer::Capabilities, operation))
    }
}
