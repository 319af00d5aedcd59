//! Section 10, ten thousand tools: the recorded catalogs (the 1,535 combined tools and Twilio's
//! full set, 2,944 in all) copied under new names up to 10,000 tools, served by 50 and by 200
//! `fake-mcp-server` processes, each behind its own `sluice serve` (`--model none`: the search
//! section measures the encoder), beside a `sluice serve` with one server and one with the
//! recorded catalogs as they are (1,535 tools, one fake server per recorded server). Reported side by
//! side: the time until every server's tools are in the gateway's tree, the gateways' memory once
//! idle (RSS and unique memory), a trivial execution's round trip on each (interleaved), the
//! gateway CPU one server's `list_changed` costs at 10,000 tools, and the size of what a client
//! lists.
//!
//! The CPU of a gateway process is the sum of its threads' `/proc/PID/task/*/schedstat` run
//! times (nanoseconds). A refresh's cost is the CPU of an execution whose tool call makes its
//! server send `list_changed` (the gateway then lists that server again and rebuilds its
//! snapshot), minus the CPU of the same execution on a server that does not.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sluice_catalog::CatalogTool;
use sluice_downstream::Pool;

use crate::catalogs::combined_catalogs;
use crate::report::{BenchResult, Report, Stats, ms};
use crate::setup::{
    fake_server_release, gateways, memory_of, parse_config, processes, serve_execute,
};
use crate::worker::SLUICE_BIN;

/// Tools behind the large gateways.
pub(crate) const TOOLS: usize = 10_000;
/// Interleaved round trips per gateway.
const ROUND_TRIPS: usize = 200;
/// Target: a trivial execution at 10,000 tools within this factor of one server's.
pub(crate) const LATENCY_RATIO_TARGET: f64 = 1.2;
/// Target: gateway RSS at 10,000 tools, in MB.
pub(crate) const MEMORY_TARGET_MB: f64 = 120.0;
/// Target: gateway RSS with the recorded 1,535-tool catalog (the warm-workers issue's), in MB.
pub(crate) const RECORDED_MEMORY_TARGET_MB: f64 = 40.0;
/// How long each measured window of the refresh cost lasts after its execution: past the
/// gateway's release of freed memory, which runs a second after a rebuild and is part of its cost.
const SETTLE: Duration = Duration::from_millis(1_500);
/// Target: gateway CPU of one server's `list_changed` at 10,000 tools, in ms.
pub(crate) const REFRESH_TARGET_MS: f64 = 10.0;
/// Servers (of the 200) that send `list_changed` after their first call: one refresh each.
const CHANGING: usize = 5;

const TRIVIAL: &str = "export default 1;";

pub(crate) async fn scale(report: &mut Report) -> BenchResult<()> {
    let folder = sluice_test_support::workspace_root().join("target/bench/scale");
    std::fs::create_dir_all(&folder)?;
    let fake = fake_server_release()?;
    let tools = ten_thousand_tools()?;
    let mut configs = Vec::new();
    for servers in [50, 200] {
        let path = write_config(&folder, &fake, &tools, servers)?;
        configs.push((format!("k{servers}"), servers, path));
    }
    let (recorded, recorded_servers) = write_recorded_config(&folder, &fake)?;
    configs.push(("recorded".to_owned(), recorded_servers, recorded));
    let one = folder.join("one.json");
    std::fs::write(
        &one,
        serde_json::to_vec(&json!({"mcpServers": {"fake": {"command": fake, "args": []}}}))?,
    )?;
    let mut entries = Map::new();
    let serve = |config: &Path, data: &str| {
        json!({"command": SLUICE_BIN, "args": [
            "serve", "--config", config, "--data-dir", folder.join(data), "--model", "none"
        ]})
    };
    entries.insert("one".to_owned(), serve(&one, "data-one"));
    for (name, _, path) in &configs {
        entries.insert(name.clone(), serve(path, &format!("data-{name}")));
    }
    let started = Instant::now();
    let pool = Arc::new(Pool::start(&parse_config(
        &json!({"mcpServers": entries, "sluice": {"callTimeoutMs": 120_000, "connectTimeoutMs": 120_000}}),
    )?));
    pool.wait_connected(|_| {}).await;
    let outcome = measure(report, &pool, &configs, started).await;
    pool.shutdown().await;
    outcome
}

