//! Elicitation passes through (issue 18, item 5): a real downstream server (the official Python
//! SDK's `MCPServer`, `tests/clients/elicit_server.py`) asks a question during a tool call made
//! by agent code; the agent's client (the official Python SDK with an elicitation callback) gets
//! it through Sluice and its answer goes back. A client without the capability gets nothing, and
//! the call's `ToolError` says why Sluice declined.

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, venv_python, workspace_root};

use super::common::{error_type, execute, run_legacy_client, text, write_config};

const BOOK: &str = "import * as elicit from './servers/elicit';\n\
                    console.log(await elicit.bookTable({ restaurant: 'Chez Test' }));";

fn config() -> tempfile::NamedTempFile {
    let server = workspace_root().join("tests/clients/elicit_server.py");
    write_config(
        McpConfig::new().entry(
            "elicit",
            json!({"command": venv_python(), "args": [server]}),
        ),
        json!({}),
    )
}

/// `sluice serve` on stdio driven by the Python SDK client, accepting every question with
/// `answer` when given.
fn run(config: &std::path::Path, answer: Option<&Value>, ops: &Value) -> Value {
    let data = tempfile::tempdir().expect("data dir");
    let options: Vec<String> = answer
        .map(|answer| format!("--elicit-answer={answer}"))
        .into_iter()
        .collect();
    run_legacy_client(config, data.path(), &options, ops)
}

#[test]
fn a_servers_question_reaches_the_agents_client_and_its_answer_goes_back() {
    let config = config();
    let output = run(
        config.path(),
        Some(&json!({"guests": 4, "time": "20:30"})),
        &json!([execute(BOOK), {"op": "elicitations"}]),
    );
    let results = &output["results"];
    assert_eq!(
        text(&results[0]),
        "{ result: 'booked Chez Test for 4 at 20:30' }\n",
        "{}",
        results[0]
    );
    let asked = &results[1];
    assert_eq!(asked.as_array().map(Vec::len), Some(1), "{asked}");
    assert_eq!(
        asked[0]["message"],
        "How many guests at Chez Test, and when?"
    );
    let properties = &asked[0]["requestedSchema"]["properties"];
    assert_eq!(properties["guests"]["type"], "integer", "{asked}");
    assert_eq!(properties["time"]["default"], "19:00", "{asked}");
}

#[test]
fn without_the_capability_the_question_is_declined_and_the_code_sees_why() {
    let config = config();
    let code = "import * as elicit from './servers/elicit';\n\
                try { await elicit.bookTable({ restaurant: 'Chez Test' }); }\n\
                catch (e) { console.log(`${e.kind}|${e.message}`); }";
    let output = run(config.path(), None, &json!([execute(code)]));
    let shown = text(&output["results"][0]);
    assert!(shown.starts_with("tool|"), "{shown}");
    assert!(
        shown.contains("the agent's client did not declare elicitation"),
        "{shown}"
    );
    // `sluice exec` has no one to ask: declined the same way, unless told to take the defaults.
    let exec = super::common::sluice_command()
        .args(["exec", "--model", "none", "--config"])
        .arg(config.path())
        .arg("--data-dir")
        .arg(tempfile::tempdir().expect("data dir").path())
        .arg("--json")
        .arg("-")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut child| {
            use std::io::Write;
            child
                .stdin
                .take()
                .expect("stdin")
                .write_all(BOOK.as_bytes())?;
            child.wait_with_output()
        })
        .expect("sluice exec");
    let report: Value = serde_json::from_slice(&exec.stdout).expect("a JSON report");
    let wrapped = json!({"structuredContent": report});
    assert_eq!(error_type(&wrapped), "ToolError", "{report}");
    let message = report["error"]["message"].as_str().unwrap_or_default();
    assert!(message.contains("--elicitation defaults"), "{message}");
}
