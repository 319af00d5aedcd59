/*!
The Sluice worker: the process that runs untrusted agent code, one execution at a time.

The gateway starts the `sluice-worker` binary (or, where it is missing, the `sluice` binary's
hidden `worker` subcommand, which is the same [`main`]); it confines the process and then calls
[`run`] with its stdin and stdout. A binary of its own keeps a worker small: the gateway's code
and its tables (in its binary, a megabyte of relocated data every process must write) are not
mapped at all. The worker speaks the frame protocol of
`sluice_worker_protocol` over them and runs each `Execute` with `sluice_engine_js` (TypeScript,
JavaScript) or `sluice_engine_py` (Python), by the job's `language`. Keeping agent
code in a separate process means a crash, a runaway allocation outside QuickJS's accounting, or
an engine bug costs one worker, never the gateway; the gateway enforces its own limits from
outside as well.

# The conversation

```text
worker  -> gateway  Ready
gateway -> worker   Prepare            (optional, between jobs: a warm worker's first runtime)
worker  -> gateway  Tidied             (also after every job, once the next runtime is made)
gateway -> worker   Execute            (protocol_version must match)
worker  -> gateway  ToolCall* Log*     (all calls of a Promise.all are sent before any wait)
gateway -> worker   ToolResult*        (any order; a result for an unknown call id is ignored)
worker  -> gateway  Done
gateway -> worker   Execute ...        (keep_state: in the kept runtime; else a fresh one)
gateway -> worker   Check              (between executions)
worker  -> gateway  Checked
```

An `Execute`, `Check` or `Prepare` that arrives while an execution runs is a protocol error:
the worker stops. When the input closes, [`run`] lets a running execution finish (its tool calls can no
longer be answered, so it typically ends with an error), sends its `Done`, and returns `Ok`.

# Sessions

The worker keeps one [`sluice_engine_js::Engine`] and one `sluice_engine_py::Engine` for its
whole life; a Python session keeps the Monty REPL (its globals survive), and an execution that
does not keep state ends the kept session of either language. An `Execute` with
`keep_state: true` runs in the runtime the previous one kept (the engine's rule: its top-level
declarations are published on `globalThis`); one with `keep_state: false` runs in a fresh runtime
and ends any kept one. After a `Timeout`, `OutOfMemory` or `InternalError` the runtime is gone
and the `Done`'s message says so. Skills are transpiled once per worker and content.

# The workspace

[`WorkerOptions::workspace`] is the folder `fs/promises` reads and writes, as `./workspace`.
The calls are carried out here, on the execution thread, with `openat2` below a descriptor of
the folder that never resolves through a link or out of it, and under the quota
`ExecutionLimits::workspace_bytes` (see the `workspace` module). Without a folder every call
fails with an error that says so.

# Threads

- The input (frames of at most `MAX_GATEWAY_FRAME_BYTES`) is read by one thread at a time,
  with no reader thread in between: the calling thread reads it between jobs, and hands it to
  the execution thread with each `Execute`, which reads its own tool results from it and hands
  it back with the `Done`. A hop through a reader thread would cost a second thread wake-up per
  tool call. While results have been arriving quickly, the execution thread polls for the next
  one for up to [`WorkerOptions::result_spin`] before it sleeps (see the `input` module). An
  `Execute` or `Check` read during an execution fails that execution, and the worker stops after
  its `Done`; one that arrives during a `Check` waits for it (the input is not read meanwhile).
- One execution thread runs every execution and check in turn, so a session's runtime stays on
  the thread that made it. It is started at the first `Execute` or `Check` (threads are made
  after the process is confined), with a stack sized for the execution's stack limit (see
  `sluice_engine_js::thread_stack_bytes`); an `Execute` that needs more stack replaces it (a
  kept session is lost then; the gateway sends the same limits every time). It writes its
  `ToolCall` and `Log` frames itself to the output, which is shared behind a mutex so frames
  never interleave.
- The calling thread dispatches, and writes `Ready`, every `Done` and `Checked`: the execution
  thread tells it when a job is over, and only then is the next job handed over.
- The engine's preparer thread (`sluice_engine_js::Engine::with_preparer`), in the idle
  scheduling class, makes the next fresh execution's runtime and frees used ones, and writes
  `Tidied` when a runtime it was asked for is made (the execution thread writes it when the
  runtime was already there, or after a job that needs none).
- The calling thread is also a watchdog. Some QuickJS built-ins loop without polling the
  interrupt handler (joining a huge sparse array), so an execution can outlive its deadline.
  [`STUCK_GRACE`] after the deadline, the worker answers `Done` with a `Timeout` itself and
  [`run`] returns [`WorkerError::Stuck`]: the process must exit (the stuck thread cannot be
  stopped). The gateway's own watchdog, with a longer grace, stays the last resort.

stdout is the protocol channel: nothing here prints. Diagnostics go through `tracing` (the
binary points it at stderr).
*/
#![deny(missing_docs)]

