/*!
Sluice's own MCP surface: the handful of tools an agent sees instead of hundreds.

- `search_tools`: find tools by words, at three levels of detail;
- `list_files` / `read_file`: browse the generated `servers/<server>/<tool>.ts` tree;
- `execute_code`: run TypeScript against the tools (only when the gateway can start workers),
  fresh or in a named session whose globals persist;
- `save_skill`: keep working code as a module later code imports from `./skills/<name>` (only
  with code execution and a data folder).

Each connection is one [`Client`] of the gateway: its sessions and its limits are its own.

The tool descriptions and the server instructions are kept short on purpose: the agent's whole
starting context ([`starting_context`]) must stay under 1,000 o200k tokens however many servers sit
behind Sluice. A test holds that line.

Errors the agent causes (bad arguments, unknown files, failing code) come back as tool results with
`isError: true` and a sentence saying what to do, not as protocol errors, so the model reads them.
*/
#![deny(missing_docs)]

mod replay;
pub mod stdio;
pub mod streamable_http;

use std::sync::Arc;

use rmcp::model::{
    CallToolRequestParams, CallToolResponse, CallToolResult, CompleteRequestMethod,
    CompleteRequestParams, CompleteResult, ContentBlock, Implementation, ListPromptsRequestMethod,
    ListPromptsResult, ListResourceTemplatesRequestMethod, ListResourceTemplatesResult,
    ListResourcesRequestMethod, ListResourcesResult, ListToolsResult, PaginatedRequestParams,
    ProgressNotificationParam, ServerCapabilities, ServerConfig, Tool,
};
use rmcp::service::RequestContext;
use rmcp::{ErrorData, RoleServer, ServerHandler};
use serde_json::{Map, Value, json};
use sluice_catalog::Detail;
use sluice_gateway::{
    Client, DEFAULT_SEARCH_LIMIT, ElicitFuture, Elicitor, ExecuteRequest, ExecutionProgress,
    Gateway, Language, ReportedProgress, SearchRequest, SharedElicitor, TraceContext,
};
use tokio::sync::watch;

/// What Sluice tells the agent about itself at `initialize`.
pub const INSTRUCTIONS: &str = "\
MCP server tools as a TypeScript API (servers/<server>/<tool>.ts): find them with search_tools (detail \"full\" for signatures) and call them from code run by execute_code, e.g. `import * as fs from \"./servers/fs\"; console.log(await fs.readFile({ path: \"a.txt\" }));`. Only what the code logs or `export default`s reaches you: filter and summarize data in code. A failed call throws a catchable ToolError.";

/// The MCP server handler.
#[derive(Clone)]
pub struct SluiceServer {
    gateway: Gateway,
    /// Which gateway client a request runs as: its sessions and limits.
    connection: Connection,
    /// Becomes true once the first round of connections has settled.
    ready: watch::Receiver<bool>,
    /// Tool calls being answered, for a shutdown that lets them finish.
    activity: Arc<streamable_http::Activity>,
    /// Set once this connection is told of changes to the direct tools.
    watching_direct: Arc<std::sync::atomic::AtomicBool>,
}

/// Where a request's gateway [`Client`] comes from.
#[derive(Clone)]
enum Connection {
    /// One stdio connection: one client, made up front.
    Fixed(Client),
    /// An HTTP service instance: rmcp makes one per MCP session (and one per request of the
    /// sessionless protocol), so the client is resolved per request (see [`streamable_http`]).
    Http(streamable_http::ClientSlot),
}

impl SluiceServer {
    /// Serve `gateway` to one connection. Requests that need the catalog wait until `ready` is
    /// true. Must be called within a tokio runtime.
    pub fn new(gateway: Gateway, ready: watch::Receiver<bool>) -> Self {
        let client = gateway.client("mcp");
        Self {
            gateway,
            connection: Connection::Fixed(client),
            ready,
            activity: Arc::default(),
            watching_direct: Arc::default(),
        }
    }

    async fn wait_ready(&self) {
        let mut ready = self.ready.clone();
        let _ = ready.wait_for(|ready| *ready).await;
    }

