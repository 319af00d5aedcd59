//! `sluice serve --http`: the official Python SDK's Streamable HTTP client against the real
//! binary, and raw HTTP for what a client library hides (status codes, headers, sessions).

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_test_support::{
    ClientRun, McpConfig, everything_server, python_client_script, run_client_command, venv_python,
};

use super::common::{call, execute, refused, text, write_config};

/// A running `sluice serve --http`, killed when dropped.
pub struct HttpSluice {
    child: Child,
    /// The MCP endpoint, as Sluice printed it.
    pub url: String,
    /// The bound port.
    pub port: u16,
    /// Everything it wrote to stderr so far.
    pub stderr: Arc<Mutex<String>>,
}

impl Drop for HttpSluice {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl HttpSluice {
    /// `sluice serve --http 127.0.0.1:0 --config CONFIG --data-dir DATA [EXTRA...]`, once it
    /// says where it listens.
    pub fn start(config: &Path, data_dir: &Path, extra: &[&str]) -> HttpSluice {
        let mut child = Command::new(env!("CARGO_BIN_EXE_sluice"))
            .args([
                "serve",
                "--http",
                "127.0.0.1:0",
                "--model",
                "none",
                "--config",
            ])
            .arg(config)
            .arg("--data-dir")
            .arg(data_dir)
            .args(extra)
            .env("SLUICE_LOG", "warn,sluice_server=info")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start sluice serve --http");
        let stderr = Arc::new(Mutex::new(String::new()));
        let (url_sender, url_receiver) = std::sync::mpsc::channel();
        let pipe = child.stderr.take().expect("stderr");
        let collected = stderr.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(pipe).lines().map_while(Result::ok) {
                if let Some(url) = line.strip_prefix("sluice: serving MCP at ") {
                    let _ = url_sender.send(url.to_owned());
                }
                let mut all = collected.lock().expect("stderr");
                all.push_str(&line);
                all.push('\n');
            }
        });
        let url = match url_receiver.recv_timeout(Duration::from_secs(30)) {
            Ok(url) => url,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!(
                    "sluice serve --http did not say where it listens; stderr:\n{}",
                    stderr.lock().expect("stderr")
                );
            }
        };
        let port = url
            .trim_end_matches("/mcp")
            .rsplit(':')
            .next()
            .and_then(|port| port.parse().ok())
            .expect("a port in the URL");
        HttpSluice {
            child,
            url,
            port,
            stderr,
        }
    }

    /// Send SIGTERM.
    pub fn terminate(&self) {
        let status = Command::new("kill")
            .arg("-TERM")
            .arg(self.child.id().to_string())
            .status()
            .expect("kill");
        assert!(status.success());
    }

    /// Wait for the process to end, at most `limit`.
    pub fn wait_exit(&mut self, limit: Duration) -> Option<std::process::ExitStatus> {
        let started = Instant::now();
        while started.elapsed() < limit {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }
}

/// Run the Python SDK's Streamable HTTP client against `url` (`mode`: "legacy" for the
/// `initialize` handshake and a session, "auto" for the sessionless protocol when offered).
pub fn python_over_http(url: &str, mode: &str, headers: &[String], ops: &Value) -> ClientRun {
    python_over_http_with(url, mode, headers, ops, &[])
}

/// [`python_over_http`] with extra environment variables for the client.
pub fn python_over_http_with(
    url: &str,
    mode: &str,
    headers: &[String],
    ops: &Value,
    env: &[(&str, &str)],
) -> ClientRun {
    let mut command = Command::new(venv_python());
    command.envs(env.iter().copied());
    command
        .arg(python_client_script())
        .arg("--url")
        .arg(url)
        .arg("--mode")
        .arg(mode);
    for header in headers {
        command.arg(format!("--header={header}"));
    }
    run_client_command(command, ops)
}

/// One HTTP exchange as seen on the wire.
#[derive(Debug)]
pub struct Reply {
    pub status: u16,
    pub headers: Vec<(String, String)>,
    pub body: String,
}

