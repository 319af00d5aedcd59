/*!
The only types that cross the process boundary between the gateway and a worker.

A worker runs untrusted agent code, so everything it sends is untrusted input. Messages travel as
frames: a 4-byte big-endian length, then that many bytes of JSON. [`FrameDecoder`] turns bytes into
frames with a size cap and never panics; [`decode_worker_message`] and [`decode_gateway_message`]
turn a frame into a typed message or a [`ProtocolError`].

The conversation of one worker:

```text
worker  -> gateway  Ready
gateway -> worker   Execute     (keep_state: a session; see below)
worker  -> gateway  ToolCall*   Log*            (in any order, many calls in flight)
gateway -> worker   ToolResult* (one per ToolCall, by call id)
worker  -> gateway  Done        (exactly once; the worker then waits for the next message or exits)
gateway -> worker   Check       (between executions: validate code without running it)
worker  -> gateway  Checked
gateway -> worker   Execute ...
```

A worker serves one execution or one check at a time: the gateway sends the next `Execute` or
`Check` only after the `Done` or `Checked` of the previous one.

**Sessions.** An `Execute` with `keep_state: true` asks the worker to keep its JavaScript runtime
and globals after `Done`, so the next `Execute` sees what this one defined. An `Execute` with
`keep_state: false` runs in a fresh runtime (and ends any kept one). When an execution of a
session ends with an error kind that [`ErrorKind::ends_session`], the worker has discarded the
runtime (the error's message says so) or is gone; the gateway ends the session then.

Version 2 added `Execute.keep_state`, `Execute.skills`, `ExecutionLimits.workspace_bytes`, `Check`
and `Checked`. The new fields default when absent, so a version-1 message still decodes; the
version check in `Execute` is what refuses a mismatched peer. Version 5 made each of
`Execute.skills` a [`SkillSource`] (language and code): skills may be saved in Python.

This crate does no IO of its own: the sync helpers take any `Read`/`Write` the caller owns.
*/
#![deny(missing_docs)]

use std::collections::BTreeMap;
use std::io::{Read, Write};

use serde::{Deserialize, Serialize};
use serde_json::Value;

mod vocab;

pub use vocab::{
    CallOutcome, ErrorKind, ExecutionOutcomeWord, Limit, SessionEnd, SessionEvent, ToolErrorKind,
};

/// Largest frame a worker may send: tool arguments can be large (a whole transcript), but not
/// unbounded.
pub const MAX_WORKER_FRAME_BYTES: usize = 32 * 1024 * 1024;
/// Largest frame the gateway sends (tool results of real servers reach several MB).
pub const MAX_GATEWAY_FRAME_BYTES: usize = 128 * 1024 * 1024;
/// Bytes of the length prefix.
pub const FRAME_HEADER_BYTES: usize = 4;

/// Exit status of a worker that refused to run because its sandbox could not be set up; it then
/// ran nothing, and its one stderr line starting with `sandbox:` says which layer failed.
pub const SANDBOX_REFUSED_EXIT_CODE: u8 = 3;

/// Exit status of a worker whose code allocated past its memory limit faster than the Python
/// interpreter could raise `MemoryError` (Monty's allocator ends the process then); the gateway
/// reports the execution as `OutOfMemory`.
pub const OUT_OF_MEMORY_EXIT_CODE: u8 = 65;

/// Version of this protocol; a worker built from another version refuses to run.
pub const PROTOCOL_VERSION: u32 = 5;

/// The longest progress message a worker sends, in characters.
pub const MAX_PROGRESS_MESSAGE_CHARS: usize = 200;

/// The least time between two progress reports of one execution, in milliseconds: reports in
/// between are dropped (the next one says where the code is).
pub const MIN_PROGRESS_INTERVAL_MS: u64 = 50;

/// A tool as the worker's module loader needs it: enough to synthesize its wrapper module.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ToolBinding {
    /// The lowerCamelCase identifier (file and function name).
    pub identifier: String,
    /// The original MCP name sent in `tools/call`.
    pub name: String,
}