    /// The gateway client this request runs as (`Err`: a message for the agent).
    fn client(&self, context: &RequestContext<RoleServer>) -> Result<Client, String> {
        match &self.connection {
            Connection::Fixed(client) => Ok(client.clone()),
            Connection::Http(slot) => slot.client(&self.gateway, context),
        }
    }
}

/// Which of Sluice's optional tools a gateway offers.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Capabilities {
    /// `execute_code`: the gateway can start workers.
    pub execute: bool,
    /// `save_skill`: code can run, there is a data folder to keep skills in, and saving is not
    /// turned off (`sluice.skills.allowSave`).
    pub skills: bool,
}

impl Capabilities {
    /// Every tool.
    pub const ALL: Capabilities = Capabilities {
        execute: true,
        skills: true,
    };

    /// What `gateway` can do.
    pub fn of(gateway: &Gateway) -> Capabilities {
        Capabilities {
            execute: gateway.can_execute(),
            skills: gateway.can_execute()
                && gateway.data_dir().is_some()
                && gateway.config().settings.skills.allow_save,
        }
    }
}

/// Sluice's tool definitions: `execute_code` only when code can run, `save_skill` only when skills
/// can also be kept.
pub fn tool_definitions(capabilities: Capabilities) -> Vec<Tool> {
    // Every token here is paid by every conversation: descriptions say only what the names and
    // the instructions do not.
    let mut tools = vec![
        tool(
            "search_tools",
            "Find tools for a task.",
            json!({
                "type": "object",
                "properties": {
                    "query": {"type": "string"},
                    // An enum needs no "type": four tokens fewer in every conversation.
                    "detail": {"enum": ["name", "summary", "full"]},
                    "server": {"type": "string"},
                    "limit": {"type": "integer"}
                },
                "required": ["query"]
            }),
        ),
        tool(
            "list_files",
            "List a folder of the API tree.",
            json!({"type": "object", "properties": {"path": {"type": "string"}}}),
        ),
        tool(
            "read_file",
            "Read a file of the API tree.",
            json!({"type": "object", "properties": {"path": {"type": "string"}}, "required": ["path"]}),
        ),
    ];
    if capabilities.execute {
        tools.push(tool(
            "execute_code",
            "Run a TypeScript module; returns its console output and default export.",
            json!({
                "type": "object",
                "properties": {
                    // `language` "javascript" is accepted but not advertised: TypeScript is a
                    // superset, and every token here is paid in every conversation.
                    "code": {"type": "string"},
                    "language": {"enum": ["typescript", "python"]},
                    "timeout_ms": {"type": "integer"},
                    "session": {"type": "string"}
                },
                "required": ["code"]
            }),
        ));
        if let Some(execute) = tools.last_mut() {
            execute.output_schema = Some(Arc::new(execution_report_schema()));
        }
    }
    if capabilities.skills {
        tools.push(tool(
            "save_skill",
            "Save working code as a reusable module: import from './skills/<name>'.",
            json!({
                "type": "object",
                "properties": {
                    "name": {"type": "string", "description": "kebab-case"},
                    "description": {"type": "string"},
                    "code": {"type": "string"}
                },
                "required": ["name", "description", "code"]
            }),
        ));
    }
    tools
}

/// The declared shape of `execute_code`'s `structuredContent` (the gateway's execution report):
/// an object, the least the specification asks, so clients know a structured result comes and
/// can check it. Every token here is paid in every conversation: a full schema of the report cost
/// about 50 tokens a turn, and even `required` with the three field names pushed the demo's
/// transcript workflow under its 99% target. The report's fields are documented in
/// docs/clients.md.
fn execution_report_schema() -> Map<String, Value> {
    let schema = json!({"type": "object"});
    match schema {
        Value::Object(schema) => schema,
        _ => unreachable_schema(),
    }
}

fn tool(name: &'static str, description: &'static str, schema: Value) -> Tool {
    let Value::Object(schema) = schema else {
        unreachable_schema()
    };
    Tool::new(name, description, Arc::new(schema))
}

