//! `sluice ui`: the page of recent executions from the data folder's audit log, without a
//! gateway.

use std::process::ExitCode;

use anyhow::{Context, Result};

use crate::cli::UiArgs;
use crate::commands::data_dir;

pub async fn run(args: UiArgs) -> Result<ExitCode> {
    let data_dir = data_dir(&args.global)?;
    let server = sluice_web::WebServer::bind(args.listen, args.allow_remote, "--allow-remote")
        .await
        .context("sluice ui")?;
    eprintln!("sluice: page at http://{}/", server.address());
    let source = sluice_web::Source {
        gateway: None,
        data_dir: Some(data_dir),
    };
    server
        .run(source, async {
            let _ = tokio::signal::ctrl_c().await;
        })
        .await;
    Ok(ExitCode::SUCCESS)
}
