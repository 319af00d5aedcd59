//! Shared set-up: gateways with this build's worker, executions, the fake MCP server and the
//! gateway and pool sections 2-4 share.

use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sluice_config::Config;
use sluice_downstream::{Pool, ServerState, ServerStatus, ToolResponse};
use sluice_gateway::{
    ExecuteRequest, ExecutionReport, Gateway, GatewayOptions, Language, WorkerCommand,
};

use crate::report::BenchResult;
use crate::worker::{FAKE_WORKER_ARG, SLUICE_BIN, WORKER_BIN};

/// Calls of the `Promise.all` section (4), which the gateways set up here allow in flight at once.
pub(crate) const PARALLEL_CALLS: usize = 200;

pub(crate) fn worker_command() -> WorkerCommand {
    WorkerCommand::new(PathBuf::from(WORKER_BIN), Vec::new())
}

/// A gateway with this worker and no data folder (no workspace, skills or audit log).
pub(crate) fn start_gateway(config: Config, worker: WorkerCommand) -> BenchResult<Gateway> {
    start_gateway_with_metrics(config, worker, false)
}

/// The same, keeping metrics when `metrics` (as `sluice serve --metrics` does).
pub(crate) fn start_gateway_with_metrics(
    config: Config,
    worker: WorkerCommand,
    metrics: bool,
) -> BenchResult<Gateway> {
    start_gateway_with_telemetry(config, worker, metrics, None)
}

/// The same, making spans with `telemetry` (as `sluice serve` with `sluice.telemetry` does).
pub(crate) fn start_gateway_with_telemetry(
    config: Config,
    worker: WorkerCommand,
    metrics: bool,
    telemetry: Option<std::sync::Arc<sluice_gateway::Telemetry>>,
) -> BenchResult<Gateway> {
    Ok(Gateway::start(
        config,
        GatewayOptions {
            worker: Some(worker),
            data_dir: None,
            encoder: None,
            release_memory: None,
            metrics,
            telemetry,
        },
    )?)
}

pub(crate) fn parse_config(config: &Value) -> BenchResult<Config> {
    Ok(sluice_config::parse(
        &config.to_string(),
        "bench",
        &|name| std::env::var(name).ok(),
    )?)
}

/// Limits generous enough for the long scripts: 20,000 calls, two minutes; no warm workers.
pub(crate) fn bench_settings(max_concurrency: usize) -> Value {
    // Every worker started on demand, so the sections that time one measure a cold start;
    // section 9 measures the warm ones.
    json!({
        "maxConcurrencyPerServer": max_concurrency,
        "execution": {"toolCalls": 20_000, "timeoutMs": 120_000, "maxTimeoutMs": 300_000},
        "workers": {"warm": 0, "reusePerClient": 0}
    })
}

/// Run code; the wall time of `Gateway::execute` and its report, or the execution's error.
pub(crate) async fn execute(
    gateway: &Gateway,
    code: &str,
) -> BenchResult<(Duration, ExecutionReport)> {
    let started = Instant::now();
    let report = gateway
        .execute(ExecuteRequest {
            code: code.to_owned(),
            language: Language::Typescript,
            timeout_ms: Some(120_000),
            session: None,
            cancel: None,
            progress: None,
            elicitor: None,
            trace: None,
        })
        .await;
    let wall = started.elapsed();
    if let Some(error) = &report.error {
        return Err(format!(
            "execution failed: {}: {} (output: {})",
            error.kind,
            error.message,
            report.output.trim()
        )
        .into());
    }
    Ok((wall, report))
}

/// The script's own number (its `export default`), as milliseconds.
pub(crate) fn result_ms(report: &ExecutionReport) -> BenchResult<f64> {
    report
        .result
        .as_f64()
        .ok_or_else(|| format!("the script returned {} instead of a number", report.result).into())
}

/// Microseconds the gateway says it spent on personal-data tokenization (`stats.pii_us`), when
/// this build reports it.
pub(crate) fn pii_us(report: &ExecutionReport) -> Option<f64> {
    serde_json::to_value(&report.stats)
        .ok()?
        .get("pii_us")?
        .as_f64()
}

