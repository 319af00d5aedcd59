//! Executions in QuickJS: the [`Engine`] (fresh runtimes and sessions), setup, the event loop,
//! and error mapping.

use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, HashMap};
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use rquickjs::function::Opt;
use rquickjs::loader::{Bundle, Loader};
use rquickjs::module::Evaluated;
use rquickjs::promise::PromiseState;
use rquickjs::{
    Array, Context, Ctx, Exception, Function, JsLifetime, Module, Object, Persistent, Promise,
    Runtime, Value,
};
use serde_json::Value as Json;
use sluice_worker_protocol::{
    ErrorKind, ExecutionError, ExecutionLimits, ExecutionOutcome, Language, LogLevel,
    MAX_PROGRESS_MESSAGE_CHARS, MAX_WORKER_FRAME_BYTES, MIN_PROGRESS_INTERVAL_MS, ToolErrorKind,
    ToolOutcome, WorkerMessage,
};

use crate::FileEncoding;
use crate::modules::{
    Catalog, CatalogSlot, ImportFailures, ModuleLink, SandboxLoader, SandboxResolver, SkillCache,
    agent_module_name,
};
use crate::positions::SourceMaps;
use crate::preparer::{self, Made, Preparer, PreparerHooks};
use crate::transpile::{LineMap, check_dynamic_code, session_bindings, transpile_module};
use crate::workspace::{FLAG_BASE64, FLAG_FORCE, FLAG_RECURSIVE, OPERATIONS};
use crate::{
    CheckReport, ExecuteJob, Finished, Host, HostError, MAX_REGEX_SOURCE_CHARS, WorkspaceReply,
    WorkspaceRequest,
};

/// Module name of the prelude (in stack traces).
const PRELUDE_NAME: &str = "sluice-prelude";
/// The prelude module (its default export installs the globals and returns the engine's
/// helpers), compiled to QuickJS bytecode when this crate is built: a new runtime loads it
/// instead of parsing and compiling 20 KB of JavaScript, which was three quarters of a warm
/// execution's CPU time in the worker.
static PRELUDE: Bundle = rquickjs::embed! { "sluice-prelude": "src/prelude.js" };
/// The prelude's source, which the bytecode above is compiled from: named here so that cargo
/// rebuilds this crate, and so the bytecode, when it changes.
const _PRELUDE_SOURCE: &str = include_str!("prelude.js");
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
/// Time allowed for publishing a session execution's declarations. Only the engine's own code
/// runs then (generated accessors and the prelude's helper), so this is a safety net.
const PUBLISH_ALLOWANCE: Duration = Duration::from_secs(1);
/// Heap for compiling code in [`check`].
const CHECK_MEMORY_BYTES: usize = 64 * 1024 * 1024;
/// Added to the message of an error that ends a session.
const SESSION_DISCARDED: &str = "The session's JavaScript state was discarded: the next \
    execution starts in a fresh runtime, without the variables and functions defined so far.";

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

/// Runs executions one after another on the calling thread, and keeps a session's runtime
/// between them.
///
/// An execution with `keep_state: false` runs in a fresh QuickJS runtime that is dropped at its
/// end (and ends a kept session first). An execution with `keep_state: true` runs in the kept
/// runtime if there is one (else a new one) and keeps it afterwards, unless it ended with
/// `Timeout`, `OutOfMemory` or `InternalError` ([`ErrorKind::ends_session`]): then the runtime is
/// dropped and the error's message says so. Transpiled skills are cached across all executions
/// of one engine.
///
/// The engine must stay on the thread that created it (QuickJS values are not shared between
/// threads), and that thread needs a stack of at least [`crate::thread_stack_bytes`].
#[derive(Default)]
pub struct Engine {
    session: Option<Session>,
    /// A fresh runtime made ahead, never given any code.
    spare: Option<Spare>,
    /// The runtime of the last fresh execution, freed by [`Engine::tidy`] (freeing a runtime
    /// takes a while: not before the execution's answer is out).
    retired: Option<Session>,
    /// Makes and frees runtimes on a thread of its own; without it, this thread does.
    preparer: Option<Preparer<Shell>>,
    /// What the runtime ordered from the preparer, and not received yet, is for.
    ordered: Option<Fit>,
    /// The last wait for an ordered runtime came to nothing: make runtimes here, without
    /// waiting, until the preparer delivers one again.
    starved: bool,
    /// Fresh executions that ran in a runtime the preparer made.
    made_ahead_used: u64,
    skills: Rc<RefCell<SkillCache>>,
}

/// Where the runtime [`Engine::prepare`] was asked for is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NextRuntime {
    /// It is made (or could not be: the execution that needs it will say why).
    Ready,
    /// The preparer is making it, and announces it when it is made.
    Ordered,
}

/// A runtime made before it is needed.
struct Spare {
    /// What it was made for.
    fit: Fit,
    shell: Shell,
    /// Made by the preparer (else by the engine's own thread).
    made_ahead: bool,
}

impl std::fmt::Debug for Engine {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("Engine")
            .field("has_session", &self.session.is_some())
            .field("has_preparer", &self.preparer.is_some())
            .field("runtimes_made_ahead", &self.made_ahead_used)
            .finish()
    }
}

impl Engine {
    /// An engine without a session, which makes and frees runtimes on the calling thread.
    pub fn new() -> Self {
        Self::default()
    }

    /// An engine that makes runtimes ahead and frees used ones on a thread of its own (see
    /// [`PreparerHooks`]), which calls `announce` each time it has made a runtime that
    /// [`Engine::prepare`] ordered. The thread runs while there is work and ends when idle;
    /// whenever one cannot start, the engine does the work itself, as [`Engine::new`]'s does.
    pub fn with_preparer(
        hooks: PreparerHooks,
        announce: impl Fn() + Send + Sync + 'static,
    ) -> Self {
        Self {
            preparer: Some(Preparer::new(hooks, Shell::made_ahead, Box::new(announce))),
            ..Self::new()
        }
    }

    /// Have the runtime the next fresh execution with these limits will run in made now, while
    /// nothing waits for it: a new QuickJS runtime and context with the prelude installed,
    /// which no code has touched. With a preparer it is ordered from there; else it is made on
    /// this thread. An execution with other memory or stack limits makes its own.
    ///
    /// Returns [`NextRuntime::Ready`] when the runtime is there now, and [`NextRuntime::Ordered`]
    /// when the preparer is making it (it announces it when made).
    pub fn prepare(&mut self, limits: &ExecutionLimits) -> NextRuntime {
        self.receive();
        let fit = Fit::of(limits);
        if self.spare.as_ref().is_some_and(|spare| spare.fit == fit) {
            return NextRuntime::Ready;
        }
        if self.ordered == Some(fit) {
            return NextRuntime::Ordered;
        }
        if self.ordered.is_none()
            && let Some(preparer) = &mut self.preparer
            && preparer.order(limits)
        {
            self.ordered = Some(fit);
            return NextRuntime::Ordered;
        }
        if let Ok(shell) = Shell::new(limits) {
            self.keep_spare(Spare {
                fit,
                shell,
                made_ahead: false,
            });
        }
        NextRuntime::Ready
    }

