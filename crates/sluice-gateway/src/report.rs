//! What an execution is asked and what it answers: the request, its progress, the report and its
//! statistics, and who ran it. A leaf: the modules that run executions, audit them and present
//! them all read these, and it reads none of them.

use std::sync::Arc;
use std::time::SystemTime;

use serde::Serialize;
use serde_json::Value;
use sluice_worker_protocol::{ErrorKind, ExecutionError, Language};

/// One `execute_code` call.
#[derive(Debug, Clone, Default)]
pub struct ExecuteRequest {
    /// The agent's code.
    pub code: String,
    /// Its language.
    pub language: Language,
    /// Wall time asked for; capped by `sluice.execution.maxTimeoutMs`.
    pub timeout_ms: Option<u64>,
    /// Run in this session of the client (see [`Client::execute`](crate::Client::execute)):
    /// globals of earlier executions of the session are still there. Ignored by
    /// [`Gateway::execute`], which always runs fresh.
    pub session: Option<String>,
    /// Cancelled when the client no longer wants the result (`notifications/cancelled`): the
    /// worker is killed at once and the execution ends with a `Cancelled` error, freeing its
    /// slot.
    pub cancel: Option<tokio_util::sync::CancellationToken>,
    /// Where to report progress while the execution runs (about once a second), when the client
    /// asked for it (a `progressToken`).
    pub progress: Option<tokio::sync::mpsc::UnboundedSender<ExecutionProgress>>,
    /// Who answers a downstream server's questions (`elicitation/create`) during the code's
    /// tool calls: the agent's client when it declared the capability. Without one, questions
    /// are declined and the reason is in the `ToolError` of a call that fails.
    pub elicitor: Option<sluice_downstream::SharedElicitor>,
    /// The W3C trace context of the agent's request (`_meta.traceparent`), continued by the
    /// execution's span when traces are on ([`Gateway::traces_on`](crate::Gateway::traces_on));
    /// an invalid one is ignored.
    pub trace: Option<sluice_telemetry::TraceContext>,
}

/// How far an execution has come, reported while it runs.
#[derive(Debug, Clone, PartialEq)]
pub struct ExecutionProgress {
    /// Time since the execution started.
    pub elapsed_ms: u64,
    /// Tool calls the code made so far.
    pub tool_calls: u64,
    /// What the code last reported itself (`reportProgress`), personal data tokenized.
    pub reported: Option<ReportedProgress>,
}

/// What agent code said about its own progress.
#[derive(Debug, Clone, PartialEq)]
pub struct ReportedProgress {
    /// Its message.
    pub message: String,
    /// The fraction done, from 0 to 1, when it gave one.
    pub fraction: Option<f64>,
}

impl ExecuteRequest {
    /// TypeScript `code` with the default time limit, outside any session.
    pub fn typescript(code: impl Into<String>) -> ExecuteRequest {
        ExecuteRequest {
            code: code.into(),
            ..ExecuteRequest::default()
        }
    }
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
    /// When a limit refused the execution before it ran: the milliseconds to wait before
    /// trying again.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub retry_after_ms: Option<u64>,
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
    /// Tool calls refused by a server's rate limit (`sluice.limits.callsPerSecond`).
    pub rate_limited_calls: u64,
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
            text.push_str(&position_suffix(error));
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

/// " (line L, column C)" for an error with a position its message does not name already (the
/// engine's messages often do); empty otherwise.
pub(crate) fn position_suffix(error: &ExecutionError) -> String {
    let position = match (error.line, error.column) {
        (Some(line), Some(column)) => format!(" (line {line}, column {column})"),
        (Some(line), None) => format!(" (line {line})"),
        _ => return String::new(),
    };
    if error.message.contains(&position) {
        String::new()
    } else {
        position
    }
}

/// The report of an execution that ended with an error before any code ran (a refusal, an
/// internal failure), with its size counted like any other.
pub(crate) fn error_report(kind: ErrorKind, message: String) -> ExecutionReport {
    let mut report = ExecutionReport {
        output: String::new(),
        result: Value::Null,
        error: Some(execution_error(kind, message)),
        retry_after_ms: None,
        stats: ExecutionStats::default(),
    };
    let text = report.to_text();
    report.stats.result_bytes = text.len() as u64;
    report.stats.result_tokens = sluice_tokens::count(&text) as u64;
    report
}

pub(crate) fn execution_error(kind: ErrorKind, message: impl Into<String>) -> ExecutionError {
    ExecutionError {
        kind,
        message: message.into(),
        line: None,
        column: None,
    }
}

/// Who runs an execution: the client connection and, for a session, its id. Recorded in the
/// audit log with every execution and tool call.
#[derive(Debug, Clone)]
pub(crate) struct Origin {
    /// The client connection (`local` for the CLI and library callers).
    pub client: Arc<str>,
    /// The session, when the execution runs in one.
    pub session: Option<String>,
    /// Whom the client acts for: its folders and limits, and the principal in the audit log.
    pub tenant: crate::Tenant,
}

/// A new execution id: time-ordered, unique within this process and very likely across restarts.
pub(crate) fn new_execution_id() -> String {
    let millis = SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|elapsed| elapsed.as_millis())
        .unwrap_or_default();
    format!("x{millis:x}-{}", crate::privacy::random_tag())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_position_is_added_once() {
        let error = |message: &str| ExecutionError {
            kind: ErrorKind::SyntaxError,
            message: message.to_owned(),
            line: Some(3),
            column: Some(7),
        };
        assert_eq!(
            position_suffix(&error("Unexpected token")),
            " (line 3, column 7)"
        );
        assert_eq!(
            position_suffix(&error("Unexpected token (line 3, column 7)")),
            ""
        );
    }

    #[test]
    fn report_text_has_result_and_error() {
        let report = ExecutionReport {
            output: "hi\n".into(),
            result: serde_json::json!({"n": 1}),
            error: Some(ExecutionError {
                kind: ErrorKind::SyntaxError,
                message: "bad".into(),
                line: Some(2),
                column: Some(5),
            }),
            retry_after_ms: None,
            stats: ExecutionStats::default(),
        };
        assert_eq!(
            report.to_text(),
            "hi\n[result] {\"n\":1}\n[error] SyntaxError: bad (line 2, column 5)\n"
        );
        let mut positioned = report.clone();
        if let Some(error) = &mut positioned.error {
            error.message = "bad (line 2, column 5)".to_owned();
        }
        assert_eq!(
            positioned.to_text(),
            "hi\n[result] {\"n\":1}\n[error] SyntaxError: bad (line 2, column 5)\n",
            "the position is not repeated"
        );
    }
}
