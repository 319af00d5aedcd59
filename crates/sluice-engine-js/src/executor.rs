//! One execution in a fresh QuickJS runtime: setup, the event loop, and error mapping.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rquickjs::context::EvalOptions;
use rquickjs::function::Opt;
use rquickjs::promise::PromiseState;
use rquickjs::{Context, Ctx, Exception, Function, Module, Object, Promise, Runtime, Value};
use serde_json::Value as Json;
use sluice_worker_protocol::{
    ExecutionError, ExecutionLimits, ExecutionOutcome, LogLevel, MAX_WORKER_FRAME_BYTES,
    ToolOutcome, WorkerMessage,
};

use crate::modules::{Catalog, ImportFailures, MAIN_MODULE, SandboxLoader, SandboxResolver};
use crate::transpile::{LineMap, transpile_module};
use crate::{Execution, Finished, Host, HostError, kinds};

/// The prelude script: installs the globals, returns the engine's helpers.
const PRELUDE: &str = include_str!("prelude.js");
/// Script name of the prelude in stack traces.
const PRELUDE_NAME: &str = "sluice-prelude";
/// Stack limit when the gateway sends 0.
const DEFAULT_STACK_BYTES: usize = 1024 * 1024;
/// Timers one execution may have pending at once.
const MAX_PENDING_TIMERS: usize = 10_000;
/// Room left in a frame for the envelope of a tool call or of `Done`.
const FRAME_ENVELOPE_BYTES: usize = 64 * 1024;
/// Largest JSON text for a tool call's arguments or the result.
const MAX_JSON_BYTES: usize = MAX_WORKER_FRAME_BYTES - FRAME_ENVELOPE_BYTES;
/// Smallest `setInterval` period, as in browsers and Node: a zero period would spin.
const MIN_INTERVAL: Duration = Duration::from_millis(1);

/// Call ids are unique within the process, so a late result of an earlier execution can never
/// be mistaken for an answer to a call of the current one.
static NEXT_CALL_ID: AtomicU64 = AtomicU64::new(1);

/// The QuickJS stack limit for these limits.
pub(crate) fn stack_limit(limits: &ExecutionLimits) -> usize {
    match usize::try_from(limits.stack_bytes) {
        Ok(0) => DEFAULT_STACK_BYTES,
        Ok(bytes) => bytes,
        Err(_) => usize::MAX / 2,
    }
}

/// Run one execution to its end.
///
/// Never panics on agent input; every failure, including one of the host channel, becomes an
/// [`ExecutionError`] in the returned [`Finished`]. The calling thread must have a stack of at
/// least [`crate::thread_stack_bytes`].
pub fn execute(execution: &Execution<'_>, host: &mut dyn Host) -> Finished {
    let started = Instant::now();
    let limits = execution.limits;
    let deadline = started.checked_add(Duration::from_millis(limits.timeout_ms));
    tracing::debug!(
        code_bytes = execution.code.len(),
        timeout_ms = limits.timeout_ms,
        "execution starts"
    );
    let mut output = OutputBudget::new(limits.output_bytes);
    let outcome = match prepare(execution) {
        Ok(prepared) => run(execution, prepared, deadline, &mut output, host),
        Err(error) => ExecutionOutcome::Error(error),
    };
    match &outcome {
        ExecutionOutcome::Ok { .. } => {
            tracing::debug!(elapsed = ?started.elapsed(), "execution succeeded")
        }
        ExecutionOutcome::Error(error) => {
            tracing::debug!(elapsed = ?started.elapsed(), kind = %error.kind, "execution failed");
        }
    }
    Finished {
        outcome,
        dropped_output_bytes: output.dropped,
    }
}

/// What is known before QuickJS starts.
struct Prepared {
    code: String,
    line_map: Rc<LineMap>,
    catalog: Rc<Catalog>,
}

fn prepare(execution: &Execution<'_>) -> Result<Prepared, ExecutionError> {
    // The runtime is needed by every execution; a failure here is the engine's, not the agent's.
    crate::modules::runtime_module()?;
    let transpiled = transpile_module(execution.code, execution.language, "main")?;
    let catalog = Catalog::new(execution.tools);
    catalog.check_imports(&transpiled.imports)?;
    Ok(Prepared {
        code: transpiled.code,
        line_map: Rc::new(transpiled.line_map),
        catalog: Rc::new(catalog),
    })
}

/// Flags the interrupt handler reads; it runs inside QuickJS and must be `Send`.
#[derive(Default)]
struct Flags {
    /// The deadline passed (set by the interrupt handler or the loop).
    timed_out: AtomicBool,
    /// The execution must stop as soon as possible (a fatal error is recorded).
    abort: AtomicBool,
}

