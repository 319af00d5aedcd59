/*!
The Python engine of the Sluice worker: runs agent code written in Python on Monty.

This is the only crate that links Monty (the `monty` crate, a Python interpreter written in
Rust). It runs in the confined worker process, beside `sluice-engine-js`, against the same
[`Host`] (tool calls, console output, the workspace) and answers with the same [`Finished`].

# The language

Monty runs a subset of Python 3 (no class inheritance, no generators, no third-party modules;
part of the standard library: `asyncio`, `json`, `re`, `math`, `datetime`, `collections`,
`itertools`, `functools`, `dataclasses`, `typing`, `base64`, `pathlib`, `os`). Top-level `await`
works.

- **Tools**: `from servers.<server> import <tool>[ as <name>], ...` binds each tool, by its
  snake_case Python name (`sluice_codegen::python`), to an async function: `await
  create_issue(title="...", body="...")` (keyword arguments are the input object; one dict
  argument is accepted too). Calls made without awaiting run concurrently: `await
  asyncio.gather(a(...), b(...))` sends them all before waiting. The imports are checked before
  the code runs (see the `imports` module); `import servers...`, `from servers import x` and
  imports from `skills` are `ImportError`s that say what works.
- **Failed calls**: Monty cannot define exception classes, so a failed tool call raises a
  `RuntimeError` whose message is `ToolError(<kind>): <server>.<tool>: <message>`; the host
  function `tool_error(e)` returns its fields as a dict (`kind`, `message`, `content`,
  `retryable`, `server`, `tool`, the same as a TypeScript `ToolError`), or `None` for any
  other exception. Uncaught, it ends the execution as a `ToolError` (`PolicyDenied` for the
  kind `policy_denied`).
- **Waiting**: `await sleep(seconds)` waits without holding anything else up (Monty's `asyncio`
  has no `sleep`); a wait past the execution's deadline ends it with a timeout.
- **Progress**: `report_progress(message, fraction=None)` sends a progress report (cut to 200
  characters, at most one per 50 ms).
- **The result** is the value of the last top-level expression statement, when the code ends
  with one (like a notebook cell); otherwise `None`. It becomes JSON as `convert::to_json`
  says: `None` is `null`, tuples and sets are arrays, dict keys are strings, an integer beyond
  64 bits is its decimal text, `NaN` is `null`, a class instance is an object of its attributes.
- **Output**: `print()` lines are the console, with the same budget as TypeScript's.
- **Files**: `pathlib` calls on `workspace/...` (`read_text`, `write_text`, `append_text`, the
  bytes forms, `exists`, `is_file`, `is_dir`, `iterdir`, `mkdir`, `unlink`) are carried out by
  [`Host::workspace`], like TypeScript's `fs/promises`. `datetime.now()` and `date.today()` read
  the clock (UTC).
- **No other host access**: other `os` and `pathlib` calls and `open` reach the host as requests
  that the engine refuses with a `PermissionError` that says so; other modules do not exist
  (`ModuleNotFoundError`).

# Limits

- Time: Monty's own budget (`max_duration`, which counts only time spent running Python) is the
  execution's time limit, and the engine checks the wall-clock deadline at every suspension
  (tool calls, waits for results): a wait is cut at the deadline and the code is stopped with an
  uncatchable exception. Python that computes past the wall deadline between suspensions is
  stopped by the worker's watchdog (the worker then exits).
- Memory: Monty's `max_memory`, measured by `monty-alloc`, the global allocator the `sluice`
  binary installs; the engine arms it for the execution (`monty_alloc::set_limit`) and lifts it
  afterwards. Past it Python gets an uncatchable `MemoryError` at its next check (an execution
  error `OutOfMemory`); an allocation 4 MiB past it ends the worker with exit status 65, which
  the gateway reports as `OutOfMemory` too. Without that allocator (unit tests of other crates)
  only the worker's address-space limit applies.
- Recursion: Monty's recursion depth limit (1,000 frames), a catchable `RecursionError`.
- Tool calls: the call past `tool_calls` stops the code with an uncatchable exception
  (`ToolCallLimit`).

# Sessions

An `Execute` with `keep_state` runs in the Monty REPL the previous one kept: globals (variables,
functions, imported tools) survive, as in a Python REPL, whether the execution succeeded or
raised; `Timeout`, `OutOfMemory` and internal errors discard it (the message says so). An
execution without `keep_state` runs in a new interpreter and ends any kept one.

# Errors

Python exceptions keep their type and CPython-style traceback in the message (file `main.py`
for the current execution, `session input N` for code of an earlier execution of the session);
`line`/`column` are those of the innermost frame in the current execution's code. `SyntaxError`
(also Python that Monty does not support yet, such as a class with a base class), `ImportError`
(`ImportError`/`ModuleNotFoundError`), `ToolError`/`PolicyDenied`, `Timeout`, `OutOfMemory`,
`ToolCallLimit` and `RuntimeError` for any other exception.
*/
#![deny(missing_docs)]

mod convert;
mod imports;
mod output;
mod skills;

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use monty::{MontyRepl, ReplProgress, ReplStartError};
use monty_types::{
    CompileOptions, ExcType, ExtFunctionResult, MontyException, MontyObject, NameLookupResult,
    PrintWriter, ResourceLimits, ResourceTracker,
};
use serde_json::{Value, json};
use sluice_engine_host::{CheckReport, Finished, Host, HostError};
use sluice_worker_protocol::{
    ErrorKind, ExecuteJob, ExecutionError, ExecutionOutcome, MAX_PROGRESS_MESSAGE_CHARS,
    MIN_PROGRESS_INTERVAL_MS, ToolErrorKind, ToolOutcome, WorkerMessage,
};

use crate::imports::{BIND_FUNCTION, BoundTool};
use crate::output::Output;

/// Python's recursion limit in the sandbox (frames).
pub const MAX_RECURSION_DEPTH: usize = 1000;

