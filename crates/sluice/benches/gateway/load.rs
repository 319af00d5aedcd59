//! Section 12, load over HTTP: one `sluice serve --http` (this release build) with [`CLIENTS`]
//! MCP clients at once, each its own Streamable HTTP session running [`RUNS`] executions in a
//! row, each execution one tool call on the fake MCP server.
//!
//! The clients act for [`PRINCIPALS`] principals (API tokens of `sluice.http.auth`),
//! `CLIENTS / PRINCIPALS` each: every principal then has at most that many executions at once,
//! which is the per-principal default (`limits.perPrincipal.concurrentExecutions`, 8), so the
//! limits stay at their defaults and the load goes through the multi-tenant path a shared
//! gateway runs (each principal its own folders, workers and limits) instead of one principal
//! with its limits raised. A limit refusal would still be counted apart from the errors.
//!
//! Reported: errors (anything but a deliberate limit refusal), refusals, the latency of one
//! execution as its client sees it (p50, p99, max), executions per second, and the gateway's
//! RSS (its peak, `VmHWM`, and at the end) with the workers it had.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sha2::{Digest, Sha256};
use sluice_downstream::{Pool, ServerState};

use crate::report::{BenchResult, Report, finite, ms, num, percentile};
use crate::setup::{fake_server_release, parse_config, processes, returned_one, workers_of};
use crate::worker::SLUICE_BIN;

/// MCP clients at once.
pub(crate) const CLIENTS: usize = 200;
/// Executions each client runs, one after the other.
pub(crate) const RUNS: usize = 50;
/// Principals the clients act for.
pub(crate) const PRINCIPALS: usize = 25;
const _: () = assert!(CLIENTS.is_multiple_of(PRINCIPALS) && CLIENTS / PRINCIPALS <= 8);

const ONE_CALL: &str =
    "import * as f from './servers/fake';\nawait f.echo({ message: 'x' });\nexport default 1;";

/// The gateway process, killed when dropped.
struct Gateway {
    child: Child,
    url: String,
}

impl Drop for Gateway {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn token(principal: usize) -> String {
    format!("sluice-bench-load-token-{principal:02}")
}

fn start_gateway(folder: &std::path::Path) -> BenchResult<Gateway> {
    let fake = fake_server_release()?;
    let api_tokens: Vec<Value> = (0..PRINCIPALS)
        .map(|principal| {
            let digest = Sha256::digest(token(principal).as_bytes());
            let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
            json!({"name": format!("p{principal:02}"), "sha256": hex})
        })
        .collect();
    let config = folder.join("gateway.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({
            "mcpServers": {"fake": {"command": fake, "args": []}},
            "sluice": {"http": {"auth": {"apiTokens": api_tokens}}}
        }))?,
    )?;
    let data = folder.join("data");
    let _ = std::fs::remove_dir_all(&data);
    let mut child = Command::new(SLUICE_BIN)
        .args([
            "serve",
            "--http",
            "127.0.0.1:0",
            "--model",
            "none",
            "--config",
        ])
        .arg(&config)
        .arg("--data-dir")
        .arg(&data)
        .env("SLUICE_LOG", "warn")
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()?;
    let stderr = child.stderr.take().ok_or("no stderr")?;
    let (sender, receiver) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stderr).lines().map_while(Result::ok) {
            if let Some(url) = line.strip_prefix("sluice: serving MCP at ") {
                let _ = sender.send(url.to_owned());
            } else if line.contains("WARN") || line.contains("ERROR") {
                eprintln!("bench: gateway: {line}");
            }
        }
    });
    let url = receiver.recv_timeout(Duration::from_secs(60));
    let mut gateway = Gateway {
        child,
        url: String::new(),
    };
    gateway.url = url.map_err(|_| "sluice serve --http did not say where it listens")?;
    Ok(gateway)
}

/// `VmRSS` and `VmHWM` of a process, in MB.
fn rss_of(pid: u32) -> Option<(f64, f64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let field = |name: &str| {
        text.lines()
            .find_map(|line| line.strip_prefix(name))
            .and_then(|rest| rest.split_whitespace().next())
            .and_then(|kb| kb.parse::<f64>().ok())
            .map(|kb| kb / 1024.0)
    };
    Some((field("VmRSS:")?, field("VmHWM:")?))
}

/// How one execution ended.
enum Outcome {
    Done(f64),
    Refused(String),
    Failed(String),
}

async fn run_one(pool: &Pool, client: &str) -> Outcome {
    let mut arguments = Map::new();
    arguments.insert("code".to_owned(), json!(ONE_CALL));
    let started = Instant::now();
    let response = pool
        .call_tool(
            client,
            "execute_code",
            arguments,
            Duration::from_secs(120),
            None,
        )
        .await;
    let took = ms(started.elapsed());
    let limit_words = |text: &str| {
        text.contains("429") || text.contains("PrincipalLimit") || text.contains("rate_limited")
    };
    match response {
        Err(error) => {
            let message = error.to_string();
            if limit_words(&message) {
                Outcome::Refused(message)
            } else {
                Outcome::Failed(message)
            }
        }
        Ok(response) => {
            if returned_one(&response) {
                return Outcome::Done(took);
            }
            let message = format!("{:?}", response.content);
            if limit_words(&message) {
                Outcome::Refused(message)
            } else {
                Outcome::Failed(message)
            }
        }
    }
}

