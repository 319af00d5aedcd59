//! `sluice tools search`, `sluice tools tree` and `sluice tools eval`.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::process::ExitCode;
use std::time::Instant;

use anyhow::{Context, Result};
use sluice_catalog::{Catalog, Detail, ServerTools};
use sluice_gateway::SearchRequest;
use sluice_search::eval::{LabelledQuery, Report};
use sluice_search::{Query, Tuning};

use crate::cli::{DetailArg, EvalArgs, EvalMethod, SearchArgs, TreeArgs};
use crate::commands::{load_config, start_and_connect};

pub async fn search(args: SearchArgs) -> Result<ExitCode> {
    let config = load_config(&args.global)?;
    let gateway = start_and_connect(config, &args.global).await?;
    // A one-shot search ranks with the encoder: compute (and cache) missing vectors first.
    let progress = crate::progress::Progress::start("building the search index");
    gateway.complete_vectors().await;
    progress.finish();
    let request = SearchRequest {
        query: args.query,
        detail: match args.detail {
            DetailArg::Name => Detail::Name,
            DetailArg::Summary => Detail::Summary,
            DetailArg::Full => Detail::Full,
        },
        server: args.server,
        limit: args.limit,
        language: match args.language {
            Some(crate::cli::LanguageArg::Python) => sluice_worker_protocol::Language::Python,
            _ => sluice_worker_protocol::Language::Typescript,
        },
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
        std::fs::write(&target, text.as_bytes())
            .with_context(|| format!("cannot write {}", target.display()))?;
        written += 1;
    }
    eprintln!("sluice: wrote {written} files to {}", args.out.display());
    Ok(ExitCode::SUCCESS)
}

/// `sluice tools eval`: the labelled queries ranked over a recorded catalog.
pub fn eval(args: EvalArgs) -> Result<ExitCode> {
    let mut queries: Vec<LabelledQuery> = read_json(&args.queries)?;
    if let Some(split) = &args.split {
        queries.retain(|query| &query.split == split);
        anyhow::ensure!(
            !queries.is_empty(),
            "no query of {} has the split `{split}`",
            args.queries.display()
        );
    }
    let catalog: RecordedCatalog = read_json(&args.catalog)?;
    let mut servers: BTreeMap<String, Vec<serde_json::Value>> = BTreeMap::new();
    for mut tool in catalog.tools {
        let server = tool
            .as_object_mut()
            .and_then(|object| object.remove("server"))
            .and_then(|server| server.as_str().map(str::to_owned))
            .with_context(|| format!("{}: a tool has no \"server\"", args.catalog.display()))?;
        servers.entry(server).or_default().push(tool);
    }
    let catalog = Catalog::build(
        servers
            .into_iter()
            .map(|(server, tools)| ServerTools::from_values(server, tools))
            .collect(),
    );
    let encoder = match args.method {
        EvalMethod::Lexical => None,
        EvalMethod::Fused | EvalMethod::Dense => Some(
            crate::commands::load_encoder(&args.global)
                .context("this method needs the sentence-encoder model")?,
        ),
    };
    let cache_path = crate::commands::data_dir(&args.global)?
        .join("cache")
        .join(sluice_gateway::VECTOR_CACHE_FILE);
    let index = sluice_gateway::build_search_index(&catalog, encoder.as_ref(), &cache_path);
    let tuning = Tuning {
        dense_share: match args.method {
            EvalMethod::Dense => 1.0,
            _ => args.dense_share.unwrap_or(sluice_search::DENSE_SHARE),
        },
        split_intents: !args.no_split,
        ..Tuning::default()
    };
    let rank = |text: &str| -> Vec<String> {
        let query = Query {
            text: text.to_owned(),
            group: None,
            limit: 10,
            tuning,
        };
        index
            .search(&query, encoder.as_ref())
            .hits
            .iter()
            .filter_map(|hit| {
                hit.item
                    .server()
                    .map(|server| format!("{server}/{}", hit.item.name()))
            })
            .collect()
    };
    let started = Instant::now();
    let report = Report::measure(&queries, rank);
    let per_query = started.elapsed() / queries.len().max(1) as u32;
    let mut misses = String::new();
    if args.misses {
        for query in &queries {
            let ranked = rank(&query.query);
            let (recall, _) = sluice_search::eval::score_query(query, &ranked);
            if recall[1] < 1.0 {
                misses.push_str(&format!(
                    "{} [{}] {:?}\n  wanted {:?}\n  got    {:?}\n",
                    query.id,
                    query.style,
                    query.query,
                    query.needs,
                    &ranked[..ranked.len().min(5)]
                ));
            }
        }
    }
    let mut stdout = std::io::stdout().lock();
    if args.json {
        serde_json::to_writer_pretty(&mut stdout, &report)?;
        writeln!(stdout)?;
    } else {
        writeln!(
            stdout,
            "{} queries over {} tools, method {:?}, {:?} per query",
            queries.len(),
            catalog.len(),
            args.method,
            per_query
        )?;
        write!(stdout, "{}", report.to_table())?;
        write!(stdout, "{misses}")?;
    }
    Ok(ExitCode::SUCCESS)
}

#[derive(serde::Deserialize)]
struct RecordedCatalog {
    tools: Vec<serde_json::Value>,
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let text =
        std::fs::read_to_string(path).with_context(|| format!("cannot read {}", path.display()))?;
    serde_json::from_str(&text).with_context(|| format!("{} is not valid", path.display()))
}
