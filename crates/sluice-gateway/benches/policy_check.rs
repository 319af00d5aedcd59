//! `cargo bench -p sluice-gateway --bench policy_check`: what the tool policy adds to every tool
//! call from code. The gateway's first step of a call (`governance::check`: held tools, denied
//! tools, then the policy's decision for the tool and its annotations) on a snapshot of 10
//! servers with 50 tools each, without a policy and with one of 101 patterns (per server: a
//! default shortcut, globs and exact names; and `*`), median time per check.

// A benchmark's report is its output.
#![allow(clippy::print_stdout)]

use std::collections::BTreeMap;
use std::hint::black_box;
use std::time::{Duration, Instant};

use serde_json::json;
use sluice_gateway::Snapshot;
use sluice_gateway::governance::bench;
use sluice_policy::ToolPolicy;

const VERBS: [&str; 10] = [
    "get", "list", "search", "create", "update", "delete", "close", "merge", "write", "read",
];

fn median(mut check: impl FnMut()) -> Duration {
    const CALLS: u32 = 100_000;
    let mut samples = Vec::new();
    for _ in 0..15 {
        let start = Instant::now();
        for _ in 0..CALLS {
            check();
        }
        samples.push(start.elapsed() / CALLS);
    }
    samples.sort();
    samples[samples.len() / 2]
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let servers: Vec<String> = (0..10).map(|index| format!("server{index}")).collect();
    let mut tools = BTreeMap::new();
    for server in &servers {
        let list: Vec<serde_json::Value> = (0..50)
            .map(|index| {
                let verb = VERBS[index % VERBS.len()];
                json!({
                    "name": format!("{verb}_thing_{index}"),
                    "description": "A tool.",
                    "inputSchema": {"type": "object", "properties": {"id": {"type": "string"}}},
                    "annotations": {"readOnlyHint": matches!(verb, "get" | "list" | "search" | "read"),
                                    "destructiveHint": matches!(verb, "delete" | "write")},
                })
            })
            .collect();
        tools.insert(server.clone(), list);
    }
    let plain = Snapshot::build(1, tools, Vec::new());
    let names: Vec<&str> = servers.iter().map(String::as_str).collect();
    let mut entries: Vec<(String, String)> = vec![("*".into(), "ask".into())];
    for server in &servers {
        entries.push((format!("{server}.*"), "denyDestructive".into()));
        entries.push((format!("{server}.delete_*"), "deny".into()));
        entries.push((format!("{server}.get_*"), "allow".into()));
        entries.push((format!("{server}.list_*"), "allow".into()));
        entries.push((format!("{server}.search_*"), "readOnly".into()));
        entries.push((format!("{server}.merge_*"), "ask".into()));
        entries.push((format!("{server}.close_thing_?6"), "deny".into()));
        entries.push((format!("{server}.update_thing_4"), "ask".into()));
        entries.push((format!("{server}.create_thing_3"), "allow".into()));
        entries.push((format!("{server}.write_thing_8"), "allow".into()));
    }
    let policy = ToolPolicy::new(
        entries
            .iter()
            .map(|(pattern, value)| (pattern.as_str(), value.as_str())),
        &names,
    )?;
    let governed = bench::with_policy(&plain, policy);
    let cases = [
        ("exact name", "server4", "create_thing_3"),
        ("glob", "server4", "get_thing_10"),
        ("server default", "server4", "read_thing_9"),
        ("denied (withheld)", "server4", "delete_thing_5"),
    ];
    println!("tool policy check per call, 10 servers x 50 tools:");
    for (label, server, tool) in cases {
        let none = median(|| {
            black_box(bench::check(&plain, black_box(server), black_box(tool)));
        });
        let with = median(|| {
            black_box(bench::check(&governed, black_box(server), black_box(tool)));
        });
        println!(
            "  {label:<18} no policy {:>5} ns   {} patterns {:>5} ns (outcome {})",
            none.as_nanos(),
            entries.len(),
            with.as_nanos(),
            bench::check(&governed, server, tool)
        );
    }
    Ok(())
}