/// The host function that gives a failed tool call's fields.
const TOOL_ERROR_FUNCTION: &str = "tool_error";
/// The host function that reports progress.
const PROGRESS_FUNCTION: &str = "report_progress";
/// The host coroutine that waits: `await sleep(seconds)` (Monty's `asyncio` has no `sleep`).
const SLEEP_FUNCTION: &str = "sleep";

/// Tool-call ids of Python executions start here, far from the JavaScript engine's, so a late
/// result of an execution in either engine is never taken for a current call.
const FIRST_CALL_ID: u64 = 1 << 62;
static NEXT_CALL_ID: AtomicU64 = AtomicU64::new(FIRST_CALL_ID);

/// Resumes in a row that Monty may ask for with no call in flight before the engine calls the
/// code stuck.
const MAX_IDLE_RESUMES: u32 = 10_000;

/// The longest error message, in bytes: a deep traceback is cut in the middle.
const MAX_MESSAGE_BYTES: usize = 8 * 1024;

/// Runs Python executions one after another, keeping a session's interpreter between them.
#[derive(Debug, Default)]
pub struct Engine {
    session: Option<Session>,
}

/// A kept interpreter and what its code may still call.
#[derive(Debug)]
struct Session {
    repl: MontyRepl,
    /// The tools bound so far, by the name of the host function the code holds.
    functions: HashMap<String, BoundTool>,
    /// Snippets fed so far (Monty names the n-th one `<python-input-n>`).
    inputs: u64,
    /// The skills loaded into the interpreter, by their global (name and source hash).
    loaded_skills: HashSet<String>,
    /// The snippets that loaded skills: snippet index to skill name.
    skill_inputs: HashMap<u64, String>,
}

impl Session {
    fn new(job: &ExecuteJob) -> Session {
        let limits = ResourceLimits {
            max_duration: Some(Duration::from_millis(job.limits.timeout_ms)),
            max_memory: memory_limit(job),
            max_recursion_depth: MAX_RECURSION_DEPTH,
            ..ResourceLimits::default()
        };
        Session {
            repl: MontyRepl::new(
                "main.py",
                ResourceTracker::new(limits),
                CompileOptions::default(),
            ),
            functions: HashMap::new(),
            inputs: 0,
            loaded_skills: HashSet::new(),
            skill_inputs: HashMap::new(),
        }
    }
}

fn memory_limit(job: &ExecuteJob) -> Option<usize> {
    (job.limits.memory_bytes > 0)
        .then(|| usize::try_from(job.limits.memory_bytes).unwrap_or(usize::MAX))
}

impl Engine {
    /// An engine without a session.
    pub fn new() -> Engine {
        Engine::default()
    }

    /// End a kept session, if there is one.
    pub fn end_session(&mut self) {
        self.session = None;
    }

    /// Run one execution to its end. Never panics on agent input; every failure becomes an
    /// [`ExecutionError`] in the returned [`Finished`].
    pub fn execute(&mut self, job: &ExecuteJob, host: &mut dyn Host) -> Finished {
        let started = Instant::now();
        let deadline = started.checked_add(Duration::from_millis(job.limits.timeout_ms));
        let rewritten = match imports::rewrite(&job.code, &job.tools, &job.skills) {
            Ok(rewritten) => rewritten,
            Err(error) => {
                if !job.keep_state {
                    self.session = None;
                }
                return failed(error, 0);
            }
        };
        let mut session = match (job.keep_state, self.session.take()) {
            (true, Some(session)) => session,
            _ => Session::new(job),
        };
        session
            .repl
            .tracker_mut()
            .set_max_duration(Duration::from_millis(job.limits.timeout_ms));
        let armed = arm_memory(memory_limit(job));
        let mut run = Run {
            host,
            output: Output::new(job.limits.output_bytes),
            bound: rewritten.bound,
            functions: std::mem::take(&mut session.functions),
            pending: HashMap::new(),
            arrived: HashMap::new(),
            timers: HashMap::new(),
            failures: HashMap::new(),
            tool_calls: 0,
            tool_call_limit: job.limits.tool_calls,
            deadline,
            timeout_ms: job.limits.timeout_ms,
            stopped: None,
            last_progress: None,
            idle_resumes: 0,
            quota_bytes: job.limits.workspace_bytes,
            read_cap: job.limits.memory_bytes / 4,
            skill_inputs: std::mem::take(&mut session.skill_inputs),
        };
        let loaded = run.load_skills(
            session.repl,
            &rewritten.skills,
            &mut session.inputs,
            &mut session.loaded_skills,
        );
        let (repl, outcome) = match loaded {
            (repl, Some(failed)) => (repl, failed),
            (repl, None) => {
                if !rewritten.code.is_empty() {
                    session.inputs += 1;
                }
                let script = format!("<python-input-{}>", session.inputs.saturating_sub(1));
                run.drive(repl, &rewritten.code, &script, session.inputs)
            }
        };
        if armed {
            arm_memory(None);
        }
        let dropped = run.output.dropped;
        let ends_session =
            matches!(&outcome, ExecutionOutcome::Error(error) if error.kind.ends_session());
        let outcome = match outcome {
            ExecutionOutcome::Error(mut error) if ends_session && job.keep_state => {
                error.message.push_str(
                    "\nThe session's state was discarded: the next execution starts fresh.",
                );
                ExecutionOutcome::Error(error)
            }
            other => other,
        };
        if job.keep_state && !ends_session {
            self.session = Some(Session {
                repl,
                functions: run.functions,
                inputs: session.inputs,
                loaded_skills: session.loaded_skills,
                skill_inputs: run.skill_inputs,
            });
        }
        tracing::debug!(
            elapsed_ms = started.elapsed().as_millis() as u64,
            tool_calls = run.tool_calls,
            "python execution ends"
        );
        Finished {
            outcome,
            dropped_output_bytes: dropped,
        }
    }
}