/// Every schema above is an object literal; this keeps the signature total without `unwrap`.
fn unreachable_schema() -> ! {
    panic!("tool schemas are object literals")
}

/// What the agent's whole starting context (instructions and `tools/list`, direct tools
/// included) may cost, in o200k tokens: past it, Sluice warns (`sluice.direct` adds to it).
pub const STARTING_CONTEXT_BUDGET: usize = 1_000;

/// The agent's starting context: the instructions plus the `tools/list` answer, as JSON text, and
/// its size in o200k tokens.
pub fn starting_context(capabilities: Capabilities) -> (String, usize) {
    starting_context_with(capabilities, &[])
}

/// [`starting_context`] with direct tools (`sluice.direct`) listed after Sluice's own.
pub fn starting_context_with(capabilities: Capabilities, direct: &[Tool]) -> (String, usize) {
    let mut tools = tool_definitions(capabilities);
    tools.extend(direct.iter().cloned());
    let listing = ListToolsResult::with_all_items(tools);
    let text = format!(
        "{INSTRUCTIONS}\n{}",
        serde_json::to_string(&listing).unwrap_or_default()
    );
    let tokens = sluice_tokens::count(&text);
    (text, tokens)
}

/// The direct tools the gateway offers now, as MCP tools (a definition rmcp cannot read is left
/// out, with a warning).
async fn direct_tools(gateway: &Gateway) -> Vec<Tool> {
    gateway
        .direct_tools()
        .await
        .into_iter()
        .filter_map(
            |direct| match serde_json::from_value::<Tool>(direct.definition) {
                Ok(tool) => Some(tool),
                Err(error) => {
                    tracing::warn!(
                        "the direct tool {}.{} cannot be offered: {error}",
                        direct.server,
                        direct.tool
                    );
                    None
                }
            },
        )
        .collect()
}

/// Warn (once per size) when the starting context with the direct tools is over
/// [`STARTING_CONTEXT_BUDGET`].
fn warn_over_budget(gateway: &Gateway, direct: &[Tool]) {
    static WARNED_AT: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let (_, tokens) = starting_context_with(Capabilities::of(gateway), direct);
    if tokens > STARTING_CONTEXT_BUDGET
        && WARNED_AT.swap(tokens, std::sync::atomic::Ordering::Relaxed) != tokens
    {
        let (_, own) = starting_context(Capabilities::of(gateway));
        tracing::warn!(
            "the agent's starting context is {tokens} o200k tokens with {} direct tools ({} of them theirs), over the budget of {STARTING_CONTEXT_BUDGET}: every conversation pays them; list fewer tools in sluice.direct",
            direct.len(),
            tokens.saturating_sub(own)
        );
    }
}

/// A direct call's outcome as a tool result: an object value is also the structured content.
fn direct_result(outcome: sluice_gateway::DirectOutcome) -> CallToolResult {
    match outcome {
        sluice_gateway::DirectOutcome::Ok(value) => {
            let text = match &value {
                Value::String(text) => text.clone(),
                other => other.to_string(),
            };
            let mut result = CallToolResult::success(vec![ContentBlock::text(text)]);
            if value.is_object() {
                result.structured_content = Some(value);
            }
            result
        }
        sluice_gateway::DirectOutcome::Failed { kind, message } => {
            agent_error(format!("{}: {message}", kind.as_str()))
        }
    }
}

fn agent_error(message: impl Into<String>) -> CallToolResult {
    CallToolResult::error(vec![ContentBlock::text(message.into())])
}

fn text_result(text: String) -> CallToolResult {
    CallToolResult::success(vec![ContentBlock::text(text)])
}

/// Read an optional string argument; `Err` is a message for the agent.
fn optional_string<'a>(
    arguments: &'a Map<String, Value>,
    field: &str,
) -> Result<Option<&'a str>, String> {
    match arguments.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::String(text)) => Ok(Some(text)),
        Some(other) => Err(format!("`{field}` must be a string, got {other}")),
    }
}

