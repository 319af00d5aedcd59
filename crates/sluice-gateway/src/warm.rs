//! Workers started ahead of demand (`sluice.workers.warm`): confined, ready, and never yet given
//! any code, so an execution that takes one skips the process start and the confinement.
//!
//! The pool refills in the background after every take, one worker at a time, and empties when
//! nobody has taken a worker for `sluice.workers.idleTimeoutMs` (the next execution starts the
//! refill again). A worker that died while it waited is dropped at the take.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use sluice_config::WorkerSettings;

use crate::Gateway;
use crate::worker::WorkerProcess;

/// How often the pool checks whether it has been idle long enough to empty.
const IDLE_CHECK: Duration = Duration::from_secs(5);

/// The warm workers of one gateway.
pub(crate) struct WarmPool {
    ready: Mutex<Vec<WorkerProcess>>,
    /// Workers being started for the pool, so that a refill does not overshoot.
    starting: AtomicUsize,
    /// When a worker was last asked for; the pool empties after the idle time-out.
    last_demand: Mutex<Instant>,
    settings: WorkerSettings,
}

impl WarmPool {
    pub(crate) fn new(settings: &WorkerSettings) -> WarmPool {
        WarmPool {
            ready: Mutex::new(Vec::new()),
            starting: AtomicUsize::new(0),
            last_demand: Mutex::new(Instant::now()),
            settings: settings.clone(),
        }
    }

    /// A ready worker, if one waits; the pool is refilled in the background either way.
    pub(crate) fn take(&self, gateway: &Gateway) -> Option<WorkerProcess> {
        self.demanded();
        let taken = loop {
            // The newest whose runtime is made, else the newest.
            let candidate = {
                let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
                match ready.iter_mut().rposition(WorkerProcess::is_tidied) {
                    Some(position) => Some(ready.remove(position)),
                    None => ready.pop(),
                }
            };
            match candidate {
                Some(mut worker) => {
                    if worker.is_alive() {
                        break Some(worker);
                    }
                    // Died while it waited (killed from outside): dropping it reaps it.
                }
                None => break None,
            }
        };
        self.fill(gateway);
        taken
    }

    /// A ready worker whose runtime is made, if one waits (none that would make the caller
    /// wait); the pool is refilled in the background when one is taken.
    pub(crate) fn take_ready(&self, gateway: &Gateway) -> Option<WorkerProcess> {
        let taken = {
            let mut ready = self.ready.lock().unwrap_or_else(PoisonError::into_inner);
            let position = ready
                .iter_mut()
                .rposition(|worker| worker.is_tidied() && worker.is_alive())?;
            ready.remove(position)
        };
        self.demanded();
        self.fill(gateway);
        Some(taken)
    }

    /// A worker was asked for now: the idle time-out counts from here.
    fn demanded(&self) {
        *self
            .last_demand
            .lock()
            .unwrap_or_else(PoisonError::into_inner) = Instant::now();
    }

    /// Start workers until the pool holds (or is starting) as many as it should.
    pub(crate) fn fill(&self, gateway: &Gateway) {
        if gateway.worker_command().is_none() || gateway.stopping().is_cancelled() {
            return;
        }
        let ready = self
            .ready
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len();
        let wanted = self.settings.warm;
        let starting = self.starting.load(Ordering::SeqCst);
        if ready + starting >= wanted {
            return;
        }
        // One at a time: a burst of starts would compete with the executions for the CPU.
        if self
            .starting
            .compare_exchange(starting, starting + 1, Ordering::SeqCst, Ordering::SeqCst)
            .is_err()
        {
            return;
        }
        let gateway = gateway.clone();
        tokio::spawn(async move {
            let started = gateway
                .start_worker_for(
                    &gateway.launch(gateway.owner(), true, 0),
                    sluice_telemetry::WorkerPurpose::Warm,
                    None,
                )
                .await;
            let pool = gateway.warm();
            pool.starting.fetch_sub(1, Ordering::SeqCst);
            match started {
                Ok(mut worker) if !gateway.stopping().is_cancelled() => {
                    // Its first execution then starts without making a runtime.
                    worker.prepare(gateway.execution_limits(None)).await;
                    pool.ready
                        .lock()
                        .unwrap_or_else(PoisonError::into_inner)
                        .push(worker);
                    pool.fill(&gateway);
                }
                Ok(worker) => worker.stop().await,
                Err(problem) => {
                    // Executions start their own worker and report the problem to the agent.
                    tracing::warn!("a warm worker could not be started: {problem}");
                }
            }
        });
    }

    /// Empty the pool once it has gone unused for the idle time-out; runs for the gateway's life.
    pub(crate) async fn shrink_when_idle(gateway: Gateway) {
        let idle_timeout = Duration::from_millis(gateway.warm().settings.idle_timeout_ms);
        loop {
            tokio::select! {
                () = tokio::time::sleep(IDLE_CHECK) => {}
                () = gateway.stopping().cancelled() => break,
            }
            let pool = gateway.warm();
            let idle = pool
                .last_demand
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .elapsed();
            if idle >= idle_timeout {
                pool.stop_all().await;
            }
        }
        gateway.warm().stop_all().await;
    }

    /// Stop every waiting worker.
    pub(crate) async fn stop_all(&self) {
        let workers =
            std::mem::take(&mut *self.ready.lock().unwrap_or_else(PoisonError::into_inner));
        for worker in workers {
            worker.stop().await;
        }
    }

    /// Workers waiting now.
    pub(crate) fn ready_count(&self) -> usize {
        self.ready
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .len()
    }
}
