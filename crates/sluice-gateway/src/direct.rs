//! Direct tools (`sluice.direct`): tools offered to the agent as ordinary MCP tools beside
//! Sluice's own, named `<server>__<tool>`. Their definitions come from the snapshot (so a tool
//! the policy denies or a held tool is not offered), and a call goes the way a call from code
//! goes: the tool policy (approvals included), the privacy layer (a vault per client connection:
//! tokens in the arguments become real values only where the flow policy allows, personal data
//! in the result is tokenized, and what reaches the model is scanned again), the rate limits and
//! the audit log (one `tool_call` record with an execution id `direct-...`, plus its releases).

use std::sync::Arc;

use serde_json::{Map, Value};
use sluice_config::DirectTool;
use sluice_worker_protocol::{ToolErrorKind, ToolOutcome};

use crate::audit::ToolCallAudit;
use crate::privacy::{ExecutionPrivacy, PrivacyState};
use crate::report::Origin;
use crate::{Client, Gateway, Snapshot};

/// The separator between server and tool in a direct tool's name. Sluice's own tools' names
/// never contain it, so a direct tool can never take one of their names.
pub const DIRECT_SEPARATOR: &str = "__";

/// Longest tool name MCP allows.
const MAX_TOOL_NAME: usize = 128;

/// One direct tool as offered: its MCP name and its definition (as `tools/list` shows it).
#[derive(Debug, Clone, PartialEq)]
pub struct DirectDefinition {
    /// The name the agent calls it by: `<server>__<tool>`.
    pub name: String,
    /// The server.
    pub server: String,
    /// The tool's own name.
    pub tool: String,
    /// The definition with `name` replaced: title, description, schemas, annotations.
    pub definition: Value,
}

/// The MCP name of `server`'s `tool` offered directly: `<server>__<tool>`, every character
/// outside `A-Z a-z 0-9 _ - .` written as `_`.
pub fn direct_name(server: &str, tool: &str) -> String {
    format!("{server}{DIRECT_SEPARATOR}{tool}")
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || matches!(character, '_' | '-' | '.') {
                character
            } else {
                '_'
            }
        })
        .collect()
}

/// The direct tools `snapshot` can offer, in the config's order: those whose server is ready and
/// lists them (not denied, not held back). Two entries that come to the same name: the first.
pub(crate) fn definitions(direct: &[DirectTool], snapshot: &Snapshot) -> Vec<DirectDefinition> {
    let mut offered: Vec<DirectDefinition> = Vec::new();
    for entry in direct {
        let Some(tool) = snapshot.catalog.tool(&entry.server, &entry.tool) else {
            continue;
        };
        let name = direct_name(&entry.server, &entry.tool);
        if name.len() > MAX_TOOL_NAME || offered.iter().any(|other| other.name == name) {
            continue;
        }
        let mut definition = tool.definition();
        if let Value::Object(object) = &mut definition {
            object.insert("name".to_owned(), Value::String(name.clone()));
        }
        offered.push(DirectDefinition {
            name,
            server: entry.server.clone(),
            tool: entry.tool.clone(),
            definition,
        });
    }
    offered
}

/// Why each direct tool of a server whose part was just read is not offered: to warn once.
pub(crate) fn missing(direct: &[DirectTool], snapshot: &Snapshot, server: &str) -> Vec<String> {
    let mut problems = Vec::new();
    let mut names: Vec<String> = Vec::new();
    for entry in direct.iter().filter(|entry| entry.server == server) {
        let name = direct_name(&entry.server, &entry.tool);
        let why = if snapshot.catalog.tool(server, &entry.tool).is_some() {
            if name.len() > MAX_TOOL_NAME {
                Some(format!(
                    "its name \"{name}\" is longer than the {MAX_TOOL_NAME} characters MCP allows"
                ))
            } else if names.contains(&name) {
                Some(format!(
                    "another entry of sluice.direct is offered as \"{name}\" already"
                ))
            } else {
                None
            }
        } else if let Some(rule) = snapshot
            .withheld
            .get(server)
            .and_then(|tools| tools.get(&entry.tool))
        {
            Some(format!("the tool policy denies it ({rule})"))
        } else if snapshot
            .held
            .get(server)
            .is_some_and(|tools| tools.contains_key(&entry.tool))
        {
            Some(
                "its definition changed since it was pinned and it is held back (sluice tools review)"
                    .to_owned(),
            )
        } else {
            let tools: Vec<&str> = snapshot
                .catalog
                .server_tools(server)
                .unwrap_or_default()
                .iter()
                .take(20)
                .map(|tool| tool.name.as_str())
                .collect();
            Some(format!(
                "the server lists no such tool (its tools: {})",
                tools.join(", ")
            ))
        };
        names.push(name);
        if let Some(why) = why {
            problems.push(format!(
                "sluice.direct names \"{}.{}\", which is not offered: {why}",
                entry.server, entry.tool
            ));
        }
    }
    problems
}

impl Gateway {
    /// The direct tools offered now (`sluice.direct`), from the current snapshot.
    pub async fn direct_tools(&self) -> Vec<DirectDefinition> {
        self.snapshot().await.direct.as_ref().clone()
    }

    /// Changes whenever the set of direct tools (or a definition) changes: for
    /// `notifications/tools/list_changed`.
    pub fn subscribe_direct(&self) -> tokio::sync::watch::Receiver<u64> {
        self.inner.direct_changes.subscribe()
    }
}

/// What a direct call gives the agent.
#[derive(Debug, Clone, PartialEq)]
pub enum DirectOutcome {
    /// The tool's value, personal data tokenized.
    Ok(Value),
    /// Why it failed (a `ToolError` kind and message), personal data tokenized.
    Failed {
        /// The kind.
        kind: ToolErrorKind,
        /// What was wrong and what to do.
        message: String,
    },
}

