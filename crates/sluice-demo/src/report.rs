//! The report: per-workflow measurements both ways, the scale and catalog tables, the targets, and
//! where code mode does not win. Renders as text tables or serializes as JSON.

use std::fmt::Write as _;

use serde::Serialize;
use serde_json::Value;

use crate::catalog::CatalogReport;
use crate::oversize::Unreceivable;
use crate::servers::DataSizes;
use crate::workflow::{ScriptLanguage, Workflow};
use crate::{DemoError, WayRun};

/// The most expensive single item of a context.
#[derive(Debug, Clone, Serialize)]
pub struct Largest {
    /// What it was (a tool's result, the tool definitions...).
    pub item: String,
    /// Its o200k tokens.
    pub tokens: u64,
}

/// The direct way's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct DirectStats {
    /// The largest context the model read at one turn.
    pub peak_tokens: u64,
    /// Input tokens over all model turns.
    pub billed_tokens: u64,
    /// Tokens the model wrote (tool calls and the answer).
    pub written_tokens: u64,
    /// Tokens of all tool results.
    pub result_tokens: u64,
    /// `tools/call` requests the model made.
    pub tool_calls: u64,
    /// Time spent in tool calls.
    pub wall_ms: u64,
    /// The largest item of the context.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub largest: Option<Largest>,
}

/// The code-mode way's measurements.
#[derive(Debug, Clone, Serialize)]
pub struct CodeModeStats {
    /// Billed input tokens (the headline number; same as `billed_tokens`).
    pub tokens: u64,
    /// The largest context the model read at one turn.
    pub peak_tokens: u64,
    /// Input tokens over all model turns.
    pub billed_tokens: u64,
    /// Tokens the model wrote (tool calls, the script included, and the answer).
    pub written_tokens: u64,
    /// Tokens of `search_tools` results.
    pub discovery_tokens: u64,
    /// Tokens of `execute_code` results: all the workflow's data the model saw.
    pub result_tokens: u64,
    /// Sluice tool calls the model made.
    pub tool_calls: u64,
    /// Calls the script made to the demo servers (`execute_code` stats).
    pub downstream_calls: u64,
    /// Time spent in Sluice tool calls (a worker process per `execute_code` included).
    pub wall_ms: u64,
}

/// One way of one workflow: its measurements, or why there are none.
#[derive(Debug, Clone, Serialize)]
pub struct Way<S> {
    /// The measurements, when the run succeeded.
    #[serde(flatten)]
    pub stats: Option<S>,
    /// Why the run failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// One workflow, both ways.
#[derive(Debug, Clone, Serialize)]
pub struct WorkflowReport {
    /// 1 to 5.
    pub number: usize,
    /// `pending-orders`...
    pub name: &'static str,
    /// `Pending orders`...
    pub title: &'static str,
    /// Direct.
    pub direct: Way<DirectStats>,
    /// Code mode.
    pub code_mode: Way<CodeModeStats>,
    /// `1 - code_billed / direct_billed`.
    pub reduction: Option<f64>,
    /// Both ways left the servers (and, for the read-only workflows, the answer) the same.
    pub same_end_state: bool,
    /// And that state is the job done.
    pub end_state_complete: bool,
    /// The end-state digest (direct's, or code mode's when direct failed).
    pub end_state: Value,
    /// Code mode's digest, when it differs.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub code_mode_end_state: Option<Value>,
    /// Set when neither way ran because a result could not be received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreceivable: Option<Unreceivable>,
}

/// Workflow 2 at one sheet size.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleRow {
    /// Rows of the orders sheet.
    pub orders: u64,
    /// Direct.
    pub direct: Way<DirectStats>,
    /// Code mode.
    pub code_mode: Way<CodeModeStats>,
    /// `1 - code_billed / direct_billed`.
    pub reduction: Option<f64>,
    /// Both ways gave the same count, total and samples.
    pub same_answer: bool,
    /// Set when neither way ran because the sheet could not be received.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unreceivable: Option<Unreceivable>,
}

/// Workflow 2 at several sheet sizes.
#[derive(Debug, Clone, Serialize)]
pub struct ScaleReport {
    /// The workflow measured.
    pub workflow: &'static str,
    /// One row per sheet size.
    pub rows: Vec<ScaleRow>,
}

/// A claim the demo checks.
#[derive(Debug, Clone, Serialize)]
pub struct Target {
    /// The claim.
    pub name: String,
    /// Met, missed, or not measured in this run.
    pub met: Option<bool>,
    /// The numbers behind it.
    pub detail: String,
}

