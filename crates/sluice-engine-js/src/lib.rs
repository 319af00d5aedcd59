/*!
The JavaScript engine of the Sluice worker: runs one piece of agent code in QuickJS.

This is the only crate that parses agent code (with oxc) and links QuickJS (with rquickjs). It
exists so the worker process, which talks the frame protocol, stays small, and so the engine can
be tested without processes: all IO goes through the [`Host`] trait.

# One execution

[`execute`] takes the fields of `GatewayMessage::Execute` ([`Execution`]) and a [`Host`], and
returns how the execution ended ([`Finished`], which becomes `WorkerMessage::Done`). Each
execution gets a fresh QuickJS runtime and context, dropped at the end, so nothing survives from
one execution to the next.

- **Transpiling**: [`transpile`] parses the code as an ES module (TypeScript or JavaScript),
  reports syntax errors with 1-based line and column in the agent's own code, strips types and
  prints JavaScript with a source map. Module syntax and top-level `await` are kept: QuickJS runs
  modules natively.
- **Modules**: the agent's code is the module `main.ts`. It may import `./runtime` (the runtime
  library of `sluice_codegen`, transpiled once per process), `./servers/<server>` or
  `./servers/<server>/index` (all tools of a server) and `./servers/<server>/<tool>` (one tool),
  with an optional `.ts`/`.js` suffix; these are generated with `sluice_codegen::javascript` from
  the `tools` map. Nothing else resolves: no `std`/`os` modules, no file system, no `fetch`, no
  network. Static imports are checked before anything runs, so a wrong import is reported as
  `ImportError` with its position, with the valid forms and the server's tools (and a "did you
  mean").
- **Globals**: `console.log/info/debug/warn/error` (plus `trace`, `dir`, `assert`), formatted like
  Node's `util.inspect` in a compact single-line form (strings raw at top level, errors with name,
  message and stack); `setTimeout`/`clearTimeout`/`setInterval`/`clearInterval`; and
  `__sluiceHost.callTool(server, tool, input)`, which the runtime's `callMCPTool` uses. Its
  promise resolves with the tool's value or rejects with a plain object
  `{kind, message, content, retryable}` that the runtime turns into a `ToolError`.
- **Limits**: the memory limit and stack limit are QuickJS's own (`memory_bytes: 0` means no
  QuickJS limit, `stack_bytes: 0` means 1 MiB); the wall-time deadline is enforced by an
  interrupt handler while JavaScript runs and by the event loop while it waits; the tool call
  limit ends the execution with `ToolCallLimit` (the call that exceeds it throws, the engine
  stops the code at QuickJS's next interrupt check, and tool calls queued in the same burst are
  not sent); console output is forwarded until `output_bytes` are spent (the line that crosses
  the budget is cut), then counted as dropped. Tool-call ids are unique within the process, so
  a late result from an earlier execution is never mistaken for a current one.

# When an execution ends, and its result

The event loop runs pending jobs, fires due timers and delivers tool results; when nothing can
run, it blocks on the host until the next tool result, the next timer or the deadline (it never
spins). Every `ToolCall` that a burst of synchronous code makes (for example `Promise.all` over
many calls) is sent before the loop waits, so they are all in flight at once.

An execution ends when the main module's evaluation (including top-level `await`) has settled
and, if the default export is a promise, that promise has settled too. Timers still pending then
are dropped and tool calls still in flight are abandoned (late results are ignored). It also ends
early on an uncaught exception in a timer callback, on an unhandled promise rejection (checked
each time the job queue is empty, like Node), when it can never finish (it awaits a promise while
no tool call and no timer is pending), and when a limit is hit.

The result is the main module's `export default`, awaited, converted to JSON with
`JSON.stringify` rules: no default export or `undefined` gives `null`; a top-level function or
symbol gives `null`; inside objects, functions and symbols are dropped and `undefined` array items
become `null`; `NaN` and infinities become `null`; a `BigInt` becomes its decimal string;
`toJSON` is honoured. A value that cannot be converted (a cycle, a throwing getter) ends the
execution with a `RuntimeError` that says so.

# Errors

[`ExecutionError::kind`] is one of [`kinds`]: `SyntaxError` (oxc, with position), `ImportError`
(a module that does not exist, or a name it does not export), `ToolError` (an uncaught
`ToolError`), `RuntimeError` (any other uncaught exception or unhandled rejection; a stack
overflow is a `RuntimeError` whose message names the stack limit), `Timeout`, `OutOfMemory`,
`ToolCallLimit`, and `InternalError` (the engine itself or the channel to the gateway failed).

Positions: QuickJS reports positions in the generated JavaScript; they are mapped back to the
agent's source through oxc's source map. `line`/`column` of an error are those of the first
stack frame in `main.ts`, and stack traces in messages and in logged errors are rewritten to
original positions. A `ToolError` is created in an async continuation whose stack no longer
shows the agent's code, so its position is the call site recorded when the failed tool call was
made. This is best effort: a position maps to the nearest mapped token at or before it, which gives
the right line and a nearby column (QuickJS points at the operation that threw, often the end of
a call expression, and counts columns differently from oxc after non-ASCII text); frames in generated modules (runtime,
servers) keep their own positions; values thrown that are not errors have no position.
*/
#![deny(missing_docs)]

