//! 6. Connect time of the five real servers.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Instant;

use serde_json::{Map, Value, json};
use sluice_downstream::{Pool, ServerState};

use crate::report::{BenchResult, Report, Stats, ms, num};
use crate::setup::parse_config;

/// Runs of the five servers connecting together.
pub(crate) const CONNECT_RUNS: usize = 4;

pub(crate) fn run_git(repo: &Path, args: &[&str]) -> BenchResult<()> {
    let status = std::process::Command::new("git")
        .current_dir(repo)
        .args([
            "-c",
            "user.name=Sluice Bench",
            "-c",
            "user.email=bench@example.invalid",
            "-c",
            "commit.gpgsign=false",
        ])
        .args(args)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()?;
    if !status.success() {
        return Err(format!("git {} failed ({status})", args.join(" ")).into());
    }
    Ok(())
}

pub(crate) async fn connect(report: &mut Report) -> BenchResult<()> {
    let deps = sluice_test_support::test_deps_dir();
    let needed = [
        deps.join("node/node_modules/.bin/mcp-server-everything"),
        deps.join("node/node_modules/.bin/mcp-server-filesystem"),
        deps.join("node/node_modules/.bin/mcp-server-memory"),
        deps.join("venv/bin/mcp-server-time"),
        deps.join("venv/bin/mcp-server-git"),
    ];
    if let Some(missing) = needed.iter().find(|path| !path.exists()) {
        let message = format!(
            "skipped: {} is missing; run `scripts/test --deps-only` to install the real servers",
            missing.display()
        );
        eprintln!("bench: connect {message}");
        report.row("connect", "five real servers", message.clone());
        report.section_json("connect", json!({"skipped": message}));
        return Ok(());
    }
    let temp = tempfile::tempdir()?;
    let files = temp.path().join("files");
    std::fs::create_dir_all(&files)?;
    std::fs::write(files.join("hello.txt"), "hello\n")?;
    let memory = temp.path().join("memory.jsonl");
    let repo = temp.path().join("repo");
    std::fs::create_dir_all(&repo)?;
    run_git(&repo, &["init", "-q"])?;
    std::fs::write(repo.join("README.md"), "bench\n")?;
    run_git(&repo, &["add", "README.md"])?;
    run_git(&repo, &["commit", "-q", "-m", "init"])?;

    let servers = [
        ("everything", sluice_test_support::everything_server()),
        (
            "filesystem",
            sluice_test_support::filesystem_server([&files]),
        ),
        ("memory", sluice_test_support::memory_server(&memory)),
        ("time", sluice_test_support::time_server()),
        ("git", sluice_test_support::git_server(&repo)),
    ];
    let entries: Map<String, Value> = servers
        .iter()
        .map(|(name, command)| ((*name).to_owned(), command.config_entry()))
        .collect();
    let config = parse_config(&json!({"mcpServers": entries}))?;

    let mut totals = Vec::new();
    let mut shutdowns = Vec::new();
    let mut per_server: BTreeMap<String, Vec<f64>> = BTreeMap::new();
    let mut tools: BTreeMap<String, usize> = BTreeMap::new();
    let mut failures = Vec::new();
    for run in 0..CONNECT_RUNS {
        let started = Instant::now();
        let pool = Pool::start(&config);
        let mut arrivals: Vec<(String, f64, bool, usize, String)> = Vec::new();
        pool.wait_connected(|status| {
            arrivals.push((
                status.name.clone(),
                ms(started.elapsed()),
                matches!(status.state, ServerState::Ready { .. }),
                status.tools,
                status.state.describe(),
            ));
        })
        .await;
        let total = ms(started.elapsed());
        let shutdown_started = Instant::now();
        pool.shutdown().await;
        shutdowns.push(ms(shutdown_started.elapsed()));
        totals.push(total);
        let order: Vec<String> = arrivals
            .iter()
            .map(|(name, at, _, _, _)| format!("{name} {at:.0}"))
            .collect();
        eprintln!(
            "bench: connect run {}: {total:.0} ms ({})",
            run + 1,
            order.join(", ")
        );
        for (name, at, ready, count, state) in arrivals {
            if ready {
                per_server.entry(name.clone()).or_default().push(at);
                tools.insert(name, count);
            } else {
                failures.push(format!("run {}: {name}: {state}", run + 1));
            }
        }
    }
    let total_stats = Stats::of(&totals);
    let shutdown_stats = Stats::of(&shutdowns);
    report.row(
        "connect",
        format!("five servers concurrently, start to all settled ({CONNECT_RUNS} runs)"),
        format!(
            "{} (first run {} ms)",
            total_stats.show("ms"),
            totals.first().map_or("n/a".to_owned(), |t| num(*t))
        ),
    );
    let mut per_server_json = Map::new();
    for (name, _) in &servers {
        let samples = per_server.get(*name).cloned().unwrap_or_default();
        let stats = Stats::of(&samples);
        let count = tools.get(*name).copied().unwrap_or(0);
        report.row(
            "connect",
            format!("  {name} ready ({count} tools)"),
            stats.show("ms"),
        );
        per_server_json.insert(
            (*name).to_owned(),
            json!({"tools": count, "ready_ms": stats.to_json("ms", &samples)}),
        );
    }
    report.row("connect", "  Pool::shutdown", shutdown_stats.show("ms"));
    for failure in &failures {
        report.row("connect", "  did not connect", failure.clone());
    }
    report.section_json(
        "connect",
        json!({
            "runs": CONNECT_RUNS,
            "all_settled_ms": total_stats.to_json("ms", &totals),
            "shutdown_ms": shutdown_stats.to_json("ms", &shutdowns),
            "servers": per_server_json,
            "failures": failures,
        }),
    );
    Ok(())
}