fn run(
    execution: &Execution<'_>,
    prepared: Prepared,
    deadline: Option<Instant>,
    output: &mut OutputBudget,
    host: &mut dyn Host,
) -> ExecutionOutcome {
    let limits = execution.limits;
    let runtime = match Runtime::new() {
        Ok(runtime) => runtime,
        Err(error) => return internal(format!("could not create a JavaScript runtime: {error}")),
    };
    if let Ok(memory) = usize::try_from(limits.memory_bytes) {
        runtime.set_memory_limit(memory);
    }
    runtime.set_max_stack_size(stack_limit(limits));
    let flags = Arc::new(Flags::default());
    {
        let flags = flags.clone();
        runtime.set_interrupt_handler(Some(Box::new(move || {
            if flags.abort.load(Ordering::Relaxed) {
                return true;
            }
            if deadline.is_some_and(|deadline| Instant::now() >= deadline) {
                flags.timed_out.store(true, Ordering::Relaxed);
                return true;
            }
            false
        })));
    }
    let import_failures = ImportFailures::default();
    runtime.set_loader(
        SandboxResolver {
            catalog: prepared.catalog.clone(),
            failures: import_failures.clone(),
        },
        SandboxLoader {
            catalog: prepared.catalog.clone(),
        },
    );
    runtime.set_host_promise_rejection_tracker(Some(Box::new(track_rejection)));

    let context = match Context::full(&runtime) {
        Ok(context) => context,
        Err(rquickjs::Error::Allocation) => {
            return ExecutionOutcome::Error(out_of_memory(limits));
        }
        Err(error) => return internal(format!("could not create a JavaScript context: {error}")),
    };
    let (outcome, null_thrown) = context.with(|ctx| {
        let _ = ctx.store_userdata(Rejections::default());
        let state = Rc::new(RefCell::new(State::new(
            limits,
            prepared.line_map.clone(),
            flags.clone(),
        )));
        let mut engine = Engine {
            ctx: ctx.clone(),
            state: state.clone(),
            flags: flags.clone(),
            limits,
            deadline,
            line_map: prepared.line_map.clone(),
            import_failures: import_failures.clone(),
            describe: None,
            result_to_json: None,
            null_thrown: Cell::new(false),
        };
        let outcome = engine.run(&prepared.code, host);
        let null_thrown = engine.null_thrown.get();
        // Release every JavaScript value held on the Rust side while the context is alive:
        // QuickJS aborts if values outlive their runtime.
        {
            let mut state = state.borrow_mut();
            state.release();
            *output = std::mem::take(&mut state.output);
        }
        drop(engine);
        let _ = ctx.remove_userdata::<Rejections>();
        (outcome, null_thrown)
    });
    // QuickJS throws `null` when it cannot even allocate the error for an out-of-memory; tell that
    // apart from agent code that throws `null` by how full the heap is.
    let outcome = match outcome {
        ExecutionOutcome::Error(error) if null_thrown && error.kind == kinds::RUNTIME_ERROR => {
            let usage = runtime.memory_usage();
            if usage.malloc_limit > 0 && usage.malloc_size >= usage.malloc_limit / 4 * 3 {
                ExecutionOutcome::Error(out_of_memory(limits))
            } else {
                ExecutionOutcome::Error(error)
            }
        }
        other => other,
    };
    drop(context);
    drop(runtime);
    outcome
}

/// Rejected promises without a handler, in order; kept by the rejection tracker.
type Rejections<'js> = RefCell<Vec<Value<'js>>>;

/// QuickJS calls this when a promise is rejected without a handler (`handled == false`) and when
/// such a promise gets a handler later (`handled == true`).
fn track_rejection<'js>(ctx: Ctx<'js>, promise: Value<'js>, _reason: Value<'js>, handled: bool) {
    let Some(rejections) = ctx.userdata::<Rejections<'js>>() else {
        return;
    };
    let Ok(mut rejections) = rejections.try_borrow_mut() else {
        return;
    };
    if handled {
        rejections.retain(|rejected| *rejected != promise);
    } else {
        rejections.push(promise);
    }
}

/// A pending tool call's settle functions.
struct PendingCall<'js> {
    resolve: Function<'js>,
    reject: Function<'js>,
    server: String,
    tool: String,
    /// Where in the agent's code the call was made (original position), when known.
    site: Option<(u32, u32)>,
}

/// A tool call that failed, remembered so an uncaught `ToolError` (whose stack, created in an
/// async continuation, no longer shows the agent's code) can point at its call.
struct FailedCall {
    server: String,
    tool: String,
    site: Option<(u32, u32)>,
}

/// Failed calls remembered for positions.
const REMEMBERED_FAILURES: usize = 64;

/// A pending timer.
struct Timer<'js> {
    callback: Function<'js>,
    interval: Option<Duration>,
}

