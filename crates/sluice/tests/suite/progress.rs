//! Progress lines: drawn on a terminal (a real pseudo-terminal from util-linux's `script`), never
//! on a pipe.

use std::process::{Command, Stdio};

use serde_json::json;
use sluice_test_support::McpConfig;

use super::common::write_config;

const SCRIPT: &str = "import { reportProgress } from './runtime';\n\
     reportProgress('halfway there', 0.5);\n\
     await new Promise(r => setTimeout(r, 1600));\n\
     console.log('done');\n";

fn script_file() -> tempfile::NamedTempFile {
    let file = tempfile::Builder::new()
        .suffix(".ts")
        .tempfile()
        .expect("script");
    std::fs::write(file.path(), SCRIPT).expect("write script");
    file
}

fn exec_args(
    script: &std::path::Path,
    config: &std::path::Path,
    data: &std::path::Path,
) -> Vec<String> {
    vec![
        env!("CARGO_BIN_EXE_sluice").to_owned(),
        "exec".to_owned(),
        script.display().to_string(),
        "--model".to_owned(),
        "none".to_owned(),
        "--config".to_owned(),
        config.display().to_string(),
        "--data-dir".to_owned(),
        data.display().to_string(),
    ]
}

#[test]
fn sluice_exec_shows_progress_on_a_terminal_only() {
    let config = write_config(McpConfig::new(), json!({}));
    let data = tempfile::tempdir().expect("data dir");
    let script = script_file();
    let args = exec_args(script.path(), config.path(), data.path());

    // On a terminal: a line redrawn in place with what the script reported, erased at the end.
    let command = args
        .iter()
        .map(|arg| format!("'{}'", arg.replace('\'', "'\\''")))
        .collect::<Vec<_>>()
        .join(" ");
    let output = Command::new("script")
        .args(["-qec", &command, "/dev/null"])
        .env("TERM", "xterm")
        .env("COLUMNS", "120")
        .stdin(Stdio::null())
        .output()
        .expect("run util-linux script");
    let terminal = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{terminal}");
    assert!(terminal.contains("\r\x1b[2K"), "{terminal:?}");
    assert!(
        terminal.contains("running ") && terminal.contains(": halfway there (50%)"),
        "{terminal:?}"
    );
    // The line is erased before the script's output.
    assert!(terminal.contains("\r\x1b[2Kdone"), "{terminal:?}");

    // On a pipe: the same run draws nothing.
    let output = Command::new(&args[0])
        .args(&args[1..])
        .stdin(Stdio::null())
        .output()
        .expect("run sluice exec");
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "{stderr}");
    assert_eq!(String::from_utf8_lossy(&output.stdout), "done\n");
    assert!(
        !stderr.contains('\r') && !stderr.contains('\x1b'),
        "{stderr:?}"
    );
}
