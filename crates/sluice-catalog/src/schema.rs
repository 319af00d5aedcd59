//! Repair of tool input schemas as real servers send them.
//!
//! MCP requires `inputSchema` to be a JSON Schema object with `"type": "object"`. Some servers send
//! none, send one without `type`, or send `properties` with no `type`. The TypeScript SDK client
//! then rejects the whole server; Sluice instead repairs what it can (assume an object), keeps the
//! tool and records a warning.

use serde_json::{Map, Value};

/// Return a usable object schema for a tool's `inputSchema`, pushing a warning for each repair.
///
/// Preconditions: none; any JSON value (or none) is accepted.
/// Postcondition: the result has `"type": "object"`.
pub fn repair_input_schema(
    schema: Option<Value>,
    warnings: &mut Vec<String>,
) -> Map<String, Value> {
    let mut schema = match schema {
        Some(Value::Object(schema)) => schema,
        None | Some(Value::Null) => {
            warnings
                .push("`inputSchema` is missing; assumed an object with any properties".to_owned());
            return object_schema();
        }
        Some(other) => {
            warnings.push(format!(
                "`inputSchema` is a {} instead of an object; assumed an object with any properties",
                json_type_name(&other)
            ));
            return object_schema();
        }
    };
    match schema.get("type") {
        Some(Value::String(kind)) if kind == "object" => {}
        None => {
            warnings.push("`inputSchema` has no `type`; assumed \"object\"".to_owned());
            schema.insert("type".to_owned(), Value::String("object".to_owned()));
        }
        Some(other) => {
            warnings.push(format!(
                "`inputSchema` has `type` {other} instead of \"object\"; replaced with \"object\""
            ));
            schema.insert("type".to_owned(), Value::String("object".to_owned()));
        }
    }
    if let Some(properties) = schema.get("properties")
        && !properties.is_object()
    {
        warnings.push("`inputSchema.properties` is not an object; dropped".to_owned());
        schema.remove("properties");
    }
    if let Some(required) = schema.get("required") {
        let valid = required
            .as_array()
            .is_some_and(|items| items.iter().all(Value::is_string));
        if !valid {
            warnings.push("`inputSchema.required` is not a list of names; dropped".to_owned());
            schema.remove("required");
        }
    }
    schema
}

/// The top-level properties `schema` requires but gives a `default` (real servers do this, e.g.
/// a screenshot's `scale`): taken out of `required`, with their defaults returned. The code may
/// leave them out; the gateway fills the defaults in.
pub fn take_required_defaults(schema: &mut Map<String, Value>) -> Map<String, Value> {
    let mut defaults = Map::new();
    let Some(properties) = schema.get("properties").and_then(Value::as_object) else {
        return defaults;
    };
    let Some(required) = schema.get("required").and_then(Value::as_array) else {
        return defaults;
    };
    for name in required.iter().filter_map(Value::as_str) {
        if let Some(default) = properties
            .get(name)
            .and_then(|property| property.get("default"))
        {
            defaults.insert(name.to_owned(), default.clone());
        }
    }
    if !defaults.is_empty()
        && let Some(Value::Array(required)) = schema.get_mut("required")
    {
        required.retain(|name| {
            name.as_str()
                .is_none_or(|name| !defaults.contains_key(name))
        });
    }
    defaults
}

fn object_schema() -> Map<String, Value> {
    let mut schema = Map::new();
    schema.insert("type".to_owned(), Value::String("object".to_owned()));
    schema
}

/// The JSON type of a value, as JSON Schema names it.
pub fn json_type_name(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(number) if number.is_i64() || number.is_u64() => "integer",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn repairs_missing_type() {
        let mut warnings = Vec::new();
        let schema = repair_input_schema(Some(json!({"properties": {"a": {}}})), &mut warnings);
        assert_eq!(schema["type"], "object");
        assert_eq!(warnings.len(), 1);
    }

    #[test]
    fn repairs_missing_and_wrong_schemas() {
        let mut warnings = Vec::new();
        assert_eq!(repair_input_schema(None, &mut warnings)["type"], "object");
        assert_eq!(
            repair_input_schema(Some(json!("x")), &mut warnings)["type"],
            "object"
        );
        let schema = repair_input_schema(
            Some(json!({"type": "array", "properties": 3, "required": [1]})),
            &mut warnings,
        );
        assert_eq!(
            schema,
            json!({"type": "object"}).as_object().unwrap().clone()
        );
        // missing (1) + not an object (1) + wrong type, properties and required (3)
        assert_eq!(warnings.len(), 5);
    }

    #[test]
    fn keeps_good_schema_untouched() {
        let mut warnings = Vec::new();
        let good =
            json!({"type": "object", "properties": {"a": {"type": "string"}}, "required": ["a"]});
        let schema = repair_input_schema(Some(good.clone()), &mut warnings);
        assert_eq!(Value::Object(schema), good);
        assert!(warnings.is_empty());
    }

    #[test]
    fn required_properties_with_a_default_become_optional_with_their_default() {
        let mut schema = json!({"type": "object",
            "properties": {"scale": {"type": "string", "default": "css"}, "path": {"type": "string"},
                           "quality": {"type": "integer", "default": 80}},
            "required": ["path", "scale"]})
        .as_object()
        .unwrap()
        .clone();
        let defaults = take_required_defaults(&mut schema);
        assert_eq!(Value::Object(defaults), json!({"scale": "css"}));
        assert_eq!(schema["required"], json!(["path"]));
        let mut plain = json!({"type": "object", "required": ["a"]})
            .as_object()
            .unwrap()
            .clone();
        assert!(take_required_defaults(&mut plain).is_empty());
        assert_eq!(plain["required"], json!(["a"]));
    }
}
