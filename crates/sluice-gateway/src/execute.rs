//! Running agent code: spawn a worker, hand it the code, serve its tool calls, collect its output.
//!
//! The worker is untrusted. Its frames are decoded with a size cap; a malformed frame, an early
//! exit or a hang past the wall time plus [`WATCHDOG_GRACE`] kills it and fails this execution
//! only. The gateway enforces the output budget and the tool-call limit itself too, whatever the
//! worker claims.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, PoisonError};
use std::time::{Duration, Instant, SystemTime};

use serde_json::Value;
use sluice_worker_protocol::{
    ErrorKind, ExecuteJob, ExecutionError, ExecutionLimits, ExecutionOutcome, GatewayMessage,
    Language, Limit, LogLevel, MAX_PROGRESS_MESSAGE_CHARS, PROTOCOL_VERSION, Spin, ToolErrorKind,
    ToolOutcome, WorkerMessage, encode,
};
use tokio::process::ChildStdin;

use crate::audit::{AuditBudget, ExecutionAudit, ToolCallAudit};
use crate::privacy::{ExecutionPrivacy, PrivacyState, SharedVault};
use crate::report::{
    ExecuteRequest, ExecutionProgress, ExecutionReport, ExecutionStats, Origin, ReportedProgress,
    error_report, execution_error, new_execution_id,
};
use crate::worker::{GATEWAY_SPIN_LIMIT, Launch, WorkerProcess, message_name, write_encoded};
use crate::{Gateway, Snapshot, Tenant};
use sluice_telemetry::{ExecutionEnd, ExecutionSpan, ExecutionStart, ToolCallSpan};

/// Time the engine gets past the wall time to report a timeout itself before the gateway kills it.
pub const WATCHDOG_GRACE: Duration = Duration::from_millis(1500);
/// JS stack limit inside the worker.
const STACK_BYTES: u64 = 1024 * 1024;

/// How often progress is reported while nothing new is said.
const PROGRESS_INTERVAL: Duration = Duration::from_secs(1);

/// The least time between two progress notifications: what the code reports in between is sent
/// with the next one.
const MIN_PROGRESS_GAP: Duration = Duration::from_millis(250);

/// Progress of one execution, and when it was last sent.
struct ProgressState {
    sender: tokio::sync::mpsc::UnboundedSender<ExecutionProgress>,
    started: Instant,
    last_sent: Option<Instant>,
    reported: Option<ReportedProgress>,
}

impl ProgressState {
    fn send(&mut self, tool_calls: u64) {
        let now = Instant::now();
        self.last_sent = Some(now);
        let _ = self.sender.send(ExecutionProgress {
            elapsed_ms: now.duration_since(self.started).as_millis() as u64,
            tool_calls,
            reported: self.reported.clone(),
        });
    }

    /// The code reported progress: sent now unless a notification went out very recently (then
    /// the next tick carries it).
    fn report(&mut self, reported: ReportedProgress, tool_calls: u64) {
        self.reported = Some(reported);
        self.tick(tool_calls);
    }

    /// Send unless a notification went out very recently.
    fn tick(&mut self, tool_calls: u64) {
        if self
            .last_sent
            .is_none_or(|last| last.elapsed() >= MIN_PROGRESS_GAP)
        {
            self.send(tool_calls);
        }
    }
}

/// Output collected within a byte budget.
struct Output {
    text: String,
    budget: usize,
    truncated: u64,
}

impl Output {
    fn push_line(&mut self, level: LogLevel, line: &str) {
        let prefix = match level {
            LogLevel::Log => "",
            LogLevel::Warn => "[warn] ",
            LogLevel::Error => "[error] ",
        };
        let needed = prefix.len() + line.len() + 1;
        let room = self.budget.saturating_sub(self.text.len());
        if self.truncated == 0 && needed <= room {
            self.text.push_str(prefix);
            self.text.push_str(line);
            self.text.push('\n');
        } else {
            if self.truncated == 0 && room > prefix.len() + 1 {
                // Keep what fits of the first line that does not, cut at a character boundary.
                let cut = cut_outside_token(line, room - prefix.len() - 1);
                self.text.push_str(prefix);
                self.text.push_str(&line[..cut]);
                self.text.push('\n');
                self.truncated += (line.len() - cut) as u64;
                return;
            }
            self.truncated += needed as u64;
        }
    }

    fn finish(mut self, dropped_by_worker: u64) -> (String, u64, u64) {
        let truncated = self.truncated + dropped_by_worker;
        let shown = self.text.len() as u64;
        if truncated > 0 {
            self.text.push_str(&format!(
                "[output truncated: {truncated} more bytes not shown; log less, or filter and summarize in code]\n"
            ));
        }
        (self.text, shown, truncated)
    }
}

