/*!
The three demo MCP servers of `sluice demo`: `documents` (Drive-like), `crm` (Salesforce-like) and
`chat` (Slack-like), as specified in `docs/demo.md`.

Data is generated from a seed by [`data`] (same options, same bytes). State lives in the server
value: writes are visible to later reads through the same [`DemoServer`] (clones share it).
Every successful tool call returns `structuredContent` and the same JSON as a text block; every
mistake the caller can make (unknown id, bad argument) is a tool result with `isError: true` and a
sentence naming what was wrong and the valid choices.

The `sluice` binary parses `sluice demo server <kind> [options]` and calls [`serve_stdio`]; tests
and other crates serve [`handler`] over any transport.
*/
#![deny(missing_docs)]

use std::fmt;
use std::str::FromStr;
use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, Implementation, ListToolsResult,
    PaginatedRequestParams, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::{QuitReason, RequestContext, ServerInitializeError};
use rmcp::{ErrorData, RoleServer, ServerHandler, ServiceExt};
use serde_json::{Map, Value};

mod chat;
mod crm;
pub mod data;
mod documents;
mod rng;
mod tool;

pub use chat::{DEPLOYMENT_COMPLETE, DEPLOYMENTS, SENDER};
pub use crm::{SALES_MEETING_ID, SALES_MEETING_SUBJECT};
pub use documents::{
    CONTACTS_COLUMNS, CONTACTS_ID, ORDERS_COLUMNS, ORDERS_ID, TRANSCRIPT_ID, TRANSCRIPT_TITLE,
};

/// Which demo server.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DemoServerKind {
    /// Drive-like: `listFiles`, `getDocument`, `getSheet`.
    Documents,
    /// Salesforce-like: `query`, `updateRecord`, `createRecord`.
    Crm,
    /// Slack-like: `getChannelHistory`, `sendMessage`.
    Chat,
}

impl DemoServerKind {
    /// Every kind, in the order the demo starts them.
    pub const ALL: [Self; 3] = [Self::Documents, Self::Crm, Self::Chat];

    /// `documents`, `crm` or `chat`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Documents => "documents",
            Self::Crm => "crm",
            Self::Chat => "chat",
        }
    }

    /// The MCP server name: `sluice-demo-documents`, `sluice-demo-crm`, `sluice-demo-chat`.
    pub fn server_name(self) -> &'static str {
        match self {
            Self::Documents => "sluice-demo-documents",
            Self::Crm => "sluice-demo-crm",
            Self::Chat => "sluice-demo-chat",
        }
    }

    fn instructions(self) -> &'static str {
        match self {
            Self::Documents => {
                "A demo drive. listFiles shows the files; getDocument returns a document's whole text; getSheet returns every row of a spreadsheet."
            }
            Self::Crm => {
                "A demo CRM with Lead and SalesMeeting records. query filters records of one object type; updateRecord and createRecord write them."
            }
            Self::Chat => {
                "A demo chat workspace. getChannelHistory reads a channel (#name) or direct messages (@name); sendMessage posts to one."
            }
        }
    }
}

impl fmt::Display for DemoServerKind {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(self.as_str())
    }
}

impl FromStr for DemoServerKind {
    type Err = DemoError;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::ALL
            .into_iter()
            .find(|kind| kind.as_str() == text)
            .ok_or_else(|| DemoError::UnknownKind(text.to_owned()))
    }
}

/// Sizes and seed of the generated data. Every server takes the whole set and uses its part.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct DemoOptions {
    /// Seed of every generator (`--seed`, default 42).
    pub seed: u64,
    /// Rows of `sheet-orders` (`--orders`, default 10,000).
    pub orders: usize,
    /// Rows of `sheet-contacts` (`--contacts`, default 1,000).
    pub contacts: usize,
    /// Approximate o200k tokens of `doc-meeting-transcript` (`--transcript-tokens`, default
    /// 50,000); see [`data::TRANSCRIPT_BYTES_PER_TOKEN`].
    pub transcript_tokens: usize,
    /// Leads in the CRM at start (`--leads`, default 500).
    pub leads: usize,
    /// The `getChannelHistory` of `#deployments` from which on the deployment is complete
    /// (`--deploy-after-polls`, default 5; 0 counts as 1).
    pub deploy_after_polls: u32,
}

