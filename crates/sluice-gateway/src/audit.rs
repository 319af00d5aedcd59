//! What the gateway writes to the audit log (`sluice-audit`), in one place, and counts in its
//! metrics (`sluice-metrics`, with `sluice serve --metrics`) at the same points.
//!
//! One record per execution (written before its result goes back to the agent), one per tool
//! call (written when the call ends, before its result goes back to the code), one per session
//! event. A log that cannot be written is reported once per failure on stderr through `tracing`
//! and never fails an execution: the audit log records what happened, it does not gate it.
//!
//! One execution can make thousands of calls (refused ones cost it almost nothing), so what it may
//! write one record at a time is bounded by its [`AuditBudget`]
//! (`sluice.audit.executionBudgetKb`): past it, its tool calls and releases are counted by
//! outcome and written as one notice record when the execution's last call is over. Its execution
//! record is always written. Together with the log's retention (see `sluice_audit::Rotation`),
//! no execution can push older records out of the log.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use serde_json::Value;
use sluice_audit::{
    AuditLog, ExecutionRecord, GovernanceEvent, GovernanceRecord, MAX_MESSAGE_BYTES,
    MAX_NAME_BYTES, NoticeEvent, NoticeRecord, Record, ReleaseRecord, Rotation, SessionRecord,
    Timestamp, ToolCallRecord, sha256_hex,
};
use sluice_config::AuditSettings;
use sluice_metrics::Metrics;
use sluice_worker_protocol::{
    CallOutcome, ExecutionOutcomeWord, Language, Limit, SessionEnd, SessionEvent, ToolOutcome,
};

use crate::privacy::ReleaseEvent;
use crate::recent::RecentOutputs;
use crate::report::{ExecuteRequest, ExecutionReport, Origin};

/// The gateway's audit log, or nothing when it is off or there is no data folder.
pub(crate) struct Auditor {
    log: Option<AuditLog>,
    /// The gateway's metrics, when it keeps them: counted whether or not there is a log.
    metrics: Option<Arc<Metrics>>,
    /// The last executions' output, for the page (kept with the metrics).
    recent: Option<Arc<RecentOutputs>>,
    /// Bytes of records one execution may write one at a time.
    execution_budget: u64,
}

/// What one execution may still write to the log one record at a time, and what it could not.
/// Shared by the tasks serving its calls; when the last of them lets go, a notice record counts
/// what went past the budget.
pub(crate) struct AuditBudget {
    log: Option<AuditLog>,
    execution_id: String,
    origin: Origin,
    limit: u64,
    state: Mutex<BudgetState>,
}

#[derive(Default)]
struct BudgetState {
    used: u64,
    /// Records counted rather than written, by what they were (`tool_call ok`, `release`, ...).
    counted: BTreeMap<String, u64>,
    counted_records: u64,
    counted_bytes: u64,
}

impl AuditBudget {
    /// Take `bytes` from the budget; false (and the record counted as `what`, named only then)
    /// when it is spent.
    fn take(&self, bytes: u64, what: impl FnOnce() -> String) -> bool {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.used.saturating_add(bytes) <= self.limit {
            state.used += bytes;
            return true;
        }
        state.counted_records += 1;
        state.counted_bytes = state.counted_bytes.saturating_add(bytes);
        let what = what();
        if let Some(count) = state.counted.get_mut(&what) {
            *count += 1;
        } else if state.counted.len() < 32 {
            state.counted.insert(what, 1);
        } else {
            *state.counted.entry("other".to_owned()).or_default() += 1;
        }
        false
    }
}

impl Drop for AuditBudget {
    fn drop(&mut self) {
        let state = self.state.get_mut().unwrap_or_else(PoisonError::into_inner);
        let Some(log) = &self.log else { return };
        if state.counted_records == 0 {
            return;
        }
        let by_kind: Vec<String> = state
            .counted
            .iter()
            .map(|(what, count)| format!("{what} {count}"))
            .collect();
        let notice = Record::Notice(NoticeRecord {
            at: Timestamp::now(),
            event: NoticeEvent::Summarized,
            execution_id: Some(self.execution_id.clone()),
            client: Some(self.origin.client.to_string()),
            principal: self.origin.tenant.principal_key().map(str::to_owned),
            session: self.origin.session.clone(),
            records: state.counted_records,
            bytes: state.counted_bytes,
            detail: format!(
                "the execution went past its audit budget of {} bytes (executionBudgetKb); records counted, not written: {}",
                self.limit,
                by_kind.join(", ")
            ),
        });
        if let Err(error) = log.append(&notice) {
            tracing::error!("could not write the audit log: {error}");
        }
    }
}

