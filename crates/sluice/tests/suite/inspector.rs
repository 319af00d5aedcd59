//! The MCP Inspector's command-line client (`@modelcontextprotocol/inspector` 2.12) against
//! `sluice serve`, run the way docs/clients.md says: Sluice's own arguments after `--`, so the
//! Inspector does not take `--config` for itself.

use std::process::Command;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, everything_server, inspector};

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
