//! Every tool of every captured real-world catalog generates TypeScript that oxc parses.

mod common;

use sluice_catalog::{Catalog, ServerTools};
use sluice_codegen::{generate_tree, tool_signature};

/// The captured catalogs hold 3,340 tools; a much lower count means files went missing.
const MINIMUM_TOOLS: usize = 2925;

#[test]
fn every_generated_file_parses() {
    let catalogs = common::per_server_catalogs();
    let definitions: usize = catalogs.iter().map(|(_, tools)| tools.len()).sum();
    let servers: Vec<ServerTools> = catalogs
        .into_iter()
        .map(|(server, tools)| ServerTools::from_values(server, tools))
        .collect();
    let server_count = servers.len();
    let catalog = Catalog::build(servers);
    let tree = generate_tree(catalog.clone().into());

    let mut failures = Vec::new();
    let mut typescript_files = 0usize;
    let mut python_files = 0usize;
    for (path, content) in tree.iter() {
        if path.ends_with(".py") {
            python_files += 1;
            if let Err(error) = ruff_python_parser::parse_module(&content) {
                failures.push(format!("{path}: {error}"));
            }
            continue;
        }
        if !path.ends_with(".ts") {
            continue;
        }
        typescript_files += 1;
        let parsed = common::parse(&content);
        if !parsed.ok() {
            failures.push(format!("{path}: {:?}", parsed.errors));
        }
    }
    let mut signatures = 0usize;
    for tool in catalog.tools() {
        let signature = tool_signature(tool);
        let parsed = common::parse(&signature);
        signatures += 1;
        if !parsed.ok() {
            failures.push(format!(
                "signature of {}/{}: {:?}",
                tool.server, tool.name, parsed.errors
            ));
        }
    }
    eprintln!(
        "{} tool definitions from {server_count} servers; {} tools in the catalog ({} rejected); \
         {} files ({typescript_files} TypeScript, {python_files} Python); {signatures} signatures",
        definitions,
        catalog.len(),
        catalog.rejected().count(),
        tree.len(),
    );
    assert!(
        failures.is_empty(),
        "{} files do not parse:\n{}",
        failures.len(),
        failures.join("\n")
    );
    assert!(
        catalog.len() >= MINIMUM_TOOLS,
        "only {} tools",
        catalog.len()
    );
    // runtime.ts and README.md, plus an index per server and a TypeScript and a Python file per
    // tool (Python names are unique per server, so no stub hides another).
    assert_eq!(tree.len(), 2 + server_count + 2 * catalog.len());
    assert_eq!(python_files, catalog.len());
}

#[test]
fn every_tool_file_has_the_expected_shape() {
    let servers: Vec<ServerTools> = common::per_server_catalogs()
        .into_iter()
        .map(|(server, tools)| ServerTools::from_values(server, tools))
        .collect();
    let catalog = Catalog::build(servers);
    let tree = generate_tree(catalog.clone().into());
    for tool in catalog.tools() {
        let path = format!("servers/{}/{}.ts", tool.server, tool.identifier);
        let content = tree
            .get(&path)
            .unwrap_or_else(|| panic!("{path} is missing"));
        let parsed = common::parse(&content);
        let statements = &parsed.statements;
        assert_eq!(
            statements.first().map(String::as_str),
            Some("import from ../../runtime"),
            "{path}"
        );
        assert_eq!(
            statements.last().cloned(),
            Some(format!("export function {}", tool.identifier)),
            "{path}"
        );
        // Between them only type declarations.
        for statement in &statements[1..statements.len() - 1] {
            assert!(
                statement.starts_with("export interface ") || statement.starts_with("export type "),
                "{path}: {statement}"
            );
        }
        // The whole thing is deterministic.
        assert_eq!(content, sluice_codegen::tool_file(tool), "{path}");
    }
}
