//! 2. Per-call overhead.

use serde_json::json;

use crate::report::{BenchResult, CpuTime, Report, Stats, ms, num};
use crate::setup::{EMPTY_SCRIPT, FakeSetup, execute, pii_us, result_ms, sequential_script};
use crate::worker::bare_worker;

/// Sequential calls per run in the overhead section.
pub(crate) const OVERHEAD_CALLS: usize = 2_000;
/// Repetitions of the overhead comparison.
pub(crate) const OVERHEAD_REPS: usize = 9;
/// Empty executions per repetition, the cold-start baseline subtracted from the script's time.
pub(crate) const OVERHEAD_BASELINE_RUNS: usize = 4;
/// The target for Sluice's overhead per call, in µs.
pub(crate) const OVERHEAD_TARGET_US: f64 = 15.0;
/// The target for what keeping metrics adds per call, in µs.
pub(crate) const METRICS_TARGET_US: f64 = 5.0;
/// The target for what traces add per call, in µs.
pub(crate) const TRACES_TARGET_US: f64 = 5.0;

pub(crate) async fn overhead(report: &mut Report, setup: &FakeSetup) -> BenchResult<()> {
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
    execute(&setup.metrics_gateway, &sequential_script(200)).await?;
    execute(&setup.traces_gateway, &sequential_script(200)).await?;

    let mut direct = Vec::new();
    let mut sluice_wall = Vec::new();
    let mut sluice_loop = Vec::new();
    let mut protocol_loop = Vec::new();
    let mut worker_only = Vec::new();
    let mut plain_loop = Vec::new();
    let mut sleeping_loop = Vec::new();
    let mut metrics_wall = Vec::new();
    let mut metrics_loop = Vec::new();
    // Per repetition, per call: (with metrics - without), wall and script's clock.
    let mut metrics_extra = Vec::new();
    let mut metrics_extra_loop = Vec::new();
    let mut traces_wall = Vec::new();
    let mut traces_loop = Vec::new();
    let mut traces_extra = Vec::new();
    let mut traces_extra_loop = Vec::new();
    // CPU time of the direct calls, of Sluice and of Sluice with polling off, over all runs.
    let mut direct_cpu = CpuTime::default();
    let mut sluice_cpu = CpuTime::default();
    let mut sleeping_cpu = CpuTime::default();
    let mut privacy_us = Vec::new();
    let mut baseline = Vec::new();
    let mut paired = Vec::new();
    for rep in 0..OVERHEAD_REPS {
        // Rotate the order of the variants from one repetition to the next.
        for step in 0..8 {
            match (rep + step) % 8 {
                7 => {
                    let (wall, run) = execute(&setup.traces_gateway, &script).await?;
                    traces_wall.push(ms(wall));
                    traces_loop.push(result_ms(&run)?);
                }
                6 => {
                    let (wall, run) = execute(&setup.metrics_gateway, &script).await?;
                    metrics_wall.push(ms(wall));
                    metrics_loop.push(result_ms(&run)?);
                }
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
        if let (Some(with), Some(without)) = (metrics_wall.last(), sluice_wall.last()) {
            metrics_extra.push((with - without) * 1e3 / n);
        }
        if let (Some(with), Some(without)) = (metrics_loop.last(), sluice_loop.last()) {
            metrics_extra_loop.push((with - without) * 1e3 / n);
        }
        if let (Some(with), Some(without)) = (traces_wall.last(), sluice_wall.last()) {
            traces_extra.push((with - without) * 1e3 / n);
        }
        if let (Some(with), Some(without)) = (traces_loop.last(), sluice_loop.last()) {
            traces_extra_loop.push((with - without) * 1e3 / n);
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
    let metrics_stats = Stats::of(&metrics_extra);
    let metrics_loop_stats = Stats::of(&metrics_extra_loop);
    report.check(
        "overhead",
        "metrics on (serve --metrics): added per call, paired by repetition",
        format!(
            "{} (script's clock: {})",
            metrics_stats.show("us"),
            metrics_loop_stats.show("us")
        ),
        format!("< {METRICS_TARGET_US} us"),
        metrics_stats.p50 < METRICS_TARGET_US,
    );
    let traces_stats = Stats::of(&traces_extra);
    let traces_loop_stats = Stats::of(&traces_extra_loop);
    report.check(
        "overhead",
        "traces on (OTLP/HTTP to a local receiver): added per call, paired by repetition",
        format!(
            "{} (script's clock: {})",
            traces_stats.show("us"),
            traces_loop_stats.show("us")
        ),
        format!("< {TRACES_TARGET_US} us"),
        traces_stats.p50 < TRACES_TARGET_US,
    );
    report.row(
        "overhead",
        "breakdown: `sluice-worker` alone, calls answered by the bench",
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
            "metrics_added_us_per_call": metrics_stats.to_json("us", &metrics_extra),
            "metrics_added_us_per_call_script_clock":
                metrics_loop_stats.to_json("us", &metrics_extra_loop),
            "metrics_target_us_below": METRICS_TARGET_US,
            "traces_added_us_per_call": traces_stats.to_json("us", &traces_extra),
            "traces_added_us_per_call_script_clock":
                traces_loop_stats.to_json("us", &traces_extra_loop),
            "traces_target_us_below": TRACES_TARGET_US,
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
