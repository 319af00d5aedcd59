//! Search performance: `cargo bench -p sluice-search --bench search`.
//!
//! A plain `main` (harness = false) that builds the 10,000-tool catalog (the 1,535 recorded tools,
//! Twilio's full set, and renamed copies of both until 10,000), and measures side by side, with
//! each figure beside its target:
//!
//! - the cold build: every tool's vector computed by the encoder (written to
//!   `target/bench/search-vectors-10k.bin`, so later runs measure the warm build; delete it or
//!   pass `--cold` to measure the cold one again);
//! - the build from the vector cache (read the file, build every segment);
//! - the index's memory (vectors and postings, and the process's RSS growth);
//! - queries: the 365 labelled queries' texts (`data/search-eval/queries.json`), encoder
//!   included, over 10,000 and over 1,535 tools; lexical only; and queries that name a tool
//!   exactly.
//!
//! `SLUICE_BENCH_DETAIL=1` also prints each warm build's parts (cache read, documents, index).
//!
//! The model comes from `target/models/all-MiniLM-L6-v2` (`scripts/fetch-model`) or
//! `$SLUICE_MODEL`. Every figure is a median (p50) and p99 over many runs; the machine is small
//! and noisy.

#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::error::Error;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use serde_json::Value;
use sluice_catalog::{Catalog, ServerTools};
use sluice_embed::Encoder;
use sluice_search::{Query, SearchIndex, VectorCache, catalog_documents};

type BenchResult<T> = Result<T, Box<dyn Error>>;

const TOOLS: usize = 10_000;
const WARM_BUILD_RUNS: usize = 9;
const QUERY_ROUNDS: usize = 3;
const EXACT_QUERIES: usize = 500;

const QUERY_P50_TARGET_MS: f64 = 10.0;
const QUERY_P99_TARGET_MS: f64 = 30.0;
const EXACT_TARGET_MS: f64 = 1.0;
const WARM_BUILD_TARGET_MS: f64 = 200.0;

