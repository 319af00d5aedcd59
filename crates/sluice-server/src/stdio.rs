//! Standard input and output for the MCP service, with every line answered.
//!
//! rmcp's own stdio transport drops a line it cannot decode and says nothing, so a client that
//! sent one waits forever. JSON-RPC asks for a parse error (-32700, id null) for a line that is
//! not JSON, and an invalid-request error (-32600) for JSON that is not a request object; the
//! connection then goes on. A `tools/call` without a tool name, which rmcp answers as an unknown
//! method, gets invalid params (-32602) with its id; a request before `initialize` is told to
//! initialize first (see [`Filter`]). [`checked_stdio`] puts a filter between the process's stdin and the
//! service: JSON objects pass through as they are, every other line is answered here. Both the
//! service's messages and these answers go to stdout through one writer, whole lines at a time.

use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, AsyncWriteExt, BufReader, DuplexStream};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// The longest line accepted (rmcp itself accepts messages of any size; execute_code requests
/// carry code). A longer line is answered with a parse error and skipped.
pub const MAX_LINE_BYTES: usize = 64 * 1024 * 1024;

/// The two ends the service reads and writes, and the task that writes stdout (await it after
/// the service ends, so its last answers are flushed).
pub struct CheckedStdio {
    /// What the service reads: the lines of stdin that are JSON objects.
    pub input: DuplexStream,
    /// What the service writes; copied to stdout.
    pub output: DuplexStream,
    /// Ends when the service's output is closed and everything is written.
    pub writer: JoinHandle<()>,
    /// Cancelled when stdin ends (the client is gone): time to stop work in flight rather than
    /// let the service wait for it.
    pub closed: tokio_util::sync::CancellationToken,
}

/// What one line of stdin is.
#[derive(Debug, PartialEq)]
pub enum Line {
    /// Nothing but whitespace: ignored, as JSON-RPC over stdio allows.
    Blank,
    /// A JSON object: for the service.
    Message,
    /// Anything else, with the error object to answer.
    Refused(Value),
}

/// What the filter remembers between lines: whether the client has sent `initialize`.
///
/// rmcp takes a request that comes before `initialize` for a stateless request of a later
/// protocol revision and answers that its `_meta` lacks a protocol version, which tells a client
/// nothing about what it did wrong. Until `initialize` has passed, a request other than `ping`
/// that carries no protocol version of its own is answered here, saying to initialize first.
#[derive(Debug, Default)]
pub struct Filter {
    initialize_seen: bool,
}

impl Filter {
    /// Classify one line (without its newline), in the order the lines came.
    pub fn check(&mut self, line: &[u8]) -> Line {
        classify(line, |message| {
            malformed_call(message).or_else(|| self.premature(message))
        })
    }

    fn premature(&mut self, message: &serde_json::Map<String, Value>) -> Option<Value> {
        let method = message.get("method").and_then(Value::as_str)?;
        if method == "initialize" {
            self.initialize_seen = true;
        }
        let id = message.get("id")?;
        let stateless = message
            .get("params")
            .and_then(|params| params.get("_meta"))
            .and_then(|meta| meta.get("io.modelcontextprotocol/protocolVersion"))
            .is_some();
        if self.initialize_seen || method == "ping" || stateless {
            return None;
        }
        Some(error_for(
            id.clone(),
            -32600,
            format!(
                "`{}` came before `initialize`: start the session with an `initialize` request, then send `notifications/initialized`, then other requests",
                method.escape_debug()
            ),
        ))
    }
}

/// Classify one line (without its newline); `refuse` may answer a JSON object instead of
/// passing it on.
fn classify(
    line: &[u8],
    refuse: impl FnOnce(&serde_json::Map<String, Value>) -> Option<Value>,
) -> Line {
    if line.iter().all(u8::is_ascii_whitespace) {
        return Line::Blank;
    }
    if line.len() > MAX_LINE_BYTES {
        return Line::Refused(error(
            -32700,
            format!("the message is longer than {MAX_LINE_BYTES} bytes"),
        ));
    }
    // Parsed whole, as rmcp parses it after us: a lighter check (`IgnoredAny`, `RawValue`)
    // accepts a lone surrogate escape, which rmcp then drops unanswered.
    match serde_json::from_slice::<Value>(line) {
        Ok(Value::Object(message)) => match refuse(&message) {
            Some(answer) => Line::Refused(answer),
            None => Line::Message,
        },
        Ok(Value::Array(_)) => Line::Refused(error(
            -32600,
            "batches are not supported: send one JSON-RPC message per line".to_owned(),
        )),
        Ok(_) => Line::Refused(error(
            -32600,
            "a JSON-RPC message must be a JSON object".to_owned(),
        )),
        Err(problem) => Line::Refused(error(
            -32700,
            format!("the line is not valid JSON ({problem}); send one JSON-RPC message per line"),
        )),
    }
}

fn error(code: i64, message: String) -> Value {
    error_for(Value::Null, code, message)
}

fn error_for(id: Value, code: i64, message: String) -> Value {
    json!({"jsonrpc": "2.0", "id": id, "error": {"code": code, "message": message}})
}

/// The answer to a `tools/call` request without a tool name: invalid params (-32602). rmcp
/// cannot decode such a request and answers it as an unknown method (-32601).
fn malformed_call(message: &serde_json::Map<String, Value>) -> Option<Value> {
    let id = message.get("id")?;
    if message.get("method").and_then(Value::as_str) != Some("tools/call") {
        return None;
    }
    let name = message.get("params").and_then(|params| params.get("name"));
    if name.is_some_and(Value::is_string) {
        return None;
    }
    Some(error_for(
        id.clone(),
        -32602,
        "tools/call needs `params.name`, the name of the tool to call (tools/list lists them)"
            .to_owned(),
    ))
}

