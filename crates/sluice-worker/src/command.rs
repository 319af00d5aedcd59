//! The worker's command line and `main`: shared by the `sluice-worker` binary, which the gateway
//! starts, and the hidden `sluice worker` subcommand, which does the same.
//!
//! Confines the process first thing (see `sluice-sandbox`), then speaks frames on stdin/stdout
//! with the gateway that started it; never reads config, never opens anything but its workspace.
//!
//! Exit status: 0 when the input closed cleanly, 1 when the worker failed, and
//! [`SANDBOX_REFUSED_EXIT_CODE`] (3) when the sandbox could not be set up: then nothing ran, and
//! the one stderr line starting with `sandbox:` says which layer failed and why (the gateway
//! shows it).

use std::io::Write;
use std::os::fd::AsFd;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;
use sluice_worker_protocol::{SANDBOX_REFUSED_EXIT_CODE, defaults};

use crate::{Policy, WorkerOptions};

const MIB: u64 = 1024 * 1024;

/// How the worker confines itself before it reads any code. Started by the gateway; exits with
/// status 3 when the sandbox cannot be set up.
#[derive(Debug, Args)]
pub struct WorkerArgs {
    /// Run WITHOUT OS confinement (no namespaces, rlimits, Landlock or seccomp): agent code gets
    /// this user's access to files and network. Only for machines where the sandbox cannot be set
    /// up.
    #[arg(long)]
    pub no_sandbox: bool,

    /// The only folder agent code may read and write (must exist); none: no file access at all.
    #[arg(long, value_name = "DIR")]
    pub workspace: Option<PathBuf>,

    /// The JavaScript heap limit in MiB; the address-space limit is this plus a fixed headroom.
    #[arg(long, value_name = "N", default_value_t = defaults::MEMORY_MB)]
    pub memory_mb: u64,

    /// CPU seconds for the whole life of the worker, after which the kernel kills it.
    #[arg(long, value_name = "N", default_value_t = defaults::CPU_SECONDS)]
    pub cpu_seconds: u64,

    /// Largest file the worker may write, in MiB.
    #[arg(long, value_name = "N", default_value_t = defaults::WORKSPACE_MB)]
    pub file_size_mb: u64,

    /// Most descriptors open at once, stdin, stdout and stderr included.
    #[arg(long, value_name = "N", default_value_t = defaults::OPEN_FILES)]
    pub open_files: u64,

    /// The gateway's pid: if the worker's parent is another process, the gateway already died
    /// and the worker stops at once.
    #[arg(long, value_name = "PID")]
    pub parent_pid: Option<u32>,

    /// How long to poll for a tool result before sleeping, while results come that fast, in
    /// microseconds; 0: never poll.
    #[arg(long, value_name = "N", default_value_t = defaults::SPIN_MICROS)]
    pub spin_us: u64,

    /// Print this build's fingerprint ([`crate::BUILD`]) and exit: `sluice` starts this binary
    /// only when it prints the fingerprint `sluice` was built with.
    #[arg(long, hide = true)]
    pub print_build: bool,
}

/// Confine, then serve the gateway on stdin and stdout until the input closes.
pub fn main(args: WorkerArgs) -> ExitCode {
    if args.print_build {
        return match writeln!(std::io::stdout(), "{}", crate::BUILD) {
            Ok(()) => ExitCode::SUCCESS,
            Err(_) => ExitCode::FAILURE,
        };
    }
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
        match crate::confine(&policy) {
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
    match crate::run(&options, std::io::stdin(), output) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("worker failed: {error}");
            ExitCode::FAILURE
        }
    }
}