/// The unadvertised `language` argument of `search_tools` and `read_file` (the tree's README
/// documents it): `"python"` shows Python names, paths and signatures; TypeScript otherwise.
fn language_argument(arguments: &Map<String, Value>) -> Result<Language, String> {
    match optional_string(arguments, "language")? {
        None | Some("typescript") | Some("ts") | Some("javascript") | Some("js") => {
            Ok(Language::Typescript)
        }
        Some("python") | Some("py") => Ok(Language::Python),
        Some(other) => Err(format!(
            "`language` must be \"typescript\" or \"python\", got \"{other}\""
        )),
    }
}

fn required_string<'a>(arguments: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    optional_string(arguments, field)?.ok_or_else(|| format!("`{field}` is required"))
}

fn optional_integer(arguments: &Map<String, Value>, field: &str) -> Result<Option<u64>, String> {
    match arguments.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(value) => value
            .as_u64()
            .filter(|number| *number > 0)
            .map(Some)
            .ok_or_else(|| format!("`{field}` must be a positive integer, got {value}")),
    }
}

impl SluiceServer {
    /// Send `notifications/tools/list_changed` to `peer` whenever the direct tools change, from
    /// now on (once per connection).
    fn watch_direct(&self, peer: rmcp::Peer<RoleServer>) {
        if self
            .watching_direct
            .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            return;
        }
        let gateway = self.gateway.clone();
        let mut ready = self.ready.clone();
        tokio::spawn(async move {
            // From the first full catalog on: the servers' first connections are no change.
            let _ = ready.wait_for(|ready| *ready).await;
            let mut changes = gateway.subscribe_direct();
            changes.mark_unchanged();
            drop(gateway);
            while changes.changed().await.is_ok() {
                if peer.notify_tool_list_changed().await.is_err() {
                    break;
                }
            }
        });
    }

    async fn search_tools(
        &self,
        arguments: &Map<String, Value>,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let query = required_string(arguments, "query")?.to_owned();
        let detail = match optional_string(arguments, "detail")? {
            Some(detail) => detail
                .parse::<Detail>()
                .map_err(|error| error.to_string())?,
            None => Detail::Summary,
        };
        let server = optional_string(arguments, "server")?.map(str::to_owned);
        let limit = optional_integer(arguments, "limit")?
            .map_or(DEFAULT_SEARCH_LIMIT, |limit| limit as usize);
        let request = SearchRequest {
            query,
            detail,
            server,
            limit,
            language: language_argument(arguments)?,
        };
        let response = self
            .client(context)?
            .search_traced(&request, self.trace_context(context).as_ref())
            .await
            .map_err(|error| error.to_string())?;
        Ok(text_result(response.to_text(&request)))
    }

    async fn list_files(
        &self,
        arguments: &Map<String, Value>,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let path = optional_string(arguments, "path")?.unwrap_or("");
        let listing = self
            .client(context)?
            .list_files(path)
            .await
            .map_err(|error| error.to_string())?;
        Ok(text_result(listing.to_text()))
    }

    async fn read_file(
        &self,
        arguments: &Map<String, Value>,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let path = required_string(arguments, "path")?;
        let client = self.client(context)?;
        // With `language: "python"`, a path without an extension means the tool's `.py` stub
        // (`servers/x/echo` is `echo.py`, not `echo.ts`), when there is one.
        if language_argument(arguments)? == Language::Python
            && !path.ends_with(".py")
            && !path.ends_with(".ts")
            && !path.ends_with(".md")
            && let Ok(text) = client.read_file(&format!("{path}.py")).await
        {
            return Ok(text_result(text));
        }
        let text = client
            .read_file(path)
            .await
            .map_err(|error| error.to_string())?;
        Ok(text_result(text))
    }

    /// `context` is the request's: its token is cancelled when the client sends
    /// `notifications/cancelled`, and a `progressToken` in its `_meta` asks for
    /// `notifications/progress` while the code runs.
    async fn execute_code(
        &self,
        arguments: &Map<String, Value>,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let code = required_string(arguments, "code")?.to_owned();
        let language = code_language(arguments)?;
        let timeout_ms = optional_integer(arguments, "timeout_ms")?;
        let session = optional_string(arguments, "session")?.map(str::to_owned);
        let report = self
            .client(context)?
            .execute(ExecuteRequest {
                code,
                language,
                timeout_ms,
                session,
                cancel: Some(context.ct.clone()),
                progress: progress_reporter(context),
                elicitor: agent_elicitor(context),
                trace: self.trace_context(context),
            })
            .await;
        let text = report.to_text();
        let structured = serde_json::to_value(&report).unwrap_or(Value::Null);
        let mut result = if report.error.is_some() {
            CallToolResult::error(vec![ContentBlock::text(text)])
        } else {
            CallToolResult::success(vec![ContentBlock::text(text)])
        };
        result.structured_content = Some(structured);
        Ok(result)
    }

    /// The W3C trace context in the request's `_meta` (`traceparent`, `tracestate`), read only
    /// when the gateway makes spans.
    fn trace_context(&self, context: &RequestContext<RoleServer>) -> Option<TraceContext> {
        if !self.gateway.traces_on() {
            return None;
        }
        let traceparent = context.meta.get_traceparent()?;
        Some(TraceContext {
            traceparent: traceparent.to_owned(),
            tracestate: context.meta.get_tracestate().map(str::to_owned),
        })
    }

    async fn save_skill(
        &self,
        arguments: &Map<String, Value>,
        context: &RequestContext<RoleServer>,
    ) -> Result<CallToolResult, String> {
        let name = required_string(arguments, "name")?;
        let description = required_string(arguments, "description")?;
        let code = required_string(arguments, "code")?;
        let language = code_language(arguments)?;
        let saved = self
            .client(context)?
            .save_skill(name, description, code, language)
            .await
            .map_err(|error| error.to_string())?;
        Ok(text_result(saved.to_text()))
    }
}

