//! Snapshots of generated TypeScript for a varied sample of real tools.
//!
//! Review changes with `INSTA_UPDATE=always cargo test -p sluice-codegen --test snapshots` and a
//! diff of `tests/snapshots/`.

mod common;

use sluice_catalog::{Catalog, CatalogTool, ServerTools};
use sluice_codegen::{generate_tree, tool_file, tool_signature};

/// A real tool from a catalog file, as the catalog presents it (server key = file stem).
fn real_tool(stem: &str, name: &str) -> CatalogTool {
    let catalog = Catalog::build(vec![ServerTools::from_values(
        stem,
        vec![common::catalog_tool(stem, name)],
    )]);
    let Some(tool) = catalog.tools().next() else {
        panic!(
            "{stem} has no usable tool {name}: {:?}",
            catalog.rejected().collect::<Vec<_>>()
        );
    };
    tool.clone()
}

/// Snapshot the tool's file, after checking that it parses.
fn snapshot_file(stem: &str, name: &str) -> String {
    let file = tool_file(&real_tool(stem, name));
    let parsed = common::parse(&file);
    assert!(parsed.ok(), "{stem}/{name}: {:?}", parsed.errors);
    file
}

#[test]
fn get_sum_plain_object() {
    insta::assert_snapshot!(snapshot_file("server-everything", "get-sum"));
}

#[test]
fn get_sum_signature() {
    insta::assert_snapshot!(tool_signature(&real_tool("server-everything", "get-sum")));
}

#[test]
fn enum_and_default() {
    insta::assert_snapshot!(snapshot_file("server-everything", "get-annotated-message"));
}

#[test]
fn output_schema_with_union_of_objects() {
    insta::assert_snapshot!(snapshot_file("server-filesystem", "read_media_file"));
}

#[test]
fn output_schema_with_defs() {
    insta::assert_snapshot!(snapshot_file("mcp-server-time", "convert_time"));
}

#[test]
fn any_of_with_null() {
    insta::assert_snapshot!(snapshot_file("mcp-server-git", "git_create_branch"));
}

#[test]
fn schema_without_type_is_repaired() {
    insta::assert_snapshot!(snapshot_file("server-gitlab", "create_issue"));
}

#[test]
fn refs_to_defs_with_one_of_in_input() {
    insta::assert_snapshot!(snapshot_file("notion-mcp-server", "API-post-page"));
}

#[test]
fn additional_properties_schema() {
    insta::assert_snapshot!(snapshot_file("airtable-mcp", "get_record"));
}

#[test]
fn type_lists() {
    insta::assert_snapshot!(snapshot_file("azure-devops-tiberriver", "get_wikis"));
}

#[test]
fn server_index_and_readme() {
    let catalog = Catalog::build(vec![
        ServerTools::from_values(
            "mcp-server-time",
            vec![
                common::catalog_tool("mcp-server-time", "get_current_time"),
                common::catalog_tool("mcp-server-time", "convert_time"),
            ],
        ),
        ServerTools::from_values(
            "server-everything",
            vec![common::catalog_tool("server-everything", "get-sum")],
        ),
    ]);
    let tree = generate_tree(catalog.clone().into());
    insta::assert_snapshot!(
        "time_index",
        tree.get("servers/mcp-server-time/index.ts").expect("index")
    );
    insta::assert_snapshot!("readme", tree.get("README.md").expect("readme"));
}