async fn measure(
    report: &mut Report,
    pool: &Arc<Pool>,
    configs: &[(String, usize, PathBuf)],
    started: Instant,
) -> BenchResult<()> {
    let mut json = Map::new();
    // Connect to ready: every server's folder is in the tree.
    for (name, servers, _) in configs {
        loop {
            let listed = list_files(pool, name, "servers").await?;
            if listed.iter().filter(|entry| entry.ends_with('/')).count() >= *servers {
                break;
            }
            if started.elapsed() > Duration::from_secs(300) {
                return Err(format!("{name}: not every server was ready after 300 s").into());
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let seconds = started.elapsed().as_secs_f64();
        let tools = if name == "recorded" {
            "the recorded 1,535".to_owned()
        } else {
            TOOLS.to_string()
        };
        report.row(
            "scale",
            format!("{tools} tools over {servers} servers: from start until all are listed"),
            format!("{seconds:.2} s (the three gateways started together)"),
        );
        json.insert(format!("{name}_ready_s"), json!(seconds));
    }
    for name in ["one", "k50", "k200"] {
        for _ in 0..5 {
            serve_execute(pool, name, TRIVIAL).await?;
        }
    }
    latency(report, pool, &mut json).await?;
    refresh_cost(report, pool, &mut json).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    memory(report, configs, &mut json)?;
    context(report, pool, &mut json).await;
    report.section_json("scale", Value::Object(json));
    Ok(())
}

async fn latency(
    report: &mut Report,
    pool: &Pool,
    json: &mut Map<String, Value>,
) -> BenchResult<()> {
    let names = ["one", "k50", "k200"];
    let mut samples: [Vec<f64>; 3] = Default::default();
    for run in 0..ROUND_TRIPS {
        for offset in 0..names.len() {
            let index = (run + offset) % names.len();
            let started = Instant::now();
            serve_execute(pool, names[index], TRIVIAL).await?;
            samples[index].push(ms(started.elapsed()));
        }
    }
    let one = Stats::of(&samples[0]);
    report.row(
        "scale",
        "trivial execute_code, one server (interleaved with the next two)",
        one.show("ms"),
    );
    for (index, name) in names.iter().enumerate().skip(1) {
        let stats = Stats::of(&samples[index]);
        let ratio = stats.p50 / one.p50;
        report.check(
            "scale",
            format!("trivial execute_code, {TOOLS} tools ({name})"),
            format!("{} ({ratio:.2}x one server)", stats.show("ms")),
            format!("<= {LATENCY_RATIO_TARGET}x"),
            ratio <= LATENCY_RATIO_TARGET,
        );
        json.insert(
            format!("{name}_execute_ms"),
            stats.to_json("ms", &samples[index]),
        );
    }
    json.insert("one_execute_ms".to_owned(), one.to_json("ms", &samples[0]));
    Ok(())
}

async fn refresh_cost(
    report: &mut Report,
    pool: &Pool,
    json: &mut Map<String, Value>,
) -> BenchResult<()> {
    let Some(gateway) = gateway_pid("k200") else {
        return Err("the 200-server gateway's process was not found".into());
    };
    let call = |server: &str| {
        format!(
            "import {{ callMCPTool }} from './runtime';\nawait callMCPTool('{server}', 'ping', {{}});\nexport default 1;"
        )
    };
    let mut costs = Vec::new();
    for changing in 0..CHANGING {
        let steady = format!("s{:03}", CHANGING + changing);
        let baseline = cpu_ms(gateway);
        serve_execute(pool, "k200", &call(&steady)).await?;
        tokio::time::sleep(SETTLE).await;
        let steady_cost = cpu_ms(gateway) - baseline;
        let server = format!("s{changing:03}");
        let before = cpu_ms(gateway);
        serve_execute(pool, "k200", &call(&server)).await?;
        tokio::time::sleep(SETTLE).await;
        let changed_cost = cpu_ms(gateway) - before;
        let listed = list_files(pool, "k200", &format!("servers/{server}")).await?;
        if !listed.iter().any(|entry| entry == "extra.ts") {
            return Err(format!("{server}'s new tool did not reach the tree: {listed:?}").into());
        }
        costs.push((changed_cost - steady_cost).max(0.0));
    }
    let stats = Stats::of(&costs);
    report.check(
        "scale",
        format!("gateway CPU of one server's list_changed at {TOOLS} tools (200 servers)"),
        stats.show("ms"),
        format!("<= {REFRESH_TARGET_MS} ms"),
        stats.p50 <= REFRESH_TARGET_MS,
    );
    json.insert("refresh_cpu_ms".to_owned(), stats.to_json("ms", &costs));
    Ok(())
}

fn memory(
    report: &mut Report,
    configs: &[(String, usize, PathBuf)],
    json: &mut Map<String, Value>,
) -> BenchResult<()> {
    let mut one = None;
    for (name, label) in [("one", "one server".to_owned())]
        .into_iter()
        .chain(configs.iter().map(|(name, servers, _)| {
            let label = if name == "recorded" {
                format!("the recorded catalogs (1,535 tools over {servers} servers)")
            } else {
                format!("{TOOLS} tools over {servers} servers")
            };
            (name.as_str(), label)
        }))
    {
        let pid = gateway_pid(name).ok_or_else(|| format!("no gateway process for {name}"))?;
        let (uss, _, rss) = memory_of(pid).ok_or("unreadable memory")?;
        json.insert(format!("{name}_rss_mb"), json!(rss));
        json.insert(format!("{name}_uss_mb"), json!(uss));
        let measured = format!("RSS {rss:.1} MB, USS {uss:.1} MB");
        if name == "one" {
            one = Some(rss);
            report.row("scale", format!("idle gateway, {label}"), measured);
        } else {
            let target = if name == "recorded" {
                RECORDED_MEMORY_TARGET_MB
            } else {
                MEMORY_TARGET_MB
            };
            report.check(
                "scale",
                format!("idle gateway, {label}"),
                format!("{measured} (one server: {:.1} MB)", one.unwrap_or(0.0)),
                format!("<= {target} MB RSS"),
                rss <= target,
            );
        }
    }
    Ok(())
}

/// What a client lists from the 200-server gateway: Sluice's own tools, as JSON, in o200k
/// tokens (the instructions are the context section's).
async fn context(report: &mut Report, pool: &Pool, json: &mut Map<String, Value>) {
    let tools = pool.tools().await;
    for name in ["one", "k200"] {
        let text = tools
            .get(name)
            .map(|part| {
                let definitions = part.tools().iter().map(CatalogTool::definition);
                Value::Array(definitions.collect()).to_string()
            })
            .unwrap_or_default();
        let tokens = sluice_tokens::count(&text);
        report.row(
            "scale",
            format!("tools/list a client sees ({name})"),
            format!("{tokens} tokens"),
        );
        json.insert(format!("{name}_tools_list_tokens"), json!(tokens));
    }
}

/// The tool definitions: the recorded catalogs, then copies of them with `_v1`, `_v2`... added
/// to every name, up to [`TOOLS`].
fn ten_thousand_tools() -> BenchResult<Vec<Value>> {
    let base: Vec<Value> = combined_catalogs()?
        .into_iter()
        .flat_map(|server| server.tools)
        .collect();
    if base.is_empty() {
        return Err("no recorded tools".into());
    }
    let mut tools = Vec::with_capacity(TOOLS);
    for copy in 0.. {
        for tool in &base {
            if tools.len() == TOOLS {
                return Ok(tools);
            }
            let mut tool = tool.clone();
            if copy > 0
                && let Some(name) = tool.get("name").and_then(Value::as_str)
            {
                tool["name"] = json!(format!("{name}_v{copy}"));
            }
            tools.push(tool);
        }
    }
    Ok(tools)
}

/// A config of `servers` fake servers sharing `tools`; the first [`CHANGING`] and the next
/// [`CHANGING`] also have a `ping` tool, and the first ones send `list_changed` after a call.
fn write_config(
    folder: &Path,
    fake: &Path,
    tools: &[Value],
    servers: usize,
) -> BenchResult<PathBuf> {
    let lists = folder.join(format!("k{servers}"));
    std::fs::create_dir_all(&lists)?;
    let per = tools.len().div_ceil(servers);
    let mut entries = Map::new();
    for (index, chunk) in tools.chunks(per).enumerate() {
        let mut chunk = chunk.to_vec();
        if index < 2 * CHANGING {
            chunk.push(json!({"name": "ping", "description": "Answer.", "inputSchema": {"type": "object"}}));
        }
        let file = lists.join(format!("s{index:03}.json"));
        std::fs::write(&file, serde_json::to_vec(&chunk)?)?;
        let mut args = vec![json!("--tools-file"), json!(file)];
        if index < CHANGING && servers == 200 {
            args.extend([json!("--mode"), json!("list-changed")]);
        }
        entries.insert(
            format!("s{index:03}"),
            json!({"command": fake, "args": args}),
        );
    }
    let config = folder.join(format!("k{servers}.json"));
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({"mcpServers": entries}))?,
    )?;
    Ok(config)
}