/// The `language` of `execute_code` and (unadvertised) `save_skill`: TypeScript by default.
fn code_language(arguments: &Map<String, Value>) -> Result<Language, String> {
    match optional_string(arguments, "language")? {
        None | Some("typescript") | Some("ts") => Ok(Language::Typescript),
        Some("javascript") | Some("js") => Ok(Language::Javascript),
        Some("python") | Some("py") => Ok(Language::Python),
        Some(other) => Err(format!(
            "`language` must be \"typescript\", \"python\" or \"javascript\", got \"{other}\""
        )),
    }
}

/// The agent's client as the answerer of downstream servers' questions during this request's
/// execution, when it declared the elicitation capability.
fn agent_elicitor(context: &RequestContext<RoleServer>) -> Option<SharedElicitor> {
    let modes = context.peer.supported_elicitation_modes();
    (!modes.is_empty()).then(|| {
        Arc::new(AgentElicitor {
            peer: context.peer.clone(),
            url: modes.contains(&rmcp::service::ElicitationMode::Url),
        }) as SharedElicitor
    })
}

/// Forwards `elicitation/create` to the agent's client.
struct AgentElicitor {
    peer: rmcp::Peer<RoleServer>,
    /// The client declared URL elicitation too (else only forms).
    url: bool,
}

impl std::fmt::Debug for AgentElicitor {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AgentElicitor")
            .field("url", &self.url)
            .finish()
    }
}

impl Elicitor for AgentElicitor {
    fn elicit(&self, request: rmcp::model::ElicitRequestParams) -> ElicitFuture {
        let peer = self.peer.clone();
        let url_refused = matches!(
            request,
            rmcp::model::ElicitRequestParams::UrlElicitationParams { .. }
        ) && !self.url;
        Box::pin(async move {
            if url_refused {
                return Err("the server asked the user to open a URL, and the agent's client                             accepts only forms"
                    .to_owned());
            }
            peer.create_elicitation(request)
                .await
                .map_err(|error| format!("the agent's client did not answer the question: {error}"))
        })
    }
}

