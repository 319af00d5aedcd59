//! The Salesforce-like `crm` server: `query`, `updateRecord`, `createRecord`, state in memory.

use std::cmp::Ordering;
use std::sync::{Mutex, PoisonError};

use rmcp::model::Tool;
use serde_json::{Map, Value, json};

use crate::DemoOptions;
use crate::data::{self, LEAD_ID_PREFIX, LEAD_STATUSES};
use crate::tool::{Args, Outcome, define, kind, list};

/// Id of the one `SalesMeeting` record.
pub const SALES_MEETING_ID: &str = "a0M000000000001";
/// Subject of the `SalesMeeting` record.
pub const SALES_MEETING_SUBJECT: &str = "Q4 planning meeting";

/// A field of a built-in object type.
#[derive(Clone, Copy)]
enum FieldKind {
    /// A string (or null).
    Text,
    /// An integer 0-100 (or null).
    Score,
}

const LEAD_FIELDS: &[(&str, FieldKind)] = &[
    ("Name", FieldKind::Text),
    ("Email", FieldKind::Text),
    ("Phone", FieldKind::Text),
    ("Company", FieldKind::Text),
    ("Title", FieldKind::Text),
    ("EngagementScore", FieldKind::Score),
    ("Status", FieldKind::Text),
    ("Source", FieldKind::Text),
];

const SALES_MEETING_FIELDS: &[(&str, FieldKind)] =
    &[("Subject", FieldKind::Text), ("Notes", FieldKind::Text)];

/// Key prefixes of Salesforce's standard objects, for types created on the fly.
const STANDARD_PREFIXES: &[(&str, &str)] = &[
    ("Account", "001"),
    ("Note", "002"),
    ("Contact", "003"),
    ("Opportunity", "006"),
    ("Task", "00T"),
    ("Event", "00U"),
    ("Case", "500"),
    ("Campaign", "701"),
];

struct ObjectType {
    name: String,
    /// Id = `id_prefix` + 5 base-36 digits of `next_counter`.
    id_prefix: String,
    next_counter: u64,
    /// Fixed fields of the built-in types; `None` for types created by `createRecord`.
    fields: Option<&'static [(&'static str, FieldKind)]>,
    /// Required on create.
    required: &'static [&'static str],
    records: Vec<Map<String, Value>>,
}

impl ObjectType {
    /// The fields a query may name: `Id` and the fixed fields, or every field any record has.
    fn field_names(&self) -> Vec<String> {
        let mut names = vec!["Id".to_owned()];
        match self.fields {
            Some(fields) => names.extend(fields.iter().map(|(name, _)| (*name).to_owned())),
            None => {
                for record in &self.records {
                    for key in record.keys() {
                        if !names.contains(key) {
                            names.push(key.clone());
                        }
                    }
                }
            }
        }
        names
    }

    fn check_field(&self, tool: &str, field: &str) -> Result<(), String> {
        if self.field_names().iter().any(|name| name == field) {
            Ok(())
        } else {
            Err(format!(
                "{tool}: {} has no field `{field}`; its fields are {}.",
                self.name,
                list(
                    self.field_names()
                        .into_iter()
                        .map(|name| format!("`{name}`"))
                )
            ))
        }
    }

    /// Check `data` for a create or an update: known fields with the right types, no `Id`.
    fn check_data(&self, tool: &str, data: &Map<String, Value>) -> Result<(), String> {
        if data.contains_key("Id") {
            return Err(format!(
                "{tool}: `Id` is assigned by the CRM and cannot be set in `data`."
            ));
        }
        let Some(fields) = self.fields else {
            return Ok(());
        };
        for (field, value) in data {
            let Some((_, field_kind)) = fields.iter().find(|(name, _)| name == field) else {
                return Err(format!(
                    "{tool}: {} has no field `{field}`; its fields are {}.",
                    self.name,
                    list(fields.iter().map(|(name, _)| format!("`{name}`")))
                ));
            };
            let valid = match field_kind {
                FieldKind::Text => value.is_string() || value.is_null(),
                FieldKind::Score => {
                    value.is_null() || value.as_u64().is_some_and(|score| score <= 100)
                }
            };
            if !valid {
                let expected = match field_kind {
                    FieldKind::Text => "a string",
                    FieldKind::Score => "an integer from 0 to 100",
                };
                return Err(format!(
                    "{tool}: `{field}` of {} must be {expected}, got {value}.",
                    self.name
                ));
            }
        }
        Ok(())
    }