    /// End a kept session, if there is one (an execution in another language that does not
    /// keep state ends it too, as a fresh execution here would).
    pub fn end_session(&mut self) {
        self.session = None;
    }

    /// Free the runtime of the last fresh execution, if it was not freed yet: on the
    /// preparer's thread when there is one and it is not behind.
    pub fn tidy(&mut self) {
        let Some(session) = self.retired.take() else {
            return;
        };
        if self.preparer.is_some()
            && let Some(shell) = session.into_shell()
        {
            self.free(shell);
        }
    }

    /// Take what the preparer made since the last look.
    fn receive(&mut self) {
        while let Some(made) = self.preparer.as_ref().and_then(Preparer::try_take) {
            self.received(made);
        }
    }

    fn received(&mut self, made: Made<Shell>) {
        self.ordered = None;
        self.starved = false;
        if let Some(shell) = made.runtime {
            self.keep_spare(Spare {
                fit: Fit::of(&made.limits),
                shell,
                made_ahead: true,
            });
        }
    }

    /// Keep this runtime as the spare; one made for other limits before is freed.
    fn keep_spare(&mut self, spare: Spare) {
        if let Some(old) = self.spare.replace(spare) {
            self.free(old.shell);
        }
    }

    /// Free a runtime no session uses: on the preparer's thread if it takes it, else here.
    fn free(&mut self, shell: Shell) {
        if let Some(preparer) = &mut self.preparer {
            // Given back when the preparer is behind: dropped here.
            let _ = preparer.free(shell);
        }
    }

    /// Fresh runtimes the preparer made that executions ran in.
    #[cfg(test)]
    pub(crate) fn runtimes_made_ahead(&self) -> u64 {
        self.made_ahead_used
    }

    /// Used runtimes handed to the preparer and not freed yet.
    #[cfg(test)]
    pub(crate) fn runtimes_waiting_to_be_freed(&self) -> usize {
        self.preparer.as_ref().map_or(0, Preparer::unfreed)
    }

    /// Whether the preparer has a thread running now.
    #[cfg(test)]
    pub(crate) fn preparer_thread_runs(&self) -> bool {
        self.preparer.as_ref().is_some_and(Preparer::has_thread)
    }

