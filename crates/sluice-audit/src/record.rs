//! The records of the log: one JSON object per line, its `kind` field saying which.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use sluice_worker_protocol::{
    CallOutcome, ErrorKind, ExecutionOutcomeWord, Limit, SessionEnd, SessionEvent,
};

use crate::time::Timestamp;

/// One line of the audit log.
///
/// Serialized with a `kind` tag beside the record's own fields:
/// `{"kind":"tool_call","execution_id":"…","server":"crm",…}`. Readers ignore fields they do not
/// know, so later versions can add fields without breaking older readers.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum Record {
    /// One code execution, written when it ends.
    Execution(ExecutionRecord),
    /// One tool call made by an execution.
    ToolCall(ToolCallRecord),
    /// A personal-data token resolved into a tool argument.
    Release(ReleaseRecord),
    /// A session created or ended.
    Session(SessionRecord),
    /// Something the log says about itself: records summarized or deleted early.
    Notice(NoticeRecord),
    /// A governance event: an approval asked or answered, a changed tool definition held back,
    /// accepted or rejected.
    Governance(GovernanceRecord),
}

/// One code execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ExecutionRecord {
    /// The execution's id; tool calls and releases of the execution carry the same id.
    pub execution_id: String,
    /// Who asked: the upstream connection's id, or `cli` for `sluice exec`.
    pub client: String,
    /// The principal the client acts for (`jwt:<sub>`, `token:<name>`, over HTTP with
    /// authentication); absent for the gateway's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The session the execution ran in, if any.
    #[serde(default)]
    pub session: Option<String>,
    /// When the execution started.
    pub started_at: Timestamp,
    /// When it ended.
    pub ended_at: Timestamp,
    /// Wall time in milliseconds.
    pub duration_ms: u64,
    /// The code as the agent sent it.
    pub code: String,
    /// [`sha256_hex`] of the code's UTF-8 bytes, to find repeated runs of the same code.
    pub code_sha256: String,
    /// `typescript` or `javascript`.
    pub language: String,
    /// `ok` or `error`.
    pub outcome: ExecutionOutcomeWord,
    /// The kind of error (`Timeout`, `RuntimeError`, `SyntaxError`, ...) when `outcome` is
    /// `error`.
    #[serde(default)]
    pub error_kind: Option<ErrorKind>,
    /// The error message as the agent saw it (already free of personal data).
    #[serde(default)]
    pub error_message: Option<String>,
    /// The limits the execution ran into.
    #[serde(default)]
    pub limits_hit: Vec<Limit>,
    /// The execution's statistics as the gateway reports them.
    #[serde(default)]
    pub stats: serde_json::Value,
}

/// One tool call of an execution.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ToolCallRecord {
    /// The execution that made the call.
    pub execution_id: String,
    /// The upstream connection's id, or `cli`.
    pub client: String,
    /// The principal the client acts for (`jwt:<sub>`, `token:<name>`, over HTTP with
    /// authentication); absent for the gateway's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The session, if any.
    #[serde(default)]
    pub session: Option<String>,
    /// When the call was made.
    pub at: Timestamp,
    /// The downstream server's name as configured.
    pub server: String,
    /// The tool's MCP name.
    pub tool: String,
    /// Size of the JSON arguments in bytes. The arguments themselves are not logged: they may
    /// hold personal data released from tokens.
    pub arguments_bytes: u64,
    /// [`sha256_hex`] of the JSON arguments.
    pub arguments_sha256: String,
    /// `ok`, or the kind of the call's `ToolError` (`tool`, `invalid_arguments`,
    /// `policy_denied`, ...).
    pub outcome: CallOutcome,
    /// What went wrong, when the outcome is not `ok`.
    #[serde(default)]
    pub error: Option<String>,
    /// How long the call took, in microseconds.
    pub duration_us: u64,
}

