//! The path of one tool call from agent code, inside the gateway:
//! tool exists -> arguments valid against `inputSchema` -> downstream call with a deadline ->
//! result mapped to what the code receives.

use std::time::Duration;

use serde_json::{Map, Value};
use sluice_downstream::{CallError, ToolResponse};
use sluice_pii::Supplied;
use sluice_worker_protocol::{ToolErrorKind, ToolOutcome};

use crate::privacy::ExecutionPrivacy;
use crate::{Gateway, Snapshot};

/// How many validation problems an error message lists.
const MAX_REPORTED_PROBLEMS: usize = 5;

impl Gateway {
    /// Run one tool call on behalf of agent code and say what the code receives.
    /// With `privacy`, tokens in the arguments are first replaced by the real values the flow
    /// policy lets go to this tool (or the call fails with `policy_denied`), and what the code
    /// receives is tokenized.
    pub(crate) async fn route_tool_call(
        &self,
        snapshot: &Snapshot,
        privacy: Option<&ExecutionPrivacy>,
        server: &str,
        tool: &str,
        arguments: Value,
        call: CallOptions<'_>,
    ) -> ToolOutcome {
        let CallOptions {
            deadline,
            elicitor,
            client,
            audit,
            trace,
        } = call;
        // The tool policy first: a denied tool gets nothing, not even its arguments checked;
        // an `ask` tool waits for the person's answer (the wait counts against the deadline).
        match crate::governance::check(snapshot, server, tool) {
            crate::governance::Check::Allowed => {}
            crate::governance::Check::Refused(outcome) => return outcome,
            crate::governance::Check::Ask(why) => {
                if let Some(refusal) = crate::governance::ask(
                    elicitor.as_ref(),
                    (&self.inner.policy, &client),
                    (
                        self.audit(),
                        &crate::audit::GovernanceOrigin::of(audit.0, audit.1),
                    ),
                    &crate::governance::Question {
                        server,
                        tool,
                        arguments: &arguments,
                        why: &why,
                        wait: deadline,
                    },
                )
                .await
                {
                    return refusal;
                }
            }
        }
        let protect = |outcome: ToolOutcome, from_tool: Option<&Supplied>| match privacy {
            Some(privacy) => privacy.protect_outcome(server, tool, outcome, from_tool),
            None => outcome,
        };
        let (arguments, supplied) = match privacy {
            Some(privacy) => match privacy.release(server, tool, arguments) {
                Ok(released) => released,
                Err(outcome) => return outcome,
            },
            None => (arguments, Supplied::none()),
        };
        let arguments = match check_call(snapshot, server, tool, arguments) {
            Ok(arguments) => arguments,
            // The message may quote released values: tokenize it (no tool is its source).
            Err(outcome) => return protect(outcome, None),
        };
        // The rate protects the server: only calls that would reach it count.
        if let Err(rate) = self.rates().try_acquire(server) {
            return ToolOutcome::failure(
                ToolErrorKind::RateLimited,
                format!(
                    "server \"{server}\" accepts at most {rate} calls per second from agent code; \
                     slow down (the runtime's retry() helper waits and retries)"
                ),
                true,
            );
        }
        // The call's span is the downstream request's parent (`_meta.traceparent`).
        let meta = trace.as_ref().map(|span| {
            let context = span.trace_context();
            let mut meta = rmcp::model::RequestMetaObject::new();
            meta.set_traceparent(context.traceparent);
            if let Some(state) = context.tracestate {
                meta.set_tracestate(state);
            }
            meta
        });
        let response = self
            .pool()
            .call_tool_with_meta(server, tool, arguments, deadline, elicitor, meta)
            .await;
        if let Some(span) = trace {
            match &response {
                Ok(response) => span.queued(response.queued),
                Err(CallError::Timeout { queued, .. }) => span.queued(*queued),
                Err(_) => {}
            }
        }
        let outcome = match response {
            Ok(response) => map_response(response),
            Err(error) => call_error(&error),
        };
        protect(outcome, Some(&supplied))
    }
}

/// How a call is made downstream.
pub(crate) struct CallOptions<'a> {
    /// Its deadline, queueing included.
    pub deadline: Duration,
    /// Who answers the server's questions during the call.
    pub elicitor: Option<sluice_downstream::SharedElicitor>,
    /// The client connection that made it (approvals remembered for it).
    pub client: std::sync::Arc<str>,
    /// Who made it (the execution's origin and id), for the audit records of approvals.
    pub audit: (&'a crate::report::Origin, &'a str),
    /// The call's span, when traces are on: its trace context goes to the server in `_meta`,
    /// and the time the call queued is recorded on it.
    pub trace: Option<&'a mut sluice_telemetry::ToolCallSpan>,
}

