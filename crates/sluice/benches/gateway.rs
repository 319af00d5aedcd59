//! Gateway performance: `cargo bench -p sluice --bench gateway [-- FILTER]`.
//!
//! A plain `main` (harness = false) that measures, side by side in one run, what the project
//! promises about speed and size, prints a table with each figure beside its target, and writes
//! every figure to `target/bench/gateway.json`. A missed target is reported, never a panic.
//!
//! Sections (FILTER picks those whose name contains it, e.g. `cold`, `overhead`, `codegen`):
//!
//! 1. `cold`: a worker's cold start through the real gateway (`export default 1+1`), beside the bare
//!    process spawn up to its `Ready` frame and the bare protocol round trip without the gateway;
//! 2. `overhead`: N sequential `echo` calls on the fake MCP server straight through the rmcp pool,
//!    against the same N calls from one script through Sluice; broken down with polling off
//!    (`execution.spinMicros: 0`), privacy off, a worker without JS engine, and the worker alone;
//! 3. `sequential`: 10,000 sequential calls in one script;
//! 4. `parallel`: `Promise.all` of 200 `sleep({ms: 50})` with 200 calls allowed in flight;
//! 5. `codegen`: catalog build and tree generation for the captured real-world catalogs;
//! 6. `connect`: the five real reference servers connecting concurrently (needs `scripts/test`);
//! 7. `context`: the starting context's o200k tokens;
//! 8. `search`: `search_tools` round trips through `sluice serve` (an MCP client over stdio) with
//!    the 1,535 recorded tools behind it, each server a `fake-mcp-server` process serving its
//!    recorded list, and the encoder's vectors cached (needs `scripts/fetch-model`).
//!
//! The machine this runs on is small and noisy, so every figure is a median (with p90) of many
//! runs, and the runs of the things being compared are interleaved.

// A bench reports on stdout; that is its whole purpose.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::error::Error;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::time::{Duration, Instant, SystemTime};

use serde_json::{Map, Value, json};
use sluice_catalog::{Catalog, ServerTools};
use sluice_config::Config;
use sluice_downstream::{Pool, ServerState, ServerStatus};
use sluice_gateway::{
    ExecuteRequest, ExecutionReport, Gateway, GatewayOptions, Language, WorkerCommand,
};
use sluice_worker_protocol::{
    ExecuteJob, ExecutionLimits, ExecutionOutcome, GatewayMessage, MAX_GATEWAY_FRAME_BYTES,
    MAX_WORKER_FRAME_BYTES, PROTOCOL_VERSION, ToolBinding, ToolOutcome, WorkerMessage,
    decode_gateway_message, decode_worker_message, read_frame, write_message,
};

type BenchResult<T> = Result<T, Box<dyn Error>>;

/// The `sluice` binary of this build; workers are it under `worker`.
const SLUICE_BIN: &str = env!("CARGO_BIN_EXE_sluice");

/// Runs of the cold-start section (each runs the three variants).
const COLD_RUNS: usize = 200;
/// Sequential calls per run in the overhead section.
const OVERHEAD_CALLS: usize = 2_000;
/// Repetitions of the overhead comparison.
const OVERHEAD_REPS: usize = 9;
/// Empty executions per repetition, the cold-start baseline subtracted from the script's time.
const OVERHEAD_BASELINE_RUNS: usize = 4;
/// Calls of the long sequential script.
const SEQUENTIAL_CALLS: usize = 10_000;
const SEQUENTIAL_RUNS: usize = 3;
/// The `Promise.all` section: calls, how long each sleeps, runs.
const PARALLEL_CALLS: usize = 200;
const PARALLEL_SLEEP_MS: u64 = 50;
const PARALLEL_RUNS: usize = 15;
const CODEGEN_RUNS: usize = 10;
const CONNECT_RUNS: usize = 4;
/// Rounds of the labelled queries in the search section.
const SEARCH_ROUNDS: usize = 3;
const SEARCH_TARGET_MS: f64 = 15.0;

/// Targets.
const COLD_TARGET_MS: f64 = 10.0;
const OVERHEAD_TARGET_US: f64 = 15.0;
const PARALLEL_TARGET_MS: f64 = 100.0;
const CONTEXT_TARGET_TOKENS: usize = 1_000;

/// The sections, in running order: key, the names a filter may match, title.
const SECTIONS: [(&str, &[&str], &str); 8] = [
    ("cold", &["cold", "worker"], "1. Worker cold start"),
    (
        "overhead",
        &["overhead", "per-call"],
        "2. Per-call overhead",
    ),
    (
        "sequential",
        &["sequential", "10k"],
        "3. 10,000 sequential calls in one script",
    ),
    (
        "parallel",
        &["parallel", "promise-all"],
        "4. Promise.all of 200 sleeps",
    ),
    ("codegen", &["codegen", "generation"], "5. Code generation"),
    (
        "connect",
        &["connect", "real-servers"],
        "6. Connect time of five real servers",
    ),
    (
        "context",
        &["context", "tokens"],
        "7. Starting context tokens",
    ),
    (
        "search",
        &["search", "discovery"],
        "8. search_tools through sluice serve",
    ),
];

fn main() -> BenchResult<()> {
    if std::env::args().nth(1).as_deref() == Some(FAKE_WORKER_ARG) {
        return protocol_worker();
    }
    // Cargo passes `--bench`; any other argument that is not a flag filters the sections.
    let mut filters: Vec<String> = std::env::args()
        .skip(1)
        .filter(|arg| !arg.starts_with('-'))
        .map(|arg| arg.to_lowercase())
        .collect();
    // `cargo test --all-targets` runs this binary too, in a debug build and without `--bench`:
    // there it is a smoke test of the cheapest section, not a measurement.
    if filters.is_empty() && !std::env::args().any(|arg| arg == "--bench") {
        eprintln!("bench: not run by `cargo bench`; smoke-testing the context section only");
        filters.push("context".to_owned());
    }
    let selected: Vec<&str> = SECTIONS
        .iter()
        .filter(|(_, names, _)| {
            filters.is_empty()
                || filters
                    .iter()
                    .any(|filter| names.iter().any(|name| name.contains(filter.as_str())))
        })
        .map(|(key, _, _)| *key)
        .collect();
    if selected.is_empty() {
        println!(
            "no section matches {filters:?}; sections: {}",
            SECTIONS
                .iter()
                .map(|(key, _, _)| *key)
                .collect::<Vec<_>>()
                .join(", ")
        );
        return Ok(());
    }

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()?;
    let mut report = Report {
        load_before: load_average(),
        ..Report::default()
    };
    let started = Instant::now();
    runtime.block_on(async {
        let mut fake: Option<FakeSetup> = None;
        for key in &selected {
            let title = SECTIONS
                .iter()
                .find(|(k, _, _)| k == key)
                .map_or(*key, |(_, _, title)| *title);
            eprintln!("bench: {title}…");
            let section_started = Instant::now();
            let outcome = match *key {
                "cold" => cold_start(&mut report).await,
                "overhead" | "sequential" | "parallel" => {
                    if fake.is_none() {
                        match FakeSetup::start().await {
                            Ok(setup) => fake = Some(setup),
                            Err(error) => {
                                report.error(key, title, error.as_ref());
                                continue;
                            }
                        }
                    }
                    match (&fake, *key) {
                        (Some(setup), "overhead") => overhead(&mut report, setup).await,
                        (Some(setup), "sequential") => sequential(&mut report, setup).await,
                        (Some(setup), _) => parallel(&mut report, setup).await,
                        (None, _) => Ok(()),
                    }
                }
                "codegen" => codegen(&mut report),
                "connect" => connect(&mut report).await,
                "search" => search(&mut report).await,
                _ => context(&mut report),
            };
            if let Err(error) = outcome {
                report.error(key, title, error.as_ref());
            }
            eprintln!(
                "bench: {title} took {:.1} s",
                section_started.elapsed().as_secs_f64()
            );
        }
        if let Some(setup) = fake {
            setup.shutdown().await;
        }
    });
    runtime.shutdown_timeout(Duration::from_secs(5));
    report.load_after = load_average();
    report.json.insert(
        "_meta".to_owned(),
        json!({
            "cores": std::thread::available_parallelism().map(|n| n.get()).unwrap_or(0),
            "filters": filters,
            "sections": selected,
            "total_seconds": started.elapsed().as_secs_f64(),
            "load_average_before": report.load_before,
            "load_average_after": report.load_after,
            "unix_time": SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_secs())
                .unwrap_or(0),
        }),
    );
    report.print(started.elapsed());
    let path = report.write_json()?;
    println!("figures written to {}", path.display());
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Statistics and the report.