/// Set (or, with `None`, lift) the allocator's memory ceiling; false when the allocator is not
/// the process's global allocator, so nothing was armed.
fn arm_memory(limit: Option<usize>) -> bool {
    match monty_alloc::set_limit(limit, false) {
        Ok(()) => true,
        Err(reason) => {
            tracing::debug!(reason, "the Python memory limit is left to the OS");
            false
        }
    }
}

fn failed(error: ExecutionError, dropped: u64) -> Finished {
    Finished {
        outcome: ExecutionOutcome::Error(error),
        dropped_output_bytes: dropped,
    }
}

/// Check that `code` parses as Python and can be a skill, without running it: the answer to a
/// `Check`. The exports are the names its top level defines (functions, classes, assignments;
/// not imports, which are importable but not listed) that do not start with `_`; a skill's top level must not `await` (it runs when the
/// skill is loaded, inside a plain function).
pub fn check(code: &str) -> CheckReport {
    match ruff_python_parser::parse_module(code) {
        Ok(parsed) => {
            let body = &parsed.syntax().body;
            if let Some(offset) = skills::top_level_await(body) {
                let (line, column) = imports::position(code, offset);
                return CheckReport {
                    error: Some(ExecutionError {
                        kind: ErrorKind::SyntaxError,
                        message: "SyntaxError: `await` at the top level of a skill: its top \
                                  level runs when the skill is loaded and cannot wait; await \
                                  inside an async function of the skill instead"
                            .to_owned(),
                        line: Some(line),
                        column: Some(column),
                    }),
                    exports: Vec::new(),
                };
            }
            let mut exports = skills::top_level_names(body, false);
            exports.retain(|name| !name.starts_with('_'));
            CheckReport {
                error: None,
                exports,
            }
        }
        Err(error) => {
            let (line, column) = imports::position(code, usize::from(error.location.start()));
            CheckReport {
                error: Some(ExecutionError {
                    kind: ErrorKind::SyntaxError,
                    message: format!("SyntaxError: {}", error.error),
                    line: Some(line),
                    column: Some(column),
                }),
                exports: Vec::new(),
            }
        }
    }
}

/// The snippet a Python skill named `name` is loaded with: its code (imports not rewritten) in
/// a function that returns what its top level defines, and the assignment of that to the
/// skill's global. What the engine feeds Monty before code that imports the skill; public for
/// the fuzz target, which checks that code that parses still parses once wrapped. An error says
/// why the code cannot be a skill.
pub fn skill_snippet(name: &str, code: &str) -> Result<String, String> {
    skills::wrap(name, code, code).map(|load| load.code)
}

/// A failed tool call, as `tool_error(e)` gives it.
#[derive(Debug, Clone)]
struct Failure {
    kind: ToolErrorKind,
    fields: Value,
}

/// One call in flight.
#[derive(Debug)]
struct PendingCall {
    monty_id: u32,
    tool: BoundTool,
}

/// One execution in progress.
struct Run<'a> {
    host: &'a mut dyn Host,
    output: Output,
    bound: Vec<BoundTool>,
    functions: HashMap<String, BoundTool>,
    pending: HashMap<u64, PendingCall>,
    /// Results of calls the code has not waited for yet, by Monty's call id.
    arrived: HashMap<u32, ExtFunctionResult>,
    /// `sleep` calls in progress: when each ends, by Monty's call id.
    timers: HashMap<u32, Instant>,
    failures: HashMap<String, Failure>,
    tool_calls: u64,
    tool_call_limit: u64,
    deadline: Option<Instant>,
    timeout_ms: u64,
    /// Why the engine stopped the code itself.
    stopped: Option<ExecutionError>,
    last_progress: Option<Instant>,
    /// Resumes in a row with nothing to wait for.
    idle_resumes: u32,
    /// The workspace quota (`ExecutionLimits::workspace_bytes`).
    quota_bytes: u64,
    /// The largest file a read may return.
    read_cap: u64,
    /// The snippets that loaded skills: snippet index to skill name (for tracebacks).
    skill_inputs: HashMap<u64, String>,
}

/// What one step of the interpreter gave back.
type Step = Result<ReplProgress, Box<ReplStartError>>;