/// Everything the demo measured.
#[derive(Debug, Clone, Serialize)]
pub struct Report {
    /// The language of the code-mode scripts.
    pub language: ScriptLanguage,
    /// The demo servers' data.
    pub sizes: DataSizes,
    /// One entry per workflow run.
    pub workflows: Vec<WorkflowReport>,
    /// Workflow 2 at several sheet sizes.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scale: Option<ScaleReport>,
    /// A real catalog loaded up front against Sluice's starting context.
    pub catalog: CatalogReport,
    /// The claims checked.
    pub targets: Vec<Target>,
    /// Where code mode does not win, said plainly.
    pub code_mode_loses: Vec<String>,
    /// How the numbers were counted.
    pub notes: Vec<String>,
    /// Time the whole demo took.
    pub total_ms: u64,
}

pub(crate) fn workflow_report(
    workflow: Workflow,
    direct: Result<WayRun, DemoError>,
    code: Result<WayRun, DemoError>,
    unreceivable: Option<Unreceivable>,
) -> WorkflowReport {
    let (same, complete, end_state, code_end_state) = match (&direct, &code) {
        (Ok(direct), Ok(code)) => {
            let same = direct.end_state == code.end_state;
            (
                same,
                direct.complete && code.complete,
                direct.end_state.clone(),
                (!same).then(|| code.end_state.clone()),
            )
        }
        (Ok(direct), Err(_)) => (false, false, direct.end_state.clone(), None),
        (Err(_), Ok(code)) => (false, false, Value::Null, Some(code.end_state.clone())),
        (Err(_), Err(_)) => (false, false, Value::Null, None),
    };
    let direct = direct_way(direct);
    let code_mode = code_way(code);
    WorkflowReport {
        number: workflow.number(),
        name: workflow.name(),
        title: workflow.title(),
        reduction: reduction(&direct, &code_mode),
        direct,
        code_mode,
        same_end_state: same,
        end_state_complete: complete,
        end_state,
        code_mode_end_state: code_end_state,
        unreceivable,
    }
}

pub(crate) fn scale_row(
    orders: u64,
    direct: Result<WayRun, DemoError>,
    code: Result<WayRun, DemoError>,
    unreceivable: Option<Unreceivable>,
) -> ScaleRow {
    let same_answer = match (&direct, &code) {
        (Ok(direct), Ok(code)) => direct.end_state == code.end_state,
        _ => false,
    };
    let direct = direct_way(direct);
    let code_mode = code_way(code);
    ScaleRow {
        orders,
        reduction: reduction(&direct, &code_mode),
        direct,
        code_mode,
        same_answer,
        unreceivable,
    }
}

pub(crate) fn scale_row_from(orders: u64, entry: &WorkflowReport) -> ScaleRow {
    ScaleRow {
        orders,
        direct: entry.direct.clone(),
        code_mode: entry.code_mode.clone(),
        reduction: entry.reduction,
        same_answer: entry.same_end_state,
        unreceivable: entry.unreceivable.clone(),
    }
}

fn direct_way(outcome: Result<WayRun, DemoError>) -> Way<DirectStats> {
    match outcome {
        Ok(run) => Way {
            stats: Some(DirectStats {
                peak_tokens: run.totals.peak_tokens,
                billed_tokens: run.totals.billed_tokens,
                written_tokens: run.totals.written_tokens,
                result_tokens: run.result_tokens,
                tool_calls: run.tool_calls,
                wall_ms: run.tool_ms,
                largest: run.largest.map(|(item, tokens)| Largest { item, tokens }),
            }),
            error: None,
        },
        Err(error) => Way {
            stats: None,
            error: Some(error.to_string()),
        },
    }
}

fn code_way(outcome: Result<WayRun, DemoError>) -> Way<CodeModeStats> {
    match outcome {
        Ok(run) => Way {
            stats: Some(CodeModeStats {
                tokens: run.totals.billed_tokens,
                peak_tokens: run.totals.peak_tokens,
                billed_tokens: run.totals.billed_tokens,
                written_tokens: run.totals.written_tokens,
                discovery_tokens: run.discovery_tokens,
                result_tokens: run.result_tokens,
                tool_calls: run.tool_calls,
                downstream_calls: run.downstream_calls,
                wall_ms: run.tool_ms,
            }),
            error: None,
        },
        Err(error) => Way {
            stats: None,
            error: Some(error.to_string()),
        },
    }
}

fn reduction(direct: &Way<DirectStats>, code: &Way<CodeModeStats>) -> Option<f64> {
    match (&direct.stats, &code.stats) {
        (Some(direct), Some(code)) if direct.billed_tokens > 0 => {
            Some(1.0 - code.billed_tokens as f64 / direct.billed_tokens as f64)
        }
        _ => None,
    }
}

impl Report {
    /// Work out the targets, where code mode loses, and the notes.
    pub(crate) fn conclude(&mut self) {
        self.targets = self.targets();
        self.code_mode_loses = self.losses();
        self.notes = self.notes();
    }

    fn workflow(&self, workflow: Workflow) -> Option<&WorkflowReport> {
        self.workflows
            .iter()
            .find(|entry| entry.name == workflow.name())
    }

