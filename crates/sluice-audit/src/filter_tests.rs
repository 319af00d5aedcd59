//! Tests of `filter.rs`.

use std::fs;

use super::*;
use crate::log::{AuditLog, Rotation};
use crate::record::tests::{execution, tool_call};
use crate::record::{ReleaseRecord, SessionRecord};
use sluice_worker_protocol::{CallOutcome, SessionEvent, ToolErrorKind};

fn release(execution_id: &str, from: &str, to: &str) -> Record {
    Record::Release(ReleaseRecord {
        execution_id: execution_id.to_owned(),
        client: "cli".to_owned(),
        principal: None,
        session: Some("session-a".to_owned()),
        at: Timestamp::from_unix_millis(5_000),
        token_kind: "EMAIL".to_owned(),
        from: from.to_owned(),
        to: to.to_owned(),
    })
}

fn session(event: &str) -> Record {
    Record::Session(SessionRecord {
        client: "connection-1".to_owned(),
        principal: None,
        session: "session-a".to_owned(),
        at: Timestamp::from_unix_millis(500),
        event: SessionEvent::parse(event),
        reason: None,
    })
}

#[test]
fn an_empty_filter_matches_everything() {
    let filter = Filter::default();
    for record in [
        tool_call("e", "crm", "query", 0),
        execution("e", "", 0),
        release("e", "crm.query", "chat.sendMessage"),
        session("created"),
    ] {
        assert!(filter.matches(&record));
    }
}

#[test]
fn each_condition_narrows() {
    let call = tool_call("exec-123456", "crm", "query", 1_000);
    let run = execution("exec-123456", "", 1_000);
    let sent = release("exec-123456", "crm.query", "chat.sendMessage");
    let created = session("created");

    let by_kind = Filter {
        kind: Some(RecordKind::ToolCall),
        ..Filter::default()
    };
    assert!(by_kind.matches(&call));
    assert!(!by_kind.matches(&run));

    let by_server = Filter {
        server: Some("chat".to_owned()),
        ..Filter::default()
    };
    assert!(!by_server.matches(&call));
    assert!(by_server.matches(&sent));
    assert!(!by_server.matches(&run));
    assert!(!by_server.matches(&created));

    let by_tool = Filter {
        tool: Some("query".to_owned()),
        ..Filter::default()
    };
    assert!(by_tool.matches(&call));
    assert!(by_tool.matches(&sent));
    assert!(!by_tool.matches(&run));

    let by_prefix = Filter {
        execution_id: Some("exec-12".to_owned()),
        ..Filter::default()
    };
    assert!(by_prefix.matches(&call) && by_prefix.matches(&run) && by_prefix.matches(&sent));
    assert!(!by_prefix.matches(&created));
    let empty_prefix = Filter {
        execution_id: Some(String::new()),
        ..Filter::default()
    };
    assert!(!empty_prefix.matches(&call));

    let by_session = Filter {
        session: Some("session-a".to_owned()),
        ..Filter::default()
    };
    assert!(!by_session.matches(&call)); // tool_call() has no session
    assert!(by_session.matches(&run) && by_session.matches(&created));

    let by_outcome = Filter {
        outcome: Some("error".to_owned()),
        ..Filter::default()
    };
    assert!(by_outcome.matches(&run));
    assert!(!by_outcome.matches(&call));
    assert!(!by_outcome.matches(&sent));
    // A tool that reported an error is written `tool`; the older name `tool_error` finds it.
    let mut failed = call.clone();
    if let Record::ToolCall(record) = &mut failed {
        record.outcome = CallOutcome::Failed(ToolErrorKind::Tool);
    }
    for wanted in ["tool", "tool_error"] {
        let by_kind = Filter {
            outcome: Some(wanted.to_owned()),
            ..Filter::default()
        };
        assert!(
            by_kind.matches(&failed) && !by_kind.matches(&call),
            "{wanted}"
        );
    }

    let combined = Filter {
        kind: Some(RecordKind::ToolCall),
        server: Some("crm".to_owned()),
        outcome: Some("ok".to_owned()),
        ..Filter::default()
    };
    assert!(combined.matches(&call));
    assert!(!combined.matches(&run));
}

