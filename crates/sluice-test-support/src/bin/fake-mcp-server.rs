//! `fake-mcp-server`: a real MCP server over stdio that misbehaves on request.
//!
//! It speaks newline-delimited JSON-RPC 2.0 by hand (no SDK), so tests can reproduce precisely
//! what real servers get wrong (as recorded from real servers).
//!
//! ```text
//! fake-mcp-server [--mode MODE[,MODE...]]... [--tools-file PATH]
//! ```
//!
//! Protocol: `initialize` (echoes the client's `protocolVersion` when it is one of 2025-11-25,
//! 2025-06-18, 2025-03-26, 2024-11-05, else answers 2025-11-25), `notifications/initialized`,
//! `notifications/cancelled` (a cancelled call gets no answer), `ping`, `tools/list`,
//! `tools/call`; any other request gets -32601, a line that is not JSON gets -32700.
//!
//! Default tools:
//! - `echo {message: string}`: the message as text, and `structuredContent {message}`;
//! - `add {a: number, b: number}`: `structuredContent {sum}` (the tool has an `outputSchema`);
//! - `fail {message?: string}`: a tool error (`isError: true`) with a text message;
//! - `sleep {ms: number}`: sleeps, then answers the text `slept` (calls run concurrently);
//! - `big {bytes: integer}`: a text result of exactly that many bytes.
//!
//! `--tools-file PATH` serves the JSON array of tool definitions in PATH instead; calling one of
//! them answers `structuredContent` equal to the arguments (and the same JSON as text).
//!
//! Modes (composable, repeat `--mode` or separate with commas):
//! - `exit-at-start`: writes a line to stderr and exits with code 3 at once;
//! - `hang-initialize`: never answers `initialize` (everything else still works);
//! - `garbage-stdout`: prints non-JSON-RPC lines on stdout at start and before every message
//!   (banner, dotenv-style line, a JSON log line), and after `notifications/initialized` sends the
//!   non-standard request `{"jsonrpc":"2.0","id":"srv-1","method":"log","params":{}}`; the tool
//!   `saw_unknown_answer` tells whether the client answered it (`true`/`false` as text,
//!   `structuredContent {answered, response}`);
//! - `crash-after-calls=N`: exits with code 1, without answering, on the N-th `tools/call`;
//! - `huge-line`: adds a tool `huge` whose description is ~1.5 MB, so `tools/list` is one >1 MB line;
//! - `no-type-schema`: the `inputSchema` of `echo`, `add` and `fail` has no `type`;
//! - `list-changed`: after answering the first `tools/call`, adds the tool `extra` and sends
//!   `notifications/tools/list_changed`;
//! - `slow-start=MS`: answers `initialize` no sooner than MS milliseconds after start;
//! - `stderr-noise`: writes ~200 KB to stderr at start and 50 lines per message received;
//! - `watch-tools-file`: with `--tools-file`, reads the file again whenever it changes (checked
//!   every 100 ms) and sends `notifications/tools/list_changed`: a server that changes its tools
//!   under a running client (the pinned-definition tests).
//!
//! Stdout is the MCP transport: every message is written with `writeln!` on the locked stdout,
//! never with `print!`, and nothing else is written there except the deliberate garbage.