    fn targets(&self) -> Vec<Target> {
        let mut targets = Vec::new();
        let transcript = self.workflow(Workflow::TranscriptToCrm);
        targets.push(Target {
            name: "workflow 1: at least 99% fewer billed input tokens in code mode".to_owned(),
            met: transcript.and_then(|entry| entry.reduction.map(|value| value >= 0.99)),
            detail: match transcript {
                Some(entry) => match (&entry.direct.stats, &entry.code_mode.stats, entry.reduction)
                {
                    (Some(direct), Some(code), Some(value)) => format!(
                        "{} fewer ({} -> {} billed tokens; code mode's cost is three turns over Sluice's small starting context plus the search and the script, so the reduction grows with the transcript: {} tokens here)",
                        percent(value),
                        thousands(direct.billed_tokens),
                        thousands(code.billed_tokens),
                        thousands(self.sizes.transcript_tokens)
                    ),
                    _ => "a way failed; see the workflow".to_owned(),
                },
                None => "workflow 1 not run".to_owned(),
            },
        });

        let mut pending: Vec<(u64, u64)> = Vec::new();
        if let Some(entry) = self.workflow(Workflow::PendingOrders)
            && let Some(code) = &entry.code_mode.stats
        {
            pending.push((self.sizes.orders, code.result_tokens));
        }
        for row in self.scale.iter().flat_map(|scale| &scale.rows) {
            if let Some(code) = &row.code_mode.stats
                && !pending.iter().any(|(orders, _)| *orders == row.orders)
            {
                pending.push((row.orders, code.result_tokens));
            }
        }
        pending.sort();
        let failed_sizes: Vec<String> = self
            .scale
            .iter()
            .flat_map(|scale| &scale.rows)
            .filter(|row| row.code_mode.stats.is_none())
            .map(|row| thousands(row.orders))
            .collect();
        targets.push(Target {
            name: "workflow 2: code mode's model-visible data (execute_code results) at most 1,000 tokens at every sheet size".to_owned(),
            met: if pending.is_empty() {
                None
            } else {
                Some(failed_sizes.is_empty() && pending.iter().all(|(_, tokens)| *tokens <= 1_000))
            },
            detail: {
                let mut detail = pending
                    .iter()
                    .map(|(orders, tokens)| format!("{} rows: {} tokens", thousands(*orders), thousands(*tokens)))
                    .collect::<Vec<_>>()
                    .join(", ");
                if !failed_sizes.is_empty() {
                    detail.push_str(&format!(
                        "; code mode could not run at {} rows (see the scale table)",
                        failed_sizes.join(", ")
                    ));
                }
                if detail.is_empty() {
                    detail = "workflow 2 not run".to_owned();
                }
                detail
            },
        });

        let catalog = &self.catalog;
        targets.push(Target {
            name: "catalog: Sluice's starting context at most 1,000 tokens, against loading every tool up front".to_owned(),
            met: Some(catalog.code_mode_tokens <= 1_000),
            detail: match (catalog.direct_tokens, catalog.tools) {
                (Some(direct), Some(tools)) => format!(
                    "{} tokens vs {} for {} tool definitions",
                    thousands(catalog.code_mode_tokens),
                    thousands(direct),
                    thousands(tools as u64)
                ),
                _ => format!(
                    "{} tokens; the catalog side was not measured: {}",
                    thousands(catalog.code_mode_tokens),
                    catalog.skipped.as_deref().unwrap_or("skipped")
                ),
            },
        });
        targets
    }