/// Order statistics of a set of samples, in the unit they were given in.
#[derive(Debug, Clone, Copy)]
struct Stats {
    runs: usize,
    p50: f64,
    p90: f64,
    min: f64,
    max: f64,
    mean: f64,
}

impl Stats {
    fn of(samples: &[f64]) -> Stats {
        let mut sorted: Vec<f64> = samples.to_vec();
        sorted.sort_by(f64::total_cmp);
        let runs = sorted.len();
        if runs == 0 {
            return Stats {
                runs,
                p50: f64::NAN,
                p90: f64::NAN,
                min: f64::NAN,
                max: f64::NAN,
                mean: f64::NAN,
            };
        }
        Stats {
            runs,
            p50: percentile(&sorted, 0.5),
            p90: percentile(&sorted, 0.9),
            min: sorted[0],
            max: sorted[runs - 1],
            mean: sorted.iter().sum::<f64>() / runs as f64,
        }
    }

    fn to_json(self, unit: &str, samples: &[f64]) -> Value {
        json!({
            "unit": unit,
            "runs": self.runs,
            "p50": finite(self.p50),
            "p90": finite(self.p90),
            "min": finite(self.min),
            "max": finite(self.max),
            "mean": finite(self.mean),
            "samples": samples.iter().map(|s| finite(*s)).collect::<Vec<_>>(),
        })
    }

    /// `p50 (p90)` with a unit.
    fn show(self, unit: &str) -> String {
        format!("{} {unit} (p90 {})", num(self.p50), num(self.p90))
    }
}

/// Linear interpolation between the closest ranks of sorted samples.
fn percentile(sorted: &[f64], fraction: f64) -> f64 {
    let position = fraction * (sorted.len() - 1) as f64;
    let low = position.floor() as usize;
    let high = position.ceil() as usize;
    let weight = position - low as f64;
    sorted[low] * (1.0 - weight) + sorted[high] * weight
}

fn finite(value: f64) -> Value {
    if value.is_finite() {
        json!(value)
    } else {
        Value::Null
    }
}

/// A number with as many decimals as its size deserves.
fn num(value: f64) -> String {
    let magnitude = value.abs();
    if !value.is_finite() {
        "n/a".to_owned()
    } else if magnitude >= 1000.0 {
        format!("{value:.0}")
    } else if magnitude >= 100.0 {
        format!("{value:.1}")
    } else if magnitude >= 1.0 {
        format!("{value:.2}")
    } else {
        format!("{value:.3}")
    }
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

/// One line of the table.
struct Row {
    section: String,
    metric: String,
    measured: String,
    target: String,
    verdict: &'static str,
}

#[derive(Default)]
struct Report {
    rows: Vec<Row>,
    json: Map<String, Value>,
    /// `/proc/loadavg` (1, 5, 15 minutes) before and after: how busy the machine was.
    load_before: Option<String>,
    load_after: Option<String>,
}

/// CPU time used so far, in ms: this process (gateway, pool and bench, all threads) and its
/// children that were waited for (workers: each fresh one is reaped before its execution
/// returns). From `/proc/self/stat`, in clock ticks of 10 ms (Linux's fixed USER_HZ of 100), so
/// only sums over many runs mean anything.
#[derive(Debug, Clone, Copy, Default)]
struct CpuTime {
    own_ms: f64,
    children_ms: f64,
}

impl CpuTime {
    fn now() -> CpuTime {
        let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
            return CpuTime::default();
        };
        // Fields after the command name (which may hold spaces) start at field 3 (state).
        let Some((_, rest)) = stat.rsplit_once(')') else {
            return CpuTime::default();
        };
        let field = |number: usize| -> f64 {
            rest.split_whitespace()
                .nth(number - 3)
                .and_then(|value| value.parse::<f64>().ok())
                .unwrap_or(0.0)
                * 10.0
        };
        CpuTime {
            own_ms: field(14) + field(15),
            children_ms: field(16) + field(17),
        }
    }

    /// The CPU time used since `earlier`, added to `self`.
    fn add_since(&mut self, earlier: CpuTime) {
        let now = CpuTime::now();
        self.own_ms += now.own_ms - earlier.own_ms;
        self.children_ms += now.children_ms - earlier.children_ms;
    }

    fn total_ms(self) -> f64 {
        self.own_ms + self.children_ms
    }
}

/// The 1, 5 and 15 minute load averages, where the system tells them.
fn load_average() -> Option<String> {
    let text = std::fs::read_to_string("/proc/loadavg").ok()?;
    Some(
        text.split_whitespace()
            .take(3)
            .collect::<Vec<_>>()
            .join(" "),
    )
}

impl Report {
    fn row(&mut self, section: &str, metric: impl Into<String>, measured: impl Into<String>) {
        self.rows.push(Row {
            section: section.to_owned(),
            metric: metric.into(),
            measured: measured.into(),
            target: String::new(),
            verdict: "",
        });
    }

    fn check(
        &mut self,
        section: &str,
        metric: impl Into<String>,
        measured: impl Into<String>,
        target: impl Into<String>,
        met: bool,
    ) {
        self.rows.push(Row {
            section: section.to_owned(),
            metric: metric.into(),
            measured: measured.into(),
            target: target.into(),
            verdict: if met { "PASS" } else { "FAIL" },
        });
    }

    fn section_json(&mut self, key: &str, value: Value) {
        self.json.insert(key.to_owned(), value);
    }

    fn error(&mut self, key: &str, title: &str, error: &dyn Error) {
        eprintln!("bench: {title} could not run: {error}");
        self.rows.push(Row {
            section: key.to_owned(),
            metric: "section could not run".to_owned(),
            measured: error.to_string(),
            target: String::new(),
            verdict: "ERROR",
        });
        self.json
            .insert(key.to_owned(), json!({"error": error.to_string()}));
    }

    fn print(&self, total: Duration) {
        let headers = ["section", "metric", "measured", "target", ""];
        let mut widths = headers.map(str::len);
        for row in &self.rows {
            let cells = [
                row.section.as_str(),
                row.metric.as_str(),
                row.measured.as_str(),
                row.target.as_str(),
                row.verdict,
            ];
            for (width, cell) in widths.iter_mut().zip(cells) {
                *width = (*width).max(cell.chars().count());
            }
        }
        let line = |cells: [&str; 5]| {
            let mut text = String::new();
            for (index, (cell, width)) in cells.iter().zip(widths).enumerate() {
                if index > 0 {
                    text.push_str(" | ");
                }
                text.push_str(cell);
                if index < 4 {
                    text.push_str(&" ".repeat(width - cell.chars().count()));
                }
            }
            text.trim_end().to_owned()
        };
        let mut out = std::io::stdout().lock();
        let rule = "-".repeat(widths.iter().sum::<usize>() + 3 * 4);
        let _ = writeln!(out);
        let _ = writeln!(
            out,
            "Sluice gateway bench ({} cores, {:.1} s in all; figures are p50 with p90 of the runs)",
            std::thread::available_parallelism()
                .map(|n| n.get())
                .unwrap_or(0),
            total.as_secs_f64()
        );
        let _ = writeln!(
            out,
            "load average before {}, after {}",
            self.load_before.as_deref().unwrap_or("n/a"),
            self.load_after.as_deref().unwrap_or("n/a")
        );
        let _ = writeln!(out, "{rule}");
        let _ = writeln!(out, "{}", line(headers));
        let _ = writeln!(out, "{rule}");
        let mut previous = "";
        for row in &self.rows {
            if !previous.is_empty() && previous != row.section {
                let _ = writeln!(out, "{rule}");
            }
            previous = &row.section;
            let _ = writeln!(
                out,
                "{}",
                line([
                    &row.section,
                    &row.metric,
                    &row.measured,
                    &row.target,
                    row.verdict,
                ])
            );
        }
        let _ = writeln!(out, "{rule}");
        let missed: Vec<&Row> = self
            .rows
            .iter()
            .filter(|row| row.verdict == "FAIL" || row.verdict == "ERROR")
            .collect();
        if missed.is_empty() {
            let _ = writeln!(out, "every target met");
        } else {
            for row in missed {
                let _ = writeln!(
                    out,
                    "{}: {} {}: {} (target {})",
                    row.verdict, row.section, row.metric, row.measured, row.target
                );
            }
        }
    }

