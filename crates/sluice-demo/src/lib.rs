/*!
`sluice demo`: the five workflows of `docs/demo.md`, each run for real both ways against fresh demo
servers, with an o200k token ledger of what enters the model's context.

- **Direct** (`direct.rs`): the `tools/call` sequence a model makes with plain tool calling, over MCP
  through [`sluice_downstream::Pool`], every tool definition, call and result in the context.
- **Code mode** (`code_mode.rs`): an rmcp client talks to [`sluice_server::SluiceServer`] over an
  in-memory pipe; it reads the instructions and `tools/list`, calls `search_tools`, then
  `execute_code` with the workflow's checked-in script (`scripts/<workflow>.ts`), then answers.

Each way starts its own demo server processes (`Launcher`: normally `sluice demo server <kind>`),
so both start from the same state, and each ends with an end-state check that reads the servers
back; both ways must leave the same state. [`run`] also measures workflow 2 at several sheet sizes
and the cost of loading a real 1,535-tool catalog up front, and returns a [`Report`] that renders
as text tables or JSON.
*/
#![deny(missing_docs)]

mod access;
mod answer;
mod catalog;
mod code_mode;
mod direct;
mod ledger;
mod oversize;
mod report;
mod servers;
mod state;
mod workflow;

use std::path::PathBuf;
use std::time::Instant;

use serde_json::Value;

pub use catalog::{CATALOG_RELATIVE_PATH, CatalogReport, default_catalog_path};
pub use ledger::Totals;
pub use oversize::Unreceivable;
pub use report::{
    CodeModeStats, DirectStats, Largest, Report, ScaleReport, ScaleRow, Target, Way, WorkflowReport,
};
pub use servers::{DataSizes, Launcher};
pub use workflow::{ScriptLanguage, UnknownWorkflow, Workflow};

/// Why one way of one workflow could not be measured.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum DemoError {
    /// A demo server did not start or connect.
    #[error("demo server \"{server}\" is not available: {reason}")]
    ServerUnavailable {
        /// The server.
        server: String,
        /// Why.
        reason: String,
    },
    /// A tool call failed (a tool error, a timeout, a dropped connection).
    #[error("{server}.{tool} failed: {message}")]
    Call {
        /// The server (`sluice` for Sluice's own tools).
        server: String,
        /// The tool.
        tool: String,
        /// What went wrong.
        message: String,
    },
    /// The MCP session with Sluice failed.
    #[error("{0}")]
    Mcp(String),
    /// A tool answered with something the workflow did not expect.
    #[error("unexpected tool result: {0}")]
    Unexpected(String),
    /// The end-state check could not read the servers.
    #[error("end-state check failed: {0}")]
    Check(String),
    /// Not run: a result would be too large for the MCP client to receive.
    #[error("not run: {0}")]
    TooLarge(String),
}

/// What to run.
#[derive(Debug, Clone)]
pub struct DemoOptions {
    /// How to start demo servers and workers.
    pub launcher: Launcher,
    /// The demo servers' data.
    pub sizes: DataSizes,
    /// The workflows to run, in order.
    pub workflows: Vec<Workflow>,
    /// The language of the code-mode agent's scripts.
    pub language: ScriptLanguage,
    /// Order-sheet sizes at which workflow 2 is measured for the scale table (empty: no table).
    pub scale_rows: Vec<u64>,
    /// The tool catalog for the catalog table ([`default_catalog_path`]); `None` skips it with a
    /// note.
    pub catalog: Option<PathBuf>,
}

impl DemoOptions {
    /// Every workflow at the sizes of `docs/demo.md`, the scale table at 1,000, 10,000, 50,000
    /// and 100,000 orders, and the catalog in the source tree if it is there.
    pub fn new(launcher: Launcher) -> Self {
        Self {
            launcher,
            sizes: DataSizes::default(),
            workflows: Workflow::ALL.to_vec(),
            language: ScriptLanguage::TypeScript,
            scale_rows: vec![1_000, 10_000, 50_000, 100_000],
            catalog: default_catalog_path(),
        }
    }
}

/// What one way of one workflow measured.
#[derive(Debug, Clone)]
pub(crate) struct WayRun {
    pub(crate) totals: Totals,
    pub(crate) largest: Option<(String, u64)>,
    /// Tool calls the model made.
    pub(crate) tool_calls: u64,
    /// Calls that reached the demo servers (code mode: the script's calls).
    pub(crate) downstream_calls: u64,
    /// Time spent in the model's tool calls.
    pub(crate) tool_ms: u64,
    /// Tokens of the results that carried the workflow's data (direct: every result; code mode:
    /// the `execute_code` results).
    pub(crate) result_tokens: u64,
    /// Tokens of discovery results (code mode's `search_tools`).
    pub(crate) discovery_tokens: u64,
    pub(crate) end_state: Value,
    pub(crate) complete: bool,
}

