/*!
The Sluice worker: the process that runs untrusted agent code, one execution at a time.

The gateway starts the `sluice` binary with a hidden `worker` subcommand, which calls [`run`]
with its stdin and stdout. The worker speaks the frame protocol of `sluice_worker_protocol` over
them and runs each `Execute` with `sluice_engine_js`. Keeping agent code in a separate process
means a crash, a runaway allocation outside QuickJS's accounting, or an engine bug costs one
worker, never the gateway; the gateway enforces its own limits from outside as well.

# The conversation

```text
worker  -> gateway  Ready
gateway -> worker   Execute            (protocol_version must match)
worker  -> gateway  ToolCall* Log*     (all calls of a Promise.all are sent before any wait)
gateway -> worker   ToolResult*        (any order; a result for an unknown call id is ignored)
worker  -> gateway  Done
gateway -> worker   Execute ...        (the next execution gets a fresh JavaScript runtime)
```

When the input closes, [`run`] lets a running execution finish (its tool calls can no longer be
answered, so it typically ends with an error), sends its `Done`, and returns `Ok`.

# Threads

- A reader thread decodes gateway frames (at most `MAX_GATEWAY_FRAME_BYTES` each). It hands a
  `ToolResult` straight to the running execution's result channel, kept in a shared slot, and
  passes everything else (an `Execute`, the end of the input) to the calling thread.
- Each execution runs on its own thread, whose stack is sized for the execution's stack limit
  (see `sluice_engine_js::thread_stack_bytes`). It writes its `ToolCall` and `Log` frames itself
  to the output, which is shared behind a mutex so frames never interleave, and waits for tool
  results on its channel. Nothing else sits between a call and its result.
- The calling thread starts executions and writes `Ready` and every `Done`: an execution thread
  tells it when it is over, and the calling thread reaps it before sending the `Done`, so the next
  `Execute` never finds the previous execution still running.

stdout is the protocol channel: nothing here prints. Diagnostics go through `tracing` (the
binary points it at stderr).
*/
#![deny(missing_docs)]

mod confine;
pub use confine::{
    ADDRESS_SPACE_HEADROOM_BYTES, Confinement, Layer, Policy, SandboxError, confine,
};


use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use sluice_engine_js::{Execution, Host, HostError};
use sluice_worker_protocol::{
    ExecutionError, ExecutionLimits, ExecutionOutcome, GatewayMessage, Language,
    MAX_GATEWAY_FRAME_BYTES, PROTOCOL_VERSION, ProtocolError, ToolBinding, ToolOutcome,
    WorkerMessage, decode_gateway_message, read_frame, write_message,
};

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
    /// The thread for an execution could not be started.
    #[error("could not start an execution thread: {0}")]
    Thread(#[source] std::io::Error),
    /// The engine panicked (a bug); the gateway got a `Done` with an `InternalError`.
    #[error("the execution thread panicked")]
    EnginePanicked,
}

/// How the worker process was set up.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct WorkerOptions {
    /// The workspace folder agent code may read and write through `fs/promises`; `None`: no
    /// workspace, every file call fails with an error that says so.
    pub workspace: Option<std::path::PathBuf>,
}

/// `kind` of the error in the `Done` sent for an `Execute` of another protocol version.
pub const PROTOCOL_ERROR_KIND: &str = "ProtocolError";

/// Serve executions until `input` closes.
///
/// Sends `Ready`, then runs each `Execute` and answers it with `Done`. Returns `Ok(())` when the
/// input ends cleanly between frames, an error when the channel breaks or the gateway misbehaves
/// (another protocol version, a second `Execute` while one runs, a malformed frame).
pub fn run(
    options: &WorkerOptions,
    input: impl Read + Send + 'static,
    output: impl Write + Send + 'static,
) -> Result<(), WorkerError> {
    let _ = options;
    let output: SharedOutput = Arc::new(Mutex::new(Box::new(output)));
    send_to(
        &output,
        &WorkerMessage::Ready {
            protocol_version: PROTOCOL_VERSION,
        },
    )?;
    tracing::debug!(protocol_version = PROTOCOL_VERSION, "worker ready");

    let (events, inbox) = mpsc::channel::<Event>();
    let results: ResultSlot = Arc::new(Mutex::new(None));
    spawn_reader(input, events.clone(), results.clone())?;
    let mut dispatcher = Dispatcher {
        output,
        results,
        events,
        running: None,
        input_ended: None,
    };
    let result = dispatcher.serve(&inbox);
    tracing::debug!(ok = result.is_ok(), "worker stops");
    result
}

/// The output, shared by the calling thread and the execution thread.
type SharedOutput = Arc<Mutex<Box<dyn Write + Send>>>;

/// Where the reader thread delivers tool results: the running execution's channel, if any.
type ResultSlot = Arc<Mutex<Option<Sender<(u64, ToolOutcome)>>>>;

