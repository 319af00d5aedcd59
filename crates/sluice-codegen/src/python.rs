//! Python names of tools: `snake_case`, never a Python keyword, unique per server, stable.
//!
//! A tool's Python name is derived from its TypeScript identifier (itself deterministic and unique
//! per server, see `sluice_catalog`): words split where case changes (`getURLInfo` is
//! `get_url_info`), lowercased and joined with `_`; a keyword gets a trailing `_` (`import_`).
//! Two identifiers of one server that give the same name (`getUrl` and `getURL`) are told apart
//! in the order of their identifiers: the first keeps it, the next gets `_2`, and so on. So the
//! names depend only on the server's tool list, not on the order it arrived in.

use std::collections::{BTreeMap, BTreeSet};

use serde_json::{Map, Value};
use sluice_catalog::CatalogTool;

/// Python's keywords (soft keywords such as `match` are fine as names).
const KEYWORDS: [&str; 35] = [
    "False", "None", "True", "and", "as", "assert", "async", "await", "break", "class", "continue",
    "def", "del", "elif", "else", "except", "finally", "for", "from", "global", "if", "import",
    "in", "is", "lambda", "nonlocal", "not", "or", "pass", "raise", "return", "try", "while",
    "with", "yield",
];

/// The Python module name of a server: `from servers.<module> import ...`. A server's config key
/// with characters a Python name cannot hold has them replaced by `_` (`github-enterprise` is
/// `github_enterprise`); a key starting with a digit gets a leading `_`, a keyword a trailing one.
pub fn module_name(server: &str) -> String {
    let mut name: String = server
        .chars()
        .map(|character| {
            if character.is_ascii_alphanumeric() || character == '_' {
                character
            } else {
                '_'
            }
        })
        .collect();
    if name.is_empty() || name.starts_with(|first: char| first.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// The snake_case form of one TypeScript identifier, before making it unique.
pub fn snake_case(identifier: &str) -> String {
    let characters: Vec<char> = identifier.trim_end_matches('_').chars().collect();
    let mut name = String::with_capacity(characters.len() + 4);
    for (index, &character) in characters.iter().enumerate() {
        if character.is_ascii_uppercase() {
            let previous = index.checked_sub(1).map(|before| characters[before]);
            let next = characters.get(index + 1);
            let starts_word = match previous {
                None => false,
                Some(previous) if previous.is_ascii_lowercase() || previous.is_ascii_digit() => {
                    true
                }
                Some(previous) if previous.is_ascii_uppercase() => {
                    next.is_some_and(|next| next.is_ascii_lowercase())
                }
                Some(_) => false,
            };
            if starts_word && !name.ends_with('_') {
                name.push('_');
            }
            name.push(character.to_ascii_lowercase());
        } else if character == '$' {
            name.push('_');
        } else {
            name.push(character);
        }
    }
    if name.is_empty() || name.starts_with(|first: char| first.is_ascii_digit()) {
        name.insert(0, '_');
    }
    if KEYWORDS.contains(&name.as_str()) {
        name.push('_');
    }
    name
}

/// The Python name of each identifier of one server, by identifier.
pub fn python_names<'a>(
    identifiers: impl IntoIterator<Item = &'a str>,
) -> BTreeMap<String, String> {
    let sorted: BTreeSet<&str> = identifiers.into_iter().collect();
    let mut taken = BTreeSet::new();
    let mut names = BTreeMap::new();
    for identifier in sorted {
        let base = snake_case(identifier);
        let mut name = base.clone();
        let mut counter = 2;
        while !taken.insert(name.clone()) {
            name = format!("{base}_{counter}");
            counter += 1;
        }
        names.insert(identifier.to_owned(), name);
    }
    names
}

/// The Python name of one tool among its server's tools (the same as [`python_names`] gives it).
pub fn python_name<'a>(identifiers: impl IntoIterator<Item = &'a str>, identifier: &str) -> String {
    let base = snake_case(identifier);
    let mut same: Vec<&str> = identifiers
        .into_iter()
        .filter(|other| snake_case(other) == base)
        .collect();
    if same.len() <= 1 {
        return base;
    }
    same.sort_unstable();
    same.dedup();
    python_names(same).remove(identifier).unwrap_or(base)
}

/// How deep a schema is turned into types before the rest is `Any`.
const MAX_TYPE_DEPTH: usize = 8;