    fn losses(&self) -> Vec<String> {
        let mut losses = Vec::new();
        for entry in &self.workflows {
            let label = format!("workflow {} ({})", entry.number, entry.name);
            if let Some(error) = &entry.code_mode.error {
                losses.push(format!("{label}: code mode failed: {error}"));
            }
            if !entry.same_end_state
                && entry.direct.stats.is_some()
                && entry.code_mode.stats.is_some()
            {
                losses.push(format!(
                    "{label}: the two ways did not reach the same end state"
                ));
            }
            let (Some(direct), Some(code)) = (&entry.direct.stats, &entry.code_mode.stats) else {
                continue;
            };
            if code.billed_tokens >= direct.billed_tokens {
                losses.push(format!(
                    "{label}: code mode bills more input tokens ({} vs {} direct): Sluice's starting context, the search and the script cost more than the small results they replace",
                    thousands(code.billed_tokens),
                    thousands(direct.billed_tokens)
                ));
            } else if code.peak_tokens >= direct.peak_tokens {
                losses.push(format!(
                    "{label}: code mode's peak context is larger ({} vs {} direct tokens), though it bills less",
                    thousands(code.peak_tokens),
                    thousands(direct.peak_tokens)
                ));
            }
            if code.tool_calls >= direct.tool_calls {
                losses.push(format!(
                    "{label}: code mode makes as many model tool calls or more ({} vs {} direct)",
                    code.tool_calls, direct.tool_calls
                ));
            }
            if code.wall_ms > direct.wall_ms {
                let why = if entry.name == Workflow::WaitForDeployment.name() {
                    "mostly the script's 200 ms pause between polls, while the direct polls run back to back here because the model's own time between turns is not counted"
                } else {
                    "a search, a worker (started, or warm) per execute_code, TypeScript transpiling and a schema check on every call"
                };
                losses.push(format!(
                    "{label}: code mode spends longer in tool calls ({} vs {} direct): {why}",
                    millis(code.wall_ms),
                    millis(direct.wall_ms)
                ));
            }
        }
        let measured_above = self.workflow(Workflow::PendingOrders).is_some();
        for row in self.scale.iter().flat_map(|scale| &scale.rows) {
            if measured_above && row.orders == self.sizes.orders {
                // The same run as workflow 2 above, already listed.
                continue;
            }
            if let Some(too_large) = &row.unreceivable {
                losses.push(format!(
                    "workflow 2 at {} orders: code mode cannot run either: the script's getSheet result ({:.1} MB) is over the {} MiB message limit of Sluice's downstream MCP client, and the demo server offers no paging",
                    thousands(row.orders),
                    too_large.message_bytes as f64 / 1e6,
                    too_large.limit_bytes / (1024 * 1024)
                ));
                continue;
            }
            if let Some(error) = &row.code_mode.error {
                losses.push(format!(
                    "workflow 2 at {} orders: code mode failed: {error}",
                    thousands(row.orders)
                ));
            }
            if let (Some(direct), Some(code)) = (&row.direct.stats, &row.code_mode.stats) {
                if code.billed_tokens >= direct.billed_tokens {
                    losses.push(format!(
                        "workflow 2 at {} orders: code mode bills more ({} vs {} direct)",
                        thousands(row.orders),
                        thousands(code.billed_tokens),
                        thousands(direct.billed_tokens)
                    ));
                }
                if code.wall_ms > direct.wall_ms {
                    losses.push(format!(
                        "workflow 2 at {} orders: code mode spends longer in tool calls ({} ms vs {} ms direct)",
                        thousands(row.orders),
                        thousands(code.wall_ms),
                        thousands(direct.wall_ms)
                    ));
                }
            }
        }
        losses
    }

    fn notes(&self) -> Vec<String> {
        let mut notes = vec![
            "Tokens are o200k_base. Direct context: the three demo servers' tools/list JSON, the task, then each tool call as the model writes it (name and arguments JSON) and each result. Code-mode context: Sluice's instructions and tools/list as the client received them, the task, the search_tools and execute_code calls (the script's code included) and their results.".to_owned(),
            "A result counts as the model reads it: the text of its content blocks (structuredContent only when a result has no content); the JSON-RPC envelope is not counted, either way.".to_owned(),
            "Billed input tokens add up the context re-read at every model turn (one turn per tool call, plus the final answer); peak is the largest context. What the model writes (calls, code, answer) is shown as written tokens and enters the context of later turns.".to_owned(),
            "execute_code reports its own direct-calling estimate (direct_estimate_tokens: the tokens its calls and their results would have put into the context); the direct column measures it for real, by making the same calls directly against identical fresh servers and counting each turn.".to_owned(),
            "Time is the time spent in the model's tool calls (server start-up, the model's own thinking and token counting excluded); code mode's includes a fresh worker process per execute_code.".to_owned(),
            "The demo gateway departs from Sluice's defaults: execution.toolCalls 5,000 (workflow 4 makes 1,001 calls in one execution; the default cap of 1,000 would stop it and the model would need a second execution), execution.timeoutMs 120 s (large sheets), execution.outputBytes 4 MiB (the end-state checks read whole records back through the same gateway; the workflow scripts return under 1 KB), reconnect off.".to_owned(),
            "Privacy tokenization (sluice.privacy, on by default) is off in the demo. With it on, the end-state checks would read tokens instead of names and emails; workflow 4 (documents to crm) and workflow 5 (crm to chat) need flow rules, since by default personal data may only go back to the server it came from; and workflow 5 cannot be done as asked, because code cannot cut the handle out of a tokenized email or the first name out of a tokenized name.".to_owned(),
        ];
        if let Some(direct) = self
            .workflow(Workflow::TranscriptToCrm)
            .and_then(|entry| entry.direct.stats.as_ref())
        {
            notes.push(format!(
                "Workflow 1 direct asks the model to write the whole transcript into updateRecord's arguments: {} output tokens in one turn, more than many models can write at all.",
                thousands(direct.written_tokens)
            ));
        }
        for row in self.scale.iter().flat_map(|scale| &scale.rows) {
            if row.unreceivable.is_some() {
                continue;
            }
            if let Some(error) = &row.direct.error {
                notes.push(format!(
                    "Workflow 2 direct at {} orders could not be measured: {error}",
                    thousands(row.orders)
                ));
            }
        }
        for entry in &self.workflows {
            if let Some(error) = &entry.direct.error {
                notes.push(format!("Workflow {} direct failed: {error}", entry.number));
            }
        }
        notes
    }