/// Write one frame to the shared output. A panic elsewhere while holding the lock cannot leave a
/// half-written frame behind (frames are written whole or the channel is broken anyway), so a
/// poisoned lock is used as it is.
fn send_to(output: &SharedOutput, message: &WorkerMessage) -> Result<(), WorkerError> {
    let mut output = output.lock().unwrap_or_else(PoisonError::into_inner);
    write_message(&mut *output, message).map_err(WorkerError::Output)
}

/// What the calling thread reacts to, from the reader and from execution threads. Tool results
/// do not pass through here: the reader hands them to the execution directly.
enum Event {
    /// An `Execute` from the gateway.
    Execute(Box<ExecuteFields>),
    /// The input ended cleanly.
    InputClosed,
    /// The input failed or carried garbage.
    InputFailed(ProtocolError),
    /// The execution is over: its `Done`, sent as the thread's last act.
    Finished(WorkerMessage),
    /// The execution thread unwound without finishing (a panic).
    Crashed,
}

/// The fields of a `GatewayMessage::Execute`.
struct ExecuteFields {
    protocol_version: u32,
    job: Job,
}

fn spawn_reader(
    mut input: impl Read + Send + 'static,
    events: Sender<Event>,
    results: ResultSlot,
) -> Result<(), WorkerError> {
    std::thread::Builder::new()
        .name("sluice-worker-reader".to_owned())
        .spawn(move || {
            loop {
                let event = match read_frame(&mut input, MAX_GATEWAY_FRAME_BYTES) {
                    Ok(body) => match decode_gateway_message(&body) {
                        Ok(GatewayMessage::ToolResult { call_id, outcome }) => {
                            deliver(&results, call_id, outcome);
                            continue;
                        }
                        Ok(GatewayMessage::Execute {
                            protocol_version,
                            code,
                            language,
                            limits,
                            tools,
                            ..
                        }) => Event::Execute(Box::new(ExecuteFields {
                            protocol_version,
                            job: Job {
                                code,
                                language,
                                limits,
                                tools,
                            },
                        })),
                        Ok(GatewayMessage::Check { .. }) => Event::InputFailed(ProtocolError::Io(
                            std::io::Error::other("Check is not supported yet"),
                        )),
                        Err(error) => Event::InputFailed(error),
                    },
                    Err(ProtocolError::Closed) => Event::InputClosed,
                    Err(error) => Event::InputFailed(error),
                };
                let last = !matches!(event, Event::Execute(_));
                if events.send(event).is_err() || last {
                    return;
                }
            }
        })
        .map(drop)
        .map_err(WorkerError::Thread)
}

/// Hand a tool result to the running execution; without one (or once it stopped listening) the
/// result is ignored.
fn deliver(results: &ResultSlot, call_id: u64, outcome: ToolOutcome) {
    let delivered = match &*results.lock().unwrap_or_else(PoisonError::into_inner) {
        Some(results) => results.send((call_id, outcome)).is_ok(),
        None => false,
    };
    if !delivered {
        tracing::warn!(
            call_id,
            "ignoring a tool result that arrived between executions"
        );
    }
}

/// The execution in progress.
struct Running {
    thread: JoinHandle<()>,
}

struct Dispatcher {
    output: SharedOutput,
    results: ResultSlot,
    events: Sender<Event>,
    running: Option<Running>,
    /// Set once the input ended: `Ok` when it closed cleanly.
    input_ended: Option<Result<(), WorkerError>>,
}

impl Dispatcher {
    fn serve(&mut self, inbox: &Receiver<Event>) -> Result<(), WorkerError> {
        loop {
            if self.running.is_none()
                && let Some(ended) = self.input_ended.take()
            {
                return ended;
            }
            // The dispatcher holds a sender itself, so the channel never disconnects.
            let Ok(event) = inbox.recv() else {
                return Ok(());
            };
            match event {
                Event::Execute(fields) => self.on_execute(*fields)?,
                Event::Finished(done) => self.on_finished(&done)?,
                Event::Crashed => self.on_crashed()?,
                Event::InputClosed => self.on_input_end(Ok(())),
                Event::InputFailed(error) => self.on_input_end(Err(WorkerError::Input(error))),
            }
        }
    }

    fn send(&mut self, message: &WorkerMessage) -> Result<(), WorkerError> {
        send_to(&self.output, message)
    }

    /// End the current execution with an error of the worker itself (no position in the code).
    fn send_failure(&mut self, kind: &str, message: String) -> Result<(), WorkerError> {
        let error = ExecutionError {
            kind: kind.to_owned(),
            message,
            line: None,
            column: None,
        };
        self.send(&WorkerMessage::Done {
            outcome: ExecutionOutcome::Error(error),
            dropped_output_bytes: 0,
        })
    }