fn main() -> BenchResult<()> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    // `cargo test --all-targets` runs this binary too, in a debug build and without `--bench`:
    // there it only checks that the 10,000-tool catalog builds and answers lexically.
    if !std::env::args().any(|argument| argument == "--bench") {
        return smoke_test(&root);
    }
    let cold = std::env::args().any(|argument| argument == "--cold");
    let model = std::env::var_os("SLUICE_MODEL")
        .map(PathBuf::from)
        .unwrap_or_else(|| root.join("target/models/all-MiniLM-L6-v2"));
    let encoder = Encoder::load(&model)
        .map_err(|error| format!("{error} (the bench needs the model: scripts/fetch-model)"))?;
    let small = load_catalog(&root, false)?;
    let large = grow(&root, TOOLS)?;
    println!(
        "catalogs: {} tools ({} servers) and {} tools ({} servers); model {}",
        small.len(),
        small.server_names().count(),
        large.len(),
        large.server_names().count(),
        encoder.manifest().name
    );

    let cache_path = root.join("target/bench/search-vectors-10k.bin");
    if let Some(folder) = cache_path.parent() {
        std::fs::create_dir_all(folder)?;
    }
    if cold {
        let _ = std::fs::remove_file(&cache_path);
    }
    let (mut cache, _) =
        VectorCache::load(&cache_path, &encoder.fingerprint(), encoder.dimension());
    let lexical = SearchIndex::build(catalog_documents(&large), None, Some(&cache));
    let missing = lexical.missing_vectors(&cache);
    if !missing.is_empty() {
        let threads = std::thread::available_parallelism().map_or(1, |count| count.get());
        let started = Instant::now();
        sluice_search::embed_into(&mut cache, &missing, &encoder, threads);
        let elapsed = started.elapsed();
        cache.save(&cache_path)?;
        println!(
            "cold build: {} vectors in {:.1} s on {threads} threads ({:.2} ms per tool)",
            missing.len(),
            elapsed.as_secs_f64(),
            ms(elapsed) / missing.len() as f64
        );
    } else {
        println!("cold build: not measured (vectors cached; run with --cold to measure it)");
    }

    let rss_before = rss_mb();
    let mut warm = Vec::new();
    let mut index = None;
    for _ in 0..WARM_BUILD_RUNS {
        drop(index.take());
        let started = Instant::now();
        let (cache, _) =
            VectorCache::load(&cache_path, &encoder.fingerprint(), encoder.dimension());
        let loaded = started.elapsed();
        let documents = catalog_documents(&large);
        let grouped = started.elapsed();
        let built = SearchIndex::build(documents, None, Some(&cache));
        warm.push(ms(started.elapsed()));
        if std::env::var_os("SLUICE_BENCH_DETAIL").is_some() {
            println!(
                "warm build: cache read {:.1} ms, documents {:.1} ms, index {:.1} ms",
                ms(loaded),
                ms(grouped - loaded),
                ms(started.elapsed() - grouped)
            );
        }
        assert!(built.has_vectors(), "the cache misses vectors");
        index = Some(built);
    }
    let index = index.ok_or("no index")?;
    let rss_after = rss_mb();
    let small_index = {
        let (cache, _) =
            VectorCache::load(&cache_path, &encoder.fingerprint(), encoder.dimension());
        let mut small_cache = cache.clone();
        let small_lexical = SearchIndex::build(catalog_documents(&small), None, Some(&small_cache));
        let missing = small_lexical.missing_vectors(&small_cache);
        sluice_search::embed_into(&mut small_cache, &missing, &encoder, 2);
        SearchIndex::build(catalog_documents(&small), None, Some(&small_cache))
    };

    let queries = labelled_queries(&root)?;
    let mut dense_large = Vec::new();
    let mut dense_small = Vec::new();
    let mut lexical_large = Vec::new();
    for _ in 0..QUERY_ROUNDS {
        for text in &queries {
            dense_large.push(time_query(&index, text, Some(&encoder)));
            dense_small.push(time_query(&small_index, text, Some(&encoder)));
            lexical_large.push(time_query(&index, text, None));
        }
    }
    if std::env::var_os("SLUICE_BENCH_DETAIL").is_some() {
        // The slowest queries over 10,000 tools (median of their rounds), with their tokens.
        let mut each: Vec<(f64, &String)> = queries
            .iter()
            .enumerate()
            .map(|(index, text)| {
                let mut rounds: Vec<f64> = (0..QUERY_ROUNDS)
                    .map(|round| dense_large[round * queries.len() + index])
                    .collect();
                rounds.sort_by(f64::total_cmp);
                (rounds[rounds.len() / 2], text)
            })
            .collect();
        each.sort_by(|left, right| right.0.total_cmp(&left.0));
        for (time, text) in each.iter().take(8) {
            let tokens = encoder.token_ids(text, sluice_embed::TextKind::Query).len();
            println!("slow query: {time:.1} ms, {tokens} tokens: {text}");
        }
    }
    let mut exact = Vec::new();
    let names: Vec<String> = large
        .tools()
        .step_by((large.len() / EXACT_QUERIES).max(1))
        .map(|tool| tool.name.clone())
        .collect();
    for _ in 0..QUERY_ROUNDS {
        for name in &names {
            exact.push(time_query(&index, name, Some(&encoder)));
        }
    }

    println!();
    println!(
        "{:<52} {:>10} {:>10} {:>10}",
        "figure", "p50", "p99", "target"
    );
    row(
        "build from the vector cache, 10,000 tools (ms)",
        &warm,
        Some(WARM_BUILD_TARGET_MS),
        None,
    );
    row(
        "query, encoder included, 10,000 tools (ms)",
        &dense_large,
        Some(QUERY_P50_TARGET_MS),
        Some(QUERY_P99_TARGET_MS),
    );
    row(
        "query, encoder included, 1,535 tools (ms)",
        &dense_small,
        None,
        None,
    );
    row(
        "query, lexical only, 10,000 tools (ms)",
        &lexical_large,
        None,
        None,
    );
    row(
        "query naming a tool exactly, 10,000 tools (ms)",
        &exact,
        Some(EXACT_TARGET_MS),
        None,
    );
    let vectors_mb = (index.len() * encoder.dimension() * 4) as f64 / 1e6;
    println!();
    println!(
        "index memory, 10,000 tools: vectors {vectors_mb:.1} MB; process RSS grew {:.1} MB over the builds (RSS {:.0} MB with the model loaded)",
        rss_after - rss_before,
        rss_after
    );
    Ok(())
}

fn smoke_test(root: &Path) -> BenchResult<()> {
    let large = grow(root, TOOLS)?;
    let index = SearchIndex::build(catalog_documents(&large), None, None);
    let ranking = index.search(
        &Query {
            text: "list kubernetes pods".to_owned(),
            limit: 5,
            ..Query::default()
        },
        None,
    );
    if index.len() != TOOLS || ranking.hits.is_empty() {
        return Err(format!("{} tools indexed, {} hits", index.len(), ranking.hits.len()).into());
    }
    println!("bench: not run by `cargo bench`; smoke test of the 10,000-tool index passed");
    Ok(())
}

