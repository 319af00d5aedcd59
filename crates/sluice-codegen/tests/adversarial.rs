//! Hostile server text must never escape the comment or string literal it is placed in.
//!
//! Every payload carries `pwned()`: a call that must only ever appear inside a comment or a
//! string literal. Identifiers derived from the payload may contain the letters `pwned`, never
//! the parentheses.

mod common;

use serde_json::{Value, json};
use sluice_catalog::{Catalog, ServerTools};
use sluice_codegen::escape::{pascal_case, type_name_part};
use sluice_codegen::{generate_tree, javascript, tool_signature};

/// Text that tries every way out of a comment or a string literal we could think of.
const EVIL: &str = "*/ pwned(); /** \" pwned() \" ' pwned() ' ` pwned() ` ${pwned()} \\\" pwned() \
                    \\ \n pwned(); // \r\n pwned() \r pwned() \u{2028} pwned() \u{2029} pwned() \
                    \u{85} </script><script>pwned()</script> <!-- pwned() --> \u{0} \u{1b}[31m \
                    \u{202e} */ */ pwned() /*";

const MARKER: &str = "pwned()";

fn evil_tool() -> Value {
    // A `$defs` key with a `/` is referenced with the pointer escape `~1`.
    let def_key = format!("Def {EVIL}");
    let pointer = format!("#/$defs/{}", def_key.replace('~', "~0").replace('/', "~1"));
    json!({
        "name": format!("get-sum{EVIL}"),
        "title": EVIL,
        "description": EVIL,
        "inputSchema": {
            "type": "object",
            "description": EVIL,
            "properties": {
                EVIL: {"type": "string", "description": EVIL, "title": EVIL, "format": EVIL, "default": EVIL},
                "choice": {"enum": [EVIL, "plain", 1, null], "description": EVIL},
                "fixed": {"const": EVIL},
                "nested": {
                    "type": "object",
                    "properties": {EVIL: {"type": "array", "items": {"enum": [EVIL]}}},
                    "additionalProperties": {"type": "string", "description": EVIL}
                },
                "tuple": {"type": "array", "prefixItems": [{"const": EVIL}, {"type": "number"}]},
                "linked": {"$ref": pointer},
                "readonly": {"type": "boolean", "deprecated": true},
                "__proto__": {"type": "string"},
                "constructor": {"type": "string"}
            },
            "required": [EVIL, "choice"],
            "$defs": {def_key.clone(): {"type": "object", "description": EVIL, "properties": {EVIL: {"const": EVIL}}}}
        },
        "outputSchema": {
            "type": "object",
            "title": EVIL,
            "properties": {"result": {"anyOf": [{"const": EVIL}, {"$ref": pointer}]}},
            "$defs": {def_key: {"type": "string", "description": EVIL}}
        },
        "annotations": {"title": EVIL, "readOnlyHint": true, "destructiveHint": EVIL}
    })
}

fn evil_catalog() -> Catalog {
    Catalog::build(vec![
        ServerTools::from_values(
            format!("srv{EVIL}"),
            vec![
                evil_tool(),
                json!({"name": EVIL, "description": EVIL, "inputSchema": {"type": "object"}}),
                json!({"name": "constructor", "inputSchema": {"type": "object", "properties": {"x": {"type": "string"}}}}),
            ],
        ),
        ServerTools::from_values("plain", vec![evil_tool()]),
    ])
}

fn assert_contained(label: &str, source: &str) {
    let parsed = common::parse(source);
    assert!(
        parsed.ok(),
        "{label} does not parse: {:?}\n{source}",
        parsed.errors
    );
    let escaped = common::outside_inert(source, &parsed, MARKER);
    assert!(
        escaped.is_empty(),
        "{label}: `{MARKER}` outside comments and strings at {escaped:?}\n{source}"
    );
}

#[test]
fn the_checker_itself_catches_escapes() {
    // Guard against a vacuous test: the helpers must see a real escape and a real syntax error.
    let escaped = "/** a */ pwned(); /* pwned() */ const s = \"pwned()\";";
    let parsed = common::parse(escaped);
    assert!(parsed.ok());
    assert_eq!(common::outside_inert(escaped, &parsed, MARKER), vec![9]);
    assert!(!common::parse("/** */ */ pwned();").ok());
    assert!(!common::parse("export interface X { a: }").ok());
}

#[test]
fn every_file_parses_and_contains_the_payload() {
    let catalog = evil_catalog();
    let tree = generate_tree(catalog.clone().into());
    let mut checked = 0;
    for (path, content) in tree.iter() {
        if path.ends_with(".ts") {
            assert_contained(path, &content);
            checked += 1;
        }
    }
    // runtime.ts, two index files, four tool files.
    assert_eq!(checked, 7);
    for tool in catalog.tools() {
        assert_contained(
            &format!("signature of {}", tool.identifier),
            &tool_signature(tool),
        );
        let module = javascript::tool_module(&tool.server, &tool.name, &tool.identifier);
        assert_contained(&format!("module of {}", tool.identifier), &module);
    }
}

#[test]
fn tool_files_have_exactly_the_expected_statements() {
    let catalog = evil_catalog();
    let tree = generate_tree(catalog.clone().into());
    let tool = catalog
        .tools()
        .find(|tool| tool.server == "plain")
        .expect("plain server");
    let path = format!("servers/plain/{}.ts", tool.identifier);
    let parsed = common::parse(&tree.get(&path).expect("tool file"));
    assert!(
        def_name_is_plain(&parsed.statements[3]),
        "{:?}",
        parsed.statements
    );
    let stem = pascal_case(&tool.identifier);
    let def_name = format!("{stem}_{}", type_name_part(&format!("Def {EVIL}")));
    let identifier = &tool.identifier;
    assert_eq!(
        parsed.statements,
        [
            "import from ../../runtime".to_owned(),
            format!("export interface {stem}Input"),
            format!("export interface {stem}Output"),
            // The input's and output's `$defs` entries differ, so two named types; their names
            // keep only identifier characters of the hostile key.
            format!("export interface {def_name}"),
            format!("export type {def_name}2"),
            format!("export function {identifier}"),
        ]
    );
}

#[test]
fn index_files_only_reexport() {
    let catalog = evil_catalog();
    let tree = generate_tree(catalog.clone().into());
    for server in catalog.server_names() {
        let index = tree
            .get(&format!("servers/{server}/index.ts"))
            .expect("index exists");
        let parsed = common::parse(&index);
        let tools = catalog.server_tools(server).expect("server exists");
        assert_eq!(parsed.statements.len(), 2 * tools.len(), "{index}");
        for (tool, pair) in tools.iter().zip(parsed.statements.chunks(2)) {
            let identifier = &tool.identifier;
            assert_eq!(
                pair[0],
                format!("export {{ {identifier} }} from ./{identifier}")
            );
            assert!(pair[1].starts_with("export type {"), "{}", pair[1]);
        }
    }
    // The hostile server name becomes folders, and listing still works.
    let servers = tree.list("servers").expect("servers folder");
    assert_eq!(servers.len(), 2, "{servers:?}");
}

fn def_name_is_plain(statement: &str) -> bool {
    let name = statement.rsplit(' ').next().unwrap_or("");
    name.chars()
        .all(|character| character.is_ascii_alphanumeric() || character == '_')
}