    /// Stop delivering tool results to the execution (it is over, or no more can come).
    fn close_results(&self) {
        *self.results.lock().unwrap_or_else(PoisonError::into_inner) = None;
    }

    fn on_execute(&mut self, fields: ExecuteFields) -> Result<(), WorkerError> {
        let ExecuteFields {
            protocol_version,
            job,
        } = fields;
        if self.running.is_some() {
            return Err(WorkerError::Unexpected(
                "an Execute arrived while another execution is running".to_owned(),
            ));
        }
        if protocol_version != PROTOCOL_VERSION {
            self.send_failure(
                PROTOCOL_ERROR_KIND,
                format!(
                    "the gateway speaks protocol version {protocol_version}, this worker \
                     speaks {PROTOCOL_VERSION}"
                ),
            )?;
            return Err(WorkerError::ProtocolVersion {
                gateway: protocol_version,
                worker: PROTOCOL_VERSION,
            });
        }
        self.start(job)
    }

    fn start(&mut self, job: Job) -> Result<(), WorkerError> {
        let (results, results_inbox) = mpsc::channel();
        // Installed before the thread starts: its first tool call cannot be answered sooner.
        *self.results.lock().unwrap_or_else(PoisonError::into_inner) = Some(results);
        let events = self.events.clone();
        let output = self.output.clone();
        let stack = sluice_engine_js::thread_stack_bytes(&job.limits);
        let spawned = std::thread::Builder::new()
            .name("sluice-execution".to_owned())
            .stack_size(stack)
            .spawn(move || {
                let mut crash = CrashSignal(Some(events.clone()));
                let mut host = FrameHost {
                    output,
                    results: results_inbox,
                };
                let execution = Execution {
                    code: &job.code,
                    language: job.language,
                    limits: &job.limits,
                    tools: &job.tools,
                    keep_state: false,
                    skills: &BTreeMap::new(),
                };
                let finished = sluice_engine_js::execute(&execution, &mut host);
                crash.0 = None;
                let _ = events.send(Event::Finished(finished.into_message()));
            });
        let thread = match spawned {
            Ok(thread) => thread,
            Err(error) => {
                self.close_results();
                return Err(WorkerError::Thread(error));
            }
        };
        self.running = Some(Running { thread });
        Ok(())
    }

    /// Send the `Done` and reap the thread, which ends right after sending it. The execution
    /// counts as over from here, so the gateway may send the next `Execute` as soon as it reads
    /// `Done`.
    fn on_finished(&mut self, done: &WorkerMessage) -> Result<(), WorkerError> {
        self.close_results();
        if let Some(running) = self.running.take()
            && running.thread.join().is_err()
        {
            return self.crashed();
        }
        self.send(done)
    }

    fn on_crashed(&mut self) -> Result<(), WorkerError> {
        self.close_results();
        match self.running.take() {
            Some(running) => {
                let _ = running.thread.join();
                self.crashed()
            }
            None => Ok(()),
        }
    }

    /// The engine panicked: answer the execution, then stop (the process state is suspect).
    fn crashed(&mut self) -> Result<(), WorkerError> {
        tracing::error!("the execution thread panicked");
        self.send_failure(
            sluice_engine_js::kinds::INTERNAL_ERROR,
            "Internal error of the sandbox: the execution crashed".to_owned(),
        )?;
        Err(WorkerError::EnginePanicked)
    }

    /// The input ended: no more tool results can come. A running execution is left to finish.
    fn on_input_end(&mut self, ended: Result<(), WorkerError>) {
        if let Err(error) = &ended {
            tracing::warn!(%error, "the gateway channel failed");
        }
        self.close_results();
        self.input_ended = Some(ended);
    }
}

/// An `Execute`, owned by its thread.
struct Job {
    code: String,
    language: Language,
    limits: ExecutionLimits,
    tools: BTreeMap<String, Vec<ToolBinding>>,
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
/// execution thread itself, results come from the reader thread through the result channel.
struct FrameHost {
    output: SharedOutput,
    results: Receiver<(u64, ToolOutcome)>,
}

impl Host for FrameHost {
    fn send(&mut self, message: WorkerMessage) -> Result<(), HostError> {
        send_to(&self.output, &message).map_err(|error| HostError::Failed(error.to_string()))
    }

    fn wait_tool_result(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<(u64, ToolOutcome)>, HostError> {
        match timeout {
            Some(timeout) => match self.results.recv_timeout(timeout) {
                Ok(result) => Ok(Some(result)),
                Err(RecvTimeoutError::Timeout) => Ok(None),
                Err(RecvTimeoutError::Disconnected) => Err(HostError::Closed),
            },
            None => self.results.recv().map(Some).map_err(|_| HostError::Closed),
        }
    }
}