/// The largest cut of `line` at or before `at` that is a character boundary and not inside a
/// token (`[EMAIL_1_k7qm]`): output is scanned before it is cut, so the cut never splits a value,
/// and a token is kept whole or left out.
pub(crate) fn cut_outside_token(line: &str, at: usize) -> usize {
    let mut cut = at.min(line.len());
    while !line.is_char_boundary(cut) {
        cut -= 1;
    }
    if let Some(open) = line[..cut].rfind('[') {
        let inside = &line[open + 1..cut];
        let token_like = inside
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_');
        let closes = line[cut..].find(']').is_some_and(|close| {
            line[cut..cut + close]
                .bytes()
                .all(|byte| byte.is_ascii_alphanumeric() || byte == b'_')
        });
        if token_like
            && closes
            && inside
                .bytes()
                .next()
                .is_some_and(|b| b.is_ascii_uppercase())
        {
            cut = open;
        }
    }
    cut
}

/// One execution as the gateway runs it.
pub(crate) struct Run<'a> {
    pub origin: &'a Origin,
    pub request: ExecuteRequest,
    pub vault: &'a SharedVault,
    /// The session's worker, when it already has one; otherwise a fresh worker is started.
    pub worker: Option<WorkerProcess>,
    /// Keep the worker's JavaScript state for the next execution (a session).
    pub keep_state: bool,
    /// Hand the worker back, when it is healthy and not worn out, for the same client's next
    /// execution (which gets a brand-new runtime in it).
    pub reuse: bool,
}

/// Who runs an execution, under which id, since when, and what it runs (for its audit record).
struct Started<'a> {
    origin: &'a Origin,
    execution_id: String,
    audit_budget: Arc<AuditBudget>,
    instant: Instant,
    at: SystemTime,
    code: String,
    language: Language,
    /// The execution's span, when traces are on.
    trace: Option<ExecutionSpan>,
}

/// What running the code in a worker needs besides the request.
struct WorkerRun {
    worker: Option<WorkerProcess>,
    keep_state: bool,
    reuse: bool,
    limits: ExecutionLimits,
    privacy: Result<Option<Arc<ExecutionPrivacy>>, String>,
}

/// What came back from the worker, before the privacy pass.
struct Ran {
    result: Value,
    error: Option<ExecutionError>,
    /// Output bytes the worker dropped past the budget.
    dropped: u64,
    output: Output,
    stats: ExecutionStats,
    /// The worker, kept for the session's next execution.
    kept: Option<WorkerProcess>,
}

impl Ran {
    /// An execution that failed before any code ran.
    fn failed(error: ExecutionError, output: Output) -> Ran {
        Ran {
            result: Value::Null,
            error: Some(error),
            dropped: 0,
            output,
            stats: ExecutionStats::default(),
            kept: None,
        }
    }
}

/// What the agent gets back, after the privacy pass, before its report is written.
struct Answer {
    result: Value,
    error: Option<ExecutionError>,
    dropped: u64,
    output: Output,
    stats: ExecutionStats,
}

/// Phase 3: what goes back to the agent passes the detectors too, with the execution's vault
/// (the output already did, line by line, as it arrived). The worker names a `ToolError` of a
/// refused flow `PolicyDenied`; only a refusal the policy made here lets it stand (agent code
/// can throw a ToolError of any kind).
fn protect_answer(
    privacy: Option<&ExecutionPrivacy>,
    result: Value,
    error: Option<ExecutionError>,
) -> (Value, Option<ExecutionError>) {
    let denied = privacy.is_some_and(|privacy| privacy.counts().denied > 0);
    let error = error.map(|mut error| {
        if let Some(privacy) = privacy {
            error.message = privacy.protect_text(error.message);
        }
        if error.kind == ErrorKind::PolicyDenied && !denied {
            error.kind = ErrorKind::ToolError;
        }
        error
    });
    let result = match privacy {
        Some(privacy) => privacy.protect_value(result),
        None => result,
    };
    (result, error)
}

impl Gateway {
    /// Run one execution; returns its report and, when `keep_state` and the worker is still
    /// healthy, the worker for the session's next execution. Four phases: set up (id, limits,
    /// privacy), run the code in a worker, pass what comes back through the privacy detectors,
    /// and write the report and its audit record.
    pub(crate) async fn run(&self, run: Run<'_>) -> (ExecutionReport, Option<WorkerProcess>) {
        let Run {
            origin,
            request,
            vault,
            worker,
            keep_state,
            reuse,
        } = run;
        let started = self.start_execution(origin, &request);
        let limits = self.execution_limits(request.timeout_ms);
        let privacy = self.execution_privacy(vault);
        let worker = WorkerRun {
            worker,
            keep_state,
            reuse,
            limits,
            privacy: privacy.clone(),
        };
        let ran = match self.run_in_worker(&started, request, worker).await {
            Ok(ran) => ran,
            Err(report) => return (report, None),
        };
        let privacy = privacy.ok().flatten();
        let (result, error) = protect_answer(privacy.as_deref(), ran.result, ran.error);
        let kept = ran.kept;
        let answer = Answer {
            result,
            error,
            dropped: ran.dropped,
            output: ran.output,
            stats: ran.stats,
        };
        let report = self.finish_execution(&started, privacy.as_deref(), answer);
        (report, kept)
    }

