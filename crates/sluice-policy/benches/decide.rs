//! `cargo bench -p sluice-policy --bench decide`: the median time of one policy check, as the
//! gateway makes it for every tool call from agent code, on a policy of 37 patterns over 10
//! servers (globs, exact names, shortcuts), for a tool decided by an exact name, by a glob, by
//! the server's default and by `*`.

// A benchmark's report is its output.
#![allow(clippy::print_stdout)]

use std::hint::black_box;
use std::time::{Duration, Instant};

use sluice_policy::{ToolHints, ToolPolicy};

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let servers: Vec<String> = (0..10).map(|index| format!("server{index}")).collect();
    let names: Vec<&str> = servers.iter().map(String::as_str).collect();
    let mut entries: Vec<(String, String)> = vec![("*".into(), "ask".into())];
    for server in &servers[..9] {
        entries.push((format!("{server}.*"), "denyDestructive".into()));
        entries.push((format!("{server}.delete_*"), "deny".into()));
        entries.push((format!("{server}.get_*"), "allow".into()));
        entries.push((format!("{server}.write_file"), "ask".into()));
    }
    let policy = ToolPolicy::new(
        entries
            .iter()
            .map(|(pattern, value)| (pattern.as_str(), value.as_str())),
        &names,
    )?;
    let hints = ToolHints {
        read_only: false,
        destructive: true,
    };
    let cases = [
        ("exact name", "server4", "write_file"),
        ("glob", "server4", "get_repository_contents"),
        ("server default", "server4", "create_pull_request_review"),
        ("\"*\"", "server9", "anything"),
    ];
    println!("policy check, {} patterns:", entries.len());
    for (label, server, tool) in cases {
        const CALLS: u32 = 100_000;
        let mut samples = Vec::new();
        for _ in 0..15 {
            let start = Instant::now();
            for _ in 0..CALLS {
                black_box(policy.decide(black_box(server), black_box(tool), hints));
            }
            samples.push(start.elapsed() / CALLS);
        }
        samples.sort();
        let median: Duration = samples[samples.len() / 2];
        println!(
            "  {label:<16} {:>7.0} ns per check",
            median.as_nanos() as f64
        );
    }
    Ok(())
}
