//! Each demo server over MCP: an rmcp client on the other end of an in-memory duplex pipe.

// The helpers below are test code too; clippy's test allowance only covers `#[test]` functions.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use rmcp::model::{CallToolRequestParams, CallToolResult};
use rmcp::service::RunningService;
use rmcp::{RoleClient, ServiceExt};
use serde_json::{Value, json};
use sluice_demo_servers::{
    CONTACTS_ID, DEPLOYMENT_COMPLETE, DemoOptions, DemoServerKind, ORDERS_ID, SALES_MEETING_ID,
    TRANSCRIPT_ID, data, handler,
};

type Client = RunningService<RoleClient, ()>;

fn small() -> DemoOptions {
    DemoOptions {
        orders: 500,
        contacts: 50,
        transcript_tokens: 3_000,
        leads: 100,
        deploy_after_polls: 3,
        ..DemoOptions::default()
    }
}

async fn connect(kind: DemoServerKind, options: DemoOptions) -> Client {
    let (server_io, client_io) = tokio::io::duplex(64 * 1024);
    let server = handler(kind, options);
    tokio::spawn(async move {
        if let Ok(running) = server.serve(server_io).await {
            let _ = running.waiting().await;
        }
    });
    ().serve(client_io).await.expect("the client connects")
}

async fn call(client: &Client, name: &'static str, arguments: Value) -> CallToolResult {
    let Value::Object(arguments) = arguments else {
        panic!("arguments must be an object")
    };
    client
        .call_tool(CallToolRequestParams::new(name).with_arguments(arguments))
        .await
        .unwrap_or_else(|error| panic!("{name} failed at the protocol level: {error}"))
}

fn text(result: &CallToolResult) -> String {
    assert_eq!(result.content.len(), 1, "one content block");
    result.content[0]
        .as_text()
        .expect("a text block")
        .text
        .clone()
}

/// A successful result: structured content, and the same JSON as text.
async fn ok(client: &Client, name: &'static str, arguments: Value) -> Value {
    let result = call(client, name, arguments).await;
    assert_eq!(result.is_error, Some(false), "{name}: {}", text(&result));
    let structured = result
        .structured_content
        .clone()
        .expect("structuredContent");
    assert_eq!(text(&result), serde_json::to_string(&structured).unwrap());
    structured
}

/// A tool error: `isError: true` and a message.
async fn tool_error(client: &Client, name: &'static str, arguments: Value) -> String {
    let result = call(client, name, arguments).await;
    assert_eq!(
        result.is_error,
        Some(true),
        "{name} should fail: {}",
        text(&result)
    );
    assert!(result.structured_content.is_none());
    text(&result)
}

async fn check_listing(client: &Client, server_name: &str, tools: &[&str]) {
    let info = client.peer_info().expect("server info");
    assert_eq!(
        info.server_info.as_ref().map(|server| server.name.as_str()),
        Some(server_name)
    );
    assert!(
        info.instructions
            .as_ref()
            .is_some_and(|text| !text.is_empty())
    );
    let listed = client.list_all_tools().await.unwrap();
    let names: Vec<&str> = listed.iter().map(|tool| tool.name.as_ref()).collect();
    assert_eq!(names, tools);
    for tool in &listed {
        let output = tool.output_schema.as_ref().expect("outputSchema");
        assert_eq!(output.get("type"), Some(&json!("object")), "{}", tool.name);
        assert!(output.get("required").is_some(), "{}", tool.name);
        assert_eq!(tool.input_schema.get("type"), Some(&json!("object")));
    }
}

