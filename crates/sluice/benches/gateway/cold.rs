//! 1. Worker cold start.

use serde_json::json;
use sluice_gateway::Gateway;

use crate::report::{BenchResult, Report, Stats, ms, num};
use crate::setup::{
    EMPTY_SCRIPT, bench_settings, execute, parse_config, start_gateway, worker_command,
};
use crate::worker::bare_worker;

/// Runs of the cold-start section (each runs the three variants).
pub(crate) const COLD_RUNS: usize = 200;
/// The target for the median cold start through the gateway, in ms.
pub(crate) const COLD_TARGET_MS: f64 = 10.0;

pub(crate) async fn cold_start(report: &mut Report) -> BenchResult<()> {
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
pub(crate) async fn cold_execute(gateway: &Gateway) -> BenchResult<f64> {
    let (wall, report) = execute(gateway, EMPTY_SCRIPT).await?;
    if report.result != json!(2) {
        return Err(format!("1+1 returned {}", report.result).into());
    }
    Ok(ms(wall))
}

pub(crate) async fn cold_start_runs(
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
        "bare spawn of `sluice-worker` to Ready",
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
