//! The Python SDK client script (`tests/clients/mcp_client.py`) against the fake server, and the
//! real test servers through it: the harness that other crates' tests rely on, tested.
//!
//! These need `scripts/test` to have installed the test dependencies; without them they fail.

// Test code: a failed unwrap is a failed test (clippy.toml allows it only inside #[test] fns).
#![allow(clippy::unwrap_used)]

use serde_json::{Value, json};
use sluice_test_support::{
    ServerCommand, everything_server, fake_server_bin, filesystem_server, git_server,
    memory_server, run_python_client, time_server,
};

fn fake(modes: &[&str]) -> ServerCommand {
    let mut command = ServerCommand::new(env!("CARGO_BIN_EXE_fake-mcp-server"));
    for mode in modes {
        command = command.arg(format!("--mode={mode}"));
    }
    command
}

fn tool_names(list: &Value) -> Vec<&str> {
    list["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect()
}

#[test]
fn sdk_lists_and_calls_tools_of_the_fake_server() {
    let out = run_python_client(
        &fake(&[]),
        &json!([
            {"op": "initialize_result"},
            {"op": "list_tools"},
            {"op": "call_tool", "name": "echo", "arguments": {"message": "hi"}},
            {"op": "call_tool", "name": "add", "arguments": {"a": 1, "b": 2}},
            {"op": "call_tool", "name": "fail", "arguments": {}},
            {"op": "ping"}
        ]),
    )
    .ok();
    assert_eq!(out["server_info"]["name"], "fake");
    // The SDK probes `server/discover`, gets -32601 and falls back to `initialize`.
    assert_eq!(out["protocol_version"], "2025-11-25");
    assert_eq!(out["instructions"], "Fake MCP server for Sluice's tests.");
    let results = out["results"].as_array().unwrap();
    assert_eq!(results[0]["serverInfo"]["name"], "fake");
    assert_eq!(
        tool_names(&results[1]),
        ["echo", "add", "fail", "sleep", "big"]
    );
    assert_eq!(results[2]["content"][0]["text"], "hi");
    assert_eq!(results[2]["isError"], false);
    assert_eq!(results[3]["structuredContent"], json!({"sum": 3}));
    assert_eq!(results[4]["isError"], true);
    assert_eq!(results[5], json!({}));
}

#[test]
fn sdk_survives_garbage_and_answers_unknown_requests() {
    let out = run_python_client(
        &fake(&["garbage-stdout"]),
        &json!([
            {"op": "sleep", "ms": 300},
            {"op": "call_tool", "name": "saw_unknown_answer", "arguments": {}},
            {"op": "call_tool", "name": "echo", "arguments": {"message": "ok"}},
            {"op": "notifications"}
        ]),
    )
    .ok();
    let results = &out["results"];
    assert_eq!(results[1]["content"][0]["text"], "true");
    assert_eq!(
        results[1]["structuredContent"]["response"]["error"]["code"],
        -32601
    );
    assert_eq!(results[2]["content"][0]["text"], "ok");
    // Each non-JSON-RPC line reached the session as a transport error, and was survived.
    assert!(
        !results[3]["transport_errors"]
            .as_array()
            .unwrap()
            .is_empty()
    );
}

#[test]
fn sdk_rejects_a_tool_list_with_untyped_input_schemas() {
    // What a server that forwards broken schemas unrepaired does to a real client: the whole
    // list is refused (the Python SDK validates `inputSchema.type`). Sluice must repair them.
    let out = run_python_client(
        &fake(&["no-type-schema"]),
        &json!([{"op": "list_tools", "expect_error": true}]),
    )
    .ok();
    let error = &out["results"][0]["error"];
    assert_eq!(error["type"], "ValidationError");
    assert!(
        error["message"]
            .as_str()
            .unwrap()
            .contains("inputSchema.type"),
        "{error}"
    );
}

#[test]
fn list_changed_notification_reaches_the_sdk() {
    let out = run_python_client(
        &fake(&["list-changed"]),
        &json!([
            {"op": "call_tool", "name": "echo", "arguments": {"message": "x"}},
            {"op": "wait_notification", "method": "notifications/tools/list_changed"},
            {"op": "list_tools"}
        ]),
    )
    .ok();
    assert!(tool_names(&out["results"][2]).contains(&"extra"));
}

#[test]
fn expected_errors_are_recorded_and_the_run_goes_on() {
    let out = run_python_client(
        &fake(&[]),
        &json!([
            {"op": "call_tool", "name": "sleep", "arguments": {"ms": 3000}, "timeout_s": 0.3,
             "expect_error": true},
            {"op": "call_tool", "name": "nope", "arguments": {}, "expect_error": true},
            {"op": "call_tool", "name": "echo", "arguments": {"message": "after"}}
        ]),
    )
    .ok();
    let results = &out["results"];
    assert_eq!(results[0]["error"]["type"], "MCPError");
    assert_eq!(results[1]["error"]["code"], -32602);
    assert_eq!(results[2]["content"][0]["text"], "after");
}

#[test]
fn failures_are_json_with_an_error_and_a_nonzero_exit() {
    let run = run_python_client(&fake(&["exit-at-start"]), &json!([{"op": "list_tools"}]));
    assert!(!run.status.success());
    assert_eq!(run.output["error"]["op_index"], Value::Null);
    assert!(run.output["error"]["message"].is_string(), "{}", run.stdout);

    let run = run_python_client(
        &fake(&["crash-after-calls=2"]),
        &json!([
            {"op": "call_tool", "name": "echo", "arguments": {"message": "1"}},
            {"op": "call_tool", "name": "echo", "arguments": {"message": "2"}}
        ]),
    );
    assert!(!run.status.success());
    assert_eq!(run.output["error"]["op_index"], 1);
    assert_eq!(run.output["results"].as_array().unwrap().len(), 1);

    let run = run_python_client(&fake(&[]), &json!([{"op": "no_such_op"}]));
    assert!(!run.status.success());
    assert_eq!(run.output["error"]["type"], "ValueError");
}

#[test]
fn hanging_server_ends_at_the_client_deadline() {
    let client = sluice_test_support::python_client(&fake(&["hang-initialize"]))
        .arg("--timeout=1")
        .arg("--script=/dev/null");
    let output = client.std_command().output().unwrap();
    assert!(!output.status.success());
    let out: Value = serde_json::from_slice(&output.stdout).unwrap();
    assert_eq!(out["error"]["type"], "TimeoutError");
}

#[test]
fn fake_server_bin_builds_the_binary_for_other_crates() {
    let bin = fake_server_bin();
    assert!(bin.is_file(), "{}", bin.display());
    assert_eq!(bin.file_name().unwrap(), "fake-mcp-server");
}

/// The real servers `scripts/test` installs start, and list the tools the design notes saw.
fn assert_real_server_lists(server: &ServerCommand, at_least: usize, some_tool: &str) {
    let out = run_python_client(server, &json!([{"op": "list_tools"}])).ok();
    let names = tool_names(&out["results"][0]);
    assert!(names.len() >= at_least, "{names:?}");
    assert!(names.contains(&some_tool), "{names:?}");
}

#[test]
fn real_everything_server() {
    let out = run_python_client(
        &everything_server(),
        &json!([
            {"op": "list_tools"},
            {"op": "call_tool", "name": "echo", "arguments": {"message": "hi"}},
            {"op": "call_tool", "name": "get-sum", "arguments": {"a": 2, "b": 3}}
        ]),
    )
    .ok();
    assert_eq!(tool_names(&out["results"][0]).len(), 13);
    assert_eq!(out["results"][1]["content"][0]["text"], "Echo: hi");
    assert!(
        out["results"][2]["content"][0]["text"]
            .as_str()
            .unwrap()
            .contains('5')
    );
}

#[test]
fn real_filesystem_server() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("a.txt"), "hello from a file").unwrap();
    let file = dir.path().canonicalize().unwrap().join("a.txt");
    let out = run_python_client(
        &filesystem_server([dir.path()]),
        &json!([
            {"op": "list_tools"},
            {"op": "call_tool", "name": "read_text_file", "arguments": {"path": file}}
        ]),
    )
    .ok();
    assert_eq!(tool_names(&out["results"][0]).len(), 14);
    assert_eq!(
        out["results"][1]["structuredContent"]["content"],
        "hello from a file"
    );
}

#[test]
fn real_memory_server() {
    let dir = tempfile::tempdir().unwrap();
    assert_real_server_lists(
        &memory_server(dir.path().join("memory.jsonl")),
        9,
        "read_graph",
    );
}

#[test]
fn real_time_server() {
    assert_real_server_lists(&time_server(), 2, "get_current_time");
}

#[test]
fn real_git_server() {
    let dir = tempfile::tempdir().unwrap();
    let status = std::process::Command::new("git")
        .args(["init", "--quiet"])
        .arg(dir.path())
        .status()
        .unwrap();
    assert!(status.success());
    assert_real_server_lists(&git_server(dir.path()), 12, "git_status");
}