mod command;
pub use command::{WorkerArgs, main};

/// This build of the worker's code: a hash of the source of `sluice-worker` and every workspace
/// crate it uses, of `Cargo.lock` and of the version (see `build.rs`). Two binaries with the
/// same fingerprint run the same worker.
pub const BUILD: &str = env!("SLUICE_WORKER_BUILD");

mod confine;
pub use confine::{
    ADDRESS_SPACE_HEADROOM_BYTES, Confinement, Layer, Policy, SandboxError, confine,
};
mod input;
mod workspace;

use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use sluice_engine_js::{
    Engine, ExecuteJob, Host, HostError, NextRuntime, PreparerHooks, WorkspaceError,
    WorkspaceReply, WorkspaceRequest,
};
use sluice_worker_protocol::{
    ErrorKind, ExecutionError, ExecutionLimits, ExecutionOutcome, GatewayMessage, Language,
    PROTOCOL_VERSION, ProtocolError, Spin, ToolOutcome, WorkerMessage, write_message,
};

use crate::input::{Input, InputEnd, Received};
use crate::workspace::Workspace;

/// How long past its deadline an execution may run before the worker gives up on it. Shorter
/// than the gateway's own grace, so the gateway gets a `Timeout` rather than a dead worker.
pub const STUCK_GRACE: Duration = Duration::from_millis(500);
/// How long a `Check` may take (it only parses and compiles).
const CHECK_TIME: Duration = Duration::from_secs(10);

/// Why the worker stopped before its input closed cleanly.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum WorkerError {
    /// Writing to the gateway failed (it probably exited).
    #[error("could not write to the gateway: {0}")]
    Output(#[source] ProtocolError),
    /// The gateway sent bytes that are not a valid frame or message.
    #[error("bad input from the gateway: {0}")]
    Input(#[source] ProtocolError),
    /// The gateway speaks another protocol version.
    #[error("the gateway speaks protocol version {gateway}, this worker speaks {worker}")]
    ProtocolVersion {
        /// The gateway's version.
        gateway: u32,
        /// This worker's version.
        worker: u32,
    },
    /// The gateway sent a message that makes no sense now.
    #[error("unexpected message from the gateway: {0}")]
    Unexpected(String),
    /// The thread for executions could not be started.
    #[error("could not start an execution thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The engine panicked (a bug); the gateway got a `Done` with an `InternalError`.
    #[error("the execution thread panicked")]
    EnginePanicked,
    /// An execution ran past its deadline and could not be interrupted; the gateway got a `Done`
    /// with a `Timeout`. The process must exit: the execution thread is still running.
    #[error("an execution did not stop {grace_ms} ms after its time limit of {limit_ms} ms")]
    Stuck {
        /// The execution's time limit.
        limit_ms: u64,
        /// The grace given after it.
        grace_ms: u64,
    },
}

/// How the worker process was set up.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WorkerOptions {
    /// The workspace folder agent code may read and write through `fs/promises`; `None`: no
    /// workspace, every file call fails with an error that says so.
    pub workspace: Option<PathBuf>,
    /// How long an execution polls for a tool result before it sleeps in the kernel, while
    /// results have been arriving within that time (see [`DEFAULT_RESULT_SPIN`]); zero: never.
    pub result_spin: Duration,
}