    /// The report as text tables, for a terminal.
    pub fn render(&self) -> String {
        let mut out = String::new();
        let _ = writeln!(
            out,
            "Sluice demo: {} workflow{}, each run for real both ways against fresh demo servers (code mode in {})",
            self.workflows.len(),
            if self.workflows.len() == 1 { "" } else { "s" },
            self.language.title()
        );
        let _ = writeln!(
            out,
            "(o200k tokens; billed = input tokens re-read at every model turn; data: seed {}, {} orders, {} contacts, ~{} token transcript, {} leads)",
            self.sizes.seed,
            thousands(self.sizes.orders),
            thousands(self.sizes.contacts),
            thousands(self.sizes.transcript_tokens),
            thousands(self.sizes.leads)
        );
        for entry in &self.workflows {
            out.push('\n');
            self.render_workflow(&mut out, entry);
        }
        if !self.workflows.is_empty() {
            out.push('\n');
            self.render_summary(&mut out);
        }
        if let Some(scale) = &self.scale {
            out.push('\n');
            render_scale(&mut out, scale);
        }
        out.push('\n');
        self.render_catalog(&mut out);
        out.push_str("\nTargets\n");
        for target in &self.targets {
            let mark = match target.met {
                Some(true) => "✓",
                Some(false) => "✗",
                None => "-",
            };
            let _ = writeln!(out, "  {mark} {}: {}", target.name, target.detail);
        }
        out.push_str("\nWhere code mode does not win\n");
        if self.code_mode_loses.is_empty() {
            out.push_str("  nowhere in this run (tokens, tool calls and tool time all lower)\n");
        }
        for loss in &self.code_mode_loses {
            let _ = writeln!(out, "  - {loss}");
        }
        out.push_str("\nNotes\n");
        for note in &self.notes {
            let _ = writeln!(out, "  - {note}");
        }
        let _ = writeln!(out, "\nTotal time {:.1} s", self.total_ms as f64 / 1000.0);
        out
    }

    fn render_workflow(&self, out: &mut String, entry: &WorkflowReport) {
        let workflow = entry.name.parse::<Workflow>().ok();
        let _ = writeln!(
            out,
            "Workflow {} — {} ({})",
            entry.number, entry.title, entry.name
        );
        if let Some(workflow) = workflow {
            let _ = writeln!(out, "  task: {}", workflow.task());
        }
        let direct = entry.direct.stats.as_ref();
        let code = entry.code_mode.stats.as_ref();
        comparison_row(out, "", "direct".to_owned(), "code mode".to_owned(), None);
        let cell = |value: Option<u64>| value.map_or_else(|| "failed".to_owned(), thousands);
        comparison_row(
            out,
            "peak context (tokens)",
            cell(direct.map(|stats| stats.peak_tokens)),
            cell(code.map(|stats| stats.peak_tokens)),
            None,
        );
        let reduction = match (direct, code, entry.reduction) {
            (Some(direct), Some(code), Some(value)) if code.billed_tokens > 0 => format!(
                "{} ({}x)",
                reduction_words(value),
                thousands((direct.billed_tokens as f64 / code.billed_tokens as f64).round() as u64)
            ),
            _ => String::new(),
        };
        comparison_row(
            out,
            "billed input (tokens)",
            cell(direct.map(|stats| stats.billed_tokens)),
            cell(code.map(|stats| stats.billed_tokens)),
            Some(&reduction),
        );
        comparison_row(
            out,
            "written by the model",
            cell(direct.map(|stats| stats.written_tokens)),
            cell(code.map(|stats| stats.written_tokens)),
            None,
        );
        comparison_row(
            out,
            "data seen by the model",
            cell(direct.map(|stats| stats.result_tokens)),
            cell(code.map(|stats| stats.result_tokens)),
            Some("(tool results; code mode: execute_code results)"),
        );
        let downstream = code
            .map(|stats| {
                format!(
                    "(+{} downstream calls made by the script)",
                    thousands(stats.downstream_calls)
                )
            })
            .unwrap_or_default();
        comparison_row(
            out,
            "tool calls",
            cell(direct.map(|stats| stats.tool_calls)),
            cell(code.map(|stats| stats.tool_calls)),
            Some(&downstream),
        );
        comparison_row(
            out,
            "time in tool calls",
            direct.map_or_else(|| "failed".to_owned(), |stats| millis(stats.wall_ms)),
            code.map_or_else(|| "failed".to_owned(), |stats| millis(stats.wall_ms)),
            None,
        );
        if let Some(largest) = direct.and_then(|stats| stats.largest.as_ref()) {
            let _ = writeln!(
                out,
                "  largest direct item: {} ({} tokens)",
                largest.item,
                thousands(largest.tokens)
            );
        }
        for (way, error) in [
            ("direct", &entry.direct.error),
            ("code mode", &entry.code_mode.error),
        ] {
            if let Some(error) = error {
                let _ = writeln!(out, "  {way} failed: {error}");
            }
        }
        let failed = entry.direct.stats.is_none() || entry.code_mode.stats.is_none();
        let mark = if failed {
            "✗ not compared, a way failed"
        } else if entry.same_end_state && entry.end_state_complete {
            "✓ same end state both ways"
        } else if entry.same_end_state {
            "✓ same end state both ways, but the job is not done"
        } else {
            "✗ end states differ"
        };
        let description = workflow
            .map(|workflow| describe_state(workflow, &entry.end_state))
            .unwrap_or_default();
        let _ = writeln!(out, "  end state: {mark}: {description}");
        if let (Some(code_state), Some(workflow)) = (&entry.code_mode_end_state, workflow) {
            let _ = writeln!(
                out,
                "  code mode's end state: {}",
                describe_state(workflow, code_state)
            );
        }
    }