mod executor;
mod modules;
mod positions;
mod transpile;
mod workspace;

use std::collections::BTreeMap;
use std::time::Duration;

use sluice_worker_protocol::{
    ExecutionError, ExecutionLimits, ExecutionOutcome, Language, ToolBinding, ToolOutcome,
    WorkerMessage,
};

pub use executor::{Engine, check, execute};
pub use transpile::transpile;
pub use workspace::{FileStat, WorkspaceError, WorkspaceReply, WorkspaceRequest};

/// The `kind`s of [`ExecutionError`] this engine produces.
pub mod kinds {
    /// The code does not parse (or does not compile in QuickJS).
    pub const SYNTAX_ERROR: &str = "SyntaxError";
    /// An import names a module that does not exist, or a name the module does not export.
    pub const IMPORT_ERROR: &str = "ImportError";
    /// An uncaught `ToolError` from a tool call.
    pub const TOOL_ERROR: &str = "ToolError";
    /// Any other uncaught exception, unhandled rejection or stack overflow.
    pub const RUNTIME_ERROR: &str = "RuntimeError";
    /// The wall-time limit was reached.
    pub const TIMEOUT: &str = "Timeout";
    /// The JavaScript heap reached the memory limit.
    pub const OUT_OF_MEMORY: &str = "OutOfMemory";
    /// The code made more tool calls than the limit allows.
    pub const TOOL_CALL_LIMIT: &str = "ToolCallLimit";
    /// The engine failed, or lost its channel to the gateway.
    pub const INTERNAL_ERROR: &str = "InternalError";

    /// True for the kinds after which a session's runtime is discarded: the engine cannot vouch
    /// for the state of a runtime that was interrupted or ran out of memory.
    pub fn discards_session(kind: &str) -> bool {
        matches!(kind, TIMEOUT | OUT_OF_MEMORY | INTERNAL_ERROR)
    }
}

/// Longest regular expression source, in UTF-16 code units, that agent code may compile (regex
/// literals are checked when the code is transpiled, `new RegExp(...)` and the string methods
/// that build one from a string when they run). QuickJS cannot interrupt the regex compiler, and
/// its cost grows faster than the source.
pub const MAX_REGEX_SOURCE_CHARS: usize = 4096;

/// Stack the thread running [`execute`] needs beyond `limits.stack_bytes`: QuickJS checks its
/// own limit, but the parser, the transpiler and Rust frames below the interpreter need room
/// too. Run executions on a thread with at least [`thread_stack_bytes`].
pub const STACK_HEADROOM_BYTES: usize = 8 * 1024 * 1024;