/// Check that the tool exists and the arguments fit its schema.
// The error is what the worker receives; it is built once per failed call, never on a hot path.
#[allow(clippy::result_large_err)]
pub(crate) fn check_call(
    snapshot: &Snapshot,
    server: &str,
    tool: &str,
    arguments: Value,
) -> Result<Map<String, Value>, ToolOutcome> {
    let Some(entry) = snapshot.catalog.tool(server, tool) else {
        return Err(unknown_tool(snapshot, server, tool));
    };
    let mut arguments = match arguments {
        Value::Object(arguments) => arguments,
        Value::Null => Map::new(),
        other => {
            return Err(ToolOutcome::failure(
                ToolErrorKind::InvalidArguments,
                format!(
                    "arguments must be an object, got {}; call it as {}({{...}})",
                    sluice_catalog::schema::json_type_name(&other),
                    entry.identifier
                ),
                false,
            ));
        }
    };
    // What the schema requires but gives a default for, the code may leave out.
    for (name, default) in &entry.defaults {
        if !arguments.contains_key(name) {
            arguments.insert(name.clone(), default.clone());
        }
    }
    match snapshot.validator(server, tool, &entry.input_schema) {
        Ok(validator) => {
            let instance = Value::Object(arguments);
            // The common case first: valid arguments, without building any error.
            if validator.is_valid(&instance) {
                let Value::Object(arguments) = instance else {
                    return Ok(Map::new());
                };
                return Ok(arguments);
            }
            let problems: Vec<String> = validator
                .iter_errors(&instance)
                .take(MAX_REPORTED_PROBLEMS)
                .map(|error| {
                    let location = error.instance_path().to_string();
                    if location.is_empty() {
                        format!("arguments: {error}")
                    } else {
                        format!(
                            "field `{}`: {error}",
                            location.trim_start_matches('/').replace('/', ".")
                        )
                    }
                })
                .collect();
            if !problems.is_empty() {
                return Err(ToolOutcome::failure(
                    ToolErrorKind::InvalidArguments,
                    format!(
                        "invalid arguments: {}. Read servers/{server}/{}.ts for the expected input",
                        problems.join("; "),
                        entry.identifier
                    ),
                    false,
                ));
            }
            let Value::Object(arguments) = instance else {
                return Ok(Map::new());
            };
            Ok(arguments)
        }
        Err(compile_error) => {
            // A schema the validator cannot compile is the server's problem; let it judge.
            tracing::debug!(server, tool, "input schema not checked: {compile_error}");
            Ok(arguments)
        }
    }
}

fn unknown_tool(snapshot: &Snapshot, server: &str, tool: &str) -> ToolOutcome {
    let message = match snapshot.catalog.server_tools(server) {
        Some(tools) => {
            let names: Vec<&str> = tools
                .iter()
                .take(20)
                .map(|tool| tool.name.as_str())
                .collect();
            format!(
                "server \"{server}\" has no tool \"{tool}\"; its tools: {}",
                names.join(", ")
            )
        }
        None => match snapshot
            .statuses
            .iter()
            .find(|status| status.name == server)
        {
            Some(status) => {
                return ToolOutcome::failure(
                    ToolErrorKind::ServerUnavailable,
                    format!(
                        "server \"{server}\" is not available: {}",
                        status.state.describe()
                    ),
                    true,
                );
            }
            None => {
                let servers: Vec<&str> = snapshot
                    .statuses
                    .iter()
                    .map(|status| status.name.as_str())
                    .collect();
                format!(
                    "no server named \"{server}\"; servers: {}",
                    servers.join(", ")
                )
            }
        },
    };
    ToolOutcome::failure(ToolErrorKind::UnknownTool, message, false)
}

/// What the code receives for a response: `isError` becomes a `ToolError`; `structuredContent` is
/// the value; else text parsed as JSON when it is JSON; else the text; content with anything but
/// text (images, resource links) comes back as the list of content blocks.
pub(crate) fn map_response(response: ToolResponse) -> ToolOutcome {
    if response.is_error {
        let mut message = text_of(&response.content)
            .unwrap_or_else(|| "the tool reported an error without a message".to_owned());
        // The questions Sluice declined during the call may be why it failed: say so.
        for reason in &response.declined_elicitations {
            message.push_str(&format!(" [{reason}]"));
        }
        return ToolOutcome::Error {
            kind: ToolErrorKind::Tool,
            message,
            content: Some(Value::Array(response.content)),
            retryable: false,
        };
    }
    if let Some(structured) = response.structured_content {
        return ToolOutcome::Ok { value: structured };
    }
    let value = match text_of(&response.content) {
        Some(text) if response.content.iter().all(is_text_block) => {
            serde_json::from_str::<Value>(text.trim()).unwrap_or(Value::String(text))
        }
        None if response.content.is_empty() => Value::Null,
        _ => Value::Array(response.content),
    };
    ToolOutcome::Ok { value }
}

fn is_text_block(block: &Value) -> bool {
    block.get("type").and_then(Value::as_str) == Some("text")
}

/// The text blocks joined by newlines, if there are any.
fn text_of(content: &[Value]) -> Option<String> {
    let texts: Vec<&str> = content
        .iter()
        .filter(|block| is_text_block(block))
        .filter_map(|block| block.get("text").and_then(Value::as_str))
        .collect();
    (!texts.is_empty()).then(|| texts.join("\n"))
}

