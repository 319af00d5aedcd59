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

- A reader thread decodes gateway frames (at most `MAX_GATEWAY_FRAME_BYTES` each).
- Each execution runs on its own thread, whose stack is sized for the execution's stack limit
  (see `sluice_engine_js::thread_stack_bytes`); tool results reach it through a channel.
- The calling thread owns the output and writes every message, so frames never interleave.

stdout is the protocol channel: nothing here prints. Diagnostics go through `tracing` (the
binary points it at stderr).
*/
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError, Sender};
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

/// `kind` of the error in the `Done` sent for an `Execute` of another protocol version.
pub const PROTOCOL_ERROR_KIND: &str = "ProtocolError";

/// Serve executions until `input` closes.
///
/// Sends `Ready`, then runs each `Execute` and answers it with `Done`. Returns `Ok(())` when the
/// input ends cleanly between frames, an error when the channel breaks or the gateway misbehaves
/// (another protocol version, a second `Execute` while one runs, a malformed frame).
pub fn run(input: impl Read + Send + 'static, mut output: impl Write) -> Result<(), WorkerError> {
    write_message(
        &mut output,
        &WorkerMessage::Ready {
            protocol_version: PROTOCOL_VERSION,
        },
    )
    .map_err(WorkerError::Output)?;
    tracing::debug!(protocol_version = PROTOCOL_VERSION, "worker ready");

    let (events, inbox) = mpsc::channel::<Event>();
    spawn_reader(input, events.clone())?;
    let mut dispatcher = Dispatcher {
        output,
        events,
        running: None,
        input_ended: None,
    };
    let result = dispatcher.serve(&inbox);
    tracing::debug!(ok = result.is_ok(), "worker stops");
    result
}

/// Everything the calling thread reacts to, from the reader and from execution threads.
enum Event {
    /// A message from the gateway.
    Gateway(GatewayMessage),
    /// The input ended cleanly.
    InputClosed,
    /// The input failed or carried garbage.
    InputFailed(ProtocolError),
    /// A message an execution wants sent.
    Outgoing(WorkerMessage),
    /// The execution is over: its `Done`, sent as the thread's last act.
    Finished(WorkerMessage),
    /// The execution thread unwound without finishing (a panic).
    Crashed,
}

fn spawn_reader(
    mut input: impl Read + Send + 'static,
    events: Sender<Event>,
) -> Result<(), WorkerError> {
    std::thread::Builder::new()
        .name("sluice-worker-reader".to_owned())
        .spawn(move || {
            loop {
                let event = match read_frame(&mut input, MAX_GATEWAY_FRAME_BYTES) {
                    Ok(body) => match decode_gateway_message(&body) {
                        Ok(message) => Event::Gateway(message),
                        Err(error) => Event::InputFailed(error),
                    },
                    Err(ProtocolError::Closed) => Event::InputClosed,
                    Err(error) => Event::InputFailed(error),
                };
                let last = !matches!(event, Event::Gateway(_));
                if events.send(event).is_err() || last {
                    return;
                }
            }
        })
        .map(drop)
        .map_err(WorkerError::Thread)
}

/// The execution in progress.
struct Running {
    /// Tool results for the execution thread; dropped when the input ends.
    results: Option<Sender<(u64, ToolOutcome)>>,
    thread: JoinHandle<()>,
}

struct Dispatcher<W: Write> {
    output: W,
    events: Sender<Event>,
    running: Option<Running>,
    /// Set once the input ended: `Ok` when it closed cleanly.
    input_ended: Option<Result<(), WorkerError>>,
}

