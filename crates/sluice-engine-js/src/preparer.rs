//! The preparer: a thread of the engine's own that makes runtimes before they are needed and
//! frees used ones, so neither happens on the thread that runs executions.
//!
//! Making a runtime (a QuickJS runtime and context, the prelude loaded and run) takes about
//! 0.3 ms of CPU and freeing one about 0.1 ms. The execution thread used to do both after each
//! answer; on a machine with two cores that work then competed with the gateway and the next
//! request. The worker gives this thread the idle scheduling class, so it runs only on a core
//! that has nothing else to do, and the execution thread never waits long for it: it waits for
//! an ordered runtime for at most [`WAIT`], and after one such wait that came to nothing, not at
//! all until a runtime arrives in time again; then it makes its own. Used runtimes are freed
//! here only while at most [`MAX_UNFREED`] are waiting, so a thread that gets no CPU cannot
//! hoard memory: beyond that they are freed on the execution thread, after the answer, as
//! before.
//!
//! The thread ends once it has had nothing to do for [`IDLE_RELEASE_AFTER`] (after handing free
//! heap memory back), and the next order starts a new one. An idle worker so has no idle-class
//! thread: a process dies only when each of its threads has run to its end, and an idle-class
//! thread on a busy machine can wait long for the CPU to do that, which kept a killed worker's
//! pipes open while the gateway could still pick it.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
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

/// How long the preparer thread waits for an order before it hands free heap memory back (if
/// it freed runtimes) and ends.
pub(crate) const IDLE_RELEASE_AFTER: Duration = Duration::from_millis(100);

/// What the worker gives the preparer thread.
#[derive(Debug, Clone, Copy)]
pub struct PreparerHooks {
    /// Called first on each preparer thread (the worker gives it the idle scheduling class).
    pub setup: fn(),
    /// Called when the thread has freed runtimes and then had nothing to do for 100 ms (just
    /// before it ends): hands free heap memory back to the OS (the worker's allocator
    /// keeps what two threads freed in turn as holes in its heap).
    pub release_memory: fn(),
}

/// The preparer, for runtimes of type `T` (the executor's shells): the thread while one runs,
/// and what a new one is started with.
pub(crate) struct Preparer<T> {
    maker: Arc<Maker<T>>,
    /// The running thread; `None` before the first order and after it ended.
    running: Option<Running<T>>,
    made: Receiver<Made<T>>,
    /// Given to each thread, to send what it made.
    made_sender: Sender<Made<T>>,
}

/// A running preparer thread.
struct Running<T> {
    orders: Sender<Order<T>>,
    /// False once the thread has decided to end: it takes no more orders. Orders are sent while
    /// holding it, so none can be sent to a thread that is ending.
    open: Arc<Mutex<bool>>,
    thread: JoinHandle<()>,
}

/// What every preparer thread of one engine shares.
struct Maker<T> {
    hooks: PreparerHooks,
    make: fn(&ExecutionLimits) -> Option<T>,
    announce: Box<dyn Fn() + Send + Sync>,
    /// Runtimes handed over to be freed and not freed yet.
    unfreed: AtomicUsize,
    /// Set when the engine is dropped: runtimes still ordered are not made.
    stopping: AtomicBool,
}