/// The default of [`WorkerOptions::result_spin`]. Waking a sleeping thread costs tens of
/// microseconds on a virtual machine, more than the rest of a fast tool call's path through the
/// worker, so polling briefly for a result pays for itself; a tool slower than this makes the
/// next wait sleep at once.
pub const DEFAULT_RESULT_SPIN: Duration = Duration::from_micros(250);

impl Default for WorkerOptions {
    fn default() -> WorkerOptions {
        WorkerOptions {
            workspace: None,
            result_spin: DEFAULT_RESULT_SPIN,
        }
    }
}

/// Serve executions and checks until `input` closes.
///
/// Sends `Ready`, then runs each `Execute` and answers it with `Done`, and each `Check` with
/// `Checked`. Returns `Ok(())` when the input ends cleanly between frames, an error when the
/// channel breaks, the gateway misbehaves (another protocol version, a second `Execute` while
/// one runs, a malformed frame) or an execution is stuck ([`WorkerError::Stuck`]).
///
/// Precondition: nothing else reads `input` (frames are read from its descriptor directly).
pub fn run(
    options: &WorkerOptions,
    input: impl AsFd + Send + 'static,
    output: impl Write + Send + 'static,
) -> Result<(), WorkerError> {
    let output: SharedOutput = Arc::new(Mutex::new(Box::new(output)));
    send_to(
        &output,
        &WorkerMessage::Ready {
            protocol_version: PROTOCOL_VERSION,
        },
    )?;
    tracing::debug!(protocol_version = PROTOCOL_VERSION, "worker ready");
    let workspace = match &options.workspace {
        None => Folder::None,
        Some(path) => match Workspace::open_folder(path) {
            Ok(workspace) => Folder::Open(workspace),
            Err(error) => {
                // The path goes to the log only; agent code sees that the folder is unavailable.
                tracing::error!(path = %path.display(), %error, "could not open the workspace folder");
                Folder::Unavailable
            }
        },
    };

    let (events, inbox) = mpsc::channel::<Event>();
    let mut dispatcher = Dispatcher {
        output,
        input: Some(Input::new(Box::new(input))),
        events,
        executor: None,
        folder: Some(workspace),
        running: None,
        spin: options.result_spin,
    };
    let result = dispatcher.serve(&inbox);
    if !matches!(result, Err(WorkerError::Stuck { .. })) {
        dispatcher.stop_executor();
    }
    tracing::debug!(ok = result.is_ok(), "worker stops");
    result
}

/// The output, shared by the calling thread and the execution thread.
type SharedOutput = Arc<Mutex<Box<dyn Write + Send>>>;

/// Write one frame to the shared output. A panic elsewhere while holding the lock cannot leave a
/// half-written frame behind (frames are written whole or the channel is broken anyway), so a
/// poisoned lock is used as it is.
fn send_to(output: &SharedOutput, message: &WorkerMessage) -> Result<(), WorkerError> {
    let mut output = output.lock().unwrap_or_else(PoisonError::into_inner);
    write_message(&mut *output, message).map_err(WorkerError::Output)
}

/// The workspace as the execution thread holds it.
#[derive(Debug)]
enum Folder {
    /// No workspace was configured.
    None,
    /// It was configured but could not be opened (the log says why).
    Unavailable,
    /// Open.
    Open(Workspace),
}

/// What the execution thread tells the calling thread.
enum Event {
    /// The job is over: its `Done` or `Checked`, and the input back when the job had it.
    Finished(Box<(WorkerMessage, Option<Input>)>),
    /// The execution thread unwound (a panic).
    Crashed,
}

