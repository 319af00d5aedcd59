//! `sluice worker`: the untrusted half. Confines itself first thing (see `sluice-sandbox`), then
//! speaks frames on stdin/stdout with the gateway that started it; never reads config, never
//! opens anything but its workspace.
//!
//! Exit status: 0 when the input closed cleanly, 1 when the worker failed, and
//! [`SANDBOX_REFUSED_EXIT_CODE`] (3) when the sandbox could not be set up: then nothing ran, and the one
//! stderr line starting with `sandbox:` says which layer failed and why (the gateway shows it).

use std::io::Write;
use std::os::fd::AsFd;
use std::process::ExitCode;

use sluice_worker::{Policy, WorkerOptions};
use sluice_worker_protocol::SANDBOX_REFUSED_EXIT_CODE;

use crate::cli::WorkerArgs;

const MIB: u64 = 1024 * 1024;

pub fn run(args: WorkerArgs) -> ExitCode {
    // First, while the process has one thread and has read nothing: no logging, no runtime yet.
    let confinement = if args.no_sandbox {
        None
    } else {
        let policy = Policy {
            workspace: args.workspace.clone(),
            memory_bytes: args.memory_mb.saturating_mul(MIB),
            cpu_seconds: args.cpu_seconds,
            file_size_bytes: args.file_size_mb.saturating_mul(MIB),
            open_files: args.open_files,
            expected_parent: args.parent_pid,
        };
        match sluice_worker::confine(&policy) {
            Ok(confinement) => Some(confinement),
            Err(error) => {
                // One line, whatever the log filter: the gateway looks for it.
                let _ = writeln!(std::io::stderr(), "sandbox: {error}");
                return ExitCode::from(SANDBOX_REFUSED_EXIT_CODE);
            }
        }
    };
    // Worker logs go to stderr, which the gateway reads and re-logs at debug level.
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    // Plain text: the gateway re-logs each line, and a pipe is no terminal.
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .with_ansi(false)
        .try_init();
    match &confinement {
        Some(confinement) => tracing::debug!("{confinement}"),
        // Straight to stderr, whatever the log filter.
        None => {
            let _ = writeln!(
                std::io::stderr(),
                "sluice worker: WARNING: --no-sandbox: agent code runs WITHOUT OS confinement, \
                 with this user's access to files and network"
            );
        }
    }
    let options = WorkerOptions {
        workspace: args.workspace,
        result_spin: std::time::Duration::from_micros(args.spin_us),
    };
    // The frames go to a plain `File` on stdout's descriptor: `std::io::stdout()` buffers by
    // line and would split every frame that holds a `\n` byte (in its length prefix, say) into
    // two writes, and so two wake-ups of the gateway.
    let output = match std::io::stdout().as_fd().try_clone_to_owned() {
        Ok(descriptor) => std::fs::File::from(descriptor),
        Err(error) => {
            tracing::error!("worker failed: could not take stdout: {error}");
            return ExitCode::FAILURE;
        }
    };
    match sluice_worker::run(&options, std::io::stdin(), output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("worker failed: {error}");
            ExitCode::FAILURE
        }
    }
}
