//! Security case 33: a worker that sends malformed frames (a 4 GiB length prefix, bytes that
//! are not UTF-8, 10,000-deep JSON, unknown messages, a second `Ready`) or exits or hangs costs
//! that execution only: a typed error, the worker killed, an audit record with the reason, and
//! the gateway serving the next execution. A worker whose sandbox cannot be set up is refused
//! the same way, with the layer named. The misbehaving worker is `fake-worker` from
//! `sluice-test-support`, a real process speaking (breaking) the real frame protocol.

#![allow(clippy::unwrap_used, clippy::expect_used)]

mod common;

use serde_json::Value;
use sluice_gateway::ExecuteRequest;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn malformed_frames_fail_one_execution_and_are_audited() {
    let cases = [
        ("huge-length", "WorkerCrashed", "bad frame"),
        ("bad-utf8", "WorkerCrashed", "bad message"),
        ("deep-json", "WorkerCrashed", "bad message"),
        ("unknown-message", "WorkerCrashed", "bad message"),
        ("second-ready", "WorkerCrashed", "broke protocol"),
        ("exit", "WorkerCrashed", "exited with code 7"),
        ("hang", "Timeout", "300 ms"),
        // Not a frame problem, but the same path: a worker that cannot confine itself.
        (
            "sandbox-refused",
            "WorkerCrashed",
            "sandbox could not be set up while starting: sandbox: landlock",
        ),
    ];
    for (mode, kind, reason) in cases {
        let data = tempfile::tempdir().unwrap();
        let gateway = common::gateway_with_fake_worker(mode, serde_json::json!({}), data.path());
        // Twice: the first failure must leave the gateway able to serve the next execution.
        for attempt in 0..2 {
            let code = format!("export default {attempt};");
            let report = gateway
                .execute(ExecuteRequest {
                    timeout_ms: Some(300),
                    ..ExecuteRequest::typescript(code)
                })
                .await;
            let error = report
                .error
                .as_ref()
                .unwrap_or_else(|| panic!("{mode}: no error"));
            assert_eq!(error.kind.as_str(), kind, "{mode}: {}", error.message);
            assert!(error.message.contains(reason), "{mode}: {}", error.message);
        }
        gateway.shutdown().await;
        let log = std::fs::read_to_string(data.path().join("audit/audit.jsonl")).unwrap();
        let records: Vec<Value> = log
            .lines()
            .map(|line| serde_json::from_str(line).unwrap())
            .collect();
        assert_eq!(records.len(), 2, "{mode}: {log}");
        for record in &records {
            assert_eq!(record["kind"], "execution");
            assert_eq!(record["outcome"], "error");
            assert_eq!(record["error_kind"], kind);
            assert!(
                record["error_message"].as_str().unwrap().contains(reason),
                "{mode}: {record}"
            );
        }
    }
}
