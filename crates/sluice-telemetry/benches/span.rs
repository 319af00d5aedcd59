//! The cost of tracing one tool call: `cargo bench -p sluice-telemetry --bench span`.
//!
//! What the gateway does per tool call, in process: with traces off, the `Option` it checks; with
//! them on, the call's child span (server and tool attributes), its `traceparent` for the
//! downstream request's `_meta`, the queue time and the outcome, the span ended into the batch
//! processor, which exports to a local OTLP/HTTP receiver that discards (the real exporter, over
//! loopback). Each run is 1,000 calls, timed; the spans are flushed between runs, untimed, so the
//! queue never overflows (an overflowing queue drops spans, which would look cheaper). Prints
//! the median and p90 of nanoseconds per call over the runs.

#![allow(clippy::print_stdout, clippy::unwrap_used, clippy::expect_used)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sluice_telemetry::{ExecutionSpan, ExecutionStart, Telemetry, TraceConfig, TraceContext};
use sluice_test_support::OtlpReceiver;
use sluice_worker_protocol::{CallOutcome, Language};

const CALLS: u32 = 1_000;
const RUNS: usize = 201;

/// One tool call as `CallServer::start` and `route_tool_call` trace it.
#[inline(never)]
fn tool_call(trace: Option<&ExecutionSpan>) {
    let mut span =
        trace.map(|trace| trace.tool_call(black_box("github"), black_box("create_issue")));
    if let Some(span) = span.as_mut() {
        black_box(span.trace_context());
        span.queued(Duration::from_micros(12));
    }
    if let Some(span) = span {
        span.end(&CallOutcome::Ok);
    }
}

fn measure(telemetry: Option<&Telemetry>, trace: Option<&ExecutionSpan>) -> (f64, f64) {
    let mut per_call: Vec<f64> = (0..RUNS)
        .map(|_| {
            let started = Instant::now();
            for _ in 0..CALLS {
                tool_call(black_box(trace));
            }
            let elapsed = started.elapsed().as_nanos() as f64 / f64::from(CALLS);
            if let Some(telemetry) = telemetry {
                telemetry.flush();
            }
            elapsed
        })
        .collect();
    per_call.sort_by(f64::total_cmp);
    (per_call[RUNS / 2], per_call[RUNS * 9 / 10])
}

fn main() {
    let receiver = OtlpReceiver::discarding();
    let telemetry = Telemetry::start(&TraceConfig {
        endpoint: format!("{}/v1/traces", receiver.endpoint()),
        headers: Vec::new(),
        service_name: "sluice-bench".to_owned(),
        sample_ratio: 1.0,
    })
    .expect("telemetry");
    let start = ExecutionStart {
        client: "bench#1",
        session: None,
        execution_id: "exec-bench",
        language: Language::Typescript,
    };
    let sampled = telemetry.execution(None, start);
    let unsampled = telemetry.execution(
        Some(&TraceContext {
            traceparent: "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00".to_owned(),
            tracestate: None,
        }),
        start,
    );
    // Warm up: connections, allocations.
    measure(Some(&telemetry), Some(&sampled));
    let off = measure(None, None);
    let on = measure(Some(&telemetry), Some(&sampled));
    let unsampled_row = measure(Some(&telemetry), Some(&unsampled));
    let rows = [
        ("traces off (no tracer: the Option checked)", off),
        ("traces on, sampled, exported to a local receiver", on),
        ("traces on, the agent's trace not sampled", unsampled_row),
    ];
    println!("tool-call span, ns per call ({RUNS} runs of {CALLS} calls)");
    for (name, (median, p90)) in rows {
        println!("  {name:<52} median {median:>8.1}  p90 {p90:>8.1}");
    }
    println!(
        "  on minus off (median): {:.1} ns; exports received: {}",
        on.0 - off.0,
        receiver.count()
    );
    telemetry.shutdown(Duration::from_secs(2));
}