/// A personal-data token resolved into a tool argument. Never holds the value itself.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct ReleaseRecord {
    /// The execution whose tool call received the value.
    pub execution_id: String,
    /// The upstream connection's id, or `cli`.
    pub client: String,
    /// The principal the client acts for (`jwt:<sub>`, `token:<name>`, over HTTP with
    /// authentication); absent for the gateway's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The session, if any.
    #[serde(default)]
    pub session: Option<String>,
    /// When the value was released.
    pub at: Timestamp,
    /// The type of personal data, as in the token (`EMAIL`, `PHONE`, …).
    pub token_kind: String,
    /// Where the value came from (`server.tool`).
    pub from: String,
    /// Where it went (`server.tool`).
    pub to: String,
}

/// A session created or ended.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct SessionRecord {
    /// The upstream connection's id.
    pub client: String,
    /// The principal the client acts for (`jwt:<sub>`, `token:<name>`, over HTTP with
    /// authentication); absent for the gateway's owner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The session's id.
    pub session: String,
    /// When it happened.
    pub at: Timestamp,
    /// `created` or `ended`.
    pub event: SessionEvent,
    /// Why it ended, if it did.
    #[serde(default)]
    pub reason: Option<SessionEnd>,
}

/// Something the log reports about itself, so that nothing leaves it silently.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NoticeRecord {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub event: NoticeEvent,
    /// The execution it concerns, if one.
    #[serde(default)]
    pub execution_id: Option<String>,
    /// The client it concerns, if one.
    #[serde(default)]
    pub client: Option<String>,
    /// The principal it concerns, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The session it concerns, if any.
    #[serde(default)]
    pub session: Option<String>,
    /// How many records it stands for (summarized or deleted).
    pub records: u64,
    /// How many bytes they held (or would have held).
    pub bytes: u64,
    /// The details, in words (counts by outcome, file names, ...).
    pub detail: String,
}

/// A governance event of the tool policy or of pinned tool definitions.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct GovernanceRecord {
    /// When it happened.
    pub at: Timestamp,
    /// What happened.
    pub event: GovernanceEvent,
    /// The server of the tool.
    pub server: String,
    /// The tool.
    pub tool: String,
    /// The execution whose call asked, for approvals.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub execution_id: Option<String>,
    /// The client connection (or `cli` for `sluice tools review`), when one is concerned.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client: Option<String>,
    /// The principal it concerns, if one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub principal: Option<String>,
    /// The session, if any.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session: Option<String>,
    /// The details, in words: the rule that asked, the answer, the fields that changed.
    pub detail: String,
}

/// What a [`GovernanceRecord`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum GovernanceEvent {
    /// A person was asked to approve a call (`ask`).
    ApprovalAsked,
    /// The person accepted.
    ApprovalAccepted,
    /// The person declined, dismissed the question, or did not answer in time.
    ApprovalRefused,
    /// A tool whose definition changed was held back.
    DefinitionHeld,
    /// A person accepted a changed definition: it is the pin now.
    DefinitionAccepted,
    /// A person rejected a changed definition: the tool stays held.
    DefinitionRejected,
}

impl GovernanceEvent {
    /// The name written in the `event` field.
    pub fn as_str(self) -> &'static str {
        match self {
            GovernanceEvent::ApprovalAsked => "approval_asked",
            GovernanceEvent::ApprovalAccepted => "approval_accepted",
            GovernanceEvent::ApprovalRefused => "approval_refused",
            GovernanceEvent::DefinitionHeld => "definition_held",
            GovernanceEvent::DefinitionAccepted => "definition_accepted",
            GovernanceEvent::DefinitionRejected => "definition_rejected",
        }
    }
}

/// What a [`NoticeRecord`] reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NoticeEvent {
    /// An execution's records went past its audit budget: the rest of its tool calls were
    /// counted, not written one by one.
    Summarized,
    /// The log reached its total size cap and deleted rotated files holding records younger than
    /// the retention period.
    RetentionOverridden,
}

impl NoticeEvent {
    /// The name written in the `event` field.
    pub fn as_str(self) -> &'static str {
        match self {
            NoticeEvent::Summarized => "summarized",
            NoticeEvent::RetentionOverridden => "retention_overridden",
        }
    }
}