    /// `target/bench/gateway.json`, in the target folder this bench was built in.
    fn write_json(&self) -> BenchResult<PathBuf> {
        let folder = target_dir().join("bench");
        std::fs::create_dir_all(&folder)?;
        let path = folder.join("gateway.json");
        let text = serde_json::to_string_pretty(&Value::Object(self.json.clone()))?;
        std::fs::write(&path, text + "\n")?;
        Ok(path)
    }
}

/// The target folder: the bench runs from `<target>/release/deps/`.
fn target_dir() -> PathBuf {
    std::env::current_exe()
        .ok()
        .and_then(|exe| {
            let target = exe.ancestors().nth(3)?.to_path_buf();
            target.join("CACHEDIR.TAG").exists().then_some(target)
        })
        .unwrap_or_else(|| sluice_test_support::workspace_root().join("target"))
}

// ---------------------------------------------------------------------------------------------
// Shared set-up.

fn worker_command() -> WorkerCommand {
    WorkerCommand::new(PathBuf::from(SLUICE_BIN), vec!["worker".to_owned()])
}

/// A gateway with this worker and no data folder (no workspace, skills or audit log).
fn start_gateway(config: Config, worker: WorkerCommand) -> BenchResult<Gateway> {
    Ok(Gateway::start(
        config,
        GatewayOptions {
            worker: Some(worker),
            data_dir: None,
            encoder: None,
        },
    )?)
}

fn parse_config(config: &Value) -> BenchResult<Config> {
    Ok(sluice_config::parse(
        &config.to_string(),
        "bench",
        &|name| std::env::var(name).ok(),
    )?)
}

/// Limits generous enough for the long scripts: 20,000 calls, two minutes.
fn bench_settings(max_concurrency: usize) -> Value {
    json!({
        "maxConcurrencyPerServer": max_concurrency,
        "execution": {"toolCalls": 20_000, "timeoutMs": 120_000, "maxTimeoutMs": 300_000}
    })
}

