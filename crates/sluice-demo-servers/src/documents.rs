//! The Drive-like `documents` server: `listFiles`, `getDocument`, `getSheet`. Read-only.

use rmcp::model::Tool;
use serde_json::{Map, Value, json};

use crate::DemoOptions;
use crate::data;
use crate::tool::{Args, Outcome, define, list};

/// Id of the meeting transcript document.
pub const TRANSCRIPT_ID: &str = "doc-meeting-transcript";
/// Title of the meeting transcript document.
pub const TRANSCRIPT_TITLE: &str = "Q4 planning meeting \u{2014} transcript";
/// Id of the orders sheet.
pub const ORDERS_ID: &str = "sheet-orders";
/// Id of the contacts sheet.
pub const CONTACTS_ID: &str = "sheet-contacts";
/// Columns of the orders sheet.
pub const ORDERS_COLUMNS: &[&str] = &["orderId", "status", "amount", "date", "customer"];
/// Columns of the contacts sheet.
pub const CONTACTS_COLUMNS: &[&str] = &["name", "email", "phone", "company", "title"];

const DOCUMENT_MIME: &str = "application/vnd.google-apps.document";
const SHEET_MIME: &str = "application/vnd.google-apps.spreadsheet";
const FOLDERS: &[&str] = &["Meetings", "Sales"];

struct File {
    id: &'static str,
    name: &'static str,
    mime_type: &'static str,
    modified_time: &'static str,
    folder: &'static str,
}

const FILES: &[File] = &[
    File {
        id: TRANSCRIPT_ID,
        name: TRANSCRIPT_TITLE,
        mime_type: DOCUMENT_MIME,
        modified_time: "2026-10-06T18:04:51Z",
        folder: "Meetings",
    },
    File {
        id: ORDERS_ID,
        name: "Orders 2026",
        mime_type: SHEET_MIME,
        modified_time: "2026-12-31T23:12:09Z",
        folder: "Sales",
    },
    File {
        id: CONTACTS_ID,
        name: "Contacts",
        mime_type: SHEET_MIME,
        modified_time: "2026-09-22T10:41:37Z",
        folder: "Sales",
    },
];

/// The generated files, built once at start.
pub(crate) struct Documents {
    transcript: Value,
    orders: Value,
    contacts: Value,
}

impl Documents {
    pub(crate) fn new(options: &DemoOptions) -> Self {
        let transcript = json!({
            "id": TRANSCRIPT_ID,
            "title": TRANSCRIPT_TITLE,
            "content": data::transcript(options.seed, options.transcript_tokens),
        });
        let orders = sheet(
            ORDERS_ID,
            "Orders 2026",
            ORDERS_COLUMNS,
            data::orders(options.seed, options.orders)
                .iter()
                .map(serde_json::to_value),
        );
        let contacts = sheet(
            CONTACTS_ID,
            "Contacts",
            CONTACTS_COLUMNS,
            data::contacts(options.seed, options.contacts)
                .iter()
                .map(serde_json::to_value),
        );
        Self {
            transcript,
            orders,
            contacts,
        }
    }