    /// Phase 1: the execution's id, start time and audit budget.
    fn start_execution<'a>(&self, origin: &'a Origin, request: &ExecuteRequest) -> Started<'a> {
        let execution_id = new_execution_id();
        let trace = self.telemetry().map(|telemetry| {
            telemetry.execution(
                request.trace.as_ref(),
                ExecutionStart {
                    client: &origin.client,
                    session: origin.session.as_deref(),
                    execution_id: &execution_id,
                    language: request.language,
                },
            )
        });
        Started {
            trace,
            audit_budget: self.audit().budget(&execution_id, origin),
            execution_id,
            origin,
            instant: Instant::now(),
            at: SystemTime::now(),
            code: request.code.clone(),
            language: request.language,
        }
    }

    /// The limits of an execution that asked for `timeout_ms`, from the settings.
    pub(crate) fn execution_limits(&self, timeout_ms: Option<u64>) -> ExecutionLimits {
        let settings = &self.config().settings.execution;
        ExecutionLimits {
            timeout_ms: timeout_ms
                .unwrap_or(settings.timeout_ms)
                .clamp(1, settings.max_timeout_ms),
            memory_bytes: settings.memory_mb * 1024 * 1024,
            stack_bytes: STACK_BYTES,
            output_bytes: settings.output_bytes,
            tool_calls: settings.tool_calls,
            workspace_bytes: settings.workspace_mb * 1024 * 1024,
        }
    }

    /// The execution's privacy protection with `vault`: `None` when privacy is off, an error
    /// when it could not start (then no code runs).
    fn execution_privacy(
        &self,
        vault: &SharedVault,
    ) -> Result<Option<Arc<ExecutionPrivacy>>, String> {
        match self.privacy() {
            PrivacyState::Off => Ok(None),
            PrivacyState::On(privacy) => Ok(Some(Arc::new(ExecutionPrivacy::new(
                privacy.clone(),
                vault.clone(),
            )))),
            PrivacyState::Broken(problem) => Err(problem.clone()),
        }
    }

    /// Phase 2: run the code in the session's worker or a new one, and serve its tool calls
    /// until it is done. `Err` is the report of a gateway failure (already audited).
    async fn run_in_worker(
        &self,
        started: &Started<'_>,
        request: ExecuteRequest,
        run: WorkerRun,
    ) -> Result<Ran, ExecutionReport> {
        let WorkerRun {
            worker,
            keep_state,
            reuse,
            limits,
            privacy,
        } = run;
        let output = Output {
            text: String::new(),
            budget: limits.output_bytes as usize,
            truncated: 0,
        };
        let privacy = match (privacy, self.worker_command()) {
            (Ok(privacy), Some(_)) => Ok(privacy),
            (Err(problem), _) => Err(format!(
                "code execution is off: privacy protection could not start ({problem})"
            )),
            (Ok(_), None) => Err("code execution is not enabled in this gateway".to_owned()),
        };
        let privacy = match privacy {
            Ok(privacy) => privacy,
            Err(message) => {
                let error = execution_error(ErrorKind::Unavailable, message);
                return Ok(Ran::failed(error, output));
            }
        };
        // Warm workers are confined to the owner's workspace: a principal's start their own.
        let tenant = &started.origin.tenant;
        let worker = worker.or_else(|| tenant.is_owner().then(|| self.warm().take(self)).flatten());
        let worker = match worker {
            Some(worker) => Ok(worker),
            None => {
                let launch = self.launch(tenant, keep_state || reuse, limits.timeout_ms);
                self.start_worker_for(
                    &launch,
                    sluice_telemetry::WorkerPurpose::Execution,
                    started.trace.as_ref(),
                )
                .await
            }
        };
        let mut worker = match worker {
            Ok(worker) => worker,
            Err(problem) => {
                return Ok(Ran::failed(
                    execution_error(ErrorKind::WorkerCrashed, problem),
                    output,
                ));
            }
        };
        let execution = WorkerExecution {
            origin: started.origin.clone(),
            execution_id: started.execution_id.clone(),
            request,
            limits,
            privacy,
            keep_state,
            audit_budget: started.audit_budget.clone(),
            trace: started.trace.clone(),
        };
        // Served on a task of the runtime, whoever awaits this execution (a `block_on` caller
        // would otherwise take every frame's wake-up across threads).
        let gateway = self.clone();
        let serving = Instant::now();
        let served = tokio::spawn(async move {
            let mut output = output;
            let mut stats = ExecutionStats::default();
            let outcome = gateway
                .serve_worker(&mut worker, execution, &mut output, &mut stats)
                .await;
            (worker, outcome, output, stats)
        })
        .await;
        let (mut worker, outcome, output, stats) = match served {
            Ok(served) => served,
            Err(panicked) => {
                // The task panicked (a bug): its worker was dropped, and killed.
                tracing::error!("serving a worker failed: {panicked}");
                return Err(self.gateway_failure(started));
            }
        };
        let (result, error, dropped) = match outcome {
            Ok((result, dropped)) => (result, None, dropped),
            Err((error, dropped)) => (Value::Null, Some(error), dropped),
        };
        worker.served += 1;
        worker.busy += serving.elapsed();
        let healthy = error
            .as_ref()
            .is_none_or(|error| !error.kind.ends_session());
        let kept = if healthy && (keep_state || (reuse && !self.worn_out(&worker))) {
            Some(worker)
        } else {
            worker.stop().await;
            None
        };
        Ok(Ran {
            result,
            error,
            dropped,
            output,
            stats,
            kept,
        })
    }

    /// The report of an execution the gateway failed to serve (a bug), audited.
    fn gateway_failure(&self, started: &Started<'_>) -> ExecutionReport {
        let report = error_report(
            ErrorKind::InternalError,
            "internal error of the gateway while serving this execution; run it again".to_owned(),
        );
        let request = ExecuteRequest {
            code: started.code.clone(),
            language: started.language,
            ..ExecuteRequest::default()
        };
        if let Some(trace) = &started.trace {
            trace.end(ExecutionEnd::before_running(&ErrorKind::InternalError, &[]));
        }
        self.audit()
            .refused(&started.execution_id, started.origin, &request, &report);
        report
    }

    /// Phase 4: the report the agent gets (statistics, the limits hit, what it costs in tokens)
    /// and its audit record, with the privacy releases of the execution.
    fn finish_execution(
        &self,
        started: &Started<'_>,
        privacy: Option<&ExecutionPrivacy>,
        answer: Answer,
    ) -> ExecutionReport {
        let Answer {
            result,
            error,
            dropped,
            output,
            mut stats,
        } = answer;
        if let Some(privacy) = privacy {
            self.audit().releases(
                &started.execution_id,
                started.origin,
                privacy.take_releases(),
                &started.audit_budget,
            );
            let counts = privacy.counts();
            stats.pii_tokenized = counts.tokenized;
            stats.pii_untokenized = counts.untokenized;
            stats.pii_denied = counts.denied;
            stats.pii_us = counts.micros;
        }
        let result = bound_result(result, output.budget);
        let (text, shown, truncated) = output.finish(dropped);
        stats.output_bytes = shown;
        stats.output_truncated_bytes = truncated;
        stats.duration_ms = started.instant.elapsed().as_millis() as u64;
        let mut limits_hit: Vec<Limit> = error
            .as_ref()
            .and_then(|error| error.kind.limit())
            .into_iter()
            .collect();
        if truncated > 0 {
            limits_hit.push(Limit::OutputBytes);
        }
        if stats.rate_limited_calls > 0 {
            limits_hit.push(Limit::Rate);
        }
        let mut report = ExecutionReport {
            retry_after_ms: None,
            output: text,
            result,
            error,
            stats,
        };
        let returned = report.to_text();
        report.stats.result_bytes = returned.len() as u64;
        report.stats.result_tokens = sluice_tokens::count(&returned) as u64;
        if let Some(trace) = &started.trace {
            trace.end(ExecutionEnd {
                error: report.error.as_ref().map(|error| &error.kind),
                limits_hit: &limits_hit,
                tool_calls: report.stats.tool_calls,
                tokens_returned: report.stats.result_tokens,
                direct_estimate_tokens: report.stats.direct_estimate_tokens,
            });
        }
        self.audit().execution(ExecutionAudit {
            execution_id: &started.execution_id,
            origin: started.origin,
            started_at: started.at,
            code: &started.code,
            language: started.language,
            report: &report,
            limits_hit,
        });
        report
    }

    /// Whether a reused worker has served enough: its executions, or CPU time near what its
    /// `RLIMIT_CPU` allows (bounded by twice its busy wall time: the engine thread and the
    /// main thread).
    fn worn_out(&self, worker: &WorkerProcess) -> bool {
        let settings = &self.config().settings.workers;
        worker.served >= settings.max_executions
            || worker.busy.as_secs().saturating_mul(2) + RETIRE_MARGIN_SECONDS
                >= SESSION_CPU_SECONDS
    }

    /// The OS limits of a new worker.
    pub(crate) fn launch(&self, tenant: &Tenant, session: bool, timeout_ms: u64) -> Launch {
        let settings = &self.config().settings.execution;
        // One execution: its wall time is a bound on its CPU time too (plus start-up). A session
        // worker lives for many executions: it gets one hour of CPU in all.
        let cpu_seconds = if session {
            SESSION_CPU_SECONDS
        } else {
            timeout_ms.div_ceil(1000) + 2
        };
        Launch {
            workspace: tenant.workspace_dir(),
            memory_mb: settings.memory_mb,
            cpu_seconds,
            file_size_mb: settings.workspace_mb,
            spin_micros: settings.spin_micros,
        }
    }

    /// Send one `Execute` to `worker` and serve it until `Done`, the watchdog or a broken
    /// channel. The worker is killed on every path that leaves it in an unknown state.
    async fn serve_worker(
        &self,
        worker: &mut WorkerProcess,
        execution: WorkerExecution,
        output: &mut Output,
        stats: &mut ExecutionStats,
    ) -> Result<(Value, u64), (ExecutionError, u64)> {
        let WorkerExecution {
            origin,
            execution_id,
            request,
            limits,
            privacy,
            keep_state,
            audit_budget,
            trace,
        } = execution;
        let origin = &origin;
        let crash = |message: String| (execution_error(ErrorKind::WorkerCrashed, message), 0);
        let skills = origin
            .tenant
            .skill_sources_for(&request.code)
            .map_err(|message| (execution_error(ErrorKind::ImportError, message), 0))?;
        let snapshot = self.snapshot().await;
        let call_timeout = Duration::from_millis(self.config().settings.call_timeout_ms);
        let cancel = request.cancel;
        let elicitor = request.elicitor;
        let mut progress = request.progress.map(|sender| ProgressState {
            sender,
            started: Instant::now(),
            last_sent: None,
            reported: None,
        });
        let mut progress_ticks = tokio::time::interval_at(
            (Instant::now() + PROGRESS_INTERVAL).into(),
            PROGRESS_INTERVAL,
        );
        // Only the servers the code and its skills name cross to the worker.
        let skill_code = |python: bool| {
            skills
                .values()
                .filter(move |skill| (skill.language == Language::Python) == python)
                .map(|skill| skill.code.as_str())
        };
        let tools = if request.language == Language::Python {
            snapshot
                .python_bindings_for(std::iter::once(request.code.as_str()).chain(skill_code(true)))
        } else {
            snapshot.bindings_for(std::iter::once(request.code.as_str()).chain(skill_code(false)))
        };
        let execute = GatewayMessage::Execute(ExecuteJob {
            protocol_version: PROTOCOL_VERSION,
            code: request.code,
            language: request.language,
            limits: limits.clone(),
            tools,
            keep_state,
            skills,
        });
        // Written on its own task, under the watchdog's eye (a worker that does not read can
        // block a large frame); the lock is taken first, so no `ToolResult` can come before it.
        worker.send_detached(execute).await;

        let deadline = Instant::now() + Duration::from_millis(limits.timeout_ms);
        let calls = Arc::new(CallServer {
            gateway: self.clone(),
            elicitor,
            snapshot,
            privacy: privacy.clone(),
            stdin: worker.stdin(),
            origin: origin.clone(),
            execution_id: execution_id.to_owned(),
            audit_budget,
            made: AtomicU64::new(0),
            rate_limited: AtomicU64::new(0),
            finished: AtomicBool::new(false),
            answered: tokio::sync::Notify::new(),
            answered_at: std::sync::Mutex::new(None),
            direct_texts: std::sync::Mutex::new(DirectTexts::default()),
            limit: limits.tool_calls,
            deadline,
            call_timeout,
            trace,
        });
        let watchdog = tokio::time::sleep_until((deadline + WATCHDOG_GRACE).into());
        tokio::pin!(watchdog);
        // Why the execution is stopped from outside: the client cancelled it, or Sluice is
        // shutting down.
        let cancelled = async {
            let by_client = async {
                match &cancel {
                    Some(cancel) => cancel.cancelled().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                () = by_client => "the client cancelled this execution; it was stopped",
                () = self.stopping().cancelled() => "Sluice is shutting down; the execution was stopped",
            }
        };
        tokio::pin!(cancelled);
        let mut spin = Spin::new(
            self.config()
                .settings
                .execution
                .spin()
                .min(GATEWAY_SPIN_LIMIT),
        );
        let outcome = loop {
            // Right after a result went to the worker, its next frame (usually the next call)
            // is expected within microseconds: poll for it rather than sleep.
            let spin_until = calls
                .answered_at()
                .map(|answered| answered + spin.next())
                .filter(|until| Instant::now() < *until);
            tokio::select! {
                // A result was written: poll again, now with a spin window.
                () = calls.answered.notified(), if spin_until.is_none() => continue,
                reason = &mut cancelled => {
                    worker.kill();
                    break Err((execution_error(ErrorKind::Cancelled, reason), 0));
                }
                _ = progress_ticks.tick(), if progress.is_some() => {
                    if let Some(progress) = &mut progress {
                        progress.tick(calls.made.load(Ordering::Relaxed));
                    }
                }
                () = &mut watchdog => {
                    worker.kill();
                    break Err((execution_error(ErrorKind::Timeout, format!(
                        "the code ran longer than its time limit of {} ms and was stopped; make it do less per execution, or pass a larger timeout_ms",
                        limits.timeout_ms
                    )), 0));
                }
                message = worker.next_soon(spin_until) => match message {
                    Some(Ok(WorkerMessage::ToolCall { call_id, server, tool, arguments })) => {
                        if let Some(answered) = calls.take_answered_at() {
                            spin.record(answered.elapsed());
                        }
                        calls.start(call_id, server, tool, arguments);
                    }
                    Some(Ok(WorkerMessage::Log { level, text })) => {
                        let text = match &privacy {
                            Some(privacy) => privacy.protect_text(text),
                            None => text,
                        };
                        for line in text.split('\n') {
                            output.push_line(level, line);
                        }
                    }
                    Some(Ok(WorkerMessage::Progress { message, fraction })) => {
                        if let Some(progress) = &mut progress {
                            let message = match &privacy {
                                Some(privacy) => privacy.protect_text(message),
                                None => message,
                            };
                            // From an untrusted worker: bounded again here.
                            let message: String =
                                message.chars().take(MAX_PROGRESS_MESSAGE_CHARS).collect();
                            let fraction = fraction.filter(|fraction| (0.0..=1.0).contains(fraction));
                            let reported = ReportedProgress { message, fraction };
                            progress.report(reported, calls.made.load(Ordering::Relaxed));
                        }
                    }
                    Some(Ok(WorkerMessage::Done { outcome, dropped_output_bytes })) => {
                        break match outcome {
                            ExecutionOutcome::Ok { result } => Ok((result, dropped_output_bytes)),
                            ExecutionOutcome::Error(error) => Err((error, dropped_output_bytes)),
                        };
                    }
                    Some(Ok(other)) => {
                        worker.kill();
                        break Err(crash(format!(
                            "the worker broke protocol (a {} during an execution)",
                            message_name(&other)
                        )));
                    }
                    Some(Err(problem)) => {
                        worker.kill();
                        break Err(crash(problem));
                    }
                    None => {
                        let exit = worker.exit("during the execution").await;
                        if exit.out_of_memory {
                            break Err((
                                execution_error(
                                    ErrorKind::OutOfMemory,
                                    format!(
                                        "The execution ran out of memory: its code allocated past \
                                         the memory limit of {} MiB. Work on smaller data per \
                                         execution.",
                                        limits.memory_bytes / (1024 * 1024)
                                    ),
                                ),
                                0,
                            ));
                        }
                        break Err(crash(exit.description));
                    }
                }
            }
        };
        // Calls still in flight must not answer into the session's next execution.
        calls.finished.store(true, Ordering::SeqCst);
        stats.tool_calls = calls.made.load(Ordering::Relaxed);
        stats.rate_limited_calls = calls.rate_limited.load(Ordering::Relaxed);
        let direct_texts = calls
            .direct_texts
            .lock()
            .map(|mut texts| std::mem::take(&mut *texts))
            .unwrap_or_default();
        stats.direct_estimate_tokens = tokio::task::spawn_blocking(move || direct_texts.estimate())
            .await
            .unwrap_or_default();
        outcome
    }
}