/// A sender whose reports become `notifications/progress` for the request's `progressToken`, if
/// the client sent one: progress is the seconds elapsed (it grows with every report), the message
/// says what the code last reported (`reportProgress`) and how many tool calls were made. The forwarding task ends with the execution.
fn progress_reporter(
    context: &RequestContext<RoleServer>,
) -> Option<tokio::sync::mpsc::UnboundedSender<ExecutionProgress>> {
    let token = context.meta.get_progress_token()?;
    let peer = context.peer.clone();
    let (sender, mut reports) = tokio::sync::mpsc::unbounded_channel::<ExecutionProgress>();
    tokio::spawn(async move {
        while let Some(report) = reports.recv().await {
            let mut notification =
                ProgressNotificationParam::new(token.clone(), report.elapsed_ms as f64 / 1000.0);
            notification.message = Some(progress_message(&report));
            if peer.notify_progress(notification).await.is_err() {
                break;
            }
        }
    });
    Some(sender)
}

/// A progress notification's message: what the code last said about itself, with its
/// percentage when it gave one, then the time and tool calls so far.
fn progress_message(report: &ExecutionProgress) -> String {
    let counts = format!(
        "running for {} s, {} tool call{} so far",
        report.elapsed_ms / 1000,
        report.tool_calls,
        if report.tool_calls == 1 { "" } else { "s" }
    );
    match &report.reported {
        None => counts,
        Some(ReportedProgress {
            message,
            fraction: Some(fraction),
        }) => format!("{message} ({:.0}%); {counts}", fraction * 100.0),
        Some(ReportedProgress {
            message,
            fraction: None,
        }) => format!("{message}; {counts}"),
    }
}

impl ServerHandler for SluiceServer {
    fn get_info(&self) -> ServerConfig {
        let capabilities = if self.gateway.config().settings.direct.is_empty() {
            ServerCapabilities::builder().enable_tools().build()
        } else {
            ServerCapabilities::builder()
                .enable_tools()
                .enable_tool_list_changed()
                .build()
        };
        let mut info = ServerConfig::new(capabilities);
        info.server_info = Implementation::new("sluice", env!("CARGO_PKG_VERSION"));
        info.instructions = Some(INSTRUCTIONS.to_owned());
        info
    }