pub(crate) async fn load(report: &mut Report) -> BenchResult<()> {
    let folder = sluice_test_support::workspace_root().join("target/bench/load-http");
    std::fs::create_dir_all(&folder)?;
    let gateway = start_gateway(&folder)?;
    let pid = gateway.child.id();
    let mut entries = Map::new();
    for client in 0..CLIENTS {
        entries.insert(
            format!("c{client:03}"),
            json!({"url": gateway.url, "headers": {
                "Authorization": format!("Bearer {}", token(client % PRINCIPALS))
            }}),
        );
    }
    let connect_started = Instant::now();
    let pool = Arc::new(Pool::start(&parse_config(&json!({
        "mcpServers": entries,
        "sluice": {"connectTimeoutMs": 120_000, "callTimeoutMs": 120_000}
    }))?));
    pool.wait_connected(|_| {}).await;
    let connected = connect_started.elapsed();
    let statuses = pool.statuses().await;
    if let Some(down) = statuses
        .iter()
        .find(|status| !matches!(status.state, ServerState::Ready { .. }))
    {
        return Err(format!(
            "client {} did not connect: {}",
            down.name,
            down.state.describe()
        )
        .into());
    }
    let (rss_connected, _) = rss_of(pid).ok_or("cannot read the gateway's memory")?;

    // The gateway's resident memory, sampled while the load runs.
    let peak_sampled = Arc::new(AtomicU64::new(0));
    let sampling = tokio::spawn({
        let peak = peak_sampled.clone();
        async move {
            loop {
                if let Some((rss, _)) = rss_of(pid) {
                    peak.fetch_max(rss.to_bits(), Ordering::Relaxed);
                }
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    });

    let started = Instant::now();
    let mut tasks = tokio::task::JoinSet::new();
    for client in 0..CLIENTS {
        let pool = pool.clone();
        tasks.spawn(async move {
            let name = format!("c{client:03}");
            let mut outcomes = Vec::with_capacity(RUNS);
            for _ in 0..RUNS {
                outcomes.push(run_one(&pool, &name).await);
            }
            outcomes
        });
    }
    let mut latencies = Vec::with_capacity(CLIENTS * RUNS);
    let mut refusals = Vec::new();
    let mut failures = Vec::new();
    while let Some(done) = tasks.join_next().await {
        for outcome in done? {
            match outcome {
                Outcome::Done(took) => latencies.push(took),
                Outcome::Refused(message) => refusals.push(message),
                Outcome::Failed(message) => failures.push(message),
            }
        }
    }
    let elapsed = started.elapsed().as_secs_f64();
    sampling.abort();
    let workers = workers_of(&processes(), &[pid]).len();
    let (rss_end, rss_peak) = rss_of(pid).ok_or("cannot read the gateway's memory")?;
    let rss_sampled = f64::from_bits(peak_sampled.load(Ordering::Relaxed));
    pool.shutdown().await;
    drop(gateway);

    let executions = CLIENTS * RUNS;
    let mut sorted = latencies.clone();
    sorted.sort_by(f64::total_cmp);
    let (p50, p99, max) = if sorted.is_empty() {
        (f64::NAN, f64::NAN, f64::NAN)
    } else {
        (
            percentile(&sorted, 0.5),
            percentile(&sorted, 0.99),
            sorted[sorted.len() - 1],
        )
    };
    for message in failures.iter().take(3) {
        eprintln!("bench: load: an execution failed: {message}");
    }
    report.check(
        "load",
        format!(
            "{CLIENTS} HTTP clients x {RUNS} executions (one tool call each), {PRINCIPALS} principals x {} clients, default limits",
            CLIENTS / PRINCIPALS
        ),
        format!(
            "{} errors, {} limit refusals, {} done",
            failures.len(),
            refusals.len(),
            latencies.len()
        ),
        "0 errors".to_owned(),
        failures.is_empty() && latencies.len() + refusals.len() == executions,
    );
    report.row(
        "load",
        "latency of one execution as its client sees it",
        format!(
            "p50 {} ms, p99 {} ms (max {} ms)",
            num(p50),
            num(p99),
            num(max)
        ),
    );
    report.row(
        "load",
        "executions per second over all clients",
        format!(
            "{:.0}/s ({executions} in {elapsed:.1} s; {CLIENTS} sessions connected in {:.1} s)",
            executions as f64 / elapsed,
            connected.as_secs_f64()
        ),
    );
    report.row(
        "load",
        "gateway RSS",
        format!(
            "peak {rss_peak:.0} MB (VmHWM; sampled {rss_sampled:.0} MB), {rss_connected:.0} MB with the sessions open before the load, {rss_end:.0} MB after it with {workers} workers kept"
        ),
    );
    report.section_json(
        "load",
        json!({
            "clients": CLIENTS,
            "runs_per_client": RUNS,
            "principals": PRINCIPALS,
            "executions": executions,
            "done": latencies.len(),
            "errors": failures.len(),
            "error_samples": failures.iter().take(5).collect::<Vec<_>>(),
            "limit_refusals": refusals.len(),
            "latency_ms": {"p50": finite(p50), "p99": finite(p99), "max": finite(max)},
            "seconds": elapsed,
            "executions_per_second": executions as f64 / elapsed,
            "connect_seconds": connected.as_secs_f64(),
            "gateway_rss_mb": {"peak_vmhwm": rss_peak, "peak_sampled": rss_sampled, "connected": rss_connected, "end": rss_end},
            "workers_at_end": workers,
        }),
    );
    Ok(())
}
