//! The audit log under attack, through `execute_code` on a real `sluice serve` (confined
//! workers): one execution sends a thousand calls with 100 kB tool names, which once rotated every
//! earlier record out of existence. Now the names are refused before they cost anything, every
//! record is bounded, the execution's records past its budget are counted in one notice, and the
//! records written before it are still there.

use std::path::Path;

use serde_json::{Value, json};
use sluice_audit::{CallOutcome, NoticeEvent, Record, ToolErrorKind};
use sluice_test_support::{McpConfig, everything_server, run_python_client};

use super::common::{execute, sluice_serve_with_data, text, write_config};

/// Every record of every file of the log, oldest first, with the longest line's length.
fn all_records(data: &Path) -> (Vec<Record>, usize) {
    let mut longest = 0;
    let records = sluice_audit::read(&data.join("audit"))
        .expect("an audit log")
        .map(|entry| {
            let entry = entry.expect("a readable record");
            longest = longest.max(entry.raw.len());
            entry.record
        })
        .collect();
    (records, longest)
}

fn folder_bytes(folder: &Path) -> u64 {
    std::fs::read_dir(folder)
        .unwrap()
        .map(|entry| entry.unwrap().metadata().unwrap().len())
        .sum()
}

#[test]
fn a_flood_of_absurd_tool_names_cannot_erase_the_audit_log() {
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({
            "execution": {"toolCalls": 2000, "timeoutMs": 60000},
            "audit": {"maxFileMb": 1, "keepFiles": 1}
        }),
    );
    let before = "export default 'before the flood';";
    let flood = "import { callMCPTool } from './runtime';\n\
                 const long = 'n'.repeat(100_000);\n\
                 let refused = 0;\n\
                 for (let i = 0; i < 1000; i++) {\n\
                   try { await callMCPTool('everything', long + i, {}); }\n\
                   catch (e) { if (e.kind === 'unknown_tool' && e.message.endsWith('(search_tools finds tools)')) refused++; }\n\
                 }\n\
                 export default refused;";
    let after = "export default 'after the flood';";
    let ops: Vec<Value> = vec![execute(before), execute(flood), execute(after)];
    let output = run_python_client(
        &sluice_serve_with_data(config.path(), data.path()),
        &json!(ops),
    )
    .ok();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), 3, "{output}");
    // Each absurd call was refused with a short message that does not echo the name.
    assert!(text(&results[1]).contains("1000"), "{}", text(&results[1]));
    // The next execution works.
    assert!(
        text(&results[2]).contains("after the flood"),
        "{}",
        text(&results[2])
    );

    let (records, longest) = all_records(data.path());
    // Nothing written before the flood was pushed out.
    assert!(
        records.iter().any(|record| matches!(record,
            Record::Execution(run) if run.code == before)),
        "the record before the flood is gone"
    );
    let flood_id = records
        .iter()
        .find_map(|record| match record {
            Record::Execution(run) if run.code == flood => Some(run.execution_id.clone()),
            _ => None,
        })
        .expect("the flood's execution record");
    // Its calls: some written one by one (each bounded), the rest counted in one notice.
    let written = records
        .iter()
        .filter(|record| {
            matches!(record, Record::ToolCall(call) if call.execution_id == flood_id
                && call.outcome == CallOutcome::Failed(ToolErrorKind::UnknownTool) && call.tool.len() <= 256
                && call.tool.contains("[cut: 10000"))
        })
        .count();
    let notice = records
        .iter()
        .find_map(|record| match record {
            Record::Notice(notice) if notice.execution_id.as_deref() == Some(flood_id.as_str()) => {
                Some(notice)
            }
            _ => None,
        })
        .expect("a notice for the calls past the budget");
    assert_eq!(notice.event, NoticeEvent::Summarized);
    assert!(written > 0 && written < 1000, "{written} written");
    assert_eq!(written as u64 + notice.records, 1000, "{notice:?}");
    assert!(notice.detail.contains("unknown_tool"), "{}", notice.detail);
    // No record is large, and the whole log stayed small.
    assert!(longest < 8_000, "a record of {longest} bytes");
    let bytes = folder_bytes(&data.path().join("audit"));
    assert!(bytes < 1_000_000, "the log holds {bytes} bytes");
}