impl<W: Write> Dispatcher<W> {
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
                Event::Gateway(message) => self.on_gateway(message)?,
                Event::Outgoing(message) => self.send(&message)?,
                Event::Finished(done) => self.on_finished(&done)?,
                Event::Crashed => self.on_crashed()?,
                Event::InputClosed => self.on_input_end(Ok(())),
                Event::InputFailed(error) => self.on_input_end(Err(WorkerError::Input(error))),
            }
        }
    }

    fn send(&mut self, message: &WorkerMessage) -> Result<(), WorkerError> {
        write_message(&mut self.output, message).map_err(WorkerError::Output)
    }

    fn on_gateway(&mut self, message: GatewayMessage) -> Result<(), WorkerError> {
        match message {
            GatewayMessage::Execute {
                protocol_version,
                code,
                language,
                limits,
                tools,
            } => {
                if self.running.is_some() {
                    return Err(WorkerError::Unexpected(
                        "an Execute arrived while another execution is running".to_owned(),
                    ));
                }
                if protocol_version != PROTOCOL_VERSION {
                    let error = ExecutionError {
                        kind: PROTOCOL_ERROR_KIND.to_owned(),
                        message: format!(
                            "the gateway speaks protocol version {protocol_version}, this worker \
                             speaks {PROTOCOL_VERSION}"
                        ),
                        line: None,
                        column: None,
                    };
                    self.send(&WorkerMessage::Done {
                        outcome: ExecutionOutcome::Error(error),
                        dropped_output_bytes: 0,
                    })?;
                    return Err(WorkerError::ProtocolVersion {
                        gateway: protocol_version,
                        worker: PROTOCOL_VERSION,
                    });
                }
                self.start(Job {
                    code,
                    language,
                    limits,
                    tools,
                })
            }
            GatewayMessage::ToolResult { call_id, outcome } => {
                let delivered = match &self.running {
                    Some(Running {
                        results: Some(results),
                        ..
                    }) => results.send((call_id, outcome)).is_ok(),
                    _ => false,
                };
                if !delivered {
                    tracing::warn!(
                        call_id,
                        "ignoring a tool result that arrived between executions"
                    );
                }
                Ok(())
            }
        }
    }

    fn start(&mut self, job: Job) -> Result<(), WorkerError> {
        let (results, results_inbox) = mpsc::channel();
        let events = self.events.clone();
        let stack = sluice_engine_js::thread_stack_bytes(&job.limits);
        let thread = std::thread::Builder::new()
            .name("sluice-execution".to_owned())
            .stack_size(stack)
            .spawn(move || {
                let mut crash = CrashSignal(Some(events.clone()));
                let mut host = ChannelHost {
                    events,
                    results: results_inbox,
                };
                let execution = Execution {
                    code: &job.code,
                    language: job.language,
                    limits: &job.limits,
                    tools: &job.tools,
                };
                let finished = sluice_engine_js::execute(&execution, &mut host);
                crash.0 = None;
                let _ = host.events.send(Event::Finished(finished.into_message()));
            })
            .map_err(WorkerError::Thread)?;
        self.running = Some(Running {
            results: Some(results),
            thread,
        });
        Ok(())
    }

    /// Send the `Done` and reap the thread, which ends right after sending it. The execution
    /// counts as over from here, so the gateway may send the next `Execute` as soon as it reads
    /// `Done`.
    fn on_finished(&mut self, done: &WorkerMessage) -> Result<(), WorkerError> {
        if let Some(running) = self.running.take()
            && running.thread.join().is_err()
        {
            return self.crashed();
        }
        self.send(done)
    }

    fn on_crashed(&mut self) -> Result<(), WorkerError> {
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
        let error = ExecutionError {
            kind: sluice_engine_js::kinds::INTERNAL_ERROR.to_owned(),
            message: "Internal error of the sandbox: the execution crashed".to_owned(),
            line: None,
            column: None,
        };
        self.send(&WorkerMessage::Done {
            outcome: ExecutionOutcome::Error(error),
            dropped_output_bytes: 0,
        })?;
        Err(WorkerError::EnginePanicked)
    }

    /// The input ended: no more tool results can come. A running execution is left to finish.
    fn on_input_end(&mut self, ended: Result<(), WorkerError>) {
        if let Err(error) = &ended {
            tracing::warn!(%error, "the gateway channel failed");
        }
        if let Some(running) = &mut self.running {
            running.results = None;
        }
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

/// The engine's host inside the worker: messages go to the dispatcher, results come from it.
struct ChannelHost {
    events: Sender<Event>,
    results: Receiver<(u64, ToolOutcome)>,
}

impl Host for ChannelHost {
    fn send(&mut self, message: WorkerMessage) -> Result<(), HostError> {
        self.events
            .send(Event::Outgoing(message))
            .map_err(|_| HostError::Closed)
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
