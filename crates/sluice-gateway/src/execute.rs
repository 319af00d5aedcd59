//! Running agent code: spawn a worker, hand it the code, serve its tool calls, collect its output.
//!
//! The worker is untrusted. Its frames are decoded with a size cap; a malformed frame, an early
//! exit or a hang past the wall time plus [`WATCHDOG_GRACE`] kills it and fails this execution
//! only. The gateway enforces the output budget and the tool-call limit itself too, whatever the
//! worker claims.

use std::path::PathBuf;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde::Serialize;
use serde_json::Value;
use sluice_worker_protocol::{
    ExecutionError, ExecutionLimits, ExecutionOutcome, FrameDecoder, GatewayMessage, Language,
    LogLevel, MAX_WORKER_FRAME_BYTES, PROTOCOL_VERSION, ToolOutcome, WorkerMessage,
    decode_worker_message, encode,
};
use tokio::io::{AsyncBufReadExt, AsyncReadExt, AsyncWriteExt, BufReader};
use tokio::process::{Child, ChildStdin, ChildStdout, Command};
use tokio::sync::mpsc;

use crate::privacy::{ExecutionPrivacy, POLICY_DENIED, PrivacyState, SharedVault};
use crate::tool_call::failure;
use crate::{Gateway, Snapshot};

/// Time the engine gets past the wall time to report a timeout itself before the gateway kills it.
pub const WATCHDOG_GRACE: Duration = Duration::from_millis(1500);
/// How long a worker may take to start and say it is ready.
const READY_TIMEOUT: Duration = Duration::from_secs(10);
/// JS stack limit inside the worker.
const STACK_BYTES: u64 = 1024 * 1024;

/// How to start a worker process: a program and its arguments (for the `sluice` binary, itself
/// with the hidden `worker` subcommand).
#[derive(Debug, Clone)]
pub struct WorkerCommand {
    /// The program.
    pub program: PathBuf,
    /// Its arguments.
    pub args: Vec<String>,
}

/// One `execute_code` call.
#[derive(Debug, Clone)]
pub struct ExecuteRequest {
    /// The agent's code.
    pub code: String,
    /// Its language.
    pub language: Language,
    /// Wall time asked for; capped by `sluice.execution.maxTimeoutMs`.
    pub timeout_ms: Option<u64>,
}

/// What an execution returns: the brief's `execute_code` structured content.
#[derive(Debug, Clone, Serialize)]
pub struct ExecutionReport {
    /// What the code logged, within the output budget, with a notice when cut.
    pub output: String,
    /// The value of the module's `export default`, or null.
    pub result: Value,
    /// Why it failed, when it failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<ExecutionError>,
    /// Measurements.
    pub stats: ExecutionStats,
}

/// Measurements of one execution.
#[derive(Debug, Clone, Default, Serialize)]
pub struct ExecutionStats {
    /// Wall time, spawn to end.
    pub duration_ms: u64,
    /// Tool calls made.
    pub tool_calls: u64,
    /// Bytes of output returned.
    pub output_bytes: u64,
    /// Bytes of output cut by the budget.
    pub output_truncated_bytes: u64,
    /// Bytes of the text this execution returns to the model.
    pub result_bytes: u64,
    /// o200k tokens of the text this execution returns to the model.
    pub result_tokens: u64,
    /// What the same tool calls would have put into the model's context with plain tool calling:
    /// o200k tokens of each call's name and arguments and of each result. Counted exactly for the
    /// first 4 MiB of such text, extrapolated at the same tokens-per-byte beyond.
    pub direct_estimate_tokens: u64,
    /// Personal data values replaced by tokens (in tool results and in what is returned).
    pub pii_tokenized: u64,
    /// Tokens replaced by real values in tool-call arguments (each one audited).
    pub pii_untokenized: u64,
    /// Tool calls refused by the privacy flow policy.
    pub pii_denied: u64,
    /// Time spent tokenizing and untokenizing, in microseconds.
    pub pii_us: u64,
}