impl<T: Send + 'static> Preparer<T> {
    /// A preparer with the worker's hooks; it makes runtimes with `make` and calls `announce`
    /// after each one it made. Its thread starts at the first order.
    pub(crate) fn new(
        hooks: PreparerHooks,
        make: fn(&ExecutionLimits) -> Option<T>,
        announce: Box<dyn Fn() + Send + Sync>,
    ) -> Self {
        let (made_sender, made) = mpsc::channel::<Made<T>>();
        Self {
            maker: Arc::new(Maker {
                hooks,
                make,
                announce,
                unfreed: AtomicUsize::new(0),
                stopping: AtomicBool::new(false),
            }),
            running: None,
            made,
            made_sender,
        }
    }

    /// Hand `order` to the running thread, or to a new one if there is none; the order back if
    /// no thread could take it.
    fn send(&mut self, order: Order<T>) -> Result<(), Order<T>> {
        let order = match &self.running {
            Some(running) => {
                let open = running.open.lock().unwrap_or_else(PoisonError::into_inner);
                if !*open {
                    order
                } else {
                    return running.orders.send(order).map_err(|error| error.0);
                }
            }
            None => order,
        };
        if let Some(ended) = self.running.take() {
            let _ = ended.thread.join();
        }
        let (orders, inbox) = mpsc::channel::<Order<T>>();
        let open = Arc::new(Mutex::new(true));
        let maker = self.maker.clone();
        let made = self.made_sender.clone();
        let thread_open = open.clone();
        let spawned = std::thread::Builder::new()
            .name("sluice-prepare".to_owned())
            .stack_size(STACK_BYTES)
            .spawn(move || {
                (maker.hooks.setup)();
                serve(&inbox, &made, &maker, &thread_open);
            });
        match spawned {
            Ok(thread) => {
                let sent = orders.send(order).map_err(|error| error.0);
                self.running = Some(Running {
                    orders,
                    open,
                    thread,
                });
                sent
            }
            Err(error) => {
                tracing::warn!(%error, "could not start the thread that makes runtimes ahead");
                Err(order)
            }
        }
    }

    /// Order a runtime for these limits; false if no thread could take the order.
    pub(crate) fn order(&mut self, limits: &ExecutionLimits) -> bool {
        self.send(Order::Make(limits.clone())).is_ok()
    }

    /// Have this runtime freed by the preparer, or give it back to be freed by the caller: when
    /// too many wait already, or no thread could take it.
    pub(crate) fn free(&mut self, runtime: T) -> Result<(), T> {
        if self.maker.unfreed.load(Ordering::Acquire) >= MAX_UNFREED {
            return Err(runtime);
        }
        self.maker.unfreed.fetch_add(1, Ordering::AcqRel);
        match self.send(Order::Free(runtime)) {
            Ok(()) => Ok(()),
            Err(order) => {
                self.maker.unfreed.fetch_sub(1, Ordering::AcqRel);
                match order {
                    Order::Free(runtime) => Err(runtime),
                    // `send` gives back the order it was given: a `Free`.
                    Order::Make(_) => Ok(()),
                }
            }
        }
    }

    /// Used runtimes handed over and not freed yet.
    #[cfg(test)]
    pub(crate) fn unfreed(&self) -> usize {
        self.maker.unfreed.load(Ordering::Acquire)
    }

    /// Whether a preparer thread is running now.
    #[cfg(test)]
    pub(crate) fn has_thread(&self) -> bool {
        self.running
            .as_ref()
            .is_some_and(|running| !running.thread.is_finished())
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
    /// made: the idle-class thread could take long to get the CPU for them).
    fn drop(&mut self) {
        self.maker.stopping.store(true, Ordering::Release);
        if let Some(running) = self.running.take() {
            drop(running.orders);
            let _ = running.thread.join();
        }
    }
}

/// The thread: orders in the order they came, until the engine is dropped or nothing came for
/// [`IDLE_RELEASE_AFTER`].
fn serve<T>(
    inbox: &Receiver<Order<T>>,
    made: &Sender<Made<T>>,
    maker: &Maker<T>,
    open: &Mutex<bool>,
) {
    let mut freed = false;
    loop {
        let order = match inbox.recv_timeout(IDLE_RELEASE_AFTER) {
            Ok(order) => order,
            Err(RecvTimeoutError::Disconnected) => return,
            Err(RecvTimeoutError::Timeout) => {
                if freed {
                    (maker.hooks.release_memory)();
                    freed = false;
                }
                // End, unless an order came meanwhile: none can come once this is closed.
                let mut open = open.lock().unwrap_or_else(PoisonError::into_inner);
                match inbox.try_recv() {
                    Ok(order) => order,
                    Err(_) => {
                        *open = false;
                        return;
                    }
                }
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
                maker.unfreed.fetch_sub(1, Ordering::AcqRel);
                freed = true;
            }
        }
    }
}
