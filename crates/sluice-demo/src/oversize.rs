//! Results too large for an MCP client: an orders sheet is one JSON-RPC message (the sheet as
//! `structuredContent` and again as a text block; 24 MB at 100,000 rows), and Sluice's downstream
//! client, used by the direct runs too, drops a message over [`MAX_MESSAGE_BYTES`]: the call would
//! only time out. So before running workflow 2, build the same result in-process with the demo
//! server's own code, and when it cannot be received say so, with its size and the tokens the model
//! would have had to read, instead of waiting for two timeouts.

use serde::Serialize;
use serde_json::{Value, json};
use sluice_demo_servers::{DemoServer, DemoServerKind};
use sluice_downstream::MAX_MESSAGE_BYTES;

use crate::access::call_result_text;
use crate::servers::DataSizes;
use crate::workflow::ORDERS_SHEET;

/// A result no MCP client here can receive.
#[derive(Debug, Clone, Serialize)]
pub struct Unreceivable {
    /// The tool.
    pub tool: &'static str,
    /// Bytes of its JSON-RPC response message (one line on stdio).
    pub message_bytes: u64,
    /// The largest message the client accepts.
    pub limit_bytes: u64,
    /// o200k tokens the model would have read had it arrived (its text content), counted
    /// in-process.
    pub model_tokens: u64,
}

/// Whether the `getSheet` of the orders sheet at `sizes` is too large to receive.
pub(crate) async fn orders_sheet(sizes: &DataSizes) -> Option<Unreceivable> {
    let sizes = *sizes;
    tokio::task::spawn_blocking(move || orders_sheet_blocking(&sizes))
        .await
        .ok()
        .flatten()
}

fn orders_sheet_blocking(sizes: &DataSizes) -> Option<Unreceivable> {
    let options = sluice_demo_servers::DemoOptions {
        seed: sizes.seed,
        orders: usize::try_from(sizes.orders).ok()?,
        // Only the sheet matters; keep the rest of this throwaway server small.
        contacts: 1,
        transcript_tokens: 100,
        leads: 1,
        deploy_after_polls: 1,
    };
    let server = DemoServer::new(DemoServerKind::Documents, &options);
    let Value::Object(arguments) = json!({"sheetId": ORDERS_SHEET}) else {
        return None;
    };
    let result = server.call("getSheet", &arguments)?;
    let message = json!({"jsonrpc": "2.0", "id": 1, "result": result});
    let message_bytes = serde_json::to_string(&message).ok()?.len() + 1;
    if message_bytes <= MAX_MESSAGE_BYTES {
        return None;
    }
    let text = call_result_text(&result);
    Some(Unreceivable {
        tool: "getSheet",
        message_bytes: message_bytes as u64,
        limit_bytes: MAX_MESSAGE_BYTES as u64,
        model_tokens: sluice_tokens::count(&text) as u64,
    })
}