/// What [`Gateway::serve_worker`] needs about the execution.
struct WorkerExecution {
    origin: Origin,
    execution_id: String,
    request: ExecuteRequest,
    limits: ExecutionLimits,
    privacy: Option<Arc<ExecutionPrivacy>>,
    keep_state: bool,
    audit_budget: Arc<AuditBudget>,
    trace: Option<ExecutionSpan>,
}

/// CPU seconds a session's, a reused or a warm worker gets over its whole life.
const SESSION_CPU_SECONDS: u64 = 3600;
/// A reused worker is replaced this long before its CPU limit could be reached.
const RETIRE_MARGIN_SECONDS: u64 = 300;

/// What the tasks serving one execution's tool calls share.
struct CallServer {
    gateway: Gateway,
    /// Answers the servers' questions during this execution's calls.
    elicitor: Option<sluice_downstream::SharedElicitor>,
    snapshot: Arc<Snapshot>,
    privacy: Option<Arc<ExecutionPrivacy>>,
    /// The worker's stdin; each task writes its `ToolResult` frame whole while holding it.
    stdin: Arc<tokio::sync::Mutex<ChildStdin>>,
    origin: Origin,
    execution_id: String,
    /// What the execution's call records may still take in the audit log.
    audit_budget: Arc<AuditBudget>,
    /// Tool calls the worker made, refused ones included.
    made: AtomicU64,
    /// Calls refused by a server's rate limit.
    rate_limited: AtomicU64,
    /// Set when the execution is over: a result that comes later is not written (in a session,
    /// the worker's next execution could otherwise receive it).
    finished: AtomicBool,
    /// Signalled after each result written to the worker.
    answered: tokio::sync::Notify,
    /// When the last result was written, until the worker's next call came.
    answered_at: std::sync::Mutex<Option<Instant>>,
    /// What plain tool calling would have shown the model, for `direct_estimate_tokens`.
    direct_texts: std::sync::Mutex<DirectTexts>,
    limit: u64,
    deadline: Instant,
    call_timeout: Duration,
    /// The execution's span, when traces are on: each call gets a child span.
    trace: Option<ExecutionSpan>,
}