impl Reply {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(name))
            .map(|(_, value)| value.as_str())
    }
}

/// Send one request to `127.0.0.1:port` and read the whole answer (`Connection: close`).
pub fn raw_request(
    port: u16,
    method: &str,
    path: &str,
    headers: &[(&str, &str)],
    body: Option<&str>,
) -> Reply {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    stream
        .set_read_timeout(Some(Duration::from_secs(60)))
        .expect("timeout");
    let mut request =
        format!("{method} {path} HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nConnection: close\r\n");
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    if let Some(body) = body {
        request.push_str(&format!("Content-Length: {}\r\n", body.len()));
    }
    request.push_str("\r\n");
    request.push_str(body.unwrap_or_default());
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    parse_reply(&String::from_utf8_lossy(&raw))
}

fn parse_reply(raw: &str) -> Reply {
    let (head, rest) = raw.split_once("\r\n\r\n").unwrap_or((raw, ""));
    let mut lines = head.lines();
    let status = lines
        .next()
        .and_then(|line| line.split(' ').nth(1))
        .and_then(|code| code.parse().ok())
        .unwrap_or(0);
    let headers: Vec<(String, String)> = lines
        .filter_map(|line| line.split_once(':'))
        .map(|(name, value)| (name.trim().to_owned(), value.trim().to_owned()))
        .collect();
    let chunked = headers
        .iter()
        .any(|(name, value)| name.eq_ignore_ascii_case("transfer-encoding") && value == "chunked");
    let body = if chunked {
        dechunk(rest)
    } else {
        rest.to_owned()
    };
    Reply {
        status,
        headers,
        body,
    }
}

fn dechunk(mut rest: &str) -> String {
    let mut body = String::new();
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if size == 0 || after.len() < size {
            body.push_str(&after[..size.min(after.len())]);
            break;
        }
        body.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    body
}

/// The headers of an MCP POST.
pub const POST_HEADERS: [(&str, &str); 2] = [
    ("Accept", "application/json, text/event-stream"),
    ("Content-Type", "application/json"),
];

/// An `initialize` request of the 2025-11-25 protocol (with sessions).
pub fn initialize_body() -> String {
    json!({"jsonrpc": "2.0", "id": 1, "method": "initialize", "params": {
        "protocolVersion": "2025-11-25", "capabilities": {},
        "clientInfo": {"name": "raw-test", "version": "1"}}})
    .to_string()
}

/// `initialize` then `notifications/initialized` over raw HTTP: the session id.
pub fn open_session(port: u16, extra: &[(&str, &str)]) -> String {
    let mut headers = POST_HEADERS.to_vec();
    headers.extend_from_slice(extra);
    let reply = raw_request(port, "POST", "/mcp", &headers, Some(&initialize_body()));
    assert_eq!(reply.status, 200, "{reply:?}");
    assert!(reply.body.contains("\"serverInfo\""), "{reply:?}");
    let session = reply
        .header("mcp-session-id")
        .expect("an Mcp-Session-Id")
        .to_owned();
    let mut headers = session_headers(&session);
    headers.extend_from_slice(extra);
    let initialized = json!({"jsonrpc": "2.0", "method": "notifications/initialized"}).to_string();
    let reply = raw_request(port, "POST", "/mcp", &headers, Some(&initialized));
    assert_eq!(reply.status, 202, "{reply:?}");
    session
}

/// The headers of a POST in `session`.
pub fn session_headers(session: &str) -> Vec<(&'static str, &str)> {
    let mut headers = POST_HEADERS.to_vec();
    headers.push(("Mcp-Session-Id", session));
    headers.push(("MCP-Protocol-Version", "2025-11-25"));
    headers
}

fn everything_config() -> tempfile::NamedTempFile {
    write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({}),
    )
}

