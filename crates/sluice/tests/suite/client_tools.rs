//! Client tools against `sluice serve`, run the way docs/clients.md says: the MCP Inspector's
//! command-line client (`@modelcontextprotocol/inspector` 2.12), with Sluice's own arguments
//! after `--` so the Inspector does not take `--config` for itself; and Claude Code's
//! `claude mcp add` and `claude mcp list` health check (`@anthropic-ai/claude-code`).

use std::process::Command;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, claude_code, everything_server, inspector};

use super::common::write_config;

/// Run `inspector --cli <inspector args> -- sluice serve --config <config>` and parse its JSON.
fn inspect(config: &std::path::Path, arguments: &[&str]) -> Value {
    let home = tempfile::tempdir().expect("home");
    let output = Command::new(inspector())
        .arg("--cli")
        .args(arguments)
        .arg("--")
        .arg(env!("CARGO_BIN_EXE_sluice"))
        .args(["serve", "--config"])
        .arg(config)
        // The Inspector keeps its own files under HOME, and Sluice its default data folder
        // (so `save_skill` is offered): keep both out of the user's.
        .env("HOME", home.path())
        .output()
        .expect("run the Inspector");
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "{stdout}\n{}",
        String::from_utf8_lossy(&output.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|error| panic!("{error}: {stdout}"))
}

#[test]
fn the_inspector_cli_lists_and_calls_sluice_tools_as_documented() {
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({}),
    );
    let listed = inspect(config.path(), &["--method", "tools/list"]);
    let names: Vec<&str> = listed["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|tool| tool["name"].as_str())
        .collect();
    assert_eq!(
        names,
        [
            "search_tools",
            "list_files",
            "read_file",
            "execute_code",
            "save_skill"
        ]
    );

    let code = "import * as e from './servers/everything';\n\
                console.log(await e.getSum({ a: 2, b: 3 }));";
    let called = inspect(
        config.path(),
        &[
            "--method",
            "tools/call",
            "--tool-name",
            "execute_code",
            "--tool-arg",
            &format!("code={code}"),
        ],
    );
    assert_eq!(called["isError"], false, "{called}");
    assert_eq!(
        called["structuredContent"]["stats"]["tool_calls"], 1,
        "{called}"
    );
    let output = called["structuredContent"]["output"]
        .as_str()
        .unwrap_or_default();
    assert!(output.contains('5'), "{called}");
}

/// `claude mcp add sluice -- /path/to/sluice serve --config ...` then `claude mcp list`, whose
/// health check starts Sluice and reports it connected.
#[test]
fn claude_code_adds_sluice_and_its_health_check_passes() {
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({}),
    );
    let home = tempfile::tempdir().expect("home");
    let claude = |arguments: &[&std::ffi::OsStr]| {
        let output = Command::new(claude_code())
            .args(arguments)
            // Claude Code keeps its settings under HOME and registers servers per project
            // folder: both are this test's own.
            .env("HOME", home.path())
            .current_dir(home.path())
            .output()
            .expect("run claude");
        let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
        assert!(
            output.status.success(),
            "{stdout}\n{}",
            String::from_utf8_lossy(&output.stderr)
        );
        stdout
    };
    let sluice = std::ffi::OsStr::new(env!("CARGO_BIN_EXE_sluice"));
    claude(&[
        "mcp".as_ref(),
        "add".as_ref(),
        "sluice".as_ref(),
        "--".as_ref(),
        sluice,
        "serve".as_ref(),
        "--config".as_ref(),
        config.path().as_os_str(),
    ]);
    let listed = claude(&["mcp".as_ref(), "list".as_ref()]);
    let line = listed
        .lines()
        .find(|line| line.starts_with("sluice:"))
        .unwrap_or_else(|| panic!("sluice is not listed: {listed}"));
    assert!(line.ends_with("Connected"), "{listed}");
}
