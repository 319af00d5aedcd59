//! The idle scheduling class for a thread whose work nobody waits for.

/// Give the calling thread the idle scheduling class (`SCHED_IDLE`): it then runs only on a
/// core that has nothing else to run, and any other thread that wakes takes the core from it.
///
/// The worker's preparer thread, which makes the next execution's runtime and frees used ones,
/// calls it first thing, so that this work never competes with an execution, the gateway or the
/// agent on a busy machine. The seccomp allowlist lets the worker make this one call, for the
/// calling thread and this class only: a thread can only lower its own priority with it. Best
/// effort: returns false if the class was refused (the thread then keeps the normal class).
pub fn idle_priority_for_this_thread() -> bool {
    #[cfg(target_os = "linux")]
    {
        let parameters = libc::sched_param { sched_priority: 0 };
        // SAFETY: `sched_setscheduler` reads the parameter struct, which lives on this stack
        // for the call; pid 0 is the calling thread, and only its scheduling class changes.
        let result =
            unsafe { libc::sched_setscheduler(0, libc::SCHED_IDLE, &raw const parameters) };
        result == 0
    }
    #[cfg(not(target_os = "linux"))]
    {
        false
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_thread_takes_the_idle_class_and_keeps_running() {
        let class = std::thread::spawn(|| {
            assert!(idle_priority_for_this_thread());
            // SAFETY: a plain query of the calling thread's class.
            unsafe { libc::sched_getscheduler(0) }
        })
        .join()
        .unwrap();
        assert_eq!(class, libc::SCHED_IDLE);
    }
}