/// Longest a name (server, tool, client, session, ids, kinds, outcomes) may be in a record.
pub const MAX_NAME_BYTES: usize = 256;
/// Longest a message (an error, a notice's details) may be in a record.
pub const MAX_MESSAGE_BYTES: usize = 4 * 1024;
/// Longest the code of an execution may be in its record (its hash is of the whole code).
pub const MAX_CODE_BYTES: usize = 64 * 1024;
/// Longest an execution's statistics may be, serialized; larger ones are replaced by a note.
pub const MAX_STATS_BYTES: usize = 4 * 1024;
/// Most entries of `limits_hit` kept.
pub const MAX_LIMITS: usize = 16;

/// Cut `text` to at most `limit` bytes: a prefix (at a character boundary), then
/// `…[cut: N bytes, sha256 H]` naming the whole text's size and hash. Shorter texts are left as
/// they are. The result is never longer than `limit` when `limit` is at least 120 bytes.
pub fn bound_text(text: &mut String, limit: usize) {
    if text.len() <= limit {
        return;
    }
    let marker = format!(
        "…[cut: {} bytes, sha256 {}]",
        text.len(),
        sha256_hex(text.as_bytes())
    );
    let mut keep = limit.saturating_sub(marker.len());
    while !text.is_char_boundary(keep) {
        keep -= 1;
    }
    text.truncate(keep);
    text.push_str(&marker);
}

/// The kinds of [`Record`], as written in their `kind` field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RecordKind {
    /// [`Record::Execution`].
    Execution,
    /// [`Record::ToolCall`].
    ToolCall,
    /// [`Record::Release`].
    Release,
    /// [`Record::Session`].
    Session,
    /// [`Record::Notice`].
    Notice,
    /// [`Record::Governance`].
    Governance,
}

impl RecordKind {
    /// Every kind, in the order they are documented.
    pub const ALL: [RecordKind; 6] = [
        RecordKind::Execution,
        RecordKind::ToolCall,
        RecordKind::Release,
        RecordKind::Session,
        RecordKind::Notice,
        RecordKind::Governance,
    ];

    /// The name written in the `kind` field.
    pub fn as_str(self) -> &'static str {
        match self {
            RecordKind::Execution => "execution",
            RecordKind::ToolCall => "tool_call",
            RecordKind::Release => "release",
            RecordKind::Session => "session",
            RecordKind::Notice => "notice",
            RecordKind::Governance => "governance",
        }
    }
}

impl fmt::Display for RecordKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

/// A text that names no [`RecordKind`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error(
    "`{0}` is not a kind of audit record; use execution, tool_call, release, session, notice or governance"
)]
pub struct UnknownKind(pub String);

impl FromStr for RecordKind {
    type Err = UnknownKind;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        RecordKind::ALL
            .into_iter()
            // `tool-call` too, since command-line values are usually written with hyphens.
            .find(|kind| kind.as_str() == text || kind.as_str().replace('_', "-") == text)
            .ok_or_else(|| UnknownKind(text.to_owned()))
    }
}

impl Record {
    /// Which kind of record this is.
    pub fn kind(&self) -> RecordKind {
        match self {
            Record::Execution(_) => RecordKind::Execution,
            Record::ToolCall(_) => RecordKind::ToolCall,
            Record::Release(_) => RecordKind::Release,
            Record::Session(_) => RecordKind::Session,
            Record::Notice(_) => RecordKind::Notice,
            Record::Governance(_) => RecordKind::Governance,
        }
    }

    /// When the recorded thing began: `started_at` of an execution, `at` of the others.
    pub fn time(&self) -> Timestamp {
        match self {
            Record::Execution(record) => record.started_at,
            Record::ToolCall(record) => record.at,
            Record::Release(record) => record.at,
            Record::Session(record) => record.at,
            Record::Notice(record) => record.at,
            Record::Governance(record) => record.at,
        }
    }