impl Run<'_> {
    /// Feed the skills the code imports that this interpreter has not loaded yet; the error
    /// of the first that fails to load, if one does.
    fn load_skills(
        &mut self,
        mut repl: MontyRepl,
        loads: &[skills::SkillLoad],
        inputs: &mut u64,
        loaded: &mut HashSet<String>,
    ) -> (MontyRepl, Option<ExecutionOutcome>) {
        for load in loads {
            if loaded.contains(&load.global) {
                continue;
            }
            let index = *inputs;
            *inputs += 1;
            self.skill_inputs.insert(index, load.name.clone());
            let script = format!("<python-input-{index}>");
            let (next, outcome) = self.drive(repl, &load.code, &script, *inputs);
            repl = next;
            match outcome {
                ExecutionOutcome::Ok { .. } => {
                    loaded.insert(load.global.clone());
                }
                ExecutionOutcome::Error(mut error) => {
                    // The position is in the skill (the message says where), not in the code.
                    error.line = None;
                    error.column = None;
                    return (repl, Some(ExecutionOutcome::Error(error)));
                }
            }
        }
        (repl, None)
    }

    /// Feed the code and serve the interpreter until it ends; the REPL comes back either way.
    fn drive(
        &mut self,
        repl: MontyRepl,
        code: &str,
        script: &str,
        inputs: u64,
    ) -> (MontyRepl, ExecutionOutcome) {
        let mut output = Output::new(0);
        std::mem::swap(&mut output, &mut self.output);
        let mut step: Step = repl.feed_start(code, Vec::new(), PrintWriter::Callback(&mut output));
        loop {
            if let Err(error) = self.flush(&mut output, false) {
                // The gateway is gone; stop at the next step.
                self.stopped.get_or_insert(error);
            }
            step = match step {
                Ok(ReplProgress::Complete { repl, value }) => {
                    let _ = self.flush(&mut output, true);
                    self.output = output;
                    let outcome = match convert::to_json(&value) {
                        Ok(result) => ExecutionOutcome::Ok { result },
                        Err(reason) => ExecutionOutcome::Error(ExecutionError {
                            kind: ErrorKind::RuntimeError,
                            message: format!(
                                "RuntimeError: the result cannot be converted to JSON: {reason}"
                            ),
                            line: None,
                            column: None,
                        }),
                    };
                    return (repl, outcome);
                }
                Err(failure) => {
                    let _ = self.flush(&mut output, true);
                    self.output = output;
                    let ReplStartError { repl, error } = *failure;
                    let error = self.classify(&error, script, inputs);
                    return (repl, ExecutionOutcome::Error(error));
                }
                Ok(progress) => {
                    if let Some(error) = self.stop_reason() {
                        let exception = MontyException::new(
                            stop_exc_type(&error.kind),
                            Some(error.message.clone()),
                        );
                        self.stopped = Some(error);
                        abort(progress, exception, &mut output)
                    } else {
                        self.serve(progress, &mut output)
                    }
                }
            };
        }
    }

    /// Why the code must stop now, if it must: the wall-clock deadline has passed.
    fn stop_reason(&mut self) -> Option<ExecutionError> {
        if let Some(stopped) = &self.stopped {
            return Some(stopped.clone());
        }
        if self
            .deadline
            .is_some_and(|deadline| Instant::now() >= deadline)
        {
            return Some(self.timeout_error());
        }
        None
    }

    fn timeout_error(&self) -> ExecutionError {
        ExecutionError {
            kind: ErrorKind::Timeout,
            message: format!(
                "Timeout: the execution did not finish within its time limit of {} ms. Do less \
                 per execution, or ask for a longer timeout_ms.",
                self.timeout_ms
            ),
            line: None,
            column: None,
        }
    }

    /// Send the finished output lines to the gateway.
    fn flush(&mut self, output: &mut Output, all: bool) -> Result<(), ExecutionError> {
        for text in output.take_lines(all) {
            self.host
                .send(WorkerMessage::Log {
                    level: sluice_worker_protocol::LogLevel::Log,
                    text,
                })
                .map_err(channel_error)?;
        }
        Ok(())
    }

    /// Answer one suspension.
    fn serve(&mut self, progress: ReplProgress, output: &mut Output) -> Step {
        match progress {
            ReplProgress::FunctionCall(call) => {
                let name = call.function_name.clone();
                if call.object_id.is_some() {
                    return call.resume(
                        ExtFunctionResult::NotFound(name),
                        PrintWriter::Callback(output),
                    );
                }
                if name == BIND_FUNCTION {
                    let result = self.bind(&call.args);
                    return call.resume(result, PrintWriter::Callback(output));
                }
                if name == TOOL_ERROR_FUNCTION {
                    let result = self.tool_error(&call.args);
                    return call.resume(result, PrintWriter::Callback(output));
                }
                if name == PROGRESS_FUNCTION {
                    let result = self.progress(&call.args, &call.kwargs);
                    return call.resume(result, PrintWriter::Callback(output));
                }
                if name == SLEEP_FUNCTION {
                    return match sleep_duration(&call.args, &call.kwargs) {
                        Ok(duration) => {
                            let ends = Instant::now().checked_add(duration);
                            // Past the deadline (or beyond the clock): the wait for it stops the
                            // code with a timeout, as a tool call's would.
                            let ends = ends.or(self.deadline).unwrap_or_else(Instant::now);
                            self.timers.insert(call.call_id, ends);
                            call.resume_pending(PrintWriter::Callback(output))
                        }
                        Err(exception) => call.resume(
                            ExtFunctionResult::Error(exception),
                            PrintWriter::Callback(output),
                        ),
                    };
                }
                let Some(tool) = self.functions.get(&name).cloned() else {
                    return call.resume(
                        ExtFunctionResult::NotFound(name),
                        PrintWriter::Callback(output),
                    );
                };
                match self.start_call(&tool, &call.args, &call.kwargs, call.call_id) {
                    Ok(()) => call.resume_pending(PrintWriter::Callback(output)),
                    Err(CallRefused::Raise(exception)) => call.resume(
                        ExtFunctionResult::Error(exception),
                        PrintWriter::Callback(output),
                    ),
                    Err(CallRefused::Stop(error)) => {
                        let exception = MontyException::new(
                            stop_exc_type(&error.kind),
                            Some(error.message.clone()),
                        );
                        self.stopped = Some(error);
                        call.abort(exception, PrintWriter::Callback(output))
                    }
                }
            }
            ReplProgress::NameLookup(lookup) => {
                lookup.resume(NameLookupResult::Undefined, PrintWriter::Callback(output))
            }
            ReplProgress::OsCall(call) => {
                if let Some(result) = clock(&call.function_call) {
                    return call.resume(result, PrintWriter::Callback(output));
                }
                if let Some(result) = self.workspace(&call.function_call) {
                    return call.resume(result, PrintWriter::Callback(output));
                }
                let what = call.function_call.name();
                let exception = MontyException::new(
                    ExcType::PermissionError,
                    Some(format!(
                        "{what} is not available: Python code in Sluice has no access to the \
                         host's files, environment or processes. Files live in the workspace: \
                         Path(\"workspace/name.txt\").read_text() / .write_text(text), \
                         .exists(), .iterdir(), .mkdir(), .unlink()."
                    )),
                );
                call.resume(
                    ExtFunctionResult::Error(exception),
                    PrintWriter::Callback(output),
                )
            }
            ReplProgress::ResolveFutures(state) => {
                // Monty can stop here with nothing to wait for (after tasks caught failed
                // calls); resuming lets them go on. Bounded: it cannot loop without end.
                if state.pending_call_ids().is_empty() {
                    self.idle_resumes += 1;
                    if self.idle_resumes > MAX_IDLE_RESUMES {
                        let error = ExecutionError {
                            kind: ErrorKind::RuntimeError,
                            message: "RuntimeError: the code waits for something that can never \
                                      finish (no tool call is in flight)"
                                .to_owned(),
                            line: None,
                            column: None,
                        };
                        let exception =
                            MontyException::new(ExcType::RuntimeError, Some(error.message.clone()));
                        self.stopped = Some(error);
                        return state.abort(exception, PrintWriter::Callback(output));
                    }
                    return state.resume(Vec::new(), PrintWriter::Callback(output));
                }
                self.idle_resumes = 0;
                let results = match self.wait_results(state.pending_call_ids()) {
                    Ok(results) => results,
                    Err(error) => {
                        let exception = MontyException::new(
                            stop_exc_type(&error.kind),
                            Some(error.message.clone()),
                        );
                        self.stopped = Some(error);
                        return state.abort(exception, PrintWriter::Callback(output));
                    }
                };
                state.resume(results, PrintWriter::Callback(output))
            }
            complete @ ReplProgress::Complete { .. } => Ok(complete),
        }
    }

    /// A `pathlib` call on `./workspace/...`, carried out by the host's workspace (the same
    /// folder, quota and path rules as TypeScript's `fs/promises`); `None` for calls that are
    /// not file calls the workspace serves.
    fn workspace(&mut self, call: &monty_types::OsFunctionCall) -> Option<ExtFunctionResult> {
        use monty_types::OsFunctionCall as Call;
        use sluice_engine_host::{FileEncoding, WorkspaceReply, WorkspaceRequest as Request};
        let read = |path: &monty_types::MontyPath| Request::ReadFile {
            path: workspace_path(path),
            encoding: FileEncoding::Utf8,
            max_bytes: self.read_cap,
        };
        let write =
            |path: &monty_types::MontyPath, data: Vec<u8>, append: bool| Request::WriteFile {
                path: workspace_path(path),
                data,
                append,
                quota_bytes: self.quota_bytes,
            };
        let stat = |path: &monty_types::MontyPath| Request::Stat {
            path: workspace_path(path),
        };
        let (request, answer): (Request, fn(WorkspaceReply, &Call) -> MontyObject) = match call {
            Call::ReadText(path) => (read(path), |reply, _| match reply {
                WorkspaceReply::Bytes(bytes) => {
                    MontyObject::String(String::from_utf8_lossy(&bytes).into_owned())
                }
                _ => MontyObject::None,
            }),
            Call::ReadBytes(path) => (read(path), |reply, _| match reply {
                WorkspaceReply::Bytes(bytes) => MontyObject::Bytes(bytes),
                _ => MontyObject::None,
            }),
            Call::WriteText(args) | Call::AppendText(args) => (
                write(
                    &args.path,
                    args.data.clone().into_bytes(),
                    matches!(call, Call::AppendText(_)),
                ),
                |_, call| match call {
                    Call::WriteText(args) | Call::AppendText(args) => MontyObject::Int(
                        i64::try_from(args.data.chars().count()).unwrap_or(i64::MAX),
                    ),
                    _ => MontyObject::None,
                },
            ),
            Call::WriteBytes(args) | Call::AppendBytes(args) => (
                write(
                    &args.path,
                    args.data.clone(),
                    matches!(call, Call::AppendBytes(_)),
                ),
                |_, call| match call {
                    Call::WriteBytes(args) | Call::AppendBytes(args) => {
                        MontyObject::Int(i64::try_from(args.data.len()).unwrap_or(i64::MAX))
                    }
                    _ => MontyObject::None,
                },
            ),
            Call::Exists(path) | Call::IsFile(path) | Call::IsDir(path) => {
                (stat(path), |reply, call| match (reply, call) {
                    (WorkspaceReply::Stat(found), Call::IsFile(_)) => {
                        MontyObject::Bool(found.is_file)
                    }
                    (WorkspaceReply::Stat(found), Call::IsDir(_)) => {
                        MontyObject::Bool(found.is_directory)
                    }
                    _ => MontyObject::Bool(true),
                })
            }
            Call::Iterdir(path) => (
                Request::ReadDir {
                    path: workspace_path(path),
                },
                |reply, call| match (reply, call) {
                    (WorkspaceReply::Names(names), Call::Iterdir(path)) => MontyObject::List(
                        names
                            .into_iter()
                            .map(|name| {
                                MontyObject::Path(format!(
                                    "{}/{name}",
                                    path.as_str().trim_end_matches('/')
                                ))
                            })
                            .collect(),
                    ),
                    _ => MontyObject::List(Vec::new()),
                },
            ),
            Call::Mkdir(args) => (
                Request::MakeDir {
                    path: workspace_path(&args.path),
                    recursive: args.parents || args.exist_ok,
                },
                |_, _| MontyObject::None,
            ),
            Call::Unlink(path) | Call::Rmdir(path) => (
                Request::Remove {
                    path: workspace_path(path),
                    recursive: false,
                    force: false,
                },
                |_, _| MontyObject::None,
            ),
            _ => return None,
        };
        Some(match self.host.workspace(&request) {
            Ok(reply) => ExtFunctionResult::Return(answer(reply, call)),
            Err(error)
                if error.code == "ENOENT"
                    && matches!(call, Call::Exists(_) | Call::IsFile(_) | Call::IsDir(_)) =>
            {
                ExtFunctionResult::Return(MontyObject::Bool(false))
            }
            Err(error) => {
                let exc_type = match error.code.as_str() {
                    "ENOENT" => ExcType::FileNotFoundError,
                    "EEXIST" => ExcType::FileExistsError,
                    "EISDIR" => ExcType::IsADirectoryError,
                    "ENOTDIR" => ExcType::NotADirectoryError,
                    "EACCES" | "EPERM" => ExcType::PermissionError,
                    _ => ExcType::OSError,
                };
                ExtFunctionResult::Error(MontyException::new(exc_type, Some(error.message)))
            }
        })
    }

    /// `__sluice_bind__(index)`: the host function of an imported tool.
    fn bind(&mut self, args: &[MontyObject]) -> ExtFunctionResult {
        let index = match args {
            [MontyObject::Int(index)] => usize::try_from(*index).ok(),
            _ => None,
        };
        let Some(tool) = index.and_then(|index| self.bound.get(index)).cloned() else {
            return ExtFunctionResult::Error(MontyException::new(
                ExcType::ImportError,
                Some("import tools with `from servers.<server> import <tool>`".to_owned()),
            ));
        };
        let name = format!("{}.{}", tool.server, tool.python_name);
        self.functions.insert(name.clone(), tool.clone());
        ExtFunctionResult::Return(MontyObject::Function {
            name,
            docstring: None,
        })
    }

    /// `tool_error(e)`: the fields of a failed tool call's exception, or `None`.
    fn tool_error(&self, args: &[MontyObject]) -> ExtFunctionResult {
        let message = match args {
            [MontyObject::Exception { arg, .. }] => arg.as_deref(),
            _ => None,
        };
        let fields = message
            .and_then(|message| self.failures.get(message))
            .map_or(MontyObject::None, |failure| {
                convert::from_json(&failure.fields)
            });
        ExtFunctionResult::Return(fields)
    }

    /// `report_progress(message, fraction=None)`.
    fn progress(
        &mut self,
        args: &[MontyObject],
        kwargs: &[(MontyObject, MontyObject)],
    ) -> ExtFunctionResult {
        let keyword = |name: &str| {
            kwargs.iter().find_map(|(key, value)| {
                matches!(key, MontyObject::String(key) if key == name).then_some(value)
            })
        };
        let message = args.first().or_else(|| keyword("message"));
        let fraction = args.get(1).or_else(|| keyword("fraction"));
        let Some(MontyObject::String(message)) = message else {
            return ExtFunctionResult::Error(MontyException::new(
                ExcType::TypeError,
                Some("report_progress(message, fraction=None): message must be a string".into()),
            ));
        };
        let fraction = match fraction {
            Some(MontyObject::Float(value)) => Some(value.clamp(0.0, 1.0)),
            Some(MontyObject::Int(value)) => Some((*value as f64).clamp(0.0, 1.0)),
            _ => None,
        };
        let now = Instant::now();
        let due = self.last_progress.is_none_or(|last| {
            now.duration_since(last) >= Duration::from_millis(MIN_PROGRESS_INTERVAL_MS)
        });
        if due {
            self.last_progress = Some(now);
            let message: String = message.chars().take(MAX_PROGRESS_MESSAGE_CHARS).collect();
            if let Err(error) = self
                .host
                .send(WorkerMessage::Progress { message, fraction })
            {
                self.stopped.get_or_insert(channel_error(error));
            }
        }
        ExtFunctionResult::Return(MontyObject::None)
    }

    /// Send one tool call, or say why it is not made.
    fn start_call(
        &mut self,
        tool: &BoundTool,
        args: &[MontyObject],
        kwargs: &[(MontyObject, MontyObject)],
        monty_id: u32,
    ) -> Result<(), CallRefused> {
        let arguments = call_arguments(tool, args, kwargs).map_err(CallRefused::Raise)?;
        if self.tool_calls >= self.tool_call_limit {
            return Err(CallRefused::Stop(ExecutionError {
                kind: ErrorKind::ToolCallLimit,
                message: format!(
                    "ToolCallLimit: the execution tried to make more than {} tool calls. Make \
                     fewer calls per execution (batch work, or split it across executions).",
                    self.tool_call_limit
                ),
                line: None,
                column: None,
            }));
        }
        self.tool_calls += 1;
        let call_id = NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed);
        self.host
            .send(WorkerMessage::ToolCall {
                call_id,
                server: tool.server.clone(),
                tool: tool.tool.clone(),
                arguments,
            })
            .map_err(|error| CallRefused::Stop(channel_error(error)))?;
        self.pending.insert(
            call_id,
            PendingCall {
                monty_id,
                tool: tool.clone(),
            },
        );
        Ok(())
    }

    /// Wait for at least one result the code waits for (then take every one already there),
    /// at most until the deadline. A result for a call the code does not wait for yet is kept
    /// until it does.
    fn wait_results(
        &mut self,
        waiting: &[u32],
    ) -> Result<Vec<(u32, ExtFunctionResult)>, ExecutionError> {
        let mut polled_once = false;
        loop {
            let now = Instant::now();
            let mut next_timer: Option<Instant> = None;
            for id in waiting {
                match self.timers.get(id) {
                    Some(ends) if *ends <= now => {
                        self.timers.remove(id);
                        self.arrived
                            .insert(*id, ExtFunctionResult::Return(MontyObject::None));
                    }
                    Some(ends) => next_timer = Some(next_timer.map_or(*ends, |t| t.min(*ends))),
                    None => {}
                }
            }
            let ready: Vec<u32> = waiting
                .iter()
                .copied()
                .filter(|id| self.arrived.contains_key(id))
                .collect();
            let timeout = match self.deadline {
                Some(deadline) => {
                    let left = deadline.saturating_duration_since(Instant::now());
                    if left.is_zero() {
                        return Err(self.timeout_error());
                    }
                    Some(left)
                }
                None => None,
            };
            let wait = if ready.is_empty() {
                match (timeout, next_timer) {
                    (timeout, Some(ends)) => {
                        let until = ends.saturating_duration_since(now);
                        Some(timeout.map_or(until, |timeout| timeout.min(until)))
                    }
                    (timeout, None) => timeout,
                }
            } else if polled_once || self.pending.is_empty() {
                // Failures go back one at a time: Monty 0.0.23 stalls its scheduler when a
                // failure is resolved together with other results of a gather.
                let failure = ready
                    .iter()
                    .copied()
                    .find(|id| matches!(self.arrived.get(id), Some(ExtFunctionResult::Error(_))));
                let deliver = match failure {
                    Some(id) => vec![id],
                    None => ready,
                };
                return Ok(deliver
                    .into_iter()
                    .filter_map(|id| self.arrived.remove(&id).map(|result| (id, result)))
                    .collect());
            } else {
                Some(Duration::ZERO)
            };
            match self.host.wait_tool_result(wait) {
                Ok(Some((call_id, outcome))) => {
                    if let Some(call) = self.pending.remove(&call_id) {
                        let result = self.settle(&call.tool, outcome);
                        self.arrived.insert(call.monty_id, result);
                    }
                }
                Ok(None) => polled_once = !ready.is_empty(),
                Err(error) => return Err(channel_error(error)),
            }
        }
    }

    /// A tool's outcome as what the awaiting code gets.
    fn settle(&mut self, tool: &BoundTool, outcome: ToolOutcome) -> ExtFunctionResult {
        match outcome {
            ToolOutcome::Ok { value } => ExtFunctionResult::Return(convert::from_json(&value)),
            ToolOutcome::Error {
                kind,
                message,
                content,
                retryable,
            } => {
                let text = format!(
                    "ToolError({kind}): {}.{}: {message}",
                    tool.server, tool.python_name
                );
                let fields = json!({
                    "kind": kind.as_str(),
                    "message": message,
                    "content": content,
                    "retryable": retryable,
                    "server": tool.server,
                    "tool": tool.tool,
                });
                self.failures.insert(text.clone(), Failure { kind, fields });
                ExtFunctionResult::Error(MontyException::new(ExcType::RuntimeError, Some(text)))
            }
        }
    }

    /// The execution error for an exception that ended the code.
    fn classify(&self, error: &MontyException, script: &str, inputs: u64) -> ExecutionError {
        if let Some(stopped) = &self.stopped {
            return stopped.clone();
        }
        let exc_type = error.exc_type();
        let text = error.message().unwrap_or_default();
        let kind = match exc_type {
            ExcType::SyntaxError => ErrorKind::SyntaxError,
            ExcType::NotImplementedError if text.contains("does not yet support") => {
                ErrorKind::SyntaxError
            }
            ExcType::ImportError | ExcType::ModuleNotFoundError => ErrorKind::ImportError,
            ExcType::TimeoutError if text.starts_with("time limit exceeded") => ErrorKind::Timeout,
            ExcType::MemoryError if text.starts_with("memory limit exceeded") => {
                ErrorKind::OutOfMemory
            }
            ExcType::RuntimeError => match self.failures.get(text) {
                Some(failure) if failure.kind == ToolErrorKind::PolicyDenied => {
                    ErrorKind::PolicyDenied
                }
                Some(_) => ErrorKind::ToolError,
                None => ErrorKind::RuntimeError,
            },
            _ => ErrorKind::RuntimeError,
        };
        if kind == ErrorKind::Timeout {
            return self.timeout_error();
        }
        let frame = error
            .traceback()
            .iter()
            .rev()
            .find(|frame| frame.filename == script);
        let mut message = rename_inputs(&error.to_string(), inputs, &self.skill_inputs);
        if kind == ErrorKind::SyntaxError && exc_type == ExcType::NotImplementedError {
            message.push_str(
                "\nMonty, the Python interpreter Sluice runs, does not support this construct; \
                 write it another way.",
            );
        }
        if kind == ErrorKind::OutOfMemory {
            message.push_str("\nWork on smaller data per execution.");
        }
        ExecutionError {
            kind,
            message: cut_middle(message.trim_end().to_owned()),
            line: frame.map(|frame| frame.start.line),
            column: frame.map(|frame| frame.start.column),
        }
    }
}

