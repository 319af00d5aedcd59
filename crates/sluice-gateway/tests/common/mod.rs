//! What the gateway's integration tests share.

use serde_json::Value;
use sluice_gateway::{Gateway, GatewayOptions, WorkerCommand};
use sluice_test_support::fake_worker_bin;

/// A gateway with no servers, the `sluice` section `settings`, its data in `data_dir`, whose
/// workers are `fake-worker` in `mode` (see `sluice-test-support`).
pub fn gateway_with_fake_worker(
    mode: &str,
    settings: Value,
    data_dir: &std::path::Path,
) -> Gateway {
    let text = serde_json::json!({"mcpServers": {}, "sluice": settings}).to_string();
    let config = sluice_config::parse(&text, "test.json", &|_| None).unwrap();
    let worker = WorkerCommand::new(fake_worker_bin(), vec![mode.to_owned()]);
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
    .unwrap()
}