    fn new_id(&mut self) -> String {
        let id = data::salesforce_id(&self.id_prefix, self.next_counter);
        self.next_counter += 1;
        id
    }
}

struct CrmState {
    types: Vec<ObjectType>,
}

impl CrmState {
    fn find(&self, name: &str) -> Option<usize> {
        self.types
            .iter()
            .position(|object| object.name.eq_ignore_ascii_case(name))
    }

    fn unknown_type(&self, tool: &str, name: &str) -> String {
        format!(
            "{tool}: unknown objectType \"{name}\"; object types are {}. createRecord creates a new type.",
            list(
                self.types
                    .iter()
                    .map(|object| format!("\"{}\"", object.name))
            )
        )
    }

    fn custom_prefix(&self, name: &str) -> String {
        if let Some((_, prefix)) = STANDARD_PREFIXES
            .iter()
            .find(|(standard, _)| *standard == name)
        {
            return format!("{prefix}5f00000");
        }
        // Custom objects: a0A, a0B, ... (a0M is SalesMeeting).
        let custom = self
            .types
            .iter()
            .filter(|object| object.id_prefix.starts_with("a0") && object.fields.is_none())
            .count();
        let letters = b"ABCDEFGHIJKLNOPQRSTUVWXYZ";
        let letter = letters.get(custom % letters.len()).copied().unwrap_or(b'Z') as char;
        format!("a0{letter}5f00000")
    }
}

/// The CRM and its records.
pub(crate) struct Crm {
    state: Mutex<CrmState>,
}

impl Crm {
    pub(crate) fn new(options: &DemoOptions) -> Self {
        let leads: Vec<Map<String, Value>> = data::leads(options.seed, options.leads)
            .iter()
            .filter_map(|lead| match serde_json::to_value(lead) {
                Ok(Value::Object(record)) => Some(record),
                _ => None,
            })
            .collect();
        let mut meeting = Map::new();
        meeting.insert("Id".to_owned(), json!(SALES_MEETING_ID));
        meeting.insert("Subject".to_owned(), json!(SALES_MEETING_SUBJECT));
        meeting.insert("Notes".to_owned(), json!(""));
        let state = CrmState {
            types: vec![
                ObjectType {
                    name: "Lead".to_owned(),
                    id_prefix: LEAD_ID_PREFIX.to_owned(),
                    next_counter: data::first_lead_counter(options.seed) + options.leads as u64,
                    fields: Some(LEAD_FIELDS),
                    required: &["Name"],
                    records: leads,
                },
                ObjectType {
                    name: "SalesMeeting".to_owned(),
                    id_prefix: "a0M0000000".to_owned(),
                    next_counter: 2,
                    fields: Some(SALES_MEETING_FIELDS),
                    required: &[],
                    records: vec![meeting],
                },
            ],
        };
        Self {
            state: Mutex::new(state),
        }
    }

