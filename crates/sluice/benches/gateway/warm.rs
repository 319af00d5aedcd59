//! Section 9, warm workers through `sluice serve`: a trivial `execute_code` round trip with the
//! default `sluice.workers` (a warm pool, the connection's workers reused with a new runtime each
//! time) beside the same with every worker started on demand, interleaved; then throughput:
//! trivial scripts with one tool call each, over four connections (four `sluice serve`
//! processes, each a gateway with its own workers) with four executions in flight on each.

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sluice_downstream::Pool;

use crate::report::{BenchResult, Report, Stats, ms};
use crate::setup::{fake_server_release, parse_config};
use crate::worker::SLUICE_BIN;

/// Interleaved round trips per variant.
pub(crate) const ROUND_TRIPS: usize = 300;
/// Target: the median round trip with a warm or reused worker, in ms.
pub(crate) const WARM_TARGET_MS: f64 = 0.5;
/// Connections of the throughput run.
pub(crate) const CONNECTIONS: usize = 4;
/// Executions in flight on each connection (`sluice.limits.concurrentExecutions`' default).
pub(crate) const IN_FLIGHT: usize = 4;
/// Executions each connection runs (a multiple of [`IN_FLIGHT`]).
pub(crate) const PER_CONNECTION: usize = 500;
const _: () = assert!(PER_CONNECTION.is_multiple_of(IN_FLIGHT));
/// Target: executions per second over all connections.
pub(crate) const THROUGHPUT_TARGET: f64 = 1_000.0;

const TRIVIAL: &str = "export default 1;";
const ONE_CALL: &str =
    "import * as f from './servers/fake';\nawait f.echo({ message: 'x' });\nexport default 1;";

pub(crate) async fn warm(report: &mut Report) -> BenchResult<()> {
    let folder = sluice_test_support::workspace_root().join("target/bench/warm-serve");
    std::fs::create_dir_all(&folder)?;
    let fake = fake_server_release()?;
    let servers = json!({"fake": {"command": fake, "args": []}});
    let write = |name: &str, sluice: Value| -> BenchResult<std::path::PathBuf> {
        let path = folder.join(name);
        std::fs::write(
            &path,
            serde_json::to_vec(&json!({"mcpServers": servers, "sluice": sluice}))?,
        )?;
        Ok(path)
    };
    let warm_config = write("warm.json", json!({}))?;
    let cold_config = write(
        "cold.json",
        json!({"workers": {"warm": 0, "reusePerClient": 0}}),
    )?;
    let serve = |config: &std::path::Path, data: &str| {
        json!({"command": SLUICE_BIN, "args": [
            "serve", "--config", config, "--data-dir", folder.join(data), "--model", "none"
        ]})
    };
    let mut entries = Map::new();
    entries.insert("warm".to_owned(), serve(&warm_config, "data-warm"));
    entries.insert("cold".to_owned(), serve(&cold_config, "data-cold"));
    for connection in 0..CONNECTIONS {
        entries.insert(
            format!("t{connection}"),
            serve(&warm_config, &format!("data-t{connection}")),
        );
    }
    let pool = Arc::new(Pool::start(&parse_config(
        &json!({"mcpServers": entries, "sluice": {"callTimeoutMs": 120_000}}),
    )?));
    pool.wait_connected(|_| {}).await;
    let outcome = measure(report, &pool).await;
    pool.shutdown().await;
    outcome
}

async fn measure(report: &mut Report, pool: &Arc<Pool>) -> BenchResult<()> {
    // Warm up: every connection's first execution, and the pools' first workers.
    for server in ["warm", "cold"] {
        for _ in 0..5 {
            execute(pool, server, TRIVIAL).await?;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    let mut warm = Vec::with_capacity(ROUND_TRIPS);
    let mut cold = Vec::with_capacity(ROUND_TRIPS);
    for run in 0..ROUND_TRIPS {
        let order = if run % 2 == 0 {
            ["warm", "cold"]
        } else {
            ["cold", "warm"]
        };
        for server in order {
            let started = Instant::now();
            execute(pool, server, TRIVIAL).await?;
            let took = ms(started.elapsed());
            if server == "warm" {
                &mut warm
            } else {
                &mut cold
            }
            .push(took);
        }
    }
    let warm_stats = Stats::of(&warm);
    let cold_stats = Stats::of(&cold);
    report.check(
        "warm",
        "trivial execute_code via sluice serve, warm or reused worker (default sluice.workers)",
        warm_stats.show("ms"),
        format!("p50 <= {WARM_TARGET_MS} ms"),
        warm_stats.p50 <= WARM_TARGET_MS,
    );
    report.row(
        "warm",
        "the same, every worker started on demand (workers.warm 0, reusePerClient 0)",
        format!(
            "{} ({:.1}x the warm median)",
            cold_stats.show("ms"),
            cold_stats.p50 / warm_stats.p50
        ),
    );

    // Throughput: every connection's first executions start its workers; not measured.
    for connection in 0..CONNECTIONS {
        for _ in 0..IN_FLIGHT {
            execute(pool, &format!("t{connection}"), ONE_CALL).await?;
        }
    }
    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..CONNECTIONS {
        for _ in 0..IN_FLIGHT {
            let pool = pool.clone();
            let server = format!("t{connection}");
            let runs = PER_CONNECTION / IN_FLIGHT;
            tasks.spawn(async move {
                for _ in 0..runs {
                    execute(&pool, &server, ONE_CALL).await?;
                }
                Ok::<(), String>(())
            });
        }
    }
    while let Some(done) = tasks.join_next().await {
        done??;
    }
    let elapsed = started.elapsed().as_secs_f64();
    let total = CONNECTIONS * PER_CONNECTION;
    let per_second = total as f64 / elapsed;
    report.check(
        "warm",
        format!(
            "executions per second, one tool call each, {CONNECTIONS} connections x {IN_FLIGHT} in flight, {total} in all"
        ),
        format!("{per_second:.0}/s ({elapsed:.2} s)"),
        format!(">= {THROUGHPUT_TARGET:.0}/s"),
        per_second >= THROUGHPUT_TARGET,
    );
    report.section_json(
        "warm",
        json!({
            "warm_round_trip_ms": warm_stats.to_json("ms", &warm),
            "cold_round_trip_ms": cold_stats.to_json("ms", &cold),
            "throughput_per_second": per_second,
            "throughput_executions": total,
        }),
    );
    Ok(())
}

/// One `execute_code` on `server`; an error unless it returned 1.
async fn execute(pool: &Pool, server: &str, code: &str) -> Result<(), String> {
    let mut arguments = Map::new();
    arguments.insert("code".to_owned(), json!(code));
    let response = pool
        .call_tool(server, "execute_code", arguments, Duration::from_secs(60))
        .await
        .map_err(|error| format!("execute_code on {server} failed: {error}"))?;
    let result = response
        .structured_content
        .as_ref()
        .and_then(|report| report.get("result"))
        .cloned()
        .unwrap_or(Value::Null);
    if response.is_error || result != json!(1) {
        return Err(format!(
            "execute_code on {server} did not return 1: {:?}",
            response.content
        ));
    }
    Ok(())
}
