//! The code-mode way: the agent talks to Sluice over real MCP. A [`Gateway`] connects to fresh demo
//! servers, a [`SluiceServer`] serves it on one end of an in-memory duplex pipe, and an rmcp client
//! on the other end is the agent: it reads the instructions and `tools/list`, searches for the
//! tools it needs, runs the workflow's checked-in script with `execute_code`, and answers.

use std::time::{Duration, Instant};

use rmcp::model::CallToolRequestParams;
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use sluice_gateway::{Gateway, GatewayOptions};
use sluice_server::SluiceServer;
use tokio::sync::watch;

use crate::access::{Access, call_result_text};
use crate::answer::{comparable, final_answer};
use crate::ledger::Ledger;
use crate::servers::{DataSizes, Launcher, config, require_ready};
use crate::workflow::{ScriptLanguage, Workflow};
use crate::{DemoError, WayRun, state};

/// Bytes buffered in each direction of the in-memory MCP pipe.
const PIPE_BYTES: usize = 256 * 1024;

type Client = RunningService<RoleClient, ()>;

/// Run `workflow` through Sluice against fresh demo servers.
pub(crate) async fn run(
    workflow: Workflow,
    language: ScriptLanguage,
    launcher: &Launcher,
    sizes: &DataSizes,
) -> Result<WayRun, DemoError> {
    let options = GatewayOptions {
        worker: Some(launcher.worker()),
        data_dir: None,
        encoder: None,
        release_memory: None,
        metrics: false,
        telemetry: None,
    };
    let gateway = Gateway::start(config(launcher, sizes), options)
        .map_err(|error| DemoError::Mcp(format!("the gateway did not start: {error}")))?;
    gateway.wait_connected(|_| {}).await;
    let outcome = serve_and_run(workflow, language, &gateway).await;
    gateway.shutdown().await;
    outcome
}

async fn serve_and_run(
    workflow: Workflow,
    language: ScriptLanguage,
    gateway: &Gateway,
) -> Result<WayRun, DemoError> {
    require_ready(&gateway.snapshot().await.statuses)?;
    let (_ready_sender, ready) = watch::channel(true);
    let (client_end, server_end) = tokio::io::duplex(PIPE_BYTES);
    let server = SluiceServer::new(gateway.clone(), ready);
    let serving = tokio::spawn(async move {
        match server.serve(server_end).await {
            Ok(running) => {
                let _ = running.waiting().await;
            }
            Err(error) => tracing::warn!("the Sluice server did not start: {error}"),
        }
    });
    let outcome = match ().serve(client_end).await {
        Ok(client) => {
            let outcome = agent(workflow, language, &client, gateway).await;
            let _ = client.cancel().await;
            outcome
        }
        Err(error) => Err(DemoError::Mcp(format!(
            "the MCP handshake with Sluice failed: {error}"
        ))),
    };
    let _ = serving.await;
    outcome
}

/// The agent's turns.
async fn agent(
    workflow: Workflow,
    language: ScriptLanguage,
    client: &Client,
    gateway: &Gateway,
) -> Result<WayRun, DemoError> {
    let instructions = client
        .peer_info()
        .and_then(|info| info.instructions.clone())
        .unwrap_or_default();
    let tools = client
        .list_all_tools()
        .await
        .map_err(|error| DemoError::Mcp(format!("tools/list failed: {error}")))?;
    let mut model = Model {
        client,
        ledger: Ledger::default(),
        calls: 0,
        tool_time: Duration::ZERO,
        result_tokens: 0,
        discovery_tokens: 0,
    };
    model.ledger.preamble("Sluice instructions", &instructions);
    model
        .ledger
        .preamble("Sluice tools/list", &json!({ "tools": tools }).to_string());
    model.ledger.preamble("task", workflow.task());

    // Discovery: one search with typed signatures, as many hits as functions the task needs; a
    // second, narrower one for anything it missed.
    let (query, needed) = workflow.search();
    let search = |query: &str, server: Option<&str>, limit: usize| {
        let mut arguments = json!({"query": query, "detail": "full", "limit": limit});
        if let Some(server) = server {
            arguments["server"] = json!(server);
        }
        if language != ScriptLanguage::TypeScript {
            arguments["language"] = json!(language.name());
        }
        arguments
    };
    let found = model
        .call("search_tools", search(query, None, needed.len()))
        .await?;
    for tool in needed {
        if !found.text.contains(&tool.signature_header(language)) {
            model
                .call("search_tools", search(tool.name, Some(tool.server), 1))
                .await?;
        }
    }

    let mut arguments = json!({"code": workflow.script(language)});
    if language != ScriptLanguage::TypeScript {
        arguments["language"] = json!(language.name());
    }
    let executed = model.call("execute_code", arguments).await?;
    let report = executed.structured.unwrap_or(Value::Null);
    let downstream_calls = report["stats"]["tool_calls"].as_u64().unwrap_or_default();
    let facts = report["result"].clone();
    model.ledger.answer(&final_answer(workflow, &facts));

    let end_state = state::digest(
        workflow,
        &Access::Gateway(gateway),
        &comparable(workflow, &facts),
    )
    .await?;
    Ok(WayRun {
        totals: model.ledger.totals(),
        largest: model.ledger.largest().cloned(),
        tool_calls: model.calls,
        downstream_calls,
        tool_ms: model.tool_time.as_millis() as u64,
        result_tokens: model.result_tokens,
        discovery_tokens: model.discovery_tokens,
        complete: state::complete(workflow, &end_state),
        end_state,
    })
}

/// A tool result of Sluice as the agent got it.
struct Answer {
    text: String,
    structured: Option<Value>,
}

/// The simulated agent's side of the MCP session.
struct Model<'a> {
    client: &'a Client,
    ledger: Ledger,
    calls: u64,
    tool_time: Duration,
    /// Tokens of `execute_code` results.
    result_tokens: u64,
    /// Tokens of `search_tools` / `read_file` results.
    discovery_tokens: u64,
}

impl Model<'_> {
    async fn call(&mut self, name: &str, arguments: Value) -> Result<Answer, DemoError> {
        self.ledger.call(name, &arguments);
        let mut params = CallToolRequestParams::new(name.to_owned());
        params.arguments = match arguments {
            Value::Object(map) => Some(map),
            _ => None,
        };
        let started = Instant::now();
        let result = self
            .client
            .call_tool(params)
            .await
            .map_err(|error| DemoError::Mcp(format!("Sluice's {name} failed: {error}")))?;
        self.tool_time += started.elapsed();
        self.calls += 1;
        let text = call_result_text(&result);
        let tokens = self.ledger.result(&format!("{name} result"), &text);
        if name == "execute_code" {
            self.result_tokens += tokens;
        } else {
            self.discovery_tokens += tokens;
        }
        if result.is_error == Some(true) {
            return Err(DemoError::Call {
                server: "sluice".to_owned(),
                tool: name.to_owned(),
                message: text,
            });
        }
        Ok(Answer {
            text,
            structured: result.structured_content,
        })
    }
}