/// State shared by the host functions and the event loop. Never borrowed across a call into
/// JavaScript (host functions borrow it too).
struct State<'js> {
    outbox: Vec<WorkerMessage>,
    calls: HashMap<u64, PendingCall<'js>>,
    calls_made: u64,
    call_limit: u64,
    timers: BTreeMap<(Instant, u64), Timer<'js>>,
    timer_due: HashMap<u64, Instant>,
    next_timer_id: u64,
    output: OutputBudget,
    fatal: Option<ExecutionError>,
    failed_calls: Vec<FailedCall>,
    line_map: Rc<LineMap>,
    flags: Arc<Flags>,
}

impl<'js> State<'js> {
    fn new(limits: &ExecutionLimits, line_map: Rc<LineMap>, flags: Arc<Flags>) -> Self {
        Self {
            outbox: Vec::new(),
            calls: HashMap::new(),
            calls_made: 0,
            call_limit: limits.tool_calls,
            timers: BTreeMap::new(),
            timer_due: HashMap::new(),
            next_timer_id: 1,
            output: OutputBudget::new(limits.output_bytes),
            fatal: None,
            failed_calls: Vec::new(),
            line_map,
            flags,
        }
    }

    /// Drop every JavaScript value.
    fn release(&mut self) {
        self.calls.clear();
        self.timers.clear();
        self.timer_due.clear();
    }

    fn fail(&mut self, error: ExecutionError) {
        if self.fatal.is_none() {
            self.fatal = Some(error);
        }
        self.flags.abort.store(true, Ordering::Relaxed);
    }

    fn log(&mut self, level: LogLevel, text: String) {
        let text = if text.contains(MAIN_MODULE) {
            rewrite_positions(&text, &self.line_map).0
        } else {
            text
        };
        if let Some(text) = self.output.admit(text) {
            self.outbox.push(WorkerMessage::Log { level, text });
        }
    }

    fn add_timer(
        &mut self,
        callback: Function<'js>,
        delay_ms: f64,
        repeat: bool,
    ) -> Result<u64, String> {
        if self.timers.len() >= MAX_PENDING_TIMERS {
            return Err(format!(
                "too many pending timers (the limit is {MAX_PENDING_TIMERS})"
            ));
        }
        let delay = duration_from_ms(delay_ms);
        let interval = repeat.then(|| delay.max(MIN_INTERVAL));
        let id = self.next_timer_id;
        self.next_timer_id += 1;
        let due = far_instant(delay);
        self.timers.insert((due, id), Timer { callback, interval });
        self.timer_due.insert(id, due);
        Ok(id)
    }

    fn clear_timer(&mut self, id: u64) {
        if let Some(due) = self.timer_due.remove(&id) {
            self.timers.remove(&(due, id));
        }
    }

    fn next_timer_due(&self) -> Option<Instant> {
        self.timers.keys().next().map(|(due, _)| *due)
    }

    /// Take the first timer due at `now`; an interval timer is scheduled again right away.
    fn take_due_timer(&mut self, now: Instant) -> Option<Function<'js>> {
        let (&(due, id), _) = self.timers.iter().next()?;
        if due > now {
            return None;
        }
        let timer = self.timers.remove(&(due, id))?;
        match timer.interval {
            Some(interval) => {
                let next = far_instant_from(now, interval);
                self.timers.insert(
                    (next, id),
                    Timer {
                        callback: timer.callback.clone(),
                        interval: Some(interval),
                    },
                );
                self.timer_due.insert(id, next);
            }
            None => {
                self.timer_due.remove(&id);
            }
        }
        Some(timer.callback)
    }
}

fn duration_from_ms(milliseconds: f64) -> Duration {
    if milliseconds.is_finite() && milliseconds > 0.0 {
        // Clamp to a day: a longer timer can never fire before the deadline anyway.
        Duration::from_secs_f64((milliseconds / 1000.0).min(86_400.0))
    } else {
        Duration::ZERO
    }
}

fn far_instant(delay: Duration) -> Instant {
    far_instant_from(Instant::now(), delay)
}

fn far_instant_from(now: Instant, delay: Duration) -> Instant {
    now.checked_add(delay).unwrap_or(now)
}

/// Console output budget.
#[derive(Debug, Default)]
struct OutputBudget {
    remaining: u64,
    dropped: u64,
}

impl OutputBudget {
    fn new(limit: u64) -> Self {
        Self {
            remaining: limit,
            dropped: 0,
        }
    }

    /// The part of `text` that may be forwarded, if any; the rest is counted as dropped.
    fn admit(&mut self, mut text: String) -> Option<String> {
        let length = text.len() as u64;
        if length <= self.remaining {
            self.remaining -= length;
            return Some(text);
        }
        if self.remaining == 0 {
            self.dropped = self.dropped.saturating_add(length);
            return None;
        }
        let mut cut = usize::try_from(self.remaining)
            .unwrap_or(usize::MAX)
            .min(text.len());
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        self.dropped = self.dropped.saturating_add(length - cut as u64);
        self.remaining = 0;
        Some(text)
    }
}