pub(crate) fn ensure_ready(statuses: &[ServerStatus]) -> BenchResult<()> {
    for status in statuses {
        if !matches!(status.state, ServerState::Ready { .. }) {
            return Err(format!(
                "server {} did not connect: {}",
                status.name,
                status.state.describe()
            )
            .into());
        }
    }
    Ok(())
}

/// The `fake-mcp-server` binary, release build: `$SLUICE_FAKE_MCP_SERVER`, else the one beside
/// this bench when it is newer than its source, else `cargo build --release` of it.
pub(crate) fn fake_server_release() -> BenchResult<PathBuf> {
    if let Some(path) = std::env::var_os("SLUICE_FAKE_MCP_SERVER").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(path));
    }
    let root = sluice_test_support::workspace_root();
    let modified = |path: &Path| std::fs::metadata(path).and_then(|m| m.modified()).ok();
    let sources = [
        root.join("crates/sluice-test-support/src/bin/fake-mcp-server.rs"),
        root.join("crates/sluice-test-support/Cargo.toml"),
    ];
    let newest_source = sources.iter().filter_map(|s| modified(s)).max();
    let sibling = std::env::current_exe()?
        .parent()
        .and_then(Path::parent)
        .map(|profile| profile.join("fake-mcp-server"));
    if let (Some(sibling), Some(newest_source)) = (&sibling, newest_source)
        && modified(sibling).is_some_and(|built| built >= newest_source)
    {
        return Ok(sibling.clone());
    }
    eprintln!("bench: building fake-mcp-server (release)…");
    let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
    let output = std::process::Command::new(cargo)
        .current_dir(&root)
        .args([
            "build",
            "--release",
            "--package",
            "sluice-test-support",
            "--bin",
            "fake-mcp-server",
            "--message-format=json-render-diagnostics",
        ])
        .stdin(Stdio::null())
        .stderr(Stdio::inherit())
        .output()?;
    if !output.status.success() {
        return Err(format!("building fake-mcp-server failed ({})", output.status).into());
    }
    String::from_utf8_lossy(&output.stdout)
        .lines()
        .filter_map(|line| serde_json::from_str::<Value>(line).ok())
        .filter(|message| message["target"]["name"] == "fake-mcp-server")
        .find_map(|message| message["executable"].as_str().map(PathBuf::from))
        .ok_or_else(|| "cargo built fake-mcp-server but did not report its path".into())
}

/// One gateway and one bare pool, each with its own fake MCP server, shared by sections 2-4.
pub(crate) struct FakeSetup {
    pub(crate) gateway: Gateway,
    /// The same gateway set-up, but its "worker" is this bench binary making calls with no JS
    /// engine (see [`protocol_worker`](crate::worker::protocol_worker)): the gateway's share of a
    /// call, without the engine's.
    pub(crate) protocol_gateway: Gateway,
    /// The first gateway again with personal-data tokenization off (`sluice.privacy.enabled:
    /// false`), when this build has that setting: what the privacy scan costs per call.
    pub(crate) plain_gateway: Option<Gateway>,
    /// The first gateway again with polling off (`sluice.execution.spinMicros: 0`): neither the
    /// worker nor the gateway polls for the other's next frame, each sleeps and is woken.
    pub(crate) sleeping_gateway: Gateway,
    /// The first gateway again keeping metrics (`sluice serve --metrics`): what counting costs
    /// per call.
    pub(crate) metrics_gateway: Gateway,
    /// The first gateway again with traces on (`sluice.telemetry`), exported over OTLP/HTTP to
    /// a local receiver that discards: what tracing costs per call.
    pub(crate) traces_gateway: Gateway,
    traces: std::sync::Arc<sluice_gateway::Telemetry>,
    _receiver: sluice_test_support::OtlpReceiver,
    pub(crate) pool: Pool,
}

