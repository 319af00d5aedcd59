//! `sluice worker`: the untrusted half. Speaks frames on stdin/stdout with the gateway that
//! started it; never reads config, never opens anything else.

use std::process::ExitCode;

pub fn run() -> ExitCode {
    // Worker logs go to stderr, which the gateway reads and re-logs at debug level.
    let filter = std::env::var("RUST_LOG").unwrap_or_else(|_| "warn".to_owned());
    let _ = tracing_subscriber::fmt()
        .with_env_filter(tracing_subscriber::EnvFilter::new(filter))
        .with_writer(std::io::stderr)
        .try_init();
    match sluice_worker::run(
        &sluice_worker::WorkerOptions::default(),
        std::io::stdin(),
        std::io::stdout(),
    ) {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!("worker failed: {error}");
            ExitCode::FAILURE
        }
    }
}
