//! The fake MCP server, driven by hand over its stdio, in each of its modes.

// Test code: a failed unwrap is a failed test (clippy.toml allows it only inside #[test] fns).
#![allow(clippy::unwrap_used)]

use std::io::{BufRead, BufReader, Read, Write};
use std::process::{Child, ChildStdin, Command, ExitStatus, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::sync::{Arc, Mutex};
use std::thread;
use std::time::{Duration, Instant};

use serde_json::{Value, json};

const FAKE: &str = env!("CARGO_BIN_EXE_fake-mcp-server");
const WAIT: Duration = Duration::from_secs(10);

/// A running fake server: raw stdout lines arrive on a channel, stderr is drained and kept.
struct Fake {
    child: Child,
    stdin: Option<ChildStdin>,
    lines: Receiver<String>,
    stderr: Arc<Mutex<String>>,
    /// Messages received while waiting for something else (notifications, server requests).
    pending: Vec<Value>,
    /// Stdout lines that were not JSON-RPC messages.
    garbage: Vec<String>,
    next_id: i64,
}

impl Fake {
    fn spawn(args: &[&str]) -> Fake {
        let mut child = Command::new(FAKE)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let (tx, lines) = channel();
        let stdout = child.stdout.take().unwrap();
        thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if tx.send(line).is_err() {
                    break;
                }
            }
        });
        let stderr = Arc::new(Mutex::new(String::new()));
        let mut child_err = child.stderr.take().unwrap();
        let sink = Arc::clone(&stderr);
        thread::spawn(move || {
            let mut buf = [0u8; 8192];
            while let Ok(n) = child_err.read(&mut buf) {
                if n == 0 {
                    break;
                }
                sink.lock()
                    .unwrap()
                    .push_str(&String::from_utf8_lossy(&buf[..n]));
            }
        });
        Fake {
            stdin: child.stdin.take(),
            child,
            lines,
            stderr,
            pending: Vec::new(),
            garbage: Vec::new(),
            next_id: 1,
        }
    }

    fn send(&mut self, message: &Value) {
        self.send_raw(&message.to_string());
    }

    fn send_raw(&mut self, line: &str) {
        let stdin = self.stdin.as_mut().unwrap();
        writeln!(stdin, "{line}").unwrap();
        stdin.flush().unwrap();
    }

    fn close_stdin(&mut self) {
        self.stdin = None;
    }

    fn raw_line(&self, timeout: Duration) -> Option<String> {
        self.lines.recv_timeout(timeout).ok()
    }

    /// The next JSON-RPC message, skipping (and keeping) garbage lines.
    fn message(&mut self, timeout: Duration) -> Option<Value> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let line = self.raw_line(left)?;
            match serde_json::from_str::<Value>(&line) {
                Ok(v) if v.get("jsonrpc") == Some(&json!("2.0")) => return Some(v),
                _ => self.garbage.push(line),
            }
        }
    }

    /// The response with this id; other messages are kept in `pending`.
    fn response(&mut self, id: &Value, timeout: Duration) -> Option<Value> {
        if let Some(i) = self
            .pending
            .iter()
            .position(|m| m.get("id") == Some(id) && m.get("method").is_none())
        {
            return Some(self.pending.remove(i));
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let message = self.message(left)?;
            if message.get("id") == Some(id) && message.get("method").is_none() {
                return Some(message);
            }
            self.pending.push(message);
        }
    }

    fn start(&mut self, method: &str, params: Value) -> Value {
        let id = json!(self.next_id);
        self.next_id += 1;
        self.send(&json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        id
    }

    /// Sends a request and returns its whole response.
    fn request(&mut self, method: &str, params: Value) -> Value {
        let id = self.start(method, params);
        self.response(&id, WAIT)
            .unwrap_or_else(|| panic!("no answer to {method}; stderr: {}", self.stderr()))
    }

    fn result(&mut self, method: &str, params: Value) -> Value {
        let response = self.request(method, params);
        assert!(
            response.get("error").is_none(),
            "{method} failed: {response}"
        );
        response["result"].clone()
    }

    fn call(&mut self, tool: &str, arguments: Value) -> Value {
        self.result("tools/call", json!({"name": tool, "arguments": arguments}))
    }

    fn initialize(&mut self) -> Value {
        let result = self.result(
            "initialize",
            json!({
                "protocolVersion": "2025-11-25",
                "capabilities": {},
                "clientInfo": {"name": "fake-server-test", "version": "0"}
            }),
        );
        self.send(&json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
        result
    }

    fn tool_names(&mut self) -> Vec<String> {
        self.result("tools/list", json!({}))["tools"]
            .as_array()
            .unwrap()
            .iter()
            .map(|t| t["name"].as_str().unwrap().to_owned())
            .collect()
    }

    fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    fn wait_exit(&mut self, timeout: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + timeout;
        while Instant::now() < deadline {
            if let Some(status) = self.child.try_wait().unwrap() {
                return Some(status);
            }
            thread::sleep(Duration::from_millis(10));
        }
        None
    }
}

impl Drop for Fake {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn text_of(result: &Value) -> &str {
    result["content"][0]["text"].as_str().unwrap()
}

#[test]
fn initialize_negotiates_the_protocol_version() {
    let mut fake = Fake::spawn(&[]);
    let result = fake.result(
        "initialize",
        json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    assert_eq!(result["protocolVersion"], "2025-06-18");
    assert_eq!(result["serverInfo"]["name"], "fake");
    assert_eq!(
        result["capabilities"],
        json!({"tools": {"listChanged": true}})
    );

    let result = fake.result(
        "initialize",
        json!({"protocolVersion": "1999-01-01", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    assert_eq!(result["protocolVersion"], "2025-11-25");
}

#[test]
fn default_tools_answer() {
    let mut fake = Fake::spawn(&[]);
    fake.initialize();
    let tools = fake.result("tools/list", json!({}));
    let names: Vec<&str> = tools["tools"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["echo", "add", "fail", "sleep", "big"]);
    assert_eq!(
        tools["tools"][1]["outputSchema"]["properties"]["sum"]["type"],
        "number"
    );

    let echo = fake.call("echo", json!({"message": "héllo"}));
    assert_eq!(text_of(&echo), "héllo");
    assert_eq!(echo["structuredContent"], json!({"message": "héllo"}));
    assert!(echo.get("isError").is_none());

    let add = fake.call("add", json!({"a": 2, "b": 40}));
    assert_eq!(add["structuredContent"], json!({"sum": 42}));
    assert_eq!(
        fake.call("add", json!({"a": 0.5, "b": 1}))["structuredContent"]["sum"],
        1.5
    );

    let fail = fake.call("fail", json!({"message": "boom"}));
    assert_eq!(fail["isError"], true);
    assert_eq!(text_of(&fail), "boom");
    // Bad arguments are tool errors, not protocol errors.
    assert_eq!(fake.call("echo", json!({}))["isError"], true);

    assert_eq!(
        text_of(&fake.call("big", json!({"bytes": 100_000}))).len(),
        100_000
    );
    assert_eq!(text_of(&fake.call("sleep", json!({"ms": 10}))), "slept");
}

#[test]
fn protocol_errors() {
    let mut fake = Fake::spawn(&[]);
    fake.initialize();
    let unknown_tool = fake.request("tools/call", json!({"name": "nope", "arguments": {}}));
    assert_eq!(unknown_tool["error"]["code"], -32602);
    let unknown_method = fake.request("resources/list", json!({}));
    assert_eq!(unknown_method["error"]["code"], -32601);
    assert_eq!(
        fake.request("server/discover", json!({}))["error"]["code"],
        -32601
    );

    fake.send_raw("this is not json");
    let parse_error = fake.message(WAIT).unwrap();
    assert_eq!(parse_error["error"]["code"], -32700);
    assert_eq!(parse_error["id"], Value::Null);

    // A notification gets no answer: the next message is the ping's.
    fake.send(&json!({"jsonrpc": "2.0", "method": "notifications/whatever"}));
    let ping = fake.start("ping", json!({}));
    let next = fake.message(WAIT).unwrap();
    assert_eq!(next["id"], ping);
    assert_eq!(next["result"], json!({}));
}

#[test]
fn calls_run_concurrently_and_cancelled_calls_get_no_answer() {
    let mut fake = Fake::spawn(&[]);
    fake.initialize();
    let slow = fake.start(
        "tools/call",
        json!({"name": "sleep", "arguments": {"ms": 400}}),
    );
    let quick = fake.start(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "q"}}),
    );
    assert_eq!(fake.message(WAIT).unwrap()["id"], quick);
    assert_eq!(fake.message(WAIT).unwrap()["id"], slow);

    let cancelled = fake.start(
        "tools/call",
        json!({"name": "sleep", "arguments": {"ms": 200}}),
    );
    fake.send(&json!({
        "jsonrpc": "2.0",
        "method": "notifications/cancelled",
        "params": {"requestId": cancelled, "reason": "test"}
    }));
    assert!(
        fake.response(&cancelled, Duration::from_millis(600))
            .is_none()
    );
    assert_eq!(fake.result("ping", json!({})), json!({}));
}

#[test]
fn end_of_input_finishes_calls_in_flight_then_exits() {
    let mut fake = Fake::spawn(&[]);
    fake.initialize();
    let id = fake.start(
        "tools/call",
        json!({"name": "sleep", "arguments": {"ms": 200}}),
    );
    fake.close_stdin();
    assert_eq!(
        text_of(&fake.response(&id, WAIT).unwrap()["result"]),
        "slept"
    );
    assert!(fake.wait_exit(WAIT).unwrap().success());
}

#[test]
fn exit_at_start() {
    let mut fake = Fake::spawn(&["--mode", "exit-at-start"]);
    let status = fake.wait_exit(WAIT).unwrap();
    assert_eq!(status.code(), Some(3));
    assert!(fake.raw_line(Duration::from_millis(100)).is_none());
    // The stderr reader may lag the exit a little.
    let deadline = Instant::now() + WAIT;
    while fake.stderr().is_empty() && Instant::now() < deadline {
        thread::sleep(Duration::from_millis(10));
    }
    assert!(fake.stderr().contains("exit-at-start"), "{}", fake.stderr());
}

#[test]
fn hang_initialize() {
    let mut fake = Fake::spawn(&["--mode", "hang-initialize"]);
    let id = fake.start(
        "initialize",
        json!({"protocolVersion": "2025-11-25", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}),
    );
    assert!(fake.response(&id, Duration::from_millis(500)).is_none());
    assert_eq!(fake.result("ping", json!({})), json!({}));
}

#[test]
fn garbage_stdout_and_a_non_standard_server_request() {
    let mut fake = Fake::spawn(&["--mode", "garbage-stdout"]);
    let init = fake.initialize();
    assert_eq!(init["serverInfo"]["name"], "fake");
    assert!(
        fake.garbage.iter().any(|l| l == "Server starting..."),
        "{:?}",
        fake.garbage
    );
    assert!(fake.garbage.iter().any(|l| l.starts_with("[dotenv@")));
    assert!(
        fake.garbage
            .iter()
            .any(|l| l == r#"{"level":"info","msg":"x"}"#)
    );

    // After `initialized` the server sends a request of a method no client knows.
    let deadline = Instant::now() + WAIT;
    let log_request = loop {
        if let Some(i) = fake.pending.iter().position(|m| m["method"] == "log") {
            break fake.pending.remove(i);
        }
        assert!(Instant::now() < deadline, "no `log` request came");
        let message = fake.message(WAIT).unwrap();
        fake.pending.push(message);
    };
    assert_eq!(log_request["id"], "srv-1");

    assert_eq!(
        text_of(&fake.call("saw_unknown_answer", json!({}))),
        "false"
    );
    fake.send(&json!({
        "jsonrpc": "2.0",
        "id": "srv-1",
        "error": {"code": -32601, "message": "Method not found"}
    }));
    let answer = fake.call("saw_unknown_answer", json!({}));
    assert_eq!(text_of(&answer), "true");
    assert_eq!(
        answer["structuredContent"]["response"]["error"]["code"],
        -32601
    );
    // Garbage keeps coming between messages.
    let before = fake.garbage.len();
    fake.call("echo", json!({"message": "m"}));
    assert!(fake.garbage.len() > before);
}

#[test]
fn crash_after_calls() {
    let mut fake = Fake::spawn(&["--mode", "crash-after-calls=2"]);
    fake.initialize();
    assert_eq!(text_of(&fake.call("echo", json!({"message": "1"}))), "1");
    let id = fake.start(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "2"}}),
    );
    assert_eq!(fake.wait_exit(WAIT).unwrap().code(), Some(1));
    assert!(fake.response(&id, Duration::from_millis(200)).is_none());
}

#[test]
fn huge_line() {
    let mut fake = Fake::spawn(&["--mode", "huge-line"]);
    fake.initialize();
    fake.start("tools/list", json!({}));
    let line = fake.raw_line(WAIT).unwrap();
    assert!(
        line.len() > 1_000_000,
        "tools/list line is {} bytes",
        line.len()
    );
    let list: Value = serde_json::from_str(&line).unwrap();
    let huge = list["result"]["tools"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "huge")
        .unwrap();
    assert!(huge["description"].as_str().unwrap().len() >= 1_500_000);
    assert_eq!(text_of(&fake.call("huge", json!({}))), "huge");
}

#[test]
fn no_type_schema() {
    let mut fake = Fake::spawn(&["--mode", "no-type-schema"]);
    fake.initialize();
    let tools = fake.result("tools/list", json!({}));
    let echo = &tools["tools"][0];
    assert_eq!(echo["name"], "echo");
    assert!(echo["inputSchema"].get("type").is_none());
    assert!(echo["inputSchema"]["properties"]["message"].is_object());
    assert_eq!(tools["tools"][3]["inputSchema"]["type"], "object");
    // Calls still work.
    assert_eq!(
        fake.call("add", json!({"a": 1, "b": 1}))["structuredContent"]["sum"],
        2
    );
}

#[test]
fn list_changed() {
    let mut fake = Fake::spawn(&["--mode", "list-changed"]);
    fake.initialize();
    assert!(!fake.tool_names().contains(&"extra".to_owned()));
    let id = fake.start(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "x"}}),
    );
    // The answer first, then the notification.
    assert_eq!(fake.message(WAIT).unwrap()["id"], id);
    assert_eq!(
        fake.message(WAIT).unwrap(),
        json!({"jsonrpc": "2.0", "method": "notifications/tools/list_changed"})
    );
    assert!(fake.tool_names().contains(&"extra".to_owned()));
    assert_eq!(text_of(&fake.call("extra", json!({}))), "extra");
    // Only once.
    fake.call("echo", json!({"message": "y"}));
    assert!(fake.pending.is_empty(), "{:?}", fake.pending);
}

