//! A client that gives up on an execution (the official Python SDK sends `notifications/cancelled`
//! when a call times out) gets its worker stopped at once: the slot is free for the next
//! execution, no worker runs on to its time limit, and the audit log says `Cancelled`. Once, the
//! worker ran on and kept its slot, and after four cancels the next execution was refused.

use std::time::Instant;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, everything_server, run_python_client};

use super::common::{
    audit_records, execute, sluice_serve_with_data, text, workers_running, write_config,
};

#[test]
fn a_cancelled_execution_stops_and_frees_its_slot() {
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({"execution": {"timeoutMs": 60000}}),
    );
    let spin = "while (true) {}";
    let mut ops: Vec<Value> = (0..6)
        .map(|_| {
            json!({"op": "call_tool", "name": "execute_code",
                   "arguments": {"code": spin}, "timeout_s": 1, "expect_error": true})
        })
        .collect();
    ops.push(execute("export default 'the slot is free';"));
    let started = Instant::now();
    let output = run_python_client(
        &sluice_serve_with_data(config.path(), data.path()),
        &json!(ops),
    )
    .ok();
    let elapsed = started.elapsed();
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(results.len(), ops.len(), "{output}");
    for result in &results[..6] {
        assert!(result.get("error").is_some(), "not cancelled: {result}");
    }
    assert!(
        text(&results[6]).contains("the slot is free"),
        "{}",
        results[6]
    );
    // Six one-second timeouts, not six minutes of spinning workers.
    assert!(elapsed.as_secs() < 40, "took {elapsed:?}");

    let records = audit_records(data.path());
    let cancelled: Vec<&Value> = records
        .iter()
        .filter(|record| record["kind"] == "execution" && record["code"] == spin)
        .collect();
    assert_eq!(cancelled.len(), 6, "{records:?}");
    for record in &cancelled {
        assert_eq!(record["error_kind"], "Cancelled", "{record}");
        assert!(record["duration_ms"].as_u64().unwrap() < 10_000, "{record}");
    }
    // No worker outlived its cancelled execution.
    assert_eq!(workers_running(data.path()), 0, "workers left running");
}

/// A call with a `progressToken` (the Python SDK sends one with a progress callback) gets
/// `notifications/progress` about once a second while the code runs: growing progress, and a
/// message with the time and the tool calls made.
#[test]
fn a_long_execution_reports_progress() {
    let data = tempfile::tempdir().unwrap();
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({}),
    );
    // The script also reports its own progress, more often than notifications go out, with
    // an email address in the message: that is tokenized like the output.
    let code = "import * as e from './servers/everything';\n\
                import { reportProgress } from './runtime';\n\
                const end = Date.now() + 3500;\n\
                let calls = 0;\n\
                while (Date.now() < end) { await e.echo({ message: 'x' }); calls++; \
                reportProgress(`page ${calls} for ana.lopez@example.org`, Math.min(1, calls / 100)); \
                await new Promise((resolve) => setTimeout(resolve, 50)); }\n\
                export default calls;";
    let ops = json!([{"op": "call_tool", "name": "execute_code",
                      "arguments": {"code": code}, "progress": true}]);
    let output = run_python_client(&sluice_serve_with_data(config.path(), data.path()), &ops).ok();
    let result = &output["results"][0];
    assert_eq!(result["isError"], false, "{result}");
    let progress = result["progress"].as_array().expect("progress reports");
    assert!(progress.len() >= 2, "{progress:?}");
    let values: Vec<f64> = progress
        .iter()
        .map(|report| report["progress"].as_f64().unwrap())
        .collect();
    assert!(
        values.windows(2).all(|pair| pair[0] < pair[1]),
        "{values:?}"
    );
    // Reports come more often than once a second, but never closer than a quarter second.
    assert!(progress.len() >= 6, "{progress:?}");
    assert!(
        values.windows(2).all(|pair| pair[1] - pair[0] >= 0.2),
        "{values:?}"
    );
    let last = progress.last().unwrap()["message"].as_str().unwrap();
    assert!(last.starts_with("page "), "{last}");
    assert!(last.contains("%); running for "), "{last}");
    assert!(!last.contains(" 0 tool calls"), "{last}");
    assert!(last.contains("[EMAIL_"), "{last}");
    assert!(!result.to_string().contains("ana.lopez@"), "{result}");
}
