//! Values across the boundary: Python values (Monty's `MontyObject`) to JSON for results and
//! tool arguments, and JSON tool results to Python values.

use monty_types::{DictPairs, MontyObject};
use serde_json::{Map, Number, Value};

/// How deep a value may nest before the conversion gives up (a result nested deeper than this
/// is not data an agent meant to return).
const MAX_DEPTH: usize = 256;

/// Why a Python value has no JSON form.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ConvertError {
    /// A container refers to itself.
    #[error("it contains itself (a cycle); return a copy without the cycle")]
    Cycle,
    /// Nested deeper than [`MAX_DEPTH`].
    #[error("it is nested more than {MAX_DEPTH} levels deep")]
    TooDeep,
}

/// A Python value as JSON, with the same rules as a TypeScript result where they meet: `None` is
/// `null`, tuples, sets and lists are arrays, dict keys become strings (`str(key)`), an integer
/// beyond 64 bits is its decimal string, `NaN` and infinities are `null`, bytes are base64-free
/// text (UTF-8, invalid sequences replaced), dates and times are ISO 8601 text, a dataclass or
/// class instance is an object of its attributes, and functions and types are `null`.
pub(crate) fn to_json(value: &MontyObject) -> Result<Value, ConvertError> {
    to_json_at(value, 0)
}

fn to_json_at(value: &MontyObject, depth: usize) -> Result<Value, ConvertError> {
    if depth > MAX_DEPTH {
        return Err(ConvertError::TooDeep);
    }
    let items = |items: &[MontyObject]| -> Result<Value, ConvertError> {
        items
            .iter()
            .map(|item| to_json_at(item, depth + 1))
            .collect::<Result<Vec<_>, _>>()
            .map(Value::Array)
    };
    Ok(match value {
        MontyObject::None
        | MontyObject::Ellipsis
        | MontyObject::NotImplemented
        | MontyObject::Function { .. }
        | MontyObject::BuiltinFunction(_)
        | MontyObject::Type(_) => Value::Null,
        MontyObject::Bool(flag) => Value::Bool(*flag),
        MontyObject::Int(number) => Value::Number(Number::from(*number)),
        MontyObject::BigInt(number) => Value::String(number.to_string()),
        MontyObject::Float(number) => Number::from_f64(*number).map_or(Value::Null, Value::Number),
        MontyObject::String(text) => Value::String(text.clone()),
        MontyObject::Bytes(bytes) => Value::String(String::from_utf8_lossy(bytes).into_owned()),
        MontyObject::List(list) | MontyObject::Tuple(list) => items(list)?,
        MontyObject::Set(set) | MontyObject::FrozenSet(set) => items(set)?,
        MontyObject::NamedTuple {
            field_names,
            values,
            ..
        } => {
            let mut object = Map::new();
            for (name, item) in field_names.iter().zip(values) {
                object.insert(name.clone(), to_json_at(item, depth + 1)?);
            }
            Value::Object(object)
        }
        MontyObject::Dict(pairs) => pairs_to_json(pairs, depth)?,
        MontyObject::ClassInstance(instance) => pairs_to_json(&instance.attrs, depth)?,
        MontyObject::Exception { exc_type, arg } => Value::String(match arg {
            Some(message) => format!("{exc_type}: {message}"),
            None => exc_type.to_string(),
        }),
        MontyObject::Path(path) => Value::String(path.clone()),
        MontyObject::Cycle(..) => return Err(ConvertError::Cycle),
        MontyObject::Repr(text) => Value::String(text.clone()),
        other => Value::String(other.to_string()),
    })
}

fn pairs_to_json(pairs: &DictPairs, depth: usize) -> Result<Value, ConvertError> {
    let mut object = Map::new();
    for (key, item) in pairs.iter() {
        let key = match key {
            MontyObject::String(text) => text.clone(),
            MontyObject::None => "None".to_owned(),
            other => other.to_string(),
        };
        object.insert(key, to_json_at(item, depth + 1)?);
    }
    Ok(Value::Object(object))
}

/// A JSON value (a tool's result) as a Python value: objects are dicts, arrays lists, integers
/// `int` (beyond 64 bits: `float`), other numbers `float`.
pub(crate) fn from_json(value: &Value) -> MontyObject {
    match value {
        Value::Null => MontyObject::None,
        Value::Bool(flag) => MontyObject::Bool(*flag),
        Value::Number(number) => match number.as_i64() {
            Some(integer) => MontyObject::Int(integer),
            None => MontyObject::Float(number.as_f64().unwrap_or(f64::NAN)),
        },
        Value::String(text) => MontyObject::String(text.clone()),
        Value::Array(items) => MontyObject::List(items.iter().map(from_json).collect()),
        Value::Object(object) => MontyObject::Dict(
            object
                .iter()
                .map(|(key, item)| (MontyObject::String(key.clone()), from_json(item)))
                .collect(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn json_round_trips_and_python_values_map_like_typescript_results() {
        let value = json!({"a": [1, 2.5, null, true, "x"], "b": {"c": -3}});
        assert_eq!(to_json(&from_json(&value)).unwrap(), value);
        let tuple = MontyObject::Tuple(vec![
            MontyObject::Float(f64::NAN),
            MontyObject::Set(vec![MontyObject::Int(1)]),
        ]);
        assert_eq!(to_json(&tuple).unwrap(), json!([null, [1]]));
        let keyed = MontyObject::Dict(vec![(MontyObject::Int(1), MontyObject::None)].into());
        assert_eq!(to_json(&keyed).unwrap(), json!({"1": null}));
        assert_eq!(
            to_json(&MontyObject::Cycle(0, "[...]".into())),
            Err(ConvertError::Cycle)
        );
    }
}