/// `servers/<server>/<python name>.py`: the tool's input (and output) as `TypedDict`s, with
/// the descriptions as docstrings, and its async function's signature, for reading. The worker
/// never runs this file: `from servers.<module> import <name>` binds the tool itself.
pub fn python_tool_file(tool: &CatalogTool, python_name: &str) -> String {
    let class = pascal_case(python_name);
    let mut classes = Vec::new();
    let input = with_references_inlined(tool.input_schema.to_map());
    let input_name = format!("{class}Input");
    typed_dict(&input_name, &input, &mut classes, 0);
    let output_type = match &tool.output_schema {
        Some(schema) => {
            let name = format!("{class}Output");
            typed_dict(
                &name,
                &with_references_inlined(schema.to_map()),
                &mut classes,
                0,
            );
            name
        }
        None => "Any".to_owned(),
    };
    let mut file = format!(
        "{}\nfrom typing import Any, Literal, NotRequired, TypedDict, Unpack\n\n",
        docstring(
            &format!(
                "Tool {} of the MCP server {} ({} in TypeScript).\n\nUse: from servers.{} import {python_name}",
                tool.name,
                tool.server,
                tool.identifier,
                module_name(&tool.server)
            ),
            ""
        )
    );
    for declaration in classes {
        file.push_str(&declaration);
        file.push('\n');
    }
    file.push_str(&format!(
        "async def {python_name}(**input: Unpack[{input_name}]) -> {output_type}:\n{}    ...\n",
        docstring(&function_doc(tool), "    ")
    ));
    file
}

/// The Python signature of one tool, as `search_tools` shows it with `language: "python"` and
/// `detail: "full"`: the import, the `TypedDict`s of nested inputs and of the output (with their
/// fields' descriptions), and the function with keyword parameters, the return type and a
/// docstring of the description and each parameter's description (`Args:`).
pub fn python_signature(tool: &CatalogTool, python_name: &str) -> String {
    let class = pascal_case(python_name);
    let input = with_references_inlined(tool.input_schema.to_map());
    let required = required_names(&input);
    let mut parameters = Vec::new();
    let mut arguments = Vec::new();
    let mut classes = Vec::new();
    if let Some(Value::Object(properties)) = input.get("properties") {
        for (name, schema) in properties {
            let annotation = type_of(
                schema,
                &format!("{class}{}", pascal_case(name)),
                &mut classes,
                1,
            );
            if required.contains(name.as_str()) {
                parameters.push(format!("{name}: {annotation}"));
            } else {
                parameters.push(format!("{name}: {annotation} = ..."));
            }
            if let Some(description) = schema.get("description").and_then(Value::as_str) {
                arguments.push(format!("    {name}: {}", one_line(description)));
            }
        }
    }
    let output = match &tool.output_schema {
        Some(schema) => type_of(
            &Value::Object(with_references_inlined(schema.to_map())),
            &format!("{class}Output"),
            &mut classes,
            0,
        ),
        None => "Any".to_owned(),
    };
    let mut doc = function_doc(tool);
    if !arguments.is_empty() {
        doc.push_str("\n\nArgs:\n");
        doc.push_str(&arguments.join("\n"));
    }
    let keyword_only = if parameters.is_empty() { "" } else { "*, " };
    let mut signature = format!(
        "from servers.{} import {python_name}\n",
        module_name(&tool.server)
    );
    for declaration in classes {
        signature.push_str(&declaration);
    }
    signature.push_str(&format!(
        "async def {python_name}({keyword_only}{}) -> {output}:\n{}",
        parameters.join(", "),
        docstring(&doc, "    ")
    ));
    signature
}

/// Text on one line: every run of whitespace (line breaks included) as one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn function_doc(tool: &CatalogTool) -> String {
    let mut doc = tool
        .description
        .clone()
        .or_else(|| tool.title.clone())
        .unwrap_or_else(|| format!("Tool {}.", tool.name));
    if !tool.defaults.is_empty() {
        let defaults: Vec<String> = tool
            .defaults
            .iter()
            .map(|(name, value)| format!("{name}={value}"))
            .collect();
        doc.push_str(&format!(
            "\n\nDefaults filled in when left out: {}.",
            defaults.join(", ")
        ));
    }
    doc
}

/// References expanded in one schema at most; past it a reference is `Any`.
const MAX_INLINED_REFERENCES: usize = 256;

