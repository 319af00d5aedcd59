use std::time::Duration;

use serde_json::json;
use sluice_audit::{
    AuditLog, ErrorKind, ExecutionRecord, Rotation, Timestamp, ToolCallRecord, ToolErrorKind,
};

use super::*;

fn execution(id: &str, client: &str, session: Option<&str>, code: &str, at: i64) -> Record {
    Record::Execution(ExecutionRecord {
        execution_id: id.to_owned(),
        client: client.to_owned(),
        principal: None,
        session: session.map(str::to_owned),
        started_at: Timestamp::from_unix_millis(at),
        ended_at: Timestamp::from_unix_millis(at + 12),
        duration_ms: 12,
        code: code.to_owned(),
        code_sha256: String::new(),
        language: "typescript".to_owned(),
        outcome: ExecutionOutcomeWord::Ok,
        error_kind: None,
        error_message: None,
        limits_hit: Vec::new(),
        stats: json!({"tool_calls": 1, "result_tokens": 30, "direct_estimate_tokens": 900}),
    })
}

fn call(id: &str, server: &str, outcome: CallOutcome, at: i64) -> Record {
    Record::ToolCall(ToolCallRecord {
        execution_id: id.to_owned(),
        client: "stdio".to_owned(),
        principal: None,
        session: None,
        at: Timestamp::from_unix_millis(at),
        server: server.to_owned(),
        tool: "search".to_owned(),
        arguments_bytes: 2,
        arguments_sha256: String::new(),
        outcome,
        error: None,
        duration_us: 4_000,
    })
}

fn log_with(records: &[Record]) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let log = AuditLog::open(
        &dir.path().join("audit"),
        Rotation {
            max_bytes: 1 << 30,
            keep: 1,
            retain: Duration::ZERO,
            max_total_bytes: 1 << 31,
        },
    )
    .unwrap();
    for record in records {
        log.append(record).unwrap();
    }
    dir
}

fn sample() -> tempfile::TempDir {
    let t = 1_790_000_000_000;
    let mut failed = execution("e3", "http:token:ci", Some("s1"), "throw 1", t + 2000);
    if let Record::Execution(record) = &mut failed {
        record.outcome = ExecutionOutcomeWord::Error;
        record.error_kind = Some(ErrorKind::Timeout);
        record.error_message = Some("timed out writing to jane.doe@example.com".to_owned());
    }
    log_with(&[
        call("e1", "github", CallOutcome::Ok, t + 2),
        execution("e1", "stdio", None, "await github.search({q: 'x'})", t),
        call(
            "e2",
            "slack",
            CallOutcome::Failed(ToolErrorKind::Timeout),
            t + 1002,
        ),
        execution(
            "e2",
            "stdio",
            Some("s1"),
            "// mail jane.doe@example.com\nawait slack.post({})",
            t + 1000,
        ),
        failed,
    ])
}

fn rows(page: &str) -> usize {
    page.matches("<tr class=\"execution\"").count()
}

#[test]
fn lists_executions_newest_first_with_the_chart() {
    let dir = sample();
    let page = index(
        Some(&dir.path().join("audit")),
        &PageFilter::from_query(None),
        None,
        &[],
    );
    assert_eq!(rows(&page), 3, "{page}");
    let e3 = page.find("data-id=\"e3\"").unwrap();
    let e1 = page.find("data-id=\"e1\"").unwrap();
    assert!(e3 < e1, "newest first");
    assert!(page.contains("<svg id=\"savings\""));
    assert!(page.contains("<polyline class=\"returned\""));
    assert!(page.contains("3 of 3 executions"));
    assert!(page.contains(">Timeout<"));
}

#[test]
fn filters_narrow_the_list() {
    let dir = sample();
    let audit = dir.path().join("audit");
    let listed = |query: &str| {
        rows(&index(
            Some(&audit),
            &PageFilter::from_query(Some(query)),
            None,
            &[],
        ))
    };
    assert_eq!(listed("client=stdio"), 2);
    assert_eq!(listed("client=http%3Atoken%3Aci"), 1);
    assert_eq!(listed("session=s1"), 2);
    assert_eq!(listed("server=github"), 1);
    assert_eq!(listed("server=slack&session=s1"), 1);
    assert_eq!(listed("outcome=ok"), 2);
    assert_eq!(listed("outcome=error"), 1);
    assert_eq!(listed("outcome=Timeout"), 1);
    assert_eq!(listed("client=nobody"), 0);
    assert_eq!(listed("limit=1"), 1);
}

#[test]
fn never_shows_a_raw_personal_value_and_escapes_html() {
    let t = 1_790_000_000_000;
    let dir = log_with(&[execution(
        "e1",
        "stdio",
        Some("<script>alert(1)</script>"),
        "const to = 'jane.doe@example.com'; </pre><b>",
        t,
    )]);
    let audit = dir.path().join("audit");
    let page = index(Some(&audit), &PageFilter::from_query(None), None, &[]);
    assert!(!page.contains("jane.doe@example.com"), "{page}");
    assert!(page.contains("[EMAIL_1]"), "{page}");
    assert!(!page.contains("<script>alert"), "{page}");
    let detail = execution_page(&audit, "e1");
    assert!(!detail.contains("jane.doe@example.com"), "{detail}");
    assert!(detail.contains("&lt;/pre&gt;&lt;b&gt;"), "{detail}");
    let sample = sample();
    let detail = execution_page(&sample.path().join("audit"), "e3");
    assert!(
        detail.contains("<pre id=\"error\">timed out writing to [EMAIL_1]"),
        "{detail}"
    );
}

fn execution_page(audit: &Path, id: &str) -> String {
    super::execution(audit, id, None).unwrap()
}

#[test]
fn an_execution_shows_its_calls_as_a_timeline() {
    let dir = sample();
    let audit = dir.path().join("audit");
    let page = execution_page(&audit, "e2");
    assert!(page.contains("<svg id=\"timeline\""), "{page}");
    assert_eq!(page.matches("<g class=\"call\">").count(), 1);
    assert!(page.contains("slack.search: timeout"), "{page}");
    assert!(super::execution(&audit, "nope", None).is_none());
    assert!(page.contains("Not kept"), "{page}");
    let page = super::execution(&audit, "e2", Some("sent to jane.doe@example.com\n<b>")).unwrap();
    assert!(
        page.contains("<pre id=\"output\">sent to [EMAIL_1]\n&lt;b&gt;</pre>"),
        "{page}"
    );
}

#[test]
fn without_a_log_the_page_says_so() {
    let dir = tempfile::tempdir().unwrap();
    let page = index(
        Some(&dir.path().join("audit")),
        &PageFilter::from_query(None),
        Some(&[ServerRow {
            name: "github".to_owned(),
            state: "ready".to_owned(),
            ready: true,
            tools: 41,
        }]),
        &[],
    );
    assert!(page.contains("0 of 0 executions"), "{page}");
    assert!(page.contains("no executions yet"), "{page}");
    assert!(page.contains("<td>github</td>"), "{page}");
}