    /// When the recorded thing was last active: `ended_at` of an execution, `at` of the others.
    pub fn end_time(&self) -> Timestamp {
        match self {
            Record::Execution(record) => record.ended_at,
            other => other.time(),
        }
    }

    /// The execution the record belongs to (none for session records).
    pub fn execution_id(&self) -> Option<&str> {
        match self {
            Record::Execution(record) => Some(&record.execution_id),
            Record::ToolCall(record) => Some(&record.execution_id),
            Record::Release(record) => Some(&record.execution_id),
            Record::Session(_) => None,
            Record::Notice(record) => record.execution_id.as_deref(),
            Record::Governance(record) => record.execution_id.as_deref(),
        }
    }

    /// The session the record belongs to, if any.
    pub fn session(&self) -> Option<&str> {
        match self {
            Record::Execution(record) => record.session.as_deref(),
            Record::ToolCall(record) => record.session.as_deref(),
            Record::Release(record) => record.session.as_deref(),
            Record::Session(record) => Some(&record.session),
            Record::Notice(record) => record.session.as_deref(),
            Record::Governance(record) => record.session.as_deref(),
        }
    }

    /// The principal the record's client acted for (`sluice serve --http` with
    /// authentication); `None` for the gateway's owner.
    pub fn principal(&self) -> Option<&str> {
        match self {
            Record::Execution(record) => record.principal.as_deref(),
            Record::ToolCall(record) => record.principal.as_deref(),
            Record::Release(record) => record.principal.as_deref(),
            Record::Session(record) => record.principal.as_deref(),
            Record::Notice(record) => record.principal.as_deref(),
            Record::Governance(record) => record.principal.as_deref(),
        }
    }

    /// The client (connection id or `cli`).
    pub fn client(&self) -> &str {
        match self {
            Record::Execution(record) => &record.client,
            Record::ToolCall(record) => &record.client,
            Record::Release(record) => &record.client,
            Record::Session(record) => &record.client,
            Record::Notice(record) => record.client.as_deref().unwrap_or_default(),
            Record::Governance(record) => record.client.as_deref().unwrap_or_default(),
        }
    }

    /// The outcome of an execution or a tool call; other records have none.
    pub fn outcome(&self) -> Option<&str> {
        match self {
            Record::Execution(record) => Some(record.outcome.as_str()),
            Record::ToolCall(record) => Some(record.outcome.as_str()),
            Record::Release(_) | Record::Session(_) | Record::Notice(_) | Record::Governance(_) => {
                None
            }
        }
    }

    /// Whether this is an execution or a tool call whose outcome is the one `wanted` names
    /// (read as the log's words are read, so `tool_error` finds `tool`).
    pub fn outcome_is(&self, wanted: &str) -> bool {
        match self {
            Record::Execution(record) => record.outcome == ExecutionOutcomeWord::parse(wanted),
            Record::ToolCall(record) => record.outcome == CallOutcome::parse(wanted),
            Record::Release(_) | Record::Session(_) | Record::Notice(_) | Record::Governance(_) => {
                false
            }
        }
    }

