//! [`JsonObject`]: a JSON object the catalog keeps as its compact text.

use std::fmt;

use serde::{Serialize, Serializer};
use serde_json::{Map, Value};

/// A JSON object held as its compact text.
///
/// The catalog keeps tool schemas this way. Parsed, a `serde_json` map costs about five times
/// its text, in many small allocations; with ten thousand tools that was most of the gateway's
/// memory. A schema is read whole only when its tool's file is generated, its search document
/// built or its validator compiled, each once per definition, so parsing it then costs little.
#[derive(Clone, PartialEq, Eq, Hash)]
pub struct JsonObject(Box<str>);

impl JsonObject {
    /// Keep `object` as text.
    pub fn new(object: Map<String, Value>) -> JsonObject {
        JsonObject(Value::Object(object).to_string().into_boxed_str())
    }

    /// The compact JSON text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The object, parsed.
    pub fn to_map(&self) -> Map<String, Value> {
        // The text was written from a map by `serde_json` (`JsonObject::new` is the only way to
        // make one), so it always reads back; an empty map is unreachable.
        serde_json::from_str(&self.0).unwrap_or_default()
    }

    /// The object as a JSON value.
    pub fn to_value(&self) -> Value {
        Value::Object(self.to_map())
    }
}

impl fmt::Debug for JsonObject {
    fn fmt(&self, formatter: &mut fmt::Formatter<'_>) -> fmt::Result {
        formatter.write_str(&self.0)
    }
}

impl Serialize for JsonObject {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        self.to_map().serialize(serializer)
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn keeps_the_object_compact_and_in_order() {
        let Value::Object(object) = json!({"type": "object", "properties": {"b": {}, "a": {}}})
        else {
            unreachable!()
        };
        let text = JsonObject::new(object.clone());
        assert_eq!(
            text.as_str(),
            r#"{"type":"object","properties":{"b":{},"a":{}}}"#
        );
        assert_eq!(text.to_map(), object);
        assert_eq!(serde_json::to_value(&text).unwrap(), Value::Object(object));
    }
}
