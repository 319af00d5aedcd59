//! `sluice exec`: run one script against the configured servers.

use std::io::{Read, Write};
use std::process::ExitCode;

use anyhow::{Context, Result};
use sluice_gateway::{ExecuteRequest, Language};

use crate::cli::{ElicitationArg, ExecArgs, LanguageArg};
use crate::commands::{load_config, printable, start_and_connect};

pub async fn run(args: ExecArgs) -> Result<ExitCode> {
    let code = if args.file.as_os_str() == "-" {
        let mut code = String::new();
        std::io::stdin()
            .read_to_string(&mut code)
            .context("cannot read the script from stdin")?;
        code
    } else {
        std::fs::read_to_string(&args.file)
            .with_context(|| format!("cannot read script {}", args.file.display()))?
    };
    let language = match args.language {
        Some(LanguageArg::Typescript) => Language::Typescript,
        Some(LanguageArg::Javascript) => Language::Javascript,
        Some(LanguageArg::Python) => Language::Python,
        None => match args
            .file
            .extension()
            .and_then(|extension| extension.to_str())
        {
            Some("js" | "mjs") => Language::Javascript,
            Some("py") => Language::Python,
            _ => Language::Typescript,
        },
    };
    let mut config = load_config(&args.global)?;
    // One execution: a worker started ahead would only compete with it.
    config.settings.workers.warm = 0;
    let gateway = start_and_connect(config, &args.global).await?;
    // On a terminal, a line with the time so far, the tool calls and what the script reports.
    let progress = crate::progress::Progress::start(format!("running {}", args.file.display()));
    let (updates, mut received) = tokio::sync::mpsc::unbounded_channel();
    let shown = progress.clone();
    let name = args.file.display().to_string();
    let follow = tokio::spawn(async move {
        while let Some(update) = received.recv().await {
            shown.set(progress_line(&name, &update));
        }
    });
    let report = gateway
        .execute(ExecuteRequest {
            code,
            language,
            timeout_ms: args.timeout_ms,
            session: None,
            cancel: None,
            progress: Some(updates),
            elicitor: match args.elicitation {
                ElicitationArg::Decline => None,
                ElicitationArg::Defaults => {
                    Some(std::sync::Arc::new(sluice_gateway::AcceptDefaults))
                }
            },
            trace: None,
        })
        .await;
    follow.abort();
    progress.finish();
    gateway.shutdown().await;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", report.to_text())?;
    }
    Ok(if report.error.is_some() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}

/// The progress line of a running script: its calls so far and what it last reported.
fn progress_line(name: &str, update: &sluice_gateway::ExecutionProgress) -> String {
    let mut line = format!(
        "running {name}: {} tool call{}",
        update.tool_calls,
        if update.tool_calls == 1 { "" } else { "s" }
    );
    if let Some(reported) = &update.reported {
        line.push_str(": ");
        line.push_str(&printable(&reported.message, false));
        if let Some(fraction) = reported.fraction {
            line.push_str(&format!(" ({:.0}%)", fraction * 100.0));
        }
    }
    line
}