/// Search and code with a real tool call, both with a session (the `initialize` handshake, the
/// session ended with DELETE by the SDK) and with the sessionless protocol.
#[test]
fn the_python_sdk_searches_and_runs_code_over_http() {
    let config = everything_config();
    let data = tempfile::tempdir().expect("data dir");
    let sluice = HttpSluice::start(config.path(), data.path(), &[]);
    let ops = json!([
        {"op": "initialize_result"},
        {"op": "list_tools"},
        call("search_tools", json!({"query": "echo a message", "detail": "name"})),
        execute(
            "import * as everything from './servers/everything';\n\
             console.log(await everything.echo({ message: 'over http' }));"
        ),
        // Progress notifications first, then the answer: an SSE response even where JSON is
        // preferred.
        {"op": "call_tool", "name": "execute_code", "progress": true,
         "arguments": {"code": "await new Promise(r => setTimeout(r, 2300)); console.log('slow');"}},
    ]);
    for (mode, version) in [("legacy", "2025-11-25"), ("auto", "2026-07-28")] {
        let run = python_over_http(&sluice.url, mode, &[], &ops);
        assert!(!run.stderr.contains("termination failed"), "{}", run.stderr);
        let output = run.ok();
        assert_eq!(output["protocol_version"], version, "{mode}");
        let results = &output["results"];
        assert_eq!(results[0]["serverInfo"]["name"], "sluice");
        let tools: Vec<&str> = results[1]["tools"]
            .as_array()
            .expect("tools")
            .iter()
            .filter_map(|tool| tool["name"].as_str())
            .collect();
        assert!(tools.contains(&"execute_code"), "{tools:?}");
        assert!(
            text(&results[2]).contains("everything.echo"),
            "{}",
            results[2]
        );
        assert_eq!(
            text(&results[3]),
            "Echo: over http\n",
            "{mode}: {}",
            results[3]
        );
        assert_eq!(text(&results[4]), "slow\n", "{mode}: {}", results[4]);
        let progress = results[4]["progress"].as_array().expect("progress reports");
        assert!(!progress.is_empty(), "{mode}: {}", results[4]);
    }
}

/// DELETE ends a session: 204, then the session is unknown (404) to every method.
#[test]
fn delete_ends_a_session() {
    let config = everything_config();
    let data = tempfile::tempdir().expect("data dir");
    let sluice = HttpSluice::start(config.path(), data.path(), &[]);
    let session = open_session(sluice.port, &[]);
    let list = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/list"}).to_string();
    let reply = raw_request(
        sluice.port,
        "POST",
        "/mcp",
        &session_headers(&session),
        Some(&list),
    );
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("execute_code"), "{reply:?}");

    let delete_headers = [
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    let reply = raw_request(sluice.port, "DELETE", "/mcp", &delete_headers, None);
    assert_eq!(reply.status, 204, "{reply:?}");
    let reply = raw_request(
        sluice.port,
        "POST",
        "/mcp",
        &session_headers(&session),
        Some(&list),
    );
    assert_eq!(reply.status, 404, "{reply:?}");
    let reply = raw_request(sluice.port, "DELETE", "/mcp", &delete_headers, None);
    assert_eq!(reply.status, 404, "{reply:?}");
    // Another path is not the endpoint.
    let reply = raw_request(sluice.port, "GET", "/", &[], None);
    assert_eq!(reply.status, 404);
    assert!(reply.body.contains("/mcp"), "{reply:?}");
}

