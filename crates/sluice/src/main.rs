//! The `sluice` binary: CLI parsing, logging set-up, and dispatch to one command per subcommand.

mod cli;
mod commands;
mod progress;

use std::process::ExitCode;

use clap::Parser;

/// The system allocator with a count of live heap bytes: the worker arms its ceiling while a
/// Python execution runs, so Monty raises `MemoryError` at the execution's memory limit (and the
/// worker exits with status 65 just past it). Elsewhere it only counts.
#[global_allocator]
static ALLOCATOR: monty_alloc::LimitedAllocator = monty_alloc::LimitedAllocator;

fn main() -> ExitCode {
    let cli = cli::Cli::parse();
    if let cli::Command::Worker(args) = cli.command {
        // The worker sets up nothing else: no runtime, no config; it confines itself while still
        // single-threaded, then only speaks frames.
        return sluice_worker::main(args);
    }
    // Before the runtime's threads start: fewer arenas, less memory held apart in each.
    sluice_sandbox::limit_heap_arenas(heap_arenas());
    init_logging();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(runtime) => runtime,
        Err(error) => {
            eprintln!("error: could not start the async runtime: {error}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(commands::dispatch(cli.command));
    // A blocking read of stdin (the MCP transport) may still be parked on a runtime thread; it
    // would keep a plain drop of the runtime waiting for input that never comes.
    runtime.shutdown_timeout(std::time::Duration::from_millis(200));
    match outcome {
        Ok(code) => code,
        Err(error) => {
            eprintln!("error: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Logs go to stderr (stdout belongs to MCP in `serve` and to data elsewhere). `SLUICE_LOG` or
/// `RUST_LOG` sets the filter; the default shows warnings, except the ones rmcp's transport
/// worker logs when a connection ends (with its Rust types: a server that needs a login is one),
/// which Sluice reports itself, in words. Colours only on a terminal (MCP
/// clients keep a server's stderr in log files) and never with `NO_COLOR` set.
fn init_logging() {
    use std::io::IsTerminal as _;
    let filter = std::env::var("SLUICE_LOG")
        .or_else(|_| std::env::var("RUST_LOG"))
        .unwrap_or_else(|_| "warn,rmcp::transport::worker=off".to_owned());
    let colour = std::io::stderr().is_terminal() && std::env::var_os("NO_COLOR").is_none();
    tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_ansi(colour)
        .with_writer(std::io::stderr)
        .with_target(false)
        .init();
}

/// Malloc arenas for the gateway's threads: one per two cores (one on this project's 2-core
/// reference machine), so a busy many-core gateway still has arenas to spread over.
fn heap_arenas() -> usize {
    std::thread::available_parallelism().map_or(1, |cores| cores.get() / 2)
}
