//! Section 13, Python beside TypeScript through `sluice serve` (issue 19): a cold execution (a
//! fresh confined worker for every execution: `sluice.workers.warm: 0`, `reusePerClient: 0`) of
//! a trivial script in each language, interleaved; then the per-call overhead of each, as the
//! wall time of an execution making N sequential `echo` calls on the fake MCP server minus that
//! of the same execution making none, over N.

use std::time::{Duration, Instant};

use serde_json::{Map, json};
use sluice_downstream::Pool;

use crate::report::{BenchResult, Report, Stats, ms, num};
use crate::setup::{fake_server_release, parse_config, returned_one};
use crate::worker::SLUICE_BIN;

/// Interleaved cold executions per language.
pub(crate) const COLD_RUNS: usize = 100;
/// Sequential calls of one overhead execution.
pub(crate) const CALLS: usize = 500;
/// Repetitions of the overhead comparison.
pub(crate) const REPS: usize = 7;
/// Target: Python within this factor of TypeScript (cold execution, per-call overhead).
pub(crate) const RATIO_TARGET: f64 = 1.5;

const SERVER: &str = "serve";

pub(crate) async fn python(report: &mut Report) -> BenchResult<()> {
    let folder = sluice_test_support::workspace_root().join("target/bench/python-serve");
    std::fs::create_dir_all(&folder)?;
    let fake = fake_server_release()?;
    let config = folder.join("cold.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({
            "mcpServers": {"fake": {"command": fake, "args": []}},
            "sluice": {"workers": {"warm": 0, "reusePerClient": 0}, "execution": {"toolCalls": 10_000}}
        }))?,
    )?;
    let mut entries = Map::new();
    entries.insert(
        SERVER.to_owned(),
        json!({"command": SLUICE_BIN, "args": [
            "serve", "--config", config, "--data-dir", folder.join("data"), "--model", "none"
        ]}),
    );
    let pool = Pool::start(&parse_config(
        &json!({"mcpServers": entries, "sluice": {"callTimeoutMs": 120_000}}),
    )?);
    pool.wait_connected(|_| {}).await;
    let outcome = measure(report, &pool).await;
    pool.shutdown().await;
    outcome
}

/// The two languages' scripts: trivial, and `calls` sequential echo calls.
fn script(python: bool, calls: usize) -> String {
    match (python, calls) {
        (false, 0) => "export default 1;".to_owned(),
        (true, 0) => "1".to_owned(),
        (false, calls) => format!(
            "import * as f from './servers/fake';\nfor (let i = 0; i < {calls}; i++) {{\n  await f.echo({{ message: 'x' }});\n}}\nexport default 1;"
        ),
        (true, calls) => format!(
            "from servers.fake import echo\nfor i in range({calls}):\n    await echo(message='x')\n1"
        ),
    }
}

/// One `execute_code` through `sluice serve`; its wall time in ms, an error unless it returned 1.
async fn run(pool: &Pool, python: bool, calls: usize) -> BenchResult<f64> {
    let mut arguments = Map::new();
    arguments.insert("code".to_owned(), json!(script(python, calls)));
    if python {
        arguments.insert("language".to_owned(), json!("python"));
    }
    let started = Instant::now();
    let response = pool
        .call_tool(
            SERVER,
            "execute_code",
            arguments,
            Duration::from_secs(120),
            None,
        )
        .await
        .map_err(|error| format!("execute_code failed: {error}"))?;
    let took = ms(started.elapsed());
    if !returned_one(&response) {
        return Err(format!("execute_code did not return 1: {:?}", response.content).into());
    }
    Ok(took)
}

async fn measure(report: &mut Report, pool: &Pool) -> BenchResult<()> {
    for _ in 0..5 {
        run(pool, false, 0).await?;
        run(pool, true, 0).await?;
        run(pool, false, 50).await?;
        run(pool, true, 50).await?;
    }
    let mut typescript = Vec::with_capacity(COLD_RUNS);
    let mut python = Vec::with_capacity(COLD_RUNS);
    for index in 0..COLD_RUNS {
        for step in 0..2 {
            if (index + step) % 2 == 0 {
                typescript.push(run(pool, false, 0).await?);
            } else {
                python.push(run(pool, true, 0).await?);
            }
        }
    }
    let typescript_cold = Stats::of(&typescript);
    let python_cold = Stats::of(&python);
    let cold_ratio = python_cold.p50 / typescript_cold.p50;
    report.row(
        "python",
        format!("cold TypeScript execute_code via sluice serve ({COLD_RUNS} runs)"),
        typescript_cold.show("ms"),
    );
    report.row(
        "python",
        format!("cold Python execute_code via sluice serve ({COLD_RUNS} runs)"),
        python_cold.show("ms"),
    );
    report.check(
        "python",
        "cold Python / cold TypeScript (p50)",
        format!("{cold_ratio:.2}x"),
        format!("<= {RATIO_TARGET}x"),
        cold_ratio <= RATIO_TARGET,
    );

    let mut per_call = [Vec::new(), Vec::new()];
    for rep in 0..REPS {
        for step in 0..2 {
            let python = (rep + step) % 2 == 1;
            let base = run(pool, python, 0).await?;
            let loaded = run(pool, python, CALLS).await?;
            per_call[usize::from(python)].push((loaded - base) * 1000.0 / CALLS as f64);
        }
    }
    let typescript_call = Stats::of(&per_call[0]);
    let python_call = Stats::of(&per_call[1]);
    let call_ratio = python_call.p50 / typescript_call.p50;
    report.row(
        "python",
        format!("per-call time, TypeScript ({CALLS} sequential echo calls, {REPS} reps)"),
        typescript_call.show("µs"),
    );
    report.row(
        "python",
        format!("per-call time, Python ({CALLS} sequential echo calls, {REPS} reps)"),
        python_call.show("µs"),
    );
    report.check(
        "python",
        "per-call Python / TypeScript (p50)",
        format!(
            "{call_ratio:.2}x (+{} µs)",
            num(python_call.p50 - typescript_call.p50)
        ),
        format!("<= {RATIO_TARGET}x"),
        call_ratio <= RATIO_TARGET,
    );
    report.section_json(
        "python",
        json!({
            "cold_typescript_ms": typescript,
            "cold_python_ms": python,
            "per_call_typescript_us": per_call[0],
            "per_call_python_us": per_call[1],
        }),
    );
    Ok(())
}