/// A browser page of another site is refused (DNS rebinding); loopback pages and the configured
/// origins are not.
#[test]
fn a_foreign_origin_is_refused() {
    let config = write_config(
        McpConfig::new().server("everything", &everything_server()),
        json!({"http": {"allowedOrigins": ["https://app.example.com"]}}),
    );
    let data = tempfile::tempdir().expect("data dir");
    let sluice = HttpSluice::start(config.path(), data.path(), &[]);
    let body = initialize_body();
    for (origin, expected) in [
        ("http://evil.example", 403),
        ("https://app.example.com:8443", 403),
        ("null", 403),
        ("http://localhost:3000", 200),
        ("http://127.0.0.1:5173", 200),
        ("https://app.example.com", 200),
    ] {
        let mut headers = POST_HEADERS.to_vec();
        headers.push(("Origin", origin));
        let reply = raw_request(sluice.port, "POST", "/mcp", &headers, Some(&body));
        assert_eq!(reply.status, expected, "{origin}: {reply:?}");
        if expected == 403 {
            assert!(reply.body.contains("allowedOrigins"), "{reply:?}");
            assert!(reply.header("mcp-session-id").is_none());
        }
    }
    // CORS: a preflight of a listed origin gets the methods and headers MCP uses, and its answers
    // may be read by the page; a loopback page passes the Origin check but gets no CORS headers
    // (none are granted by default); any other origin is refused.
    for (origin, status, granted) in [
        ("https://app.example.com", 204, true),
        ("http://localhost:3000", 204, false),
        ("http://evil.example", 403, false),
    ] {
        let reply = raw_request(
            sluice.port,
            "OPTIONS",
            "/mcp",
            &[
                ("Origin", origin),
                ("Access-Control-Request-Method", "POST"),
                (
                    "Access-Control-Request-Headers",
                    "content-type, mcp-session-id",
                ),
            ],
            None,
        );
        assert_eq!(reply.status, status, "{origin}: {reply:?}");
        assert_eq!(
            reply.header("access-control-allow-origin"),
            granted.then_some(origin),
            "{reply:?}"
        );
        if granted {
            let allowed = reply
                .header("access-control-allow-headers")
                .unwrap_or_default();
            assert!(allowed.contains("mcp-session-id"), "{reply:?}");
            assert!(
                reply
                    .header("access-control-allow-methods")
                    .unwrap_or_default()
                    .contains("POST")
            );
        }
    }
    let mut headers = POST_HEADERS.to_vec();
    headers.push(("Origin", "https://app.example.com"));
    let reply = raw_request(sluice.port, "POST", "/mcp", &headers, Some(&body));
    assert_eq!(
        reply.header("access-control-allow-origin"),
        Some("https://app.example.com")
    );
    assert!(
        reply
            .header("access-control-expose-headers")
            .unwrap_or_default()
            .contains("mcp-session-id")
    );
    // A rebound name reaches the loopback address with its own Host: refused too.
    let mut headers = POST_HEADERS.to_vec();
    headers.push(("Host", "attacker.example:80"));
    let mut stream = TcpStream::connect(("127.0.0.1", sluice.port)).expect("connect");
    let request = format!(
        "POST /mcp HTTP/1.1\r\nHost: attacker.example\r\nConnection: close\r\nAccept: application/json, text/event-stream\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\r\n{body}",
        body.len()
    );
    stream.write_all(request.as_bytes()).expect("send");
    let mut raw = String::new();
    let _ = stream.read_to_string(&mut raw);
    assert!(raw.starts_with("HTTP/1.1 403"), "{raw}");
}

/// Only loopback addresses without --allow-remote, with a message that says why and what to do.
#[test]
fn a_non_loopback_address_needs_allow_remote() {
    let config = everything_config();
    let config = config.path().to_str().expect("a UTF-8 temporary path");
    let stderr = refused([
        "serve",
        "--http",
        "0.0.0.0:0",
        "--model",
        "none",
        "--config",
        config,
    ]);
    assert!(
        stderr.contains("not a loopback address") && stderr.contains("--allow-remote"),
        "{stderr}"
    );
    let stderr = refused(["serve", "--allow-remote", "--config", config]);
    assert!(stderr.contains("--http"), "{stderr}");
}