/// `date.today()` and `datetime.now(tz=None)`: the clock is the one host fact Python may read
/// (TypeScript has `Date.now()`). The worker's local time is UTC.
fn clock(call: &monty_types::OsFunctionCall) -> Option<ExtFunctionResult> {
    use monty_types::{MontyDate, MontyDateTime, OsFunctionCall};
    let now = jiff::Timestamp::now();
    let civil = |offset_seconds: i32| {
        jiff::tz::Offset::from_seconds(offset_seconds)
            .ok()
            .map(|offset| offset.to_datetime(now))
    };
    let value = match call {
        OsFunctionCall::DateToday => {
            let today = civil(0)?;
            MontyObject::Date(MontyDate {
                year: i32::from(today.year()),
                month: u8::try_from(today.month()).ok()?,
                day: u8::try_from(today.day()).ok()?,
            })
        }
        OsFunctionCall::DateTimeNow(zone) => {
            let offset = zone.as_ref().map(|zone| zone.offset_seconds);
            let moment = civil(offset.unwrap_or(0))?;
            MontyObject::DateTime(MontyDateTime {
                year: i32::from(moment.year()),
                month: u8::try_from(moment.month()).ok()?,
                day: u8::try_from(moment.day()).ok()?,
                hour: u8::try_from(moment.hour()).ok()?,
                minute: u8::try_from(moment.minute()).ok()?,
                second: u8::try_from(moment.second()).ok()?,
                microsecond: u32::try_from(moment.subsec_nanosecond() / 1000).ok()?,
                offset_seconds: offset,
                timezone_name: zone.as_ref().and_then(|zone| zone.name.clone()),
            })
        }
        _ => return None,
    };
    Some(ExtFunctionResult::Return(value))
}