/// Work for the execution thread.
enum Job {
    Execute {
        job: Box<ExecuteJob>,
        /// The input, for this execution's tool results; handed back with `Finished`.
        input: Input,
    },
    Check {
        code: String,
        language: Language,
    },
    /// Sent once a job's answer is out: free its runtime and, after a fresh execution, make
    /// the runtime the next one will run in (the worker may serve the client again). Not
    /// earlier: the process may have one CPU, and the answer must not wait for this.
    Tidy {
        prepare: Option<ExecutionLimits>,
    },
}

/// The execution thread.
struct Executor {
    jobs: Sender<Job>,
    thread: JoinHandle<Folder>,
    /// Its stack size.
    stack_bytes: usize,
}

/// The job in progress.
struct Running {
    /// When the watchdog gives up on it.
    give_up_at: Option<Instant>,
    /// The time limit, for messages.
    limit_ms: u64,
    /// A `Check` (answered by `Checked`) rather than an `Execute`.
    check: bool,
    /// The limits of a fresh execution, whose successor's runtime is made once it is answered.
    prepare: Option<ExecutionLimits>,
}

struct Dispatcher {
    output: SharedOutput,
    /// The input while no execution holds it; `None` while one does.
    input: Option<Input>,
    events: Sender<Event>,
    executor: Option<Executor>,
    /// The workspace while no execution thread holds it.
    folder: Option<Folder>,
    running: Option<Running>,
    /// How long an execution may poll for a tool result before it sleeps.
    spin: Duration,
}

impl Dispatcher {
    fn serve(&mut self, inbox: &Receiver<Event>) -> Result<(), WorkerError> {
        loop {
            if let Some(running) = &self.running {
                // The dispatcher holds a sender itself, so the channel never disconnects.
                let event = match running.give_up_at {
                    Some(give_up_at) => match inbox
                        .recv_timeout(give_up_at.saturating_duration_since(Instant::now()))
                    {
                        Ok(event) => event,
                        Err(RecvTimeoutError::Timeout) => return self.on_stuck(),
                        Err(RecvTimeoutError::Disconnected) => return Ok(()),
                    },
                    None => match inbox.recv() {
                        Ok(event) => event,
                        Err(_) => return Ok(()),
                    },
                };
                match event {
                    Event::Finished(finished) => {
                        let (message, input) = *finished;
                        self.on_finished(&message, input)?;
                    }
                    Event::Crashed => return self.on_crashed(),
                }
                continue;
            }
            let Some(input) = self.input.as_mut() else {
                return Err(WorkerError::Unexpected(
                    "the input was not handed back after an execution".to_owned(),
                ));
            };
            match input.next(None, Duration::ZERO) {
                Received::Message(message) => self.on_message(message)?,
                Received::TimedOut => {}
                Received::Ended => {
                    return match input.take_end() {
                        Some(InputEnd::Failed(error)) => {
                            tracing::warn!(%error, "the gateway channel failed");
                            Err(WorkerError::Input(error))
                        }
                        Some(InputEnd::Closed) | None => Ok(()),
                    };
                }
            }
        }
    }

    /// A message that arrived between jobs.
    fn on_message(&mut self, message: GatewayMessage) -> Result<(), WorkerError> {
        match message {
            GatewayMessage::Execute(job) => self.on_execute(Box::new(job)),
            GatewayMessage::Check { code, language } => self.on_check(code, language),
            GatewayMessage::Prepare { limits } => self.on_prepare(limits),
            GatewayMessage::ToolResult { call_id, .. } => {
                tracing::warn!(
                    call_id,
                    "ignoring a tool result that arrived between executions"
                );
                Ok(())
            }
        }
    }

    fn send(&mut self, message: &WorkerMessage) -> Result<(), WorkerError> {
        send_to(&self.output, message)
    }

    /// End the current job with an error of the worker itself (no position in the code).
    fn send_failure(
        &mut self,
        check: bool,
        kind: ErrorKind,
        message: String,
    ) -> Result<(), WorkerError> {
        let error = ExecutionError {
            kind,
            message,
            line: None,
            column: None,
        };
        if check {
            self.send(&WorkerMessage::Checked {
                error: Some(error),
                exports: Vec::new(),
            })
        } else {
            self.send(&WorkerMessage::Done {
                outcome: ExecutionOutcome::Error(error),
                dropped_output_bytes: 0,
            })
        }
    }

