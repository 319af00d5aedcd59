//! Helpers shared by the three servers: tool definitions, argument reading, results.

use std::sync::Arc;

use rmcp::model::{CallToolResult, ContentBlock, Tool};
use serde_json::{Map, Value};

/// What a tool call produced: the structured value, or a sentence for the model.
pub(crate) type Outcome = Result<Value, String>;

/// A tool with its input and output JSON Schemas (both object literals).
pub(crate) fn define(
    name: &'static str,
    description: &'static str,
    input: Value,
    output: Value,
) -> Tool {
    Tool::new(name, description, Arc::new(object(input)))
        .with_raw_output_schema(Arc::new(object(output)))
}

fn object(value: Value) -> Map<String, Value> {
    match value {
        Value::Object(object) => object,
        _ => Map::new(),
    }
}

/// The result a client sees: `structuredContent` and the same JSON as a text block; or
/// `isError: true` with the message.
pub(crate) fn result(outcome: Outcome) -> CallToolResult {
    match outcome {
        // `structured` puts `value.to_string()` (= `serde_json::to_string`) in a text block.
        Ok(value) => CallToolResult::structured(value),
        Err(message) => CallToolResult::error(vec![ContentBlock::text(message)]),
    }
}

/// The arguments of one call, checked against the names the tool accepts.
pub(crate) struct Args<'a> {
    tool: &'static str,
    map: &'a Map<String, Value>,
}

impl<'a> Args<'a> {
    /// Reject arguments the tool does not take, naming the ones it does.
    pub(crate) fn new(
        tool: &'static str,
        map: &'a Map<String, Value>,
        accepted: &[&str],
    ) -> Result<Self, String> {
        if let Some(unknown) = map.keys().find(|key| !accepted.contains(&key.as_str())) {
            return Err(format!(
                "{tool}: unknown argument `{unknown}`; it takes {}.",
                list(accepted.iter().map(|name| format!("`{name}`")))
            ));
        }
        Ok(Self { tool, map })
    }

    fn present(&self, field: &str) -> Option<&'a Value> {
        self.map.get(field).filter(|value| !value.is_null())
    }

    pub(crate) fn optional_string(&self, field: &str) -> Result<Option<&'a str>, String> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::String(text)) => Ok(Some(text)),
            Some(other) => Err(format!(
                "{}: `{field}` must be a string, got {}.",
                self.tool,
                kind(other)
            )),
        }
    }

    pub(crate) fn string(&self, field: &str) -> Result<&'a str, String> {
        self.optional_string(field)?
            .ok_or_else(|| format!("{}: `{field}` is required (a string).", self.tool))
    }

    /// A non-negative integer of at least `minimum`.
    pub(crate) fn optional_count(
        &self,
        field: &str,
        minimum: u64,
    ) -> Result<Option<usize>, String> {
        match self.present(field) {
            None => Ok(None),
            Some(value) => value
                .as_u64()
                .filter(|count| *count >= minimum)
                .map(|count| Some(usize::try_from(count).unwrap_or(usize::MAX)))
                .ok_or_else(|| {
                    format!(
                        "{}: `{field}` must be an integer of at least {minimum}, got {value}.",
                        self.tool
                    )
                }),
        }
    }

    pub(crate) fn optional_object(
        &self,
        field: &str,
    ) -> Result<Option<&'a Map<String, Value>>, String> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Object(object)) => Ok(Some(object)),
            Some(other) => Err(format!(
                "{}: `{field}` must be an object, got {}.",
                self.tool,
                kind(other)
            )),
        }
    }

    pub(crate) fn object(&self, field: &str) -> Result<&'a Map<String, Value>, String> {
        self.optional_object(field)?
            .ok_or_else(|| format!("{}: `{field}` is required (an object).", self.tool))
    }

    pub(crate) fn optional_strings(&self, field: &str) -> Result<Option<Vec<&'a str>>, String> {
        match self.present(field) {
            None => Ok(None),
            Some(Value::Array(items)) => items
                .iter()
                .map(|item| {
                    item.as_str().ok_or_else(|| {
                        format!(
                            "{}: `{field}` must be an array of strings, got an item that is {}.",
                            self.tool,
                            kind(item)
                        )
                    })
                })
                .collect::<Result<Vec<_>, _>>()
                .map(Some),
            Some(other) => Err(format!(
                "{}: `{field}` must be an array of strings, got {}.",
                self.tool,
                kind(other)
            )),
        }
    }
}

/// "a string", "a number", ... for error messages.
pub(crate) fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `a, b and c`.
pub(crate) fn list(items: impl IntoIterator<Item = String>) -> String {
    let items: Vec<String> = items.into_iter().collect();
    match items.as_slice() {
        [] => "nothing".to_owned(),
        [one] => one.clone(),
        [rest @ .., last] => format!("{} and {last}", rest.join(", ")),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn map(value: Value) -> Map<String, Value> {
        object(value)
    }

    #[test]
    fn unknown_arguments_are_named() {
        let arguments = map(json!({"folder": "x", "path": "y"}));
        let error = Args::new("listFiles", &arguments, &["folder"])
            .err()
            .unwrap_or_default();
        assert_eq!(
            error,
            "listFiles: unknown argument `path`; it takes `folder`."
        );
    }

    #[test]
    fn typed_readers() {
        let arguments =
            map(json!({"a": "x", "n": 3, "z": -1, "o": {}, "l": ["p", "q"], "bad": [1]}));
        let args = Args::new("t", &arguments, &["a", "n", "z", "o", "l", "bad"]).ok();
        let Some(args) = args else {
            panic!("arguments rejected")
        };
        assert_eq!(args.string("a"), Ok("x"));
        assert!(args.string("missing").is_err());
        assert!(args.string("n").is_err());
        assert_eq!(args.optional_count("n", 1), Ok(Some(3)));
        assert!(args.optional_count("z", 0).is_err());
        assert!(args.optional_object("o").is_ok_and(|o| o.is_some()));
        assert_eq!(args.optional_strings("l"), Ok(Some(vec!["p", "q"])));
        assert!(args.optional_strings("bad").is_err());
    }

    #[test]
    fn lists_read_naturally() {
        assert_eq!(list(["a".to_owned()]), "a");
        assert_eq!(
            list(["a".to_owned(), "b".to_owned(), "c".to_owned()]),
            "a, b and c"
        );
    }

    #[test]
    fn results_carry_structured_and_text() {
        let value = json!({"a": [1, 2], "b": "é"});
        let result = result(Ok(value.clone()));
        assert_eq!(result.structured_content.as_ref(), Some(&value));
        let text = result
            .content
            .first()
            .and_then(|block| block.as_text())
            .map(|text| text.text.clone());
        assert_eq!(text, serde_json::to_string(&value).ok());
        assert_eq!(result.is_error, Some(false));
    }
}