    pub(crate) fn tools() -> Vec<Tool> {
        let value_types = json!(["string", "number", "boolean", "null"]);
        vec![
            define(
                "query",
                "Query CRM records of one object type (Lead, SalesMeeting, or a type created with createRecord). \
                 Lead fields: Id, Name, Email, Phone, Company, Title, EngagementScore (0-100), Status, Source. \
                 SalesMeeting fields: Id, Subject, Notes.",
                json!({
                    "type": "object",
                    "properties": {
                        "objectType": {"type": "string", "description": "The object type, e.g. \"Lead\"."},
                        "where": {
                            "type": "object",
                            "description": "Conditions that must all hold, by field name: a value (equal to it) or an operator object, e.g. {\"EngagementScore\": {\"gte\": 90}, \"Status\": \"Working - Contacted\"}. gte/lte compare numbers, or strings such as dates; contains matches part of a string, ignoring case.",
                            "additionalProperties": {
                                "anyOf": [
                                    {"type": value_types.clone()},
                                    {
                                        "type": "object",
                                        "properties": {
                                            "gte": {"type": ["number", "string"], "description": "At least this value."},
                                            "lte": {"type": ["number", "string"], "description": "At most this value."},
                                            "eq": {"type": value_types, "description": "Exactly this value."},
                                            "contains": {"type": "string", "description": "Contains this text, ignoring case."}
                                        },
                                        "additionalProperties": false
                                    }
                                ]
                            }
                        },
                        "fields": {
                            "type": "array",
                            "items": {"type": "string"},
                            "description": "Fields to return (Id is always included). Default: every field."
                        },
                        "limit": {
                            "type": "integer",
                            "minimum": 0,
                            "description": "Return at most this many records. Default: all matches."
                        }
                    },
                    "required": ["objectType"],
                    "additionalProperties": false
                }),
                json!({
                    "type": "object",
                    "properties": {
                        "records": {"type": "array", "items": {"type": "object"}, "description": "Matching records, at most `limit`."},
                        "totalSize": {"type": "integer", "description": "How many records match, regardless of `limit`."}
                    },
                    "required": ["records", "totalSize"]
                }),
            ),
            define(
                "updateRecord",
                "Update fields of one CRM record. Fields not in `data` keep their values.",
                json!({
                    "type": "object",
                    "properties": {
                        "objectType": {"type": "string", "description": "The record's object type, e.g. \"SalesMeeting\"."},
                        "recordId": {"type": "string", "description": "The record's Id."},
                        "data": {"type": "object", "description": "Field names and their new values."}
                    },
                    "required": ["objectType", "recordId", "data"],
                    "additionalProperties": false
                }),
                write_output(),
            ),
            define(
                "createRecord",
                "Create a CRM record and return its new Id. A new object type is created on its first record. \
                 A Lead needs at least a Name.",
                json!({
                    "type": "object",
                    "properties": {
                        "objectType": {"type": "string", "description": "The object type, e.g. \"Lead\"."},
                        "data": {"type": "object", "description": "Field names and values, e.g. {\"Name\": \"Ada Lovelace\", \"Company\": \"Analytical Engines\"}."}
                    },
                    "required": ["objectType", "data"],
                    "additionalProperties": false
                }),
                write_output(),
            ),
        ]
    }

    pub(crate) fn call(&self, name: &str, arguments: &Map<String, Value>) -> Option<Outcome> {
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        Some(match name {
            "query" => query(&state, arguments),
            "updateRecord" => update_record(&mut state, arguments),
            "createRecord" => create_record(&mut state, arguments),
            _ => return None,
        })
    }
}

fn write_output() -> Value {
    json!({
        "type": "object",
        "properties": {
            "id": {"type": "string", "description": "The record's Id."},
            "success": {"type": "boolean", "const": true}
        },
        "required": ["id", "success"]
    })
}

/// One condition on a field.
enum Condition {
    Eq(Value),
    Gte(Value),
    Lte(Value),
    Contains(String),
}

impl Condition {
    fn holds(&self, value: Option<&Value>) -> bool {
        let value = value.unwrap_or(&Value::Null);
        match self {
            Self::Eq(expected) => equal(value, expected),
            Self::Gte(bound) => compare(value, bound).is_some_and(Ordering::is_ge),
            Self::Lte(bound) => compare(value, bound).is_some_and(Ordering::is_le),
            Self::Contains(part) => value
                .as_str()
                .is_some_and(|text| text.to_lowercase().contains(&part.to_lowercase())),
        }
    }
}

