//! 4. `Promise.all` of 200 sleeps.

use serde_json::json;

use crate::report::{BenchResult, Report, Stats, ms, num};
use crate::setup::{EMPTY_SCRIPT, FakeSetup, PARALLEL_CALLS, execute, result_ms};

/// The `Promise.all` section: how long each call sleeps, runs.
pub(crate) const PARALLEL_SLEEP_MS: u64 = 50;
pub(crate) const PARALLEL_RUNS: usize = 15;
/// The target for the median time of the whole `Promise.all`, as the script measures it, in ms.
pub(crate) const PARALLEL_TARGET_MS: f64 = 100.0;

pub(crate) async fn parallel(report: &mut Report, setup: &FakeSetup) -> BenchResult<()> {
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
