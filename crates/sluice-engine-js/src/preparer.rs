//! The preparer: a thread of the engine's own that makes runtimes before they are needed and
//! frees used ones, so neither happens on the thread that runs executions.
//!
//! Making a runtime (a QuickJS runtime and context, the prelude loaded and run) takes about
//! 0.3 ms of CPU and freeing one about 0.1 ms. The execution thread used to do both after each
//! answer; on a machine with two cores that work then competed with the gateway and the next
//! request. The worker gives this thread the idle scheduling class, so it runs only on a core
//! that has nothing else to do, and the execution thread never waits long for it: it waits for
//! an ordered runtime for at most [`WAIT`], and after one such wait that came to
//! nothing, not at all until a runtime arrives in time again; then it makes its own. Used
//! runtimes are freed here only while at most [`MAX_UNFREED`] are waiting, so a
//! thread that gets no CPU cannot hoard memory: beyond that they are freed on the execution
//! thread, after the answer, as before.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::Duration;

use sluice_worker_protocol::ExecutionLimits;

/// What the execution thread asks of the preparer.
enum Order<T> {
    /// Make a runtime for these limits and send it back.
    Make(ExecutionLimits),
    /// Free this runtime.
    Free(T),
}

/// A runtime the preparer made for `limits`: `None` if it could not be made (the execution
/// thread then makes its own, and reports why).
pub(crate) struct Made<T> {
    pub(crate) limits: ExecutionLimits,
    pub(crate) runtime: Option<T>,
}

/// Longest wait for a runtime that was ordered and is not made yet.
pub(crate) const WAIT: Duration = Duration::from_millis(1);
/// Most used runtimes waiting to be freed here.
pub(crate) const MAX_UNFREED: usize = 2;
/// Stack of the preparer thread: the prelude is all it runs.
const STACK_BYTES: usize = 2 * 1024 * 1024;

/// The preparer thread and its channels, for runtimes of type `T` (the executor's shells).
pub(crate) struct Preparer<T> {
    /// `None` only while dropping.
    orders: Option<Sender<Order<T>>>,
    made: Receiver<Made<T>>,
    /// Runtimes handed over to be freed and not freed yet.
    unfreed: Arc<AtomicUsize>,
    /// Set when the engine is dropped: runtimes still ordered are not made.
    stopping: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl<T: Send + 'static> Preparer<T> {
    /// Start the thread with the worker's hooks; it makes runtimes with `make` and calls
    /// `announce` after each one it made.
    pub(crate) fn spawn(
        hooks: PreparerHooks,
        make: fn(&ExecutionLimits) -> Option<T>,
        announce: Box<dyn Fn() + Send>,
    ) -> std::io::Result<Self> {
        let (orders, inbox) = mpsc::channel::<Order<T>>();
        let (made_sender, made) = mpsc::channel::<Made<T>>();
        let unfreed = Arc::new(AtomicUsize::new(0));
        let counter = unfreed.clone();
        let stopping = Arc::new(AtomicBool::new(false));
        let stop = stopping.clone();
        let thread = std::thread::Builder::new()
            .name("sluice-prepare".to_owned())
            .stack_size(STACK_BYTES)
            .spawn(move || {
                (hooks.setup)();
                let maker = Maker {
                    make,
                    announce,
                    release_memory: hooks.release_memory,
                    stopping: stop,
                };
                serve(&inbox, &made_sender, &counter, &maker);
            })?;
        Ok(Self {
            orders: Some(orders),
            made,
            unfreed,
            stopping,
            thread: Some(thread),
        })
    }

    /// Order a runtime for these limits; false if the thread is gone.
    pub(crate) fn order(&self, limits: &ExecutionLimits) -> bool {
        self.orders
            .as_ref()
            .is_some_and(|orders| orders.send(Order::Make(limits.clone())).is_ok())
    }

    /// Have this runtime freed here, or give it back to be freed by the caller when too many
    /// wait already. (If the thread is gone, it is freed on the spot.)
    pub(crate) fn free(&self, runtime: T) -> Result<(), T> {
        let Some(orders) = &self.orders else {
            return Err(runtime);
        };
        if self.unfreed.load(Ordering::Acquire) >= MAX_UNFREED {
            return Err(runtime);
        }
        self.unfreed.fetch_add(1, Ordering::AcqRel);
        if orders.send(Order::Free(runtime)).is_err() {
            // The thread is gone: the runtime, returned inside the error, is freed here.
            self.unfreed.fetch_sub(1, Ordering::AcqRel);
        }
        Ok(())
    }

    /// Used runtimes handed over and not freed yet.
    #[cfg(test)]
    pub(crate) fn unfreed(&self) -> usize {
        self.unfreed.load(Ordering::Acquire)
    }

    /// A runtime made since the last call, if there is one.
    pub(crate) fn try_take(&self) -> Option<Made<T>> {
        self.made.try_recv().ok()
    }

    /// The next runtime made, waiting at most `timeout`.
    pub(crate) fn wait(&self, timeout: Duration) -> Option<Made<T>> {
        self.made.recv_timeout(timeout).ok()
    }
}

impl<T> Drop for Preparer<T> {
    /// Stop the thread once it has freed what it was given (runtimes still ordered are not
    /// made: the idle thread could take long to get the CPU for them).
    fn drop(&mut self) {
        self.stopping.store(true, Ordering::Release);
        drop(self.orders.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// What the worker gives the preparer thread.
#[derive(Debug, Clone, Copy)]
pub struct PreparerHooks {
    /// Called first on the thread (the worker gives it the idle scheduling class there).
    pub setup: fn(),
    /// Called when the thread has freed runtimes and then had nothing to do for
    /// [`IDLE_RELEASE_AFTER`]: hands free heap memory back to the OS (the worker's allocator
    /// keeps what two threads freed in turn as holes in its heap).
    pub release_memory: fn(),
}

/// How long the preparer waits, after freeing runtimes, before it releases free memory.
pub const IDLE_RELEASE_AFTER: Duration = Duration::from_millis(100);

/// What the thread does with its orders.
struct Maker<T> {
    make: fn(&ExecutionLimits) -> Option<T>,
    announce: Box<dyn Fn() + Send>,
    release_memory: fn(),
    stopping: Arc<AtomicBool>,
}

/// The thread: orders in the order they came, until the engine is dropped.
fn serve<T>(
    inbox: &Receiver<Order<T>>,
    made: &Sender<Made<T>>,
    unfreed: &AtomicUsize,
    maker: &Maker<T>,
) {
    let mut freed = false;
    loop {
        let order = if freed {
            match inbox.recv_timeout(IDLE_RELEASE_AFTER) {
                Ok(order) => order,
                Err(RecvTimeoutError::Timeout) => {
                    (maker.release_memory)();
                    freed = false;
                    continue;
                }
                Err(RecvTimeoutError::Disconnected) => return,
            }
        } else {
            match inbox.recv() {
                Ok(order) => order,
                Err(_) => return,
            }
        };
        match order {
            Order::Make(_) if maker.stopping.load(Ordering::Acquire) => {}
            Order::Make(limits) => {
                let runtime = (maker.make)(&limits);
                // A send fails only when the engine is gone; the runtime is freed here then.
                if made.send(Made { limits, runtime }).is_ok() {
                    (maker.announce)();
                }
            }
            Order::Free(runtime) => {
                drop(runtime);
                unfreed.fetch_sub(1, Ordering::AcqRel);
                freed = true;
            }
        }
    }
}
