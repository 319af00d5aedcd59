//! 8. `search_tools` through `sluice serve`.

use std::time::{Duration, Instant};

use serde_json::{Map, json};
use sluice_downstream::Pool;

use crate::catalogs::{combined_catalogs, read_json};
use crate::report::{BenchResult, Report, Stats, ms};
use crate::setup::parse_config;
use crate::worker::SLUICE_BIN;

/// Rounds of the labelled queries in the search section.
pub(crate) const SEARCH_ROUNDS: usize = 3;
pub(crate) const SEARCH_TARGET_MS: f64 = 15.0;

pub(crate) async fn search(report: &mut Report) -> BenchResult<()> {
    let folder = sluice_test_support::workspace_root().join("target/bench/search-serve");
    std::fs::create_dir_all(&folder)?;
    let mut entries = Map::new();
    for tools in combined_catalogs()? {
        let file = folder.join(format!("{}.json", tools.server));
        std::fs::write(&file, serde_json::to_vec(&tools.tools)?)?;
        let command = sluice_test_support::fake_server(&[])
            .arg("--tools-file")
            .arg(file.to_string_lossy().into_owned());
        entries.insert(tools.server.clone(), command.config_entry());
    }
    let config_path = folder.join("sluice.json");
    std::fs::write(
        &config_path,
        serde_json::to_vec(&json!({"mcpServers": entries}))?,
    )?;
    let data_dir = folder.join("data");
    // `sluice tools search` computes and caches every tool vector before it answers.
    let warm = std::process::Command::new(SLUICE_BIN)
        .args(["tools", "search", "--config"])
        .arg(&config_path)
        .arg("--data-dir")
        .arg(&data_dir)
        .arg("warm up")
        .output()?;
    if !warm.status.success() {
        return Err(format!(
            "sluice tools search failed: {}",
            String::from_utf8_lossy(&warm.stderr)
        )
        .into());
    }
    let sluice = json!({"mcpServers": {"sluice": {
        "command": SLUICE_BIN,
        "args": ["serve", "--config", config_path, "--data-dir", data_dir],
    }}});
    let pool = Pool::start(&parse_config(&sluice)?);
    pool.wait_connected(|_| {}).await;
    let queries =
        read_json(&sluice_test_support::workspace_root().join("data/search-eval/queries.json"))?;
    let texts: Vec<String> = queries
        .as_array()
        .ok_or("queries.json is not an array")?
        .iter()
        .filter_map(|query| query["query"].as_str().map(str::to_owned))
        .collect();
    let mut samples = Vec::new();
    // The first call also waits for every server behind Sluice to connect: not measured.
    let mut first = Map::new();
    first.insert("query".to_owned(), json!("warm up"));
    pool.call_tool(
        "sluice",
        "search_tools",
        first,
        Duration::from_secs(60),
        None,
    )
    .await
    .map_err(|error| format!("search_tools failed: {error}"))?;
    for _ in 0..SEARCH_ROUNDS {
        for text in &texts {
            let mut arguments = Map::new();
            arguments.insert("query".to_owned(), json!(text));
            let started = Instant::now();
            let outcome = pool
                .call_tool(
                    "sluice",
                    "search_tools",
                    arguments,
                    Duration::from_secs(30),
                    None,
                )
                .await;
            samples.push(ms(started.elapsed()));
            if let Err(error) = outcome {
                pool.shutdown().await;
                return Err(format!("search_tools failed: {error}").into());
            }
        }
    }
    pool.shutdown().await;
    let stats = Stats::of(&samples);
    report.check(
        "search",
        format!(
            "search_tools round trip via sluice serve, 1,535 tools, {} labelled queries x {SEARCH_ROUNDS}",
            texts.len()
        ),
        stats.show("ms"),
        format!("p50 <= {SEARCH_TARGET_MS} ms"),
        stats.p50 <= SEARCH_TARGET_MS,
    );
    report.section_json(
        "search",
        json!({"round_trip_ms": stats.to_json("ms", &samples)}),
    );
    Ok(())
}