impl FakeSetup {
    pub(crate) async fn start() -> BenchResult<FakeSetup> {
        let bin = fake_server_release()?;
        eprintln!("bench: fake MCP server {}", bin.display());
        let config = parse_config(&json!({
            "mcpServers": {"fake": {"command": bin.to_string_lossy(), "args": []}},
            "sluice": bench_settings(PARALLEL_CALLS),
        }))?;
        let gateway = start_gateway(config.clone(), worker_command())?;
        let protocol_gateway = start_gateway(
            config.clone(),
            WorkerCommand::new(std::env::current_exe()?, vec![FAKE_WORKER_ARG.to_owned()]),
        )?;
        let mut plain_settings = bench_settings(PARALLEL_CALLS);
        plain_settings["privacy"] = json!({"enabled": false});
        let plain_gateway = match parse_config(&json!({
            "mcpServers": {"fake": {"command": bin.to_string_lossy(), "args": []}},
            "sluice": plain_settings,
        })) {
            Ok(plain) => Some(start_gateway(plain, worker_command())?),
            Err(error) => {
                eprintln!("bench: no privacy-off variant: {error}");
                None
            }
        };
        let mut sleeping_settings = bench_settings(PARALLEL_CALLS);
        sleeping_settings["execution"]["spinMicros"] = json!(0);
        let sleeping_gateway = start_gateway(
            parse_config(&json!({
                "mcpServers": {"fake": {"command": bin.to_string_lossy(), "args": []}},
                "sluice": sleeping_settings,
            }))?,
            worker_command(),
        )?;
        let metrics_gateway = start_gateway_with_metrics(config.clone(), worker_command(), true)?;
        let receiver = sluice_test_support::OtlpReceiver::discarding();
        let traces = sluice_gateway::Telemetry::from_settings(
            &sluice_config::TelemetrySettings {
                traces: Some(sluice_config::TraceSettings {
                    endpoint: Some(receiver.endpoint()),
                    ..sluice_config::TraceSettings::default()
                }),
            },
            |_| None,
        )?
        .ok_or("traces did not start")?;
        let traces_gateway = start_gateway_with_telemetry(
            config.clone(),
            worker_command(),
            false,
            Some(traces.clone()),
        )?;
        let pool = Pool::start(&config);
        let setup = FakeSetup {
            traces_gateway,
            traces,
            _receiver: receiver,
            gateway,
            protocol_gateway,
            plain_gateway,
            sleeping_gateway,
            metrics_gateway,
            pool,
        };
        setup.gateway.wait_connected(|_| {}).await;
        setup.metrics_gateway.wait_connected(|_| {}).await;
        setup.traces_gateway.wait_connected(|_| {}).await;
        setup.protocol_gateway.wait_connected(|_| {}).await;
        setup.sleeping_gateway.wait_connected(|_| {}).await;
        if let Some(plain) = &setup.plain_gateway {
            plain.wait_connected(|_| {}).await;
        }
        setup.pool.wait_connected(|_| {}).await;
        let checked = async {
            ensure_ready(&setup.gateway.snapshot().await.statuses)?;
            ensure_ready(&setup.protocol_gateway.snapshot().await.statuses)?;
            ensure_ready(&setup.sleeping_gateway.snapshot().await.statuses)?;
            ensure_ready(&setup.metrics_gateway.snapshot().await.statuses)?;
            ensure_ready(&setup.traces_gateway.snapshot().await.statuses)?;
            if let Some(plain) = &setup.plain_gateway {
                ensure_ready(&plain.snapshot().await.statuses)?;
            }
            ensure_ready(&setup.pool.statuses().await)
        };
        if let Err(error) = checked.await {
            setup.shutdown().await;
            return Err(error);
        }
        Ok(setup)
    }

    pub(crate) async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.protocol_gateway.shutdown().await;
        self.sleeping_gateway.shutdown().await;
        self.metrics_gateway.shutdown().await;
        self.traces_gateway.shutdown().await;
        let traces = self.traces.clone();
        let _ = tokio::task::spawn_blocking(move || traces.shutdown(Duration::from_secs(2))).await;
        if let Some(plain) = &self.plain_gateway {
            plain.shutdown().await;
        }
        self.pool.shutdown().await;
    }

    /// N sequential `echo` calls straight through the rmcp client pool, run as a task on the
    /// runtime's workers, where the gateway serves a script's calls too.
    pub(crate) async fn direct_calls(&self, calls: usize) -> BenchResult<Duration> {
        let pool = self.pool.clone();
        let task = tokio::spawn(async move {
            let mut arguments = Map::new();
            arguments.insert("message".to_owned(), json!("x"));
            let started = Instant::now();
            for _ in 0..calls {
                match pool
                    .call_tool(
                        "fake",
                        "echo",
                        arguments.clone(),
                        Duration::from_secs(60),
                        None,
                    )
                    .await
                {
                    Ok(response) if !response.is_error => {}
                    Ok(_) => return Err("echo reported an error".to_owned()),
                    Err(error) => return Err(error.to_string()),
                }
            }
            Ok(started.elapsed())
        });
        Ok(task.await??)
    }
}

