/*!
The JavaScript engine of the Sluice worker: runs agent code in QuickJS.

This is the only crate that parses agent code (with oxc) and links QuickJS (with rquickjs). It
exists so the worker process, which talks the frame protocol, stays small, and so the engine can
be tested without processes: all IO goes through the [`Host`] trait (tool calls, console output,
and the `fs/promises` calls, which the host carries out on its workspace).

# Executions and sessions

[`Engine::execute`] takes the fields of `GatewayMessage::Execute` ([`Execution`]) and a [`Host`],
and returns how the execution ended ([`Finished`], which becomes `WorkerMessage::Done`).
[`execute`] is the same on a fresh engine. An [`Engine`] lives on one thread and serves
executions one after another:

- `keep_state: false`: the execution gets a fresh QuickJS runtime and context, dropped at its
  end, so nothing survives into the next one (and a session kept so far is dropped first).
- `keep_state: true` (a session): the execution runs in the runtime the previous session
  execution kept, or a new one, and the runtime is kept afterwards. **The rule**: agent code is
  an ES module, so its top-level bindings are module-scoped; when a session execution ends,
  whether it succeeded or threw, each of its top-level declarations (`var`, `let`, `const`,
  `function`, `class`, also when exported, and `var`s nested in top-level blocks and loop heads;
  not imports; TypeScript `enum`/`namespace` through the `var`/`let` they become) that the
  module body reached is published on `globalThis` as a
  live accessor: reading it reads the module's binding, assigning it assigns the binding (a
  `const` has no setter: assigning throws in strict code). A declaration the body never reached
  because it threw first (still in its temporal dead zone) is not published; function
  declarations are hoisted, so they always are. A later execution that declares the same name
  shadows it within its own module and, when it ends, publishes its own binding in its place;
  functions of the earlier execution keep using their own binding. Everything else in the
  runtime persists too: properties put on `globalThis` or on built-in prototypes, loaded
  modules (a skill whose source changed is a new module; a server's modules keep the tools they
  had when first imported in the session). An execution that ends with `Timeout`,
  `OutOfMemory` or `InternalError` ([`ErrorKind::ends_session`](sluice_worker_protocol::ErrorKind::ends_session)) drops the runtime: its error
  message then says the session's state was discarded, and the next execution starts fresh.
  Any other error (a `SyntaxError`, a `RuntimeError`, a `ToolError`) keeps the session.
- [`check`] transpiles code and compiles it as a module in a scratch runtime without running it
  (imports are not resolved), and lists its exports: the answer to `GatewayMessage::Check`.

- **Transpiling**: [`transpile`] parses the code as an ES module (TypeScript or JavaScript),
  reports syntax errors with 1-based line and column in the agent's own code, strips types and
  prints JavaScript with a source map. Module syntax and top-level `await` are kept: QuickJS runs
  modules natively.
- **Modules**: the agent's code is the module `main.ts` (`main-<n>.ts` for the n-th execution of
  a session). It may import `./runtime` (the runtime library of `sluice_codegen`, transpiled once
  per process), `./servers/<server>` or `./servers/<server>/index` (all tools of a server) and
  `./servers/<server>/<tool>` (one tool), with an optional `.ts`/`.js` suffix, generated with
  `sluice_codegen::javascript` from the `tools` map; `./skills/<name>` (or
  `./skills/<name>/index`), the saved skill `skills[name]`, TypeScript transpiled once per engine
  and source; and `fs/promises` (or `node:fs/promises`). A skill is the module
  `/skills/<name>/index.ts`: it imports tools as `../../servers/<server>` and other skills as
  `../<other>`, and may also write `./servers/...`, `./skills/...` and `./runtime` as from the
  root, like agent code. Nothing else resolves: no `std`/`os` modules, no `fs` other than the
  workspace's promise API, no `fetch`, no network. Static imports of the agent's code and of the
  skills it reaches are checked before anything runs, so a wrong import is reported as
  `ImportError` with its position, with the valid forms, the server's tools or the saved skills
  (and a "did you mean").
- **Files**: `fs/promises` has `readFile(path, encoding?)` (UTF-8 text), `writeFile(path,
  data)`, `appendFile(path, data)` (strings), `readdir(path)` (names), `stat(path)` (`size`,
  `mtimeMs`, `isFile()`, `isDirectory()`), `rm(path, { recursive?, force? })` and `mkdir(path,
  { recursive? })`, each returning a promise. The event loop hands each call to
  [`Host::workspace`] right after the job that made it; a failure rejects with an `Error` whose
  `code` (`ENOENT`, `EACCES`, `EISDIR`, `EDQUOT`, ...), `syscall` and `path` are Node's. Paths
  must be `./workspace/...` or `workspace/...`; the host enforces that.
- **Globals**: `console.log/info/debug/warn/error` (plus `trace`, `dir`, `assert`), formatted like
  Node's `util.inspect` in a compact single-line form (strings raw at top level, errors with name,
  message and stack); `setTimeout`/`clearTimeout`/`setInterval`/`clearInterval`; and
  `__sluiceHost.callTool(server, tool, input)`, which the runtime's `callMCPTool` uses, and
  `__sluiceHost.workspace(...)`, which `fs/promises` uses, and `__sluiceHost.progress(message,
  fraction?)`, which the runtime's `reportProgress` uses (a `Progress` message, at most one per
  50 ms, the message cut to 200 characters). A tool call's promise resolves with
  the tool's value or rejects with a plain object `{kind, message, content, retryable}` that the
  runtime turns into a `ToolError`.
- **Hardening**: the prelude removes `SharedArrayBuffer` and `Atomics`, the `resize` and
  `transfer` family of `ArrayBuffer.prototype` and the `maxByteLength` option (a buffer's length
  never changes, so no built-in sees it shrink), and `RegExp.prototype.compile`. Regex sources
  are capped at [`MAX_REGEX_SOURCE_CHARS`]: literals when the code is transpiled, `RegExp(...)`,
  `String.prototype.match/matchAll/search` with a string, and the species paths of
  `RegExp.prototype[Symbol.split]`/`[Symbol.matchAll]` (which require a real RegExp) when they
  run; code compiled at run time by `eval` or the `Function`, `AsyncFunction`,
  `GeneratorFunction` and `AsyncGeneratorFunction` constructors is parsed by oxc and its regex
  literals checked before QuickJS sees it (so `eval` is always an indirect, global-scope eval).
  QuickJS's `std`/`os` modules are not linked and cannot be imported.
- **Limits**: the memory limit and stack limit are QuickJS's own (`memory_bytes: 0` means no
  QuickJS limit, `stack_bytes: 0` means 1 MiB); the wall-time deadline is enforced by an
  interrupt handler while JavaScript runs and by the event loop between jobs and while it waits,
  so a promise-job loop ends in `Timeout` even when it catches the interrupt; the tool call limit
  ends the execution with `ToolCallLimit` (the call that exceeds it throws, the engine stops the
  code at QuickJS's next interrupt check, and tool calls queued in the same burst are not sent);
  console output is forwarded until `output_bytes` are spent (the line that crosses the budget is
  cut 512 bytes past it, so the gateway can scan a value at the budget whole before it cuts the
  output itself), then counted as dropped. Tool-call ids are unique within the process, so a late result
  from an earlier execution is never mistaken for a current one. Some QuickJS built-ins loop
  without checking the interrupt handler (joining a huge sparse array): the engine stops the code
  when they return; the worker's and the gateway's watchdogs bound them from outside.

# When an execution ends, and its result

The event loop runs pending jobs, fires due timers and delivers tool results; when nothing can
run, it blocks on the host until the next tool result, the next timer or the deadline (it never
spins). Every `ToolCall` that a burst of synchronous code makes (for example `Promise.all` over
many calls) is sent before the loop waits, so they are all in flight at once.

An execution ends when the main module's evaluation (including top-level `await`) has settled
and, if the default export is a promise, that promise has settled too. Timers still pending then
are dropped and tool calls still in flight are abandoned (late results are ignored), in a session
too. It also ends early on an uncaught exception in a timer callback, on an unhandled promise
rejection (checked each time the job queue is empty, like Node), when it can never finish (it
awaits a promise while no tool call and no timer is pending), and when a limit is hit.

The result is the main module's `export default`, awaited, converted to JSON with
`JSON.stringify` rules: no default export or `undefined` gives `null`; a top-level function or
symbol gives `null`; inside objects, functions and symbols are dropped and `undefined` array items
become `null`; `NaN` and infinities become `null`; a `BigInt` becomes its decimal string;
`toJSON` is honoured. A value that cannot be converted (a cycle, a throwing getter) ends the
execution with a `RuntimeError` that says so.

# Errors

[`ExecutionError::kind`] is an [`ErrorKind`](sluice_worker_protocol::ErrorKind): `SyntaxError` (oxc, with position; also a regex
literal over the cap), `ImportError` (a module that does not exist, a name it does not export, a
skill that does not compile), `ToolError` (an uncaught `ToolError`; `PolicyDenied` when its kind is `policy_denied`), `RuntimeError` (any other
uncaught exception or unhandled rejection; a stack overflow is a `RuntimeError` whose message
names the stack limit), `Timeout`, `OutOfMemory`, `ToolCallLimit`, and `InternalError` (the
engine itself or the channel to the gateway failed).

Positions: QuickJS reports positions in the generated JavaScript; they are mapped back to the
agent's source through oxc's source maps, kept per module (the agent's modules of a session and
the skills). `line`/`column` of an error are those of the first stack frame in the current
execution's module, and stack traces in messages and in logged errors are rewritten to original
positions (a skill's frames as `skills/<name>/index.ts:LINE:COLUMN`). A `ToolError` is created in
an async continuation whose stack no longer shows the agent's code, so its position is the call
site recorded when the failed tool call was made. This is best effort: a position maps to the
nearest mapped token at or before it, which gives the right line and a nearby column (QuickJS
points at the operation that threw, often the end of a call expression, and counts columns
differently from oxc after non-ASCII text); frames in generated modules (runtime, servers) keep
their own positions; values thrown that are not errors have no position.
*/
#![deny(missing_docs)]

mod executor;
mod module_names;
mod modules;
mod positions;
mod preparer;
mod transpile;
mod workspace;

use sluice_worker_protocol::ExecutionLimits;

pub use executor::{Engine, NextRuntime, check, execute};
pub use preparer::PreparerHooks;
pub use sluice_engine_host::{
    CheckReport, FileEncoding, FileStat, Finished, Host, HostError, WorkspaceError, WorkspaceReply,
    WorkspaceRequest,
};
pub use sluice_worker_protocol::ExecuteJob;
pub use transpile::transpile;

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

#[cfg(test)]
mod tests;