    pub(crate) fn tools() -> Vec<Tool> {
        vec![
            define(
                "listFiles",
                "List the files in the drive with their id, name, MIME type and last modified time. \
                 Pass a folder to list only that folder.",
                json!({
                    "type": "object",
                    "properties": {
                        "folder": {
                            "type": "string",
                            "description": "Folder name: \"Meetings\" or \"Sales\". Omit to list every file."
                        }
                    },
                    "additionalProperties": false
                }),
                json!({
                    "type": "object",
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {
                                "type": "object",
                                "properties": {
                                    "id": {"type": "string", "description": "Pass to getDocument or getSheet."},
                                    "name": {"type": "string"},
                                    "mimeType": {"type": "string"},
                                    "modifiedTime": {"type": "string", "format": "date-time"}
                                },
                                "required": ["id", "name", "mimeType", "modifiedTime"]
                            }
                        }
                    },
                    "required": ["files"]
                }),
            ),
            define(
                "getDocument",
                "Get a text document by id, with its whole content.",
                json!({
                    "type": "object",
                    "properties": {
                        "documentId": {
                            "type": "string",
                            "description": "Id of the document, from listFiles (e.g. \"doc-meeting-transcript\")."
                        }
                    },
                    "required": ["documentId"],
                    "additionalProperties": false
                }),
                json!({
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "content": {"type": "string", "description": "The full text of the document."}
                    },
                    "required": ["id", "title", "content"]
                }),
            ),
            define(
                "getSheet",
                "Get a spreadsheet by id: its column names and every row, as objects keyed by column name.",
                json!({
                    "type": "object",
                    "properties": {
                        "sheetId": {
                            "type": "string",
                            "description": "Id of the spreadsheet, from listFiles (e.g. \"sheet-orders\")."
                        }
                    },
                    "required": ["sheetId"],
                    "additionalProperties": false
                }),
                json!({
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "title": {"type": "string"},
                        "columns": {"type": "array", "items": {"type": "string"}},
                        "rows": {
                            "type": "array",
                            "description": "Every row of the sheet, one object per row keyed by column name.",
                            "items": {"type": "object"}
                        }
                    },
                    "required": ["id", "title", "columns", "rows"]
                }),
            ),
        ]
    }

    pub(crate) fn call(&self, name: &str, arguments: &Map<String, Value>) -> Option<Outcome> {
        Some(match name {
            "listFiles" => self.list_files(arguments),
            "getDocument" => self.get_document(arguments),
            "getSheet" => self.get_sheet(arguments),
            _ => return None,
        })
    }

    fn list_files(&self, arguments: &Map<String, Value>) -> Outcome {
        let args = Args::new("listFiles", arguments, &["folder"])?;
        let folder = match args.optional_string("folder")? {
            None => None,
            Some(folder) => Some(
                FOLDERS
                    .iter()
                    .find(|known| known.eq_ignore_ascii_case(folder.trim_matches('/')))
                    .ok_or_else(|| {
                        format!(
                            "listFiles: there is no folder \"{folder}\"; folders are {}. Omit `folder` to list every file.",
                            quoted(FOLDERS)
                        )
                    })?,
            ),
        };
        let files: Vec<Value> = FILES
            .iter()
            .filter(|file| folder.is_none_or(|folder| file.folder == *folder))
            .map(|file| {
                json!({
                    "id": file.id,
                    "name": file.name,
                    "mimeType": file.mime_type,
                    "modifiedTime": file.modified_time,
                })
            })
            .collect();
        Ok(json!({ "files": files }))
    }

    fn get_document(&self, arguments: &Map<String, Value>) -> Outcome {
        let args = Args::new("getDocument", arguments, &["documentId"])?;
        let id = args.string("documentId")?;
        if id == TRANSCRIPT_ID {
            return Ok(self.transcript.clone());
        }
        let hint = if [ORDERS_ID, CONTACTS_ID].contains(&id) {
            format!(" \"{id}\" is a spreadsheet: read it with getSheet.")
        } else {
            String::new()
        };
        Err(format!(
            "getDocument: no document with id \"{id}\".{hint} Documents: {}.",
            quoted(&[TRANSCRIPT_ID])
        ))
    }

    fn get_sheet(&self, arguments: &Map<String, Value>) -> Outcome {
        let args = Args::new("getSheet", arguments, &["sheetId"])?;
        let id = args.string("sheetId")?;
        match id {
            ORDERS_ID => Ok(self.orders.clone()),
            CONTACTS_ID => Ok(self.contacts.clone()),
            _ => {
                let hint = if id == TRANSCRIPT_ID {
                    format!(" \"{id}\" is a document: read it with getDocument.")
                } else {
                    String::new()
                };
                Err(format!(
                    "getSheet: no spreadsheet with id \"{id}\".{hint} Spreadsheets: {}.",
                    quoted(&[ORDERS_ID, CONTACTS_ID])
                ))
            }
        }
    }
}

