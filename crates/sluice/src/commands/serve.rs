//! `sluice serve`: the MCP server on stdio, or on Streamable HTTP with `--http`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use rmcp::ServiceExt;
use sluice_server::SluiceServer;
use sluice_server::streamable_http::{HttpOptions, HttpServer, TlsFiles};
use tokio::sync::watch;

use crate::cli::ServeArgs;
use crate::commands::{load_config, report_progress, start_gateway_with_metrics};

pub async fn run(args: ServeArgs) -> Result<ExitCode> {
    let config = load_config(&args.global)?;
    // Traces (`sluice.telemetry` or `OTEL_EXPORTER_OTLP_*`): off unless asked for.
    let telemetry = sluice_gateway::Telemetry::from_settings(&config.settings.telemetry, |name| {
        std::env::var(name).ok()
    })?;
    if let Some(telemetry) = &telemetry {
        eprintln!("sluice: traces to {}", telemetry.endpoint());
    }
    // Bind before starting anything: a refused or busy address is reported at once.
    let http = match args.http {
        Some(address) => Some(
            HttpServer::bind(HttpOptions {
                address,
                allow_remote: args.allow_remote,
                settings: config.settings.http.clone(),
                tls: match (args.tls_cert, args.tls_key) {
                    (Some(cert), Some(key)) => Some(TlsFiles { cert, key }),
                    _ => None,
                },
            })
            .await?,
        ),
        None => None,
    };
    let web = match args.metrics {
        Some(address) => Some(
            sluice_web::WebServer::bind(
                address,
                args.metrics_allow_remote,
                "--metrics-allow-remote",
            )
            .await
            .context("--metrics")?,
        ),
        None => None,
    };
    let gateway =
        start_gateway_with_metrics(config, &args.global, web.is_some(), telemetry.clone())?;
    if let Some(web) = web {
        eprintln!("sluice: metrics at http://{}/metrics", web.address());
        let source = sluice_web::Source {
            gateway: Some(gateway.clone()),
            data_dir: gateway.data_dir().map(std::path::Path::to_path_buf),
        };
        tokio::spawn(web.run(source, shutdown_signal()));
    }
    // Answer `initialize` at once (clients time out) while servers connect. Requests that need
    // the catalog wait for the first round to settle, but never longer than
    // `FIRST_ROUND_WAIT`: one slow or hanging server must not hold up the others. Past it, what
    // is ready is served and the rest show as still starting until they arrive.
    let (ready_sender, ready) = watch::channel(false);
    let connecting = gateway.clone();
    tokio::spawn(async move {
        let settled = connecting.wait_connected(report_progress(&connecting));
        tokio::pin!(settled);
        if tokio::time::timeout(FIRST_ROUND_WAIT, &mut settled)
            .await
            .is_err()
        {
            connecting.refresh().await;
            ready_sender.send_replace(true);
            settled.await;
        }
        ready_sender.send_replace(true);
    });
    if let Some(http) = http {
        eprintln!("sluice: serving MCP at {}", http.url());
        http.run(gateway.clone(), ready, shutdown_signal()).await;
        gateway.shutdown().await;
        flush_traces(telemetry).await;
        return Ok(ExitCode::SUCCESS);
    }
    // Lines rmcp would drop unanswered (not JSON, not a message) are answered by the filter.
    let stdio = sluice_server::stdio::checked_stdio();
    let writer = stdio.writer;
    let stdin_closed = stdio.closed;
    let service = match SluiceServer::new(gateway.clone(), ready)
        .serve((stdio.input, stdio.output))
        .await
    {
        Ok(service) => service,
        Err(error) => {
            // Stop the servers that were started for nothing before reporting.
            gateway.shutdown().await;
            flush_traces(telemetry).await;
            return Err(error)
                .context("the MCP client did not complete the handshake on stdin/stdout");
        }
    };
    let cancel = service.cancellation_token();
    let mut ended = std::pin::pin!(service.waiting());
    // Shutting down never waits on agent code: executions in flight are stopped first (their
    // workers killed), then the service ends; the client has its answer within about a second.
    tokio::select! {
        _ = &mut ended => {}
        () = stdin_closed.cancelled() => {
            gateway.stop_executions();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, ended).await;
        }
        () = shutdown_signal() => {
            gateway.stop_executions();
            cancel.cancel();
            let _ = tokio::time::timeout(SHUTDOWN_GRACE, ended).await;
        }
    }
    gateway.shutdown().await;
    flush_traces(telemetry).await;
    // The service is gone and its output closed: let the last answers reach stdout.
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), writer).await;
    Ok(ExitCode::SUCCESS)
}

/// How long requests that need the catalog wait for the servers' first round of connections:
/// long enough for servers started through `npx` or `uvx` (seen taking up to 4.3 s), short
/// enough that a hanging one does not hold up the rest for `connectTimeoutMs`.
const FIRST_ROUND_WAIT: std::time::Duration = std::time::Duration::from_secs(5);

/// How long the service may take to finish once work in flight is stopped.
const SHUTDOWN_GRACE: std::time::Duration = std::time::Duration::from_millis(500);

/// The most shutting down waits for pending spans to reach the collector.
const TRACE_FLUSH_WAIT: std::time::Duration = std::time::Duration::from_secs(2);

/// Export the spans still pending, waiting at most [`TRACE_FLUSH_WAIT`] (a collector that does
/// not answer never holds up the exit longer).
async fn flush_traces(telemetry: Option<std::sync::Arc<sluice_gateway::Telemetry>>) {
    if let Some(telemetry) = telemetry {
        let _ = tokio::task::spawn_blocking(move || telemetry.shutdown(TRACE_FLUSH_WAIT)).await;
    }
}

/// SIGINT or SIGTERM.
async fn shutdown_signal() {
    let terminate = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut signal) => {
                signal.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminate => {}
    }
}
