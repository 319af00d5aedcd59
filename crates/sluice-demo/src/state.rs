//! End-state checks: after a run, read the servers and reduce what matters to a digest. Both ways
//! of a workflow must give the same digest.

use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::DemoError;
use crate::access::{Access, short};
use crate::workflow::{
    CONTACTS_SHEET, DEPLOY_CHANNEL, ENGAGED_SCORE, POLL_LIMIT, SALES_MEETING_ID, TRANSCRIPT_ID,
    Workflow, engaged_lead_message, lead_channel,
};

/// Largest number of records a check asks the CRM for.
const CHECK_LIMIT: u64 = 100_000;

/// The digest of the servers' state after `workflow`, with `answer` (the facts the model
/// reported, for the read-only workflows) folded in.
pub(crate) async fn digest(
    workflow: Workflow,
    access: &Access<'_>,
    answer: &Value,
) -> Result<Value, DemoError> {
    match workflow {
        Workflow::TranscriptToCrm => {
            let values = access
                .call_all(&[
                    (
                        "crm",
                        "query",
                        json!({"objectType": "SalesMeeting", "where": {"Id": SALES_MEETING_ID}}),
                    ),
                    (
                        "documents",
                        "getDocument",
                        json!({"documentId": TRANSCRIPT_ID}),
                    ),
                ])
                .await?;
            let notes = records(&values[0])?
                .first()
                .and_then(|record| record.get("Notes"))
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_owned();
            let transcript = string_field(&values[1], "content")?;
            Ok(json!({
                "SalesMeeting.Notes": {"chars": notes.chars().count(), "sha256": sha256(&notes)},
                "notes_equal_transcript": notes == transcript,
            }))
        }
        Workflow::PendingOrders => Ok(json!({ "answer": answer })),
        Workflow::WaitForDeployment => {
            let values = access
                .call_all(&[(
                    "chat",
                    "getChannelHistory",
                    json!({"channel": DEPLOY_CHANNEL, "limit": POLL_LIMIT}),
                )])
                .await?;
            let latest = values[0]
                .get("messages")
                .and_then(Value::as_array)
                .and_then(|messages| messages.last())
                .and_then(|message| message.get("text"))
                .cloned()
                .unwrap_or(Value::Null);
            Ok(json!({ "answer": answer, "latest_message": latest }))
        }
        Workflow::ContactsToLeads => {
            let fields = ["Name", "Email", "Phone", "Company", "Title"];
            let values = access
                .call_all(&[
                    (
                        "crm",
                        "query",
                        json!({"objectType": "Lead", "fields": fields, "limit": CHECK_LIMIT}),
                    ),
                    ("documents", "getSheet", json!({"sheetId": CONTACTS_SHEET})),
                ])
                .await?;
            let leads = records(&values[0])?;
            let total = values[0].get("totalSize").cloned().unwrap_or(Value::Null);
            let mut lines: Vec<String> = leads
                .iter()
                .map(|lead| {
                    fields
                        .iter()
                        .map(|field| text_of(lead.get(*field)))
                        .collect::<Vec<_>>()
                        .join("|")
                })
                .collect();
            lines.sort();
            let rows = array_field(&values[1], "rows")?;
            let imported = rows
                .iter()
                .filter(|row| {
                    let line = ["name", "email", "phone", "company", "title"]
                        .iter()
                        .map(|column| text_of(row.get(*column)))
                        .collect::<Vec<_>>()
                        .join("|");
                    lines.binary_search(&line).is_ok()
                })
                .count();
            Ok(json!({
                "leads_total": total,
                "leads_returned": leads.len(),
                "contacts": rows.len(),
                "contacts_imported": imported,
                "leads_sha256": sha256(&lines.join("\n")),
            }))
        }
        Workflow::MessageEngagedLeads => {
            let engaged = access
                .call_all(&[(
                    "crm",
                    "query",
                    json!({
                        "objectType": "Lead",
                        "where": {"EngagementScore": {"gte": ENGAGED_SCORE}},
                        "fields": ["Name", "Email", "Company"],
                        "limit": CHECK_LIMIT,
                    }),
                )])
                .await?;
            let leads = records(&engaged[0])?;
            let expected: Vec<(String, String)> = leads
                .iter()
                .map(|lead| {
                    (
                        lead_channel(&text_of(lead.get("Email"))),
                        engaged_lead_message(
                            &text_of(lead.get("Name")),
                            &text_of(lead.get("Company")),
                        ),
                    )
                })
                .collect();
            let calls: Vec<(&str, &str, Value)> = expected
                .iter()
                .map(|(channel, _)| ("chat", "getChannelHistory", json!({"channel": channel})))
                .collect();
            let histories = access.call_all(&calls).await?;
            let mut lines = Vec::new();
            let mut exactly_once = 0;
            for ((channel, message), history) in expected.iter().zip(&histories) {
                let texts: Vec<String> = history
                    .get("messages")
                    .and_then(Value::as_array)
                    .map(|messages| {
                        messages
                            .iter()
                            .map(|message| text_of(message.get("text")))
                            .collect()
                    })
                    .unwrap_or_default();
                if texts.len() == 1 && &texts[0] == message {
                    exactly_once += 1;
                }
                for text in texts {
                    lines.push(format!("{channel}\t{text}"));
                }
            }
            lines.sort();
            Ok(json!({
                "engaged_leads": leads.len(),
                "messaged_exactly_once": exactly_once,
                "messages_sha256": sha256(&lines.join("\n")),
            }))
        }
    }
}

