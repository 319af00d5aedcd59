//! Handing the memory of a replaced catalog back to the OS, once per burst of rebuilds.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::time::Duration;

/// How long after a rebuild the release runs: long enough for a burst of rebuilds (servers
/// connecting one after another) to end and for executions holding the old snapshot to let it
/// go; one release then covers them all.
const DELAY: Duration = Duration::from_secs(1);

/// A release runs once refreshed tool lists since the last one add up to a tenth of the catalog
/// or to this many tools, whichever is fewer (a server that connects or leaves schedules one at
/// once). Trimming walks the whole heap, milliseconds behind 10,000 tools, while one server's
/// refresh of a few dozen tools frees little that the next allocations would not reuse: such
/// refreshes share a release. A small catalog's changes each count for a tenth, and its heap is
/// quick to trim.
pub(crate) const RELEASE_AFTER_TOOLS: usize = 1_000;

/// The release function, and whether a call to it is already scheduled.
#[derive(Debug)]
pub(crate) struct MemoryRelease {
    release: fn(),
    scheduled: Arc<AtomicBool>,
    /// Tools changed since the last release.
    changed_tools: Arc<AtomicUsize>,
}

impl MemoryRelease {
    pub(crate) fn new(release: fn()) -> MemoryRelease {
        MemoryRelease {
            release,
            scheduled: Arc::new(AtomicBool::new(false)),
            changed_tools: Arc::new(AtomicUsize::new(0)),
        }
    }

    /// Note a catalog change of `tools` tools in a catalog of `catalog_tools`; schedule a
    /// release once the changes since the last release reach a tenth of the catalog or
    /// [`RELEASE_AFTER_TOOLS`]. Needs a Tokio runtime.
    pub(crate) fn catalog_changed(&self, tools: usize, catalog_tools: usize) {
        let total = self.changed_tools.fetch_add(tools, Ordering::AcqRel) + tools;
        if total >= (catalog_tools / 10).clamp(1, RELEASE_AFTER_TOOLS) {
            self.schedule();
        }
    }

    /// Call the release function [`DELAY`] from now on a blocking thread, unless a call is
    /// already scheduled. Needs a Tokio runtime.
    pub(crate) fn schedule(&self) {
        if self.scheduled.swap(true, Ordering::AcqRel) {
            return;
        }
        let scheduled = Arc::clone(&self.scheduled);
        let changed_tools = Arc::clone(&self.changed_tools);
        let release = self.release;
        tokio::spawn(async move {
            tokio::time::sleep(DELAY).await;
            // Cleared first: a rebuild during the release schedules the next one.
            changed_tools.store(0, Ordering::Release);
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

    static SMALL_CALLS: AtomicUsize = AtomicUsize::new(0);

    fn count_small() {
        SMALL_CALLS.fetch_add(1, Ordering::SeqCst);
    }

    #[tokio::test]
    async fn small_catalog_changes_share_a_release() {
        let release = MemoryRelease::new(count_small);
        let catalog = 10 * RELEASE_AFTER_TOOLS;
        let small = RELEASE_AFTER_TOOLS / 4;
        for _ in 0..3 {
            release.catalog_changed(small, catalog);
        }
        tokio::time::sleep(DELAY * 2).await;
        assert_eq!(SMALL_CALLS.load(Ordering::SeqCst), 0, "three small changes");
        release.catalog_changed(small, catalog);
        tokio::time::sleep(DELAY * 2).await;
        assert_eq!(
            SMALL_CALLS.load(Ordering::SeqCst),
            1,
            "the fourth reaches the mark"
        );
        release.catalog_changed(small, catalog);
        tokio::time::sleep(DELAY * 2).await;
        assert_eq!(
            SMALL_CALLS.load(Ordering::SeqCst),
            1,
            "counted afresh after a release"
        );
        release.catalog_changed(1, 5);
        tokio::time::sleep(DELAY * 2).await;
        assert_eq!(
            SMALL_CALLS.load(Ordering::SeqCst),
            2,
            "a small catalog's change alone"
        );
    }
}