fn call_error(error: &CallError) -> ToolOutcome {
    let kind = match error {
        CallError::UnknownServer { .. } => ToolErrorKind::UnknownTool,
        CallError::Unavailable { .. } => ToolErrorKind::ServerUnavailable,
        CallError::Timeout { .. } => ToolErrorKind::Timeout,
        _ => ToolErrorKind::Transport,
    };
    ToolOutcome::failure(kind, error.to_string(), error.is_retryable())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::collections::BTreeMap;

    fn snapshot() -> Snapshot {
        let mut tools = BTreeMap::new();
        tools.insert(
            "s".to_owned(),
            vec![
                json!({"name": "add", "inputSchema": {"type": "object", "properties": {"a": {"type": "number"}, "nested": {"type": "object", "properties": {"b": {"type": "string"}}}}, "required": ["a"]}}),
                json!({"name": "shot", "inputSchema": {"type": "object", "properties": {"path": {"type": "string"}, "scale": {"type": "string", "enum": ["css", "device"], "default": "css"}}, "required": ["path", "scale"]}}),
            ],
        );
        Snapshot::build(1, tools, Vec::new())
    }

    fn error_message(outcome: ToolOutcome) -> (ToolErrorKind, String) {
        match outcome {
            ToolOutcome::Error { kind, message, .. } => (kind, message),
            other => panic!("expected an error, got {other:?}"),
        }
    }

    #[test]
    fn a_required_property_with_a_default_is_filled_in_not_demanded() {
        let snapshot = snapshot();
        let arguments = check_call(&snapshot, "s", "shot", json!({"path": "a.png"})).unwrap();
        assert_eq!(
            Value::Object(arguments),
            json!({"path": "a.png", "scale": "css"})
        );
        let given = check_call(
            &snapshot,
            "s",
            "shot",
            json!({"path": "a.png", "scale": "device"}),
        )
        .unwrap();
        assert_eq!(given["scale"], "device");
        // Still required: the property without a default.
        let (kind, _) = error_message(check_call(&snapshot, "s", "shot", json!({})).unwrap_err());
        assert_eq!(kind, ToolErrorKind::InvalidArguments);
    }

    #[test]
    fn validation_names_the_field() {
        let snapshot = snapshot();
        let (kind, message) =
            error_message(check_call(&snapshot, "s", "add", json!({"a": "x"})).unwrap_err());
        assert_eq!(kind, ToolErrorKind::InvalidArguments);
        assert!(message.contains("field `a`"), "{message}");
        assert!(message.contains("number"), "{message}");
        let (_, message) = error_message(
            check_call(&snapshot, "s", "add", json!({"a": 1, "nested": {"b": 2}})).unwrap_err(),
        );
        assert!(message.contains("field `nested.b`"), "{message}");
        let (_, message) = error_message(check_call(&snapshot, "s", "add", json!({})).unwrap_err());
        assert!(
            message.contains("\"a\" is a required property"),
            "{message}"
        );
        assert!(check_call(&snapshot, "s", "add", json!({"a": 1})).is_ok());
        let (kind, _) = error_message(check_call(&snapshot, "s", "nope", json!({})).unwrap_err());
        assert_eq!(kind, ToolErrorKind::UnknownTool);
        let (_, message) =
            error_message(check_call(&snapshot, "s", "add", json!([1])).unwrap_err());
        assert!(message.contains("must be an object"), "{message}");
    }

    fn response(content: Value, structured: Option<Value>, is_error: bool) -> ToolResponse {
        ToolResponse {
            content: content.as_array().cloned().unwrap_or_default(),
            structured_content: structured,
            is_error,
            queued: Duration::ZERO,
            ran: Duration::ZERO,
            declined_elicitations: Vec::new(),
        }
    }

    #[test]
    fn maps_results() {
        let text = |t: &str| json!([{"type": "text", "text": t}]);
        assert_eq!(
            map_response(response(text("{\"a\":1}"), None, false)),
            ToolOutcome::Ok {
                value: json!({"a": 1})
            }
        );
        assert_eq!(
            map_response(response(text("plain"), None, false)),
            ToolOutcome::Ok {
                value: json!("plain")
            }
        );
        assert_eq!(
            map_response(response(text(" 42 "), None, false)),
            ToolOutcome::Ok { value: json!(42) }
        );
        assert_eq!(
            map_response(response(text("x"), Some(json!({"s": 2})), false)),
            ToolOutcome::Ok {
                value: json!({"s": 2})
            }
        );
        let (kind, message) = error_message(map_response(response(text("boom"), None, true)));
        assert_eq!((kind.as_str(), message.as_str()), ("tool", "boom"));
        let image = json!([{"type": "image", "data": "AA==", "mimeType": "image/png"}]);
        assert_eq!(
            map_response(response(image.clone(), None, false)),
            ToolOutcome::Ok { value: image }
        );
        assert_eq!(
            map_response(response(json!([]), None, false)),
            ToolOutcome::Ok { value: Value::Null }
        );
    }
}