    /// Wait until the spare is there (made here, or arrived from the preparer).
    #[cfg(test)]
    pub(crate) fn wait_for_spare(&mut self, timeout: Duration) -> bool {
        let give_up = Instant::now() + timeout;
        loop {
            self.receive();
            if self.spare.is_some() {
                return true;
            }
            if Instant::now() >= give_up {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }

    /// The spare, if it was made for `fit`.
    fn take_spare(&mut self, fit: Fit) -> Option<Shell> {
        match self.spare.take() {
            Some(spare) if spare.fit == fit => {
                if spare.made_ahead {
                    self.made_ahead_used += 1;
                }
                Some(spare.shell)
            }
            other => {
                self.spare = other;
                None
            }
        }
    }

    /// A new runtime for these limits: the spare when it fits; else the one ordered for them if
    /// it comes within [`preparer::WAIT`] (unless the last such wait failed); else one made now.
    fn fresh_session(&mut self, limits: &ExecutionLimits) -> Result<Session, ExecutionError> {
        let fit = Fit::of(limits);
        self.receive();
        if let Some(shell) = self.take_spare(fit) {
            return Session::from_shell(shell);
        }
        if self.ordered == Some(fit) && !self.starved {
            match self
                .preparer
                .as_ref()
                .and_then(|preparer| preparer.wait(preparer::WAIT))
            {
                Some(made) => self.received(made),
                None => self.starved = true,
            }
            if let Some(shell) = self.take_spare(fit) {
                return Session::from_shell(shell);
            }
        }
        Session::new(limits)
    }

    /// Run one execution to its end.
    ///
    /// Never panics on agent input; every failure, including one of the host channel, becomes an
    /// [`ExecutionError`] in the returned [`Finished`].
    pub fn execute(&mut self, execution: &ExecuteJob, host: &mut dyn Host) -> Finished {
        let started = Instant::now();
        let limits = &execution.limits;
        let deadline = started.checked_add(Duration::from_millis(limits.timeout_ms));
        tracing::debug!(
            code_bytes = execution.code.len(),
            timeout_ms = limits.timeout_ms,
            keep_state = execution.keep_state,
            "execution starts"
        );
        if !execution.keep_state {
            self.session = None;
        }
        let session_execution = execution.keep_state.then(|| {
            self.session
                .as_ref()
                .map_or(1, |session| session.executions.saturating_add(1))
        });
        let module = agent_module_name(session_execution);
        let mut dropped_output_bytes = 0;
        // Whether the code ran in a runtime (so a runtime of this session can have been lost).
        let mut ran = false;
        let outcome = match prepare(execution, &module, &self.skills) {
            Err(error) => ExecutionOutcome::Error(error),
            Ok(prepared) => {
                let session = match self.session.take() {
                    Some(session) => Ok(session),
                    None => self.fresh_session(limits),
                };
                match session {
                    Err(error) => ExecutionOutcome::Error(error),
                    Ok(mut session) => {
                        ran = true;
                        let mut output = OutputBudget::new(limits.output_bytes);
                        let outcome = session.run(limits, &prepared, deadline, &mut output, host);
                        dropped_output_bytes = output.dropped;
                        session.executions = session.executions.saturating_add(1);
                        let discard = match &outcome {
                            ExecutionOutcome::Error(error) => error.kind.ends_session(),
                            ExecutionOutcome::Ok { .. } => false,
                        };
                        if execution.keep_state && !discard {
                            self.session = Some(session);
                        } else {
                            self.retired = Some(session);
                        }
                        outcome
                    }
                }
            }
        };
        let outcome = match outcome {
            ExecutionOutcome::Error(mut error)
                if execution.keep_state && ran && self.session.is_none() =>
            {
                error.message.push('\n');
                error.message.push_str(SESSION_DISCARDED);
                ExecutionOutcome::Error(error)
            }
            other => other,
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
            dropped_output_bytes,
        }
    }
}

/// Run one execution in a fresh runtime (see [`Engine::execute`]; a fresh engine has no session
/// to keep, so `keep_state` makes no difference here).
///
/// The calling thread must have a stack of at least [`crate::thread_stack_bytes`].
pub fn execute(execution: &ExecuteJob, host: &mut dyn Host) -> Finished {
    Engine::new().execute(execution, host)
}

/// Transpile and compile `code` as a module without running it: the answer to a `Check`.
///
/// The code is transpiled with oxc (syntax errors with their position, the regex literal cap)
/// and then compiled by QuickJS as a module in a scratch runtime, which catches syntax oxc
/// accepts but QuickJS does not run. Imports are not resolved. The exports are the module's
/// value exports, sorted. The calling thread must have a stack of at least
/// [`crate::thread_stack_bytes`] for default limits.
pub fn check(code: &str, language: Language) -> CheckReport {
    let failed = |error: ExecutionError| CheckReport {
        error: Some(error),
        exports: Vec::new(),
    };
    let transpiled = match transpile_module(code, language, "check") {
        Ok(transpiled) => transpiled,
        Err(error) => return failed(error),
    };
    if let Err(error) = compile_only(&transpiled.code, &transpiled.line_map) {
        return failed(error);
    }
    let mut exports = transpiled.exports.clone();
    exports.sort();
    exports.dedup();
    CheckReport {
        error: None,
        exports,
    }
}

/// Compile a module in a scratch runtime; a failure is a `SyntaxError` at its original position.
fn compile_only(code: &str, line_map: &Arc<LineMap>) -> Result<(), ExecutionError> {
    const MODULE: &str = "check.ts";
    let runtime = Runtime::new().map_err(|error| {
        internal_error(&format!("could not create a runtime: {error}")).into_error()
    })?;
    runtime.set_memory_limit(CHECK_MEMORY_BYTES);
    runtime.set_max_stack_size(DEFAULT_STACK_BYTES);
    // QuickJS loads a module's imports when it compiles it; every import is an empty module here
    // (nothing is linked or run, so the names imported are not looked at).
    runtime.set_loader(AnyModule, AnyModule);
    let context = Context::full(&runtime).map_err(|error| {
        internal_error(&format!("could not create a context: {error}")).into_error()
    })?;
    context.with(|ctx| match Module::declare(ctx.clone(), MODULE, code) {
        Ok(_) => Ok(()),
        Err(error) => {
            let mut maps = SourceMaps::default();
            maps.set_current(MODULE, line_map.clone());
            let text = match error {
                rquickjs::Error::Exception => {
                    let value = ctx.catch();
                    let object = value.as_object();
                    let text = |name: &str| -> Option<String> {
                        let property: Value<'_> = object?.get(name).ok()?;
                        property.as_string()?.to_string().ok()
                    };
                    match (text("message"), text("stack")) {
                        (Some(message), Some(stack)) => format!("{message}\n{stack}"),
                        (Some(message), None) => message,
                        _ => "the code does not compile".to_owned(),
                    }
                }
                other => other.to_string(),
            };
            let (text, position) = maps.rewrite(text.trim_end());
            Err(ExecutionError {
                kind: ErrorKind::SyntaxError,
                message: format!("SyntaxError: {text}"),
                line: position.map(|(line, _)| line),
                column: position.map(|(_, column)| column),
            })
        }
    })
}

/// Resolver and loader of [`compile_only`]: every specifier is an empty module.
struct AnyModule;

impl rquickjs::loader::Resolver for AnyModule {
    fn resolve<'js>(
        &mut self,
        _ctx: &Ctx<'js>,
        _base: &str,
        name: &str,
        _attributes: Option<rquickjs::loader::ImportAttributes<'js>>,
    ) -> rquickjs::Result<String> {
        Ok(name.to_owned())
    }
}

impl rquickjs::loader::Loader for AnyModule {
    fn load<'js>(
        &mut self,
        ctx: &Ctx<'js>,
        name: &str,
        _attributes: Option<rquickjs::loader::ImportAttributes<'js>>,
    ) -> rquickjs::Result<Module<'js>> {
        Module::declare(ctx.clone(), name, "")
    }
}

/// What is known before QuickJS starts.
struct Prepared {
    /// The module name of the agent's code.
    module: String,
    code: String,
    line_map: Arc<LineMap>,
    catalog: Rc<Catalog>,
    /// In a session: the export that returns the accessors of the top-level declarations.
    bindings_export: Option<String>,
}

fn prepare(
    execution: &ExecuteJob,
    module: &str,
    skills: &Rc<RefCell<SkillCache>>,
) -> Result<Prepared, ExecutionError> {
    // The runtime is needed by every execution; a failure here is the engine's, not the agent's.
    crate::modules::runtime_module()?;
    let transpiled = transpile_module(&execution.code, execution.language, "main")?;
    let catalog = Catalog::with_skills(&execution.tools, &execution.skills, skills.clone());
    catalog.check_imports(module, &transpiled.imports)?;
    let (code, bindings_export) = if execution.keep_state {
        let (export, appended) = session_bindings(&transpiled);
        (format!("{}{appended}", transpiled.code), Some(export))
    } else {
        (transpiled.code, None)
    };
    Ok(Prepared {
        module: module.to_owned(),
        code,
        line_map: transpiled.line_map,
        catalog: Rc::new(catalog),
        bindings_export,
    })
}

/// Flags the interrupt handler reads; it runs inside QuickJS and must be `Send`.
struct Flags {
    /// The deadline passed (set by the interrupt handler or the loop).
    timed_out: AtomicBool,
    /// The execution must stop as soon as possible (a fatal error is recorded).
    abort: AtomicBool,
    /// The execution's deadline in nanoseconds after `origin`; `u64::MAX`: none. An atomic, not a
    /// lock, because the interrupt handler reads it constantly.
    deadline_nanos: AtomicU64,
    origin: Instant,
}

impl Flags {
    fn new() -> Self {
        Self {
            timed_out: AtomicBool::new(false),
            abort: AtomicBool::new(false),
            deadline_nanos: AtomicU64::new(u64::MAX),
            origin: Instant::now(),
        }
    }

    /// Start an execution with this deadline.
    fn reset(&self, deadline: Option<Instant>) {
        self.timed_out.store(false, Ordering::Relaxed);
        self.abort.store(false, Ordering::Relaxed);
        self.set_deadline(deadline);
    }

