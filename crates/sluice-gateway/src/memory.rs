//! Handing the memory of a replaced catalog back to the OS, once per burst of rebuilds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How long after a rebuild the release runs: long enough for a burst of rebuilds (servers
/// connecting one after another) to end and for executions holding the old snapshot to let it
/// go; one release then covers them all.
const DELAY: Duration = Duration::from_secs(1);

/// The release function, and whether a call to it is already scheduled.
#[derive(Debug)]
pub(crate) struct MemoryRelease {
    release: fn(),
    scheduled: Arc<AtomicBool>,
}

impl MemoryRelease {
    pub(crate) fn new(release: fn()) -> MemoryRelease {
        MemoryRelease {
            release,
            scheduled: Arc::new(AtomicBool::new(false)),
        }
    }

    /// Call the release function [`DELAY`] from now on a blocking thread, unless a call is
    /// already scheduled. Needs a Tokio runtime.
    pub(crate) fn schedule(&self) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let scheduled = Arc::clone(&self.scheduled);
        let release = self.release;
        tokio::spawn(async move {
            tokio::time::sleep(DELAY).await;
            // Cleared first: a rebuild during the release schedules the next one.
            scheduled.store(false, Ordering::Release);
            let _ = tokio::task::spawn_blocking(release).await;
        });
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::AtomicUsize;

    use super::*;

    static CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count() {
        CALLS.fetch_add(1, Ordering::SeqCst);
    }

    #[tokio::test]
    async fn a_burst_of_rebuilds_releases_once_and_a_later_one_again() {
        let release = MemoryRelease::new(count);
        for _ in 0..5 {
            release.schedule();
        }
        assert_eq!(CALLS.load(Ordering::SeqCst), 0, "not before the delay");
        tokio::time::sleep(DELAY * 2).await;
        assert_eq!(CALLS.load(Ordering::SeqCst), 1);
        release.schedule();
        tokio::time::sleep(DELAY * 2).await;
        assert_eq!(CALLS.load(Ordering::SeqCst), 2);
    }
}