/// The schema with its local references (`#/$defs/X`, `#/definitions/X`) replaced by what they
/// name, so the types below see them: a stub is for reading, and Python types have no cheaper
/// way to name a shared part. A reference inside its own expansion (a recursive type), one past
/// [`MAX_TYPE_DEPTH`] levels of references, or past [`MAX_INLINED_REFERENCES`] becomes `{}`
/// (`Any`); the description at the reference is kept over the target's.
fn with_references_inlined(schema: Map<String, Value>) -> Map<String, Value> {
    fn inline(value: &Value, root: &Map<String, Value>, depth: usize, budget: &mut usize) -> Value {
        match value {
            Value::Array(items) => Value::Array(
                items
                    .iter()
                    .map(|item| inline(item, root, depth, budget))
                    .collect(),
            ),
            Value::Object(object) => {
                if let Some(reference) = object.get("$ref").and_then(Value::as_str) {
                    let target = reference
                        .strip_prefix("#/$defs/")
                        .map(|name| ("$defs", name))
                        .or_else(|| {
                            reference
                                .strip_prefix("#/definitions/")
                                .map(|name| ("definitions", name))
                        })
                        .and_then(|(section, name)| root.get(section)?.get(name));
                    let Some(target) = target.filter(|_| depth < MAX_TYPE_DEPTH && *budget > 0)
                    else {
                        return Value::Object(Map::new());
                    };
                    *budget -= 1;
                    let mut expanded = inline(target, root, depth + 1, budget);
                    if let (Value::Object(expanded), Some(description)) =
                        (&mut expanded, object.get("description"))
                    {
                        expanded.insert("description".to_owned(), description.clone());
                    }
                    return expanded;
                }
                Value::Object(
                    object
                        .iter()
                        .filter(|(key, _)| !matches!(key.as_str(), "$defs" | "definitions"))
                        .map(|(key, value)| (key.clone(), inline(value, root, depth, budget)))
                        .collect(),
                )
            }
            other => other.clone(),
        }
    }
    if !schema.contains_key("$defs") && !schema.contains_key("definitions") {
        return schema;
    }
    let mut budget = MAX_INLINED_REFERENCES;
    match inline(&Value::Object(schema.clone()), &schema, 0, &mut budget) {
        Value::Object(inlined) => inlined,
        _ => schema,
    }
}

/// A `TypedDict` for an object schema, appended (after the ones it uses) to `classes`.
fn typed_dict(name: &str, schema: &Map<String, Value>, classes: &mut Vec<String>, depth: usize) {
    let required = required_names(schema);
    let mut fields = Vec::new();
    if let Some(Value::Object(properties)) = schema.get("properties") {
        for (field, property) in properties {
            let annotation = type_of(
                property,
                &format!("{name}{}", pascal_case(field)),
                classes,
                depth + 1,
            );
            let annotation = if required.contains(field.as_str()) {
                annotation
            } else {
                format!("NotRequired[{annotation}]")
            };
            let description = property
                .get("description")
                .and_then(Value::as_str)
                .map(ToOwned::to_owned);
            fields.push((field.clone(), annotation, description));
        }
    }
    let doc = schema.get("description").and_then(Value::as_str);
    let identifiers = fields.iter().all(|(field, ..)| is_identifier(field));
    let mut class = String::new();
    if identifiers {
        class.push_str(&format!("class {name}(TypedDict):\n"));
        if let Some(doc) = doc {
            class.push_str(&docstring(doc, "    "));
        }
        if fields.is_empty() && doc.is_none() {
            class.push_str("    pass\n");
        }
        for (field, annotation, description) in fields {
            class.push_str(&format!("    {field}: {annotation}\n"));
            if let Some(description) = description {
                class.push_str(&docstring(&description, "    "));
            }
        }
    } else {
        // Field names Python cannot spell as attributes: the functional form.
        let entries: Vec<String> = fields
            .iter()
            .map(|(field, annotation, _)| format!("{}: {annotation}", string_literal(field)))
            .collect();
        class.push_str(&format!(
            "{name} = TypedDict({}, {{{}}})\n",
            string_literal(name),
            entries.join(", ")
        ));
    }
    classes.push(class);
}

