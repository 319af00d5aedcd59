//! `sluice tools search` and `sluice tools tree`.

use std::io::Write;
use std::process::ExitCode;

use anyhow::{Context, Result};
use sluice_catalog::Detail;
use sluice_gateway::SearchRequest;

use crate::cli::{DetailArg, SearchArgs, TreeArgs};
use crate::commands::{load_config, start_and_connect};

pub async fn search(args: SearchArgs) -> Result<ExitCode> {
    let config = load_config(&args.global)?;
    let gateway = start_and_connect(config, &args.global).await?;
    let request = SearchRequest {
        query: args.query,
        detail: match args.detail {
            DetailArg::Name => Detail::Name,
            DetailArg::Summary => Detail::Summary,
            DetailArg::Full => Detail::Full,
        },
        server: args.server,
        limit: args.limit,
    };
    let outcome = gateway.search(&request).await;
    gateway.shutdown().await;
    let response = outcome?;
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &response)?;
        writeln!(stdout)?;
    } else {
        write!(stdout, "{}", response.to_text(&request))?;
    }
    Ok(ExitCode::SUCCESS)
}

pub async fn tree(args: TreeArgs) -> Result<ExitCode> {
    let config = load_config(&args.global)?;
    let gateway = start_and_connect(config, &args.global).await?;
    let snapshot = gateway.snapshot().await;
    gateway.shutdown().await;
    let mut written = 0usize;
    for (path, text) in snapshot.tree.iter() {
        let target = args.out.join(path);
        if let Some(parent) = target.parent() {
            std::fs::create_dir_all(parent)
                .with_context(|| format!("cannot create folder {}", parent.display()))?;
        }
        std::fs::write(&target, text)
            .with_context(|| format!("cannot write {}", target.display()))?;
        written += 1;
    }
    eprintln!("sluice: wrote {written} files to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}
