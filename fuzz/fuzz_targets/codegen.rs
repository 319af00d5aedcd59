//! Arbitrary tool lists through the catalog and the TypeScript generator. Must never panic, and
//! every generated file must parse as TypeScript: server text can never break out of the comment
//! or string literal it was put in.
#![no_main]

use libfuzzer_sys::fuzz_target;
use sluice_catalog::{Catalog, ServerTools};

fuzz_target!(|data: &[u8]| {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(data) else { return };
    let tools = match value {
        serde_json::Value::Array(tools) => tools,
        other => vec![other],
    };
    let catalog = std::sync::Arc::new(Catalog::build(vec![ServerTools::from_values("fuzz", tools)]));
    let tree = sluice_codegen::generate_tree(catalog.clone());
    for tool in catalog.tools() {
        let _ = sluice_codegen::tool_signature(tool);
    }
    for (path, text) in tree.iter() {
        if !path.ends_with(".ts") {
            continue;
        }
        let allocator = oxc::allocator::Allocator::default();
        let parsed = oxc::parser::Parser::new(&allocator, &text, oxc::span::SourceType::ts()).parse();
        assert!(parsed.diagnostics.errors().next().is_none() && !parsed.panicked, "{path} does not parse:\n{text}");
    }
});