fn equal(value: &Value, expected: &Value) -> bool {
    match (value.as_f64(), expected.as_f64()) {
        (Some(a), Some(b)) => a == b,
        _ => value == expected,
    }
}

fn compare(value: &Value, bound: &Value) -> Option<Ordering> {
    match (value, bound) {
        (Value::Number(a), Value::Number(b)) => a.as_f64()?.partial_cmp(&b.as_f64()?),
        (Value::String(a), Value::String(b)) => Some(a.as_str().cmp(b.as_str())),
        _ => None,
    }
}

/// Parse `where` into conditions per field, naming what is wrong.
fn conditions(
    object: &ObjectType,
    filter: &Map<String, Value>,
) -> Result<Vec<(String, Vec<Condition>)>, String> {
    let mut parsed = Vec::with_capacity(filter.len());
    for (field, condition) in filter {
        object.check_field("query", field)?;
        let conditions = match condition {
            Value::Object(operators) => {
                if operators.is_empty() {
                    return Err(format!(
                        "query: the condition on `{field}` is an empty object; use a value, or gte, lte, eq or contains."
                    ));
                }
                let mut conditions = Vec::with_capacity(operators.len());
                for (operator, operand) in operators {
                    let bound = || -> Result<Value, String> {
                        match operand {
                            Value::Number(_) | Value::String(_) => Ok(operand.clone()),
                            other => Err(format!(
                                "query: `{operator}` on `{field}` needs a number or a string, got {}.",
                                kind(other)
                            )),
                        }
                    };
                    conditions.push(match operator.as_str() {
                        "eq" => Condition::Eq(operand.clone()),
                        "gte" => Condition::Gte(bound()?),
                        "lte" => Condition::Lte(bound()?),
                        "contains" => match operand {
                            Value::String(part) => Condition::Contains(part.clone()),
                            other => {
                                return Err(format!(
                                    "query: `contains` on `{field}` needs a string, got {}.",
                                    kind(other)
                                ));
                            }
                        },
                        other => {
                            return Err(format!(
                                "query: unknown operator `{other}` on `{field}`; operators are gte, lte, eq and contains."
                            ));
                        }
                    });
                }
                conditions
            }
            Value::Array(_) => {
                return Err(format!(
                    "query: the condition on `{field}` is an array; use a value or an operator object such as {{\"gte\": 90}}."
                ));
            }
            value => vec![Condition::Eq(value.clone())],
        };
        parsed.push((field.clone(), conditions));
    }
    Ok(parsed)
}

fn query(state: &CrmState, arguments: &Map<String, Value>) -> Outcome {
    let args = Args::new(
        "query",
        arguments,
        &["objectType", "where", "fields", "limit"],
    )?;
    let type_name = args.string("objectType")?;
    let object = state
        .find(type_name)
        .and_then(|index| state.types.get(index))
        .ok_or_else(|| state.unknown_type("query", type_name))?;
    let filter = match args.optional_object("where")? {
        Some(filter) => conditions(object, filter)?,
        None => Vec::new(),
    };
    let fields = args.optional_strings("fields")?;
    if let Some(fields) = &fields {
        for field in fields {
            object.check_field("query", field)?;
        }
    }
    let limit = args.optional_count("limit", 0)?.unwrap_or(usize::MAX);
    let matching = object.records.iter().filter(|record| {
        filter.iter().all(|(field, conditions)| {
            conditions
                .iter()
                .all(|condition| condition.holds(record.get(field)))
        })
    });
    let mut total = 0usize;
    let mut records = Vec::new();
    for record in matching {
        total += 1;
        if records.len() < limit {
            records.push(project(record, fields.as_deref()));
        }
    }
    Ok(json!({ "records": records, "totalSize": total }))
}