/// The default limits of an execution and of the worker that runs it: the one place they are
/// written. The settings (`sluice.execution`), the worker's command line (`sluice worker`) and
/// the sandbox probe read them from here.
pub mod defaults {
    /// Wall time of one execution (`execution.timeoutMs`).
    pub const TIMEOUT_MS: u64 = 30_000;
    /// The most an execution may ask for with `timeout_ms` (`execution.maxTimeoutMs`).
    pub const MAX_TIMEOUT_MS: u64 = 300_000;
    /// The JavaScript heap (`execution.memoryMb`, `sluice worker --memory-mb`).
    pub const MEMORY_MB: u64 = 256;
    /// Console output returned (`execution.outputBytes`).
    pub const OUTPUT_BYTES: u64 = 16 * 1024;
    /// Tool calls per execution (`execution.toolCalls`).
    pub const TOOL_CALLS: u64 = 1_000;
    /// The workspace quota, also the largest file a worker may write (`execution.workspaceMb`,
    /// `sluice worker --file-size-mb`).
    pub const WORKSPACE_MB: u64 = 100;
    /// How long a worker polls for a tool result before sleeping (`execution.spinMicros`,
    /// `sluice worker --spin-us`).
    pub const SPIN_MICROS: u64 = 250;
    /// CPU seconds of a worker started by hand (`sluice worker --cpu-seconds`): the longest
    /// execution plus half a minute. The gateway gives each worker its own figure.
    pub const CPU_SECONDS: u64 = MAX_TIMEOUT_MS / 1000 + 30;
    /// Descriptors a worker may hold open (`sluice worker --open-files`).
    pub const OPEN_FILES: u64 = 64;
}

/// Limits the worker enforces from inside. The gateway enforces its own copies from outside.
/// `Default` is all zeros (nothing allowed), for placeholders that never run code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, Default)]
pub struct ExecutionLimits {
    /// Wall time for the whole execution, in milliseconds.
    pub timeout_ms: u64,
    /// Memory the JS heap may use, in bytes.
    pub memory_bytes: u64,
    /// Stack the JS engine may use, in bytes.
    pub stack_bytes: u64,
    /// Bytes of console output the worker forwards; the rest is counted and dropped.
    pub output_bytes: u64,
    /// Tool calls one execution may make.
    pub tool_calls: u64,
    /// Bytes the workspace folder may hold in total, counted as `sluice_paths::entry_cost` does
    /// (contents, plus a fixed cost and the name of every entry, plus a block per folder): a
    /// write or `mkdir` that would take it past this fails with `EDQUOT` and writes nothing.
    /// 0 means nothing more may be written. Ignored by a worker without a workspace.
    #[serde(default)]
    pub workspace_bytes: u64,
}

/// The source language of the agent's code.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Language {
    /// TypeScript: types are stripped before running.
    #[default]
    Typescript,
    /// Plain JavaScript (ES module).
    Javascript,
    /// Python, run by Monty (`sluice-engine-py`): the result is the value of the last
    /// top-level expression statement.
    Python,
}

impl Language {
    /// The word agents write in `execute_code`'s `language` (`typescript`, `javascript`, `python`).
    pub fn as_str(self) -> &'static str {
        match self {
            Language::Typescript => "typescript",
            Language::Javascript => "javascript",
            Language::Python => "python",
        }
    }

    /// True for the languages `sluice-engine-js` runs (TypeScript and JavaScript).
    pub fn is_javascript_family(self) -> bool {
        matches!(self, Language::Typescript | Language::Javascript)
    }
}

/// One piece of agent code to run and everything it runs with: the payload of
/// [`GatewayMessage::Execute`], handed unchanged to the worker's execution thread and the engine.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecuteJob {
    /// Protocol version of the gateway; a worker of another version refuses the job.
    pub protocol_version: u32,
    /// The agent's source code.
    pub code: String,
    /// Its language.
    pub language: Language,
    /// Limits for this execution.
    pub limits: ExecutionLimits,
    /// Every tool, by server, for the `./servers/...` modules.
    pub tools: BTreeMap<String, Vec<ToolBinding>>,
    /// Keep the JavaScript runtime and its globals after `Done` for the next `Execute` (this
    /// worker serves a session). False: a fresh runtime, dropped at the end.
    #[serde(default)]
    pub keep_state: bool,
    /// Saved skills, by name: the module `./skills/<name>` (TypeScript) or `skills.<module>`
    /// (Python). Only the skills the code names (and those they name) are sent, at most 4 MiB
    /// of them. An engine imports only skills of its own language family and names the
    /// language of any other.
    #[serde(default)]
    pub skills: BTreeMap<String, SkillSource>,
}

