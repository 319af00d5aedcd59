//! Invalid config: `sluice` refuses to start and names the file, the entry and the field.

fn run_with_config(text: &str) -> (i32, String) {
    let file = tempfile::NamedTempFile::new().expect("temp file");
    std::fs::write(file.path(), text).expect("write");
    let output = super::common::sluice_command()
        .args(["tools", "search", "x", "--config"])
        .arg(file.path())
        .output()
        .expect("run sluice");
    let stderr = String::from_utf8_lossy(&output.stderr)
        .replace(&file.path().display().to_string(), "CONFIG");
    (output.status.code().unwrap_or(-1), stderr)
}

#[test]
fn wrong_field_type_is_named() {
    let (code, stderr) =
        run_with_config(r#"{"mcpServers": {"fs": {"command": "npx", "args": "-y"}}}"#);
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        "error: config file CONFIG: server \"fs\", field \"args\": expected a list of strings, found a string"
    );
}

#[test]
fn broken_json_gives_line_and_column() {
    let (code, stderr) =
        run_with_config("{\n  \"mcpServers\": {\n    \"a\": {\"command\": \"x\",}\n  }\n}");
    assert_eq!(code, 1);
    assert!(
        stderr.starts_with("error: config file CONFIG is not valid JSON (line 3, column"),
        "{stderr}"
    );
}

#[test]
fn missing_config_says_what_to_do() {
    let output = super::common::sluice_command()
        .args(["tools", "search", "x"])
        .current_dir(std::env::temp_dir())
        .env_remove("SLUICE_CONFIG")
        .output()
        .expect("run sluice");
    assert_eq!(output.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("no config file: pass --config PATH"),
        "{stderr}"
    );
}

#[test]
fn a_bad_tool_policy_is_named() {
    let (code, stderr) = run_with_config(
        r#"{"mcpServers": {"fs": {"command": "x"}}, "sluice": {"tools": {"fs.write_*": "block"}}}"#,
    );
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        "error: config file CONFIG: field \"sluice.tools.fs.write_*\": \"block\" is not a tool policy; use \"allow\", \"deny\", \"ask\", \"readOnly\" or \"denyDestructive\""
    );
    let (code, stderr) = run_with_config(
        r#"{"mcpServers": {"fs": {"command": "x"}}, "sluice": {"tools": {"github.*": "deny"}}}"#,
    );
    assert_eq!(code, 1);
    assert_eq!(
        stderr.trim(),
        "error: config file CONFIG: field \"sluice.tools.github.*\": \"github.*\" names no server in mcpServers (servers: fs); write \"<server>.<tool glob>\""
    );
}
