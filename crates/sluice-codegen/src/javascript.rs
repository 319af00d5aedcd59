//! The JavaScript modules the worker loads for `./servers/...` imports.
//!
//! They carry no types and no documentation: agents read the TypeScript tree, the engine runs
//! these. Both call `callMCPTool(server, originalName, input)` from the runtime module.

/// The module for one tool: `export async function <identifier>(input)`.
///
/// Preconditions: `identifier` is a valid identifier (as the catalog assigns them); `server` and
/// `name` may be any text: they are emitted as JSON string literals, which are valid JavaScript
/// string literals.
pub fn tool_module(server: &str, name: &str, identifier: &str) -> String {
    format!(
        "import {{ callMCPTool }} from \"../../{runtime}\";\n\
         export async function {identifier}(input) {{ return callMCPTool({server}, {name}, input); }}\n",
        runtime = crate::RUNTIME_MODULE,
        server = string_literal(server),
        name = string_literal(name),
    )
}

/// The index module of one server: re-exports each tool module.
pub fn index_module<'a>(identifiers: impl IntoIterator<Item = &'a str>) -> String {
    let mut source = String::new();
    for identifier in identifiers {
        source.push_str(&format!(
            "export {{ {identifier} }} from \"./{identifier}\";\n"
        ));
    }
    source
}

/// A JavaScript (and TypeScript) string literal holding exactly `text`.
pub fn string_literal(text: &str) -> String {
    // JSON strings are JavaScript string literals: quotes, backslashes and control characters are
    // escaped; U+2028/U+2029 are legal in string literals since ES2019.
    serde_json::Value::String(text.to_owned()).to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tool_module_quotes_names() {
        let module = tool_module("my\"server", "get-sum", "getSum");
        assert!(module.contains(r#"callMCPTool("my\"server", "get-sum", input)"#));
        assert!(module.starts_with("import { callMCPTool } from \"../../runtime\";"));
    }

    #[test]
    fn index_reexports() {
        assert_eq!(
            index_module(["a", "b"]),
            "export { a } from \"./a\";\nexport { b } from \"./b\";\n"
        );
    }
}