/// Run the demo. Progress lines go to `progress` ("workflow 2/5 pending-orders: direct…").
/// Failures of one way are recorded in the report, not returned.
pub async fn run(options: &DemoOptions, progress: &(dyn Fn(&str) + Sync)) -> Report {
    let started = Instant::now();
    let total = options.workflows.len();
    let mut workflows = Vec::with_capacity(total);
    for (index, workflow) in options.workflows.iter().copied().enumerate() {
        let label = format!("workflow {}/{total} {workflow}", index + 1);
        let (direct, code, unreceivable) =
            both_ways(workflow, options, &options.sizes, &label, progress).await;
        workflows.push(report::workflow_report(
            workflow,
            direct,
            code,
            unreceivable,
        ));
    }

    let scale = if options.scale_rows.is_empty() {
        None
    } else {
        let mut rows = Vec::new();
        for orders in &options.scale_rows {
            let reused = workflows.iter().find(|entry: &&WorkflowReport| {
                entry.name == Workflow::PendingOrders.name() && options.sizes.orders == *orders
            });
            let row = match reused {
                Some(entry) => report::scale_row_from(*orders, entry),
                None => {
                    let sizes = DataSizes {
                        orders: *orders,
                        ..options.sizes
                    };
                    let label = format!("scale {orders} orders");
                    let (direct, code, unreceivable) =
                        both_ways(Workflow::PendingOrders, options, &sizes, &label, progress).await;
                    report::scale_row(*orders, direct, code, unreceivable)
                }
            };
            rows.push(row);
        }
        Some(ScaleReport {
            workflow: Workflow::PendingOrders.name(),
            rows,
        })
    };

    progress("catalog: counting the tools/list of every catalogued tool…");
    let catalog = catalog::measure(options.catalog.as_deref());
    let mut report = Report {
        language: options.language,
        sizes: options.sizes,
        workflows,
        scale,
        catalog,
        targets: Vec::new(),
        code_mode_loses: Vec::new(),
        notes: Vec::new(),
        total_ms: 0,
    };
    report.conclude();
    report.total_ms = started.elapsed().as_millis() as u64;
    report
}

/// Both ways of one workflow, each against fresh servers. Workflow 2 first checks that the sheet
/// can be received at all (see [`oversize`]).
async fn both_ways(
    workflow: Workflow,
    options: &DemoOptions,
    sizes: &DataSizes,
    label: &str,
    progress: &(dyn Fn(&str) + Sync),
) -> (
    Result<WayRun, DemoError>,
    Result<WayRun, DemoError>,
    Option<Unreceivable>,
) {
    if workflow == Workflow::PendingOrders
        && let Some(too_large) = oversize::orders_sheet(sizes).await
    {
        {
            let size = format!(
                "the getSheet result would be one {:.1} MB JSON-RPC message, over the {} MiB that an rmcp MCP client accepts (it drops the message and the call times out)",
                too_large.message_bytes as f64 / 1e6,
                too_large.limit_bytes / (1024 * 1024)
            );
            progress(&format!("{label}: both ways skipped: {size}"));
            let direct = DemoError::TooLarge(format!(
                "{size}; had it arrived, the model would have read {} tokens (counted in-process)",
                report::thousands(too_large.model_tokens)
            ));
            let code = DemoError::TooLarge(format!(
                "the script's getSheet call meets the same limit in Sluice's downstream client; the demo server has no paging, so the sheet cannot be read at this size ({size})"
            ));
            return (Err(direct), Err(code), Some(too_large));
        }
    }
    progress(&format!("{label}: direct…"));
    let started = Instant::now();
    let direct = direct::run(workflow, &options.launcher, sizes).await;
    progress(&way_done(label, "direct", &direct, started));
    progress(&format!("{label}: code mode…"));
    let started = Instant::now();
    let code = code_mode::run(workflow, options.language, &options.launcher, sizes).await;
    progress(&way_done(label, "code mode", &code, started));
    (direct, code, None)
}

fn way_done(
    label: &str,
    way: &str,
    outcome: &Result<WayRun, DemoError>,
    started: Instant,
) -> String {
    let elapsed = started.elapsed().as_millis();
    match outcome {
        Ok(run) => format!(
            "{label}: {way} done in {elapsed} ms: {} tool calls, {} billed tokens",
            run.tool_calls, run.totals.billed_tokens
        ),
        Err(error) => format!("{label}: {way} FAILED after {elapsed} ms: {error}"),
    }
}