/// One saved skill's code, as an execution receives it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SkillSource {
    /// The language it was saved in ([`Language::Typescript`] or [`Language::Python`]).
    pub language: Language,
    /// Its source.
    pub code: String,
}

impl SkillSource {
    /// A TypeScript skill.
    pub fn typescript(code: impl Into<String>) -> SkillSource {
        SkillSource {
            language: Language::Typescript,
            code: code.into(),
        }
    }

    /// A Python skill.
    pub fn python(code: impl Into<String>) -> SkillSource {
        SkillSource {
            language: Language::Python,
            code: code.into(),
        }
    }
}

/// Messages from the gateway to a worker.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum GatewayMessage {
    /// Run one piece of agent code.
    Execute(ExecuteJob),
    /// Transpile and parse code as a module without running it, for example to validate a
    /// skill before saving it. Answered by [`WorkerMessage::Checked`].
    Check {
        /// The source code.
        code: String,
        /// Its language.
        language: Language,
    },
    /// Make the runtime of the next execution now, while the worker waits: a warm worker told
    /// this before its first `Execute` starts that execution without making a runtime. Sent
    /// only between jobs; answered by [`WorkerMessage::Tidied`] once the runtime is made.
    Prepare {
        /// The limits the next execution is expected to have (a runtime made for other memory
        /// or stack limits is not used).
        limits: ExecutionLimits,
    },
    /// The answer to one [`WorkerMessage::ToolCall`].
    ToolResult {
        /// The call this answers.
        call_id: u64,
        /// What the tool returned, or why it failed.
        outcome: ToolOutcome,
    },
}

/// The result of one tool call as agent code receives it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ToolOutcome {
    /// The promise resolves with this value.
    Ok {
        /// `structuredContent`, else parsed JSON text, else the text.
        value: Value,
    },
    /// The promise rejects with a `ToolError`.
    Error {
        /// What kind of failure.
        kind: ToolErrorKind,
        /// A message that says what went wrong and what to do.
        message: String,
        /// The tool's content blocks when the tool itself reported the error.
        content: Option<Value>,
        /// True when retrying later may succeed (timeouts, a server that is reconnecting).
        retryable: bool,
    },
}

impl ToolOutcome {
    /// A failed call: the promise rejects with a `ToolError` of this kind, without content.
    pub fn failure(kind: ToolErrorKind, message: String, retryable: bool) -> ToolOutcome {
        ToolOutcome::Error {
            kind,
            message,
            content: None,
            retryable,
        }
    }
}

/// How an execution ended, as the worker saw it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "status", rename_all = "snake_case")]
pub enum ExecutionOutcome {
    /// The code ran to the end.
    Ok {
        /// The module's default export, awaited and converted to JSON (`null` when absent).
        result: Value,
    },
    /// The code failed.
    Error(ExecutionError),
}

/// A typed error from agent code.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExecutionError {
    /// What kind of failure.
    #[serde(rename = "type")]
    pub kind: ErrorKind,
    /// What went wrong, for the agent.
    pub message: String,
    /// 1-based line in the agent's code, when known.
    pub line: Option<u32>,
    /// 1-based column in the agent's code, when known.
    pub column: Option<u32>,
}

/// Console stream of a log line.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogLevel {
    /// `console.log`, `console.info`, `console.debug`.
    Log,
    /// `console.warn`.
    Warn,
    /// `console.error`.
    Error,
}