impl Client {
    /// Call the direct tool `name` (`<server>__<tool>`) with `arguments`, as the agent's
    /// client asked: `None` when no direct tool has that name.
    pub async fn call_direct(
        &self,
        name: &str,
        arguments: Map<String, Value>,
        elicitor: Option<sluice_downstream::SharedElicitor>,
    ) -> Option<DirectOutcome> {
        let gateway = self.gateway();
        let snapshot = gateway.snapshot().await;
        let entry = snapshot.direct.iter().find(|tool| tool.name == name)?;
        let (server, tool) = (entry.server.clone(), entry.tool.clone());
        let origin = Origin {
            client: self.origin_client(),
            session: None,
            tenant: self.tenant().clone(),
        };
        let call_id = format!("direct-{}", crate::report::new_execution_id());
        let privacy = match gateway.privacy() {
            PrivacyState::Off => None,
            PrivacyState::On(privacy) => Some(Arc::new(ExecutionPrivacy::new(
                privacy.clone(),
                self.direct_vault(),
            ))),
            PrivacyState::Broken(problem) => {
                return Some(DirectOutcome::Failed {
                    kind: ToolErrorKind::PolicyDenied,
                    message: format!(
                        "privacy protection could not start, so no tool is called: {problem}"
                    ),
                });
            }
        };
        let arguments = Value::Object(arguments);
        let arguments_json = arguments.to_string();
        let started = std::time::Instant::now();
        let outcome = match origin.tenant.take_tool_call() {
            Err(refusal) => {
                ToolOutcome::failure(ToolErrorKind::RateLimited, refusal.to_string(), true)
            }
            Ok(()) => {
                gateway
                    .route_tool_call(
                        &snapshot,
                        privacy.as_deref(),
                        &server,
                        &tool,
                        arguments,
                        crate::tool_call::CallOptions {
                            deadline: std::time::Duration::from_millis(
                                gateway.config().settings.call_timeout_ms,
                            ),
                            elicitor,
                            client: origin.client.clone(),
                            audit: (&origin, &call_id),
                            trace: None,
                        },
                    )
                    .await
            }
        };
        // What reaches the model is scanned again: a trusted server's result reaches code as it
        // is, but never the model.
        let outcome = match (&privacy, outcome) {
            (Some(privacy), ToolOutcome::Ok { value }) => ToolOutcome::Ok {
                value: privacy.protect_value(value),
            },
            (
                Some(privacy),
                ToolOutcome::Error {
                    kind,
                    message,
                    content,
                    retryable,
                },
            ) => ToolOutcome::Error {
                kind,
                message: privacy.protect_text(message),
                content: content.map(|content| privacy.protect_value(content)),
                retryable,
            },
            (None, outcome) => outcome,
        };
        let budget = gateway.audit().budget(&call_id, &origin);
        gateway.audit().tool_call(
            ToolCallAudit {
                execution_id: &call_id,
                origin: &origin,
                server: &server,
                tool: &tool,
                arguments_json: &arguments_json,
                outcome: &outcome,
                duration: started.elapsed(),
            },
            &budget,
        );
        if let Some(privacy) = &privacy {
            gateway
                .audit()
                .releases(&call_id, &origin, privacy.take_releases(), &budget);
        }
        Some(match outcome {
            ToolOutcome::Ok { value } => DirectOutcome::Ok(value),
            ToolOutcome::Error { kind, message, .. } => DirectOutcome::Failed { kind, message },
        })
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use serde_json::json;

    use super::*;

    fn entry(server: &str, tool: &str) -> DirectTool {
        DirectTool {
            server: server.to_owned(),
            tool: tool.to_owned(),
        }
    }

    #[test]
    fn names_never_take_sluices_own() {
        assert_eq!(direct_name("github", "get_issue"), "github__get_issue");
        assert_eq!(direct_name("my.server", "a/b c"), "my.server__a_b_c");
        for own in [
            "search_tools",
            "list_files",
            "read_file",
            "execute_code",
            "save_skill",
        ] {
            assert!(!own.contains(DIRECT_SEPARATOR));
        }
    }

    #[test]
    fn offered_in_config_order_and_missing_ones_named() {
        let tool = |name: &str| json!({"name": name, "description": "d", "inputSchema": {"type": "object"}});
        let mut tools = BTreeMap::new();
        tools.insert("fs".to_owned(), vec![tool("read"), tool("write")]);
        let mut snapshot = Snapshot::build(1, tools, Vec::new());
        snapshot.withheld.insert(
            "fs".to_owned(),
            [(
                "delete".to_owned(),
                "rule \"fs.delete\": \"deny\"".to_owned(),
            )]
            .into(),
        );
        let direct = [
            entry("fs", "write"),
            entry("fs", "read"),
            entry("fs", "nope"),
            entry("fs", "delete"),
        ];
        let offered = definitions(&direct, &snapshot);
        let names: Vec<&str> = offered.iter().map(|tool| tool.name.as_str()).collect();
        assert_eq!(names, ["fs__write", "fs__read"]);
        assert_eq!(offered[0].definition["name"], "fs__write");
        assert_eq!(offered[0].definition["description"], "d");
        let problems = missing(&direct, &snapshot, "fs");
        assert_eq!(problems.len(), 2, "{problems:?}");
        assert!(
            problems[0].contains("\"fs.nope\"") && problems[0].contains("its tools: read, write"),
            "{problems:?}"
        );
        assert!(
            problems[1].contains("the tool policy denies it"),
            "{problems:?}"
        );
    }
}