    fn set_deadline(&self, deadline: Option<Instant>) {
        let nanos = deadline.map_or(u64::MAX, |deadline| {
            let nanos = deadline.saturating_duration_since(self.origin).as_nanos();
            u64::try_from(nanos).unwrap_or(u64::MAX - 1)
        });
        self.deadline_nanos.store(nanos, Ordering::Relaxed);
    }

    fn deadline_passed(&self) -> bool {
        let deadline = self.deadline_nanos.load(Ordering::Relaxed);
        deadline != u64::MAX && self.origin.elapsed().as_nanos() >= u128::from(deadline)
    }

    /// The interrupt handler: stop on an abort, and on the deadline (remembered as a timeout).
    fn interrupt(&self) -> bool {
        if self.abort.load(Ordering::Relaxed) {
            return true;
        }
        if self.deadline_passed() {
            self.timed_out.store(true, Ordering::Relaxed);
            return true;
        }
        false
    }
}

/// The prelude's helpers: the context's user data for its life, out of reach of agent code.
#[derive(JsLifetime)]
struct PreludeHelpers<'js> {
    describe: Function<'js>,
    result_to_json: Function<'js>,
    publish: Function<'js>,
}

/// What the host functions of a session's runtime reach: the context's user data while the
/// runtime is a session's.
#[derive(JsLifetime)]
struct StateLink(Rc<RefCell<State>>);

/// The session state of the runtime `ctx` belongs to.
fn linked_state(ctx: &Ctx<'_>) -> rquickjs::Result<Rc<RefCell<State>>> {
    match ctx.userdata::<StateLink>() {
        Some(link) => Ok(link.0.clone()),
        None => Err(Exception::throw_internal(
            ctx,
            "Internal error of the sandbox: this runtime has no session",
        )),
    }
}

/// What a runtime is made for: the memory and stack limits it starts with.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Fit {
    memory_bytes: u64,
    stack_bytes: u64,
}

impl Fit {
    fn of(limits: &ExecutionLimits) -> Fit {
        Fit {
            memory_bytes: limits.memory_bytes,
            stack_bytes: limits.stack_bytes,
        }
    }
}

/// A new QuickJS runtime with its context, the prelude's globals and the host functions, that
/// belongs to no session yet.
///
/// Its host functions and module loader capture nothing: they reach a session's state through
/// the context's user data ([`StateLink`], [`ModuleLink`]), which only a [`Session`] stores and
/// which [`Session::into_shell`] removes. So a shell holds nothing tied to the thread that made
/// it, and the [`Preparer`] makes shells on a thread of its own and frees them there.
struct Shell {
    flags: Arc<Flags>,
    context: Context,
    runtime: Runtime,
}

impl Shell {
    /// A shell for the preparer: `None`, with the reason logged, if it cannot be made.
    fn made_ahead(limits: &ExecutionLimits) -> Option<Self> {
        Self::new(limits)
            .inspect_err(|error| {
                tracing::debug!(message = %error.message, "could not make a runtime ahead");
            })
            .ok()
    }

    fn new(limits: &ExecutionLimits) -> Result<Self, ExecutionError> {
        let runtime = Runtime::new().map_err(|error| {
            internal_error(&format!("could not create a JavaScript runtime: {error}")).into_error()
        })?;
        if let Ok(memory) = usize::try_from(limits.memory_bytes) {
            runtime.set_memory_limit(memory);
        }
        runtime.set_max_stack_size(stack_limit(limits));
        let flags = Arc::new(Flags::new());
        {
            let flags = flags.clone();
            runtime.set_interrupt_handler(Some(Box::new(move || flags.interrupt())));
        }
        runtime.set_loader(SandboxResolver, SandboxLoader);
        runtime.set_host_promise_rejection_tracker(Some(Box::new(track_rejection)));
        let context = match Context::full(&runtime) {
            Ok(context) => context,
            Err(rquickjs::Error::Allocation) => return Err(out_of_memory(limits)),
            Err(error) => {
                return Err(internal_error(&format!(
                    "could not create a JavaScript context: {error}"
                ))
                .into_error());
            }
        };
        context.with(|ctx| install_globals(&ctx, limits))?;
        Ok(Self {
            flags,
            context,
            runtime,
        })
    }
}

/// A QuickJS runtime with its context, globals and host functions: one execution's, or a
/// session's across executions.
///
/// Invariant: between executions no JavaScript value is held on the Rust side; the prelude's
/// helpers are the context's user data (QuickJS aborts when values outlive their runtime).
struct Session {
    state: Rc<RefCell<State>>,
    catalog: CatalogSlot,
    failures: ImportFailures,
    maps: Rc<RefCell<SourceMaps>>,
    /// Executions run in this runtime so far.
    executions: u32,
    shell: Shell,
}

impl Session {
    fn new(limits: &ExecutionLimits) -> Result<Self, ExecutionError> {
        Self::from_shell(Shell::new(limits)?)
    }

    /// Give a shell its session state: the links its host functions and loader read.
    fn from_shell(shell: Shell) -> Result<Self, ExecutionError> {
        let maps = Rc::new(RefCell::new(SourceMaps::default()));
        let state = Rc::new(RefCell::new(State::new(shell.flags.clone(), maps.clone())));
        let catalog: CatalogSlot = Rc::default();
        let failures = ImportFailures::default();
        let linked = shell.context.with(|ctx| {
            ctx.store_userdata(StateLink(state.clone())).is_ok()
                && ctx
                    .store_userdata(ModuleLink {
                        catalog: catalog.clone(),
                        failures: failures.clone(),
                        maps: maps.clone(),
                    })
                    .is_ok()
        });
        if !linked {
            return Err(internal_error("could not link a runtime to its session").into_error());
        }
        Ok(Self {
            state,
            catalog,
            failures,
            maps,
            executions: 0,
            shell,
        })
    }

    /// The runtime without this session's state, ready to move to another thread; `None` (and
    /// the runtime freed here) if the links could not be removed.
    fn into_shell(self) -> Option<Shell> {
        let unlinked = self.shell.context.with(|ctx| {
            matches!(ctx.remove_userdata::<StateLink>(), Ok(Some(_)))
                && matches!(ctx.remove_userdata::<ModuleLink>(), Ok(Some(_)))
        });
        let Self {
            state,
            catalog,
            failures,
            maps,
            shell,
            ..
        } = self;
        // The state must go while its runtime lives: it may hold JavaScript values.
        drop((state, catalog, failures, maps));
        unlinked.then_some(shell)
    }