    fn render_summary(&self, out: &mut String) {
        out.push_str("Summary\n");
        let _ = writeln!(
            out,
            "  {:<2} {:<22} {:>11} {:>13} {:>10} {:>11} {:>10} {:>7} {:>13} {:>10} {:>10}  end state",
            "#",
            "workflow",
            "direct peak",
            "direct billed",
            "code peak",
            "code billed",
            "reduction",
            "calls d",
            "calls c (ds)",
            "time d",
            "time c",
        );
        for entry in &self.workflows {
            let direct = entry.direct.stats.as_ref();
            let code = entry.code_mode.stats.as_ref();
            let cell = |value: Option<u64>| value.map_or_else(|| "failed".to_owned(), thousands);
            let _ = writeln!(
                out,
                "  {:<2} {:<22} {:>11} {:>13} {:>10} {:>11} {:>10} {:>7} {:>13} {:>10} {:>10}  {}",
                entry.number,
                entry.name,
                cell(direct.map(|stats| stats.peak_tokens)),
                cell(direct.map(|stats| stats.billed_tokens)),
                cell(code.map(|stats| stats.peak_tokens)),
                cell(code.map(|stats| stats.billed_tokens)),
                entry
                    .reduction
                    .map(percent)
                    .unwrap_or_else(|| "-".to_owned()),
                cell(direct.map(|stats| stats.tool_calls)),
                code.map_or_else(
                    || "failed".to_owned(),
                    |stats| format!(
                        "{} ({})",
                        stats.tool_calls,
                        thousands(stats.downstream_calls)
                    )
                ),
                direct.map_or_else(|| "failed".to_owned(), |stats| millis(stats.wall_ms)),
                code.map_or_else(|| "failed".to_owned(), |stats| millis(stats.wall_ms)),
                if direct.is_none() || code.is_none() {
                    "✗ a way failed"
                } else if entry.same_end_state && entry.end_state_complete {
                    "✓ same"
                } else if entry.same_end_state {
                    "✓ same (not done)"
                } else {
                    "✗ differs"
                }
            );
        }
        let (direct_billed, code_billed) =
            self.workflows.iter().fold((0, 0), |(direct, code), entry| {
                match (&entry.direct.stats, &entry.code_mode.stats) {
                    (Some(d), Some(c)) => (direct + d.billed_tokens, code + c.billed_tokens),
                    _ => (direct, code),
                }
            });
        if direct_billed > 0 {
            let _ = writeln!(
                out,
                "  all workflows measured both ways: {} billed tokens direct, {} in code mode ({})",
                thousands(direct_billed),
                thousands(code_billed),
                reduction_words(1.0 - code_billed as f64 / direct_billed as f64)
            );
        }
    }

    fn render_catalog(&self, out: &mut String) {
        let catalog = &self.catalog;
        match (catalog.tools, catalog.direct_tokens) {
            (Some(tools), Some(direct)) => {
                let _ = writeln!(
                    out,
                    "Catalog: {} real tool definitions from {} servers ({})",
                    thousands(tools as u64),
                    catalog.servers.unwrap_or_default(),
                    catalog.source.as_deref().unwrap_or_default()
                );
                let _ = writeln!(
                    out,
                    "  {:<66}{:>12} tokens",
                    format!(
                        "every tool up front (tools/list JSON, {} bytes)",
                        thousands(catalog.direct_bytes.unwrap_or_default() as u64)
                    ),
                    thousands(direct)
                );
                let _ = writeln!(
                    out,
                    "  {:<66}{:>12} tokens",
                    "Sluice's whole starting context (instructions + tools/list)",
                    thousands(catalog.code_mode_tokens)
                );
            }
            _ => {
                let _ = writeln!(
                    out,
                    "Catalog: skipped ({}); Sluice's whole starting context is {} tokens",
                    catalog.skipped.as_deref().unwrap_or("no catalog"),
                    thousands(catalog.code_mode_tokens)
                );
            }
        }
    }