/// About what a record of these texts takes in the log, once bounded: the fields' lengths (as
/// the log cuts them) and the rest of a record's JSON.
fn record_bytes(names: &[&str], message: Option<&str>) -> u64 {
    const FIXED: usize = 260;
    let names: usize = names
        .iter()
        .map(|name| name.len().min(MAX_NAME_BYTES))
        .sum();
    let message = message.map_or(0, |message| message.len().min(MAX_MESSAGE_BYTES));
    (FIXED + names + message) as u64
}

/// What one execution record is made of.
pub(crate) struct ExecutionAudit<'a> {
    pub execution_id: &'a str,
    pub origin: &'a Origin,
    pub started_at: SystemTime,
    pub code: &'a str,
    pub language: Language,
    pub report: &'a ExecutionReport,
    pub limits_hit: Vec<Limit>,
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
        Auditor {
            log: None,
            metrics: None,
            recent: None,
            execution_budget: 0,
        }
    }

    /// The same, also counting in `metrics` and keeping outputs in `recent`.
    pub(crate) fn with_metrics(
        self,
        metrics: Option<Arc<Metrics>>,
        recent: Option<Arc<RecentOutputs>>,
    ) -> Auditor {
        Auditor {
            metrics,
            recent,
            ..self
        }
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
            retain: Duration::from_secs(settings.retain_days.saturating_mul(24 * 3600)),
            max_total_bytes: settings.max_total_mb.saturating_mul(1024 * 1024),
        };
        Ok(Auditor {
            log: Some(AuditLog::open(
                &data_dir.join(sluice_audit::AUDIT_DIR),
                rotation,
            )?),
            metrics: None,
            recent: None,
            execution_budget: settings.execution_budget_kb.saturating_mul(1024),
        })
    }

    /// The budget of one execution's records.
    pub(crate) fn budget(&self, execution_id: &str, origin: &Origin) -> Arc<AuditBudget> {
        Arc::new(AuditBudget {
            log: self.log.clone(),
            execution_id: execution_id.to_owned(),
            origin: origin.clone(),
            limit: self.execution_budget,
            state: Mutex::new(BudgetState::default()),
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
        if let Some(metrics) = &self.metrics {
            let report = audit.report;
            metrics.execution(
                audit.language,
                match &report.error {
                    None => sluice_metrics::ExecutionOutcome::Ok,
                    Some(error) => sluice_metrics::ExecutionOutcome::Error(&error.kind),
                },
                Duration::from_millis(report.stats.duration_ms),
                &audit.limits_hit,
                report.stats.result_tokens,
                report.stats.direct_estimate_tokens,
            );
        }
        if let Some(recent) = &self.recent {
            recent.keep(audit.execution_id, &audit.report.output);
        }
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
            principal: origin.tenant.principal_key().map(str::to_owned),
            session: origin.session.clone(),
            started_at: Timestamp::from_system_time(started_at),
            ended_at: Timestamp::from_system_time(ended_at),
            duration_ms: report.stats.duration_ms,
            code: code.to_owned(),
            code_sha256: sha256_hex(code.as_bytes()),
            language: language_name(language).to_owned(),
            outcome: if report.error.is_some() {
                ExecutionOutcomeWord::Error
            } else {
                ExecutionOutcomeWord::Ok
            },
            error_kind: report.error.as_ref().map(|error| error.kind.clone()),
            error_message: report.error.as_ref().map(|error| error.message.clone()),
            limits_hit,
            stats: serde_json::to_value(&report.stats).unwrap_or(Value::Null),
        }));
    }

    /// An execution refused before it ran (a client or session limit), under `execution_id`.
    pub(crate) fn refused(
        &self,
        execution_id: &str,
        origin: &Origin,
        request: &ExecuteRequest,
        report: &ExecutionReport,
    ) {
        let limits_hit = report
            .error
            .as_ref()
            .and_then(|error| error.kind.limit())
            .into_iter()
            .collect();
        self.execution(ExecutionAudit {
            execution_id,
            origin,
            started_at: SystemTime::now(),
            code: &request.code,
            language: request.language,
            report,
            limits_hit,
        });
    }

    pub(crate) fn tool_call(&self, audit: ToolCallAudit<'_>, budget: &AuditBudget) {
        if let Some(metrics) = &self.metrics {
            let outcome = match audit.outcome {
                ToolOutcome::Ok { .. } => sluice_metrics::CallOutcome::Ok,
                ToolOutcome::Error { kind, .. } => sluice_metrics::CallOutcome::Failed(kind),
            };
            metrics.tool_call(audit.server, outcome, audit.duration);
        }
        if self.log.is_none() {
            return;
        }
        let arguments = audit.arguments_json;
        let (outcome, error) = match audit.outcome {
            ToolOutcome::Ok { .. } => (CallOutcome::Ok, None),
            ToolOutcome::Error { kind, message, .. } => {
                (CallOutcome::Failed(kind.clone()), Some(message.as_str()))
            }
        };
        let bytes = record_bytes(&[audit.server, audit.tool, outcome.as_str()], error);
        let what = || {
            let outcome = outcome.as_str();
            format!(
                "tool_call {}",
                outcome.get(..MAX_NAME_BYTES).unwrap_or(outcome)
            )
        };
        if !budget.take(bytes, what) {
            return;
        }
        let error = error.map(str::to_owned);
        let at = SystemTime::now()
            .checked_sub(audit.duration)
            .unwrap_or_else(SystemTime::now);
        self.append(Record::ToolCall(ToolCallRecord {
            execution_id: audit.execution_id.to_owned(),
            client: audit.origin.client.to_string(),
            principal: audit.origin.tenant.principal_key().map(str::to_owned),
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
        budget: &AuditBudget,
    ) {
        if let Some(metrics) = &self.metrics {
            for release in &releases {
                metrics.release(release.kind);
            }
        }
        if self.log.is_none() {
            return;
        }
        for release in releases {
            let bytes = record_bytes(
                &[release.kind.name(), &release.source, &release.destination],
                None,
            );
            if !budget.take(bytes, || "release".to_owned()) {
                continue;
            }
            self.append(Record::Release(ReleaseRecord {
                execution_id: execution_id.to_owned(),
                client: origin.client.to_string(),
                principal: origin.tenant.principal_key().map(str::to_owned),
                session: origin.session.clone(),
                at: Timestamp::now(),
                token_kind: release.kind.name().to_owned(),
                from: release.source,
                to: release.destination,
            }));
        }
    }

    /// A governance event: an approval asked or answered, a changed definition held back,
    /// accepted or rejected. Not counted against an execution's budget: a person answers at
    /// most one question per call, and a call waits for the answer.
    pub(crate) fn governance(
        &self,
        event: GovernanceEvent,
        server: &str,
        tool: &str,
        origin: Option<GovernanceOrigin>,
        detail: String,
    ) {
        if self.log.is_none() {
            return;
        }
        let origin = origin.unwrap_or_default();
        self.append(Record::Governance(GovernanceRecord {
            at: Timestamp::now(),
            event,
            server: server.to_owned(),
            tool: tool.to_owned(),
            execution_id: origin.execution_id,
            client: origin.client,
            principal: origin.principal,
            session: origin.session,
            detail,
        }));
    }

    pub(crate) fn session(&self, origin: &Origin, event: SessionEvent, reason: Option<SessionEnd>) {
        if let Some(metrics) = &self.metrics {
            metrics.session(&event);
        }
        if self.log.is_none() {
            return;
        }
        self.append(Record::Session(SessionRecord {
            client: origin.client.to_string(),
            principal: origin.tenant.principal_key().map(str::to_owned),
            session: origin.session.clone().unwrap_or_default(),
            at: Timestamp::now(),
            event,
            reason,
        }));
    }
}

/// Who a governance record concerns, when anyone.
#[derive(Debug, Clone, Default)]
pub(crate) struct GovernanceOrigin {
    pub client: Option<String>,
    pub principal: Option<String>,
    pub session: Option<String>,
    pub execution_id: Option<String>,
}

impl GovernanceOrigin {
    /// The execution `execution_id` of `origin`.
    pub(crate) fn of(origin: &Origin, execution_id: &str) -> GovernanceOrigin {
        GovernanceOrigin {
            client: Some(origin.client.to_string()),
            principal: origin.tenant.principal_key().map(str::to_owned),
            session: origin.session.clone(),
            execution_id: Some(execution_id.to_owned()),
        }
    }
}

fn language_name(language: Language) -> &'static str {
    language.as_str()
}