impl CallServer {
    /// Start serving one `ToolCall` on its own task (calls run concurrently); the task writes the
    /// result to the worker itself and audits the call. A call over the execution's limit is
    /// refused without being made (the server's rate is checked on the call path, after the
    /// arguments).
    fn start(self: &Arc<Self>, call_id: u64, server: String, tool: String, arguments: Value) {
        let made = self.made.fetch_add(1, Ordering::Relaxed) + 1;
        let calls = self.clone();
        let started = Instant::now();
        let mut span: Option<ToolCallSpan> = self
            .trace
            .as_ref()
            .map(|trace| trace.tool_call(&server, &tool));
        // The arguments as the worker sent them (tokens, never released values), serialized once:
        // for the audit record and for `direct_estimate_tokens`.
        let arguments_json = arguments.to_string();
        // Refused before it costs anything: a name too long to be a tool's (no lookup, no
        // suggestions, the name not echoed; the audit record keeps a cut of it with its hash),
        // or a call past the execution's limit.
        let refusal = absurd_name(&server, &tool).or_else(|| {
            (made > self.limit).then(|| {
                ToolOutcome::failure(
                    ToolErrorKind::Limit,
                    format!(
                        "the limit of {} tool calls per execution is reached; do the rest in another execution",
                        self.limit
                    ),
                    false,
                )
            })
        });
        if let Some(outcome) = refusal {
            tokio::spawn(async move {
                calls.audit_call(&server, &tool, &arguments_json, &outcome, started);
                end_span(span, &outcome);
                calls
                    .answer(&GatewayMessage::ToolResult { call_id, outcome })
                    .await;
            });
            return;
        }
        let remaining = self
            .deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        tokio::spawn(async move {
            // The principal's tool calls per minute, over all its executions.
            let outcome: ToolOutcome = match calls.origin.tenant.take_tool_call() {
                Err(refusal) => ToolOutcome::failure(
                    ToolErrorKind::RateLimited,
                    format!("{refusal} (the runtime's retry() helper waits and retries)"),
                    true,
                ),
                Ok(()) => {
                    calls
                        .gateway
                        .route_tool_call(
                            &calls.snapshot,
                            calls.privacy.as_deref(),
                            &server,
                            &tool,
                            arguments,
                            crate::tool_call::CallOptions {
                                deadline: calls.call_timeout.min(remaining),
                                elicitor: calls.elicitor.clone(),
                                client: calls.origin.client.clone(),
                                audit: (&calls.origin, &calls.execution_id),
                                trace: span.as_mut(),
                            },
                        )
                        .await
                }
            };
            calls.audit_call(&server, &tool, &arguments_json, &outcome, started);
            end_span(span, &outcome);
            if matches!(
                &outcome,
                ToolOutcome::Error {
                    kind: ToolErrorKind::RateLimited,
                    ..
                }
            ) {
                calls.rate_limited.fetch_add(1, Ordering::Relaxed);
            }
            let message = GatewayMessage::ToolResult { call_id, outcome };
            calls.answer(&message).await;
            // After the answer, so the worker never waits for this bookkeeping; the outcome is
            // moved, not copied.
            let GatewayMessage::ToolResult { outcome, .. } = message else {
                return;
            };
            let shown = match outcome {
                ToolOutcome::Ok {
                    value: Value::String(text),
                } => text,
                ToolOutcome::Ok { value } => value.to_string(),
                ToolOutcome::Error { message, .. } => message,
            };
            if let Ok(mut texts) = calls.direct_texts.lock() {
                // The call as the model would have written it, and what it would have read.
                let mut call = tool;
                call.push_str(&arguments_json);
                texts.push(call);
                texts.push(shown);
            }
        });
    }