impl Default for DemoOptions {
    fn default() -> Self {
        Self {
            seed: 42,
            orders: 10_000,
            contacts: 1_000,
            transcript_tokens: 50_000,
            leads: 500,
            deploy_after_polls: 5,
        }
    }
}

/// What can go wrong running a demo server.
#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    /// Not `documents`, `crm` or `chat`.
    #[error("unknown demo server \"{0}\"; the demo servers are documents, crm and chat")]
    UnknownKind(String),
    /// The client went away or spoke something else before `initialize` completed.
    #[error("the MCP client did not complete the handshake on stdin/stdout: {0}")]
    Handshake(#[source] Box<ServerInitializeError>),
    /// The task serving the connection panicked or was aborted.
    #[error("the demo server stopped unexpectedly: {0}")]
    Task(#[from] tokio::task::JoinError),
}

/// One demo server: an rmcp [`ServerHandler`]. Clones share the state.
#[derive(Clone)]
pub struct DemoServer {
    kind: DemoServerKind,
    inner: Arc<Inner>,
}

enum Inner {
    Documents(documents::Documents),
    Crm(crm::Crm),
    Chat(chat::Chat),
}

impl fmt::Debug for DemoServer {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter
            .debug_struct("DemoServer")
            .field("kind", &self.kind)
            .finish_non_exhaustive()
    }
}

/// A demo server of `kind` with data generated from `options`. Generating the default data
/// takes a few tens of milliseconds.
pub fn handler(kind: DemoServerKind, options: DemoOptions) -> DemoServer {
    DemoServer::new(kind, &options)
}

impl DemoServer {
    /// A demo server of `kind` with data generated from `options`.
    pub fn new(kind: DemoServerKind, options: &DemoOptions) -> Self {
        let inner = match kind {
            DemoServerKind::Documents => Inner::Documents(documents::Documents::new(options)),
            DemoServerKind::Crm => Inner::Crm(crm::Crm::new(options)),
            DemoServerKind::Chat => Inner::Chat(chat::Chat::new(options)),
        };
        Self {
            kind,
            inner: Arc::new(inner),
        }
    }

    /// Which server this is.
    pub fn kind(&self) -> DemoServerKind {
        self.kind
    }

    /// The tool definitions, as `tools/list` returns them.
    pub fn tools(&self) -> Vec<Tool> {
        tools(self.kind)
    }

    /// Run a tool without MCP in between; `None` if the server has no tool `name`.
    pub fn call(&self, name: &str, arguments: &Map<String, Value>) -> Option<CallToolResult> {
        let outcome = match &*self.inner {
            Inner::Documents(documents) => documents.call(name, arguments),
            Inner::Crm(crm) => crm.call(name, arguments),
            Inner::Chat(chat) => chat.call(name, arguments),
        }?;
        if let Err(message) = &outcome {
            tracing::debug!(server = %self.kind, tool = name, %message, "tool error");
        }
        Some(tool::result(outcome))
    }
}

/// The tool definitions of a kind of server, with input and output schemas.
pub fn tools(kind: DemoServerKind) -> Vec<Tool> {
    match kind {
        DemoServerKind::Documents => documents::Documents::tools(),
        DemoServerKind::Crm => crm::Crm::tools(),
        DemoServerKind::Chat => chat::Chat::tools(),
    }
}

