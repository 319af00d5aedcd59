//! What reaches the audit log's writer from agents and servers (names, messages, code, of any
//! size and content) through `Record::bounded` and the line encoding. Must never panic; every
//! record is one line (no newline inside), parses back, and keeps each field within its bound.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_audit::{
    CallOutcome, ErrorKind, ExecutionOutcomeWord, ExecutionRecord, Limit, MAX_CODE_BYTES,
    MAX_LIMITS, MAX_MESSAGE_BYTES, MAX_NAME_BYTES, Record, Timestamp, ToolCallRecord, bound_text,
    sha256_hex,
};

fuzz_target!(|data: &[u8]| {
    // Fields cut from the input at 0xff bytes (never in UTF-8), as lossy text.
    let mut fields = data.split(|byte| *byte == 0xff).map(String::from_utf8_lossy);
    let mut next = || fields.next().map(|field| field.into_owned()).unwrap_or_default();
    let (server, tool, error, code) = (next(), next(), next(), next());
    // Words are read as the log reads them: known ones typed, the rest kept as they are.
    let limits: Vec<Limit> = (0..(data.len() % 40)).map(|_| Limit::parse(&next())).collect();
    let call = Record::ToolCall(ToolCallRecord {
        execution_id: next(),
        client: next(),
        principal: None,
        session: Some(next()),
        at: Timestamp::from_unix_millis(0),
        server,
        tool,
        arguments_bytes: data.len() as u64,
        arguments_sha256: sha256_hex(data),
        outcome: CallOutcome::parse(&next()),
        error: Some(error.clone()),
        duration_us: 0,
    });
    let run = Record::Execution(ExecutionRecord {
        execution_id: next(),
        client: next(),
        principal: None,
        session: None,
        started_at: Timestamp::from_unix_millis(0),
        ended_at: Timestamp::from_unix_millis(0),
        duration_ms: 0,
        code_sha256: sha256_hex(code.as_bytes()),
        code,
        language: next(),
        outcome: ExecutionOutcomeWord::parse(&next()),
        error_kind: Some(ErrorKind::parse(&next())),
        error_message: Some(error),
        limits_hit: limits,
        stats: serde_json::Value::String(next()),
    });
    for record in [call, run] {
        let bounded = record.bounded();
        let line = serde_json::to_string(&bounded).expect("a record serializes");
        assert!(!line.contains('\n'));
        let back: Record = serde_json::from_str(&line).expect("a record parses back");
        assert_eq!(back, bounded);
        match &bounded {
            Record::ToolCall(call) => {
                assert!(call.server.len() <= MAX_NAME_BYTES && call.tool.len() <= MAX_NAME_BYTES);
                assert!(call.error.as_ref().is_none_or(|error| error.len() <= MAX_MESSAGE_BYTES));
                assert!(call.outcome.as_str().len() <= MAX_NAME_BYTES);
            }
            Record::Execution(run) => {
                assert!(run.code.len() <= MAX_CODE_BYTES);
                assert!(run.limits_hit.len() <= MAX_LIMITS);
                assert!(run.limits_hit.iter().all(|limit| limit.as_str().len() <= MAX_NAME_BYTES));
                assert!(run.error_kind.as_ref().is_none_or(|kind| kind.as_str().len() <= MAX_NAME_BYTES));
            }
            _ => {}
        }
    }
    let mut text = String::from_utf8_lossy(data).into_owned();
    let limit = 120 + data.len() % 300;
    bound_text(&mut text, limit);
    assert!(text.len() <= limit);
});
