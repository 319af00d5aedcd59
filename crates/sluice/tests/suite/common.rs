//! Helpers shared by the suite.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, ServerCommand, run_python_client};

/// The data folder of tests that do not care about it: one per test process, under the temp
/// folder, so no test writes into the user's own data folder.
pub fn shared_data_dir() -> PathBuf {
    static DIR: OnceLock<PathBuf> = OnceLock::new();
    DIR.get_or_init(|| {
        let dir = std::env::temp_dir().join(format!("sluice-tests-{}", std::process::id()));
        std::fs::create_dir_all(&dir).expect("create the shared test data folder");
        dir
    })
    .clone()
}

/// The `sluice` binary with the shared test data folder.
pub fn sluice_command() -> Command {
    let mut command = Command::new(env!("CARGO_BIN_EXE_sluice"));
    command.env("SLUICE_DATA_DIR", shared_data_dir());
    command
}

/// Run `sluice` with `args` and no stdin, expecting it to refuse to start: its stderr.
pub fn refused<I, A>(args: I) -> String
where
    I: IntoIterator<Item = A>,
    A: AsRef<std::ffi::OsStr>,
{
    let output = Command::new(env!("CARGO_BIN_EXE_sluice"))
        .args(args)
        .stdin(std::process::Stdio::null())
        .output()
        .expect("run sluice");
    assert!(!output.status.success(), "sluice started");
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// `sluice serve --config PATH` as a server command for the Python client.
pub fn sluice_serve(config: &Path) -> ServerCommand {
    sluice_serve_with_data(config, &shared_data_dir())
}

/// `sluice serve --config PATH --data-dir DIR`.
pub fn sluice_serve_with_data(config: &Path, data_dir: &Path) -> ServerCommand {
    ServerCommand::new(env!("CARGO_BIN_EXE_sluice"))
        .arg("serve")
        .arg("--config")
        .arg(config.to_string_lossy().into_owned())
        .arg("--data-dir")
        .arg(data_dir.to_string_lossy().into_owned())
        .env("SLUICE_LOG", "warn")
}

/// Run the Python SDK client against `sluice serve` (no encoder) with `ops`, on the 2025-11-25
/// protocol, where a server may send requests (elicitation) during a call (2026-07-28 has none;
/// there a tool returns an input-required result instead). `options` are the client's own
/// (`--elicit-answer=...`). Panics when the client fails.
pub fn run_legacy_client(config: &Path, data_dir: &Path, options: &[String], ops: &Value) -> Value {
    let serve = sluice_serve_with_data(config, data_dir)
        .arg("--model")
        .arg("none");
    let mut client = sluice_test_support::python_client(&serve)
        .arg("--mode")
        .arg("legacy");
    for option in options {
        client = client.arg(option.clone());
    }
    sluice_test_support::run_client_command(client.std_command(), ops).ok()
}

/// Write `config` (plus Sluice settings) to a temporary file.
pub fn write_config(config: McpConfig, settings: Value) -> tempfile::NamedTempFile {
    let mut value = config.to_json();
    value["sluice"] = settings;
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(
        file.path(),
        serde_json::to_vec_pretty(&value).expect("json"),
    )
    .expect("write config");
    file
}

/// Run ops against `sluice serve` with the Python SDK and return the results array.
pub fn run_ops(config: &Path, ops: Value) -> Vec<Value> {
    let output = run_python_client(&sluice_serve(config), &ops).ok();
    output["results"].as_array().cloned().unwrap_or_default()
}

/// [`run_ops`] with the gateway's data in `data_dir` (for its audit log, workspace, vault).
pub fn run_ops_with_data(config: &Path, data_dir: &Path, ops: Value) -> Vec<Value> {
    let output = run_python_client(&sluice_serve_with_data(config, data_dir), &ops).ok();
    output["results"].as_array().cloned().unwrap_or_default()
}

/// A `call_tool` op.
pub fn call(name: &str, arguments: Value) -> Value {
    json!({"op": "call_tool", "name": name, "arguments": arguments})
}

/// An `execute_code` call op.
pub fn execute(code: &str) -> Value {
    call("execute_code", json!({"code": code}))
}

/// An `execute_code` call op with a time limit.
pub fn execute_with_timeout(code: &str, timeout_ms: u64) -> Value {
    call(
        "execute_code",
        json!({"code": code, "timeout_ms": timeout_ms}),
    )
}

/// The structured content of an `execute_code` result.
pub fn structured(result: &Value) -> &Value {
    &result["structuredContent"]
}

/// The error type of an `execute_code` result, `<none>` when it succeeded.
pub fn error_type(result: &Value) -> &str {
    structured(result)["error"]["type"]
        .as_str()
        .unwrap_or("<none>")
}

/// The text of a tool result's first content block.
pub fn text(result: &Value) -> String {
    result["content"][0]["text"]
        .as_str()
        .unwrap_or_default()
        .to_owned()
}

/// Every record of the audit log under `data_dir` (its current file), as JSON.
pub fn audit_records(data_dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(data_dir.join("audit/audit.jsonl")).unwrap_or_default();
    text.lines()
        .map(|line| serde_json::from_str(line).expect("audit lines are JSON"))
        .collect()
}

/// How many worker processes (`sluice-worker`, or `sluice worker`) of the gateway using
/// `data_dir` are running.
pub fn workers_running(data_dir: &Path) -> usize {
    let data_dir = data_dir.display().to_string();
    process_parents()
        .into_iter()
        .filter(|(pid, _)| {
            std::fs::read_to_string(format!("/proc/{pid}/cmdline"))
                .is_ok_and(|cmdline| cmdline.contains("worker\0") && cmdline.contains(&data_dir))
        })
        .count()
}

/// `(pid, parent pid)` of every process, from /proc.
pub fn process_parents() -> Vec<(u32, u32)> {
    let mut parents = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return parents;
    };
    for entry in entries.flatten() {
        let Some(pid) = entry
            .file_name()
            .to_str()
            .and_then(|name| name.parse::<u32>().ok())
        else {
            continue;
        };
        let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
            continue;
        };
        // Fields after the command name, which is in parentheses: state, ppid, ...
        let Some((_, rest)) = stat.rsplit_once(')') else {
            continue;
        };
        if let Some(parent) = rest
            .split_whitespace()
            .nth(1)
            .and_then(|field| field.parse().ok())
        {
            parents.push((pid, parent));
        }
    }
    parents
}
