//! Helpers shared by the integration tests: the real catalogs, and parsing generated
//! TypeScript with oxc.

// Each test binary uses only some helpers; and a helper that cannot read the fixtures should
// fail the test loudly, which is what `expect` does.
#![allow(dead_code, clippy::expect_used)]

use std::path::{Path, PathBuf};

use oxc::allocator::Allocator;
use oxc::ast::ast::{Declaration, ImportOrExportKind, Statement};
use oxc::parser::config::TokensParserConfig;
use oxc::parser::{Kind, Parser};
use oxc::semantic::SemanticBuilder;
use oxc::span::SourceType;
use serde_json::Value;

/// The folder of captured `tools/list` answers of real servers.
pub fn catalogs_folder() -> PathBuf {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/../../data/catalogs")).to_path_buf()
}

/// Every per-server catalog file as `(server key, tool definitions)`, in file-name order.
///
/// The server key is the file stem. `_index.json` (metadata) and
/// `_combined_excluding_twilio_all.json` (the same tools again, merged) are skipped.
pub fn per_server_catalogs() -> Vec<(String, Vec<Value>)> {
    let folder = catalogs_folder();
    let mut paths: Vec<PathBuf> = std::fs::read_dir(&folder)
        .unwrap_or_else(|error| panic!("cannot read {}: {error}", folder.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| {
            path.extension()
                .is_some_and(|extension| extension == "json")
        })
        .collect();
    paths.sort();
    let mut catalogs = Vec::new();
    for path in paths {
        let stem = path
            .file_stem()
            .and_then(|stem| stem.to_str())
            .expect("utf-8 file name");
        if stem.starts_with('_') {
            continue;
        }
        let text = std::fs::read_to_string(&path).expect("catalog file is readable");
        let value: Value = serde_json::from_str(&text)
            .unwrap_or_else(|error| panic!("{} is not JSON: {error}", path.display()));
        let tools = value["tools"]
            .as_array()
            .unwrap_or_else(|| panic!("{} has no `tools` list", path.display()))
            .clone();
        catalogs.push((stem.to_owned(), tools));
    }
    catalogs
}

/// One tool definition from a catalog file, by file stem and tool name.
pub fn catalog_tool(stem: &str, name: &str) -> Value {
    let path = catalogs_folder().join(format!("{stem}.json"));
    let text = std::fs::read_to_string(&path).expect("catalog file is readable");
    let value: Value = serde_json::from_str(&text).expect("catalog file is JSON");
    value["tools"]
        .as_array()
        .and_then(|tools| tools.iter().find(|tool| tool["name"] == name))
        .unwrap_or_else(|| panic!("{stem} has no tool {name}"))
        .clone()
}

/// What parsing one TypeScript file found.
#[derive(Debug)]
pub struct Parsed {
    /// Syntax errors from the parser and from semantic analysis, rendered.
    pub errors: Vec<String>,
    /// True when the parser gave up.
    pub panicked: bool,
    /// One line per top-level statement, e.g. `export interface GetSumInput`.
    pub statements: Vec<String>,
    /// Byte ranges of comments and string literals: the only places server text may be.
    pub inert: Vec<(usize, usize)>,
}

impl Parsed {
    /// True when the file parsed cleanly.
    pub fn ok(&self) -> bool {
        self.errors.is_empty() && !self.panicked
    }
}

/// Parse `source` as a TypeScript module and describe it.
pub fn parse(source: &str) -> Parsed {
    let allocator = Allocator::default();
    let result = Parser::new(&allocator, source, SourceType::ts())
        .with_config(TokensParserConfig)
        .parse();
    let mut errors: Vec<String> = result
        .diagnostics
        .errors()
        .map(|error| format!("{error:?}"))
        .collect();
    if !result.panicked {
        let semantic = SemanticBuilder::new()
            .with_check_syntax_error(true)
            .build(&result.program);
        errors.extend(
            semantic
                .diagnostics
                .errors()
                .map(|error| format!("{error:?}")),
        );
    }
    let mut inert: Vec<(usize, usize)> = result
        .program
        .comments
        .iter()
        .map(|comment| (comment.span.start as usize, comment.span.end as usize))
        .collect();
    inert.extend(
        result
            .tokens
            .iter()
            .filter(|token| token.kind() == Kind::Str)
            .map(|token| (token.start() as usize, token.end() as usize)),
    );
    let statements = result.program.body.iter().map(describe).collect();
    Parsed {
        errors,
        panicked: result.panicked,
        statements,
        inert,
    }
}

fn describe(statement: &Statement<'_>) -> String {
    match statement {
        Statement::ImportDeclaration(import) => format!("import from {}", import.source.value),
        Statement::ExportDeclaration(export) => match &export.declaration {
            Declaration::TSInterfaceDeclaration(interface) => {
                format!("export interface {}", interface.id.name)
            }
            Declaration::TSTypeAliasDeclaration(alias) => format!("export type {}", alias.id.name),
            Declaration::FunctionDeclaration(function) => {
                let name = function
                    .id
                    .as_ref()
                    .map_or("?".to_owned(), |id| id.name.to_string());
                let kind = if function.body.is_some() {
                    "function"
                } else {
                    "function declaration"
                };
                format!("export {kind} {name}")
            }
            _ => "export (other declaration)".to_owned(),
        },
        Statement::ExportFromDeclaration(export) => {
            let names: Vec<String> = export
                .specifiers
                .iter()
                .map(|specifier| specifier.exported.name().to_string())
                .collect();
            let kind = if matches!(export.export_kind, ImportOrExportKind::Type) {
                "type "
            } else {
                ""
            };
            format!(
                "export {kind}{{ {} }} from {}",
                names.join(", "),
                export.source.value
            )
        }
        _ => "other".to_owned(),
    }
}

/// Byte offsets where `needle` occurs in `source` outside every comment and string literal.
pub fn outside_inert(source: &str, parsed: &Parsed, needle: &str) -> Vec<usize> {
    source
        .match_indices(needle)
        .map(|(start, _)| start)
        .filter(|&start| {
            let end = start + needle.len();
            !parsed
                .inert
                .iter()
                .any(|&(from, to)| from <= start && end <= to)
        })
        .collect()
}
