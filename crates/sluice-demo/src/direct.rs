//! The direct way: the `tools/call` sequence a model makes with plain tool calling, run for real
//! over MCP against the demo servers through [`sluice_downstream::Pool`]. The model's arguments are
//! built from the previous results, as the model would copy them, and every definition, call and
//! result enters the ledger.

use std::time::{Duration, Instant};

use serde_json::{Value, json};
use sluice_catalog::CatalogTool;
use sluice_downstream::Pool;

use crate::access::{Access, code_value, model_text, pool_call, short};
use crate::answer::{comparable, final_answer, pending_orders};
use crate::ledger::Ledger;
use crate::servers::{DataSizes, Launcher, config, require_ready};
use crate::workflow::{
    CONTACTS_SHEET, DEPLOY_CHANNEL, DEPLOY_DONE, ENGAGED_SCORE, MAX_POLLS, ORDERS_SHEET,
    POLL_LIMIT, SALES_MEETING_ID, TRANSCRIPT_ID, Workflow, engaged_lead_message, lead_channel,
};
use crate::{DemoError, WayRun, state};

/// Run `workflow` the direct way against fresh demo servers.
pub(crate) async fn run(
    workflow: Workflow,
    launcher: &Launcher,
    sizes: &DataSizes,
) -> Result<WayRun, DemoError> {
    let pool = Pool::start(&config(launcher, sizes));
    pool.wait_connected(|_| {}).await;
    let outcome = run_on(workflow, &pool).await;
    pool.shutdown().await;
    outcome
}

async fn run_on(workflow: Workflow, pool: &Pool) -> Result<WayRun, DemoError> {
    require_ready(&pool.statuses().await)?;
    let definitions: Vec<Value> = pool
        .tools()
        .await
        .into_values()
        .flat_map(|part| {
            part.tools()
                .iter()
                .map(CatalogTool::definition)
                .collect::<Vec<_>>()
        })
        .collect();
    let mut model = Model {
        pool,
        ledger: Ledger::default(),
        calls: 0,
        tool_time: Duration::ZERO,
        result_tokens: 0,
    };
    model.ledger.preamble(
        "tool definitions",
        &json!({ "tools": definitions }).to_string(),
    );
    model.ledger.preamble("task", workflow.task());
    let facts = match workflow {
        Workflow::TranscriptToCrm => transcript_to_crm(&mut model).await?,
        Workflow::PendingOrders => {
            let sheet = model
                .call("documents", "getSheet", json!({"sheetId": ORDERS_SHEET}))
                .await?;
            pending_orders(field_array(&sheet, "rows")?)
        }
        Workflow::WaitForDeployment => wait_for_deployment(&mut model).await?,
        Workflow::ContactsToLeads => contacts_to_leads(&mut model).await?,
        Workflow::MessageEngagedLeads => message_engaged_leads(&mut model).await?,
    };
    model.ledger.answer(&final_answer(workflow, &facts));
    let end_state =
        state::digest(workflow, &Access::Pool(pool), &comparable(workflow, &facts)).await?;
    Ok(WayRun {
        totals: model.ledger.totals(),
        largest: model.ledger.largest().cloned(),
        tool_calls: model.calls,
        downstream_calls: model.calls,
        tool_ms: model.tool_time.as_millis() as u64,
        result_tokens: model.result_tokens,
        discovery_tokens: 0,
        complete: state::complete(workflow, &end_state),
        end_state,
    })
}

async fn transcript_to_crm(model: &mut Model<'_>) -> Result<Value, DemoError> {
    let document = model
        .call(
            "documents",
            "getDocument",
            json!({"documentId": TRANSCRIPT_ID}),
        )
        .await?;
    let content = field_str(&document, "content")?;
    model
        .call(
            "crm",
            "updateRecord",
            json!({
                "objectType": "SalesMeeting",
                "recordId": SALES_MEETING_ID,
                "data": {"Notes": content},
            }),
        )
        .await?;
    Ok(json!({
        "savedChars": content.encode_utf16().count(),
        "recordId": SALES_MEETING_ID,
    }))
}

