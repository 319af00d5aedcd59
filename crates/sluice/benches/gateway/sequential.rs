//! 3. 10,000 sequential calls in one script.

use serde_json::json;

use crate::report::{BenchResult, Report, Stats, ms, num};
use crate::setup::{FakeSetup, execute, result_ms, sequential_script};
use crate::worker::bare_worker;

/// Calls of the long sequential script.
pub(crate) const SEQUENTIAL_CALLS: usize = 10_000;
pub(crate) const SEQUENTIAL_RUNS: usize = 3;

pub(crate) async fn sequential(report: &mut Report, setup: &FakeSetup) -> BenchResult<()> {
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
        "  `sluice-worker` alone, calls answered by the bench",
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