/// A config of one fake server per recorded server (Twilio's full set left out: 1,535 tools),
/// each listing that server's real tools; and how many servers it has.
fn write_recorded_config(folder: &Path, fake: &Path) -> BenchResult<(PathBuf, usize)> {
    let lists = folder.join("recorded");
    std::fs::create_dir_all(&lists)?;
    let mut entries = Map::new();
    for server in combined_catalogs()?
        .into_iter()
        .filter(|server| server.server != "twilio-all-services")
    {
        let file = lists.join(format!("{}.json", server.server));
        std::fs::write(&file, serde_json::to_vec(&server.tools)?)?;
        entries.insert(
            server.server,
            json!({"command": fake, "args": ["--tools-file", file]}),
        );
    }
    let servers = entries.len();
    let config = folder.join("recorded.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({"mcpServers": entries}))?,
    )?;
    Ok((config, servers))
}

async fn list_files(pool: &Pool, entry: &str, path: &str) -> BenchResult<Vec<String>> {
    let mut arguments = Map::new();
    arguments.insert("path".to_owned(), json!(path));
    let response = pool
        .call_tool(
            entry,
            "list_files",
            arguments,
            Duration::from_secs(60),
            None,
        )
        .await
        .map_err(|error| format!("list_files on {entry} failed: {error}"))?;
    // One entry per line, a folder's summary after `  # `.
    let entries = response
        .content
        .iter()
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .flat_map(str::lines)
        .map(|line| line.split("  # ").next().unwrap_or(line).trim().to_owned())
        .filter(|entry| !entry.is_empty())
        .collect();
    Ok(entries)
}

/// The `sluice serve` process of a pool entry (its config file's name is the entry's).
fn gateway_pid(entry: &str) -> Option<u32> {
    gateways(&processes(), &format!("scale/{entry}.json"))
        .first()
        .copied()
}

/// CPU time of every thread of a process so far, in ms.
fn cpu_ms(pid: u32) -> f64 {
    let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
        return 0.0;
    };
    tasks
        .flatten()
        .filter_map(|task| std::fs::read_to_string(task.path().join("schedstat")).ok())
        .filter_map(|text| text.split_whitespace().next()?.parse::<f64>().ok())
        .sum::<f64>()
        / 1e6
}