/// SIGTERM: no new connections, but the execution in flight finishes and its answer arrives;
/// then Sluice exits cleanly.
#[test]
fn sigterm_lets_the_execution_in_flight_finish() {
    let config = everything_config();
    let data = tempfile::tempdir().expect("data dir");
    let mut sluice = HttpSluice::start(config.path(), data.path(), &[]);
    let session = open_session(sluice.port, &[]);
    let port = sluice.port;
    let call = json!({"jsonrpc": "2.0", "id": 2, "method": "tools/call", "params": {
        "name": "execute_code",
        "arguments": {"code": "await new Promise(r => setTimeout(r, 4000)); console.log('finished');"}}})
    .to_string();
    let answer = std::thread::spawn(move || {
        raw_request(
            port,
            "POST",
            "/mcp",
            &session_headers(&session),
            Some(&call),
        )
    });
    std::thread::sleep(Duration::from_millis(1500));
    let terminated = Instant::now();
    sluice.terminate();
    std::thread::sleep(Duration::from_millis(300));
    assert!(
        TcpStream::connect(("127.0.0.1", port)).is_err(),
        "still accepting connections after SIGTERM"
    );
    let reply = answer.join().expect("the call's thread");
    assert_eq!(reply.status, 200);
    assert!(reply.body.contains("finished"), "{reply:?}");
    assert!(!reply.body.contains("\"isError\":true"), "{reply:?}");
    let status = sluice
        .wait_exit(Duration::from_secs(15))
        .expect("sluice exits after the execution finished");
    assert!(status.success(), "{status:?}");
    assert!(terminated.elapsed() < Duration::from_secs(10));
    let stderr = sluice.stderr.lock().expect("stderr").clone();
    assert!(stderr.contains("1 tool call(s) in flight"), "{stderr}");
}

/// Read from `stream` until `needle` has arrived (or the peer closes or 30 s pass).
fn read_until(stream: &mut TcpStream, needle: &str) -> String {
    stream
        .set_read_timeout(Some(Duration::from_secs(30)))
        .expect("timeout");
    let mut seen = Vec::new();
    let mut buffer = [0u8; 4096];
    while !String::from_utf8_lossy(&seen).contains(needle) {
        match stream.read(&mut buffer) {
            Ok(0) | Err(_) => break,
            Ok(count) => seen.extend_from_slice(&buffer[..count]),
        }
    }
    String::from_utf8_lossy(&seen).into_owned()
}

/// A client whose connection drops while its code runs resumes the answer's stream with
/// `Last-Event-ID` and gets the result; the execution was not stopped by the drop.
#[test]
fn a_dropped_stream_resumes_with_last_event_id() {
    let config = everything_config();
    let data = tempfile::tempdir().expect("data dir");
    let sluice = HttpSluice::start(config.path(), data.path(), &[]);
    let session = open_session(sluice.port, &[]);
    let call = json!({"jsonrpc": "2.0", "id": 7, "method": "tools/call", "params": {
        "name": "execute_code",
        "arguments": {"code": "await new Promise(r => setTimeout(r, 1500)); console.log('resumed answer');"}}})
    .to_string();
    let mut stream = TcpStream::connect(("127.0.0.1", sluice.port)).expect("connect");
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\n",
        sluice.port,
        call.len()
    );
    for (name, value) in session_headers(&session) {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&call);
    stream.write_all(request.as_bytes()).expect("send");
    let head = read_until(&mut stream, "retry:");
    let event_id = head
        .lines()
        .find_map(|line| line.strip_prefix("id: "))
        .expect("the priming event's id")
        .trim()
        .to_owned();
    drop(stream);
    assert!(!head.contains("resumed answer"));

    let mut headers = vec![
        ("Accept", "text/event-stream"),
        ("Mcp-Session-Id", session.as_str()),
        ("MCP-Protocol-Version", "2025-11-25"),
    ];
    headers.push(("Last-Event-ID", &event_id));
    let mut stream = TcpStream::connect(("127.0.0.1", sluice.port)).expect("connect");
    let mut request = format!("GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\n", sluice.port);
    for (name, value) in headers {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    stream.write_all(request.as_bytes()).expect("send");
    let resumed = read_until(&mut stream, "resumed answer");
    assert!(resumed.starts_with("HTTP/1.1 200"), "{resumed}");
    assert!(
        resumed.contains("\"id\":7") && resumed.contains("resumed answer"),
        "{resumed}"
    );
}