#[test]
fn slow_start() {
    let started = Instant::now();
    let mut fake = Fake::spawn(&["--mode", "slow-start=400"]);
    fake.initialize();
    assert!(started.elapsed() >= Duration::from_millis(400));
}

#[test]
fn stderr_noise() {
    let mut fake = Fake::spawn(&["--mode", "stderr-noise"]);
    fake.initialize();
    fake.call("echo", json!({"message": "still here"}));
    let lines = fake.stderr().lines().count();
    assert!(lines >= 2_000, "only {lines} stderr lines");
}

#[test]
fn tools_file() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("tools.json");
    let tools = json!([
        {"name": "create_branch", "description": "Create a branch.",
         "inputSchema": {"type": "object", "properties": {"name": {"type": "string"}}}},
        {"name": "get-sum", "inputSchema": {"type": "object"}}
    ]);
    std::fs::write(&path, tools.to_string()).unwrap();
    let mut fake = Fake::spawn(&["--tools-file", path.to_str().unwrap()]);
    fake.initialize();
    assert_eq!(fake.result("tools/list", json!({}))["tools"], tools);
    let result = fake.call("create_branch", json!({"name": "feature", "n": [1, 2]}));
    assert_eq!(
        result["structuredContent"],
        json!({"name": "feature", "n": [1, 2]})
    );
    assert_eq!(
        serde_json::from_str::<Value>(text_of(&result)).unwrap(),
        result["structuredContent"]
    );
    assert_eq!(
        fake.request("tools/call", json!({"name": "echo"}))["error"]["code"],
        -32602
    );
}

#[test]
fn modes_compose() {
    let started = Instant::now();
    let mut fake = Fake::spawn(&[
        "--mode",
        "garbage-stdout,no-type-schema",
        "--mode=slow-start=200",
        "--mode",
        "crash-after-calls=1",
    ]);
    fake.initialize();
    assert!(started.elapsed() >= Duration::from_millis(200));
    assert!(!fake.garbage.is_empty());
    let tools = fake.result("tools/list", json!({}));
    assert!(tools["tools"][0]["inputSchema"].get("type").is_none());
    fake.start(
        "tools/call",
        json!({"name": "echo", "arguments": {"message": "x"}}),
    );
    assert_eq!(fake.wait_exit(WAIT).unwrap().code(), Some(1));
}

#[test]
fn bad_arguments_exit_with_usage() {
    let output = Command::new(FAKE)
        .args(["--mode", "bogus"])
        .output()
        .unwrap();
    assert_eq!(output.status.code(), Some(2));
    assert!(String::from_utf8_lossy(&output.stderr).contains("unknown mode"));
}