    fn on_execute(&mut self, job: Box<ExecuteJob>) -> Result<(), WorkerError> {
        let protocol_version = job.protocol_version;
        if protocol_version != PROTOCOL_VERSION {
            self.send_failure(
                false,
                ErrorKind::ProtocolError,
                format!(
                    "the gateway speaks protocol version {protocol_version}, this worker speaks \
                     {PROTOCOL_VERSION}"
                ),
            )?;
            return Err(WorkerError::ProtocolVersion {
                gateway: protocol_version,
                worker: PROTOCOL_VERSION,
            });
        }
        let stack_bytes = sluice_engine_js::thread_stack_bytes(&job.limits);
        self.ensure_executor(stack_bytes)?;
        let Some(input) = self.input.take() else {
            return Err(WorkerError::Unexpected(
                "an Execute arrived while another job holds the input".to_owned(),
            ));
        };
        let limit_ms = job.limits.timeout_ms;
        let give_up_at = Instant::now()
            .checked_add(Duration::from_millis(limit_ms))
            .and_then(|deadline| deadline.checked_add(STUCK_GRACE));
        let prepare = (!job.keep_state).then(|| job.limits.clone());
        self.hand_over(Job::Execute { job, input })?;
        self.running = Some(Running {
            give_up_at,
            limit_ms,
            check: false,
            prepare,
        });
        Ok(())
    }

    fn on_check(&mut self, code: String, language: Language) -> Result<(), WorkerError> {
        let defaults = ExecutionLimits::default();
        self.ensure_executor(sluice_engine_js::thread_stack_bytes(&defaults))?;
        self.hand_over(Job::Check { code, language })?;
        self.running = Some(Running {
            give_up_at: Instant::now().checked_add(CHECK_TIME),
            limit_ms: CHECK_TIME.as_millis().try_into().unwrap_or(u64::MAX),
            check: true,
            prepare: None,
        });
        Ok(())
    }

    /// Make the next execution's runtime now, on the execution thread (started for these
    /// limits), which answers `Tidied` when it is made. Between jobs only: the input loop
    /// hands this over when no job runs.
    fn on_prepare(&mut self, limits: ExecutionLimits) -> Result<(), WorkerError> {
        self.ensure_executor(sluice_engine_js::thread_stack_bytes(&limits))?;
        self.hand_over(Job::Tidy {
            prepare: Some(limits),
        })
    }

    fn hand_over(&mut self, job: Job) -> Result<(), WorkerError> {
        let sent = match &self.executor {
            Some(executor) => executor.jobs.send(job).is_ok(),
            None => false,
        };
        if sent {
            Ok(())
        } else {
            // The thread is gone; it reports its crash through the events.
            Err(WorkerError::EnginePanicked)
        }
    }

    /// Make sure an execution thread with at least `stack_bytes` of stack is running.
    fn ensure_executor(&mut self, stack_bytes: usize) -> Result<(), WorkerError> {
        if self
            .executor
            .as_ref()
            .is_some_and(|executor| executor.stack_bytes >= stack_bytes)
        {
            return Ok(());
        }
        if self.executor.is_some() {
            tracing::debug!(
                stack_bytes,
                "replacing the execution thread for a larger stack"
            );
            self.stop_executor();
        }
        let folder = self.folder.take().unwrap_or(Folder::None);
        let (jobs, job_inbox) = mpsc::channel::<Job>();
        let events = self.events.clone();
        let output = self.output.clone();
        let spin = self.spin;
        let thread = std::thread::Builder::new()
            .name("sluice-execution".to_owned())
            .stack_size(stack_bytes)
            .spawn(move || execution_thread(&job_inbox, &events, &output, folder, spin))
            .map_err(WorkerError::Thread)?;
        self.executor = Some(Executor {
            jobs,
            thread,
            stack_bytes,
        });
        Ok(())
    }

