//! Driving an MCP server with the official Python SDK (`tests/clients/mcp_client.py`).

use std::io::Write;
use std::path::PathBuf;
use std::process::{ExitStatus, Stdio};

use serde_json::Value;

use crate::{ServerCommand, venv_python, workspace_root};

/// `tests/clients/mcp_client.py`, the Python SDK client script.
pub fn python_client_script() -> PathBuf {
    workspace_root()
        .join("tests")
        .join("clients")
        .join("mcp_client.py")
}

/// The command that runs the Python client against `server` (venv python + script + `--command`,
/// `--arg`, `--env`). Add options (`--mode legacy`, `--timeout S`, `--script FILE`,
/// `--inherit-env`) with [`ServerCommand::arg`]; without `--script` it reads the ops JSON from
/// stdin. Use this from async tests via [`ServerCommand::tokio_command`]; [`run_python_client`]
/// blocks.
///
/// Like every Python SDK client, it starts the server with a minimal environment (HOME, LOGNAME,
/// PATH, SHELL, TERM, USER) plus `server.env`, unless `--inherit-env` is given.
pub fn python_client(server: &ServerCommand) -> ServerCommand {
    let script = python_client_script().to_string_lossy().into_owned();
    let mut command = ServerCommand::new(venv_python().to_string_lossy().into_owned())
        .arg(script)
        .arg("--command")
        .arg(server.command.clone());
    // `--opt=value`, so values that start with '-' are not taken for options.
    for arg in &server.args {
        command = command.arg(format!("--arg={arg}"));
    }
    for (key, value) in &server.env {
        command = command.arg(format!("--env={key}={value}"));
    }
    command
}

/// What one run of the Python client produced.
#[derive(Debug)]
pub struct ClientRun {
    /// Exit status of the client (0 when every op succeeded).
    pub status: ExitStatus,
    /// The JSON object it printed (`server_info`, `protocol_version`, `instructions`,
    /// `results`, and `error` on failure), or `Null` if stdout was not JSON.
    pub output: Value,
    /// Raw stdout.
    pub stdout: String,
    /// Its stderr, with the server's stderr (the SDK passes it through).
    pub stderr: String,
}

impl ClientRun {
    /// The output, after checking that the run succeeded; panics with the details otherwise.
    pub fn ok(self) -> Value {
        if !self.status.success() || self.output.is_null() || self.output.get("error").is_some() {
            panic!(
                "the Python MCP client failed ({}).\nstdout: {}\nstderr: {}",
                self.status, self.stdout, self.stderr
            );
        }
        self.output
    }
}

/// Runs the official Python MCP client against `server` with `ops` (a JSON array such as
/// `[{"op": "list_tools"}, {"op": "call_tool", "name": "echo", "arguments": {...}}]`) and
/// returns what it printed. Blocking; it ends within the client's own timeout (60 s default).
///
/// Panics if the client cannot be started (e.g. the venv is missing: run `scripts/test`).
pub fn run_python_client(server: &ServerCommand, ops: &Value) -> ClientRun {
    run_client_command(python_client(server).std_command(), ops)
}

/// Run a Python client `command` (one built by [`python_client`], or the script with `--url`
/// for Streamable HTTP) to its end with `ops` on its stdin, and collect what it printed.
///
/// Panics if the client cannot be started (e.g. the venv is missing: run `scripts/test`).
pub fn run_client_command(mut command: std::process::Command, ops: &Value) -> ClientRun {
    let mut child = command
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the Python MCP client: {e}"));
    if let Some(mut stdin) = child.stdin.take() {
        // A write error means the client exited early; its output says why.
        let _ = stdin.write_all(ops.to_string().as_bytes());
    }
    let output = child
        .wait_with_output()
        .unwrap_or_else(|e| panic!("waiting for the Python MCP client failed: {e}"));
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    ClientRun {
        status: output.status,
        output: serde_json::from_str(&stdout).unwrap_or(Value::Null),
        stdout,
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    }
}