/// A script making `calls` sequential `echo` calls; it returns its own loop time in ms.
pub(crate) fn sequential_script(calls: usize) -> String {
    format!(
        r#"import * as fake from "./servers/fake";
const started = Date.now();
for (let i = 0; i < {calls}; i++) {{
  await fake.echo({{ message: "x" }});
}}
export default Date.now() - started;
"#
    )
}

pub(crate) const EMPTY_SCRIPT: &str = "export default 1 + 1;\n";

/// Unique (USS), proportional (PSS) and resident (RSS) memory of a process, in MB, from
/// `/proc/PID/smaps_rollup`.
pub(crate) fn memory_of(pid: u32) -> Option<(f64, f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/smaps_rollup")).ok()?;
    let field = |name: &str| -> f64 {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .unwrap_or(0.0)
            / 1024.0
    };
    Some((
        field("Private_Clean:") + field("Private_Dirty:"),
        field("Pss:"),
        field("Rss:"),
    ))
}

/// `(pid, parent pid, command line)` of every process.
pub(crate) fn processes() -> Vec<(u32, u32, String)> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    entries
        .flatten()
        .filter_map(|entry| {
            let pid: u32 = entry.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            let parent = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            let cmdline = std::fs::read(format!("/proc/{pid}/cmdline")).ok()?;
            Some((
                pid,
                parent,
                String::from_utf8_lossy(&cmdline).replace('\0', " "),
            ))
        })
        .collect()
}

/// The `sluice serve` processes of this bench whose command line holds `fragment` (a config
/// file or data folder path), in `all` (from [`processes`]). A gateway's child between its fork
/// and its exec has the same command line: it is left out.
pub(crate) fn gateways(all: &[(u32, u32, String)], fragment: &str) -> Vec<u32> {
    let serving: Vec<(u32, u32)> = all
        .iter()
        .filter(|(_, _, cmdline)| {
            cmdline.starts_with(SLUICE_BIN)
                && cmdline.contains(" serve ")
                && cmdline.contains(fragment)
        })
        .map(|(pid, parent, _)| (*pid, *parent))
        .collect();
    serving
        .iter()
        .filter(|(_, parent)| !serving.iter().any(|(pid, _)| pid == parent))
        .map(|(pid, _)| *pid)
        .collect()
}

/// The worker processes whose parent is one of `gateways`, in `all`.
pub(crate) fn workers_of(all: &[(u32, u32, String)], gateways: &[u32]) -> Vec<u32> {
    all.iter()
        .filter(|(_, parent, cmdline)| {
            gateways.contains(parent)
                && (cmdline.starts_with(WORKER_BIN) || cmdline.contains(" worker"))
        })
        .map(|(pid, _, _)| *pid)
        .collect()
}

/// Whether an `execute_code` answer reports that the code returned 1.
pub(crate) fn returned_one(response: &ToolResponse) -> bool {
    let result = response
        .structured_content
        .as_ref()
        .and_then(|report| report.get("result"));
    !response.is_error && result == Some(&json!(1))
}

/// One `execute_code` on the `sluice serve` entry `server` of `pool`; an error unless it
/// returned 1.
pub(crate) async fn serve_execute(pool: &Pool, server: &str, code: &str) -> Result<(), String> {
    let mut arguments = Map::new();
    arguments.insert("code".to_owned(), json!(code));
    let response = pool
        .call_tool(
            server,
            "execute_code",
            arguments,
            Duration::from_secs(60),
            None,
        )
        .await
        .map_err(|error| format!("execute_code on {server} failed: {error}"))?;
    if !returned_one(&response) {
        return Err(format!(
            "execute_code on {server} did not return 1: {:?}",
            response.content
        ));
    }
    Ok(())
}
