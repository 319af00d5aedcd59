//! What the gateway writes to the audit log (`sluice-audit`), in one place.
//!
//! One record per execution (written before its result goes back to the agent), one per tool
//! call (written when the call ends, before its result goes back to the code), one per session
//! event. A log that cannot be written is reported once per failure on stderr through `tracing`
//! and never fails an execution: the audit log records what happened, it does not gate it.

use std::path::Path;
use std::time::{Duration, SystemTime};

use serde_json::Value;
use sluice_audit::{
    AuditLog, ExecutionRecord, Record, ReleaseRecord, Rotation, SessionRecord, Timestamp,
    ToolCallRecord, sha256_hex,
};
use sluice_config::AuditSettings;
use sluice_worker_protocol::{Language, ToolOutcome};

use crate::execute::{ExecuteRequest, ExecutionReport, Origin};
use crate::privacy::ReleaseEvent;

/// The gateway's audit log, or nothing when it is off or there is no data folder.
pub(crate) struct Auditor {
    log: Option<AuditLog>,
}

/// What one execution record is made of.
pub(crate) struct ExecutionAudit<'a> {
    pub execution_id: &'a str,
    pub origin: &'a Origin,
    pub started_at: SystemTime,
    pub code: &'a str,
    pub language: Language,
    pub report: &'a ExecutionReport,
    pub limits_hit: Vec<String>,
}

/// What one tool-call record is made of.
pub(crate) struct ToolCallAudit<'a> {
    pub execution_id: &'a str,
    pub origin: &'a Origin,
    pub server: &'a str,
    pub tool: &'a str,
    /// The arguments as JSON text, as the worker sent them.
    pub arguments_json: &'a str,
    pub outcome: &'a ToolOutcome,
    pub duration: Duration,
}

impl Auditor {
    /// No audit log.
    pub(crate) fn off() -> Auditor {
        Auditor { log: None }
    }

    /// The log under `<data dir>/audit`, if the settings want one. A log that cannot be opened
    /// is an error: running unaudited must be a choice (`sluice.audit.enabled: false`).
    pub(crate) fn open(
        data_dir: &Path,
        settings: &AuditSettings,
    ) -> Result<Auditor, sluice_audit::AuditError> {
        if !settings.enabled {
            return Ok(Auditor::off());
        }
        let rotation = Rotation {
            max_bytes: settings.max_file_mb.saturating_mul(1024 * 1024),
            keep: settings.keep_files,
        };
        Ok(Auditor {
            log: Some(AuditLog::open(
                &data_dir.join(sluice_audit::AUDIT_DIR),
                rotation,
            )?),
        })
    }

    fn append(&self, record: Record) {
        if let Some(log) = &self.log
            && let Err(error) = log.append(&record)
        {
            tracing::error!("could not write the audit log: {error}");
        }
    }

    pub(crate) fn execution(&self, audit: ExecutionAudit<'_>) {
        if self.log.is_none() {
            return;
        }
        let ExecutionAudit {
            execution_id,
            origin,
            started_at,
            code,
            language,
            report,
            limits_hit,
        } = audit;
        let ended_at = SystemTime::now();
        self.append(Record::Execution(ExecutionRecord {
            execution_id: execution_id.to_owned(),
            client: origin.client.to_string(),
            session: origin.session.clone(),
            started_at: Timestamp::from_system_time(started_at),
            ended_at: Timestamp::from_system_time(ended_at),
            duration_ms: report.stats.duration_ms,
            code: code.to_owned(),
            code_sha256: sha256_hex(code.as_bytes()),
            language: language_name(language).to_owned(),
            outcome: if report.error.is_some() {
                "error"
            } else {
                "ok"
            }
            .to_owned(),
            error_kind: report.error.as_ref().map(|error| error.kind.clone()),
            error_message: report.error.as_ref().map(|error| error.message.clone()),
            limits_hit,
            stats: serde_json::to_value(&report.stats).unwrap_or(Value::Null),
        }));
    }

    /// An execution refused before it ran (a client or session limit).
    pub(crate) fn refused(
        &self,
        origin: &Origin,
        request: &ExecuteRequest,
        report: &ExecutionReport,
    ) {
        let limits_hit = report
            .error
            .as_ref()
            .and_then(|error| crate::execute::limit_of_error(&error.kind))
            .map(|limit| vec![limit.to_owned()])
            .unwrap_or_default();
        self.execution(ExecutionAudit {
            execution_id: &crate::execute::new_execution_id(),
            origin,
            started_at: SystemTime::now(),
            code: &request.code,
            language: request.language,
            report,
            limits_hit,
        });
    }

    pub(crate) fn tool_call(&self, audit: ToolCallAudit<'_>) {
        if self.log.is_none() {
            return;
        }
        let arguments = audit.arguments_json;
        let (outcome, error) = match audit.outcome {
            ToolOutcome::Ok { .. } => ("ok".to_owned(), None),
            ToolOutcome::Error { kind, message, .. } => (kind.clone(), Some(message.clone())),
        };
        let at = SystemTime::now()
            .checked_sub(audit.duration)
            .unwrap_or_else(SystemTime::now);
        self.append(Record::ToolCall(ToolCallRecord {
            execution_id: audit.execution_id.to_owned(),
            client: audit.origin.client.to_string(),
            session: audit.origin.session.clone(),
            at: Timestamp::from_system_time(at),
            server: audit.server.to_owned(),
            tool: audit.tool.to_owned(),
            arguments_bytes: arguments.len() as u64,
            arguments_sha256: sha256_hex(arguments.as_bytes()),
            outcome,
            error,
            duration_us: audit.duration.as_micros() as u64,
        }));
    }

    /// The personal-data releases of one execution.
    pub(crate) fn releases(
        &self,
        execution_id: &str,
        origin: &Origin,
        releases: Vec<ReleaseEvent>,
    ) {
        if self.log.is_none() {
            return;
        }
        for release in releases {
            self.append(Record::Release(ReleaseRecord {
                execution_id: execution_id.to_owned(),
                client: origin.client.to_string(),
                session: origin.session.clone(),
                at: Timestamp::now(),
                token_kind: release.kind,
                from: release.source,
                to: release.destination,
            }));
        }
    }

    pub(crate) fn session(&self, origin: &Origin, event: &str, reason: Option<&str>) {
        if self.log.is_none() {
            return;
        }
        self.append(Record::Session(SessionRecord {
            client: origin.client.to_string(),
            session: origin.session.clone().unwrap_or_default(),
            at: Timestamp::now(),
            event: event.to_owned(),
            reason: reason.map(str::to_owned),
        }));
    }
}

fn language_name(language: Language) -> &'static str {
    match language {
        Language::Typescript => "typescript",
        Language::Javascript => "javascript",
    }
}