#[test]
fn since_counts_executions_that_were_still_running() {
    // Started at 1 000, ended at 1 040.
    let run = execution("e", "", 1_000);
    let since = |millis| Filter {
        since: Some(Timestamp::from_unix_millis(millis)),
        ..Filter::default()
    };
    assert!(since(1_020).matches(&run));
    assert!(since(1_040).matches(&run));
    assert!(!since(1_041).matches(&run));
    let call = tool_call("e", "crm", "query", 2_000);
    assert!(since(2_000).matches(&call));
    assert!(!since(2_001).matches(&call));
}

#[test]
fn since_takes_timestamps_and_times_ago() {
    let now = Timestamp::parse("2026-04-14T12:00:00Z").unwrap();
    let at = |text: &str| parse_since(text, now).unwrap().to_string();
    assert_eq!(at("10m"), "2026-04-14T11:50:00.000Z");
    assert_eq!(at("2h"), "2026-04-14T10:00:00.000Z");
    assert_eq!(at("1d"), "2026-04-13T12:00:00.000Z");
    assert_eq!(at("1w"), "2026-04-07T12:00:00.000Z");
    assert_eq!(at("1h30m15s"), "2026-04-14T10:29:45.000Z");
    assert_eq!(at(" 0s "), "2026-04-14T12:00:00.000Z");
    assert_eq!(at("1h 30m"), "2026-04-14T10:30:00.000Z");
    assert_eq!(at("90 minutes"), "2026-04-14T10:30:00.000Z");
    assert_eq!(at("1.5s"), "2026-04-14T11:59:58.500Z");
    assert_eq!(at("2026-04-14T08:00:00+02:00"), "2026-04-14T06:00:00.000Z");

    for bad in [
        "",
        "10",
        "m",
        "10x",
        "-5m",
        "10m5",
        "ten minutes",
        "99999999999999999999w",
        "2h ago",
        "1mo",
        "1y",
        "PT1H",
    ] {
        let error = parse_since(bad, now).unwrap_err();
        assert!(
            matches!(error, AuditError::InvalidSince { source: None, .. }),
            "{bad}"
        );
        assert!(error.to_string().contains("10m, 2h"), "{error}");
    }
    let error = parse_since("2026-04-31T00:00:00Z", now).unwrap_err();
    let AuditError::InvalidSince {
        source: Some(source),
        ..
    } = error
    else {
        panic!("{error}");
    };
    assert!(source.reason.contains("day"), "{source}");
}

#[test]
fn query_keeps_the_last_n_matches_and_collects_problems() {
    let scratch = tempfile::tempdir().unwrap();
    let log = AuditLog::open(scratch.path(), Rotation::default()).unwrap();
    for index in 0..10 {
        let server = if index % 2 == 0 { "crm" } else { "chat" };
        log.append(&tool_call(&format!("exec-{index}"), server, "query", 0))
            .unwrap();
    }
    let mut contents = fs::read_to_string(log.path()).unwrap();
    contents.push_str("garbage\n");
    fs::write(log.path(), contents).unwrap();

    let filter = Filter {
        server: Some("crm".to_owned()),
        limit: Some(3),
        ..Filter::default()
    };
    let result = query(scratch.path(), &filter).unwrap();
    let ids: Vec<&str> = result
        .entries
        .iter()
        .map(|entry| entry.record.execution_id().unwrap())
        .collect();
    assert_eq!(ids, ["exec-4", "exec-6", "exec-8"]);
    assert_eq!(result.matched, 5);
    assert_eq!(result.read, 10);
    assert_eq!(result.problems.len(), 1);

    let none = Filter {
        limit: Some(0),
        ..Filter::default()
    };
    assert!(query(scratch.path(), &none).unwrap().entries.is_empty());
}
