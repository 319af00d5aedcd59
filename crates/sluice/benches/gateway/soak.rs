//! Section 11, a soak: 10,000 executions over 8 connections (8 `sluice serve` processes with
//! default settings and the fake MCP server behind each), mixed: normal scripts with a tool call,
//! tool errors caught and not, time-outs, out-of-memory, a worker killed from outside mid-run,
//! and sessions created and evicted (more session ids than `sessions.maxSessions`). At the end,
//! for each gateway: its RSS against its RSS after the first tenth, its worker processes, zombie
//! children and open descriptors against what they were then, panics in its log, and its audit
//! log's execution records against the executions it ran.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};
use sluice_downstream::Pool;

use crate::report::{BenchResult, Report};
use crate::setup::{fake_server_release, gateways, memory_of, parse_config, processes, workers_of};
use crate::worker::SLUICE_BIN;

/// Executions in all.
pub(crate) const EXECUTIONS: usize = 10_000;
/// Connections (gateways).
const CONNECTIONS: usize = 8;
/// Target: gateway RSS at the end within this fraction of its level after the first tenth.
const RSS_GROWTH_TARGET: f64 = 0.05;

/// What an execution does, by its number.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    Normal,
    ToolErrorCaught,
    ToolErrorThrown,
    Timeout,
    OutOfMemory,
    Killed,
    Session,
}

impl Kind {
    fn of(number: usize) -> Kind {
        match number % 50 {
            0..=34 => Kind::Normal,
            35..=38 => Kind::ToolErrorCaught,
            39..=41 => Kind::ToolErrorThrown,
            42 => Kind::Timeout,
            43 => Kind::OutOfMemory,
            44 if number % 500 == 44 => Kind::Killed,
            _ => Kind::Session,
        }
    }

    fn arguments(self, number: usize) -> Map<String, Value> {
        let code = match self {
            Kind::Normal | Kind::Session => {
                "import * as f from './servers/fake';\nconst r = await f.echo({ message: 'x' });\nexport default 1;"
            }
            Kind::ToolErrorCaught => {
                "import * as f from './servers/fake';\ntry { await f.fail({}); } catch (e) { console.log(e.kind); }\nexport default 1;"
            }
            Kind::ToolErrorThrown => "import * as f from './servers/fake';\nawait f.fail({});",
            Kind::Timeout => "while (true) {}",
            Kind::OutOfMemory => "const a = []; while (true) a.push(new Array(100000).fill(1));",
            Kind::Killed => {
                "import * as f from './servers/fake';\nawait f.sleep({ ms: 3000 });\nexport default 1;"
            }
        };
        let mut arguments = Map::new();
        arguments.insert("code".to_owned(), json!(code));
        match self {
            Kind::Timeout => {
                arguments.insert("timeout_ms".to_owned(), json!(100));
            }
            // Twelve ids per connection against a limit of eight: the oldest are evicted.
            Kind::Session => {
                arguments.insert("session".to_owned(), json!(format!("s{}", number % 12)));
            }
            _ => {}
        }
        arguments
    }
}

/// What a gateway looked like at one moment.
#[derive(Debug, Clone, Copy, Default)]
struct Health {
    rss_mb: f64,
    workers: usize,
    zombies: usize,
    descriptors: usize,
}

pub(crate) async fn soak(report: &mut Report) -> BenchResult<()> {
    let folder = sluice_test_support::workspace_root().join("target/bench/soak");
    if folder.exists() {
        std::fs::remove_dir_all(&folder)?;
    }
    std::fs::create_dir_all(&folder)?;
    let fake = fake_server_release()?;
    let config = folder.join("soak.json");
    std::fs::write(
        &config,
        serde_json::to_vec(&json!({"mcpServers": {"fake": {"command": fake, "args": []}}}))?,
    )?;
    let mut entries = Map::new();
    for connection in 0..CONNECTIONS {
        entries.insert(
            format!("c{connection}"),
            // Through a shell, so that the gateway's log goes to a file (panics are counted in it).
            json!({"command": "sh", "args": [
                "-c", "exec \"$0\" serve --config \"$1\" --data-dir \"$2\" --model none 2>>\"$2.log\"",
                SLUICE_BIN, &config, folder.join(format!("data-{connection}"))
            ]}),
        );
    }
    let pool = Arc::new(Pool::start(&parse_config(
        &json!({"mcpServers": entries, "sluice": {"callTimeoutMs": 120_000}}),
    )?));
    pool.wait_connected(|_| {}).await;
    let outcome = run(report, &pool, &folder, &config).await;
    pool.shutdown().await;
    outcome
}

