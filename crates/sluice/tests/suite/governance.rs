//! The tool policy (`sluice.tools`) in front of the real reference servers: denied tools are
//! absent from the tree and from search, a call to one from code fails with the `ToolError`
//! kind `denied` naming the rule (audited), `ask` refuses with `approval_required`, and the
//! policy reloads when the config file changes, without a restart.

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, everything_server, filesystem_server};

use super::common::{
    audit_records, call, execute, run_legacy_client, run_ops_with_data, text, write_config,
};

/// Every file name the `list_files` result shows.
fn listed(result: &Value) -> String {
    text(result)
}

/// The code tries each tool and prints `tool: ok` or `tool: KIND MESSAGE`.
const TRY_EACH: &str = r#"import { callMCPTool } from "./runtime";
const attempts = [
  ["filesystem", "write_file", { path: "$DIR/written.txt", content: "x" }],
  ["filesystem", "move_file", { source: "$DIR/a.txt", destination: "$DIR/b.txt" }],
  ["filesystem", "list_allowed_directories", {}],
  ["filesystem", "create_directory", { path: "$DIR/sub" }],
  ["filesystem", "edit_file", { path: "$DIR/a.txt", edits: [{ oldText: "hello", newText: "hi" }] }],
  ["filesystem", "read_text_file", { path: "$DIR/a.txt" }],
  ["everything", "echo", { message: "hi" }],
  ["everything", "toggle-simulated-logging", {}],
];
for (const [server, tool, input] of attempts) {
  try {
    await callMCPTool(server, tool, input);
    console.log(`${tool}: ok`);
  } catch (error) {
    console.log(`${tool}: ${error.kind} ${error.message}`);
  }
}"#;

#[test]
fn each_rule_kind_against_real_servers() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path().canonicalize().expect("canonical");
    std::fs::write(dir.join("a.txt"), "hello").expect("write");
    let config = write_config(
        McpConfig::new()
            .server("everything", &everything_server())
            .server("filesystem", &filesystem_server([&dir])),
        json!({"tools": {
            "everything.*": "readOnly",
            "filesystem.*": "denyDestructive",
            "filesystem.edit_file": "allow",
            "filesystem.create_directory": "ask",
            "filesystem.list_allowed_*": "deny",
        }}),
    );
    let code = TRY_EACH.replace("$DIR", &dir.display().to_string());
    let results = run_ops_with_data(
        config.path(),
        data.path(),
        json!([
            call("list_files", json!({"path": "servers/filesystem"})),
            call("list_files", json!({"path": "servers/everything"})),
            call(
                "search_tools",
                json!({"query": "write a new file", "server": "filesystem", "detail": "name"})
            ),
            execute(&code),
        ]),
    );
    assert_eq!(results.len(), 4, "{results:?}");
    let filesystem = listed(&results[0]);
    for absent in ["writeFile.ts", "moveFile.ts", "listAllowedDirectories.ts"] {
        assert!(
            !filesystem.contains(absent),
            "{absent} listed: {filesystem}"
        );
    }
    for present in ["editFile.ts", "createDirectory.ts", "readTextFile.ts"] {
        assert!(
            filesystem.contains(present),
            "{present} missing: {filesystem}"
        );
    }
    let everything = listed(&results[1]);
    assert!(everything.contains("echo.ts"), "{everything}");
    assert!(
        !everything.contains("toggleSimulatedLogging.ts"),
        "{everything}"
    );
    let found = text(&results[2]);
    assert!(
        !found.contains("write_file") && !found.contains("writeFile"),
        "{found}"
    );
    assert!(found.contains("edit"), "{found}");

    let shown = text(&results[3]);
    let line = |tool: &str| {
        shown
            .lines()
            .find(|line| line.starts_with(&format!("{tool}: ")))
            .unwrap_or_default()
            .to_owned()
    };
    let write = line("write_file");
    assert!(write.starts_with("write_file: denied "), "{shown}");
    assert!(
        write.contains("rule \"filesystem.*\": \"denyDestructive\"")
            && write.contains("annotated destructiveHint"),
        "{write}"
    );
    assert!(
        line("move_file").starts_with("move_file: denied "),
        "{shown}"
    );
    assert!(
        line("list_allowed_directories")
            .contains("denied filesystem.list_allowed_directories: denied by the tool policy: rule \"filesystem.list_allowed_*\": \"deny\""),
        "{shown}"
    );
    assert!(
        line("create_directory").starts_with("create_directory: approval_required "),
        "{shown}"
    );
    assert_eq!(line("edit_file"), "edit_file: ok", "{shown}");
    assert_eq!(line("read_text_file"), "read_text_file: ok", "{shown}");
    assert_eq!(line("echo"), "echo: ok", "{shown}");
    let toggle = line("toggle-simulated-logging");
    assert!(
        toggle.contains("denied") && toggle.contains("not annotated readOnlyHint"),
        "{shown}"
    );
    // Nothing refused reached the server.
    assert!(!dir.join("written.txt").exists());
    assert!(!dir.join("sub").exists());
    assert!(dir.join("a.txt").exists());

    let records = audit_records(data.path());
    let outcome = |tool: &str| {
        records
            .iter()
            .find(|record| record["kind"] == "tool_call" && record["tool"] == tool)
            .map(|record| record["outcome"].clone())
    };
    assert_eq!(outcome("write_file"), Some(json!("denied")), "{records:?}");
    assert_eq!(outcome("toggle-simulated-logging"), Some(json!("denied")));
    assert_eq!(
        outcome("create_directory"),
        Some(json!("approval_required"))
    );
    assert_eq!(outcome("edit_file"), Some(json!("ok")));
    let refusal = records
        .iter()
        .find(|record| record["kind"] == "tool_call" && record["tool"] == "write_file")
        .map(|record| record["error"].as_str().unwrap_or_default().to_owned())
        .unwrap_or_default();
    assert!(
        refusal.contains("rule \"filesystem.*\": \"denyDestructive\""),
        "{refusal}"
    );
}