/// The record with only `fields` (and always `Id`), in the order asked.
fn project(record: &Map<String, Value>, fields: Option<&[&str]>) -> Value {
    let Some(fields) = fields else {
        return Value::Object(record.clone());
    };
    let mut projected = Map::new();
    projected.insert(
        "Id".to_owned(),
        record.get("Id").cloned().unwrap_or(Value::Null),
    );
    for field in fields {
        projected.insert(
            (*field).to_owned(),
            record.get(*field).cloned().unwrap_or(Value::Null),
        );
    }
    Value::Object(projected)
}

fn update_record(state: &mut CrmState, arguments: &Map<String, Value>) -> Outcome {
    let args = Args::new(
        "updateRecord",
        arguments,
        &["objectType", "recordId", "data"],
    )?;
    let type_name = args.string("objectType")?;
    let record_id = args.string("recordId")?;
    let data = args.object("data")?;
    let index = state
        .find(type_name)
        .ok_or_else(|| state.unknown_type("updateRecord", type_name))?;
    let elsewhere = state
        .types
        .iter()
        .find(|object| {
            object
                .records
                .iter()
                .any(|record| record.get("Id").and_then(Value::as_str) == Some(record_id))
        })
        .map(|object| object.name.clone());
    let Some(object) = state.types.get_mut(index) else {
        return Err(state.unknown_type("updateRecord", type_name));
    };
    object.check_data("updateRecord", data)?;
    let name = object.name.clone();
    let Some(record) = object
        .records
        .iter_mut()
        .find(|record| record.get("Id").and_then(Value::as_str) == Some(record_id))
    else {
        return Err(match elsewhere {
            Some(other) => format!(
                "updateRecord: \"{record_id}\" is a {other} record, not a {name}; pass objectType \"{other}\"."
            ),
            None => format!(
                "updateRecord: there is no {name} record with Id \"{record_id}\"; query {name} to find its Id."
            ),
        });
    };
    for (field, value) in data {
        record.insert(field.clone(), value.clone());
    }
    Ok(json!({ "id": record_id, "success": true }))
}

fn create_record(state: &mut CrmState, arguments: &Map<String, Value>) -> Outcome {
    let args = Args::new("createRecord", arguments, &["objectType", "data"])?;
    let type_name = args.string("objectType")?;
    let data = args.object("data")?;
    let index = match state.find(type_name) {
        Some(index) => index,
        None => {
            let valid = type_name
                .chars()
                .next()
                .is_some_and(|first| first.is_ascii_alphabetic())
                && type_name
                    .chars()
                    .all(|c| c.is_ascii_alphanumeric() || c == '_');
            if !valid {
                return Err(format!(
                    "createRecord: \"{type_name}\" is not a valid object type name; use letters, digits and underscores, starting with a letter (e.g. \"Opportunity\")."
                ));
            }
            let id_prefix = state.custom_prefix(type_name);
            state.types.push(ObjectType {
                name: type_name.to_owned(),
                id_prefix,
                next_counter: 1,
                fields: None,
                required: &[],
                records: Vec::new(),
            });
            state.types.len() - 1
        }
    };
    let Some(object) = state.types.get_mut(index) else {
        return Err(state.unknown_type("createRecord", type_name));
    };
    object.check_data("createRecord", data)?;
    for required in object.required {
        if data.get(*required).is_none_or(Value::is_null) {
            return Err(format!(
                "createRecord: a {} needs `{required}`.",
                object.name
            ));
        }
    }
    let id = object.new_id();
    let mut record = Map::new();
    record.insert("Id".to_owned(), json!(id));
    match object.fields {
        Some(fields) => {
            for (field, _) in fields {
                let value = data.get(*field).cloned().unwrap_or(Value::Null);
                let value = if *field == "Status" && object.name == "Lead" && value.is_null() {
                    json!(LEAD_STATUSES[0])
                } else {
                    value
                };
                record.insert((*field).to_owned(), value);
            }
        }
        None => record.extend(data.iter().map(|(key, value)| (key.clone(), value.clone()))),
    }
    object.records.push(record);
    Ok(json!({ "id": id, "success": true }))
}

#[cfg(test)]
#[path = "crm_tests.rs"]
mod tests;
