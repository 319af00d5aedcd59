//! `sluice-worker`: the process the gateway starts for agent code (see `sluice_worker::main`).
//!
//! A binary of its own rather than only the `sluice worker` subcommand: it links the engines,
//! the sandbox and the frame protocol, and none of the gateway (servers, search, HTTP, TLS,
//! telemetry), so every worker process maps, relocates and keeps far less.

use std::process::ExitCode;

use clap::Parser;

/// The same allocator as the `sluice` binary: the worker arms its ceiling while a Python
/// execution runs, so Monty raises `MemoryError` at the execution's memory limit.
#[global_allocator]
static ALLOCATOR: monty_alloc::LimitedAllocator = monty_alloc::LimitedAllocator;

/// Internal: a Sluice worker, started by the gateway; speaks frames on stdin and stdout.
#[derive(Debug, Parser)]
#[command(name = "sluice-worker", version, hide = true)]
struct Cli {
    #[command(flatten)]
    args: sluice_worker::WorkerArgs,
}

fn main() -> ExitCode {
    sluice_worker::main(Cli::parse().args)
}