    /// Write a result to the worker, unless the execution is already over.
    async fn answer(&self, message: &GatewayMessage) {
        let Ok(frame) = encode(message) else {
            return;
        };
        let mut stdin = self.stdin.lock().await;
        // Checked under the lock: the next `Execute` is written under it too, after `finished`
        // was set, so a late result can never follow it.
        if !self.finished.load(Ordering::SeqCst) {
            write_encoded(&mut stdin, &frame).await;
            drop(stdin);
            *self
                .answered_at
                .lock()
                .unwrap_or_else(PoisonError::into_inner) = Some(Instant::now());
            self.answered.notify_one();
        }
    }

    /// When the last result was written, if the worker has not made a call since.
    fn answered_at(&self) -> Option<Instant> {
        *self
            .answered_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// [`CallServer::answered_at`], clearing it: the worker answered with a call.
    fn take_answered_at(&self) -> Option<Instant> {
        self.answered_at
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .take()
    }

    /// One audit record for one call: the size and hash of its arguments (`arguments_json`).
    /// An error message is scanned for personal data first, as what reaches the model is (a
    /// trusted server's message reaches the code as it is).
    fn audit_call(
        &self,
        server: &str,
        tool: &str,
        arguments_json: &str,
        outcome: &ToolOutcome,
        started: Instant,
    ) {
        let scanned;
        let outcome = match (&self.privacy, outcome) {
            (
                Some(privacy),
                ToolOutcome::Error {
                    kind,
                    message,
                    retryable,
                    ..
                },
            ) => {
                scanned = ToolOutcome::Error {
                    kind: kind.clone(),
                    message: privacy.audit_text(message),
                    content: None,
                    retryable: *retryable,
                };
                &scanned
            }
            _ => outcome,
        };
        self.gateway.audit().tool_call(
            ToolCallAudit {
                execution_id: &self.execution_id,
                origin: &self.origin,
                server,
                tool,
                arguments_json,
                outcome,
                duration: started.elapsed(),
            },
            &self.audit_budget,
        );
    }
}

/// End a tool call's span, when there is one, with the call's outcome.
fn end_span(span: Option<ToolCallSpan>, outcome: &ToolOutcome) {
    if let Some(span) = span {
        span.end(&match outcome {
            ToolOutcome::Ok { .. } => sluice_worker_protocol::CallOutcome::Ok,
            ToolOutcome::Error { kind, .. } => {
                sluice_worker_protocol::CallOutcome::Failed(kind.clone())
            }
        });
    }
}

/// Longest server or tool name a call may give (MCP asks tool names to be at most 128
/// characters; 256 bytes leaves room for any real one).
pub(crate) const MAX_CALL_NAME_BYTES: usize = 256;

/// The refusal of a call whose server or tool name is longer than [`MAX_CALL_NAME_BYTES`].
fn absurd_name(server: &str, tool: &str) -> Option<ToolOutcome> {
    let (what, length) = if server.len() > MAX_CALL_NAME_BYTES {
        ("server", server.len())
    } else if tool.len() > MAX_CALL_NAME_BYTES {
        ("tool", tool.len())
    } else {
        return None;
    };
    Some(ToolOutcome::failure(
        ToolErrorKind::UnknownTool,
        format!(
            "the {what} name given is {length} bytes long; names are at most {MAX_CALL_NAME_BYTES} bytes: check the name (search_tools finds tools)"
        ),
        false,
    ))
}

/// Text that plain tool calling would have put into the model's context, kept for counting once
/// the execution ends (counting on the call path would slow every call).
#[derive(Default)]
struct DirectTexts {
    texts: Vec<String>,
    kept_bytes: usize,
    /// Bytes past [`DIRECT_COUNT_LIMIT`], estimated at the tokens-per-byte of the counted part.
    uncounted_bytes: u64,
}

/// Text counted exactly for `direct_estimate_tokens`; beyond it, extrapolated.
const DIRECT_COUNT_LIMIT: usize = 4 * 1024 * 1024;

impl DirectTexts {
    fn push(&mut self, text: String) {
        if self.kept_bytes + text.len() <= DIRECT_COUNT_LIMIT {
            self.kept_bytes += text.len();
            self.texts.push(text);
        } else {
            self.uncounted_bytes += text.len() as u64;
        }
    }