async fn run(
    report: &mut Report,
    pool: &Arc<Pool>,
    folder: &Path,
    config: &Path,
) -> BenchResult<()> {
    let gateways = gateway_pids(config);
    if gateways.len() != CONNECTIONS {
        return Err(format!(
            "found {} gateway processes, not {CONNECTIONS}",
            gateways.len()
        )
        .into());
    }
    let started = Instant::now();
    let failures: Failures = Arc::default();
    let tenth = EXECUTIONS / 10;
    run_range(pool, 0..tenth, &failures).await?;
    tokio::time::sleep(Duration::from_secs(1)).await;
    let early: Vec<Health> = gateways.iter().map(|pid| health(*pid)).collect();
    run_range(pool, tenth..EXECUTIONS, &failures).await?;
    tokio::time::sleep(Duration::from_secs(2)).await;
    let late: Vec<Health> = gateways.iter().map(|pid| health(*pid)).collect();
    let seconds = started.elapsed().as_secs_f64();

    let growth = early
        .iter()
        .zip(&late)
        .map(|(early, late)| late.rss_mb / early.rss_mb - 1.0)
        .fold(f64::MIN, f64::max);
    report.check(
        "soak",
        format!("{EXECUTIONS} mixed executions over {CONNECTIONS} connections: gateway RSS growth after the first tenth (largest of {CONNECTIONS})"),
        format!(
            "{:+.1}% ({:.1} MB to {:.1} MB at most; {seconds:.1} s in all)",
            growth * 100.0,
            early.iter().map(|h| h.rss_mb).fold(0.0, f64::max),
            late.iter().map(|h| h.rss_mb).fold(0.0, f64::max)
        ),
        format!("<= {:.0}%", RSS_GROWTH_TARGET * 100.0),
        growth <= RSS_GROWTH_TARGET,
    );
    // The defaults: 2 warm, 4 spares per connection, 8 sessions (each holding its worker).
    const MOST_WORKERS: usize = 2 + 4 + 8;
    let leaked_workers = late.iter().any(|late| late.workers > MOST_WORKERS);
    report.check(
        "soak",
        "worker processes per gateway at the end (2 warm, the connection's spares (4 at most) and live sessions' (8 at most))",
        format!("{:?}", late.iter().map(|h| h.workers).collect::<Vec<_>>()),
        format!("<= {MOST_WORKERS}, none leaked"),
        !leaked_workers,
    );
    let zombies: usize = late.iter().map(|h| h.zombies).sum();
    report.check(
        "soak",
        "zombie children at the end",
        zombies.to_string(),
        "0".to_owned(),
        zombies == 0,
    );
    let descriptors_grew = late
        .iter()
        .zip(&early)
        .any(|(late, early)| late.descriptors > early.descriptors + 8);
    report.check(
        "soak",
        "open descriptors per gateway, after the first tenth then at the end",
        format!(
            "{:?} then {:?}",
            early.iter().map(|h| h.descriptors).collect::<Vec<_>>(),
            late.iter().map(|h| h.descriptors).collect::<Vec<_>>()
        ),
        "no growth (within 8)".to_owned(),
        !descriptors_grew,
    );
    let (audited, panics) = audit_and_panics(folder);
    let failures = std::mem::take(&mut *failures.lock().unwrap_or_else(PoisonError::into_inner));
    let unexpected: u64 = failures.values().map(|(count, _)| count).sum();
    for (kind, (count, example)) in &failures {
        eprintln!("bench: soak: {count} unexpected answers to {kind:?}, e.g. {example}");
    }
    report.check(
        "soak",
        "execution records in the audit logs; panics in the logs; answers not as expected",
        format!(
            "{audited} of {EXECUTIONS}; {panics}; {unexpected} ({:?})",
            failures
                .iter()
                .map(|(kind, (count, _))| (*kind, *count))
                .collect::<Vec<_>>()
        ),
        format!("{EXECUTIONS}; 0; 0"),
        audited == EXECUTIONS && panics == 0 && unexpected == 0,
    );
    report.section_json(
        "soak",
        json!({
            "executions": EXECUTIONS,
            "seconds": seconds,
            "rss_growth": growth,
            "early_rss_mb": early.iter().map(|h| h.rss_mb).collect::<Vec<_>>(),
            "late_rss_mb": late.iter().map(|h| h.rss_mb).collect::<Vec<_>>(),
            "workers": late.iter().map(|h| h.workers).collect::<Vec<_>>(),
            "zombies": zombies,
            "audited": audited,
            "panics": panics,
        }),
    );
    Ok(())
}

/// Answers that were not what their kind should give: how many, and the first one.
type Failures = Arc<Mutex<BTreeMap<Kind, (u64, String)>>>;

