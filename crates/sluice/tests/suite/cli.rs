//! The CLI's data commands: `sluice tools search` and `sluice tools tree`.

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, fake_server};

use super::common::write_config;

fn sluice(args: &[&str], config: &std::path::Path) -> (i32, String, String) {
    let output = super::common::sluice_command()
        .args(args)
        .arg("--config")
        .arg(config)
        .output()
        .expect("run sluice");
    (
        output.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

fn fake_config() -> tempfile::NamedTempFile {
    write_config(
        McpConfig::new()
            .server("alpha", &fake_server(&[]))
            .server("beta", &fake_server(&[])),
        json!({}),
    )
}

#[test]
fn tools_search_prints_text_and_json() {
    let config = fake_config();
    let (code, stdout, stderr) = sluice(&["tools", "search", "add numbers"], config.path());
    assert_eq!(code, 0, "{stderr}");
    insta::assert_snapshot!("tools_search_text", stdout);
    assert!(
        stderr.contains("sluice: connecting to 2 servers"),
        "{stderr}"
    );
    assert!(stderr.contains("alpha ready: 5 tools"), "{stderr}");

    let (code, stdout, _) = sluice(
        &[
            "tools", "search", "sleep", "--json", "--detail", "full", "--server", "beta",
        ],
        config.path(),
    );
    assert_eq!(code, 0);
    let response: Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(response["tools"][0]["server"], "beta");
    assert_eq!(response["tools"][0]["identifier"], "sleep");
    assert_eq!(response["tools"][0]["path"], "servers/beta/sleep.ts");
    assert!(
        response["tools"][0]["signature"]
            .as_str()
            .unwrap()
            .contains("export function sleep(")
    );
    assert_eq!(response["unavailable"], json!([]));
}

#[test]
fn tools_tree_writes_the_generated_files() {
    let config = fake_config();
    let out = tempfile::tempdir().expect("tempdir");
    let out_path = out.path().join("api");
    let (code, _, stderr) = sluice(
        &["tools", "tree", "--out", out_path.to_str().unwrap()],
        config.path(),
    );
    assert_eq!(code, 0, "{stderr}");
    for file in [
        "runtime.ts",
        "README.md",
        "servers/alpha/index.ts",
        "servers/alpha/echo.ts",
        "servers/beta/add.ts",
        "servers/beta/add.py",
    ] {
        assert!(out_path.join(file).is_file(), "{file} missing");
    }
    let add = std::fs::read_to_string(out_path.join("servers/beta/add.ts")).expect("read");
    assert!(
        add.contains("callMCPTool<AddOutput>(\"beta\", \"add\", input)"),
        "{add}"
    );
    // README.md, runtime.ts, an index.ts per server, a .ts and a .py per tool (10 tools).
    assert!(stderr.contains("wrote 24 files"), "{stderr}");
}

/// `sluice serve --help` and `sluice ui --help`: every flag of these commands, as a user reads
/// them (a changed flag or text shows in review).
#[test]
fn serve_and_ui_help() {
    for (command, snapshot) in [("serve", "serve_help"), ("ui", "ui_help")] {
        // clap shows the values of the variables it reads: none are set here.
        let output = std::process::Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([command, "--help"])
            .env("COLUMNS", "100")
            .env_remove("SLUICE_DATA_DIR")
            .env_remove("SLUICE_CONFIG")
            .env_remove("SLUICE_MODEL")
            .output()
            .expect("run sluice");
        assert!(output.status.success());
        insta::assert_snapshot!(snapshot, String::from_utf8_lossy(&output.stdout));
    }
}