/// A tools/call of the sessionless protocol (2026-07-28): the version in `_meta`.
fn sessionless_call(id: u64, name: &str, arguments: Value) -> String {
    json!({"jsonrpc": "2.0", "id": id, "method": "tools/call", "params": {
    "name": name, "arguments": arguments,
    "_meta": {
        "io.modelcontextprotocol/protocolVersion": "2026-07-28",
        "io.modelcontextprotocol/clientInfo": {"name": "raw-test", "version": "1"},
        "io.modelcontextprotocol/clientCapabilities": {}
    }}})
    .to_string()
}

/// Without a session too: the answer's stream dropped while the code runs is resumed by a GET
/// with `Last-Event-ID`, and the answer arrives.
#[test]
fn a_dropped_sessionless_stream_resumes_with_last_event_id() {
    let config = everything_config();
    let data = tempfile::tempdir().expect("data dir");
    let sluice = HttpSluice::start(config.path(), data.path(), &[]);
    let call = sessionless_call(
        9,
        "execute_code",
        json!({"code": "await new Promise(r => setTimeout(r, 1500)); console.log('sessionless answer');"}),
    );
    let mut stream = TcpStream::connect(("127.0.0.1", sluice.port)).expect("connect");
    let mut request = format!(
        "POST /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nContent-Length: {}\r\nMCP-Protocol-Version: 2026-07-28\r\nMcp-Method: tools/call\r\nMcp-Name: execute_code\r\n",
        sluice.port,
        call.len()
    );
    for (name, value) in POST_HEADERS {
        request.push_str(&format!("{name}: {value}\r\n"));
    }
    request.push_str("\r\n");
    request.push_str(&call);
    stream.write_all(request.as_bytes()).expect("send");
    let head = read_until(&mut stream, "retry:");
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    let event_id = head
        .lines()
        .find_map(|line| line.strip_prefix("id: "))
        .expect("an event id")
        .trim()
        .to_owned();
    drop(stream);

    let mut stream = TcpStream::connect(("127.0.0.1", sluice.port)).expect("connect");
    let request = format!(
        "GET /mcp HTTP/1.1\r\nHost: 127.0.0.1:{}\r\nAccept: text/event-stream\r\nMCP-Protocol-Version: 2026-07-28\r\nLast-Event-ID: {event_id}\r\n\r\n",
        sluice.port
    );
    stream.write_all(request.as_bytes()).expect("send");
    let resumed = read_until(&mut stream, "sessionless answer");
    assert!(resumed.starts_with("HTTP/1.1 200"), "{resumed}");
    assert!(resumed.contains("\"id\":9"), "{resumed}");
    // An id this server never gave resumes nothing.
    let reply = raw_request(
        sluice.port,
        "GET",
        "/mcp",
        &[
            ("Accept", "text/event-stream"),
            ("MCP-Protocol-Version", "2026-07-28"),
            ("Last-Event-ID", "00000000-0000-4000-8000-000000000000/0"),
        ],
        None,
    );
    assert!(!reply.body.contains("\"result\""), "{reply:?}");
}