/// A `pathlib` path as the workspace host reads it: `workspace/x`, `./workspace/x` and
/// `/workspace/x` all name `./workspace/x`; anything else is passed on as written, for the host
/// to refuse.
/// The argument of `sleep(seconds)`: a finite number of seconds, at least 0.
fn sleep_duration(
    args: &[MontyObject],
    kwargs: &[(MontyObject, MontyObject)],
) -> Result<Duration, MontyException> {
    let keyword = kwargs.iter().find_map(|(key, value)| {
        matches!(key, MontyObject::String(key) if key == "seconds").then_some(value)
    });
    let seconds = match (args, keyword) {
        ([MontyObject::Int(value)], None) | ([], Some(MontyObject::Int(value))) => *value as f64,
        ([MontyObject::Float(value)], None) | ([], Some(MontyObject::Float(value))) => *value,
        _ => {
            return Err(MontyException::new(
                ExcType::TypeError,
                Some("sleep(seconds) takes one number: `await sleep(0.5)`".to_owned()),
            ));
        }
    };
    Duration::try_from_secs_f64(seconds).map_err(|_| {
        MontyException::new(
            ExcType::ValueError,
            Some(format!(
                "sleep(seconds) needs a finite number of seconds, 0 or more; got {seconds}"
            )),
        )
    })
}