    /// The report as JSON.
    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }
}

fn render_scale(out: &mut String, scale: &ScaleReport) {
    out.push_str("Workflow 2 at scale: pending orders of an N-row sheet (tokens)\n");
    let _ = writeln!(
        out,
        "  {:>9} {:>13} {:>13} {:>13} {:>12} {:>12} {:>10} {:>10} {:>10}  answer",
        "orders",
        "direct data",
        "direct peak",
        "direct billed",
        "code data",
        "code billed",
        "reduction",
        "time d",
        "time c",
    );
    let mut footnotes = Vec::new();
    for row in &scale.rows {
        if let Some(too_large) = &row.unreceivable {
            let _ = writeln!(
                out,
                "  {:>9} {:>13} {:>13} {:>13} {:>12} {:>12} {:>10} {:>10} {:>10}  -",
                thousands(row.orders),
                format!("~{}*", thousands(too_large.model_tokens)),
                "not run",
                "not run",
                "not run",
                "not run",
                "-",
                "-",
                "-",
            );
            footnotes.push(format!(
                "  * {} orders, not run either way: {}'s result would be one {:.1} MB JSON-RPC message, over the {} MiB that an rmcp MCP client accepts (Sluice's downstream pool and the direct client alike): the message is dropped and the call times out. The direct figure is the sheet's text counted in-process; code mode would need the sheet in pages, which the demo server does not offer.",
                thousands(row.orders),
                too_large.tool,
                too_large.message_bytes as f64 / 1e6,
                too_large.limit_bytes / (1024 * 1024)
            ));
            continue;
        }
        let direct = row.direct.stats.as_ref();
        let code = row.code_mode.stats.as_ref();
        let cell = |value: Option<u64>| value.map_or_else(|| "failed".to_owned(), thousands);
        let _ = writeln!(
            out,
            "  {:>9} {:>13} {:>13} {:>13} {:>12} {:>12} {:>10} {:>10} {:>10}  {}",
            thousands(row.orders),
            cell(direct.map(|stats| stats.result_tokens)),
            cell(direct.map(|stats| stats.peak_tokens)),
            cell(direct.map(|stats| stats.billed_tokens)),
            cell(code.map(|stats| stats.result_tokens)),
            cell(code.map(|stats| stats.billed_tokens)),
            row.reduction.map(percent).unwrap_or_else(|| "-".to_owned()),
            direct.map_or_else(|| "failed".to_owned(), |stats| millis(stats.wall_ms)),
            code.map_or_else(|| "failed".to_owned(), |stats| millis(stats.wall_ms)),
            if row.same_answer { "✓ same" } else { "✗" }
        );
        for (way, error) in [
            ("direct", &row.direct.error),
            ("code mode", &row.code_mode.error),
        ] {
            if let Some(error) = error {
                let _ = writeln!(out, "  {:>9} {way} failed: {error}", "");
            }
        }
    }
    for footnote in footnotes {
        let _ = writeln!(out, "{footnote}");
    }
}

/// One line on what the end state shows.
fn describe_state(workflow: Workflow, digest: &Value) -> String {
    let number = |value: &Value| value.as_u64().map_or_else(|| value.to_string(), thousands);
    match workflow {
        Workflow::TranscriptToCrm => format!(
            "SalesMeeting Notes {} the transcript ({} characters)",
            if digest["notes_equal_transcript"] == Value::Bool(true) {
                "equal"
            } else {
                "do not equal"
            },
            number(&digest["SalesMeeting.Notes"]["chars"])
        ),
        Workflow::PendingOrders => format!(
            "{} pending orders, total ${}, samples {}",
            number(&digest["answer"]["pending_count"]),
            digest["answer"]["pending_total"]
                .as_str()
                .map(money)
                .unwrap_or_else(|| "?".to_owned()),
            digest["answer"]["sample"]
                .as_array()
                .map(|ids| ids
                    .iter()
                    .filter_map(Value::as_str)
                    .collect::<Vec<_>>()
                    .join(", "))
                .unwrap_or_default()
        ),
        Workflow::WaitForDeployment => match digest["answer"]["message"].as_str() {
            Some(message) => format!(
                "seen on poll {}: \"{message}\"",
                number(&digest["answer"]["polls"])
            ),
            None => "the completion message never appeared".to_owned(),
        },
        Workflow::ContactsToLeads => format!(
            "{} of {} contacts are leads; {} leads in all",
            number(&digest["contacts_imported"]),
            number(&digest["contacts"]),
            number(&digest["leads_total"])
        ),
        Workflow::MessageEngagedLeads => format!(
            "{} of {} engaged leads got exactly the one message",
            number(&digest["messaged_exactly_once"]),
            number(&digest["engaged_leads"])
        ),
    }
}

