//! 14. The page of `sluice serve --metrics` / `sluice ui` over a large audit log.

use std::time::{Duration, Instant};

use serde_json::json;
use sluice_audit::{
    AuditLog, CallOutcome, ErrorKind, ExecutionOutcomeWord, ExecutionRecord, Record, Rotation,
    Timestamp, ToolCallRecord, ToolErrorKind,
};
use sluice_web::page::{PageFilter, index};

use crate::report::{BenchResult, Report, Stats, ms, num};

/// Executions in the log, and listed on the page.
const EXECUTIONS: usize = 10_000;
/// Tool calls per execution.
const CALLS: usize = 3;
/// Renders per figure.
const RUNS: usize = 9;
/// The page must list every execution within this, server side.
pub(crate) const PAGE_TARGET_MS: f64 = 300.0;

fn write_log(dir: &std::path::Path) -> BenchResult<u64> {
    let log = AuditLog::open(
        dir,
        Rotation {
            max_bytes: 64 << 20,
            keep: 8,
            retain: Duration::ZERO,
            max_total_bytes: 1 << 30,
        },
    )?;
    let start = 1_790_000_000_000i64;
    let servers = ["github", "slack", "drive", "crm"];
    for index in 0..EXECUTIONS {
        let at = start + index as i64 * 1_500;
        let id = format!("x{index:08x}-bench");
        let client = format!("http:token:agent-{}", index % 8);
        let session = (index % 3 == 0).then(|| format!("session-{}", index % 50));
        for call in 0..CALLS {
            log.append(&Record::ToolCall(ToolCallRecord {
                execution_id: id.clone(),
                client: client.clone(),
                principal: None,
                session: session.clone(),
                at: Timestamp::from_unix_millis(at + 2 + call as i64 * 10),
                server: servers[(index + call) % servers.len()].to_owned(),
                tool: format!("tool_{}", call),
                arguments_bytes: 120,
                arguments_sha256: "0".repeat(64),
                outcome: if index % 17 == 0 {
                    CallOutcome::Failed(ToolErrorKind::Timeout)
                } else {
                    CallOutcome::Ok
                },
                error: None,
                duration_us: 8_000,
            }))?;
        }
        let failed = index % 11 == 0;
        log.append(&Record::Execution(ExecutionRecord {
            execution_id: id,
            client,
            principal: None,
            session,
            started_at: Timestamp::from_unix_millis(at),
            ended_at: Timestamp::from_unix_millis(at + 40),
            duration_ms: 40,
            code: format!(
                "import * as github from './servers/github';\n\
                 const issues = await github.listIssues({{ repo: 'sluice', page: {index} }});\n\
                 const open = issues.filter(issue => issue.state === 'open');\n\
                 console.log(open.length, 'open issues');\n\
                 export default open.slice(0, 5).map(issue => issue.title);"
            ),
            code_sha256: "0".repeat(64),
            language: "typescript".to_owned(),
            outcome: if failed {
                ExecutionOutcomeWord::Error
            } else {
                ExecutionOutcomeWord::Ok
            },
            error_kind: failed.then_some(ErrorKind::ToolError),
            error_message: failed.then(|| "github.listIssues: timed out after 30000 ms".to_owned()),
            limits_hit: Vec::new(),
            stats: json!({"duration_ms": 40, "tool_calls": CALLS, "result_tokens": 60,
                          "direct_estimate_tokens": 4_200}),
        }))?;
    }
    let mut bytes = 0;
    for file in sluice_audit::log_files(dir)? {
        bytes += std::fs::metadata(file)?.len();
    }
    Ok(bytes)
}

fn time(audit: &std::path::Path, query: &str) -> (Stats, usize, usize) {
    let filter = PageFilter::from_query(Some(query));
    let mut samples = Vec::with_capacity(RUNS);
    let mut size = 0;
    let mut rows = 0;
    for _ in 0..RUNS {
        let started = Instant::now();
        let page = index(Some(audit), &filter, None, &[]);
        samples.push(ms(started.elapsed()));
        size = page.len();
        rows = page.matches("<tr class=\"execution\"").count();
    }
    (Stats::of(&samples), size, rows)
}

pub(crate) fn page(report: &mut Report) -> BenchResult<()> {
    let dir = tempfile::tempdir()?;
    let audit = dir.path().join(sluice_audit::AUDIT_DIR);
    let bytes = write_log(&audit)?;
    report.row(
        "page",
        format!("audit log: {EXECUTIONS} executions, {CALLS} tool calls each"),
        format!("{} MB", num(bytes as f64 / 1e6)),
    );
    let (all, size, rows) = time(&audit, &format!("limit={EXECUTIONS}"));
    let met = all.p50 < PAGE_TARGET_MS && rows == EXECUTIONS;
    report.check(
        "page",
        format!("page listing all {rows} executions (read, filter, tokenize, render)"),
        format!("{} ({} MB of HTML)", all.show("ms"), num(size as f64 / 1e6)),
        format!("< {PAGE_TARGET_MS} ms"),
        met,
    );
    let (first, _, first_rows) = time(&audit, "");
    report.row(
        "page",
        format!("  the default page ({first_rows} newest)"),
        first.show("ms"),
    );
    let (filtered, _, filtered_rows) = time(&audit, "limit=10000&server=slack&outcome=ok");
    report.row(
        "page",
        format!("  filtered by server and outcome ({filtered_rows} listed)"),
        filtered.show("ms"),
    );
    report.section_json(
        "page",
        json!({
            "executions": EXECUTIONS,
            "log_bytes": bytes,
            "all": all.to_json("ms", &[]),
            "all_html_bytes": size,
            "default": first.to_json("ms", &[]),
            "filtered": filtered.to_json("ms", &[]),
            "target_ms_below": PAGE_TARGET_MS,
            "met": met,
        }),
    );
    Ok(())
}
