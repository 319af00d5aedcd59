//! `sluice demo`: the five workflows both ways with a token ledger, and `sluice demo server`, the
//! demo MCP servers it starts (this same binary).

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sluice_demo::{DemoOptions, Launcher, ScriptLanguage, Workflow};
use sluice_demo_servers::DemoServerKind;

use crate::cli::{DemoArgs, DemoCommand, DemoLanguageArg, DemoServerArgs, WorkflowArg};

pub async fn run(args: DemoArgs) -> Result<ExitCode> {
    if let Some(DemoCommand::Server(server)) = args.command {
        return serve(server).await;
    }
    let program = std::env::current_exe()
        .context("cannot find the sluice binary, which the demo starts as its demo servers")?;
    let (worker, worker_args) = super::worker_program()
        .context("cannot find the sluice binary, which the demo starts as its workers")?;
    let mut launcher = Launcher::sluice(program);
    launcher.worker_program = worker;
    launcher.worker_args = worker_args;
    if args.no_sandbox {
        eprintln!(
            "sluice: WARNING: --no-sandbox: the demo's code runs WITHOUT confinement, with your \
             user's access to files and network"
        );
        launcher.sandbox = false;
    }
    let mut options = DemoOptions::new(launcher);
    options.sizes.orders = args.orders;
    options.language = match args.language {
        DemoLanguageArg::Typescript => ScriptLanguage::TypeScript,
        DemoLanguageArg::Python => ScriptLanguage::Python,
    };
    if !args.only.is_empty() {
        let mut wanted: Vec<Workflow> = args.only.iter().map(|only| workflow(*only)).collect();
        wanted.sort();
        wanted.dedup();
        options.workflows = wanted;
    }
    if args.no_scale || !options.workflows.contains(&Workflow::PendingOrders) {
        options.scale_rows.clear();
    } else {
        options.scale_rows = args.scale;
    }
    if let Some(catalog) = args.catalog {
        options.catalog = Some(catalog);
    }
    // Each step on its own line; on a terminal, the current one also stays below as a
    // progress line with the time so far.
    let progress = crate::progress::Progress::start("sluice demo: starting");
    let report = sluice_demo::run(&options, &|line| {
        progress.println(&format!("sluice demo: {line}"));
        progress.set(format!("sluice demo: {line}"));
    })
    .await;
    progress.finish();
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report.to_json())?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", report.render())?;
    }
    stdout.flush()?;
    let all_good = report.workflows.iter().all(|entry| {
        entry.same_end_state
            && entry.end_state_complete
            && entry.direct.error.is_none()
            && entry.code_mode.error.is_none()
    });
    Ok(if all_good {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    })
}

fn workflow(only: WorkflowArg) -> Workflow {
    match only {
        WorkflowArg::TranscriptToCrm => Workflow::TranscriptToCrm,
        WorkflowArg::PendingOrders => Workflow::PendingOrders,
        WorkflowArg::WaitForDeployment => Workflow::WaitForDeployment,
        WorkflowArg::ContactsToLeads => Workflow::ContactsToLeads,
        WorkflowArg::MessageEngagedLeads => Workflow::MessageEngagedLeads,
    }
}

/// `sluice demo server <kind>`: one demo server on stdio until the client disconnects.
async fn serve(args: DemoServerArgs) -> Result<ExitCode> {
    let kind: DemoServerKind = args.kind.name().parse()?;
    let options = sluice_demo_servers::DemoOptions {
        seed: args.seed,
        orders: usize::try_from(args.orders).context("--orders is too large")?,
        contacts: usize::try_from(args.contacts).context("--contacts is too large")?,
        transcript_tokens: usize::try_from(args.transcript_tokens)
            .context("--transcript-tokens is too large")?,
        leads: usize::try_from(args.leads).context("--leads is too large")?,
        deploy_after_polls: u32::try_from(args.deploy_after_polls)
            .context("--deploy-after-polls is too large")?,
    };
    sluice_demo_servers::serve_stdio(kind, options).await?;
    Ok(ExitCode::SUCCESS)
}
