//! The worker dies with the gateway.

use nix::sys::prctl;
use nix::sys::signal::Signal;

use crate::{Layer, SandboxError};

/// Arm `PR_SET_PDEATHSIG(SIGKILL)`, then check the parent is still `expected` (when given): if the
/// gateway died before the signal was armed, the worker has been re-parented and will never get
/// it. Returns the pid checked.
pub(crate) fn arm_parent_death_signal(expected: Option<u32>) -> Result<Option<u32>, SandboxError> {
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|errno| {
        SandboxError::os(
            Layer::ParentDeath,
            "prctl(PR_SET_PDEATHSIG, SIGKILL)",
            errno.into(),
        )
    })?;
    let Some(expected) = expected else {
        return Ok(None);
    };
    let actual = nix::unistd::getppid().as_raw().cast_unsigned();
    if actual == expected {
        Ok(Some(expected))
    } else {
        Err(SandboxError::ParentGone { expected, actual })
    }
}

/// Check the signal is still armed (the kernel clears it on some credential changes; dropping
/// capabilities within one namespace is not one of them, but this is cheap), and re-arm it if not.
pub(crate) fn require_parent_death_signal() -> Result<(), SandboxError> {
    let armed = prctl::get_pdeathsig().map_err(|errno| {
        SandboxError::os(Layer::ParentDeath, "prctl(PR_GET_PDEATHSIG)", errno.into())
    })?;
    if armed == Some(Signal::SIGKILL) {
        return Ok(());
    }
    prctl::set_pdeathsig(Signal::SIGKILL).map_err(|errno| {
        SandboxError::os(
            Layer::ParentDeath,
            "prctl(PR_SET_PDEATHSIG, SIGKILL) after dropping capabilities",
            errno.into(),
        )
    })
}