/// `12,345,678`.
pub(crate) fn thousands(value: u64) -> String {
    let digits = value.to_string();
    let mut out = String::with_capacity(digits.len() + digits.len() / 3);
    for (index, digit) in digits.chars().enumerate() {
        if index > 0 && (digits.len() - index).is_multiple_of(3) {
            out.push(',');
        }
        out.push(digit);
    }
    out
}

/// `1807041.53` as `1,807,041.53`.
fn money(amount: &str) -> String {
    let (whole, cents) = amount.split_once('.').unwrap_or((amount, ""));
    match whole.parse::<u64>() {
        Ok(whole) if cents.is_empty() => thousands(whole),
        Ok(whole) => format!("{}.{cents}", thousands(whole)),
        Err(_) => amount.to_owned(),
    }
}

fn millis(value: u64) -> String {
    format!("{} ms", thousands(value))
}

/// A percentage with one decimal, or as many more (up to 4) as it takes not to round to 100.
fn percent(value: f64) -> String {
    let mut decimals = 1;
    loop {
        let text = format!("{:.*}", decimals, value * 100.0);
        if value >= 1.0 || decimals >= 4 || text != format!("{:.*}", decimals, 100.0) {
            return format!("{text}%");
        }
        decimals += 1;
    }
}

fn reduction_words(value: f64) -> String {
    if value >= 0.0 {
        format!("{} fewer", percent(value))
    } else {
        format!("{} MORE", percent(-value))
    }
}

/// One line of a workflow's direct-vs-code-mode table; a note, when given, follows after three
/// spaces (even an empty one, so columns line up the same way in every report).
fn comparison_row(out: &mut String, label: &str, direct: String, code: String, note: Option<&str>) {
    let _ = write!(out, "  {label:<26}{direct:>14}{code:>14}");
    if let Some(note) = note {
        let _ = write!(out, "   {note}");
    }
    out.push('\n');
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::Totals;
    use serde_json::json;

    fn run(billed: u64, end_state: Value) -> WayRun {
        WayRun {
            totals: Totals {
                peak_tokens: billed / 2,
                billed_tokens: billed,
                written_tokens: 10,
                turns: 2,
            },
            largest: Some(("getSheet result".to_owned(), billed / 3)),
            tool_calls: 1,
            downstream_calls: 1,
            tool_ms: 5,
            result_tokens: billed / 3,
            discovery_tokens: 0,
            complete: true,
            end_state,
        }
    }

    #[test]
    fn thousands_separators() {
        assert_eq!(thousands(0), "0");
        assert_eq!(thousands(999), "999");
        assert_eq!(thousands(1_000), "1,000");
        assert_eq!(thousands(645_123_456), "645,123,456");
        assert_eq!(percent(0.982), "98.2%");
        assert_eq!(percent(0.99997), "99.997%");
        assert_eq!(percent(1.0), "100.0%");
        assert_eq!(money("1807041.53"), "1,807,041.53");
        assert_eq!(money("12"), "12");
    }

    #[test]
    fn rendered_report_with_masked_numbers() {
        let state =
            json!({"answer": {"pending_count": 3, "pending_total": "10.00", "sample": ["ORD-1"]}});
        let entry = workflow_report(
            Workflow::PendingOrders,
            Ok(run(100_000, state.clone())),
            Ok(run(2_000, state)),
            None,
        );
        assert!(entry.same_end_state);
        assert!((entry.reduction.unwrap() - 0.98).abs() < 1e-9);
        let failed = workflow_report(
            Workflow::WaitForDeployment,
            Ok(run(
                500,
                json!({"answer": {"polls": 5, "message": "Deployment complete: x"}}),
            )),
            Err(DemoError::Mcp("boom".to_owned())),
            None,
        );
        let mut report = Report {
            language: ScriptLanguage::TypeScript,
            sizes: DataSizes::default(),
            workflows: vec![entry, failed],
            scale: None,
            catalog: crate::catalog::measure(None),
            targets: Vec::new(),
            code_mode_loses: Vec::new(),
            notes: Vec::new(),
            total_ms: 1_234,
        };
        report.conclude();
        let text = report.render();
        let masked: String = text
            .lines()
            .map(|line| {
                line.chars()
                    .map(|c| if c.is_ascii_digit() { '#' } else { c })
                    .collect::<String>()
                    .trim_end()
                    .to_owned()
            })
            .collect::<Vec<_>>()
            .join("\n");
        insta::assert_snapshot!(masked);
        assert!(
            report
                .code_mode_loses
                .iter()
                .any(|loss| loss.contains("code mode failed: boom"))
        );
        let json = report.to_json();
        assert_eq!(json["workflows"][0]["code_mode"]["tokens"], 2_000);
        assert_eq!(json["workflows"][1]["code_mode"]["error"], "boom");
        assert!(json["workflows"][1]["code_mode"].get("tokens").is_none());
    }
}