/// Messages from a worker to the gateway. Untrusted.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "snake_case")]
pub enum WorkerMessage {
    /// The worker started and waits for an `Execute`.
    Ready {
        /// Protocol version of the worker.
        protocol_version: u32,
    },
    /// Agent code called a tool.
    ToolCall {
        /// Unique within the execution, chosen by the worker.
        call_id: u64,
        /// Server config key.
        server: String,
        /// Original MCP tool name.
        tool: String,
        /// Arguments as given by the code.
        arguments: Value,
    },
    /// One console line.
    Log {
        /// Which console method.
        level: LogLevel,
        /// The formatted text.
        text: String,
    },
    /// The code reported how far it has come (the runtime's `reportProgress`), for the client's
    /// progress notifications. The engine cuts `message` to [`MAX_PROGRESS_MESSAGE_CHARS`] and
    /// sends at most one report per [`MIN_PROGRESS_INTERVAL_MS`]; the gateway checks neither.
    Progress {
        /// What the code says it is doing.
        message: String,
        /// The fraction done, from 0 to 1, when the code knows it.
        fraction: Option<f64>,
    },
    /// The worker has put the last job's JavaScript runtime away and, after an execution
    /// outside a session, made the brand-new one the next execution runs in: an `Execute` sent
    /// now starts at once. Sent after every `Done` and `Checked`; the gateway uses it to pick,
    /// among its idle workers, one that is ready, and otherwise ignores it.
    Tidied,
    /// The answer to a [`GatewayMessage::Check`].
    Checked {
        /// Why the code is not a valid module (`SyntaxError` with its position), or `None`.
        error: Option<ExecutionError>,
        /// The module's export names (`default` for a default export), sorted; empty on error.
        exports: Vec<String>,
    },
    /// The execution ended.
    Done {
        /// How.
        outcome: ExecutionOutcome,
        /// Console bytes the worker dropped because the output budget was spent.
        dropped_output_bytes: u64,
    },
}