/// `sluice.http.jsonResponse`: a sessionless answer with nothing before it is plain JSON.
#[test]
fn json_responses_when_asked() {
    let list = sessionless_call(
        3,
        "search_tools",
        json!({"query": "echo", "detail": "name"}),
    );
    let mut headers = POST_HEADERS.to_vec();
    headers.push(("MCP-Protocol-Version", "2026-07-28"));
    headers.push(("Mcp-Method", "tools/call"));
    headers.push(("Mcp-Name", "search_tools"));
    for (json_response, content_type) in [(true, "application/json"), (false, "text/event-stream")]
    {
        let config = write_config(
            McpConfig::new().server("everything", &everything_server()),
            json!({"http": {"jsonResponse": json_response}}),
        );
        let data = tempfile::tempdir().expect("data dir");
        let sluice = HttpSluice::start(config.path(), data.path(), &[]);
        let reply = raw_request(sluice.port, "POST", "/mcp", &headers, Some(&list));
        assert_eq!(reply.status, 200, "{reply:?}");
        assert_eq!(
            reply.header("content-type"),
            Some(content_type),
            "{reply:?}"
        );
        assert!(reply.body.contains("everything.echo"), "{reply:?}");
    }
}

/// A self-signed certificate for localhost and 127.0.0.1, made with the test venv's
/// `cryptography`: (certificate, key) PEM files in `dir`.
fn self_signed(dir: &Path) -> (std::path::PathBuf, std::path::PathBuf) {
    let script = r#"
import datetime, sys
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
import ipaddress
key = ec.generate_private_key(ec.SECP256R1())
name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
now = datetime.datetime.now(datetime.timezone.utc)
cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name).public_key(key.public_key())
        .serial_number(x509.random_serial_number()).not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName("localhost"),
                       x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256()))
open(sys.argv[1], "wb").write(cert.public_bytes(serialization.Encoding.PEM))
open(sys.argv[2], "wb").write(key.private_bytes(serialization.Encoding.PEM,
     serialization.PrivateFormat.PKCS8, serialization.NoEncryption()))
"#;
    let cert = dir.join("cert.pem");
    let key = dir.join("key.pem");
    let status = Command::new(venv_python())
        .arg("-c")
        .arg(script)
        .arg(&cert)
        .arg(&key)
        .status()
        .expect("run python");
    assert!(status.success(), "making the test certificate failed");
    (cert, key)
}

/// `--tls-cert`/`--tls-key`: HTTPS, trusted by a client given the certificate and refused by one
/// that is not; a key that is not one stops `serve` with the file named.
#[test]
fn https_with_a_certificate() {
    let config = everything_config();
    let data = tempfile::tempdir().expect("data dir");
    let certs = tempfile::tempdir().expect("cert dir");
    let (cert, key) = self_signed(certs.path());
    let cert_arg = cert.to_string_lossy().into_owned();
    let key_arg = key.to_string_lossy().into_owned();
    let sluice = HttpSluice::start(
        config.path(),
        data.path(),
        &["--tls-cert", &cert_arg, "--tls-key", &key_arg],
    );
    assert!(
        sluice.url.starts_with("https://127.0.0.1:"),
        "{}",
        sluice.url
    );
    let ops = json!([execute(
        "import * as everything from './servers/everything';\n\
         console.log(await everything.echo({ message: 'over https' }));"
    )]);
    let output = python_over_http_with(
        &sluice.url,
        "legacy",
        &[],
        &ops,
        &[("SSL_CERT_FILE", &cert_arg)],
    )
    .ok();
    assert_eq!(text(&output["results"][0]), "Echo: over https\n");
    let untrusted = python_over_http(&sluice.url, "legacy", &[], &ops);
    assert!(
        untrusted.stdout.contains("CERTIFICATE_VERIFY_FAILED"),
        "{}",
        untrusted.stdout
    );

    let stderr = refused([
        "serve".as_ref(),
        "--http".as_ref(),
        "0".as_ref(),
        "--model".as_ref(),
        "none".as_ref(),
        "--tls-cert".as_ref(),
        std::ffi::OsStr::new(&cert_arg),
        "--tls-key".as_ref(),
        cert.as_os_str(),
        "--config".as_ref(),
        config.path().as_os_str(),
    ]);
    assert!(
        stderr.contains("cannot serve TLS with") && stderr.contains("cert.pem"),
        "{stderr}"
    );
}