    /// The record with every field within its bound ([`MAX_NAME_BYTES`], [`MAX_MESSAGE_BYTES`],
    /// [`MAX_CODE_BYTES`], [`MAX_STATS_BYTES`], [`MAX_LIMITS`]), cut by [`bound_text`]: what
    /// the log writes, so that no record can be made arbitrarily large by what an agent sends.
    pub fn bounded(mut self) -> Record {
        let name = |text: &mut String| bound_text(text, MAX_NAME_BYTES);
        let optional_name = |text: &mut Option<String>| {
            if let Some(text) = text {
                bound_text(text, MAX_NAME_BYTES);
            }
        };
        // A word this build does not know came from elsewhere (a worker): bounded like a name.
        let word = |text: Option<&mut String>| {
            if let Some(text) = text {
                bound_text(text, MAX_NAME_BYTES);
            }
        };
        match &mut self {
            Record::Execution(record) => {
                name(&mut record.execution_id);
                name(&mut record.client);
                optional_name(&mut record.session);
                name(&mut record.language);
                word(record.outcome.other_mut());
                word(record.error_kind.as_mut().and_then(ErrorKind::other_mut));
                if let Some(message) = &mut record.error_message {
                    bound_text(message, MAX_MESSAGE_BYTES);
                }
                bound_text(&mut record.code, MAX_CODE_BYTES);
                if record.limits_hit.len() > MAX_LIMITS {
                    record.limits_hit.truncate(MAX_LIMITS);
                }
                record
                    .limits_hit
                    .iter_mut()
                    .for_each(|limit| word(limit.other_mut()));
                let stats_bytes = serde_json::to_vec(&record.stats).map_or(0, |bytes| bytes.len());
                if stats_bytes > MAX_STATS_BYTES {
                    record.stats = serde_json::Value::String(format!(
                        "[statistics of {stats_bytes} bytes left out]"
                    ));
                }
            }
            Record::ToolCall(record) => {
                name(&mut record.execution_id);
                name(&mut record.client);
                optional_name(&mut record.session);
                name(&mut record.server);
                name(&mut record.tool);
                word(record.outcome.other_mut());
                if let Some(error) = &mut record.error {
                    bound_text(error, MAX_MESSAGE_BYTES);
                }
            }
            Record::Release(record) => {
                name(&mut record.execution_id);
                name(&mut record.client);
                optional_name(&mut record.session);
                name(&mut record.token_kind);
                name(&mut record.from);
                name(&mut record.to);
            }
            Record::Session(record) => {
                name(&mut record.client);
                name(&mut record.session);
                word(record.event.other_mut());
                word(record.reason.as_mut().and_then(SessionEnd::other_mut));
            }
            Record::Notice(record) => {
                optional_name(&mut record.execution_id);
                optional_name(&mut record.client);
                optional_name(&mut record.session);
                bound_text(&mut record.detail, MAX_MESSAGE_BYTES);
            }
            Record::Governance(record) => {
                name(&mut record.server);
                name(&mut record.tool);
                optional_name(&mut record.execution_id);
                optional_name(&mut record.client);
                optional_name(&mut record.principal);
                optional_name(&mut record.session);
                bound_text(&mut record.detail, MAX_MESSAGE_BYTES);
            }
        }
        self
    }
}

impl From<ExecutionRecord> for Record {
    fn from(record: ExecutionRecord) -> Self {
        Record::Execution(record)
    }
}

impl From<ToolCallRecord> for Record {
    fn from(record: ToolCallRecord) -> Self {
        Record::ToolCall(record)
    }
}

impl From<ReleaseRecord> for Record {
    fn from(record: ReleaseRecord) -> Self {
        Record::Release(record)
    }
}

impl From<NoticeRecord> for Record {
    fn from(record: NoticeRecord) -> Self {
        Record::Notice(record)
    }
}

impl From<SessionRecord> for Record {
    fn from(record: SessionRecord) -> Self {
        Record::Session(record)
    }
}

/// The SHA-256 of `bytes` as 64 lowercase hex digits.
pub fn sha256_hex(bytes: &[u8]) -> String {
    const HEX_DIGITS: &[u8; 16] = b"0123456789abcdef";
    let digest = Sha256::digest(bytes);
    let mut hex = String::with_capacity(digest.len() * 2);
    for byte in digest {
        hex.push(char::from(HEX_DIGITS[usize::from(byte >> 4)]));
        hex.push(char::from(HEX_DIGITS[usize::from(byte & 0x0f)]));
    }
    hex
}

#[cfg(test)]
pub(crate) mod tests {
    use serde_json::json;

    use super::*;

    /// A tool-call record for tests.
    pub(crate) fn tool_call(execution_id: &str, server: &str, tool: &str, at: i64) -> Record {
        Record::ToolCall(ToolCallRecord {
            execution_id: execution_id.to_owned(),
            client: "cli".to_owned(),
            principal: None,
            session: None,
            at: Timestamp::from_unix_millis(at),
            server: server.to_owned(),
            tool: tool.to_owned(),
            arguments_bytes: 2,
            arguments_sha256: sha256_hex(b"{}"),
            outcome: CallOutcome::Ok,
            error: None,
            duration_us: 1_250,
        })
    }