#[tokio::test]
async fn documents_over_mcp() {
    let options = small();
    let client = connect(DemoServerKind::Documents, options).await;
    check_listing(
        &client,
        "sluice-demo-documents",
        &["listFiles", "getDocument", "getSheet"],
    )
    .await;

    let files = ok(&client, "listFiles", json!({})).await;
    let ids: Vec<&str> = files["files"]
        .as_array()
        .unwrap()
        .iter()
        .map(|file| file["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, [TRANSCRIPT_ID, ORDERS_ID, CONTACTS_ID]);

    let document = ok(&client, "getDocument", json!({"documentId": TRANSCRIPT_ID})).await;
    assert_eq!(
        document["content"],
        data::transcript(options.seed, options.transcript_tokens)
    );

    let orders = ok(&client, "getSheet", json!({"sheetId": ORDERS_ID})).await;
    let expected: Vec<Value> = data::orders(options.seed, options.orders)
        .iter()
        .map(|order| serde_json::to_value(order).unwrap())
        .collect();
    assert_eq!(orders["rows"], json!(expected));
    let contacts = ok(&client, "getSheet", json!({"sheetId": CONTACTS_ID})).await;
    assert_eq!(contacts["rows"].as_array().unwrap().len(), options.contacts);

    let error = tool_error(&client, "getSheet", json!({"sheetId": "sheet-invoices"})).await;
    assert!(
        error.contains("\"sheet-orders\" and \"sheet-contacts\""),
        "{error}"
    );
    let error = tool_error(&client, "getDocument", json!({"documentId": 7})).await;
    assert!(error.contains("must be a string"), "{error}");

    // An unknown tool is a protocol error, not a tool result.
    let unknown = client
        .call_tool(CallToolRequestParams::new("deleteFile"))
        .await
        .unwrap_err();
    assert!(unknown.to_string().contains("listFiles"), "{unknown}");

    client.cancel().await.unwrap();
}

#[tokio::test]
async fn the_default_orders_sheet_crosses_mcp_whole() {
    let client = connect(DemoServerKind::Documents, DemoOptions::default()).await;
    let result = call(&client, "getSheet", json!({"sheetId": ORDERS_ID})).await;
    let rows = result.structured_content.as_ref().unwrap()["rows"]
        .as_array()
        .unwrap()
        .len();
    assert_eq!(rows, 10_000);
    let bytes = text(&result).len();
    assert!((900_000..1_400_000).contains(&bytes), "{bytes} bytes");
    client.cancel().await.unwrap();
}

#[tokio::test]
async fn crm_over_mcp() {
    let options = small();
    let client = connect(DemoServerKind::Crm, options).await;
    check_listing(
        &client,
        "sluice-demo-crm",
        &["query", "updateRecord", "createRecord"],
    )
    .await;

    let leads = data::leads(options.seed, options.leads);
    let engaged = leads
        .iter()
        .filter(|lead| lead.engagement_score >= 90)
        .count();
    let result = ok(
        &client,
        "query",
        json!({"objectType": "Lead", "where": {"EngagementScore": {"gte": 90}}, "fields": ["Name", "Email"], "limit": 2}),
    )
    .await;
    assert_eq!(result["totalSize"], engaged);
    assert_eq!(result["records"].as_array().unwrap().len(), engaged.min(2));

    // Writes are visible to later reads.
    let created = ok(
        &client,
        "createRecord",
        json!({"objectType": "Lead", "data": {"Name": "Grace Hopper", "Email": "grace@navy.example", "Company": "US Navy", "Title": "Rear Admiral"}}),
    )
    .await;
    assert_eq!(created["success"], true);
    let id = created["id"].as_str().unwrap().to_owned();
    let found = ok(
        &client,
        "query",
        json!({"objectType": "Lead", "where": {"Name": {"contains": "hopper"}}}),
    )
    .await;
    assert_eq!(found["totalSize"], 1);
    assert_eq!(found["records"][0]["Id"], id.as_str());
    assert_eq!(found["records"][0]["Company"], "US Navy");
    let all = ok(&client, "query", json!({"objectType": "Lead", "limit": 0})).await;
    assert_eq!(all["totalSize"], options.leads + 1);

    let updated = ok(
        &client,
        "updateRecord",
        json!({"objectType": "SalesMeeting", "recordId": SALES_MEETING_ID, "data": {"Notes": "[00:00:12] Someone: hello"}}),
    )
    .await;
    assert_eq!(updated, json!({"id": SALES_MEETING_ID, "success": true}));
    let meeting = ok(&client, "query", json!({"objectType": "SalesMeeting"})).await;
    assert_eq!(meeting["records"][0]["Notes"], "[00:00:12] Someone: hello");

    let error = tool_error(
        &client,
        "updateRecord",
        json!({"objectType": "Lead", "recordId": "00Q5f00000ZZZZZ", "data": {"Status": "Working - Contacted"}}),
    )
    .await;
    assert!(error.contains("\"00Q5f00000ZZZZZ\""), "{error}");
    let error = tool_error(&client, "query", json!({"objectType": "Opportunity"})).await;
    assert!(error.contains("\"Lead\" and \"SalesMeeting\""), "{error}");

    client.cancel().await.unwrap();
}

#[tokio::test]
async fn chat_over_mcp() {
    let options = small();
    let client = connect(DemoServerKind::Chat, options).await;
    check_listing(
        &client,
        "sluice-demo-chat",
        &["getChannelHistory", "sendMessage"],
    )
    .await;

    for poll in 1..=options.deploy_after_polls + 1 {
        let history = ok(
            &client,
            "getChannelHistory",
            json!({"channel": "#deployments"}),
        )
        .await;
        let last = history["messages"].as_array().unwrap().last().unwrap()["text"].clone();
        assert_eq!(
            last == DEPLOYMENT_COMPLETE,
            poll >= options.deploy_after_polls,
            "poll {poll}"
        );
    }

    let sent = ok(
        &client,
        "sendMessage",
        json!({"channel": "@grace.hopper", "text": "Thanks for your interest!"}),
    )
    .await;
    assert_eq!(sent["ok"], true);
    let history = ok(
        &client,
        "getChannelHistory",
        json!({"channel": "@grace.hopper", "limit": 10}),
    )
    .await;
    assert_eq!(history["messages"].as_array().unwrap().len(), 1);
    assert_eq!(history["messages"][0]["ts"], sent["ts"]);
    assert_eq!(history["messages"][0]["text"], "Thanks for your interest!");

    let error = tool_error(&client, "getChannelHistory", json!({"channel": "#random"})).await;
    assert!(error.contains("\"#general\""), "{error}");

    client.cancel().await.unwrap();
}