fn time_query(index: &SearchIndex, text: &str, encoder: Option<&Encoder>) -> f64 {
    let query = Query {
        text: text.to_owned(),
        limit: 10,
        ..Query::default()
    };
    let started = Instant::now();
    let ranking = index.search(&query, encoder);
    let elapsed = started.elapsed();
    std::hint::black_box(ranking.hits.len());
    ms(elapsed)
}

fn row(label: &str, values: &[f64], p50_target: Option<f64>, p99_target: Option<f64>) {
    let p50 = percentile(values, 0.50);
    let p99 = percentile(values, 0.99);
    let mut target = String::new();
    if let Some(limit) = p50_target {
        target.push_str(&format!(
            "p50<={limit} {}",
            if p50 <= limit { "met" } else { "MISSED" }
        ));
    }
    if let Some(limit) = p99_target {
        target.push_str(&format!(
            ", p99<={limit} {}",
            if p99 <= limit { "met" } else { "MISSED" }
        ));
    }
    println!("{label:<52} {p50:>10.3} {p99:>10.3}   {target}");
}

fn percentile(values: &[f64], share: f64) -> f64 {
    let mut sorted = values.to_vec();
    sorted.sort_by(f64::total_cmp);
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * share).round() as usize]
}

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1e3
}

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/statm")
        .ok()
        .and_then(|text| text.split_whitespace().nth(1)?.parse::<f64>().ok())
        .map_or(f64::NAN, |pages| pages * 4096.0 / 1e6)
}

fn read_json(path: &Path) -> BenchResult<Value> {
    let text = std::fs::read_to_string(path)
        .map_err(|error| format!("cannot read {}: {error}", path.display()))?;
    Ok(serde_json::from_str(&text)?)
}

/// The recorded tools by server: the 1,535-tool catalog, and with `twilio` Twilio's full set too.
fn server_tools(root: &Path, twilio: bool) -> BenchResult<BTreeMap<String, Vec<Value>>> {
    let folder = root.join("data/catalogs");
    let combined = read_json(&folder.join("_combined_excluding_twilio_all.json"))?;
    let mut servers: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for tool in combined["tools"].as_array().ok_or("no tools")? {
        let server = tool["server"]
            .as_str()
            .ok_or("a tool has no server")?
            .to_owned();
        let mut tool = tool.clone();
        if let Some(object) = tool.as_object_mut() {
            object.remove("server");
        }
        servers.entry(server).or_default().push(tool);
    }
    if twilio {
        let file = read_json(&folder.join("twilio-all-services.json"))?;
        let tools = file["tools"].as_array().ok_or("no twilio tools")?.clone();
        servers.insert("twilio-all-services".to_owned(), tools);
    }
    Ok(servers)
}

fn load_catalog(root: &Path, twilio: bool) -> BenchResult<Catalog> {
    Ok(build(server_tools(root, twilio)?))
}

fn build(servers: BTreeMap<String, Vec<Value>>) -> Catalog {
    Catalog::build(
        servers
            .into_iter()
            .map(|(server, tools)| ServerTools::from_values(server, tools))
            .collect(),
    )
}

/// The recorded servers with Twilio's full set, then copies of them under new names (`-copy2`,
/// `-copy3`, ...) until `total` tools; the last copy is cut to fit.
fn grow(root: &Path, total: usize) -> BenchResult<Catalog> {
    let originals = server_tools(root, true)?;
    let mut servers = originals.clone();
    let mut count: usize = servers.values().map(Vec::len).sum();
    let mut copy = 2;
    while count < total {
        for (server, tools) in &originals {
            if count >= total {
                break;
            }
            let take = tools.len().min(total - count);
            servers.insert(format!("{server}-copy{copy}"), tools[..take].to_vec());
            count += take;
        }
        copy += 1;
    }
    Ok(build(servers))
}

fn labelled_queries(root: &Path) -> BenchResult<Vec<String>> {
    let queries = read_json(&root.join("data/search-eval/queries.json"))?;
    Ok(queries
        .as_array()
        .ok_or("queries.json is not an array")?
        .iter()
        .filter_map(|query| query["query"].as_str().map(str::to_owned))
        .collect())
}
