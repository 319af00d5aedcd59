//! Tool results as the model reads them and as code receives them, and reading the servers' state
//! after a run (through the direct pool or through the code-mode gateway).

use serde_json::{Value, json};
use sluice_downstream::{Pool, ToolResponse};
use sluice_gateway::{ExecuteRequest, Gateway, Language};

use crate::DemoError;
use crate::servers::CALL_TIMEOUT;

/// [`model_text`] of a result received through an rmcp client.
pub(crate) fn call_result_text(result: &rmcp::model::CallToolResult) -> String {
    let content: Vec<Value> = result
        .content
        .iter()
        .filter_map(|block| serde_json::to_value(block).ok())
        .collect();
    model_text(&content, result.structured_content.as_ref())
}

/// What the model reads of a tool result: the text of each content block (a client hands the
/// model the text, not the JSON-escaped envelope), other blocks as JSON; `structuredContent` only
/// when there is no content at all. The same rule applies to both ways.
pub(crate) fn model_text(content: &[Value], structured: Option<&Value>) -> String {
    let parts: Vec<String> = content
        .iter()
        .map(|block| match (block.get("type"), block.get("text")) {
            (Some(kind), Some(Value::String(text))) if kind == "text" => text.clone(),
            _ => block.to_string(),
        })
        .collect();
    if parts.is_empty()
        && let Some(structured) = structured
    {
        return structured.to_string();
    }
    parts.join("\n")
}

/// What code receives from a tool result (the gateway's rule): `structuredContent`, else the
/// first text block parsed as JSON, else that text.
pub(crate) fn code_value(content: &[Value], structured: Option<&Value>) -> Value {
    if let Some(structured) = structured {
        return structured.clone();
    }
    let text = content
        .iter()
        .find_map(|block| block.get("text").and_then(Value::as_str))
        .unwrap_or_default();
    serde_json::from_str(text).unwrap_or_else(|_| Value::String(text.to_owned()))
}

/// One downstream call through the pool, with a tool error turned into [`DemoError::Call`].
pub(crate) async fn pool_call(
    pool: &Pool,
    server: &str,
    tool: &str,
    arguments: &Value,
) -> Result<ToolResponse, DemoError> {
    let arguments = match arguments {
        Value::Object(map) => map.clone(),
        _ => serde_json::Map::new(),
    };
    pool.call_tool(server, tool, arguments, CALL_TIMEOUT, None)
        .await
        .map_err(|error| DemoError::Call {
            server: server.to_owned(),
            tool: tool.to_owned(),
            message: error.to_string(),
        })
}

/// Where the end-state checks read the servers: the pool of the direct run, or the gateway of
/// the code-mode run (its servers are children of the gateway's own pool).
pub(crate) enum Access<'a> {
    /// Straight MCP calls.
    Pool(&'a Pool),
    /// One execution that makes the calls and returns their values.
    Gateway(&'a Gateway),
}

impl Access<'_> {
    /// Make the calls in order and return what code would receive from each.
    pub(crate) async fn call_all(
        &self,
        calls: &[(&str, &str, Value)],
    ) -> Result<Vec<Value>, DemoError> {
        match self {
            Access::Pool(pool) => {
                let mut values = Vec::with_capacity(calls.len());
                for (server, tool, arguments) in calls {
                    let response = pool_call(pool, server, tool, arguments).await?;
                    let text = model_text(&response.content, response.structured_content.as_ref());
                    if response.is_error {
                        return Err(DemoError::Call {
                            server: (*server).to_owned(),
                            tool: (*tool).to_owned(),
                            message: text,
                        });
                    }
                    values.push(code_value(
                        &response.content,
                        response.structured_content.as_ref(),
                    ));
                }
                Ok(values)
            }
            Access::Gateway(gateway) => {
                let list: Vec<Value> = calls
                    .iter()
                    .map(|(server, tool, arguments)| json!([server, tool, arguments]))
                    .collect();
                let code = format!(
                    "import {{ callMCPTool }} from \"./runtime\";\n\
                     const calls = {};\n\
                     const values = [];\n\
                     for (const [server, tool, input] of calls) values.push(await callMCPTool(server, tool, input));\n\
                     export default values;\n",
                    Value::Array(list)
                );
                let report = gateway
                    .execute(ExecuteRequest {
                        code,
                        language: Language::Javascript,
                        timeout_ms: None,
                        session: None,
                        cancel: None,
                        progress: None,
                        elicitor: None,
                        trace: None,
                    })
                    .await;
                if let Some(error) = report.error {
                    return Err(DemoError::Check(format!(
                        "the check script failed: {}: {}",
                        error.kind, error.message
                    )));
                }
                match report.result {
                    Value::Array(values) if values.len() == calls.len() => Ok(values),
                    other => Err(DemoError::Check(format!(
                        "the check script returned {} instead of {} values",
                        short(&other),
                        calls.len()
                    ))),
                }
            }
        }
    }
}

/// The first 200 characters of a value, for messages.
pub(crate) fn short(value: &Value) -> String {
    let text = value.to_string();
    match text.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn model_reads_text_blocks_and_code_reads_structured() {
        let content = vec![json!({"type": "text", "text": "{\"a\":1}"})];
        let structured = json!({"a": 1});
        assert_eq!(model_text(&content, Some(&structured)), "{\"a\":1}");
        assert_eq!(model_text(&[], Some(&structured)), "{\"a\":1}");
        assert_eq!(code_value(&content, None), structured);
        assert_eq!(code_value(&content, Some(&json!(2))), json!(2));
        assert_eq!(
            code_value(&[json!({"type": "text", "text": "plain"})], None),
            json!("plain")
        );
    }
}