    /// End the execution thread (dropping a kept session) and take the workspace back.
    fn stop_executor(&mut self) {
        if let Some(executor) = self.executor.take() {
            drop(executor.jobs);
            if let Ok(folder) = executor.thread.join() {
                self.folder = Some(folder);
            }
        }
    }

    /// Send the `Done` or `Checked`. The job counts as over from here, so the gateway may send
    /// the next one as soon as it reads this. An execution hands the input back; if the gateway
    /// broke protocol meanwhile (an `Execute` or `Check` during it), the worker stops after the
    /// `Done`.
    fn on_finished(
        &mut self,
        message: &WorkerMessage,
        input: Option<Input>,
    ) -> Result<(), WorkerError> {
        let prepare = self.running.take().and_then(|running| running.prepare);
        let mut violation = None;
        if let Some(mut input) = input {
            violation = input.take_violation();
            self.input = Some(input);
        }
        self.send(message)?;
        if let Some(executor) = &self.executor {
            let _ = executor.jobs.send(Job::Tidy { prepare });
        }
        match violation {
            Some(violation) => Err(WorkerError::Unexpected(violation)),
            None => Ok(()),
        }
    }

    /// The engine panicked: answer the job, then stop (the process state is suspect).
    fn on_crashed(&mut self) -> Result<(), WorkerError> {
        self.stop_executor();
        tracing::error!("the execution thread panicked");
        if let Some(running) = self.running.take() {
            self.send_failure(
                running.check,
                ErrorKind::InternalError,
                "Internal error of the sandbox: the execution crashed".to_owned(),
            )?;
        }
        Err(WorkerError::EnginePanicked)
    }

    /// The job outlived its deadline by [`STUCK_GRACE`]: answer it, then stop.
    fn on_stuck(&mut self) -> Result<(), WorkerError> {
        let Some(running) = self.running.take() else {
            return Ok(());
        };
        tracing::error!(
            limit_ms = running.limit_ms,
            "an execution is stuck past its deadline"
        );
        let (kind, message) = if running.check {
            (
                ErrorKind::InternalError,
                format!(
                    "Internal error of the sandbox: checking the code took longer than {} ms",
                    running.limit_ms
                ),
            )
        } else {
            (
                ErrorKind::Timeout,
                format!(
                    "The execution did not finish within its time limit of {} ms, and a built-in \
                     operation that cannot be interrupted (for example joining a huge sparse \
                     array, or multiplying huge integers) kept running, so the worker stops. \
                     Work on smaller data per call. Any session state is lost.",
                    running.limit_ms
                ),
            )
        };
        self.send_failure(running.check, kind, message)?;
        Err(WorkerError::Stuck {
            limit_ms: running.limit_ms,
            grace_ms: STUCK_GRACE.as_millis().try_into().unwrap_or(u64::MAX),
        })
    }
}