/// Whether a digest shows the workflow's job done (not only the same both ways).
pub(crate) fn complete(workflow: Workflow, digest: &Value) -> bool {
    match workflow {
        Workflow::TranscriptToCrm => digest["notes_equal_transcript"] == json!(true),
        Workflow::PendingOrders => digest["answer"]["pending_count"].as_u64().is_some(),
        Workflow::WaitForDeployment => digest["answer"]["message"]
            .as_str()
            .is_some_and(|text| text.starts_with(crate::workflow::DEPLOY_DONE)),
        Workflow::ContactsToLeads => {
            digest["contacts"].as_u64().is_some()
                && digest["contacts"] == digest["contacts_imported"]
        }
        Workflow::MessageEngagedLeads => {
            digest["engaged_leads"]
                .as_u64()
                .is_some_and(|count| count > 0)
                && digest["engaged_leads"] == digest["messaged_exactly_once"]
        }
    }
}

fn records(value: &Value) -> Result<&Vec<Value>, DemoError> {
    array_field(value, "records")
}

fn array_field<'a>(value: &'a Value, field: &str) -> Result<&'a Vec<Value>, DemoError> {
    value
        .get(field)
        .and_then(Value::as_array)
        .ok_or_else(|| DemoError::Check(format!("expected `{field}` in {}", short(value))))
}

fn string_field(value: &Value, field: &str) -> Result<String, DemoError> {
    value
        .get(field)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .ok_or_else(|| DemoError::Check(format!("expected `{field}` in {}", short(value))))
}

/// A field as text: strings as they are, anything else as JSON, missing as empty.
pub(crate) fn text_of(value: Option<&Value>) -> String {
    match value {
        Some(Value::String(text)) => text.clone(),
        Some(Value::Null) | None => String::new(),
        Some(other) => other.to_string(),
    }
}

/// Hex SHA-256 of a text.
pub(crate) fn sha256(text: &str) -> String {
    Sha256::digest(text.as_bytes())
        .iter()
        .map(|byte| format!("{byte:02x}"))
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn completeness_rules() {
        assert!(complete(
            Workflow::ContactsToLeads,
            &json!({"contacts": 3, "contacts_imported": 3})
        ));
        assert!(!complete(
            Workflow::ContactsToLeads,
            &json!({"contacts": 3, "contacts_imported": 2})
        ));
        assert_eq!(sha256("").len(), 64);
        assert_eq!(text_of(Some(&json!(5))), "5");
    }
}