    // Only `tools` is declared: the other lists are not offered, so they are not answered as
    // if they were (rmcp's defaults answer them with empty lists).
    async fn list_resources(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourcesResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListResourcesRequestMethod>())
    }

    async fn list_resource_templates(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListResourceTemplatesResult, ErrorData> {
        Err(ErrorData::method_not_found::<
            ListResourceTemplatesRequestMethod,
        >())
    }

    async fn list_prompts(
        &self,
        _request: Option<PaginatedRequestParams>,
        _context: RequestContext<RoleServer>,
    ) -> Result<ListPromptsResult, ErrorData> {
        Err(ErrorData::method_not_found::<ListPromptsRequestMethod>())
    }

    async fn complete(
        &self,
        _request: CompleteRequestParams,
        _context: RequestContext<RoleServer>,
    ) -> Result<CompleteResult, ErrorData> {
        Err(ErrorData::method_not_found::<CompleteRequestMethod>())
    }

    async fn list_tools(
        &self,
        _request: Option<PaginatedRequestParams>,
        context: RequestContext<RoleServer>,
    ) -> Result<ListToolsResult, ErrorData> {
        let mut tools = tool_definitions(Capabilities::of(&self.gateway));
        if !self.gateway.config().settings.direct.is_empty() {
            // A client that listed the tools is told when they change (also on protocols without
            // `notifications/initialized`).
            self.watch_direct(context.peer.clone());
            self.wait_ready().await;
            let direct = direct_tools(&self.gateway).await;
            warn_over_budget(&self.gateway, &direct);
            tools.extend(direct);
        }
        Ok(ListToolsResult::with_all_items(tools))
    }

    async fn on_initialized(&self, context: rmcp::service::NotificationContext<RoleServer>) {
        if !self.gateway.config().settings.direct.is_empty() {
            self.watch_direct(context.peer);
        }
    }

    async fn call_tool(
        &self,
        request: CallToolRequestParams,
        context: RequestContext<RoleServer>,
    ) -> Result<CallToolResponse, ErrorData> {
        let arguments = request.arguments.unwrap_or_default();
        let _active = self.activity.begin();
        self.wait_ready().await;
        let outcome = match request.name.as_ref() {
            "search_tools" => self.search_tools(&arguments, &context).await,
            "list_files" => self.list_files(&arguments, &context).await,
            "read_file" => self.read_file(&arguments, &context).await,
            "execute_code" if self.gateway.can_execute() => {
                self.execute_code(&arguments, &context).await
            }
            // Not offered here, but answered with the reason (the gateway's error names it).
            "save_skill" => self.save_skill(&arguments, &context).await,
            other if other.contains(sluice_gateway::DIRECT_SEPARATOR) => {
                let client = match self.client(&context) {
                    Ok(client) => client,
                    Err(message) => return Ok(agent_error(message).into()),
                };
                match client
                    .call_direct(other, arguments, agent_elicitor(&context))
                    .await
                {
                    Some(outcome) => return Ok(direct_result(outcome).into()),
                    None => Err(format!(
                        "\"{other}\" is not offered now: its server is not ready, its tool is denied or held back, or it is not in sluice.direct; list the tools again"
                    )),
                }
            }
            other => {
                let offered: Vec<String> = tool_definitions(Capabilities::of(&self.gateway))
                    .into_iter()
                    .map(|tool| tool.name.to_string())
                    .collect();
                return Err(ErrorData::invalid_params(
                    format!(
                        "unknown tool \"{other}\"; Sluice's tools here are {}",
                        offered.join(", ")
                    ),
                    None,
                ));
            }
        };
        Ok(outcome.unwrap_or_else(agent_error).into())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn starting_context_stays_small() {
        let (_, tokens) = starting_context(Capabilities::ALL);
        assert!(tokens < 1_000, "starting context is {tokens} tokens");
        let without_skills = Capabilities {
            execute: true,
            skills: false,
        };
        let (_, without_skills) = starting_context(without_skills);
        assert!(without_skills < tokens);
        let nothing = Capabilities {
            execute: false,
            skills: false,
        };
        let (_, without_execute) = starting_context(nothing);
        assert!(without_execute < without_skills);
    }

    #[test]
    fn starting_context_breakdown() {
        // Printed so a change in size is easy to trace to its source (`--nocapture`).
        eprintln!(
            "instructions: {} tokens",
            sluice_tokens::count(INSTRUCTIONS)
        );
        for tool in tool_definitions(Capabilities::ALL) {
            let text = serde_json::to_string(&tool).unwrap();
            eprintln!("{}: {} tokens", tool.name, sluice_tokens::count(&text));
        }
        assert!(sluice_tokens::count(INSTRUCTIONS) < 300);
    }

    #[test]
    fn direct_tools_count_against_the_starting_context() {
        let (_, own) = starting_context(Capabilities::ALL);
        let schema = json!({"type": "object", "properties": {"query": {"type": "string"}}});
        let direct = |count: usize| -> Vec<Tool> {
            (0..count)
                .map(|index| {
                    let mut tool = tool("github__search", "Search issues, pull requests and discussions across every repository the user can read.", schema.clone());
                    tool.name = format!("github__search_{index}").into();
                    tool
                })
                .collect()
        };
        let (_, one) = starting_context_with(Capabilities::ALL, &direct(1));
        assert!(one > own && one - own < 60, "{own} -> {one}");
        let (_, many) = starting_context_with(Capabilities::ALL, &direct(20));
        assert!(many > STARTING_CONTEXT_BUDGET, "{many}");
    }

    #[test]
    fn tool_schemas_are_objects() {
        for tool in tool_definitions(Capabilities::ALL) {
            assert_eq!(
                tool.input_schema.get("type"),
                Some(&json!("object")),
                "{}",
                tool.name
            );
        }
    }
}