/// The event loop and everything that needs the context.
struct Engine<'js, 'a> {
    ctx: Ctx<'js>,
    state: Rc<RefCell<State<'js>>>,
    flags: Arc<Flags>,
    limits: &'a ExecutionLimits,
    deadline: Option<Instant>,
    line_map: Rc<LineMap>,
    import_failures: ImportFailures,
    describe: Option<Function<'js>>,
    result_to_json: Option<Function<'js>>,
    /// An uncaught `null` was classified (see [`run`]).
    null_thrown: Cell<bool>,
}

/// Why the loop stopped.
type Stop = ExecutionError;

impl<'js> Engine<'js, '_> {
    fn run(&mut self, code: &str, host: &mut dyn Host) -> ExecutionOutcome {
        match self.run_inner(code, host) {
            Ok(result) => match self.flush(host) {
                Ok(()) => ExecutionOutcome::Ok { result },
                Err(error) => ExecutionOutcome::Error(error),
            },
            Err(error) => {
                // Logs written just before the failure still reach the gateway; queued tool
                // calls do not.
                self.flags.abort.store(true, Ordering::Relaxed);
                self.state
                    .borrow_mut()
                    .outbox
                    .retain(|message| matches!(message, WorkerMessage::Log { .. }));
                let _ = self.flush(host);
                ExecutionOutcome::Error(error)
            }
        }
    }

    fn run_inner(&mut self, code: &str, host: &mut dyn Host) -> Result<Json, Stop> {
        self.install_globals()?;
        let module = match Module::declare(self.ctx.clone(), MAIN_MODULE, code) {
            Ok(module) => module,
            Err(error) => {
                let value = self.caught(error);
                let mut stop = self.classify(value, None);
                if stop.kind == kinds::RUNTIME_ERROR {
                    stop.kind = kinds::SYNTAX_ERROR.to_owned();
                }
                return Err(stop);
            }
        };
        let (module, evaluation) = match module.eval() {
            Ok(evaluated) => evaluated,
            Err(error) => {
                let value = self.caught(error);
                return Err(self.classify(value, None));
            }
        };
        // First the module's evaluation, then (when the default export is a promise) that.
        let mut waiting = evaluation.clone();
        let mut awaiting_default = false;
        loop {
            self.drain_jobs(host)?;
            // Like Node, a rejection nobody handled by the time the job queue is empty is fatal;
            // the promises the loop itself waits on are handled here.
            if let Some(reason) = self.unhandled_rejection(&[&evaluation, &waiting]) {
                return Err(self.classify(reason, Some("Unhandled promise rejection")));
            }
            match waiting.state() {
                PromiseState::Pending => {}
                PromiseState::Rejected => {
                    let reason = self.rejection(&waiting);
                    return Err(self.classify(reason, None));
                }
                PromiseState::Resolved if !awaiting_default => {
                    let namespace = module.namespace().map_err(|error| self.stop_for(error))?;
                    let default: Value<'js> = namespace
                        .get("default")
                        .map_err(|error| self.stop_for(error))?;
                    match default.as_promise() {
                        Some(promise) => {
                            waiting = promise.clone();
                            awaiting_default = true;
                            continue;
                        }
                        None => return self.to_json(default),
                    }
                }
                PromiseState::Resolved => {
                    let value = match waiting.result::<Value<'js>>() {
                        Some(Ok(value)) => value,
                        Some(Err(error)) => return Err(self.stop_for(error)),
                        None => continue,
                    };
                    return self.to_json(value);
                }
            }
            if self.fire_due_timer()? {
                continue;
            }
            self.wait(host)?;
        }
    }

    /// Define the globals and keep the engine's helpers.
    fn install_globals(&mut self) -> Result<(), Stop> {
        let ctx = self.ctx.clone();
        let host = Object::new(ctx.clone()).map_err(|error| self.stop_for(error))?;
        let state = self.state.clone();
        let log = Function::new(ctx.clone(), move |level: i32, text: String| {
            let level = match level {
                1 => LogLevel::Warn,
                2 => LogLevel::Error,
                _ => LogLevel::Log,
            };
            state.borrow_mut().log(level, text);
        });
        let state = self.state.clone();
        let set_timer = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>,
                  callback: Function<'js>,
                  delay: f64,
                  repeat: bool|
                  -> rquickjs::Result<f64> {
                let added = state.borrow_mut().add_timer(callback, delay, repeat);
                match added {
                    Ok(id) => Ok(id as f64),
                    Err(message) => Err(Exception::throw_range(&ctx, &message)),
                }
            },
        );
        let state = self.state.clone();
        let clear_timer = Function::new(ctx.clone(), move |id: f64| {
            if id.is_finite() && id >= 1.0 {
                state.borrow_mut().clear_timer(id as u64);
            }
        });
        let state = self.state.clone();
        let call_tool = Function::new(
            ctx.clone(),
            move |ctx: Ctx<'js>, server: String, tool: String, input: Opt<Value<'js>>| {
                call_tool(&ctx, &state, server, tool, input.0)
            },
        );
        let functions = [
            ("log", log),
            ("setTimer", set_timer),
            ("clearTimer", clear_timer),
            ("callTool", call_tool),
        ];
        for (name, function) in functions {
            let function = function.map_err(|error| self.stop_for(error))?;
            host.set(name, function)
                .map_err(|error| self.stop_for(error))?;
        }
        let mut options = EvalOptions::default();
        options.global = true;
        options.strict = true;
        options.filename = Some(PRELUDE_NAME.to_owned());
        let prelude: Function<'js> = ctx
            .eval_with_options(PRELUDE, options)
            .map_err(|error| self.stop_for(error))?;
        let helpers: Object<'js> = prelude
            .call((host,))
            .map_err(|error| self.stop_for(error))?;
        self.describe = helpers.get("describe").ok();
        self.result_to_json = Some(
            helpers
                .get("resultToJson")
                .map_err(|error| self.stop_for(error))?,
        );
        Ok(())
    }

    /// Run every pending job, sending what the jobs queued.
    fn drain_jobs(&mut self, host: &mut dyn Host) -> Result<(), Stop> {
        loop {
            self.check_stop()?;
            let ran = self.ctx.execute_pending_job();
            self.flush(host)?;
            if !ran {
                return self.check_stop();
            }
        }
    }

    /// Stop when a limit was hit.
    fn check_stop(&self) -> Result<(), Stop> {
        if let Some(error) = self.state.borrow().fatal.clone() {
            return Err(error);
        }
        if self.flags.timed_out.load(Ordering::Relaxed)
            || self
                .deadline
                .is_some_and(|deadline| Instant::now() >= deadline)
        {
            self.flags.timed_out.store(true, Ordering::Relaxed);
            return Err(self.timeout());
        }
        Ok(())
    }

    /// Send what host functions queued. Once the execution is failing, only logs are sent:
    /// tool calls queued in the same burst as the failure would never be awaited.
    fn flush(&self, host: &mut dyn Host) -> Result<(), Stop> {
        let (messages, failing) = {
            let mut state = self.state.borrow_mut();
            let failing = state.fatal.is_some() || self.flags.timed_out.load(Ordering::Relaxed);
            (std::mem::take(&mut state.outbox), failing)
        };
        for message in messages {
            if failing && matches!(message, WorkerMessage::ToolCall { .. }) {
                continue;
            }
            host.send(message).map_err(host_failed)?;
        }
        Ok(())
    }

    /// Fire the first due timer, if one is due. An exception it throws ends the execution.
    fn fire_due_timer(&mut self) -> Result<bool, Stop> {
        let callback = self.state.borrow_mut().take_due_timer(Instant::now());
        let Some(callback) = callback else {
            return Ok(false);
        };
        if let Err(error) = callback.call::<_, ()>(()) {
            let value = self.caught(error);
            return Err(self.classify(value, None));
        }
        Ok(true)
    }

    /// Block until a tool result arrives, the next timer is due or the deadline passes.
    fn wait(&mut self, host: &mut dyn Host) -> Result<(), Stop> {
        let (next_timer, calls_pending) = {
            let state = self.state.borrow();
            (state.next_timer_due(), !state.calls.is_empty())
        };
        if !calls_pending && next_timer.is_none() {
            return Err(ExecutionError {
                kind: kinds::RUNTIME_ERROR.to_owned(),
                message: "The code awaits a promise that can never settle: no tool call, timer or \
                          other work is pending (for example `await new Promise(() => {})`, or a \
                          resolve function that is never called)."
                    .to_owned(),
                line: None,
                column: None,
            });
        }
        let wake = match (next_timer, self.deadline) {
            (Some(timer), Some(deadline)) => Some(timer.min(deadline)),
            (timer, deadline) => timer.or(deadline),
        };
        let timeout = wake.map(|wake| wake.saturating_duration_since(Instant::now()));
        if !calls_pending {
            if let Some(timeout) = timeout {
                std::thread::sleep(timeout);
            }
            return Ok(());
        }
        if let Some((call_id, outcome)) = host.wait_tool_result(timeout).map_err(host_failed)? {
            self.deliver(call_id, outcome);
        }
        Ok(())
    }

    /// Settle the promise of a tool call.
    fn deliver(&mut self, call_id: u64, outcome: ToolOutcome) {
        let call = self.state.borrow_mut().calls.remove(&call_id);
        let Some(call) = call else {
            tracing::warn!(call_id, "ignoring a tool result for an unknown call id");
            return;
        };
        let ctx = self.ctx.clone();
        let settled = match outcome {
            ToolOutcome::Ok { value } => match ctx.json_parse(value.to_string()) {
                Ok(value) => call.resolve.call::<_, ()>((value,)),
                Err(error) => {
                    let value = self.caught(error);
                    call.reject.call::<_, ()>((value,))
                }
            },
            ToolOutcome::Error {
                kind,
                message,
                content,
                retryable,
            } => {
                {
                    let mut state = self.state.borrow_mut();
                    if state.failed_calls.len() >= REMEMBERED_FAILURES {
                        state.failed_calls.remove(0);
                    }
                    state.failed_calls.push(FailedCall {
                        server: call.server.clone(),
                        tool: call.tool.clone(),
                        site: call.site,
                    });
                }
                let failure = (|| -> rquickjs::Result<Object<'js>> {
                    let failure = Object::new(ctx.clone())?;
                    failure.set("kind", kind)?;
                    failure.set("message", message)?;
                    if let Some(content) = content {
                        failure.set("content", ctx.json_parse(content.to_string())?)?;
                    }
                    failure.set("retryable", retryable)?;
                    Ok(failure)
                })();
                match failure {
                    Ok(failure) => call.reject.call::<_, ()>((failure,)),
                    Err(error) => {
                        let value = self.caught(error);
                        call.reject.call::<_, ()>((value,))
                    }
                }
            }
        };
        if settled.is_err() {
            // Only an interrupt or an out-of-memory can fail here; the loop reports it.
            let _ = self.ctx.catch();
        }
    }

    /// The reason of a rejected promise.
    fn rejection(&self, promise: &Promise<'js>) -> Value<'js> {
        match promise.result::<Value<'js>>() {
            Some(Err(_)) => self.ctx.catch(),
            Some(Ok(value)) => value,
            None => Value::new_undefined(self.ctx.clone()),
        }
    }

    /// The reason of the oldest rejection nobody handled, except the promises the loop waits on.
    fn unhandled_rejection(&self, awaited: &[&Promise<'js>]) -> Option<Value<'js>> {
        let promise = {
            let rejections = self.ctx.userdata::<Rejections<'js>>()?;
            let rejections = rejections.try_borrow().ok()?;
            rejections
                .iter()
                .find(|promise| !awaited.iter().any(|awaited| awaited.as_value() == *promise))
                .cloned()?
        };
        let promise = promise.into_promise()?;
        Some(self.rejection(&promise))
    }

    /// The pending exception for a failed call into QuickJS.
    fn caught(&self, error: rquickjs::Error) -> Value<'js> {
        match error {
            rquickjs::Error::Exception => self.ctx.catch(),
            other => {
                let message = other.to_string();
                match Exception::from_message(self.ctx.clone(), &message) {
                    Ok(exception) => exception.into_value(),
                    Err(_) => Value::new_undefined(self.ctx.clone()),
                }
            }
        }
    }

    fn stop_for(&self, error: rquickjs::Error) -> Stop {
        if matches!(error, rquickjs::Error::Allocation) {
            return out_of_memory(self.limits);
        }
        let value = self.caught(error);
        self.classify(value, None)
    }

    /// The error for an uncaught value.
    fn classify(&self, value: Value<'js>, prefix: Option<&str>) -> Stop {
        if let Some(error) = self.state.borrow().fatal.clone() {
            return error;
        }
        if self.flags.timed_out.load(Ordering::Relaxed) {
            return self.timeout();
        }
        let object = value.as_object();
        let text_property = |name: &str| -> Option<String> {
            let property: Value<'js> = object?.get(name).ok()?;
            property.as_string()?.to_string().ok()
        };
        let name = text_property("name");
        let message = text_property("message");
        let is_error = value.is_error();
        if is_error
            && name.as_deref() == Some("InternalError")
            && message
                .as_deref()
                .is_some_and(|message| message.contains("out of memory"))
        {
            return out_of_memory(self.limits);
        }
        if value.is_uncatchable_error() {
            return internal_error("the JavaScript engine stopped the code").into_error();
        }
        if value.is_null() {
            self.null_thrown.set(true);
        }
        let description = collapse_repeated_lines(&self.describe(&value));
        let (description, location) = rewrite_positions(&description, &self.line_map);
        let (line, column) =
            location.map_or((None, None), |(line, column)| (Some(line), Some(column)));
        let with_prefix = |text: String| match prefix {
            Some(prefix) => format!("{prefix}: {text}"),
            None => text,
        };
        if is_error
            && name.as_deref() == Some("ToolError")
            && let Some((text, location)) = self.tool_error(object, message.as_deref(), location)
        {
            let (line, column) =
                location.map_or((None, None), |(line, column)| (Some(line), Some(column)));
            return ExecutionError {
                kind: kinds::TOOL_ERROR.to_owned(),
                message: with_prefix(text),
                line,
                column,
            };
        }
        if let Some(message) = &message {
            let failures = self.import_failures.borrow();
            if failures.iter().any(|failure| failure == message) {
                return ExecutionError {
                    kind: kinds::IMPORT_ERROR.to_owned(),
                    message: with_prefix(message.clone()),
                    line,
                    column,
                };
            }
        }
        let mut message = if is_error || prefix.is_some() {
            description
        } else {
            format!("Uncaught {description}")
        };
        if is_error && name.as_deref() == Some("RangeError") && message.contains("stack") {
            message.push_str(&format!(
                "\n(The JavaScript stack is limited to {} bytes: avoid deep recursion.)",
                stack_limit(self.limits)
            ));
        }
        ExecutionError {
            kind: kinds::RUNTIME_ERROR.to_owned(),
            message: with_prefix(message),
            line,
            column,
        }
    }

    /// Message and position of an uncaught `ToolError` from the runtime.
    fn tool_error(
        &self,
        object: Option<&Object<'js>>,
        message: Option<&str>,
        location: Option<(u32, u32)>,
    ) -> Option<(String, Option<(u32, u32)>)> {
        let object = object?;
        let text = |name: &str| -> Option<String> {
            let value: Value<'js> = object.get(name).ok()?;
            value.as_string()?.to_string().ok()
        };
        let kind = text("kind")?;
        let server = text("server").unwrap_or_default();
        let tool = text("tool").unwrap_or_default();
        let retryable = object.get::<_, bool>("retryable").unwrap_or(false);
        let location = location.or_else(|| {
            let state = self.state.borrow();
            state
                .failed_calls
                .iter()
                .rev()
                .find(|call| call.server == server && call.tool == tool)
                .and_then(|call| call.site)
        });
        let message = format!(
            "ToolError: {} (kind: {kind}, retryable: {retryable})",
            message.unwrap_or("the tool call failed")
        );
        Some((message, location))
    }

    /// Text of a value, for error messages.
    fn describe(&self, value: &Value<'js>) -> String {
        let described = self
            .describe
            .as_ref()
            .and_then(|describe| describe.call::<_, String>((value.clone(),)).ok());
        match described {
            Some(text) => text,
            None => {
                let _ = self.ctx.catch();
                value
                    .as_string()
                    .and_then(|text| text.to_string().ok())
                    .unwrap_or_else(|| format!("a value of type {}", value.type_name()))
            }
        }
    }

    /// The module's result as JSON.
    fn to_json(&self, value: Value<'js>) -> Result<Json, Stop> {
        let Some(result_to_json) = &self.result_to_json else {
            return Err(internal_error("the result converter is missing").into_error());
        };
        let text: String = match result_to_json.call((value,)) {
            Ok(text) => text,
            Err(error) => {
                let reason = self.caught(error);
                let mut stop = self.classify(
                    reason,
                    Some("The default export could not be converted to JSON"),
                );
                if stop.kind == kinds::TOOL_ERROR {
                    stop.kind = kinds::RUNTIME_ERROR.to_owned();
                }
                return Err(stop);
            }
        };
        if text.len() > MAX_JSON_BYTES {
            return Err(ExecutionError {
                kind: kinds::RUNTIME_ERROR.to_owned(),
                message: format!(
                    "The default export is {} bytes of JSON; the limit is {MAX_JSON_BYTES} bytes. \
                     Return a summary and log or page through the rest.",
                    text.len()
                ),
                line: None,
                column: None,
            });
        }
        serde_json::from_str(&text).map_err(|error| {
            internal_error(&format!("the result is not valid JSON: {error}")).into_error()
        })
    }

    fn timeout(&self) -> Stop {
        ExecutionError {
            kind: kinds::TIMEOUT.to_owned(),
            message: format!(
                "The execution did not finish within its time limit of {} ms.",
                self.limits.timeout_ms
            ),
            line: None,
            column: None,
        }
    }
}