/// Stack size for a thread that runs executions with these limits.
pub fn thread_stack_bytes(limits: &ExecutionLimits) -> usize {
    executor::stack_limit(limits).saturating_add(STACK_HEADROOM_BYTES)
}

/// One execution request: the fields of `GatewayMessage::Execute` the engine needs.
#[derive(Debug, Clone, Copy)]
pub struct Execution<'a> {
    /// The agent's source code.
    pub code: &'a str,
    /// Its language.
    pub language: Language,
    /// Limits for this execution.
    pub limits: &'a ExecutionLimits,
    /// Every tool, by server, for the `./servers/...` modules.
    pub tools: &'a BTreeMap<String, Vec<ToolBinding>>,
    /// Keep the runtime and publish the code's top-level declarations for the next execution of
    /// the same [`Engine`] (a session).
    pub keep_state: bool,
    /// Saved skills, by name: TypeScript source of the `./skills/<name>` modules.
    pub skills: &'a BTreeMap<String, String>,
}

/// The answer to a check: the content of `WorkerMessage::Checked`.
#[derive(Debug, Clone, PartialEq)]
pub struct CheckReport {
    /// Why the code is not a valid module, or `None`.
    pub error: Option<ExecutionError>,
    /// The module's export names (`default` for a default export), sorted; empty on error.
    pub exports: Vec<String>,
}

impl CheckReport {
    /// The `Checked` message for the gateway.
    pub fn into_message(self) -> WorkerMessage {
        WorkerMessage::Checked {
            error: self.error,
            exports: self.exports,
        }
    }
}

/// How an execution ended: the content of `WorkerMessage::Done`.
#[derive(Debug, Clone, PartialEq)]
pub struct Finished {
    /// The result or the error.
    pub outcome: ExecutionOutcome,
    /// Console bytes dropped because the output budget was spent.
    pub dropped_output_bytes: u64,
}

impl Finished {
    /// The `Done` message for the gateway.
    pub fn into_message(self) -> WorkerMessage {
        WorkerMessage::Done {
            outcome: self.outcome,
            dropped_output_bytes: self.dropped_output_bytes,
        }
    }

    /// The error, when the execution failed.
    pub fn error(&self) -> Option<&ExecutionError> {
        match &self.outcome {
            ExecutionOutcome::Error(error) => Some(error),
            ExecutionOutcome::Ok { .. } => None,
        }
    }
}

/// The engine's side of the channel to the gateway.
///
/// The worker implements it over frames; tests implement it with a fake gateway.
pub trait Host {
    /// Send a `ToolCall` or `Log` message to the gateway.
    fn send(&mut self, message: WorkerMessage) -> Result<(), HostError>;

    /// Wait for the next tool result, at most `timeout` (`None`: until one arrives).
    ///
    /// `Ok(None)` means the timeout passed without a result. Results may arrive in any order and
    /// may name call ids the engine no longer waits for (those are ignored).
    fn wait_tool_result(
        &mut self,
        timeout: Option<Duration>,
    ) -> Result<Option<(u64, ToolOutcome)>, HostError>;

    /// Carry out one `fs/promises` call on the workspace.
    ///
    /// The engine passes the path exactly as agent code wrote it; the host checks it (only paths
    /// under `./workspace`, never outside) and reports failures as Node-style errors. The
    /// default has no workspace: every call fails with `ENOSYS` and says so.
    fn workspace(&mut self, request: &WorkspaceRequest) -> Result<WorkspaceReply, WorkspaceError> {
        Err(WorkspaceError::no_workspace(request))
    }
}

/// The channel to the gateway failed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum HostError {
    /// The gateway closed the channel.
    #[error("the channel to the gateway closed")]
    Closed,
    /// Anything else.
    #[error("the channel to the gateway failed: {0}")]
    Failed(String),
}

#[cfg(test)]
mod tests;