/// The config file is rewritten while the client stays connected (here by the filesystem
/// server itself, the config being in its folder: only the means to change it mid-session);
/// within the reload interval the newly denied tool leaves the tree and its calls fail.
#[test]
fn the_policy_reloads_when_the_config_changes() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path().canonicalize().expect("canonical");
    let servers = McpConfig::new().server("filesystem", &filesystem_server([&dir]));
    let config_path = dir.join("sluice.json");
    let write = |tools: Value| {
        let mut value = servers.to_json();
        value["sluice"] = json!({ "tools": tools });
        serde_json::to_string_pretty(&value).expect("json")
    };
    std::fs::write(&config_path, write(json!({}))).expect("write config");
    let stricter = write(json!({"filesystem.write_*": "deny"}));
    let rewrite = format!(
        r#"import {{ callMCPTool }} from "./runtime";
await callMCPTool("filesystem", "write_file", {{ path: {path:?}, content: {stricter:?} }});
console.log("rewritten");"#,
        path = config_path.display().to_string(),
    );
    let after = format!(
        r#"import {{ callMCPTool }} from "./runtime";
try {{ await callMCPTool("filesystem", "write_file", {{ path: {path:?}, content: "x" }}); console.log("ok"); }}
catch (error) {{ console.log(error.kind); }}"#,
        path = dir.join("late.txt").display().to_string(),
    );
    let results = run_ops_with_data(
        &config_path,
        data.path(),
        json!([
            call("list_files", json!({"path": "servers/filesystem"})),
            execute(&rewrite),
            {"op": "sleep", "ms": 3000},
            call("list_files", json!({"path": "servers/filesystem"})),
            execute(&after),
        ]),
    );
    assert_eq!(results.len(), 5, "{results:?}");
    assert!(listed(&results[0]).contains("writeFile.ts"), "{results:?}");
    assert_eq!(text(&results[1]), "rewritten\n", "{results:?}");
    let listing = listed(&results[3]);
    assert!(!listing.contains("writeFile.ts"), "{listing}");
    assert!(listing.contains("readTextFile.ts"), "{listing}");
    assert_eq!(text(&results[4]), "denied\n", "{results:?}");
    assert!(!dir.join("late.txt").exists());
}

/// `sluice serve` driven by the Python SDK client with an elicitation callback that answers
/// every question with `action` after `delay_s` seconds.
fn run_with_approver(
    config: &std::path::Path,
    data_dir: &std::path::Path,
    action: &str,
    delay_s: f64,
    answer: &Value,
    ops: &Value,
) -> Value {
    let options = [
        format!("--elicit-answer={answer}"),
        format!("--elicit-action={action}"),
        format!("--elicit-delay-s={delay_s}"),
    ];
    run_legacy_client(config, data_dir, &options, ops)
}