    /// An execution record for tests.
    pub(crate) fn execution(execution_id: &str, code: &str, started: i64) -> Record {
        Record::Execution(ExecutionRecord {
            execution_id: execution_id.to_owned(),
            client: "connection-1".to_owned(),
            principal: None,
            session: Some("session-a".to_owned()),
            started_at: Timestamp::from_unix_millis(started),
            ended_at: Timestamp::from_unix_millis(started + 40),
            duration_ms: 40,
            code: code.to_owned(),
            code_sha256: sha256_hex(code.as_bytes()),
            language: "typescript".to_owned(),
            outcome: ExecutionOutcomeWord::Error,
            error_kind: Some(ErrorKind::Timeout),
            error_message: Some("the script ran longer than 30000 ms".to_owned()),
            limits_hit: vec![Limit::Timeout],
            stats: json!({"tool_calls": 1}),
        })
    }

    #[test]
    fn sha256_of_known_inputs() {
        assert_eq!(
            sha256_hex(b""),
            "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        assert_eq!(
            sha256_hex(b"abc"),
            "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
        );
    }

    #[test]
    fn records_are_tagged_by_kind_with_rfc3339_times() {
        let record = tool_call("exec-1", "crm", "query", 1_776_159_005_123);
        let value = serde_json::to_value(&record).unwrap();
        assert_eq!(value["kind"], "tool_call");
        assert_eq!(value["at"], "2026-04-14T09:30:05.123Z");
        assert_eq!(value["server"], "crm");
        let back: Record = serde_json::from_value(value).unwrap();
        assert_eq!(back, record);

        let record = Record::Session(SessionRecord {
            client: "connection-1".to_owned(),
            principal: None,
            session: "session-a".to_owned(),
            at: Timestamp::from_unix_millis(0),
            event: SessionEvent::Ended,
            reason: Some(SessionEnd::Idle),
        });
        let text = serde_json::to_string(&record).unwrap();
        assert_eq!(
            text,
            r#"{"kind":"session","client":"connection-1","session":"session-a","at":"1970-01-01T00:00:00.000Z","event":"ended","reason":"idle"}"#
        );
        assert_eq!(serde_json::from_str::<Record>(&text).unwrap(), record);
    }

    #[test]
    fn readers_tolerate_unknown_and_missing_optional_fields() {
        let record: Record = serde_json::from_value(json!({
            "kind": "release", "execution_id": "e", "client": "cli", "at": "2026-04-14T09:30:05Z",
            "token_kind": "EMAIL", "from": "crm.query", "to": "chat.sendMessage",
            "added_later": true
        }))
        .unwrap();
        assert_eq!(record.kind(), RecordKind::Release);
        assert_eq!(record.session(), None);
        assert_eq!(record.execution_id(), Some("e"));
    }

    #[test]
    fn accessors_follow_the_kind() {
        let record = execution("exec-9", "1 + 1", 1_000);
        assert_eq!(record.kind(), RecordKind::Execution);
        assert_eq!(record.time().unix_millis(), 1_000);
        assert_eq!(record.end_time().unix_millis(), 1_040);
        assert_eq!(record.session(), Some("session-a"));
        assert_eq!(record.client(), "connection-1");
        assert_eq!(record.outcome(), Some("error"));
    }

    #[test]
    fn kinds_parse_from_their_names() {
        for kind in RecordKind::ALL {
            assert_eq!(kind.as_str().parse::<RecordKind>(), Ok(kind));
            assert_eq!(serde_json::to_value(kind).unwrap(), json!(kind.as_str()));
        }
        assert_eq!("tool-call".parse::<RecordKind>(), Ok(RecordKind::ToolCall));
        let error = "tools".parse::<RecordKind>().unwrap_err();
        assert!(
            error.to_string().contains("execution, tool_call"),
            "{error}"
        );
    }
}