    /// o200k tokens of the kept text, plus the rest at the same tokens per byte (4 bytes per
    /// token when nothing was kept).
    fn estimate(self) -> u64 {
        let counted: u64 = self
            .texts
            .iter()
            .map(|text| sluice_tokens::count(text) as u64)
            .sum();
        let extrapolated = if self.kept_bytes == 0 {
            self.uncounted_bytes / 4
        } else {
            (self.uncounted_bytes as f64 * counted as f64 / self.kept_bytes as f64) as u64
        };
        counted + extrapolated
    }
}

/// A result too large for the budget becomes a notice, so one execution cannot flood the context.
fn bound_result(result: Value, budget: usize) -> Value {
    let size = result.to_string().len();
    if size <= budget {
        return result;
    }
    Value::String(format!(
        "[result of {size} bytes omitted: over the output budget of {budget} bytes; return a summary instead]"
    ))
}

/// See [`Gateway::execute`].
pub(crate) async fn execute_local(gateway: &Gateway, request: ExecuteRequest) -> ExecutionReport {
    let origin = Origin {
        client: Arc::from("local"),
        session: None,
        tenant: gateway.owner().clone(),
    };
    let vault = crate::privacy::new_vault();
    let run = Run {
        origin: &origin,
        request,
        vault: &vault,
        worker: None,
        keep_state: false,
        reuse: false,
    };
    gateway.run(run).await.0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn output_budget_cuts_and_counts() {
        let mut output = Output {
            text: String::new(),
            budget: 20,
            truncated: 0,
        };
        output.push_line(LogLevel::Log, "0123456789");
        output.push_line(LogLevel::Log, "abcdefghijklmnop");
        output.push_line(LogLevel::Log, "more");
        let (text, shown, truncated) = output.finish(3);
        assert!(
            text.starts_with("0123456789\nabcdefgh\n[output truncated: "),
            "{text}"
        );
        assert_eq!(shown, 20);
        assert_eq!(truncated, 8 + 5 + 3);
    }

    #[test]
    fn output_is_cut_outside_tokens() {
        let line = "call [PHONE_1_k7qm] now";
        assert_eq!(cut_outside_token(line, 10), 5);
        assert_eq!(cut_outside_token(line, 5), 5);
        assert_eq!(cut_outside_token(line, 19), 19);
        assert_eq!(cut_outside_token("a [b c] d", 4), 4);
        assert_eq!(cut_outside_token("é", 1), 0);
    }

    #[test]
    fn direct_estimate_counts_then_extrapolates() {
        let mut texts = DirectTexts::default();
        texts.push("hello world".to_owned());
        assert_eq!(texts.estimate(), 2);
        let mut texts = DirectTexts::default();
        texts.push("hello world".to_owned()); // 11 bytes, 2 tokens
        texts.uncounted_bytes = 1_100;
        assert_eq!(texts.estimate(), 2 + 200);
        let mut texts = DirectTexts::default();
        texts.push("x".repeat(DIRECT_COUNT_LIMIT + 1));
        assert_eq!(texts.estimate(), (DIRECT_COUNT_LIMIT as u64 + 1) / 4);
    }

    #[test]
    fn large_results_are_replaced() {
        assert_eq!(
            bound_result(serde_json::json!([1]), 10),
            serde_json::json!([1])
        );
        assert!(
            bound_result(serde_json::json!("x".repeat(100)), 10)
                .as_str()
                .unwrap()
                .contains("omitted")
        );
    }
}