/// The Python type of a schema; object schemas with properties become `TypedDict`s named
/// `name` (appended to `classes`).
fn type_of(schema: &Value, name: &str, classes: &mut Vec<String>, depth: usize) -> String {
    let Value::Object(schema) = schema else {
        return "Any".to_owned();
    };
    if depth > MAX_TYPE_DEPTH {
        return "Any".to_owned();
    }
    if let Some(Value::Array(values)) = schema.get("enum") {
        let literals: Vec<String> = values.iter().filter_map(literal).collect();
        if literals.len() == values.len() && !literals.is_empty() {
            return format!("Literal[{}]", literals.join(", "));
        }
    }
    if let Some(value) = schema.get("const").and_then(literal) {
        return format!("Literal[{value}]");
    }
    for key in ["anyOf", "oneOf"] {
        if let Some(Value::Array(options)) = schema.get(key) {
            let mut types: Vec<String> = Vec::new();
            for (index, option) in options.iter().enumerate() {
                let option = type_of(option, &format!("{name}{}", index + 1), classes, depth + 1);
                if !types.contains(&option) {
                    types.push(option);
                }
            }
            return if types.is_empty() {
                "Any".to_owned()
            } else {
                types.join(" | ")
            };
        }
    }
    let kinds: Vec<&str> = match schema.get("type") {
        Some(Value::String(kind)) => vec![kind.as_str()],
        Some(Value::Array(kinds)) => kinds.iter().filter_map(Value::as_str).collect(),
        _ if schema.contains_key("properties") => vec!["object"],
        _ => Vec::new(),
    };
    if kinds.is_empty() {
        return "Any".to_owned();
    }
    let mut types = Vec::new();
    for kind in kinds {
        let python = match kind {
            "string" => "str".to_owned(),
            "integer" => "int".to_owned(),
            "number" => "float".to_owned(),
            "boolean" => "bool".to_owned(),
            "null" => "None".to_owned(),
            "array" => match schema.get("items") {
                Some(items) => format!(
                    "list[{}]",
                    type_of(items, &format!("{name}Item"), classes, depth + 1)
                ),
                None => "list[Any]".to_owned(),
            },
            "object" => match schema.get("properties") {
                Some(Value::Object(properties)) if !properties.is_empty() => {
                    typed_dict(name, schema, classes, depth);
                    name.to_owned()
                }
                _ => "dict[str, Any]".to_owned(),
            },
            _ => "Any".to_owned(),
        };
        if !types.contains(&python) {
            types.push(python);
        }
    }
    types.join(" | ")
}

fn required_names(schema: &Map<String, Value>) -> BTreeSet<&str> {
    match schema.get("required") {
        Some(Value::Array(names)) => names.iter().filter_map(Value::as_str).collect(),
        _ => BTreeSet::new(),
    }
}

/// A JSON scalar as a Python literal.
fn literal(value: &Value) -> Option<String> {
    match value {
        Value::String(text) => Some(string_literal(text)),
        Value::Number(number) => Some(number.to_string()),
        Value::Bool(true) => Some("True".to_owned()),
        Value::Bool(false) => Some("False".to_owned()),
        Value::Null => Some("None".to_owned()),
        _ => None,
    }
}

fn is_identifier(name: &str) -> bool {
    let mut characters = name.chars();
    characters
        .next()
        .is_some_and(|first| first.is_ascii_alphabetic() || first == '_')
        && characters.all(|character| character.is_ascii_alphanumeric() || character == '_')
        && !KEYWORDS.contains(&name)
}

fn pascal_case(name: &str) -> String {
    let mut out = String::new();
    let mut upper = true;
    for character in name.chars() {
        if character.is_ascii_alphanumeric() {
            if upper {
                out.push(character.to_ascii_uppercase());
            } else {
                out.push(character);
            }
            upper = false;
        } else {
            upper = true;
        }
    }
    if out.is_empty() || out.starts_with(|first: char| first.is_ascii_digit()) {
        out.insert(0, 'T');
    }
    out
}

/// A Python string literal of any text: double-quoted, with `\\`, `"` and every control
/// character escaped, so no text can end it.
pub fn string_literal(text: &str) -> String {
    let mut literal = String::from("\"");
    for character in text.chars() {
        match character {
            '\\' => literal.push_str("\\\\"),
            '"' => literal.push_str("\\\""),
            '\n' => literal.push_str("\\n"),
            character if character.is_control() || is_line_break(character) => {
                literal.push_str(&format!("\\u{:04x}", u32::from(character)));
            }
            character => literal.push(character),
        }
    }
    literal.push('"');
    literal
}