/// The execution thread: runs jobs in order on one engine until the job channel closes, and
/// gives the workspace back at the end.
fn execution_thread(
    jobs: &Receiver<Job>,
    events: &Sender<Event>,
    output: &SharedOutput,
    mut folder: Folder,
    spin: Duration,
) -> Folder {
    let mut crash = CrashSignal(Some(events.clone()));
    let announcer = output.clone();
    let hooks = PreparerHooks {
        setup: idle_priority,
        release_memory: sluice_sandbox::release_free_heap,
    };
    let mut engine = Engine::with_preparer(hooks, move || {
        let _ = send_to(&announcer, &WorkerMessage::Tidied);
    });
    let mut python = sluice_engine_py::Engine::new();
    while let Ok(job) = jobs.recv() {
        let event = match job {
            Job::Tidy { prepare } => {
                // Ordered first: the next runtime is wanted sooner than the last one is freed.
                let next = prepare.map_or(NextRuntime::Ready, |limits| engine.prepare(&limits));
                engine.tidy();
                // `Tidied` says the next runtime is there, and the gateway prefers workers that
                // said it: now, or from the preparer once it has made the runtime. A gateway
                // that stopped reading is noticed at the next job.
                if next == NextRuntime::Ready {
                    let _ = send_to(output, &WorkerMessage::Tidied);
                }
                continue;
            }
            Job::Execute { job, input } => {
                if let Folder::Open(workspace) = &mut folder {
                    workspace.begin_execution(job.limits.workspace_bytes);
                }
                let mut host = FrameHost {
                    output: output.clone(),
                    input,
                    spin: Spin::new(spin),
                    folder: &mut folder,
                };
                // One session per worker: an execution that does not keep state ends the other
                // language's kept session too.
                let finished = if job.language == Language::Python {
                    if !job.keep_state {
                        engine.end_session();
                    }
                    python.execute(&job, &mut host)
                } else {
                    if !job.keep_state {
                        python.end_session();
                    }
                    engine.execute(&job, &mut host)
                };
                let message = finished.into_message();
                Event::Finished(Box::new((message, Some(host.input))))
            }
            Job::Check { code, language } => {
                let report = if language == Language::Python {
                    sluice_engine_py::check(&code)
                } else {
                    sluice_engine_js::check(&code, language)
                };
                Event::Finished(Box::new((report.into_message(), None)))
            }
        };
        if events.send(event).is_err() {
            break;
        }
    }
    crash.0 = None;
    drop(engine);
    drop(python);
    folder
}

/// The preparer thread's set-up: the idle scheduling class, so making and freeing runtimes
/// takes only CPU that nothing else wants.
fn idle_priority() {
    if !sluice_sandbox::idle_priority_for_this_thread() {
        tracing::debug!("the preparer thread keeps the normal scheduling class");
    }
}

/// Tells the dispatcher when the execution thread unwinds before finishing.
struct CrashSignal(Option<Sender<Event>>);

impl Drop for CrashSignal {
    fn drop(&mut self) {
        if let Some(events) = self.0.take() {
            let _ = events.send(Event::Crashed);
        }
    }
}

/// The engine's host inside the worker: messages are written to the shared output from the
/// execution thread itself, results are read from the input by the execution thread too, and
/// file calls go to the workspace.
struct FrameHost<'a> {
    output: SharedOutput,
    input: Input,
    spin: Spin,
    folder: &'a mut Folder,
}

impl Host for FrameHost<'_> {
    fn send(&mut self, message: WorkerMessage) -> Result<(), HostError> {
        send_to(&self.output, &message).map_err(|error| HostError::Failed(error.to_string()))
    }

    fn wait_tool_result(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<(u64, ToolOutcome)>, HostError> {
        let started = Instant::now();
        let received = self.input.next(timeout, self.spin.next());
        match received {
            Received::Message(GatewayMessage::ToolResult { call_id, outcome }) => {
                self.spin.record(started.elapsed());
                Ok(Some((call_id, outcome)))
            }
            Received::Message(other) => {
                let name = match other {
                    GatewayMessage::Execute { .. } => "an Execute",
                    GatewayMessage::Prepare { .. } => "a Prepare",
                    _ => "a Check",
                };
                let violation = format!("{name} arrived while an execution was running");
                self.input.record_violation(violation.clone());
                Err(HostError::Failed(violation))
            }
            Received::TimedOut => {
                self.spin.record(started.elapsed());
                Ok(None)
            }
            Received::Ended => Err(HostError::Closed),
        }
    }

    fn workspace(&mut self, request: &WorkspaceRequest) -> Result<WorkspaceReply, WorkspaceError> {
        match self.folder {
            Folder::Open(workspace) => workspace.handle(request),
            Folder::Unavailable => Err(WorkspaceError::new(
                request,
                "EIO",
                "the workspace folder is unavailable",
                "The worker could not open it; the gateway's log has the reason",
            )),
            Folder::None => Err(WorkspaceError::no_workspace(request)),
        }
    }
}