impl ServerHandler for DemoServer {
    fn get_info(&self) -> ServerConfig {
        let mut info = ServerConfig::new(ServerCapabilities::builder().enable_tools().build());
        info.server_info = Implementation::new(self.kind.server_name(), env!("CARGO_PKG_VERSION"));
        info.instructions = Some(self.kind.instructions().to_owned());
        info
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        Ok(ListToolsResult::with_all_items(self.tools()))
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        // The big sheets take a few milliseconds to copy and serialize: off the reactor.
        let server = self.clone();
        let name = request.name.clone();
        let result = tokio::task::spawn_blocking(move || server.call(&name, &arguments))
            .await
            .map_err(|error| ErrorData::internal_error(error.to_string(), None))?;
        match result {
            Some(result) => Ok(result.into()),
            None => Err(ErrorData::invalid_params(
                format!(
                    "unknown tool \"{}\"; {} has {}",
                    request.name,
                    self.kind.server_name(),
                    tool::list(self.tools().iter().map(|tool| tool.name.to_string()))
                ),
                None,
            )),
        }
    }
}

/// Serve a demo server on stdin/stdout until the client disconnects.
pub async fn serve_stdio(kind: DemoServerKind, options: DemoOptions) -> Result<(), DemoError> {
    let server = tokio::task::spawn_blocking(move || handler(kind, options)).await?;
    tracing::info!(server = %kind, ?options, "demo server ready on stdio");
    let service = server
        .serve(rmcp::transport::stdio())
        .await
        .map_err(|error| DemoError::Handshake(Box::new(error)))?;
    match service.waiting().await? {
        QuitReason::JoinError(error) => Err(DemoError::Task(error)),
        reason => {
            tracing::info!(server = %kind, ?reason, "demo server stopped");
            Ok(())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_and_display() {
        for kind in DemoServerKind::ALL {
            assert_eq!(kind.to_string().parse::<DemoServerKind>().ok(), Some(kind));
        }
        let error = "drive"
            .parse::<DemoServerKind>()
            .err()
            .map(|e| e.to_string());
        assert_eq!(
            error.as_deref(),
            Some("unknown demo server \"drive\"; the demo servers are documents, crm and chat")
        );
    }

    #[test]
    fn every_tool_has_schemas_with_descriptions() {
        for kind in DemoServerKind::ALL {
            for tool in tools(kind) {
                assert_eq!(
                    tool.input_schema.get("type"),
                    Some(&"object".into()),
                    "{}",
                    tool.name
                );
                let output = tool.output_schema.as_ref();
                assert!(
                    output.is_some_and(|schema| schema.get("type") == Some(&"object".into())),
                    "{}",
                    tool.name
                );
                assert!(tool.description.as_ref().is_some_and(|d| !d.is_empty()));
                let properties = tool
                    .input_schema
                    .get("properties")
                    .and_then(Value::as_object);
                for (name, property) in properties.into_iter().flatten() {
                    assert!(
                        property.get("description").is_some(),
                        "{}.{name} has no description",
                        tool.name
                    );
                }
            }
        }
    }

    #[test]
    fn same_options_same_bytes() {
        let options = DemoOptions {
            orders: 200,
            transcript_tokens: 3_000,
            ..DemoOptions::default()
        };
        let text = |server: &DemoServer, name: &str, arguments: serde_json::Value| {
            let Value::Object(arguments) = arguments else {
                return String::new();
            };
            server
                .call(name, &arguments)
                .and_then(|result| {
                    result
                        .content
                        .first()
                        .and_then(|c| c.as_text())
                        .map(|t| t.text.clone())
                })
                .unwrap_or_default()
        };
        let a = handler(DemoServerKind::Documents, options);
        let b = handler(DemoServerKind::Documents, options);
        for (name, arguments) in [
            ("getSheet", serde_json::json!({"sheetId": ORDERS_ID})),
            ("getSheet", serde_json::json!({"sheetId": CONTACTS_ID})),
            (
                "getDocument",
                serde_json::json!({"documentId": TRANSCRIPT_ID}),
            ),
        ] {
            let first = text(&a, name, arguments.clone());
            assert!(first.len() > 1_000);
            assert_eq!(first, text(&b, name, arguments));
        }
    }
}