/// Start the filter on the process's stdin and stdout.
pub fn checked_stdio() -> CheckedStdio {
    let (input, mut to_service) = tokio::io::duplex(1 << 16);
    let (output, from_service) = tokio::io::duplex(1 << 16);
    let (refusals, mut refused) = mpsc::unbounded_channel::<Value>();
    let closed = tokio_util::sync::CancellationToken::new();
    let stdin_closed = closed.clone();
    tokio::spawn(async move {
        let mut stdin = BufReader::new(tokio::io::stdin());
        let mut line = Vec::new();
        let mut filter = Filter::default();
        loop {
            line.clear();
            match stdin.read_until(b'\n', &mut line).await {
                Ok(0) | Err(_) => break,
                Ok(_) => {}
            }
            let text = line.strip_suffix(b"\n").unwrap_or(&line);
            let text = text.strip_suffix(b"\r").unwrap_or(text);
            match filter.check(text) {
                Line::Blank => {}
                Line::Message => {
                    if to_service.write_all(&line).await.is_err() {
                        break;
                    }
                    if !line.ends_with(b"\n") && to_service.write_all(b"\n").await.is_err() {
                        break;
                    }
                }
                Line::Refused(answer) => {
                    tracing::warn!("answered a line that is not a JSON-RPC message: {answer}");
                    if refusals.send(answer).is_err() {
                        break;
                    }
                }
            }
        }
        // Dropping `to_service` tells the service that stdin ended.
        stdin_closed.cancel();
    });
    let writer = tokio::spawn(async move {
        let mut stdout = tokio::io::stdout();
        let mut lines = BufReader::new(from_service);
        let mut line = Vec::new();
        let mut service_open = true;
        let mut refusals_open = true;
        loop {
            tokio::select! {
                // Answers to bad lines first: one queued before a request was passed on is
                // written before the service's answer to that request.
                biased;
                answer = refused.recv(), if refusals_open => match answer {
                    Some(answer) => {
                        let mut bytes = answer.to_string().into_bytes();
                        bytes.push(b'\n');
                        if stdout.write_all(&bytes).await.is_err() {
                            break;
                        }
                    }
                    None => refusals_open = false,
                },
                read = lines.read_until(b'\n', &mut line), if service_open => {
                    match read {
                        Ok(0) | Err(_) => service_open = false,
                        Ok(_) => {
                            if stdout.write_all(&line).await.is_err() {
                                break;
                            }
                            line.clear();
                        }
                    }
                }
                else => break,
            }
            let _ = stdout.flush().await;
            if !service_open && refused.is_empty() {
                break;
            }
        }
        let _ = stdout.flush().await;
    });
    CheckedStdio {
        input,
        output,
        writer,
        closed,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Lines of a session that has been initialized.
    fn classify(line: &[u8]) -> Line {
        let mut filter = Filter {
            initialize_seen: true,
        };
        filter.check(line)
    }

    fn code(line: &[u8]) -> Option<i64> {
        match classify(line) {
            Line::Refused(answer) => answer["error"]["code"].as_i64(),
            _ => None,
        }
    }

    #[test]
    fn every_line_that_is_not_a_message_is_answered() {
        assert_eq!(classify(b"  \t"), Line::Blank);
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":1,"method":"ping"}"#),
            Line::Message
        );
        assert_eq!(code(b"garbage"), Some(-32700));
        assert_eq!(code(b"{\"a\": \xff}"), Some(-32700));
        assert_eq!(code(br#"{"a": "\ud800"}"#), Some(-32700));
        assert_eq!(code("[".repeat(10_000).as_bytes()), Some(-32700));
        assert_eq!(code(b"[]"), Some(-32600));
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{}}"#),
            Some(-32602)
        );
        assert_eq!(
            code(br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":7}}"#),
            Some(-32602)
        );
        assert_eq!(
            classify(br#"{"jsonrpc":"2.0","id":3,"method":"tools/call","params":{"name":"x"}}"#),
            Line::Message
        );
        assert_eq!(code(b"42"), Some(-32600));
        let Line::Refused(answer) = classify(b"nope") else {
            panic!("not refused");
        };
        assert_eq!(answer["id"], Value::Null);
        assert_eq!(answer["jsonrpc"], "2.0");
    }

    #[test]
    fn a_request_before_initialize_is_told_to_initialize_first() {
        let mut filter = Filter::default();
        let Line::Refused(answer) =
            filter.check(br#"{"jsonrpc":"2.0","id":1,"method":"tools/list"}"#)
        else {
            panic!("not refused");
        };
        assert_eq!(answer["id"], 1);
        assert_eq!(answer["error"]["code"], -32600);
        let message = answer["error"]["message"].as_str().unwrap();
        assert!(message.contains("before `initialize`"), "{message}");
        // Pings, notifications and requests that carry their own protocol version pass.
        for line in [
            br#"{"jsonrpc":"2.0","id":2,"method":"ping"}"#.as_slice(),
            br#"{"jsonrpc":"2.0","method":"notifications/cancelled","params":{"requestId":1}}"#,
            br#"{"jsonrpc":"2.0","id":3,"method":"tools/list","params":{"_meta":{"io.modelcontextprotocol/protocolVersion":"2026-06-18"}}}"#,
        ] {
            assert_eq!(filter.check(line), Line::Message);
        }
        assert_eq!(
            filter.check(br#"{"jsonrpc":"2.0","id":4,"method":"initialize","params":{}}"#),
            Line::Message
        );
        assert_eq!(
            filter.check(br#"{"jsonrpc":"2.0","id":5,"method":"tools/list"}"#),
            Line::Message
        );
    }
}
