//! Warm and reused workers (`sluice.workers`), through the gateway library with the real,
//! confined `sluice-worker` (and, once, the `sluice worker` subcommand the gateway falls back
//! to): a client's next execution runs in the worker its last one used,
//! in a brand-new runtime where nothing of the last one survives; another client never gets
//! that worker; warm workers are started ahead and taken.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_gateway::{ExecuteRequest, Gateway, GatewayOptions, WorkerCommand};

/// The worker binary, as `sluice serve` starts it.
fn worker_binary() -> WorkerCommand {
    WorkerCommand::new(env!("CARGO_BIN_EXE_sluice-worker"), Vec::new())
}

/// The `sluice worker` subcommand, which `sluice serve` starts where the binary is missing.
fn worker_subcommand() -> WorkerCommand {
    WorkerCommand::new(env!("CARGO_BIN_EXE_sluice"), vec!["worker".to_owned()])
}

/// A gateway with no servers, the real worker, and these `sluice.workers` settings.
fn gateway(data_dir: &std::path::Path, workers: Value) -> Gateway {
    gateway_with(data_dir, workers, worker_binary())
}

fn gateway_with(data_dir: &std::path::Path, workers: Value, worker: WorkerCommand) -> Gateway {
    let text = json!({"mcpServers": {}, "sluice": {"workers": workers}}).to_string();
    let config = sluice_config::parse(&text, "test.json", &|_| None).expect("config");
    Gateway::start(
        config,
        GatewayOptions {
            worker: Some(worker),
            data_dir: Some(data_dir.to_path_buf()),
            encoder: None,
            release_memory: None,
            metrics: false,
            telemetry: None,
        },
    )
    .expect("gateway")
}

/// What the first execution leaves behind, every way a runtime could carry it over.
const POLLUTE: &str = r#"
import * as fs from "fs/promises";
(globalThis as any).leak = "secret of the first execution";
(Object.prototype as any).polluted = "yes";
Array.prototype.push = function () { return -1; };
JSON.stringify = () => "hijacked";
var topLevel = 42;
setTimeout(() => { (globalThis as any).timerRan = true; }, 20);
await fs.writeFile("./workspace/first.txt", "from the first execution");
export default "polluted";
"#;

/// What the next execution sees.
const INSPECT: &str = r#"
import * as fs from "fs/promises";
const seen = {
  leak: typeof (globalThis as any).leak,
  polluted: typeof ({} as any).polluted,
  push: [1].push(2),
  stringify: JSON.stringify({ a: 1 }),
  topLevel: typeof (globalThis as any).topLevel,
  timerRan: typeof (globalThis as any).timerRan,
  file: await fs.readFile("./workspace/first.txt", "utf8"),
};
export default seen;
"#;

#[test]
fn a_reused_worker_starts_every_execution_in_a_new_runtime_and_serves_one_client() {
    for worker in [worker_binary(), worker_subcommand()] {
        a_reused_worker_is_clean_with(worker);
    }
}

fn a_reused_worker_is_clean_with(worker: WorkerCommand) {
    let data = tempfile::tempdir().expect("data dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let gateway = gateway_with(data.path(), json!({"warm": 0, "reusePerClient": 1}), worker);
        let first_client = gateway.client("first");
        let polluted = first_client
            .execute(ExecuteRequest::typescript(POLLUTE))
            .await;
        assert!(polluted.error.is_none(), "{:?}", polluted.error);
        assert_eq!(gateway.worker_counts().started, 1);

        let seen = first_client
            .execute(ExecuteRequest::typescript(INSPECT))
            .await;
        assert!(seen.error.is_none(), "{:?}", seen.error);
        // The same worker process served it: no second start.
        assert_eq!(gateway.worker_counts().started, 1);
        assert_eq!(
            seen.result,
            json!({
                "leak": "undefined",
                "polluted": "undefined",
                "push": 2,
                "stringify": "{\"a\":1}",
                "topLevel": "undefined",
                "timerRan": "undefined",
                // The workspace is shared by design: files are state that outlives executions.
                "file": "from the first execution",
            })
        );

        // Another client never gets the first client's worker.
        let second_client = gateway.client("second");
        let other = second_client
            .execute(ExecuteRequest::typescript("export default 1;"))
            .await;
        assert!(other.error.is_none(), "{:?}", other.error);
        assert_eq!(gateway.worker_counts().started, 2);

        // A runtime that timed out is not trusted again: the worker is replaced.
        let timeout = first_client
            .execute(ExecuteRequest {
                timeout_ms: Some(200),
                ..ExecuteRequest::typescript("while (true) {}")
            })
            .await;
        assert_eq!(
            timeout.error.map(|error| error.kind.to_string()).as_deref(),
            Some("Timeout")
        );
        let after = first_client
            .execute(ExecuteRequest::typescript("export default 2;"))
            .await;
        assert_eq!(after.result, json!(2));
        assert_eq!(gateway.worker_counts().started, 3);
        gateway.shutdown().await;
    });
}

#[test]
fn warm_workers_are_started_ahead_and_taken() {
    let data = tempfile::tempdir().expect("data dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let gateway = gateway(data.path(), json!({"warm": 1, "reusePerClient": 0}));
        let started = Instant::now();
        while gateway.worker_counts().warm < 1 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "no warm worker appeared"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(gateway.worker_counts().started, 1);
        let client = gateway.client("c");
        let report = client
            .execute(ExecuteRequest::typescript("export default 40 + 2;"))
            .await;
        assert_eq!(report.result, json!(42));
        // The execution took the warm worker; the pool started its replacement.
        let started = Instant::now();
        while gateway.worker_counts().warm < 1 {
            assert!(
                started.elapsed() < Duration::from_secs(20),
                "the pool was not refilled"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        assert_eq!(gateway.worker_counts().started, 2);
        gateway.shutdown().await;
    });
}

/// A reused worker is replaced after `sluice.workers.maxExecutions` executions.
#[test]
fn a_reused_worker_is_replaced_after_its_executions() {
    let data = tempfile::tempdir().expect("data dir");
    let runtime = tokio::runtime::Runtime::new().expect("runtime");
    runtime.block_on(async {
        let gateway = gateway(
            data.path(),
            json!({"warm": 0, "reusePerClient": 1, "maxExecutions": 2}),
        );
        let client = gateway.client("c");
        let mut started = Vec::new();
        for _ in 0..5 {
            let report = client
                .execute(ExecuteRequest::typescript("export default 1;"))
                .await;
            assert_eq!(report.result, json!(1));
            started.push(gateway.worker_counts().started);
        }
        // Two executions per worker: new workers for the 3rd and the 5th.
        assert_eq!(started, [1, 1, 2, 2, 3]);
        gateway.shutdown().await;
    });
}