fn workspace_path(path: &monty_types::MontyPath) -> String {
    let text = path.as_str();
    let relative = text
        .strip_prefix('/')
        .filter(|rest| *rest == "workspace" || rest.starts_with("workspace/"));
    let relative = relative.unwrap_or(text);
    let relative = relative.strip_prefix("./").unwrap_or(relative);
    if relative == "workspace" || relative.starts_with("workspace/") {
        format!("./{relative}")
    } else {
        text.to_owned()
    }
}

/// Why a tool call is not made.
enum CallRefused {
    /// Raise this (catchable) in the calling code.
    Raise(MontyException),
    /// Stop the execution.
    Stop(ExecutionError),
}

/// The input object of a tool call: its keyword arguments, or its one dict argument.
fn call_arguments(
    tool: &BoundTool,
    args: &[MontyObject],
    kwargs: &[(MontyObject, MontyObject)],
) -> Result<Value, MontyException> {
    let usage = || {
        MontyException::new(
            ExcType::TypeError,
            Some(format!(
                "{}() takes keyword arguments (the tool's input fields), for example \
                 `await {}(name=value)`, or one dict of them",
                tool.python_name, tool.python_name
            )),
        )
    };
    let object = match (args, kwargs) {
        ([], pairs) => MontyObject::Dict(pairs.to_vec().into()),
        ([dict @ MontyObject::Dict(_)], []) => dict.clone(),
        _ => return Err(usage()),
    };
    convert::to_json(&object).map_err(|reason| {
        MontyException::new(
            ExcType::TypeError,
            Some(format!(
                "{}(): the arguments cannot be sent as JSON: {reason}",
                tool.python_name
            )),
        )
    })
}

