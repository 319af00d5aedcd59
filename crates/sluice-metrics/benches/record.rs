//! The cost of recording: `cargo bench -p sluice-metrics --bench record`.
//!
//! Prints the median (and p90) of nanoseconds per record over repeated runs of a million
//! records: a tool call (counter, histogram, server looked up by name), a refused tool call (a
//! denial too), an execution, and a tool call from two threads at once on the same series.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sluice_metrics::{CallOutcome, ExecutionOutcome, Gauges, Metrics};
use sluice_worker_protocol::{Language, ToolErrorKind};

const RECORDS: u32 = 1_000_000;
const RUNS: usize = 15;

fn servers() -> Vec<String> {
    (0..50).map(|index| format!("server-{index}")).collect()
}

fn measure(mut run: impl FnMut()) -> (f64, f64) {
    let mut per_record: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            run();
            started.elapsed().as_nanos() as f64 / f64::from(RECORDS)
        })
        .collect();
    per_record.sort_by(f64::total_cmp);
    (per_record[RUNS / 2], per_record[RUNS * 9 / 10])
}

fn main() {
    let names = servers();
    let metrics = Metrics::new(names.iter().map(String::as_str)).expect("metrics");
    let duration = Duration::from_micros(420);
    let denied = ToolErrorKind::Denied;
    let rows: Vec<(&str, (f64, f64))> = vec![
        (
            "tool call, ok (counter + histogram, server by name of 50)",
            measure(|| {
                for _ in 0..RECORDS {
                    metrics.tool_call(black_box("server-37"), CallOutcome::Ok, duration);
                }
            }),
        ),
        (
            "tool call, denied by the policy (+ denial counter)",
            measure(|| {
                for _ in 0..RECORDS {
                    metrics.tool_call(
                        black_box("server-3"),
                        CallOutcome::Failed(&denied),
                        duration,
                    );
                }
            }),
        ),
        (
            "execution, ok (counter, histogram, tokens)",
            measure(|| {
                for _ in 0..RECORDS {
                    metrics.execution(
                        Language::Typescript,
                        ExecutionOutcome::Ok,
                        duration,
                        &[],
                        black_box(40),
                        black_box(4000),
                    );
                }
            }),
        ),
        (
            "tool call, ok, two threads on the same series (per record)",
            measure(|| {
                std::thread::scope(|scope| {
                    for _ in 0..2 {
                        scope.spawn(|| {
                            for _ in 0..RECORDS / 2 {
                                metrics.tool_call(
                                    black_box("server-37"),
                                    CallOutcome::Ok,
                                    duration,
                                );
                            }
                        });
                    }
                });
            }),
        ),
    ];
    println!("sluice-metrics: nanoseconds per record, median (p90) of {RUNS} runs of {RECORDS}");
    for (name, (median, p90)) in rows {
        println!("  {name:<62} {median:>6.1} ns ({p90:.1})");
    }
    let started = Instant::now();
    let text = metrics.encode(&Gauges::default());
    println!(
        "  encoding /metrics: {} bytes in {:.1} us",
        text.len(),
        started.elapsed().as_secs_f64() * 1e6
    );
}