/// `ask`: the script pauses at the call and the person is asked through the client (MCP
/// elicitation, the Python SDK's callback), shown the server, the tool and the arguments;
/// accept runs the call, decline and no answer in time throw `approval_denied` (audited).
#[test]
fn ask_waits_for_the_persons_answer() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path().canonicalize().expect("canonical");
    let config = write_config(
        McpConfig::new().server("filesystem", &filesystem_server([&dir])),
        json!({"callTimeoutMs": 1500, "tools": {"filesystem.create_directory": "ask"}}),
    );
    let code = |name: &str| {
        format!(
            r#"import {{ callMCPTool }} from "./runtime";
try {{ await callMCPTool("filesystem", "create_directory", {{ path: {path:?} }}); console.log("made"); }}
catch (error) {{ console.log(`${{error.kind}} ${{error.message}}`); }}"#,
            path = dir.join(name).display().to_string()
        )
    };
    let cases = [
        ("accept", 0.0, "accepted", "made"),
        (
            "decline",
            0.0,
            "declined",
            "approval_denied filesystem.create_directory: the call of filesystem.create_directory was not approved: the person declined it",
        ),
        (
            "accept",
            3.0,
            "late",
            "approval_denied filesystem.create_directory: the call of filesystem.create_directory was not approved: no answer within 1.5 s",
        ),
    ];
    for (action, delay, name, expected) in cases {
        let data = tempfile::tempdir().expect("tempdir");
        let output = run_with_approver(
            config.path(),
            data.path(),
            action,
            delay,
            &json!({}),
            &json!([execute(&code(name)), {"op": "elicitations"}]),
        );
        assert!(output["error"].is_null(), "{output}");
        let results = output["results"].as_array().cloned().unwrap_or_default();
        let shown = text(&results[0]);
        assert!(shown.starts_with(expected), "{action} {delay}: {shown}");
        assert_eq!(dir.join(name).exists(), expected == "made", "{shown}");
        let asked = results[1].to_string();
        assert!(
            asked.contains("create_directory") && asked.contains(name),
            "the request shows the tool and its arguments: {asked}"
        );
        let records = audit_records(data.path());
        let outcome = records
            .iter()
            .find(|record| record["kind"] == "tool_call" && record["tool"] == "create_directory")
            .map(|record| record["outcome"].clone());
        let wanted = if expected == "made" {
            "ok"
        } else {
            "approval_denied"
        };
        assert_eq!(outcome, Some(json!(wanted)), "{records:?}");
        // The question and the answer each have their own record, of the same execution.
        let events: Vec<(String, String)> = records
            .iter()
            .filter(|record| record["kind"] == "governance")
            .map(|record| {
                (
                    record["event"].as_str().unwrap_or_default().to_owned(),
                    record["detail"].as_str().unwrap_or_default().to_owned(),
                )
            })
            .collect();
        assert_eq!(events.len(), 2, "{events:?}");
        assert_eq!(events[0].0, "approval_asked", "{events:?}");
        assert!(
            events[0]
                .1
                .contains("rule \"filesystem.create_directory\": \"ask\"")
                && events[0].1.contains("sha256"),
            "{events:?}"
        );
        let (answer, detail) = match (action, delay > 0.0) {
            ("accept", false) => ("approval_accepted", "accepted"),
            ("decline", _) => ("approval_refused", "the person declined it"),
            _ => ("approval_refused", "no answer within 1.5 s"),
        };
        assert_eq!(
            (events[1].0.as_str(), events[1].1.as_str()),
            (answer, detail)
        );
        let execution = records
            .iter()
            .find(|record| record["kind"] == "execution")
            .map(|record| record["execution_id"].clone());
        assert!(
            records
                .iter()
                .filter(|record| record["kind"] == "governance")
                .all(|record| Some(record["execution_id"].clone()) == execution),
            "{records:?}"
        );
    }
}

/// "Accept for this session": the person's approval with `remember` covers the tool's later
/// calls on the same connection, without asking again.
#[test]
fn an_approval_can_be_remembered_for_the_connection() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let data = tempfile::tempdir().expect("tempdir");
    let dir = scratch.path().canonicalize().expect("canonical");
    let config = write_config(
        McpConfig::new().server("filesystem", &filesystem_server([&dir])),
        json!({"tools": {"filesystem.create_directory": "ask"}}),
    );
    let code = |name: &str| {
        format!(
            r#"import {{ callMCPTool }} from "./runtime";
await callMCPTool("filesystem", "create_directory", {{ path: {path:?} }});
console.log("made");"#,
            path = dir.join(name).display().to_string()
        )
    };
    let output = run_with_approver(
        config.path(),
        data.path(),
        "accept",
        0.0,
        &json!({"remember": true}),
        &json!([execute(&code("one")), execute(&code("two")), {"op": "elicitations"}]),
    );
    assert!(output["error"].is_null(), "{output}");
    let results = output["results"].as_array().cloned().unwrap_or_default();
    assert_eq!(text(&results[0]), "made\n");
    assert_eq!(text(&results[1]), "made\n");
    let asked = results[2].as_array().map_or(0, Vec::len);
    assert_eq!(asked, 1, "asked again: {}", results[2]);
    assert!(results[2].to_string().contains("Accept for this session"));
    assert!(dir.join("one").exists() && dir.join("two").exists());
}