use std::collections::HashSet;
use std::io::{self, BufRead, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

use serde_json::{Map, Value, json};

const SUPPORTED_VERSIONS: [&str; 4] = ["2025-11-25", "2025-06-18", "2025-03-26", "2024-11-05"];
const LATEST_VERSION: &str = "2025-11-25";
/// Id of the non-standard request sent in `garbage-stdout` mode.
const UNKNOWN_REQUEST_ID: &str = "srv-1";
/// Upper bound for the `big` tool, so a typo cannot exhaust the test machine's memory.
const BIG_MAX_BYTES: u64 = 256 * 1024 * 1024;
const HUGE_DESCRIPTION_BYTES: usize = 1_500_000;

const USAGE: &str = "usage: fake-mcp-server [--mode MODE[,MODE...]]... [--tools-file PATH]
modes: exit-at-start, hang-initialize, garbage-stdout, crash-after-calls=N, huge-line,
       no-type-schema, list-changed, slow-start=MS, stderr-noise, prompts-only,
       watch-tools-file, echo-meta";

/// Lines printed on stdout in `garbage-stdout` mode, as seen from real servers.
const GARBAGE_LINES: [&str; 4] = [
    "Server starting...",
    "[dotenv@17.2.3] injecting env (0) from .env -- tip: encrypt with Dotenvx: https://dotenvx.com",
    r#"{"level":"info","msg":"x"}"#,
    "Warning: No X display available, running headless",
];

#[derive(Debug, Default)]
struct Options {
    exit_at_start: bool,
    hang_initialize: bool,
    garbage_stdout: bool,
    crash_after_calls: Option<u64>,
    huge_line: bool,
    no_type_schema: bool,
    list_changed: bool,
    slow_start: Option<Duration>,
    stderr_noise: bool,
    /// Declare only the `prompts` capability and answer `tools/list` as an unknown method.
    prompts_only: bool,
    watch_tools_file: bool,
    /// Offer `echo_meta`, which answers with the `_meta` of its `tools/call` request.
    echo_meta: bool,
    tools_file: Option<PathBuf>,
}

impl Options {
    fn parse(args: impl IntoIterator<Item = String>) -> Result<Self, String> {
        let mut options = Options::default();
        let mut args = args.into_iter();
        while let Some(arg) = args.next() {
            let (flag, inline) = match arg.split_once('=') {
                Some((flag, value)) if flag.starts_with("--") => (flag.to_owned(), Some(value)),
                _ => (arg.clone(), None),
            };
            let mut value = || -> Result<String, String> {
                match inline {
                    Some(v) => Ok(v.to_owned()),
                    None => args.next().ok_or_else(|| format!("{flag} needs a value")),
                }
            };
            match flag.as_str() {
                "--mode" => {
                    for mode in value()?.split(',').filter(|m| !m.trim().is_empty()) {
                        options.add_mode(mode.trim())?;
                    }
                }
                "--tools-file" => options.tools_file = Some(PathBuf::from(value()?)),
                "-h" | "--help" => return Err(String::new()),
                _ => return Err(format!("unknown argument {arg:?}")),
            }
        }
        Ok(options)
    }

    fn add_mode(&mut self, mode: &str) -> Result<(), String> {
        let number = |value: Option<&str>| -> Result<u64, String> {
            value
                .and_then(|v| v.parse().ok())
                .ok_or_else(|| format!("mode {mode:?} needs a number, e.g. {mode}=3"))
        };
        let (name, value) = match mode.split_once('=') {
            Some((name, value)) => (name, Some(value)),
            None => (mode, None),
        };
        match name {
            "exit-at-start" => self.exit_at_start = true,
            "hang-initialize" => self.hang_initialize = true,
            "garbage-stdout" => self.garbage_stdout = true,
            "crash-after-calls" => self.crash_after_calls = Some(number(value)?),
            "huge-line" => self.huge_line = true,
            "no-type-schema" => self.no_type_schema = true,
            "list-changed" => self.list_changed = true,
            "slow-start" => self.slow_start = Some(Duration::from_millis(number(value)?)),
            "stderr-noise" => self.stderr_noise = true,
            "prompts-only" => self.prompts_only = true,
            "watch-tools-file" => self.watch_tools_file = true,
            "echo-meta" => self.echo_meta = true,
            _ => return Err(format!("unknown mode {mode:?}")),
        }
        Ok(())
    }
}

/// Locks a mutex, ignoring poisoning: a panicked call thread must not take the server down.
fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The server's stdout: one JSON-RPC message per line, garbage interleaved when asked.
struct Output {
    garbage: bool,
    garbage_index: AtomicU64,
}

impl Output {
    fn write_line(&self, out: &mut impl Write, line: &str) {
        if writeln!(out, "{line}").and_then(|()| out.flush()).is_err() {
            // The client closed our stdout: nobody is listening any more.
            std::process::exit(0);
        }
    }

    fn garbage_line(&self, out: &mut impl Write) {
        let index = self.garbage_index.fetch_add(1, Ordering::Relaxed) as usize;
        self.write_line(out, GARBAGE_LINES[index % GARBAGE_LINES.len()]);
    }

    fn send(&self, message: &Value) {
        let line = message.to_string();
        // The stdout lock keeps a garbage line and its message together between call threads.
        let mut out = io::stdout().lock();
        if self.garbage {
            self.garbage_line(&mut out);
        }
        self.write_line(&mut out, &line);
    }

    fn banner(&self) {
        let mut out = io::stdout().lock();
        for _ in 0..3 {
            self.garbage_line(&mut out);
        }
    }
}

struct Server {
    options: Options,
    out: Output,
    started: Instant,
    tools: Mutex<Vec<Value>>,
    /// Names of the tools loaded from `--tools-file` (they echo their arguments).
    file_tools: HashSet<String>,
    calls: AtomicU64,
    /// The client's answer to our non-standard request, once it came.
    unknown_answer: Mutex<Option<Value>>,
    /// Ids (as JSON text) of requests the client cancelled.
    cancelled: Mutex<HashSet<String>>,
}

fn text(text: impl Into<String>) -> Value {
    json!({"type": "text", "text": text.into()})
}

fn tool_error(message: impl Into<String>) -> Value {
    json!({"content": [text(message)], "isError": true})
}

fn default_tools() -> Vec<Value> {
    vec![
        json!({
            "name": "echo",
            "title": "Echo",
            "description": "Echo a message back.",
            "inputSchema": {
                "type": "object",
                "properties": {"message": {"type": "string", "description": "Text to echo."}},
                "required": ["message"]
            }
        }),
        json!({
            "name": "add",
            "description": "Add two numbers.",
            "inputSchema": {
                "type": "object",
                "properties": {"a": {"type": "number"}, "b": {"type": "number"}},
                "required": ["a", "b"]
            },
            "outputSchema": {
                "type": "object",
                "properties": {"sum": {"type": "number"}},
                "required": ["sum"]
            },
            "annotations": {"readOnlyHint": true}
        }),
        json!({
            "name": "fail",
            "description": "Always fail with a tool error (isError: true).",
            "inputSchema": {
                "type": "object",
                "properties": {"message": {"type": "string", "description": "The error text."}}
            }
        }),
        json!({
            "name": "sleep",
            "description": "Sleep for `ms` milliseconds, then answer \"slept\".",
            "inputSchema": {
                "type": "object",
                "properties": {"ms": {"type": "number", "minimum": 0}},
                "required": ["ms"]
            }
        }),
        json!({
            "name": "big",
            "description": "Return a text result of exactly `bytes` bytes.",
            "inputSchema": {
                "type": "object",
                "properties": {"bytes": {"type": "integer", "minimum": 0}},
                "required": ["bytes"]
            }
        }),
    ]
}

fn load_tools_file(path: &PathBuf) -> Result<Vec<Value>, String> {
    let data = std::fs::read_to_string(path)
        .map_err(|e| format!("cannot read --tools-file {}: {e}", path.display()))?;
    let tools: Vec<Value> = serde_json::from_str(&data)
        .map_err(|e| format!("--tools-file {} is not a JSON array: {e}", path.display()))?;
    for tool in &tools {
        if tool.get("name").and_then(Value::as_str).is_none() {
            return Err(format!(
                "a tool in {} has no string \"name\"",
                path.display()
            ));
        }
    }
    Ok(tools)
}

fn arg_number(args: &Value, key: &str) -> Result<f64, String> {
    args.get(key)
        .and_then(Value::as_f64)
        .ok_or_else(|| format!("argument `{key}` must be a number"))
}

fn arg_count(args: &Value, key: &str) -> Result<u64, String> {
    let n = arg_number(args, key)?;
    if n < 0.0 || n.fract() != 0.0 {
        return Err(format!("argument `{key}` must be a non-negative integer"));
    }
    Ok(n as u64)
}

impl Server {
    fn new(options: Options) -> Result<Self, String> {
        let (mut tools, file_tools) = match &options.tools_file {
            Some(path) => {
                let tools = load_tools_file(path)?;
                let names = tools
                    .iter()
                    .filter_map(|t| t.get("name").and_then(Value::as_str))
                    .map(str::to_owned)
                    .collect();
                (tools, names)
            }
            None => (default_tools(), HashSet::new()),
        };
        if options.no_type_schema {
            for tool in &mut tools {
                let name = tool.get("name").and_then(Value::as_str).unwrap_or_default();
                if matches!(name, "echo" | "add" | "fail")
                    && let Some(schema) = tool.get_mut("inputSchema").and_then(Value::as_object_mut)
                {
                    schema.remove("type");
                }
            }
        }
        if options.huge_line {
            let sentence = "This tool description is deliberately huge. ";
            let description = sentence.repeat(HUGE_DESCRIPTION_BYTES / sentence.len() + 1);
            tools.push(json!({
                "name": "huge",
                "description": description,
                "inputSchema": {"type": "object", "properties": {}}
            }));
        }
        if options.echo_meta {
            tools.push(json!({
                "name": "echo_meta",
                "description": "Answer with the `_meta` of this call's request (and the note).",
                "inputSchema": {
                    "type": "object",
                    "properties": {"note": {"type": "string"}}
                }
            }));
        }
        if options.garbage_stdout {
            tools.push(json!({
                "name": "saw_unknown_answer",
                "description": "Whether the client answered the server's non-standard `log` request.",
                "inputSchema": {"type": "object", "properties": {}}
            }));
        }
        Ok(Server {
            out: Output {
                garbage: options.garbage_stdout,
                garbage_index: AtomicU64::new(0),
            },
            options,
            started: Instant::now(),
            tools: Mutex::new(tools),
            file_tools,
            calls: AtomicU64::new(0),
            unknown_answer: Mutex::new(None),
            cancelled: Mutex::new(HashSet::new()),
        })
    }

    fn respond(&self, id: &Value, result: Value) {
        self.out
            .send(&json!({"jsonrpc": "2.0", "id": id, "result": result}));
    }

    fn respond_error(&self, id: &Value, code: i64, message: impl Into<String>) {
        self.out.send(&json!({
            "jsonrpc": "2.0",
            "id": id,
            "error": {"code": code, "message": message.into()}
        }));
    }

    fn stderr_noise(&self, lines: usize) {
        if !self.options.stderr_noise {
            return;
        }
        let mut err = io::stderr().lock();
        for i in 0..lines {
            // Ignored: a closed stderr must not stop the server.
            let _ = writeln!(
                err,
                "fake-mcp-server noise {i:05}: lorem ipsum dolor sit amet, consectetur adipiscing elit"
            );
        }
    }

    /// Handles one line read from stdin. Returns the thread of a `tools/call`, if one was started.
    fn handle_line(self: &Arc<Self>, line: &[u8]) -> Option<JoinHandle<()>> {
        let message: Value = match serde_json::from_slice(line) {
            Ok(message) => message,
            Err(e) => {
                self.respond_error(&Value::Null, -32700, format!("Parse error: {e}"));
                return None;
            }
        };
        let Some(object) = message.as_object() else {
            self.respond_error(&Value::Null, -32600, "Invalid Request: not a JSON object");
            return None;
        };
        let id = object.get("id").cloned();
        let method = object.get("method").and_then(Value::as_str);
        let params = object.get("params").cloned().unwrap_or(Value::Null);
        match (method, id) {
            (Some(method), Some(id)) => self.handle_request(method, id, params),
            (Some(method), None) => {
                self.handle_notification(method, &params);
                None
            }
            (None, Some(id)) => {
                // A response to a request of ours.
                if id == UNKNOWN_REQUEST_ID {
                    *lock(&self.unknown_answer) = Some(message.clone());
                }
                None
            }
            (None, None) => {
                self.respond_error(&Value::Null, -32600, "Invalid Request: no method and no id");
                None
            }
        }
    }

    fn handle_notification(&self, method: &str, params: &Value) {
        match method {
            "notifications/initialized" if self.options.garbage_stdout => {
                self.out.send(&json!({
                    "jsonrpc": "2.0",
                    "id": UNKNOWN_REQUEST_ID,
                    "method": "log",
                    "params": {}
                }));
            }
            "notifications/cancelled" => {
                if let Some(request_id) = params.get("requestId") {
                    lock(&self.cancelled).insert(request_id.to_string());
                }
            }
            _ => {}
        }
    }

    fn handle_request(
        self: &Arc<Self>,
        method: &str,
        id: Value,
        params: Value,
    ) -> Option<JoinHandle<()>> {
        match method {
            "initialize" => {
                if self.options.hang_initialize {
                    return None;
                }
                if let Some(delay) = self.options.slow_start {
                    thread::sleep(delay.saturating_sub(self.started.elapsed()));
                }
                let asked = params.get("protocolVersion").and_then(Value::as_str);
                let version = asked
                    .filter(|v| SUPPORTED_VERSIONS.contains(v))
                    .unwrap_or(LATEST_VERSION);
                self.respond(
                    &id,
                    json!({
                        "protocolVersion": version,
                        "capabilities": if self.options.prompts_only {
                            json!({"prompts": {}})
                        } else {
                            json!({"tools": {"listChanged": true}})
                        },
                        "serverInfo": {"name": "fake", "version": env!("CARGO_PKG_VERSION")},
                        "instructions": "Fake MCP server for Sluice's tests."
                    }),
                );
            }
            "ping" => self.respond(&id, json!({})),
            "tools/list" if self.options.prompts_only => {
                self.respond_error(&id, -32601, "Method not found: tools/list");
            }
            "tools/list" => {
                let tools = lock(&self.tools).clone();
                self.respond(&id, json!({"tools": tools}));
            }
            "tools/call" => {
                let count = self.calls.fetch_add(1, Ordering::SeqCst) + 1;
                if self.options.crash_after_calls.is_some_and(|n| count >= n) {
                    let _ = writeln!(
                        io::stderr(),
                        "fake-mcp-server: crashing on tools/call #{count} (mode crash-after-calls)"
                    );
                    std::process::exit(1);
                }
                let server = Arc::clone(self);
                // Calls run on their own thread, so a slow `sleep` does not block other requests.
                return Some(thread::spawn(move || server.call_tool(id, &params, count)));
            }
            _ => self.respond_error(&id, -32601, format!("Method not found: {method}")),
        }
        None
    }

    /// `watch-tools-file`: serve the file's tools again whenever it changes, and say so.
    fn watch_tools_file(&self, path: &PathBuf) {
        let stamp = |path: &PathBuf| {
            std::fs::metadata(path)
                .ok()
                .map(|metadata| (metadata.modified().ok(), metadata.len()))
        };
        let mut seen = stamp(path);
        loop {
            thread::sleep(Duration::from_millis(100));
            let now = stamp(path);
            if now == seen {
                continue;
            }
            seen = now;
            match load_tools_file(path) {
                Ok(tools) => {
                    *lock(&self.tools) = tools;
                    self.out.send(&json!({
                        "jsonrpc": "2.0",
                        "method": "notifications/tools/list_changed"
                    }));
                }
                Err(message) => {
                    let _ = writeln!(io::stderr(), "fake-mcp-server: {message}");
                }
            }
        }
    }

    fn call_tool(&self, id: Value, params: &Value, count: u64) {
        let name = params
            .get("name")
            .and_then(Value::as_str)
            .unwrap_or_default();
        let args = match params.get("arguments") {
            None | Some(Value::Null) => Value::Object(Map::new()),
            Some(args) => args.clone(),
        };
        let known = lock(&self.tools)
            .iter()
            .any(|t| t.get("name").and_then(Value::as_str) == Some(name));
        if !known {
            self.respond_error(&id, -32602, format!("Unknown tool: {name}"));
            return;
        }
        let result = if name == "echo_meta" && self.options.echo_meta {
            let meta = params.get("_meta").cloned().unwrap_or(Value::Null);
            let structured = json!({"meta": meta, "note": args.get("note")});
            json!({"content": [text(structured.to_string())], "structuredContent": structured})
        } else {
            self.run_tool(name, &args)
        };
        if lock(&self.cancelled).remove(&id.to_string()) {
            // The client gave up on this call: the protocol says not to answer.
            return;
        }
        self.respond(&id, result);
        if self.options.list_changed && count == 1 {
            lock(&self.tools).push(json!({
                "name": "extra",
                "description": "A tool that appears after the first tools/call.",
                "inputSchema": {"type": "object", "properties": {}}
            }));
            self.out.send(&json!({
                "jsonrpc": "2.0",
                "method": "notifications/tools/list_changed"
            }));
        }
    }

    fn run_tool(&self, name: &str, args: &Value) -> Value {
        let outcome = match name {
            "huge" if self.options.huge_line => Ok(json!({"content": [text("huge")]})),
            "extra" if self.options.list_changed => Ok(json!({"content": [text("extra")]})),
            "saw_unknown_answer" if self.options.garbage_stdout => {
                let answer = lock(&self.unknown_answer).clone();
                Ok(json!({
                    "content": [text(answer.is_some().to_string())],
                    "structuredContent": {"answered": answer.is_some(), "response": answer}
                }))
            }
            _ if self.file_tools.contains(name) || self.options.watch_tools_file => Ok(json!({
                "content": [text(args.to_string())],
                "structuredContent": args
            })),
            "echo" => args
                .get("message")
                .and_then(Value::as_str)
                .map(|message| {
                    json!({
                        "content": [text(message)],
                        "structuredContent": {"message": message}
                    })
                })
                .ok_or_else(|| "argument `message` must be a string".to_owned()),
            "add" => add(args),
            "fail" => Ok(tool_error(
                args.get("message")
                    .and_then(Value::as_str)
                    .unwrap_or("fake failure: this tool always fails"),
            )),
            "sleep" => arg_count(args, "ms").map(|ms| {
                thread::sleep(Duration::from_millis(ms));
                json!({"content": [text("slept")]})
            }),
            "big" => arg_count(args, "bytes").and_then(|bytes| {
                if bytes > BIG_MAX_BYTES {
                    return Err(format!("`bytes` is capped at {BIG_MAX_BYTES}"));
                }
                let pattern = b"0123456789";
                let body: String = (0..bytes as usize)
                    .map(|i| char::from(pattern[i % pattern.len()]))
                    .collect();
                Ok(json!({"content": [text(body)]}))
            }),
            _ => Err(format!("tool {name} has no implementation")),
        };
        outcome.unwrap_or_else(tool_error)
    }
}

fn add(args: &Value) -> Result<Value, String> {
    let sum = match (
        args.get("a").and_then(Value::as_i64),
        args.get("b").and_then(Value::as_i64),
    ) {
        (Some(a), Some(b)) => a.checked_add(b).map(Value::from),
        _ => None,
    };
    let sum = match sum {
        Some(sum) => sum,
        None => Value::from(arg_number(args, "a")? + arg_number(args, "b")?),
    };
    let structured = json!({"sum": sum});
    Ok(json!({
        "content": [text(structured.to_string())],
        "structuredContent": structured
    }))
}

fn main() -> ExitCode {
    let options = match Options::parse(std::env::args().skip(1)) {
        Ok(options) => options,
        Err(message) => {
            let mut err = io::stderr();
            if message.is_empty() {
                let _ = writeln!(err, "{USAGE}");
                return ExitCode::SUCCESS;
            }
            let _ = writeln!(err, "fake-mcp-server: {message}\n{USAGE}");
            return ExitCode::from(2);
        }
    };
    if options.exit_at_start {
        let _ = writeln!(
            io::stderr(),
            "fake-mcp-server: exiting at start (mode exit-at-start)"
        );
        return ExitCode::from(3);
    }
    let server = match Server::new(options) {
        Ok(server) => Arc::new(server),
        Err(message) => {
            let _ = writeln!(io::stderr(), "fake-mcp-server: {message}");
            return ExitCode::from(2);
        }
    };
    server.stderr_noise(2_000);
    if server.options.watch_tools_file
        && let Some(path) = server.options.tools_file.clone()
    {
        let watched = Arc::clone(&server);
        thread::spawn(move || watched.watch_tools_file(&path));
    }
    if server.options.garbage_stdout {
        server.out.banner();
    }

    let mut calls: Vec<JoinHandle<()>> = Vec::new();
    let mut stdin = io::stdin().lock();
    let mut line = Vec::new();
    loop {
        line.clear();
        match stdin.read_until(b'\n', &mut line) {
            Ok(0) => break,
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(io::stderr(), "fake-mcp-server: reading stdin: {e}");
                break;
            }
        }
        if line.iter().all(u8::is_ascii_whitespace) {
            continue;
        }
        server.stderr_noise(50);
        calls.retain(|call| !call.is_finished());
        calls.extend(server.handle_line(&line));
    }
    // End of input: finish the calls in flight (their answers may still be read), then exit.
    for call in calls {
        let _ = call.join();
    }
    ExitCode::SUCCESS
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(args: &[&str]) -> Result<Options, String> {
        Options::parse(args.iter().map(|s| s.to_string()))
    }

    #[test]
    fn modes_compose_from_commas_and_repeats() {
        let o = parse(&[
            "--mode",
            "garbage-stdout,crash-after-calls=2",
            "--mode=slow-start=150",
            "--tools-file",
            "t.json",
        ])
        .unwrap();
        assert!(o.garbage_stdout);
        assert_eq!(o.crash_after_calls, Some(2));
        assert_eq!(o.slow_start, Some(Duration::from_millis(150)));
        assert_eq!(o.tools_file, Some(PathBuf::from("t.json")));
        assert!(!o.huge_line);
    }

    #[test]
    fn bad_arguments_are_errors() {
        assert!(parse(&["--mode", "nope"]).is_err());
        assert!(parse(&["--mode", "crash-after-calls"]).is_err());
        assert!(parse(&["--mode", "slow-start=soon"]).is_err());
        assert!(parse(&["--mode"]).is_err());
        assert!(parse(&["extra"]).is_err());
    }

    #[test]
    fn add_keeps_integers_and_adds_floats() {
        assert_eq!(
            add(&json!({"a": 2, "b": 3})).unwrap()["structuredContent"]["sum"],
            5
        );
        assert_eq!(
            add(&json!({"a": 0.5, "b": 1})).unwrap()["structuredContent"]["sum"],
            1.5
        );
        assert!(add(&json!({"a": "x", "b": 1})).is_err());
    }
}
