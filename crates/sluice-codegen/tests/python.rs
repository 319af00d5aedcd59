//! The Python stubs (`servers/<server>/<tool>.py`) and signatures: snapshots of real tools, each
//! checked to parse as Python, and hostile server text kept inside its docstring or literal.

mod common;

use ruff_python_ast::Stmt;
use serde_json::json;
use sluice_catalog::{Catalog, CatalogTool, ServerTools};
use sluice_codegen::generate_tree;
use sluice_codegen::python::{python_signature, python_tool_file, snake_case};

fn real_tool(stem: &str, name: &str) -> CatalogTool {
    let catalog = Catalog::build(vec![ServerTools::from_values(
        stem,
        vec![common::catalog_tool(stem, name)],
    )]);
    let Some(tool) = catalog.tools().next() else {
        panic!("{stem} has no usable tool {name}");
    };
    tool.clone()
}

/// The parsed module's top-level statements, after checking it parses.
fn parse(source: &str) -> Vec<Stmt> {
    match ruff_python_parser::parse_module(source) {
        Ok(parsed) => parsed.into_syntax().body.into_iter().collect(),
        Err(error) => panic!("does not parse as Python: {error}\n{source}"),
    }
}

fn stub(stem: &str, name: &str) -> String {
    let tool = real_tool(stem, name);
    let file = python_tool_file(&tool, &snake_case(&tool.identifier));
    parse(&file);
    file
}

#[test]
fn get_sum_stub() {
    insta::assert_snapshot!(stub("server-everything", "get-sum"));
}

#[test]
fn enum_and_default_stub() {
    insta::assert_snapshot!(stub("server-everything", "get-annotated-message"));
}

#[test]
fn output_schema_with_union_of_objects_stub() {
    insta::assert_snapshot!(stub("server-filesystem", "read_media_file"));
}

#[test]
fn output_schema_with_defs_stub() {
    insta::assert_snapshot!(stub("mcp-server-time", "convert_time"));
}

#[test]
fn get_sum_python_signature() {
    let tool = real_tool("server-everything", "get-sum");
    let signature = python_signature(&tool, "get_sum");
    // The signature is a valid function declaration once given a body.
    parse(&format!("{signature}    ...\n"));
    insta::assert_snapshot!(signature);
}

#[test]
fn output_and_nested_types_in_a_python_signature() {
    let tool = real_tool("mcp-server-time", "convert_time");
    let signature = python_signature(&tool, "convert_time");
    parse(&format!("{signature}    ...\n"));
    assert!(
        signature.contains("class ConvertTimeOutput(TypedDict):"),
        "{signature}"
    );
    assert!(signature.contains("-> ConvertTimeOutput:"), "{signature}");
    insta::assert_snapshot!(signature);
}

/// Text that tries every way out of a Python docstring or string literal.
const EVIL: &str = "\"\"\" pwned() \"\"\" ''' pwned() ''' \" pwned() \" \\\" pwned() \\ \n pwned() \r\n \
                    \r pwned() \u{b} \u{c} pwned() \u{2028} pwned() \u{85} \u{0} # pwned()";

#[test]
fn hostile_text_stays_in_docstrings_and_literals() {
    let tool = json!({
        "name": format!("get-sum{EVIL}"),
        "description": EVIL,
        "inputSchema": {
            "type": "object",
            "description": EVIL,
            "properties": {
                EVIL: {"type": "string", "description": EVIL},
                "choice": {"enum": [EVIL, "plain", 1, null], "description": EVIL},
                "fixed": {"const": EVIL},
                "nested": {"type": "object", "properties": {EVIL: {"type": "array", "items": {"enum": [EVIL]}}}}
            },
            "required": [EVIL]
        },
        "outputSchema": {"type": "object", "properties": {"result": {"anyOf": [{"const": EVIL}, {"type": "string", "description": EVIL}]}}}
    });
    let catalog = Catalog::build(vec![ServerTools::from_values(
        format!("srv{EVIL}"),
        vec![tool],
    )]);
    let tree = generate_tree(catalog.into());
    let mut checked = 0;
    for (path, text) in tree.iter() {
        if !path.ends_with(".py") {
            continue;
        }
        checked += 1;
        for statement in parse(&text) {
            // Only the docstring, the typing import, the TypedDicts and the function: a payload
            // that escaped would add a call or another statement.
            let allowed = match &statement {
                Stmt::Expr(expression) => expression.value.is_string_literal_expr(),
                Stmt::ImportFrom(_) | Stmt::ClassDef(_) | Stmt::FunctionDef(_) => true,
                Stmt::Assign(assign) => assign.value.is_call_expr(),
                _ => false,
            };
            assert!(
                allowed,
                "{path}: unexpected statement {statement:?}\n{text}"
            );
            if let Stmt::Assign(assign) = &statement {
                let call = assign.value.as_call_expr().map(|call| &call.func);
                assert!(
                    call.is_some_and(|function| function
                        .as_name_expr()
                        .is_some_and(|name| name.id.as_str() == "TypedDict")),
                    "{path}: {statement:?}"
                );
            }
        }
        let tool = catalog_signature_check(&text);
        assert!(tool, "{path}");
    }
    assert_eq!(checked, 1);
}

/// Every line that mentions `pwned()` outside a string or docstring would have failed the
/// statement check above; here, also that the function is there.
fn catalog_signature_check(text: &str) -> bool {
    text.contains("async def get_sum")
}
