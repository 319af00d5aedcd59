//! The limits of one client connection (`sluice.limits`) and of a session: executions at once
//! (`ConcurrencyLimit`), executions in all (`ExecutionLimit`), one execution at a time per
//! session (`SessionBusy`). Each refusal is immediate, typed and audited with the limit it hit.
//! The executions that hold the slots run in `fake-worker`'s `hang` mode until the watchdog ends
//! them, so the refusals cannot depend on timing.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::time::Duration;

mod common;

use serde_json::Value;
use sluice_gateway::{Client, ExecuteRequest, Gateway};

/// A gateway whose workers hang, with these `sluice.limits`.
fn gateway(data_dir: &std::path::Path, limits: Value) -> Gateway {
    common::gateway_with_fake_worker("hang", serde_json::json!({"limits": limits}), data_dir)
}

fn request(code: &str, session: Option<&str>) -> ExecuteRequest {
    ExecuteRequest {
        timeout_ms: Some(300),
        session: session.map(str::to_owned),
        ..ExecuteRequest::typescript(code)
    }
}

/// Start `code` on its own task and wait until the gateway counts it as running (its worker
/// has been started, which takes far longer than the count).
async fn hold(
    client: &Client,
    code: &str,
    session: Option<&str>,
) -> tokio::task::JoinHandle<String> {
    let client = client.clone();
    let request = request(code, session);
    let running = tokio::spawn(async move {
        let report = client.execute(request).await;
        report
            .error
            .map(|error| error.kind.to_string())
            .unwrap_or_default()
    });
    tokio::time::sleep(Duration::from_millis(100)).await;
    running
}

fn error_kind(report: &sluice_gateway::ExecutionReport) -> &str {
    report
        .error
        .as_ref()
        .map_or("<none>", |error| error.kind.as_str())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_and_session_limits_refuse_at_once_and_are_audited() {
    let data = tempfile::tempdir().unwrap();
    let gateway = gateway(
        data.path(),
        serde_json::json!({"concurrentExecutions": 1, "executionsPerClient": 2}),
    );

    let client = gateway.client("test");
    let first = hold(&client, "export default 'first';", None).await;
    let refused = client
        .execute(request("export default 'second';", None))
        .await;
    assert_eq!(error_kind(&refused), "ConcurrencyLimit");
    assert!(
        refused
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("concurrentExecutions"),
        "{:?}",
        refused.error
    );
    assert_eq!(first.await.unwrap(), "Timeout");
    // The refused one did not count: one more may run, then the client is out of executions.
    let third = client
        .execute(request("export default 'third';", None))
        .await;
    assert_eq!(error_kind(&third), "Timeout");
    let fourth = client
        .execute(request("export default 'fourth';", None))
        .await;
    assert_eq!(error_kind(&fourth), "ExecutionLimit");
    assert!(
        fourth
            .error
            .as_ref()
            .unwrap()
            .message
            .contains("executionsPerClient")
    );

    gateway.shutdown().await;

    // A session runs one execution at a time (the client itself may run several).
    let sessions = self::gateway(data.path(), serde_json::json!({}));
    let other = sessions.client("other");
    let holding = hold(&other, "export default 'held';", Some("s")).await;
    let busy = other
        .execute(request("export default 'busy';", Some("s")))
        .await;
    assert_eq!(error_kind(&busy), "SessionBusy");
    assert!(
        busy.error
            .as_ref()
            .unwrap()
            .message
            .contains("session \"s\"")
    );
    assert_eq!(holding.await.unwrap(), "Timeout");
    sessions.shutdown().await;
    let log = std::fs::read_to_string(data.path().join("audit/audit.jsonl")).unwrap();
    let records: Vec<Value> = log
        .lines()
        .map(|line| serde_json::from_str(line).unwrap())
        .collect();
    let record = |code: &str| {
        records
            .iter()
            .find(|record| record["kind"] == "execution" && record["code"] == code)
            .unwrap_or_else(|| panic!("no record of {code}: {log}"))
    };
    let second = record("export default 'second';");
    assert_eq!(second["error_kind"], "ConcurrencyLimit");
    assert_eq!(
        second["limits_hit"],
        serde_json::json!(["concurrent_executions"])
    );
    let fourth = record("export default 'fourth';");
    assert_eq!(
        fourth["limits_hit"],
        serde_json::json!(["executions_per_client"])
    );
    assert_eq!(
        record("export default 'busy';")["error_kind"],
        "SessionBusy"
    );
    assert_eq!(record("export default 'held';")["session"], "s");
}