async fn wait_for_deployment(model: &mut Model<'_>) -> Result<Value, DemoError> {
    for poll in 1..=MAX_POLLS {
        let history = model
            .call(
                "chat",
                "getChannelHistory",
                json!({"channel": DEPLOY_CHANNEL, "limit": POLL_LIMIT}),
            )
            .await?;
        let latest = field_array(&history, "messages")?
            .last()
            .and_then(|message| message.get("text"))
            .and_then(Value::as_str)
            .unwrap_or_default();
        if latest.starts_with(DEPLOY_DONE) {
            return Ok(json!({"polls": poll, "message": latest}));
        }
    }
    Ok(json!({"polls": MAX_POLLS, "message": null}))
}

async fn contacts_to_leads(model: &mut Model<'_>) -> Result<Value, DemoError> {
    let sheet = model
        .call("documents", "getSheet", json!({"sheetId": CONTACTS_SHEET}))
        .await?;
    let rows = field_array(&sheet, "rows")?.clone();
    for row in &rows {
        model
            .call(
                "crm",
                "createRecord",
                json!({
                    "objectType": "Lead",
                    "data": {
                        "Name": row["name"],
                        "Email": row["email"],
                        "Phone": row["phone"],
                        "Company": row["company"],
                        "Title": row["title"],
                    },
                }),
            )
            .await?;
    }
    Ok(json!({"imported": rows.len(), "failed": []}))
}

async fn message_engaged_leads(model: &mut Model<'_>) -> Result<Value, DemoError> {
    let found = model
        .call(
            "crm",
            "query",
            json!({
                "objectType": "Lead",
                "where": {"EngagementScore": {"gte": ENGAGED_SCORE}},
            }),
        )
        .await?;
    let leads = field_array(&found, "records")?.clone();
    if found.get("totalSize").and_then(Value::as_u64) != Some(leads.len() as u64) {
        return Err(DemoError::Unexpected(format!(
            "the query returned {} of {} engaged leads",
            leads.len(),
            crate::state::text_of(found.get("totalSize"))
        )));
    }
    for lead in &leads {
        let email = crate::state::text_of(lead.get("Email"));
        let name = crate::state::text_of(lead.get("Name"));
        let company = crate::state::text_of(lead.get("Company"));
        model
            .call(
                "chat",
                "sendMessage",
                json!({
                    "channel": lead_channel(&email),
                    "text": engaged_lead_message(&name, &company),
                }),
            )
            .await?;
    }
    Ok(json!({"messaged": leads.len(), "leads": leads.len()}))
}

/// The simulated model: it calls tools and reads their results into its context.
struct Model<'a> {
    pool: &'a Pool,
    ledger: Ledger,
    calls: u64,
    tool_time: Duration,
    result_tokens: u64,
}

impl Model<'_> {
    /// One model turn ending in `tools/call`, and its result. A tool error ends the run: the
    /// scripted model has no plan B, and the demo must not count a broken run.
    async fn call(
        &mut self,
        server: &str,
        tool: &str,
        arguments: Value,
    ) -> Result<Value, DemoError> {
        self.ledger.call(tool, &arguments);
        let started = Instant::now();
        let response = pool_call(self.pool, server, tool, &arguments).await?;
        self.tool_time += started.elapsed();
        self.calls += 1;
        let text = model_text(&response.content, response.structured_content.as_ref());
        self.result_tokens += self.ledger.result(&format!("{tool} result"), &text);
        if response.is_error {
            return Err(DemoError::Call {
                server: server.to_owned(),
                tool: tool.to_owned(),
                message: text,
            });
        }
        Ok(code_value(
            &response.content,
            response.structured_content.as_ref(),
        ))
    }
}

pub(crate) fn field_array<'a>(value: &'a Value, field: &str) -> Result<&'a Vec<Value>, DemoError> {
    value
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| DemoError::Unexpected(format!("expected `{field}` in {}", short(value))))
}

fn field_str<'a>(value: &'a Value, field: &str) -> Result<&'a str, DemoError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .ok_or_else(|| DemoError::Unexpected(format!("expected `{field}` in {}", short(value))))
}