/// The exception type the engine stops code with for an execution error kind.
fn stop_exc_type(kind: &ErrorKind) -> ExcType {
    match kind {
        ErrorKind::Timeout => ExcType::TimeoutError,
        _ => ExcType::RuntimeError,
    }
}

/// Answer a suspension with an uncatchable exception.
fn abort(progress: ReplProgress, exception: MontyException, output: &mut Output) -> Step {
    let print = PrintWriter::Callback(output);
    match progress {
        ReplProgress::FunctionCall(call) => call.abort(exception, print),
        ReplProgress::OsCall(call) => call.abort(exception, print),
        ReplProgress::ResolveFutures(state) => state.abort(exception, print),
        ReplProgress::NameLookup(lookup) => lookup.abort(exception, print),
        complete @ ReplProgress::Complete { .. } => Ok(complete),
    }
}

fn channel_error(error: HostError) -> ExecutionError {
    ExecutionError {
        kind: ErrorKind::InternalError,
        message: format!("Internal error of the sandbox: {error}"),
        line: None,
        column: None,
    }
}

/// Monty's snippet names as the agent knows them: the current execution is `main.py`.
fn rename_inputs(text: &str, inputs: u64, skill_inputs: &HashMap<u64, String>) -> String {
    let mut renamed = text.to_owned();
    for (index, name) in skill_inputs {
        renamed = rename_skill_input(&renamed, *index, name);
    }
    let current = format!("<python-input-{}>", inputs.saturating_sub(1));
    renamed = renamed.replace(&current, "main.py");
    if renamed.contains("<python-input-") {
        for earlier in 0..inputs.saturating_sub(1) {
            renamed = renamed.replace(
                &format!("\"<python-input-{earlier}>\""),
                &format!("\"session input {}\"", earlier + 1),
            );
        }
    }
    renamed
}

/// The traceback lines of the snippet `index`, which loaded the skill `name`, as lines of
/// `skills/<name>/skill.py`: the snippet's first line is the loader's `def`, so line n of the
/// snippet is line n - 1 of the skill.
fn rename_skill_input(text: &str, index: u64, name: &str) -> String {
    let snippet = format!("\"<python-input-{index}>\"");
    let file = format!("\"skills/{name}/skill.py\"");
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find(&snippet) {
        out.push_str(&rest[..at]);
        out.push_str(&file);
        rest = &rest[at + snippet.len()..];
        if let Some(after) = rest.strip_prefix(", line ") {
            let digits = after.bytes().take_while(u8::is_ascii_digit).count();
            if let Ok(line) = after[..digits].parse::<u64>() {
                out.push_str(&format!(", line {}", line.saturating_sub(1).max(1)));
                rest = &after[digits..];
            }
        }
    }
    out.push_str(rest);
    out
}

/// Keep the start and the end of a long message.
fn cut_middle(message: String) -> String {
    if message.len() <= MAX_MESSAGE_BYTES {
        return message;
    }
    let mut head = MAX_MESSAGE_BYTES / 4;
    while !message.is_char_boundary(head) {
        head -= 1;
    }
    let mut tail = message.len() - MAX_MESSAGE_BYTES * 3 / 4;
    while !message.is_char_boundary(tail) {
        tail += 1;
    }
    format!("{}\n  ...\n{}", &message[..head], &message[tail..])
}

#[cfg(test)]
mod tests;
