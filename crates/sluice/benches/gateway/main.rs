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
//!    and what keeping metrics (`serve --metrics`) and traces (`sluice.telemetry`, exported to a
//!    local OTLP receiver) add per call;
//! 3. `sequential`: 10,000 sequential calls in one script;
//! 4. `parallel`: `Promise.all` of 200 `sleep({ms: 50})` with 200 calls allowed in flight;
//! 5. `codegen`: catalog build and tree generation for the captured real-world catalogs;
//! 6. `connect`: the five real reference servers connecting concurrently (needs `scripts/test`);
//! 7. `context`: the starting context's o200k tokens;
//! 8. `search`: `search_tools` round trips through `sluice serve` (an MCP client over stdio) with
//!    the 1,535 recorded tools behind it, each server a `fake-mcp-server` process serving its
//!    recorded list, and the encoder's vectors cached (needs `scripts/fetch-model`);
//! 9. `warm`: a trivial `execute_code` round trip through `sluice serve` with warm and reused
//!    workers beside every worker started on demand, and executions per second over four
//!    connections (each execution one tool call);
//! 10. `scale`: 10,000 tools over 50 and over 200 fake servers, each set behind a `sluice serve`,
//!     beside one server: time to ready, idle memory, a trivial execution (interleaved), the CPU of
//!     one server's `list_changed`, and what a client lists;
//! 11. `soak`: 10,000 mixed executions (tool errors, time-outs, out-of-memory, workers killed
//!     from outside, sessions evicted) over 8 connections: memory growth, workers, zombies,
//!     descriptors, panics and audit records at the end;
//! 12. `load`: 200 Streamable HTTP clients at once against one `sluice serve --http`, each
//!     running 50 executions with one tool call, as 25 principals (API tokens) of 8 clients each
//!     with the default per-principal limits: errors, limit refusals, p50/p99 latency, executions
//!     per second and the gateway's RSS;
//! 13. `python`: Python beside TypeScript through `sluice serve` (issue 19): a cold execution in
//!     each language (a fresh confined worker each time) and the per-call time of N sequential
//!     `echo` calls from each, with Python's targets (within 1.5x of TypeScript's);
//! 14. `page`: the page of `sluice serve --metrics` / `sluice ui` listing 10,000 executions
//!     from an audit log (with 3 tool calls each), server side, against 300 ms.
//!
//! The machine this runs on is small and noisy, so every figure is a median (with p90) of many
//! runs, and the runs of the things being compared are interleaved.
//!
//! Each section is a module of this folder, named by its key (`cold.rs` … `search.rs`, with
//! `catalogs.rs` reading the recorded catalogs that `codegen`, `search` and `scale` use). The harness is
//! `report.rs` (medians, percentiles, CPU time, the table and the JSON file); `setup.rs` starts
//! the gateways and the fake MCP server that sections 2-4 share, runs `execute_code` through a
//! `sluice serve`, and finds gateway and worker processes and their memory (sections 9-11);
//! `worker.rs` drives workers
//! without the gateway. This file picks the sections and runs them in order. Modules import only
//! downward (a section, then `setup.rs`, `worker.rs`, `report.rs`), never in a circle.

// A bench reports on stdout; that is its whole purpose.
#![allow(clippy::print_stdout)]

mod catalogs;
mod codegen;
mod cold;
mod connect;
mod context;
mod load;
mod overhead;
mod page;
mod parallel;
mod python;
mod report;
mod scale;
mod search;
mod sequential;
mod setup;
mod soak;
mod warm;
mod worker;

use std::time::{Duration, Instant, SystemTime};

use serde_json::json;

use codegen::codegen;
use cold::cold_start;
use connect::connect;
use context::context;
use load::load;
use overhead::overhead;
use page::page;
use parallel::parallel;
use python::python;
use report::{BenchResult, Report, load_average};
use scale::scale;
use search::search;
use sequential::sequential;
use setup::FakeSetup;
use soak::soak;
use warm::warm;
use worker::{FAKE_WORKER_ARG, protocol_worker};

/// The sections, in running order: key, the names a filter may match, title.
const SECTIONS: [(&str, &[&str], &str); 14] = [
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
    (
        "warm",
        &["warm", "throughput"],
        "9. Warm workers and throughput through sluice serve",
    ),
    (
        "scale",
        &["scale", "10k-tools"],
        "10. Ten thousand tools through sluice serve",
    ),
    ("soak", &["soak"], "11. A soak of 10,000 mixed executions"),
    (
        "load",
        &["load", "http-load"],
        "12. 200 HTTP clients x 50 executions through sluice serve --http",
    ),
    (
        "python",
        &["python", "language"],
        "13. Python beside TypeScript through sluice serve",
    ),
    (
        "page",
        &["page", "ui"],
        "14. The page over 10,000 executions of the audit log",
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
                "warm" => warm(&mut report).await,
                "scale" => scale(&mut report).await,
                "soak" => soak(&mut report).await,
                "load" => load(&mut report).await,
                "python" => python(&mut report).await,
                "page" => page(&mut report),
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