    fn run(
        &mut self,
        limits: &ExecutionLimits,
        prepared: &Prepared,
        deadline: Option<Instant>,
        output: &mut OutputBudget,
        host: &mut dyn Host,
    ) -> ExecutionOutcome {
        if let Ok(memory) = usize::try_from(limits.memory_bytes) {
            self.shell.runtime.set_memory_limit(memory);
        }
        self.shell.runtime.set_max_stack_size(stack_limit(limits));
        self.shell.flags.reset(deadline);
        *self.catalog.borrow_mut() = prepared.catalog.clone();
        self.failures.borrow_mut().clear();
        self.maps
            .borrow_mut()
            .set_current(&prepared.module, prepared.line_map.clone());
        self.state.borrow_mut().begin(limits);
        let (outcome, null_thrown) = self.shell.context.with(|ctx| {
            let _ = ctx.store_userdata(Rejections::default());
            let restored = ctx.userdata::<PreludeHelpers>().map(|helpers| {
                (
                    helpers.describe.clone(),
                    helpers.result_to_json.clone(),
                    helpers.publish.clone(),
                )
            });
            let (outcome, null_thrown) = match restored {
                None => (internal("the engine's helpers are gone".to_owned()), false),
                Some((describe, result_to_json, publish)) => {
                    let mut run = Run {
                        ctx: ctx.clone(),
                        state: self.state.clone(),
                        flags: self.shell.flags.clone(),
                        limits,
                        deadline,
                        maps: self.maps.clone(),
                        failures: self.failures.clone(),
                        describe,
                        result_to_json,
                        null_thrown: Cell::new(false),
                        module: None,
                    };
                    let outcome = run.run(prepared, host);
                    let keeps_runtime = match &outcome {
                        ExecutionOutcome::Ok { .. } => true,
                        ExecutionOutcome::Error(error) => !error.kind.ends_session(),
                    };
                    if let Some(export) = &prepared.bindings_export
                        && keeps_runtime
                    {
                        run.publish(export, &publish);
                    }
                    (outcome, run.null_thrown.get())
                }
            };
            // Release every JavaScript value held on the Rust side while the context is alive:
            // QuickJS aborts if values outlive their runtime.
            {
                let mut state = self.state.borrow_mut();
                state.release();
                *output = std::mem::take(&mut state.output);
            }
            let _ = ctx.remove_userdata::<Rejections>();
            (outcome, null_thrown)
        });
        // QuickJS throws `null` when it cannot even allocate the error for an out-of-memory; tell
        // that apart from agent code that throws `null` by how full the heap is.
        match outcome {
            ExecutionOutcome::Error(error)
                if null_thrown && error.kind == ErrorKind::RuntimeError =>
            {
                let usage = self.shell.runtime.memory_usage();
                if usage.malloc_limit > 0 && usage.malloc_size >= usage.malloc_limit / 4 * 3 {
                    ExecutionOutcome::Error(out_of_memory(limits))
                } else {
                    ExecutionOutcome::Error(error)
                }
            }
            other => other,
        }
    }
}

/// Evaluate the prelude with the host functions and keep its helpers in the context.
fn install_globals<'js>(ctx: &Ctx<'js>, limits: &ExecutionLimits) -> Result<(), ExecutionError> {
    let installed = (|| -> rquickjs::Result<()> {
        let host = Object::new(ctx.clone())?;
        host.set(
            "log",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>, level: i32, text: String| -> rquickjs::Result<()> {
                    let level = match level {
                        1 => LogLevel::Warn,
                        2 => LogLevel::Error,
                        _ => LogLevel::Log,
                    };
                    linked_state(&ctx)?.borrow_mut().log(level, text);
                    Ok(())
                },
            )?,
        )?;
        host.set(
            "setTimer",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>,
                 callback: Function<'js>,
                 delay: f64,
                 repeat: bool|
                 -> rquickjs::Result<f64> {
                    let state = linked_state(&ctx)?;
                    let callback = Persistent::save(&ctx, callback);
                    let added = state.borrow_mut().add_timer(callback, delay, repeat);
                    match added {
                        Ok(id) => Ok(id as f64),
                        Err(message) => Err(Exception::throw_range(&ctx, &message)),
                    }
                },
            )?,
        )?;
        host.set(
            "clearTimer",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>, id: f64| -> rquickjs::Result<()> {
                    if id.is_finite() && id >= 1.0 {
                        linked_state(&ctx)?.borrow_mut().clear_timer(id as u64);
                    }
                    Ok(())
                },
            )?,
        )?;
        host.set(
            "progress",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>, message: String, fraction: Opt<f64>| -> rquickjs::Result<()> {
                    linked_state(&ctx)?
                        .borrow_mut()
                        .progress(message, fraction.0);
                    Ok(())
                },
            )?,
        )?;
        host.set(
            "callTool",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>, server: String, tool: String, input: Opt<Value<'js>>| {
                    call_tool(&ctx, &linked_state(&ctx)?, server, tool, input.0)
                },
            )?,
        )?;
        host.set(
            "workspace",
            Function::new(
                ctx.clone(),
                |ctx: Ctx<'js>,
                 operation: String,
                 path: String,
                 data: Opt<Option<String>>,
                 flags: Opt<Option<i32>>| {
                    workspace_call(
                        &ctx,
                        &linked_state(&ctx)?,
                        &operation,
                        path,
                        data.0.flatten(),
                        flags.0.flatten(),
                    )
                },
            )?,
        )?;
        host.set("maxRegexSource", MAX_REGEX_SOURCE_CHARS as f64)?;
        host.set(
            "checkCode",
            Function::new(ctx.clone(), |ctx: Ctx<'js>, source: String| {
                check_dynamic_code(&source).map_err(|message| {
                    Exception::throw_syntax(
                        &ctx,
                        &format!("{message} (in code compiled at run time)"),
                    )
                })
            })?,
        )?;
        let mut bundle = PRELUDE;
        let (module, evaluated) = bundle.load(ctx, PRELUDE_NAME, None)?.eval()?;
        evaluated.finish::<()>()?;
        let prelude: Function<'js> = module.get("default")?;
        let helpers: Object<'js> = prelude.call((host,))?;
        let helpers = PreludeHelpers {
            describe: helpers.get("describe")?,
            result_to_json: helpers.get("resultToJson")?,
            publish: helpers.get("publish")?,
        };
        if ctx.store_userdata(helpers).is_err() {
            return Err(rquickjs::Error::new_from_js_message(
                "prelude",
                "helpers",
                "the helpers could not be kept",
            ));
        }
        Ok(())
    })();
    installed.map_err(|error| match error {
        rquickjs::Error::Allocation => out_of_memory(limits),
        rquickjs::Error::Exception => {
            let value = ctx.catch();
            let message = value
                .as_object()
                .and_then(|object| object.get::<_, String>("message").ok())
                .unwrap_or_default();
            if message.contains("out of memory") {
                out_of_memory(limits)
            } else {
                internal_error(&format!("the prelude failed: {message}")).into_error()
            }
        }
        other => internal_error(&format!("the prelude failed: {other}")).into_error(),
    })
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

