//! Lines that are not JSON-RPC messages, sent raw to `sluice serve`: each gets an error answer
//! (-32700 for what is not JSON, -32600 for JSON that is not a message object) with id null, and
//! the connection goes on serving the requests around them; a request before `initialize` is
//! told to initialize first. (And what Sluice logs about them on
//! stderr, a pipe here, carries no colour codes.)

use std::io::{BufRead, BufReader, Write};
use std::process::Stdio;

use serde_json::{Value, json};
use sluice_test_support::{McpConfig, fake_server};

use super::common::{sluice_command, write_config};

#[test]
fn every_malformed_line_is_answered_and_the_connection_goes_on() {
    let config = write_config(McpConfig::new().server("one", &fake_server(&[])), json!({}));
    let mut child = sluice_command()
        .arg("serve")
        .arg("--config")
        .arg(config.path())
        .env("SLUICE_LOG", "warn")
        .env_remove("NO_COLOR")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("start sluice serve");
    let mut stdin = child.stdin.take().expect("stdin");
    let mut lines: Vec<Vec<u8>> = vec![
        b"garbage".to_vec(),
        b"{\"jsonrpc\": \"2.0\", \"id\": 7, \"method\": \xff}".to_vec(),
        br#"{"jsonrpc":"2.0","id":8,"method":"ping","params":{"x":"\ud800"}}"#.to_vec(),
        "[".repeat(5_000).into_bytes(),
        b"[]".to_vec(),
        b"\"a string\"".to_vec(),
    ];
    let malformed = lines.len();
    let initialize = json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "raw", "version": "1"}}});
    // Before initialize, between initialize and the first request, and after it. A request
    // before initialize is told to initialize first.
    let early = json!({"jsonrpc": "2.0", "id": 0, "method": "tools/list"});
    let mut sent = vec![
        early.to_string().into_bytes(),
        lines.remove(0),
        initialize.to_string().into_bytes(),
    ];
    sent.push(lines.remove(0));
    sent.push(
        json!({"jsonrpc": "2.0", "method": "notifications/initialized"})
            .to_string()
            .into_bytes(),
    );
    sent.append(&mut lines);
    for request in [
        json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}),
        // A call without a tool name: invalid params, not an unknown method.
        json!({"jsonrpc": "2.0", "id": 3, "method": "tools/call", "params": {"arguments": {}}}),
        // Lists of capabilities Sluice does not declare: unknown methods, not empty lists.
        json!({"jsonrpc": "2.0", "id": 4, "method": "resources/list"}),
        json!({"jsonrpc": "2.0", "id": 5, "method": "prompts/list"}),
    ] {
        sent.push(request.to_string().into_bytes());
    }
    for line in &sent {
        stdin.write_all(line).unwrap();
        stdin.write_all(b"\n").unwrap();
    }
    stdin.flush().unwrap();

    let stdout = BufReader::new(child.stdout.take().expect("stdout"));
    let mut errors = Vec::new();
    let mut answered = Vec::new();
    for line in stdout.lines() {
        let message: Value = serde_json::from_str(&line.unwrap()).expect("stdout is JSON lines");
        if message["id"].is_null() && message.get("error").is_some() {
            errors.push(message["error"]["code"].as_i64().unwrap());
        } else if let Some(id) = message["id"].as_i64() {
            answered.push(id);
            match id {
                0 => {
                    assert_eq!(message["error"]["code"], -32600, "{message}");
                    let text = message["error"]["message"].as_str().unwrap_or_default();
                    assert!(text.contains("before `initialize`"), "{message}");
                }
                2 => assert!(message["result"]["tools"].is_array(), "{message}"),
                3 => assert_eq!(message["error"]["code"], -32602, "{message}"),
                4 | 5 => assert_eq!(message["error"]["code"], -32601, "{message}"),
                _ => {}
            }
            if answered.len() == 6 {
                break;
            }
        }
    }
    drop(stdin);
    let output = child.wait_with_output().expect("sluice serve ends");
    // Each refusal is logged, without colour codes: stderr is a pipe, as MCP clients keep it.
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        stderr.contains("answered a line that is not a JSON-RPC message"),
        "{stderr}"
    );
    assert!(!stderr.contains('\u{1b}'), "{stderr:?}");
    answered.sort_unstable();
    assert_eq!(
        answered,
        [0, 1, 2, 3, 4, 5],
        "the requests around the bad lines"
    );
    errors.sort_unstable();
    assert_eq!(errors.len(), malformed, "{errors:?}");
    assert_eq!(errors, [-32700, -32700, -32700, -32700, -32600, -32600]);
}