impl ExecutionReport {
    /// The text the model reads: output, then the result, then the error.
    pub fn to_text(&self) -> String {
        let mut text = self.output.clone();
        if !self.result.is_null() {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str("[result] ");
            text.push_str(&self.result.to_string());
            text.push('\n');
        }
        if let Some(error) = &self.error {
            if !text.is_empty() && !text.ends_with('\n') {
                text.push('\n');
            }
            text.push_str(&format!("[error] {}: {}", error.kind, error.message));
            match (error.line, error.column) {
                (Some(line), Some(column)) => {
                    text.push_str(&format!(" (line {line}, column {column})"))
                }
                (Some(line), None) => text.push_str(&format!(" (line {line})")),
                _ => {}
            }
            text.push('\n');
        }
        if text.is_empty() {
            text.push_str(
                "(no output: log with console.log or return a value with `export default`)\n",
            );
        }
        text
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
                let mut cut = room - prefix.len() - 1;
                while !line.is_char_boundary(cut) {
                    cut -= 1;
                }
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

fn execution_error(kind: &str, message: impl Into<String>) -> ExecutionError {
    ExecutionError {
        kind: kind.to_owned(),
        message: message.into(),
        line: None,
        column: None,
    }
}

impl Gateway {
    /// Run agent code in a fresh worker and report what it did. Personal data is tokenized with a
    /// vault of this execution only.
    pub async fn execute(&self, request: ExecuteRequest) -> ExecutionReport {
        let vault = self.new_vault();
        self.execute_with_vault(request, &vault).await
    }

    /// [`execute`](Self::execute) with a vault the caller keeps (for example for a session):
    /// tokens issued in earlier executions with the same vault resolve in this one.
    pub async fn execute_with_vault(
        &self,
        request: ExecuteRequest,
        vault: &SharedVault,
    ) -> ExecutionReport {
        let started = Instant::now();
        let settings = &self.config().settings.execution;
        let timeout_ms = request
            .timeout_ms
            .unwrap_or(settings.timeout_ms)
            .clamp(1, settings.max_timeout_ms);
        let limits = ExecutionLimits {
            timeout_ms,
            memory_bytes: settings.memory_mb * 1024 * 1024,
            stack_bytes: STACK_BYTES,
            output_bytes: settings.output_bytes,
            tool_calls: settings.tool_calls,
            // Protocol v2: no workspace is configured by the gateway yet.
            workspace_bytes: 0,
        };
        let mut output = Output {
            text: String::new(),
            budget: settings.output_bytes as usize,
            truncated: 0,
        };
        let mut stats = ExecutionStats::default();
        let privacy = match self.privacy() {
            PrivacyState::Off => Ok(None),
            PrivacyState::On(privacy) => Ok(Some(Arc::new(ExecutionPrivacy::new(
                privacy.clone(),
                vault.clone(),
            )))),
            PrivacyState::Broken(problem) => Err(problem.clone()),
        };
        let (result, error, dropped) = match (&self.inner.worker, privacy.clone()) {
            (_, Err(problem)) => (
                Value::Null,
                Some(execution_error(
                    "Unavailable",
                    format!(
                        "code execution is off: privacy protection could not start ({problem})"
                    ),
                )),
                0,
            ),
            (None, _) => (
                Value::Null,
                Some(execution_error(
                    "Unavailable",
                    "code execution is not enabled in this gateway",
                )),
                0,
            ),
            (Some(command), Ok(privacy)) => {
                let snapshot = self.snapshot().await;
                match self
                    .run_worker(
                        command,
                        snapshot,
                        privacy,
                        request,
                        limits,
                        &mut output,
                        &mut stats,
                    )
                    .await
                {
                    Ok((result, dropped)) => (result, None, dropped),
                    Err((error, dropped)) => (Value::Null, Some(error), dropped),
                }
            }
        };
        // Belt and braces: what goes back to the agent passes the detectors too, with the same
        // vault (the output already did, line by line, as it arrived).
        let privacy = privacy.ok().flatten();
        let (result, error) = match &privacy {
            Some(privacy) => (
                privacy.protect_value(result),
                error.map(|mut error| {
                    error.message = privacy.protect_text(error.message);
                    if privacy.counts().denied > 0
                        && error.kind == "ToolError"
                        && error.message.contains(&format!("(kind: {POLICY_DENIED},"))
                    {
                        error.kind = "PolicyDenied".to_owned();
                    }
                    error
                }),
            ),
            None => (result, error),
        };
        if let Some(privacy) = &privacy {
            let counts = privacy.counts();
            stats.pii_tokenized = counts.tokenized;
            stats.pii_untokenized = counts.untokenized;
            stats.pii_denied = counts.denied;
            stats.pii_us = counts.micros;
        }
        let result = bound_result(result, settings.output_bytes as usize);
        let (text, shown, truncated) = output.finish(dropped);
        stats.output_bytes = shown;
        stats.output_truncated_bytes = truncated;
        stats.duration_ms = started.elapsed().as_millis() as u64;
        let mut report = ExecutionReport {
            output: text,
            result,
            error,
            stats,
        };
        let returned = report.to_text();
        report.stats.result_bytes = returned.len() as u64;
        report.stats.result_tokens = sluice_tokens::count(&returned) as u64;
        report
    }

    #[allow(clippy::too_many_arguments)]
    async fn run_worker(
        &self,
        command: &WorkerCommand,
        snapshot: Arc<Snapshot>,
        privacy: Option<Arc<ExecutionPrivacy>>,
        request: ExecuteRequest,
        limits: ExecutionLimits,
        output: &mut Output,
        stats: &mut ExecutionStats,
    ) -> Result<(Value, u64), (ExecutionError, u64)> {
        let crash = |message: String| (execution_error("WorkerCrashed", message), 0);
        let mut child = Command::new(&command.program)
            .args(&command.args)
            .env_clear()
            .env(
                "RUST_LOG",
                std::env::var("SLUICE_WORKER_LOG").unwrap_or_else(|_| "warn".to_owned()),
            )
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .map_err(|error| {
                crash(format!(
                    "could not start a worker ({}): {error}",
                    command.program.display()
                ))
            })?;
        let (Some(stdin), Some(stdout), Some(stderr)) =
            (child.stdin.take(), child.stdout.take(), child.stderr.take())
        else {
            return Err(crash("the worker's pipes were not set up".to_owned()));
        };
        tokio::spawn(async move {
            let mut lines = BufReader::new(stderr).lines();
            while let Ok(Some(line)) = lines.next_line().await {
                tracing::debug!(target: "sluice::worker", "{line}");
            }
        });
        let mut frames = FrameSource::new(stdout);

        // Wait for Ready, then send the code.
        match tokio::time::timeout(READY_TIMEOUT, frames.next()).await {
            Ok(Some(Ok(WorkerMessage::Ready { protocol_version })))
                if protocol_version == PROTOCOL_VERSION => {}
            Ok(Some(Ok(WorkerMessage::Ready { protocol_version }))) => {
                return Err(crash(format!(
                    "the worker speaks protocol {protocol_version}, the gateway {PROTOCOL_VERSION}: rebuild Sluice"
                )));
            }
            Ok(Some(Ok(other))) => {
                return Err(crash(format!(
                    "the worker sent {other:?} before it was ready"
                )));
            }
            Ok(Some(Err(problem))) => return Err(crash(problem)),
            Ok(None) => return Err(crash(exit_description(&mut child, "while starting").await)),
            Err(_) => {
                return Err(crash(format!(
                    "the worker did not start within {} ms",
                    READY_TIMEOUT.as_millis()
                )));
            }
        }
        let stdin = Arc::new(tokio::sync::Mutex::new(stdin));
        let call_timeout = Duration::from_millis(self.config().settings.call_timeout_ms);
        let execute = GatewayMessage::Execute {
            protocol_version: PROTOCOL_VERSION,
            code: request.code,
            language: request.language,
            limits: limits.clone(),
            tools: snapshot.bindings(),
            // Protocol v2: sessions and skills are not wired in the gateway yet.
            keep_state: false,
            skills: std::collections::BTreeMap::new(),
        };
        // Written on its own task, under the watchdog's eye (a worker that does not read can
        // block a large frame); the lock is taken first, so no `ToolResult` can come before it.
        let mut execute_stdin = stdin.clone().lock_owned().await;
        tokio::spawn(async move {
            write_frame(&mut execute_stdin, &execute).await;
        });

        let deadline = Instant::now() + Duration::from_millis(limits.timeout_ms);
        let calls = Arc::new(CallServer {
            gateway: self.clone(),
            snapshot,
            privacy: privacy.clone(),
            stdin,
            made: AtomicU64::new(0),
            direct_texts: std::sync::Mutex::new(DirectTexts::default()),
            limit: limits.tool_calls,
            deadline,
            call_timeout,
        });
        // Tool calls are started by the reader itself; everything else comes here.
        let (message_sender, mut messages) = mpsc::channel::<Result<WorkerMessage, String>>(256);
        let reader = tokio::spawn(read_frames(frames, message_sender, calls.clone()));
        let watchdog = tokio::time::sleep_until((deadline + WATCHDOG_GRACE).into());
        tokio::pin!(watchdog);
        let outcome = loop {
            tokio::select! {
                () = &mut watchdog => {
                    let _ = child.start_kill();
                    break Err((execution_error("Timeout", format!(
                        "the code ran longer than its time limit of {} ms and was stopped; make it do less per execution, or pass a larger timeout_ms",
                        limits.timeout_ms
                    )), 0));
                }
                message = messages.recv() => match message {
                    Some(Ok(WorkerMessage::ToolCall { call_id, server, tool, arguments })) => {
                        // The reader starts calls itself and never passes one on; served all the same.
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
                    Some(Ok(WorkerMessage::Done { outcome, dropped_output_bytes })) => {
                        break match outcome {
                            ExecutionOutcome::Ok { result } => Ok((result, dropped_output_bytes)),
                            ExecutionOutcome::Error(error) => Err((error, dropped_output_bytes)),
                        };
                    }
                    Some(Ok(WorkerMessage::Ready { .. })) => {
                        let _ = child.start_kill();
                        break Err(crash("the worker broke protocol (a second Ready)".to_owned()));
                    }
                    Some(Ok(WorkerMessage::Checked { .. })) => {
                        let _ = child.start_kill();
                        break Err(crash("the worker broke protocol (a Checked without a Check)".to_owned()));
                    }
                    Some(Err(problem)) => {
                        let _ = child.start_kill();
                        break Err(crash(problem));
                    }
                    None => break Err(crash(exit_description(&mut child, "during the execution").await)),
                }
            }
        };
        stats.tool_calls = calls.made.load(Ordering::Relaxed);
        reader.abort();
        let direct_texts = calls
            .direct_texts
            .lock()
            .map(|mut texts| std::mem::take(&mut *texts))
            .unwrap_or_default();
        stats.direct_estimate_tokens = tokio::task::spawn_blocking(move || direct_texts.estimate())
            .await
            .unwrap_or_default();
        // The worker exits when its stdin closes; make sure, and reap it.
        let _ = child.start_kill();
        let _ = child.wait().await;
        outcome
    }
}

/// What the tasks serving one execution's tool calls share.
struct CallServer {
    gateway: Gateway,
    snapshot: Arc<Snapshot>,
    privacy: Option<Arc<ExecutionPrivacy>>,
    /// The worker's stdin; each task writes its `ToolResult` frame whole while holding it.
    stdin: Arc<tokio::sync::Mutex<ChildStdin>>,
    /// Tool calls the worker made, refused ones included.
    made: AtomicU64,
    /// What plain tool calling would have shown the model, for `direct_estimate_tokens`.
    direct_texts: std::sync::Mutex<DirectTexts>,
    limit: u64,
    deadline: Instant,
    call_timeout: Duration,
}

impl CallServer {
    /// Start serving one `ToolCall` on its own task (calls run concurrently); the task writes the
    /// result to the worker itself. A call over the limit is refused without being made.
    fn start(self: &Arc<Self>, call_id: u64, server: String, tool: String, arguments: Value) {
        let made = self.made.fetch_add(1, Ordering::Relaxed) + 1;
        let calls = self.clone();
        if made > self.limit {
            tokio::spawn(async move {
                let outcome = failure(
                    "limit",
                    format!(
                        "the limit of {} tool calls per execution is reached",
                        calls.limit
                    ),
                    false,
                );
                send_frame(
                    &calls.stdin,
                    &GatewayMessage::ToolResult { call_id, outcome },
                )
                .await;
            });
            return;
        }
        let remaining = self
            .deadline
            .saturating_duration_since(Instant::now())
            .max(Duration::from_millis(1));
        // The call as the model would have written it; serialized now, counted at the end.
        let written = format!("{tool}{arguments}");
        tokio::spawn(async move {
            let outcome: ToolOutcome = calls
                .gateway
                .route_tool_call(
                    &calls.snapshot,
                    calls.privacy.as_deref(),
                    &server,
                    &tool,
                    arguments,
                    calls.call_timeout.min(remaining),
                )
                .await;
            let message = GatewayMessage::ToolResult { call_id, outcome };
            send_frame(&calls.stdin, &message).await;
            if let GatewayMessage::ToolResult { outcome, .. } = &message {
                let shown = match outcome {
                    ToolOutcome::Ok {
                        value: Value::String(text),
                    } => text.clone(),
                    ToolOutcome::Ok { value } => value.to_string(),
                    ToolOutcome::Error { message, .. } => message.clone(),
                };
                if let Ok(mut texts) = calls.direct_texts.lock() {
                    texts.push(written);
                    texts.push(shown);
                }
            }
        });
    }
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

/// Write one message to the worker as a whole frame. A failed write is not reported here: a
/// worker that stopped reading is dead or dying, and the frame reader notices that.
async fn send_frame(stdin: &tokio::sync::Mutex<ChildStdin>, message: &GatewayMessage) {
    let Ok(frame) = encode(message) else {
        return;
    };
    write_encoded(&mut *stdin.lock().await, &frame).await;
}

/// [`send_frame`] with the lock already held.
async fn write_frame(stdin: &mut ChildStdin, message: &GatewayMessage) {
    if let Ok(frame) = encode(message) {
        write_encoded(stdin, &frame).await;
    }
}

async fn write_encoded(stdin: &mut ChildStdin, frame: &[u8]) {
    if stdin.write_all(frame).await.is_ok() {
        let _ = stdin.flush().await;
    }
}

/// Frames from the worker's stdout, decoded into typed messages.
struct FrameSource {
    stdout: ChildStdout,
    decoder: FrameDecoder,
    buffer: Vec<u8>,
}

impl FrameSource {
    fn new(stdout: ChildStdout) -> FrameSource {
        FrameSource {
            stdout,
            decoder: FrameDecoder::new(MAX_WORKER_FRAME_BYTES),
            buffer: vec![0u8; 64 * 1024],
        }
    }

    /// The next message; `None` when the stream ended. A bad frame or message is an `Err`, after
    /// which the source must not be used again.
    async fn next(&mut self) -> Option<Result<WorkerMessage, String>> {
        loop {
            match self.decoder.next_frame() {
                Ok(Some(body)) => {
                    return Some(
                        decode_worker_message(&body)
                            .map_err(|error| format!("the worker sent a bad message: {error}")),
                    );
                }
                Ok(None) => {}
                Err(error) => return Some(Err(format!("the worker sent a bad frame: {error}"))),
            }
            match self.stdout.read(&mut self.buffer).await {
                Ok(0) | Err(_) => return None,
                Ok(count) => self.decoder.push(&self.buffer[..count]),
            }
        }
    }
}

/// Read the worker's frames: start each tool call as it arrives, pass everything else on. A bad
/// frame ends the stream with an error message; the caller then kills the worker.
async fn read_frames(
    mut frames: FrameSource,
    sender: mpsc::Sender<Result<WorkerMessage, String>>,
    calls: Arc<CallServer>,
) {
    while let Some(message) = frames.next().await {
        match message {
            Ok(WorkerMessage::ToolCall {
                call_id,
                server,
                tool,
                arguments,
            }) => calls.start(call_id, server, tool, arguments),
            other => {
                let failed = other.is_err();
                if sender.send(other).await.is_err() || failed {
                    return;
                }
            }
        }
    }
}

/// Why the worker's stream ended: its exit status or the signal that killed it.
async fn exit_description(child: &mut Child, when: &str) -> String {
    let status = tokio::time::timeout(Duration::from_secs(2), child.wait()).await;
    match status {
        Ok(Ok(status)) => {
            use std::os::unix::process::ExitStatusExt;
            match (status.code(), status.signal()) {
                (_, Some(signal)) => format!("the worker was killed by signal {signal} {when}"),
                (Some(code), _) => format!("the worker exited with code {code} {when}"),
                _ => format!("the worker ended {when}"),
            }
        }
        _ => {
            let _ = child.start_kill();
            format!("the worker closed its channel {when}")
        }
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
    fn report_text_has_result_and_error() {
        let report = ExecutionReport {
            output: "hi\n".into(),
            result: serde_json::json!({"n": 1}),
            error: Some(ExecutionError {
                kind: "SyntaxError".into(),
                message: "bad".into(),
                line: Some(2),
                column: Some(5),
            }),
            stats: ExecutionStats::default(),
        };
        assert_eq!(
            report.to_text(),
            "hi\n[result] {\"n\":1}\n[error] SyntaxError: bad (line 2, column 5)\n"
        );
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