/// A JavaScript function kept on the Rust side within one execution.
type Kept = Persistent<Function<'static>>;

/// A pending tool call's settle functions.
struct PendingCall {
    resolve: Kept,
    reject: Kept,
    server: String,
    tool: String,
    /// The JavaScript stack where the call was made. Mapped to a position in the agent's code
    /// only if the call fails: most calls succeed, and the mapping scans the text.
    site: Option<String>,
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
struct Timer {
    callback: Kept,
    interval: Option<Duration>,
}

/// An `fs/promises` call waiting for the event loop to hand it to the host.
struct FileCall {
    request: WorkspaceRequest,
    resolve: Kept,
    reject: Kept,
}

/// What an uncaught `ToolError` reports: its message (with kind and retryable), its kind, and
/// where in the agent's code the failed call was made.
struct UncaughtToolError {
    message: String,
    kind: ToolErrorKind,
    location: Option<(u32, u32)>,
}

/// State shared by the host functions and the event loop, for the whole life of a runtime;
/// [`State::begin`] resets it for each execution. Never borrowed across a call into JavaScript
/// (host functions borrow it too).
///
/// Invariant: between executions it holds no JavaScript value ([`State::release`]).
struct State {
    outbox: Vec<WorkerMessage>,
    file_calls: Vec<FileCall>,
    calls: HashMap<u64, PendingCall>,
    calls_made: u64,
    limits: ExecutionLimits,
    timers: BTreeMap<(Instant, u64), Timer>,
    timer_due: HashMap<u64, Instant>,
    next_timer_id: u64,
    output: OutputBudget,
    fatal: Option<ExecutionError>,
    failed_calls: Vec<FailedCall>,
    maps: Rc<RefCell<SourceMaps>>,
    flags: Arc<Flags>,
    /// When the last progress report was queued.
    last_progress: Option<Instant>,
}

impl State {
    fn new(flags: Arc<Flags>, maps: Rc<RefCell<SourceMaps>>) -> Self {
        Self {
            outbox: Vec::new(),
            file_calls: Vec::new(),
            calls: HashMap::new(),
            calls_made: 0,
            limits: ExecutionLimits::default(),
            timers: BTreeMap::new(),
            timer_due: HashMap::new(),
            next_timer_id: 1,
            output: OutputBudget::new(0),
            fatal: None,
            failed_calls: Vec::new(),
            maps,
            flags,
            last_progress: None,
        }
    }

    /// Start an execution.
    fn begin(&mut self, limits: &ExecutionLimits) {
        self.release();
        self.outbox.clear();
        self.last_progress = None;
        self.calls_made = 0;
        self.limits = limits.clone();
        self.output = OutputBudget::new(limits.output_bytes);
        self.fatal = None;
        self.failed_calls.clear();
    }

    /// Drop every JavaScript value: tool calls still in flight are abandoned, pending timers and
    /// file calls dropped.
    fn release(&mut self) {
        self.calls.clear();
        self.timers.clear();
        self.timer_due.clear();
        self.file_calls.clear();
    }

    fn fail(&mut self, error: ExecutionError) {
        if self.fatal.is_none() {
            self.fatal = Some(error);
        }
        self.flags.abort.store(true, Ordering::Relaxed);
    }

    fn log(&mut self, level: LogLevel, text: String) {
        let text = if text.contains(".ts:") {
            self.maps.borrow().rewrite(&text).0
        } else {
            text
        };
        if let Some(text) = self.output.admit(text) {
            self.outbox.push(WorkerMessage::Log { level, text });
        }
    }

    /// Queue a progress report: the message cut to its limit, the fraction only when it is one,
    /// and nothing when the last report went out less than the minimum interval ago.
    fn progress(&mut self, message: String, fraction: Option<f64>) {
        let now = Instant::now();
        let interval = Duration::from_millis(MIN_PROGRESS_INTERVAL_MS);
        if self
            .last_progress
            .is_some_and(|last| now.duration_since(last) < interval)
        {
            return;
        }
        self.last_progress = Some(now);
        let message = match message.char_indices().nth(MAX_PROGRESS_MESSAGE_CHARS) {
            Some((cut, _)) => message[..cut].to_owned(),
            None => message,
        };
        let fraction = fraction.filter(|fraction| (0.0..=1.0).contains(fraction));
        self.outbox
            .push(WorkerMessage::Progress { message, fraction });
    }