/// Characters Python's source reader treats as the end of a line.
fn is_line_break(character: char) -> bool {
    matches!(
        character,
        '\u{000b}' | '\u{000c}' | '\u{001c}'..='\u{001e}' | '\u{0085}' | '\u{2028}' | '\u{2029}'
    )
}

/// A docstring of any text at `indent`: `\\` and `"` escaped (so the text cannot close it) and
/// control characters but line breaks escaped; each line indented.
fn docstring(text: &str, indent: &str) -> String {
    let mut body = String::new();
    let mut line_start = false;
    for character in text.trim().chars() {
        if line_start && character != '\n' && character != '\r' {
            // Each line after the first is indented; a blank line stays blank.
            body.push_str(indent);
        }
        line_start = character == '\n' || (line_start && character == '\r');
        match character {
            '\\' => body.push_str("\\\\"),
            '"' => body.push_str("\\\""),
            '\n' => body.push('\n'),
            '\r' => {}
            character if character.is_control() || is_line_break(character) => {
                body.push_str(&format!("\\u{:04x}", u32::from(character)));
            }
            character => body.push(character),
        }
    }
    format!("{indent}\"\"\"{body}\"\"\"\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_are_inlined_and_recursion_is_bounded() {
        let schema = serde_json::json!({
            "type": "object",
            "properties": {
                "node": {"$ref": "#/$defs/Node", "description": "the root"},
                "other": {"$ref": "#/definitions/Leaf"},
                "missing": {"$ref": "#/$defs/Nope"}
            },
            "$defs": {"Node": {"type": "object", "properties": {"child": {"$ref": "#/$defs/Node"}}}},
            "definitions": {"Leaf": {"type": "string"}}
        });
        let Value::Object(schema) = schema else {
            unreachable!()
        };
        let inlined = with_references_inlined(schema);
        assert!(!inlined.contains_key("$defs"));
        let text = Value::Object(inlined.clone()).to_string();
        assert!(!text.contains("$ref"), "{text}");
        assert_eq!(
            inlined["properties"]["other"],
            serde_json::json!({"type": "string"})
        );
        assert_eq!(inlined["properties"]["missing"], serde_json::json!({}));
        assert_eq!(inlined["properties"]["node"]["description"], "the root");
        // A recursive type is cut after MAX_TYPE_DEPTH expansions.
        let mut node = &inlined["properties"]["node"];
        let mut depth = 0;
        while let Some(child) = node.pointer("/properties/child") {
            node = child;
            depth += 1;
        }
        assert_eq!(depth, MAX_TYPE_DEPTH);
    }

    #[test]
    fn names_are_snake_case_without_keywords() {
        assert_eq!(snake_case("createIssue"), "create_issue");
        assert_eq!(snake_case("getURLInfo"), "get_url_info");
        assert_eq!(snake_case("listV2Items"), "list_v2_items");
        assert_eq!(snake_case("delete_"), "delete");
        assert_eq!(snake_case("import"), "import_");
        assert_eq!(snake_case("pass"), "pass_");
        assert_eq!(snake_case("readFile"), "read_file");
        assert_eq!(snake_case("a$b"), "a_b");
    }

    #[test]
    fn module_names_are_python_names() {
        assert_eq!(module_name("github-enterprise"), "github_enterprise");
        assert_eq!(module_name("1password"), "_1password");
        assert_eq!(module_name("a.b"), "a_b");
        assert_eq!(module_name("import"), "import_");
        assert_eq!(module_name("fs"), "fs");
    }

    #[test]
    fn no_text_leaves_its_literal() {
        assert_eq!(
            string_literal("a\"b\\c\nd\u{2028}"),
            "\"a\\\"b\\\\c\\nd\\u2028\""
        );
        let doc = docstring("end \"\"\" now\\", "");
        assert_eq!(doc, "\"\"\"end \\\"\\\"\\\" now\\\\\"\"\"\n");
    }

    #[test]
    fn colliding_names_are_numbered_in_identifier_order() {
        let names = python_names(["getUrl", "getURL", "list"]);
        assert_eq!(names["getURL"], "get_url");
        assert_eq!(names["getUrl"], "get_url_2");
        assert_eq!(names["list"], "list");
        let again = python_names(["list", "getUrl", "getURL"]);
        assert_eq!(names, again);
        let all = ["getUrl", "getURL", "list"];
        for identifier in all {
            assert_eq!(python_name(all, identifier), names[identifier]);
        }
    }
}