/// What can be wrong with bytes from the other side.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProtocolError {
    /// The length prefix announced more than the cap.
    #[error("frame of {announced} bytes exceeds the limit of {limit} bytes")]
    FrameTooLarge {
        /// Bytes announced by the header.
        announced: usize,
        /// The cap in force.
        limit: usize,
    },
    /// The frame is not a valid message.
    #[error("malformed message: {0}")]
    Malformed(#[source] serde_json::Error),
    /// Encoding failed (a value that cannot be JSON).
    #[error("could not encode message: {0}")]
    Encode(#[source] serde_json::Error),
    /// The stream failed or ended mid-frame.
    #[error("channel failed: {0}")]
    Io(#[from] std::io::Error),
    /// The stream ended cleanly between frames.
    #[error("channel closed")]
    Closed,
}

/// Encode any message into one frame.
pub fn encode<T: Serialize>(message: &T) -> Result<Vec<u8>, ProtocolError> {
    let mut frame = vec![0u8; FRAME_HEADER_BYTES];
    serde_json::to_writer(&mut frame, message).map_err(ProtocolError::Encode)?;
    let body_length = frame.len() - FRAME_HEADER_BYTES;
    let header = u32::try_from(body_length).map_err(|_| ProtocolError::FrameTooLarge {
        announced: body_length,
        limit: u32::MAX as usize,
    })?;
    frame[..FRAME_HEADER_BYTES].copy_from_slice(&header.to_be_bytes());
    Ok(frame)
}

/// Read the body length from a frame header, checking it against `limit`.
pub fn body_length(header: [u8; FRAME_HEADER_BYTES], limit: usize) -> Result<usize, ProtocolError> {
    let announced = u32::from_be_bytes(header) as usize;
    if announced > limit {
        return Err(ProtocolError::FrameTooLarge { announced, limit });
    }
    Ok(announced)
}

/// Decode a frame body sent by a worker.
pub fn decode_worker_message(body: &[u8]) -> Result<WorkerMessage, ProtocolError> {
    serde_json::from_slice(body).map_err(ProtocolError::Malformed)
}

/// Decode a frame body sent by the gateway.
pub fn decode_gateway_message(body: &[u8]) -> Result<GatewayMessage, ProtocolError> {
    serde_json::from_slice(body).map_err(ProtocolError::Malformed)
}

/// How long one side polls the channel for the other side's next frame before it sleeps in the
/// kernel, when that frame is expected soon (a tool result after a call, the next call after a
/// result).
///
/// Why: waking a thread that sleeps on another CPU costs tens of microseconds on a virtual
/// machine, more than everything else on a fast tool call's path; polling briefly avoids it.
/// Adaptive, so that it costs little when it does not pay: after a wait that outlasted the
/// budget (a slow tool, a script that computes between calls), the next wait sleeps at once; a
/// wait that ends within the budget, however it was spent, turns polling back on. Polling
/// therefore never burns more than one budget of CPU in a row.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Spin {
    budget: std::time::Duration,
    next: std::time::Duration,
}

impl Spin {
    /// Poll at most `budget` per wait (`Duration::ZERO`: never).
    pub fn new(budget: std::time::Duration) -> Spin {
        Spin {
            budget,
            next: budget,
        }
    }

    /// How long the next wait may poll before it sleeps.
    pub fn next(&self) -> std::time::Duration {
        self.next
    }

    /// Record how long a wait took, from when the frame became expected to when it came.
    pub fn record(&mut self, waited: std::time::Duration) {
        self.next = if waited <= self.budget {
            self.budget
        } else {
            std::time::Duration::ZERO
        };
    }
}

/// Incremental frame splitter for bytes arriving in arbitrary pieces.
///
/// Invariant: the buffer never holds more than one header plus `limit` bytes of a frame body
/// that has not been returned yet, plus what the last `push` added.
#[derive(Debug)]
pub struct FrameDecoder {
    buffer: Vec<u8>,
    limit: usize,
}

impl FrameDecoder {
    /// A decoder that refuses frames larger than `limit` bytes.
    pub fn new(limit: usize) -> Self {
        Self {
            buffer: Vec::new(),
            limit,
        }
    }

    /// Add bytes that arrived.
    pub fn push(&mut self, bytes: &[u8]) {
        self.buffer.extend_from_slice(bytes);
    }

    /// Take the next complete frame body, if one is there. An oversized header is an error; after
    /// an error the decoder must not be used again (the stream is out of sync).
    pub fn next_frame(&mut self) -> Result<Option<Vec<u8>>, ProtocolError> {
        let Some(header) = self.buffer.first_chunk::<FRAME_HEADER_BYTES>() else {
            return Ok(None);
        };
        let length = body_length(*header, self.limit)?;
        if self.buffer.len() < FRAME_HEADER_BYTES + length {
            return Ok(None);
        }
        let body = self.buffer[FRAME_HEADER_BYTES..FRAME_HEADER_BYTES + length].to_vec();
        self.buffer.drain(..FRAME_HEADER_BYTES + length);
        Ok(Some(body))
    }

    /// Bytes held that do not form a complete frame yet.
    pub fn pending_bytes(&self) -> usize {
        self.buffer.len()
    }
}

/// Blocking read of one frame body from a reader. `Err(Closed)` on a clean end of stream.
pub fn read_frame(reader: &mut impl Read, limit: usize) -> Result<Vec<u8>, ProtocolError> {
    let mut header = [0u8; FRAME_HEADER_BYTES];
    let mut filled = 0;
    while filled < FRAME_HEADER_BYTES {
        let count = reader.read(&mut header[filled..])?;
        if count == 0 {
            return if filled == 0 {
                Err(ProtocolError::Closed)
            } else {
                Err(ProtocolError::Io(std::io::ErrorKind::UnexpectedEof.into()))
            };
        }
        filled += count;
    }
    let length = body_length(header, limit)?;
    let mut body = vec![0u8; length];
    reader.read_exact(&mut body)?;
    Ok(body)
}

/// Blocking write of one message as a frame, flushed.
pub fn write_message<T: Serialize>(
    writer: &mut impl Write,
    message: &T,
) -> Result<(), ProtocolError> {
    let frame = encode(message)?;
    writer.write_all(&frame)?;
    writer.flush()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn round_trips_through_the_decoder_in_pieces() {
        let messages = vec![
            WorkerMessage::Ready {
                protocol_version: PROTOCOL_VERSION,
            },
            WorkerMessage::ToolCall {
                call_id: 7,
                server: "s".into(),
                tool: "t".into(),
                arguments: json!({"a": [1, 2]}),
            },
            WorkerMessage::Done {
                outcome: ExecutionOutcome::Error(ExecutionError {
                    kind: ErrorKind::Timeout,
                    message: "m".into(),
                    line: Some(1),
                    column: None,
                }),
                dropped_output_bytes: 3,
            },
        ];
        let bytes: Vec<u8> = messages
            .iter()
            .flat_map(|message| encode(message).unwrap())
            .collect();
        let mut decoder = FrameDecoder::new(MAX_WORKER_FRAME_BYTES);
        let mut decoded = Vec::new();
        for piece in bytes.chunks(3) {
            decoder.push(piece);
            while let Some(body) = decoder.next_frame().unwrap() {
                decoded.push(decode_worker_message(&body).unwrap());
            }
        }
        assert_eq!(decoded, messages);
        assert_eq!(decoder.pending_bytes(), 0);
    }

    #[test]
    fn refuses_oversized_and_malformed_frames() {
        let mut decoder = FrameDecoder::new(10);
        decoder.push(&11u32.to_be_bytes());
        assert!(matches!(
            decoder.next_frame(),
            Err(ProtocolError::FrameTooLarge { announced: 11, .. })
        ));
        assert!(matches!(
            decode_worker_message(b"{\"type\":\"nope\"}"),
            Err(ProtocolError::Malformed(_))
        ));
        assert!(matches!(
            decode_worker_message(&[0xff, 0x00]),
            Err(ProtocolError::Malformed(_))
        ));
    }

    #[test]
    fn version_one_execute_still_decodes_with_defaults() {
        let body = json!({
            "type": "execute",
            "protocol_version": 1,
            "code": "1",
            "language": "javascript",
            "limits": {
                "timeout_ms": 1, "memory_bytes": 2, "stack_bytes": 3, "output_bytes": 4,
                "tool_calls": 5
            },
            "tools": {}
        });
        let message = decode_gateway_message(body.to_string().as_bytes()).unwrap();
        let GatewayMessage::Execute(job) = message else {
            panic!("expected an Execute, got {message:?}");
        };
        assert_eq!(job.limits.workspace_bytes, 0);
        assert!(!job.keep_state);
        assert!(job.skills.is_empty());
    }

    #[test]
    fn check_and_checked_round_trip() {
        let check = GatewayMessage::Check {
            code: "export const a = 1;".into(),
            language: Language::Typescript,
        };
        let body = encode(&check).unwrap();
        assert_eq!(
            decode_gateway_message(&body[FRAME_HEADER_BYTES..]).unwrap(),
            check
        );
        let checked = WorkerMessage::Checked {
            error: None,
            exports: vec!["a".into()],
        };
        let body = encode(&checked).unwrap();
        assert_eq!(
            decode_worker_message(&body[FRAME_HEADER_BYTES..]).unwrap(),
            checked
        );
    }

    #[test]
    fn sync_read_and_write() {
        let mut buffer = Vec::new();
        let message = GatewayMessage::ToolResult {
            call_id: 1,
            outcome: ToolOutcome::Ok { value: json!("x") },
        };
        write_message(&mut buffer, &message).unwrap();
        let mut reader = buffer.as_slice();
        let body = read_frame(&mut reader, MAX_GATEWAY_FRAME_BYTES).unwrap();
        assert_eq!(decode_gateway_message(&body).unwrap(), message);
        assert!(matches!(
            read_frame(&mut reader, 100),
            Err(ProtocolError::Closed)
        ));
        let mut truncated: &[u8] = &[0, 0];
        assert!(matches!(
            read_frame(&mut truncated, 100),
            Err(ProtocolError::Io(_))
        ));
    }

    #[test]
    fn spin_stops_after_a_slow_wait_and_resumes_after_a_fast_one() {
        use std::time::Duration;
        let budget = Duration::from_micros(100);
        let mut spin = Spin::new(budget);
        assert_eq!(spin.next(), budget);
        spin.record(Duration::from_millis(3));
        assert_eq!(spin.next(), Duration::ZERO);
        spin.record(Duration::from_micros(40));
        assert_eq!(spin.next(), budget);
        assert_eq!(Spin::new(Duration::ZERO).next(), Duration::ZERO);
    }
}