    fn add_timer(&mut self, callback: Kept, delay_ms: f64, repeat: bool) -> Result<u64, String> {
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
    fn take_due_timer(&mut self, now: Instant) -> Option<Kept> {
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

/// Bytes past the budget still forwarded of the line that crosses it: the gateway scans output
/// for personal data before it cuts it at the budget, so a value at the cut must arrive whole
/// (an email is at most 254 bytes).
const SCAN_MARGIN: u64 = 512;

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
        let mut cut = usize::try_from(self.remaining.saturating_add(SCAN_MARGIN))
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

/// One execution's event loop and everything that needs the context.
struct Run<'js, 'a> {
    ctx: Ctx<'js>,
    state: Rc<RefCell<State>>,
    flags: Arc<Flags>,
    limits: &'a ExecutionLimits,
    deadline: Option<Instant>,
    maps: Rc<RefCell<SourceMaps>>,
    failures: ImportFailures,
    describe: Function<'js>,
    result_to_json: Function<'js>,
    /// An uncaught `null` was classified (see [`Session::run`]).
    null_thrown: Cell<bool>,
    /// The agent's module, once it is linked and evaluating.
    module: Option<Module<'js, Evaluated>>,
}

/// Why the loop stopped.
type Stop = ExecutionError;

impl<'js> Run<'js, '_> {
    fn run(&mut self, prepared: &Prepared, host: &mut dyn Host) -> ExecutionOutcome {
        match self.run_inner(prepared, host) {
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

    fn run_inner(&mut self, prepared: &Prepared, host: &mut dyn Host) -> Result<Json, Stop> {
        let module = match Module::declare(
            self.ctx.clone(),
            prepared.module.as_str(),
            prepared.code.as_str(),
        ) {
            Ok(module) => module,
            Err(error) => {
                let value = self.caught(error);
                let mut stop = self.classify(value, None);
                if stop.kind == ErrorKind::RuntimeError {
                    stop.kind = ErrorKind::SyntaxError;
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
        self.module = Some(module.clone());
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

    /// Publish the module's initialized top-level declarations on `globalThis` (a session).
    ///
    /// Runs after the execution ended, with the abort flag cleared and a short deadline of its
    /// own: no agent code runs here, only the generated accessors and the prelude's helper.
    /// A failure is logged and otherwise ignored: the next execution then sees fewer names.
    fn publish(&self, export: &str, publish: &Function<'js>) {
        let Some(module) = &self.module else {
            return;
        };
        self.flags.abort.store(false, Ordering::Relaxed);
        self.flags
            .set_deadline(Instant::now().checked_add(PUBLISH_ALLOWANCE));
        let published = (|| -> rquickjs::Result<()> {
            let namespace = module.namespace()?;
            let bindings: Function<'js> = namespace.get(export)?;
            let accessors: Object<'js> = bindings.call(())?;
            publish.call::<_, ()>((accessors,))
        })();
        if let Err(error) = published {
            let _ = self.ctx.catch();
            tracing::warn!(%error, "could not publish a session execution's declarations");
        }
        self.flags.set_deadline(None);
    }

    /// Run every pending job and every file call they make, sending what the jobs queued.
    fn drain_jobs(&mut self, host: &mut dyn Host) -> Result<(), Stop> {
        loop {
            self.check_stop()?;
            let ran = self.ctx.execute_pending_job();
            self.flush(host)?;
            let filed = self.run_file_calls(host);
            if !ran && !filed {
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
            if state.outbox.is_empty() {
                return Ok(());
            }
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

    /// Hand queued `fs/promises` calls to the host and settle their promises. True when there
    /// were any (their settlement queued jobs).
    fn run_file_calls(&mut self, host: &mut dyn Host) -> bool {
        let calls = std::mem::take(&mut self.state.borrow_mut().file_calls);
        if calls.is_empty() {
            return false;
        }
        for call in calls {
            let reply = host.workspace(&call.request);
            let settled = (|| -> rquickjs::Result<()> {
                match reply {
                    Ok(reply) => {
                        let value = self.reply_value(reply, &call.request)?;
                        call.resolve.restore(&self.ctx)?.call::<_, ()>((value,))
                    }
                    Err(error) => {
                        let exception = Exception::from_message(self.ctx.clone(), &error.message)?;
                        exception.set("code", error.code.as_str())?;
                        exception.set("syscall", error.syscall.as_str())?;
                        exception.set("path", error.path.as_str())?;
                        call.reject.restore(&self.ctx)?.call::<_, ()>((exception,))
                    }
                }
            })();
            if settled.is_err() {
                // Only an interrupt or an out-of-memory can fail here; the loop reports it.
                let _ = self.ctx.catch();
            }
        }
        true
    }

    /// The JavaScript value of a workspace reply to `request`.
    fn reply_value(
        &self,
        reply: WorkspaceReply,
        request: &WorkspaceRequest,
    ) -> rquickjs::Result<Value<'js>> {
        let ctx = self.ctx.clone();
        Ok(match reply {
            WorkspaceReply::Bytes(bytes) => {
                let text = match request {
                    WorkspaceRequest::ReadFile {
                        encoding: FileEncoding::Base64,
                        ..
                    } => base64::Engine::encode(&base64::engine::general_purpose::STANDARD, bytes),
                    _ => String::from_utf8_lossy(&bytes).into_owned(),
                };
                rquickjs::String::from_str(ctx, &text)?.into_value()
            }
            WorkspaceReply::Names(names) => {
                let array = Array::new(ctx)?;
                for (index, name) in names.into_iter().enumerate() {
                    array.set(index, name)?;
                }
                array.into_value()
            }
            WorkspaceReply::Stat(stat) => {
                let object = Object::new(ctx)?;
                object.set("size", stat.size as f64)?;
                object.set("mtimeMs", stat.modified_ms)?;
                let kind = if stat.is_file {
                    "file"
                } else if stat.is_directory {
                    "directory"
                } else {
                    "other"
                };
                object.set("kind", kind)?;
                object.into_value()
            }
            WorkspaceReply::Done => Value::new_undefined(ctx),
        })
    }

    /// Fire the first due timer, if one is due. An exception it throws ends the execution.
    fn fire_due_timer(&mut self) -> Result<bool, Stop> {
        let callback = self.state.borrow_mut().take_due_timer(Instant::now());
        let Some(callback) = callback else {
            return Ok(false);
        };
        let called = callback
            .restore(&self.ctx)
            .and_then(|callback| callback.call::<_, ()>(()));
        if let Err(error) = called {
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
                kind: ErrorKind::RuntimeError,
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
                Ok(value) => call
                    .resolve
                    .restore(&ctx)
                    .and_then(|resolve| resolve.call::<_, ()>((value,))),
                Err(error) => {
                    let value = self.caught(error);
                    call.reject
                        .restore(&ctx)
                        .and_then(|reject| reject.call::<_, ()>((value,)))
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
                    let site = call
                        .site
                        .as_deref()
                        .and_then(|stack| self.maps.borrow().rewrite(stack).1);
                    state.failed_calls.push(FailedCall {
                        server: call.server.clone(),
                        tool: call.tool.clone(),
                        site,
                    });
                }
                let failure = (|| -> rquickjs::Result<Object<'js>> {
                    let failure = Object::new(ctx.clone())?;
                    failure.set("kind", kind.as_str())?;
                    failure.set("message", message)?;
                    if let Some(content) = content {
                        failure.set("content", ctx.json_parse(content.to_string())?)?;
                    }
                    failure.set("retryable", retryable)?;
                    Ok(failure)
                })();
                let reason = match failure {
                    Ok(failure) => failure.into_value(),
                    Err(error) => self.caught(error),
                };
                call.reject
                    .restore(&ctx)
                    .and_then(|reject| reject.call::<_, ()>((reason,)))
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
            // QuickJS's own error class (not the kind of the same name).
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
        let (description, location) = self.maps.borrow().rewrite(&description);
        let (line, column) =
            location.map_or((None, None), |(line, column)| (Some(line), Some(column)));
        let with_prefix = |text: String| match prefix {
            Some(prefix) => format!("{prefix}: {text}"),
            None => text,
        };
        if is_error
            && name.as_deref() == Some(ErrorKind::ToolError.as_str())
            && let Some(UncaughtToolError {
                message: text,
                kind: tool_kind,
                location,
            }) = self.tool_error(object, message.as_deref(), location)
        {
            let (line, column) =
                location.map_or((None, None), |(line, column)| (Some(line), Some(column)));
            return ExecutionError {
                kind: match tool_kind {
                    ToolErrorKind::PolicyDenied => ErrorKind::PolicyDenied,
                    _ => ErrorKind::ToolError,
                },
                message: with_prefix(text),
                line,
                column,
            };
        }
        if let Some(message) = &message {
            let failures = self.failures.borrow();
            if failures.iter().any(|failure| failure == message) {
                return ExecutionError {
                    kind: ErrorKind::ImportError,
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
            kind: ErrorKind::RuntimeError,
            message: with_prefix(message),
            line,
            column,
        }
    }

    /// Message, kind and position of an uncaught `ToolError` from the runtime.
    fn tool_error(
        &self,
        object: Option<&Object<'js>>,
        message: Option<&str>,
        location: Option<(u32, u32)>,
    ) -> Option<UncaughtToolError> {
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
        // No `ToolError: ` in front: the error's kind says it, and the report prints both.
        let message = format!(
            "{} (kind: {kind}, retryable: {retryable})",
            message.unwrap_or("the tool call failed")
        );
        Some(UncaughtToolError {
            message,
            kind: ToolErrorKind::parse(&kind),
            location,
        })
    }

    /// Text of a value, for error messages.
    fn describe(&self, value: &Value<'js>) -> String {
        let described = self.describe.call::<_, String>((value.clone(),)).ok();
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
        let result_to_json = &self.result_to_json;
        let text: String = match result_to_json.call((value,)) {
            Ok(text) => text,
            Err(error) => {
                let reason = self.caught(error);
                let mut stop = self.classify(
                    reason,
                    Some("The default export could not be converted to JSON"),
                );
                if stop.kind == ErrorKind::ToolError {
                    stop.kind = ErrorKind::RuntimeError;
                }
                return Err(stop);
            }
        };
        if text.len() > MAX_JSON_BYTES {
            return Err(ExecutionError {
                kind: ErrorKind::RuntimeError,
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
            kind: ErrorKind::Timeout,
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
    state: &Rc<RefCell<State>>,
    server: String,
    tool: String,
    input: Option<Value<'js>>,
) -> rquickjs::Result<Promise<'js>> {
    {
        let mut state = state.borrow_mut();
        if state.fatal.is_some() {
            return Err(Exception::throw_internal(ctx, "the execution is ending"));
        }
        if state.calls_made >= state.limits.tool_calls {
            let limit = state.limits.tool_calls;
            state.fail(ExecutionError {
                kind: ErrorKind::ToolCallLimit,
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
    let site = call_site(ctx);
    let (promise, resolve, reject) = ctx.promise()?;
    let call_id = NEXT_CALL_ID.fetch_add(1, Ordering::Relaxed);
    let mut state = state.borrow_mut();
    state.calls_made += 1;
    state.calls.insert(
        call_id,
        PendingCall {
            resolve: Persistent::save(ctx, resolve),
            reject: Persistent::save(ctx, reject),
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

/// The bytes `writeFile`/`appendFile` write: the text as UTF-8, or its base64 decoded (padding
/// optional; a TypeError when it is not base64).
fn file_data(
    ctx: &Ctx<'_>,
    operation: &str,
    data: String,
    base64: bool,
) -> rquickjs::Result<Vec<u8>> {
    if !base64 {
        return Ok(data.into_bytes());
    }
    let engine = base64::engine::GeneralPurpose::new(
        &base64::alphabet::STANDARD,
        base64::engine::GeneralPurposeConfig::new()
            .with_decode_padding_mode(base64::engine::DecodePaddingMode::Indifferent),
    );
    let compact: String = data.chars().filter(|c| !c.is_ascii_whitespace()).collect();
    base64::Engine::decode(&engine, compact).map_err(|problem| {
        Exception::throw_type(
            ctx,
            &format!("{operation}: the data is not valid base64 ({problem}); pass the `data` of an image block as it is"),
        )
    })
}

/// `__sluiceHost.workspace(operation, path, data, flags)`: queue an `fs/promises` call for the
/// event loop, return its promise.
fn workspace_call<'js>(
    ctx: &Ctx<'js>,
    state: &Rc<RefCell<State>>,
    operation: &str,
    path: String,
    data: Option<String>,
    flags: Option<i32>,
) -> rquickjs::Result<Promise<'js>> {
    let flags = flags.unwrap_or(0);
    let (memory_bytes, quota_bytes) = {
        let state = state.borrow();
        if state.fatal.is_some() {
            return Err(Exception::throw_internal(ctx, "the execution is ending"));
        }
        (state.limits.memory_bytes, state.limits.workspace_bytes)
    };
    let base64 = flags & FLAG_BASE64 != 0;
    let request = match operation {
        "readFile" => WorkspaceRequest::ReadFile {
            path,
            encoding: if base64 {
                FileEncoding::Base64
            } else {
                FileEncoding::Utf8
            },
            max_bytes: memory_bytes,
        },
        "writeFile" | "appendFile" => WorkspaceRequest::WriteFile {
            data: file_data(ctx, operation, data.unwrap_or_default(), base64)?,
            path,
            append: operation == "appendFile",
            quota_bytes,
        },
        "readdir" => WorkspaceRequest::ReadDir { path },
        "stat" => WorkspaceRequest::Stat { path },
        "rm" => WorkspaceRequest::Remove {
            path,
            recursive: flags & FLAG_RECURSIVE != 0,
            force: flags & FLAG_FORCE != 0,
        },
        "mkdir" => WorkspaceRequest::MakeDir {
            path,
            recursive: flags & FLAG_RECURSIVE != 0,
        },
        other => {
            return Err(Exception::throw_type(
                ctx,
                &format!(
                    "unknown workspace operation '{other}'; use one of {}",
                    OPERATIONS.join(", ")
                ),
            ));
        }
    };
    let (promise, resolve, reject) = ctx.promise()?;
    state.borrow_mut().file_calls.push(FileCall {
        request,
        resolve: Persistent::save(ctx, resolve),
        reject: Persistent::save(ctx, reject),
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

/// The JavaScript stack now (its innermost frame in the agent's module is the call site).
fn call_site(ctx: &Ctx<'_>) -> Option<String> {
    Exception::from_message(ctx.clone(), "").ok()?.stack()
}

fn out_of_memory(limits: &ExecutionLimits) -> ExecutionError {
    ExecutionError {
        kind: ErrorKind::OutOfMemory,
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
            kind: ErrorKind::InternalError,
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