/// Run executions `range` (numbered across connections: number % CONNECTIONS picks one), each
/// connection's in order; count answers that are not what the kind should give.
async fn run_range(
    pool: &Arc<Pool>,
    range: std::ops::Range<usize>,
    failures: &Failures,
) -> BenchResult<()> {
    let mut tasks = tokio::task::JoinSet::new();
    for connection in 0..CONNECTIONS {
        let pool = pool.clone();
        let failures = failures.clone();
        let numbers: Vec<usize> = range
            .clone()
            .filter(|n| n % CONNECTIONS == connection)
            .collect();
        tasks.spawn(async move {
            let server = format!("c{connection}");
            for number in numbers {
                let kind = Kind::of(number / CONNECTIONS);
                if let Err(answer) = one(&pool, &server, kind, number).await {
                    let mut failures = failures.lock().unwrap_or_else(PoisonError::into_inner);
                    let entry = failures.entry(kind).or_insert((0, answer));
                    entry.0 += 1;
                }
            }
        });
    }
    while let Some(done) = tasks.join_next().await {
        done?;
    }
    Ok(())
}

/// One execution; its answer when it is not the one its kind should give.
async fn one(pool: &Pool, server: &str, kind: Kind, number: usize) -> Result<(), String> {
    let killer = matches!(kind, Kind::Killed).then(|| {
        let server = server.to_owned();
        tokio::spawn(async move {
            tokio::time::sleep(Duration::from_millis(300)).await;
            kill_workers(&server);
        })
    });
    let response = pool
        .call_tool(
            server,
            "execute_code",
            kind.arguments(number),
            Duration::from_secs(60),
            None,
        )
        .await;
    if let Some(killer) = killer {
        let _ = killer.await;
    }
    let response = response.map_err(|error| error.to_string())?;
    let report = response.structured_content.unwrap_or(Value::Null);
    let error_kind = report
        .get("error")
        .and_then(|error| error.get("type"))
        .and_then(Value::as_str)
        .unwrap_or("");
    let expected = match kind {
        Kind::Normal | Kind::ToolErrorCaught => report.get("result") == Some(&json!(1)),
        // A session whose idle worker was killed with the others ends, and says so.
        Kind::Session => {
            report.get("result") == Some(&json!(1))
                || matches!(error_kind, "SessionLimit" | "WorkerCrashed")
        }
        Kind::ToolErrorThrown => !error_kind.is_empty(),
        Kind::Timeout => error_kind == "Timeout",
        Kind::OutOfMemory => error_kind == "OutOfMemory",
        Kind::Killed => error_kind == "WorkerCrashed",
    };
    match expected {
        true => Ok(()),
        false => Err(report.to_string().chars().take(300).collect()),
    }
}

/// SIGKILL every worker of gateway `server` (children whose command line says `worker`): the
/// one running the execution (it waits in a 3 s tool call) and the idle ones, which the gateway
/// must find dead when it next takes them.
fn kill_workers(server: &str) {
    let all = processes();
    let gateway = gateways(&all, &format!("data-{}", &server[1..]));
    for worker in workers_of(&all, &gateway) {
        let _ = std::process::Command::new("kill")
            .args(["-9", &worker.to_string()])
            .status();
    }
}

fn gateway_pids(config: &Path) -> Vec<u32> {
    gateways(&processes(), &config.display().to_string())
}

fn health(pid: u32) -> Health {
    let all = processes();
    let children = workers_of(&all, &[pid]);
    let zombies = all
        .iter()
        .filter(|(child, parent, _)| {
            *parent == pid
                && std::fs::read_to_string(format!("/proc/{child}/stat"))
                    .ok()
                    .and_then(|stat| {
                        stat.rsplit_once(')')
                            .map(|(_, rest)| rest.trim_start().starts_with('Z'))
                    })
                    .unwrap_or(false)
        })
        .count();
    let descriptors = std::fs::read_dir(format!("/proc/{pid}/fd")).map_or(0, Iterator::count);
    Health {
        rss_mb: memory_of(pid).map_or(0.0, |memory| memory.2),
        workers: children.len(),
        zombies,
        descriptors,
    }
}

/// Execution records in every gateway's audit log, and lines saying a thread panicked in the
/// gateways' logs.
fn audit_and_panics(folder: &Path) -> (usize, usize) {
    let mut audited = 0;
    let mut panics = 0;
    for connection in 0..CONNECTIONS {
        if let Ok(log) = std::fs::read_to_string(folder.join(format!("data-{connection}.log"))) {
            panics += log.lines().filter(|line| line.contains("panicked")).count();
        }
        let audit: PathBuf = folder.join(format!("data-{connection}")).join("audit");
        let Ok(files) = std::fs::read_dir(&audit) else {
            continue;
        };
        for file in files.flatten() {
            let Ok(text) = std::fs::read_to_string(file.path()) else {
                continue;
            };
            audited += text
                .lines()
                .filter(|line| line.contains("\"kind\":\"execution\""))
                .count();
        }
    }
    (audited, panics)
}