/// `__sluiceHost.callTool`: queue a `ToolCall`, return its promise.
fn call_tool<'js>(
    ctx: &Ctx<'js>,
    state: &Rc<RefCell<State<'js>>>,
    server: String,
    tool: String,
    input: Option<Value<'js>>,
) -> rquickjs::Result<Promise<'js>> {
    {
        let mut state = state.borrow_mut();
        if state.fatal.is_some() {
            return Err(Exception::throw_internal(ctx, "the execution is ending"));
        }
        if state.calls_made >= state.call_limit {
            let limit = state.call_limit;
            state.fail(ExecutionError {
                kind: kinds::TOOL_CALL_LIMIT.to_owned(),
                message: format!(
                    "The code tried to make more than {limit} tool calls, the limit for one \
                     execution (the call to {server}.{tool} was refused). Make fewer calls per \
                     execution, for example by narrowing queries or splitting the work."
                ),
                line: None,
                column: None,
            });
            return Err(Exception::throw_range(
                ctx,
                &format!("tool call limit of {limit} reached"),
            ));
        }
    }
    let arguments = match input {
        None => Json::Object(serde_json::Map::new()),
        Some(input) => {
            let text = ctx.json_stringify(input)?;
            match text {
                None => Json::Object(serde_json::Map::new()),
                Some(text) => {
                    let text = text.to_string()?;
                    if text.len() > MAX_JSON_BYTES {
                        return Err(Exception::throw_range(
                            ctx,
                            &format!(
                                "the arguments of {server}.{tool} are {} bytes of JSON; the limit \
                                 is {MAX_JSON_BYTES} bytes",
                                text.len()
                            ),
                        ));
                    }
                    serde_json::from_str(&text).map_err(|error| {
                        Exception::throw_type(ctx, &format!("the arguments are not JSON: {error}"))
                    })?
                }
            }
        }
    };
    // Creating an error can run agent code (`Error.prepareStackTrace`): no borrow across it.
    let line_map = state.borrow().line_map.clone();
    let site = call_site(ctx, &line_map);
    let (promise, resolve, reject) = ctx.promise()?;
    let call_id = NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed);
    let mut state = state.borrow_mut();
    state.calls_made += 1;
    state.calls.insert(
        call_id,
        PendingCall {
            resolve,
            reject,
            server: server.clone(),
            tool: tool.clone(),
            site,
        },
    );
    state.outbox.push(WorkerMessage::ToolCall {
        call_id,
        server,
        tool,
        arguments,
    });
    Ok(promise)
}

