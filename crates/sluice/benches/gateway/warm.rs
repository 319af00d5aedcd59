//! Section 9, warm workers through `sluice serve`: a trivial `execute_code` round trip with the
//! default `sluice.workers` (a warm pool, the connection's workers reused with a new runtime each
//! time) beside the same with every worker started on demand, interleaved; then throughput:
//! trivial scripts with one tool call each, over four connections (four `sluice serve`
//! processes, each a gateway with its own workers) with four executions in flight on each; and,
//! once they are idle, the memory of those gateways and of their waiting workers (unique memory,
//! USS, as well as PSS and RSS, from `/proc/PID/smaps_rollup`).

use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sluice_downstream::Pool;

use crate::report::{BenchResult, Report, Stats, ms};
use crate::setup::{
    fake_server_release, gateways, memory_of, parse_config, processes, serve_execute, workers_of,
};
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
    let mut outcome = measure(report, &pool).await;
    if outcome.is_ok() {
        // Idle now: what the gateways and their waiting workers hold.
        tokio::time::sleep(Duration::from_secs(2)).await;
        outcome = memory(report, &warm_config);
    }
    pool.shutdown().await;
    outcome
}

/// The idle gateways of the throughput run (one server behind each) and their waiting
/// workers (warm, and kept for their connection): unique memory of each.
fn memory(report: &mut Report, config: &std::path::Path) -> BenchResult<()> {
    let all = processes();
    let gateways = gateways(&all, &config.display().to_string());
    let workers = workers_of(&all, &gateways);
    let gateway_memory: Vec<(f64, f64, f64)> =
        gateways.iter().filter_map(|pid| memory_of(*pid)).collect();
    let worker_memory: Vec<(f64, f64, f64)> =
        workers.iter().filter_map(|pid| memory_of(*pid)).collect();
    if gateway_memory.is_empty() || worker_memory.is_empty() {
        return Err("no idle gateway or worker process found to measure".into());
    }
    let column = |values: &[(f64, f64, f64)], pick: fn(&(f64, f64, f64)) -> f64| {
        Stats::of(&values.iter().map(pick).collect::<Vec<_>>())
    };
    let worker_uss = column(&worker_memory, |m| m.0);
    let worker_pss = column(&worker_memory, |m| m.1);
    let gateway_rss = column(&gateway_memory, |m| m.2);
    let gateway_uss = column(&gateway_memory, |m| m.0);
    report.check(
        "warm",
        format!(
            "idle worker's unique memory (USS), {} waiting workers",
            worker_memory.len()
        ),
        format!(
            "{:.2} MB (max {:.2}; PSS {:.2} MB)",
            worker_uss.p50, worker_uss.max, worker_pss.p50
        ),
        "<= 2 MB".to_owned(),
        worker_uss.max <= 2.0,
    );
    report.row(
        "warm",
        format!(
            "idle gateway with one server, {} processes",
            gateway_memory.len()
        ),
        format!(
            "RSS {:.1} MB, USS {:.1} MB",
            gateway_rss.p50, gateway_uss.p50
        ),
    );
    report.section_json(
        "warm_memory",
        json!({
            "worker_uss_mb": worker_memory.iter().map(|m| m.0).collect::<Vec<_>>(),
            "worker_pss_mb": worker_memory.iter().map(|m| m.1).collect::<Vec<_>>(),
            "gateway_rss_mb": gateway_memory.iter().map(|m| m.2).collect::<Vec<_>>(),
            "gateway_uss_mb": gateway_memory.iter().map(|m| m.0).collect::<Vec<_>>(),
        }),
    );
    Ok(())
}

async fn measure(report: &mut Report, pool: &Arc<Pool>) -> BenchResult<()> {
    // Warm up: every connection's first execution, and the pools' first workers.
    for server in ["warm", "cold"] {
        for _ in 0..5 {
            serve_execute(pool, server, TRIVIAL).await?;
        }
    }
    tokio::time::sleep(Duration::from_secs(1)).await;
    // Back to back, as one agent's executions come: the target's case (a warm worker is there).
    let mut alone = Vec::with_capacity(ROUND_TRIPS);
    for _ in 0..ROUND_TRIPS {
        let started = Instant::now();
        serve_execute(pool, "warm", TRIVIAL).await?;
        alone.push(ms(started.elapsed()));
    }
    // Interleaved with the on-demand gateway, for the ratio: each of its executions starts and
    // ends a process, work that spills into the next warm round trip on two cores.
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
            serve_execute(pool, server, TRIVIAL).await?;
            let took = ms(started.elapsed());
            if server == "warm" {
                &mut warm
            } else {
                &mut cold
            }
            .push(took);
        }
    }
    let alone_stats = Stats::of(&alone);
    let warm_stats = Stats::of(&warm);
    let cold_stats = Stats::of(&cold);
    report.check(
        "warm",
        format!(
            "trivial execute_code via sluice serve, warm or reused worker (default sluice.workers), {ROUND_TRIPS} back to back"
        ),
        alone_stats.show("ms"),
        format!("p50 <= {WARM_TARGET_MS} ms"),
        alone_stats.p50 <= WARM_TARGET_MS,
    );
    report.row(
        "warm",
        "the same, interleaved with the on-demand gateway below",
        warm_stats.show("ms"),
    );
    report.row(
        "warm",
        "the same, every worker started on demand (workers.warm 0, reusePerClient 0)",
        format!(
            "{} ({:.1}x the interleaved warm median)",
            cold_stats.show("ms"),
            cold_stats.p50 / warm_stats.p50
        ),
    );

    // Throughput: every connection's first executions start its workers; not measured.
    for connection in 0..CONNECTIONS {
        for _ in 0..IN_FLIGHT {
            serve_execute(pool, &format!("t{connection}"), ONE_CALL).await?;
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
                    serve_execute(&pool, &server, ONE_CALL).await?;
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
            "warm_back_to_back_ms": alone_stats.to_json("ms", &alone),
            "warm_round_trip_ms": warm_stats.to_json("ms", &warm),
            "cold_round_trip_ms": cold_stats.to_json("ms", &cold),
            "throughput_per_second": per_second,
            "throughput_executions": total,
        }),
    );
    Ok(())
}
