//! What the model reports at the end of a workflow. Both ways reduce their work to the same
//! "facts" (the values the code-mode scripts `export default`, camelCase), and the model's final
//! answer is written from them.

use serde_json::{Value, json};

use crate::state::text_of;
use crate::workflow::{SALES_MEETING_ID, Workflow};

/// The facts of workflow 2 from the sheet's rows, computed as the script does: pending rows in
/// sheet order, amounts added in that order, the total rounded to cents, the first 5 as samples.
pub(crate) fn pending_orders(rows: &[Value]) -> Value {
    let pending: Vec<&Value> = rows
        .iter()
        .filter(|row| row.get("status").and_then(Value::as_str) == Some("pending"))
        .collect();
    let total: f64 = pending
        .iter()
        .map(|row| row.get("amount").and_then(Value::as_f64).unwrap_or(0.0))
        .sum();
    json!({
        "pendingCount": pending.len(),
        "pendingTotal": (total * 100.0).round() / 100.0,
        "sample": pending.iter().take(5).collect::<Vec<_>>(),
    })
}

/// The part of the facts that must match between the two ways (for the read-only workflows,
/// whose result is the answer itself).
pub(crate) fn comparable(workflow: Workflow, facts: &Value) -> Value {
    match workflow {
        Workflow::PendingOrders => json!({
            "pending_count": facts["pendingCount"],
            "pending_total": facts["pendingTotal"].as_f64().map(|total| format!("{total:.2}")),
            "sample": facts["sample"]
                .as_array()
                .map(|rows| rows.iter().map(|row| row["orderId"].clone()).collect::<Vec<_>>()),
        }),
        Workflow::WaitForDeployment => json!({
            "polls": facts["polls"],
            "message": facts["message"],
        }),
        _ => Value::Null,
    }
}

/// The model's final answer, written from the facts.
pub(crate) fn final_answer(workflow: Workflow, facts: &Value) -> String {
    match workflow {
        Workflow::TranscriptToCrm => {
            format!(
                "Done: the transcript is saved as the Notes of SalesMeeting {SALES_MEETING_ID}."
            )
        }
        Workflow::PendingOrders => {
            let mut answer = format!(
                "{} orders are pending, for a total of ${:.2}. Examples:\n",
                text_of(facts.get("pendingCount")),
                facts["pendingTotal"].as_f64().unwrap_or_default()
            );
            for row in facts["sample"].as_array().into_iter().flatten() {
                answer.push_str(&format!(
                    "- {} {} ${} ({})\n",
                    text_of(row.get("orderId")),
                    text_of(row.get("date")),
                    text_of(row.get("amount")),
                    text_of(row.get("customer")),
                ));
            }
            answer
        }
        Workflow::WaitForDeployment => match facts.get("message") {
            Some(Value::String(message)) => format!(
                "The deployment is complete (poll {}): \"{message}\"",
                text_of(facts.get("polls"))
            ),
            _ => format!(
                "No completion message after {} polls.",
                text_of(facts.get("polls"))
            ),
        },
        Workflow::ContactsToLeads => format!(
            "Imported {} contacts as CRM leads.",
            text_of(facts.get("imported"))
        ),
        Workflow::MessageEngagedLeads => format!(
            "Sent the message to {} leads with an EngagementScore of 90 or more.",
            text_of(facts.get("messaged"))
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pending_orders_facts() {
        let rows = vec![
            json!({"orderId": "ORD-1", "status": "pending", "amount": 10.1}),
            json!({"orderId": "ORD-2", "status": "shipped", "amount": 5.0}),
            json!({"orderId": "ORD-3", "status": "pending", "amount": 0.2}),
        ];
        let facts = pending_orders(&rows);
        assert_eq!(facts["pendingCount"], 2);
        assert_eq!(
            comparable(Workflow::PendingOrders, &facts),
            json!({"pending_count": 2, "pending_total": "10.30", "sample": ["ORD-1", "ORD-3"]})
        );
        assert!(final_answer(Workflow::PendingOrders, &facts).starts_with("2 orders are pending"));
    }
}