/// Run code; the wall time of `Gateway::execute` and its report, or the execution's error.
async fn execute(gateway: &Gateway, code: &str) -> BenchResult<(Duration, ExecutionReport)> {
    let started = Instant::now();
    let report = gateway
        .execute(ExecuteRequest {
            code: code.to_owned(),
            language: Language::Typescript,
            timeout_ms: Some(120_000),
            session: None,
            cancel: None,
            progress: None,
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
fn result_ms(report: &ExecutionReport) -> BenchResult<f64> {
    report
        .result
        .as_f64()
        .ok_or_else(|| format!("the script returned {} instead of a number", report.result).into())
}

/// Microseconds the gateway says it spent on personal-data tokenization (`stats.pii_us`), when
/// this build reports it.
fn pii_us(report: &ExecutionReport) -> Option<f64> {
    serde_json::to_value(&report.stats)
        .ok()?
        .get("pii_us")?
        .as_f64()
}

fn ensure_ready(statuses: &[ServerStatus]) -> BenchResult<()> {
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
fn fake_server_release() -> BenchResult<PathBuf> {
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
struct FakeSetup {
    gateway: Gateway,
    /// The same gateway set-up, but its "worker" is this bench binary making calls with no JS
    /// engine (see [`protocol_worker`]): the gateway's share of a call, without the engine's.
    protocol_gateway: Gateway,
    /// The first gateway again with personal-data tokenization off (`sluice.privacy.enabled:
    /// false`), when this build has that setting: what the privacy scan costs per call.
    plain_gateway: Option<Gateway>,
    /// The first gateway again with polling off (`sluice.execution.spinMicros: 0`): neither the
    /// worker nor the gateway polls for the other's next frame, each sleeps and is woken.
    sleeping_gateway: Gateway,
    pool: Pool,
}

impl FakeSetup {
    async fn start() -> BenchResult<FakeSetup> {
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
        let pool = Pool::start(&config);
        let setup = FakeSetup {
            gateway,
            protocol_gateway,
            plain_gateway,
            sleeping_gateway,
            pool,
        };
        setup.gateway.wait_connected(|_| {}).await;
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

    async fn shutdown(self) {
        self.gateway.shutdown().await;
        self.protocol_gateway.shutdown().await;
        self.sleeping_gateway.shutdown().await;
        if let Some(plain) = &self.plain_gateway {
            plain.shutdown().await;
        }
        self.pool.shutdown().await;
    }

    /// N sequential `echo` calls straight through the rmcp client pool, run as a task on the
    /// runtime's workers, where the gateway serves a script's calls too.
    async fn direct_calls(&self, calls: usize) -> BenchResult<Duration> {
        let pool = self.pool.clone();
        let task = tokio::spawn(async move {
            let mut arguments = Map::new();
            arguments.insert("message".to_owned(), json!("x"));
            let started = Instant::now();
            for _ in 0..calls {
                match pool
                    .call_tool("fake", "echo", arguments.clone(), Duration::from_secs(60))
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
fn sequential_script(calls: usize) -> String {
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

const EMPTY_SCRIPT: &str = "export default 1 + 1;\n";

/// First argument that makes this bench binary a worker without a JS engine.
const FAKE_WORKER_ARG: &str = "__sluice-bench-protocol-worker";

/// A worker without a JS engine, for the gateway started by [`FakeSetup`]: says `Ready`, takes the
/// `Execute` whose code is a number N, makes N sequential `fake.echo` calls over the worker
/// protocol, then reports `Done` with its own loop time in milliseconds (µs resolution). It
/// sleeps on its input between frames, as `sluice worker` does with polling off.
fn protocol_worker() -> BenchResult<()> {
    let mut input = std::io::stdin().lock();
    let mut output = std::io::stdout().lock();
    write_message(
        &mut output,
        &WorkerMessage::Ready {
            protocol_version: PROTOCOL_VERSION,
        },
    )?;
    let GatewayMessage::Execute(job) =
        decode_gateway_message(&read_frame(&mut input, MAX_GATEWAY_FRAME_BYTES)?)?
    else {
        return Err("expected Execute".into());
    };
    let calls: u64 = job.code.trim().parse()?;
    let started = Instant::now();
    for call_id in 0..calls {
        write_message(
            &mut output,
            &WorkerMessage::ToolCall {
                call_id,
                server: "fake".to_owned(),
                tool: "echo".to_owned(),
                arguments: json!({"message": "x"}),
            },
        )?;
        match decode_gateway_message(&read_frame(&mut input, MAX_GATEWAY_FRAME_BYTES)?)? {
            GatewayMessage::ToolResult {
                call_id: answered,
                outcome: ToolOutcome::Ok { .. },
            } if answered == call_id => {}
            other => return Err(format!("unexpected answer to call {call_id}: {other:?}").into()),
        }
    }
    let elapsed = ms(started.elapsed());
    write_message(
        &mut output,
        &WorkerMessage::Done {
            outcome: ExecutionOutcome::Ok {
                result: json!(elapsed),
            },
            dropped_output_bytes: 0,
        },
    )?;
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 1. Worker cold start.

/// What [`bare_worker`] saw: times from just before the spawn, and the execution's result.
struct BareRun {
    ready: Duration,
    done: Option<Duration>,
    result: Value,
    tool_calls: u64,
}

/// Spawn `sluice worker` and wait for its `Ready` frame; with `code`, also run it over the bare
/// protocol up to `Done`, answering every `fake.echo` call at once with `{message: "x"}` (no
/// gateway, no MCP server: what the worker itself costs).
fn bare_worker(code: Option<&str>) -> BenchResult<BareRun> {
    let started = Instant::now();
    let mut child = std::process::Command::new(SLUICE_BIN)
        .arg("worker")
        .env_clear()
        .env("RUST_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()?;
    let outcome = (|| -> BenchResult<BareRun> {
        let mut stdout = child.stdout.take().ok_or("no stdout pipe")?;
        let mut stdin = child.stdin.take().ok_or("no stdin pipe")?;
        match decode_worker_message(&read_frame(&mut stdout, MAX_WORKER_FRAME_BYTES)?)? {
            WorkerMessage::Ready { .. } => {}
            other => return Err(format!("expected Ready, got {other:?}").into()),
        }
        let mut run = BareRun {
            ready: started.elapsed(),
            done: None,
            result: Value::Null,
            tool_calls: 0,
        };
        let Some(code) = code else {
            return Ok(run);
        };
        let mut tools = BTreeMap::new();
        if code.contains("./servers/fake") {
            tools.insert(
                "fake".to_owned(),
                vec![ToolBinding {
                    identifier: "echo".to_owned(),
                    name: "echo".to_owned(),
                }],
            );
        }
        write_message(
            &mut stdin,
            &GatewayMessage::Execute(ExecuteJob {
                protocol_version: PROTOCOL_VERSION,
                code: code.to_owned(),
                language: Language::Typescript,
                limits: ExecutionLimits {
                    timeout_ms: 120_000,
                    memory_bytes: 256 * 1024 * 1024,
                    stack_bytes: 1024 * 1024,
                    output_bytes: 16 * 1024,
                    tool_calls: 20_000,
                    workspace_bytes: 0,
                },
                tools,
                keep_state: false,
                skills: BTreeMap::new(),
            }),
        )?;
        loop {
            match decode_worker_message(&read_frame(&mut stdout, MAX_WORKER_FRAME_BYTES)?)? {
                WorkerMessage::ToolCall { call_id, .. } => {
                    run.tool_calls += 1;
                    write_message(
                        &mut stdin,
                        &GatewayMessage::ToolResult {
                            call_id,
                            outcome: ToolOutcome::Ok {
                                value: json!({"message": "x"}),
                            },
                        },
                    )?;
                }
                WorkerMessage::Done {
                    outcome: ExecutionOutcome::Ok { result },
                    ..
                } => {
                    run.done = Some(started.elapsed());
                    run.result = result;
                    return Ok(run);
                }
                WorkerMessage::Done { outcome, .. } => {
                    return Err(format!("the bare execution ended with {outcome:?}").into());
                }
                _ => {}
            }
        }
    })();
    let _ = child.kill();
    let _ = child.wait();
    outcome
}

async fn cold_start(report: &mut Report) -> BenchResult<()> {
    let config = parse_config(&json!({"mcpServers": {}, "sluice": bench_settings(32)}))?;
    let gateway = start_gateway(config.clone(), worker_command())?;
    let mut unconfined_worker = worker_command();
    unconfined_worker.sandbox = false;
    let unconfined = start_gateway(config, unconfined_worker)?;
    gateway.wait_connected(|_| {}).await;
    unconfined.wait_connected(|_| {}).await;
    let result = cold_start_runs(report, &gateway, &unconfined).await;
    gateway.shutdown().await;
    unconfined.shutdown().await;
    result
}

/// `1+1` through `gateway`, checked; its wall time in ms.
async fn cold_execute(gateway: &Gateway) -> BenchResult<f64> {
    let (wall, report) = execute(gateway, EMPTY_SCRIPT).await?;
    if report.result != json!(2) {
        return Err(format!("1+1 returned {}", report.result).into());
    }
    Ok(ms(wall))
}

async fn cold_start_runs(
    report: &mut Report,
    gateway: &Gateway,
    unconfined: &Gateway,
) -> BenchResult<()> {
    // Warm up: page cache, the tokenizer the gateway builds once, the runtime's threads.
    for _ in 0..5 {
        execute(gateway, EMPTY_SCRIPT).await?;
        execute(unconfined, EMPTY_SCRIPT).await?;
        bare_worker(Some(EMPTY_SCRIPT))?;
    }
    let mut through_gateway = Vec::with_capacity(COLD_RUNS);
    let mut through_unconfined = Vec::with_capacity(COLD_RUNS);
    let mut spawn_ready = Vec::with_capacity(COLD_RUNS);
    let mut bare_protocol = Vec::with_capacity(COLD_RUNS);
    // The bare variants block: this future runs on the main thread (`block_on`), the gateway's
    // tasks on the runtime's worker threads, so nothing waits on them.
    for run in 0..COLD_RUNS {
        // Rotate the order so no variant always runs right after another.
        for step in 0..4 {
            match (run + step) % 4 {
                0 => through_gateway.push(cold_execute(gateway).await?),
                3 => through_unconfined.push(cold_execute(unconfined).await?),
                1 => {
                    spawn_ready.push(ms(bare_worker(None)?.ready));
                }
                _ => {
                    let run = bare_worker(Some(EMPTY_SCRIPT))?;
                    if run.result != json!(2) {
                        return Err(format!("bare 1+1 returned {}", run.result).into());
                    }
                    bare_protocol.push(run.done.map_or(f64::NAN, ms));
                }
            }
        }
    }
    let gateway_stats = Stats::of(&through_gateway);
    let unconfined_stats = Stats::of(&through_unconfined);
    let ready_stats = Stats::of(&spawn_ready);
    let protocol_stats = Stats::of(&bare_protocol);
    report.check(
        "cold",
        format!("gateway.execute(1+1), fresh confined worker ({COLD_RUNS} runs)"),
        gateway_stats.show("ms"),
        format!("p50 <= {COLD_TARGET_MS} ms"),
        gateway_stats.p50 <= COLD_TARGET_MS,
    );
    report.row(
        "cold",
        "gateway.execute(1+1), fresh worker with --no-sandbox",
        unconfined_stats.show("ms"),
    );
    let confinement_ratio = gateway_stats.p50 / unconfined_stats.p50;
    report.row(
        "cold",
        "confined / unconfined cold start (p50)",
        format!(
            "{confinement_ratio:.2}x (+{} ms)",
            num(gateway_stats.p50 - unconfined_stats.p50)
        ),
    );
    report.row(
        "cold",
        "bare spawn of `sluice worker` to Ready",
        ready_stats.show("ms"),
    );
    report.row(
        "cold",
        "bare spawn, Ready, Execute 1+1, Done (no gateway)",
        protocol_stats.show("ms"),
    );
    report.row(
        "cold",
        "gateway share (execute - bare protocol, p50)",
        format!(
            "{} ms ({:.0}% of execute)",
            num(gateway_stats.p50 - protocol_stats.p50),
            100.0 * (gateway_stats.p50 - protocol_stats.p50) / gateway_stats.p50
        ),
    );
    report.row(
        "cold",
        "engine share (bare protocol - spawn to Ready, p50)",
        format!("{} ms", num(protocol_stats.p50 - ready_stats.p50)),
    );
    report.section_json(
        "cold",
        json!({
            "target_p50_ms": COLD_TARGET_MS,
            "met": gateway_stats.p50 <= COLD_TARGET_MS,
            "gateway_execute_ms": gateway_stats.to_json("ms", &through_gateway),
            "unconfined_execute_ms": unconfined_stats.to_json("ms", &through_unconfined),
            "confined_to_unconfined_p50": confinement_ratio,
            "spawn_to_ready_ms": ready_stats.to_json("ms", &spawn_ready),
            "bare_protocol_execute_ms": protocol_stats.to_json("ms", &bare_protocol),
        }),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 2. Per-call overhead.

async fn overhead(report: &mut Report, setup: &FakeSetup) -> BenchResult<()> {
    let calls = OVERHEAD_CALLS;
    let n = calls as f64;
    let script = sequential_script(calls);
    let protocol_code = calls.to_string();
    // Warm up every path.
    setup.direct_calls(200).await?;
    execute(&setup.gateway, &sequential_script(200)).await?;
    execute(&setup.protocol_gateway, "200").await?;
    execute(&setup.sleeping_gateway, &sequential_script(200)).await?;
    execute(&setup.gateway, EMPTY_SCRIPT).await?;
    if let Some(plain) = &setup.plain_gateway {
        execute(plain, &sequential_script(200)).await?;
    }

    let mut direct = Vec::new();
    let mut sluice_wall = Vec::new();
    let mut sluice_loop = Vec::new();
    let mut protocol_loop = Vec::new();
    let mut worker_only = Vec::new();
    let mut plain_loop = Vec::new();
    let mut sleeping_loop = Vec::new();
    // CPU time of the direct calls, of Sluice and of Sluice with polling off, over all runs.
    let mut direct_cpu = CpuTime::default();
    let mut sluice_cpu = CpuTime::default();
    let mut sleeping_cpu = CpuTime::default();
    let mut privacy_us = Vec::new();
    let mut baseline = Vec::new();
    let mut paired = Vec::new();
    for rep in 0..OVERHEAD_REPS {
        // Rotate the order of the variants from one repetition to the next.
        for step in 0..6 {
            match (rep + step) % 6 {
                0 => {
                    let before = CpuTime::now();
                    direct.push(ms(setup.direct_calls(calls).await?));
                    direct_cpu.add_since(before);
                }
                5 => {
                    let before = CpuTime::now();
                    let (_, run) = execute(&setup.sleeping_gateway, &script).await?;
                    sleeping_cpu.add_since(before);
                    sleeping_loop.push(result_ms(&run)?);
                }
                4 => {
                    if let Some(plain) = &setup.plain_gateway {
                        let (_, run) = execute(plain, &script).await?;
                        plain_loop.push(result_ms(&run)?);
                    }
                }
                3 => {
                    // Blocking, on the main thread; the runtime's workers are idle meanwhile.
                    let run = bare_worker(Some(&script))?;
                    if run.tool_calls != calls as u64 {
                        return Err(format!("the bare worker made {} calls", run.tool_calls).into());
                    }
                    worker_only.push(
                        run.result
                            .as_f64()
                            .ok_or("the bare script returned no number")?,
                    );
                }
                1 => {
                    let before = CpuTime::now();
                    let (wall, run) = execute(&setup.gateway, &script).await?;
                    sluice_cpu.add_since(before);
                    sluice_wall.push(ms(wall));
                    sluice_loop.push(result_ms(&run)?);
                    if let Some(micros) = pii_us(&run) {
                        privacy_us.push(micros / n);
                    }
                }
                _ => {
                    let (_, run) = execute(&setup.protocol_gateway, &protocol_code).await?;
                    protocol_loop.push(result_ms(&run)?);
                }
            }
        }
        let mut rep_baseline = Vec::new();
        for _ in 0..OVERHEAD_BASELINE_RUNS {
            rep_baseline.push(ms(execute(&setup.gateway, EMPTY_SCRIPT).await?.0));
        }
        baseline.extend_from_slice(&rep_baseline);
        // This repetition's own figure, so noise that hits a whole repetition cancels out.
        if let (Some(wall), Some(direct)) = (sluice_wall.last(), direct.last()) {
            paired.push((wall - Stats::of(&rep_baseline).p50 - direct) * 1e3 / n);
        }
    }
    let paired_stats = Stats::of(&paired);
    let direct_stats = Stats::of(&direct);
    let wall_stats = Stats::of(&sluice_wall);
    let loop_stats = Stats::of(&sluice_loop);
    let protocol_stats = Stats::of(&protocol_loop);
    let worker_stats = Stats::of(&worker_only);
    let worker_per_call = worker_stats.p50 * 1e3 / n;
    let baseline_stats = Stats::of(&baseline);
    // Per call, in µs: (sluice total - cold start - direct total) / N.
    let overhead_us = (wall_stats.p50 - baseline_stats.p50 - direct_stats.p50) * 1e3 / n;
    // The same from the script's own clock (no cold start in it; Date.now() has ms resolution).
    let overhead_loop_us = (loop_stats.p50 - direct_stats.p50) * 1e3 / n;
    let direct_per_call = direct_stats.p50 * 1e3 / n;
    let sluice_per_call = (wall_stats.p50 - baseline_stats.p50) * 1e3 / n;
    let protocol_per_call = protocol_stats.p50 * 1e3 / n;
    let script_per_call = loop_stats.p50 * 1e3 / n;
    let met = overhead_us <= OVERHEAD_TARGET_US;
    report.row(
        "overhead",
        format!("direct rmcp pool: {calls} echo calls ({OVERHEAD_REPS} reps)"),
        format!(
            "{} = {} us/call",
            direct_stats.show("ms"),
            num(direct_per_call)
        ),
    );
    report.row(
        "overhead",
        format!("Sluice: {calls} echo calls in one script, execute wall"),
        format!(
            "{} = {} us/call after cold start",
            wall_stats.show("ms"),
            num(sluice_per_call)
        ),
    );
    report.row(
        "overhead",
        "  cold start of the same gateway (1+1)",
        baseline_stats.show("ms"),
    );
    report.row(
        "overhead",
        "  the script's own loop time (Date.now())",
        format!(
            "{} = {} us/call",
            loop_stats.show("ms"),
            num(script_per_call)
        ),
    );
    report.check(
        "overhead",
        "overhead per call (wall - cold start - direct) / N",
        format!(
            "{} us (Sluice/direct per call {:.2}x)",
            num(overhead_us),
            sluice_per_call / direct_per_call
        ),
        format!("<= {OVERHEAD_TARGET_US} us"),
        met,
    );
    report.row(
        "overhead",
        "  same, median of each repetition's own",
        paired_stats.show("us"),
    );
    report.row(
        "overhead",
        "  same, from the script's clock",
        format!("{} us", num(overhead_loop_us)),
    );
    report.row(
        "overhead",
        "breakdown: no JS engine (a bench worker that sleeps on its input)",
        format!(
            "{} = {} us/call, {} us over direct",
            protocol_stats.show("ms"),
            num(protocol_per_call),
            num(protocol_per_call - direct_per_call)
        ),
    );
    let sleeping_stats = Stats::of(&sleeping_loop);
    report.row(
        "overhead",
        "breakdown: polling off (execution.spinMicros=0), script's clock",
        format!(
            "{} = {} us/call, {} us over direct",
            sleeping_stats.show("ms"),
            num(sleeping_stats.p50 * 1e3 / n),
            num((sleeping_stats.p50 - direct_stats.p50) * 1e3 / n)
        ),
    );
    // CPU per call, over all repetitions (the fake server's own CPU is in none of them).
    let all_calls = n * OVERHEAD_REPS as f64;
    let cpu_us = |cpu: CpuTime| cpu.total_ms() * 1e3 / all_calls;
    report.row(
        "overhead",
        "CPU per call: direct / Sluice / Sluice with polling off",
        format!(
            "{} / {} / {} us (Sluice: gateway {} + workers {})",
            num(cpu_us(direct_cpu)),
            num(cpu_us(sluice_cpu)),
            num(cpu_us(sleeping_cpu)),
            num(sluice_cpu.own_ms * 1e3 / all_calls),
            num(sluice_cpu.children_ms * 1e3 / all_calls)
        ),
    );
    let plain_stats = Stats::of(&plain_loop);
    let privacy_stats = Stats::of(&privacy_us);
    if !plain_loop.is_empty() {
        report.row(
            "overhead",
            "breakdown: script with privacy off (sluice.privacy.enabled=false)",
            format!(
                "{} = {} us/call, {} us/call less than on",
                plain_stats.show("ms"),
                num(plain_stats.p50 * 1e3 / n),
                num(script_per_call - plain_stats.p50 * 1e3 / n)
            ),
        );
    }
    if !privacy_us.is_empty() {
        report.row(
            "overhead",
            "breakdown: privacy scan time the gateway reports (stats.pii_us)",
            format!("{} us/call", num(privacy_stats.p50)),
        );
    }
    report.row(
        "overhead",
        "breakdown: `sluice worker` alone, calls answered by the bench",
        format!(
            "{} = {} us/call (script's clock)",
            worker_stats.show("ms"),
            num(worker_per_call)
        ),
    );
    report.section_json(
        "overhead",
        json!({
            "calls": calls,
            "reps": OVERHEAD_REPS,
            "target_us_per_call": OVERHEAD_TARGET_US,
            "met": met,
            "overhead_us_per_call": overhead_us,
            "overhead_us_per_call_script_clock": overhead_loop_us,
            "overhead_us_per_call_paired": paired_stats.to_json("us", &paired),
            "direct_us_per_call": direct_per_call,
            "sluice_us_per_call": sluice_per_call,
            "script_clock_us_per_call": script_per_call,
            "gateway_without_engine_us_per_call": protocol_per_call,
            "ratio_sluice_to_direct": sluice_per_call / direct_per_call,
            "direct_total_ms": direct_stats.to_json("ms", &direct),
            "sluice_total_ms": wall_stats.to_json("ms", &sluice_wall),
            "sluice_script_loop_ms": loop_stats.to_json("ms", &sluice_loop),
            "gateway_without_engine_loop_ms": protocol_stats.to_json("ms", &protocol_loop),
            "worker_alone_us_per_call": worker_per_call,
            "worker_alone_loop_ms": worker_stats.to_json("ms", &worker_only),
            "privacy_off_script_loop_ms": plain_stats.to_json("ms", &plain_loop),
            "polling_off_script_loop_ms": sleeping_stats.to_json("ms", &sleeping_loop),
            "polling_off_overhead_us_per_call": (sleeping_stats.p50 - direct_stats.p50) * 1e3 / n,
            "cpu_us_per_call": {
                "direct": cpu_us(direct_cpu),
                "sluice": cpu_us(sluice_cpu),
                "sluice_gateway": sluice_cpu.own_ms * 1e3 / all_calls,
                "sluice_workers": sluice_cpu.children_ms * 1e3 / all_calls,
                "polling_off": cpu_us(sleeping_cpu),
            },
            "privacy_scan_us_per_call": privacy_stats.to_json("us", &privacy_us),
            "cold_start_baseline_ms": baseline_stats.to_json("ms", &baseline),
        }),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 3. 10,000 sequential calls.

async fn sequential(report: &mut Report, setup: &FakeSetup) -> BenchResult<()> {
    let calls = SEQUENTIAL_CALLS;
    let n = calls as f64;
    let script = sequential_script(calls);
    let protocol_code = calls.to_string();
    let mut wall = Vec::new();
    let mut script_clock = Vec::new();
    let mut direct = Vec::new();
    let mut protocol_loop = Vec::new();
    let mut worker_only = Vec::new();
    let mut plain_loop = Vec::new();
    for _ in 0..SEQUENTIAL_RUNS {
        let (elapsed, run) = execute(&setup.gateway, &script).await?;
        if run.stats.tool_calls != calls as u64 {
            return Err(format!("the script made {} calls", run.stats.tool_calls).into());
        }
        wall.push(ms(elapsed));
        script_clock.push(result_ms(&run)?);
        // The same decomposition as the overhead section, at this length.
        direct.push(ms(setup.direct_calls(calls).await?));
        let (_, run) = execute(&setup.protocol_gateway, &protocol_code).await?;
        protocol_loop.push(result_ms(&run)?);
        if let Some(plain) = &setup.plain_gateway {
            let (_, run) = execute(plain, &script).await?;
            plain_loop.push(result_ms(&run)?);
        }
        let run = bare_worker(Some(&script))?;
        worker_only.push(
            run.result
                .as_f64()
                .ok_or("the bare script returned no number")?,
        );
    }
    let wall_stats = Stats::of(&wall);
    let script_stats = Stats::of(&script_clock);
    let direct_stats = Stats::of(&direct);
    let protocol_stats = Stats::of(&protocol_loop);
    let worker_stats = Stats::of(&worker_only);
    let plain_stats = Stats::of(&plain_loop);
    let per_call = |stats: Stats| num(stats.p50 * 1e3 / n);
    report.row(
        "sequential",
        format!("{calls} echo calls in one script, execute wall ({SEQUENTIAL_RUNS} runs)"),
        format!(
            "{} = {:.0} calls/s",
            wall_stats.show("ms"),
            n / (wall_stats.p50 / 1e3)
        ),
    );
    report.row(
        "sequential",
        "  the script's own loop time",
        format!(
            "{} = {:.0} calls/s, {} us/call",
            script_stats.show("ms"),
            n / (script_stats.p50 / 1e3),
            per_call(script_stats)
        ),
    );
    report.row(
        "sequential",
        "  direct rmcp pool, same calls",
        format!(
            "{} = {} us/call",
            direct_stats.show("ms"),
            per_call(direct_stats)
        ),
    );
    report.row(
        "sequential",
        "  no JS engine (a bench worker that sleeps on its input)",
        format!(
            "{} = {} us/call",
            protocol_stats.show("ms"),
            per_call(protocol_stats)
        ),
    );
    if !plain_loop.is_empty() {
        report.row(
            "sequential",
            "  script with privacy off",
            format!(
                "{} = {} us/call",
                plain_stats.show("ms"),
                per_call(plain_stats)
            ),
        );
    }
    report.row(
        "sequential",
        "  `sluice worker` alone, calls answered by the bench",
        format!(
            "{} = {} us/call",
            worker_stats.show("ms"),
            per_call(worker_stats)
        ),
    );
    report.section_json(
        "sequential",
        json!({
            "calls": calls,
            "execute_wall_ms": wall_stats.to_json("ms", &wall),
            "script_loop_ms": script_stats.to_json("ms", &script_clock),
            "calls_per_second_wall": n / (wall_stats.p50 / 1e3),
            "calls_per_second_script": n / (script_stats.p50 / 1e3),
            "direct_total_ms": direct_stats.to_json("ms", &direct),
            "gateway_without_engine_loop_ms": protocol_stats.to_json("ms", &protocol_loop),
            "worker_alone_loop_ms": worker_stats.to_json("ms", &worker_only),
            "privacy_off_script_loop_ms": plain_stats.to_json("ms", &plain_loop),
        }),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 4. Promise.all of 200 sleeps.

async fn parallel(report: &mut Report, setup: &FakeSetup) -> BenchResult<()> {
    let script = format!(
        r#"import * as fake from "./servers/fake";
const started = Date.now();
await Promise.all(Array.from({{ length: {PARALLEL_CALLS} }}, () => fake.sleep({{ ms: {PARALLEL_SLEEP_MS} }})));
export default Date.now() - started;
"#
    );
    execute(&setup.gateway, &script).await?;
    let mut wall = Vec::new();
    let mut script_clock = Vec::new();
    let mut baseline = Vec::new();
    for _ in 0..PARALLEL_RUNS {
        let (elapsed, run) = execute(&setup.gateway, &script).await?;
        if run.stats.tool_calls != PARALLEL_CALLS as u64 {
            return Err(format!("the script made {} calls", run.stats.tool_calls).into());
        }
        wall.push(ms(elapsed));
        script_clock.push(result_ms(&run)?);
        baseline.push(ms(execute(&setup.gateway, EMPTY_SCRIPT).await?.0));
    }
    let wall_stats = Stats::of(&wall);
    let script_stats = Stats::of(&script_clock);
    let baseline_stats = Stats::of(&baseline);
    report.check(
        "parallel",
        format!(
            "{PARALLEL_CALLS} x sleep({PARALLEL_SLEEP_MS} ms), script's own time ({PARALLEL_RUNS} runs)"
        ),
        script_stats.show("ms"),
        format!("p50 <= {PARALLEL_TARGET_MS} ms"),
        script_stats.p50 <= PARALLEL_TARGET_MS,
    );
    report.row("parallel", "  execute wall time", wall_stats.show("ms"));
    report.row(
        "parallel",
        "  execute wall - cold start (1+1)",
        format!(
            "{} ms (cold start {})",
            num(wall_stats.p50 - baseline_stats.p50),
            baseline_stats.show("ms")
        ),
    );
    report.row(
        "parallel",
        "  beyond the 50 ms sleep (script's time)",
        format!("{} ms", num(script_stats.p50 - PARALLEL_SLEEP_MS as f64)),
    );
    report.section_json(
        "parallel",
        json!({
            "calls": PARALLEL_CALLS,
            "sleep_ms": PARALLEL_SLEEP_MS,
            "max_concurrency_per_server": PARALLEL_CALLS,
            "target_ms": PARALLEL_TARGET_MS,
            "met": script_stats.p50 <= PARALLEL_TARGET_MS,
            "script_ms": script_stats.to_json("ms", &script_clock),
            "execute_wall_ms": wall_stats.to_json("ms", &wall),
            "cold_start_baseline_ms": baseline_stats.to_json("ms", &baseline),
        }),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 8. search_tools through sluice serve.

async fn search(report: &mut Report) -> BenchResult<()> {
    let folder = sluice_test_support::workspace_root().join("target/bench/search-serve");
    std::fs::create_dir_all(&folder)?;
    let mut entries = Map::new();
    for tools in combined_catalogs()? {
        let file = folder.join(format!("{}.json", tools.server));
        std::fs::write(&file, serde_json::to_vec(&tools.tools)?)?;
        let command = sluice_test_support::fake_server(&[])
            .arg("--tools-file")
            .arg(file.to_string_lossy().into_owned());
        entries.insert(tools.server.clone(), command.config_entry());
    }
    let config_path = folder.join("sluice.json");
    std::fs::write(
        &config_path,
        serde_json::to_vec(&json!({"mcpServers": entries}))?,
    )?;
    let data_dir = folder.join("data");
    // `sluice tools search` computes and caches every tool vector before it answers.
    let warm = std::process::Command::new(SLUICE_BIN)
        .args(["tools", "search", "--config"])
        .arg(&config_path)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("warm up")
        .output()?;
    if !warm.status.success() {
        return Err(format!(
            "sluice tools search failed: {}",
            String::from_utf8_lossy(&warm.stderr)
        )
        .into());
    }
    let sluice = json!({"mcpServers": {"sluice": {
        "command": SLUICE_BIN,
        "args": ["serve", "--config", config_path, "--data-dir", data_dir],
    }}});
    let pool = Pool::start(&parse_config(&sluice)?);
    pool.wait_connected(|_| {}).await;
    let queries =
        read_json(&sluice_test_support::workspace_root().join("data/search-eval/queries.json"))?;
    let texts: Vec<String> = queries
        .as_array()
        .ok_or("queries.json is not an array")?
        .iter()
        .filter_map(|query| query["query"].as_str().map(str::to_owned))
        .collect();
    let mut samples = Vec::new();
    // The first call also waits for every server behind Sluice to connect: not measured.
    let mut first = Map::new();
    first.insert("query".to_owned(), json!("warm up"));
    pool.call_tool("sluice", "search_tools", first, Duration::from_secs(60))
        .await
        .map_err(|error| format!("search_tools failed: {error}"))?;
    for _ in 0..SEARCH_ROUNDS {
        for text in &texts {
            let mut arguments = Map::new();
            arguments.insert("query".to_owned(), json!(text));
            let started = Instant::now();
            let outcome = pool
                .call_tool("sluice", "search_tools", arguments, Duration::from_secs(30))
                .await;
            samples.push(ms(started.elapsed()));
            if let Err(error) = outcome {
                pool.shutdown().await;
                return Err(format!("search_tools failed: {error}").into());
            }
        }
    }
    pool.shutdown().await;
    let stats = Stats::of(&samples);
    report.check(
        "search",
        format!(
            "search_tools round trip via sluice serve, 1,535 tools, {} labelled queries x {SEARCH_ROUNDS}",
            texts.len()
        ),
        stats.show("ms"),
        format!("p50 <= {SEARCH_TARGET_MS} ms"),
        stats.p50 <= SEARCH_TARGET_MS,
    );
    report.section_json(
        "search",
        json!({"round_trip_ms": stats.to_json("ms", &samples)}),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 5. Code generation.

fn catalogs_folder() -> PathBuf {
    sluice_test_support::workspace_root()
        .join("data")
        .join("catalogs")
}

fn read_json(path: &Path) -> BenchResult<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    Ok(serde_json::from_str(&text)
        .map_err(|error| format!("{} is not JSON: {error}", path.display()))?)
}

fn tools_of(value: &Value, path: &Path) -> BenchResult<Vec<Value>> {
    Ok(value["tools"]
        .as_array()
        .ok_or_else(|| format!("{} has no `tools` list", path.display()))?
        .clone())
}

/// Every per-server file (`_*` skipped), keyed by file stem.
fn per_server_catalogs() -> BenchResult<Vec<ServerTools>> {
    let folder = catalogs_folder();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .map_err(|error| format!("cannot read {}: {error}", folder.display()))?
        .filter_map(|entry| entry.ok().map(|entry| entry.path()))
        .filter(|path| path.extension().is_some_and(|e| e == "json"))
        .collect();
    paths.sort();
    let mut servers = Vec::new();
    for path in paths {
        let Some(stem) = path.file_stem().and_then(|s| s.to_str()) else {
            continue;
        };
        if stem.starts_with('_') {
            continue;
        }
        let tools = tools_of(&read_json(&path)?, &path)?;
        servers.push(ServerTools::from_values(stem, tools));
    }
    Ok(servers)
}

/// `_combined_excluding_twilio_all.json` (grouped by its `server` field) plus Twilio's full set.
fn combined_catalogs() -> BenchResult<Vec<ServerTools>> {
    let folder = catalogs_folder();
    let combined_path = folder.join("_combined_excluding_twilio_all.json");
    let mut by_server: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for mut tool in tools_of(&read_json(&combined_path)?, &combined_path)? {
        let server = tool
            .as_object_mut()
            .and_then(|object| object.remove("server"))
            .and_then(|server| server.as_str().map(str::to_owned))
            .ok_or("a combined catalog entry has no `server`")?;
        by_server.entry(server).or_default().push(tool);
    }
    let twilio_path = folder.join("twilio-all-services.json");
    let twilio = tools_of(&read_json(&twilio_path)?, &twilio_path)?;
    let mut servers: Vec<ServerTools> = by_server
        .into_iter()
        .map(|(server, tools)| ServerTools::from_values(server, tools))
        .collect();
    servers.push(ServerTools::from_values("twilio-all-services", twilio));
    Ok(servers)
}

struct CodegenRuns {
    definitions: usize,
    servers: usize,
    tools: usize,
    files: usize,
    catalog: Vec<f64>,
    tree: Vec<f64>,
    total: Vec<f64>,
}

impl CodegenRuns {
    fn new(servers: &[ServerTools]) -> Self {
        CodegenRuns {
            definitions: servers.iter().map(|s| s.tools.len()).sum(),
            servers: servers.len(),
            tools: 0,
            files: 0,
            catalog: Vec::new(),
            tree: Vec::new(),
            total: Vec::new(),
        }
    }

    fn run(&mut self, servers: &[ServerTools]) {
        // The catalog consumes its input; the copy is made outside the clock.
        let input = servers.to_vec();
        let started = Instant::now();
        let catalog = Catalog::build(input);
        let built = started.elapsed();
        let tree = sluice_codegen::generate_tree(&catalog);
        let total = started.elapsed();
        self.tools = catalog.len();
        self.files = tree.len();
        self.catalog.push(ms(built));
        self.tree.push(ms(total - built));
        self.total.push(ms(total));
        drop(tree);
        drop(catalog);
    }

    fn report(&self, report: &mut Report, label: &str) -> Value {
        let total = Stats::of(&self.total);
        let catalog = Stats::of(&self.catalog);
        let tree = Stats::of(&self.tree);
        report.row(
            "codegen",
            format!(
                "{label}: {} tools of {} servers -> {} files",
                self.tools, self.servers, self.files
            ),
            format!(
                "{} ({} us/tool)",
                total.show("ms"),
                num(total.p50 * 1e3 / self.tools.max(1) as f64)
            ),
        );
        report.row(
            "codegen",
            "  Catalog::build / generate_tree",
            format!("{} / {}", catalog.show("ms"), tree.show("ms")),
        );
        json!({
            "definitions": self.definitions,
            "servers": self.servers,
            "tools": self.tools,
            "files": self.files,
            "total_ms": total.to_json("ms", &self.total),
            "catalog_build_ms": catalog.to_json("ms", &self.catalog),
            "generate_tree_ms": tree.to_json("ms", &self.tree),
        })
    }
}

fn codegen(report: &mut Report) -> BenchResult<()> {
    let per_server = per_server_catalogs()?;
    let combined = combined_catalogs()?;
    let mut per_server_runs = CodegenRuns::new(&per_server);
    let mut combined_runs = CodegenRuns::new(&combined);
    // One warm-up each, then interleaved runs.
    per_server_runs.run(&per_server);
    combined_runs.run(&combined);
    per_server_runs = CodegenRuns::new(&per_server);
    combined_runs = CodegenRuns::new(&combined);
    for _ in 0..CODEGEN_RUNS {
        per_server_runs.run(&per_server);
        combined_runs.run(&combined);
    }
    let per_server_json = per_server_runs.report(report, "every per-server file");
    let combined_json = combined_runs.report(report, "combined + twilio-all-services");
    report.section_json(
        "codegen",
        json!({
            "runs": CODEGEN_RUNS,
            "per_server_files": per_server_json,
            "combined_plus_twilio": combined_json,
        }),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 6. Connect time of the five real servers.

fn run_git(repo: &Path, args: &[&str]) -> BenchResult<()> {
    let status = std::process::Command::new("git")
        .current_dir(repo)
        .args([
            "-c",
            "user.name=Sluice Bench",
            "-c",
            "user.email=bench@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("git {} failed ({status})", args.join(" ")).into());
    }
    Ok(())
}

async fn connect(report: &mut Report) -> BenchResult<()> {
    let deps = sluice_test_support::test_deps_dir();
    let needed = [
        deps.join("node/node_modules/.bin/mcp-server-everything"),
        deps.join("node/node_modules/.bin/mcp-server-filesystem"),
        deps.join("node/node_modules/.bin/mcp-server-memory"),
        deps.join("venv/bin/mcp-server-time"),
        deps.join("venv/bin/mcp-server-git"),
    ];
    if let Some(missing) = needed.iter().find(|path| !path.exists()) {
        let message = format!(
            "skipped: {} is missing; run `scripts/test --deps-only` to install the real servers",
            missing.display()
        );
        eprintln!("bench: connect {message}");
        report.row("connect", "five real servers", message.clone());
        report.section_json("connect", json!({"skipped": message}));
        return Ok(());
    }
    let temp = tempfile::tempdir()?;
    let files = temp.path().join("files");
    std::fs::create_dir_all(&files)?;
    std::fs::write(files.join("hello.txt"), "hello\n")?;
    let memory = temp.path().join("memory.jsonl");
    let repo = temp.path().join("repo");
    std::fs::create_dir_all(&repo)?;
    run_git(&repo, &["init", "-q"])?;
    std::fs::write(repo.join("README.md"), "bench\n")?;
    run_git(&repo, &["add", "README.md"])?;
    run_git(&repo, &["commit", "-q", "-m", "init"])?;

    let servers = [
        ("everything", sluice_test_support::everything_server()),
        (
            "filesystem",
            sluice_test_support::filesystem_server([&files]),
        ),
        ("memory", sluice_test_support::memory_server(&memory)),
        ("time", sluice_test_support::time_server()),
        ("git", sluice_test_support::git_server(&repo)),
    ];
    let entries: Map<String, Value> = servers
        .iter()
        .map(|(name, command)| ((*name).to_owned(), command.config_entry()))
        .collect();
    let config = parse_config(&json!({"mcpServers": entries}))?;

    let mut totals = Vec::new();
    let mut shutdowns = Vec::new();
    let mut per_server: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut tools: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for run in 0..CONNECT_RUNS {
        let started = Instant::now();
        let pool = Pool::start(&config);
        let mut arrivals: Vec<(String, f64, bool, usize, String)> = Vec::new();
        pool.wait_connected(|status| {
            arrivals.push((
                status.name.clone(),
                ms(started.elapsed()),
                matches!(status.state, ServerState::Ready { .. }),
                status.tools,
                status.state.describe(),
            ));
        })
        .await;
        let total = ms(started.elapsed());
        let shutdown_started = Instant::now();
        pool.shutdown().await;
        shutdowns.push(ms(shutdown_started.elapsed()));
        totals.push(total);
        let order: Vec<String> = arrivals
            .iter()
            .map(|(name, at, _, _, _)| format!("{name} {at:.0}"))
            .collect();
        eprintln!(
            "bench: connect run {}: {total:.0} ms ({})",
            run + 1,
            order.join(", ")
        );
        for (name, at, ready, count, state) in arrivals {
            if ready {
                per_server.entry(name.clone()).or_default().push(at);
                tools.insert(name, count);
            } else {
                failures.push(format!("run {}: {name}: {state}", run + 1));
            }
        }
    }
    let total_stats = Stats::of(&totals);
    let shutdown_stats = Stats::of(&shutdowns);
    report.row(
        "connect",
        format!("five servers concurrently, start to all settled ({CONNECT_RUNS} runs)"),
        format!(
            "{} (first run {} ms)",
            total_stats.show("ms"),
            totals.first().map_or("n/a".to_owned(), |t| num(*t))
        ),
    );
    let mut per_server_json = Map::new();
    for (name, _) in &servers {
        let samples = per_server.get(*name).cloned().unwrap_or_default();
        let stats = Stats::of(&samples);
        let count = tools.get(*name).copied().unwrap_or(0);
        report.row(
            "connect",
            format!("  {name} ready ({count} tools)"),
            stats.show("ms"),
        );
        per_server_json.insert(
            (*name).to_owned(),
            json!({"tools": count, "ready_ms": stats.to_json("ms", &samples)}),
        );
    }
    report.row("connect", "  Pool::shutdown", shutdown_stats.show("ms"));
    for failure in &failures {
        report.row("connect", "  did not connect", failure.clone());
    }
    report.section_json(
        "connect",
        json!({
            "runs": CONNECT_RUNS,
            "all_settled_ms": total_stats.to_json("ms", &totals),
            "shutdown_ms": shutdown_stats.to_json("ms", &shutdowns),
            "servers": per_server_json,
            "failures": failures,
        }),
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// 7. Starting context.

fn context(report: &mut Report) -> BenchResult<()> {
    let started = Instant::now();
    let (text, tokens) = sluice_server::starting_context(sluice_server::Capabilities::ALL);
    let first = started.elapsed();
    let (_, tokens_without_execute) =
        sluice_server::starting_context(sluice_server::Capabilities {
            execute: false,
            skills: false,
        });
    report.check(
        "context",
        "starting context (instructions + tools/list), o200k",
        format!("{tokens} tokens, {} bytes", text.len()),
        format!("< {CONTEXT_TARGET_TOKENS} tokens"),
        tokens < CONTEXT_TARGET_TOKENS,
    );
    report.row(
        "context",
        "  without execute_code",
        format!("{tokens_without_execute} tokens"),
    );
    report.row(
        "context",
        "  first count (builds the tokenizer)",
        format!("{} ms", num(ms(first))),
    );
    report.section_json(
        "context",
        json!({
            "tokens": tokens,
            "bytes": text.len(),
            "tokens_without_execute": tokens_without_execute,
            "target_tokens_below": CONTEXT_TARGET_TOKENS,
            "met": tokens < CONTEXT_TARGET_TOKENS,
            "first_count_ms": ms(first),
        }),
    );
    Ok(())
}