/// Collapse runs of identical lines (a stack overflow's frames) to one line and a count.
fn collapse_repeated_lines(text: &str) -> String {
    let mut out = String::with_capacity(text.len().min(4096));
    let mut lines = text.split('\n').peekable();
    while let Some(line) = lines.next() {
        let mut repeats = 0usize;
        while lines.peek() == Some(&line) {
            lines.next();
            repeats += 1;
        }
        if !out.is_empty() {
            out.push('\n');
        }
        out.push_str(line);
        if repeats > 0 {
            out.push_str(&format!(
                "\n    ... the line above {repeats} more time{}",
                if repeats == 1 { "" } else { "s" }
            ));
        }
    }
    out
}

/// The innermost position in the agent's module on the current JavaScript stack.
fn call_site(ctx: &Ctx<'_>, line_map: &LineMap) -> Option<(u32, u32)> {
    let stack = Exception::from_message(ctx.clone(), "").ok()?.stack()?;
    rewrite_positions(&stack, line_map).1
}

/// Rewrite every `main.ts:LINE:COLUMN` in `text` to original positions; also return the first
/// (mapped) position found.
pub(crate) fn rewrite_positions(text: &str, line_map: &LineMap) -> (String, Option<(u32, u32)>) {
    let marker = format!("{MAIN_MODULE}:");
    let mut out = String::with_capacity(text.len());
    let mut first = None;
    let mut rest = text;
    while let Some(index) = rest.find(&marker) {
        let after = index + marker.len();
        out.push_str(&rest[..after]);
        rest = &rest[after..];
        let line_digits = rest.bytes().take_while(u8::is_ascii_digit).count();
        let line: Option<u32> = rest[..line_digits].parse().ok();
        let remainder = &rest[line_digits..];
        let column_digits = remainder
            .strip_prefix(':')
            .map(|tail| tail.bytes().take_while(u8::is_ascii_digit).count())
            .unwrap_or(0);
        let column: Option<u32> = if column_digits > 0 {
            remainder[1..=column_digits].parse().ok()
        } else {
            None
        };
        let Some(line) = line else { continue };
        let mapped = line_map.original(line, column.unwrap_or(1));
        let consumed = line_digits
            + if column_digits > 0 {
                1 + column_digits
            } else {
                0
            };
        match mapped {
            Some((original_line, original_column)) => {
                first.get_or_insert((original_line, original_column));
                if column.is_some() {
                    out.push_str(&format!("{original_line}:{original_column}"));
                } else {
                    out.push_str(&original_line.to_string());
                }
            }
            None => out.push_str(&rest[..consumed]),
        }
        rest = &rest[consumed..];
    }
    out.push_str(rest);
    (out, first)
}

fn out_of_memory(limits: &ExecutionLimits) -> ExecutionError {
    ExecutionError {
        kind: kinds::OUT_OF_MEMORY.to_owned(),
        message: format!(
            "The code ran out of memory: the JavaScript heap is limited to {} bytes. Process data \
             in smaller pieces and keep less of it at once.",
            limits.memory_bytes
        ),
        line: None,
        column: None,
    }
}

struct InternalFailure(String);

impl InternalFailure {
    fn into_error(self) -> ExecutionError {
        ExecutionError {
            kind: kinds::INTERNAL_ERROR.to_owned(),
            message: self.0,
            line: None,
            column: None,
        }
    }
}

fn internal_error(message: &str) -> InternalFailure {
    InternalFailure(format!("Internal error of the sandbox: {message}"))
}

fn internal(message: String) -> ExecutionOutcome {
    ExecutionOutcome::Error(internal_error(&message).into_error())
}

fn host_failed(error: HostError) -> Stop {
    internal_error(&error.to_string()).into_error()
}