fn sheet(
    id: &str,
    title: &str,
    columns: &[&str],
    rows: impl Iterator<Item = serde_json::Result<Value>>,
) -> Value {
    // Rows are plain structs of strings and numbers; serializing them cannot fail.
    let rows: Vec<Value> = rows.filter_map(Result::ok).collect();
    json!({ "id": id, "title": title, "columns": columns, "rows": rows })
}

fn quoted(items: &[&str]) -> String {
    list(items.iter().map(|item| format!("\"{item}\"")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn documents() -> Documents {
        Documents::new(&DemoOptions {
            orders: 1_000,
            contacts: 100,
            transcript_tokens: 2_000,
            ..DemoOptions::default()
        })
    }

    fn call(documents: &Documents, name: &str, arguments: Value) -> Outcome {
        let Value::Object(arguments) = arguments else {
            panic!("arguments are an object")
        };
        documents
            .call(name, &arguments)
            .unwrap_or_else(|| Err(format!("no tool {name}")))
    }

    #[test]
    fn lists_files_by_folder() {
        let documents = documents();
        let all = call(&documents, "listFiles", json!({})).unwrap_or_default();
        assert_eq!(all["files"].as_array().map(Vec::len), Some(3));
        let sales = call(&documents, "listFiles", json!({"folder": "sales"})).unwrap_or_default();
        let ids: Vec<&str> = sales["files"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|file| file["id"].as_str())
            .collect();
        assert_eq!(ids, [ORDERS_ID, CONTACTS_ID]);
        let error = call(&documents, "listFiles", json!({"folder": "Nope"}))
            .err()
            .unwrap_or_default();
        assert!(error.contains("\"Meetings\" and \"Sales\""), "{error}");
    }

    #[test]
    fn documents_and_sheets_by_id() {
        let documents = documents();
        let doc = call(
            &documents,
            "getDocument",
            json!({"documentId": TRANSCRIPT_ID}),
        )
        .unwrap_or_default();
        assert_eq!(doc["title"], TRANSCRIPT_TITLE);
        assert!(
            doc["content"]
                .as_str()
                .is_some_and(|c| c.starts_with("[00:00:12] "))
        );
        let orders =
            call(&documents, "getSheet", json!({"sheetId": ORDERS_ID})).unwrap_or_default();
        assert_eq!(orders["rows"].as_array().map(Vec::len), Some(1_000));
        assert_eq!(orders["columns"], json!(ORDERS_COLUMNS));
        let first = orders["rows"][0]
            .as_object()
            .map(|row| row.keys().cloned().collect::<Vec<_>>());
        assert_eq!(
            first,
            Some(ORDERS_COLUMNS.iter().map(|c| (*c).to_owned()).collect())
        );
        let contacts =
            call(&documents, "getSheet", json!({"sheetId": CONTACTS_ID})).unwrap_or_default();
        assert_eq!(contacts["rows"].as_array().map(Vec::len), Some(100));
    }

    #[test]
    fn unknown_ids_name_the_valid_ones() {
        let documents = documents();
        let error = call(&documents, "getDocument", json!({"documentId": "doc-x"}))
            .err()
            .unwrap_or_default();
        assert!(error.contains("\"doc-meeting-transcript\""), "{error}");
        let error = call(&documents, "getDocument", json!({"documentId": ORDERS_ID}))
            .err()
            .unwrap_or_default();
        assert!(error.contains("getSheet"), "{error}");
        let error = call(&documents, "getSheet", json!({"sheetId": "x"}))
            .err()
            .unwrap_or_default();
        assert!(
            error.contains("\"sheet-orders\" and \"sheet-contacts\""),
            "{error}"
        );
        let error = call(&documents, "getSheet", json!({}))
            .err()
            .unwrap_or_default();
        assert!(error.contains("`sheetId` is required"), "{error}");
    }
}
